/* Answers requests for heap summaries: finds the helper or brings it in (users taking turns, each attach in a child process), asks it, measures the pages around it, keeps the result with the process and in history. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "pymemd-attach-child.h"
#include "pymemd-bootstrap.h"
#include "pymemd-error.h"
#include "pymemd-heap-broker.h"
#include "pymemd-injector.h"
#include "pymemd-log.h"
#include "pymemd-pidfiles.h"
#include "pymemd-procfs.h"
#include "pymemd-rate-limit.h"
#include "pymemd-smaps.h"

#define SOCKET_NAME    "helper.sock"
#define ANSWER_GRACE   30.0 /* seconds on top of the census budget */
#define NAME_TIMEOUT   10.0 /* seconds for the names of the holders' paths */
#define ROLLUP_BUFFER  8192
#define RECORD_VERSION 1
/* Where attach children make PEP 768 scripts, in the runtime directory. */
#define SCRIPT_DIR_NAME "attach"
/* The share of attach-timeout-seconds a PEP 768 request may be out. */
#define PEP768_WAIT_SHARE 0.8
/* The oldest interpreter the helper runs in (major * 100 + minor). */
#define MIN_HELPER_VERSION 306
/* Lines about refused attaches, per uid that asked, per window (s): one
 * user asking again and again cannot flood the journal. */
#define REFUSALS_LOGGED_PER_UID 20
#define REFUSAL_LOG_WINDOW 60

struct _PymemdHeapBroker
{
  GObject              parent_instance;
  PymemdMonitor       *monitor;
  PymemdRecorder      *recorder;
  PymemdHelperChannel *channel;
  char                *runtime_dir;
  char                *helper_dir;
  GHashTable          *users;   /* uid → UserAttaches: who has attaches waiting or running */
  GQueue               turns;   /* uids in line: requests waiting, none running; first come first */
  GHashTable          *busy;    /* "pid:start time" → GTask whose attach child runs on it */
  guint                running; /* attaches the daemon waits for: the slots taken */
  gboolean             scheduling; /* in next_attach () */
  gboolean             reschedule; /* and called again meanwhile */
  char                *script_dir;   /* where attach children make PEP 768 scripts */
  GHashTable          *analysing;    /* uid → analyses of its requests (at most one) */
  guint                analyses;     /* retained-size analyses under way, of all users */
  PymemdAttachLimits   attach_limits;
  PymemdGraphLimits    graph_limits;
  PymemdRateLimit     *refusal_log;  /* lines about refused attaches, per uid that asked */
};

G_DEFINE_TYPE (PymemdHeapBroker, pymemd_heap_broker, G_TYPE_OBJECT)

typedef struct {
  gint32            pid;
  guint64           start_time;
  PymemdHeapRequest request;
  gboolean          attach;
  guint             holders;  /* retained sizes asked for: the holders listed; 0: none */

  /* Attaching: the attach child and the wait for the helper's hello run
   * together; the daemon waits for both, or until the deadline. */
  guint32            uid;        /* who asked */
  char              *key;        /* "pid:start time" */
  char              *nonce;
  char              *bootstrap;
  char              *proc_root;
  gint64             attach_started;
  gboolean           child_done;
  gboolean           wait_done;
  gboolean           answered;   /* the daemon no longer waits: the slot is free */
  double             timeout;    /* seconds, [limits] attach-timeout-seconds */
  guint              deadline_source;
  gboolean           hello;
  PymemdAttachMethod method;
  GError            *attach_error;
  GCancellable      *wait_cancellable;
  gboolean           attached;
  double             attach_seconds;

  gboolean           has_before;
  guint64            private_dirty_before;

  /* The answer, between its steps (summary, analysis, names). */
  PymemdHeapSummary *summary;
  gboolean           has_ledger;
  PymemdHeapLedger   ledger;
  guint64            private_dirty_after;
  gboolean           analysing;  /* holds a slot of the analyses */
  PymemdRetained    *retained;
} Job;

static void
job_free (Job *job)
{
  g_free (job->key);
  g_free (job->nonce);
  g_free (job->bootstrap);
  g_free (job->proc_root);
  g_clear_error (&job->attach_error);
  g_clear_object (&job->wait_cancellable);
  pymemd_heap_summary_free (job->summary);
  pymemd_retained_free (job->retained);
  g_free (job);
}

/* The watched process with that identity, or NULL once it is gone. */
static PymemdProcess *
find_process (PymemdHeapBroker *self, gint32 pid, guint64 start_time)
{
  PymemdProcess *process = pymemd_monitor_find (self->monitor, (guint) pid);

  if (process == NULL || pymemd_process_get_start_time (process) != start_time)
    return NULL;
  return process;
}

/* Whether PROCESS has exited (a zombie included), as its /proc directory says. */
static gboolean
has_exited (PymemdProcess *process)
{
  char buf[1024];
  PymemdStat stat_info;
  gssize len = pymemd_procfs_read_file_at (pymemd_process_get_dir_fd (process), "stat", buf, sizeof buf, NULL);

  return len < 0 || !pymemd_stat_parse (buf, &stat_info, NULL) || strchr ("ZXx", stat_info.state) != NULL;
}

static gboolean
return_gone (GTask *task, gint32 pid)
{
  g_task_return_new_error (task, PYMEMD_ERROR, PYMEMD_ERROR_NO_SUCH_PROCESS, _("Process %d has exited"), pid);
  return FALSE;
}

static gboolean
read_private_dirty (PymemdProcess *process, guint64 *private_dirty)
{
  char buf[ROLLUP_BUFFER];
  PymemdCounters counters;
  gssize len = pymemd_procfs_read_file_at (pymemd_process_get_dir_fd (process), "smaps_rollup", buf, sizeof buf,
                                           NULL);

  if (len < 0 || !pymemd_rollup_parse (buf, (gsize) len, &counters, NULL) ||
      !pymemd_counters_has (&counters, PYMEMD_FIELD_PRIVATE_DIRTY))
    return FALSE;
  *private_dirty = counters.value[PYMEMD_FIELD_PRIVATE_DIRTY];
  return TRUE;
}

/* ---- the answer ---- */

/* SUMMARY (a{sv}) with "collect" given the pages before and after. */
static GVariant *
with_collect_pages (GVariant *summary, guint64 before, guint64 after)
{
  GVariantBuilder builder;
  GVariantIter iter;
  const char *key;
  GVariant *value;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  g_variant_iter_init (&iter, summary);
  while (g_variant_iter_loop (&iter, "{&sv}", &key, &value))
    {
      if (g_strcmp0 (key, "collect") == 0)
        {
          GVariantDict collect;
          g_variant_dict_init (&collect, value);
          g_variant_dict_insert (&collect, "private_dirty_before", "t", before);
          g_variant_dict_insert (&collect, "private_dirty_after", "t", after);
          g_variant_builder_add (&builder, "{sv}", key, g_variant_dict_end (&collect));
        }
      else
        g_variant_builder_add (&builder, "{sv}", key, value);
    }
  g_variant_unref (summary);
  return g_variant_ref_sink (g_variant_builder_end (&builder));
}

static void
add_ledger_member (JsonBuilder *builder, const PymemdHeapLedger *ledger)
{
  json_builder_set_member_name (builder, "ledger");
  json_builder_begin_object (builder);
  for (guint i = 0; i < PYMEMD_HEAP_LEDGER_N_MEMBERS; i++)
    {
      json_builder_set_member_name (builder, pymemd_heap_ledger_members[i].name);
      json_builder_add_int_value (builder,
                                  (gint64) PYMEMD_HEAP_LEDGER_FIGURE (ledger, &pymemd_heap_ledger_members[i]));
    }
  json_builder_end_object (builder);
}

/* What history keeps: the validated summary, with the ledger, the
 * collection's pages and the retained sizes of when it was taken. */
static char *
record_text (const Job *job)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "v");
  json_builder_add_int_value (builder, RECORD_VERSION);
  json_builder_set_member_name (builder, "summary");
  json_builder_add_value (builder, json_node_copy (job->summary->document));
  if (job->has_ledger)
    add_ledger_member (builder, &job->ledger);
  if (job->request.light)
    {
      json_builder_set_member_name (builder, "light");
      json_builder_add_boolean_value (builder, TRUE);
    }
  if (job->has_before)
    {
      json_builder_set_member_name (builder, "private_dirty_before");
      json_builder_add_int_value (builder, (gint64) job->private_dirty_before);
      json_builder_set_member_name (builder, "private_dirty_after");
      json_builder_add_int_value (builder, (gint64) job->private_dirty_after);
    }
  if (job->retained != NULL)
    {
      json_builder_set_member_name (builder, "retained");
      json_builder_add_value (builder, pymemd_retained_to_json (job->retained));
    }
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  return json_to_string (root, FALSE);
}

/* The retained sizes a kept summary holds, as a{sv}, or NULL. */
static GVariant *
read_retained (JsonObject *record)
{
  g_autoptr(PymemdRetained) retained = NULL;
  g_autoptr(GError) error = NULL;

  if (!json_object_has_member (record, "retained"))
    return NULL;
  retained = pymemd_retained_new_from_json (json_object_get_member (record, "retained"), &error);
  if (retained == NULL)
    {
      g_debug ("Kept retained sizes skipped: %s", error->message);
      return NULL;
    }
  return pymemd_retained_to_variant (retained);
}

/* SUMMARY (a{sv}, taken) with "light": a periodic summary's census of the
 * tracked objects alone. */
static GVariant *
with_light_mark (GVariant *summary)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, summary);
  g_variant_unref (summary);
  g_variant_dict_insert (&dict, "light", "b", TRUE);
  return g_variant_ref_sink (g_variant_dict_end (&dict));
}

/* A kept ledger; figures it does not hold (kept before they were) are 0. */
static gboolean
read_ledger (JsonObject *record, PymemdHeapLedger *ledger)
{
  JsonObject *o;

  if (!json_object_has_member (record, "ledger") ||
      (o = json_object_get_object_member (record, "ledger")) == NULL)
    return FALSE;
  for (guint i = 0; i < PYMEMD_HEAP_LEDGER_N_MEMBERS; i++)
    PYMEMD_HEAP_LEDGER_FIGURE (ledger, &pymemd_heap_ledger_members[i]) =
      (guint64) MAX (json_object_get_int_member_with_default (o, pymemd_heap_ledger_members[i].name, 0), 0);
  return TRUE;
}

GVariant *
pymemd_heap_broker_variant_from_record (const char *text, GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(PymemdHeapSummary) summary = NULL;
  PymemdHeapLedger ledger;
  JsonObject *record;
  JsonNode *root, *document;
  GVariant *variant, *retained;

  if (!pymemd_heap_json_depth_ok (text, strlen (text)))
    {
      g_set_error_literal (error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE, _("A kept heap summary nests too deep"));
      return NULL;
    }
  if (!json_parser_load_from_data (parser, text, -1, error))
    return NULL;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root) ||
      json_object_get_int_member_with_default (record = json_node_get_object (root), "v", 0) != RECORD_VERSION ||
      (document = json_object_get_member (record, "summary")) == NULL)
    {
      g_set_error_literal (error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE, _("A kept heap summary is not readable"));
      return NULL;
    }
  summary = pymemd_heap_summary_new_from_json (document, error);
  if (summary == NULL)
    return NULL;
  variant = g_variant_ref_sink (
    pymemd_heap_summary_to_variant (summary, read_ledger (record, &ledger) ? &ledger : NULL));
  if (json_object_get_boolean_member_with_default (record, "light", FALSE))
    variant = with_light_mark (variant);
  if (json_object_has_member (record, "private_dirty_before"))
    variant = with_collect_pages (
      variant, (guint64) MAX (json_object_get_int_member_with_default (record, "private_dirty_before", 0), 0),
      (guint64) MAX (json_object_get_int_member_with_default (record, "private_dirty_after", 0), 0));
  if ((retained = read_retained (record)) != NULL)
    {
      GVariantDict dict;
      g_variant_dict_init (&dict, variant);
      g_variant_unref (variant);
      g_variant_dict_insert_value (&dict, "retained", retained);
      variant = g_variant_ref_sink (g_variant_dict_end (&dict));
    }
  return variant;
}

static GVariant *
answer_variant (PymemdHeapBroker *self, const Job *job)
{
  const char *how = pymemd_helper_channel_get_how (self->channel, job->pid, job->start_time);
  GVariant *base = g_variant_ref_sink (pymemd_heap_summary_to_variant (job->summary,
                                                                       job->has_ledger ? &job->ledger : NULL));
  GVariantDict dict;

  if (job->has_before)
    base = with_collect_pages (base, job->private_dirty_before, job->private_dirty_after);
  g_variant_dict_init (&dict, base);
  g_variant_unref (base);
  if (how != NULL)
    g_variant_dict_insert (&dict, "helper", "s", how);
  if (job->attached)
    {
      g_variant_dict_insert (&dict, "attached_by", "s", pymemd_attach_method_name (job->method));
      g_variant_dict_insert (&dict, "attach_seconds", "d", job->attach_seconds);
    }
  if (job->retained != NULL)
    g_variant_dict_insert_value (&dict, "retained", pymemd_retained_to_variant (job->retained));
  return g_variant_ref_sink (g_variant_dict_end (&dict));
}

/* ---- retained sizes: one analysis at a time per user ---- */

/* Whether the request of JOB may have its object graph analysed now: it
 * then holds one of the analyses' slots until its analysis is over. */
static gboolean
take_analysis (PymemdHeapBroker *self, Job *job, GError **error)
{
  PymemdGraphLimits limits;
  gpointer uid = GUINT_TO_POINTER (job->uid);

  limits = self->graph_limits;
  if (g_hash_table_contains (self->analysing, uid))
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_LIMIT_EXCEEDED,
                   _("A retained-size analysis that user %u asked for is under way; one user has one at a time"),
                   job->uid);
      return FALSE;
    }
  if (self->analyses >= limits.concurrent)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_LIMIT_EXCEEDED,
                   _("%u retained-size analyses are under way, as many as may run at once ([limits] graph-analyses)"),
                   self->analyses);
      return FALSE;
    }
  g_hash_table_add (self->analysing, uid);
  self->analyses++;
  job->analysing = TRUE;
  job->request.graph_memory = limits.memory;
  return TRUE;
}

static void
release_analysis (PymemdHeapBroker *self, Job *job)
{
  if (!job->analysing)
    return;
  job->analysing = FALSE;
  self->analyses--;
  g_hash_table_remove (self->analysing, GUINT_TO_POINTER (job->uid));
}

/* The answer, all its steps done: served, kept in history, and kept with
 * the process (when it still lives). TASK stays the caller's to unref. */
static void
finish_answer (GTask *task)
{
  PymemdHeapBroker *self = g_task_get_source_object (task);
  Job *job = g_task_get_task_data (task);
  PymemdProcess *process = find_process (self, job->pid, job->start_time);
  g_autofree char *text = record_text (job);
  GVariant *variant = answer_variant (self, job);

  /* (Its owner bounds how many of its summaries wait for the process's
   * first tick; one that has ended since counts as the caller's.) */
  pymemd_recorder_add_heap_summary (self->recorder,
                                    pymemd_scanner_get_boot_id (pymemd_monitor_get_scanner (self->monitor)),
                                    job->pid, job->start_time, job->summary->taken_at_us,
                                    process != NULL ? pymemd_process_get_uid (process) : job->uid, text);
  /* The process's summary (GetProcessDetails) stays the last one asked for. */
  if (process != NULL && !job->request.light)
    pymemd_heap_summary_keep (process, g_steal_pointer (&job->summary), job->has_ledger ? &job->ledger : NULL);
  g_task_return_pointer (task, variant, (GDestroyNotify) g_variant_unref);
}

static void
named (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GTask) task = data;
  Job *job = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) names = pymemd_helper_channel_name_finish (PYMEMD_HELPER_CHANNEL (source), result, &error);

  /* Without names, the paths show the types they go through. */
  if (names == NULL)
    g_debug ("The paths of process %d's holders are not named: %s", job->pid, error->message);
  pymemd_retained_set_names (job->retained, names);
  finish_answer (task);
}

static void
analysed (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GTask) task = data;
  PymemdHeapBroker *self = g_task_get_source_object (task);
  Job *job = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) steps = NULL;
  g_autoptr(JsonNode) paths = NULL;

  release_analysis (self, job);
  job->retained = g_task_propagate_pointer (G_TASK (result), &error);
  if (job->retained == NULL)
    {
      g_message ("No retained sizes for process %d: %s", job->pid, error->message);
      job->retained = pymemd_retained_new ();
      job->retained->incomplete = g_strdup (error->message);
    }
  paths = pymemd_retained_name_request (job->retained, &steps);
  if (paths == NULL || !pymemd_helper_channel_has_helper (self->channel, job->pid, job->start_time))
    {
      pymemd_retained_set_names (job->retained, NULL);
      finish_answer (task);
      return;
    }
  pymemd_helper_channel_name_async (self->channel, job->pid, job->start_time, paths, steps, NAME_TIMEOUT, NULL,
                                    named, g_steal_pointer (&task));
}

typedef struct {
  PymemdHeapGraph *graph;
  guint            holders;
} AnalysisData;

static void
analysis_data_free (AnalysisData *data)
{
  pymemd_heap_graph_free (data->graph);
  g_free (data);
}

/* In a worker thread: the graph is the thread's alone. */
static void
analyse_in_thread (GTask *analysis, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  AnalysisData *data = task_data;
  GError *error = NULL;
  PymemdRetained *retained = pymemd_heap_graph_analyse (g_steal_pointer (&data->graph), data->holders, &error);

  if (retained != NULL)
    g_task_return_pointer (analysis, retained, (GDestroyNotify) pymemd_retained_free);
  else
    g_task_return_error (analysis, error);
}

/* The dominator tree is computed off the main loop; TASK goes on when it
 * is done. */
static void
start_analysis (PymemdHeapBroker *self, GTask *task, PymemdHeapGraph *graph)
{
  Job *job = g_task_get_task_data (task);
  g_autoptr(GTask) analysis = g_task_new (self, NULL, analysed, task);
  AnalysisData *data = g_new0 (AnalysisData, 1);

  data->graph = graph;
  data->holders = job->holders;
  g_task_set_source_tag (analysis, start_analysis);
  g_task_set_task_data (analysis, data, (GDestroyNotify) analysis_data_free);
  g_task_run_in_thread (analysis, analyse_in_thread);
}

/* The ledger compares the summary with pages of the same moment, not
 * those of the last detail pass (up to its interval old). The smaps read
 * also gives the sample, and with it the private dirty after a
 * collection: the process's page tables are walked once. */
static void
measure_pages (PymemdHeapBroker *self, Job *job, PymemdProcess *process)
{
  g_autoptr(GError) detail_error = NULL;
  const PymemdCategoryUsage *categories;

  /* A light (periodic) summary reads no pages and has no ledger: walking a
   * large process's page tables on a schedule would cost it more than its
   * census, and the pages of the last detail pass are of another moment. */
  if (job->request.light)
    return;
  if (pymemd_scanner_refresh_detail (pymemd_monitor_get_scanner (self->monitor), process, &detail_error))
    job->private_dirty_after = pymemd_process_get_rollup (process)->value[PYMEMD_FIELD_PRIVATE_DIRTY];
  else
    {
      g_debug ("Heap summary of %d: pages not read again: %s", job->pid, detail_error->message);
      if (job->has_before && !read_private_dirty (process, &job->private_dirty_after))
        job->has_before = FALSE;
    }
  categories = pymemd_process_get_categories (process);
  if (categories != NULL)
    {
      guint64 private_dirty[PYMEMD_N_CATEGORIES];
      for (guint i = 0; i < PYMEMD_N_CATEGORIES; i++)
        private_dirty[i] = categories[i].counters.value[PYMEMD_FIELD_PRIVATE_DIRTY];
      pymemd_heap_ledger_compute (job->summary, private_dirty, &job->ledger);
      job->has_ledger = TRUE;
    }
}

static void
answered (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GTask) task = data;
  PymemdHeapBroker *self = g_task_get_source_object (task);
  Job *job = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdHeapGraph) graph = NULL;
  g_autofree char *no_graph = NULL;
  PymemdProcess *process;

  job->summary = pymemd_helper_channel_request_finish_graph (PYMEMD_HELPER_CHANNEL (source), result, &graph,
                                                             &no_graph, &error);
  if (job->summary == NULL)
    {
      release_analysis (self, job);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  process = find_process (self, job->pid, job->start_time);
  if (process == NULL)
    {
      release_analysis (self, job);
      return_gone (task, job->pid);
      return;
    }
  measure_pages (self, job, process);
  if (job->holders == 0)
    finish_answer (task);
  else if (graph != NULL)
    start_analysis (self, g_steal_pointer (&task), g_steal_pointer (&graph));
  else
    {
      release_analysis (self, job);
      job->retained = pymemd_retained_new ();
      job->retained->incomplete = g_steal_pointer (&no_graph);
      finish_answer (task);
    }
}

static void
ask (GTask *task)
{
  PymemdHeapBroker *self = g_task_get_source_object (task);
  Job *job = g_task_get_task_data (task);
  PymemdProcess *process = find_process (self, job->pid, job->start_time);
  GError *error = NULL;
  double timeout = job->request.budget + ANSWER_GRACE;

  if (process == NULL)
    {
      return_gone (task, job->pid);
      g_object_unref (task);
      return;
    }
  if (job->holders > 0)
    {
      if (!take_analysis (self, job, &error))
        {
          g_task_return_error (task, error);
          g_object_unref (task);
          return;
        }
      /* The walk of the graph has a budget of its own. */
      timeout += job->request.budget;
    }
  job->has_before = job->request.collect && read_private_dirty (process, &job->private_dirty_before);
  pymemd_helper_channel_request_async (self->channel, job->pid, job->start_time, &job->request, timeout, NULL,
                                       answered, task);
}

/* ---- attaching: per user queues, taking turns ---- */

/* A user's attach requests: those waiting, and those whose attach has not
 * ended (the daemon waits for it, or its child still runs past its
 * deadline). */
typedef struct {
  GQueue   waiting;   /* GTask, oldest first */
  guint    in_flight; /* attaches started and not ended */
  gboolean running;   /* one of them holds a slot: the daemon waits for it */
} UserAttaches;

static void
user_attaches_free (UserAttaches *user)
{
  g_queue_clear (&user->waiting);
  g_free (user);
}

static UserAttaches *
user_attaches (PymemdHeapBroker *self, guint32 uid)
{
  UserAttaches *user = g_hash_table_lookup (self->users, GUINT_TO_POINTER (uid));

  if (user == NULL)
    {
      user = g_new0 (UserAttaches, 1);
      g_queue_init (&user->waiting);
      g_hash_table_insert (self->users, GUINT_TO_POINTER (uid), user);
    }
  return user;
}

static void
forget_user_if_idle (PymemdHeapBroker *self, guint32 uid)
{
  UserAttaches *user = g_hash_table_lookup (self->users, GUINT_TO_POINTER (uid));

  if (user != NULL && g_queue_is_empty (&user->waiting) && user->in_flight == 0 && !user->running)
    g_hash_table_remove (self->users, GUINT_TO_POINTER (uid));
}

static void next_attach (PymemdHeapBroker *self);

/* Whether the process sees PATH as the same file we do: a process in
 * another mount namespace (a container) would not find the helper or the
 * socket, and a file of the same name there is not ours to run. Looked up
 * through its /proc directory, so that a process that exits meanwhile is
 * told as exited. */
static gboolean
visible_to (PymemdProcess *process, const char *path, GError **error)
{
  g_autofree char *theirs = g_strconcat ("root", path, NULL);
  gint32 pid = pymemd_process_get_pid (process);
  struct stat a, b;

  if (g_stat (path, &a) != 0)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED, _("The helper is not installed: %s: %s"), path,
                   g_strerror (errno));
      return FALSE;
    }
  if (fstatat (pymemd_process_get_dir_fd (process), theirs, &b, 0) == 0 && a.st_dev == b.st_dev &&
      a.st_ino == b.st_ino)
    return TRUE;
  if (has_exited (process))
    g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_NO_SUCH_PROCESS, _("Process %d has exited"), pid);
  else
    g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED,
                 _("Process %d does not see %s as this daemon does (another mount namespace, e.g. a "
                   "container): the helper could not reach the daemon"),
                 pid, path);
  return FALSE;
}

/* Logs that the attach of JOB was refused, unless the uid that asked has
 * had its lines for the window. */
static void
log_refused (PymemdHeapBroker *self, Job *job, const GError *error)
{
  if (pymemd_rate_limit_take (self->refusal_log, job->uid, NULL))
    pymemd_log_event (G_LOG_LEVEL_MESSAGE, PYMEMD_MESSAGE_ATTACH_REFUSED, job->pid, NULL,
                      "Not attached to process %d: %s", job->pid, error->message);
}

static void
log_refusals_held (guint32 uid, guint refused, double window_seconds, gpointer user_data)
{
  g_message ("%u more refused attaches asked for by uid %u were not logged in the last %g s", refused, uid,
             window_seconds);
}

/* The daemon stops waiting for the attach of TASK (its helper said hello,
 * it failed, or its deadline passed) and frees its slot; the answer goes
 * on or the error is returned. Once only. */
static void
finish_attach (GTask *task)
{
  PymemdHeapBroker *self = g_task_get_source_object (task);
  Job *job = g_task_get_task_data (task);
  UserAttaches *user = g_hash_table_lookup (self->users, GUINT_TO_POINTER (job->uid));

  if (job->answered)
    return;
  job->answered = TRUE;
  self->running--;
  user->running = FALSE;
  /* Back in line, behind whoever came while this one ran. */
  if (!g_queue_is_empty (&user->waiting))
    g_queue_push_tail (&self->turns, GUINT_TO_POINTER (job->uid));
  g_clear_handle_id (&job->deadline_source, g_source_remove);
  g_cancellable_cancel (job->wait_cancellable);
  if (job->hello)
    {
      job->attached = TRUE;
      job->attach_seconds = (double) (g_get_monotonic_time () - job->attach_started) / G_USEC_PER_SEC;
      pymemd_log_event (G_LOG_LEVEL_MESSAGE, PYMEMD_MESSAGE_ATTACHED, job->pid,
                        pymemd_attach_method_name (job->method), "Attached the helper to process %d (%s, %.3f s)",
                        job->pid, pymemd_attach_method_name (job->method), job->attach_seconds);
      ask (g_object_ref (task));
    }
  else
    {
      /* Which way was tried is not known when the attach process failed. */
      log_refused (self, job, job->attach_error);
      g_task_return_error (task, g_steal_pointer (&job->attach_error));
    }
  next_attach (self);
}

static void
hello_done (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GTask) task = data;
  Job *job = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  job->hello = pymemd_helper_channel_wait_finish (PYMEMD_HELPER_CHANNEL (source), result, &error);
  job->wait_done = TRUE;
  if (!job->hello && job->attach_error == NULL)
    {
      if (g_error_matches (error, PYMEMD_ERROR, PYMEMD_ERROR_TIMED_OUT))
        g_set_error (&job->attach_error, PYMEMD_ERROR, PYMEMD_ERROR_TIMED_OUT,
                     job->method == PYMEMD_ATTACH_METHOD_PENDING_CALL
                       ? _("The bootstrap is queued (%s) but the helper did not connect within %.0f s: it runs when "
                           "the main thread next runs Python code")
                       : _("The bootstrap was run (%s) but the helper did not connect within %.0f s"),
                     pymemd_attach_method_name (job->method), job->timeout);
      else
        job->attach_error = g_steal_pointer (&error);
    }
  if (job->child_done)
    finish_attach (task);
}

/* The attach child has exited: its slot (if the daemon still waited),
 * its process and its share of its user's bound are free. */
static void
child_done (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GTask) task = data;
  PymemdHeapBroker *self = g_task_get_source_object (task);
  Job *job = g_task_get_task_data (task);
  UserAttaches *user = g_hash_table_lookup (self->users, GUINT_TO_POINTER (job->uid));
  PymemdInjectReport report;
  GError *error = NULL;

  job->child_done = TRUE;
  g_hash_table_remove (self->busy, job->key);
  user->in_flight--;
  if (pymemd_attach_child_run_finish (result, &report, &error))
    {
      job->method = report.method;
      /* How long the process's thread ran none of its own code: the cost
       * pymemd(8) documents. */
      g_debug ("Attach to %d (thread %d, %s): held %lld µs, in our calls %lld µs", job->pid, report.tid,
               pymemd_attach_method_name (report.method), (long long) report.held_us, (long long) report.calls_us);
    }
  if (job->answered)
    {
      g_message ("The attach to process %d that the daemon stopped waiting for has ended: %s", job->pid,
                 error != NULL ? error->message : pymemd_attach_method_name (report.method));
      g_clear_error (&error);
      forget_user_if_idle (self, job->uid);
      next_attach (self);
      return;
    }
  if (error != NULL)
    {
      /* A process that exited meanwhile is told as such, whichever step
       * noticed and however (a thread gone, a ptrace request failing). */
      PymemdProcess *process = find_process (self, job->pid, job->start_time);

      if (process == NULL || has_exited (process) || g_error_matches (error, PYMEMD_ERROR, PYMEMD_ERROR_GONE))
        {
          g_clear_error (&error);
          g_set_error (&error, PYMEMD_ERROR, PYMEMD_ERROR_NO_SUCH_PROCESS, _("Process %d has exited"), job->pid);
        }
      g_clear_error (&job->attach_error);
      job->attach_error = error;
      g_cancellable_cancel (job->wait_cancellable);
    }
  if (job->wait_done)
    finish_attach (task);
}

static gboolean
attach_deadline (gpointer data)
{
  GTask *task = data;
  Job *job = g_task_get_task_data (task);

  job->deadline_source = 0;
  if (!job->child_done)
    {
      g_clear_error (&job->attach_error);
      g_set_error (&job->attach_error, PYMEMD_ERROR, PYMEMD_ERROR_TIMED_OUT,
                   _("The attach to process %d did not finish within %.0f s ([limits] attach-timeout-seconds); it "
                     "goes on without the daemon waiting"),
                   job->pid, job->timeout);
    }
  else if (job->attach_error == NULL)
    g_set_error (&job->attach_error, PYMEMD_ERROR, PYMEMD_ERROR_TIMED_OUT,
                 _("The bootstrap was run (%s) but the helper did not connect within %.0f s"),
                 pymemd_attach_method_name (job->method), job->timeout);
  finish_attach (task);
  return G_SOURCE_REMOVE;
}

/* Starts the attach of TASK (taken): TRUE when it runs and holds a slot,
 * FALSE when it was answered at once (an error). */
static gboolean
start_attach (PymemdHeapBroker *self, GTask *task)
{
  Job *job = g_task_get_task_data (task);
  PymemdScanner *scanner = pymemd_monitor_get_scanner (self->monitor);
  g_autofree char *socket_path = g_build_filename (self->runtime_dir, SOCKET_NAME, NULL);
  g_autofree char *package = g_build_filename (self->helper_dir, "pymemd_helper", "__init__.py", NULL);
  g_autofree char *program = NULL;
  UserAttaches *user = user_attaches (self, job->uid);
  PymemdProcess *process = find_process (self, job->pid, job->start_time);
  PymemdAttachLimits limits;
  GError *error = NULL;

  if (process == NULL)
    {
      return_gone (task, job->pid);
      g_object_unref (task);
      return FALSE;
    }
  job->proc_root = g_strdup (pymemd_procfs_get_root (pymemd_scanner_get_procfs (scanner)));
  job->nonce = pymemd_bootstrap_new_nonce ();
  if (!visible_to (process, package, &error) || !visible_to (process, socket_path, &error) ||
      (job->bootstrap = pymemd_bootstrap_source (self->helper_dir, socket_path, job->nonce, &error)) == NULL ||
      (program = pymemd_attach_child_find_program (&error)) == NULL)
    {
      log_refused (self, job, error);
      g_task_return_error (task, error);
      g_object_unref (task);
      return FALSE;
    }
  limits = self->attach_limits;
  job->timeout = limits.timeout_seconds;
  job->attach_started = g_get_monotonic_time ();
  job->wait_cancellable = g_cancellable_new ();
  self->running++;
  user->running = TRUE;
  user->in_flight++;
  g_hash_table_insert (self->busy, g_strdup (job->key), task);
  /* The deadline decides; the wait's own timeout, a second later, only
   * keeps it bounded. */
  pymemd_helper_channel_wait_async (self->channel, job->pid, job->start_time, job->nonce, job->timeout + 1,
                                    job->wait_cancellable, hello_done, g_object_ref (task));
  job->deadline_source = g_timeout_add_full (G_PRIORITY_DEFAULT, (guint) (job->timeout * 1000), attach_deadline,
                                             g_object_ref (task), g_object_unref);
  /* A PEP 768 request the process has not taken is withdrawn with time
   * left for the child's reply to beat the deadline. */
  pymemd_attach_child_run_async (program, job->proc_root, job->pid, job->start_time, job->bootstrap, self->script_dir,
                                 job->timeout * PEP768_WAIT_SHARE, child_done, task);
  return TRUE;
}

/* USER's turn: requests that need no attach (any more) are answered, and
 * the first one whose process no attach holds is started. TRUE when one
 * was. */
static gboolean
take_turn (PymemdHeapBroker *self, UserAttaches *user)
{
  GList *link = user->waiting.head;

  while (link != NULL)
    {
      GList *next = link->next;
      GTask *task = link->data;
      Job *job = g_task_get_task_data (task);
      GTask *holder = g_hash_table_lookup (self->busy, job->key);

      if (holder != NULL && !((Job *) g_task_get_task_data (holder))->answered)
        {
          link = next; /* another user's attach runs on it: after that one */
          continue;
        }
      g_queue_delete_link (&user->waiting, link);
      if (pymemd_helper_channel_has_helper (self->channel, job->pid, job->start_time))
        ask (task); /* an attach before this one brought it in */
      else if (holder != NULL)
        {
          g_task_return_new_error (task, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED,
                                   _("An earlier attach to process %d is still running (the daemon stopped waiting "
                                     "for it); try again when it has ended"),
                                   job->pid);
          g_object_unref (task);
        }
      else if (start_attach (self, task))
        return TRUE;
      link = next;
    }
  return FALSE;
}

/* Starts what may start, CONCURRENT in all, one per user, one per
 * process: the users in line, first come first, each the first of its
 * requests that may start. A user whose attach starts leaves the line,
 * and joins its end only once that attach is over: any other user is
 * delayed by it for one attach timeout at most. */
static void
next_attach (PymemdHeapBroker *self)
{
  PymemdAttachLimits limits;

  /* Answering a request may call back into us: then the line is walked
   * again once this walk is over. */
  if (self->scheduling)
    {
      self->reschedule = TRUE;
      return;
    }
  self->scheduling = TRUE;
  do
    {
      GList *link = self->turns.head;

      self->reschedule = FALSE;
      limits = self->attach_limits;
      while (link != NULL && self->running < limits.concurrent)
        {
          GList *next = link->next;
          guint32 uid = GPOINTER_TO_UINT (link->data);
          UserAttaches *user = g_hash_table_lookup (self->users, GUINT_TO_POINTER (uid));

          if (take_turn (self, user) || g_queue_is_empty (&user->waiting))
            {
              g_queue_delete_link (&self->turns, link);
              forget_user_if_idle (self, uid);
            }
          link = next;
        }
    }
  while (self->reschedule);
  self->scheduling = FALSE;
}

/* Queues an attach for TASK (taken) unless its user has as many as the
 * limit allows. */
static void
queue_attach (PymemdHeapBroker *self, GTask *task)
{
  Job *job = g_task_get_task_data (task);
  UserAttaches *user = user_attaches (self, job->uid);
  PymemdAttachLimits limits;

  limits = self->attach_limits;
  if (g_queue_get_length (&user->waiting) + user->in_flight >= limits.per_uid)
    {
      g_task_return_new_error (task, PYMEMD_ERROR, PYMEMD_ERROR_LIMIT_EXCEEDED,
                               _("User %u has %u attaches queued or running, as many as one user may "
                                 "([limits] attaches-per-uid)"),
                               job->uid, g_queue_get_length (&user->waiting) + user->in_flight);
      g_object_unref (task);
      forget_user_if_idle (self, job->uid);
      return;
    }
  g_queue_push_tail (&user->waiting, task);
  if (g_queue_get_length (&user->waiting) == 1 && !user->running)
    g_queue_push_tail (&self->turns, GUINT_TO_POINTER (job->uid));
  next_attach (self);
}

void
pymemd_heap_broker_get_summary_async (PymemdHeapBroker        *self,
                                      PymemdProcess           *process,
                                      const PymemdHeapRequest *request,
                                      gboolean                 attach,
                                      guint                    holders,
                                      guint32                  caller_uid,
                                      GAsyncReadyCallback      callback,
                                      gpointer                 user_data)
{
  GTask *task = g_task_new (self, NULL, callback, user_data);
  Job *job = g_new0 (Job, 1);
  guint version = pymemd_process_get_python_version (process);

  job->pid = pymemd_process_get_pid (process);
  job->start_time = pymemd_process_get_start_time (process);
  job->key = g_strdup_printf ("%d:%" G_GUINT64_FORMAT, job->pid, job->start_time);
  job->uid = caller_uid;
  job->request = *request;
  job->attach = attach;
  job->holders = MIN (holders, PYMEMD_HEAP_MAX_HOLDERS);
  g_task_set_task_data (task, job, (GDestroyNotify) job_free);
  if (pymemd_helper_channel_has_helper (self->channel, job->pid, job->start_time))
    ask (task);
  else if (!attach)
    {
      g_task_return_new_error (task, PYMEMD_ERROR, PYMEMD_ERROR_NOT_ATTACHED,
                               _("No helper runs in process %d; ask with attach to bring it in"), job->pid);
      g_object_unref (task);
    }
  else if (version != 0 && version < MIN_HELPER_VERSION)
    {
      /* The helper is Python 3.6+ code: an older interpreter is refused
       * here, before anything is injected that would only fail in it. */
      g_task_return_new_error (task, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED,
                               _("Process %d runs Python %u.%u: pymemd attaches only to Python 3.6 and later"), job->pid,
                               version / 100, version % 100);
      g_object_unref (task);
    }
  else
    queue_attach (self, task);
}

GVariant *
pymemd_heap_broker_get_summary_finish (PymemdHeapBroker *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

PymemdHelperChannel *
pymemd_heap_broker_get_channel (PymemdHeapBroker *self)
{
  return self->channel;
}

void
pymemd_heap_broker_set_limits (PymemdHeapBroker         *self,
                               const PymemdAttachLimits *attach,
                               const PymemdGraphLimits  *graph)
{
  self->attach_limits = *attach;
  self->graph_limits = *graph;
}

static void
pymemd_heap_broker_dispose (GObject *object)
{
  PymemdHeapBroker *self = PYMEMD_HEAP_BROKER (object);

  g_clear_object (&self->channel);
  /* Each attach child removes its script; the directory goes once the
   * last child is done (a child still running keeps it). */
  if (self->script_dir != NULL)
    g_rmdir (self->script_dir);
  g_clear_pointer (&self->script_dir, g_free);
  G_OBJECT_CLASS (pymemd_heap_broker_parent_class)->dispose (object);
}

static void
pymemd_heap_broker_finalize (GObject *object)
{
  PymemdHeapBroker *self = PYMEMD_HEAP_BROKER (object);

  g_clear_object (&self->monitor);
  g_clear_object (&self->recorder);
  g_free (self->runtime_dir);
  g_free (self->helper_dir);
  g_hash_table_unref (self->users);
  g_hash_table_unref (self->busy);
  g_hash_table_unref (self->analysing);
  g_queue_clear (&self->turns);
  pymemd_rate_limit_free (self->refusal_log);
  G_OBJECT_CLASS (pymemd_heap_broker_parent_class)->finalize (object);
}

static void
pymemd_heap_broker_class_init (PymemdHeapBrokerClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = pymemd_heap_broker_dispose;
  G_OBJECT_CLASS (klass)->finalize = pymemd_heap_broker_finalize;
}

static void
pymemd_heap_broker_init (PymemdHeapBroker *self)
{
  self->users = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) user_attaches_free);
  self->busy = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->analysing = g_hash_table_new (NULL, NULL);
  g_queue_init (&self->turns);
  self->refusal_log = pymemd_rate_limit_new (REFUSALS_LOGGED_PER_UID, REFUSAL_LOG_WINDOW, log_refusals_held, NULL);
}

PymemdHeapBroker *
pymemd_heap_broker_new (PymemdMonitor            *monitor,
                        PymemdRecorder           *recorder,
                        const char               *runtime_dir,
                        const char               *helper_dir,
                        const PymemdAttachLimits *attach_limits,
                        const PymemdGraphLimits  *graph_limits,
                        GError                  **error)
{
  g_autoptr(PymemdHeapBroker) self = g_object_new (PYMEMD_TYPE_HEAP_BROKER, NULL);
  g_autofree char *socket_path = g_build_filename (runtime_dir, SOCKET_NAME, NULL);
  PymemdProcfs *procfs = pymemd_scanner_get_procfs (pymemd_monitor_get_scanner (monitor));

  self->monitor = g_object_ref (monitor);
  self->recorder = g_object_ref (recorder);
  self->runtime_dir = g_strdup (runtime_dir);
  self->helper_dir = g_strdup (helper_dir);
  self->script_dir = g_build_filename (runtime_dir, SCRIPT_DIR_NAME, NULL);
  pymemd_heap_broker_set_limits (self, attach_limits, graph_limits);
  self->channel = pymemd_helper_channel_new (socket_path, pymemd_procfs_get_root (procfs), error);
  if (self->channel == NULL)
    return NULL;
  if (!pymemd_attach_child_can_refuse_oom_killer ())
    g_message ("Without CAP_SYS_RESOURCE the attach processes cannot keep the OOM killer away: one killed in the "
               "middle of a call would take its target with it");
  return g_steal_pointer (&self);
}
