/* Runs pymemctl (PYMEMCTL_BIN) against the real pymemd on a private bus with real Python processes: its JSON agrees with the daemon's replies, watch prints growth, history survives a restart, and every error gives its message and exit code. */
#include "config.h"

#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "testutil.h"

#define BUS_NAME      "org.pymemd.Monitor1"
#define MANAGER_PATH  "/org/pymemd/Monitor1"
#define MANAGER_IFACE "org.pymemd.Monitor1"
#define INTERVAL      "0.5"

/* An interpreter with 8 MiB of its own; each line N on its stdin makes it
 * take N MiB more and print "grown". Ends at EOF. */
static const char child_code[] =
  "import sys\n"
  "held = [bytearray(8 << 20)]\n"
  "held[0][::4096] = b'x' * 2048\n"
  "print('ready', flush=True)\n"
  "for line in sys.stdin:\n"
  "    n = int(line) << 20\n"
  "    held.append(bytearray(n))\n"
  "    held[-1][::4096] = b'x' * (n >> 12)\n"
  "    print('grown', flush=True)\n";

typedef struct {
  PymemdTestService service;
  PymemdTestChild   child;
} Fixture;

static void
fixture_setup (Fixture *fx, gconstpointer data)
{
  memset (fx, 0, sizeof *fx);
  if (g_getenv ("PYMEMCTL_BIN") == NULL)
    {
      g_test_skip ("PYMEMCTL_BIN is not set");
      return;
    }
  pymemd_test_service_start_with_child (&fx->service, INTERVAL, &fx->child, child_code);
}

static void
fixture_teardown (Fixture *fx, gconstpointer data)
{
  pymemd_test_child_stop (&fx->child);
  pymemd_test_service_stop (&fx->service);
}

static gboolean
skipped (Fixture *fx)
{
  return fx->service.address == NULL;
}

/* ---- running pymemctl ---- */

static int
run_cli_envp (PymemdTestRun *run, gboolean as_nobody, char **envp, const char *const *args)
{
  return pymemd_test_run_pymemctl (run, as_nobody, envp, args);
}

static int
run_cli (PymemdTestRun *run, gboolean as_nobody, const char *const *args)
{
  g_auto(GStrv) envp = pymemd_test_cli_environ ();

  return run_cli_envp (run, as_nobody, envp, args);
}

/* pymemctl --address ADDRESS ARGS… on the fixture's bus. */
#define CLI(fx, run, ...) \
  run_cli ((run), FALSE, (const char *const[]){ "--address", (fx)->service.address, __VA_ARGS__, NULL })
#define CLI_AS_NOBODY(fx, run, ...) \
  run_cli ((run), TRUE, (const char *const[]){ "--address", (fx)->service.address, __VA_ARGS__, NULL })

/* ---- the daemon's own replies ---- */

static GVariant *
call_manager (Fixture *fx, const char *method, GVariant *args, const char *reply_type,
              GError **error)
{
  return g_dbus_connection_call_sync (fx->service.conn, BUS_NAME, MANAGER_PATH, MANAGER_IFACE,
                                      method, args, G_VARIANT_TYPE (reply_type),
                                      G_DBUS_CALL_FLAGS_NONE, 10000, NULL, error);
}

static GVariant *
daemon_entry (Fixture *fx, GPid pid)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = call_manager (fx, "GetProcesses", NULL, "(aa{sv})", &error);
  g_autoptr(GVariant) list = NULL;

  g_assert_no_error (error);
  list = g_variant_get_child_value (reply, 0);
  for (gsize i = 0; i < g_variant_n_children (list); i++)
    {
      g_autoptr(GVariant) entry = g_variant_get_child_value (list, i);
      guint32 p = 0;

      if (g_variant_lookup (entry, "pid", "u", &p) && p == (guint32) pid)
        return g_steal_pointer (&entry);
    }
  g_assert_not_reached ();
}

static GVariant *
get_details (Fixture *fx, GPid pid)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = call_manager (fx, "GetProcessDetails",
                                            g_variant_new ("(u)", (guint32) pid), "(a{sv})",
                                            &error);

  g_assert_no_error (error);
  return g_variant_get_child_value (reply, 0);
}

/* GetProcessDetails once the detail and the exact passes have reached PID
 * (Rescan asks for them now rather than at the next detail interval), so
 * that no key comes or goes between two calls. */
static GVariant *
daemon_details (Fixture *fx, GPid pid)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  for (;;)
    {
      g_autoptr(GVariant) rescan = call_manager (fx, "Rescan", NULL, "()", NULL);
      g_autoptr(GVariant) details = get_details (fx, pid);

      if (g_variant_lookup (details, "categories", "@a{sa{st}}", NULL) &&
          (g_variant_lookup (details, "exact", "@a{st}", NULL) ||
           g_variant_lookup (details, "exact_error", "&s", NULL)))
        return g_steal_pointer (&details);
      if (g_get_monotonic_time () > deadline)
        g_error ("the detail pass did not reach pid %d within 30 s", pid);
      g_usleep (200000);
    }
}

/* OBJECT's JSON has the keys of the daemon's replies BEFORE and AFTER the
 * pymemctl call: every key both have, and none that neither has (a
 * sample from a full pass and one from smaps_rollup have different
 * figures, so a key may come or go in between). */
static void
assert_same_keys (JsonObject *object, GVariant *before, GVariant *after)
{
  g_autoptr(GList) members = json_object_get_members (object);
  GVariantIter iter;
  const char *key;

  for (GList *l = members; l != NULL; l = l->next)
    if (!g_variant_lookup (before, l->data, "*", NULL) &&
        !g_variant_lookup (after, l->data, "*", NULL))
      g_error ("%s is in pymemctl's JSON, not in the daemon's replies", (char *) l->data);
  g_variant_iter_init (&iter, before);
  while (g_variant_iter_next (&iter, "{&s*}", &key, NULL))
    if (g_variant_lookup (after, key, "*", NULL) && !json_object_has_member (object, key))
      g_error ("%s is in the daemon's replies, not in pymemctl's JSON", key);
}

static void
assert_same_identity (JsonObject *object, GVariant *dict)
{
  const char *cmdline = NULL, *name = NULL;
  guint32 pid = 0, uid = 0;
  guint64 start_time = 0;

  g_assert_true (g_variant_lookup (dict, "pid", "u", &pid));
  g_assert_true (g_variant_lookup (dict, "uid", "u", &uid));
  g_assert_true (g_variant_lookup (dict, "start_time", "t", &start_time));
  g_assert_true (g_variant_lookup (dict, "cmdline", "&s", &cmdline));
  g_assert_true (g_variant_lookup (dict, "name", "&s", &name));
  g_assert_cmpint (json_object_get_int_member (object, "pid"), ==, pid);
  g_assert_cmpint (json_object_get_int_member (object, "uid"), ==, uid);
  g_assert_cmpint (json_object_get_int_member (object, "start_time"), ==, (gint64) start_time);
  g_assert_cmpstr (json_object_get_string_member (object, "cmdline"), ==, cmdline);
  g_assert_cmpstr (json_object_get_string_member (object, "name"), ==, name);
}

static const char *const figures[] = { "rss", "pss", "uss", "private_dirty", "swap", NULL };

/* pymemctl ran between the daemon's BEFORE and AFTER replies: its figures
 * are those of the sample it got. The same sample (sampled_at) must give
 * the same figures; one taken in between lies between the two, give or
 * take 5 % or 256 KiB (PSS moves whenever another process maps the same
 * pages, as the other tests' interpreters do). */
static void
assert_figures_match (JsonObject *object, GVariant *before, GVariant *after)
{
  gint64 sampled = json_object_get_int_member (object, "sampled_at");
  gint64 sampled_before = 0, sampled_after = 0;

  g_assert_true (g_variant_lookup (before, "sampled_at", "x", &sampled_before));
  g_assert_true (g_variant_lookup (after, "sampled_at", "x", &sampled_after));
  for (guint i = 0; figures[i] != NULL; i++)
    {
      guint64 a = 0, b = 0, lo, hi, slack;
      gint64 cli = json_object_get_int_member (object, figures[i]);

      g_assert_true (g_variant_lookup (before, figures[i], "t", &a));
      g_assert_true (g_variant_lookup (after, figures[i], "t", &b));
      if (sampled == sampled_before)
        g_assert_cmpint (cli, ==, (gint64) a);
      else if (sampled == sampled_after)
        g_assert_cmpint (cli, ==, (gint64) b);
      else
        {
          lo = MIN (a, b);
          hi = MAX (a, b);
          slack = MAX (hi / 20, 256 * 1024);
          if ((guint64) cli + slack < lo || (guint64) cli > hi + slack)
            g_error ("%s: %" G_GINT64_FORMAT " from pymemctl, %" G_GUINT64_FORMAT " and %" G_GUINT64_FORMAT
                     " from the daemon before and after", figures[i], cli, a, b);
        }
    }
}

/* Output for people: every one of NEEDLES (NULL-terminated), and no
 * escape sequences (stdout is a pipe). */
static void
assert_human_output (const char *text, const char *const *needles)
{
  for (guint i = 0; needles[i] != NULL; i++)
    if (strstr (text, needles[i]) == NULL)
      g_error ("“%s” is not in the output:\n%s", needles[i], text);
  g_assert_null (strchr (text, '\033'));
}

/* ---- list ---- */

/* Whether a line of TEXT starts with PID (after the right-aligning spaces). */
static gboolean
table_has_row (const char *text, GPid pid)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  g_autofree char *prefix = g_strdup_printf ("%d ", pid);

  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (g_strchug (lines[i]), prefix))
      return TRUE;
  return FALSE;
}

/* OUT is what json-glib's pretty generator makes of OUT's own document,
 * byte for byte, and a newline: `list --json` writes one process at a
 * time what it used to generate from the whole tree. */
static void
assert_pretty_form (const char *out)
{
  g_autoptr(JsonNode) root = pymemd_test_parse_json (out);
  g_autofree char *generated = json_to_string (root, TRUE);
  g_autofree char *expected = g_strconcat (generated, "\n", NULL);

  g_assert_cmpstr (out, ==, expected);
}

/* The child's entry in the output of `pymemctl list --json`, run with
 * the identity cache CACHE. */
static JsonObject *
list_entry (Fixture *fx, const char *cache, JsonNode **root)
{
  g_auto(PymemdTestRun) run = { 0 };
  g_auto(GStrv) envp = g_environ_setenv (pymemd_test_cli_environ (), "PYMEMCTL_CACHE", cache, TRUE);
  JsonArray *processes;

  g_assert_cmpint (run_cli_envp (&run, FALSE, envp,
                                 (const char *const[]){ "--address", fx->service.address, "list", "--json", NULL }),
                   ==, 0);
  g_assert_cmpstr (run.err, ==, "");
  *root = pymemd_test_parse_json (run.out);
  processes = json_object_get_array_member (json_node_get_object (*root), "processes");
  for (guint i = 0; i < json_array_get_length (processes); i++)
    {
      JsonObject *object = json_array_get_object_element (processes, i);

      if (json_object_get_int_member (object, "pid") == fx->child.pid)
        return object;
    }
  g_error ("pymemctl list --json has no process %d:\n%s", fx->child.pid, run.out);
}

/* Rewrites the identity cache at PATH: the child's command line becomes
 * CMDLINE, and the daemon instance it was written for INSTANCE (NULL:
 * kept). */
static void
rewrite_cache (const char *path, GPid pid, const char *cmdline, const char *instance)
{
  g_autofree char *contents = NULL;
  gsize length = 0;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GVariant) cache = NULL;
  g_autoptr(GVariant) written = NULL;
  g_autoptr(GVariantIter) iter = NULL;
  const char *was_instance = NULL;
  GVariantBuilder builder;
  guint32 p;
  guint64 start_time;
  gboolean restricted;
  const char *name, *line, *version, *object_path;
  gboolean found = FALSE;

  g_assert_true (g_file_get_contents (path, &contents, &length, &error));
  g_assert_no_error (error);
  bytes = g_bytes_new_take (g_steal_pointer (&contents), length);
  cache = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE ("(sa(utbssso))"), bytes, FALSE));
  g_assert_true (g_variant_is_normal_form (cache));
  g_variant_get (cache, "(&sa(utbssso))", &was_instance, &iter);
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(utbssso)"));
  while (g_variant_iter_next (iter, "(utb&s&s&s&o)", &p, &start_time, &restricted, &name, &line, &version,
                              &object_path))
    {
      found |= p == (guint32) pid;
      g_variant_builder_add (&builder, "(utbssso)", p, start_time, restricted, name,
                             p == (guint32) pid ? cmdline : line, version, object_path);
    }
  g_assert_true (found);
  written = g_variant_ref_sink (g_variant_new ("(sa(utbssso))", instance != NULL ? instance : was_instance,
                                               &builder));
  g_assert_true (g_file_set_contents (path, g_variant_get_data (written), (gssize) g_variant_get_size (written),
                                      &error));
  g_assert_no_error (error);
}

/* list takes names and command lines from GetIdentities once per process
 * and keeps them between runs, for this daemon only; a cache that is not
 * one is ignored and replaced, and the output is GetProcesses' in every
 * key and its order. */
static void
test_list_identities (Fixture *fx, gconstpointer data)
{
  g_autofree char *dir = NULL;
  g_autofree char *cache = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GVariant) entry = NULL;
  g_autoptr(GVariant) entry_after = NULL;
  JsonObject *mine;
  const char *cmdline = NULL;
  GStatBuf st;

  if (skipped (fx))
    return;
  dir = pymemd_test_mkdtemp ();
  cache = g_build_filename (dir, "run", "identities", NULL);

  /* The first run asks and writes the cache, the user's alone. */
  entry = daemon_entry (fx, fx->child.pid);
  mine = list_entry (fx, cache, &root);
  entry_after = daemon_entry (fx, fx->child.pid);
  assert_same_keys (mine, entry, entry_after);
  assert_same_identity (mine, entry);
  assert_figures_match (mine, entry, entry_after);
  {
    g_autoptr(GList) members = json_object_get_members (mine);
    GVariantIter iter;
    const char *key;
    GList *l = members;

    /* In GetProcesses' order, key by key. */
    g_variant_iter_init (&iter, entry_after);
    while (g_variant_iter_next (&iter, "{&s*}", &key, NULL))
      {
        g_assert_nonnull (l);
        g_assert_cmpstr (l->data, ==, key);
        l = l->next;
      }
    g_assert_null (l);
  }
  g_assert_true (g_variant_lookup (entry, "cmdline", "&s", &cmdline));
  g_assert_cmpint (g_stat (cache, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
  g_clear_pointer (&root, json_node_unref);

  /* The second takes the command line from the cache: a changed one shows. */
  rewrite_cache (cache, fx->child.pid, "kept between runs", NULL);
  mine = list_entry (fx, cache, &root);
  g_assert_cmpstr (json_object_get_string_member (mine, "cmdline"), ==, "kept between runs");
  g_clear_pointer (&root, json_node_unref);

  /* Written for another run of the daemon: not taken, and replaced. */
  rewrite_cache (cache, fx->child.pid, "another daemon's", "another-instance");
  mine = list_entry (fx, cache, &root);
  g_assert_cmpstr (json_object_get_string_member (mine, "cmdline"), ==, cmdline);
  g_clear_pointer (&root, json_node_unref);
  rewrite_cache (cache, fx->child.pid, "kept again", NULL);
  mine = list_entry (fx, cache, &root);
  g_assert_cmpstr (json_object_get_string_member (mine, "cmdline"), ==, "kept again");
  g_clear_pointer (&root, json_node_unref);

  /* Not a cache at all: ignored, then replaced by one. */
  {
    static const char garbage[] = "\xff\xff\xff\x7f not a cache \x01\x02";

    g_assert_true (g_file_set_contents (cache, garbage, sizeof garbage, NULL));
    mine = list_entry (fx, cache, &root);
    g_assert_cmpstr (json_object_get_string_member (mine, "cmdline"), ==, cmdline);
    g_clear_pointer (&root, json_node_unref);
    rewrite_cache (cache, fx->child.pid, "a cache again", NULL);
  }

  /* Where it cannot be written, list works without it. */
  {
    g_autofree char *blocked = g_build_filename (dir, "file", "identities", NULL);
    g_autofree char *file = g_build_filename (dir, "file", NULL);

    g_assert_true (g_file_set_contents (file, "", 0, NULL));
    mine = list_entry (fx, blocked, &root);
    g_assert_cmpstr (json_object_get_string_member (mine, "cmdline"), ==, cmdline);
    g_clear_pointer (&root, json_node_unref);
  }
  pymemd_test_rm_rf (dir);
}

/* No interpreter at all (a /proc of none): list says so, as a table and
 * as JSON, where every column of GetTable is empty. The README's first
 * command found this failing ("columns that do not fit together"). */
static void
test_list_empty (void)
{
  PymemdTestService service;
  g_auto(PymemdTestRun) text = { 0 };
  g_auto(PymemdTestRun) json = { 0 };
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *random = NULL;
  g_autofree char *proc = NULL;

  if (g_getenv ("PYMEMCTL_BIN") == NULL || !pymemd_test_service_start_bus (&service))
    {
      g_test_skip ("needs PYMEMCTL_BIN and the test bus");
      return;
    }
  /* A procfs of no process: what the daemon reads besides the pids. */
  proc = g_build_filename (service.tmp, "proc", NULL);
  random = g_build_filename (proc, "sys", "kernel", "random", NULL);
  g_assert_cmpint (g_mkdir_with_parents (random, 0755), ==, 0);
  {
    g_autofree char *boot_id = g_build_filename (random, "boot_id", NULL);
    g_autofree char *meminfo = g_build_filename (proc, "meminfo", NULL);
    g_autofree char *real = NULL;

    g_assert_true (g_file_get_contents ("/proc/meminfo", &real, NULL, NULL));
    g_assert_true (g_file_set_contents (boot_id, "3b1f2c8e-0d6a-4f2e-9a51-6c2d1e0f7a11\n", -1, NULL));
    g_assert_true (g_file_set_contents (meminfo, real, -1, NULL));
  }
  service.proc_dir = g_strdup (proc);
  pymemd_test_service_start_daemon (&service, INTERVAL);
  {
    g_auto(GStrv) envp = pymemd_test_cli_environ ();

    g_assert_cmpint (run_cli_envp (&text, FALSE, envp,
                                   (const char *const[]){ "--address", service.address, "list", NULL }),
                     ==, 0);
    g_assert_cmpint (run_cli_envp (&json, FALSE, envp,
                                   (const char *const[]){ "--address", service.address, "list", "--json", NULL }),
                     ==, 0);
  }
  g_assert_cmpstr (text.err, ==, "");
  g_assert_nonnull (strstr (text.out, "(no Python process is running)"));
  g_assert_cmpstr (json.err, ==, "");
  assert_pretty_form (json.out);
  root = pymemd_test_parse_json (json.out);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (json_node_get_object (root), "processes")),
                    ==, 0);
  pymemd_test_service_stop (&service);
}

/* GetTable and GetIdentities themselves: columns that fit, what a caller
 * may not see left out, and a bound on what one call asks. */
static void
test_table_calls (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) table = NULL;
  g_autoptr(GVariant) identities = NULL;
  g_autoptr(GVariant) too_many = NULL;
  g_autoptr(GVariant) pid = NULL, start = NULL, values = NULL, present = NULL;
  g_autofree const char **names = NULL;
  const guint32 *pids;
  const guint64 *starts;
  gsize n = 0, n_figures = 0, mine = G_MAXSIZE;
  GVariantBuilder builder;

  if (skipped (fx))
    return;
  table = call_manager (fx, "GetTable", NULL, "(sauatauabaxasatatad)", &error);
  g_assert_no_error (error);
  pid = g_variant_get_child_value (table, 1);
  start = g_variant_get_child_value (table, 2);
  values = g_variant_get_child_value (table, 7);
  present = g_variant_get_child_value (table, 8);
  pids = g_variant_get_fixed_array (pid, &n, sizeof (guint32));
  starts = g_variant_get_fixed_array (start, &n, sizeof (guint64));
  {
    g_autoptr(GVariant) figure_names = g_variant_get_child_value (table, 6);

    names = g_variant_get_strv (figure_names, &n_figures);
  }
  g_assert_cmpuint (n_figures, <=, 64);
  g_assert_cmpuint (g_variant_n_children (values), ==, n * n_figures);
  for (gsize i = 0; i < n; i++)
    if (pids[i] == (guint32) fx->child.pid)
      mine = i;
  g_assert_cmpuint (mine, <, n);
  /* Root sees the child in detail: pss among its figures. */
  {
    const guint64 *bits = g_variant_get_fixed_array (present, &n, sizeof (guint64));
    const guint64 *cells = g_variant_get_fixed_array (values, &n_figures, sizeof (guint64));

    n_figures /= MAX (n, 1);
    for (gsize f = 0; f < n_figures; f++)
      if (g_str_equal (names[f], "pss"))
        {
          g_assert_true (bits[mine] & (G_GUINT64_CONSTANT (1) << f));
          g_assert_cmpuint (cells[mine * n_figures + f], >, 8 << 20);
        }
  }

  /* Identities: the child once however often asked, a pid not watched or
   * a wrong start time left out. */
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(ut)"));
  g_variant_builder_add (&builder, "(ut)", pids[mine], starts[mine]);
  g_variant_builder_add (&builder, "(ut)", pids[mine], starts[mine]);
  g_variant_builder_add (&builder, "(ut)", pids[mine], starts[mine] + 1);
  g_variant_builder_add (&builder, "(ut)", (guint32) G_MAXUINT32, starts[mine]);
  identities = call_manager (fx, "GetIdentities", g_variant_new ("(a(ut))", &builder), "(a(utbssso))", &error);
  g_assert_no_error (error);
  {
    g_autoptr(GVariant) list = g_variant_get_child_value (identities, 0);
    guint32 p = 0;
    gboolean restricted = TRUE;
    const char *cmdline = NULL;

    g_assert_cmpuint (g_variant_n_children (list), ==, 1);
    g_variant_get_child (list, 0, "(utb&s&s&s&o)", &p, NULL, &restricted, NULL, &cmdline, NULL, NULL);
    g_assert_cmpuint (p, ==, (guint32) fx->child.pid);
    g_assert_false (restricted);
    g_assert_nonnull (strstr (cmdline, "python"));
  }

  /* More than 65536 in one call: refused, the daemon still answers. */
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(ut)"));
  for (guint i = 0; i < 65537; i++)
    g_variant_builder_add (&builder, "(ut)", i, (guint64) i);
  too_many = call_manager (fx, "GetIdentities", g_variant_new ("(a(ut))", &builder), "(a(utbssso))", &error);
  g_assert_null (too_many);
  {
    g_autofree char *remote = g_dbus_error_get_remote_error (error);

    g_assert_cmpstr (remote, ==, "org.pymemd.Error.InvalidArgs");
  }
  g_clear_error (&error);
  g_variant_unref (call_manager (fx, "GetTable", NULL, "(sauatauabaxasatatad)", &error));
  g_assert_no_error (error);
}

static void
test_list (Fixture *fx, gconstpointer data)
{
  g_auto(PymemdTestRun) run = { 0 };
  g_auto(PymemdTestRun) text = { 0 };
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GVariant) entry = NULL;
  g_autoptr(GVariant) entry_after = NULL;
  JsonArray *processes;
  JsonObject *mine = NULL;

  if (skipped (fx))
    return;
  entry = daemon_entry (fx, fx->child.pid);
  g_assert_cmpint (CLI (fx, &run, "list", "--json"), ==, 0);
  g_assert_cmpstr (run.err, ==, "");
  entry_after = daemon_entry (fx, fx->child.pid);
  assert_pretty_form (run.out);
  root = pymemd_test_parse_json (run.out);
  processes = json_object_get_array_member (json_node_get_object (root), "processes");
  for (guint i = 0; i < json_array_get_length (processes); i++)
    {
      JsonObject *object = json_array_get_object_element (processes, i);
      if (json_object_get_int_member (object, "pid") == fx->child.pid)
        mine = object;
    }
  g_assert_nonnull (mine);
  assert_same_keys (mine, entry, entry_after);
  assert_same_identity (mine, entry);
  assert_figures_match (mine, entry, entry_after);
  g_assert_false (json_object_get_boolean_member (mine, "restricted"));

  /* The global --json before the command is the same. */
  {
    g_auto(PymemdTestRun) before = { 0 };
    g_assert_cmpint (CLI (fx, &before, "--json", "list"), ==, 0);
    g_assert_true (g_str_has_prefix (before.out, "{"));
  }

  /* For people: a table with the process, no escape sequences on a pipe. */
  g_assert_cmpint (CLI (fx, &text, "list"), ==, 0);
  g_assert_true (table_has_row (text.out, fx->child.pid));
  assert_human_output (text.out, (const char *const[]){ "PID", "PSS", "COMMAND", "MiB", NULL });
}

/* A process that any user may start: run from a path that is no UTF-8 and
 * holds an escape sequence, with such a file mapped. The daemon still
 * answers (it runs with fatal criticals here: a string that is no UTF-8 in
 * a reply would stop it), and pymemctl prints it as valid JSON, and for
 * people without the escape. */
static void
test_odd_names (Fixture *fx, gconstpointer data)
{
  g_auto(PymemdTestRun) list = { 0 };
  g_auto(PymemdTestRun) json = { 0 };
  g_auto(PymemdTestRun) show = { 0 };
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL, *python = NULL, *mapped = NULL, *pid = NULL;
  g_autoptr(JsonNode) root = NULL;
  PymemdTestChild odd;
  static const char code[] = "import mmap, sys\n"
                             "f = open(sys.argv[1], 'rb')\n"
                             "m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)\n"
                             "print('ready', flush=True)\nsys.stdin.read()\n";

  if (skipped (fx))
    return;
  if (!g_file_test ("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("no /usr/bin/python3");
      return;
    }
  dir = g_build_filename (fx->service.tmp, "\xff\xfe dir", NULL);
  g_assert_cmpint (g_mkdir (dir, 0755), ==, 0);
  /* U+202E and U+2066 (a right-to-left override and isolate) would make
   * what follows them read backwards. */
  python = pymemd_test_copy_file ("/usr/bin/python3", dir, "py\xe9\033[5m\xe2\x80\xae");
  mapped = g_build_filename (dir, "\xe9t\xe9\033]0;x\007\xe2\x81\xa6.bin", NULL);
  g_assert_true (g_file_set_contents (mapped, "data", 4, &error));
  g_assert_true (pymemd_test_child_spawn (&odd, (const char *const[]){ python, "-c", code, mapped, NULL },
                                          NULL, &error));
  g_assert_no_error (error);
  pymemd_test_service_wait_pid (&fx->service, odd.pid);
  pid = g_strdup_printf ("%d", odd.pid);

  g_assert_cmpint (CLI (fx, &json, "--json", "list"), ==, 0);
  g_assert_true (g_utf8_validate (json.out, -1, NULL));
  root = pymemd_test_parse_json (json.out);
  g_assert_nonnull (strstr (json.out, "py\357\277\275\\u001b[5m"));
  g_assert_cmpint (CLI (fx, &list, "list"), ==, 0);
  g_assert_true (table_has_row (list.out, odd.pid));
  assert_human_output (list.out, (const char *const[]){ "PID", NULL });
  g_assert_cmpint (CLI (fx, &show, "show", pid), ==, 0);
  assert_human_output (show.out, (const char *const[]){ "t\357\277\275", NULL });
  g_assert_null (strchr (show.out, '\007'));
  for (guint i = 0; i < 2; i++)
    {
      const char *out = i == 0 ? list.out : show.out;

      g_assert_null (strstr (out, "\xe2\x80\xae"));
      g_assert_null (strstr (out, "\xe2\x81\xa6"));
    }
  pymemd_test_child_stop (&odd);
}

/* ---- show ---- */

static void
test_show (Fixture *fx, gconstpointer data)
{
  g_auto(PymemdTestRun) run = { 0 };
  g_auto(PymemdTestRun) text = { 0 };
  g_autofree char *pid = g_strdup_printf ("%d", fx->child.pid);
  g_autoptr(GVariant) details = NULL;
  g_autoptr(GVariant) details_after = NULL;
  g_autoptr(GVariant) categories = NULL;
  g_autoptr(GVariant) mappings = NULL;
  g_autoptr(JsonNode) root = NULL;
  JsonObject *object, *json_categories;
  JsonArray *json_mappings;
  GVariantIter iter;
  const char *name;

  if (skipped (fx))
    return;
  details = daemon_details (fx, fx->child.pid);
  g_assert_cmpint (CLI (fx, &run, "show", pid, "--json"), ==, 0);
  details_after = get_details (fx, fx->child.pid);
  g_assert_cmpstr (run.err, ==, "");
  root = pymemd_test_parse_json (run.out);
  object = json_node_get_object (root);
  assert_same_keys (object, details, details_after);
  assert_same_identity (object, details);
  assert_figures_match (object, details, details_after);

  /* Every category with the same figures' names and mapping counts. */
  categories = g_variant_lookup_value (details, "categories", G_VARIANT_TYPE ("a{sa{st}}"));
  json_categories = json_object_get_object_member (object, "categories");
  g_assert_cmpuint (json_object_get_size (json_categories), ==, g_variant_n_children (categories));
  g_variant_iter_init (&iter, categories);
  {
    GVariant *one;
    while (g_variant_iter_next (&iter, "{&s@a{st}}", &name, &one))
      {
        JsonObject *json_one = json_object_get_object_member (json_categories, name);
        guint64 count = 0;

        g_assert_nonnull (json_one);
        assert_same_keys (json_one, one, one);
        g_assert_true (g_variant_lookup (one, "mappings", "t", &count));
        g_assert_cmpint (json_object_get_int_member (json_one, "mappings"), ==, (gint64) count);
        g_variant_unref (one);
      }
  }
  /* The mappings as objects: path, hexadecimal start and end, figures. */
  mappings = g_variant_lookup_value (details, "mappings", G_VARIANT_TYPE ("a(stta{st})"));
  json_mappings = json_object_get_array_member (object, "mappings");
  g_assert_nonnull (mappings);
  g_assert_cmpuint (json_array_get_length (json_mappings), ==, g_variant_n_children (mappings));
  for (guint i = 0; i < json_array_get_length (json_mappings); i++)
    {
      JsonObject *mapping = json_array_get_object_element (json_mappings, i);

      g_assert_true (g_str_has_prefix (json_object_get_string_member (mapping, "start"), "0x"));
      g_assert_true (g_str_has_prefix (json_object_get_string_member (mapping, "end"), "0x"));
      g_assert_nonnull (json_object_get_string_member (mapping, "path"));
      g_assert_true (json_object_has_member (mapping, "pss"));
    }

  g_assert_cmpint (CLI (fx, &text, "show", pid), ==, 0);
  assert_human_output (text.out,
                       (const char *const[]){ "Memory by category", "CATEGORY", "interpreter",
                                              /* where pymalloc's figures come from */
                                              "\npymalloc: ",
                                              "Exact figures", "Largest mappings", NULL });
}

/* ---- status ---- */

static void
test_status (Fixture *fx, gconstpointer data)
{
  g_auto(PymemdTestRun) run = { 0 };
  g_auto(PymemdTestRun) text = { 0 };
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) version = NULL;
  JsonObject *object;
  const char *state;

  if (skipped (fx))
    return;
  version = g_dbus_connection_call_sync (fx->service.conn, BUS_NAME, MANAGER_PATH,
                                         "org.freedesktop.DBus.Properties", "Get",
                                         g_variant_new ("(ss)", MANAGER_IFACE, "Version"),
                                         G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NONE, 10000,
                                         NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (CLI (fx, &run, "status", "--json"), ==, 0);
  root = pymemd_test_parse_json (run.out);
  object = json_node_get_object (root);
  {
    g_autoptr(GVariant) inner = NULL;
    g_variant_get (version, "(v)", &inner);
    g_assert_cmpstr (json_object_get_string_member (object, "version"), ==,
                     g_variant_get_string (inner, NULL));
  }
  g_assert_cmpint (json_object_get_int_member (object, "process_count"), >=, 1);
  g_assert_cmpfloat (json_object_get_double_member (object, "interval"), ==, 0.5);
  state = json_object_get_string_member (json_object_get_object_member (object, "history"),
                                         "state");
  g_assert_true (g_strv_contains ((const char *const[]){ "ok", "degraded", "disabled", NULL },
                                  state));
  g_assert_true (json_object_has_member (object, "exact_available"));

  g_assert_cmpint (CLI (fx, &text, "status"), ==, 0);
  assert_human_output (text.out, (const char *const[]){ "Version:", "History:", NULL });
}

/* ---- watch ---- */

static gboolean
is_line_about (const char *line, GPid pid)
{
  g_autoptr(JsonNode) root = pymemd_test_parse_json (line);

  return json_object_get_int_member (json_node_get_object (root), "pid") == pid;
}

static void
test_watch (Fixture *fx, gconstpointer data)
{
  const char *const args[] = { "--address", fx->service.address, "watch", "--json", NULL };
  g_autoptr(GPtrArray) argv = NULL;
  g_auto(GStrv) envp = pymemd_test_cli_environ ();
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *line = NULL;
  JsonObject *object;
  PymemdTestChild watch;
  GPid pid;
  int out_fd, status;

  if (skipped (fx))
    return;
  argv = pymemd_test_pymemctl_argv (FALSE, args);
  g_assert_true (g_spawn_async_with_pipes (NULL, (char **) argv->pdata, envp,
                                           G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH, NULL,
                                           NULL, &pid, NULL, &out_fd, NULL, &error));
  g_assert_no_error (error);

  /* pymemctl says nothing when it has subscribed: grow the child until a
   * line about it comes (each growth passes the 1 MiB threshold); lines
   * about other interpreters on the host are passed over. */
  watch.pid = pid;
  watch.stdin_fd = -1;
  watch.stdout_fd = out_fd;
  for (guint attempt = 0; attempt < 3 && line == NULL; attempt++)
    {
      g_autofree char *grown = NULL;
      char *next;

      pymemd_test_child_send (&fx->child, "4");
      grown = pymemd_test_child_read_line (&fx->child, &error);
      g_assert_no_error (error);
      while (line == NULL && (next = pymemd_test_child_read_line (&watch, &error)) != NULL)
        {
          if (is_line_about (next, fx->child.pid))
            line = next;
          else
            g_free (next);
        }
      /* No line within 30 s: the growth came before the subscription. */
      g_clear_error (&error);
    }
  g_assert_nonnull (line);
  g_test_message ("watch printed: %s", line);
  root = pymemd_test_parse_json (line);
  object = json_node_get_object (root);
  g_assert_cmpstr (json_object_get_string_member (object, "signal"), ==, "MemoryChanged");
  g_assert_true (json_object_has_member (object, "time"));
  g_assert_true (json_object_has_member (object, "start_time"));
  g_assert_true (json_object_has_member (
    json_object_get_object_member (object, "sample"), "pss"));

  /* SIGTERM ends it with status 0. */
  g_assert_cmpint (kill (pid, SIGTERM), ==, 0);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_spawn_close_pid (pid);
  close (out_fd);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
}

/* ---- errors ---- */

/* A usage error: exit 2, "pymemctl: MESSAGE" and the hint to --help. */
static void
assert_usage (const char *expected, const char *const *args)
{
  g_auto(PymemdTestRun) run = { 0 };
  g_autofree char *first_line = NULL;

  g_assert_cmpint (run_cli (&run, FALSE, args), ==, 2);
  g_assert_cmpstr (run.out, ==, "");
  first_line = g_strndup (run.err, strcspn (run.err, "\n"));
  if (strstr (first_line, expected) == NULL)
    g_error ("expected “%s” in “%s”", expected, run.err);
  g_assert_true (g_str_has_prefix (first_line, "pymemctl: "));
  g_assert_nonnull (strstr (run.err, "pymemctl --help"));
}

#define USAGE(expected, ...) assert_usage ((expected), (const char *const[]){ __VA_ARGS__, NULL })

static void
test_usage (void)
{
  g_auto(PymemdTestRun) version = { 0 };

  if (g_getenv ("PYMEMCTL_BIN") == NULL)
    {
      g_test_skip ("PYMEMCTL_BIN is not set");
      return;
    }
  /* Usage is checked before any bus is reached: none is needed here. */
  USAGE ("No command given", "--address", "unix:path=/nonexistent");
  USAGE ("Unknown command “frobnicate”", "frobnicate");
  USAGE ("Unknown option --bogus", "list", "--bogus");
  USAGE ("Unknown option --bogus", "--bogus", "list");
  USAGE ("Unexpected argument “extra”", "list", "extra");
  USAGE ("Choose one of --system, --session and --address", "--system", "--session", "list");
  USAGE ("show needs a process ID", "show");
  USAGE ("“abc” is not a process ID", "show", "abc");
  USAGE ("“0” is not a process ID", "show", "0");
  USAGE ("history needs a process ID", "history");
  USAGE ("“5x” is not a duration", "history", "1", "--since", "5x");
  USAGE ("“0” is not a duration", "history", "1", "--since", "0");
  USAGE ("“1h30” is not a duration", "history", "1", "--since", "1h30");
  USAGE ("“99999999999d” is not a duration", "history", "1", "--since", "99999999999d");
  USAGE ("--resolution is a number of seconds", "history", "1", "--resolution", "-1");
  USAGE ("Cannot parse double value “x”", "history", "1", "--resolution", "x");
  USAGE ("“x” is not a process ID", "watch", "x");

  g_assert_cmpint (run_cli (&version, FALSE, (const char *const[]){ "--version", NULL }), ==, 0);
  g_assert_cmpstr (version.out, ==, "pymemctl " PACKAGE_VERSION "\n");
}

static void
assert_not_running (const char *expected, const char *env, const char *env_value,
                    const char *const *args)
{
  g_auto(PymemdTestRun) run = { 0 };
  g_auto(GStrv) envp = pymemd_test_cli_environ ();

  if (env != NULL)
    envp = g_environ_setenv (envp, env, env_value, TRUE);
  g_assert_cmpint (run_cli_envp (&run, FALSE, envp, args), ==, 1);
  g_assert_cmpstr (run.out, ==, "");
  g_assert_cmpstr (run.err, ==, expected);
}

static void
test_not_running (Fixture *fx, gconstpointer data)
{
  const char *address;
  g_autofree char *at_address = NULL;
  const char *system_message = "pymemctl: pymemd is not running on the system bus; start it "
                               "with `systemctl start pymemd`\n";
  const char *session_message = "pymemctl: pymemd is not running on the session bus; start it "
                                "with `pymemd --session`\n";

  if (skipped (fx))
    return;
  pymemd_test_service_stop_daemon (&fx->service);
  pymemd_test_service_wait_name_released (&fx->service);
  address = fx->service.address;
  at_address = g_strdup_printf ("pymemctl: pymemd is not running on the bus at %s; start it "
                                "with `pymemd --address %s`\n",
                                address, address);

  assert_not_running (at_address, NULL, NULL,
                      (const char *const[]){ "--address", address, "list", NULL });
  assert_not_running (at_address, NULL, NULL,
                      (const char *const[]){ "show", "1", "--address", address, NULL });
  assert_not_running (at_address, NULL, NULL,
                      (const char *const[]){ "--address", address, "history", "1", NULL });
  assert_not_running (at_address, NULL, NULL,
                      (const char *const[]){ "--address", address, "status", NULL });
  assert_not_running (at_address, NULL, NULL,
                      (const char *const[]){ "--address", address, "watch", NULL });
  /* The system bus is the default. */
  assert_not_running (system_message, "DBUS_SYSTEM_BUS_ADDRESS", address,
                      (const char *const[]){ "list", NULL });
  assert_not_running (system_message, "DBUS_SYSTEM_BUS_ADDRESS", address,
                      (const char *const[]){ "--system", "status", "--json", NULL });
  assert_not_running (session_message, "DBUS_SESSION_BUS_ADDRESS", address,
                      (const char *const[]){ "--session", "show", "1", NULL });
}

static void
test_denied_and_unknown (Fixture *fx, gconstpointer data)
{
  g_auto(PymemdTestRun) show = { 0 };
  g_auto(PymemdTestRun) history = { 0 };
  g_auto(PymemdTestRun) list = { 0 };
  g_auto(PymemdTestRun) unknown = { 0 };
  g_auto(PymemdTestRun) unknown_history = { 0 };
  g_autofree char *pid = g_strdup_printf ("%d", fx->child.pid);
  g_autofree char *own_pid = g_strdup_printf ("%d", getpid ());
  g_autofree char *denied = NULL, *no_such = NULL;
  g_autoptr(JsonNode) root = NULL;
  JsonArray *processes;
  gboolean seen = FALSE;

  if (skipped (fx))
    return;
  if (pymemd_test_setpriv () == NULL || getpwnam ("nobody") == NULL)
    {
      g_test_skip ("needs setpriv and the user nobody");
      return;
    }
  /* The child is root's: nobody may not see it in detail. */
  denied = g_strdup_printf ("pymemctl: Not allowed to see process %s in detail: run pymemctl as "
                            "the process's owner or as root, or be authorised for "
                            "org.pymemd.inspect-all\n",
                            pid);
  g_assert_cmpint (CLI_AS_NOBODY (fx, &show, "show", pid), ==, 1);
  g_assert_cmpstr (show.err, ==, denied);
  g_assert_cmpint (CLI_AS_NOBODY (fx, &history, "history", pid), ==, 1);
  g_assert_cmpstr (history.err, ==, denied);
  /* … but sees it listed, restricted. */
  g_assert_cmpint (CLI_AS_NOBODY (fx, &list, "list", "--json"), ==, 0);
  root = pymemd_test_parse_json (list.out);
  processes = json_object_get_array_member (json_node_get_object (root), "processes");
  for (guint i = 0; i < json_array_get_length (processes); i++)
    {
      JsonObject *object = json_array_get_object_element (processes, i);

      if (json_object_get_int_member (object, "pid") != fx->child.pid)
        continue;
      seen = TRUE;
      g_assert_true (json_object_get_boolean_member (object, "restricted"));
      g_assert_false (json_object_has_member (object, "pss"));
    }
  g_assert_true (seen);

  /* This test program is no Python process. */
  no_such = g_strdup_printf ("pymemctl: No Python process with PID %s is known to pymemd\n",
                             own_pid);
  g_assert_cmpint (CLI (fx, &unknown, "show", own_pid), ==, 1);
  g_assert_cmpstr (unknown.err, ==, no_such);
  g_assert_cmpint (CLI (fx, &unknown_history, "history", own_pid), ==, 1);
  g_assert_cmpstr (unknown_history.err, ==, no_such);
}

/* ---- history ---- */

/* The number of samples GetHistory has for PID from an hour ago until
 * UNTIL (µs since the epoch, 0 for now); G_MAXUINT64 without GetHistory. */
static guint64
daemon_history_samples (Fixture *fx, GPid pid, gint64 until)
{
  g_autoptr(GError) error = NULL;
  gint64 since = g_get_real_time () - G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC;
  g_autoptr(GVariant) reply = call_manager (
    fx, "GetHistory", g_variant_new ("(utxxd)", (guint32) pid, (guint64) 0, since, until, 0.0),
    "(a{sv}axauatatatatatatatatat)", &error);
  g_autoptr(GVariant) counts = NULL;
  const guint32 *count;
  guint64 total = 0;
  gsize n;

  if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD))
    return G_MAXUINT64;
  if (reply == NULL)
    return 0; /* no history yet */
  counts = g_variant_get_child_value (reply, 2);
  count = g_variant_get_fixed_array (counts, &n, sizeof (guint32));
  for (gsize i = 0; i < n; i++)
    total += count[i];
  return total;
}

static guint64
wait_history_samples (Fixture *fx, guint64 at_least)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  guint64 n;

  while ((n = daemon_history_samples (fx, fx->child.pid, 0)) < at_least)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("GetHistory had %" G_GUINT64_FORMAT " samples of pid %d after 30 s, not %"
                 G_GUINT64_FORMAT, n, fx->child.pid, at_least);
      g_usleep (200000);
    }
  return n;
}

/* The samples `pymemctl history PID --json` counts, checking the document. */
static guint64
cli_history_samples (Fixture *fx)
{
  g_auto(PymemdTestRun) run = { 0 };
  g_autofree char *pid = g_strdup_printf ("%d", fx->child.pid);
  g_autoptr(JsonNode) root = NULL;
  JsonObject *object;
  JsonArray *buckets;
  guint64 total = 0;

  g_assert_cmpint (CLI (fx, &run, "history", pid, "--json", "--since", "1h"), ==, 0);
  root = pymemd_test_parse_json (run.out);
  object = json_node_get_object (root);
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (object, "info"),
                                               "pid"),
                   ==, fx->child.pid);
  g_assert_cmpint (json_object_get_int_member (object, "until") -
                     json_object_get_int_member (object, "since"),
                   ==, G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC);
  buckets = json_object_get_array_member (object, "buckets");
  for (guint i = 0; i < json_array_get_length (buckets); i++)
    {
      JsonObject *bucket = json_array_get_object_element (buckets, i);

      for (guint k = 0; k < 3; k++)
        {
          const char *const series[] = { "pss", "uss", "swap" };
          g_autofree char *min = g_strconcat (series[k], "_min", NULL);
          g_autofree char *avg = g_strconcat (series[k], "_avg", NULL);
          g_autofree char *max = g_strconcat (series[k], "_max", NULL);

          if (json_object_get_int_member (bucket, "count") == 0)
            continue;
          g_assert_cmpint (json_object_get_int_member (bucket, min), <=,
                           json_object_get_int_member (bucket, avg));
          g_assert_cmpint (json_object_get_int_member (bucket, avg), <=,
                           json_object_get_int_member (bucket, max));
        }
      g_assert_true (json_object_has_member (bucket, "time"));
      total += (guint64) json_object_get_int_member (bucket, "count");
    }
  return total;
}

static void
test_history (Fixture *fx, gconstpointer data)
{
  g_auto(PymemdTestRun) text = { 0 };
  g_autofree char *pid = g_strdup_printf ("%d", fx->child.pid);
  guint64 before, cli_before;
  gint64 restart;

  if (skipped (fx))
    return;
  if (daemon_history_samples (fx, fx->child.pid, 0) == G_MAXUINT64)
    {
      g_test_skip ("this pymemd has no GetHistory");
      return;
    }
  before = wait_history_samples (fx, 3);
  cli_before = cli_history_samples (fx);
  g_assert_cmpuint (cli_before, >=, before);

  g_assert_cmpint (CLI (fx, &text, "history", pid, "--since", "10m", "--resolution", "1"), ==, 0);
  assert_human_output (text.out, (const char *const[]){ "PSS AVG", "▁", NULL });

  /* One history across a restart of the daemon: what was recorded before
   * is still there, and new samples add to it. */
  restart = g_get_real_time ();
  pymemd_test_service_stop_daemon (&fx->service);
  pymemd_test_service_start_daemon (&fx->service, INTERVAL);
  pymemd_test_service_wait_pid (&fx->service, fx->child.pid);
  g_assert_cmpuint (daemon_history_samples (fx, fx->child.pid, restart), >=, before);
  wait_history_samples (fx, cli_before + 1);
  g_assert_cmpuint (cli_history_samples (fx), >, cli_before);
}

int
main (int argc, char **argv)
{
  g_autofree char *state_dir = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);
  /* The daemons keep history in a store of this program's own (they
   * inherit STATE_DIRECTORY), which outlives each daemon as it would a
   * restart of the service. Set before any thread exists. */
  state_dir = pymemd_test_mkdtemp ();
  g_setenv ("STATE_DIRECTORY", state_dir, TRUE);

  g_test_add_func ("/pymemctl/usage", test_usage);
  g_test_add ("/pymemctl/list", Fixture, NULL, fixture_setup, test_list, fixture_teardown);
  g_test_add ("/pymemctl/list/identities", Fixture, NULL, fixture_setup, test_list_identities, fixture_teardown);
  g_test_add_func ("/pymemctl/list/empty", test_list_empty);
  g_test_add ("/pymemctl/table-calls", Fixture, NULL, fixture_setup, test_table_calls, fixture_teardown);
  g_test_add ("/pymemctl/odd-names", Fixture, NULL, fixture_setup, test_odd_names, fixture_teardown);
  g_test_add ("/pymemctl/show", Fixture, NULL, fixture_setup, test_show, fixture_teardown);
  g_test_add ("/pymemctl/status", Fixture, NULL, fixture_setup, test_status, fixture_teardown);
  g_test_add ("/pymemctl/watch", Fixture, NULL, fixture_setup, test_watch, fixture_teardown);
  g_test_add ("/pymemctl/not-running", Fixture, NULL, fixture_setup, test_not_running,
              fixture_teardown);
  g_test_add ("/pymemctl/denied-and-unknown", Fixture, NULL, fixture_setup,
              test_denied_and_unknown, fixture_teardown);
  g_test_add ("/pymemctl/history", Fixture, NULL, fixture_setup, test_history, fixture_teardown);
  status = g_test_run ();
  pymemd_test_rm_rf (state_dir);
  return status;
}
