/* Tests the helper channel against fake helpers in this process: hello and requests, waits, timeouts, and every way a peer can break the protocol. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "pymemd-error.h"
#include "pymemd-helper-channel.h"
#include "pymemd-pidfiles.h"
#include "testutil.h"

#define NONCE "0123456789abcdef0123456789abcdef"

/* What the channel logged at level message: the rejections' reasons. */
static GPtrArray *logged;

static GLogWriterOutput
capture_log (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  if (level & G_LOG_LEVEL_MESSAGE)
    for (gsize i = 0; i < n_fields; i++)
      if (strcmp (fields[i].key, "MESSAGE") == 0)
        {
          g_ptr_array_add (logged, g_strdup (fields[i].value));
          return G_LOG_WRITER_HANDLED;
        }
  return g_log_writer_default (level, fields, n_fields, user_data);
}

typedef struct {
  char                *tmp;
  char                *path;
  PymemdHelperChannel *channel;
  gint32               pid;
  guint64              start_time;
  GPtrArray           *rejections; /* reasons */
  guint                connected;
  guint                disconnected;
  char                *last_how;
  char                *summary_json; /* tests/data/heap/summary.json */
  gboolean             others;       /* processes other than this one connect */
} Fixture;

/* The main context until COND holds, 20 s at most. */
#define WAIT_FOR(cond) PYMEMD_TEST_WAIT_FOR (cond, 20)

static void
on_connected (PymemdHelperChannel *channel, int pid, guint64 start_time, const char *how,
              Fixture *f)
{
  g_assert_true ((pid == f->pid && start_time == f->start_time) || f->others);
  f->connected++;
  g_free (f->last_how);
  f->last_how = g_strdup (how);
}

static void
on_disconnected (PymemdHelperChannel *channel, int pid, guint64 start_time, Fixture *f)
{
  g_assert_true ((pid == f->pid && start_time == f->start_time) || f->others);
  f->disconnected++;
}

static void
on_rejected (PymemdHelperChannel *channel, int pid, const char *reason, Fixture *f)
{
  g_assert_true (pid == f->pid || pid == 0 || f->others);
  g_ptr_array_add (f->rejections, g_strdup (reason));
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *json_path = pymemd_test_data_path ("heap/summary.json");

  f->tmp = g_dir_make_tmp ("pymemd-channel-XXXXXX", &error);
  g_assert_no_error (error);
  f->path = g_build_filename (f->tmp, "helper.sock", NULL);
  f->channel = pymemd_helper_channel_new (f->path, "/proc", &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->channel);
  f->pid = getpid ();
  f->start_time = pymemd_test_start_time (getpid ());
  f->rejections = g_ptr_array_new_with_free_func (g_free);
  g_signal_connect (f->channel, "helper-connected", G_CALLBACK (on_connected), f);
  g_signal_connect (f->channel, "helper-disconnected", G_CALLBACK (on_disconnected), f);
  g_signal_connect (f->channel, "rejected", G_CALLBACK (on_rejected), f);
  g_assert_true (g_file_get_contents (json_path, &f->summary_json, NULL, &error));
  g_ptr_array_set_size (logged, 0);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->channel);
  /* Callbacks of closed connections' reads still have to run. */
  pymemd_test_iterate_for (0.05);
  g_assert_false (g_file_test (f->path, G_FILE_TEST_EXISTS)); /* unlinked */
  pymemd_test_rm_rf (f->tmp);
  g_free (f->tmp);
  g_free (f->path);
  g_free (f->last_how);
  g_free (f->summary_json);
  g_ptr_array_unref (f->rejections);
}

/* ------------------------------------------------------------ fake helper */

static int
fake_connect (Fixture *f)
{
  struct sockaddr_un sun = { .sun_family = AF_UNIX };
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  g_strlcpy (sun.sun_path, f->path, sizeof sun.sun_path);
  g_assert_cmpint (connect (fd, (struct sockaddr *) &sun, sizeof sun), ==, 0);
  return fd;
}

static void
fake_write (int fd, const void *data, gsize len)
{
  const char *p = data;

  while (len > 0)
    {
      ssize_t n = send (fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN) /* the channel reads on this thread */
        {
          if (!g_main_context_iteration (NULL, FALSE))
            g_usleep (500);
          continue;
        }
      if (n < 0) /* the channel may have closed us already */
        return;
      p += n;
      len -= (gsize) n;
    }
}

static void
fake_send_header (int fd, guint32 len)
{
  guint32 be = GUINT32_TO_BE (len);
  fake_write (fd, &be, sizeof be);
}

static void
fake_send (int fd, const char *json)
{
  fake_send_header (fd, (guint32) strlen (json));
  fake_write (fd, json, strlen (json));
}

static char *
hello_json (gint32 pid, guint64 start_time, const char *nonce, const char *how)
{
  g_autofree char *nonce_json = nonce != NULL ? g_strdup_printf ("\"%s\"", nonce)
                                              : g_strdup ("null");

  return g_strdup_printf ("{\"v\": 1, \"type\": \"hello\", \"pid\": %d, \"start_time\": %"
                          G_GUINT64_FORMAT ", \"nonce\": %s, \"python\": \"3.11.2\", "
                          "\"implementation\": \"cpython\", \"how\": \"%s\"}",
                          pid, start_time, nonce_json, how);
}

static void
fake_hello (Fixture *f, int fd, const char *nonce)
{
  g_autofree char *hello = hello_json (f->pid, f->start_time, nonce, "env");
  fake_send (fd, hello);
}

/* Connects and says hello; waits until the channel believes it. */
static int
fake_helper (Fixture *f, const char *nonce)
{
  int fd = fake_connect (f);
  guint connected = f->connected;

  fake_hello (f, fd, nonce);
  WAIT_FOR (f->connected > connected);
  g_assert_true (pymemd_helper_channel_has_helper (f->channel, f->pid, f->start_time));
  return fd;
}

static gboolean
fd_readable (int fd)
{
  struct pollfd pfd = { .fd = fd, .events = POLLIN };
  return poll (&pfd, 1, 0) > 0;
}

/* Reads LEN bytes the channel sends, running it meanwhile. */
static void
fake_read (int fd, void *buf, gsize len)
{
  char *p = buf;

  while (len > 0)
    {
      ssize_t n;

      WAIT_FOR (fd_readable (fd));
      n = recv (fd, p, len, MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EINTR))
        continue;
      g_assert_cmpint (n, >, 0);
      p += n;
      len -= (gsize) n;
    }
}

/* The next request the channel sends, parsed; its id in ID. */
static JsonObject *
fake_read_request (int fd, gint64 *id)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *body = NULL;
  guint32 len;
  JsonObject *request;

  fake_read (fd, &len, sizeof len);
  len = GUINT32_FROM_BE (len);
  g_assert_cmpuint (len, >, 0);
  g_assert_cmpuint (len, <=, 4096);
  body = g_malloc (len);
  fake_read (fd, body, len);
  g_assert_true (json_parser_load_from_data (parser, body, len, &error));
  g_assert_no_error (error);
  request = json_node_dup_object (json_parser_get_root (parser));
  g_assert_cmpint (json_object_get_int_member (request, "v"), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (request, "type"), ==, "request");
  *id = json_object_get_int_member (request, "id");
  g_assert_cmpint (*id, >=, 1);
  return request;
}

static void
fake_answer (Fixture *f, int fd, gint64 id)
{
  g_autofree char *answer = g_strdup_printf ("{\"v\": 1, \"type\": \"summary\", \"id\": %"
                                             G_GINT64_FORMAT ", \"summary\": %s}", id,
                                             f->summary_json);
  fake_send (fd, answer);
}

static void
fake_wait_closed (int fd)
{
  WAIT_FOR (pymemd_test_socket_closed (fd));
  close (fd);
}

/* ------------------------------------------------------------- requests */

typedef struct {
  gboolean           done;
  PymemdHeapSummary *summary;
  GError            *error;
} Result;

static void
result_clear (Result *result)
{
  g_clear_pointer (&result->summary, pymemd_heap_summary_free);
  g_clear_error (&result->error);
  result->done = FALSE;
}

static void
request_done (GObject *source, GAsyncResult *res, gpointer data)
{
  Result *result = data;

  g_assert_false (result->done);
  result->summary = pymemd_helper_channel_request_finish (PYMEMD_HELPER_CHANNEL (source), res,
                                                          &result->error);
  g_assert_true ((result->summary == NULL) != (result->error == NULL));
  result->done = TRUE;
}

static void
wait_done (GObject *source, GAsyncResult *res, gpointer data)
{
  Result *result = data;

  g_assert_false (result->done);
  if (!pymemd_helper_channel_wait_finish (PYMEMD_HELPER_CHANNEL (source), res, &result->error))
    g_assert_nonnull (result->error);
  result->done = TRUE;
}

static void
start_request (Fixture *f, double timeout, GCancellable *cancellable, Result *result)
{
  PymemdHeapRequest request;

  pymemd_heap_request_init (&request);
  pymemd_helper_channel_request_async (f->channel, f->pid, f->start_time, &request, timeout,
                                       cancellable, request_done, result);
}

/* A request FD answers: the summary arrives validated. */
static void
request_round_trip (Fixture *f, int fd)
{
  Result result = { 0 };
  g_autoptr(JsonObject) request = NULL;
  gint64 id;

  start_request (f, 10, NULL, &result);
  request = fake_read_request (fd, &id);
  fake_answer (f, fd, id);
  WAIT_FOR (result.done);
  g_assert_no_error (result.error);
  g_assert_cmpuint (result.summary->census_objects, ==, 812345);
  g_assert_true (result.summary->has_pymalloc);
  result_clear (&result);
}

/* The channel still serves a well-behaved helper (after a rejection). */
static void
assert_still_serving (Fixture *f)
{
  int fd = fake_helper (f, NULL);

  request_round_trip (f, fd);
  close (fd);
  WAIT_FOR (!pymemd_helper_channel_has_helper (f->channel, f->pid, f->start_time));
}

/* The latest rejection is for WORD, and was logged with our pid. */
static void
assert_rejected (Fixture *f, guint count, const char *word)
{
  g_autofree char *pid_text = g_strdup_printf ("%d", f->pid);
  const char *reason, *line;

  WAIT_FOR (f->rejections->len >= count);
  g_assert_cmpuint (f->rejections->len, ==, count);
  reason = g_ptr_array_index (f->rejections, count - 1);
  if (strstr (reason, word) == NULL)
    g_error ("rejection “%s” does not mention “%s”", reason, word);
  g_assert_cmpuint (logged->len, >, 0);
  line = g_ptr_array_index (logged, logged->len - 1);
  g_assert_nonnull (strstr (line, reason));
  g_assert_nonnull (strstr (line, pid_text));
}

static void
set_read_timeout (Fixture *f, double seconds)
{
  PymemdHelperLimits limits;

  pymemd_helper_limits_init (&limits);
  limits.read_timeout = seconds;
  pymemd_helper_channel_set_limits (f->channel, &limits);
}

/* ----------------------------------------------------------------- tests */

static void
test_hello_and_request (Fixture *f, gconstpointer data)
{
  Result result = { 0 };
  g_autoptr(JsonObject) request = NULL;
  PymemdHeapRequest options;
  struct stat st;
  gint64 id, first_id;
  int fd;

  g_assert_cmpstr (pymemd_helper_channel_get_path (f->channel), ==, f->path);
  g_assert_cmpint (stat (f->path, &st), ==, 0);
  g_assert_true (S_ISSOCK (st.st_mode));
  g_assert_cmpint (st.st_mode & 0777, ==, 0666);

  g_assert_false (pymemd_helper_channel_has_helper (f->channel, f->pid, f->start_time));
  fd = fake_helper (f, NULL);
  g_assert_cmpstr (f->last_how, ==, "env");
  g_assert_false (pymemd_helper_channel_has_helper (f->channel, f->pid, f->start_time + 1));

  /* The request carries the caller's options. */
  pymemd_heap_request_init (&options);
  options.top = 7;
  options.sites = 3;
  options.trace = 5;
  options.collect = TRUE;
  options.budget = 0.5;
  pymemd_helper_channel_request_async (f->channel, f->pid, f->start_time, &options, 10, NULL,
                                       request_done, &result);
  request = fake_read_request (fd, &first_id);
  g_assert_cmpint (json_object_get_int_member (request, "top"), ==, 7);
  g_assert_cmpint (json_object_get_int_member (request, "sites"), ==, 3);
  g_assert_cmpint (json_object_get_int_member (request, "trace"), ==, 5);
  g_assert_true (json_object_get_boolean_member (request, "collect"));
  g_assert_cmpfloat (json_object_get_double_member (request, "budget"), ==, 0.5);
  fake_answer (f, fd, first_id);
  WAIT_FOR (result.done);
  g_assert_no_error (result.error);
  g_assert_cmpint (result.summary->taken_at_us, ==, G_GINT64_CONSTANT (1764100000250000));
  g_assert_cmpuint (result.summary->pymalloc_allocated_bytes, ==, 22957568);
  result_clear (&result);

  /* The next request has another id; the defaults are documented. */
  start_request (f, 10, NULL, &result);
  g_clear_pointer (&request, json_object_unref);
  request = fake_read_request (fd, &id);
  g_assert_cmpint (id, !=, first_id);
  g_assert_cmpint (json_object_get_int_member (request, "top"), ==, 20);
  g_assert_cmpint (json_object_get_int_member (request, "sites"), ==, 10);
  g_assert_cmpint (json_object_get_int_member (request, "trace"), ==, -1);
  g_assert_false (json_object_get_boolean_member (request, "collect"));
  g_assert_cmpfloat (json_object_get_double_member (request, "budget"), ==, 5.0);
  fake_answer (f, fd, id);
  WAIT_FOR (result.done);
  g_assert_no_error (result.error);
  result_clear (&result);

  /* A wait for a helper that is there completes at once. */
  pymemd_helper_channel_wait_async (f->channel, f->pid, f->start_time, NULL, 10, NULL, wait_done,
                                    &result);
  WAIT_FOR (result.done);
  g_assert_no_error (result.error);
  result_clear (&result);

  close (fd);
  WAIT_FOR (f->disconnected == 1);
  g_assert_false (pymemd_helper_channel_has_helper (f->channel, f->pid, f->start_time));
  start_request (f, 10, NULL, &result);
  WAIT_FOR (result.done);
  g_assert_error (result.error, PYMEMD_ERROR, PYMEMD_ERROR_NOT_ATTACHED);
  result_clear (&result);
  g_assert_cmpuint (f->rejections->len, ==, 0);
}

static void
test_wait_nonce (Fixture *f, gconstpointer data)
{
  Result waited = { 0 }, other = { 0 }, cancelled = { 0 }, request = { 0 };
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  int first, second;

  /* A helper without the nonce does not end the wait... */
  pymemd_helper_channel_wait_async (f->channel, f->pid, f->start_time, NONCE, 20, NULL, wait_done,
                                    &waited);
  first = fake_helper (f, NULL);
  start_request (f, 20, NULL, &request); /* outstanding on the first connection */
  pymemd_test_iterate_for (0.1);
  g_assert_false (waited.done);

  /* ... one with it does, replacing the first connection, whose request fails. */
  second = fake_connect (f);
  {
    g_autofree char *hello = hello_json (f->pid, f->start_time, NONCE, "attach");
    fake_send (second, hello);
  }
  WAIT_FOR (waited.done);
  g_assert_no_error (waited.error);
  g_assert_cmpstr (f->last_how, ==, "attach");
  g_assert_cmpuint (f->connected, ==, 2);
  WAIT_FOR (request.done);
  g_assert_error (request.error, PYMEMD_ERROR, PYMEMD_ERROR_NOT_ATTACHED);
  fake_wait_closed (first);
  g_assert_cmpuint (f->disconnected, ==, 0); /* the process's helper is still there */
  g_assert_true (pymemd_helper_channel_has_helper (f->channel, f->pid, f->start_time));
  request_round_trip (f, second);

  /* Another nonce, or another process, times out; a cancelled wait ends. */
  pymemd_helper_channel_wait_async (f->channel, f->pid, f->start_time,
                                    "ffffffffffffffffffffffffffffffff", 0.1, NULL, wait_done,
                                    &other);
  WAIT_FOR (other.done);
  g_assert_error (other.error, PYMEMD_ERROR, PYMEMD_ERROR_TIMED_OUT);
  pymemd_helper_channel_wait_async (f->channel, f->pid, f->start_time + 1, NULL, 20, cancellable,
                                    wait_done, &cancelled);
  pymemd_test_iterate_for (0.05);
  g_assert_false (cancelled.done);
  g_cancellable_cancel (cancellable);
  WAIT_FOR (cancelled.done);
  g_assert_error (cancelled.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  close (second);
  WAIT_FOR (f->disconnected == 1);
  result_clear (&waited);
  result_clear (&other);
  result_clear (&cancelled);
  result_clear (&request);
  g_assert_cmpuint (f->rejections->len, ==, 0);
}

static void
test_request_timeout (Fixture *f, gconstpointer data)
{
  Result result = { 0 };
  g_autoptr(JsonObject) request = NULL;
  gint64 id;
  int fd = fake_helper (f, NULL);

  start_request (f, 0.2, NULL, &result);
  request = fake_read_request (fd, &id);
  WAIT_FOR (result.done);
  g_assert_error (result.error, PYMEMD_ERROR, PYMEMD_ERROR_TIMED_OUT);
  result_clear (&result);
  fake_wait_closed (fd);
  g_assert_cmpuint (f->disconnected, ==, 1);
  g_assert_false (pymemd_helper_channel_has_helper (f->channel, f->pid, f->start_time));
  g_assert_cmpuint (f->rejections->len, ==, 0);
  assert_still_serving (f);
}

static void
test_request_cancel (Fixture *f, gconstpointer data)
{
  Result result = { 0 }, second = { 0 };
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GCancellable) cancelled = g_cancellable_new ();
  g_autoptr(JsonObject) request = NULL;
  gint64 id;
  int fd = fake_helper (f, NULL);

  /* Cancelled before it starts. */
  g_cancellable_cancel (cancelled);
  start_request (f, 10, cancelled, &result);
  WAIT_FOR (result.done);
  g_assert_error (result.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  result_clear (&result);

  /* Cancelled while the helper works: its answer is still due, and dropped. */
  start_request (f, 10, cancellable, &result);
  request = fake_read_request (fd, &id);
  g_cancellable_cancel (cancellable);
  WAIT_FOR (result.done);
  g_assert_error (result.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  result_clear (&result);
  start_request (f, 10, NULL, &second);
  WAIT_FOR (second.done);
  g_assert_error (second.error, PYMEMD_ERROR, PYMEMD_ERROR_LIMIT_EXCEEDED);
  result_clear (&second);
  fake_answer (f, fd, id);
  pymemd_test_iterate_for (0.1);
  g_assert_true (pymemd_helper_channel_has_helper (f->channel, f->pid, f->start_time));
  g_assert_false (pymemd_test_socket_closed (fd));
  request_round_trip (f, fd);
  g_assert_cmpuint (f->rejections->len, ==, 0);
  close (fd);
}

static void
test_limit_and_error (Fixture *f, gconstpointer data)
{
  Result result = { 0 }, second = { 0 };
  g_autoptr(JsonObject) request = NULL;
  PymemdHeapRequest bad;
  gint64 id;
  int fd = fake_helper (f, NULL);

  start_request (f, 10, NULL, &result);
  start_request (f, 10, NULL, &second);
  WAIT_FOR (second.done);
  g_assert_error (second.error, PYMEMD_ERROR, PYMEMD_ERROR_LIMIT_EXCEEDED);
  result_clear (&second);
  g_assert_false (result.done);

  /* The helper's own error is the request's. */
  request = fake_read_request (fd, &id);
  {
    g_autofree char *answer = g_strdup_printf ("{\"v\": 1, \"type\": \"error\", \"id\": %"
                                               G_GINT64_FORMAT ", \"message\": "
                                               "\"tracemalloc is not available\"}", id);
    fake_send (fd, answer);
  }
  WAIT_FOR (result.done);
  g_assert_error (result.error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED);
  g_assert_cmpstr (result.error->message, ==, "tracemalloc is not available");
  result_clear (&result);

  /* Options out of range are the caller's mistake. */
  pymemd_heap_request_init (&bad);
  bad.top = 0;
  pymemd_helper_channel_request_async (f->channel, f->pid, f->start_time, &bad, 10, NULL,
                                       request_done, &result);
  WAIT_FOR (result.done);
  g_assert_error (result.error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS);
  result_clear (&result);
  pymemd_heap_request_init (&bad);
  bad.budget = 0.01;
  pymemd_helper_channel_request_async (f->channel, f->pid, f->start_time, &bad, 10, NULL,
                                       request_done, &result);
  WAIT_FOR (result.done);
  g_assert_error (result.error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS);
  result_clear (&result);

  request_round_trip (f, fd);
  g_assert_cmpuint (f->rejections->len, ==, 0);
  close (fd);
}

/* ------------------------------------------------------------ rejections */

/* One way to break the protocol: what the fake does on a fresh connection
 * FD (the channel then closes it), and a word of the reason. */
typedef struct {
  const char *name;
  void (*act) (Fixture *f, int fd);
  const char *reason;
} Breach;

static void
send_text (int fd, const char *body)
{
  fake_send (fd, body);
}

static void
act_truncated (Fixture *f, int fd)
{
  fake_send_header (fd, 100);
  fake_write (fd, "{\"v\": 1, ", 9);
  shutdown (fd, SHUT_WR);
}

static void
act_truncated_header (Fixture *f, int fd)
{
  fake_write (fd, "\0\0", 2);
  shutdown (fd, SHUT_WR);
}

static void
act_over_one_mib (Fixture *f, int fd)
{
  fake_send_header (fd, PYMEMD_HELPER_MAX_FRAME + 1);
}

static void
act_long_first_frame (Fixture *f, int fd)
{
  fake_send_header (fd, PYMEMD_HELPER_MAX_FIRST_FRAME + 1);
}

static void
act_huge_length (Fixture *f, int fd)
{
  fake_send_header (fd, 0xFFFFFFFFu);
}

static void
act_empty_frame (Fixture *f, int fd)
{
  fake_send_header (fd, 0);
}

static void
act_wrong_version (Fixture *f, int fd)
{
  send_text (fd, "{\"v\": 2, \"type\": \"hello\"}");
}

static void
act_version_string (Fixture *f, int fd)
{
  send_text (fd, "{\"v\": \"1\", \"type\": \"hello\"}");
}

static void
act_unknown_type (Fixture *f, int fd)
{
  send_text (fd, "{\"v\": 1, \"type\": \"goodbye\"}");
}

static void
act_array (Fixture *f, int fd)
{
  send_text (fd, "[1, 2, 3]");
}

static void
act_number (Fixture *f, int fd)
{
  send_text (fd, "42");
}

static void
act_blank (Fixture *f, int fd)
{
  send_text (fd, "   ");
}

static void
act_not_json (Fixture *f, int fd)
{
  send_text (fd, "{\"v\": 1, \"type\": hello}");
}

static void
act_invalid_utf8 (Fixture *f, int fd)
{
  send_text (fd, "{\"v\": 1, \"type\": \"hello\", \"python\": \"\xff\xfe\"}");
}

static void
act_nul_byte (Fixture *f, int fd)
{
  static const char body[] = "{\"v\": 1,\0 \"type\": \"hello\"}";

  fake_send_header (fd, sizeof body - 1);
  fake_write (fd, body, sizeof body - 1);
}

static void
act_deep_nesting (Fixture *f, int fd)
{
  gsize depth = PYMEMD_HELPER_MAX_FIRST_FRAME / 2;
  g_autofree char *body = g_malloc (2 * depth);

  memset (body, '[', depth);
  memset (body + depth, ']', depth);
  fake_send_header (fd, (guint32) (2 * depth));
  fake_write (fd, body, 2 * depth);
}

static void
act_wrong_pid (Fixture *f, int fd)
{
  g_autofree char *hello = hello_json (1, f->start_time, NULL, "env");
  fake_send (fd, hello);
}

static void
act_wrong_start_time (Fixture *f, int fd)
{
  g_autofree char *hello = hello_json (f->pid, f->start_time + 1, NULL, "env");
  fake_send (fd, hello);
}

static void
act_bad_nonce (Fixture *f, int fd)
{
  g_autofree char *hello = hello_json (f->pid, f->start_time, "0123456789ABCDEF0123456789ABCDEF",
                                       "env");
  fake_send (fd, hello);
}

static void
act_bad_how (Fixture *f, int fd)
{
  g_autofree char *hello = hello_json (f->pid, f->start_time, NULL, "ptrace");
  fake_send (fd, hello);
}

static void
act_pid_string (Fixture *f, int fd)
{
  g_autofree char *hello = g_strdup_printf ("{\"v\": 1, \"type\": \"hello\", \"pid\": \"%d\", "
                                            "\"start_time\": %" G_GUINT64_FORMAT ", \"nonce\": "
                                            "null, \"python\": \"3\", \"implementation\": \"c\", "
                                            "\"how\": \"env\"}", f->pid, f->start_time);
  fake_send (fd, hello);
}

/* A hello whose "python" is VERSION (the inside of a JSON string). */
static void
send_hello_python (Fixture *f, int fd, const char *version)
{
  g_autofree char *hello = g_strdup_printf ("{\"v\": 1, \"type\": \"hello\", \"pid\": %d, "
                                            "\"start_time\": %" G_GUINT64_FORMAT ", \"nonce\": "
                                            "null, \"python\": \"%s\", \"implementation\": \"c\", "
                                            "\"how\": \"env\"}", f->pid, f->start_time, version);
  fake_send (fd, hello);
}

static void
act_long_python (Fixture *f, int fd)
{
  g_autofree char *version = g_strnfill (65, '3');

  send_hello_python (f, fd, version);
}

/* What a helper says reaches terminals: no escape sequences. */
static void
act_escape_python (Fixture *f, int fd)
{
  send_hello_python (f, fd, "3.11\\u001b[5m");
}

static void
act_no_hello (Fixture *f, int fd)
{
  set_read_timeout (f, 0.2);
}

static void
act_eof_before_hello (Fixture *f, int fd)
{
  shutdown (fd, SHUT_WR);
}

static void
act_summary_first (Fixture *f, int fd)
{
  fake_answer (f, fd, 1);
}

static void
act_two_hellos (Fixture *f, int fd)
{
  fake_hello (f, fd, NULL);
  fake_hello (f, fd, NULL);
}

static void
act_unsolicited_summary (Fixture *f, int fd)
{
  fake_hello (f, fd, NULL);
  fake_answer (f, fd, 1);
}

static void
act_unsolicited_error (Fixture *f, int fd)
{
  fake_hello (f, fd, NULL);
  send_text (fd, "{\"v\": 1, \"type\": \"error\", \"id\": 1, \"message\": \"no\"}");
}

static const Breach breaches[] = {
  { "truncated-frame", act_truncated, "truncated frame" },
  { "truncated-header", act_truncated_header, "truncated frame header" },
  { "over-one-mib", act_over_one_mib, "1048577 bytes" },
  { "long-first-frame", act_long_first_frame, "first frame announces 16385 bytes" },
  { "huge-length", act_huge_length, "4294967295 bytes" },
  { "empty-frame", act_empty_frame, "of 0 bytes" },
  { "wrong-version", act_wrong_version, "version" },
  { "version-string", act_version_string, "version" },
  { "unknown-type", act_unknown_type, "unknown message type" },
  { "array", act_array, "not a JSON object" },
  { "number", act_number, "not a JSON object" },
  { "blank", act_blank, "not a JSON object" },
  { "not-json", act_not_json, "not JSON" },
  { "invalid-utf8", act_invalid_utf8, "not UTF-8" },
  { "nul-byte", act_nul_byte, "not UTF-8" },
  { "deep-nesting", act_deep_nesting, "nests deeper" },
  { "wrong-pid", act_wrong_pid, "claims pid 1" },
  { "wrong-start-time", act_wrong_start_time, "claims start time" },
  { "bad-nonce", act_bad_nonce, "nonce" },
  { "bad-how", act_bad_how, "how" },
  { "pid-string", act_pid_string, "pid" },
  { "long-python", act_long_python, "python" },
  { "escape-in-python", act_escape_python, "without control characters" },
  { "no-hello", act_no_hello, "no hello within 0.2 s" },
  { "eof-before-hello", act_eof_before_hello, "ended before a hello" },
  { "summary-first", act_summary_first, "not a hello" },
  { "two-hellos", act_two_hellos, "unsolicited frame" },
  { "unsolicited-summary", act_unsolicited_summary, "unsolicited frame" },
  { "unsolicited-error", act_unsolicited_error, "unsolicited frame" },
};

static void
test_breach (Fixture *f, gconstpointer data)
{
  const Breach *breach = data;
  int fd;

  if (breach->act == act_no_hello)
    act_no_hello (f, -1); /* before the connection: its timer starts at accept */
  fd = fake_connect (f);
  if (breach->act != act_no_hello)
    breach->act (f, fd);
  assert_rejected (f, 1, breach->reason);
  fake_wait_closed (fd);
  g_assert_cmpuint (f->disconnected, ==, (f->connected > 0 ? 1 : 0));
  set_read_timeout (f, 5);
  assert_still_serving (f);
  g_assert_cmpuint (f->rejections->len, ==, 1);
}

/* Answers that break the protocol fail the outstanding request too. */
static void
test_bad_answers (Fixture *f, gconstpointer data)
{
  static const struct {
    const char *answer; /* %ld: the request's id */
    const char *reason;
  } cases[] = {
    { "{\"v\": 1, \"type\": \"summary\", \"id\": %" G_GINT64_FORMAT "9, \"summary\": {}}",
      "answers request" },
    { "{\"v\": 1, \"type\": \"error\", \"id\": %" G_GINT64_FORMAT "9, \"message\": \"x\"}",
      "answers request" },
    { "{\"v\": 1, \"type\": \"summary\", \"id\": %" G_GINT64_FORMAT ", \"summary\": {\"python\": 3}}",
      "summary.python" },
    { "{\"v\": 1, \"type\": \"summary\", \"id\": %" G_GINT64_FORMAT "}", "summary” must be an object" },
    { "{\"v\": 1, \"type\": \"error\", \"id\": %" G_GINT64_FORMAT ", \"message\": 5}", "message" },
    { "{\"v\": 1, \"type\": \"error\", \"id\": %" G_GINT64_FORMAT ", \"message\": \"boom\\u009b2J\"}",
      "none of them a control character" },
    { "{\"v\": 1, \"type\": \"error\", \"id\": \"%" G_GINT64_FORMAT "\", \"message\": \"x\"}", "“id”" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      Result result = { 0 };
      g_autoptr(JsonObject) request = NULL;
      g_autofree char *answer = NULL;
      gint64 id;
      int fd = fake_helper (f, NULL);

      start_request (f, 10, NULL, &result);
      request = fake_read_request (fd, &id);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
      answer = g_strdup_printf (cases[i].answer, id);
#pragma GCC diagnostic pop
      fake_send (fd, answer);
      assert_rejected (f, i + 1, cases[i].reason);
      WAIT_FOR (result.done);
      g_assert_error (result.error, PYMEMD_ERROR, PYMEMD_ERROR_PROTOCOL);
      g_assert_nonnull (strstr (result.error->message, cases[i].reason));
      result_clear (&result);
      fake_wait_closed (fd);
      g_assert_cmpuint (f->disconnected, ==, i + 1);
    }
  assert_still_serving (f);
}

/* ---------------------------------------------------------- object graph */

/* A graph frame's header (docs/helper-protocol.md): kind, request id,
 * count, extra; BODY of LEN bytes after it. */
static void
fake_send_graph_frame (int fd, guint kind, guint32 id, guint32 count, const void *body, gsize len)
{
  guint8 head[4] = { 0, 'G', (guint8) kind, 0 };
  guint32 words[3] = { GUINT32_TO_LE (id), GUINT32_TO_LE (count), 0 };

  fake_send_header (fd, (guint32) (sizeof head + sizeof words + len));
  fake_write (fd, head, sizeof head);
  fake_write (fd, words, sizeof words);
  if (len > 0)
    fake_write (fd, body, len);
}

/* The end of an empty graph, complete. */
static void
fake_send_graph_end (int fd, guint32 id)
{
  guint32 end[10] = { 0 };

  end[6] = GUINT32_TO_LE (1); /* complete, reason 0 */
  fake_send_graph_frame (fd, 5, id, 0, end, sizeof end);
}

typedef struct {
  gboolean           done;
  PymemdHeapSummary *summary;
  PymemdHeapGraph   *graph;
  char              *no_graph;
  GError            *error;
} GraphResult;

static void
graph_result_clear (GraphResult *result)
{
  g_clear_pointer (&result->summary, pymemd_heap_summary_free);
  g_clear_pointer (&result->graph, pymemd_heap_graph_free);
  g_clear_pointer (&result->no_graph, g_free);
  g_clear_error (&result->error);
  result->done = FALSE;
}

static void
graph_request_done (GObject *source, GAsyncResult *res, gpointer data)
{
  GraphResult *result = data;

  g_assert_false (result->done);
  result->summary = pymemd_helper_channel_request_finish_graph (PYMEMD_HELPER_CHANNEL (source), res, &result->graph,
                                                                &result->no_graph, &result->error);
  g_assert_true ((result->summary == NULL) != (result->error == NULL));
  result->done = TRUE;
}

/* A request for the object graph: it announces the objects and references
 * the daemon takes; its id in ID. */
static JsonObject *
start_graph_request (Fixture *f, int fd, GraphResult *result, gint64 *id)
{
  PymemdHeapRequest request;
  JsonObject *message, *graph;

  pymemd_heap_request_init (&request);
  request.graph_memory = 16 << 20;
  pymemd_helper_channel_request_async (f->channel, f->pid, f->start_time, &request, 10, NULL, graph_request_done,
                                       result);
  message = fake_read_request (fd, id);
  graph = json_object_get_object_member (message, "graph");
  g_assert_nonnull (graph);
  g_assert_cmpint (json_object_get_int_member (graph, "objects"), >, 0);
  g_assert_cmpint (json_object_get_int_member (graph, "edges"), >, 0);
  return message;
}

/* The graph's frames, then the summary: the request completes with both;
 * a helper that sends no frames (older than the daemon) gets an answer
 * that says why there is no graph; a request without one announces none. */
static void
test_graph (Fixture *f, gconstpointer data)
{
  int fd = fake_helper (f, NULL);
  GraphResult result = { 0 };
  gint64 id;

  {
    g_autoptr(JsonObject) request = start_graph_request (f, fd, &result, &id);
    fake_send_graph_end (fd, (guint32) id);
    fake_answer (f, fd, id);
    WAIT_FOR (result.done);
    g_assert_no_error (result.error);
    g_assert_nonnull (result.graph);
    g_assert_true (pymemd_heap_graph_is_ended (result.graph));
    g_assert_null (result.no_graph);
    graph_result_clear (&result);
  }
  {
    g_autoptr(JsonObject) request = start_graph_request (f, fd, &result, &id);
    fake_answer (f, fd, id);
    WAIT_FOR (result.done);
    g_assert_no_error (result.error);
    g_assert_null (result.graph);
    g_assert_nonnull (strstr (result.no_graph, "does not walk the object graph"));
    graph_result_clear (&result);
  }
  {
    Result plain = { 0 };
    g_autoptr(JsonObject) request = NULL;

    start_request (f, 10, NULL, &plain);
    request = fake_read_request (fd, &id);
    g_assert_false (json_object_has_member (request, "graph"));
    fake_answer (f, fd, id);
    WAIT_FOR (plain.done);
    g_assert_no_error (plain.error);
    result_clear (&plain);
  }
  g_assert_cmpuint (f->rejections->len, ==, 0);
  close (fd);
}

/* Every malformed graph frame, and one sent out of turn, closes the
 * connection with a Protocol error logged once, fails the request, and
 * leaves the channel serving. */
static void
test_graph_bad (Fixture *f, gconstpointer data)
{
  static const struct {
    const char *name;
    gboolean    request; /* sent during a graph request */
    const char *reason;
  } cases[] = {
    { "no-request", FALSE, "unsolicited frame" },
    { "truncated", TRUE, "a nodes frame of 2 objects" },
    { "other-request", TRUE, "a frame of request" },
    { "unknown-kind", TRUE, "a frame of unknown kind 9" },
    { "short", TRUE, "a binary frame of 5 bytes" },
    { "end-miscounted", TRUE, "the end counts 3 objects" },
    { "summary-before-end", TRUE, "the summary came before the object graph's end" },
    { "names-for-summary", TRUE, "names answer a summary request" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      GraphResult result = { 0 };
      g_autoptr(JsonObject) request = NULL;
      gint64 id = 0;
      int fd = fake_helper (f, NULL);

      if (cases[i].request)
        request = start_graph_request (f, fd, &result, &id);
      switch (i)
        {
        case 0:
          fake_send_graph_end (fd, 1);
          break;
        case 1:
          {
            guint64 address = GUINT64_TO_LE (0x100);
            fake_send_graph_frame (fd, 2, (guint32) id, 2, &address, sizeof address);
          }
          break;
        case 2:
          fake_send_graph_end (fd, (guint32) id + 1);
          break;
        case 3:
          fake_send_graph_frame (fd, 9, (guint32) id, 0, NULL, 0);
          break;
        case 4:
          {
            const guint8 five[5] = { 0, 'G', 5, 0, 1 };
            fake_send_header (fd, sizeof five);
            fake_write (fd, five, sizeof five);
          }
          break;
        case 5:
          {
            guint32 end[10] = { GUINT32_TO_LE (3), 0 };
            end[6] = GUINT32_TO_LE (1);
            fake_send_graph_frame (fd, 5, (guint32) id, 0, end, sizeof end);
          }
          break;
        case 6:
          {
            guint64 address = GUINT64_TO_LE (0x900);
            fake_send_graph_frame (fd, 6, (guint32) id, 1, &address, sizeof address);
            fake_answer (f, fd, id);
          }
          break;
        case 7:
          {
            g_autofree char *names = g_strdup_printf ("{\"v\": 1, \"type\": \"names\", \"id\": %" G_GINT64_FORMAT
                                                      ", \"names\": []}", id);
            fake_send (fd, names);
          }
          break;
        default:
          g_assert_not_reached ();
        }
      assert_rejected (f, i + 1, cases[i].reason);
      g_test_message ("%s: %s", cases[i].name, (const char *) g_ptr_array_index (f->rejections, i));
      if (cases[i].request)
        {
          WAIT_FOR (result.done);
          g_assert_error (result.error, PYMEMD_ERROR, PYMEMD_ERROR_PROTOCOL);
          g_assert_null (result.graph);
          graph_result_clear (&result);
        }
      fake_wait_closed (fd);
      g_assert_cmpuint (f->disconnected, ==, i + 1);
    }
  /* The first message a binary frame: no hello. */
  {
    int fd = fake_connect (f);
    fake_send_graph_end (fd, 1);
    assert_rejected (f, G_N_ELEMENTS (cases) + 1, "the first message is a binary frame, not a hello");
    fake_wait_closed (fd);
  }
  assert_still_serving (f);
}

/* A summary lists no more types and sites than asked for. */
static void
test_answer_over_request (Fixture *f, gconstpointer data)
{
  static const struct {
    guint top, sites;
  } requests[] = { { 4, 10 }, { 20, 1 } }; /* the fixture lists 5 types and 2 sites */

  for (guint i = 0; i < G_N_ELEMENTS (requests); i++)
    {
      Result result = { 0 };
      g_autoptr(JsonObject) request = NULL;
      PymemdHeapRequest options;
      gint64 id;
      int fd = fake_helper (f, NULL);

      pymemd_heap_request_init (&options);
      options.top = requests[i].top;
      options.sites = requests[i].sites;
      pymemd_helper_channel_request_async (f->channel, f->pid, f->start_time, &options, 10, NULL,
                                           request_done, &result);
      request = fake_read_request (fd, &id);
      fake_answer (f, fd, id);
      assert_rejected (f, i + 1, "the summary lists 5 types and 2 sites");
      WAIT_FOR (result.done);
      g_assert_error (result.error, PYMEMD_ERROR, PYMEMD_ERROR_PROTOCOL);
      result_clear (&result);
      fake_wait_closed (fd);
    }
  assert_still_serving (f);
}

/* Answers to requests do not count against the rate limit: a caller
 * asking 25 times in a second keeps its helper. */
static void
test_flood (Fixture *f, gconstpointer data)
{
  int fd = fake_helper (f, NULL);
  guint answered = 0;

  for (guint i = 0; i < 25; i++)
    {
      Result result = { 0 };
      g_autoptr(JsonObject) request = NULL;
      gint64 id;
      g_autofree char *answer = NULL;

      start_request (f, 10, NULL, &result);
      request = fake_read_request (fd, &id);
      answer = g_strdup_printf ("{\"v\": 1, \"type\": \"error\", \"id\": %" G_GINT64_FORMAT
                                ", \"message\": \"busy\"}", id);
      fake_send (fd, answer);
      WAIT_FOR (result.done);
      g_assert_error (result.error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED);
      answered++;
      result_clear (&result);
    }
  g_assert_cmpuint (answered, ==, 25);
  g_assert_true (pymemd_helper_channel_has_helper (f->channel, f->pid, f->start_time));
  close (fd);
  assert_still_serving (f);
}

static void
test_connection_limits (Fixture *f, gconstpointer data)
{
  int fds[5];

  /* The fifth connection of one process is closed at once; four stay. */
  for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
    fds[i] = fake_connect (f);
  assert_rejected (f, 1, "more than 4 connections of one process");
  fake_wait_closed (fds[4]);
  pymemd_test_iterate_for (0.05);
  for (guint i = 0; i < 4; i++)
    g_assert_false (pymemd_test_socket_closed (fds[i]));
  fake_hello (f, fds[0], NULL);
  WAIT_FOR (f->connected == 1);
  request_round_trip (f, fds[0]);
  for (guint i = 0; i < 4; i++)
    close (fds[i]);
  WAIT_FOR (f->disconnected == 1 && f->rejections->len == 4); /* 3 ended before a hello */

  /* And the limit on all connections. */
  {
    PymemdHelperLimits limits;

    pymemd_helper_limits_init (&limits);
    limits.connections = 2;
    pymemd_helper_channel_set_limits (f->channel, &limits);
  }
  for (guint i = 0; i < 3; i++)
    fds[i] = fake_connect (f);
  assert_rejected (f, 5, "more than 2 connections in all");
  fake_wait_closed (fds[2]);
  close (fds[0]);
  close (fds[1]);
  WAIT_FOR (f->rejections->len == 7);
  assert_still_serving (f);
}

/* Random frames, and valid messages with random bytes changed: no crash,
 * no leak, every connection ends, and a good helper is served after. */
static void
test_random_garbage (Fixture *f, gconstpointer data)
{
  g_autofree char *hello = hello_json (f->pid, f->start_time, NULL, "env");

  for (guint i = 0; i < 200; i++)
    {
      int fd = fake_connect (f);
      guint kind = (guint) g_test_rand_int_range (0, 4);
      gsize len = (gsize) g_test_rand_int_range (1, 300);
      g_autofree char *body = g_malloc (MAX (len, strlen (hello)) + 1);

      switch (kind)
        {
        case 0: /* random bytes with a random length header */
          fake_send_header (fd, (guint32) g_test_rand_int ());
          for (gsize j = 0; j < len; j++)
            body[j] = (char) g_test_rand_int_range (0, 256);
          fake_write (fd, body, len);
          break;
        case 1: /* random bytes in a well-formed frame */
          for (gsize j = 0; j < len; j++)
            body[j] = (char) g_test_rand_int_range (0, 256);
          fake_send_header (fd, (guint32) len);
          fake_write (fd, body, len);
          break;
        default: /* a hello (then a summary) with a few bytes changed */
          {
            const char *text = kind == 2 ? hello : f->summary_json;
            gsize text_len = strlen (text);
            g_autofree char *copy = g_strdup (text);

            for (guint j = 0; j < 3; j++)
              copy[g_test_rand_int_range (0, (gint32) text_len)] =
                (char) g_test_rand_int_range (0, 256);
            if (kind == 3)
              fake_hello (f, fd, NULL);
            fake_send_header (fd, (guint32) text_len);
            fake_write (fd, copy, text_len);
          }
          break;
        }
      shutdown (fd, SHUT_WR);
      fake_wait_closed (fd);
    }
  pymemd_test_iterate_for (0.05);
  g_assert_cmpuint (f->rejections->len, >=, 150);
  g_assert_cmpuint (f->disconnected, ==, f->connected);
  assert_still_serving (f);
}

/* ----------------------------------------------------------------- limits */

#define NOBODY 65534

/* The channel's address, which uid nobody may now connect to (processes
 * other than this one will). */
static struct sockaddr_un
address_for_nobody (Fixture *f)
{
  struct sockaddr_un sun = { .sun_family = AF_UNIX };

  g_strlcpy (sun.sun_path, f->path, sizeof sun.sun_path);
  g_assert_cmpint (g_chmod (f->tmp, 0755), ==, 0);
  f->others = TRUE;
  return sun;
}

/* In a child of this process, which has threads (system calls only): no
 * groups, and uid and gid nobody. */
static gboolean
become_nobody (void)
{
  return setgroups (0, NULL) == 0 && setresgid (NOBODY, NOBODY, NOBODY) == 0 &&
         setresuid (NOBODY, NOBODY, NOBODY) == 0;
}

/* Connects N sockets (into FDS) to the channel as uid nobody, PER_PROCESS
 * from each of a series of short-lived processes: SO_PEERCRED is taken at
 * connect(), and the connections outlive their processes. */
static void
connect_as_nobody (Fixture *f, int *fds, guint n, guint per_process)
{
  struct sockaddr_un sun = address_for_nobody (f);

  for (guint i = 0; i < n; i++)
    {
      fds[i] = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      g_assert_cmpint (fds[i], >=, 0);
    }
  for (guint first = 0; first < n; first += per_process)
    {
      int status = 0;
      pid_t pid = fork ();

      g_assert_cmpint (pid, >=, 0);
      if (pid == 0)
        {
          if (!become_nobody ())
            _exit (100);
          for (guint i = first; i < MIN (first + per_process, n); i++)
            if (connect (fds[i], (struct sockaddr *) &sun, sizeof sun) < 0)
              _exit (101);
          _exit (0);
        }
      /* The channel accepts on this thread while the child connects. */
      while (waitpid (pid, &status, WNOHANG) == 0)
        if (!g_main_context_iteration (NULL, FALSE))
          g_usleep (200);
      g_assert_true (WIFEXITED (status));
      g_assert_cmpint (WEXITSTATUS (status), ==, 0);
    }
}

static guint
count_open (const int *fds, guint n)
{
  guint open = 0;

  for (guint i = 0; i < n; i++)
    open += !pymemd_test_socket_closed (fds[i]);
  return open;
}

static void
close_all (int *fds, guint n)
{
  for (guint i = 0; i < n; i++)
    close (fds[i]);
}

/* Sends on each of FDS[N] a 1 MiB frame header and 1 MiB - 1 bytes of its
 * body: the frames are never finished. */
static void
send_unfinished_frames (const int *fds, guint n)
{
  g_autofree char *body = g_malloc (PYMEMD_HELPER_MAX_FRAME);

  memset (body, ' ', PYMEMD_HELPER_MAX_FRAME);
  for (guint i = 0; i < n; i++)
    {
      fake_send_header (fds[i], PYMEMD_HELPER_MAX_FRAME);
      fake_write (fds[i], body, PYMEMD_HELPER_MAX_FRAME - 1);
    }
}

/* Every rejection since FIRST mentions WORD. */
static void
assert_rejections_mention (Fixture *f, guint first, const char *word)
{
  for (guint i = first; i < f->rejections->len; i++)
    if (strstr (g_ptr_array_index (f->rejections, i), word) == NULL)
      g_error ("rejection “%s” does not mention “%s”",
               (char *) g_ptr_array_index (f->rejections, i), word);
}

/* One user's processes cannot take every slot (the connections of all
 * users were bounded, not each user's): nobody's 256 connections, four per
 * process, the most one process may hold, keep 128, and root's helper is
 * served. */
static void
test_uid_connections (Fixture *f, gconstpointer data)
{
  int fds[256];

  if (!pymemd_test_is_root ())
    {
      g_test_skip ("connecting as nobody needs root");
      return;
    }
  /* No hello comes: however slow the forks (valgrind), none times out. */
  set_read_timeout (f, 600);
  connect_as_nobody (f, fds, G_N_ELEMENTS (fds), 4);
  WAIT_FOR (f->rejections->len >= 128);
  pymemd_test_iterate_for (0.1);
  g_assert_cmpuint (f->rejections->len, ==, 128);
  assert_rejections_mention (f, 0, "more than 128 connections of uid 65534");
  g_assert_cmpuint (count_open (fds, G_N_ELEMENTS (fds)), ==, 128);
  assert_still_serving (f);
  close_all (fds, G_N_ELEMENTS (fds));
  WAIT_FOR (f->rejections->len == 256); /* they ended before a hello */
}

/* N helpers of uid nobody, each a process that stays until killed (a
 * hello must name a live process) with one connection (FDS[i], from
 * PIDS[i]) that said hello and has a request outstanding (RESULTS[i]). */
static void
nobody_helpers_asked (Fixture *f, guint n, int *fds, GPid *pids, Result *results)
{
  struct sockaddr_un sun = address_for_nobody (f);
  guint connected = f->connected;

  for (guint i = 0; i < n; i++)
    {
      int ready[2];
      char c;

      fds[i] = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      g_assert_cmpint (fds[i], >=, 0);
      g_assert_cmpint (pipe (ready), ==, 0);
      pids[i] = fork ();
      g_assert_cmpint (pids[i], >=, 0);
      if (pids[i] == 0)
        {
          if (prctl (PR_SET_PDEATHSIG, SIGKILL) < 0 || !become_nobody () ||
              connect (fds[i], (struct sockaddr *) &sun, sizeof sun) < 0 || write (ready[1], "", 1) != 1)
            _exit (100);
          for (;;)
            pause ();
        }
      close (ready[1]);
      g_assert_cmpint (read (ready[0], &c, 1), ==, 1);
      close (ready[0]);
    }
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *hello = hello_json (pids[i], pymemd_test_start_time (pids[i]), NULL, "env");

      fake_send (fds[i], hello);
    }
  WAIT_FOR (f->connected == connected + n);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(JsonObject) request = NULL;
      PymemdHeapRequest asked;
      gint64 id;

      results[i] = (Result) { 0 };
      pymemd_heap_request_init (&asked);
      pymemd_helper_channel_request_async (f->channel, pids[i], pymemd_test_start_time (pids[i]), &asked, 600,
                                           NULL, request_done, &results[i]);
      request = fake_read_request (fds[i], &id);
    }
}

/* Ends what nobody_helpers_asked () began: the connections are closed,
 * the processes killed, and their requests end (failed). */
static void
nobody_helpers_end (guint n, int *fds, GPid *pids, Result *results)
{
  close_all (fds, n);
  for (guint i = 0; i < n; i++)
    {
      kill (pids[i], SIGKILL);
      g_assert_cmpint (waitpid (pids[i], NULL, 0), ==, pids[i]);
    }
  for (guint i = 0; i < n; i++)
    {
      WAIT_FOR (results[i].done);
      g_assert_nonnull (results[i].error);
      result_clear (&results[i]);
    }
}

/* Answers are buffered as their bytes come, within their user's buffer
 * (8 MiB): nobody's 16 helpers, each sending 1 MiB - 1 of a 1 MiB answer,
 * keep 8; the others are closed, and root's helper is served. (A frame
 * that no request asked for is refused on its header.) */
static void
test_uid_buffer (Fixture *f, gconstpointer data)
{
  int fds[16];
  GPid pids[16];
  Result results[16];

  if (!pymemd_test_is_root ())
    {
      g_test_skip ("connecting as nobody needs root");
      return;
    }
  set_read_timeout (f, 600);
  nobody_helpers_asked (f, G_N_ELEMENTS (fds), fds, pids, results);
  send_unfinished_frames (fds, G_N_ELEMENTS (fds));
  WAIT_FOR (f->rejections->len >= 8);
  pymemd_test_iterate_for (0.1);
  g_assert_cmpuint (f->rejections->len, ==, 8);
  assert_rejections_mention (f, 0, "unfinished frames of uid 65534 would hold more than 8.0");
  g_assert_cmpuint (count_open (fds, G_N_ELEMENTS (fds)), ==, 8);
  assert_still_serving (f);

  /* What they held is free again: another 8 fit. */
  nobody_helpers_end (G_N_ELEMENTS (fds), fds, pids, results);
  WAIT_FOR (f->rejections->len == 16);
  nobody_helpers_asked (f, 8, fds, pids, results);
  send_unfinished_frames (fds, 8);
  pymemd_test_iterate_for (0.2);
  g_assert_cmpuint (f->rejections->len, ==, 16);
  g_assert_cmpuint (count_open (fds, 8), ==, 8);
  nobody_helpers_end (8, fds, pids, results);
}

/* A first frame of 16 KiB exactly (a hello padded with blanks) is a
 * hello like any other. */
static void
test_first_frame_at_bound (Fixture *f, gconstpointer data)
{
  g_autofree char *hello = hello_json (f->pid, f->start_time, NULL, "env");
  g_autofree char *padded = g_malloc (PYMEMD_HELPER_MAX_FIRST_FRAME);
  gsize len = strlen (hello);
  int fd = fake_connect (f);

  memcpy (padded, hello, len);
  memset (padded + len, ' ', PYMEMD_HELPER_MAX_FIRST_FRAME - len);
  fake_send_header (fd, PYMEMD_HELPER_MAX_FIRST_FRAME);
  fake_write (fd, padded, PYMEMD_HELPER_MAX_FIRST_FRAME);
  WAIT_FOR (f->connected == 1);
  g_assert_cmpuint (f->rejections->len, ==, 0);
  request_round_trip (f, fd);
  close (fd);
}

/* After the hello, a begun frame must end within the read timeout, or the
 * connection is closed; a helper idle between frames stays. */
static void
test_frame_deadline (Fixture *f, gconstpointer data)
{
  int fd;

  set_read_timeout (f, 0.3);
  fd = fake_helper (f, NULL);
  pymemd_test_iterate_for (0.6);
  g_assert_false (pymemd_test_socket_closed (fd));
  request_round_trip (f, fd);
  {
    g_autoptr(JsonObject) request = NULL;
    Result result = { 0 };
    gint64 id;

    /* An answer begun (a frame no request asked for is refused at once). */
    start_request (f, 10, NULL, &result);
    request = fake_read_request (fd, &id);
    fake_send_header (fd, 1000);
    fake_write (fd, "{\"v\": 1", 7);
    assert_rejected (f, 1, "a frame unfinished 0.3 s after it began");
    fake_wait_closed (fd);
    WAIT_FOR (f->disconnected == 1);
    WAIT_FOR (result.done);
    g_assert_nonnull (result.error);
    result_clear (&result);
  }
  assert_still_serving (f);
}

static guint
count_logged (const char *word)
{
  guint n = 0;

  for (guint i = 0; i < logged->len; i++)
    n += strstr (g_ptr_array_index (logged, i), word) != NULL;
  return n;
}

/* A loop of bad connections ("\xff\xff\xff\xff") is logged a few lines per
 * uid and window; the count of the lines held back follows when the window
 * ends, and the next window logs again. */
static void
test_log_flood (Fixture *f, gconstpointer data)
{
  g_autofree char *summary = g_strdup_printf ("95 more messages about helper connections of "
                                              "uid %u were not logged in the last 3 s",
                                              (guint) getuid ());
  PymemdHelperLimits limits;
  int fd;

  pymemd_helper_limits_init (&limits);
  limits.log_lines_per_uid = 5;
  limits.log_window = 3;
  pymemd_helper_channel_set_limits (f->channel, &limits);
  for (guint i = 0; i < 100; i++)
    {
      fd = fake_connect (f);
      fake_send_header (fd, 0xFFFFFFFFu);
      fake_wait_closed (fd);
    }
  WAIT_FOR (f->rejections->len == 100);
  g_assert_cmpuint (count_logged ("4294967295 bytes"), ==, 5);
  g_assert_cmpuint (count_logged ("were not logged"), ==, 0);
  WAIT_FOR (count_logged ("were not logged") == 1);
  g_assert_cmpuint (count_logged (summary), ==, 1);

  fd = fake_connect (f);
  fake_send_header (fd, 0xFFFFFFFFu);
  assert_rejected (f, 101, "4294967295 bytes");
  fake_wait_closed (fd);
  g_assert_cmpuint (count_logged ("4294967295 bytes"), ==, 6);
}

static void
test_socket_file (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *tmp = pymemd_test_mkdtemp ();
  g_autofree char *path = g_build_filename (tmp, "helper.sock", NULL);
  g_autofree char *file = g_build_filename (tmp, "file", NULL);
  g_autofree char *long_path = g_strdup_printf ("%s/%0200d", tmp, 0);
  struct sockaddr_un sun = { .sun_family = AF_UNIX };
  PymemdHelperChannel *channel;
  struct stat st;
  int fd;

  /* A stale socket (its daemon gone) is replaced. */
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_strlcpy (sun.sun_path, path, sizeof sun.sun_path);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &sun, sizeof sun), ==, 0);
  close (fd);
  channel = pymemd_helper_channel_new (path, "/proc", &error);
  g_assert_no_error (error);
  g_assert_cmpint (stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0666);
  g_object_unref (channel);
  g_assert_cmpint (lstat (path, &st), <, 0);

  /* Anything else is not. */
  g_assert_true (g_file_set_contents (file, "precious", -1, NULL));
  channel = pymemd_helper_channel_new (file, "/proc", &error);
  g_assert_null (channel);
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_true (g_file_test (file, G_FILE_TEST_IS_REGULAR));

  channel = pymemd_helper_channel_new (long_path, "/proc", &error);
  g_assert_null (channel);
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS);
  g_clear_error (&error);

  channel = pymemd_helper_channel_new (path, "/nonexistent-proc", &error);
  g_assert_null (channel);
  g_assert_nonnull (error);
  pymemd_test_rm_rf (tmp);
}

/* Unreferencing the channel with helpers connected and a wait pending
 * closes everything: the callbacks still run, nothing leaks. */
static void
test_dispose_busy (Fixture *f, gconstpointer data)
{
  Result result = { 0 };
  g_autoptr(JsonObject) request = NULL;
  gint64 id;
  int fd = fake_helper (f, NULL);
  int idle = fake_connect (f);

  start_request (f, 10, NULL, &result);
  request = fake_read_request (fd, &id);
  g_object_run_dispose (G_OBJECT (f->channel));
  WAIT_FOR (result.done);
  g_assert_error (result.error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED);
  result_clear (&result);
  fake_wait_closed (fd);
  fake_wait_closed (idle);
  g_assert_false (g_file_test (f->path, G_FILE_TEST_EXISTS));
}

/* The channel freed while a connection holds most of a frame: what its
 * closing schedules (malloc's trim) goes with the channel; ASan and
 * valgrind see any use after the free. */
static void
test_dispose_frame (Fixture *f, gconstpointer data)
{
  int fd = fake_helper (f, NULL);

  send_unfinished_frames (&fd, 1);
  pymemd_test_iterate_for (0.1);
  g_clear_object (&f->channel);
  pymemd_test_iterate_for (1.5);
  fake_wait_closed (fd);
}

/* After a daemon restart a helper's left-over connection may say hello
 * after the one an attach waited for: the awaited connection stays, and
 * the request on it is answered (it failed with NotAttached "reconnected"
 * when the later hello replaced it). */
static void
test_late_stale_hello (Fixture *f, gconstpointer data)
{
  Result waited = { 0 }, request = { 0 };
  g_autoptr(JsonObject) asked = NULL;
  g_autofree char *stale_hello = hello_json (f->pid, f->start_time, "ffffffffffffffffffffffffffffffff", "attach");
  g_autofree char *hello = hello_json (f->pid, f->start_time, NONCE, "attach");
  int stale, awaited;
  gint64 id;

  pymemd_helper_channel_wait_async (f->channel, f->pid, f->start_time, NONCE, 20, NULL, wait_done, &waited);
  stale = fake_connect (f); /* accepted first, its hello comes last */
  pymemd_test_iterate_for (0.05);
  awaited = fake_connect (f);
  fake_send (awaited, hello);
  WAIT_FOR (waited.done);
  g_assert_no_error (waited.error);
  start_request (f, 20, NULL, &request);
  asked = fake_read_request (awaited, &id);

  fake_send (stale, stale_hello);
  pymemd_test_iterate_for (0.1);
  if (request.done)
    g_assert_no_error (request.error); /* "The helper of process … reconnected" */
  fake_wait_closed (stale);
  g_assert_false (request.done);
  fake_answer (f, awaited, id);
  WAIT_FOR (request.done);
  g_assert_no_error (request.error);
  g_assert_cmpuint (f->connected, ==, 1);
  g_assert_cmpuint (f->disconnected, ==, 0);
  request_round_trip (f, awaited);

  /* Without nonces the connection accepted last wins, whichever hello
   * came first. */
  stale = fake_connect (f);
  pymemd_test_iterate_for (0.05);
  close (awaited);
  WAIT_FOR (f->disconnected == 1);
  awaited = fake_connect (f);
  fake_hello (f, awaited, NULL);
  WAIT_FOR (f->connected == 2);
  fake_hello (f, stale, NULL);
  fake_wait_closed (stale);
  request_round_trip (f, awaited);
  close (awaited);
  WAIT_FOR (f->disconnected == 2);

  result_clear (&waited);
  result_clear (&request);
  g_assert_cmpuint (f->rejections->len, ==, 0);
}

/* The bootstrap could not start the helper: its "failed" ends the wait
 * for its nonce with the reason, and its connection. */
static void
test_failed (Fixture *f, gconstpointer data)
{
  Result waited = { 0 }, other = { 0 };
  g_autofree char *failed = g_strdup_printf ("{\"v\": 1, \"type\": \"failed\", \"pid\": %d, \"start_time\": %"
                                             G_GUINT64_FORMAT ", \"nonce\": \"%s\", \"message\": "
                                             "\"PermissionError: [Errno 13] Permission denied: '/x'\"}",
                                             f->pid, f->start_time, NONCE);
  int fd;

  pymemd_helper_channel_wait_async (f->channel, f->pid, f->start_time, NONCE, 20, NULL, wait_done, &waited);
  pymemd_helper_channel_wait_async (f->channel, f->pid, f->start_time, "ffffffffffffffffffffffffffffffff", 0.5,
                                    NULL, wait_done, &other);
  fd = fake_connect (f);
  fake_send (fd, failed);
  WAIT_FOR (waited.done);
  g_assert_error (waited.error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED);
  g_assert_nonnull (strstr (waited.error->message, "Permission denied: '/x'"));
  g_assert_nonnull (strstr (logged->len > 0 ? g_ptr_array_index (logged, logged->len - 1) : "", "Permission denied"));
  fake_wait_closed (fd);
  g_assert_false (pymemd_helper_channel_has_helper (f->channel, f->pid, f->start_time));
  /* Another attach's wait is not this one's. */
  WAIT_FOR (other.done);
  g_assert_error (other.error, PYMEMD_ERROR, PYMEMD_ERROR_TIMED_OUT);
  g_assert_cmpuint (f->connected, ==, 0);
  g_assert_cmpuint (f->rejections->len, ==, 0);
  result_clear (&waited);
  result_clear (&other);

  /* It must name its nonce, and comes instead of a hello, never after. */
  {
    g_autofree char *no_nonce = g_strdup_printf ("{\"v\": 1, \"type\": \"failed\", \"pid\": %d, \"start_time\": %"
                                                 G_GUINT64_FORMAT ", \"nonce\": null, \"message\": \"x\"}",
                                                 f->pid, f->start_time);
    fd = fake_connect (f);
    fake_send (fd, no_nonce);
    assert_rejected (f, 1, "nonce");
    fake_wait_closed (fd);
    fd = fake_helper (f, NULL);
    fake_send (fd, failed);
    assert_rejected (f, 2, "unsolicited frame");
    fake_wait_closed (fd);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  logged = g_ptr_array_new_with_free_func (g_free);
  g_log_set_writer_func (capture_log, NULL, NULL);

#define ADD(name, func) \
  g_test_add ("/helper-channel/" name, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("hello-and-request", test_hello_and_request);
  ADD ("wait-nonce", test_wait_nonce);
  ADD ("late-stale-hello", test_late_stale_hello);
  ADD ("failed", test_failed);
  ADD ("request-timeout", test_request_timeout);
  ADD ("request-cancel", test_request_cancel);
  ADD ("limit-and-error", test_limit_and_error);
  ADD ("bad-answers", test_bad_answers);
  ADD ("answer-over-request", test_answer_over_request);
  ADD ("graph", test_graph);
  ADD ("graph-bad", test_graph_bad);
  ADD ("flood", test_flood);
  ADD ("connection-limits", test_connection_limits);
  ADD ("random-garbage", test_random_garbage);
  ADD ("dispose-busy", test_dispose_busy);
  ADD ("limits/uid-connections", test_uid_connections);
  ADD ("limits/uid-buffer", test_uid_buffer);
  ADD ("limits/first-frame-at-bound", test_first_frame_at_bound);
  ADD ("limits/frame-deadline", test_frame_deadline);
  ADD ("limits/log-flood", test_log_flood);
  ADD ("limits/dispose-frame", test_dispose_frame);
#undef ADD
  for (guint i = 0; i < G_N_ELEMENTS (breaches); i++)
    {
      g_autofree char *name = g_strdup_printf ("/helper-channel/reject/%s", breaches[i].name);
      g_test_add (name, Fixture, &breaches[i], fixture_set_up, test_breach, fixture_tear_down);
    }
  g_test_add_func ("/helper-channel/socket-file", test_socket_file);

  return g_test_run ();
}
