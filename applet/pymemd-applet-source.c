/* What pymemd tells the applet, as a list model: GetProcesses once, then only its signals, across the daemon's restarts. */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "pymemd-applet-source.h"
#include "pymemd-names.h"

#define OBJECT_MANAGER "org.freedesktop.DBus.ObjectManager"
#define PROPERTIES     "org.freedesktop.DBus.Properties"

/* Changes wait this long to be applied together: one re-sort and one
 * redraw for all the MemoryChanged of a tick, however many processes. */
#define BATCH_MS 200
/* GetHistory calls in flight at once. */
#define HISTORY_CALLS 4
/* The sparkline's buckets, in seconds: raw samples (below 60 s) over
 * PYMEMD_APPLET_HISTORY_SPAN_US. */
#define HISTORY_RESOLUTION 10.0
/* An attach waits its turn, then runs under [limits] attach-timeout-seconds,
 * then the census its budget: the daemon bounds each; this only keeps a
 * lost reply from waiting forever. */
#define HEAP_TIMEOUT_MS (10 * 60 * 1000)

enum {
  SIGNAL_MEMORY_CHANGED,
  SIGNAL_GROWTH_SUSPECTED,
  SIGNAL_INTERFACES_ADDED,
  SIGNAL_INTERFACES_REMOVED,
  SIGNAL_PROPERTIES_CHANGED,
  N_BUS_SIGNALS,
};

struct _PymemdAppletSource {
  GObject parent_instance;

  GBusType         bus_type;
  char            *address;
  GDBusConnection *connection;
  GCancellable    *cancellable;       /* the connection, until finalize */
  guint            watch_id;

  /* Of the daemon now owning the name; all reset when it goes. */
  char            *owner;
  guint            generation;        /* tells replies to an earlier owner */
  GCancellable    *owner_cancellable;
  guint            bus_signals[N_BUS_SIGNALS];
  guint32          subscription;
  gboolean         loaded;            /* GetProcesses answered */

  GListStore      *store;
  GHashTable      *by_key;            /* key → PymemdAppletProcess (the store's) */
  GHashTable      *by_path;           /* object path → the same */
  guint64          total;

  GPtrArray       *pending_added;     /* not in the store yet */
  GHashTable      *pending_removed;   /* in the store, to go */
  GHashTable      *pending_changed;
  guint            flush_id;

  GQueue           history_queue;     /* PymemdAppletProcess refs */
  guint            history_in_flight;

  PymemdAppletState state;
  char             *message;
};

enum {
  PROP_0,
  PROP_STATE,
  N_PROPS,
};
static GParamSpec *props[N_PROPS];

enum {
  SIGNAL_GROWTH,
  SIGNAL_BATCH_APPLIED,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (PymemdAppletSource, pymemd_applet_source, G_TYPE_OBJECT)

const char *
pymemd_applet_state_to_string (PymemdAppletState state)
{
  static const char *const names[] = {
    [PYMEMD_APPLET_STATE_CONNECTING] = "connecting",
    [PYMEMD_APPLET_STATE_NO_BUS] = "no-bus",
    [PYMEMD_APPLET_STATE_NOT_RUNNING] = "not-running",
    [PYMEMD_APPLET_STATE_LOADING] = "loading",
    [PYMEMD_APPLET_STATE_RUNNING] = "running",
    [PYMEMD_APPLET_STATE_FAILED] = "failed",
  };

  return (guint) state < G_N_ELEMENTS (names) ? names[state] : "?";
}

static void
set_state (PymemdAppletSource *self, PymemdAppletState state, const char *message)
{
  if (self->state == state && g_strcmp0 (self->message, message) == 0)
    return;
  self->state = state;
  g_free (self->message);
  self->message = g_strdup (message);
  g_debug ("state %s%s%s", pymemd_applet_state_to_string (state), message != NULL ? ": " : "",
           message != NULL ? message : "");
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_STATE]);
}

/* ---- batches ---- */

static void
remove_from_store (PymemdAppletSource *self)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->store));
  g_autoptr(GPtrArray) kept = NULL;

  if (g_hash_table_size (self->pending_removed) < 64)
    {
      GHashTableIter iter;
      gpointer item;

      g_hash_table_iter_init (&iter, self->pending_removed);
      while (g_hash_table_iter_next (&iter, &item, NULL))
        {
          guint position;

          if (g_list_store_find (self->store, item, &position))
            g_list_store_remove (self->store, position);
        }
      return;
    }
  /* Many at once (a daemon restart, a mass exit): one pass. */
  kept = g_ptr_array_new_full (n, g_object_unref);
  for (guint i = 0; i < n; i++)
    {
      gpointer item = g_list_model_get_item (G_LIST_MODEL (self->store), i);

      if (g_hash_table_contains (self->pending_removed, item))
        g_object_unref (item);
      else
        g_ptr_array_add (kept, item);
    }
  g_list_store_splice (self->store, 0, n, kept->pdata, kept->len);
}

static void
update_total (PymemdAppletSource *self)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->store));

  self->total = 0;
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(PymemdAppletProcess) process = g_list_model_get_item (G_LIST_MODEL (self->store), i);
      guint64 pss;

      if (pymemd_applet_process_get_pss (process, &pss))
        self->total += pss;
    }
}

static gboolean
flush (gpointer data)
{
  PymemdAppletSource *self = data;
  guint added = self->pending_added->len;
  guint removed = g_hash_table_size (self->pending_removed);
  guint changed = 0;
  GHashTableIter iter;
  gpointer item;

  self->flush_id = 0;
  if (removed > 0)
    remove_from_store (self);
  if (added > 0)
    g_list_store_splice (self->store, g_list_model_get_n_items (G_LIST_MODEL (self->store)), 0,
                         self->pending_added->pdata, added);
  g_hash_table_iter_init (&iter, self->pending_changed);
  while (g_hash_table_iter_next (&iter, &item, NULL))
    if (g_hash_table_lookup (self->by_key, pymemd_applet_process_get_key (item)) == item)
      {
        pymemd_applet_process_emit_changed (item);
        changed++;
      }
  g_ptr_array_set_size (self->pending_added, 0);
  g_hash_table_remove_all (self->pending_removed);
  g_hash_table_remove_all (self->pending_changed);
  update_total (self);
  g_debug ("batch +%u -%u ~%u: %u processes", added, removed, changed,
           g_list_model_get_n_items (G_LIST_MODEL (self->store)));
  g_signal_emit (self, signals[SIGNAL_BATCH_APPLIED], 0, added, removed, changed);
  return G_SOURCE_REMOVE;
}

static void
schedule_flush (PymemdAppletSource *self)
{
  if (self->flush_id == 0)
    self->flush_id = g_timeout_add (BATCH_MS, flush, self);
}

static void
mark_changed (PymemdAppletSource *self, PymemdAppletProcess *process)
{
  g_hash_table_add (self->pending_changed, g_object_ref (process));
  schedule_flush (self);
}

static PymemdAppletProcess *
add_process (PymemdAppletSource *self, guint32 pid, guint64 start_time, const char *path)
{
  PymemdAppletProcess *process = pymemd_applet_process_new (pid, start_time, path);

  g_hash_table_insert (self->by_key, g_strdup (pymemd_applet_process_get_key (process)), process);
  g_hash_table_insert (self->by_path, g_strdup (path), process);
  g_ptr_array_add (self->pending_added, g_object_ref (process));
  schedule_flush (self);
  return process;
}

static void
remove_process (PymemdAppletSource *self, PymemdAppletProcess *process)
{
  g_autoptr(PymemdAppletProcess) hold = g_object_ref (process);

  if (!g_ptr_array_remove (self->pending_added, process))
    g_hash_table_add (self->pending_removed, g_object_ref (process));
  g_hash_table_remove (self->by_path, pymemd_applet_process_get_object_path (process));
  g_hash_table_remove (self->by_key, pymemd_applet_process_get_key (process));
  schedule_flush (self);
}

/* ---- the daemon's signals ---- */

static void
on_memory_changed (PymemdAppletSource *self, GVariant *parameters)
{
  guint32 subscription, pid;
  guint64 start_time;
  const char *path;
  g_autoptr(GVariant) sample = NULL;
  g_autofree char *key = NULL;
  PymemdAppletProcess *process;

  g_variant_get (parameters, "(u&out@a{st})", &subscription, &path, &pid, &start_time, &sample);
  if (!self->loaded || subscription != self->subscription)
    return; /* GetProcesses' answer, on its way, is newer */
  key = pymemd_applet_process_key (pid, start_time);
  process = g_hash_table_lookup (self->by_key, key);
  if (process == NULL)
    process = add_process (self, pid, start_time, path); /* its InterfacesAdded names it */
  pymemd_applet_process_update_from_sample (process, sample, g_get_real_time ());
  mark_changed (self, process);
}

static void
on_growth_suspected (PymemdAppletSource *self, GVariant *parameters)
{
  guint32 subscription, pid;
  guint64 start_time;
  const char *path;
  double rate, window;
  g_autofree char *key = NULL;
  PymemdAppletProcess *process;

  /* What grew (the last argument) the heap view shows in detail. */
  g_variant_get (parameters, "(u&outdd@aa{sv})", &subscription, &path, &pid, &start_time, &rate, &window, NULL);
  key = pymemd_applet_process_key (pid, start_time);
  process = g_hash_table_lookup (self->by_key, key);
  if (subscription != self->subscription || process == NULL)
    return;
  g_debug ("growth suspected: pid %u, %.0f bytes per hour over %.0f s", pid, rate, window);
  g_signal_emit (self, signals[SIGNAL_GROWTH], 0, process, rate, window);
}

/* The object path's "PID_STARTTIME", or FALSE for anything else. */
static gboolean
parse_process_path (const char *path, guint32 *pid, guint64 *start_time)
{
  const char *name = g_str_has_prefix (path, PYMEMD_MANAGER_PATH "/process/") ? path + strlen (PYMEMD_MANAGER_PATH "/process/") : NULL;
  g_auto(GStrv) parts = name != NULL ? g_strsplit (name, "_", 3) : NULL;
  guint64 value;

  if (parts == NULL || g_strv_length (parts) != 2 ||
      !g_ascii_string_to_unsigned (parts[0], 10, 1, G_MAXINT32, &value, NULL))
    return FALSE;
  *pid = (guint32) value;
  return g_ascii_string_to_unsigned (parts[1], 10, 0, G_MAXUINT64, start_time, NULL);
}

static void
on_interfaces_added (PymemdAppletSource *self, GVariant *parameters)
{
  const char *path;
  g_autoptr(GVariant) interfaces = NULL;
  g_autoptr(GVariant) properties = NULL;
  PymemdAppletProcess *process;
  guint32 pid;
  guint64 start_time;

  g_variant_get (parameters, "(&o@a{sa{sv}})", &path, &interfaces);
  properties = g_variant_lookup_value (interfaces, PYMEMD_PROCESS_INTERFACE, G_VARIANT_TYPE_VARDICT);
  if (!self->loaded || properties == NULL)
    return;
  process = g_hash_table_lookup (self->by_path, path);
  if (process == NULL)
    {
      if ((!g_variant_lookup (properties, "Pid", "u", &pid) ||
           !g_variant_lookup (properties, "StartTime", "t", &start_time)) &&
          !parse_process_path (path, &pid, &start_time))
        return;
      process = add_process (self, pid, start_time, path);
      /* Until a MemoryChanged says otherwise, what everyone may see. */
      pymemd_applet_process_set_restricted (process, TRUE);
    }
  pymemd_applet_process_update_from_properties (process, properties);
  mark_changed (self, process);
}

static void
on_interfaces_removed (PymemdAppletSource *self, GVariant *parameters)
{
  const char *path;
  g_autofree const char **interfaces = NULL;
  PymemdAppletProcess *process;

  g_variant_get (parameters, "(&o^a&s)", &path, &interfaces);
  process = g_hash_table_lookup (self->by_path, path);
  if (process != NULL && g_strv_contains (interfaces, PYMEMD_PROCESS_INTERFACE))
    remove_process (self, process);
}

static void
on_properties_changed (PymemdAppletSource *self, const char *path, GVariant *parameters)
{
  g_autoptr(GVariant) changed = NULL;
  PymemdAppletProcess *process = g_hash_table_lookup (self->by_path, path);

  if (process == NULL)
    return;
  g_variant_get (parameters, "(&s@a{sv}@as)", NULL, &changed, NULL);
  pymemd_applet_process_update_from_properties (process, changed);
  mark_changed (self, process);
}

static void
on_bus_signal (GDBusConnection *connection, const char *sender, const char *path, const char *interface,
               const char *member, GVariant *parameters, gpointer data)
{
  PymemdAppletSource *self = data;

  if (g_strcmp0 (sender, self->owner) != 0)
    return;
  if (g_str_equal (member, "MemoryChanged") && g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(uouta{st})")))
    on_memory_changed (self, parameters);
  else if (g_str_equal (member, "GrowthSuspected") &&
           g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(uoutddaa{sv})")))
    on_growth_suspected (self, parameters);
  else if (g_str_equal (member, "InterfacesAdded") &&
           g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(oa{sa{sv}})")))
    on_interfaces_added (self, parameters);
  else if (g_str_equal (member, "InterfacesRemoved") && g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(oas)")))
    on_interfaces_removed (self, parameters);
  else if (g_str_equal (member, "PropertiesChanged") &&
           g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(sa{sv}as)")))
    on_properties_changed (self, path, parameters);
}

static void
subscribe_bus_signals (PymemdAppletSource *self)
{
  static const struct {
    const char *interface, *member, *path, *arg0;
  } wanted[N_BUS_SIGNALS] = {
    [SIGNAL_MEMORY_CHANGED] = { PYMEMD_MANAGER_INTERFACE, "MemoryChanged", PYMEMD_MANAGER_PATH, NULL },
    [SIGNAL_GROWTH_SUSPECTED] = { PYMEMD_MANAGER_INTERFACE, "GrowthSuspected", PYMEMD_MANAGER_PATH, NULL },
    [SIGNAL_INTERFACES_ADDED] = { OBJECT_MANAGER, "InterfacesAdded", PYMEMD_MANAGER_PATH, NULL },
    [SIGNAL_INTERFACES_REMOVED] = { OBJECT_MANAGER, "InterfacesRemoved", PYMEMD_MANAGER_PATH, NULL },
    /* The processes' Rss, the figure restricted rows show; not the
     * manager's Totals, which change on every tick. */
    [SIGNAL_PROPERTIES_CHANGED] = { PROPERTIES, "PropertiesChanged", NULL, PYMEMD_PROCESS_INTERFACE },
  };

  for (guint i = 0; i < N_BUS_SIGNALS; i++)
    self->bus_signals[i] = g_dbus_connection_signal_subscribe (self->connection, self->owner, wanted[i].interface,
                                                               wanted[i].member, wanted[i].path, wanted[i].arg0,
                                                               G_DBUS_SIGNAL_FLAGS_NONE, on_bus_signal, self, NULL);
}

/* ---- the daemon coming and going ---- */

static void
forget_daemon (PymemdAppletSource *self)
{
  GHashTableIter iter;
  gpointer item;

  self->generation++;
  g_cancellable_cancel (self->owner_cancellable);
  g_clear_object (&self->owner_cancellable);
  for (guint i = 0; i < N_BUS_SIGNALS; i++)
    if (self->bus_signals[i] != 0)
      {
        g_dbus_connection_signal_unsubscribe (self->connection, self->bus_signals[i]);
        self->bus_signals[i] = 0;
      }
  g_clear_pointer (&self->owner, g_free);
  self->subscription = 0;
  self->loaded = FALSE;
  g_queue_clear_full (&self->history_queue, g_object_unref);
  self->history_in_flight = 0;
  /* The rows go in one batch, at once. */
  g_ptr_array_set_size (self->pending_added, 0);
  g_hash_table_iter_init (&iter, self->by_key);
  while (g_hash_table_iter_next (&iter, NULL, &item))
    g_hash_table_add (self->pending_removed, g_object_ref (item));
  g_hash_table_remove_all (self->by_path);
  g_hash_table_remove_all (self->by_key);
  g_clear_handle_id (&self->flush_id, g_source_remove);
  flush (self);
}

typedef struct {
  PymemdAppletSource  *source;
  guint                generation;
  PymemdAppletProcess *process;
} Call;

static Call *
call_new (PymemdAppletSource *self, PymemdAppletProcess *process)
{
  Call *call = g_new0 (Call, 1);

  call->source = g_object_ref (self);
  call->generation = self->generation;
  call->process = process != NULL ? g_object_ref (process) : NULL;
  return call;
}

static void
call_free (Call *call)
{
  g_object_unref (call->source);
  g_clear_object (&call->process);
  g_free (call);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Call, call_free)

/* The reply of CALL's method, or NULL when it is stale (the daemon it was
 * asked of is gone) or failed (ERROR set). */
static GVariant *
call_finish (Call *call, GObject *connection, GAsyncResult *result, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  GVariant *reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (connection), result, &local_error);

  if (call->generation != call->source->generation)
    {
      g_clear_pointer (&reply, g_variant_unref);
      return NULL;
    }
  if (reply == NULL)
    {
      g_dbus_error_strip_remote_error (local_error);
      g_propagate_error (error, g_steal_pointer (&local_error));
    }
  return reply;
}

static void
call_daemon (PymemdAppletSource *self, const char *method, GVariant *parameters, const char *reply_type,
             int timeout_ms, GAsyncReadyCallback callback, Call *call)
{
  g_dbus_connection_call (self->connection, self->owner, PYMEMD_MANAGER_PATH, PYMEMD_MANAGER_INTERFACE, method, parameters,
                          G_VARIANT_TYPE (reply_type), G_DBUS_CALL_FLAGS_NO_AUTO_START, timeout_ms,
                          self->owner_cancellable, callback, call);
}

static void
got_processes (GObject *object, GAsyncResult *result, gpointer data)
{
  g_autoptr(Call) call = data;
  PymemdAppletSource *self = call->source;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = call_finish (call, object, result, &error);
  g_autoptr(GVariant) entries = NULL;
  GVariantIter iter;
  GVariant *entry;

  if (reply == NULL)
    {
      if (error != NULL)
        set_state (self, PYMEMD_APPLET_STATE_FAILED, error->message);
      return;
    }
  entries = g_variant_get_child_value (reply, 0);
  g_variant_iter_init (&iter, entries);
  while ((entry = g_variant_iter_next_value (&iter)) != NULL)
    {
      guint32 pid;
      guint64 start_time;
      const char *path;

      if (g_variant_lookup (entry, PYMEMD_KEY_PID, "u", &pid) && g_variant_lookup (entry, PYMEMD_KEY_START_TIME, "t", &start_time) &&
          g_variant_lookup (entry, "object_path", "&o", &path))
        {
          g_autofree char *key = pymemd_applet_process_key (pid, start_time);
          PymemdAppletProcess *process = g_hash_table_lookup (self->by_key, key);

          if (process == NULL)
            process = add_process (self, pid, start_time, path);
          pymemd_applet_process_update_from_entry (process, entry);
        }
      g_variant_unref (entry);
    }
  self->loaded = TRUE;
  g_clear_handle_id (&self->flush_id, g_source_remove);
  flush (self);
  set_state (self, PYMEMD_APPLET_STATE_RUNNING, NULL);
}

static void
subscribed (GObject *object, GAsyncResult *result, gpointer data)
{
  g_autoptr(Call) call = data;
  PymemdAppletSource *self = call->source;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = call_finish (call, object, result, &error);

  if (reply == NULL)
    {
      if (error != NULL)
        set_state (self, PYMEMD_APPLET_STATE_FAILED, error->message);
      return;
    }
  g_variant_get (reply, "(u)", &self->subscription);
  /* Asked once subscribed: a change after GetProcesses' answer is then signalled. */
  call_daemon (self, "GetProcesses", NULL, "(aa{sv})", -1, got_processes, call_new (self, NULL));
}

static void
on_name_appeared (GDBusConnection *connection, const char *name, const char *owner, gpointer data)
{
  PymemdAppletSource *self = data;

  forget_daemon (self);
  self->owner = g_strdup (owner);
  self->owner_cancellable = g_cancellable_new ();
  set_state (self, PYMEMD_APPLET_STATE_LOADING, NULL);
  subscribe_bus_signals (self);
  call_daemon (self, "Subscribe", g_variant_new_parsed ("(@a{sv} {},)"), "(u)", -1, subscribed,
               call_new (self, NULL));
}

static void
on_name_vanished (GDBusConnection *connection, const char *name, gpointer data)
{
  PymemdAppletSource *self = data;

  forget_daemon (self);
  if (connection == NULL || g_dbus_connection_is_closed (connection))
    set_state (self, PYMEMD_APPLET_STATE_NO_BUS, _("The connection to the bus was closed."));
  else
    set_state (self, PYMEMD_APPLET_STATE_NOT_RUNNING, NULL);
}

static void
got_connection (GObject *object, GAsyncResult *result, gpointer data)
{
  g_autoptr(PymemdAppletSource) self = data;
  g_autoptr(GError) error = NULL;
  GDBusConnection *connection = self->address != NULL ? g_dbus_connection_new_for_address_finish (result, &error)
                                                      : g_bus_get_finish (result, &error);

  if (connection == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        set_state (self, PYMEMD_APPLET_STATE_NO_BUS, error->message);
      return;
    }
  self->connection = connection;
  /* A bus that goes away is shown as such; the applet stays. */
  g_dbus_connection_set_exit_on_close (connection, FALSE);
  /* Started by the bus where it is activatable, as pymemctl does. */
  self->watch_id = g_bus_watch_name_on_connection (connection, PYMEMD_BUS_NAME, G_BUS_NAME_WATCHER_FLAGS_AUTO_START,
                                                   on_name_appeared, on_name_vanished, self, NULL);
}

void
pymemd_applet_source_start (PymemdAppletSource *self)
{
  g_return_if_fail (self->connection == NULL && self->watch_id == 0);

  set_state (self, PYMEMD_APPLET_STATE_CONNECTING, NULL);
  if (self->address != NULL)
    g_dbus_connection_new_for_address (self->address,
                                       G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                         G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                       NULL, self->cancellable, got_connection, g_object_ref (self));
  else
    g_bus_get (self->bus_type, self->cancellable, got_connection, g_object_ref (self));
}

/* ---- history and heap ---- */

static void pump_history (PymemdAppletSource *self);

static void
got_history (GObject *object, GAsyncResult *result, gpointer data)
{
  g_autoptr(Call) call = data;
  PymemdAppletSource *self = call->source;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = call_finish (call, object, result, &error);
  g_autoptr(GVariant) times = NULL;
  g_autoptr(GVariant) pss_avg = NULL;

  if (reply == NULL && error == NULL)
    return; /* stale */
  self->history_in_flight--;
  if (reply == NULL)
    {
      /* AccessDenied, NoSuchProcess...: what MemoryChanged brings is all there is. */
      g_debug ("no history for pid %u: %s", pymemd_applet_process_get_pid (call->process), error->message);
      pymemd_applet_process_set_history_state (call->process, PYMEMD_APPLET_HISTORY_FAILED);
    }
  else
    {
      times = g_variant_get_child_value (reply, 1);
      pss_avg = g_variant_get_child_value (reply, 4);
      pymemd_applet_process_set_history (call->process, times, pss_avg);
      mark_changed (self, call->process);
    }
  pump_history (self);
}

static void
pump_history (PymemdAppletSource *self)
{
  while (self->history_in_flight < HISTORY_CALLS && !g_queue_is_empty (&self->history_queue))
    {
      g_autoptr(PymemdAppletProcess) process = g_queue_pop_head (&self->history_queue);
      gint64 now = g_get_real_time ();

      if (!pymemd_applet_process_is_viewed (process) ||
          g_hash_table_lookup (self->by_key, pymemd_applet_process_get_key (process)) != process)
        {
          /* Scrolled past, or gone: asked again when it is shown. */
          pymemd_applet_process_set_history_state (process, PYMEMD_APPLET_HISTORY_NONE);
          continue;
        }
      self->history_in_flight++;
      call_daemon (self, "GetHistory",
                   g_variant_new ("(utxxd)", pymemd_applet_process_get_pid (process),
                                  pymemd_applet_process_get_start_time (process),
                                  now - PYMEMD_APPLET_HISTORY_SPAN_US, (gint64) 0, HISTORY_RESOLUTION),
                   "(a{sv}axauatatatatatatatatat)", -1, got_history, call_new (self, process));
    }
}

void
pymemd_applet_source_request_history (PymemdAppletSource *self, PymemdAppletProcess *process)
{
  if (!self->loaded || pymemd_applet_process_get_restricted (process) ||
      pymemd_applet_process_get_history_state (process) != PYMEMD_APPLET_HISTORY_NONE)
    return;
  pymemd_applet_process_set_history_state (process, PYMEMD_APPLET_HISTORY_LOADING);
  g_queue_push_tail (&self->history_queue, g_object_ref (process));
  pump_history (self);
}

static void
got_heap_summary (GObject *object, GAsyncResult *result, gpointer data)
{
  g_autoptr(GTask) task = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (object), result, &error);

  if (reply == NULL)
    {
      g_dbus_error_strip_remote_error (error);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_pointer (task, g_variant_get_child_value (reply, 0), (GDestroyNotify) g_variant_unref);
}

void
pymemd_applet_source_get_heap_summary (PymemdAppletSource *self, guint32 pid, guint64 start_time,
                                       GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  GVariantBuilder options;

  g_task_set_source_tag (task, pymemd_applet_source_get_heap_summary);
  if (self->owner == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, _("pymemd is not running."));
      return;
    }
  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&options, "{sv}", "attach", g_variant_new_boolean (TRUE));
  g_dbus_connection_call (self->connection, self->owner, PYMEMD_MANAGER_PATH, PYMEMD_MANAGER_INTERFACE, "GetHeapSummary",
                          g_variant_new ("(ut@a{sv})", pid, start_time, g_variant_builder_end (&options)),
                          G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NO_AUTO_START, HEAP_TIMEOUT_MS, cancellable,
                          got_heap_summary, g_steal_pointer (&task));
}

GVariant *
pymemd_applet_source_get_heap_summary_finish (PymemdAppletSource *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- the object ---- */

GListModel *
pymemd_applet_source_get_model (PymemdAppletSource *self)
{
  return G_LIST_MODEL (self->store);
}

PymemdAppletState
pymemd_applet_source_get_state (PymemdAppletSource *self)
{
  return self->state;
}

const char *
pymemd_applet_source_get_message (PymemdAppletSource *self)
{
  return self->message;
}

PymemdAppletProcess *
pymemd_applet_source_lookup (PymemdAppletSource *self, guint32 pid, guint64 start_time)
{
  g_autofree char *key = pymemd_applet_process_key (pid, start_time);

  return g_hash_table_lookup (self->by_key, key);
}

guint64
pymemd_applet_source_get_total (PymemdAppletSource *self)
{
  return self->total;
}

PymemdAppletSource *
pymemd_applet_source_new (GBusType bus_type, const char *address)
{
  PymemdAppletSource *self = g_object_new (PYMEMD_APPLET_TYPE_SOURCE, NULL);

  self->bus_type = bus_type;
  self->address = g_strdup (address);
  return self;
}

static void
pymemd_applet_source_dispose (GObject *object)
{
  PymemdAppletSource *self = PYMEMD_APPLET_SOURCE (object);

  g_cancellable_cancel (self->cancellable);
  if (self->watch_id != 0)
    {
      g_bus_unwatch_name (self->watch_id);
      self->watch_id = 0;
    }
  if (self->connection != NULL)
    forget_daemon (self);
  g_clear_handle_id (&self->flush_id, g_source_remove);
  g_clear_object (&self->connection);
  G_OBJECT_CLASS (pymemd_applet_source_parent_class)->dispose (object);
}

static void
pymemd_applet_source_finalize (GObject *object)
{
  PymemdAppletSource *self = PYMEMD_APPLET_SOURCE (object);

  g_queue_clear_full (&self->history_queue, g_object_unref);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->store);
  g_hash_table_unref (self->by_key);
  g_hash_table_unref (self->by_path);
  g_ptr_array_unref (self->pending_added);
  g_hash_table_unref (self->pending_removed);
  g_hash_table_unref (self->pending_changed);
  g_free (self->address);
  g_free (self->message);
  G_OBJECT_CLASS (pymemd_applet_source_parent_class)->finalize (object);
}

static void
pymemd_applet_source_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PymemdAppletSource *self = PYMEMD_APPLET_SOURCE (object);

  switch (prop_id)
    {
    case PROP_STATE:
      g_value_set_int (value, self->state);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pymemd_applet_source_class_init (PymemdAppletSourceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pymemd_applet_source_dispose;
  object_class->finalize = pymemd_applet_source_finalize;
  object_class->get_property = pymemd_applet_source_get_property;

  props[PROP_STATE] = g_param_spec_int ("state", NULL, NULL, PYMEMD_APPLET_STATE_CONNECTING,
                                        PYMEMD_APPLET_STATE_FAILED, PYMEMD_APPLET_STATE_CONNECTING,
                                        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, props);

  /* (process, bytes per hour, window in seconds) */
  signals[SIGNAL_GROWTH] = g_signal_new ("growth-suspected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                         NULL, NULL, G_TYPE_NONE, 3, PYMEMD_APPLET_TYPE_PROCESS, G_TYPE_DOUBLE,
                                         G_TYPE_DOUBLE);
  /* (added, removed, changed) */
  signals[SIGNAL_BATCH_APPLIED] = g_signal_new ("batch-applied", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                                NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_UINT, G_TYPE_UINT,
                                                G_TYPE_UINT);
}

static void
pymemd_applet_source_init (PymemdAppletSource *self)
{
  self->cancellable = g_cancellable_new ();
  self->store = g_list_store_new (PYMEMD_APPLET_TYPE_PROCESS);
  self->by_key = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->by_path = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->pending_added = g_ptr_array_new_with_free_func (g_object_unref);
  self->pending_removed = g_hash_table_new_full (NULL, NULL, g_object_unref, NULL);
  self->pending_changed = g_hash_table_new_full (NULL, NULL, g_object_unref, NULL);
  g_queue_init (&self->history_queue);
}
