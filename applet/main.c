/* pymemd-applet: the desktop widget that lists the Python processes pymemd watches and notifies when one keeps growing. */
#include "config.h"

#include <locale.h>

#include <glib/gi18n.h>

#include "pymemd-applet-application.h"

int
main (int argc, char *argv[])
{
  g_autoptr(PymemdAppletApplication) application = NULL;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  g_set_application_name (_("Python Memory"));
  /* Every message on stderr, where a session keeps them (GLib would put
   * debug messages on stdout). */
  g_log_writer_default_set_use_stderr (TRUE);

  application = pymemd_applet_application_new ();
  return g_application_run (G_APPLICATION (application), argc, argv);
}
