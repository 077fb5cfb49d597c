/* What pymemd tells the applet, as a list model: GetProcesses once, then only its signals, across the daemon's restarts. */
#pragma once

#include <gio/gio.h>

#include "pymemd-applet-process.h"

G_BEGIN_DECLS

typedef enum {
  PYMEMD_APPLET_STATE_CONNECTING,  /* to the bus */
  PYMEMD_APPLET_STATE_NO_BUS,      /* the bus cannot be reached: see the message */
  PYMEMD_APPLET_STATE_NOT_RUNNING, /* nobody owns org.pymemd.Monitor1 */
  PYMEMD_APPLET_STATE_LOADING,     /* Subscribe and GetProcesses asked */
  PYMEMD_APPLET_STATE_RUNNING,     /* the model follows the daemon */
  PYMEMD_APPLET_STATE_FAILED,      /* the daemon refused: see the message */
} PymemdAppletState;

/* "not-running", ...: the words of the debug log. */
const char *pymemd_applet_state_to_string (PymemdAppletState state);

#define PYMEMD_APPLET_TYPE_SOURCE (pymemd_applet_source_get_type ())
G_DECLARE_FINAL_TYPE (PymemdAppletSource, pymemd_applet_source, PYMEMD_APPLET, SOURCE, GObject)

/* The daemon on the bus at ADDRESS, or (ADDRESS NULL) on BUS_TYPE's bus. */
PymemdAppletSource *pymemd_applet_source_new (GBusType    bus_type,
                                              const char *address);
/* Connects and follows the daemon from now on. */
void                pymemd_applet_source_start (PymemdAppletSource *self);

/* The processes, a GListModel of PymemdAppletProcess in no order. */
GListModel         *pymemd_applet_source_get_model   (PymemdAppletSource *self);
PymemdAppletState   pymemd_applet_source_get_state   (PymemdAppletSource *self);
/* Why the state is NO_BUS or FAILED, for people; NULL otherwise. */
const char         *pymemd_applet_source_get_message (PymemdAppletSource *self);
PymemdAppletProcess *pymemd_applet_source_lookup     (PymemdAppletSource *self,
                                                      guint32             pid,
                                                      guint64             start_time);
/* The sum of the PSS of the processes in the model the daemon gave it of. */
guint64             pymemd_applet_source_get_total   (PymemdAppletSource *self);

/* Asks GetHistory for PROCESS's recent PSS, unless it was asked already or
 * the process is restricted; a few at a time, and only for processes still
 * viewed when their turn comes. */
void                pymemd_applet_source_request_history (PymemdAppletSource  *self,
                                                          PymemdAppletProcess *process);

/* GetHeapSummary (pid, start_time, {attach: true}): the summary (a{sv}). */
void                pymemd_applet_source_get_heap_summary        (PymemdAppletSource  *self,
                                                                  guint32              pid,
                                                                  guint64              start_time,
                                                                  GCancellable        *cancellable,
                                                                  GAsyncReadyCallback  callback,
                                                                  gpointer             user_data);
GVariant           *pymemd_applet_source_get_heap_summary_finish (PymemdAppletSource *self,
                                                                  GAsyncResult       *result,
                                                                  GError            **error);

G_END_DECLS
