/* pymemctl watch: subscribes and prints one line per MemoryChanged and GrowthSuspected signal until SIGINT or SIGTERM. */
#include "config.h"

#include <signal.h>

#include <glib-unix.h>
#include <glib/gi18n.h>

#include "pymemctl-commands.h"
#include "pymemctl-heap.h"
#include "pymemctl-util.h"
#include "pymemd-names.h"

typedef struct {
  PymemdDbusMonitor1 *monitor;
  GMainLoop          *loop;
  guint32             subscription;
  gboolean            json;
  GHashTable         *names;    /* object path → program name */
  GHashTable         *last_pss; /* object path → the PSS last printed (guint64 *) */
  int                 exit_code;
} Watch;

/* The names of the processes now watched, from GetProcesses. */
static void
refresh_names (Watch *watch)
{
  g_autoptr(GVariant) processes = NULL;
  GVariantIter iter;
  GVariant *entry;

  if (!pymemd_dbus_monitor1_call_get_processes_sync (watch->monitor, G_DBUS_CALL_FLAGS_NONE, -1,
                                                     &processes, NULL, NULL))
    return;
  g_variant_iter_init (&iter, processes);
  while ((entry = g_variant_iter_next_value (&iter)) != NULL)
    {
      const char *path, *name;

      if (g_variant_lookup (entry, "object_path", "&o", &path) &&
          g_variant_lookup (entry, "name", "&s", &name))
        g_hash_table_replace (watch->names, g_strdup (path), g_strdup (name));
      g_variant_unref (entry);
    }
}

static const char *
process_name (Watch *watch, const char *path)
{
  const char *name = g_hash_table_lookup (watch->names, path);

  if (name == NULL)
    {
      refresh_names (watch);
      name = g_hash_table_lookup (watch->names, path);
    }
  return name != NULL ? name : "?";
}

/* The name of the process a signal of ours is about; NULL for a signal
 * of another subscription of this connection. */
static const char *
accept_signal (Watch *watch, guint subscription, const char *path)
{
  return subscription == watch->subscription ? process_name (watch, path) : NULL;
}

static char *
now_text (void)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();

  return g_date_time_format (now, "%H:%M:%S");
}

/* A JSON line begun with the members every line has. */
static JsonBuilder *
begin_json_line (const char *signal_name, const char *path, guint pid, guint64 start_time,
                 const char *name)
{
  JsonBuilder *builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "signal");
  json_builder_add_string_value (builder, signal_name);
  json_builder_set_member_name (builder, "time");
  json_builder_add_int_value (builder, g_get_real_time ());
  json_builder_set_member_name (builder, PYMEMD_KEY_PID);
  json_builder_add_int_value (builder, pid);
  json_builder_set_member_name (builder, PYMEMD_KEY_START_TIME);
  json_builder_add_int_value (builder, (gint64) start_time);
  json_builder_set_member_name (builder, "object_path");
  json_builder_add_string_value (builder, path);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, name);
  return builder;
}

static void
end_json_line (Watch *watch, JsonBuilder *builder)
{
  g_autoptr(JsonNode) root = NULL;

  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  if (!pymemctl_print_json (root, TRUE))
    {
      watch->exit_code = PYMEMCTL_EXIT_FAILURE;
      g_main_loop_quit (watch->loop);
    }
}

static void
print_line (Watch *watch, const char *text)
{
  g_autofree char *time = now_text ();
  /* It names the process: its program chose the name. */
  g_autofree char *line = pymemctl_printable (text);

  g_print ("%s  %s\n", time, line);
  if (fflush (stdout) != 0)
    {
      watch->exit_code = PYMEMCTL_EXIT_FAILURE;
      g_main_loop_quit (watch->loop);
    }
}

/* "PSS 12.0 MiB (+2.0 MiB)": the change since the last line for PATH. */
static char *
pss_change_text (Watch *watch, const char *path, GVariant *sample)
{
  g_autofree char *pss_text = pymemctl_format_figure (sample, PYMEMD_KEY_PSS);
  guint64 *last = g_hash_table_lookup (watch->last_pss, path);
  guint64 pss = 0;
  g_autofree char *delta = NULL;

  if (!pymemctl_lookup_size (sample, PYMEMD_KEY_PSS, &pss))
    return g_strdup_printf (_("PSS %s"), pss_text);
  if (last != NULL)
    {
      g_autofree char *amount = pymemctl_format_size (pss >= *last ? pss - *last : *last - pss);
      delta = g_strdup_printf (" (%s%s)", pss >= *last ? "+" : "−", amount);
    }
  else
    {
      last = g_new (guint64, 1);
      g_hash_table_insert (watch->last_pss, g_strdup (path), last);
    }
  *last = pss;
  return g_strdup_printf (_("PSS %s%s"), pss_text, delta != NULL ? delta : "");
}

static void
on_memory_changed (PymemdDbusMonitor1 *monitor, guint subscription, const char *path, guint pid,
                   guint64 start_time, GVariant *sample, gpointer data)
{
  Watch *watch = data;
  const char *name = accept_signal (watch, subscription, path);

  if (name == NULL)
    return;
  if (watch->json)
    {
      g_autoptr(JsonBuilder) builder = begin_json_line ("MemoryChanged", path, pid, start_time,
                                                        name);

      json_builder_set_member_name (builder, "sample");
      json_builder_add_value (builder, pymemctl_json_from_variant (sample));
      end_json_line (watch, builder);
    }
  else
    {
      g_autofree char *pss = pss_change_text (watch, path, sample);
      g_autofree char *uss = pymemctl_format_figure (sample, PYMEMD_KEY_USS);
      g_autofree char *dirty = pymemctl_format_figure (sample, PYMEMD_KEY_PRIVATE_DIRTY);
      g_autofree char *swap = pymemctl_format_figure (sample, PYMEMD_KEY_SWAP);
      /* TRANSLATORS: pid, program name, "PSS 1.0 MiB (+1.0 MiB)", USS, private dirty, swap */
      g_autofree char *text = g_strdup_printf (_("%u %s: %s, USS %s, private dirty %s, swap %s"),
                                               pid, name, pss, uss, dirty, swap);
      print_line (watch, text);
    }
}

static void
on_growth_suspected (PymemdDbusMonitor1 *monitor, guint subscription, const char *path,
                     guint pid, guint64 start_time, double bytes_per_hour, double window,
                     GVariant *grew, gpointer data)
{
  Watch *watch = data;
  const char *name = accept_signal (watch, subscription, path);

  if (name == NULL)
    return;
  if (watch->json)
    {
      g_autoptr(JsonBuilder) builder = begin_json_line ("GrowthSuspected", path, pid, start_time,
                                                        name);

      json_builder_set_member_name (builder, "bytes_per_hour");
      json_builder_add_double_value (builder, bytes_per_hour);
      json_builder_set_member_name (builder, "window");
      json_builder_add_double_value (builder, window);
      json_builder_set_member_name (builder, "grew");
      json_builder_add_value (builder, pymemctl_json_from_variant (grew));
      end_json_line (watch, builder);
    }
  else
    {
      g_autofree char *rate = pymemctl_format_size ((guint64) MAX (bytes_per_hour, 0));
      g_autofree char *span = pymemctl_format_duration ((gint64) window);
      g_autofree char *causes = pymemctl_heap_growth_text (grew);
      /* TRANSLATORS: pid, program name, bytes per hour, the window ("10m") */
      g_autofree char *text = g_strdup_printf (_("%u %s: growth suspected, PSS +%s per hour over "
                                                 "the last %s"),
                                               pid, name, rate, span);

      if (*causes != '\0')
        {
          g_autofree char *line = g_strdup_printf (_("%s; grew most: %s"), text, causes);
          print_line (watch, line);
        }
      else
        print_line (watch, text);
    }
}

static void
on_owner_changed (GObject *proxy, GParamSpec *pspec, gpointer data)
{
  Watch *watch = data;
  g_autofree char *owner = g_dbus_proxy_get_name_owner (G_DBUS_PROXY (proxy));

  if (owner != NULL)
    return;
  g_printerr ("pymemctl: %s\n", _("pymemd stopped"));
  watch->exit_code = PYMEMCTL_EXIT_FAILURE;
  g_main_loop_quit (watch->loop);
}

static gboolean
on_quit_signal (gpointer data)
{
  Watch *watch = data;

  g_main_loop_quit (watch->loop);
  return G_SOURCE_CONTINUE;
}

/* The Subscribe options: the PIDS given, if any. */
static gboolean
subscribe_options (int argc, char **argv, GVariant **options, GError **error)
{
  GVariantBuilder builder, pids;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  if (argc > 1)
    {
      g_variant_builder_init (&pids, G_VARIANT_TYPE ("au"));
      for (int i = 1; i < argc; i++)
        {
          guint32 pid;

          if (!pymemctl_parse_pid (argv[i], &pid, error))
            {
              g_variant_builder_clear (&pids);
              g_variant_builder_clear (&builder);
              return FALSE;
            }
          g_variant_builder_add (&pids, "u", pid);
        }
      g_variant_builder_add (&builder, "{sv}", "pids", g_variant_builder_end (&pids));
    }
  *options = g_variant_ref_sink (g_variant_builder_end (&builder));
  return TRUE;
}

int
pymemctl_watch (int argc, char **argv)
{
  gboolean json = FALSE;
  const GOptionEntry entries[] = { PYMEMCTL_JSON_OPTION (json), { NULL } };
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdDbusMonitor1) monitor = NULL;
  g_autoptr(GVariant) options = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  Watch watch = { 0 };
  guint sigint, sigterm;
  int exit_code;

  if (!pymemctl_parse_options (&argc, &argv, _("watch [PID…]"),
                               _("Prints a line whenever a process's memory changes by the "
                                 "daemon's threshold, or its PSS keeps growing, until "
                                 "interrupted. With PIDs, only those processes."),
                               entries, &exit_code))
    return exit_code;
  if (!subscribe_options (argc, argv, &options, &error))
    return pymemctl_usage_error ("%s", error->message);
  if ((monitor = pymemctl_monitor_connect (&error)) == NULL)
    return pymemctl_print_error (error, 0);

  loop = g_main_loop_new (NULL, FALSE);
  watch.monitor = monitor;
  watch.loop = loop;
  watch.json = json;
  watch.names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  watch.last_pss = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_signal_connect (monitor, "memory-changed", G_CALLBACK (on_memory_changed), &watch);
  g_signal_connect (monitor, "growth-suspected", G_CALLBACK (on_growth_suspected), &watch);
  g_signal_connect (monitor, "notify::g-name-owner", G_CALLBACK (on_owner_changed), &watch);
  refresh_names (&watch);
  if (!pymemd_dbus_monitor1_call_subscribe_sync (monitor, options, G_DBUS_CALL_FLAGS_NONE, -1,
                                                 &watch.subscription, NULL, &error))
    {
      exit_code = pymemctl_print_error (error, 0);
      goto out;
    }

  sigint = g_unix_signal_add (SIGINT, on_quit_signal, &watch);
  sigterm = g_unix_signal_add (SIGTERM, on_quit_signal, &watch);
  g_main_loop_run (loop);
  g_source_remove (sigint);
  g_source_remove (sigterm);
  exit_code = watch.exit_code;
  if (exit_code == PYMEMCTL_EXIT_OK)
    pymemd_dbus_monitor1_call_unsubscribe_sync (monitor, watch.subscription,
                                                G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);

out:
  g_signal_handlers_disconnect_by_data (monitor, &watch);
  g_hash_table_unref (watch.names);
  g_hash_table_unref (watch.last_pss);
  return exit_code;
}
