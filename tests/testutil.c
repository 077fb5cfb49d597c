/* Test helpers: spawning real interpreters that say when they are ready, and throwaway fixture trees. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "pymemd-error.h"
#include "pymemd-pidfiles.h"
#include "testutil.h"

char *
pymemd_test_data_path (const char *name)
{
  return g_test_build_filename (G_TEST_DIST, "data", name, NULL);
}

const char *
pymemd_test_python (void)
{
  static char *python = NULL;

  if (python == NULL)
    {
      const char *env = g_getenv ("PYTHON3");
      if (env != NULL && *env != '\0' && g_file_test (env, G_FILE_TEST_IS_EXECUTABLE))
        python = g_strdup (env);
      else if (g_file_test ("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE))
        python = g_strdup ("/usr/bin/python3");
    }
  return python;
}

const char *
pymemd_test_python314 (const char **why)
{
  static char *script = NULL;
  static char *missing = NULL;
  const char *command = g_getenv ("PYMEMD_TEST_PYTHON314");

  /* A command of the caller's (a CPython 3.14 built or installed elsewhere)
   * wins over tools/python3.14. */
  if (command != NULL && *command != '\0')
    return command;
  if (script == NULL && missing == NULL)
    {
      g_autofree char *path = g_test_build_filename (G_TEST_DIST, "..", "tools", "python3.14", NULL);
      const char *argv[] = { "/bin/sh", path, "--check", NULL };
      g_autofree char *err = NULL;
      int status = -1;

      if (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err,
                        &status, NULL) &&
          g_spawn_check_wait_status (status, NULL))
        script = g_steal_pointer (&path);
      else
        missing = g_strdup_printf ("no CPython 3.14: %s",
                                   err != NULL && *err != '\0' ? g_strstrip (err) : "tools/python3.14 --check failed");
    }
  if (why != NULL)
    *why = missing;
  return script;
}

gboolean
pymemd_test_is_root (void)
{
  return geteuid () == 0;
}

gboolean
pymemd_test_need_root_and_python (void)
{
  if (!pymemd_test_is_root ())
    g_test_skip ("needs root (the children run as users of their own)");
  else if (pymemd_test_python () == NULL)
    g_test_skip ("no python3");
  else
    return TRUE;
  return FALSE;
}

gboolean
pymemd_test_need_fixture_python (void)
{
  if (g_file_test ("/usr/bin/python3.11", G_FILE_TEST_EXISTS))
    return TRUE;
  g_test_skip ("fixtures need /usr/bin/python3.11 as their exe target");
  return FALSE;
}

char *
pymemd_test_child_read_line (PymemdTestChild *child, GError **error)
{
  GString *line = g_string_new (NULL);
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  for (;;)
    {
      struct pollfd pfd = { child->stdout_fd, POLLIN, 0 };
      gint64 left = (deadline - g_get_monotonic_time ()) / 1000;
      char c;
      gssize n;

      if (left <= 0 || poll (&pfd, 1, (int) left) == 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                       "child %d printed no line within 30 s", child->pid);
          break;
        }
      n = read (child->stdout_fd, &c, 1);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE,
                       "child %d closed stdout before a full line", child->pid);
          break;
        }
      if (c == '\n')
        return g_string_free (line, FALSE);
      /* A line begun in time is read to its end: one cut at the deadline
       * would leave its rest to be taken for the next line. */
      if (line->len == 0)
        deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
      g_string_append_c (line, c);
    }
  g_string_free (line, TRUE);
  return NULL;
}

/* A test that aborts must not leave its interpreters behind. */
static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

/* When each child spawned here said it was ready (real time, µs), by pid:
 * a sample of it taken before then is of the program still starting. */
static GMutex ready_lock;
static GHashTable *ready_times;

static void
note_ready (GPid pid)
{
  gint64 now = g_get_real_time ();

  g_mutex_lock (&ready_lock);
  if (ready_times == NULL)
    ready_times = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  g_hash_table_insert (ready_times, GINT_TO_POINTER (pid), g_memdup2 (&now, sizeof now));
  g_mutex_unlock (&ready_lock);
}

gint64
pymemd_test_ready_time (GPid pid)
{
  gint64 *at;
  gint64 result;

  g_mutex_lock (&ready_lock);
  at = ready_times != NULL ? g_hash_table_lookup (ready_times, GINT_TO_POINTER (pid)) : NULL;
  result = at != NULL ? *at : 0;
  g_mutex_unlock (&ready_lock);
  return result;
}

/* Spawns ARGV in ENVP (NULL: ours), keeping stderr in a pipe when
 * STDERR_FD is not NULL, and waits for its ready line. */
static gboolean
child_spawn (PymemdTestChild    *child,
             const char *const  *argv,
             const char *const  *envp,
             int                *stderr_fd,
             char              **ready_line,
             GError            **error)
{
  g_autofree char *line = NULL;

  memset (child, 0, sizeof *child);
  child->stderr_fd = -1;
  if (!g_spawn_async_with_pipes (NULL, (char **) argv, (char **) envp,
                                 G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH,
                                 die_with_parent, NULL, &child->pid, &child->stdin_fd,
                                 &child->stdout_fd, stderr_fd, error))
    return FALSE;
  line = pymemd_test_child_read_line (child, error);
  if (line == NULL)
    {
      pymemd_test_child_stop (child);
      return FALSE;
    }
  note_ready (child->pid);
  if (ready_line != NULL)
    *ready_line = g_steal_pointer (&line);
  return TRUE;
}

gboolean
pymemd_test_child_spawn (PymemdTestChild    *child,
                         const char *const  *argv,
                         char              **ready_line,
                         GError            **error)
{
  return child_spawn (child, argv, NULL, NULL, ready_line, error);
}

gboolean
pymemd_test_child_spawn_env (PymemdTestChild    *child,
                             const char *const  *argv,
                             const char *const  *envp,
                             char              **ready_line,
                             GError            **error)
{
  return child_spawn (child, argv, envp, &child->stderr_fd, ready_line, error);
}

int
pymemd_test_child_finish (PymemdTestChild *child, const char *line, char **stderr_text)
{
  GString *err = g_string_new (NULL);
  int status = -1;

  if (line != NULL)
    pymemd_test_child_send (child, line);
  close (child->stdin_fd);
  child->stdin_fd = -1;
  for (int i = 0; i < 3000; i++) /* 30 s */
    {
      pid_t done = waitpid (child->pid, &status, WNOHANG);
      if (done == child->pid)
        {
          g_spawn_close_pid (child->pid);
          child->pid = 0;
          break;
        }
      g_usleep (10000);
    }
  if (child->stderr_fd >= 0)
    {
      char buf[4096];
      gssize n;
      while ((n = read (child->stderr_fd, buf, sizeof buf)) > 0)
        g_string_append_len (err, buf, n);
      close (child->stderr_fd);
      child->stderr_fd = -1;
    }
  if (child->pid > 0)
    {
      status = -1; /* did not exit by itself */
      pymemd_test_child_stop (child);
    }
  if (stderr_text != NULL)
    *stderr_text = g_string_free (g_steal_pointer (&err), FALSE);
  else
    g_string_free (err, TRUE);
  return status;
}

gboolean
pymemd_test_child_spawn_python (PymemdTestChild *child,
                                const char      *code,
                                char           **ready_line,
                                GError         **error)
{
  const char *argv[] = { pymemd_test_python (), "-c", code, NULL };

  g_assert_nonnull (argv[0]);
  return pymemd_test_child_spawn (child, argv, ready_line, error);
}

gboolean
pymemd_test_child_spawn_python_via (PymemdTestChild   *child,
                                    const char *const *prefix,
                                    const char        *python,
                                    const char        *code,
                                    const char        *arg,
                                    GError           **error)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();

  for (guint i = 0; prefix != NULL && prefix[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) prefix[i]);
  g_ptr_array_add (argv, (gpointer) (python != NULL ? python : pymemd_test_python ()));
  g_assert_nonnull (argv->pdata[argv->len - 1]);
  g_ptr_array_add (argv, (gpointer) "-c");
  g_ptr_array_add (argv, (gpointer) code);
  g_ptr_array_add (argv, (gpointer) arg);
  g_ptr_array_add (argv, NULL);
  return pymemd_test_child_spawn (child, (const char *const *) argv->pdata, NULL, error);
}

gboolean
pymemd_test_unshare_mounts (void)
{
  /* Sources and types given where the kernel ignores them: valgrind
   * checks them all. */
  if (unshare (CLONE_NEWNS) < 0 || mount ("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0)
    {
      g_test_skip_printf ("no mount namespace of its own: %s", g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

void
pymemd_test_mount_proc (const char *dir, const char *options, gboolean remount)
{
  unsigned long flags = remount ? MS_REMOUNT : MS_NOSUID | MS_NODEV | MS_NOEXEC;

  if (mount ("proc", dir, "proc", flags, options) < 0)
    g_error ("%s procfs at %s with %s: %s", remount ? "remounting" : "mounting", dir, options, g_strerror (errno));
}

void
pymemd_test_child_send (PymemdTestChild *child, const char *line)
{
  g_autofree char *text = g_strconcat (line, "\n", NULL);
  gsize len = strlen (text);

  g_assert_cmpint (write (child->stdin_fd, text, len), ==, (gssize) len);
}

guint
pymemd_test_count_threads (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/task", pid);
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

void
pymemd_test_child_stop (PymemdTestChild *child)
{
  if (child->pid > 0)
    {
      kill (child->pid, SIGKILL);
      waitpid (child->pid, NULL, 0);
      g_spawn_close_pid (child->pid);
      child->pid = 0;
    }
  if (child->stdin_fd > 0)
    close (child->stdin_fd);
  if (child->stdout_fd > 0)
    close (child->stdout_fd);
  if (child->stderr_fd > 0)
    close (child->stderr_fd);
  child->stdin_fd = child->stdout_fd = child->stderr_fd = -1;
}

void
pymemd_test_wait_for_state (GPid pid, char state)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", pid);

  for (guint i = 0; i < 3000; i++)
    {
      g_autofree char *text = NULL;
      const char *end;

      if (g_file_get_contents (path, &text, NULL, NULL) && (end = strrchr (text, ')')) != NULL &&
          end[1] == ' ' && end[2] == state)
        return;
      g_usleep (1000);
    }
  g_error ("pid %d is not in state %c after 3 s", pid, state);
}

char *
pymemd_test_mkdtemp (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("pymemd-test-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

void
pymemd_test_rm_rf (const char *path)
{
  const char *argv[] = { "rm", "-rf", "--", path, NULL };
  g_autoptr(GError) error = NULL;
  int status;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                &status, &error);
  g_assert_no_error (error);
}

void
pymemd_test_copy_tree (const char *src, const char *dest)
{
  const char *argv[] = { "cp", "-a", "--", src, dest, NULL };
  g_autoptr(GError) error = NULL;
  int status;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                &status, &error);
  g_assert_no_error (error);
  g_spawn_check_wait_status (status, &error);
  g_assert_no_error (error);
  {
    /* The source tree is read-only under make distcheck; copies are ours. */
    const char *chmod_argv[] = { "chmod", "-R", "u+w", dest, NULL };
    g_spawn_sync (NULL, (char **) chmod_argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL,
                  NULL, &status, &error);
    g_assert_no_error (error);
  }
}

/* make dist stores symlinks as copies of their targets, so the fixtures
 * keep each exe link's target in exe-target and the copy makes the link. */
static void
make_exe_links (const char *root)
{
  g_autoptr(GDir) dir = g_dir_open (root, 0, NULL);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      for (guint i = 0; i < 2; i++)
        {
          const char *link_name = i == 0 ? "exe" : "root";
          g_autofree char *target_name = g_strconcat (link_name, "-target", NULL);
          g_autofree char *target_file = g_build_filename (root, name, target_name, NULL);
          g_autofree char *link = g_build_filename (root, name, link_name, NULL);
          g_autofree char *target = NULL;

          if (!g_file_get_contents (target_file, &target, NULL, NULL))
            continue;
          g_strstrip (target);
          g_assert_cmpint (symlink (target, link), ==, 0);
        }
    }
}

char *
pymemd_test_copy_fixture (const char *name)
{
  g_autofree char *src = pymemd_test_data_path (name);
  g_autofree char *tmp = pymemd_test_mkdtemp ();
  char *root = g_build_filename (tmp, "proc", NULL);

  pymemd_test_copy_tree (src, root);
  make_exe_links (root);
  return root;
}

void
pymemd_test_remove_fixture (char *root)
{
  g_autofree char *tmp = g_path_get_dirname (root);

  pymemd_test_rm_rf (tmp);
  g_free (root);
}

void
pymemd_test_run_clear (PymemdTestRun *run)
{
  g_clear_pointer (&run->out, g_free);
  g_clear_pointer (&run->err, g_free);
}

/* ---- a private bus with the real policy, and the real daemon on it ---- */

void
pymemd_test_write_bus_config (const char *tmp, const char *path, const char *extra_policy)
{
  g_autofree char *policy_rel = g_test_build_filename (G_TEST_DIST, "..", "data",
                                                       "org.pymemd.Monitor1.conf", NULL);
  g_autofree char *policy = g_canonicalize_filename (policy_rel, NULL);
  g_autofree char *escaped = g_markup_escape_text (policy, -1);
  g_autofree char *dir = g_markup_escape_text (tmp, -1);
  g_autofree char *text = NULL;

  g_assert_true (g_file_test (policy, G_FILE_TEST_IS_REGULAR));
  /* Debian's system.conf minus activation: method calls are denied unless
   * a policy, here pymemd's own from the source tree, allows them. */
  text = g_strdup_printf (
    "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
    " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
    "<busconfig>\n"
    "  <type>system</type>\n"
    "  <listen>unix:path=%s/bus</listen>\n"
    "  <auth>EXTERNAL</auth>\n"
    "  <policy context=\"default\">\n"
    "    <allow user=\"*\"/>\n"
    "    <deny own=\"*\"/>\n"
    "    <deny send_type=\"method_call\"/>\n"
    "    <allow send_type=\"signal\"/>\n"
    "    <allow send_requested_reply=\"true\" send_type=\"method_return\"/>\n"
    "    <allow send_requested_reply=\"true\" send_type=\"error\"/>\n"
    "    <allow receive_type=\"method_call\"/>\n"
    "    <allow receive_type=\"method_return\"/>\n"
    "    <allow receive_type=\"error\"/>\n"
    "    <allow receive_type=\"signal\"/>\n"
    "    <allow send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus\"/>\n"
    "    <allow send_destination=\"org.freedesktop.DBus\"\n"
    "           send_interface=\"org.freedesktop.DBus.Introspectable\"/>\n"
    "    <allow send_destination=\"org.freedesktop.DBus\"\n"
    "           send_interface=\"org.freedesktop.DBus.Properties\"/>\n"
    "    <deny send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus\"\n"
    "          send_member=\"UpdateActivationEnvironment\"/>\n"
    "  </policy>\n"
    "%s"
    "  <include>%s</include>\n"
    "</busconfig>\n",
    dir, extra_policy != NULL ? extra_policy : "", escaped);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
}

void
pymemd_test_write_session_bus_config (const char *listen, const char *path)
{
  g_autofree char *escaped = g_markup_escape_text (listen, -1);
  g_autofree char *config = g_strdup_printf (
    "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
    " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
    "<busconfig>\n"
    "  <type>session</type>\n"
    "  <listen>%s</listen>\n"
    "  <auth>EXTERNAL</auth>\n"
    "  <policy context=\"default\">\n"
    "    <allow user=\"*\"/>\n"
    "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
    "    <allow eavesdrop=\"true\"/>\n"
    "    <allow own=\"*\"/>\n"
    "  </policy>\n"
    "</busconfig>\n",
    escaped);
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, config, -1, &error);
  g_assert_no_error (error);
}

gboolean
pymemd_test_name_has_owner (GDBusConnection *conn, const char *name)
{
  g_autoptr(GVariant) reply = g_dbus_connection_call_sync (
    conn, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
    "NameHasOwner", g_variant_new ("(s)", name), G_VARIANT_TYPE ("(b)"),
    G_DBUS_CALL_FLAGS_NONE, 10000, NULL, NULL);
  gboolean has = FALSE;

  if (reply != NULL)
    g_variant_get (reply, "(b)", &has);
  return has;
}

static gboolean
service_has_owner (PymemdTestService *service)
{
  return pymemd_test_name_has_owner (service->conn, "org.pymemd.Monitor1");
}

/* ---- what the harness needs, and logs shown when a test aborts ---- */

static gboolean
python_has_dbusmock (const char *python)
{
  const char *argv[] = { python, "-c", "import dbusmock", NULL };
  int status;

  return python != NULL &&
         g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL, NULL,
                       NULL, NULL, NULL, &status, NULL) &&
         g_spawn_check_wait_status (status, NULL);
}

const char *
pymemd_test_dbusmock_python (void)
{
  static const char *python = NULL;
  static gboolean looked = FALSE;

  if (!looked)
    {
      looked = TRUE;
      /* The tests' python3 may be a pyenv build without Debian's modules. */
      if (python_has_dbusmock (pymemd_test_python ()))
        python = pymemd_test_python ();
      else if (python_has_dbusmock ("/usr/bin/python3"))
        python = "/usr/bin/python3";
    }
  return python;
}

const char *
pymemd_test_service_missing (void)
{
  g_autofree char *dbus_daemon = g_find_program_in_path ("dbus-daemon");

  if (g_getenv ("PYMEMD_BIN") == NULL)
    return "PYMEMD_BIN is not set";
  if (dbus_daemon == NULL)
    return "needs dbus-daemon";
  if (pymemd_test_python () == NULL)
    return "needs python3";
  if (pymemd_test_dbusmock_python () == NULL)
    return "needs python3-dbusmock (for the polkit mock)";
  return NULL;
}

void
pymemd_test_service_require (void)
{
  const char *missing = pymemd_test_service_missing ();

  if (missing == NULL)
    return;
  /* A plan of no tests that says why: automake's TAP driver counts the
   * program as skipped (tests/tap-test turns the 77 into 0 for it). */
  g_print ("1..0 # SKIP %s\n", missing);
  exit (77);
}

gboolean
pymemd_test_need_root (const char *why)
{
  if (pymemd_test_is_root ())
    return TRUE;
  g_test_skip_printf ("root only: %s", why);
  return FALSE;
}

#define MAX_ABORT_LOGS 8
static char abort_logs[MAX_ABORT_LOGS][512];

static void
write_all (int fd, const char *data, size_t len)
{
  while (len > 0)
    {
      ssize_t n = write (fd, data, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return;
      data += n;
      len -= (size_t) n;
    }
}

/* Async-signal-safe: the logs of the bus, polkit and the daemons, after
 * the assertion's own message. */
static void
dump_logs_on_abort (int sig)
{
  for (guint i = 0; i < MAX_ABORT_LOGS; i++)
    {
      char buf[4096];
      ssize_t n;
      int fd;

      if (abort_logs[i][0] == '\0')
        continue;
      write_all (STDERR_FILENO, "\n----- ", 7);
      write_all (STDERR_FILENO, abort_logs[i], strlen (abort_logs[i]));
      write_all (STDERR_FILENO, " -----\n", 7);
      fd = open (abort_logs[i], O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        continue;
      while ((n = read (fd, buf, sizeof buf)) > 0)
        write_all (STDERR_FILENO, buf, (size_t) n);
      close (fd);
    }
  signal (SIGABRT, SIG_DFL);
  raise (SIGABRT);
}

void
pymemd_test_log_on_abort (const char *path)
{
  static gboolean installed = FALSE;

  if (!installed)
    {
      struct sigaction action = { 0 };

      action.sa_handler = dump_logs_on_abort;
      sigaction (SIGABRT, &action, NULL);
      installed = TRUE;
    }
  for (guint i = 0; i < MAX_ABORT_LOGS; i++)
    if (abort_logs[i][0] == '\0' || strcmp (abort_logs[i], path) == 0)
      {
        g_strlcpy (abort_logs[i], path, sizeof abort_logs[i]);
        return;
      }
}

void
pymemd_test_forget_logs (void)
{
  memset (abort_logs, 0, sizeof abort_logs);
}

GPid
pymemd_test_spawn_logged (const char *const *argv, const char *const *envp, const char *log, int *stdout_pipe)
{
  g_autoptr(GError) error = NULL;
  int log_fd = open (log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  GPid pid = 0;

  g_assert_cmpint (log_fd, >=, 0);
  pymemd_test_log_on_abort (log);
  g_spawn_async_with_pipes_and_fds (NULL, argv, envp, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH,
                                    die_with_parent, NULL, -1, stdout_pipe != NULL ? -1 : log_fd, log_fd, NULL,
                                    NULL, 0, &pid, NULL, stdout_pipe, NULL, &error);
  g_assert_no_error (error);
  close (log_fd);
  return pid;
}

static gboolean
wake (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

gboolean
pymemd_test_wait_until (PymemdTestCondition cond, gpointer data, double seconds)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) (seconds * G_USEC_PER_SEC);
  guint tick = g_timeout_add (20, wake, NULL);
  gboolean ok;

  while (!(ok = cond (data)) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (tick);
  return ok;
}

/* ---- the bus, the polkit mock ---- */

static void
service_start_bus (PymemdTestService *service, const char *extra_policy)
{
  g_autofree char *config = g_build_filename (service->tmp, "bus.conf", NULL);
  g_autofree char *config_arg = g_strconcat ("--config-file=", config, NULL);
  g_autofree char *log = g_build_filename (service->tmp, "dbus-daemon.log", NULL);
  const char *argv[] = { "dbus-daemon", config_arg, "--nofork", "--print-address", NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  g_autofree char *policy = NULL;
  PymemdTestChild reader = { 0 };

  /* pymemd's policy lets root alone own its name; as another user the
   * tests stand in for root there. */
  if (!pymemd_test_is_root ())
    {
      g_autofree char *user = g_markup_escape_text (g_get_user_name (), -1);

      policy = g_strdup_printf ("  <policy user=\"%s\">\n"
                                "    <allow own=\"org.pymemd.Monitor1\"/>\n"
                                "  </policy>\n"
                                "%s",
                                user, extra_policy != NULL ? extra_policy : "");
      extra_policy = policy;
    }
  pymemd_test_write_bus_config (service->tmp, config, extra_policy);
  service->bus_pid = pymemd_test_spawn_logged (argv, NULL, log, &service->bus_stdout);
  reader.pid = service->bus_pid;
  reader.stdout_fd = service->bus_stdout;
  line = pymemd_test_child_read_line (&reader, &error);
  g_assert_no_error (error);
  service->address = g_strdup (g_strstrip (line));
  g_assert_true (g_str_has_prefix (service->address, "unix:path="));
  service->conn = g_dbus_connection_new_for_address_sync (
    service->address,
    G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
    NULL, NULL, &error);
  g_assert_no_error (error);
}

static char *
service_log_path (PymemdTestService *service)
{
  return g_build_filename (service->tmp, "pymemd.log", NULL);
}

static void
service_start_daemon (PymemdTestService *service, const char *interval)
{
  g_autofree char *log = service_log_path (service);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  const char *const args[] = { g_getenv ("PYMEMD_BIN"), "--address", service->address,
                               "--interval", interval, "--runtime-dir", service->runtime_dir,
                               service->config_path != NULL ? "--config" : NULL, service->config_path,
                               NULL };
  g_auto(GStrv) envp = g_environ_unsetenv (g_get_environ (), "NOTIFY_SOCKET");

  for (const char *const *word = pymemd_test_daemon_valgrind_argv (); *word != NULL; word++)
    g_ptr_array_add (argv, (gpointer) *word);
  for (const char *const *word = args; *word != NULL; word++)
    g_ptr_array_add (argv, (gpointer) *word);
  if (service->proc_dir != NULL)
    {
      g_ptr_array_add (argv, (gpointer) "--proc");
      g_ptr_array_add (argv, service->proc_dir);
    }
  g_ptr_array_add (argv, NULL);
  /* With the polkit mock the private bus is the system bus to the daemon:
   * it asks polkit there. */
  if (service->polkit_pid != 0)
    envp = g_environ_setenv (envp, "DBUS_SYSTEM_BUS_ADDRESS", service->address, TRUE);
  service->daemon_pid = pymemd_test_spawn_logged ((const char *const *) argv->pdata, (const char *const *) envp,
                                                  log, NULL);
}

static gboolean
service_open (PymemdTestService *service, gboolean need_root)
{
  const char *missing = pymemd_test_service_missing ();

  memset (service, 0, sizeof *service);
  if (missing != NULL)
    {
      g_test_skip (missing);
      return FALSE;
    }
  if (need_root && !pymemd_test_need_root ("this program's service cases are not checked as another user yet "
                                           "(pymemd_test_service_start_system_bus () is the harness that is)"))
    return FALSE;
  service->tmp = pymemd_test_mkdtemp ();
  service->runtime_dir = g_build_filename (service->tmp, "run", NULL);
  /* Helpers and clients of other users (the access tests' nobody) connect in there. */
  g_chmod (service->tmp, 0755);
  g_test_message ("bus and daemon logs in %s", service->tmp);
  return TRUE;
}

gboolean
pymemd_test_service_start_bus (PymemdTestService *service)
{
  if (!service_open (service, TRUE))
    return FALSE;
  service_start_bus (service, NULL);
  return TRUE;
}

static gboolean
polkit_up_or_gone (gpointer data)
{
  PymemdTestService *service = data;

  return pymemd_test_name_has_owner (service->conn, PYMEMD_TEST_POLKIT_NAME) ||
         waitpid (service->polkit_pid, NULL, WNOHANG) == service->polkit_pid;
}

gboolean
pymemd_test_service_start_system_bus (PymemdTestService *service)
{
  g_autofree char *user = NULL;
  g_autofree char *policy = NULL;
  g_autofree char *log = NULL;
  g_auto(GStrv) envp = NULL;
  const char *argv[] = { pymemd_test_dbusmock_python (), "-m", "dbusmock", "--system", "--template", "polkitd",
                         NULL };

  if (!service_open (service, FALSE))
    return FALSE;
  /* The polkit mock, run by the test's user, may own polkit's name. */
  user = g_markup_escape_text (g_get_user_name (), -1);
  policy = g_strdup_printf ("  <policy user=\"%s\">\n"
                            "    <allow own=\"" PYMEMD_TEST_POLKIT_NAME "\"/>\n"
                            "    <allow send_destination=\"" PYMEMD_TEST_POLKIT_NAME "\"/>\n"
                            "  </policy>\n",
                            user);
  service_start_bus (service, policy);
  /* By default it denies every action. */
  log = g_build_filename (service->tmp, "polkitd-mock.log", NULL);
  envp = g_environ_setenv (g_get_environ (), "DBUS_SYSTEM_BUS_ADDRESS", service->address, TRUE);
  service->polkit_pid = pymemd_test_spawn_logged (argv, (const char *const *) envp, log, NULL);
  g_assert_true (pymemd_test_wait_until (polkit_up_or_gone, service, 20));
  g_assert_cmpint (kill (service->polkit_pid, 0), ==, 0);
  return TRUE;
}

void
pymemd_test_service_set_polkit_allowed (PymemdTestService *service, const char *const *actions)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_sync (
    service->conn, PYMEMD_TEST_POLKIT_NAME, "/org/freedesktop/PolicyKit1/Authority", "org.freedesktop.DBus.Mock",
    "SetAllowed", g_variant_new ("(^as)", actions), G_VARIANT_TYPE ("()"), G_DBUS_CALL_FLAGS_NONE, 10000, NULL,
    &error);

  g_assert_no_error (error);
}

gboolean
pymemd_test_service_start_with_config (PymemdTestService *service, const char *interval,
                                       const char *config)
{
  if (!pymemd_test_service_start_bus (service))
    return FALSE;
  if (config != NULL)
    {
      g_autoptr(GError) error = NULL;

      service->config_path = g_build_filename (service->tmp, "pymemd.conf", NULL);
      g_file_set_contents (service->config_path, config, -1, &error);
      g_assert_no_error (error);
    }
  pymemd_test_service_start_daemon (service, interval);
  return TRUE;
}

gboolean
pymemd_test_service_start (PymemdTestService *service, const char *interval)
{
  return pymemd_test_service_start_with_config (service, interval, NULL);
}

gboolean
pymemd_test_service_start_with_child (PymemdTestService *service, const char *interval, PymemdTestChild *child,
                                      const char *code)
{
  g_autoptr(GError) error = NULL;

  if (!pymemd_test_service_start (service, interval))
    return FALSE;
  g_assert_cmpint (g_chmod (service->tmp, 0755), ==, 0);
  g_assert_true (pymemd_test_child_spawn_python (child, code, NULL, &error));
  g_assert_no_error (error);
  pymemd_test_service_wait_pid (service, child->pid);
  return TRUE;
}

void
pymemd_test_service_start_daemon (PymemdTestService *service, const char *interval)
{
  gboolean slow = *pymemd_test_daemon_valgrind_argv () != NULL;
  gint64 deadline = g_get_monotonic_time () + (slow ? 120 : 30) * G_USEC_PER_SEC;

  service_start_daemon (service, interval);
  while (!service_has_owner (service))
    {
      if (waitpid (service->daemon_pid, NULL, WNOHANG) == service->daemon_pid)
        {
          service->daemon_pid = 0;
          g_error ("pymemd exited before it owned its name; see %s/pymemd.log", service->tmp);
        }
      if (g_get_monotonic_time () > deadline)
        g_error ("pymemd did not own its name in time; see %s/pymemd.log", service->tmp);
      g_usleep (50000);
    }
}

int
pymemd_test_terminate (GPid *pid, double seconds)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) (seconds * G_USEC_PER_SEC);
  int status = 0;

  if (*pid <= 0)
    return 0;
  kill (*pid, SIGTERM);
  while (waitpid (*pid, &status, WNOHANG) != *pid)
    {
      if (g_get_monotonic_time () > deadline)
        {
          kill (*pid, SIGKILL);
          waitpid (*pid, NULL, 0);
          status = -1;
          break;
        }
      g_usleep (10000);
    }
  g_spawn_close_pid (*pid);
  *pid = 0;
  return status;
}

gboolean
pymemd_test_under_valgrind (void)
{
  return g_strcmp0 (g_getenv ("PYMEMD_VALGRIND"), "1") == 0;
}

const char *const *
pymemd_test_valgrind_argv (void)
{
  /* --vgdb=no: see tests/tap-test. */
  static const char *const valgrind[] = { "valgrind", "-q", "--vgdb=no", "--leak-check=full",
                                          "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite",
                                          "--error-exitcode=9", NULL };

  return pymemd_test_under_valgrind () ? valgrind : valgrind + G_N_ELEMENTS (valgrind) - 1;
}

static gboolean valgrind_daemons;

void
pymemd_test_valgrind_daemons (gboolean on)
{
  valgrind_daemons = on;
}

const char *const *
pymemd_test_daemon_valgrind_argv (void)
{
  static const char *const nothing[] = { NULL };

  return valgrind_daemons ? pymemd_test_valgrind_argv () : nothing;
}

double
pymemd_test_daemon_stop_seconds (gboolean under_valgrind)
{
  return under_valgrind ? 60 : 10;
}

void
pymemd_test_service_stop_daemon (PymemdTestService *service)
{
  int status;

  if (service->daemon_pid <= 0)
    return;
  status = pymemd_test_terminate (&service->daemon_pid,
                                  pymemd_test_daemon_stop_seconds (*pymemd_test_daemon_valgrind_argv () != NULL));
  if (status == -1 || !WIFEXITED (status) || WEXITSTATUS (status) != 0)
    {
      g_autofree char *log_path = service_log_path (service);
      g_autofree char *log = NULL;
      gsize len = 0;

      g_file_get_contents (log_path, &log, &len, NULL);
      g_error ("pymemd %s (wait status 0x%x); its log (%s) ends:\n%s",
               status == -1 ? "did not exit after SIGTERM" : "did not exit cleanly after SIGTERM", status,
               log_path, log != NULL ? log + (len > 16384 ? len - 16384 : 0) : "");
    }
}

void
pymemd_test_service_stop (PymemdTestService *service)
{
  if (service->tmp == NULL)
    return;
  pymemd_test_service_stop_daemon (service);
  if (service->conn != NULL)
    g_dbus_connection_close_sync (service->conn, NULL, NULL);
  g_clear_object (&service->conn);
  pymemd_test_terminate (&service->polkit_pid, 10);
  pymemd_test_terminate (&service->bus_pid, 10);
  close (service->bus_stdout);
  pymemd_test_forget_logs ();
  if (!g_test_failed ())
    pymemd_test_rm_rf (service->tmp);
  g_clear_pointer (&service->tmp, g_free);
  g_clear_pointer (&service->runtime_dir, g_free);
  g_clear_pointer (&service->config_path, g_free);
  g_clear_pointer (&service->proc_dir, g_free);
  g_clear_pointer (&service->address, g_free);
}

gint64
pymemd_test_service_sampled_at (PymemdTestService *service, GPid pid, GError **error)
{
  g_autoptr(GVariant) reply = g_dbus_connection_call_sync (
    service->conn, "org.pymemd.Monitor1", "/org/pymemd/Monitor1", "org.pymemd.Monitor1",
    "GetProcesses", NULL, G_VARIANT_TYPE ("(aa{sv})"), G_DBUS_CALL_FLAGS_NONE, 10000, NULL, error);
  g_autoptr(GVariant) list = NULL;
  GVariantIter iter;
  GVariant *entry;

  if (reply == NULL)
    return -1;
  list = g_variant_get_child_value (reply, 0);
  g_variant_iter_init (&iter, list);
  while ((entry = g_variant_iter_next_value (&iter)) != NULL)
    {
      guint32 listed = 0;
      gint64 sampled_at = 0;

      g_variant_lookup (entry, "pid", "u", &listed);
      g_variant_lookup (entry, "sampled_at", "x", &sampled_at);
      g_variant_unref (entry);
      if (listed == (guint32) pid)
        return sampled_at;
    }
  return -1;
}

void
pymemd_test_service_wait_pid (PymemdTestService *service, GPid pid)
{
  /* An interpreter found at its exec (process events) is listed at once
   * with a sample of the program just started, which the tests that read
   * its figures must not take: a sample taken once it said it was ready. */
  gint64 since = pymemd_test_ready_time (pid);
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  gint64 sampled;

  while ((sampled = pymemd_test_service_sampled_at (service, pid, NULL)) < since)
    {
      if (g_get_monotonic_time () > deadline && sampled < 0)
        g_error ("pymemd did not list pid %d within 30 s", pid);
      if (g_get_monotonic_time () > deadline)
        g_error ("pymemd listed pid %d with a sample %.3f s older than its ready line, none newer within 30 s", pid,
                 (since - sampled) / 1e6);
      g_usleep (50000);
    }
}

GVariant *
pymemd_test_get_heap (PymemdTestService *service, GPid pid, const char *options, GError **error)
{
  g_autoptr(GVariant) parsed = g_variant_parse (G_VARIANT_TYPE_VARDICT, options, NULL, NULL, NULL);
  g_autoptr(GVariant) reply = NULL;

  g_assert_nonnull (parsed);
  /* An attach, then a census of a large heap under a loaded machine. */
  reply = g_dbus_connection_call_sync (service->conn, "org.pymemd.Monitor1", "/org/pymemd/Monitor1",
                                       "org.pymemd.Monitor1", "GetHeapSummary",
                                       g_variant_new ("(ut@a{sv})", (guint32) pid, (guint64) 0, parsed),
                                       G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE, 180000, NULL, error);
  return reply != NULL ? g_variant_get_child_value (reply, 0) : NULL;
}

GVariant *
pymemd_test_wait_for_helper (PymemdTestService *service, GPid pid, const char *options)
{
  for (int i = 0; i < 200; i++)
    {
      g_autoptr(GError) error = NULL;
      GVariant *summary = pymemd_test_get_heap (service, pid, options, &error);

      if (summary != NULL)
        return summary;
      g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_NOT_ATTACHED);
      g_usleep (50000);
    }
  g_error ("the helper of process %d did not come within 10 s", pid);
}

gboolean
pymemd_test_census_type (GVariant *summary, const char *name, guint64 *count, guint64 *bytes)
{
  g_autoptr(GVariant) census = g_variant_lookup_value (summary, "census", G_VARIANT_TYPE_VARDICT);
  g_autoptr(GVariant) types = NULL;
  GVariantIter iter;
  const char *type;
  guint64 n, size;

  g_assert_nonnull (census);
  types = g_variant_lookup_value (census, "types", G_VARIANT_TYPE ("a(stt)"));
  g_assert_nonnull (types);
  g_variant_iter_init (&iter, types);
  while (g_variant_iter_next (&iter, "(&stt)", &type, &n, &size))
    if (g_strcmp0 (type, name) == 0)
      {
        if (count != NULL)
          *count = n;
        if (bytes != NULL)
          *bytes = size;
        return TRUE;
      }
  return FALSE;
}

void
pymemd_test_service_wait_detail (PymemdTestService *service, GPid pid)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) rescan = g_dbus_connection_call_sync (
        service->conn, "org.pymemd.Monitor1", "/org/pymemd/Monitor1", "org.pymemd.Monitor1", "Rescan", NULL,
        NULL, G_DBUS_CALL_FLAGS_NONE, 30000, NULL, NULL);
      g_autoptr(GVariant) reply = g_dbus_connection_call_sync (
        service->conn, "org.pymemd.Monitor1", "/org/pymemd/Monitor1", "org.pymemd.Monitor1", "GetProcessDetails",
        g_variant_new ("(u)", (guint32) pid), G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE, 10000, NULL,
        &error);
      g_autoptr(GVariant) details = NULL;

      g_assert_no_error (error);
      details = g_variant_get_child_value (reply, 0);
      if (g_variant_lookup (details, "categories", "@a{sa{st}}", NULL))
        return;
      if (g_get_monotonic_time () > deadline)
        g_error ("the detail pass did not reach pid %d within 30 s", pid);
      g_usleep (200000);
    }
}

const char *
pymemd_test_setpriv (void)
{
  static char *path = NULL;

  if (path == NULL)
    path = g_find_program_in_path ("setpriv");
  return path;
}

char **
pymemd_test_cli_environ (void)
{
  char **envp = g_get_environ ();

  envp = g_environ_setenv (envp, "LC_ALL", "C.UTF-8", TRUE);
  envp = g_environ_unsetenv (envp, "LANGUAGE");
  envp = g_environ_setenv (envp, "G_DEBUG", "fatal-criticals", TRUE);
  /* pymemctl keeps no identities in the home of whoever runs the tests;
   * the tests of that cache name one of their own. */
  envp = g_environ_setenv (envp, "PYMEMCTL_CACHE", "", FALSE);
  return envp;
}

GPtrArray *
pymemd_test_pymemctl_argv (gboolean as_nobody, const char *const *args)
{
  GPtrArray *argv = g_ptr_array_new ();

  if (as_nobody)
    {
      g_ptr_array_add (argv, (gpointer) pymemd_test_setpriv ());
      g_ptr_array_add (argv, (gpointer) "--reuid=nobody");
      g_ptr_array_add (argv, (gpointer) "--regid=nogroup");
      g_ptr_array_add (argv, (gpointer) "--clear-groups");
    }
  for (const char *const *word = pymemd_test_valgrind_argv (); *word != NULL; word++)
    g_ptr_array_add (argv, (gpointer) *word);
  g_ptr_array_add (argv, (gpointer) g_getenv ("PYMEMCTL_BIN"));
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  return argv;
}

int
pymemd_test_run_pymemctl (PymemdTestRun *run, gboolean as_nobody, char **envp, const char *const *args)
{
  g_autoptr(GPtrArray) argv = pymemd_test_pymemctl_argv (as_nobody, args);
  g_autoptr(GError) error = NULL;
  g_autofree char *line = g_strjoinv (" ", (char **) args);

  g_assert_true (g_spawn_sync ("/", (char **) argv->pdata, envp, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               &run->out, &run->err, &run->status, &error));
  g_assert_no_error (error);
  g_test_message ("pymemctl %s%s -> status 0x%x\n%.2000s%s", line,
                  as_nobody ? " (as nobody)" : "", run->status, run->out, run->err);
  return WIFEXITED (run->status) ? WEXITSTATUS (run->status) : -1;
}

int
pymemd_test_run_pymemctl_at (PymemdTestRun *run, gboolean as_nobody, const char *address, const char *const *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_auto(GStrv) envp = pymemd_test_cli_environ ();

  g_ptr_array_add (argv, (gpointer) "--address");
  g_ptr_array_add (argv, (gpointer) address);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  return pymemd_test_run_pymemctl (run, as_nobody, envp, (const char *const *) argv->pdata);
}

JsonNode *
pymemd_test_parse_json (const char *text)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
  return json_node_ref (json_parser_get_root (parser));
}

GPid
pymemd_test_spawn_stopped_at_exec (const char *const *argv, const char *const *envp,
                                   GError **error)
{
  extern char **environ;
  char *const *env = envp != NULL ? (char *const *) envp : environ;
  int status = 0;
  pid_t pid, waited;

  pid = fork ();
  if (pid < 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "fork: %s", g_strerror (errsv));
      return -1;
    }
  if (pid == 0)
    {
      /* Only async-signal-safe calls here: the parent has threads. The
       * kernel stops a traced process with SIGTRAP after a successful
       * execve, before the first instruction of the new image ... */
      /* ... and it dies with the test, should that fail before it kills it. */
      if (prctl (PR_SET_PDEATHSIG, SIGKILL) == 0 && ptrace (PTRACE_TRACEME, 0, NULL, NULL) == 0)
        execve (argv[0], (char *const *) argv, env);
      _exit (127);
    }
  do
    waited = waitpid (pid, &status, 0);
  while (waited < 0 && errno == EINTR);
  if (waited != pid || !WIFSTOPPED (status) || WSTOPSIG (status) != SIGTRAP)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "%s did not stop at its exec (wait status 0x%x)", argv[0], (unsigned) status);
      if (waited == pid && WIFSTOPPED (status))
        pymemd_test_kill_stopped (pid);
      else if (waited != pid)
        {
          kill (pid, SIGKILL);
          (void) waitpid (pid, NULL, 0);
        }
      return -1;
    }
  return pid;
}

void
pymemd_test_release_stopped (GPid pid)
{
  g_assert_cmpint (ptrace (PTRACE_DETACH, pid, NULL, NULL), ==, 0);
}

void
pymemd_test_kill_stopped (GPid pid)
{
  int status;

  kill (pid, SIGKILL);
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
}

gboolean
pymemd_test_maps_contain (GPid pid, const char *needle)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/maps", (int) pid);
  g_autofree char *text = NULL;

  return g_file_get_contents (path, &text, NULL, NULL) && strstr (text, needle) != NULL;
}

guint64
pymemd_test_start_time (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;
  PymemdStat stat_info;

  g_assert_true (g_file_get_contents (path, &text, NULL, &error));
  g_assert_true (pymemd_stat_parse (text, &stat_info, &error));
  g_assert_no_error (error);
  return stat_info.start_time;
}

void
pymemd_test_iterate_for (double seconds)
{
  gint64 end = g_get_monotonic_time () + (gint64) (seconds * G_USEC_PER_SEC);

  while (g_get_monotonic_time () < end)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (500);
}

void
pymemd_test_service_wait_name_released (PymemdTestService *service)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  for (;;)
    {
      g_autoptr(GVariant) reply = g_dbus_connection_call_sync (
        service->conn, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
        "NameHasOwner", g_variant_new ("(s)", "org.pymemd.Monitor1"), G_VARIANT_TYPE ("(b)"),
        G_DBUS_CALL_FLAGS_NONE, 10000, NULL, NULL);
      gboolean has = TRUE;

      g_assert_nonnull (reply);
      g_variant_get (reply, "(b)", &has);
      if (!has)
        return;
      if (g_get_monotonic_time () > deadline)
        g_error ("org.pymemd.Monitor1 still has an owner 10 s after pymemd exited");
      g_usleep (50000);
    }
}

char *
pymemd_test_pyenv_prefix (const char *series)
{
  const char *root = g_getenv ("PYENV_ROOT");
  g_autofree char *default_root = g_build_filename (g_get_home_dir (), ".pyenv", NULL);
  g_autofree char *versions = g_build_filename (root ? root : default_root, "versions", NULL);
  g_autofree char *prefix = g_strconcat (series, ".", NULL);
  g_autoptr(GDir) dir = g_dir_open (versions, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (name, prefix) && g_ascii_isdigit (name[strlen (prefix)]))
      return g_build_filename (versions, name, NULL);
  return NULL;
}

char *
pymemd_test_copy_file (const char *from, const char *dir, const char *name)
{
  g_autoptr(GFile) source = g_file_new_for_path (from);
  char *to = g_build_filename (dir, name, NULL);
  g_autoptr(GFile) dest = g_file_new_for_path (to);
  g_autoptr(GError) error = NULL;

  g_file_copy (source, dest, G_FILE_COPY_OVERWRITE | G_FILE_COPY_ALL_METADATA, NULL, NULL, NULL,
               &error);
  g_assert_no_error (error);
  return to;
}

gboolean
pymemd_test_socket_closed (int fd)
{
  char buf[256];
  ssize_t n = recv (fd, buf, sizeof buf, MSG_DONTWAIT);

  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* ---- a fixture file that blocks its reader ---- */

struct _PymemdTestFifo
{
  char    *path;
  GBytes  *contents;
  int      writer;      /* open once a reader is seen */
  GMutex   lock;
  gboolean fed;
  gboolean guard_fed;
  GCond    done;        /* fed: the guard stops waiting */
  GThread *guard;
  gint64   guard_us;
};

/* A writer, if a reader has the pipe open; blocking once open (the
 * contents may be more than the pipe holds). */
static void
fifo_open_writer (PymemdTestFifo *fifo)
{
  if (fifo->writer >= 0)
    return;
  fifo->writer = open (fifo->path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fifo->writer >= 0)
    g_assert_cmpint (fcntl (fifo->writer, F_SETFL, 0), ==, 0);
}

static void
fifo_feed_locked (PymemdTestFifo *fifo)
{
  gsize size;
  const char *data = g_bytes_get_data (fifo->contents, &size);
  g_autoptr(GError) error = NULL;

  if (fifo->fed)
    return;
  fifo->fed = TRUE;
  /* No reader now: nobody to unblock, the file goes back at once. */
  fifo_open_writer (fifo);
  while (fifo->writer >= 0 && size > 0)
    {
      gssize n = write (fifo->writer, data, size);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        break; /* the reader went: it wanted no more */
      data += n;
      size -= (gsize) n;
    }
  if (fifo->writer >= 0)
    close (fifo->writer);
  fifo->writer = -1;
  /* Renamed over the pipe: a later reader opens the file. */
  g_file_set_contents (fifo->path, g_bytes_get_data (fifo->contents, NULL),
                       (gssize) g_bytes_get_size (fifo->contents), &error);
  g_assert_no_error (error);
  g_cond_broadcast (&fifo->done);
}

static gpointer
fifo_guard (gpointer data)
{
  PymemdTestFifo *fifo = data;
  gint64 end = g_get_monotonic_time () + fifo->guard_us;

  g_mutex_lock (&fifo->lock);
  while (!fifo->fed)
    if (!g_cond_wait_until (&fifo->done, &fifo->lock, end))
      {
        fifo->guard_fed = !fifo->fed;
        fifo_feed_locked (fifo);
      }
  g_mutex_unlock (&fifo->lock);
  return NULL;
}

PymemdTestFifo *
pymemd_test_fifo_new (const char *path, double guard_seconds)
{
  PymemdTestFifo *fifo = g_new0 (PymemdTestFifo, 1);
  g_autoptr(GError) error = NULL;
  char *data = NULL;
  gsize size = 0;

  g_assert_true (g_file_get_contents (path, &data, &size, &error));
  g_assert_no_error (error);
  fifo->path = g_strdup (path);
  fifo->contents = g_bytes_new_take (data, size);
  fifo->writer = -1;
  fifo->guard_us = (gint64) (guard_seconds * G_USEC_PER_SEC);
  g_mutex_init (&fifo->lock);
  g_cond_init (&fifo->done);
  g_assert_cmpint (g_unlink (path), ==, 0);
  g_assert_cmpint (mkfifo (path, 0644), ==, 0);
  signal (SIGPIPE, SIG_IGN); /* a reader may stop short of the end */
  fifo->guard = g_thread_new ("fifo-guard", fifo_guard, fifo);
  return fifo;
}

gboolean
pymemd_test_fifo_has_reader (PymemdTestFifo *fifo)
{
  gboolean has;

  g_mutex_lock (&fifo->lock);
  /* A writer's non-blocking open fails (ENXIO) while nobody reads. */
  if (!fifo->fed)
    fifo_open_writer (fifo);
  has = fifo->writer >= 0;
  g_mutex_unlock (&fifo->lock);
  return has;
}

void
pymemd_test_fifo_feed (PymemdTestFifo *fifo)
{
  g_mutex_lock (&fifo->lock);
  fifo_feed_locked (fifo);
  g_mutex_unlock (&fifo->lock);
}

gboolean
pymemd_test_fifo_guard_fed (PymemdTestFifo *fifo)
{
  gboolean fed;

  g_mutex_lock (&fifo->lock);
  fed = fifo->guard_fed;
  g_mutex_unlock (&fifo->lock);
  return fed;
}

void
pymemd_test_fifo_free (PymemdTestFifo *fifo)
{
  pymemd_test_fifo_feed (fifo);
  g_thread_join (fifo->guard);
  g_mutex_clear (&fifo->lock);
  g_cond_clear (&fifo->done);
  g_bytes_unref (fifo->contents);
  g_free (fifo->path);
  g_free (fifo);
}
