/* org.pymemd.Monitor1 as exported: the generated skeleton, its method calls passed through the access gate. */
#include "config.h"

#include "pymemd-manager.h"

struct _PymemdManager
{
  PymemdDbusMonitor1Skeleton parent_instance;
};

G_DEFINE_TYPE (PymemdManager, pymemd_manager, PYMEMD_DBUS_TYPE_MONITOR1_SKELETON)

static void
pymemd_manager_class_init (PymemdManagerClass *klass)
{
  pymemd_method_gate_hook_class (G_DBUS_INTERFACE_SKELETON_CLASS (klass));
}

static void
pymemd_manager_init (PymemdManager *self)
{
}

PymemdManager *
pymemd_manager_new (const PymemdMethodGate *gate)
{
  PymemdManager *self = g_object_new (PYMEMD_TYPE_MANAGER, NULL);

  pymemd_method_gate_set (G_DBUS_INTERFACE_SKELETON (self), gate);
  return self;
}
