/* The D-Bus face of the monitor: org.pymemd.Monitor1 (answered by the manager), one org.pymemd.Process1 object per interpreter, the gate, the signals after each scan. */
#pragma once

#include <gio/gio.h>

#include "pymemd-auth.h"
#include "pymemd-config.h"
#include "pymemd-heap-broker.h"
#include "pymemd-monitor.h"
#include "pymemd-names.h"
#include "pymemd-recorder.h"

G_BEGIN_DECLS

#define PYMEMD_DBUS_PATH PYMEMD_MANAGER_PATH

#define PYMEMD_TYPE_DBUS_SERVICE (pymemd_dbus_service_get_type ())
G_DECLARE_FINAL_TYPE (PymemdDbusService, pymemd_dbus_service, PYMEMD, DBUS_SERVICE, GObject)

/* Exports the API on CONNECTION; it follows MONITOR's scans from then on,
 * handing each to RECORDER, which answers the history calls. BROKER (or
 * NULL) answers the heap summary calls. */
PymemdDbusService *pymemd_dbus_service_new (GDBusConnection *connection,
                                            PymemdMonitor   *monitor,
                                            PymemdAuth      *auth,
                                            PymemdRecorder  *recorder,
                                            PymemdHeapBroker *broker,
                                            PymemdConfig    *config,
                                            GError         **error);

/* Applies a (new) configuration: the intervals shown, subscription and
 * rescan limits, the attach policy, the history's settings. */
void               pymemd_dbus_service_set_config (PymemdDbusService *self,
                                                   PymemdConfig      *config);

guint              pymemd_dbus_service_get_subscription_count (PymemdDbusService *self);

G_END_DECLS
