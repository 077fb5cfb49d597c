/* An org.pymemd.Process1 object: one interpreter's status-level properties, kept current with a threshold, and its GetDetails; each call passes the access gate. */
#pragma once

#include "pymemd-dbus-generated.h"
#include "pymemd-method-access.h"
#include "pymemd-process.h"

G_BEGIN_DECLS

#define PYMEMD_TYPE_PROCESS_OBJECT (pymemd_process_object_get_type ())
G_DECLARE_FINAL_TYPE (PymemdProcessObject, pymemd_process_object, PYMEMD, PROCESS_OBJECT, PymemdDbusProcess1Skeleton)

/* Answers INVOCATION with the details of the process PID, once the gate
 * has let the caller see it: what Monitor1.GetProcessDetails answers. */
typedef gboolean (*PymemdDetailsFunc) (GDBusMethodInvocation *invocation,
                                       guint                  pid,
                                       gpointer               user_data);

/* The object of PROCESS. Every method call goes through GATE, then to
 * DETAILS; GATE and DETAILS_DATA must outlive the object. MIN_CHANGE is
 * as for pymemd_process_object_update (). */
PymemdProcessObject *pymemd_process_object_new    (PymemdProcess          *process,
                                                   guint64                 min_change,
                                                   const PymemdMethodGate *gate,
                                                   PymemdDetailsFunc       details,
                                                   gpointer                details_data);
/* Follows PROCESS's latest scan. Rss changes (with a PropertiesChanged to
 * every client) only when it moved by MIN_CHANGE bytes or more. */
void                 pymemd_process_object_update (PymemdProcessObject *self,
                                                   PymemdProcess       *process,
                                                   guint64              min_change);

G_END_DECLS
