/* The applet as a GtkApplication: its options, its actions, its windows and the notifications of suspected growth. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define PYMEMD_APPLET_APP_ID "org.pymemd.Applet"

#define PYMEMD_APPLET_TYPE_APPLICATION (pymemd_applet_application_get_type ())
G_DECLARE_FINAL_TYPE (PymemdAppletApplication, pymemd_applet_application, PYMEMD_APPLET, APPLICATION, GtkApplication)

PymemdAppletApplication *pymemd_applet_application_new (void);

G_END_DECLS
