/* Parsers for smaps_rollup and smaps: kernel text in, 64-bit byte counters out, absent fields kept absent. */
#pragma once

#include <glib.h>

#include "pymemd-procfs.h"

G_BEGIN_DECLS

/* The smaps fields we account, in the kernel's order. */
typedef enum {
  PYMEMD_FIELD_SIZE,
  PYMEMD_FIELD_RSS,
  PYMEMD_FIELD_PSS,
  PYMEMD_FIELD_PSS_DIRTY,
  PYMEMD_FIELD_PSS_ANON,
  PYMEMD_FIELD_PSS_FILE,
  PYMEMD_FIELD_PSS_SHMEM,
  PYMEMD_FIELD_SHARED_CLEAN,
  PYMEMD_FIELD_SHARED_DIRTY,
  PYMEMD_FIELD_PRIVATE_CLEAN,
  PYMEMD_FIELD_PRIVATE_DIRTY,
  PYMEMD_FIELD_REFERENCED,
  PYMEMD_FIELD_ANONYMOUS,
  PYMEMD_FIELD_LAZY_FREE,
  PYMEMD_FIELD_ANON_HUGE_PAGES,
  PYMEMD_FIELD_SWAP,
  PYMEMD_FIELD_SWAP_PSS,
  PYMEMD_FIELD_LOCKED,
  PYMEMD_N_FIELDS
} PymemdField;

/* Byte counters; PRESENT has bit (1 << field) set for each field the kernel gave. */
typedef struct {
  guint64 value[PYMEMD_N_FIELDS];
  guint32 present;
} PymemdCounters;

G_STATIC_ASSERT (PYMEMD_N_FIELDS <= 32);

const char *pymemd_field_kernel_name (PymemdField field);
/* snake_case name used in JSON and on D-Bus */
const char *pymemd_field_name (PymemdField field);

static inline gboolean
pymemd_counters_has (const PymemdCounters *c, PymemdField field)
{
  return (c->present & (1u << field)) != 0;
}

/* USS as smaps sees it: pages mapped once (Private_Clean + Private_Dirty). */
static inline guint64
pymemd_counters_uss (const PymemdCounters *c)
{
  return c->value[PYMEMD_FIELD_PRIVATE_CLEAN] + c->value[PYMEMD_FIELD_PRIVATE_DIRTY];
}

/* Adds B into A; a field is present in A when present in either. */
void pymemd_counters_add (PymemdCounters       *a,
                          const PymemdCounters *b);

/* One line of /proc/PID/maps or header of /proc/PID/smaps, with its counters. */
typedef struct {
  guint64        start;
  guint64        end;
  guint64        offset;
  guint64        inode;
  guint32        dev_major;
  guint32        dev_minor;
  char           perms[5];
  int            category;   /* a PymemdCategory, set by the classifier */
  char          *path;       /* NULL for anonymous mappings */
  PymemdCounters counters;
} PymemdMapping;

GArray  *pymemd_mapping_array_new (void);

/* Parses one maps/smaps header line: "start-end perms offset maj:min inode [path]". */
gboolean pymemd_mapping_parse_header (const char    *line,
                                      PymemdMapping *mapping,
                                      GError       **error);

/* Parses smaps_rollup text. Rss and Pss are required; other fields may be absent. */
gboolean pymemd_rollup_parse (const char     *text,
                              gsize           len,
                              PymemdCounters *counters,
                              GError        **error);

/* Parses /proc/PID/smaps from FD, appending PymemdMapping to MAPPINGS.
 * MAX_BYTES bounds what is read (0: unbounded). With HEADERS_ONLY (a maps
 * file) no field lines are expected. */
gboolean pymemd_smaps_parse_fd (int          fd,
                                const char  *name,
                                guint64      max_bytes,
                                gboolean     headers_only,
                                GArray      *mappings,
                                GError     **error);
/* The same, and fails with PYMEMD_ERROR_BUDGET once reading has cost this
 * thread more than MAX_CPU_US of CPU time (0: unbounded). */
gboolean pymemd_smaps_parse_fd_within (int          fd,
                                       const char  *name,
                                       guint64      max_bytes,
                                       guint64      max_cpu_us,
                                       gboolean     headers_only,
                                       GArray      *mappings,
                                       GError     **error);

G_END_DECLS
