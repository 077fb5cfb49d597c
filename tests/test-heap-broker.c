/* Tests the heap broker directly, against a helper played by a Python script on the real socket: requests matched to answers, the one-analysis-per-user limit, and helper messages that break the protocol. */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "pymemd-config.h"
#include "pymemd-error.h"
#include "pymemd-heap-broker.h"
#include "pymemd-log.h"
#include "testutil.h"

/* A helper that says hello like the real one, then answers each request
 * as the next line on its stdin says, and prints the request it got (or
 * "closed" once the daemon closed the connection). */
static const char fake_helper[] =
  "import json, os, socket, struct, sys\n"
  "path = sys.argv[1]\n"
  "with open('/proc/self/stat') as f:\n"
  "    stat = f.read()\n"
  "start_time = int(stat[stat.rindex(')') + 2:].split()[19])\n"
  "s = socket.socket(socket.AF_UNIX)\n"
  "s.connect(path)\n"
  "def send(body):\n"
  "    if not isinstance(body, bytes):\n"
  "        body = json.dumps(body).encode()\n"
  "    s.sendall(struct.pack('>I', len(body)) + body)\n"
  "def read(n):\n"
  "    data = b''\n"
  "    while len(data) < n:\n"
  "        chunk = s.recv(n - len(data))\n"
  "        if not chunk:\n"
  "            return None\n"
  "        data += chunk\n"
  "    return data\n"
  "send({'v': 1, 'type': 'hello', 'pid': os.getpid(), 'start_time': start_time, 'nonce': None,\n"
  "      'python': '3.11.2', 'implementation': 'cpython', 'how': 'env'})\n"
  "print('ready', flush=True)\n"
  "for line in sys.stdin:\n"
  "    what = line.strip()\n"
  "    header = read(4)\n"
  "    body = read(struct.unpack('>I', header)[0]) if header else None\n"
  "    if body is None:\n"
  "        print('closed', flush=True)\n"
  "        continue\n"
  "    request = json.loads(body)\n"
  "    rid = request['id']\n"
  "    if what == 'error':\n"
  "        send({'v': 1, 'type': 'error', 'id': rid, 'message': 'no census today'})\n"
  "    elif what == 'wrong-id':\n"
  "        send({'v': 1, 'type': 'error', 'id': rid + 1, 'message': 'not yours'})\n"
  "    elif what == 'version':\n"
  "        send({'v': 2, 'type': 'error', 'id': rid, 'message': 'from the future'})\n"
  "    elif what == 'not-json':\n"
  "        send(b'{\"v\": 1, \"type\": ')\n"
  "    elif what == 'bad-summary':\n"
  "        send({'v': 1, 'type': 'summary', 'id': rid, 'summary': {'python': 3}})\n"
  "    print(json.dumps(request), flush=True)\n";

typedef struct {
  char             *runtime_dir;
  PymemdMonitor    *monitor;
  PymemdRecorder   *recorder;
  PymemdHeapBroker *broker;
  PymemdTestChild   helper;
  PymemdProcess    *process;
} Fixture;

static void
rescanned (GObject *source, GAsyncResult *result, gpointer data)
{
  gboolean *done = data;

  g_assert_true (pymemd_monitor_rescan_finish (PYMEMD_MONITOR (source), result, NULL));
  *done = TRUE;
}

/* A broker on F's monitor and recorder with the default limits. */
static PymemdHeapBroker *
new_broker (Fixture *f, const char *runtime_dir, const char *helper_dir)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdConfig) config = pymemd_config_new ();
  PymemdAttachLimits attach_limits;
  PymemdGraphLimits graph_limits;
  PymemdHeapBroker *broker;

  pymemd_config_get_attach_limits (config, &attach_limits);
  pymemd_config_get_graph_limits (config, &graph_limits);
  broker = pymemd_heap_broker_new (f->monitor, f->recorder, runtime_dir, helper_dir, &attach_limits, &graph_limits,
                                   &error);
  g_assert_no_error (error);
  return broker;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdProcfs) procfs = NULL;
  g_autoptr(PymemdConfig) config = pymemd_config_new ();
  g_autofree char *socket_path = NULL;
  PymemdHistorySettings settings;
  PymemdMonitorSettings monitor_settings;
  gboolean done = FALSE;

  memset (f, 0, sizeof *f);
  if (pymemd_test_python () == NULL)
    {
      g_test_skip ("needs python3");
      return;
    }
  f->runtime_dir = pymemd_test_mkdtemp ();
  procfs = pymemd_procfs_new ("/proc", &error);
  g_assert_no_error (error);
  /* Our own processes: the fake helper is one, and any user may run this. */
  pymemd_config_get_monitor (config, &monitor_settings);
  f->monitor = pymemd_monitor_new (procfs, &monitor_settings, (gint64) getuid (), &error);
  g_assert_no_error (error);
  pymemd_config_get_history (config, &settings);
  f->recorder = pymemd_recorder_new (NULL, &settings);
  f->broker = new_broker (f, f->runtime_dir, g_getenv ("PYMEMD_HELPER_DIR"));

  socket_path = g_build_filename (f->runtime_dir, "helper.sock", NULL);
  {
    const char *argv[] = { pymemd_test_python (), "-c", fake_helper, socket_path, NULL };
    g_assert_true (pymemd_test_child_spawn (&f->helper, argv, NULL, &error));
    g_assert_no_error (error);
  }
  pymemd_monitor_start (f->monitor);
  pymemd_monitor_rescan_async (f->monitor, rescanned, &done);
  PYMEMD_TEST_WAIT_FOR (done, 30);
  f->process = pymemd_monitor_find (f->monitor, (guint) f->helper.pid);
  g_assert_nonnull (f->process);
  g_object_ref (f->process);
  PYMEMD_TEST_WAIT_FOR (pymemd_helper_channel_has_helper (pymemd_heap_broker_get_channel (f->broker), f->helper.pid,
                                                          pymemd_process_get_start_time (f->process)),
                        30);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  if (f->runtime_dir == NULL)
    return;
  pymemd_test_child_stop (&f->helper);
  g_clear_object (&f->process);
  g_clear_object (&f->broker);
  g_clear_object (&f->recorder);
  g_clear_object (&f->monitor);
  /* Let the channel's sources go. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  pymemd_test_rm_rf (f->runtime_dir);
  g_free (f->runtime_dir);
}

typedef struct {
  gboolean  done;
  GVariant *summary;
  GError   *error;
} Answer;

static void
answer_clear (Answer *answer)
{
  g_clear_pointer (&answer->summary, g_variant_unref);
  g_clear_error (&answer->error);
  answer->done = FALSE;
}

static void
got_summary (GObject *source, GAsyncResult *result, gpointer data)
{
  Answer *answer = data;

  answer->summary = pymemd_heap_broker_get_summary_finish (PYMEMD_HEAP_BROKER (source), result, &answer->error);
  answer->done = TRUE;
}

/* Asks for a summary of the fake helper's process with HOLDERS as CALLER. */
static void
ask (Fixture *f, Answer *answer, guint holders, guint32 caller)
{
  PymemdHeapRequest request;

  pymemd_heap_request_init (&request);
  request.top = 7;
  pymemd_heap_broker_get_summary_async (f->broker, f->process, &request, FALSE, holders, caller, got_summary, answer);
}

/* Tells the fake helper how to answer the request it reads next, and
 * returns that request (parsed), or NULL when the daemon closed the
 * connection instead. */
static JsonObject *
helper_answers (Fixture *f, const char *how, JsonNode **node)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;

  pymemd_test_child_send (&f->helper, how);
  line = pymemd_test_child_read_line (&f->helper, &error);
  g_assert_no_error (error);
  g_strstrip (line);
  if (strcmp (line, "closed") == 0)
    return NULL;
  *node = pymemd_test_parse_json (line);
  return json_node_get_object (*node);
}

static void
wait_answer (Answer *answer)
{
  PYMEMD_TEST_WAIT_FOR (answer->done, 60);
}

static gboolean
has_helper (Fixture *f)
{
  return pymemd_helper_channel_has_helper (pymemd_heap_broker_get_channel (f->broker), f->helper.pid,
                                           pymemd_process_get_start_time (f->process));
}

/* A process without a helper, not asked to attach: refused at once. */
static void
test_not_attached (Fixture *f, gconstpointer data)
{
  PymemdTestChild other;
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdProcess) process = NULL;
  Answer answer = { 0 };
  PymemdHeapRequest request;
  gboolean done = FALSE;

  if (f->runtime_dir == NULL)
    return;
  g_assert_true (pymemd_test_child_spawn_python (&other, "print('ready', flush=True); import sys; sys.stdin.read()",
                                                 NULL, &error));
  g_assert_no_error (error);
  pymemd_monitor_rescan_async (f->monitor, rescanned, &done);
  PYMEMD_TEST_WAIT_FOR (done, 30);
  process = pymemd_monitor_find (f->monitor, (guint) other.pid);
  g_assert_nonnull (process);
  g_object_ref (process);
  pymemd_heap_request_init (&request);
  pymemd_heap_broker_get_summary_async (f->broker, process, &request, FALSE, 0, getuid (), got_summary, &answer);
  wait_answer (&answer);
  g_assert_error (answer.error, PYMEMD_ERROR, PYMEMD_ERROR_NOT_ATTACHED);
  answer_clear (&answer);
  pymemd_test_child_stop (&other);
}

/* The request carries what was asked; the helper's error answer to it
 * reaches the caller with the helper's message, and the helper stays. */
static void
test_answer_matched (Fixture *f, gconstpointer data)
{
  g_autoptr(JsonNode) node = NULL;
  JsonObject *request;
  Answer answer = { 0 };

  if (f->runtime_dir == NULL)
    return;
  ask (f, &answer, 0, getuid ());
  request = helper_answers (f, "error", &node);
  g_assert_nonnull (request);
  g_assert_cmpstr (json_object_get_string_member (request, "type"), ==, "request");
  g_assert_cmpint (json_object_get_int_member (request, "v"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (request, "top"), ==, 7);
  g_assert_cmpint (json_object_get_int_member (request, "id"), >=, 1);
  g_assert_false (json_object_has_member (request, "graph"));
  wait_answer (&answer);
  g_assert_null (answer.summary);
  g_assert_nonnull (answer.error);
  g_assert_nonnull (strstr (answer.error->message, "no census today"));
  g_assert_false (g_error_matches (answer.error, PYMEMD_ERROR, PYMEMD_ERROR_PROTOCOL));
  answer_clear (&answer);
  g_assert_true (has_helper (f));

  /* The next request has an id of its own. */
  {
    g_autoptr(JsonNode) node2 = NULL;
    gint64 first = json_object_get_int_member (request, "id");
    JsonObject *second;

    ask (f, &answer, 0, getuid ());
    second = helper_answers (f, "error", &node2);
    g_assert_nonnull (second);
    g_assert_cmpint (json_object_get_int_member (second, "id"), !=, first);
    wait_answer (&answer);
    g_assert_nonnull (strstr (answer.error->message, "no census today"));
    answer_clear (&answer);
  }
}

/* An answer that breaks the protocol fails the request with Protocol and
 * closes that helper's connection; the broker keeps serving. */
static void
test_bad_messages (Fixture *f, gconstpointer data)
{
  const char *how = data;
  g_autoptr(JsonNode) node = NULL;
  Answer answer = { 0 };

  if (f->runtime_dir == NULL)
    return;
  ask (f, &answer, 0, getuid ());
  g_assert_nonnull (helper_answers (f, how, &node));
  wait_answer (&answer);
  g_assert_null (answer.summary);
  g_assert_error (answer.error, PYMEMD_ERROR, PYMEMD_ERROR_PROTOCOL);
  answer_clear (&answer);
  PYMEMD_TEST_WAIT_FOR (!has_helper (f), 30);
  /* The fake helper sees its connection closed. */
  {
    g_autoptr(JsonNode) none = NULL;
    g_assert_null (helper_answers (f, "error", &none));
  }
  /* Asking again: no helper any more. */
  ask (f, &answer, 0, getuid ());
  wait_answer (&answer);
  g_assert_error (answer.error, PYMEMD_ERROR, PYMEMD_ERROR_NOT_ATTACHED);
  answer_clear (&answer);
}

/* Retained sizes: one analysis at a time per user. A second request of
 * the same user while the first is out is refused with LimitExceeded (the
 * helper never sees it); once the first is answered, the user may ask
 * again. The request for retained sizes announces the graph it takes. */
static void
test_analysis_limit (Fixture *f, gconstpointer data)
{
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(JsonNode) node2 = NULL;
  JsonObject *request;
  Answer first = { 0 }, second = { 0 }, third = { 0 };

  if (f->runtime_dir == NULL)
    return;
  ask (f, &first, 5, 4242);
  ask (f, &second, 5, 4242);
  wait_answer (&second);
  g_assert_error (second.error, PYMEMD_ERROR, PYMEMD_ERROR_LIMIT_EXCEEDED);
  /* Refused as that user's second, not for the limit of all users. */
  g_assert_nonnull (strstr (second.error->message, "user 4242"));
  g_assert_false (first.done);

  request = helper_answers (f, "error", &node);
  g_assert_nonnull (request);
  g_assert_true (json_object_has_member (request, "graph"));
  wait_answer (&first);
  g_assert_nonnull (strstr (first.error->message, "no census today"));

  ask (f, &third, 5, 4242);
  g_assert_nonnull (helper_answers (f, "error", &node2));
  wait_answer (&third);
  g_assert_nonnull (third.error);
  g_assert_false (g_error_matches (third.error, PYMEMD_ERROR, PYMEMD_ERROR_LIMIT_EXCEEDED));
  answer_clear (&first);
  answer_clear (&second);
  answer_clear (&third);
}

static guint refusals_logged;

/* Counts the entries about refused attaches, and lets GLib write them all. */
static GLogWriterOutput
count_refusals (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  for (gsize i = 0; i < n_fields; i++)
    if (strcmp (fields[i].key, "MESSAGE_ID") == 0 && fields[i].length < 0 &&
        strcmp (fields[i].value, PYMEMD_MESSAGE_ATTACH_REFUSED) == 0)
      refusals_logged++;
  return g_log_writer_default (level, fields, n_fields, user_data);
}

/* Attaches asked for again and again, each refused at once (the helper's
 * package is not there): each caller's refusals are answered, but only
 * the first 20 a minute of each uid that asked are logged. */
static void
test_refusals_logged (Fixture *f, gconstpointer data)
{
  g_autoptr(PymemdHeapBroker) broker = NULL;
  g_autofree char *runtime_dir = NULL;
  guint before = refusals_logged;

  if (f->runtime_dir == NULL)
    return;
  runtime_dir = pymemd_test_mkdtemp ();
  broker = new_broker (f, runtime_dir, "/nonexistent/pymemd-helper");
  for (guint i = 0; i < 31; i++)
    {
      Answer answer = { 0 };
      PymemdHeapRequest request;

      pymemd_heap_request_init (&request);
      pymemd_heap_broker_get_summary_async (broker, f->process, &request, TRUE, 0, i < 30 ? getuid () : 4242,
                                            got_summary, &answer);
      wait_answer (&answer);
      g_assert_nonnull (answer.error);
      answer_clear (&answer);
    }
  g_assert_cmpuint (refusals_logged - before, ==, 21);
  g_clear_object (&broker);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  pymemd_test_rm_rf (runtime_dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_writer_func (count_refusals, NULL, NULL);
  g_test_add ("/heap-broker/not-attached", Fixture, NULL, fixture_setup, test_not_attached, fixture_teardown);
  g_test_add ("/heap-broker/answer-matched", Fixture, NULL, fixture_setup, test_answer_matched, fixture_teardown);
  g_test_add ("/heap-broker/analysis-limit", Fixture, NULL, fixture_setup, test_analysis_limit, fixture_teardown);
  g_test_add ("/heap-broker/refusals-logged", Fixture, NULL, fixture_setup, test_refusals_logged,
              fixture_teardown);
  g_test_add ("/heap-broker/bad/wrong-id", Fixture, "wrong-id", fixture_setup, test_bad_messages, fixture_teardown);
  g_test_add ("/heap-broker/bad/version", Fixture, "version", fixture_setup, test_bad_messages, fixture_teardown);
  g_test_add ("/heap-broker/bad/not-json", Fixture, "not-json", fixture_setup, test_bad_messages, fixture_teardown);
  g_test_add ("/heap-broker/bad/summary", Fixture, "bad-summary", fixture_setup, test_bad_messages,
              fixture_teardown);
  return g_test_run ();
}
