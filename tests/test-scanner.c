/* Tests the scanner's figures against real processes with known memory, and its behaviour when processes vanish. */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "pymemd-error.h"
#include "pymemd-pidfiles.h"
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
  g_autofree char *rollup = NULL, *smaps = NULL, *statm = NULL;

  if (!pymemd_test_need_fixture_python ())
    return;
  root = pymemd_test_copy_fixture ("proc-mixed");
  rollup = g_build_filename (root, "1002", "smaps_rollup", NULL);
  statm = g_build_filename (root, "1002", "statm", NULL);
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

  /* 1002 exits: an exited process's statm reads all zeros (its pages
   * moved: the tick reads smaps_rollup again), its smaps_rollup is gone. */
  g_assert_cmpint (g_unlink (rollup), ==, 0);
  g_assert_true (g_file_set_contents (statm, "0 0 0 0 0 0 0\n", -1, NULL));
  g_assert_true (pymemd_scanner_scan (scanner, PYMEMD_SCAN_ROLLUP, &error));
  g_assert_no_error (error);
  processes = pymemd_scanner_get_processes (scanner);
  g_assert_cmpuint (processes->len, ==, 1);
  g_assert_cmpint (pymemd_process_get_pid (g_ptr_array_index (processes, 0)), ==, 1001);
  g_clear_pointer (&processes, g_ptr_array_unref);

  /* The full pass samples from smaps where there is no smaps_rollup: 1002
   * is back, 1001 without smaps is skipped. */
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
  /* It had its turn: a read that always fails does not go first on every
   * pass, ahead of its user's other processes. */
  g_assert_cmpuint (pymemd_process_get_detail_tick (process), >, 0);
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

#define ON_REQUEST \
  "import os, sys\n" \
  "keep = []\n" \
  "print('ready', flush=True)\n" \
  "for line in sys.stdin:\n" \
  "    if line.startswith('fork'):\n" \
  "        if os.fork() == 0:\n" \
  "            sys.stdin.read(); os._exit(0)  # EOF when the test closes our stdin\n" \
  "    elif line.startswith('uid'):\n" \
  "        os.setresgid(65534, 65534, 65534); os.setresuid(65534, 65534, 65534)\n" \
  "    elif line.startswith('suid'):\n" \
  "        os.setresuid(-1, -1, 65534)\n" \
  "    elif line.startswith('nodump'):\n" \
  "        import ctypes; ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)\n" \
  "    elif line.startswith('dump'):\n" \
  "        import ctypes; ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)\n" \
  "    elif line.startswith('map'):\n" \
  "        import mmap; f = open(sys.executable, 'rb')\n" \
  "        m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)\n" \
  "        for i in range(0, len(m), 4096): m[i]\n" \
  "        keep.append(m)\n" \
  "    elif line.startswith('name'):\n" \
  "        import ctypes; ctypes.CDLL(None).prctl(15, b'renamed', 0, 0, 0)\n" \
  "    else:\n" \
  "        b = bytearray(int(line))\n" \
  "        for i in range(0, len(b), 4096): b[i] = 1\n" \
  "        keep.append(b)\n" \
  "    print('done', flush=True)\n"

static void
ask (PymemdTestChild *child, const char *what)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;

  pymemd_test_child_send (child, what);
  line = pymemd_test_child_read_line (child, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, "done");
}

/* A process whose smaps_rollup read costs more than the stall budget is
 * sampled on fewer ticks; within budget, on every tick (with a refresh of
 * 0: every tick reads every process due, moved or not). */
static void
test_rollup_pacing (void)
{
  g_autoptr(PymemdScanner) scanner = scanner_for ("/proc");
  g_autoptr(PymemdProcess) process = NULL;
  g_autoptr(GError) error = NULL;
  PymemdScanBudget budget;
  PymemdTestChild child;
  gint64 first, cost;
  guint64 reads;

  if (!need_python ())
    return;
  g_assert_true (pymemd_test_child_spawn_python (&child, ON_REQUEST, NULL, &error));
  g_assert_no_error (error);
  pymemd_scanner_get_budget (scanner, &budget);
  g_assert_cmpuint (budget.rollup_max_stall_us, >=, 1000);
  budget.rollup_refresh_us = 0;
  /* A read that took longer than the budget (a loaded machine) would put
   * the next one off: with a budget of a minute none does. */
  budget.rollup_max_stall_us = 60 * G_USEC_PER_SEC;
  pymemd_scanner_set_budget (scanner, &budget);

  process = scan_and_find (scanner, PYMEMD_SCAN_ROLLUP, child.pid);
  first = pymemd_process_get_sampled_at (process);
  reads = pymemd_process_get_rollup_reads (process);
  g_clear_object (&process);
  process = scan_and_find (scanner, PYMEMD_SCAN_ROLLUP, child.pid);
  g_assert_cmpint (pymemd_process_get_sampled_at (process), >, first);
  g_assert_cmpuint (pymemd_process_get_rollup_reads (process), ==, reads + 1);
  cost = pymemd_process_get_rollup_cost (process);
  g_assert_cmpint (cost, >, 0);
  g_clear_object (&process);

  /* A budget of 1 us: a read only where its pages moved (here its file
   * pages: see test_stalling_process), and the next one due "cost" ticks
   * later, moved or not. */
  budget.rollup_max_stall_us = 1;
  pymemd_scanner_set_budget (scanner, &budget);
  ask (&child, "map");
  process = scan_and_find (scanner, PYMEMD_SCAN_ROLLUP, child.pid);
  g_assert_cmpuint (pymemd_process_get_rollup_reads (process), ==, reads + 2);
  first = pymemd_process_get_sampled_at (process);
  reads = pymemd_process_get_rollup_reads (process);
  g_clear_object (&process);
  ask (&child, "map");
  process = scan_and_find (scanner, PYMEMD_SCAN_ROLLUP, child.pid);
  g_assert_cmpint (pymemd_process_get_sampled_at (process), ==, first);
  g_assert_cmpuint (pymemd_process_get_rollup_reads (process), ==, reads);
  pymemd_test_child_stop (&child);
}

static void
read_fixture_statm (PymemdStatm *statm)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "proc-mixed", "1002", "statm", NULL);
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, &error));
  g_assert_true (pymemd_statm_parse (text, statm, &error));
  g_assert_no_error (error);
}

/* The rule that decides which processes a tick reads again, on the
 * captured statm of 1002 and that statm moved. */
static void
test_resample_rule (void)
{
  const guint64 refresh = 30 * G_USEC_PER_SEC;
  const gint64 second = G_USEC_PER_SEC;
  PymemdStatm then, now;
  g_autoptr(GError) error = NULL;

  read_fixture_statm (&then);
  g_assert_cmpuint (then.resident, ==, 32240);
  g_assert_cmpuint (then.shared, ==, 2779);

  g_assert_cmpint (pymemd_scanner_resample_reason (NULL, &then, FALSE, FALSE), ==,
                   PYMEMD_RESAMPLE_FIRST);
  now = then;
  g_assert_cmpint (pymemd_scanner_resample_reason (&then, &now, FALSE, FALSE), ==,
                   PYMEMD_RESAMPLE_NONE);
  /* Up to the threshold, either way, it stands; past it, it is read. */
  now.resident = then.resident + PYMEMD_MOVED_PAGES;
  g_assert_cmpint (pymemd_scanner_resample_reason (&then, &now, FALSE, FALSE), ==,
                   PYMEMD_RESAMPLE_NONE);
  now.resident = then.resident - PYMEMD_MOVED_PAGES;
  g_assert_cmpint (pymemd_scanner_resample_reason (&then, &now, FALSE, FALSE), ==,
                   PYMEMD_RESAMPLE_NONE);
  now.resident = then.resident + PYMEMD_MOVED_PAGES + 1;
  g_assert_cmpint (pymemd_scanner_resample_reason (&then, &now, FALSE, FALSE), ==,
                   PYMEMD_RESAMPLE_MOVED);
  now.resident = then.resident - PYMEMD_MOVED_PAGES - 1;
  g_assert_cmpint (pymemd_scanner_resample_reason (&then, &now, FALSE, FALSE), ==,
                   PYMEMD_RESAMPLE_MOVED);
  /* File pages traded for anonymous ones: resident alone did not move. */
  now = then;
  now.shared = then.shared + PYMEMD_MOVED_PAGES + 1;
  g_assert_cmpint (pymemd_scanner_resample_reason (&then, &now, FALSE, FALSE), ==,
                   PYMEMD_RESAMPLE_MOVED);
  now = then;
  g_assert_cmpint (pymemd_scanner_resample_reason (&then, &now, TRUE, FALSE), ==,
                   PYMEMD_RESAMPLE_SHARERS);
  g_assert_cmpint (pymemd_scanner_resample_reason (&then, &now, FALSE, TRUE), ==,
                   PYMEMD_RESAMPLE_AGE);

  /* The refresh: due once its phase passed since the read, never later
   * than a period after it; a period of 0 is every tick. */
  /* (phase 5 s of 30: at 95, 125, 155 s ...) */
  g_assert_false (pymemd_scanner_refresh_due (5 * second, 100 * second, 124 * second, refresh));
  g_assert_true (pymemd_scanner_refresh_due (5 * second, 100 * second, 125 * second, refresh));
  g_assert_false (pymemd_scanner_refresh_due (5 * second, 125 * second, 154 * second, refresh));
  g_assert_true (pymemd_scanner_refresh_due (5 * second, 125 * second, 155 * second, refresh));
  g_assert_true (pymemd_scanner_refresh_due (35 * second, 100 * second, 125 * second, refresh));
  g_assert_true (pymemd_scanner_refresh_due (0, 100 * second, 130 * second, refresh));
  g_assert_true (pymemd_scanner_refresh_due (0, 100 * second, 99 * second, refresh));
  g_assert_true (pymemd_scanner_refresh_due (0, 100 * second, 100 * second, 0));
  g_assert_false (pymemd_statm_parse ("89086 32240\n", &now, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE);
  g_clear_error (&error);
  g_assert_false (pymemd_statm_parse ("89086 x 2779 691 0 36066 0\n", &now, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE);
}

/* Working figures out from the last read: only where the process's own
 * anonymous pages alone moved, all of them its alone and dirty. */
static void
test_estimate (void)
{
  PymemdCounters read = { { 0 }, 0 }, estimate, bad;
  PymemdStatm then = { 2500, 1500 }, now = then;
  const guint64 page = 4096;

  for (guint f = 0; f < PYMEMD_N_FIELDS; f++)
    read.present |= 1u << f;
  read.value[PYMEMD_FIELD_RSS] = 2500 * page;
  read.value[PYMEMD_FIELD_PSS] = 1200 * page;
  read.value[PYMEMD_FIELD_PSS_DIRTY] = 1000 * page;
  read.value[PYMEMD_FIELD_PSS_ANON] = read.value[PYMEMD_FIELD_ANONYMOUS] = 1000 * page;
  read.value[PYMEMD_FIELD_PRIVATE_DIRTY] = 1000 * page;
  read.value[PYMEMD_FIELD_SHARED_CLEAN] = 1500 * page;
  read.value[PYMEMD_FIELD_PSS_FILE] = 200 * page;

  /* 256 pages more of its own, and 10 file pages (within the threshold). */
  now.resident = then.resident + 266;
  now.shared = then.shared + 10;
  g_assert_true (pymemd_scanner_estimate (&read, &then, &now, page, &estimate));
  g_assert_cmpuint (estimate.value[PYMEMD_FIELD_RSS], ==, (2500 + 256) * page);
  g_assert_cmpuint (estimate.value[PYMEMD_FIELD_PSS], ==, (1200 + 256) * page);
  g_assert_cmpuint (estimate.value[PYMEMD_FIELD_PSS_ANON], ==, (1000 + 256) * page);
  g_assert_cmpuint (estimate.value[PYMEMD_FIELD_ANONYMOUS], ==, (1000 + 256) * page);
  g_assert_cmpuint (estimate.value[PYMEMD_FIELD_PRIVATE_DIRTY], ==, (1000 + 256) * page);
  g_assert_cmpuint (estimate.value[PYMEMD_FIELD_PSS_DIRTY], ==, (1000 + 256) * page);
  g_assert_cmpuint (estimate.value[PYMEMD_FIELD_SHARED_CLEAN], ==, 1500 * page);
  g_assert_cmpuint (estimate.value[PYMEMD_FIELD_PSS_FILE], ==, 200 * page);
  /* 500 freed. */
  now.resident = then.resident - 500;
  now.shared = then.shared;
  g_assert_true (pymemd_scanner_estimate (&read, &then, &now, page, &estimate));
  g_assert_cmpuint (estimate.value[PYMEMD_FIELD_PSS], ==, 700 * page);
  /* More freed than it had: something else happened. */
  now.resident = then.resident - 1001;
  g_assert_false (pymemd_scanner_estimate (&read, &then, &now, page, &estimate));

  now.resident = then.resident + 300;
  now.shared = then.shared + PYMEMD_MOVED_PAGES + 1; /* its file pages moved */
  g_assert_false (pymemd_scanner_estimate (&read, &then, &now, page, &estimate));
  now.shared = then.shared;
  bad = read; /* some anonymous pages shared with a forked child */
  bad.value[PYMEMD_FIELD_PSS_ANON] -= 100 * page;
  g_assert_false (pymemd_scanner_estimate (&bad, &then, &now, page, &estimate));
  bad = read;
  bad.value[PYMEMD_FIELD_SWAP] = page;
  g_assert_false (pymemd_scanner_estimate (&bad, &then, &now, page, &estimate));
  bad = read;
  bad.value[PYMEMD_FIELD_LAZY_FREE] = page;
  g_assert_false (pymemd_scanner_estimate (&bad, &then, &now, page, &estimate));
  bad = read;
  bad.value[PYMEMD_FIELD_ANON_HUGE_PAGES] = 512 * page;
  g_assert_false (pymemd_scanner_estimate (&bad, &then, &now, page, &estimate));
  bad = read; /* a kernel without Pss_Anon */
  bad.present &= ~(1u << PYMEMD_FIELD_PSS_ANON);
  g_assert_false (pymemd_scanner_estimate (&bad, &then, &now, page, &estimate));
}

/* 1000 processes read in one tick, their phases spread over a 30 s
 * refresh, ticks every 2 s: each is read again within 32 s of its last
 * read, at its own phase, never sooner than a period after the first
 * refresh, and no tick reads more than its even share (1000 * 2 / 30)
 * plus one. */
static void
test_refresh_spread (void)
{
  const guint64 period = 30 * G_USEC_PER_SEC;
  const gint64 tick = 2 * G_USEC_PER_SEC, start = 1000 * G_USEC_PER_SEC;
  g_autofree gint64 *last = g_new (gint64, 1000);
  guint64 reads = 0;

  for (guint i = 0; i < 1000; i++)
    last[i] = start;
  for (gint64 now = start + tick; now <= start + 10 * (gint64) period; now += tick)
    {
      guint due = 0;

      for (guint i = 0; i < 1000; i++)
        {
          guint64 phase = (guint64) i * period / 1000;

          g_assert_cmpint (now - last[i], <=, (gint64) period + tick);
          if (pymemd_scanner_refresh_due (phase, last[i], now, period))
            {
              /* After the first, exactly a period apart. */
              g_assert_true (last[i] == start || now - last[i] == (gint64) period);
              last[i] = now;
              due++;
            }
        }
      g_assert_cmpuint (due, <=, 1000 * 2 / 30 + 1);
      reads += due;
    }
  /* Ten periods: ten reads each. */
  g_assert_cmpuint (reads, ==, 10 * 1000);
}

static guint64
reads_of (PymemdScanner *scanner, GPid pid)
{
  g_autoptr(PymemdProcess) process = scan_and_find (scanner, PYMEMD_SCAN_ROLLUP, pid);

  g_assert_nonnull (process);
  return pymemd_process_get_rollup_reads (process);
}

static guint64
reads_now (PymemdScanner *scanner, GPid pid)
{
  g_autoptr(GPtrArray) processes = pymemd_scanner_get_processes (scanner);

  for (guint i = 0; i < processes->len; i++)
    if (pymemd_process_get_pid (g_ptr_array_index (processes, i)) == pid)
      return pymemd_process_get_rollup_reads (g_ptr_array_index (processes, i));
  g_assert_not_reached ();
}

/* A python no one else runs (so that nobody else's start or exit counts
 * as a change of its sharers), in TMP; NULL (the test skipped) without one. */
static char *
copy_of_system_python (const char *tmp)
{
  if (!g_file_test ("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("no /usr/bin/python3");
      return NULL;
    }
  return pymemd_test_copy_file ("/usr/bin/python3", tmp, "python3");
}

/* PROCESS's figures against a read of its smaps_rollup now: RSS and PSS
 * within 16 pages (docs/pymemd.8, SAMPLING). */
static void
assert_near_full_read (PymemdProcess *process)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/smaps_rollup", pymemd_process_get_pid (process));
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;
  const PymemdCounters *shown = pymemd_process_get_rollup (process);
  PymemdCounters full;
  const gint64 bound = PYMEMD_MOVED_PAGES * 4096;

  g_assert_true (g_file_get_contents (path, &text, NULL, &error));
  g_assert_true (pymemd_rollup_parse (text, strlen (text), &full, &error));
  g_assert_no_error (error);
  g_assert_cmpint (ABS ((gint64) shown->value[PYMEMD_FIELD_RSS] - (gint64) full.value[PYMEMD_FIELD_RSS]), <=, bound);
  g_assert_cmpint (ABS ((gint64) shown->value[PYMEMD_FIELD_PSS] - (gint64) full.value[PYMEMD_FIELD_PSS]), <=, bound);
  g_assert_cmpint (ABS ((gint64) shown->value[PYMEMD_FIELD_PRIVATE_DIRTY] -
                        (gint64) full.value[PYMEMD_FIELD_PRIVATE_DIRTY]), <=, bound);
}

/* Real interpreters of a python no one else runs (so that nobody else's
 * start or exit counts as a change of sharers): a rollup tick reads again
 * the one that allocated 1 MiB, not the idle one; both when a third
 * starts or ends; every one once its sample is older than the refresh. */
static void
test_sample_what_moved (void)
{
  g_autoptr(PymemdScanner) scanner = scanner_for ("/proc");
  g_autofree char *tmp = pymemd_test_mkdtemp ();
  g_autofree char *python = NULL;
  g_autoptr(GError) error = NULL;
  const char *argv[] = { NULL, "-c", ON_REQUEST, NULL };
  PymemdTestChild busy, idle, third;
  PymemdScanBudget budget;
  g_autoptr(PymemdProcess) process = NULL;
  gint64 confirmed;

  python = copy_of_system_python (tmp);
  if (python == NULL)
    return;
  argv[0] = python;
  g_assert_true (pymemd_test_child_spawn (&busy, argv, NULL, &error));
  g_assert_true (pymemd_test_child_spawn (&idle, argv, NULL, &error));
  g_assert_no_error (error);
  /* The code that allocates, faulted in (file pages) before the read. */
  ask (&busy, "1048576");
  /* Each process's refresh comes at its own moment of the period, which
   * may be right after its first read: an hour, so that none comes
   * within this test unless asked for. */
  pymemd_scanner_get_budget (scanner, &budget);
  g_assert_cmpuint (budget.rollup_refresh_us, ==, 30 * G_USEC_PER_SEC);
  budget.rollup_refresh_us = 3600 * (guint64) G_USEC_PER_SEC;
  pymemd_scanner_set_budget (scanner, &budget);

  g_assert_cmpuint (reads_of (scanner, busy.pid), ==, 1);
  g_assert_cmpuint (reads_now (scanner, idle.pid), ==, 1);
  /* Nothing moved: the samples stand, vouched for by this tick. */
  process = scan_and_find (scanner, PYMEMD_SCAN_ROLLUP, idle.pid);
  g_assert_cmpuint (pymemd_process_get_rollup_reads (process), ==, 1);
  confirmed = pymemd_process_get_sampled_at (process);
  g_assert_cmpint (confirmed, ==, pymemd_scanner_get_timestamp (scanner));
  g_assert_cmpuint (reads_now (scanner, busy.pid), ==, 1);

  ask (&busy, "1048576");
  /* 1 MiB of its own anonymous pages: worked out from the read, not read;
   * within 16 pages of what a read shows. */
  g_clear_object (&process);
  process = scan_and_find (scanner, PYMEMD_SCAN_ROLLUP, busy.pid);
  g_assert_cmpuint (pymemd_process_get_rollup_reads (process), ==, 1);
  g_assert_cmpuint (pymemd_process_get_estimates (process), ==, 1);
  assert_near_full_read (process);
  g_assert_cmpuint (reads_now (scanner, idle.pid), ==, 1);

  /* A third interpreter of the image: the others' PSS of it moved. */
  g_assert_true (pymemd_test_child_spawn (&third, argv, NULL, &error));
  g_assert_cmpuint (reads_of (scanner, busy.pid), ==, 2);
  g_assert_cmpuint (reads_now (scanner, idle.pid), ==, 2);
  g_assert_cmpuint (reads_of (scanner, idle.pid), ==, 2);
  pymemd_test_child_stop (&third);
  g_assert_cmpuint (reads_of (scanner, idle.pid), ==, 3);
  g_assert_cmpuint (reads_now (scanner, busy.pid), ==, 3);

  /* Older than the refresh: read again, moved or not (a period holds
   * one of its refreshes, wherever its moment); then not again within
   * the period. */
  budget.rollup_refresh_us = 2 * G_USEC_PER_SEC; /* a scan of every interpreter here is far shorter */
  pymemd_scanner_set_budget (scanner, &budget);
  g_usleep (2100 * 1000);
  g_assert_cmpuint (reads_of (scanner, idle.pid), ==, 4);
  budget.rollup_refresh_us = 3600 * (guint64) G_USEC_PER_SEC;
  pymemd_scanner_set_budget (scanner, &budget);
  g_assert_cmpuint (reads_of (scanner, idle.pid), ==, 4);
  /* A full pass reads everyone. */
  g_clear_object (&process);
  process = scan_and_find (scanner, PYMEMD_SCAN_ALL, idle.pid);
  g_assert_cmpuint (pymemd_process_get_rollup_reads (process), ==, 5);

  pymemd_test_child_stop (&busy);
  pymemd_test_child_stop (&idle);
  pymemd_test_rm_rf (tmp);
}

/* A process whose read stalls it past the budget (a huge mapping, here
 * a budget of 1 us) is read again only where its own pages moved or it
 * forked: not when another interpreter of its image comes, not at its
 * refresh, not in a full pass that cannot read it in detail. */
static void
test_stalling_process (void)
{
  g_autoptr(PymemdScanner) scanner = scanner_for ("/proc");
  g_autofree char *tmp = pymemd_test_mkdtemp ();
  g_autofree char *python = NULL;
  g_autoptr(GError) error = NULL;
  const char *argv[] = { NULL, "-c", ON_REQUEST, NULL };
  PymemdTestChild forking, growing, third;
  PymemdScanBudget budget;
  guint64 f, g;

  python = copy_of_system_python (tmp);
  if (python == NULL)
    return;
  argv[0] = python;
  g_assert_true (pymemd_test_child_spawn (&forking, argv, NULL, &error));
  g_assert_true (pymemd_test_child_spawn (&growing, argv, NULL, &error));
  g_assert_no_error (error);
  ask (&growing, "1048576"); /* the code that allocates, faulted in before the read */
  f = reads_of (scanner, forking.pid);
  g = reads_now (scanner, growing.pid);

  /* Their last reads (due on the next tick) now count as stalling. */
  pymemd_scanner_get_budget (scanner, &budget);
  budget.rollup_max_stall_us = 1;
  budget.rollup_refresh_us = G_USEC_PER_SEC;
  budget.detail_max_rss = 4096;
  pymemd_scanner_set_budget (scanner, &budget);

  g_assert_true (pymemd_test_child_spawn (&third, argv, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (reads_of (scanner, forking.pid), ==, f);
  g_assert_cmpuint (reads_now (scanner, growing.pid), ==, g);
  g_usleep (1100 * 1000);
  g_assert_cmpuint (reads_of (scanner, forking.pid), ==, f);
  g_assert_cmpuint (reads_now (scanner, growing.pid), ==, g);
  {
    g_autoptr(PymemdProcess) process = scan_and_find (scanner, PYMEMD_SCAN_ALL, forking.pid);
    g_assert_error (pymemd_process_get_detail_error (process), PYMEMD_ERROR, PYMEMD_ERROR_BUDGET);
    g_assert_cmpuint (pymemd_process_get_rollup_reads (process), ==, f);
    g_assert_cmpuint (reads_now (scanner, growing.pid), ==, g);
  }
  pymemd_test_child_stop (&third);

  /* Its own anonymous pages moved: worked out, still no read; its file
   * pages moved: read. */
  ask (&growing, "1048576");
  g_assert_cmpuint (reads_of (scanner, growing.pid), ==, g);
  ask (&growing, "map");
  g_assert_cmpuint (reads_of (scanner, growing.pid), ==, g + 1);
  g_assert_cmpuint (reads_now (scanner, forking.pid), ==, f);
  /* It forked (an interpreter child): its anonymous pages are shared. */
  ask (&forking, "fork");
  g_assert_cmpuint (reads_of (scanner, forking.pid), ==, f + 1);

  pymemd_test_child_stop (&forking);
  pymemd_test_child_stop (&growing);
  pymemd_test_rm_rf (tmp);
}

static const PymemdCredentials *
credentials_after_tick (PymemdScanner *scanner, PymemdScanFlags flags, GPid pid, PymemdProcess **process)
{
  g_clear_object (process);
  *process = scan_and_find (scanner, flags, pid);
  g_assert_nonnull (*process);
  return pymemd_process_get_credentials (*process);
}

/* As root, an ON_REQUEST child (which may change its uid), with the
 * scanner's refresh at REFRESH_US; FALSE (the test skipped) otherwise. */
static gboolean
spawn_root_child (PymemdScanner *scanner, PymemdTestChild *child, guint64 refresh_us)
{
  g_autoptr(GError) error = NULL;
  PymemdScanBudget budget;

  if (!pymemd_test_is_root ())
    {
      g_test_skip ("needs root (the child changes its uid)");
      return FALSE;
    }
  if (!need_python ())
    return FALSE;
  g_assert_true (pymemd_test_child_spawn_python (child, ON_REQUEST, NULL, &error));
  g_assert_no_error (error);
  pymemd_scanner_get_budget (scanner, &budget);
  budget.rollup_refresh_us = refresh_us;
  pymemd_scanner_set_budget (scanner, &budget);
  return TRUE;
}

/* A tick reads a process's status only when the owner the kernel gives
 * /proc/PID or its status moved, or at the refresh: a process that drops
 * to nobody is seen as nobody's on the next tick; a name set with prctl
 * (which moves no owner) at the refresh. */
static void
test_credentials_on_tick (void)
{
  g_autoptr(PymemdScanner) scanner = scanner_for ("/proc");
  g_autoptr(PymemdProcess) process = NULL;
  PymemdScanBudget budget;
  PymemdTestChild child;
  const PymemdCredentials *credentials;
  g_autofree char *name = NULL;

  /* No refresh within the test unless asked for (see test_sample_what_moved). */
  if (!spawn_root_child (scanner, &child, 3600 * (guint64) G_USEC_PER_SEC))
    return;
  pymemd_scanner_get_budget (scanner, &budget);
  credentials = credentials_after_tick (scanner, PYMEMD_SCAN_ROLLUP, child.pid, &process);
  g_assert_cmpuint (credentials->uid[0], ==, 0);
  name = g_strdup (credentials->name);
  g_assert_cmpstr (name, !=, "renamed");

  ask (&child, "name");
  credentials = credentials_after_tick (scanner, PYMEMD_SCAN_ROLLUP, child.pid, &process);
  g_assert_cmpstr (credentials->name, ==, name);

  ask (&child, "uid");
  credentials = credentials_after_tick (scanner, PYMEMD_SCAN_ROLLUP, child.pid, &process);
  for (guint i = 0; i < 4; i++)
    {
      g_assert_cmpuint (credentials->uid[i], ==, 65534);
      g_assert_cmpuint (credentials->gid[i], ==, 65534);
    }
  g_assert_cmpstr (credentials->name, ==, "renamed");

  /* And at the refresh, whatever moved. */
  budget.rollup_refresh_us = 0;
  pymemd_scanner_set_budget (scanner, &budget);
  credentials = credentials_after_tick (scanner, PYMEMD_SCAN_ROLLUP, child.pid, &process);
  g_assert_cmpuint (credentials->uid[1], ==, 65534);
  pymemd_test_child_stop (&child);
}

/* Where process events are heard, a tick reads a process's status when
 * an event said its ids or name changed (or events were lost), or when
 * the owner the kernel gives its status moved (it turned non-dumpable,
 * which sends no event), and never for the refresh alone. */
static void
test_credentials_heard (void)
{
  g_autoptr(PymemdScanner) scanner = scanner_for ("/proc");
  g_autoptr(PymemdProcess) process = NULL;
  const PymemdScanFlags heard = PYMEMD_SCAN_ROLLUP | PYMEMD_SCAN_HEARD;
  PymemdTestChild child;
  const PymemdCredentials *credentials;
  g_autofree char *name = NULL;

  /* A refresh on every tick: heard, it reads nothing. */
  if (!spawn_root_child (scanner, &child, 0))
    return;
  credentials = credentials_after_tick (scanner, heard, child.pid, &process);
  name = g_strdup (credentials->name);
  g_assert_true (credentials->dumpable);

  ask (&child, "name");
  g_assert_cmpstr (credentials_after_tick (scanner, heard, child.pid, &process)->name, ==, name);
  /* Another pid's event is not this one's. */
  pymemd_scanner_note_change (scanner, child.pid + 1);
  g_assert_cmpstr (credentials_after_tick (scanner, heard, child.pid, &process)->name, ==, name);
  pymemd_scanner_note_change (scanner, child.pid);
  g_assert_cmpstr (credentials_after_tick (scanner, heard, child.pid, &process)->name, ==, "renamed");

  /* Its saved uid alone: no owner moves. Events lost: every status. */
  ask (&child, "suid");
  g_assert_cmpuint (credentials_after_tick (scanner, heard, child.pid, &process)->uid[2], ==, 0);
  pymemd_scanner_note_change (scanner, 0);
  g_assert_cmpuint (credentials_after_tick (scanner, heard, child.pid, &process)->uid[2], ==, 65534);
  g_assert_true (pymemd_process_get_credentials (process)->dumpable);

  /* Nobody's: the kernel turns it non-dumpable (its status is root's,
   * as before), so only the event tells. */
  ask (&child, "uid");
  pymemd_scanner_note_change (scanner, child.pid);
  g_assert_cmpuint (credentials_after_tick (scanner, heard, child.pid, &process)->uid[1], ==, 65534);
  g_assert_false (pymemd_process_get_credentials (process)->dumpable);

  /* Dumpable again, and not, with prctl: no event, its status's owner
   * moves (nobody's, root's). */
  ask (&child, "dump");
  g_assert_true (credentials_after_tick (scanner, heard, child.pid, &process)->dumpable);
  ask (&child, "nodump");
  g_assert_false (credentials_after_tick (scanner, heard, child.pid, &process)->dumpable);
  pymemd_test_child_stop (&child);
}

/* A process whose main thread has exited while another runs has no memory
 * to read through /proc/PID (its statm is zeros, its smaps_rollup fails):
 * it is read through its live thread's /proc/PID/task/TID, known by its
 * own start time, on ticks with and without a listing. */
static void
test_leader_exited (void)
{
  g_autoptr(PymemdScanner) scanner = scanner_for ("/proc");
  g_autoptr(PymemdProcess) process = NULL;
  g_autoptr(GError) error = NULL;
  PymemdTestChild child;
  guint64 start_time;
  const PymemdScanFlags ticks[] = { PYMEMD_SCAN_ROLLUP, PYMEMD_SCAN_ROLLUP | PYMEMD_SCAN_KNOWN_ONLY,
                                    PYMEMD_SCAN_ALL };

  if (!need_python ())
    return;
  g_assert_true (pymemd_test_child_spawn_python (&child, PYMEMD_TEST_LEADER_EXITS, NULL, &error));
  g_assert_no_error (error);
  process = scan_and_find (scanner, PYMEMD_SCAN_ROLLUP, child.pid);
  g_assert_nonnull (process);
  start_time = pymemd_process_get_start_time (process);

  pymemd_test_child_send (&child, "exit");
  pymemd_test_wait_for_state (child.pid, 'Z');
  for (guint i = 0; i < G_N_ELEMENTS (ticks); i++)
    {
      g_clear_object (&process);
      process = scan_and_find (scanner, ticks[i], child.pid);
      g_assert_nonnull (process);
      g_assert_cmpuint (pymemd_process_get_start_time (process), ==, start_time);
      g_assert_nonnull (pymemd_process_get_rollup (process));
      g_assert_cmpuint (pymemd_process_get_rollup (process)->value[PYMEMD_FIELD_PSS], >, 1024 * 1024);
    }
  g_assert_nonnull (pymemd_process_get_categories (process));
  g_assert_null (pymemd_process_get_detail_error (process));
  pymemd_test_child_stop (&child);
}

/* Kills PID and waits until /proc/PID/stat says it is a zombie (it
 * exited, and nobody has reaped it yet). */
static void
kill_to_zombie (GPid pid)
{
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  pymemd_test_wait_for_state (pid, 'Z');
}

/* A pass of FLAGS lists PID. */
static void
assert_scan_finds (PymemdScanner *scanner, PymemdScanFlags flags, int pid)
{
  g_autoptr(PymemdProcess) process = scan_and_find (scanner, flags, pid);

  g_assert_nonnull (process);
}

/* A pass without a listing (the daemon's, while it hears process events)
 * finds no new interpreter and stats no executable: an interpreter that
 * exited, reaped or not, is forgotten because its reads fail. */
static void
test_known_only (void)
{
  g_autoptr(PymemdScanner) scanner = scanner_for ("/proc");
  g_autoptr(GError) error = NULL;
  const char *code = "import sys\nprint('ready', flush=True)\nsys.stdin.read()\n";
  PymemdTestChild zombie, reaped, late;
  GPid reaped_pid;

  if (!need_python ())
    return;
  g_assert_true (pymemd_test_child_spawn_python (&zombie, code, NULL, &error));
  g_assert_true (pymemd_test_child_spawn_python (&reaped, code, NULL, &error));
  g_assert_no_error (error);
  assert_scan_finds (scanner, PYMEMD_SCAN_ROLLUP, zombie.pid);
  assert_scan_finds (scanner, PYMEMD_SCAN_ROLLUP | PYMEMD_SCAN_KNOWN_ONLY, reaped.pid);

  /* A new one is found by a listing only. */
  g_assert_true (pymemd_test_child_spawn_python (&late, code, NULL, &error));
  g_assert_no_error (error);
  g_assert_null (scan_and_find (scanner, PYMEMD_SCAN_ROLLUP | PYMEMD_SCAN_KNOWN_ONLY, late.pid));
  assert_scan_finds (scanner, PYMEMD_SCAN_ROLLUP, late.pid);

  /* One exits and stays a zombie, the other is reaped. */
  kill_to_zombie (zombie.pid);
  reaped_pid = reaped.pid;
  pymemd_test_child_stop (&reaped);
  assert_scan_finds (scanner, PYMEMD_SCAN_ROLLUP | PYMEMD_SCAN_KNOWN_ONLY, late.pid);
  g_assert_false (pymemd_scanner_knows_pid (scanner, zombie.pid));
  g_assert_false (pymemd_scanner_knows_pid (scanner, reaped_pid));

  pymemd_test_child_stop (&zombie);
  pymemd_test_child_stop (&late);
}

/* Without a listing, an interpreter whose exec was heard is looked at
 * again by the pass itself (the monitor's own look may come after it): it
 * is not sampled as the program it ran before. And one the stall budget
 * keeps from being read on this tick is still found to have exited. */
static void
test_known_only_exec_and_paced (void)
{
  g_autoptr(PymemdScanner) scanner = scanner_for ("/proc");
  g_autoptr(PymemdScanner) pacing = scanner_for ("/proc");
  g_autoptr(GError) error = NULL;
  const char *execs = "import os, sys\nprint('ready', flush=True)\nsys.stdin.readline()\n"
                      "os.execv('/bin/sleep', ['sleep', '60'])\n";
  const char *idle = "import sys\nprint('ready', flush=True)\nsys.stdin.read()\n";
  g_autofree char *exe_link = NULL;
  PymemdTestChild execing, paced;
  PymemdScanBudget budget;

  if (!need_python () || !g_file_test ("/bin/sleep", G_FILE_TEST_IS_EXECUTABLE))
    return;
  /* For PACING every read counts as stalling its process: each is read
   * again only many ticks later. */
  pymemd_scanner_get_budget (pacing, &budget);
  budget.rollup_max_stall_us = 1;
  pymemd_scanner_set_budget (pacing, &budget);
  g_assert_true (pymemd_test_child_spawn_python (&execing, execs, NULL, &error));
  g_assert_true (pymemd_test_child_spawn_python (&paced, idle, NULL, &error));
  g_assert_no_error (error);
  assert_scan_finds (scanner, PYMEMD_SCAN_ROLLUP, execing.pid);
  assert_scan_finds (pacing, PYMEMD_SCAN_ROLLUP, paced.pid);

  /* It runs sleep now; the exec is noted as the monitor notes its event. */
  g_assert_cmpint (write (execing.stdin_fd, "go\n", 3), ==, 3);
  exe_link = g_strdup_printf ("/proc/%d/exe", execing.pid);
  for (guint i = 0; i < 3000; i++)
    {
      g_autofree char *target = g_file_read_link (exe_link, NULL);

      if (target != NULL && g_str_has_suffix (target, "/sleep"))
        break;
      g_usleep (1000);
    }
  pymemd_scanner_note_exec (scanner, execing.pid);
  g_assert_null (scan_and_find (scanner, PYMEMD_SCAN_ROLLUP | PYMEMD_SCAN_KNOWN_ONLY, execing.pid));
  g_assert_false (pymemd_scanner_knows_pid (scanner, execing.pid));

  /* The paced one is not read on the next tick, then exits and stays a
   * zombie. */
  {
    g_autoptr(PymemdProcess) found = scan_and_find (pacing, PYMEMD_SCAN_ROLLUP | PYMEMD_SCAN_KNOWN_ONLY, paced.pid);

    g_assert_nonnull (found);
    g_assert_cmpuint (pymemd_process_get_rollup_due (found), >, 2);
  }
  kill_to_zombie (paced.pid);
  g_assert_null (scan_and_find (pacing, PYMEMD_SCAN_ROLLUP | PYMEMD_SCAN_KNOWN_ONLY, paced.pid));
  g_assert_false (pymemd_scanner_knows_pid (pacing, paced.pid));

  pymemd_test_child_stop (&execing);
  pymemd_test_child_stop (&paced);
}


static PymemdProcess *
find_pid (GPtrArray *processes, int pid)
{
  for (guint i = 0; i < processes->len; i++)
    if (pymemd_process_get_pid (g_ptr_array_index (processes, i)) == pid)
      return g_ptr_array_index (processes, i);
  g_error ("pid %d not among the processes scanned", pid);
  return NULL;
}

/* A pass with a share so small that one read takes a user's whole
 * balance (the balances start full again whenever the share changes). */
static GPtrArray *
pass_with_share (PymemdScanner *scanner, guint64 share_us)
{
  g_autoptr(GError) error = NULL;
  PymemdScanBudget budget;

  pymemd_scanner_get_budget (scanner, &budget);
  budget.detail_share_us = share_us;
  pymemd_scanner_set_budget (scanner, &budget);
  g_assert_true (pymemd_scanner_scan (scanner, PYMEMD_SCAN_ALL, &error));
  g_assert_no_error (error);
  return pymemd_scanner_get_processes (scanner);
}

/* PROCESS has this pass's exact figures, where the host allows exact
 * passes at all. */
static void
assert_exact (PymemdScanner *scanner, PymemdProcess *process)
{
  if (pymemd_scanner_get_exact_error (scanner) != NULL)
    return;
  g_assert_no_error (pymemd_process_get_exact_error (process));
  g_assert_nonnull (pymemd_process_get_exact (process));
}

static gboolean
was_deferred (PymemdProcess *process)
{
  const GError *error = pymemd_process_get_detail_error (process);

  return g_error_matches (error, PYMEMD_ERROR, PYMEMD_ERROR_BUDGET) &&
         strstr (error->message, "Deferred") != NULL;
}

/* Each user's detail reading is charged to its share: once one user's
 * is spent, its other processes wait (with their rollup samples, and
 * the reason), another user's do not; and those that waited are read
 * first on the next pass, so each gets its turn, with its exact figures
 * (a deferral of an earlier pass does not stick). */
static void
test_detail_share (void)
{
  g_autoptr(PymemdScanner) scanner = scanner_for ("/proc");
  g_autoptr(GError) error = NULL;
  PymemdTestChild same[3], other;
  gboolean read_before[3] = { FALSE, FALSE, FALSE };

  if (!pymemd_test_need_root_and_python ())
    return;
  /* Users nothing else runs as: the share is per uid. */
  for (guint i = 0; i < 3; i++)
    {
      g_assert_true (pymemd_test_child_spawn_python (&same[i], PYMEMD_TEST_AS_UID (54322), NULL, &error));
      g_assert_no_error (error);
    }
  g_assert_true (pymemd_test_child_spawn_python (&other, PYMEMD_TEST_AS_UID (54321), NULL, &error));
  g_assert_no_error (error);

  /* Shares of 1, 2 and 3 µs a second: 30-90 µs at once, less than one read. */
  for (guint64 pass = 1; pass <= 3; pass++)
    {
      g_autoptr(GPtrArray) processes = pass_with_share (scanner, pass);
      guint read_now = 0, first_read = 3;
      PymemdProcess *theirs = find_pid (processes, other.pid);

      for (guint i = 0; i < 3; i++)
        {
          PymemdProcess *process = find_pid (processes, same[i].pid);

          /* Waiting or not, each has this pass's rollup sample. */
          g_assert_nonnull (pymemd_process_get_rollup (process));
          if (pymemd_process_get_detail_tick (process) > 0 && !was_deferred (process))
            {
              g_assert_nonnull (pymemd_process_get_categories (process));
              assert_exact (scanner, process);
              read_now++;
              first_read = i;
              continue;
            }
          g_assert_true (was_deferred (process));
          g_assert_null (pymemd_process_get_exact (process));
          /* One read on an earlier pass keeps its categories, beside the reason. */
          g_assert_true ((pymemd_process_get_categories (process) != NULL) == read_before[i]);
        }
      /* One read per pass for the user, and not one read twice before
       * every one was read once. */
      g_assert_cmpuint (read_now, ==, 1);
      g_assert_false (read_before[first_read]);
      read_before[first_read] = TRUE;
      /* The other user's share is its own. */
      g_assert_nonnull (pymemd_process_get_categories (theirs));
      g_assert_false (was_deferred (theirs));
      assert_exact (scanner, theirs);
    }
  g_assert_true (read_before[0] && read_before[1] && read_before[2]);

  for (guint i = 0; i < 3; i++)
    pymemd_test_child_stop (&same[i]);
  pymemd_test_child_stop (&other);
}

/* One smaps read is given up once it has cost more CPU time than its
 * budget: the process has no categories, says why, and keeps its
 * rollup sample. */
static void
test_detail_cpu_budget (void)
{
  g_autoptr(PymemdScanner) scanner = scanner_for ("/proc");
  g_autoptr(PymemdProcess) process = NULL;
  g_autoptr(GError) error = NULL;
  const GError *detail_error;
  PymemdScanBudget budget;
  PymemdTestChild child;

  if (!need_python ())
    return;
  g_assert_true (pymemd_test_child_spawn_python (&child, IDLE, NULL, &error));
  g_assert_no_error (error);
  pymemd_scanner_get_budget (scanner, &budget);
  budget.detail_max_cpu_us = 1;
  pymemd_scanner_set_budget (scanner, &budget);
  process = scan_and_find (scanner, PYMEMD_SCAN_ROLLUP | PYMEMD_SCAN_DETAIL, child.pid);
  g_assert_nonnull (process);
  g_assert_nonnull (pymemd_process_get_rollup (process));
  g_assert_null (pymemd_process_get_categories (process));
  detail_error = pymemd_process_get_detail_error (process);
  g_assert_error (detail_error, PYMEMD_ERROR, PYMEMD_ERROR_BUDGET);
  g_assert_nonnull (strstr (detail_error->message, "CPU time"));
  g_clear_object (&process);

  budget.detail_max_cpu_us = G_USEC_PER_SEC;
  pymemd_scanner_set_budget (scanner, &budget);
  process = scan_and_find (scanner, PYMEMD_SCAN_ROLLUP | PYMEMD_SCAN_DETAIL, child.pid);
  g_assert_nonnull (pymemd_process_get_categories (process));
  g_assert_null (pymemd_process_get_detail_error (process));
  pymemd_test_child_stop (&child);
}

/* An interpreter that runs as UID and, on each "map" line, maps its
 * executable and touches every page (its resident and shared counts
 * move: a tick reads its smaps_rollup again). */
#define AS_UID_MAPPING(uid) \
  "import mmap, os, sys\n" \
  "os.setresgid(" #uid ", " #uid ", " #uid "); os.setresuid(" #uid ", " #uid ", " #uid ")\n" \
  "keep = []\n" \
  "print('ready', flush=True)\n" \
  "for line in sys.stdin:\n" \
  "    f = open(sys.executable, 'rb')\n" \
  "    m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)\n" \
  "    for i in range(0, len(m), 4096): m[i]\n" \
  "    keep.append(m)\n" \
  "    print('done', flush=True)\n"

/* Each user's share of the ticks' reads: once one user's is spent, its
 * other processes' figures stand as of their last read (sampled_at
 * unchanged), another user's are read. */
static void
test_rollup_share (void)
{
  g_autoptr(PymemdScanner) scanner = scanner_for ("/proc");
  g_autoptr(GError) error = NULL;
  PymemdTestChild same[2], other;
  PymemdTestChild *all[3] = { &same[0], &same[1], &other };
  gint64 sampled[3];
  guint64 rss[3];
  PymemdScanBudget budget;
  guint read_now = 0;

  if (!pymemd_test_need_root_and_python ())
    return;
  for (guint i = 0; i < 2; i++)
    g_assert_true (pymemd_test_child_spawn_python (&same[i], AS_UID_MAPPING (54325), NULL, &error));
  g_assert_true (pymemd_test_child_spawn_python (&other, AS_UID_MAPPING (54326), NULL, &error));
  g_assert_no_error (error);

  /* No refresh within the test: a read is for pages that moved. */
  pymemd_scanner_get_budget (scanner, &budget);
  budget.rollup_refresh_us = 3600 * (guint64) G_USEC_PER_SEC;
  pymemd_scanner_set_budget (scanner, &budget);
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(PymemdProcess) process = scan_and_find (scanner, PYMEMD_SCAN_ROLLUP, all[i]->pid);

      g_assert_nonnull (process);
    }
  {
    g_autoptr(GPtrArray) processes = pymemd_scanner_get_processes (scanner);

    for (guint i = 0; i < 3; i++)
      {
        PymemdProcess *process = find_pid (processes, all[i]->pid);

        sampled[i] = pymemd_process_get_sampled_at (process);
        rss[i] = pymemd_process_get_rollup (process)->value[PYMEMD_FIELD_RSS];
      }
  }

  /* 1 µs a second, 10 µs at once: one read spends it. */
  budget.rollup_share_us = 1;
  pymemd_scanner_set_budget (scanner, &budget);
  for (guint i = 0; i < 3; i++)
    ask (all[i], "map");
  {
    g_autoptr(GPtrArray) processes = NULL;

    g_assert_true (pymemd_scanner_scan (scanner, PYMEMD_SCAN_ROLLUP, &error));
    g_assert_no_error (error);
    processes = pymemd_scanner_get_processes (scanner);
    for (guint i = 0; i < 3; i++)
      {
        PymemdProcess *process = find_pid (processes, all[i]->pid);
        guint64 now_rss = pymemd_process_get_rollup (process)->value[PYMEMD_FIELD_RSS];

        if (i == 2 || pymemd_process_get_sampled_at (process) != sampled[i])
          {
            /* Read: the executable's pages are in. */
            g_assert_cmpint (pymemd_process_get_sampled_at (process), >, sampled[i]);
            g_assert_cmpuint (now_rss, >, rss[i] + PYMEMD_MOVED_PAGES * 4096);
            read_now += i < 2;
          }
        else
          g_assert_cmpuint (now_rss, ==, rss[i]); /* as of its last read */
      }
  }
  g_assert_cmpuint (read_now, ==, 1);

  for (guint i = 0; i < 3; i++)
    pymemd_test_child_stop (all[i]);
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
  g_test_add_func ("/scanner/resample-rule", test_resample_rule);
  g_test_add_func ("/scanner/refresh-spread", test_refresh_spread);
  g_test_add_func ("/scanner/estimate", test_estimate);
  g_test_add_func ("/scanner/sample-what-moved", test_sample_what_moved);
  g_test_add_func ("/scanner/stalling-process", test_stalling_process);
  g_test_add_func ("/scanner/credentials-on-tick", test_credentials_on_tick);
  g_test_add_func ("/scanner/credentials-heard", test_credentials_heard);
  g_test_add_func ("/scanner/leader-exited", test_leader_exited);
  g_test_add_func ("/scanner/known-only", test_known_only);
  g_test_add_func ("/scanner/known-only/exec-and-paced", test_known_only_exec_and_paced);
  g_test_add_func ("/scanner/detail-share", test_detail_share);
  g_test_add_func ("/scanner/detail-cpu-budget", test_detail_cpu_budget);
  g_test_add_func ("/scanner/rollup-share", test_rollup_share);
  return g_test_run ();
}
