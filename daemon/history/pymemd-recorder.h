/* Keeps the history store on a thread of its own: the main loop hands it ticks and asks it questions, and never waits on SQLite. */
#pragma once

#include <gio/gio.h>

#include "pymemd-history.h"
#include "pymemd-process.h"

G_BEGIN_DECLS

typedef enum {
  PYMEMD_RECORDER_OK,       /* written to the file */
  PYMEMD_RECORDER_DEGRADED, /* the file cannot be written: kept in memory until it can */
  PYMEMD_RECORDER_DISABLED, /* no file at all: kept in memory */
} PymemdRecorderState;

#define PYMEMD_TYPE_RECORDER (pymemd_recorder_get_type ())
G_DECLARE_FINAL_TYPE (PymemdRecorder, pymemd_recorder, PYMEMD, RECORDER, GObject)

/* Opens (or creates) the store at PATH on the recorder's thread; NULL PATH
 * keeps history in memory only. A store that cannot be opened is logged
 * and history kept in memory, retried every settings->retry_seconds.
 *
 * Signals, on the thread-default main context of the caller:
 *   "state-changed" ()                                  state or size moved
 *   "growth-suspected" (gint pid, guint64 start_time, gdouble bytes_per_hour)
 */
PymemdRecorder *pymemd_recorder_new (const char                  *path,
                                     const PymemdHistorySettings *settings);

void pymemd_recorder_set_settings (PymemdRecorder              *self,
                                   const PymemdHistorySettings *settings);

/* Queues one tick, taking POINTS (PymemdHistoryPoint, whose strings the
 * array's clear function frees) and a reference to nothing else. When the
 * store falls behind by more than a few ticks the oldest queued are dropped
 * (and said so, once). */
void pymemd_recorder_add_tick (PymemdRecorder *self,
                               const char     *boot_id,
                               gint64          timestamp_us,
                               GArray         *points);

/* Who owns a process's rows (who may read them once it has ended): a uid,
 * or 0 for root alone. The service decides (who may see what is its). */
typedef guint32 (*PymemdRecorderOwnerFunc) (PymemdProcess *process,
                                            gpointer       user_data);

/* Queues one scan: a point for each of PROCESSES (the monitor's, after its
 * "scanned" signal) with the owner OWNER says, and their sum as the
 * totals. */
void pymemd_recorder_record_scan (PymemdRecorder          *self,
                                  const char              *boot_id,
                                  GPtrArray               *processes,
                                  PymemdRecorderOwnerFunc  owner,
                                  gpointer                 owner_data);

/* A GArray of PymemdHistoryPoint that frees its strings: what add_tick takes. */
GArray *pymemd_recorder_points_new (guint reserved);
void    pymemd_recorder_point_set_strings (PymemdHistoryPoint *point,
                                           const char         *exe,
                                           const char         *cmdline);

PymemdRecorderState pymemd_recorder_get_state (PymemdRecorder *self);
const char         *pymemd_recorder_state_to_string (PymemdRecorderState state);
/* The store's file ("" without one) and its size (0 while not on disk). */
const char         *pymemd_recorder_get_path (PymemdRecorder *self);
guint64             pymemd_recorder_get_bytes (PymemdRecorder *self);

/* The latest periodic growth figure of a living process, if any. */
gboolean pymemd_recorder_lookup_growth (PymemdRecorder *self,
                                        gint32          pid,
                                        guint64         start_time,
                                        double         *bytes_per_hour,
                                        guint          *samples);

/* A history query answers at most this many buckets. */
#define PYMEMD_RECORDER_MAX_BUCKETS 100000

/* What a history query answers. */
typedef struct {
  PymemdHistoryProcess process;
  GArray              *rows;       /* PymemdHistoryRow */
  gint64               resolution_us;
  const char          *tier;       /* "raw", "minute" or "hour" */
} PymemdRecorderHistory;

void pymemd_recorder_history_free (PymemdRecorderHistory *history);
/* The tier a bucket width is read from (pymemd_history_query ()): "raw",
 * "minute" or "hour". */
const char *pymemd_recorder_tier_for (gint64 resolution_us);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PymemdRecorderHistory, pymemd_recorder_history_free)

/* START_TIME 0: the process with PID that lives, or else ended last.
 * RESOLUTION_US 0 picks one that gives about 500 buckets over the part of
 * the range the process was seen in; more than
 * PYMEMD_RECORDER_MAX_BUCKETS there is PYMEMD_ERROR_LIMIT_EXCEEDED. */
void                   pymemd_recorder_query_async (PymemdRecorder     *self,
                                                    const char         *boot_id,
                                                    gint32              pid,
                                                    guint64             start_time,
                                                    gint64              since_us,
                                                    gint64              until_us,
                                                    gint64              resolution_us,
                                                    GAsyncReadyCallback callback,
                                                    gpointer            user_data);
PymemdRecorderHistory *pymemd_recorder_query_finish (PymemdRecorder *self,
                                                     GAsyncResult   *result,
                                                     GError        **error);

/* GArray of PymemdHistoryProcess. */
void    pymemd_recorder_list_ended_async (PymemdRecorder     *self,
                                          gint64              since_us,
                                          GAsyncReadyCallback callback,
                                          gpointer            user_data);
GArray *pymemd_recorder_list_ended_finish (PymemdRecorder *self,
                                           GAsyncResult   *result,
                                           GError        **error);

/* The growth rate of a process over WINDOW_US until now, the samples it
 * rests on, and the process's owner. FALSE with ERROR when the process is
 * unknown; TRUE with GROWTH_ERROR set when it is known (UID is valid) but
 * has no slope: the caller checks access before saying so. */
void     pymemd_recorder_growth_async (PymemdRecorder     *self,
                                       const char         *boot_id,
                                       gint32              pid,
                                       guint64             start_time,
                                       gint64              window_us,
                                       GAsyncReadyCallback callback,
                                       gpointer            user_data);
gboolean pymemd_recorder_growth_finish (PymemdRecorder *self,
                                        GAsyncResult   *result,
                                        double         *bytes_per_hour,
                                        guint          *samples,
                                        guint          *uid,
                                        GError        **growth_error,
                                        GError        **error);

/* Queues SUMMARY (JSON text) of a process OWNER runs as to be kept with
 * its history; a process with no history yet (found at its exec) has it
 * wait for the next three ticks: eight summaries of one owner's processes
 * at most (the oldest go first), 32 of all. */
void pymemd_recorder_add_heap_summary (PymemdRecorder *self,
                                       const char     *boot_id,
                                       gint32          pid,
                                       guint64         start_time,
                                       gint64          timestamp_us,
                                       guint32         owner,
                                       const char     *summary);

/* What a heap summaries query answers: the process's owner, for the
 * caller's access check, and the summaries (PymemdHistoryHeapSummary). */
typedef struct {
  guint32    uid;
  GPtrArray *summaries;
} PymemdRecorderHeapSummaries;

void pymemd_recorder_heap_summaries_free (PymemdRecorderHeapSummaries *answer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PymemdRecorderHeapSummaries, pymemd_recorder_heap_summaries_free)

/* START_TIME 0: as pymemd_recorder_query_async (). */
void pymemd_recorder_list_heap_summaries_async (PymemdRecorder     *self,
                                                const char         *boot_id,
                                                gint32              pid,
                                                guint64             start_time,
                                                gint64              since_us,
                                                gint64              until_us,
                                                GAsyncReadyCallback callback,
                                                gpointer            user_data);
PymemdRecorderHeapSummaries *pymemd_recorder_list_heap_summaries_finish (PymemdRecorder *self,
                                                                          GAsyncResult   *result,
                                                                          GError        **error);

/* Waits until every queued job is done (for tests and shutdown). */
void pymemd_recorder_flush (PymemdRecorder *self);

G_END_DECLS
