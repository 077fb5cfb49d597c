/* org.pymemd.Monitor1 as exported: the generated skeleton, its method calls passed through the access gate, then answered here from the monitor, the recorder and the heap broker. */
#include "config.h"

#include <math.h>

#include <glib/gi18n.h>

#include "pymemd-error.h"
#include "pymemd-heap-summary.h"
#include "pymemd-manager.h"
#include "pymemd-names.h"
#include "pymemd-view.h"

struct _PymemdManager
{
  PymemdDbusMonitor1Skeleton parent_instance;
  /* What the handlers answer from (pymemd_manager_set_sources ()). */
  GDBusConnection     *connection;
  PymemdMonitor       *monitor;
  PymemdAuth          *auth;
  PymemdRecorder      *recorder;
  PymemdHeapBroker    *broker;        /* NULL: no helper socket */
  PymemdConfig        *config;
  /* Subscribe's, and the bus names of their subscribers, watched so that
   * one that leaves takes its subscriptions with it. */
  PymemdSubscriptions *subscriptions;
  GHashTable          *name_watches;  /* sender -> watch id */
  GVariant            *full_reply;      /* GetProcesses as root sees it, this tick */
  GVariant            *full_samples;    /* GetSamples likewise */
  GVariant            *full_breakdowns; /* GetBreakdowns likewise */
  GVariant            *full_table;      /* GetTable likewise */
  char                *instance;        /* this run, for the clients' identity caches */
};

static void manager_iface_init (PymemdDbusMonitor1Iface *iface);

G_DEFINE_TYPE_WITH_CODE (PymemdManager, pymemd_manager, PYMEMD_DBUS_TYPE_MONITOR1_SKELETON,
                         G_IMPLEMENT_INTERFACE (PYMEMD_DBUS_TYPE_MONITOR1, manager_iface_init))

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
proc_visibility (PymemdManager *self)
{
  return pymemd_procfs_get_visibility (pymemd_scanner_get_procfs (pymemd_monitor_get_scanner (self->monitor)));
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

/* ---- method calls: the gate (pymemd-dbus.c) has decided what the caller may before a handler runs ---- */

#define SUBJECT_ANYONE (-2)

typedef struct _Call {
  PymemdManager         *self;
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
call_new (PymemdManager *self, GDBusMethodInvocation *invocation)
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
view_of (PymemdManager *self, const PymemdViewer *viewer, PymemdProcess *process)
{
  return viewer != NULL ? pymemd_viewer_get_view (viewer, proc_visibility (self), process) : PYMEMD_VIEW_DETAIL;
}

static GVariant *
build_processes (PymemdManager *self, const PymemdViewer *viewer)
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
typedef GVariant *(*BuildReply) (PymemdManager *self, const PymemdViewer *viewer);

/* Whoever sees every process gets the same answer until the next scan:
 * built and serialised once into CACHE, not per call. */
static gboolean
return_view (PymemdManager *self, GDBusMethodInvocation *invocation, GVariant **cache, BuildReply build)
{
  const PymemdViewer *viewer = pymemd_method_access_get_viewer (invocation);

  if (!pymemd_viewer_may_see_all (viewer, pymemd_monitor_get_processes (self->monitor)))
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
build_samples (PymemdManager *self, const PymemdViewer *viewer)
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
build_table (PymemdManager *self, const PymemdViewer *viewer)
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
handle_get_table (PymemdDbusMonitor1 *object, GDBusMethodInvocation *invocation)
{
  PymemdManager *self = PYMEMD_MANAGER (object);

  return return_view (self, invocation, &self->full_table, build_table);
}

/* At most this many processes in one GetIdentities: more than any host
 * runs interpreters, and a bound on what one call makes the daemon do. */
#define MAX_IDENTITIES_ASKED 65536

static gboolean
check_identities (GVariant *parameters, GError **error)
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
handle_get_identities (PymemdDbusMonitor1 *object, GDBusMethodInvocation *invocation,
                       GVariant *processes)
{
  PymemdManager *self = PYMEMD_MANAGER (object);
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
build_breakdowns (PymemdManager *self, const PymemdViewer *viewer)
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
handle_get_breakdowns (PymemdDbusMonitor1 *object, GDBusMethodInvocation *invocation)
{
  PymemdManager *self = PYMEMD_MANAGER (object);

  return return_view (self, invocation, &self->full_breakdowns, build_breakdowns);
}

/* The daemon's own figures are everyone's (PYMEMD_NEED_NOTHING). */
static gboolean
handle_get_statistics (PymemdDbusMonitor1 *object, GDBusMethodInvocation *invocation)
{
  PymemdManager *self = PYMEMD_MANAGER (object);
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
  pymemd_dbus_monitor1_complete_get_statistics (object, invocation, g_variant_dict_end (&dict));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_get_samples (PymemdDbusMonitor1 *object, GDBusMethodInvocation *invocation)
{
  PymemdManager *self = PYMEMD_MANAGER (object);

  return return_view (self, invocation, &self->full_samples, build_samples);
}

static gboolean
handle_get_processes (PymemdDbusMonitor1 *object, GDBusMethodInvocation *invocation)
{
  PymemdManager *self = PYMEMD_MANAGER (object);

  return return_view (self, invocation, &self->full_reply, build_processes);
}

/* The gate has just found PID's process, and the caller may see it in
 * detail (PYMEMD_NEED_SEE_TARGET). */
static gboolean
return_details (PymemdManager *self, GDBusMethodInvocation *invocation, guint pid)
{
  PymemdProcess *process = pymemd_monitor_find (self->monitor, pid);

  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(@a{sv})", details_variant (process)));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_get_process_details (PymemdDbusMonitor1 *object, GDBusMethodInvocation *invocation,
                            guint pid)
{
  PymemdManager *self = PYMEMD_MANAGER (object);

  return return_details (self, invocation, pid);
}

gboolean
pymemd_manager_answer_details (GDBusMethodInvocation *invocation, guint pid, gpointer manager)
{
  return return_details (manager, invocation, pid);
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
handle_rescan (PymemdDbusMonitor1 *object, GDBusMethodInvocation *invocation)
{
  PymemdManager *self = PYMEMD_MANAGER (object);

  pymemd_monitor_rescan_async (self->monitor, rescan_done, g_object_ref (invocation));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
on_subscriber_vanished (GDBusConnection *connection, const char *name, gpointer data)
{
  PymemdManager *self = data;
  guint n = pymemd_subscriptions_remove_sender (self->subscriptions, name);

  g_debug ("%s left the bus: %u subscriptions dropped", name, n);
  g_hash_table_remove (self->name_watches, name);
}

static void
watch_sender (PymemdManager *self, const char *sender)
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
check_subscribe (GVariant *parameters, GError **error)
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
handle_subscribe (PymemdDbusMonitor1 *object, GDBusMethodInvocation *invocation,
                  GVariant *options)
{
  PymemdManager *self = PYMEMD_MANAGER (object);
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
  pymemd_dbus_monitor1_complete_subscribe (object, invocation, id);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_unsubscribe (PymemdDbusMonitor1 *object, GDBusMethodInvocation *invocation, guint id)
{
  PymemdManager *self = PYMEMD_MANAGER (object);
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
  pymemd_dbus_monitor1_complete_unsubscribe (object, invocation);
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
resolve_start_time (PymemdManager *self, guint pid, guint64 start_time)
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
check_history (GVariant *parameters, GError **error)
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
handle_get_history (PymemdDbusMonitor1 *object, GDBusMethodInvocation *invocation, guint pid,
                    guint64 start_time, gint64 since, gint64 until, double resolution)
{
  PymemdManager *self = PYMEMD_MANAGER (object);
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
check_ended_processes (GVariant *parameters, GError **error)
{
  gint64 since;

  g_variant_get (parameters, "(x)", &since);
  return since >= 0 || invalid_args (error, _("since is µs since the epoch"));
}

static gboolean
handle_get_ended_processes (PymemdDbusMonitor1 *object, GDBusMethodInvocation *invocation, gint64 since)
{
  PymemdManager *self = PYMEMD_MANAGER (object);

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
check_growth (GVariant *parameters, GError **error)
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
handle_get_growth (PymemdDbusMonitor1 *object, GDBusMethodInvocation *invocation, guint pid,
                   guint64 start_time, double window)
{
  PymemdManager *self = PYMEMD_MANAGER (object);
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
check_heap_summary (GVariant *parameters, GError **error)
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
handle_get_heap_summary (PymemdDbusMonitor1 *object, GDBusMethodInvocation *invocation, guint pid,
                         guint64 start_time, GVariant *options)
{
  PymemdManager *self = PYMEMD_MANAGER (object);
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
check_heap_summaries (GVariant *parameters, GError **error)
{
  guint pid;
  guint64 start_time;
  gint64 since, until;

  g_variant_get (parameters, "(utxx)", &pid, &start_time, &since, &until);
  return check_pid (pid, FALSE, error) && check_span (since, until, error);
}

static gboolean
handle_get_heap_summaries (PymemdDbusMonitor1 *object, GDBusMethodInvocation *invocation, guint pid,
                           guint64 start_time, gint64 since, gint64 until)
{
  PymemdManager *self = PYMEMD_MANAGER (object);
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

/* ---- the arguments, checked at the gate ---- */

/* A method's arguments, checked before anything else: bad input is
 * refused before anyone is asked anything. */
static const struct {
  const char *method;
  gboolean  (*check) (GVariant *parameters, GError **error);
} argument_checks[] = {
  { "GetIdentities", check_identities },
  { "Subscribe", check_subscribe },
  { "GetHistory", check_history },
  { "GetGrowth", check_growth },
  { "GetEndedProcesses", check_ended_processes },
  { "GetHeapSummaries", check_heap_summaries },
  { "GetHeapSummary", check_heap_summary },
};

gboolean
pymemd_manager_check_arguments (GDBusMethodInvocation *invocation, GError **error)
{
  const char *method = g_dbus_method_invocation_get_method_name (invocation);

  if (g_strcmp0 (g_dbus_method_invocation_get_interface_name (invocation), PYMEMD_MANAGER_INTERFACE) != 0)
    return TRUE;
  for (guint i = 0; i < G_N_ELEMENTS (argument_checks); i++)
    if (g_str_equal (argument_checks[i].method, method))
      return argument_checks[i].check (g_dbus_method_invocation_get_parameters (invocation), error);
  return TRUE;
}

/* ---- the type ---- */

static void
manager_iface_init (PymemdDbusMonitor1Iface *iface)
{
  iface->handle_get_processes = handle_get_processes;
  iface->handle_get_samples = handle_get_samples;
  iface->handle_get_table = handle_get_table;
  iface->handle_get_identities = handle_get_identities;
  iface->handle_get_breakdowns = handle_get_breakdowns;
  iface->handle_get_statistics = handle_get_statistics;
  iface->handle_get_process_details = handle_get_process_details;
  iface->handle_rescan = handle_rescan;
  iface->handle_subscribe = handle_subscribe;
  iface->handle_unsubscribe = handle_unsubscribe;
  iface->handle_get_history = handle_get_history;
  iface->handle_get_ended_processes = handle_get_ended_processes;
  iface->handle_get_growth = handle_get_growth;
  iface->handle_get_heap_summary = handle_get_heap_summary;
  iface->handle_get_heap_summaries = handle_get_heap_summaries;
}

static void
remove_watch (gpointer data)
{
  g_bus_unwatch_name (GPOINTER_TO_UINT (data));
}

static void
pymemd_manager_finalize (GObject *object)
{
  PymemdManager *self = PYMEMD_MANAGER (object);

  g_hash_table_unref (self->name_watches);
  pymemd_subscriptions_free (self->subscriptions);
  pymemd_manager_forget_replies (self);
  g_free (self->instance);
  g_clear_object (&self->config);
  g_clear_object (&self->broker);
  g_clear_object (&self->recorder);
  g_clear_object (&self->auth);
  g_clear_object (&self->monitor);
  g_clear_object (&self->connection);
  G_OBJECT_CLASS (pymemd_manager_parent_class)->finalize (object);
}

static void
pymemd_manager_class_init (PymemdManagerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pymemd_manager_finalize;
  pymemd_method_gate_hook_class (G_DBUS_INTERFACE_SKELETON_CLASS (klass));
}

static void
pymemd_manager_init (PymemdManager *self)
{
  self->subscriptions = pymemd_subscriptions_new (16);
  self->name_watches = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, remove_watch);
  self->instance = g_uuid_string_random ();
}

PymemdManager *
pymemd_manager_new (const PymemdMethodGate *gate)
{
  PymemdManager *self = g_object_new (PYMEMD_TYPE_MANAGER, NULL);

  pymemd_method_gate_set (G_DBUS_INTERFACE_SKELETON (self), gate);
  return self;
}

void
pymemd_manager_set_sources (PymemdManager *self, GDBusConnection *connection, PymemdMonitor *monitor,
                            PymemdAuth *auth, PymemdRecorder *recorder, PymemdHeapBroker *broker)
{
  g_set_object (&self->connection, connection);
  g_set_object (&self->monitor, monitor);
  g_set_object (&self->auth, auth);
  g_set_object (&self->recorder, recorder);
  g_set_object (&self->broker, broker);
}

void
pymemd_manager_set_config (PymemdManager *self, PymemdConfig *config)
{
  g_set_object (&self->config, config);
  pymemd_subscriptions_set_max_per_client (self->subscriptions,
                                           pymemd_config_get_max_subscriptions_per_client (config));
  pymemd_subscriptions_set_uid_limits (self->subscriptions,
                                       pymemd_config_get_subscriptions_per_uid (config),
                                       pymemd_config_get_pids_per_subscription (config));
}

PymemdSubscriptions *
pymemd_manager_get_subscriptions (PymemdManager *self)
{
  return self->subscriptions;
}

void
pymemd_manager_forget_replies (PymemdManager *self)
{
  g_clear_pointer (&self->full_reply, g_variant_unref);
  g_clear_pointer (&self->full_samples, g_variant_unref);
  g_clear_pointer (&self->full_breakdowns, g_variant_unref);
  g_clear_pointer (&self->full_table, g_variant_unref);
}
