/* bench-history: the history store's figures (issue 4) next to baselines measured in the same run.
 *
 *   bench-history store DIR N HOURS
 *     Writes HOURS of ticks of N processes, 2 s apart and ending now, into
 *     DIR/history.db as the daemon does (one transaction per tick,
 *     retention every 10 minutes with the default settings), and prints:
 *     - CPU per tick (this thread's, CLOCK_THREAD_CPUTIME_ID): mean, median,
 *       p99, retention included; baseline: the same figures written as text
 *       lines with one write(2) per tick to DIR/baseline.txt;
 *     - of it, the check of the file every tick makes before writing
 *       (pymemd_history_check_file: one stat(2), one 100-byte read), alone,
 *       CHECKS times: CPU and wall time, median and p99;
 *     - disk bytes per process-day: (history.db + WAL) / N / days;
 *     - a 24-hour query at 1-minute resolution (pymemd_history_query) for
 *       200 random processes: median and p99; baseline: the bare SELECT of
 *       the same process's minute rows on a plain connection.
 *   bench-history dbus ADDRESS N
 *     GetHistory over D-Bus, 24 hours at 60 s, for 200 random of the N
 *     processes `store` wrote (pids 100000 + i): median and p99; baseline:
 *     Properties.Get (Version) round trips on the same connection.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

#include "pymemd-history.h"

#define SECOND_US G_GINT64_CONSTANT (1000000)
#define MINUTE_US (60 * SECOND_US)
#define HOUR_US (60 * MINUTE_US)
#define DAY_US (24 * HOUR_US)
#define FIRST_PID 100000
#define QUERIES 200
#define CHECKS 10000

static gint64
thread_cpu_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return (gint64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static gint64
mono_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
compare_int64 (const void *a, const void *b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return (x > y) - (x < y);
}

typedef struct {
  double mean, median, p99;
} Stats;

static Stats
stats_ms (GArray *ns)
{
  Stats s = { 0 };
  double sum = 0;

  qsort (ns->data, ns->len, sizeof (gint64), compare_int64);
  for (guint i = 0; i < ns->len; i++)
    sum += (double) g_array_index (ns, gint64, i);
  s.mean = sum / ns->len / 1e6;
  s.median = (double) g_array_index (ns, gint64, ns->len / 2) / 1e6;
  s.p99 = (double) g_array_index (ns, gint64, MIN (ns->len - 1, ns->len * 99 / 100)) / 1e6;
  return s;
}

static char *
boot_id (void)
{
  char *text = NULL;

  if (!g_file_get_contents ("/proc/sys/kernel/random/boot_id", &text, NULL, NULL))
    return g_strdup ("bench");
  return g_strstrip (text);
}

static guint64
file_size (const char *path)
{
  GStatBuf st;

  return g_stat (path, &st) == 0 ? (guint64) st.st_size : 0;
}

static int
mode_store (const char *dir, guint n, double hours)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (dir, "history.db", NULL);
  g_autofree char *wal = g_strconcat (path, "-wal", NULL);
  g_autofree char *baseline_path = g_build_filename (dir, "baseline.txt", NULL);
  g_autofree char *boot = boot_id ();
  g_autoptr(PymemdHistory) history = NULL;
  g_autoptr(GArray) write_ns = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GArray) text_ns = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GArray) query_ns = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GArray) select_ns = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GArray) check_cpu_ns = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GArray) check_wall_ns = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autofree PymemdHistoryPoint *points = g_new0 (PymemdHistoryPoint, n + 1);
  g_autoptr(GString) line = g_string_new (NULL);
  gint64 now = g_get_real_time ();
  gint64 span = (gint64) (hours * HOUR_US), first = now - span, next_retention = first;
  guint ticks = 0, rows_24h = 0;
  int text_fd;
  sqlite3 *plain = NULL;
  sqlite3_stmt *select = NULL;
  GRand *rand = g_rand_new_with_seed (42);
  Stats w, t, q, b, cc, cw;
  double days = hours / 24;
  guint64 bytes;

  history = pymemd_history_open (path, &error);
  if (history == NULL)
    {
      g_printerr ("bench-history: %s\n", error->message);
      return 1;
    }
  text_fd = open (baseline_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  for (guint i = 0; i < n; i++)
    {
      points[i].pid = FIRST_PID + (gint32) i;
      points[i].start_time = 1000 + i;
      points[i].exe = "/usr/bin/python3.11";
      points[i].cmdline = "python3 -c import time; time.sleep(86400)";
    }
  for (gint64 t_us = first; t_us <= now; t_us += 2 * SECOND_US, ticks++)
    {
      gint64 start;

      for (guint i = 0; i <= n; i++)
        {
          /* Slowly varying figures, as idle and busy interpreters give. */
          guint64 base = 8000000 + (guint64) i * 40960 + (guint64) ((t_us - first) / SECOND_US % 600) * 4096;

          points[i].rss = base * 2;
          points[i].pss = base;
          points[i].uss = base - base / 4;
          points[i].private_dirty = base / 2;
          points[i].swap = (i % 7 == 0) ? 4096 * (guint64) i : 0;
          points[i].sampled_at = t_us;
        }
      points[n].pid = 0; /* the totals */

      start = thread_cpu_ns ();
      if (!pymemd_history_add_tick (history, boot, t_us, points, n + 1, &error))
        {
          g_printerr ("bench-history: %s\n", error->message);
          return 1;
        }
      if (t_us >= next_retention)
        {
          next_retention = t_us + 10 * MINUTE_US;
          if (!pymemd_history_enforce_retention (history, t_us, 60 * MINUTE_US, 14 * DAY_US, 400 * DAY_US,
                                                 G_GUINT64_CONSTANT (256) << 20, &error))
            {
              g_printerr ("bench-history: %s\n", error->message);
              return 1;
            }
        }
      {
        gint64 d = thread_cpu_ns () - start;
        g_array_append_val (write_ns, d);
      }

      /* Baseline: the same figures as text, one write per tick. */
      start = thread_cpu_ns ();
      g_string_truncate (line, 0);
      for (guint i = 0; i <= n; i++)
        g_string_append_printf (line, "%" G_GINT64_FORMAT " %d %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
                                " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT "\n",
                                t_us, points[i].pid, points[i].rss, points[i].pss, points[i].uss,
                                points[i].private_dirty, points[i].swap);
      if (write (text_fd, line->str, line->len) != (gssize) line->len)
        return 1;
      {
        gint64 d = thread_cpu_ns () - start;
        g_array_append_val (text_ns, d);
      }
    }
  close (text_fd);
  g_unlink (baseline_path);

  w = stats_ms (write_ns);
  t = stats_ms (text_ns);
  g_print ("ticks written: %u (%g h of %u processes + totals, 2 s apart)\n", ticks, hours, n);
  g_print ("a) CPU per tick:   pymemd mean %.3f ms, median %.3f, p99 %.3f   |   text write(2) mean %.3f ms, "
           "median %.3f, p99 %.3f   (%.1fx; target <= 2 ms)\n",
           w.mean, w.median, w.p99, t.mean, t.median, t.p99, w.mean / MAX (t.mean, 1e-9));

  for (guint i = 0; i < CHECKS; i++)
    {
      gint64 cpu = thread_cpu_ns (), wall = mono_ns (), d;

      if (!pymemd_history_check_file (history, &error))
        {
          g_printerr ("bench-history: %s\n", error->message);
          return 1;
        }
      d = thread_cpu_ns () - cpu;
      g_array_append_val (check_cpu_ns, d);
      d = mono_ns () - wall;
      g_array_append_val (check_wall_ns, d);
    }
  cc = stats_ms (check_cpu_ns);
  cw = stats_ms (check_wall_ns);
  g_print ("a') of it, the file check (one stat, one 100-byte read), %u times: CPU median %.1f us, p99 %.1f   |   "
           "wall median %.1f us, p99 %.1f   (%.2f%% of the mean tick's CPU)\n",
           CHECKS, cc.median * 1e3, cc.p99 * 1e3, cw.median * 1e3, cw.p99 * 1e3, 100 * cc.mean / MAX (w.mean, 1e-9));

  bytes = file_size (path) + file_size (wal);
  g_print ("b) disk: %" G_GUINT64_FORMAT " bytes (db + WAL) = %.1f KiB per process-day over %.2f days "
           "(target <= 256 KiB)\n",
           bytes, (double) bytes / 1024 / (n + 1) / MAX (days, 1.0 / 24), days);

  sqlite3_open_v2 (path, &plain, SQLITE_OPEN_READONLY, NULL);
  sqlite3_prepare_v2 (plain, "SELECT * FROM minutes WHERE process = (SELECT id FROM processes WHERE pid = ?1)"
                      " AND bucket >= ?2", -1, &select, NULL);
  for (guint i = 0; i < QUERIES; i++)
    {
      gint32 pid = FIRST_PID + (gint32) g_rand_int_range (rand, 0, (gint32) n);
      g_autoptr(GArray) rows = NULL;
      gint64 start = mono_ns (), d;

      rows = pymemd_history_query (history, boot, pid, 1000 + (guint64) (pid - FIRST_PID), now - DAY_US, now,
                                   MINUTE_US, &error);
      d = mono_ns () - start;
      if (rows == NULL)
        {
          g_printerr ("bench-history: %s\n", error->message);
          return 1;
        }
      rows_24h = rows->len;
      g_array_append_val (query_ns, d);

      start = mono_ns ();
      sqlite3_bind_int (select, 1, pid);
      sqlite3_bind_int64 (select, 2, now - DAY_US);
      while (sqlite3_step (select) == SQLITE_ROW)
        ;
      sqlite3_reset (select);
      d = mono_ns () - start;
      g_array_append_val (select_ns, d);
    }
  sqlite3_finalize (select);
  sqlite3_close (plain);
  q = stats_ms (query_ns);
  b = stats_ms (select_ns);
  g_print ("c) 24 h at 1 min (%u buckets), %u queries: median %.2f ms, p99 %.2f   |   bare SELECT of the "
           "minute rows: median %.2f ms, p99 %.2f   (target p99 <= 20 ms)\n",
           rows_24h, QUERIES, q.median, q.p99, b.median, b.p99);
  g_rand_free (rand);
  return 0;
}

static int
mode_dbus (const char *address, guint n)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) conn = NULL;
  g_autoptr(GArray) history_ns = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GArray) get_ns = g_array_new (FALSE, FALSE, sizeof (gint64));
  GRand *rand = g_rand_new_with_seed (7);
  gint64 now = g_get_real_time ();
  gsize buckets = 0;
  Stats h, g;

  conn = g_dbus_connection_new_for_address_sync (address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                 G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION, NULL, NULL, &error);
  if (conn == NULL)
    {
      g_printerr ("bench-history: %s\n", error->message);
      return 1;
    }
  for (guint i = 0; i < QUERIES; i++)
    {
      guint32 pid = FIRST_PID + (guint32) g_rand_int_range (rand, 0, (gint32) n);
      g_autoptr(GVariant) reply = NULL;
      g_autoptr(GVariant) times = NULL;
      gint64 start = mono_ns (), d;

      reply = g_dbus_connection_call_sync (conn, "org.pymemd.Monitor1", "/org/pymemd/Monitor1",
                                           "org.pymemd.Monitor1", "GetHistory",
                                           g_variant_new ("(utxxd)", pid, (guint64) (1000 + pid - FIRST_PID),
                                                          now - DAY_US, now, 60.0),
                                           NULL, G_DBUS_CALL_FLAGS_NONE, 10000, NULL, &error);
      d = mono_ns () - start;
      if (reply == NULL)
        {
          g_printerr ("bench-history: GetHistory %u: %s\n", pid, error->message);
          return 1;
        }
      times = g_variant_get_child_value (reply, 1);
      buckets = g_variant_n_children (times);
      g_array_append_val (history_ns, d);

      start = mono_ns ();
      g_clear_pointer (&reply, g_variant_unref);
      reply = g_dbus_connection_call_sync (conn, "org.pymemd.Monitor1", "/org/pymemd/Monitor1",
                                           "org.freedesktop.DBus.Properties", "Get",
                                           g_variant_new ("(ss)", "org.pymemd.Monitor1", "Version"), NULL,
                                           G_DBUS_CALL_FLAGS_NONE, 10000, NULL, &error);
      d = mono_ns () - start;
      g_array_append_val (get_ns, d);
      g_usleep (20000);
    }
  h = stats_ms (history_ns);
  g = stats_ms (get_ns);
  g_print ("d) GetHistory over D-Bus, 24 h at 60 s (%zu buckets), %u calls 20 ms apart: median %.2f ms, "
           "p99 %.2f   |   Properties.Get (Version): median %.2f ms, p99 %.2f   (target p99 <= 20 ms)\n",
           buckets, QUERIES, h.median, h.p99, g.median, g.p99);
  g_rand_free (rand);
  return 0;
}

int
main (int argc, char **argv)
{
  if (argc == 5 && strcmp (argv[1], "store") == 0)
    return mode_store (argv[2], (guint) MAX (atoi (argv[3]), 1), g_ascii_strtod (argv[4], NULL));
  if (argc == 4 && strcmp (argv[1], "dbus") == 0)
    return mode_dbus (argv[2], (guint) MAX (atoi (argv[3]), 1));
  g_printerr ("usage: bench-history store DIR N HOURS\n"
              "       bench-history dbus ADDRESS N\n");
  return 2;
}
