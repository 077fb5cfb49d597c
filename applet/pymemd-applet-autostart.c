/* "Start at Login": the applet's entry in the user's XDG autostart directory, written from its installed desktop file. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <gio/gdesktopappinfo.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "pymemd-applet-autostart.h"

#define DESKTOP_ID "org.pymemd.Applet.desktop"
#define GROUP      G_KEY_FILE_DESKTOP_GROUP

char *
pymemd_applet_autostart_path (void)
{
  return g_build_filename (g_get_user_config_dir (), "autostart", DESKTOP_ID, NULL);
}

gboolean
pymemd_applet_autostart_get_enabled (void)
{
  g_autofree char *path = pymemd_applet_autostart_path ();
  g_autoptr(GKeyFile) entry = g_key_file_new ();
  g_autoptr(GError) error = NULL;
  gboolean enabled;

  if (!g_key_file_load_from_file (entry, path, G_KEY_FILE_NONE, NULL))
    return FALSE;
  if (g_key_file_get_boolean (entry, GROUP, G_KEY_FILE_DESKTOP_KEY_HIDDEN, NULL))
    return FALSE;
  enabled = g_key_file_get_boolean (entry, GROUP, "X-GNOME-Autostart-enabled", &error);
  return error != NULL || enabled; /* absent: on */
}

/* The installed desktop file, with its translations, or a minimal entry
 * where the applet is not installed (run from a build tree). */
static GKeyFile *
autostart_entry (void)
{
  g_autoptr(GDesktopAppInfo) installed = g_desktop_app_info_new (DESKTOP_ID);
  g_autoptr(GKeyFile) entry = g_key_file_new ();
  g_autofree char *exec = NULL;

  if (installed == NULL ||
      !g_key_file_load_from_file (entry, g_desktop_app_info_get_filename (installed),
                                  G_KEY_FILE_KEEP_COMMENTS | G_KEY_FILE_KEEP_TRANSLATIONS, NULL))
    {
      g_key_file_set_string (entry, GROUP, G_KEY_FILE_DESKTOP_KEY_TYPE, G_KEY_FILE_DESKTOP_TYPE_APPLICATION);
      g_key_file_set_string (entry, GROUP, G_KEY_FILE_DESKTOP_KEY_NAME, _("Python Memory"));
      g_key_file_set_string (entry, GROUP, G_KEY_FILE_DESKTOP_KEY_ICON, "org.pymemd.Applet");
    }
  exec = g_key_file_get_string (entry, GROUP, G_KEY_FILE_DESKTOP_KEY_EXEC, NULL);
  if (exec == NULL)
    exec = g_strdup (BINDIR "/pymemd-applet");
  /* Without a window: it notifies, and opens when asked. */
  if (strstr (exec, "--background") == NULL)
    {
      g_autofree char *plain = g_steal_pointer (&exec);
      exec = g_strconcat (plain, " --background", NULL);
    }
  g_key_file_set_string (entry, GROUP, G_KEY_FILE_DESKTOP_KEY_EXEC, exec);
  g_key_file_set_boolean (entry, GROUP, "X-GNOME-Autostart-enabled", TRUE);
  g_key_file_remove_key (entry, GROUP, G_KEY_FILE_DESKTOP_KEY_HIDDEN, NULL);
  return g_steal_pointer (&entry);
}

gboolean
pymemd_applet_autostart_set_enabled (gboolean enabled, GError **error)
{
  g_autofree char *path = pymemd_applet_autostart_path ();
  g_autofree char *dir = g_path_get_dirname (path);
  g_autoptr(GKeyFile) entry = NULL;

  if (!enabled)
    {
      if (g_unlink (path) != 0 && errno != ENOENT)
        {
          int saved = errno;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), _("Cannot remove %s: %s"), path,
                       g_strerror (saved));
          return FALSE;
        }
      return TRUE;
    }
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), _("Cannot create %s: %s"), dir,
                   g_strerror (saved));
      return FALSE;
    }
  entry = autostart_entry ();
  return g_key_file_save_to_file (entry, path, error);
}
