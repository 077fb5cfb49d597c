/* Who is calling and what they may see: the caller's uid from the bus, org.pymemd.* actions from polkit, all asynchronous. */
#pragma once

#include <gio/gio.h>

#include "pymemd-config.h"
#include "pymemd-subscriptions.h"

G_BEGIN_DECLS

#define PYMEMD_ACTION_INSPECT_ALL "org.pymemd.inspect-all"
#define PYMEMD_ACTION_ATTACH      "org.pymemd.attach"

#define PYMEMD_TYPE_AUTH (pymemd_auth_get_type ())
G_DECLARE_FINAL_TYPE (PymemdAuth, pymemd_auth, PYMEMD, AUTH, GObject)

/* Without polkit (session mode) a caller sees its own uid's processes only,
 * which on a session bus is all of them. */
PymemdAuth *pymemd_auth_new (gboolean use_polkit);

/* Finds SENDER's uid and, when WANT_ALL and it is not root, asks polkit
 * (without interaction) whether it holds org.pymemd.inspect-all. Never
 * blocks the main loop. */
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

/* Whether SENDER may bring the helper into (and ask it for summaries of) a
 * process of OWNER under POLICY ([access] attach): root or the owner as
 * the policy says, else polkit's org.pymemd.attach, never interactively.
 * Never blocks the main loop. */
void     pymemd_auth_may_attach_async  (PymemdAuth         *self,
                                        GDBusConnection    *connection,
                                        const char         *sender,
                                        guint32             owner,
                                        PymemdAttachPolicy  policy,
                                        GCancellable       *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer            user_data);
gboolean pymemd_auth_may_attach_finish (PymemdAuth   *self,
                                        GAsyncResult *result,
                                        guint32      *uid,
                                        gboolean     *allowed,
                                        GError      **error);

G_END_DECLS
