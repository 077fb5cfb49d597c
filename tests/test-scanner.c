/* Tests the scanner's figures against real processes with known memory, and its behaviour when processes vanish. */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "pymemd-error.h"
#include "pymemd-scanner.h"
#include "testutil.h"

#define MIB (G_GUINT64_CONSTANT (1) << 20)

/* Holds a 64 MiB bytearray with every page written (private dirty). */
#define BYTEARRAY_64 \
  "import sys\n" \
  "b = bytearray(64 << 20)\n" \
  "for i in range(0, len(b), 4096): b[i] = 1\n" \
  "print('ready', flush=True)\n" \
  "sys.stdin.read()\n"

/* A parent that writes 32 MiB, then forks: until either writes again the
 * child shares every one of those pages with it (copy-on-write). */
#define FORKED \
  "import os, sys\n" \
  "b = bytearray(32 << 20)\n" \
  "for i in range(0, len(b), 4096): b[i] = 1\n" \
  "child = os.fork()\n" \
  "if child == 0:\n" \
  "    sys.stdin.read()  # EOF when the test closes our stdin\n" \
  "    os._exit(0)\n" \
  "print(child, flush=True)\n" \
  "sys.stdin.read()\n"

#define IDLE "import sys; print('ready', flush=True); sys.stdin.read()"

static PymemdScanner *
scanner_for (const char *root)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdProcfs) procfs = pymemd_procfs_new (root, &error);
  PymemdScanner *scanner;

  g_assert_no_error (error);
  scanner = pymemd_scanner_new (procfs, &error);
  g_assert_no_error (error);
  return scanner;
}

static PymemdProcess *
scan_and_find (PymemdScanner *scanner, PymemdScanFlags flags, int pid)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) processes = NULL;

  g_assert_true (pymemd_scanner_scan (scanner, flags, &error));
  g_assert_no_error (error);
  processes = pymemd_scanner_get_processes (scanner);
  for (guint i = 0; i < processes->len; i++)
    if (pymemd_process_get_pid (g_ptr_array_index (processes, i)) == pid)
      return g_object_ref (g_ptr_array_index (processes, i));
  return NULL;
}

static gboolean
need_python (void)
{
  if (pymemd_test_python () == NULL)
    {
      g_test_skip ("no python3");
      return FALSE;
    }
  return TRUE;
}

static void
test_bytearray (void)
{
  g_autoptr(PymemdScanner) scanner = scanner_for ("/proc");
  g_autoptr(PymemdProcess) process = NULL;
  g_autoptr(GError) error = NULL;
  const PymemdCounters *rollup;
  const PymemdCategoryUsage *categories;
  PymemdTestChild child;

  if (!need_python ())
    return;
  g_assert_true (pymemd_test_child_spawn_python (&child, BYTEARRAY_64, NULL, &error));
  process = scan_and_find (scanner, PYMEMD_SCAN_ALL, child.pid);
  g_assert_nonnull (process);
  rollup = pymemd_process_get_rollup (process);
  g_assert_cmpuint (rollup->value[PYMEMD_FIELD_PRIVATE_DIRTY], >=, 64 * MIB);
  g_assert_cmpuint (rollup->value[PYMEMD_FIELD_PRIVATE_CLEAN] +
                    rollup->value[PYMEMD_FIELD_PRIVATE_DIRTY], >=, 64 * MIB);
  /* A 64 MiB bytearray is one malloc'd (mmap'd) block: native heap. */
  categories = pymemd_process_get_categories (process);
  g_assert_nonnull (categories);
  g_assert_cmpuint (categories[PYMEMD_CATEGORY_NATIVE_HEAP].counters.value[PYMEMD_FIELD_PRIVATE_DIRTY] +
                    categories[PYMEMD_CATEGORY_PYMALLOC].counters.value[PYMEMD_FIELD_PRIVATE_DIRTY],
                    >=, 64 * MIB);
  if (pymemd_test_is_root ())
    {
      const PymemdExactFigures *exact = pymemd_process_get_exact (process);
      g_assert_nonnull (exact);
      g_assert_cmpuint (exact->uss, >=, 64 * MIB);
      g_assert_cmpuint (exact->sharing[PYMEMD_SHARING_1], >=, 64 * MIB);
    }
  pymemd_test_child_stop (&child);
}

/* Pages of the file holding the interpreter are the interpreter's, also
 * when a dynamic loader started it: the exe link names the loader, the
 * mapped python3.11 is the interpreter image. */
static void
test_loader_started_interpreter (void)
{
  const char *argv[] = { "/lib64/ld-linux-x86-64.so.2", "/usr/bin/python3.11", "-c", IDLE, NULL };
  g_autoptr(PymemdScanner) scanner = scanner_for ("/proc");
  g_autoptr(PymemdProcess) process = NULL;
  g_autoptr(GError) error = NULL;
  const PymemdCategoryUsage *categories;
  PymemdTestChild child;

  if (!g_file_test (argv[0], G_FILE_TEST_IS_EXECUTABLE) ||
      !g_file_test (argv[1], G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("needs the x86-64 loader and /usr/bin/python3.11");
      return;
    }
  g_assert_true (pymemd_test_child_spawn (&child, argv, NULL, &error));
  process = scan_and_find (scanner, PYMEMD_SCAN_ALL, child.pid);
  g_assert_nonnull (process);
  g_assert_false (pymemd_process_get_exe_is_python (process));
  categories = pymemd_process_get_categories (process);
  g_assert_nonnull (categories);
  /* All of python3.11's five mappings, some MiB resident once started. */
  g_assert_cmpuint (categories[PYMEMD_CATEGORY_INTERPRETER].n_mappings, ==, 5);
  g_assert_cmpuint (categories[PYMEMD_CATEGORY_INTERPRETER].counters.value[PYMEMD_FIELD_RSS], >=, MIB);
  pymemd_test_child_stop (&child);
}

static void
test_forked_child (void)
{
  g_autoptr(PymemdScanner) scanner = scanner_for ("/proc");
  g_autoptr(PymemdProcess) parent = NULL;
  g_autoptr(PymemdProcess) child_process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  const PymemdPythonSet *set;
  PymemdTestChild child;
  guint64 child_pid;

  if (!need_python ())
    return;
  if (!pymemd_test_is_root ())
    {
      g_test_skip ("the exact pass needs root");
      return;
    }
  g_assert_true (pymemd_test_child_spawn_python (&child, FORKED, &line, &error));
  g_assert_true (g_ascii_string_to_unsigned (line, 10, 1, G_MAXINT, &child_pid, NULL));
  parent = scan_and_find (scanner, PYMEMD_SCAN_ALL, child.pid);
  g_assert_nonnull (parent);
  child_process = scan_and_find (scanner, PYMEMD_SCAN_ALL, (int) child_pid);
  g_assert_nonnull (child_process);

  g_assert_cmpuint (pymemd_process_get_exact (parent)->sharing[PYMEMD_SHARING_2_TO_4], >=, 32 * MIB);
  g_assert_cmpuint (pymemd_process_get_exact (child_process)->sharing[PYMEMD_SHARING_2_TO_4], >=, 32 * MIB);
  set = pymemd_scanner_get_python_set (scanner);
  g_assert_nonnull (set);
  g_assert_cmpuint (set->shared_only_python, >=, 32 * MIB);
  g_assert_cmpuint (set->freed_if_all_exit, >=, set->shared_only_python);
  /* smaps agrees that those pages are shared, not private. */
  g_assert_cmpuint (pymemd_process_get_rollup (child_process)->value[PYMEMD_FIELD_SHARED_DIRTY], >=, 32 * MIB);
  pymemd_test_child_stop (&child);
}

/* Rollup and smaps describe the same pages: per-mapping sums equal the
 * rollup within a page per mapping (the kernel rounds PSS per mapping),
 * and for an idle process the exact USS is the smaps Private_* sum. */
static void
test_rollup_equals_mappings (void)
{
  g_autoptr(PymemdScanner) scanner = scanner_for ("/proc");
  g_autoptr(PymemdProcess) process = NULL;
  g_autoptr(GError) error = NULL;
  const PymemdCategoryUsage *categories;
  const PymemdCounters *rollup;
  PymemdCounters saved, sum = { { 0 }, 0 };
  guint mappings = 0;
  PymemdTestChild child;

  if (!need_python ())
    return;
  g_assert_true (pymemd_test_child_spawn_python (&child, IDLE, NULL, &error));
  g_usleep (200 * 1000); /* let it settle into its read() */
  /* PSS of shared pages moves whenever another process maps or unmaps
   * them (other tests' interpreters start and end meanwhile): the two
   * scans must see the same sharing, which a few tries give. */
  for (guint attempt = 0; attempt < 20; attempt++)
    {
      g_clear_object (&process);
      process = scan_and_find (scanner, PYMEMD_SCAN_ROLLUP, child.pid);
      g_assert_nonnull (process);
      saved = *pymemd_process_get_rollup (process);
      rollup = &saved;
      g_clear_object (&process);
      process = scan_and_find (scanner, PYMEMD_SCAN_ALL, child.pid);
      g_assert_nonnull (process);
      categories = pymemd_process_get_categories (process);
      memset (&sum, 0, sizeof sum);
      mappings = 0;
      for (guint i = 0; i < PYMEMD_N_CATEGORIES; i++)
        {
          pymemd_counters_add (&sum, &categories[i].counters);
          mappings += categories[i].n_mappings;
        }
      /* Another test's interpreter mapping the same libraries between the
       * two scans moves pages from private to shared: try again. */
      if (sum.value[PYMEMD_FIELD_PSS] <= rollup->value[PYMEMD_FIELD_PSS] &&
          sum.value[PYMEMD_FIELD_PSS] + (guint64) mappings * 4096 >= rollup->value[PYMEMD_FIELD_PSS] &&
          (!pymemd_test_is_root () ||
           pymemd_process_get_exact (process)->uss ==
             rollup->value[PYMEMD_FIELD_PRIVATE_CLEAN] + rollup->value[PYMEMD_FIELD_PRIVATE_DIRTY]))
        break;
      g_test_message ("attempt %u: PSS %" G_GUINT64_FORMAT " by mappings, %" G_GUINT64_FORMAT " rolled up",
                      attempt, sum.value[PYMEMD_FIELD_PSS], rollup->value[PYMEMD_FIELD_PSS]);
      g_usleep (50 * 1000);
    }
  g_assert_cmpuint (mappings, >, 10);
  g_assert_cmpuint (sum.value[PYMEMD_FIELD_RSS], ==, rollup->value[PYMEMD_FIELD_RSS]);
  g_assert_cmpuint (sum.value[PYMEMD_FIELD_PRIVATE_DIRTY], ==, rollup->value[PYMEMD_FIELD_PRIVATE_DIRTY]);
  g_assert_cmpuint (sum.value[PYMEMD_FIELD_PSS], <=, rollup->value[PYMEMD_FIELD_PSS]);
  g_assert_cmpuint (sum.value[PYMEMD_FIELD_PSS] + (guint64) mappings * 4096, >=,
                    rollup->value[PYMEMD_FIELD_PSS]);
  if (pymemd_test_is_root ())
    g_assert_cmpuint (pymemd_process_get_exact (process)->uss, ==,
                      rollup->value[PYMEMD_FIELD_PRIVATE_CLEAN] +
                      rollup->value[PYMEMD_FIELD_PRIVATE_DIRTY]);
  pymemd_test_child_stop (&child);
}

/* A process whose files vanish between passes is skipped, and the scan
 * goes on: 1002 loses smaps_rollup, 1001 loses smaps. */
static void
test_vanishing (void)
{
  char *root;
  g_autoptr(PymemdScanner) scanner = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) processes = NULL;
  g_autofree char *rollup = NULL, *smaps = NULL;

  if (!pymemd_test_need_fixture_python ())
    return;
  root = pymemd_test_copy_fixture ("proc-mixed");
  rollup = g_build_filename (root, "1002", "smaps_rollup", NULL);
  smaps = g_build_filename (root, "1001", "smaps", NULL);
  scanner = scanner_for (root);
  /* Sample every process on every tick however slow the reads (valgrind
   * makes them slow enough for the pacing to skip a tick). */
  {
    PymemdScanBudget budget;
    pymemd_scanner_get_budget (scanner, &budget);
    budget.rollup_max_stall_us = G_MAXUINT64;
    pymemd_scanner_set_budget (scanner, &budget);
  }
  g_assert_true (pymemd_scanner_scan (scanner, PYMEMD_SCAN_ALL, &error));
  processes = pymemd_scanner_get_processes (scanner);
  g_assert_cmpuint (processes->len, ==, 2);
  /* No kpagecount in the fixture: the exact pass says why it did not run. */
  g_assert_error (pymemd_scanner_get_exact_error (scanner), PYMEMD_ERROR, PYMEMD_ERROR_GONE);
  g_assert_null (pymemd_scanner_get_python_set (scanner));
  g_clear_pointer (&processes, g_ptr_array_unref);

  g_assert_cmpint (g_unlink (rollup), ==, 0);
  g_assert_true (pymemd_scanner_scan (scanner, PYMEMD_SCAN_ROLLUP, &error));
  g_assert_no_error (error);
  processes = pymemd_scanner_get_processes (scanner);
  g_assert_cmpuint (processes->len, ==, 1);
  g_assert_cmpint (pymemd_process_get_pid (g_ptr_array_index (processes, 0)), ==, 1001);
  g_clear_pointer (&processes, g_ptr_array_unref);

  /* The full pass samples from smaps: 1002 is back (its smaps_rollup is
   * not needed), 1001 without smaps is skipped. */
  g_assert_cmpint (g_unlink (smaps), ==, 0);
  g_assert_true (pymemd_scanner_scan (scanner, PYMEMD_SCAN_ALL, &error));
  g_assert_no_error (error);
  processes = pymemd_scanner_get_processes (scanner);
  g_assert_cmpuint (processes->len, ==, 1);
  g_assert_cmpint (pymemd_process_get_pid (g_ptr_array_index (processes, 0)), ==, 1002);
  pymemd_test_remove_fixture (root);
}

/* Real processes that exit while scans run: every scan succeeds. */
static void
test_churn (void)
{
  g_autoptr(PymemdScanner) scanner = scanner_for ("/proc");
  g_autoptr(GError) error = NULL;
  const char *argv[] = { pymemd_test_python (), "-c",
                         "import subprocess, sys\n"
                         "print('ready', flush=True)\n"
                         "for i in range(60): subprocess.run([sys.executable, '-c', 'pass'])\n",
                         NULL };
  PymemdTestChild child;

  if (!need_python ())
    return;
  g_assert_true (pymemd_test_child_spawn (&child, argv, NULL, &error));
  for (int i = 0; i < 40; i++)
    {
      g_assert_true (pymemd_scanner_scan (scanner, i % 2 ? PYMEMD_SCAN_ROLLUP : PYMEMD_SCAN_ALL, &error));
      g_assert_no_error (error);
    }
  pymemd_test_child_stop (&child);
}

static void
test_budget (void)
{
  g_autoptr(PymemdScanner) scanner = scanner_for ("/proc");
  g_autoptr(PymemdProcess) process = NULL;
  g_autoptr(GError) error = NULL;
  PymemdScanBudget budget;
  PymemdTestChild child;

  if (!need_python ())
    return;
  g_assert_true (pymemd_test_child_spawn_python (&child, IDLE, NULL, &error));

  pymemd_scanner_get_budget (scanner, &budget);
  budget.detail_max_rss = 4096;
  pymemd_scanner_set_budget (scanner, &budget);
  process = scan_and_find (scanner, PYMEMD_SCAN_ALL, child.pid);
  g_assert_nonnull (process);
  g_assert_null (pymemd_process_get_categories (process));
  g_assert_error (pymemd_process_get_detail_error (process), PYMEMD_ERROR, PYMEMD_ERROR_BUDGET);
  g_assert_null (pymemd_process_get_exact (process));
  g_clear_object (&process);

  if (pymemd_test_is_root ())
    {
      budget.detail_max_rss = G_MAXUINT64;
      budget.exact_max_mapped = 4096;
      pymemd_scanner_set_budget (scanner, &budget);
      process = scan_and_find (scanner, PYMEMD_SCAN_ALL, child.pid);
      g_assert_nonnull (pymemd_process_get_categories (process));
      g_assert_null (pymemd_process_get_exact (process));
      g_assert_error (pymemd_process_get_exact_error (process), PYMEMD_ERROR, PYMEMD_ERROR_BUDGET);
    }
  pymemd_test_child_stop (&child);
}

/* A process whose smaps_rollup read costs more than the stall budget is
 * sampled on fewer ticks; within budget, on every tick. */
static void
test_rollup_pacing (void)
{
  g_autoptr(PymemdScanner) scanner = scanner_for ("/proc");
  g_autoptr(PymemdProcess) process = NULL;
  g_autoptr(GError) error = NULL;
  PymemdScanBudget budget;
  PymemdTestChild child;
  gint64 first, cost;

  if (!need_python ())
    return;
  g_assert_true (pymemd_test_child_spawn_python (&child, IDLE, NULL, &error));
  pymemd_scanner_get_budget (scanner, &budget);
  g_assert_cmpuint (budget.rollup_max_stall_us, >=, 1000);

  process = scan_and_find (scanner, PYMEMD_SCAN_ROLLUP, child.pid);
  first = pymemd_process_get_sampled_at (process);
  g_clear_object (&process);
  process = scan_and_find (scanner, PYMEMD_SCAN_ROLLUP, child.pid);
  g_assert_cmpint (pymemd_process_get_sampled_at (process), >, first);
  cost = pymemd_process_get_rollup_cost (process);
  g_assert_cmpint (cost, >, 0);
  g_clear_object (&process);

  /* A budget of 1 us: the next sample is due "cost" ticks later. */
  budget.rollup_max_stall_us = 1;
  pymemd_scanner_set_budget (scanner, &budget);
  process = scan_and_find (scanner, PYMEMD_SCAN_ROLLUP, child.pid);
  first = pymemd_process_get_sampled_at (process);
  g_clear_object (&process);
  process = scan_and_find (scanner, PYMEMD_SCAN_ROLLUP, child.pid);
  g_assert_cmpint (pymemd_process_get_sampled_at (process), ==, first);
  pymemd_test_child_stop (&child);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/scanner/bytearray", test_bytearray);
  g_test_add_func ("/scanner/loader-started-interpreter", test_loader_started_interpreter);
  g_test_add_func ("/scanner/forked-child", test_forked_child);
  g_test_add_func ("/scanner/rollup-equals-mappings", test_rollup_equals_mappings);
  g_test_add_func ("/scanner/vanishing", test_vanishing);
  g_test_add_func ("/scanner/churn", test_churn);
  g_test_add_func ("/scanner/budget", test_budget);
  g_test_add_func ("/scanner/rollup-pacing", test_rollup_pacing);
  return g_test_run ();
}
