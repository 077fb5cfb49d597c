/* Tests the exact pass on synthetic pagemap/kpagecount/kpageflags files whose every page is known. */
#include "config.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "pymemd-error.h"
#include "pymemd-exact.h"
#include "pymemd-smaps.h"
#include "testutil.h"

#define PRESENT (G_GUINT64_CONSTANT (1) << 63)
#define SWAPPED (G_GUINT64_CONSTANT (1) << 62)
#define EXCLUSIVE (G_GUINT64_CONSTANT (1) << 56)
#define FILE_PAGE (G_GUINT64_CONSTANT (1) << 61)
#define KPF_ANON (G_GUINT64_CONSTANT (1) << 12)
#define KPF_ZERO (G_GUINT64_CONSTANT (1) << 24)

typedef struct {
  char         *root;
  PymemdProcfs *procfs;
  gsize         page;
} Fixture;

static void
write_at (const char *path, guint64 index, guint64 value)
{
  int fd = open (path, O_WRONLY | O_CREAT, 0644);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (pwrite (fd, &value, sizeof value, (off_t) (index * sizeof value)), ==, 8);
  close (fd);
}

static void
set_frame (Fixture *f, guint64 pfn, guint64 count, guint64 flags)
{
  g_autofree char *counts = g_build_filename (f->root, "kpagecount", NULL);
  g_autofree char *flagfile = g_build_filename (f->root, "kpageflags", NULL);

  write_at (counts, pfn, count);
  write_at (flagfile, pfn, flags);
}

static void
set_page (Fixture *f, int pid, guint64 address, guint64 entry)
{
  g_autofree char *dir = g_strdup_printf ("%s/%d", f->root, pid);
  g_autofree char *pagemap = g_build_filename (dir, "pagemap", NULL);

  g_mkdir_with_parents (dir, 0755);
  write_at (pagemap, address / f->page, entry);
}

static void
add_mapping (GArray *mappings, guint64 start, guint64 end, guint64 rss)
{
  PymemdMapping m = { 0 };

  m.start = start;
  m.end = end;
  memcpy (m.perms, "rw-p", 4);
  m.counters.value[PYMEMD_FIELD_RSS] = rss;
  g_array_append_val (mappings, m);
}

static int
open_pid (Fixture *f, int pid)
{
  g_autoptr(GError) error = NULL;
  int fd = pymemd_procfs_open_pid_dir (f->procfs, pid, &error);

  g_assert_no_error (error);
  return fd;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->root = pymemd_test_mkdtemp ();
  f->procfs = pymemd_procfs_new (f->root, &error);
  g_assert_no_error (error);
  f->page = pymemd_procfs_get_page_size (f->procfs);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->procfs);
  pymemd_test_rm_rf (f->root);
  g_free (f->root);
}

/* Two processes, every case of the accounting by hand:
 *   A maps 100 twice (count 2: all A's, so A's USS), 101 (shared with B,
 *     nobody else), 200 (B and one non-Python mapper), one swapped page and
 *     one absent page;
 *   B maps 101, 200, the zero page 300 (free) and 5000 (B's alone, far
 *     away in frame numbers so that kpagecount is read in two windows);
 *   each also maps one page that pagemap marks exclusive (A's anonymous,
 *     B's a file page): those have no kpagecount entry at all, since a
 *     page mapped once needs none. */
static void
test_hand_counted (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdExact) exact = NULL;
  g_autoptr(GArray) map_a = pymemd_mapping_array_new ();
  g_autoptr(GArray) map_b = pymemd_mapping_array_new ();
  PymemdExactFigures figures[2];
  PymemdPythonSet set;
  guint64 p = f->page;
  int fd_a, fd_b;

  set_frame (f, 100, 2, KPF_ANON);
  set_frame (f, 101, 2, 0);
  set_frame (f, 200, 3, KPF_ANON);
  set_frame (f, 300, 57, KPF_ZERO);
  set_frame (f, 5000, 1, KPF_ANON);

  set_page (f, 1, 0x10000, PRESENT | 100);
  set_page (f, 1, 0x10000 + p, PRESENT | 101);
  set_page (f, 1, 0x10000 + 2 * p, PRESENT | 200);
  set_page (f, 1, 0x10000 + 3 * p, 0);
  set_page (f, 1, 0x10000 + 4 * p, SWAPPED | 0x1234);
  set_page (f, 1, 0x40000, PRESENT | 100);
  set_page (f, 1, 0x40000 + p, PRESENT | EXCLUSIVE | 9000000);
  add_mapping (map_a, 0x10000, 0x10000 + 5 * p, 3 * p);
  add_mapping (map_a, 0x20000, 0x20000 + 4 * p, 0); /* no pages: not read */
  add_mapping (map_a, 0x40000, 0x40000 + 2 * p, 2 * p);

  set_page (f, 2, 0x80000, PRESENT | 101);
  set_page (f, 2, 0x80000 + p, PRESENT | 200);
  set_page (f, 2, 0x80000 + 2 * p, PRESENT | 300);
  set_page (f, 2, 0x80000 + 3 * p, PRESENT | 5000);
  set_page (f, 2, 0x80000 + 4 * p, PRESENT | EXCLUSIVE | FILE_PAGE | 9000001);
  add_mapping (map_b, 0x80000, 0x80000 + 5 * p, 5 * p);

  exact = pymemd_exact_new (f->procfs, &error);
  g_assert_no_error (error);
  fd_a = open_pid (f, 1);
  fd_b = open_pid (f, 2);
  pymemd_exact_begin (exact, 2);
  g_assert_true (pymemd_exact_add_process (exact, 0, fd_a, map_a, &error));
  g_assert_no_error (error);
  g_assert_true (pymemd_exact_add_process (exact, 1, fd_b, map_b, &error));
  g_assert_no_error (error);
  g_assert_true (pymemd_exact_finish (exact, figures, &set, &error));
  g_assert_no_error (error);
  close (fd_a);
  close (fd_b);

  g_assert_cmpuint (figures[0].resident, ==, 4 * p);
  g_assert_cmpuint (figures[0].uss, ==, 2 * p);
  g_assert_cmpuint (figures[0].pss, ==, 2 * p + p / 2 + p / 3);
  g_assert_cmpuint (figures[0].swapped, ==, p);
  g_assert_cmpuint (figures[0].sharing[PYMEMD_SHARING_1], ==, p);
  g_assert_cmpuint (figures[0].sharing[PYMEMD_SHARING_2_TO_4], ==, 3 * p);

  g_assert_cmpuint (figures[1].resident, ==, 4 * p);
  g_assert_cmpuint (figures[1].uss, ==, 2 * p);
  g_assert_cmpuint (figures[1].pss, ==, p / 2 + p / 3 + 2 * p);
  g_assert_cmpuint (figures[1].swapped, ==, 0);
  g_assert_cmpuint (figures[1].sharing[PYMEMD_SHARING_1], ==, 2 * p);
  g_assert_cmpuint (figures[1].sharing[PYMEMD_SHARING_2_TO_4], ==, 2 * p);
  g_assert_cmpuint (figures[1].sharing[PYMEMD_SHARING_MORE], ==, 0);

  g_assert_cmpuint (set.freed_if_all_exit, ==, 5 * p);           /* 100, 101, 5000, both exclusive */
  g_assert_cmpuint (set.freed_if_all_exit_anonymous, ==, 3 * p); /* 100, 5000, A's exclusive */
  g_assert_cmpuint (set.shared_only_python, ==, p);              /* 101 */
}

/* A frame whose count dropped below what we saw (it was unmapped between
 * the pagemap and kpagecount reads) counts as mapped by those we saw. */
static void
test_count_below_seen (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdExact) exact = NULL;
  g_autoptr(GArray) mappings = pymemd_mapping_array_new ();
  PymemdExactFigures figures[1];
  PymemdPythonSet set;
  int fd;

  set_frame (f, 7, 0, 0);
  exact = pymemd_exact_new (f->procfs, &error);
  g_assert_no_error (error);
  set_page (f, 1, 0x10000, PRESENT | 7);
  set_page (f, 1, 0x10000 + f->page, PRESENT | 7);
  add_mapping (mappings, 0x10000, 0x10000 + 2 * f->page, 2 * f->page);
  fd = open_pid (f, 1);
  pymemd_exact_begin (exact, 1);
  g_assert_true (pymemd_exact_add_process (exact, 0, fd, mappings, &error));
  g_assert_true (pymemd_exact_finish (exact, figures, &set, &error));
  g_assert_no_error (error);
  close (fd);
  g_assert_cmpuint (figures[0].uss, ==, f->page);
  g_assert_cmpuint (figures[0].pss, ==, f->page);
  g_assert_cmpuint (figures[0].sharing[PYMEMD_SHARING_2_TO_4], ==, f->page);
}

/* Without CAP_SYS_ADMIN the kernel shows present pages with PFN 0. */
static void
test_hidden_pfns (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdExact) exact = NULL;
  g_autoptr(GArray) mappings = pymemd_mapping_array_new ();
  int fd;

  set_frame (f, 1, 1, 0);
  set_page (f, 1, 0x10000, PRESENT);
  add_mapping (mappings, 0x10000, 0x10000 + f->page, f->page);
  exact = pymemd_exact_new (f->procfs, &error);
  g_assert_no_error (error);
  fd = open_pid (f, 1);
  pymemd_exact_begin (exact, 1);
  g_assert_false (pymemd_exact_add_process (exact, 0, fd, mappings, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ACCESS_DENIED);
  g_assert_nonnull (strstr (error->message, "CAP_SYS_ADMIN"));
  close (fd);
}

static void
test_no_kpagecount (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdExact) exact = pymemd_exact_new (f->procfs, &error);

  g_assert_null (exact);
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_GONE);
  g_assert_nonnull (strstr (error->message, "kpagecount"));
}

static void
test_missing_pagemap (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdExact) exact = NULL;
  g_autoptr(GArray) mappings = pymemd_mapping_array_new ();
  g_autofree char *dir = g_build_filename (f->root, "9", NULL);
  PymemdExactFigures figures[1];
  PymemdPythonSet set;
  int fd;

  set_frame (f, 1, 1, 0);
  g_mkdir (dir, 0755);
  add_mapping (mappings, 0x10000, 0x10000 + f->page, f->page);
  exact = pymemd_exact_new (f->procfs, &error);
  g_assert_no_error (error);
  fd = open_pid (f, 9);
  pymemd_exact_begin (exact, 1);
  g_assert_false (pymemd_exact_add_process (exact, 0, fd, mappings, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_GONE);
  g_clear_error (&error);
  /* The pass still finishes, with nothing for that slot. */
  g_assert_true (pymemd_exact_finish (exact, figures, &set, &error));
  g_assert_cmpuint (figures[0].resident, ==, 0);
  close (fd);
}

/* Many processes, random frames: the sort-and-window implementation must
 * agree with a plain hash-table count. */
static void
test_random_against_reference (Fixture *f, gconstpointer data)
{
  enum { N_PROC = 40, PAGES = 600, FRAMES = 200000 };
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdExact) exact = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new (NULL, NULL);         /* pfn -> occurrences */
  g_autoptr(GHashTable) owners = g_hash_table_new (NULL, NULL);       /* pfn -> slot+1 or -1 */
  g_autoptr(GHashTable) counts = g_hash_table_new (NULL, NULL);       /* pfn -> kpagecount */
  guint64 pfns[N_PROC][PAGES];
  PymemdExactFigures figures[N_PROC];
  guint64 want_uss[N_PROC] = { 0 }, want_resident[N_PROC] = { 0 };
  guint64 want_freed = 0, want_shared = 0;
  PymemdPythonSet set;
  GRand *rand = g_rand_new_with_seed (42);
  GHashTableIter iter;
  gpointer key, value;

  for (int s = 0; s < N_PROC; s++)
    for (int i = 0; i < PAGES; i++)
      {
        /* Half the frames come from a small shared pool. */
        guint64 pfn = g_rand_boolean (rand) ? (guint64) g_rand_int_range (rand, 1, 500)
                                            : (guint64) g_rand_int_range (rand, 1, FRAMES);
        gpointer k = GSIZE_TO_POINTER (pfn);
        gintptr owner = GPOINTER_TO_SIZE (g_hash_table_lookup (owners, k));

        pfns[s][i] = pfn;
        g_hash_table_insert (seen, k, GSIZE_TO_POINTER (GPOINTER_TO_SIZE (g_hash_table_lookup (seen, k)) + 1));
        g_hash_table_insert (owners, k, GSIZE_TO_POINTER (owner == 0 || owner == s + 1 ? (gsize) (s + 1) : (gsize) -1));
        set_page (f, 100 + s, 0x100000 + (guint64) i * f->page, PRESENT | pfn);
      }
  g_hash_table_iter_init (&iter, seen);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      /* A third of the frames are also mapped by some non-Python process. */
      gsize count = GPOINTER_TO_SIZE (value) + (g_rand_int_range (rand, 0, 3) == 0 ? 1 : 0);
      gssize owner = (gssize) GPOINTER_TO_SIZE (g_hash_table_lookup (owners, key));

      g_hash_table_insert (counts, key, GSIZE_TO_POINTER (count));
      set_frame (f, GPOINTER_TO_SIZE (key), count, 0);
      if (count == GPOINTER_TO_SIZE (value))
        {
          want_freed += f->page;
          if (owner == -1)
            want_shared += f->page;
          else
            want_uss[owner - 1] += f->page;
        }
    }
  for (int s = 0; s < N_PROC; s++)
    {
      g_autoptr(GHashTable) distinct = g_hash_table_new (NULL, NULL);
      for (int i = 0; i < PAGES; i++)
        g_hash_table_add (distinct, GSIZE_TO_POINTER (pfns[s][i]));
      want_resident[s] = g_hash_table_size (distinct) * f->page;
    }
  g_rand_free (rand);

  exact = pymemd_exact_new (f->procfs, &error);
  g_assert_no_error (error);
  pymemd_exact_begin (exact, N_PROC);
  for (int s = 0; s < N_PROC; s++)
    {
      g_autoptr(GArray) mappings = pymemd_mapping_array_new ();
      int fd = open_pid (f, 100 + s);

      add_mapping (mappings, 0x100000, 0x100000 + PAGES * f->page, PAGES * f->page);
      g_assert_true (pymemd_exact_add_process (exact, s, fd, mappings, &error));
      g_assert_no_error (error);
      close (fd);
    }
  g_assert_true (pymemd_exact_finish (exact, figures, &set, &error));
  g_assert_no_error (error);

  for (int s = 0; s < N_PROC; s++)
    {
      g_assert_cmpuint (figures[s].uss, ==, want_uss[s]);
      g_assert_cmpuint (figures[s].resident, ==, want_resident[s]);
    }
  g_assert_cmpuint (set.freed_if_all_exit, ==, want_freed);
  g_assert_cmpuint (set.shared_only_python, ==, want_shared);
  g_assert_cmpuint (want_shared, >, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/exact/hand-counted", test_hand_counted);
  ADD ("/exact/count-below-seen", test_count_below_seen);
  ADD ("/exact/hidden-pfns", test_hidden_pfns);
  ADD ("/exact/no-kpagecount", test_no_kpagecount);
  ADD ("/exact/missing-pagemap", test_missing_pagemap);
  ADD ("/exact/random-against-reference", test_random_against_reference);
#undef ADD
  return g_test_run ();
}
