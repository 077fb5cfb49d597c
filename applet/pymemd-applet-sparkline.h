/* A small line of a process's PSS over the last minutes, drawn as the kernel's figures step from sample to sample. */
#pragma once

#include <gtk/gtk.h>

#include "pymemd-applet-process.h"

G_BEGIN_DECLS

#define PYMEMD_APPLET_TYPE_SPARKLINE (pymemd_applet_sparkline_get_type ())
G_DECLARE_FINAL_TYPE (PymemdAppletSparkline, pymemd_applet_sparkline, PYMEMD_APPLET, SPARKLINE, GtkWidget)

GtkWidget *pymemd_applet_sparkline_new (void);
/* N_POINTS points, oldest first, copied; drawn over the
 * PYMEMD_APPLET_HISTORY_SPAN_US up to the time of drawing. */
void       pymemd_applet_sparkline_set_points (PymemdAppletSparkline   *self,
                                               const PymemdAppletPoint *points,
                                               guint                    n_points);

G_END_DECLS
