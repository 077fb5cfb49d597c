/* Sorts a process's mappings into the categories of DESIGN.md (pymalloc, native heap, stacks, code, files, shmem). */
#pragma once

#include <glib.h>

#include "pymemd-smaps.h"

G_BEGIN_DECLS

typedef enum {
  PYMEMD_CATEGORY_PYMALLOC,
  PYMEMD_CATEGORY_NATIVE_HEAP,
  PYMEMD_CATEGORY_STACK,
  PYMEMD_CATEGORY_INTERPRETER,
  PYMEMD_CATEGORY_EXTENSIONS,
  PYMEMD_CATEGORY_LIBRARIES,
  PYMEMD_CATEGORY_FILES,
  PYMEMD_CATEGORY_SHMEM,
  PYMEMD_CATEGORY_OTHER,
  PYMEMD_N_CATEGORIES
} PymemdCategory;

typedef struct {
  const char *exe_path;       /* what /proc/PID/exe points to, or NULL */
  gboolean    exe_is_python;  /* the executable itself holds the interpreter */
  guint       python_version; /* major * 100 + minor, 0 when unknown */
  /* The mapped file holding the interpreter, as maps names it (NULL:
   * unknown; then libpython* and a python executable are taken for it). */
  const char *interpreter_path;
  /* The interpreter's arenas (PymemdArena, sorted), read from its own
   * table: anonymous memory is pymalloc where it lies in them and nowhere
   * else. NULL: unknown, guessed from the mappings' shape. */
  GArray     *arenas;
} PymemdClassifyContext;

const char *pymemd_category_name (PymemdCategory category);

/* The pymalloc arena size of a CPython version (0: unknown version). */
guint64     pymemd_pymalloc_arena_size (guint python_version);

/* Whether two paths from maps or the exe link name the same file, one of
 * them perhaps with the " (deleted)" the kernel appends to unlinked files. */
gboolean    pymemd_mapping_paths_equal (const char *a,
                                        const char *b);

/* Sets the category of every PymemdMapping in MAPPINGS (in address order);
 * neighbours matter: a guard page makes a thread stack. */
void        pymemd_classify_mappings (GArray                      *mappings,
                                      const PymemdClassifyContext *context);

G_END_DECLS
