/* Tests the monitor on --proc fixtures: its ticks and detail passes and their "scanned" signal, passes on a worker that the main loop never waits for, interpreters coming and going, and passes on demand (Rescan callers share full passes, which start at most once a second however many callers ask). */
#include "config.h"

#include <unistd.h>

#include "pymemd-config.h"
#include "pymemd-monitor.h"
#include "testutil.h"

typedef struct {
  char          *root;
  PymemdMonitor *monitor;
  guint          scans;       /* every "scanned" */
  guint          full_passes;
  guint          answered;
  gint64         last_answer; /* monotonic µs */
} Fixture;

static void
on_scanned (PymemdMonitor *monitor, gboolean full, Fixture *f)
{
  f->scans++;
  f->full_passes += full;
  /* What a handler of "scanned" reads is the scan's result. */
  g_assert_nonnull (pymemd_monitor_get_processes (monitor));
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdProcfs) procfs = NULL;
  g_autoptr(PymemdConfig) config = pymemd_config_new ();
  PymemdMonitorSettings settings;

  if (!pymemd_test_need_fixture_python ())
    return;
  pymemd_config_get_monitor (config, &settings);
  f->root = pymemd_test_copy_fixture ("proc-mixed");
  procfs = pymemd_procfs_new (f->root, &error);
  g_assert_no_error (error);
  f->monitor = pymemd_monitor_new (procfs, &settings, -1, &error);
  g_assert_no_error (error);
  g_signal_connect (f->monitor, "scanned", G_CALLBACK (on_scanned), f);
  pymemd_monitor_start (f->monitor);
  g_assert_cmpuint (f->full_passes, ==, 1);
}

/* New intervals, as a reloaded configuration hands them down. */
static void
set_intervals (Fixture *f, double interval, double detail_interval)
{
  PymemdMonitorSettings settings = *pymemd_monitor_get_settings (f->monitor);

  settings.interval = interval;
  settings.detail_interval = detail_interval;
  pymemd_monitor_set_settings (f->monitor, &settings);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->monitor);
  if (f->root != NULL)
    pymemd_test_remove_fixture (f->root);
}

static void
rescanned (GObject *source, GAsyncResult *result, gpointer data)
{
  Fixture *f = data;
  g_autoptr(GError) error = NULL;

  g_assert_true (pymemd_monitor_rescan_finish (PYMEMD_MONITOR (source), result, &error));
  g_assert_no_error (error);
  f->answered++;
  f->last_answer = g_get_monotonic_time ();
}

/* N callers at once; waits for their answers. */
static void
rescan_many (Fixture *f, guint n)
{
  guint answered = f->answered;

  for (guint i = 0; i < n; i++)
    pymemd_monitor_rescan_async (f->monitor, rescanned, f);
  g_assert_cmpuint (f->answered, ==, answered); /* never before the pass */
  PYMEMD_TEST_WAIT_FOR (f->answered == answered + n, 30);
}

/* 3 511 calls in 0.6 s were each answered at once, with a full pass at
 * most once a second whoever asked: now callers wait for a pass that began
 * after their call, and share it. */
static void
test_shared_passes (Fixture *f, gconstpointer data)
{
  gint64 start;

  if (f->monitor == NULL)
    return;
  /* The start-up pass was just now: the first rescan waits a second. */
  start = g_get_monotonic_time ();
  rescan_many (f, 1000);
  g_assert_cmpuint (f->full_passes, ==, 2);
  g_assert_cmpint (f->last_answer - start, >=, 900000);

  /* Callers asking while a pass is due share it too. */
  start = g_get_monotonic_time ();
  for (guint round = 0; round < 3; round++)
    rescan_many (f, 300);
  g_assert_cmpuint (f->full_passes, ==, 5);
  g_assert_cmpint (f->last_answer - start, >=, 2700000);
}

/* A full pass of the detail timer answers the callers waiting, too. */
static void
test_timer_pass_answers (Fixture *f, gconstpointer data)
{
  PymemdMonitorSettings fast;

  if (f->monitor == NULL)
    return;
  fast = *pymemd_monitor_get_settings (f->monitor);
  fast.interval = fast.detail_interval = 0.5;
  pymemd_monitor_set_settings (f->monitor, &fast);
  pymemd_monitor_rescan_async (f->monitor, rescanned, f);
  PYMEMD_TEST_WAIT_FOR (f->answered == 1, 30);
  g_assert_cmpuint (f->full_passes, ==, 2);
}

/* The pids of the interpreters the monitor lists, as text ("1001 1002"). */
static char *
listed (Fixture *f)
{
  GPtrArray *processes = pymemd_monitor_get_processes (f->monitor);
  g_autoptr(GString) pids = g_string_new (NULL);

  for (guint i = 0; i < processes->len; i++)
    g_string_append_printf (pids, "%s%d", i > 0 ? " " : "",
                            pymemd_process_get_pid (g_ptr_array_index (processes, i)));
  return g_string_free (g_steal_pointer (&pids), FALSE);
}

static gboolean
lists (Fixture *f, const char *pids)
{
  g_autofree char *now = listed (f);

  return g_strcmp0 (now, pids) == 0;
}

/* Rollup ticks at the configured interval, each one "scanned" (not full)
 * and counted; detail passes at theirs, full; a new configuration restarts
 * both timers. */
static void
test_ticks (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  PymemdMonitorStatistics stats;
  guint scans, full;

  if (f->monitor == NULL)
    return;
  /* Start-up: one full pass, the interpreters of the fixture (1003 is a C
   * program that maps a file named like Python). */
  g_assert_cmpuint (f->scans, ==, 1);
  g_assert_true (lists (f, "1001 1002"));
  g_assert_nonnull (pymemd_monitor_find (f->monitor, 1002));
  g_assert_null (pymemd_monitor_find (f->monitor, 1003));
  pymemd_monitor_get_statistics (f->monitor, &stats);
  g_assert_cmpuint (stats.scans, ==, 1);
  g_assert_cmpuint (stats.full_scans, ==, 1);

  /* Ticks every 0.5 s (the shortest); the detail pass an hour away. */
  set_intervals (f, 0.5, 3600);
  PYMEMD_TEST_WAIT_FOR (f->scans >= 4, 30);
  g_assert_cmpuint (f->full_passes, ==, 1);
  pymemd_monitor_get_statistics (f->monitor, &stats);
  g_assert_cmpuint (stats.scans, ==, f->scans);
  g_assert_cmpuint (stats.full_scans, ==, 1);
  g_assert_true (lists (f, "1001 1002"));

  /* A detail pass every second now: full passes come, counted. */
  set_intervals (f, 0.5, 1);
  scans = f->scans;
  full = f->full_passes;
  PYMEMD_TEST_WAIT_FOR (f->full_passes >= full + 2, 30);
  pymemd_monitor_get_statistics (f->monitor, &stats);
  g_assert_cmpuint (stats.full_scans, ==, f->full_passes);
  g_assert_cmpuint (stats.scans, ==, f->scans);
  g_assert_cmpuint (f->scans - scans, >=, f->full_passes - full);
}

/* An interpreter that ends leaves the list at the next scan, one that
 * starts joins it (here the fixture's directories go and come back:
 * --proc fixtures need no real processes). */
static void
test_add_remove (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *src = NULL, *dir_1001 = NULL, *dir_1002 = NULL, *exe_target = NULL, *exe = NULL;

  if (f->monitor == NULL)
    return;
  set_intervals (f, 0.5, 0.5);
  g_assert_true (lists (f, "1001 1002"));

  dir_1001 = g_build_filename (f->root, "1001", NULL);
  pymemd_test_rm_rf (dir_1001);
  PYMEMD_TEST_WAIT_FOR (lists (f, "1002"), 30);
  g_assert_null (pymemd_monitor_find (f->monitor, 1001));

  /* Back (the same pid and start time: listed again). */
  src = pymemd_test_data_path ("proc-mixed/1001");
  pymemd_test_copy_tree (src, dir_1001);
  exe_target = g_build_filename (dir_1001, "exe-target", NULL);
  exe = g_build_filename (dir_1001, "exe", NULL);
  {
    g_autofree char *target = NULL;

    g_assert_true (g_file_get_contents (exe_target, &target, NULL, NULL));
    g_assert_cmpint (symlink (g_strstrip (target), exe), ==, 0);
  }
  PYMEMD_TEST_WAIT_FOR (lists (f, "1001 1002"), 30);
  g_assert_nonnull (pymemd_monitor_find (f->monitor, 1001));

  /* Both gone: an empty list, and the monitor keeps ticking. */
  pymemd_test_rm_rf (dir_1001);
  dir_1002 = g_build_filename (f->root, "1002", NULL);
  pymemd_test_rm_rf (dir_1002);
  PYMEMD_TEST_WAIT_FOR (lists (f, ""), 30);
  {
    guint scans = f->scans;
    PYMEMD_TEST_WAIT_FOR (f->scans >= scans + 2, 30);
  }
  g_assert_true (lists (f, ""));
}

/* A pass runs on a worker: while one waits for a file (1002's smaps, a
 * named pipe here), the main loop goes on, and the last pass's snapshot
 * is what it serves; ticks due meanwhile run after it, not beside it, and
 * the callers of a rescan are answered by that pass once it is done. */
static void
test_worker (Fixture *f, gconstpointer data)
{
  g_autofree char *smaps = NULL;
  g_autoptr(PymemdTestFifo) fifo = NULL;
  PymemdMonitorStatistics stats;
  GPtrArray *before;
  gint64 blocked;
  guint scans;

  if (f->monitor == NULL)
    return;
  set_intervals (f, 0.5, 3600);
  smaps = g_build_filename (f->root, "1002", "smaps", NULL);
  fifo = pymemd_test_fifo_new (smaps, 20);
  pymemd_monitor_rescan_async (f->monitor, rescanned, f);
  /* The pass reading the pipe was started from this thread's main loop. */
  PYMEMD_TEST_WAIT_FOR (pymemd_test_fifo_has_reader (fifo) || pymemd_test_fifo_guard_fed (fifo), 30);
  g_assert_false (pymemd_test_fifo_guard_fed (fifo));

  /* Blocked there, for three ticks' time: nothing published, nobody
   * answered, the same snapshot served. */
  scans = f->scans;
  before = pymemd_monitor_get_processes (f->monitor);
  blocked = g_get_monotonic_time ();
  PYMEMD_TEST_WAIT_FOR (g_get_monotonic_time () - blocked > 1500000, 30);
  g_assert_false (pymemd_test_fifo_guard_fed (fifo));
  g_assert_cmpuint (f->scans, ==, scans);
  g_assert_cmpuint (f->answered, ==, 0);
  g_assert_true (pymemd_monitor_get_processes (f->monitor) == before);
  g_assert_true (lists (f, "1001 1002"));
  g_assert_nonnull (pymemd_process_get_rollup (pymemd_monitor_find (f->monitor, 1002)));

  /* Fed: the pass is published and answers; one tick, for all those that
   * came meanwhile, follows. */
  pymemd_test_fifo_feed (fifo);
  PYMEMD_TEST_WAIT_FOR (f->answered == 1, 30);
  g_assert_cmpuint (f->scans, ==, scans + 1);
  g_assert_nonnull (pymemd_process_get_categories (pymemd_monitor_find (f->monitor, 1002)));
  PYMEMD_TEST_WAIT_FOR (f->scans >= scans + 2, 30);
  pymemd_monitor_get_statistics (f->monitor, &stats);
  g_assert_cmpuint (stats.scans, ==, f->scans);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/monitor/ticks", Fixture, NULL, fixture_setup, test_ticks, fixture_teardown);
  g_test_add ("/monitor/add-remove", Fixture, NULL, fixture_setup, test_add_remove, fixture_teardown);
  g_test_add ("/monitor/worker", Fixture, NULL, fixture_setup, test_worker, fixture_teardown);
  g_test_add ("/monitor/rescan/shared-passes", Fixture, NULL, fixture_setup, test_shared_passes,
              fixture_teardown);
  g_test_add ("/monitor/rescan/timer-pass-answers", Fixture, NULL, fixture_setup,
              test_timer_pass_answers, fixture_teardown);
  return g_test_run ();
}
