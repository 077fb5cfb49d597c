/* Attaching end to end, as the daemon does it under its unit's UMask=0077: CPython 3.14 idle (sleep, select, poll), busy and another user's, each within a second, once, silently and leaving no file; pyenv's 3.6 and 3.7 reached; 2.7 refused with its sentence; a bootstrap's failure told to the caller. */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "pymemd-error.h"
#include "testutil.h"

#define BUS_NAME  "org.pymemd.Monitor1"
#define BUS_PATH  "/org/pymemd/Monitor1"
#define BUS_IFACE "org.pymemd.Monitor1"

/* What "within a second" allows the first attach, which also starts the
 * attach process and loads the helper. */
#define ATTACH_SECONDS_MAX 1.0

/* ---- the targets ---- */

static const char sleep_code[] =
  "import time\n"
  "print('ready', flush=True)\n"
  "time.sleep(3000)\n";

static const char select_code[] =
  "import select, sys\n"
  "print('ready', flush=True)\n"
  "select.select([sys.stdin], [], [])\n"
  "import time\n"
  "time.sleep(3000)\n";

static const char poll_code[] =
  "import select\n"
  "p = select.poll()\n"
  "p.register(0, select.POLLIN)\n"
  "print('ready', flush=True)\n"
  "p.poll()\n"
  "import time\n"
  "time.sleep(3000)\n";

static const char busy_code[] =
  "print('ready', flush=True)\n"
  "n = 0\n"
  "while True:\n"
  "    n += 1\n";

/* ---- the fixture: the daemon under UMask=0077, as its unit runs it ---- */

typedef struct {
  PymemdTestService service;
  char             *helper_dir; /* a copy of the helper only root can read, or NULL */
} Fixture;

/* The runtime directory made as systemd makes RuntimeDirectory= (0755,
 * whatever the unit's umask), then the daemon started with umask 0077. */
static void
start_daemon (Fixture *fx)
{
  mode_t old;

  g_assert_cmpint (g_mkdir_with_parents (fx->service.runtime_dir, 0755), ==, 0);
  g_assert_cmpint (g_chmod (fx->service.runtime_dir, 0755), ==, 0);
  old = umask (0077);
  pymemd_test_service_start_daemon (&fx->service, "0.5");
  umask (old);
}

static void
fixture_setup (Fixture *fx, gconstpointer data)
{
  memset (fx, 0, sizeof *fx);
  if (!pymemd_test_service_start_bus (&fx->service))
    return;
  start_daemon (fx);
}

/* Nothing is left in the runtime directory but the socket: no script,
 * and no scripts' directory either. */
static void
assert_no_leftovers (Fixture *fx)
{
  g_autoptr(GDir) dir = g_dir_open (fx->service.runtime_dir, 0, NULL);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    if (!g_str_equal (name, "helper.sock"))
      g_error ("left in the runtime directory: %s", name);
}

static void
fixture_teardown (Fixture *fx, gconstpointer data)
{
  if (fx->service.address != NULL)
    {
      g_autofree char *scripts = g_build_filename (fx->service.runtime_dir, "attach", NULL);

      pymemd_test_service_stop_daemon (&fx->service);
      /* The daemon takes the scripts' directory with it. */
      g_assert_false (g_file_test (scripts, G_FILE_TEST_EXISTS));
    }
  pymemd_test_service_stop (&fx->service);
  if (fx->helper_dir != NULL)
    pymemd_test_rm_rf (fx->helper_dir);
  g_free (fx->helper_dir);
}

static gboolean
skipped (Fixture *fx)
{
  return fx->service.address == NULL;
}

/* ---- the targets' lives ---- */

/* Runs CODE with PYTHON, as nobody with AS_NOBODY, its stderr kept. */
static void
spawn (PymemdTestChild *child, const char *python, gboolean as_nobody, const char *code)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *ready = NULL;

  if (as_nobody)
    {
      g_ptr_array_add (argv, (gpointer) pymemd_test_setpriv ());
      g_ptr_array_add (argv, (gpointer) "--reuid=nobody");
      g_ptr_array_add (argv, (gpointer) "--regid=nogroup");
      g_ptr_array_add (argv, (gpointer) "--clear-groups");
    }
  g_ptr_array_add (argv, (gpointer) python);
  g_ptr_array_add (argv, (gpointer) "-c");
  g_ptr_array_add (argv, (gpointer) code);
  g_ptr_array_add (argv, NULL);
  g_assert_true (pymemd_test_child_spawn_env (child, (const char *const *) argv->pdata, NULL, &ready, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (ready, ==, "ready");
}

/* Ends CHILD (it runs until killed) and checks it wrote nothing on its
 * stderr meanwhile. */
static void
assert_silent_and_stop (PymemdTestChild *child)
{
  GString *err = g_string_new (NULL);
  char buf[4096];
  gssize n;

  g_assert_cmpint (kill (child->pid, 0), ==, 0); /* alive */
  kill (child->pid, SIGKILL);
  while ((n = read (child->stderr_fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0)
      g_string_append_len (err, buf, n);
  if (err->len > 0)
    g_test_message ("stderr: %s", err->str);
  g_assert_cmpuint (err->len, ==, 0);
  g_string_free (err, TRUE);
  pymemd_test_child_stop (child);
}

/* ---- the bus ---- */

static GVariant *
get_heap (Fixture *fx, GPid pid, gboolean attach, GError **error)
{
  GVariantDict options;
  g_autoptr(GVariant) reply = NULL;

  g_variant_dict_init (&options, NULL);
  if (attach)
    g_variant_dict_insert (&options, "attach", "b", TRUE);
  reply = g_dbus_connection_call_sync (fx->service.conn, BUS_NAME, BUS_PATH, BUS_IFACE, "GetHeapSummary",
                                       g_variant_new ("(ut@a{sv})", (guint32) pid, (guint64) 0,
                                                      g_variant_dict_end (&options)),
                                       G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE, 120000, NULL, error);
  return reply != NULL ? g_variant_get_child_value (reply, 0) : NULL;
}

/* Attaches to PID: the summary, the way and the seconds it took. */
static void
attach (Fixture *fx, GPid pid, const char *expected_method, const char *what)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) summary = NULL;
  g_autofree char *method = NULL;
  double seconds = -1;

  pymemd_test_service_wait_pid (&fx->service, pid);
  summary = get_heap (fx, pid, TRUE, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_lookup (summary, "attached_by", "s", &method));
  g_assert_true (g_variant_lookup (summary, "attach_seconds", "d", &seconds));
  g_test_message ("%s: attached by %s in %.3f s", what, method, seconds);
  g_assert_cmpstr (method, ==, expected_method);
  if (!pymemd_test_under_valgrind ())
    g_assert_cmpfloat (seconds, <, ATTACH_SECONDS_MAX);
}

/* ---- CPython 3.14 ---- */

typedef struct {
  const char *name;
  const char *code;
  const char *method;
  gboolean    as_nobody;
} Case314;

static const Case314 cases_314[] = {
  { "idle-sleep", sleep_code, "parked-thread", FALSE },
  { "idle-select", select_code, "parked-thread", FALSE },
  { "idle-poll", poll_code, "parked-thread", FALSE },
  { "busy", busy_code, "pep768", FALSE },
  { "nobody-idle-sleep", sleep_code, "parked-thread", TRUE },
  { "nobody-busy", busy_code, "pep768", TRUE },
};

/* Each way: attached within a second; asked again, the helper answers
 * without a second one; the process printed nothing and kept one helper
 * thread; no script is left. */
static void
test_314 (Fixture *fx, gconstpointer data)
{
  const Case314 *c = data;
  const char *why = NULL;
  const char *python = pymemd_test_python314 (&why);
  PymemdTestChild child;
  guint threads;

  if (python == NULL)
    {
      g_test_skip (why);
      return;
    }
  if (skipped (fx))
    return;
  if (c->as_nobody && (pymemd_test_setpriv () == NULL || getpwnam ("nobody") == NULL))
    {
      g_test_skip ("needs setpriv and the user nobody");
      return;
    }
  spawn (&child, python, c->as_nobody, c->code);
  threads = pymemd_test_count_threads (child.pid);
  attach (fx, child.pid, c->method, c->name);
  /* The bootstrap's thread has ended, the helper's runs. */
  for (guint i = 0; i < 1000 && pymemd_test_count_threads (child.pid) != threads + 1; i++)
    g_usleep (2000);
  g_assert_cmpuint (pymemd_test_count_threads (child.pid), ==, threads + 1);
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) again = get_heap (fx, child.pid, TRUE, &error);

    g_assert_no_error (error);
    g_assert_false (g_variant_lookup (again, "attached_by", "s", NULL));
  }
  g_usleep (100000);
  g_assert_cmpuint (pymemd_test_count_threads (child.pid), ==, threads + 1);
  assert_no_leftovers (fx);
  assert_silent_and_stop (&child);
}

/* The helper's files cannot be read by nobody's process: the bootstrap
 * tells the daemon why, the caller gets that reason at once (not a
 * timeout), and the process prints nothing. */
static void
test_314_unreadable_helper (Fixture *fx, gconstpointer data)
{
  const char *why = NULL;
  const char *python = pymemd_test_python314 (&why);
  g_autofree char *saved = g_strdup (g_getenv ("PYMEMD_HELPER_DIR"));
  g_autofree char *package = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) summary = NULL;
  PymemdTestChild child;
  gint64 start;

  if (python == NULL)
    {
      g_test_skip (why);
      return;
    }
  if (skipped (fx))
    return;
  if (pymemd_test_setpriv () == NULL || getpwnam ("nobody") == NULL)
    {
      g_test_skip ("needs setpriv and the user nobody");
      return;
    }
  /* A daemon whose helper directory only root can read. */
  fx->helper_dir = pymemd_test_mkdtemp ();
  package = g_build_filename (fx->helper_dir, "pymemd_helper", NULL);
  {
    g_autofree char *from = g_build_filename (saved, "pymemd_helper", NULL);
    pymemd_test_copy_tree (from, package);
  }
  g_assert_cmpint (g_chmod (fx->helper_dir, 0711), ==, 0);
  g_assert_cmpint (g_chmod (package, 0700), ==, 0);
  pymemd_test_service_stop_daemon (&fx->service);
  g_setenv ("PYMEMD_HELPER_DIR", fx->helper_dir, TRUE);
  start_daemon (fx);
  g_setenv ("PYMEMD_HELPER_DIR", saved, TRUE);

  spawn (&child, python, TRUE, sleep_code);
  pymemd_test_service_wait_pid (&fx->service, child.pid);
  start = g_get_monotonic_time ();
  summary = get_heap (fx, child.pid, TRUE, &error);
  g_assert_null (summary);
  g_test_message ("refused in %.3f s: %s", (g_get_monotonic_time () - start) / 1e6, error->message);
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "could not start"));
  g_assert_nonnull (strstr (error->message, "PermissionError"));
  g_assert_cmpint (g_get_monotonic_time () - start, <, 10 * G_USEC_PER_SEC);
  assert_no_leftovers (fx);
  assert_silent_and_stop (&child);
}

/* ---- older interpreters ---- */

/* pyenv's 3.6 and 3.7, idle and busy: the bootstrap gets in, the helper
 * answers with a summary, and asked again without attaching, the daemon
 * finds it. */
static void
test_old (Fixture *fx, gconstpointer data)
{
  const char *series = data;
  g_autofree char *prefix = pymemd_test_pyenv_prefix (series);
  g_autofree char *python = NULL;
  const char *codes[] = { sleep_code, busy_code };
  const char *methods[] = { "parked-thread", "pending-call" };

  if (prefix == NULL)
    {
      g_test_skip_printf ("pyenv has no Python %s", series);
      return;
    }
  if (skipped (fx))
    return;
  python = g_strdup_printf ("%s/bin/python%s", prefix, series);
  for (guint i = 0; i < G_N_ELEMENTS (codes); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GError) again_error = NULL;
      g_autoptr(GVariant) summary = NULL;
      g_autoptr(GVariant) again = NULL;
      g_autoptr(GVariant) census = NULL;
      g_autoptr(GVariant) types = NULL;
      g_autofree char *method = NULL;
      PymemdTestChild child;

      spawn (&child, python, FALSE, codes[i]);
      pymemd_test_service_wait_pid (&fx->service, child.pid);
      summary = get_heap (fx, child.pid, TRUE, &error);
      g_assert_no_error (error);
      g_assert_true (g_variant_lookup (summary, "attached_by", "s", &method));
      g_assert_cmpstr (method, ==, methods[i]);
      census = g_variant_lookup_value (summary, "census", G_VARIANT_TYPE_VARDICT);
      g_assert_nonnull (census);
      types = g_variant_lookup_value (census, "types", G_VARIANT_TYPE ("a(stt)"));
      g_assert_nonnull (types);
      g_assert_cmpuint (g_variant_n_children (types), >, 0);
      again = get_heap (fx, child.pid, FALSE, &again_error);
      g_assert_no_error (again_error);
      g_assert_false (g_variant_lookup (again, "attached_by", "s", NULL));
      assert_no_leftovers (fx);
      assert_silent_and_stop (&child);
    }
}

/* Python 2: refused with a sentence that says so, the process untouched. */
static void
test_python2 (Fixture *fx, gconstpointer data)
{
  g_autofree char *prefix = pymemd_test_pyenv_prefix ("2.7");
  g_autofree char *python = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) summary = NULL;
  PymemdTestChild child;

  if (prefix == NULL)
    {
      g_test_skip ("pyenv has no Python 2.7");
      return;
    }
  if (skipped (fx))
    return;
  python = g_build_filename (prefix, "bin", "python2.7", NULL);
  spawn (&child, python, FALSE, "import sys, time\nsys.stdout.write('ready\\n')\nsys.stdout.flush()\ntime.sleep(3000)\n");
  pymemd_test_service_wait_pid (&fx->service, child.pid);
  summary = get_heap (fx, child.pid, TRUE, &error);
  g_assert_null (summary);
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "runs Python 2.7: pymemd attaches only to Python 3.6 and later"));
  assert_no_leftovers (fx);
  assert_silent_and_stop (&child);
}

/* A distribution compiles its Python's modules when it installs them;
 * the CPython 3.14 the tests fetch comes without, and the tests' own
 * environment forbids writing bytecode: every target would compile json,
 * re and enum from source as the helper loads (0.4 to 0.7 s on the
 * reference machine), which no installed system does. So the modules the
 * bootstrap and the helper load are compiled once into a cache of the
 * test's own (PYTHONPYCACHEPREFIX, which the targets inherit). Returns
 * that directory, NULL without a 3.14. */
static char *
warm_bytecode_cache (void)
{
  const char *why = NULL;
  const char *python = pymemd_test_python314 (&why);
  g_autofree char *code = NULL;
  g_auto(GStrv) envp = NULL;
  g_autoptr(GError) error = NULL;
  char *cache;
  int status = 0;

  if (python == NULL || g_getenv ("PYMEMD_HELPER_DIR") == NULL)
    return NULL;
  cache = pymemd_test_mkdtemp ();
  g_assert_cmpint (g_chmod (cache, 0755), ==, 0);
  g_setenv ("PYTHONPYCACHEPREFIX", cache, TRUE);
  envp = g_environ_unsetenv (g_get_environ (), "PYTHONDONTWRITEBYTECODE");
  code = g_strdup_printf ("import sys, importlib.util\n"
                          "sys.path.insert(0, '%s')\n"
                          "import pymemd_helper, pymemd_helper._connection, pymemd_helper._frames\n",
                          g_getenv ("PYMEMD_HELPER_DIR"));
  {
    const char *argv[] = { python, "-c", code, NULL };
    g_spawn_sync (NULL, (char **) argv, envp, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL, &status, &error);
  }
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  return cache;
}

int
main (int argc, char **argv)
{
  g_autofree char *cache = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);
  /* Registers the error domain with GDBus: replies carry our codes. */
  (void) pymemd_error_quark ();
  if (pymemd_test_is_root ())
    cache = warm_bytecode_cache ();

  for (guint i = 0; i < G_N_ELEMENTS (cases_314); i++)
    {
      g_autofree char *path = g_strdup_printf ("/attach/3.14/%s", cases_314[i].name);
      g_test_add (path, Fixture, &cases_314[i], fixture_setup, test_314, fixture_teardown);
    }
  g_test_add ("/attach/3.14/unreadable-helper", Fixture, NULL, fixture_setup, test_314_unreadable_helper,
              fixture_teardown);
  g_test_add ("/attach/3.6", Fixture, "3.6", fixture_setup, test_old, fixture_teardown);
  g_test_add ("/attach/3.7", Fixture, "3.7", fixture_setup, test_old, fixture_teardown);
  g_test_add ("/attach/2.7", Fixture, NULL, fixture_setup, test_python2, fixture_teardown);
  status = g_test_run ();
  if (cache != NULL)
    pymemd_test_rm_rf (cache);
  return status;
}
