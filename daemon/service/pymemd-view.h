/* What a process shows, whatever it is written as: the figures of the D-Bus replies (GVariant) and of `pymemd --once` (JSON) are named, chosen and derived here once, as are a process's object path, executable name and version string. */
#pragma once

#include <glib.h>

#include "pymemd-process.h"

G_BEGIN_DECLS

/* How one output writes a figure (bytes, or a count), a figure this kernel
 * does not give, and a yes/no. */
typedef struct {
  void (*figure)  (gpointer out, const char *key, guint64 value);
  void (*missing) (gpointer out, const char *key);
  void (*flag)    (gpointer out, const char *key, gboolean value);
} PymemdViewWriter;

/* The rollup fields every output shows, in order, beyond the derived ones. */
#define PYMEMD_VIEW_N_FIELDS 14
extern const PymemdField pymemd_view_fields[PYMEMD_VIEW_N_FIELDS];

/* Shared pages as every output shows them: shared_clean + shared_dirty. */
guint64 pymemd_view_shared (const PymemdCounters *counters);

/* COUNTERS' fields (missing where the kernel gave none), then uss. */
void pymemd_view_counters (const PymemdCounters   *counters,
                           const PymemdViewWriter *writer,
                           gpointer                out);
/* One mapping category of PROCESS (which has its categories): mappings,
 * size, its counters, shared, and for pymalloc whether the figures come
 * from the interpreter's own arena table (and how many arenas). */
void pymemd_view_category (PymemdProcess          *process,
                           guint                   category,
                           const PymemdViewWriter *writer,
                           gpointer                out);
/* The exact figures from pagemap: uss, pss, resident, swap. */
void pymemd_view_exact (const PymemdExactFigures *exact,
                        const PymemdViewWriter   *writer,
                        gpointer                  out);

/* ---- the D-Bus replies' and signals' spelling ---- */

/* PROCESS's org.pymemd.Process1 object: PYMEMD_MANAGER_PATH/process/<pid>_<starttime>. */
char       *pymemd_view_object_path    (PymemdProcess *process);
/* "3.11", or "" when the version is not known. */
char       *pymemd_view_python_version (PymemdProcess *process);
/* The last part of PATH (NULL: ""): what the owner of a process may read
 * of /proc/PID/exe is its executable's file name. */
const char *pymemd_view_file_name      (const char *path);
const char *pymemd_view_exe_name       (PymemdProcess *process);

/* Writes into a GVariantBuilder of a{st}: a figure the kernel does not
 * give is left out, a yes/no is 1/0. */
extern const PymemdViewWriter pymemd_view_variant_writer;
/* COUNTERS as an a{st}: the figures of MemoryChanged and of the Totals
 * property. */
GVariant   *pymemd_view_counters_variant (const PymemdCounters *counters);

G_END_DECLS
