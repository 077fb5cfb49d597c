/* ptrace of one thread for an attach: PTRACE_SEIZE + PTRACE_INTERRUPT, register and extended-state save and restore, calls that return to address 0, one single-stepped system call, and signal pass-through. */
#include "config.h"

#include <elf.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "pymemd-error.h"
#include "pymemd-ptrace.h"

#if defined(__x86_64__)
G_STATIC_ASSERT (sizeof (PymemdRegsX86_64) == sizeof (struct user_regs_struct));
#elif defined(__aarch64__)
#include <asm/ptrace.h>
G_STATIC_ASSERT (sizeof (PymemdRegsAarch64) == sizeof (struct user_pt_regs));
#endif

#ifndef PTRACE_EVENT_STOP
#define PTRACE_EVENT_STOP 128
#endif

/* Far more than a storm of signals at one stop; a thread that keeps
 * bouncing is not worth waiting for. */
#define MAX_SIGNALS_PER_STOP 1000
/* XSAVE areas are ~1 KiB with AVX, ~2.7 KiB with AVX-512, ~11 KiB with AMX. */
#define MAX_EXTENDED_STATE (64 * 1024)

typedef struct {
  int     type; /* NT_* */
  guint8 *data;
  gsize   len;
} ExtendedState;

struct _PymemdPtrace
{
  gint32        pid;
  gint32        tid;
  gboolean      attached;     /* seized and not detached */
  gboolean      stopped;      /* in a ptrace stop */
  gboolean      at_signal;    /* that stop is a signal-delivery stop */
  gboolean      gone;
  gboolean      signals_seen; /* a signal or group stop came during our calls */
  PymemdRegs    saved;
  gboolean      saved_valid;
  ExtendedState extended[2];
  GArray       *deferred;     /* siginfo_t: signals held back during a single step */
  gint64        stopped_since;
  gint64        interrupted_at; /* when the stop whose state is saved was asked for */
  gint64        held_us;
  gint64        stopped_us;
  gint64        calls_us;
  PymemdPtraceEventFunc event_func;
  gpointer              event_data;
};

static gboolean
set_ptrace_error (PymemdPtrace *self, GError **error, const char *what)
{
  int errsv = errno;

  if (errsv == ESRCH && kill (self->tid, 0) < 0 && errno == ESRCH)
    {
      self->gone = TRUE;
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_GONE, _("Thread %d is gone"), self->tid);
    }
  else
    g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED, _("%s of thread %d failed: %s"),
                 what, self->tid, g_strerror (errsv));
  return FALSE;
}

static void
mark_stopped (PymemdPtrace *self, gboolean at_signal)
{
  self->stopped = TRUE;
  self->at_signal = at_signal;
  self->stopped_since = g_get_monotonic_time ();
}

static void
mark_running (PymemdPtrace *self)
{
  if (self->stopped)
    self->stopped_us += g_get_monotonic_time () - self->stopped_since;
  self->stopped = FALSE;
  self->at_signal = FALSE;
}

static gboolean
resume (PymemdPtrace *self, int request, int sig, GError **error)
{
  mark_running (self);
  if (ptrace ((enum __ptrace_request) request, self->tid, NULL, (void *) (gintptr) sig) < 0)
    return set_ptrace_error (self, error, "ptrace resume");
  return TRUE;
}

/* Waits for the next event of the thread: TRUE with STATUS for a stop,
 * FALSE (GONE) when it exited or was killed. */
static gboolean
wait_stop (PymemdPtrace *self, int *status, GError **error)
{
  for (;;)
    {
      pid_t r = waitpid (self->tid, status, __WALL);

      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        {
          self->gone = TRUE;
          self->attached = FALSE;
          g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_GONE, _("Thread %d is gone: %s"),
                       self->tid, g_strerror (errno));
          return FALSE;
        }
      if (WIFSTOPPED (*status))
        return TRUE;
      /* Exited or killed (exit_group, execve in another thread, SIGKILL):
       * the kernel has detached it. */
      self->gone = TRUE;
      self->attached = FALSE;
      self->stopped = FALSE;
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_GONE, _("Thread %d exited"), self->tid);
      return FALSE;
    }
}

static gboolean
get_siginfo (PymemdPtrace *self, siginfo_t *info, GError **error)
{
  if (ptrace (PTRACE_GETSIGINFO, self->tid, NULL, info) < 0)
    return set_ptrace_error (self, error, "PTRACE_GETSIGINFO");
  return TRUE;
}

/* Stops the running thread: an interrupt stop, with signals that come
 * first passed on. A group stop (SIGSTOP and the like) refuses. */
static gboolean
interrupt (PymemdPtrace *self, GError **error)
{
  int status;

  self->interrupted_at = g_get_monotonic_time ();
  if (ptrace (PTRACE_INTERRUPT, self->tid, NULL, NULL) < 0)
    return set_ptrace_error (self, error, "PTRACE_INTERRUPT");
  for (guint n = 0; n < MAX_SIGNALS_PER_STOP; n++)
    {
      int sig;

      if (!wait_stop (self, &status, error))
        return FALSE;
      sig = WSTOPSIG (status);
      if (status >> 16 == PTRACE_EVENT_STOP)
        {
          mark_stopped (self, FALSE);
          if (sig == SIGTRAP)
            return TRUE;
          g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED,
                       _("The process is being stopped (%s)"), g_strsignal (sig));
          return FALSE;
        }
      /* A signal-delivery stop before ours: the signal is the thread's. */
      mark_stopped (self, TRUE);
      if (!resume (self, PTRACE_CONT, sig, error))
        return FALSE;
    }
  g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED,
               _("Thread %d receives signals without end"), self->tid);
  return FALSE;
}

static gboolean
get_regs (PymemdPtrace *self, PymemdRegs *regs, GError **error)
{
  struct iovec iov;

  memset (regs, 0, sizeof *regs);
#if defined(__x86_64__)
  regs->arch = PYMEMD_ARCH_X86_64;
  regs->aarch64_syscallno = -1;
  iov.iov_base = &regs->x86_64;
  iov.iov_len = sizeof regs->x86_64;
  if (ptrace (PTRACE_GETREGSET, self->tid, (void *) NT_PRSTATUS, &iov) < 0)
    return set_ptrace_error (self, error, "PTRACE_GETREGSET");
#elif defined(__aarch64__)
  {
    int syscallno = -1;
    struct iovec nr_iov = { &syscallno, sizeof syscallno };

    regs->arch = PYMEMD_ARCH_AARCH64;
    iov.iov_base = &regs->aarch64;
    iov.iov_len = sizeof regs->aarch64;
    if (ptrace (PTRACE_GETREGSET, self->tid, (void *) NT_PRSTATUS, &iov) < 0 ||
        ptrace (PTRACE_GETREGSET, self->tid, (void *) NT_ARM_SYSTEM_CALL, &nr_iov) < 0)
      return set_ptrace_error (self, error, "PTRACE_GETREGSET");
    regs->aarch64_syscallno = syscallno;
  }
#else
  iov.iov_len = 0;
#endif
  /* A 32-bit (compat) thread has a shorter register set: not ours to call into. */
  if (iov.iov_len != (regs->arch == PYMEMD_ARCH_X86_64 ? sizeof regs->x86_64
                                                       : sizeof regs->aarch64))
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED,
                   _("Thread %d is not a 64-bit thread"), self->tid);
      return FALSE;
    }
  return TRUE;
}

static gboolean
set_regs (PymemdPtrace *self, const PymemdRegs *regs, GError **error)
{
  struct iovec iov;

#if defined(__x86_64__)
  iov.iov_base = (void *) &regs->x86_64;
  iov.iov_len = sizeof regs->x86_64;
  if (ptrace (PTRACE_SETREGSET, self->tid, (void *) NT_PRSTATUS, &iov) < 0)
    return set_ptrace_error (self, error, "PTRACE_SETREGSET");
#elif defined(__aarch64__)
  {
    int syscallno = (int) regs->aarch64_syscallno;
    struct iovec nr_iov = { &syscallno, sizeof syscallno };

    iov.iov_base = (void *) &regs->aarch64;
    iov.iov_len = sizeof regs->aarch64;
    if (ptrace (PTRACE_SETREGSET, self->tid, (void *) NT_PRSTATUS, &iov) < 0 ||
        ptrace (PTRACE_SETREGSET, self->tid, (void *) NT_ARM_SYSTEM_CALL, &nr_iov) < 0)
      return set_ptrace_error (self, error, "PTRACE_SETREGSET");
  }
#else
  (void) iov;
#endif
  return TRUE;
}

static void
clear_extended (PymemdPtrace *self)
{
  for (guint i = 0; i < G_N_ELEMENTS (self->extended); i++)
    {
      g_clear_pointer (&self->extended[i].data, g_free);
      self->extended[i].len = 0;
    }
}

static gboolean
get_extended (PymemdPtrace *self, guint slot, int type, gsize max)
{
  ExtendedState *state = &self->extended[slot];
  struct iovec iov;

  state->data = g_malloc0 (max);
  iov.iov_base = state->data;
  iov.iov_len = max;
  if (ptrace (PTRACE_GETREGSET, self->tid, (void *) (gintptr) type, &iov) < 0 || iov.iov_len == 0)
    {
      g_clear_pointer (&state->data, g_free);
      return FALSE;
    }
  state->type = type;
  state->len = iov.iov_len;
  return TRUE;
}

/* Everything a call may change besides the general registers: the x87,
 * SSE, AVX… state (XSAVE layout, or the legacy FXSAVE area on kernels
 * without it); aarch64's FP/SIMD registers and, where present, SVE. */
static gboolean
save_extended (PymemdPtrace *self, GError **error)
{
  gboolean ok = TRUE;

  clear_extended (self);
#if defined(__x86_64__)
  ok = get_extended (self, 0, NT_X86_XSTATE, MAX_EXTENDED_STATE) ||
       get_extended (self, 0, NT_PRFPREG, sizeof (struct user_fpregs_struct));
#elif defined(__aarch64__)
  ok = get_extended (self, 0, NT_PRFPREG, sizeof (struct user_fpsimd_state));
  get_extended (self, 1, NT_ARM_SVE, MAX_EXTENDED_STATE);
#endif
  if (!ok)
    return set_ptrace_error (self, error, "PTRACE_GETREGSET (floating point)");
  return TRUE;
}

static gboolean
restore_extended (PymemdPtrace *self, GError **error)
{
  for (guint i = 0; i < G_N_ELEMENTS (self->extended); i++)
    {
      ExtendedState *state = &self->extended[i];
      struct iovec iov = { state->data, state->len };

      if (state->data != NULL &&
          ptrace (PTRACE_SETREGSET, self->tid, (void *) (gintptr) state->type, &iov) < 0)
        return set_ptrace_error (self, error, "PTRACE_SETREGSET (floating point)");
    }
  return TRUE;
}

static gboolean
save_state (PymemdPtrace *self, GError **error)
{
  self->saved_valid = get_regs (self, &self->saved, error) && save_extended (self, error);
  return self->saved_valid;
}

PymemdPtrace *
pymemd_ptrace_seize (gint32 pid, gint32 tid, GError **error)
{
  g_autoptr(PymemdPtrace) self = NULL;

#if !PYMEMD_HAVE_PTRACE_CALLS
  g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED,
               _("Calls into other processes are not supported on this architecture"));
  return NULL;
#endif
  self = g_new0 (PymemdPtrace, 1);
  self->pid = pid;
  self->tid = tid;
  self->deferred = g_array_new (FALSE, TRUE, sizeof (siginfo_t));
  /* No options: no PTRACE_O_EXITKILL (the process must outlive a daemon
   * that dies), no event stops we would have to handle. */
  if (ptrace (PTRACE_SEIZE, tid, NULL, NULL) < 0)
    {
      if (errno == EPERM)
        {
          g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED,
                       _("Thread %d cannot be traced (is it traced already?): %s"), tid,
                       g_strerror (errno));
          return NULL;
        }
      set_ptrace_error (self, error, "PTRACE_SEIZE");
      return NULL;
    }
  self->attached = TRUE;
  if (!interrupt (self, error) || !save_state (self, error))
    return NULL; /* the autoptr releases it */
  return g_steal_pointer (&self);
}

gint32
pymemd_ptrace_get_tid (PymemdPtrace *self)
{
  return self->tid;
}

const PymemdRegs *
pymemd_ptrace_get_saved (PymemdPtrace *self)
{
  return &self->saved;
}

gboolean
pymemd_ptrace_let_run (PymemdPtrace *self, guint usec, GError **error)
{
  g_return_val_if_fail (self->stopped, FALSE);

  self->saved_valid = FALSE;
  if (!resume (self, PTRACE_CONT, 0, error))
    return FALSE;
  g_usleep (usec);
  return interrupt (self, error) && save_state (self, error);
}

gboolean
pymemd_ptrace_read (PymemdPtrace *self, guint64 address, void *buf, gsize len, GError **error)
{
  struct iovec local = { buf, len };
  struct iovec remote = { (void *) (guintptr) address, len };
  gssize n = process_vm_readv (self->pid, &local, 1, &remote, 1, 0);

  if (n == (gssize) len)
    return TRUE;
  g_set_error (error, PYMEMD_ERROR, n < 0 ? pymemd_error_from_errno (errno) : PYMEMD_ERROR_FAILED,
               _("Cannot read %zu bytes at %#llx of process %d: %s"), len,
               (unsigned long long) address, self->pid,
               n < 0 ? g_strerror (errno) : _("short read"));
  return FALSE;
}

gboolean
pymemd_ptrace_write (PymemdPtrace *self, guint64 address, const void *buf, gsize len,
                     GError **error)
{
  struct iovec local = { (void *) buf, len };
  struct iovec remote = { (void *) (guintptr) address, len };
  gssize n = process_vm_writev (self->pid, &local, 1, &remote, 1, 0);

  if (n == (gssize) len)
    return TRUE;
  g_set_error (error, PYMEMD_ERROR, n < 0 ? pymemd_error_from_errno (errno) : PYMEMD_ERROR_FAILED,
               _("Cannot write %zu bytes at %#llx of process %d: %s"), len,
               (unsigned long long) address, self->pid,
               n < 0 ? g_strerror (errno) : _("short write"));
  return FALSE;
}

/* A fault the thread itself caused (si_code > 0: from the kernel), as
 * opposed to the same signal sent by someone. */
static gboolean
is_fault (const siginfo_t *info)
{
  switch (info->si_signo)
    {
    case SIGSEGV:
    case SIGBUS:
    case SIGILL:
    case SIGFPE:
    case SIGTRAP:
    case SIGSYS:
      return info->si_code > 0;
    default:
      return FALSE;
    }
}

/* Runs the thread (a call with PTRACE_CONT, a system call with
 * PTRACE_SINGLESTEP) until its synchronous trap — SIGSEGV or SIGTRAP —
 * which is returned in INFO. Other signals are the thread's: delivered
 * during a call; held back during a single step, whose trap would
 * otherwise land in the handler, and delivered at release. */
static gboolean
run_until_trap (PymemdPtrace *self, gboolean single_step, siginfo_t *info, GError **error)
{
  gint64 start = g_get_monotonic_time ();
  int sig = 0;
  gboolean ok = FALSE;

  if (!single_step && self->deferred->len > 0)
    {
      /* A held-back signal goes in now, at the start of a call: its
       * handler runs before our function, on top of our frame. */
      siginfo_t first = g_array_index (self->deferred, siginfo_t, 0);

      if (self->at_signal && ptrace (PTRACE_SETSIGINFO, self->tid, NULL, &first) == 0)
        {
          sig = first.si_signo;
          g_array_remove_index (self->deferred, 0);
        }
    }

  for (guint n = 0; n < MAX_SIGNALS_PER_STOP; n++)
    {
      int status;

      if (!resume (self, single_step ? PTRACE_SINGLESTEP : PTRACE_CONT, sig, error))
        goto out;
      if (n == 0 && self->event_func != NULL)
        self->event_func (PYMEMD_PTRACE_RUNNING, self->event_data);
      if (!wait_stop (self, &status, error))
        goto out;
      sig = 0;
      if (status >> 16 == PTRACE_EVENT_STOP)
        {
          /* A group stop (SIGSTOP…) while our call runs: overridden, the
           * call goes on; a stray interrupt stop likewise. */
          mark_stopped (self, FALSE);
          if (WSTOPSIG (status) != SIGTRAP)
            self->signals_seen = TRUE;
          continue;
        }
      if (status >> 16 != 0)
        {
          mark_stopped (self, FALSE);
          g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED,
                       _("Unexpected ptrace stop %#x of thread %d"), status, self->tid);
          goto out;
        }
      mark_stopped (self, TRUE);
      if (!get_siginfo (self, info, error))
        goto out;
      if ((single_step && info->si_signo == SIGTRAP && info->si_code > 0) ||
          (!single_step && info->si_signo == SIGSEGV && info->si_code > 0))
        {
          ok = TRUE;
          goto out;
        }
      if (is_fault (info))
        {
          g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED,
                       _("Thread %d faulted (%s at %p) during an injected call"), self->tid,
                       g_strsignal (info->si_signo), info->si_addr);
          goto out;
        }
      self->signals_seen = TRUE;
      if (single_step)
        g_array_append_val (self->deferred, *info);
      else
        sig = info->si_signo;
    }
  g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED,
               _("Thread %d receives signals without end"), self->tid);
out:
  self->calls_us += g_get_monotonic_time () - start;
  return ok;
}

gboolean
pymemd_ptrace_call (PymemdPtrace  *self,
                    guint64        frame_top,
                    guint64        function,
                    const guint64 *args,
                    guint          n_args,
                    guint64       *result,
                    GError       **error)
{
  PymemdCallFrame frame;
  PymemdRegs regs;
  siginfo_t info;

  g_return_val_if_fail (self->stopped && !self->gone, FALSE);

  pymemd_call_frame_setup_call (&self->saved, frame_top, function, args, n_args, &frame);
  if ((frame.stack_write_len > 0 &&
       !pymemd_ptrace_write (self, frame.stack_write_address, frame.stack_write,
                             frame.stack_write_len, error)) ||
      !set_regs (self, &frame.regs, error) ||
      !run_until_trap (self, FALSE, &info, error) ||
      !get_regs (self, &regs, error))
    return FALSE;
  if (!pymemd_call_frame_call_returned (&regs, (guint64) (guintptr) info.si_addr, result))
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED,
                   _("Thread %d faulted at %p (pc %#llx) during an injected call"), self->tid,
                   info.si_addr, (unsigned long long) pymemd_call_frame_get_pc (&regs));
      return FALSE;
    }
  return TRUE;
}

gboolean
pymemd_ptrace_syscall (PymemdPtrace  *self,
                       guint64        insn_address,
                       gint64         nr,
                       const guint64 *args,
                       gint64        *result,
                       GError       **error)
{
  PymemdRegs regs;
  siginfo_t info;

  g_return_val_if_fail (self->stopped && !self->gone, FALSE);

  pymemd_call_frame_setup_syscall (&self->saved, insn_address, nr, args, &regs);
  if (!set_regs (self, &regs, error) || !run_until_trap (self, TRUE, &info, error) ||
      !get_regs (self, &regs, error))
    return FALSE;
  if (!pymemd_call_frame_syscall_done (&regs, insn_address, result))
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED,
                   _("The injected system call of thread %d stopped at %#llx"), self->tid,
                   (unsigned long long) pymemd_call_frame_get_pc (&regs));
      return FALSE;
    }
  return TRUE;
}

/* Signals held back and not yet delivered: queued again to the thread,
 * with their siginfo where the kernel allows it. */
static void
requeue_deferred (PymemdPtrace *self)
{
  for (guint i = 0; i < self->deferred->len; i++)
    {
      siginfo_t *info = &g_array_index (self->deferred, siginfo_t, i);

      if (syscall (SYS_rt_tgsigqueueinfo, self->pid, self->tid, info->si_signo, info) < 0)
        syscall (SYS_tgkill, self->pid, self->tid, info->si_signo);
    }
  g_array_set_size (self->deferred, 0);
}

gboolean
pymemd_ptrace_release (PymemdPtrace *self, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  PymemdRegs regs;
  int sig = 0;

  if (!self->attached)
    return TRUE;
  if (!self->stopped && !interrupt (self, &local_error) && self->gone)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  g_clear_error (&local_error);

  /* Nothing was changed before the state was saved. */
  if (self->saved_valid)
    {
      pymemd_call_frame_restore (&self->saved, self->signals_seen, &regs);
      if (restore_extended (self, &local_error))
        set_regs (self, &regs, &local_error);
    }
  if (self->deferred->len > 0 && self->at_signal)
    {
      siginfo_t first = g_array_index (self->deferred, siginfo_t, 0);

      if (ptrace (PTRACE_SETSIGINFO, self->tid, NULL, &first) == 0)
        {
          sig = first.si_signo;
          g_array_remove_index (self->deferred, 0);
        }
    }
  /* From a signal-delivery stop, detaching with 0 discards our SIGSEGV
   * (or single-step SIGTRAP); from an interrupt stop there is none. */
  mark_running (self);
  if (ptrace (PTRACE_DETACH, self->tid, NULL, (void *) (gintptr) sig) < 0 && local_error == NULL)
    set_ptrace_error (self, &local_error, "PTRACE_DETACH");
  self->attached = FALSE;
  self->held_us = g_get_monotonic_time () - self->interrupted_at;
  requeue_deferred (self);
  if (self->event_func != NULL)
    self->event_func (PYMEMD_PTRACE_RELEASED, self->event_data);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  return TRUE;
}

void
pymemd_ptrace_free (PymemdPtrace *self)
{
  g_autoptr(GError) error = NULL;

  if (self == NULL)
    return;
  if (!pymemd_ptrace_release (self, &error) && !self->gone)
    g_warning ("Giving thread %d back failed: %s", self->tid, error->message);
  clear_extended (self);
  g_array_unref (self->deferred);
  g_free (self);
}

gint64
pymemd_ptrace_get_stopped_us (PymemdPtrace *self)
{
  return self->stopped_us;
}

gint64
pymemd_ptrace_get_held_us (PymemdPtrace *self)
{
  return self->held_us;
}

gint64
pymemd_ptrace_get_calls_us (PymemdPtrace *self)
{
  return self->calls_us;
}

void
pymemd_ptrace_set_event_func (PymemdPtrace *self, PymemdPtraceEventFunc func, gpointer user_data)
{
  self->event_func = func;
  self->event_data = user_data;
}
