/* pymemctl list: one line per Python process, from GetTable and the identities kept between runs (pymemctl-processes.c). */
#include "config.h"

#include <glib/gi18n.h>

#include "pymemctl-commands.h"
#include "pymemctl-processes.h"
#include "pymemctl-util.h"
#include "pymemd-names.h"

static void
print_table (GVariant *processes)
{
  const char *const headers[] = {
    /* TRANSLATORS: column headers of pymemctl list */
    N_("PID"), N_("USER"), N_("PY"), N_("PSS"), N_("USS"), N_("PRIV DIRTY"), N_("SWAP"),
    N_("COMMAND"), NULL
  };
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  g_autoptr(PymemctlTable) table = pymemctl_table_new (headers, "rllrrrrl");
  guint width = pymemctl_terminal_width (stdout);

  for (gsize i = 0; i < g_variant_n_children (processes); i++)
    g_ptr_array_add (entries, g_variant_get_child_value (processes, i));
  pymemctl_sort_by_size (entries);

  for (guint i = 0; i < entries->len; i++)
    {
      GVariant *entry = g_ptr_array_index (entries, i);
      guint32 pid = 0, uid = 0;
      const char *version = "", *cmdline = "";
      g_autofree char *pid_text = NULL, *user = NULL, *pss = NULL, *uss = NULL;
      g_autofree char *dirty = NULL, *swap = NULL, *command = NULL;

      g_variant_lookup (entry, PYMEMD_KEY_PID, "u", &pid);
      g_variant_lookup (entry, PYMEMD_KEY_UID, "u", &uid);
      g_variant_lookup (entry, "python_version", "&s", &version);
      g_variant_lookup (entry, "cmdline", "&s", &cmdline);
      pid_text = g_strdup_printf ("%u", pid);
      user = pymemctl_user_name (uid);
      pss = pymemctl_format_figure (entry, PYMEMD_KEY_PSS);
      uss = pymemctl_format_figure (entry, PYMEMD_KEY_USS);
      dirty = pymemctl_format_figure (entry, PYMEMD_KEY_PRIVATE_DIRTY);
      swap = pymemctl_format_figure (entry, PYMEMD_KEY_SWAP);
      /* On a terminal the command line fills what is left of the width. */
      command = pymemctl_ellipsize (cmdline, width > 80 ? width - 70 : width > 0 ? 10 : 0);
      pymemctl_table_add_row (table, pid_text, user, *version != '\0' ? version : "?", pss, uss,
                              dirty, swap, command, NULL);
    }
  pymemctl_table_print (table, stdout);
  if (entries->len == 0)
    g_print ("%s\n", _("(no Python process is running)"));
}

static JsonNode *
row_to_json (gpointer processes, guint i)
{
  return pymemctl_processes_row_to_json (processes, i);
}

int
pymemctl_list (int argc, char **argv)
{
  gboolean json = FALSE;
  const GOptionEntry entries[] = { PYMEMCTL_JSON_OPTION (json), { NULL } };
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdDbusMonitor1) monitor = NULL;
  g_autoptr(PymemctlProcesses) processes = NULL;
  g_autoptr(GVariant) dicts = NULL;
  int exit_code;

  if (!pymemctl_parse_options (&argc, &argv, "list",
                               _("Prints one line per Python process: the figures of its "
                                 "latest sample (rollup), largest PSS first."),
                               entries, &exit_code))
    return exit_code;
  if (argc > 1)
    return pymemctl_usage_error (_("Unexpected argument “%s”"), argv[1]);

  if ((monitor = pymemctl_monitor_connect_for_calls (&error)) == NULL ||
      (processes = pymemctl_processes_get (monitor, &error)) == NULL)
    return pymemctl_print_error (error, 0);

  if (json)
    return pymemctl_print_json_array_document ("processes", pymemctl_processes_count (processes),
                                               row_to_json, processes);
  dicts = pymemctl_processes_to_variant (processes);
  print_table (dicts);
  return PYMEMCTL_EXIT_OK;
}
