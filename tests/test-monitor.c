/* Tests the monitor's passes on demand: Rescan callers share full passes, which start at most once a second however many callers ask. */
#include "config.h"

#include "pymemd-config.h"
#include "pymemd-monitor.h"
#include "testutil.h"

typedef struct {
  char          *root;
  PymemdMonitor *monitor;
  guint          full_passes;
  guint          answered;
  gint64         last_answer; /* monotonic µs */
} Fixture;

static void
on_scanned (PymemdMonitor *monitor, gboolean full, Fixture *f)
{
  f->full_passes += full;
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

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/monitor/rescan/shared-passes", Fixture, NULL, fixture_setup, test_shared_passes,
              fixture_teardown);
  g_test_add ("/monitor/rescan/timer-pass-answers", Fixture, NULL, fixture_setup,
              test_timer_pass_answers, fixture_teardown);
  return g_test_run ();
}
