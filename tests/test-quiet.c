/* Quiet on the bus: the manager's PropertiesChanged on an idle system, from the real daemon watching only its own user's interpreters. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "testutil.h"

/* System users that own no files or processes of their own on Debian: the
 * daemon runs as one of them with --session, watching that user's processes
 * alone, so that what other programs on the machine do (other tests'
 * interpreters starting, growing, ending) changes nothing it publishes. */
static const char *const quiet_users[] = { "games", "news", "uucp", "proxy", "backup", "list", "irc", NULL };

typedef struct {
  char            *tmp;
  int              lock_fd;
  uid_t            uid;
  char            *uid_arg;
  char            *gid_arg;
  GPid             bus_pid;
  int              bus_stdout;
  GDBusConnection *conn;
  GPid             daemon_pid;
  GPtrArray       *changes;   /* the names of the manager's properties in each PropertiesChanged, joined */
  guint            watch_id;
} Fixture;

static gboolean
user_runs_processes (uid_t uid)
{
  g_autoptr(GDir) proc = g_dir_open ("/proc", 0, NULL);
  const char *name;

  while (proc != NULL && (name = g_dir_read_name (proc)) != NULL)
    {
      g_autofree char *path = g_build_filename ("/proc", name, NULL);
      GStatBuf st;

      if (g_ascii_isdigit (name[0]) && g_stat (path, &st) == 0 && st.st_uid == uid)
        return TRUE;
    }
  return FALSE;
}

/* A user of quiet_users that runs nothing, held by a lock in /tmp for the
 * test's time: two test runs at once do not share one. */
static gboolean
take_quiet_user (Fixture *fx)
{
  for (guint i = 0; quiet_users[i] != NULL; i++)
    {
      struct passwd *pw = getpwnam (quiet_users[i]);
      g_autofree char *lock = NULL;
      int fd;

      if (pw == NULL || pw->pw_uid == 0)
        continue;
      lock = g_strdup_printf ("/tmp/pymemd-test-quiet-%s.lock", quiet_users[i]);
      fd = open (lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
      if (fd < 0)
        continue;
      if (flock (fd, LOCK_EX | LOCK_NB) == 0 && !user_runs_processes (pw->pw_uid))
        {
          fx->lock_fd = fd;
          fx->uid = pw->pw_uid;
          fx->uid_arg = g_strdup_printf ("--reuid=%u", (guint) pw->pw_uid);
          fx->gid_arg = g_strdup_printf ("--regid=%u", (guint) pw->pw_gid);
          g_test_message ("running the daemon and its interpreters as %s", quiet_users[i]);
          return TRUE;
        }
      close (fd);
    }
  return FALSE;
}

static void
on_properties_changed (GDBusConnection *conn, const char *sender, const char *path, const char *interface,
                       const char *member, GVariant *parameters, gpointer data)
{
  Fixture *fx = data;
  g_autoptr(GVariant) changed = NULL;
  g_autofree const char **invalidated = NULL;
  const char *name;
  GVariantIter iter;
  GString *names = g_string_new (NULL);

  g_variant_get (parameters, "(&s@a{sv}^a&s)", &name, &changed, &invalidated);
  if (g_strcmp0 (name, "org.pymemd.Monitor1") != 0)
    {
      g_string_free (names, TRUE);
      return;
    }
  g_variant_iter_init (&iter, changed);
  while (g_variant_iter_next (&iter, "{&sv}", &name, NULL))
    g_string_append_printf (names, "%s%s", names->len > 0 ? " " : "", name);
  g_test_message ("PropertiesChanged: %s", names->str);
  g_ptr_array_add (fx->changes, g_string_free (names, FALSE));
}

/* How many PropertiesChanged, from the Nth on, named PROPERTY. */
static guint
count_changes (Fixture *fx, guint from, const char *property)
{
  guint count = 0;

  for (guint i = from; i < fx->changes->len; i++)
    {
      g_auto(GStrv) names = g_strsplit (g_ptr_array_index (fx->changes, i), " ", -1);

      count += g_strv_contains ((const char *const *) names, property);
    }
  return count;
}

static void
fixture_set_up (Fixture *fx, gconstpointer data)
{
  const char *interval = data;
  g_autofree char *bus_config = NULL, *config_arg = NULL, *address = NULL, *pymemd_config = NULL;
  g_autofree char *state = NULL, *run = NULL, *log = NULL, *env_address = NULL;
  g_autofree char *line = NULL, *listen = NULL;
  g_autofree char *dbus_daemon = g_find_program_in_path ("dbus-daemon");
  g_autoptr(GError) error = NULL;
  PymemdTestChild bus;
  int log_fd;

  memset (fx, 0, sizeof *fx);
  fx->lock_fd = -1;
  if (!pymemd_test_is_root () || pymemd_test_setpriv () == NULL || pymemd_test_python () == NULL ||
      g_getenv ("PYMEMD_BIN") == NULL || dbus_daemon == NULL)
    {
      g_test_skip ("needs root, setpriv, dbus-daemon, python3 and PYMEMD_BIN");
      return;
    }
  if (!take_quiet_user (fx))
    {
      g_test_skip ("no system user free to run the daemon as (games, news, ...)");
      return;
    }
  fx->changes = g_ptr_array_new_with_free_func (g_free);
  fx->tmp = pymemd_test_mkdtemp ();
  g_assert_cmpint (g_chmod (fx->tmp, 0755), ==, 0);
  g_test_message ("bus and daemon logs in %s", fx->tmp);

  bus_config = g_build_filename (fx->tmp, "bus.conf", NULL);
  listen = g_strdup_printf ("unix:path=%s/bus", fx->tmp);
  pymemd_test_write_session_bus_config (listen, bus_config);
  config_arg = g_strconcat ("--config-file=", bus_config, NULL);
  g_assert_true (pymemd_test_child_spawn (
    &bus, (const char *const[]){ "dbus-daemon", config_arg, "--nofork", "--print-address", NULL }, &line,
    &error));
  g_assert_no_error (error);
  close (bus.stdin_fd);
  fx->bus_pid = bus.pid;
  fx->bus_stdout = bus.stdout_fd;
  address = g_strdup (g_strstrip (line));
  fx->conn = g_dbus_connection_new_for_address_sync (
    address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION, NULL,
    NULL, &error);
  g_assert_no_error (error);
  fx->watch_id = g_dbus_connection_signal_subscribe (fx->conn, NULL, "org.freedesktop.DBus.Properties",
                                                     "PropertiesChanged", "/org/pymemd/Monitor1", NULL,
                                                     G_DBUS_SIGNAL_FLAGS_NONE, on_properties_changed, fx, NULL);

  /* Any smaller move of one idle interpreter (its whole resident size is
   * less) must not be published; 64 MiB must. Its figures are read again on
   * every tick, so that whatever moves in them (the shares of its library
   * pages as other programs start and end) would be published. */
  pymemd_config = g_build_filename (fx->tmp, "pymemd.conf", NULL);
  g_assert_true (g_file_set_contents (pymemd_config,
                                      "[budget]\nrollup-refresh-seconds=0\n"
                                      "[signals]\nmin-change-bytes=16777216\n",
                                      -1, NULL));
  state = g_build_filename (fx->tmp, "state", NULL);
  run = g_build_filename (fx->tmp, "run", NULL);
  g_assert_cmpint (g_mkdir (state, 0755), ==, 0);
  g_assert_cmpint (g_mkdir (run, 0755), ==, 0);
  g_assert_cmpint (chown (state, fx->uid, (gid_t) -1), ==, 0);
  g_assert_cmpint (chown (run, fx->uid, (gid_t) -1), ==, 0);

  log = g_build_filename (fx->tmp, "pymemd.log", NULL);
  log_fd = open (log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  g_assert_cmpint (log_fd, >=, 0);
  {
    const char *const argv[] = { pymemd_test_setpriv (), fx->uid_arg, fx->gid_arg, "--clear-groups",
                                 g_getenv ("PYMEMD_BIN"), "--session", "--interval", interval,
                                 /* no detail pass, and no publication it would allow, in the test's time */
                                 "--detail-interval", "3600", "--config", pymemd_config, "--state-dir", state,
                                 "--runtime-dir", run, NULL };
    g_auto(GStrv) envp = g_environ_setenv (g_environ_unsetenv (g_get_environ (), "NOTIFY_SOCKET"),
                                           "DBUS_SESSION_BUS_ADDRESS", address, TRUE);

    g_spawn_async_with_pipes_and_fds (NULL, argv, (const char *const *) envp, G_SPAWN_DO_NOT_REAP_CHILD, NULL,
                                      NULL, -1, log_fd, log_fd, NULL, NULL, 0, &fx->daemon_pid, NULL, NULL, NULL,
                                      &error);
    g_assert_no_error (error);
  }
  close (log_fd);
}

static void
fixture_tear_down (Fixture *fx, gconstpointer data)
{
  if (fx->daemon_pid > 0)
    {
      int status = pymemd_test_terminate (&fx->daemon_pid, pymemd_test_daemon_stop_seconds (FALSE));

      if (status == -1 || !WIFEXITED (status) || WEXITSTATUS (status) != 0)
        g_error ("pymemd did not exit cleanly after SIGTERM (wait status 0x%x); see %s/pymemd.log", status,
                 fx->tmp);
    }
  if (fx->conn != NULL)
    {
      g_dbus_connection_signal_unsubscribe (fx->conn, fx->watch_id);
      g_dbus_connection_close_sync (fx->conn, NULL, NULL);
      g_clear_object (&fx->conn);
    }
  if (fx->bus_pid > 0)
    {
      pymemd_test_terminate (&fx->bus_pid, 10);
      close (fx->bus_stdout);
    }
  if (fx->tmp != NULL && !g_test_failed ())
    pymemd_test_rm_rf (fx->tmp);
  g_free (fx->tmp);
  g_free (fx->uid_arg);
  g_free (fx->gid_arg);
  g_clear_pointer (&fx->changes, g_ptr_array_unref);
  if (fx->lock_fd >= 0)
    close (fx->lock_fd);
}

static GVariant *
get_property (Fixture *fx, const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_sync (
    fx->conn, "org.pymemd.Monitor1", "/org/pymemd/Monitor1", "org.freedesktop.DBus.Properties", "Get",
    g_variant_new ("(ss)", "org.pymemd.Monitor1", name), G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NONE, 10000,
    NULL, &error);
  GVariant *value = NULL;

  if (reply == NULL)
    return NULL;
  g_variant_get (reply, "(v)", &value);
  return value;
}

static guint
process_count (Fixture *fx)
{
  g_autoptr(GVariant) count = get_property (fx, "ProcessCount");

  return count != NULL ? g_variant_get_uint32 (count) : G_MAXUINT;
}

static guint64
scans (Fixture *fx)
{
  g_autoptr(GVariant) reply = g_dbus_connection_call_sync (
    fx->conn, "org.pymemd.Monitor1", "/org/pymemd/Monitor1", "org.pymemd.Monitor1", "GetStatistics", NULL,
    G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE, 10000, NULL, NULL);
  g_autoptr(GVariant) statistics = NULL;
  guint64 count = 0;

  if (reply == NULL)
    return 0;
  statistics = g_variant_get_child_value (reply, 0);
  g_assert_true (g_variant_lookup (statistics, "scans", "t", &count));
  return count;
}

/* Lets TICKS more scans happen, then one more round trip, so that what they
 * published has arrived. */
static void
let_ticks_pass (Fixture *fx, guint ticks)
{
  guint64 until = scans (fx) + ticks;

  PYMEMD_TEST_WAIT_FOR (scans (fx) >= until, 60);
  g_assert_cmpuint (process_count (fx), !=, G_MAXUINT);
}

static guint64
total_rss (Fixture *fx)
{
  g_autoptr(GVariant) totals = get_property (fx, "Totals");
  guint64 rss = 0;

  if (totals != NULL)
    g_variant_lookup (totals, "rss", "t", &rss);
  return rss;
}

static void
spawn_as_user (Fixture *fx, PymemdTestChild *child, const char *code)
{
  const char *const prefix[] = { pymemd_test_setpriv (), fx->uid_arg, fx->gid_arg, "--clear-groups", NULL };
  g_autoptr(GError) error = NULL;

  g_assert_true (pymemd_test_child_spawn_python_via (child, prefix, NULL, code, NULL, &error));
  g_assert_no_error (error);
}

/* An idle interpreter wakes nobody: no Totals, PythonSet or HistorySize
 * over many ticks; 64 MiB allocated, a new interpreter or one that ends
 * are published at once. */
static void
test_idle_quiet (Fixture *fx, gconstpointer data)
{
  PymemdTestChild idle, grower, second;
  guint mark;
  guint64 before;

  if (fx->tmp == NULL)
    return;
  spawn_as_user (fx, &idle, "import sys\nprint('ready', flush=True)\nsys.stdin.readline()\n");
  spawn_as_user (fx, &grower,
                 "import sys\nprint('ready', flush=True)\nsys.stdin.readline()\n"
                 "data = b'x' * (64 << 20)\nprint('grown', flush=True)\nsys.stdin.readline()\n");
  PYMEMD_TEST_WAIT_FOR (process_count (fx) == 2, 60);
  /* Past start-up: the first ticks publish the interpreters found. */
  let_ticks_pass (fx, 3);

  mark = fx->changes->len;
  let_ticks_pass (fx, 10);
  g_assert_cmpuint (count_changes (fx, mark, "Totals"), ==, 0);
  g_assert_cmpuint (count_changes (fx, mark, "PythonSet"), ==, 0);
  g_assert_cmpuint (count_changes (fx, mark, "HistorySize"), ==, 0);
  g_assert_cmpuint (fx->changes->len, ==, mark);

  /* 64 MiB more resident: published on the tick that reads it. */
  before = total_rss (fx);
  mark = fx->changes->len;
  pymemd_test_child_send (&grower, "grow");
  g_free (pymemd_test_child_read_line (&grower, NULL));
  PYMEMD_TEST_WAIT_FOR (count_changes (fx, mark, "Totals") > 0, 30);
  /* A tick may read the allocation half done and hold back the rest
   * (less than the threshold), as it may have held back a move before it:
   * the published figure is off by less than 16 MiB at each end. */
  PYMEMD_TEST_WAIT_FOR (total_rss (fx) >= before + (32 << 20), 30);
  /* That may have been published from a read made before the allocation
   * was done (over 32 MiB of it), and the rest, 16 MiB or more, on the
   * first tick that read it whole: two ticks after "grown" have. */
  let_ticks_pass (fx, 2);
  /* ... and then quiet again. */
  mark = fx->changes->len;
  let_ticks_pass (fx, 5);
  g_assert_cmpuint (fx->changes->len, ==, mark);

  /* A third interpreter, however small, comes with its figures... */
  mark = fx->changes->len;
  spawn_as_user (fx, &second, "import sys\nprint('ready', flush=True)\nsys.stdin.readline()\n");
  PYMEMD_TEST_WAIT_FOR (count_changes (fx, mark, "Totals") > 0, 30);
  g_assert_cmpuint (count_changes (fx, mark, "ProcessCount"), ==, 1);
  /* ... and so does its end. */
  mark = fx->changes->len;
  g_assert_cmpint (pymemd_test_child_finish (&second, NULL, NULL), ==, 0);
  PYMEMD_TEST_WAIT_FOR (count_changes (fx, mark, "Totals") > 0, 30);
  g_assert_cmpuint (count_changes (fx, mark, "ProcessCount"), ==, 1);
  g_assert_cmpuint (process_count (fx), ==, 2);

  pymemd_test_child_stop (&idle);
  pymemd_test_child_stop (&grower);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/quiet/idle", Fixture, "0.5", fixture_set_up, test_idle_quiet, fixture_tear_down);
  return g_test_run ();
}
