/* pymemd-applet as a person sees it: on an X server (Xvfb), started from its desktop file as an ordinary user, against the real daemon, with a notification server that records what it is shown. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <math.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <gio/gdesktopappinfo.h>
#include <glib/gstdio.h>

#include "testutil.h"

#define BUS_NAME     "org.pymemd.Monitor1"
#define MANAGER_PATH "/org/pymemd/Monitor1"
#define NOTIFY_NAME  "org.freedesktop.Notifications"
#define NOTIFY_PATH  "/org/freedesktop/Notifications"
#define MIB          (G_GUINT64_CONSTANT (1) << 20)

/* ---- the desktop: an X server and a session bus with a notification server ---- */

typedef struct {
  char            *tmp;
  char            *home;            /* the person's home, nobody's */
  PymemdTestChild  xvfb;
  char            *display;         /* ":N" */
  PymemdTestChild  session_bus;
  char            *session_address;
  GDBusConnection *session;
  GPid             notifier;        /* python-dbusmock's notification_daemon */
  uid_t            uid;             /* the person: nobody */
  gid_t            gid;
} Desktop;

static gboolean
python_has (const char *module_code)
{
  const char *argv[] = { "/usr/bin/python3", "-c", module_code, NULL };
  int status = -1;

  return g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL, NULL,
                       NULL, NULL, NULL, &status, NULL) &&
         g_spawn_check_wait_status (status, NULL);
}

static void
start_notifier (Desktop *desktop)
{
  const char *argv[] = { "/usr/bin/python3", "-m", "dbusmock", "--template", "notification_daemon", NULL };
  g_auto(GStrv) env = g_environ_setenv (g_get_environ (), "DBUS_SESSION_BUS_ADDRESS", desktop->session_address, TRUE);
  g_autoptr(GError) error = NULL;
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  g_spawn_async (NULL, (char **) argv, env, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                 &desktop->notifier, &error);
  g_assert_no_error (error);
  while (!pymemd_test_name_has_owner (desktop->session, NOTIFY_NAME))
    {
      g_assert_cmpint (waitpid (desktop->notifier, NULL, WNOHANG), ==, 0);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (50000);
    }
}

/* FALSE, with the test skipped, where a piece is missing. */
static gboolean
desktop_start (Desktop *desktop)
{
  const char *xvfb_argv[] = { "Xvfb", "-displayfd", "1", "-screen", "0", "1024x768x24", "-nolisten", "tcp", NULL };
  g_autofree char *xvfb = g_find_program_in_path ("Xvfb");
  g_autofree char *dbus_daemon = g_find_program_in_path ("dbus-daemon");
  g_autofree char *config = NULL;
  g_autofree char *config_arg = NULL;
  g_autofree char *line = NULL;
  g_autoptr(GError) error = NULL;
  struct passwd *nobody = getpwnam ("nobody");

  memset (desktop, 0, sizeof *desktop);
  if (!pymemd_test_is_root () || xvfb == NULL || dbus_daemon == NULL || nobody == NULL ||
      pymemd_test_setpriv () == NULL || pymemd_test_python () == NULL)
    {
      g_test_skip ("needs root, Xvfb, dbus-daemon, setpriv, python3 and the user nobody");
      return FALSE;
    }
  if (!python_has ("import dbusmock, gi; gi.require_version('Gdk', '3.0'); from gi.repository import Gdk"))
    {
      g_test_skip ("needs python3-dbusmock, python3-gi and gir1.2-gtk-3.0 (the notifier and the screenshot)");
      return FALSE;
    }
  desktop->uid = nobody->pw_uid;
  desktop->gid = nobody->pw_gid;
  desktop->tmp = pymemd_test_mkdtemp ();
  g_chmod (desktop->tmp, 0755);
  desktop->home = g_build_filename (desktop->tmp, "home", NULL);
  g_assert_cmpint (g_mkdir (desktop->home, 0700), ==, 0);
  g_assert_cmpint (chown (desktop->home, desktop->uid, desktop->gid), ==, 0);
  g_test_message ("desktop in %s", desktop->tmp);

  g_assert_true (pymemd_test_child_spawn (&desktop->xvfb, xvfb_argv, &line, &error));
  g_assert_no_error (error);
  desktop->display = g_strdup_printf (":%s", g_strstrip (line));
  g_clear_pointer (&line, g_free);

  config = g_build_filename (desktop->tmp, "session.conf", NULL);
  {
    g_autofree char *listen = g_strdup_printf ("unix:dir=%s", desktop->tmp);

    /* The person (nobody), and the test (root) that reads the notifier. */
    pymemd_test_write_session_bus_config (listen, config);
  }
  config_arg = g_strconcat ("--config-file=", config, NULL);
  {
    const char *argv[] = { "dbus-daemon", config_arg, "--nofork", "--print-address", NULL };

    g_assert_true (pymemd_test_child_spawn (&desktop->session_bus, argv, &line, &error));
    g_assert_no_error (error);
  }
  desktop->session_address = g_strdup (g_strstrip (line));
  desktop->session = g_dbus_connection_new_for_address_sync (
    desktop->session_address,
    G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION, NULL, NULL, &error);
  g_assert_no_error (error);
  start_notifier (desktop);
  return TRUE;
}

static void
desktop_stop (Desktop *desktop)
{
  if (desktop->tmp == NULL)
    return;
  if (desktop->notifier > 0)
    pymemd_test_terminate (&desktop->notifier, 10);
  g_dbus_connection_close_sync (desktop->session, NULL, NULL);
  g_clear_object (&desktop->session);
  pymemd_test_terminate (&desktop->session_bus.pid, 10);
  pymemd_test_child_stop (&desktop->session_bus);
  /* TERM, so that the X server removes its socket and lock file. */
  pymemd_test_terminate (&desktop->xvfb.pid, 10);
  pymemd_test_child_stop (&desktop->xvfb);
  if (!g_test_failed ())
    pymemd_test_rm_rf (desktop->tmp);
  g_clear_pointer (&desktop->tmp, g_free);
  g_clear_pointer (&desktop->home, g_free);
  g_clear_pointer (&desktop->display, g_free);
  g_clear_pointer (&desktop->session_address, g_free);
}

/* How much the screen in the PNG at PATH shows: the deviation of its
 * pixels' luma, and the part of it that is not the empty screen's black. */
static void
measure_screenshot (const char *path, double *deviation, double *lit)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkPixbuf) pixbuf = gdk_pixbuf_new_from_file (path, &error);
  double sum = 0, sum_squares = 0, n;
  int width, height, stride, channels;
  const guchar *pixels;

  g_assert_no_error (error);
  width = gdk_pixbuf_get_width (pixbuf);
  height = gdk_pixbuf_get_height (pixbuf);
  stride = gdk_pixbuf_get_rowstride (pixbuf);
  channels = gdk_pixbuf_get_n_channels (pixbuf);
  pixels = gdk_pixbuf_read_pixels (pixbuf);
  *lit = 0;
  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      {
        const guchar *p = pixels + y * stride + x * channels;
        double luma = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];

        sum += luma;
        sum_squares += luma * luma;
        *lit += luma > 16;
      }
  n = (double) width * height;
  *deviation = sqrt (MAX (sum_squares / n - (sum / n) * (sum / n), 0));
  *lit /= n;
}

/* The screen as a PNG at NAME in the build tree's tests/, which the test
 * keeps. The applet says what it shows as it decides it; the X server has
 * it a frame later, and the first frame can take many seconds: GTK's GL
 * renderer starts on Mesa's software rasteriser, which in the ASan build
 * and on a loaded machine blocked the applet for over 15 s. Fails unless
 * within 60 s the screen shows something (its pixels vary, and a good
 * part of it is not black); it returns as soon as it does. */
static void
take_screenshot (Desktop *desktop, const char *name)
{
  g_autofree char *path = g_test_build_filename (G_TEST_BUILT, name, NULL);
  g_autofree char *script = g_test_build_filename (G_TEST_DIST, "screenshot.py", NULL);
  const char *argv[] = { "/usr/bin/python3", script, path, NULL };
  g_auto(GStrv) env = g_environ_setenv (g_get_environ (), "DISPLAY", desktop->display, TRUE);
  gint64 start = g_get_monotonic_time ();
  gint64 deadline = start + 60 * G_USEC_PER_SEC;
  double deviation = 0, lit = 0;

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *err = NULL;
      int status = -1;

      g_spawn_sync (NULL, (char **) argv, env, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err, &status, &error);
      g_assert_no_error (error);
      if (!g_spawn_check_wait_status (status, NULL))
        g_error ("screenshot failed: %s", err);
      measure_screenshot (path, &deviation, &lit);
      if ((deviation > 20 && lit > 0.2) || g_get_monotonic_time () > deadline)
        break;
      g_usleep (200000);
    }
  g_test_message ("screenshot %s after %.1f s: luma deviation %.1f, %.0f%% lit", path,
                  (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC, deviation, 100 * lit);
  g_assert_cmpfloat (deviation, >, 20);
  g_assert_cmpfloat (lit, >, 0.2);
}

/* What the notification server was asked to show: one (summary, body,
 * actions) per Notify, oldest first, with the id it answered. */
typedef struct {
  guint32 id;
  char   *summary;
  char   *body;
  GStrv   actions;
} Notification;

static void
notification_free (Notification *notification)
{
  g_free (notification->summary);
  g_free (notification->body);
  g_strfreev (notification->actions);
  g_free (notification);
}

static GPtrArray *
notifications_shown (Desktop *desktop)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_sync (desktop->session, NOTIFY_NAME, NOTIFY_PATH,
                                                           "org.freedesktop.DBus.Mock", "GetCalls", NULL,
                                                           G_VARIANT_TYPE ("(a(tsav))"), G_DBUS_CALL_FLAGS_NONE,
                                                           5000, NULL, &error);
  GPtrArray *shown = g_ptr_array_new_with_free_func ((GDestroyNotify) notification_free);
  g_autoptr(GVariantIter) calls = NULL;
  g_autoptr(GVariant) args = NULL;
  const char *method;
  guint32 next_id = 1;

  g_assert_no_error (error);
  g_variant_get (reply, "(a(tsav))", &calls);
  while (g_variant_iter_next (calls, "(t&s@av)", NULL, &method, &args))
    {
      if (g_str_equal (method, "Notify") && g_variant_n_children (args) == 8)
        {
          Notification *notification = g_new0 (Notification, 1);
          g_autoptr(GVariant) replaces = g_variant_get_child_value (args, 1);
          g_autoptr(GVariant) summary = g_variant_get_child_value (args, 3);
          g_autoptr(GVariant) body = g_variant_get_child_value (args, 4);
          g_autoptr(GVariant) actions = g_variant_get_child_value (args, 5);
          g_autoptr(GVariant) replaces_value = g_variant_get_variant (replaces);
          g_autoptr(GVariant) summary_value = g_variant_get_variant (summary);
          g_autoptr(GVariant) body_value = g_variant_get_variant (body);
          g_autoptr(GVariant) actions_value = g_variant_get_variant (actions);

          /* The mock's numbering: replaced ones keep theirs. */
          notification->id = g_variant_get_uint32 (replaces_value);
          if (notification->id == 0)
            notification->id = next_id++;
          notification->summary = g_variant_dup_string (summary_value, NULL);
          notification->body = g_variant_dup_string (body_value, NULL);
          notification->actions = g_variant_dup_strv (actions_value, NULL);
          g_ptr_array_add (shown, notification);
        }
      g_clear_pointer (&args, g_variant_unref);
    }
  return shown;
}

/* Waits (30 s at most) until the notification server was asked to show a
 * notification whose body has TEXT; it (owned by *SHOWN). */
static Notification *
wait_notification (Desktop *desktop, const char *text, GPtrArray **shown)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  for (;;)
    {
      g_clear_pointer (shown, g_ptr_array_unref);
      *shown = notifications_shown (desktop);
      for (guint i = 0; i < (*shown)->len; i++)
        {
          Notification *n = g_ptr_array_index (*shown, i);

          if (strstr (n->body, text) != NULL)
            return n;
        }
      if (g_get_monotonic_time () > deadline)
        g_error ("no notification with “%s” was shown", text);
      g_usleep (100000);
    }
}

/* The key of its button labelled LABEL. */
static const char *
notification_button (Notification *notification, const char *label)
{
  for (guint i = 0; notification->actions[i] != NULL && notification->actions[i + 1] != NULL; i += 2)
    if (g_str_equal (notification->actions[i + 1], label))
      return notification->actions[i];
  g_error ("the notification has no button “%s”", label);
}

/* The person clicks ACTION (a key of the notification's actions) of the
 * notification ID: the server says so with ActionInvoked. */
static void
click_notification (Desktop *desktop, guint32 id, const char *action)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_sync (
    desktop->session, NOTIFY_NAME, NOTIFY_PATH, "org.freedesktop.DBus.Mock", "EmitSignal",
    g_variant_new ("(sss@av)", NOTIFY_NAME, "ActionInvoked", "us",
                   g_variant_new_parsed ("[<%u>, <%s>]", id, action)),
    NULL, G_DBUS_CALL_FLAGS_NONE, 5000, NULL, &error);

  g_assert_no_error (error);
}

/* ---- the applet, and what it says it shows ---- */

typedef struct {
  GPid       pid;
  int        stderr_fd;
  GString   *partial;
  GPtrArray *lines;
  FILE      *log;
  double     slowness; /* how much longer its waits are: 1, or more under valgrind */
} Applet;

/* In the child: the person is nobody (looked up before the fork). */
static void
become_person (gpointer data)
{
  Desktop *desktop = data;

  if (setgroups (0, NULL) != 0 || setresgid (desktop->gid, desktop->gid, desktop->gid) != 0 ||
      setresuid (desktop->uid, desktop->uid, desktop->uid) != 0)
    _exit (127);
}

/* The person's session: their display, session bus and home; the system
 * bus is the test's (SYSTEM_ADDRESS); the applet's debug log on. */
static char **
person_environ (Desktop *desktop, const char *system_address)
{
  char **env = g_get_environ ();
  g_autofree char *runtime = g_build_filename (desktop->home, "runtime", NULL);

  if (!g_file_test (runtime, G_FILE_TEST_IS_DIR))
    {
      g_assert_cmpint (g_mkdir (runtime, 0700), ==, 0);
      g_assert_cmpint (chown (runtime, desktop->uid, desktop->gid), ==, 0);
    }
  env = g_environ_setenv (env, "DISPLAY", desktop->display, TRUE);
  env = g_environ_setenv (env, "DBUS_SESSION_BUS_ADDRESS", desktop->session_address, TRUE);
  if (system_address != NULL)
    env = g_environ_setenv (env, "DBUS_SYSTEM_BUS_ADDRESS", system_address, TRUE);
  env = g_environ_setenv (env, "HOME", desktop->home, TRUE);
  env = g_environ_setenv (env, "XDG_RUNTIME_DIR", runtime, TRUE);
  env = g_environ_unsetenv (env, "XDG_CONFIG_HOME");
  env = g_environ_unsetenv (env, "XDG_CACHE_HOME");
  env = g_environ_unsetenv (env, "XDG_DATA_HOME");
  env = g_environ_setenv (env, "LC_ALL", "C.UTF-8", TRUE);
  env = g_environ_unsetenv (env, "LANGUAGE");
  /* No accessibility bus on this session; no dconf either. */
  env = g_environ_setenv (env, "GTK_A11Y", "none", TRUE);
  env = g_environ_setenv (env, "GSETTINGS_BACKEND", "memory", TRUE);
  env = g_environ_setenv (env, "G_MESSAGES_DEBUG", "pymemd-applet", TRUE);
  /* In the ASan build the applet runs with ASan and UBSan, but without
   * LeakSanitizer: fontconfig, pango, cairo and Mesa keep caches to the
   * end, and being built without frame pointers their allocations (GLib's
   * too) cannot be told from the applet's. Its leaks are checked under
   * valgrind instead (/applet/thousands), with full stacks. */
  env = g_environ_setenv (env, "ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1", TRUE);
  return env;
}

static void
applet_init (Applet *applet, int stderr_fd, Desktop *desktop)
{
  g_autofree char *log = g_build_filename (desktop->tmp, "applet.log", NULL);

  applet->stderr_fd = stderr_fd;
  g_assert_cmpint (fcntl (stderr_fd, F_SETFL, O_NONBLOCK), ==, 0);
  applet->partial = g_string_new (NULL);
  applet->lines = g_ptr_array_new_with_free_func (g_free);
  applet->log = fopen (log, "a");
  g_assert_nonnull (applet->log);
}

/* ARGV as the person; under valgrind with VALGRIND when the tests run
 * under it (a definite leak then fails its exit), the GTK stack's own
 * leaks suppressed (tests/applet-gtk.supp). */
static void
applet_spawn (Applet *applet, Desktop *desktop, const char *const *argv, const char *system_address,
              gboolean valgrind)
{
  g_auto(GStrv) env = person_environ (desktop, system_address);
  g_autoptr(GPtrArray) command = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  int stderr_fd = -1;

  applet->slowness = 1;
#ifdef __SANITIZE_ADDRESS__
  /* Built with ASan, GTK's start (its GL on Mesa's software rasteriser)
   * blocked the applet for 30 to over 55 s on the loaded machine. */
  applet->slowness = 3;
#endif
  if (valgrind && pymemd_test_under_valgrind ())
    {
      g_autofree char *suppressions = g_test_build_filename (G_TEST_DIST, "applet-gtk.supp", NULL);

      for (const char *const *word = pymemd_test_valgrind_argv (); *word != NULL; word++)
        g_ptr_array_add (command, g_strdup (*word));
      g_ptr_array_add (command, g_strconcat ("--suppressions=", suppressions, NULL));
      g_ptr_array_add (command, g_strdup ("--num-callers=40"));
      /* Slower than the daemons: GTK draws in software there. Not
       * through GL: Mesa's software rasteriser compiles its shaders at
       * run time, which under valgrind blocked the applet's main loop
       * for minutes (its GetProcesses timed out) and reports errors in
       * Mesa's own code; valgrind is here for the applet's code. */
      env = g_environ_setenv (env, "GDK_DEBUG", "gl-disable", TRUE);
      env = g_environ_setenv (env, "GSK_RENDERER", "cairo", TRUE);
      applet->slowness = 10;
    }
  for (const char *const *word = argv; *word != NULL; word++)
    g_ptr_array_add (command, g_strdup (*word));
  g_ptr_array_add (command, NULL);
  g_spawn_async_with_pipes (NULL, (char **) command->pdata, env, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH,
                            become_person, desktop, &applet->pid, NULL, NULL, &stderr_fd, &error);
  g_assert_no_error (error);
  applet_init (applet, stderr_fd, desktop);
}

/* As the desktop starts it: the Exec line of the desktop file the build
 * made, its program found in PATH (where the build's comes first), on
 * the default (system) bus. GIO's own launch is not used: its
 * gio-launch-desktop hands the program's output to the journal where
 * there is one, and the test reads that output. */
static void
applet_start_from_desktop_file (Applet *applet, Desktop *desktop, const char *system_address)
{
  g_autofree char *desktop_file = g_test_build_filename (G_TEST_BUILT, "..", "applet", "org.pymemd.Applet.desktop",
                                                         NULL);
  g_autoptr(GDesktopAppInfo) info = g_desktop_app_info_new_from_filename (desktop_file);
  g_auto(GStrv) argv = NULL;
  g_autofree char *program = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_nonnull (info); /* a valid entry, its Exec in PATH */
  g_assert_true (g_shell_parse_argv (g_app_info_get_commandline (G_APP_INFO (info)), NULL, &argv, &error));
  g_assert_no_error (error);
  program = g_find_program_in_path (argv[0]);
  g_assert_nonnull (program);
  g_free (argv[0]);
  argv[0] = g_steal_pointer (&program);
  applet_spawn (applet, desktop, (const char *const *) argv, system_address, FALSE);
}

/* pymemd-applet --address ADDRESS, as the person; under valgrind when
 * the tests are. */
static void
applet_start_with_address (Applet *applet, Desktop *desktop, const char *address)
{
  const char *argv[] = { g_getenv ("PYMEMD_APPLET_BIN"), "--address", address, NULL };

  applet_spawn (applet, desktop, argv, NULL, TRUE);
}

/* Takes in what the applet wrote; FALSE once it closed its stderr. */
static gboolean
applet_read (Applet *applet)
{
  char buffer[65536];
  ssize_t n;
  char *newline;

  while ((n = read (applet->stderr_fd, buffer, sizeof buffer)) > 0)
    {
      g_string_append_len (applet->partial, buffer, n);
      fwrite (buffer, 1, (size_t) n, applet->log);
    }
  fflush (applet->log);
  while ((newline = strchr (applet->partial->str, '\n')) != NULL)
    {
      g_ptr_array_add (applet->lines, g_strndup (applet->partial->str, (gsize) (newline - applet->partial->str)));
      g_string_erase (applet->partial, 0, newline - applet->partial->str + 1);
    }
  return n != 0 || errno == EAGAIN;
}

typedef gboolean (*LineMatch) (const char *line, gconstpointer data);

/* Waits (SECONDS at most) for a line from index *FROM on that MATCH
 * accepts; *FROM is then the index after it. */
static const char *
applet_wait (Applet *applet, guint *from, LineMatch match, gconstpointer data, double seconds, const char *what)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) (seconds * applet->slowness * G_USEC_PER_SEC);

  for (;;)
    {
      gboolean open = applet_read (applet);

      for (; *from < applet->lines->len; (*from)++)
        {
          const char *line = g_ptr_array_index (applet->lines, *from);

          if (match (line, data))
            {
              (*from)++;
              return line;
            }
        }
      if (!open || g_get_monotonic_time () > deadline)
        {
          for (guint i = applet->lines->len > 40 ? applet->lines->len - 40 : 0; i < applet->lines->len; i++)
            g_test_message ("applet: %s", (const char *) g_ptr_array_index (applet->lines, i));
          g_error ("%s waiting for the applet to show %s", open ? "timed out" : "the applet exited", what);
        }
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (20000);
    }
}

static gboolean
contains (const char *line, gconstpointer text)
{
  return strstr (line, text) != NULL;
}

/* Stops it as the session would (SIGTERM): it must exit by itself with 0. */
static void
applet_stop (Applet *applet)
{
  int status;

  if (applet->pid <= 0)
    return;
  status = pymemd_test_terminate (&applet->pid, 20 * applet->slowness);
  applet_read (applet);
  if (status == -1 || !WIFEXITED (status) || WEXITSTATUS (status) != 0)
    {
      for (guint i = applet->lines->len > 40 ? applet->lines->len - 40 : 0; i < applet->lines->len; i++)
        g_test_message ("applet: %s", (const char *) g_ptr_array_index (applet->lines, i));
      g_error ("pymemd-applet did not exit cleanly after SIGTERM (wait status 0x%x)", status);
    }
}

static void
applet_clear (Applet *applet)
{
  if (applet->pid > 0)
    pymemd_test_terminate (&applet->pid, 5);
  if (applet->stderr_fd >= 0)
    close (applet->stderr_fd);
  if (applet->log != NULL)
    fclose (applet->log);
  if (applet->partial != NULL)
    g_string_free (applet->partial, TRUE);
  g_clear_pointer (&applet->lines, g_ptr_array_unref);
  memset (applet, 0, sizeof *applet);
}

/* "12.3 MiB" (with GLib's no-break space) in bytes. */
static guint64
parse_size (const char *text)
{
  static const struct {
    const char *unit;
    guint64     factor;
  } units[] = { { "GiB", MIB << 10 }, { "MiB", MIB }, { "KiB", 1024 }, { "kB", 1000 }, { "B", 1 } };
  char *end = NULL;
  double value = g_ascii_strtod (text, &end);

  while (*end != '\0' && !g_ascii_isalpha (*end))
    end++;
  for (guint i = 0; i < G_N_ELEMENTS (units); i++)
    if (g_str_has_prefix (end, units[i].unit))
      return (guint64) (value * (double) units[i].factor);
  g_error ("not a size: %s", text);
}

/* A row as the applet says it shows it. */
typedef struct {
  guint32  pid;
  char    *first;      /* "PSS 12.3 MiB" or "RSS 12.3 MiB" */
  char    *second;     /* "dirty 10.0 MiB" or "no details" */
  guint    points;
  gboolean restricted;
} Row;

static void
row_clear (Row *row)
{
  g_clear_pointer (&row->first, g_free);
  g_clear_pointer (&row->second, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Row, row_clear)

static gboolean
parse_row (const char *line, Row *row)
{
  static GRegex *regex = NULL;
  g_autoptr(GMatchInfo) match = NULL;
  g_autofree char *pid = NULL;
  g_autofree char *points = NULL;

  if (regex == NULL)
    regex = g_regex_new ("row pid=([0-9]+) name=.* shows “([^”]*)” “([^”]*)” sparkline=([0-9]+) points( restricted)?$",
                         0, 0, NULL);
  if (!g_regex_match (regex, line, 0, &match))
    return FALSE;
  pid = g_match_info_fetch (match, 1);
  points = g_match_info_fetch (match, 4);
  row->pid = (guint32) g_ascii_strtoull (pid, NULL, 10);
  row->first = g_match_info_fetch (match, 2);
  row->second = g_match_info_fetch (match, 3);
  row->points = (guint) g_ascii_strtoull (points, NULL, 10);
  row->restricted = g_match_info_get_match_count (match) > 5;
  return TRUE;
}

typedef struct {
  guint32  pid;
  gboolean restricted;
  guint64  min_pss;  /* the row's PSS at least this */
  guint    min_points;
} RowWanted;

static gboolean
row_matches (const char *line, gconstpointer data)
{
  const RowWanted *wanted = data;
  g_auto(Row) row = { 0 };

  if (!parse_row (line, &row) || row.pid != wanted->pid || row.restricted != wanted->restricted)
    return FALSE;
  if (wanted->restricted)
    return g_str_has_prefix (row.first, "RSS ") && g_str_equal (row.second, "no details");
  return g_str_has_prefix (row.first, "PSS ") && g_str_has_prefix (row.second, "dirty ") &&
         parse_size (row.first + 4) >= wanted->min_pss && row.points >= wanted->min_points;
}

/* The last row line about PID before index END: its PSS. */
static guint64
shown_pss (Applet *applet, guint32 pid, guint end)
{
  for (guint i = end; i-- > 0;)
    {
      g_auto(Row) row = { 0 };

      if (parse_row (g_ptr_array_index (applet->lines, i), &row) && row.pid == pid && !row.restricted)
        return parse_size (row.first + 4);
    }
  g_error ("no row of %u shown", pid);
}

/* ---- the interpreters ---- */

/* Holds argv[1] MiB from the start (so that its row is among the first,
 * whatever else runs on the machine), waits in select () (where an attach
 * finds it), and on "grow N" adds N MiB, 4 a second. */
static const char interpreter_code[] =
  "import select, sys, time\n"
  "held = [b'\\x01' * (1 << 20) for _ in range(int(sys.argv[1]))]\n"
  "print('ready', flush=True)\n"
  "while True:\n"
  "    select.select([sys.stdin], [], [])\n"
  "    line = sys.stdin.readline()\n"
  "    if not line or line.strip() == 'quit':\n"
  "        sys.exit(0)\n"
  "    for _ in range(int(line.split()[1])):\n"
  "        held.append(b'\\x02' * (1 << 20))\n"
  "        time.sleep(0.25)\n"
  "    print('grown', flush=True)\n";

/* An interpreter holding MIB_HELD MiB, the person's (nobody's) with
 * AS_PERSON, else root's; the helper importable and its socket the
 * test daemon's, for the attach. */
static void
spawn_interpreter (PymemdTestChild *child, PymemdTestService *service, gboolean as_person, guint mib_held)
{
  g_autofree char *held = g_strdup_printf ("%u", mib_held);
  g_autofree char *socket = g_build_filename (service->runtime_dir, "helper.sock", NULL);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_auto(GStrv) env = g_get_environ ();
  g_autoptr(GError) error = NULL;

  env = g_environ_setenv (env, "PYTHONPATH", g_getenv ("PYMEMD_HELPER_DIR"), TRUE);
  env = g_environ_unsetenv (env, "PYMEMD_HELPER");
  env = g_environ_setenv (env, "PYMEMD_SOCKET", socket, TRUE);
  if (as_person)
    {
      g_ptr_array_add (argv, (gpointer) pymemd_test_setpriv ());
      g_ptr_array_add (argv, (gpointer) "--reuid=nobody");
      g_ptr_array_add (argv, (gpointer) "--regid=nogroup");
      g_ptr_array_add (argv, (gpointer) "--clear-groups");
    }
  g_ptr_array_add (argv, (gpointer) pymemd_test_python ());
  g_ptr_array_add (argv, (gpointer) "-c");
  g_ptr_array_add (argv, (gpointer) interpreter_code);
  g_ptr_array_add (argv, held);
  g_ptr_array_add (argv, NULL);
  g_assert_true (pymemd_test_child_spawn_env (child, (const char *const *) argv->pdata, (const char *const *) env,
                                              NULL, &error));
  g_assert_no_error (error);
}

static void
grow (PymemdTestChild *child, guint mib)
{
  g_autofree char *line = g_strdup_printf ("grow %u", mib);

  pymemd_test_child_send (child, line);
}

/* The desktop, and a private system-like bus with nobody on it yet;
 * FALSE (the test skipped) where a piece is missing. */
static gboolean
setup (Desktop *desktop, PymemdTestService *service)
{
  if (g_getenv ("PYMEMD_APPLET_BIN") == NULL)
    {
      g_test_skip ("PYMEMD_APPLET_BIN is not set");
      return FALSE;
    }
  if (!desktop_start (desktop))
    return FALSE;
  if (!pymemd_test_service_start_bus (service))
    {
      desktop_stop (desktop);
      return FALSE;
    }
  return TRUE;
}

/* ---- /applet/desktop ---- */

/* The applet's Exec is found in PATH, as once installed: the build's.
 * Called from main (), before GLib starts any thread: setenv () is not
 * thread-safe. */
static void
put_applet_in_path (void)
{
  const char *applet = g_getenv ("PYMEMD_APPLET_BIN");
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;

  if (applet == NULL)
    return;
  dir = g_path_get_dirname (applet);
  path = g_strconcat (dir, ":", g_getenv ("PATH"), NULL);
  g_setenv ("PATH", path, TRUE);
}

/* The whole story of a person with the applet open: pymemd absent, then
 * there; their interpreters listed with their figures and sparklines,
 * root's at the status level; one grows: its row follows and a
 * notification comes; its button opens the heap; pymemd restarts and the
 * list follows it again. */
static void
test_desktop (void)
{
  Desktop desktop;
  PymemdTestService service;
  Applet applet = { .stderr_fd = -1 };
  PymemdTestChild grower, steady, others;
  g_autoptr(GPtrArray) shown = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *grown = NULL;
  g_autofree char *pid_text = NULL;
  Notification *growth = NULL;
  const char *heap_key = NULL;
  guint from = 0, grow_from;
  guint64 before;

  if (!setup (&desktop, &service))
    return;
  /* Growth found within a minute: a window of one, the threshold above
   * what an idle interpreter's shared pages drift by. */
  service.config_path = g_build_filename (service.tmp, "pymemd.conf", NULL);
  g_file_set_contents (service.config_path,
                       "[history]\ngrowth-window-minutes=1\ngrowth-threshold-mib-per-hour=256\n", -1, &error);
  g_assert_no_error (error);

  /* pymemd absent: the empty state says so. */
  applet_start_from_desktop_file (&applet, &desktop, service.address);
  applet_wait (&applet, &from, contains, "page status: pymemd Is Not Running", 60, "that pymemd is not running");
  take_screenshot (&desktop, "applet-not-running.png");

  spawn_interpreter (&grower, &service, TRUE, 200);
  spawn_interpreter (&steady, &service, TRUE, 160);
  spawn_interpreter (&others, &service, FALSE, 180);
  pymemd_test_service_start_daemon (&service, "1");
  /* Rows are shown as the list fills, before it is the page on top. */
  applet_wait (&applet, &from, contains, "state loading", 60, "that pymemd came");
  {
    RowWanted rows[] = {
      { grower.pid, FALSE, 150 * MIB, 1 },
      { steady.pid, FALSE, 120 * MIB, 1 },
      { others.pid, TRUE, 0, 0 },
    };
    guint start = from;

    for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
      {
        guint at = start;

        applet_wait (&applet, &at, row_matches, &rows[i], 60, "an interpreter's row");
        from = MAX (from, at);
      }
    applet_wait (&applet, &start, contains, "page list:", 60, "the list");
    from = MAX (from, start);
  }

  /* One grows: its row follows, and the person is told. */
  before = shown_pss (&applet, grower.pid, from);
  /* The notification may come before the row shows all of the growth:
   * both are looked for from here. */
  grow_from = from;
  grow (&grower, 80);
  {
    RowWanted bigger = { grower.pid, FALSE, before + 60 * MIB, 2 };

    applet_wait (&applet, &from, row_matches, &bigger, 60, "the grown row");
  }
  grown = pymemd_test_child_read_line (&grower, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (grown, ==, "grown");
  pid_text = g_strdup_printf ("(pid %d)", grower.pid);
  applet_wait (&applet, &grow_from, contains, pid_text, 120, "a growth notification");
  from = MAX (from, grow_from);
  growth = wait_notification (&desktop, pid_text, &shown);
  g_test_message ("notified: %s — %s", growth->summary, growth->body);
  g_assert_true (g_str_has_suffix (growth->summary, " keeps growing"));
  g_assert_nonnull (strstr (growth->body, " an hour over the last 1 minute"));
  heap_key = notification_button (growth, "Inspect Heap");
  take_screenshot (&desktop, "applet-screenshot.png");

  /* The notification's button: the heap of that process. */
  click_notification (&desktop, growth->id, heap_key);
  {
    g_autofree char *heap_line = g_strdup_printf ("heap shown pid=%d ", grower.pid);
    const char *line = applet_wait (&applet, &from, contains, heap_line, 120, "the heap summary");
    guint64 heap = 0, explained = 0;
    guint types = 0;

    g_assert_true (sscanf (strstr (line, "heap_private_dirty="), "heap_private_dirty=%" G_GUINT64_FORMAT, &heap) == 1);
    g_assert_true (sscanf (strstr (line, "explained="), "explained=%" G_GUINT64_FORMAT, &explained) == 1);
    g_assert_true (sscanf (strstr (line, "types="), "types=%u", &types) == 1);
    g_assert_cmpuint (heap, >, 200 * MIB); /* the bytes objects it holds */
    g_assert_cmpuint (explained, >, 0);
    g_assert_cmpuint (types, >, 0);
  }
  {
    g_autofree char *drawn = g_strdup_printf ("heap drawn pid=%d", grower.pid);

    applet_wait (&applet, &from, contains, drawn, 30, "the heap window drawn");
  }
  take_screenshot (&desktop, "applet-heap-screenshot.png");

  /* pymemd restarts: the list goes, comes back, and follows again. */
  pymemd_test_service_stop_daemon (&service);
  applet_wait (&applet, &from, contains, "page status: pymemd Is Not Running", 30, "that pymemd stopped");
  pymemd_test_service_start_daemon (&service, "1");
  applet_wait (&applet, &from, contains, "state running", 60, "the list again");
  {
    RowWanted again = { steady.pid, FALSE, 120 * MIB, 1 };

    applet_wait (&applet, &from, row_matches, &again, 60, "the steady row again");
    before = shown_pss (&applet, steady.pid, from);
    grow (&steady, 48);
    again.min_pss = before + 32 * MIB;
    applet_wait (&applet, &from, row_matches, &again, 60, "the steady row grown after the restart");
  }

  applet_stop (&applet);
  applet_clear (&applet);
  pymemd_test_child_stop (&grower);
  pymemd_test_child_stop (&steady);
  pymemd_test_child_stop (&others);
  pymemd_test_service_stop (&service);
  desktop_stop (&desktop);
}


/* ---- /applet/thousands: a daemon of the test's with thousands of processes ---- */

#define MANY 5000

typedef struct {
  GDBusConnection *connection;
  char            *subscriber;    /* the applet's unique name */
  guint            history_calls;
  GVariant        *processes;     /* GetProcesses' answer */
} FakeDaemon;

static guint32
fake_pid (guint i)
{
  return 1000 + i;
}

static guint64
fake_start_time (guint i)
{
  return 7 + i;
}

static char *
fake_path (guint i)
{
  return g_strdup_printf (MANAGER_PATH "/process/%u_%" G_GUINT64_FORMAT, fake_pid (i), fake_start_time (i));
}

static GVariant *
fake_processes (guint n, guint32 uid)
{
  GVariantBuilder list;

  g_variant_builder_init (&list, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *path = fake_path (i);
      g_autofree char *name = g_strdup_printf ("fake-%u", i);
      guint64 pss = (i + 1) * MIB;

      g_variant_builder_open (&list, G_VARIANT_TYPE_VARDICT);
      g_variant_builder_add (&list, "{sv}", "pid", g_variant_new_uint32 (fake_pid (i)));
      g_variant_builder_add (&list, "{sv}", "start_time", g_variant_new_uint64 (fake_start_time (i)));
      g_variant_builder_add (&list, "{sv}", "uid", g_variant_new_uint32 (uid));
      g_variant_builder_add (&list, "{sv}", "name", g_variant_new_string (name));
      g_variant_builder_add (&list, "{sv}", "cmdline", g_variant_new_string (name));
      g_variant_builder_add (&list, "{sv}", "python_version", g_variant_new_string ("3.11.2"));
      g_variant_builder_add (&list, "{sv}", "object_path", g_variant_new_object_path (path));
      g_variant_builder_add (&list, "{sv}", "sampled_at", g_variant_new_int64 (g_get_real_time ()));
      g_variant_builder_add (&list, "{sv}", "restricted", g_variant_new_boolean (FALSE));
      g_variant_builder_add (&list, "{sv}", "rss", g_variant_new_uint64 (pss + MIB));
      g_variant_builder_add (&list, "{sv}", "swap", g_variant_new_uint64 (0));
      g_variant_builder_add (&list, "{sv}", "pss", g_variant_new_uint64 (pss));
      g_variant_builder_add (&list, "{sv}", "private_dirty", g_variant_new_uint64 (pss / 2));
      g_variant_builder_add (&list, "{sv}", "uss", g_variant_new_uint64 (pss));
      g_variant_builder_close (&list);
    }
  return g_variant_ref_sink (g_variant_builder_end (&list));
}

static GVariant *
fake_history (guint32 pid)
{
  gint64 now = g_get_real_time ();
  guint64 pss = (pid - 1000 + 1) * MIB;
  const gint64 times[] = { now - 120 * G_USEC_PER_SEC, now - 60 * G_USEC_PER_SEC };
  const guint32 counts[] = { 10, 10 };
  const guint64 values[] = { pss / 2, pss };
  GVariantBuilder reply;

  g_variant_builder_init (&reply, G_VARIANT_TYPE ("(a{sv}axauatatatatatatatatat)"));
  g_variant_builder_add_value (&reply, g_variant_new_parsed ("@a{sv} {'tier': <'raw'>}"));
  g_variant_builder_add_value (&reply, g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, times, 2, sizeof (gint64)));
  g_variant_builder_add_value (&reply, g_variant_new_fixed_array (G_VARIANT_TYPE_UINT32, counts, 2, sizeof (guint32)));
  for (guint i = 0; i < 9; i++)
    g_variant_builder_add_value (&reply,
                                 g_variant_new_fixed_array (G_VARIANT_TYPE_UINT64, values, 2, sizeof (guint64)));
  return g_variant_builder_end (&reply);
}

static void
fake_method_call (GDBusConnection *connection, const char *sender, const char *path, const char *interface,
                  const char *method, GVariant *parameters, GDBusMethodInvocation *invocation, gpointer data)
{
  FakeDaemon *fake = data;

  if (g_str_equal (method, "Subscribe"))
    {
      g_free (fake->subscriber);
      fake->subscriber = g_strdup (sender);
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(u)", 7));
    }
  else if (g_str_equal (method, "GetProcesses"))
    g_dbus_method_invocation_return_value (invocation, g_variant_new ("(@aa{sv})", fake->processes));
  else if (g_str_equal (method, "GetHeapSummary"))
    {
      gboolean attach = FALSE;
      g_autoptr(GVariant) options = g_variant_get_child_value (parameters, 2);

      /* What pymemctl heap --attach asks. */
      g_assert_true (g_variant_lookup (options, "attach", "b", &attach) && attach);
      g_dbus_method_invocation_return_value (
        invocation,
        g_variant_new_parsed ("({'python': <'3.11.2'>, 'duration': <0.05>, 'gil_max_hold': <0.004>, "
                              "'complete': <true>, 'threads': <@u 2>, 'modules': <@u 80>, "
                              "'census': <{'objects': <@t 12345>, 'types': <[('builtins.bytes', @t 100, @t 104857600), "
                              "('builtins.dict', 500, 300000), ('builtins.str', 4000, 250000)]>}>, "
                              "'ledger': <{'heap_private_dirty': <@t 314572800>, 'explained': <@t 104857600>, "
                              "'pymalloc_free': <@t 10485760>, 'unexplained': <@t 199229440>}>},)"));
    }
  else if (g_str_equal (method, "GetHistory"))
    {
      guint32 pid;

      g_variant_get_child (parameters, 0, "u", &pid);
      fake->history_calls++;
      g_dbus_method_invocation_return_value (invocation, fake_history (pid));
    }
  else
    g_dbus_method_invocation_return_dbus_error (invocation, "org.pymemd.Error.Failed", "not in this test");
}

static void
fake_start (FakeDaemon *fake, PymemdTestService *service, guint32 uid)
{
  static const GDBusInterfaceVTable vtable = { fake_method_call, NULL, NULL, { 0 } };
  g_autofree char *xml_path = g_test_build_filename (G_TEST_DIST, "..", "data", "org.pymemd.Monitor1.xml", NULL);
  g_autofree char *xml = NULL;
  g_autoptr(GDBusNodeInfo) node = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  g_file_get_contents (xml_path, &xml, NULL, &error);
  g_assert_no_error (error);
  node = g_dbus_node_info_new_for_xml (xml, &error);
  g_assert_no_error (error);
  fake->connection = service->conn;
  fake->processes = fake_processes (MANY, uid);
  g_dbus_connection_register_object (fake->connection, MANAGER_PATH,
                                     g_dbus_node_info_lookup_interface (node, "org.pymemd.Monitor1"), &vtable, fake,
                                     NULL, &error);
  g_assert_no_error (error);
  reply = g_dbus_connection_call_sync (fake->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "RequestName", g_variant_new ("(su)", BUS_NAME, 4),
                                       G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, 5000, NULL, &error);
  g_assert_no_error (error);
}

static void
fake_emit (FakeDaemon *fake, const char *interface, const char *member, const char *path, GVariant *parameters)
{
  g_autoptr(GError) error = NULL;

  g_dbus_connection_emit_signal (fake->connection, fake->subscriber, path, interface, member, parameters, &error);
  g_assert_no_error (error);
}

/* utime + stime of PID, in seconds. */
static double
cpu_seconds (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree char *stat = NULL;
  g_auto(GStrv) fields = NULL;
  g_autoptr(GError) error = NULL;

  g_file_get_contents (path, &stat, NULL, &error);
  g_assert_no_error (error);
  fields = g_strsplit (strrchr (stat, ')') + 2, " ", -1);
  return (double) (g_ascii_strtoull (fields[11], NULL, 10) + g_ascii_strtoull (fields[12], NULL, 10)) /
         (double) sysconf (_SC_CLK_TCK);
}

/* Context switches of all the threads of PID: each time one was woken. */
static guint64
context_switches (GPid pid)
{
  g_autofree char *dir_path = g_strdup_printf ("/proc/%d/task", pid);
  g_autoptr(GDir) dir = g_dir_open (dir_path, 0, NULL);
  const char *task;
  guint64 sum = 0;

  g_assert_nonnull (dir);
  while ((task = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir_path, task, "status", NULL);
      g_autofree char *status = NULL;
      g_auto(GStrv) lines = NULL;

      if (!g_file_get_contents (path, &status, NULL, NULL))
        continue; /* a thread that just ended */
      lines = g_strsplit (status, "\n", -1);
      for (guint i = 0; lines[i] != NULL; i++)
        if (g_str_has_prefix (lines[i], "voluntary_ctxt_switches:") ||
            g_str_has_prefix (lines[i], "nonvoluntary_ctxt_switches:"))
          sum += g_ascii_strtoull (strchr (lines[i], ':') + 1, NULL, 10);
    }
  return sum;
}

typedef struct {
  guint added, removed, changed, processes;
} Batch;

static gboolean
parse_batch (const char *line, Batch *batch)
{
  const char *at = strstr (line, "batch +");

  return at != NULL && sscanf (at, "batch +%u -%u ~%u: %u processes", &batch->added, &batch->removed,
                               &batch->changed, &batch->processes) == 4;
}

static gboolean
any_batch (const char *line, gconstpointer data)
{
  Batch batch;

  return parse_batch (line, &batch);
}

/* Waits until the batches from *FROM on add up to WANT of one kind
 * (offsetof into Batch), or more (a history's answer is a change too);
 * how many batches that took. */
static guint
wait_batches (Applet *applet, guint *from, gsize field, guint want, const char *what)
{
  guint sum = 0, batches = 0;

  while (sum < want)
    {
      const char *line = applet_wait (applet, from, any_batch, NULL, 60, what);
      Batch batch;

      g_assert_true (parse_batch (line, &batch));
      sum += G_STRUCT_MEMBER (guint, &batch, field);
      batches++;
    }
  return batches;
}

/* Thousands of processes: one GetProcesses, history only for the rows in
 * view, a flood of MemoryChanged applied in a few batches (and the list
 * re-sorted by them), thousands gone at once, a hundred new; then one's
 * GrowthSuspected and its heap. The applet runs under valgrind when the
 * tests do: this covers its code, and its exit shows its leaks. */
static void
test_thousands (void)
{
  Desktop desktop;
  PymemdTestService service;
  FakeDaemon fake = { 0 };
  Applet applet = { .stderr_fd = -1 };
  g_autofree char *many = g_strdup_printf ("page list: %u processes", MANY);
  guint from = 0, flood_from, batches, history_calls;
  gint64 start;
  double cpu, seconds;

  if (!setup (&desktop, &service))
    return;
  fake_start (&fake, &service, desktop.uid);
  applet_start_with_address (&applet, &desktop, service.address);
  applet_wait (&applet, &from, contains, many, 60, "the thousands");
  /* The largest first. */
  applet_wait (&applet, &from, contains, "row pid=5999 name=fake-4999 shows “PSS 4.9", 30, "the largest row");
  pymemd_test_iterate_for (2);
  history_calls = fake.history_calls;
  g_test_message ("GetHistory calls for %u processes: %u", MANY, history_calls);
  /* GtkListView binds at most 200 rows around what is in view, whatever
   * the model's length: the processes asked about are those. */
  g_assert_cmpuint (history_calls, >, 0);
  g_assert_cmpuint (history_calls, <=, 250);

  /* Nothing happens: once it has drawn what is in view (at once here,
   * slower under valgrind) the applet must not wake at all for 3 s. A
   * hidden spinner kept it drawing some 700 times a second. */
  {
    gint64 quiet_deadline = g_get_monotonic_time () + (gint64) (30 * applet.slowness * G_USEC_PER_SEC);
    guint64 switches;
    double idle_cpu;

    do
      {
        switches = context_switches (applet.pid);
        idle_cpu = cpu_seconds (applet.pid);
        pymemd_test_iterate_for (3);
        switches = context_switches (applet.pid) - switches;
        idle_cpu = cpu_seconds (applet.pid) - idle_cpu;
        g_test_message ("idle for 3 s: %" G_GUINT64_FORMAT " wakeups, %.2f CPU seconds", switches, idle_cpu);
      }
    while (switches >= 30 && g_get_monotonic_time () < quiet_deadline);
    g_assert_cmpuint (switches, <, 30);
  }

  /* Every process changes at once; the smallest becomes the largest. */
  flood_from = from;
  cpu = cpu_seconds (applet.pid);
  start = g_get_monotonic_time ();
  for (guint i = 0; i < MANY; i++)
    {
      g_autofree char *path = fake_path (i);
      guint64 pss = i == 0 ? G_GUINT64_CONSTANT (10) << 30 : (i + 2) * MIB;
      GVariant *sample = g_variant_new_parsed ("{'pss': %t, 'private_dirty': %t, 'rss': %t, 'uss': %t}",
                                               pss, pss / 2, pss + MIB, pss);

      fake_emit (&fake, "org.pymemd.Monitor1", "MemoryChanged", MANAGER_PATH,
                 g_variant_new ("(uout@a{st})", 7, path, fake_pid (i), fake_start_time (i), sample));
    }
  g_dbus_connection_flush_sync (fake.connection, NULL, NULL);
  batches = wait_batches (&applet, &from, G_STRUCT_OFFSET (Batch, changed), MANY, "the changes");
  seconds = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  g_test_message ("%u MemoryChanged applied in %u batches, %.2f s, %.2f CPU seconds", MANY, batches, seconds,
                  cpu_seconds (applet.pid) - cpu);
  /* Applied together: at most five batches a second however many
   * signals, not a redraw and a re-sort for each. */
  g_assert_cmpfloat (batches, <=, seconds * 5 + 2);
  g_assert_cmpuint (batches, <, MANY / 50);
  /* Rows are shown before their batch is logged. */
  applet_wait (&applet, &flood_from, contains, "row pid=1000 name=fake-0 shows “PSS 10.0", 30, "the re-sorted list");

  /* Half of them exit together, a hundred start. */
  for (guint i = MANY / 2; i < MANY; i++)
    {
      g_autofree char *path = fake_path (i);

      fake_emit (&fake, "org.freedesktop.DBus.ObjectManager", "InterfacesRemoved", MANAGER_PATH,
                 g_variant_new_parsed ("(%o, ['org.pymemd.Process1'])", path));
    }
  g_dbus_connection_flush_sync (fake.connection, NULL, NULL);
  wait_batches (&applet, &from, G_STRUCT_OFFSET (Batch, removed), MANY / 2, "the exits");
  for (guint i = 2 * MANY; i < 2 * MANY + 100; i++)
    {
      g_autofree char *path = fake_path (i);
      /* The first named to read backwards from U+202E on (“new-10000exe.png”). */
      g_autofree char *name = g_strdup_printf (i == 2 * MANY ? "new-%u\u202egnp.exe" : "new-%u", i);

      fake_emit (&fake, "org.freedesktop.DBus.ObjectManager", "InterfacesAdded", MANAGER_PATH,
                 g_variant_new_parsed ("(%o, {'org.pymemd.Process1': {'Pid': <%u>, 'StartTime': <%t>, "
                                       "'Uid': <%u>, 'Name': <%s>, 'Cmdline': <%s>, 'PythonVersion': <'3.12.1'>, "
                                       "'Rss': <%t>, 'Swap': <@t 0>}})",
                                       path, fake_pid (i), fake_start_time (i), (guint32) 0, name, name,
                                       (guint64) 20 << 30));
    }
  g_dbus_connection_flush_sync (fake.connection, NULL, NULL);
  flood_from = from;
  wait_batches (&applet, &from, G_STRUCT_OFFSET (Batch, added), 100, "the new ones");
  /* Root's, as InterfacesAdded gives them to everyone: RSS alone; on top,
   * where the person looks; the override shown as '?', as pymemctl does. */
  applet_wait (&applet, &flood_from, contains, "row pid=11000 name=new-10000?gnp.exe shows “RSS 20.0", 30,
               "a new row");

  /* Growth of one: the notification, and its button to the heap. */
  {
    g_autofree char *path = fake_path (0);
    g_autoptr(GPtrArray) shown = NULL;
    Notification *growth;

    fake_emit (&fake, "org.pymemd.Monitor1", "GrowthSuspected", MANAGER_PATH,
               g_variant_new ("(uoutdd@aa{sv})", 7, path, fake_pid (0), fake_start_time (0), 64.0 * MIB, 1800.0,
                              g_variant_new_array (G_VARIANT_TYPE_VARDICT, NULL, 0)));
    growth = wait_notification (&desktop, "(pid 1000)", &shown);
    g_assert_cmpstr (growth->summary, ==, "fake-0 keeps growing");
    g_assert_cmpstr (growth->body, ==, "Its memory (PSS) grew by 64.0\u00a0MiB an hour over the last 30 minutes "
                                       "(pid 1000).");
    click_notification (&desktop, growth->id, notification_button (growth, "Inspect Heap"));
    applet_wait (&applet, &from, contains,
                 "heap shown pid=1000 heap_private_dirty=314572800 explained=104857600 pymalloc_free=10485760 "
                 "unexplained=199229440 types=3",
                 30, "the heap view");
    applet_wait (&applet, &from, contains, "heap drawn pid=1000", 30, "the heap view drawn");
  }

  applet_stop (&applet);
  applet_clear (&applet);
  g_free (fake.subscriber);
  g_variant_unref (fake.processes);
  pymemd_test_service_stop (&service);
  desktop_stop (&desktop);
}

int
main (int argc, char *argv[])
{
  put_applet_in_path ();
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/applet/desktop", test_desktop);
  g_test_add_func ("/applet/thousands", test_thousands);
  return g_test_run ();
}
