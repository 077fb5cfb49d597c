/* Resolves callers to a PymemdViewer (uid and groups via the bus daemon, authorisations via polkit) and decides, in one place, what a viewer sees of a process. */
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
  GPtrArray       *authority_waiters; /* GTasks waiting for the authority: one request serves them all */
  /* Callers' uid and groups as the bus told them, by unique name, so that
   * a client calling every tick (top, the applet) costs the bus one
   * GetConnectionCredentials, not one a call. The D-Bus specification
   * gives a unique name to one connection only, ever, and the bus reads a
   * connection's credentials once, when it connects: an answer stays true
   * for the name's life, and one kept after the name is gone is never
   * asked for. At most PYMEMD_AUTH_CALLERS_KEPT, the oldest dropped first
   * (a dropped caller's next call asks the bus again). */
  GHashTable      *callers;           /* unique name -> PymemdViewer (uid and groups) */
  GQueue           callers_order;     /* the names (the table's keys), oldest first */
  char            *callers_bus;       /* the guid of the bus they are on */
};

#define CALLER_GROUPS_KEPT 256

G_DEFINE_TYPE (PymemdAuth, pymemd_auth, G_TYPE_OBJECT)

typedef struct {
  char        *sender;
  gboolean     want_all;
  const char  *action;     /* what polkit is asked */
  PymemdViewer viewer;     /* sees_all: polkit said yes to ACTION */
  /* An attach check: who the process runs as and the configured policy. */
  gboolean           attach;
  PymemdCredentials  target;
  PymemdAttachPolicy policy;
} ViewerRequest;

static void
viewer_request_free (gpointer data)
{
  ViewerRequest *request = data;

  g_free (request->sender);
  pymemd_viewer_clear (&request->viewer);
  g_free (request);
}

/* ---- the rules ---- */

void
pymemd_viewer_copy (PymemdViewer *dest, const PymemdViewer *src)
{
  dest->uid = src->uid;
  dest->sees_all = src->sees_all;
  dest->groups = src->groups != NULL ? g_array_ref (src->groups) : NULL;
}

void
pymemd_viewer_clear (PymemdViewer *viewer)
{
  g_clear_pointer (&viewer->groups, g_array_unref);
}

static gboolean
in_groups (const PymemdViewer *viewer, guint32 gid)
{
  if (viewer->groups == NULL)
    return FALSE;
  for (guint i = 0; i < viewer->groups->len; i++)
    if (g_array_index (viewer->groups, guint32, i) == gid)
      return TRUE;
  return FALSE;
}

gboolean
pymemd_viewer_owner_of (const PymemdCredentials *credentials, guint32 *uid)
{
  const guint32 *u = credentials->uid, *g = credentials->gid;

  /* The filesystem ids are not compared: the kernel does not either. */
  if (u[0] != u[1] || u[0] != u[2] || g[0] != g[1] || g[0] != g[2] || !credentials->dumpable)
    return FALSE;
  *uid = u[0];
  return TRUE;
}

guint32
pymemd_viewer_recorded_owner (PymemdProcess *process)
{
  guint32 owner;

  return pymemd_viewer_owner_of (pymemd_process_get_credentials (process), &owner) ? owner : 0;
}

gboolean
pymemd_viewer_owns (const PymemdViewer *viewer, const PymemdCredentials *credentials)
{
  guint32 owner;

  /* The kernel wants the caller's gid itself; the bus tells its groups
   * without saying which is the primary one, so any of them will do. */
  return pymemd_viewer_owner_of (credentials, &owner) && owner == viewer->uid &&
         (viewer->groups == NULL || in_groups (viewer, credentials->gid[0]));
}

gboolean
pymemd_viewer_may_see (const PymemdViewer *viewer, PymemdProcess *process)
{
  return viewer->sees_all || viewer->uid == 0 ||
         pymemd_viewer_owns (viewer, pymemd_process_get_credentials (process));
}

gboolean
pymemd_viewer_may_see_all (const PymemdViewer *viewer, GPtrArray *processes)
{
  for (guint i = 0; i < processes->len; i++)
    if (!pymemd_viewer_may_see (viewer, g_ptr_array_index (processes, i)))
      return FALSE;
  return TRUE;
}

/* Whether /proc hides from VIEWER the processes it may not ptrace
 * (has_pid_permissions() in fs/proc/base.c). */
static gboolean
hides_others (const PymemdViewer *viewer, const PymemdProcVisibility *visibility)
{
  switch (visibility->hidepid)
    {
    case PYMEMD_HIDEPID_OFF:
      return FALSE;
    case PYMEMD_HIDEPID_NOACCESS:
    case PYMEMD_HIDEPID_INVISIBLE:
      return !(visibility->has_gid && in_groups (viewer, visibility->gid));
    case PYMEMD_HIDEPID_PTRACEABLE:
    default:
      return TRUE;
    }
}

PymemdView
pymemd_viewer_get_view (const PymemdViewer *viewer, const PymemdProcVisibility *visibility,
                        PymemdProcess *process)
{
  if (pymemd_viewer_may_see (viewer, process))
    return PYMEMD_VIEW_DETAIL;
  /* Under noaccess the pid is listed in /proc, but nothing in it can be
   * read, not even that it is a Python process: pymemd lists it no more
   * than under invisible. */
  return hides_others (viewer, visibility) ? PYMEMD_VIEW_HIDDEN : PYMEMD_VIEW_STATUS;
}

PymemdView
pymemd_viewer_get_view_of_owner (const PymemdViewer *viewer, const PymemdProcVisibility *visibility,
                                 guint32 owner)
{
  if (viewer->sees_all || viewer->uid == 0 || (owner != 0 && owner == viewer->uid))
    return PYMEMD_VIEW_DETAIL;
  return hides_others (viewer, visibility) ? PYMEMD_VIEW_HIDDEN : PYMEMD_VIEW_STATUS;
}

PymemdAttachRight
pymemd_viewer_may_attach (const PymemdViewer *viewer, PymemdAttachPolicy policy,
                          const PymemdCredentials *credentials)
{
  /* "none" binds root too: the administrator switched attaching off. */
  if (policy == PYMEMD_ATTACH_NONE)
    return PYMEMD_ATTACH_DENIED;
  if (viewer->uid == 0 || (policy == PYMEMD_ATTACH_OWN && pymemd_viewer_owns (viewer, credentials)))
    return PYMEMD_ATTACH_GRANTED;
  return PYMEMD_ATTACH_ASK_POLKIT;
}

/* ---- who is calling ---- */

static void
pymemd_auth_finalize (GObject *object)
{
  PymemdAuth *self = PYMEMD_AUTH (object);

  g_clear_object (&self->authority);
  g_queue_clear (&self->callers_order);
  g_hash_table_unref (self->callers);
  g_free (self->callers_bus);
  G_OBJECT_CLASS (pymemd_auth_parent_class)->finalize (object);
}

static void
pymemd_auth_class_init (PymemdAuthClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pymemd_auth_finalize;
}

static void
kept_viewer_free (gpointer data)
{
  pymemd_viewer_clear (data);
  g_free (data);
}

static void
pymemd_auth_init (PymemdAuth *self)
{
  self->callers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, kept_viewer_free);
}

/* The callers kept for CONNECTION's bus; none kept from another bus. */
static void
callers_for_bus (PymemdAuth *self, GDBusConnection *connection)
{
  const char *guid = g_dbus_connection_get_guid (connection);

  if (g_strcmp0 (guid, self->callers_bus) == 0)
    return;
  g_queue_clear (&self->callers_order);
  g_hash_table_remove_all (self->callers);
  g_free (self->callers_bus);
  self->callers_bus = g_strdup (guid);
}

static void
keep_caller (PymemdAuth *self, GDBusConnection *connection, const char *sender, const PymemdViewer *viewer)
{
  PymemdViewer *kept;
  char *name;

  /* Only unique names are a connection's for good; a caller in a great
   * many groups asks the bus every time, so that what is kept stays
   * within PYMEMD_AUTH_CALLERS_KEPT * CALLER_GROUPS_KEPT ids. */
  if (sender == NULL || sender[0] != ':' || (viewer->groups != NULL && viewer->groups->len > CALLER_GROUPS_KEPT))
    return;
  callers_for_bus (self, connection);
  if (g_hash_table_contains (self->callers, sender))
    return;
  if (g_hash_table_size (self->callers) >= PYMEMD_AUTH_CALLERS_KEPT)
    g_hash_table_remove (self->callers, g_queue_pop_head (&self->callers_order));
  /* sees_all is not kept: each call works it out again. */
  kept = g_new0 (PymemdViewer, 1);
  pymemd_viewer_copy (kept, viewer);
  kept->sees_all = FALSE;
  name = g_strdup (sender);
  g_hash_table_insert (self->callers, name, kept);
  g_queue_push_tail (&self->callers_order, name);
}

/* SENDER's uid and groups as the bus told them before, into VIEWER. */
static gboolean
known_caller (PymemdAuth *self, GDBusConnection *connection, const char *sender, PymemdViewer *viewer)
{
  const PymemdViewer *kept;

  if (sender == NULL)
    return FALSE;
  callers_for_bus (self, connection);
  kept = g_hash_table_lookup (self->callers, sender);
  if (kept == NULL)
    return FALSE;
  pymemd_viewer_copy (viewer, kept);
  return TRUE;
}

guint
pymemd_auth_count_callers (PymemdAuth *self)
{
  return g_hash_table_size (self->callers);
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

/* The authority, asked for once however many callers came before it was
 * there: each of them is then asked about, or told there is no polkit. */
static void
authority_ready (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(PymemdAuth) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) waiters = g_steal_pointer (&self->authority_waiters);

  self->authority = polkit_authority_get_finish (result, &error);
  if (self->authority == NULL)
    {
      /* No polkit here: only root and owners see details. Said once. */
      g_warning ("polkit is not available (%s): only root sees other users' processes",
                 error->message);
      self->authority_failed = TRUE;
    }
  for (guint i = 0; i < waiters->len; i++)
    {
      GTask *task = g_ptr_array_index (waiters, i);

      if (self->authority == NULL)
        g_task_return_boolean (task, TRUE);
      else
        ask_polkit (self, g_object_ref (task));
    }
}

/* The uid and groups of GetConnectionCredentials' REPLY. */
static gboolean
read_credentials (GVariant *reply, PymemdViewer *viewer)
{
  g_autoptr(GVariant) dict = g_variant_get_child_value (reply, 0);
  g_autoptr(GVariant) groups = g_variant_lookup_value (dict, "UnixGroupIDs", G_VARIANT_TYPE ("au"));

  if (!g_variant_lookup (dict, "UnixUserID", "u", &viewer->uid))
    return FALSE;
  if (groups != NULL)
    {
      gsize n;
      const guint32 *ids = g_variant_get_fixed_array (groups, &n, sizeof (guint32));

      viewer->groups = g_array_sized_new (FALSE, FALSE, sizeof (guint32), (guint) n);
      g_array_append_vals (viewer->groups, ids, (guint) n);
    }
  return TRUE;
}

static void credentials_known (PymemdAuth *self, GTask *task);

static void
credentials_ready (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  PymemdAuth *self = g_task_get_source_object (task);
  ViewerRequest *request = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result,
                                                             &error);

  if (reply == NULL || !read_credentials (reply, &request->viewer))
    {
      g_task_return_new_error (task, PYMEMD_ERROR, PYMEMD_ERROR_ACCESS_DENIED,
                               _("Cannot tell who is calling: %s"),
                               error != NULL ? error->message : _("the bus did not say"));
      return;
    }
  keep_caller (self, G_DBUS_CONNECTION (source), request->sender, &request->viewer);
  credentials_known (self, g_steal_pointer (&task));
}

/* TASK's caller's uid and groups are known: what polkit is to say, if
 * anything. */
static void
credentials_known (PymemdAuth *self, GTask *task_in)
{
  g_autoptr(GTask) task = task_in;
  ViewerRequest *request = g_task_get_task_data (task);

  request->viewer.sees_all = request->viewer.uid == 0;
  if (request->attach)
    {
      PymemdAttachRight right = pymemd_viewer_may_attach (&request->viewer, request->policy, &request->target);

      request->viewer.sees_all = right == PYMEMD_ATTACH_GRANTED;
      request->want_all = right == PYMEMD_ATTACH_ASK_POLKIT;
    }

  if (request->viewer.sees_all || !request->want_all || !self->use_polkit ||
      self->authority_failed)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (self->authority == NULL)
    {
      gboolean first = self->authority_waiters == NULL;

      if (first)
        self->authority_waiters = g_ptr_array_new_with_free_func (g_object_unref);
      g_ptr_array_add (self->authority_waiters, g_steal_pointer (&task));
      /* One request for every caller until it is answered (two would leave
       * one authority referenced forever), tied to none's cancellable: a
       * caller that gives up must not make polkit look absent. */
      if (first)
        polkit_authority_get_async (NULL, authority_ready, g_object_ref (self));
    }
  else
    ask_polkit (self, g_steal_pointer (&task));
}

/* Starts REQUEST (taken) for SENDER: its uid and groups from the bus, then
 * credentials_ready. */
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
  /* Answered from what the bus said before: the task returns no sooner
   * than the next main loop iteration (GTask sees to it). */
  if (known_caller (self, connection, sender, &request->viewer))
    {
      credentials_known (self, task);
      return;
    }
  g_dbus_connection_call (connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                          "org.freedesktop.DBus", "GetConnectionCredentials",
                          g_variant_new ("(s)", sender), G_VARIANT_TYPE ("(a{sv})"),
                          G_DBUS_CALL_FLAGS_NONE, 5000, cancellable, credentials_ready, task);
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
  pymemd_viewer_copy (viewer, &((ViewerRequest *) g_task_get_task_data (task))->viewer);
  return TRUE;
}

void
pymemd_auth_may_attach_async (PymemdAuth              *self,
                              GDBusConnection         *connection,
                              const char              *sender,
                              const PymemdCredentials *credentials,
                              PymemdAttachPolicy       policy,
                              GCancellable            *cancellable,
                              GAsyncReadyCallback      callback,
                              gpointer                 user_data)
{
  ViewerRequest *request = g_new0 (ViewerRequest, 1);

  request->action = PYMEMD_ACTION_ATTACH;
  request->attach = TRUE;
  request->target = *credentials;
  request->policy = policy;
  ask_uid (self, connection, sender, request, cancellable, callback, user_data);
}

gboolean
pymemd_auth_may_attach_finish (PymemdAuth   *self,
                               GAsyncResult *result,
                               PymemdViewer *viewer,
                               gboolean     *allowed,
                               GError      **error)
{
  GTask *task = G_TASK (result);
  ViewerRequest *request;

  if (!g_task_propagate_boolean (task, error))
    return FALSE;
  request = g_task_get_task_data (task);
  pymemd_viewer_copy (viewer, &request->viewer);
  *allowed = request->viewer.sees_all;
  return TRUE;
}
