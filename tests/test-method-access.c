/* Tests the access table and its gate: every method of the D-Bus interfaces has an entry, a method without one is refused, and a handler runs only when the gate lets its call through. */
#include "config.h"

#include "pymemd-error.h"
#include "pymemd-manager.h"
#include "pymemd-method-access.h"
#include "pymemd-names.h"
#include "pymemd-process-object.h"

/* ---- the table against the interfaces ---- */

/* Each method of data/org.pymemd.Monitor1.xml (the source gdbus-codegen
 * builds the skeletons from) has its line in the table, and each line
 * names a method there: a method added without saying what it needs
 * fails here, before the gate refuses it to everyone. */
static void
test_table_covers_interfaces (void)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "..", "data", "org.pymemd.Monitor1.xml", NULL);
  g_autofree char *xml = NULL;
  g_autoptr(GDBusNodeInfo) node = NULL;
  g_autoptr(GError) error = NULL;
  guint methods = 0;

  g_assert_true (g_file_get_contents (path, &xml, NULL, &error));
  g_assert_no_error (error);
  node = g_dbus_node_info_new_for_xml (xml, &error);
  g_assert_no_error (error);
  for (guint i = 0; node->interfaces[i] != NULL; i++)
    {
      const GDBusInterfaceInfo *interface = node->interfaces[i];

      if (!g_str_has_prefix (interface->name, "org.pymemd."))
        continue;
      for (guint m = 0; interface->methods[m] != NULL; m++)
        {
          methods++;
          if (pymemd_method_access_lookup (pymemd_method_access_table, pymemd_method_access_table_length,
                                           interface->name, interface->methods[m]->name) == NULL)
            g_test_fail_printf ("%s.%s has no entry in pymemd_method_access_table", interface->name,
                                interface->methods[m]->name);
        }
    }
  for (guint i = 0; i < pymemd_method_access_table_length; i++)
    {
      const PymemdMethodAccess *entry = &pymemd_method_access_table[i];
      GDBusInterfaceInfo *interface = g_dbus_node_info_lookup_interface (node, entry->interface);

      if (interface == NULL || g_dbus_interface_info_lookup_method (interface, entry->method) == NULL)
        g_test_fail_printf ("%s.%s in the table is no method of %s", entry->interface, entry->method, path);
      /* One line a method: the first would hide a second. */
      if (pymemd_method_access_lookup (pymemd_method_access_table, pymemd_method_access_table_length,
                                       entry->interface, entry->method) != entry)
        g_test_fail_printf ("%s.%s is in the table twice", entry->interface, entry->method);
    }
  if (!g_test_failed ())
    g_assert_cmpuint (methods, ==, pymemd_method_access_table_length);
  /* The interfaces are both there: a test that found none would pass. */
  g_assert_nonnull (g_dbus_node_info_lookup_interface (node, PYMEMD_MANAGER_INTERFACE));
  g_assert_nonnull (g_dbus_node_info_lookup_interface (node, PYMEMD_PROCESS_INTERFACE));
}

/* ---- the gate, on a bus of its own ---- */

#define TEST_UID 4242
#define PROCESS_PATH PYMEMD_MANAGER_PATH "/process/1_2"

typedef struct {
  GTestDBus       *bus;
  GDBusConnection *server; /* exports the skeletons */
  GDBusConnection *client;
  PymemdMethodGate gate;
  PymemdManager   *manager;
  PymemdProcessObject *process;
  guint            authorized; /* calls the gate's authorize function saw */
  PymemdNeed       last_need;
  gboolean         refuse;     /* whether the authorize function says no */
  guint            handled;    /* calls that reached a handler */
  guint32          handler_uid; /* the caller's uid as the handler saw it */
} Fixture;

static void
authorize (PymemdMethodCall *call, gpointer data)
{
  Fixture *fx = data;
  PymemdViewer viewer = { TEST_UID, FALSE, NULL };

  fx->authorized++;
  fx->last_need = pymemd_method_call_get_need (call);
  if (fx->refuse)
    {
      g_autoptr(GError) error = g_error_new_literal (PYMEMD_ERROR, PYMEMD_ERROR_ACCESS_DENIED, "refused by the test");

      pymemd_method_call_refuse (call, error);
    }
  else
    pymemd_method_call_grant (call, &viewer);
}

static void
saw_caller (Fixture *fx, GDBusMethodInvocation *invocation)
{
  const PymemdViewer *viewer = pymemd_method_access_get_viewer (invocation);

  fx->handled++;
  fx->handler_uid = viewer != NULL ? viewer->uid : G_MAXUINT32;
}

/* The handlers of the (a{sv}) methods: an empty dictionary. */
static gboolean
return_empty_dict (Fixture *fx, GDBusMethodInvocation *invocation)
{
  saw_caller (fx, invocation);
  g_dbus_method_invocation_return_value (invocation, g_variant_new_parsed ("(@a{sv} {},)"));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
on_get_statistics (PymemdDbusMonitor1 *manager, GDBusMethodInvocation *invocation, Fixture *fx)
{
  return return_empty_dict (fx, invocation);
}

static gboolean
on_rescan (PymemdDbusMonitor1 *manager, GDBusMethodInvocation *invocation, Fixture *fx)
{
  saw_caller (fx, invocation);
  pymemd_dbus_monitor1_complete_rescan (manager, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
on_get_processes (PymemdDbusMonitor1 *manager, GDBusMethodInvocation *invocation, Fixture *fx)
{
  saw_caller (fx, invocation);
  pymemd_dbus_monitor1_complete_get_processes (manager, invocation,
                                               g_variant_new_array (G_VARIANT_TYPE_VARDICT, NULL, 0));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* The process object's PymemdDetailsFunc. */
static gboolean
details_of (GDBusMethodInvocation *invocation, guint pid, gpointer data)
{
  Fixture *fx = data;

  g_assert_cmpuint (pid, ==, 1);
  return return_empty_dict (fx, invocation);
}

/* The skeletons exported with TABLE as the gate's, each handler counting
 * the calls that reach it. */
static void
setup_gate (Fixture *fx, const PymemdMethodAccess *table, guint length)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *address = NULL;
  g_autoptr(PymemdProcess) process = pymemd_process_new (1, 2, -1);

  fx->bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (fx->bus);
  address = g_strdup (g_test_dbus_get_bus_address (fx->bus));
  fx->server = g_dbus_connection_new_for_address_sync (address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                       G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                       NULL, NULL, &error);
  g_assert_no_error (error);
  fx->client = g_dbus_connection_new_for_address_sync (address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                       G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                       NULL, NULL, &error);
  g_assert_no_error (error);
  fx->gate = (PymemdMethodGate) { table, length, authorize, fx };
  fx->manager = pymemd_manager_new (&fx->gate);
  g_signal_connect (fx->manager, "handle-get-statistics", G_CALLBACK (on_get_statistics), fx);
  g_signal_connect (fx->manager, "handle-rescan", G_CALLBACK (on_rescan), fx);
  g_signal_connect (fx->manager, "handle-get-processes", G_CALLBACK (on_get_processes), fx);
  g_assert_true (g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (fx->manager), fx->server,
                                                   PYMEMD_MANAGER_PATH, &error));
  g_assert_no_error (error);
  pymemd_process_set_rollup (process, &(PymemdCounters) { { 0 }, 0 }, 0, 0);
  fx->process = pymemd_process_object_new (process, 0, &fx->gate, details_of, fx);
  g_assert_cmpuint (pymemd_dbus_process1_get_pid (PYMEMD_DBUS_PROCESS1 (fx->process)), ==, 1);
  g_assert_cmpuint (pymemd_dbus_process1_get_start_time (PYMEMD_DBUS_PROCESS1 (fx->process)), ==, 2);
  g_assert_true (g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (fx->process), fx->server,
                                                   PROCESS_PATH, &error));
  g_assert_no_error (error);
}

static void
teardown_gate (Fixture *fx)
{
  g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (fx->process));
  g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (fx->manager));
  g_clear_object (&fx->process);
  g_clear_object (&fx->manager);
  g_dbus_connection_close_sync (fx->client, NULL, NULL);
  g_dbus_connection_close_sync (fx->server, NULL, NULL);
  g_clear_object (&fx->client);
  g_clear_object (&fx->server);
  g_test_dbus_down (fx->bus);
  g_clear_object (&fx->bus);
}

static void
call_done (GObject *source, GAsyncResult *result, gpointer data)
{
  GAsyncResult **out = data;

  *out = g_object_ref (result);
}

/* Calls METHOD from the client, the server's handlers running meanwhile
 * (both on this thread's main context). */
static gboolean
call_method (Fixture *fx, const char *path, const char *interface, const char *method, GError **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GVariant) reply = NULL;

  g_dbus_connection_call (fx->client, g_dbus_connection_get_unique_name (fx->server), path, interface, method, NULL,
                          NULL, G_DBUS_CALL_FLAGS_NONE, 10000, NULL, call_done, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  reply = g_dbus_connection_call_finish (fx->client, result, error);
  return reply != NULL;
}

/* A method without a line in the table is refused, whoever calls: its
 * handler never runs and the authorize function is not even asked. */
static void
test_unlisted_refused (void)
{
  static const PymemdMethodAccess only_rescan[] = {
    { PYMEMD_MANAGER_INTERFACE, "Rescan", PYMEMD_NEED_BUDGET },
  };
  Fixture fx = { 0 };
  g_autoptr(GError) error = NULL;

  setup_gate (&fx, only_rescan, G_N_ELEMENTS (only_rescan));

  g_assert_false (call_method (&fx, PYMEMD_MANAGER_PATH, PYMEMD_MANAGER_INTERFACE, "GetStatistics", &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ACCESS_DENIED);
  g_clear_error (&error);
  g_assert_false (call_method (&fx, PROCESS_PATH, PYMEMD_PROCESS_INTERFACE, "GetDetails", &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ACCESS_DENIED);
  g_clear_error (&error);
  g_assert_cmpuint (fx.authorized, ==, 0);
  g_assert_cmpuint (fx.handled, ==, 0);

  /* The one listed goes through the authorize function to its handler,
   * which sees the caller as that decided. */
  g_assert_true (call_method (&fx, PYMEMD_MANAGER_PATH, PYMEMD_MANAGER_INTERFACE, "Rescan", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (fx.authorized, ==, 1);
  g_assert_cmpint (fx.last_need, ==, PYMEMD_NEED_BUDGET);
  g_assert_cmpuint (fx.handled, ==, 1);
  g_assert_cmpuint (fx.handler_uid, ==, TEST_UID);
  teardown_gate (&fx);
}

/* With the daemon's table: a method that needs nothing reaches its
 * handler without the authorize function; one that needs something
 * reaches it only when that lets it, on the manager and on a process
 * object alike. */
static void
test_gate_decides (void)
{
  Fixture fx = { 0 };
  g_autoptr(GError) error = NULL;

  setup_gate (&fx, pymemd_method_access_table, pymemd_method_access_table_length);

  g_assert_true (call_method (&fx, PYMEMD_MANAGER_PATH, PYMEMD_MANAGER_INTERFACE, "GetStatistics", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (fx.authorized, ==, 0);
  g_assert_cmpuint (fx.handled, ==, 1);
  g_assert_cmpuint (fx.handler_uid, ==, G_MAXUINT32); /* no caller looked up */

  fx.refuse = TRUE;
  g_assert_false (call_method (&fx, PYMEMD_MANAGER_PATH, PYMEMD_MANAGER_INTERFACE, "GetProcesses", &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ACCESS_DENIED);
  g_clear_error (&error);
  g_assert_cmpint (fx.last_need, ==, PYMEMD_NEED_VIEWER);
  g_assert_false (call_method (&fx, PROCESS_PATH, PYMEMD_PROCESS_INTERFACE, "GetDetails", &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ACCESS_DENIED);
  g_clear_error (&error);
  g_assert_cmpint (fx.last_need, ==, PYMEMD_NEED_SEE_TARGET);
  g_assert_cmpuint (fx.authorized, ==, 2);
  g_assert_cmpuint (fx.handled, ==, 1);

  fx.refuse = FALSE;
  g_assert_true (call_method (&fx, PYMEMD_MANAGER_PATH, PYMEMD_MANAGER_INTERFACE, "GetProcesses", &error));
  g_assert_no_error (error);
  g_assert_true (call_method (&fx, PROCESS_PATH, PYMEMD_PROCESS_INTERFACE, "GetDetails", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (fx.authorized, ==, 4);
  g_assert_cmpuint (fx.handled, ==, 3);
  g_assert_cmpuint (fx.handler_uid, ==, TEST_UID);
  teardown_gate (&fx);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* Registers the error domain: replies map back to PYMEMD_ERROR. */
  g_assert_cmpuint (PYMEMD_ERROR, !=, 0);
  g_test_add_func ("/method-access/table-covers-interfaces", test_table_covers_interfaces);
  g_test_add_func ("/method-access/unlisted-refused", test_unlisted_refused);
  g_test_add_func ("/method-access/gate-decides", test_gate_decides);
  return g_test_run ();
}
