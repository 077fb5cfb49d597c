/* Light heap summaries on a schedule ([heap] in pymemd.conf(5)) of the processes whose helper is in, and the types that grew, for GrowthSuspected. */
#pragma once

#include <gio/gio.h>

#include "pymemd-heap-broker.h"
#include "pymemd-monitor.h"
#include "pymemd-recorder.h"

G_BEGIN_DECLS

/* Light heap summaries of processes whose helper is in ([heap]; see
 * pymemd(8), HEAP SUMMARIES). */
typedef struct {
  double interval;   /* seconds between rounds; 0: none */
  double budget;     /* seconds one process's light census may take */
  guint  per_round;  /* processes summarized per round, those waiting longest first */
} PymemdHeapWatchSettings;

#define PYMEMD_TYPE_HEAP_WATCH (pymemd_heap_watch_get_type ())
G_DECLARE_FINAL_TYPE (PymemdHeapWatch, pymemd_heap_watch, PYMEMD, HEAP_WATCH, GObject)

/* Takes rounds of light summaries of MONITOR's processes through BROKER
 * as SETTINGS say: every interval, of at most per_round processes with a
 * helper connected (those summarized longest ago first), one at a time,
 * each census within budget seconds. No process is attached for them. */
PymemdHeapWatch *pymemd_heap_watch_new (PymemdMonitor                 *monitor,
                                        PymemdHeapBroker              *broker,
                                        const PymemdHeapWatchSettings *settings);

/* New settings (after a reload): the next round comes after the new
 * interval, or none when it is 0. */
void             pymemd_heap_watch_set_settings (PymemdHeapWatch               *self,
                                                 const PymemdHeapWatchSettings *settings);

/* Rounds taken and summaries kept since the watch started (for tests and
 * the log). */
guint            pymemd_heap_watch_get_summaries (PymemdHeapWatch *self);

/* What grew most in the process (PID, START_TIME) of boot BOOT_ID between
 * the heap summaries RECORDER keeps since SINCE_US: aa{sv} as
 * pymemd_heap_growth_compute () makes it, empty without two comparable
 * summaries in that span. */
void      pymemd_heap_watch_growth_async  (PymemdRecorder     *recorder,
                                           const char         *boot_id,
                                           gint32              pid,
                                           guint64             start_time,
                                           gint64              since_us,
                                           GAsyncReadyCallback callback,
                                           gpointer            user_data);
GVariant *pymemd_heap_watch_growth_finish (GAsyncResult *result,
                                           GError      **error);

G_END_DECLS
