/* The D-Bus service's wiring: exports the manager and one org.pymemd.Process1 object per interpreter, decides at the gate who may make which call, publishes properties and signals after each scan, follows the recorder; no accounting here. */
#include "config.h"

#include <math.h>

#include <glib/gi18n.h>

#include "pymemd-dbus.h"
#include "pymemd-dbus-generated.h"
#include "pymemd-error.h"
#include "pymemd-heap-broker.h"
#include "pymemd-heap-growth.h"
#include "pymemd-heap-watch.h"
#include "pymemd-log.h"
#include "pymemd-manager.h"
#include "pymemd-method-access.h"
#include "pymemd-process-object.h"
#include "pymemd-rate-limit.h"
#include "pymemd-recorder.h"
#include "pymemd-view.h"
#include "pymemd-subscriptions.h"
#include "pymemd-names.h"

struct _PymemdDbusService
{
  GObject                   parent_instance;
  GDBusConnection          *connection;
  PymemdMonitor            *monitor;
  PymemdAuth               *auth;
  PymemdRecorder           *recorder;
  PymemdHeapBroker         *broker;     /* NULL: no helper socket */
  PymemdConfig             *config;
  PymemdDbusMonitor1       *manager;    /* a PymemdManager */
  PymemdMethodGate          gate;       /* what each method needs: pymemd_method_access_table */
  GDBusObjectManagerServer *object_manager;
  GHashTable               *exported;   /* object path -> PymemdDbusObjectSkeleton */
  PymemdRateLimit          *rescan_limit; /* Rescan calls per uid a minute */
  gulong                    scanned_id;
  gulong                    changed_id;
  gulong                    recorder_ids[2];
  gint64                    totals_published_at;     /* monotonic µs Totals last changed */
  gint64                    python_set_published_at; /* likewise PythonSet */
  gint64                    history_size_published_at; /* and HistorySize */
  guint64                   published_members; /* interpreter_set_hash () when they were */
};

G_DEFINE_TYPE (PymemdDbusService, pymemd_dbus_service, G_TYPE_OBJECT)

static const PymemdProcVisibility *
proc_visibility (PymemdDbusService *self)
{
  return pymemd_procfs_get_visibility (pymemd_scanner_get_procfs (pymemd_monitor_get_scanner (self->monitor)));
}

/* The manager's: Subscribe made them, the signals below go to them. */
static PymemdSubscriptions *
subscriptions_of (PymemdDbusService *self)
{
  return pymemd_manager_get_subscriptions (PYMEMD_MANAGER (self->manager));
}

/* Which interpreters PROCESSES holds, as one number that changes when one
 * comes or goes (order does not matter). */
static guint64
interpreter_set_hash (GPtrArray *processes)
{
  guint64 hash = processes->len;

  for (guint i = 0; i < processes->len; i++)
    {
      PymemdProcess *process = g_ptr_array_index (processes, i);

      hash += ((guint64) pymemd_process_get_pid (process) << 32 ^ pymemd_process_get_start_time (process)) *
              G_GUINT64_CONSTANT (0x9e3779b97f4a7c15);
    }
  return hash;
}

/* Whether a figure of the manager last set at PUBLISHED_AT (monotonic µs)
 * is due for a change however small: once a detail interval. */
static gboolean
published_long_ago (PymemdDbusService *self, gint64 published_at)
{
  double detail_interval = pymemd_config_get_detail_interval (self->config);

  return g_get_monotonic_time () - published_at >= (gint64) (detail_interval * G_USEC_PER_SEC);
}

/* Whether a figure went from OLD to NOW by enough to be worth a
 * PropertiesChanged, which wakes every client watching the manager: by
 * [signals] min-change-bytes (at least a byte), or at all once STALE. */
static gboolean
figure_moved (PymemdDbusService *self, guint64 old, guint64 now, gboolean stale)
{
  guint64 threshold = pymemd_config_get_min_change_bytes (self->config);

  return (now > old ? now - old : old - now) >= MAX (threshold, 1) || (now != old && stale);
}

/* figure_moved () for an a{st} of figures: also when one came or went. */
static gboolean
figures_moved (PymemdDbusService *self, GVariant *published, GVariant *now, gboolean stale)
{
  GVariantIter iter;
  const char *key;
  guint64 value, old;

  if (published == NULL || g_variant_n_children (published) != g_variant_n_children (now))
    return TRUE;
  g_variant_iter_init (&iter, now);
  while (g_variant_iter_next (&iter, "{&st}", &key, &value))
    if (!g_variant_lookup (published, key, "t", &old) || figure_moved (self, old, value, stale))
      return TRUE;
  return FALSE;
}

#define SECOND_US G_GINT64_CONSTANT (1000000)

/* One GrowthSuspected, with what grew, to the subscriptions that want it. */
typedef struct {
  PymemdDbusService *self;
  gint32             pid;
  guint64            start_time;
  GVariant          *grew; /* aa{sv} */
} Growth;

static void
growth_free (Growth *growth)
{
  g_object_unref (growth->self);
  g_clear_pointer (&growth->grew, g_variant_unref);
  g_free (growth);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Growth, growth_free)

static void
emit_growth (const char *sender, guint id, PymemdProcess *process, gpointer data)
{
  Growth *growth = data;
  PymemdDbusService *self = growth->self;
  g_autofree char *path = pymemd_view_object_path (process);
  g_autoptr(GError) error = NULL;
  PymemdHistorySettings settings;
  double rate = 0;

  pymemd_config_get_history (self->config, &settings);
  pymemd_recorder_lookup_growth (self->recorder, pymemd_process_get_pid (process),
                                 pymemd_process_get_start_time (process), &rate, NULL);
  if (!g_dbus_connection_emit_signal (self->connection, sender, PYMEMD_DBUS_PATH, PYMEMD_MANAGER_INTERFACE,
                                      "GrowthSuspected",
                                      g_variant_new ("(uoutdd@aa{sv})", id, path,
                                                     (guint32) pymemd_process_get_pid (process),
                                                     pymemd_process_get_start_time (process), rate,
                                                     (double) settings.growth_window_us / SECOND_US, growth->grew),
                                      &error))
    g_debug ("GrowthSuspected to %s: %s", sender, error->message);
}

static void
growth_found (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(Growth) growth = data;
  g_autoptr(GError) error = NULL;
  PymemdDbusService *self = growth->self;
  PymemdProcess *process;
  g_autofree char *names = NULL;

  growth->grew = pymemd_heap_watch_growth_finish (result, &error);
  if (growth->grew == NULL)
    {
      g_debug ("What grew in %d is not known: %s", growth->pid, error->message);
      growth->grew = g_variant_ref_sink (g_variant_new_array (G_VARIANT_TYPE_VARDICT, NULL, 0));
    }
  process = pymemd_monitor_find (self->monitor, (guint) growth->pid);
  if (process == NULL || pymemd_process_get_start_time (process) != growth->start_time)
    return;
  names = pymemd_heap_growth_to_text (growth->grew, NULL);
  if (*names != '\0')
    g_message ("Process %d (%s): what grew most: %s", growth->pid, pymemd_view_exe_name (process), names);
  pymemd_subscriptions_foreach_wanting (subscriptions_of (self), process, emit_growth, growth);
}

static void
on_growth_suspected (PymemdRecorder *recorder, gint pid, guint64 start_time, double rate, PymemdDbusService *self)
{
  PymemdProcess *process = pymemd_monitor_find (self->monitor, (guint) pid);
  PymemdScanner *scanner = pymemd_monitor_get_scanner (self->monitor);
  g_autofree char *size = NULL;
  PymemdHistorySettings settings;
  Growth *growth;

  if (process == NULL || pymemd_process_get_start_time (process) != start_time)
    return;
  size = g_format_size_full ((guint64) MAX (rate, 0), G_FORMAT_SIZE_IEC_UNITS);
  pymemd_log_event (G_LOG_LEVEL_MESSAGE, PYMEMD_MESSAGE_GROWTH_SUSPECTED, pid, NULL,
                    "Process %d (%s) grows by %s per hour", pid, pymemd_view_exe_name (process), size);
  /* What grew comes from the heap summaries history keeps over the window. */
  pymemd_config_get_history (self->config, &settings);
  growth = g_new0 (Growth, 1);
  growth->self = g_object_ref (self);
  growth->pid = pid;
  growth->start_time = start_time;
  pymemd_heap_watch_growth_async (self->recorder, pymemd_scanner_get_boot_id (scanner), pid, start_time,
                                  g_get_real_time () - settings.growth_window_us, growth_found, growth);
}

static void
publish_history_size (PymemdDbusService *self, guint64 size)
{
  pymemd_dbus_monitor1_set_history_size (self->manager, size);
  self->history_size_published_at = g_get_monotonic_time ();
}

static void
on_recorder_state (PymemdRecorder *recorder, PymemdDbusService *self)
{
  const char *state = pymemd_recorder_state_to_string (pymemd_recorder_get_state (recorder));
  guint64 size = pymemd_recorder_get_bytes (recorder);
  gboolean state_changed = g_strcmp0 (pymemd_dbus_monitor1_get_history_state (self->manager), state) != 0;

  pymemd_dbus_monitor1_set_history_state (self->manager, state);
  pymemd_dbus_monitor1_set_history_path (self->manager, pymemd_recorder_get_path (recorder));
  /* The file grows on most ticks: like the Totals, not every time. */
  if (state_changed || figure_moved (self, pymemd_dbus_monitor1_get_history_size (self->manager), size,
                                     published_long_ago (self, self->history_size_published_at)))
    publish_history_size (self, size);
}

/* ---- the gate: what each method needs (pymemd-method-access.c), decided here before its handler runs ---- */

/* Whether VIEWER lacks the right to see some process it would see now
 * (ONLY, or else any): only then is polkit worth asking. */
static gboolean
needs_polkit (PymemdDbusService *self, const PymemdViewer *viewer, PymemdProcess *only)
{
  if (only != NULL)
    return !pymemd_viewer_may_see (viewer, only);
  return !pymemd_viewer_may_see_all (viewer, pymemd_monitor_get_processes (self->monitor));
}

/* The answer for a pid that is not watched, or that /proc hides from the
 * caller: the same, so that it does not tell one from the other. */
static GError *
no_such_process_error (guint pid)
{
  return g_error_new (PYMEMD_ERROR, PYMEMD_ERROR_NO_SUCH_PROCESS, _("No Python process with pid %u is watched"), pid);
}

/* One call's need being decided: who calls, and (for one about a process)
 * which. */
typedef struct {
  PymemdDbusService *self;
  PymemdMethodCall  *call;
  gboolean           asked_polkit;
  guint              pid;        /* SEE_TARGET, ATTACH: the process */
  guint64            start_time; /* ATTACH: the one asked about */
  PymemdCredentials  target;     /* ATTACH: who it ran as when asked */
} Decision;

static void
decision_free (Decision *decision)
{
  g_object_unref (decision->self);
  g_free (decision);
}

static void
decision_refuse (Decision *decision, GError *error)
{
  pymemd_method_call_refuse (decision->call, error);
  g_error_free (error);
  decision_free (decision);
}

static void viewer_known (GObject *source, GAsyncResult *result, gpointer data);

static void
resolve_viewer (Decision *decision)
{
  GDBusMethodInvocation *invocation = pymemd_method_call_get_invocation (decision->call);

  pymemd_auth_get_viewer_async (decision->self->auth, decision->self->connection,
                                g_dbus_method_invocation_get_sender (invocation), decision->asked_polkit, NULL,
                                viewer_known, decision);
}

/* Whether VIEWER sees TARGET (the process a call is about; NULL: gone)
 * in detail; if not, ERROR says why as /proc would: a process hidden
 * from the caller is one that is not there. */
static gboolean
sees_target (Decision *decision, const PymemdViewer *viewer, PymemdProcess *target, GError **error)
{
  PymemdView view = target != NULL ? pymemd_viewer_get_view (viewer, proc_visibility (decision->self), target)
                                   : PYMEMD_VIEW_HIDDEN;

  if (target == NULL) /* exited while we asked polkit */
    g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_NO_SUCH_PROCESS, _("Process %u has exited"), decision->pid);
  else if (view == PYMEMD_VIEW_HIDDEN) /* as if it were not there, as in /proc */
    g_propagate_error (error, no_such_process_error (decision->pid));
  else if (view == PYMEMD_VIEW_STATUS)
    g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ACCESS_DENIED,
                 _("Process %u is not the caller's as the kernel counts it "
                   "(another user's, set-user-ID, or not dumpable): seeing it in "
                   "detail needs root or the %s authorization"),
                 decision->pid, PYMEMD_ACTION_INSPECT_ALL);
  return view == PYMEMD_VIEW_DETAIL;
}

/* Each user has its own budget of calls such as Rescan: one calling in a
 * loop neither takes the others' nor makes full passes run back to back. */
static gboolean
within_budget (Decision *decision, const PymemdViewer *viewer, GError **error)
{
  PymemdRateLimit *limit = decision->self->rescan_limit;
  double retry = 0;

  if (pymemd_rate_limit_take (limit, viewer->uid, &retry))
    return TRUE;
  g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_LIMIT_EXCEEDED,
               _("A user may ask for %u rescans a minute; try again in %.0f s"),
               pymemd_rate_limit_get_per_window (limit), ceil (retry));
  return FALSE;
}

/* The caller is known (and, on a second round, what polkit says). */
static void
viewer_known (GObject *source, GAsyncResult *result, gpointer data)
{
  Decision *decision = data;
  PymemdDbusService *self = decision->self;
  PymemdNeed need = pymemd_method_call_get_need (decision->call);
  g_auto(PymemdViewer) viewer = { 0 };
  GError *error = NULL;
  PymemdProcess *target = NULL;
  gboolean polkit_would_show_more = FALSE;

  if (!pymemd_auth_get_viewer_finish (self->auth, result, &viewer, &error))
    {
      decision_refuse (decision, error);
      return;
    }
  if (need == PYMEMD_NEED_SEE_TARGET)
    {
      PymemdProcess *process = pymemd_monitor_find (self->monitor, decision->pid);

      /* Who it runs as now, not at the last scan: it may have turned
       * non-dumpable since. */
      if (process != NULL &&
          !pymemd_scanner_refresh_credentials (pymemd_monitor_get_scanner (self->monitor), process, NULL))
        process = NULL;
      target = process;
    }
  if (need == PYMEMD_NEED_VIEWER || need == PYMEMD_NEED_SEE_TARGET)
    polkit_would_show_more = needs_polkit (self, &viewer, target);
  if (!decision->asked_polkit && polkit_would_show_more)
    {
      decision->asked_polkit = TRUE;
      resolve_viewer (decision);
      return;
    }
  if ((need == PYMEMD_NEED_SEE_TARGET && !sees_target (decision, &viewer, target, &error)) ||
      (need == PYMEMD_NEED_BUDGET && !within_budget (decision, &viewer, &error)))
    {
      decision_refuse (decision, error);
      return;
    }
  pymemd_method_call_grant (decision->call, &viewer);
  decision_free (decision);
}

/* Why VIEWER, not allowed to look into the target, may not: as if it
 * were not there where /proc hides it, the policy otherwise. */
static GError *
attach_refusal (Decision *decision, const PymemdViewer *viewer, PymemdProcess *process)
{
  PymemdAttachPolicy policy = pymemd_config_get_attach (decision->self->config);

  if (process != NULL &&
      pymemd_viewer_get_view (viewer, proc_visibility (decision->self), process) == PYMEMD_VIEW_HIDDEN)
    return no_such_process_error (decision->pid);
  if (policy == PYMEMD_ATTACH_NONE)
    return g_error_new_literal (PYMEMD_ERROR, PYMEMD_ERROR_ACCESS_DENIED,
                                _("Heap summaries are switched off ([access] attach=none in pymemd.conf)"));
  return g_error_new (PYMEMD_ERROR, PYMEMD_ERROR_ACCESS_DENIED,
                      policy == PYMEMD_ATTACH_OWN
                        ? _("Process %u is not the caller's as the kernel counts it "
                            "(another user's, set-user-ID, or not dumpable): its heap "
                            "needs root or the %s authorization")
                        : _("Looking into process %u needs root or the %s authorization "
                            "([access] attach=admin)"),
                      decision->pid, PYMEMD_ACTION_ATTACH);
}

static void
attach_decided (GObject *source, GAsyncResult *result, gpointer data)
{
  Decision *decision = data;
  PymemdDbusService *self = decision->self;
  GError *error = NULL;
  g_auto(PymemdViewer) viewer = { 0 };
  PymemdAttachPolicy policy = pymemd_config_get_attach (self->config);
  PymemdProcess *process;
  gboolean allowed = FALSE;

  if (!pymemd_auth_may_attach_finish (self->auth, result, &viewer, &allowed, &error))
    {
      decision_refuse (decision, error);
      return;
    }
  process = pymemd_monitor_find (self->monitor, decision->pid);
  if (process != NULL && (pymemd_process_get_start_time (process) != decision->start_time ||
                          !pymemd_scanner_refresh_credentials (pymemd_monitor_get_scanner (self->monitor),
                                                               process, NULL)))
    process = NULL;
  if (!allowed)
    error = attach_refusal (decision, &viewer, process);
  else if (process == NULL)
    error = g_error_new (PYMEMD_ERROR, PYMEMD_ERROR_NO_SUCH_PROCESS, _("Process %u has exited"), decision->pid);
  /* Allowed as the owner of the process as it ran when asked: not if it
   * has changed since (turned non-dumpable, or another user's). */
  else if (pymemd_viewer_may_attach (&viewer, policy, &decision->target) == PYMEMD_ATTACH_GRANTED &&
           pymemd_viewer_may_attach (&viewer, policy, pymemd_process_get_credentials (process)) !=
             PYMEMD_ATTACH_GRANTED)
    error = g_error_new (PYMEMD_ERROR, PYMEMD_ERROR_ACCESS_DENIED,
                         _("Process %u changed who it runs as while it was asked for"), decision->pid);
  if (error != NULL)
    {
      decision_refuse (decision, error);
      return;
    }
  pymemd_method_call_grant (decision->call, &viewer);
  decision_free (decision);
}

/* PYMEMD_NEED_ATTACH: the process asked about, as it runs now (the
 * attach is decided on that), then pymemd_auth_may_attach_async (). */
static void
decide_attach (Decision *decision)
{
  PymemdDbusService *self = decision->self;
  GDBusMethodInvocation *invocation = pymemd_method_call_get_invocation (decision->call);
  PymemdProcess *process;
  guint64 start_time;

  g_variant_get (g_dbus_method_invocation_get_parameters (invocation), "(ut@a{sv})", &decision->pid, &start_time,
                 NULL);
  process = pymemd_monitor_find (self->monitor, decision->pid);
  /* Who it runs as now: the attach is decided on that. */
  if (process == NULL || (start_time != 0 && pymemd_process_get_start_time (process) != start_time) ||
      !pymemd_scanner_refresh_credentials (pymemd_monitor_get_scanner (self->monitor), process, NULL))
    {
      decision_refuse (decision, no_such_process_error (decision->pid));
      return;
    }
  /* Nothing to look into with: no need to ask anyone. */
  if (self->broker == NULL)
    {
      decision_refuse (decision, g_error_new_literal (PYMEMD_ERROR, PYMEMD_ERROR_FAILED,
                                                      _("This daemon has no helper socket")));
      return;
    }
  decision->start_time = pymemd_process_get_start_time (process);
  decision->target = *pymemd_process_get_credentials (process);
  pymemd_auth_may_attach_async (self->auth, self->connection, g_dbus_method_invocation_get_sender (invocation),
                                &decision->target, pymemd_config_get_attach (self->config), NULL, attach_decided,
                                decision);
}

/* The gate's authorize function: every method call but those that need
 * nothing comes here first; its handler runs only if this lets it. */
static void
authorize_method (PymemdMethodCall *call, gpointer data)
{
  PymemdDbusService *self = data;
  GDBusMethodInvocation *invocation = pymemd_method_call_get_invocation (call);
  GDBusInterfaceSkeleton *skeleton = pymemd_method_call_get_skeleton (call);
  PymemdNeed need = pymemd_method_call_get_need (call);
  GError *error = NULL;
  Decision *decision;

  if (!pymemd_manager_check_arguments (invocation, &error))
    {
      pymemd_method_call_refuse (call, error);
      g_error_free (error);
      return;
    }
  decision = g_new0 (Decision, 1);
  decision->self = g_object_ref (self);
  decision->call = call;
  switch (need)
    {
    case PYMEMD_NEED_ATTACH:
      decide_attach (decision);
      return;
    case PYMEMD_NEED_SEE_TARGET:
      if (PYMEMD_DBUS_IS_PROCESS1 (skeleton))
        decision->pid = pymemd_dbus_process1_get_pid (PYMEMD_DBUS_PROCESS1 (skeleton));
      else
        g_variant_get (g_dbus_method_invocation_get_parameters (invocation), "(u)", &decision->pid);
      if (pymemd_monitor_find (self->monitor, decision->pid) == NULL)
        {
          decision_refuse (decision, no_such_process_error (decision->pid));
          return;
        }
      break;
    case PYMEMD_NEED_VIEWER_ASKED:
      decision->asked_polkit = TRUE;
      break;
    case PYMEMD_NEED_NOTHING: /* never comes here */
    case PYMEMD_NEED_BUDGET:
    case PYMEMD_NEED_VIEWER:
    case PYMEMD_NEED_SEE_RECORD: /* the record, once read: decide_record () */
    default:
      break;
    }
  /* First the caller's uid alone; polkit only on a second round, when
   * the uid is not enough. */
  resolve_viewer (decision);
}

/* ---- after each scan ---- */

static void
emit_memory_changed (const char *sender, guint id, PymemdProcess *process, gpointer data)
{
  PymemdDbusService *self = data;
  g_autofree char *path = pymemd_view_object_path (process);
  g_autoptr(GError) error = NULL;

  if (!g_dbus_connection_emit_signal (self->connection, sender, PYMEMD_DBUS_PATH,
                                      PYMEMD_MANAGER_INTERFACE, "MemoryChanged",
                                      g_variant_new ("(uout@a{st})", id, path,
                                                     (guint32) pymemd_process_get_pid (process),
                                                     pymemd_process_get_start_time (process),
                                                     pymemd_view_counters_variant (pymemd_process_get_rollup (process))),
                                      &error))
    g_debug ("MemoryChanged to %s: %s", sender, error->message);
}

static void
export_process (PymemdDbusService *self, const char *path, PymemdProcess *process)
{
  g_autoptr(PymemdDbusObjectSkeleton) object = pymemd_dbus_object_skeleton_new (path);
  g_autoptr(PymemdProcessObject) iface =
    pymemd_process_object_new (process, pymemd_config_get_min_change_bytes (self->config), &self->gate,
                               pymemd_manager_answer_details, self->manager);

  pymemd_dbus_object_skeleton_set_process1 (object, PYMEMD_DBUS_PROCESS1 (iface));
  g_dbus_object_manager_server_export (self->object_manager, G_DBUS_OBJECT_SKELETON (object));
  g_hash_table_insert (self->exported, g_strdup (path), g_object_ref (object));
}

/* One object per process, announced to every client by the object
 * manager: none at all where /proc hides other users' processes, as a
 * signal to all cannot be shown to some. */
static void
sync_objects (PymemdDbusService *self, GPtrArray *processes)
{
  g_autoptr(GHashTable) current = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  gboolean hidden = proc_visibility (self)->hidepid != PYMEMD_HIDEPID_OFF;
  GHashTableIter iter;
  gpointer key;

  for (guint i = 0; i < processes->len && !hidden; i++)
    {
      PymemdProcess *process = g_ptr_array_index (processes, i);
      char *path = pymemd_view_object_path (process);
      PymemdDbusObject *object = g_hash_table_lookup (self->exported, path);

      if (object == NULL)
        export_process (self, path, process);
      else
        {
          g_autoptr(PymemdProcessObject) iface = PYMEMD_PROCESS_OBJECT (pymemd_dbus_object_get_process1 (object));

          pymemd_process_object_update (iface, process, pymemd_config_get_min_change_bytes (self->config));
        }
      g_hash_table_add (current, path);
    }
  g_hash_table_iter_init (&iter, self->exported);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!g_hash_table_contains (current, key))
      {
        g_dbus_object_manager_server_unexport (self->object_manager, key);
        g_hash_table_iter_remove (&iter);
      }
}

static GVariant *
python_set_variant (const PymemdPythonSet *set)
{
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{st}"));
  if (set != NULL)
    {
      g_variant_builder_add (&builder, "{st}", "shared_only_python", set->shared_only_python);
      g_variant_builder_add (&builder, "{st}", "freed_if_all_exit", set->freed_if_all_exit);
      g_variant_builder_add (&builder, "{st}", "freed_if_all_exit_anonymous",
                             set->freed_if_all_exit_anonymous);
    }
  return g_variant_builder_end (&builder);
}

static void
update_manager (PymemdDbusService *self, GPtrArray *processes, const PymemdCounters *totals)
{
  guint64 members = interpreter_set_hash (processes);
  /* An interpreter that came or went is news at once, with its figures. */
  gboolean set_changed = members != self->published_members;
  g_autoptr(GVariant) totals_now = g_variant_ref_sink (pymemd_view_counters_variant (totals));
  g_autoptr(GVariant) python_set_now =
    g_variant_ref_sink (python_set_variant (pymemd_monitor_get_python_set (self->monitor)));

  pymemd_dbus_monitor1_set_process_count (self->manager, processes->len);
  if (set_changed || figures_moved (self, pymemd_dbus_monitor1_get_totals (self->manager), totals_now,
                                    published_long_ago (self, self->totals_published_at)))
    {
      pymemd_dbus_monitor1_set_totals (self->manager, totals_now);
      self->totals_published_at = g_get_monotonic_time ();
    }
  if (set_changed || figures_moved (self, pymemd_dbus_monitor1_get_python_set (self->manager), python_set_now,
                                    published_long_ago (self, self->python_set_published_at)))
    {
      pymemd_dbus_monitor1_set_python_set (self->manager, python_set_now);
      self->python_set_published_at = g_get_monotonic_time ();
    }
  self->published_members = members;
  pymemd_dbus_monitor1_set_exact_available (self->manager,
                                            pymemd_monitor_get_exact_error (self->monitor) == NULL);
}

/* The processes and their sum as they stand: the replies built for them
 * go, objects come and go, Monitor1's properties follow. */
static void
publish_processes (PymemdDbusService *self, GPtrArray *processes, const PymemdCounters *totals)
{
  pymemd_manager_forget_replies (PYMEMD_MANAGER (self->manager));
  sync_objects (self, processes);
  update_manager (self, processes, totals);
}

/* Process events brought or took interpreters between ticks: their
 * objects come and go now; the figures wait for the tick. */
static void
on_processes_changed (PymemdMonitor *monitor, PymemdDbusService *self)
{
  GPtrArray *processes = pymemd_monitor_get_processes (monitor);
  PymemdCounters totals;

  pymemd_process_sum_rollups (processes, &totals);
  publish_processes (self, processes, &totals);
}

static void
on_scanned (PymemdMonitor *monitor, gboolean full, PymemdDbusService *self)
{
  GPtrArray *processes = pymemd_monitor_get_processes (monitor);
  PymemdCounters totals;

  pymemd_process_sum_rollups (processes, &totals);
  publish_processes (self, processes, &totals);
  /* A small growth held back earlier is published once it is due, though
   * the file has not grown since. */
  if (pymemd_dbus_monitor1_get_history_size (self->manager) != pymemd_recorder_get_bytes (self->recorder) &&
      published_long_ago (self, self->history_size_published_at))
    publish_history_size (self, pymemd_recorder_get_bytes (self->recorder));
  pymemd_subscriptions_evaluate (subscriptions_of (self), processes, g_get_monotonic_time (),
                                 emit_memory_changed, self);
}

/* ---- lifecycle ---- */

static void
pymemd_dbus_service_finalize (GObject *object)
{
  PymemdDbusService *self = PYMEMD_DBUS_SERVICE (object);

  g_signal_handler_disconnect (self->monitor, self->scanned_id);
  g_signal_handler_disconnect (self->monitor, self->changed_id);
  for (guint i = 0; i < G_N_ELEMENTS (self->recorder_ids); i++)
    g_signal_handler_disconnect (self->recorder, self->recorder_ids[i]);
  g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (self->manager));
  g_clear_object (&self->config);
  g_hash_table_unref (self->exported);
  pymemd_rate_limit_free (self->rescan_limit);
  g_object_unref (self->object_manager);
  g_object_unref (self->manager);
  g_object_unref (self->auth);
  g_object_unref (self->recorder);
  g_clear_object (&self->broker);
  g_object_unref (self->monitor);
  g_object_unref (self->connection);
  G_OBJECT_CLASS (pymemd_dbus_service_parent_class)->finalize (object);
}

static void
pymemd_dbus_service_class_init (PymemdDbusServiceClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pymemd_dbus_service_finalize;
}

static void
pymemd_dbus_service_init (PymemdDbusService *self)
{
  self->exported = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
}

void
pymemd_dbus_service_set_config (PymemdDbusService *self, PymemdConfig *config)
{
  g_set_object (&self->config, config);

  pymemd_dbus_monitor1_set_interval (self->manager, pymemd_config_get_interval (config));
  pymemd_dbus_monitor1_set_detail_interval (self->manager, pymemd_config_get_detail_interval (config));
  pymemd_manager_set_config (PYMEMD_MANAGER (self->manager), config);
  pymemd_rate_limit_set (self->rescan_limit, pymemd_config_get_rescans_per_uid_per_minute (config),
                         60);
}

guint
pymemd_dbus_service_get_subscription_count (PymemdDbusService *self)
{
  return pymemd_subscriptions_count (subscriptions_of (self));
}

PymemdDbusService *
pymemd_dbus_service_new (GDBusConnection *connection,
                         PymemdMonitor   *monitor,
                         PymemdAuth      *auth,
                         PymemdRecorder  *recorder,
                         PymemdHeapBroker *broker,
                         PymemdConfig    *config,
                         GError         **error)
{
  g_autoptr(PymemdDbusService) self = g_object_new (PYMEMD_TYPE_DBUS_SERVICE, NULL);
  PymemdScanner *scanner = pymemd_monitor_get_scanner (monitor);

  self->connection = g_object_ref (connection);
  self->monitor = g_object_ref (monitor);
  self->auth = g_object_ref (auth);
  self->recorder = g_object_ref (recorder);
  self->broker = broker != NULL ? g_object_ref (broker) : NULL;
  self->rescan_limit = pymemd_rate_limit_new (
    pymemd_config_get_rescans_per_uid_per_minute (config), 60, NULL,
    NULL);
  self->gate = (PymemdMethodGate) { pymemd_method_access_table, pymemd_method_access_table_length,
                                    authorize_method, self };
  self->manager = PYMEMD_DBUS_MONITOR1 (pymemd_manager_new (&self->gate));
  pymemd_manager_set_sources (PYMEMD_MANAGER (self->manager), connection, monitor, auth, recorder, broker);
  pymemd_dbus_monitor1_set_version (self->manager, PACKAGE_VERSION);
  pymemd_dbus_monitor1_set_boot_id (self->manager, pymemd_scanner_get_boot_id (scanner));
  pymemd_dbus_monitor1_set_totals (self->manager, pymemd_view_counters_variant (&(PymemdCounters) { { 0 }, 0 }));
  pymemd_dbus_monitor1_set_python_set (self->manager, python_set_variant (NULL));
  pymemd_dbus_service_set_config (self, config);

  self->recorder_ids[0] = g_signal_connect (recorder, "state-changed", G_CALLBACK (on_recorder_state), self);
  self->recorder_ids[1] = g_signal_connect (recorder, "growth-suspected", G_CALLBACK (on_growth_suspected), self);
  on_recorder_state (recorder, self);

  self->object_manager = g_dbus_object_manager_server_new (PYMEMD_DBUS_PATH);
  g_dbus_object_manager_server_set_connection (self->object_manager, connection);
  if (!g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (self->manager), connection,
                                         PYMEMD_DBUS_PATH, error))
    return NULL;
  self->scanned_id = g_signal_connect (monitor, "scanned", G_CALLBACK (on_scanned), self);
  self->changed_id = g_signal_connect (monitor, "processes-changed", G_CALLBACK (on_processes_changed),
                                       self);
  on_scanned (monitor, TRUE, self);
  return g_steal_pointer (&self);
}
