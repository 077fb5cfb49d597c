/* Arrays of millions of entries for the retained-size analysis, each in address space mapped for it alone: growing one never copies it, and freeing one gives its pages back to the system at once. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Address space for up to CAPACITY bytes, of which SIZE are in use. Pages
 * are zero until written, and only written pages take memory: reserving
 * for the worst case costs nothing until the data comes. */
typedef struct {
  gpointer data;
  gsize    capacity;
  gsize    size;
} PymemdBigArray;

/* Reserves CAPACITY bytes (> 0) for an empty ARRAY, SIZE 0. */
gboolean pymemd_big_array_reserve (PymemdBigArray *array,
                                   gsize           capacity,
                                   GError        **error);
/* Reserves N_ELEMENTS elements of ELEMENT_SIZE bytes, all in use (zero). */
gboolean pymemd_big_array_reserve_n (PymemdBigArray *array,
                                     gsize           n_elements,
                                     gsize           element_size,
                                     GError        **error);
/* Puts SIZE bytes in use: FALSE when that is past the capacity. */
gboolean pymemd_big_array_set_size (PymemdBigArray *array,
                                    gsize           size);
/* Gives back the pages past SIZE (which becomes the size); the capacity
 * stays, and those pages read zero again when next written. */
void     pymemd_big_array_shrink (PymemdBigArray *array,
                                  gsize           size);
/* Unmaps ARRAY; it is empty (and may be reserved again) afterwards. */
void     pymemd_big_array_clear (PymemdBigArray *array);

/* The bytes of the pages ARRAY's size spans: what it holds of memory. */
gsize    pymemd_big_array_footprint (const PymemdBigArray *array);

#define PYMEMD_BIG_ARRAY_U32(array) ((guint32 *) (array)->data)
#define PYMEMD_BIG_ARRAY_U64(array) ((guint64 *) (array)->data)

G_END_DECLS
