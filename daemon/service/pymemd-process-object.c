/* An org.pymemd.Process1 object: one interpreter's status-level properties, kept current with a threshold, and its GetDetails; each call passes the access gate. */
#include "config.h"

#include "pymemd-process-object.h"
#include "pymemd-view.h"

struct _PymemdProcessObject
{
  PymemdDbusProcess1Skeleton parent_instance;
  PymemdDetailsFunc          details;
  gpointer                   details_data;
};

static void process_object_iface_init (PymemdDbusProcess1Iface *iface);

G_DEFINE_TYPE_WITH_CODE (PymemdProcessObject, pymemd_process_object, PYMEMD_DBUS_TYPE_PROCESS1_SKELETON,
                         G_IMPLEMENT_INTERFACE (PYMEMD_DBUS_TYPE_PROCESS1, process_object_iface_init))

static gboolean
process_object_handle_get_details (PymemdDbusProcess1 *object, GDBusMethodInvocation *invocation)
{
  PymemdProcessObject *self = PYMEMD_PROCESS_OBJECT (object);

  return self->details (invocation, pymemd_dbus_process1_get_pid (object), self->details_data);
}

static void
process_object_iface_init (PymemdDbusProcess1Iface *iface)
{
  iface->handle_get_details = process_object_handle_get_details;
}

static void
pymemd_process_object_class_init (PymemdProcessObjectClass *klass)
{
  pymemd_method_gate_hook_class (G_DBUS_INTERFACE_SKELETON_CLASS (klass));
}

static void
pymemd_process_object_init (PymemdProcessObject *self)
{
}

void
pymemd_process_object_update (PymemdProcessObject *self, PymemdProcess *process, guint64 min_change)
{
  PymemdDbusProcess1 *iface = PYMEMD_DBUS_PROCESS1 (self);
  const PymemdCounters *rollup = pymemd_process_get_rollup (process);
  guint64 old_rss = pymemd_dbus_process1_get_rss (iface);
  guint64 rss = rollup->value[PYMEMD_FIELD_RSS];

  /* PropertiesChanged goes to every client: only for changes that matter. */
  if ((rss > old_rss ? rss - old_rss : old_rss - rss) >= MAX (min_change, 1) || old_rss == 0)
    pymemd_dbus_process1_set_rss (iface, rss);
  if (pymemd_dbus_process1_get_uid (iface) != pymemd_process_get_uid (process))
    pymemd_dbus_process1_set_uid (iface, pymemd_process_get_uid (process));
  if (g_strcmp0 (pymemd_dbus_process1_get_name (iface), pymemd_process_get_status_name (process)) != 0)
    pymemd_dbus_process1_set_name (iface, pymemd_process_get_status_name (process));
  if (pymemd_dbus_process1_get_swap (iface) != rollup->value[PYMEMD_FIELD_SWAP])
    pymemd_dbus_process1_set_swap (iface, rollup->value[PYMEMD_FIELD_SWAP]);
}

PymemdProcessObject *
pymemd_process_object_new (PymemdProcess *process, guint64 min_change, const PymemdMethodGate *gate,
                           PymemdDetailsFunc details, gpointer details_data)
{
  PymemdProcessObject *self = g_object_new (PYMEMD_TYPE_PROCESS_OBJECT, NULL);
  PymemdDbusProcess1 *iface = PYMEMD_DBUS_PROCESS1 (self);
  g_autofree char *version_string = pymemd_view_python_version (process);

  pymemd_method_gate_set (G_DBUS_INTERFACE_SKELETON (self), gate);
  self->details = details;
  self->details_data = details_data;
  /* The properties go to every client: only what status shows every user. */
  pymemd_dbus_process1_set_pid (iface, (guint) pymemd_process_get_pid (process));
  pymemd_dbus_process1_set_start_time (iface, pymemd_process_get_start_time (process));
  pymemd_dbus_process1_set_cmdline (iface, pymemd_process_get_cmdline (process));
  pymemd_dbus_process1_set_python_version (iface, version_string);
  pymemd_process_object_update (self, process, min_change);
  return self;
}
