/* Runs pymemd as a service: owns org.pymemd.Monitor1, talks to systemd, reloads its configuration on SIGHUP. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <systemd/sd-daemon.h>

#include "pymemd-auth.h"
#include "pymemd-config.h"
#include "pymemd-daemon.h"
#include "pymemd-dbus.h"
#include "pymemd-heap-broker.h"
#include "pymemd-heap-watch.h"
#include "pymemd-monitor.h"
#include "pymemd-recorder.h"
#include "pymemd-names.h"

/* The administrator's file wins over the one installed with pymemd, which
 * an upgrade replaces: installing never writes to SYSCONFDIR. */
#define ADMIN_CONFIG SYSCONFDIR "/pymemd/pymemd.conf"
#define VENDOR_CONFIG PKGDATADIR "/pymemd.conf"
/* DESIGN.md: whatever the prefix, as systemd's StateDirectory=pymemd. */
#define DEFAULT_STATE_DIR "/var/lib/pymemd"
#define HISTORY_FILE "history.db"
#define DEFAULT_RUNTIME_DIR "/run/pymemd"
/* Where the pymemd_helper package is installed; tests point elsewhere. */
#ifndef PYMEMD_HELPER_DIR
#define PYMEMD_HELPER_DIR "/usr/lib/python3/dist-packages"
#endif

typedef struct {
  const PymemdDaemonOptions *options;
  GMainLoop                 *loop;
  GDBusConnection           *connection;
  PymemdMonitor             *monitor;
  PymemdAuth                *auth;
  PymemdRecorder            *recorder;
  PymemdHeapBroker          *broker;
  PymemdHeapWatch           *heap_watch;   /* NULL without the broker */
  char                      *temporary_runtime_dir;
  PymemdDbusService         *service;
  int                        status;
  gboolean                   ready;
} Daemon;

static PymemdConfig *
load_config (const PymemdDaemonOptions *options, GError **error)
{
  static const char *const default_paths[] = { ADMIN_CONFIG, VENDOR_CONFIG, NULL };
  g_autoptr(PymemdConfig) config = NULL;

  /* The default files may be absent; one named on the command line may not. */
  if (options->config_path != NULL)
    config = pymemd_config_load (options->config_path, FALSE, error);
  else
    config = pymemd_config_load_first (default_paths, error);
  if (config == NULL)
    return NULL;
  /* Command-line intervals win over the file, at start and on every reload;
   * checked like the file. */
  if (options->interval > 0 || options->detail_interval > 0)
    return pymemd_config_with_intervals (config, options->interval, options->detail_interval,
                                         error);
  return g_steal_pointer (&config);
}

static void
notify_status (Daemon *daemon)
{
  GPtrArray *processes = pymemd_monitor_get_processes (daemon->monitor);

  sd_notifyf (0, "STATUS=Watching %u Python processes, %u subscriptions", processes->len,
              daemon->service != NULL ? pymemd_dbus_service_get_subscription_count (daemon->service) : 0);
}

static guint32
history_owner (PymemdProcess *process, gpointer data)
{
  return pymemd_viewer_recorded_owner (process);
}

/* After each scan: its figures go to the history, the service publishes
 * them (its own handler), systemd hears the status. */
static void
on_scanned (PymemdMonitor *monitor, gboolean full, Daemon *daemon)
{
  pymemd_recorder_record_scan (daemon->recorder, pymemd_scanner_get_boot_id (pymemd_monitor_get_scanner (monitor)),
                               pymemd_monitor_get_processes (monitor), history_owner, NULL);
  notify_status (daemon);
}

static gboolean
on_watchdog (gpointer data)
{
  sd_notify (0, "WATCHDOG=1");
  return G_SOURCE_CONTINUE;
}

/* A watchdog object in all but name: ping at half of WATCHDOG_USEC. */
static void
start_watchdog (void)
{
  guint64 usec = 0;

  if (sd_watchdog_enabled (0, &usec) > 0 && usec > 0)
    g_timeout_add ((guint) MAX (usec / 2000, 1), on_watchdog, NULL);
}

static gboolean
on_quit (gpointer data)
{
  Daemon *daemon = data;

  g_message ("Stopping on signal");
  sd_notify (0, "STOPPING=1");
  g_main_loop_quit (daemon->loop);
  return G_SOURCE_CONTINUE;
}

/* The helper channel's share of the configuration ([limits]). */
static void
apply_helper_limits (Daemon *daemon, PymemdConfig *config)
{
  PymemdHelperLimits limits;

  pymemd_config_get_helper_limits (config, &limits);
  pymemd_helper_channel_set_limits (pymemd_heap_broker_get_channel (daemon->broker), &limits);
}

/* Hands each stage its share of CONFIG: the configuration sits at the top
 * and the stages below it see only their own settings. */
static void
apply_config (Daemon *daemon, PymemdConfig *config)
{
  PymemdMonitorSettings monitor;
  PymemdHistorySettings history;

  pymemd_config_get_monitor (config, &monitor);
  pymemd_monitor_set_settings (daemon->monitor, &monitor);
  pymemd_config_get_history (config, &history);
  pymemd_recorder_set_settings (daemon->recorder, &history);
  if (daemon->broker != NULL)
    {
      PymemdAttachLimits attach;
      PymemdGraphLimits graph;
      PymemdHeapWatchSettings watch;

      apply_helper_limits (daemon, config);
      pymemd_config_get_attach_limits (config, &attach);
      pymemd_config_get_graph_limits (config, &graph);
      pymemd_heap_broker_set_limits (daemon->broker, &attach, &graph);
      pymemd_config_get_heap_watch (config, &watch);
      pymemd_heap_watch_set_settings (daemon->heap_watch, &watch);
    }
  pymemd_dbus_service_set_config (daemon->service, config);
}

static gboolean
on_reload (gpointer data)
{
  Daemon *daemon = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdConfig) config = NULL;

  sd_notify (0, "RELOADING=1");
  config = load_config (daemon->options, &error);
  if (config == NULL)
    g_warning ("Configuration not reloaded, keeping the old one: %s", error->message);
  else
    {
      apply_config (daemon, config);
      g_message ("Configuration reloaded from %s", pymemd_config_get_path (config) != NULL
                                                      ? pymemd_config_get_path (config)
                                                      : "defaults");
    }
  sd_notify (0, "READY=1");
  return G_SOURCE_CONTINUE;
}

static void
on_name_acquired (GDBusConnection *connection, const char *name, gpointer data)
{
  Daemon *daemon = data;

  g_debug ("Acquired %s", name);
  if (!daemon->ready)
    {
      daemon->ready = TRUE;
      notify_status (daemon);
      sd_notify (0, "READY=1");
    }
}

static void
on_name_lost (GDBusConnection *connection, const char *name, gpointer data)
{
  Daemon *daemon = data;

  if (connection == NULL)
    g_printerr ("pymemd: %s\n", _("Lost the connection to the bus"));
  else if (!daemon->ready)
    g_printerr ("pymemd: %s %s\n", name,
                _("is owned by another process (stop it, or start with --replace)"));
  else
    g_printerr ("pymemd: %s %s\n", name, _("was taken over by another process"));
  daemon->status = EXIT_FAILURE;
  g_main_loop_quit (daemon->loop);
}

static GDBusConnection *
connect_bus (const PymemdDaemonOptions *options, GError **error)
{
  switch (options->bus)
    {
    case PYMEMD_BUS_SYSTEM:
      return g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, error);
    case PYMEMD_BUS_SESSION:
      return g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, error);
    case PYMEMD_BUS_ADDRESS:
    default:
      return g_dbus_connection_new_for_address_sync (
        options->address,
        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
          G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
        NULL, NULL, error);
    }
}

/* Where history is kept: --state-dir, $STATE_DIRECTORY (systemd's
 * StateDirectory=), the user's state directory in session mode, the system
 * one otherwise; NULL (in memory only) on a bus given by address without a
 * directory, which is how tests run. */
static char *
history_path (const PymemdDaemonOptions *options)
{
  const char *dir = options->state_dir;
  g_autofree char *user_dir = NULL;

  if (dir == NULL)
    dir = g_getenv ("STATE_DIRECTORY");
  if (dir == NULL && options->bus == PYMEMD_BUS_ADDRESS)
    return NULL;
  if (dir == NULL && options->bus == PYMEMD_BUS_SESSION)
    dir = user_dir = g_build_filename (g_get_user_state_dir (), "pymemd", NULL);
  if (dir == NULL)
    dir = DEFAULT_STATE_DIR;
  /* StateDirectory= may list several, separated by colons: the first is ours. */
  {
    g_auto(GStrv) dirs = g_strsplit (dir, ":", 2);

    if (g_mkdir_with_parents (dirs[0], 0700) != 0)
      g_warning ("Cannot create the state directory %s: %s", dirs[0], g_strerror (errno));
    return g_build_filename (dirs[0], HISTORY_FILE, NULL);
  }
}

/* Where the helper socket goes: --runtime-dir, $RUNTIME_DIRECTORY
 * (systemd's RuntimeDirectory=), the user's runtime directory in session
 * mode, /run/pymemd otherwise; a fresh directory, removed at exit, on a bus
 * given by address without one (tests). */
static char *
runtime_dir (const PymemdDaemonOptions *options, char **temporary)
{
  const char *dir = options->runtime_dir;
  g_autofree char *first = NULL;

  if (dir == NULL && g_getenv ("RUNTIME_DIRECTORY") != NULL)
    {
      g_auto(GStrv) dirs = g_strsplit (g_getenv ("RUNTIME_DIRECTORY"), ":", 2);
      dir = first = g_strdup (dirs[0]);
    }
  if (dir == NULL && options->bus == PYMEMD_BUS_ADDRESS)
    {
      g_autoptr(GError) error = NULL;
      *temporary = g_dir_make_tmp ("pymemd-XXXXXX", &error);
      if (*temporary == NULL)
        {
          g_warning ("No runtime directory: %s", error->message);
          return NULL;
        }
      /* Helpers of every user connect to the socket inside. */
      g_chmod (*temporary, 0755);
      return g_strdup (*temporary);
    }
  if (dir == NULL && options->bus == PYMEMD_BUS_SESSION)
    return g_build_filename (g_get_user_runtime_dir (), "pymemd", NULL);
  return g_strdup (dir != NULL ? dir : DEFAULT_RUNTIME_DIR);
}

/* The helper socket and what answers heap summary requests; NULL (logged)
 * when the socket cannot be made: the rest of the daemon works on. */
static PymemdHeapBroker *
start_broker (Daemon *daemon, PymemdConfig *config)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = runtime_dir (daemon->options, &daemon->temporary_runtime_dir);
  const char *helper_dir = g_getenv ("PYMEMD_HELPER_DIR") != NULL ? g_getenv ("PYMEMD_HELPER_DIR") : PYMEMD_HELPER_DIR;
  PymemdHeapBroker *broker;
  PymemdAttachLimits attach;
  PymemdGraphLimits graph;

  if (dir == NULL)
    return NULL;
  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      g_warning ("Cannot create the runtime directory %s: %s; no heap summaries", dir, g_strerror (errno));
      return NULL;
    }
  pymemd_config_get_attach_limits (config, &attach);
  pymemd_config_get_graph_limits (config, &graph);
  broker = pymemd_heap_broker_new (daemon->monitor, daemon->recorder, dir, helper_dir, &attach, &graph, &error);
  if (broker == NULL)
    g_warning ("No helper socket in %s: %s; no heap summaries", dir, error->message);
  return broker;
}

int
pymemd_daemon_run (const PymemdDaemonOptions *options)
{
  Daemon daemon = { options, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, EXIT_SUCCESS, FALSE };
  g_autofree char *history = NULL;
  PymemdHistorySettings history_settings;
  PymemdMonitorSettings monitor_settings;
  PymemdHeapWatchSettings watch_settings;
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdConfig) config = NULL;
  g_autoptr(PymemdProcfs) procfs = NULL;
  GBusNameOwnerFlags flags = G_BUS_NAME_OWNER_FLAGS_ALLOW_REPLACEMENT;
  guint owner_id;

  config = load_config (options, &error);
  if (config == NULL)
    {
      g_printerr ("pymemd: %s\n", error->message);
      return EXIT_FAILURE;
    }
  procfs = pymemd_procfs_new (options->proc_root, &error);
  if (procfs == NULL)
    {
      g_printerr ("pymemd: %s\n", error->message);
      return EXIT_FAILURE;
    }
  daemon.connection = connect_bus (options, &error);
  if (daemon.connection == NULL)
    {
      g_printerr ("pymemd: %s: %s\n", _("Cannot connect to the bus"), error->message);
      return EXIT_FAILURE;
    }
  pymemd_config_get_monitor (config, &monitor_settings);
  daemon.monitor = pymemd_monitor_new (procfs, &monitor_settings,
                                       options->bus == PYMEMD_BUS_SESSION ? (gint64) getuid () : -1,
                                       &error);
  if (daemon.monitor == NULL)
    {
      g_printerr ("pymemd: %s\n", error->message);
      g_object_unref (daemon.connection);
      return EXIT_FAILURE;
    }
  pymemd_monitor_start (daemon.monitor);
  /* polkit knows callers by their names on the system bus: a name on any
   * other bus would be taken for whoever has it there (root's client, as
   * a test saw once a system bus ran). So polkit is asked only for the
   * system bus, or a bus named as it (DBUS_SYSTEM_BUS_ADDRESS). */
  daemon.auth = pymemd_auth_new (options->bus == PYMEMD_BUS_SYSTEM ||
                                 (options->bus == PYMEMD_BUS_ADDRESS && options->address != NULL &&
                                  g_strcmp0 (g_getenv ("DBUS_SYSTEM_BUS_ADDRESS"), options->address) == 0));
  history = history_path (options);
  pymemd_config_get_history (config, &history_settings);
  daemon.recorder = pymemd_recorder_new (history, &history_settings);
  daemon.broker = start_broker (&daemon, config);
  if (daemon.broker != NULL)
    {
      pymemd_config_get_heap_watch (config, &watch_settings);
      daemon.heap_watch = pymemd_heap_watch_new (daemon.monitor, daemon.broker, &watch_settings);
      apply_helper_limits (&daemon, config);
    }
  daemon.service = pymemd_dbus_service_new (daemon.connection, daemon.monitor, daemon.auth, daemon.recorder,
                                            daemon.broker, config, &error);
  if (daemon.service == NULL)
    {
      g_printerr ("pymemd: %s\n", error->message);
      return EXIT_FAILURE;
    }
  g_signal_connect (daemon.monitor, "scanned", G_CALLBACK (on_scanned), &daemon);
  g_signal_connect_swapped (daemon.monitor, "processes-changed", G_CALLBACK (notify_status), &daemon);

  daemon.loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGTERM, on_quit, &daemon);
  g_unix_signal_add (SIGINT, on_quit, &daemon);
  g_unix_signal_add (SIGHUP, on_reload, &daemon);
  start_watchdog ();
  if (options->replace)
    flags |= G_BUS_NAME_OWNER_FLAGS_REPLACE;
  owner_id = g_bus_own_name_on_connection (daemon.connection, PYMEMD_MANAGER_INTERFACE, flags,
                                           on_name_acquired, on_name_lost, &daemon, NULL);

  g_main_loop_run (daemon.loop);

  g_bus_unown_name (owner_id);
  g_clear_object (&daemon.service);
  /* A light summary under way holds the watch, and the watch the broker:
   * the watch lets go of it now, so that the broker's disposal fails that
   * request and everything is freed. */
  if (daemon.heap_watch != NULL)
    g_object_run_dispose (G_OBJECT (daemon.heap_watch));
  g_clear_object (&daemon.heap_watch);
  g_clear_object (&daemon.broker);
  if (daemon.temporary_runtime_dir != NULL)
    {
      g_rmdir (daemon.temporary_runtime_dir);
      g_free (daemon.temporary_runtime_dir);
    }
  /* Writes what is queued, then closes the store. */
  g_clear_object (&daemon.recorder);
  g_clear_object (&daemon.auth);
  g_clear_object (&daemon.monitor);
  g_dbus_connection_flush_sync (daemon.connection, NULL, NULL);
  g_clear_object (&daemon.connection);
  g_main_loop_unref (daemon.loop);
  return daemon.status;
}
