/* The daemon's end of one attach: a pymemd-attach child process that does the ptrace work and outlives the daemon, spawned, handed the request, its reply read and checked. */
#pragma once

#include <gio/gio.h>

#include "pymemd-injector.h"

G_BEGIN_DECLS

/* The attach program: $PYMEMD_ATTACH_BIN (the tests' build tree) or where
 * it was installed, as pymemd_attach_child_check_program () finds it. */
char    *pymemd_attach_child_find_program (GError **error);
/* PATH with every link resolved, if it is a regular executable file that,
 * with every directory above it, is owned by root or by us and writable by
 * nobody else; else NULL with PYMEMD_ERROR_FAILED. A root daemon runs it
 * with all its powers: no other user may be able to put another file there. */
char    *pymemd_attach_child_check_program (const char *path,
                                            GError    **error);

/* Whether attach children can keep the OOM killer away from themselves
 * (oom_score_adj -1000 needs CAP_SYS_RESOURCE, which they get from us). */
gboolean pymemd_attach_child_can_refuse_oom_killer (void);

/* Runs PROGRAM to put BOOTSTRAP into process PID (START_TIME) of the
 * procfs at PROC_ROOT (PEP 768 scripts in SCRIPT_DIR, may be NULL, a
 * request out for WAIT_SECONDS at most), as pymemd_injector_inject_full ()
 * would. Completes once the child
 * has answered and exited, however long that takes: the caller decides
 * how long it waits, the child never ends before it has given back any
 * thread it holds. Returns whether it was started (if not, the error
 * comes to CALLBACK). */
gboolean pymemd_attach_child_run_async  (const char         *program,
                                         const char         *proc_root,
                                         gint32              pid,
                                         guint64             start_time,
                                         const char         *bootstrap,
                                         const char         *script_dir,
                                         double              wait_seconds,
                                         GAsyncReadyCallback callback,
                                         gpointer            user_data);
/* TRUE with what the attach did; FALSE with its error, or with why the
 * child failed (it died or said nothing: FAILED; it talked nonsense:
 * PROTOCOL). */
gboolean pymemd_attach_child_run_finish (GAsyncResult       *result,
                                         PymemdInjectReport *report,
                                         GError            **error);

G_END_DECLS
