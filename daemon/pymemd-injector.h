/* Brings the helper's bootstrap into a running CPython: PEP 768, a thread parked in a blocking syscall, or a pending call, and refuses with the reason when none is safe. */
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
 * PROC_ROOT. SCRIPT_PATH is a root-owned file holding BOOTSTRAP, for PEP 768
 * (NULL: not that way). Blocks: every ptrace request of one attach must come
 * from the calling thread, so call it from a worker thread. On refusal,
 * PYMEMD_ERROR_ATTACH_REFUSED with the reason (stopped, traced, not
 * initialised, finalizing, every thread in futex, unknown layout, remote
 * debugging disabled, …); PYMEMD_ERROR_GONE when the process went away;
 * PYMEMD_ERROR_NOT_PYTHON without an interpreter. */
gboolean pymemd_injector_inject (const char         *proc_root,
                                 gint32              pid,
                                 guint64             start_time,
                                 const char         *bootstrap,
                                 const char         *script_path,
                                 PymemdAttachMethod *method,
                                 GError            **error);

/* The largest bootstrap accepted (INVALID_ARGS beyond): it travels on the
 * target thread's stack or in one injected page range. */
#define PYMEMD_INJECTOR_MAX_BOOTSTRAP (64 * 1024)

/* What one attach did, for logs and measurements. */
typedef struct {
  PymemdAttachMethod method;
  gint32             tid;        /* the thread used; 0 for PEP 768 */
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
                                             const char         *script_path,
                                             PymemdInjectReport *report,
                                             GError            **error);

/* Told each named stage of an attach as it is reached (see
 * docs/pymemd.8, TESTING ATTACHES): "seized", "before-CALL", "in-CALL",
 * "after-CALL" for each call or system call made in the thread,
 * "wrote-bootstrap", "released". The thread is stopped at each, except
 * at "in-CALL", where it runs our call. */
typedef void (*PymemdInjectStageFunc) (const char *stage,
                                       gpointer    user_data);

/* pymemd_injector_inject_with_report () telling STAGE (may be NULL) each
 * stage, and stopping once CANCELLABLE (may be NULL) is cancelled — but
 * only where it holds no thread: a thread it holds is first given back.
 * Stopped, it fails with PYMEMD_ERROR_FAILED unless the bootstrap was in
 * already. */
gboolean pymemd_injector_inject_full (const char           *proc_root,
                                      gint32                pid,
                                      guint64               start_time,
                                      const char           *bootstrap,
                                      const char           *script_path,
                                      PymemdInjectStageFunc stage,
                                      gpointer              stage_data,
                                      GCancellable         *cancellable,
                                      PymemdInjectReport   *report,
                                      GError              **error);

G_END_DECLS
