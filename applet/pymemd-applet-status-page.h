/* A page that says why there is nothing to show (an icon or a spinner, a title, a text), like libadwaita's AdwStatusPage in plain GTK. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define PYMEMD_APPLET_TYPE_STATUS_PAGE (pymemd_applet_status_page_get_type ())
G_DECLARE_FINAL_TYPE (PymemdAppletStatusPage, pymemd_applet_status_page, PYMEMD_APPLET, STATUS_PAGE, GtkWidget)

GtkWidget *pymemd_applet_status_page_new (void);
/* ICON_NAME, or a spinner when NULL. */
void       pymemd_applet_status_page_set_icon_name   (PymemdAppletStatusPage *self,
                                                      const char             *icon_name);
void       pymemd_applet_status_page_set_title       (PymemdAppletStatusPage *self,
                                                      const char             *title);
void       pymemd_applet_status_page_set_description (PymemdAppletStatusPage *self,
                                                      const char             *description);
const char *pymemd_applet_status_page_get_title      (PymemdAppletStatusPage *self);

G_END_DECLS
