/* Runs the real pymemd as a service on a private system bus (the real D-Bus policy, polkit mocked by python3-dbusmock) against real Python processes: the API, signals, access control, reload, sd_notify and --replace. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include <sqlite3.h>

#include "pymemd-dbus-generated.h"
#include "testutil.h"

#define BUS_NAME      "org.pymemd.Monitor1"
#define MANAGER_PATH  "/org/pymemd/Monitor1"
#define MANAGER_IFACE "org.pymemd.Monitor1"
#define PROCESS_IFACE "org.pymemd.Process1"
#define PROCESS_PREFIX MANAGER_PATH "/process/"
#define INSPECT_ALL   "org.pymemd.inspect-all"
#define MIB           (G_GUINT64_CONSTANT (1) << 20)

/* A failed check with a message, reported like g_assert's (TAP "Bail out!"). */
#define fail(...)                                                                 \
  G_STMT_START                                                                    \
  {                                                                               \
    char *fail_message_ = g_strdup_printf (__VA_ARGS__);                          \
    g_assertion_message (G_LOG_DOMAIN, __FILE__, __LINE__, G_STRFUNC, fail_message_); \
    g_abort ();                                                                   \
  }                                                                               \
  G_STMT_END

/* An interpreter with 8 MiB of its own; each line N on its stdin makes it
 * allocate and touch N MiB more, then print "done". Ends at EOF, so it
 * outlives no test even where PR_SET_PDEATHSIG is cleared (setpriv). */
static const char child_code[] =
  "import sys\n"
  "b = bytearray(8 << 20)\n"
  "b[::4096] = b'x' * 2048\n"
  "print('ready', flush=True)\n"
  "held = []\n"
  "for line in sys.stdin:\n"
  "    n = int(line) << 20\n"
  "    a = bytearray(n)\n"
  "    a[::4096] = b'x' * (n >> 12)\n"
  "    held.append(a)\n"
  "    print('done', flush=True)\n";

/* ---- prerequisites ---- */

static const char *mock_python;
static char *setpriv_path;
static char *gdbus_path;

static void
check_prerequisites (void)
{
  setpriv_path = g_find_program_in_path ("setpriv");
  gdbus_path = g_find_program_in_path ("gdbus");
  mock_python = pymemd_test_dbusmock_python ();
}

static char *
expected_path (GPid pid)
{
  return g_strdup_printf (PROCESS_PREFIX "%d_%" G_GUINT64_FORMAT, pid, pymemd_test_start_time (pid));
}

static void
spawn_child (PymemdTestChild *child)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (pymemd_test_child_spawn_python (child, child_code, NULL, &error));
  g_assert_no_error (error);
}

static uid_t
nobody_uid (void)
{
  struct passwd *pw = getpwnam ("nobody");

  g_assert_nonnull (pw);
  return pw->pw_uid;
}

/* ---- the fixture: bus, polkit mock, daemons ---- */

typedef struct {
  GPid       pid;
  gboolean   valgrind; /* runs under valgrind */
  gboolean   exited;
  int        wait_status;
  gboolean   expect_exit;
  int        notify_fd;
  GThread   *notify_reader;
  gint       stop_reading; /* atomic */
  GMutex     notices_lock;
  char      *log;
  GPtrArray *notices; /* every line received on its NOTIFY_SOCKET */
} Daemon;

typedef struct {
  gboolean          skipped;
  PymemdTestService service; /* the bus, the polkit mock, fx->service.conn */
  double            patience; /* 1; more while a daemon runs under valgrind */
  Daemon           daemons[4];
  guint            n_daemons;
  guint            n_spawned; /* names each daemon's log and socket */
} Fixture;

#define wait_until pymemd_test_wait_until

static gboolean
never (gpointer data)
{
  return FALSE;
}

/* Keeps the main context running for SECONDS (signals are dispatched). */
static void
run_for (double seconds)
{
  wait_until (never, NULL, seconds);
}

static GVariant *
call (Fixture *fx, const char *dest, const char *path, const char *iface, const char *method,
      GVariant *args, const char *reply_type, GError **error)
{
  return g_dbus_connection_call_sync (fx->service.conn, dest, path, iface, method, args,
                                      reply_type != NULL ? G_VARIANT_TYPE (reply_type) : NULL,
                                      G_DBUS_CALL_FLAGS_NONE, 10000, NULL, error);
}

static GVariant *
call_manager (Fixture *fx, const char *method, GVariant *args, const char *reply_type,
              GError **error)
{
  return call (fx, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, method, args, reply_type, error);
}

static void
assert_dbus_error (const GError *error, const char *name)
{
  g_autofree char *remote = NULL;

  g_assert_nonnull (error);
  remote = g_dbus_error_get_remote_error (error);
  if (g_strcmp0 (remote, name) != 0)
    fail ("expected %s, got %s: %s", name, remote, error->message);
}

/* Takes D's notices as they come, on a thread of its own: the daemon's
 * sd_notify () blocks once 10 of them wait (net.unix.max_dgram_qlen), and
 * a test waiting for a reply, or for gdbus, runs no main context. */
static gpointer
read_notices (gpointer data)
{
  Daemon *d = data;

  while (!g_atomic_int_get (&d->stop_reading))
    {
      struct pollfd pfd = { d->notify_fd, POLLIN, 0 };
      char buf[4096];
      ssize_t n;

      if (poll (&pfd, 1, 50) <= 0)
        continue;
      while ((n = recv (d->notify_fd, buf, sizeof buf - 1, 0)) > 0)
        {
          g_auto(GStrv) lines = NULL;

          buf[n] = '\0';
          lines = g_strsplit (buf, "\n", -1);
          g_mutex_lock (&d->notices_lock);
          for (guint i = 0; lines[i] != NULL; i++)
            if (lines[i][0] != '\0')
              g_ptr_array_add (d->notices, g_strdup (lines[i]));
          g_mutex_unlock (&d->notices_lock);
        }
    }
  return NULL;
}

static void
on_daemon_exit (GPid pid, int status, gpointer data)
{
  Daemon *d = data;

  d->exited = TRUE;
  d->wait_status = status;
  g_spawn_close_pid (pid);
}

static guint
count_notices (Daemon *d, const char *line)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&d->notices_lock);
  guint n = 0;

  for (guint i = 0; i < d->notices->len; i++)
    if (strcmp (g_ptr_array_index (d->notices, i), line) == 0)
      n++;
  return n;
}

static char *
last_status (Daemon *d)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&d->notices_lock);

  for (guint i = d->notices->len; i > 0; i--)
    if (g_str_has_prefix (g_ptr_array_index (d->notices, i - 1), "STATUS="))
      return g_strdup (g_ptr_array_index (d->notices, i - 1));
  return NULL;
}

static char *
read_log (Daemon *d)
{
  char *text = NULL;

  g_assert_true (g_file_get_contents (d->log, &text, NULL, NULL));
  return text;
}

/* Starts pymemd on the fixture's bus with the NULL-terminated extra
 * arguments; its stderr goes to a log, its sd_notify messages to a socket
 * of its own. */
static Daemon *
daemon_spawn (Fixture *fx, ...)
{
  Daemon *d = &fx->daemons[fx->n_daemons];
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *notify_path = g_strdup_printf ("%s/notify-%u", fx->service.tmp, fx->n_spawned);
  g_auto(GStrv) envp = g_get_environ ();
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  const char *arg;
  va_list args;

  g_assert_cmpuint (fx->n_daemons, <, G_N_ELEMENTS (fx->daemons));
  fx->n_daemons++;
  d->log = g_strdup_printf ("%s/pymemd-%u.log", fx->service.tmp, fx->n_spawned++);
  d->notices = g_ptr_array_new_with_free_func (g_free);
  g_mutex_init (&d->notices_lock);

  d->notify_fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  g_assert_cmpint (d->notify_fd, >=, 0);
  g_assert_cmpuint (strlen (notify_path), <, sizeof addr.sun_path);
  strcpy (addr.sun_path, notify_path);
  g_assert_cmpint (bind (d->notify_fd, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  d->notify_reader = g_thread_new ("notices", read_notices, d);

  envp = g_environ_setenv (envp, "DBUS_SYSTEM_BUS_ADDRESS", fx->service.address, TRUE);
  envp = g_environ_setenv (envp, "NOTIFY_SOCKET", notify_path, TRUE);
  envp = g_environ_unsetenv (envp, "WATCHDOG_USEC");
  envp = g_environ_unsetenv (envp, "WATCHDOG_PID");
  /* A critical in the daemon is a bug: make it fail the test. */
  if (g_environ_getenv (envp, "G_DEBUG") == NULL)
    envp = g_environ_setenv (envp, "G_DEBUG", "fatal-criticals", TRUE);

  /* Under valgrind when asked, so that a leak or a memory error of the
   * daemon fails daemon_stop () with valgrind's status 9. */
  for (const char *const *word = pymemd_test_daemon_valgrind_argv (); *word != NULL; word++)
    g_ptr_array_add (argv, (gpointer) *word);
  d->valgrind = *pymemd_test_daemon_valgrind_argv () != NULL;
  g_ptr_array_add (argv, (gpointer) g_getenv ("PYMEMD_BIN"));
  g_ptr_array_add (argv, (gpointer) "--address");
  g_ptr_array_add (argv, fx->service.address);
  g_ptr_array_add (argv, (gpointer) "--interval");
  g_ptr_array_add (argv, (gpointer) "0.5");
  g_ptr_array_add (argv, (gpointer) "--detail-interval");
  g_ptr_array_add (argv, (gpointer) "1");
  va_start (args, fx);
  while ((arg = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);

  d->pid = pymemd_test_spawn_logged ((const char *const *) argv->pdata, (const char *const *) envp, d->log,
                         NULL);
  g_child_watch_add (d->pid, on_daemon_exit, d);
  return d;
}

static GPid
owner_pid (Fixture *fx)
{
  g_autoptr(GVariant) reply = call (fx, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                    "org.freedesktop.DBus", "GetConnectionUnixProcessID",
                                    g_variant_new ("(s)", BUS_NAME), "(u)", NULL);
  guint32 pid = 0;

  if (reply != NULL)
    g_variant_get (reply, "(u)", &pid);
  return (GPid) pid;
}

typedef struct {
  Fixture *fx;
  Daemon  *d;
} DaemonWait;

static gboolean
daemon_ready_or_gone (gpointer data)
{
  DaemonWait *w = data;

  return w->d->exited ||
         (count_notices (w->d, "READY=1") > 0 && owner_pid (w->fx) == w->d->pid);
}

static gboolean
daemon_gone (gpointer data)
{
  return ((Daemon *) data)->exited;
}

/* Waits for READY=1 on the notify socket and for the daemon to own the name. */
static void
daemon_wait_ready (Fixture *fx, Daemon *d)
{
  DaemonWait w = { fx, d };

  if (!wait_until (daemon_ready_or_gone, &w, 15 * fx->patience) || d->exited)
    fail ("pymemd (pid %d) %s", d->pid,
             d->exited ? "exited before it was ready" : "was not ready in time");
}

static Daemon *
daemon_start (Fixture *fx)
{
  Daemon *d = daemon_spawn (fx, NULL);

  daemon_wait_ready (fx, d);
  return d;
}

static void
daemon_stop (Daemon *d)
{
  if (d->pid == 0)
    return;
  if (d->exited && !d->expect_exit)
    fail ("pymemd (pid %d) died during the test: wait status 0x%x", d->pid, d->wait_status);
  if (!d->exited)
    {
      kill (d->pid, SIGTERM);
      if (!wait_until (daemon_gone, d, pymemd_test_daemon_stop_seconds (d->valgrind)))
        {
          kill (d->pid, SIGKILL);
          fail ("pymemd (pid %d) did not stop within %.0f s of SIGTERM", d->pid,
                pymemd_test_daemon_stop_seconds (d->valgrind));
        }
      /* Not 0 also when LeakSanitizer or valgrind found a leak at its exit. */
      if (!WIFEXITED (d->wait_status) || WEXITSTATUS (d->wait_status) != 0)
        fail ("pymemd (pid %d) stopped with wait status 0x%x", d->pid, d->wait_status);
    }
  {
    /* A warning from GLib itself (an invalid id, a failed precondition) is
     * a bug in the daemon even when it survives it. */
    g_autofree char *log = read_log (d);
    if (strstr (log, "GLib-") != NULL)
      fail ("pymemd (pid %d) logged a GLib warning", d->pid);
  }
  g_atomic_int_set (&d->stop_reading, TRUE);
  g_thread_join (d->notify_reader);
  close (d->notify_fd);
  g_ptr_array_unref (d->notices);
  g_mutex_clear (&d->notices_lock);
  g_free (d->log);
  memset (d, 0, sizeof *d);
}

static void
fixture_setup (Fixture *fx, gconstpointer data)
{
  memset (fx, 0, sizeof *fx);
  fx->patience = 1;
  fx->skipped = !pymemd_test_service_start_system_bus (&fx->service);
}

static void
fixture_teardown (Fixture *fx, gconstpointer data)
{
  if (fx->skipped)
    return;
  for (guint i = 0; i < fx->n_daemons; i++)
    daemon_stop (&fx->daemons[i]);
  g_dbus_connection_close_sync (fx->service.conn, NULL, NULL);
  g_clear_object (&fx->service.conn);
  /* Let GLib drop what it still holds for the connection. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  pymemd_test_service_stop (&fx->service);
}

/* ---- helpers on the API ---- */

static GVariant *
get_processes (Fixture *fx)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = call_manager (fx, "GetProcesses", NULL, "(aa{sv})", &error);

  g_assert_no_error (error);
  return g_variant_get_child_value (reply, 0);
}

/* The a{sv} of PID in an aa{sv}, or NULL. */
static GVariant *
find_entry (GVariant *list, GPid pid)
{
  for (gsize i = 0; i < g_variant_n_children (list); i++)
    {
      g_autoptr(GVariant) entry = g_variant_get_child_value (list, i);
      guint32 p;

      if (g_variant_lookup (entry, "pid", "u", &p) && p == (guint32) pid)
        return g_steal_pointer (&entry);
    }
  return NULL;
}

static guint64
entry_uint64 (GVariant *entry, const char *key)
{
  guint64 v = 0;

  if (!g_variant_lookup (entry, key, "t", &v))
    fail ("no %s (t) in %s", key, g_variant_print (entry, FALSE));
  return v;
}

typedef struct {
  Fixture *fx;
  GPid     pid;
} Watched;

static gboolean
is_watched (gpointer data)
{
  Watched *w = data;
  g_autoptr(GError) error = NULL;
  gint64 sampled_at = pymemd_test_service_sampled_at (&w->fx->service, w->pid, &error);

  g_assert_no_error (error);
  /* -1, not listed, is before any ready time (0 for a child not spawned by testutil). */
  return sampled_at >= pymemd_test_ready_time (w->pid);
}

/* Until PID is listed with a sample taken since it was ready: one found
 * at its exec is listed at once with a sample of the program just started. */
static void
wait_watched (Fixture *fx, GPid pid)
{
  Watched w = { fx, pid };

  if (!wait_until (is_watched, &w, 5))
    fail ("pid %d was not watched within 5 s", pid);
}

static guint32
subscribe (Fixture *fx, GDBusConnection *conn, GVariant *options, GError **error)
{
  g_autoptr(GVariant) reply =
    g_dbus_connection_call_sync (conn, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "Subscribe",
                                 g_variant_new ("(@a{sv})", options), G_VARIANT_TYPE ("(u)"),
                                 G_DBUS_CALL_FLAGS_NONE, 10000, NULL, error);
  guint32 id = 0;

  if (reply != NULL)
    g_variant_get (reply, "(u)", &id);
  return id;
}

static GVariant *
no_options (void)
{
  return g_variant_new_parsed ("@a{sv} {}");
}

static GDBusConnection *
connect_bus (Fixture *fx)
{
  g_autoptr(GError) error = NULL;
  GDBusConnection *conn = g_dbus_connection_new_for_address_sync (
    fx->service.address,
    G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
    NULL, NULL, &error);

  g_assert_no_error (error);
  return conn;
}

static void
assert_close (const char *what, guint64 bus, guint64 once)
{
  guint64 diff = bus > once ? bus - once : once - bus;
  guint64 tolerance = MAX (MAX (bus, once) / 20, 256 * 1024); /* 5 %, or 256 KiB */

  if (diff > tolerance)
    fail ("%s: %" G_GUINT64_FORMAT " on the bus, %" G_GUINT64_FORMAT " from --once", what,
             bus, once);
}

/* ---- 1. GetProcesses and the objects agree with --once ---- */

static JsonObject *
once_process (JsonParser *parser, GPid pid, gboolean *exact)
{
  const char *argv[] = { g_getenv ("PYMEMD_BIN"), "--once", NULL };
  g_autofree char *out = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *report;
  JsonArray *processes;
  int status;

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                               &out, NULL, &status, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_true (json_parser_load_from_data (parser, out, -1, &error));
  g_assert_no_error (error);
  report = json_node_get_object (json_parser_get_root (parser));
  *exact = json_object_get_boolean_member (report, "exact");
  processes = json_object_get_array_member (report, "processes");
  for (guint i = 0; i < json_array_get_length (processes); i++)
    {
      JsonObject *p = json_array_get_object_element (processes, i);
      if (json_object_get_int_member (p, "pid") == pid)
        return p;
    }
  fail ("pid %d is not in the --once report", pid);
}

static void
test_get_processes (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GVariant) list = NULL;
  g_autoptr(GVariant) entry = NULL;
  g_autoptr(GVariant) objects = NULL;
  g_autoptr(GVariant) props = NULL;
  PymemdDbusMonitor1 *manager;
  PymemdDbusProcess1 *process;
  g_autoptr(GVariant) details = NULL;
  g_autofree char *path = NULL;
  g_autofree char *boot_id = NULL;
  g_autofree char *status = NULL;
  const char *s, *object_path;
  PymemdTestChild child;
  JsonObject *once;
  gboolean exact = FALSE, restricted = TRUE;
  Daemon *d;
  guint32 u;
  guint64 t;

  if (fx->skipped)
    return;
  spawn_child (&child);
  path = expected_path (child.pid);
  d = daemon_start (fx);

  /* sd_notify: ready, and a status line naming what is watched. */
  g_assert_cmpuint (count_notices (d, "READY=1"), ==, 1);
  status = last_status (d);
  g_assert_nonnull (status);
  g_assert_true (g_str_has_prefix (status, "STATUS=Watching "));
  g_assert_true (g_str_has_suffix (status, ", 0 subscriptions"));

  wait_watched (fx, child.pid);
  run_for (1.2); /* a detail pass and a couple of ticks on the idle child */
  list = get_processes (fx);
  once = once_process (parser, child.pid, &exact);
  entry = find_entry (list, child.pid);
  g_assert_nonnull (entry);
  {
    g_autofree char *printed = g_variant_print (entry, FALSE);
    g_test_message ("on the bus: %s", printed);
  }

  g_assert_true (g_variant_lookup (entry, "start_time", "t", &t));
  g_assert_cmpuint (t, ==, pymemd_test_start_time (child.pid));
  g_assert_cmpuint (t, ==, (guint64) json_object_get_int_member (once, "start_time"));
  g_assert_true (g_variant_lookup (entry, "uid", "u", &u));
  g_assert_cmpuint (u, ==, getuid ()); /* the child runs as the test's user */
  g_assert_cmpuint (u, ==, (guint64) json_object_get_int_member (once, "uid"));
  g_assert_true (g_variant_lookup (entry, "cmdline", "&s", &s));
  g_assert_cmpstr (s, ==, json_object_get_string_member (once, "cmdline"));
  g_assert_true (g_str_has_prefix (s, pymemd_test_python ()));
  g_assert_true (g_variant_lookup (entry, "python_version", "&s", &s));
  g_assert_cmpstr (s, !=, "");
  g_assert_cmpstr (s, ==, json_object_get_string_member (once, "python_version"));
  g_assert_true (g_variant_lookup (entry, "object_path", "&o", &object_path));
  g_assert_cmpstr (object_path, ==, path);
  g_assert_true (g_variant_lookup (entry, "restricted", "b", &restricted));
  g_assert_false (restricted);
  g_assert_cmpuint (entry_uint64 (entry, "private_dirty"), >=, 8 * MIB);
  assert_close ("rss", entry_uint64 (entry, "rss"), (guint64) json_object_get_int_member (once, "rss"));
  assert_close ("pss", entry_uint64 (entry, "pss"), (guint64) json_object_get_int_member (once, "pss"));
  assert_close ("uss", entry_uint64 (entry, "uss"), (guint64) json_object_get_int_member (once, "uss"));
  assert_close ("private_dirty", entry_uint64 (entry, "private_dirty"),
                (guint64) json_object_get_int_member (once, "private_dirty"));

  /* GetSamples: the same figures in columns, one row per process. */
  {
    g_autoptr(GVariant) samples = call_manager (fx, "GetSamples", NULL, "(auatauabatatatatat)",
                                                &error);
    g_autoptr(GVariant) pids = NULL, starts = NULL, hidden = NULL, rss = NULL, pss = NULL;
    g_autoptr(GVariant) uss = NULL, dirty = NULL;
    const guint32 *pid_col;
    const guint64 *col;
    const guint8 *hidden_col;
    gsize n, row;

    g_assert_no_error (error);
    pids = g_variant_get_child_value (samples, 0);
    starts = g_variant_get_child_value (samples, 1);
    hidden = g_variant_get_child_value (samples, 3);
    rss = g_variant_get_child_value (samples, 4);
    pss = g_variant_get_child_value (samples, 5);
    uss = g_variant_get_child_value (samples, 6);
    dirty = g_variant_get_child_value (samples, 7);
    pid_col = g_variant_get_fixed_array (pids, &n, sizeof (guint32));
    for (row = 0; row < n && pid_col[row] != (guint32) child.pid; row++)
      ;
    g_assert_cmpuint (row, <, n);
    for (guint i = 0; i < 8; i++)
      {
        g_autoptr(GVariant) column = g_variant_get_child_value (samples, i);
        g_assert_cmpuint (g_variant_n_children (column), ==, n);
      }
    col = g_variant_get_fixed_array (starts, &n, sizeof (guint64));
    g_assert_cmpuint (col[row], ==, t);
    hidden_col = g_variant_get_fixed_array (hidden, &n, 1);
    g_assert_cmpuint (hidden_col[row], ==, 0);
    assert_close ("samples rss", ((const guint64 *) g_variant_get_fixed_array (rss, &n, 8))[row],
                  entry_uint64 (entry, "rss"));
    assert_close ("samples pss", ((const guint64 *) g_variant_get_fixed_array (pss, &n, 8))[row],
                  entry_uint64 (entry, "pss"));
    assert_close ("samples uss", ((const guint64 *) g_variant_get_fixed_array (uss, &n, 8))[row],
                  entry_uint64 (entry, "uss"));
    assert_close ("samples private_dirty",
                  ((const guint64 *) g_variant_get_fixed_array (dirty, &n, 8))[row],
                  entry_uint64 (entry, "private_dirty"));
  }

  /* The object of the process, in GetManagedObjects and through the
   * generated proxy. */
  objects = call (fx, BUS_NAME, MANAGER_PATH, "org.freedesktop.DBus.ObjectManager",
                  "GetManagedObjects", NULL, "(a{oa{sa{sv}}})", &error);
  g_assert_no_error (error);
  {
    g_autoptr(GVariant) all = g_variant_get_child_value (objects, 0);
    g_autoptr(GVariant) ifaces = g_variant_lookup_value (all, path, G_VARIANT_TYPE ("a{sa{sv}}"));

    g_assert_nonnull (ifaces);
    props = g_variant_lookup_value (ifaces, PROCESS_IFACE, G_VARIANT_TYPE_VARDICT);
    g_assert_nonnull (props);
    g_assert_true (g_variant_lookup (props, "Pid", "u", &u));
    g_assert_cmpuint (u, ==, (guint32) child.pid);
    g_assert_true (g_variant_lookup (props, "StartTime", "t", &t));
    g_assert_cmpuint (t, ==, pymemd_test_start_time (child.pid));
    g_assert_true (g_variant_lookup (props, "Uid", "u", &u));
    g_assert_cmpuint (u, ==, getuid ());
    g_assert_true (g_variant_lookup (props, "Cmdline", "&s", &s));
    g_assert_cmpstr (s, ==, json_object_get_string_member (once, "cmdline"));
    g_assert_true (g_variant_lookup (props, "PythonVersion", "&s", &s));
    g_assert_cmpstr (s, ==, json_object_get_string_member (once, "python_version"));
    g_assert_true (g_variant_lookup (props, "Rss", "t", &t));
    assert_close ("Rss", t, (guint64) json_object_get_int_member (once, "rss"));
  }
  process = pymemd_dbus_process1_proxy_new_sync (fx->service.conn, G_DBUS_PROXY_FLAGS_NONE, BUS_NAME, path,
                                                 NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pymemd_dbus_process1_get_pid (process), ==, (guint) child.pid);
  g_assert_cmpuint (pymemd_dbus_process1_get_start_time (process), ==, pymemd_test_start_time (child.pid));
  g_assert_true (pymemd_dbus_process1_call_get_details_sync (process, G_DBUS_CALL_FLAGS_NONE, -1,
                                                            &details, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_variant_lookup (details, "pid", "u", &u));
  g_assert_cmpuint (u, ==, (guint32) child.pid);
  {
    g_autoptr(GVariant) categories = g_variant_lookup_value (details, "categories", NULL);
    g_assert_nonnull (categories);
    g_assert_cmpuint (g_variant_n_children (categories), >, 0);
  }
  g_object_unref (process);

  /* The manager's properties. */
  manager = pymemd_dbus_monitor1_proxy_new_sync (fx->service.conn, G_DBUS_PROXY_FLAGS_NONE, BUS_NAME,
                                                 MANAGER_PATH, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (pymemd_dbus_monitor1_get_version (manager), ==, PACKAGE_VERSION);
  g_assert_cmpfloat (pymemd_dbus_monitor1_get_interval (manager), ==, 0.5);
  g_assert_cmpfloat (pymemd_dbus_monitor1_get_detail_interval (manager), ==, 1.0);
  g_assert_cmpuint (pymemd_dbus_monitor1_get_process_count (manager), >=, 1);
  g_assert_true (g_file_get_contents ("/proc/sys/kernel/random/boot_id", &boot_id, NULL, NULL));
  g_assert_cmpstr (pymemd_dbus_monitor1_get_boot_id (manager), ==, g_strstrip (boot_id));
  /* Root reads page frame counts; another user's daemon cannot (the
   * kernel hides PFNs and /proc/kpagecount), and says so. */
  g_assert_cmpint (exact, ==, pymemd_test_is_root ());
  g_assert_cmpint (pymemd_dbus_monitor1_get_exact_available (manager), ==, pymemd_test_is_root ());
  {
    g_autoptr(GVariant) totals = pymemd_dbus_monitor1_dup_totals (manager);
    guint64 rss = 0;
    g_assert_true (g_variant_lookup (totals, "rss", "t", &rss));
    g_assert_cmpuint (rss, >=, entry_uint64 (entry, "rss"));
  }
  g_object_unref (manager);
  pymemd_test_child_stop (&child);
}

/* ---- 2. processes appear and disappear ---- */

typedef struct {
  GPtrArray *events; /* "+PATH" for InterfacesAdded, "-PATH" for InterfacesRemoved */
  char      *want;
} ObjectEvents;

static void
on_object_manager_signal (GDBusConnection *conn, const char *sender, const char *path,
                          const char *iface, const char *signal, GVariant *params, gpointer data)
{
  ObjectEvents *ev = data;
  const char *object;

  g_variant_get_child (params, 0, "&o", &object);
  g_ptr_array_add (ev->events, g_strconcat (strcmp (signal, "InterfacesAdded") == 0 ? "+" : "-",
                                            object, NULL));
}

static gboolean
has_event (gpointer data)
{
  ObjectEvents *ev = data;

  for (guint i = 0; i < ev->events->len; i++)
    if (strcmp (g_ptr_array_index (ev->events, i), ev->want) == 0)
      return TRUE;
  return FALSE;
}

static gboolean
has_object (Fixture *fx, const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) objects = call (fx, BUS_NAME, MANAGER_PATH,
                                      "org.freedesktop.DBus.ObjectManager", "GetManagedObjects",
                                      NULL, "(a{oa{sa{sv}}})", &error);
  g_autoptr(GVariant) all = NULL;
  g_autoptr(GVariant) ifaces = NULL;

  g_assert_no_error (error);
  all = g_variant_get_child_value (objects, 0);
  ifaces = g_variant_lookup_value (all, path, NULL);
  return ifaces != NULL;
}

static void
test_appear_disappear (Fixture *fx, gconstpointer data)
{
  ObjectEvents ev = { NULL, NULL };
  g_autofree char *path = NULL;
  PymemdTestChild child;
  guint sub;
  gint64 start;

  if (fx->skipped)
    return;
  daemon_start (fx);
  ev.events = g_ptr_array_new_with_free_func (g_free);
  sub = g_dbus_connection_signal_subscribe (fx->service.conn, NULL, "org.freedesktop.DBus.ObjectManager",
                                            NULL, MANAGER_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                            on_object_manager_signal, &ev, NULL);
  /* The match rule is in place once a call has made the round trip. */
  g_variant_unref (get_processes (fx));

  spawn_child (&child);
  start = g_get_monotonic_time ();
  path = expected_path (child.pid);
  ev.want = g_strconcat ("+", path, NULL);
  if (!wait_until (has_event, &ev, 2.0))
    fail ("no InterfacesAdded for %s within 2 s", path);
  g_test_message ("appeared after %.2f s", (g_get_monotonic_time () - start) / 1e6);
  g_assert_true (has_object (fx, path));

  pymemd_test_child_stop (&child);
  start = g_get_monotonic_time ();
  g_free (ev.want);
  ev.want = g_strconcat ("-", path, NULL);
  if (!wait_until (has_event, &ev, 2.0))
    fail ("no InterfacesRemoved for %s within 2 s", path);
  g_test_message ("gone after %.2f s", (g_get_monotonic_time () - start) / 1e6);
  g_assert_false (has_object (fx, path));

  g_dbus_connection_signal_unsubscribe (fx->service.conn, sub);
  g_free (ev.want);
  g_ptr_array_unref (ev.events);
}

/* ---- 3. MemoryChanged ---- */

typedef struct {
  guint32  subscription;
  char    *path;
  guint32  pid;
  guint64  start_time;
  guint64  pss;
} Change;

typedef struct {
  GArray  *changes; /* of Change */
  guint32  want_subscription;
} Changes;

static void
change_clear (gpointer data)
{
  g_free (((Change *) data)->path);
}

static void
on_memory_changed (GDBusConnection *conn, const char *sender, const char *path,
                   const char *iface, const char *signal, GVariant *params, gpointer data)
{
  Changes *changes = data;
  g_autoptr(GVariant) sample = NULL;
  Change c = { 0 };

  g_variant_get (params, "(uout@a{st})", &c.subscription, &c.path, &c.pid, &c.start_time, &sample);
  g_variant_lookup (sample, "pss", "t", &c.pss);
  g_array_append_val (changes->changes, c);
}

static Changes *
changes_new (void)
{
  Changes *changes = g_new0 (Changes, 1);

  changes->changes = g_array_new (FALSE, TRUE, sizeof (Change));
  g_array_set_clear_func (changes->changes, change_clear);
  return changes;
}

static void
changes_free (Changes *changes)
{
  g_array_unref (changes->changes);
  g_free (changes);
}

static guint
changes_for (Changes *changes, guint32 subscription)
{
  guint n = 0;

  for (guint i = 0; i < changes->changes->len; i++)
    if (g_array_index (changes->changes, Change, i).subscription == subscription)
      n++;
  return n;
}

static gboolean
has_change (gpointer data)
{
  Changes *changes = data;

  return changes_for (changes, changes->want_subscription) > 0;
}

static guint
subscribe_memory_changed (GDBusConnection *conn, Changes *changes)
{
  return g_dbus_connection_signal_subscribe (conn, NULL, MANAGER_IFACE, "MemoryChanged",
                                             MANAGER_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                             on_memory_changed, changes, NULL);
}

static void
test_memory_changed (Fixture *fx, gconstpointer data)
{
  g_autoptr(GDBusConnection) observer = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) list = NULL;
  g_autoptr(GVariant) entry = NULL;
  g_autofree char *path = NULL;
  g_autofree char *done = NULL;
  Changes *mine = changes_new ();
  Changes *theirs = changes_new ();
  PymemdTestChild busy, idle;
  guint sub_mine, sub_theirs;
  guint32 id, quiet_id;
  const Change *c = NULL;
  guint64 baseline;
  gint64 start;

  if (fx->skipped)
    return;
  spawn_child (&busy);
  spawn_child (&idle);
  path = expected_path (busy.pid);
  daemon_start (fx);
  wait_watched (fx, busy.pid);
  wait_watched (fx, idle.pid);

  /* A second client listening for the same signal must not get ours. */
  observer = connect_bus (fx);
  sub_theirs = subscribe_memory_changed (observer, theirs);
  sub_mine = subscribe_memory_changed (fx->service.conn, mine);

  list = get_processes (fx);
  entry = find_entry (list, busy.pid);
  baseline = entry_uint64 (entry, "pss");
  id = subscribe (fx, fx->service.conn,
                  g_variant_new_parsed ("{'pids': <[%u]>, 'min-change-bytes': <%t>}",
                                        (guint32) busy.pid, (guint64) (16 * MIB)),
                  &error);
  g_assert_no_error (error);
  g_assert_cmpuint (id, >, 0);

  pymemd_test_child_send (&busy, "32");
  start = g_get_monotonic_time ();
  done = pymemd_test_child_read_line (&busy, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (done, ==, "done");
  mine->want_subscription = id;
  if (!wait_until (has_change, mine, 3.0))
    fail ("no MemoryChanged for pid %d within 3 s of allocating 32 MiB", busy.pid);
  g_test_message ("MemoryChanged after %.2f s", (g_get_monotonic_time () - start) / 1e6);
  for (guint i = 0; i < mine->changes->len; i++)
    if (g_array_index (mine->changes, Change, i).subscription == id)
      c = &g_array_index (mine->changes, Change, i);
  g_assert_nonnull (c);
  g_assert_cmpuint (c->pid, ==, (guint32) busy.pid);
  g_assert_cmpstr (c->path, ==, path);
  g_assert_cmpuint (c->start_time, ==, pymemd_test_start_time (busy.pid));
  g_assert_cmpuint (c->pss, >=, baseline + 16 * MIB);
  /* Only for the pid asked for. */
  for (guint i = 0; i < mine->changes->len; i++)
    g_assert_cmpuint (g_array_index (mine->changes, Change, i).pid, ==, (guint32) busy.pid);

  /* An idle process: nothing to tell for two seconds. (Its share of the
   * interpreter's pages, under 2 MiB with three interpreters sharing them,
   * moves as other tests start and stop interpreters: 4 MiB is above that.) */
  quiet_id = subscribe (fx, fx->service.conn,
                        g_variant_new_parsed ("{'pids': <[%u]>, 'min-change-bytes': <%t>}",
                                              (guint32) idle.pid, (guint64) (4 * MIB)),
                        &error);
  g_assert_no_error (error);
  g_assert_cmpuint (quiet_id, !=, id);
  run_for (2.0);
  g_assert_cmpuint (changes_for (mine, quiet_id), ==, 0);
  /* Unicast: the observer saw none of it. */
  g_assert_cmpuint (theirs->changes->len, ==, 0);

  g_dbus_connection_signal_unsubscribe (fx->service.conn, sub_mine);
  g_dbus_connection_signal_unsubscribe (observer, sub_theirs);
  g_dbus_connection_close_sync (observer, NULL, NULL);
  changes_free (mine);
  changes_free (theirs);
  pymemd_test_child_stop (&busy);
  pymemd_test_child_stop (&idle);
}

/* ---- 4. a subscriber that leaves the bus loses its subscriptions ---- */

typedef struct {
  Daemon     *d;
  const char *suffix;
} StatusWait;

static gboolean
status_ends_with (gpointer data)
{
  StatusWait *w = data;
  g_autofree char *status = last_status (w->d);

  return status != NULL && g_str_has_suffix (status, w->suffix);
}

static void
wait_status (Daemon *d, const char *suffix)
{
  StatusWait w = { d, suffix };

  if (!wait_until (status_ends_with, &w, 3.0))
    {
      g_autofree char *status = last_status (d);
      fail ("the status did not end with \"%s\" within 3 s: %s", suffix, status);
    }
}

static void
test_subscriber_leaves (Fixture *fx, gconstpointer data)
{
  g_autoptr(GDBusConnection) client = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  guint32 theirs, mine;
  Daemon *d;

  if (fx->skipped)
    return;
  d = daemon_start (fx);
  client = connect_bus (fx);
  theirs = subscribe (fx, client, no_options (), &error);
  g_assert_no_error (error);
  subscribe (fx, client, no_options (), &error);
  g_assert_no_error (error);
  mine = subscribe (fx, fx->service.conn, no_options (), &error);
  g_assert_no_error (error);
  wait_status (d, ", 3 subscriptions");

  /* Another client's subscription cannot be cancelled by us. */
  reply = call_manager (fx, "Unsubscribe", g_variant_new ("(u)", theirs), NULL, &error);
  assert_dbus_error (error, "org.pymemd.Error.InvalidArgs");
  g_clear_error (&error);

  g_assert_true (g_dbus_connection_close_sync (client, NULL, &error));
  g_assert_no_error (error);
  wait_status (d, ", 1 subscriptions");

  /* And ours goes with Unsubscribe (the watch on us with it). */
  reply = call_manager (fx, "Unsubscribe", g_variant_new ("(u)", mine), "()", &error);
  g_assert_no_error (error);
  g_clear_pointer (&reply, g_variant_unref);
  wait_status (d, ", 0 subscriptions");
  reply = call_manager (fx, "Unsubscribe", g_variant_new ("(u)", mine), NULL, &error);
  assert_dbus_error (error, "org.pymemd.Error.InvalidArgs");
}

/* ---- 5. access control, as nobody ---- */

/* gdbus call as nobody in GROUPS (setpriv's --clear-groups or
 * --groups=…): TRUE if it succeeded. */
static gboolean
gdbus_as_nobody_in (Fixture *fx, PymemdTestRun *run, const char *groups, const char *path, const char *method,
                    const char *arg)
{
  const char *argv[] = { setpriv_path, "--reuid=nobody", "--regid=nogroup", groups,
                         gdbus_path, "call", "--address", fx->service.address, "--dest", BUS_NAME,
                         "--object-path", path, "--method", method, arg, NULL };
  g_autoptr(GError) error = NULL;

  g_assert_true (g_spawn_sync ("/", (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &run->out,
                               &run->err, &run->status, &error));
  g_assert_no_error (error);
  g_test_message ("as nobody (%s): %s %s -> %.300s%s%s", groups, method, arg != NULL ? arg : "", run->out,
                  strlen (run->out) > 300 ? "..." : "", run->err);
  return g_spawn_check_wait_status (run->status, NULL);
}

/* gdbus call as nobody: TRUE if it succeeded. */
static gboolean
gdbus_as_nobody (Fixture *fx, PymemdTestRun *run, const char *path, const char *method, const char *arg)
{
  return gdbus_as_nobody_in (fx, run, "--clear-groups", path, method, arg);
}

/* The same with up to five arguments (NULL ends them). */
static gboolean
gdbus_as_nobody_args (Fixture *fx, PymemdTestRun *run, const char *method, const char *a1, const char *a2,
                      const char *a3, const char *a4, const char *a5)
{
  const char *argv[] = { setpriv_path, "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                         gdbus_path, "call", "--address", fx->service.address, "--dest", BUS_NAME,
                         "--object-path", MANAGER_PATH, "--method", method, a1, a2, a3, a4, a5, NULL };
  g_autoptr(GError) error = NULL;

  g_assert_true (g_spawn_sync ("/", (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &run->out,
                               &run->err, &run->status, &error));
  g_assert_no_error (error);
  g_test_message ("as nobody: %s %s -> %.300s %s", method, a1, run->out, run->err);
  return g_spawn_check_wait_status (run->status, NULL);
}

/* GetProcesses as nobody, parsed. */
static GVariant *
nobody_get_processes (Fixture *fx)
{
  g_auto(PymemdTestRun) run = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  g_assert_true (gdbus_as_nobody (fx, &run, MANAGER_PATH, MANAGER_IFACE ".GetProcesses", NULL));
  reply = g_variant_parse (G_VARIANT_TYPE ("(aa{sv})"), run.out, NULL, NULL, &error);
  g_assert_no_error (error);
  return g_variant_get_child_value (reply, 0);
}

static void
set_allowed (Fixture *fx, const char *const *actions)
{
  pymemd_test_service_set_polkit_allowed (&fx->service, actions);
}

static const char *const detail_keys[] = {
  "pss", "pss_dirty", "uss", "shared_clean", "shared_dirty", "private_clean", "private_dirty",
  "anonymous", "swap_pss", "exact_uss", "exact_pss", "categories", "mappings", NULL
};

static void
test_access_control (Fixture *fx, gconstpointer data)
{
  const char *const none[] = { NULL };
  const char *const inspect_all[] = { INSPECT_ALL, NULL };
  g_autoptr(GVariant) list = NULL;
  g_autoptr(GVariant) root_entry = NULL;
  g_autoptr(GVariant) own_entry = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *pid_arg = NULL;
  g_autofree char *own_pid_arg = NULL;
  g_autofree char *root_path = NULL;
  g_autofree char *text = NULL;
  PymemdTestChild root_child, own_child;
  const char *s;
  gboolean restricted;
  guint32 uid;

  if (fx->skipped)
    return;
  if (!pymemd_test_need_root ("calls the daemon as nobody (setpriv --reuid)"))
    return;
  if (setpriv_path == NULL || gdbus_path == NULL)
    {
      g_test_skip ("needs setpriv and gdbus to call as nobody");
      return;
    }
  spawn_child (&root_child);
  {
    const char *argv[] = { setpriv_path, "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                           pymemd_test_python (), "-c", child_code, NULL };
    g_assert_true (pymemd_test_child_spawn (&own_child, argv, NULL, &error));
    g_assert_no_error (error);
  }
  root_path = expected_path (root_child.pid);
  pid_arg = g_strdup_printf ("%d", root_child.pid);
  own_pid_arg = g_strdup_printf ("%d", own_child.pid);
  daemon_start (fx);
  wait_watched (fx, root_child.pid);
  wait_watched (fx, own_child.pid);
  set_allowed (fx, none);

  /* Without the authorization: root's interpreters at /proc/PID/status
   * level, nobody's own in detail. */
  list = nobody_get_processes (fx);
  root_entry = find_entry (list, root_child.pid);
  g_assert_nonnull (root_entry);
  /* GetSamples as nobody: root's row restricted, its pss/uss/dirty 0;
   * nobody's own row in full. */
  {
    g_auto(PymemdTestRun) run = { 0 };
    g_autoptr(GVariant) samples = NULL;
    g_autoptr(GVariant) pids = NULL, hidden = NULL, pss = NULL;
    const guint32 *pid_col;
    const guint8 *hidden_col;
    const guint64 *pss_col;
    gsize n;
    guint seen = 0;

    g_assert_true (gdbus_as_nobody (fx, &run, MANAGER_PATH, MANAGER_IFACE ".GetSamples", NULL));
    samples = g_variant_parse (G_VARIANT_TYPE ("(auatauabatatatatat)"), run.out, NULL, NULL, &error);
    g_assert_no_error (error);
    pids = g_variant_get_child_value (samples, 0);
    hidden = g_variant_get_child_value (samples, 3);
    pss = g_variant_get_child_value (samples, 5);
    pid_col = g_variant_get_fixed_array (pids, &n, sizeof (guint32));
    hidden_col = g_variant_get_fixed_array (hidden, &n, 1);
    pss_col = g_variant_get_fixed_array (pss, &n, sizeof (guint64));
    for (gsize i = 0; i < n; i++)
      if (pid_col[i] == (guint32) root_child.pid)
        {
          g_assert_cmpuint (hidden_col[i], ==, 1);
          g_assert_cmpuint (pss_col[i], ==, 0);
          seen++;
        }
      else if (pid_col[i] == (guint32) own_child.pid)
        {
          g_assert_cmpuint (hidden_col[i], ==, 0);
          g_assert_cmpuint (pss_col[i], >, 0);
          seen++;
        }
    g_assert_cmpuint (seen, ==, 2);
  }
  text = g_variant_print (root_entry, FALSE);
  g_assert_true (g_variant_lookup (root_entry, "restricted", "b", &restricted));
  g_assert_true (restricted);
  g_assert_cmpuint (entry_uint64 (root_entry, "rss"), >=, 8 * MIB);
  g_assert_true (g_variant_lookup (root_entry, "cmdline", "&s", &s));
  g_assert_true (g_variant_lookup (root_entry, "uid", "u", &uid));
  g_assert_cmpuint (uid, ==, 0);
  g_assert_false (g_variant_lookup (root_entry, "pss", "t", NULL));
  for (gsize i = 0; i < g_variant_n_children (list); i++)
    {
      g_autoptr(GVariant) entry = g_variant_get_child_value (list, i);
      g_autofree char *printed = g_variant_print (entry, FALSE);

      g_assert_true (g_variant_lookup (entry, "uid", "u", &uid));
      g_assert_true (g_variant_lookup (entry, "restricted", "b", &restricted));
      g_assert_cmpint (restricted, ==, uid != nobody_uid ());
      if (restricted)
        for (guint k = 0; detail_keys[k] != NULL; k++)
          {
            g_autoptr(GVariant) value = g_variant_lookup_value (entry, detail_keys[k], NULL);
            if (value != NULL)
              fail ("a restricted entry has %s: %s", detail_keys[k], printed);
          }
    }
  g_assert_null (strstr (text, ".so")); /* no mapping paths */
  g_assert_null (strstr (text, "pss"));
  own_entry = find_entry (list, own_child.pid);
  g_assert_nonnull (own_entry);
  g_assert_true (g_variant_lookup (own_entry, "restricted", "b", &restricted));
  g_assert_false (restricted);
  g_assert_cmpuint (entry_uint64 (own_entry, "uss"), >=, 8 * MIB);

  {
    g_auto(PymemdTestRun) denied = { 0 };
    g_auto(PymemdTestRun) object_denied = { 0 };
    g_auto(PymemdTestRun) own = { 0 };

    g_assert_false (gdbus_as_nobody (fx, &denied, MANAGER_PATH, MANAGER_IFACE ".GetProcessDetails",
                                     pid_arg));
    g_assert_nonnull (strstr (denied.err, "org.pymemd.Error.AccessDenied"));
    g_assert_false (gdbus_as_nobody (fx, &object_denied, root_path, PROCESS_IFACE ".GetDetails",
                                     NULL));
    g_assert_nonnull (strstr (object_denied.err, "org.pymemd.Error.AccessDenied"));
    g_assert_true (gdbus_as_nobody (fx, &own, MANAGER_PATH, MANAGER_IFACE ".GetProcessDetails",
                                    own_pid_arg));
    g_assert_nonnull (strstr (own.out, "'categories'"));
  }

  /* With org.pymemd.inspect-all: everything. */
  set_allowed (fx, inspect_all);
  {
    g_auto(PymemdTestRun) allowed = { 0 };
    g_autoptr(GVariant) all = NULL;
    g_autoptr(GVariant) entry = NULL;

    g_assert_true (gdbus_as_nobody (fx, &allowed, MANAGER_PATH,
                                    MANAGER_IFACE ".GetProcessDetails", pid_arg));
    g_assert_nonnull (strstr (allowed.out, "'categories'"));
    g_assert_nonnull (strstr (allowed.out, "'pss'"));
    all = nobody_get_processes (fx);
    entry = find_entry (all, root_child.pid);
    g_assert_true (g_variant_lookup (entry, "restricted", "b", &restricted));
    g_assert_false (restricted);
    g_assert_cmpuint (entry_uint64 (entry, "pss"), >, 0);
  }
  set_allowed (fx, none);
  {
    g_auto(PymemdTestRun) denied_again = { 0 };
    g_assert_false (gdbus_as_nobody (fx, &denied_again, MANAGER_PATH,
                                     MANAGER_IFACE ".GetProcessDetails", pid_arg));
    g_assert_nonnull (strstr (denied_again.err, "org.pymemd.Error.AccessDenied"));
  }
  pymemd_test_child_stop (&root_child);
  pymemd_test_child_stop (&own_child);
}

/* ---- 6. invalid arguments ---- */

static void
expect_subscribe_error (Fixture *fx, GVariant *options, const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = g_variant_print (options, TRUE);

  g_variant_ref_sink (options);
  g_assert_cmpuint (subscribe (fx, fx->service.conn, options, &error), ==, 0);
  g_test_message ("Subscribe (%s): %s", text, error != NULL ? error->message : "no error");
  assert_dbus_error (error, name);
  g_variant_unref (options);
}

static void
test_invalid_args (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariantBuilder) many = g_variant_builder_new (G_VARIANT_TYPE_VARDICT);
  PymemdTestChild child;

  if (fx->skipped)
    return;
  spawn_child (&child);
  daemon_start (fx);
  wait_watched (fx, child.pid);

  reply = call_manager (fx, "GetProcessDetails", g_variant_new ("(u)", 999999999u), NULL, &error);
  assert_dbus_error (error, "org.pymemd.Error.NoSuchProcess");
  g_clear_error (&error);
  /* A live process that is not Python: this test program. */
  reply = call_manager (fx, "GetProcessDetails", g_variant_new ("(u)", (guint32) getpid ()), NULL,
                        &error);
  assert_dbus_error (error, "org.pymemd.Error.NoSuchProcess");
  g_clear_error (&error);

  expect_subscribe_error (fx, g_variant_new_parsed ("{'no-such-key': <true>}"),
                          "org.pymemd.Error.InvalidArgs");
  expect_subscribe_error (fx, g_variant_new_parsed ("{'pids': <[1, 2]>}"), /* ai, not au */
                          "org.pymemd.Error.InvalidArgs");
  expect_subscribe_error (fx, g_variant_new_parsed ("{'pids': <'1'>}"),
                          "org.pymemd.Error.InvalidArgs");
  expect_subscribe_error (fx, g_variant_new_parsed ("{'pids': <@au []>}"),
                          "org.pymemd.Error.InvalidArgs");
  /* pids parsed first, then a bad option. */
  expect_subscribe_error (fx, g_variant_new_parsed ("{'pids': <[uint32 1]>, 'min-change-bytes': <-1>}"),
                          "org.pymemd.Error.InvalidArgs");
  for (guint i = 0; i < 17; i++)
    {
      g_autofree char *key = g_strdup_printf ("key-%u", i);
      g_variant_builder_add (many, "{sv}", key, g_variant_new_boolean (TRUE));
    }
  expect_subscribe_error (fx, g_variant_builder_end (many), "org.pymemd.Error.InvalidArgs");
  expect_subscribe_error (fx, g_variant_new_parsed ("{'min-change-percent': <150.0>}"),
                          "org.pymemd.Error.InvalidArgs");
  expect_subscribe_error (fx, g_variant_new_parsed ("{'min-change-percent': <50>}"),
                          "org.pymemd.Error.InvalidArgs");
  expect_subscribe_error (fx, g_variant_new_parsed ("{'min-interval': <-1.0>}"),
                          "org.pymemd.Error.InvalidArgs");
  expect_subscribe_error (fx, g_variant_new_parsed ("{'min-interval': <1e300>}"),
                          "org.pymemd.Error.InvalidArgs");

  /* 16 subscriptions a client (the default), not 17. */
  for (guint i = 0; i < 16; i++)
    {
      g_assert_cmpuint (subscribe (fx, fx->service.conn, no_options (), &error), >, 0);
      g_assert_no_error (error);
    }
  expect_subscribe_error (fx, no_options (), "org.pymemd.Error.LimitExceeded");

  reply = call_manager (fx, "Unsubscribe", g_variant_new ("(u)", 12345u), NULL, &error);
  assert_dbus_error (error, "org.pymemd.Error.InvalidArgs");
  g_clear_error (&error);

  /* Still serving. */
  {
    g_autoptr(GVariant) list = get_processes (fx);
    g_autoptr(GVariant) entry = find_entry (list, child.pid);
    g_assert_nonnull (entry);
  }
  pymemd_test_child_stop (&child);
}

/* ---- 7. SIGHUP ---- */

typedef struct {
  Daemon *d;
  guint   ready_before;
} ReloadWait;

static gboolean
reloaded (gpointer data)
{
  ReloadWait *w = data;

  return count_notices (w->d, "READY=1") > w->ready_before;
}

/* Rewrites the configuration, sends SIGHUP and waits for the reload to end. */
static void
reload (Daemon *d, const char *path, const char *contents)
{
  guint reloading = count_notices (d, "RELOADING=1");
  ReloadWait w = { d, count_notices (d, "READY=1") };

  g_assert_true (g_file_set_contents (path, contents, -1, NULL));
  g_assert_cmpint (kill (d->pid, SIGHUP), ==, 0);
  if (!wait_until (reloaded, &w, 5.0))
    fail ("pymemd did not notify READY=1 within 5 s of SIGHUP");
  g_assert_cmpuint (count_notices (d, "RELOADING=1"), ==, reloading + 1);
  g_assert_false (d->exited);
}

static double
get_interval (Fixture *fx)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = call (fx, BUS_NAME, MANAGER_PATH, "org.freedesktop.DBus.Properties",
                                    "Get", g_variant_new ("(ss)", MANAGER_IFACE, "Interval"),
                                    "(v)", &error);
  g_autoptr(GVariant) value = NULL;

  g_assert_no_error (error);
  g_variant_get (reply, "(v)", &value);
  return g_variant_get_double (value);
}

static void
test_reload (Fixture *fx, gconstpointer data)
{
  g_autofree char *config = NULL;
  g_autofree char *log = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) client = NULL;
  Daemon *d;

  if (fx->skipped)
    return;
  config = g_build_filename (fx->service.tmp, "pymemd.conf", NULL);
  g_assert_true (g_file_set_contents (config, "[signals]\nmax-subscriptions-per-client=16\n", -1,
                                      NULL));
  d = daemon_spawn (fx, "--config", config, NULL);
  daemon_wait_ready (fx, d);
  g_assert_cmpfloat (get_interval (fx), ==, 0.5);

  reload (d, config, "this is not a key file\n[[[\n");
  g_assert_cmpfloat (get_interval (fx), ==, 0.5);
  reload (d, config, "[monitor]\ninterval=0.1\n");
  g_assert_cmpfloat (get_interval (fx), ==, 0.5);
  reload (d, config, "[signals]\nmax-subscriptions-per-client=0\n");
  log = read_log (d);
  g_assert_nonnull (strstr (log, "interval=0.1"));
  g_assert_nonnull (strstr (log, "Configuration not reloaded"));
  g_assert_null (strstr (log, "Configuration reloaded"));
  /* The old limit still holds: three subscriptions are fine. */
  client = connect_bus (fx);
  for (guint i = 0; i < 3; i++)
    {
      g_assert_cmpuint (subscribe (fx, client, no_options (), &error), >, 0);
      g_assert_no_error (error);
    }
  g_dbus_connection_close_sync (client, NULL, NULL);
  g_clear_object (&client);

  /* A valid file takes effect; the command line's interval still wins. */
  reload (d, config, "[monitor]\ninterval=5\n[signals]\nmax-subscriptions-per-client=2\n");
  g_free (log);
  log = read_log (d);
  g_assert_nonnull (strstr (log, "Configuration reloaded"));
  g_assert_cmpfloat (get_interval (fx), ==, 0.5);
  for (guint i = 0; i < 2; i++)
    {
      g_assert_cmpuint (subscribe (fx, fx->service.conn, no_options (), &error), >, 0);
      g_assert_no_error (error);
    }
  g_assert_cmpuint (subscribe (fx, fx->service.conn, no_options (), &error), ==, 0);
  assert_dbus_error (error, "org.pymemd.Error.LimitExceeded");
  g_clear_error (&error);

  /* [limits] too: the uid's share counts the subscriptions of all its
   * clients, those held already included. */
  reload (d, config, "[limits]\nsubscriptions-per-uid=3\n");
  client = connect_bus (fx);
  g_assert_cmpuint (subscribe (fx, client, no_options (), &error), >, 0);
  g_assert_no_error (error);
  g_assert_cmpuint (subscribe (fx, client, no_options (), &error), ==, 0);
  assert_dbus_error (error, "org.pymemd.Error.LimitExceeded");
  {
    g_autofree char *held = g_strdup_printf ("uid %u hold 3 subscriptions", (guint) getuid ());
    g_assert_nonnull (strstr (error->message, held));
  }
  g_dbus_connection_close_sync (client, NULL, NULL);
}

/* ---- 8. sd_notify and SIGTERM ---- */

static void
test_sigterm (Fixture *fx, gconstpointer data)
{
  Daemon *d;
  gint64 start;

  if (fx->skipped)
    return;
  d = daemon_start (fx);
  g_assert_cmpuint (count_notices (d, "READY=1"), ==, 1);
  g_assert_cmpint (kill (d->pid, SIGTERM), ==, 0);
  start = g_get_monotonic_time ();
  if (!wait_until (daemon_gone, d, 2.0))
    fail ("pymemd did not exit within 2 s of SIGTERM");
  g_test_message ("exited %.3f s after SIGTERM", (g_get_monotonic_time () - start) / 1e6);
  g_assert_true (WIFEXITED (d->wait_status));
  g_assert_cmpint (WEXITSTATUS (d->wait_status), ==, 0);
  g_assert_cmpuint (count_notices (d, "STOPPING=1"), ==, 1);
  d->expect_exit = TRUE;
  g_assert_cmpint (owner_pid (fx), ==, 0);
}

/* ---- 9. --replace ---- */

static void
test_replace (Fixture *fx, gconstpointer data)
{
  g_autofree char *log = NULL;
  Daemon *first, *refused, *second;

  if (fx->skipped)
    return;
  first = daemon_start (fx);

  /* Without --replace a second one gives up. */
  refused = daemon_spawn (fx, NULL);
  if (!wait_until (daemon_gone, refused, 10.0))
    fail ("a second pymemd without --replace did not exit");
  refused->expect_exit = TRUE;
  g_assert_true (WIFEXITED (refused->wait_status));
  g_assert_cmpint (WEXITSTATUS (refused->wait_status), ==, 1);
  log = read_log (refused);
  g_assert_nonnull (strstr (log, "--replace"));
  g_assert_cmpuint (count_notices (refused, "READY=1"), ==, 0);
  g_assert_false (first->exited);
  daemon_stop (refused);
  fx->n_daemons--;

  second = daemon_spawn (fx, "--replace", NULL);
  daemon_wait_ready (fx, second);
  if (!wait_until (daemon_gone, first, 5.0))
    fail ("the replaced pymemd did not exit within 5 s");
  first->expect_exit = TRUE;
  g_assert_true (WIFEXITED (first->wait_status));
  g_assert_cmpint (WEXITSTATUS (first->wait_status), ==, 1);
  g_free (log);
  log = read_log (first);
  g_assert_nonnull (strstr (log, "taken over"));
  g_assert_cmpint (owner_pid (fx), ==, second->pid);
  g_variant_unref (get_processes (fx));
}


/* ---- 10. history ---- */

#define SECOND_US G_GINT64_CONSTANT (1000000)

/* A state directory (DIR/state) and a configuration (DIR/pymemd.conf) with
 * the [history] lines given. */
static char *
history_setup (Fixture *fx, const char *history_lines, char **config_path)
{
  g_autoptr(GError) error = NULL;
  char *state = g_build_filename (fx->service.tmp, "state", NULL);
  g_autofree char *text = g_strdup_printf ("[history]\n%s", history_lines);

  g_assert_cmpint (g_mkdir_with_parents (state, 0700), ==, 0);
  *config_path = g_build_filename (fx->service.tmp, "pymemd.conf", NULL);
  g_assert_true (g_file_set_contents (*config_path, text, -1, &error));
  g_assert_no_error (error);
  return state;
}

static char *
history_state (Fixture *fx)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = call (fx, BUS_NAME, MANAGER_PATH, "org.freedesktop.DBus.Properties", "Get",
                                    g_variant_new ("(ss)", MANAGER_IFACE, "HistoryState"), "(v)", &error);
  g_autoptr(GVariant) value = NULL;

  g_assert_no_error (error);
  g_variant_get (reply, "(v)", &value);
  return g_variant_dup_string (value, NULL);
}

typedef struct {
  Fixture    *fx;
  const char *state;
} StateWait;

static gboolean
has_state (gpointer data)
{
  StateWait *w = data;
  g_autofree char *state = history_state (w->fx);

  return g_str_equal (state, w->state);
}

static void
wait_state (Fixture *fx, const char *state, double seconds)
{
  StateWait w = { fx, state };

  if (!wait_until (has_state, &w, seconds))
    {
      g_autofree char *now = history_state (fx);
      fail ("HistoryState stayed \"%s\", not \"%s\", for %g s", now, state, seconds);
    }
}

/* GetHistory of PID at RESOLUTION seconds since SINCE_US: the bucket times. */
static GArray *
history_times (Fixture *fx, guint32 pid, gint64 since_us, double resolution, GVariant **info, GError **error)
{
  g_autoptr(GVariant) reply = call_manager (fx, "GetHistory",
                                            g_variant_new ("(utxxd)", pid, (guint64) 0, since_us, (gint64) 0,
                                                           resolution),
                                            "(a{sv}axauatatatatatatatatat)", error);
  g_autoptr(GVariant) t = NULL;
  GArray *times;
  const gint64 *data;
  gsize n = 0;

  if (reply == NULL)
    return NULL;
  if (info != NULL)
    *info = g_variant_get_child_value (reply, 0);
  t = g_variant_get_child_value (reply, 1);
  data = g_variant_get_fixed_array (t, &n, sizeof (gint64));
  times = g_array_sized_new (FALSE, FALSE, sizeof (gint64), (guint) n);
  g_array_append_vals (times, data, (guint) n);
  return times;
}

static guint
count_between (GArray *times, gint64 from, gint64 to)
{
  guint n = 0;

  for (guint i = 0; i < times->len; i++)
    n += g_array_index (times, gint64, i) >= from && g_array_index (times, gint64, i) < to;
  return n;
}

/* Fails unless every bucket of EARLIER is in LATER; AGO_US is what the
 * message counts bucket times from. */
static void
assert_still_answered (GArray *earlier, GArray *later, const char *what, gint64 ago_us)
{
  for (guint i = 0; i < earlier->len; i++)
    {
      gint64 t = g_array_index (earlier, gint64, i);
      gboolean kept = FALSE;

      for (guint j = 0; j < later->len && !kept; j++)
        kept = g_array_index (later, gint64, j) == t;
      if (!kept)
        fail ("the bucket at %+.1f s, %s, is not answered (%u buckets now, %u then)", (t - ago_us) / 1e6, what,
              later->len, earlier->len);
    }
}

/* Runs until PID has samples in N 1-second buckets from SINCE_US's on. */
static void
wait_samples (Fixture *fx, GPid pid, gint64 since_us, guint n)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) (15 * fx->patience * SECOND_US);
  guint have = 0;

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GArray) times = history_times (fx, (guint32) pid, since_us, 1, NULL, &error);

      g_assert_no_error (error);
      have = times->len;
      if (have >= n)
        return;
      if (g_get_monotonic_time () > deadline)
        fail ("pid %d had %u samples since %" G_GINT64_FORMAT ", not %u, in time", pid, have, since_us, n);
      run_for (0.25);
    }
}

static void
test_history_restart (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *config = NULL;
  g_autofree char *state = NULL;
  g_autoptr(GArray) times = NULL;
  g_autoptr(GVariant) info = NULL;
  g_autoptr(GVariant) ended = NULL;
  PymemdTestChild child = { 0 };
  gint64 start = g_get_real_time (), restart;
  GPid pid;
  Daemon *d;

  if (fx->skipped)
    return;
  state = history_setup (fx, "retry-seconds=1\n", &config);
  spawn_child (&child);
  d = daemon_spawn (fx, "--state-dir", state, "--config", config, NULL);
  daemon_wait_ready (fx, d);
  wait_watched (fx, child.pid);
  wait_state (fx, "ok", 10);
  wait_samples (fx, child.pid, start, 3);

  daemon_stop (d);
  restart = g_get_real_time ();
  d = daemon_spawn (fx, "--state-dir", state, "--config", config, NULL);
  daemon_wait_ready (fx, d);
  wait_samples (fx, child.pid, restart, 3);

  /* One query, samples from both runs, one process. */
  times = history_times (fx, (guint32) child.pid, start, 1, &info, &error);
  g_assert_no_error (error);
  /* Buckets are whole seconds: the one of the restart may hold both. */
  restart -= restart % SECOND_US;
  g_test_message ("%u buckets: %u before the restart, %u after", times->len,
                  count_between (times, 0, restart), count_between (times, restart + 1, G_MAXINT64));
  g_assert_cmpuint (count_between (times, 0, restart), >=, 2);
  g_assert_cmpuint (count_between (times, restart + 1, G_MAXINT64), >=, 2);
  {
    guint64 start_time = 0;
    const char *tier = NULL;

    g_assert_true (g_variant_lookup (info, "start_time", "t", &start_time));
    g_assert_cmpuint (start_time, ==, pymemd_test_start_time (child.pid));
    g_assert_true (g_variant_lookup (info, "tier", "&s", &tier));
    g_assert_cmpstr (tier, ==, "raw");
  }

  /* The minute tier (raw samples of the minute not yet consolidated
   * included) and the totals answer too. */
  {
    g_autoptr(GArray) minutes = history_times (fx, (guint32) child.pid, start, 60, NULL, &error);
    g_autoptr(GArray) totals = history_times (fx, 0, start, 1, NULL, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (minutes->len, >=, 1);
    g_assert_cmpuint (count_between (totals, restart + 1, G_MAXINT64), >=, 2);
  }

  /* Once it ends, it is listed as ended, and its history stays. */
  pid = child.pid;
  pymemd_test_child_stop (&child);
  child.pid = pid;
  {
    gint64 deadline = g_get_monotonic_time () + 10 * SECOND_US;
    gboolean found = FALSE;

    while (!found && g_get_monotonic_time () < deadline)
      {
        g_autoptr(GVariant) reply = call_manager (fx, "GetEndedProcesses", g_variant_new ("(x)", start),
                                                  "(aa{sv})", &error);
        g_autoptr(GVariant) list = NULL;

        g_assert_no_error (error);
        list = g_variant_get_child_value (reply, 0);
        g_clear_pointer (&ended, g_variant_unref);
        ended = find_entry (list, child.pid);
        found = ended != NULL;
        if (!found)
          run_for (0.25);
      }
    if (!found)
      fail ("pid %d not listed by GetEndedProcesses within 10 s of its end", child.pid);
  }
  {
    gint64 when = 0;

    g_assert_true (g_variant_lookup (ended, "ended", "x", &when));
    g_assert_cmpint (when, >, restart);
  }
  {
    guint before = times->len;

    g_clear_pointer (&times, g_array_unref);
    times = history_times (fx, (guint32) child.pid, start, 1, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (times->len, >=, before);
  }
}

/* Opens the store with SQLite itself. */
static sqlite3 *
open_store (const char *state)
{
  g_autofree char *path = g_build_filename (state, "history.db", NULL);
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
  return db;
}

static gint64
store_int (sqlite3 *db, const char *sql)
{
  sqlite3_stmt *s = NULL;
  gint64 v;

  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &s, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (s), ==, SQLITE_ROW);
  v = sqlite3_column_int64 (s, 0);
  sqlite3_finalize (s);
  return v;
}

static void
test_history_kill9 (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *config = NULL;
  g_autofree char *state = NULL;
  g_autoptr(GArray) times = NULL;
  PymemdTestChild child = { 0 };
  gint64 start = g_get_real_time ();
  sqlite3 *db;
  sqlite3_stmt *check = NULL;
  Daemon *d;

  if (fx->skipped)
    return;
  state = history_setup (fx, "", &config);
  spawn_child (&child);
  d = daemon_spawn (fx, "--state-dir", state, "--config", config, NULL);
  daemon_wait_ready (fx, d);
  wait_samples (fx, child.pid, start, 6);

  /* A reply shows only committed ticks: what this query saw must
   * survive. The daemon dies while it keeps writing. */
  times = history_times (fx, 0, start, 1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (kill (d->pid, SIGKILL), ==, 0);
  if (!wait_until (daemon_gone, d, 5))
    fail ("pymemd did not die of SIGKILL");
  d->expect_exit = TRUE;

  db = open_store (state);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "PRAGMA integrity_check", -1, &check, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (check), ==, SQLITE_ROW);
  g_assert_cmpstr ((const char *) sqlite3_column_text (check, 0), ==, "ok");
  sqlite3_finalize (check);
  {
    g_autofree char *sql = g_strdup_printf ("SELECT count (*) FROM samples WHERE process ="
                                            " (SELECT id FROM processes WHERE pid = 0) AND t >= %" G_GINT64_FORMAT,
                                            start);
    gint64 kept = store_int (db, sql);

    g_test_message ("the daemon had answered %u totals samples; %" G_GINT64_FORMAT " are in the store",
                    times->len, kept);
    g_assert_cmpint (kept, >=, times->len);
  }
  sqlite3_close (db);
  pymemd_test_child_stop (&child);
}

/* Writes LENGTH random bytes at OFFSET of PATH, as another program would;
 * returns them. */
static GBytes *
overwrite (const char *path, goffset offset, gsize length)
{
  guint8 *garbage = g_malloc (length);
  int fd = open (path, O_WRONLY | O_CLOEXEC);

  for (gsize i = 0; i < length; i++)
    garbage[i] = (guint8) g_random_int_range (0, 256);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (pwrite (fd, garbage, length, offset), ==, (gssize) length);
  close (fd);
  return g_bytes_new_take (garbage, length);
}

/* The page number of the samples' leaf at FRACTION of their key order. */
static gint64
samples_leaf (sqlite3 *db, double fraction)
{
  g_autofree char *sql = NULL;
  gint64 leaves = store_int (db, "SELECT count (*) FROM dbstat WHERE name = 'samples' AND pagetype = 'leaf'");

  g_assert_cmpint (leaves, >=, 3);
  sql = g_strdup_printf ("SELECT pageno FROM dbstat WHERE name = 'samples' AND pagetype = 'leaf'"
                         " ORDER BY path LIMIT 1 OFFSET %" G_GINT64_FORMAT, (gint64) (leaves * fraction));
  return store_int (db, sql);
}

/* The one history.db.corrupt-* in STATE, or NULL. */
static char *
find_aside (const char *state)
{
  g_autoptr(GDir) dir = g_dir_open (state, 0, NULL);
  char *aside = NULL;
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (name, "history.db.corrupt-") && !g_str_has_suffix (name, "-wal"))
      {
        g_assert_null (aside);
        aside = g_build_filename (state, name, NULL);
      }
  return aside;
}

/* Fails unless PATH holds GARBAGE at OFFSET. */
static void
assert_holds (const char *path, goffset offset, GBytes *garbage)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize length = 0, size = 0;
  const guint8 *expected = g_bytes_get_data (garbage, &size);

  g_assert_true (g_file_get_contents (path, &contents, &length, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (length, >=, offset + size);
  g_assert_cmpmem (contents + offset, size, expected, size);
}

/* The store at STATE passes PRAGMA integrity_check; returns how many raw
 * samples of PID it holds from before BEFORE_US. */
static gint64
sound_store_samples (const char *state, GPid pid, gint64 before_us)
{
  sqlite3 *db = open_store (state);
  g_autofree char *sql = g_strdup_printf ("SELECT count (*) FROM samples JOIN processes ON process = id"
                                          " WHERE pid = %d AND t < %" G_GINT64_FORMAT, pid, before_us);
  sqlite3_stmt *check = NULL;
  gint64 samples;

  g_assert_cmpint (sqlite3_prepare_v2 (db, "PRAGMA integrity_check", -1, &check, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (check), ==, SQLITE_ROW);
  g_assert_cmpstr ((const char *) sqlite3_column_text (check, 0), ==, "ok");
  sqlite3_finalize (check);
  samples = store_int (db, sql);
  sqlite3_close (db);
  return samples;
}

static guint
count_in_log (Daemon *d, const char *needle)
{
  g_autofree char *log = read_log (d);
  guint n = 0;

  for (const char *p = log; (p = strstr (p, needle)) != NULL; p++)
    n++;
  return n;
}

typedef struct {
  Daemon     *d;
  const char *needle;
} LogWait;

static gboolean
log_has (gpointer data)
{
  LogWait *w = data;

  return count_in_log (w->d, w->needle) > 0;
}

static void
test_history_corrupt (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *config = NULL;
  g_autofree char *state = NULL;
  g_autofree char *path = NULL;
  g_autofree char *aside = NULL;
  g_autofree char *contents = NULL;
  gsize length = 0;
  char garbage[16384];
  LogWait log_wait;
  Daemon *d;

  if (fx->skipped)
    return;
  state = history_setup (fx, "", &config);
  path = g_build_filename (state, "history.db", NULL);
  for (guint i = 0; i < sizeof garbage; i++)
    garbage[i] = (char) (i * 31 + 7);
  g_assert_true (g_file_set_contents (path, garbage, sizeof garbage, &error));
  g_assert_no_error (error);

  d = daemon_spawn (fx, "--state-dir", state, "--config", config, NULL);
  daemon_wait_ready (fx, d);
  /* The store is opened on a thread of its own, after READY. */
  log_wait = (LogWait) { d, "not a sound database" };
  if (!wait_until (log_has, &log_wait, 10))
    fail ("the corrupt store was not replaced within 10 s");
  wait_state (fx, "ok", 10);
  aside = find_aside (state);
  g_assert_nonnull (aside);
  g_assert_true (g_file_get_contents (aside, &contents, &length, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (contents, length, garbage, sizeof garbage);
}

/* ---- a store that cannot be written: full, read-only, locked ---- */

typedef enum { BREAK_FULL, BREAK_READ_ONLY, BREAK_LOCKED } Breakage;

static gboolean
mount_tmpfs (const char *dir, const char *options)
{
  const char *argv[] = { "mount", "-t", "tmpfs", "-o", options, "pymemd-test", dir, NULL };
  int status = -1;

  return g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                       G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status, NULL) &&
         g_spawn_check_wait_status (status, NULL);
}

static void
run_or_fail (const char *const *argv)
{
  g_autoptr(GError) error = NULL;
  int status = -1;

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status,
                               &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    fail ("%s %s failed", argv[0], argv[1]);
}

/* Fills the file system of DIR: returns the filler's path. */
static char *
fill_up (const char *dir)
{
  char *filler = g_build_filename (dir, "filler", NULL);
  static char block[65536];
  int fd = open (filler, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

  g_assert_cmpint (fd, >=, 0);
  while (write (fd, block, sizeof block) > 0)
    ;
  while (write (fd, block, 512) > 0)
    ;
  g_assert_cmpint (errno, ==, ENOSPC);
  close (fd);
  return filler;
}

static const char locker_code[] =
  "import sqlite3, sys\n"
  "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
  "db.execute('BEGIN IMMEDIATE')\n"
  "print('locked', flush=True)\n"
  "sys.stdin.readline()\n"
  "db.execute('ROLLBACK')\n";

static void
test_history_unwritable (Fixture *fx, gconstpointer data)
{
  Breakage breakage = GPOINTER_TO_INT (data);
  g_autoptr(GError) error = NULL;
  g_autofree char *config = NULL;
  g_autofree char *state = NULL;
  g_autofree char *filler = NULL;
  g_autoptr(GArray) times = NULL;
  g_autoptr(GArray) before = NULL;
  g_autoptr(GArray) during = NULL;
  PymemdTestChild child = { 0 }, locker = { 0 };
  gint64 start = g_get_real_time (), broken, mended;
  gboolean mounted = FALSE;

  if (fx->skipped)
    return;
  state = history_setup (fx, "retry-seconds=1\n", &config);
  if (breakage != BREAK_LOCKED)
    {
      if (!mount_tmpfs (state, "size=8m,mode=0700"))
        {
          g_test_skip ("needs to mount a tmpfs (root with CAP_SYS_ADMIN)");
          return;
        }
      mounted = TRUE;
    }
  spawn_child (&child);
  daemon_wait_ready (fx, daemon_spawn (fx, "--state-dir", state, "--config", config, NULL));
  wait_state (fx, "ok", 10);
  wait_samples (fx, child.pid, start, 3);
  before = history_times (fx, (guint32) child.pid, start, 1, NULL, &error);
  g_assert_no_error (error);

  broken = g_get_real_time ();
  switch (breakage)
    {
    case BREAK_FULL:
      filler = fill_up (state);
      break;
    case BREAK_READ_ONLY:
      {
        /* A file system that is read-only when the daemon starts (a busy
         * one cannot be remounted read-only under it). */
        const char *argv[] = { "mount", "-o", "remount,ro", state, NULL };

        daemon_stop (&fx->daemons[0]);
        run_or_fail (argv);
        daemon_wait_ready (fx, daemon_spawn (fx, "--state-dir", state, "--config", config, NULL));
      }
      break;
    case BREAK_LOCKED:
      {
        g_autofree char *db = g_build_filename (state, "history.db", NULL);
        const char *argv[] = { pymemd_test_python (), "-c", locker_code, db, NULL };

        g_assert_true (pymemd_test_child_spawn (&locker, argv, NULL, &error));
        g_assert_no_error (error);
      }
      break;
    }

  /* Accounting goes on; history is kept in memory and still answers,
   * together with what the file holds from before. */
  wait_state (fx, "degraded", 20);
  g_variant_unref (get_processes (fx));
  wait_samples (fx, child.pid, g_get_real_time (), 3);
  during = history_times (fx, (guint32) child.pid, start, 1, NULL, &error);
  g_assert_no_error (error);
  assert_still_answered (before, during, "answered before the store became unwritable", broken);

  mended = g_get_real_time ();
  switch (breakage)
    {
    case BREAK_FULL:
      g_assert_cmpint (g_unlink (filler), ==, 0);
      break;
    case BREAK_READ_ONLY:
      {
        const char *argv[] = { "mount", "-o", "remount,rw", state, NULL };
        run_or_fail (argv);
      }
      break;
    case BREAK_LOCKED:
      pymemd_test_child_send (&locker, "done");
      break;
    }
  wait_state (fx, "ok", 20);
  wait_samples (fx, child.pid, g_get_real_time (), 2);

  /* The file now has the samples of before, during and after. */
  times = history_times (fx, (guint32) child.pid, start, 1, NULL, &error);
  g_assert_no_error (error);
  /* What was answered from memory is in the file now. */
  assert_still_answered (during, times, "answered while the store was unwritable", broken);
  /* Buckets are whole seconds. */
  broken -= broken % SECOND_US;
  mended -= mended % SECOND_US;
  g_test_message ("1-second buckets: %u before, %u while unwritable, %u after", count_between (times, 0, broken),
                  count_between (times, broken + 1, mended), count_between (times, mended + 1, G_MAXINT64));
  g_assert_cmpuint (count_between (times, 0, broken), >=, 2);
  g_assert_cmpuint (count_between (times, broken + 1, mended), >=, 1);
  g_assert_cmpuint (count_between (times, mended + 1, G_MAXINT64), >=, 1);

  /* Said once, not once a tick. */
  {
    Daemon *d = &fx->daemons[fx->n_daemons - 1];
    g_autofree char *log = read_log (d);
    const char *p = log;
    guint said = 0;

    while ((p = strstr (p, "cannot be used")) != NULL)
      {
        said++;
        p++;
      }
    g_assert_cmpuint (said, ==, 1);
    g_assert_nonnull (strstr (log, "is written again"));
  }

  for (guint i = 0; i < fx->n_daemons; i++)
    daemon_stop (&fx->daemons[i]);
  if (locker.pid != 0)
    pymemd_test_child_stop (&locker);
  pymemd_test_child_stop (&child);
  if (mounted)
    {
      const char *argv[] = { "umount", "-l", state, NULL };
      run_or_fail (argv);
    }
}

/* ---- a store damaged under the daemon: overwritten, deleted, a bad page ---- */

typedef enum { DAMAGE_OVERWRITTEN, DAMAGE_DELETED, DAMAGE_BAD_PAGE } Damage;

/* Starts pymemd on the store in STATE with CHILD running; returns the
 * buckets of CHILD's history once there are 4 since START. */
static GArray *
start_with_history (Fixture *fx, const char *state, const char *config, PymemdTestChild *child, gint64 start,
                    Daemon **d)
{
  g_autoptr(GError) error = NULL;
  GArray *before;

  spawn_child (child);
  *d = daemon_spawn (fx, "--state-dir", state, "--config", config, NULL);
  daemon_wait_ready (fx, *d);
  wait_state (fx, "ok", 10);
  wait_samples (fx, child->pid, start, 4);
  before = history_times (fx, (guint32) child->pid, start, 1, NULL, &error);
  g_assert_no_error (error);
  return before;
}

/* 5000 raw samples 0.1 s apart from FROM_US on, of the process PROCESS
 * (an SQL expression) finds: a few pages of them. */
static void
add_older_samples (sqlite3 *db, const char *process, gint64 from_us)
{
  g_autofree char *sql = g_strdup_printf (
    "WITH RECURSIVE i (n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n < 4999)"
    " INSERT INTO samples SELECT (%s), %" G_GINT64_FORMAT " + n * 100000, 1000 + n, 1000 + n, 500, 250, 0 FROM i;"
    "PRAGMA wal_checkpoint(TRUNCATE);",
    process, from_us);

  gint64 begun = g_get_monotonic_time ();

  sqlite3_busy_timeout (db, 5000);
  g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  g_test_message ("5000 older samples written in %.2f s", (g_get_monotonic_time () - begun) / 1e6);
}

static void
test_history_damaged (Fixture *fx, gconstpointer data)
{
  Damage damage = GPOINTER_TO_INT (data);
  const char *said = damage == DAMAGE_DELETED ? "was deleted or replaced" : "is damaged";
  g_autoptr(GError) error = NULL;
  g_autofree char *config = NULL;
  g_autofree char *state = NULL;
  g_autofree char *path = NULL;
  g_autofree char *aside = NULL;
  g_autoptr(GArray) before = NULL;
  g_autoptr(GArray) totals = NULL;
  g_autoptr(GArray) during = NULL;
  g_autoptr(GArray) after = NULL;
  g_autoptr(GBytes) garbage = NULL;
  PymemdTestChild child = { 0 };
  gint64 start = g_get_real_time (), broken, noticed;
  guint written_again;
  goffset offset = 0;
  LogWait log_wait;
  Daemon *d;

  if (fx->skipped)
    return;
  /* Salvage waits for the retry, so that the degraded state can be seen:
   * long enough for the test to ask while degraded on a loaded machine
   * (the damage was seen 6.5 s late once, under ASan at load 10). */
  state = history_setup (fx, "retry-seconds=20\n", &config);
  path = g_build_filename (state, "history.db", NULL);
  before = start_with_history (fx, state, config, &child, start, &d);

  /* A tick's write can have waited past the busy timeout behind the
   * test's own insert, below, and been written again already. */
  written_again = count_in_log (d, "is written again");
  broken = g_get_real_time ();
  switch (damage)
    {
    case DAMAGE_OVERWRITTEN:
      garbage = overwrite (path, 0, 120 * 1024);
      break;
    case DAMAGE_DELETED:
      g_assert_cmpint (g_unlink (path), ==, 0);
      break;
    case DAMAGE_BAD_PAGE:
      {
        /* Older totals samples, a few pages of them, which no tick writes
         * again: once the WAL is checkpointed, the file itself has their
         * pages, and a question that reads them finds one broken. */
        sqlite3 *db = open_store (state);
        g_autoptr(GArray) totals_during = NULL;

        gint64 page_size = store_int (db, "PRAGMA page_size");

        add_older_samples (db, "SELECT id FROM processes WHERE pid = 0", start - 25 * 60 * SECOND_US);
        offset = (samples_leaf (db, 0.25) - 1) * page_size;
        sqlite3_close (db);
        /* The daemon's write of a tick may have waited behind that insert
         * past its busy timeout (valgrind makes the insert slow) and gone
         * to memory until its retry: the damage is to be found by a store
         * that is in use again, with a tick written after the insert. */
        wait_state (fx, "ok", 45);
        wait_samples (fx, child.pid, g_get_real_time (), 2);
        totals = history_times (fx, 0, start, 1, NULL, &error);
        g_assert_no_error (error);
        written_again = count_in_log (d, "is written again");
        broken = g_get_real_time ();
        garbage = overwrite (path, offset, (gsize) page_size);
        totals_during = history_times (fx, 0, start - 30 * 60 * SECOND_US, 1, NULL, &error);
        g_assert_no_error (error);
        assert_still_answered (totals, totals_during, "of the totals, answered before the damage", broken);
      }
      break;
    }

  /* Seen within a tick or two, said once; accounting goes on. */
  wait_state (fx, "degraded", 5);
  noticed = g_get_real_time ();
  log_wait = (LogWait) { d, said };
  if (!wait_until (log_has, &log_wait, 5))
    fail ("nothing logged of the damage");
  g_test_message ("degraded within %.2f s of the damage", (noticed - broken) / 1e6);
  g_variant_unref (get_processes (fx));

  /* What was answered before is answered still, from what the damaged file
   * gives and memory. */
  during = history_times (fx, (guint32) child.pid, start, 1, NULL, &error);
  g_assert_no_error (error);
  assert_still_answered (before, during, "answered before the damage", broken);
  {
    g_autofree char *now = history_state (fx);

    /* Otherwise the answer did not come from the damaged store. */
    if (g_strcmp0 (now, "degraded") != 0)
      fail ("HistoryState is \"%s\" already: the test could not ask while degraded", now);
  }

  /* Then saved into a fresh store at the same path, the damaged file kept. */
  wait_state (fx, "ok", 45);
  wait_samples (fx, child.pid, g_get_real_time (), 2);
  after = history_times (fx, (guint32) child.pid, start, 1, NULL, &error);
  g_assert_no_error (error);
  assert_still_answered (before, after, "answered before the damage", broken);
  assert_still_answered (during, after, "answered while degraded", broken);
  g_assert_cmpint (sound_store_samples (state, child.pid, broken), >=, (gint64) before->len);
  aside = find_aside (state);
  if (damage == DAMAGE_DELETED)
    g_assert_null (aside);
  else
    {
      g_assert_nonnull (aside);
      assert_holds (aside, offset, garbage);
    }
  g_assert_cmpuint (count_in_log (d, said), ==, 1);
  g_assert_cmpuint (count_in_log (d, "is written again"), ==, written_again + 1);

  daemon_stop (d);
  pymemd_test_child_stop (&child);
}

/* A store found corrupt at start: what can be read of it is saved into the
 * fresh one, and the corrupt file is kept aside as it was. */
static void
test_history_salvage_at_start (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *config = NULL;
  g_autofree char *state = NULL;
  g_autofree char *path = NULL;
  g_autofree char *aside = NULL;
  g_autoptr(GArray) before = NULL;
  g_autoptr(GArray) after = NULL;
  g_autoptr(GBytes) garbage = NULL;
  g_autoptr(GBytes) damaged = NULL;
  g_autofree char *contents = NULL;
  gsize length = 0;
  PymemdTestChild child = { 0 };
  gint64 start = g_get_real_time (), stopped, old = 0, kept = 0;
  goffset offset;
  sqlite3 *db;
  Daemon *d;

  if (fx->skipped)
    return;
  state = history_setup (fx, "", &config);
  path = g_build_filename (state, "history.db", NULL);
  before = start_with_history (fx, state, config, &child, start, &d);
  daemon_stop (d);
  stopped = g_get_real_time ();

  /* Enough older samples of an earlier boot for a few pages, and one of
   * their pages broken. */
  db = open_store (state);
  g_assert_cmpint (sqlite3_exec (db,
                                 "BEGIN;"
                                 "INSERT INTO processes (boot_id, pid, start_time, uid, exe, cmdline, first_seen,"
                                 " last_seen, ended) VALUES ('an-earlier-boot', 4242, 7, 0, '/usr/bin/python3',"
                                 " 'python3 old.py', 0, 0, 0);"
                                 "COMMIT;", NULL, NULL, NULL), ==, SQLITE_OK);
  add_older_samples (db, "SELECT id FROM processes WHERE boot_id = 'an-earlier-boot'", start - 20 * 60 * SECOND_US);
  old = store_int (db, "SELECT count (*) FROM samples WHERE process ="
                       " (SELECT id FROM processes WHERE boot_id = 'an-earlier-boot')");
  offset = (samples_leaf (db, 0.5) - 1) * store_int (db, "PRAGMA page_size");
  sqlite3_close (db);
  garbage = overwrite (path, offset, 4096);
  g_assert_true (g_file_get_contents (path, &contents, &length, &error));
  g_assert_no_error (error);
  damaged = g_bytes_new_take (g_steal_pointer (&contents), length);

  d = daemon_spawn (fx, "--state-dir", state, "--config", config, NULL);
  daemon_wait_ready (fx, d);
  wait_state (fx, "ok", 10);
  wait_samples (fx, child.pid, g_get_real_time (), 2);
  after = history_times (fx, (guint32) child.pid, start, 1, NULL, &error);
  g_assert_no_error (error);
  assert_still_answered (before, after, "answered before the restart", stopped);
  g_assert_cmpint (sound_store_samples (state, child.pid, stopped), >=, (gint64) before->len);
  db = open_store (state);
  kept = store_int (db, "SELECT count (*) FROM samples WHERE process ="
                        " (SELECT id FROM processes WHERE boot_id = 'an-earlier-boot')");
  sqlite3_close (db);
  g_test_message ("%" G_GINT64_FORMAT " of %" G_GINT64_FORMAT " older samples saved", kept, old);
  /* A page holds at most a few hundred of them. */
  g_assert_cmpint (kept, >=, old - 500);
  aside = find_aside (state);
  g_assert_nonnull (aside);
  assert_holds (aside, 0, damaged);
  g_assert_cmpuint (count_in_log (d, "rows saved"), ==, 1);
  daemon_stop (d);
  pymemd_test_child_stop (&child);
}

static void
test_history_access (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *config = NULL;
  g_autofree char *state = NULL;
  g_autofree char *arg = NULL;
  PymemdTestChild child = { 0 };
  gint64 start = g_get_real_time ();

  if (fx->skipped)
    return;
  if (!pymemd_test_need_root ("calls the daemon as nobody (setpriv --reuid)"))
    return;
  if (setpriv_path == NULL || gdbus_path == NULL)
    {
      g_test_skip ("needs setpriv and gdbus to call as nobody");
      return;
    }
  state = history_setup (fx, "", &config);
  spawn_child (&child);
  daemon_wait_ready (fx, daemon_spawn (fx, "--state-dir", state, "--config", config, NULL));
  wait_samples (fx, child.pid, start, 2);

  /* Root's process: nobody may not see its history (polkit denies), but
   * the totals, and who ended, are everyone's. */
  {
    g_auto(PymemdTestRun) run = { 0 };

    arg = g_strdup_printf ("%d", child.pid);
    g_assert_false (gdbus_as_nobody_args (fx, &run, MANAGER_IFACE ".GetHistory", arg, "0", "0", "0", "1"));
    g_assert_nonnull (strstr (run.err, "org.pymemd.Error.AccessDenied"));
  }
  {
    g_auto(PymemdTestRun) run = { 0 };

    g_assert_true (gdbus_as_nobody_args (fx, &run, MANAGER_IFACE ".GetHistory", "0", "0", "0", "0", "60"));
  }
  {
    g_auto(PymemdTestRun) run = { 0 };

    g_assert_false (gdbus_as_nobody_args (fx, &run, MANAGER_IFACE ".GetGrowth", arg, "0", "600", NULL, NULL));
    g_assert_nonnull (strstr (run.err, "org.pymemd.Error.AccessDenied"));
  }
  {
    g_auto(PymemdTestRun) run = { 0 };

    g_assert_true (gdbus_as_nobody_args (fx, &run, MANAGER_IFACE ".GetEndedProcesses", "0", NULL, NULL, NULL,
                                         NULL));
  }

  /* Bad arguments, each with its error. */
  {
    struct {
      GVariant   *args;
      const char *error;
    } cases[] = {
      { g_variant_new ("(utxxd)", 4194305u, (guint64) 0, (gint64) 0, (gint64) 0, 1.0), "NoSuchProcess" },
      { g_variant_new ("(utxxd)", (guint32) child.pid, (guint64) 0, (gint64) 2000, (gint64) 1000, 1.0),
        "InvalidArgs" },
      { g_variant_new ("(utxxd)", (guint32) child.pid, (guint64) 0, (gint64) -1, (gint64) 0, 1.0), "InvalidArgs" },
      { g_variant_new ("(utxxd)", (guint32) child.pid, (guint64) 0, (gint64) 0, (gint64) 0, 0.5), "InvalidArgs" },
      { g_variant_new ("(utxxd)", (guint32) child.pid, (guint64) 0, (gint64) 0, (gint64) 0, NAN), "InvalidArgs" },
      { g_variant_new ("(utxxd)", (guint32) child.pid, (guint64) 12345, (gint64) 0, (gint64) 0, 1.0),
        "NoSuchProcess" },
    };

    for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
      {
        g_autoptr(GVariant) reply = call_manager (fx, "GetHistory", cases[i].args, NULL, &error);
        g_autofree char *name = g_strconcat ("org.pymemd.Error.", cases[i].error, NULL);

        if (reply != NULL)
          fail ("case %u: a reply, not %s", i, name);
        assert_dbus_error (error, name);
        g_clear_error (&error);
      }
  }
  {
    g_autoptr(GVariant) reply = call_manager (fx, "GetGrowth", g_variant_new ("(utd)", (guint32) child.pid,
                                                                              (guint64) 0, 10.0), NULL, &error);
    assert_dbus_error (error, "org.pymemd.Error.InvalidArgs");
    g_clear_error (&error);
  }
  {
    g_autoptr(GVariant) reply = call_manager (fx, "GetGrowth", g_variant_new ("(utd)", 0u, (guint64) 0, 600.0),
                                              NULL, &error);
    assert_dbus_error (error, "org.pymemd.Error.InvalidArgs");
    g_clear_error (&error);
  }
  {
    g_autoptr(GVariant) reply = call_manager (fx, "GetEndedProcesses", g_variant_new ("(x)", (gint64) -1), NULL,
                                              &error);
    assert_dbus_error (error, "org.pymemd.Error.InvalidArgs");
    g_clear_error (&error);
  }
  pymemd_test_child_stop (&child);
}

static void
on_growth (GDBusConnection *conn, const char *sender, const char *path, const char *iface, const char *signal,
           GVariant *params, gpointer data)
{
  GArray *seen = data;
  guint32 sub, pid;
  guint64 start_time;
  double rate, window;
  const char *object;

  g_variant_get (params, "(u&outdd*)", &sub, &object, &pid, &start_time, &rate, &window, NULL);
  g_test_message ("GrowthSuspected: pid %u, %.0f bytes/h over %.0f s", pid, rate, window);
  g_array_append_val (seen, pid);
}

static gboolean
seen_pid (GArray *seen, GPid pid)
{
  for (guint i = 0; i < seen->len; i++)
    if (g_array_index (seen, guint32, i) == (guint32) pid)
      return TRUE;
  return FALSE;
}

static void
test_growth_suspected (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *config = NULL;
  g_autofree char *state = NULL;
  g_autoptr(GArray) seen = g_array_new (FALSE, FALSE, sizeof (guint32));
  PymemdTestChild grower = { 0 }, still = { 0 };
  gint64 deadline;
  guint signal_id;

  if (fx->skipped)
    return;
  /* 256 MiB per hour over a minute: measured every 15 s, once 30 s are seen;
   * the one that does not grow stays well below. */
  state = history_setup (fx, "growth-window-minutes=1\ngrowth-threshold-mib-per-hour=256\n", &config);
  spawn_child (&grower);
  spawn_child (&still);
  daemon_wait_ready (fx, daemon_spawn (fx, "--state-dir", state, "--config", config, NULL));
  wait_watched (fx, grower.pid);
  signal_id = g_dbus_connection_signal_subscribe (fx->service.conn, BUS_NAME, MANAGER_IFACE, "GrowthSuspected",
                                                  MANAGER_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_growth, seen,
                                                  NULL);
  g_assert_cmpuint (subscribe (fx, fx->service.conn, no_options (), &error), >, 0);
  g_assert_no_error (error);

  /* 1 MiB a second: 3.5 GiB an hour. */
  deadline = g_get_monotonic_time () + 90 * SECOND_US;
  while (!seen_pid (seen, grower.pid) && g_get_monotonic_time () < deadline)
    {
      g_autofree char *line = NULL;

      pymemd_test_child_send (&grower, "1");
      line = pymemd_test_child_read_line (&grower, &error);
      g_assert_no_error (error);
      run_for (1.0);
    }
  g_dbus_connection_signal_unsubscribe (fx->service.conn, signal_id);
  if (!seen_pid (seen, grower.pid))
    fail ("no GrowthSuspected within 90 s of steady growth");
  /* The daemon watches the whole host: another growing interpreter may be
   * named too, but never the one that does not grow. */
  g_assert_false (seen_pid (seen, still.pid));
  {
    g_autoptr(GVariant) reply = call_manager (fx, "GetGrowth", g_variant_new ("(utd)", (guint32) grower.pid,
                                                                              (guint64) 0, 60.0), "(du)", &error);
    double rate = 0;
    guint32 samples = 0;

    g_assert_no_error (error);
    g_variant_get (reply, "(du)", &rate, &samples);
    g_test_message ("GetGrowth: %.0f bytes/h on %u samples", rate, samples);
    g_assert_cmpfloat (rate, >, 1024.0 * 1024 * 1024);
    g_assert_cmpuint (samples, >=, 3);
  }
  pymemd_test_child_stop (&grower);
  pymemd_test_child_stop (&still);
}

/* ---- 9. what nobody sees, as the kernel would let it see /proc ---- */

/* child_code, made non-dumpable (prctl (PR_SET_DUMPABLE, 0)) by the word
 * "--undumpable" in its argument or, later, by a line "undumpable". */
static const char access_child_code[] =
  "import ctypes, sys\n"
  "def undumpable():\n"
  "    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)\n"
  "if '--undumpable' in ' '.join(sys.argv).split():\n"
  "    undumpable()\n"
  "b = bytearray(8 << 20)\n"
  "b[::4096] = b'x' * 2048\n"
  "print('ready', flush=True)\n"
  "held = []\n"
  "for line in sys.stdin:\n"
  "    if line.strip() == 'undumpable':\n"
  "        undumpable()\n"
  "    else:\n"
  "        n = int(line) << 20\n"
  "        a = bytearray(n)\n"
  "        a[::4096] = b'x' * (n >> 12)\n"
  "        held.append(a)\n"
  "    print('done', flush=True)\n";

static void
spawn_access_child (PymemdTestChild *child, const char *const *prefix, const char *python, const char *arg)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (pymemd_test_child_spawn_python_via (child, prefix, python, access_child_code, arg, &error));
  g_assert_no_error (error);
}

/* Sends LINE to CHILD and waits for its "done". */
static void
tell_child (PymemdTestChild *child, const char *line)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *answer = NULL;

  pymemd_test_child_send (child, line);
  answer = pymemd_test_child_read_line (child, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (answer, ==, "done");
}

static gboolean
needs_nobody (Fixture *fx)
{
  if (fx->skipped)
    return FALSE;
  if (!pymemd_test_need_root ("runs processes and calls as nobody (setpriv --reuid)"))
    return FALSE;
  if (setpriv_path == NULL || gdbus_path == NULL || getpwnam ("nobody") == NULL)
    {
      g_test_skip ("needs setpriv, gdbus and the user nobody");
      return FALSE;
    }
  return TRUE;
}

/* GetProcesses as nobody in GROUPS, parsed. */
static GVariant *
nobody_list (Fixture *fx, const char *groups)
{
  g_auto(PymemdTestRun) run = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  g_assert_true (gdbus_as_nobody_in (fx, &run, groups, MANAGER_PATH, MANAGER_IFACE ".GetProcesses", NULL));
  reply = g_variant_parse (G_VARIANT_TYPE ("(aa{sv})"), run.out, NULL, NULL, &error);
  g_assert_no_error (error);
  return g_variant_get_child_value (reply, 0);
}

/* Whether PID's entry in LIST is restricted; it must be there. */
static gboolean
listed_restricted (GVariant *list, GPid pid)
{
  g_autoptr(GVariant) entry = find_entry (list, pid);
  gboolean restricted;

  if (entry == NULL)
    fail ("pid %d is not listed", pid);
  g_assert_true (g_variant_lookup (entry, "restricted", "b", &restricted));
  return restricted;
}

/* Whether GetSamples as nobody lists PID, and with restricted set. */
static gboolean
nobody_samples_list (Fixture *fx, GPid pid, gboolean *restricted)
{
  g_auto(PymemdTestRun) run = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) samples = NULL, pids = NULL, hidden = NULL;
  const guint32 *pid_col;
  const guint8 *hidden_col;
  gsize n;

  g_assert_true (gdbus_as_nobody (fx, &run, MANAGER_PATH, MANAGER_IFACE ".GetSamples", NULL));
  samples = g_variant_parse (G_VARIANT_TYPE ("(auatauabatatatatat)"), run.out, NULL, NULL, &error);
  g_assert_no_error (error);
  pids = g_variant_get_child_value (samples, 0);
  hidden = g_variant_get_child_value (samples, 3);
  pid_col = g_variant_get_fixed_array (pids, &n, sizeof (guint32));
  hidden_col = g_variant_get_fixed_array (hidden, &n, 1);
  for (gsize i = 0; i < n; i++)
    if (pid_col[i] == (guint32) pid)
      {
        *restricted = hidden_col[i] != 0;
        return TRUE;
      }
  return FALSE;
}

/* A call as nobody about PID fails with org.pymemd.Error.ERROR. */
static void
assert_nobody_refused (Fixture *fx, const char *error_name, const char *method, GPid pid)
{
  g_auto(PymemdTestRun) run = { 0 };
  g_autofree char *arg = g_strdup_printf ("%d", pid);
  g_autofree char *expected = g_strconcat ("org.pymemd.Error.", error_name, NULL);
  gboolean ok;

  if (g_str_equal (method, "GetHistory"))
    ok = gdbus_as_nobody_args (fx, &run, MANAGER_IFACE ".GetHistory", arg, "0", "0", "0", "1");
  else
    ok = gdbus_as_nobody (fx, &run, MANAGER_PATH, method, arg);
  if (ok || strstr (run.err, expected) == NULL)
    fail ("%s of %d as nobody: not %s but %s%s", method, pid, expected, run.out, run.err);
}

typedef struct {
  Fixture *fx;
  GPid     pid;
  gboolean restricted;
} ListWait;

static gboolean
nobody_sees_restricted (gpointer data)
{
  ListWait *w = data;
  g_autoptr(GVariant) list = nobody_list (w->fx, "--clear-groups");
  g_autoptr(GVariant) entry = find_entry (list, w->pid);
  gboolean restricted;

  return entry != NULL && g_variant_lookup (entry, "restricted", "b", &restricted) && restricted == w->restricted;
}

/* The processes of issue 11 (4): one of nobody's that made itself
 * non-dumpable, one with nobody's real uid and root's effective uid (setpriv
 * sets the real uid alone: euid 0 at exec leaves it non-dumpable, as a
 * set-user-ID root program that execs python3 does), and a plain one of
 * nobody's; then the daemon, watching them, and polkit saying no. */
static void
start_with_children (Fixture *fx, PymemdTestChild *undumpable, PymemdTestChild *setuid_like, PymemdTestChild *own)
{
  const char *const as_nobody[] = { setpriv_path, "--reuid=nobody", "--regid=nogroup", "--clear-groups", NULL };
  const char *const real_uid_only[] = { setpriv_path, "--ruid=nobody", NULL };

  spawn_access_child (undumpable, as_nobody, NULL, "--undumpable");
  spawn_access_child (setuid_like, real_uid_only, NULL, NULL);
  spawn_access_child (own, as_nobody, NULL, NULL);
  daemon_start (fx);
  wait_watched (fx, undumpable->pid);
  wait_watched (fx, setuid_like->pid);
  wait_watched (fx, own->pid);
  set_allowed (fx, (const char *const[]){ NULL });
}

/* Issue 11 (4): a process of nobody's that made itself non-dumpable, and
 * one with nobody's real uid but root's effective uid (what a set-user-ID
 * root program that execs python3 leaves), are not nobody's to inspect:
 * the kernel lets nobody neither read their smaps nor ptrace them. */
static void
test_access_ptrace (Fixture *fx, gconstpointer data)
{
  const char *const as_nobody[] = { setpriv_path, "--reuid=nobody", "--regid=nogroup", "--clear-groups", NULL };
  PymemdTestChild undumpable, setuid_like, later, own;
  g_autoptr(GVariant) list = NULL;
  gint64 start = g_get_real_time ();
  gboolean restricted = FALSE;

  if (!needs_nobody (fx))
    return;
  start_with_children (fx, &undumpable, &setuid_like, &own);
  spawn_access_child (&later, as_nobody, NULL, NULL);
  wait_watched (fx, later.pid);

  list = nobody_list (fx, "--clear-groups");
  g_assert_true (listed_restricted (list, undumpable.pid));
  g_assert_true (listed_restricted (list, setuid_like.pid));
  g_assert_false (listed_restricted (list, later.pid));
  g_assert_false (listed_restricted (list, own.pid));
  g_assert_true (nobody_samples_list (fx, setuid_like.pid, &restricted));
  g_assert_true (restricted);
  g_assert_true (nobody_samples_list (fx, undumpable.pid, &restricted));
  g_assert_true (restricted);

  assert_nobody_refused (fx, "AccessDenied", MANAGER_IFACE ".GetProcessDetails", undumpable.pid);
  assert_nobody_refused (fx, "AccessDenied", MANAGER_IFACE ".GetProcessDetails", setuid_like.pid);
  wait_samples (fx, undumpable.pid, start, 1);
  wait_samples (fx, setuid_like.pid, start, 1);
  assert_nobody_refused (fx, "AccessDenied", "GetHistory", undumpable.pid);
  assert_nobody_refused (fx, "AccessDenied", "GetHistory", setuid_like.pid);
  {
    g_auto(PymemdTestRun) run = { 0 };
    g_autofree char *arg = g_strdup_printf ("%d", own.pid);

    g_assert_true (gdbus_as_nobody (fx, &run, MANAGER_PATH, MANAGER_IFACE ".GetProcessDetails", arg));
  }

  /* Turning non-dumpable while watched: refused at once, listed
   * restricted from the next scan on. */
  tell_child (&later, "undumpable");
  assert_nobody_refused (fx, "AccessDenied", MANAGER_IFACE ".GetProcessDetails", later.pid);
  {
    ListWait w = { fx, later.pid, TRUE };

    if (!wait_until (nobody_sees_restricted, &w, 10))
      fail ("pid %d, now non-dumpable, is still nobody's in detail after 10 s", later.pid);
  }
  pymemd_test_child_stop (&undumpable);
  pymemd_test_child_stop (&setuid_like);
  pymemd_test_child_stop (&later);
  pymemd_test_child_stop (&own);
}

/* Subscribes as nobody (a Gio connection of a python3 of its own) and,
 * given a line, prints the pids of every MemoryChanged it was sent. */
static const char subscriber_code[] =
  "import sys\n"
  "from gi.repository import Gio, GLib\n"
  "conn = Gio.DBusConnection.new_for_address_sync(sys.argv[1],\n"
  "    Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,\n"
  "    None, None)\n"
  "seen = set()\n"
  "def on_signal(conn, sender, path, iface, name, params):\n"
  "    seen.add(params.unpack()[2])\n"
  "conn.signal_subscribe(None, 'org.pymemd.Monitor1', 'MemoryChanged', '/org/pymemd/Monitor1', None,\n"
  "    Gio.DBusSignalFlags.NONE, on_signal)\n"
  "conn.call_sync('org.pymemd.Monitor1', '/org/pymemd/Monitor1', 'org.pymemd.Monitor1', 'Subscribe',\n"
  "    GLib.Variant('(a{sv})', ({},)), GLib.VariantType('(u)'), Gio.DBusCallFlags.NONE, 10000, None)\n"
  "print('subscribed', flush=True)\n"
  "loop = GLib.MainLoop()\n"
  "def on_input(fd, condition):\n"
  "    sys.stdin.readline()\n"
  "    print(' '.join(str(p) for p in sorted(seen)), flush=True)\n"
  "    loop.quit()\n"
  "    return False\n"
  "GLib.unix_fd_add_full(GLib.PRIORITY_DEFAULT, 0, GLib.IOCondition.IN | GLib.IOCondition.HUP, on_input)\n"
  "loop.run()\n";

static gboolean
changes_have_pid (Changes *changes, GPid pid)
{
  for (guint i = 0; i < changes->changes->len; i++)
    if (g_array_index (changes->changes, Change, i).pid == (guint32) pid)
      return TRUE;
  return FALSE;
}

typedef struct {
  Changes *changes;
  GPid     pids[3];
} ChangesWait;

static gboolean
changes_have_all (gpointer data)
{
  ChangesWait *w = data;

  for (guint i = 0; i < G_N_ELEMENTS (w->pids); i++)
    if (!changes_have_pid (w->changes, w->pids[i]))
      return FALSE;
  return TRUE;
}

/* MemoryChanged carries a process's PSS: nobody hears of its own process,
 * not of the two it may not inspect. */
static void
test_access_signals (Fixture *fx, gconstpointer data)
{
  const char *const gi_check[] = { mock_python, "-c", "from gi.repository import Gio", NULL };
  PymemdTestChild undumpable, setuid_like, own, subscriber;
  g_autoptr(GError) error = NULL;
  g_autofree char *heard = NULL;
  g_auto(GStrv) pids = NULL;
  Changes *root_changes = changes_new ();
  ChangesWait w = { root_changes, { 0 } };
  guint signal_id;
  int status;

  if (!needs_nobody (fx))
    {
      changes_free (root_changes);
      return;
    }
  if (!g_spawn_sync (NULL, (char **) gi_check, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status,
                     NULL) ||
      !g_spawn_check_wait_status (status, NULL))
    {
      g_test_skip ("needs python3-gi to subscribe as nobody");
      changes_free (root_changes);
      return;
    }
  start_with_children (fx, &undumpable, &setuid_like, &own);
  {
    const char *const argv[] = { setpriv_path, "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                 mock_python, "-c", subscriber_code, fx->service.address, NULL };

    g_assert_true (pymemd_test_child_spawn (&subscriber, argv, NULL, &error));
    g_assert_no_error (error);
  }
  signal_id = subscribe_memory_changed (fx->service.conn, root_changes);
  g_assert_cmpuint (subscribe (fx, fx->service.conn, no_options (), &error), !=, 0);
  g_assert_no_error (error);

  /* 4 MiB more each: past the default 1 MiB, a signal to whoever may see it. */
  tell_child (&undumpable, "4");
  tell_child (&setuid_like, "4");
  tell_child (&own, "4");
  w.pids[0] = undumpable.pid;
  w.pids[1] = setuid_like.pid;
  w.pids[2] = own.pid;
  if (!wait_until (changes_have_all, &w, 15))
    fail ("root was not told of all three processes within 15 s");
  /* The same scan signalled nobody's subscription: a tick more for the bus. */
  run_for (1.0);
  pymemd_test_child_send (&subscriber, "report");
  heard = pymemd_test_child_read_line (&subscriber, &error);
  g_assert_no_error (error);
  g_test_message ("nobody heard of: %s", heard);
  pids = g_strsplit (heard, " ", -1);
  {
    g_autofree char *own_pid = g_strdup_printf ("%d", own.pid);
    g_autofree char *undumpable_pid = g_strdup_printf ("%d", undumpable.pid);
    g_autofree char *setuid_pid = g_strdup_printf ("%d", setuid_like.pid);

    g_assert_true (g_strv_contains ((const char *const *) pids, own_pid));
    g_assert_false (g_strv_contains ((const char *const *) pids, undumpable_pid));
    g_assert_false (g_strv_contains ((const char *const *) pids, setuid_pid));
  }
  g_dbus_connection_signal_unsubscribe (fx->service.conn, signal_id);
  changes_free (root_changes);
  pymemd_test_child_stop (&subscriber);
  pymemd_test_child_stop (&undumpable);
  pymemd_test_child_stop (&setuid_like);
  pymemd_test_child_stop (&own);
}

/* Issue 11 (5): a root process started through a symlink: nobody may read
 * the Name of its status (the symlink's name), not its exe link. */
static void
test_access_status_name (Fixture *fx, gconstpointer data)
{
  g_autofree char *link = g_build_filename (fx->service.tmp, "quiet-service", NULL);
  g_autofree char *real = NULL, *path = NULL;
  g_autoptr(GVariant) list = NULL, entry = NULL, root_list = NULL, root_entry = NULL;
  g_autoptr(GVariant) property = NULL, name = NULL;
  g_autoptr(GError) error = NULL;
  PymemdTestChild child;
  const char *s;

  if (!needs_nobody (fx))
    return;
  real = realpath (pymemd_test_python (), NULL);
  g_assert_cmpint (symlink (real, link), ==, 0);
  spawn_access_child (&child, NULL, link, NULL);
  daemon_start (fx);
  wait_watched (fx, child.pid);

  list = nobody_list (fx, "--clear-groups");
  entry = find_entry (list, child.pid);
  g_assert_nonnull (entry);
  g_assert_true (g_variant_lookup (entry, "name", "&s", &s));
  g_assert_cmpstr (s, ==, "quiet-service");
  /* Its owner, root, sees the executable's name. */
  root_list = get_processes (fx);
  root_entry = find_entry (root_list, child.pid);
  g_assert_true (g_variant_lookup (root_entry, "name", "&s", &s));
  g_assert_true (g_str_has_prefix (s, "python3"));
  /* The object's properties go to everyone. */
  path = expected_path (child.pid);
  property = call (fx, BUS_NAME, path, "org.freedesktop.DBus.Properties", "Get",
                   g_variant_new ("(ss)", PROCESS_IFACE, "Name"), "(v)", &error);
  g_assert_no_error (error);
  g_variant_get (property, "(v)", &name);
  g_assert_cmpstr (g_variant_get_string (name, NULL), ==, "quiet-service");
  pymemd_test_child_stop (&child);
}

typedef struct {
  Fixture *fx;
  GPid     pids[3];
} EndedWait;

static gboolean
all_ended (gpointer data)
{
  EndedWait *w = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = call_manager (w->fx, "GetEndedProcesses", g_variant_new ("(x)", (gint64) 0),
                                            "(aa{sv})", &error);
  g_autoptr(GVariant) list = NULL;

  g_assert_no_error (error);
  list = g_variant_get_child_value (reply, 0);
  for (guint i = 0; i < G_N_ELEMENTS (w->pids); i++)
    {
      g_autoptr(GVariant) entry = find_entry (list, w->pids[i]);
      if (entry == NULL)
        return FALSE;
    }
  return TRUE;
}

/* Issue 11 (5): once they have ended, other users' processes keep no
 * command line for nobody; its own do, and root sees all. */
static void
test_access_ended (Fixture *fx, gconstpointer data)
{
  const char *const as_nobody[] = { setpriv_path, "--reuid=nobody", "--regid=nogroup", "--clear-groups", NULL };
  g_autofree char *config = NULL, *state = NULL;
  g_autoptr(GVariant) reply = NULL, list = NULL, entry = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(PymemdTestRun) run = { 0 };
  g_auto(PymemdTestRun) own_history = { 0 };
  PymemdTestChild roots, own, undumpable;
  EndedWait w = { fx, { 0 } };
  gint64 start = g_get_real_time ();
  gboolean restricted;

  if (!needs_nobody (fx))
    return;
  state = history_setup (fx, "", &config);
  spawn_access_child (&roots, NULL, NULL, "--api-token=SECRET123");
  spawn_access_child (&own, as_nobody, NULL, "--own-token=MINE456");
  spawn_access_child (&undumpable, as_nobody, NULL, "--undumpable --nd-token=ND789");
  daemon_wait_ready (fx, daemon_spawn (fx, "--state-dir", state, "--config", config, NULL));
  wait_samples (fx, roots.pid, start, 2);
  wait_samples (fx, own.pid, start, 2);
  wait_samples (fx, undumpable.pid, start, 2);
  w.pids[0] = roots.pid;
  w.pids[1] = own.pid;
  w.pids[2] = undumpable.pid;
  pymemd_test_child_stop (&roots);
  pymemd_test_child_stop (&own);
  pymemd_test_child_stop (&undumpable);
  if (!wait_until (all_ended, &w, 15))
    fail ("the three processes were not listed as ended within 15 s");

  reply = call_manager (fx, "GetEndedProcesses", g_variant_new ("(x)", (gint64) 0), "(aa{sv})", &error);
  g_assert_no_error (error);
  {
    g_autofree char *text = g_variant_print (reply, FALSE);

    g_assert_nonnull (strstr (text, "SECRET123"));
    g_assert_nonnull (strstr (text, "MINE456"));
    g_assert_nonnull (strstr (text, "ND789"));
  }
  g_assert_true (gdbus_as_nobody_args (fx, &run, MANAGER_IFACE ".GetEndedProcesses", "0", NULL, NULL, NULL, NULL));
  g_assert_null (strstr (run.out, "SECRET123"));
  g_assert_null (strstr (run.out, "ND789"));
  g_assert_nonnull (strstr (run.out, "MINE456"));
  g_clear_pointer (&reply, g_variant_unref);
  reply = g_variant_parse (G_VARIANT_TYPE ("(aa{sv})"), run.out, NULL, NULL, &error);
  g_assert_no_error (error);
  list = g_variant_get_child_value (reply, 0);
  entry = find_entry (list, w.pids[0]);
  g_assert_nonnull (entry);
  g_assert_true (g_variant_lookup (entry, "restricted", "b", &restricted));
  g_assert_true (restricted);
  g_assert_false (g_variant_lookup (entry, "cmdline", "&s", NULL));
  g_assert_false (g_variant_lookup (entry, "name", "&s", NULL));
  g_clear_pointer (&entry, g_variant_unref);
  entry = find_entry (list, w.pids[1]);
  g_assert_nonnull (entry);
  g_assert_true (g_variant_lookup (entry, "restricted", "b", &restricted));
  g_assert_false (restricted);

  /* Their histories: nobody's own, not the one it could not inspect. */
  {
    g_autofree char *arg = g_strdup_printf ("%d", w.pids[1]);

    g_assert_true (gdbus_as_nobody_args (fx, &own_history, MANAGER_IFACE ".GetHistory", arg, "0", "0", "0", "1"));
  }
  assert_nobody_refused (fx, "AccessDenied", "GetHistory", w.pids[2]);
  assert_nobody_refused (fx, "AccessDenied", "GetHistory", w.pids[0]);
}

typedef struct {
  Fixture    *fx;
  const char *groups;
  GPid        pid;
  gboolean    listed;
} HiddenWait;

static gboolean
nobody_lists (gpointer data)
{
  HiddenWait *w = data;
  g_autoptr(GVariant) list = nobody_list (w->fx, w->groups);
  g_autoptr(GVariant) entry = find_entry (list, w->pid);

  return (entry != NULL) == w->listed;
}

static void
wait_nobody_lists (Fixture *fx, const char *groups, GPid pid, gboolean listed)
{
  HiddenWait w = { fx, groups, pid, listed };

  if (!wait_until (nobody_lists, &w, 10))
    fail ("nobody (%s) %s pid %d after 10 s", groups, listed ? "still does not see" : "still sees", pid);
}

static gboolean
object_exported (Fixture *fx, GPid pid)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = call (fx, BUS_NAME, MANAGER_PATH, "org.freedesktop.DBus.ObjectManager",
                                    "GetManagedObjects", NULL, "(a{oa{sa{sv}}})", &error);
  g_autoptr(GVariant) objects = NULL, found = NULL;
  g_autofree char *path = expected_path (pid);

  g_assert_no_error (error);
  objects = g_variant_get_child_value (reply, 0);
  found = g_variant_lookup_value (objects, path, NULL);
  return found != NULL;
}

/* Issue 11 (5): on a procfs mounted with hidepid=, nobody is shown no
 * more than it would find in /proc. */
static void
test_access_hidepid (Fixture *fx, gconstpointer data)
{
  const char *const as_nobody[] = { setpriv_path, "--reuid=nobody", "--regid=nogroup", "--clear-groups", NULL };
  g_autofree char *proc = NULL;
  PymemdTestChild roots, own;
  gint64 start = g_get_real_time ();
  gboolean restricted = FALSE;

  if (!needs_nobody (fx))
    return;
  /* The test's own mount namespace (and so the daemon's), and in it a
   * procfs of its own; what is mounted there stays there. */
  if (!pymemd_test_unshare_mounts ())
    return;
  proc = g_build_filename (fx->service.tmp, "proc", NULL);
  g_assert_cmpint (g_mkdir (proc, 0755), ==, 0);
  pymemd_test_mount_proc (proc, "hidepid=invisible", FALSE);

  spawn_access_child (&roots, NULL, NULL, NULL);
  spawn_access_child (&own, as_nobody, NULL, NULL);
  daemon_wait_ready (fx, daemon_spawn (fx, "--proc", proc, NULL));
  wait_watched (fx, roots.pid);
  wait_watched (fx, own.pid);
  set_allowed (fx, (const char *const[]){ NULL });

  /* invisible: not listed, not in the samples, not even there. */
  wait_nobody_lists (fx, "--clear-groups", roots.pid, FALSE);
  wait_nobody_lists (fx, "--clear-groups", own.pid, TRUE);
  g_assert_false (nobody_samples_list (fx, roots.pid, &restricted));
  g_assert_true (nobody_samples_list (fx, own.pid, &restricted));
  assert_nobody_refused (fx, "NoSuchProcess", MANAGER_IFACE ".GetProcessDetails", roots.pid);
  wait_samples (fx, roots.pid, start, 1);
  assert_nobody_refused (fx, "NoSuchProcess", "GetHistory", roots.pid);
  /* The object manager tells every client: no objects at all. */
  g_assert_false (object_exported (fx, roots.pid));
  g_assert_false (object_exported (fx, own.pid));

  /* gid=4: nobody in group 4 sees it as /proc/PID/status shows it. */
  pymemd_test_mount_proc (proc, "hidepid=invisible,gid=4", TRUE);
  wait_nobody_lists (fx, "--groups=4", roots.pid, TRUE);
  {
    g_autoptr(GVariant) list = nobody_list (fx, "--groups=4");
    g_assert_true (listed_restricted (list, roots.pid));
  }
  wait_nobody_lists (fx, "--clear-groups", roots.pid, FALSE);

  /* noaccess: the pid is there, nothing in it; pymemd lists nothing. */
  pymemd_test_mount_proc (proc, "hidepid=noaccess,gid=5", TRUE);
  wait_nobody_lists (fx, "--groups=4", roots.pid, FALSE);
  wait_nobody_lists (fx, "--clear-groups", roots.pid, FALSE);

  /* ptraceable: the group does not count. */
  pymemd_test_mount_proc (proc, "hidepid=ptraceable,gid=4", TRUE);
  wait_nobody_lists (fx, "--groups=4", roots.pid, FALSE);

  /* off: listed at the status level again, and the objects are back. */
  pymemd_test_mount_proc (proc, "hidepid=off", TRUE);
  wait_nobody_lists (fx, "--clear-groups", roots.pid, TRUE);
  {
    g_autoptr(GVariant) list = nobody_list (fx, "--clear-groups");
    g_assert_true (listed_restricted (list, roots.pid));
  }
  g_assert_true (object_exported (fx, roots.pid));

  pymemd_test_child_stop (&roots);
  pymemd_test_child_stop (&own);
  daemon_stop (&fx->daemons[0]);
  g_assert_cmpint (umount (proc), ==, 0);
}

/* ---- 11. replies that leak ---- */

/* The daemon's private dirty memory, in bytes. */
static guint64
daemon_private_dirty (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/smaps_rollup", pid);
  g_autofree char *text = NULL;
  const char *field;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  field = strstr (text, "\nPrivate_Dirty:");
  g_assert_nonnull (field);
  return g_ascii_strtoull (field + strlen ("\nPrivate_Dirty:"), NULL, 10) * 1024;
}

/* Makes each manager call that builds a reply, on its success and error
 * paths; the history-type ones twice over. CHILD is root's, watched since
 * START_US. */
static void
call_every_reply (Fixture *fx, GPid child, gint64 start_us)
{
  guint32 pid = (guint32) child;
  gint64 hour_ago = g_get_real_time () - 3600 * SECOND_US;
  struct {
    const char *method;
    GVariant   *args;
    const char *error; /* NULL: the call succeeds */
  } calls[] = {
    { "GetProcesses", NULL, NULL },
    { "GetSamples", NULL, NULL },
    { "GetBreakdowns", NULL, NULL },
    { "GetStatistics", NULL, NULL },
    { "GetProcessDetails", g_variant_new ("(u)", pid), NULL },
    { "GetProcessDetails", g_variant_new ("(u)", 4194305u), "NoSuchProcess" },
    { "GetHistory", g_variant_new ("(utxxd)", pid, (guint64) 0, start_us, (gint64) 0, 1.0), NULL },
    { "GetHistory", g_variant_new ("(utxxd)", 0u, (guint64) 0, hour_ago, (gint64) 0, 0.0), NULL },
    { "GetHistory", g_variant_new ("(utxxd)", 4194305u, (guint64) 0, hour_ago, (gint64) 0, 0.0), "NoSuchProcess" },
    { "GetHistory", g_variant_new ("(utxxd)", pid, (guint64) 0, hour_ago, (gint64) 0, 0.5), "InvalidArgs" },
    { "GetGrowth", g_variant_new ("(utd)", pid, (guint64) 0, 1800.0), NULL },
    { "GetGrowth", g_variant_new ("(utd)", pid, (guint64) 0, 600.0), NULL },
    { "GetGrowth", g_variant_new ("(utd)", 4194305u, (guint64) 0, 600.0), "NoSuchProcess" },
    { "GetEndedProcesses", g_variant_new ("(x)", start_us), NULL },
    { "GetEndedProcesses", g_variant_new ("(x)", (gint64) -1), "InvalidArgs" },
    { "GetHeapSummaries", g_variant_new ("(utxx)", pid, (guint64) 0, hour_ago, (gint64) 0), NULL },
    { "GetHeapSummaries", g_variant_new ("(utxx)", 0u, (guint64) 0, hour_ago, (gint64) 0), "InvalidArgs" },
    { "GetHeapSummary", g_variant_new_parsed ("(%u, @t 0, {'top': <@u 0>})", pid), "InvalidArgs" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (calls); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) reply = call_manager (fx, calls[i].method, calls[i].args, NULL, &error);

      if (calls[i].error == NULL)
        {
          if (error != NULL)
            fail ("%s (call %u): %s", calls[i].method, i, error->message);
        }
      else
        {
          g_autofree char *name = g_strconcat ("org.pymemd.Error.", calls[i].error, NULL);

          if (reply != NULL)
            fail ("%s (call %u): a reply, not %s", calls[i].method, i, name);
          assert_dbus_error (error, name);
        }
    }
}

/* The calls answered on other paths: a process object's, the properties
 * and the object manager, subscriptions, and callers who see less (nobody,
 * whom the polkit mock refuses). */
static void
call_other_replies (Fixture *fx, GPid child)
{
  g_autofree char *path = expected_path (child);
  g_autofree char *pid_arg = g_strdup_printf ("%d", child);
  g_autoptr(GError) error = NULL;
  guint32 id;

  g_variant_unref (call (fx, BUS_NAME, path, PROCESS_IFACE, "GetDetails", NULL, "(a{sv})", &error));
  g_assert_no_error (error);
  g_variant_unref (call (fx, BUS_NAME, MANAGER_PATH, "org.freedesktop.DBus.Properties", "GetAll",
                         g_variant_new ("(s)", MANAGER_IFACE), NULL, &error));
  g_assert_no_error (error);
  g_variant_unref (call (fx, BUS_NAME, MANAGER_PATH, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects",
                         NULL, NULL, &error));
  g_assert_no_error (error);
  id = subscribe (fx, fx->service.conn, no_options (), &error);
  g_assert_no_error (error);
  g_variant_unref (call_manager (fx, "Unsubscribe", g_variant_new ("(u)", id), "()", &error));
  g_assert_no_error (error);
  if (!pymemd_test_is_root () || setpriv_path == NULL || gdbus_path == NULL)
    {
      g_test_message ("not root, or no setpriv or gdbus: no calls as nobody");
      return;
    }
  {
    g_auto(PymemdTestRun) processes = { 0 };
    g_auto(PymemdTestRun) samples = { 0 };
    g_auto(PymemdTestRun) breakdowns = { 0 };
    g_auto(PymemdTestRun) history = { 0 };
    g_auto(PymemdTestRun) totals = { 0 };
    g_auto(PymemdTestRun) growth = { 0 };
    g_auto(PymemdTestRun) summaries = { 0 };

    g_assert_true (gdbus_as_nobody (fx, &processes, MANAGER_PATH, MANAGER_IFACE ".GetProcesses", NULL));
    g_assert_true (gdbus_as_nobody (fx, &samples, MANAGER_PATH, MANAGER_IFACE ".GetSamples", NULL));
    g_assert_true (gdbus_as_nobody (fx, &breakdowns, MANAGER_PATH, MANAGER_IFACE ".GetBreakdowns", NULL));
    g_assert_false (gdbus_as_nobody_args (fx, &history, MANAGER_IFACE ".GetHistory", pid_arg, "0", "0", "0", "1"));
    g_assert_true (gdbus_as_nobody_args (fx, &totals, MANAGER_IFACE ".GetHistory", "0", "0", "0", "0", "60"));
    g_assert_false (gdbus_as_nobody_args (fx, &growth, MANAGER_IFACE ".GetGrowth", pid_arg, "0", "600", NULL, NULL));
    g_assert_false (gdbus_as_nobody_args (fx, &summaries, MANAGER_IFACE ".GetHeapSummaries", pid_arg, "0", "0", "0",
                                          NULL));
  }
}

/* Every reply the daemon builds is freed once sent. The daemon must exit
 * cleanly after SIGTERM, which fails on any leak of the calls above where
 * something checks at exit: LeakSanitizer in the ASan build, valgrind (the
 * daemon runs under it) in the valgrind build. In the plain build the
 * daemon's private dirty memory must stay flat over thousands of calls. */
static void
test_reply_leaks (Fixture *fx, gconstpointer data)
{
  g_autofree char *config = NULL;
  g_autofree char *state = NULL;
  PymemdTestChild child = { 0 };
  gint64 start = g_get_real_time ();
  gboolean checked_at_exit = FALSE;
  Daemon *d;

  if (fx->skipped)
    return;
  /* What the daemon remembers of the host's other processes is not what
   * this case measures: with process events it would follow how many the
   * rest of the suite starts meanwhile. */
  state = history_setup (fx, "[monitor]\nevents=false\n", &config);
  spawn_child (&child);
  /* This program's one daemon under valgrind in the valgrind build: every
   * call is made here, and the others' timings would not hold. */
  pymemd_test_valgrind_daemons (TRUE);
  d = daemon_spawn (fx, "--state-dir", state, "--config", config, NULL);
  pymemd_test_valgrind_daemons (FALSE);
  checked_at_exit = d->valgrind;
#ifdef __SANITIZE_ADDRESS__
  checked_at_exit = TRUE;
#endif
  if (d->valgrind)
    fx->patience = 8;
  daemon_wait_ready (fx, d);
  wait_samples (fx, child.pid, start, 3);

  call_every_reply (fx, child.pid, start);
  call_other_replies (fx, child.pid);
  if (!checked_at_exit)
    {
      guint64 before = 0, after = 0;

      /* The first round warms the allocator up. Each round makes 1 800
       * calls; GetHistory's leaked reply of this issue grew the daemon by
       * 1.7 MiB a round, and without leaks the three rounds after the first
       * grow it by less than 0.2 MiB (history written meanwhile). */
      for (guint round = 0; round < 4; round++)
        {
          for (guint i = 0; i < 100; i++)
            call_every_reply (fx, child.pid, start);
          after = daemon_private_dirty (d->pid);
          g_test_message ("after round %u: the daemon's private dirty memory is %" G_GUINT64_FORMAT " KiB", round,
                          after / 1024);
          if (round == 0)
            before = after;
        }
      if (after > before + MIB)
        fail ("the daemon grew by %" G_GUINT64_FORMAT " KiB over 5 400 calls: a reply leaks",
              (after - before) / 1024);
    }
  else
    g_test_message ("the leak check at the daemon's exit decides");
  daemon_stop (d);
  pymemd_test_child_stop (&child);
}

/* ---- the daemon on a --proc fixture: no real process, any user ---- */

/* The daemon on a copy of tests/data/proc-mixed serves its two
 * interpreters (root's, captured) with the fixture's figures; a caller that
 * is not root sees them as another user's (restricted, without PSS), root
 * in detail. */
static void
test_proc_fixture (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) samples = NULL;
  g_autoptr(GVariant) pids = NULL;
  g_autoptr(GVariant) rss = NULL;
  g_autoptr(GVariant) list = NULL;
  g_autoptr(GVariant) entry = NULL;
  g_autofree char *root = NULL;
  const guint32 *pid_col;
  const guint64 *rss_col;
  gboolean restricted = FALSE;
  guint64 pss = 0;
  gsize n;

  if (fx->skipped || !pymemd_test_need_fixture_python ())
    return;
  root = pymemd_test_copy_fixture ("proc-mixed");
  daemon_wait_ready (fx, daemon_spawn (fx, "--proc", root, NULL));

  samples = call_manager (fx, "GetSamples", NULL, "(auatauabatatatatat)", &error);
  g_assert_no_error (error);
  pids = g_variant_get_child_value (samples, 0);
  rss = g_variant_get_child_value (samples, 4);
  pid_col = g_variant_get_fixed_array (pids, &n, sizeof (guint32));
  /* 1003 maps a file named like Python and is no interpreter. */
  g_assert_cmpuint (n, ==, 2);
  g_assert_cmpuint (pid_col[0], ==, 1001);
  g_assert_cmpuint (pid_col[1], ==, 1002);
  rss_col = g_variant_get_fixed_array (rss, &n, sizeof (guint64));
  g_assert_cmpuint (rss_col[0], ==, 8872 * 1024);   /* smaps_rollup's Rss */
  g_assert_cmpuint (rss_col[1], ==, 128960 * 1024);

  list = get_processes (fx);
  entry = find_entry (list, 1002);
  g_assert_nonnull (entry);
  g_assert_true (g_variant_lookup (entry, "restricted", "b", &restricted));
  g_assert_cmpint (restricted, ==, !pymemd_test_is_root ());
  if (pymemd_test_is_root ())
    {
      g_assert_true (g_variant_lookup (entry, "pss", "t", &pss));
      g_assert_cmpuint (pss, ==, G_GUINT64_CONSTANT (124387) * 1024);
    }
  else
    g_assert_false (g_variant_lookup (entry, "pss", "t", &pss));
  pymemd_test_remove_fixture (g_steal_pointer (&root));
}

static void
on_rescan_reply (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);

  g_assert_no_error (error);
  *(gboolean *) data = TRUE;
}

/* No call waits for a pass: while a full pass is stuck on a file (1002's
 * smaps, a named pipe here), the daemon answers from the last pass's
 * figures; Rescan, which asks for a pass, is answered once it is done. */
static void
test_no_wait_for_scans (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) samples = NULL;
  g_autoptr(GVariant) list = NULL;
  g_autoptr(GVariant) pids = NULL;
  g_autoptr(GVariant) entry = NULL;
  g_autoptr(PymemdTestFifo) fifo = NULL;
  g_autofree char *root = NULL;
  g_autofree char *smaps = NULL;
  gboolean rescanned = FALSE;
  gint64 start;
  gsize n = 0;

  if (fx->skipped || !pymemd_test_need_fixture_python ())
    return;
  root = pymemd_test_copy_fixture ("proc-mixed");
  daemon_wait_ready (fx, daemon_spawn (fx, "--proc", root, NULL));
  smaps = g_build_filename (root, "1002", "smaps", NULL);
  fifo = pymemd_test_fifo_new (smaps, 40);
  g_dbus_connection_call (fx->service.conn, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "Rescan", NULL, NULL,
                          G_DBUS_CALL_FLAGS_NONE, 60000, NULL, on_rescan_reply, &rescanned);
  PYMEMD_TEST_WAIT_FOR (pymemd_test_fifo_has_reader (fifo) || pymemd_test_fifo_guard_fed (fifo), 30);

  /* The pass is stuck: calls are answered all the same, at once. */
  start = g_get_monotonic_time ();
  for (guint i = 0; i < 20; i++)
    {
      g_clear_pointer (&samples, g_variant_unref);
      g_clear_pointer (&list, g_variant_unref);
      samples = call_manager (fx, "GetSamples", NULL, "(auatauabatatatatat)", &error);
      g_assert_no_error (error);
      list = get_processes (fx);
    }
  g_test_message ("20 GetSamples and GetProcesses while a pass waited: %.1f ms",
                  (g_get_monotonic_time () - start) / 1000.0);
  if (pymemd_test_fifo_guard_fed (fifo))
    fail ("the calls were answered only once the pass was unblocked: they waited for it");
  pids = g_variant_get_child_value (samples, 0);
  g_variant_get_fixed_array (pids, &n, sizeof (guint32));
  g_assert_cmpuint (n, ==, 2);
  entry = find_entry (list, 1002);
  g_assert_nonnull (entry);
  g_assert_false (rescanned);

  pymemd_test_fifo_feed (fifo);
  PYMEMD_TEST_WAIT_FOR (rescanned, 30);
  pymemd_test_remove_fixture (g_steal_pointer (&root));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  pymemd_test_service_require ();
  check_prerequisites ();

  g_test_add ("/service/proc-fixture", Fixture, NULL, fixture_setup, test_proc_fixture, fixture_teardown);
  g_test_add ("/service/no-wait-for-scans", Fixture, NULL, fixture_setup, test_no_wait_for_scans, fixture_teardown);
  g_test_add ("/service/get-processes", Fixture, NULL, fixture_setup, test_get_processes,
              fixture_teardown);
  g_test_add ("/service/appear-disappear", Fixture, NULL, fixture_setup, test_appear_disappear,
              fixture_teardown);
  g_test_add ("/service/memory-changed", Fixture, NULL, fixture_setup, test_memory_changed,
              fixture_teardown);
  g_test_add ("/service/subscriber-leaves", Fixture, NULL, fixture_setup, test_subscriber_leaves,
              fixture_teardown);
  g_test_add ("/service/access-control", Fixture, NULL, fixture_setup, test_access_control,
              fixture_teardown);
  g_test_add ("/service/invalid-args", Fixture, NULL, fixture_setup, test_invalid_args,
              fixture_teardown);
  g_test_add ("/service/reload", Fixture, NULL, fixture_setup, test_reload, fixture_teardown);
  g_test_add ("/service/sigterm", Fixture, NULL, fixture_setup, test_sigterm, fixture_teardown);
  g_test_add ("/service/replace", Fixture, NULL, fixture_setup, test_replace, fixture_teardown);
  g_test_add ("/service/history/restart", Fixture, NULL, fixture_setup, test_history_restart, fixture_teardown);
  g_test_add ("/service/history/kill-9", Fixture, NULL, fixture_setup, test_history_kill9, fixture_teardown);
  g_test_add ("/service/history/corrupt", Fixture, NULL, fixture_setup, test_history_corrupt, fixture_teardown);
  g_test_add ("/service/history/disk-full", Fixture, GINT_TO_POINTER (BREAK_FULL), fixture_setup,
              test_history_unwritable, fixture_teardown);
  g_test_add ("/service/history/read-only", Fixture, GINT_TO_POINTER (BREAK_READ_ONLY), fixture_setup,
              test_history_unwritable, fixture_teardown);
  g_test_add ("/service/history/locked", Fixture, GINT_TO_POINTER (BREAK_LOCKED), fixture_setup,
              test_history_unwritable, fixture_teardown);
  g_test_add ("/service/history/overwritten", Fixture, GINT_TO_POINTER (DAMAGE_OVERWRITTEN), fixture_setup,
              test_history_damaged, fixture_teardown);
  g_test_add ("/service/history/deleted", Fixture, GINT_TO_POINTER (DAMAGE_DELETED), fixture_setup,
              test_history_damaged, fixture_teardown);
  g_test_add ("/service/history/bad-page", Fixture, GINT_TO_POINTER (DAMAGE_BAD_PAGE), fixture_setup,
              test_history_damaged, fixture_teardown);
  g_test_add ("/service/history/salvage-at-start", Fixture, NULL, fixture_setup, test_history_salvage_at_start,
              fixture_teardown);
  g_test_add ("/service/history/access", Fixture, NULL, fixture_setup, test_history_access, fixture_teardown);
  g_test_add ("/service/history/growth-suspected", Fixture, NULL, fixture_setup, test_growth_suspected,
              fixture_teardown);
  g_test_add ("/service/reply-leaks", Fixture, NULL, fixture_setup, test_reply_leaks, fixture_teardown);
  g_test_add ("/service/access/ptrace", Fixture, NULL, fixture_setup, test_access_ptrace, fixture_teardown);
  g_test_add ("/service/access/signals", Fixture, NULL, fixture_setup, test_access_signals, fixture_teardown);
  g_test_add ("/service/access/status-name", Fixture, NULL, fixture_setup, test_access_status_name,
              fixture_teardown);
  g_test_add ("/service/access/ended", Fixture, NULL, fixture_setup, test_access_ended, fixture_teardown);
  /* Last: it leaves the program in a mount namespace of its own. */
  g_test_add ("/service/access/hidepid", Fixture, NULL, fixture_setup, test_access_hidepid, fixture_teardown);
  return g_test_run ();
}
