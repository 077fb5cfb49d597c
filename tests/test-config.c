/* Tests pymemd.conf loading: the defaults, the shipped file, the administrator's file before the installed one, every key set, and every kind of bad input refused with a message naming it. */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "pymemd-config.h"
#include "pymemd-error.h"
#include "testutil.h"

#define MIB (G_GUINT64_CONSTANT (1) << 20)
#define GIB (G_GUINT64_CONSTANT (1) << 30)

typedef struct {
  char *dir;
  char *path; /* DIR/pymemd.conf, written by write_config () */
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->dir = pymemd_test_mkdtemp ();
  f->path = g_build_filename (f->dir, "pymemd.conf", NULL);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  pymemd_test_rm_rf (f->dir);
  g_free (f->path);
  g_free (f->dir);
}

static void
write_config (Fixture *f, const char *contents, gssize length)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents (f->path, contents, length, &error);
  g_assert_no_error (error);
}

static void
assert_limits (PymemdConfig *config,
               guint         connections,
               guint         connections_per_uid,
               gsize         buffer_per_uid,
               double        read_timeout,
               guint         log_lines_per_uid,
               guint         subscriptions_per_uid,
               guint         pids_per_subscription,
               guint         rescans_per_uid_per_minute)
{
  PymemdHelperLimits helper;

  pymemd_config_get_helper_limits (config, &helper);
  g_assert_cmpuint (helper.connections, ==, connections);
  g_assert_cmpuint (helper.connections_per_uid, ==, connections_per_uid);
  g_assert_cmpuint (helper.connections_per_pid, ==, 4);
  g_assert_cmpuint (helper.buffer_per_uid, ==, buffer_per_uid);
  g_assert_cmpfloat (helper.read_timeout, ==, read_timeout);
  g_assert_cmpuint (helper.log_lines_per_uid, ==, log_lines_per_uid);
  g_assert_cmpfloat (helper.log_window, ==, 60);
  g_assert_cmpuint (pymemd_config_get_subscriptions_per_uid (config), ==, subscriptions_per_uid);
  g_assert_cmpuint (pymemd_config_get_pids_per_subscription (config), ==, pids_per_subscription);
  g_assert_cmpuint (pymemd_config_get_rescans_per_uid_per_minute (config), ==,
                    rescans_per_uid_per_minute);
}

/* What CONFIG hands the monitor: its intervals, events and budget. */
static PymemdMonitorSettings
monitor_of (PymemdConfig *config)
{
  PymemdMonitorSettings settings;

  pymemd_config_get_monitor (config, &settings);
  return settings;
}

static void
assert_defaults (PymemdConfig *config)
{
  PymemdHeapWatchSettings heap;
  PymemdAttachLimits limits;
  PymemdGraphLimits graph_limits;
  PymemdHistorySettings history;
  PymemdScanBudget budget;

  g_assert_cmpfloat (pymemd_config_get_interval (config), ==, 2);
  g_assert_cmpfloat (pymemd_config_get_detail_interval (config), ==, 30);
  g_assert_true (monitor_of (config).events);
  budget = monitor_of (config).budget;
  g_assert_cmpuint (budget.rollup_max_stall_us, ==, 5000);
  g_assert_cmpuint (budget.rollup_refresh_us, ==, 30 * G_USEC_PER_SEC);
  g_assert_cmpuint (budget.detail_max_rss, ==, 4096 * MIB);
  g_assert_cmpuint (budget.detail_max_bytes, ==, 256 * MIB);
  g_assert_cmpuint (budget.exact_max_mapped, ==, 64 * GIB);
  g_assert_cmpuint (budget.detail_max_cpu_us, ==, G_USEC_PER_SEC);
  g_assert_cmpuint (budget.detail_share_us, ==, 25000);
  g_assert_cmpuint (budget.rollup_share_us, ==, 100000);
  g_assert_cmpuint (pymemd_config_get_min_change_bytes (config), ==, 1048576);
  g_assert_cmpfloat (pymemd_config_get_min_signal_interval (config), ==, 2);
  g_assert_cmpuint (pymemd_config_get_max_subscriptions_per_client (config), ==, 16);
  g_assert_cmpint (pymemd_config_get_attach (config), ==, PYMEMD_ATTACH_OWN);
  pymemd_config_get_history (config, &history);
  g_assert_cmpint (history.raw_keep_us, ==, G_GINT64_CONSTANT (60) * 60000000);
  g_assert_cmpint (history.minute_keep_us, ==, G_GINT64_CONSTANT (14) * 86400000000);
  g_assert_cmpint (history.hour_keep_us, ==, G_GINT64_CONSTANT (400) * 86400000000);
  g_assert_cmpuint (history.max_bytes, ==, 256 * MIB);
  g_assert_cmpfloat (history.growth_threshold, ==, 16.0 * MIB);
  g_assert_cmpint (history.growth_window_us, ==, G_GINT64_CONSTANT (30) * 60000000);
  g_assert_cmpfloat (history.retry_seconds, ==, 30);
  assert_limits (config, 1024, 128, 8 * MIB, 10, 20, 64, 4096, 10);
  pymemd_config_get_attach_limits (config, &limits);
  g_assert_cmpfloat (limits.timeout_seconds, ==, 15);
  g_assert_cmpuint (limits.per_uid, ==, 4);
  g_assert_cmpuint (limits.concurrent, ==, 4);
  pymemd_config_get_graph_limits (config, &graph_limits);
  g_assert_cmpuint (graph_limits.memory, ==, 256 * MIB);
  g_assert_cmpuint (graph_limits.concurrent, ==, 2);
  pymemd_config_get_heap_watch (config, &heap);
  g_assert_cmpfloat (heap.interval, ==, 0);
  g_assert_cmpfloat (heap.budget, ==, 0.5);
  g_assert_cmpuint (heap.per_round, ==, 32);
}

static gboolean
message_has_all (const GError *error, const char *const *needles)
{
  for (guint i = 0; needles[i] != NULL; i++)
    if (strstr (error->message, needles[i]) == NULL)
      return FALSE;
  return TRUE;
}

/* Loads CONTENTS and expects CODE with a one-line message naming the file
 * and containing each of NEEDLES. */
static void
assert_refused (Fixture *f, const char *contents, PymemdError code, const char *const *needles)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdConfig) config = NULL;

  write_config (f, contents, -1);
  config = pymemd_config_load (f->path, FALSE, &error);
  if (error == NULL || !message_has_all (error, needles))
    g_test_message ("config «%s» gave: %s", contents, error != NULL ? error->message : "no error");
  g_assert_null (config);
  g_assert_error (error, PYMEMD_ERROR, (int) code);
  g_assert_true (g_str_has_prefix (error->message, f->path));
  g_assert_null (strchr (error->message, '\n'));
  g_assert_true (message_has_all (error, needles));
}

/* [GROUP] KEY=VALUE alone must be refused with a message naming both. */
static void
assert_value_refused (Fixture *f, const char *group, const char *key, const char *value)
{
  g_autofree char *contents = g_strdup_printf ("[%s]\n%s=%s\n", group, key, value);
  g_autofree char *pair = g_strdup_printf ("[%s] %s=%s:", group, key, value);
  const char *needles[] = { pair, NULL };

  assert_refused (f, contents, PYMEMD_ERROR_INVALID_ARGS, needles);
}

static PymemdConfig *
load_ok (Fixture *f, const char *contents)
{
  g_autoptr(GError) error = NULL;
  PymemdConfig *config;

  write_config (f, contents, -1);
  config = pymemd_config_load (f->path, FALSE, &error);
  g_assert_no_error (error);
  g_assert_nonnull (config);
  return config;
}

static void
test_defaults (void)
{
  g_autoptr(PymemdConfig) config = pymemd_config_new ();

  assert_defaults (config);
  g_assert_null (pymemd_config_get_path (config));
}

static void
test_shipped_file (void)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "..", "data", "pymemd.conf", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdConfig) config = pymemd_config_load (path, FALSE, &error);

  g_assert_no_error (error);
  assert_defaults (config);
  g_assert_cmpstr (pymemd_config_get_path (config), ==, path);
}

static void
test_every_key (void)
{
  g_autofree char *path = pymemd_test_data_path ("config/full.conf");
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdConfig) config = pymemd_config_load (path, FALSE, &error);
  PymemdHeapWatchSettings heap;
  PymemdAttachLimits limits;
  PymemdHistorySettings history;
  PymemdScanBudget budget;

  g_assert_no_error (error);
  g_assert_cmpfloat (pymemd_config_get_interval (config), ==, 1.5);
  g_assert_cmpfloat (pymemd_config_get_detail_interval (config), ==, 45);
  budget = monitor_of (config).budget;
  g_assert_cmpuint (budget.rollup_max_stall_us, ==, 250);
  g_assert_cmpuint (budget.rollup_refresh_us, ==, 12500000);
  g_assert_cmpuint (budget.detail_max_rss, ==, 8192 * MIB);
  g_assert_cmpuint (budget.detail_max_bytes, ==, 512 * MIB);
  g_assert_cmpuint (budget.exact_max_mapped, ==, 128 * GIB);
  g_assert_cmpuint (budget.detail_max_cpu_us, ==, 250500);
  g_assert_cmpuint (budget.detail_share_us, ==, 50000);
  g_assert_cmpuint (budget.rollup_share_us, ==, 20000);
  g_assert_cmpuint (pymemd_config_get_min_change_bytes (config), ==, 4096);
  g_assert_cmpfloat (pymemd_config_get_min_signal_interval (config), ==, 0.25);
  g_assert_cmpuint (pymemd_config_get_max_subscriptions_per_client (config), ==, 64);
  g_assert_cmpint (pymemd_config_get_attach (config), ==, PYMEMD_ATTACH_ADMIN);
  pymemd_config_get_history (config, &history);
  g_assert_cmpint (history.raw_keep_us, ==, G_GINT64_CONSTANT (120) * 60000000);
  g_assert_cmpint (history.minute_keep_us, ==, G_GINT64_CONSTANT (30) * 86400000000);
  g_assert_cmpint (history.hour_keep_us, ==, G_GINT64_CONSTANT (730) * 86400000000);
  g_assert_cmpuint (history.max_bytes, ==, 64 * MIB);
  g_assert_cmpfloat (history.growth_threshold, ==, 2.5 * MIB);
  g_assert_cmpint (history.growth_window_us, ==, G_GINT64_CONSTANT (90) * 60000000);
  g_assert_cmpfloat (history.retry_seconds, ==, 5);
  assert_limits (config, 2048, 32, 16 * MIB, 2.5, 7, 100, 512, 3);
  pymemd_config_get_attach_limits (config, &limits);
  g_assert_cmpfloat (limits.timeout_seconds, ==, 2.5);
  g_assert_cmpuint (limits.per_uid, ==, 2);
  g_assert_cmpuint (limits.concurrent, ==, 8);
  pymemd_config_get_heap_watch (config, &heap);
  g_assert_cmpfloat (heap.interval, ==, 120);
  g_assert_cmpfloat (heap.budget, ==, 0.25);
  g_assert_cmpuint (heap.per_round, ==, 5);
  g_assert_cmpstr (pymemd_config_get_path (config), ==, path);
}

/* Bounds are inclusive; keys left out keep their defaults. */
static void
test_bounds_accepted (Fixture *f, gconstpointer data)
{
  g_autoptr(PymemdConfig) low = NULL;
  g_autoptr(PymemdConfig) high = NULL;
  g_autoptr(PymemdConfig) partial = NULL;
  g_autoptr(PymemdConfig) empty = NULL;
  PymemdHeapWatchSettings heap;
  PymemdAttachLimits limits;
  PymemdGraphLimits graph_limits;
  PymemdScanBudget budget;

  low = load_ok (f,
                 "[monitor]\ninterval=0.5\ndetail-interval=0.5\n"
                 "[budget]\nrollup-max-stall-ms=0.1\nrollup-refresh-seconds=0\ndetail-max-rss-mib=1\n"
                 "detail-max-smaps-mib=1\nexact-max-mapped-gib=1\ndetail-max-cpu-ms=1\n"
                 "detail-share-percent=0.1\nrollup-share-percent=0.1\n"
                 "[signals]\nmin-change-bytes=0\nmin-interval=0\nmax-subscriptions-per-client=1\n"
                 "[access]\nattach=none\n"
                 "[limits]\nhelper-connections=1\nhelper-connections-per-uid=1\n"
                 "helper-buffer-mib-per-uid=1\nhelper-read-timeout-seconds=0.1\n"
                 "helper-log-lines-per-uid-per-minute=1\nsubscriptions-per-uid=1\n"
                 "pids-per-subscription=1\nrescans-per-uid-per-minute=1\n"
                 "attach-timeout-seconds=1\nattaches-per-uid=1\nconcurrent-attaches=1\n"
                 "graph-memory-mib=16\ngraph-analyses=1\n"
                 "[heap]\ninterval=10\nbudget-seconds=0.05\nprocesses-per-round=1\n");
  g_assert_cmpfloat (pymemd_config_get_interval (low), ==, 0.5);
  g_assert_cmpfloat (pymemd_config_get_detail_interval (low), ==, 0.5);
  budget = monitor_of (low).budget;
  g_assert_cmpuint (budget.rollup_max_stall_us, ==, 100);
  g_assert_cmpuint (budget.rollup_refresh_us, ==, 0);
  g_assert_cmpuint (budget.detail_max_rss, ==, MIB);
  g_assert_cmpuint (budget.detail_max_bytes, ==, MIB);
  g_assert_cmpuint (budget.exact_max_mapped, ==, GIB);
  g_assert_cmpuint (budget.detail_max_cpu_us, ==, 1000);
  g_assert_cmpuint (budget.detail_share_us, ==, 1000);
  g_assert_cmpuint (budget.rollup_share_us, ==, 1000);
  g_assert_cmpuint (pymemd_config_get_min_change_bytes (low), ==, 0);
  g_assert_cmpfloat (pymemd_config_get_min_signal_interval (low), ==, 0);
  g_assert_cmpuint (pymemd_config_get_max_subscriptions_per_client (low), ==, 1);
  g_assert_cmpint (pymemd_config_get_attach (low), ==, PYMEMD_ATTACH_NONE);
  assert_limits (low, 1, 1, MIB, 0.1, 1, 1, 1, 1);
  pymemd_config_get_attach_limits (low, &limits);
  g_assert_cmpfloat (limits.timeout_seconds, ==, 1);
  g_assert_cmpuint (limits.per_uid, ==, 1);
  g_assert_cmpuint (limits.concurrent, ==, 1);
  pymemd_config_get_graph_limits (low, &graph_limits);
  g_assert_cmpuint (graph_limits.memory, ==, 16 * MIB);
  g_assert_cmpuint (graph_limits.concurrent, ==, 1);
  pymemd_config_get_heap_watch (low, &heap);
  g_assert_cmpfloat (heap.interval, ==, 10);
  g_assert_cmpfloat (heap.budget, ==, 0.05);
  g_assert_cmpuint (heap.per_round, ==, 1);

  high = load_ok (f,
                  "[monitor]\ninterval=3600\ndetail-interval=86400\n"
                  "[budget]\nrollup-max-stall-ms=1000\nrollup-refresh-seconds=3600\ndetail-max-rss-mib=1048576\n"
                  "detail-max-smaps-mib=4096\nexact-max-mapped-gib=65536\ndetail-max-cpu-ms=60000\n"
                  "detail-share-percent=100\nrollup-share-percent=100\n"
                  "[signals]\nmin-change-bytes=1099511627776\nmin-interval=86400\n"
                  "max-subscriptions-per-client=1024\n"
                  "[limits]\nhelper-connections=65536\nhelper-connections-per-uid=65536\n"
                  "helper-buffer-mib-per-uid=1024\nhelper-read-timeout-seconds=600\n"
                  "helper-log-lines-per-uid-per-minute=100000\nsubscriptions-per-uid=4096\n"
                  "pids-per-subscription=4096\nrescans-per-uid-per-minute=3600\n"
                  "attach-timeout-seconds=600\nattaches-per-uid=64\nconcurrent-attaches=64\n"
                  "graph-memory-mib=65536\ngraph-analyses=64\n"
                  "[heap]\ninterval=86400\nbudget-seconds=10\nprocesses-per-round=4096\n");
  g_assert_cmpfloat (pymemd_config_get_interval (high), ==, 3600);
  g_assert_cmpfloat (pymemd_config_get_detail_interval (high), ==, 86400);
  budget = monitor_of (high).budget;
  g_assert_cmpuint (budget.rollup_max_stall_us, ==, 1000000);
  g_assert_cmpuint (budget.rollup_refresh_us, ==, G_GUINT64_CONSTANT (3600) * G_USEC_PER_SEC);
  g_assert_cmpuint (budget.detail_max_rss, ==, 1048576 * MIB);
  g_assert_cmpuint (budget.detail_max_bytes, ==, 4096 * MIB);
  g_assert_cmpuint (budget.exact_max_mapped, ==, 65536 * GIB);
  g_assert_cmpuint (budget.detail_max_cpu_us, ==, 60000000);
  g_assert_cmpuint (budget.detail_share_us, ==, 1000000);
  g_assert_cmpuint (budget.rollup_share_us, ==, 1000000);
  g_assert_cmpuint (pymemd_config_get_min_change_bytes (high), ==, G_GUINT64_CONSTANT (1) << 40);
  g_assert_cmpfloat (pymemd_config_get_min_signal_interval (high), ==, 86400);
  g_assert_cmpuint (pymemd_config_get_max_subscriptions_per_client (high), ==, 1024);
  g_assert_cmpint (pymemd_config_get_attach (high), ==, PYMEMD_ATTACH_OWN);
  assert_limits (high, 65536, 65536, 1024 * MIB, 600, 100000, 4096, 4096, 3600);
  pymemd_config_get_attach_limits (high, &limits);
  g_assert_cmpfloat (limits.timeout_seconds, ==, 600);
  g_assert_cmpuint (limits.per_uid, ==, 64);
  g_assert_cmpuint (limits.concurrent, ==, 64);
  pymemd_config_get_graph_limits (high, &graph_limits);
  g_assert_cmpuint (graph_limits.memory, ==, (gsize) 65536 * MIB);
  g_assert_cmpuint (graph_limits.concurrent, ==, 64);
  pymemd_config_get_heap_watch (high, &heap);
  g_assert_cmpfloat (heap.interval, ==, 86400);
  g_assert_cmpuint (heap.per_round, ==, 4096);
  /* 0 is off, and is no value between 0 and 10. */
  g_clear_object (&high);
  high = load_ok (f, "[heap]\ninterval=0\n");
  pymemd_config_get_heap_watch (high, &heap);
  g_assert_cmpfloat (heap.interval, ==, 0);
  assert_value_refused (f, "heap", "interval", "5");

  partial = load_ok (f, "# only one key\n[signals]\nmin-interval = 7 \n[budget]\n");
  g_assert_cmpfloat (pymemd_config_get_min_signal_interval (partial), ==, 7);
  g_assert_cmpfloat (pymemd_config_get_interval (partial), ==, 2);
  g_assert_cmpuint (pymemd_config_get_min_change_bytes (partial), ==, MIB);

  empty = load_ok (f, "");
  assert_defaults (empty);
}

static const struct {
  const char *group, *key, *low, *high;
} ranges[] = {
  { "monitor", "interval", "0.4", "3601" },
  { "monitor", "detail-interval", "1.9", "86401" },
  { "budget", "rollup-max-stall-ms", "0.09", "1000.1" },
  { "budget", "rollup-refresh-seconds", "-1", "3600.5" },
  { "budget", "detail-max-rss-mib", "0", "1048577" },
  { "budget", "detail-max-smaps-mib", "0", "4097" },
  { "budget", "exact-max-mapped-gib", "0", "65537" },
  { "budget", "detail-max-cpu-ms", "0.9", "60000.1" },
  { "budget", "detail-share-percent", "0.09", "100.1" },
  { "budget", "rollup-share-percent", "0.09", "100.1" },
  { "signals", "min-change-bytes", NULL, "1099511627777" },
  { "signals", "min-interval", NULL, "86400.5" },
  { "signals", "max-subscriptions-per-client", "0", "1025" },
  { "history", "raw-retention-minutes", "9", "10081" },
  { "history", "minute-retention-days", "0", "367" },
  { "history", "hour-retention-days", "0", "3661" },
  { "history", "max-size-mib", "0", "1048577" },
  { "history", "growth-threshold-mib-per-hour", NULL, "1048576.5" },
  { "history", "growth-window-minutes", "0", "10081" },
  { "history", "retry-seconds", "0.5", "3601" },
  { "limits", "helper-connections", "0", "65537" },
  { "limits", "helper-connections-per-uid", "0", "65537" },
  { "limits", "helper-buffer-mib-per-uid", "0", "1025" },
  { "limits", "helper-read-timeout-seconds", "0.09", "600.5" },
  { "limits", "helper-log-lines-per-uid-per-minute", "0", "100001" },
  { "limits", "subscriptions-per-uid", "0", "4097" },
  { "limits", "pids-per-subscription", "0", "4097" },
  { "limits", "rescans-per-uid-per-minute", "0", "3601" },
  { "limits", "attach-timeout-seconds", "0.9", "600.5" },
  { "limits", "attaches-per-uid", "0", "65" },
  { "limits", "concurrent-attaches", "0", "65" },
  { "limits", "graph-memory-mib", "15", "65537" },
  { "limits", "graph-analyses", "0", "65" },
  { "heap", "interval", "9.5", "86400.5" },
  { "heap", "budget-seconds", "0.04", "10.5" },
  { "heap", "processes-per-round", "0", "4097" },
};

static void
test_out_of_range (Fixture *f, gconstpointer data)
{
  g_autofree char *example = g_strdup_printf ("%s: [monitor] interval=0.1: "
                                              "must be between 0.5 and 3600 seconds", f->path);
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (ranges); i++)
    {
      if (ranges[i].low != NULL)
        assert_value_refused (f, ranges[i].group, ranges[i].key, ranges[i].low);
      assert_value_refused (f, ranges[i].group, ranges[i].key, ranges[i].high);
    }
  assert_value_refused (f, "signals", "max-subscriptions-per-client", "99999999999999999999999");

  /* The whole message, as the brief for this module gave it. */
  write_config (f, "[monitor]\ninterval=0.1\n", -1);
  g_assert_null (pymemd_config_load (f->path, FALSE, &error));
  g_assert_cmpstr (error->message, ==, example);
}

static void
test_junk (Fixture *f, gconstpointer data)
{
  const char *junk[] = {
    "2x", "", "-1", "+1", "nan", "inf", "-inf", "0x10", "1e3", "1 2", "1..2", ".", "\\s2", "２",
  };

  const char *whole[] = { "detail-max-rss-mib=1.5: not a plain whole number", NULL };

  for (guint i = 0; i < G_N_ELEMENTS (ranges); i++)
    for (guint j = 0; j < G_N_ELEMENTS (junk); j++)
      assert_value_refused (f, ranges[i].group, ranges[i].key, junk[j]);
  assert_refused (f, "[budget]\ndetail-max-rss-mib=1.5\n", PYMEMD_ERROR_INVALID_ARGS, whole);
}

static void
test_attach (Fixture *f, gconstpointer data)
{
  const char *choices[] = { "none", "admin", "own", NULL };

  for (guint i = 0; choices[i] != NULL; i++)
    {
      g_autofree char *contents = g_strdup_printf ("[access]\nattach=%s\n", choices[i]);
      g_autoptr(PymemdConfig) config = load_ok (f, contents);
      g_assert_cmpint (pymemd_config_get_attach (config), ==, (int) i);
    }
  assert_value_refused (f, "access", "attach", "maybe");
  assert_value_refused (f, "access", "attach", "Own");
  assert_value_refused (f, "access", "attach", "");
  {
    const char *needles[] = { "attach=maybe", "none", "admin", "own", NULL };
    assert_refused (f, "[access]\nattach=maybe\n", PYMEMD_ERROR_INVALID_ARGS, needles);
  }
}

/* [monitor] events: true or false, nothing else. */
static void
test_events (Fixture *f, gconstpointer data)
{
  g_autoptr(PymemdConfig) off = load_ok (f, "[monitor]\nevents=false\n");
  g_autoptr(PymemdConfig) on = load_ok (f, "[monitor]\nevents=true\n");
  g_autoptr(PymemdConfig) copy = NULL;
  g_autoptr(GError) error = NULL;
  const char *needles[] = { "events=yes", "false", "true", NULL };

  g_assert_false (monitor_of (off).events);
  g_assert_true (monitor_of (on).events);
  /* --interval on the command line keeps the file's choice. */
  copy = pymemd_config_with_intervals (off, 5, 0, &error);
  g_assert_no_error (error);
  g_assert_false (monitor_of (copy).events);
  assert_value_refused (f, "monitor", "events", "yes");
  assert_value_refused (f, "monitor", "events", "1");
  assert_value_refused (f, "monitor", "events", "");
  assert_refused (f, "[monitor]\nevents=yes\n", PYMEMD_ERROR_INVALID_ARGS, needles);
}

static void
test_detail_below_interval (Fixture *f, gconstpointer data)
{
  const char *explicit[] = { "detail-interval=5", "interval (10 seconds)", NULL };
  const char *defaulted[] = { "interval=60", "detail-interval", "30", NULL };

  assert_refused (f, "[monitor]\ninterval=10\ndetail-interval=5\n",
                  PYMEMD_ERROR_INVALID_ARGS, explicit);
  assert_refused (f, "[monitor]\ndetail-interval=5\ninterval=10\n",
                  PYMEMD_ERROR_INVALID_ARGS, explicit);
  assert_refused (f, "[monitor]\ninterval=60\n", PYMEMD_ERROR_INVALID_ARGS, defaulted);
}

/* One user's share of the helper connections cannot be all of them. */
static void
test_helper_connections (Fixture *f, gconstpointer data)
{
  const char *explicit[] = { "helper-connections-per-uid=300",
                             "at most helper-connections (200)", NULL };
  const char *defaulted[] = { "helper-connections=100", "defaults to 128", NULL };
  g_autoptr(PymemdConfig) equal = NULL;

  assert_refused (f, "[limits]\nhelper-connections=200\nhelper-connections-per-uid=300\n",
                  PYMEMD_ERROR_INVALID_ARGS, explicit);
  assert_refused (f, "[limits]\nhelper-connections=100\n", PYMEMD_ERROR_INVALID_ARGS, defaulted);
  equal = load_ok (f, "[limits]\nhelper-connections=100\nhelper-connections-per-uid=100\n");
  assert_limits (equal, 100, 100, 8 * MIB, 10, 20, 64, 4096, 10);
}

static void
test_unknown_names (Fixture *f, gconstpointer data)
{
  const char *key[] = { "[monitor] intervall:", "detail-interval", NULL };
  const char *group[] = { "[monitr]", "[monitor]", NULL };
  const char *syntax[] = { "interval", NULL };
  const char *no_group[] = { "group", NULL };

  assert_refused (f, "[monitor]\nintervall=2\n", PYMEMD_ERROR_INVALID_ARGS, key);
  assert_refused (f, "[monitr]\ninterval=2\n", PYMEMD_ERROR_INVALID_ARGS, group);
  /* GKeyFile's own complaints: a key before any group, a line that is no
   * key=value. */
  assert_refused (f, "interval=2\n", PYMEMD_ERROR_INVALID_ARGS, no_group);
  assert_refused (f, "[monitor]\ninterval\n", PYMEMD_ERROR_INVALID_ARGS, syntax);
}

static void
test_size_limit (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdConfig) config = NULL;
  g_autofree char *text = g_malloc (70 * 1024);

  /* Exactly 64 KiB of comments is fine, a byte more is not. */
  memset (text, '#', 64 * 1024);
  text[64 * 1024 - 1] = '\n';
  write_config (f, text, 64 * 1024);
  config = pymemd_config_load (f->path, FALSE, &error);
  g_assert_no_error (error);
  assert_defaults (config);
  g_clear_object (&config);

  memset (text, '#', 70 * 1024);
  for (gsize i = 79; i < 70 * 1024; i += 80)
    text[i] = '\n';
  for (gsize length = 64 * 1024 + 1; length <= 70 * 1024; length += 6 * 1024 - 1)
    {
      write_config (f, text, (gssize) length);
      config = pymemd_config_load (f->path, TRUE, &error);
      g_assert_null (config);
      g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_TOO_LARGE);
      g_assert_true (g_str_has_prefix (error->message, f->path));
      g_clear_error (&error);
    }
}

static void
test_missing (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdConfig) config = pymemd_config_load (f->path, TRUE, &error);

  g_assert_no_error (error);
  assert_defaults (config);
  g_assert_null (pymemd_config_get_path (config));
  g_clear_object (&config);

  config = pymemd_config_load (f->path, FALSE, &error);
  g_assert_null (config);
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_GONE);
  g_assert_nonnull (strstr (error->message, f->path));
  g_clear_error (&error);

  /* Only a missing file is ok to miss: a directory is an error. */
  config = pymemd_config_load (f->dir, TRUE, &error);
  g_assert_null (config);
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED);
}

/* The administrator's file (DIR/etc/pymemd.conf) before the one installed
 * with pymemd (DIR/vendor/pymemd.conf), as the daemon searches them. */
typedef struct {
  char *dir;
  char *admin;
  char *vendor;
} Search;

static void
search_setup (Search *s, gconstpointer data)
{
  s->dir = pymemd_test_mkdtemp ();
  s->admin = g_build_filename (s->dir, "etc", "pymemd.conf", NULL);
  s->vendor = g_build_filename (s->dir, "vendor", "pymemd.conf", NULL);
}

static void
search_teardown (Search *s, gconstpointer data)
{
  pymemd_test_rm_rf (s->dir);
  g_free (s->admin);
  g_free (s->vendor);
  g_free (s->dir);
}

static void
put_file (const char *path, const char *contents)
{
  g_autofree char *parent = g_path_get_dirname (path);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (parent, 0755), ==, 0);
  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
}

static PymemdConfig *
load_search (Search *s, GError **error)
{
  const char *paths[] = { s->admin, s->vendor, NULL };

  return pymemd_config_load_first (paths, error);
}

/* The search finds PATH, whose interval is INTERVAL. */
static void
assert_found (Search *s, const char *path, double interval)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdConfig) config = load_search (s, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (pymemd_config_get_path (config), ==, path);
  g_assert_cmpfloat (pymemd_config_get_interval (config), ==, interval);
}

static void
test_search_admin_first (Search *s, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdConfig) config = NULL;

  put_file (s->vendor, "[monitor]\ninterval=5\n");
  put_file (s->admin, "[monitor]\ninterval=7\n");
  assert_found (s, s->admin, 7);

  /* The whole file wins, not key by key: what the administrator's file
   * leaves out is the default, not the installed file's value. */
  put_file (s->admin, "[monitor]\ndetail-interval=40\n");
  config = load_search (s, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (pymemd_config_get_interval (config), ==, 2);
  g_assert_cmpfloat (pymemd_config_get_detail_interval (config), ==, 40);
}

static void
test_search_vendor (Search *s, gconstpointer data)
{
  put_file (s->vendor, "[monitor]\ninterval=5\n");
  assert_found (s, s->vendor, 5);
}

static void
test_search_none (Search *s, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdConfig) config = load_search (s, &error);

  g_assert_no_error (error);
  assert_defaults (config);
  g_assert_null (pymemd_config_get_path (config));
}

/* Only a missing file passes to the next: a bad or unreadable
 * administrator's file is an error, never quietly replaced. */
static void
test_search_admin_bad (Search *s, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdConfig) config = NULL;

  put_file (s->vendor, "[monitor]\ninterval=5\n");
  put_file (s->admin, "[monitor]\ninterval=0.1\n");
  config = load_search (s, &error);
  g_assert_null (config);
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS);
  g_assert_true (g_str_has_prefix (error->message, s->admin));
  g_clear_error (&error);

  g_assert_cmpint (g_unlink (s->admin), ==, 0);
  g_assert_cmpint (g_mkdir (s->admin, 0755), ==, 0);
  config = load_search (s, &error);
  g_assert_null (config);
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, s->admin));
}

static void
test_binary (Fixture *f, gconstpointer data)
{
  const char nul[] = "[monitor]\ninterval=2\0\ninterval=3000\n";
  g_autoptr(GRand) noise_rand = g_rand_new_with_seed (20261101);
  guint32 noise[1024];
  const char *line2[] = { "line 2", NULL };

  for (int round = 0; round < 20; round++)
    {
      g_autoptr(GError) error = NULL;

      for (guint i = 0; i < G_N_ELEMENTS (noise); i++)
        noise[i] = g_rand_int (noise_rand);
      write_config (f, (const char *) noise, sizeof noise);
      g_assert_null (pymemd_config_load (f->path, FALSE, &error));
      g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS);
    }

  assert_refused (f, "[monitor]\n# caf\xe9\n\xff\xfe=1\n", PYMEMD_ERROR_INVALID_ARGS, line2);
  assert_refused (f, "[mon\xc3\x28itor]\n", PYMEMD_ERROR_INVALID_ARGS, (const char *[]){ "line 1", NULL });
  {
    g_autoptr(GError) error = NULL;

    write_config (f, nul, sizeof nul - 1);
    g_assert_null (pymemd_config_load (f->path, FALSE, &error));
    g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS);
    g_assert_nonnull (strstr (error->message, "line 2"));
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/config/defaults", test_defaults);
  g_test_add_func ("/config/shipped-file", test_shipped_file);
  g_test_add_func ("/config/every-key", test_every_key);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/config/bounds-accepted", test_bounds_accepted);
  ADD ("/config/out-of-range", test_out_of_range);
  ADD ("/config/junk", test_junk);
  ADD ("/config/helper-connections", test_helper_connections);
  ADD ("/config/attach", test_attach);
  ADD ("/config/events", test_events);
  ADD ("/config/detail-below-interval", test_detail_below_interval);
  ADD ("/config/unknown-names", test_unknown_names);
  ADD ("/config/size-limit", test_size_limit);
  ADD ("/config/missing", test_missing);
  ADD ("/config/binary", test_binary);
#undef ADD
#define ADD(path, fn) g_test_add (path, Search, NULL, search_setup, fn, search_teardown)
  ADD ("/config/search/admin-first", test_search_admin_first);
  ADD ("/config/search/vendor", test_search_vendor);
  ADD ("/config/search/none", test_search_none);
  ADD ("/config/search/admin-bad", test_search_admin_bad);
#undef ADD
  return g_test_run ();
}
