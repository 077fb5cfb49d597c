/* Brings a bootstrap into a running CPython by the way that runs it soonest — a thread parked in a blocking call, PEP 768 on 3.14+, a pending call before — or refuses with the reason. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include <glib/gi18n.h>

#include "pymemd-attach-script.h"
#include "pymemd-call-frame.h"
#include "pymemd-error.h"
#include "pymemd-inject-target.h"
#include "pymemd-injector.h"
#include "pymemd-pep768.h"
#include "pymemd-ptrace.h"

/* How long a target thread is held (measured by tests/test-injector on a
 * 2-core Debian 12 VM, kernel 6.18, CPython 3.8–3.13):
 *  - a parked thread: in our ptrace stops 75–250 µs in all (median ~100
 *    µs over 50 attaches) for its five calls; it runs our calls for
 *    0.3–0.8 ms when idle (PyRun_SimpleString of a small bootstrap), up to
 *    one GIL switch interval more (~5 ms) when another thread holds the
 *    GIL; from the interrupt to the detach 0.25–1.7 ms (median ~0.4 ms),
 *    5–6 ms with a busy GIL holder. The thread was blocked anyway: what
 *    it waited for is served that much later.
 *  - a pending call: stopped 75–180 µs, our calls (mmap, a few pure
 *    reads, Py_AddPendingCall) 70–150 µs, held 0.15–0.7 ms, with rare
 *    outliers of a few ms when the machine is loaded; the bootstrap
 *    itself runs later, at the main thread's next eval-breaker check.
 *  - PEP 768: never stopped; four memory writes, and one read of the
 *    pending flag every 0.5 to 20 ms until the interpreter takes it (a
 *    busy 3.14 took it before the first look in the tests).
 * The daemon does not run this itself: pymemd-attach (attach-main.c)
 * does, one process per attach, started by the daemon and outliving it
 * (no parent-death signal, SIGPIPE ignored, SIGTERM/SIGINT/SIGHUP held
 * and acted on only where no thread is held, oom_score_adj -1000), so a
 * daemon killed at any instant leaves the attach to finish and the thread
 * to be given back (tests/test-heap kills it at every stage). Its start
 * adds 15–50 ms to an attach, none of it while a thread is held.
 * What is left: if the tracer itself dies between setting the first
 * call's registers and putting the saved ones back — pymemd-attach killed
 * with SIGKILL by root, or by systemd at the end of TimeoutStopSec while
 * one of our calls never returns (see pymemd_ptrace_call ()), or by the
 * OOM killer where it lacks CAP_SYS_RESOURCE for its oom_score_adj — the
 * kernel detaches the thread as it is: it runs or finishes our call and
 * returns to address 0, and the process most likely dies of SIGSEGV (with
 * a half-run bootstrap, or holding the GIL if it died between Ensure and
 * Release). Before the first call and after the restore, a dying tracer
 * leaves the thread unharmed. */

/* Stack a parked thread must have below its stack pointer for the
 * interpreter to compile and run the bootstrap on it (glibc gives
 * threads 8 MiB; a tiny foreign thread stack is passed over). */
#define MIN_STACK_ROOM (256 * 1024)
/* A busy interpreter's threads are looked at up to MAX_RUNNING_LOOKS
 * times to find one running; one is stopped in up to MAX_PENDING_ROUNDS
 * rounds, each letting it run and stopping it again up to
 * MAX_LIBC_RETRIES times to find it outside the C library. */
#define MAX_RUNNING_LOOKS  20
#define MAX_PENDING_ROUNDS 40
#define MAX_LIBC_RETRIES   5
/* Fresh looks at the threads before refusing. */
#define MAX_ATTEMPTS       5

typedef enum {
  STEP_DONE,    /* the bootstrap is in */
  STEP_FAILED,  /* ERROR says why, and no other way may be tried */
  STEP_SKIPPED, /* this way does not fit; the reason is in reasons */
} Step;

typedef struct {
  PymemdInjectTarget            *target;
  const PymemdPythonEntryPoints *entry;
  gint32                         pid;
  const char                    *bootstrap;
  gsize                          bootstrap_size; /* with its NUL */
  PymemdInjectReport            *report;
  GPtrArray                     *reasons;
  PymemdInjectStageFunc          stage;
  gpointer                       stage_data;
  GCancellable                  *cancellable;
  const char                    *running_call; /* what "in-" names */
  gint64                         wait_us;      /* how long a PEP 768 request may be out */
} Attach;

const char *
pymemd_attach_method_name (PymemdAttachMethod method)
{
  switch (method)
    {
    case PYMEMD_ATTACH_METHOD_PEP768:
      return "pep768";
    case PYMEMD_ATTACH_METHOD_PARKED_THREAD:
      return "parked-thread";
    case PYMEMD_ATTACH_METHOD_PENDING_CALL:
      return "pending-call";
    default:
      return "unknown";
    }
}

static void
add_reason (Attach *attach, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
add_reason (Attach *attach, const char *format, ...)
{
  va_list args;

  char *reason;

  va_start (args, format);
  reason = g_strdup_vprintf (format, args);
  va_end (args);
  /* The same thread may be passed over for the same reason at each look. */
  if (g_ptr_array_find_with_equal_func (attach->reasons, reason, g_str_equal, NULL))
    g_free (reason);
  else
    g_ptr_array_add (attach->reasons, reason);
}

#define fail_refused(error, ...) (pymemd_inject_set_refused ((error), __VA_ARGS__), STEP_FAILED)

/* ---- stages and stopping ---- */

static void
tell_stage (Attach *attach, const char *stage, const char *call_name)
{
  g_autofree char *name = NULL;

  if (attach->stage == NULL)
    return;
  name = call_name != NULL ? g_strconcat (stage, "-", call_name, NULL) : g_strdup (stage);
  attach->stage (name, attach->stage_data);
}

static void
on_ptrace_event (PymemdPtraceEvent event, gpointer data)
{
  Attach *attach = data;

  if (event == PYMEMD_PTRACE_RUNNING)
    tell_stage (attach, "in", attach->running_call);
  else
    tell_stage (attach, "released", NULL);
}

/* Whether to stop trying: asked only where no thread is held. */
static gboolean
stopping (Attach *attach, GError **error)
{
  if (!g_cancellable_is_cancelled (attach->cancellable))
    return FALSE;
  g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED,
               _("The attach to process %d was stopped before the bootstrap was in"), attach->pid);
  return TRUE;
}

/* ---- PEP 768: no ptrace, only memory writes ---- */

static gboolean
memory_transfer (gpointer user_data, guint64 address, void *buf, gsize len, gboolean write,
                 GError **error)
{
  pid_t pid = GPOINTER_TO_INT (user_data);
  struct iovec local = { buf, len };
  struct iovec remote = { (void *) (guintptr) address, len };
  gssize n = write ? process_vm_writev (pid, &local, 1, &remote, 1, 0)
                   : process_vm_readv (pid, &local, 1, &remote, 1, 0);

  if (n == (gssize) len)
    return TRUE;
  g_set_error (error, PYMEMD_ERROR,
               n < 0 && errno == ESRCH ? PYMEMD_ERROR_GONE : PYMEMD_ERROR_FAILED,
               "%s", n < 0 ? g_strerror (errno) : _("short transfer"));
  return FALSE;
}

static gboolean
memory_read (gpointer user_data, guint64 address, void *buf, gsize len, GError **error)
{
  return memory_transfer (user_data, address, buf, len, FALSE, error);
}

static gboolean
memory_write (gpointer user_data, guint64 address, const void *buf, gsize len, GError **error)
{
  return memory_transfer (user_data, address, (void *) buf, len, TRUE, error);
}

/* Keeps a GONE error; anything else becomes a reason to try another way. */
static Step
skip_unless_gone (Attach *attach, GError *local_error, GError **error)
{
  if (g_error_matches (local_error, PYMEMD_ERROR, PYMEMD_ERROR_GONE))
    {
      g_propagate_error (error, local_error);
      return STEP_FAILED;
    }
  add_reason (attach, "%s", local_error->message);
  g_error_free (local_error);
  return STEP_SKIPPED;
}

/* ---- ptrace: shared by the parked thread and the pending call ---- */

static gint64
stopped_syscall (PymemdPtrace *ptrace)
{
  const PymemdRegs *regs = pymemd_ptrace_get_saved (ptrace);
  guint32 at_pc = 0, before_pc = 0;

  if (regs->arch == PYMEMD_ARCH_AARCH64)
    {
      guint64 pc = pymemd_call_frame_get_pc (regs);
      pymemd_ptrace_read (ptrace, pc, &at_pc, sizeof at_pc, NULL);
      pymemd_ptrace_read (ptrace, pc - 4, &before_pc, sizeof before_pc, NULL);
    }
  return pymemd_call_frame_stopped_syscall (regs, at_pc, before_pc);
}

/* Seizes TID; a thread that exited meanwhile is skipped, a process that
 * did (or whose pid now names another) fails. */
static Step
seize_thread (Attach *attach, gint32 tid, PymemdPtrace **ptrace, GError **error)
{
  GError *local_error = NULL;

  *ptrace = pymemd_ptrace_seize (attach->pid, tid, &local_error);
  if (*ptrace == NULL)
    {
      if (!g_error_matches (local_error, PYMEMD_ERROR, PYMEMD_ERROR_GONE) ||
          !pymemd_inject_target_check_alive (attach->target, NULL))
        {
          g_propagate_error (error, local_error);
          return STEP_FAILED;
        }
      /* Only that thread exited. */
      add_reason (attach, "%s", local_error->message);
      g_error_free (local_error);
      return STEP_SKIPPED;
    }
  if (attach->stage != NULL)
    pymemd_ptrace_set_event_func (*ptrace, on_ptrace_event, attach);
  /* Our /proc/PID fd still names the process we checked: had it exited
   * and its pid been reused before the seize, this read would fail. */
  if (!pymemd_inject_target_check_alive (attach->target, error))
    return STEP_FAILED;
  tell_stage (attach, "seized", NULL);
  return STEP_DONE;
}

/* Calls FUNCTION, the call NAME in the stages. */
static gboolean
call_value (Attach *attach, PymemdPtrace *ptrace, const char *name, guint64 frame_top, guint64 function,
            guint64 arg0, guint64 arg1, guint n_args, guint64 *value, GError **error)
{
  guint64 args[2] = { arg0, arg1 };

  tell_stage (attach, "before", name);
  attach->running_call = name;
  if (!pymemd_ptrace_call (ptrace, frame_top, function, args, n_args, value, error))
    return FALSE;
  tell_stage (attach, "after", name);
  return TRUE;
}

static gboolean
call (Attach *attach, PymemdPtrace *ptrace, const char *name, guint64 frame_top, guint64 function,
      guint64 arg0, guint64 arg1, guint n_args, gint32 *result, GError **error)
{
  guint64 value;

  if (!call_value (attach, ptrace, name, frame_top, function, arg0, arg1, n_args, &value, error))
    return FALSE;
  *result = (gint32) (guint32) value; /* every callee here returns int or a pointer tested for 0 */
  return TRUE;
}

/* The bootstrap into the target at ADDRESS (the thread is stopped). */
static gboolean
write_bootstrap (Attach *attach, PymemdPtrace *ptrace, guint64 address, GError **error)
{
  if (!pymemd_ptrace_write (ptrace, address, attach->bootstrap, attach->bootstrap_size, error))
    return FALSE;
  tell_stage (attach, "wrote-bootstrap", NULL);
  return TRUE;
}

/* Py_IsInitialized () == 1 and not finalizing: pure reads, safe anywhere. */
static Step
check_interpreter_state (Attach *attach, PymemdPtrace *ptrace, guint64 frame_top, GError **error)
{
  gint32 value;

  if (!call (attach, ptrace, "is-initialized", frame_top, attach->entry->is_initialized, 0, 0, 0, &value, error))
    return STEP_FAILED;
  if (value != 1)
    return fail_refused (error, _("The interpreter of process %d is not initialised"), attach->pid);
  if (attach->entry->is_finalizing != 0)
    {
      if (!call (attach, ptrace, "is-finalizing", frame_top, attach->entry->is_finalizing, 0, 0, 0, &value,
                 error))
        return STEP_FAILED;
      if (value != 0)
        return fail_refused (error, _("The interpreter of process %d is finalizing"), attach->pid);
    }
  else if (attach->entry->finalizing_thread != 0)
    {
      /* 3.6 has no function for it: the thread finalizing it, or NULL. */
      guint64 finalizing;

      if (!pymemd_ptrace_read (ptrace, attach->entry->finalizing_thread, &finalizing, sizeof finalizing, error))
        return STEP_FAILED;
      if (finalizing != 0)
        return fail_refused (error, _("The interpreter of process %d is finalizing"), attach->pid);
    }
  return STEP_DONE;
}

static void
finish_report (Attach *attach, PymemdAttachMethod method, PymemdPtrace *ptrace)
{
  attach->report->method = method;
  attach->report->tid = pymemd_ptrace_get_tid (ptrace);
  attach->report->stopped_us = pymemd_ptrace_get_stopped_us (ptrace);
  attach->report->calls_us = pymemd_ptrace_get_calls_us (ptrace);
  attach->report->held_us = pymemd_ptrace_get_held_us (ptrace);
}

/* ---- a thread parked in a blocking call ---- */

/* The bootstrap runs on the thread's own stack, below its red zone, in
 * four calls: is it initialised and not finalizing (pure reads), does
 * this thread hold the GIL (PyGILState_Check, a pure read: if it does,
 * the C code that blocked here holds the interpreter and must not be
 * re-entered), then PyGILState_Ensure, PyRun_SimpleString,
 * PyGILState_Release. The thread is stopped only between calls: for the
 * time of a few ptrace requests, tens of microseconds each. */
static Step
attach_parked_thread (Attach *attach, gint32 tid, gboolean restarted_parked, GError **error)
{
  const PymemdPythonEntryPoints *entry = attach->entry;
  g_autoptr(PymemdPtrace) ptrace = NULL;
  const PymemdRegs *saved;
  guint64 text, sp;
  gint32 holds_gil, gil_state, rc, ignored;
  Step step;

  if ((step = seize_thread (attach, tid, &ptrace, error)) != STEP_DONE)
    return step;
  saved = pymemd_ptrace_get_saved (ptrace);
  if (!pymemd_call_frame_is_parked_syscall (saved->arch, stopped_syscall (ptrace)) &&
      !(restarted_parked && pymemd_call_frame_is_restart_syscall (saved->arch, stopped_syscall (ptrace))))
    {
      add_reason (attach, _("thread %d left its blocking call"), tid);
      return STEP_SKIPPED;
    }
  sp = pymemd_call_frame_get_sp (saved);
  if (pymemd_inject_target_stack_room (attach->target, sp) < MIN_STACK_ROOM + attach->bootstrap_size)
    {
      add_reason (attach, _("thread %d has too little stack"), tid);
      return STEP_SKIPPED;
    }
  text = pymemd_call_frame_reserve (pymemd_call_frame_stack_top (saved), attach->bootstrap_size);
  if (!write_bootstrap (attach, ptrace, text, error) ||
      (step = check_interpreter_state (attach, ptrace, text, error)) != STEP_DONE)
    return STEP_FAILED;
  if (!call (attach, ptrace, "gil-check", text, entry->gil_check, 0, 0, 0, &holds_gil, error))
    return STEP_FAILED;
  if (holds_gil != 0)
    {
      add_reason (attach, _("thread %d holds the GIL (or it cannot be told)"), tid);
      return STEP_SKIPPED;
    }
  if (!call (attach, ptrace, "gil-ensure", text, entry->gil_ensure, 0, 0, 0, &gil_state, error))
    return STEP_FAILED;
  if (entry->run_simple_string != 0)
    step = call (attach, ptrace, "run-string", text, entry->run_simple_string, text, 0, 1, &rc, error)
             ? STEP_DONE : STEP_FAILED;
  else
    step = call (attach, ptrace, "run-string", text, entry->run_simple_string_flags, text, 0, 2, &rc, error)
             ? STEP_DONE : STEP_FAILED;
  /* Whatever the bootstrap returned, the GIL goes back: a thread restored
   * into its poll while holding it would stall every other thread. (After
   * a fault nothing more is called: the thread is only given back.) */
  if (step == STEP_DONE &&
      !call (attach, ptrace, "gil-release", text, entry->gil_release, (guint64) (guint32) gil_state, 0, 1,
             &ignored, error))
    step = STEP_FAILED;
  if (step != STEP_DONE || !pymemd_ptrace_release (ptrace, error))
    return STEP_FAILED;
  finish_report (attach, PYMEMD_ATTACH_METHOD_PARKED_THREAD, ptrace);
  if (rc != 0)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED,
                   _("The bootstrap raised an exception in process %d (its traceback went to "
                     "the process's stderr)"), attach->pid);
      return STEP_FAILED;
    }
  return STEP_DONE;
}

static Step
try_parked_threads (Attach *attach, GArray *threads, GError **error)
{
  const PymemdPythonEntryPoints *entry = attach->entry;

  if (entry->is_initialized == 0 || entry->gil_check == 0 || entry->gil_ensure == 0 ||
      entry->gil_release == 0 || (entry->run_simple_string == 0 && entry->run_simple_string_flags == 0))
    {
      add_reason (attach, _("the interpreter lacks the functions a parked thread would call"));
      return STEP_SKIPPED;
    }
  for (guint i = 0; i < threads->len; i++)
    {
      const PymemdThreadSnapshot *thread = &g_array_index (threads, PymemdThreadSnapshot, i);
      Step step;

      if (thread->activity != PYMEMD_THREAD_IN_SYSCALL ||
          (!pymemd_call_frame_is_parked_syscall (PYMEMD_ARCH_HOST, thread->syscall_nr) && !thread->restarted_parked))
        continue;
      if (stopping (attach, error))
        return STEP_FAILED;
      step = attach_parked_thread (attach, thread->tid, thread->restarted_parked, error);
      if (step != STEP_SKIPPED)
        return step;
    }
  return STEP_SKIPPED;
}

/* ---- a busy interpreter: a pending call ---- */

/* A running thread: in round 0 the main one if it runs in any of a few
 * looks (Py_AddPendingCall queues for the main thread whoever calls it,
 * and it is the likeliest to run Python code), in later rounds the
 * others in turn. 0 when none runs, -1 on failure. */
static gint32
find_running_thread (Attach *attach, guint round, GError **error)
{
  for (guint look = 0; look < MAX_RUNNING_LOOKS; look++)
    {
      g_autoptr(GArray) threads = pymemd_inject_target_snapshot_threads (attach->target, error);
      g_autoptr(GArray) running = g_array_new (FALSE, FALSE, sizeof (gint32));

      if (threads == NULL)
        return -1;
      for (guint i = 0; i < threads->len; i++)
        {
          const PymemdThreadSnapshot *thread = &g_array_index (threads, PymemdThreadSnapshot, i);

          if (thread->activity == PYMEMD_THREAD_RUNNING)
            g_array_append_val (running, thread->tid);
        }
      /* The snapshot lists the main thread first. */
      if (running->len > 0 && (round > 0 || g_array_index (running, gint32, 0) == attach->pid ||
                               look == MAX_RUNNING_LOOKS - 1))
        return g_array_index (running, gint32, round % running->len);
      g_usleep (500);
    }
  return 0;
}

/* Whether the thread stopped where it runs its own code, outside the C library:
 * there it may hold a lock of libc's own (malloc's arenas, stdio, the
 * loader's), or be inside pthread_mutex_lock or sem_wait on the very lock
 * Py_AddPendingCall takes, and our call would wait on it forever; nor may
 * it be inside a system call. Between tries it runs a little longer each
 * time, so that it leaves whatever it was in. */
static gboolean
stop_outside_libc (Attach *attach, PymemdPtrace *ptrace, GError **error)
{
  for (guint attempt = 0; attempt < MAX_LIBC_RETRIES; attempt++)
    {
      const PymemdRegs *saved = pymemd_ptrace_get_saved (ptrace);

      if (stopped_syscall (ptrace) < 0 &&
          !pymemd_inject_target_in_libc (attach->target, pymemd_call_frame_get_pc (saved)))
        return TRUE;
      if (!pymemd_ptrace_let_run (ptrace, 50 + 50 * attempt, error))
        return FALSE;
    }
  return FALSE;
}

/* An anonymous read-write page range for the bootstrap, by an mmap the
 * thread itself makes: the text must outlive the call (it runs later,
 * from the main thread's eval loop) and no allocator of the target may
 * be entered from an arbitrary point. It is left mapped: it holds the
 * text until the pending call ran, and freeing it then is the
 * bootstrap's business. */
static gboolean
system_call (Attach *attach, PymemdPtrace *ptrace, const char *name, guint64 syscall_insn, PymemdSyscall nr,
             const guint64 *args, gint64 *result, GError **error)
{
  tell_stage (attach, "before", name);
  attach->running_call = name;
  if (!pymemd_ptrace_syscall (ptrace, syscall_insn, pymemd_call_frame_syscall_number (PYMEMD_ARCH_HOST, nr), args,
                              result, error))
    return FALSE;
  tell_stage (attach, "after", name);
  return TRUE;
}

static guint64
inject_mmap (Attach *attach, PymemdPtrace *ptrace, guint64 syscall_insn, gsize size, GError **error)
{
  guint64 args[6] = { 0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                      G_MAXUINT64 /* fd -1 */, 0 };
  gint64 result;

  if (!system_call (attach, ptrace, "mmap", syscall_insn, PYMEMD_SYSCALL_MMAP, args, &result, error))
    return 0;
  if (result < 0 && result > -4096)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED,
                   _("mmap in process %d failed: %s"), attach->pid, g_strerror ((int) -result));
      return 0;
    }
  return (guint64) result;
}

static void
inject_munmap (Attach *attach, PymemdPtrace *ptrace, guint64 syscall_insn, guint64 address, gsize size)
{
  guint64 args[6] = { address, size, 0, 0, 0, 0 };
  gint64 result;

  system_call (attach, ptrace, "munmap", syscall_insn, PYMEMD_SYSCALL_MUNMAP, args, &result, NULL);
}


static Step
try_pending_call (Attach *attach, GError **error)
{
  const PymemdPythonEntryPoints *entry = attach->entry;
  g_autoptr(PymemdPtrace) ptrace = NULL;
  GError *local_error = NULL;
  gsize size;
  guint64 syscall_insn, text, frame_top, tstate;
  gint32 tid, value;
  Step step;

  if (entry->is_initialized == 0 || entry->add_pending_call == 0 ||
      entry->run_simple_string == 0 || entry->gil_this_thread_state == 0)
    {
      add_reason (attach, _("the interpreter lacks a one-argument PyRun_SimpleString or "
                            "Py_AddPendingCall"));
      return STEP_SKIPPED;
    }
  syscall_insn = pymemd_inject_target_find_syscall_insn (attach->target, error);
  if (syscall_insn == 0)
    return STEP_FAILED;
  for (guint round = 0;; round++)
    {
      if (stopping (attach, error))
        return STEP_FAILED;
      tid = find_running_thread (attach, round, error);
      if (tid < 0)
        return STEP_FAILED;
      if (tid == 0)
        return STEP_SKIPPED;
      if ((step = seize_thread (attach, tid, &ptrace, error)) == STEP_FAILED)
        return step;
      if (step == STEP_DONE && stop_outside_libc (attach, ptrace, &local_error))
        break;
      if (local_error != NULL)
        return skip_unless_gone (attach, local_error, error);
      /* Waiting for the GIL, in malloc, in a system call…: another time,
       * or another thread. */
      g_clear_pointer (&ptrace, pymemd_ptrace_free);
      if (round + 1 == MAX_PENDING_ROUNDS)
        {
          add_reason (attach, _("no running thread could be stopped outside the C library "
                                "and system calls"));
          return STEP_SKIPPED;
        }
    }
  frame_top = pymemd_call_frame_stack_top (pymemd_ptrace_get_saved (ptrace));
  if ((step = check_interpreter_state (attach, ptrace, frame_top, error)) != STEP_DONE)
    return step;
  /* Python 3.9 aborts in Py_AddPendingCall from a thread without a
   * thread state: only a Python thread may make the call. */
  if (!call_value (attach, ptrace, "this-thread-state", frame_top, entry->gil_this_thread_state, 0, 0, 0,
                   &tstate, error))
    return STEP_FAILED;
  if (tstate == 0)
    {
      add_reason (attach, _("running thread %d is not a Python thread"), tid);
      return STEP_SKIPPED;
    }

  size = (attach->bootstrap_size + 4095) & ~(gsize) 4095;
  text = inject_mmap (attach, ptrace, syscall_insn, size, error);
  if (text == 0 || !write_bootstrap (attach, ptrace, text, error) ||
      !call (attach, ptrace, "add-pending-call", frame_top, entry->add_pending_call, entry->run_simple_string,
             text, 2, &value, error))
    return STEP_FAILED;
  if (value != 0)
    {
      inject_munmap (attach, ptrace, syscall_insn, text, size);
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED,
                   _("The pending calls of process %d are full"), attach->pid);
      return STEP_FAILED;
    }
  if (!pymemd_ptrace_release (ptrace, error))
    return STEP_FAILED;
  finish_report (attach, PYMEMD_ATTACH_METHOD_PENDING_CALL, ptrace);
  return STEP_DONE;
}

/* ---- CPython 3.14+: PEP 768 or a parked thread, whichever runs soonest ---- */

/* A request that has been out this long without being taken is moved to a
 * thread that now looks likelier to take it (or withdrawn for a parked
 * thread): threads flip between running and waiting for the GIL every
 * few milliseconds, and a request must not follow each flip. */
#define PEP768_SETTLE_US    (20 * 1000)
/* Looks at the threads while a request is out: the first after 0.5 ms,
 * then ever further apart, to this at most. */
#define PEP768_MAX_POLL_US  (20 * 1000)
/* From the interpreter taking the request to its reading the script
 * there are only its audit hooks: this long and they refused it. */
#define PEP768_READ_WAIT_US (10 * G_USEC_PER_SEC)
/* ... looking between slices of this length whether it still lives. */
#define PEP768_READ_SLICE_US (100 * 1000)

typedef struct {
  PymemdPep768Memory  memory;
  PymemdPep768Target  main;        /* the main thread, as located */
  PymemdPep768Target  armed;       /* the thread our request is out to */
  gboolean            out;         /* a request of ours is out */
  gint32              armed_tid;   /* that thread, as we number it */
  gint64              armed_at;
  PymemdAttachScript *script;
  GHashTable         *not_python;  /* threads (our numbers) that run no Python */
  guint               parked_tries;
  gint64              next_parked_try;
} Pep768;

static void
pep768_init (Pep768 *pep, gint32 pid)
{
  memset (pep, 0, sizeof *pep);
  pep->memory.read = memory_read;
  pep->memory.write = memory_write;
  pep->memory.user_data = GINT_TO_POINTER (pid);
  pep->not_python = g_hash_table_new (NULL, NULL);
}

/* The script of a request the interpreter took is read at once (nothing
 * but its audit hooks comes first): it is removed only then, or after
 * PEP768_READ_WAIT_US, since a script missing when the interpreter opens
 * it makes CPython print on the process's stderr. TRUE once it was read. */
static gboolean
pep768_wait_read (Attach *attach, Pep768 *pep)
{
  gint64 end = g_get_monotonic_time () + PEP768_READ_WAIT_US;

  /* In slices: a process that exits meanwhile reads nothing more. */
  while (g_get_monotonic_time () < end)
    {
      if (pymemd_attach_script_wait_read (pep->script, MIN (PEP768_READ_SLICE_US, end - g_get_monotonic_time ())))
        return TRUE;
      if (!pymemd_inject_target_check_alive (attach->target, NULL))
        return FALSE;
    }
  return FALSE;
}

/* Withdraws our request if one is out; TAKEN (may be NULL) tells whether
 * the interpreter had taken it first. */
static gboolean
pep768_withdraw (Attach *attach, Pep768 *pep, gboolean *taken, GError **error)
{
  gboolean was_taken = FALSE;

  if (pep->out)
    {
      if (!pymemd_pep768_withdraw (&pep->armed, &pep->memory, &was_taken, error))
        return FALSE;
      pep->out = FALSE;
      tell_stage (attach, was_taken ? "taken" : "withdrawn", NULL);
    }
  if (taken != NULL)
    *taken = was_taken;
  return TRUE;
}

/* Whatever happened, no request of ours stays out and the script goes:
 * a request left out would run the bootstrap whenever the thread next ran
 * Python, long after this attach (even under another one, with another
 * nonce, or as a second helper). */
static void
pep768_clear (Attach *attach, Pep768 *pep)
{
  g_autoptr(GError) error = NULL;
  gboolean taken = FALSE;

  /* Not known whether it was taken, unless the process is gone. */
  if (pep->out && !pep768_withdraw (attach, pep, &taken, &error))
    taken = !g_error_matches (error, PYMEMD_ERROR, PYMEMD_ERROR_GONE);
  if (taken && pep->script != NULL)
    pep768_wait_read (attach, pep);
  g_clear_pointer (&pep->script, pymemd_attach_script_free);
  g_clear_pointer (&pep->not_python, g_hash_table_unref);
}

/* PEP 768 fits (STEP_DONE): CPython 3.14 whose remote debugging is on.
 * STEP_SKIPPED for an interpreter without it, STEP_FAILED (refused) when
 * its administrator or the program switched it off. */
static Step
pep768_locate (Attach *attach, Pep768 *pep, GError **error)
{
  GError *local_error = NULL;
  guint64 version;

  if (attach->entry->runtime == 0)
    return STEP_SKIPPED; /* 3.6 */
  if (!pymemd_pep768_read_version (attach->entry->runtime, &pep->memory, &version, &local_error))
    {
      if (g_error_matches (local_error, PYMEMD_ERROR, PYMEMD_ERROR_GONE))
        return skip_unless_gone (attach, local_error, error);
      g_error_free (local_error); /* before 3.13: not a way, not a reason */
      return STEP_SKIPPED;
    }
  if (version < 0x030e0000)
    return STEP_SKIPPED;
  if (!pymemd_pep768_locate (attach->entry->runtime, (guint64) pymemd_inject_target_get_namespace_pid (attach->target),
                             &pep->memory, &pep->main, &local_error))
    return skip_unless_gone (attach, local_error, error);
  /* The interpreter's own answer to "may a debugger run code here?" (its
   * build, PYTHON_DISABLE_REMOTE_DEBUG, -X disable-remote-debug): every
   * other way would go around it. */
  if (!pep->main.remote_debugging_enabled)
    return fail_refused (error, _("Remote debugging is disabled in the interpreter of process %d"), attach->pid);
  return STEP_DONE;
}

static gboolean
thread_is_parked (const PymemdThreadSnapshot *thread)
{
  return thread->activity == PYMEMD_THREAD_IN_SYSCALL &&
         (pymemd_call_frame_is_parked_syscall (PYMEMD_ARCH_HOST, thread->syscall_nr) || thread->restarted_parked);
}

/* A thread on a CPU that runs Python of the main interpreter (the main
 * thread first): the request goes to it, in TARGET. 0 without one, -1 on
 * failure. */
static gint32
running_python_thread (Attach *attach, Pep768 *pep, GArray *threads, PymemdPep768Target *target, GError **error)
{
  for (guint i = 0; i < threads->len; i++)
    {
      const PymemdThreadSnapshot *thread = &g_array_index (threads, PymemdThreadSnapshot, i);
      GError *local_error = NULL;
      gint32 ns_tid;

      if (thread->activity != PYMEMD_THREAD_RUNNING ||
          g_hash_table_contains (pep->not_python, GINT_TO_POINTER (thread->tid)))
        continue;
      if (thread->tid == attach->pid)
        {
          *target = pep->main;
          return thread->tid;
        }
      ns_tid = pymemd_inject_target_namespace_tid (attach->target, thread->tid);
      *target = pep->main;
      if (ns_tid > 0 && pymemd_pep768_select_thread (target, (guint64) ns_tid, &pep->memory, &local_error))
        return thread->tid;
      if (g_error_matches (local_error, PYMEMD_ERROR, PYMEMD_ERROR_GONE))
        {
          g_propagate_error (error, local_error);
          return -1;
        }
      g_clear_error (&local_error);
      g_hash_table_add (pep->not_python, GINT_TO_POINTER (thread->tid));
    }
  return 0;
}

/* Sends the request to TARGET's thread, TID. */
static Step
pep768_request (Attach *attach, Pep768 *pep, const PymemdPep768Target *target, gint32 tid, GError **error)
{
  GError *local_error = NULL;

  if (!pymemd_pep768_request (target, pymemd_attach_script_get_path (pep->script), &pep->memory, &local_error))
    return skip_unless_gone (attach, local_error, error);
  pep->armed = *target;
  pep->armed_tid = tid;
  pep->armed_at = g_get_monotonic_time ();
  pep->out = TRUE;
  tell_stage (attach, "requested", NULL);
  return STEP_DONE;
}

/* The interpreter took the request: done once it has read the script. */
static Step
pep768_taken (Attach *attach, Pep768 *pep, GError **error)
{
  if (!pep768_wait_read (attach, pep))
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED,
                   _("Process %d took the PEP 768 request but did not read the script within %d s (an audit hook "
                     "may have refused it)"),
                   attach->pid, (int) (PEP768_READ_WAIT_US / G_USEC_PER_SEC));
      return STEP_FAILED;
    }
  attach->report->method = PYMEMD_ATTACH_METHOD_PEP768;
  attach->report->tid = pep->armed_tid;
  return STEP_DONE;
}

static Step try_parked_threads (Attach *attach, GArray *threads, GError **error);

/* One look at the threads with nothing of ours out: a running Python
 * thread gets the request (it takes it at its next eval-breaker check,
 * within a switch interval), else a parked thread runs the bootstrap at
 * once, else the main thread gets the request and takes it when it next
 * runs Python. STEP_SKIPPED when a parked thread was tried and did not
 * fit: the next look decides again. */
static Step
pep768_choose (Attach *attach, Pep768 *pep, GArray *threads, GError **error)
{
  PymemdPep768Target target;
  gint32 tid = running_python_thread (attach, pep, threads, &target, error);
  gboolean parked = FALSE;

  if (tid < 0)
    return STEP_FAILED;
  if (tid > 0)
    return pep768_request (attach, pep, &target, tid, error);
  for (guint i = 0; i < threads->len && !parked; i++)
    parked = thread_is_parked (&g_array_index (threads, PymemdThreadSnapshot, i));
#if PYMEMD_HAVE_PTRACE_CALLS
  /* A parked thread that did not fit (it holds the GIL, its stack is
   * small…) is tried again a few times, further apart each time. */
  if (parked && pep->parked_tries < MAX_ATTEMPTS && g_get_monotonic_time () >= pep->next_parked_try)
    {
      Step step = try_parked_threads (attach, threads, error);

      pep->next_parked_try = g_get_monotonic_time () + (1000 << pep->parked_tries);
      pep->parked_tries++;
      if (step != STEP_SKIPPED)
        return step;
    }
#endif
  return pep768_request (attach, pep, &pep->main, attach->pid, error);
}

/* Whether our request should move: it has been out a while, and the
 * thread it went to is no longer the likeliest to take it. */
static gboolean
pep768_should_move (Attach *attach, Pep768 *pep, GArray *threads)
{
  gboolean armed_runs = FALSE, other_runs = FALSE, parked = FALSE;

  if (g_get_monotonic_time () - pep->armed_at < PEP768_SETTLE_US)
    return FALSE;
  for (guint i = 0; i < threads->len; i++)
    {
      const PymemdThreadSnapshot *thread = &g_array_index (threads, PymemdThreadSnapshot, i);

      if (thread->activity == PYMEMD_THREAD_RUNNING)
        {
          if (thread->tid == pep->armed_tid)
            armed_runs = TRUE;
          else if (!g_hash_table_contains (pep->not_python, GINT_TO_POINTER (thread->tid)))
            other_runs = TRUE;
        }
      parked |= thread_is_parked (thread);
    }
  if (armed_runs)
    return FALSE;
  return other_runs || (parked && pep->parked_tries < MAX_ATTEMPTS && g_get_monotonic_time () >= pep->next_parked_try);
}

static void refuse_pep768 (Attach *attach, GArray *threads, GError **error);

/* CPython 3.14 and later: the request goes out and follows the threads
 * until DEADLINE (microseconds, monotonic); a thread that parks meanwhile
 * gets the bootstrap that way, the request withdrawn first. Whatever the
 * outcome nothing of ours stays out. */
static Step
pep768_run (Attach *attach, Pep768 *pep, const char *script_dir, gint64 deadline, GError **error)
{
  g_autoptr(GArray) threads = NULL;
  GError *local_error = NULL;
  guint poll_us = 500;
  gboolean taken = FALSE;

  pep->script = pymemd_attach_script_new (script_dir, attach->bootstrap, &local_error);
  if (pep->script == NULL || !pymemd_inject_target_sees_file (attach->target, pymemd_attach_script_get_path (pep->script),
                                                              &local_error))
    return skip_unless_gone (attach, local_error, error);
  for (;;)
    {
      Step step;

      if (pep->out && !pymemd_pep768_is_taken (&pep->armed, &pep->memory, &taken, error))
        return STEP_FAILED;
      if (taken)
        {
          pep->out = FALSE;
          tell_stage (attach, "taken", NULL);
          return pep768_taken (attach, pep, error);
        }
      if (g_get_monotonic_time () >= deadline || g_cancellable_is_cancelled (attach->cancellable))
        break;
      g_clear_pointer (&threads, g_array_unref);
      threads = pymemd_inject_target_snapshot_threads (attach->target, error);
      if (threads == NULL)
        return STEP_FAILED;
      if (pep->out && pep768_should_move (attach, pep, threads))
        {
          if (!pep768_withdraw (attach, pep, &taken, error))
            return STEP_FAILED;
          if (taken)
            return pep768_taken (attach, pep, error);
        }
      if (!pep->out)
        {
          step = pep768_choose (attach, pep, threads, error);
          if (step == STEP_FAILED || (step == STEP_DONE && !pep->out))
            return step; /* a parked thread ran the bootstrap, or failed */
          if (step == STEP_SKIPPED && !pep->out)
            return STEP_SKIPPED; /* the request could not be sent: the reason is noted */
        }
      g_usleep (poll_us);
      poll_us = MIN (poll_us * 2, PEP768_MAX_POLL_US);
    }
  if (!pep768_withdraw (attach, pep, &taken, error))
    return STEP_FAILED;
  if (taken)
    return pep768_taken (attach, pep, error);
  if (stopping (attach, error))
    return STEP_FAILED;
  refuse_pep768 (attach, threads, error);
  return STEP_FAILED;
}

/* ---- refusal ---- */

/* What the threads were doing, for the final refusal: "2 in futex, 1 in read". */
static char *
describe_threads (GArray *threads)
{
  g_autoptr(GHashTable) counts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GString) text = g_string_new (NULL);
  g_autoptr(GList) keys = NULL;

  for (guint i = 0; i < threads->len; i++)
    {
      const PymemdThreadSnapshot *thread = &g_array_index (threads, PymemdThreadSnapshot, i);
      char *what = thread->activity == PYMEMD_THREAD_IN_SYSCALL
                     ? pymemd_call_frame_syscall_name (PYMEMD_ARCH_HOST, thread->syscall_nr)
                     : g_strdup (thread->activity == PYMEMD_THREAD_RUNNING ? _("running")
                                                                             : _("blocked"));
      guint count = GPOINTER_TO_UINT (g_hash_table_lookup (counts, what));

      g_hash_table_replace (counts, what, GUINT_TO_POINTER (count + 1));
    }
  keys = g_list_sort (g_hash_table_get_keys (counts), (GCompareFunc) g_strcmp0);
  for (GList *l = keys; l != NULL; l = l->next)
    g_string_append_printf (text, "%s%u %s", text->len > 0 ? ", " : "",
                            GPOINTER_TO_UINT (g_hash_table_lookup (counts, l->data)),
                            (const char *) l->data);
  return g_string_free (g_steal_pointer (&text), FALSE);
}

/* The reasons noted on the way, each after "; ", for the end of a refusal. */
static char *
noted_reasons (Attach *attach)
{
  g_autoptr(GString) text = g_string_new (NULL);

  for (guint i = 0; i < attach->reasons->len; i++)
    g_string_append_printf (text, "; %s", (const char *) g_ptr_array_index (attach->reasons, i));
  return g_string_free (g_steal_pointer (&text), FALSE);
}

static gboolean
refuse_all (Attach *attach, GArray *threads, GError **error)
{
  g_autofree char *states = describe_threads (threads);
  g_autofree char *reasons = noted_reasons (attach);

  g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED,
               _("No thread of process %d can take the bootstrap safely: none is parked in "
                 "poll, select, epoll or a sleep without the GIL, and none could be stopped "
                 "running its own code (threads: %s)%s"),
               attach->pid, states, reasons);
  return FALSE;
}

/* The refusal after a PEP 768 request was out until the deadline. */
static void
refuse_pep768 (Attach *attach, GArray *threads, GError **error)
{
  g_autoptr(GArray) none = g_array_new (FALSE, TRUE, sizeof (PymemdThreadSnapshot));
  g_autofree char *states = describe_threads (threads != NULL ? threads : none);
  g_autofree char *reasons = noted_reasons (attach);

  g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED,
               _("Process %d did not take the bootstrap within %.1f s: PEP 768 runs it when a thread next runs "
                 "Python code, and none did; none was parked in poll, select, epoll or a sleep without the GIL "
                 "(threads: %s)%s. The request was withdrawn"),
               attach->pid, (double) attach->wait_us / G_USEC_PER_SEC, states, reasons);
}

gboolean
pymemd_injector_inject_full (const char           *proc_root,
                             gint32                pid,
                             guint64               start_time,
                             const char           *bootstrap,
                             const char           *script_dir,
                             double                wait_seconds,
                             PymemdInjectStageFunc stage,
                             gpointer              stage_data,
                             GCancellable         *cancellable,
                             PymemdInjectReport   *report,
                             GError              **error)
{
  g_autoptr(PymemdInjectTarget) target = NULL;
  g_autoptr(GPtrArray) reasons = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GArray) threads = NULL;
  PymemdInjectReport ignored;
  Attach attach;
  Pep768 pep;
  Step step;

  g_return_val_if_fail (proc_root != NULL && bootstrap != NULL, FALSE);

  if (report == NULL)
    report = &ignored;
  memset (report, 0, sizeof *report);
  if (pid <= 0 || strlen (bootstrap) >= PYMEMD_INJECTOR_MAX_BOOTSTRAP ||
      (script_dir != NULL && script_dir[0] != '/') || !(wait_seconds >= 0 && wait_seconds <= 3600))
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS,
                   _("Bad attach request: pid %d, bootstrap of %zu bytes (at most %d), script directory %s, wait "
                     "%g s"),
                   pid, strlen (bootstrap), PYMEMD_INJECTOR_MAX_BOOTSTRAP - 1,
                   script_dir != NULL ? script_dir : "none", wait_seconds);
      return FALSE;
    }
  target = pymemd_inject_target_open (proc_root, pid, start_time, error);
  if (target == NULL)
    return FALSE;
  report->python_version = pymemd_inject_target_get_python_version (target);

  attach.target = target;
  attach.entry = pymemd_inject_target_get_entry_points (target);
  attach.pid = pid;
  attach.bootstrap = bootstrap;
  attach.bootstrap_size = strlen (bootstrap) + 1;
  attach.report = report;
  attach.reasons = reasons;
  attach.stage = stage;
  attach.stage_data = stage_data;
  attach.cancellable = cancellable;
  attach.running_call = NULL;
  attach.wait_us = (gint64) (wait_seconds * G_USEC_PER_SEC);

  pep768_init (&pep, pid);
  step = pep768_locate (&attach, &pep, error);
  if (step == STEP_DONE && script_dir == NULL)
    {
      add_reason (&attach, _("PEP 768 needs a script directory"));
      step = STEP_SKIPPED;
    }
  else if (step == STEP_DONE)
    step = pep768_run (&attach, &pep, script_dir, g_get_monotonic_time () + attach.wait_us, error);
  pep768_clear (&attach, &pep);
#if PYMEMD_HAVE_PTRACE_CALLS
  /* Before 3.14, or where PEP 768 could not be asked: threads change
   * state all the time (an idle loop wakes up for a moment, a thread
   * waits a few milliseconds for the GIL), so each way is tried on a few
   * fresh looks, further apart each time, and a parked thread is looked
   * for first: it is the way that needs no mmap and runs the bootstrap at
   * once. */
  for (guint attempt = 0; step == STEP_SKIPPED && attempt < MAX_ATTEMPTS; attempt++)
    {
      if (attempt > 0)
        g_usleep (1000 << attempt);
      if (stopping (&attach, error))
        return FALSE;
      g_clear_pointer (&threads, g_array_unref);
      threads = pymemd_inject_target_snapshot_threads (target, error);
      if (threads == NULL)
        return FALSE;
      step = try_parked_threads (&attach, threads, error);
    }
  for (guint attempt = 0; step == STEP_SKIPPED && attempt < MAX_ATTEMPTS; attempt++)
    {
      if (attempt > 0)
        g_usleep (1000 << attempt);
      step = try_pending_call (&attach, error);
    }
#endif
  if (step == STEP_SKIPPED)
    {
      if (threads == NULL)
        threads = g_array_new (FALSE, TRUE, sizeof (PymemdThreadSnapshot));
      return refuse_all (&attach, threads, error);
    }
  return step == STEP_DONE;
}

gboolean
pymemd_injector_inject_with_report (const char         *proc_root,
                                    gint32              pid,
                                    guint64             start_time,
                                    const char         *bootstrap,
                                    const char         *script_dir,
                                    PymemdInjectReport *report,
                                    GError            **error)
{
  return pymemd_injector_inject_full (proc_root, pid, start_time, bootstrap, script_dir,
                                      PYMEMD_INJECTOR_DEFAULT_WAIT, NULL, NULL, NULL, report, error);
}

gboolean
pymemd_injector_inject (const char         *proc_root,
                        gint32              pid,
                        guint64             start_time,
                        const char         *bootstrap,
                        const char         *script_dir,
                        PymemdAttachMethod *method,
                        GError            **error)
{
  PymemdInjectReport report;

  if (!pymemd_injector_inject_with_report (proc_root, pid, start_time, bootstrap, script_dir,
                                           &report, error))
    return FALSE;
  if (method != NULL)
    *method = report.method;
  return TRUE;
}
