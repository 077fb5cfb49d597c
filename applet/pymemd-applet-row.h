/* One line of the list: a process's name, whose it is, its PSS and private dirty memory, its sparkline and the way to its heap. */
#pragma once

#include <gtk/gtk.h>

#include "pymemd-applet-source.h"

G_BEGIN_DECLS

#define PYMEMD_APPLET_TYPE_ROW (pymemd_applet_row_get_type ())
G_DECLARE_FINAL_TYPE (PymemdAppletRow, pymemd_applet_row, PYMEMD_APPLET, ROW, GtkWidget)

GtkWidget *pymemd_applet_row_new (void);
/* Shows PROCESS from now on, following its "changed"; asks SOURCE for its
 * history. */
void       pymemd_applet_row_bind   (PymemdAppletRow     *self,
                                     PymemdAppletProcess *process,
                                     PymemdAppletSource  *source);
void       pymemd_applet_row_unbind (PymemdAppletRow *self);

G_END_DECLS
