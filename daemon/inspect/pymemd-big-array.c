/* Arrays of millions of entries in memory mapped for each alone: malloc would copy a growing array (doubling the peak) and keep freed pages in its heap, where an analysis that is over would still weigh on the daemon. */
#include "config.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "pymemd-big-array.h"
#include "pymemd-error.h"

static gsize
page_size (void)
{
  static gsize size = 0;

  if (size == 0)
    size = (gsize) sysconf (_SC_PAGESIZE);
  return size;
}

static gsize
round_to_pages (gsize bytes)
{
  gsize page = page_size ();

  return bytes > G_MAXSIZE - page ? G_MAXSIZE / page * page : (bytes + page - 1) / page * page;
}

gboolean
pymemd_big_array_reserve (PymemdBigArray *array, gsize capacity, GError **error)
{
  gsize bytes = round_to_pages (MAX (capacity, 1));
  void *data;

  g_return_val_if_fail (array->data == NULL, FALSE);

  /* MAP_NORESERVE: the reservation is address space only; the pages the
   * analysis writes are what it costs. */
  data = mmap (NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (data == MAP_FAILED)
    {
      int errsv = errno;
      g_autofree char *size = g_format_size_full (bytes, G_FORMAT_SIZE_IEC_UNITS);
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_LIMIT_EXCEEDED, _("Cannot reserve %s for an analysis: %s"),
                   size, g_strerror (errsv));
      return FALSE;
    }
  array->data = data;
  array->capacity = bytes;
  array->size = 0;
  return TRUE;
}

gboolean
pymemd_big_array_reserve_n (PymemdBigArray *array, gsize n_elements, gsize element_size, GError **error)
{
  gsize bytes;

  if (!g_size_checked_mul (&bytes, n_elements, element_size))
    bytes = G_MAXSIZE;
  if (!pymemd_big_array_reserve (array, bytes, error))
    return FALSE;
  array->size = bytes;
  return TRUE;
}

gboolean
pymemd_big_array_set_size (PymemdBigArray *array, gsize size)
{
  if (size > array->capacity)
    return FALSE;
  array->size = size;
  return TRUE;
}

void
pymemd_big_array_shrink (PymemdBigArray *array, gsize size)
{
  gsize keep = round_to_pages (size);

  g_return_if_fail (size <= array->size);
  if (array->data != NULL && keep < array->capacity)
    madvise ((char *) array->data + keep, array->capacity - keep, MADV_DONTNEED);
  array->size = size;
}

void
pymemd_big_array_clear (PymemdBigArray *array)
{
  if (array->data != NULL)
    munmap (array->data, array->capacity);
  array->data = NULL;
  array->capacity = 0;
  array->size = 0;
}

gsize
pymemd_big_array_footprint (const PymemdBigArray *array)
{
  return round_to_pages (array->size);
}
