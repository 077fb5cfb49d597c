/* Tests the mapping classifier on the captured fixtures' smaps and on hand-built mappings, category by category. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "pymemd-arenas.h"
#include "pymemd-classify.h"
#include "pymemd-smaps.h"
#include "testutil.h"

#define KIB G_GUINT64_CONSTANT (1024)
#define MIB (KIB * 1024)

/* What a scan of each fixture pid would pass: its exe link (see the
 * fixtures' READMEs) and the version read from it (python3.11 -> 311). */
static const PymemdClassifyContext python311 = { "/usr/bin/python3.11", TRUE, 311 };
static const PymemdClassifyContext mapper = { "/tmp/mapper", FALSE, 0 };

static GArray *
load_classified (const char *dir, const PymemdClassifyContext *context)
{
  g_autofree char *rel = g_build_filename (dir, "smaps", NULL);
  g_autofree char *path = pymemd_test_data_path (rel);
  g_autoptr(GArray) mappings = pymemd_mapping_array_new ();
  g_autoptr(GError) error = NULL;
  int fd = open (path, O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    g_error ("open %s: %s", path, g_strerror (errno));
  g_assert_true (pymemd_smaps_parse_fd (fd, "smaps", 0, FALSE, mappings, &error));
  g_assert_no_error (error);
  close (fd);
  /* Poison the field so that a mapping the classifier skips shows. */
  for (guint i = 0; i < mappings->len; i++)
    g_array_index (mappings, PymemdMapping, i).category = -1;
  pymemd_classify_mappings (mappings, context);
  return g_steal_pointer (&mappings);
}

static const PymemdMapping *
find_mapping (GArray *mappings, guint64 start)
{
  for (guint i = 0; i < mappings->len; i++)
    {
      const PymemdMapping *m = &g_array_index (mappings, PymemdMapping, i);
      if (m->start == start)
        return m;
    }
  g_error ("no mapping starts at 0x%" G_GINT64_MODIFIER "x", start);
  return NULL;
}

/* Asserts the mapping at START spans to END with PERMS and PATH (NULL:
 * anonymous), then that it is in CATEGORY. */
static void
assert_mapping (GArray         *mappings,
                guint64         start,
                guint64         end,
                const char     *perms,
                const char     *path,
                PymemdCategory  category)
{
  const PymemdMapping *m = find_mapping (mappings, start);

  g_assert_cmphex (m->end, ==, end);
  g_assert_cmpstr (m->perms, ==, perms);
  g_assert_cmpstr (m->path, ==, path);
  if (m->category != (int) category)
    g_test_message ("0x%" G_GINT64_MODIFIER "x: %s, expected %s", start,
                    m->category >= 0 && m->category < PYMEMD_N_CATEGORIES
                      ? pymemd_category_name (m->category) : "(unset)",
                    pymemd_category_name (category));
  g_assert_cmpint (m->category, ==, category);
}

/* Asserts every mapping of PATH is in CATEGORY, and returns how many there are. */
static guint
assert_path_category (GArray *mappings, const char *path, PymemdCategory category)
{
  guint n = 0;

  for (guint i = 0; i < mappings->len; i++)
    {
      const PymemdMapping *m = &g_array_index (mappings, PymemdMapping, i);
      if (g_strcmp0 (m->path, path) != 0)
        continue;
      g_assert_cmpint (m->category, ==, category);
      n++;
    }
  return n;
}

/* --- fixtures --- */

static void
test_fixture_1002 (void)
{
  g_autoptr(GArray) mappings = load_classified ("proc-mixed/1002", &python311);

  /* Addresses, perms and paths below are lines of proc-mixed/1002/maps. */

  /* pymalloc: anonymous rw-p, a whole number of 1 MiB arenas, no guard below. */
  assert_mapping (mappings, 0x7f2cc2b00000, 0x7f2cc2c00000, "rw-p", NULL, PYMEMD_CATEGORY_PYMALLOC); /* 1 MiB */
  assert_mapping (mappings, 0x7f2cae1ec000, 0x7f2cae4ec000, "rw-p", NULL, PYMEMD_CATEGORY_PYMALLOC); /* 3 MiB */
  assert_mapping (mappings, 0x7f2caee14000, 0x7f2caf314000, "rw-p", NULL, PYMEMD_CATEGORY_PYMALLOC); /* 5 MiB */

  /* native-heap: [heap], the bytearray's 70660 kB block (not whole MiB) ... */
  assert_mapping (mappings, 0x16740000, 0x168c4000, "rw-p", "[heap]", PYMEMD_CATEGORY_NATIVE_HEAP);
  assert_mapping (mappings, 0x7f2cafaff000, 0x7f2cb4000000, "rw-p", NULL, PYMEMD_CATEGORY_NATIVE_HEAP);
  assert_mapping (mappings, 0xa85000, 0xaca000, "rw-p", NULL, PYMEMD_CATEGORY_NATIVE_HEAP); /* 276 kB */
  /* ... and glibc's three per-thread arenas: a rw-p head at a 64 MiB
   * boundary and its ---p tail up to the next one. */
  assert_mapping (mappings, 0x7f2cb4000000, 0x7f2cb4021000, "rw-p", NULL, PYMEMD_CATEGORY_NATIVE_HEAP);
  assert_mapping (mappings, 0x7f2cb4021000, 0x7f2cb8000000, "---p", NULL, PYMEMD_CATEGORY_NATIVE_HEAP);
  assert_mapping (mappings, 0x7f2cb8000000, 0x7f2cb8021000, "rw-p", NULL, PYMEMD_CATEGORY_NATIVE_HEAP);
  assert_mapping (mappings, 0x7f2cb8021000, 0x7f2cbc000000, "---p", NULL, PYMEMD_CATEGORY_NATIVE_HEAP);
  assert_mapping (mappings, 0x7f2cbc000000, 0x7f2cbc021000, "rw-p", NULL, PYMEMD_CATEGORY_NATIVE_HEAP);
  assert_mapping (mappings, 0x7f2cbc021000, 0x7f2cc0000000, "---p", NULL, PYMEMD_CATEGORY_NATIVE_HEAP);

  /* stack: [stack], and the 3 threads' 4 kB guards with the 8 MiB stacks above them. */
  assert_mapping (mappings, 0x7ffc09296000, 0x7ffc092b7000, "rw-p", "[stack]", PYMEMD_CATEGORY_STACK);
  assert_mapping (mappings, 0x7f2cc12fd000, 0x7f2cc12fe000, "---p", NULL, PYMEMD_CATEGORY_STACK);
  assert_mapping (mappings, 0x7f2cc12fe000, 0x7f2cc1afe000, "rw-p", NULL, PYMEMD_CATEGORY_STACK);
  assert_mapping (mappings, 0x7f2cc1afe000, 0x7f2cc1aff000, "---p", NULL, PYMEMD_CATEGORY_STACK);
  assert_mapping (mappings, 0x7f2cc1aff000, 0x7f2cc22ff000, "rw-p", NULL, PYMEMD_CATEGORY_STACK);
  assert_mapping (mappings, 0x7f2cc22ff000, 0x7f2cc2300000, "---p", NULL, PYMEMD_CATEGORY_STACK);
  assert_mapping (mappings, 0x7f2cc2300000, 0x7f2cc2b00000, "rw-p", NULL, PYMEMD_CATEGORY_STACK);
  /* The 12 MiB block right below the first guard is not a stack: pymalloc shape. */
  assert_mapping (mappings, 0x7f2cc06fd000, 0x7f2cc12fd000, "rw-p", NULL, PYMEMD_CATEGORY_PYMALLOC);

  /* interpreter: all 5 mappings of the executable. */
  g_assert_cmpuint (assert_path_category (mappings, "/usr/bin/python3.11", PYMEMD_CATEGORY_INTERPRETER), ==, 5);
  assert_mapping (mappings, 0x41f000, 0x6d2000, "r-xp", "/usr/bin/python3.11", PYMEMD_CATEGORY_INTERPRETER);

  /* extensions: lib-dynload modules. */
  g_assert_cmpuint (assert_path_category (mappings,
                                          "/usr/lib/python3.11/lib-dynload/mmap.cpython-311-x86_64-linux-gnu.so",
                                          PYMEMD_CATEGORY_EXTENSIONS), ==, 5);
  g_assert_cmpuint (assert_path_category (mappings,
                                          "/usr/lib/python3.11/lib-dynload/_hashlib.cpython-311-x86_64-linux-gnu.so",
                                          PYMEMD_CATEGORY_EXTENSIONS), ==, 5);

  /* libraries: libc, libcrypto (loaded by _hashlib), ld.so, versioned libz. */
  g_assert_cmpuint (assert_path_category (mappings, "/usr/lib/x86_64-linux-gnu/libc.so.6",
                                          PYMEMD_CATEGORY_LIBRARIES), ==, 5);
  g_assert_cmpuint (assert_path_category (mappings, "/usr/lib/x86_64-linux-gnu/libcrypto.so.3",
                                          PYMEMD_CATEGORY_LIBRARIES), ==, 5);
  g_assert_cmpuint (assert_path_category (mappings, "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
                                          PYMEMD_CATEGORY_LIBRARIES), ==, 5);
  g_assert_cmpuint (assert_path_category (mappings, "/usr/lib/x86_64-linux-gnu/libz.so.1.2.13",
                                          PYMEMD_CATEGORY_LIBRARIES), ==, 5);

  /* files: the mmapped data file, the locale archive, the gconv cache. */
  assert_mapping (mappings, 0x7f2cadfec000, 0x7f2cae0ec000, "r--s", "/tmp/pymemd-data-1mib.bin",
                  PYMEMD_CATEGORY_FILES);
  assert_mapping (mappings, 0x7f2cc3518000, 0x7f2cc356f000, "r--p", "/usr/lib/locale/C.utf8/LC_CTYPE",
                  PYMEMD_CATEGORY_FILES);
  assert_mapping (mappings, 0x7f2cc3881000, 0x7f2cc3888000, "r--s",
                  "/usr/lib/x86_64-linux-gnu/gconv/gconv-modules.cache", PYMEMD_CATEGORY_FILES);

  /* shmem: the POSIX shm segment. */
  assert_mapping (mappings, 0x7f2cae0ec000, 0x7f2cae1ec000, "rw-s", "/dev/shm/pymemd_fixture_shm",
                  PYMEMD_CATEGORY_SHMEM);

  /* other: the kernel's pseudo-mappings. */
  assert_mapping (mappings, 0x7f2cc388a000, 0x7f2cc388e000, "r--p", "[vvar]", PYMEMD_CATEGORY_OTHER);
  assert_mapping (mappings, 0x7f2cc388e000, 0x7f2cc3890000, "r--p", "[vvar_vclock]", PYMEMD_CATEGORY_OTHER);
  assert_mapping (mappings, 0x7f2cc3890000, 0x7f2cc3892000, "r-xp", "[vdso]", PYMEMD_CATEGORY_OTHER);
  assert_mapping (mappings, 0xffffffffff600000, 0xffffffffff601000, "--xp", "[vsyscall]",
                  PYMEMD_CATEGORY_OTHER);
}

static void
test_fixture_1001 (void)
{
  g_autoptr(GArray) mappings = load_classified ("proc-mixed/1001", &python311);

  /* An idle single-threaded interpreter (proc-mixed/1001/maps). */
  g_assert_cmpuint (assert_path_category (mappings, "/usr/bin/python3.11", PYMEMD_CATEGORY_INTERPRETER), ==, 5);
  assert_mapping (mappings, 0x30d7d000, 0x30e3e000, "rw-p", "[heap]", PYMEMD_CATEGORY_NATIVE_HEAP);
  assert_mapping (mappings, 0x7fffddf34000, 0x7fffddf55000, "rw-p", "[stack]", PYMEMD_CATEGORY_STACK);
  /* 2440 kB: not a whole number of 1 MiB arenas */
  assert_mapping (mappings, 0x7fa31f417000, 0x7fa31f679000, "rw-p", NULL, PYMEMD_CATEGORY_NATIVE_HEAP);
  assert_mapping (mappings, 0x7fa31f9f1000, 0x7fa31f9f3000, "r-xp", "[vdso]", PYMEMD_CATEGORY_OTHER);
  g_assert_cmpuint (assert_path_category (mappings, "/usr/lib/x86_64-linux-gnu/libc.so.6",
                                          PYMEMD_CATEGORY_LIBRARIES), ==, 5);
  /* No threads, no guard pages, nothing without a category. */
  for (guint i = 0; i < mappings->len; i++)
    {
      const PymemdMapping *m = &g_array_index (mappings, PymemdMapping, i);
      g_assert_cmpint (m->category, >=, 0);
      g_assert_cmpint (m->category, <, PYMEMD_N_CATEGORIES);
      g_assert_cmpstr (m->perms, !=, "---p");
    }
}

static void
test_fixture_1003 (void)
{
  g_autoptr(GArray) mappings = load_classified ("proc-mixed/1003", &mapper);

  /* A non-Python executable is code like any library, never the interpreter. */
  g_assert_cmpuint (assert_path_category (mappings, "/tmp/mapper", PYMEMD_CATEGORY_LIBRARIES), ==, 5);
  /* The Python-named file it maps is just a file. */
  assert_mapping (mappings, 0x7faec2aa6000, 0x7faec2aa7000, "r--p", "/tmp/python-notes.txt",
                  PYMEMD_CATEGORY_FILES);
  g_assert_cmpuint (assert_path_category (mappings, "/usr/lib/x86_64-linux-gnu/libc.so.6",
                                          PYMEMD_CATEGORY_LIBRARIES), ==, 5);
  assert_mapping (mappings, 0x7faec28b7000, 0x7faec28ba000, "rw-p", NULL, PYMEMD_CATEGORY_NATIVE_HEAP);
  assert_mapping (mappings, 0x7ffe4ae2c000, 0x7ffe4ae4d000, "rw-p", "[stack]", PYMEMD_CATEGORY_STACK);
  assert_mapping (mappings, 0x7faec2aa9000, 0x7faec2aad000, "r--p", "[vvar]", PYMEMD_CATEGORY_OTHER);

  for (guint i = 0; i < mappings->len; i++)
    {
      const PymemdMapping *m = &g_array_index (mappings, PymemdMapping, i);
      g_assert_cmpint (m->category, !=, PYMEMD_CATEGORY_INTERPRETER);
      g_assert_cmpint (m->category, !=, PYMEMD_CATEGORY_EXTENSIONS);
      g_assert_cmpint (m->category, !=, PYMEMD_CATEGORY_PYMALLOC);
    }
}

static void
test_fixture_gtk (void)
{
  g_autoptr(GArray) mappings = load_classified ("proc-gtk/2001", &python311);

  /* Addresses, perms and paths below are lines of proc-gtk/2001/maps. */
  g_assert_cmpuint (assert_path_category (mappings,
                                          "/usr/lib/python3/dist-packages/gi/_gi.cpython-311-x86_64-linux-gnu.so",
                                          PYMEMD_CATEGORY_EXTENSIONS), ==, 5);
  g_assert_cmpuint (assert_path_category (mappings, "/usr/lib/x86_64-linux-gnu/libgtk-3.so.0.2406.32",
                                          PYMEMD_CATEGORY_LIBRARIES), ==, 5);
  g_assert_cmpuint (assert_path_category (mappings, "/usr/lib/x86_64-linux-gnu/libfontconfig.so.1.12.0",
                                          PYMEMD_CATEGORY_LIBRARIES), ==, 5);
  /* a font and two fontconfig caches */
  g_assert_cmpuint (assert_path_category (mappings, "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                                          PYMEMD_CATEGORY_FILES), ==, 2);
  assert_mapping (mappings, 0x7fd506cc9000, 0x7fd506cd6000, "r--s",
                  "/var/cache/fontconfig/d589a48862398ed80a3d6066f4f56f4c-le64.cache-8", PYMEMD_CATEGORY_FILES);
  assert_mapping (mappings, 0x7fd508c02000, 0x7fd508c07000, "r--s",
                  "/var/cache/fontconfig/c57959a16110560c8d0fcea73374aeeb-le64.cache-8", PYMEMD_CATEGORY_FILES);
  /* the MIT-SHM segment */
  assert_mapping (mappings, 0x7fd4ffa39000, 0x7fd4ffab9000, "rw-s", "/SYSV00000000 (deleted)",
                  PYMEMD_CATEGORY_SHMEM);
  /* two glibc arenas */
  assert_mapping (mappings, 0x7fd4ec000000, 0x7fd4ec021000, "rw-p", NULL, PYMEMD_CATEGORY_NATIVE_HEAP);
  assert_mapping (mappings, 0x7fd4ec021000, 0x7fd4f0000000, "---p", NULL, PYMEMD_CATEGORY_NATIVE_HEAP);
  assert_mapping (mappings, 0x7fd4f4000000, 0x7fd4f405e000, "rw-p", NULL, PYMEMD_CATEGORY_NATIVE_HEAP);
  assert_mapping (mappings, 0x7fd4f405e000, 0x7fd4f8000000, "---p", NULL, PYMEMD_CATEGORY_NATIVE_HEAP);
  /* two thread stacks (GLib's worker threads) with their guards */
  assert_mapping (mappings, 0x7fd4fa5fe000, 0x7fd4fa5ff000, "---p", NULL, PYMEMD_CATEGORY_STACK);
  assert_mapping (mappings, 0x7fd4fa5ff000, 0x7fd4fadff000, "rw-p", NULL, PYMEMD_CATEGORY_STACK);
  assert_mapping (mappings, 0x7fd4fadff000, 0x7fd4fae00000, "---p", NULL, PYMEMD_CATEGORY_STACK);
  assert_mapping (mappings, 0x7fd4fae00000, 0x7fd4fb600000, "rw-p", NULL, PYMEMD_CATEGORY_STACK);
  /* a library's ---p alignment gap is the library's, not a guard page */
  assert_mapping (mappings, 0x7fd50637c000, 0x7fd50637d000, "---p", "/usr/lib/x86_64-linux-gnu/libLLVM-15.so.1",
                  PYMEMD_CATEGORY_LIBRARIES);
  assert_mapping (mappings, 0x3bdb9000, 0x3c425000, "rw-p", "[heap]", PYMEMD_CATEGORY_NATIVE_HEAP);
}

/* Every category is reached by some real mapping of the fixtures. */
/* python3.11 run by the dynamic loader: the exe is ld.so, the mapped
 * python3.11 (discovery's interpreter image) is the interpreter. */
static void
test_fixture_loader (void)
{
  static const PymemdClassifyContext loader = {
    "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", FALSE, 311, "/usr/bin/python3.11", NULL
  };
  g_autoptr(GArray) mappings = load_classified ("proc-detect/3004", &loader);

  g_assert_cmpuint (assert_path_category (mappings, "/usr/bin/python3.11",
                                          PYMEMD_CATEGORY_INTERPRETER), ==, 5);
  g_assert_cmpuint (assert_path_category (mappings, "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
                                          PYMEMD_CATEGORY_LIBRARIES), ==, 5);
}

/* The arenas of a fixture, as its "arenas" file lists them. */
static GArray *
load_arenas (const char *dir)
{
  g_autofree char *rel = g_build_filename (dir, "arenas", NULL);
  g_autofree char *path = pymemd_test_data_path (rel);
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  GArray *arenas = g_array_new (FALSE, FALSE, sizeof (PymemdArena));

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL && lines[i][0] != '\0'; i++)
    {
      PymemdArena arena;
      char *end;

      arena.start = g_ascii_strtoull (lines[i], &end, 16);
      g_assert_cmpint (*end, ==, '-');
      arena.end = g_ascii_strtoull (end + 1, &end, 16);
      g_array_append_val (arenas, arena);
    }
  return arenas;
}

/* The bytes pymalloc gets from MAPPINGS: whole mappings classified so,
 * and the arenas' part of the others (which the scanner moves). */
static guint64
pymalloc_span (GArray *mappings, GArray *arenas)
{
  guint64 span = 0;

  for (guint i = 0; i < mappings->len; i++)
    {
      const PymemdMapping *m = &g_array_index (mappings, PymemdMapping, i);

      if (m->category == PYMEMD_CATEGORY_PYMALLOC)
        span += m->end - m->start;
      else if (arenas != NULL)
        span += pymemd_arenas_overlap (arenas, m->start, m->end);
    }
  return span;
}

/* Arenas the kernel merged with a 64 MiB mapping: the shape guess takes
 * the whole 71 MiB (3005) or none of the 72.2 MiB (3006), and misses the
 * arenas in smaller mixed mappings (2 + 3 in 3005, 3 in 3006); the
 * interpreter's own table says 26 arenas in both. */
static void
test_fixture_arenas (void)
{
  static const struct {
    const char *dir;
    guint64     merged_start, merged_end;
    guint64     guessed;
  } cases[] = {
    { "proc-detect/3005", 0x7f50e3d00000, 0x7f50e8400000, (26 - 2 - 3 + 64) * MIB },
    { "proc-detect/3006", 0x7f5887cb6000, 0x7f588c4ea000, (26 - 8 - 3) * MIB },
  };

  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autoptr(GArray) arenas = load_arenas (cases[c].dir);
      PymemdClassifyContext known = {
        "/root/.pyenv/versions/3.11.7/bin/python3.11", FALSE, 311,
        "/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0", arenas
      };
      PymemdClassifyContext guess = known;
      g_autoptr(GArray) exact = load_classified (cases[c].dir, &known);
      g_autoptr(GArray) guessed = NULL;

      guess.arenas = NULL;
      guessed = load_classified (cases[c].dir, &guess);
      g_assert_cmpuint (arenas->len, ==, 26);
      assert_mapping (exact, cases[c].merged_start, cases[c].merged_end, "rw-p", NULL,
                      PYMEMD_CATEGORY_NATIVE_HEAP);
      g_assert_cmpuint (pymalloc_span (exact, arenas), ==, 26 * MIB);
      g_assert_cmpuint (pymalloc_span (guessed, NULL), ==, cases[c].guessed);
      /* Mappings made of arenas only are pymalloc either way. */
      for (guint i = 0; i < exact->len; i++)
        {
          const PymemdMapping *m = &g_array_index (exact, PymemdMapping, i);
          if (m->path == NULL && pymemd_arenas_overlap (arenas, m->start, m->end) == m->end - m->start)
            {
              g_assert_cmpint (m->category, ==, PYMEMD_CATEGORY_PYMALLOC);
              g_assert_cmpint (g_array_index (guessed, PymemdMapping, i).category, ==,
                               PYMEMD_CATEGORY_PYMALLOC);
            }
          else if (m->path == NULL && m->perms[3] == 'p')
            g_assert_cmpint (m->category, !=, PYMEMD_CATEGORY_PYMALLOC);
        }
    }
}

static void
test_fixtures_cover_all_categories (void)
{
  static const struct {
    const char                  *dir;
    const PymemdClassifyContext *context;
  } pids[] = {
    { "proc-mixed/1001", &python311 },
    { "proc-mixed/1002", &python311 },
    { "proc-mixed/1003", &mapper },
    { "proc-gtk/2001", &python311 },
  };
  guint hits[PYMEMD_N_CATEGORIES] = { 0 };

  for (guint p = 0; p < G_N_ELEMENTS (pids); p++)
    {
      g_autoptr(GArray) mappings = load_classified (pids[p].dir, pids[p].context);

      for (guint i = 0; i < mappings->len; i++)
        {
          int category = g_array_index (mappings, PymemdMapping, i).category;
          g_assert_cmpint (category, >=, 0);
          g_assert_cmpint (category, <, PYMEMD_N_CATEGORIES);
          hits[category]++;
        }
    }
  for (guint c = 0; c < PYMEMD_N_CATEGORIES; c++)
    {
      g_test_message ("%s: %u mappings", pymemd_category_name (c), hits[c]);
      g_assert_cmpuint (hits[c], >, 0);
    }
}

/* --- synthetic --- */

static void
add (GArray *mappings, guint64 start, guint64 end, const char *perms, const char *path)
{
  PymemdMapping m = { 0 };

  m.start = start;
  m.end = end;
  memcpy (m.perms, perms, 4);
  m.path = g_strdup (path);
  m.category = -1;
  g_array_append_val (mappings, m);
}

static int
category_of (GArray *mappings, guint i)
{
  return g_array_index (mappings, PymemdMapping, i).category;
}

/* The category of one lone mapping. */
static int
classify_one (guint64 size, const char *perms, const char *path, const PymemdClassifyContext *context)
{
  g_autoptr(GArray) mappings = pymemd_mapping_array_new ();

  /* 0x7f0000100000: not at a 64 MiB boundary, so never a glibc arena head */
  add (mappings, 0x7f0000100000, 0x7f0000100000 + size, perms, path);
  pymemd_classify_mappings (mappings, context);
  return category_of (mappings, 0);
}

static void
test_named_anonymous (void)
{
  /* CPython names its arenas "cpython:pymalloc" (PR_SET_VMA_ANON_NAME): the
   * name decides, whatever the size. */
  g_assert_cmpint (classify_one (4 * KIB, "rw-p", "[anon:cpython:pymalloc]", &python311), ==,
                   PYMEMD_CATEGORY_PYMALLOC);
  g_assert_cmpint (classify_one (MIB, "rw-p", "[anon:cpython:pymalloc]", &python311), ==,
                   PYMEMD_CATEGORY_PYMALLOC);
  /* Another name is anonymous memory, not a pseudo-file. */
  g_assert_cmpint (classify_one (12 * KIB, "rw-p", "[anon:glibc: malloc]", &python311), ==,
                   PYMEMD_CATEGORY_NATIVE_HEAP);
  g_assert_cmpint (classify_one (12 * KIB, "rw-s", "[anon_shmem:x]", &python311), ==,
                   PYMEMD_CATEGORY_SHMEM);
}

static void
test_shmem_paths (void)
{
  g_assert_cmpint (classify_one (64 * KIB, "rw-s", "/memfd:foo (deleted)", &python311), ==,
                   PYMEMD_CATEGORY_SHMEM);
  g_assert_cmpint (classify_one (64 * KIB, "rw-p", "/memfd:foo (deleted)", &python311), ==,
                   PYMEMD_CATEGORY_SHMEM);
  g_assert_cmpint (classify_one (64 * KIB, "rw-s", "/dev/shm/x", &python311), ==, PYMEMD_CATEGORY_SHMEM);
  g_assert_cmpint (classify_one (512 * KIB, "rw-s", "/SYSV00000000 (deleted)", &python311), ==,
                   PYMEMD_CATEGORY_SHMEM);
  /* shared anonymous memory (MAP_SHARED|MAP_ANONYMOUS without a name) */
  g_assert_cmpint (classify_one (MIB, "rw-s", NULL, &python311), ==, PYMEMD_CATEGORY_SHMEM);
}

static void
test_arena_size_by_version (void)
{
  static const PymemdClassifyContext python39 = { "/usr/bin/python3.9", TRUE, 309 };

  g_assert_cmpuint (pymemd_pymalloc_arena_size (309), ==, 256 * KIB);
  g_assert_cmpuint (pymemd_pymalloc_arena_size (310), ==, MIB);
  g_assert_cmpuint (pymemd_pymalloc_arena_size (311), ==, MIB);
  g_assert_cmpuint (pymemd_pymalloc_arena_size (0), ==, 256 * KIB);

  /* 768 KiB: three 3.9 arenas, but no whole number of 3.11 ones. */
  g_assert_cmpint (classify_one (768 * KIB, "rw-p", NULL, &python39), ==, PYMEMD_CATEGORY_PYMALLOC);
  g_assert_cmpint (classify_one (768 * KIB, "rw-p", NULL, &python311), ==, PYMEMD_CATEGORY_NATIVE_HEAP);
  g_assert_cmpint (classify_one (2 * MIB, "rw-p", NULL, &python39), ==, PYMEMD_CATEGORY_PYMALLOC);
  g_assert_cmpint (classify_one (2 * MIB, "rw-p", NULL, &python311), ==, PYMEMD_CATEGORY_PYMALLOC);
  /* the shape needs rw-p */
  g_assert_cmpint (classify_one (MIB, "r--p", NULL, &python311), ==, PYMEMD_CATEGORY_NATIVE_HEAP);
  g_assert_cmpint (classify_one (MIB, "---p", NULL, &python311), ==, PYMEMD_CATEGORY_OTHER);
}

static void
test_extension_paths (void)
{
  static const char *const extensions[] = {
    "/usr/lib/python3/dist-packages/x.abi3.so",
    "/opt/app/x.abi3.so",
    "/usr/lib/python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so",
    "/home/u/venv/lib/python3.11/site-packages/numpy/core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so",
    "/usr/lib/python3/dist-packages/gi/_gi.cpython-311-x86_64-linux-gnu.so",
  };
  static const char *const libraries[] = {
    "/usr/lib/x86_64-linux-gnu/libc.so.6",
    "/usr/lib/x86_64-linux-gnu/libz.so.1.2.13",
    "/usr/lib/x86_64-linux-gnu/libgtk-3.so.0",
    "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
    "/opt/app/plugin.so",
  };

  for (guint i = 0; i < G_N_ELEMENTS (extensions); i++)
    {
      g_test_message ("%s", extensions[i]);
      g_assert_cmpint (classify_one (16 * KIB, "r-xp", extensions[i], &python311), ==,
                       PYMEMD_CATEGORY_EXTENSIONS);
    }
  for (guint i = 0; i < G_N_ELEMENTS (libraries); i++)
    {
      g_test_message ("%s", libraries[i]);
      g_assert_cmpint (classify_one (16 * KIB, "r-xp", libraries[i], &python311), ==,
                       PYMEMD_CATEGORY_LIBRARIES);
    }
  /* libpython is the interpreter wherever it lives */
  g_assert_cmpint (classify_one (16 * KIB, "r-xp", "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0",
                                 &python311), ==, PYMEMD_CATEGORY_INTERPRETER);
  /* ".so" inside a data file's name is not a shared object */
  g_assert_cmpint (classify_one (16 * KIB, "r--p", "/tmp/notes.sofa", &python311), ==, PYMEMD_CATEGORY_FILES);
  /* executable file mappings are code */
  g_assert_cmpint (classify_one (16 * KIB, "r-xp", "/tmp/jit-code.bin", &python311), ==,
                   PYMEMD_CATEGORY_LIBRARIES);
}

static void
test_embedding_program (void)
{
  /* A C program embedding libpython: its own executable is a library, the
   * interpreter is libpython. */
  static const PymemdClassifyContext embed = { "/usr/bin/gimp-2.10", FALSE, 311 };
  g_autoptr(GArray) mappings = pymemd_mapping_array_new ();

  add (mappings, 0x55d000000000, 0x55d000010000, "r--p", "/usr/bin/gimp-2.10");
  add (mappings, 0x55d000010000, 0x55d000100000, "r-xp", "/usr/bin/gimp-2.10");
  add (mappings, 0x7f1000000000, 0x7f1000100000, "r--p", "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0");
  add (mappings, 0x7f1000100000, 0x7f1000400000, "r-xp", "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0");
  pymemd_classify_mappings (mappings, &embed);
  g_assert_cmpint (category_of (mappings, 0), ==, PYMEMD_CATEGORY_LIBRARIES);
  g_assert_cmpint (category_of (mappings, 1), ==, PYMEMD_CATEGORY_LIBRARIES);
  g_assert_cmpint (category_of (mappings, 2), ==, PYMEMD_CATEGORY_INTERPRETER);
  g_assert_cmpint (category_of (mappings, 3), ==, PYMEMD_CATEGORY_INTERPRETER);

  /* The same executable, were it the interpreter, would be. */
  {
    static const PymemdClassifyContext python_exe = { "/usr/bin/gimp-2.10", TRUE, 311 };
    pymemd_classify_mappings (mappings, &python_exe);
    g_assert_cmpint (category_of (mappings, 0), ==, PYMEMD_CATEGORY_INTERPRETER);
    g_assert_cmpint (category_of (mappings, 1), ==, PYMEMD_CATEGORY_INTERPRETER);
  }
  /* Without an exe path the executable is classified by its file name alone. */
  {
    static const PymemdClassifyContext no_exe = { NULL, FALSE, 0 };
    pymemd_classify_mappings (mappings, &no_exe);
    g_assert_cmpint (category_of (mappings, 0), ==, PYMEMD_CATEGORY_FILES);
    g_assert_cmpint (category_of (mappings, 1), ==, PYMEMD_CATEGORY_LIBRARIES);
    g_assert_cmpint (category_of (mappings, 2), ==, PYMEMD_CATEGORY_INTERPRETER);
  }
}

/* A Python upgraded while it runs: the kernel shows " (deleted)" both in
 * maps and in the /proc/PID/exe link, which is what a scan passes as
 * exe_path. The executable's mappings are still the interpreter.
 * Runs in a subprocess so that this failing (a known bug) does not stop
 * the other tests. */
static void
deleted_exe_body (void)
{
  static const PymemdClassifyContext context = { "/usr/bin/python3.11 (deleted)", TRUE, 311 };
  g_autoptr(GArray) mappings = pymemd_mapping_array_new ();

  add (mappings, 0x400000, 0x41f000, "r--p", "/usr/bin/python3.11 (deleted)");
  add (mappings, 0x41f000, 0x6d2000, "r-xp", "/usr/bin/python3.11 (deleted)");
  add (mappings, 0x946000, 0xa85000, "rw-p", "/usr/bin/python3.11 (deleted)");
  pymemd_classify_mappings (mappings, &context);
  for (guint i = 0; i < mappings->len; i++)
    g_assert_cmpint (category_of (mappings, i), ==, PYMEMD_CATEGORY_INTERPRETER);
}

/* The exe link of an upgraded interpreter ends in " (deleted)" too. */
static void
test_deleted_exe (void)
{
  deleted_exe_body ();
}

static void
test_deleted_exe_stripped_context (void)
{
  /* With exe_path stripped by the caller the executable's mappings match. */
  static const PymemdClassifyContext context = { "/usr/bin/python3.11", TRUE, 311 };

  g_assert_cmpint (classify_one (4 * KIB, "r-xp", "/usr/bin/python3.11 (deleted)", &context), ==,
                   PYMEMD_CATEGORY_INTERPRETER);
  g_assert_cmpint (classify_one (4 * KIB, "r--p", "/usr/lib/x86_64-linux-gnu/libc.so.6 (deleted)", &context), ==,
                   PYMEMD_CATEGORY_LIBRARIES);
  g_assert_cmpint (classify_one (4 * KIB, "r--p", "/tmp/data.bin (deleted)", &context), ==,
                   PYMEMD_CATEGORY_FILES);
}

static void
test_thread_stack_shapes (void)
{
  g_autoptr(GArray) mappings = pymemd_mapping_array_new ();
  const guint64 base = 0x7f0000100000;

  /* guard + stack, a lone 1 MiB rw-p block, a big ---p reservation + rw-p */
  add (mappings, base, base + 4 * KIB, "---p", NULL);
  add (mappings, base + 4 * KIB, base + 4 * KIB + 8 * MIB, "rw-p", NULL);
  add (mappings, base + 16 * MIB, base + 17 * MIB, "rw-p", NULL);
  add (mappings, base + 32 * MIB, base + 34 * MIB, "---p", NULL);
  add (mappings, base + 34 * MIB, base + 36 * MIB, "rw-p", NULL);
  /* a guard without a rw-p block above it */
  add (mappings, base + 40 * MIB, base + 40 * MIB + 4 * KIB, "---p", NULL);
  add (mappings, base + 40 * MIB + 4 * KIB, base + 40 * MIB + 8 * KIB, "r--p", NULL);
  pymemd_classify_mappings (mappings, &python311);

  g_assert_cmpint (category_of (mappings, 0), ==, PYMEMD_CATEGORY_STACK);
  g_assert_cmpint (category_of (mappings, 1), ==, PYMEMD_CATEGORY_STACK);
  g_assert_cmpint (category_of (mappings, 2), ==, PYMEMD_CATEGORY_PYMALLOC);
  /* 2 MiB of ---p is more than a guard: a reservation */
  g_assert_cmpint (category_of (mappings, 3), ==, PYMEMD_CATEGORY_OTHER);
  g_assert_cmpint (category_of (mappings, 4), ==, PYMEMD_CATEGORY_PYMALLOC);
  g_assert_cmpint (category_of (mappings, 5), ==, PYMEMD_CATEGORY_OTHER);
  g_assert_cmpint (category_of (mappings, 6), ==, PYMEMD_CATEGORY_NATIVE_HEAP);
}

static void
test_category_names (void)
{
  static const char *const names[PYMEMD_N_CATEGORIES] = {
    [PYMEMD_CATEGORY_PYMALLOC] = "pymalloc",
    [PYMEMD_CATEGORY_NATIVE_HEAP] = "native-heap",
    [PYMEMD_CATEGORY_STACK] = "stack",
    [PYMEMD_CATEGORY_INTERPRETER] = "interpreter",
    [PYMEMD_CATEGORY_EXTENSIONS] = "extensions",
    [PYMEMD_CATEGORY_LIBRARIES] = "libraries",
    [PYMEMD_CATEGORY_FILES] = "files",
    [PYMEMD_CATEGORY_SHMEM] = "shmem",
    [PYMEMD_CATEGORY_OTHER] = "other",
  };

  g_assert_cmpint (PYMEMD_N_CATEGORIES, ==, 9);
  for (guint c = 0; c < PYMEMD_N_CATEGORIES; c++)
    g_assert_cmpstr (pymemd_category_name (c), ==, names[c]);

  /* out of range: a critical warning and NULL */
  if (g_test_subprocess ())
    {
      g_assert_null (pymemd_category_name (PYMEMD_N_CATEGORIES));
      return;
    }
  g_test_trap_subprocess (NULL, 0, 0);
  g_test_trap_assert_stderr ("*CRITICAL*category < PYMEMD_N_CATEGORIES*");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/classify/fixture/1001", test_fixture_1001);
  g_test_add_func ("/classify/fixture/1002", test_fixture_1002);
  g_test_add_func ("/classify/fixture/1003", test_fixture_1003);
  g_test_add_func ("/classify/fixture/gtk", test_fixture_gtk);
  g_test_add_func ("/classify/fixture/loader", test_fixture_loader);
  g_test_add_func ("/classify/fixture/arenas", test_fixture_arenas);
  g_test_add_func ("/classify/fixture/all-categories", test_fixtures_cover_all_categories);
  g_test_add_func ("/classify/synthetic/named-anonymous", test_named_anonymous);
  g_test_add_func ("/classify/synthetic/shmem", test_shmem_paths);
  g_test_add_func ("/classify/synthetic/arena-size", test_arena_size_by_version);
  g_test_add_func ("/classify/synthetic/extensions", test_extension_paths);
  g_test_add_func ("/classify/synthetic/embedding", test_embedding_program);
  g_test_add_func ("/classify/synthetic/deleted-exe", test_deleted_exe);
  g_test_add_func ("/classify/synthetic/deleted-paths", test_deleted_exe_stripped_context);
  g_test_add_func ("/classify/synthetic/thread-stacks", test_thread_stack_shapes);
  g_test_add_func ("/classify/category-names", test_category_names);

  return g_test_run ();
}
