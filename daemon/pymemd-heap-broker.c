/* Answers requests for heap summaries: finds the helper or brings it in (one attach at a time), asks it, measures the pages around it, keeps the result with the process and in history. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "pymemd-bootstrap.h"
#include "pymemd-error.h"
#include "pymemd-heap-broker.h"
#include "pymemd-injector.h"
#include "pymemd-procfs.h"
#include "pymemd-smaps.h"

#define SOCKET_NAME    "helper.sock"
#define ATTACH_TIMEOUT 15.0 /* seconds from the injection to the helper's hello */
#define ANSWER_GRACE   30.0 /* seconds on top of the census budget */
#define ROLLUP_BUFFER  8192
#define RECORD_VERSION 1

struct _PymemdHeapBroker
{
  GObject              parent_instance;
  PymemdMonitor       *monitor;
  PymemdRecorder      *recorder;
  PymemdHelperChannel *channel;
  char                *runtime_dir;
  char                *helper_dir;
  GQueue               attach_queue; /* GTask: requests waiting for their turn to attach */
  GTask               *attaching;    /* the one attaching now */
  GPtrArray           *scripts;      /* PEP 768 scripts not known to be read yet */
};

G_DEFINE_TYPE (PymemdHeapBroker, pymemd_heap_broker, G_TYPE_OBJECT)

typedef struct {
  gint32            pid;
  guint64           start_time;
  PymemdHeapRequest request;
  gboolean          attach;

  /* Attaching: the injector (on a thread) and the wait for the helper's
   * hello run together; both end before the request goes on. */
  char              *nonce;
  char              *bootstrap;
  char              *script_path;
  char              *proc_root;
  gint64             attach_started;
  gboolean           injector_done;
  gboolean           wait_done;
  gboolean           hello;
  PymemdAttachMethod method;
  GError            *attach_error;
  GCancellable      *wait_cancellable;
  gboolean           attached;
  double             attach_seconds;

  gboolean           has_before;
  guint64            private_dirty_before;
} Job;

static void
job_free (Job *job)
{
  g_free (job->nonce);
  g_free (job->bootstrap);
  g_free (job->script_path);
  g_free (job->proc_root);
  g_clear_error (&job->attach_error);
  g_clear_object (&job->wait_cancellable);
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
  json_builder_set_member_name (builder, "heap_private_dirty");
  json_builder_add_int_value (builder, (gint64) ledger->heap_private_dirty);
  json_builder_set_member_name (builder, "explained");
  json_builder_add_int_value (builder, (gint64) ledger->explained);
  json_builder_set_member_name (builder, "pymalloc_free");
  json_builder_add_int_value (builder, (gint64) ledger->pymalloc_free);
  json_builder_set_member_name (builder, "unexplained");
  json_builder_add_int_value (builder, (gint64) ledger->unexplained);
  json_builder_end_object (builder);
}

/* What history keeps: the validated summary, with the ledger and the
 * collection's pages of when it was taken. */
static char *
record_text (const PymemdHeapSummary *summary, const PymemdHeapLedger *ledger, const Job *job, guint64 after)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "v");
  json_builder_add_int_value (builder, RECORD_VERSION);
  json_builder_set_member_name (builder, "summary");
  json_builder_add_value (builder, json_node_copy (summary->document));
  if (ledger != NULL)
    add_ledger_member (builder, ledger);
  if (job->has_before)
    {
      json_builder_set_member_name (builder, "private_dirty_before");
      json_builder_add_int_value (builder, (gint64) job->private_dirty_before);
      json_builder_set_member_name (builder, "private_dirty_after");
      json_builder_add_int_value (builder, (gint64) after);
    }
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  return json_to_string (root, FALSE);
}

static gboolean
read_ledger (JsonObject *record, PymemdHeapLedger *ledger)
{
  JsonObject *o;

  if (!json_object_has_member (record, "ledger") ||
      (o = json_object_get_object_member (record, "ledger")) == NULL)
    return FALSE;
  ledger->heap_private_dirty = (guint64) MAX (json_object_get_int_member_with_default (o, "heap_private_dirty", 0), 0);
  ledger->explained = (guint64) MAX (json_object_get_int_member_with_default (o, "explained", 0), 0);
  ledger->pymalloc_free = (guint64) MAX (json_object_get_int_member_with_default (o, "pymalloc_free", 0), 0);
  ledger->unexplained = (guint64) MAX (json_object_get_int_member_with_default (o, "unexplained", 0), 0);
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
  GVariant *variant;

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
  if (json_object_has_member (record, "private_dirty_before"))
    variant = with_collect_pages (
      variant, (guint64) MAX (json_object_get_int_member_with_default (record, "private_dirty_before", 0), 0),
      (guint64) MAX (json_object_get_int_member_with_default (record, "private_dirty_after", 0), 0));
  return variant;
}

static GVariant *
answer_variant (PymemdHeapBroker *self, const PymemdHeapSummary *summary, const PymemdHeapLedger *ledger,
                const Job *job, guint64 after)
{
  const char *how = pymemd_helper_channel_get_how (self->channel, job->pid, job->start_time);
  GVariant *base = g_variant_ref_sink (pymemd_heap_summary_to_variant (summary, ledger));
  GVariantDict dict;

  if (job->has_before)
    base = with_collect_pages (base, job->private_dirty_before, after);
  g_variant_dict_init (&dict, base);
  g_variant_unref (base);
  if (how != NULL)
    g_variant_dict_insert (&dict, "helper", "s", how);
  if (job->attached)
    {
      g_variant_dict_insert (&dict, "attached_by", "s", pymemd_attach_method_name (job->method));
      g_variant_dict_insert (&dict, "attach_seconds", "d", job->attach_seconds);
    }
  return g_variant_ref_sink (g_variant_dict_end (&dict));
}

static void
answered (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GTask) task = data;
  PymemdHeapBroker *self = g_task_get_source_object (task);
  Job *job = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdHeapSummary) summary = pymemd_helper_channel_request_finish (PYMEMD_HELPER_CHANNEL (source), result,
                                                                              &error);
  g_autoptr(GError) detail_error = NULL;
  g_autofree char *text = NULL;
  PymemdProcess *process;
  PymemdHeapLedger ledger;
  const PymemdCategoryUsage *categories;
  guint64 after = 0;
  gboolean has_ledger = FALSE;
  GVariant *variant;

  if (summary == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  process = find_process (self, job->pid, job->start_time);
  if (process == NULL)
    {
      return_gone (task, job->pid);
      return;
    }
  /* The ledger compares the summary with pages of the same moment, not
   * those of the last detail pass (up to its interval old). The smaps
   * read also gives the sample, and with it the private dirty after a
   * collection: the process's page tables are walked once. */
  if (pymemd_scanner_refresh_detail (pymemd_monitor_get_scanner (self->monitor), process, &detail_error))
    after = pymemd_process_get_rollup (process)->value[PYMEMD_FIELD_PRIVATE_DIRTY];
  else
    {
      g_debug ("Heap summary of %d: pages not read again: %s", job->pid, detail_error->message);
      if (job->has_before && !read_private_dirty (process, &after))
        job->has_before = FALSE;
    }
  categories = pymemd_process_get_categories (process);
  if (categories != NULL)
    {
      guint64 private_dirty[PYMEMD_N_CATEGORIES];
      for (guint i = 0; i < PYMEMD_N_CATEGORIES; i++)
        private_dirty[i] = categories[i].counters.value[PYMEMD_FIELD_PRIVATE_DIRTY];
      pymemd_heap_ledger_compute (summary, private_dirty, &ledger);
      has_ledger = TRUE;
    }
  variant = answer_variant (self, summary, has_ledger ? &ledger : NULL, job, after);
  text = record_text (summary, has_ledger ? &ledger : NULL, job, after);
  pymemd_recorder_add_heap_summary (self->recorder,
                                    pymemd_scanner_get_boot_id (pymemd_monitor_get_scanner (self->monitor)),
                                    job->pid, job->start_time, summary->taken_at_us, text);
  pymemd_process_set_heap (process, g_steal_pointer (&summary), has_ledger ? &ledger : NULL);
  g_task_return_pointer (task, variant, (GDestroyNotify) g_variant_unref);
}

static void
ask (GTask *task)
{
  PymemdHeapBroker *self = g_task_get_source_object (task);
  Job *job = g_task_get_task_data (task);
  PymemdProcess *process = find_process (self, job->pid, job->start_time);

  if (process == NULL)
    {
      return_gone (task, job->pid);
      g_object_unref (task);
      return;
    }
  job->has_before = job->request.collect && read_private_dirty (process, &job->private_dirty_before);
  pymemd_helper_channel_request_async (self->channel, job->pid, job->start_time, &job->request,
                                       job->request.budget + ANSWER_GRACE, NULL, answered, task);
}

/* ---- attaching, one at a time ---- */

static void next_attach (PymemdHeapBroker *self);

/* Whether the process sees PATH as the same file we do: a process in
 * another mount namespace (a container) would not find the helper or the
 * socket, and a file of the same name there is not ours to run. */
static gboolean
visible_to (const char *proc_root, gint32 pid, const char *path, GError **error)
{
  g_autofree char *theirs = g_strdup_printf ("%s/%d/root%s", proc_root, pid, path);
  struct stat a, b;

  if (g_stat (path, &a) != 0)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED, _("The helper is not installed: %s: %s"), path,
                   g_strerror (errno));
      return FALSE;
    }
  if (g_stat (theirs, &b) != 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED,
                   _("Process %d does not see %s as this daemon does (another mount namespace, e.g. a "
                     "container): the helper could not reach the daemon"),
                   pid, path);
      return FALSE;
    }
  return TRUE;
}

static void
finish_attach (GTask *task)
{
  PymemdHeapBroker *self = g_task_get_source_object (task);
  Job *job = g_task_get_task_data (task);

  if (!job->injector_done || !job->wait_done)
    return;
  self->attaching = NULL;
  next_attach (self);
  if (job->hello)
    {
      job->attached = TRUE;
      job->attach_seconds = (double) (g_get_monotonic_time () - job->attach_started) / G_USEC_PER_SEC;
      if (job->script_path != NULL && job->method == PYMEMD_ATTACH_METHOD_PEP768)
        {
          g_unlink (job->script_path);
          g_ptr_array_remove (self->scripts, job->script_path);
        }
      g_message ("Attached the helper to process %d (%s, %.3f s)", job->pid, pymemd_attach_method_name (job->method),
                 job->attach_seconds);
      ask (task);
      return;
    }
  g_message ("Not attached to process %d: %s", job->pid, job->attach_error->message);
  g_task_return_error (task, g_steal_pointer (&job->attach_error));
  g_object_unref (task);
}

static void
hello_done (GObject *source, GAsyncResult *result, gpointer data)
{
  GTask *task = data;
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
                     pymemd_attach_method_name (job->method), ATTACH_TIMEOUT);
      else
        job->attach_error = g_steal_pointer (&error);
    }
  finish_attach (task);
}

static void
inject_in_thread (GTask *inject, gpointer source, gpointer data, GCancellable *cancellable)
{
  Job *job = data;
  GError *error = NULL;
  PymemdInjectReport report = { 0 };

  if (!pymemd_injector_inject_with_report (job->proc_root, job->pid, job->start_time, job->bootstrap,
                                           job->script_path, &report, &error))
    {
      g_task_return_error (inject, error);
      return;
    }
  /* How long the process's thread ran none of its own code: the cost
   * pymemd(8) documents. */
  g_debug ("Attach to %d (thread %d, %s): held %lld µs, in our calls %lld µs", job->pid, report.tid,
           pymemd_attach_method_name (report.method), (long long) report.held_us, (long long) report.calls_us);
  g_task_return_int (inject, report.method);
}

static void
inject_done (GObject *source, GAsyncResult *result, gpointer data)
{
  GTask *task = data;
  Job *job = g_task_get_task_data (task);
  GError *error = NULL;
  gssize method = g_task_propagate_int (G_TASK (result), &error);

  job->injector_done = TRUE;
  if (error != NULL)
    {
      g_clear_error (&job->attach_error);
      job->attach_error = error;
      g_cancellable_cancel (job->wait_cancellable);
    }
  else
    job->method = (PymemdAttachMethod) method;
  finish_attach (task);
}

static gboolean
start_attach (PymemdHeapBroker *self, GTask *task)
{
  Job *job = g_task_get_task_data (task);
  PymemdScanner *scanner = pymemd_monitor_get_scanner (self->monitor);
  g_autofree char *socket_path = g_build_filename (self->runtime_dir, SOCKET_NAME, NULL);
  g_autofree char *package = g_build_filename (self->helper_dir, "pymemd_helper", "__init__.py", NULL);
  g_autoptr(GTask) inject = NULL;
  GError *error = NULL;
  PymemdProcess *process;

  if (pymemd_helper_channel_has_helper (self->channel, job->pid, job->start_time))
    return FALSE; /* an attach queued before this one brought it in */
  process = find_process (self, job->pid, job->start_time);
  if (process == NULL)
    {
      g_set_error (&error, PYMEMD_ERROR, PYMEMD_ERROR_NO_SUCH_PROCESS, _("Process %d has exited"), job->pid);
      g_task_return_error (task, error);
      return TRUE;
    }
  job->proc_root = g_strdup (pymemd_procfs_get_root (pymemd_scanner_get_procfs (scanner)));
  job->nonce = pymemd_bootstrap_new_nonce ();
  if (!visible_to (job->proc_root, job->pid, package, &error) ||
      !visible_to (job->proc_root, job->pid, socket_path, &error) ||
      (job->bootstrap = pymemd_bootstrap_source (self->helper_dir, socket_path, job->nonce, &error)) == NULL)
    {
      g_task_return_error (task, error);
      return TRUE;
    }
  /* PEP 768 reads the script from a file: one only root can write, in
   * the runtime directory (which the process was just checked to see). */
  if (pymemd_process_get_python_version (process) >= 314)
    {
      g_autofree char *name = g_strdup_printf ("attach-%s.py", job->nonce);
      job->script_path = g_build_filename (self->runtime_dir, name, NULL);
      if (!g_file_set_contents_full (job->script_path, job->bootstrap, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644,
                                     &error))
        {
          g_debug ("No PEP 768 script: %s", error->message);
          g_clear_error (&error);
          g_clear_pointer (&job->script_path, g_free);
        }
      else
        g_ptr_array_add (self->scripts, g_strdup (job->script_path));
    }
  self->attaching = task;
  job->attach_started = g_get_monotonic_time ();
  job->wait_cancellable = g_cancellable_new ();
  pymemd_helper_channel_wait_async (self->channel, job->pid, job->start_time, job->nonce, ATTACH_TIMEOUT,
                                    job->wait_cancellable, hello_done, task);
  inject = g_task_new (self, NULL, inject_done, task);
  g_task_set_task_data (inject, job, NULL);
  g_task_run_in_thread (inject, inject_in_thread);
  return TRUE;
}

static void
next_attach (PymemdHeapBroker *self)
{
  while (self->attaching == NULL && !g_queue_is_empty (&self->attach_queue))
    {
      GTask *task = g_queue_pop_head (&self->attach_queue);

      if (!start_attach (self, task))
        ask (task);
      else if (self->attaching != task)
        g_object_unref (task); /* answered with an error */
    }
}

void
pymemd_heap_broker_get_summary_async (PymemdHeapBroker        *self,
                                      PymemdProcess           *process,
                                      const PymemdHeapRequest *request,
                                      gboolean                 attach,
                                      GAsyncReadyCallback      callback,
                                      gpointer                 user_data)
{
  GTask *task = g_task_new (self, NULL, callback, user_data);
  Job *job = g_new0 (Job, 1);

  job->pid = pymemd_process_get_pid (process);
  job->start_time = pymemd_process_get_start_time (process);
  job->request = *request;
  job->attach = attach;
  g_task_set_task_data (task, job, (GDestroyNotify) job_free);
  if (pymemd_helper_channel_has_helper (self->channel, job->pid, job->start_time))
    ask (task);
  else if (!attach)
    {
      g_task_return_new_error (task, PYMEMD_ERROR, PYMEMD_ERROR_NOT_ATTACHED,
                               _("No helper runs in process %d; ask with attach to bring it in"), job->pid);
      g_object_unref (task);
    }
  else
    {
      g_queue_push_tail (&self->attach_queue, task);
      next_attach (self);
    }
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

static void
pymemd_heap_broker_dispose (GObject *object)
{
  PymemdHeapBroker *self = PYMEMD_HEAP_BROKER (object);

  g_clear_object (&self->channel);
  /* Scripts a PEP 768 attach left unread: the process would otherwise
   * find a later pymemd's file, or none, at that path. */
  if (self->scripts != NULL)
    for (guint i = 0; i < self->scripts->len; i++)
      g_unlink (g_ptr_array_index (self->scripts, i));
  g_clear_pointer (&self->scripts, g_ptr_array_unref);
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
  self->scripts = g_ptr_array_new_with_free_func (g_free);
  g_queue_init (&self->attach_queue);
}

PymemdHeapBroker *
pymemd_heap_broker_new (PymemdMonitor  *monitor,
                        PymemdRecorder *recorder,
                        const char     *runtime_dir,
                        const char     *helper_dir,
                        GError        **error)
{
  g_autoptr(PymemdHeapBroker) self = g_object_new (PYMEMD_TYPE_HEAP_BROKER, NULL);
  g_autofree char *socket_path = g_build_filename (runtime_dir, SOCKET_NAME, NULL);
  PymemdProcfs *procfs = pymemd_scanner_get_procfs (pymemd_monitor_get_scanner (monitor));

  self->monitor = g_object_ref (monitor);
  self->recorder = g_object_ref (recorder);
  self->runtime_dir = g_strdup (runtime_dir);
  self->helper_dir = g_strdup (helper_dir);
  self->channel = pymemd_helper_channel_new (socket_path, pymemd_procfs_get_root (procfs), error);
  if (self->channel == NULL)
    return NULL;
  return g_steal_pointer (&self);
}
