/* "Start at Login": the applet's entry in the user's XDG autostart directory, written from its installed desktop file. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* ~/.config/autostart/org.pymemd.Applet.desktop ($XDG_CONFIG_HOME's). */
char    *pymemd_applet_autostart_path (void);
/* Whether the entry is there and not switched off (Hidden,
 * X-GNOME-Autostart-enabled=false). */
gboolean pymemd_applet_autostart_get_enabled (void);
/* Writes the entry (the installed desktop file's, starting the applet with
 * --background) or removes it. */
gboolean pymemd_applet_autostart_set_enabled (gboolean enabled,
                                              GError **error);

G_END_DECLS
