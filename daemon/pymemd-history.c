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

/* Theil–Sen is quadratic in the points; 200 gives ~20 000 slopes. */
#define GROWTH_MAX_POINTS 200

/* Rows are clustered by time, not by process: a tick then dirties a few
 * adjacent pages instead of one page per process, and age retention is a
 * range delete. The tiers share one layout so one query and one upsert
 * serve both: sums, not averages, so that a bucket is updated in place
 * each tick; their (process, bucket) index only changes once per bucket. */
#define TIER_COLUMNS \
  "(process INTEGER NOT NULL, bucket INTEGER NOT NULL, count INTEGER NOT NULL," \
  " pss_min INTEGER NOT NULL, pss_sum INTEGER NOT NULL, pss_max INTEGER NOT NULL," \
  " uss_min INTEGER NOT NULL, uss_sum INTEGER NOT NULL, uss_max INTEGER NOT NULL," \
  " swap_min INTEGER NOT NULL, swap_sum INTEGER NOT NULL, swap_max INTEGER NOT NULL," \
  " private_dirty_min INTEGER NOT NULL, private_dirty_sum INTEGER NOT NULL," \
  " private_dirty_max INTEGER NOT NULL, PRIMARY KEY (bucket, process)) WITHOUT ROWID;"

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
  "CREATE INDEX minutes_process ON minutes (process, bucket);"
  "CREATE TABLE hours " TIER_COLUMNS
  "CREATE INDEX hours_process ON hours (process, bucket);";

#define TIER_UPSERT(table) \
  "INSERT INTO " table " VALUES (?1, ?2, 1, ?3, ?3, ?3, ?4, ?4, ?4, ?5, ?5, ?5, ?6, ?6, ?6)" \
  " ON CONFLICT (bucket, process) DO UPDATE SET count = count + 1," \
  " pss_min = min (pss_min, excluded.pss_min), pss_sum = pss_sum + excluded.pss_sum," \
  " pss_max = max (pss_max, excluded.pss_max)," \
  " uss_min = min (uss_min, excluded.uss_min), uss_sum = uss_sum + excluded.uss_sum," \
  " uss_max = max (uss_max, excluded.uss_max)," \
  " swap_min = min (swap_min, excluded.swap_min), swap_sum = swap_sum + excluded.swap_sum," \
  " swap_max = max (swap_max, excluded.swap_max)," \
  " private_dirty_min = min (private_dirty_min, excluded.private_dirty_min)," \
  " private_dirty_sum = private_dirty_sum + excluded.private_dirty_sum," \
  " private_dirty_max = max (private_dirty_max, excluded.private_dirty_max)"

/* ?1 process, ?2 since, ?3 until, ?4 resolution; WIDTH keeps the bucket
 * that straddles SINCE. */
#define TIER_QUERY(source, width) \
  "SELECT bucket - bucket % ?4 AS b, min (pss_min), sum (pss_sum) / sum (count), max (pss_max)," \
  " min (uss_min), sum (uss_sum) / sum (count), max (uss_max)," \
  " min (swap_min), sum (swap_sum) / sum (count), max (swap_max), sum (count)" \
  " FROM " source " WHERE process = ?1 AND bucket > ?2 - " width " AND bucket < ?3" \
  " GROUP BY b ORDER BY b"

#define RAW_AS_TIER \
  "(SELECT process, t AS bucket, 1 AS count, pss AS pss_min, pss AS pss_sum, pss AS pss_max," \
  " uss AS uss_min, uss AS uss_sum, uss AS uss_max," \
  " swap AS swap_min, swap AS swap_sum, swap AS swap_max FROM samples)"

typedef enum {
  STMT_BEGIN,
  STMT_COMMIT,
  STMT_ROLLBACK,
  STMT_UPSERT_PROCESS,
  STMT_INSERT_SAMPLE,
  STMT_UPSERT_MINUTE,
  STMT_UPSERT_HOUR,
  STMT_MARK_ENDED,
  STMT_FIND_PROCESS,
  STMT_QUERY_RAW,
  STMT_QUERY_MINUTES,
  STMT_QUERY_HOURS,
  STMT_LIST_ENDED,
  STMT_SERIES_RAW,
  STMT_SERIES_MINUTES,
  N_STMTS
} Stmt;

static const char *const stmt_sql[N_STMTS] = {
  [STMT_BEGIN] = "BEGIN IMMEDIATE",
  [STMT_COMMIT] = "COMMIT",
  [STMT_ROLLBACK] = "ROLLBACK",
  [STMT_UPSERT_PROCESS] =
    "INSERT INTO processes (boot_id, pid, start_time, uid, exe, cmdline, first_seen, last_seen)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)"
    " ON CONFLICT (boot_id, pid, start_time) DO UPDATE SET uid = excluded.uid,"
    " exe = excluded.exe, cmdline = excluded.cmdline, last_seen = excluded.last_seen"
    " RETURNING id",
  [STMT_INSERT_SAMPLE] = "INSERT OR IGNORE INTO samples VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
  [STMT_UPSERT_MINUTE] = TIER_UPSERT ("minutes"),
  [STMT_UPSERT_HOUR] = TIER_UPSERT ("hours"),
  [STMT_MARK_ENDED] =
    "UPDATE processes SET ended = ?2 WHERE boot_id = ?1 AND ended IS NULL AND last_seen < ?2",
  [STMT_FIND_PROCESS] = "SELECT id FROM processes WHERE boot_id = ?1 AND pid = ?2 AND start_time = ?3",
  [STMT_QUERY_RAW] = TIER_QUERY (RAW_AS_TIER, "1"),
  [STMT_QUERY_MINUTES] = TIER_QUERY ("minutes", "60000000"),
  [STMT_QUERY_HOURS] = TIER_QUERY ("hours", "3600000000"),
  [STMT_LIST_ENDED] =
    "SELECT boot_id, pid, start_time, uid, exe, cmdline, first_seen, last_seen, ended"
    " FROM processes WHERE ended >= ?1 ORDER BY ended",
  [STMT_SERIES_RAW] = "SELECT t, pss FROM samples WHERE process = ?1 AND t > ?2 AND t <= ?3 ORDER BY t",
  [STMT_SERIES_MINUTES] =
    "SELECT bucket + 30000000, pss_sum / count FROM minutes"
    " WHERE process = ?1 AND bucket > ?2 AND bucket <= ?3 ORDER BY bucket",
};

struct _PymemdHistory
{
  GObject       parent_instance;
  char         *path;
  sqlite3      *db;
  sqlite3_stmt *stmts[N_STMTS];
};

G_DEFINE_TYPE (PymemdHistory, pymemd_history, G_TYPE_OBJECT)

static void
pymemd_history_finalize (GObject *object)
{
  PymemdHistory *self = PYMEMD_HISTORY (object);

  for (guint i = 0; i < N_STMTS; i++)
    sqlite3_finalize (self->stmts[i]);
  sqlite3_close (self->db);
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
  sqlite3_busy_timeout (self->db, 5000);
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
ensure_schema (PymemdHistory *self, GError **error)
{
  gint64 version = 0;
  g_autofree char *create = NULL;

  if (!query_int (self, "PRAGMA user_version", &version, error))
    return FALSE;
  if (version == SCHEMA_VERSION)
    return TRUE;
  if (version != 0)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED,
                   _("%s: schema version %" G_GINT64_FORMAT " is not the %d this pymemd knows"),
                   self->path, version, SCHEMA_VERSION);
      return FALSE;
    }
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

PymemdHistory *
pymemd_history_open (const char *path, GError **error)
{
  g_autoptr(PymemdHistory) self = g_object_new (PYMEMD_TYPE_HISTORY, NULL);

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self->path = g_strdup (path);
  /* auto_vacuum only takes effect before the first table exists; on an
   * existing store it is a no-op. */
  if (!open_sound_file (self, error) || !exec_sql (self, "PRAGMA auto_vacuum = INCREMENTAL", error) ||
      !set_wal (self, error) || !exec_sql (self, "PRAGMA synchronous = NORMAL", error) ||
      !ensure_schema (self, error) || !prepare_stmts (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

const char *
pymemd_history_get_path (PymemdHistory *self)
{
  g_return_val_if_fail (PYMEMD_IS_HISTORY (self), NULL);
  return self->path;
}

static gboolean
step_done (PymemdHistory *self, Stmt stmt, GError **error)
{
  int rc = sqlite3_step (self->stmts[stmt]);

  sqlite3_reset (self->stmts[stmt]);
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

static gboolean
upsert_tier (PymemdHistory *self, Stmt stmt, gint64 id, gint64 bucket, const PymemdHistoryPoint *point,
             GError **error)
{
  sqlite3_stmt *s = self->stmts[stmt];

  sqlite3_bind_int64 (s, 1, id);
  sqlite3_bind_int64 (s, 2, bucket);
  sqlite3_bind_int64 (s, 3, (sqlite3_int64) point->pss);
  sqlite3_bind_int64 (s, 4, (sqlite3_int64) point->uss);
  sqlite3_bind_int64 (s, 5, (sqlite3_int64) point->swap);
  sqlite3_bind_int64 (s, 6, (sqlite3_int64) point->private_dirty);
  return step_done (self, stmt, error);
}

static gboolean
add_point (PymemdHistory *self, const char *boot_id, gint64 now, const PymemdHistoryPoint *point,
           GError **error)
{
  sqlite3_stmt *s = self->stmts[STMT_INSERT_SAMPLE];
  gboolean is_totals = point->pid == PYMEMD_HISTORY_TOTALS_PID;
  PymemdHistoryPoint totals;
  gint64 id = 0;

  if (is_totals)
    {
      totals = *point;
      totals.start_time = 0;
      point = &totals;
      boot_id = PYMEMD_HISTORY_TOTALS_BOOT_ID;
    }
  if (!upsert_process (self, boot_id, now, point, &id, error))
    return FALSE;

  sqlite3_bind_int64 (s, 1, id);
  sqlite3_bind_int64 (s, 2, now);
  sqlite3_bind_int64 (s, 3, (sqlite3_int64) point->rss);
  sqlite3_bind_int64 (s, 4, (sqlite3_int64) point->pss);
  sqlite3_bind_int64 (s, 5, (sqlite3_int64) point->uss);
  sqlite3_bind_int64 (s, 6, (sqlite3_int64) point->private_dirty);
  sqlite3_bind_int64 (s, 7, (sqlite3_int64) point->swap);
  if (!step_done (self, STMT_INSERT_SAMPLE, error))
    return FALSE;
  /* The same tick written twice must not count twice in the tiers. */
  if (sqlite3_changes (self->db) == 0)
    return TRUE;

  return upsert_tier (self, STMT_UPSERT_MINUTE, id, now - now % MINUTE_US, point, error) &&
         upsert_tier (self, STMT_UPSERT_HOUR, id, now - now % HOUR_US, point, error);
}

gboolean
pymemd_history_add_tick (PymemdHistory            *self,
                         const char               *boot_id,
                         gint64                    timestamp_us,
                         const PymemdHistoryPoint *points,
                         guint                     n,
                         GError                  **error)
{
  sqlite3_stmt *ended = self->stmts[STMT_MARK_ENDED];

  g_return_val_if_fail (PYMEMD_IS_HISTORY (self), FALSE);
  g_return_val_if_fail (boot_id != NULL, FALSE);
  g_return_val_if_fail (points != NULL || n == 0, FALSE);

  if (!run_stmt (self, STMT_BEGIN, error))
    return FALSE;
  for (guint i = 0; i < n; i++)
    if (!add_point (self, boot_id, timestamp_us, &points[i], error))
      goto fail;

  sqlite3_bind_text (ended, 1, boot_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (ended, 2, timestamp_us);
  if (!step_done (self, STMT_MARK_ENDED, error) || !run_stmt (self, STMT_COMMIT, error))
    goto fail;
  return TRUE;

fail:
  run_stmt (self, STMT_ROLLBACK, NULL);
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
  PymemdHistoryProcess *process = data;

  g_free (process->boot_id);
  g_free (process->exe);
  g_free (process->cmdline);
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
      PymemdHistoryProcess process = {
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

gboolean
pymemd_history_growth (PymemdHistory *self,
                       const char    *boot_id,
                       gint32         pid,
                       guint64        start_time,
                       gint64         window_us,
                       gint64         now_us,
                       double        *bytes_per_hour,
                       GError       **error)
{
  g_autoptr(GArray) series = g_array_new (FALSE, FALSE, sizeof (SeriesPoint));
  g_autoptr(GError) local_error = NULL;
  SeriesPoint picked[GROWTH_MAX_POINTS];
  guint n;
  gint64 id = 0;

  g_return_val_if_fail (PYMEMD_IS_HISTORY (self), FALSE);
  g_return_val_if_fail (boot_id != NULL, FALSE);
  g_return_val_if_fail (bytes_per_hour != NULL, FALSE);

  if (!find_process (self, boot_id, pid, start_time, &id, &local_error))
    {
      if (local_error == NULL)
        g_set_error (&local_error, PYMEMD_ERROR, PYMEMD_ERROR_NO_SUCH_PROCESS,
                     _("%s: no history of pid %d"), self->path, pid);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  /* Raw samples may already be gone for a long window: the minute tier's
   * averages then stand in. */
  if (!load_series (self, STMT_SERIES_RAW, id, now_us - window_us, now_us, series, error))
    return FALSE;
  if (series->len < 3 &&
      !load_series (self, STMT_SERIES_MINUTES, id, now_us - window_us, now_us, series, error))
    return FALSE;
  if (series->len < 3)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS,
                   _("%s: %u samples of pid %d in the window, a slope needs 3"), self->path, series->len, pid);
      return FALSE;
    }

  n = MIN (series->len, GROWTH_MAX_POINTS);
  for (guint i = 0; i < n; i++)
    picked[i] = g_array_index (series, SeriesPoint, (guint64) i * (series->len - 1) / (n - 1));
  *bytes_per_hour = theil_sen_slope (picked, n) * (double) HOUR_US;
  return TRUE;
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
trim_oldest (PymemdHistory *self, const char *table, const char *column, guint64 max_bytes,
             guint64 *bytes, GError **error)
{
  g_autofree char *sql = g_strdup_printf (
    "DELETE FROM %1$s WHERE %2$s <= (SELECT %2$s FROM %1$s ORDER BY %2$s"
    " LIMIT 1 OFFSET (SELECT count(*) / 8 FROM %1$s))", table, column);
  g_autofree char *count_sql = g_strdup_printf ("SELECT count(*) FROM %s", table);
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
  if (!delete_older (self, "samples", "t", now_us - raw_keep_us, error) ||
      !delete_older (self, "minutes", "bucket", now_us - minute_keep_us, error) ||
      !delete_older (self, "hours", "bucket", now_us - hour_keep_us, error) ||
      !run_stmt (self, STMT_COMMIT, error))
    {
      run_stmt (self, STMT_ROLLBACK, NULL);
      return FALSE;
    }

  if (!shrink_file (self, error) || !store_bytes (self, &bytes, error))
    return FALSE;
  if (max_bytes > 0 && bytes > max_bytes)
    {
      if (!trim_oldest (self, "samples", "t", max_bytes, &bytes, error) ||
          !trim_oldest (self, "minutes", "bucket", max_bytes, &bytes, error))
        return FALSE;
      /* Pages left half full by the deletions are only given back by a
       * full rebuild. */
      if (bytes > max_bytes && !exec_sql (self, "VACUUM", error))
        return FALSE;
    }

  return exec_sql (self,
                   "DELETE FROM processes WHERE id NOT IN (SELECT process FROM samples"
                   " UNION SELECT process FROM minutes UNION SELECT process FROM hours)",
                   error) &&
         shrink_file (self, error);
}
