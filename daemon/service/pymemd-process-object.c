/* An org.pymemd.Process1 object as exported: the generated skeleton, its method calls passed through the access gate. */
#include "config.h"

#include "pymemd-process-object.h"

struct _PymemdProcessObject
{
  PymemdDbusProcess1Skeleton parent_instance;
};

G_DEFINE_TYPE (PymemdProcessObject, pymemd_process_object, PYMEMD_DBUS_TYPE_PROCESS1_SKELETON)

static void
pymemd_process_object_class_init (PymemdProcessObjectClass *klass)
{
  pymemd_method_gate_hook_class (G_DBUS_INTERFACE_SKELETON_CLASS (klass));
}

static void
pymemd_process_object_init (PymemdProcessObject *self)
{
}

PymemdProcessObject *
pymemd_process_object_new (const PymemdMethodGate *gate)
{
  PymemdProcessObject *self = g_object_new (PYMEMD_TYPE_PROCESS_OBJECT, NULL);

  pymemd_method_gate_set (G_DBUS_INTERFACE_SKELETON (self), gate);
  return self;
}
