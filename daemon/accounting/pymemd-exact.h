/* The exact pass: pagemap + kpagecount + kpageflags across all Python processes at once. */
#pragma once

#include <glib-object.h>

#include "pymemd-procfs.h"

G_BEGIN_DECLS

typedef enum {
  PYMEMD_SHARING_1,        /* mapped once on the whole host */
  PYMEMD_SHARING_2_TO_4,
  PYMEMD_SHARING_5_TO_16,
  PYMEMD_SHARING_MORE,
  PYMEMD_N_SHARING_BUCKETS
} PymemdSharingBucket;

typedef struct {
  guint64 uss;        /* bytes of pages mapped by this process alone */
  guint64 pss;        /* bytes, each page divided by its map count */
  guint64 resident;   /* bytes of present pages seen */
  guint64 swapped;    /* bytes of pages in swap */
  guint64 sharing[PYMEMD_N_SHARING_BUCKETS]; /* resident bytes by map count */
} PymemdExactFigures;

typedef struct {
  guint64 shared_only_python; /* mapped by 2+ Python processes and nothing else */
  guint64 freed_if_all_exit;  /* mapped only by Python processes */
  guint64 freed_if_all_exit_anonymous; /* the anonymous part of it: RAM, not page cache */
} PymemdPythonSet;

const char *pymemd_sharing_bucket_name (PymemdSharingBucket bucket);

#define PYMEMD_TYPE_EXACT (pymemd_exact_get_type ())
G_DECLARE_FINAL_TYPE (PymemdExact, pymemd_exact, PYMEMD, EXACT, GObject)

/* Fails with PYMEMD_ERROR_ACCESS_DENIED where PFNs cannot be read (not root). */
PymemdExact *pymemd_exact_new (PymemdProcfs *procfs,
                               GError      **error);

/* Starts a pass over N_SLOTS processes. */
void     pymemd_exact_begin (PymemdExact *self,
                             guint        n_slots);
/* Reads the pagemap of the process at PID_DIR_FD for the resident ranges of
 * MAPPINGS (PymemdMapping, as parsed from its smaps). */
gboolean pymemd_exact_add_process (PymemdExact *self,
                                   guint        slot,
                                   int          pid_dir_fd,
                                   GArray      *mappings,
                                   GError     **error);
/* Reads map counts and flags for every page seen and fills FIGURES
 * (n_slots entries) and SET. Slots whose add failed keep zeros. */
gboolean pymemd_exact_finish (PymemdExact        *self,
                              PymemdExactFigures *figures,
                              PymemdPythonSet    *set,
                              GError            **error);

G_END_DECLS
