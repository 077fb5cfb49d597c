/* Tests reading pymalloc's arena table: on synthetic memory images of each layout, and on real interpreters whose arenas the scanner must count exactly. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "pymemd-arenas.h"
#include "pymemd-error.h"
#include "pymemd-scanner.h"
#include "testutil.h"

#define KIB G_GUINT64_CONSTANT (1024)
#define MIB (KIB * 1024)

/* ---- a synthetic memory image: blocks of bytes at addresses ---- */

typedef struct {
  guint64 address;
  GBytes *bytes;
} Block;

typedef struct {
  GArray *blocks;
  guint   reads;
} Image;

static void
image_init (Image *image)
{
  image->blocks = g_array_new (FALSE, FALSE, sizeof (Block));
  image->reads = 0;
}

static void
image_clear (Image *image)
{
  for (guint i = 0; i < image->blocks->len; i++)
    g_bytes_unref (g_array_index (image->blocks, Block, i).bytes);
  g_array_unref (image->blocks);
}

static void
image_put (Image *image, guint64 address, const void *data, gsize len)
{
  Block block = { address, g_bytes_new (data, len) };
  g_array_append_val (image->blocks, block);
}

static void
image_put_u64 (Image *image, guint64 address, guint64 value)
{
  image_put (image, address, &value, sizeof value);
}

static void
image_put_u32 (Image *image, guint64 address, guint32 value)
{
  image_put (image, address, &value, sizeof value);
}

/* Reads from the last block put that holds the whole range. */
static gboolean
image_read (gpointer user_data, guint64 address, void *buf, gsize len, GError **error)
{
  Image *image = user_data;

  image->reads++;
  for (guint i = image->blocks->len; i > 0; i--)
    {
      const Block *block = &g_array_index (image->blocks, Block, i - 1);
      gsize size;
      const guint8 *data = g_bytes_get_data (block->bytes, &size);

      if (address >= block->address && address + len <= block->address + size)
        {
          memcpy (buf, data + (address - block->address), len);
          return TRUE;
        }
    }
  g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE, "unmapped %#llx", (unsigned long long) address);
  return FALSE;
}

/* One struct arena_object. */
static void
put_arena_object (guint8 *table, guint index, guint64 address, guint64 pool_address,
                  guint32 nfreepools, guint32 ntotalpools)
{
  guint8 *entry = table + index * 48;

  memset (entry, 0, 48);
  memcpy (entry, &address, 8);
  memcpy (entry + 8, &pool_address, 8);
  memcpy (entry + 16, &nfreepools, 4);
  memcpy (entry + 20, &ntotalpools, 4);
}

#define TABLE_AT 0x5000000

/* A 16-entry table at TABLE_AT with arenas of ARENA_SIZE at ADDRESSES
 * (0-terminated), out of address order. */
static void
put_table (Image *image, guint64 arena_size, const guint64 *addresses)
{
  guint8 table[16 * 48] = { 0 };

  for (guint i = 0; addresses[i] != 0; i++)
    put_arena_object (table, 15 - i, addresses[i], addresses[i] + arena_size / 2, 3, 64);
  image_put (image, TABLE_AT, table, sizeof table);
}

static const guint64 three_arenas[] = { 0x7f0000300000, 0x7f0000100000, 0x7f0000000000, 0 };

static void
assert_three_arenas (GArray *arenas, guint64 arena_size)
{
  g_assert_nonnull (arenas);
  g_assert_cmpuint (arenas->len, ==, 3);
  for (guint i = 0; i < 3; i++)
    {
      const PymemdArena *a = &g_array_index (arenas, PymemdArena, i);
      g_assert_cmphex (a->start, ==, three_arenas[2 - i]);
      g_assert_cmphex (a->end, ==, three_arenas[2 - i] + arena_size);
    }
}

/* 2.7-3.11: obmalloc.c's statics, found by .symtab, relocated by the bias. */
static void
test_statics (void)
{
  const guint64 bias = 0x555500000000;
  PymemdElfInfo info = { .is_interpreter = TRUE, .arenas = 0x1000, .maxarenas = 0x1008,
                         .narenas = 0x1010 };
  static const guint versions[] = { 207, 306, 309, 310, 311 };

  for (guint v = 0; v < G_N_ELEMENTS (versions); v++)
    {
      guint64 arena_size = versions[v] >= 310 ? MIB : 256 * KIB;
      g_autoptr(GError) error = NULL;
      g_autoptr(GArray) arenas = NULL;
      Image image;

      image_init (&image);
      image_put_u64 (&image, bias + 0x1000, TABLE_AT);
      image_put_u32 (&image, bias + 0x1008, 16);
      image_put_u64 (&image, bias + 0x1010, 3);
      put_table (&image, arena_size, three_arenas);
      arenas = pymemd_arenas_read (&info, versions[v], bias, image_read, &image, &error);
      g_assert_no_error (error);
      assert_three_arenas (arenas, arena_size);
      image_clear (&image);
    }
}

/* 3.12: the main interpreter's obmalloc state inside _PyRuntime. */
static void
test_runtime_312 (void)
{
  PymemdElfInfo info = { .is_interpreter = TRUE, .runtime = 0xa00000 };
  guint64 mgmt = 0xa00000 + 0x12a68 + 0xf78 + 0x200;
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) arenas = NULL;
  Image image;

  image_init (&image);
  image_put_u64 (&image, mgmt, TABLE_AT);
  image_put_u32 (&image, mgmt + 8, 16);
  image_put_u64 (&image, mgmt + 552, 3);
  put_table (&image, MIB, three_arenas);
  arenas = pymemd_arenas_read (&info, 312, 0, image_read, &image, &error);
  g_assert_no_error (error);
  assert_three_arenas (arenas, MIB);
  image_clear (&image);
}

/* 3.13 and 3.14: a pointer to the state, behind _Py_DebugOffsets that
 * must describe the layout pymemd knows. */
static void
put_debug_offsets (Image *image, guint64 runtime, guint64 version_hex, guint64 free_threaded,
                   guint64 interpreter_size)
{
  guint64 head[7] = { 0, version_hex, free_threaded, 0x4d4c8, 0, 0x328, interpreter_size };

  memcpy (&head[0], "xdebugpy", 8);
  image_put (image, runtime, head, sizeof head);
}

static void
test_runtime_pointer (void)
{
  static const struct {
    guint   version;
    guint64 hex;
    guint64 main_interpreter, obmalloc, interpreter_size;
  } cases[] = {
    { 313, 0x030d00f0, 0x15920, 0x2a30, 0x2f998 },
    { 314, 0x030e00f0, 0x16280, 0x2a98, 0x37248 },
  };

  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      const guint64 runtime = 0xba07c0, state = 0xbf2d80;
      PymemdElfInfo info = { .is_interpreter = TRUE, .runtime = runtime };

      for (guint variant = 0; variant < 3; variant++)
        {
          g_autoptr(GError) error = NULL;
          g_autoptr(GArray) arenas = NULL;
          Image image;

          image_init (&image);
          /* 0: the default build; 1: free-threaded; 2: another layout. */
          put_debug_offsets (&image, runtime, cases[c].hex, variant == 1,
                             cases[c].interpreter_size + (variant == 2 ? 8 : 0));
          image_put_u64 (&image, runtime + cases[c].main_interpreter + cases[c].obmalloc, state);
          image_put_u64 (&image, state + 0x200, TABLE_AT);
          image_put_u32 (&image, state + 0x208, 16);
          image_put_u64 (&image, state + 0x200 + 552, 3);
          put_table (&image, MIB, three_arenas);
          arenas = pymemd_arenas_read (&info, cases[c].version, 0, image_read, &image, &error);
          if (variant == 0)
            {
              g_assert_no_error (error);
              assert_three_arenas (arenas, MIB);
            }
          else
            {
              g_assert_null (arenas);
              g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED);
            }
          image_clear (&image);
        }
    }
}

/* No symbols, no known layout, no version: unknown, said why. */
static void
test_unknown_layout (void)
{
  PymemdElfInfo stripped = { .is_interpreter = TRUE, .runtime = 0x1000 };
  static const guint versions[] = { 0, 311, 315 };
  Image image;

  image_init (&image);
  for (guint i = 0; i < G_N_ELEMENTS (versions); i++)
    {
      g_autoptr(GError) error = NULL;
      GArray *arenas = pymemd_arenas_read (&stripped, versions[i], 0, image_read, &image, &error);

      g_assert_null (arenas);
      g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED);
      g_test_message ("%u: %s", versions[i], error->message);
    }
  g_assert_cmpuint (image.reads, ==, 0);
  image_clear (&image);
}

/* What is read must have a real table's shape; otherwise nothing is
 * believed (and the read is tried once more, then given up). */
static void
test_not_a_table (void)
{
  PymemdElfInfo info = { .is_interpreter = TRUE, .arenas = 0x1000, .maxarenas = 0x1008,
                         .narenas = 0x1010 };
  enum { MISALIGNED, POOL_OUTSIDE, POOL_COUNTS, OVERLAP, COUNT, SIZE, UNMAPPED, N_CASES };

  for (guint c = 0; c < N_CASES; c++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GArray) arenas = NULL;
      guint8 table[16 * 48] = { 0 };
      Image image;

      image_init (&image);
      image_put_u64 (&image, 0x1000, TABLE_AT);
      image_put_u32 (&image, 0x1008, c == SIZE ? 24 : 16);
      image_put_u64 (&image, 0x1010, c == COUNT ? 3 : 2);
      put_arena_object (table, 0, 0x7f0000000000 + (c == MISALIGNED ? 8 : 0), 0x7f0000010000,
                        1, c == POOL_COUNTS ? 1000 : 64);
      put_arena_object (table, 1, c == OVERLAP ? 0x7f0000080000 : 0x7f0000100000,
                        c == POOL_OUTSIDE ? 0x7f0000300000 : 0x7f0000110000, 2, 64);
      if (c != UNMAPPED)
        image_put (&image, TABLE_AT, table, sizeof table);
      arenas = pymemd_arenas_read (&info, 311, 0, image_read, &image, &error);
      g_test_message ("case %u: %s", c, error != NULL ? error->message : "read");
      g_assert_null (arenas);
      g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE);
      /* pointer, size and count, and the table (when it got that far), twice */
      g_assert_cmpuint (image.reads, >=, 6);
      image_clear (&image);
    }
}

/* An interpreter that has not allocated an arena yet has an empty table. */
static void
test_empty (void)
{
  PymemdElfInfo info = { .is_interpreter = TRUE, .arenas = 0x1000, .maxarenas = 0x1008 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) arenas = NULL;
  Image image;

  image_init (&image);
  image_put_u64 (&image, 0x1000, 0);
  image_put_u32 (&image, 0x1008, 0);
  arenas = pymemd_arenas_read (&info, 308, 0, image_read, &image, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (arenas->len, ==, 0);
  image_clear (&image);
}

static void
test_overlap (void)
{
  g_autoptr(GArray) arenas = g_array_new (FALSE, FALSE, sizeof (PymemdArena));
  PymemdArena a = { 0x100000, 0x200000 }, b = { 0x300000, 0x400000 };

  g_array_append_val (arenas, a);
  g_array_append_val (arenas, b);
  g_assert_cmpuint (pymemd_arenas_overlap (arenas, 0x100000, 0x200000), ==, MIB);
  g_assert_cmpuint (pymemd_arenas_overlap (arenas, 0, 0x100000), ==, 0);
  g_assert_cmpuint (pymemd_arenas_overlap (arenas, 0x180000, 0x380000), ==, MIB);
  g_assert_cmpuint (pymemd_arenas_overlap (arenas, 0, 0x1000000), ==, 2 * MIB);
}

/* The arena part of a merged mapping gets exactly its resident and
 * swapped bytes, the rest in proportion; nothing is made or lost. */
static void
test_split_counters (void)
{
  PymemdCounters whole = { { 0 }, 0 }, part, rest;

  whole.value[PYMEMD_FIELD_SIZE] = 66 * MIB;
  whole.value[PYMEMD_FIELD_RSS] = 40 * MIB;
  whole.value[PYMEMD_FIELD_PSS] = 40 * MIB;
  whole.value[PYMEMD_FIELD_PRIVATE_DIRTY] = 36 * MIB;
  whole.value[PYMEMD_FIELD_SHARED_DIRTY] = 4 * MIB;
  whole.value[PYMEMD_FIELD_SWAP] = 8 * MIB;
  whole.value[PYMEMD_FIELD_SWAP_PSS] = 8 * MIB;
  whole.present = (1u << PYMEMD_N_FIELDS) - 1;

  pymemd_arenas_split_counters (&whole, 2 * MIB, 10 * MIB, 2 * MIB, &part, &rest);
  g_assert_cmpuint (part.value[PYMEMD_FIELD_SIZE], ==, 2 * MIB);
  g_assert_cmpuint (part.value[PYMEMD_FIELD_RSS], ==, 10 * MIB);
  g_assert_cmpuint (part.value[PYMEMD_FIELD_SWAP], ==, 2 * MIB);
  g_assert_cmpuint (part.value[PYMEMD_FIELD_PRIVATE_DIRTY], ==, 9 * MIB);
  g_assert_cmpuint (part.value[PYMEMD_FIELD_SHARED_DIRTY], ==, MIB);
  g_assert_cmpuint (part.value[PYMEMD_FIELD_SWAP_PSS], ==, 2 * MIB);
  for (guint f = 0; f < PYMEMD_N_FIELDS; f++)
    g_assert_cmpuint (part.value[f] + rest.value[f], ==, whole.value[f]);
  g_assert_cmpuint (part.present, ==, whole.present);

  /* pagemap may show more than smaps counts (the zero page): bounded. */
  pymemd_arenas_split_counters (&whole, 99 * MIB, 99 * MIB, 99 * MIB, &part, &rest);
  for (guint f = 0; f < PYMEMD_N_FIELDS; f++)
    {
      g_assert_cmpuint (part.value[f], ==, whole.value[f]);
      g_assert_cmpuint (rest.value[f], ==, 0);
    }
}

/* ---- real interpreters ---- */

/* Builds many small objects (arenas), optionally next to a big malloc'd
 * buffer (arenas mapped later land below it and merge with it) or a
 * 64 MiB anonymous mapping, then prints how many arenas the interpreter
 * itself counts (sys._debugmallocstats, which writes to fd 2). */
#define ARENAS_CHILD \
  "import os, sys, mmap\n" \
  "what = sys.argv[1]\n" \
  "if what == 'merged':\n" \
  "    big = bytearray(64 << 20)\n" \
  "    for i in range(0, len(big), 4096): big[i] = 1\n" \
  "if what == 'mmap':\n" \
  "    m = mmap.mmap(-1, 64 << 20, flags=mmap.MAP_PRIVATE)\n" \
  "    for i in range(0, len(m), 4096): m[i:i + 1] = b'x'\n" \
  "objs = [{'a': i} for i in range(100000)]\n" \
  "def arenas():\n" \
  "    r, w = os.pipe()\n" \
  "    saved = os.dup(2)\n" \
  "    os.dup2(w, 2)\n" \
  "    sys._debugmallocstats()\n" \
  "    os.dup2(saved, 2)\n" \
  "    os.close(saved)\n" \
  "    os.close(w)\n" \
  "    text = b''\n" \
  "    while True:\n" \
  "        chunk = os.read(r, 65536)\n" \
  "        if not chunk: break\n" \
  "        text += chunk\n" \
  "    os.close(r)\n" \
  "    n = [l for l in text.decode().splitlines() if l.startswith('# arenas allocated current')]\n" \
  "    return n[0].split('=')[1].strip().replace(',', '')\n" \
  /* Reading the report allocates (its lines): that may take an arena more \
   * after it was counted, so count until the count stands. */ \
  "before, now = None, arenas()\n" \
  "while now != before:\n" \
  "    before, now = now, arenas()\n" \
  "print(now, flush=True)\n" \
  "sys.stdin.read()\n"

static PymemdProcess *
scan_for (PymemdScanner *scanner, GPid pid)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) processes = NULL;

  g_assert_true (pymemd_scanner_scan (scanner, PYMEMD_SCAN_ALL, &error));
  g_assert_no_error (error);
  processes = pymemd_scanner_get_processes (scanner);
  for (guint i = 0; i < processes->len; i++)
    if (pymemd_process_get_pid (g_ptr_array_index (processes, i)) == pid)
      return g_object_ref (g_ptr_array_index (processes, i));
  g_error ("pid %d not scanned", pid);
  return NULL;
}

/* Runs PYTHON (argv, NULL-terminated, then the mode) and checks that the
 * scanner's pymalloc is exactly the arenas the interpreter counts. */
static void
assert_exact_arenas (const char *const *python, const char *mode, guint version)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(PymemdProcfs) procfs = NULL;
  g_autoptr(PymemdScanner) scanner = NULL;
  g_autoptr(PymemdProcess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  const PymemdCategoryUsage *categories;
  guint64 arena_size = version >= 310 ? MIB : 256 * KIB;
  guint counted, arenas;
  PymemdTestChild child;

  for (guint i = 0; python[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) python[i]);
  g_ptr_array_add (argv, (gpointer) "-c");
  g_ptr_array_add (argv, (gpointer) ARENAS_CHILD);
  g_ptr_array_add (argv, (gpointer) mode);
  g_ptr_array_add (argv, NULL);
  g_assert_true (pymemd_test_child_spawn (&child, (const char *const *) argv->pdata, &line, &error));
  g_assert_no_error (error);
  counted = (guint) g_ascii_strtoull (line, NULL, 10);
  g_assert_cmpuint (counted, >, 0);

  procfs = pymemd_procfs_new ("/proc", &error);
  g_assert_no_error (error);
  scanner = pymemd_scanner_new (procfs, &error);
  g_assert_no_error (error);
  process = scan_for (scanner, child.pid);
  g_assert_cmpuint (pymemd_process_get_python_version (process), ==, version);
  if (!pymemd_process_get_pymalloc_exact (process, &arenas))
    g_error ("%s %s: pymalloc guessed: %s", python[0], mode,
             pymemd_process_get_pymalloc_error (process)->message);
  g_assert_cmpuint (arenas, ==, counted);
  categories = pymemd_process_get_categories (process);
  /* Exactly the arenas' span, wherever the kernel put them: not a byte
   * of the 64 MiB mapping, and the arenas merged into the buffer too. */
  g_assert_cmpuint (categories[PYMEMD_CATEGORY_PYMALLOC].counters.value[PYMEMD_FIELD_SIZE], ==,
                    counted * arena_size);
  g_assert_cmpuint (categories[PYMEMD_CATEGORY_PYMALLOC].counters.value[PYMEMD_FIELD_RSS], <=,
                    counted * arena_size);
  g_assert_cmpuint (categories[PYMEMD_CATEGORY_PYMALLOC].counters.value[PYMEMD_FIELD_RSS], >,
                    counted * arena_size / 4);
  if (g_strcmp0 (mode, "idle") != 0)
    g_assert_cmpuint (categories[PYMEMD_CATEGORY_NATIVE_HEAP].counters.value[PYMEMD_FIELD_RSS], >=,
                      64 * MIB);
  pymemd_test_child_stop (&child);
}

static void
test_live_pyenv (gconstpointer data)
{
  const char *series = data;
  g_autofree char *prefix = pymemd_test_pyenv_prefix (series);
  g_autofree char *python = NULL;
  guint version = 300 + (guint) atoi (series + 2);
  static const char *const modes[] = { "idle", "mmap", "merged" };

  if (prefix == NULL)
    {
      g_test_skip_printf ("pyenv has no Python %s", series);
      return;
    }
  python = g_strdup_printf ("%s/bin/python%s", prefix, series);
  for (guint i = 0; i < G_N_ELEMENTS (modes); i++)
    {
      const char *argv[] = { python, NULL };
      g_test_message ("%s %s", python, modes[i]);
      assert_exact_arenas (argv, modes[i], version);
    }
}

/* CPython 3.14 (Debian's, run through its own loader: tools/python3.14,
 * or the command PYMEMD_TEST_PYTHON314 names). */
static void
test_live_314 (void)
{
  const char *why = NULL;
  const char *command = pymemd_test_python314 (&why);
  static const char *const modes[] = { "idle", "mmap", "merged" };

  if (command == NULL)
    {
      g_test_skip (why);
      return;
    }
  for (guint i = 0; i < G_N_ELEMENTS (modes); i++)
    {
      const char *argv[] = { command, NULL };
      assert_exact_arenas (argv, modes[i], 314);
    }
}

/* Debian's python3.11 is stripped: pymalloc is a guess, and says so. A
 * 64 MiB anonymous mapping is whole arenas by shape: the guess takes it,
 * which is why it must be marked as one. */
static void
test_live_guess (void)
{
  const char *argv[] = { "/usr/bin/python3.11", "-c", ARENAS_CHILD, "mmap", NULL };
  g_autoptr(PymemdProcfs) procfs = NULL;
  g_autoptr(PymemdScanner) scanner = NULL;
  g_autoptr(PymemdProcess) process = NULL;
  g_autoptr(GError) error = NULL;
  PymemdTestChild child;
  guint arenas;

  if (!g_file_test (argv[0], G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("no /usr/bin/python3.11");
      return;
    }
  g_assert_true (pymemd_test_child_spawn (&child, argv, NULL, &error));
  procfs = pymemd_procfs_new ("/proc", &error);
  scanner = pymemd_scanner_new (procfs, &error);
  g_assert_no_error (error);
  process = scan_for (scanner, child.pid);
  g_assert_false (pymemd_process_get_pymalloc_exact (process, &arenas));
  g_assert_cmpuint (arenas, ==, 0);
  g_assert_nonnull (pymemd_process_get_pymalloc_error (process));
  g_assert_cmpuint (pymemd_process_get_categories (process)[PYMEMD_CATEGORY_PYMALLOC]
                      .counters.value[PYMEMD_FIELD_SIZE], >=, 64 * MIB);
  pymemd_test_child_stop (&child);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/arenas/statics", test_statics);
  g_test_add_func ("/arenas/runtime-3.12", test_runtime_312);
  g_test_add_func ("/arenas/runtime-pointer", test_runtime_pointer);
  g_test_add_func ("/arenas/unknown-layout", test_unknown_layout);
  g_test_add_func ("/arenas/not-a-table", test_not_a_table);
  g_test_add_func ("/arenas/empty", test_empty);
  g_test_add_func ("/arenas/overlap", test_overlap);
  g_test_add_func ("/arenas/split-counters", test_split_counters);
  g_test_add_data_func ("/arenas/live/3.8", "3.8", test_live_pyenv);
  g_test_add_data_func ("/arenas/live/3.9", "3.9", test_live_pyenv);
  g_test_add_data_func ("/arenas/live/3.10", "3.10", test_live_pyenv);
  g_test_add_data_func ("/arenas/live/3.11", "3.11", test_live_pyenv);
  g_test_add_data_func ("/arenas/live/3.12", "3.12", test_live_pyenv);
  g_test_add_data_func ("/arenas/live/3.13", "3.13", test_live_pyenv);
  g_test_add_func ("/arenas/live/3.14", test_live_314);
  g_test_add_func ("/arenas/live/guess", test_live_guess);
  return g_test_run ();
}
