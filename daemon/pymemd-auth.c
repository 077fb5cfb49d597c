/* Resolves callers to a PymemdViewer: uid via the bus daemon, the inspect-all authorisation via polkit. */
#include "config.h"

#include <polkit/polkit.h>

#include <glib/gi18n.h>

#include "pymemd-auth.h"
#include "pymemd-error.h"

struct _PymemdAuth
{
  GObject          parent_instance;
  gboolean         use_polkit;
  PolkitAuthority *authority;
  gboolean         authority_failed;
};

G_DEFINE_TYPE (PymemdAuth, pymemd_auth, G_TYPE_OBJECT)

typedef struct {
  char        *sender;
  gboolean     want_all;
  const char  *action;     /* what polkit is asked */
  PymemdViewer viewer;     /* sees_all: polkit said yes to ACTION */
  /* An attach check: the process's owner and the configured policy. */
  gboolean           attach;
  guint32            owner;
  PymemdAttachPolicy policy;
} ViewerRequest;

static void
viewer_request_free (gpointer data)
{
  ViewerRequest *request = data;

  g_free (request->sender);
  g_free (request);
}

static void
pymemd_auth_finalize (GObject *object)
{
  PymemdAuth *self = PYMEMD_AUTH (object);

  g_clear_object (&self->authority);
  G_OBJECT_CLASS (pymemd_auth_parent_class)->finalize (object);
}

static void
pymemd_auth_class_init (PymemdAuthClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pymemd_auth_finalize;
}

static void
pymemd_auth_init (PymemdAuth *self)
{
}

PymemdAuth *
pymemd_auth_new (gboolean use_polkit)
{
  PymemdAuth *self = g_object_new (PYMEMD_TYPE_AUTH, NULL);

  self->use_polkit = use_polkit;
  return self;
}

static void
check_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  ViewerRequest *request = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(PolkitAuthorizationResult) answer =
    polkit_authority_check_authorization_finish (POLKIT_AUTHORITY (source), result, &error);

  if (answer == NULL)
    {
      /* Deny and keep serving; say so once, not on every call. */
      static gboolean warned = FALSE;
      if (!warned)
        g_warning ("polkit: %s (denying %s while it does not answer)", error->message,
                   request->action);
      else
        g_debug ("polkit: %s", error->message);
      warned = TRUE;
    }
  request->viewer.sees_all = answer != NULL && polkit_authorization_result_get_is_authorized (answer);
  g_task_return_boolean (task, TRUE);
}

static void
ask_polkit (PymemdAuth *self, GTask *task)
{
  ViewerRequest *request = g_task_get_task_data (task);
  g_autoptr(PolkitSubject) subject = polkit_system_bus_name_new (request->sender);

  polkit_authority_check_authorization (self->authority, subject, request->action,
                                        NULL, POLKIT_CHECK_AUTHORIZATION_FLAGS_NONE,
                                        g_task_get_cancellable (task), check_done, task);
}

static void
authority_ready (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  PymemdAuth *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;

  self->authority = polkit_authority_get_finish (result, &error);
  if (self->authority == NULL)
    {
      /* No polkit here: only root and owners see details. Said once. */
      g_warning ("polkit is not available (%s): only root sees other users' processes",
                 error->message);
      self->authority_failed = TRUE;
      g_task_return_boolean (task, TRUE);
      return;
    }
  ask_polkit (self, g_steal_pointer (&task));
}

static void
uid_ready (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  PymemdAuth *self = g_task_get_source_object (task);
  ViewerRequest *request = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result,
                                                             &error);

  if (reply == NULL)
    {
      g_task_return_new_error (task, PYMEMD_ERROR, PYMEMD_ERROR_ACCESS_DENIED,
                               _("Cannot tell who is calling: %s"), error->message);
      return;
    }
  g_variant_get (reply, "(u)", &request->viewer.uid);
  request->viewer.sees_all = request->viewer.uid == 0;
  if (request->attach)
    {
      /* "none" binds root too: the administrator switched attaching off. */
      request->viewer.sees_all = request->policy != PYMEMD_ATTACH_NONE &&
                                 (request->viewer.uid == 0 ||
                                  (request->policy == PYMEMD_ATTACH_OWN && request->viewer.uid == request->owner));
      request->want_all = request->policy != PYMEMD_ATTACH_NONE;
    }

  if (request->viewer.sees_all || !request->want_all || !self->use_polkit ||
      self->authority_failed)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (self->authority == NULL)
    {
      /* Not in one call: the order arguments are evaluated in is unspecified. */
      GCancellable *cancellable = g_task_get_cancellable (task);
      polkit_authority_get_async (cancellable, authority_ready, g_steal_pointer (&task));
    }
  else
    ask_polkit (self, g_steal_pointer (&task));
}

/* Starts REQUEST (taken) for SENDER: its uid from the bus, then uid_ready. */
static void
ask_uid (PymemdAuth         *self,
         GDBusConnection    *connection,
         const char         *sender,
         ViewerRequest      *request,
         GCancellable       *cancellable,
         GAsyncReadyCallback callback,
         gpointer            user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  request->sender = g_strdup (sender);
  g_task_set_task_data (task, request, viewer_request_free);
  g_dbus_connection_call (connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                          "org.freedesktop.DBus", "GetConnectionUnixUser",
                          g_variant_new ("(s)", sender), G_VARIANT_TYPE ("(u)"),
                          G_DBUS_CALL_FLAGS_NONE, 5000, cancellable, uid_ready, task);
}

void
pymemd_auth_get_viewer_async (PymemdAuth         *self,
                              GDBusConnection    *connection,
                              const char         *sender,
                              gboolean            want_all,
                              GCancellable       *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer            user_data)
{
  ViewerRequest *request = g_new0 (ViewerRequest, 1);

  request->want_all = want_all;
  request->action = PYMEMD_ACTION_INSPECT_ALL;
  ask_uid (self, connection, sender, request, cancellable, callback, user_data);
}

gboolean
pymemd_auth_get_viewer_finish (PymemdAuth   *self,
                               GAsyncResult *result,
                               PymemdViewer *viewer,
                               GError      **error)
{
  GTask *task = G_TASK (result);

  if (!g_task_propagate_boolean (task, error))
    return FALSE;
  *viewer = ((ViewerRequest *) g_task_get_task_data (task))->viewer;
  return TRUE;
}

void
pymemd_auth_may_attach_async (PymemdAuth         *self,
                              GDBusConnection    *connection,
                              const char         *sender,
                              guint32             owner,
                              PymemdAttachPolicy  policy,
                              GCancellable       *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer            user_data)
{
  ViewerRequest *request = g_new0 (ViewerRequest, 1);

  request->action = PYMEMD_ACTION_ATTACH;
  request->attach = TRUE;
  request->owner = owner;
  request->policy = policy;
  ask_uid (self, connection, sender, request, cancellable, callback, user_data);
}

gboolean
pymemd_auth_may_attach_finish (PymemdAuth   *self,
                               GAsyncResult *result,
                               guint32      *uid,
                               gboolean     *allowed,
                               GError      **error)
{
  GTask *task = G_TASK (result);
  ViewerRequest *request;

  if (!g_task_propagate_boolean (task, error))
    return FALSE;
  request = g_task_get_task_data (task);
  *uid = request->viewer.uid;
  *allowed = request->viewer.sees_all;
  return TRUE;
}
