/* The detail view of one process: pymemctl heap --attach's answer (the ledger of its heap pages and its largest types) in a window. */
#pragma once

#include <gtk/gtk.h>

#include "pymemd-applet-source.h"

G_BEGIN_DECLS

#define PYMEMD_APPLET_TYPE_HEAP_WINDOW (pymemd_applet_heap_window_get_type ())
G_DECLARE_FINAL_TYPE (PymemdAppletHeapWindow, pymemd_applet_heap_window, PYMEMD_APPLET, HEAP_WINDOW, GtkWindow)

/* Asks SOURCE for the heap summary of (PID, START_TIME), attaching the
 * helper when it is not there, and shows it. NAME is the program's. */
GtkWidget *pymemd_applet_heap_window_new (GtkApplication     *application,
                                          PymemdAppletSource *source,
                                          guint32             pid,
                                          guint64             start_time,
                                          const char         *name);
/* Asks again. */
void       pymemd_applet_heap_window_refresh (PymemdAppletHeapWindow *self);

G_END_DECLS
