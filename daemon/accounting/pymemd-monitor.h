/* The running service's heart: a scanner driven by two timers (rollup ticks, detail passes) and the kernel's process events, with the settings the configuration hands down. */
#pragma once

#include <gio/gio.h>

#include "pymemd-proc-events.h"
#include "pymemd-scanner.h"

G_BEGIN_DECLS

/* What the monitor's timers and discovery follow ([monitor] of the
 * configuration, which fills it). */
typedef struct {
  double           interval;        /* seconds between rollup ticks */
  double           detail_interval; /* seconds between detail (and exact) passes */
  gboolean         events;          /* discovery hears the kernel's process events */
  PymemdScanBudget budget;
} PymemdMonitorSettings;

#define PYMEMD_TYPE_MONITOR (pymemd_monitor_get_type ())
G_DECLARE_FINAL_TYPE (PymemdMonitor, pymemd_monitor, PYMEMD, MONITOR, GObject)

/* OWNER (-1: everyone) restricts watching to one user's processes
 * (session mode). Emits "scanned" after every scan, and
 * "processes-changed" when process events brought or took interpreters
 * between scans. */
PymemdMonitor *pymemd_monitor_new (PymemdProcfs                *procfs,
                                   const PymemdMonitorSettings *settings,
                                   gint64                       owner,
                                   GError                     **error);

/* Runs a full scan now (on the calling thread), then keeps ticking: each
 * later pass runs on a worker thread and is published from the main
 * loop, which never waits for one. */
void           pymemd_monitor_start (PymemdMonitor *self);
/* Completes once a full pass (discovery, detail, exact) that began after
 * the call has ended. Callers share passes: one asked for this way starts
 * at least a second after the last full pass ended, and at least as long
 * as that pass took, so however many callers ask, at most one such pass
 * runs a second and they take at most half the daemon's time. */
void           pymemd_monitor_rescan_async  (PymemdMonitor      *self,
                                             GAsyncReadyCallback callback,
                                             gpointer            user_data);
gboolean       pymemd_monitor_rescan_finish (PymemdMonitor *self,
                                             GAsyncResult  *result,
                                             GError       **error);
/* Applies new intervals and budgets; the timers restart. */
void           pymemd_monitor_set_settings (PymemdMonitor               *self,
                                            const PymemdMonitorSettings *settings);
const PymemdMonitorSettings *pymemd_monitor_get_settings (PymemdMonitor *self);
/* The scanner runs its passes on a worker thread: from the main loop only
 * what does not change (its boot id, its procfs) and the reads it makes
 * of one process (pymemd_scanner_refresh_detail () and _credentials ()
 * on a process of pymemd_monitor_get_processes ()) may be used. */
PymemdScanner *pymemd_monitor_get_scanner (PymemdMonitor *self);
/* The last exact pass's, as published with its snapshot (NULL: none). */
const PymemdPythonSet *pymemd_monitor_get_python_set (PymemdMonitor *self);
/* Why the exact pass cannot run here, or NULL. */
const GError  *pymemd_monitor_get_exact_error (PymemdMonitor *self);
/* The process events listener in use, or NULL (for tests, which feed it). */
PymemdProcEvents *pymemd_monitor_get_proc_events (PymemdMonitor *self);
/* The interpreters with a sample, sorted by pid, as the last scan left
 * them: snapshots (pymemd_process_snapshot ()) that only the main loop
 * uses (borrowed, until the next scan is published). */
GPtrArray     *pymemd_monitor_get_processes (PymemdMonitor *self);
PymemdProcess *pymemd_monitor_find (PymemdMonitor *self,
                                    guint          pid);

/* What the service itself has done and costs, for those who watch the
 * watcher (GetStatistics, pymemctl export). */
typedef struct {
  guint64 scans;             /* every scan, full ones included */
  guint64 full_scans;        /* discovery, detail and exact passes */
  gint64  scan_us;           /* spent scanning since the monitor was made */
  gint64  last_scan_us;      /* the last scan's duration */
  gint64  last_full_scan_us; /* the last full scan's */
  gint64  started_at;        /* µs since the epoch */
  gint64  cpu_us;            /* the process's user and system time, all threads */
  guint64 resident;          /* the process's resident bytes; 0 when unknown */
  gboolean events_in_use;    /* discovery hears the kernel's process events */
  guint64 events;            /* process events received (forks, execs, exits) */
  guint64 event_losses;      /* times the kernel said it dropped some */
  guint64 event_overflows;   /* times more came than could be looked at */
  guint64 listings;          /* scans that listed /proc */
} PymemdMonitorStatistics;

void           pymemd_monitor_get_statistics (PymemdMonitor           *self,
                                              PymemdMonitorStatistics *statistics);

G_END_DECLS
