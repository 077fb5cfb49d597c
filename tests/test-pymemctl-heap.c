/* Runs pymemctl heap (PYMEMCTL_BIN) against the real pymemd on a private bus: usage errors and a daemon that is not running, then with real interpreters, one running the helper (helper/) and one without: its JSON against GetHeapSummary, the ledger and a known type for people, the heap parts of show and history, --attach, the one-line errors, a hostile helper's answers refused, and a reply no pymemd sends printed safely. */
#include "config.h"

#include <math.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "pymemd-dbus-generated.h"
#include "testutil.h"

#define BUS_NAME      "org.pymemd.Monitor1"
#define MANAGER_PATH  "/org/pymemd/Monitor1"
#define MANAGER_IFACE "org.pymemd.Monitor1"
#define INTERVAL      "0.5"
#define MARKERS       100000

/* An interpreter running the helper from its start (connecting to the
 * socket %s), holding MARKERS instances of a class of its own: the census's
 * largest type. Ends at EOF. */
#define HELPER_CODE_FORMAT \
  "import sys\n" \
  "import pymemd_helper\n" \
  "pymemd_helper.start('%s')\n" \
  "class HeapMarker:\n" \
  "    __slots__ = ('a', 'b', 'c', 'd')\n" \
  "markers = [HeapMarker() for _ in range(100000)]\n" \
  "print('ready', flush=True)\n" \
  "sys.stdin.read()\n"

/* An idle interpreter without the helper, its only thread asleep (a
 * blocking call that attaching can use). */
static const char plain_code[] =
  "import time\n"
  "print('ready', flush=True)\n"
  "while True:\n"
  "    time.sleep(3600)\n";

/* helper/ in the source tree: the package the children import and the
 * daemon brings in (PYMEMD_HELPER_DIR). */
static char *helper_dir = NULL;

typedef struct {
  PymemdTestService service;
  PymemdTestChild   child;
  gboolean          skipped;
} Fixture;

static gboolean
have_helper (void)
{
  g_autofree char *init = g_build_filename (helper_dir, "pymemd_helper", "__init__.py", NULL);

  return g_file_test (init, G_FILE_TEST_EXISTS);
}

static gboolean
service_setup (Fixture *fx)
{
  memset (fx, 0, sizeof *fx);
  fx->skipped = TRUE;
  if (g_getenv ("PYMEMCTL_BIN") == NULL)
    {
      g_test_skip ("PYMEMCTL_BIN is not set");
      return FALSE;
    }
  if (!pymemd_test_service_start (&fx->service, INTERVAL))
    return FALSE;
  fx->skipped = FALSE;
  return TRUE;
}

static void
fixture_setup_service (Fixture *fx, gconstpointer data)
{
  service_setup (fx);
}

static void
fixture_teardown (Fixture *fx, gconstpointer data)
{
  pymemd_test_child_stop (&fx->child);
  pymemd_test_service_stop (&fx->service);
}

/* ---- running pymemctl ---- */

/* In the C locale. */
static int
run_cli (PymemdTestRun *run, gboolean as_nobody, const char *const *args)
{
  g_auto(GStrv) envp = pymemd_test_cli_environ ();

  return pymemd_test_run_pymemctl (run, as_nobody, envp, args);
}

/* pymemctl --address ADDRESS ARGS… on the fixture's bus. */
#define CLI(fx, run, ...) \
  run_cli ((run), FALSE, (const char *const[]){ "--address", (fx)->service.address, __VA_ARGS__, NULL })
#define CLI_AS_NOBODY(fx, run, ...) \
  run_cli ((run), TRUE, (const char *const[]){ "--address", (fx)->service.address, __VA_ARGS__, NULL })

/* Every one of NEEDLES (NULL-terminated) is in TEXT, and no escape
 * sequence (stdout is a pipe). */
static void
assert_contains (const char *text, const char *const *needles)
{
  for (guint i = 0; needles[i] != NULL; i++)
    if (strstr (text, needles[i]) == NULL)
      g_error ("“%s” is not in the output:\n%s", needles[i], text);
  g_assert_null (strchr (text, '\033'));
}

/* An error: exit 1, nothing on stdout, one line on stderr. */
static void
assert_one_line_error (PymemdTestRun *run, int exit_code)
{
  g_assert_cmpint (exit_code, ==, 1);
  g_assert_cmpstr (run->out, ==, "");
  g_assert_true (g_str_has_prefix (run->err, "pymemctl: "));
  g_assert_true (g_str_has_suffix (run->err, "\n"));
  g_assert_true (strchr (run->err, '\n') == run->err + strlen (run->err) - 1);
}

/* ---- usage, --help, not running: no heap support needed ---- */

static void
assert_usage (const char *expected, const char *const *args)
{
  g_auto(PymemdTestRun) run = { 0 };
  g_autofree char *first_line = NULL;

  g_assert_cmpint (run_cli (&run, FALSE, args), ==, 2);
  g_assert_cmpstr (run.out, ==, "");
  first_line = g_strndup (run.err, strcspn (run.err, "\n"));
  if (strstr (first_line, expected) == NULL)
    g_error ("expected “%s” in “%s”", expected, run.err);
  g_assert_true (g_str_has_prefix (first_line, "pymemctl: "));
  /* The message, then the hint to --help: nothing else. */
  g_assert_cmpstr (strchr (run.err, '\n') + 1, ==,
                   "Try “pymemctl --help” for more information.\n");
}

#define USAGE(expected, ...) assert_usage ((expected), (const char *const[]){ __VA_ARGS__, NULL })

static void
test_usage (void)
{
  if (g_getenv ("PYMEMCTL_BIN") == NULL)
    {
      g_test_skip ("PYMEMCTL_BIN is not set");
      return;
    }
  /* Usage is checked before any bus is reached: none is needed here. */
  USAGE ("heap needs a process ID", "heap");
  USAGE ("heap needs a process ID", "--address", "unix:path=/nonexistent", "heap", "--attach");
  USAGE ("“abc” is not a process ID", "heap", "abc");
  USAGE ("“0” is not a process ID", "heap", "0");
  USAGE ("Unexpected argument “2”", "heap", "1", "2");
  USAGE ("Unknown option --bogus", "heap", "1", "--bogus");
  USAGE ("Missing argument for --trace", "heap", "1", "--trace");
  USAGE ("“101” is not a number of frames: --trace takes 0 (stop tracing) to 100", "heap", "1",
         "--trace", "101");
  USAGE ("“-1” is not a number of frames", "heap", "1", "--trace", "-1");
  USAGE ("“x” is not a number of frames", "heap", "1", "--trace", "x");
  USAGE ("“” is not a number of frames", "heap", "1", "--trace=");
  USAGE ("“0” is not a number of types: --top takes 1 to 1000", "heap", "1", "--top", "0");
  USAGE ("“1001” is not a number of types", "heap", "1", "--top", "1001");
  USAGE ("“-1” is not a number of sites: --sites takes 0 to 1000", "heap", "1", "--sites", "-1");
  USAGE ("“1001” is not a number of sites", "heap", "1", "--sites", "1001");
  USAGE ("“1e3” is not a number of sites", "heap", "1", "--sites", "1e3");
  USAGE ("--holders goes with --retained", "heap", "1", "--holders", "5");
  USAGE ("“0” is not a number of holders: --holders takes 1 to 200", "heap", "1", "--retained", "--holders", "0");
  USAGE ("“201” is not a number of holders", "heap", "1", "--retained", "--holders", "201");
}

static void
test_help (void)
{
  g_auto(PymemdTestRun) help = { 0 };
  g_auto(PymemdTestRun) main_help = { 0 };

  if (g_getenv ("PYMEMCTL_BIN") == NULL)
    {
      g_test_skip ("PYMEMCTL_BIN is not set");
      return;
    }
  g_assert_cmpint (run_cli (&help, FALSE, (const char *const[]){ "heap", "--help", NULL }), ==, 0);
  g_assert_cmpstr (help.err, ==, "");
  assert_contains (help.out, (const char *const[]){ "pymemctl [OPTION…] heap PID", "--attach",
                                                    "--trace=FRAMES", "--collect", "--top=N",
                                                    "--sites=N", "--json", NULL });

  g_assert_cmpint (run_cli (&main_help, FALSE, (const char *const[]){ "--help", NULL }), ==, 0);
  assert_contains (main_help.out, (const char *const[]){ "\n  heap ", NULL });
}

static void
test_not_running (Fixture *fx, gconstpointer data)
{
  g_autofree char *expected = NULL;

  if (fx->skipped)
    return;
  pymemd_test_service_stop_daemon (&fx->service);
  pymemd_test_service_wait_name_released (&fx->service);
  expected = g_strdup_printf ("pymemctl: pymemd is not running on the bus at %s; start it with "
                              "`pymemd --address %s`\n",
                              fx->service.address, fx->service.address);
  {
    g_auto(PymemdTestRun) run = { 0 };
    g_assert_cmpint (CLI (fx, &run, "heap", "1"), ==, 1);
    g_assert_cmpstr (run.out, ==, "");
    g_assert_cmpstr (run.err, ==, expected);
  }
  {
    g_auto(PymemdTestRun) run = { 0 };
    g_assert_cmpint (CLI (fx, &run, "--json", "heap", "1", "--attach", "--trace", "1"), ==, 1);
    g_assert_cmpstr (run.out, ==, "");
    g_assert_cmpstr (run.err, ==, expected);
  }
}

/* ---- with the daemon's heap support and the helper ---- */

static GVariant *
call_manager (Fixture *fx, const char *method, GVariant *args, const char *reply_type,
              GError **error)
{
  return g_dbus_connection_call_sync (fx->service.conn, BUS_NAME, MANAGER_PATH, MANAGER_IFACE,
                                      method, args, G_VARIANT_TYPE (reply_type),
                                      G_DBUS_CALL_FLAGS_NONE, 120000, NULL, error);
}

/* GetHeapSummary of the fixture's child, as pymemctl heap asks for it. */
static GVariant *
daemon_summary (Fixture *fx, GVariant *options, GError **error)
{
  g_autoptr(GVariant) reply = NULL;

  if (options == NULL)
    options = g_variant_new ("a{sv}", NULL);
  reply = call_manager (fx, "GetHeapSummary",
                        g_variant_new ("(ut@a{sv})", (guint32) fx->child.pid, (guint64) 0, options),
                        "(a{sv})", error);
  return reply != NULL ? g_variant_get_child_value (reply, 0) : NULL;
}

/* Skips (FALSE) unless helper/ holds the helper and this pymemd answers
 * GetHeapSummary; starts the daemon and a child (running the helper, or
 * plain_code), and waits until the daemon watches it. */
static gboolean
heap_setup (Fixture *fx, gboolean with_helper)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) summary = NULL;
  g_autofree char *socket = NULL, *code = NULL;

  memset (fx, 0, sizeof *fx);
  fx->skipped = TRUE;
  if (!have_helper ())
    {
      g_test_skip ("helper/pymemd_helper is not there yet");
      return FALSE;
    }
  if (!service_setup (fx))
    return FALSE;
  socket = g_build_filename (fx->service.runtime_dir, "helper.sock", NULL);
  g_assert_null (strchr (socket, '\''));
  code = with_helper ? g_strdup_printf (HELPER_CODE_FORMAT, socket) : g_strdup (plain_code);
  g_assert_true (pymemd_test_child_spawn_python (&fx->child, code, NULL, &error));
  g_assert_no_error (error);
  pymemd_test_service_wait_pid (&fx->service, fx->child.pid);
  summary = daemon_summary (fx, NULL, &error);
  if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD))
    {
      g_test_skip ("this pymemd does not answer GetHeapSummary");
      fx->skipped = TRUE;
      return FALSE;
    }
  return TRUE;
}

/* Asks the fixture's child for summaries until its helper has connected
 * and answered one (30 s at most). */
static void
wait_helper (Fixture *fx)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) summary = daemon_summary (fx, NULL, &error);
      g_autofree char *name = NULL;

      if (summary != NULL)
        return;
      name = g_dbus_error_get_remote_error (error);
      if (g_strcmp0 (name, "org.pymemd.Error.NotAttached") != 0)
        g_error ("GetHeapSummary: %s", error->message);
      if (g_get_monotonic_time () > deadline)
        g_error ("the helper of pid %d did not connect within 30 s", fx->child.pid);
      g_usleep (200000);
    }
}

/* The child runs the helper: waits until it has connected. */
static void
fixture_setup_helper (Fixture *fx, gconstpointer data)
{
  if (heap_setup (fx, TRUE))
    wait_helper (fx);
}

static void
fixture_setup_plain (Fixture *fx, gconstpointer data)
{
  heap_setup (fx, FALSE);
}

/* OBJECT has the keys of DICT (an a{sv} of the daemon) and no others. */
static void
assert_same_keys (const char *where, JsonObject *object, GVariant *dict)
{
  g_autoptr(GList) members = json_object_get_members (object);
  GVariantIter iter;
  const char *key;

  for (GList *l = members; l != NULL; l = l->next)
    if (!g_variant_lookup (dict, l->data, "*", NULL))
      g_error ("%s%s is in pymemctl's JSON, not in GetHeapSummary's", where, (char *) l->data);
  g_variant_iter_init (&iter, dict);
  while (g_variant_iter_next (&iter, "{&s*}", &key, NULL))
    if (!json_object_has_member (object, key))
      g_error ("%s%s is in GetHeapSummary's reply, not in pymemctl's JSON", where, key);
}

/* The keys of ROOT and of its dictionaries are the daemon's SUMMARY's;
 * the lists of tuples are arrays of objects with named members. */
static void
assert_json_matches (JsonObject *root, GVariant *summary)
{
  const char *const dicts[] = { "gc", "census", "pymalloc", "tracemalloc", "collect", "ledger" };
  g_autoptr(GVariant) census = g_variant_lookup_value (summary, "census", G_VARIANT_TYPE_VARDICT);
  g_autoptr(GVariant) types = g_variant_lookup_value (census, "types", G_VARIANT_TYPE ("a(stt)"));
  JsonArray *json_types;
  const char *python = NULL;

  assert_same_keys ("", root, summary);
  for (guint i = 0; i < G_N_ELEMENTS (dicts); i++)
    {
      g_autoptr(GVariant) dict = g_variant_lookup_value (summary, dicts[i],
                                                         G_VARIANT_TYPE_VARDICT);
      g_autofree char *where = g_strconcat (dicts[i], ".", NULL);

      if (dict != NULL)
        assert_same_keys (where, json_object_get_object_member (root, dicts[i]), dict);
    }
  g_assert_true (g_variant_lookup (summary, "python", "&s", &python));
  g_assert_cmpstr (json_object_get_string_member (root, "python"), ==, python);

  json_types = json_object_get_array_member (json_object_get_object_member (root, "census"),
                                             "types");
  g_assert_cmpuint (json_array_get_length (json_types), ==, g_variant_n_children (types));
  for (guint i = 0; i < json_array_get_length (json_types); i++)
    {
      JsonObject *type = json_array_get_object_element (json_types, i);

      g_assert_cmpuint (json_object_get_size (type), ==, 3);
      g_assert_nonnull (json_object_get_string_member (type, "type"));
      g_assert_cmpint (json_object_get_int_member (type, "count"), >, 0);
      g_assert_true (json_object_has_member (type, "bytes"));
    }
}

/* The census entry of TYPE in pymemctl's JSON, or NULL. */
static JsonObject *
json_type (JsonObject *root, const char *name)
{
  JsonArray *types = json_object_get_array_member (json_object_get_object_member (root, "census"),
                                                   "types");

  for (guint i = 0; i < json_array_get_length (types); i++)
    {
      JsonObject *type = json_array_get_object_element (types, i);

      if (g_strcmp0 (json_object_get_string_member (type, "type"), name) == 0)
        return type;
    }
  return NULL;
}

/* Asks for the detail pass until it has reached the child (the ledger
 * needs its heap pages). */
static void
wait_detail_pass (Fixture *fx)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) rescan = call_manager (fx, "Rescan", NULL, "()", NULL);
      g_autoptr(GVariant) reply = call_manager (fx, "GetProcessDetails",
                                                g_variant_new ("(u)", (guint32) fx->child.pid),
                                                "(a{sv})", &error);
      g_autoptr(GVariant) details = NULL;

      g_assert_no_error (error);
      details = g_variant_get_child_value (reply, 0);
      if (g_variant_lookup (details, "categories", "@a{sa{st}}", NULL))
        return;
      if (g_get_monotonic_time () > deadline)
        g_error ("the detail pass did not reach pid %d within 30 s", fx->child.pid);
      g_usleep (200000);
    }
}

static void
test_json (Fixture *fx, gconstpointer data)
{
  g_auto(PymemdTestRun) run = { 0 };
  g_autofree char *pid = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) summary = NULL;
  g_autoptr(JsonNode) root = NULL;
  JsonObject *object, *marker;

  if (fx->skipped)
    return;
  pid = g_strdup_printf ("%d", fx->child.pid);
  wait_detail_pass (fx);
  summary = daemon_summary (fx, g_variant_new_parsed ("{'top': <uint32 1000>}"), &error);
  g_assert_no_error (error);

  g_assert_cmpint (CLI (fx, &run, "heap", pid, "--json", "--top", "1000"), ==, 0);
  g_assert_cmpstr (run.err, ==, "");
  root = pymemd_test_parse_json (run.out);
  object = json_node_get_object (root);
  /* Both summaries have the same keys: the same process, helper and pass. */
  assert_json_matches (object, summary);
  g_assert_cmpstr (json_object_get_string_member (object, "helper"), ==, "import");
  g_assert_false (json_object_has_member (object, "attached_by"));
  marker = json_type (object, "__main__.HeapMarker");
  g_assert_nonnull (marker);
  g_assert_cmpint (json_object_get_int_member (marker, "count"), ==, MARKERS);
  g_assert_true (json_object_has_member (object, "ledger"));
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (object, "ledger"),
                                               "heap_private_dirty"), >, 0);

  /* The global --json before the command is the same. */
  {
    g_auto(PymemdTestRun) before = { 0 };
    g_assert_cmpint (CLI (fx, &before, "--json", "heap", pid), ==, 0);
    g_assert_true (g_str_has_prefix (before.out, "{"));
  }
}

static void
test_human (Fixture *fx, gconstpointer data)
{
  g_auto(PymemdTestRun) run = { 0 };
  g_autofree char *pid = NULL;

  if (fx->skipped)
    return;
  pid = g_strdup_printf ("%d", fx->child.pid);
  wait_detail_pass (fx);
  g_assert_cmpint (CLI (fx, &run, "heap", pid), ==, 0);
  g_assert_cmpstr (run.err, ==, "");
  assert_contains (run.out, (const char *const[]){
                              "Helper: imported by the program\n",
                              "Census: complete\n",
                              "\nHeap pages (pymalloc + native heap, private dirty): ",
                              "\n  live allocations ",
                              " — small ones in pymalloc's blocks ",
                              " of it rounding objects up to the blocks' sizes), larger ones, each "
                              "with the object that owns it, ",
                              "\n  pymalloc free space ",
                              "\n  unexplained ",
                              " — malloc's memory that no Python object owns: ",
                              " tracked by the garbage collector and ",
                              " more reached from them, each once; ",
                              "TYPE", "% OF CENSUS",
                              "\n__main__.HeapMarker ",
                              "Garbage collector\nAutomatic collection: on",
                              "GENERATION", "UNCOLLECTABLE",
                              "Allocation sites (tracemalloc)\n",
                              NULL });
  /* The ledger comes before the types. */
  g_assert_true (strstr (run.out, "Heap pages (") < strstr (run.out, "__main__.HeapMarker"));
}

static void
test_collect_and_trace (Fixture *fx, gconstpointer data)
{
  g_auto(PymemdTestRun) start = { 0 };
  g_auto(PymemdTestRun) stop = { 0 };
  g_auto(PymemdTestRun) text = { 0 };
  g_autofree char *pid = NULL;
  g_autoptr(JsonNode) started = NULL;
  g_autoptr(JsonNode) stopped = NULL;
  JsonObject *collect, *tracemalloc;

  if (fx->skipped)
    return;
  pid = g_strdup_printf ("%d", fx->child.pid);
  g_assert_cmpint (CLI (fx, &start, "heap", pid, "--json", "--collect", "--trace", "2",
                        "--sites", "5"),
                   ==, 0);
  started = pymemd_test_parse_json (start.out);
  collect = json_object_get_object_member (json_node_get_object (started), "collect");
  g_assert_nonnull (collect);
  g_assert_true (json_object_has_member (collect, "freed"));
  tracemalloc = json_object_get_object_member (json_node_get_object (started), "tracemalloc");
  g_assert_nonnull (tracemalloc);
  g_assert_true (json_object_get_boolean_member (tracemalloc, "tracing"));
  g_assert_cmpint (json_object_get_int_member (tracemalloc, "frames"), ==, 2);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (tracemalloc, "sites")),
                    <=, 5);

  /* --trace 0 stops it, and the text says how to start it again. */
  g_assert_cmpint (CLI (fx, &stop, "heap", pid, "--json", "--trace", "0"), ==, 0);
  stopped = pymemd_test_parse_json (stop.out);
  tracemalloc = json_object_get_object_member (json_node_get_object (stopped), "tracemalloc");
  g_assert_true (tracemalloc == NULL || !json_object_get_boolean_member (tracemalloc, "tracing"));
  g_assert_cmpint (CLI (fx, &text, "heap", pid, "--collect"), ==, 0);
  assert_contains (text.out, (const char *const[]){
                               "Collection (gc.collect () before the census)\nFreed ",
                               "Not tracing; run with --trace 1 and ask again later.\n", NULL });
}

/* --retained names the module global that holds the markers, with their
 * retained size, in the text and in --json; the numbers are the daemon's. */
static void
test_retained (Fixture *fx, gconstpointer data)
{
  g_auto(PymemdTestRun) text = { 0 };
  g_auto(PymemdTestRun) json = { 0 };
  g_autofree char *pid = NULL;
  g_autoptr(JsonNode) root = NULL;
  JsonObject *retained, *holder = NULL;
  JsonArray *holders;

  if (fx->skipped)
    return;
  pid = g_strdup_printf ("%d", fx->child.pid);
  g_assert_cmpint (CLI (fx, &text, "heap", pid, "--retained"), ==, 0);
  g_assert_cmpstr (text.err, ==, "");
  assert_contains (text.out, (const char *const[]){
                               "Who holds it (retained: what would be freed without it)\n",
                               "  __main__.markers (list) → ", " retained, ", " objects\n",
                               " objects (", " references, walked in ", NULL });
  /* The holders come between the ledger and the types. */
  g_assert_true (strstr (text.out, "Heap pages (") < strstr (text.out, "Who holds it"));
  g_assert_true (strstr (text.out, "Who holds it") < strstr (text.out, "\n__main__.HeapMarker "));

  g_assert_cmpint (CLI (fx, &json, "heap", pid, "--json", "--retained", "--holders", "3"), ==, 0);
  root = pymemd_test_parse_json (json.out);
  retained = json_object_get_object_member (json_node_get_object (root), "retained");
  g_assert_nonnull (retained);
  g_assert_true (json_object_get_boolean_member (retained, "complete"));
  g_assert_cmpint (json_object_get_int_member (retained, "objects"), >, MARKERS);
  holders = json_object_get_array_member (retained, "holders");
  g_assert_cmpuint (json_array_get_length (holders), >=, 1);
  g_assert_cmpuint (json_array_get_length (holders), <=, 3);
  for (guint i = 0; i < json_array_get_length (holders); i++)
    {
      JsonObject *h = json_array_get_object_element (holders, i);
      if (g_strcmp0 (json_object_get_string_member_with_default (h, "path", ""), "__main__.markers") == 0)
        holder = h;
    }
  g_assert_nonnull (holder);
  g_assert_cmpstr (json_object_get_string_member (holder, "type"), ==, "builtins.list");
  /* The list and its markers, nothing else holds them. */
  g_assert_cmpint (json_object_get_int_member (holder, "retained_objects"), ==, MARKERS + 1);
  g_assert_cmpint (json_object_get_int_member (holder, "retained_bytes"), >=,
                   (gint64) MARKERS * (16 + 4 * 8));

  /* GetHeapSummary checks the options. */
  {
    const char *const bad[] = { "{'retained': <1>}", "{'retained': <true>, 'holders': <uint32 0>}",
                                "{'retained': <true>, 'holders': <uint32 201>}", "{'holders': <5>}" };
    for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
      {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) refused = daemon_summary (fx, g_variant_new_parsed (bad[i]), &error);
        g_autofree char *name = NULL;

        g_assert_null (refused);
        name = g_dbus_error_get_remote_error (error);
        g_assert_cmpstr (name, ==, "org.pymemd.Error.InvalidArgs");
      }
  }

  /* Not without --retained. */
  {
    g_auto(PymemdTestRun) plain = { 0 };
    g_autoptr(JsonNode) plain_root = NULL;
    g_assert_cmpint (CLI (fx, &plain, "heap", pid, "--json"), ==, 0);
    plain_root = pymemd_test_parse_json (plain.out);
    g_assert_false (json_object_has_member (json_node_get_object (plain_root), "retained"));
  }
}

/* After a summary, show has a Heap section and history lists it. */
static void
test_show_and_history (Fixture *fx, gconstpointer data)
{
  g_auto(PymemdTestRun) heap = { 0 };
  g_auto(PymemdTestRun) show = { 0 };
  g_auto(PymemdTestRun) show_json = { 0 };
  g_auto(PymemdTestRun) history = { 0 };
  g_auto(PymemdTestRun) history_json = { 0 };
  g_autofree char *pid = NULL;
  g_autoptr(JsonNode) details = NULL;
  g_autoptr(JsonNode) kept = NULL;
  JsonArray *summaries;
  JsonObject *heap_object;
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  if (fx->skipped)
    return;
  pid = g_strdup_printf ("%d", fx->child.pid);
  wait_detail_pass (fx);
  g_assert_cmpint (CLI (fx, &heap, "heap", pid), ==, 0);

  g_assert_cmpint (CLI (fx, &show, "show", pid), ==, 0);
  assert_contains (show.out, (const char *const[]){
                               "\nHeap, from the helper's summary taken ",
                               " tracked by the garbage collector and ",
                               "\n__main__.HeapMarker ",
                               "\nHeap pages (pymalloc + native heap, private dirty): ",
                               NULL });
  g_assert_cmpint (CLI (fx, &show_json, "show", pid, "--json"), ==, 0);
  details = pymemd_test_parse_json (show_json.out);
  heap_object = json_object_get_object_member (json_node_get_object (details), "heap");
  g_assert_nonnull (heap_object);
  g_assert_nonnull (json_type (heap_object, "__main__.HeapMarker"));

  /* The history store writes on its own schedule. */
  for (;;)
    {
      g_auto(PymemdTestRun) run = { 0 };

      g_assert_cmpint (CLI (fx, &run, "history", pid, "--json"), ==, 0);
      g_clear_pointer (&kept, json_node_unref);
      kept = pymemd_test_parse_json (run.out);
      summaries = json_object_get_array_member (json_node_get_object (kept), "heap_summaries");
      if (summaries != NULL && json_array_get_length (summaries) > 0)
        break;
      if (g_get_monotonic_time () > deadline)
        g_error ("history --json listed no heap summary within 30 s");
      g_usleep (500000);
    }
  g_assert_nonnull (json_type (json_array_get_object_element (summaries, 0),
                               "__main__.HeapMarker"));
  g_assert_cmpint (CLI (fx, &history, "history", pid), ==, 0);
  assert_contains (history.out, (const char *const[]){ "Heap summaries", "OBJECTS", "EXPLAINED",
                                                       "UNEXPLAINED", NULL });
}

static void
test_not_attached (Fixture *fx, gconstpointer data)
{
  g_auto(PymemdTestRun) run = { 0 };
  g_auto(PymemdTestRun) json = { 0 };
  g_autofree char *pid = NULL;
  g_autofree char *expected = NULL;

  if (fx->skipped)
    return;
  pid = g_strdup_printf ("%d", fx->child.pid);
  expected = g_strdup_printf ("pymemctl: No helper runs in process %d; add --attach to bring it "
                              "in (needs ownership or the org.pymemd.attach authorization)\n",
                              fx->child.pid);
  g_assert_cmpint (CLI (fx, &run, "heap", pid), ==, 1);
  g_assert_cmpstr (run.out, ==, "");
  g_assert_cmpstr (run.err, ==, expected);
  g_assert_cmpint (CLI (fx, &json, "heap", pid, "--json", "--trace", "1"), ==, 1);
  g_assert_cmpstr (json.out, ==, "");
  g_assert_cmpstr (json.err, ==, expected);
}

static void
test_attach (Fixture *fx, gconstpointer data)
{
  g_auto(PymemdTestRun) attach = { 0 };
  g_auto(PymemdTestRun) again = { 0 };
  g_autofree char *pid = NULL;
  g_autoptr(JsonNode) root = NULL;
  JsonObject *object;

  if (fx->skipped)
    return;
  pid = g_strdup_printf ("%d", fx->child.pid);
  g_assert_cmpint (CLI (fx, &attach, "heap", pid, "--attach", "--json"), ==, 0);
  g_assert_cmpstr (attach.err, ==, "");
  root = pymemd_test_parse_json (attach.out);
  object = json_node_get_object (root);
  g_assert_cmpstr (json_object_get_string_member (object, "helper"), ==, "attach");
  g_assert_true (json_object_has_member (object, "attached_by"));
  g_assert_true (json_object_has_member (object, "attach_seconds"));
  g_assert_nonnull (json_object_get_object_member (object, "census"));

  /* The helper stays: no --attach needed any more. */
  g_assert_cmpint (CLI (fx, &again, "heap", pid), ==, 0);
  assert_contains (again.out, (const char *const[]){ "Helper: brought in by pymemd earlier\n",
                                                     "Heap pages", NULL });
}

/* Another user's process: a one-line refusal, exit 1. */
static void
test_denied (Fixture *fx, gconstpointer data)
{
  g_auto(PymemdTestRun) run = { 0 };
  g_autofree char *pid = NULL;
  g_autofree char *prefix = NULL;

  if (fx->skipped)
    return;
  if (pymemd_test_setpriv () == NULL || getpwnam ("nobody") == NULL)
    {
      g_test_skip ("needs setpriv and the user nobody");
      return;
    }
  /* nobody must reach the bus socket in the service's directory. */
  g_assert_cmpint (chmod (fx->service.tmp, 0755), ==, 0);
  pid = g_strdup_printf ("%d", fx->child.pid);
  prefix = g_strdup_printf ("pymemctl: Not allowed to look into process %d: ", fx->child.pid);
  assert_one_line_error (&run, CLI_AS_NOBODY (fx, &run, "heap", pid, "--attach"));
  g_assert_true (g_str_has_prefix (run.err, prefix));
}

/* plain_code, non-dumpable from its start (prctl (PR_SET_DUMPABLE, 0)). */
static const char undumpable_code[] =
  "import ctypes, time\n"
  "ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)\n"
  "print('ready', flush=True)\n"
  "while True:\n"
  "    time.sleep(3600)\n";

/* Issue 11 (4): nobody may neither read the smaps of these two nor ptrace
 * them, so pymemd does not look into them for nobody either (it would run
 * gc.collect () in a process of root's effective uid): refused, and no
 * helper comes in. */
static void
test_denied_not_owner (Fixture *fx, gconstpointer data)
{
  const char *const as_nobody[] = { pymemd_test_setpriv (), "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                    NULL };
  /* The real uid alone: euid 0 at exec, as a set-user-ID root program that
   * execs python3 leaves it, and so not dumpable. */
  const char *const real_uid_only[] = { pymemd_test_setpriv (), "--ruid=nobody", NULL };
  PymemdTestChild setuid_like;
  GPid pids[2];
  g_autoptr(GError) error = NULL;

  if (!service_setup (fx))
    return;
  if (!have_helper () || pymemd_test_setpriv () == NULL || getpwnam ("nobody") == NULL)
    {
      g_test_skip ("needs the helper, setpriv and the user nobody");
      return;
    }
  /* nobody must reach the bus socket in the service's directory. */
  g_assert_cmpint (chmod (fx->service.tmp, 0755), ==, 0);
  g_assert_true (pymemd_test_child_spawn_python_via (&fx->child, as_nobody, NULL, undumpable_code, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (pymemd_test_child_spawn_python_via (&setuid_like, real_uid_only, NULL, plain_code, NULL, &error));
  g_assert_no_error (error);
  pids[0] = fx->child.pid;
  pids[1] = setuid_like.pid;
  for (guint i = 0; i < G_N_ELEMENTS (pids); i++)
    {
      g_auto(PymemdTestRun) run = { 0 };
      g_autofree char *pid = g_strdup_printf ("%d", pids[i]);
      g_autofree char *prefix = g_strdup_printf ("pymemctl: Not allowed to look into process %d: ", pids[i]);
      g_autoptr(GVariant) reply = NULL;
      g_autofree char *remote = NULL;

      pymemd_test_service_wait_pid (&fx->service, pids[i]);
      assert_one_line_error (&run, CLI_AS_NOBODY (fx, &run, "heap", pid, "--attach", "--collect"));
      g_assert_true (g_str_has_prefix (run.err, prefix));
      /* Root asks without --attach: no helper was brought in. */
      reply = call_manager (fx, "GetHeapSummary",
                            g_variant_new ("(ut@a{sv})", (guint32) pids[i], (guint64) 0, g_variant_new ("a{sv}", NULL)),
                            "(a{sv})", &error);
      g_assert_null (reply);
      remote = g_dbus_error_get_remote_error (error);
      g_assert_cmpstr (remote, ==, "org.pymemd.Error.NotAttached");
      g_clear_error (&error);
    }
  pymemd_test_child_stop (&setuid_like);
}

/* ---- what a hostile helper says ---- */

/* A helper of its own making: it says hello as the real one does, answers
 * the first request with tests/data/heap/summary.json, and every later one
 * with that summary's member argv[3] (a path: "census.types.0.type") set
 * to the JSON text argv[4], or with an error whose message is argv[4] when
 * argv[3] is "@error". The daemon closes the connection after such an
 * answer: it connects again at once. */
static const char hostile_code[] =
  "import json, os, socket, sys, time\n"
  "path, fixture, where, raw = sys.argv[1:5]\n"
  "base = json.load(open(fixture))\n"
  "with open('/proc/self/stat') as f:\n"
  "    start_time = int(f.read().rsplit(')', 1)[1].split()[19])\n"
  "def send(sock, text):\n"
  "    data = text.encode()\n"
  "    sock.sendall(len(data).to_bytes(4, 'big') + data)\n"
  "def exactly(sock, n):\n"
  "    data = b''\n"
  "    while len(data) < n:\n"
  "        chunk = sock.recv(n - len(data))\n"
  "        if not chunk:\n"
  "            return None\n"
  "        data += chunk\n"
  "    return data\n"
  "def answer(request_id, hostile):\n"
  "    if not hostile:\n"
  "        return json.dumps({'v': 1, 'type': 'summary', 'id': request_id, 'summary': base})\n"
  "    if where == '@error':\n"
  "        return '{\"v\": 1, \"type\": \"error\", \"id\": %d, \"message\": %s}' % (request_id, raw)\n"
  "    summary = json.loads(json.dumps(base))\n"
  "    parts = where.split('.')\n"
  "    node = summary\n"
  "    for part in parts[:-1]:\n"
  "        node = node[int(part)] if part.isdigit() else node[part]\n"
  "    last = parts[-1]\n"
  "    node[int(last) if last.isdigit() else last] = '@RAW@'\n"
  "    message = {'v': 1, 'type': 'summary', 'id': request_id, 'summary': summary}\n"
  "    return json.dumps(message).replace('\"@RAW@\"', raw)\n"
  "print('ready', flush=True)\n"
  "answered = False\n"
  "while True:\n"
  "    sock = socket.socket(socket.AF_UNIX)\n"
  "    try:\n"
  "        sock.connect(path)\n"
  "    except OSError:\n"
  "        time.sleep(0.05)\n"
  "        continue\n"
  "    send(sock, json.dumps({'v': 1, 'type': 'hello', 'pid': os.getpid(), 'start_time': start_time,\n"
  "                           'nonce': None, 'python': '3.11.2', 'implementation': 'cpython',\n"
  "                           'how': 'import'}))\n"
  "    while True:\n"
  "        head = exactly(sock, 4)\n"
  "        body = head and exactly(sock, int.from_bytes(head, 'big'))\n"
  "        if not body:\n"
  "            break\n"
  "        request = json.loads(body)\n"
  "        send(sock, answer(request['id'], answered))\n"
  "        answered = True\n"
  "    sock.close()\n";

/* No control character in TEXT but the newlines that end its lines. */
static void
assert_printable (const char *what, const char *text)
{
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char_validated (p, -1);

      if (c == (gunichar) -1 || c == (gunichar) -2 || (c != '\n' && g_unichar_iscntrl (c)))
        g_error ("%s holds U+%04X at byte %d:\n%s", what, c, (int) (p - text), text);
    }
}

/* Runs pymemctl ARGS… (NULL-terminated) until the helper is connected
 * again (the daemon closed its last connection): its exit code. */
static int
run_connected (Fixture *fx, PymemdTestRun *run, const char *const *args)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  for (;;)
    {
      int code = run_cli (run, FALSE, args);

      if (code != 1 || strstr (run->err, "No helper runs in process") == NULL)
        return code;
      if (g_get_monotonic_time () > deadline)
        g_error ("the hostile helper did not connect again within 30 s");
      pymemd_test_run_clear (run);
      g_usleep (100000);
    }
}

/* A string with an escape sequence, a number out of any interpreter's
 * range, an error message with one: the daemon refuses the answer (nothing
 * is kept), and pymemctl says so on one printable line, in --json too
 * (nothing on stdout). test-heap-summary tries every member and bound:
 * here each kind once, as ten cost 85 s under valgrind. */
static void
test_hostile_helper (Fixture *fx, gconstpointer data)
{
  static const struct {
    const char *where;
    const char *value; /* JSON text */
  } answers[] = {
    { "python", "\"3.11\\u001b[5m\"" },
    { "duration", "1e308" },
    { "@error", "\"boom\\u001b[5m\"" },
  };
  g_autofree char *socket = NULL, *fixture = NULL;

  if (fx->skipped)
    return;
  socket = g_build_filename (fx->service.runtime_dir, "helper.sock", NULL);
  fixture = pymemd_test_data_path ("heap/summary.json");
  for (guint i = 0; i < G_N_ELEMENTS (answers); i++)
    {
      const char *argv[] = { pymemd_test_python (), "-c", hostile_code, socket, fixture, answers[i].where,
                             answers[i].value, NULL };
      g_auto(PymemdTestRun) text = { 0 };
      g_auto(PymemdTestRun) json = { 0 };
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) kept = NULL;
      g_autoptr(GVariant) summaries = NULL;
      g_autofree char *pid = NULL;

      g_test_message ("a helper answering %s = %s", answers[i].where, answers[i].value);
      g_assert_true (pymemd_test_child_spawn (&fx->child, argv, NULL, &error));
      g_assert_no_error (error);
      pid = g_strdup_printf ("%d", fx->child.pid);
      pymemd_test_service_wait_pid (&fx->service, fx->child.pid);
      /* Its first answer is the fixture: the daemon takes it. */
      wait_helper (fx);

      assert_one_line_error (&text, run_connected (fx, &text, (const char *const[]){
                                                     "--address", fx->service.address, "heap", pid, NULL }));
      assert_printable ("pymemctl heap's stderr", text.err);
      if (strstr (text.err, "answered wrongly") == NULL && strstr (text.err, "broke the protocol") == NULL &&
          strstr (text.err, "control character") == NULL)
        g_error ("pymemctl heap said: %s", text.err);
      g_assert_cmpint (run_connected (fx, &json, (const char *const[]){
                                        "--address", fx->service.address, "--json", "heap", pid, NULL }),
                       ==, 1);
      g_assert_cmpstr (json.out, ==, "");
      assert_printable ("pymemctl --json heap's stderr", json.err);

      /* Only the fixture may have been kept. */
      kept = call_manager (fx, "GetHeapSummaries",
                           g_variant_new ("(utxx)", (guint32) fx->child.pid, (guint64) 0, (gint64) 0, (gint64) 0),
                           "(aa{sv})", &error);
      g_assert_no_error (error);
      summaries = g_variant_get_child_value (kept, 0);
      for (gsize j = 0; j < g_variant_n_children (summaries); j++)
        {
          g_autoptr(GVariant) summary = g_variant_get_child_value (summaries, j);
          const char *python = NULL;

          g_assert_true (g_variant_lookup (summary, "python", "&s", &python));
          g_assert_cmpstr (python, ==, "3.11.2");
        }
      pymemd_test_child_stop (&fx->child);
    }
}

/* ---- what pymemctl makes of a summary it cannot trust ---- */

/* A reply no pymemd sends (it refuses such helpers), as one from another
 * version or another daemon on the bus could be: escape sequences in its
 * strings, numbers json-glib would write as no JSON. */
static GVariant *
untrusted_summary (void)
{
  GVariantDict summary, census, tracemalloc, collect;
  GVariantBuilder types, sites;

  g_variant_builder_init (&types, G_VARIANT_TYPE ("a(stt)"));
  g_variant_builder_add (&types, "(stt)", "evil\033]0;owned\007", (guint64) 1, (guint64) 64);
  g_variant_dict_init (&census, NULL);
  g_variant_dict_insert (&census, "objects", "t", (guint64) 1);
  g_variant_dict_insert (&census, "bytes", "t", (guint64) 64);
  g_variant_dict_insert_value (&census, "types", g_variant_builder_end (&types));
  g_variant_builder_init (&sites, G_VARIANT_TYPE ("a(sutt)"));
  g_variant_builder_add (&sites, "(sutt)", "a\nb\302\2332J.py", 7, (guint64) 1, (guint64) 32);
  g_variant_dict_init (&tracemalloc, NULL);
  g_variant_dict_insert (&tracemalloc, "tracing", "b", TRUE);
  g_variant_dict_insert (&tracemalloc, "frames", "u", 1);
  g_variant_dict_insert_value (&tracemalloc, "sites", g_variant_builder_end (&sites));
  g_variant_dict_init (&collect, NULL);
  g_variant_dict_insert (&collect, "freed", "t", (guint64) 1);
  g_variant_dict_insert (&collect, "duration", "d", INFINITY);
  g_variant_dict_insert (&collect, "garbage", "t", (guint64) 0);
  g_variant_dict_init (&summary, NULL);
  g_variant_dict_insert (&summary, "python", "s", "3.11\033[5m");
  g_variant_dict_insert (&summary, "implementation", "s", "cpython\302\2332J");
  g_variant_dict_insert (&summary, "taken_at", "x", g_get_real_time ());
  g_variant_dict_insert (&summary, "duration", "d", 1e308);
  g_variant_dict_insert (&summary, "gil_max_hold", "d", 1e-08);
  g_variant_dict_insert (&summary, "complete", "b", TRUE);
  g_variant_dict_insert (&summary, "helper", "s", "import\033[2J");
  g_variant_dict_insert (&summary, "attached_by", "s", "pending-call\033[2J");
  g_variant_dict_insert (&summary, "attach_seconds", "d", NAN);
  g_variant_dict_insert_value (&summary, "census", g_variant_dict_end (&census));
  g_variant_dict_insert_value (&summary, "tracemalloc", g_variant_dict_end (&tracemalloc));
  g_variant_dict_insert_value (&summary, "collect", g_variant_dict_end (&collect));
  return g_variant_dict_end (&summary);
}

static gboolean
on_get_heap_summary (PymemdDbusMonitor1 *manager, GDBusMethodInvocation *invocation, guint pid,
                     guint64 start_time, GVariant *options, gpointer data)
{
  pymemd_dbus_monitor1_complete_get_heap_summary (manager, invocation, untrusted_summary ());
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
on_name_acquired (GDBusConnection *connection, const char *name, gpointer data)
{
  *(gboolean *) data = TRUE;
}

typedef struct {
  PymemdTestRun *run;
  gboolean       done;
} AsyncRun;

static void
communicated (GObject *source, GAsyncResult *result, gpointer data)
{
  AsyncRun *async = data;
  g_autoptr(GError) error = NULL;

  g_assert_true (g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result, &async->run->out,
                                                       &async->run->err, &error));
  g_assert_no_error (error);
  async->run->status = g_subprocess_get_status (G_SUBPROCESS (source));
  async->done = TRUE;
}

/* pymemctl ARGS… while this program's main context serves the bus: its
 * exit code. */
static int
run_cli_serving (PymemdTestRun *run, const char *const *args)
{
  g_autoptr(GPtrArray) argv = pymemd_test_pymemctl_argv (FALSE, args);
  g_auto(GStrv) envp = pymemd_test_cli_environ ();
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  AsyncRun async = { run, FALSE };

  g_subprocess_launcher_set_environ (launcher, envp);
  process = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (process, NULL, NULL, communicated, &async);
  PYMEMD_TEST_WAIT_FOR (async.done, 120);
  g_test_message ("pymemctl -> status 0x%x\n%s%s", run->status, run->out, run->err);
  return WIFEXITED (run->status) ? WEXITSTATUS (run->status) : -1;
}

static void
test_untrusted_reply (void)
{
  PymemdDbusMonitor1 *manager;
  g_autoptr(GError) error = NULL;
  g_auto(PymemdTestRun) text = { 0 };
  g_auto(PymemdTestRun) json = { 0 };
  g_autoptr(JsonNode) root = NULL;
  PymemdTestService service;
  JsonObject *object, *collect;
  JsonArray *types, *sites;
  gboolean acquired = FALSE;
  guint owner;

  if (g_getenv ("PYMEMCTL_BIN") == NULL)
    {
      g_test_skip ("PYMEMCTL_BIN is not set");
      return;
    }
  if (!pymemd_test_service_start_bus (&service))
    return;
  manager = pymemd_dbus_monitor1_skeleton_new ();
  g_signal_connect (manager, "handle-get-heap-summary", G_CALLBACK (on_get_heap_summary), NULL);
  g_assert_true (g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (manager), service.conn,
                                                   MANAGER_PATH, &error));
  g_assert_no_error (error);
  owner = g_bus_own_name_on_connection (service.conn, BUS_NAME, G_BUS_NAME_OWNER_FLAGS_NONE, on_name_acquired,
                                        NULL, &acquired, NULL);
  PYMEMD_TEST_WAIT_FOR (acquired, 30);

  /* For people: one line each, without the escape sequences. */
  g_assert_cmpint (run_cli_serving (&text, (const char *const[]){ "--address", service.address, "heap", "1",
                                                                   NULL }),
                   ==, 0);
  g_assert_cmpstr (text.err, ==, "");
  assert_printable ("pymemctl heap", text.out);
  assert_contains (text.out, (const char *const[]){ "Python 3.11 [5m (cpython 2J)\n",
                                                    "Helper: brought in just now pending-call [2J, in ?\n",
                                                    "\nevil ]0;owned ", "\na b 2J.py:7 ", NULL });

  /* As JSON: valid, the strings as they came (JSON escapes them), numbers
   * JSON can hold. */
  g_assert_cmpint (run_cli_serving (&json, (const char *const[]){ "--address", service.address, "--json",
                                                                   "heap", "1", NULL }),
                   ==, 0);
  g_assert_cmpstr (json.err, ==, "");
  assert_printable ("pymemctl --json heap", json.out);
  root = pymemd_test_parse_json (json.out);
  object = json_node_get_object (root);
  g_assert_cmpstr (json_object_get_string_member (object, "python"), ==, "3.11\033[5m");
  g_assert_cmpfloat (json_object_get_double_member (object, "duration"), >, 1e307);
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (object, "gil_max_hold"), 1e-08, 1e-20);
  g_assert_true (json_object_get_null_member (object, "attach_seconds"));
  collect = json_object_get_object_member (object, "collect");
  g_assert_true (json_object_get_null_member (collect, "duration"));
  types = json_object_get_array_member (json_object_get_object_member (object, "census"), "types");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (types, 0), "type"), ==,
                   "evil\033]0;owned\007");
  sites = json_object_get_array_member (json_object_get_object_member (object, "tracemalloc"), "sites");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (sites, 0), "file"), ==,
                   "a\nb\302\2332J.py");

  g_bus_unown_name (owner);
  g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (manager));
  g_object_unref (manager);
  pymemd_test_service_stop (&service);
}

int
main (int argc, char **argv)
{
  g_autofree char *state_dir = NULL;
  const char *python_path;
  int status;

  g_test_init (&argc, &argv, NULL);
  /* Set before any thread exists; the daemons and the children inherit
   * them: the history store in a directory of this program's own, the
   * helper from the source tree. */
  state_dir = pymemd_test_mkdtemp ();
  helper_dir = g_test_build_filename (G_TEST_DIST, "..", "helper", NULL);
  g_setenv ("STATE_DIRECTORY", state_dir, TRUE);
  g_setenv ("PYMEMD_HELPER_DIR", helper_dir, TRUE);
  python_path = g_getenv ("PYTHONPATH");
  if (python_path != NULL && *python_path != '\0')
    {
      g_autofree char *joined = g_strconcat (helper_dir, ":", python_path, NULL);
      g_setenv ("PYTHONPATH", joined, TRUE);
    }
  else
    g_setenv ("PYTHONPATH", helper_dir, TRUE);

  g_test_add_func ("/pymemctl-heap/usage", test_usage);
  g_test_add_func ("/pymemctl-heap/help", test_help);
  g_test_add ("/pymemctl-heap/not-running", Fixture, NULL, fixture_setup_service,
              test_not_running, fixture_teardown);
  g_test_add ("/pymemctl-heap/json", Fixture, NULL, fixture_setup_helper, test_json,
              fixture_teardown);
  g_test_add ("/pymemctl-heap/human", Fixture, NULL, fixture_setup_helper, test_human,
              fixture_teardown);
  g_test_add ("/pymemctl-heap/collect-and-trace", Fixture, NULL, fixture_setup_helper,
              test_collect_and_trace, fixture_teardown);
  g_test_add ("/pymemctl-heap/retained", Fixture, NULL, fixture_setup_helper, test_retained,
              fixture_teardown);
  g_test_add ("/pymemctl-heap/show-and-history", Fixture, NULL, fixture_setup_helper,
              test_show_and_history, fixture_teardown);
  g_test_add ("/pymemctl-heap/not-attached", Fixture, NULL, fixture_setup_plain,
              test_not_attached, fixture_teardown);
  g_test_add ("/pymemctl-heap/attach", Fixture, NULL, fixture_setup_plain, test_attach,
              fixture_teardown);
  g_test_add ("/pymemctl-heap/denied", Fixture, NULL, fixture_setup_helper, test_denied,
              fixture_teardown);
  g_test_add ("/pymemctl-heap/denied-not-owner", Fixture, NULL, NULL, test_denied_not_owner, fixture_teardown);
  g_test_add ("/pymemctl-heap/hostile-helper", Fixture, NULL, fixture_setup_service, test_hostile_helper,
              fixture_teardown);
  g_test_add_func ("/pymemctl-heap/untrusted-reply", test_untrusted_reply);
  status = g_test_run ();
  pymemd_test_rm_rf (state_dir);
  return status;
}
