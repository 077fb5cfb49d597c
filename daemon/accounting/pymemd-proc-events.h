/* Hears the kernel's process events connector (fork, exec, exit, id and
 * name changes) so that discovery need not list /proc on every tick. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef enum {
  PYMEMD_PROC_EVENT_FORK, /* PID is a new process (not a thread), PARENT its parent's tgid */
  PYMEMD_PROC_EVENT_EXEC, /* PID ran execve: a new image */
  PYMEMD_PROC_EVENT_EXIT, /* PID, a whole process (its main thread), ended */
  PYMEMD_PROC_EVENT_CHANGE, /* PID's main thread changed its uids, gids or
                               name (setresuid, prctl PR_SET_NAME, ...) */
} PymemdProcEventKind;

typedef struct {
  PymemdProcEventKind kind;
  gint32              pid;    /* the thread group id */
  gint32              parent; /* FORK only */
} PymemdProcEvent;

/* What one datagram from the connector held. */
typedef struct {
  GArray  *events;        /* PymemdProcEvent, in the kernel's order */
  gboolean lost;          /* the kernel said it dropped some (overrun, another
                             listener's subscription ack, a sequence gap) */
  gboolean acked;         /* the answer to our own subscription came */
  gint32   ack_error;     /* ... with this errno (0: subscribed) */
  guint    ignored;       /* kinds we do not need (sid, ptrace, ...) and threads */
  guint    malformed;     /* messages cut short or of a shape we do not know */
} PymemdProcEventBatch;

void pymemd_proc_event_batch_init  (PymemdProcEventBatch *batch);
void pymemd_proc_event_batch_clear (PymemdProcEventBatch *batch);

/* Parses one datagram of LEN bytes (netlink messages carrying cn_msg and
 * proc_event), every length checked against what is there. SUBSCRIBE_SEQ
 * is the ack number of our own PROC_CN_MCAST_LISTEN request (the kernel
 * acknowledges it with that plus one). Events
 * are appended to BATCH; nothing outside BUF is read. */
void pymemd_proc_events_parse (const guint8         *buf,
                               gsize                 len,
                               guint32               subscribe_seq,
                               PymemdProcEventBatch *batch);

#define PYMEMD_TYPE_PROC_EVENTS (pymemd_proc_events_get_type ())
G_DECLARE_FINAL_TYPE (PymemdProcEvents, pymemd_proc_events, PYMEMD, PROC_EVENTS, GObject)

/* EVENTS (N of them) came; LOST: some may be missing since the last call,
 * so the receiver should list all processes once. */
typedef void (*PymemdProcEventsFunc) (const PymemdProcEvent *events,
                                      guint                  n_events,
                                      gboolean               lost,
                                      gpointer               user_data);

/* A listener not yet subscribed: pymemd_proc_events_open () subscribes;
 * tests may feed it datagrams without a socket. */
PymemdProcEvents *pymemd_proc_events_new (PymemdProcEventsFunc func,
                                          gpointer             user_data);

/* Opens the connector socket, subscribes and waits (bounded) for the
 * kernel's acknowledgement; then watches the socket from the thread-default
 * main context. Fails, with the reason, where the connector cannot be used:
 * no CAP_NET_ADMIN, another network, pid or user namespace, no
 * CONFIG_PROC_EVENTS. */
gboolean pymemd_proc_events_open (PymemdProcEvents *self,
                                  GError          **error);

/* Handles one datagram as if it had come from the socket. */
void     pymemd_proc_events_feed (PymemdProcEvents *self,
                                  const guint8     *buf,
                                  gsize             len);
/* Handles a failed receive: ENOBUFS (the socket's buffer overflowed and
 * the kernel dropped events) tells the receiver to list once. */
void     pymemd_proc_events_feed_error (PymemdProcEvents *self,
                                        int               errsv);

/* Events handed on, and times the receiver was told some were lost. */
guint64  pymemd_proc_events_get_count  (PymemdProcEvents *self);
guint64  pymemd_proc_events_get_losses (PymemdProcEvents *self);

G_END_DECLS
