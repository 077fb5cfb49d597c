/* Hears the kernel's process events connector (fork, exec, exit) so that discovery need not list /proc on every tick. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>

#include <glib-unix.h>
#include <glib/gi18n.h>

#include "pymemd-error.h"
#include "pymemd-proc-events.h"

/* The kernel answers the subscription at once (it runs in our send); an
 * answer this late is none: another pid or user namespace, whose requests
 * the kernel ignores without a word. */
#define ACK_TIMEOUT_MS 1000
/* One wakeup reads at most this many datagrams, so that a storm of
 * events (make -j, a fork bomb) cannot keep the main loop from the rest. */
#define DATAGRAMS_PER_WAKEUP 64
/* Room for a burst of about 10⁴ events (each queued datagram costs about
 * 1 KiB of socket memory) before the kernel drops some and says ENOBUFS. */
#define RECEIVE_BUFFER (8 << 20)
/* The per-cpu sequence numbers tracked; more CPUs than this go untracked. */
#define MAX_TRACKED_CPUS 8192
/* The ack number of our PROC_CN_MCAST_LISTEN request; the kernel's
 * acknowledgement carries it plus one (and a seq of its own). */
#define SUBSCRIBE_SEQ 0x70796d64 /* "pymd" */

/* A datagram holds one event today; room for the kernel to batch. */
#define DATAGRAM_BUFFER 8192

struct _PymemdProcEvents
{
  GObject              parent_instance;
  int                  fd;
  guint                source;
  PymemdProcEventsFunc func;
  gpointer             user_data;
  GHashTable          *next_seq; /* cpu -> the sequence number expected next */
  guint64              count;
  guint64              losses;
};

G_DEFINE_TYPE (PymemdProcEvents, pymemd_proc_events, G_TYPE_OBJECT)

void
pymemd_proc_event_batch_init (PymemdProcEventBatch *batch)
{
  memset (batch, 0, sizeof *batch);
  batch->events = g_array_new (FALSE, FALSE, sizeof (PymemdProcEvent));
}

void
pymemd_proc_event_batch_clear (PymemdProcEventBatch *batch)
{
  g_clear_pointer (&batch->events, g_array_unref);
}

static void
add_event (PymemdProcEventBatch *batch, PymemdProcEventKind kind, guint32 pid, guint32 parent)
{
  PymemdProcEvent event = { kind, (gint32) pid, (gint32) parent };

  /* Pids are positive and below 2²² (PID_MAX_LIMIT): anything else is no pid. */
  if (pid == 0 || pid > G_MAXINT32 || parent > G_MAXINT32)
    {
      batch->malformed++;
      return;
    }
  g_array_append_val (batch->events, event);
}

/* Events carry a sequence number counted per CPU: a gap means the kernel
 * could not deliver some (it allocates without waiting). */
static void
check_sequence (GHashTable *next_seq, guint32 cpu, guint32 seq, PymemdProcEventBatch *batch)
{
  gpointer expected;

  if (next_seq == NULL)
    return;
  if (g_hash_table_lookup_extended (next_seq, GUINT_TO_POINTER (cpu), NULL, &expected))
    {
      guint32 ahead = seq - GPOINTER_TO_UINT (expected);
      /* Behind (a reordering we cannot have lost anything to) stays. */
      if (ahead != 0 && ahead < G_MAXINT32)
        batch->lost = TRUE;
    }
  else if (g_hash_table_size (next_seq) >= MAX_TRACKED_CPUS)
    return;
  g_hash_table_insert (next_seq, GUINT_TO_POINTER (cpu), GUINT_TO_POINTER (seq + 1));
}

/* Credentials are a thread's, and /proc/PID's status, name and ptrace
 * checks are its main thread's: what another thread does to its own is
 * not PID's. */
static void
add_leader_change (PymemdProcEventBatch *batch, guint32 pid, guint32 tgid)
{
  if (pid != tgid)
    batch->ignored++;
  else
    add_event (batch, PYMEMD_PROC_EVENT_CHANGE, tgid, 0);
}

/* One connector message of LEN bytes (cn_msg and its data). */
static void
parse_cn_msg (const guint8 *data, gsize len, guint32 subscribe_seq, GHashTable *next_seq,
              PymemdProcEventBatch *batch)
{
  struct cn_msg msg;
  struct proc_event ev;
  gsize ev_len, header = offsetof (struct proc_event, event_data);

  if (len < sizeof msg)
    {
      batch->malformed++;
      return;
    }
  memcpy (&msg, data, sizeof msg);
  if (msg.id.idx != CN_IDX_PROC || msg.id.val != CN_VAL_PROC)
    {
      batch->ignored++;
      return;
    }
  ev_len = msg.len;
  if (ev_len > len - sizeof msg || ev_len < header)
    {
      batch->malformed++;
      return;
    }
  /* Newer kernels' events may be longer than this header knows; older
   * kinds' fields are where they were. */
  memset (&ev, 0, sizeof ev);
  memcpy (&ev, data + sizeof msg, MIN (ev_len, sizeof ev));

  switch (ev.what)
    {
    case PROC_EVENT_NONE:
      if (ev_len < header + sizeof ev.event_data.ack)
        batch->malformed++;
      else if (msg.ack == subscribe_seq + 1)
        {
          batch->acked = TRUE;
          batch->ack_error = (gint32) ev.event_data.ack.err;
        }
      else
        batch->lost = TRUE; /* another listener (un)subscribed: the kernel
                               may have reset what it sends; list once */
      return;
    case PROC_EVENT_FORK:
      if (ev_len < header + sizeof ev.event_data.fork)
        break;
      check_sequence (next_seq, ev.cpu, msg.seq, batch);
      if (ev.event_data.fork.child_pid != ev.event_data.fork.child_tgid)
        batch->ignored++; /* a new thread */
      else
        add_event (batch, PYMEMD_PROC_EVENT_FORK, (guint32) ev.event_data.fork.child_tgid,
                   (guint32) ev.event_data.fork.parent_tgid);
      return;
    case PROC_EVENT_EXEC:
      if (ev_len < header + sizeof ev.event_data.exec)
        break;
      check_sequence (next_seq, ev.cpu, msg.seq, batch);
      add_event (batch, PYMEMD_PROC_EVENT_EXEC, (guint32) ev.event_data.exec.process_tgid, 0);
      return;
    case PROC_EVENT_EXIT:
      /* pid, tgid, code and signal: what every kernel since 2.6.15 sends. */
      if (ev_len < header + 4 * sizeof (guint32))
        break;
      check_sequence (next_seq, ev.cpu, msg.seq, batch);
      if (ev.event_data.exit.process_pid != ev.event_data.exit.process_tgid)
        batch->ignored++; /* a thread other than the main one */
      else
        add_event (batch, PYMEMD_PROC_EVENT_EXIT, (guint32) ev.event_data.exit.process_tgid, 0);
      return;
    case PROC_EVENT_UID:
    case PROC_EVENT_GID:
      /* ruid/euid (rgid/egid) here; any of its ids (saved, fs too) moved. */
      if (ev_len < header + sizeof ev.event_data.id)
        break;
      check_sequence (next_seq, ev.cpu, msg.seq, batch);
      add_leader_change (batch, (guint32) ev.event_data.id.process_pid,
                         (guint32) ev.event_data.id.process_tgid);
      return;
    case PROC_EVENT_COMM:
      if (ev_len < header + sizeof ev.event_data.comm)
        break;
      check_sequence (next_seq, ev.cpu, msg.seq, batch);
      add_leader_change (batch, (guint32) ev.event_data.comm.process_pid,
                         (guint32) ev.event_data.comm.process_tgid);
      return;
    default:
      check_sequence (next_seq, ev.cpu, msg.seq, batch);
      batch->ignored++; /* sid, ptrace, coredump, and kinds to come */
      return;
    }
  batch->malformed++; /* a known kind, too short for its fields */
}

static void
parse (const guint8 *buf, gsize len, guint32 subscribe_seq, GHashTable *next_seq,
       PymemdProcEventBatch *batch)
{
  gsize offset = 0;

  while (len - offset >= NLMSG_HDRLEN)
    {
      struct nlmsghdr header;
      gsize step;

      memcpy (&header, buf + offset, sizeof header);
      if (header.nlmsg_len < NLMSG_HDRLEN || header.nlmsg_len > len - offset)
        {
          batch->malformed++;
          return;
        }
      if (header.nlmsg_type == NLMSG_OVERRUN)
        batch->lost = TRUE;
      else if (header.nlmsg_type == NLMSG_NOOP)
        ;
      else if (header.nlmsg_type == NLMSG_ERROR)
        batch->malformed++;
      else
        parse_cn_msg (buf + offset + NLMSG_HDRLEN, header.nlmsg_len - NLMSG_HDRLEN,
                      subscribe_seq, next_seq, batch);
      step = NLMSG_ALIGN (header.nlmsg_len);
      if (step >= len - offset)
        return;
      offset += step;
    }
  if (offset < len)
    batch->malformed++; /* a tail too short for a header */
}

void
pymemd_proc_events_parse (const guint8 *buf, gsize len, guint32 subscribe_seq,
                          PymemdProcEventBatch *batch)
{
  parse (buf, len, subscribe_seq, NULL, batch);
}

static void
pymemd_proc_events_finalize (GObject *object)
{
  PymemdProcEvents *self = PYMEMD_PROC_EVENTS (object);

  g_clear_handle_id (&self->source, g_source_remove);
  if (self->fd >= 0)
    close (self->fd); /* the kernel counts the listener out (cn_proc's release) */
  g_hash_table_unref (self->next_seq);
  G_OBJECT_CLASS (pymemd_proc_events_parent_class)->finalize (object);
}

static void
pymemd_proc_events_class_init (PymemdProcEventsClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pymemd_proc_events_finalize;
}

static void
pymemd_proc_events_init (PymemdProcEvents *self)
{
  self->fd = -1;
  self->next_seq = g_hash_table_new (NULL, NULL);
}

PymemdProcEvents *
pymemd_proc_events_new (PymemdProcEventsFunc func, gpointer user_data)
{
  PymemdProcEvents *self = g_object_new (PYMEMD_TYPE_PROC_EVENTS, NULL);

  self->func = func;
  self->user_data = user_data;
  return self;
}

static void
deliver (PymemdProcEvents *self, PymemdProcEventBatch *batch)
{
  if (batch->events->len == 0 && !batch->lost)
    return;
  self->count += batch->events->len;
  if (batch->lost)
    self->losses++;
  self->func ((const PymemdProcEvent *) (gpointer) batch->events->data, batch->events->len,
              batch->lost, self->user_data);
}

void
pymemd_proc_events_feed (PymemdProcEvents *self, const guint8 *buf, gsize len)
{
  PymemdProcEventBatch batch;

  pymemd_proc_event_batch_init (&batch);
  parse (buf, len, SUBSCRIBE_SEQ, self->next_seq, &batch);
  deliver (self, &batch);
  pymemd_proc_event_batch_clear (&batch);
}

void
pymemd_proc_events_feed_error (PymemdProcEvents *self, int errsv)
{
  PymemdProcEventBatch batch;

  if (errsv != ENOBUFS)
    return;
  pymemd_proc_event_batch_init (&batch);
  batch.lost = TRUE;
  deliver (self, &batch);
  pymemd_proc_event_batch_clear (&batch);
}

/* Reads what is queued, within DATAGRAMS_PER_WAKEUP, as one batch. */
static gboolean
on_readable (int fd, GIOCondition condition, gpointer data)
{
  PymemdProcEvents *self = data;
  PymemdProcEventBatch batch;
  guint8 buf[DATAGRAM_BUFFER];

  pymemd_proc_event_batch_init (&batch);
  for (guint i = 0; i < DATAGRAMS_PER_WAKEUP; i++)
    {
      ssize_t n = recv (fd, buf, sizeof buf, MSG_DONTWAIT);

      if (n < 0 && errno == ENOBUFS)
        batch.lost = TRUE; /* the kernel dropped some; the queue goes on */
      else if (n < 0 && errno == EINTR)
        continue;
      else if (n <= 0)
        break;
      else
        parse (buf, (gsize) n, SUBSCRIBE_SEQ, self->next_seq, &batch);
    }
  deliver (self, &batch);
  pymemd_proc_event_batch_clear (&batch);
  return G_SOURCE_CONTINUE;
}

static gboolean
send_op (int fd, enum proc_cn_mcast_op op, GError **error)
{
  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  struct {
    struct nlmsghdr header;
    struct cn_msg   msg;
    guint32         op;
  } request;

  memset (&request, 0, sizeof request);
  request.header.nlmsg_len = sizeof request;
  request.header.nlmsg_type = NLMSG_DONE;
  request.msg.id.idx = CN_IDX_PROC;
  request.msg.id.val = CN_VAL_PROC;
  request.msg.seq = SUBSCRIBE_SEQ;
  request.msg.ack = SUBSCRIBE_SEQ;
  request.msg.len = sizeof request.op;
  request.op = op;
  if (sendto (fd, &request, sizeof request, 0, (struct sockaddr *) &kernel, sizeof kernel) < 0)
    {
      int errsv = errno;
      g_set_error (error, PYMEMD_ERROR, pymemd_error_from_errno (errsv),
                   _("Cannot subscribe to process events: %s"), g_strerror (errsv));
      return FALSE;
    }
  return TRUE;
}

/* Reads until the kernel acknowledges our subscription; the events that
 * come before it are of no use yet (the first scan lists /proc after). */
static gboolean
wait_for_ack (PymemdProcEvents *self, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + ACK_TIMEOUT_MS * 1000;
  guint8 buf[DATAGRAM_BUFFER];

  for (;;)
    {
      struct pollfd pfd = { self->fd, POLLIN, 0 };
      gint64 left = deadline - g_get_monotonic_time ();
      PymemdProcEventBatch batch;
      gboolean acked;
      gint32 ack_error;
      ssize_t n;

      if (left <= 0 || poll (&pfd, 1, (int) (left / 1000) + 1) == 0)
        {
          g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED,
                       _("The kernel did not answer the subscription to process events "
                         "(another pid or user namespace, or a kernel without CONFIG_PROC_EVENTS)"));
          return FALSE;
        }
      n = recv (self->fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == ENOBUFS))
        continue;
      if (n < 0)
        {
          int errsv = errno;
          g_set_error (error, PYMEMD_ERROR, pymemd_error_from_errno (errsv),
                       _("Cannot read process events: %s"), g_strerror (errsv));
          return FALSE;
        }
      pymemd_proc_event_batch_init (&batch);
      parse (buf, (gsize) n, SUBSCRIBE_SEQ, self->next_seq, &batch);
      acked = batch.acked;
      ack_error = batch.ack_error;
      pymemd_proc_event_batch_clear (&batch);
      if (!acked)
        continue;
      if (ack_error != 0)
        {
          g_set_error (error, PYMEMD_ERROR, pymemd_error_from_errno (ack_error),
                       _("The kernel refused the subscription to process events: %s"),
                       g_strerror (ack_error));
          return FALSE;
        }
      return TRUE;
    }
}

gboolean
pymemd_proc_events_open (PymemdProcEvents *self, GError **error)
{
  struct sockaddr_nl local = { .nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC };
  int size = RECEIVE_BUFFER;
  int errsv;

  g_return_val_if_fail (self->fd < 0, FALSE);

  self->fd = socket (AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_CONNECTOR);
  if (self->fd < 0)
    {
      errsv = errno;
      g_set_error (error, PYMEMD_ERROR, pymemd_error_from_errno (errsv),
                   _("Cannot open the process events connector: %s"), g_strerror (errsv));
      return FALSE;
    }
  /* Past rmem_max only with CAP_NET_ADMIN, which the subscription needs
   * anyway; the default buffer otherwise. */
  if (setsockopt (self->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
    (void) setsockopt (self->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  if (bind (self->fd, (struct sockaddr *) &local, sizeof local) < 0)
    {
      errsv = errno;
      g_set_error (error, PYMEMD_ERROR, pymemd_error_from_errno (errsv),
                   _("Cannot listen to process events: %s"), g_strerror (errsv));
      goto fail;
    }
  if (!send_op (self->fd, PROC_CN_MCAST_LISTEN, error) || !wait_for_ack (self, error))
    goto fail;
  g_hash_table_remove_all (self->next_seq); /* counted from the first event on */
  self->source = g_unix_fd_add (self->fd, G_IO_IN, on_readable, self);
  return TRUE;

fail:
  close (self->fd);
  self->fd = -1;
  return FALSE;
}

guint64
pymemd_proc_events_get_count (PymemdProcEvents *self)
{
  return self->count;
}

guint64
pymemd_proc_events_get_losses (PymemdProcEvents *self)
{
  return self->losses;
}
