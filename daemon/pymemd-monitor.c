/* Schedules the scanner's passes and tells listeners when a scan is done; it does no accounting itself. */
#include "config.h"

#include "pymemd-monitor.h"

struct _PymemdMonitor
{
  GObject        parent_instance;
  PymemdScanner *scanner;
  PymemdConfig  *config;
  gint64         owner;
  GPtrArray     *processes;
  guint          tick_source;
  guint          detail_source;
  gint64         last_full_scan;
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

  if (!pymemd_scanner_scan (self->scanner, flags, &error))
    g_warning ("Scan failed: %s", error->message); /* keep the last figures */
  g_clear_pointer (&self->processes, g_ptr_array_unref);
  self->processes = pymemd_scanner_get_processes (self->scanner);
  if (flags & PYMEMD_SCAN_DETAIL)
    self->last_full_scan = g_get_monotonic_time ();
  g_signal_emit (self, signals[SIGNAL_SCANNED], 0, (flags & PYMEMD_SCAN_DETAIL) != 0);
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

void
pymemd_monitor_rescan (PymemdMonitor *self)
{
  if (self->last_full_scan != 0 && g_get_monotonic_time () - self->last_full_scan < G_USEC_PER_SEC)
    return;
  scan (self, PYMEMD_SCAN_ALL);
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
