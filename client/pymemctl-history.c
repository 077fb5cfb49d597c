/* pymemctl history PID: a table and sparklines of a process's PSS, USS and swap over a range, from GetHistory. */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "pymemctl-commands.h"
#include "pymemctl-heap.h"
#include "pymemctl-util.h"
#include "pymemd-error.h"
#include "pymemd-names.h"

#define TABLE_ROWS  12
#define CHART_WIDTH 48

/* The series of GetHistory's reply, in its order after time and count. */
enum { PSS_MIN, PSS_AVG, PSS_MAX, USS_MIN, USS_AVG, USS_MAX, SWAP_MIN, SWAP_AVG, SWAP_MAX, N_SERIES };

static const char *const series_names[N_SERIES] = {
  "pss_min", "pss_avg", "pss_max", "uss_min", "uss_avg", "uss_max", "swap_min", "swap_avg",
  "swap_max",
};

typedef struct {
  GVariant      *info;
  GVariant      *arrays[2 + N_SERIES]; /* time, count, then the series */
  gsize          n;
  const gint64  *time;
  const guint32 *count;
  const guint64 *series[N_SERIES];
  GVariant      *heap_summaries; /* aa{sv}; NULL when this pymemd keeps none */
} History;

static void
history_clear (History *history)
{
  g_clear_pointer (&history->info, g_variant_unref);
  for (guint i = 0; i < G_N_ELEMENTS (history->arrays); i++)
    g_clear_pointer (&history->arrays[i], g_variant_unref);
  g_clear_pointer (&history->heap_summaries, g_variant_unref);
}

/* Checks that every column has as many buckets as the times. */
static gboolean
history_load (History *history, GError **error)
{
  gsize n;

  history->time = g_variant_get_fixed_array (history->arrays[0], &history->n, sizeof (gint64));
  history->count = g_variant_get_fixed_array (history->arrays[1], &n, sizeof (guint32));
  if (n != history->n)
    goto uneven;
  for (guint i = 0; i < N_SERIES; i++)
    {
      history->series[i] = g_variant_get_fixed_array (history->arrays[2 + i], &n,
                                                      sizeof (guint64));
      if (n != history->n)
        goto uneven;
    }
  return TRUE;

uneven:
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       _("pymemd answered GetHistory with columns of different lengths"));
  return FALSE;
}

/* The buckets that start in [FROM, TO) (µs since the epoch) merged: the
 * minimum of the minima, the maximum of the maxima, averages weighted by
 * sample count. FALSE when they hold no sample. The daemon may leave out
 * buckets without samples, so buckets are placed by their time. */
typedef struct {
  gint64  time;
  guint64 count;
  guint64 value[N_SERIES];
} Span;

static gboolean
history_merge (const History *history, gint64 from, gint64 to, Span *span)
{
  double sums[N_SERIES] = { 0 };

  memset (span, 0, sizeof *span);
  span->time = from;
  for (gsize b = 0; b < history->n; b++)
    {
      guint32 count = history->count[b];

      if (count == 0 || history->time[b] < from || history->time[b] >= to)
        continue;
      for (guint s = 0; s < N_SERIES; s++)
        {
          guint64 v = history->series[s][b];

          if (s % 3 == 0)
            span->value[s] = span->count == 0 ? v : MIN (span->value[s], v);
          else if (s % 3 == 2)
            span->value[s] = MAX (span->value[s], v);
          else
            sums[s] += (double) v * count;
        }
      span->count += count;
    }
  for (guint s = 1; s < N_SERIES; s += 3)
    if (span->count > 0)
      span->value[s] = (guint64) (sums[s] / (double) span->count);
  return span->count > 0;
}

/* [*FIRST, *END): from the first bucket with samples to the end of the last. */
static gboolean
history_extent (const History *history, gint64 resolution, gint64 *first, gint64 *end)
{
  gboolean any = FALSE;

  for (gsize b = 0; b < history->n; b++)
    if (history->count[b] > 0)
      {
        *first = any ? MIN (*first, history->time[b]) : history->time[b];
        *end = any ? MAX (*end, history->time[b] + resolution) : history->time[b] + resolution;
        any = TRUE;
      }
  return any;
}

static char *
format_time (gint64 usec, gboolean long_range)
{
  g_autoptr(GDateTime) time = g_date_time_new_from_unix_local (usec / G_USEC_PER_SEC);

  return time != NULL ? g_date_time_format (time, long_range ? "%Y-%m-%d %H:%M" : "%H:%M:%S")
                      : g_strdup ("?");
}

/* At most TABLE_ROWS rows over [FROM, TO), the time the samples cover. */
static void
print_table (const History *history, gint64 from, gint64 to)
{
  const char *const headers[] = {
    N_("TIME"), N_("SAMPLES"), N_("PSS MIN"), N_("PSS AVG"), N_("PSS MAX"), N_("USS AVG"),
    N_("SWAP AVG"), NULL
  };
  const guint shown[] = { PSS_MIN, PSS_AVG, PSS_MAX, USS_AVG, SWAP_AVG };
  g_autoptr(PymemctlTable) table = pymemctl_table_new (headers, "lrrrrrr");
  gboolean long_range = to - from > G_GINT64_CONSTANT (24 * 3600) * G_USEC_PER_SEC;
  gsize rows = MIN (history->n, TABLE_ROWS);

  for (gsize r = 0; r < rows; r++)
    {
      const char *cells[G_N_ELEMENTS (headers)] = { NULL };
      g_autofree char *time = NULL, *count = NULL;
      g_autoptr(GPtrArray) sizes = g_ptr_array_new_with_free_func (g_free);
      Span span;

      if (!history_merge (history, from + (to - from) * (gint64) r / (gint64) rows,
                          from + (to - from) * (gint64) (r + 1) / (gint64) rows, &span))
        continue;
      cells[0] = time = format_time (span.time, long_range);
      cells[1] = count = g_strdup_printf ("%" G_GUINT64_FORMAT, span.count);
      for (guint i = 0; i < G_N_ELEMENTS (shown); i++)
        {
          cells[2 + i] = pymemctl_format_size (span.value[shown[i]]);
          g_ptr_array_add (sizes, (gpointer) cells[2 + i]);
        }
      pymemctl_table_add_rowv (table, cells);
    }
  pymemctl_table_print (table, stdout);
}

/* One sparkline of the averages of SERIES over [FROM, TO) in WIDTH
 * columns; a column without samples is blank, so the chart also shows
 * since when the process is there. */
static void
print_sparkline (const History *history, const char *label, guint series, gint64 from,
                 gint64 to, gsize width)
{
  static const char *const levels[] = { "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" };
  g_autofree guint64 *values = g_new0 (guint64, width);
  g_autofree gboolean *present = g_new0 (gboolean, width);
  g_autoptr(GString) line = g_string_new (NULL);
  g_autofree char *low_text = NULL, *high_text = NULL;
  guint64 low = G_MAXUINT64, high = 0;

  for (gsize c = 0; c < width; c++)
    {
      Span span;

      present[c] = history_merge (history, from + (to - from) * (gint64) c / (gint64) width,
                                  from + (to - from) * (gint64) (c + 1) / (gint64) width, &span);
      values[c] = span.value[series];
      if (present[c])
        {
          low = MIN (low, values[c]);
          high = MAX (high, values[c]);
        }
    }
  for (gsize c = 0; c < width; c++)
    {
      guint level = high > low ? (guint) ((values[c] - low) * 7 / (high - low)) : 0;
      g_string_append (line, present[c] ? levels[level] : " ");
    }
  low_text = pymemctl_format_size (low <= high ? low : 0);
  high_text = pymemctl_format_size (high);
  g_print ("%-5s %s  %s – %s\n", label, line->str, low_text, high_text);
}

/* The latest TABLE_ROWS heap summaries: their census and ledger. */
static void
print_heap_summaries (const History *history, gboolean long_range)
{
  const char *const headers[] = {
    N_("TIME"), N_("OBJECTS"), N_("CENSUS"), N_("HEAP PAGES"), N_("EXPLAINED"),
    N_("UNEXPLAINED"), NULL
  };
  g_autoptr(PymemctlTable) table = pymemctl_table_new (headers, "lrrrrr");
  gsize n = history->heap_summaries != NULL ? g_variant_n_children (history->heap_summaries) : 0;

  if (n == 0)
    return;
  g_print ("\n");
  if (n > TABLE_ROWS)
    /* TRANSLATORS: how many heap summaries are shown, of how many */
    g_print (_("Heap summaries (the latest %u of %u):\n"), (guint) TABLE_ROWS, (guint) n);
  else
    g_print ("%s\n", _("Heap summaries:"));
  for (gsize i = n > TABLE_ROWS ? n - TABLE_ROWS : 0; i < n; i++)
    {
      g_autoptr(GVariant) summary = g_variant_get_child_value (history->heap_summaries, i);
      g_autoptr(GVariant) census = g_variant_lookup_value (summary, "census",
                                                           G_VARIANT_TYPE_VARDICT);
      g_autofree char *time = NULL, *objects = NULL, *bytes = NULL;
      g_autofree char *heap = NULL, *explained = NULL, *unexplained = NULL;
      guint64 value = 0;
      gint64 taken_at = 0;

      g_variant_lookup (summary, "taken_at", "x", &taken_at);
      time = format_time (taken_at, long_range);
      objects = census != NULL && g_variant_lookup (census, "objects", "t", &value)
                  ? g_strdup_printf ("%" G_GUINT64_FORMAT, value)
                  : g_strdup ("-");
      bytes = pymemctl_format_figure (census, "bytes");
      heap = pymemctl_heap_lookup_ledger (summary, "heap_private_dirty", &value)
               ? pymemctl_format_size (value) : g_strdup ("-");
      explained = pymemctl_heap_lookup_ledger (summary, "explained", &value)
                    ? pymemctl_format_size (value) : g_strdup ("-");
      unexplained = pymemctl_heap_lookup_ledger (summary, "unexplained", &value)
                      ? pymemctl_format_size (value) : g_strdup ("-");
      pymemctl_table_add_row (table, time, objects, bytes, heap, explained, unexplained, NULL);
    }
  pymemctl_table_print (table, stdout);
}

/* What grew most between the first and the last heap summary shown. */
static void
print_heap_growth (const History *history)
{
  g_autoptr(GVariant) grew = pymemctl_heap_growth (history->heap_summaries);
  g_autofree char *text = NULL;

  if (grew == NULL)
    return;
  text = pymemctl_heap_growth_text (grew);
  if (*text == '\0')
    g_print ("%s\n", _("No type grew between the first and the last heap summary."));
  else
    /* TRANSLATORS: types, with the bytes and objects each gained */
    g_print (_("Grew most between the first and the last heap summary: %s\n"), text);
}

static void
print_history (const History *history, gint64 since, gint64 until)
{
  guint32 pid = 0;
  const char *name = "?", *tier = "?";
  double resolution = 0;
  gint64 ended = 0, first, end;
  g_autofree char *range = pymemctl_format_duration ((until - since) / G_USEC_PER_SEC);
  g_autofree char *bucket = NULL;
  g_autofree char *from_text = NULL, *to_text = NULL, *name_text = NULL;
  guint width = pymemctl_terminal_width (stdout);
  gsize chart_width = width > 40 ? width - 32 : CHART_WIDTH;

  g_variant_lookup (history->info, PYMEMD_KEY_PID, "u", &pid);
  g_variant_lookup (history->info, "name", "&s", &name);
  g_variant_lookup (history->info, "tier", "&s", &tier);
  g_variant_lookup (history->info, "resolution", "d", &resolution);
  bucket = pymemctl_format_duration ((gint64) MAX (resolution, 1));
  name_text = pymemctl_printable (name);
  /* TRANSLATORS: pid, name, the range ("1h"), the bucket width ("30s"), the daemon's tier */
  g_print (_("Process %u (%s), the last %s in buckets of %s (%s)\n"), pid, name_text, range, bucket,
           tier);
  if (g_variant_lookup (history->info, "ended", "x", &ended) && ended > 0)
    {
      g_autofree char *when = format_time (ended, TRUE);
      g_print (_("The process ended at %s.\n"), when);
    }
  if (!history_extent (history, (gint64) (MAX (resolution, 1) * G_USEC_PER_SEC), &first, &end))
    {
      g_print ("%s\n", _("No samples in this range."));
      return;
    }
  g_print ("\n");
  print_table (history, first, end);

  from_text = format_time (since, until - since > G_GINT64_CONSTANT (24 * 3600) * G_USEC_PER_SEC);
  to_text = format_time (until, until - since > G_GINT64_CONSTANT (24 * 3600) * G_USEC_PER_SEC);
  /* TRANSLATORS: the start and the end of the chart's time axis */
  g_print ("\n");
  g_print (_("From %s to %s:\n"), from_text, to_text);
  print_sparkline (history, _("PSS"), PSS_AVG, since, until, chart_width);
  print_sparkline (history, _("USS"), USS_AVG, since, until, chart_width);
  print_sparkline (history, _("swap"), SWAP_AVG, since, until, chart_width);
  print_heap_summaries (history, until - since > G_GINT64_CONSTANT (24 * 3600) * G_USEC_PER_SEC);
  print_heap_growth (history);
}

static JsonNode *
history_json (const History *history, gint64 since, gint64 until)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(GVariant) grew = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "info");
  json_builder_add_value (builder, pymemctl_json_from_variant (history->info));
  json_builder_set_member_name (builder, "since");
  json_builder_add_int_value (builder, since);
  json_builder_set_member_name (builder, "until");
  json_builder_add_int_value (builder, until);
  json_builder_set_member_name (builder, "buckets");
  json_builder_begin_array (builder);
  for (gsize b = 0; b < history->n; b++)
    {
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "time");
      json_builder_add_int_value (builder, history->time[b]);
      json_builder_set_member_name (builder, "count");
      json_builder_add_int_value (builder, history->count[b]);
      for (guint s = 0; s < N_SERIES; s++)
        {
          json_builder_set_member_name (builder, series_names[s]);
          json_builder_add_int_value (builder, (gint64) history->series[s][b]);
        }
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  if (history->heap_summaries != NULL)
    {
      json_builder_set_member_name (builder, "heap_summaries");
      json_builder_begin_array (builder);
      for (gsize i = 0; i < g_variant_n_children (history->heap_summaries); i++)
        {
          g_autoptr(GVariant) summary = g_variant_get_child_value (history->heap_summaries, i);
          json_builder_add_value (builder, pymemctl_heap_json (summary));
        }
      json_builder_end_array (builder);
      grew = pymemctl_heap_growth (history->heap_summaries);
      if (grew != NULL)
        {
          json_builder_set_member_name (builder, "grew");
          json_builder_add_value (builder, pymemctl_json_from_variant (grew));
        }
    }
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

static gboolean
call_get_history (PymemdDbusMonitor1 *monitor, guint32 pid, gint64 since, double resolution,
                  History *history, GError **error)
{
  GVariant **a = history->arrays;

  return pymemd_dbus_monitor1_call_get_history_sync (monitor, pid, 0, since, 0, resolution,
                                                     G_DBUS_CALL_FLAGS_NONE, -1, &history->info, &a[0], &a[1], &a[2], &a[3],
                                                     &a[4], &a[5], &a[6], &a[7], &a[8], &a[9],
                                                     &a[10], NULL, error) &&
         history_load (history, error);
}

/* The heap summaries kept for the process whose history HISTORY is; none
 * (and no error) from a pymemd that keeps none, or none for this process
 * (its history was found, so NoSuchProcess only means no summaries). */
static gboolean
call_get_heap_summaries (PymemdDbusMonitor1 *monitor, guint32 pid, gint64 since,
                         History *history, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  guint64 start_time = 0;

  g_variant_lookup (history->info, PYMEMD_KEY_START_TIME, "t", &start_time);
  if (pymemd_dbus_monitor1_call_get_heap_summaries_sync (monitor, pid, start_time, since, 0,
                                                         G_DBUS_CALL_FLAGS_NONE, -1,
                                                         &history->heap_summaries, NULL,
                                                         &local_error))
    return TRUE;
  if (g_error_matches (local_error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD) ||
      g_error_matches (local_error, PYMEMD_ERROR, PYMEMD_ERROR_NO_SUCH_PROCESS))
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}

int
pymemctl_history (int argc, char **argv)
{
  gboolean json = FALSE;
  g_autofree char *since_text = NULL;
  double resolution = 0;
  const GOptionEntry entries[] = {
    { "since", 0, 0, G_OPTION_ARG_STRING, &since_text,
      N_("How far back: 90s, 10m, 2h, 3d, 1w (default 1h)"), N_("DURATION") },
    { "resolution", 0, 0, G_OPTION_ARG_DOUBLE, &resolution,
      N_("Seconds per bucket (default 0: the daemon picks)"), N_("SECONDS") },
    PYMEMCTL_JSON_OPTION (json),
    { NULL }
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdDbusMonitor1) monitor = NULL;
  History history = { 0 };
  gint64 since_seconds = 3600, now = g_get_real_time (), since;
  guint32 pid = 0;
  int exit_code;

  if (!pymemctl_parse_options (&argc, &argv, _("history PID"),
                               _("Shows process PID's PSS, USS and swap over time: a table and "
                                 "a chart, from the daemon's history store."),
                               entries, &exit_code))
    return exit_code;
  if (argc < 2)
    return pymemctl_usage_error ("%s", _("history needs a process ID"));
  if (argc > 2)
    return pymemctl_usage_error (_("Unexpected argument “%s”"), argv[2]);
  if (!pymemctl_parse_pid (argv[1], &pid, &error) ||
      (since_text != NULL && !pymemctl_parse_duration (since_text, &since_seconds, &error)))
    return pymemctl_usage_error ("%s", error->message);
  if (!(resolution >= 0 && resolution <= 366.0 * 24 * 3600))
    return pymemctl_usage_error ("%s", _("--resolution is a number of seconds, 0 or more"));

  since = now - since_seconds * G_USEC_PER_SEC;
  if ((monitor = pymemctl_monitor_connect_for_calls (&error)) == NULL ||
      !call_get_history (monitor, pid, since, resolution, &history, &error) ||
      !call_get_heap_summaries (monitor, pid, since, &history, &error))
    {
      history_clear (&history);
      return pymemctl_print_error (error, pid);
    }

  exit_code = PYMEMCTL_EXIT_OK;
  if (json)
    {
      g_autoptr(JsonNode) root = history_json (&history, since, now);
      exit_code = pymemctl_print_json_document (root);
    }
  else
    print_history (&history, since, now);
  history_clear (&history);
  return exit_code;
}
