/* Runs the real pymemd on a private bus while an unprivileged user (nobody, through tests/abuse) tries to take each shared resource from everyone: root must still be served, the daemon's memory, CPU and log lines stay bounded. */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gio/gunixsocketaddress.h>

#include "testutil.h"

#define BUS_NAME      "org.pymemd.Monitor1"
#define MANAGER_PATH  "/org/pymemd/Monitor1"
#define MANAGER_IFACE "org.pymemd.Monitor1"
#define KIB           1024.0

/* AddressSanitizer keeps freed memory in quarantine, and its allocator
 * returns it late: the daemon's RSS says nothing of its own then. */
#ifdef __SANITIZE_ADDRESS__
#define RSS_IS_MEANINGFUL FALSE
#else
#define RSS_IS_MEANINGFUL TRUE
#endif

typedef struct {
  PymemdTestService service;
  char             *socket_path;
  gboolean          skipped;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  if (pymemd_test_setpriv () == NULL)
    {
      g_test_skip ("needs setpriv");
      f->skipped = TRUE;
      return;
    }
  if (!pymemd_test_service_start (&f->service, "2"))
    {
      f->skipped = TRUE;
      return;
    }
  f->socket_path = g_build_filename (f->service.runtime_dir, "helper.sock", NULL);
  for (guint i = 0; !g_file_test (f->socket_path, G_FILE_TEST_EXISTS); i++)
    {
      g_assert_cmpuint (i, <, 300); /* 30 s */
      g_usleep (100000);
    }
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  pymemd_test_service_stop (&f->service);
  g_free (f->socket_path);
}

/* ------------------------------------------------------------- the daemon */

static char *
daemon_file (Fixture *f, const char *name)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/%s", f->service.daemon_pid, name);
  char *text = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  return text;
}

/* The daemon's resident memory in MiB. */
static double
daemon_rss_mib (Fixture *f)
{
  g_autofree char *status = daemon_file (f, "status");
  const char *rss = strstr (status, "\nVmRSS:");

  g_assert_nonnull (rss);
  return g_ascii_strtod (rss + strlen ("\nVmRSS:"), NULL) / KIB;
}

/* The daemon's CPU time (utime + stime) in seconds. */
static double
daemon_cpu_seconds (Fixture *f)
{
  g_autofree char *stat = daemon_file (f, "stat");
  g_auto(GStrv) fields = g_strsplit (strrchr (stat, ')') + 2, " ", -1);

  /* Fields 14 and 15; those after ")" start at field 3. */
  return (g_ascii_strtod (fields[11], NULL) + g_ascii_strtod (fields[12], NULL)) /
         (double) sysconf (_SC_CLK_TCK);
}

static guint
daemon_log_lines (Fixture *f)
{
  g_autofree char *path = g_build_filename (f->service.tmp, "pymemd.log", NULL);
  g_autofree char *log = NULL;
  guint lines = 0;

  g_assert_true (g_file_get_contents (path, &log, NULL, NULL));
  for (const char *p = log; *p != '\0'; p++)
    lines += *p == '\n';
  return lines;
}

/* ----------------------------------------------------------- the attacker */

/* tests/abuse ARGS as nobody; its RESULT line once it has printed it (held
 * modes keep their connections until abuse_end ()). */
static char *
abuse_start (PymemdTestChild *child, const char *const *args)
{
  g_autofree char *abuse = g_test_build_filename (G_TEST_BUILT, "abuse", NULL);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  char *line = NULL;

  g_ptr_array_add (argv, (gpointer) pymemd_test_setpriv ());
  g_ptr_array_add (argv, (gpointer) "--reuid=nobody");
  g_ptr_array_add (argv, (gpointer) "--regid=nogroup");
  g_ptr_array_add (argv, (gpointer) "--clear-groups");
  g_ptr_array_add (argv, abuse);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  g_assert_true (pymemd_test_child_spawn (child, (const char *const *) argv->pdata, &line, &error));
  g_assert_no_error (error);
  g_test_message ("nobody's abuse %s: %s", args[0], line);
  g_assert_true (g_str_has_prefix (line, "RESULT "));
  return line;
}

static void
abuse_end (PymemdTestChild *child)
{
  g_assert_cmpint (pymemd_test_child_finish (child, NULL, NULL), ==, 0);
}

/* tests/abuse ARGS as nobody, to its end: its RESULT line. */
static char *
abuse_run (const char *const *args)
{
  PymemdTestChild child;
  char *line = abuse_start (&child, args);

  abuse_end (&child);
  return line;
}

/* The value of KEY in a RESULT line ("RESULT key=value ..."). */
static char *
result_get (const char *line, const char *key)
{
  g_auto(GStrv) words = g_strsplit (line, " ", -1);
  gsize key_len = strlen (key);

  for (guint i = 0; words[i] != NULL; i++)
    if (strncmp (words[i], key, key_len) == 0 && words[i][key_len] == '=')
      return g_strdup (words[i] + key_len + 1);
  g_error ("no %s in “%s”", key, line);
}

static guint
result_count (const char *line, const char *key)
{
  g_autofree char *value = result_get (line, key);

  return (guint) g_ascii_strtoull (value, NULL, 10);
}

/* --------------------------------------------------------------- root */

/* Root's helper (this process, a valid hello) is accepted and kept. */
static void
assert_root_helper_served (Fixture *f)
{
  struct sockaddr_un sun = { .sun_family = AF_UNIX };
  g_autofree char *hello = g_strdup_printf (
    "{\"v\": 1, \"type\": \"hello\", \"pid\": %d, \"start_time\": %" G_GUINT64_FORMAT
    ", \"nonce\": null, \"python\": \"3.11.2\", \"implementation\": \"cpython\", "
    "\"how\": \"env\"}", (int) getpid (), pymemd_test_start_time (getpid ()));
  guint32 header = GUINT32_TO_BE ((guint32) strlen (hello));
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_strlcpy (sun.sun_path, f->socket_path, sizeof sun.sun_path);
  g_assert_cmpint (connect (fd, (struct sockaddr *) &sun, sizeof sun), ==, 0);
  g_assert_cmpint (send (fd, &header, sizeof header, MSG_NOSIGNAL), ==, sizeof header);
  g_assert_cmpint (send (fd, hello, strlen (hello), MSG_NOSIGNAL), ==, (gssize) strlen (hello));
  g_usleep (G_USEC_PER_SEC);
  if (pymemd_test_socket_closed (fd))
    g_error ("the daemon closed root's helper connection; see %s/pymemd.log", f->service.tmp);
  close (fd);
}

static GVariant *
call_manager (Fixture *f, const char *method, GVariant *args, GError **error)
{
  return g_dbus_connection_call_sync (f->service.conn, BUS_NAME, MANAGER_PATH, MANAGER_IFACE,
                                      method, args, NULL, G_DBUS_CALL_FLAGS_NONE, 60000, NULL,
                                      error);
}

/* ------------------------------------------------------------------ tests */

/* 256 processes of one user with valid hellos took every helper connection
 * (256 in all): now that user holds 128, and root's helper is served. */
static void
test_helper_hellos (Fixture *f, gconstpointer data)
{
  PymemdTestChild attacker;
  g_autofree char *result = NULL;

  if (f->skipped)
    return;
  result = abuse_start (&attacker, (const char *[]){ "hellos", f->socket_path, "256", NULL });
  assert_root_helper_served (f);
  g_assert_cmpuint (result_count (result, "open"), ==, 128);
  abuse_end (&attacker);
}

/* 256 helpers, each a valid hello then 1 MiB - 1 of a 1 MiB frame, grew the
 * daemon by 263 MB, which stayed after they left: now a frame no request
 * asked for is refused on its header (the answers a request asked for are
 * bounded by their user's 8 MiB, tests/test-helper-channel), so none stays
 * open, and the memory goes back, round after round. */
static void
test_helper_frames (Fixture *f, gconstpointer data)
{
  double baseline;

  if (f->skipped)
    return;
  baseline = daemon_rss_mib (f);
  for (guint round = 1; round <= 2; round++)
    {
      PymemdTestChild attacker;
      g_autofree char *result = NULL;
      g_autofree char *seconds = NULL;
      double during, after;
      gint64 deadline;

      result = abuse_start (&attacker, (const char *[]){ "frames", f->socket_path, "256", NULL });
      during = daemon_rss_mib (f);
      g_test_message ("round %u: RSS %.1f MiB before, %.1f MiB with the frames", round, baseline,
                      during);
      assert_root_helper_served (f);
      seconds = result_get (result, "seconds");
      g_test_message ("round %u: the attack took %s s", round, seconds);
      g_assert_cmpuint (result_count (result, "open"), ==, 0);
      if (RSS_IS_MEANINGFUL)
        g_assert_cmpfloat (during - baseline, <, 24);
      abuse_end (&attacker);
      deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
      while ((after = daemon_rss_mib (f)) - baseline > 4 && RSS_IS_MEANINGFUL &&
             g_get_monotonic_time () < deadline)
        g_usleep (200000);
      g_test_message ("round %u: RSS %.1f MiB after they left", round, after);
      if (RSS_IS_MEANINGFUL)
        g_assert_cmpfloat (after - baseline, <=, 4);
    }
}

/* Connecting and sending "\xff\xff\xff\xff" in a loop logged 44 500 lines a
 * second and took 70% of a core: now a few lines, little CPU, and root's
 * helper is served meanwhile. */
static void
test_helper_flood (Fixture *f, gconstpointer data)
{
  PymemdTestChild attacker;
  g_autofree char *result = NULL;
  double cpu, share;
  gint64 start;
  guint lines;

  if (f->skipped)
    return;
  lines = daemon_log_lines (f);
  cpu = daemon_cpu_seconds (f);
  start = g_get_monotonic_time ();
  result = abuse_start (&attacker, (const char *[]){ "flood", f->socket_path, "4", NULL });
  abuse_end (&attacker);
  share = (daemon_cpu_seconds (f) - cpu) / ((g_get_monotonic_time () - start) / 1e6);
  g_test_message ("%u log lines, %.0f%% of a core", daemon_log_lines (f) - lines, 100 * share);
  g_assert_cmpuint (result_count (result, "connections"), >, 100);
  g_assert_cmpuint (daemon_log_lines (f) - lines, <=, 20);
  g_assert_cmpfloat (share, <, 0.4);
  assert_root_helper_served (f);
}

/* Whether root's process PID has a helper the daemon took: asking it
 * without attaching is answered, or fails other than NotAttached. */
static gboolean
helper_connected (Fixture *f, GPid pid)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = call_manager (
    f, "GetHeapSummary", g_variant_new_parsed ("(%u, @t 0, @a{sv} {})", (guint32) pid), &error);

  if (reply == NULL && !g_dbus_error_is_remote_error (error))
    g_error ("GetHeapSummary: %s", error->message);
  if (reply == NULL)
    {
      g_autofree char *name = g_dbus_error_get_remote_error (error);

      if (g_strcmp0 (name, "org.pymemd.Error.NotAttached") != 0)
        g_error ("GetHeapSummary: %s", error->message);
    }
  return reply != NULL;
}

/* A daemon slow to accept (busy, or kept busy by a flood of connections)
 * leaves its socket's backlog full.  Root's helper, started then, must get
 * in as soon as there is room, not after the 1, 2, 4, 8 s of its back-off,
 * which a flood that kept the backlog full outlasted an attach's 15 s with:
 * its connect waits in the kernel for room, where a non-blocking one failed
 * at once (EAGAIN).  The daemon is stopped while the backlog is full, so
 * that the test does not depend on how fast this machine accepts. */
static void
test_helper_backlog_full (Fixture *f, gconstpointer data)
{
  PymemdTestChild helper;
  g_auto(GStrv) env = g_get_environ ();
  g_autoptr(GPtrArray) fillers = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GError) error = NULL;
  gint64 started;
  double took;
  const char *argv[] = { pymemd_test_python (), "-c",
                         "import sys\nprint('ready', flush=True)\nsys.stdin.readline()\n"
                         "import pymemd_helper\npymemd_helper.start(sys.argv[1])\n"
                         "sys.stdin.read()\n",
                         f->socket_path, NULL };

  if (f->skipped)
    return;
  env = g_environ_setenv (env, "PYTHONPATH", g_getenv ("PYMEMD_HELPER_DIR"), TRUE);
  g_assert_true (pymemd_test_child_spawn_env (&helper, argv, (const char *const *) env, NULL, &error));
  g_assert_no_error (error);
  pymemd_test_service_wait_pid (&f->service, helper.pid);
  g_assert_false (helper_connected (f, helper.pid));

  g_assert_cmpint (kill (f->service.daemon_pid, SIGSTOP), ==, 0);
  for (;;)
    {
      g_autoptr(GSocket) sock = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, 0, &error);
      g_autoptr(GSocketAddress) address = g_unix_socket_address_new (f->socket_path);

      g_assert_no_error (error);
      g_socket_set_blocking (sock, FALSE);
      if (!g_socket_connect (sock, address, NULL, &error))
        {
          /* Full: the next connect would wait. */
          g_assert_true (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK) ||
                         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PENDING));
          g_clear_error (&error);
          break;
        }
      g_ptr_array_add (fillers, g_steal_pointer (&sock));
      g_assert_cmpuint (fillers->len, <, 100000);
    }
  g_test_message ("the daemon's backlog was full after %u connections", fillers->len);
  started = g_get_monotonic_time ();
  pymemd_test_child_send (&helper, "start\n");
  g_usleep (G_USEC_PER_SEC / 4); /* the helper tries while it is full */
  g_assert_cmpint (kill (f->service.daemon_pid, SIGCONT), ==, 0);
  while (!helper_connected (f, helper.pid))
    {
      if (g_get_monotonic_time () - started > 20 * G_USEC_PER_SEC)
        g_error ("root's helper was not taken within 20 s; see %s/pymemd.log", f->service.tmp);
      g_usleep (20000);
    }
  took = (g_get_monotonic_time () - started) / 1e6;
  g_test_message ("root's helper was taken %.2f s after it started, 0.25 s after the daemon went on", took);
  /* Before its first retry, 1 s after it started. */
  g_assert_cmpfloat (took, <, 0.9);
  pymemd_test_child_stop (&helper);
}

/* One user's 256 bus connections with 16 subscriptions of 4096 pids each
 * took all 4096 subscriptions (root's watch got LimitExceeded) and 349 MB:
 * now that user holds 64, and root subscribes. */
static void
test_subscriptions (Fixture *f, gconstpointer data)
{
  PymemdTestChild attacker;
  g_autofree char *result = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  double baseline;

  if (f->skipped)
    return;
  baseline = daemon_rss_mib (f);
  result = abuse_start (&attacker, (const char *[]){ "subscribe", f->service.address, "64", "16",
                                                      "4096", NULL });
  g_assert_cmpuint (result_count (result, "ok"), ==, 64);
  g_assert_cmpuint (result_count (result, "refused"), ==, 64 * 16 - 64);
  {
    g_autofree char *name = result_get (result, "error");
    g_assert_cmpstr (name, ==, "org.pymemd.Error.LimitExceeded");
  }
  if (RSS_IS_MEANINGFUL)
    g_assert_cmpfloat (daemon_rss_mib (f) - baseline, <, 16);
  reply = call_manager (f, "Subscribe", g_variant_new_parsed ("(@a{sv} {},)"), &error);
  g_assert_no_error (error);
  abuse_end (&attacker);
}

/* 3 511 Rescan calls were answered in 0.6 s, whoever made them: now one
 * user gets 10 a minute (LimitExceeded after), and root's is answered. */
static void
test_rescan (Fixture *f, gconstpointer data)
{
  g_autofree char *result = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;

  if (f->skipped)
    return;
  result = abuse_run ((const char *[]){ "rescan", f->service.address, "8", "3", NULL });
  g_assert_cmpuint (result_count (result, "ok"), <=, 10);
  g_assert_cmpuint (result_count (result, "refused"), >, 0);
  {
    g_autofree char *name = result_get (result, "error");
    g_assert_cmpstr (name, ==, "org.pymemd.Error.LimitExceeded");
  }
  reply = call_manager (f, "Rescan", NULL, &error);
  g_assert_no_error (error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/limits/helper-hellos", test_helper_hellos);
  ADD ("/limits/helper-frames", test_helper_frames);
  ADD ("/limits/helper-flood", test_helper_flood);
  ADD ("/limits/helper-backlog-full", test_helper_backlog_full);
  ADD ("/limits/subscriptions", test_subscriptions);
  ADD ("/limits/rescan", test_rescan);
#undef ADD
  return g_test_run ();
}
