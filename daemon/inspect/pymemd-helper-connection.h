/* One helper's connection: the peer SO_PEERCRED named, the frames it sends and those queued for it, and the one request it may have outstanding paired with its answer; the channel that accepted it decides who the peer is. */
#pragma once

#include <gio/gio.h>

#include "pymemd-error.h"
#include "pymemd-heap-graph.h"
#include "pymemd-heap-summary.h"
#include "pymemd-helper-messages.h"

G_BEGIN_DECLS

/* What one wake-up of a connection reads at most: a helper sending a large
 * frame does not hold up the main loop. */
#define PYMEMD_HELPER_CONNECTION_READ_CHUNK (64 * 1024)

typedef struct _PymemdHelperConnection PymemdHelperConnection;

/* What a connection asks of the channel that owns it (OWNER below). */
typedef struct {
  /* Closes CONNECTION, if still open: pymemd_helper_connection_shut () and
   * the owner's own records; REJECTION, when not NULL, logged and
   * signalled; the outstanding request fails with REQUEST_ERROR (taken;
   * NULL: the helper disconnected). */
  void     (*close)        (PymemdHelperConnection *connection,
                            const char             *rejection,
                            GError                 *request_error,
                            GObject                *owner);
  /* A "hello" or "failed" (TYPE) message: who the peer is, is the owner's
   * to decide. */
  void     (*introduce)    (PymemdHelperConnection *connection,
                            const char             *type,
                            JsonObject             *message,
                            GObject                *owner);
  /* LEN more bytes of an unfinished frame: FALSE when that is more than
   * the peer's uid may hold (CONNECTION is then closed). */
  gboolean (*hold)         (PymemdHelperConnection *connection,
                            gsize                   len,
                            GObject                *owner);
  /* LEN bytes held are given back: their frame was complete, or dropped. */
  void     (*release)      (PymemdHelperConnection *connection,
                            gsize                   len,
                            GObject                *owner);
  /* Logs MESSAGE about CONNECTION's peer, within what its uid may log. */
  void     (*log)          (PymemdHelperConnection *connection,
                            const char             *message,
                            GObject                *owner);
  /* Seconds a hello, and each frame begun, may take (read when armed). */
  double   (*read_timeout) (GObject *owner);
} PymemdHelperConnectionOwner;

/* Takes FD, a connection of the peer (PID, UID) that OWNER accepted as its
 * SERIALth: served on CONTEXT, reading into READ_BUFFER (of
 * PYMEMD_HELPER_CONNECTION_READ_CHUNK bytes, which connections share:
 * reads never wait). */
PymemdHelperConnection *pymemd_helper_connection_new   (int                                fd,
                                                        gint32                             pid,
                                                        guint32                            uid,
                                                        guint64                            serial,
                                                        GMainContext                      *context,
                                                        guint8                            *read_buffer,
                                                        const PymemdHelperConnectionOwner *iface,
                                                        GObject                           *owner);
PymemdHelperConnection *pymemd_helper_connection_ref   (PymemdHelperConnection *self);
void                    pymemd_helper_connection_unref (PymemdHelperConnection *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PymemdHelperConnection, pymemd_helper_connection_unref)

/* Reads what the peer sent as it connected (most connections are decided
 * there), then watches for more and for the hello's deadline. */
void     pymemd_helper_connection_start (PymemdHelperConnection *self);

gboolean pymemd_helper_connection_is_open    (PymemdHelperConnection *self);
gint32   pymemd_helper_connection_get_pid    (PymemdHelperConnection *self);
guint32  pymemd_helper_connection_get_uid    (PymemdHelperConnection *self);
guint64  pymemd_helper_connection_get_serial (PymemdHelperConnection *self);

/* What the hello the owner accepted said: "pid:start_time" as KEY, the
 * start time checked, NONCE (or NULL), HOW; AWAITED: the AWAITEDth hello a
 * wait was for, or 0. The hello's deadline ends. */
void        pymemd_helper_connection_introduce      (PymemdHelperConnection *self,
                                                     const char             *key,
                                                     guint64                 start_time,
                                                     const char             *nonce,
                                                     const char             *how,
                                                     guint64                 awaited);
/* NULL before the hello. */
const char *pymemd_helper_connection_get_key        (PymemdHelperConnection *self);
guint64     pymemd_helper_connection_get_start_time (PymemdHelperConnection *self);
const char *pymemd_helper_connection_get_nonce      (PymemdHelperConnection *self);
const char *pymemd_helper_connection_get_how        (PymemdHelperConnection *self);
guint64     pymemd_helper_connection_get_awaited    (PymemdHelperConnection *self);

/* Whether a request is outstanding (its caller may have given up). */
gboolean pymemd_helper_connection_is_busy (PymemdHelperConnection *self);

/* Sends REQUEST as request ID: TASK (taken) completes with the validated
 * summary (pymemd_helper_connection_propagate_summary ()), the helper's
 * "error", or the connection's closing; after TIMEOUT seconds the
 * connection is closed. */
void pymemd_helper_connection_request (PymemdHelperConnection  *self,
                                       guint32                  id,
                                       const PymemdHeapRequest *request,
                                       GTask                   *task,
                                       double                   timeout,
                                       GCancellable            *cancellable);
/* Sends a "name" request of PATHS as request ID: TASK (taken) completes
 * with the checked "names" (a JsonNode). */
void pymemd_helper_connection_name    (PymemdHelperConnection *self,
                                       guint32                 id,
                                       JsonNode               *paths,
                                       GArray                 *steps,
                                       GTask                  *task,
                                       double                  timeout,
                                       GCancellable           *cancellable);
/* What a pymemd_helper_connection_request () task completed with. */
PymemdHeapSummary *pymemd_helper_connection_propagate_summary (GTask            *task,
                                                               PymemdHeapGraph **graph,
                                                               char            **no_graph,
                                                               GError          **error);

/* Closes the connection (through the owner) for REASON (FORMAT): logged
 * with its pid, and its outstanding request fails with CODE. */
void pymemd_helper_connection_reject (PymemdHelperConnection *self,
                                      PymemdError             code,
                                      const char             *format,
                                      ...) G_GNUC_PRINTF (3, 4);

/* For the owner's close: stops reading and writing, gives back what the
 * unfinished frame held, and returns the outstanding request's task (or
 * NULL). The connection counts as closed from here on. */
GTask *pymemd_helper_connection_shut (PymemdHelperConnection *self);

/* SOURCE with FUNC (DATA) attached to CONTEXT; a timeout of SECONDS (NaN
 * or less than 0: 0). Both returned with their reference, which
 * pymemd_helper_source_clear () destroys and drops. */
GSource *pymemd_helper_source_attach  (GMainContext *context,
                                       GSource      *source,
                                       GSourceFunc   func,
                                       gpointer      data);
GSource *pymemd_helper_timeout_attach (GMainContext *context,
                                       double        seconds,
                                       GSourceFunc   func,
                                       gpointer      data);
void     pymemd_helper_source_clear   (GSource **source);

G_END_DECLS
