/* Reads an interpreter's own table of pymalloc arenas from its memory where the build's layout is known, so that pymalloc is measured rather than guessed from mapping shapes. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "pymemd-arenas.h"
#include "pymemd-classify.h"
#include "pymemd-error.h"

/* struct arena_object of Objects/obmalloc.c (2.5 to 3.14, 64-bit):
 * address, pool_address, uint nfreepools, uint ntotalpools, freepools,
 * nextarena, prevarena. */
#define ARENA_OBJECT_SIZE 48
/* The table starts at 16 entries (INITIAL_ARENA_OBJECTS) and doubles;
 * this many (12 MiB of table, 256 GiB of 1 MiB arenas) is beyond any
 * real interpreter. */
#define MAX_ARENA_OBJECTS (1u << 18)
/* struct _obmalloc_state (3.12+): pools.used (512 bytes on 64-bit), then
 * mgmt = { arenas, maxarenas, ..., narenas_currently_allocated at 552 }. */
#define STATE_MGMT_OFFSET      0x200
#define MGMT_MAXARENAS_OFFSET  8
#define MGMT_NARENAS_OFFSET    552
/* The smallest pool (4 KiB before 3.10, 16 KiB after) bounds the pools of an arena. */
#define MIN_POOL_SIZE 4096
#define USER_SPACE_END (G_GUINT64_CONSTANT (1) << 56)

/* pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst) */
#define PM_SWAPPED (G_GUINT64_CONSTANT (1) << 62)
#define PM_PRESENT (G_GUINT64_CONSTANT (1) << 63)
#define PAGEMAP_CHUNK 4096

/* Where 3.12+ default (not free-threaded, not debug) builds keep the main
 * interpreter's obmalloc state, measured on CPython 3.12.1, 3.13.0 and
 * 3.14.0 (gdb's ptype/o on debug builds of the same sources, checked
 * against live processes). From 3.13 the runtime starts with
 * _Py_DebugOffsets, whose interpreter size must match: another layout of
 * the same version is refused rather than misread. */
typedef struct {
  guint    version;
  guint64  main_interpreter;  /* offsetof (_PyRuntimeState, _main_interpreter) */
  guint64  obmalloc;          /* offsetof (PyInterpreterState, obmalloc) */
  gboolean obmalloc_is_pointer;
  guint64  interpreter_size;  /* _Py_DebugOffsets' interpreter_state.size, 0 before 3.13 */
} RuntimeLayout;

static const RuntimeLayout runtime_layouts[] = {
  { 312, 0x12a68, 0xf78, FALSE, 0 },
  { 313, 0x15920, 0x2a30, TRUE, 0x2f998 },
  { 314, 0x16280, 0x2a98, TRUE, 0x37248 },
};

/* The table's address and size, and what the interpreter counts. */
typedef struct {
  guint64 arenas_at;     /* where the pointer to the table is */
  guint64 maxarenas_at;  /* where its uint size is */
  guint64 narenas_at;    /* where narenas_currently_allocated is, 0: unknown */
} TableRoot;

static gboolean
read_u64 (PymemdArenasReadFunc read, gpointer user_data, guint64 address, guint64 *value,
          GError **error)
{
  return read (user_data, address, value, sizeof *value, error);
}

static gboolean
check_debug_offsets (PymemdArenasReadFunc read, gpointer user_data, guint64 runtime,
                     const RuntimeLayout *layout, GError **error)
{
  guint64 head[7];

  if (!read (user_data, runtime, head, sizeof head, error))
    return FALSE;
  /* cookie, version, free_threaded, runtime size, finalizing,
   * interpreters_head, interpreter size */
  if (memcmp (&head[0], "xdebugpy", 8) != 0 ||
      ((head[1] >> 24) & 0xff) * 100 + ((head[1] >> 16) & 0xff) != layout->version ||
      head[2] != 0 || head[6] != layout->interpreter_size)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED,
                   _("The interpreter's _Py_DebugOffsets do not describe the layout pymemd knows "
                     "for %u.%u (a free-threaded or otherwise configured build)"),
                   layout->version / 100, layout->version % 100);
      return FALSE;
    }
  return TRUE;
}

static const RuntimeLayout *
runtime_layout (guint python_version)
{
  for (guint i = 0; i < G_N_ELEMENTS (runtime_layouts); i++)
    if (runtime_layouts[i].version == python_version)
      return &runtime_layouts[i];
  return NULL;
}

gboolean
pymemd_arenas_layout_known (const PymemdElfInfo *image, guint python_version, GError **error)
{
  if (python_version == 0)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED,
                   _("The interpreter's version is unknown, so is its arena size"));
      return FALSE;
    }
  if (python_version >= 312 && (runtime_layout (python_version) == NULL || image->runtime == 0))
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED,
                   _("pymemd does not know where Python %u.%u keeps its arena table"),
                   python_version / 100, python_version % 100);
      return FALSE;
    }
  if (python_version < 312 && (image->arenas == 0 || image->maxarenas == 0))
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED,
                   _("The interpreter's file has no symbol table (stripped): its arena table "
                     "cannot be found"));
      return FALSE;
    }
  return TRUE;
}

static gboolean
locate_table (const PymemdElfInfo *image, guint python_version, guint64 bias,
              PymemdArenasReadFunc read, gpointer user_data, TableRoot *root, GError **error)
{
  const RuntimeLayout *layout = runtime_layout (python_version);
  guint64 runtime = image->runtime + bias;
  guint64 state;

  if (!pymemd_arenas_layout_known (image, python_version, error))
    return FALSE;
  if (python_version < 312)
    {
      root->arenas_at = image->arenas + bias;
      root->maxarenas_at = image->maxarenas + bias;
      root->narenas_at = image->narenas != 0 ? image->narenas + bias : 0;
      return TRUE;
    }
  if (layout->interpreter_size != 0 &&
      !check_debug_offsets (read, user_data, runtime, layout, error))
    return FALSE;
  state = runtime + layout->main_interpreter + layout->obmalloc;
  if (layout->obmalloc_is_pointer && !read_u64 (read, user_data, state, &state, error))
    return FALSE;
  root->arenas_at = state + STATE_MGMT_OFFSET;
  root->maxarenas_at = root->arenas_at + MGMT_MAXARENAS_OFFSET;
  root->narenas_at = root->arenas_at + MGMT_NARENAS_OFFSET;
  return TRUE;
}

static gboolean
not_a_table (GError **error, const char *why)
{
  g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE,
               _("What was read as the interpreter's arena table is not one: %s"), why);
  return FALSE;
}

/* Appends the arenas in use of the table TABLE (MAXARENAS entries) to
 * ARENAS, checking each entry for what obmalloc.c guarantees. */
static gboolean
collect_arenas (const guint8 *table, guint32 maxarenas, guint64 arena_size, gsize page_size,
                GArray *arenas, GError **error)
{
  for (guint32 i = 0; i < maxarenas; i++)
    {
      const guint8 *entry = table + (gsize) i * ARENA_OBJECT_SIZE;
      guint64 address, pool_address;
      guint32 nfreepools, ntotalpools;
      PymemdArena arena;

      memcpy (&address, entry, 8);
      if (address == 0)
        continue;
      memcpy (&pool_address, entry + 8, 8);
      memcpy (&nfreepools, entry + 16, 4);
      memcpy (&ntotalpools, entry + 20, 4);
      if (address % page_size != 0 || address >= USER_SPACE_END - arena_size)
        return not_a_table (error, _("an arena address is not that of a mapping"));
      if (pool_address < address || pool_address > address + arena_size)
        return not_a_table (error, _("a pool lies outside its arena"));
      if (ntotalpools == 0 || ntotalpools > arena_size / MIN_POOL_SIZE || nfreepools > ntotalpools)
        return not_a_table (error, _("an arena's pool counts are impossible"));
      arena.start = address;
      arena.end = address + arena_size;
      g_array_append_val (arenas, arena);
    }
  return TRUE;
}

static gint
compare_arenas (gconstpointer a, gconstpointer b)
{
  guint64 x = ((const PymemdArena *) a)->start, y = ((const PymemdArena *) b)->start;
  return (x > y) - (x < y);
}

static GArray *
read_table (const TableRoot *root, guint64 arena_size, PymemdArenasReadFunc read,
            gpointer user_data, GError **error)
{
  g_autoptr(GArray) arenas = g_array_new (FALSE, FALSE, sizeof (PymemdArena));
  g_autofree guint8 *table = NULL;
  gsize page_size = (gsize) sysconf (_SC_PAGESIZE);
  guint64 table_at, narenas = 0;
  guint32 maxarenas;

  if (!read_u64 (read, user_data, root->arenas_at, &table_at, error) ||
      !read (user_data, root->maxarenas_at, &maxarenas, sizeof maxarenas, error) ||
      (root->narenas_at != 0 && !read_u64 (read, user_data, root->narenas_at, &narenas, error)))
    return NULL;
  if (maxarenas == 0 && table_at == 0)
    return g_steal_pointer (&arenas); /* nothing allocated yet */
  if (table_at == 0 || maxarenas < 16 || maxarenas > MAX_ARENA_OBJECTS ||
      (maxarenas & (maxarenas - 1)) != 0)
    {
      not_a_table (error, _("its size is not one obmalloc.c grows it to"));
      return NULL;
    }
  table = g_malloc ((gsize) maxarenas * ARENA_OBJECT_SIZE);
  if (!read (user_data, table_at, table, (gsize) maxarenas * ARENA_OBJECT_SIZE, error) ||
      !collect_arenas (table, maxarenas, arena_size, page_size, arenas, error))
    return NULL;
  if (root->narenas_at != 0 && narenas != arenas->len)
    {
      not_a_table (error, _("the interpreter counts another number of arenas"));
      return NULL;
    }
  g_array_sort (arenas, compare_arenas);
  for (guint i = 1; i < arenas->len; i++)
    if (g_array_index (arenas, PymemdArena, i).start < g_array_index (arenas, PymemdArena, i - 1).end)
      {
        not_a_table (error, _("two arenas overlap"));
        return NULL;
      }
  return g_steal_pointer (&arenas);
}

GArray *
pymemd_arenas_read (const PymemdElfInfo  *image,
                    guint                 python_version,
                    guint64               bias,
                    PymemdArenasReadFunc  read,
                    gpointer              user_data,
                    GError              **error)
{
  guint64 arena_size = pymemd_pymalloc_arena_size (python_version);
  TableRoot root;
  GArray *arenas;

  if (!locate_table (image, python_version, bias, read, user_data, &root, error))
    return NULL;
  /* The interpreter runs on while we read: a table grown (moved) between
   * reading its address and its entries reads as garbage or faults. One
   * more try sees the new one; the checks keep garbage out either way. */
  for (int attempt = 0; attempt < 2; attempt++)
    {
      g_autoptr(GError) local_error = NULL;

      arenas = read_table (&root, arena_size, read, user_data, &local_error);
      if (arenas != NULL)
        return arenas;
      if (attempt == 1 || g_error_matches (local_error, PYMEMD_ERROR, PYMEMD_ERROR_GONE) ||
          g_error_matches (local_error, PYMEMD_ERROR, PYMEMD_ERROR_ACCESS_DENIED))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          break;
        }
    }
  return NULL;
}

static gboolean
read_mem (gpointer user_data, guint64 address, void *buf, gsize len, GError **error)
{
  int mem_fd = GPOINTER_TO_INT (user_data);
  gssize n;

  do
    n = pread (mem_fd, buf, len, (off_t) address);
  while (n < 0 && errno == EINTR);
  if (n == (gssize) len)
    return TRUE;
  /* A short read or EIO: the address is not mapped (or not readable). */
  if (n >= 0 || errno == EIO || errno == EFAULT)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE,
                   _("Address %#llx of the process is not mapped"), (unsigned long long) address);
      return FALSE;
    }
  {
    int errsv = errno;
    g_set_error (error, PYMEMD_ERROR, pymemd_error_from_errno (errsv),
                 _("Cannot read the process's memory: %s"), g_strerror (errsv));
  }
  return FALSE;
}

GArray *
pymemd_arenas_read_mem (int                  mem_fd,
                        const PymemdElfInfo *image,
                        guint                python_version,
                        guint64              bias,
                        GError             **error)
{
  return pymemd_arenas_read (image, python_version, bias, read_mem, GINT_TO_POINTER (mem_fd),
                             error);
}

gboolean
pymemd_arenas_image_bias (GArray              *mappings,
                          const char          *image_path,
                          const PymemdElfInfo *image,
                          guint64             *bias)
{
  if (image_path == NULL)
    return FALSE;
  for (guint i = 0; i < mappings->len; i++)
    {
      const PymemdMapping *m = &g_array_index (mappings, PymemdMapping, i);

      if (m->offset != 0 || m->path == NULL)
        continue;
      if (pymemd_mapping_paths_equal (m->path, image_path))
        {
          *bias = m->start - image->load_vaddr;
          return TRUE;
        }
    }
  return FALSE;
}

guint64
pymemd_arenas_overlap (GArray *arenas, guint64 start, guint64 end)
{
  guint64 total = 0;

  for (guint i = 0; i < arenas->len; i++)
    {
      const PymemdArena *a = &g_array_index (arenas, PymemdArena, i);

      if (a->start >= end)
        break;
      if (a->end > start)
        total += MIN (a->end, end) - MAX (a->start, start);
    }
  return total;
}

static gboolean
count_range (int pagemap_fd, gsize page_size, guint64 start, guint64 end, guint64 *present,
             guint64 *swapped, GError **error)
{
  guint64 entries[PAGEMAP_CHUNK];

  for (guint64 page = start / page_size; page < end / page_size; )
    {
      gsize want = (gsize) MIN ((guint64) PAGEMAP_CHUNK, end / page_size - page);
      gssize n = pread (pagemap_fd, entries, want * sizeof (guint64),
                        (off_t) (page * sizeof (guint64)));

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          int errsv = n < 0 ? errno : EIO;
          g_set_error (error, PYMEMD_ERROR, pymemd_error_from_errno (errsv), "pagemap: %s",
                       g_strerror (errsv));
          return FALSE;
        }
      for (gsize i = 0; i < (gsize) n / sizeof (guint64); i++)
        {
          if (entries[i] & PM_PRESENT)
            (*present)++;
          else if (entries[i] & PM_SWAPPED)
            (*swapped)++;
        }
      page += (gsize) n / sizeof (guint64);
    }
  return TRUE;
}

gboolean
pymemd_arenas_count_pages (GArray   *arenas,
                           int       pagemap_fd,
                           gsize     page_size,
                           guint64   start,
                           guint64   end,
                           guint64  *present,
                           guint64  *swapped,
                           GError  **error)
{
  *present = *swapped = 0;
  for (guint i = 0; i < arenas->len; i++)
    {
      const PymemdArena *a = &g_array_index (arenas, PymemdArena, i);

      if (a->start >= end)
        break;
      if (a->end > start &&
          !count_range (pagemap_fd, page_size, MAX (a->start, start), MIN (a->end, end), present,
                        swapped, error))
        return FALSE;
    }
  return TRUE;
}

static guint64
share_of (guint64 value, guint64 part, guint64 whole)
{
  return whole == 0 ? 0 : (guint64) ((double) value * ((double) part / (double) whole));
}

void
pymemd_arenas_split_counters (const PymemdCounters *whole,
                              guint64               part_size,
                              guint64               part_resident,
                              guint64               part_swapped,
                              PymemdCounters       *part,
                              PymemdCounters       *rest)
{
  guint64 rss = whole->value[PYMEMD_FIELD_RSS];
  guint64 swap = whole->value[PYMEMD_FIELD_SWAP];

  part_size = MIN (part_size, whole->value[PYMEMD_FIELD_SIZE]);
  part_resident = MIN (part_resident, rss);
  part_swapped = MIN (part_swapped, swap);
  for (guint f = 0; f < PYMEMD_N_FIELDS; f++)
    {
      guint64 value = whole->value[f];

      switch (f)
        {
        case PYMEMD_FIELD_SIZE:
          part->value[f] = part_size;
          break;
        case PYMEMD_FIELD_RSS:
          part->value[f] = part_resident;
          break;
        case PYMEMD_FIELD_SWAP:
          part->value[f] = part_swapped;
          break;
        case PYMEMD_FIELD_SWAP_PSS:
          part->value[f] = share_of (value, part_swapped, swap);
          break;
        default:
          part->value[f] = share_of (value, part_resident, rss);
          break;
        }
      part->value[f] = MIN (part->value[f], value);
      rest->value[f] = value - part->value[f];
    }
  part->present = rest->present = whole->present;
}
