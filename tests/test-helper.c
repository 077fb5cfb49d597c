/* Runs the Python helper (helper/pymemd_helper) in every CPython 3.6+ on the machine against the real helper channel: its summaries and what they hold, tracemalloc, collect, the budget, reconnection, attach, the .pth start, and a process that goes on undisturbed and silent. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "pymemd-error.h"
#include "pymemd-helper-channel.h"
#include "pymemd-pidfiles.h"
#include "testutil.h"

#define NONCE       "0123456789abcdef0123456789abcdef"
#define OTHER_NONCE "fedcba9876543210fedcba9876543210"
#define MARKERS     10000
#define CYCLES      5000

/* The child: 10000 Markers, the helper started on argv[1] (unless argv[2]
 * is "env": then the .pth must have started it), and one command per stdin
 * line, each answered "ok COMMAND" so that the test sees the main thread
 * keep working. */
static const char child_code[] =
  "import gc, sys, _thread\n"
  "\n"
  "class Marker(object):\n"
  "    pass\n"
  "\n"
  "markers = [Marker() for _ in range(" G_STRINGIFY (MARKERS) ")]\n"
  "blocks = big = None\n"
  "if sys.argv[2] == 'import':\n"
  "    import pymemd_helper\n"
  "    pymemd_helper.start(sys.argv[1])\n"
  "print('ready', 'pymemd_helper' in sys.modules, flush=True)\n"
  "for line in sys.stdin:\n"
  "    words = line.split()\n"
  "    if words[0] == 'alloc':\n"
  "        blocks = [bytearray(1000) for _ in range(2000)]  # ALLOCATION SITE\n"
  "    elif words[0] == 'cycles':\n"
  "        gc.disable()\n"
  "        for _ in range(" G_STRINGIFY (CYCLES) "):\n"
  "            cycle = []\n"
  "            cycle.append(cycle)\n"
  "        del cycle\n"
  "    elif words[0] == 'gc-on':\n"
  "        gc.enable()\n"
  "    elif words[0] == 'big':\n"
  "        # 4 tracked objects each: a list, a dict, a list in it, a Marker.\n"
  "        big = [[{'k': [i]}, Marker()] for i in range(250000)]\n"
  "    elif words[0] == 'attach':\n"
  "        import pymemd_helper\n"
  "        _thread.start_new_thread(pymemd_helper.attach, (sys.argv[1], words[1]))\n"
  "    elif words[0] == 'exit':\n"
  "        break\n"
  "    print('ok', words[0], flush=True)\n";

/* An interpreter the tests run: Debian's python3, or pyenv's 3.MINOR. */
typedef struct {
  const char *name;
  int         minor;
} Interpreter;

static const Interpreter interpreters[] = {
  { "debian", 0 }, { "3.6", 6 }, { "3.7", 7 }, { "3.8", 8 }, { "3.9", 9 }, { "3.10", 10 }, { "3.11", 11 },
  { "3.12", 12 }, { "3.13", 13 }, { "3.14", 14 },
};

typedef struct {
  const Interpreter *interpreter;
  char                *python;
  char                *tmp;
  char                *socket_path;
  char                *script;
  PymemdHelperChannel *channel;
  PymemdTestChild      child;
  guint64              start_time;
  guint                connected;
  char                *last_how;
  GPtrArray           *rejections;
} Fixture;

/* The main context until COND holds, 60 s at most. */
#define WAIT_FOR(cond) PYMEMD_TEST_WAIT_FOR (cond, 60)

/* ---- finding the interpreters ---- */

/* bin/python3.MINOR of ~/.pyenv/versions/3.MINOR.N; absolute, since
 * pyenv's shims come first in PATH. */
static char *
find_pyenv_python (int minor)
{
  const char *root = g_getenv ("PYENV_ROOT");
  g_autofree char *default_root = g_build_filename (g_get_home_dir (), ".pyenv", NULL);
  g_autofree char *versions = g_build_filename (root ? root : default_root, "versions", NULL);
  g_autofree char *prefix = g_strdup_printf ("3.%d.", minor);
  g_autofree char *binary = g_strdup_printf ("python3.%d", minor);
  g_autoptr(GDir) dir = g_dir_open (versions, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      char *path;

      if (!g_str_has_prefix (name, prefix))
        continue;
      path = g_build_filename (versions, name, "bin", binary, NULL);
      if (g_file_test (path, G_FILE_TEST_IS_EXECUTABLE))
        return path;
      g_free (path);
    }
  return NULL;
}

/* NULL, with WHY saying so, when it is not on this machine. */
static char *
find_python (const Interpreter *interpreter, const char **why)
{
  char *python;

  *why = NULL;
  if (interpreter->minor == 0)
    return g_file_test ("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE)
             ? g_strdup ("/usr/bin/python3") : NULL;
  python = find_pyenv_python (interpreter->minor);
  /* Debian unstable's, which tools/python3.14 runs. */
  if (python == NULL && interpreter->minor == 14)
    python = g_strdup (pymemd_test_python314 (why));
  return python;
}

static const char *
helper_dir (void)
{
  static char *dir = NULL;

  if (dir == NULL)
    {
      const char *env = g_getenv ("PYMEMD_HELPER_DIR");
      dir = env != NULL ? g_strdup (env)
                        : g_test_build_filename (G_TEST_DIST, "..", "helper", NULL);
    }
  return dir;
}

/* ---- the fixture: a channel and a Python child ---- */

static void
on_connected (PymemdHelperChannel *channel, int pid, guint64 start_time, const char *how,
              Fixture *fx)
{
  fx->connected++;
  g_free (fx->last_how);
  fx->last_how = g_strdup (how);
}

static void
on_rejected (PymemdHelperChannel *channel, int pid, const char *reason, Fixture *fx)
{
  g_test_message ("channel rejected pid %d: %s", pid, reason);
  g_ptr_array_add (fx->rejections, g_strdup (reason));
}

static void
open_channel (Fixture *fx)
{
  g_autoptr(GError) error = NULL;

  fx->channel = pymemd_helper_channel_new (fx->socket_path, "/proc", &error);
  g_assert_no_error (error);
  g_signal_connect (fx->channel, "helper-connected", G_CALLBACK (on_connected), fx);
  g_signal_connect (fx->channel, "rejected", G_CALLBACK (on_rejected), fx);
}

static void
fixture_setup (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  const char *missing = NULL;

  memset (fx, 0, sizeof *fx);
  fx->interpreter = data;
  fx->python = find_python (fx->interpreter, &missing);
  if (fx->python == NULL)
    {
      g_autofree char *why = g_strdup_printf ("no CPython %s here", fx->interpreter->name);
      g_test_skip (missing != NULL ? missing : why);
      return;
    }
  fx->tmp = pymemd_test_mkdtemp ();
  fx->socket_path = g_build_filename (fx->tmp, "helper.sock", NULL);
  fx->script = g_build_filename (fx->tmp, "child.py", NULL);
  g_assert_true (g_file_set_contents (fx->script, child_code, -1, &error));
  g_assert_no_error (error);
  fx->rejections = g_ptr_array_new_with_free_func (g_free);
  open_channel (fx);
}

static void
fixture_teardown (Fixture *fx, gconstpointer data)
{
  pymemd_test_child_stop (&fx->child);
  g_clear_object (&fx->channel);
  pymemd_test_iterate_for (0.05);
  if (fx->tmp != NULL)
    pymemd_test_rm_rf (fx->tmp);
  g_free (fx->tmp);
  g_free (fx->socket_path);
  g_free (fx->script);
  g_free (fx->python);
  g_free (fx->last_how);
  g_clear_pointer (&fx->rejections, g_ptr_array_unref);
}

static gboolean
skipped (Fixture *fx)
{
  return fx->python == NULL;
}

static char **
child_environ (void)
{
  char **envp = g_get_environ ();

  envp = g_environ_unsetenv (envp, "PYMEMD_HELPER");
  envp = g_environ_unsetenv (envp, "PYMEMD_SOCKET");
  envp = g_environ_unsetenv (envp, "PYTHONUSERBASE");
  envp = g_environ_unsetenv (envp, "PYTHONSTARTUP");
  envp = g_environ_unsetenv (envp, "PYTHONWARNINGS");
  /* The source tree may be read-only (distcheck): no __pycache__ there. */
  envp = g_environ_setenv (envp, "PYTHONDONTWRITEBYTECODE", "1", TRUE);
  return envp;
}

/* Starts the child with ENVP in MODE ("import" or "env") and returns its
 * ready line; its stderr is kept to check that nothing was printed. */
static char *
spawn_child (Fixture *fx, char **envp, const char *mode)
{
  /* -W default: the warnings Python hides (ResourceWarning, Deprecation)
   * would show up on stderr. */
  const char *argv[] = { fx->python, "-W", "default", fx->script, fx->socket_path, mode, NULL };
  g_autoptr(GError) error = NULL;
  char *ready = NULL;

  g_assert_true (pymemd_test_child_spawn_env (&fx->child, argv, (const char *const *) envp, &ready, &error));
  g_assert_no_error (error);
  fx->start_time = pymemd_test_start_time (fx->child.pid);
  return ready;
}

static void
spawn_importing_child (Fixture *fx)
{
  g_auto(GStrv) envp = child_environ ();
  g_autofree char *ready = NULL;

  envp = g_environ_setenv (envp, "PYTHONPATH", helper_dir (), TRUE);
  ready = spawn_child (fx, envp, "import");
  g_assert_cmpstr (ready, ==, "ready True");
}

/* Sends COMMAND and checks that the child's main thread answers it. */
static void
command (Fixture *fx, const char *word)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *expected = g_strdup_printf ("ok %s", word);
  g_autofree char *line = NULL;

  pymemd_test_child_send (&fx->child, word);
  line = pymemd_test_child_read_line (&fx->child, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, expected);
}

/* Ends the child as a program ends, and checks it exited 0, printed nothing
 * on stderr, and that the channel rejected nothing the helper said. */
static void
finish_child (Fixture *fx)
{
  GString *err = g_string_new (NULL);
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  char buffer[4096];
  int status = 0;
  gssize n;

  pymemd_test_child_send (&fx->child, "exit");
  while (waitpid (fx->child.pid, &status, WNOHANG) == 0)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("child %d did not exit within 30 s", fx->child.pid);
      pymemd_test_iterate_for (0.01);
    }
  fx->child.pid = 0;
  while ((n = read (fx->child.stderr_fd, buffer, sizeof buffer)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0)
      g_string_append_len (err, buffer, n);
  g_assert_cmpstr (err->str, ==, "");
  g_string_free (err, TRUE);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
  g_assert_cmpuint (fx->rejections->len, ==, 0);
}

/* ---- talking to the helper through the channel ---- */

typedef struct {
  gboolean           done;
  GError            *error;
  PymemdHeapSummary *summary;
} Result;

static void
wait_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Result *result = user_data;

  pymemd_helper_channel_wait_finish (PYMEMD_HELPER_CHANNEL (source), res, &result->error);
  result->done = TRUE;
}

static void
request_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Result *result = user_data;

  result->summary = pymemd_helper_channel_request_finish (PYMEMD_HELPER_CHANNEL (source), res,
                                                          &result->error);
  result->done = TRUE;
}

/* Waits for the child's helper to say hello (with NONCE if not NULL);
 * returns how long it took. */
static double
wait_helper (Fixture *fx, const char *nonce)
{
  Result result = { 0 };
  gint64 began = g_get_monotonic_time ();

  pymemd_helper_channel_wait_async (fx->channel, fx->child.pid, fx->start_time, nonce, 30, NULL,
                                    wait_done, &result);
  WAIT_FOR (result.done);
  g_assert_no_error (result.error);
  return (g_get_monotonic_time () - began) / (double) G_USEC_PER_SEC;
}

/* Starts a request; finish it with finish_request (). */
static void
start_request (Fixture *fx, const PymemdHeapRequest *request, Result *result)
{
  memset (result, 0, sizeof *result);
  pymemd_helper_channel_request_async (fx->channel, fx->child.pid, fx->start_time, request, 60,
                                       NULL, request_done, result);
}

/* The summary's document (the channel has validated it); free the Result's
 * summary with pymemd_heap_summary_free (). */
static JsonObject *
finish_request (Result *result)
{
  WAIT_FOR (result->done);
  g_assert_no_error (result->error);
  g_assert_nonnull (result->summary);
  return json_node_get_object (result->summary->document);
}

static JsonObject *
request (Fixture *fx, const PymemdHeapRequest *options, Result *result)
{
  start_request (fx, options, result);
  return finish_request (result);
}

static JsonObject *
object_member (JsonObject *object, const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  g_assert_nonnull (node);
  return JSON_NODE_HOLDS_NULL (node) ? NULL : json_node_get_object (node);
}

/* The census entry of TYPE_NAME, or NULL when it is not listed. */
static JsonObject *
census_type (JsonObject *summary, const char *type_name)
{
  JsonArray *types = json_object_get_array_member (object_member (summary, "census"), "types");

  for (guint i = 0; i < json_array_get_length (types); i++)
    {
      JsonObject *entry = json_array_get_object_element (types, i);

      if (g_strcmp0 (json_object_get_string_member (entry, "type"), type_name) == 0)
        return entry;
    }
  return NULL;
}

static void
log_cost (JsonObject *summary, const char *what)
{
  JsonObject *census = object_member (summary, "census");

  g_test_message ("%s: %" G_GINT64_FORMAT " objects, %" G_GINT64_FORMAT " bytes, "
                  "duration %.3f s, gil_max_hold %.4f s, complete %s", what,
                  json_object_get_int_member (census, "objects"),
                  json_object_get_int_member (census, "bytes"),
                  json_object_get_double_member (summary, "duration"),
                  json_object_get_double_member (summary, "gil_max_hold"),
                  json_object_get_boolean_member (summary, "complete") ? "yes" : "no");
}

/* The line of the child's allocation site, counted from 1. */
static gint64
allocation_line (void)
{
  const char *site = strstr (child_code, "# ALLOCATION SITE");
  gint64 line = 1;

  g_assert_nonnull (site);
  for (const char *c = child_code; c < site; c++)
    line += *c == '\n';
  return line;
}

/* The tracemalloc site of the child's allocation line, or NULL. */
static JsonObject *
allocation_site (Fixture *fx, JsonObject *tracemalloc)
{
  JsonArray *sites = json_object_get_array_member (tracemalloc, "sites");

  for (guint i = 0; i < json_array_get_length (sites); i++)
    {
      JsonObject *site = json_array_get_object_element (sites, i);

      if (g_strcmp0 (json_object_get_string_member (site, "file"), fx->script) == 0 &&
          json_object_get_int_member (site, "line") == allocation_line ())
        return site;
    }
  return NULL;
}

/* ---- the tests ---- */

static void
check_gc (JsonObject *gc, gboolean enabled)
{
  JsonArray *generations = json_object_get_array_member (gc, "generations");

  g_assert_cmpint (json_object_get_boolean_member (gc, "enabled"), ==, enabled);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (gc, "count")), ==, 3);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (gc, "threshold")), ==, 3);
  g_assert_cmpuint (json_array_get_length (generations), >=, 1);
  g_assert_cmpint (json_array_get_int_element (json_object_get_array_member (gc, "threshold"), 0),
                   >, 0);
  g_assert_cmpint (json_object_get_int_member (gc, "garbage"), ==, 0);
}

static void
test_summary (Fixture *fx, gconstpointer data)
{
  PymemdHeapRequest options;
  Result result;
  JsonObject *summary, *marker, *census, *pymalloc, *tracemalloc, *site, *collected;

  if (skipped (fx))
    return;
  spawn_importing_child (fx);
  wait_helper (fx, NULL);
  g_assert_cmpstr (fx->last_how, ==, "import");

  /* The census finds what the program made; sizes are the basic size of a
   * plain instance, at least a pointer. */
  pymemd_heap_request_init (&options);
  summary = request (fx, &options, &result);
  log_cost (summary, "summary");
  g_assert_cmpstr (json_object_get_string_member (summary, "implementation"), ==, "cpython");
  g_assert_true (json_object_get_boolean_member (summary, "complete"));
  g_assert_cmpint (json_object_get_int_member (summary, "threads"), ==, 2);
  g_assert_cmpint (json_object_get_int_member (summary, "modules"), >, 10);
  g_assert_cmpint (json_object_get_int_member (summary, "allocated_blocks"), >, 0);
  marker = census_type (summary, "__main__.Marker");
  g_assert_nonnull (marker);
  g_assert_cmpint (json_object_get_int_member (marker, "count"), ==, MARKERS);
  g_assert_cmpint (json_object_get_int_member (marker, "bytes"), >=, MARKERS * 16);
  g_assert_nonnull (census_type (summary, "builtins.dict"));
  census = object_member (summary, "census");
  g_assert_cmpint (json_object_get_int_member (census, "objects"), >, MARKERS);
  g_assert_cmpint (json_object_get_int_member (census, "bytes"), ==,
                   json_object_get_int_member (census, "small_bytes") +
                   json_object_get_int_member (census, "large_bytes"));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (census, "types")), ==,
                    options.top);
  check_gc (object_member (summary, "gc"), TRUE);
  /* pyenv's and Debian's builds all use pymalloc. */
  pymalloc = object_member (summary, "pymalloc");
  g_assert_nonnull (pymalloc);
  g_assert_cmpint (json_object_get_int_member (pymalloc, "arenas"), >, 0);
  g_assert_cmpint (json_object_get_int_member (pymalloc, "allocated_bytes"), <=,
                   json_object_get_int_member (pymalloc, "arena_bytes"));
  g_assert_null (object_member (summary, "tracemalloc"));
  g_assert_null (object_member (summary, "collect"));
  g_clear_pointer (&result.summary, pymemd_heap_summary_free);
  command (fx, "ping");

  /* Tracing on request: the child's allocation shows as a site. */
  options.trace = 5;
  summary = request (fx, &options, &result);
  tracemalloc = object_member (summary, "tracemalloc");
  g_assert_nonnull (tracemalloc);
  g_assert_true (json_object_get_boolean_member (tracemalloc, "tracing"));
  g_assert_cmpint (json_object_get_int_member (tracemalloc, "frames"), ==, 5);
  g_clear_pointer (&result.summary, pymemd_heap_summary_free);
  command (fx, "alloc");
  options.trace = -1;
  summary = request (fx, &options, &result);
  tracemalloc = object_member (summary, "tracemalloc");
  g_assert_nonnull (tracemalloc);
  g_assert_cmpint (json_object_get_int_member (tracemalloc, "traced_bytes"), >=, 2000 * 1000);
  site = allocation_site (fx, tracemalloc);
  g_assert_nonnull (site);
  g_assert_cmpint (json_object_get_int_member (site, "count"), >=, 2000);
  g_assert_cmpint (json_object_get_int_member (site, "bytes"), >=, 2000 * 1000);
  g_clear_pointer (&result.summary, pymemd_heap_summary_free);

  /* ... and off again. */
  options.trace = 0;
  summary = request (fx, &options, &result);
  tracemalloc = object_member (summary, "tracemalloc");
  g_assert_nonnull (tracemalloc);
  g_assert_false (json_object_get_boolean_member (tracemalloc, "tracing"));
  g_clear_pointer (&result.summary, pymemd_heap_summary_free);
  options.trace = -1;
  summary = request (fx, &options, &result);
  g_assert_null (object_member (summary, "tracemalloc"));
  g_clear_pointer (&result.summary, pymemd_heap_summary_free);

  /* collect frees the cycles the program dropped while gc was off. */
  command (fx, "cycles");
  options.collect = TRUE;
  summary = request (fx, &options, &result);
  check_gc (object_member (summary, "gc"), FALSE);
  collected = object_member (summary, "collect");
  g_assert_nonnull (collected);
  g_assert_cmpint (json_object_get_int_member (collected, "freed"), >=, CYCLES);
  g_assert_cmpint (json_object_get_int_member (collected, "garbage"), ==, 0);
  /* The helper saw that full collection. */
  g_assert_false (json_object_get_null_member (object_member (summary, "gc"),
                                               "last_full_collection"));
  g_clear_pointer (&result.summary, pymemd_heap_summary_free);
  command (fx, "gc-on");

  finish_child (fx);
}

static void
test_big_heap (Fixture *fx, gconstpointer data)
{
  PymemdHeapRequest options;
  Result result;
  JsonObject *summary, *census, *marker;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  gint64 began;

  if (skipped (fx))
    return;
  spawn_importing_child (fx);
  wait_helper (fx, NULL);
  command (fx, "big");

  /* The default budget is enough for a million objects ... */
  pymemd_heap_request_init (&options);
  start_request (fx, &options, &result);
  /* ... and the program's main thread answers while the census runs. */
  began = g_get_monotonic_time ();
  pymemd_test_child_send (&fx->child, "ping");
  line = pymemd_test_child_read_line (&fx->child, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, "ok ping");
  g_test_message ("the main thread answered in %.4f s during the census",
                  (g_get_monotonic_time () - began) / (double) G_USEC_PER_SEC);
  summary = finish_request (&result);
  log_cost (summary, "1M objects");
  g_assert_true (json_object_get_boolean_member (summary, "complete"));
  census = object_member (summary, "census");
  g_assert_cmpint (json_object_get_int_member (census, "objects"), >=, 1000000);
  marker = census_type (summary, "__main__.Marker");
  g_assert_nonnull (marker);
  g_assert_cmpint (json_object_get_int_member (marker, "count"), ==, MARKERS + 250000);
  g_assert_cmpfloat (json_object_get_double_member (summary, "gil_max_hold"), <=,
                     json_object_get_double_member (summary, "duration"));
  g_clear_pointer (&result.summary, pymemd_heap_summary_free);

  /* The smallest budget stops the census, which says so. */
  options.budget = 0.05;
  summary = request (fx, &options, &result);
  log_cost (summary, "1M objects, budget 0.05 s");
  g_assert_false (json_object_get_boolean_member (summary, "complete"));
  census = object_member (summary, "census");
  g_assert_cmpint (json_object_get_int_member (census, "objects"), <, 1000000);
  g_clear_pointer (&result.summary, pymemd_heap_summary_free);

  command (fx, "ping");
  finish_child (fx);
}

static void
test_reconnect (Fixture *fx, gconstpointer data)
{
  PymemdHeapRequest options;
  Result result;
  double waited;

  if (skipped (fx))
    return;
  spawn_importing_child (fx);
  wait_helper (fx, NULL);
  pymemd_heap_request_init (&options);
  request (fx, &options, &result);
  g_clear_pointer (&result.summary, pymemd_heap_summary_free);

  /* The daemon restarts: a new channel at the same path. */
  g_clear_object (&fx->channel);
  pymemd_test_iterate_for (0.1);
  open_channel (fx);
  waited = wait_helper (fx, NULL);
  g_test_message ("the helper came back after %.2f s", waited);
  g_assert_cmpfloat (waited, <, 10);
  request (fx, &options, &result);
  g_clear_pointer (&result.summary, pymemd_heap_summary_free);
  command (fx, "ping");
  finish_child (fx);
}

static void
test_attach (Fixture *fx, gconstpointer data)
{
  PymemdHeapRequest options;
  Result result;
  JsonObject *summary;
  g_autofree char *attach = g_strdup_printf ("attach %s", NONCE);
  g_autofree char *attach_other = g_strdup_printf ("attach %s", OTHER_NONCE);
  guint connected;

  if (skipped (fx))
    return;
  spawn_importing_child (fx);
  wait_helper (fx, NULL);

  /* The bootstrap's call, from a thread of its own: the helper reconnects
   * with the nonce ... */
  pymemd_test_child_send (&fx->child, attach);
  wait_helper (fx, NONCE);
  g_assert_cmpstr (fx->last_how, ==, "attach");
  connected = fx->connected;
  g_assert_cmpuint (connected, ==, 2);
  /* ... ignores a nonce it has seen ... */
  pymemd_test_child_send (&fx->child, attach);
  pymemd_test_iterate_for (1.5);
  g_assert_cmpuint (fx->connected, ==, connected);
  /* ... follows a new one, and stays one thread. */
  pymemd_test_child_send (&fx->child, attach_other);
  wait_helper (fx, OTHER_NONCE);
  pymemd_heap_request_init (&options);
  summary = request (fx, &options, &result);
  g_assert_cmpint (json_object_get_int_member (summary, "threads"), ==, 2);
  g_clear_pointer (&result.summary, pymemd_heap_summary_free);
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *line = pymemd_test_child_read_line (&fx->child, NULL);
      g_assert_cmpstr (line, ==, "ok attach");
    }
  finish_child (fx);
}

/* A user site-packages in TMP holding the .pth and the package, as an
 * installation would: the interpreter itself processes the .pth at start. */
static char **
user_site_environ (Fixture *fx)
{
  g_auto(GStrv) query_env = child_environ ();
  g_autoptr(GError) error = NULL;
  g_autofree char *userbase = g_build_filename (fx->tmp, "userbase", NULL);
  g_autofree char *site = NULL;
  g_autofree char *pth = g_build_filename (helper_dir (), "pymemd-helper.pth", NULL);
  g_autofree char *package = g_build_filename (helper_dir (), "pymemd_helper", NULL);
  g_autofree char *pth_link = NULL;
  g_autofree char *package_link = NULL;
  const char *argv[] = { fx->python, "-c",
                         "import site, sys; sys.stdout.write(site.getusersitepackages())", NULL };
  char **envp;
  int status;

  query_env = g_environ_setenv (query_env, "PYTHONUSERBASE", userbase, TRUE);
  g_assert_true (g_spawn_sync (NULL, (char **) argv, query_env, G_SPAWN_DEFAULT, NULL, NULL,
                               &site, NULL, &status, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, &error));
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (site, userbase));
  g_assert_cmpint (g_mkdir_with_parents (site, 0755), ==, 0);
  pth_link = g_build_filename (site, "pymemd-helper.pth", NULL);
  package_link = g_build_filename (site, "pymemd_helper", NULL);
  g_assert_cmpint (symlink (pth, pth_link), ==, 0);
  g_assert_cmpint (symlink (package, package_link), ==, 0);

  envp = child_environ ();
  envp = g_environ_setenv (envp, "PYTHONUSERBASE", userbase, TRUE);
  envp = g_environ_setenv (envp, "PYMEMD_SOCKET", fx->socket_path, TRUE);
  return envp;
}

static void
test_env (Fixture *fx, gconstpointer data)
{
  g_auto(GStrv) envp = NULL;
  g_autofree char *ready = NULL;
  PymemdHeapRequest options;
  Result result;
  JsonObject *summary;

  if (skipped (fx))
    return;
  envp = user_site_environ (fx);

  /* Without PYMEMD_HELPER=1 the .pth does not even import the package. */
  ready = spawn_child (fx, envp, "env");
  g_assert_cmpstr (ready, ==, "ready False");
  finish_child (fx);
  close (fx->child.stderr_fd);
  fx->child.stderr_fd = -1;
  g_clear_pointer (&ready, g_free);
  g_assert_cmpuint (fx->connected, ==, 0);

  envp = g_environ_setenv (envp, "PYMEMD_HELPER", "1", TRUE);
  ready = spawn_child (fx, envp, "env");
  g_assert_cmpstr (ready, ==, "ready True");
  wait_helper (fx, NULL);
  g_assert_cmpstr (fx->last_how, ==, "env");
  pymemd_heap_request_init (&options);
  summary = request (fx, &options, &result);
  g_assert_nonnull (census_type (summary, "__main__.Marker"));
  g_clear_pointer (&result.summary, pymemd_heap_summary_free);
  command (fx, "ping");
  finish_child (fx);
}

int
main (int argc, char **argv)
{
  static const struct {
    const char *name;
    void (*func) (Fixture *, gconstpointer);
  } cases[] = {
    { "summary", test_summary },
    { "big-heap", test_big_heap },
    { "reconnect", test_reconnect },
    { "attach", test_attach },
    { "env", test_env },
  };

  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (interpreters); i++)
    for (guint j = 0; j < G_N_ELEMENTS (cases); j++)
      {
        g_autofree char *path = g_strdup_printf ("/helper/%s/%s", interpreters[i].name,
                                                 cases[j].name);
        g_test_add (path, Fixture, &interpreters[i], fixture_setup, cases[j].func,
                    fixture_teardown);
      }
  return g_test_run ();
}
