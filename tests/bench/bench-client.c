/* bench-client: the client side of bench-service.sh, in C so that the daemon
 * under test does not count it among the Python processes it watches.
 *
 *   bench-client wait ADDRESS [TIMEOUT_S]
 *       returns once org.pymemd.Monitor1 has an owner on the bus at ADDRESS.
 *   bench-client latency ADDRESS N PACE_MS [DAEMON_PID]
 *       on one connection: N calls of GetSamples, N of GetProcesses, N of GetTable, then N calls of
 *       Properties.Get (Monitor1.Version) as the baseline (a round trip
 *       through the daemon's main loop with a tiny reply), each timed with
 *       CLOCK_MONOTONIC; a call starts PACE_MS after the previous one
 *       started (0: back to back).  Paced calls land on ticks as a real
 *       client's would: the daemon is single-threaded and a call that
 *       arrives during a tick waits for it.
 *   bench-client mix ADDRESS SECONDS PACE_MS DAEMON_PID HISTORY_N PIDS_FILE
 *       on one connection, for SECONDS, one call every PACE_MS in turn:
 *       GetSamples, GetProcesses, GetHistory (a day at 60 s of one of the
 *       HISTORY_N processes bench-history store wrote: pids 100000 + i,
 *       start time 1000 + i), GetProcessDetails (of the pids in PIDS_FILE,
 *       one a line: the script's own interpreters, which outlive the run,
 *       in turn) and Properties.Get (Monitor1.Version),
 *       the baseline on the same daemon at the same moments.  Per call
 *       p50/p90/p99/max; the daemon's CPU (schedstat, all threads) and the
 *       client's over the run.
 *   bench-client cpu PID SECONDS INTERVAL_S
 *       samples the CPU time of every thread of PID (/proc/PID/task/T/
 *       schedstat, ns) every 2 ms for SECONDS and splits it into bursts
 *       (CPU use separated by >= 300 ms of none): one burst per tick.
 *       Bursts above 3x the median are detail passes (with their tick).
 *       Also /proc/PID/stat utime+stime over the window (10 ms resolution).
 *   bench-client subscribe ADDRESS SECONDS
 *       subscribes with default options, calls GetProcesses every second
 *       and counts the MemoryChanged signals it gets, for SECONDS or until
 *       SIGTERM.
 *
 * Lines starting with RESULT are key=value, for the script.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>

#define NAME  "org.pymemd.Monitor1"
#define PATH  "/org/pymemd/Monitor1"
#define IFACE "org.pymemd.Monitor1"

static gint64
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
sleep_until_ns (gint64 when)
{
  struct timespec ts = { when / 1000000000, when % 1000000000 };

  while (clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0)
    ;
}

static GDBusConnection *
connect_to (const char *address)
{
  g_autoptr(GError) error = NULL;
  GDBusConnection *c = g_dbus_connection_new_for_address_sync (
    address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
               G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
    NULL, NULL, &error);

  if (c == NULL)
    {
      fprintf (stderr, "bench-client: %s: %s\n", address, error->message);
      exit (1);
    }
  return c;
}

static gboolean
has_owner (GDBusConnection *c)
{
  g_autoptr(GVariant) reply = g_dbus_connection_call_sync (
    c, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
    "NameHasOwner", g_variant_new ("(s)", NAME), G_VARIANT_TYPE ("(b)"),
    G_DBUS_CALL_FLAGS_NONE, 5000, NULL, NULL);
  gboolean owned = FALSE;

  if (reply != NULL)
    g_variant_get (reply, "(b)", &owned);
  return owned;
}

static int
mode_wait (const char *address, double timeout_s)
{
  g_autoptr(GDBusConnection) c = connect_to (address);
  gint64 deadline = now_ns () + (gint64) (timeout_s * 1e9);

  while (!has_owner (c))
    {
      if (now_ns () > deadline)
        {
          fprintf (stderr, "bench-client: %s has no owner after %g s\n", NAME, timeout_s);
          return 1;
        }
      g_usleep (20000);
    }
  return 0;
}

static int
compare_gint64 (const void *a, const void *b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted V[N], in ms. */
static double
pct_ms (const gint64 *v, guint n, double p)
{
  guint rank = (guint) (p / 100.0 * n + 0.999999);

  rank = CLAMP (rank, 1, n);
  return (double) v[rank - 1] / 1e6;
}

static gint64 thread_cpu_ns (int pid);

static gint64
own_cpu_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (gint64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

typedef GVariant *(*CallFunc) (GDBusConnection *c, GError **error);

static GVariant *
call_get_processes (GDBusConnection *c, GError **error)
{
  return g_dbus_connection_call_sync (c, NAME, PATH, IFACE, "GetProcesses", NULL,
                                      G_VARIANT_TYPE ("(aa{sv})"), G_DBUS_CALL_FLAGS_NONE,
                                      30000, NULL, error);
}

static GVariant *
call_get_samples (GDBusConnection *c, GError **error)
{
  return g_dbus_connection_call_sync (c, NAME, PATH, IFACE, "GetSamples", NULL,
                                      G_VARIANT_TYPE ("(auatauabatatatatat)"),
                                      G_DBUS_CALL_FLAGS_NONE, 30000, NULL, error);
}

#define TABLE_TYPE "(sauatauabaxasatatad)"

static GVariant *
call_get_table (GDBusConnection *c, GError **error)
{
  return g_dbus_connection_call_sync (c, NAME, PATH, IFACE, "GetTable", NULL, G_VARIANT_TYPE (TABLE_TYPE),
                                      G_DBUS_CALL_FLAGS_NONE, 30000, NULL, error);
}

static GVariant *
call_get_version (GDBusConnection *c, GError **error)
{
  return g_dbus_connection_call_sync (c, NAME, PATH, "org.freedesktop.DBus.Properties", "Get",
                                      g_variant_new ("(ss)", IFACE, "Version"),
                                      G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NONE, 30000,
                                      NULL, error);
}

/* Times N calls of CALL; prints "RESULT call=WHAT ..."; with PID > 0, also
 * that process's CPU time (all threads) per call, ticks included. */
static void
time_calls (GDBusConnection *c, const char *what, CallFunc call, guint n, double pace_ms, int pid)
{
  g_autofree gint64 *t = g_new (gint64, n);
  gint64 next, sum = 0, wall0, own0, their0 = 0;
  gsize bytes = 0, items = 0;
  guint errors = 0;

  /* Warm-up: the first call resolves the caller like any other, but pays
   * for connection set-up on both sides. */
  {
    GVariant *warm = call (c, NULL);
    if (warm != NULL)
      g_variant_unref (warm);
  }
  next = wall0 = now_ns ();
  own0 = own_cpu_ns ();
  if (pid > 0)
    their0 = thread_cpu_ns (pid);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) reply = NULL;
      gint64 start;

      if (pace_ms > 0)
        {
          sleep_until_ns (next);
          next += (gint64) (pace_ms * 1e6);
        }
      start = now_ns ();
      reply = call (c, &error);
      t[i] = now_ns () - start;
      sum += t[i];
      if (reply == NULL)
        {
          if (errors++ == 0)
            fprintf (stderr, "bench-client: %s: %s\n", what, error->message);
          continue;
        }
      bytes = g_variant_get_size (reply);
      if (g_variant_is_of_type (reply, G_VARIANT_TYPE ("(aa{sv})")) ||
          g_variant_is_of_type (reply, G_VARIANT_TYPE ("(auatauabatatatatat)")) ||
          g_variant_is_of_type (reply, G_VARIANT_TYPE (TABLE_TYPE)))
        {
          /* The pids: GetTable's second column, the others' first. */
          g_autoptr(GVariant) array =
            g_variant_get_child_value (reply, g_variant_is_of_type (reply, G_VARIANT_TYPE (TABLE_TYPE)) ? 1 : 0);
          items = g_variant_n_children (array);
        }
    }
  {
    double wall_s = (double) (now_ns () - wall0) / 1e9;
    double own = (double) (own_cpu_ns () - own0) / 1e6 / n;
    double their = pid > 0 ? (double) (thread_cpu_ns (pid) - their0) / 1e6 / n : -1;

    qsort (t, n, sizeof *t, compare_gint64);
    printf ("RESULT call=%s pace_ms=%g n=%u errors=%u items=%zu reply_bytes=%zu "
            "p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f mean_ms=%.3f wall_s=%.2f "
            "client_cpu_ms_per_call=%.3f daemon_cpu_ms_per_call=%.3f\n",
            what, pace_ms, n, errors, items, bytes, pct_ms (t, n, 50), pct_ms (t, n, 90),
            pct_ms (t, n, 99), (double) t[n - 1] / 1e6, (double) sum / n / 1e6, wall_s, own,
            their);
  }
}

static int
mode_latency (const char *address, guint n, double pace_ms, int pid)
{
  g_autoptr(GDBusConnection) c = connect_to (address);

  time_calls (c, "GetSamples", call_get_samples, n, pace_ms, pid);
  time_calls (c, "GetProcesses", call_get_processes, n, pace_ms, pid);
  time_calls (c, "GetTable", call_get_table, n, pace_ms, pid);
  time_calls (c, "Get(Version)", call_get_version, n, pace_ms, pid);
  return 0;
}

/* ------------------------------------------------------------------ cpu */

/* Sum of sum_exec_runtime (ns) over the threads of PID; -1 once it is gone. */
static gint64
thread_cpu_ns (int pid)
{
  char path[64];
  DIR *dir;
  struct dirent *e;
  gint64 total = 0;

  g_snprintf (path, sizeof path, "/proc/%d/task", pid);
  if ((dir = opendir (path)) == NULL)
    return -1;
  while ((e = readdir (dir)) != NULL)
    {
      char file[128], buf[128];
      FILE *f;

      if (e->d_name[0] == '.')
        continue;
      g_snprintf (file, sizeof file, "/proc/%d/task/%s/schedstat", pid, e->d_name);
      if ((f = fopen (file, "re")) == NULL)
        continue;
      if (fgets (buf, sizeof buf, f) != NULL)
        total += g_ascii_strtoll (buf, NULL, 10);
      fclose (f);
    }
  closedir (dir);
  return total;
}

/* utime + stime of PID, in ms. */
static double
stat_cpu_ms (int pid)
{
  char path[64];
  g_autofree char *text = NULL;
  char *p;
  unsigned long long utime = 0, stime = 0;

  g_snprintf (path, sizeof path, "/proc/%d/stat", pid);
  if (!g_file_get_contents (path, &text, NULL, NULL) || (p = strrchr (text, ')')) == NULL)
    return -1;
  /* after ") ": state(3) ppid ... utime(14) stime(15) */
  if (sscanf (p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
    return -1;
  return (double) (utime + stime) * 1000.0 / (double) sysconf (_SC_CLK_TCK);
}

typedef struct {
  double at_s;
  double cpu_ms;
  double wall_ms;
} Burst;

static int
compare_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static int
mode_cpu (int pid, double seconds, double interval_s)
{
  const gint64 period = 2000000, gap = 300000000;
  g_autoptr(GArray) bursts = g_array_new (FALSE, FALSE, sizeof (Burst));
  gint64 t0 = now_ns (), end = t0 + (gint64) (seconds * 1e9), next = t0;
  gint64 cpu0 = thread_cpu_ns (pid), prev = cpu0, prev_t = t0;
  gint64 burst_t = 0, burst_cpu = 0, last_inc_t = 0, last_inc_cpu = 0;
  double stat0 = stat_cpu_ms (pid), stat1;
  gboolean in_burst = FALSE;
  g_autofree double *sorted = NULL;
  double median, rollup_sum = 0, detail_sum = 0, total_ms;
  guint n_rollup = 0, n_detail = 0;

  if (cpu0 < 0)
    {
      fprintf (stderr, "bench-client: no process %d\n", pid);
      return 1;
    }
  for (;;)
    {
      gint64 t, cpu;

      next += period;
      sleep_until_ns (next);
      t = now_ns ();
      cpu = thread_cpu_ns (pid);
      if (cpu < 0)
        {
          fprintf (stderr, "bench-client: process %d exited\n", pid);
          return 1;
        }
      if (cpu > prev)
        {
          if (!in_burst)
            {
              in_burst = TRUE;
              burst_t = prev_t;
              burst_cpu = prev;
            }
          last_inc_t = t;
          last_inc_cpu = cpu;
        }
      if (in_burst && (t - last_inc_t >= gap || t >= end))
        {
          Burst b = { (double) (burst_t - t0) / 1e9, (double) (last_inc_cpu - burst_cpu) / 1e6,
                      (double) (last_inc_t - burst_t) / 1e6 };
          g_array_append_val (bursts, b);
          in_burst = FALSE;
        }
      prev = cpu;
      prev_t = t;
      if (t >= end)
        break;
    }
  stat1 = stat_cpu_ms (pid);
  total_ms = (double) (prev - cpu0) / 1e6;
  if (bursts->len == 0)
    {
      fprintf (stderr, "bench-client: no CPU use by %d in %g s\n", pid, seconds);
      return 1;
    }

  sorted = g_new (double, bursts->len);
  for (guint i = 0; i < bursts->len; i++)
    sorted[i] = g_array_index (bursts, Burst, i).cpu_ms;
  qsort (sorted, bursts->len, sizeof *sorted, compare_double);
  median = sorted[bursts->len / 2];
  {
    g_autofree double *rollup = g_new (double, bursts->len);
    g_autofree double *walls = g_new (double, bursts->len);
    guint n_walls = 0;

    for (guint i = 0; i < bursts->len; i++)
      {
        Burst *b = &g_array_index (bursts, Burst, i);
        gboolean detail = b->cpu_ms > 3 * median;

        printf ("  burst at %6.2f s: cpu %8.3f ms, wall <= %8.3f ms%s\n", b->at_s, b->cpu_ms,
                b->wall_ms, detail ? "  (detail pass + tick)" : "");
        if (detail)
          {
            n_detail++;
            detail_sum += b->cpu_ms;
          }
        else
          {
            rollup[n_rollup++] = b->cpu_ms;
            rollup_sum += b->cpu_ms;
            walls[n_walls++] = b->wall_ms;
          }
      }
    qsort (rollup, n_rollup, sizeof *rollup, compare_double);
    qsort (walls, n_walls, sizeof *walls, compare_double);
    printf ("RESULT window_s=%.2f interval_s=%g bursts=%u rollup_ticks=%u detail_bursts=%u "
            "tick_cpu_ms_median=%.3f tick_cpu_ms_mean=%.3f tick_cpu_ms_min=%.3f "
            "tick_cpu_ms_max=%.3f tick_wall_ms_median=%.3f detail_cpu_ms_mean=%.3f "
            "total_cpu_ms=%.3f ticks_in_window=%.0f amortised_cpu_ms=%.3f stat_cpu_ms=%.0f "
            "stat_amortised_cpu_ms=%.3f\n",
            (double) (prev_t - t0) / 1e9, interval_s, bursts->len, n_rollup, n_detail,
            n_rollup ? rollup[n_rollup / 2] : 0, n_rollup ? rollup_sum / n_rollup : 0,
            n_rollup ? rollup[0] : 0, n_rollup ? rollup[n_rollup - 1] : 0,
            n_walls ? walls[n_walls / 2] : 0, n_detail ? detail_sum / n_detail : 0, total_ms,
            (double) (n_rollup + n_detail), total_ms / (n_rollup + n_detail), stat1 - stat0,
            (stat1 - stat0) / (n_rollup + n_detail));
  }
  return 0;
}

/* ------------------------------------------------------------ subscribe */

typedef struct {
  guint signals;
  guint calls;
  guint errors;
} Counts;

static void
on_memory_changed (GDBusConnection *c, const char *sender, const char *path, const char *iface,
                   const char *signal, GVariant *params, gpointer data)
{
  ((Counts *) data)->signals++;
}

static void
got_processes (GObject *source, GAsyncResult *result, gpointer data)
{
  Counts *counts = data;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result,
                                                             NULL);

  if (reply == NULL)
    counts->errors++;
  else
    counts->calls++;
}

static gboolean
on_second (gpointer data)
{
  GDBusConnection *c = g_object_get_data (G_OBJECT (data), "connection");

  g_dbus_connection_call (c, NAME, PATH, IFACE, "GetProcesses", NULL, G_VARIANT_TYPE ("(aa{sv})"),
                          G_DBUS_CALL_FLAGS_NONE, 30000, NULL, got_processes,
                          g_object_get_data (G_OBJECT (data), "counts"));
  return G_SOURCE_CONTINUE;
}

static gboolean
on_done (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

static int
mode_subscribe (const char *address, double seconds)
{
  g_autoptr(GDBusConnection) c = connect_to (address);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GObject) holder = g_object_new (G_TYPE_OBJECT, NULL);
  Counts counts = { 0 };
  guint id = 0;

  g_dbus_connection_signal_subscribe (c, NAME, IFACE, "MemoryChanged", PATH, NULL,
                                      G_DBUS_SIGNAL_FLAGS_NONE, on_memory_changed, &counts, NULL);
  reply = g_dbus_connection_call_sync (c, NAME, PATH, IFACE, "Subscribe",
                                       g_variant_new_parsed ("(@a{sv} {},)"),
                                       G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, 30000, NULL,
                                       &error);
  if (reply == NULL)
    {
      fprintf (stderr, "bench-client: Subscribe: %s\n", error->message);
      return 1;
    }
  g_variant_get (reply, "(u)", &id);
  g_object_set_data (holder, "connection", c);
  g_object_set_data (holder, "counts", &counts);
  g_timeout_add (1000, on_second, holder);
  g_timeout_add ((guint) (seconds * 1000), on_done, loop);
  g_unix_signal_add (SIGTERM, on_done, loop);
  g_main_loop_run (loop);
  printf ("RESULT subscription=%u memory_changed=%u get_processes=%u errors=%u\n", id,
          counts.signals, counts.calls, counts.errors);
  return 0;
}

/* ------------------------------------------------------------------ mix */

enum { MIX_SAMPLES, MIX_PROCESSES, MIX_HISTORY, MIX_DETAILS, MIX_GET, MIX_N };
static const char *const mix_names[MIX_N] = { "GetSamples", "GetProcesses", "GetHistory", "GetProcessDetails",
                                              "Get(Version)" };

/* What GDBus alone spends on REPLY (a method return's body, as received)
 * with no bus and no daemon: g_dbus_message_to_blob () as the daemon's
 * reply is sent, g_dbus_message_new_from_blob () as the client's is read.
 * Both walk the body one value at a time.  Medians of WIRE_ROUNDS, after
 * the mix, on a machine as loaded as during it. */
#define WIRE_ROUNDS 21

static void
print_wire_floor (const char *call, GVariant *reply)
{
  gint64 out[WIRE_ROUNDS], in[WIRE_ROUNDS];
  gsize size = 0;

  for (guint r = 0; r < WIRE_ROUNDS; r++)
    {
      g_autoptr(GDBusMessage) message = g_dbus_message_new_method_call (":1.1", PATH, IFACE, call);
      g_autoptr(GDBusMessage) parsed = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree guchar *blob = NULL;
      gint64 t0, t1;

      g_dbus_message_set_message_type (message, G_DBUS_MESSAGE_TYPE_METHOD_RETURN);
      g_dbus_message_set_reply_serial (message, 1);
      g_dbus_message_set_serial (message, 2);
      g_dbus_message_set_body (message, reply);
      t0 = now_ns ();
      blob = g_dbus_message_to_blob (message, &size, G_DBUS_CAPABILITY_FLAGS_NONE, &error);
      t1 = now_ns ();
      if (blob != NULL)
        parsed = g_dbus_message_new_from_blob (blob, size, G_DBUS_CAPABILITY_FLAGS_NONE, &error);
      if (parsed == NULL)
        {
          fprintf (stderr, "bench-client: %s's reply does not go through GDBus: %s\n", call, error->message);
          return;
        }
      out[r] = t1 - t0;
      in[r] = now_ns () - t1;
    }
  qsort (out, WIRE_ROUNDS, sizeof *out, compare_gint64);
  qsort (in, WIRE_ROUNDS, sizeof *in, compare_gint64);
  printf ("RESULT wire call=%s bytes=%zu serialise_ms=%.3f parse_ms=%.3f\n", call, size,
          (double) out[WIRE_ROUNDS / 2] / 1e6, (double) in[WIRE_ROUNDS / 2] / 1e6);
}

static int
mode_mix (const char *address, double seconds, double pace_ms, int pid, guint history_n, const char *pids_file)
{
  g_autoptr(GDBusConnection) c = connect_to (address);
  g_autoptr(GArray) live = g_array_new (FALSE, FALSE, sizeof (guint32));
  GArray *t[MIX_N];
  guint errors[MIX_N] = { 0 };
  gsize bytes[MIX_N] = { 0 };
  gint64 start = now_ns (), end = start + (gint64) (seconds * 1e9), next = start;
  gint64 own0 = own_cpu_ns (), their0 = pid > 0 ? thread_cpu_ns (pid) : 0;
  double stat0 = pid > 0 ? stat_cpu_ms (pid) : 0;
  guint round = 0;
  gsize listed = 0;
  g_autoptr(GVariant) last_processes = NULL;
  g_autoptr(GVariant) last_history = NULL;

  {
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;

    if (!g_file_get_contents (pids_file, &text, NULL, NULL))
      {
        fprintf (stderr, "bench-client: cannot read %s\n", pids_file);
        return 1;
      }
    lines = g_strsplit (text, "\n", -1);
    for (guint i = 0; lines[i] != NULL; i++)
      if (*lines[i] != '\0')
        {
          guint32 p = (guint32) g_ascii_strtoull (lines[i], NULL, 10);
          g_array_append_val (live, p);
        }
  }
  for (guint k = 0; k < MIX_N; k++)
    t[k] = g_array_new (FALSE, FALSE, sizeof (gint64));
  for (guint i = 0; now_ns () < end; i++)
    {
      guint k = i % MIX_N;
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) reply = NULL;
      gint64 t0, d;

      if (k == 0)
        round++;
      sleep_until_ns (next);
      next += (gint64) (pace_ms * 1e6);
      t0 = now_ns ();
      switch (k)
        {
        case MIX_SAMPLES:
          reply = call_get_samples (c, &error);
          break;
        case MIX_PROCESSES:
          reply = call_get_processes (c, &error);
          break;
        case MIX_HISTORY:
          {
            guint32 h = round % MAX (history_n, 1);
            gint64 now = g_get_real_time ();

            reply = g_dbus_connection_call_sync (
              c, NAME, PATH, IFACE, "GetHistory",
              g_variant_new ("(utxxd)", 100000 + h, (guint64) (1000 + h), now - G_GINT64_CONSTANT (86400000000),
                             now, 60.0),
              NULL, G_DBUS_CALL_FLAGS_NONE, 30000, NULL, &error);
          }
          break;
        case MIX_DETAILS:
          reply = g_dbus_connection_call_sync (
            c, NAME, PATH, IFACE, "GetProcessDetails",
            g_variant_new ("(u)", live->len > 0 ? g_array_index (live, guint32, round % live->len) : 1),
            G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE, 30000, NULL, &error);
          break;
        default:
          reply = call_get_version (c, &error);
          break;
        }
      d = now_ns () - t0;
      if (reply == NULL)
        {
          if (errors[k]++ == 0)
            fprintf (stderr, "bench-client: %s: %s\n", mix_names[k], error->message);
          continue;
        }
      g_array_append_val (t[k], d);
      bytes[k] = g_variant_get_size (reply);
      if (k == MIX_PROCESSES || k == MIX_HISTORY)
        {
          GVariant **last = k == MIX_PROCESSES ? &last_processes : &last_history;

          g_clear_pointer (last, g_variant_unref);
          *last = g_variant_ref (reply);
        }
      if (k == MIX_SAMPLES)
        {
          g_autoptr(GVariant) pids = g_variant_get_child_value (reply, 0);
          listed = g_variant_n_children (pids);
        }
    }
  {
    double wall_s = (double) (now_ns () - start) / 1e9;

    for (guint k = 0; k < MIX_N; k++)
      {
        guint n = t[k]->len;
        gint64 *v = (gint64 *) (void *) t[k]->data;

        if (n == 0)
          {
            printf ("RESULT call=%s n=0 errors=%u\n", mix_names[k], errors[k]);
            continue;
          }
        qsort (v, n, sizeof *v, compare_gint64);
        printf ("RESULT call=%s n=%u errors=%u reply_bytes=%zu p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f "
                "max_ms=%.3f\n",
                mix_names[k], n, errors[k], bytes[k], pct_ms (v, n, 50), pct_ms (v, n, 90), pct_ms (v, n, 99),
                (double) v[n - 1] / 1e6);
        g_array_unref (t[k]);
      }
    printf ("RESULT run wall_s=%.1f calls=%u listed=%zu detailed=%u daemon_cpu_ms=%.0f daemon_stat_cpu_ms=%.0f "
            "client_cpu_ms=%.0f\n",
            wall_s, round * MIX_N, listed, live->len,
            pid > 0 ? (double) (thread_cpu_ns (pid) - their0) / 1e6 : -1,
            pid > 0 ? stat_cpu_ms (pid) - stat0 : -1, (double) (own_cpu_ns () - own0) / 1e6);
  }
  if (last_processes != NULL)
    print_wire_floor ("GetProcesses", last_processes);
  if (last_history != NULL)
    print_wire_floor ("GetHistory", last_history);
  return 0;
}

int
main (int argc, char **argv)
{
  setvbuf (stdout, NULL, _IOLBF, 0);
  if (argc >= 3 && strcmp (argv[1], "wait") == 0)
    return mode_wait (argv[2], argc > 3 ? g_ascii_strtod (argv[3], NULL) : 30);
  if ((argc == 5 || argc == 6) && strcmp (argv[1], "latency") == 0)
    return mode_latency (argv[2], (guint) MAX (atoi (argv[3]), 1), g_ascii_strtod (argv[4], NULL),
                         argc == 6 ? atoi (argv[5]) : 0);
  if (argc == 5 && strcmp (argv[1], "cpu") == 0)
    return mode_cpu (atoi (argv[2]), g_ascii_strtod (argv[3], NULL), g_ascii_strtod (argv[4], NULL));
  if (argc == 8 && strcmp (argv[1], "mix") == 0)
    return mode_mix (argv[2], g_ascii_strtod (argv[3], NULL), g_ascii_strtod (argv[4], NULL), atoi (argv[5]),
                     (guint) atoi (argv[6]), argv[7]);
  if (argc == 4 && strcmp (argv[1], "subscribe") == 0)
    return mode_subscribe (argv[2], g_ascii_strtod (argv[3], NULL));
  fprintf (stderr,
           "usage: bench-client wait ADDRESS [TIMEOUT_S]\n"
           "       bench-client latency ADDRESS N PACE_MS [DAEMON_PID]\n"
           "       bench-client mix ADDRESS SECONDS PACE_MS DAEMON_PID HISTORY_N PIDS_FILE\n"
           "       bench-client cpu PID SECONDS INTERVAL_S\n"
           "       bench-client subscribe ADDRESS SECONDS\n");
  return 2;
}
