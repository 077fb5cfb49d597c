/* Serves the helpers' Unix socket: believes a peer only as the process SO_PEERCRED names, bounds what each user's connections may hold, reads bounded frames, and pairs each request with its answer. */
#include "config.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib/gi18n.h>

#include "pymemd-error.h"
#include "pymemd-helper-channel.h"
#include "pymemd-pidfiles.h"
#include "pymemd-procfs.h"
#include "pymemd-rate-limit.h"

#define MAX_REASON_CHARS    200 /* of a rejection's reason, which may quote the peer */
/* What one wake-up of a connection reads at most: a helper sending a large
 * frame does not hold up the main loop. */
#define READ_CHUNK          (64 * 1024)
/* Connections accepted per wake-up. After a full batch, accepting pauses,
 * so that a loop of connect and close costs the daemon at most a batch per
 * pause however fast it runs; the others wait in the backlog meanwhile. */
#define ACCEPT_BATCH        16
#define ACCEPT_PAUSE_MS     10
#define ACCEPT_ERROR_MS     1000 /* after EMFILE and the like */
#define LISTEN_BACKLOG      128
/* malloc keeps what frames freed resident; given back after this much. */
#define TRIM_AFTER_BYTES    (1024 * 1024)
#define TRIM_DELAY_MS       1000

/* One connection, from accept to close. Whoever runs code that may close
 * it holds a reference, so that it outlives its closing. */
typedef struct {
  int                  ref_count;
  PymemdHelperChannel *channel;     /* NULL once closed */
  int                  fd;          /* -1 once closed */
  GSource             *read_source;
  GSource             *write_source; /* while a frame waits for room */
  gint32               peer_pid;    /* SO_PEERCRED */
  guint32              peer_uid;
  guint64              serial;      /* accepted as the channel's SERIALth connection */
  guint64              awaited;     /* its hello was the one a wait was for: the AWAITEDth such; 0 if not */
  char                *key;         /* "pid:start_time" once its hello was valid */
  guint64              start_time;
  char                *nonce;
  char                *how;
  GSource             *deadline;    /* the hello's, then each begun frame's */
  guint8               header[4];
  gsize                header_len;  /* bytes of HEADER received */
  GByteArray          *body;        /* what came of the frame HEADER announced */
  guint32              body_len;
  guint32              request_id;  /* the outstanding request, 0: none */
  guint                request_top; /* ... and the most types and sites it asked for */
  guint                request_sites;
  PymemdHeapGraph     *graph;       /* ... the object graph it asked for, as it comes */
  GArray              *name_steps;  /* a "name" request's: each path's steps (guint); NULL: a summary */
  GTask               *request;     /* NULL when its caller gave up: the answer is still due */
  GSource             *request_timeout;
  GSource             *request_cancelled;
  GQueue               writes;      /* GBytes frames behind the one being written */
  GBytes              *writing;
  gsize                written;     /* bytes of WRITING sent */
} Helper;

/* What the connections of one uid hold. */
typedef struct {
  guint connections;
  gsize buffered; /* bytes received of unfinished frames */
} UidUsage;

/* A pymemd_helper_channel_wait_async () call. */
typedef struct {
  GTask   *task;
  gint32   pid;
  guint64  start_time;
  char    *nonce;
  GSource *timeout;
  GSource *cancelled;
} Waiter;

struct _PymemdHelperChannel
{
  GObject             parent_instance;

  char               *path;
  dev_t               socket_dev; /* the socket we made, unlinked at disposal if still ours */
  ino_t               socket_ino;
  PymemdProcfs       *procfs;
  GMainContext       *context;
  int                 listen_fd;
  GSource            *accept_source; /* NULL while accepting pauses */
  GSource            *accept_pause;
  GHashTable         *connections; /* set of Helper, with a reference each */
  GHashTable         *helpers;     /* key -> Helper that said hello (borrowed from connections) */
  GHashTable         *uids;        /* uid -> UidUsage */
  GHashTable         *pids;        /* pid -> its connections */
  GPtrArray          *waiters;     /* of Waiter */
  guint32             last_request_id;
  guint64             last_serial;
  guint64             last_awaited;
  PymemdHelperLimits  limits;
  PymemdRateLimit    *log_limit;   /* lines about the peers of each uid */
  guint8             *read_buffer; /* READ_CHUNK, shared: reads never wait */
  gsize               freed_since_trim;
  GSource            *trim_source;
};

enum {
  SIGNAL_HELPER_CONNECTED,
  SIGNAL_HELPER_DISCONNECTED,
  SIGNAL_REJECTED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_TYPE (PymemdHelperChannel, pymemd_helper_channel, G_TYPE_OBJECT)

void
pymemd_helper_limits_init (PymemdHelperLimits *limits)
{
  limits->connections = 1024;
  limits->connections_per_uid = 128;
  limits->connections_per_pid = 4;
  limits->buffer_per_uid = 8 * 1024 * 1024;
  limits->read_timeout = 10;
  limits->log_lines_per_uid = 20;
  limits->log_window = 60;
}

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

/* ---------------------------------------------------------------- helpers */

static Helper *
helper_ref (Helper *helper)
{
  helper->ref_count++;
  return helper;
}

static void
helper_unref (Helper *helper)
{
  if (--helper->ref_count > 0)
    return;
  g_assert (helper->channel == NULL && helper->request == NULL && helper->fd < 0);
  g_free (helper->key);
  g_free (helper->nonce);
  g_free (helper->how);
  g_queue_clear_full (&helper->writes, (GDestroyNotify) g_bytes_unref);
  g_clear_pointer (&helper->writing, g_bytes_unref);
  g_free (helper);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Helper, helper_unref)

static char *
identity_key (gint32 pid, guint64 start_time)
{
  return g_strdup_printf ("%d:%" G_GUINT64_FORMAT, pid, start_time);
}

static GSource *
attach_source (PymemdHelperChannel *self, GSource *source, GSourceFunc func, gpointer data)
{
  g_source_set_callback (source, func, data, NULL);
  g_source_attach (source, self->context);
  return source;
}

static GSource *
attach_timeout (PymemdHelperChannel *self, double seconds, GSourceFunc func, gpointer data)
{
  double ms = seconds > 0 ? seconds * 1000 + 0.5 : 0; /* NaN: 0 */
  guint interval = ms < G_MAXUINT ? (guint) ms : G_MAXUINT;

  return attach_source (self, g_timeout_source_new (interval), func, data);
}

static void
clear_source (GSource **source)
{
  if (*source == NULL)
    return;
  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}

/* Logs a message about a connection of PID (0: unknown) and UID, unless
 * the lines about that uid's connections are spent for the window
 * (limits.log_lines_per_uid per limits.log_window): one user's flood of bad
 * connections cannot flood the journal. What is held back is counted, and
 * the count logged when the window ends (log_suppressed). */
static void G_GNUC_PRINTF (4, 5)
log_peer (PymemdHelperChannel *self, gint32 pid, guint32 uid, const char *format, ...)
{
  g_autofree char *message = NULL;
  char pid_text[16], uid_text[16];
  va_list ap;

  if (!pymemd_rate_limit_take (self->log_limit, uid, NULL))
    return;
  va_start (ap, format);
  message = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_snprintf (pid_text, sizeof pid_text, "%d", pid);
  g_snprintf (uid_text, sizeof uid_text, "%u", uid);
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "PYMEMD_HELPER_PID", pid_text,
                    "PYMEMD_HELPER_UID", uid_text, "MESSAGE", "%s", message);
}

static void
log_suppressed (guint32 uid, guint refused, double window_seconds, gpointer user_data)
{
  char uid_text[16];

  g_snprintf (uid_text, sizeof uid_text, "%u", uid);
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "PYMEMD_HELPER_UID", uid_text, "MESSAGE",
                    ngettext ("%u more message about helper connections of uid %u was not "
                              "logged in the last %g s",
                              "%u more messages about helper connections of uid %u were not "
                              "logged in the last %g s", refused),
                    refused, uid, window_seconds);
}

static void
log_rejection (PymemdHelperChannel *self, gint32 pid, guint32 uid, const char *reason)
{
  log_peer (self, pid, uid, _("Helper connection of process %d closed: %s"), pid, reason);
}

#ifdef __GLIBC__
static gboolean
trim_memory (gpointer data)
{
  PymemdHelperChannel *self = data;

  g_clear_pointer (&self->trim_source, g_source_unref);
  self->freed_since_trim = 0;
  malloc_trim (0);
  return G_SOURCE_REMOVE;
}
#endif

/* BYTES of frames were freed. Once glibc has seen large blocks freed, it
 * serves frame buffers from its heap and keeps what they free resident:
 * after a megabyte, it is asked to give it back (at most once a
 * TRIM_DELAY_MS). */
static void
note_freed (PymemdHelperChannel *self, gsize bytes)
{
#ifdef __GLIBC__
  self->freed_since_trim += bytes;
  if (self->freed_since_trim >= TRIM_AFTER_BYTES && self->trim_source == NULL)
    self->trim_source = attach_timeout (self, TRIM_DELAY_MS / 1000.0, trim_memory, self);
#endif
}

/* Drops the frame HELPER was receiving, and its bytes from its uid's. */
static void
drop_body (PymemdHelperChannel *self, Helper *helper)
{
  UidUsage *usage = g_hash_table_lookup (self->uids, GUINT_TO_POINTER (helper->peer_uid));

  if (helper->body == NULL)
    return;
  usage->buffered -= helper->body->len;
  note_freed (self, helper->body->len);
  g_clear_pointer (&helper->body, g_byte_array_unref);
}

/* HELPER's connection no longer counts against its uid, pid and all. */
static void
release_usage (PymemdHelperChannel *self, Helper *helper)
{
  gpointer uid = GUINT_TO_POINTER (helper->peer_uid), pid = GINT_TO_POINTER (helper->peer_pid);
  UidUsage *usage = g_hash_table_lookup (self->uids, uid);
  guint same_pid = GPOINTER_TO_UINT (g_hash_table_lookup (self->pids, pid));

  drop_body (self, helper);
  if (--usage->connections == 0)
    g_hash_table_remove (self->uids, uid);
  if (same_pid > 1)
    g_hash_table_insert (self->pids, pid, GUINT_TO_POINTER (same_pid - 1));
  else
    g_hash_table_remove (self->pids, pid);
}

/* Closes HELPER's connection (if still open): it is unregistered, its
 * outstanding request fails with REQUEST_ERROR (taken; NULL: no request is
 * expected), and REJECTION, when not NULL, is logged and signalled. */
static void
helper_close (Helper *helper, const char *rejection, GError *request_error)
{
  g_autoptr(GError) owned_error = request_error;
  g_autoptr(PymemdHelperChannel) self = NULL;
  g_autoptr(Helper) hold = helper_ref (helper);
  g_autoptr(GTask) request = NULL;
  gboolean was_registered = FALSE;

  if (helper->channel == NULL)
    return;
  self = g_object_ref (g_steal_pointer (&helper->channel));
  if (helper->key != NULL && g_hash_table_lookup (self->helpers, helper->key) == helper)
    was_registered = g_hash_table_remove (self->helpers, helper->key);

  clear_source (&helper->read_source);
  clear_source (&helper->write_source);
  clear_source (&helper->deadline);
  clear_source (&helper->request_timeout);
  clear_source (&helper->request_cancelled);
  close (helper->fd);
  helper->fd = -1;
  release_usage (self, helper);
  g_queue_clear_full (&helper->writes, (GDestroyNotify) g_bytes_unref);
  g_clear_pointer (&helper->writing, g_bytes_unref);
  request = g_steal_pointer (&helper->request);
  helper->request_id = 0;
  /* A graph half received is dropped with its connection. */
  g_clear_pointer (&helper->graph, pymemd_heap_graph_free);
  g_clear_pointer (&helper->name_steps, g_array_unref);
  g_hash_table_remove (self->connections, helper);

  /* The state is consistent from here on: callers' code may run. */
  if (rejection != NULL)
    {
      log_rejection (self, helper->peer_pid, helper->peer_uid, rejection);
      g_signal_emit (self, signals[SIGNAL_REJECTED], 0, (int) helper->peer_pid, rejection);
    }
  if (request != NULL)
    {
      if (owned_error == NULL)
        owned_error = g_error_new (PYMEMD_ERROR, PYMEMD_ERROR_NOT_ATTACHED,
                                   _("The helper of process %d disconnected"), helper->peer_pid);
      g_task_return_error (request, g_steal_pointer (&owned_error));
    }
  if (was_registered)
    g_signal_emit (self, signals[SIGNAL_HELPER_DISCONNECTED], 0, (int) helper->peer_pid,
                   helper->start_time);
}

/* Closes HELPER for REASON (FORMAT, AP): logged with its pid, signalled,
 * and its outstanding request fails with CODE. */
static void
helper_vreject (Helper *helper, PymemdError code, const char *format, va_list ap)
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
  helper_close (helper, reason,
                code == PYMEMD_ERROR_PROTOCOL
                ? g_error_new (PYMEMD_ERROR, code,
                               _("The helper of process %d broke the protocol: %s"),
                               helper->peer_pid, reason)
                : g_error_new (PYMEMD_ERROR, code,
                               _("The connection of the helper of process %d was closed: %s"),
                               helper->peer_pid, reason));
}

/* Closes HELPER for breaking the protocol (PYMEMD_ERROR_PROTOCOL). */
static void G_GNUC_PRINTF (2, 3)
helper_reject (Helper *helper, const char *format, ...)
{
  va_list ap;

  va_start (ap, format);
  helper_vreject (helper, PYMEMD_ERROR_PROTOCOL, format, ap);
  va_end (ap);
}

/* Closes HELPER for passing a limit: its request fails with CODE. */
static void G_GNUC_PRINTF (3, 4)
helper_reject_for (Helper *helper, PymemdError code, const char *format, ...)
{
  va_list ap;

  va_start (ap, format);
  helper_vreject (helper, code, format, ap);
  va_end (ap);
}

/* ----------------------------------------------------------------- writes */

static void write_next (Helper *helper);

static gboolean
on_writable (int fd, GIOCondition condition, gpointer data)
{
  Helper *helper = data;
  g_autoptr(Helper) hold = helper_ref (helper);

  g_clear_pointer (&helper->write_source, g_source_unref);
  write_next (helper);
  return G_SOURCE_REMOVE;
}

/* Sends what is queued until the socket is full; the rest waits for room. */
static void
write_next (Helper *helper)
{
  while (helper->channel != NULL)
    {
      const guint8 *data;
      gsize size;
      ssize_t n;

      if (helper->writing == NULL)
        {
          helper->writing = g_queue_pop_head (&helper->writes);
          helper->written = 0;
          if (helper->writing == NULL)
            return;
        }
      data = g_bytes_get_data (helper->writing, &size);
      n = send (helper->fd, data + helper->written, size - helper->written,
                MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        {
          if (helper->write_source == NULL)
            helper->write_source = attach_source (helper->channel,
                                                  g_unix_fd_source_new (helper->fd,
                                                                        G_IO_OUT | G_IO_HUP | G_IO_ERR),
                                                  G_SOURCE_FUNC (on_writable), helper);
          return;
        }
      if (n < 0)
        {
          int errsv = errno;
          log_peer (helper->channel, helper->peer_pid, helper->peer_uid,
                    _("Cannot write to the helper of process %d: %s"), helper->peer_pid,
                    g_strerror (errsv));
          helper_close (helper, NULL, NULL);
          return;
        }
      helper->written += (gsize) n;
      if (helper->written == size)
        g_clear_pointer (&helper->writing, g_bytes_unref);
    }
}

static void
helper_send (Helper *helper, const char *json)
{
  gsize len = strlen (json);
  guint32 header = GUINT32_TO_BE ((guint32) len);
  GByteArray *frame = g_byte_array_sized_new ((guint) (len + sizeof header));

  g_byte_array_append (frame, (const guint8 *) &header, sizeof header);
  g_byte_array_append (frame, (const guint8 *) json, (guint) len);
  g_queue_push_tail (&helper->writes, g_byte_array_free_to_bytes (frame));
  write_next (helper);
}

/* ------------------------------------------------------------------ waits */

static void
waiter_free (Waiter *waiter)
{
  clear_source (&waiter->timeout);
  clear_source (&waiter->cancelled);
  g_clear_object (&waiter->task);
  g_free (waiter->nonce);
  g_free (waiter);
}

/* Takes WAITER off the list and completes it: with ERROR (taken), or TRUE. */
static void
waiter_complete (PymemdHelperChannel *self, Waiter *waiter, GError *error)
{
  g_autoptr(GTask) task = g_steal_pointer (&waiter->task);

  g_ptr_array_remove_fast (self->waiters, waiter); /* frees it */
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static gboolean
helper_satisfies (Helper *helper, const char *nonce)
{
  return nonce == NULL || g_strcmp0 (helper->nonce, nonce) == 0;
}

static gboolean
wait_timed_out (gpointer data)
{
  Waiter *waiter = data;
  PymemdHelperChannel *self = g_task_get_source_object (waiter->task);

  waiter_complete (self, waiter,
                   g_error_new (PYMEMD_ERROR, PYMEMD_ERROR_TIMED_OUT,
                                _("No helper of process %d said hello in time"), waiter->pid));
  return G_SOURCE_REMOVE;
}

static gboolean
wait_cancelled (GCancellable *cancellable, gpointer data)
{
  Waiter *waiter = data;
  PymemdHelperChannel *self = g_task_get_source_object (waiter->task);
  GError *error = NULL;

  g_cancellable_set_error_if_cancelled (cancellable, &error);
  waiter_complete (self, waiter, error);
  return G_SOURCE_REMOVE;
}

void
pymemd_helper_channel_wait_async (PymemdHelperChannel *self,
                                  gint32               pid,
                                  guint64              start_time,
                                  const char          *nonce,
                                  double               timeout,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *key = identity_key (pid, start_time);
  Helper *helper;
  Waiter *waiter;

  g_return_if_fail (PYMEMD_IS_HELPER_CHANNEL (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pymemd_helper_channel_wait_async);
  helper = g_hash_table_lookup (self->helpers, key);
  if (helper != NULL && helper_satisfies (helper, nonce))
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (g_task_return_error_if_cancelled (task))
    return;

  waiter = g_new0 (Waiter, 1);
  waiter->task = g_steal_pointer (&task);
  waiter->pid = pid;
  waiter->start_time = start_time;
  waiter->nonce = g_strdup (nonce);
  waiter->timeout = attach_timeout (self, timeout, wait_timed_out, waiter);
  if (cancellable != NULL)
    waiter->cancelled = attach_source (self, g_cancellable_source_new (cancellable),
                                       G_SOURCE_FUNC (wait_cancelled), waiter);
  g_ptr_array_add (self->waiters, waiter);
}

gboolean
pymemd_helper_channel_wait_finish (PymemdHelperChannel *self,
                                   GAsyncResult        *result,
                                   GError             **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
complete_waiters (PymemdHelperChannel *self, Helper *helper)
{
  g_autoptr(GPtrArray) done = g_ptr_array_new ();

  /* Completing may run callers' code that adds waiters: pick first. */
  for (guint i = 0; i < self->waiters->len; i++)
    {
      Waiter *waiter = g_ptr_array_index (self->waiters, i);
      if (waiter->pid == helper->peer_pid && waiter->start_time == helper->start_time &&
          helper_satisfies (helper, waiter->nonce))
        g_ptr_array_add (done, waiter);
    }
  for (guint i = 0; i < done->len; i++)
    waiter_complete (self, g_ptr_array_index (done, i), NULL);
}

/* ------------------------------------------------------------------ hello */

/* The hello did not come within limits.read_timeout of the connection,
 * or a frame did not end within it of its first byte: the peer holds a
 * slot, and maybe part of its user's buffer, for nothing. */
static gboolean
deadline_passed (gpointer data)
{
  Helper *helper = data;
  double timeout = helper->channel->limits.read_timeout;

  g_clear_pointer (&helper->deadline, g_source_unref);
  if (helper->key == NULL)
    helper_reject (helper, _("no hello within %g s"), timeout);
  else
    helper_reject_for (helper, PYMEMD_ERROR_TIMED_OUT, _("a frame unfinished %g s after it began"),
                       timeout);
  return G_SOURCE_REMOVE;
}

static void
arm_deadline (Helper *helper)
{
  if (helper->deadline == NULL)
    helper->deadline = attach_timeout (helper->channel, helper->channel->limits.read_timeout,
                                       deadline_passed, helper);
}

/* The start time of process PID under the channel's procfs root, and
 * the uid /proc/PID belongs to (the process's effective uid). */
static gboolean
read_start_time (PymemdHelperChannel *self, gint32 pid, guint64 *start_time, guint32 *uid, GError **error)
{
  char buf[4096];
  PymemdStat stat_info;
  struct stat dir_stat;
  int dir_fd = pymemd_procfs_open_pid_dir (self->procfs, pid, error);
  gboolean ok;

  if (dir_fd < 0)
    return FALSE;
  ok = pymemd_procfs_read_file_at (dir_fd, "stat", buf, sizeof buf, error) >= 0 &&
       pymemd_stat_parse (buf, &stat_info, error);
  if (ok && fstat (dir_fd, &dir_stat) != 0)
    {
      int errsv = errno;
      g_set_error (error, PYMEMD_ERROR, pymemd_error_from_errno (errsv), "%s", g_strerror (errsv));
      ok = FALSE;
    }
  close (dir_fd);
  if (ok)
    {
      *start_time = stat_info.start_time;
      *uid = (guint32) dir_stat.st_uid;
    }
  return ok;
}

/* Whether a wait is for HELPER's nonce: an attach has just brought it in. */
static gboolean
is_awaited (PymemdHelperChannel *self, Helper *helper)
{
  for (guint i = 0; i < self->waiters->len; i++)
    {
      Waiter *waiter = g_ptr_array_index (self->waiters, i);

      if (waiter->pid == helper->peer_pid && waiter->start_time == helper->start_time && waiter->nonce != NULL &&
          g_strcmp0 (waiter->nonce, helper->nonce) == 0)
        return TRUE;
    }
  return FALSE;
}

/* Whether requests should go to A rather than B, two connections of one
 * process: a helper has one connection at a time, so one of them is left
 * over — by a daemon restart, or by a bootstrap that ran late — and its
 * hello may be read after the other's. The one an attach waited for
 * (the latest such) wins, then the one accepted last. */
static gboolean
helper_preferred (const Helper *a, const Helper *b)
{
  if (a->awaited != b->awaited)
    return a->awaited > b->awaited;
  return a->serial > b->serial;
}

/* Makes HELPER, which said hello, its process's connection, unless the
 * one there is to be preferred: then HELPER is closed (FALSE), the other
 * stays and its request goes on. */
static gboolean
helper_register (Helper *helper)
{
  PymemdHelperChannel *self = helper->channel;
  Helper *old = g_hash_table_lookup (self->helpers, helper->key);

  if (old != NULL && !helper_preferred (helper, old))
    {
      g_debug ("Helper of process %d: a left-over connection said hello; the one there stays", helper->peer_pid);
      helper_close (helper, NULL, NULL);
      return FALSE;
    }
  if (old != NULL)
    {
      g_hash_table_remove (self->helpers, old->key);
      helper_close (old, NULL,
                    g_error_new (PYMEMD_ERROR, PYMEMD_ERROR_NOT_ATTACHED,
                                 _("The helper of process %d reconnected"), old->peer_pid));
    }
  g_hash_table_insert (self->helpers, g_strdup (helper->key), helper);
  return TRUE;
}

/* The members every first message has — "pid", "start_time", "nonce" —
 * checked against the peer: its pid, its start time, and the uid its
 * /proc directory has. FALSE when HELPER was rejected. */
static gboolean
check_peer (Helper *helper, JsonObject *message, const char *type, guint64 *start_time, const char **nonce)
{
  PymemdHelperChannel *self = helper->channel;
  g_autoptr(GError) error = NULL;
  JsonNode *nonce_node = json_object_get_member (message, "nonce");
  gint64 pid, claimed;
  guint64 actual_start_time;
  guint32 actual_uid = 0;

  *nonce = NULL;
  if (!pymemd_helper_message_int (message, "pid", 1, G_MAXINT32, &pid))
    {
      helper_reject (helper, _("%s: “pid” must be an integer from 1 to %d"), type, G_MAXINT32);
      return FALSE;
    }
  if (!pymemd_helper_message_int (message, "start_time", 1, G_MAXINT64, &claimed))
    {
      helper_reject (helper, _("%s: “start_time” must be an integer ≥ 1"), type);
      return FALSE;
    }
  if (nonce_node != NULL && !JSON_NODE_HOLDS_NULL (nonce_node))
    {
      *nonce = pymemd_helper_message_string (message, "nonce", 32);
      if (*nonce == NULL || !pymemd_helper_nonce_is_valid (*nonce))
        {
          helper_reject (helper, _("%s: “nonce” must be null or 32 lowercase hex digits"), type);
          return FALSE;
        }
    }
  if (pid != helper->peer_pid)
    {
      helper_reject (helper, _("%s claims pid %d, the peer is %d"), type, (int) pid, helper->peer_pid);
      return FALSE;
    }
  if (!read_start_time (self, helper->peer_pid, &actual_start_time, &actual_uid, &error))
    {
      helper_reject (helper, _("cannot read the start time of the peer: %s"), error->message);
      return FALSE;
    }
  /* A socket passed on to another process after its pid was reused would
   * pass the pid and start time checks; its owner must match too. */
  if (actual_uid != helper->peer_uid)
    {
      helper_reject (helper, _("the peer's uid %u is not the uid %u of process %d"), helper->peer_uid, actual_uid,
                     helper->peer_pid);
      return FALSE;
    }
  if ((guint64) claimed != actual_start_time)
    {
      helper_reject (helper, _("%s claims start time %llu, the peer started at %llu"), type,
                     (unsigned long long) claimed, (unsigned long long) actual_start_time);
      return FALSE;
    }
  *start_time = actual_start_time;
  return TRUE;
}

static void
handle_hello (Helper *helper, JsonObject *message)
{
  PymemdHelperChannel *self = helper->channel;
  const char *nonce = NULL, *python, *implementation, *how;
  guint64 start_time;

  if (helper->key != NULL)
    {
      helper_reject (helper, _("a second hello"));
      return;
    }
  if (!check_peer (helper, message, "hello", &start_time, &nonce))
    return;
  python = pymemd_helper_message_string (message, "python", 64);
  implementation = pymemd_helper_message_string (message, "implementation", 32);
  how = pymemd_helper_message_string (message, "how", 8);
  if (python == NULL || implementation == NULL)
    {
      helper_reject (helper, _("hello: “python” (≤ 64) and “implementation” (≤ 32 characters) "
                               "must be strings without control characters"));
      return;
    }
  if (how == NULL || (strcmp (how, "env") != 0 && strcmp (how, "import") != 0 &&
                      strcmp (how, "attach") != 0))
    {
      helper_reject (helper, _("hello: “how” must be env, import or attach"));
      return;
    }

  clear_source (&helper->deadline);
  helper->start_time = start_time;
  helper->key = identity_key (helper->peer_pid, helper->start_time);
  helper->nonce = g_strdup (nonce);
  helper->how = g_strdup (how);
  helper->awaited = is_awaited (self, helper) ? ++self->last_awaited : 0;
  if (!helper_register (helper))
    return;
  g_debug ("Helper of process %d (%s %s, %s) said hello", helper->peer_pid, implementation,
           python, how);
  g_signal_emit (self, signals[SIGNAL_HELPER_CONNECTED], 0, (int) helper->peer_pid,
                 helper->start_time, helper->how);
  if (helper->channel != NULL)
    complete_waiters (self, helper);
}

/* The bootstrap could not start the helper and says why: the wait for
 * its nonce fails with that reason, and the connection is closed. */
static void
handle_failed (Helper *helper, JsonObject *message)
{
  PymemdHelperChannel *self = helper->channel;
  g_autoptr(GPtrArray) failed = g_ptr_array_new ();
  const char *nonce = NULL, *text;
  guint64 start_time;

  if (!check_peer (helper, message, "failed", &start_time, &nonce))
    return;
  text = pymemd_helper_message_string (message, "message", 1024);
  if (nonce == NULL || text == NULL)
    {
      helper_reject (helper, _("failed: “nonce” must be 32 lowercase hex digits and “message” a string of at most "
                               "1024 characters, none of them a control character"));
      return;
    }
  log_peer (self, helper->peer_pid, helper->peer_uid, _("The helper could not start in process %d: %s"),
            helper->peer_pid, text);
  for (guint i = 0; i < self->waiters->len; i++)
    {
      Waiter *waiter = g_ptr_array_index (self->waiters, i);

      if (waiter->pid == helper->peer_pid && waiter->start_time == start_time &&
          g_strcmp0 (waiter->nonce, nonce) == 0)
        g_ptr_array_add (failed, waiter);
    }
  for (guint i = 0; i < failed->len; i++)
    waiter_complete (self, g_ptr_array_index (failed, i),
                     g_error_new (PYMEMD_ERROR, PYMEMD_ERROR_FAILED, _("The helper could not start in process %d: %s"),
                                  helper->peer_pid, text));
  helper_close (helper, NULL, NULL);
}

/* ---------------------------------------------------------------- answers */

/* The request ANSWER (of TYPE) answers, or the helper rejected. */
static gboolean
check_answer_id (Helper *helper, JsonObject *answer, const char *type)
{
  gint64 id;

  if (!pymemd_helper_message_int (answer, "id", 1, G_MAXINT32, &id))
    {
      helper_reject (helper, _("%s: “id” must be an integer from 1 to %d"), type, G_MAXINT32);
      return FALSE;
    }
  if (helper->request_id == 0)
    {
      helper_reject (helper, _("unsolicited %s (id %d)"), type, (int) id);
      return FALSE;
    }
  if (id != helper->request_id)
    {
      helper_reject (helper, _("%s answers request %d, not %u"), type, (int) id,
                     helper->request_id);
      return FALSE;
    }
  return TRUE;
}

/* The outstanding request is answered: its task (NULL if abandoned). */
static GTask *
request_done (Helper *helper)
{
  helper->request_id = 0;
  clear_source (&helper->request_timeout);
  clear_source (&helper->request_cancelled);
  g_clear_pointer (&helper->graph, pymemd_heap_graph_free);
  g_clear_pointer (&helper->name_steps, g_array_unref);
  return g_steal_pointer (&helper->request);
}

/* A summary lists at most the types and sites the request asked for. */
static gboolean
summary_fits_request (Helper *helper, const PymemdHeapSummary *summary)
{
  JsonObject *root = json_node_get_object (summary->document);
  JsonObject *census = json_object_get_object_member (root, "census");
  JsonNode *tracemalloc = json_object_get_member (root, "tracemalloc");
  guint types = json_array_get_length (json_object_get_array_member (census, "types"));
  guint sites = 0;

  if (JSON_NODE_HOLDS_OBJECT (tracemalloc))
    sites = json_array_get_length (json_object_get_array_member (json_node_get_object (tracemalloc),
                                                                 "sites"));
  if (types > helper->request_top || sites > helper->request_sites)
    {
      helper_reject (helper, _("the summary lists %u types and %u sites, the request asked for "
                               "at most %u and %u"), types, sites, helper->request_top,
                     helper->request_sites);
      return FALSE;
    }
  return TRUE;
}

static void
handle_summary (Helper *helper, JsonObject *message)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GTask) task = NULL;
  g_autoptr(Answer) answer = g_new0 (Answer, 1);

  if (!check_answer_id (helper, message, "summary"))
    return;
  if (helper->name_steps != NULL)
    {
      helper_reject (helper, _("a summary answers a “name” request"));
      return;
    }
  answer->summary = pymemd_heap_summary_new_from_json (json_object_get_member (message, "summary"), &error);
  if (answer->summary == NULL)
    {
      helper_reject (helper, "%s", error->message);
      return;
    }
  if (!summary_fits_request (helper, answer->summary))
    return;
  if (helper->graph != NULL && pymemd_heap_graph_has_frames (helper->graph) &&
      !pymemd_heap_graph_is_ended (helper->graph))
    {
      helper_reject (helper, _("the summary came before the object graph's end"));
      return;
    }
  if (helper->graph != NULL && pymemd_heap_graph_is_ended (helper->graph))
    answer->graph = g_steal_pointer (&helper->graph);
  else if (helper->graph != NULL)
    answer->no_graph = g_strdup (_("the helper in the process is older than the daemon and does not walk the object "
                                   "graph"));
  task = request_done (helper);
  if (task != NULL)
    g_task_return_pointer (task, g_steal_pointer (&answer), (GDestroyNotify) answer_free);
}

static void
handle_names (Helper *helper, JsonObject *message)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GTask) task = NULL;
  JsonNode *names = json_object_get_member (message, "names");

  if (!check_answer_id (helper, message, "names"))
    return;
  if (helper->name_steps == NULL)
    {
      helper_reject (helper, _("names answer a summary request"));
      return;
    }
  if (!pymemd_retained_names_check (names, helper->name_steps, &error))
    {
      helper_reject (helper, "%s", error->message);
      return;
    }
  task = request_done (helper);
  if (task != NULL)
    g_task_return_pointer (task, json_node_copy (names), (GDestroyNotify) json_node_unref);
}

/* A binary frame: the object graph's. */
static void
handle_binary (Helper *helper, const guint8 *body, gsize len)
{
  g_autoptr(GError) error = NULL;

  if (helper->key == NULL)
    {
      helper_reject (helper, _("the first message is a binary frame, not a hello"));
      return;
    }
  if (helper->graph == NULL)
    {
      helper_reject (helper, _("an object graph frame no request asked for"));
      return;
    }
  if (!pymemd_heap_graph_add_frame (helper->graph, body, len, &error))
    helper_reject (helper, "%s", error->message);
}

static void
handle_error (Helper *helper, JsonObject *message)
{
  g_autoptr(GTask) task = NULL;
  const char *text;

  if (!check_answer_id (helper, message, "error"))
    return;
  text = pymemd_helper_message_string (message, "message", 1024);
  if (text == NULL)
    {
      helper_reject (helper, _("error: “message” must be a string of at most 1024 characters, "
                               "none of them a control character"));
      return;
    }
  task = request_done (helper);
  if (task != NULL)
    g_task_return_new_error (task, PYMEMD_ERROR, PYMEMD_ERROR_FAILED, "%s", text);
}

/* ----------------------------------------------------------------- frames */

static void
handle_frame (Helper *helper, const char *body, gsize len)
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
      handle_binary (helper, (const guint8 *) body, len);
      return;
    }
  if (!g_utf8_validate (body, (gssize) len, NULL))
    {
      helper_reject (helper, _("a frame is not UTF-8"));
      return;
    }
  if (!pymemd_heap_json_depth_ok (body, len))
    {
      helper_reject (helper, _("a frame nests deeper than %d levels"), PYMEMD_HEAP_JSON_MAX_DEPTH);
      return;
    }
  if (!json_parser_load_from_data (parser, body, (gssize) len, &error))
    {
      helper_reject (helper, _("a frame is not JSON: %s"), error->message);
      return;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      helper_reject (helper, _("a frame is not a JSON object"));
      return;
    }
  message = json_node_get_object (root);
  if (!pymemd_helper_message_int (message, "v", PYMEMD_HELPER_PROTOCOL_VERSION,
                       PYMEMD_HELPER_PROTOCOL_VERSION, &version))
    {
      helper_reject (helper, _("protocol version (“v”) is not %d"), PYMEMD_HELPER_PROTOCOL_VERSION);
      return;
    }
  type = pymemd_helper_message_string (message, "type", 16);
  if (type == NULL || (strcmp (type, "hello") != 0 && strcmp (type, "summary") != 0 &&
                       strcmp (type, "error") != 0 && strcmp (type, "failed") != 0 &&
                       strcmp (type, "names") != 0))
    {
      helper_reject (helper, _("unknown message type"));
      return;
    }
  if (helper->key == NULL && strcmp (type, "hello") != 0 && strcmp (type, "failed") != 0)
    {
      helper_reject (helper, _("the first message is a %s, not a hello"), type);
      return;
    }
  if (helper->key != NULL && strcmp (type, "failed") == 0)
    {
      helper_reject (helper, _("a failed after a hello"));
      return;
    }

  if (strcmp (type, "hello") == 0)
    handle_hello (helper, message);
  else if (strcmp (type, "failed") == 0)
    handle_failed (helper, message);
  else if (strcmp (type, "summary") == 0)
    handle_summary (helper, message);
  else if (strcmp (type, "names") == 0)
    handle_names (helper, message);
  else
    handle_error (helper, message);
}

/* The peer ended the connection after what HELPER has received. */
static void
helper_ended (Helper *helper)
{
  if (helper->body != NULL)
    helper_reject (helper, _("a truncated frame (%u of %u bytes)"), helper->body->len,
                   helper->body_len);
  else if (helper->header_len > 0)
    helper_reject (helper, _("a truncated frame header"));
  else if (helper->key == NULL)
    helper_reject (helper, _("the connection ended before a hello"));
  else
    {
      g_debug ("Helper of process %d disconnected", helper->peer_pid);
      helper_close (helper, NULL, NULL);
    }
}

/* Takes the frame header HELPER has received in full: nothing is allocated
 * on its word, the body grows as its bytes come. */
static void
header_done (Helper *helper)
{
  guint32 len;

  memcpy (&len, helper->header, sizeof len);
  len = GUINT32_FROM_BE (len);
  if (len == 0 || len > PYMEMD_HELPER_MAX_FRAME)
    {
      helper_reject (helper, _("a frame of %u bytes (1 to %d allowed)"), len,
                     PYMEMD_HELPER_MAX_FRAME);
      return;
    }
  helper->body_len = len;
  helper->body = g_byte_array_new ();
}

/* Adds DATA (LEN bytes) to HELPER's frame, within its uid's buffer, and
 * handles the frame once complete. */
static void
body_received (Helper *helper, const guint8 *data, gsize len)
{
  PymemdHelperChannel *self = helper->channel;
  UidUsage *usage = g_hash_table_lookup (self->uids, GUINT_TO_POINTER (helper->peer_uid));
  g_autoptr(GByteArray) body = NULL;

  if (usage->buffered + len > self->limits.buffer_per_uid)
    {
      g_autofree char *limit = g_format_size_full (self->limits.buffer_per_uid,
                                                   G_FORMAT_SIZE_IEC_UNITS);
      helper_reject_for (helper, PYMEMD_ERROR_LIMIT_EXCEEDED,
                         _("the unfinished frames of uid %u would hold more than %s"),
                         helper->peer_uid, limit);
      return;
    }
  usage->buffered += len;
  g_byte_array_append (helper->body, data, (guint) len);
  if (helper->body->len < helper->body_len)
    return;

  body = g_steal_pointer (&helper->body);
  usage->buffered -= body->len;
  helper->header_len = 0;
  if (helper->key != NULL)
    clear_source (&helper->deadline);
  handle_frame (helper, (const char *) body->data, body->len);
  note_freed (self, body->len);
}

/* Reads what HELPER's peer has sent, up to READ_CHUNK bytes, handling the
 * frames it completes; never waits. */
static void
helper_read (Helper *helper)
{
  PymemdHelperChannel *self = helper->channel;
  /* Answers complete callers' tasks, whose code may drop the channel. */
  g_autoptr(PymemdHelperChannel) hold_channel = g_object_ref (self);
  g_autoptr(Helper) hold = helper_ref (helper);
  gsize budget = READ_CHUNK;

  while (helper->channel != NULL && budget > 0)
    {
      gboolean in_header = helper->body == NULL;
      guint8 *into = in_header ? helper->header + helper->header_len : self->read_buffer;
      gsize want = in_header ? sizeof helper->header - helper->header_len
                             : helper->body_len - helper->body->len;
      ssize_t n = recv (helper->fd, into, MIN (want, budget), MSG_DONTWAIT);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
      if (n < 0)
        {
          int errsv = errno;
          if (in_header && helper->header_len == 0 && helper->key != NULL)
            {
              g_debug ("Helper of process %d: %s", helper->peer_pid, g_strerror (errsv));
              helper_close (helper, NULL, NULL);
            }
          else
            helper_reject (helper, _("reading a frame failed: %s"), g_strerror (errsv));
          return;
        }
      if (n == 0)
        {
          helper_ended (helper);
          return;
        }
      budget -= (gsize) n;
      if (!in_header)
        body_received (helper, into, (gsize) n);
      else
        {
          if (helper->header_len == 0 && helper->key != NULL)
            arm_deadline (helper);
          helper->header_len += (gsize) n;
          if (helper->header_len == sizeof helper->header)
            header_done (helper);
        }
    }
}

static gboolean
on_readable (int fd, GIOCondition condition, gpointer data)
{
  helper_read (data);
  return G_SOURCE_CONTINUE;
}

/* ----------------------------------------------------------------- accept */

static void
refuse_connection (PymemdHelperChannel *self, int fd, gint32 pid, guint32 uid, const char *reason)
{
  close (fd);
  log_rejection (self, pid, uid, reason);
  g_signal_emit (self, signals[SIGNAL_REJECTED], 0, (int) pid, reason);
}

/* Why a new connection of PID and UID would be one too many, or NULL. */
static char *
over_limit (PymemdHelperChannel *self, gint32 pid, guint32 uid)
{
  UidUsage *usage = g_hash_table_lookup (self->uids, GUINT_TO_POINTER (uid));
  guint same_pid = GPOINTER_TO_UINT (g_hash_table_lookup (self->pids, GINT_TO_POINTER (pid)));

  if (same_pid >= self->limits.connections_per_pid)
    return g_strdup_printf (_("more than %u connections of one process"),
                            self->limits.connections_per_pid);
  /* One user's processes never take the slots that other users' need. */
  if (usage != NULL && usage->connections >= self->limits.connections_per_uid)
    return g_strdup_printf (_("more than %u connections of uid %u"),
                            self->limits.connections_per_uid, uid);
  if (g_hash_table_size (self->connections) >= self->limits.connections)
    return g_strdup_printf (_("more than %u connections in all"), self->limits.connections);
  return NULL;
}

/* Takes FD, a connection just accepted, if its peer is known and within
 * its limits. */
static void
accept_connection (PymemdHelperChannel *self, int fd)
{
  struct ucred cred = { 0 };
  socklen_t len = sizeof cred;
  g_autofree char *refusal = NULL;
  g_autoptr(Helper) hold = NULL;
  UidUsage *usage;
  Helper *helper;

  if (getsockopt (fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
    {
      int errsv = errno;
      g_autofree char *reason = g_strdup_printf (_("no peer credentials (%s)"),
                                                 g_strerror (errsv));
      refuse_connection (self, fd, 0, (guint32) -1, reason);
      return;
    }
  /* 0: the peer is in a pid namespace we cannot see into. */
  if (cred.pid <= 0)
    {
      g_autofree char *reason = g_strdup_printf (_("no peer credentials (%s)"), "pid 0");
      refuse_connection (self, fd, 0, cred.uid, reason);
      return;
    }
  refusal = over_limit (self, cred.pid, cred.uid);
  if (refusal != NULL)
    {
      refuse_connection (self, fd, cred.pid, cred.uid, refusal);
      return;
    }

  helper = g_new0 (Helper, 1);
  helper->ref_count = 1; /* the connections' */
  helper->channel = self;
  helper->fd = fd;
  helper->peer_pid = cred.pid;
  helper->peer_uid = cred.uid;
  helper->serial = ++self->last_serial;
  g_queue_init (&helper->writes);
  g_hash_table_add (self->connections, helper);
  usage = g_hash_table_lookup (self->uids, GUINT_TO_POINTER (cred.uid));
  if (usage == NULL)
    {
      usage = g_new0 (UidUsage, 1);
      g_hash_table_insert (self->uids, GUINT_TO_POINTER (cred.uid), usage);
    }
  usage->connections++;
  g_hash_table_insert (self->pids, GINT_TO_POINTER (cred.pid),
                       GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (
                         self->pids, GINT_TO_POINTER (cred.pid))) + 1));

  /* A helper sends its hello as it connects, and a bad peer its bad bytes:
   * most connections are decided here, before anything is set up. */
  hold = helper_ref (helper);
  helper_read (helper);
  if (helper->channel == NULL)
    return;
  if (helper->key == NULL)
    arm_deadline (helper);
  helper->read_source = attach_source (self, g_unix_fd_source_new (fd, G_IO_IN | G_IO_HUP | G_IO_ERR),
                                       G_SOURCE_FUNC (on_readable), helper);
}

static void start_accepting (PymemdHelperChannel *self);

static gboolean
resume_accepting (gpointer data)
{
  PymemdHelperChannel *self = data;

  g_clear_pointer (&self->accept_pause, g_source_unref);
  start_accepting (self);
  return G_SOURCE_REMOVE;
}

/* Stops accepting for MS; the accept source is being dispatched and is
 * removed by its return value. */
static void
pause_accepting (PymemdHelperChannel *self, guint ms)
{
  g_clear_pointer (&self->accept_source, g_source_unref);
  self->accept_pause = attach_timeout (self, ms / 1000.0, resume_accepting, self);
}

static gboolean
on_acceptable (int listen_fd, GIOCondition condition, gpointer data)
{
  PymemdHelperChannel *self = data;
  g_autoptr(PymemdHelperChannel) hold = g_object_ref (self);

  for (guint i = 0; i < ACCEPT_BATCH; i++)
    {
      int fd = accept4 (listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

      if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
        continue;
      if (fd < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return G_SOURCE_CONTINUE;
      if (fd < 0)
        {
          /* EMFILE, ENOBUFS…: the connection waits in the backlog. */
          g_warning ("Cannot accept helper connections for now: %s", g_strerror (errno));
          pause_accepting (self, ACCEPT_ERROR_MS);
          return G_SOURCE_REMOVE;
        }
      accept_connection (self, fd);
      if (self->listen_fd < 0) /* disposed meanwhile */
        return G_SOURCE_REMOVE;
    }
  pause_accepting (self, ACCEPT_PAUSE_MS);
  return G_SOURCE_REMOVE;
}

static void
start_accepting (PymemdHelperChannel *self)
{
  self->accept_source = attach_source (self, g_unix_fd_source_new (self->listen_fd, G_IO_IN),
                                       G_SOURCE_FUNC (on_acceptable), self);
}

/* --------------------------------------------------------------- requests */

static gboolean
request_timed_out (gpointer data)
{
  Helper *helper = data;

  g_clear_pointer (&helper->request_timeout, g_source_unref);
  log_peer (helper->channel, helper->peer_pid, helper->peer_uid,
            _("The helper of process %d did not answer request %u in time; closing its connection"),
            helper->peer_pid, helper->request_id);
  helper_close (helper, NULL,
                g_error_new (PYMEMD_ERROR, PYMEMD_ERROR_TIMED_OUT,
                             _("The helper of process %d did not answer in time"),
                             helper->peer_pid));
  return G_SOURCE_REMOVE;
}

/* The caller gave up: the answer is still awaited (and then dropped), so
 * that a late one is not taken for an unsolicited one. */
static gboolean
request_cancelled (GCancellable *cancellable, gpointer data)
{
  Helper *helper = data;
  g_autoptr(GTask) task = g_steal_pointer (&helper->request);
  GError *error = NULL;

  clear_source (&helper->request_cancelled);
  g_cancellable_set_error_if_cancelled (cancellable, &error);
  g_task_return_error (task, error);
  return G_SOURCE_REMOVE;
}

/* The helper of (PID, START_TIME) when it has no request outstanding;
 * otherwise TASK is answered with why not. */
static gboolean
find_idle_helper (PymemdHelperChannel *self, GTask *task, gint32 pid, guint64 start_time, Helper **out)
{
  g_autofree char *key = identity_key (pid, start_time);
  Helper *helper = g_hash_table_lookup (self->helpers, key);

  if (helper == NULL)
    {
      g_task_return_new_error (task, PYMEMD_ERROR, PYMEMD_ERROR_NOT_ATTACHED,
                               _("No helper runs in process %d"), pid);
      return FALSE;
    }
  if (helper->request_id != 0)
    {
      g_task_return_new_error (task, PYMEMD_ERROR, PYMEMD_ERROR_LIMIT_EXCEEDED,
                               _("A heap summary of process %d is being taken"), pid);
      return FALSE;
    }
  if (g_task_return_error_if_cancelled (task))
    return FALSE;
  *out = helper;
  return TRUE;
}

/* Makes TASK HELPER's outstanding request, with its id, timeout and
 * cancellation. */
static void
start_request (PymemdHelperChannel *self, Helper *helper, GTask *task, double timeout, GCancellable *cancellable)
{
  self->last_request_id = self->last_request_id >= G_MAXINT32 ? 1 : self->last_request_id + 1;
  helper->request_id = self->last_request_id;
  helper->request = task;
  helper->request_timeout = attach_timeout (self, timeout, request_timed_out, helper);
  if (cancellable != NULL)
    helper->request_cancelled = attach_source (self, g_cancellable_source_new (cancellable),
                                               G_SOURCE_FUNC (request_cancelled), helper);
}

void
pymemd_helper_channel_request_async (PymemdHelperChannel     *self,
                                     gint32                   pid,
                                     guint64                  start_time,
                                     const PymemdHeapRequest *request,
                                     double                   timeout,
                                     GCancellable            *cancellable,
                                     GAsyncReadyCallback      callback,
                                     gpointer                 user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL;
  Helper *helper;

  g_return_if_fail (PYMEMD_IS_HELPER_CHANNEL (self));
  g_return_if_fail (request != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pymemd_helper_channel_request_async);
  if (!pymemd_heap_request_validate (request, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (!find_idle_helper (self, task, pid, start_time, &helper))
    return;
  helper->request_top = request->top;
  helper->request_sites = request->sites;
  start_request (self, helper, g_steal_pointer (&task), timeout, cancellable);
  if (request->graph_memory > 0)
    {
      guint64 objects, edges;
      pymemd_heap_graph_limits_for_memory (request->graph_memory, &objects, &edges);
      helper->graph = pymemd_heap_graph_new (helper->request_id, objects, edges, request->graph_memory);
    }
  json = pymemd_helper_message_request (helper->request_id, request);
  helper_send (helper, json);
}

PymemdHeapSummary *
pymemd_helper_channel_request_finish (PymemdHelperChannel *self,
                                      GAsyncResult        *result,
                                      GError             **error)
{
  return pymemd_helper_channel_request_finish_graph (self, result, NULL, NULL, error);
}

PymemdHeapSummary *
pymemd_helper_channel_request_finish_graph (PymemdHelperChannel *self,
                                            GAsyncResult        *result,
                                            PymemdHeapGraph    **graph,
                                            char               **no_graph,
                                            GError             **error)
{
  g_autoptr(Answer) answer = NULL;

  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pymemd_helper_channel_request_async, NULL);
  answer = g_task_propagate_pointer (G_TASK (result), error);
  if (answer == NULL)
    return NULL;
  if (graph != NULL)
    *graph = g_steal_pointer (&answer->graph);
  if (no_graph != NULL)
    *no_graph = g_steal_pointer (&answer->no_graph);
  return g_steal_pointer (&answer->summary);
}

void
pymemd_helper_channel_name_async (PymemdHelperChannel *self,
                                  gint32               pid,
                                  guint64              start_time,
                                  JsonNode            *paths,
                                  GArray              *steps,
                                  double               timeout,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *json = NULL;
  Helper *helper;

  g_return_if_fail (PYMEMD_IS_HELPER_CHANNEL (self));
  g_return_if_fail (paths != NULL && steps != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pymemd_helper_channel_name_async);
  if (!find_idle_helper (self, task, pid, start_time, &helper))
    return;
  helper->name_steps = g_array_ref (steps);
  start_request (self, helper, g_steal_pointer (&task), timeout, cancellable);
  json = pymemd_helper_message_name (helper->request_id, paths);
  helper_send (helper, json);
}

JsonNode *
pymemd_helper_channel_name_finish (PymemdHelperChannel *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---------------------------------------------------------------- channel */

gboolean
pymemd_helper_channel_has_helper (PymemdHelperChannel *self, gint32 pid, guint64 start_time)
{
  g_autofree char *key = identity_key (pid, start_time);

  g_return_val_if_fail (PYMEMD_IS_HELPER_CHANNEL (self), FALSE);
  return g_hash_table_contains (self->helpers, key);
}

const char *
pymemd_helper_channel_get_how (PymemdHelperChannel *self, gint32 pid, guint64 start_time)
{
  g_autofree char *key = identity_key (pid, start_time);
  Helper *helper;

  g_return_val_if_fail (PYMEMD_IS_HELPER_CHANNEL (self), NULL);
  helper = g_hash_table_lookup (self->helpers, key);
  return helper != NULL ? helper->how : NULL;
}

const char *
pymemd_helper_channel_get_path (PymemdHelperChannel *self)
{
  g_return_val_if_fail (PYMEMD_IS_HELPER_CHANNEL (self), NULL);
  return self->path;
}

void
pymemd_helper_channel_set_limits (PymemdHelperChannel *self, const PymemdHelperLimits *limits)
{
  g_return_if_fail (PYMEMD_IS_HELPER_CHANNEL (self));
  g_return_if_fail (limits->connections_per_pid > 0 && limits->buffer_per_uid > 0 &&
                    limits->log_window > 0);
  /* Connections and frames already there keep what they hold; the new
   * bounds apply to what comes next. */
  self->limits = *limits;
  pymemd_rate_limit_set (self->log_limit, limits->log_lines_per_uid, limits->log_window);
}

/* FORMAT names the path and then ERRSV's text. */
static gboolean G_GNUC_PRINTF (3, 4)
set_errno_error (GError **error, int errsv, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list ap;

  va_start (ap, format);
  message = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_set_error_literal (error, PYMEMD_ERROR, pymemd_error_from_errno (errsv), message);
  return FALSE;
}

/* Binds PATH, replacing a stale socket but nothing else. The socket is
 * served with plain system calls: a connection refused at once costs
 * accept, getsockopt and close, and no object. */
static gboolean
listen_on (PymemdHelperChannel *self, GError **error)
{
  struct sockaddr_un sun = { .sun_family = AF_UNIX };
  struct stat st;

  if (strlen (self->path) >= sizeof sun.sun_path)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS,
                   _("Socket path %s is too long"), self->path);
      return FALSE;
    }
  if (lstat (self->path, &st) == 0)
    {
      if (!S_ISSOCK (st.st_mode))
        {
          g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED,
                       _("%s exists and is not a socket"), self->path);
          return FALSE;
        }
      if (unlink (self->path) < 0 && errno != ENOENT)
        {
          int errsv = errno;
          return set_errno_error (error, errsv, _("Cannot remove the stale socket %s: %s"),
                                  self->path, g_strerror (errsv));
        }
    }

  g_strlcpy (sun.sun_path, self->path, sizeof sun.sun_path);
  self->listen_fd = socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (self->listen_fd < 0 || bind (self->listen_fd, (struct sockaddr *) &sun, sizeof sun) < 0)
    {
      int errsv = errno;
      return set_errno_error (error, errsv, _("Cannot listen on %s: %s"), self->path,
                              g_strerror (errsv));
    }
  /* Every user's helper connects (the unit's umask is 0077): who is
   * believed is decided per connection. */
  if (chmod (self->path, 0666) < 0 || lstat (self->path, &st) < 0)
    {
      int errsv = errno;
      return set_errno_error (error, errsv, _("Cannot open the socket %s to every user: %s"),
                              self->path, g_strerror (errsv));
    }
  self->socket_dev = st.st_dev;
  self->socket_ino = st.st_ino;
  if (listen (self->listen_fd, LISTEN_BACKLOG) < 0)
    {
      int errsv = errno;
      return set_errno_error (error, errsv, _("Cannot listen on %s: %s"), self->path,
                              g_strerror (errsv));
    }
  return TRUE;
}

PymemdHelperChannel *
pymemd_helper_channel_new (const char *socket_path, const char *proc_root, GError **error)
{
  g_autoptr(PymemdHelperChannel) self = NULL;

  g_return_val_if_fail (socket_path != NULL && proc_root != NULL, NULL);

  self = g_object_new (PYMEMD_TYPE_HELPER_CHANNEL, NULL);
  self->path = g_strdup (socket_path);
  self->procfs = pymemd_procfs_new (proc_root, error);
  if (self->procfs == NULL)
    return NULL;
  if (!listen_on (self, error))
    return NULL;
  start_accepting (self);
  return g_steal_pointer (&self);
}

static void
pymemd_helper_channel_dispose (GObject *object)
{
  PymemdHelperChannel *self = PYMEMD_HELPER_CHANNEL (object);
  g_autoptr(GPtrArray) open = g_ptr_array_new_with_free_func ((GDestroyNotify) helper_unref);
  GHashTableIter iter;
  gpointer helper;
  struct stat st;

  clear_source (&self->accept_source);
  clear_source (&self->accept_pause);
  if (self->listen_fd >= 0)
    {
      close (self->listen_fd);
      self->listen_fd = -1;
      if (self->socket_ino != 0 && lstat (self->path, &st) == 0 &&
          st.st_dev == self->socket_dev && st.st_ino == self->socket_ino)
        unlink (self->path);
    }

  g_hash_table_iter_init (&iter, self->connections);
  while (g_hash_table_iter_next (&iter, &helper, NULL))
    g_ptr_array_add (open, helper_ref (helper));
  for (guint i = 0; i < open->len; i++)
    helper_close (g_ptr_array_index (open, i), NULL,
                  g_error_new (PYMEMD_ERROR, PYMEMD_ERROR_FAILED, _("The helper channel closed")));
  while (self->waiters->len > 0)
    waiter_complete (self, g_ptr_array_index (self->waiters, 0),
                     g_error_new (PYMEMD_ERROR, PYMEMD_ERROR_FAILED,
                                  _("The helper channel closed")));
  /* Last: closing the connections above frees their frames. */
  clear_source (&self->trim_source);

  G_OBJECT_CLASS (pymemd_helper_channel_parent_class)->dispose (object);
}

static void
pymemd_helper_channel_finalize (GObject *object)
{
  PymemdHelperChannel *self = PYMEMD_HELPER_CHANNEL (object);

  g_hash_table_unref (self->helpers);
  g_hash_table_unref (self->connections);
  g_hash_table_unref (self->uids);
  g_hash_table_unref (self->pids);
  g_ptr_array_unref (self->waiters);
  pymemd_rate_limit_free (self->log_limit);
  g_free (self->read_buffer);
  g_clear_object (&self->procfs);
  g_main_context_unref (self->context);
  g_free (self->path);

  G_OBJECT_CLASS (pymemd_helper_channel_parent_class)->finalize (object);
}

static void
pymemd_helper_channel_init (PymemdHelperChannel *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->listen_fd = -1;
  self->connections = g_hash_table_new_full (NULL, NULL, (GDestroyNotify) helper_unref, NULL);
  self->helpers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->uids = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  self->pids = g_hash_table_new (NULL, NULL);
  self->waiters = g_ptr_array_new_with_free_func ((GDestroyNotify) waiter_free);
  self->read_buffer = g_malloc (READ_CHUNK);
  pymemd_helper_limits_init (&self->limits);
  self->log_limit = pymemd_rate_limit_new (self->limits.log_lines_per_uid, self->limits.log_window,
                                           log_suppressed, NULL);
}

static void
pymemd_helper_channel_class_init (PymemdHelperChannelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pymemd_helper_channel_dispose;
  object_class->finalize = pymemd_helper_channel_finalize;

  signals[SIGNAL_HELPER_CONNECTED] =
    g_signal_new ("helper-connected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 3, G_TYPE_INT, G_TYPE_UINT64, G_TYPE_STRING);
  signals[SIGNAL_HELPER_DISCONNECTED] =
    g_signal_new ("helper-disconnected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_UINT64);
  signals[SIGNAL_REJECTED] =
    g_signal_new ("rejected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_STRING);
}
