/* Schedules the scanner's passes and tells listeners when a scan is done; it does no accounting itself. */
#include "config.h"

#include <sys/resource.h>
#include <unistd.h>

#include "pymemd-monitor.h"
#include "pymemd-pidfiles.h"

struct _PymemdMonitor
{
  GObject        parent_instance;
  PymemdScanner *scanner;
  PymemdConfig  *config;
  gint64         owner;
  GPtrArray     *processes;
  guint          tick_source;
  guint          detail_source;
  gint64         last_full_scan;     /* monotonic µs when the last full pass ended */
  gint64         last_full_duration; /* ... and how long it took */
  GPtrArray     *rescans;            /* GTask of callers waiting for the next full pass */
  guint          rescan_source;      /* that pass, due */
  PymemdMonitorStatistics statistics; /* the scan counts and durations */
};

enum { SIGNAL_SCANNED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (PymemdMonitor, pymemd_monitor, G_TYPE_OBJECT)

static void
stop_timers (PymemdMonitor *self)
{
  g_clear_handle_id (&self->tick_source, g_source_remove);
  g_clear_handle_id (&self->detail_source, g_source_remove);
}

static void
pymemd_monitor_finalize (GObject *object)
{
  PymemdMonitor *self = PYMEMD_MONITOR (object);

  stop_timers (self);
  g_clear_handle_id (&self->rescan_source, g_source_remove);
  g_ptr_array_unref (self->rescans); /* empty: each task holds the monitor */
  g_clear_pointer (&self->processes, g_ptr_array_unref);
  g_object_unref (self->scanner);
  g_object_unref (self->config);
  G_OBJECT_CLASS (pymemd_monitor_parent_class)->finalize (object);
}

static void
pymemd_monitor_class_init (PymemdMonitorClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pymemd_monitor_finalize;
  signals[SIGNAL_SCANNED] = g_signal_new ("scanned", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_BOOLEAN);
}

static void
pymemd_monitor_init (PymemdMonitor *self)
{
  self->processes = g_ptr_array_new_with_free_func (g_object_unref);
  self->rescans = g_ptr_array_new_with_free_func (g_object_unref);
  self->statistics.started_at = g_get_real_time ();
}

PymemdMonitor *
pymemd_monitor_new (PymemdProcfs *procfs, PymemdConfig *config, gint64 owner, GError **error)
{
  g_autoptr(PymemdMonitor) self = g_object_new (PYMEMD_TYPE_MONITOR, NULL);

  self->scanner = pymemd_scanner_new (procfs, error);
  if (self->scanner == NULL)
    return NULL;
  self->owner = owner;
  pymemd_scanner_set_owner (self->scanner, owner);
  self->config = g_object_ref (config);
  pymemd_monitor_set_config (self, config);
  return g_steal_pointer (&self);
}

static void
scan (PymemdMonitor *self, PymemdScanFlags flags)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) answered = NULL;
  gboolean full = (flags & PYMEMD_SCAN_DETAIL) != 0;
  gint64 start = g_get_monotonic_time ();

  /* Whoever asked before a full pass begins is answered by it, whichever
   * timer or caller started it. */
  if (full)
    {
      answered = g_steal_pointer (&self->rescans);
      self->rescans = g_ptr_array_new_with_free_func (g_object_unref);
      g_clear_handle_id (&self->rescan_source, g_source_remove);
    }
  if (!pymemd_scanner_scan (self->scanner, flags, &error))
    g_warning ("Scan failed: %s", error->message); /* keep the last figures */
  g_clear_pointer (&self->processes, g_ptr_array_unref);
  self->processes = pymemd_scanner_get_processes (self->scanner);
  self->statistics.last_scan_us = g_get_monotonic_time () - start;
  self->statistics.scan_us += self->statistics.last_scan_us;
  self->statistics.scans++;
  if (full)
    {
      self->last_full_scan = start + self->statistics.last_scan_us;
      self->last_full_duration = self->statistics.last_scan_us;
      self->statistics.last_full_scan_us = self->statistics.last_scan_us;
      self->statistics.full_scans++;
    }
  g_signal_emit (self, signals[SIGNAL_SCANNED], 0, full);
  for (guint i = 0; answered != NULL && i < answered->len; i++)
    g_task_return_boolean (g_ptr_array_index (answered, i), TRUE);
}

static gboolean
on_tick (gpointer data)
{
  scan (data, PYMEMD_SCAN_ROLLUP);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_detail (gpointer data)
{
  scan (data, PYMEMD_SCAN_ALL);
  return G_SOURCE_CONTINUE;
}

static void
start_timers (PymemdMonitor *self)
{
  guint tick_ms = (guint) (pymemd_config_get_interval (self->config) * 1000);
  guint detail_ms = (guint) (pymemd_config_get_detail_interval (self->config) * 1000);

  stop_timers (self);
  self->tick_source = g_timeout_add (tick_ms, on_tick, self);
  self->detail_source = g_timeout_add (detail_ms, on_detail, self);
}

void
pymemd_monitor_start (PymemdMonitor *self)
{
  scan (self, PYMEMD_SCAN_ALL);
  start_timers (self);
}

static gboolean
on_rescan (gpointer data)
{
  PymemdMonitor *self = data;

  self->rescan_source = 0;
  scan (self, PYMEMD_SCAN_ALL);
  return G_SOURCE_REMOVE;
}

void
pymemd_monitor_rescan_async (PymemdMonitor *self, GAsyncReadyCallback callback, gpointer user_data)
{
  gint64 due, now = g_get_monotonic_time ();
  GTask *task;

  g_return_if_fail (PYMEMD_IS_MONITOR (self));

  task = g_task_new (self, NULL, callback, user_data);
  g_task_set_source_tag (task, pymemd_monitor_rescan_async);
  g_ptr_array_add (self->rescans, task);
  if (self->rescan_source != 0)
    return; /* the pass due answers this caller too */
  due = self->last_full_scan + MAX (G_USEC_PER_SEC, self->last_full_duration);
  /* From the main loop, not here: the callers whose calls are already
   * queued share the pass. */
  self->rescan_source = g_timeout_add ((guint) (MAX (due - now, 0) / 1000), on_rescan, self);
}

gboolean
pymemd_monitor_rescan_finish (PymemdMonitor *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
pymemd_monitor_set_config (PymemdMonitor *self, PymemdConfig *config)
{
  PymemdScanBudget budget;
  gboolean running = self->tick_source != 0;

  g_set_object (&self->config, config);
  pymemd_config_get_budget (config, &budget);
  pymemd_scanner_set_budget (self->scanner, &budget);
  if (running)
    start_timers (self);
}

PymemdConfig *
pymemd_monitor_get_config (PymemdMonitor *self)
{
  return self->config;
}

PymemdScanner *
pymemd_monitor_get_scanner (PymemdMonitor *self)
{
  return self->scanner;
}

GPtrArray *
pymemd_monitor_get_processes (PymemdMonitor *self)
{
  return self->processes;
}

PymemdProcess *
pymemd_monitor_find (PymemdMonitor *self, guint pid)
{
  for (guint i = 0; i < self->processes->len; i++)
    if ((guint) pymemd_process_get_pid (g_ptr_array_index (self->processes, i)) == pid)
      return g_ptr_array_index (self->processes, i);
  return NULL;
}

void
pymemd_monitor_get_statistics (PymemdMonitor *self, PymemdMonitorStatistics *statistics)
{
  struct rusage usage;
  g_autofree char *text = NULL;
  PymemdStatm statm;

  *statistics = self->statistics;
  if (getrusage (RUSAGE_SELF, &usage) == 0)
    statistics->cpu_us = ((gint64) usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * G_USEC_PER_SEC +
                         usage.ru_utime.tv_usec + usage.ru_stime.tv_usec;
  /* The daemon's own process, not one under the procfs root it watches
   * (a fixture tree in the tests). */
  if (g_file_get_contents ("/proc/self/statm", &text, NULL, NULL) && pymemd_statm_parse (text, &statm, NULL))
    statistics->resident = statm.resident * (guint64) sysconf (_SC_PAGESIZE);
}
