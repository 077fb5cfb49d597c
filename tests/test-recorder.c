/* Tests the recorder on its own, without the daemon: ticks go to the store on its thread and come back as history, growth past the threshold is signalled once a window, a store that cannot be written keeps history in memory, a flood of ticks is bounded, and a heap summary that comes before its process's first tick waits for it. */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "pymemd-error.h"
#include "pymemd-recorder.h"
#include "testutil.h"

#define BOOT   "3b1f2c8e-0d6a-4f2e-9a51-6c2d1e0f7a11"
#define PID    4242
#define START  987654
#define MIB    (G_GUINT64_CONSTANT (1) << 20)
#define SECOND G_USEC_PER_SEC

static PymemdHistorySettings
settings (double threshold)
{
  return (PymemdHistorySettings) {
    .raw_keep_us = (gint64) 24 * 3600 * SECOND,
    .minute_keep_us = (gint64) 7 * 24 * 3600 * SECOND,
    .hour_keep_us = (gint64) 90 * 24 * 3600 * SECOND,
    .max_bytes = 64 * MIB,
    .growth_threshold = threshold,
    .growth_window_us = 10 * 60 * SECOND,
    .retry_seconds = 3600,
  };
}

/* One tick with the test's process at PSS and another one that stands. */
static void
add_tick (PymemdRecorder *recorder, gint64 t, guint64 pss)
{
  GArray *points = pymemd_recorder_points_new (2);
  PymemdHistoryPoint point = { .pid = PID, .start_time = START, .uid = 1000, .rss = pss + MIB,
                               .pss = pss, .uss = pss, .private_dirty = pss, .swap = 0 };
  PymemdHistoryPoint still = { .pid = PID + 1, .start_time = START, .uid = 1000, .rss = 20 * MIB,
                               .pss = 10 * MIB, .uss = 10 * MIB, .private_dirty = 10 * MIB };

  g_array_append_val (points, point);
  pymemd_recorder_point_set_strings (&g_array_index (points, PymemdHistoryPoint, 0), "/usr/bin/python3.11",
                                     "python3 grows.py");
  g_array_append_val (points, still);
  pymemd_recorder_point_set_strings (&g_array_index (points, PymemdHistoryPoint, 1), "/usr/bin/python3.11",
                                     "python3 stands.py");
  pymemd_recorder_add_tick (recorder, BOOT, t, points);
}

/* Queues a tick of N processes, pids FIRST to FIRST + N - 1, 1 MiB each. */
static void
add_tick_of_pids (PymemdRecorder *recorder, gint64 t, gint32 first, guint n)
{
  GArray *points = pymemd_recorder_points_new (n);

  for (guint i = 0; i < n; i++)
    {
      PymemdHistoryPoint point = { .pid = first + (gint32) i, .start_time = START, .uid = 1000, .rss = MIB,
                                   .pss = MIB };

      g_array_append_val (points, point);
      pymemd_recorder_point_set_strings (&g_array_index (points, PymemdHistoryPoint, i), "/usr/bin/python3.11",
                                         "python3 late.py");
    }
  pymemd_recorder_add_tick (recorder, BOOT, t, points);
}

static void
on_ready (GObject *source, GAsyncResult *result, gpointer data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static GAsyncResult *
wait_result (GAsyncResult **slot)
{
  PYMEMD_TEST_WAIT_FOR (*slot != NULL, 30);
  return *slot;
}

static PymemdRecorderHistory *
query (PymemdRecorder *recorder, gint32 pid, GError **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  pymemd_recorder_query_async (recorder, BOOT, pid, 0, 0, G_MAXINT64, SECOND, on_ready, &result);
  return pymemd_recorder_query_finish (recorder, wait_result (&result), error);
}

typedef struct {
  guint   count;
  gint    pid;
  guint64 start_time;
  double  bytes_per_hour;
} Alerts;

static void
on_growth (PymemdRecorder *recorder, gint pid, guint64 start_time, double bytes_per_hour, Alerts *alerts)
{
  alerts->count++;
  alerts->pid = pid;
  alerts->start_time = start_time;
  alerts->bytes_per_hour = bytes_per_hour;
}

/* A minute of ticks comes back as the rows of that minute, with who the
 * process was, from a store on disk. */
static void
test_ticks_come_back (void)
{
  g_autofree char *dir = pymemd_test_mkdtemp ();
  g_autofree char *path = g_build_filename (dir, "history.db", NULL);
  PymemdHistorySettings s = settings (0);
  g_autoptr(PymemdRecorder) recorder = pymemd_recorder_new (path, &s);
  g_autoptr(PymemdRecorderHistory) history = NULL;
  g_autoptr(GError) error = NULL;
  gint64 t0 = (g_get_real_time () / SECOND - 60) * SECOND; /* on a bucket of 1 s */
  const PymemdHistoryRow *first, *last;

  for (guint i = 0; i < 60; i++)
    {
      add_tick (recorder, t0 + i * SECOND, (100 + i) * MIB);
      if (i % 8 == 7)
        pymemd_recorder_flush (recorder);
    }
  pymemd_recorder_flush (recorder);
  g_assert_cmpint (pymemd_recorder_get_state (recorder), ==, PYMEMD_RECORDER_OK);
  g_assert_cmpstr (pymemd_recorder_get_path (recorder), ==, path);
  g_assert_cmpuint (pymemd_recorder_get_bytes (recorder), >, 0);
  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));

  history = query (recorder, PID, &error);
  g_assert_no_error (error);
  g_assert_cmpint (history->process.pid, ==, PID);
  g_assert_cmpuint (history->process.start_time, ==, START);
  g_assert_cmpuint (history->process.uid, ==, 1000);
  g_assert_cmpstr (history->process.cmdline, ==, "python3 grows.py");
  g_assert_cmpuint (history->rows->len, ==, 60);
  first = &g_array_index (history->rows, PymemdHistoryRow, 0);
  last = &g_array_index (history->rows, PymemdHistoryRow, history->rows->len - 1);
  g_assert_cmpint (first->t, ==, t0);
  g_assert_cmpuint (first->pss_avg, ==, 100 * MIB);
  g_assert_cmpuint (last->pss_avg, ==, 159 * MIB);
  g_assert_cmpstr (history->tier, ==, "raw");

  /* A process never seen: an error, and the recorder goes on. */
  g_clear_pointer (&history, pymemd_recorder_history_free);
  history = query (recorder, 1, &error);
  g_assert_null (history);
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_NO_SUCH_PROCESS);
  g_clear_error (&error);
  history = query (recorder, PID + 1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (history->rows->len, ==, 60);

  g_clear_object (&recorder);
  pymemd_test_rm_rf (dir);
}

/* Growth past the threshold over the window is signalled once per
 * window, for the process that grows alone, with its rate; the recorder
 * keeps the rate for lookups. */
static void
test_growth_suspected (void)
{
  PymemdHistorySettings s = settings (100.0 * MIB); /* bytes per hour */
  g_autoptr(PymemdRecorder) recorder = pymemd_recorder_new (NULL, &s);
  Alerts alerts = { 0 };
  gint64 t0 = g_get_real_time () - (gint64) 20 * 60 * SECOND;
  double rate = 0;
  guint samples = 0;

  g_assert_cmpint (pymemd_recorder_get_state (recorder), ==, PYMEMD_RECORDER_DISABLED);
  g_signal_connect (recorder, "growth-suspected", G_CALLBACK (on_growth), &alerts);
  /* 20 minutes at a tick every 10 s, growing 1 MiB a tick: 360 MiB/h. */
  for (guint i = 0; i < 120; i++)
    {
      add_tick (recorder, t0 + (gint64) i * 10 * SECOND, (100 + i) * MIB);
      if (i % 8 == 7)
        pymemd_recorder_flush (recorder);
    }
  pymemd_recorder_flush (recorder);
  g_test_message ("%u alerts, the last %.0f bytes/h", alerts.count, alerts.bytes_per_hour);
  /* Once in the first window, once more in the second. */
  g_assert_cmpuint (alerts.count, >=, 1);
  g_assert_cmpuint (alerts.count, <=, 2);
  g_assert_cmpint (alerts.pid, ==, PID);
  g_assert_cmpuint (alerts.start_time, ==, START);
  g_assert_cmpfloat (alerts.bytes_per_hour, >, 340.0 * MIB);
  g_assert_cmpfloat (alerts.bytes_per_hour, <, 380.0 * MIB);

  g_assert_true (pymemd_recorder_lookup_growth (recorder, PID, START, &rate, &samples));
  g_assert_cmpfloat (rate, >, 340.0 * MIB);
  g_assert_cmpuint (samples, >, 10);
  /* The one that stands has a rate near zero and no alert. */
  g_assert_true (pymemd_recorder_lookup_growth (recorder, PID + 1, START, &rate, NULL));
  g_assert_cmpfloat (rate, <, 1.0 * MIB);
  g_assert_false (pymemd_recorder_lookup_growth (recorder, PID + 2, START, &rate, NULL));
}

/* A store that cannot be made keeps history in memory, answers queries
 * from there, and says it is degraded. */
static void
test_degraded (void)
{
  g_autofree char *dir = pymemd_test_mkdtemp ();
  g_autofree char *blocker = g_build_filename (dir, "file", NULL);
  g_autofree char *path = g_build_filename (blocker, "history.db", NULL);
  PymemdHistorySettings s = settings (0);
  g_autoptr(PymemdRecorder) recorder = NULL;
  g_autoptr(PymemdRecorderHistory) history = NULL;
  g_autoptr(GError) error = NULL;
  gint64 t0 = g_get_real_time () - 10 * SECOND;

  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 60 * G_USEC_PER_SEC, 0);
      g_test_trap_assert_passed ();
      g_test_trap_assert_stderr ("*cannot be used*keeping history in memory*");
      pymemd_test_rm_rf (dir);
      return;
    }
  /* In a child: the store's warning is expected, not fatal. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK);
  /* Its directory is a file: nothing can be created under it. */
  g_assert_true (g_file_set_contents (blocker, "", 0, NULL));
  recorder = pymemd_recorder_new (path, &s);
  for (guint i = 0; i < 5; i++)
    add_tick (recorder, t0 + i * SECOND, 50 * MIB);
  pymemd_recorder_flush (recorder);
  g_assert_cmpint (pymemd_recorder_get_state (recorder), ==, PYMEMD_RECORDER_DEGRADED);
  g_assert_cmpuint (pymemd_recorder_get_bytes (recorder), ==, 0);
  history = query (recorder, PID, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (history->rows->len, ==, 5);
  g_clear_object (&recorder);
  pymemd_test_rm_rf (dir);
}

static guint drop_warnings;

static GLogWriterOutput
count_drops (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "MESSAGE") && fields[i].length < 0 &&
        strstr (fields[i].value, "ticks behind") != NULL)
      drop_warnings++;
  return g_log_writer_standard_streams (level, fields, n_fields, data);
}

/* Ticks queued faster than the store takes them are dropped beyond a
 * bound, and said so, never queued without end; the recorder goes on. */
static void
test_flood (void)
{
  PymemdHistorySettings s = settings (0);
  g_autoptr(PymemdRecorder) recorder = NULL;
  g_autoptr(PymemdRecorderHistory) history = NULL;
  g_autoptr(GError) error = NULL;
  gint64 t0 = g_get_real_time () - (gint64) 3600 * SECOND;

  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 120 * G_USEC_PER_SEC, 0);
      g_test_trap_assert_passed ();
      return;
    }
  /* In a child: the drop's warning is counted, not fatal. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK);
  g_log_set_writer_func (count_drops, NULL, NULL);
  recorder = pymemd_recorder_new (NULL, &s);
  for (guint i = 0; i < 2000; i++)
    add_tick (recorder, t0 + i * SECOND, 10 * MIB);
  pymemd_recorder_flush (recorder);
  history = query (recorder, PID, &error);
  g_assert_no_error (error);
  g_test_message ("%u of 2000 ticks kept, %u warnings", history->rows->len, drop_warnings);
  /* Whatever the machine's speed: at least the bound's worth kept, and
   * every drop said (once per stretch of drops). */
  g_assert_cmpuint (history->rows->len, >=, 16);
  g_assert_cmpuint (history->rows->len, <=, 2000);
  if (history->rows->len < 2000)
    g_assert_cmpuint (drop_warnings, >=, 1);
  g_assert_cmpuint (drop_warnings, <=, 2000 - history->rows->len);
  /* And it takes ticks again. */
  add_tick (recorder, t0 + (gint64) 2000 * SECOND, 11 * MIB);
  pymemd_recorder_flush (recorder);
  g_clear_pointer (&history, pymemd_recorder_history_free);
  history = query (recorder, PID, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_array_index (history->rows, PymemdHistoryRow, history->rows->len - 1).pss_avg, ==, 11 * MIB);
}

/* ---- the last reference ---- */

typedef struct {
  gboolean answered;
  GThread *answered_on;
  GThread *disposed_on;
} LastReference;

static void
last_reference_answered (GObject *source, GAsyncResult *result, gpointer data)
{
  LastReference *last = data;
  g_autoptr(GError) error = NULL;
  GArray *ended = pymemd_recorder_list_ended_finish (PYMEMD_RECORDER (source), result, &error);

  g_assert_no_error (error);
  g_array_unref (ended);
  last->answered = TRUE;
  last->answered_on = g_thread_self ();
}

static void
last_reference_disposed (gpointer data, GObject *where)
{
  ((LastReference *) data)->disposed_on = g_thread_self ();
}

/* A question is the recorder's last holder: its task holds the recorder,
 * and whichever thread drops the task's last reference disposes of the
 * recorder, which joins the recorder's thread. That must be the main
 * thread, where the answer comes: never the recorder's own thread. */
static void
test_last_reference (void)
{
  PymemdHistorySettings s = settings (0);

  for (guint i = 0; i < 200; i++)
    {
      LastReference last = { 0 };
      PymemdRecorder *recorder = pymemd_recorder_new (NULL, &s);

      g_object_weak_ref (G_OBJECT (recorder), last_reference_disposed, &last);
      pymemd_recorder_list_ended_async (recorder, 0, last_reference_answered, &last);
      g_object_unref (recorder);
      PYMEMD_TEST_WAIT_FOR (last.disposed_on != NULL, 30);
      g_assert_true (last.answered);
      g_assert_true (last.answered_on == g_thread_self ());
      g_assert_true (last.disposed_on == g_thread_self ());
    }
}

static guint
heap_summaries (PymemdRecorder *recorder, gint32 pid, GError **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(PymemdRecorderHeapSummaries) answer = NULL;

  pymemd_recorder_list_heap_summaries_async (recorder, BOOT, pid, START, 0, G_MAXINT64, on_ready, &result);
  answer = pymemd_recorder_list_heap_summaries_finish (recorder, wait_result (&result), error);
  return answer != NULL ? answer->summaries->len : 0;
}

/* A process found at its exec can have its first heap summary before the
 * tick that records it: the summary waits for that tick (three at most,
 * eight summaries at most), and is kept then. */
static void
test_heap_before_first_tick (void)
{
  g_autofree char *dir = pymemd_test_mkdtemp ();
  g_autofree char *path = g_build_filename (dir, "history.db", NULL);
  PymemdHistorySettings s = settings (0);
  g_autoptr(PymemdRecorder) recorder = pymemd_recorder_new (path, &s);
  g_autoptr(GError) error = NULL;
  gint64 t0 = g_get_real_time () - 60 * SECOND;

  /* Ten summaries of PID and one of a process no tick will have for four
   * ticks, all before any tick. */
  for (guint i = 0; i < 10; i++)
    pymemd_recorder_add_heap_summary (recorder, BOOT, PID, START, t0 + i, 1000, "{\"objects\": {}}");
  pymemd_recorder_flush (recorder);
  g_assert_cmpuint (heap_summaries (recorder, PID, &error), ==, 0);
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_NO_SUCH_PROCESS);
  g_clear_error (&error);

  /* The tick that records PID keeps the last eight that waited. */
  add_tick (recorder, t0 + SECOND, 100 * MIB);
  pymemd_recorder_flush (recorder);
  g_assert_cmpuint (heap_summaries (recorder, PID, &error), ==, 8);
  g_assert_no_error (error);
  /* A summary of a known process is kept at once. */
  pymemd_recorder_add_heap_summary (recorder, BOOT, PID + 1, START, t0 + 2 * SECOND, 1000, "{}");
  pymemd_recorder_flush (recorder);
  g_assert_cmpuint (heap_summaries (recorder, PID + 1, &error), ==, 1);
  g_assert_no_error (error);

  /* One whose process is in none of the next three ticks is dropped. */
  pymemd_recorder_add_heap_summary (recorder, BOOT, PID + 2, START, t0 + 3 * SECOND, 1000, "{}");
  for (guint i = 0; i < 3; i++)
    add_tick (recorder, t0 + (4 + i) * SECOND, 100 * MIB);
  pymemd_recorder_flush (recorder);
  add_tick_of_pids (recorder, t0 + 8 * SECOND, PID + 2, 1);
  pymemd_recorder_flush (recorder);
  g_assert_cmpuint (heap_summaries (recorder, PID + 2, &error), ==, 0);
  g_assert_no_error (error);
  g_assert_cmpint (pymemd_recorder_get_state (recorder), ==, PYMEMD_RECORDER_OK);

  g_clear_object (&recorder);
  pymemd_test_rm_rf (dir);
}

/* The summaries waiting for their processes' first tick are bounded per
 * owner: one user's many cannot push out another's (eight of one owner,
 * 32 of all, the oldest going first). */
static void
test_heap_waiting_per_owner (void)
{
  g_autofree char *dir = pymemd_test_mkdtemp ();
  g_autofree char *path = g_build_filename (dir, "history.db", NULL);
  PymemdHistorySettings s = settings (0);
  g_autoptr(PymemdRecorder) recorder = pymemd_recorder_new (path, &s);
  g_autoptr(GError) error = NULL;
  gint64 t0 = g_get_real_time () - 60 * SECOND;

  /* One summary of uid 2000's process, then 40 of uid 1000's processes
   * (PID + 1 and PID + 2), then one each of uids 3000 to 3005's. */
  pymemd_recorder_add_heap_summary (recorder, BOOT, PID, START, t0, 2000, "{}");
  for (guint i = 0; i < 40; i++)
    pymemd_recorder_add_heap_summary (recorder, BOOT, PID + 1 + i % 2, START, t0 + 1 + i, 1000, "{}");
  for (guint i = 0; i < 6; i++)
    pymemd_recorder_add_heap_summary (recorder, BOOT, PID + 3 + i, START, t0 + 100 + i, 3000 + i, "{}");
  pymemd_recorder_flush (recorder);

  /* A tick that records them all. */
  add_tick_of_pids (recorder, t0 + SECOND, PID, 9);
  pymemd_recorder_flush (recorder);

  /* uid 2000's waited its turn; of uid 1000's 40 the last eight, four of
   * each process; each of the six others'. */
  g_assert_cmpuint (heap_summaries (recorder, PID, &error), ==, 1);
  g_assert_no_error (error);
  g_assert_cmpuint (heap_summaries (recorder, PID + 1, &error), ==, 4);
  g_assert_no_error (error);
  g_assert_cmpuint (heap_summaries (recorder, PID + 2, &error), ==, 4);
  g_assert_no_error (error);
  for (guint i = 0; i < 6; i++)
    {
      g_assert_cmpuint (heap_summaries (recorder, PID + 3 + i, &error), ==, 1);
      g_assert_no_error (error);
    }

  /* Past 32 in all, the oldest go whoever they are: 33 owners with one
   * each leave the first owner's out. */
  for (guint i = 0; i < 33; i++)
    pymemd_recorder_add_heap_summary (recorder, BOOT, PID + 100 + i, START, t0 + 200 + i, 5000 + i, "{}");
  pymemd_recorder_flush (recorder);
  add_tick_of_pids (recorder, t0 + 2 * SECOND, PID + 100, 33);
  pymemd_recorder_flush (recorder);
  g_assert_cmpuint (heap_summaries (recorder, PID + 100, &error), ==, 0);
  g_assert_no_error (error);
  for (guint i = 1; i < 33; i++)
    {
      g_assert_cmpuint (heap_summaries (recorder, PID + 100 + i, &error), ==, 1);
      g_assert_no_error (error);
    }

  g_clear_object (&recorder);
  pymemd_test_rm_rf (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/recorder/ticks-come-back", test_ticks_come_back);
  g_test_add_func ("/recorder/growth-suspected", test_growth_suspected);
  g_test_add_func ("/recorder/degraded", test_degraded);
  g_test_add_func ("/recorder/flood", test_flood);
  g_test_add_func ("/recorder/last-reference", test_last_reference);
  g_test_add_func ("/recorder/heap-before-first-tick", test_heap_before_first_tick);
  g_test_add_func ("/recorder/heap-waiting-per-owner", test_heap_waiting_per_owner);
  return g_test_run ();
}
