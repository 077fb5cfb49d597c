/* The history store: raw samples and per-minute and per-hour tiers of every process and of the totals, in SQLite (WAL). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

#include "pymemd-error.h"
#include "pymemd-growth.h"
#include "pymemd-history.h"

#define SCHEMA_VERSION 1

#define SECOND_US G_GINT64_CONSTANT (1000000)
#define MINUTE_US (60 * SECOND_US)
#define HOUR_US (60 * MINUTE_US)

#define GROWTH_MAX_POINTS PYMEMD_GROWTH_MAX_POINTS

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
/* A query's rows, in the order its buckets are summed in (query_rows ()):
 * a tier's for the span, and the raw samples it does not hold yet. */
#define TIER_ROWS(source, width) \
  "SELECT bucket, count, pss_min, pss_sum, pss_max, uss_min, uss_sum, uss_max," \
  " swap_min, swap_sum, swap_max FROM " source \
  " WHERE process = ?1 AND bucket > ?2 - " width " AND bucket < ?3 ORDER BY bucket"

#define RAW_ROWS \
  "SELECT t, pss, uss, swap FROM samples WHERE process = ?1 AND t >= ?2 AND t < ?3 ORDER BY t"

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
  STMT_RAW_ROWS,
  STMT_MINUTE_ROWS,
  STMT_HOUR_ROWS,
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
  [STMT_RAW_ROWS] = RAW_ROWS,
  [STMT_MINUTE_ROWS] = TIER_ROWS ("minutes", "60000000"),
  [STMT_HOUR_ROWS] = TIER_ROWS ("hours", "3600000000"),
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
  char   *boot_id;
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
  gint64        page_size; /* what the file's header must say */
  PymemdHistoryDamage damage;
  PymemdHistory *underlay; /* older history queries also read */
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
  g_clear_object (&self->underlay);
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
known_free (gpointer data)
{
  Known *known = data;

  g_free (known->boot_id);
  g_free (known);
}

static void
pymemd_history_init (PymemdHistory *self)
{
  self->known = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, known_free);
}

/* The middle of [FROM, TO], whatever their signs. */
static gint64
halfway (gint64 from, gint64 to)
{
  return from + (gint64) (((guint64) to - (guint64) from) / 2);
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
is_damage (int rc)
{
  return (rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB;
}

/* Every failed statement comes here: one that found the file corrupt
 * marks the store damaged, whatever it was doing. */
static gboolean
history_error (PymemdHistory *self, int rc, const char *what, GError **error)
{
  if (is_damage (rc) && self->damage == PYMEMD_HISTORY_SOUND)
    self->damage = PYMEMD_HISTORY_CORRUPT;
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
    history_error (self, rc, sql, error);
  sqlite3_finalize (s);
  return rc == SQLITE_OK;
}

typedef enum {
  CHECK_SOUND,
  CHECK_CORRUPT,
  CHECK_FAILED,
} CheckResult;

/* The first 100 bytes of SELF's file, read through SQLite's own descriptor:
 * closing one of ours would drop the locks SQLite holds on it. SQLITE_OK,
 * SQLITE_IOERR_SHORT_READ for a shorter file, or another error; SQLITE_OK
 * with *READ FALSE when the file cannot be reached that way. */
static int
read_header (PymemdHistory *self, guint8 header[100], gboolean *read)
{
  sqlite3_file *file = NULL;

  *read = FALSE;
  if (sqlite3_file_control (self->db, "main", SQLITE_FCNTL_FILE_POINTER, &file) != SQLITE_OK || file == NULL ||
      file->pMethods == NULL)
    return SQLITE_OK;
  *read = TRUE;
  return file->pMethods->xRead (file, header, 100, 0);
}

static gboolean
unknown_schema (PymemdHistory *self, gint64 version, GError **error)
{
  g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED, _("%s: schema version %lld is not the %d this pymemd knows"),
               self->path, (long long) version, SCHEMA_VERSION);
  return FALSE;
}

/* DB's schema as text, its entries in order: SQLite keeps each CREATE
 * statement as it was written. */
static int
schema_text (sqlite3 *db, GString *text)
{
  sqlite3_stmt *s = NULL;
  int rc = sqlite3_prepare_v2 (db, "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name", -1,
                               &s, NULL);

  while (rc == SQLITE_OK && (rc = sqlite3_step (s)) == SQLITE_ROW)
    {
      for (int i = 0; i < 4; i++)
        {
          g_string_append_len (text, (const char *) sqlite3_column_text (s, i), sqlite3_column_bytes (s, i));
          g_string_append_c (text, '\x1f');
        }
      g_string_append_c (text, '\x1e');
      rc = SQLITE_OK;
    }
  sqlite3_finalize (s);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The schema text of a store this pymemd makes. */
static char *
expected_schema_text (void)
{
  g_autoptr(GString) text = g_string_new (NULL);
  sqlite3 *db = NULL;
  int rc = sqlite3_open_v2 (":memory:", &db, SQLITE_OPEN_READWRITE, NULL);

  if (rc == SQLITE_OK)
    rc = sqlite3_exec (db, schema_sql, NULL, NULL, NULL);
  if (rc == SQLITE_OK)
    rc = schema_text (db, text);
  sqlite3_close (db);
  return rc == SQLITE_OK ? g_string_free (g_steal_pointer (&text), FALSE) : NULL;
}

/* Whether what SQLite found readable is also a store pymemd can write and
 * understand:
 * - a header whose format bytes agree and allow writing (SQLite opens a
 *   higher write version read-only, and keeps a mismatched pair as it is,
 *   which pymemd_history_check_file () would then refuse at every tick);
 * - a schema version that is ours, with the schema this pymemd makes, or 0
 *   with no schema at all (a new file): a column renamed by a flipped bit
 *   passes SQLite's checks, and only this pymemd's statements would fail.
 * A later schema version, up to PYMEMD_HISTORY_PLAUSIBLE_SCHEMA_VERSION,
 * may be a newer pymemd's store: an error, before anything is written. */
static CheckResult
check_store (PymemdHistory *self, GError **error)
{
  g_autoptr(GString) schema = g_string_new (NULL);
  g_autofree char *expected = NULL;
  guint8 header[100];
  gboolean read = FALSE;
  gint64 version = 0;
  int rc = read_header (self, header, &read);

  if (rc == SQLITE_IOERR_SHORT_READ)
    return CHECK_SOUND; /* a new, empty file */
  if (rc != SQLITE_OK)
    {
      set_sqlite_error (self->path, NULL, rc, "reading the file's header", error);
      return CHECK_FAILED;
    }
  if (read && (header[18] != header[19] || header[18] < 1 || header[18] > 2))
    return CHECK_CORRUPT;
  /* The version and the schema from one snapshot of the file. */
  rc = sqlite3_exec (self->db, "BEGIN", NULL, NULL, NULL);
  if (rc == SQLITE_OK)
    {
      sqlite3_stmt *s = NULL;

      rc = sqlite3_prepare_v2 (self->db, "PRAGMA user_version", -1, &s, NULL);
      if (rc == SQLITE_OK && (rc = sqlite3_step (s)) == SQLITE_ROW)
        {
          version = sqlite3_column_int64 (s, 0);
          rc = SQLITE_OK;
        }
      sqlite3_finalize (s);
      if (rc == SQLITE_OK)
        rc = schema_text (self->db, schema);
      sqlite3_exec (self->db, "COMMIT", NULL, NULL, NULL);
    }
  if (is_damage (rc) || rc == SQLITE_ERROR)
    return CHECK_CORRUPT;
  if (rc != SQLITE_OK)
    {
      set_sqlite_error (self->path, self->db, rc, "checking the schema", error);
      return CHECK_FAILED;
    }
  if (version == 0 && schema->len == 0)
    return CHECK_SOUND;
  if (version > SCHEMA_VERSION && version <= PYMEMD_HISTORY_PLAUSIBLE_SCHEMA_VERSION)
    {
      unknown_schema (self, version, error);
      return CHECK_FAILED;
    }
  if (version != SCHEMA_VERSION)
    return CHECK_CORRUPT;
  expected = expected_schema_text ();
  if (expected == NULL)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED, _("%s: checking the schema: out of memory"), self->path);
      return CHECK_FAILED;
    }
  return g_strcmp0 (schema->str, expected) == 0 ? CHECK_SOUND : CHECK_CORRUPT;
}

/* Whether the file opened as DB is a database SQLite can trust. A file
 * whose schema SQLite cannot load (SQLITE_ERROR: an unsupported schema
 * format, say) is as unreadable as a corrupt one. */
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
  else if (is_damage (rc) || rc == SQLITE_ERROR || rc == SQLITE_FORMAT)
    result = CHECK_CORRUPT;
  else if (rc != SQLITE_DONE)
    {
      set_sqlite_error (self->path, self->db, rc, "checking the database", error);
      result = CHECK_FAILED;
    }
  sqlite3_finalize (s);
  if (result == CHECK_SOUND)
    result = check_store (self, error);
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

/* The database and its WAL go to PATH.corrupt-<unix time>[-N] (*ASIDE):
 * never overwritten, kept for whoever wants to know what happened. */
static gboolean
move_aside (const char *path, char **aside_out, GError **error)
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
  *aside_out = g_steal_pointer (&aside);
  return TRUE;
}

/* A store's file, its WAL and shared memory, gone. */
static void
remove_store_files (const char *path)
{
  g_autofree char *wal = g_strconcat (path, "-wal", NULL);
  g_autofree char *shm = g_strconcat (path, "-shm", NULL);

  g_unlink (path);
  g_unlink (wal);
  g_unlink (shm);
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

/* A connection that must not write its file again, closing included: a
 * checkpoint on close would write into a file kept aside, and then delete
 * the WAL and shared memory at the path it was opened with, which may be
 * a fresh store's by then. */
static void
retire_connection (sqlite3 *db)
{
  sqlite3_db_config (db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
  sqlite3_exec (db, "PRAGMA query_only = ON", NULL, NULL, NULL);
}

static PymemdHistory *history_open (const char *path, gboolean in_memory, GError **error);
static gboolean salvage_rows (PymemdHistory *into, sqlite3 *from, PymemdHistorySalvage *result, GError **error);

/* SELF's file is corrupt: what can still be read of it goes into a fresh
 * store built beside it, which then takes its place, and the corrupt file
 * and its WAL are kept aside. Until the fresh store is complete the path
 * stays as it was, so that a failure is tried again at the next open. */
static gboolean
replace_corrupt (PymemdHistory *self, GError **error)
{
  g_autofree char *fresh_path = g_strconcat (self->path, ".salvage", NULL);
  g_autofree char *fresh_wal = g_strconcat (fresh_path, "-wal", NULL);
  g_autofree char *wal = g_strconcat (self->path, "-wal", NULL);
  g_autofree char *aside = NULL;
  g_autoptr(PymemdHistory) fresh = NULL;
  PymemdHistorySalvage saved = { 0 };
  gboolean ok;

  retire_connection (self->db);
  /* Left by a run that stopped half way. */
  remove_store_files (fresh_path);
  fresh = history_open (fresh_path, FALSE, error);
  ok = fresh != NULL && salvage_rows (fresh, self->db, &saved, error);
  /* The last connection to it: its WAL goes into it. */
  g_clear_object (&fresh);
  close_file (self);
  if (!ok)
    {
      remove_store_files (fresh_path);
      return FALSE;
    }
  if (!move_aside (self->path, &aside, error))
    return FALSE;
  if (g_rename (fresh_path, self->path) != 0)
    {
      int errsv = errno;

      g_set_error (error, PYMEMD_ERROR, pymemd_error_from_errno (errsv), _("%s: putting the saved store in place: %s"),
                   fresh_path, g_strerror (errsv));
      return FALSE;
    }
  if (!rename_if_present (fresh_wal, wal, error))
    return FALSE;
  g_message ("%s: not a sound database, moved aside to %s; a fresh store holds what could be read of it: "
             "%llu rows saved, %u damaged stretches skipped",
             self->path, aside, (unsigned long long) saved.rows, saved.unreadable);
  return open_file (self, error);
}

/* Opens PATH; if it is not sound, it is replaced by a fresh store of what
 * can be read of it. */
static gboolean
open_sound_file (PymemdHistory *self, GError **error)
{
  CheckResult check;

  if (!open_file (self, error))
    return FALSE;
  check = check_database (self, error);
  if (check == CHECK_SOUND)
    return TRUE;
  if (check == CHECK_FAILED)
    {
      /* Nothing written, not even a checkpoint of a WAL found there. */
      retire_connection (self->db);
      close_file (self);
      return FALSE;
    }
  if (!replace_corrupt (self, error))
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
      !load_consolidated_until (self, error) || !query_int (self, "PRAGMA page_size", &self->page_size, error))
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

/* A reader's connection; IMMUTABLE: the file as it is, without locks or
 * WAL, which is how SQLite reads a WAL database on a read-only file system
 * (it cannot make the shared memory there). */
static gboolean
connect_reader (PymemdHistory *self, gboolean immutable, GError **error)
{
  g_autofree char *uri = NULL;
  int rc;

  if (immutable)
    {
      g_autofree char *file_uri = g_filename_to_uri (self->path, NULL, error);

      if (file_uri == NULL)
        return FALSE;
      uri = g_strconcat (file_uri, "?immutable=1", NULL);
    }
  /* NOMUTEX: a reader is one thread's at a time (pymemd_history_open_reader
   * ()), so SQLite need not lock the connection on every call: GetHistory
   * of a day at 1 min (1441 rows of 11 columns) cost the reader thread
   * 0.68 ms with the lock, 0.53-0.56 ms without. */
  rc = sqlite3_open_v2 (immutable ? uri : self->path, &self->db,
                        (immutable ? SQLITE_OPEN_READONLY | SQLITE_OPEN_URI : SQLITE_OPEN_READWRITE) |
                          SQLITE_OPEN_NOMUTEX,
                        NULL);
  if (rc != SQLITE_OK)
    return set_sqlite_error (self->path, self->db, rc, "opening", error);
  /* The writer checkpoints; a reader closing last must not (see
   * retire_connection ()). */
  sqlite3_db_config (self->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
  sqlite3_busy_timeout (self->db, HISTORY_BUSY_TIMEOUT_MS);
  sqlite3_extended_result_codes (self->db, 1);
  return TRUE;
}

PymemdHistory *
pymemd_history_open_reader (const char *path, GError **error)
{
  g_autoptr(PymemdHistory) self = g_object_new (PYMEMD_TYPE_HISTORY, NULL);
  g_autoptr(GError) local_error = NULL;
  gint64 version = 0;

  g_return_val_if_fail (path != NULL, NULL);

  /* The writer made, checked and switched the file to WAL: a reader only
   * checks that it knows the schema. */
  self->path = g_strdup (path);
  if (!connect_reader (self, FALSE, error))
    return NULL;
  if (!query_int (self, "PRAGMA user_version", &version, &local_error))
    {
      if (sqlite3_db_readonly (self->db, "main") != 1)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      close_file (self);
      if (!connect_reader (self, TRUE, error) || !query_int (self, "PRAGMA user_version", &version, error))
        return NULL;
    }
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

PymemdHistoryDamage
pymemd_history_get_damage (PymemdHistory *self)
{
  g_return_val_if_fail (PYMEMD_IS_HISTORY (self), PYMEMD_HISTORY_SOUND);
  return self->damage;
}

static gboolean
damaged_error (PymemdHistory *self, GError **error)
{
  if (self->damage == PYMEMD_HISTORY_MOVED)
    g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED, _("%s: deleted, renamed or replaced while in use"),
                 self->path);
  else
    g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED,
                 _("%s: the file no longer holds a sound database (overwritten, truncated or corrupt)"), self->path);
  return FALSE;
}

/* The header of a WAL-mode database of PAGE_SIZE pages, as far as it never
 * changes (https://www.sqlite.org/fileformat2.html#the_database_header). */
static gboolean
header_is_sound (const guint8 header[100], gint64 page_size)
{
  guint page = (guint) header[16] << 8 | header[17];

  return memcmp (header, "SQLite format 3", 16) == 0 && (page == 1 ? 65536 : page) == page_size &&
         header[18] == 2 && header[19] == 2 && header[21] == 64 && header[22] == 32 && header[23] == 32;
}

gboolean
pymemd_history_check_file (PymemdHistory *self, GError **error)
{
  guint8 header[100];
  gboolean read = FALSE;
  int moved = 0, rc;

  g_return_val_if_fail (PYMEMD_IS_HISTORY (self), FALSE);

  if (self->in_memory)
    return TRUE;
  if (self->damage != PYMEMD_HISTORY_SOUND)
    return damaged_error (self, error);
  /* SQLite's own test: a stat () of the path against the open file's inode. */
  if (sqlite3_file_control (self->db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) == SQLITE_OK && moved)
    {
      self->damage = PYMEMD_HISTORY_MOVED;
      return damaged_error (self, error);
    }
  rc = read_header (self, header, &read);
  if (!read)
    return TRUE;
  if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ)
    return history_error (self, rc, "reading the file's header", error);
  if (rc == SQLITE_IOERR_SHORT_READ || !header_is_sound (header, self->page_size))
    {
      self->damage = PYMEMD_HISTORY_CORRUPT;
      return damaged_error (self, error);
    }
  return TRUE;
}

void
pymemd_history_retire (PymemdHistory *self)
{
  g_return_if_fail (PYMEMD_IS_HISTORY (self));

  if (!self->in_memory)
    retire_connection (self->db);
}

/* Whether the WAL at WAL_PATH is SELF's (the same header: salts and
 * checksum differ for every WAL) or empty. */
static gboolean
wal_is_ours (PymemdHistory *self, const char *wal_path)
{
  sqlite3_file *wal = NULL;
  guint8 ours[32] = { 0 }, theirs[32] = { 0 };
  int fd = open (wal_path, O_RDONLY | O_CLOEXEC);
  ssize_t got;

  if (fd < 0)
    return TRUE;
  /* SQLite locks the shared memory and the database, never the WAL: a
   * descriptor of ours on it can be closed. */
  got = pread (fd, theirs, sizeof theirs, 0);
  close (fd);
  if (got == 0)
    return TRUE;
  if (got != sizeof theirs ||
      sqlite3_file_control (self->db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal) != SQLITE_OK || wal == NULL ||
      wal->pMethods == NULL || wal->pMethods->xRead (wal, ours, sizeof ours, 0) != SQLITE_OK)
    return FALSE;
  return memcmp (ours, theirs, sizeof ours) == 0;
}

gboolean
pymemd_history_set_aside (PymemdHistory *self, char **aside, GError **error)
{
  g_autofree char *wal = NULL;
  g_autofree char *shm = NULL;
  int moved = 0;

  g_return_val_if_fail (PYMEMD_IS_HISTORY (self), FALSE);
  g_return_val_if_fail (aside != NULL && *aside == NULL, FALSE);
  g_return_val_if_fail (!self->in_memory, FALSE);

  pymemd_history_retire (self);
  if (sqlite3_file_control (self->db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) == SQLITE_OK && !moved)
    return move_aside (self->path, aside, error);
  /* The path has another file, or none: what was left beside it of this
   * one would be taken for that file's WAL and shared memory. */
  wal = g_strconcat (self->path, "-wal", NULL);
  shm = g_strconcat (self->path, "-shm", NULL);
  if (wal_is_ours (self, wal))
    {
      g_unlink (wal);
      g_unlink (shm);
    }
  return TRUE;
}

void
pymemd_history_set_underlay (PymemdHistory *self, PymemdHistory *older)
{
  g_return_if_fail (PYMEMD_IS_HISTORY (self));
  g_return_if_fail (older == NULL || (PYMEMD_IS_HISTORY (older) && older != self && older->underlay == NULL));

  g_set_object (&self->underlay, older);
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
          known->boot_id = g_strdup (boot_id);
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

  if (!pymemd_history_check_file (self, error))
    return FALSE;
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

static gboolean
find_latest_own (PymemdHistory *self, const char *boot_id, gint32 pid, guint64 *start_time, GError **error)
{
  sqlite3_stmt *s = self->stmts[STMT_FIND_LATEST];
  int rc;

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

/* A text column as valid UTF-8, or NULL: whatever a damaged file holds,
 * what goes out on the bus is a string. */
static char *
column_utf8 (sqlite3_stmt *row, int column)
{
  if (sqlite3_column_type (row, column) == SQLITE_NULL)
    return NULL;
  return g_utf8_make_valid ((const char *) sqlite3_column_text (row, column), sqlite3_column_bytes (row, column));
}

static void
read_process (sqlite3_stmt *s, PymemdHistoryProcess *out)
{
  *out = (PymemdHistoryProcess) {
    .boot_id = sqlite3_column_type (s, 0) == SQLITE_TEXT ? column_utf8 (s, 0) : g_strdup (""),
    .pid = sqlite3_column_int (s, 1),
    .start_time = (guint64) sqlite3_column_int64 (s, 2),
    .uid = (guint32) sqlite3_column_int64 (s, 3),
    .exe = column_utf8 (s, 4),
    .cmdline = column_utf8 (s, 5),
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

gboolean
pymemd_history_find_latest (PymemdHistory *self,
                            const char    *boot_id,
                            gint32         pid,
                            guint64       *start_time,
                            GError       **error)
{
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (PYMEMD_IS_HISTORY (self), FALSE);
  g_return_val_if_fail (boot_id != NULL, FALSE);
  g_return_val_if_fail (start_time != NULL, FALSE);

  /* SELF's history is the newer. */
  if (find_latest_own (self, boot_id, pid, start_time, &local_error))
    return TRUE;
  if (self->underlay != NULL && g_error_matches (local_error, PYMEMD_ERROR, PYMEMD_ERROR_NO_SUCH_PROCESS) &&
      find_latest_own (self->underlay, boot_id, pid, start_time, NULL))
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
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

static gboolean
get_process_own (PymemdHistory        *self,
                 const char           *boot_id,
                 gint32                pid,
                 guint64               start_time,
                 PymemdHistoryProcess *out,
                 GError              **error)
{
  sqlite3_stmt *s;
  gint64 id = 0;
  int rc;

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

gboolean
pymemd_history_get_process (PymemdHistory        *self,
                            const char           *boot_id,
                            gint32                pid,
                            guint64               start_time,
                            PymemdHistoryProcess *out,
                            GError              **error)
{
  g_autoptr(GError) local_error = NULL;
  PymemdHistoryProcess older = { 0 };
  gboolean known;

  g_return_val_if_fail (PYMEMD_IS_HISTORY (self), FALSE);
  g_return_val_if_fail (boot_id != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  known = get_process_own (self, boot_id, pid, start_time, out, &local_error);
  if ((!known && !g_error_matches (local_error, PYMEMD_ERROR, PYMEMD_ERROR_NO_SUCH_PROCESS)) ||
      self->underlay == NULL || !get_process_own (self->underlay, boot_id, pid, start_time, &older, NULL))
    {
      if (!known)
        g_propagate_error (error, g_steal_pointer (&local_error));
      return known;
    }
  if (!known)
    {
      *out = older;
      return TRUE;
    }
  /* The newer record, over the whole time both saw it. */
  out->first_seen = MIN (out->first_seen, older.first_seen);
  out->last_seen = MAX (out->last_seen, older.last_seen);
  pymemd_history_process_clear (&older);
  return TRUE;
}

static Stmt
query_stmt (gint64 resolution_us)
{
  if (resolution_us < MINUTE_US)
    return STMT_RAW_ROWS;
  return resolution_us < HOUR_US ? STMT_MINUTE_ROWS : STMT_HOUR_ROWS;
}

/* The bucket being summed while a query's rows stream by, in the order of
 * their times: pss, uss and swap's least, sum and greatest, as SQLite's
 * min (), sum () and max () over integers would give them. */
typedef struct {
  gboolean open;
  gint64   b;
  gint64   count;
  gint64   min[3], sum[3], max[3];
} Bucket;

static void
bucket_close (Bucket *bucket, GArray *rows)
{
  PymemdHistoryRow row;
  gint64 count = MAX (bucket->count, 1);

  if (!bucket->open)
    return;
  row = (PymemdHistoryRow) {
    .t = bucket->b,
    .pss_min = (guint64) bucket->min[0],
    .pss_avg = (guint64) (bucket->sum[0] / count),
    .pss_max = (guint64) bucket->max[0],
    .uss_min = (guint64) bucket->min[1],
    .uss_avg = (guint64) (bucket->sum[1] / count),
    .uss_max = (guint64) bucket->max[1],
    .swap_min = (guint64) bucket->min[2],
    .swap_avg = (guint64) (bucket->sum[2] / count),
    .swap_max = (guint64) bucket->max[2],
    .count = (guint32) bucket->count,
  };
  g_array_append_val (rows, row);
  bucket->open = FALSE;
}

/* Adds one row at KEY (a tier's bucket, or a raw sample's time, never
 * less than the last one's) of COUNT samples; FALSE where a sum overflows,
 * which SQLite's sum () refuses too. */
static gboolean
bucket_add (Bucket *bucket, GArray *rows, gint64 key, gint64 resolution_us, gint64 count,
            const gint64 min[3], const gint64 sum[3], const gint64 max[3])
{
  gint64 b = key - key % resolution_us;

  if (bucket->open && b != bucket->b)
    bucket_close (bucket, rows);
  if (!bucket->open)
    {
      *bucket = (Bucket) { .open = TRUE, .b = b, .count = count };
      memcpy (bucket->min, min, sizeof bucket->min);
      memcpy (bucket->sum, sum, sizeof bucket->sum);
      memcpy (bucket->max, max, sizeof bucket->max);
      return TRUE;
    }
  if (__builtin_add_overflow (bucket->count, count, &bucket->count))
    return FALSE;
  for (guint i = 0; i < 3; i++)
    {
      bucket->min[i] = MIN (bucket->min[i], min[i]);
      bucket->max[i] = MAX (bucket->max[i], max[i]);
      if (__builtin_add_overflow (bucket->sum[i], sum[i], &bucket->sum[i]))
        return FALSE;
    }
  return TRUE;
}

static gboolean
add_tier_row (Bucket *bucket, GArray *rows, sqlite3_stmt *s, gint64 resolution_us)
{
  gint64 min[3], sum[3], max[3];

  for (guint i = 0; i < 3; i++)
    {
      min[i] = sqlite3_column_int64 (s, 2 + 3 * (int) i);
      sum[i] = sqlite3_column_int64 (s, 3 + 3 * (int) i);
      max[i] = sqlite3_column_int64 (s, 4 + 3 * (int) i);
    }
  return bucket_add (bucket, rows, sqlite3_column_int64 (s, 0), resolution_us,
                     sqlite3_column_int64 (s, 1), min, sum, max);
}

static gboolean
add_raw_row (Bucket *bucket, GArray *rows, sqlite3_stmt *s, gint64 resolution_us)
{
  gint64 v[3];

  for (guint i = 0; i < 3; i++)
    v[i] = sqlite3_column_int64 (s, 1 + (int) i);
  return bucket_add (bucket, rows, sqlite3_column_int64 (s, 0), resolution_us, 1, v, v, v);
}

/* Appends the buckets of process ID in [SINCE_US, UNTIL_US) to ROWS; on
 * failure, none. Each bucket (start time a multiple of the resolution)
 * sums the rows of the tier the resolution reads (raw samples, minutes,
 * hours) that begin in it, and the raw samples the tier does not hold
 * yet; both come ordered by time from their primary keys, and are summed
 * here as they come, without a sort. */
static gboolean
query_rows (PymemdHistory *self, gint64 id, gint64 since_us, gint64 until_us, gint64 resolution_us, GArray *rows,
            GError **error)
{
  Stmt stmt = query_stmt (resolution_us);
  sqlite3_stmt *tier = stmt != STMT_RAW_ROWS ? self->stmts[stmt] : NULL;
  sqlite3_stmt *raw = self->stmts[STMT_RAW_ROWS];
  gint64 resolution = MAX (resolution_us, 1);
  Bucket bucket = { FALSE, 0, 0, { 0 }, { 0 }, { 0 } };
  guint had = rows->len;
  gboolean summed = TRUE;
  int tier_rc = SQLITE_DONE, raw_rc;

  if (tier != NULL)
    {
      sqlite3_bind_int64 (tier, 1, id);
      sqlite3_bind_int64 (tier, 2, since_us);
      sqlite3_bind_int64 (tier, 3, until_us);
      tier_rc = sqlite3_step (tier);
    }
  sqlite3_bind_int64 (raw, 1, id);
  sqlite3_bind_int64 (raw, 2, tier != NULL ? MAX (self->consolidated_until, since_us) : since_us);
  sqlite3_bind_int64 (raw, 3, until_us);
  raw_rc = sqlite3_step (raw);
  while (summed && (tier_rc == SQLITE_ROW || raw_rc == SQLITE_ROW))
    {
      if (tier_rc == SQLITE_ROW &&
          (raw_rc != SQLITE_ROW || sqlite3_column_int64 (tier, 0) <= sqlite3_column_int64 (raw, 0)))
        {
          summed = add_tier_row (&bucket, rows, tier, resolution);
          tier_rc = sqlite3_step (tier);
        }
      else
        {
          summed = add_raw_row (&bucket, rows, raw, resolution);
          raw_rc = sqlite3_step (raw);
        }
    }
  bucket_close (&bucket, rows);
  if (tier != NULL)
    sqlite3_reset (tier);
  sqlite3_reset (raw);
  if (!summed)
    {
      g_array_set_size (rows, had);
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED, "History store %s: querying history: integer overflow",
                   self->path);
      return FALSE;
    }
  if (tier_rc != SQLITE_DONE || raw_rc != SQLITE_DONE)
    {
      g_array_set_size (rows, had);
      return history_error (self, tier_rc != SQLITE_DONE ? tier_rc : raw_rc, "querying history", error);
    }
  return TRUE;
}

static gint64
gcd (gint64 a, gint64 b)
{
  while (b != 0)
    {
      gint64 r = a % b;

      a = b;
      b = r;
    }
  return a;
}

/* The reads of one query around damage in an underlay. */
#define UNDERLAY_MAX_READS 256

/* What can be read of a damaged store's buckets in [SINCE_US, UNTIL_US):
 * a range that fails is halved, at bucket boundaries, and what reads is
 * kept. A boundary is a multiple of both the resolution and the tier's
 * own bucket, so that no bucket is answered by both halves. */
static void
query_readable (PymemdHistory *self, gint64 id, gint64 since_us, gint64 until_us, gint64 resolution_us,
                GArray *rows)
{
  g_autoptr(GArray) ranges = g_array_new (FALSE, FALSE, sizeof (gint64) * 2);
  gint64 tier = query_stmt (resolution_us) == STMT_RAW_ROWS ? 1 : resolution_us < HOUR_US ? MINUTE_US : HOUR_US;
  gint64 res = MAX (resolution_us, 1), unit = res / gcd (res, tier);
  gint64 range[2] = { since_us, until_us };
  guint reads = 0;

  unit = unit > G_MAXINT64 / tier ? G_MAXINT64 : unit * tier;
  g_array_append_val (ranges, range);
  while (ranges->len > 0 && reads++ < UNDERLAY_MAX_READS)
    {
      gint64 *r = &g_array_index (ranges, gint64, 2 * (ranges->len - 1));
      gint64 lo = r[0], hi = r[1], mid;

      g_array_set_size (ranges, ranges->len - 1);
      if (query_rows (self, id, lo, hi, resolution_us, rows, NULL))
        continue;
      mid = halfway (lo, hi);
      mid -= mid % unit;
      if (mid <= lo || mid >= hi)
        continue;
      /* The lower half on top: the rows come out in order. */
      range[0] = mid, range[1] = hi;
      g_array_append_val (ranges, range);
      range[0] = lo, range[1] = mid;
      g_array_append_val (ranges, range);
    }
}

/* OLDER's and NEWER's buckets (each in order) as one series: a bucket both
 * have is their union. */
static GArray *
merge_rows (GArray *older, GArray *newer)
{
  GArray *rows = g_array_sized_new (FALSE, FALSE, sizeof (PymemdHistoryRow), older->len + newer->len);
  guint i = 0, j = 0;

  while (i < older->len || j < newer->len)
    {
      PymemdHistoryRow *a = i < older->len ? &g_array_index (older, PymemdHistoryRow, i) : NULL;
      PymemdHistoryRow *b = j < newer->len ? &g_array_index (newer, PymemdHistoryRow, j) : NULL;
      PymemdHistoryRow row;

      if (b == NULL || (a != NULL && a->t < b->t))
        row = *a, i++;
      else if (a == NULL || b->t < a->t)
        row = *b, j++;
      else
        {
          guint64 n = (guint64) a->count + b->count;

#define AVG(field) (n == 0 ? 0 : (a->field * a->count + b->field * b->count) / n)
          row = (PymemdHistoryRow) {
            .t = a->t,
            .pss_min = MIN (a->pss_min, b->pss_min), .pss_avg = AVG (pss_avg), .pss_max = MAX (a->pss_max, b->pss_max),
            .uss_min = MIN (a->uss_min, b->uss_min), .uss_avg = AVG (uss_avg), .uss_max = MAX (a->uss_max, b->uss_max),
            .swap_min = MIN (a->swap_min, b->swap_min), .swap_avg = AVG (swap_avg),
            .swap_max = MAX (a->swap_max, b->swap_max),
            .count = (guint32) MIN (n, G_MAXUINT32),
          };
#undef AVG
          i++, j++;
        }
      g_array_append_val (rows, row);
    }
  return rows;
}

/* SELF's underlay, ready for reading: its tiers' end read again, for
 * another process (a locker, a reader) may have written it. */
static PymemdHistory *
readable_underlay (PymemdHistory *self)
{
  if (self->underlay != NULL && !load_consolidated_until (self->underlay, NULL))
    g_debug ("History underlay %s: the tiers' end cannot be read", self->underlay->path);
  return self->underlay;
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
  g_autoptr(GArray) older = NULL;
  g_autoptr(GError) local_error = NULL;
  PymemdHistory *underlay;
  gint64 id = 0;

  g_return_val_if_fail (PYMEMD_IS_HISTORY (self), NULL);
  g_return_val_if_fail (boot_id != NULL, NULL);

  if (find_process (self, boot_id, pid, start_time, &id, &local_error))
    {
      if (!query_rows (self, id, since_us, until_us, resolution_us, rows, error))
        return NULL;
    }
  else if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  underlay = readable_underlay (self);
  if (underlay == NULL || !find_process (underlay, boot_id, pid, start_time, &id, NULL))
    return g_steal_pointer (&rows);
  older = g_array_new (FALSE, FALSE, sizeof (PymemdHistoryRow));
  query_readable (underlay, id, since_us, until_us, resolution_us, older);
  return merge_rows (older, rows);
}

static void
history_process_clear (gpointer data)
{
  pymemd_history_process_clear (data);
}

static GArray *
list_ended_own (PymemdHistory *self, gint64 since_us, GError **error)
{
  g_autoptr(GArray) ended = g_array_new (FALSE, FALSE, sizeof (PymemdHistoryProcess));
  sqlite3_stmt *s;
  int rc;

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

static int
compare_ended (gconstpointer a, gconstpointer b)
{
  const PymemdHistoryProcess *x = a, *y = b;

  return (x->ended > y->ended) - (x->ended < y->ended);
}

GArray *
pymemd_history_list_ended (PymemdHistory *self, gint64 since_us, GError **error)
{
  g_autoptr(GArray) ended = NULL;
  g_autoptr(GArray) older = NULL;
  g_autoptr(GHashTable) listed = NULL;

  g_return_val_if_fail (PYMEMD_IS_HISTORY (self), NULL);

  ended = list_ended_own (self, since_us, error);
  if (ended == NULL || self->underlay == NULL || (older = list_ended_own (self->underlay, since_us, NULL)) == NULL)
    return g_steal_pointer (&ended);
  /* A process SELF lists too ended later than OLDER knew. */
  listed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < ended->len; i++)
    {
      const PymemdHistoryProcess *p = &g_array_index (ended, PymemdHistoryProcess, i);

      g_hash_table_add (listed, identity_key (p->boot_id, p->pid, p->start_time));
    }
  for (guint i = 0; i < older->len; i++)
    {
      PymemdHistoryProcess *p = &g_array_index (older, PymemdHistoryProcess, i);
      g_autofree char *key = identity_key (p->boot_id, p->pid, p->start_time);

      if (g_hash_table_contains (listed, key))
        continue;
      g_array_append_val (ended, *p);
      /* Moved, not copied. */
      *p = (PymemdHistoryProcess) { 0 };
    }
  g_array_sort (ended, compare_ended);
  return g_steal_pointer (&ended);
}

typedef PymemdGrowthPoint SeriesPoint;

/* Appends the points of process ID in (SINCE, UNTIL] to SERIES, oldest
 * first; on failure, those read before it. */
static gboolean
load_series (PymemdHistory *self, Stmt stmt, gint64 id, gint64 since, gint64 until, GArray *series,
             GError **error)
{
  sqlite3_stmt *s = self->stmts[stmt];
  int rc;

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

/* A process's ids in SELF (OWN_ID) and in its underlay (OLDER_ID), 0 where
 * it is unknown; a NO_SUCH_PROCESS error where it is in neither. */
static gboolean
lookup_layered (PymemdHistory *self, const char *boot_id, gint32 pid, guint64 start_time, gint64 *own_id,
                gint64 *older_id, GError **error)
{
  g_autoptr(GError) local_error = NULL;

  *own_id = *older_id = 0;
  if (!find_process (self, boot_id, pid, start_time, own_id, &local_error) && local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (self->underlay != NULL && !find_process (self->underlay, boot_id, pid, start_time, older_id, NULL))
    *older_id = 0;
  if (*own_id == 0 && *older_id == 0)
    return lookup (self, boot_id, pid, start_time, own_id, error);
  return TRUE;
}

/* The points in (SINCE, UNTIL] of a process with OWN_ID in SELF and
 * OLDER_ID in its underlay (0: none), oldest first: what can be read of the
 * underlay's, then SELF's. */
static gboolean
load_layered_series (PymemdHistory *self, Stmt stmt, gint64 own_id, gint64 older_id, gint64 since, gint64 until,
                     GArray *series, GError **error)
{
  g_array_set_size (series, 0);
  if (older_id != 0 && !load_series (self->underlay, stmt, older_id, since, until, series, NULL))
    g_debug ("History underlay %s: a series read in part", self->underlay->path);
  if (own_id == 0)
    return TRUE;
  if (series->len > 0)
    {
      g_autoptr(GArray) own = g_array_new (FALSE, FALSE, sizeof (SeriesPoint));

      if (!load_series (self, stmt, own_id, since, until, own, error))
        return FALSE;
      /* Both may have points of the time the store failed in. */
      g_array_append_vals (series, own->data, own->len);
      g_array_sort (series, compare_doubles);
      return TRUE;
    }
  return load_series (self, stmt, own_id, since, until, series, error);
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
  gint64 id = 0, older_id = 0;

  g_return_val_if_fail (PYMEMD_IS_HISTORY (self), FALSE);
  g_return_val_if_fail (boot_id != NULL, FALSE);
  g_return_val_if_fail (bytes_per_hour != NULL, FALSE);

  if (!lookup_layered (self, boot_id, pid, start_time, &id, &older_id, error))
    return FALSE;
  /* Raw samples may already be gone for most of a long window: the minute
   * tier's averages then stand in. */
  if (!load_layered_series (self, STMT_SERIES_RAW, id, older_id, now_us - window_us, now_us, series, error))
    return FALSE;
  if (series->len < 3 || g_array_index (series, SeriesPoint, 0).t > (double) (now_us - window_us / 2))
    {
      g_autoptr(GArray) minutes = g_array_new (FALSE, FALSE, sizeof (SeriesPoint));

      if (!load_layered_series (self, STMT_SERIES_MINUTES, id, older_id, now_us - window_us, now_us, minutes,
                                error))
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
  *bytes_per_hour = pymemd_growth_slope_per_hour (series);
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

/* One pass over STORE's samples of the window (or its minute rows), which
 * are clustered by time, rather than one per process: the points go to
 * SERIES under their process's id, or under the id IDS maps it to (the
 * ones IDS lacks are not wanted). */
static gboolean
collect_series (PymemdHistory *store, gint64 window_us, gint64 now_us, gboolean from_minutes, GHashTable *ids,
                GHashTable *series, GError **error)
{
  sqlite3_stmt *s = NULL;
  int rc = sqlite3_prepare_v2 (store->db,
                               from_minutes
                               ? "SELECT process, bucket + 30000000, pss_sum / count FROM minutes"
                                 " WHERE bucket > ?1 AND bucket <= ?2 ORDER BY bucket"
                               : "SELECT process, t, pss FROM samples WHERE t > ?1 AND t <= ?2 ORDER BY t",
                               -1, &s, NULL);

  if (rc != SQLITE_OK)
    return history_error (store, rc, "reading growth series", error);
  sqlite3_bind_int64 (s, 1, now_us - window_us);
  sqlite3_bind_int64 (s, 2, now_us);
  while ((rc = sqlite3_step (s)) == SQLITE_ROW)
    {
      gint64 id = sqlite3_column_int64 (s, 0);
      SeriesPoint point = { (double) sqlite3_column_int64 (s, 1), (double) sqlite3_column_int64 (s, 2) };
      /* The first point of each of GROWTH_MAX_POINTS slots of the window
       * is kept: what the slope reads, in a fraction of the memory. */
      gint64 slot = (gint64) ((point.t - (double) (now_us - window_us)) * GROWTH_MAX_POINTS / (double) window_us);
      Series *one;

      if (ids != NULL)
        {
          gint64 *mapped = g_hash_table_lookup (ids, &id);

          if (mapped == NULL)
            continue;
          id = *mapped;
        }
      one = g_hash_table_lookup (series, &id);
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
    return history_error (store, rc, "reading growth series", error);
  return TRUE;
}

/* The underlay's ids of the processes of SELF's last tick -> SELF's ids. */
static GHashTable *
underlay_ids (PymemdHistory *self)
{
  GHashTable *ids = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  GHashTableIter iter;
  Known *known;

  g_hash_table_iter_init (&iter, self->known);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &known))
    {
      gint64 older_id = 0;

      if (known->tick == self->tick &&
          find_process (self->underlay, known->boot_id, known->pid, known->start_time, &older_id, NULL))
        g_hash_table_insert (ids, g_memdup2 (&older_id, sizeof older_id), g_memdup2 (&known->id, sizeof known->id));
    }
  return ids;
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
  GHashTableIter iter;
  Known *known;

  g_return_val_if_fail (PYMEMD_IS_HISTORY (self), NULL);

  /* The underlay's points are the older: they come first. */
  if (self->underlay != NULL)
    {
      g_autoptr(GHashTable) ids = underlay_ids (self);

      if (!collect_series (self->underlay, window_us, now_us, from_minutes, ids, series, NULL))
        g_debug ("History underlay %s: growth series read in part", self->underlay->path);
    }
  if (!collect_series (self, window_us, now_us, from_minutes, NULL, series, error))
    return NULL;

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
      growth.bytes_per_hour = pymemd_growth_slope_per_hour (points);
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

/* Appends the summaries of process ID in [SINCE_US, UNTIL_US) to SUMMARIES;
 * on failure, those read before it. */
static gboolean
list_heap_rows (PymemdHistory *self, gint64 id, gint64 since_us, gint64 until_us, GPtrArray *summaries,
                GError **error)
{
  sqlite3_stmt *s = self->stmts[STMT_LIST_HEAP];
  int rc;

  sqlite3_bind_int64 (s, 1, id);
  sqlite3_bind_int64 (s, 2, since_us);
  sqlite3_bind_int64 (s, 3, until_us);
  while ((rc = sqlite3_step (s)) == SQLITE_ROW)
    {
      const char *text = (const char *) sqlite3_column_text (s, 1);
      gsize length = (gsize) sqlite3_column_bytes (s, 1);
      PymemdHistoryHeapSummary *summary;

      /* What a damaged file may hold instead; the text itself is parsed
       * as JSON by whoever reads it. */
      if (sqlite3_column_type (s, 1) != SQLITE_TEXT || text == NULL)
        continue;
      summary = g_malloc (sizeof *summary + length + 1);
      summary->t = sqlite3_column_int64 (s, 0);
      memcpy (summary->summary, text, length + 1);
      g_ptr_array_add (summaries, summary);
    }
  sqlite3_reset (s);
  if (rc != SQLITE_DONE)
    return history_error (self, rc, "reading heap summaries", error);
  return TRUE;
}

static int
compare_summaries (gconstpointer a, gconstpointer b)
{
  const PymemdHistoryHeapSummary *x = *(PymemdHistoryHeapSummary *const *) a;
  const PymemdHistoryHeapSummary *y = *(PymemdHistoryHeapSummary *const *) b;

  return (x->t > y->t) - (x->t < y->t);
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
  gint64 id = 0, older_id = 0;

  g_return_val_if_fail (PYMEMD_IS_HISTORY (self), NULL);

  if (!lookup_layered (self, boot_id, pid, start_time, &id, &older_id, error))
    return NULL;
  if (older_id != 0 && !list_heap_rows (self->underlay, older_id, since_us, until_us, summaries, NULL))
    g_debug ("History underlay %s: heap summaries read in part", self->underlay->path);
  if (id != 0 && !list_heap_rows (self, id, since_us, until_us, summaries, error))
    return NULL;
  if (older_id != 0 && id != 0)
    g_ptr_array_sort (summaries, compare_summaries);
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

/* ---- salvage: what can still be read of a damaged store ---- */

/* Reads of a table's key ranges around damage: each is one descent of
 * the tree. */
#define SALVAGE_MAX_READS 4096

typedef struct {
  PymemdHistory        *into;
  sqlite3              *from;
  GHashTable           *ids; /* gint64 process id in FROM -> gint64 in INTO */
  PymemdHistorySalvage *result;
} Salvage;

typedef struct SalvagedTable SalvagedTable;
typedef gboolean (*SalvageCopy) (Salvage *salvage, const SalvagedTable *table, sqlite3_stmt *row,
                                 sqlite3_stmt *insert, GError **error);

/* One table: SELECT reads it in key order in the range of keys ((?1, ?2),
 * (?3, ?4)] (a key of one column is (value, G_MAXINT64), its SELECT takes
 * ?1 and ?3); COLUMNS says what each column must be: 'i' an integer >= 0,
 * 'p' a process id known from the processes table, 't' valid UTF-8 text;
 * INSERT takes them in the same order. */
struct SalvagedTable {
  const char *select;
  const char *insert;
  const char *columns;
  gint64      unit[2]; /* the narrowest range of each key column worth splitting; 0: not that column */
  SalvageCopy copy;
};

static gboolean
salvage_insert (Salvage *salvage, sqlite3_stmt *insert, GError **error)
{
  int rc = sqlite3_step (insert);

  sqlite3_reset (insert);
  sqlite3_clear_bindings (insert);
  if (rc != SQLITE_DONE)
    return history_error (salvage->into, rc, "saving a damaged store", error);
  salvage->result->rows++;
  return TRUE;
}

static gboolean
salvage_drop (Salvage *salvage, sqlite3_stmt *insert)
{
  sqlite3_clear_bindings (insert);
  salvage->result->dropped++;
  return TRUE;
}

/* A row whose every column is as TABLE->columns says, its process id
 * translated. */
static gboolean
copy_checked (Salvage *salvage, const SalvagedTable *table, sqlite3_stmt *row, sqlite3_stmt *insert,
              GError **error)
{
  for (int i = 0; table->columns[i] != '\0'; i++)
    {
      gint64 value = sqlite3_column_int64 (row, i);
      gint64 *id;

      switch (table->columns[i])
        {
        case 'i':
          if (sqlite3_column_type (row, i) != SQLITE_INTEGER || value < 0)
            return salvage_drop (salvage, insert);
          sqlite3_bind_int64 (insert, i + 1, value);
          break;
        case 'p':
          if (sqlite3_column_type (row, i) != SQLITE_INTEGER ||
              (id = g_hash_table_lookup (salvage->ids, &value)) == NULL)
            return salvage_drop (salvage, insert);
          sqlite3_bind_int64 (insert, i + 1, *id);
          break;
        case 't':
          {
            const char *text = (const char *) sqlite3_column_text (row, i);

            if (sqlite3_column_type (row, i) != SQLITE_TEXT || text == NULL ||
                !g_utf8_validate (text, sqlite3_column_bytes (row, i), NULL))
              return salvage_drop (salvage, insert);
            /* Valid until ROW steps, after INSERT did. */
            sqlite3_bind_text (insert, i + 1, text, sqlite3_column_bytes (row, i), SQLITE_STATIC);
          }
          break;
        default:
          g_assert_not_reached ();
        }
    }
  return salvage_insert (salvage, insert, error);
}

/* Whether COLUMN of ROW is an integer in [MIN, MAX] (or NULL, if NULLABLE). */
static gboolean
integer_column (sqlite3_stmt *row, int column, gint64 min, gint64 max, gboolean nullable)
{
  gint64 value = sqlite3_column_int64 (row, column);

  if (sqlite3_column_type (row, column) == SQLITE_NULL)
    return nullable;
  return sqlite3_column_type (row, column) == SQLITE_INTEGER && value >= min && value <= max;
}

/* A process under its identity, which may be in INTO already: its id there
 * is what the rows of the other tables are translated to. */
static gboolean
copy_process (Salvage *salvage, const SalvagedTable *table, sqlite3_stmt *row, sqlite3_stmt *insert,
              GError **error)
{
  g_autofree char *exe = column_utf8 (row, 5);
  g_autofree char *cmdline = column_utf8 (row, 6);
  const char *boot_id = (const char *) sqlite3_column_text (row, 1);
  gint64 old_id = sqlite3_column_int64 (row, 0), new_id = 0;
  int rc;

  if (sqlite3_column_type (row, 1) != SQLITE_TEXT || boot_id == NULL ||
      !g_utf8_validate (boot_id, sqlite3_column_bytes (row, 1), NULL) ||
      !integer_column (row, 2, 0, G_MAXINT32, FALSE) || !integer_column (row, 3, 0, G_MAXINT64, FALSE) ||
      !integer_column (row, 4, 0, G_MAXUINT32, FALSE) || !integer_column (row, 7, 0, G_MAXINT64, FALSE) ||
      !integer_column (row, 8, 0, G_MAXINT64, FALSE) || !integer_column (row, 9, 0, G_MAXINT64, TRUE))
    return salvage_drop (salvage, insert);
  /* Parameter I is column I. */
  sqlite3_bind_text (insert, 1, boot_id, sqlite3_column_bytes (row, 1), SQLITE_STATIC);
  sqlite3_bind_text (insert, 5, exe, -1, SQLITE_STATIC);
  sqlite3_bind_text (insert, 6, cmdline, -1, SQLITE_STATIC);
  for (int i = 2; i < 10; i++)
    if (i != 5 && i != 6 && sqlite3_column_type (row, i) == SQLITE_INTEGER)
      sqlite3_bind_int64 (insert, i, sqlite3_column_int64 (row, i));
  rc = sqlite3_step (insert);
  if (rc == SQLITE_ROW)
    {
      new_id = sqlite3_column_int64 (insert, 0);
      rc = sqlite3_step (insert);
    }
  sqlite3_reset (insert);
  sqlite3_clear_bindings (insert);
  if (rc != SQLITE_DONE)
    return history_error (salvage->into, rc, "saving a damaged store", error);
  g_hash_table_insert (salvage->ids, g_memdup2 (&old_id, sizeof old_id), g_memdup2 (&new_id, sizeof new_id));
  salvage->result->rows++;
  return TRUE;
}

/* Processes first: the other tables' rows name them by id. */
static const SalvagedTable salvaged_tables[] = {
  { "SELECT id, " PROCESS_COLUMNS " FROM processes WHERE id > ?1 AND id <= ?3 ORDER BY id",
    "INSERT INTO processes (" PROCESS_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    " ON CONFLICT (boot_id, pid, start_time) DO UPDATE SET first_seen = min (first_seen, excluded.first_seen),"
    " last_seen = max (last_seen, excluded.last_seen) RETURNING id",
    NULL, { 1, 0 }, copy_process },
  { "SELECT t, process, rss, pss, uss, private_dirty, swap FROM samples"
    " WHERE (t, process) > (?1, ?2) AND (t, process) <= (?3, ?4) ORDER BY t, process",
    "INSERT OR IGNORE INTO samples (t, process, rss, pss, uss, private_dirty, swap)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    "ipiiiii", { SECOND_US, 0 }, copy_checked },
#define SALVAGED_TIER(tier, width)                                                                          \
  { "SELECT process, bucket, count, pss_min, pss_sum, pss_max, uss_min, uss_sum, uss_max, swap_min, swap_sum,"  \
    " swap_max FROM " tier " WHERE (process, bucket) > (?1, ?2) AND (process, bucket) <= (?3, ?4)"           \
    " ORDER BY process, bucket",                                                                              \
    "INSERT OR IGNORE INTO " tier " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",            \
    "piiiiiiiiiii", { 1, width }, copy_checked }
  SALVAGED_TIER ("minutes", MINUTE_US),
  SALVAGED_TIER ("hours", HOUR_US),
#undef SALVAGED_TIER
  { "SELECT process, t, summary FROM heap_summaries WHERE (process, t) > (?1, ?2) AND (process, t) <= (?3, ?4)"
    " ORDER BY process, t",
    "INSERT OR IGNORE INTO heap_summaries VALUES (?1, ?2, ?3)",
    "pit", { 1, SECOND_US }, copy_checked },
};

/* Keys from LO (excluded) to HI (included). */
typedef struct {
  gint64 lo[2], hi[2];
} KeyRange;

/* A range R read up to R->lo, where reading failed, is split in two at a
 * key past R->lo (R becomes the lower part, *UPPER the upper), so that
 * what can be read on either side of the damage is read: every row of a
 * first column's value before the next values, whole values of the first
 * column halved, within one value its second column halved. FALSE when R
 * is as narrow as TABLE's units: its rest is lost. */
static gboolean
split_range (const SalvagedTable *table, KeyRange *r, KeyRange *upper)
{
  gint64 a = r->lo[0], b = r->lo[1];

  *upper = *r;
  if (b == G_MAXINT64)
    {
      /* The values of the first column after A, to HI's. */
      if ((guint64) r->hi[0] - (guint64) a > (guint64) table->unit[0])
        {
          r->hi[0] = upper->lo[0] = halfway (a, r->hi[0]);
          r->hi[1] = upper->lo[1] = G_MAXINT64;
          return TRUE;
        }
      /* HI's value only, along the second column. */
      if (table->unit[1] == 0 || r->hi[0] != a + 1)
        return FALSE;
      a = r->hi[0];
      b = G_MININT64;
    }
  else if (a != r->hi[0])
    {
      /* The rest of A's rows first. */
      r->hi[0] = upper->lo[0] = a;
      r->hi[1] = upper->lo[1] = G_MAXINT64;
      return TRUE;
    }
  if (table->unit[1] == 0 || (guint64) r->hi[1] - (guint64) b <= (guint64) table->unit[1])
    return FALSE;
  r->lo[0] = a;
  r->lo[1] = b;
  r->hi[0] = upper->lo[0] = a;
  r->hi[1] = upper->lo[1] = halfway (b, upper->hi[1]);
  return TRUE;
}

/* Reads TABLE in key order and copies what is readable; a range that
 * fails is split around the damage. FALSE only when writing INTO failed. */
static gboolean
salvage_table (Salvage *salvage, const SalvagedTable *table, GError **error)
{
  g_autoptr(GArray) ranges = g_array_new (FALSE, FALSE, sizeof (KeyRange));
  KeyRange all = { { G_MININT64, G_MAXINT64 }, { G_MAXINT64, G_MAXINT64 } };
  sqlite3_stmt *row = NULL, *insert = NULL;
  gboolean two_columns, ok = TRUE;
  guint reads = 0;
  int rc = sqlite3_prepare_v2 (salvage->into->db, table->insert, -1, &insert, NULL);

  if (rc != SQLITE_OK)
    return history_error (salvage->into, rc, table->insert, error);
  rc = sqlite3_prepare_v2 (salvage->from, table->select, -1, &row, NULL);
  if (rc != SQLITE_OK)
    {
      /* Not even the schema can be read. */
      g_debug ("Salvage: %s: %s", table->select, sqlite3_errmsg (salvage->from));
      salvage->result->unreadable++;
      sqlite3_finalize (insert);
      return TRUE;
    }
  two_columns = sqlite3_bind_parameter_count (row) == 4;
  g_array_append_val (ranges, all);
  while (ok && ranges->len > 0)
    {
      KeyRange r = g_array_index (ranges, KeyRange, ranges->len - 1), upper;

      g_array_set_size (ranges, ranges->len - 1);
      if (++reads > SALVAGE_MAX_READS)
        {
          salvage->result->unreadable++;
          break;
        }
      /* A SELECT of a one-column key has no ?2 and ?4. */
      sqlite3_bind_int64 (row, 1, r.lo[0]);
      sqlite3_bind_int64 (row, 2, r.lo[1]);
      sqlite3_bind_int64 (row, 3, r.hi[0]);
      sqlite3_bind_int64 (row, 4, r.hi[1]);
      while (ok && (rc = sqlite3_step (row)) == SQLITE_ROW)
        {
          r.lo[0] = sqlite3_column_int64 (row, 0);
          r.lo[1] = two_columns ? sqlite3_column_int64 (row, 1) : G_MAXINT64;
          ok = table->copy (salvage, table, row, insert, error);
        }
      sqlite3_reset (row);
      if (!ok || rc == SQLITE_DONE)
        continue;
      g_debug ("Salvage: %s after (%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "): %s", table->select, r.lo[0],
               r.lo[1], sqlite3_errmsg (salvage->from));
      if (!split_range (table, &r, &upper))
        {
          salvage->result->unreadable++;
          continue;
        }
      g_array_append_val (ranges, upper);
      g_array_append_val (ranges, r);
    }
  sqlite3_finalize (row);
  sqlite3_finalize (insert);
  return ok;
}

/* Minute rows lost are made again from the raw samples left, hour rows
 * from the minutes; rows that were saved stay as they are. */
static const char salvage_fill_sql[] =
  "INSERT OR IGNORE INTO minutes SELECT process, t - t % 60000000 AS b, count (*),"
  " min (pss), sum (pss), max (pss), min (uss), sum (uss), max (uss), min (swap), sum (swap), max (swap)"
  " FROM samples WHERE t < (SELECT coalesce (max (bucket), 0) FROM minutes) GROUP BY b, process;"
  "INSERT OR IGNORE INTO hours SELECT process, bucket - bucket % 3600000000 AS b, sum (count),"
  " min (pss_min), sum (pss_sum), max (pss_max), min (uss_min), sum (uss_sum), max (uss_max),"
  " min (swap_min), sum (swap_sum), max (swap_max) FROM minutes GROUP BY b, process;";

static gboolean
salvage_rows (PymemdHistory *into, sqlite3 *from, PymemdHistorySalvage *result, GError **error)
{
  g_autoptr(GHashTable) ids = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  Salvage salvage = { into, from, ids, result };

  /* Damage seen as such rather than read as rows. */
  sqlite3_exec (from, "PRAGMA cell_size_check = ON", NULL, NULL, NULL);
  if (!run_stmt (into, STMT_BEGIN, error))
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (salvaged_tables); i++)
    if (!salvage_table (&salvage, &salvaged_tables[i], error))
      goto fail;
  /* The living of the damaged store are ended at their last sighting until
   * a tick sees them again, as after a restart. */
  if (!exec_sql (into, salvage_fill_sql, error) || !end_orphans (into, error) ||
      !run_stmt (into, STMT_COMMIT, error))
    goto fail;
  g_hash_table_remove_all (into->known);
  return load_consolidated_until (into, error);

fail:
  run_stmt (into, STMT_ROLLBACK, NULL);
  return FALSE;
}

gboolean
pymemd_history_salvage (PymemdHistory        *self,
                        PymemdHistory        *damaged,
                        PymemdHistorySalvage *result,
                        GError              **error)
{
  g_return_val_if_fail (PYMEMD_IS_HISTORY (self), FALSE);
  g_return_val_if_fail (PYMEMD_IS_HISTORY (damaged) && damaged != self, FALSE);
  g_return_val_if_fail (result != NULL, FALSE);

  *result = (PymemdHistorySalvage) { 0 };
  pymemd_history_retire (damaged);
  return salvage_rows (self, damaged->db, result, error);
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

/* Processes of the past that nothing refers to any more: the living stay,
 * their ids remembered for the next tick. */
static const char delete_orphans_sql[] =
  "DELETE FROM processes WHERE id NOT IN (SELECT process FROM samples"
  " UNION SELECT process FROM minutes UNION SELECT process FROM hours"
  " UNION SELECT process FROM heap_summaries) AND ended IS NOT NULL";

/* Deletes about an eighth of TABLE's rows, the oldest, at a time, and the
 * processes left with no rows at all (a short-lived process's own row,
 * with its command line, may weigh more than its figures), until the
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
      if (!exec_sql (self, sql, error) || !exec_sql (self, delete_orphans_sql, error) ||
          !shrink_file (self, error) || !store_bytes (self, bytes, error))
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
      /* The finest first; heap summaries and hours only where that was
       * not enough (processes that each lived a moment, many of them). */
      if (!trim_oldest (self, "samples", "t", self->consolidated_until, max_bytes, &bytes, error) ||
          !trim_oldest (self, "minutes", "bucket", G_MAXINT64, max_bytes, &bytes, error) ||
          !trim_oldest (self, "heap_summaries", "t", G_MAXINT64, max_bytes, &bytes, error) ||
          !trim_oldest (self, "hours", "bucket", G_MAXINT64, max_bytes, &bytes, error))
        return FALSE;
      /* Pages left half full by the deletions are only given back by a
       * full rebuild. */
      if (bytes > max_bytes && !exec_sql (self, "VACUUM", error))
        return FALSE;
    }

  return exec_sql (self, delete_orphans_sql, error) && shrink_file (self, error);
}
