/* org.pymemd.Monitor1 as exported: the generated skeleton, its method calls passed through the access gate, then answered here from the monitor, the recorder and the heap broker. */
#pragma once

#include "pymemd-auth.h"
#include "pymemd-config.h"
#include "pymemd-dbus-generated.h"
#include "pymemd-heap-broker.h"
#include "pymemd-method-access.h"
#include "pymemd-monitor.h"
#include "pymemd-recorder.h"
#include "pymemd-subscriptions.h"

G_BEGIN_DECLS

#define PYMEMD_TYPE_MANAGER (pymemd_manager_get_type ())
G_DECLARE_FINAL_TYPE (PymemdManager, pymemd_manager, PYMEMD, MANAGER, PymemdDbusMonitor1Skeleton)

/* Every method call goes through GATE (which must outlive the manager)
 * before its handler runs. */
PymemdManager *pymemd_manager_new (const PymemdMethodGate *gate);

/* What the handlers answer from, given before the manager is exported:
 * MONITOR's processes, the history RECORDER keeps, BROKER's heap
 * summaries (NULL: there is no helper socket); AUTH tells who calls on
 * CONNECTION. */
void pymemd_manager_set_sources (PymemdManager    *self,
                                 GDBusConnection  *connection,
                                 PymemdMonitor    *monitor,
                                 PymemdAuth       *auth,
                                 PymemdRecorder   *recorder,
                                 PymemdHeapBroker *broker);
/* Applies a (new) configuration: the subscriptions' limits and defaults,
 * the growth window. Before the manager is exported, and on each reload. */
void pymemd_manager_set_config  (PymemdManager *self,
                                 PymemdConfig  *config);

/* The subscriptions Subscribe made, for the signals after each scan. A
 * subscriber that leaves the bus takes its own with it. */
PymemdSubscriptions *pymemd_manager_get_subscriptions (PymemdManager *self);

/* The processes changed (a scan, process events): the replies built for
 * whoever sees every process go. */
void pymemd_manager_forget_replies (PymemdManager *self);

/* Whether the arguments of INVOCATION (a method of org.pymemd.Monitor1;
 * any other passes) are good: the gate asks before anything else, so that
 * bad input is refused before anyone is asked anything. */
gboolean pymemd_manager_check_arguments (GDBusMethodInvocation *invocation,
                                         GError               **error);

/* Answers INVOCATION with the details of process PID, once the gate has
 * let the caller see it: GetProcessDetails, and the PymemdDetailsFunc of
 * the Process1 objects (MANAGER the manager). */
gboolean pymemd_manager_answer_details (GDBusMethodInvocation *invocation,
                                        guint                  pid,
                                        gpointer               manager);

G_END_DECLS
