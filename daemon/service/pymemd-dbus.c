/* Translates between the bus and the monitor: builds replies and signals, checks who may see what; no accounting here. */
#include "config.h"

#include <math.h>
#include <string.h>

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
#include "pymemd-report.h"
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
  PymemdSubscriptions      *subscriptions;
  GHashTable               *name_watches; /* sender -> watch id */
  PymemdRateLimit          *rescan_limit; /* Rescan calls per uid a minute */
  gulong                    scanned_id;
  gulong                    changed_id;
  gulong                    recorder_ids[2];
  GVariant                  *full_reply;   /* GetProcesses as root sees it, this tick */
  GVariant                  *full_samples; /* GetSamples likewise */
  GVariant                  *full_breakdowns; /* GetBreakdowns likewise */
  GVariant                  *full_table;   /* GetTable likewise */
  char                      *instance;     /* this run, for the clients' identity caches */
  gint64                    totals_published_at;     /* monotonic µs Totals last changed */
  gint64                    python_set_published_at; /* likewise PythonSet */
  gint64                    history_size_published_at; /* and HistorySize */
  guint64                   published_members; /* interpreter_set_hash () when they were */
};

G_DEFINE_TYPE (PymemdDbusService, pymemd_dbus_service, G_TYPE_OBJECT)

/* A file name or path as a D-Bus string must be: valid UTF-8, each byte
 * that is not a U+FFFD. A file name is any bytes but '/' and NUL, so a
 * user's python copied to a name such as "\xff" would otherwise make the
 * reply fail (g_variant_new_string () refuses it). */
static GVariant *
file_name_variant (const char *name)
{
  g_autofree char *valid = NULL;

  if (g_utf8_validate (name, -1, NULL))
    return g_variant_new_string (name);
  valid = g_utf8_make_valid (name, -1);
  return g_variant_new_string (valid);
}

/* Seen in detail, the executable's name; otherwise the Name of status,
 * which need not be it (a program started through a symlink). */
static const char *
shown_name (PymemdProcess *process, gboolean restricted)
{
  return restricted ? pymemd_process_get_status_name (process) : pymemd_view_exe_name (process);
}

static const PymemdProcVisibility *
proc_visibility (PymemdDbusService *self)
{
  return pymemd_procfs_get_visibility (pymemd_scanner_get_procfs (pymemd_monitor_get_scanner (self->monitor)));
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

static void
add_summary (GVariantBuilder *builder, PymemdProcess *process, gboolean restricted)
{
  const PymemdCounters *rollup = pymemd_process_get_rollup (process);
  const PymemdExactFigures *exact = pymemd_process_get_exact (process);
  g_autofree char *path = pymemd_view_object_path (process);
  g_autofree char *version = pymemd_view_python_version (process);

  g_variant_builder_add (builder, "{sv}", PYMEMD_KEY_PID, g_variant_new_uint32 ((guint32) pymemd_process_get_pid (process)));
  g_variant_builder_add (builder, "{sv}", PYMEMD_KEY_START_TIME, g_variant_new_uint64 (pymemd_process_get_start_time (process)));
  g_variant_builder_add (builder, "{sv}", PYMEMD_KEY_UID, g_variant_new_uint32 (pymemd_process_get_uid (process)));
  g_variant_builder_add (builder, "{sv}", "name", file_name_variant (shown_name (process, restricted)));
  g_variant_builder_add (builder, "{sv}", "cmdline", g_variant_new_string (pymemd_process_get_cmdline (process)));
  g_variant_builder_add (builder, "{sv}", "python_version", g_variant_new_string (version));
  g_variant_builder_add (builder, "{sv}", "object_path", g_variant_new_object_path (path));
  g_variant_builder_add (builder, "{sv}", "sampled_at", g_variant_new_int64 (pymemd_process_get_sampled_at (process)));
  g_variant_builder_add (builder, "{sv}", "restricted", g_variant_new_boolean (restricted));
  /* What /proc/PID/status shows every user: VmRSS and VmSwap. */
  g_variant_builder_add (builder, "{sv}", PYMEMD_KEY_RSS, g_variant_new_uint64 (rollup->value[PYMEMD_FIELD_RSS]));
  g_variant_builder_add (builder, "{sv}", PYMEMD_KEY_SWAP, g_variant_new_uint64 (rollup->value[PYMEMD_FIELD_SWAP]));
  if (restricted)
    return;
  for (guint i = 0; i < PYMEMD_VIEW_N_FIELDS; i++)
    if (pymemd_view_fields[i] != PYMEMD_FIELD_RSS && pymemd_view_fields[i] != PYMEMD_FIELD_SWAP &&
        pymemd_counters_has (rollup, pymemd_view_fields[i]))
      g_variant_builder_add (builder, "{sv}", pymemd_field_name (pymemd_view_fields[i]),
                             g_variant_new_uint64 (rollup->value[pymemd_view_fields[i]]));
  g_variant_builder_add (builder, "{sv}", PYMEMD_KEY_USS, g_variant_new_uint64 (pymemd_counters_uss (rollup)));
  if (exact != NULL)
    {
      g_variant_builder_add (builder, "{sv}", "exact_uss", g_variant_new_uint64 (exact->uss));
      g_variant_builder_add (builder, "{sv}", "exact_pss", g_variant_new_uint64 (exact->pss));
    }
}

/* The latest growth figure of a process, if the recorder has one. */
static void
add_growth (GVariantBuilder *builder, PymemdRecorder *recorder, PymemdProcess *process)
{
  double rate = 0;

  if (recorder != NULL && pymemd_recorder_lookup_growth (recorder, pymemd_process_get_pid (process),
                                                         pymemd_process_get_start_time (process), &rate, NULL))
    g_variant_builder_add (builder, "{sv}", "growth_per_hour", g_variant_new_double (rate));
}

static GVariant *
details_variant (PymemdProcess *process)
{
  GVariantBuilder builder;
  const PymemdCategoryUsage *categories = pymemd_process_get_categories (process);
  const PymemdExactFigures *exact = pymemd_process_get_exact (process);
  const GError *detail_error = pymemd_process_get_detail_error (process);
  const GError *exact_error = pymemd_process_get_exact_error (process);
  GArray *top = pymemd_process_get_top_mappings (process);

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  add_summary (&builder, process, FALSE);
  if (categories != NULL)
    {
      GVariantBuilder cats;
      g_variant_builder_init (&cats, G_VARIANT_TYPE ("a{sa{st}}"));
      for (guint i = 0; i < PYMEMD_N_CATEGORIES; i++)
        {
          GVariantBuilder one;

          g_variant_builder_init (&one, G_VARIANT_TYPE ("a{st}"));
          pymemd_view_category (process, i, &pymemd_view_variant_writer, &one);
          g_variant_builder_add (&cats, "{s@a{st}}", pymemd_category_name (i),
                                 g_variant_builder_end (&one));
        }
      g_variant_builder_add (&builder, "{sv}", "categories", g_variant_builder_end (&cats));
    }
  if (detail_error != NULL)
    g_variant_builder_add (&builder, "{sv}", "categories_error", g_variant_new_string (detail_error->message));
  else if (categories != NULL && pymemd_process_get_pymalloc_error (process) != NULL)
    g_variant_builder_add (&builder, "{sv}", "pymalloc_error",
                           g_variant_new_string (pymemd_process_get_pymalloc_error (process)->message));
  if (exact != NULL)
    {
      GVariantBuilder e, sharing;

      g_variant_builder_init (&e, G_VARIANT_TYPE ("a{st}"));
      pymemd_view_exact (exact, &pymemd_view_variant_writer, &e);
      g_variant_builder_add (&builder, "{sv}", "exact", g_variant_builder_end (&e));
      g_variant_builder_init (&sharing, G_VARIANT_TYPE ("a{st}"));
      for (guint i = 0; i < PYMEMD_N_SHARING_BUCKETS; i++)
        g_variant_builder_add (&sharing, "{st}", pymemd_sharing_bucket_name (i), exact->sharing[i]);
      g_variant_builder_add (&builder, "{sv}", "sharing", g_variant_builder_end (&sharing));
    }
  if (exact_error != NULL)
    g_variant_builder_add (&builder, "{sv}", "exact_error", g_variant_new_string (exact_error->message));
  {
    const PymemdHeapLedger *ledger;
    const PymemdHeapSummary *heap = pymemd_heap_summary_kept (process, &ledger);
    if (heap != NULL)
      g_variant_builder_add (&builder, "{sv}", "heap", pymemd_heap_summary_to_variant (heap, ledger));
  }
  if (top != NULL)
    {
      GVariantBuilder maps;
      g_variant_builder_init (&maps, G_VARIANT_TYPE ("a(stta{st})"));
      for (guint i = 0; i < top->len; i++)
        {
          const PymemdMapping *m = &g_array_index (top, PymemdMapping, i);
          g_variant_builder_add (&maps, "(@stt@a{st})", file_name_variant (m->path != NULL ? m->path : "[anon]"),
                                 m->start, m->end, pymemd_view_counters_variant (&m->counters));
        }
      g_variant_builder_add (&builder, "{sv}", "mappings", g_variant_builder_end (&maps));
    }
  return g_variant_builder_end (&builder);
}

/* ---- method calls: the gate (below) has decided what the caller may, before a handler runs ---- */

#define SUBJECT_ANYONE (-2)

typedef struct _Call {
  PymemdDbusService     *self;
  GDBusMethodInvocation *invocation;
  guint                  pid;
  gboolean               asked_polkit;
  /* A history call: the owner of the process it is about (SUBJECT_ANYONE:
   * everyone's, as the totals are), and the answer, held while the caller
   * is resolved. -1 otherwise. */
  gint64                 subject_uid;
  GVariant              *reply;
  GError                *reply_error; /* answered instead of REPLY */
  guint64                start_time;
  gint64                 resolution_us;
  PymemdHeapRequest      heap_request;
  gboolean               attach;
  guint                  holders; /* retained sizes: the holders listed; 0: none asked */
  GArray                *ended;   /* GetEndedProcesses: the answer, held while the caller is resolved */
  /* A history call: how to answer once the caller may see the record. */
  void                 (*answer) (struct _Call *call, const PymemdViewer *viewer);
} Call;

static Call *
call_new (PymemdDbusService *self, GDBusMethodInvocation *invocation)
{
  Call *call = g_new0 (Call, 1);

  call->self = g_object_ref (self);
  call->invocation = g_object_ref (invocation);
  call->subject_uid = -1;
  return call;
}

static void
call_free (Call *call)
{
  g_object_unref (call->self);
  g_object_unref (call->invocation);
  g_clear_pointer (&call->reply, g_variant_unref);
  g_clear_error (&call->reply_error);
  g_clear_pointer (&call->ended, g_array_unref);
  g_free (call);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Call, call_free)

/* Whether VIEWER lacks the right to see some process it would see now:
 * only then is polkit worth asking. */
static gboolean
needs_polkit (PymemdDbusService *self, const PymemdViewer *viewer, PymemdProcess *only)
{
  GPtrArray *processes = pymemd_monitor_get_processes (self->monitor);

  if (only != NULL)
    return !pymemd_viewer_may_see (viewer, only);
  for (guint i = 0; i < processes->len; i++)
    if (!pymemd_viewer_may_see (viewer, g_ptr_array_index (processes, i)))
      return TRUE;
  return FALSE;
}

/* The caller again, polkit asked this time (see decide_record). */
static void
resolve_caller (Call *call, GAsyncReadyCallback done)
{
  pymemd_auth_get_viewer_async (call->self->auth, call->self->connection,
                                g_dbus_method_invocation_get_sender (call->invocation),
                                call->asked_polkit, NULL, done, call);
}

/* What VIEWER sees of the process a history call is about: the live one
 * if it still runs, else as it was recorded (SUBJECT_UID its owner). */
static PymemdView
subject_view (Call *call, const PymemdViewer *viewer)
{
  PymemdProcess *live = pymemd_monitor_find (call->self->monitor, call->pid);

  if (call->subject_uid == SUBJECT_ANYONE)
    return PYMEMD_VIEW_DETAIL;
  if (live != NULL && pymemd_process_get_start_time (live) == call->start_time)
    return pymemd_viewer_get_view (viewer, proc_visibility (call->self), live);
  return pymemd_viewer_get_view_of_owner (viewer, proc_visibility (call->self), (guint32) call->subject_uid);
}

/* Whether VIEWER lacks the right to see in detail what a history call
 * read: only then is polkit worth asking. */
static gboolean
record_needs_polkit (Call *call, const PymemdViewer *viewer)
{
  if (call->ended != NULL)
    {
      for (guint i = 0; i < call->ended->len; i++)
        if (pymemd_viewer_get_view_of_owner (viewer, proc_visibility (call->self),
                                             g_array_index (call->ended, PymemdHistoryProcess, i).uid) !=
            PYMEMD_VIEW_DETAIL)
          return TRUE;
      return FALSE;
    }
  return subject_view (call, viewer) != PYMEMD_VIEW_DETAIL;
}

static void
record_caller_known (GObject *source, GAsyncResult *result, gpointer data)
{
  Call *call = data;
  g_autoptr(GError) error = NULL;
  g_auto(PymemdViewer) viewer = { 0 };

  if (!pymemd_auth_get_viewer_finish (call->self->auth, result, &viewer, &error))
    {
      g_dbus_method_invocation_return_gerror (call->invocation, error);
      call_free (call);
      return;
    }
  call->answer (call, &viewer);
}

/* The second half of PYMEMD_NEED_SEE_RECORD, once a history call has read
 * its answer (and with it whose it is): ANSWER gives the caller what it
 * may see of it, as the gate found the caller, or as polkit's
 * org.pymemd.inspect-all lets it when that would show more. */
static void
decide_record (Call *call, void (*answer) (Call *call, const PymemdViewer *viewer))
{
  const PymemdViewer *viewer = pymemd_method_access_get_viewer (call->invocation);

  call->answer = answer;
  if (!record_needs_polkit (call, viewer))
    {
      answer (call, viewer);
      return;
    }
  call->asked_polkit = TRUE;
  resolve_caller (call, record_caller_known);
}

/* What VIEWER sees of PROCESS; NULL: one who sees every process. */
static PymemdView
view_of (PymemdDbusService *self, const PymemdViewer *viewer, PymemdProcess *process)
{
  return viewer != NULL ? pymemd_viewer_get_view (viewer, proc_visibility (self), process) : PYMEMD_VIEW_DETAIL;
}

static GVariant *
build_processes (PymemdDbusService *self, const PymemdViewer *viewer)
{
  GPtrArray *processes = pymemd_monitor_get_processes (self->monitor);
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < processes->len; i++)
    {
      PymemdProcess *process = g_ptr_array_index (processes, i);
      PymemdView view = view_of (self, viewer, process);
      gboolean restricted = view != PYMEMD_VIEW_DETAIL;

      if (view == PYMEMD_VIEW_HIDDEN)
        continue;
      g_variant_builder_open (&builder, G_VARIANT_TYPE_VARDICT);
      add_summary (&builder, process, restricted);
      if (!restricted)
        add_growth (&builder, self->recorder, process);
      g_variant_builder_close (&builder);
    }
  return g_variant_new ("(@aa{sv})", g_variant_builder_end (&builder));
}

/* Builds a reply for VIEWER; NULL: for one who sees every process. */
typedef GVariant *(*BuildReply) (PymemdDbusService *self, const PymemdViewer *viewer);

/* Whoever sees every process gets the same answer until the next scan:
 * built and serialised once into CACHE, not per call. */
static gboolean
return_view (PymemdDbusService *self, GDBusMethodInvocation *invocation, GVariant **cache, BuildReply build)
{
  const PymemdViewer *viewer = pymemd_method_access_get_viewer (invocation);

  if (needs_polkit (self, viewer, NULL))
    g_dbus_method_invocation_return_value (invocation, build (self, viewer));
  else
    {
      if (*cache == NULL)
        {
          *cache = g_variant_ref_sink (build (self, NULL));
          g_variant_get_data (*cache);
        }
      g_dbus_method_invocation_return_value (invocation, *cache);
    }
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* Columns of fixed-size numbers: GDBus copies each as one block. */
static GVariant *
build_samples (PymemdDbusService *self, const PymemdViewer *viewer)
{
  GPtrArray *processes = pymemd_monitor_get_processes (self->monitor);
  guint n = 0;
  g_autofree guint32 *pid = g_new (guint32, MAX (processes->len, 1));
  g_autofree guint32 *uid = g_new (guint32, MAX (processes->len, 1));
  g_autofree guint8 *restricted = g_new (guint8, MAX (processes->len, 1));
  g_autofree guint64 *col = g_new (guint64, 6 * (gsize) MAX (processes->len, 1));
  guint64 *start = col, *rss = col + processes->len, *pss = col + 2 * processes->len;
  guint64 *uss = col + 3 * processes->len, *dirty = col + 4 * processes->len, *swap = col + 5 * processes->len;

  for (guint p = 0; p < processes->len; p++)
    {
      PymemdProcess *process = g_ptr_array_index (processes, p);
      const PymemdCounters *c = pymemd_process_get_rollup (process);
      PymemdView view = view_of (self, viewer, process);
      gboolean hide = view != PYMEMD_VIEW_DETAIL;
      guint i;

      if (view == PYMEMD_VIEW_HIDDEN)
        continue;
      i = n++;
      pid[i] = (guint32) pymemd_process_get_pid (process);
      start[i] = pymemd_process_get_start_time (process);
      uid[i] = pymemd_process_get_uid (process);
      restricted[i] = hide ? 1 : 0;
      rss[i] = c->value[PYMEMD_FIELD_RSS];
      swap[i] = c->value[PYMEMD_FIELD_SWAP];
      pss[i] = hide ? 0 : c->value[PYMEMD_FIELD_PSS];
      uss[i] = hide ? 0 : pymemd_counters_uss (c);
      dirty[i] = hide ? 0 : c->value[PYMEMD_FIELD_PRIVATE_DIRTY];
    }
#define COLUMN(type, data, size) \
  g_variant_new_fixed_array (G_VARIANT_TYPE (type), data, n, size)
  return g_variant_new ("(@au@at@au@ab@at@at@at@at@at)",
                        COLUMN ("u", pid, sizeof (guint32)), COLUMN ("t", start, sizeof (guint64)),
                        COLUMN ("u", uid, sizeof (guint32)), COLUMN ("b", restricted, 1),
                        COLUMN ("t", rss, sizeof (guint64)), COLUMN ("t", pss, sizeof (guint64)),
                        COLUMN ("t", uss, sizeof (guint64)), COLUMN ("t", dirty, sizeof (guint64)),
                        COLUMN ("t", swap, sizeof (guint64)));
#undef COLUMN
}

static GVariant *names_variant (const char *(*name_of) (guint index), guint n);

/* GetTable's figures, in the order GetProcesses' dictionaries have them:
 * what status shows everyone first, then the rest of the rollup, USS, and
 * the exact pass's. */
enum { TABLE_USS = PYMEMD_VIEW_N_FIELDS, TABLE_EXACT_USS, TABLE_EXACT_PSS, N_TABLE_FIGURES };
G_STATIC_ASSERT (N_TABLE_FIGURES <= 64); /* present[] is a bit set in a guint64 */

static const char *
table_figure_name_at (guint index)
{
  static const char *const extra[] = { PYMEMD_KEY_USS, "exact_uss", "exact_pss" };

  /* rss and swap, status' figures, come first, as in GetProcesses */
  if (index == 0)
    return pymemd_field_name (PYMEMD_FIELD_RSS);
  if (index == 1)
    return pymemd_field_name (PYMEMD_FIELD_SWAP);
  if (index < TABLE_USS)
    {
      guint k = 1;

      for (guint i = 0; i < PYMEMD_VIEW_N_FIELDS; i++)
        if (pymemd_view_fields[i] != PYMEMD_FIELD_RSS && pymemd_view_fields[i] != PYMEMD_FIELD_SWAP && ++k == index)
          return pymemd_field_name (pymemd_view_fields[i]);
    }
  return extra[index - TABLE_USS];
}

/* Fills ROW's values and presence bits as add_summary () adds the keys. */
static guint64
table_row (PymemdProcess *process, gboolean restricted, guint64 *row)
{
  const PymemdCounters *rollup = pymemd_process_get_rollup (process);
  const PymemdExactFigures *exact = pymemd_process_get_exact (process);
  guint64 present = 0;
  guint f = 2;

  row[0] = rollup->value[PYMEMD_FIELD_RSS];
  row[1] = rollup->value[PYMEMD_FIELD_SWAP];
  present = 3;
  for (guint i = 0; i < PYMEMD_VIEW_N_FIELDS; i++)
    {
      if (pymemd_view_fields[i] == PYMEMD_FIELD_RSS || pymemd_view_fields[i] == PYMEMD_FIELD_SWAP)
        continue;
      if (!restricted && pymemd_counters_has (rollup, pymemd_view_fields[i]))
        {
          row[f] = rollup->value[pymemd_view_fields[i]];
          present |= G_GUINT64_CONSTANT (1) << f;
        }
      f++;
    }
  if (restricted)
    return present;
  row[TABLE_USS] = pymemd_counters_uss (rollup);
  present |= G_GUINT64_CONSTANT (1) << TABLE_USS;
  if (exact != NULL)
    {
      row[TABLE_EXACT_USS] = exact->uss;
      row[TABLE_EXACT_PSS] = exact->pss;
      present |= (G_GUINT64_CONSTANT (1) << TABLE_EXACT_USS) | (G_GUINT64_CONSTANT (1) << TABLE_EXACT_PSS);
    }
  return present;
}

/* GetProcesses' figures without its strings, in columns of fixed-size
 * numbers: what a client that keeps the identities asks on every call. */
static GVariant *
build_table (PymemdDbusService *self, const PymemdViewer *viewer)
{
  GPtrArray *processes = pymemd_monitor_get_processes (self->monitor);
  gsize room = MAX (processes->len, 1);
  g_autofree guint32 *pid = g_new (guint32, room);
  g_autofree guint32 *uid = g_new (guint32, room);
  g_autofree guint64 *start = g_new (guint64, room);
  g_autofree guint8 *restricted = g_new (guint8, room);
  g_autofree gint64 *sampled_at = g_new (gint64, room);
  g_autofree guint64 *values = g_new0 (guint64, room * N_TABLE_FIGURES);
  g_autofree guint64 *present = g_new (guint64, room);
  g_autofree double *growth = g_new (double, room);
  guint n = 0;

  for (guint p = 0; p < processes->len; p++)
    {
      PymemdProcess *process = g_ptr_array_index (processes, p);
      PymemdView view = view_of (self, viewer, process);
      gboolean hide = view != PYMEMD_VIEW_DETAIL;
      double rate = 0;

      if (view == PYMEMD_VIEW_HIDDEN)
        continue;
      pid[n] = (guint32) pymemd_process_get_pid (process);
      start[n] = pymemd_process_get_start_time (process);
      uid[n] = pymemd_process_get_uid (process);
      restricted[n] = hide ? 1 : 0;
      sampled_at[n] = pymemd_process_get_sampled_at (process);
      present[n] = table_row (process, hide, values + (gsize) n * N_TABLE_FIGURES);
      growth[n] = NAN;
      if (!hide && self->recorder != NULL &&
          pymemd_recorder_lookup_growth (self->recorder, pid[n], start[n], &rate, NULL))
        growth[n] = rate;
      n++;
    }
#define COLUMN(type, data, count, size) \
  g_variant_new_fixed_array (G_VARIANT_TYPE (type), data, count, size)
  return g_variant_new ("(s@au@at@au@ab@ax@as@at@at@ad)", self->instance,
                        COLUMN ("u", pid, n, sizeof (guint32)), COLUMN ("t", start, n, sizeof (guint64)),
                        COLUMN ("u", uid, n, sizeof (guint32)), COLUMN ("b", restricted, n, 1),
                        COLUMN ("x", sampled_at, n, sizeof (gint64)),
                        names_variant (table_figure_name_at, N_TABLE_FIGURES),
                        COLUMN ("t", values, (gsize) n * N_TABLE_FIGURES, sizeof (guint64)),
                        COLUMN ("t", present, n, sizeof (guint64)), COLUMN ("d", growth, n, sizeof (double)));
#undef COLUMN
}

static gboolean
handle_get_table (PymemdDbusMonitor1 *manager, GDBusMethodInvocation *invocation, PymemdDbusService *self)
{
  return return_view (self, invocation, &self->full_table, build_table);
}

/* At most this many processes in one GetIdentities: more than any host
 * runs interpreters, and a bound on what one call makes the daemon do. */
#define MAX_IDENTITIES_ASKED 65536

static gboolean
check_identities (PymemdDbusService *self, GVariant *parameters, GError **error)
{
  g_autoptr(GVariant) processes = g_variant_get_child_value (parameters, 0);

  if (g_variant_n_children (processes) > MAX_IDENTITIES_ASKED)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS,
                   _("At most %d processes may be asked in one call, not %zu"), MAX_IDENTITIES_ASKED,
                   g_variant_n_children (processes));
      return FALSE;
    }
  return TRUE;
}

static gboolean
handle_get_identities (PymemdDbusMonitor1 *manager, GDBusMethodInvocation *invocation,
                       GVariant *processes, PymemdDbusService *self)
{
  const PymemdViewer *viewer = pymemd_method_access_get_viewer (invocation);
  g_autoptr(GHashTable) done = NULL;
  GVariantBuilder builder;
  GVariantIter iter;
  guint32 pid;
  guint64 start_time;

  done = g_hash_table_new (NULL, NULL);
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(utbssso)"));
  g_variant_iter_init (&iter, processes);
  while (g_variant_iter_next (&iter, "(ut)", &pid, &start_time))
    {
      PymemdProcess *process = pid <= G_MAXINT ? pymemd_monitor_find (self->monitor, (int) pid) : NULL;
      PymemdView view;
      gboolean restricted;
      g_autofree char *path = NULL;
      g_autofree char *version = NULL;

      if (process == NULL || pymemd_process_get_start_time (process) != start_time ||
          g_hash_table_contains (done, process))
        continue;
      view = view_of (self, viewer, process);
      if (view == PYMEMD_VIEW_HIDDEN)
        continue;
      g_hash_table_add (done, process);
      restricted = view != PYMEMD_VIEW_DETAIL;
      path = pymemd_view_object_path (process);
      version = pymemd_view_python_version (process);
      g_variant_builder_add (&builder, "(utb@s@sso)", pid, start_time, restricted,
                             file_name_variant (shown_name (process, restricted)),
                             g_variant_new_string (pymemd_process_get_cmdline (process)), version, path);
    }
  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(a(utbssso))", &builder));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* The figures GetBreakdowns gives per category: the ones every smaps has
 * that say what a category costs (its PSS), what only it holds (private
 * dirty) and what it had to give up (swap). */
static const PymemdField breakdown_fields[] = {
  PYMEMD_FIELD_PSS, PYMEMD_FIELD_PRIVATE_DIRTY, PYMEMD_FIELD_SWAP,
};

static GVariant *
names_variant (const char *(*name_of) (guint index), guint n)
{
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_STRING_ARRAY);
  for (guint i = 0; i < n; i++)
    g_variant_builder_add (&builder, "s", name_of (i));
  return g_variant_builder_end (&builder);
}

static const char *
category_name_at (guint index)
{
  return pymemd_category_name ((PymemdCategory) index);
}

static const char *
breakdown_field_name_at (guint index)
{
  return pymemd_field_name (breakdown_fields[index]);
}

static const char *
sharing_bucket_name_at (guint index)
{
  return pymemd_sharing_bucket_name ((PymemdSharingBucket) index);
}

/* Columns like GetSamples', of the processes VIEWER sees in detail that a
 * detail pass has reached. */
static GVariant *
build_breakdowns (PymemdDbusService *self, const PymemdViewer *viewer)
{
  enum { C = PYMEMD_N_CATEGORIES, F = G_N_ELEMENTS (breakdown_fields), B = PYMEMD_N_SHARING_BUCKETS };
  GPtrArray *processes = pymemd_monitor_get_processes (self->monitor);
  gsize room = MAX (processes->len, 1);
  g_autofree guint32 *pid = g_new (guint32, room);
  g_autofree guint64 *start = g_new (guint64, room);
  g_autofree guint8 *exact = g_new (guint8, room);
  g_autofree guint64 *values = g_new0 (guint64, room * C * F);
  g_autofree guint64 *sharing = g_new0 (guint64, room * B);
  guint n = 0;

  for (guint p = 0; p < processes->len; p++)
    {
      PymemdProcess *process = g_ptr_array_index (processes, p);
      const PymemdCategoryUsage *categories = pymemd_process_get_categories (process);
      const PymemdExactFigures *figures = pymemd_process_get_exact (process);

      if (categories == NULL || view_of (self, viewer, process) != PYMEMD_VIEW_DETAIL)
        continue;
      pid[n] = (guint32) pymemd_process_get_pid (process);
      start[n] = pymemd_process_get_start_time (process);
      for (guint c = 0; c < C; c++)
        for (guint f = 0; f < F; f++)
          values[((gsize) n * C + c) * F + f] = categories[c].counters.value[breakdown_fields[f]];
      exact[n] = figures != NULL;
      for (guint b = 0; figures != NULL && b < B; b++)
        sharing[(gsize) n * B + b] = figures->sharing[b];
      n++;
    }
#define COLUMN(type, data, count, size) \
  g_variant_new_fixed_array (G_VARIANT_TYPE (type), data, count, size)
  return g_variant_new ("(@au@at@as@as@at@as@ab@at)", COLUMN ("u", pid, n, sizeof (guint32)),
                        COLUMN ("t", start, n, sizeof (guint64)), names_variant (category_name_at, C),
                        names_variant (breakdown_field_name_at, F),
                        COLUMN ("t", values, (gsize) n * C * F, sizeof (guint64)),
                        names_variant (sharing_bucket_name_at, B), COLUMN ("b", exact, n, 1),
                        COLUMN ("t", sharing, (gsize) n * B, sizeof (guint64)));
#undef COLUMN
}

static gboolean
handle_get_breakdowns (PymemdDbusMonitor1 *manager, GDBusMethodInvocation *invocation,
                       PymemdDbusService *self)
{
  return return_view (self, invocation, &self->full_breakdowns, build_breakdowns);
}

/* The daemon's own figures are everyone's (PYMEMD_NEED_NOTHING). */
static gboolean
handle_get_statistics (PymemdDbusMonitor1 *manager, GDBusMethodInvocation *invocation,
                       PymemdDbusService *self)
{
  PymemdMonitorStatistics statistics;
  GVariantDict dict;

  pymemd_monitor_get_statistics (self->monitor, &statistics);
  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "scans", "t", statistics.scans);
  g_variant_dict_insert (&dict, "full_scans", "t", statistics.full_scans);
  g_variant_dict_insert (&dict, "scan_seconds", "d", (double) statistics.scan_us / G_USEC_PER_SEC);
  g_variant_dict_insert (&dict, "last_scan_seconds", "d", (double) statistics.last_scan_us / G_USEC_PER_SEC);
  g_variant_dict_insert (&dict, "last_full_scan_seconds", "d",
                         (double) statistics.last_full_scan_us / G_USEC_PER_SEC);
  g_variant_dict_insert (&dict, "processes", "u", pymemd_monitor_get_processes (self->monitor)->len);
  g_variant_dict_insert (&dict, "subscriptions", "u", pymemd_subscriptions_count (self->subscriptions));
  g_variant_dict_insert (&dict, "cpu_seconds", "d", (double) statistics.cpu_us / G_USEC_PER_SEC);
  if (statistics.resident > 0)
    g_variant_dict_insert (&dict, "resident", "t", statistics.resident);
  g_variant_dict_insert (&dict, "started_at", "x", statistics.started_at);
  g_variant_dict_insert (&dict, "process_events", "b", statistics.events_in_use);
  g_variant_dict_insert (&dict, "events", "t", statistics.events);
  g_variant_dict_insert (&dict, "event_losses", "t", statistics.event_losses);
  g_variant_dict_insert (&dict, "event_overflows", "t", statistics.event_overflows);
  g_variant_dict_insert (&dict, "listings", "t", statistics.listings);
  pymemd_dbus_monitor1_complete_get_statistics (manager, invocation, g_variant_dict_end (&dict));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_get_samples (PymemdDbusMonitor1 *manager, GDBusMethodInvocation *invocation,
                    PymemdDbusService *self)
{
  return return_view (self, invocation, &self->full_samples, build_samples);
}

static gboolean
handle_get_processes (PymemdDbusMonitor1 *manager, GDBusMethodInvocation *invocation,
                      PymemdDbusService *self)
{
  return return_view (self, invocation, &self->full_reply, build_processes);
}

/* The answer for a pid that is not watched, or that /proc hides from the
 * caller: the same, so that it does not tell one from the other. */
static GError *
no_such_process_error (guint pid)
{
  return g_error_new (PYMEMD_ERROR, PYMEMD_ERROR_NO_SUCH_PROCESS, _("No Python process with pid %u is watched"), pid);
}

/* The gate has just found PID's process, and the caller may see it in
 * detail (PYMEMD_NEED_SEE_TARGET). */
static gboolean
return_details (PymemdDbusService *self, GDBusMethodInvocation *invocation, guint pid)
{
  PymemdProcess *process = pymemd_monitor_find (self->monitor, pid);

  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(@a{sv})", details_variant (process)));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_get_process_details (PymemdDbusMonitor1 *manager, GDBusMethodInvocation *invocation,
                            guint pid, PymemdDbusService *self)
{
  return return_details (self, invocation, pid);
}

/* Process1.GetDetails, as the process object asks (PymemdDetailsFunc). */
static gboolean
return_details_of (GDBusMethodInvocation *invocation, guint pid, gpointer data)
{
  return return_details (data, invocation, pid);
}

static void
rescan_done (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GDBusMethodInvocation) invocation = data;
  g_autoptr(GError) error = NULL;

  if (pymemd_monitor_rescan_finish (PYMEMD_MONITOR (source), result, &error))
    g_dbus_method_invocation_return_value (invocation, NULL);
  else
    g_dbus_method_invocation_return_gerror (invocation, error);
}

/* The caller had a rescan left in its budget (PYMEMD_NEED_BUDGET); the
 * monitor shares one pass among the callers that wait for it. */
static gboolean
handle_rescan (PymemdDbusMonitor1 *manager, GDBusMethodInvocation *invocation,
               PymemdDbusService *self)
{
  pymemd_monitor_rescan_async (self->monitor, rescan_done, g_object_ref (invocation));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
on_subscriber_vanished (GDBusConnection *connection, const char *name, gpointer data)
{
  PymemdDbusService *self = data;
  guint n = pymemd_subscriptions_remove_sender (self->subscriptions, name);

  g_debug ("%s left the bus: %u subscriptions dropped", name, n);
  g_hash_table_remove (self->name_watches, name);
}

static void
watch_sender (PymemdDbusService *self, const char *sender)
{
  guint id;

  if (g_hash_table_contains (self->name_watches, sender))
    return;
  id = g_bus_watch_name_on_connection (self->connection, sender, G_BUS_NAME_WATCHER_FLAGS_NONE,
                                       NULL, on_subscriber_vanished, self, NULL);
  g_hash_table_insert (self->name_watches, g_strdup (sender), GUINT_TO_POINTER (id));
}

/* Bad options are refused before anyone is asked anything. */
static gboolean
check_subscribe (PymemdDbusService *self, GVariant *parameters, GError **error)
{
  g_autoptr(GVariant) options = g_variant_get_child_value (parameters, 0);
  PymemdSubscriptionOptions parsed;

  if (!pymemd_subscription_options_parse (options, 0, 0, &parsed, error))
    return FALSE;
  pymemd_subscription_options_clear (&parsed);
  return TRUE;
}

/* The caller as polkit's org.pymemd.inspect-all lets it see: processes of
 * other users may start later (PYMEMD_NEED_VIEWER_ASKED). */
static gboolean
handle_subscribe (PymemdDbusMonitor1 *manager, GDBusMethodInvocation *invocation,
                  GVariant *options, PymemdDbusService *self)
{
  PymemdConfig *config = self->config;
  const char *sender = g_dbus_method_invocation_get_sender (invocation);
  PymemdSubscriptionOptions parsed;
  g_autoptr(GError) error = NULL;
  guint id;

  if (!pymemd_subscription_options_parse (
        options, pymemd_config_get_min_change_bytes (config),
        (gint64) (pymemd_config_get_min_signal_interval (config) * G_USEC_PER_SEC), &parsed,
        &error))
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  id = pymemd_subscriptions_add (self->subscriptions, sender, pymemd_method_access_get_viewer (invocation), &parsed,
                                 pymemd_monitor_get_processes (self->monitor), &error);
  if (id == 0)
    {
      pymemd_subscription_options_clear (&parsed);
      g_dbus_method_invocation_return_gerror (invocation, error);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  watch_sender (self, sender);
  pymemd_dbus_monitor1_complete_subscribe (manager, invocation, id);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_unsubscribe (PymemdDbusMonitor1 *manager, GDBusMethodInvocation *invocation, guint id,
                    PymemdDbusService *self)
{
  const char *sender = g_dbus_method_invocation_get_sender (invocation);
  g_autoptr(GError) error = NULL;

  if (!pymemd_subscriptions_remove (self->subscriptions, sender, id, &error))
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  /* The table's value destroy function unwatches the name. */
  if (pymemd_subscriptions_count_for (self->subscriptions, sender) == 0)
    g_hash_table_remove (self->name_watches, sender);
  pymemd_dbus_monitor1_complete_unsubscribe (manager, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}


/* ---- history ---- */

#define SECOND_US G_GINT64_CONSTANT (1000000)
/* Bounds of GetHistory and GetGrowth arguments. */
#define HISTORY_MAX_RESOLUTION (366.0 * 86400)
#define GROWTH_MIN_WINDOW 60.0
#define GROWTH_MAX_WINDOW 604800.0

/* RESTRICTED: without what only its owner could have read (the name of its
 * executable) or what no one can read once it has exited (its command line). */
static void
add_recorded_process (GVariantBuilder *builder, const PymemdHistoryProcess *p, gboolean restricted)
{
  g_variant_builder_add (builder, "{sv}", PYMEMD_KEY_PID, g_variant_new_uint32 ((guint32) p->pid));
  g_variant_builder_add (builder, "{sv}", PYMEMD_KEY_START_TIME, g_variant_new_uint64 (p->start_time));
  g_variant_builder_add (builder, "{sv}", "boot_id", g_variant_new_string (p->boot_id != NULL ? p->boot_id : ""));
  g_variant_builder_add (builder, "{sv}", PYMEMD_KEY_UID, g_variant_new_uint32 (p->uid));
  if (!restricted)
    {
      g_variant_builder_add (builder, "{sv}", "name", file_name_variant (pymemd_view_file_name (p->exe)));
      g_variant_builder_add (builder, "{sv}", "cmdline", g_variant_new_string (p->cmdline != NULL ? p->cmdline : ""));
    }
  g_variant_builder_add (builder, "{sv}", "first_seen", g_variant_new_int64 (p->first_seen));
  g_variant_builder_add (builder, "{sv}", "last_seen", g_variant_new_int64 (p->last_seen));
  if (p->ended != 0)
    g_variant_builder_add (builder, "{sv}", "ended", g_variant_new_int64 (p->ended));
}

static GVariant *
history_reply (const PymemdRecorderHistory *h)
{
  GVariantBuilder info;
  guint n = h->rows->len;
  g_autofree gint64 *t = g_new (gint64, MAX (n, 1));
  g_autofree guint32 *count = g_new (guint32, MAX (n, 1));
  g_autofree guint64 *col = g_new (guint64, 9 * (gsize) MAX (n, 1));

  g_variant_builder_init (&info, G_VARIANT_TYPE_VARDICT);
  add_recorded_process (&info, &h->process, FALSE);
  g_variant_builder_add (&info, "{sv}", "resolution", g_variant_new_double ((double) h->resolution_us / SECOND_US));
  g_variant_builder_add (&info, "{sv}", "tier", g_variant_new_string (h->tier));
  for (guint i = 0; i < n; i++)
    {
      const PymemdHistoryRow *row = &g_array_index (h->rows, PymemdHistoryRow, i);
      guint64 values[9] = { row->pss_min, row->pss_avg, row->pss_max, row->uss_min, row->uss_avg,
                            row->uss_max, row->swap_min, row->swap_avg, row->swap_max };

      t[i] = row->t;
      count[i] = row->count;
      for (guint c = 0; c < 9; c++)
        col[c * n + i] = values[c];
    }
#define COLUMN(c) g_variant_new_fixed_array (G_VARIANT_TYPE_UINT64, col + (c) * n, n, sizeof (guint64))
  return g_variant_new ("(@a{sv}@ax@au@at@at@at@at@at@at@at@at@at)", g_variant_builder_end (&info),
                        g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, t, n, sizeof (gint64)),
                        g_variant_new_fixed_array (G_VARIANT_TYPE_UINT32, count, n, sizeof (guint32)),
                        COLUMN (0), COLUMN (1), COLUMN (2), COLUMN (3), COLUMN (4), COLUMN (5), COLUMN (6),
                        COLUMN (7), COLUMN (8));
#undef COLUMN
}

/* Answers a history call whose reply is ready, as VIEWER may see it. */
static void
answer_record (Call *call, const PymemdViewer *viewer)
{
  PymemdView view = subject_view (call, viewer);

  if (view == PYMEMD_VIEW_HIDDEN)
    g_dbus_method_invocation_return_error (call->invocation, PYMEMD_ERROR, PYMEMD_ERROR_NO_SUCH_PROCESS,
                                           _("No history of process %u is kept"), call->pid);
  else if (view == PYMEMD_VIEW_STATUS)
    g_dbus_method_invocation_return_error (call->invocation, PYMEMD_ERROR, PYMEMD_ERROR_ACCESS_DENIED,
                                           _("Process %u is not the caller's as the kernel counts it (another "
                                             "user's, set-user-ID, or not dumpable): its history needs root or "
                                             "the %s authorization"),
                                           call->pid, PYMEMD_ACTION_INSPECT_ALL);
  else if (call->reply_error != NULL)
    g_dbus_method_invocation_return_gerror (call->invocation, call->reply_error);
  else
    /* REPLY is sunk, so the invocation takes a reference of its own; ours
     * goes with the call. */
    g_dbus_method_invocation_return_value (call->invocation, call->reply);
  call_free (call);
}

static void
query_done (GObject *source, GAsyncResult *result, gpointer data)
{
  Call *call = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdRecorderHistory) history = pymemd_recorder_query_finish (PYMEMD_RECORDER (source), result,
                                                                           &error);
  PymemdProcess *live = pymemd_monitor_find (call->self->monitor, call->pid);

  /* A process watched now whose first tick is not written yet has an
   * empty history, not none. */
  if (history == NULL && g_error_matches (error, PYMEMD_ERROR, PYMEMD_ERROR_NO_SUCH_PROCESS) && live != NULL &&
      pymemd_process_get_start_time (live) == call->start_time)
    {
      PymemdScanner *scanner = pymemd_monitor_get_scanner (call->self->monitor);

      history = g_new0 (PymemdRecorderHistory, 1);
      history->process = (PymemdHistoryProcess) {
        .boot_id = g_strdup (pymemd_scanner_get_boot_id (scanner)),
        .pid = (gint32) call->pid,
        .start_time = call->start_time,
        .uid = pymemd_viewer_recorded_owner (live),
        .exe = g_strdup (pymemd_process_get_exe (live)),
        .cmdline = g_strdup (pymemd_process_get_cmdline (live)),
        .first_seen = pymemd_process_get_sampled_at (live),
        .last_seen = pymemd_process_get_sampled_at (live),
      };
      history->rows = g_array_new (FALSE, FALSE, sizeof (PymemdHistoryRow));
      history->resolution_us = MAX (call->resolution_us, SECOND_US);
      history->tier = pymemd_recorder_tier_for (history->resolution_us);
      g_clear_error (&error);
    }
  if (history == NULL)
    {
      g_dbus_method_invocation_return_gerror (call->invocation, error);
      call_free (call);
      return;
    }
  /* The totals are everyone's, as the Totals property is. */
  call->subject_uid = history->process.pid == 0 ? SUBJECT_ANYONE : (gint64) history->process.uid;
  call->reply = g_variant_ref_sink (history_reply (history));
  decide_record (call, answer_record);
}

/* The start time a call means: its own, or that of the live process. */
static guint64
resolve_start_time (PymemdDbusService *self, guint pid, guint64 start_time)
{
  PymemdProcess *live;

  if (start_time != 0 || pid == 0)
    return start_time;
  live = pymemd_monitor_find (self->monitor, pid);
  return live != NULL ? pymemd_process_get_start_time (live) : 0;
}

static gboolean
invalid_args (GError **error, const char *message)
{
  g_set_error_literal (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS, message);
  return FALSE;
}

static gboolean
check_pid (guint pid, gboolean zero_too, GError **error)
{
  if ((pid == 0 && !zero_too) || pid > G_MAXINT32)
    return invalid_args (error, _("pid is out of range"));
  return TRUE;
}

static gboolean
check_span (gint64 since, gint64 until, GError **error)
{
  if (until == 0)
    until = g_get_real_time ();
  if (since < 0 || until < 0 || since >= until)
    return invalid_args (error, _("since and until are µs since the epoch, since before until"));
  return TRUE;
}

static gboolean
check_history (PymemdDbusService *self, GVariant *parameters, GError **error)
{
  guint pid;
  guint64 start_time;
  gint64 since, until;
  double resolution;

  g_variant_get (parameters, "(utxxd)", &pid, &start_time, &since, &until, &resolution);
  if (!check_pid (pid, TRUE, error) || !check_span (since, until, error))
    return FALSE;
  if (!isfinite (resolution) || resolution < 0 || resolution > HISTORY_MAX_RESOLUTION ||
      (resolution > 0 && resolution < 1))
    return invalid_args (error, _("resolution is 0 (the daemon picks) or 1 to 31622400 seconds"));
  return TRUE;
}

static gboolean
handle_get_history (PymemdDbusMonitor1 *manager, GDBusMethodInvocation *invocation, guint pid,
                    guint64 start_time, gint64 since, gint64 until, double resolution, PymemdDbusService *self)
{
  PymemdScanner *scanner = pymemd_monitor_get_scanner (self->monitor);
  gint64 resolution_us;
  Call *call;

  if (until == 0)
    until = g_get_real_time ();
  resolution_us = (gint64) (resolution * SECOND_US);
  call = call_new (self, invocation);
  call->pid = pid;
  call->start_time = resolve_start_time (self, pid, start_time);
  call->resolution_us = resolution_us;
  pymemd_recorder_query_async (self->recorder, pymemd_scanner_get_boot_id (scanner), (gint32) pid,
                               call->start_time, since, until, resolution_us, query_done, call);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* The ended processes as VIEWER may see them: its own, or everyone's
 * to root and holders of org.pymemd.inspect-all, in full; others' without
 * their names and command lines, and none of them where /proc hides
 * other users' processes. */
static GVariant *
ended_reply (Call *call, const PymemdViewer *viewer)
{
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < call->ended->len; i++)
    {
      const PymemdHistoryProcess *p = &g_array_index (call->ended, PymemdHistoryProcess, i);
      PymemdView view = pymemd_viewer_get_view_of_owner (viewer, proc_visibility (call->self), p->uid);

      if (view == PYMEMD_VIEW_HIDDEN)
        continue;
      g_variant_builder_open (&builder, G_VARIANT_TYPE_VARDICT);
      add_recorded_process (&builder, p, view != PYMEMD_VIEW_DETAIL);
      g_variant_builder_add (&builder, "{sv}", "restricted", g_variant_new_boolean (view != PYMEMD_VIEW_DETAIL));
      g_variant_builder_close (&builder);
    }
  return g_variant_new ("(@aa{sv})", g_variant_builder_end (&builder));
}

static void
answer_ended (Call *call, const PymemdViewer *viewer)
{
  g_dbus_method_invocation_return_value (call->invocation, ended_reply (call, viewer));
  call_free (call);
}

static void
ended_done (GObject *source, GAsyncResult *result, gpointer data)
{
  Call *call = data;
  g_autoptr(GError) error = NULL;

  call->ended = pymemd_recorder_list_ended_finish (PYMEMD_RECORDER (source), result, &error);
  if (call->ended == NULL)
    {
      g_dbus_method_invocation_return_gerror (call->invocation, error);
      call_free (call);
      return;
    }
  decide_record (call, answer_ended);
}

static gboolean
check_ended_processes (PymemdDbusService *self, GVariant *parameters, GError **error)
{
  gint64 since;

  g_variant_get (parameters, "(x)", &since);
  return since >= 0 || invalid_args (error, _("since is µs since the epoch"));
}

static gboolean
handle_get_ended_processes (PymemdDbusMonitor1 *manager, GDBusMethodInvocation *invocation, gint64 since,
                            PymemdDbusService *self)
{
  pymemd_recorder_list_ended_async (self->recorder, since, ended_done, call_new (self, invocation));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
growth_done (GObject *source, GAsyncResult *result, gpointer data)
{
  Call *call = data;
  g_autoptr(GError) error = NULL;
  double rate = 0;
  guint samples = 0, uid = 0;

  if (!pymemd_recorder_growth_finish (PYMEMD_RECORDER (source), result, &rate, &samples, &uid, &call->reply_error,
                                      &error))
    {
      g_dbus_method_invocation_return_gerror (call->invocation, error);
      call_free (call);
      return;
    }
  call->subject_uid = uid;
  call->reply = g_variant_ref_sink (g_variant_new ("(du)", rate, samples));
  decide_record (call, answer_record);
}

static gboolean
check_growth (PymemdDbusService *self, GVariant *parameters, GError **error)
{
  guint pid;
  guint64 start_time;
  double window;

  g_variant_get (parameters, "(utd)", &pid, &start_time, &window);
  if (!check_pid (pid, FALSE, error))
    return FALSE;
  if (!isfinite (window) || window < GROWTH_MIN_WINDOW || window > GROWTH_MAX_WINDOW)
    return invalid_args (error, _("window is 60 to 604800 seconds"));
  return TRUE;
}

static gboolean
handle_get_growth (PymemdDbusMonitor1 *manager, GDBusMethodInvocation *invocation, guint pid,
                   guint64 start_time, double window, PymemdDbusService *self)
{
  PymemdScanner *scanner = pymemd_monitor_get_scanner (self->monitor);
  PymemdHistorySettings settings;
  PymemdProcess *live;
  Call *call;
  double rate = 0;
  guint samples = 0;

  call = call_new (self, invocation);
  call->pid = pid;
  call->start_time = start_time = resolve_start_time (self, pid, start_time);
  live = pymemd_monitor_find (self->monitor, pid);
  pymemd_config_get_history (self->config, &settings);
  /* The configured window of a living process was measured this minute. */
  if (live != NULL && pymemd_process_get_start_time (live) == start_time &&
      (gint64) (window * SECOND_US) == settings.growth_window_us &&
      pymemd_recorder_lookup_growth (self->recorder, (gint32) pid, start_time, &rate, &samples))
    {
      call->subject_uid = pymemd_viewer_recorded_owner (live);
      call->reply = g_variant_ref_sink (g_variant_new ("(du)", rate, samples));
      decide_record (call, answer_record);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  pymemd_recorder_growth_async (self->recorder, pymemd_scanner_get_boot_id (scanner), (gint32) pid, start_time,
                                (gint64) (window * SECOND_US), growth_done, call);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- heap summaries ---- */

#define HEAP_MAX_SUMMARIES 1000

static gboolean
read_heap_options (GVariant *options, PymemdHeapRequest *request, gboolean *attach, guint *holders, GError **error)
{
  GVariantIter iter;
  const char *key;
  GVariant *value;
  gboolean retained = FALSE;
  guint32 listed = 20;

  pymemd_heap_request_init (request);
  *attach = FALSE;
  g_variant_iter_init (&iter, options);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      /* Ours whichever way the loop ends (g_variant_iter_loop's would leak
       * on the returns below). */
      g_autoptr(GVariant) owned = value;
      gboolean ok;

      if (g_str_equal (key, "attach"))
        ok = g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN) && ((*attach = g_variant_get_boolean (value)), TRUE);
      else if (g_str_equal (key, "collect"))
        ok = g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN) &&
             ((request->collect = g_variant_get_boolean (value)), TRUE);
      else if (g_str_equal (key, "trace"))
        ok = g_variant_is_of_type (value, G_VARIANT_TYPE_INT32) && (request->trace = g_variant_get_int32 (value)) >= -1 &&
             request->trace <= 100;
      else if (g_str_equal (key, "top"))
        ok = g_variant_is_of_type (value, G_VARIANT_TYPE_UINT32) && (request->top = g_variant_get_uint32 (value)) >= 1 &&
             request->top <= PYMEMD_HEAP_SUMMARY_MAX_TYPES;
      else if (g_str_equal (key, "sites"))
        ok = g_variant_is_of_type (value, G_VARIANT_TYPE_UINT32) &&
             (request->sites = g_variant_get_uint32 (value)) <= PYMEMD_HEAP_SUMMARY_MAX_SITES;
      else if (g_str_equal (key, "budget"))
        ok = g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE) && isfinite (request->budget = g_variant_get_double (value)) &&
             request->budget >= 0.05 && request->budget <= 60;
      else if (g_str_equal (key, "retained"))
        ok = g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN) && ((retained = g_variant_get_boolean (value)), TRUE);
      else if (g_str_equal (key, "holders"))
        ok = g_variant_is_of_type (value, G_VARIANT_TYPE_UINT32) && (listed = g_variant_get_uint32 (value)) >= 1 &&
             listed <= PYMEMD_HEAP_MAX_HOLDERS;
      else
        {
          g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS, _("Unknown option “%s”"), key);
          return FALSE;
        }
      if (!ok)
        {
          g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS,
                       _("Option “%s” has the wrong type or is out of range (attach b, collect b, trace i -1..100, "
                         "top u 1..1000, sites u 0..1000, budget d 0.05..60, retained b, holders u 1..200)"),
                       key);
          return FALSE;
        }
    }
  *holders = retained ? listed : 0;
  return TRUE;
}

static void
heap_done (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(Call) call = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) summary = pymemd_heap_broker_get_summary_finish (PYMEMD_HEAP_BROKER (source), result, &error);

  if (summary == NULL)
    g_dbus_method_invocation_return_gerror (call->invocation, error);
  else
    g_dbus_method_invocation_return_value (call->invocation, g_variant_new ("(@a{sv})", summary));
}

static gboolean
check_heap_summary (PymemdDbusService *self, GVariant *parameters, GError **error)
{
  g_autoptr(GVariant) options = NULL;
  PymemdHeapRequest request;
  gboolean attach;
  guint pid, holders;
  guint64 start_time;

  g_variant_get (parameters, "(ut@a{sv})", &pid, &start_time, &options);
  return check_pid (pid, FALSE, error) && read_heap_options (options, &request, &attach, &holders, error);
}

/* The gate has just found the process as asked, and let the caller look
 * into it (PYMEMD_NEED_ATTACH). */
static gboolean
handle_get_heap_summary (PymemdDbusMonitor1 *manager, GDBusMethodInvocation *invocation, guint pid,
                         guint64 start_time, GVariant *options, PymemdDbusService *self)
{
  PymemdProcess *process = pymemd_monitor_find (self->monitor, pid);
  Call *call = call_new (self, invocation);

  call->pid = pid;
  /* Checked at the gate: cannot fail. */
  read_heap_options (options, &call->heap_request, &call->attach, &call->holders, NULL);
  pymemd_heap_broker_get_summary_async (self->broker, process, &call->heap_request, call->attach, call->holders,
                                        pymemd_method_access_get_viewer (invocation)->uid, heap_done, call);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
heap_list_done (GObject *source, GAsyncResult *result, gpointer data)
{
  Call *call = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdRecorderHeapSummaries) answer =
    pymemd_recorder_list_heap_summaries_finish (PYMEMD_RECORDER (source), result, &error);
  GVariantBuilder builder;

  if (answer == NULL)
    {
      g_dbus_method_invocation_return_gerror (call->invocation, error);
      call_free (call);
      return;
    }
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("aa{sv}"));
  /* The newest, when there are more than a reply should carry. */
  for (guint i = answer->summaries->len > HEAP_MAX_SUMMARIES ? answer->summaries->len - HEAP_MAX_SUMMARIES : 0;
       i < answer->summaries->len; i++)
    {
      const PymemdHistoryHeapSummary *kept = g_ptr_array_index (answer->summaries, i);
      g_autoptr(GError) record_error = NULL;
      g_autoptr(GVariant) summary = pymemd_heap_broker_variant_from_record (kept->summary, &record_error);

      if (summary == NULL)
        g_debug ("Heap summary of %u at %lld skipped: %s", call->pid, (long long) kept->t, record_error->message);
      else
        g_variant_builder_add_value (&builder, summary);
    }
  call->subject_uid = answer->uid;
  call->reply = g_variant_ref_sink (g_variant_new ("(@aa{sv})", g_variant_builder_end (&builder)));
  decide_record (call, answer_record);
}

static gboolean
check_heap_summaries (PymemdDbusService *self, GVariant *parameters, GError **error)
{
  guint pid;
  guint64 start_time;
  gint64 since, until;

  g_variant_get (parameters, "(utxx)", &pid, &start_time, &since, &until);
  return check_pid (pid, FALSE, error) && check_span (since, until, error);
}

static gboolean
handle_get_heap_summaries (PymemdDbusMonitor1 *manager, GDBusMethodInvocation *invocation, guint pid,
                           guint64 start_time, gint64 since, gint64 until, PymemdDbusService *self)
{
  PymemdScanner *scanner = pymemd_monitor_get_scanner (self->monitor);
  Call *call;

  if (until == 0)
    until = g_get_real_time ();
  call = call_new (self, invocation);
  call->pid = pid;
  call->start_time = resolve_start_time (self, pid, start_time);
  pymemd_recorder_list_heap_summaries_async (self->recorder, pymemd_scanner_get_boot_id (scanner), (gint32) pid,
                                             call->start_time, since, until, heap_list_done, call);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

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
  pymemd_subscriptions_foreach_wanting (self->subscriptions, process, emit_growth, growth);
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

/* A method's arguments, checked before anything else: bad input is
 * refused before anyone is asked anything. */
static const struct {
  const char *method;
  gboolean  (*check) (PymemdDbusService *self, GVariant *parameters, GError **error);
} argument_checks[] = {
  { "GetIdentities", check_identities },
  { "Subscribe", check_subscribe },
  { "GetHistory", check_history },
  { "GetGrowth", check_growth },
  { "GetEndedProcesses", check_ended_processes },
  { "GetHeapSummaries", check_heap_summaries },
  { "GetHeapSummary", check_heap_summary },
};

static gboolean
check_arguments (PymemdDbusService *self, GDBusMethodInvocation *invocation, GError **error)
{
  const char *method = g_dbus_method_invocation_get_method_name (invocation);

  if (g_strcmp0 (g_dbus_method_invocation_get_interface_name (invocation), PYMEMD_MANAGER_INTERFACE) != 0)
    return TRUE;
  for (guint i = 0; i < G_N_ELEMENTS (argument_checks); i++)
    if (g_str_equal (argument_checks[i].method, method))
      return argument_checks[i].check (self, g_dbus_method_invocation_get_parameters (invocation), error);
  return TRUE;
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

  if (!check_arguments (self, invocation, &error))
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
                               return_details_of, self);

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
  g_clear_pointer (&self->full_reply, g_variant_unref);
  g_clear_pointer (&self->full_samples, g_variant_unref);
  g_clear_pointer (&self->full_breakdowns, g_variant_unref);
  g_clear_pointer (&self->full_table, g_variant_unref);
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
  pymemd_subscriptions_evaluate (self->subscriptions, processes, g_get_monotonic_time (),
                                 emit_memory_changed, self);
}

/* ---- lifecycle ---- */

static void
remove_watch (gpointer data)
{
  g_bus_unwatch_name (GPOINTER_TO_UINT (data));
}

static void
pymemd_dbus_service_finalize (GObject *object)
{
  PymemdDbusService *self = PYMEMD_DBUS_SERVICE (object);

  g_signal_handler_disconnect (self->monitor, self->scanned_id);
  g_signal_handler_disconnect (self->monitor, self->changed_id);
  for (guint i = 0; i < G_N_ELEMENTS (self->recorder_ids); i++)
    g_signal_handler_disconnect (self->recorder, self->recorder_ids[i]);
  g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (self->manager));
  g_hash_table_unref (self->name_watches);
  g_clear_object (&self->config);
  g_hash_table_unref (self->exported);
  g_clear_pointer (&self->full_reply, g_variant_unref);
  g_clear_pointer (&self->full_samples, g_variant_unref);
  g_clear_pointer (&self->full_breakdowns, g_variant_unref);
  g_clear_pointer (&self->full_table, g_variant_unref);
  g_free (self->instance);
  pymemd_subscriptions_free (self->subscriptions);
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
  self->instance = g_uuid_string_random ();
  self->name_watches = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, remove_watch);
}

void
pymemd_dbus_service_set_config (PymemdDbusService *self, PymemdConfig *config)
{
  g_set_object (&self->config, config);

  pymemd_dbus_monitor1_set_interval (self->manager, pymemd_config_get_interval (config));
  pymemd_dbus_monitor1_set_detail_interval (self->manager, pymemd_config_get_detail_interval (config));
  pymemd_subscriptions_set_max_per_client (self->subscriptions,
                                           pymemd_config_get_max_subscriptions_per_client (config));
  pymemd_subscriptions_set_uid_limits (self->subscriptions,
                                       pymemd_config_get_subscriptions_per_uid (config),
                                       pymemd_config_get_pids_per_subscription (config));
  pymemd_rate_limit_set (self->rescan_limit, pymemd_config_get_rescans_per_uid_per_minute (config),
                         60);
}

guint
pymemd_dbus_service_get_subscription_count (PymemdDbusService *self)
{
  return pymemd_subscriptions_count (self->subscriptions);
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
  self->subscriptions = pymemd_subscriptions_new (16);
  self->rescan_limit = pymemd_rate_limit_new (
    pymemd_config_get_rescans_per_uid_per_minute (config), 60, NULL,
    NULL);
  self->gate = (PymemdMethodGate) { pymemd_method_access_table, pymemd_method_access_table_length,
                                    authorize_method, self };
  self->manager = PYMEMD_DBUS_MONITOR1 (pymemd_manager_new (&self->gate));
  pymemd_dbus_monitor1_set_version (self->manager, PACKAGE_VERSION);
  pymemd_dbus_monitor1_set_boot_id (self->manager, pymemd_scanner_get_boot_id (scanner));
  pymemd_dbus_monitor1_set_totals (self->manager, pymemd_view_counters_variant (&(PymemdCounters) { { 0 }, 0 }));
  pymemd_dbus_monitor1_set_python_set (self->manager, python_set_variant (NULL));
  pymemd_dbus_service_set_config (self, config);

  g_signal_connect (self->manager, "handle-get-processes", G_CALLBACK (handle_get_processes), self);
  g_signal_connect (self->manager, "handle-get-samples", G_CALLBACK (handle_get_samples), self);
  g_signal_connect (self->manager, "handle-get-table", G_CALLBACK (handle_get_table), self);
  g_signal_connect (self->manager, "handle-get-identities", G_CALLBACK (handle_get_identities), self);
  g_signal_connect (self->manager, "handle-get-breakdowns", G_CALLBACK (handle_get_breakdowns), self);
  g_signal_connect (self->manager, "handle-get-statistics", G_CALLBACK (handle_get_statistics), self);
  g_signal_connect (self->manager, "handle-get-process-details",
                    G_CALLBACK (handle_get_process_details), self);
  g_signal_connect (self->manager, "handle-rescan", G_CALLBACK (handle_rescan), self);
  g_signal_connect (self->manager, "handle-subscribe", G_CALLBACK (handle_subscribe), self);
  g_signal_connect (self->manager, "handle-unsubscribe", G_CALLBACK (handle_unsubscribe), self);
  g_signal_connect (self->manager, "handle-get-history", G_CALLBACK (handle_get_history), self);
  g_signal_connect (self->manager, "handle-get-ended-processes", G_CALLBACK (handle_get_ended_processes), self);
  g_signal_connect (self->manager, "handle-get-growth", G_CALLBACK (handle_get_growth), self);
  g_signal_connect (self->manager, "handle-get-heap-summary", G_CALLBACK (handle_get_heap_summary), self);
  g_signal_connect (self->manager, "handle-get-heap-summaries", G_CALLBACK (handle_get_heap_summaries), self);
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
