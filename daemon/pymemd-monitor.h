/* The running service's heart: a scanner driven by two timers (rollup ticks, detail passes) and the live configuration. */
#pragma once

#include <glib-object.h>

#include "pymemd-config.h"
#include "pymemd-scanner.h"

G_BEGIN_DECLS

#define PYMEMD_TYPE_MONITOR (pymemd_monitor_get_type ())
G_DECLARE_FINAL_TYPE (PymemdMonitor, pymemd_monitor, PYMEMD, MONITOR, GObject)

/* OWNER (-1: everyone) restricts watching to one user's processes
 * (session mode). Emits "scanned" after every scan. */
PymemdMonitor *pymemd_monitor_new (PymemdProcfs *procfs,
                                   PymemdConfig *config,
                                   gint64        owner,
                                   GError      **error);

/* Runs a full scan now and then keeps ticking. */
void           pymemd_monitor_start (PymemdMonitor *self);
/* A full scan now, unless one ran less than a second ago. */
void           pymemd_monitor_rescan (PymemdMonitor *self);
/* Applies new intervals and budgets; the timers restart. */
void           pymemd_monitor_set_config (PymemdMonitor *self,
                                          PymemdConfig  *config);
PymemdConfig  *pymemd_monitor_get_config (PymemdMonitor *self);
PymemdScanner *pymemd_monitor_get_scanner (PymemdMonitor *self);
/* The interpreters with a sample, sorted by pid (borrowed, until the next scan). */
GPtrArray     *pymemd_monitor_get_processes (PymemdMonitor *self);
PymemdProcess *pymemd_monitor_find (PymemdMonitor *self,
                                    guint          pid);

G_END_DECLS
