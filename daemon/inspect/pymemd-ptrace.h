/* One thread of another process held with ptrace for the length of an attach: stopped, made to call functions or one system call, and given back exactly as it was. */
#pragma once

#include <glib.h>

#include "pymemd-call-frame.h"

G_BEGIN_DECLS

#if defined(__x86_64__)
#define PYMEMD_ARCH_HOST PYMEMD_ARCH_X86_64
#define PYMEMD_HAVE_PTRACE_CALLS 1
#elif defined(__aarch64__)
#define PYMEMD_ARCH_HOST PYMEMD_ARCH_AARCH64
#define PYMEMD_HAVE_PTRACE_CALLS 1
#else
#define PYMEMD_HAVE_PTRACE_CALLS 0
#endif

typedef struct _PymemdPtrace PymemdPtrace;

/* Seizes thread TID of process PID — without PTRACE_O_EXITKILL, so that
 * the process survives us — and stops it with PTRACE_INTERRUPT, passing on
 * any signal that arrives first; saves its registers and extended state.
 * Fails with PYMEMD_ERROR_GONE when the thread is gone and
 * PYMEMD_ERROR_ATTACH_REFUSED when it cannot be seized (already traced) or
 * is in a group stop. Every later call must come from the same thread. */
PymemdPtrace     *pymemd_ptrace_seize (gint32   pid,
                                       gint32   tid,
                                       GError **error);
gint32            pymemd_ptrace_get_tid (PymemdPtrace *self);
/* The registers it stopped with: what release () puts back. */
const PymemdRegs *pymemd_ptrace_get_saved (PymemdPtrace *self);

/* Lets the still unchanged thread run for USEC microseconds and stops it
 * again; the registers it now stopped with replace the saved ones. */
gboolean pymemd_ptrace_let_run (PymemdPtrace *self,
                                guint         usec,
                                GError      **error);

gboolean pymemd_ptrace_read  (PymemdPtrace *self,
                              guint64       address,
                              void         *buf,
                              gsize         len,
                              GError      **error);
gboolean pymemd_ptrace_write (PymemdPtrace *self,
                              guint64       address,
                              const void   *buf,
                              gsize         len,
                              GError      **error);

/* Calls FUNCTION (ARGS, N_ARGS ≤ 6) in the thread on its stack below
 * FRAME_TOP and waits for it to return to address 0; its return value in
 * RESULT. Signals that arrive meanwhile are delivered to the thread (its
 * handlers run inside our call, as they could inside any function); a
 * group stop is overridden for the length of the call. Fails — the thread
 * stopped, to be released — on any fault other than our return. There is
 * no time limit: a call blocked on a lock cannot be abandoned without
 * corrupting the lock's waiters (glibc condition variables, CPython's
 * parking lot), so it is waited for while the process lives. */
gboolean pymemd_ptrace_call (PymemdPtrace  *self,
                             guint64        frame_top,
                             guint64        function,
                             const guint64 *args,
                             guint          n_args,
                             guint64       *result,
                             GError       **error);
/* Runs system call NR (6 ARGS) by single-stepping the syscall instruction
 * at INSN_ADDRESS; the kernel's return value (-errno on failure) in RESULT. */
gboolean pymemd_ptrace_syscall (PymemdPtrace  *self,
                                guint64        insn_address,
                                gint64         nr,
                                const guint64 *args,
                                gint64        *result,
                                GError       **error);

/* Puts back the saved registers and extended state and detaches, the
 * pending SIGSEGV of our return discarded. Idempotent; FALSE with ERROR
 * when the thread could not be given back (it is then detached as it is). */
gboolean pymemd_ptrace_release (PymemdPtrace *self,
                                GError      **error);
/* Releases (logging a failure) and frees. */
void     pymemd_ptrace_free (PymemdPtrace *self);

/* Microseconds the thread spent in our ptrace stops (all of them, those
 * of let_run () included), running our calls, and held from the interrupt
 * whose state release () put back to the detach: the time it ran none of
 * its own code. */
gint64   pymemd_ptrace_get_stopped_us (PymemdPtrace *self);
gint64   pymemd_ptrace_get_calls_us (PymemdPtrace *self);
gint64   pymemd_ptrace_get_held_us (PymemdPtrace *self);

typedef enum {
  PYMEMD_PTRACE_RUNNING,  /* a call or system call is set going: the thread runs our code */
  PYMEMD_PTRACE_RELEASED, /* the thread is given back */
} PymemdPtraceEvent;

/* Called, when set, at each of those events: how the stages of an attach
 * are told (pymemd_injector_inject_full ()). */
typedef void (*PymemdPtraceEventFunc) (PymemdPtraceEvent event,
                                       gpointer          user_data);
void     pymemd_ptrace_set_event_func (PymemdPtrace         *self,
                                       PymemdPtraceEventFunc func,
                                       gpointer              user_data);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PymemdPtrace, pymemd_ptrace_free)

G_END_DECLS
