/* Runs the real pymemd binary: its command line, exit codes, and the --once JSON report on fixtures and live processes. */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "pymemd-report.h"
#include "testutil.h"

static const char *
pymemd_bin (void)
{
  const char *bin = g_getenv ("PYMEMD_BIN");
  g_assert_nonnull (bin);
  return bin;
}

/* Runs pymemd with the NULL-terminated arguments; returns its exit code. */
static int
run_pymemd (PymemdTestRun *run, ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  const char *arg;
  va_list args;

  g_ptr_array_add (argv, (gpointer) pymemd_bin ());
  va_start (args, run);
  while ((arg = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);

  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                               &run->out, &run->err, &run->status, &error));
  g_assert_no_error (error);
  g_assert_true (WIFEXITED (run->status));
  return WEXITSTATUS (run->status);
}

static JsonObject *
parse_report (PymemdTestRun *run, JsonParser *parser)
{
  g_autoptr(GError) error = NULL;
  JsonObject *report;

  g_assert_true (json_parser_load_from_data (parser, run->out, -1, &error));
  g_assert_no_error (error);
  report = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpint (json_object_get_int_member (report, "version"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (report, "page_size"), >=, 4096);
  g_assert_true (json_object_has_member (report, "totals"));
  g_assert_true (json_object_has_member (report, "python_set"));
  return report;
}

static JsonObject *
find_process (JsonObject *report, gint64 pid)
{
  JsonArray *processes = json_object_get_array_member (report, "processes");

  for (guint i = 0; i < json_array_get_length (processes); i++)
    {
      JsonObject *p = json_array_get_object_element (processes, i);
      if (json_object_get_int_member (p, "pid") == pid)
        return p;
    }
  return NULL;
}

static void
test_version (void)
{
  g_auto(PymemdTestRun) run = { 0 };

  g_assert_cmpint (run_pymemd (&run, "--version", NULL), ==, 0);
  g_assert_cmpstr (run.out, ==, "pymemd " PACKAGE_VERSION "\n");
}

static void
test_usage_errors (void)
{
  g_auto(PymemdTestRun) bad_option = { 0 };
  g_auto(PymemdTestRun) extra = { 0 };
  g_auto(PymemdTestRun) no_mode = { 0 };
  g_auto(PymemdTestRun) help = { 0 };

  g_assert_cmpint (run_pymemd (&bad_option, "--no-such-option", NULL), ==, 2);
  g_assert_nonnull (strstr (bad_option.err, "no-such-option"));
  g_assert_cmpint (run_pymemd (&extra, "--once", "stray", NULL), ==, 2);
  g_assert_nonnull (strstr (extra.err, "stray"));
  g_assert_cmpint (run_pymemd (&no_mode, "--system", "--session", NULL), ==, 2);
  g_assert_nonnull (strstr (no_mode.err, "--session"));
  g_assert_cmpint (run_pymemd (&help, "--help", NULL), ==, 0);
  g_assert_nonnull (strstr (help.out, "--once"));
  g_assert_nonnull (strstr (help.out, "--proc"));
}

/* Service options that can be refused before touching any bus. */
static void
test_service_usage (void)
{
  g_auto(PymemdTestRun) session_root = { 0 };
  g_auto(PymemdTestRun) negative = { 0 };
  g_auto(PymemdTestRun) too_short = { 0 };
  g_auto(PymemdTestRun) bad_config = { 0 };
  g_autofree char *tmp = pymemd_test_mkdtemp ();
  g_autofree char *conf = g_build_filename (tmp, "pymemd.conf", NULL);

  if (pymemd_test_is_root ())
    {
      g_assert_cmpint (run_pymemd (&session_root, "--session", NULL), ==, 2);
      g_assert_nonnull (strstr (session_root.err, "root"));
    }
  g_assert_cmpint (run_pymemd (&negative, "--address", "unix:path=/nonexistent", "--interval", "-1", NULL), ==, 2);
  /* Bounds are checked like the file's, and before connecting. */
  g_assert_cmpint (run_pymemd (&too_short, "--address", "unix:path=/nonexistent", "--interval", "0.1", NULL), ==, 1);
  g_assert_nonnull (strstr (too_short.err, "0.1"));
  g_assert_true (g_file_set_contents (conf, "[monitor]\ninterval=zero\n", -1, NULL));
  g_assert_cmpint (run_pymemd (&bad_config, "--address", "unix:path=/nonexistent", "--config", conf, NULL), ==, 1);
  g_assert_nonnull (strstr (bad_config.err, "interval=zero"));
  g_assert_null (strchr (strchr (bad_config.err, '\n') + 1, '\n'));
  pymemd_test_rm_rf (tmp);
}

static void
test_bad_proc_root (void)
{
  g_auto(PymemdTestRun) run = { 0 };

  g_assert_cmpint (run_pymemd (&run, "--once", "--proc", "/nonexistent/proc", NULL), ==, 1);
  g_assert_cmpstr (run.out, ==, "");
  g_assert_nonnull (strstr (run.err, "/nonexistent/proc"));
  g_assert_null (strchr (strchr (run.err, '\n') + 1, '\n')); /* one line */
}

/* The fixture root: two interpreters, no frame counts (exact false, with
 * the reason), and the figures of the captured smaps_rollup files. */
static void
test_fixture_report (void)
{
  g_auto(PymemdTestRun) run = { 0 };
  g_autoptr(JsonParser) parser = json_parser_new ();
  char *root;
  JsonObject *report, *p, *categories, *totals;

  if (!pymemd_test_need_fixture_python ())
    return;
  root = pymemd_test_copy_fixture ("proc-mixed");
  g_assert_cmpint (run_pymemd (&run, "--once", "--proc", root, NULL), ==, 0);
  report = parse_report (&run, parser);
  g_assert_false (json_object_get_boolean_member (report, "exact"));
  g_assert_nonnull (strstr (json_object_get_string_member (report, "exact_error"), "kpagecount"));
  g_assert_cmpstr (json_object_get_string_member (report, "boot_id"), ==,
                   "bdd88ea5-1c0a-41c1-acba-fb710f7f06f2");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (report, "processes")), ==, 2);
  g_assert_null (find_process (report, 1003));

  /* 1002: the figures are smaps_rollup's: Pss 124387 kB, where the sum of
   * smaps' per-mapping Pss is 124379 kB (the kernel rounds each mapping's
   * down to a kB), and its Pss split, which smaps does not have. */
  p = find_process (report, 1002);
  g_assert_nonnull (p);
  g_assert_cmpint (json_object_get_int_member (p, "rss"), ==, 128960 * 1024);
  g_assert_cmpint (json_object_get_int_member (p, "pss"), ==, 124387 * 1024);
  g_assert_cmpint (json_object_get_int_member (p, "pss_anon"), ==, 117844 * 1024);
  g_assert_cmpint (json_object_get_int_member (p, "pss_file"), ==, 5519 * 1024);
  g_assert_cmpint (json_object_get_int_member (p, "pss_shmem"), ==, 1024 * 1024);
  g_assert_cmpint (json_object_get_int_member (p, "private_dirty"), ==, 119892 * 1024);
  g_assert_cmpstr (json_object_get_string_member (p, "python_version"), ==, "3.11");
  g_assert_cmpint (json_object_get_int_member (p, "uid"), ==, 0);
  g_assert_true (json_object_get_null_member (p, "exact"));
  categories = json_object_get_object_member (p, "categories");
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (categories, "shmem"),
                                               "rss"), ==, 1024 * 1024);
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (categories, "stack"),
                                               "mappings"), >=, 7);

  totals = json_object_get_object_member (report, "totals");
  g_assert_cmpint (json_object_get_int_member (totals, "processes"), ==, 2);
  g_assert_cmpint (json_object_get_int_member (totals, "rss"), ==, (8872 + 128960) * 1024);
  /* Without frame counts only pages mapped once are vouched for. */
  g_assert_true (json_object_get_null_member (json_object_get_object_member (report, "python_set"),
                                              "shared_only_python"));
  pymemd_test_remove_fixture (root);
}

/* The report of ROOT as --once writes it, one process at a time, and as
 * the text of the whole tree: the same bytes. */
static void
assert_streamed_is_tree (const char *root, guint expected_processes)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdProcfs) procfs = pymemd_procfs_new (root, &error);
  g_autoptr(PymemdScanner) scanner = NULL;
  g_autoptr(JsonNode) tree = NULL;
  g_autofree char *whole = NULL;
  g_autofree char *streamed = NULL;
  g_autofree char *expected = NULL;
  gsize length = 0;
  FILE *out;

  g_assert_no_error (error);
  scanner = pymemd_scanner_new (procfs, &error);
  g_assert_no_error (error);
  g_assert_true (pymemd_scanner_scan (scanner, PYMEMD_SCAN_ALL, &error));
  g_assert_no_error (error);
  tree = pymemd_report_build (scanner);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (json_node_get_object (tree),
                                                                         "processes")),
                    ==, expected_processes);
  whole = json_to_string (tree, TRUE);
  expected = g_strconcat (whole, "\n", NULL);
  out = open_memstream (&streamed, &length);
  g_assert_nonnull (out);
  g_assert_true (pymemd_report_write (scanner, out));
  g_assert_cmpint (fclose (out), ==, 0);
  g_assert_cmpstr (streamed, ==, expected);
}

static void
test_streamed (void)
{
  g_autoptr(GDir) dir = NULL;
  const char *name;
  char *root;

  if (!pymemd_test_need_fixture_python ())
    return;
  root = pymemd_test_copy_fixture ("proc-mixed");
  assert_streamed_is_tree (root, 2);
  /* With the interpreters gone: an empty list. */
  dir = g_dir_open (root, 0, NULL);
  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    if (g_ascii_isdigit (name[0]))
      {
        g_autofree char *path = g_build_filename (root, name, NULL);
        pymemd_test_rm_rf (path);
      }
  assert_streamed_is_tree (root, 0);
  pymemd_test_remove_fixture (root);
}

/* A kernel without smaps_rollup (before 4.14): the figures are the sums
 * of smaps' mappings, and the Pss split it does not give is null. */
static void
test_no_rollup (void)
{
  g_auto(PymemdTestRun) run = { 0 };
  g_autoptr(JsonParser) parser = json_parser_new ();
  char *root;
  JsonObject *p;

  if (!pymemd_test_need_fixture_python ())
    return;
  root = pymemd_test_copy_fixture ("proc-mixed");
  for (guint pid = 1001; pid <= 1003; pid++)
    {
      g_autofree char *rollup = g_strdup_printf ("%s/%u/smaps_rollup", root, pid);
      g_assert_cmpint (g_unlink (rollup), ==, 0);
    }
  g_assert_cmpint (run_pymemd (&run, "--once", "--proc", root, NULL), ==, 0);
  p = find_process (parse_report (&run, parser), 1002);
  g_assert_nonnull (p);
  g_assert_cmpint (json_object_get_int_member (p, "pss"), ==, 124379 * 1024);
  g_assert_cmpint (json_object_get_int_member (p, "rss"), ==, 128960 * 1024);
  g_assert_true (json_object_get_null_member (p, "pss_anon"));
  g_assert_false (json_object_get_null_member (p, "categories"));
  pymemd_test_remove_fixture (root);
}

/* Copies the fixture file at PATH without the lines of the fields the
 * kernel there would not have. */
static void
drop_fields (const char *path)
{
  g_autofree char *text = NULL;
  g_autoptr(GString) edited = g_string_new (NULL);
  g_auto(GStrv) lines = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL && lines[i + 1] != NULL; i++)
    if (!g_str_has_prefix (lines[i], "Pss_Dirty:") && !g_str_has_prefix (lines[i], "SwapPss:") &&
        !g_str_has_prefix (lines[i], "Locked:"))
      g_string_append_printf (edited, "%s\n", lines[i]);
  g_assert_true (g_file_set_contents (path, edited->str, -1, NULL));
}

/* A kernel without Pss_Dirty/SwapPss/Locked: those are null, not 0. */
static void
test_absent_fields (void)
{
  g_auto(PymemdTestRun) run = { 0 };
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *smaps = NULL;
  g_autofree char *rollup = NULL;
  char *root;
  JsonObject *p;

  if (!pymemd_test_need_fixture_python ())
    return;
  root = pymemd_test_copy_fixture ("proc-mixed");
  smaps = g_build_filename (root, "1002", "smaps", NULL);
  rollup = g_build_filename (root, "1002", "smaps_rollup", NULL);
  drop_fields (smaps);
  drop_fields (rollup);

  g_assert_cmpint (run_pymemd (&run, "--once", "--proc", root, NULL), ==, 0);
  p = find_process (parse_report (&run, parser), 1002);
  g_assert_true (json_object_get_null_member (p, "pss_dirty"));
  g_assert_true (json_object_get_null_member (p, "swap_pss"));
  g_assert_true (json_object_get_null_member (p, "locked"));
  g_assert_cmpint (json_object_get_int_member (p, "rss"), ==, 128960 * 1024);
  /* 1001 kept its fields. */
  p = find_process (json_node_get_object (json_parser_get_root (parser)), 1001);
  g_assert_false (json_object_get_null_member (p, "pss_dirty"));
  pymemd_test_remove_fixture (root);
}

/* Reads PID's smaps_rollup Pss in bytes, or -1. */
static gint64
rollup_pss (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/smaps_rollup", (int) pid);
  g_autofree char *text = NULL;
  const char *line;

  if (!g_file_get_contents (path, &text, NULL, NULL) || (line = strstr (text, "\nPss:")) == NULL)
    return -1;
  return g_ascii_strtoll (line + 5, NULL, 10) * 1024;
}

/* Copies into DIR the shared libraries PROGRAM needs and the dynamic
 * loader (ldd's list); returns the loader's copy, to run PROGRAM with
 * --library-path DIR. */
static char *
copy_libraries (const char *program, const char *dir)
{
  const char *argv[] = { "ldd", program, NULL };
  g_autofree char *out = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;
  char *loader = NULL;
  int status = 0;

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL, NULL,
                               NULL, &out, NULL, &status, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) words = g_strsplit_set (g_strstrip (lines[i]), " \t", -1);
      const char *path = NULL;

      /* "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)", or the
       * loader alone: "/lib64/ld-linux-x86-64.so.2 (0x...)". */
      if (g_strv_length (words) >= 3 && g_str_equal (words[1], "=>") && words[2][0] == '/')
        path = words[2];
      else if (g_strv_length (words) >= 1 && words[0][0] == '/')
        path = words[0];
      if (path != NULL)
        {
          g_autofree char *base = g_path_get_basename (path);
          char *copy = pymemd_test_copy_file (path, dir, base);

          if (path == words[0])
            {
              g_free (loader);
              loader = copy;
            }
          else
            g_free (copy);
        }
    }
  g_assert_nonnull (loader);
  return loader;
}

/* Live interpreters whose PSS has fractions of a kB in many mappings:
 * three copies of a python no one else runs, each mapping 2 pages of one
 * file at 100 places, so every such mapping holds 2730.67 bytes of PSS,
 * of which smaps shows 2 kB. Every one's pss is smaps_rollup's (read
 * before and after the report, retried while something else on the host
 * moved it more than 0.05% in between) within 0.1%. The python runs with
 * copies of its libraries and of the dynamic loader: with the system's,
 * pymemd (which maps libc, libm, libz and the loader too) was one more
 * sharer of them while it ran, and took 0.2 to 0.5% of their PSS from
 * each. The sum of smaps' mappings is 1.5% low here. */
static void
test_rollup_figures (void)
{
  g_autofree char *tmp = pymemd_test_mkdtemp ();
  g_autofree char *python = NULL;
  g_autofree char *loader = NULL;
  g_autofree char *data = g_build_filename (tmp, "data.bin", NULL);
  g_autofree char *contents = g_malloc0 (100 * 16384);
  const char *code = "import mmap, sys\n"
                     "f = open(sys.argv[1], 'rb')\n"
                     "maps = [mmap.mmap(f.fileno(), 8192, prot=mmap.PROT_READ, offset=k * 16384)\n"
                     "        for k in range(100)]\n"
                     "touched = sum(m[0] + m[4096] for m in maps)\n"
                     "print('ready', flush=True)\nsys.stdin.read()\n";
  PymemdTestChild children[3];
  gboolean stable = FALSE, matched = FALSE;

  if (!g_file_test ("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("no /usr/bin/python3");
      return;
    }
  python = pymemd_test_copy_file ("/usr/bin/python3", tmp, "python3");
  loader = copy_libraries ("/usr/bin/python3", tmp);
  g_assert_true (g_file_set_contents (data, contents, 100 * 16384, NULL));
  for (guint i = 0; i < G_N_ELEMENTS (children); i++)
    {
      const char *argv[] = { loader, "--library-path", tmp, python, "-c", code, data, NULL };
      g_autoptr(GError) error = NULL;

      g_assert_true (pymemd_test_child_spawn (&children[i], argv, NULL, &error));
      g_assert_no_error (error);
    }
  /* The report must match smaps_rollup on one of ten tries where the
   * figures stood: libc's sharers come and go on a busy host (another test's
   * interpreters, pymemd itself while it runs), moving everyone's PSS by a
   * few kB at any moment, while the sum of smaps' truncated values was off
   * by more than 1% on every try. */
  for (guint attempt = 0; attempt < 10 && !matched; attempt++)
    {
      g_auto(PymemdTestRun) run = { 0 };
      g_autoptr(JsonParser) parser = json_parser_new ();
      gint64 before[G_N_ELEMENTS (children)];
      JsonObject *report;
      gboolean stood = TRUE;

      for (guint i = 0; i < G_N_ELEMENTS (children); i++)
        before[i] = rollup_pss (children[i].pid);
      g_assert_cmpint (run_pymemd (&run, "--once", NULL), ==, 0);
      report = parse_report (&run, parser);
      for (guint i = 0; i < G_N_ELEMENTS (children); i++)
        stood = stood && ABS (rollup_pss (children[i].pid) - before[i]) <= before[i] / 2000;
      if (!stood)
        continue;
      stable = TRUE;
      matched = TRUE;
      for (guint i = 0; i < G_N_ELEMENTS (children); i++)
        {
          JsonObject *p = find_process (report, children[i].pid);
          gint64 pss;

          g_assert_nonnull (p);
          pss = json_object_get_int_member (p, "pss");
          g_test_message ("try %u, pid %d: smaps_rollup %" G_GINT64_FORMAT ", report %" G_GINT64_FORMAT, attempt,
                          (int) children[i].pid, before[i], pss);
          matched = matched && pss >= before[i] - before[i] / 1000 && pss <= before[i] + before[i] / 1000;
          g_assert_false (json_object_get_null_member (p, "pss_anon"));
          g_assert_false (json_object_get_null_member (p, "pss_file"));
          g_assert_false (json_object_get_null_member (p, "pss_shmem"));
          g_assert_cmpint (json_object_get_int_member (p, "pss_anon") +
                             json_object_get_int_member (p, "pss_file") +
                             json_object_get_int_member (p, "pss_shmem"),
                           <=, pss);
        }
    }
  if (stable && !matched)
    g_error ("pymemd --once's PSS was more than 0.1%% off smaps_rollup's on every try where the figures stood");
  if (!stable)
    g_test_incomplete ("the interpreters' PSS kept moving under other load");
  for (guint i = 0; i < G_N_ELEMENTS (children); i++)
    pymemd_test_child_stop (&children[i]);
  pymemd_test_rm_rf (tmp);
}

static void
test_live_process (void)
{
  g_auto(PymemdTestRun) run = { 0 };
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  PymemdTestChild child;
  JsonObject *report, *p;

  if (pymemd_test_python () == NULL)
    {
      g_test_skip ("no python3");
      return;
    }
  g_assert_true (pymemd_test_child_spawn_python (
    &child, "import sys\nb = bytearray(16 << 20)\nb[::4096] = b'x' * 4096\n"
            "print('ready', flush=True)\nsys.stdin.read()\n", NULL, &error));
  g_assert_cmpint (run_pymemd (&run, "--once", NULL), ==, 0);
  report = parse_report (&run, parser);
  p = find_process (report, child.pid);
  g_assert_nonnull (p);
  g_assert_cmpint (json_object_get_int_member (p, "private_dirty"), >=, 16 << 20);
  g_assert_true (g_str_has_suffix (json_object_get_string_member (p, "cmdline"), "sys.stdin.read()?")); /* newline shown as ? */
  g_assert_false (json_object_get_null_member (p, "categories"));
  if (pymemd_test_is_root ())
    {
      JsonObject *exact = json_object_get_object_member (p, "exact");
      g_assert_true (json_object_get_boolean_member (report, "exact"));
      g_assert_cmpint (json_object_get_int_member (exact, "uss"), >=, 16 << 20);
      g_assert_true (json_object_has_member (json_object_get_object_member (exact, "sharing"), "2-4"));
    }
  pymemd_test_child_stop (&child);
}

/* Any user may name files as they like: an interpreter run from a path
 * that is no UTF-8 and holds an escape sequence, with such a file mapped,
 * is reported in valid JSON, its names with U+FFFD for the bytes that are
 * no UTF-8 (control characters are the printers' business). */
static void
test_odd_names (void)
{
  g_auto(PymemdTestRun) run = { 0 };
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *tmp = pymemd_test_mkdtemp ();
  g_autofree char *dir = g_build_filename (tmp, "\xff\xfe dir", NULL);
  g_autofree char *python = NULL;
  g_autofree char *mapped = g_build_filename (dir, "\xe9t\xe9.bin", NULL);
  g_autofree char *code = NULL;
  const char *exe;
  PymemdTestChild child;
  JsonObject *report, *p;

  if (!g_file_test ("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("no /usr/bin/python3");
      return;
    }
  g_assert_cmpint (g_mkdir (dir, 0755), ==, 0);
  python = pymemd_test_copy_file ("/usr/bin/python3", dir, "py\xe9\033[5m");
  g_assert_true (g_file_set_contents (mapped, "data", 4, &error));
  code = g_strdup_printf ("import mmap, sys\n"
                          "f = open(sys.argv[1], 'rb')\n"
                          "m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)\n"
                          "print('ready', flush=True)\nsys.stdin.read()\n");
  {
    const char *argv[] = { python, "-c", code, mapped, NULL };

    g_assert_true (pymemd_test_child_spawn (&child, argv, NULL, &error));
    g_assert_no_error (error);
  }
  g_assert_cmpint (run_pymemd (&run, "--once", NULL), ==, 0);
  g_assert_true (g_utf8_validate (run.out, -1, NULL));
  report = parse_report (&run, parser);
  p = find_process (report, child.pid);
  g_assert_nonnull (p);
  exe = json_object_get_string_member (p, "exe");
  g_assert_true (g_str_has_suffix (exe, "/\357\277\275\357\277\275 dir/py\357\277\275\033[5m"));
  pymemd_test_child_stop (&child);
  pymemd_test_rm_rf (tmp);
}

/* As an ordinary user: own processes only, smaps figures, no exact pass
 * and the reason why. Runs both sides as nobody through setpriv. */
static void
test_unprivileged (void)
{
  g_autofree char *setpriv = g_find_program_in_path ("setpriv");
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  PymemdTestChild child;
  JsonObject *report, *p;
  int status;

  if (!pymemd_test_is_root () || setpriv == NULL || pymemd_test_python () == NULL)
    {
      g_test_skip ("needs root, setpriv and python3 to act as nobody");
      return;
    }
  {
    const char *argv[] = { setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                           pymemd_test_python (), "-c", "import sys; print('ready', flush=True); sys.stdin.read()",
                           NULL };
    g_assert_true (pymemd_test_child_spawn (&child, argv, NULL, &error));
  }
  {
    const char *argv[] = { setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                           pymemd_bin (), "--once", NULL };
    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL,
                                 NULL, &out, NULL, &status, &error));
  }
  g_assert_no_error (error);
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  g_assert_true (json_parser_load_from_data (parser, out, -1, &error));
  report = json_node_get_object (json_parser_get_root (parser));
  g_assert_false (json_object_get_boolean_member (report, "exact"));
  g_assert_nonnull (strstr (json_object_get_string_member (report, "exact_error"), "root"));
  /* Its own interpreter is there with smaps figures; root's are not. */
  p = find_process (report, child.pid);
  g_assert_nonnull (p);
  g_assert_cmpint (json_object_get_int_member (p, "rss"), >, 0);
  g_assert_false (json_object_get_null_member (p, "categories"));
  g_assert_true (json_object_get_null_member (p, "exact"));
  for (guint i = 0; i < json_array_get_length (json_object_get_array_member (report, "processes")); i++)
    g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (
                       json_object_get_array_member (report, "processes"), i), "uid"), !=, 0);
  pymemd_test_child_stop (&child);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/once/version", test_version);
  g_test_add_func ("/once/usage-errors", test_usage_errors);
  g_test_add_func ("/once/service-usage", test_service_usage);
  g_test_add_func ("/once/bad-proc-root", test_bad_proc_root);
  g_test_add_func ("/once/fixture-report", test_fixture_report);
  g_test_add_func ("/once/streamed", test_streamed);
  g_test_add_func ("/once/no-rollup", test_no_rollup);
  g_test_add_func ("/once/absent-fields", test_absent_fields);
  g_test_add_func ("/once/rollup-figures", test_rollup_figures);
  g_test_add_func ("/once/live-process", test_live_process);
  g_test_add_func ("/once/unprivileged", test_unprivileged);
  g_test_add_func ("/once/odd-names", test_odd_names);
  return g_test_run ();
}
