/* What each D-Bus method needs of its caller, in one table, and the one gate every method call passes on its way to its handler. */
#include "config.h"

#include <glib/gi18n.h>

#include "pymemd-error.h"
#include "pymemd-method-access.h"
#include "pymemd-names.h"

#define M PYMEMD_MANAGER_INTERFACE
#define P PYMEMD_PROCESS_INTERFACE

/* tests/test-method-access checks that this covers every method of
 * data/org.pymemd.Monitor1.xml: a method added there without a line here
 * is refused to everyone. */
const PymemdMethodAccess pymemd_method_access_table[] = {
  /* The daemon's own figures, and a caller's own subscriptions. */
  { M, "GetStatistics", PYMEMD_NEED_NOTHING },
  { M, "Unsubscribe", PYMEMD_NEED_NOTHING },
  /* Each user has its own budget of rescans. */
  { M, "Rescan", PYMEMD_NEED_BUDGET },
  /* Every process, each as the caller may see it. */
  { M, "GetProcesses", PYMEMD_NEED_VIEWER },
  { M, "GetSamples", PYMEMD_NEED_VIEWER },
  { M, "GetTable", PYMEMD_NEED_VIEWER },
  { M, "GetIdentities", PYMEMD_NEED_VIEWER },
  { M, "GetBreakdowns", PYMEMD_NEED_VIEWER },
  { M, "Subscribe", PYMEMD_NEED_VIEWER_ASKED },
  /* One process, in detail. */
  { M, "GetProcessDetails", PYMEMD_NEED_SEE_TARGET },
  { P, "GetDetails", PYMEMD_NEED_SEE_TARGET },
  /* What history kept of a process, or of every process that ended. */
  { M, "GetHistory", PYMEMD_NEED_SEE_RECORD },
  { M, "GetGrowth", PYMEMD_NEED_SEE_RECORD },
  { M, "GetHeapSummaries", PYMEMD_NEED_SEE_RECORD },
  { M, "GetEndedProcesses", PYMEMD_NEED_SEE_RECORD },
  /* Looking into a running interpreter. */
  { M, "GetHeapSummary", PYMEMD_NEED_ATTACH },
};
const guint pymemd_method_access_table_length = G_N_ELEMENTS (pymemd_method_access_table);

#undef M
#undef P

const PymemdMethodAccess *
pymemd_method_access_lookup (const PymemdMethodAccess *table, guint length, const char *interface,
                             const char *method)
{
  for (guint i = 0; i < length; i++)
    if (g_strcmp0 (table[i].interface, interface) == 0 && g_strcmp0 (table[i].method, method) == 0)
      return &table[i];
  return NULL;
}

struct _PymemdMethodCall
{
  const PymemdMethodAccess     *entry;
  GDBusMethodInvocation        *invocation; /* ours to answer or hand on */
  GDBusInterfaceMethodCallFunc  handler;
  GDBusInterfaceSkeleton       *skeleton;
};

static void
method_call_free (PymemdMethodCall *call)
{
  g_object_unref (call->skeleton);
  g_free (call);
}

static GQuark
viewer_quark (void)
{
  return g_quark_from_static_string ("pymemd-method-access-viewer");
}

static void
viewer_free (gpointer data)
{
  pymemd_viewer_clear (data);
  g_free (data);
}

void
pymemd_method_gate_dispatch (const PymemdMethodGate *gate, GDBusMethodInvocation *invocation,
                             GDBusInterfaceMethodCallFunc handler, GDBusInterfaceSkeleton *skeleton)
{
  const char *interface = g_dbus_method_invocation_get_interface_name (invocation);
  const char *method = g_dbus_method_invocation_get_method_name (invocation);
  const PymemdMethodAccess *entry = pymemd_method_access_lookup (gate->table, gate->length, interface, method);
  PymemdMethodCall *call;

  if (entry == NULL)
    {
      /* Fail closed: a method nobody said who may call is no one's. */
      g_message ("%s.%s refused: it has no entry in the access table", interface, method);
      g_dbus_method_invocation_return_error (invocation, PYMEMD_ERROR, PYMEMD_ERROR_ACCESS_DENIED,
                                             _("%s.%s is open to no caller"), interface, method);
      return;
    }
  call = g_new0 (PymemdMethodCall, 1);
  call->entry = entry;
  call->invocation = invocation;
  call->handler = handler;
  call->skeleton = g_object_ref (skeleton);
  if (entry->need == PYMEMD_NEED_NOTHING)
    pymemd_method_call_grant (call, NULL);
  else
    gate->authorize (call, gate->user_data);
}

/* A hooked class: the generated vtable with the gate's method call, and
 * the generated method call it hands granted calls to. */
typedef struct {
  GDBusInterfaceVTable         vtable;
  GDBusInterfaceMethodCallFunc generated;
} HookedClass;

static GQuark
hooked_class_quark (void)
{
  return g_quark_from_static_string ("pymemd-method-gate-class");
}

static GQuark
gate_quark (void)
{
  return g_quark_from_static_string ("pymemd-method-gate");
}

static void
gate_method_call (GDBusConnection *connection, const char *sender, const char *object_path,
                  const char *interface_name, const char *method_name, GVariant *parameters,
                  GDBusMethodInvocation *invocation, gpointer user_data)
{
  GDBusInterfaceSkeleton *skeleton = G_DBUS_INTERFACE_SKELETON (user_data);
  HookedClass *hooked = g_type_get_qdata (G_OBJECT_TYPE (skeleton), hooked_class_quark ());
  const PymemdMethodGate *gate = g_object_get_qdata (G_OBJECT (skeleton), gate_quark ());

  if (gate == NULL)
    {
      g_dbus_method_invocation_return_error (invocation, PYMEMD_ERROR, PYMEMD_ERROR_ACCESS_DENIED,
                                             _("%s.%s is open to no caller"), interface_name, method_name);
      return;
    }
  pymemd_method_gate_dispatch (gate, invocation, hooked->generated, skeleton);
}

/* GDBus takes each call to the vtable that the skeleton's class gives. */
static GDBusInterfaceVTable *
gate_get_vtable (GDBusInterfaceSkeleton *skeleton)
{
  HookedClass *hooked = g_type_get_qdata (G_OBJECT_TYPE (skeleton), hooked_class_quark ());

  return &hooked->vtable;
}

void
pymemd_method_gate_hook_class (GDBusInterfaceSkeletonClass *klass)
{
  /* Kept for the life of the class, that is of the process. */
  HookedClass *hooked = g_new0 (HookedClass, 1);

  /* The generated get_vtable () reads nothing of its skeleton. */
  hooked->vtable = *klass->get_vtable (NULL);
  hooked->generated = hooked->vtable.method_call;
  hooked->vtable.method_call = gate_method_call;
  g_type_set_qdata (G_TYPE_FROM_CLASS (klass), hooked_class_quark (), hooked);
  klass->get_vtable = gate_get_vtable;
}

void
pymemd_method_gate_set (GDBusInterfaceSkeleton *skeleton, const PymemdMethodGate *gate)
{
  g_object_set_qdata (G_OBJECT (skeleton), gate_quark (), (gpointer) gate);
}

PymemdNeed
pymemd_method_call_get_need (PymemdMethodCall *call)
{
  return call->entry->need;
}

GDBusMethodInvocation *
pymemd_method_call_get_invocation (PymemdMethodCall *call)
{
  return call->invocation;
}

GDBusInterfaceSkeleton *
pymemd_method_call_get_skeleton (PymemdMethodCall *call)
{
  return call->skeleton;
}

void
pymemd_method_call_grant (PymemdMethodCall *call, const PymemdViewer *viewer)
{
  GDBusMethodInvocation *invocation = call->invocation;

  if (viewer != NULL)
    {
      PymemdViewer *copy = g_new0 (PymemdViewer, 1);

      pymemd_viewer_copy (copy, viewer);
      g_object_set_qdata_full (G_OBJECT (invocation), viewer_quark (), copy, viewer_free);
    }
  /* The handler takes the invocation over. */
  call->handler (g_dbus_method_invocation_get_connection (invocation),
                 g_dbus_method_invocation_get_sender (invocation),
                 g_dbus_method_invocation_get_object_path (invocation),
                 g_dbus_method_invocation_get_interface_name (invocation),
                 g_dbus_method_invocation_get_method_name (invocation),
                 g_dbus_method_invocation_get_parameters (invocation), invocation, call->skeleton);
  method_call_free (call);
}

void
pymemd_method_call_refuse (PymemdMethodCall *call, const GError *error)
{
  g_dbus_method_invocation_return_gerror (call->invocation, error);
  method_call_free (call);
}

const PymemdViewer *
pymemd_method_access_get_viewer (GDBusMethodInvocation *invocation)
{
  return g_object_get_qdata (G_OBJECT (invocation), viewer_quark ());
}
