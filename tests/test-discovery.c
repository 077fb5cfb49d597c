/* Tests which processes discovery calls interpreters, on fixtures and on real processes started here. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "pymemd-discovery.h"
#include "pymemd-error.h"
#include "testutil.h"

#define WAIT_FOR_STDIN "import sys; print('ready', flush=True); sys.stdin.read()"
/* The same in a form 2.7 runs too. */
#define WAIT_FOR_STDIN_ANY "import sys; sys.stdout.write('ready\\n'); sys.stdout.flush(); sys.stdin.read()"

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

/* An exit forgets what was found of a process that was no interpreter
 * (with process events /proc is listed once a minute: a host running many
 * short programs would have them all remembered until then), and leaves
 * an interpreter to the tick that finds it gone. */
static void
test_exit_forgets_others (void)
{
  g_autoptr(PymemdDiscovery) discovery = discovery_for ("/proc");
  g_autoptr(GError) error = NULL;
  const char *argv[] = { "/bin/sleep", "600", NULL };
  PymemdTestChild python;
  GPid sleeper;
  guint others;

  if (!g_file_test (argv[0], G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("needs /bin/sleep");
      return;
    }
  if (!pymemd_test_child_spawn_python (&python, WAIT_FOR_STDIN, NULL, &error))
    {
      g_test_skip_printf ("no python3: %s", error->message);
      return;
    }
  /* Held just past its exec: it runs sleep already. */
  sleeper = pymemd_test_spawn_stopped_at_exec (argv, NULL, &error);
  g_assert_no_error (error);
  update (discovery, NULL, NULL);
  others = pymemd_discovery_count_others (discovery);
  g_assert_cmpuint (others, >=, 1);
  g_assert_true (pymemd_discovery_knows (discovery, python.pid));

  pymemd_discovery_note_exit (discovery, sleeper);
  g_assert_cmpuint (pymemd_discovery_count_others (discovery), ==, others - 1);
  pymemd_discovery_note_exit (discovery, python.pid);
  g_assert_cmpuint (pymemd_discovery_count_others (discovery), ==, others - 1);
  g_assert_true (pymemd_discovery_knows (discovery, python.pid));

  pymemd_test_kill_stopped (sleeper);
  pymemd_test_child_stop (&python);
}

/* Whether PATH is, here, the very file PID of fixture ROOT mapped (its
 * device and inode in the fixture's maps); the test is skipped if not. */
static gboolean
need_captured_file (const char *root, int pid, const char *path)
{
  g_autofree char *maps_path = g_strdup_printf ("%s/%d/maps", root, pid);
  g_autofree char *maps = NULL;
  g_auto(GStrv) lines = NULL;
  struct stat st;

  g_assert_true (g_file_get_contents (maps_path, &maps, NULL, NULL));
  lines = g_strsplit (maps, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      unsigned int major, minor;
      unsigned long long inode;
      int path_at = 0;

      if (sscanf (lines[i], "%*x-%*x %*4s %*x %x:%x %llu %n", &major, &minor, &inode,
                  &path_at) == 3 && path_at > 0 && strcmp (lines[i] + path_at, path) == 0)
        {
          if (stat (path, &st) == 0 && st.st_dev == makedev (major, minor) && st.st_ino == inode)
            return TRUE;
          break;
        }
    }
  g_test_skip_printf ("%s is not the file the fixture's process %d mapped", path, pid);
  return FALSE;
}

/* The ELF decides on captured processes too: renamed 2.7 and 3.6, a
 * loader-started 3.11 and two pyenv 3.11 are interpreters; /bin/sleep
 * named python3 is not. */
static void
test_detect_fixture (void)
{
  char *root = pymemd_test_copy_fixture ("proc-detect");
  g_autoptr(PymemdDiscovery) discovery = NULL;
  g_autoptr(GPtrArray) processes = NULL;
  g_autofree char *decoy_dir = pymemd_test_mkdtemp ();
  g_autofree char *decoy = pymemd_test_copy_file ("/bin/sleep", decoy_dir, "python3");
  g_autofree char *exe_link = g_strdup_printf ("%s/3003/exe", root);
  static const struct {
    int         pid;
    const char *image;
    guint       version;
  } expected[] = {
    { 3001, "/root/.pyenv/versions/2.7.18/lib/libpython2.7.so.1.0", 207 },
    { 3002, "/root/.pyenv/versions/3.6.15/lib/libpython3.6m.so.1.0", 306 },
    { 3004, "/usr/bin/python3.11", 311 },
    { 3005, "/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0", 311 },
    { 3006, "/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0", 311 },
  };
  static const struct {
    int         pid;
    const char *program;
    const char *name;
  } renamed[] = {
    { 3001, "/root/.pyenv/versions/2.7.18/bin/python2.7", "myapp" },
    { 3002, "/root/.pyenv/versions/3.6.15/bin/python3.6", "myapp36" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    if (!need_captured_file (root, expected[i].pid, expected[i].image))
      {
        pymemd_test_remove_fixture (root);
        pymemd_test_rm_rf (decoy_dir);
        return;
      }
  /* The captured decoy is gone; a new copy of /bin/sleep stands in. */
  g_assert_cmpint (g_unlink (exe_link), ==, 0);
  g_assert_cmpint (symlink (decoy, exe_link), ==, 0);
  /* So are the renamed copies of pyenv's 2.7 and 3.6 the capture ran:
   * new copies stand in (the libpythons they link are pyenv's own). */
  for (guint i = 0; i < G_N_ELEMENTS (renamed); i++)
    {
      g_autofree char *copy = NULL;
      g_autofree char *link = g_strdup_printf ("%s/%d/exe", root, renamed[i].pid);

      if (!g_file_test (renamed[i].program, G_FILE_TEST_IS_EXECUTABLE))
        {
          g_test_skip_printf ("%s is not installed", renamed[i].program);
          pymemd_test_remove_fixture (root);
          pymemd_test_rm_rf (decoy_dir);
          return;
        }
      copy = pymemd_test_copy_file (renamed[i].program, decoy_dir, renamed[i].name);
      g_assert_cmpint (g_unlink (link), ==, 0);
      g_assert_cmpint (symlink (copy, link), ==, 0);
    }

  discovery = discovery_for (root);
  update (discovery, NULL, NULL);
  processes = pymemd_discovery_get_processes (discovery);
  g_assert_cmpuint (processes->len, ==, G_N_ELEMENTS (expected));
  g_assert_null (find_pid (processes, 3003));
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      PymemdProcess *p = find_pid (processes, expected[i].pid);

      g_test_message ("%d", expected[i].pid);
      g_assert_nonnull (p);
      g_assert_cmpstr (pymemd_process_get_interpreter_path (p), ==, expected[i].image);
      g_assert_cmpuint (pymemd_process_get_python_version (p), ==, expected[i].version);
      g_assert_false (pymemd_process_get_exe_is_python (p));
    }
  pymemd_test_remove_fixture (root);
  pymemd_test_rm_rf (decoy_dir);
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

/* A copy of /bin/sleep named python3 is no interpreter, nor a program
 * that defines Py_* functions of its own, named python2.7. */
static void
test_decoys (void)
{
  g_autofree char *tmp = pymemd_test_mkdtemp ();
  g_autofree char *built = g_test_build_filename (G_TEST_BUILT, "python-decoy", NULL);
  g_autofree char *sleep_copy = pymemd_test_copy_file ("/bin/sleep", tmp, "python3");
  g_autofree char *decoy_copy = pymemd_test_copy_file (built, tmp, "python2.7");
  const char *sleeper[] = { sleep_copy, "1000", NULL };
  const char *decoy[] = { decoy_copy, NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdDiscovery) discovery = discovery_for ("/proc");
  PymemdProcess *process;
  GPid sleep_pid;
  PymemdTestChild child;

  g_assert_true (g_spawn_async (NULL, (char **) sleeper, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL,
                                NULL, &sleep_pid, &error));
  g_assert_no_error (error);
  g_assert_true (pymemd_test_child_spawn (&child, decoy, NULL, &error));
  g_assert_no_error (error);

  for (guint i = 0; i < 2; i++)
    {
      GPid pid = i == 0 ? sleep_pid : child.pid;

      /* Until the exec, the pid is a forked test program. */
      if (i == 0)
        for (int tries = 0; tries < 500; tries++)
          {
            g_autofree char *link = g_strdup_printf ("/proc/%d/exe", pid);
            g_autofree char *target = g_file_read_link (link, NULL);
            if (g_strcmp0 (target, sleep_copy) == 0)
              break;
            g_usleep (10 * 1000);
          }
      process = pymemd_discovery_examine (discovery, pid, &error);
      g_assert_null (process);
      g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_NOT_PYTHON);
      g_clear_error (&error);
    }
  /* Nor does an update list them. */
  update (discovery, NULL, NULL);
  {
    g_autoptr(GPtrArray) processes = pymemd_discovery_get_processes (discovery);
    g_assert_null (find_pid (processes, sleep_pid));
    g_assert_null (find_pid (processes, child.pid));
  }
  kill (sleep_pid, SIGKILL);
  waitpid (sleep_pid, NULL, 0);
  g_spawn_close_pid (sleep_pid);
  pymemd_test_child_stop (&child);
  pymemd_test_rm_rf (tmp);
}

/* Runs ARGV, which prints "ready", and examines it: an interpreter of
 * VERSION whose image is IMAGE_BASENAME (the executable when
 * EXE_IS_PYTHON). */
static void
assert_found_running (const char *const *argv, guint version, gboolean exe_is_python,
                      const char *image_basename)
{
  g_autoptr(PymemdDiscovery) discovery = discovery_for ("/proc");
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdProcess) process = NULL;
  g_autofree char *image = NULL;
  PymemdTestChild child;

  g_assert_true (pymemd_test_child_spawn (&child, argv, NULL, &error));
  g_assert_no_error (error);
  process = pymemd_discovery_examine (discovery, child.pid, &error);
  g_assert_no_error (error);
  g_assert_nonnull (process);
  g_assert_cmpuint (pymemd_process_get_python_version (process), ==, version);
  g_assert_cmpint (pymemd_process_get_exe_is_python (process), ==, exe_is_python);
  image = g_path_get_basename (pymemd_process_get_interpreter_path (process));
  g_assert_cmpstr (image, ==, image_basename);
  g_assert_true (pymemd_process_get_interpreter_image (process)->is_interpreter);
  pymemd_test_child_stop (&child);
}

/* pyenv's 2.7 and 3.6 copied under another name: the executable links
 * libpython, whose symbols (no _PyRuntime before 3.7) tell the interpreter. */
static void
test_renamed_old (gconstpointer data)
{
  const char *series = data;
  g_autofree char *prefix = pymemd_test_pyenv_prefix (series);
  g_autofree char *tmp = NULL, *python = NULL, *copy = NULL, *library = NULL;
  guint version = (guint) (series[0] - '0') * 100 + (guint) atoi (series + 2);

  if (prefix == NULL)
    {
      g_test_skip_printf ("pyenv has no Python %s", series);
      return;
    }
  tmp = pymemd_test_mkdtemp ();
  python = g_strdup_printf ("%s/bin/python%s", prefix, series);
  copy = pymemd_test_copy_file (python, tmp, "myapp");
  library = g_strdup_printf (version == 306 ? "libpython%sm.so.1.0" : "libpython%s.so.1.0", series);
  {
    const char *argv[] = { copy, "-c", WAIT_FOR_STDIN_ANY, NULL };
    assert_found_running (argv, version, FALSE, library);
  }
  pymemd_test_rm_rf (tmp);
}

/* The same interpreters linked statically into a program of another name
 * (as distributions built python2.7): the executable holds the symbols. */
static void
test_static_old (gconstpointer data)
{
  const char *series = data;
  g_autofree char *prefix = pymemd_test_pyenv_prefix (series);
  g_autofree char *cc = g_find_program_in_path ("cc");
  g_autofree char *tmp = NULL, *source = NULL, *program = NULL, *archive = NULL;
  g_autofree char *config = NULL;
  guint version = (guint) (series[0] - '0') * 100 + (guint) atoi (series + 2);
  int status;

  if (prefix == NULL || cc == NULL)
    {
      g_test_skip_printf ("needs cc and pyenv's Python %s", series);
      return;
    }
  config = g_strdup_printf (version >= 300 ? "%s/lib/python%s/config-%sm-x86_64-linux-gnu"
                                           : "%s/lib/python%s/config",
                            prefix, series, series);
  archive = g_strdup_printf ("%s/libpython%s%s.a", config, series, version >= 300 ? "m" : "");
  if (!g_file_test (archive, G_FILE_TEST_IS_REGULAR))
    {
      g_test_skip_printf ("no %s", archive);
      return;
    }
  tmp = pymemd_test_mkdtemp ();
  source = g_build_filename (tmp, "main.c", NULL);
  program = g_build_filename (tmp, "applet", NULL);
  g_assert_true (g_file_set_contents (source,
    "extern void Py_Initialize (void);\n"
    "extern int PyRun_SimpleStringFlags (const char *, void *);\n"
    "int main (int argc, char **argv)\n"
    "{ Py_Initialize (); return argc > 1 ? PyRun_SimpleStringFlags (argv[1], 0) : 1; }\n",
    -1, NULL));
  {
    const char *argv[] = { cc, "-o", program, source, archive, "-lpthread", "-ldl", "-lutil",
                           "-lm", "-Wl,-export-dynamic", NULL };
    g_autoptr(GError) error = NULL;

    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL |
                                 G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status,
                                 &error));
    g_assert_no_error (error);
    g_assert_true (g_spawn_check_wait_status (status, NULL));
  }
  {
    const char *argv[] = { program, WAIT_FOR_STDIN_ANY, NULL };
    assert_found_running (argv, version, TRUE, "applet");
  }
  pymemd_test_rm_rf (tmp);
}

/* ld.so /usr/bin/python3.11: the exe link names the loader; the mapped
 * python3.11 is the interpreter image. */
static void
test_loader_started (void)
{
  const char *loader = "/lib64/ld-linux-x86-64.so.2";
  const char *argv[] = { loader, "/usr/bin/python3.11", "-c", WAIT_FOR_STDIN, NULL };

  if (!g_file_test (loader, G_FILE_TEST_IS_EXECUTABLE) ||
      !g_file_test (argv[1], G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("needs the x86-64 loader and /usr/bin/python3.11");
      return;
    }
  assert_found_running (argv, 311, FALSE, "python3.11");
}

/* A pyenv build of SERIES, whose executable links libpython (a shared
 * build): its program and library paths, or FALSE and the test skipped. */
static gboolean
need_shared_pyenv (const char *series, char **python, char **libpython)
{
  g_autofree char *prefix = pymemd_test_pyenv_prefix (series);
  g_autofree char *lib = NULL;

  if (prefix != NULL)
    lib = g_strdup_printf ("%s/lib/libpython%s.so.1.0", prefix, series);
  if (!pymemd_test_is_root () || lib == NULL || !g_file_test (lib, G_FILE_TEST_EXISTS))
    {
      g_test_skip_printf ("needs root (ptrace of a child) and a shared pyenv %s", series);
      return FALSE;
    }
  *python = g_strdup_printf ("%s/bin/python%s", prefix, series);
  *libpython = g_steal_pointer (&lib);
  return TRUE;
}

/* Looked at right after its exec, a program that links libpython is no
 * interpreter yet: its dynamic loader has not mapped libpython. That is
 * not remembered like the verdict on other programs (looked at again only
 * after the recheck interval): the next listing finds it. */
static void
test_loader_pending (void)
{
  g_autoptr(PymemdDiscovery) discovery = discovery_for ("/proc");
  g_autoptr(GPtrArray) added = g_ptr_array_new_with_free_func (g_object_unref);
  g_autofree char *python = NULL, *libpython = NULL;
  g_autoptr(GError) error = NULL;
  GPid pid;

  if (!need_shared_pyenv ("3.12", &python, &libpython))
    return;
  {
    const char *argv[] = { python, "-c", "import time; time.sleep(600)", NULL };
    pid = pymemd_test_spawn_stopped_at_exec (argv, NULL, &error);
  }
  g_assert_no_error (error);
  g_assert_false (pymemd_test_maps_contain (pid, libpython));

  update (discovery, NULL, NULL);
  g_assert_false (pymemd_discovery_knows (discovery, pid));
  g_assert_true (pymemd_discovery_awaits_loader (discovery, pid));

  pymemd_test_release_stopped (pid);
  PYMEMD_TEST_WAIT_FOR (pymemd_test_maps_contain (pid, libpython), 30);
  update (discovery, added, NULL);
  g_assert_true (pymemd_discovery_knows (discovery, pid));
  g_assert_false (pymemd_discovery_awaits_loader (discovery, pid));
  g_assert_nonnull (find_pid (added, pid));
  g_assert_cmpstr (pymemd_process_get_interpreter_path (find_pid (added, pid)), ==, libpython);
  pymemd_test_kill_stopped (pid);
}

/* A program that does not link libpython but maps it later (here through
 * LD_PRELOAD, as an embedding program's dlopen would) is looked at again
 * by the listing once the recheck interval has passed, however few
 * listings came between (with process events /proc is listed once a
 * minute). */
static void
test_recheck_by_time (void)
{
  g_autoptr(PymemdDiscovery) discovery = discovery_for ("/proc");
  g_autofree char *python = NULL, *libpython = NULL, *preload = NULL;
  g_autoptr(GError) error = NULL;
  const gint64 interval = G_USEC_PER_SEC / 5;
  gint64 looked;
  GPid pid;

  if (!need_shared_pyenv ("3.12", &python, &libpython))
    return;
  if (!g_file_test ("/bin/sleep", G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("needs /bin/sleep");
      return;
    }
  preload = g_strconcat ("LD_PRELOAD=", libpython, NULL);
  {
    const char *argv[] = { "/bin/sleep", "600", NULL };
    const char *envp[] = { preload, NULL };
    pid = pymemd_test_spawn_stopped_at_exec (argv, envp, &error);
  }
  g_assert_no_error (error);
  pymemd_discovery_set_recheck_interval (discovery, interval);

  update (discovery, NULL, NULL);
  looked = g_get_monotonic_time ();
  g_assert_false (pymemd_discovery_knows (discovery, pid));
  g_assert_false (pymemd_discovery_awaits_loader (discovery, pid));

  pymemd_test_release_stopped (pid);
  PYMEMD_TEST_WAIT_FOR (pymemd_test_maps_contain (pid, libpython), 30);
  /* One listing, once the interval is over. */
  while (g_get_monotonic_time () - looked <= interval)
    g_usleep (10 * 1000);
  update (discovery, NULL, NULL);
  g_assert_true (pymemd_discovery_knows (discovery, pid));
  pymemd_test_kill_stopped (pid);
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

/* Whether the file PATH holds NEEDLE (NUL bytes and all). */
static gboolean
file_contains (const char *path, const char *needle)
{
  g_autofree char *text = NULL;
  gsize len = 0;

  return g_file_get_contents (path, &text, &len, NULL) &&
         memmem (text, len, needle, strlen (needle)) != NULL;
}

/* An interpreter that runs exec, even of the same executable, is a new
 * image: noted, its next look replaces it (the new command line) where it
 * would otherwise keep the one known, whose executable is the same. */
static void
test_exec_same_executable (void)
{
  g_autoptr(PymemdDiscovery) discovery = discovery_for ("/proc");
  g_autoptr(GPtrArray) added = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) removed = g_ptr_array_new_with_free_func (g_object_unref);
  g_autofree char *cmdline_path = NULL;
  PymemdTestChild child;
  g_autoptr(GError) error = NULL;
  PymemdProcess *p;
  GPid pid;

  if (pymemd_test_python () == NULL)
    {
      g_test_skip ("no python3");
      return;
    }
  g_assert_true (pymemd_test_child_spawn_python (
    &child,
    "import os, sys; print('ready', flush=True); sys.stdin.readline(); "
    "os.execv(sys.executable, [sys.executable, '-c', 'import sys; sys.stdin.read()', 'second' + '-image'])",
    NULL, &error));
  g_assert_no_error (error);
  pid = child.pid;
  cmdline_path = g_strdup_printf ("/proc/%d/cmdline", (int) pid);
  update (discovery, NULL, NULL);
  g_assert_true (pymemd_discovery_knows (discovery, pid));

  pymemd_test_child_send (&child, "exec");
  /* The new image is in place once its command line is (the old one
   * names the marker only in two halves). */
  PYMEMD_TEST_WAIT_FOR (file_contains (cmdline_path, "second-image"), 30);
  /* Without the note, nothing tells: same pid, start time and executable. */
  g_assert_true (pymemd_discovery_update_pid (discovery, pid, added, removed));
  g_assert_cmpuint (added->len, ==, 0);
  g_assert_cmpuint (removed->len, ==, 0);

  pymemd_discovery_note_exec (discovery, pid);
  g_assert_true (pymemd_discovery_update_pid (discovery, pid, added, removed));
  g_assert_nonnull (find_pid (removed, pid));
  p = find_pid (added, pid);
  g_assert_nonnull (p);
  g_assert_nonnull (strstr (pymemd_process_get_cmdline (p), "second-image"));
  g_assert_cmpuint (pymemd_process_get_start_time (p), ==,
                    pymemd_process_get_start_time (find_pid (removed, pid)));
  /* Noted once: the look after that keeps it. */
  g_ptr_array_set_size (added, 0);
  g_ptr_array_set_size (removed, 0);
  g_assert_true (pymemd_discovery_update_pid (discovery, pid, added, removed));
  g_assert_cmpuint (added->len + removed->len, ==, 0);
  pymemd_test_child_stop (&child);
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


/* The CPU time of each look is charged to the user who started the
 * process: once a user's share is spent, that user's new processes are
 * not looked at (the event's look fails), another user's are; the next
 * listing looks at those that waited, whenever their last look was. */
static void
test_look_share (void)
{
  g_autoptr(PymemdDiscovery) discovery = discovery_for ("/proc");
  g_autoptr(PymemdProcess) waited = NULL;
  g_autoptr(GError) error = NULL;
  PymemdTestChild first, second, other;

  if (!pymemd_test_need_root_and_python ())
    return;
  update (discovery, NULL, NULL);
  update (discovery, NULL, NULL);
  g_assert_true (pymemd_test_child_spawn_python (&first, PYMEMD_TEST_AS_UID (54323), NULL, &error));
  g_assert_true (pymemd_test_child_spawn_python (&second, PYMEMD_TEST_AS_UID (54323), NULL, &error));
  g_assert_true (pymemd_test_child_spawn_python (&other, PYMEMD_TEST_AS_UID (54324), NULL, &error));
  g_assert_no_error (error);

  /* The first listing (the daemon's start) looks at every process, share
   * or not: none is left for the next. */
  {
    g_autoptr(PymemdDiscovery) starting = discovery_for ("/proc");

    pymemd_discovery_set_look_share (starting, 0, 1);
    update (starting, NULL, NULL);
    g_assert_true (pymemd_discovery_knows (starting, first.pid));
    g_assert_true (pymemd_discovery_knows (starting, second.pid));
  }

  /* Later (its listings were before the children started): 1 µs at once
   * and nothing more: one look spends it, whatever it cost. */
  pymemd_discovery_set_look_share (discovery, 0, 1);
  g_assert_true (pymemd_discovery_update_pid (discovery, first.pid, NULL, NULL));
  g_assert_false (pymemd_discovery_update_pid (discovery, second.pid, NULL, NULL));
  g_assert_false (pymemd_discovery_knows (discovery, second.pid));
  waited = pymemd_discovery_examine (discovery, second.pid, &error);
  g_assert_null (waited);
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_BUDGET);
  g_clear_error (&error);
  /* Another user's share is its own. */
  g_assert_true (pymemd_discovery_update_pid (discovery, other.pid, NULL, NULL));

  /* A listing before the usual recheck interval looks at the one that
   * waited, once the share allows (new settings: full balances). */
  pymemd_discovery_set_recheck_interval (discovery, G_MAXINT64);
  pymemd_discovery_set_look_share (discovery, G_USEC_PER_SEC, G_USEC_PER_SEC);
  update (discovery, NULL, NULL);
  g_assert_true (pymemd_discovery_knows (discovery, second.pid));

  pymemd_test_child_stop (&first);
  pymemd_test_child_stop (&second);
  pymemd_test_child_stop (&other);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/discovery/fixture", test_fixture);
  g_test_add_func ("/discovery/exit-forgets-others", test_exit_forgets_others);
  g_test_add_func ("/discovery/pid-reuse-fixture", test_pid_reuse_fixture);
  g_test_add_func ("/discovery/detect-fixture", test_detect_fixture);
  g_test_add_func ("/discovery/exec-fixture", test_exec_fixture);
  g_test_add_func ("/discovery/real-python", test_real_python);
  g_test_add_func ("/discovery/renamed-argv0", test_renamed_argv0);
  g_test_add_func ("/discovery/renamed-binary", test_renamed_binary);
  g_test_add_func ("/discovery/embedded", test_embedded);
  g_test_add_func ("/discovery/gdb", test_gdb);
  g_test_add_func ("/discovery/not-python", test_not_python);
  g_test_add_func ("/discovery/decoys", test_decoys);
  g_test_add_data_func ("/discovery/renamed-2.7", "2.7", test_renamed_old);
  g_test_add_data_func ("/discovery/renamed-3.6", "3.6", test_renamed_old);
  g_test_add_data_func ("/discovery/static-2.7", "2.7", test_static_old);
  g_test_add_data_func ("/discovery/static-3.6", "3.6", test_static_old);
  g_test_add_func ("/discovery/loader-started", test_loader_started);
  g_test_add_func ("/discovery/loader-pending", test_loader_pending);
  g_test_add_func ("/discovery/exec-same-executable", test_exec_same_executable);
  g_test_add_func ("/discovery/recheck-by-time", test_recheck_by_time);
  g_test_add_func ("/discovery/pid-reuse-real", test_pid_reuse_real);
  g_test_add_func ("/discovery/exit-real", test_exit_real);
  g_test_add_func ("/discovery/look-share", test_look_share);
  return g_test_run ();
}
