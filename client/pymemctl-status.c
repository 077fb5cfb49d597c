/* pymemctl status: the daemon's version, settings, history store and totals, from the manager's properties. */
#include "config.h"

#include <glib/gi18n.h>

#include "pymemctl-commands.h"
#include "pymemctl-util.h"
#include "pymemd-names.h"

static void
print_field (const char *label, const char *value)
{
  glong pad = 24 - g_utf8_strlen (label, -1);
  g_autofree char *text = pymemctl_printable (value);

  g_print ("%s%*s%s\n", label, (int) MAX (pad, 1), "", text);
}

static char *
format_seconds (double seconds)
{
  return g_strdup_printf (_("%g s"), seconds);
}

static char *
history_text (PymemdDbusMonitor1 *monitor)
{
  const char *state = pymemd_dbus_monitor1_get_history_state (monitor);
  const char *path = pymemd_dbus_monitor1_get_history_path (monitor);
  g_autofree char *size = pymemctl_format_size (pymemd_dbus_monitor1_get_history_size (monitor));

  if (state == NULL || *state == '\0')
    return g_strdup (_("unknown (this pymemd does not say)"));
  if (g_strcmp0 (state, "disabled") == 0)
    return g_strdup (_("disabled (no state directory)"));
  if (g_strcmp0 (state, "degraded") == 0)
    /* TRANSLATORS: the history file cannot be written: its path */
    return g_strdup_printf (_("degraded: kept in memory until %s can be written again"),
                            path != NULL ? path : "?");
  /* TRANSLATORS: the state ("ok"), the file and its size */
  return g_strdup_printf (_("%s, %s (%s)"), state, path != NULL ? path : "?", size);
}

/* The properties under stable names, as JSON. */
static JsonNode *
status_json (PymemdDbusMonitor1 *monitor)
{
  GVariantDict dict, history;
  GVariant *totals = pymemd_dbus_monitor1_get_totals (monitor);
  GVariant *python_set = pymemd_dbus_monitor1_get_python_set (monitor);
  const char *version = pymemd_dbus_monitor1_get_version (monitor);
  const char *boot_id = pymemd_dbus_monitor1_get_boot_id (monitor);
  const char *state = pymemd_dbus_monitor1_get_history_state (monitor);
  const char *path = pymemd_dbus_monitor1_get_history_path (monitor);
  g_autoptr(GVariant) value = NULL;

  g_variant_dict_init (&history, NULL);
  g_variant_dict_insert (&history, "state", "s", state != NULL ? state : "");
  g_variant_dict_insert (&history, "path", "s", path != NULL ? path : "");
  g_variant_dict_insert (&history, PYMEMD_KEY_SIZE, "t", pymemd_dbus_monitor1_get_history_size (monitor));
  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "version", "s", version != NULL ? version : "");
  g_variant_dict_insert (&dict, "interval", "d", pymemd_dbus_monitor1_get_interval (monitor));
  g_variant_dict_insert (&dict, "detail_interval", "d",
                         pymemd_dbus_monitor1_get_detail_interval (monitor));
  g_variant_dict_insert (&dict, "process_count", "u",
                         pymemd_dbus_monitor1_get_process_count (monitor));
  g_variant_dict_insert (&dict, "exact_available", "b",
                         pymemd_dbus_monitor1_get_exact_available (monitor));
  g_variant_dict_insert (&dict, "boot_id", "s", boot_id != NULL ? boot_id : "");
  g_variant_dict_insert_value (&dict, "history", g_variant_dict_end (&history));
  g_variant_dict_insert_value (&dict, "totals",
                               totals != NULL ? totals : g_variant_new ("a{st}", NULL));
  g_variant_dict_insert_value (&dict, "python_set",
                               python_set != NULL ? python_set : g_variant_new ("a{st}", NULL));
  value = g_variant_ref_sink (g_variant_dict_end (&dict));
  return pymemctl_json_from_variant (value);
}

static void
print_status (PymemdDbusMonitor1 *monitor)
{
  GVariant *totals = pymemd_dbus_monitor1_get_totals (monitor);
  GVariant *python_set = pymemd_dbus_monitor1_get_python_set (monitor);
  g_autofree char *interval = format_seconds (pymemd_dbus_monitor1_get_interval (monitor));
  g_autofree char *detail = format_seconds (pymemd_dbus_monitor1_get_detail_interval (monitor));
  g_autofree char *intervals = NULL, *count = NULL, *history = history_text (monitor);
  g_autofree char *pss = pymemctl_format_figure (totals, PYMEMD_KEY_PSS);
  g_autofree char *uss = pymemctl_format_figure (totals, PYMEMD_KEY_USS);
  g_autofree char *swap = pymemctl_format_figure (totals, PYMEMD_KEY_SWAP);
  g_autofree char *sums = NULL;
  const char *version = pymemd_dbus_monitor1_get_version (monitor);

  /* TRANSLATORS: the rollup interval, then the detail pass's */
  intervals = g_strdup_printf (_("%s (detail and exact passes every %s)"), interval, detail);
  count = g_strdup_printf ("%u", pymemd_dbus_monitor1_get_process_count (monitor));
  sums = g_strdup_printf (_("PSS %s, USS %s, swap %s"), pss, uss, swap);

  print_field (_("Version:"), version != NULL ? version : "?");
  print_field (_("Interval:"), intervals);
  print_field (_("Processes watched:"), count);
  print_field (_("Totals:"), sums);
  print_field (_("Exact accounting:"),
               pymemd_dbus_monitor1_get_exact_available (monitor)
                 ? _("on (page frame counts)")
                 : _("off (page frame counts cannot be read; figures from smaps)"));
  if (python_set != NULL && g_variant_n_children (python_set) > 0)
    {
      g_autofree char *shared = pymemctl_format_figure (python_set, "shared_only_python");
      g_autofree char *freed = pymemctl_format_figure (python_set, "freed_if_all_exit");

      print_field (_("Shared only by Python:"), shared);
      print_field (_("Freed if all exit:"), freed);
    }
  print_field (_("History:"), history);
}

int
pymemctl_status (int argc, char **argv)
{
  gboolean json = FALSE;
  const GOptionEntry entries[] = { PYMEMCTL_JSON_OPTION (json), { NULL } };
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdDbusMonitor1) monitor = NULL;
  int exit_code;

  if (!pymemctl_parse_options (&argc, &argv, "status",
                               _("Shows the daemon's version, intervals, how many processes it "
                                 "watches, its history store and whether exact accounting "
                                 "runs."),
                               entries, &exit_code))
    return exit_code;
  if (argc > 1)
    return pymemctl_usage_error (_("Unexpected argument “%s”"), argv[1]);
  if ((monitor = pymemctl_monitor_connect (&error)) == NULL)
    return pymemctl_print_error (error, 0);

  if (json)
    {
      g_autoptr(JsonNode) root = status_json (monitor);
      return pymemctl_print_json_document (root);
    }
  print_status (monitor);
  return PYMEMCTL_EXIT_OK;
}
