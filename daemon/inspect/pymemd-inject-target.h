/* What the injector must know of a process before touching it, from procfs alone: identity, stop and trace state, the administrator's switch, threads, mappings and the interpreter's symbols. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The interpreter's entry points, as addresses in the target (0: absent). */
typedef struct {
  guint64 runtime;                 /* _PyRuntime (or the .PyRuntime section); 0 before 3.7 */
  guint64 is_initialized;          /* Py_IsInitialized */
  guint64 is_finalizing;           /* Py_IsFinalizing (3.13+) or _Py_IsFinalizing */
  guint64 gil_check;               /* PyGILState_Check */
  guint64 gil_ensure;              /* PyGILState_Ensure */
  guint64 gil_release;             /* PyGILState_Release */
  guint64 gil_this_thread_state;   /* PyGILState_GetThisThreadState */
  guint64 run_simple_string;       /* PyRun_SimpleString, a real one-argument function */
  guint64 run_simple_string_flags; /* PyRun_SimpleStringFlags */
  guint64 add_pending_call;        /* Py_AddPendingCall */
  guint64 finalizing_thread;       /* the variable _Py_Finalizing (3.6, which has no _Py_IsFinalizing) */
} PymemdPythonEntryPoints;

typedef enum {
  PYMEMD_THREAD_RUNNING,
  PYMEMD_THREAD_IN_SYSCALL,   /* sleeping in a system call (SYSCALL_NR) */
  PYMEMD_THREAD_OTHER,        /* sleeping elsewhere, stopped, dying, unreadable */
} PymemdThreadActivity;

typedef struct {
  gint32               tid;
  PymemdThreadActivity activity;
  gint64               syscall_nr;
  /* In restart_syscall resuming a poll, select, epoll wait or sleep (by
   * its wchan), as a thread is after an earlier attach interrupted its
   * timed poll: as parked as it was before. */
  gboolean             restarted_parked;
} PymemdThreadSnapshot;

typedef struct _PymemdInjectTarget PymemdInjectTarget;

/* Sets ERROR to PYMEMD_ERROR_ATTACH_REFUSED with the formatted reason. */
void pymemd_inject_set_refused (GError    **error,
                                const char *format,
                                ...) G_GNUC_PRINTF (2, 3);

/* Opens process PID of the procfs at PROC_ROOT and checks what refuses
 * every method: another start time (GONE), a stopped or traced process or
 * thread, PYTHON_DISABLE_REMOTE_DEBUG in its environment or
 * `-X disable-remote-debug` on its command line (ATTACH_REFUSED); then
 * finds the interpreter's ELF among its mappings (NOT_PYTHON without
 * one), resolves its entry points and refuses a Python older than 3.6
 * (ATTACH_REFUSED, the sentence naming the version). */
PymemdInjectTarget *pymemd_inject_target_open (const char *proc_root,
                                               gint32      pid,
                                               guint64     start_time,
                                               GError    **error);
void                pymemd_inject_target_free (PymemdInjectTarget *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PymemdInjectTarget, pymemd_inject_target_free)

gint32      pymemd_inject_target_get_pid (PymemdInjectTarget *self);
/* The main thread's id in the process's own pid namespace (NSpid). */
gint32      pymemd_inject_target_get_namespace_pid (PymemdInjectTarget *self);
/* Thread TID's id in the process's own pid namespace, 0 when it cannot be
 * read (the thread exited). */
gint32      pymemd_inject_target_namespace_tid (PymemdInjectTarget *self,
                                                gint32              tid);
/* major * 100 + minor, 0 when unknown. */
guint       pymemd_inject_target_get_python_version (PymemdInjectTarget *self);
const char *pymemd_inject_target_get_interpreter_path (PymemdInjectTarget *self);
const PymemdPythonEntryPoints *pymemd_inject_target_get_entry_points (PymemdInjectTarget *self);

/* FALSE with PYMEMD_ERROR_GONE once the process we opened has exited,
 * whatever now has its pid. */
gboolean    pymemd_inject_target_check_alive (PymemdInjectTarget *self,
                                              GError            **error);
/* Its threads now, the main thread first. */
GArray     *pymemd_inject_target_snapshot_threads (PymemdInjectTarget *self,
                                                   GError            **error);
/* Whether ADDRESS is in the text of the C library or the dynamic loader. */
gboolean    pymemd_inject_target_in_libc (PymemdInjectTarget *self,
                                          guint64             address);
/* Bytes of stack mapping below SP: the main thread's growable [stack]
 * counts as G_MAXUINT64, an address in no writable mapping as 0. */
guint64     pymemd_inject_target_stack_room (PymemdInjectTarget *self,
                                             guint64             sp);
/* The address of a syscall instruction in the C library's text, 0 without one. */
guint64     pymemd_inject_target_find_syscall_insn (PymemdInjectTarget *self,
                                                    GError            **error);
/* Whether the process's root sees the file PATH as the very file (device
 * and inode) that we see: FALSE with the reason otherwise. */
gboolean    pymemd_inject_target_sees_file (PymemdInjectTarget *self,
                                            const char         *path,
                                            GError            **error);

G_END_DECLS
