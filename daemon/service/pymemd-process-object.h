/* An org.pymemd.Process1 object as exported: the generated skeleton, its method calls passed through the access gate. */
#pragma once

#include "pymemd-dbus-generated.h"
#include "pymemd-method-access.h"

G_BEGIN_DECLS

#define PYMEMD_TYPE_PROCESS_OBJECT (pymemd_process_object_get_type ())
G_DECLARE_FINAL_TYPE (PymemdProcessObject, pymemd_process_object, PYMEMD, PROCESS_OBJECT, PymemdDbusProcess1Skeleton)

/* Every method call goes through GATE (which must outlive the object)
 * before its handle-* signal is emitted. */
PymemdProcessObject *pymemd_process_object_new (const PymemdMethodGate *gate);

G_END_DECLS
