/* Brings the helper's bootstrap into a running CPython: a thread parked in a blocking syscall, PEP 768 (3.14+) or a pending call, whichever runs soonest, and refuses with the reason when none is safe. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
  PYMEMD_ATTACH_METHOD_PEP768,        /* CPython >= 3.14 remote debugging */
  PYMEMD_ATTACH_METHOD_PARKED_THREAD, /* PyGILState_Ensure + PyRun_SimpleString in a parked thread */
  PYMEMD_ATTACH_METHOD_PENDING_CALL,  /* Py_AddPendingCall (PyRun_SimpleString, mmap'd buffer) */
} PymemdAttachMethod;

const char *pymemd_attach_method_name (PymemdAttachMethod method);

/* Runs BOOTSTRAP (Python source for PyRun_SimpleString) once in process PID
 * (checked against START_TIME, clock ticks after boot) of the procfs at
 * PROC_ROOT. SCRIPT_DIR is a directory of root's where a PEP 768 script
 * holding BOOTSTRAP may be made for CPython 3.14 and later (NULL: not
 * that way); the script is removed before this returns. Blocks: every
 * ptrace request of one attach must come from the calling thread, so call
 * it from a worker thread. On refusal, PYMEMD_ERROR_ATTACH_REFUSED with
 * the reason (stopped, traced, not initialised, finalizing, Python older
 * than 3.6, every thread in futex, unknown layout, remote debugging
 * disabled, …); PYMEMD_ERROR_GONE when the process went away;
 * PYMEMD_ERROR_NOT_PYTHON without an interpreter. A PEP 768 request may
 * be out for PYMEMD_INJECTOR_DEFAULT_WAIT seconds. */
gboolean pymemd_injector_inject (const char         *proc_root,
                                 gint32              pid,
                                 guint64             start_time,
                                 const char         *bootstrap,
                                 const char         *script_dir,
                                 PymemdAttachMethod *method,
                                 GError            **error);

/* The largest bootstrap accepted (INVALID_ARGS beyond): it travels on the
 * target thread's stack or in one injected page range. */
#define PYMEMD_INJECTOR_MAX_BOOTSTRAP (64 * 1024)
/* Seconds a PEP 768 request may wait to be taken, unless told otherwise. */
#define PYMEMD_INJECTOR_DEFAULT_WAIT 10.0

/* What one attach did, for logs and measurements. */
typedef struct {
  PymemdAttachMethod method;
  gint32             tid;        /* the thread used (for PEP 768, the one that took the request) */
  guint              python_version; /* major * 100 + minor, 0 if unknown */
  gint64             stopped_us; /* time that thread spent in our ptrace stops */
  gint64             calls_us;   /* time it spent running our calls */
  gint64             held_us;    /* from the interrupt whose state was put back to the
                                    detach: the time it ran none of its own code */
} PymemdInjectReport;

/* pymemd_injector_inject (), and what it did in REPORT (may be NULL). */
gboolean pymemd_injector_inject_with_report (const char         *proc_root,
                                             gint32              pid,
                                             guint64             start_time,
                                             const char         *bootstrap,
                                             const char         *script_dir,
                                             PymemdInjectReport *report,
                                             GError            **error);

/* Told each named stage of an attach as it is reached (see
 * docs/pymemd.8, TESTING ATTACHES): "seized", "before-CALL", "in-CALL",
 * "after-CALL" for each call or system call made in the thread,
 * "wrote-bootstrap", "released"; for PEP 768 "requested" (a request is
 * out), "taken" (the interpreter took it) and "withdrawn". The thread is
 * stopped at each ptrace stage, except at "in-CALL", where it runs our
 * call. */
typedef void (*PymemdInjectStageFunc) (const char *stage,
                                       gpointer    user_data);

/* pymemd_injector_inject_with_report () with a PEP 768 request out for
 * WAIT_SECONDS at most, telling STAGE (may be NULL) each stage, and
 * stopping once CANCELLABLE (may be NULL) is cancelled — but only where it
 * holds no thread: a thread it holds is first given back, a PEP 768
 * request withdrawn. Stopped, it fails with PYMEMD_ERROR_FAILED unless
 * the bootstrap was in already. */
gboolean pymemd_injector_inject_full (const char           *proc_root,
                                      gint32                pid,
                                      guint64               start_time,
                                      const char           *bootstrap,
                                      const char           *script_dir,
                                      double                wait_seconds,
                                      PymemdInjectStageFunc stage,
                                      gpointer              stage_data,
                                      GCancellable         *cancellable,
                                      PymemdInjectReport   *report,
                                      GError              **error);

G_END_DECLS
