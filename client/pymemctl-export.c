/* pymemctl export: every interpreter's figures, the totals and the daemon's own in Prometheus's text format, on stdout or written atomically into a file for node-exporter's textfile collector. */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "pymemctl-commands.h"
#include "pymemctl-metrics.h"
#include "pymemctl-util.h"

/* About 50 series a process (20 figures, 27 by category, 4 by sharing):
 * 100 processes stay near 5000 series, what one scrape target should not
 * pass by much. */
#define DEFAULT_MAX_PROCESSES 100
#define MAX_MAX_PROCESSES     100000

/* The HELP texts are part of the metrics, not of pymemctl's user
 * interface: in English whatever the locale, so that every host of a
 * fleet exports the same metadata (Prometheus keeps one per family). */

/* The figures of GetProcesses and of the Totals property. EVERYONE: what
 * /proc/PID/status shows every user, so exported for every process. */
static const struct {
  const char *key;
  const char *what;
  gboolean    everyone;
} figures[] = {
  { "rss", "resident memory (VmRSS)", TRUE },
  { "pss", "proportional set size (PSS): resident pages, each divided among the processes that map it", FALSE },
  { "pss_dirty", "dirty part of the PSS", FALSE },
  { "pss_anon", "anonymous part of the PSS", FALSE },
  { "pss_file", "file-backed part of the PSS", FALSE },
  { "pss_shmem", "shared memory part of the PSS", FALSE },
  { "uss", "unique set size (USS): private clean and private dirty pages", FALSE },
  { "shared_clean", "clean pages that other processes map too", FALSE },
  { "shared_dirty", "dirty pages that other processes map too", FALSE },
  { "private_clean", "clean pages no other process maps", FALSE },
  { "private_dirty", "dirty pages no other process maps", FALSE },
  { "anonymous", "anonymous memory", FALSE },
  { "swap", "memory swapped out (VmSwap)", TRUE },
  { "swap_pss", "swap, each page divided among the processes that map it", FALSE },
  { "locked", "locked memory", FALSE },
  { "exact_uss", "USS from page frame map counts (the exact pass)", FALSE },
  { "exact_pss", "PSS from page frame map counts (the exact pass)", FALSE },
};

/* The figures of GetBreakdowns exported per category. */
static const struct {
  const char *key;
  const char *what;
} category_figures[] = {
  { "pss", "PSS" },
  { "private_dirty", "private dirty memory" },
  { "swap", "swap" },
};

static const char *const history_states[] = { "ok", "degraded", "disabled" };

typedef struct {
  PymemctlMetrics *metrics;
  GHashTable      *users; /* uid -> user name */
} Export;

static guint
declare_bytes (Export *export, const char *name, const char *help)
{
  return pymemctl_metrics_declare (export->metrics, name, PYMEMCTL_METRIC_GAUGE, "bytes", help);
}

static void
add_if (Export *export, guint family, const char *labels, GVariant *dict, const char *key)
{
  guint64 value;

  if (pymemctl_lookup_size (dict, key, &value))
    pymemctl_metrics_add_count (export->metrics, family, labels, value);
}

/* ---- the daemon ---- */

static void
add_statistics (Export *export, GVariant *statistics)
{
  static const struct {
    const char        *key;
    const char        *name;
    PymemctlMetricType type;
    const char        *unit;
    const char        *help;
  } entries[] = {
    { "scans", "pymemd_daemon_scans_total", PYMEMCTL_METRIC_COUNTER, NULL,
      "Scans pymemd has run since it started (rollup ticks and full passes)" },
    { "full_scans", "pymemd_daemon_full_scans_total", PYMEMCTL_METRIC_COUNTER, NULL,
      "Full passes (discovery, detail and exact) pymemd has run since it started" },
    { "scan_seconds", "pymemd_daemon_scan_seconds_total", PYMEMCTL_METRIC_COUNTER, "seconds",
      "Time pymemd has spent scanning since it started" },
    { "last_scan_seconds", "pymemd_daemon_last_scan_duration_seconds", PYMEMCTL_METRIC_GAUGE, "seconds",
      "How long pymemd's last scan took" },
    { "last_full_scan_seconds", "pymemd_daemon_last_full_scan_duration_seconds", PYMEMCTL_METRIC_GAUGE,
      "seconds", "How long pymemd's last full pass took" },
    { "cpu_seconds", "pymemd_daemon_cpu_seconds_total", PYMEMCTL_METRIC_COUNTER, "seconds",
      "User and system CPU time pymemd has used since it started" },
    { "resident", "pymemd_daemon_resident_memory_bytes", PYMEMCTL_METRIC_GAUGE, "bytes",
      "pymemd's own resident memory" },
    { "subscriptions", "pymemd_daemon_subscriptions", PYMEMCTL_METRIC_GAUGE, NULL,
      "Subscriptions to MemoryChanged that pymemd serves" },
    { "started_at", "pymemd_daemon_start_time_seconds", PYMEMCTL_METRIC_GAUGE, "seconds",
      "When pymemd started, in seconds since the epoch" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (entries); i++)
    {
      guint family = pymemctl_metrics_declare (export->metrics, entries[i].name, entries[i].type,
                                               entries[i].unit, entries[i].help);
      g_autoptr(GVariant) value = g_variant_lookup_value (statistics, entries[i].key, NULL);

      if (value == NULL)
        continue;
      if (g_variant_is_of_type (value, G_VARIANT_TYPE_UINT64))
        pymemctl_metrics_add_count (export->metrics, family, NULL, g_variant_get_uint64 (value));
      else if (g_variant_is_of_type (value, G_VARIANT_TYPE_UINT32))
        pymemctl_metrics_add_count (export->metrics, family, NULL, g_variant_get_uint32 (value));
      else if (g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE))
        pymemctl_metrics_add (export->metrics, family, NULL, g_variant_get_double (value));
      else if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT64)) /* µs since the epoch */
        pymemctl_metrics_add (export->metrics, family, NULL, (double) g_variant_get_int64 (value) / G_USEC_PER_SEC);
    }
}

static void
add_daemon (Export *export, PymemdDbusMonitor1 *monitor, GVariant *statistics)
{
  PymemctlMetrics *metrics = export->metrics;
  const char *version = pymemd_dbus_monitor1_get_version (monitor);
  const char *state = pymemd_dbus_monitor1_get_history_state (monitor);
  g_autoptr(GString) labels = g_string_new (NULL);
  guint family;
  gboolean known_state = FALSE;

  pymemctl_metrics_append_label (labels, "version", version != NULL ? version : "");
  family = pymemctl_metrics_declare (metrics, "pymemd_daemon_info", PYMEMCTL_METRIC_GAUGE, NULL,
                                     "pymemd's version, in the label (the value is 1)");
  pymemctl_metrics_add (metrics, family, labels->str, 1);
  family = pymemctl_metrics_declare (metrics, "pymemd_daemon_processes", PYMEMCTL_METRIC_GAUGE, NULL,
                                     "Python processes pymemd watches");
  pymemctl_metrics_add_count (metrics, family, NULL, pymemd_dbus_monitor1_get_process_count (monitor));
  family = pymemctl_metrics_declare (metrics, "pymemd_daemon_interval_seconds", PYMEMCTL_METRIC_GAUGE, "seconds",
                                     "Seconds between pymemd's rollup ticks");
  pymemctl_metrics_add (metrics, family, NULL, pymemd_dbus_monitor1_get_interval (monitor));
  family = pymemctl_metrics_declare (metrics, "pymemd_daemon_detail_interval_seconds", PYMEMCTL_METRIC_GAUGE,
                                     "seconds", "Seconds between pymemd's detail and exact passes");
  pymemctl_metrics_add (metrics, family, NULL, pymemd_dbus_monitor1_get_detail_interval (monitor));
  add_statistics (export, statistics);
  family = pymemctl_metrics_declare (metrics, "pymemd_exact_available", PYMEMCTL_METRIC_GAUGE, NULL,
                                     "1 when pymemd can read page frame counts (the exact pass runs), else 0");
  pymemctl_metrics_add (metrics, family, NULL, pymemd_dbus_monitor1_get_exact_available (monitor) ? 1 : 0);

  family = pymemctl_metrics_declare (metrics, "pymemd_history_state", PYMEMCTL_METRIC_GAUGE, NULL,
                                     "pymemd's history store: 1 for the state it is in (ok: written to its file; "
                                     "degraded: kept in memory until the file can be written; disabled), else 0");
  for (guint i = 0; i < G_N_ELEMENTS (history_states); i++)
    {
      g_autoptr(GString) state_label = g_string_new (NULL);

      pymemctl_metrics_append_label (state_label, "state", history_states[i]);
      known_state |= g_strcmp0 (state, history_states[i]) == 0;
      pymemctl_metrics_add (metrics, family, state_label->str, g_strcmp0 (state, history_states[i]) == 0);
    }
  if (!known_state && state != NULL && *state != '\0')
    {
      g_autoptr(GString) state_label = g_string_new (NULL);

      pymemctl_metrics_append_label (state_label, "state", state);
      pymemctl_metrics_add (metrics, family, state_label->str, 1);
    }
  family = declare_bytes (export, "pymemd_history_size_bytes",
                          "Size of pymemd's history file with its write-ahead log (0 when not on disk)");
  pymemctl_metrics_add_count (metrics, family, NULL, pymemd_dbus_monitor1_get_history_size (monitor));
}

static void
add_totals (Export *export, PymemdDbusMonitor1 *monitor)
{
  GVariant *totals = pymemd_dbus_monitor1_get_totals (monitor);
  GVariant *python_set = pymemd_dbus_monitor1_get_python_set (monitor);
  static const struct {
    const char *key;
    const char *name;
    const char *help;
  } set[] = {
    { "shared_only_python", "pymemd_python_shared_only_bytes",
      "Memory that two or more Python processes map and no other process does (the exact pass)" },
    { "freed_if_all_exit", "pymemd_python_freed_if_all_exit_bytes",
      "Memory that only Python processes map: freed if every one of them exited (the exact pass)" },
    { "freed_if_all_exit_anonymous", "pymemd_python_freed_if_all_exit_anonymous_bytes",
      "The anonymous part of pymemd_python_freed_if_all_exit_bytes: RAM rather than page cache" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (figures); i++)
    {
      g_autofree char *name = g_strdup_printf ("pymemd_total_%s_bytes", figures[i].key);
      g_autofree char *help = g_strdup_printf ("Sum over every Python process pymemd watches, whoever may "
                                               "see it, of: %s",
                                               figures[i].what);

      add_if (export, declare_bytes (export, name, help), NULL, totals, figures[i].key);
    }
  for (guint i = 0; i < G_N_ELEMENTS (set); i++)
    add_if (export, declare_bytes (export, set[i].name, set[i].help), NULL, python_set, set[i].key);
}

/* ---- the processes ---- */

static const char *
user_name (Export *export, guint32 uid)
{
  char *name = g_hash_table_lookup (export->users, GUINT_TO_POINTER (uid));

  if (name == NULL)
    {
      name = pymemctl_user_name (uid);
      g_hash_table_insert (export->users, GUINT_TO_POINTER (uid), name);
    }
  return name;
}

/* pid, start_time, uid, user, name, python_version: what tells a process
 * from another, and what a person looks for in a query's answer. */
static GString *
process_labels (Export *export, GVariant *entry)
{
  GString *labels = g_string_new (NULL);
  guint32 pid = 0, uid = 0;
  guint64 start_time = 0;
  const char *name = "", *version = "";
  char number[24];

  g_variant_lookup (entry, "pid", "u", &pid);
  g_variant_lookup (entry, "start_time", "t", &start_time);
  g_variant_lookup (entry, "uid", "u", &uid);
  g_variant_lookup (entry, "name", "&s", &name);
  g_variant_lookup (entry, "python_version", "&s", &version);
  g_snprintf (number, sizeof number, "%u", pid);
  pymemctl_metrics_append_label (labels, "pid", number);
  g_snprintf (number, sizeof number, "%" G_GUINT64_FORMAT, start_time);
  pymemctl_metrics_append_label (labels, "start_time", number);
  g_snprintf (number, sizeof number, "%u", uid);
  pymemctl_metrics_append_label (labels, "uid", number);
  pymemctl_metrics_append_label (labels, "user", user_name (export, uid));
  pymemctl_metrics_append_label (labels, "name", name);
  pymemctl_metrics_append_label (labels, "python_version", version);
  return labels;
}

/* The reply of GetBreakdowns, taken apart. */
typedef struct {
  gsize          n;
  const guint32 *pid;
  const guint64 *start_time;
  const char   **categories; /* the strings point into REPLY */
  gsize          n_categories;
  const char   **figures;
  gsize          n_figures;
  const guint64 *values;
  const char   **buckets;
  gsize          n_buckets;
  const guint8  *exact;
  const guint64 *sharing;
  GHashTable    *by_pid; /* pid -> index + 1 */
  GVariant      *columns[8];
} Breakdowns;

static void
breakdowns_clear (Breakdowns *b)
{
  g_free (b->categories);
  g_free (b->figures);
  g_free (b->buckets);
  g_clear_pointer (&b->by_pid, g_hash_table_unref);
  for (guint i = 0; i < G_N_ELEMENTS (b->columns); i++)
    g_clear_pointer (&b->columns[i], g_variant_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Breakdowns, breakdowns_clear)

/* FALSE when the columns do not have the lengths their names promise:
 * not this daemon's reply. */
static gboolean
breakdowns_init (Breakdowns *b, GVariant *reply, GError **error)
{
  gsize n_start, n_values, n_exact, n_sharing;

  memset (b, 0, sizeof *b);
  for (guint i = 0; i < G_N_ELEMENTS (b->columns); i++)
    b->columns[i] = g_variant_get_child_value (reply, i);
  b->pid = g_variant_get_fixed_array (b->columns[0], &b->n, sizeof (guint32));
  b->start_time = g_variant_get_fixed_array (b->columns[1], &n_start, sizeof (guint64));
  b->categories = g_variant_get_strv (b->columns[2], &b->n_categories);
  b->figures = g_variant_get_strv (b->columns[3], &b->n_figures);
  b->values = g_variant_get_fixed_array (b->columns[4], &n_values, sizeof (guint64));
  b->buckets = g_variant_get_strv (b->columns[5], &b->n_buckets);
  b->exact = g_variant_get_fixed_array (b->columns[6], &n_exact, sizeof (guint8));
  b->sharing = g_variant_get_fixed_array (b->columns[7], &n_sharing, sizeof (guint64));
  b->by_pid = g_hash_table_new (NULL, NULL);
  if (n_start != b->n || n_exact != b->n || b->n_categories > 64 || b->n_figures > 64 || b->n_buckets > 64 ||
      n_values != b->n * b->n_categories * b->n_figures || n_sharing != b->n * b->n_buckets)
    {
      g_set_error_literal (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                           _("pymemd's GetBreakdowns reply has columns of different lengths"));
      return FALSE;
    }
  for (gsize i = 0; i < b->n; i++)
    g_hash_table_insert (b->by_pid, GUINT_TO_POINTER (b->pid[i]), GSIZE_TO_POINTER (i + 1));
  return TRUE;
}

/* The row of the process of ENTRY, if it has one. */
static gboolean
breakdowns_find (Breakdowns *b, GVariant *entry, gsize *row)
{
  guint32 pid = 0;
  guint64 start_time = 0;
  gsize found;

  g_variant_lookup (entry, "pid", "u", &pid);
  g_variant_lookup (entry, "start_time", "t", &start_time);
  found = GPOINTER_TO_SIZE (g_hash_table_lookup (b->by_pid, GUINT_TO_POINTER (pid)));
  /* A pid reused between the two calls is another process. */
  if (found == 0 || b->start_time[found - 1] != start_time)
    return FALSE;
  *row = found - 1;
  return TRUE;
}

static void
add_breakdown (Export *export, Breakdowns *b, gsize row, const char *labels)
{
  for (gsize f = 0; f < b->n_figures; f++)
    for (guint k = 0; k < G_N_ELEMENTS (category_figures); k++)
      {
        g_autofree char *name = NULL, *help = NULL;
        guint family;

        if (g_strcmp0 (b->figures[f], category_figures[k].key) != 0)
          continue;
        name = g_strdup_printf ("pymemd_process_category_%s_bytes", category_figures[k].key);
        help = g_strdup_printf ("Python process: the %s of its mappings of one category (pymemd's latest "
                                "detail pass; see pymemd(8), CATEGORIES)",
                                category_figures[k].what);
        family = declare_bytes (export, name, help);
        for (gsize c = 0; c < b->n_categories; c++)
          {
            g_autoptr(GString) with = g_string_new (labels);

            pymemctl_metrics_append_label (with, "category", b->categories[c]);
            pymemctl_metrics_add_count (export->metrics, family, with->str,
                                        b->values[(row * b->n_categories + c) * b->n_figures + f]);
          }
      }
  if (b->exact[row])
    {
      guint family = declare_bytes (export, "pymemd_process_resident_by_sharing_bytes",
                                    "Python process: resident memory whose pages this many mappings share "
                                    "(1: its own alone; pymemd's latest exact pass)");

      for (gsize k = 0; k < b->n_buckets; k++)
        {
          g_autoptr(GString) with = g_string_new (labels);

          pymemctl_metrics_append_label (with, "sharing", b->buckets[k]);
          pymemctl_metrics_add_count (export->metrics, family, with->str, b->sharing[row * b->n_buckets + k]);
        }
    }
}

static void
add_process (Export *export, GVariant *entry, Breakdowns *breakdowns)
{
  PymemctlMetrics *metrics = export->metrics;
  g_autoptr(GString) labels = process_labels (export, entry);
  gboolean restricted = FALSE;
  gint64 sampled_at = 0;
  double growth = 0;
  gsize row;
  guint family;

  g_variant_lookup (entry, "restricted", "b", &restricted);
  family = pymemctl_metrics_declare (metrics, "pymemd_process_restricted", PYMEMCTL_METRIC_GAUGE, NULL,
                                     "Python process: 1 when the exporting user may see it only as /proc/PID/status "
                                     "shows every user (RSS and swap), 0 when in detail");
  pymemctl_metrics_add (metrics, family, labels->str, restricted ? 1 : 0);
  for (guint i = 0; i < G_N_ELEMENTS (figures); i++)
    {
      g_autofree char *name = g_strdup_printf ("pymemd_process_%s_bytes", figures[i].key);
      g_autofree char *help = g_strdup_printf ("Python process: %s, from pymemd's latest sample%s", figures[i].what,
                                               figures[i].everyone ? "" : " (absent where the exporting user may "
                                                                          "not see the process in detail)");

      add_if (export, declare_bytes (export, name, help), labels->str, entry, figures[i].key);
    }
  family = pymemctl_metrics_declare (metrics, "pymemd_process_pss_growth_bytes_per_second", PYMEMCTL_METRIC_GAUGE,
                                     "bytes_per_second",
                                     "Python process: how fast its PSS grew over pymemd's growth window (a robust "
                                     "slope, measured every minute; see GetGrowth in pymemd's D-Bus API)");
  if (g_variant_lookup (entry, "growth_per_hour", "d", &growth))
    pymemctl_metrics_add (metrics, family, labels->str, growth / 3600);
  family = pymemctl_metrics_declare (metrics, "pymemd_process_sampled_timestamp_seconds", PYMEMCTL_METRIC_GAUGE,
                                     "seconds", "Python process: when pymemd took its latest sample, in seconds since "
                                                "the epoch");
  if (g_variant_lookup (entry, "sampled_at", "x", &sampled_at))
    pymemctl_metrics_add (metrics, family, labels->str, (double) sampled_at / G_USEC_PER_SEC);
  if (breakdowns_find (breakdowns, entry, &row))
    add_breakdown (export, breakdowns, row, labels->str);
}

/* The MAX largest processes (by PSS where visible, else RSS, as pymemctl
 * list sorts them); how many more there were. */
static guint
add_processes (Export *export, GVariant *processes, Breakdowns *breakdowns, guint max)
{
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  guint shown;

  for (gsize i = 0; i < g_variant_n_children (processes); i++)
    g_ptr_array_add (entries, g_variant_get_child_value (processes, i));
  g_ptr_array_sort (entries, pymemctl_compare_by_size);
  shown = MIN (entries->len, max);
  for (guint i = 0; i < shown; i++)
    add_process (export, g_ptr_array_index (entries, i), breakdowns);
  return entries->len - shown;
}

static void
add_export (Export *export, guint exported, guint omitted)
{
  guint family = pymemctl_metrics_declare (export->metrics, "pymemd_export_processes", PYMEMCTL_METRIC_GAUGE, NULL,
                                           "Python processes whose series this export holds");

  pymemctl_metrics_add_count (export->metrics, family, NULL, exported);
  family = pymemctl_metrics_declare (export->metrics, "pymemd_export_processes_omitted", PYMEMCTL_METRIC_GAUGE, NULL,
                                     "Python processes the exporting user may see that were left out, the smallest "
                                     "by PSS, past pymemctl export --max-processes (the totals count them)");
  pymemctl_metrics_add_count (export->metrics, family, NULL, omitted);
}

/* ---- the command ---- */

/* Three calls whatever the number of processes; the properties came
 * with the proxy. */
static gboolean
fetch (PymemdDbusMonitor1 *monitor, GVariant **processes, GVariant **breakdowns, GVariant **statistics,
       GError **error)
{
  if (!pymemd_dbus_monitor1_call_get_processes_sync (monitor, G_DBUS_CALL_FLAGS_NONE, -1, processes, NULL, error) ||
      !pymemd_dbus_monitor1_call_get_statistics_sync (monitor, G_DBUS_CALL_FLAGS_NONE, -1, statistics, NULL, error))
    return FALSE;
  /* The whole reply, its columns taken apart by breakdowns_init (). */
  *breakdowns = g_dbus_proxy_call_sync (G_DBUS_PROXY (monitor), "GetBreakdowns", NULL, G_DBUS_CALL_FLAGS_NONE, -1,
                                        NULL, error);
  if (*breakdowns != NULL && !g_variant_is_of_type (*breakdowns, G_VARIANT_TYPE ("(auatasasatasabat)")))
    {
      g_clear_pointer (breakdowns, g_variant_unref);
      g_set_error_literal (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_SIGNATURE,
                           _("pymemd's GetBreakdowns reply is not of the type its interface says"));
    }
  return *breakdowns != NULL;
}

/* FILE replaced in one step: written to a temporary file beside it, synced
 * to disk, and renamed over it, so that node-exporter never reads half a
 * file (it reads only *.prom: the temporary name ends otherwise). */
static int
write_text (const char *output, const char *text, gsize length)
{
  g_autoptr(GError) error = NULL;

  if (output == NULL)
    {
      if (fwrite (text, 1, length, stdout) != length || fflush (stdout) != 0)
        {
          pymemctl_stdout_failed ();
          return PYMEMCTL_EXIT_FAILURE;
        }
      return PYMEMCTL_EXIT_OK;
    }
  if (!g_file_set_contents_full (output, text, (gssize) length,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0644, &error))
    {
      g_autofree char *message = pymemctl_printable (error->message);

      g_printerr ("pymemctl: %s\n", message);
      return PYMEMCTL_EXIT_FAILURE;
    }
  return PYMEMCTL_EXIT_OK;
}

int
pymemctl_export (int argc, char **argv)
{
  g_autofree char *output = NULL;
  int max_processes = DEFAULT_MAX_PROCESSES;
  const GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
      N_("Replace FILE atomically (a temporary file beside it, synced and renamed) instead of printing"),
      N_("FILE") },
    { "max-processes", 0, 0, G_OPTION_ARG_INT, &max_processes,
      N_("Export the series of at most N processes, the largest by PSS (default 100)"), N_("N") },
    { NULL }
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdDbusMonitor1) monitor = NULL;
  g_autoptr(GVariant) processes = NULL, breakdown_reply = NULL, statistics = NULL;
  g_auto(Breakdowns) breakdowns = { 0 };
  g_autoptr(PymemctlMetrics) metrics = pymemctl_metrics_new ();
  g_autoptr(GHashTable) users = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  Export export = { metrics, users };
  g_autofree char *text = NULL;
  gsize length = 0;
  guint omitted;
  int exit_code;

  if (!pymemctl_parse_options (&argc, &argv, "export",
                               _("Prints the figures of every Python process, their totals and the daemon's own "
                                 "in Prometheus's text format, for node-exporter's textfile collector."),
                               entries, &exit_code))
    return exit_code;
  if (argc > 1)
    return pymemctl_usage_error (_("Unexpected argument “%s”"), argv[1]);
  if (max_processes < 0 || max_processes > MAX_MAX_PROCESSES)
    return pymemctl_usage_error (_("--max-processes is 0 to %d"), MAX_MAX_PROCESSES);
  if (output != NULL && *output == '\0')
    return pymemctl_usage_error ("%s", _("--output needs a file name"));

  if ((monitor = pymemctl_monitor_connect (&error)) == NULL ||
      !fetch (monitor, &processes, &breakdown_reply, &statistics, &error) ||
      !breakdowns_init (&breakdowns, breakdown_reply, &error))
    return pymemctl_print_error (error, 0);

  add_daemon (&export, monitor, statistics);
  add_totals (&export, monitor);
  omitted = add_processes (&export, processes, &breakdowns, (guint) max_processes);
  add_export (&export, (guint) g_variant_n_children (processes) - omitted, omitted);
  text = pymemctl_metrics_to_text (metrics, &length);
  return write_text (output, text, length);
}
