/* pymemd's entry point: parses the command line and runs one scan (--once) or the service. */
#include "config.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

#include "pymemd-error.h"
#include "pymemd-report.h"
#include "pymemd-scanner.h"

#define EXIT_USAGE 2

/* One directory fd is held per watched interpreter: allow many. */
static void
raise_fd_limit (void)
{
  struct rlimit limit;

  if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max)
    {
      limit.rlim_cur = limit.rlim_max;
      setrlimit (RLIMIT_NOFILE, &limit);
    }
}

static int
run_once (const char *proc_root)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdProcfs) procfs = pymemd_procfs_new (proc_root, &error);
  g_autoptr(PymemdScanner) scanner = NULL;
  g_autoptr(JsonNode) report = NULL;
  g_autofree char *text = NULL;

  if (procfs != NULL)
    scanner = pymemd_scanner_new (procfs, &error);
  if (scanner == NULL || !pymemd_scanner_scan (scanner, PYMEMD_SCAN_ALL, &error))
    {
      g_printerr ("pymemd: %s\n", error->message);
      return EXIT_FAILURE;
    }
  report = pymemd_report_build (scanner);
  text = json_to_string (report, TRUE);
  if (fputs (text, stdout) == EOF || fputc ('\n', stdout) == EOF || fflush (stdout) != 0)
    {
      g_printerr ("pymemd: %s\n", _("Cannot write the report to standard output"));
      return EXIT_FAILURE;
    }
  return EXIT_SUCCESS;
}

int
main (int argc, char **argv)
{
  gboolean once = FALSE, version = FALSE, verbose = FALSE;
  g_autofree char *proc_root = NULL;
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  const GOptionEntry entries[] = {
    { "once", 0, 0, G_OPTION_ARG_NONE, &once,
      N_("Scan once (rollup, detail and exact passes), print a JSON report and exit"), NULL },
    { "proc", 0, 0, G_OPTION_ARG_FILENAME, &proc_root,
      N_("Read processes from DIR instead of /proc"), N_("DIR") },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, N_("Log debug messages"), NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, N_("Print the version and exit"), NULL },
    { NULL }
  };

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  context = g_option_context_new (NULL);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_set_summary (context,
                                _("Accounts the memory of every CPython interpreter on this host."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("pymemd: %s\n", error->message);
      return EXIT_USAGE;
    }
  if (argc > 1)
    {
      g_printerr ("pymemd: %s “%s”\n", _("Unexpected argument"), argv[1]);
      return EXIT_USAGE;
    }
  if (version)
    {
      g_print ("pymemd %s\n", PACKAGE_VERSION);
      return EXIT_SUCCESS;
    }
  if (verbose)
    g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);
  raise_fd_limit ();

  if (!once)
    {
      g_printerr ("pymemd: %s\n",
                  _("This version only scans once: run “pymemd --once”"));
      return EXIT_USAGE;
    }
  return run_once (proc_root != NULL ? proc_root : "/proc");
}
