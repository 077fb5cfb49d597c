/* pymemd's entry point: parses the command line and runs one scan (--once) or the service. */
#include "config.h"

#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

#include "pymemd-daemon.h"
#include "pymemd-error.h"
#include "pymemd-log.h"
#include "pymemd-report.h"
#include "pymemd-scanner.h"

#define EXIT_USAGE 2

/* Two fds are held per watched interpreter (its /proc directory and its
 * statm): allow many. */
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

  if (procfs != NULL)
    scanner = pymemd_scanner_new (procfs, &error);
  if (scanner != NULL)
    {
      PymemdScanBudget budget;

      /* One pass has no later one for a user's reads to wait for: the
       * shares are a whole CPU, an hour of it at once (each read is still
       * bounded by the budget's own limits). */
      pymemd_scanner_get_budget (scanner, &budget);
      budget.detail_share_us = G_USEC_PER_SEC;
      budget.detail_share_burst_us = (guint64) 3600 * G_USEC_PER_SEC;
      pymemd_scanner_set_budget (scanner, &budget);
      pymemd_scanner_set_look_share (scanner, G_USEC_PER_SEC, (guint64) 3600 * G_USEC_PER_SEC);
    }
  if (scanner == NULL || !pymemd_scanner_scan (scanner, PYMEMD_SCAN_ALL, &error))
    {
      g_printerr ("pymemd: %s\n", error->message);
      return EXIT_FAILURE;
    }
  if (!pymemd_report_write (scanner, stdout))
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
  gboolean system_bus = FALSE, session_bus = FALSE, replace = FALSE;
  double interval = 0, detail_interval = 0;
  g_autofree char *proc_root = NULL;
  g_autofree char *address = NULL;
  g_autofree char *config_path = NULL;
  g_autofree char *state_dir = NULL;
  g_autofree char *runtime_dir = NULL;
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  PymemdDaemonOptions options = { 0 };
  const GOptionEntry entries[] = {
    { "system", 0, 0, G_OPTION_ARG_NONE, &system_bus,
      N_("Serve on the system bus (the default as root)"), NULL },
    { "session", 0, 0, G_OPTION_ARG_NONE, &session_bus,
      N_("Serve on the session bus, watching only this user's processes"), NULL },
    { "address", 0, 0, G_OPTION_ARG_STRING, &address, N_("Serve on the bus at ADDRESS"),
      N_("ADDRESS") },
    { "replace", 0, 0, G_OPTION_ARG_NONE, &replace, N_("Replace a running pymemd"), NULL },
    { "interval", 0, 0, G_OPTION_ARG_DOUBLE, &interval,
      N_("Seconds between rollup scans (default 2)"), N_("SECONDS") },
    { "detail-interval", 0, 0, G_OPTION_ARG_DOUBLE, &detail_interval,
      N_("Seconds between detail and exact passes (default 30)"), N_("SECONDS") },
    { "config", 0, 0, G_OPTION_ARG_FILENAME, &config_path,
      N_("Read the configuration from FILE"), N_("FILE") },
    { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir,
      N_("Keep state in DIR (default $STATE_DIRECTORY or /var/lib/pymemd)"), N_("DIR") },
    { "runtime-dir", 0, 0, G_OPTION_ARG_FILENAME, &runtime_dir,
      N_("Keep sockets in DIR (default $RUNTIME_DIRECTORY or /run/pymemd)"), N_("DIR") },
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
  pymemd_log_init ();
  raise_fd_limit ();

  if (once)
    return run_once (proc_root != NULL ? proc_root : "/proc");

  if ((system_bus + session_bus + (address != NULL)) > 1)
    {
      g_printerr ("pymemd: %s\n", _("Choose one of --system, --session and --address"));
      return EXIT_USAGE;
    }
  if (session_bus && geteuid () == 0)
    {
      g_printerr ("pymemd: %s\n",
                  _("--session watches one user's processes and refuses to run as root; "
                    "use --system"));
      return EXIT_USAGE;
    }
  if (!session_bus && address == NULL && geteuid () != 0)
    {
      g_printerr ("pymemd: %s\n",
                  _("The system service runs as root; as a user, run “pymemd --session”"));
      return EXIT_USAGE;
    }
  /* An attach child that dies before it read its request must not take
   * us with it: the write fails with EPIPE instead. */
  signal (SIGPIPE, SIG_IGN);
  options.bus = address != NULL ? PYMEMD_BUS_ADDRESS
                : session_bus   ? PYMEMD_BUS_SESSION
                                : PYMEMD_BUS_SYSTEM;
  options.address = address;
  options.replace = replace;
  options.config_path = config_path;
  options.proc_root = proc_root != NULL ? proc_root : "/proc";
  options.state_dir = state_dir;
  options.runtime_dir = runtime_dir;
  options.interval = interval;
  options.detail_interval = detail_interval;
  if (interval < 0 || detail_interval < 0)
    {
      g_printerr ("pymemd: %s\n", _("Intervals are positive numbers of seconds"));
      return EXIT_USAGE;
    }
  return pymemd_daemon_run (&options);
}
