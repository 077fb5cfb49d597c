/* Runs pymemctl top against the real daemon on a private bus with real Python processes: batch frames, sorting, JSON, names from the daemon in another pid namespace, usage errors, no daemon, the full-screen view driven through tmux, and German. */
#include "config.h"

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "testutil.h"

#define N_CHILDREN 3

/* MiB each child holds: PSS sorts them 1, 2, 0. */
static const guint child_mib[N_CHILDREN] = { 8, 40, 24 };

typedef struct {
  PymemdTestService service;
  PymemdTestChild   children[N_CHILDREN];
  char              marker[64]; /* in the children's command lines alone */
  gboolean          skipped;
} Fixture;

static const char *
pymemctl_bin (void)
{
  static char *bin = NULL;

  if (bin == NULL)
    bin = g_strdup (g_getenv ("PYMEMCTL_BIN") != NULL
                      ? g_getenv ("PYMEMCTL_BIN")
                      : g_test_get_filename (G_TEST_BUILT, "..", "client", "pymemctl", NULL));
  return bin;
}

/* How long a step may take before the test gives up on it (not a measure). */
static double
patience (void)
{
  return pymemd_test_under_valgrind () ? 120 : 30;
}

/* pymemctl --address ADDRESS, under valgrind with PYMEMD_VALGRIND=1 (exit
 * status 9 on a memory error or a definite leak). */
static GPtrArray *
pymemctl_argv (Fixture *fx)
{
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);

  for (const char *const *word = pymemd_test_valgrind_argv (); *word != NULL; word++)
    g_ptr_array_add (argv, g_strdup (*word));
  g_ptr_array_add (argv, g_strdup (pymemctl_bin ()));
  g_ptr_array_add (argv, g_strdup ("--address"));
  g_ptr_array_add (argv, g_strdup (fx->service.address));
  return argv;
}

/* English, whatever the locale of the test run. */
static GStrv
pymemctl_environ (void)
{
  GStrv envp = g_get_environ ();

  envp = g_environ_setenv (envp, "LC_ALL", "C.UTF-8", TRUE);
  envp = g_environ_unsetenv (envp, "LANGUAGE");
  return envp;
}

/* Runs pymemctl --address ADDRESS and the NULL-terminated ARGUMENTS; returns its exit code. */
static int
run_pymemctl (Fixture *fx, PymemdTestRun *run, ...)
{
  g_autoptr(GPtrArray) argv = pymemctl_argv (fx);
  g_auto(GStrv) envp = pymemctl_environ ();
  g_autoptr(GError) error = NULL;
  const char *arg;
  va_list args;

  va_start (args, run);
  while ((arg = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, g_strdup (arg));
  va_end (args);
  g_ptr_array_add (argv, NULL);
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, envp, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               &run->out, &run->err, &run->status, &error));
  g_assert_no_error (error);
  if (run->err != NULL && *run->err != '\0')
    g_test_message ("pymemctl said on stderr: %s", run->err);
  g_assert_true (WIFEXITED (run->status));
  return WEXITSTATUS (run->status);
}

static void
fixture_setup (Fixture *fx, gconstpointer data)
{
  memset (fx, 0, sizeof *fx);
  g_snprintf (fx->marker, sizeof fx->marker, "pymemctl-top-test-%d", (int) getpid ());
  if (!pymemd_test_service_start (&fx->service, "0.5"))
    {
      fx->skipped = TRUE;
      return;
    }
  for (guint i = 0; i < N_CHILDREN; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *code = g_strdup_printf ("import sys  # %s\n"
                                               "b = bytearray(%u << 20)\n"
                                               "b[::4096] = b'x' * len(b[::4096])\n"
                                               "print('ready', flush=True)\n"
                                               "sys.stdin.read()\n",
                                               fx->marker, child_mib[i]);

      g_assert_true (pymemd_test_child_spawn_python (&fx->children[i], code, NULL, &error));
      g_assert_no_error (error);
      pymemd_test_service_wait_pid (&fx->service, fx->children[i].pid);
    }
}

static void
fixture_teardown (Fixture *fx, gconstpointer data)
{
  if (fx->skipped)
    return;
  for (guint i = 0; i < N_CHILDREN; i++)
    pymemd_test_child_stop (&fx->children[i]);
  pymemd_test_service_stop (&fx->service);
}

/* ---- reading what top shows ---- */

static int
child_index (Fixture *fx, guint64 pid)
{
  for (int i = 0; i < N_CHILDREN; i++)
    if ((guint64) fx->children[i].pid == pid)
      return i;
  return -1;
}

/* The children in the order the rows of TEXT (a frame or a screen) show
 * them, as a string of indices ("120"); rows start with a pid. */
static char *
children_order (Fixture *fx, const char *text)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  GString *order = g_string_new (NULL);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *end = NULL;
      const char *start = lines[i] + strspn (lines[i], " ");
      guint64 pid = g_ascii_strtoull (start, &end, 10);
      int child = end != start && *end == ' ' ? child_index (fx, pid) : -1;

      if (child >= 0)
        g_string_append_c (order, (char) ('0' + child));
    }
  return g_string_free (order, FALSE);
}

/* The expected order of the children by pid, smallest first. */
static char *
pid_order (Fixture *fx, gboolean descending)
{
  char *order = g_strdup ("012");

  for (int i = 0; i < N_CHILDREN; i++)
    for (int j = i + 1; j < N_CHILDREN; j++)
      {
        GPid a = fx->children[order[i] - '0'].pid, b = fx->children[order[j] - '0'].pid;
        if (descending ? a < b : a > b)
          {
            char t = order[i];
            order[i] = order[j];
            order[j] = t;
          }
      }
  return order;
}

/* Batch frames start with the title line. */
static GStrv
split_frames (const char *out)
{
  g_auto(GStrv) parts = g_strsplit (out, "pymemctl top - ", -1);
  GPtrArray *frames = g_ptr_array_new ();

  g_assert_cmpstr (parts[0], ==, "");
  for (guint i = 1; parts[i] != NULL; i++)
    g_ptr_array_add (frames, g_strdup (parts[i]));
  g_ptr_array_add (frames, NULL);
  return (GStrv) g_ptr_array_free (frames, FALSE);
}

/* ---- batch mode ---- */

static void
test_batch_frames (Fixture *fx, gconstpointer data)
{
  g_auto(PymemdTestRun) run = { 0 };
  g_auto(GStrv) frames = NULL;

  if (fx->skipped)
    return;
  g_assert_cmpint (run_pymemctl (fx, &run, "top", "-b", "-n", "2", "-d", "0.5", NULL), ==, 0);
  g_test_message ("%s", run.out);
  g_assert_cmpstr (run.err, ==, "");
  frames = split_frames (run.out);
  g_assert_cmpuint (g_strv_length (frames), ==, 2);
  for (guint f = 0; f < 2; f++)
    {
      g_autofree char *order = children_order (fx, frames[f]);

      g_assert_nonnull (strstr (frames[f], "Total PSS "));
      g_assert_nonnull (strstr (frames[f], "PID"));
      g_assert_nonnull (strstr (frames[f], "PRIV-DIRTY"));
      g_assert_nonnull (strstr (frames[f], "GROWTH/h"));
      /* Default order: PSS, largest first. */
      g_assert_cmpstr (order, ==, "120");
    }
}

static void
test_batch_sort (Fixture *fx, gconstpointer data)
{
  g_auto(PymemdTestRun) by_pid = { 0 };
  g_auto(PymemdTestRun) by_pss = { 0 };
  g_auto(PymemdTestRun) by_title = { 0 };
  g_autofree char *ascending = NULL, *order = NULL;

  if (fx->skipped)
    return;
  ascending = pid_order (fx, FALSE);
  g_assert_cmpint (run_pymemctl (fx, &by_pid, "top", "-b", "-n", "1", "-s", "pid", NULL), ==, 0);
  order = children_order (fx, by_pid.out);
  g_assert_cmpstr (order, ==, ascending);
  g_clear_pointer (&order, g_free);

  g_assert_cmpint (run_pymemctl (fx, &by_pss, "top", "-b", "-n", "1", "-s", "pss", NULL), ==, 0);
  order = children_order (fx, by_pss.out);
  g_assert_cmpstr (order, ==, "120");
  g_clear_pointer (&order, g_free);

  /* The column's title works too. */
  g_assert_cmpint (run_pymemctl (fx, &by_title, "top", "-b", "-n", "1", "-s", "PRIV-DIRTY", NULL),
                   ==, 0);
  order = children_order (fx, by_title.out);
  g_assert_cmpstr (order, ==, "120");
}

static gint64
member_or (JsonObject *object, const char *name, gint64 fallback)
{
  JsonNode *node = json_object_get_member (object, name);

  return node != NULL && !JSON_NODE_HOLDS_NULL (node) ? json_node_get_int (node) : fallback;
}

static void
test_batch_json (Fixture *fx, gconstpointer data)
{
  g_auto(PymemdTestRun) run = { 0 };
  g_auto(GStrv) lines = NULL;
  guint seen = 0;

  if (fx->skipped)
    return;
  g_assert_cmpint (run_pymemctl (fx, &run, "top", "--json", "-n", "2", "-d", "0.5", "-s", "uss",
                                 NULL), ==, 0);
  lines = g_strsplit (run.out, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 3); /* two documents and the empty rest */
  g_assert_cmpstr (lines[2], ==, "");
  for (guint l = 0; l < 2; l++)
    {
      g_autoptr(JsonParser) parser = json_parser_new ();
      g_autoptr(GError) error = NULL;
      JsonObject *frame;
      JsonArray *processes;
      gint64 previous = G_MAXINT64;

      g_assert_true (json_parser_load_from_data (parser, lines[l], -1, &error));
      g_assert_no_error (error);
      frame = json_node_get_object (json_parser_get_root (parser));
      g_assert_cmpstr (json_object_get_string_member (frame, "sort"), ==, "uss");
      g_assert_true (json_object_has_member (json_object_get_object_member (frame, "totals"),
                                             "pss"));
      processes = json_object_get_array_member (frame, "processes");
      for (guint i = 0; i < json_array_get_length (processes); i++)
        {
          JsonObject *p = json_array_get_object_element (processes, i);
          gint64 uss = member_or (p, "uss", -1);
          int child = child_index (fx, (guint64) json_object_get_int_member (p, "pid"));

          /* Largest first; a process the caller may not see (null) last. */
          g_assert_cmpint (uss, <=, previous);
          previous = uss;
          if (child < 0)
            continue;
          seen++;
          g_assert_cmpint (uss, >=, (gint64) child_mib[child] << 20);
          g_assert_cmpint (json_object_get_int_member (p, "rss"), >=, uss);
          g_assert_cmpint (member_or (p, "shared", -1), ==,
                           json_object_get_int_member (p, "rss") - uss);
          g_assert_true (g_str_has_prefix (json_object_get_string_member (p, "cmdline"),
                                           pymemd_test_python ()));
          g_assert_true (json_object_has_member (p, "growth_bytes_per_hour"));
        }
    }
  g_assert_cmpuint (seen, ==, 2 * N_CHILDREN);
}

/* In a pid namespace of its own, /proc is not the daemon's: names and
 * command lines come from the daemon (the process objects' properties, or
 * GetProcesses with more than a few Python processes on the host), and
 * must be the same. */
static void
test_other_pid_namespace (Fixture *fx, gconstpointer data)
{
  g_autofree char *unshare = g_find_program_in_path ("unshare");
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) pymemctl = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_auto(PymemdTestRun) run = { 0 };
  g_auto(GStrv) envp = pymemctl_environ ();
  JsonArray *processes;
  guint seen = 0;

  if (fx->skipped)
    return;
  if (unshare == NULL)
    {
      g_test_skip ("needs unshare");
      return;
    }
  pymemctl = pymemctl_argv (fx);
  for (const char *const *a = (const char *const[]) { "unshare", "--pid", "--fork",
                                                      "--mount-proc", NULL };
       *a != NULL; a++)
    g_ptr_array_add (argv, g_strdup (*a));
  for (guint i = 0; i < pymemctl->len; i++)
    g_ptr_array_add (argv, g_strdup (g_ptr_array_index (pymemctl, i)));
  for (const char *const *a = (const char *const[]) { "top", "--json", "-n", "1", NULL };
       *a != NULL; a++)
    g_ptr_array_add (argv, g_strdup (*a));
  g_ptr_array_add (argv, NULL);
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, envp, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               &run.out, &run.err, &run.status, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (run.err, ==, "");
  g_assert_true (g_spawn_check_wait_status (run.status, NULL));
  g_assert_true (json_parser_load_from_data (parser, run.out, -1, &error));
  g_assert_no_error (error);
  processes = json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)),
                                            "processes");
  for (guint i = 0; i < json_array_get_length (processes); i++)
    {
      JsonObject *p = json_array_get_object_element (processes, i);
      int child = child_index (fx, (guint64) json_object_get_int_member (p, "pid"));

      if (child < 0)
        continue;
      seen++;
      g_assert_true (g_str_has_prefix (json_object_get_string_member (p, "cmdline"),
                                       pymemd_test_python ()));
      g_assert_true (g_str_has_prefix (json_object_get_string_member (p, "name"), "python3"));
    }
  g_assert_cmpuint (seen, ==, N_CHILDREN);
}

static void
test_usage_errors (Fixture *fx, gconstpointer data)
{
  static const char *const bad[][2] = {
    { "-n", "x" }, { "-n", "0" }, { "-n", "-1" }, { "-n", "99999999999" },
    { "-d", "0" }, { "-d", "abc" }, { "-d", "-1" }, { "-d", "nan" }, { "-d", "1e9" },
    { "-s", "nosuch" }, { "-s", "" }, { "--no-such-option", NULL }, { "extra-argument", NULL },
  };

  if (fx->skipped)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_auto(PymemdTestRun) run = { 0 };

      g_test_message ("top -b %s %s", bad[i][0], bad[i][1] != NULL ? bad[i][1] : "");
      g_assert_cmpint (run_pymemctl (fx, &run, "top", "-b", bad[i][0], bad[i][1], NULL), ==, 2);
      g_assert_cmpstr (run.out, ==, "");
      g_assert_true (g_str_has_prefix (run.err, "pymemctl: "));
    }
}

static void
test_not_running (Fixture *fx, gconstpointer data)
{
  g_auto(PymemdTestRun) run = { 0 };

  if (fx->skipped)
    return;
  pymemd_test_service_stop_daemon (&fx->service);
  g_assert_cmpint (run_pymemctl (fx, &run, "top", "-b", "-n", "1", NULL), ==, 1);
  g_assert_cmpstr (run.out, ==, "");
  g_assert_true (g_str_has_prefix (run.err, "pymemctl: pymemd is not running on the bus at "));
  g_assert_nonnull (strchr (run.err, '\n'));
  g_assert_cmpstr (strchr (run.err, '\n'), ==, "\n"); /* one line */
}

/* ---- the full-screen view, in tmux ---- */

typedef struct {
  Fixture *fx;
  char    *socket;
  char    *exit_file;
  char    *screen;    /* the last capture, as text */
} Tmux;

static char *
tmux_run (Tmux *t, const char *first, ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  char *out = NULL;
  const char *arg;
  va_list args;
  int status;

  g_ptr_array_add (argv, (gpointer) "tmux");
  g_ptr_array_add (argv, (gpointer) "-S");
  g_ptr_array_add (argv, t->socket);
  va_start (args, first);
  for (arg = first; arg != NULL; arg = va_arg (args, const char *))
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               &out, NULL, &status, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  return out;
}

/* Starts pymemctl top in a detached tmux of WIDTH×HEIGHT; ENV is put before it. */
static void
tmux_start (Tmux *t, Fixture *fx, const char *env, const char *width, const char *height)
{
  g_autoptr(GPtrArray) argv = pymemctl_argv (fx);
  g_autoptr(GString) command = g_string_new ("env LC_ALL=C.UTF-8 LANGUAGE= ");
  g_autofree char *exit_quoted = NULL;

  t->fx = fx;
  t->socket = g_build_filename (fx->service.tmp, "tmux.sock", NULL);
  t->exit_file = g_build_filename (fx->service.tmp, "top.exit", NULL);
  exit_quoted = g_shell_quote (t->exit_file);
  g_string_append_printf (command, "%s ", env);
  for (guint i = 0; i < argv->len; i++)
    {
      g_autofree char *quoted = g_shell_quote (g_ptr_array_index (argv, i));
      g_string_append_printf (command, "%s ", quoted);
    }
  /* The server ends with the session, and the session with top (or the deadline). */
  g_string_append_printf (command, "top -d 0.5; echo $? > %s.new && mv %s.new %s", exit_quoted,
                          exit_quoted, exit_quoted);
  g_string_prepend (command, "timeout --foreground -s KILL 900 ");
  g_free (tmux_run (t, "new-session", "-d", "-x", width, "-y", height, command->str, NULL));
}

static void
tmux_stop (Tmux *t)
{
  g_autoptr(GError) error = NULL;
  const char *argv[] = { "tmux", "-S", t->socket, "kill-server", NULL };

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                NULL, NULL, NULL, NULL, NULL, &error);
  g_free (t->socket);
  g_free (t->exit_file);
  g_free (t->screen);
}

typedef gboolean (*ScreenTest) (Tmux *t, gconstpointer data);

/* Captures the pane until TEST holds; fails, showing the screen, after patience (). */
static void
tmux_wait (Tmux *t, ScreenTest test, gconstpointer data, const char *what)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) (patience () * G_USEC_PER_SEC);

  for (;;)
    {
      g_free (t->screen);
      t->screen = tmux_run (t, "capture-pane", "-p", NULL);
      if (test (t, data))
        return;
      if (g_get_monotonic_time () > deadline)
        g_error ("the screen never showed %s:\n%s", what, t->screen);
      g_usleep (100000);
    }
}

static gboolean
shows_order (Tmux *t, gconstpointer expected)
{
  g_autofree char *order = children_order (t->fx, t->screen);

  return strcmp (order, expected) == 0;
}

static gboolean
shows_text (Tmux *t, gconstpointer text)
{
  return strstr (t->screen, text) != NULL;
}

/* The table's header (its PID right-aligned) names the command but
 * neither HEAP nor GROWTH/h, the columns given up first. */
static gboolean
hides_heap_and_growth (Tmux *t, gconstpointer unused)
{
  g_auto(GStrv) lines = g_strsplit (t->screen, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (g_strchug (lines[i]), "PID ") && strstr (lines[i], "COMMAND") != NULL)
      return strstr (lines[i], "HEAP") == NULL && strstr (lines[i], "GROWTH/h") == NULL;
  return FALSE;
}

/* A foreground or background colour (30-37, 40-47) on the screen. */
static gboolean
has_colour (Tmux *t)
{
  g_autofree char *escaped = tmux_run (t, "capture-pane", "-p", "-e", NULL);

  return g_regex_match_simple ("\033\\[(3|4)[0-7]m", escaped, 0, 0);
}

static void
send_keys (Tmux *t, const char *keys)
{
  g_free (tmux_run (t, "send-keys", "-l", keys, NULL));
}

/* A key by tmux's name for it ("Down", "PPage"). */
static void
send_key_name (Tmux *t, const char *name)
{
  g_free (tmux_run (t, "send-keys", name, NULL));
}

static void
assert_exit_code (Tmux *t, const char *code)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) (patience () * G_USEC_PER_SEC);
  g_autofree char *text = NULL;

  while (!g_file_test (t->exit_file, G_FILE_TEST_EXISTS))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("top did not exit after q");
      g_usleep (50000);
    }
  g_assert_true (g_file_get_contents (t->exit_file, &text, NULL, NULL));
  g_assert_cmpstr (g_strstrip (text), ==, code);
}

static gboolean
have_tmux (void)
{
  g_autofree char *tmux = g_find_program_in_path ("tmux");

  if (tmux == NULL)
    g_test_skip ("needs tmux");
  return tmux != NULL;
}

/* Other Python processes of the host may fill the screen: show only the
 * children, by the text filter. */
static void
show_only_children (Tmux *t, Fixture *fx)
{
  g_autofree char *keys = g_strdup_printf ("/\025%s\r", fx->marker);

  send_keys (t, keys);
  tmux_wait (t, shows_order, "120", "the children sorted by PSS");
}

static void
test_interactive (Fixture *fx, gconstpointer data)
{
  g_autofree char *ascending = NULL, *descending = NULL, *filter = NULL;
  Tmux t = { 0 };

  if (fx->skipped || !have_tmux ())
    return;
  ascending = pid_order (fx, FALSE);
  descending = pid_order (fx, TRUE);
  tmux_start (&t, fx, "", "120", "30");
  show_only_children (&t, fx);
  g_assert_true (has_colour (&t));

  send_keys (&t, "N");
  tmux_wait (&t, shows_order, ascending, "the children sorted by PID");
  send_keys (&t, "r");
  tmux_wait (&t, shows_order, descending, "the children in reverse PID order");
  send_keys (&t, "<"); /* from PID there is nothing to the left */
  send_keys (&t, ">");
  tmux_wait (&t, shows_text, "Sorted by USER", "USER, right of PID");
  send_keys (&t, ">");
  tmux_wait (&t, shows_order, "120", "PSS, right of USER");

  /* The text filter: one child's pid (^U empties the line first). */
  filter = g_strdup_printf ("/\025%d\r", fx->children[2].pid);
  send_keys (&t, filter);
  tmux_wait (&t, shows_order, "2", "only the filtered child");
  show_only_children (&t, fx);

  /* The user filter: by name or uid; nobody's processes are not root's. */
  send_keys (&t, "unobody\r");
  tmux_wait (&t, shows_text, "user nobody · 0 shown", "no process of nobody");
  send_keys (&t, "u\0250\r");
  tmux_wait (&t, shows_text, "user 0 ·", "the uid 0 filter");
  tmux_wait (&t, shows_order, "120", "root's children");
  send_keys (&t, "u\025\r");

  /* The columns screen hides one; the help shows and goes. */
  send_keys (&t, "f2x");
  tmux_wait (&t, shows_text, "Sorted by PSS", "the table after the columns screen");
  g_assert_null (strstr (t.screen, "USER"));
  send_keys (&t, "h");
  tmux_wait (&t, shows_text, "reverse the order", "the help");
  send_keys (&t, "x");
  tmux_wait (&t, shows_order, "120", "the table after the help");

  /* SIGWINCH: in 72 columns the least needed columns give way to the
   * command. The columns shown by default need 80 with a PID of three
   * digits (a host just booted), more with longer ones; the status line
   * that says so is cut there, whose filter names the test's pid. */
  g_free (tmux_run (&t, "resize-window", "-x", "72", "-y", "24", NULL));
  tmux_wait (&t, hides_heap_and_growth, NULL, "HEAP and GROWTH/h hidden at 72×24");
  tmux_wait (&t, shows_order, "120", "the children at 72×24");

  /* Room for two rows: the arrows move through them. */
  g_free (tmux_run (&t, "resize-window", "-x", "80", "-y", "8", NULL));
  tmux_wait (&t, shows_text, "· rows 1 to 2 of ", "the first two rows at 80×8");
  send_key_name (&t, "Down");
  tmux_wait (&t, shows_text, "· rows 2 to 3 of ", "the rows moved down by one");
  send_key_name (&t, "Home");
  tmux_wait (&t, shows_text, "· rows 1 to 2 of ", "the first rows again");

  send_keys (&t, "q");
  assert_exit_code (&t, "0");
  tmux_stop (&t);
}

static void
test_no_color (Fixture *fx, gconstpointer data)
{
  Tmux t = { 0 };

  if (fx->skipped || !have_tmux ())
    return;
  tmux_start (&t, fx, "NO_COLOR=1", "120", "30");
  show_only_children (&t, fx);
  g_assert_false (has_colour (&t));
  send_keys (&t, "q");
  assert_exit_code (&t, "0");
  tmux_stop (&t);
}

/* ---- German ---- */

/* pymemctl looks for its catalogue in the LOCALEDIR it was built with,
 * which the build does not fill. In a mount namespace of its own, an
 * overlay on LOCALEDIR (or its nearest existing parent, which may hold the
 * build tree, as under make distcheck) adds the built de.gmo there; the
 * file system is not changed. Exit status 77: it cannot be arranged here. */
static const char german_script[] =
  "dir=$1; mo=$2; work=$3; shift 3\n"
  "top=$dir\n"
  "while [ ! -d \"$top\" ]; do top=$(dirname \"$top\"); done\n"
  "[ \"$top\" != / ] || exit 77\n"
  "mkdir -p \"$work/upper\" \"$work/work\"\n"
  "mount -t overlay pymemd-test-locale \\\n"
  "  -o \"lowerdir=$top,upperdir=$work/upper,workdir=$work/work\" \"$top\" || exit 77\n"
  "mkdir -p \"$dir/de/LC_MESSAGES\"\n"
  "cp \"$mo\" \"$dir/de/LC_MESSAGES/pymemd.mo\"\n"
  "exec \"$@\"\n";

/* Runs pymemctl --address ADDRESS ARGUMENTS… with LANGUAGE=de; FALSE
 * (test skipped) where that cannot be arranged. */
static gboolean
run_german (Fixture *fx, PymemdTestRun *run, const char *const *arguments)
{
  g_autofree char *unshare = g_find_program_in_path ("unshare");
  g_autofree char *gmo = g_test_build_filename (G_TEST_DIST, "..", "po", "de.gmo", NULL);
  const char *localedir = g_getenv ("PYMEMD_TEST_LOCALEDIR");
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) pymemctl = pymemctl_argv (fx);
  g_auto(GStrv) envp = g_get_environ ();
  g_autoptr(GError) error = NULL;
  const char *prefix[] = { "unshare", "--mount", "--propagation", "private", "sh", "-euc",
                           german_script, "sh" };

  if (unshare == NULL || localedir == NULL || !g_file_test (gmo, G_FILE_TEST_EXISTS))
    {
      g_test_skip ("needs unshare, PYMEMD_TEST_LOCALEDIR and po/de.gmo (built by make)");
      return FALSE;
    }
  for (guint i = 0; i < G_N_ELEMENTS (prefix); i++)
    g_ptr_array_add (argv, g_strdup (prefix[i]));
  g_ptr_array_add (argv, g_strdup (localedir));
  g_ptr_array_add (argv, g_strdup (gmo));
  g_ptr_array_add (argv, g_build_filename (fx->service.tmp, "locale-overlay", NULL));
  for (guint i = 0; i < pymemctl->len; i++)
    g_ptr_array_add (argv, g_strdup (g_ptr_array_index (pymemctl, i)));
  for (guint i = 0; arguments[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (arguments[i]));
  g_ptr_array_add (argv, NULL);
  envp = g_environ_setenv (envp, "LANGUAGE", "de", TRUE);
  envp = g_environ_setenv (envp, "LC_ALL", "C.UTF-8", TRUE);
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, envp, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               &run->out, &run->err, &run->status, &error));
  g_assert_no_error (error);
  g_assert_true (WIFEXITED (run->status));
  if (WEXITSTATUS (run->status) == 77)
    {
      g_test_skip ("no directory to mount the catalogue over");
      return FALSE;
    }
  return TRUE;
}

static void
test_german (Fixture *fx, gconstpointer data)
{
  g_auto(PymemdTestRun) help = { 0 };
  g_auto(PymemdTestRun) top_help = { 0 };
  g_auto(PymemdTestRun) usage = { 0 };
  const char *help_args[] = { "--help", NULL };
  const char *top_help_args[] = { "top", "--help", NULL };
  const char *usage_args[] = { "top", "-b", "-n", "x", NULL };

  if (fx->skipped || !run_german (fx, &help, help_args))
    return;
  g_assert_cmpint (WEXITSTATUS (help.status), ==, 0);
  g_assert_nonnull (strstr (help.out, "Zeigt, wie viel Speicher die Python-Prozesse"));
  g_assert_nonnull (strstr (help.out, "Befehle:"));

  g_assert_true (run_german (fx, &top_help, top_help_args));
  g_assert_cmpint (WEXITSTATUS (top_help.status), ==, 0);
  g_assert_nonnull (strstr (top_help.out, "Nach ANZAHL Bildern aufhören"));

  g_assert_true (run_german (fx, &usage, usage_args));
  g_assert_cmpint (WEXITSTATUS (usage.status), ==, 2);
  g_assert_true (g_str_has_prefix (usage.err,
                                   "pymemctl: -n erwartet eine Anzahl Bilder (1 oder mehr), "
                                   "nicht „x“\n"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/pymemctl-top/batch-frames", Fixture, NULL, fixture_setup, test_batch_frames,
              fixture_teardown);
  g_test_add ("/pymemctl-top/batch-sort", Fixture, NULL, fixture_setup, test_batch_sort,
              fixture_teardown);
  g_test_add ("/pymemctl-top/batch-json", Fixture, NULL, fixture_setup, test_batch_json,
              fixture_teardown);
  g_test_add ("/pymemctl-top/other-pid-namespace", Fixture, NULL, fixture_setup,
              test_other_pid_namespace, fixture_teardown);
  g_test_add ("/pymemctl-top/usage-errors", Fixture, NULL, fixture_setup, test_usage_errors,
              fixture_teardown);
  g_test_add ("/pymemctl-top/not-running", Fixture, NULL, fixture_setup, test_not_running,
              fixture_teardown);
  g_test_add ("/pymemctl-top/interactive", Fixture, NULL, fixture_setup, test_interactive,
              fixture_teardown);
  g_test_add ("/pymemctl-top/no-color", Fixture, NULL, fixture_setup, test_no_color,
              fixture_teardown);
  g_test_add ("/pymemctl-top/german", Fixture, NULL, fixture_setup, test_german,
              fixture_teardown);
  return g_test_run ();
}
