/* org.pymemd.Monitor1 as exported: the generated skeleton, its method calls passed through the access gate. */
#pragma once

#include "pymemd-dbus-generated.h"
#include "pymemd-method-access.h"

G_BEGIN_DECLS

#define PYMEMD_TYPE_MANAGER (pymemd_manager_get_type ())
G_DECLARE_FINAL_TYPE (PymemdManager, pymemd_manager, PYMEMD, MANAGER, PymemdDbusMonitor1Skeleton)

/* Every method call goes through GATE (which must outlive the manager)
 * before its handle-* signal is emitted. */
PymemdManager *pymemd_manager_new (const PymemdMethodGate *gate);

G_END_DECLS
