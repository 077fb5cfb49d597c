/* pymemctl export: the text format's escaping, families and values (client/pymemctl-metrics.c), and the export of the real pymemd on a private bus — its figures against GetProcesses, the view of nobody, the series bound on a captured /proc, a process named to break the format, the atomic file — checked by promtool where it is installed; and the timer's units, checked by systemd-analyze, their command run. */
#include "config.h"

#include <fcntl.h>
#include <math.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "pymemctl-metrics.h"
#include "testutil.h"

#define BUS_NAME      "org.pymemd.Monitor1"
#define MANAGER_PATH  "/org/pymemd/Monitor1"
#define MANAGER_IFACE "org.pymemd.Monitor1"
#define INTERVAL      "0.5"
#define MIB           (G_GUINT64_CONSTANT (1) << 20)

/* An interpreter with 8 MiB of its own that sleeps until its stdin closes. */
static const char child_code[] =
  "import sys\n"
  "held = bytearray(8 << 20)\n"
  "held[::4096] = b'x' * 2048\n"
  "print('ready', flush=True)\n"
  "sys.stdin.read()\n";

/* A file name with what the format must escape (quote, backslash, line
 * feed), a terminal escape, and bytes that are not UTF-8. */
static const char hostile_name[] = "py\"th\\on\nx\033[31m\xff\xfey";
/* ... and its label value: escaped, the ESC U+FFFD, each invalid byte too. */
static const char hostile_label[] = "py\\\"th\\\\on\\nx\xef\xbf\xbd[31m\xef\xbf\xbd\xef\xbf\xbdy";

/* ---- the format (no daemon) ---- */

static void
assert_escaped (const char *value, const char *expected)
{
  g_autofree char *escaped = pymemctl_metrics_escape_label_value (value);

  g_assert_cmpstr (escaped, ==, expected);
  g_assert_true (g_utf8_validate (escaped, -1, NULL));
}

static void
test_escape (void)
{
  g_autoptr(GString) long_value = g_string_new (NULL);
  g_autoptr(GString) cut = g_string_new (NULL);
  g_autoptr(GString) labels = g_string_new (NULL);

  assert_escaped ("python3.11", "python3.11");
  assert_escaped ("", "");
  assert_escaped ("a\\b", "a\\\\b");
  assert_escaped ("say \"hi\"", "say \\\"hi\\\"");
  assert_escaped ("two\nlines", "two\\nlines");
  /* What has no escape in the format: control characters, DEL, C1 (U+009B
   * is a terminal's CSI), a carriage return; and invalid UTF-8. */
  assert_escaped ("a\rb\tc\033d\x7f" "e\xc2\x9b" "f", "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c\xef\xbf\xbd"
                                                     "d\xef\xbf\xbd" "e\xef\xbf\xbd" "f");
  assert_escaped ("\xff\xc3(", "\xef\xbf\xbd\xef\xbf\xbd(");
  assert_escaped (hostile_name, hostile_label);
  /* Characters, not bytes, are kept whole: "ä" is two bytes. */
  assert_escaped ("größe", "größe");

  /* At most 128 characters, the last "…" when cut. */
  for (guint i = 0; i < PYMEMCTL_METRICS_MAX_LABEL_CHARS; i++)
    g_string_append (long_value, "ä");
  assert_escaped (long_value->str, long_value->str);
  g_string_append_c (long_value, 'x');
  for (guint i = 0; i < PYMEMCTL_METRICS_MAX_LABEL_CHARS - 1; i++)
    g_string_append (cut, "ä");
  g_string_append (cut, "…");
  assert_escaped (long_value->str, cut->str);

  pymemctl_metrics_append_label (labels, "pid", "12");
  pymemctl_metrics_append_label (labels, "name", "a\"b");
  g_assert_cmpstr (labels->str, ==, "pid=\"12\",name=\"a\\\"b\"");
}

static void
assert_value (double value, const char *expected)
{
  g_autofree char *text = pymemctl_metrics_format_value (value);

  g_assert_cmpstr (text, ==, expected);
}

static void
test_text (void)
{
  g_autoptr(PymemctlMetrics) metrics = pymemctl_metrics_new ();
  g_autofree char *text = NULL;
  guint bytes, seconds, count, unused;
  gsize length = 0;

  bytes = pymemctl_metrics_declare (metrics, "t_size_bytes", PYMEMCTL_METRIC_GAUGE, "bytes",
                                    "A size with a \\ and a\nsecond line");
  count = pymemctl_metrics_declare (metrics, "t_runs_total", PYMEMCTL_METRIC_COUNTER, "seconds", "Runs");
  unused = pymemctl_metrics_declare (metrics, "t_unused", PYMEMCTL_METRIC_GAUGE, NULL, "Never sampled");
  seconds = pymemctl_metrics_declare (metrics, "t_time_seconds", PYMEMCTL_METRIC_GAUGE, "seconds", "A time");
  g_assert_cmpuint (pymemctl_metrics_declare (metrics, "t_size_bytes", PYMEMCTL_METRIC_GAUGE, "bytes", "again"), ==,
                    bytes);
  g_assert_cmpuint (unused, !=, bytes);
  /* Samples of a family added apart are written together. */
  pymemctl_metrics_add_count (metrics, bytes, "pid=\"1\"", G_MAXUINT64);
  pymemctl_metrics_add (metrics, seconds, NULL, 0.1);
  pymemctl_metrics_add_count (metrics, bytes, "pid=\"2\"", 0);
  pymemctl_metrics_add_count (metrics, count, "", 3);
  g_assert_cmpuint (pymemctl_metrics_get_n_samples (metrics), ==, 4);
  text = pymemctl_metrics_to_text (metrics, &length);
  g_assert_cmpuint (length, ==, strlen (text));
  g_assert_cmpstr (text, ==,
                   "# HELP t_size_bytes A size with a \\\\ and a\\nsecond line\n"
                   "# TYPE t_size_bytes gauge\n"
                   "# UNIT t_size_bytes bytes\n"
                   "t_size_bytes{pid=\"1\"} 18446744073709551615\n"
                   "t_size_bytes{pid=\"2\"} 0\n"
                   "# HELP t_runs_total Runs\n"
                   "# TYPE t_runs_total counter\n"
                   "t_runs_total 3\n"
                   "# HELP t_time_seconds A time\n"
                   "# TYPE t_time_seconds gauge\n"
                   "# UNIT t_time_seconds seconds\n"
                   "t_time_seconds 0.1\n");

  assert_value (0, "0");
  assert_value (0.1, "0.1");
  assert_value (1.0 / 3, "0.3333333333333333");
  assert_value (-1.5e-5, "-1.5e-05");
  assert_value (1796507155.104486, "1796507155.104486");
  assert_value (INFINITY, "+Inf");
  assert_value (-INFINITY, "-Inf");
  assert_value (NAN, "NaN");
}

/* ---- running pymemctl against the daemon ---- */

typedef struct {
  PymemdTestService service;
  PymemdTestChild   child;
} Fixture;

static gboolean
have_pymemctl (void)
{
  if (g_getenv ("PYMEMCTL_BIN") != NULL)
    return TRUE;
  g_test_skip ("PYMEMCTL_BIN is not set");
  return FALSE;
}

static void
fixture_setup (Fixture *fx, gconstpointer data)
{
  memset (fx, 0, sizeof *fx);
  if (have_pymemctl ())
    pymemd_test_service_start_with_child (&fx->service, INTERVAL, &fx->child, child_code);
}

static void
fixture_teardown (Fixture *fx, gconstpointer data)
{
  pymemd_test_child_stop (&fx->child);
  pymemd_test_service_stop (&fx->service);
}

static gboolean
skipped (Fixture *fx)
{
  return fx->service.address == NULL;
}

#define CLI(fx, run, ...)           PYMEMD_TEST_CLI ((run), (fx)->service.address, __VA_ARGS__)
#define CLI_AS_NOBODY(fx, run, ...) PYMEMD_TEST_CLI_AS_NOBODY ((run), (fx)->service.address, __VA_ARGS__)

static gboolean
need_nobody (void)
{
  if (pymemd_test_setpriv () != NULL && getpwnam ("nobody") != NULL)
    return TRUE;
  g_test_skip ("needs setpriv and the user nobody");
  return FALSE;
}

static GVariant *
call_manager (Fixture *fx, const char *method, const char *reply_type, GError **error)
{
  return g_dbus_connection_call_sync (fx->service.conn, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, method, NULL,
                                      G_VARIANT_TYPE (reply_type), G_DBUS_CALL_FLAGS_NONE, 10000, NULL, error);
}

/* PID's entry in GetProcesses (root's view), or NULL. */
static GVariant *
daemon_entry (Fixture *fx, GPid pid)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = call_manager (fx, "GetProcesses", "(aa{sv})", &error);
  g_autoptr(GVariant) list = NULL;

  g_assert_no_error (error);
  list = g_variant_get_child_value (reply, 0);
  for (gsize i = 0; i < g_variant_n_children (list); i++)
    {
      g_autoptr(GVariant) entry = g_variant_get_child_value (list, i);
      guint32 p = 0;

      if (g_variant_lookup (entry, "pid", "u", &p) && p == (guint32) pid)
        return g_steal_pointer (&entry);
    }
  return NULL;
}

/* ---- reading the text ---- */

/* The samples of METRIC whose label set begins with PREFIX (NULL: those
 * without labels); their values in VALUES if not NULL. */
static guint
find_samples (const char *text, const char *metric, const char *prefix, GArray *values)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  g_autofree char *start = prefix != NULL ? g_strdup_printf ("%s{%s", metric, prefix)
                                          : g_strdup_printf ("%s ", metric);
  guint n = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *space;
      double value;

      if (!g_str_has_prefix (lines[i], start))
        continue;
      space = strrchr (lines[i], ' ');
      g_assert_nonnull (space);
      value = g_ascii_strtod (space + 1, NULL);
      if (values != NULL)
        g_array_append_val (values, value);
      n++;
    }
  return n;
}

/* The one sample of METRIC with PREFIX. */
static double
sample (const char *text, const char *metric, const char *prefix)
{
  g_autoptr(GArray) values = g_array_new (FALSE, FALSE, sizeof (double));
  guint n = find_samples (text, metric, prefix, values);

  if (n != 1)
    g_error ("%u samples of %s{%s… in:\n%s", n, metric, prefix != NULL ? prefix : "", text);
  return g_array_index (values, double, 0);
}

static char *
pid_prefix (GPid pid)
{
  return g_strdup_printf ("pid=\"%d\",", pid);
}

/* What promtool does not check, and what it does where it is absent: each
 * sample's family has # HELP and # TYPE before it and all its samples in
 * one group, a counter's name ends in _total, # UNIT only for a gauge
 * whose name ends in its unit, and no two samples are the same series. */
static void
assert_well_formed (const char *text)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  g_autoptr(GHashTable) closed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) series = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *family = NULL, *type = NULL;
  gboolean help = FALSE;
  guint n = g_strv_length (lines);

  g_assert_cmpuint (n, >, 1);
  g_assert_cmpstr (lines[n - 1], ==, ""); /* ends in a line feed */
  for (guint i = 0; i + 1 < n; i++)
    {
      const char *line = lines[i];
      g_auto(GStrv) words = g_strsplit (line, " ", 4);

      if (g_str_has_prefix (line, "# HELP "))
        {
          g_assert_nonnull (words[2]);
          if (family != NULL)
            g_hash_table_add (closed, g_steal_pointer (&family));
          g_assert_false (g_hash_table_contains (closed, words[2]));
          family = g_strdup (words[2]);
          g_clear_pointer (&type, g_free);
          help = TRUE;
        }
      else if (g_str_has_prefix (line, "# TYPE "))
        {
          g_assert_cmpstr (words[2], ==, family);
          g_assert_true (g_strcmp0 (words[3], "gauge") == 0 || g_strcmp0 (words[3], "counter") == 0);
          g_assert_cmpint (g_str_has_suffix (family, "_total"), ==, g_strcmp0 (words[3], "counter") == 0);
          type = g_strdup (words[3]);
        }
      else if (g_str_has_prefix (line, "# UNIT "))
        {
          g_assert_cmpstr (words[2], ==, family);
          g_assert_cmpstr (type, ==, "gauge");
          g_assert_true (g_str_has_suffix (family, words[3]));
        }
      else
        {
          gsize name_length = strcspn (line, "{ ");
          const char *value = strrchr (line, ' ');
          char *end = NULL;

          g_assert_true (help && type != NULL);
          if (strncmp (line, family, name_length) != 0 || family[name_length] != '\0')
            g_error ("“%s” is not of the family %s", line, family);
          g_assert_nonnull (value);
          g_ascii_strtod (value + 1, &end);
          g_assert_true (end != value + 1 && *end == '\0');
          if (!g_hash_table_add (series, g_strndup (line, (gsize) (value - line))))
            g_error ("“%s” twice", line);
        }
    }
}

/* ---- usage ---- */

static void
assert_usage (const char *expected, const char *const *args)
{
  g_auto(PymemdTestRun) run = { 0 };

  g_auto(GStrv) envp = pymemd_test_cli_environ ();

  g_assert_cmpint (pymemd_test_run_pymemctl (&run, FALSE, envp, args), ==, 2);
  g_assert_cmpstr (run.out, ==, "");
  if (strstr (run.err, expected) == NULL || !g_str_has_prefix (run.err, "pymemctl: "))
    g_error ("expected “pymemctl: …%s…” in “%s”", expected, run.err);
  g_assert_nonnull (strstr (run.err, "pymemctl --help"));
}

#define USAGE(expected, ...) assert_usage ((expected), (const char *const[]){ __VA_ARGS__, NULL })

static void
test_usage (void)
{
  g_auto(PymemdTestRun) help = { 0 };
  g_auto(PymemdTestRun) commands = { 0 };
  g_auto(GStrv) envp = pymemd_test_cli_environ ();

  if (!have_pymemctl ())
    return;
  /* Usage is checked before any bus is reached. */
  USAGE ("Unknown option --bogus", "--address", "unix:path=/nonexistent", "export", "--bogus");
  USAGE ("Unknown option --json", "export", "--json");
  USAGE ("Unknown option --json", "--json", "export");
  USAGE ("Unexpected argument “extra”", "export", "extra");
  USAGE ("--max-processes is 0 to 100000", "export", "--max-processes", "-1");
  USAGE ("--max-processes is 0 to 100000", "export", "--max-processes", "100001");
  USAGE ("Cannot parse integer value “many”", "export", "--max-processes", "many");
  USAGE ("--output needs a file name", "export", "--output", "");
  USAGE ("Missing argument for --output", "export", "--output");

  g_assert_cmpint (pymemd_test_run_pymemctl (&help, FALSE, envp, (const char *const[]){ "export", "--help", NULL }),
                   ==, 0);
  g_assert_nonnull (strstr (help.out, "pymemctl [OPTION…] export"));
  g_assert_nonnull (strstr (help.out, "--output=FILE"));
  g_assert_nonnull (strstr (help.out, "--max-processes=N"));
  g_assert_cmpint (pymemd_test_run_pymemctl (&commands, FALSE, envp, (const char *const[]){ "--help", NULL }), ==, 0);
  g_assert_nonnull (strstr (commands.out, "\n  export "));
}

/* ---- the live daemon ---- */

/* The export's figures are GetProcesses' for the same sample: the same
 * where the sample is the same (sampled_at), else between the daemon's
 * before and after, give or take 5 % or 256 KiB. NULL where they are,
 * else what differs (a failure at once for the same sample). */
static char *
figure_differs (const char *text, GPid pid, const char *key, GVariant *before, GVariant *after)
{
  g_autofree char *metric = g_strdup_printf ("pymemd_process_%s_bytes", key);
  g_autofree char *prefix = pid_prefix (pid);
  double exported = sample (text, metric, prefix);
  double sampled = sample (text, "pymemd_process_sampled_timestamp_seconds", prefix);
  gint64 at_before = 0, at_after = 0;
  guint64 a = 0, b = 0, lo, hi, slack;

  g_assert_true (g_variant_lookup (before, key, "t", &a));
  g_assert_true (g_variant_lookup (after, key, "t", &b));
  g_assert_true (g_variant_lookup (before, "sampled_at", "x", &at_before));
  g_assert_true (g_variant_lookup (after, "sampled_at", "x", &at_after));
  if (fabs (sampled - (double) at_before / G_USEC_PER_SEC) < 1e-5)
    lo = hi = a, slack = 0;
  else if (fabs (sampled - (double) at_after / G_USEC_PER_SEC) < 1e-5)
    lo = hi = b, slack = 0;
  else
    {
      lo = MIN (a, b);
      hi = MAX (a, b);
      slack = MAX (hi / 20, 256 * 1024);
    }
  if (exported + (double) slack >= (double) lo && exported <= (double) (hi + slack))
    return NULL;
  /* The same sample must give the same figure, whatever moved since. */
  if (slack == 0)
    g_error ("%s: %.0f exported, %" G_GUINT64_FORMAT " from the daemon for the same sample", key,
             exported, lo);
  return g_strdup_printf ("%s: %.0f exported, %" G_GUINT64_FORMAT " and %" G_GUINT64_FORMAT
                          " from the daemon", key, exported, a, b);
}

/* GetBreakdowns gives what GetProcessDetails does, category by category:
 * the same detail pass unless one ran in between (every 30 s; the
 * interpreter is idle), give or take 5 % or 256 KiB then. */
static void
assert_categories_match (Fixture *fx, const char *text, GPid pid)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_sync (
    fx->service.conn, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "GetProcessDetails", g_variant_new ("(u)", (guint32) pid),
    G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE, 10000, NULL, &error);
  g_autoptr(GVariant) details = NULL, categories = NULL;
  g_autofree char *pid_text = pid_prefix (pid);
  GVariantIter iter;
  const char *name;
  GVariant *figures;

  g_assert_no_error (error);
  details = g_variant_get_child_value (reply, 0);
  g_assert_true (g_variant_lookup (details, "categories", "@a{sa{st}}", &categories));
  g_variant_iter_init (&iter, categories);
  while (g_variant_iter_loop (&iter, "{&s@a{st}}", &name, &figures))
    for (guint i = 0; i < 3; i++)
      {
        const char *const keys[] = { "pss", "private_dirty", "swap" };
        g_autofree char *metric = g_strdup_printf ("pymemd_process_category_%s_bytes", keys[i]);
        g_autofree char *label = g_strdup_printf (",category=\"%s\"} ", name);
        g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
        guint64 expected = 0;
        double exported = -1;

        g_assert_true (g_variant_lookup (figures, keys[i], "t", &expected));
        for (guint l = 0; lines[l] != NULL; l++)
          if (g_str_has_prefix (lines[l], metric) && strstr (lines[l], pid_text) != NULL &&
              strstr (lines[l], label) != NULL)
            exported = g_ascii_strtod (strstr (lines[l], label) + strlen (label), NULL);
        if (fabs (exported - (double) expected) > MAX ((double) expected / 20, 256.0 * 1024))
          g_error ("%s %s: %.0f exported, %" G_GUINT64_FORMAT " from GetProcessDetails", name, keys[i], exported,
                   expected);
      }
}

static void
test_live (Fixture *fx, gconstpointer data)
{
  static const char *const detail_keys[] = { "rss", "pss", "uss", "private_dirty", "swap" };
  static const char *const categories[] = { "pymalloc", "native-heap", "stack", "interpreter", "extensions",
                                            "libraries", "files", "shmem", "other" };
  g_auto(PymemdTestRun) run = { 0 };
  g_autoptr(GVariant) before = NULL, after = NULL;
  g_autofree char *prefix = NULL, *labels = NULL, *user = NULL;
  g_autoptr(GArray) values = g_array_new (FALSE, FALSE, sizeof (double));
  struct passwd *pw;
  double category_sum = 0;

  if (skipped (fx))
    return;
  pymemd_test_service_wait_detail (&fx->service, fx->child.pid);
  /* Every figure of the process as the daemon gave it. Between two
   * samples the PSS of an idle interpreter moves when another of the
   * same image starts or ends (tests run two at a time, and a slow run
   * under valgrind leaves seconds between before and after) and may move
   * back: a figure out of the bracket is taken again, a few times. */
  for (guint attempt = 1;; attempt++)
    {
      g_autofree char *differs = NULL;

      pymemd_test_run_clear (&run);
      g_clear_pointer (&before, g_variant_unref);
      g_clear_pointer (&after, g_variant_unref);
      before = daemon_entry (fx, fx->child.pid);
      /* Every process: the host may run more interpreters than the
       * default bound, larger than ours (test-bound tests the bound). */
      g_assert_cmpint (CLI (fx, &run, "export", "--max-processes", "100000"), ==, 0);
      after = daemon_entry (fx, fx->child.pid);
      g_assert_cmpstr (run.err, ==, "");
      assert_well_formed (run.out);
      for (guint i = 0; i < G_N_ELEMENTS (detail_keys) && differs == NULL; i++)
        differs = figure_differs (run.out, fx->child.pid, detail_keys[i], before, after);
      if (differs == NULL)
        break;
      if (attempt == 5)
        g_error ("%s, five times", differs);
      g_test_message ("%s; again", differs);
    }
  prefix = pid_prefix (fx->child.pid);
  pw = getpwuid (getuid ());
  user = g_strdup (pw->pw_name);
  labels = g_strdup_printf ("pid=\"%d\",start_time=\"%" G_GUINT64_FORMAT "\",uid=\"%u\",user=\"%s\","
                            "name=\"python3",
                            fx->child.pid, pymemd_test_start_time (fx->child.pid), (guint) getuid (), user);
  g_assert_cmpuint (find_samples (run.out, "pymemd_process_pss_bytes", labels, NULL), ==, 1);
  g_assert_cmpfloat (sample (run.out, "pymemd_process_restricted", prefix), ==, 0);
  /* One series per category, adding up to the detail pass's PSS (which
   * smaps truncates to kB per mapping: at most 4 KiB a mapping below). */
  g_assert_cmpuint (find_samples (run.out, "pymemd_process_category_pss_bytes", prefix, values), ==,
                    G_N_ELEMENTS (categories));
  for (guint i = 0; i < G_N_ELEMENTS (categories); i++)
    {
      g_autofree char *line = g_strdup_printf (",category=\"%s\"} ", categories[i]);

      g_assert_nonnull (strstr (run.out, line));
      category_sum += g_array_index (values, double, i);
    }
  g_assert_cmpfloat (category_sum, >, 8.0 * MIB);
  g_assert_cmpfloat (category_sum, <, 2 * sample (run.out, "pymemd_process_pss_bytes", prefix));
  assert_categories_match (fx, run.out, fx->child.pid);
  g_assert_cmpuint (find_samples (run.out, "pymemd_process_category_private_dirty_bytes", prefix, NULL), ==, 9);
  g_assert_cmpuint (find_samples (run.out, "pymemd_process_category_swap_bytes", prefix, NULL), ==, 9);
  /* The exact pass runs as root here: the sharing buckets. */
  g_assert_cmpuint (find_samples (run.out, "pymemd_process_resident_by_sharing_bytes", prefix, NULL), ==, 4);
  g_assert_nonnull (strstr (run.out, ",sharing=\"17+\"} "));
  g_assert_cmpfloat (sample (run.out, "pymemd_exact_available", NULL), ==, 1);

  /* The totals and the daemon. The Totals property moves only by
   * [signals] min-change-bytes (1 MiB here) or once a detail interval,
   * and export reads it before GetProcesses: it may lag a process's
   * figure of a later tick by less than that. */
  g_assert_cmpfloat (sample (run.out, "pymemd_total_pss_bytes", NULL) + MIB, >,
                     sample (run.out, "pymemd_process_pss_bytes", prefix));
  g_assert_cmpfloat (sample (run.out, "pymemd_daemon_processes", NULL), >=, 1);
  g_assert_cmpfloat (sample (run.out, "pymemd_daemon_scans_total", NULL), >=, 2);
  g_assert_cmpfloat (sample (run.out, "pymemd_daemon_full_scans_total", NULL), >=, 2);
  g_assert_cmpfloat (sample (run.out, "pymemd_daemon_scan_seconds_total", NULL), >,
                     sample (run.out, "pymemd_daemon_last_scan_duration_seconds", NULL) / 2);
  g_assert_cmpfloat (sample (run.out, "pymemd_daemon_cpu_seconds_total", NULL), >, 0);
  g_assert_cmpfloat (sample (run.out, "pymemd_daemon_resident_memory_bytes", NULL), >, MIB);
  g_assert_cmpfloat (sample (run.out, "pymemd_daemon_interval_seconds", NULL), ==, 0.5);
  g_assert_cmpfloat (fabs (sample (run.out, "pymemd_daemon_start_time_seconds", NULL) -
                           (double) g_get_real_time () / G_USEC_PER_SEC),
                     <, 600);
  g_assert_nonnull (strstr (run.out, "\npymemd_daemon_info{version=\"" PACKAGE_VERSION "\"} 1\n"));
  /* The tests' daemon keeps no history file. */
  g_assert_nonnull (strstr (run.out, "\npymemd_history_state{state=\"disabled\"} 1\n"));
  g_assert_nonnull (strstr (run.out, "\npymemd_history_state{state=\"ok\"} 0\n"));
  g_assert_cmpfloat (sample (run.out, "pymemd_export_processes_omitted", NULL), ==, 0);
  g_assert_cmpfloat (sample (run.out, "pymemd_export_processes", NULL), ==,
                     find_samples (run.out, "pymemd_process_rss_bytes", "pid=", NULL));
}

/* nobody sees root's process as /proc/PID/status shows it: its RSS and
 * swap, none of its private figures, no categories; the totals are
 * everyone's. */
static void
test_restricted (Fixture *fx, gconstpointer data)
{
  static const char *const private_metrics[] = {
    "pymemd_process_pss_bytes", "pymemd_process_uss_bytes", "pymemd_process_private_dirty_bytes",
    "pymemd_process_exact_pss_bytes", "pymemd_process_pss_growth_bytes_per_second",
    "pymemd_process_category_pss_bytes", "pymemd_process_category_private_dirty_bytes",
    "pymemd_process_category_swap_bytes", "pymemd_process_resident_by_sharing_bytes",
  };
  g_auto(PymemdTestRun) run = { 0 };
  g_autofree char *prefix = NULL;

  if (skipped (fx) || !need_nobody ())
    return;
  pymemd_test_service_wait_detail (&fx->service, fx->child.pid);
  g_assert_cmpint (CLI_AS_NOBODY (fx, &run, "export", "--max-processes", "100000"), ==, 0);
  g_assert_cmpstr (run.err, ==, "");
  assert_well_formed (run.out);
  prefix = pid_prefix (fx->child.pid);
  g_assert_cmpfloat (sample (run.out, "pymemd_process_restricted", prefix), ==, 1);
  g_assert_cmpfloat (sample (run.out, "pymemd_process_rss_bytes", prefix), >, 8.0 * MIB);
  g_assert_cmpuint (find_samples (run.out, "pymemd_process_swap_bytes", prefix, NULL), ==, 1);
  for (guint i = 0; i < G_N_ELEMENTS (private_metrics); i++)
    if (find_samples (run.out, private_metrics[i], prefix, NULL) != 0)
      g_error ("nobody's export has %s of root's process", private_metrics[i]);
  /* Its name is the Name of its status (what nobody may read), its user root. */
  g_assert_nonnull (strstr (run.out, ",uid=\"0\",user=\"root\",name=\"python3\","));
  g_assert_cmpfloat (sample (run.out, "pymemd_total_pss_bytes", NULL), >, 8.0 * MIB);
  g_assert_cmpfloat (sample (run.out, "pymemd_daemon_scans_total", NULL), >=, 1);
}

/* --output replaces the file in one step: a new file (a new inode), mode
 * 0644 under umask 022, nothing left beside it; a directory that is not
 * there is an error (exit 1) and no file. */
static void
test_output (Fixture *fx, gconstpointer data)
{
  g_auto(PymemdTestRun) first = { 0 };
  g_auto(PymemdTestRun) second = { 0 };
  g_auto(PymemdTestRun) missing = { 0 };
  g_autofree char *dir = NULL, *file = NULL, *text = NULL, *nowhere = NULL;
  g_autoptr(GDir) listing = NULL;
  struct stat before, after;
  mode_t old_umask;

  if (skipped (fx))
    return;
  dir = g_build_filename (fx->service.tmp, "textfile", NULL);
  g_assert_cmpint (g_mkdir (dir, 0755), ==, 0);
  file = g_build_filename (dir, "pymemd.prom", NULL);
  old_umask = umask (022);
  g_assert_cmpint (CLI (fx, &first, "export", "--output", file), ==, 0);
  g_assert_cmpint (stat (file, &before), ==, 0);
  g_assert_cmpint (CLI (fx, &second, "export", "-o", file), ==, 0);
  umask (old_umask);
  g_assert_cmpstr (second.out, ==, "");
  g_assert_cmpstr (second.err, ==, "");
  g_assert_cmpint (stat (file, &after), ==, 0);
  g_assert_cmpuint (after.st_ino, !=, before.st_ino);
  g_assert_cmpuint (after.st_mode & 07777, ==, 0644);
  g_assert_true (g_file_get_contents (file, &text, NULL, NULL));
  assert_well_formed (text);
  g_assert_cmpuint (find_samples (text, "pymemd_process_rss_bytes", "pid=", NULL), >=, 1);
  listing = g_dir_open (dir, 0, NULL);
  g_assert_cmpstr (g_dir_read_name (listing), ==, "pymemd.prom");
  g_assert_null (g_dir_read_name (listing));

  nowhere = g_build_filename (fx->service.tmp, "no-such-dir", "pymemd.prom", NULL);
  g_assert_cmpint (CLI (fx, &missing, "export", "--output", nowhere), ==, 1);
  g_assert_true (g_str_has_prefix (missing.err, "pymemctl: "));
  g_assert_nonnull (strstr (missing.err, "No such file or directory"));
  g_assert_cmpuint (strchr (missing.err, '\n') - missing.err + 1, ==, strlen (missing.err));
  g_assert_false (g_file_test (nowhere, G_FILE_TEST_EXISTS));
}

/* ---- a process whose name is made to break things ---- */

typedef struct {
  PymemdTestChild child;
  char           *dir;
} Hostile;

/* A python copied to a directory and a name holding HOSTILE_NAME. */
static void
hostile_start (Hostile *hostile, const char *tmp)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *real = realpath (pymemd_test_python (), NULL);
  g_autofree char *python = NULL;
  const char *argv[] = { NULL, "-c", child_code, NULL };

  hostile->dir = g_build_filename (tmp, "ev\"il\\dir", NULL);
  g_assert_cmpint (g_mkdir (hostile->dir, 0755), ==, 0);
  python = pymemd_test_copy_file (real, hostile->dir, hostile_name);
  argv[0] = python;
  g_assert_true (pymemd_test_child_spawn (&hostile->child, argv, NULL, &error));
  g_assert_no_error (error);
}

static void
hostile_stop (Hostile *hostile)
{
  pymemd_test_child_stop (&hostile->child);
  g_clear_pointer (&hostile->dir, g_free);
}

/* The daemon answers for it in valid UTF-8 (the reply failed before,
 * and the daemon, under fatal criticals, aborted), and the export's name
 * label is escaped; nobody sees the Name of its status, which the kernel
 * escapes itself. */
static void
test_hostile_name (Fixture *fx, gconstpointer data)
{
  g_auto(PymemdTestRun) run = { 0 };
  g_auto(PymemdTestRun) nobody = { 0 };
  g_autoptr(GVariant) entry = NULL, reply = NULL, details = NULL, mappings = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *prefix = NULL, *label = NULL;
  Hostile hostile = { 0 };
  GVariantIter iter;
  const char *name, *path;
  gboolean found = FALSE;

  if (skipped (fx))
    return;
  hostile_start (&hostile, fx->service.tmp);
  pymemd_test_service_wait_pid (&fx->service, hostile.child.pid);
  pymemd_test_service_wait_detail (&fx->service, hostile.child.pid);
  entry = daemon_entry (fx, hostile.child.pid);
  g_assert_nonnull (entry);
  g_assert_true (g_variant_lookup (entry, "name", "&s", &name));
  g_assert_cmpstr (name, ==, "py\"th\\on\nx\033[31m\xef\xbf\xbd\xef\xbf\xbdy");
  reply = g_dbus_connection_call_sync (fx->service.conn, BUS_NAME, MANAGER_PATH, MANAGER_IFACE,
                                       "GetProcessDetails", g_variant_new ("(u)", (guint32) hostile.child.pid),
                                       G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE, 10000, NULL, &error);
  g_assert_no_error (error);
  details = g_variant_get_child_value (reply, 0);
  g_assert_true (g_variant_lookup (details, "mappings", "@a(stta{st})", &mappings));
  g_variant_iter_init (&iter, mappings);
  while (g_variant_iter_next (&iter, "(&stt@a{st})", &path, NULL, NULL, NULL))
    found |= g_str_has_suffix (path, "\xef\xbf\xbd\xef\xbf\xbdy");
  g_assert_true (found);

  g_assert_cmpint (CLI (fx, &run, "export", "--max-processes", "100000"), ==, 0);
  assert_well_formed (run.out);
  prefix = pid_prefix (hostile.child.pid);
  label = g_strdup_printf (",name=\"%s\",", hostile_label);
  g_assert_cmpuint (find_samples (run.out, "pymemd_process_pss_bytes", prefix, NULL), ==, 1);
  g_assert_nonnull (strstr (run.out, label));
  g_assert_true (g_utf8_validate (run.out, -1, NULL));
  g_assert_null (strchr (run.out, '\033'));

  if (need_nobody ())
    {
      /* Its comm, the file name's first 15 bytes, as status shows it
       * (which kernels escape in their own ways). */
      g_assert_cmpint (CLI_AS_NOBODY (fx, &nobody, "export", "--max-processes", "100000"), ==, 0);
      assert_well_formed (nobody.out);
      g_assert_nonnull (strstr (nobody.out, ",name=\"py\\\"th\\\\"));
      g_assert_true (g_utf8_validate (nobody.out, -1, NULL));
      g_assert_null (strchr (nobody.out, '\033'));
    }
  hostile_stop (&hostile);
}

/* ---- the series bound, on a captured /proc ---- */

/* The daemon of FX reads the fixture ROOT instead of /proc: two
 * interpreters whose figures do not change. */
static void
start_fixture_daemon (Fixture *fx, const char *root)
{
  g_autofree char *log = g_build_filename (fx->service.tmp, "pymemd.log", NULL);
  g_autofree char *runtime = g_build_filename (fx->service.tmp, "run", NULL);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_auto(GStrv) envp = g_environ_unsetenv (g_get_environ (), "NOTIFY_SOCKET");
  g_autoptr(GError) error = NULL;
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  int log_fd = open (log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const char *const args[] = { g_getenv ("PYMEMD_BIN"), "--address", fx->service.address, "--interval", INTERVAL,
                               "--runtime-dir", runtime, "--proc", root, NULL };

  g_assert_cmpint (log_fd, >=, 0);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  g_spawn_async_with_pipes_and_fds (NULL, (const char *const *) argv->pdata, (const char *const *) envp,
                                    G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, -1, log_fd, log_fd, NULL, NULL, 0,
                                    &fx->service.daemon_pid, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  close (log_fd);
  for (;;)
    {
      g_autoptr(GVariant) reply = call_manager (fx, "GetProcesses", "(aa{sv})", NULL);
      g_autoptr(GVariant) list = reply != NULL ? g_variant_get_child_value (reply, 0) : NULL;

      if (list != NULL && g_variant_n_children (list) == 2)
        break;
      if (g_get_monotonic_time () > deadline)
        g_error ("pymemd on the fixture did not list its 2 interpreters in 30 s; see %s", log);
      g_usleep (50000);
    }
}

static guint
exported_pids (const char *text)
{
  return find_samples (text, "pymemd_process_rss_bytes", "pid=", NULL);
}

static void
test_bound (Fixture *fx, gconstpointer data)
{
  g_auto(PymemdTestRun) all = { 0 };
  g_auto(PymemdTestRun) one = { 0 };
  g_auto(PymemdTestRun) none = { 0 };
  g_auto(PymemdTestRun) nobody = { 0 };
  char *root;

  memset (fx, 0, sizeof *fx);
  if (!have_pymemctl () || !pymemd_test_need_fixture_python () || !pymemd_test_service_start_bus (&fx->service))
    return;
  g_assert_cmpint (chmod (fx->service.tmp, 0755), ==, 0);
  root = pymemd_test_copy_fixture ("proc-mixed");
  start_fixture_daemon (fx, root);

  /* 1002 (128960 kB resident, 124 MiB PSS) and 1001 (8872 kB). */
  g_assert_cmpint (CLI (fx, &all, "export"), ==, 0);
  assert_well_formed (all.out);
  g_assert_cmpuint (exported_pids (all.out), ==, 2);
  g_assert_cmpfloat (sample (all.out, "pymemd_process_rss_bytes", "pid=\"1002\","), ==, 128960.0 * 1024);
  g_assert_cmpfloat (sample (all.out, "pymemd_process_rss_bytes", "pid=\"1001\","), ==, 8872.0 * 1024);
  g_assert_cmpfloat (sample (all.out, "pymemd_total_rss_bytes", NULL), ==, (8872.0 + 128960) * 1024);
  g_assert_cmpfloat (sample (all.out, "pymemd_export_processes", NULL), ==, 2);
  g_assert_cmpfloat (sample (all.out, "pymemd_export_processes_omitted", NULL), ==, 0);
  /* The fixture has no page frame counts: no exact figures, no sharing. */
  g_assert_cmpfloat (sample (all.out, "pymemd_exact_available", NULL), ==, 0);
  g_assert_cmpuint (find_samples (all.out, "pymemd_process_resident_by_sharing_bytes", "pid=", NULL), ==, 0);
  g_assert_cmpuint (find_samples (all.out, "pymemd_process_category_pss_bytes", "pid=\"1002\",", NULL), ==, 9);

  /* One process: the larger, 1002, and no series at all of 1001. */
  g_assert_cmpint (CLI (fx, &one, "export", "--max-processes", "1"), ==, 0);
  assert_well_formed (one.out);
  g_assert_cmpuint (exported_pids (one.out), ==, 1);
  g_assert_cmpfloat (sample (one.out, "pymemd_process_pss_bytes", "pid=\"1002\","), >, 100.0 * MIB);
  g_assert_null (strstr (one.out, "pid=\"1001\""));
  g_assert_cmpfloat (sample (one.out, "pymemd_export_processes", NULL), ==, 1);
  g_assert_cmpfloat (sample (one.out, "pymemd_export_processes_omitted", NULL), ==, 1);
  /* The totals still count both. */
  g_assert_cmpfloat (sample (one.out, "pymemd_total_rss_bytes", NULL), ==, (8872.0 + 128960) * 1024);

  g_assert_cmpint (CLI (fx, &none, "export", "--max-processes", "0"), ==, 0);
  assert_well_formed (none.out);
  g_assert_null (strstr (none.out, "pymemd_process_"));
  g_assert_cmpfloat (sample (none.out, "pymemd_export_processes_omitted", NULL), ==, 2);

  /* nobody sees root's two restricted, ranked by RSS: 1002 again. */
  if (need_nobody ())
    {
      g_assert_cmpint (CLI_AS_NOBODY (fx, &nobody, "export", "--max-processes", "1"), ==, 0);
      g_assert_cmpfloat (sample (nobody.out, "pymemd_process_restricted", "pid=\"1002\","), ==, 1);
      g_assert_null (strstr (nobody.out, "pid=\"1001\""));
      g_assert_null (strstr (nobody.out, "pymemd_process_pss_bytes"));
    }
  pymemd_test_service_stop (&fx->service);
  pymemd_test_remove_fixture (root);
}

/* ---- promtool, where it is installed ---- */

static gboolean
need_promtool (void)
{
  g_autofree char *promtool = g_find_program_in_path ("promtool");

  if (promtool != NULL)
    return TRUE;
  g_test_skip ("promtool is not installed (Debian's prometheus package; tools/install-deps.sh installs it "
               "where its services cannot start)");
  return FALSE;
}

/* `promtool check metrics` reads TEXT from stdin: no error, no lint. */
static void
assert_promtool_clean (const char *text)
{
  const char *argv[] = { "promtool", "check", "metrics", NULL };
  g_autoptr(GSubprocess) promtool = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL, *err = NULL;

  promtool = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE,
                                &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (promtool, text, NULL, &out, &err, &error));
  g_assert_no_error (error);
  if (!g_subprocess_get_if_exited (promtool) || g_subprocess_get_exit_status (promtool) != 0 || *out != '\0' ||
      *err != '\0')
    g_error ("promtool check metrics: status %d\n%s%s\non:\n%s", g_subprocess_get_exit_status (promtool), out, err,
             text);
}

static void
test_promtool (Fixture *fx, gconstpointer data)
{
  g_autoptr(PymemctlMetrics) metrics = pymemctl_metrics_new ();
  g_autoptr(GString) labels = g_string_new (NULL);
  g_autofree char *text = NULL;
  g_auto(PymemdTestRun) run = { 0 };
  g_auto(PymemdTestRun) nobody = { 0 };
  Hostile hostile = { 0 };
  guint family;

  if (skipped (fx) || !need_promtool ())
    return;
  /* The escapes, as the writer makes them. */
  pymemctl_metrics_append_label (labels, "name", hostile_name);
  pymemctl_metrics_append_label (labels, "other", "\\\"\n\r\t\x7f\xc2\x9b");
  family = pymemctl_metrics_declare (metrics, "t_size_bytes", PYMEMCTL_METRIC_GAUGE, "bytes", "A \\ help\ntext");
  pymemctl_metrics_add_count (metrics, family, labels->str, G_MAXUINT64);
  family = pymemctl_metrics_declare (metrics, "t_seconds_total", PYMEMCTL_METRIC_COUNTER, "seconds", "Time");
  pymemctl_metrics_add (metrics, family, NULL, 1e-9);
  text = pymemctl_metrics_to_text (metrics, NULL);
  assert_promtool_clean (text);

  /* The real thing, with the hostile process among the others, as root
   * and as nobody. */
  hostile_start (&hostile, fx->service.tmp);
  pymemd_test_service_wait_pid (&fx->service, hostile.child.pid);
  pymemd_test_service_wait_detail (&fx->service, hostile.child.pid);
  g_assert_cmpint (CLI (fx, &run, "export", "--max-processes", "100000"), ==, 0);
  assert_promtool_clean (run.out);
  if (pymemd_test_setpriv () != NULL && getpwnam ("nobody") != NULL)
    {
      g_assert_cmpint (CLI_AS_NOBODY (fx, &nobody, "export", "--max-processes", "100000"), ==, 0);
      assert_promtool_clean (nobody.out);
    }
  hostile_stop (&hostile);
}

/* ---- the timer's service ---- */

/* systemd-analyze ARGS in DIR: its status, its output and errors. */
static int
run_systemd_analyze (const char *dir, const char *const *args, char **out)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                                       G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocess) analyze = NULL;
  g_autoptr(GError) error = NULL;

  g_ptr_array_add (argv, (gpointer) "systemd-analyze");
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  g_subprocess_launcher_set_cwd (launcher, dir);
  analyze = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (analyze, NULL, NULL, out, NULL, &error));
  g_assert_no_error (error);
  return g_subprocess_get_if_exited (analyze) ? g_subprocess_get_exit_status (analyze) : -1;
}

/* data/pymemd-export.service as make install writes it for pymemctl in
 * BINDIR, and the timer, into DIR. */
static char *
install_units (const char *dir, const char *bindir)
{
  g_autofree char *source = g_test_build_filename (G_TEST_DIST, "..", "data", "pymemd-export.service.in", NULL);
  g_autofree char *timer_source = g_test_build_filename (G_TEST_DIST, "..", "data", "pymemd-export.timer", NULL);
  g_autofree char *text = NULL, *timer = NULL, *path = NULL, *timer_path = NULL;
  g_auto(GStrv) parts = NULL;
  g_autofree char *unit = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_get_contents (source, &text, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (timer_source, &timer, NULL, &error));
  g_assert_no_error (error);
  parts = g_strsplit (text, "@bindir@", -1);
  g_assert_cmpuint (g_strv_length (parts), >, 1);
  unit = g_strjoinv (bindir, parts);
  path = g_build_filename (dir, "pymemd-export.service", NULL);
  timer_path = g_build_filename (dir, "pymemd-export.timer", NULL);
  g_assert_true (g_file_set_contents (path, unit, -1, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (timer_path, timer, -1, &error));
  g_assert_no_error (error);
  return g_steal_pointer (&unit);
}

/* The units systemd would load: systemd-analyze verify finds nothing to
 * say of them (an unknown or misspelt key, a command that is not there, a
 * timer without its service), their sandbox keeps the exposure it was
 * written with (0.5: --threshold counts tenths; dropping PrivateUsers= or
 * ProtectSystem= makes it 0.7), the file the service writes is in the directory it
 * may write and that its condition wants; and the service's own command,
 * run against the daemon with that directory moved into the test's,
 * writes the file node-exporter reads. */
static void
test_units (Fixture *fx, gconstpointer data)
{
  g_autofree char *analyze = g_find_program_in_path ("systemd-analyze");
  g_autofree char *bindir = NULL, *units = NULL, *unit = NULL, *out = NULL, *security = NULL;
  g_autofree char *exec_start = NULL, *writable = NULL, *condition = NULL, *target = NULL;
  g_autofree char *textfile = NULL, *file = NULL, *written = NULL, *pymemctl = NULL, *prefix = NULL;
  g_autoptr(GKeyFile) keys = g_key_file_new ();
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) argv = NULL;
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_auto(PymemdTestRun) run = { 0 };
  const char *output = NULL;
  mode_t old_umask;

  if (skipped (fx))
    return;
  if (analyze == NULL)
    {
      g_test_skip ("systemd-analyze is not installed");
      return;
    }
  bindir = g_path_get_dirname (g_getenv ("PYMEMCTL_BIN"));
  units = g_build_filename (fx->service.tmp, "units", NULL);
  g_assert_cmpint (g_mkdir (units, 0755), ==, 0);
  unit = install_units (units, bindir);

  if (run_systemd_analyze (units, (const char *const[]){ "verify", "--man=no", "pymemd-export.service",
                                                          "pymemd-export.timer", NULL },
                           &out) != 0 ||
      *out != '\0')
    g_error ("systemd-analyze verify:\n%s", out);
  if (run_systemd_analyze (units, (const char *const[]){ "security", "--offline=yes", "--threshold=6",
                                                          "pymemd-export.service", NULL },
                           &security) != 0)
    g_error ("systemd-analyze security:\n%s", security);

  g_assert_true (g_key_file_load_from_data (keys, unit, -1, G_KEY_FILE_NONE, &error));
  g_assert_no_error (error);
  exec_start = g_key_file_get_value (keys, "Service", "ExecStart", &error);
  g_assert_no_error (error);
  writable = g_key_file_get_value (keys, "Service", "ReadWritePaths", &error);
  g_assert_no_error (error);
  condition = g_key_file_get_value (keys, "Unit", "ConditionPathIsDirectory", &error);
  g_assert_no_error (error);
  g_assert_true (g_shell_parse_argv (exec_start, NULL, &argv, &error));
  g_assert_no_error (error);
  pymemctl = g_build_filename (bindir, "pymemctl", NULL);
  g_assert_cmpstr (argv[0], ==, pymemctl);
  g_assert_cmpstr (argv[1], ==, "export");
  for (guint i = 2; argv[i] != NULL; i++)
    if (strcmp (argv[i], "--output") == 0 && argv[i + 1] != NULL)
      output = argv[i + 1];
  g_assert_nonnull (output);
  g_assert_true (g_str_has_suffix (output, ".prom")); /* what the collector reads */
  target = g_path_get_dirname (output);
  g_assert_cmpstr (target, ==, writable);
  g_assert_cmpstr (target, ==, condition);

  /* The command, into a directory of the test's. */
  textfile = g_build_filename (fx->service.tmp, "textfile", NULL);
  g_assert_cmpint (g_mkdir (textfile, 0755), ==, 0);
  for (guint i = 1; argv[i] != NULL; i++)
    {
      if (argv[i] == output)
        {
          g_autofree char *base = g_path_get_basename (output);

          file = g_build_filename (textfile, base, NULL);
          g_ptr_array_add (args, file);
        }
      else
        g_ptr_array_add (args, argv[i]);
    }
  g_ptr_array_add (args, NULL);
  old_umask = umask (022); /* the service's UMask= */
  g_assert_cmpint (pymemd_test_run_pymemctl_at (&run, FALSE, fx->service.address, (const char *const *) args->pdata),
                   ==, 0);
  umask (old_umask);
  g_assert_cmpstr (run.out, ==, "");
  g_assert_cmpstr (run.err, ==, "");
  g_assert_true (g_file_get_contents (file, &written, NULL, &error));
  g_assert_no_error (error);
  assert_well_formed (written);
  prefix = pid_prefix (fx->child.pid);
  g_assert_cmpuint (find_samples (written, "pymemd_process_pss_bytes", prefix, NULL), ==, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/export/format/escape", test_escape);
  g_test_add_func ("/export/format/text", test_text);
  g_test_add_func ("/export/usage", test_usage);
  g_test_add ("/export/live", Fixture, NULL, fixture_setup, test_live, fixture_teardown);
  g_test_add ("/export/restricted", Fixture, NULL, fixture_setup, test_restricted, fixture_teardown);
  g_test_add ("/export/output", Fixture, NULL, fixture_setup, test_output, fixture_teardown);
  g_test_add ("/export/hostile-name", Fixture, NULL, fixture_setup, test_hostile_name, fixture_teardown);
  g_test_add ("/export/bound", Fixture, NULL, NULL, test_bound, NULL);
  g_test_add ("/export/promtool", Fixture, NULL, fixture_setup, test_promtool, fixture_teardown);
  g_test_add ("/export/units", Fixture, NULL, fixture_setup, test_units, fixture_teardown);
  return g_test_run ();
}
