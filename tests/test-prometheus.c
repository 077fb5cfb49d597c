/* pymemctl export read by a real Prometheus: Debian's prometheus-node-exporter reads the file from its textfile collector, prometheus scrapes it, and a PromQL query over the HTTP API returns the test's own interpreters with the PSS pymemctl list gives; everything on loopback ports in a temporary directory, removed after. */
#include "config.h"

#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "testutil.h"

#define N_CHILDREN 3
#define PROMETHEUS     "/usr/bin/prometheus"
#define NODE_EXPORTER  "/usr/bin/prometheus-node-exporter"

/* An interpreter holding ARGV[1] MiB of its own, then idle until its stdin
 * closes: its PSS moves by far less than 1 % while the test runs (its
 * share of libpython's pages moves when interpreters come and go). */
static const char child_code[] =
  "import sys\n"
  "held = bytearray(int(sys.argv[1]) << 20)\n"
  "held[::4096] = b'x' * (len(held) >> 12)\n"
  "print('ready', flush=True)\n"
  "sys.stdin.read()\n";

typedef struct {
  PymemdTestService service;
  PymemdTestChild   children[N_CHILDREN];
  char             *tmp;
  GPid              node_exporter;
  GPid              prometheus;
} Fixture;

/* ---- the programs the test starts ---- */

static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

/* ARGV with its output in TMP/NAME.log. */
static GPid
spawn_logged (Fixture *fx, const char *name, const char *const *argv)
{
  g_autofree char *log_name = g_strconcat (name, ".log", NULL);
  g_autofree char *log = g_build_filename (fx->tmp, log_name, NULL);
  g_autoptr(GError) error = NULL;
  int fd = open (log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  GPid pid = 0;

  g_assert_cmpint (fd, >=, 0);
  g_spawn_async_with_pipes_and_fds (fx->tmp, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, die_with_parent, NULL, -1, fd,
                                    fd, NULL, NULL, 0, &pid, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  close (fd);
  return pid;
}

static void
stop_program (GPid *pid)
{
  if (*pid <= 0)
    return;
  kill (*pid, SIGTERM);
  for (int i = 0; i < 1000 && waitpid (*pid, NULL, WNOHANG) != *pid; i++)
    {
      if (i == 999)
        {
          kill (*pid, SIGKILL);
          waitpid (*pid, NULL, 0);
        }
      g_usleep (10000);
    }
  g_spawn_close_pid (*pid);
  *pid = 0;
}

/* A loopback port nobody listens on now. */
static guint16
free_port (void)
{
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_nonnull (socket);
  g_assert_true (g_socket_bind (socket, any_port, FALSE, &error));
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

/* The body of an HTTP GET of URL (python3's urllib: no HTTP client is
 * linked for this), or NULL while nothing answers. */
static char *
http_get (const char *url)
{
  const char *argv[] = { pymemd_test_python (), "-c",
                         "import sys, urllib.request\n"
                         "sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())\n",
                         url, NULL };
  g_autofree char *out = NULL;
  int status = 0;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out, NULL, &status, NULL) ||
      !g_spawn_check_wait_status (status, NULL))
    return NULL;
  return g_steal_pointer (&out);
}

/* The result of the instant query QUERY: a JSON array of {metric, value},
 * or NULL while Prometheus does not answer. */
static JsonNode *
query (guint16 port, const char *promql)
{
  g_autofree char *escaped = g_uri_escape_string (promql, NULL, FALSE);
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/api/v1/query?query=%s", port, escaped);
  g_autofree char *body = http_get (url);
  g_autoptr(JsonNode) root = NULL;
  JsonObject *object;

  if (body == NULL)
    return NULL;
  root = pymemd_test_parse_json (body);
  object = json_node_get_object (root);
  g_assert_cmpstr (json_object_get_string_member (object, "status"), ==, "success");
  object = json_object_get_object_member (object, "data");
  g_assert_cmpstr (json_object_get_string_member (object, "resultType"), ==, "vector");
  return json_node_copy (json_object_get_member (object, "result"));
}

static double
result_value (JsonObject *series)
{
  JsonArray *value = json_object_get_array_member (series, "value");

  return g_ascii_strtod (json_array_get_string_element (value, 1), NULL);
}

/* ---- the test ---- */

static gboolean
plain_build_only (void)
{
  /* A minute of CI per build for what no sanitizer sees: pymemctl export
   * and its format are tested in every build by test-pymemctl-export. */
#ifdef __SANITIZE_ADDRESS__
  g_test_skip ("runs in the plain build only (this build has AddressSanitizer)");
  return FALSE;
#endif
  if (pymemd_test_under_valgrind ())
    {
      g_test_skip ("runs in the plain build only (this build runs under valgrind)");
      return FALSE;
    }
  return TRUE;
}

static gboolean
have_prometheus (void)
{
  if (g_file_test (PROMETHEUS, G_FILE_TEST_IS_EXECUTABLE) && g_file_test (NODE_EXPORTER, G_FILE_TEST_IS_EXECUTABLE))
    return TRUE;
  g_test_skip ("needs Debian's prometheus and prometheus-node-exporter packages (tools/install-deps.sh installs "
               "them where their services cannot start: no systemd, policy-rc.d saying no)");
  return FALSE;
}

static void
fixture_setup (Fixture *fx, gconstpointer data)
{
  memset (fx, 0, sizeof *fx);
  if (g_getenv ("PYMEMCTL_BIN") == NULL)
    {
      g_test_skip ("PYMEMCTL_BIN is not set");
      return;
    }
  if (!plain_build_only () || !have_prometheus () || !pymemd_test_service_start (&fx->service, "0.5"))
    return;
  fx->tmp = pymemd_test_mkdtemp ();
}

static void
fixture_teardown (Fixture *fx, gconstpointer data)
{
  stop_program (&fx->prometheus);
  stop_program (&fx->node_exporter);
  for (guint i = 0; i < N_CHILDREN; i++)
    pymemd_test_child_stop (&fx->children[i]);
  pymemd_test_service_stop (&fx->service);
  if (fx->tmp != NULL)
    {
      if (g_test_failed ())
        g_test_message ("prometheus' and node-exporter's logs are in %s", fx->tmp);
      else
        pymemd_test_rm_rf (fx->tmp);
    }
  g_clear_pointer (&fx->tmp, g_free);
}

/* PSS of each child as pymemctl list --json gives it. */
static void
list_pss (Fixture *fx, double *pss)
{
  g_auto(PymemdTestRun) run = { 0 };
  g_autoptr(JsonNode) root = NULL;
  JsonArray *processes;

  g_assert_cmpint (PYMEMD_TEST_CLI (&run, fx->service.address, "list", "--json"), ==, 0);
  root = pymemd_test_parse_json (run.out);
  processes = json_object_get_array_member (json_node_get_object (root), "processes");
  for (guint c = 0; c < N_CHILDREN; c++)
    {
      pss[c] = -1;
      for (guint i = 0; i < json_array_get_length (processes); i++)
        {
          JsonObject *process = json_array_get_object_element (processes, i);

          if (json_object_get_int_member (process, "pid") == fx->children[c].pid)
            pss[c] = (double) json_object_get_int_member (process, "pss");
        }
      g_assert_cmpfloat (pss[c], >, 0);
    }
}

static void
write_config (Fixture *fx, const char *path, guint16 exporter_port)
{
  g_autofree char *config = g_strdup_printf ("global:\n"
                                             "  scrape_interval: 1s\n"
                                             "  evaluation_interval: 1s\n"
                                             "scrape_configs:\n"
                                             "  - job_name: node\n"
                                             "    static_configs:\n"
                                             "      - targets: ['127.0.0.1:%u']\n",
                                             exporter_port);

  g_assert_true (g_file_set_contents (path, config, -1, NULL));
}

static void
test_query (Fixture *fx, gconstpointer data)
{
  g_autofree char *textfile = NULL, *file = NULL, *data_dir = NULL, *config = NULL, *pids = NULL;
  g_autofree char *exporter_address = NULL, *prometheus_address = NULL, *textfile_arg = NULL;
  g_autofree char *config_arg = NULL, *storage_arg = NULL, *ours = NULL;
  g_autoptr(GString) pid_regex = g_string_new (NULL);
  g_auto(PymemdTestRun) export = { 0 };
  g_autoptr(JsonNode) result = NULL;
  g_autoptr(JsonNode) top = NULL;
  g_autoptr(JsonNode) errors = NULL;
  double pss[N_CHILDREN];
  gint64 start, deadline;
  guint16 exporter_port, prometheus_port;

  if (fx->tmp == NULL)
    return;
  for (guint c = 0; c < N_CHILDREN; c++)
    {
      g_autofree char *mib = g_strdup_printf ("%u", 32 + 16 * c);
      g_autoptr(GError) error = NULL;

      g_assert_true (pymemd_test_child_spawn_python_via (&fx->children[c], NULL, NULL, child_code, mib, &error));
      g_assert_no_error (error);
      g_string_append_printf (pid_regex, "%s%d", c > 0 ? "|" : "", fx->children[c].pid);
    }
  for (guint c = 0; c < N_CHILDREN; c++)
    pymemd_test_service_wait_pid (&fx->service, fx->children[c].pid);

  /* What the timer's service does, into a directory of the test's own. */
  textfile = g_build_filename (fx->tmp, "textfile", NULL);
  data_dir = g_build_filename (fx->tmp, "prometheus-data", NULL);
  g_assert_cmpint (g_mkdir (textfile, 0755), ==, 0);
  file = g_build_filename (textfile, "pymemd.prom", NULL);
  g_assert_cmpint (PYMEMD_TEST_CLI (&export, fx->service.address, "export", "--output", file, "--max-processes",
                                    "100000"),
                   ==, 0);
  list_pss (fx, pss);

  start = g_get_monotonic_time ();
  deadline = start + 90 * G_USEC_PER_SEC;
  exporter_port = free_port ();
  exporter_address = g_strdup_printf ("--web.listen-address=127.0.0.1:%u", exporter_port);
  textfile_arg = g_strdup_printf ("--collector.textfile.directory=%s", textfile);
  fx->node_exporter = spawn_logged (fx, "node-exporter",
                                    (const char *const[]){ NODE_EXPORTER, exporter_address,
                                                           "--collector.disable-defaults", "--collector.textfile",
                                                           textfile_arg, NULL });
  prometheus_port = free_port ();
  config = g_build_filename (fx->tmp, "prometheus.yml", NULL);
  write_config (fx, config, exporter_port);
  config_arg = g_strdup_printf ("--config.file=%s", config);
  storage_arg = g_strdup_printf ("--storage.tsdb.path=%s", data_dir);
  prometheus_address = g_strdup_printf ("--web.listen-address=127.0.0.1:%u", prometheus_port);
  fx->prometheus = spawn_logged (fx, "prometheus",
                                 (const char *const[]){ PROMETHEUS, config_arg, storage_arg, prometheus_address,
                                                        NULL });

  /* Prometheus starts, scrapes node-exporter every second, and answers. */
  ours = g_strdup_printf ("topk(3, pymemd_process_pss_bytes{pid=~\"%s\"})", pid_regex->str);
  for (;;)
    {
      g_clear_pointer (&result, json_node_unref);
      result = query (prometheus_port, ours);
      if (result != NULL && json_array_get_length (json_node_get_array (result)) == N_CHILDREN)
        break;
      if (g_get_monotonic_time () > deadline)
        g_error ("Prometheus did not return the 3 interpreters within 90 s; logs in %s", fx->tmp);
      g_usleep (250000);
    }
  /* About 6 s: Prometheus applies new targets every 5 s. */
  g_test_message ("Prometheus answered %.1f s after it was started",
                  (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC);

  /* Each of ours, with the PSS of pymemctl list within 1 %. */
  for (guint i = 0; i < N_CHILDREN; i++)
    {
      JsonObject *series = json_array_get_object_element (json_node_get_array (result), i);
      JsonObject *metric = json_object_get_object_member (series, "metric");
      const char *pid = json_object_get_string_member (metric, "pid");
      double value = result_value (series);
      gboolean found = FALSE;

      g_assert_cmpstr (json_object_get_string_member (metric, "__name__"), ==, "pymemd_process_pss_bytes");
      g_assert_cmpstr (json_object_get_string_member (metric, "job"), ==, "node");
      g_assert_true (g_str_has_prefix (json_object_get_string_member (metric, "name"), "python3"));
      for (guint c = 0; c < N_CHILDREN; c++)
        {
          if (atoi (pid) != fx->children[c].pid)
            continue;
          found = TRUE;
          g_test_message ("pid %s: PSS %.0f from Prometheus, %.0f from pymemctl list", pid, value, pss[c]);
          g_assert_cmpfloat (fabs (value - pss[c]), <=, pss[c] / 100);
        }
      g_assert_true (found);
    }
  /* The same query over every process: the host's three largest, as large
   * as the least of ours at least. */
  top = query (prometheus_port, "topk(3, pymemd_process_pss_bytes)");
  g_assert_cmpuint (json_array_get_length (json_node_get_array (top)), ==, 3);
  for (guint i = 0; i < 3; i++)
    g_assert_cmpfloat (result_value (json_array_get_object_element (json_node_get_array (top), i)), >=,
                       MIN (pss[0], MIN (pss[1], pss[2])) * 0.99);
  /* node-exporter read the file without complaint. */
  errors = query (prometheus_port, "node_textfile_scrape_error");
  g_assert_cmpuint (json_array_get_length (json_node_get_array (errors)), ==, 1);
  g_assert_cmpfloat (result_value (json_array_get_object_element (json_node_get_array (errors), 0)), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/prometheus/query", Fixture, NULL, fixture_setup, test_query, fixture_teardown);
  return g_test_run ();
}
