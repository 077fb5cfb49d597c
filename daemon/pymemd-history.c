/* The history store: raw samples and per-minute and per-hour tiers of every process and of the totals, in SQLite (WAL). */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

#include "pymemd-error.h"
#include "pymemd-history.h"

#define SCHEMA_VERSION 1

#define SECOND_US G_GINT64_CONSTANT (1000000)
#define MINUTE_US (60 * SECOND_US)
#define HOUR_US (60 * MINUTE_US)

/* Theil–Sen is quadratic in the points; 100 gives ~5 000 slopes, about
 * 0.3 ms for one process. */
#define GROWTH_MAX_POINTS 100

/* Raw samples are clustered by time, not by process: a tick then dirties
 * a few adjacent pages instead of one page per process, and age retention
 * is a range delete. A tick writes raw samples only; when a minute is
 * over, its samples become one row per process of the minute tier, and
 * the hour's minutes its row of the hour tier. The tiers are clustered by
 * process, so that a day of one process is a range of a few dozen pages,
 * not 1440 pages of everyone's minutes; their bucket index (appended to,
 * one page a minute) serves consolidation and retention. The tiers share
 * one layout (sums, not averages, so that buckets add up). Queries add the
 * raw samples of the minute not yet consolidated, so nothing is missing
 * from any tier. */
#define TIER_COLUMNS \
  "(process INTEGER NOT NULL, bucket INTEGER NOT NULL, count INTEGER NOT NULL," \
  " pss_min INTEGER NOT NULL, pss_sum INTEGER NOT NULL, pss_max INTEGER NOT NULL," \
  " uss_min INTEGER NOT NULL, uss_sum INTEGER NOT NULL, uss_max INTEGER NOT NULL," \
  " swap_min INTEGER NOT NULL, swap_sum INTEGER NOT NULL, swap_max INTEGER NOT NULL," \
  " PRIMARY KEY (process, bucket)) WITHOUT ROWID;"

static const char schema_sql[] =
  "CREATE TABLE processes (id INTEGER PRIMARY KEY, boot_id TEXT NOT NULL,"
  " pid INTEGER NOT NULL, start_time INTEGER NOT NULL, uid INTEGER NOT NULL,"
  " exe TEXT, cmdline TEXT, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,"
  " ended INTEGER, UNIQUE (boot_id, pid, start_time));"
  "CREATE INDEX processes_ended ON processes (ended) WHERE ended IS NOT NULL;"
  "CREATE TABLE samples (process INTEGER NOT NULL, t INTEGER NOT NULL,"
  " rss INTEGER NOT NULL, pss INTEGER NOT NULL, uss INTEGER NOT NULL,"
  " private_dirty INTEGER NOT NULL, swap INTEGER NOT NULL,"
  " PRIMARY KEY (t, process)) WITHOUT ROWID;"
  "CREATE TABLE minutes " TIER_COLUMNS
  "CREATE INDEX minutes_bucket ON minutes (bucket);"
  "CREATE TABLE hours " TIER_COLUMNS
  "CREATE INDEX hours_bucket ON hours (bucket);"
  "CREATE TABLE heap_summaries (process INTEGER NOT NULL, t INTEGER NOT NULL,"
  " summary TEXT NOT NULL, PRIMARY KEY (process, t)) WITHOUT ROWID;";

/* ?1 from, ?2 until: consolidates whole minutes and the hours they touch. */
#define CONSOLIDATE_MINUTES \
  "INSERT OR REPLACE INTO minutes SELECT process, t - t % 60000000 AS b, count (*)," \
  " min (pss), sum (pss), max (pss), min (uss), sum (uss), max (uss), min (swap), sum (swap), max (swap)" \
  " FROM samples WHERE t >= ?1 AND t < ?2 GROUP BY b, process"
#define CONSOLIDATE_HOURS \
  "INSERT OR REPLACE INTO hours SELECT process, bucket - bucket % 3600000000 AS b, sum (count)," \
  " min (pss_min), sum (pss_sum), max (pss_max), min (uss_min), sum (uss_sum), max (uss_max)," \
  " min (swap_min), sum (swap_sum), max (swap_max)" \
  " FROM minutes WHERE bucket >= ?1 - ?1 % 3600000000 AND bucket < ?2 GROUP BY b, process"

/* ?1 process, ?2 since, ?3 until, ?4 resolution, ?5 the first raw sample
 * not yet in SOURCE; WIDTH keeps the bucket that straddles SINCE. */
#define TIER_QUERY(source, width) \
  "SELECT bucket - bucket % ?4 AS b, min (pss_min), sum (pss_sum) / sum (count), max (pss_max)," \
  " min (uss_min), sum (uss_sum) / sum (count), max (uss_max)," \
  " min (swap_min), sum (swap_sum) / sum (count), max (swap_max), sum (count)" \
  " FROM (SELECT * FROM " source " WHERE process = ?1 AND bucket > ?2 - " width " AND bucket < ?3" \
  " UNION ALL " RAW_AS_TIER " WHERE process = ?1 AND t >= max (?5, ?2) AND t < ?3)" \
  " GROUP BY b ORDER BY b"

#define RAW_AS_TIER \
  "SELECT process, t AS bucket, 1 AS count, pss AS pss_min, pss AS pss_sum, pss AS pss_max," \
  " uss AS uss_min, uss AS uss_sum, uss AS uss_max," \
  " swap AS swap_min, swap AS swap_sum, swap AS swap_max FROM samples"

#define RAW_QUERY \
  "SELECT t - t % ?4 AS b, min (pss), sum (pss) / count (*), max (pss), min (uss), sum (uss) / count (*)," \
  " max (uss), min (swap), sum (swap) / count (*), max (swap), count (*)" \
  " FROM samples WHERE process = ?1 AND t >= ?2 AND t < ?3 GROUP BY b ORDER BY b"

/* A writer waits this long for a lock another process holds, then gives
 * up on the tick: the daemon's own writes never wait on each other. */
#define HISTORY_BUSY_TIMEOUT_MS 250

typedef enum {
  STMT_BEGIN,
  STMT_COMMIT,
  STMT_ROLLBACK,
  STMT_UPSERT_PROCESS,
  STMT_INSERT_SAMPLE,
  STMT_CONSOLIDATE_MINUTES,
  STMT_CONSOLIDATE_HOURS,
  STMT_MARK_ENDED,
  STMT_TOUCH_LIVE,
  STMT_FIND_PROCESS,
  STMT_FIND_LATEST,
  STMT_GET_PROCESS,
  STMT_QUERY_RAW,
  STMT_QUERY_MINUTES,
  STMT_QUERY_HOURS,
  STMT_LIST_ENDED,
  STMT_SERIES_RAW,
  STMT_SERIES_MINUTES,
  STMT_ADD_HEAP,
  STMT_LIST_HEAP,
  N_STMTS
} Stmt;

#define PROCESS_COLUMNS "boot_id, pid, start_time, uid, exe, cmdline, first_seen, last_seen, ended"

static const char *const stmt_sql[N_STMTS] = {
  [STMT_BEGIN] = "BEGIN IMMEDIATE",
  [STMT_COMMIT] = "COMMIT",
  [STMT_ROLLBACK] = "ROLLBACK",
  [STMT_UPSERT_PROCESS] =
    "INSERT INTO processes (boot_id, pid, start_time, uid, exe, cmdline, first_seen, last_seen)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)"
    " ON CONFLICT (boot_id, pid, start_time) DO UPDATE SET uid = excluded.uid,"
    " exe = excluded.exe, cmdline = excluded.cmdline, last_seen = excluded.last_seen, ended = NULL"
    " RETURNING id",
  [STMT_INSERT_SAMPLE] = "INSERT OR IGNORE INTO samples VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
  [STMT_CONSOLIDATE_MINUTES] = CONSOLIDATE_MINUTES,
  [STMT_CONSOLIDATE_HOURS] = CONSOLIDATE_HOURS,
  [STMT_MARK_ENDED] = "UPDATE processes SET ended = ?2, last_seen = ?3 WHERE id = ?1",
  [STMT_TOUCH_LIVE] = "UPDATE processes SET last_seen = ?1 WHERE ended IS NULL",
  [STMT_FIND_PROCESS] = "SELECT id FROM processes WHERE boot_id = ?1 AND pid = ?2 AND start_time = ?3",
  [STMT_FIND_LATEST] =
    "SELECT start_time FROM processes WHERE boot_id = ?1 AND pid = ?2"
    " ORDER BY ended IS NULL DESC, last_seen DESC LIMIT 1",
  [STMT_GET_PROCESS] = "SELECT " PROCESS_COLUMNS " FROM processes WHERE id = ?1",
  [STMT_QUERY_RAW] = RAW_QUERY,
  [STMT_QUERY_MINUTES] = TIER_QUERY ("minutes", "60000000"),
  [STMT_QUERY_HOURS] = TIER_QUERY ("hours", "3600000000"),
  [STMT_LIST_ENDED] =
    "SELECT " PROCESS_COLUMNS " FROM processes WHERE ended >= ?1 AND pid != 0 ORDER BY ended",
  [STMT_SERIES_RAW] = "SELECT t, pss FROM samples WHERE process = ?1 AND t > ?2 AND t <= ?3 ORDER BY t",
  [STMT_SERIES_MINUTES] =
    "SELECT bucket + 30000000, pss_sum / count FROM minutes"
    " WHERE process = ?1 AND bucket > ?2 AND bucket <= ?3 ORDER BY bucket",
  [STMT_ADD_HEAP] = "INSERT OR REPLACE INTO heap_summaries VALUES (?1, ?2, ?3)",
  [STMT_LIST_HEAP] =
    "SELECT t, summary FROM heap_summaries WHERE process = ?1 AND t >= ?2 AND t < ?3 ORDER BY t",
};

/* What the writer remembers of a process between ticks. */
typedef struct {
  gint64  id;
  gint32  pid;
  guint64 start_time;
  guint   meta_hash; /* of uid, exe and cmdline: a change is written */
  gint64 last_seen;
  guint  tick;      /* the last tick it was in */
} Known;

struct _PymemdHistory
{
  GObject       parent_instance;
  char         *path;
  sqlite3      *db;
  sqlite3_stmt *stmts[N_STMTS];
  gboolean      in_memory;
  /* "boot_id pid start_time" -> Known, of the processes of recent ticks */
  GHashTable   *known;
  guint         tick;
  /* Samples before this are in the tiers; 0 before the first tick. */
  gint64        consolidated_until;
};

G_DEFINE_TYPE (PymemdHistory, pymemd_history, G_TYPE_OBJECT)

static void
pymemd_history_finalize (GObject *object)
{
  PymemdHistory *self = PYMEMD_HISTORY (object);

  for (guint i = 0; i < N_STMTS; i++)
    sqlite3_finalize (self->stmts[i]);
  sqlite3_close (self->db);
  g_hash_table_unref (self->known);
  g_free (self->path);
  G_OBJECT_CLASS (pymemd_history_parent_class)->finalize (object);
}

static void
pymemd_history_class_init (PymemdHistoryClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pymemd_history_finalize;
}

static void
pymemd_history_init (PymemdHistory *self)
{
  self->known = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

static PymemdError
error_code_from_sqlite (int rc)
{
  switch (rc & 0xff)
    {
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return PYMEMD_ERROR_ACCESS_DENIED;
    case SQLITE_FULL:
    case SQLITE_TOOBIG:
      return PYMEMD_ERROR_TOO_LARGE;
    default:
      return PYMEMD_ERROR_FAILED;
    }
}

static gboolean
set_sqlite_error (const char *path, sqlite3 *db, int rc, const char *what, GError **error)
{
  g_set_error (error, PYMEMD_ERROR, error_code_from_sqlite (rc), _("%s: %s: %s"), path, what,
               db != NULL ? sqlite3_errmsg (db) : sqlite3_errstr (rc));
  return FALSE;
}

static gboolean
history_error (PymemdHistory *self, int rc, const char *what, GError **error)
{
  return set_sqlite_error (self->path, self->db, rc, what, error);
}

/* Runs a statement kept in SELF to completion, ignoring rows. */
static gboolean
run_stmt (PymemdHistory *self, Stmt stmt, GError **error)
{
  sqlite3_stmt *s = self->stmts[stmt];
  int rc;

  while ((rc = sqlite3_step (s)) == SQLITE_ROW)
    ;
  sqlite3_reset (s);
  if (rc != SQLITE_DONE)
    return history_error (self, rc, stmt_sql[stmt], error);
  return TRUE;
}

static gboolean
exec_sql (PymemdHistory *self, const char *sql, GError **error)
{
  int rc = sqlite3_exec (self->db, sql, NULL, NULL, NULL);

  if (rc != SQLITE_OK)
    return history_error (self, rc, sql, error);
  return TRUE;
}

/* The single integer a PRAGMA or SELECT returns. */
static gboolean
query_int (PymemdHistory *self, const char *sql, gint64 *value, GError **error)
{
  sqlite3_stmt *s = NULL;
  int rc = sqlite3_prepare_v2 (self->db, sql, -1, &s, NULL);

  if (rc == SQLITE_OK)
    {
      rc = sqlite3_step (s);
      if (rc == SQLITE_ROW)
        {
          *value = sqlite3_column_int64 (s, 0);
          rc = SQLITE_OK;
        }
    }
  if (rc != SQLITE_OK)
    set_sqlite_error (self->path, self->db, rc, sql, error);
  sqlite3_finalize (s);
  return rc == SQLITE_OK;
}

typedef enum {
  CHECK_SOUND,
  CHECK_CORRUPT,
  CHECK_FAILED,
} CheckResult;

/* Whether the file opened as DB is a database SQLite can trust. */
static CheckResult
check_database (PymemdHistory *self, GError **error)
{
  sqlite3_stmt *s = NULL;
  CheckResult result = CHECK_SOUND;
  int rc = sqlite3_prepare_v2 (self->db, "PRAGMA quick_check", -1, &s, NULL);

  if (rc == SQLITE_OK)
    rc = sqlite3_step (s);
  if (rc == SQLITE_ROW)
    {
      const char *verdict = (const char *) sqlite3_column_text (s, 0);

      if (g_strcmp0 (verdict, "ok") != 0)
        result = CHECK_CORRUPT;
    }
  else if (rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT)
    result = CHECK_CORRUPT;
  else if (rc != SQLITE_DONE)
    {
      set_sqlite_error (self->path, self->db, rc, "checking the database", error);
      result = CHECK_FAILED;
    }
  sqlite3_finalize (s);
  return result;
}

/* Renames FROM to TO unless FROM is absent. */
static gboolean
rename_if_present (const char *from, const char *to, GError **error)
{
  if (g_rename (from, to) == 0 || errno == ENOENT)
    return TRUE;

  int errsv = errno;
  g_set_error (error, PYMEMD_ERROR, pymemd_error_from_errno (errsv), _("%s: moving a corrupt store aside to %s: %s"),
               from, to, g_strerror (errsv));
  return FALSE;
}

/* The database and its WAL go to PATH.corrupt-<unix time>[-N]: never
 * overwritten, kept for whoever wants to know what happened. */
static gboolean
move_aside (const char *path, GError **error)
{
  g_autofree char *base = g_strdup_printf ("%s.corrupt-%" G_GINT64_FORMAT, path,
                                           g_get_real_time () / SECOND_US);
  g_autofree char *aside = g_strdup (base);
  g_autofree char *wal = g_strconcat (path, "-wal", NULL);
  g_autofree char *shm = g_strconcat (path, "-shm", NULL);
  g_autofree char *aside_wal = NULL;

  for (guint n = 1; g_file_test (aside, G_FILE_TEST_EXISTS); n++)
    {
      g_free (aside);
      aside = g_strdup_printf ("%s-%u", base, n);
    }
  aside_wal = g_strconcat (aside, "-wal", NULL);
  if (!rename_if_present (path, aside, error) || !rename_if_present (wal, aside_wal, error))
    return FALSE;
  g_unlink (shm);
  g_message (_("%s: not a sound database, moved aside to %s"), path, aside);
  return TRUE;
}

static gboolean
open_file (PymemdHistory *self, GError **error)
{
  int rc = sqlite3_open_v2 (self->path, &self->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);

  if (rc != SQLITE_OK)
    return set_sqlite_error (self->path, self->db, rc, "opening", error);
  /* SQLite falls back to read-only silently; a store that cannot be
   * written is an error the caller must see now, not at the first tick. */
  if (sqlite3_db_readonly (self->db, "main") == 1)
    return set_sqlite_error (self->path, NULL, SQLITE_READONLY, "opening", error);
  sqlite3_busy_timeout (self->db, HISTORY_BUSY_TIMEOUT_MS);
  sqlite3_extended_result_codes (self->db, 1);
  return TRUE;
}

static void
close_file (PymemdHistory *self)
{
  sqlite3_close (self->db);
  self->db = NULL;
}

/* Opens PATH, moving it aside and starting afresh if it is not sound. */
static gboolean
open_sound_file (PymemdHistory *self, GError **error)
{
  CheckResult check;

  if (!open_file (self, error))
    return FALSE;
  check = check_database (self, error);
  if (check == CHECK_SOUND)
    return TRUE;
  close_file (self);
  if (check == CHECK_FAILED || !move_aside (self->path, error) || !open_file (self, error))
    return FALSE;
  if (check_database (self, error) != CHECK_SOUND)
    {
      g_clear_error (error);
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED, _("%s: a fresh store is not sound either"),
                   self->path);
      return FALSE;
    }
  return TRUE;
}

static gboolean
set_wal (PymemdHistory *self, GError **error)
{
  sqlite3_stmt *s = NULL;
  gboolean is_wal = FALSE;
  int rc = sqlite3_prepare_v2 (self->db, "PRAGMA journal_mode=WAL", -1, &s, NULL);

  if (rc == SQLITE_OK && (rc = sqlite3_step (s)) == SQLITE_ROW)
    is_wal = g_ascii_strcasecmp ((const char *) sqlite3_column_text (s, 0), "wal") == 0;
  sqlite3_finalize (s);
  if (rc != SQLITE_ROW)
    return set_sqlite_error (self->path, self->db, rc, "switching to WAL", error);
  if (!is_wal)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED, _("%s: the file system does not allow WAL mode"),
                   self->path);
      return FALSE;
    }
  return TRUE;
}

static gboolean
unknown_schema (PymemdHistory *self, gint64 version, GError **error)
{
  g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED, _("%s: schema version %lld is not the %d this pymemd knows"),
               self->path, (long long) version, SCHEMA_VERSION);
  return FALSE;
}

static gboolean
ensure_schema (PymemdHistory *self, GError **error)
{
  gint64 version = 0;
  g_autofree char *create = NULL;

  if (!query_int (self, "PRAGMA user_version", &version, error))
    return FALSE;
  if (version == SCHEMA_VERSION)
    return TRUE;
  if (version != 0)
    return unknown_schema (self, version, error);
  create = g_strdup_printf ("BEGIN; %s PRAGMA user_version = %d; COMMIT;", schema_sql, SCHEMA_VERSION);
  if (!exec_sql (self, create, error))
    {
      sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
      return FALSE;
    }
  return TRUE;
}

static gboolean
prepare_stmts (PymemdHistory *self, GError **error)
{
  for (guint i = 0; i < N_STMTS; i++)
    {
      int rc = sqlite3_prepare_v3 (self->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                   &self->stmts[i], NULL);
      if (rc != SQLITE_OK)
        return history_error (self, rc, stmt_sql[i], error);
    }
  return TRUE;
}

/* Processes a previous run left without an end: the run stopped (or
 * crashed) while they lived. Those still alive are seen again at the first
 * tick, which clears the end. */
static gboolean
end_orphans (PymemdHistory *self, GError **error)
{
  return exec_sql (self, "UPDATE processes SET ended = last_seen WHERE ended IS NULL AND pid != 0", error);
}

static gboolean
load_consolidated_until (PymemdHistory *self, GError **error)
{
  gint64 last = -1;

  if (!query_int (self, "SELECT coalesce (max (bucket), -1) FROM minutes", &last, error))
    return FALSE;
  self->consolidated_until = last < 0 ? 0 : last + MINUTE_US;
  return TRUE;
}

static PymemdHistory *
history_open (const char *path, gboolean in_memory, GError **error)
{
  g_autoptr(PymemdHistory) self = g_object_new (PYMEMD_TYPE_HISTORY, NULL);

  self->path = g_strdup (path);
  self->in_memory = in_memory;
  if (in_memory)
    {
      /* Not SQLITE_OPEN_MEMORY, which would make the file attached for
       * pymemd_history_merge_into () a memory database too. */
      int rc = sqlite3_open_v2 (":memory:", &self->db, SQLITE_OPEN_READWRITE, NULL);

      if (rc != SQLITE_OK)
        {
          set_sqlite_error (self->path, self->db, rc, "opening", error);
          return NULL;
        }
      sqlite3_extended_result_codes (self->db, 1);
    }
  else if (!open_sound_file (self, error))
    return NULL;
  /* auto_vacuum only takes effect before the first table exists; on an
   * existing store it is a no-op. */
  if (!exec_sql (self, "PRAGMA auto_vacuum = INCREMENTAL", error))
    return NULL;
  if (!in_memory && (!set_wal (self, error) || !exec_sql (self, "PRAGMA synchronous = NORMAL", error)))
    return NULL;
  if (!ensure_schema (self, error) || !prepare_stmts (self, error) || !end_orphans (self, error) ||
      !load_consolidated_until (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

PymemdHistory *
pymemd_history_open (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return history_open (path, FALSE, error);
}

PymemdHistory *
pymemd_history_open_reader (const char *path, GError **error)
{
  g_autoptr(PymemdHistory) self = g_object_new (PYMEMD_TYPE_HISTORY, NULL);
  gint64 version = 0;
  int rc;

  g_return_val_if_fail (path != NULL, NULL);

  /* The writer made, checked and switched the file to WAL: a reader only
   * checks that it knows the schema. */
  self->path = g_strdup (path);
  rc = sqlite3_open_v2 (path, &self->db, SQLITE_OPEN_READWRITE, NULL);
  if (rc != SQLITE_OK)
    {
      set_sqlite_error (path, self->db, rc, "opening", error);
      return NULL;
    }
  sqlite3_busy_timeout (self->db, HISTORY_BUSY_TIMEOUT_MS);
  sqlite3_extended_result_codes (self->db, 1);
  if (!query_int (self, "PRAGMA user_version", &version, error))
    return NULL;
  if (version != SCHEMA_VERSION)
    {
      unknown_schema (self, version, error);
      return NULL;
    }
  if (!prepare_stmts (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

gboolean
pymemd_history_read_begin (PymemdHistory *self, GError **error)
{
  g_return_val_if_fail (PYMEMD_IS_HISTORY (self), FALSE);

  /* One snapshot for the tiers and the raw samples not yet in them. */
  if (!exec_sql (self, "BEGIN", error))
    return FALSE;
  if (!load_consolidated_until (self, error))
    {
      exec_sql (self, "ROLLBACK", NULL);
      return FALSE;
    }
  return TRUE;
}

void
pymemd_history_read_end (PymemdHistory *self)
{
  g_return_if_fail (PYMEMD_IS_HISTORY (self));
  exec_sql (self, "COMMIT", NULL);
}

PymemdHistory *
pymemd_history_open_in_memory (const char *name, GError **error)
{
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return history_open (name, TRUE, error);
}

const char *
pymemd_history_get_path (PymemdHistory *self)
{
  g_return_val_if_fail (PYMEMD_IS_HISTORY (self), NULL);
  return self->path;
}

guint64
pymemd_history_get_bytes (PymemdHistory *self)
{
  gint64 pages = 0, page_size = 0;
  g_autofree char *wal = NULL;
  GStatBuf st;
  guint64 bytes = 0;

  g_return_val_if_fail (PYMEMD_IS_HISTORY (self), 0);

  if (self->in_memory)
    {
      if (query_int (self, "PRAGMA page_count", &pages, NULL) && query_int (self, "PRAGMA page_size", &page_size, NULL))
        bytes = (guint64) pages * (guint64) page_size;
      return bytes;
    }
  wal = g_strconcat (self->path, "-wal", NULL);
  if (g_stat (self->path, &st) == 0)
    bytes += (guint64) st.st_size;
  if (g_stat (wal, &st) == 0)
    bytes += (guint64) st.st_size;
  return bytes;
}

gboolean
pymemd_history_is_in_memory (PymemdHistory *self)
{
  g_return_val_if_fail (PYMEMD_IS_HISTORY (self), FALSE);
  return self->in_memory;
}

static gboolean
step_done (PymemdHistory *self, Stmt stmt, GError **error)
{
  int rc = sqlite3_step (self->stmts[stmt]);

  sqlite3_reset (self->stmts[stmt]);
  sqlite3_clear_bindings (self->stmts[stmt]);
  if (rc != SQLITE_DONE)
    return history_error (self, rc, stmt_sql[stmt], error);
  return TRUE;
}

static gboolean
upsert_process (PymemdHistory *self, const char *boot_id, gint64 now, const PymemdHistoryPoint *point,
                gint64 *id, GError **error)
{
  sqlite3_stmt *s = self->stmts[STMT_UPSERT_PROCESS];
  int rc;

  sqlite3_bind_text (s, 1, boot_id, -1, SQLITE_STATIC);
  sqlite3_bind_int (s, 2, point->pid);
  sqlite3_bind_int64 (s, 3, (sqlite3_int64) point->start_time);
  sqlite3_bind_int64 (s, 4, point->uid);
  sqlite3_bind_text (s, 5, point->exe, -1, SQLITE_STATIC);
  sqlite3_bind_text (s, 6, point->cmdline, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (s, 7, now);
  rc = sqlite3_step (s);
  if (rc == SQLITE_ROW)
    {
      *id = sqlite3_column_int64 (s, 0);
      rc = sqlite3_step (s);
    }
  sqlite3_reset (s);
  sqlite3_clear_bindings (s);
  if (rc != SQLITE_DONE)
    return history_error (self, rc, "recording a process", error);
  return TRUE;
}

static char *
identity_key (const char *boot_id, gint32 pid, guint64 start_time)
{
  return g_strdup_printf ("%s %d %" G_GUINT64_FORMAT, boot_id, pid, start_time);
}

static guint
meta_hash (const PymemdHistoryPoint *point)
{
  return point->uid * 31u + g_str_hash (point->exe != NULL ? point->exe : "") * 17u +
         g_str_hash (point->cmdline != NULL ? point->cmdline : "");
}

static gboolean
add_point (PymemdHistory *self, const char *boot_id, gint64 now, const PymemdHistoryPoint *point,
           GError **error)
{
  sqlite3_stmt *s = self->stmts[STMT_INSERT_SAMPLE];
  PymemdHistoryPoint totals;
  g_autofree char *key = NULL;
  guint hash;
  Known *known;

  if (point->pid == PYMEMD_HISTORY_TOTALS_PID)
    {
      totals = *point;
      totals.start_time = 0;
      point = &totals;
      boot_id = PYMEMD_HISTORY_TOTALS_BOOT_ID;
    }
  key = identity_key (boot_id, point->pid, point->start_time);
  hash = meta_hash (point);
  known = g_hash_table_lookup (self->known, key);
  if (known == NULL || known->meta_hash != hash || known->tick + 1 < self->tick)
    {
      gint64 id = 0;

      if (!upsert_process (self, boot_id, now, point, &id, error))
        return FALSE;
      if (known == NULL)
        {
          known = g_new0 (Known, 1);
          known->pid = point->pid;
          known->start_time = point->start_time;
          g_hash_table_insert (self->known, g_steal_pointer (&key), known);
        }
      known->id = id;
      known->meta_hash = hash;
    }
  known->tick = self->tick;
  known->last_seen = now;

  sqlite3_bind_int64 (s, 1, known->id);
  sqlite3_bind_int64 (s, 2, point->sampled_at > 0 ? point->sampled_at : now);
  sqlite3_bind_int64 (s, 3, (sqlite3_int64) point->rss);
  sqlite3_bind_int64 (s, 4, (sqlite3_int64) point->pss);
  sqlite3_bind_int64 (s, 5, (sqlite3_int64) point->uss);
  sqlite3_bind_int64 (s, 6, (sqlite3_int64) point->private_dirty);
  sqlite3_bind_int64 (s, 7, (sqlite3_int64) point->swap);
  return step_done (self, STMT_INSERT_SAMPLE, error);
}

/* Turns the raw samples of the minutes before NOW's into tier rows. */
static gboolean
consolidate (PymemdHistory *self, gint64 now, GError **error)
{
  gint64 minute = now - now % MINUTE_US;
  sqlite3_stmt *minutes = self->stmts[STMT_CONSOLIDATE_MINUTES];
  sqlite3_stmt *hours = self->stmts[STMT_CONSOLIDATE_HOURS];
  sqlite3_stmt *touch = self->stmts[STMT_TOUCH_LIVE];

  if (minute <= self->consolidated_until)
    return TRUE;
  sqlite3_bind_int64 (minutes, 1, self->consolidated_until);
  sqlite3_bind_int64 (minutes, 2, minute);
  sqlite3_bind_int64 (hours, 1, self->consolidated_until);
  sqlite3_bind_int64 (hours, 2, minute);
  /* last_seen of the living, so that after a crash they end within a minute of the truth. */
  sqlite3_bind_int64 (touch, 1, now);
  if (!step_done (self, STMT_CONSOLIDATE_MINUTES, error) || !step_done (self, STMT_CONSOLIDATE_HOURS, error) ||
      !step_done (self, STMT_TOUCH_LIVE, error))
    return FALSE;
  self->consolidated_until = minute;
  return TRUE;
}

/* Marks ended the processes of the previous tick missing from this one. */
static gboolean
mark_ended (PymemdHistory *self, gint64 now, GError **error)
{
  sqlite3_stmt *s = self->stmts[STMT_MARK_ENDED];
  GHashTableIter iter;
  Known *known;

  g_hash_table_iter_init (&iter, self->known);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &known))
    {
      if (known->tick == self->tick)
        continue;
      sqlite3_bind_int64 (s, 1, known->id);
      sqlite3_bind_int64 (s, 2, now);
      sqlite3_bind_int64 (s, 3, known->last_seen);
      if (!step_done (self, STMT_MARK_ENDED, error))
        return FALSE;
      g_hash_table_iter_remove (&iter);
    }
  return TRUE;
}

gboolean
pymemd_history_add_tick (PymemdHistory            *self,
                         const char               *boot_id,
                         gint64                    timestamp_us,
                         const PymemdHistoryPoint *points,
                         guint                     n,
                         GError                  **error)
{
  gint64 consolidated_until;

  g_return_val_if_fail (PYMEMD_IS_HISTORY (self), FALSE);
  g_return_val_if_fail (boot_id != NULL, FALSE);
  g_return_val_if_fail (points != NULL || n == 0, FALSE);

  consolidated_until = self->consolidated_until;
  if (!run_stmt (self, STMT_BEGIN, error))
    return FALSE;
  self->tick++;
  if (!consolidate (self, timestamp_us, error))
    goto fail;
  for (guint i = 0; i < n; i++)
    if (!add_point (self, boot_id, timestamp_us, &points[i], error))
      goto fail;
  if (!mark_ended (self, timestamp_us, error) || !run_stmt (self, STMT_COMMIT, error))
    goto fail;
  return TRUE;

fail:
  run_stmt (self, STMT_ROLLBACK, NULL);
  /* What was remembered of this tick was rolled back with it. */
  self->consolidated_until = consolidated_until;
  g_hash_table_remove_all (self->known);
  return FALSE;
}

/* The row id of an identity: FALSE (no error) if it is unknown. */
static gboolean
find_process (PymemdHistory *self, const char *boot_id, gint32 pid, guint64 start_time, gint64 *id,
              GError **error)
{
  sqlite3_stmt *s = self->stmts[STMT_FIND_PROCESS];
  int rc;

  if (pid == PYMEMD_HISTORY_TOTALS_PID)
    {
      boot_id = PYMEMD_HISTORY_TOTALS_BOOT_ID;
      start_time = 0;
    }
  sqlite3_bind_text (s, 1, boot_id, -1, SQLITE_STATIC);
  sqlite3_bind_int (s, 2, pid);
  sqlite3_bind_int64 (s, 3, (sqlite3_int64) start_time);
  rc = sqlite3_step (s);
  if (rc == SQLITE_ROW)
    *id = sqlite3_column_int64 (s, 0);
  sqlite3_reset (s);
  sqlite3_clear_bindings (s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return history_error (self, rc, "looking up a process", error);
  return rc == SQLITE_ROW;
}

gboolean
pymemd_history_find_latest (PymemdHistory *self,
                            const char    *boot_id,
                            gint32         pid,
                            guint64       *start_time,
                            GError       **error)
{
  sqlite3_stmt *s;
  int rc;

  g_return_val_if_fail (PYMEMD_IS_HISTORY (self), FALSE);
  g_return_val_if_fail (boot_id != NULL, FALSE);
  g_return_val_if_fail (start_time != NULL, FALSE);

  s = self->stmts[STMT_FIND_LATEST];
  sqlite3_bind_text (s, 1, boot_id, -1, SQLITE_STATIC);
  sqlite3_bind_int (s, 2, pid);
  rc = sqlite3_step (s);
  if (rc == SQLITE_ROW)
    *start_time = (guint64) sqlite3_column_int64 (s, 0);
  sqlite3_reset (s);
  sqlite3_clear_bindings (s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return history_error (self, rc, "looking up a process", error);
  if (rc == SQLITE_DONE)
    g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_NO_SUCH_PROCESS, _("No history of pid %d"), pid);
  return rc == SQLITE_ROW;
}

static void
read_process (sqlite3_stmt *s, PymemdHistoryProcess *out)
{
  *out = (PymemdHistoryProcess) {
    .boot_id = g_strdup ((const char *) sqlite3_column_text (s, 0)),
    .pid = sqlite3_column_int (s, 1),
    .start_time = (guint64) sqlite3_column_int64 (s, 2),
    .uid = (guint32) sqlite3_column_int64 (s, 3),
    .exe = g_strdup ((const char *) sqlite3_column_text (s, 4)),
    .cmdline = g_strdup ((const char *) sqlite3_column_text (s, 5)),
    .first_seen = sqlite3_column_int64 (s, 6),
    .last_seen = sqlite3_column_int64 (s, 7),
    .ended = sqlite3_column_int64 (s, 8),
  };
}

void
pymemd_history_process_clear (PymemdHistoryProcess *process)
{
  g_clear_pointer (&process->boot_id, g_free);
  g_clear_pointer (&process->exe, g_free);
  g_clear_pointer (&process->cmdline, g_free);
}

/* An identity's row, or a NO_SUCH_PROCESS error. */
static gboolean
lookup (PymemdHistory *self, const char *boot_id, gint32 pid, guint64 start_time, gint64 *id, GError **error)
{
  g_autoptr(GError) local_error = NULL;

  if (find_process (self, boot_id, pid, start_time, id, &local_error))
    return TRUE;
  if (local_error == NULL)
    g_set_error (&local_error, PYMEMD_ERROR, PYMEMD_ERROR_NO_SUCH_PROCESS, _("No history of pid %d"), pid);
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}

gboolean
pymemd_history_get_process (PymemdHistory        *self,
                            const char           *boot_id,
                            gint32                pid,
                            guint64               start_time,
                            PymemdHistoryProcess *out,
                            GError              **error)
{
  sqlite3_stmt *s;
  gint64 id = 0;
  int rc;

  g_return_val_if_fail (PYMEMD_IS_HISTORY (self), FALSE);
  g_return_val_if_fail (boot_id != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  if (!lookup (self, boot_id, pid, start_time, &id, error))
    return FALSE;
  s = self->stmts[STMT_GET_PROCESS];
  sqlite3_bind_int64 (s, 1, id);
  rc = sqlite3_step (s);
  if (rc == SQLITE_ROW)
    read_process (s, out);
  sqlite3_reset (s);
  if (rc != SQLITE_ROW)
    return history_error (self, rc, "reading a process", error);
  return TRUE;
}

GArray *
pymemd_history_query (PymemdHistory *self,
                      const char    *boot_id,
                      gint32         pid,
                      guint64        start_time,
                      gint64         since_us,
                      gint64         until_us,
                      gint64         resolution_us,
                      GError       **error)
{
  g_autoptr(GArray) rows = g_array_new (FALSE, FALSE, sizeof (PymemdHistoryRow));
  g_autoptr(GError) local_error = NULL;
  sqlite3_stmt *s;
  Stmt stmt;
  gint64 id = 0;
  int rc;

  g_return_val_if_fail (PYMEMD_IS_HISTORY (self), NULL);
  g_return_val_if_fail (boot_id != NULL, NULL);

  if (!find_process (self, boot_id, pid, start_time, &id, &local_error))
    {
      if (local_error != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      return g_steal_pointer (&rows);
    }

  if (resolution_us < MINUTE_US)
    stmt = STMT_QUERY_RAW;
  else if (resolution_us < HOUR_US)
    stmt = STMT_QUERY_MINUTES;
  else
    stmt = STMT_QUERY_HOURS;
  s = self->stmts[stmt];
  sqlite3_bind_int64 (s, 1, id);
  sqlite3_bind_int64 (s, 2, since_us);
  sqlite3_bind_int64 (s, 3, until_us);
  sqlite3_bind_int64 (s, 4, MAX (resolution_us, 1));
  if (stmt != STMT_QUERY_RAW)
    sqlite3_bind_int64 (s, 5, self->consolidated_until);
  while ((rc = sqlite3_step (s)) == SQLITE_ROW)
    {
      PymemdHistoryRow row = {
        .t = sqlite3_column_int64 (s, 0),
        .pss_min = (guint64) sqlite3_column_int64 (s, 1),
        .pss_avg = (guint64) sqlite3_column_int64 (s, 2),
        .pss_max = (guint64) sqlite3_column_int64 (s, 3),
        .uss_min = (guint64) sqlite3_column_int64 (s, 4),
        .uss_avg = (guint64) sqlite3_column_int64 (s, 5),
        .uss_max = (guint64) sqlite3_column_int64 (s, 6),
        .swap_min = (guint64) sqlite3_column_int64 (s, 7),
        .swap_avg = (guint64) sqlite3_column_int64 (s, 8),
        .swap_max = (guint64) sqlite3_column_int64 (s, 9),
        .count = (guint32) sqlite3_column_int64 (s, 10),
      };
      g_array_append_val (rows, row);
    }
  sqlite3_reset (s);
  if (rc != SQLITE_DONE)
    {
      history_error (self, rc, "querying history", error);
      return NULL;
    }
  return g_steal_pointer (&rows);
}

static void
history_process_clear (gpointer data)
{
  pymemd_history_process_clear (data);
}

GArray *
pymemd_history_list_ended (PymemdHistory *self, gint64 since_us, GError **error)
{
  g_autoptr(GArray) ended = g_array_new (FALSE, FALSE, sizeof (PymemdHistoryProcess));
  sqlite3_stmt *s;
  int rc;

  g_return_val_if_fail (PYMEMD_IS_HISTORY (self), NULL);

  g_array_set_clear_func (ended, history_process_clear);
  s = self->stmts[STMT_LIST_ENDED];
  sqlite3_bind_int64 (s, 1, since_us);
  while ((rc = sqlite3_step (s)) == SQLITE_ROW)
    {
      PymemdHistoryProcess process;

      read_process (s, &process);
      g_array_append_val (ended, process);
    }
  sqlite3_reset (s);
  if (rc != SQLITE_DONE)
    {
      history_error (self, rc, "listing ended processes", error);
      return NULL;
    }
  return g_steal_pointer (&ended);
}

typedef struct {
  double t;
  double pss;
} SeriesPoint;

static gboolean
load_series (PymemdHistory *self, Stmt stmt, gint64 id, gint64 since, gint64 until, GArray *series,
             GError **error)
{
  sqlite3_stmt *s = self->stmts[stmt];
  int rc;

  g_array_set_size (series, 0);
  sqlite3_bind_int64 (s, 1, id);
  sqlite3_bind_int64 (s, 2, since);
  sqlite3_bind_int64 (s, 3, until);
  while ((rc = sqlite3_step (s)) == SQLITE_ROW)
    {
      SeriesPoint point = { (double) sqlite3_column_int64 (s, 0), (double) sqlite3_column_int64 (s, 1) };
      g_array_append_val (series, point);
    }
  sqlite3_reset (s);
  if (rc != SQLITE_DONE)
    return history_error (self, rc, "reading a series", error);
  return TRUE;
}

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

/* The median of the slopes between every pair of points (Theil–Sen): a few
 * outliers move it little, unlike a least-squares fit. In units per µs. */
static double
theil_sen_slope (const SeriesPoint *points, guint n)
{
  g_autoptr(GArray) slopes = g_array_sized_new (FALSE, FALSE, sizeof (double), n * (n - 1) / 2);
  guint m;

  for (guint i = 0; i < n; i++)
    for (guint j = i + 1; j < n; j++)
      if (points[j].t != points[i].t)
        {
          double slope = (points[j].pss - points[i].pss) / (points[j].t - points[i].t);
          g_array_append_val (slopes, slope);
        }
  if (slopes->len == 0)
    return 0;
  qsort (slopes->data, slopes->len, sizeof (double), compare_doubles);
  m = slopes->len / 2;
  if (slopes->len % 2 == 1)
    return g_array_index (slopes, double, m);
  return (g_array_index (slopes, double, m - 1) + g_array_index (slopes, double, m)) / 2;
}

/* The slope of SERIES (oldest first) in bytes per hour, over at most
 * GROWTH_MAX_POINTS of its points spread evenly. */
static double
series_slope (const GArray *series)
{
  SeriesPoint picked[GROWTH_MAX_POINTS];
  guint n = MIN (series->len, GROWTH_MAX_POINTS);

  for (guint i = 0; i < n; i++)
    picked[i] = g_array_index (series, SeriesPoint, (guint64) i * (series->len - 1) / (n - 1));
  return theil_sen_slope (picked, n) * (double) HOUR_US;
}

gboolean
pymemd_history_growth (PymemdHistory *self,
                       const char    *boot_id,
                       gint32         pid,
                       guint64        start_time,
                       gint64         window_us,
                       gint64         now_us,
                       double        *bytes_per_hour,
                       guint         *samples,
                       GError       **error)
{
  g_autoptr(GArray) series = g_array_new (FALSE, FALSE, sizeof (SeriesPoint));
  gint64 id = 0;

  g_return_val_if_fail (PYMEMD_IS_HISTORY (self), FALSE);
  g_return_val_if_fail (boot_id != NULL, FALSE);
  g_return_val_if_fail (bytes_per_hour != NULL, FALSE);

  if (!lookup (self, boot_id, pid, start_time, &id, error))
    return FALSE;
  /* Raw samples may already be gone for most of a long window: the minute
   * tier's averages then stand in. */
  if (!load_series (self, STMT_SERIES_RAW, id, now_us - window_us, now_us, series, error))
    return FALSE;
  if (series->len < 3 || g_array_index (series, SeriesPoint, 0).t > (double) (now_us - window_us / 2))
    {
      g_autoptr(GArray) minutes = g_array_new (FALSE, FALSE, sizeof (SeriesPoint));

      if (!load_series (self, STMT_SERIES_MINUTES, id, now_us - window_us, now_us, minutes, error))
        return FALSE;
      /* A young process has raw samples only. */
      if (minutes->len >= 3)
        g_array_set_size (series, 0), g_array_append_vals (series, minutes->data, minutes->len);
    }
  if (series->len < 3)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS,
                   _("%u samples of pid %d in the window, a slope needs 3"), series->len, pid);
      return FALSE;
    }
  *bytes_per_hour = series_slope (series);
  if (samples != NULL)
    *samples = series->len;
  return TRUE;
}

/* One process's points in a growth pass. */
typedef struct {
  GArray *points; /* SeriesPoint, at most GROWTH_MAX_POINTS + 1 */
  guint   n;      /* samples read */
  gint64  last_slot;
} Series;

static void
series_free (gpointer data)
{
  Series *series = data;

  g_array_unref (series->points);
  g_free (series);
}

GArray *
pymemd_history_growth_all (PymemdHistory *self,
                           gint64         window_us,
                           gint64         now_us,
                           gboolean       from_minutes,
                           GError       **error)
{
  g_autoptr(GArray) result = g_array_new (FALSE, FALSE, sizeof (PymemdHistoryGrowth));
  g_autoptr(GHashTable) series = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, series_free);
  sqlite3_stmt *s = NULL;
  GHashTableIter iter;
  Known *known;
  int rc;

  g_return_val_if_fail (PYMEMD_IS_HISTORY (self), NULL);

  /* One pass over the window's samples, which are clustered by time,
   * rather than one per process. */
  rc = sqlite3_prepare_v2 (self->db,
                           from_minutes
                           ? "SELECT process, bucket + 30000000, pss_sum / count FROM minutes"
                             " WHERE bucket > ?1 AND bucket <= ?2 ORDER BY bucket"
                           : "SELECT process, t, pss FROM samples WHERE t > ?1 AND t <= ?2 ORDER BY t",
                           -1, &s, NULL);
  if (rc != SQLITE_OK)
    {
      history_error (self, rc, "reading growth series", error);
      return NULL;
    }
  sqlite3_bind_int64 (s, 1, now_us - window_us);
  sqlite3_bind_int64 (s, 2, now_us);
  while ((rc = sqlite3_step (s)) == SQLITE_ROW)
    {
      gint64 id = sqlite3_column_int64 (s, 0);
      SeriesPoint point = { (double) sqlite3_column_int64 (s, 1), (double) sqlite3_column_int64 (s, 2) };
      Series *one = g_hash_table_lookup (series, &id);
      /* The first point of each of GROWTH_MAX_POINTS slots of the window
       * is kept: what the slope reads, in a fraction of the memory. */
      gint64 slot = (gint64) ((point.t - (double) (now_us - window_us)) * GROWTH_MAX_POINTS / (double) window_us);

      if (one == NULL)
        {
          one = g_new0 (Series, 1);
          one->points = g_array_sized_new (FALSE, FALSE, sizeof (SeriesPoint), 16);
          one->last_slot = -1;
          g_hash_table_insert (series, g_memdup2 (&id, sizeof id), one);
        }
      one->n++;
      if (slot > one->last_slot)
        {
          g_array_append_val (one->points, point);
          one->last_slot = slot;
        }
    }
  sqlite3_finalize (s);
  if (rc != SQLITE_DONE)
    {
      history_error (self, rc, "reading growth series", error);
      return NULL;
    }

  /* Only the processes of the last tick, and only those seen over most of
   * the window: the first minutes of a program are growth, not a leak. */
  g_hash_table_iter_init (&iter, self->known);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &known))
    {
      Series *one = g_hash_table_lookup (series, &known->id);
      GArray *points = one != NULL ? one->points : NULL;
      PymemdHistoryGrowth growth = { 0 };

      if (known->pid == PYMEMD_HISTORY_TOTALS_PID || known->tick != self->tick || points == NULL ||
          points->len < 3 ||
          g_array_index (points, SeriesPoint, points->len - 1).t - g_array_index (points, SeriesPoint, 0).t <
            (double) window_us / 2)
        continue;
      growth.pid = known->pid;
      growth.start_time = known->start_time;
      growth.bytes_per_hour = series_slope (points);
      growth.samples = one->n;
      g_array_append_val (result, growth);
    }
  return g_steal_pointer (&result);
}

gboolean
pymemd_history_add_heap_summary (PymemdHistory *self,
                                 const char    *boot_id,
                                 gint32         pid,
                                 guint64        start_time,
                                 gint64         timestamp_us,
                                 const char    *summary,
                                 GError       **error)
{
  sqlite3_stmt *s;
  gint64 id = 0;

  g_return_val_if_fail (PYMEMD_IS_HISTORY (self), FALSE);
  g_return_val_if_fail (summary != NULL, FALSE);

  if (!lookup (self, boot_id, pid, start_time, &id, error))
    return FALSE;
  s = self->stmts[STMT_ADD_HEAP];
  sqlite3_bind_int64 (s, 1, id);
  sqlite3_bind_int64 (s, 2, timestamp_us);
  sqlite3_bind_text (s, 3, summary, -1, SQLITE_STATIC);
  return step_done (self, STMT_ADD_HEAP, error);
}

GPtrArray *
pymemd_history_list_heap_summaries (PymemdHistory *self,
                                    const char    *boot_id,
                                    gint32         pid,
                                    guint64        start_time,
                                    gint64         since_us,
                                    gint64         until_us,
                                    GError       **error)
{
  g_autoptr(GPtrArray) summaries = g_ptr_array_new_with_free_func (g_free);
  sqlite3_stmt *s;
  gint64 id = 0;
  int rc;

  g_return_val_if_fail (PYMEMD_IS_HISTORY (self), NULL);

  if (!lookup (self, boot_id, pid, start_time, &id, error))
    return NULL;
  s = self->stmts[STMT_LIST_HEAP];
  sqlite3_bind_int64 (s, 1, id);
  sqlite3_bind_int64 (s, 2, since_us);
  sqlite3_bind_int64 (s, 3, until_us);
  while ((rc = sqlite3_step (s)) == SQLITE_ROW)
    {
      PymemdHistoryHeapSummary *summary = g_malloc (sizeof *summary + (gsize) sqlite3_column_bytes (s, 1) + 1);

      summary->t = sqlite3_column_int64 (s, 0);
      memcpy (summary->summary, sqlite3_column_text (s, 1), (gsize) sqlite3_column_bytes (s, 1) + 1);
      g_ptr_array_add (summaries, summary);
    }
  sqlite3_reset (s);
  if (rc != SQLITE_DONE)
    {
      history_error (self, rc, "reading heap summaries", error);
      return NULL;
    }
  return g_steal_pointer (&summaries);
}

/* Everything of SELF goes into the store at PATH, on SELF's connection with
 * PATH attached: processes by identity, raw samples unless already there,
 * heap summaries. SELF's history is later than the file's: the file's
 * tiers are complete before CF (its first minute not consolidated); from
 * there on, minutes are consolidated again from the raw samples of both,
 * and SELF's minute rows whose raw samples are gone (before MRAW) added. */
static const char merge_start_sql[] =
  "BEGIN IMMEDIATE;"
  "INSERT INTO disk.processes (" PROCESS_COLUMNS ") SELECT " PROCESS_COLUMNS " FROM main.processes WHERE true"
  " ON CONFLICT (boot_id, pid, start_time) DO UPDATE SET uid = excluded.uid, exe = excluded.exe,"
  " cmdline = excluded.cmdline, first_seen = min (first_seen, excluded.first_seen),"
  " last_seen = max (last_seen, excluded.last_seen), ended = excluded.ended;"
  "CREATE TEMP TABLE ids AS SELECT m.id AS mem, d.id AS disk FROM main.processes m"
  " JOIN disk.processes d USING (boot_id, pid, start_time);";

static const char merge_rows_sql[] =
  "INSERT OR IGNORE INTO disk.samples SELECT ids.disk, t, rss, pss, uss, private_dirty, swap"
  " FROM main.samples JOIN ids ON process = ids.mem;"
  "INSERT OR IGNORE INTO disk.heap_summaries SELECT ids.disk, t, summary"
  " FROM main.heap_summaries JOIN ids ON process = ids.mem;";

/* %1$ CF, %2$ MRAW, %3$ the end of SELF's consolidated minutes */
static const char merge_tiers_sql[] =
  "INSERT OR REPLACE INTO disk.minutes SELECT process, t - t %% 60000000 AS b, count (*),"
  " min (pss), sum (pss), max (pss), min (uss), sum (uss), max (uss), min (swap), sum (swap), max (swap)"
  " FROM disk.samples WHERE t >= %1$" G_GINT64_FORMAT " AND t < %3$" G_GINT64_FORMAT " GROUP BY b, process;"
  "INSERT INTO disk.minutes SELECT ids.disk, bucket, count, pss_min, pss_sum, pss_max, uss_min, uss_sum,"
  " uss_max, swap_min, swap_sum, swap_max FROM main.minutes JOIN ids ON process = ids.mem"
  " WHERE bucket < %2$" G_GINT64_FORMAT
  " ON CONFLICT (process, bucket) DO UPDATE SET count = count + excluded.count,"
  " pss_min = min (pss_min, excluded.pss_min), pss_sum = pss_sum + excluded.pss_sum,"
  " pss_max = max (pss_max, excluded.pss_max), uss_min = min (uss_min, excluded.uss_min),"
  " uss_sum = uss_sum + excluded.uss_sum, uss_max = max (uss_max, excluded.uss_max),"
  " swap_min = min (swap_min, excluded.swap_min), swap_sum = swap_sum + excluded.swap_sum,"
  " swap_max = max (swap_max, excluded.swap_max);"
  "INSERT OR REPLACE INTO disk.hours SELECT process, bucket - bucket %% 3600000000 AS b, sum (count),"
  " min (pss_min), sum (pss_sum), max (pss_max), min (uss_min), sum (uss_sum), max (uss_max),"
  " min (swap_min), sum (swap_sum), max (swap_max) FROM disk.minutes"
  " WHERE bucket >= %1$" G_GINT64_FORMAT " - %1$" G_GINT64_FORMAT " %% 3600000000"
  " AND bucket < %3$" G_GINT64_FORMAT " GROUP BY b, process;"
  "COMMIT;";

static gboolean
merge_step (PymemdHistory *self, const char *path, const char *sql, GError **error)
{
  int rc = sqlite3_exec (self->db, sql, NULL, NULL, NULL);

  if (rc != SQLITE_OK)
    return set_sqlite_error (path, self->db, rc, "saving the history kept in memory", error);
  return TRUE;
}

gboolean
pymemd_history_merge_into (PymemdHistory *self, const char *path, GError **error)
{
  sqlite3_stmt *attach = NULL;
  g_autofree char *tiers = NULL;
  gint64 cf = 0, mraw = 0;
  gboolean ok;
  int rc;

  g_return_val_if_fail (PYMEMD_IS_HISTORY (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  rc = sqlite3_prepare_v2 (self->db, "ATTACH DATABASE ?1 AS disk", -1, &attach, NULL);
  if (rc == SQLITE_OK)
    {
      sqlite3_bind_text (attach, 1, path, -1, SQLITE_STATIC);
      rc = sqlite3_step (attach);
    }
  sqlite3_finalize (attach);
  if (rc != SQLITE_DONE)
    return set_sqlite_error (path, self->db, rc, "attaching", error);
  /* The file's lock may be held for a moment by another reader. */
  sqlite3_busy_timeout (self->db, HISTORY_BUSY_TIMEOUT_MS);
  ok = merge_step (self, path, merge_start_sql, error) &&
       query_int (self, "SELECT coalesce (max (bucket) + 60000000, 0) FROM disk.minutes", &cf, error);
  if (ok)
    {
      g_autofree char *sql = g_strdup_printf ("SELECT coalesce (min (t) - min (t) %% 60000000, %" G_GINT64_FORMAT
                                              ") FROM main.samples", self->consolidated_until);

      ok = query_int (self, sql, &mraw, error);
    }
  if (ok)
    {
      tiers = g_strdup_printf (merge_tiers_sql, cf, mraw, MAX (self->consolidated_until, cf));
      ok = merge_step (self, path, merge_rows_sql, error) && merge_step (self, path, tiers, error);
    }
  if (!ok)
    sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_exec (self->db, "DROP TABLE IF EXISTS temp.ids", NULL, NULL, NULL);
  sqlite3_exec (self->db, "DETACH DATABASE disk", NULL, NULL, NULL);
  return ok;
}

/* TABLE and COLUMN are this file's constants, never input. */
static gboolean
delete_older (PymemdHistory *self, const char *table, const char *column, gint64 cutoff,
              GError **error)
{
  g_autofree char *sql = g_strdup_printf ("DELETE FROM %s WHERE %s < %" G_GINT64_FORMAT,
                                          table, column, cutoff);

  return exec_sql (self, sql, error);
}

static gboolean
store_bytes (PymemdHistory *self, guint64 *bytes, GError **error)
{
  gint64 pages = 0, page_size = 0;

  if (!query_int (self, "PRAGMA page_count", &pages, error) ||
      !query_int (self, "PRAGMA page_size", &page_size, error))
    return FALSE;
  *bytes = (guint64) pages * (guint64) page_size;
  return TRUE;
}

/* Gives freed pages back to the file system, WAL included. */
static gboolean
shrink_file (PymemdHistory *self, GError **error)
{
  return exec_sql (self, "PRAGMA incremental_vacuum", error) &&
         exec_sql (self, "PRAGMA wal_checkpoint(TRUNCATE)", error);
}

/* Deletes about an eighth of TABLE's rows, the oldest, at a time, until the
 * store fits in MAX_BYTES or TABLE is empty. */
static gboolean
trim_oldest (PymemdHistory *self, const char *table, const char *column, gint64 before, guint64 max_bytes,
             guint64 *bytes, GError **error)
{
  g_autofree char *sql = g_strdup_printf (
    "DELETE FROM %1$s WHERE %2$s < %3$" G_GINT64_FORMAT " AND %2$s <= (SELECT %2$s FROM %1$s"
    " WHERE %2$s < %3$" G_GINT64_FORMAT " ORDER BY %2$s LIMIT 1 OFFSET"
    " (SELECT count(*) / 8 FROM %1$s WHERE %2$s < %3$" G_GINT64_FORMAT "))", table, column, before);
  g_autofree char *count_sql = g_strdup_printf ("SELECT count(*) FROM %s WHERE %s < %" G_GINT64_FORMAT,
                                                table, column, before);
  gint64 rows = 0;

  while (*bytes > max_bytes)
    {
      if (!query_int (self, count_sql, &rows, error))
        return FALSE;
      if (rows == 0)
        break;
      if (!exec_sql (self, sql, error) || !shrink_file (self, error) || !store_bytes (self, bytes, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
pymemd_history_enforce_retention (PymemdHistory *self,
                                  gint64         now_us,
                                  gint64         raw_keep_us,
                                  gint64         minute_keep_us,
                                  gint64         hour_keep_us,
                                  guint64        max_bytes,
                                  GError       **error)
{
  guint64 bytes = 0;

  g_return_val_if_fail (PYMEMD_IS_HISTORY (self), FALSE);

  if (!run_stmt (self, STMT_BEGIN, error))
    return FALSE;
  /* Raw samples not yet in the tiers stay whatever their age. */
  if (!delete_older (self, "samples", "t", MIN (now_us - raw_keep_us, self->consolidated_until), error) ||
      !delete_older (self, "minutes", "bucket", now_us - minute_keep_us, error) ||
      !delete_older (self, "hours", "bucket", now_us - hour_keep_us, error) ||
      !delete_older (self, "heap_summaries", "t", now_us - hour_keep_us, error) ||
      !run_stmt (self, STMT_COMMIT, error))
    {
      run_stmt (self, STMT_ROLLBACK, NULL);
      return FALSE;
    }

  if (!shrink_file (self, error) || !store_bytes (self, &bytes, error))
    return FALSE;
  if (max_bytes > 0 && bytes > max_bytes)
    {
      if (!trim_oldest (self, "samples", "t", self->consolidated_until, max_bytes, &bytes, error) ||
          !trim_oldest (self, "minutes", "bucket", G_MAXINT64, max_bytes, &bytes, error))
        return FALSE;
      /* Pages left half full by the deletions are only given back by a
       * full rebuild. */
      if (bytes > max_bytes && !exec_sql (self, "VACUUM", error))
        return FALSE;
    }

  /* The living stay: their ids are remembered for the next tick. */
  return exec_sql (self,
                   "DELETE FROM processes WHERE id NOT IN (SELECT process FROM samples"
                   " UNION SELECT process FROM minutes UNION SELECT process FROM hours"
                   " UNION SELECT process FROM heap_summaries) AND ended IS NOT NULL",
                   error) &&
         shrink_file (self, error);
}
