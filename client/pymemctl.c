/* pymemctl's entry point: the global options (which bus, --json), then one subcommand. */
#include "config.h"

#include <locale.h>
#include <string.h>

#include <glib/gi18n.h>

#include "pymemctl-commands.h"
#include "pymemctl-top.h"
#include "pymemctl-util.h"

static gboolean opt_system = FALSE;
static gboolean opt_session = FALSE;
static char *opt_address = NULL;
static gboolean opt_json = FALSE;
static gboolean opt_version = FALSE;

static const GOptionEntry bus_entries[] = {
  { "system", 0, 0, G_OPTION_ARG_NONE, &opt_system,
    N_("Talk to pymemd on the system bus (the default)"), NULL },
  { "session", 0, 0, G_OPTION_ARG_NONE, &opt_session,
    N_("Talk to pymemd on the session bus"), NULL },
  { "address", 0, 0, G_OPTION_ARG_STRING, &opt_address,
    N_("Talk to pymemd on the bus at ADDRESS"), N_("ADDRESS") },
  { NULL }
};

static const GOptionEntry main_entries[] = {
  { "json", 0, 0, G_OPTION_ARG_NONE, &opt_json,
    N_("Print JSON (sizes in bytes) instead of tables"), NULL },
  { "version", 0, 0, G_OPTION_ARG_NONE, &opt_version, N_("Print the version and exit"), NULL },
  { NULL }
};

/* top connects once its options are read: --help and usage errors need no bus. */
static int
run_top (int argc, char **argv)
{
  return pymemctl_top (NULL, argc, argv);
}

static const struct {
  const char *name;
  int (*run) (int argc, char **argv);
  const char *description;
} commands[] = {
  { "list", pymemctl_list, N_("One line per Python process") },
  { "top", run_top, N_("The processes, refreshed every tick (interactive, or -b)") },
  { "show", pymemctl_show, N_("Where one process's memory goes") },
  { "history", pymemctl_history, N_("One process's PSS, USS and swap over time") },
  { "heap", pymemctl_heap, N_("What the objects inside one process hold, from its helper") },
  { "watch", pymemctl_watch, N_("Print memory changes and suspected growth as they happen") },
  { "status", pymemctl_status, N_("The daemon: version, interval, history store") },
  { "export", pymemctl_export, N_("Everything in Prometheus's text format (node-exporter's textfile collector)") },
};

static char *
commands_description (void)
{
  g_autoptr(GString) text = g_string_new (_("Commands:"));

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    g_string_append_printf (text, "\n  %-9s %s", commands[i].name, _(commands[i].description));
  g_string_append_printf (text, "\n\n%s", _("See pymemctl COMMAND --help, and pymemctl(1)."));
  return g_string_free (g_steal_pointer (&text), FALSE);
}

/* The command is the first argument that is neither an option nor the
 * value of --address; what precedes it is pymemctl's. */
static int
find_command (int argc, char **argv)
{
  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--") == 0)
        return i + 1;
      if (argv[i][0] != '-')
        return i;
      if (strcmp (argv[i], "--address") == 0)
        i++;
    }
  return argc;
}

/* Takes the bus options out of a command's arguments (they may follow the
 * command); the rest, --help included, is the command's. */
static gboolean
take_bus_options (int *argc, char ***argv, GError **error)
{
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);

  g_option_context_set_help_enabled (context, FALSE);
  g_option_context_set_ignore_unknown_options (context, TRUE);
  g_option_context_add_main_entries (context, bus_entries, GETTEXT_PACKAGE);
  return g_option_context_parse (context, argc, argv, error);
}

static gboolean
choose_bus (GError **error)
{
  if (opt_system + opt_session + (opt_address != NULL) > 1)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                           _("Choose one of --system, --session and --address"));
      return FALSE;
    }
  pymemctl_choose_bus (opt_address != NULL ? PYMEMCTL_BUS_ADDRESS
                       : opt_session       ? PYMEMCTL_BUS_SESSION
                                           : PYMEMCTL_BUS_SYSTEM,
                       opt_address);
  return TRUE;
}

int
main (int argc, char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) command_argv = g_ptr_array_new ();
  g_autofree char *description = NULL;
  char **command_args;
  int command, main_argc, command_argc;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  g_set_prgname ("pymemctl");

  command = find_command (argc, argv);
  main_argc = command;
  context = g_option_context_new (_("COMMAND [ARGUMENT…]"));
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_set_summary (context,
                                _("Shows how much memory the Python processes on this host use, "
                                  "as pymemd accounts it."));
  description = commands_description ();
  g_option_context_set_description (context, description);
  g_option_context_add_main_entries (context, bus_entries, GETTEXT_PACKAGE);
  g_option_context_add_main_entries (context, main_entries, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, &main_argc, &argv, &error))
    return pymemctl_usage_error ("%s", error->message);
  if (opt_version)
    {
      g_print ("pymemctl %s\n", PACKAGE_VERSION);
      return PYMEMCTL_EXIT_OK;
    }
  if (command >= argc)
    return pymemctl_usage_error ("%s", _("No command given"));

  /* The command's arguments, with a --json given before it passed on. */
  for (int i = command; i < argc; i++)
    g_ptr_array_add (command_argv, argv[i]);
  if (opt_json)
    g_ptr_array_add (command_argv, (gpointer) "--json");
  g_ptr_array_add (command_argv, NULL);
  command_argc = (int) command_argv->len - 1;
  command_args = (char **) command_argv->pdata;
  if (!take_bus_options (&command_argc, &command_args, &error) || !choose_bus (&error))
    return pymemctl_usage_error ("%s", error->message);

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (command_args[0], commands[i].name) == 0)
      return commands[i].run (command_argc, command_args);
  return pymemctl_usage_error (_("Unknown command “%s”"), command_args[0]);
}
