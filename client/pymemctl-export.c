/* pymemctl export: every interpreter's figures, the totals and the daemon's own in Prometheus's text format, on stdout or written atomically into a file for node-exporter's textfile collector. */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "pymemctl-commands.h"
#include "pymemctl-metrics.h"
#include "pymemctl-util.h"
#include "pymemd-names.h"

/* About 50 series a process (20 figures, 27 by category, 4 by sharing):
 * 100 processes stay near 5000 series, what one scrape target should not
 * pass by much. */
#define DEFAULT_MAX_PROCESSES 100
#define MAX_MAX_PROCESSES     100000

/* The HELP texts are part of the metrics, not of pymemctl's user
 * interface: in English whatever the locale, so that every host of a
 * fleet exports the same metadata (Prometheus keeps one per family). */

/* The figures of GetProcesses and of the Totals property, rss and pss
 * first (FIGURE_RSS, FIGURE_PSS). EVERYONE: what /proc/PID/status shows
 * every user, so exported for every process. */
static const struct {
  const char *key;
  const char *what;
  gboolean    everyone;
} figures[] = {
  { PYMEMD_KEY_RSS, "resident memory (VmRSS)", TRUE },
  { PYMEMD_KEY_PSS, "proportional set size (PSS): resident pages, each divided among the processes that map it", FALSE },
  { PYMEMD_KEY_PSS_DIRTY, "dirty part of the PSS", FALSE },
  { PYMEMD_KEY_PSS_ANON, "anonymous part of the PSS", FALSE },
  { PYMEMD_KEY_PSS_FILE, "file-backed part of the PSS", FALSE },
  { PYMEMD_KEY_PSS_SHMEM, "shared memory part of the PSS", FALSE },
  { PYMEMD_KEY_USS, "unique set size (USS): private clean and private dirty pages", FALSE },
  { PYMEMD_KEY_SHARED_CLEAN, "clean pages that other processes map too", FALSE },
  { PYMEMD_KEY_SHARED_DIRTY, "dirty pages that other processes map too", FALSE },
  { PYMEMD_KEY_PRIVATE_CLEAN, "clean pages no other process maps", FALSE },
  { PYMEMD_KEY_PRIVATE_DIRTY, "dirty pages no other process maps", FALSE },
  { PYMEMD_KEY_ANONYMOUS, "anonymous memory", FALSE },
  { PYMEMD_KEY_SWAP, "memory swapped out (VmSwap)", TRUE },
  { PYMEMD_KEY_SWAP_PSS, "swap, each page divided among the processes that map it", FALSE },
  { PYMEMD_KEY_LOCKED, "locked memory", FALSE },
  { "exact_uss", "USS from page frame map counts (the exact pass)", FALSE },
  { "exact_pss", "PSS from page frame map counts (the exact pass)", FALSE },
};

/* Where figures[] has them: the sort keys. */
enum { FIGURE_RSS = 0, FIGURE_PSS = 1 };

/* The figures of GetBreakdowns exported per category. */
static const struct {
  const char *key;
  const char *what;
} category_figures[] = {
  { PYMEMD_KEY_PSS, "PSS" },
  { PYMEMD_KEY_PRIVATE_DIRTY, "private dirty memory" },
  { PYMEMD_KEY_SWAP, PYMEMD_KEY_SWAP },
};

static const char *const history_states[] = { "ok", "degraded", "disabled" };

typedef struct {
  PymemctlMetrics *metrics;
  GHashTable      *users; /* uid -> user name */
  /* The families of the process series, declared once. */
  guint            restricted_family;
  guint            figure_family[G_N_ELEMENTS (figures)];
  guint            growth_family;
  guint            sampled_family;
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

/* What the export takes of a GetProcesses entry, read in one pass: a
 * lookup in an a{sv} reads its entries one by one, and a process has 30. */
typedef struct {
  guint32     pid;
  guint64     start_time;
  guint32     uid;
  const char *name;    /* in the entry */
  const char *version; /* in the entry */
  gboolean    restricted;
  guint64     figure[G_N_ELEMENTS (figures)];
  guint32     has_figure; /* bit i: figure[i] is there */
  gboolean    has_growth;
  double      growth_per_hour;
  gboolean    has_sampled_at;
  gint64      sampled_at;
} ProcessEntry;

G_STATIC_ASSERT (G_N_ELEMENTS (figures) <= 32);

static void
process_entry_read (ProcessEntry *p, GVariant *entry)
{
  GVariantIter iter;
  const char *key;
  GVariant *value;

  memset (p, 0, sizeof *p);
  p->name = p->version = "";
  g_variant_iter_init (&iter, entry);
  while (g_variant_iter_loop (&iter, "{&sv}", &key, &value))
    {
      if (g_variant_is_of_type (value, G_VARIANT_TYPE_UINT64))
        {
          for (guint i = 0; i < G_N_ELEMENTS (figures); i++)
            if (strcmp (key, figures[i].key) == 0)
              {
                p->figure[i] = g_variant_get_uint64 (value);
                p->has_figure |= 1u << i;
              }
          if (strcmp (key, PYMEMD_KEY_START_TIME) == 0)
            p->start_time = g_variant_get_uint64 (value);
        }
      else if (g_variant_is_of_type (value, G_VARIANT_TYPE_UINT32))
        {
          if (strcmp (key, PYMEMD_KEY_PID) == 0)
            p->pid = g_variant_get_uint32 (value);
          else if (strcmp (key, PYMEMD_KEY_UID) == 0)
            p->uid = g_variant_get_uint32 (value);
        }
      else if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
        {
          /* VALUE goes at the next turn; the entry holds the string. */
          if (strcmp (key, "name") == 0)
            p->name = g_variant_get_string (value, NULL);
          else if (strcmp (key, "python_version") == 0)
            p->version = g_variant_get_string (value, NULL);
        }
      else if (strcmp (key, "restricted") == 0 && g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
        p->restricted = g_variant_get_boolean (value);
      else if (strcmp (key, "growth_per_hour") == 0 && g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE))
        {
          p->has_growth = TRUE;
          p->growth_per_hour = g_variant_get_double (value);
        }
      else if (strcmp (key, "sampled_at") == 0 && g_variant_is_of_type (value, G_VARIANT_TYPE_INT64))
        {
          p->has_sampled_at = TRUE;
          p->sampled_at = g_variant_get_int64 (value);
        }
    }
}

/* pid, start_time, uid, user, name, python_version: what tells a process
 * from another, and what a person looks for in a query's answer. */
static GString *
process_labels (Export *export, const ProcessEntry *p)
{
  GString *labels = g_string_sized_new (128);
  char number[24];

  g_snprintf (number, sizeof number, "%u", p->pid);
  pymemctl_metrics_append_label (labels, PYMEMD_KEY_PID, number);
  g_snprintf (number, sizeof number, "%" G_GUINT64_FORMAT, p->start_time);
  pymemctl_metrics_append_label (labels, PYMEMD_KEY_START_TIME, number);
  g_snprintf (number, sizeof number, "%u", p->uid);
  pymemctl_metrics_append_label (labels, PYMEMD_KEY_UID, number);
  pymemctl_metrics_append_label (labels, "user", user_name (export, p->uid));
  pymemctl_metrics_append_label (labels, "name", p->name);
  pymemctl_metrics_append_label (labels, "python_version", p->version);
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
  guint         *families; /* per figure: its family, or G_MAXUINT when not exported */
  guint          sharing_family;
} Breakdowns;

static void
breakdowns_clear (Breakdowns *b)
{
  g_free (b->categories);
  g_free (b->figures);
  g_free (b->buckets);
  g_free (b->families);
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

/* The row of process P, if it has one. */
static gboolean
breakdowns_find (Breakdowns *b, const ProcessEntry *p, gsize *row)
{
  gsize found = GPOINTER_TO_SIZE (g_hash_table_lookup (b->by_pid, GUINT_TO_POINTER (p->pid)));

  /* A pid reused between the two calls is another process. */
  if (found == 0 || b->start_time[found - 1] != p->start_time)
    return FALSE;
  *row = found - 1;
  return TRUE;
}

/* The families of the figures of B that are exported, once. */
static void
breakdowns_declare (Breakdowns *b, Export *export)
{
  b->families = g_new (guint, MAX (b->n_figures, 1));
  for (gsize f = 0; f < b->n_figures; f++)
    {
      b->families[f] = G_MAXUINT;
      for (guint k = 0; k < G_N_ELEMENTS (category_figures); k++)
        if (g_strcmp0 (b->figures[f], category_figures[k].key) == 0)
          {
            g_autofree char *name = g_strdup_printf ("pymemd_process_category_%s_bytes", category_figures[k].key);
            g_autofree char *help = g_strdup_printf ("Python process: the %s of its mappings of one category "
                                                     "(pymemd's latest detail pass; see pymemd(8), CATEGORIES)",
                                                     category_figures[k].what);

            b->families[f] = declare_bytes (export, name, help);
          }
    }
  b->sharing_family = declare_bytes (export, "pymemd_process_resident_by_sharing_bytes",
                                     "Python process: resident memory whose pages this many mappings share "
                                     "(1: its own alone; pymemd's latest exact pass)");
}

static void
add_breakdown (Export *export, Breakdowns *b, gsize row, const char *labels)
{
  g_autoptr(GString) with = g_string_new (NULL);

  for (gsize f = 0; f < b->n_figures; f++)
    for (gsize c = 0; c < b->n_categories && b->families[f] != G_MAXUINT; c++)
      {
        g_string_assign (with, labels);
        pymemctl_metrics_append_label (with, "category", b->categories[c]);
        pymemctl_metrics_add_count (export->metrics, b->families[f], with->str,
                                    b->values[(row * b->n_categories + c) * b->n_figures + f]);
      }
  for (gsize k = 0; b->exact[row] && k < b->n_buckets; k++)
    {
      g_string_assign (with, labels);
      pymemctl_metrics_append_label (with, "sharing", b->buckets[k]);
      pymemctl_metrics_add_count (export->metrics, b->sharing_family, with->str, b->sharing[row * b->n_buckets + k]);
    }
}

/* The families of the process series, in the order they are written. */
static void
declare_process_families (Export *export, Breakdowns *breakdowns)
{
  export->restricted_family = pymemctl_metrics_declare (
    export->metrics, "pymemd_process_restricted", PYMEMCTL_METRIC_GAUGE, NULL,
    "Python process: 1 when the exporting user may see it only as /proc/PID/status shows every user (RSS and "
    "swap), 0 when in detail");
  for (guint i = 0; i < G_N_ELEMENTS (figures); i++)
    {
      g_autofree char *name = g_strdup_printf ("pymemd_process_%s_bytes", figures[i].key);
      g_autofree char *help = g_strdup_printf ("Python process: %s, from pymemd's latest sample%s", figures[i].what,
                                               figures[i].everyone ? "" : " (absent where the exporting user may "
                                                                          "not see the process in detail)");

      export->figure_family[i] = declare_bytes (export, name, help);
    }
  export->growth_family = pymemctl_metrics_declare (
    export->metrics, "pymemd_process_pss_growth_bytes_per_second", PYMEMCTL_METRIC_GAUGE, "bytes_per_second",
    "Python process: how fast its PSS grew over pymemd's growth window (a robust slope, measured every minute; see "
    "GetGrowth in pymemd's D-Bus API)");
  export->sampled_family = pymemctl_metrics_declare (
    export->metrics, "pymemd_process_sampled_timestamp_seconds", PYMEMCTL_METRIC_GAUGE, "seconds",
    "Python process: when pymemd took its latest sample, in seconds since the epoch");
  breakdowns_declare (breakdowns, export);
}

static void
add_process (Export *export, const ProcessEntry *p, Breakdowns *breakdowns)
{
  PymemctlMetrics *metrics = export->metrics;
  g_autoptr(GString) labels = process_labels (export, p);
  gsize row;

  pymemctl_metrics_add (metrics, export->restricted_family, labels->str, p->restricted ? 1 : 0);
  for (guint i = 0; i < G_N_ELEMENTS (figures); i++)
    if (p->has_figure & (1u << i))
      pymemctl_metrics_add_count (metrics, export->figure_family[i], labels->str, p->figure[i]);
  if (p->has_growth)
    pymemctl_metrics_add (metrics, export->growth_family, labels->str, p->growth_per_hour / 3600);
  if (p->has_sampled_at)
    pymemctl_metrics_add (metrics, export->sampled_family, labels->str, (double) p->sampled_at / G_USEC_PER_SEC);
  if (breakdowns_find (breakdowns, p, &row))
    add_breakdown (export, breakdowns, row, labels->str);
}

/* A process, read, and its sort key (first, for
 * pymemctl_compare_size_first ()). */
typedef struct {
  guint64      size;
  ProcessEntry process;
} SizedProcess;

/* The MAX largest processes (by PSS where visible, else RSS, as pymemctl
 * list sorts them); how many more there were. */
static guint
add_processes (Export *export, GVariant *processes, Breakdowns *breakdowns, guint max)
{
  gsize n = g_variant_n_children (processes);
  g_autofree SizedProcess *sized = g_new (SizedProcess, MAX (n, 1));
  GVariantIter iter;
  GVariant *entry;
  gsize i = 0;
  guint shown;

  /* Each entry read once (the strings stay in PROCESSES). */
  g_variant_iter_init (&iter, processes);
  while ((entry = g_variant_iter_next_value (&iter)) != NULL && i < n)
    {
      ProcessEntry *p = &sized[i].process;

      process_entry_read (p, entry);
      sized[i++].size = p->has_figure & (1u << FIGURE_PSS) ? p->figure[FIGURE_PSS] : p->figure[FIGURE_RSS];
      g_variant_unref (entry);
    }
  g_qsort_with_data (sized, (gint) n, sizeof (SizedProcess), pymemctl_compare_size_first, NULL);
  declare_process_families (export, breakdowns);
  shown = (guint) MIN (n, max);
  for (i = 0; i < shown; i++)
    add_process (export, &sized[i].process, breakdowns);
  return (guint) n - shown;
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
  Export export = { .metrics = metrics, .users = users };
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
