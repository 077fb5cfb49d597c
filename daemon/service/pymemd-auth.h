/* Who is calling and what they may see: the caller's uid and groups from the bus, org.pymemd.* actions from polkit (asynchronous), and the one set of rules on what a caller sees of which process. */
#pragma once

#include <gio/gio.h>

#include "pymemd-config.h"
#include "pymemd-names.h"
#include "pymemd-process.h"
#include "pymemd-procfs.h"

G_BEGIN_DECLS


/* ---- what a caller may see: the rules, no I/O ---- */

/* A caller: its uid, its groups (primary and supplementary, from the bus;
 * NULL when the bus does not tell them), and whether it sees every process
 * in detail (root, or polkit's yes to the action it was asked about). */
typedef struct {
  guint32  uid;
  gboolean sees_all;
  GArray  *groups; /* guint32 */
} PymemdViewer;

void pymemd_viewer_copy (PymemdViewer       *dest,
                         const PymemdViewer *src);
void pymemd_viewer_clear (PymemdViewer *viewer);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (PymemdViewer, pymemd_viewer_clear)

/* How much of a process a caller sees: what the kernel would let it see
 * of /proc/PID, never more. */
typedef enum {
  PYMEMD_VIEW_HIDDEN, /* /proc hides it from the caller (hidepid=): not even listed */
  PYMEMD_VIEW_STATUS, /* what /proc/PID/status and cmdline show every user */
  PYMEMD_VIEW_DETAIL, /* everything: the caller could ptrace it, or sees all */
} PymemdView;

/* The user who may inspect a process as its owner, as ptrace_may_access()
 * decides for callers without capabilities (kernel/ptrace.c): its real,
 * effective and saved uids agree, so do its gids, and it is dumpable.
 * FALSE when there is none (set-user-ID, changed groups, non-dumpable):
 * only root may. */
gboolean   pymemd_viewer_owner_of (const PymemdCredentials *credentials,
                                   guint32                 *uid);
/* The owner of PROCESS's history rows: pymemd_viewer_owner_of ()'s uid,
 * or 0 (root alone) when there is none. What decides who sees its history
 * once it has ended. */
guint32    pymemd_viewer_recorded_owner (PymemdProcess *process);
/* Whether VIEWER is that owner: its uid, and (when the bus told them) the
 * process's group among its own. */
gboolean   pymemd_viewer_owns (const PymemdViewer      *viewer,
                               const PymemdCredentials *credentials);
/* Whether VIEWER sees PROCESS in detail (whatever /proc hides). */
gboolean   pymemd_viewer_may_see (const PymemdViewer *viewer,
                                  PymemdProcess      *process);
/* Whether VIEWER sees each of PROCESSES in detail: when not, asking
 * polkit (org.pymemd.inspect-all) may show it more. */
gboolean   pymemd_viewer_may_see_all (const PymemdViewer *viewer,
                                      GPtrArray          *processes);
PymemdView pymemd_viewer_get_view (const PymemdViewer         *viewer,
                                   const PymemdProcVisibility *visibility,
                                   PymemdProcess              *process);
/* The same for a process known from its history: OWNER is what
 * pymemd_viewer_owner_of () said while it ran (0: none). */
PymemdView pymemd_viewer_get_view_of_owner (const PymemdViewer         *viewer,
                                            const PymemdProcVisibility *visibility,
                                            guint32                     owner);

typedef enum {
  PYMEMD_ATTACH_DENIED,
  PYMEMD_ATTACH_GRANTED,
  PYMEMD_ATTACH_ASK_POLKIT, /* org.pymemd.attach decides */
} PymemdAttachRight;

/* Whether VIEWER may bring the helper into (and ask it for summaries of) a
 * process running as CREDENTIALS under POLICY ([access] attach). */
PymemdAttachRight pymemd_viewer_may_attach (const PymemdViewer      *viewer,
                                            PymemdAttachPolicy       policy,
                                            const PymemdCredentials *credentials);

/* ---- who is calling ---- */

#define PYMEMD_TYPE_AUTH (pymemd_auth_get_type ())
G_DECLARE_FINAL_TYPE (PymemdAuth, pymemd_auth, PYMEMD, AUTH, GObject)

/* Without polkit (session mode) a caller sees its own uid's processes only,
 * which on a session bus is all of them. */
PymemdAuth *pymemd_auth_new (gboolean use_polkit);

/* How many callers' uid and groups are kept at most, and now. */
#define PYMEMD_AUTH_CALLERS_KEPT 512
guint       pymemd_auth_count_callers (PymemdAuth *self);

/* Finds SENDER's uid and groups and, when WANT_ALL and it is not root,
 * asks polkit (without interaction) whether it holds
 * org.pymemd.inspect-all. Never blocks the main loop. VIEWER is to be
 * cleared. A unique name's uid and groups are asked of the bus once and
 * kept (at most PYMEMD_AUTH_CALLERS_KEPT names); polkit is asked every
 * time. */
void     pymemd_auth_get_viewer_async (PymemdAuth         *self,
                                       GDBusConnection    *connection,
                                       const char         *sender,
                                       gboolean            want_all,
                                       GCancellable       *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer            user_data);
gboolean pymemd_auth_get_viewer_finish (PymemdAuth   *self,
                                        GAsyncResult *result,
                                        PymemdViewer *viewer,
                                        GError      **error);

/* Whether SENDER may attach to a process running as CREDENTIALS under
 * POLICY: pymemd_viewer_may_attach (), and polkit's org.pymemd.attach
 * (never interactively) when that says so. Never blocks the main loop.
 * VIEWER (to be cleared) is the caller, sees_all telling polkit's answer. */
void     pymemd_auth_may_attach_async  (PymemdAuth              *self,
                                        GDBusConnection         *connection,
                                        const char              *sender,
                                        const PymemdCredentials *credentials,
                                        PymemdAttachPolicy       policy,
                                        GCancellable            *cancellable,
                                        GAsyncReadyCallback      callback,
                                        gpointer                 user_data);
gboolean pymemd_auth_may_attach_finish (PymemdAuth   *self,
                                        GAsyncResult *result,
                                        PymemdViewer *viewer,
                                        gboolean     *allowed,
                                        GError      **error);

G_END_DECLS
