/* The Unix socket helpers connect to: who may connect (SO_PEERCRED, limits per user and process), whose hello to believe, the waits for one, and requests for heap summaries handed to the connection that answers them (docs/helper-protocol.md; a frame is pymemd-helper-frames', one connection pymemd-helper-connection's, the messages pymemd-helper-messages'). */
#pragma once

#include <gio/gio.h>

#include "pymemd-heap-graph.h"
#include "pymemd-heap-summary.h"
#include "pymemd-helper-messages.h"

G_BEGIN_DECLS


/* What the channel lets connections hold: in all, and per uid, so that one
 * user's processes never take what other users' need ([limits] in
 * pymemd.conf(5)). */
typedef struct {
  guint  connections;         /* open connections in all */
  guint  connections_per_uid; /* ... of one uid's processes */
  guint  connections_per_pid; /* ... of one process */
  gsize  buffer_per_uid;      /* bytes received of one uid's unfinished frames */
  double read_timeout;        /* seconds from the connection to the end of its hello,
                               * and from a frame's first byte to its last */
  guint  log_lines_per_uid;   /* lines logged about one uid's connections per log_window */
  double log_window;          /* seconds */
} PymemdHelperLimits;

/* 1024 connections, 128 per uid, 4 per process, 8 MiB per uid, 10 s,
 * 20 log lines per uid a minute. */
void pymemd_helper_limits_init (PymemdHelperLimits *limits);

#define PYMEMD_TYPE_HELPER_CHANNEL (pymemd_helper_channel_get_type ())
G_DECLARE_FINAL_TYPE (PymemdHelperChannel, pymemd_helper_channel, PYMEMD, HELPER_CHANNEL, GObject)

/* Listens on SOCKET_PATH (a stale socket there is replaced; mode 0666) and
 * checks claims against PROC_ROOT (normally "/proc"), with the default
 * limits. Connections are served on the thread-default main context of the
 * caller. */
PymemdHelperChannel *pymemd_helper_channel_new (const char *socket_path,
                                                const char *proc_root,
                                                GError    **error);
const char          *pymemd_helper_channel_get_path (PymemdHelperChannel *self);

/* Whether a helper of (PID, START_TIME) is connected and said hello. */
gboolean pymemd_helper_channel_has_helper (PymemdHelperChannel *self,
                                           gint32               pid,
                                           guint64              start_time);

/* How the connected helper of (PID, START_TIME) came, as its hello said
 * ("env", "import", "attach"), or NULL without one. */
const char *pymemd_helper_channel_get_how (PymemdHelperChannel *self,
                                           gint32               pid,
                                           guint64              start_time);

/* Completes when a helper of (PID, START_TIME) has said hello — with NONCE
 * when not NULL — or fails with PYMEMD_ERROR_TIMED_OUT after TIMEOUT seconds. */
void     pymemd_helper_channel_wait_async  (PymemdHelperChannel *self,
                                            gint32               pid,
                                            guint64              start_time,
                                            const char          *nonce,
                                            double               timeout,
                                            GCancellable        *cancellable,
                                            GAsyncReadyCallback  callback,
                                            gpointer             user_data);
gboolean pymemd_helper_channel_wait_finish (PymemdHelperChannel *self,
                                            GAsyncResult        *result,
                                            GError             **error);

/* Sends REQUEST to the helper of (PID, START_TIME) and completes with its
 * validated summary: PYMEMD_ERROR_NOT_ATTACHED without a helper,
 * PYMEMD_ERROR_LIMIT_EXCEEDED while another request to it is outstanding,
 * PYMEMD_ERROR_TIMED_OUT after TIMEOUT seconds (the connection is then
 * closed), PYMEMD_ERROR_FAILED with the helper's own "error" message,
 * PYMEMD_ERROR_PROTOCOL when the answer breaks the protocol. */
void               pymemd_helper_channel_request_async  (PymemdHelperChannel     *self,
                                                         gint32                   pid,
                                                         guint64                  start_time,
                                                         const PymemdHeapRequest *request,
                                                         double                   timeout,
                                                         GCancellable            *cancellable,
                                                         GAsyncReadyCallback      callback,
                                                         gpointer                 user_data);
PymemdHeapSummary *pymemd_helper_channel_request_finish (PymemdHelperChannel *self,
                                                         GAsyncResult        *result,
                                                         GError             **error);
/* The same, with the object graph the request asked for: ended, or NULL
 * with NO_GRAPH saying why (an older helper that does not walk it). */
PymemdHeapSummary *pymemd_helper_channel_request_finish_graph (PymemdHelperChannel *self,
                                                               GAsyncResult        *result,
                                                               PymemdHeapGraph    **graph,
                                                               char               **no_graph,
                                                               GError             **error);

/* Asks the helper of (PID, START_TIME) to name PATHS (the "paths" of a
 * "name" request, docs/helper-protocol.md), each of STEPS (guint) steps;
 * completes with the checked "names", or the errors of
 * pymemd_helper_channel_request_async (). */
void      pymemd_helper_channel_name_async  (PymemdHelperChannel *self,
                                             gint32               pid,
                                             guint64              start_time,
                                             JsonNode            *paths,
                                             GArray              *steps,
                                             double               timeout,
                                             GCancellable        *cancellable,
                                             GAsyncReadyCallback  callback,
                                             gpointer             user_data);
JsonNode *pymemd_helper_channel_name_finish (PymemdHelperChannel *self,
                                             GAsyncResult        *result,
                                             GError             **error);

/* Applies LIMITS to what comes next: connections and frames already there
 * keep what they hold. */
void pymemd_helper_channel_set_limits (PymemdHelperChannel      *self,
                                       const PymemdHelperLimits *limits);

/* Signals: "helper-connected" (int pid, guint64 start_time, const char *how)
 * after a valid hello; "helper-disconnected" (int pid, guint64 start_time);
 * "rejected" (int pid or 0, const char *reason) whenever a connection is
 * refused or closed for breaking the protocol or a limit (also logged,
 * within the log lines allowed for its uid). */

G_END_DECLS
