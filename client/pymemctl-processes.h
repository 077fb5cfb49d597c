/* Every process pymemd lists, as GetProcesses gives them, for the least that crosses the bus. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "pymemd-dbus-generated.h"

G_BEGIN_DECLS

typedef struct _PymemctlProcesses PymemctlProcesses;

/* What GetProcesses would give, from GetTable and the identities kept in
 * $XDG_RUNTIME_DIR/pymemctl/identities (PYMEMCTL_CACHE names another file;
 * empty: none), asked with GetIdentities only for processes not kept;
 * from GetProcesses itself where pymemd has no GetTable. */
PymemctlProcesses *pymemctl_processes_get (PymemdDbusMonitor1 *monitor, GError **error);
/* GetProcesses' aa{sv}. */
GVariant *pymemctl_processes_to_variant (PymemctlProcesses *self);
/* How many rows there are, and row I as json_gvariant_serialize () makes
 * of its dictionary: NULL for a process that ended (or went out of sight)
 * between GetTable and GetIdentities, which is left out. */
guint pymemctl_processes_count (PymemctlProcesses *self);
JsonNode *pymemctl_processes_row_to_json (PymemctlProcesses *self, guint i);
void pymemctl_processes_free (PymemctlProcesses *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PymemctlProcesses, pymemctl_processes_free)

G_END_DECLS
