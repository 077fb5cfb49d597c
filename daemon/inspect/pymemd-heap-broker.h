/* Answers requests for heap summaries: finds the helper or brings it in (users taking turns, each attach in a child process), asks it, measures the pages around it, keeps the result with the process and in history. */
#pragma once

#include <gio/gio.h>

#include "pymemd-helper-channel.h"
#include "pymemd-monitor.h"
#include "pymemd-recorder.h"
#include "pymemd-retained.h"

G_BEGIN_DECLS

/* How attaches share the daemon ([limits]; see pymemd(8), ATTACHING). */
typedef struct {
  double timeout_seconds; /* the daemon waits this long for one attach, then frees its slot */
  guint  per_uid;         /* attaches one user may have queued or running */
  guint  concurrent;      /* attaches running at once, of all users together */
} PymemdAttachLimits;

/* What retained-size analyses may take ([limits]; see pymemd(8)): each one's
 * memory (the helper is told the objects and references that fit), how
 * many at once of all users (one at a time per user). */
typedef struct {
  gsize memory;
  guint concurrent;
} PymemdGraphLimits;

#define PYMEMD_TYPE_HEAP_BROKER (pymemd_heap_broker_get_type ())
G_DECLARE_FINAL_TYPE (PymemdHeapBroker, pymemd_heap_broker, PYMEMD, HEAP_BROKER, GObject)

/* Listens for helpers on RUNTIME_DIR/helper.sock; HELPER_DIR holds the
 * pymemd_helper package that attaching loads. */
PymemdHeapBroker *pymemd_heap_broker_new (PymemdMonitor            *monitor,
                                          PymemdRecorder           *recorder,
                                          const char               *runtime_dir,
                                          const char               *helper_dir,
                                          const PymemdAttachLimits *attach_limits,
                                          const PymemdGraphLimits  *graph_limits,
                                          GError                  **error);

PymemdHelperChannel *pymemd_heap_broker_get_channel (PymemdHeapBroker *self);

/* Applies [limits]' attach and graph limits (at start and on reload). */
void pymemd_heap_broker_set_limits (PymemdHeapBroker         *self,
                                    const PymemdAttachLimits *attach,
                                    const PymemdGraphLimits  *graph);

/* A summary of PROCESS as GetHeapSummary answers it (a{sv}, see
 * data/org.pymemd.Monitor1.xml), with retained sizes and the HOLDERS
 * (1 … 200) that keep the most memory alive unless HOLDERS is 0: one
 * analysis at a time per CALLER_UID, [limits] graph-analyses in all, else
 * PYMEMD_ERROR_LIMIT_EXCEEDED. A light REQUEST (the periodic summaries,
 * [heap] in pymemd.conf(5)) reads no pages and has no ledger, is kept
 * marked "light", and leaves the process's latest summary as it was.
 * Without a helper, ATTACH brings it in;
 * otherwise PYMEMD_ERROR_NOT_ATTACHED. The caller has checked that the
 * asker, CALLER_UID, may do this. Attaches wait in their user's queue and
 * the users take turns ([limits] in pymemd.conf(5)): a user with
 * attaches-per-uid queued or running gets PYMEMD_ERROR_LIMIT_EXCEEDED; one
 * not done after attach-timeout-seconds, PYMEMD_ERROR_TIMED_OUT; a process
 * that exits meanwhile, PYMEMD_ERROR_NO_SUCH_PROCESS. */
void      pymemd_heap_broker_get_summary_async  (PymemdHeapBroker        *self,
                                                 PymemdProcess           *process,
                                                 const PymemdHeapRequest *request,
                                                 gboolean                 attach,
                                                 guint                    holders,
                                                 guint32                  caller_uid,
                                                 GAsyncReadyCallback      callback,
                                                 gpointer                 user_data);
GVariant *pymemd_heap_broker_get_summary_finish (PymemdHeapBroker *self,
                                                 GAsyncResult     *result,
                                                 GError          **error);

/* A summary the history kept (what pymemd_heap_broker_record_text makes)
 * as GetHeapSummaries serves it; NULL with ERROR if it cannot be read. */
GVariant *pymemd_heap_broker_variant_from_record (const char *text,
                                                  GError    **error);

G_END_DECLS
