/* Tests which processes discovery calls interpreters, on fixtures and on real processes started here. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "pymemd-discovery.h"
#include "pymemd-error.h"
#include "testutil.h"

#define WAIT_FOR_STDIN "import sys; print('ready', flush=True); sys.stdin.read()"

static PymemdDiscovery *
discovery_for (const char *root)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdProcfs) procfs = pymemd_procfs_new (root, &error);
  g_autoptr(PymemdElfCache) cache = pymemd_elf_cache_new ();

  g_assert_no_error (error);
  return pymemd_discovery_new (procfs, cache);
}

static PymemdProcess *
find_pid (GPtrArray *processes, int pid)
{
  for (guint i = 0; i < processes->len; i++)
    if (pymemd_process_get_pid (g_ptr_array_index (processes, i)) == pid)
      return g_ptr_array_index (processes, i);
  return NULL;
}

static void
update (PymemdDiscovery *discovery, GPtrArray *added, GPtrArray *removed)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (pymemd_discovery_update (discovery, added, removed, &error));
  g_assert_no_error (error);
}

static void
test_fixture (void)
{
  char *root;
  g_autoptr(PymemdDiscovery) discovery = NULL;
  g_autoptr(GPtrArray) added = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) processes = NULL;
  PymemdProcess *p;

  if (!pymemd_test_need_fixture_python ())
    return;
  root = pymemd_test_copy_fixture ("proc-mixed");
  discovery = discovery_for (root);
  update (discovery, added, NULL);
  processes = pymemd_discovery_get_processes (discovery);

  /* 1003 is a C program mapping /tmp/python-notes.txt: not an interpreter. */
  g_assert_cmpuint (processes->len, ==, 2);
  g_assert_cmpuint (added->len, ==, 2);
  p = g_ptr_array_index (processes, 0);
  g_assert_cmpint (pymemd_process_get_pid (p), ==, 1001);
  g_assert_cmpuint (pymemd_process_get_start_time (p), ==, 25589);
  g_assert_cmpuint (pymemd_process_get_uid (p), ==, 0);
  g_assert_cmpstr (pymemd_process_get_exe (p), ==, "/usr/bin/python3.11");
  g_assert_cmpuint (pymemd_process_get_python_version (p), ==, 311);
  g_assert_true (pymemd_process_get_exe_is_python (p));
  g_assert_cmpstr (pymemd_process_get_cmdline (p), ==, "python3 -c import time; time.sleep(1e6)");
  g_assert_cmpint (pymemd_process_get_pid (g_ptr_array_index (processes, 1)), ==, 1002);

  /* Nothing changed: a second update adds and removes nothing. */
  g_ptr_array_set_size (added, 0);
  update (discovery, added, NULL);
  g_assert_cmpuint (added->len, ==, 0);
  pymemd_test_remove_fixture (root);
}

static void
set_start_time (const char *root, int pid, const char *old_value, const char *new_value)
{
  g_autofree char *path = g_strdup_printf ("%s/%d/stat", root, pid);
  g_autofree char *text = NULL;
  g_autofree char *needle = g_strdup_printf (" %s ", old_value);
  g_autoptr(GString) edited = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  edited = g_string_new (text);
  g_assert_cmpuint (g_string_replace (edited, needle, " 999999 ", 1), ==, 1);
  g_assert_nonnull (strstr (edited->str, new_value));
  g_assert_true (g_file_set_contents (path, edited->str, -1, NULL));
}

/* A pid that goes away and comes back is a new process: the directory fd
 * held for the old one fails, and the new one has its own start time. */
static void
test_pid_reuse_fixture (void)
{
  char *root;
  g_autoptr(PymemdDiscovery) discovery = NULL;
  g_autoptr(GPtrArray) added = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) removed = g_ptr_array_new_with_free_func (g_object_unref);
  g_autofree char *dir = NULL, *saved = NULL;

  if (!pymemd_test_need_fixture_python ())
    return;
  root = pymemd_test_copy_fixture ("proc-mixed");
  discovery = discovery_for (root);
  update (discovery, NULL, NULL);

  dir = g_strdup_printf ("%s/1001", root);
  saved = g_strdup_printf ("%s/saved-1001", root);
  g_assert_cmpint (g_rename (dir, saved), ==, 0);
  pymemd_test_copy_tree (saved, dir);
  pymemd_test_rm_rf (saved);
  set_start_time (root, 1001, "25589", "999999");

  update (discovery, added, removed);
  g_assert_cmpuint (removed->len, ==, 1);
  g_assert_cmpuint (added->len, ==, 1);
  g_assert_cmpint (pymemd_process_get_pid (g_ptr_array_index (removed, 0)), ==, 1001);
  g_assert_cmpuint (pymemd_process_get_start_time (g_ptr_array_index (removed, 0)), ==, 25589);
  g_assert_cmpint (pymemd_process_get_pid (g_ptr_array_index (added, 0)), ==, 1001);
  g_assert_cmpuint (pymemd_process_get_start_time (g_ptr_array_index (added, 0)), ==, 999999);
  pymemd_test_remove_fixture (root);
}

/* An interpreter that execs into something else stops being one. */
static void
test_exec_fixture (void)
{
  char *root;
  g_autoptr(PymemdDiscovery) discovery = NULL;
  g_autoptr(GPtrArray) removed = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) processes = NULL;
  g_autofree char *exe = NULL;

  if (!pymemd_test_need_fixture_python ())
    return;
  root = pymemd_test_copy_fixture ("proc-mixed");
  discovery = discovery_for (root);
  update (discovery, NULL, NULL);
  exe = g_strdup_printf ("%s/1002/exe", root);
  g_assert_cmpint (g_unlink (exe), ==, 0);
  g_assert_cmpint (symlink ("/bin/sh", exe), ==, 0);
  update (discovery, NULL, removed);
  g_assert_cmpuint (removed->len, ==, 1);
  processes = pymemd_discovery_get_processes (discovery);
  g_assert_null (find_pid (processes, 1002));
  g_assert_nonnull (find_pid (processes, 1001));
  pymemd_test_remove_fixture (root);
}

static PymemdProcess *
examine_real (GPid pid, GError **error)
{
  g_autoptr(PymemdDiscovery) discovery = discovery_for ("/proc");
  return pymemd_discovery_examine (discovery, pid, error);
}

static void
test_real_python (void)
{
  PymemdTestChild child;
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdProcess) process = NULL;

  if (pymemd_test_python () == NULL)
    {
      g_test_skip ("no python3");
      return;
    }
  g_assert_true (pymemd_test_child_spawn_python (&child, WAIT_FOR_STDIN, NULL, &error));
  process = examine_real (child.pid, &error);
  g_assert_no_error (error);
  g_assert_nonnull (process);
  g_assert_cmpuint (pymemd_process_get_python_version (process), >=, 300);
  {
    g_autofree char *name = g_path_get_basename (pymemd_process_get_exe (process));
    g_assert_true (g_str_has_prefix (name, "python3."));
  }
  g_assert_true (pymemd_process_get_exe_is_python (process));
  pymemd_test_child_stop (&child);
}

/* argv[0] says nothing: the kernel's exe link and the ELF do. */
static void
test_renamed_argv0 (void)
{
  PymemdTestChild child;
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdProcess) process = NULL;
  const char *argv[] = { pymemd_test_python (), "-c", WAIT_FOR_STDIN, NULL };
  g_autofree char *cmd = NULL;
  g_autofree char *resolved = NULL;

  if (argv[0] == NULL)
    {
      g_test_skip ("no python3");
      return;
    }
  /* exec -a renames argv[0] */
  cmd = g_strdup_printf ("exec -a deskbar-applet %s -c \"%s\"", argv[0], WAIT_FOR_STDIN);
  {
    const char *sh[] = { "/bin/bash", "-c", cmd, NULL };
    g_assert_true (pymemd_test_child_spawn (&child, sh, NULL, &error));
  }
  process = examine_real (child.pid, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (pymemd_process_get_cmdline (process), "deskbar-applet -c"));
  pymemd_test_child_stop (&child);
}

/* A copy of the interpreter under another name is found through its ELF
 * (_PyRuntime, .PyRuntime, Py_Version), not its name. */
static void
test_renamed_binary (void)
{
  PymemdTestChild child;
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdProcess) process = NULL;
  g_autofree char *tmp = NULL, *copy = NULL, *real = NULL;
  const char *python = pymemd_test_python ();

  if (python == NULL)
    {
      g_test_skip ("no python3");
      return;
    }
  real = realpath (python, NULL);
  tmp = pymemd_test_mkdtemp ();
  copy = g_build_filename (tmp, "applet-host", NULL);
  {
    const char *cp[] = { "cp", real, copy, NULL };
    int status;
    g_assert_true (g_spawn_sync (NULL, (char **) cp, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                                 NULL, NULL, &status, &error));
  }
  {
    const char *argv[] = { copy, "-c", WAIT_FOR_STDIN, NULL };
    if (!pymemd_test_child_spawn (&child, argv, NULL, &error))
      {
        /* A copy of a build that links libpython by $ORIGIN cannot start. */
        g_test_skip (error->message);
        pymemd_test_rm_rf (tmp);
        return;
      }
  }
  process = examine_real (child.pid, &error);
  g_assert_no_error (error);
  g_assert_nonnull (process);
  g_assert_cmpstr (pymemd_process_get_exe (process), ==, copy);
  g_assert_cmpuint (pymemd_process_get_python_version (process), >=, 300);
  pymemd_test_child_stop (&child);
  pymemd_test_rm_rf (tmp);
}

static void
test_embedded (void)
{
  PymemdTestChild child;
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdProcess) process = NULL;
  g_autofree char *helper = g_test_build_filename (G_TEST_BUILT, "embed-python", NULL);
  const char *argv[] = { helper, NULL };

  if (!g_file_test (helper, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("embed-python not built (no python3-embed at configure time)");
      return;
    }
  g_assert_true (pymemd_test_child_spawn (&child, argv, NULL, &error));
  process = examine_real (child.pid, &error);
  g_assert_no_error (error);
  g_assert_nonnull (process);
  g_assert_false (pymemd_process_get_exe_is_python (process));
  g_assert_cmpuint (pymemd_process_get_python_version (process), >=, 300);
  pymemd_test_child_stop (&child);
}

/* gdb links libpython and runs Python commands: an embedded interpreter. */
static void
test_gdb (void)
{
  PymemdTestChild child;
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdProcess) process = NULL;
  g_autofree char *gdb = g_find_program_in_path ("gdb");
  const char *argv[] = { gdb, "-nx", "-batch", "-ex", "python print('ready')",
                         "-ex", "python import sys; sys.stdin.read()", NULL };

  if (gdb == NULL)
    {
      g_test_skip ("no gdb");
      return;
    }
  g_assert_true (pymemd_test_child_spawn (&child, argv, NULL, &error));
  /* It printed "ready" from Python: it must be found. */
  process = examine_real (child.pid, &error);
  g_assert_no_error (error);
  g_assert_false (pymemd_process_get_exe_is_python (process));
  g_assert_cmpuint (pymemd_process_get_python_version (process), >=, 300);
  pymemd_test_child_stop (&child);
}

static void
test_not_python (void)
{
  PymemdTestChild child;
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdProcess) process = NULL;
  g_autofree char *helper = g_test_build_filename (G_TEST_BUILT, "map-file", NULL);
  g_autofree char *tmp = pymemd_test_mkdtemp ();
  g_autofree char *file = g_build_filename (tmp, "libpython3.11.so.1.0-notes.python", NULL);
  const char *argv[] = { helper, file, NULL };

  g_assert_true (g_file_set_contents (file, "not an interpreter\n", -1, NULL));
  g_assert_true (pymemd_test_child_spawn (&child, argv, NULL, &error));
  process = examine_real (child.pid, &error);
  g_assert_null (process);
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_NOT_PYTHON);
  pymemd_test_child_stop (&child);
  pymemd_test_rm_rf (tmp);
}

static gboolean
write_ns_last_pid (int value)
{
  FILE *f = fopen ("/proc/sys/kernel/ns_last_pid", "w");
  gboolean ok;

  if (f == NULL)
    return FALSE;
  ok = fprintf (f, "%d", value) > 0;
  return fclose (f) == 0 && ok;
}

/* A real reused pid: after the first interpreter exits, the kernel is told
 * to hand its pid to the next process (ns_last_pid, root only). */
static void
test_pid_reuse_real (void)
{
  g_autoptr(PymemdDiscovery) discovery = discovery_for ("/proc");
  g_autoptr(GPtrArray) added = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) removed = g_ptr_array_new_with_free_func (g_object_unref);
  PymemdTestChild first, second;
  g_autoptr(GError) error = NULL;
  guint64 first_start;
  GPid pid;

  if (!pymemd_test_is_root () || pymemd_test_python () == NULL)
    {
      g_test_skip ("needs root (ns_last_pid) and python3");
      return;
    }
  g_assert_true (pymemd_test_child_spawn_python (&first, WAIT_FOR_STDIN, NULL, &error));
  pid = first.pid;
  update (discovery, NULL, NULL);
  {
    g_autoptr(GPtrArray) processes = pymemd_discovery_get_processes (discovery);
    g_assert_nonnull (find_pid (processes, pid));
    first_start = pymemd_process_get_start_time (find_pid (processes, pid));
  }
  pymemd_test_child_stop (&first);
  g_usleep (20 * 1000); /* start times are in clock ticks */

  for (int attempt = 0; attempt < 5; attempt++)
    {
      if (!write_ns_last_pid (pid - 1))
        {
          g_test_skip ("cannot write /proc/sys/kernel/ns_last_pid");
          return;
        }
      g_assert_true (pymemd_test_child_spawn_python (&second, WAIT_FOR_STDIN, NULL, &error));
      if (second.pid == pid)
        break;
      pymemd_test_child_stop (&second);
    }
  if (second.pid != pid)
    {
      g_test_skip ("another process took the pid five times");
      return;
    }

  update (discovery, added, removed);
  g_assert_nonnull (find_pid (removed, pid));
  g_assert_nonnull (find_pid (added, pid));
  g_assert_cmpuint (pymemd_process_get_start_time (find_pid (removed, pid)), ==, first_start);
  g_assert_cmpuint (pymemd_process_get_start_time (find_pid (added, pid)), >, first_start);
  pymemd_test_child_stop (&second);
}

/* Exits show up as removals on the next update. */
static void
test_exit_real (void)
{
  g_autoptr(PymemdDiscovery) discovery = discovery_for ("/proc");
  g_autoptr(GPtrArray) removed = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) processes = NULL;
  PymemdTestChild child;
  g_autoptr(GError) error = NULL;
  GPid pid;

  if (pymemd_test_python () == NULL)
    {
      g_test_skip ("no python3");
      return;
    }
  g_assert_true (pymemd_test_child_spawn_python (&child, WAIT_FOR_STDIN, NULL, &error));
  pid = child.pid;
  update (discovery, NULL, NULL);
  processes = pymemd_discovery_get_processes (discovery);
  g_assert_nonnull (find_pid (processes, pid));
  pymemd_test_child_stop (&child);
  update (discovery, NULL, removed);
  g_assert_nonnull (find_pid (removed, pid));
  g_clear_pointer (&processes, g_ptr_array_unref);
  processes = pymemd_discovery_get_processes (discovery);
  g_assert_null (find_pid (processes, pid));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/discovery/fixture", test_fixture);
  g_test_add_func ("/discovery/pid-reuse-fixture", test_pid_reuse_fixture);
  g_test_add_func ("/discovery/exec-fixture", test_exec_fixture);
  g_test_add_func ("/discovery/real-python", test_real_python);
  g_test_add_func ("/discovery/renamed-argv0", test_renamed_argv0);
  g_test_add_func ("/discovery/renamed-binary", test_renamed_binary);
  g_test_add_func ("/discovery/embedded", test_embedded);
  g_test_add_func ("/discovery/gdb", test_gdb);
  g_test_add_func ("/discovery/not-python", test_not_python);
  g_test_add_func ("/discovery/pid-reuse-real", test_pid_reuse_real);
  g_test_add_func ("/discovery/exit-real", test_exit_real);
  return g_test_run ();
}
