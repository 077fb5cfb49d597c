/* Tests the history store on synthetic ticks: tiers, retention and size cap, identities, restarts, corrupt and unwritable files, growth slopes. */
#include "config.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "pymemd-error.h"
#include "pymemd-growth.h"
#include "pymemd-history.h"
#include "testutil.h"

#define SECOND_US G_GINT64_CONSTANT (1000000)
#define MINUTE_US (60 * SECOND_US)
#define HOUR_US (60 * MINUTE_US)
/* An hour boundary, so that buckets are easy to reason about. */
#define BASE_US (G_GINT64_CONSTANT (1699999200) * SECOND_US)

#define BOOT "3f1c0d2e-boot"

typedef struct {
  char          *dir;
  char          *path;
  PymemdHistory *history;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->dir = pymemd_test_mkdtemp ();
  f->path = g_build_filename (f->dir, "history.db", NULL);
  f->history = pymemd_history_open (f->path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->history);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->history);
  pymemd_test_rm_rf (f->dir);
  g_free (f->path);
  g_free (f->dir);
}

static PymemdHistoryPoint
point (gint32 pid, guint64 start_time, guint64 pss)
{
  PymemdHistoryPoint p = {
    .pid = pid, .start_time = start_time, .uid = 1000, .exe = "/usr/bin/python3",
    .cmdline = "python3 app.py", .rss = pss * 2, .pss = pss, .uss = pss / 2,
    .private_dirty = pss / 4, .swap = pss / 8,
  };
  return p;
}

static void
add_one (Fixture *f, gint64 t, gint32 pid, guint64 start_time, guint64 pss)
{
  g_autoptr(GError) error = NULL;
  PymemdHistoryPoint p = point (pid, start_time, pss);

  g_assert_true (pymemd_history_add_tick (f->history, BOOT, t, &p, 1, &error));
  g_assert_no_error (error);
}

static GArray *
query (Fixture *f, gint32 pid, guint64 start_time, gint64 since, gint64 until, gint64 resolution)
{
  g_autoptr(GError) error = NULL;
  GArray *rows = pymemd_history_query (f->history, BOOT, pid, start_time, since, until, resolution, &error);

  g_assert_no_error (error);
  g_assert_nonnull (rows);
  return rows;
}

#define ROW(rows, i) (&g_array_index ((rows), PymemdHistoryRow, (i)))

/* A sample every 10 s for two hours; pss of sample i is a known function. */
static guint64
synthetic_pss (guint i)
{
  return 1000000 + (guint64) (i % 13) * 1000 + (guint64) i * 10;
}

static void
write_synthetic (Fixture *f)
{
  for (guint i = 0; i < 720; i++)
    add_one (f, BASE_US + (gint64) i * 10 * SECOND_US, 42, 7, synthetic_pss (i));
}

/* min/avg/max of synthetic_pss over samples [first, first + n). */
static void
expect_bucket (const PymemdHistoryRow *row, guint first, guint n)
{
  guint64 min = G_MAXUINT64, max = 0, sum = 0, uss_sum = 0, swap_min = G_MAXUINT64;

  for (guint i = first; i < first + n; i++)
    {
      guint64 pss = synthetic_pss (i);
      min = MIN (min, pss);
      max = MAX (max, pss);
      sum += pss;
      uss_sum += pss / 2;
      swap_min = MIN (swap_min, pss / 8);
    }
  g_assert_cmpuint (row->count, ==, n);
  g_assert_cmpuint (row->pss_min, ==, min);
  g_assert_cmpuint (row->pss_max, ==, max);
  g_assert_cmpuint (row->pss_avg, ==, sum / n);
  g_assert_cmpuint (row->uss_avg, ==, uss_sum / n);
  g_assert_cmpuint (row->swap_min, ==, swap_min);
}

static void
test_tiers (Fixture *f, gconstpointer data)
{
  g_autoptr(GArray) minutes = NULL;
  g_autoptr(GArray) hours = NULL;

  write_synthetic (f);

  minutes = query (f, 42, 7, BASE_US, BASE_US + 2 * HOUR_US, MINUTE_US);
  g_assert_cmpuint (minutes->len, ==, 120);
  for (guint m = 0; m < 120; m++)
    {
      g_assert_cmpint (ROW (minutes, m)->t, ==, BASE_US + m * MINUTE_US);
      expect_bucket (ROW (minutes, m), m * 6, 6);
    }

  hours = query (f, 42, 7, BASE_US, BASE_US + 2 * HOUR_US, HOUR_US);
  g_assert_cmpuint (hours->len, ==, 2);
  expect_bucket (ROW (hours, 0), 0, 360);
  expect_bucket (ROW (hours, 1), 360, 360);
  g_assert_cmpint (ROW (hours, 1)->t, ==, BASE_US + HOUR_US);
}

/* What a query answered before it summed its buckets itself: SQLite's
 * GROUP BY over the tier's rows and the raw samples the tier does not
 * hold yet (?1 process, ?2 since, ?3 until, ?4 resolution, ?5 the end of
 * the minutes consolidated). */
#define REF_RAW_AS_TIER \
  "SELECT process, t AS bucket, 1 AS count, pss AS pss_min, pss AS pss_sum, pss AS pss_max," \
  " uss AS uss_min, uss AS uss_sum, uss AS uss_max," \
  " swap AS swap_min, swap AS swap_sum, swap AS swap_max FROM samples"
#define REF_TIER(source, width) \
  "SELECT bucket - bucket % ?4 AS b, min (pss_min), sum (pss_sum) / sum (count), max (pss_max)," \
  " min (uss_min), sum (uss_sum) / sum (count), max (uss_max)," \
  " min (swap_min), sum (swap_sum) / sum (count), max (swap_max), sum (count)" \
  " FROM (SELECT * FROM " source " WHERE process = ?1 AND bucket > ?2 - " width " AND bucket < ?3" \
  " UNION ALL " REF_RAW_AS_TIER " WHERE process = ?1 AND t >= max (?5, ?2) AND t < ?3)" \
  " GROUP BY b ORDER BY b"
#define REF_RAW \
  "SELECT t - t % ?4 AS b, min (pss), sum (pss) / count (*), max (pss), min (uss), sum (uss) / count (*)," \
  " max (uss), min (swap), sum (swap) / count (*), max (swap), count (*)" \
  " FROM samples WHERE process = ?1 AND t >= ?2 AND t < ?3 GROUP BY b ORDER BY b"

static GArray *
reference_query (sqlite3 *db, gint32 pid, guint64 start_time, gint64 since, gint64 until, gint64 resolution)
{
  GArray *rows = g_array_new (FALSE, FALSE, sizeof (PymemdHistoryRow));
  const char *sql = resolution < MINUTE_US ? REF_RAW :
                    resolution < HOUR_US ? REF_TIER ("minutes", "60000000") : REF_TIER ("hours", "3600000000");
  sqlite3_stmt *s = NULL;
  gint64 id = 0, last = -1;

  g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT id FROM processes WHERE pid = ?1 AND start_time = ?2", -1, &s,
                                       NULL), ==, SQLITE_OK);
  sqlite3_bind_int (s, 1, pid);
  sqlite3_bind_int64 (s, 2, (gint64) start_time);
  g_assert_cmpint (sqlite3_step (s), ==, SQLITE_ROW);
  id = sqlite3_column_int64 (s, 0);
  sqlite3_finalize (s);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT coalesce (max (bucket), -1) FROM minutes", -1, &s, NULL), ==,
                   SQLITE_OK);
  g_assert_cmpint (sqlite3_step (s), ==, SQLITE_ROW);
  last = sqlite3_column_int64 (s, 0);
  sqlite3_finalize (s);

  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &s, NULL), ==, SQLITE_OK);
  sqlite3_bind_int64 (s, 1, id);
  sqlite3_bind_int64 (s, 2, since);
  sqlite3_bind_int64 (s, 3, until);
  sqlite3_bind_int64 (s, 4, MAX (resolution, 1));
  if (resolution >= MINUTE_US)
    sqlite3_bind_int64 (s, 5, last < 0 ? 0 : last + MINUTE_US);
  while (sqlite3_step (s) == SQLITE_ROW)
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
  g_assert_cmpint (sqlite3_finalize (s), ==, SQLITE_OK);
  return rows;
}

/* A query sums its buckets as its rows stream by: every bucket, for
 * every tier, span and resolution (aligned to the tiers or not), is what
 * SQLite's GROUP BY over the same rows gives. Three processes, ticks
 * 1-3 s apart for three hours and a half, random figures; the store is
 * opened again so that both read the same consolidated minutes. */
static void
test_query_as_sql (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  const gint64 end = BASE_US + 3 * HOUR_US + 30 * MINUTE_US;
  const gint64 resolutions[] = {
    0, SECOND_US, 7 * SECOND_US, 20 * SECOND_US, MINUTE_US, 90 * SECOND_US, 25 * MINUTE_US,
    HOUR_US, 2 * HOUR_US, 3 * HOUR_US + 7 * SECOND_US,
  };
  const gint64 spans[][2] = {
    { BASE_US, end },
    { BASE_US - HOUR_US, end + HOUR_US },
    { BASE_US + 13 * MINUTE_US + 7 * SECOND_US, end - 11 * MINUTE_US - 3 * SECOND_US },
    { end - 5 * MINUTE_US, end },
    { BASE_US + 30 * SECOND_US, BASE_US + 31 * SECOND_US },
  };
  sqlite3 *db = NULL;
  guint compared = 0;

  for (gint64 t = BASE_US; t < end; t += g_test_rand_int_range (1, 4) * SECOND_US)
    {
      PymemdHistoryPoint p[3];

      for (guint i = 0; i < G_N_ELEMENTS (p); i++)
        p[i] = point (40 + (gint32) i, 7, (guint64) g_test_rand_int_range (1, 1 << 30) * 8);
      g_assert_true (pymemd_history_add_tick (f->history, BOOT, t, p, G_N_ELEMENTS (p), &error));
      g_assert_no_error (error);
    }
  g_clear_object (&f->history);
  f->history = pymemd_history_open (f->path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (sqlite3_open_v2 (f->path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);

  for (gint32 pid = 40; pid < 43; pid++)
    for (guint r = 0; r < G_N_ELEMENTS (resolutions); r++)
      for (guint sp = 0; sp < G_N_ELEMENTS (spans); sp++)
        {
          g_autoptr(GArray) got = query (f, pid, 7, spans[sp][0], spans[sp][1], resolutions[r]);
          g_autoptr(GArray) want = reference_query (db, pid, 7, spans[sp][0], spans[sp][1], resolutions[r]);

          g_assert_cmpuint (got->len, ==, want->len);
          for (guint i = 0; i < got->len; i++)
            {
              g_assert_cmpint (ROW (got, i)->t, ==, ROW (want, i)->t);
              g_assert_cmpuint (ROW (got, i)->count, ==, ROW (want, i)->count);
              g_assert_cmpuint (ROW (got, i)->pss_min, ==, ROW (want, i)->pss_min);
              g_assert_cmpuint (ROW (got, i)->pss_avg, ==, ROW (want, i)->pss_avg);
              g_assert_cmpuint (ROW (got, i)->pss_max, ==, ROW (want, i)->pss_max);
              g_assert_cmpuint (ROW (got, i)->uss_min, ==, ROW (want, i)->uss_min);
              g_assert_cmpuint (ROW (got, i)->uss_avg, ==, ROW (want, i)->uss_avg);
              g_assert_cmpuint (ROW (got, i)->uss_max, ==, ROW (want, i)->uss_max);
              g_assert_cmpuint (ROW (got, i)->swap_min, ==, ROW (want, i)->swap_min);
              g_assert_cmpuint (ROW (got, i)->swap_avg, ==, ROW (want, i)->swap_avg);
              g_assert_cmpuint (ROW (got, i)->swap_max, ==, ROW (want, i)->swap_max);
            }
          compared += got->len;
        }
  g_test_message ("%u buckets compared", compared);
  g_assert_cmpuint (compared, >, 1000);
  sqlite3_close (db);
}

/* A bucket whose sum would not fit in 64 bits (a damaged or forged
 * store) fails the query with an error, as SQLite's sum () did, and
 * changes nothing: its samples still answer one by one. */
static void
test_query_overflow (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) rows = NULL;
  g_autoptr(GArray) raw = NULL;

  add_one (f, BASE_US, 42, 7, G_MAXINT64);
  add_one (f, BASE_US + 2 * SECOND_US, 42, 7, G_MAXINT64);
  rows = pymemd_history_query (f->history, BOOT, 42, 7, BASE_US, BASE_US + MINUTE_US, 10 * SECOND_US, &error);
  g_assert_null (rows);
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "integer overflow"));

  raw = query (f, 42, 7, BASE_US, BASE_US + MINUTE_US, SECOND_US);
  g_assert_cmpuint (raw->len, ==, 2);
  g_assert_cmpuint (ROW (raw, 1)->pss_max, ==, (guint64) G_MAXINT64);
}

static void
test_query_tier (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gint64 until = BASE_US + 2 * HOUR_US;
  struct {
    gint64 resolution;
    guint  rows;
    guint  count;
  } cases[] = {
    { 0, 720, 1 },
    { SECOND_US, 720, 1 },
    { 20 * SECOND_US, 360, 2 },
    { MINUTE_US, 120, 6 },
    { 5 * MINUTE_US, 24, 30 },
    { HOUR_US, 2, 360 },
    { 2 * HOUR_US, 1, 720 },
  };

  write_synthetic (f);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GArray) rows = query (f, 42, 7, BASE_US, until, cases[i].resolution);

      g_assert_cmpuint (rows->len, ==, cases[i].rows);
      for (guint r = 0; r < rows->len; r++)
        g_assert_cmpuint (ROW (rows, r)->count, ==, cases[i].count);
    }

  /* With the raw samples gone, only the tiers answer: the resolution, not
   * what happens to be there, picks the tier. The samples of the last
   * minute stay until they are in the tiers. */
  g_assert_true (pymemd_history_enforce_retention (f->history, until, 1, 24 * HOUR_US, 24 * HOUR_US, 0,
                                                   &error));
  g_assert_no_error (error);
  {
    g_autoptr(GArray) raw = query (f, 42, 7, BASE_US, until, SECOND_US);
    g_autoptr(GArray) minutes = query (f, 42, 7, BASE_US, until, MINUTE_US);
    g_autoptr(GArray) hours = query (f, 42, 7, BASE_US, until, HOUR_US);

    g_assert_cmpuint (raw->len, ==, 6);
    g_assert_cmpint (ROW (raw, 0)->t, ==, until - MINUTE_US);
    g_assert_cmpuint (minutes->len, ==, 120);
    g_assert_cmpuint (hours->len, ==, 2);
  }
}

static void
test_retention_age (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gint64 now = BASE_US + 3 * HOUR_US;
  g_autoptr(GArray) raw = NULL;
  g_autoptr(GArray) minutes = NULL;
  g_autoptr(GArray) hours = NULL;

  for (gint64 t = BASE_US; t < now; t += 30 * SECOND_US)
    add_one (f, t, 42, 7, 1000);

  g_assert_true (pymemd_history_enforce_retention (f->history, now, 10 * MINUTE_US, HOUR_US, 2 * HOUR_US, 0,
                                                   &error));
  g_assert_no_error (error);

  raw = query (f, 42, 7, 0, now, SECOND_US);
  g_assert_cmpuint (raw->len, ==, 20);
  g_assert_cmpint (ROW (raw, 0)->t, ==, now - 10 * MINUTE_US);
  minutes = query (f, 42, 7, 0, now, MINUTE_US);
  g_assert_cmpuint (minutes->len, ==, 60);
  g_assert_cmpint (ROW (minutes, 0)->t, ==, now - HOUR_US);
  hours = query (f, 42, 7, 0, now, HOUR_US);
  g_assert_cmpuint (hours->len, ==, 2);
  g_assert_cmpint (ROW (hours, 0)->t, ==, now - 2 * HOUR_US);

  /* Once nothing of it is kept, the process itself goes. */
  add_one (f, now, 43, 1, 1000);
  g_assert_true (pymemd_history_enforce_retention (f->history, now + 100 * HOUR_US, HOUR_US, HOUR_US, HOUR_US, 0,
                                                   &error));
  g_assert_no_error (error);
  {
    g_autoptr(GArray) ended = pymemd_history_list_ended (f->history, 0, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (ended->len, ==, 0);
  }
}

static guint64
file_size (const char *path)
{
  struct stat st;

  if (g_stat (path, &st) != 0)
    return 0;
  return (guint64) st.st_size;
}

/* A store well over MAX_BYTES, file and WAL, fits in it after retention
 * at NOW (ages of a day for every tier: only size deletes). */
static void
assert_retention_fits (Fixture *f, gint64 now, guint64 max_bytes)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *wal = g_strconcat (f->path, "-wal", NULL);

  g_assert_cmpuint (file_size (f->path) + file_size (wal), >, 4 * max_bytes);
  g_assert_true (pymemd_history_enforce_retention (f->history, now, 24 * HOUR_US, 24 * HOUR_US, 24 * HOUR_US,
                                                   max_bytes, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (file_size (f->path) + file_size (wal), <=, max_bytes);
}

static void
test_size_cap (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  const guint64 max_bytes = 256 * 1024;
  const guint n_procs = 20, n_ticks = 1500;
  PymemdHistoryPoint points[20];
  gint64 last = BASE_US + (gint64) (n_ticks - 1) * 2 * SECOND_US;

  for (guint tick = 0; tick < n_ticks; tick++)
    {
      for (guint p = 0; p < n_procs; p++)
        points[p] = point (100 + (gint32) p, 5, 1000000 + tick * 4096 + p);
      g_assert_true (pymemd_history_add_tick (f->history, BOOT, BASE_US + (gint64) tick * 2 * SECOND_US, points,
                                              n_procs, &error));
      g_assert_no_error (error);
    }
  assert_retention_fits (f, last, max_bytes);

  for (guint p = 0; p < n_procs; p++)
    {
      g_autoptr(GArray) rows = query (f, 100 + (gint32) p, 5, BASE_US, last + 1, SECOND_US);

      /* The newest raw samples stay, the oldest went. */
      g_assert_cmpuint (rows->len, >, 0);
      g_assert_cmpuint (rows->len, <, n_ticks);
      g_assert_cmpint (ROW (rows, rows->len - 1)->t, ==, last);
      g_assert_cmpuint (ROW (rows, rows->len - 1)->pss_max, ==, 1000000 + (n_ticks - 1) * 4096 + p);
    }
}

/* Many processes that each live for one tick, each with a 4 KiB command
 * line (one user's churn): their own rows outweigh their figures, and the
 * cap still holds, the oldest going first, the newest still answered. */
static void
test_size_cap_churn (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *cmdline = g_strnfill (4096, 'x');
  g_autoptr(GArray) newest = NULL;
  g_autoptr(GArray) oldest = NULL;
  const guint64 max_bytes = 1024 * 1024;
  const guint n_ticks = 2400;
  gint64 last = BASE_US + (gint64) (n_ticks - 1) * 2 * SECOND_US;

  for (guint tick = 0; tick < n_ticks; tick++)
    {
      PymemdHistoryPoint p = point (10000 + (gint32) tick, 5, 1000000);

      p.cmdline = cmdline;
      g_assert_true (pymemd_history_add_tick (f->history, BOOT, BASE_US + (gint64) tick * 2 * SECOND_US, &p, 1,
                                              &error));
      g_assert_no_error (error);
    }
  assert_retention_fits (f, last, max_bytes);
  newest = query (f, 10000 + (gint32) n_ticks - 1, 5, BASE_US, last + 1, SECOND_US);
  g_assert_cmpuint (newest->len, ==, 1);
  oldest = query (f, 10000, 5, BASE_US, last + 1, SECOND_US);
  g_assert_cmpuint (oldest->len, ==, 0);
}

static void
test_pid_reuse (Fixture *f, gconstpointer data)
{
  g_autoptr(GArray) first = NULL;
  g_autoptr(GArray) second = NULL;

  add_one (f, BASE_US, 300, 1111, 5000);
  add_one (f, BASE_US + 2 * SECOND_US, 300, 1111, 5000);
  add_one (f, BASE_US + 4 * SECOND_US, 300, 2222, 9000);
  add_one (f, BASE_US + 6 * SECOND_US, 300, 2222, 9000);

  first = query (f, 300, 1111, BASE_US, BASE_US + HOUR_US, SECOND_US);
  second = query (f, 300, 2222, BASE_US, BASE_US + HOUR_US, SECOND_US);
  g_assert_cmpuint (first->len, ==, 2);
  g_assert_cmpuint (second->len, ==, 2);
  g_assert_cmpuint (ROW (first, 1)->pss_max, ==, 5000);
  g_assert_cmpuint (ROW (second, 0)->pss_min, ==, 9000);
  g_assert_cmpint (ROW (second, 0)->t, ==, BASE_US + 4 * SECOND_US);
}

static void
test_reopen (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) rows = NULL;

  add_one (f, BASE_US, 42, 7, 1000);
  add_one (f, BASE_US + 2 * SECOND_US, 42, 7, 2000);
  g_clear_object (&f->history);

  f->history = pymemd_history_open (f->path, &error);
  g_assert_no_error (error);
  add_one (f, BASE_US + 10 * SECOND_US, 42, 7, 3000);

  rows = query (f, 42, 7, BASE_US, BASE_US + MINUTE_US, SECOND_US);
  g_assert_cmpuint (rows->len, ==, 3);
  g_assert_cmpuint (ROW (rows, 0)->pss_avg, ==, 1000);
  g_assert_cmpuint (ROW (rows, 2)->pss_avg, ==, 3000);
}

static void
test_corrupt (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GArray) rows = NULL;
  g_autofree char *garbage = g_malloc (8192);
  g_autofree char *aside = NULL;
  const char *name;

  g_clear_object (&f->history);
  pymemd_test_rm_rf (f->dir);
  g_assert_cmpint (g_mkdir (f->dir, 0700), ==, 0);
  for (guint i = 0; i < 8192; i++)
    garbage[i] = (char) (i * 7 + 13);
  g_assert_true (g_file_set_contents (f->path, garbage, 8192, &error));
  g_assert_no_error (error);

  f->history = pymemd_history_open (f->path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->history);

  dir = g_dir_open (f->dir, 0, &error);
  g_assert_no_error (error);
  while ((name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (name, "history.db.corrupt-"))
      aside = g_build_filename (f->dir, name, NULL);
  g_assert_nonnull (aside);
  {
    g_autofree char *contents = NULL;
    gsize length = 0;

    g_assert_true (g_file_get_contents (aside, &contents, &length, &error));
    g_assert_no_error (error);
    g_assert_cmpmem (contents, length, garbage, 8192);
  }

  add_one (f, BASE_US, 42, 7, 1000);
  rows = query (f, 42, 7, BASE_US, BASE_US + 1, SECOND_US);
  g_assert_cmpuint (rows->len, ==, 1);
}

static void
test_unopenable (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *under_file = g_build_filename (f->path, "history.db", NULL);
  PymemdHistory *history = pymemd_history_open (under_file, &error);

  g_assert_null (history);
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, under_file));
}

static void
test_read_only (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *ro_dir = g_build_filename (f->dir, "ro", NULL);
  g_autofree char *fresh = g_build_filename (ro_dir, "history.db", NULL);
  PymemdHistory *history;

  if (pymemd_test_is_root ())
    {
      g_test_skip ("root ignores file permissions");
      return;
    }

  /* A new store in a read-only directory. */
  g_assert_cmpint (g_mkdir (ro_dir, 0500), ==, 0);
  history = pymemd_history_open (fresh, &error);
  g_assert_null (history);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, fresh));
  g_clear_error (&error);

  /* An existing store made read-only. */
  add_one (f, BASE_US, 42, 7, 1000);
  g_clear_object (&f->history);
  g_assert_cmpint (g_chmod (f->path, 0400), ==, 0);
  history = pymemd_history_open (f->path, &error);
  g_assert_null (history);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, f->path));
  g_chmod (ro_dir, 0700);
}

static double
growth (Fixture *f, gint64 window, gint64 now)
{
  g_autoptr(GError) error = NULL;
  double rate = 0;

  g_assert_true (pymemd_history_growth (f->history, BOOT, 42, 7, window, now, &rate, NULL, &error));
  g_assert_no_error (error);
  return rate;
}

static void
test_growth_linear (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gint64 now = BASE_US + HOUR_US;
  double rate;

  /* 1000 bytes a second over an hour of 2-second ticks. */
  for (gint64 t = BASE_US + 2 * SECOND_US; t <= now; t += 2 * SECOND_US)
    add_one (f, t, 42, 7, 50000000 + (guint64) ((t - BASE_US) / SECOND_US) * 1000);
  rate = growth (f, HOUR_US, now);
  g_assert_cmpfloat_with_epsilon (rate, 3600000, 36000);

  /* Too few samples in a short window is an error, not a guess. */
  g_assert_false (pymemd_history_growth (f->history, BOOT, 42, 7, 3 * SECOND_US, now, &rate, NULL, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS);
}

static void
test_growth_outliers (Fixture *f, gconstpointer data)
{
  gint64 now = BASE_US + HOUR_US;
  guint i = 0;

  /* The same growth, with a few huge spikes and drops. */
  for (gint64 t = BASE_US + 2 * SECOND_US; t <= now; t += 2 * SECOND_US, i++)
    {
      guint64 pss = 50000000 + (guint64) ((t - BASE_US) / SECOND_US) * 1000;

      if (i % 90 == 45)
        pss += 2000000000;
      else if (i % 90 == 0)
        pss -= 40000000;
      add_one (f, t, 42, 7, pss);
    }
  g_assert_cmpfloat_with_epsilon (growth (f, HOUR_US, now), 3600000, 180000);
}

static void
test_ended (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) ended = NULL;
  g_autoptr(GArray) totals = NULL;
  PymemdHistoryPoint both[] = { point (0, 0, 9000), point (1, 10, 100), point (2, 20, 200) };

  g_assert_true (pymemd_history_add_tick (f->history, BOOT, BASE_US, both, 3, &error));
  g_assert_no_error (error);
  g_assert_true (pymemd_history_add_tick (f->history, BOOT, BASE_US + SECOND_US, both, 2, &error));
  g_assert_no_error (error);
  /* Ended once: a later tick without it keeps the first end time. */
  g_assert_true (pymemd_history_add_tick (f->history, BOOT, BASE_US + 2 * SECOND_US, both, 2, &error));
  g_assert_no_error (error);

  ended = pymemd_history_list_ended (f->history, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ended->len, ==, 1);
  {
    PymemdHistoryProcess *p = &g_array_index (ended, PymemdHistoryProcess, 0);

    g_assert_cmpstr (p->boot_id, ==, BOOT);
    g_assert_cmpint (p->pid, ==, 2);
    g_assert_cmpuint (p->start_time, ==, 20);
    g_assert_cmpuint (p->uid, ==, 1000);
    g_assert_cmpstr (p->exe, ==, "/usr/bin/python3");
    g_assert_cmpstr (p->cmdline, ==, "python3 app.py");
    g_assert_cmpint (p->first_seen, ==, BASE_US);
    g_assert_cmpint (p->last_seen, ==, BASE_US);
    g_assert_cmpint (p->ended, ==, BASE_US + SECOND_US);
  }
  g_clear_pointer (&ended, g_array_unref);
  ended = pymemd_history_list_ended (f->history, BASE_US + 2 * SECOND_US, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ended->len, ==, 0);

  /* The totals live under their own identity, whatever the boot. */
  totals = pymemd_history_query (f->history, PYMEMD_HISTORY_TOTALS_BOOT_ID, PYMEMD_HISTORY_TOTALS_PID, 0,
                                 BASE_US, BASE_US + MINUTE_US, SECOND_US, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (totals->len, ==, 3);
  g_assert_cmpuint (ROW (totals, 0)->pss_avg, ==, 9000);
}


/* A store closed in the middle of a minute (a restart, or kill -9 after a
 * commit) consolidates that minute once it is open again. */
static void
test_consolidate_after_reopen (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) minutes = NULL;

  for (guint i = 0; i < 3; i++)
    add_one (f, BASE_US + i * 10 * SECOND_US, 42, 7, 1000 + i);
  g_clear_object (&f->history);
  f->history = pymemd_history_open (f->path, &error);
  g_assert_no_error (error);
  for (guint i = 3; i < 6; i++)
    add_one (f, BASE_US + i * 10 * SECOND_US, 42, 7, 1000 + i);
  add_one (f, BASE_US + MINUTE_US, 42, 7, 5000);
  add_one (f, BASE_US + 2 * MINUTE_US, 42, 7, 5000);

  /* Both minutes are rows of the tier now: the raw samples can go. */
  g_assert_true (pymemd_history_enforce_retention (f->history, BASE_US + 3 * HOUR_US, 1, 24 * HOUR_US,
                                                   24 * HOUR_US, 0, &error));
  g_assert_no_error (error);
  minutes = query (f, 42, 7, BASE_US, BASE_US + 2 * MINUTE_US, MINUTE_US);
  g_assert_cmpuint (minutes->len, ==, 2);
  g_assert_cmpuint (ROW (minutes, 0)->count, ==, 6);
  g_assert_cmpuint (ROW (minutes, 0)->pss_min, ==, 1000);
  g_assert_cmpuint (ROW (minutes, 0)->pss_max, ==, 1005);
  g_assert_cmpuint (ROW (minutes, 1)->count, ==, 1);
}

static void
test_latest_and_record (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  PymemdHistoryProcess record = { 0 };
  PymemdHistoryPoint first = point (300, 1111, 5000), second = point (300, 2222, 9000);
  guint64 start_time = 0;

  g_assert_true (pymemd_history_add_tick (f->history, BOOT, BASE_US, &first, 1, &error));
  g_assert_true (pymemd_history_add_tick (f->history, BOOT, BASE_US + SECOND_US, &second, 1, &error));
  g_assert_no_error (error);
  /* The living one of a reused pid. */
  g_assert_true (pymemd_history_find_latest (f->history, BOOT, 300, &start_time, &error));
  g_assert_cmpuint (start_time, ==, 2222);
  g_assert_false (pymemd_history_find_latest (f->history, BOOT, 301, &start_time, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_NO_SUCH_PROCESS);
  g_clear_error (&error);
  g_assert_false (pymemd_history_find_latest (f->history, "another-boot", 300, &start_time, &error));
  g_clear_error (&error);

  g_assert_true (pymemd_history_get_process (f->history, BOOT, 300, 1111, &record, &error));
  g_assert_no_error (error);
  g_assert_cmpint (record.ended, ==, BASE_US + SECOND_US);
  g_assert_cmpstr (record.cmdline, ==, "python3 app.py");
  pymemd_history_process_clear (&record);
  g_assert_false (pymemd_history_get_process (f->history, BOOT, 300, 3333, &record, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_NO_SUCH_PROCESS);
}

static void
test_growth_all (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) all = NULL;
  gint64 now = BASE_US + HOUR_US;

  /* 42 grows 1000 bytes a second all hour, 43 is flat, 44 started 5
   * minutes ago (its start-up is not a leak), 45 ended. */
  for (gint64 t = BASE_US + 2 * SECOND_US; t <= now; t += 2 * SECOND_US)
    {
      guint64 seconds = (guint64) ((t - BASE_US) / SECOND_US);
      PymemdHistoryPoint p[4];
      guint n = 0;

      p[n++] = point (42, 7, 50000000 + seconds * 1000);
      p[n++] = point (43, 7, 50000000);
      if (t > now - 5 * MINUTE_US)
        p[n++] = point (44, 7, 1000000 + seconds * 100000);
      if (t < BASE_US + 10 * MINUTE_US)
        p[n++] = point (45, 7, 1);
      g_assert_true (pymemd_history_add_tick (f->history, BOOT, t, p, n, &error));
      g_assert_no_error (error);
    }
  all = pymemd_history_growth_all (f->history, 30 * MINUTE_US, now, FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (all->len, ==, 2);
  for (guint i = 0; i < all->len; i++)
    {
      PymemdHistoryGrowth *g = &g_array_index (all, PymemdHistoryGrowth, i);

      g_assert_cmpuint (g->start_time, ==, 7);
      g_assert_cmpuint (g->samples, ==, 900);
      if (g->pid == 42)
        g_assert_cmpfloat_with_epsilon (g->bytes_per_hour, 3600000, 36000);
      else
        {
          g_assert_cmpint (g->pid, ==, 43);
          g_assert_cmpfloat (g->bytes_per_hour, ==, 0);
        }
    }
  /* From the minute tier, the same slope. */
  g_clear_pointer (&all, g_array_unref);
  all = pymemd_history_growth_all (f->history, 30 * MINUTE_US, now, TRUE, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (all->len, ==, 2);
  for (guint i = 0; i < all->len; i++)
    if (g_array_index (all, PymemdHistoryGrowth, i).pid == 42)
      g_assert_cmpfloat_with_epsilon (g_array_index (all, PymemdHistoryGrowth, i).bytes_per_hour, 3600000, 36000);
}

static void
test_heap_summaries (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) summaries = NULL;

  add_one (f, BASE_US, 42, 7, 1000);
  g_assert_true (pymemd_history_add_heap_summary (f->history, BOOT, 42, 7, BASE_US, "{\"objects\":1}", &error));
  g_assert_true (pymemd_history_add_heap_summary (f->history, BOOT, 42, 7, BASE_US + HOUR_US, "{\"objects\":2}",
                                                  &error));
  g_assert_no_error (error);
  g_assert_false (pymemd_history_add_heap_summary (f->history, BOOT, 43, 7, BASE_US, "{}", &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_NO_SUCH_PROCESS);
  g_clear_error (&error);

  summaries = pymemd_history_list_heap_summaries (f->history, BOOT, 42, 7, 0, G_MAXINT64, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (summaries->len, ==, 2);
  g_assert_cmpint (((PymemdHistoryHeapSummary *) summaries->pdata[1])->t, ==, BASE_US + HOUR_US);
  g_assert_cmpstr (((PymemdHistoryHeapSummary *) summaries->pdata[1])->summary, ==, "{\"objects\":2}");

  /* They go with the hour tier's retention. */
  g_assert_true (pymemd_history_enforce_retention (f->history, BASE_US + 2 * HOUR_US, HOUR_US, HOUR_US,
                                                   90 * MINUTE_US, 0, &error));
  g_assert_no_error (error);
  g_clear_pointer (&summaries, g_ptr_array_unref);
  summaries = pymemd_history_list_heap_summaries (f->history, BOOT, 42, 7, 0, G_MAXINT64, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (summaries->len, ==, 1);
}

/* History kept in memory while the file could not be written goes into
 * the file: samples, tiers added up, processes by identity. */
static void
test_memory_merge (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdHistory) memory = pymemd_history_open_in_memory ("test", &error);
  g_autoptr(GArray) raw = NULL;
  g_autoptr(GArray) minutes = NULL;

  g_assert_no_error (error);
  g_assert_true (pymemd_history_is_in_memory (memory));
  g_assert_false (pymemd_history_is_in_memory (f->history));
  /* The first half of a minute in the file, the rest and the next minute in memory. */
  for (guint i = 0; i < 3; i++)
    add_one (f, BASE_US + i * 10 * SECOND_US, 42, 7, 1000 + i);
  g_clear_object (&f->history);
  for (guint i = 3; i < 9; i++)
    {
      PymemdHistoryPoint p = point (42, 7, 1000 + i);

      g_assert_true (pymemd_history_add_tick (memory, BOOT, BASE_US + i * 10 * SECOND_US, &p, 1, &error));
      g_assert_no_error (error);
    }
  g_assert_cmpuint (pymemd_history_get_bytes (memory), >, 0);
  g_assert_true (pymemd_history_merge_into (memory, f->path, &error));
  g_assert_no_error (error);
  /* Merging again changes nothing: samples are not doubled. */
  f->history = pymemd_history_open (f->path, &error);
  g_assert_no_error (error);
  raw = query (f, 42, 7, BASE_US, BASE_US + HOUR_US, SECOND_US);
  g_assert_cmpuint (raw->len, ==, 9);
  minutes = query (f, 42, 7, BASE_US, BASE_US + HOUR_US, MINUTE_US);
  g_assert_cmpuint (minutes->len, ==, 2);
  g_assert_cmpuint (ROW (minutes, 0)->count, ==, 6);
  g_assert_cmpuint (ROW (minutes, 0)->pss_min, ==, 1000);
  g_assert_cmpuint (ROW (minutes, 0)->pss_max, ==, 1005);
  g_assert_cmpuint (ROW (minutes, 1)->count, ==, 3);

  /* A file that is not a store is refused, not overwritten. */
  {
    g_autofree char *junk = g_build_filename (f->dir, "junk", NULL);

    g_assert_true (g_file_set_contents (junk, "not a database, not at all, no", -1, NULL));
    g_assert_false (pymemd_history_merge_into (memory, junk, &error));
    g_assert_nonnull (error);
  }
}

/* ---- a store damaged while open, or found damaged at start ---- */

/* Writes LENGTH random bytes at OFFSET of PATH from another process, as
 * another program would: a descriptor of this process on the file, once
 * closed, would drop SQLite's locks. Returns the bytes. */
static void
overwrite_with (const char *path, goffset offset, const guint8 *bytes, gsize length)
{
  int status = 0;
  pid_t pid = fork ();

  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      int fd = open (path, O_WRONLY);

      _exit (fd >= 0 && pwrite (fd, bytes, length, offset) == (ssize_t) length ? 0 : 1);
    }
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
}

static GBytes *
overwrite (const char *path, goffset offset, gsize length)
{
  guint8 *garbage = g_malloc (length);
  int status = 0;
  pid_t pid;

  for (gsize i = 0; i < length; i++)
    garbage[i] = (guint8) g_random_int_range (0, 256);
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      int fd = open (path, O_WRONLY);
      gboolean written = fd >= 0 && pwrite (fd, garbage, length, offset) == (ssize_t) length;

      /* Under valgrind the child's leaks are counted too. */
      g_free (garbage);
      _exit (written ? 0 : 1);
    }
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  return g_bytes_new_take (garbage, length);
}

/* A sample every 10 s for an hour of pid 42 and of the totals, ten
 * processes of an earlier run among them for size. */
static void
write_hour (Fixture *f)
{
  for (guint i = 0; i < 360; i++)
    {
      g_autoptr(GError) error = NULL;
      PymemdHistoryPoint points[12];

      points[0] = point (42, 7, synthetic_pss (i));
      points[1] = point (0, 0, 10 * synthetic_pss (i));
      for (guint p = 2; p < G_N_ELEMENTS (points); p++)
        points[p] = point (1000 + (gint32) p, 3, synthetic_pss (i) + p);
      g_assert_true (pymemd_history_add_tick (f->history, BOOT, BASE_US + (gint64) i * 10 * SECOND_US, points,
                                              G_N_ELEMENTS (points), &error));
      g_assert_no_error (error);
    }
}

static guint
samples_in (Fixture *f, gint32 pid, guint64 start_time)
{
  g_autoptr(GArray) rows = query (f, pid, start_time, 0, G_MAXINT64, SECOND_US);

  return rows->len;
}

/* PRAGMA integrity_check of the store at PATH, on a connection of its own. */
static void
assert_sound (const char *path)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "PRAGMA integrity_check", -1, &s, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (s), ==, SQLITE_ROW);
  g_assert_cmpstr ((const char *) sqlite3_column_text (s, 0), ==, "ok");
  sqlite3_finalize (s);
  sqlite3_close (db);
}

/* What the recorder does with a store found damaged while open: memory
 * takes the ticks over what the damaged store still gives to read; then
 * the damaged file is set aside, a fresh store opened at the path, and
 * what can be read of the damaged one and what memory holds saved in it.
 * Returns the name the damaged file was kept as. */
static char *
recover (Fixture *f, PymemdHistory *damaged)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdHistory) memory = pymemd_history_open_in_memory ("test", &error);
  g_autoptr(GArray) during = NULL;
  g_autoptr(GArray) minutes = NULL;
  PymemdHistorySalvage saved = { 0 };
  PymemdHistoryPoint p = point (42, 7, 5000);
  char *aside = NULL;

  g_assert_no_error (error);
  pymemd_history_retire (damaged);
  pymemd_history_set_underlay (memory, damaged);
  g_assert_true (pymemd_history_add_tick (memory, BOOT, BASE_US + HOUR_US, &p, 1, &error));
  g_assert_no_error (error);
  /* The hour of the damaged store and the tick in memory, in one answer. */
  during = pymemd_history_query (memory, BOOT, 42, 7, 0, G_MAXINT64, SECOND_US, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (during->len, ==, 361);
  g_assert_cmpint (g_array_index (during, PymemdHistoryRow, 360).t, ==, BASE_US + HOUR_US);
  g_assert_cmpuint (g_array_index (during, PymemdHistoryRow, 0).pss_avg, ==, synthetic_pss (0));

  g_assert_true (pymemd_history_set_aside (damaged, &aside, &error));
  g_assert_no_error (error);
  f->history = pymemd_history_open (f->path, &error);
  g_assert_no_error (error);
  g_assert_true (pymemd_history_salvage (f->history, damaged, &saved, &error));
  g_assert_no_error (error);
  g_test_message ("%" G_GUINT64_FORMAT " rows saved, %" G_GUINT64_FORMAT " dropped, %u stretches unreadable",
                  saved.rows, saved.dropped, saved.unreadable);
  /* The processes and an hour of twelve of them, their minutes and hours. */
  g_assert_cmpuint (saved.rows, >=, 12 + 360 * 12 + 60 * 12);
  g_assert_cmpuint (saved.unreadable, ==, 0);
  g_clear_object (&f->history);
  g_assert_true (pymemd_history_merge_into (memory, f->path, &error));
  g_assert_no_error (error);
  pymemd_history_set_underlay (memory, NULL);

  f->history = pymemd_history_open (f->path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (samples_in (f, 42, 7), ==, 361);
  g_assert_cmpuint (samples_in (f, 0, 0), ==, 360);
  minutes = query (f, 42, 7, BASE_US, BASE_US + 2 * HOUR_US, MINUTE_US);
  g_assert_cmpuint (minutes->len, ==, 61);
  expect_bucket (ROW (minutes, 30), 30 * 6, 6);
  assert_sound (f->path);
  return aside;
}

/* The next tick is refused, whatever SQLite's cache still holds, with
 * DAMAGE: the store, taken from the fixture. */
static PymemdHistory *
refused_tick (Fixture *f, PymemdHistoryDamage damage)
{
  g_autoptr(GError) error = NULL;
  PymemdHistoryPoint p = point (42, 7, 5000);

  g_assert_false (pymemd_history_add_tick (f->history, BOOT, BASE_US + HOUR_US, &p, 1, &error));
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_cmpint (pymemd_history_get_damage (f->history), ==, damage);
  return g_steal_pointer (&f->history);
}

static void
test_overwritten_while_open (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) garbage = NULL;
  g_autoptr(PymemdHistory) damaged = NULL;
  g_autofree char *aside = NULL;

  write_hour (f);
  garbage = overwrite (f->path, 0, 120 * 1024);
  damaged = refused_tick (f, PYMEMD_HISTORY_CORRUPT);
  aside = recover (f, damaged);
  g_assert_nonnull (aside);
  {
    g_autofree char *contents = NULL;
    gsize length = 0, size = 0;
    const guint8 *written = g_bytes_get_data (garbage, &size);

    g_assert_true (g_file_get_contents (aside, &contents, &length, &error));
    g_assert_cmpuint (length, >=, size);
    g_assert_cmpmem (contents, size, written, size);
  }
}

static void
test_deleted_while_open (Fixture *f, gconstpointer data)
{
  g_autoptr(PymemdHistory) damaged = NULL;
  g_autofree char *aside = NULL;
  g_autofree char *wal = g_strconcat (f->path, "-wal", NULL);

  write_hour (f);
  /* The file only: its WAL and shared memory are left, and would be taken
   * for a fresh store's. */
  g_assert_cmpint (g_unlink (f->path), ==, 0);
  g_assert_true (g_file_test (wal, G_FILE_TEST_EXISTS));
  damaged = refused_tick (f, PYMEMD_HISTORY_MOVED);
  aside = recover (f, damaged);
  g_assert_null (aside);
}

/* A sound store put in the place of the open one is the store from then
 * on: what the open one held goes into it. */
static void
test_replaced_while_open (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdHistory) damaged = NULL;
  g_autoptr(PymemdHistory) other = NULL;
  g_autofree char *other_path = g_build_filename (f->dir, "other.db", NULL);
  g_autofree char *aside = NULL;
  PymemdHistorySalvage saved = { 0 };
  PymemdHistoryPoint p = point (77, 1, 3000);

  write_hour (f);
  other = pymemd_history_open (other_path, &error);
  g_assert_no_error (error);
  g_assert_true (pymemd_history_add_tick (other, "an-earlier-boot", BASE_US - HOUR_US, &p, 1, &error));
  g_assert_no_error (error);
  g_clear_object (&other);
  g_assert_cmpint (g_rename (other_path, f->path), ==, 0);

  damaged = refused_tick (f, PYMEMD_HISTORY_MOVED);
  g_assert_true (pymemd_history_set_aside (damaged, &aside, &error));
  g_assert_no_error (error);
  g_assert_null (aside);
  f->history = pymemd_history_open (f->path, &error);
  g_assert_no_error (error);
  g_assert_true (pymemd_history_salvage (f->history, damaged, &saved, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (samples_in (f, 42, 7), ==, 360);
  {
    g_autoptr(GArray) rows = pymemd_history_query (f->history, "an-earlier-boot", 77, 1, 0, G_MAXINT64, SECOND_US,
                                                   &error);

    g_assert_no_error (error);
    g_assert_cmpuint (rows->len, ==, 1);
  }
  assert_sound (f->path);
}

/* The offset in the file at PATH of the leaf of TABLE at FRACTION of its
 * key order. */
static goffset
leaf_offset (const char *path, const char *table, double fraction)
{
  g_autofree char *count_sql = g_strdup_printf ("SELECT count (*) FROM dbstat WHERE name = '%s'"
                                                " AND pagetype = 'leaf'", table);
  g_autofree char *sql = NULL;
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  gint64 leaves, page, page_size;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, count_sql, -1, &s, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (s), ==, SQLITE_ROW);
  leaves = sqlite3_column_int64 (s, 0);
  sqlite3_finalize (s);
  g_assert_cmpint (leaves, >=, 3);
  sql = g_strdup_printf ("SELECT pageno, (SELECT page_size FROM pragma_page_size) FROM dbstat WHERE name = '%s'"
                         " AND pagetype = 'leaf' ORDER BY path LIMIT 1 OFFSET %" G_GINT64_FORMAT,
                         table, (gint64) (leaves * fraction));
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &s, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (s), ==, SQLITE_ROW);
  page = sqlite3_column_int64 (s, 0);
  page_size = sqlite3_column_int64 (s, 1);
  sqlite3_finalize (s);
  sqlite3_close (db);
  return (page - 1) * page_size;
}

/* A page of the samples that a question reads, broken: the question fails
 * and marks the store damaged; under a store in memory, what can be read on
 * either side of the page still answers. */
static void
test_bad_page_read (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) garbage = NULL;
  g_autoptr(PymemdHistory) reader = NULL;
  g_autoptr(PymemdHistory) memory = NULL;
  g_autoptr(GArray) rows = NULL;
  g_autoptr(GArray) ended = NULL;
  double rate = 0;

  write_hour (f);
  g_clear_object (&f->history);
  garbage = overwrite (f->path, leaf_offset (f->path, "samples", 0.5), 4096);
  reader = pymemd_history_open_reader (f->path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (pymemd_history_get_damage (reader), ==, PYMEMD_HISTORY_SOUND);
  g_assert_null (pymemd_history_query (reader, BOOT, 42, 7, 0, G_MAXINT64, SECOND_US, &error));
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  g_assert_cmpint (pymemd_history_get_damage (reader), ==, PYMEMD_HISTORY_CORRUPT);

  memory = pymemd_history_open_in_memory ("test", &error);
  g_assert_no_error (error);
  pymemd_history_set_underlay (memory, reader);
  rows = pymemd_history_query (memory, BOOT, 42, 7, 0, G_MAXINT64, SECOND_US, &error);
  g_assert_no_error (error);
  g_test_message ("%u of 360 buckets read around the damage", rows->len);
  /* A page holds about ten ticks of the twelve processes; halving stops
   * a second wide. */
  g_assert_cmpuint (rows->len, >=, 360 - 20);
  g_assert_cmpuint (rows->len, <, 360);
  g_assert_cmpint (ROW (rows, 0)->t, ==, BASE_US);
  g_assert_cmpint (ROW (rows, rows->len - 1)->t, ==, BASE_US + 359 * 10 * SECOND_US);
  for (guint i = 1; i < rows->len; i++)
    g_assert_cmpint (ROW (rows, i - 1)->t, <, ROW (rows, i)->t);
  /* The tiers, which the page is not part of, answer whole. */
  g_clear_pointer (&rows, g_array_unref);
  rows = pymemd_history_query (memory, BOOT, 42, 7, 0, G_MAXINT64, MINUTE_US, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rows->len, ==, 60);
  /* A slope over the samples left. */
  g_assert_true (pymemd_history_growth (memory, BOOT, 42, 7, HOUR_US, BASE_US + HOUR_US, &rate, NULL, &error));
  g_assert_no_error (error);
  ended = pymemd_history_list_ended (memory, 0, &error);
  g_assert_no_error (error);
  pymemd_history_set_underlay (memory, NULL);
}

/* A store corrupt at start: what can be read of it goes into the fresh
 * store, the corrupt file is kept aside untouched. */
static void
test_salvage_at_open (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) garbage = NULL;
  g_autoptr(GDir) dir = NULL;
  g_autofree char *damaged = NULL;
  g_autofree char *aside = NULL;
  gsize damaged_length = 0;
  const char *name;
  guint before, after;

  write_hour (f);
  before = samples_in (f, 42, 7);
  g_assert_cmpuint (before, ==, 360);
  g_clear_object (&f->history);
  garbage = overwrite (f->path, leaf_offset (f->path, "samples", 0.5), 4096);
  g_assert_true (g_file_get_contents (f->path, &damaged, &damaged_length, &error));

  f->history = pymemd_history_open (f->path, &error);
  g_assert_no_error (error);
  after = samples_in (f, 42, 7);
  g_test_message ("%u of %u samples saved", after, before);
  /* A page holds about ten ticks of the twelve processes. */
  g_assert_cmpuint (after, >=, before - 15);
  g_assert_cmpuint (after, <, before);
  g_assert_cmpuint (samples_in (f, 0, 0), ==, after);
  /* The tiers were not on that page. */
  {
    g_autoptr(GArray) minutes = query (f, 42, 7, BASE_US, BASE_US + 2 * HOUR_US, MINUTE_US);

    g_assert_cmpuint (minutes->len, ==, 60);
    expect_bucket (ROW (minutes, 59), 59 * 6, 6);
  }
  assert_sound (f->path);

  dir = g_dir_open (f->dir, 0, &error);
  g_assert_no_error (error);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_assert_false (g_str_has_suffix (name, ".salvage"));
      if (g_str_has_prefix (name, "history.db.corrupt-") && !g_str_has_suffix (name, "-wal"))
        {
          g_assert_null (aside);
          aside = g_build_filename (f->dir, name, NULL);
        }
    }
  g_assert_nonnull (aside);
  {
    g_autofree char *contents = NULL;
    gsize length = 0;

    g_assert_true (g_file_get_contents (aside, &contents, &length, &error));
    g_assert_cmpmem (contents, length, damaged, damaged_length);
  }
}

/* Random stretches of random bytes anywhere in a store: reading it under
 * memory answers or fails cleanly, and opening it gives a sound store with
 * at most what was there. Run under ASan and valgrind too. */
static void
test_random_damage (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *pristine = NULL;
  gsize size = 0;

  write_hour (f);
  g_clear_object (&f->history);
  g_assert_true (g_file_get_contents (f->path, &pristine, &size, &error));
  for (guint round = 0; round < 12; round++)
    {
      g_autoptr(PymemdHistory) reader = NULL;
      g_autoptr(PymemdHistory) memory = NULL;
      g_autoptr(GArray) rows = NULL;
      g_autoptr(GArray) ended = NULL;
      guint stretches = (guint) g_test_rand_int_range (1, 6);
      guint saved;
      double rate = 0;

      pymemd_test_rm_rf (f->dir);
      g_assert_cmpint (g_mkdir (f->dir, 0700), ==, 0);
      g_assert_true (g_file_set_contents (f->path, pristine, (gssize) size, &error));
      for (guint i = 0; i < stretches; i++)
        {
          gsize length = (gsize) g_test_rand_int_range (1, 16384);
          goffset offset = g_test_rand_int_range (0, (gint32) size);
          g_autoptr(GBytes) garbage = overwrite (f->path, offset, length);
        }

      reader = pymemd_history_open_reader (f->path, &error);
      if (reader != NULL)
        {
          memory = pymemd_history_open_in_memory ("test", &error);
          g_assert_no_error (error);
          pymemd_history_set_underlay (memory, reader);
          rows = pymemd_history_query (memory, BOOT, 42, 7, 0, G_MAXINT64, SECOND_US, &error);
          g_assert_no_error (error);
          g_assert_cmpuint (rows->len, <=, 360);
          ended = pymemd_history_list_ended (memory, 0, &error);
          g_assert_no_error (error);
          pymemd_history_growth (memory, BOOT, 42, 7, HOUR_US, BASE_US + HOUR_US, &rate, NULL, NULL);
          pymemd_history_set_underlay (memory, NULL);
          g_clear_object (&reader);
        }
      g_clear_error (&error);

      f->history = pymemd_history_open (f->path, &error);
      g_assert_no_error (error);
      saved = samples_in (f, 42, 7);
      g_test_message ("round %u: %u stretches, %u of 360 samples saved", round, stretches, saved);
      g_assert_cmpuint (saved, <=, 360);
      g_clear_object (&f->history);
      assert_sound (f->path);
    }
}

/* Whether DIR holds a store moved aside as corrupt. */
static gboolean
kept_aside (const char *dir_path)
{
  g_autoptr(GDir) dir = g_dir_open (dir_path, 0, NULL);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (name, "history.db.corrupt-"))
      return TRUE;
  return FALSE;
}

/* Every byte of the file header (the first 100 bytes) set to 0x00, 0xff and
 * to itself with one bit flipped: whatever SQLite makes of the header (not a
 * database, a read-only or unsupported format, a schema it cannot load, a
 * schema version that does not match the tables, or past any pymemd's), the
 * store opens, takes a tick and is sound; only a plausible later schema
 * version is refused. */
static void
test_header_damage (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *pristine = NULL;
  gsize size = 0;
  guint replaced = 0, refused = 0;

  write_hour (f);
  g_clear_object (&f->history);
  g_assert_true (g_file_get_contents (f->path, &pristine, &size, &error));
  g_assert_cmpuint (size, >, 100);
  for (guint offset = 0; offset < 100; offset++)
    for (guint variant = 0; variant < 3; variant++)
      {
        guint8 original = (guint8) pristine[offset];
        guint8 value = variant == 0 ? 0x00 : variant == 1 ? 0xff : original ^ (guint8) (1u << (offset % 8));
        PymemdHistoryPoint p = point (42, 7, 5000);
        gint32 version;

        if (value == original)
          continue;
        pymemd_test_rm_rf (f->dir);
        g_assert_cmpint (g_mkdir (f->dir, 0700), ==, 0);
        g_assert_true (g_file_set_contents (f->path, pristine, (gssize) size, &error));
        overwrite_with (f->path, offset, &value, 1);
        /* The user version, big-endian at 60. */
        memcpy (&version, pristine + 60, 4);
        if (offset >= 60 && offset < 64)
          ((guint8 *) &version)[offset - 60] = value;

        f->history = pymemd_history_open (f->path, &error);
        if (offset >= 60 && offset < 64 && GINT32_FROM_BE (version) > 1 &&
            GINT32_FROM_BE (version) <= PYMEMD_HISTORY_PLAUSIBLE_SCHEMA_VERSION)
          {
            g_autofree char *after = NULL;
            gsize after_size = 0;

            /* A later schema version may be a newer pymemd's store: refused,
             * and left as it is. */
            g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED);
            g_assert_nonnull (strstr (error->message, "schema version"));
            g_assert_null (f->history);
            g_clear_error (&error);
            g_assert_true (g_file_get_contents (f->path, &after, &after_size, &error));
            g_assert_cmpuint (after_size, ==, size);
            g_assert_cmpmem (after, offset, pristine, offset);
            g_assert_cmpuint ((guint8) after[offset], ==, value);
            g_assert_cmpmem (after + offset + 1, size - offset - 1, pristine + offset + 1, size - offset - 1);
            refused++;
            continue;
          }
        if (error != NULL)
          g_error ("byte %u set to 0x%02x: %s", offset, value, error->message);
        if (!pymemd_history_add_tick (f->history, BOOT, BASE_US + HOUR_US, &p, 1, &error))
          g_error ("byte %u set to 0x%02x, then a tick: %s", offset, value, error->message);
        g_clear_object (&f->history);
        assert_sound (f->path);
        replaced += kept_aside (f->dir);
      }
  g_test_message ("%u damaged headers set aside, %u refused as a later schema", replaced, refused);
  g_assert_cmpuint (replaced, >, 0);
  g_assert_cmpuint (refused, >, 0);
}

/* A bit flipped in a column's name in the schema SQLite keeps as text:
 * SQLite finds nothing wrong (a byte past 0x7f may be part of a name), but
 * this pymemd's statements would fail at every open. It is damage: moved
 * aside and salvaged, table by table. */
static void
test_schema_text_damage (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize size = 0;
  const char *column;
  PymemdHistoryPoint p = point (42, 7, 5000);
  guint8 flipped;

  write_hour (f);
  g_clear_object (&f->history);
  g_assert_true (g_file_get_contents (f->path, &contents, &size, &error));
  /* Page 1 holds the schema; "pss INTEGER" is in samples' CREATE TABLE. */
  column = memmem (contents, MIN (size, 4096), " pss INTEGER", strlen (" pss INTEGER"));
  g_assert_nonnull (column);
  flipped = (guint8) column[1] ^ 0x80;
  overwrite_with (f->path, column + 1 - contents, &flipped, 1);

  f->history = pymemd_history_open (f->path, &error);
  g_assert_no_error (error);
  g_assert_true (kept_aside (f->dir));
  g_assert_true (pymemd_history_add_tick (f->history, BOOT, BASE_US + HOUR_US, &p, 1, &error));
  g_assert_no_error (error);
  g_clear_object (&f->history);
  assert_sound (f->path);
}

/* A store of a later schema version with committed pages in its WAL is
 * refused, and neither file changes: no checkpoint on the way out. */
static void
test_later_schema_untouched (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *wal = g_strconcat (f->path, "-wal", NULL);
  g_autofree char *before = NULL, *before_wal = NULL, *after = NULL, *after_wal = NULL;
  gsize size = 0, wal_size = 0, after_size = 0, after_wal_size = 0;
  sqlite3 *db = NULL;

  write_hour (f);
  g_clear_object (&f->history);
  g_assert_cmpint (sqlite3_open_v2 (f->path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_db_config (db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "PRAGMA user_version = 2", NULL, NULL, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_close (db), ==, SQLITE_OK);
  g_assert_true (g_file_get_contents (f->path, &before, &size, &error));
  g_assert_true (g_file_get_contents (wal, &before_wal, &wal_size, &error));
  g_assert_cmpuint (wal_size, >, 0);

  f->history = pymemd_history_open (f->path, &error);
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "schema version 2"));
  g_assert_null (f->history);
  g_clear_error (&error);
  g_assert_false (kept_aside (f->dir));
  g_assert_true (g_file_get_contents (f->path, &after, &after_size, &error));
  g_assert_true (g_file_get_contents (wal, &after_wal, &after_wal_size, &error));
  g_assert_cmpmem (after, after_size, before, size);
  g_assert_cmpmem (after_wal, after_wal_size, before_wal, wal_size);
}

/* The growth statistics alone: exact on a line, however many points (past
 * PYMEMD_GROWTH_MAX_POINTS they are picked evenly), unmoved by a few
 * outliers where a least-squares fit would be, and 0 without a slope. */
static void
test_growth_slope (void)
{
  g_autoptr(GArray) series = g_array_new (FALSE, FALSE, sizeof (PymemdGrowthPoint));
  double mean_t = 0, mean_pss = 0, num = 0, den = 0;

  for (guint n = 2; n <= 1000; n *= 3)
    {
      g_array_set_size (series, 0);
      for (guint i = 0; i < n; i++)
        {
          /* 10 MiB an hour, a sample a minute. */
          PymemdGrowthPoint p = { (double) i * MINUTE_US, 50e6 + (10 << 20) / 60.0 * i };
          g_array_append_val (series, p);
        }
      g_assert_cmpfloat_with_epsilon (pymemd_growth_slope_per_hour (series), 10 << 20, 1);
    }

  /* Flat, but 5 of 60 samples caught a 500 MB burst at the end. */
  g_array_set_size (series, 0);
  for (guint i = 0; i < 60; i++)
    {
      PymemdGrowthPoint p = { (double) i * MINUTE_US, 80e6 + (i >= 55 ? 500e6 : 0) };
      g_array_append_val (series, p);
    }
  g_assert_cmpfloat_with_epsilon (pymemd_growth_slope_per_hour (series), 0, 1);
  /* What least squares would say of the same points: far from flat. */
  for (guint i = 0; i < series->len; i++)
    {
      mean_t += g_array_index (series, PymemdGrowthPoint, i).t / series->len;
      mean_pss += g_array_index (series, PymemdGrowthPoint, i).pss / series->len;
    }
  for (guint i = 0; i < series->len; i++)
    {
      PymemdGrowthPoint p = g_array_index (series, PymemdGrowthPoint, i);

      num += (p.t - mean_t) * (p.pss - mean_pss);
      den += (p.t - mean_t) * (p.t - mean_t);
    }
  g_assert_cmpfloat (num / den * HOUR_US, >, 100e6);

  /* No slope: one point, or every point at the same time. */
  g_array_set_size (series, 1);
  g_assert_cmpfloat (pymemd_growth_slope_per_hour (series), ==, 0);
  g_array_set_size (series, 0);
  for (guint i = 0; i < 3; i++)
    {
      PymemdGrowthPoint p = { 1e6, 1e6 * i };
      g_array_append_val (series, p);
    }
  g_assert_cmpfloat (pymemd_growth_slope_per_hour (series), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/history/growth-slope", test_growth_slope);

#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/history/tiers", test_tiers);
  ADD ("/history/query-picks-tier", test_query_tier);
  ADD ("/history/query-as-sql", test_query_as_sql);
  ADD ("/history/query-overflow", test_query_overflow);
  ADD ("/history/retention-age", test_retention_age);
  ADD ("/history/size-cap", test_size_cap);
  ADD ("/history/size-cap/churn", test_size_cap_churn);
  ADD ("/history/pid-reuse", test_pid_reuse);
  ADD ("/history/reopen", test_reopen);
  ADD ("/history/corrupt", test_corrupt);
  ADD ("/history/unopenable", test_unopenable);
  ADD ("/history/read-only", test_read_only);
  ADD ("/history/growth-linear", test_growth_linear);
  ADD ("/history/growth-outliers", test_growth_outliers);
  ADD ("/history/ended", test_ended);
  ADD ("/history/consolidate-after-reopen", test_consolidate_after_reopen);
  ADD ("/history/latest-and-record", test_latest_and_record);
  ADD ("/history/growth-all", test_growth_all);
  ADD ("/history/heap-summaries", test_heap_summaries);
  ADD ("/history/memory-merge", test_memory_merge);
  ADD ("/history/damage/overwritten", test_overwritten_while_open);
  ADD ("/history/damage/deleted", test_deleted_while_open);
  ADD ("/history/damage/replaced", test_replaced_while_open);
  ADD ("/history/damage/bad-page-read", test_bad_page_read);
  ADD ("/history/damage/salvage-at-open", test_salvage_at_open);
  ADD ("/history/damage/random", test_random_damage);
  ADD ("/history/damage/header", test_header_damage);
  ADD ("/history/damage/schema-text", test_schema_text_damage);
  ADD ("/history/later-schema-untouched", test_later_schema_untouched);
#undef ADD
  return g_test_run ();
}
