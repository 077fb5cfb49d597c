/* The history store: raw samples and per-minute and per-hour tiers of every process and of the totals, in SQLite (WAL). */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* The history store's settings ([history]). */
typedef struct {
  gint64  raw_keep_us;
  gint64  minute_keep_us;
  gint64  hour_keep_us;
  guint64 max_bytes;
  double  growth_threshold; /* bytes per hour; 0: no GrowthSuspected */
  gint64  growth_window_us;
  double  retry_seconds;    /* between attempts to write a store that failed */
} PymemdHistorySettings;

#define PYMEMD_TYPE_HISTORY (pymemd_history_get_type ())
G_DECLARE_FINAL_TYPE (PymemdHistory, pymemd_history, PYMEMD, HISTORY, GObject)

/* The identity (boot id "", pid 0, start time 0) that holds the system totals. */
#define PYMEMD_HISTORY_TOTALS_BOOT_ID ""
#define PYMEMD_HISTORY_TOTALS_PID 0
/* A store of a later schema version up to this is refused as a newer
 * pymemd's; a larger version is taken for damage. */
#define PYMEMD_HISTORY_PLAUSIBLE_SCHEMA_VERSION 1000

/* One process in one tick. A point with pid 0 is the system totals: it is
 * stored under the totals identity whatever the tick's boot id. */
typedef struct {
  gint32      pid;
  guint64     start_time;
  guint32     uid;
  const char *exe;
  const char *cmdline;
  guint64     rss, pss, uss, private_dirty, swap;
  gint64      sampled_at; /* µs since the epoch; 0: the tick's time */
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

/* A growth rate, as pymemd_history_growth_all () returns it. */
typedef struct {
  gint32  pid;
  guint64 start_time;
  double  bytes_per_hour;
  guint   samples;
} PymemdHistoryGrowth;

/* A heap summary and when it was taken. */
typedef struct {
  gint64 t;
  char   summary[]; /* JSON text */
} PymemdHistoryHeapSummary;

/* What is known to be wrong with a store's file. */
typedef enum {
  PYMEMD_HISTORY_SOUND,   /* nothing */
  PYMEMD_HISTORY_CORRUPT, /* SQLite found it corrupt or not a database, or it was overwritten */
  PYMEMD_HISTORY_MOVED,   /* deleted, renamed or replaced while open */
} PymemdHistoryDamage;

/* What pymemd_history_salvage () could save. */
typedef struct {
  guint64 rows;       /* copied */
  guint64 dropped;    /* read, but not what the table holds or of no process left */
  guint   unreadable; /* damaged stretches stepped over */
} PymemdHistorySalvage;

/* Creates or opens the store at PATH; a file that is not a sound database
 * is renamed to PATH.corrupt-<unix time>, its WAL with it, and a fresh
 * store made of what can still be read of it (see pymemd_history_salvage
 * ()); until that fresh store is complete, PATH is left as it was.
 * Processes a previous run left living are marked ended at their last
 * sighting until a tick sees them again. */
PymemdHistory *pymemd_history_open (const char *path,
                                    GError    **error);
/* A store in memory, for when no file can be written; NAME is for messages. */
PymemdHistory *pymemd_history_open_in_memory (const char *name,
                                              GError    **error);

/* A second connection to the store a writer opened at PATH, for queries
 * on another thread: it reads WAL snapshots while the writer writes, and
 * never checkpoints. On a read-only file system it reads the file as it
 * is. Each query (or group of them) goes between read_begin and read_end.
 * It is one thread's at a time: SQLite does not lock it (NOMUTEX). */
PymemdHistory *pymemd_history_open_reader (const char *path,
                                           GError    **error);
gboolean       pymemd_history_read_begin (PymemdHistory *self,
                                          GError       **error);
void           pymemd_history_read_end (PymemdHistory *self);

const char *pymemd_history_get_path (PymemdHistory *self);
gboolean    pymemd_history_is_in_memory (PymemdHistory *self);
/* The store's size: the file and its WAL, or the memory it holds. */
guint64     pymemd_history_get_bytes (PymemdHistory *self);

/* Corruption any statement met, or what pymemd_history_check_file () found. */
PymemdHistoryDamage pymemd_history_get_damage (PymemdHistory *self);

/* Whether the file at the store's path is still the one open, and still
 * starts as this store's database: one stat () and one 100-byte read,
 * cheap enough for every tick. FALSE with an error, and the damage set,
 * when it is not. A file overwritten elsewhere, which SQLite's cache may
 * hide for long, shows there first. */
gboolean pymemd_history_check_file (PymemdHistory *self,
                                    GError       **error);

/* From now on SELF only reads: it never writes its file again, not even a
 * checkpoint when closed (which would also delete the WAL and shared
 * memory found at its path, by then perhaps a fresh store's). */
void pymemd_history_retire (PymemdHistory *self);

/* Clears the path of a damaged store (retired first) for a fresh one: a
 * corrupt file still at the path is renamed to PATH.corrupt-<unix time>
 * with its WAL (*ASIDE: that name), kept as it is; of a file deleted or
 * replaced, the WAL and shared memory it left at the path go (*ASIDE:
 * NULL). SELF still reads what it can through the files it holds open. */
gboolean pymemd_history_set_aside (PymemdHistory *self,
                                   char         **aside,
                                   GError       **error);

/* Copies into SELF, in one transaction, what can still be read of DAMAGED
 * (a store corrupt, or deleted while open): table by table in key order,
 * stepping over stretches that cannot be read; rows that are not what the
 * table holds, or whose process is lost, are dropped; minute and hour rows
 * lost are made again from what is left below them. */
gboolean pymemd_history_salvage (PymemdHistory        *self,
                                 PymemdHistory        *damaged,
                                 PymemdHistorySalvage *result,
                                 GError              **error);

/* Puts OLDER (NULL: none) under SELF: queries then answer from both, SELF's
 * newer history merged with what can still be read of OLDER's; writes go to
 * SELF alone. How an in-memory store serves the file's history while the
 * file cannot be written. Both are then used on one thread. */
void pymemd_history_set_underlay (PymemdHistory *self,
                                  PymemdHistory *older);

/* Writes one tick in one transaction, once pymemd_history_check_file ()
 * passed: a raw sample per point (at its sampled_at: a sample already
 * written is not written again). Processes of the previous tick that are
 * not in POINTS are marked ended at TIMESTAMP_US. The first tick of a
 * minute turns the minutes before it into rows of the minute and hour
 * tiers. */
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

/* The start time of the process with PID that lives, or else ended last. */
gboolean pymemd_history_find_latest (PymemdHistory *self,
                                     const char    *boot_id,
                                     gint32         pid,
                                     guint64       *start_time,
                                     GError       **error);

/* An identity's record (cleared with pymemd_history_process_clear ()), or
 * PYMEMD_ERROR_NO_SUCH_PROCESS. */
gboolean pymemd_history_get_process (PymemdHistory        *self,
                                     const char           *boot_id,
                                     gint32                pid,
                                     guint64               start_time,
                                     PymemdHistoryProcess *out,
                                     GError              **error);
void     pymemd_history_process_clear (PymemdHistoryProcess *process);

/* PymemdHistoryProcess entries (cleared with the array) ended at or after SINCE_US. */
GArray *pymemd_history_list_ended (PymemdHistory *self,
                                   gint64         since_us,
                                   GError       **error);

/* The Theil–Sen slope of PSS over (NOW_US - WINDOW_US, NOW_US], on at most
 * 100 samples spread evenly over it, and how many samples the window has;
 * raw samples, or the minute tier's averages when no raw samples are left.
 * FALSE with an error below 3 samples. */
gboolean pymemd_history_growth (PymemdHistory *self,
                                const char    *boot_id,
                                gint32         pid,
                                guint64        start_time,
                                gint64         window_us,
                                gint64         now_us,
                                double        *bytes_per_hour,
                                guint         *samples,
                                GError       **error);

/* PymemdHistoryGrowth of every process of the last tick (not the totals)
 * seen over at least half the window, from one pass over the raw samples
 * or, with FROM_MINUTES, over the minute tier. */
GArray  *pymemd_history_growth_all (PymemdHistory *self,
                                    gint64         window_us,
                                    gint64         now_us,
                                    gboolean       from_minutes,
                                    GError       **error);

/* Keeps SUMMARY (JSON text) of a process with history, taken at TIMESTAMP_US. */
gboolean pymemd_history_add_heap_summary (PymemdHistory *self,
                                          const char    *boot_id,
                                          gint32         pid,
                                          guint64        start_time,
                                          gint64         timestamp_us,
                                          const char    *summary,
                                          GError       **error);
/* PymemdHistoryHeapSummary (freed with the array) in [SINCE_US, UNTIL_US), oldest first. */
GPtrArray *pymemd_history_list_heap_summaries (PymemdHistory *self,
                                               const char    *boot_id,
                                               gint32         pid,
                                               guint64        start_time,
                                               gint64         since_us,
                                               gint64         until_us,
                                               GError       **error);

/* Copies everything SELF holds into the store at PATH (which must be a
 * sound store, e.g. one pymemd_history_open () made): how an in-memory
 * store is saved once the file can be written again. */
gboolean pymemd_history_merge_into (PymemdHistory *self,
                                    const char    *path,
                                    GError       **error);

/* Deletes each tier's rows older than its KEEP (heap summaries go with
 * the hour tier), then the oldest raw and minute rows while the file is
 * over MAX_BYTES (0: no cap), then the ended processes left without rows. */
gboolean pymemd_history_enforce_retention (PymemdHistory *self,
                                           gint64         now_us,
                                           gint64         raw_keep_us,
                                           gint64         minute_keep_us,
                                           gint64         hour_keep_us,
                                           guint64        max_bytes,
                                           GError       **error);

G_END_DECLS
