/* Serves one helper's connection: reads its bounded frames, checks each message's shape, queues the daemon's frames, and pairs its one outstanding request with the answer; who the peer is, and what it may hold, is the channel's to say. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib/gi18n.h>

#include "pymemd-helper-connection.h"
#include "pymemd-helper-frames.h"
#include "pymemd-retained.h"

#define MAX_REASON_CHARS 200 /* of a rejection's reason, which may quote the peer */

/* Whoever runs code that may close a connection holds a reference, so
 * that it outlives its closing. */
struct _PymemdHelperConnection
{
  int                                ref_count;
  const PymemdHelperConnectionOwner *iface;
  GObject                           *owner;       /* NULL once closed */
  GMainContext                      *context;
  guint8                            *read_buffer; /* the owner's */
  int                                fd;          /* -1 once closed */
  GSource                           *read_source;
  GSource                           *write_source; /* while a frame waits for room */
  gint32                             peer_pid;    /* SO_PEERCRED */
  guint32                            peer_uid;
  guint64                            serial;
  guint64                            awaited;
  char                              *key;         /* "pid:start_time" once its hello was valid */
  guint64                            start_time;
  char                              *nonce;
  char                              *how;
  GSource                           *deadline;    /* the hello's, then each begun frame's */
  PymemdHelperFrameReader            reader;
  guint32                            request_id;  /* the outstanding request, 0: none */
  guint                              request_top; /* ... and the most types and sites it asked for */
  guint                              request_sites;
  PymemdHeapGraph                   *graph;       /* ... the object graph it asked for, as it comes */
  GArray                            *name_steps;  /* a "name" request's: each path's steps (guint); NULL: a summary */
  GTask                             *request;     /* NULL when its caller gave up: the answer is still due */
  GSource                           *request_timeout;
  GSource                           *request_cancelled;
  GQueue                             writes;      /* GBytes frames behind the one being written */
  GBytes                            *writing;
  gsize                              written;     /* bytes of WRITING sent */
};

/* What a summary request completes with. */
typedef struct {
  PymemdHeapSummary *summary;
  PymemdHeapGraph   *graph;
  char              *no_graph;
} Answer;

static void
answer_free (Answer *answer)
{
  pymemd_heap_summary_free (answer->summary);
  pymemd_heap_graph_free (answer->graph);
  g_free (answer->no_graph);
  g_free (answer);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Answer, answer_free)

GSource *
pymemd_helper_source_attach (GMainContext *context, GSource *source, GSourceFunc func, gpointer data)
{
  g_source_set_callback (source, func, data, NULL);
  g_source_attach (source, context);
  return source;
}

GSource *
pymemd_helper_timeout_attach (GMainContext *context, double seconds, GSourceFunc func, gpointer data)
{
  double ms = seconds > 0 ? seconds * 1000 + 0.5 : 0; /* NaN: 0 */
  guint interval = ms < G_MAXUINT ? (guint) ms : G_MAXUINT;

  return pymemd_helper_source_attach (context, g_timeout_source_new (interval), func, data);
}

void
pymemd_helper_source_clear (GSource **source)
{
  if (*source == NULL)
    return;
  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}

PymemdHelperConnection *
pymemd_helper_connection_new (int                                fd,
                              gint32                             pid,
                              guint32                            uid,
                              guint64                            serial,
                              GMainContext                      *context,
                              guint8                            *read_buffer,
                              const PymemdHelperConnectionOwner *iface,
                              GObject                           *owner)
{
  PymemdHelperConnection *self = g_new0 (PymemdHelperConnection, 1);

  self->ref_count = 1;
  self->iface = iface;
  self->owner = owner;
  self->context = g_main_context_ref (context);
  self->read_buffer = read_buffer;
  self->fd = fd;
  self->peer_pid = pid;
  self->peer_uid = uid;
  self->serial = serial;
  pymemd_helper_frame_reader_init (&self->reader);
  g_queue_init (&self->writes);
  return self;
}

PymemdHelperConnection *
pymemd_helper_connection_ref (PymemdHelperConnection *self)
{
  self->ref_count++;
  return self;
}

void
pymemd_helper_connection_unref (PymemdHelperConnection *self)
{
  if (--self->ref_count > 0)
    return;
  g_assert (self->owner == NULL && self->request == NULL && self->fd < 0);
  g_free (self->key);
  g_free (self->nonce);
  g_free (self->how);
  pymemd_helper_frame_reader_clear (&self->reader);
  g_queue_clear_full (&self->writes, (GDestroyNotify) g_bytes_unref);
  g_clear_pointer (&self->writing, g_bytes_unref);
  g_main_context_unref (self->context);
  g_free (self);
}

gboolean
pymemd_helper_connection_is_open (PymemdHelperConnection *self)
{
  return self->owner != NULL;
}

gint32
pymemd_helper_connection_get_pid (PymemdHelperConnection *self)
{
  return self->peer_pid;
}

guint32
pymemd_helper_connection_get_uid (PymemdHelperConnection *self)
{
  return self->peer_uid;
}

guint64
pymemd_helper_connection_get_serial (PymemdHelperConnection *self)
{
  return self->serial;
}

const char *
pymemd_helper_connection_get_key (PymemdHelperConnection *self)
{
  return self->key;
}

guint64
pymemd_helper_connection_get_start_time (PymemdHelperConnection *self)
{
  return self->start_time;
}

const char *
pymemd_helper_connection_get_nonce (PymemdHelperConnection *self)
{
  return self->nonce;
}

const char *
pymemd_helper_connection_get_how (PymemdHelperConnection *self)
{
  return self->how;
}

guint64
pymemd_helper_connection_get_awaited (PymemdHelperConnection *self)
{
  return self->awaited;
}

gboolean
pymemd_helper_connection_is_busy (PymemdHelperConnection *self)
{
  return self->request_id != 0;
}

GTask *
pymemd_helper_connection_shut (PymemdHelperConnection *self)
{
  GObject *owner = self->owner;

  g_return_val_if_fail (owner != NULL, NULL);

  self->owner = NULL;
  pymemd_helper_source_clear (&self->read_source);
  pymemd_helper_source_clear (&self->write_source);
  pymemd_helper_source_clear (&self->deadline);
  pymemd_helper_source_clear (&self->request_timeout);
  pymemd_helper_source_clear (&self->request_cancelled);
  close (self->fd);
  self->fd = -1;
  if (pymemd_helper_frame_reader_in_body (&self->reader))
    self->iface->release (self, pymemd_helper_frame_reader_held (&self->reader), owner);
  pymemd_helper_frame_reader_clear (&self->reader);
  g_queue_clear_full (&self->writes, (GDestroyNotify) g_bytes_unref);
  g_clear_pointer (&self->writing, g_bytes_unref);
  self->request_id = 0;
  /* A graph half received is dropped with its connection. */
  g_clear_pointer (&self->graph, pymemd_heap_graph_free);
  g_clear_pointer (&self->name_steps, g_array_unref);
  return g_steal_pointer (&self->request);
}

/* Closes the connection through its owner (if still open). */
static void
connection_close (PymemdHelperConnection *self, const char *rejection, GError *request_error)
{
  if (self->owner == NULL)
    {
      g_clear_error (&request_error);
      return;
    }
  self->iface->close (self, rejection, request_error, self->owner);
}

static void
connection_vreject (PymemdHelperConnection *self, PymemdError code, const char *format, va_list ap)
{
  g_autofree char *reason = g_strdup_vprintf (format, ap);

  /* Parser messages quote the input: keep the log bounded and valid. */
  if (!g_utf8_validate (reason, -1, NULL))
    {
      char *valid = g_utf8_make_valid (reason, -1);
      g_free (reason);
      reason = valid;
    }
  if (g_utf8_strlen (reason, -1) > MAX_REASON_CHARS)
    {
      char *cut = g_utf8_substring (reason, 0, MAX_REASON_CHARS);
      g_free (reason);
      reason = g_strconcat (cut, "…", NULL);
      g_free (cut);
    }
  connection_close (self, reason,
                    code == PYMEMD_ERROR_PROTOCOL
                    ? g_error_new (PYMEMD_ERROR, code,
                                   _("The helper of process %d broke the protocol: %s"),
                                   self->peer_pid, reason)
                    : g_error_new (PYMEMD_ERROR, code,
                                   _("The connection of the helper of process %d was closed: %s"),
                                   self->peer_pid, reason));
}

void
pymemd_helper_connection_reject (PymemdHelperConnection *self, PymemdError code, const char *format, ...)
{
  va_list ap;

  va_start (ap, format);
  connection_vreject (self, code, format, ap);
  va_end (ap);
}

/* Closes the connection for breaking the protocol (PYMEMD_ERROR_PROTOCOL). */
static void G_GNUC_PRINTF (2, 3)
reject (PymemdHelperConnection *self, const char *format, ...)
{
  va_list ap;

  va_start (ap, format);
  connection_vreject (self, PYMEMD_ERROR_PROTOCOL, format, ap);
  va_end (ap);
}

static void G_GNUC_PRINTF (2, 3)
log_peer (PymemdHelperConnection *self, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list ap;

  va_start (ap, format);
  message = g_strdup_vprintf (format, ap);
  va_end (ap);
  self->iface->log (self, message, self->owner);
}

/* ----------------------------------------------------------------- writes */

static void write_next (PymemdHelperConnection *self);

static gboolean
on_writable (int fd, GIOCondition condition, gpointer data)
{
  PymemdHelperConnection *self = data;
  g_autoptr(PymemdHelperConnection) hold = pymemd_helper_connection_ref (self);

  g_clear_pointer (&self->write_source, g_source_unref);
  write_next (self);
  return G_SOURCE_REMOVE;
}

/* Sends what is queued until the socket is full; the rest waits for room. */
static void
write_next (PymemdHelperConnection *self)
{
  while (self->owner != NULL)
    {
      const guint8 *data;
      gsize size;
      ssize_t n;

      if (self->writing == NULL)
        {
          self->writing = g_queue_pop_head (&self->writes);
          self->written = 0;
          if (self->writing == NULL)
            return;
        }
      data = g_bytes_get_data (self->writing, &size);
      n = send (self->fd, data + self->written, size - self->written, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        {
          if (self->write_source == NULL)
            self->write_source = pymemd_helper_source_attach (self->context,
                                                              g_unix_fd_source_new (self->fd,
                                                                                    G_IO_OUT | G_IO_HUP | G_IO_ERR),
                                                              G_SOURCE_FUNC (on_writable), self);
          return;
        }
      if (n < 0)
        {
          int errsv = errno;
          log_peer (self, _("Cannot write to the helper of process %d: %s"), self->peer_pid,
                    g_strerror (errsv));
          connection_close (self, NULL, NULL);
          return;
        }
      self->written += (gsize) n;
      if (self->written == size)
        g_clear_pointer (&self->writing, g_bytes_unref);
    }
}

static void
send_message (PymemdHelperConnection *self, const char *json)
{
  g_queue_push_tail (&self->writes, pymemd_helper_frame_new (json, strlen (json)));
  write_next (self);
}

/* --------------------------------------------------------------- deadlines */

/* The hello did not come within the read timeout of the connection, or a
 * frame did not end within it of its first byte: the peer holds a slot,
 * and maybe part of its user's buffer, for nothing. */
static gboolean
deadline_passed (gpointer data)
{
  PymemdHelperConnection *self = data;
  double timeout = self->iface->read_timeout (self->owner);

  g_clear_pointer (&self->deadline, g_source_unref);
  if (self->key == NULL)
    reject (self, _("no hello within %g s"), timeout);
  else
    pymemd_helper_connection_reject (self, PYMEMD_ERROR_TIMED_OUT,
                                     _("a frame unfinished %g s after it began"), timeout);
  return G_SOURCE_REMOVE;
}

static void
arm_deadline (PymemdHelperConnection *self)
{
  if (self->deadline == NULL)
    self->deadline = pymemd_helper_timeout_attach (self->context,
                                                   self->iface->read_timeout (self->owner),
                                                   deadline_passed, self);
}

void
pymemd_helper_connection_introduce (PymemdHelperConnection *self,
                                    const char             *key,
                                    guint64                 start_time,
                                    const char             *nonce,
                                    const char             *how,
                                    guint64                 awaited)
{
  g_return_if_fail (self->key == NULL);

  pymemd_helper_source_clear (&self->deadline);
  self->start_time = start_time;
  self->key = g_strdup (key);
  self->nonce = g_strdup (nonce);
  self->how = g_strdup (how);
  self->awaited = awaited;
}

/* ---------------------------------------------------------------- answers */

/* The request ANSWER (of TYPE) answers, or the connection rejected. */
static gboolean
check_answer_id (PymemdHelperConnection *self, JsonObject *answer, const char *type)
{
  gint64 id;

  if (!pymemd_helper_message_int (answer, "id", 1, G_MAXINT32, &id))
    {
      reject (self, _("%s: “id” must be an integer from 1 to %d"), type, G_MAXINT32);
      return FALSE;
    }
  if (self->request_id == 0)
    {
      reject (self, _("unsolicited %s (id %d)"), type, (int) id);
      return FALSE;
    }
  if (id != self->request_id)
    {
      reject (self, _("%s answers request %d, not %u"), type, (int) id, self->request_id);
      return FALSE;
    }
  return TRUE;
}

/* The outstanding request is answered: its task (NULL if abandoned). */
static GTask *
request_done (PymemdHelperConnection *self)
{
  self->request_id = 0;
  pymemd_helper_source_clear (&self->request_timeout);
  pymemd_helper_source_clear (&self->request_cancelled);
  g_clear_pointer (&self->graph, pymemd_heap_graph_free);
  g_clear_pointer (&self->name_steps, g_array_unref);
  return g_steal_pointer (&self->request);
}

/* A summary lists at most the types and sites the request asked for. */
static gboolean
summary_fits_request (PymemdHelperConnection *self, const PymemdHeapSummary *summary)
{
  JsonObject *root = json_node_get_object (summary->document);
  JsonObject *census = json_object_get_object_member (root, "census");
  JsonNode *tracemalloc = json_object_get_member (root, "tracemalloc");
  guint types = json_array_get_length (json_object_get_array_member (census, "types"));
  guint sites = 0;

  if (JSON_NODE_HOLDS_OBJECT (tracemalloc))
    sites = json_array_get_length (json_object_get_array_member (json_node_get_object (tracemalloc),
                                                                 "sites"));
  if (types > self->request_top || sites > self->request_sites)
    {
      reject (self, _("the summary lists %u types and %u sites, the request asked for "
                      "at most %u and %u"), types, sites, self->request_top,
              self->request_sites);
      return FALSE;
    }
  return TRUE;
}

static void
handle_summary (PymemdHelperConnection *self, JsonObject *message)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GTask) task = NULL;
  g_autoptr(Answer) answer = g_new0 (Answer, 1);

  if (!check_answer_id (self, message, "summary"))
    return;
  if (self->name_steps != NULL)
    {
      reject (self, _("a summary answers a “name” request"));
      return;
    }
  answer->summary = pymemd_heap_summary_new_from_json (json_object_get_member (message, "summary"), &error);
  if (answer->summary == NULL)
    {
      reject (self, "%s", error->message);
      return;
    }
  if (!summary_fits_request (self, answer->summary))
    return;
  if (self->graph != NULL && pymemd_heap_graph_has_frames (self->graph) &&
      !pymemd_heap_graph_is_ended (self->graph))
    {
      reject (self, _("the summary came before the object graph's end"));
      return;
    }
  if (self->graph != NULL && pymemd_heap_graph_is_ended (self->graph))
    answer->graph = g_steal_pointer (&self->graph);
  else if (self->graph != NULL)
    answer->no_graph = g_strdup (_("the helper in the process is older than the daemon and does not walk the object "
                                   "graph"));
  task = request_done (self);
  if (task != NULL)
    g_task_return_pointer (task, g_steal_pointer (&answer), (GDestroyNotify) answer_free);
}

static void
handle_names (PymemdHelperConnection *self, JsonObject *message)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GTask) task = NULL;
  JsonNode *names = json_object_get_member (message, "names");

  if (!check_answer_id (self, message, "names"))
    return;
  if (self->name_steps == NULL)
    {
      reject (self, _("names answer a summary request"));
      return;
    }
  if (!pymemd_retained_names_check (names, self->name_steps, &error))
    {
      reject (self, "%s", error->message);
      return;
    }
  task = request_done (self);
  if (task != NULL)
    g_task_return_pointer (task, json_node_copy (names), (GDestroyNotify) json_node_unref);
}

/* A binary frame: the object graph's. */
static void
handle_binary (PymemdHelperConnection *self, const guint8 *body, gsize len)
{
  g_autoptr(GError) error = NULL;

  if (self->key == NULL)
    {
      reject (self, _("the first message is a binary frame, not a hello"));
      return;
    }
  if (self->graph == NULL)
    {
      reject (self, _("an object graph frame no request asked for"));
      return;
    }
  if (!pymemd_heap_graph_add_frame (self->graph, body, len, &error))
    reject (self, "%s", error->message);
}

static void
handle_error (PymemdHelperConnection *self, JsonObject *message)
{
  g_autoptr(GTask) task = NULL;
  const char *text;

  if (!check_answer_id (self, message, "error"))
    return;
  text = pymemd_helper_message_string (message, "message", 1024);
  if (text == NULL)
    {
      reject (self, _("error: “message” must be a string of at most 1024 characters, "
                      "none of them a control character"));
      return;
    }
  task = request_done (self);
  if (task != NULL)
    g_task_return_new_error (task, PYMEMD_ERROR, PYMEMD_ERROR_FAILED, "%s", text);
}

/* ----------------------------------------------------------------- frames */

static void
handle_frame (PymemdHelperConnection *self, const char *body, gsize len)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GError) error = NULL;
  JsonNode *root;
  JsonObject *message;
  const char *type;
  gint64 version;

  /* No JSON text begins with a NUL byte: the object graph's frames do. */
  if (len > 0 && body[0] == '\0')
    {
      handle_binary (self, (const guint8 *) body, len);
      return;
    }
  if (!g_utf8_validate (body, (gssize) len, NULL))
    {
      reject (self, _("a frame is not UTF-8"));
      return;
    }
  if (!pymemd_heap_json_depth_ok (body, len))
    {
      reject (self, _("a frame nests deeper than %d levels"), PYMEMD_HEAP_JSON_MAX_DEPTH);
      return;
    }
  if (!json_parser_load_from_data (parser, body, (gssize) len, &error))
    {
      reject (self, _("a frame is not JSON: %s"), error->message);
      return;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      reject (self, _("a frame is not a JSON object"));
      return;
    }
  message = json_node_get_object (root);
  if (!pymemd_helper_message_int (message, "v", PYMEMD_HELPER_PROTOCOL_VERSION,
                                  PYMEMD_HELPER_PROTOCOL_VERSION, &version))
    {
      reject (self, _("protocol version (“v”) is not %d"), PYMEMD_HELPER_PROTOCOL_VERSION);
      return;
    }
  type = pymemd_helper_message_string (message, "type", 16);
  if (type == NULL || (strcmp (type, "hello") != 0 && strcmp (type, "summary") != 0 &&
                       strcmp (type, "error") != 0 && strcmp (type, "failed") != 0 &&
                       strcmp (type, "names") != 0))
    {
      reject (self, _("unknown message type"));
      return;
    }
  if (self->key == NULL && strcmp (type, "hello") != 0 && strcmp (type, "failed") != 0)
    {
      reject (self, _("the first message is a %s, not a hello"), type);
      return;
    }
  if (self->key != NULL && strcmp (type, "failed") == 0)
    {
      reject (self, _("a failed after a hello"));
      return;
    }

  if (strcmp (type, "hello") == 0 || strcmp (type, "failed") == 0)
    self->iface->introduce (self, type, message, self->owner);
  else if (strcmp (type, "summary") == 0)
    handle_summary (self, message);
  else if (strcmp (type, "names") == 0)
    handle_names (self, message);
  else
    handle_error (self, message);
}

/* The peer ended the connection after what it has sent. */
static void
peer_ended (PymemdHelperConnection *self)
{
  g_autoptr(GError) error = NULL;

  if (!pymemd_helper_frame_reader_end (&self->reader, &error))
    reject (self, "%s", error->message);
  else if (self->key == NULL)
    reject (self, _("the connection ended before a hello"));
  else
    {
      g_debug ("Helper of process %d disconnected", self->peer_pid);
      connection_close (self, NULL, NULL);
    }
}

/* Adds DATA (LEN bytes) to the frame being received, within what its uid
 * may hold, and handles the frame once complete. */
static void
frame_received (PymemdHelperConnection *self, const guint8 *data, gsize len)
{
  g_autoptr(GByteArray) frame = NULL;
  g_autoptr(GError) error = NULL;
  gboolean in_body = pymemd_helper_frame_reader_in_body (&self->reader);

  if (!in_body && pymemd_helper_frame_reader_is_idle (&self->reader) && self->key != NULL)
    arm_deadline (self);
  if (in_body && !self->iface->hold (self, len, self->owner))
    return;
  if (!pymemd_helper_frame_reader_add (&self->reader, data, len, &frame, &error))
    {
      reject (self, "%s", error->message);
      return;
    }
  /* A frame no request asked for, or a first frame longer than any hello,
   * is refused on its header: a peer looping on them costs no reading or
   * parsing of a body. */
  if (!in_body && pymemd_helper_frame_reader_in_body (&self->reader))
    {
      gsize announced = pymemd_helper_frame_reader_wanted (&self->reader);

      if (self->key == NULL && announced > PYMEMD_HELPER_MAX_FIRST_FRAME)
        {
          reject (self, _("the first frame announces %" G_GSIZE_FORMAT " bytes (a hello has at most %d)"),
                  announced, PYMEMD_HELPER_MAX_FIRST_FRAME);
          return;
        }
      if (self->key != NULL && self->request_id == 0)
        {
          reject (self, _("an unsolicited frame of %" G_GSIZE_FORMAT " bytes (no request is outstanding)"),
                  announced);
          return;
        }
    }
  if (frame == NULL)
    return;

  if (self->key != NULL)
    pymemd_helper_source_clear (&self->deadline);
  self->iface->release (self, frame->len, self->owner);
  handle_frame (self, (const char *) frame->data, frame->len);
}

/* Reads what the peer has sent, up to a READ_CHUNK, handling the frames it
 * completes; never waits. */
static void
connection_read (PymemdHelperConnection *self)
{
  /* Answers complete callers' tasks, whose code may drop the owner. */
  g_autoptr(GObject) hold_owner = g_object_ref (self->owner);
  g_autoptr(PymemdHelperConnection) hold = pymemd_helper_connection_ref (self);
  gsize budget = PYMEMD_HELPER_CONNECTION_READ_CHUNK;

  while (self->owner != NULL && budget > 0)
    {
      gsize want = pymemd_helper_frame_reader_wanted (&self->reader);
      ssize_t n = recv (self->fd, self->read_buffer, MIN (want, budget), MSG_DONTWAIT);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
      if (n < 0)
        {
          int errsv = errno;
          if (pymemd_helper_frame_reader_is_idle (&self->reader) && self->key != NULL)
            {
              g_debug ("Helper of process %d: %s", self->peer_pid, g_strerror (errsv));
              connection_close (self, NULL, NULL);
            }
          else
            reject (self, _("reading a frame failed: %s"), g_strerror (errsv));
          return;
        }
      if (n == 0)
        {
          peer_ended (self);
          return;
        }
      budget -= (gsize) n;
      frame_received (self, self->read_buffer, (gsize) n);
    }
}

static gboolean
on_readable (int fd, GIOCondition condition, gpointer data)
{
  connection_read (data);
  return G_SOURCE_CONTINUE;
}

void
pymemd_helper_connection_start (PymemdHelperConnection *self)
{
  g_autoptr(PymemdHelperConnection) hold = pymemd_helper_connection_ref (self);

  g_return_if_fail (self->owner != NULL && self->read_source == NULL);

  /* A helper sends its hello as it connects, and a bad peer its bad bytes:
   * most connections are decided here, before anything is set up. */
  connection_read (self);
  if (self->owner == NULL)
    return;
  if (self->key == NULL)
    arm_deadline (self);
  self->read_source = pymemd_helper_source_attach (self->context,
                                                   g_unix_fd_source_new (self->fd, G_IO_IN | G_IO_HUP | G_IO_ERR),
                                                   G_SOURCE_FUNC (on_readable), self);
}

/* --------------------------------------------------------------- requests */

static gboolean
request_timed_out (gpointer data)
{
  PymemdHelperConnection *self = data;

  g_clear_pointer (&self->request_timeout, g_source_unref);
  log_peer (self, _("The helper of process %d did not answer request %u in time; closing its connection"),
            self->peer_pid, self->request_id);
  connection_close (self, NULL,
                    g_error_new (PYMEMD_ERROR, PYMEMD_ERROR_TIMED_OUT,
                                 _("The helper of process %d did not answer in time"), self->peer_pid));
  return G_SOURCE_REMOVE;
}

/* The caller gave up: the answer is still awaited (and then dropped), so
 * that a late one is not taken for an unsolicited one. */
static gboolean
request_cancelled (GCancellable *cancellable, gpointer data)
{
  PymemdHelperConnection *self = data;
  g_autoptr(GTask) task = g_steal_pointer (&self->request);
  GError *error = NULL;

  pymemd_helper_source_clear (&self->request_cancelled);
  g_cancellable_set_error_if_cancelled (cancellable, &error);
  g_task_return_error (task, error);
  return G_SOURCE_REMOVE;
}

/* Makes TASK the outstanding request ID, with its timeout and
 * cancellation. */
static void
start_request (PymemdHelperConnection *self, guint32 id, GTask *task, double timeout, GCancellable *cancellable)
{
  g_return_if_fail (self->owner != NULL && self->request_id == 0 && id != 0);

  self->request_id = id;
  self->request = task;
  self->request_timeout = pymemd_helper_timeout_attach (self->context, timeout, request_timed_out, self);
  if (cancellable != NULL)
    self->request_cancelled = pymemd_helper_source_attach (self->context, g_cancellable_source_new (cancellable),
                                                           G_SOURCE_FUNC (request_cancelled), self);
}

void
pymemd_helper_connection_request (PymemdHelperConnection  *self,
                                  guint32                  id,
                                  const PymemdHeapRequest *request,
                                  GTask                   *task,
                                  double                   timeout,
                                  GCancellable            *cancellable)
{
  g_autofree char *json = NULL;

  self->request_top = request->top;
  self->request_sites = request->sites;
  start_request (self, id, task, timeout, cancellable);
  if (request->graph_memory > 0)
    {
      guint64 objects, edges;
      pymemd_heap_graph_limits_for_memory (request->graph_memory, &objects, &edges);
      self->graph = pymemd_heap_graph_new (id, objects, edges, request->graph_memory);
    }
  json = pymemd_helper_message_request (id, request);
  send_message (self, json);
}

void
pymemd_helper_connection_name (PymemdHelperConnection *self,
                               guint32                 id,
                               JsonNode               *paths,
                               GArray                 *steps,
                               GTask                  *task,
                               double                  timeout,
                               GCancellable           *cancellable)
{
  g_autofree char *json = NULL;

  self->name_steps = g_array_ref (steps);
  start_request (self, id, task, timeout, cancellable);
  json = pymemd_helper_message_name (id, paths);
  send_message (self, json);
}

PymemdHeapSummary *
pymemd_helper_connection_propagate_summary (GTask            *task,
                                            PymemdHeapGraph **graph,
                                            char            **no_graph,
                                            GError          **error)
{
  g_autoptr(Answer) answer = g_task_propagate_pointer (task, error);

  if (answer == NULL)
    return NULL;
  if (graph != NULL)
    *graph = g_steal_pointer (&answer->graph);
  if (no_graph != NULL)
    *no_graph = g_steal_pointer (&answer->no_graph);
  return g_steal_pointer (&answer->summary);
}
