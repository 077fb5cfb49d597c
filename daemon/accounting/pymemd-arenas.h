/* Reads an interpreter's own table of pymalloc arenas from its memory where the build's layout is known, so that pymalloc is measured rather than guessed from mapping shapes. */
#pragma once

#include <glib.h>

#include "pymemd-elf.h"
#include "pymemd-smaps.h"

G_BEGIN_DECLS

/* One arena: [start, end) in the target's address space. */
typedef struct {
  guint64 start;
  guint64 end;
} PymemdArena;

/* Reads LEN bytes of the target at ADDRESS into BUF, all or fail. */
typedef gboolean (*PymemdArenasReadFunc) (gpointer   user_data,
                                          guint64    address,
                                          void      *buf,
                                          gsize      len,
                                          GError   **error);

/* Whether pymemd knows where the interpreter in IMAGE, of version
 * PYTHON_VERSION, keeps its arena table: FALSE with the reason when not.
 * Reads nothing. */
gboolean pymemd_arenas_layout_known (const PymemdElfInfo  *image,
                                     guint                 python_version,
                                     GError              **error);

/* The arenas in use of the interpreter in IMAGE (loaded at BIAS) of
 * version PYTHON_VERSION, sorted by address, read through READ: from
 * obmalloc.c's static table (2.7-3.11, unstripped builds) or the main
 * interpreter's obmalloc state at a known offset of _PyRuntime (3.12-3.14
 * default builds). The table is checked for the shape only a real one has
 * (sizes, alignment, pool counts, the interpreter's own count of arenas);
 * it is read once more if the interpreter grew it meanwhile. NULL with
 * PYMEMD_ERROR_NOT_PYTHON where the layout is not known, another code
 * where it could not be read or did not check out. */
GArray  *pymemd_arenas_read (const PymemdElfInfo  *image,
                             guint                 python_version,
                             guint64               bias,
                             PymemdArenasReadFunc  read,
                             gpointer              user_data,
                             GError              **error);

/* The same, reading the process's memory through MEM_FD, its open
 * /proc/PID/mem: reading neither stops nor otherwise touches it, and the
 * file names that process, not whichever later gets its pid. */
GArray  *pymemd_arenas_read_mem (int                  mem_fd,
                                 const PymemdElfInfo *image,
                                 guint                python_version,
                                 guint64              bias,
                                 GError             **error);

/* The load bias of the image mapped as IMAGE_PATH in MAPPINGS (the mapping
 * of its file offset 0); FALSE when it is not mapped there. */
gboolean pymemd_arenas_image_bias (GArray              *mappings,
                                   const char          *image_path,
                                   const PymemdElfInfo *image,
                                   guint64             *bias);

/* How many bytes of [START, END) lie in ARENAS (sorted, disjoint). */
guint64  pymemd_arenas_overlap (GArray  *arenas,
                                guint64  start,
                                guint64  end);

/* Counts, through the open /proc/PID/pagemap PAGEMAP_FD, the pages of the
 * parts of [START, END) in ARENAS that are present and swapped. */
gboolean pymemd_arenas_count_pages (GArray   *arenas,
                                    int       pagemap_fd,
                                    gsize     page_size,
                                    guint64   start,
                                    guint64   end,
                                    guint64  *present,
                                    guint64  *swapped,
                                    GError  **error);

/* Splits the counters of a mapping WHOLE whose arena part spans PART_SIZE
 * bytes with PART_RESIDENT bytes present and PART_SWAPPED swapped: those
 * three go to PART exactly (bounded by WHOLE), every other field in
 * proportion to the resident (or, for swap fields, swapped) share; REST
 * gets what is left. */
void     pymemd_arenas_split_counters (const PymemdCounters *whole,
                                       guint64               part_size,
                                       guint64               part_resident,
                                       guint64               part_swapped,
                                       PymemdCounters       *part,
                                       PymemdCounters       *rest);

G_END_DECLS
