/* pymemctl top: every interpreter's memory, refreshed each tick, full screen or as batch frames. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* ARGV[0] is "top"; returns the exit code (0 ok, 1 error, 2 usage). With
 * BUS NULL, top connects (pymemctl_bus_connect ()) after its options, so
 * that --help and usage errors need no bus. */
int pymemctl_top (GDBusConnection *bus,
                  int              argc,
                  char           **argv);

G_END_DECLS
