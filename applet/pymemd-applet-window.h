/* The applet's window: the list of Python processes, or the page that says why there is none. */
#pragma once

#include <gtk/gtk.h>

#include "pymemd-applet-source.h"

G_BEGIN_DECLS

#define PYMEMD_APPLET_TYPE_WINDOW (pymemd_applet_window_get_type ())
G_DECLARE_FINAL_TYPE (PymemdAppletWindow, pymemd_applet_window, PYMEMD_APPLET, WINDOW, GtkApplicationWindow)

GtkWidget *pymemd_applet_window_new (GtkApplication     *application,
                                     PymemdAppletSource *source);
/* Scrolls to the process (PID, START_TIME) and focuses its row. */
void       pymemd_applet_window_show_process (PymemdAppletWindow *self,
                                              guint32             pid,
                                              guint64             start_time);

G_END_DECLS
