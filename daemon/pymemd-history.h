/* The history store: raw samples and per-minute and per-hour tiers of every process and of the totals, in SQLite (WAL). */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define PYMEMD_TYPE_HISTORY (pymemd_history_get_type ())
G_DECLARE_FINAL_TYPE (PymemdHistory, pymemd_history, PYMEMD, HISTORY, GObject)

/* The identity (boot id "", pid 0, start time 0) that holds the system totals. */
#define PYMEMD_HISTORY_TOTALS_BOOT_ID ""
#define PYMEMD_HISTORY_TOTALS_PID 0

/* One process in one tick. A point with pid 0 is the system totals: it is
 * stored under the totals identity whatever the tick's boot id. */
typedef struct {
  gint32      pid;
  guint64     start_time;
  guint32     uid;
  const char *exe;
  const char *cmdline;
  guint64     rss, pss, uss, private_dirty, swap;
} PymemdHistoryPoint;

/* One bucket of a query; a raw sample is a bucket of count 1. */
typedef struct {
  gint64  t; /* bucket start, µs since the epoch */
  guint64 pss_min, pss_avg, pss_max;
  guint64 uss_min, uss_avg, uss_max;
  guint64 swap_min, swap_avg, swap_max;
  guint32 count;
} PymemdHistoryRow;

/* An ended process, as pymemd_history_list_ended () returns it. */
typedef struct {
  char   *boot_id;
  gint32  pid;
  guint64 start_time;
  guint32 uid;
  char   *exe;
  char   *cmdline;
  gint64  first_seen, last_seen, ended; /* µs since the epoch */
} PymemdHistoryProcess;

/* Creates or opens the store at PATH; a file that is not a sound database
 * is renamed to PATH.corrupt-<unix time> and a fresh store created. */
PymemdHistory *pymemd_history_open (const char *path,
                                    GError    **error);

const char *pymemd_history_get_path (PymemdHistory *self);

/* Writes one tick in one transaction. Processes of BOOT_ID that were seen
 * before and are not in POINTS are marked ended at TIMESTAMP_US. */
gboolean pymemd_history_add_tick (PymemdHistory            *self,
                                  const char               *boot_id,
                                  gint64                    timestamp_us,
                                  const PymemdHistoryPoint *points,
                                  guint                     n,
                                  GError                  **error);

/* PymemdHistoryRow buckets in [SINCE_US, UNTIL_US), oldest first: raw
 * samples below a 60 s RESOLUTION_US, the minute tier below 3600 s, the
 * hour tier above, grouped to RESOLUTION_US. An unknown identity has none. */
GArray *pymemd_history_query (PymemdHistory *self,
                              const char    *boot_id,
                              gint32         pid,
                              guint64        start_time,
                              gint64         since_us,
                              gint64         until_us,
                              gint64         resolution_us,
                              GError       **error);

/* PymemdHistoryProcess entries (cleared with the array) ended at or after SINCE_US. */
GArray *pymemd_history_list_ended (PymemdHistory *self,
                                   gint64         since_us,
                                   GError       **error);

/* The Theil–Sen slope of PSS over (NOW_US - WINDOW_US, NOW_US], on at most
 * 200 samples spread evenly over it; FALSE with an error below 3 samples. */
gboolean pymemd_history_growth (PymemdHistory *self,
                                const char    *boot_id,
                                gint32         pid,
                                guint64        start_time,
                                gint64         window_us,
                                gint64         now_us,
                                double        *bytes_per_hour,
                                GError       **error);

/* Deletes each tier's rows older than its KEEP, then the oldest raw and
 * minute rows while the file is over MAX_BYTES (0: no cap), then the
 * processes left without rows. */
gboolean pymemd_history_enforce_retention (PymemdHistory *self,
                                           gint64         now_us,
                                           gint64         raw_keep_us,
                                           gint64         minute_keep_us,
                                           gint64         hour_keep_us,
                                           guint64        max_bytes,
                                           GError       **error);

G_END_DECLS
