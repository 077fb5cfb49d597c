/* Serves the helpers' Unix socket: accepts connections within what each user and process may hold, believes a hello only as the process SO_PEERCRED names, keeps which connection speaks for which process, and completes the waits for a helper's hello. */
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
#include "pymemd-helper-connection.h"
#include "pymemd-pidfiles.h"
#include "pymemd-procfs.h"
#include "pymemd-rate-limit.h"

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
  GHashTable         *connections; /* set of PymemdHelperConnection, with a reference each */
  GHashTable         *helpers;     /* key -> PymemdHelperConnection that said hello (borrowed from connections) */
  GHashTable         *uids;        /* uid -> UidUsage */
  GHashTable         *pids;        /* pid -> its connections */
  GPtrArray          *waiters;     /* of Waiter */
  guint32             last_request_id;
  guint64             last_serial;
  guint64             last_awaited;
  PymemdHelperLimits  limits;
  PymemdRateLimit    *log_limit;   /* lines about the peers of each uid */
  guint8             *read_buffer; /* PYMEMD_HELPER_CONNECTION_READ_CHUNK, shared: reads never wait */
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

static char *
identity_key (gint32 pid, guint64 start_time)
{
  return g_strdup_printf ("%d:%" G_GUINT64_FORMAT, pid, start_time);
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
    self->trim_source = pymemd_helper_timeout_attach (self->context, TRIM_DELAY_MS / 1000.0, trim_memory, self);
#endif
}

/* A connection no longer counts against its uid, pid and all. */
static void
release_usage (PymemdHelperChannel *self, PymemdHelperConnection *connection)
{
  gpointer uid = GUINT_TO_POINTER (pymemd_helper_connection_get_uid (connection));
  gpointer pid = GINT_TO_POINTER (pymemd_helper_connection_get_pid (connection));
  UidUsage *usage = g_hash_table_lookup (self->uids, uid);
  guint same_pid = GPOINTER_TO_UINT (g_hash_table_lookup (self->pids, pid));

  if (--usage->connections == 0)
    g_hash_table_remove (self->uids, uid);
  if (same_pid > 1)
    g_hash_table_insert (self->pids, pid, GUINT_TO_POINTER (same_pid - 1));
  else
    g_hash_table_remove (self->pids, pid);
}

/* Closes CONNECTION (if still open): it is unregistered, its outstanding
 * request fails with REQUEST_ERROR (taken; NULL: no request is expected),
 * and REJECTION, when not NULL, is logged and signalled. */
static void
close_connection (PymemdHelperConnection *connection, const char *rejection, GError *request_error, GObject *owner)
{
  g_autoptr(GError) owned_error = request_error;
  g_autoptr(PymemdHelperChannel) self = g_object_ref (PYMEMD_HELPER_CHANNEL (owner));
  g_autoptr(PymemdHelperConnection) hold = pymemd_helper_connection_ref (connection);
  g_autoptr(GTask) request = NULL;
  const char *key = pymemd_helper_connection_get_key (connection);
  gint32 pid = pymemd_helper_connection_get_pid (connection);
  gboolean was_registered = FALSE;

  if (!pymemd_helper_connection_is_open (connection))
    return;
  if (key != NULL && g_hash_table_lookup (self->helpers, key) == connection)
    was_registered = g_hash_table_remove (self->helpers, key);

  request = pymemd_helper_connection_shut (connection);
  release_usage (self, connection);
  g_hash_table_remove (self->connections, connection);

  /* The state is consistent from here on: callers' code may run. */
  if (rejection != NULL)
    {
      log_rejection (self, pid, pymemd_helper_connection_get_uid (connection), rejection);
      g_signal_emit (self, signals[SIGNAL_REJECTED], 0, (int) pid, rejection);
    }
  if (request != NULL)
    {
      if (owned_error == NULL)
        owned_error = g_error_new (PYMEMD_ERROR, PYMEMD_ERROR_NOT_ATTACHED,
                                   _("The helper of process %d disconnected"), pid);
      g_task_return_error (request, g_steal_pointer (&owned_error));
    }
  if (was_registered)
    g_signal_emit (self, signals[SIGNAL_HELPER_DISCONNECTED], 0, (int) pid,
                   pymemd_helper_connection_get_start_time (connection));
}

/* The bytes of its uid's unfinished frames CONNECTION would hold with LEN
 * more: within limits.buffer_per_uid, or it is closed. */
static gboolean
hold_bytes (PymemdHelperConnection *connection, gsize len, GObject *owner)
{
  PymemdHelperChannel *self = PYMEMD_HELPER_CHANNEL (owner);
  guint32 uid = pymemd_helper_connection_get_uid (connection);
  UidUsage *usage = g_hash_table_lookup (self->uids, GUINT_TO_POINTER (uid));

  if (usage->buffered + len > self->limits.buffer_per_uid)
    {
      g_autofree char *limit = g_format_size_full (self->limits.buffer_per_uid,
                                                   G_FORMAT_SIZE_IEC_UNITS);
      pymemd_helper_connection_reject (connection, PYMEMD_ERROR_LIMIT_EXCEEDED,
                                       _("the unfinished frames of uid %u would hold more than %s"),
                                       uid, limit);
      return FALSE;
    }
  usage->buffered += len;
  return TRUE;
}

static void
release_bytes (PymemdHelperConnection *connection, gsize len, GObject *owner)
{
  PymemdHelperChannel *self = PYMEMD_HELPER_CHANNEL (owner);
  UidUsage *usage = g_hash_table_lookup (self->uids,
                                         GUINT_TO_POINTER (pymemd_helper_connection_get_uid (connection)));

  usage->buffered -= len;
  note_freed (self, len);
}

static void
log_connection (PymemdHelperConnection *connection, const char *message, GObject *owner)
{
  log_peer (PYMEMD_HELPER_CHANNEL (owner), pymemd_helper_connection_get_pid (connection),
            pymemd_helper_connection_get_uid (connection), "%s", message);
}

static double
read_timeout (GObject *owner)
{
  return PYMEMD_HELPER_CHANNEL (owner)->limits.read_timeout;
}

/* ------------------------------------------------------------------ waits */

static void
waiter_free (Waiter *waiter)
{
  pymemd_helper_source_clear (&waiter->timeout);
  pymemd_helper_source_clear (&waiter->cancelled);
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
helper_satisfies (PymemdHelperConnection *connection, const char *nonce)
{
  return nonce == NULL || g_strcmp0 (pymemd_helper_connection_get_nonce (connection), nonce) == 0;
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
  PymemdHelperConnection *helper;
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
  waiter->timeout = pymemd_helper_timeout_attach (self->context, timeout, wait_timed_out, waiter);
  if (cancellable != NULL)
    waiter->cancelled = pymemd_helper_source_attach (self->context, g_cancellable_source_new (cancellable),
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
complete_waiters (PymemdHelperChannel *self, PymemdHelperConnection *helper)
{
  g_autoptr(GPtrArray) done = g_ptr_array_new ();

  /* Completing may run callers' code that adds waiters: pick first. */
  for (guint i = 0; i < self->waiters->len; i++)
    {
      Waiter *waiter = g_ptr_array_index (self->waiters, i);
      if (waiter->pid == pymemd_helper_connection_get_pid (helper) &&
          waiter->start_time == pymemd_helper_connection_get_start_time (helper) &&
          helper_satisfies (helper, waiter->nonce))
        g_ptr_array_add (done, waiter);
    }
  for (guint i = 0; i < done->len; i++)
    waiter_complete (self, g_ptr_array_index (done, i), NULL);
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
is_awaited (PymemdHelperChannel *self, gint32 pid, guint64 start_time, const char *nonce)
{
  for (guint i = 0; i < self->waiters->len; i++)
    {
      Waiter *waiter = g_ptr_array_index (self->waiters, i);

      if (waiter->pid == pid && waiter->start_time == start_time && waiter->nonce != NULL &&
          g_strcmp0 (waiter->nonce, nonce) == 0)
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
helper_preferred (PymemdHelperConnection *a, PymemdHelperConnection *b)
{
  if (pymemd_helper_connection_get_awaited (a) != pymemd_helper_connection_get_awaited (b))
    return pymemd_helper_connection_get_awaited (a) > pymemd_helper_connection_get_awaited (b);
  return pymemd_helper_connection_get_serial (a) > pymemd_helper_connection_get_serial (b);
}

/* Makes HELPER, which said hello, its process's connection, unless the
 * one there is to be preferred: then HELPER is closed (FALSE), the other
 * stays and its request goes on. */
static gboolean
helper_register (PymemdHelperChannel *self, PymemdHelperConnection *helper)
{
  const char *key = pymemd_helper_connection_get_key (helper);
  PymemdHelperConnection *old = g_hash_table_lookup (self->helpers, key);

  if (old != NULL && !helper_preferred (helper, old))
    {
      g_debug ("Helper of process %d: a left-over connection said hello; the one there stays",
               pymemd_helper_connection_get_pid (helper));
      close_connection (helper, NULL, NULL, G_OBJECT (self));
      return FALSE;
    }
  if (old != NULL)
    {
      g_hash_table_remove (self->helpers, key);
      close_connection (old, NULL,
                        g_error_new (PYMEMD_ERROR, PYMEMD_ERROR_NOT_ATTACHED,
                                     _("The helper of process %d reconnected"),
                                     pymemd_helper_connection_get_pid (old)),
                        G_OBJECT (self));
    }
  g_hash_table_insert (self->helpers, g_strdup (key), helper);
  return TRUE;
}

/* The members every first message has — "pid", "start_time", "nonce" —
 * checked against the peer: its pid, its start time, and the uid its
 * /proc directory has. FALSE when HELPER was rejected. */
static gboolean
check_peer (PymemdHelperChannel *self, PymemdHelperConnection *helper, JsonObject *message, const char *type,
            guint64 *start_time, const char **nonce)
{
  g_autoptr(GError) error = NULL;
  JsonNode *nonce_node = json_object_get_member (message, "nonce");
  gint32 peer_pid = pymemd_helper_connection_get_pid (helper);
  guint32 peer_uid = pymemd_helper_connection_get_uid (helper);
  gint64 pid, claimed;
  guint64 actual_start_time;
  guint32 actual_uid = 0;

  *nonce = NULL;
  if (!pymemd_helper_message_int (message, "pid", 1, G_MAXINT32, &pid))
    {
      pymemd_helper_connection_reject (helper, PYMEMD_ERROR_PROTOCOL,
                                       _("%s: “pid” must be an integer from 1 to %d"), type, G_MAXINT32);
      return FALSE;
    }
  if (!pymemd_helper_message_int (message, "start_time", 1, G_MAXINT64, &claimed))
    {
      pymemd_helper_connection_reject (helper, PYMEMD_ERROR_PROTOCOL,
                                       _("%s: “start_time” must be an integer ≥ 1"), type);
      return FALSE;
    }
  if (nonce_node != NULL && !JSON_NODE_HOLDS_NULL (nonce_node))
    {
      *nonce = pymemd_helper_message_string (message, "nonce", 32);
      if (*nonce == NULL || !pymemd_helper_nonce_is_valid (*nonce))
        {
          pymemd_helper_connection_reject (helper, PYMEMD_ERROR_PROTOCOL,
                                           _("%s: “nonce” must be null or 32 lowercase hex digits"), type);
          return FALSE;
        }
    }
  if (pid != peer_pid)
    {
      pymemd_helper_connection_reject (helper, PYMEMD_ERROR_PROTOCOL, _("%s claims pid %d, the peer is %d"),
                                       type, (int) pid, peer_pid);
      return FALSE;
    }
  if (!read_start_time (self, peer_pid, &actual_start_time, &actual_uid, &error))
    {
      pymemd_helper_connection_reject (helper, PYMEMD_ERROR_PROTOCOL,
                                       _("cannot read the start time of the peer: %s"), error->message);
      return FALSE;
    }
  /* A socket passed on to another process after its pid was reused would
   * pass the pid and start time checks; its owner must match too. */
  if (actual_uid != peer_uid)
    {
      pymemd_helper_connection_reject (helper, PYMEMD_ERROR_PROTOCOL,
                                       _("the peer's uid %u is not the uid %u of process %d"), peer_uid,
                                       actual_uid, peer_pid);
      return FALSE;
    }
  if ((guint64) claimed != actual_start_time)
    {
      pymemd_helper_connection_reject (helper, PYMEMD_ERROR_PROTOCOL,
                                       _("%s claims start time %llu, the peer started at %llu"), type,
                                       (unsigned long long) claimed, (unsigned long long) actual_start_time);
      return FALSE;
    }
  *start_time = actual_start_time;
  return TRUE;
}

static void
handle_hello (PymemdHelperChannel *self, PymemdHelperConnection *helper, JsonObject *message)
{
  gint32 pid = pymemd_helper_connection_get_pid (helper);
  const char *nonce = NULL, *python, *implementation, *how;
  g_autofree char *key = NULL;
  guint64 start_time;

  if (pymemd_helper_connection_get_key (helper) != NULL)
    {
      pymemd_helper_connection_reject (helper, PYMEMD_ERROR_PROTOCOL, _("a second hello"));
      return;
    }
  if (!check_peer (self, helper, message, "hello", &start_time, &nonce))
    return;
  python = pymemd_helper_message_string (message, "python", 64);
  implementation = pymemd_helper_message_string (message, "implementation", 32);
  how = pymemd_helper_message_string (message, "how", 8);
  if (python == NULL || implementation == NULL)
    {
      pymemd_helper_connection_reject (helper, PYMEMD_ERROR_PROTOCOL,
                                       _("hello: “python” (≤ 64) and “implementation” (≤ 32 characters) "
                                         "must be strings without control characters"));
      return;
    }
  if (how == NULL || (strcmp (how, "env") != 0 && strcmp (how, "import") != 0 &&
                      strcmp (how, "attach") != 0))
    {
      pymemd_helper_connection_reject (helper, PYMEMD_ERROR_PROTOCOL,
                                       _("hello: “how” must be env, import or attach"));
      return;
    }

  key = identity_key (pid, start_time);
  pymemd_helper_connection_introduce (helper, key, start_time, nonce, how,
                                      is_awaited (self, pid, start_time, nonce) ? ++self->last_awaited : 0);
  if (!helper_register (self, helper))
    return;
  g_debug ("Helper of process %d (%s %s, %s) said hello", pid, implementation, python, how);
  g_signal_emit (self, signals[SIGNAL_HELPER_CONNECTED], 0, (int) pid, start_time,
                 pymemd_helper_connection_get_how (helper));
  if (pymemd_helper_connection_is_open (helper))
    complete_waiters (self, helper);
}

/* The bootstrap could not start the helper and says why: the wait for
 * its nonce fails with that reason, and the connection is closed. */
static void
handle_failed (PymemdHelperChannel *self, PymemdHelperConnection *helper, JsonObject *message)
{
  g_autoptr(GPtrArray) failed = g_ptr_array_new ();
  gint32 pid = pymemd_helper_connection_get_pid (helper);
  const char *nonce = NULL, *text;
  guint64 start_time;

  if (!check_peer (self, helper, message, "failed", &start_time, &nonce))
    return;
  text = pymemd_helper_message_string (message, "message", 1024);
  if (nonce == NULL || text == NULL)
    {
      pymemd_helper_connection_reject (helper, PYMEMD_ERROR_PROTOCOL,
                                       _("failed: “nonce” must be 32 lowercase hex digits and “message” a "
                                         "string of at most 1024 characters, none of them a control "
                                         "character"));
      return;
    }
  log_peer (self, pid, pymemd_helper_connection_get_uid (helper),
            _("The helper could not start in process %d: %s"), pid, text);
  for (guint i = 0; i < self->waiters->len; i++)
    {
      Waiter *waiter = g_ptr_array_index (self->waiters, i);

      if (waiter->pid == pid && waiter->start_time == start_time && g_strcmp0 (waiter->nonce, nonce) == 0)
        g_ptr_array_add (failed, waiter);
    }
  for (guint i = 0; i < failed->len; i++)
    waiter_complete (self, g_ptr_array_index (failed, i),
                     g_error_new (PYMEMD_ERROR, PYMEMD_ERROR_FAILED, _("The helper could not start in process %d: %s"),
                                  pid, text));
  close_connection (helper, NULL, NULL, G_OBJECT (self));
}

static void
introduce (PymemdHelperConnection *connection, const char *type, JsonObject *message, GObject *owner)
{
  if (strcmp (type, "hello") == 0)
    handle_hello (PYMEMD_HELPER_CHANNEL (owner), connection, message);
  else
    handle_failed (PYMEMD_HELPER_CHANNEL (owner), connection, message);
}

static const PymemdHelperConnectionOwner connection_owner = {
  .close = close_connection,
  .introduce = introduce,
  .hold = hold_bytes,
  .release = release_bytes,
  .log = log_connection,
  .read_timeout = read_timeout,
};

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
  g_autoptr(PymemdHelperConnection) hold = NULL;
  UidUsage *usage;
  PymemdHelperConnection *connection;

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

  /* The connections' reference. */
  connection = pymemd_helper_connection_new (fd, cred.pid, cred.uid, ++self->last_serial, self->context,
                                             self->read_buffer, &connection_owner, G_OBJECT (self));
  g_hash_table_add (self->connections, connection);
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

  hold = pymemd_helper_connection_ref (connection);
  pymemd_helper_connection_start (connection);
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
  self->accept_pause = pymemd_helper_timeout_attach (self->context, ms / 1000.0, resume_accepting, self);
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
  self->accept_source = pymemd_helper_source_attach (self->context,
                                                     g_unix_fd_source_new (self->listen_fd, G_IO_IN),
                                                     G_SOURCE_FUNC (on_acceptable), self);
}

/* --------------------------------------------------------------- requests */

/* The helper of (PID, START_TIME) when it has no request outstanding;
 * otherwise TASK is answered with why not. */
static gboolean
find_idle_helper (PymemdHelperChannel *self, GTask *task, gint32 pid, guint64 start_time, PymemdHelperConnection **out)
{
  g_autofree char *key = identity_key (pid, start_time);
  PymemdHelperConnection *helper = g_hash_table_lookup (self->helpers, key);

  if (helper == NULL)
    {
      g_task_return_new_error (task, PYMEMD_ERROR, PYMEMD_ERROR_NOT_ATTACHED,
                               _("No helper runs in process %d"), pid);
      return FALSE;
    }
  if (pymemd_helper_connection_is_busy (helper))
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

/* The id of the next request: 1 to G_MAXINT32, round. */
static guint32
next_request_id (PymemdHelperChannel *self)
{
  self->last_request_id = self->last_request_id >= G_MAXINT32 ? 1 : self->last_request_id + 1;
  return self->last_request_id;
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
  PymemdHelperConnection *helper;

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
  pymemd_helper_connection_request (helper, next_request_id (self), request, g_steal_pointer (&task), timeout,
                                    cancellable);
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
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pymemd_helper_channel_request_async, NULL);
  return pymemd_helper_connection_propagate_summary (G_TASK (result), graph, no_graph, error);
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
  PymemdHelperConnection *helper;

  g_return_if_fail (PYMEMD_IS_HELPER_CHANNEL (self));
  g_return_if_fail (paths != NULL && steps != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pymemd_helper_channel_name_async);
  if (!find_idle_helper (self, task, pid, start_time, &helper))
    return;
  pymemd_helper_connection_name (helper, next_request_id (self), paths, steps, g_steal_pointer (&task), timeout,
                                 cancellable);
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
  PymemdHelperConnection *helper;

  g_return_val_if_fail (PYMEMD_IS_HELPER_CHANNEL (self), NULL);
  helper = g_hash_table_lookup (self->helpers, key);
  return helper != NULL ? pymemd_helper_connection_get_how (helper) : NULL;
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
  g_autoptr(GPtrArray) open = g_ptr_array_new_with_free_func ((GDestroyNotify) pymemd_helper_connection_unref);
  GHashTableIter iter;
  gpointer connection;
  struct stat st;

  pymemd_helper_source_clear (&self->accept_source);
  pymemd_helper_source_clear (&self->accept_pause);
  if (self->listen_fd >= 0)
    {
      close (self->listen_fd);
      self->listen_fd = -1;
      if (self->socket_ino != 0 && lstat (self->path, &st) == 0 &&
          st.st_dev == self->socket_dev && st.st_ino == self->socket_ino)
        unlink (self->path);
    }

  g_hash_table_iter_init (&iter, self->connections);
  while (g_hash_table_iter_next (&iter, &connection, NULL))
    g_ptr_array_add (open, pymemd_helper_connection_ref (connection));
  for (guint i = 0; i < open->len; i++)
    close_connection (g_ptr_array_index (open, i), NULL,
                      g_error_new (PYMEMD_ERROR, PYMEMD_ERROR_FAILED, _("The helper channel closed")),
                      object);
  while (self->waiters->len > 0)
    waiter_complete (self, g_ptr_array_index (self->waiters, 0),
                     g_error_new (PYMEMD_ERROR, PYMEMD_ERROR_FAILED,
                                  _("The helper channel closed")));
  /* Last: closing the connections above frees their frames. */
  pymemd_helper_source_clear (&self->trim_source);

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
  self->connections = g_hash_table_new_full (NULL, NULL, (GDestroyNotify) pymemd_helper_connection_unref, NULL);
  self->helpers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->uids = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  self->pids = g_hash_table_new (NULL, NULL);
  self->waiters = g_ptr_array_new_with_free_func ((GDestroyNotify) waiter_free);
  self->read_buffer = g_malloc (PYMEMD_HELPER_CONNECTION_READ_CHUNK);
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
