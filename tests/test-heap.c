/* Heap summaries end to end: the real daemon on a private bus, the real helper, real Python processes (a GTK window under Xvfb, asyncio, threads, a busy loop), and the refusals; CPython 3.14 idle, busy and of another user under the unit's umask. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>

#include "pymemd-bootstrap.h"
#include "pymemd-error.h"
#include "pymemd-helper-channel.h"
#include "pymemd-injector.h"
#include "testutil.h"

#define BUS_NAME  "org.pymemd.Monitor1"
#define BUS_PATH  "/org/pymemd/Monitor1"
#define BUS_IFACE "org.pymemd.Monitor1"

/* ---- children ---- */

/* Our environment with the helper importable, its socket named, and
 * DISPLAY when given. */
static char **
child_environ (PymemdTestService *service, const char *display)
{
  char **env = g_get_environ ();
  g_autofree char *socket = service != NULL ? g_build_filename (service->runtime_dir, "helper.sock", NULL) : NULL;

  env = g_environ_setenv (env, "PYTHONPATH", g_getenv ("PYMEMD_HELPER_DIR"), TRUE);
  env = g_environ_unsetenv (env, "PYMEMD_HELPER");
  if (socket != NULL)
    env = g_environ_setenv (env, "PYMEMD_SOCKET", socket, TRUE);
  if (display != NULL)
    env = g_environ_setenv (env, "DISPLAY", display, TRUE);
  return env;
}

static gboolean
spawn_python_ready (PymemdTestChild *child, PymemdTestService *service, const char *python, const char *display,
                    const char *code, char **ready)
{
  const char *argv[] = { python != NULL ? python : pymemd_test_python (), "-c", code, NULL };
  g_auto(GStrv) env = child_environ (service, display);
  g_autoptr(GError) error = NULL;

  if (!pymemd_test_child_spawn_env (child, argv, (const char *const *) env, ready, &error))
    {
      g_test_fail_printf ("%s did not start: %s", argv[0], error->message);
      return FALSE;
    }
  return TRUE;
}

static gboolean
spawn_python (PymemdTestChild *child, PymemdTestService *service, const char *python, const char *display,
              const char *code)
{
  return spawn_python_ready (child, service, python, display, code, NULL);
}

/* The child answers "ping" with a line starting "pong": it still works. */
static void
assert_answers (PymemdTestChild *child)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;

  pymemd_test_child_send (child, "ping");
  line = pymemd_test_child_read_line (child, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (line, "pong"));
}

/* Tells the child to quit; it exits 0 and printed nothing of ours. */
static void
assert_quits_cleanly (PymemdTestChild *child)
{
  g_autofree char *err = NULL;
  int status = pymemd_test_child_finish (child, "quit", &err);

  if (err != NULL && *err != '\0')
    g_test_message ("child's stderr: %s", err);
  g_assert_true (status != -1 && WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
  g_assert_null (strstr (err, "pymemd"));
  g_assert_null (strstr (err, "Traceback"));
}

/* Waits in select () for lines on stdin: "quit" leaves, any other is
 * answered "pong". Needs select and sys imported. */
#define SELECT_LOOP                                   \
  "while True:\n"                                     \
  "    select.select([sys.stdin], [], [])\n"          \
  "    line = sys.stdin.readline()\n"                 \
  "    if not line or line.strip() == 'quit':\n"      \
  "        sys.exit(0)\n"                             \
  "    print('pong', flush=True)\n"

/* Idle in select (), answering stdin. */
static const char idle_code[] =
  "import select, sys\n"
  "print('ready', flush=True)\n"
  SELECT_LOOP;

/* A busy single-threaded loop: the pending call's case, at its next
 * eval-breaker check. It answers between rounds of counting. */
static const char busy_code[] =
  "import select, sys\n"
  "print('ready', flush=True)\n"
  "n = 0\n"
  "while True:\n"
  "    n += 1\n"
  "    if n % 200000 == 0 and select.select([sys.stdin], [], [], 0)[0]:\n"
  "        line = sys.stdin.readline()\n"
  "        if not line or line.strip() == 'quit':\n"
  "            sys.exit(0)\n"
  "        print('pong', n, flush=True)\n";

/* ---- the fixture: the daemon on a private bus, and one child ---- */

/* The listener of pymemd-attach's stage hook (pymemd(8), TESTING
 * ATTACHES), named to the daemon by PYMEMD_ATTACH_STAGE_SOCKET. */
typedef struct {
  char    *path;
  GSocket *listener;
} StageHook;

typedef struct {
  PymemdTestService service;
  PymemdTestChild   child;
  PymemdTestChild   other;
  StageHook         hook;
} Fixture;

static void stage_hook_open (StageHook *hook);
static void stage_hook_close (StageHook *hook);

static void
fixture_setup (Fixture *fx, gconstpointer data)
{
  memset (fx, 0, sizeof *fx);
  if (!pymemd_test_service_start (&fx->service, "0.5"))
    fx->service.address = NULL;
}

/* The daemon's attach processes tell each stage to the hook. */
static void
fixture_setup_staged (Fixture *fx, gconstpointer data)
{
  memset (fx, 0, sizeof *fx);
  if (pymemd_test_is_root ())
    stage_hook_open (&fx->hook);
  if (!pymemd_test_service_start (&fx->service, "0.5"))
    fx->service.address = NULL;
}

/* The test starts the daemon itself. */
static void
fixture_setup_bare (Fixture *fx, gconstpointer data)
{
  memset (fx, 0, sizeof *fx);
}

static void
fixture_teardown (Fixture *fx, gconstpointer data)
{
  pymemd_test_child_stop (&fx->child);
  pymemd_test_child_stop (&fx->other);
  pymemd_test_service_stop (&fx->service);
  stage_hook_close (&fx->hook);
}

/* Without root, dbus-daemon or python3 the test is skipped (by setup). */
static gboolean
skipped (Fixture *fx)
{
  return fx->service.address == NULL;
}

/* ---- the bus ---- */

static GVariant *
get_heap (PymemdTestService *service, GPid pid, const char *options, GError **error)
{
  return pymemd_test_get_heap (service, pid, options, error);
}

static void
assert_heap_error (PymemdTestService *service, GPid pid, const char *options, PymemdError code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) summary = get_heap (service, pid, options, &error);

  g_assert_null (summary);
  g_assert_error (error, PYMEMD_ERROR, (gint) code);
}

/* The summary of a process whose helper came by itself, once it said hello. */
static GVariant *
wait_for_helper (PymemdTestService *service, GPid pid)
{
  return pymemd_test_wait_for_helper (service, pid, "{}");
}

/* The census count of types whose name contains PART. */
static guint64
census_count (GVariant *summary, const char *part)
{
  g_autoptr(GVariant) census = g_variant_lookup_value (summary, "census", G_VARIANT_TYPE_VARDICT);
  g_autoptr(GVariant) types = NULL;
  GVariantIter iter;
  const char *name;
  guint64 count, bytes, total = 0;

  g_assert_nonnull (census);
  types = g_variant_lookup_value (census, "types", G_VARIANT_TYPE ("a(stt)"));
  g_assert_nonnull (types);
  g_variant_iter_init (&iter, types);
  while (g_variant_iter_next (&iter, "(&stt)", &name, &count, &bytes))
    if (strstr (name, part) != NULL)
      total += count;
  return total;
}

static char *
lookup_string (GVariant *dict, const char *key)
{
  char *value = NULL;

  return g_variant_lookup (dict, key, "s", &value) ? value : NULL;
}

static void
assert_attached_by (GVariant *summary, const char *method)
{
  g_autofree char *by = lookup_string (summary, "attached_by");

  g_assert_cmpstr (by, ==, method);
}

static void
assert_ledger (GVariant *summary)
{
  g_autoptr(GVariant) ledger = g_variant_lookup_value (summary, "ledger", G_VARIANT_TYPE_VARDICT);
  guint64 heap = 0, explained = 0, free_space = 0, unexplained = 0;

  g_assert_nonnull (ledger);
  g_assert_true (g_variant_lookup (ledger, "heap_private_dirty", "t", &heap));
  g_assert_true (g_variant_lookup (ledger, "explained", "t", &explained));
  g_assert_true (g_variant_lookup (ledger, "pymalloc_free", "t", &free_space));
  g_assert_true (g_variant_lookup (ledger, "unexplained", "t", &unexplained));
  g_assert_cmpuint (heap, >, 0);
  g_assert_cmpuint (explained, >, 0);
  /* What is left is what the pages hold beyond the rest, never more. */
  g_assert_cmpuint (unexplained, <=, heap);
  g_assert_cmpuint (explained + free_space + unexplained, ==, heap);
  g_assert_true (g_variant_lookup (ledger, "small_allocations", "t", NULL));
  g_assert_true (g_variant_lookup (ledger, "large_allocations", "t", NULL));
}

/* ---- started with the helper ---- */

static void
test_started_with (Fixture *fx, gconstpointer data)
{
  g_autoptr(GVariant) summary = NULL;
  g_autoptr(GVariant) details = NULL;
  g_autoptr(GVariant) inner = NULL;
  g_autoptr(GVariant) heap = NULL;
  g_autofree char *how = NULL;

  if (skipped (fx))
    return;
  if (!spawn_python (&fx->child, &fx->service, NULL, NULL,
                     "import sys, pymemd_helper\n"
                     "pymemd_helper.start()\n"
                     "class Marker:\n"
                     "    pass\n"
                     "keep = [Marker() for _ in range(20000)]\n"
                     "print('ready', flush=True)\n"
                     "for line in sys.stdin:\n"
                     "    if line.strip() == 'quit':\n"
                     "        break\n"
                     "    print('pong', len(keep), flush=True)\n"))
    return;
  pymemd_test_service_wait_pid (&fx->service, fx->child.pid);
  summary = wait_for_helper (&fx->service, fx->child.pid);
  g_assert_cmpuint (census_count (summary, "__main__.Marker"), >=, 20000);
  how = lookup_string (summary, "helper");
  g_assert_cmpstr (how, ==, "import");
  g_assert_false (g_variant_lookup (summary, "attached_by", "s", NULL));
  assert_ledger (summary);

  /* The latest summary is part of the process's details... */
  details = g_dbus_connection_call_sync (fx->service.conn, BUS_NAME, BUS_PATH, BUS_IFACE, "GetProcessDetails",
                                         g_variant_new ("(u)", (guint32) fx->child.pid), G_VARIANT_TYPE ("(a{sv})"),
                                         G_DBUS_CALL_FLAGS_NONE, 10000, NULL, NULL);
  g_assert_nonnull (details);
  inner = g_variant_get_child_value (details, 0);
  heap = g_variant_lookup_value (inner, "heap", G_VARIANT_TYPE_VARDICT);
  g_assert_nonnull (heap);
  g_assert_cmpuint (census_count (heap, "__main__.Marker"), >=, 20000);

  /* ... and of its history (written on the recorder's thread). */
  for (int i = 0;; i++)
    {
      g_autoptr(GVariant) kept = g_dbus_connection_call_sync (
        fx->service.conn, BUS_NAME, BUS_PATH, BUS_IFACE, "GetHeapSummaries",
        g_variant_new ("(utxx)", (guint32) fx->child.pid, (guint64) 0, (gint64) 0, (gint64) 0),
        G_VARIANT_TYPE ("(aa{sv})"), G_DBUS_CALL_FLAGS_NONE, 10000, NULL, NULL);
      g_autoptr(GVariant) list = kept != NULL ? g_variant_get_child_value (kept, 0) : NULL;

      if (list != NULL && g_variant_n_children (list) >= 1)
        {
          g_autoptr(GVariant) first = g_variant_get_child_value (list, 0);
          g_assert_cmpuint (census_count (first, "__main__.Marker"), >=, 20000);
          assert_ledger (first);
          break;
        }
      g_assert_cmpint (i, <, 100);
      g_usleep (100000);
    }
  assert_answers (&fx->child);
  assert_quits_cleanly (&fx->child);
}

/* ---- what is refused before anything is attempted ---- */

static void
test_bad_requests (Fixture *fx, gconstpointer data)
{
  g_autofree char *pid = NULL;
  g_autofree char *address = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status = 0;

  if (skipped (fx))
    return;
  if (!spawn_python (&fx->child, &fx->service, NULL, NULL, idle_code))
    return;
  pymemd_test_service_wait_pid (&fx->service, fx->child.pid);

  assert_heap_error (&fx->service, fx->child.pid, "{}", PYMEMD_ERROR_NOT_ATTACHED);
  assert_heap_error (&fx->service, fx->child.pid, "{'bogus': <true>}", PYMEMD_ERROR_INVALID_ARGS);
  assert_heap_error (&fx->service, fx->child.pid, "{'attach': <1>}", PYMEMD_ERROR_INVALID_ARGS);
  assert_heap_error (&fx->service, fx->child.pid, "{'trace': <200>}", PYMEMD_ERROR_INVALID_ARGS);
  assert_heap_error (&fx->service, fx->child.pid, "{'trace': <-2>}", PYMEMD_ERROR_INVALID_ARGS);
  assert_heap_error (&fx->service, fx->child.pid, "{'top': <uint32 0>}", PYMEMD_ERROR_INVALID_ARGS);
  assert_heap_error (&fx->service, fx->child.pid, "{'sites': <uint32 1001>}", PYMEMD_ERROR_INVALID_ARGS);
  assert_heap_error (&fx->service, fx->child.pid, "{'budget': <0.0>}", PYMEMD_ERROR_INVALID_ARGS);
  assert_heap_error (&fx->service, 0, "{}", PYMEMD_ERROR_INVALID_ARGS);
  assert_heap_error (&fx->service, getpid (), "{'attach': <true>}", PYMEMD_ERROR_NO_SUCH_PROCESS);

  /* Another user may not look into root's process. */
  pid = g_strdup_printf ("%d", fx->child.pid);
  address = g_strdup (fx->service.address);
  {
    const char *argv[] = { "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "gdbus", "call",
                           "--address", address, "--dest", BUS_NAME, "--object-path", BUS_PATH,
                           "--method", BUS_IFACE ".GetHeapSummary", pid, "0", "{'attach': <true>}", NULL };
    g_autoptr(GError) error = NULL;

    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status,
                                 &error));
    g_assert_no_error (error);
  }
  g_assert_false (g_spawn_check_wait_status (status, NULL));
  g_assert_nonnull (strstr (err, "org.pymemd.Error.AccessDenied"));
  /* Nothing was attached on the way. */
  assert_heap_error (&fx->service, fx->child.pid, "{}", PYMEMD_ERROR_NOT_ATTACHED);
  assert_answers (&fx->child);
  assert_quits_cleanly (&fx->child);
}

/* ---- attaching ---- */

/* Attaches to the child, checks the method and that it still works, asks
 * again (the helper is there now), and lets it quit. */
static void
attach_and_check (PymemdTestService *service, PymemdTestChild *child, const char *method, const char *type_part,
                  guint64 at_least)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) summary = NULL;
  g_autoptr(GVariant) again = NULL;
  double seconds = 0;

  pymemd_test_service_wait_pid (service, child->pid);
  summary = get_heap (service, child->pid, "{'attach': <true>, 'top': <uint32 1000>}", &error);
  g_assert_no_error (error);
  assert_attached_by (summary, method);
  g_assert_true (g_variant_lookup (summary, "attach_seconds", "d", &seconds));
  g_test_message ("attached by %s in %.3f s", method, seconds);
  if (type_part != NULL)
    g_assert_cmpuint (census_count (summary, type_part), >=, at_least);
  assert_ledger (summary);
  assert_answers (child);

  again = get_heap (service, child->pid, "{}", &error);
  g_assert_no_error (error);
  g_assert_false (g_variant_lookup (again, "attached_by", "s", NULL));
}

static void
test_attach_idle (Fixture *fx, gconstpointer data)
{
  const char *python = data;

  if (!g_file_test (python, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip_printf ("%s is not installed", python);
      return;
    }
  if (skipped (fx))
    return;
  if (spawn_python (&fx->child, &fx->service, python, NULL, idle_code))
    {
      attach_and_check (&fx->service, &fx->child, "parked-thread", "builtins.", 1);
      assert_quits_cleanly (&fx->child);
    }
}

/* An asyncio server idle in epoll_wait keeps serving. */
static void
test_attach_asyncio (Fixture *fx, gconstpointer data)
{
  g_autofree char *port = NULL;

  if (skipped (fx))
    return;
  if (spawn_python_ready (&fx->child, &fx->service, NULL, NULL,
                          "import asyncio, sys\n"
                          "async def serve(reader, writer):\n"
                          "    writer.write(b'served\\n')\n"
                          "    await writer.drain()\n"
                          "    writer.close()\n"
                          "def on_stdin(done):\n"
                          "    line = sys.stdin.readline()\n"
                          "    if not line or line.strip() == 'quit':\n"
                          "        asyncio.get_running_loop().remove_reader(sys.stdin)\n"
                          "        done.set_result(None)\n"
                          "    else:\n"
                          "        print('pong', flush=True)\n"
                          "async def main():\n"
                          "    loop = asyncio.get_running_loop()\n"
                          "    done = loop.create_future()\n"
                          "    server = await asyncio.start_server(serve, '127.0.0.1', 0)\n"
                          "    loop.add_reader(sys.stdin, on_stdin, done)\n"
                          "    print(server.sockets[0].getsockname()[1], flush=True)\n"
                          "    await done\n"
                          "    server.close()\n"
                          "asyncio.run(main())\n",
                          &port))
    {
      g_autoptr(GSocketClient) client = g_socket_client_new ();
      g_autoptr(GSocketConnection) connection = NULL;
      g_autoptr(GDataInputStream) in = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *line = NULL;

      attach_and_check (&fx->service, &fx->child, "parked-thread", "asyncio.", 1);
      connection = g_socket_client_connect_to_host (client, "127.0.0.1", (guint16) atoi (port), NULL, &error);
      g_assert_no_error (error);
      in = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (connection)));
      line = g_data_input_stream_read_line (in, NULL, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (line, ==, "served");
      assert_quits_cleanly (&fx->child);
    }
}

/* Several threads: the main one reading stdin (not parked), sleepers and a
 * busy one; the sleepers are the way in. */
static void
test_attach_threads (Fixture *fx, gconstpointer data)
{
  if (skipped (fx))
    return;
  if (spawn_python (&fx->child, &fx->service, NULL, NULL,
                    "import sys, threading, time\n"
                    "def sleeper():\n"
                    "    while True:\n"
                    "        time.sleep(0.05)\n"
                    "def spinner():\n"
                    "    n = 0\n"
                    "    while True:\n"
                    "        n += 1\n"
                    "for f in (sleeper, sleeper, sleeper, spinner):\n"
                    "    threading.Thread(target=f, daemon=True).start()\n"
                    "print('ready', flush=True)\n"
                    "for line in sys.stdin:\n"
                    "    if line.strip() == 'quit':\n"
                    "        break\n"
                    "    print('pong', threading.active_count(), flush=True)\n"))
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) summary = NULL;
      guint32 threads = 0;

      pymemd_test_service_wait_pid (&fx->service, fx->child.pid);
      summary = get_heap (&fx->service, fx->child.pid, "{'attach': <true>}", &error);
      g_assert_no_error (error);
      g_assert_true (g_variant_lookup (summary, "attached_by", "&s", NULL));
      g_assert_true (g_variant_lookup (summary, "threads", "u", &threads));
      g_assert_cmpuint (threads, >=, 6); /* main, 4 workers, the helper */
      assert_answers (&fx->child);
      assert_quits_cleanly (&fx->child);
    }
}

/* A busy single-threaded loop: the pending call, at its next eval-breaker
 * check. It keeps counting. */
static void
test_attach_busy (Fixture *fx, gconstpointer data)
{
  if (skipped (fx))
    return;
  if (spawn_python (&fx->child, &fx->service, NULL, NULL, busy_code))
    {
      attach_and_check (&fx->service, &fx->child, "pending-call", "builtins.", 1);
      assert_quits_cleanly (&fx->child);
    }
}

/* Eight threads allocating and freeing while the helper comes in and
 * counts; they go on afterwards. */
static void
test_attach_allocating (Fixture *fx, gconstpointer data)
{
  if (skipped (fx))
    return;
  if (spawn_python (&fx->child, &fx->service, NULL, NULL,
                    "import select, sys, threading, time\n"
                    "rounds = [0] * 8\n"
                    "def churn(i):\n"
                    "    keep = []\n"
                    "    while True:\n"
                    "        keep.append({'i': i, 'l': [i] * 50})\n"
                    "        if len(keep) > 5000:\n"
                    "            del keep[:2500]\n"
                    "            rounds[i] += 1\n"
                    "for i in range(8):\n"
                    "    threading.Thread(target=churn, args=(i,), daemon=True).start()\n"
                    "print('ready', flush=True)\n"
                    "while True:\n"
                    "    time.sleep(0.01)\n"
                    "    if select.select([sys.stdin], [], [], 0)[0]:\n"
                    "        line = sys.stdin.readline()\n"
                    "        if not line or line.strip() == 'quit':\n"
                    "            sys.exit(0)\n"
                    "        print('pong', min(rounds), flush=True)\n"))
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) summary = NULL;
      g_autofree char *before = NULL;
      g_autofree char *after = NULL;

      pymemd_test_service_wait_pid (&fx->service, fx->child.pid);
      summary = get_heap (&fx->service, fx->child.pid, "{'attach': <true>}", &error);
      g_assert_no_error (error);
      g_assert_true (g_variant_lookup (summary, "attached_by", "&s", NULL));
      g_assert_cmpuint (census_count (summary, "builtins.dict"), >=, 1);
      /* Every thread keeps making rounds. */
      pymemd_test_child_send (&fx->child, "ping");
      before = pymemd_test_child_read_line (&fx->child, &error);
      g_assert_no_error (error);
      g_usleep (500000);
      pymemd_test_child_send (&fx->child, "ping");
      after = pymemd_test_child_read_line (&fx->child, &error);
      g_assert_no_error (error);
      g_assert_cmpint (atoi (after + 5), >, atoi (before + 5));
      assert_quits_cleanly (&fx->child);
    }
}

/* gc.collect () on request frees the cycles the program made, and the
 * daemon reports the private dirty pages before and after. */
static void
test_collect (Fixture *fx, gconstpointer data)
{
  if (skipped (fx))
    return;
  if (spawn_python (&fx->child, &fx->service, NULL, NULL,
                    "import gc, sys, pymemd_helper\n"
                    "gc.disable()\n"
                    "for i in range(100000):\n"
                    "    a = [i]\n"
                    "    a.append(a)\n"
                    "del a\n"
                    "pymemd_helper.start()\n"
                    "print('ready', flush=True)\n"
                    "for line in sys.stdin:\n"
                    "    if line.strip() == 'quit':\n"
                    "        break\n"
                    "    print('pong', flush=True)\n"))
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) first = NULL;
      g_autoptr(GVariant) summary = NULL;
      g_autoptr(GVariant) collect = NULL;
      guint64 freed = 0, before = 0, after = 0;

      pymemd_test_service_wait_pid (&fx->service, fx->child.pid);
      first = wait_for_helper (&fx->service, fx->child.pid);
      summary = get_heap (&fx->service, fx->child.pid, "{'collect': <true>}", &error);
      g_assert_no_error (error);
      collect = g_variant_lookup_value (summary, "collect", G_VARIANT_TYPE_VARDICT);
      g_assert_nonnull (collect);
      g_assert_true (g_variant_lookup (collect, "freed", "t", &freed));
      g_assert_true (g_variant_lookup (collect, "private_dirty_before", "t", &before));
      g_assert_true (g_variant_lookup (collect, "private_dirty_after", "t", &after));
      g_assert_cmpuint (freed, >=, 100000);
      g_assert_cmpuint (before, >, 0);
      g_test_message ("collect freed %" G_GUINT64_FORMAT " objects; private dirty %" G_GUINT64_FORMAT
                      " -> %" G_GUINT64_FORMAT,
                      freed, before, after);
      assert_answers (&fx->child);
      assert_quits_cleanly (&fx->child);
    }
}

/* ---- refusals ---- */

static void
assert_refused (PymemdTestService *service, GPid pid, const char *reason_part)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) summary = get_heap (service, pid, "{'attach': <true>}", &error);
  g_autofree char *message = NULL;

  g_assert_null (summary);
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED);
  message = g_ascii_strdown (error->message, -1);
  g_test_message ("refused: %s", error->message);
  g_assert_nonnull (strstr (message, reason_part));
}

static void
test_refuse_stopped (Fixture *fx, gconstpointer data)
{
  if (skipped (fx))
    return;
  if (spawn_python (&fx->child, &fx->service, NULL, NULL, idle_code))
    {
      pymemd_test_service_wait_pid (&fx->service, fx->child.pid);
      kill (fx->child.pid, SIGSTOP);
      assert_refused (&fx->service, fx->child.pid, "stopped");
      kill (fx->child.pid, SIGCONT);
      assert_answers (&fx->child);
      assert_quits_cleanly (&fx->child);
    }
}

/* Python 2 is listed but takes no summary (the helper is Python 3.6+):
 * the refusal says so before anything is attempted, and the process
 * runs on untouched. */
static void
test_refuse_python2 (Fixture *fx, gconstpointer data)
{
  g_autofree char *python = g_build_filename (g_get_home_dir (), ".pyenv", "versions", "2.7.18", "bin", "python2.7",
                                              NULL);
  static const char code[] =
    "import sys\n"
    "sys.stdout.write('ready\\n'); sys.stdout.flush()\n"
    "for line in iter(sys.stdin.readline, ''):\n"
    "    if line.strip() == 'quit':\n"
    "        break\n"
    "    sys.stdout.write('pong\\n'); sys.stdout.flush()\n";

  if (!g_file_test (python, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip_printf ("%s is not installed", python);
      return;
    }
  if (skipped (fx))
    return;
  if (spawn_python (&fx->child, &fx->service, python, NULL, code))
    {
      pymemd_test_service_wait_pid (&fx->service, fx->child.pid);
      assert_refused (&fx->service, fx->child.pid, "python 2.7");
      assert_refused (&fx->service, fx->child.pid, "only to python 3.6 and later");
      /* Nothing was attached on the way. */
      assert_heap_error (&fx->service, fx->child.pid, "{}", PYMEMD_ERROR_NOT_ATTACHED);
      assert_answers (&fx->child);
      assert_quits_cleanly (&fx->child);
    }
}

static void
test_refuse_traced (Fixture *fx, gconstpointer data)
{
  g_autofree char *strace = g_find_program_in_path ("strace");

  if (strace == NULL)
    {
      g_test_skip ("needs strace");
      return;
    }
  if (skipped (fx))
    return;
  if (spawn_python (&fx->child, &fx->service, NULL, NULL, idle_code))
    {
      g_autofree char *pid = g_strdup_printf ("%d", fx->child.pid);
      const char *argv[] = { strace, "-o", "/dev/null", "-p", pid, NULL };
      GPid tracer = 0;
      g_autoptr(GError) error = NULL;

      pymemd_test_service_wait_pid (&fx->service, fx->child.pid);
      g_assert_true (g_spawn_async (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &tracer,
                                    &error));
      g_assert_no_error (error);
      /* Until strace has seized it. */
      for (int i = 0; i < 500; i++)
        {
          g_autofree char *status_path = g_strdup_printf ("/proc/%d/status", fx->child.pid);
          g_autofree char *status = NULL;
          g_file_get_contents (status_path, &status, NULL, NULL);
          if (status != NULL && strstr (status, "TracerPid:\t0\n") == NULL)
            break;
          g_usleep (10000);
        }
      assert_refused (&fx->service, fx->child.pid, "trac");
      kill (tracer, SIGTERM);
      waitpid (tracer, NULL, 0);
      assert_answers (&fx->child);
      assert_quits_cleanly (&fx->child);
    }
}

/* Its only thread waits on a lock (futex): no safe way in. */
static void
test_refuse_futex (Fixture *fx, gconstpointer data)
{
  if (skipped (fx))
    return;
  if (spawn_python (&fx->child, &fx->service, NULL, NULL,
                    "import _thread\n"
                    "lock = _thread.allocate_lock()\n"
                    "lock.acquire()\n"
                    "print('ready', flush=True)\n"
                    "lock.acquire()\n"))
    {
      pymemd_test_service_wait_pid (&fx->service, fx->child.pid);
      g_usleep (200000); /* into the futex */
      assert_refused (&fx->service, fx->child.pid, "futex");
    }
}

/* ---- attaches that a dying daemon or a stopped attach process leave harmless ---- */

#define STAGE_SOCKET_ENV "PYMEMD_ATTACH_STAGE_SOCKET"

/* Where the daemons' attach processes look for the hook: set in main ()
 * for every daemon the tests start; only the staged tests listen there. */
static char *stage_dir;

static void
stage_hook_open (StageHook *hook)
{
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GError) error = NULL;

  hook->path = g_strdup (g_getenv (STAGE_SOCKET_ENV));
  address = g_unix_socket_address_new (hook->path);
  hook->listener = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (hook->listener, address, TRUE, &error));
  g_assert_true (g_socket_listen (hook->listener, &error));
  g_assert_no_error (error);
}

static void
stage_hook_close (StageHook *hook)
{
  if (hook->path == NULL)
    return;
  g_clear_object (&hook->listener);
  g_unlink (hook->path);
  g_clear_pointer (&hook->path, g_free);
}

/* One attach as the stage hook sees it: at the first stage named AT,
 * ACT is done before the attach may go on. */
typedef struct _Conversation Conversation;
struct _Conversation {
  const char *at;
  void      (*act) (Conversation *conversation);
  gpointer    data;
  Fixture    *fx;
  GPtrArray  *stages;    /* the stages told, in order */
  GPid        child_pid; /* the pymemd-attach that told them */
  gboolean    acted;
};

static void
conversation_init (Conversation *conversation, Fixture *fx, const char *at, void (*act) (Conversation *))
{
  memset (conversation, 0, sizeof *conversation);
  conversation->fx = fx;
  conversation->at = at;
  conversation->act = act;
  conversation->stages = g_ptr_array_new_with_free_func (g_free);
}

static void
conversation_clear (Conversation *conversation)
{
  g_clear_pointer (&conversation->stages, g_ptr_array_unref);
}

static void
kill_daemon (Conversation *conversation)
{
  PymemdTestService *service = &conversation->fx->service;

  g_test_message ("at %s: kill -9 the daemon", conversation->at);
  kill (service->daemon_pid, SIGKILL);
  g_assert_cmpint (waitpid (service->daemon_pid, NULL, 0), ==, service->daemon_pid);
  g_spawn_close_pid (service->daemon_pid);
  service->daemon_pid = 0;
}

static void
terminate_attach_process (Conversation *conversation)
{
  g_test_message ("at %s: SIGTERM to pymemd-attach %d", conversation->at, conversation->child_pid);
  g_assert_cmpint (kill (conversation->child_pid, SIGTERM), ==, 0);
}

/* Answers "go" to every stage one pymemd-attach tells, to its exit. */
static void
converse (GSocket *socket, Conversation *conversation)
{
  g_autoptr(GSocketConnection) connection = g_socket_connection_factory_create_connection (socket);
  g_autoptr(GDataInputStream) in = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (connection)));
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (connection));

  g_socket_set_timeout (socket, 60);
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *line = g_data_input_stream_read_line (in, NULL, NULL, &error);
      g_auto(GStrv) words = NULL;

      if (line == NULL)
        return; /* it exited (or died: its end tells) */
      words = g_strsplit (line, " ", 2);
      g_assert_nonnull (words[1]);
      g_ptr_array_add (conversation->stages, g_strdup (words[0]));
      conversation->child_pid = (GPid) atoi (words[1]);
      if (!conversation->acted && g_strcmp0 (words[0], conversation->at) == 0)
        {
          conversation->act (conversation);
          conversation->acted = TRUE;
        }
      if (!g_output_stream_write_all (out, "go\n", 3, NULL, NULL, &error))
        return;
    }
}

typedef struct {
  gboolean  done;
  GVariant *reply;
  GError   *error;
} CallResult;

static void
call_done (GObject *source, GAsyncResult *result, gpointer data)
{
  CallResult *call = data;

  call->reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &call->error);
  call->done = TRUE;
}

/* GetHeapSummary with attach of PID, run to its end while the stages of
 * every pymemd-attach it starts are answered: the summary, or NULL with
 * ERROR. */
static GVariant *
attach_conversing (Fixture *fx, GPid pid, Conversation *conversation, GError **error)
{
  StageHook *hook = &fx->hook;
  CallResult call = { FALSE, NULL, NULL };
  g_autoptr(GVariant) options = g_variant_parse (G_VARIANT_TYPE_VARDICT, "{'attach': <true>}", NULL, NULL, NULL);
  gint64 deadline = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;

  g_dbus_connection_call (fx->service.conn, BUS_NAME, BUS_PATH, BUS_IFACE, "GetHeapSummary",
                          g_variant_new ("(ut@a{sv})", (guint32) pid, (guint64) 0, options), G_VARIANT_TYPE ("(a{sv})"),
                          G_DBUS_CALL_FLAGS_NONE, 120000, NULL, call_done, &call);
  while (!call.done || g_socket_condition_check (hook->listener, G_IO_IN) != 0)
    {
      g_autoptr(GSocket) socket = NULL;

      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      if (g_socket_condition_check (hook->listener, G_IO_IN) != 0)
        {
          g_autoptr(GError) accept_error = NULL;

          socket = g_socket_accept (hook->listener, NULL, &accept_error);
          g_assert_no_error (accept_error);
          converse (socket, conversation);
        }
      else if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (1000);
    }
  if (call.reply == NULL)
    {
      g_propagate_error (error, call.error);
      return NULL;
    }
  {
    GVariant *summary = g_variant_get_child_value (call.reply, 0);
    g_variant_unref (call.reply);
    return summary;
  }
}

static GArray *
list_threads (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/task", pid);
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  GArray *threads = g_array_new (FALSE, FALSE, sizeof (GPid));
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      GPid tid = (GPid) atoi (name);
      g_array_append_val (threads, tid);
    }
  return threads;
}

static gint64
tracer_of_thread (GPid pid, GPid tid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/task/%d/status", pid, tid);
  g_autofree char *text = NULL;
  const char *line;

  if (!g_file_get_contents (path, &text, NULL, NULL) || (line = strstr (text, "TracerPid:")) == NULL)
    return -1;
  return g_ascii_strtoll (line + strlen ("TracerPid:"), NULL, 10);
}

/* The target lives, every thread it had is there and traced by nobody,
 * and it still answers. */
static gboolean
traced (GPid pid)
{
  g_autoptr(GArray) threads = list_threads (pid);

  /* -1: a thread that ended since the listing (the bootstrap's own does). */
  for (guint i = 0; i < threads->len; i++)
    if (tracer_of_thread (pid, g_array_index (threads, GPid, i)) > 0)
      return TRUE;
  return FALSE;
}

static void
assert_unharmed (PymemdTestChild *child, GArray *threads_before)
{
  g_autoptr(GArray) threads = NULL;

  int status = 0;
  pid_t ended = 0;

  /* A tracer that died closes its files before the kernel detaches it. */
  for (guint i = 0; i < 1000 && (ended = waitpid (child->pid, &status, WNOHANG)) == 0 && traced (child->pid); i++)
    g_usleep (5000);
  if (ended == 0)
    ended = waitpid (child->pid, &status, WNOHANG);
  if (ended == child->pid)
    g_error ("the target %d died (%s %d)", child->pid, WIFSIGNALED (status) ? "signal" : "exit status",
             WIFSIGNALED (status) ? WTERMSIG (status) : WEXITSTATUS (status));
  g_assert_cmpint (ended, ==, 0);
  threads = list_threads (child->pid);
  for (guint i = 0; i < threads_before->len; i++)
    {
      GPid tid = g_array_index (threads_before, GPid, i);
      gboolean found = FALSE;

      for (guint j = 0; j < threads->len && !found; j++)
        found = g_array_index (threads, GPid, j) == tid;
      g_assert_true (found);
    }
  g_assert_false (traced (child->pid));
  assert_answers (child);
}

/* Waits (30 s at most) for pymemd-attach CHILD to end: reaped by us (a
 * subreaper) once its daemon is gone, and it must have exited 0, by
 * itself; reaped by its daemon otherwise. */
static void
wait_attach_process (GPid child, gboolean ours)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  for (;;)
    {
      if (ours)
        {
          int status = 0;
          pid_t r = waitpid (child, &status, WNOHANG);

          g_assert_cmpint (r, >=, 0);
          if (r == child)
            {
              g_assert_true (WIFEXITED (status));
              g_assert_cmpint (WEXITSTATUS (status), ==, 0);
              return;
            }
        }
      else if (kill (child, 0) < 0 && errno == ESRCH)
        return;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (5000);
    }
}

/* The stages of an undisturbed attach by METHOD to a process running CODE. */
static GPtrArray *
discover_stages (Fixture *fx, const char *code, const char *method)
{
  Conversation conversation;
  g_autoptr(GPtrArray) unique = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GVariant) summary = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) text = g_string_new (NULL);
  PymemdTestChild child;

  conversation_init (&conversation, fx, NULL, NULL);
  g_assert_true (spawn_python (&child, &fx->service, NULL, NULL, code));
  pymemd_test_service_wait_pid (&fx->service, child.pid);
  summary = attach_conversing (fx, child.pid, &conversation, &error);
  g_assert_no_error (error);
  assert_attached_by (summary, method);
  assert_quits_cleanly (&child);
  for (guint i = 0; i < conversation.stages->len; i++)
    {
      const char *stage = g_ptr_array_index (conversation.stages, i);

      if (!g_ptr_array_find_with_equal_func (unique, stage, g_str_equal, NULL))
        {
          g_ptr_array_add (unique, g_strdup (stage));
          g_string_append_printf (text, " %s", stage);
        }
    }
  g_test_message ("%s: %u stages:%s", method, unique->len, text->str);
  g_assert_true (g_ptr_array_find_with_equal_func (unique, "seized", g_str_equal, NULL));
  g_assert_true (g_ptr_array_find_with_equal_func (unique, "in-add-pending-call", g_str_equal, NULL) ||
                 g_ptr_array_find_with_equal_func (unique, "in-run-string", g_str_equal, NULL));
  g_assert_true (g_ptr_array_find_with_equal_func (unique, "released", g_str_equal, NULL));
  conversation_clear (&conversation);
  return g_steal_pointer (&unique);
}

/* One attach to a fresh process running CODE, with ACT at STAGE; FALSE
 * when that attach did not reach STAGE (the threads took another path). */
static gboolean
act_at_stage (Fixture *fx, const char *code, const char *stage, void (*act) (Conversation *))
{
  Conversation conversation, again;
  g_autoptr(GVariant) summary = NULL;
  g_autoptr(GVariant) second = NULL;
  g_autoptr(GArray) threads = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) second_error = NULL;
  PymemdTestChild child;
  gboolean reached;

  conversation_init (&conversation, fx, stage, act);
  conversation_init (&again, fx, NULL, NULL);
  g_assert_true (spawn_python (&child, &fx->service, NULL, NULL, code));
  pymemd_test_service_wait_pid (&fx->service, child.pid);
  threads = list_threads (child.pid);
  summary = attach_conversing (fx, child.pid, &conversation, &error);
  reached = conversation.acted;
  if (!reached)
    g_test_message ("stage %s not reached this time", stage);
  else if (act == kill_daemon)
    {
      assert_unharmed (&child, threads);
      wait_attach_process (conversation.child_pid, TRUE);
      pymemd_test_service_wait_name_released (&fx->service);
      pymemd_test_service_start_daemon (&fx->service, "0.5");
      pymemd_test_service_wait_pid (&fx->service, child.pid);
    }
  else
    {
      /* It gave the thread back and answered: the bootstrap is in, or it
       * stopped before that. */
      assert_unharmed (&child, threads);
      wait_attach_process (conversation.child_pid, FALSE);
      if (error != NULL)
        g_assert_true (g_error_matches (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED) &&
                       strstr (error->message, "was stopped before the bootstrap was in") != NULL);
    }
  if (reached)
    {
      /* The daemon (restarted or not) gets a summary at the first ask,
       * even when the helper the first attach brought in connects to a
       * restarted daemon while the second attach brings it in again. */
      second = attach_conversing (fx, child.pid, &again, &second_error);
      g_assert_no_error (second_error);
      assert_answers (&child);
    }
  conversation_clear (&conversation);
  conversation_clear (&again);
  assert_quits_cleanly (&child);
  return reached;
}

typedef struct {
  const char *code;
  const char *method;
  void      (*act) (Conversation *conversation);
} StageCase;

static const StageCase stage_cases[] = {
  { idle_code, "parked-thread", kill_daemon },
  { busy_code, "pending-call", kill_daemon },
  { idle_code, "parked-thread", terminate_attach_process },
  { busy_code, "pending-call", terminate_attach_process },
};

/* At every stage of an attach, the daemon is killed (or the attach
 * process told to stop): the target lives and works, and the next
 * attach works too. */
static void
test_every_stage (Fixture *fx, gconstpointer data)
{
  const StageCase *c = data;
  g_autoptr(GPtrArray) stages = NULL;

  if (skipped (fx))
    return;
  /* The daemon's attach processes become ours when it dies: we reap them. */
  prctl (PR_SET_CHILD_SUBREAPER, 1);
  stages = discover_stages (fx, c->code, c->method);
  for (guint i = 0; i < stages->len; i++)
    {
      guint attempt = 0;

      while (!act_at_stage (fx, c->code, g_ptr_array_index (stages, i), c->act))
        g_assert_cmpuint (++attempt, <, 3);
    }
  prctl (PR_SET_CHILD_SUBREAPER, 0);
}

/* ---- attaches that one user cannot use to starve another ---- */

#define FLOOD_TIMEOUT 3.0

/* A blocked interpreter: its main thread waits in select without the
 * GIL, and another thread, after half a second in which the main thread
 * gets to its select, holds the GIL in a C call (ctypes.PyDLL keeps it)
 * reading a byte from the FIFO argv[1]. An attach's PyGILState_Ensure in
 * the main thread waits until that byte comes. */
static const char gil_holder_code[] =
  "import ctypes, os, select, sys, threading, time\n"
  "fd = os.open(sys.argv[1], os.O_RDWR)\n"
  "def hold():\n"
  "    time.sleep(0.5)\n"
  "    ctypes.PyDLL(None).read(fd, ctypes.create_string_buffer(1), 1)\n"
  "threading.Thread(target=hold, daemon=True).start()\n"
  "print('ready', flush=True)\n"
  SELECT_LOOP;

/* nobody asks ten times for an attach to their own blocked interpreter,
 * one attach at a time: root's attach to another process neither fails
 * nor waits longer than one attach timeout, the requests over nobody's
 * bound are refused at once, and the stuck attach, past its deadline,
 * ends by itself once the GIL comes free. */
static void
test_attach_flood (Fixture *fx, gconstpointer data)
{
  const char *setpriv = pymemd_test_setpriv ();
  g_autoptr(GPtrArray) flood = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GVariant) summary = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) env = NULL;
  g_autofree char *blocked_pid = NULL;
  g_autofree char *fifo = NULL;
  guint limited = 0, timed_out = 0, still_running = 0;
  int release;
  GPid attach_process = 0;
  gint64 start;
  double seconds;

  if (setpriv == NULL || getpwnam ("nobody") == NULL)
    {
      g_test_skip ("needs setpriv and the user nobody");
      return;
    }
  if (!pymemd_test_service_start_with_config (&fx->service, "0.5",
                                              "[limits]\nattach-timeout-seconds=3\nattaches-per-uid=4\n"
                                              "concurrent-attaches=1\n"))
    return;
  env = child_environ (&fx->service, NULL);
  fifo = g_build_filename (fx->service.tmp, "gil.fifo", NULL);
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  g_assert_cmpint (chown (fifo, 65534, 65534), ==, 0);
  {
    const char *argv[] = { setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", pymemd_test_python (),
                           "-c", gil_holder_code, fifo, NULL };
    g_assert_true (pymemd_test_child_spawn_env (&fx->other, argv, (const char *const *) env, NULL, &error));
    g_assert_no_error (error);
  }
  g_assert_true (spawn_python (&fx->child, &fx->service, NULL, NULL, idle_code));
  pymemd_test_service_wait_pid (&fx->service, fx->other.pid);
  pymemd_test_service_wait_pid (&fx->service, fx->child.pid);
  g_usleep (700000); /* the GIL is held now */

  blocked_pid = g_strdup_printf ("%d", fx->other.pid);
  for (guint i = 0; i < 10; i++)
    {
      /* The attacker, never under valgrind: it is not what is tested. */
      const char *argv[] = { setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", g_getenv ("PYMEMCTL_BIN"),
                             "--address", fx->service.address, "heap", blocked_pid, "--attach", NULL };
      GSubprocess *cli = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                                            &error);

      g_assert_no_error (error);
      g_ptr_array_add (flood, cli);
    }
  /* Until an attach process holds the blocked interpreter's main thread. */
  for (guint i = 0; i < 12000 && attach_process <= 0; i++)
    {
      attach_process = (GPid) tracer_of_thread (fx->other.pid, fx->other.pid);
      g_usleep (5000);
    }
  g_assert_cmpint (attach_process, >, 0);

  start = g_get_monotonic_time ();
  summary = get_heap (&fx->service, fx->child.pid, "{'attach': <true>}", &error);
  seconds = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  g_test_message ("root's attach, behind nobody's stuck one: %.2f s", seconds);
  g_assert_no_error (error);
  assert_attached_by (summary, "parked-thread");
  g_assert_cmpfloat (seconds, <, FLOOD_TIMEOUT + 4);

  for (guint i = 0; i < flood->len; i++)
    {
      g_autofree char *out = NULL;
      g_autofree char *err = NULL;

      g_assert_true (g_subprocess_communicate_utf8 (g_ptr_array_index (flood, i), NULL, NULL, &out, &err, &error));
      g_assert_no_error (error);
      g_test_message ("nobody's attach %u: %s", i, err);
      g_assert_cmpint (g_subprocess_get_exit_status (g_ptr_array_index (flood, i)), ==, 1);
      if (strstr (err, "as many as one user may") != NULL)
        limited++;
      else if (strstr (err, "did not finish within") != NULL)
        timed_out++;
      else if (strstr (err, "is still running") != NULL)
        still_running++;
      else
        g_assert_not_reached ();
    }
  g_test_message ("nobody's ten: %u over the bound, %u timed out, %u refused while it ran", limited, timed_out,
                  still_running);
  g_assert_cmpuint (timed_out, ==, 1);
  g_assert_cmpuint (limited, >=, 1);

  /* The attach process goes on past its deadline, and ends by itself once
   * the GIL is free; the interpreter works on. */
  g_assert_cmpint (kill (attach_process, 0), ==, 0);
  release = open (fifo, O_WRONLY | O_CLOEXEC);
  g_assert_cmpint (release, >=, 0);
  g_assert_cmpint (write (release, "x", 1), ==, 1);
  close (release);
  for (guint i = 0; i < 4000 && kill (attach_process, 0) == 0; i++)
    g_usleep (5000);
  g_assert_true (kill (attach_process, 0) < 0 && errno == ESRCH);
  g_assert_cmpint (tracer_of_thread (fx->other.pid, fx->other.pid), ==, 0);
  assert_answers (&fx->other);
  assert_quits_cleanly (&fx->other);
  assert_answers (&fx->child);
  assert_quits_cleanly (&fx->child);
}

/* ---- a process that exits during its attach ---- */

typedef struct {
  PymemdTestChild *queued;  /* its attach waits behind the held one */
  CallResult       call;
} QueueAndExit;

static void
queue_then_exit (Conversation *conversation)
{
  Fixture *fx = conversation->fx;
  QueueAndExit *q = conversation->data;
  g_autoptr(GVariant) options = g_variant_parse (G_VARIANT_TYPE_VARDICT, "{'attach': <true>}", NULL, NULL, NULL);

  /* Root's second attach waits for its first, held here; meanwhile its
   * process exits, and the daemon (ticking once a minute) still lists it. */
  g_dbus_connection_call (fx->service.conn, BUS_NAME, BUS_PATH, BUS_IFACE, "GetHeapSummary",
                          g_variant_new ("(ut@a{sv})", (guint32) q->queued->pid, (guint64) 0, options),
                          G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE, 120000, NULL, call_done, &q->call);
  pymemd_test_iterate_for (0.5);
  pymemd_test_child_stop (q->queued);
}

/* Not reaped yet: the kernel tells its tracer first, which waits for us. */
static void
kill_target (Conversation *conversation)
{
  PymemdTestChild *child = conversation->data;

  g_assert_cmpint (kill (child->pid, SIGKILL), ==, 0);
}

/* The refusal says the process exited, whichever step of the attach
 * found it gone: before its attach started, or while it was held. */
static void
test_attach_exited_meanwhile (Fixture *fx, gconstpointer data)
{
  QueueAndExit q = { &fx->other, { FALSE, NULL, NULL } };
  PymemdTestChild third;
  Conversation conversation;
  g_autoptr(GVariant) summary = NULL;
  g_autoptr(GError) error = NULL;

  if (pymemd_test_python () == NULL)
    {
      g_test_skip ("needs python3");
      return;
    }
  /* Listed by the daemon's first scan: it ticks once a minute after. */
  stage_hook_open (&fx->hook);
  g_assert_true (spawn_python (&fx->child, NULL, NULL, NULL, idle_code));
  g_assert_true (spawn_python (&fx->other, NULL, NULL, NULL, idle_code));
  g_assert_true (spawn_python (&third, NULL, NULL, NULL, idle_code));
  if (!pymemd_test_service_start (&fx->service, "60"))
    {
      pymemd_test_child_stop (&third);
      return;
    }
  pymemd_test_service_wait_pid (&fx->service, fx->child.pid);
  pymemd_test_service_wait_pid (&fx->service, fx->other.pid);
  pymemd_test_service_wait_pid (&fx->service, third.pid);

  conversation_init (&conversation, fx, "seized", queue_then_exit);
  conversation.data = &q;
  summary = attach_conversing (fx, fx->child.pid, &conversation, &error);
  g_assert_no_error (error);
  g_assert_true (conversation.acted);
  conversation_clear (&conversation);
  PYMEMD_TEST_WAIT_FOR (q.call.done, 60);
  g_assert_null (q.call.reply);
  g_test_message ("exited while queued: %s", q.call.error->message);
  g_assert_error (q.call.error, PYMEMD_ERROR, PYMEMD_ERROR_NO_SUCH_PROCESS);
  g_assert_nonnull (strstr (q.call.error->message, "has exited"));
  g_clear_error (&q.call.error);

  /* Killed while its thread is held: the attach process fails, and the
   * daemon says why. */
  conversation_init (&conversation, fx, "seized", kill_target);
  conversation.data = &third;
  g_clear_pointer (&summary, g_variant_unref);
  summary = attach_conversing (fx, third.pid, &conversation, &error);
  g_assert_true (conversation.acted);
  conversation_clear (&conversation);
  g_assert_null (summary);
  g_test_message ("exited while held: %s", error->message);
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_NO_SUCH_PROCESS);
  g_assert_nonnull (strstr (error->message, "has exited"));
  pymemd_test_child_stop (&third);

  assert_answers (&fx->child);
  assert_quits_cleanly (&fx->child);
}

/* ---- GTK ---- */

static const char gtk_code[] =
  "import sys\n"
  "import gi\n"
  "gi.require_version('Gtk', '3.0')\n"
  "from gi.repository import Gtk, GLib\n"
  "window = Gtk.Window(title='pymemd test')\n"
  "box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL)\n"
  "labels = [Gtk.Label(label=str(i)) for i in range(2000)]\n"
  "# The collector does not track it: the ledger must find it all the same.\n"
  "pixels = bytearray(64 << 20)\n"
  "for label in labels[:20]:\n"
  "    box.add(label)\n"
  "window.add(box)\n"
  "window.show_all()\n"
  "def on_stdin(channel, condition):\n"
  "    line = sys.stdin.readline()\n"
  "    if not line or line.strip() == 'quit':\n"
  "        Gtk.main_quit()\n"
  "        return False\n"
  "    print('pong', len(labels), flush=True)\n"
  "    return True\n"
  "GLib.io_add_watch(sys.stdin, GLib.IO_IN | GLib.IO_HUP, on_stdin)\n"
  "print('ready', flush=True)\n"
  "Gtk.main()\n";

/* Xvfb on a free display, or FALSE (skipped) without it or PyGObject. */
static gboolean
start_xvfb (PymemdTestChild *xvfb, char **display)
{
  g_autofree char *program = g_find_program_in_path ("Xvfb");
  const char *argv[] = { program, "-displayfd", "1", "-nolisten", "tcp", "-screen", "0", "800x600x24", NULL };
  const char *check[] = { "/usr/bin/python3", "-c", "import gi; gi.require_version('Gtk', '3.0')", NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *number = NULL;
  int status = 1;

  if (program == NULL ||
      !g_spawn_sync (NULL, (char **) check, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status,
                     NULL) ||
      status != 0)
    {
      g_test_skip ("needs Xvfb, python3-gi and gir1.2-gtk-3.0");
      return FALSE;
    }
  if (!pymemd_test_child_spawn (xvfb, argv, &number, &error))
    {
      g_test_skip_printf ("Xvfb did not start: %s", error->message);
      return FALSE;
    }
  *display = g_strdup_printf (":%s", g_strstrip (number));
  return TRUE;
}

/* Runs BODY with the service and the GTK app under Xvfb (skipped without
 * them); BODY ends the app. */
static void
with_gtk_app (void (*body) (PymemdTestService *service, PymemdTestChild *child))
{
  PymemdTestService service;
  PymemdTestChild xvfb, child;
  g_autofree char *display = NULL;

  if (!start_xvfb (&xvfb, &display))
    return;
  if (pymemd_test_service_start (&service, "0.5"))
    {
      if (spawn_python (&child, &service, "/usr/bin/python3", display, gtk_code))
        body (&service, &child);
      pymemd_test_child_stop (&child);
      pymemd_test_service_stop (&service);
    }
  pymemd_test_child_stop (&xvfb);
}

static void
gtk_ledger (PymemdTestService *service, PymemdTestChild *child)
{
  g_autoptr(GVariant) summary = NULL;
  g_autoptr(GVariant) ledger = NULL;
  g_autoptr(GError) error = NULL;
  guint64 large = 0;

  attach_and_check (service, child, "parked-thread", "Gtk.", 2000);
  /* The 64 MiB bytearray, untracked, is a large allocation that the ledger
   * explains, with its type. */
  summary = get_heap (service, child->pid, "{'top': <uint32 1000>}", &error);
  g_assert_no_error (error);
  assert_ledger (summary);
  ledger = g_variant_lookup_value (summary, "ledger", G_VARIANT_TYPE_VARDICT);
  g_assert_true (g_variant_lookup (ledger, "large_allocations", "t", &large));
  g_assert_cmpuint (large, >=, 64 << 20);
  g_assert_true (pymemd_test_census_type (summary, "builtins.bytearray", NULL, &large));
  g_assert_cmpuint (large, >=, 64 << 20);
  assert_quits_cleanly (child);
}

static void
test_gtk (void)
{
  with_gtk_app (gtk_ledger);
}

/* A summary with retained sizes of the idle GTK 3 app: it completes, the
 * app keeps answering, the ledger adds up, and the module global that
 * holds 64 MiB is named with its retained size. */
static void
gtk_retained (PymemdTestService *service, PymemdTestChild *child)
{
  g_autoptr(GVariant) summary = NULL, retained = NULL, holders = NULL, pixels = NULL;
  g_autoptr(GError) error = NULL;
  gboolean complete = FALSE;
  guint64 bytes = 0;
  GVariantIter iter;
  GVariant *holder;

  attach_and_check (service, child, "parked-thread", "Gtk.", 2000);
  summary = get_heap (service, child->pid, "{'retained': <true>, 'budget': <60.0>}", &error);
  g_assert_no_error (error);
  assert_answers (child);
  assert_ledger (summary);
  retained = g_variant_lookup_value (summary, "retained", G_VARIANT_TYPE_VARDICT);
  g_assert_nonnull (retained);
  g_assert_true (g_variant_lookup (retained, "complete", "b", &complete));
  g_assert_true (complete);
  holders = g_variant_lookup_value (retained, "holders", G_VARIANT_TYPE ("aa{sv}"));
  g_assert_nonnull (holders);
  g_variant_iter_init (&iter, holders);
  while (pixels == NULL && (holder = g_variant_iter_next_value (&iter)) != NULL)
    {
      const char *path = "";

      if (g_variant_lookup (holder, "path", "&s", &path) && g_str_equal (path, "__main__.pixels"))
        pixels = g_variant_ref (holder);
      g_variant_unref (holder);
    }
  g_assert_nonnull (pixels);
  g_assert_true (g_variant_lookup (pixels, "retained_bytes", "t", &bytes));
  g_test_message ("__main__.pixels retains %" G_GUINT64_FORMAT " bytes", bytes);
  /* bytearray(64 << 20): its buffer and its header. */
  g_assert_cmpfloat (fabs ((double) bytes - (double) (64 << 20)), <=, 0.05 * (double) (64 << 20));
  assert_answers (child);
  assert_quits_cleanly (child);
}

static void
test_gtk_retained (void)
{
  with_gtk_app (gtk_retained);
}

static gboolean
main_thread_polls (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/syscall", pid);
  g_autofree char *text = NULL;

  return g_file_get_contents (path, &text, NULL, NULL) && g_str_has_prefix (text, "7 ");
}

static void
on_ready (GObject *source, GAsyncResult *result, gpointer data)
{
  GAsyncResult **out = data;

  *out = g_object_ref (result);
}

static GAsyncResult *
wait_result (GAsyncResult **slot)
{
  PYMEMD_TEST_WAIT_FOR (*slot != NULL, 30);
  return *slot;
}

/* The injector and the channel without the daemon: 50 attaches in a row
 * to one GTK app, each with its own nonce, end with one helper thread and
 * an app that still answers. */
static void
test_gtk_attach_50 (void)
{
  PymemdTestChild xvfb, child;
  g_autofree char *display = NULL;
  g_autofree char *tmp = NULL;
  g_autofree char *socket_path = NULL;
  g_autoptr(PymemdHelperChannel) channel = NULL;
  g_autoptr(GError) error = NULL;
  guint64 start_time = 0;
  guint threads_before = 0;

  if (!pymemd_test_is_root ())
    {
      g_test_skip ("needs root (ptrace)");
      return;
    }
  if (!start_xvfb (&xvfb, &display))
    return;
  tmp = pymemd_test_mkdtemp ();
  g_chmod (tmp, 0755);
  socket_path = g_build_filename (tmp, "helper.sock", NULL);
  channel = pymemd_helper_channel_new (socket_path, "/proc", &error);
  g_assert_no_error (error);
  if (!spawn_python (&child, NULL, "/usr/bin/python3", display, gtk_code))
    goto out;
  start_time = pymemd_test_start_time (child.pid);

  /* Once the app idles in its main loop's poll (it printed "ready" just
   * before Gtk.main ()). */
  for (int i = 0; !main_thread_polls (child.pid); i++)
    {
      g_assert_cmpint (i, <, 500);
      g_usleep (10000);
    }
  threads_before = pymemd_test_count_threads (child.pid);
  for (int i = 0; i < 50; i++)
    {
      g_autofree char *nonce = pymemd_bootstrap_new_nonce ();
      g_autofree char *bootstrap = pymemd_bootstrap_source (g_getenv ("PYMEMD_HELPER_DIR"), socket_path, nonce,
                                                            &error);
      g_autoptr(GAsyncResult) hello = NULL;
      PymemdAttachMethod method;

      g_assert_no_error (error);
      pymemd_helper_channel_wait_async (channel, child.pid, start_time, nonce, 20, NULL, on_ready, &hello);
      g_assert_true (pymemd_injector_inject ("/proc", child.pid, start_time, bootstrap, NULL, &method, &error));
      g_assert_no_error (error);
      /* The main loop's poll each time: after the first attach it runs
       * as restart_syscall, still parked. */
      g_assert_cmpint (method, ==, PYMEMD_ATTACH_METHOD_PARKED_THREAD);
      g_assert_true (pymemd_helper_channel_wait_finish (channel, wait_result (&hello), &error));
      g_assert_no_error (error);
    }
  /* One helper thread more than before. Each bootstrap runs on a thread of
   * its own that ends once it has handed over to the helper, which may be
   * just after the hello: the last one is given time to go. */
  PYMEMD_TEST_WAIT_FOR (pymemd_test_count_threads (child.pid) <= threads_before + 1, 10);
  g_assert_cmpuint (pymemd_test_count_threads (child.pid), ==, threads_before + 1);
  {
    PymemdHeapRequest request;
    g_autoptr(GAsyncResult) answer = NULL;
    g_autoptr(PymemdHeapSummary) summary = NULL;

    pymemd_heap_request_init (&request);
    pymemd_helper_channel_request_async (channel, child.pid, start_time, &request, 60, NULL, on_ready, &answer);
    summary = pymemd_helper_channel_request_finish (channel, wait_result (&answer), &error);
    g_assert_no_error (error);
    g_assert_cmpuint (summary->census_objects, >=, 2000);
  }
  assert_answers (&child);
  assert_quits_cleanly (&child);
out:
  pymemd_test_child_stop (&child);
  g_clear_object (&channel);
  pymemd_test_rm_rf (tmp);
  pymemd_test_child_stop (&xvfb);
}

/* ---- every CPython on the machine ---- */

/* The interpreters' paths, the version tests' data: kept (reachable)
 * until the tests have run. */
static GPtrArray *pythons;

static void
add_version_tests (void)
{
  g_autofree char *pyenv = g_build_filename (g_get_home_dir (), ".pyenv", "versions", NULL);
  g_autoptr(GDir) dir = g_dir_open (pyenv, 0, NULL);
  const char *name;

  g_test_add ("/heap/attach/idle/debian", Fixture, "/usr/bin/python3", fixture_setup, test_attach_idle, fixture_teardown);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_auto(GStrv) parts = g_strsplit (name, ".", 3);
      guint major = parts[0] != NULL ? (guint) atoi (parts[0]) : 0;
      guint minor = major != 0 && parts[1] != NULL ? (guint) atoi (parts[1]) : 0;
      g_autofree char *test = NULL;
      char *python;

      if (major != 3 || minor < 8)
        continue;
      python = g_strdup_printf ("%s/%s/bin/python%u.%u", pyenv, name, major, minor);
      g_ptr_array_add (pythons, python);
      test = g_strdup_printf ("/heap/attach/idle/%u.%u", major, minor);
      /* PYTHON is freed with PYTHONS, after the tests ran. */
      g_test_add (test, Fixture, python, fixture_setup, test_attach_idle, fixture_teardown);
    }
}

/* ---- CPython 3.14 as the unit runs pymemd ---- */

typedef struct {
  Fixture  base;
  char    *python;  /* tools/python3.14, copied where every user may run it */
} Fixture314;

/* The daemon as pymemd.service runs it: under UMask=0077, in a runtime
 * directory of mode 0755 (systemd makes RuntimeDirectory= so). The first
 * start makes the directory; the daemon then runs again under umask 077. */
static void
fixture314_setup (Fixture314 *fx, gconstpointer data)
{
  const char *why = NULL;
  const char *script = pymemd_test_python314 (&why);
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;
  mode_t old_umask;

  fx->python = NULL;
  memset (&fx->base.child, 0, sizeof fx->base.child);
  fx->base.service.address = NULL;
  if (script == NULL)
    {
      g_test_skip (why);
      return;
    }
  if (pymemd_test_setpriv () == NULL)
    {
      g_test_skip ("needs setpriv");
      return;
    }
  fixture_setup (&fx->base, data);
  if (skipped (&fx->base))
    return;
  fx->python = g_build_filename (fx->base.service.tmp, "python3.14", NULL);
  g_assert_true (g_file_get_contents (script, &text, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (fx->python, text, -1, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (fx->python, 0755), ==, 0);

  pymemd_test_service_stop_daemon (&fx->base.service);
  pymemd_test_service_wait_name_released (&fx->base.service);
  old_umask = umask (0077);
  pymemd_test_service_start_daemon (&fx->base.service, "0.5");
  umask (old_umask);
}

static void
fixture314_teardown (Fixture314 *fx, gconstpointer data)
{
  fixture_teardown (&fx->base, data);
  g_free (fx->python);
}

/* The PEP 768 scripts left in the runtime directory, or NULL. */
static char *
scripts_left (PymemdTestService *service)
{
  g_autoptr(GDir) dir = g_dir_open (service->runtime_dir, 0, NULL);
  g_autoptr(GString) names = g_string_new (NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (name, "attach-"))
      g_string_append_printf (names, " %s", name);
  return names->len > 0 ? g_strdup (names->str) : NULL;
}

/* Starts CODE in CPython 3.14, as nobody with AS_NOBODY, attaches to it
 * with a request of root's, and checks the summary, that the process goes on
 * and printed nothing on its stderr, and that no PEP 768 script is left.
 * A failed attach fails the test, not the program, with what the process
 * printed. */
static void
attach_314 (Fixture314 *fx, const char *code, gboolean as_nobody)
{
  PymemdTestService *service = &fx->base.service;
  const char *setpriv[] = { pymemd_test_setpriv (), "--reuid=65534", "--regid=65534", "--clear-groups",
                            fx->python, "-c", code, NULL };
  const char *plain[] = { fx->python, "-c", code, NULL };
  g_auto(GStrv) env = child_environ (service, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) summary = NULL;
  g_autoptr(GVariant) again = NULL;
  g_autofree char *left = NULL;
  const char *attached_by = NULL;
  double seconds = 0;

  if (skipped (&fx->base))
    return;
  g_assert_true (pymemd_test_child_spawn_env (&fx->base.child, as_nobody ? setpriv : plain,
                                              (const char *const *) env, NULL, &error));
  g_assert_no_error (error);
  pymemd_test_service_wait_pid (service, fx->base.child.pid);
  summary = get_heap (service, fx->base.child.pid, "{'attach': <true>}", &error);
  if (summary == NULL)
    {
      g_autofree char *err = NULL;

      pymemd_test_child_finish (&fx->base.child, "quit", &err);
      if (err != NULL)
        g_strdelimit (g_strstrip (err), "\n", ' ');
      left = scripts_left (service);
      g_test_fail_printf ("no summary: %s; the process printed: %s; scripts left:%s", error->message,
                          err != NULL && *err != '\0' ? err : "nothing", left != NULL ? left : " none");
      return;
    }
  g_assert_true (g_variant_lookup (summary, "attached_by", "&s", &attached_by));
  g_assert_true (g_variant_lookup (summary, "attach_seconds", "d", &seconds));
  g_test_message ("3.14 attached by %s in %.3f s", attached_by, seconds);
  g_assert_cmpuint (census_count (summary, "builtins."), >=, 1);
  assert_ledger (summary);
  assert_answers (&fx->base.child);
  again = get_heap (service, fx->base.child.pid, "{}", &error);
  g_assert_no_error (error);
  g_assert_false (g_variant_lookup (again, "attached_by", "s", NULL));
  assert_quits_cleanly (&fx->base.child);
  left = scripts_left (service);
  if (left != NULL)
    g_test_fail_printf ("PEP 768 scripts left in the runtime directory:%s", left);
}

/* Which process attach_314 () starts: idle in select () (no bytecode runs
 * until input comes) or busy, root's or nobody's. */
typedef struct {
  const char *code;
  gboolean    as_nobody;
} Target314;

static const Target314 idle_314 = { idle_code, FALSE };
static const Target314 busy_314 = { busy_code, FALSE };
static const Target314 other_user_idle_314 = { idle_code, TRUE };
static const Target314 other_user_busy_314 = { busy_code, TRUE };

static void
test_attach_314 (Fixture314 *fx, gconstpointer data)
{
  const Target314 *target = data;

  attach_314 (fx, target->code, target->as_nobody);
}

#define ADD(path, func) g_test_add ((path), Fixture, NULL, fixture_setup, (func), fixture_teardown)
#define ADD314(path, target) \
  g_test_add ((path), Fixture314, (target), fixture314_setup, test_attach_314, fixture314_teardown)

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* Its daemons attach, ask helpers and keep their summaries: paths no
   * other test's daemon takes. */
  pymemd_test_valgrind_daemons (TRUE);
  /* Registers org.pymemd.Error.* so that errors from the bus map back. */
  (void) PYMEMD_ERROR;
  /* Children must not inherit a SIGPIPE we ignore, nor we die of theirs. */
  signal (SIGPIPE, SIG_IGN);
  /* Before any thread exists: the daemons inherit it. */
  stage_dir = pymemd_test_mkdtemp ();
  {
    g_autofree char *stage_socket = g_build_filename (stage_dir, "stage.sock", NULL);
    g_setenv (STAGE_SOCKET_ENV, stage_socket, TRUE);
  }

  ADD ("/heap/started-with", test_started_with);
  ADD ("/heap/bad-requests", test_bad_requests);
  pythons = g_ptr_array_new_with_free_func (g_free);
  add_version_tests ();
  ADD ("/heap/attach/asyncio", test_attach_asyncio);
  ADD ("/heap/attach/threads", test_attach_threads);
  ADD ("/heap/attach/busy", test_attach_busy);
  ADD ("/heap/attach/allocating", test_attach_allocating);
  ADD ("/heap/collect", test_collect);
  ADD ("/heap/refuse/stopped", test_refuse_stopped);
  ADD ("/heap/refuse/python2", test_refuse_python2);
  ADD ("/heap/refuse/traced", test_refuse_traced);
  ADD ("/heap/refuse/futex", test_refuse_futex);
  g_test_add ("/heap/attach/exited-meanwhile", Fixture, NULL, fixture_setup_bare, test_attach_exited_meanwhile,
              fixture_teardown);
  g_test_add ("/heap/attach/flood", Fixture, NULL, fixture_setup_bare, test_attach_flood, fixture_teardown);
  g_test_add ("/heap/attach/daemon-killed/parked-thread", Fixture, &stage_cases[0], fixture_setup_staged,
              test_every_stage, fixture_teardown);
  g_test_add ("/heap/attach/daemon-killed/pending-call", Fixture, &stage_cases[1], fixture_setup_staged,
              test_every_stage, fixture_teardown);
  g_test_add ("/heap/attach/child-terminated/parked-thread", Fixture, &stage_cases[2], fixture_setup_staged,
              test_every_stage, fixture_teardown);
  g_test_add ("/heap/attach/child-terminated/pending-call", Fixture, &stage_cases[3], fixture_setup_staged,
              test_every_stage, fixture_teardown);
  ADD314 ("/heap/attach/3.14/idle", &idle_314);
  ADD314 ("/heap/attach/3.14/busy", &busy_314);
  ADD314 ("/heap/attach/3.14/other-user-idle", &other_user_idle_314);
  ADD314 ("/heap/attach/3.14/other-user-busy", &other_user_busy_314);
  g_test_add_func ("/heap/gtk", test_gtk);
  g_test_add_func ("/heap/gtk/attach-50", test_gtk_attach_50);
  g_test_add_func ("/heap/gtk/retained", test_gtk_retained);
  {
    int status = g_test_run ();
    g_ptr_array_unref (pythons);
    pymemd_test_rm_rf (stage_dir);
    g_free (stage_dir);
    return status;
  }
}
