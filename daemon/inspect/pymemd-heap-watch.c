/* Light heap summaries on a schedule ([heap] in pymemd.conf(5)) of the processes whose helper is in, and the types that grew, for GrowthSuspected. */
#include "config.h"

#include "pymemd-heap-growth.h"
#include "pymemd-heap-watch.h"

/* Types a light summary lists: enough to name what grew, small enough to
 * keep one every few minutes for days (a few KiB). */
#define LIGHT_TOP 50

struct _PymemdHeapWatch
{
  GObject           parent_instance;
  PymemdMonitor    *monitor;
  PymemdHeapBroker *broker;
  guint             timer;
  GHashTable       *last_taken; /* "pid:start time" → gint64 µs of its last light summary */
  GQueue            round;      /* "pid:start time" still to summarize this round */
  gboolean          asking;     /* a summary of the round is being taken */
  guint             summaries;
  PymemdHeapWatchSettings settings;
};

G_DEFINE_TYPE (PymemdHeapWatch, pymemd_heap_watch, G_TYPE_OBJECT)

static void next_in_round (PymemdHeapWatch *self);
static void reschedule (PymemdHeapWatch *self);

static char *
process_key (PymemdProcess *process)
{
  return g_strdup_printf ("%d:%" G_GUINT64_FORMAT, pymemd_process_get_pid (process),
                          pymemd_process_get_start_time (process));
}

static gint64
last_taken (PymemdHeapWatch *self, PymemdProcess *process)
{
  g_autofree char *key = process_key (process);
  gint64 *when = g_hash_table_lookup (self->last_taken, key);

  return when != NULL ? *when : 0;
}

static gint
waited_longest_first (gconstpointer a, gconstpointer b, gpointer data)
{
  PymemdHeapWatch *self = data;
  gint64 x = last_taken (self, *(PymemdProcess **) a), y = last_taken (self, *(PymemdProcess **) b);

  return x < y ? -1 : x > y;
}

/* Forgets processes that are gone: the table stays as large as the list. */
static void
forget_gone (PymemdHeapWatch *self, GPtrArray *processes)
{
  g_autoptr(GHashTable) living = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GHashTableIter iter;
  gpointer key;

  for (guint i = 0; i < processes->len; i++)
    g_hash_table_add (living, process_key (g_ptr_array_index (processes, i)));
  g_hash_table_iter_init (&iter, self->last_taken);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!g_hash_table_contains (living, key))
      g_hash_table_iter_remove (&iter);
}

static gboolean
start_round (gpointer data)
{
  PymemdHeapWatch *self = data;
  PymemdHelperChannel *channel = pymemd_heap_broker_get_channel (self->broker);
  GPtrArray *processes = pymemd_monitor_get_processes (self->monitor);
  g_autoptr(GPtrArray) with_helper = g_ptr_array_new ();

  self->timer = 0;
  forget_gone (self, processes);
  /* A round still going (a process slow to answer) is not doubled. */
  if (!self->asking && g_queue_is_empty (&self->round))
    {
      for (guint i = 0; i < processes->len; i++)
        {
          PymemdProcess *process = g_ptr_array_index (processes, i);

          if (pymemd_helper_channel_has_helper (channel, pymemd_process_get_pid (process),
                                                pymemd_process_get_start_time (process)))
            g_ptr_array_add (with_helper, process);
        }
      g_ptr_array_sort_with_data (with_helper, waited_longest_first, self);
      for (guint i = 0; i < with_helper->len && i < self->settings.per_round; i++)
        g_queue_push_tail (&self->round, process_key (g_ptr_array_index (with_helper, i)));
      next_in_round (self);
    }
  reschedule (self);
  return G_SOURCE_REMOVE;
}

static void
light_taken (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(PymemdHeapWatch) self = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) summary = pymemd_heap_broker_get_summary_finish (PYMEMD_HEAP_BROKER (source), result, &error);

  self->asking = FALSE;
  if (summary != NULL)
    self->summaries++;
  else
    g_debug ("No light heap summary: %s", error->message);
  if (self->broker != NULL)
    next_in_round (self);
}

/* Asks for the next summary of the round, one at a time: the daemon's share
 * of the cost stays one summary's, whatever the round's size. */
static void
next_in_round (PymemdHeapWatch *self)
{

  while (!self->asking && !g_queue_is_empty (&self->round))
    {
      g_autofree char *key = g_queue_pop_head (&self->round);
      g_auto(GStrv) parts = g_strsplit (key, ":", 2);
      PymemdProcess *process = pymemd_monitor_find (self->monitor, (guint) g_ascii_strtoull (parts[0], NULL, 10));
      PymemdHeapRequest request;
      gint64 *when;

      if (process == NULL || pymemd_process_get_start_time (process) != g_ascii_strtoull (parts[1], NULL, 10))
        continue;
      pymemd_heap_request_init (&request);
      request.top = LIGHT_TOP;
      request.sites = 0;
      request.budget = self->settings.budget;
      request.light = TRUE;
      when = g_new (gint64, 1);
      *when = g_get_monotonic_time ();
      g_hash_table_replace (self->last_taken, g_strdup (key), when);
      self->asking = TRUE;
      pymemd_heap_broker_get_summary_async (self->broker, process, &request, FALSE, 0, 0, light_taken,
                                            g_object_ref (self));
    }
}

static void
reschedule (PymemdHeapWatch *self)
{

  g_clear_handle_id (&self->timer, g_source_remove);
  if (self->settings.interval > 0)
    self->timer = g_timeout_add ((guint) (self->settings.interval * 1000), start_round, self);
}

guint
pymemd_heap_watch_get_summaries (PymemdHeapWatch *self)
{
  return self->summaries;
}

static void
pymemd_heap_watch_dispose (GObject *object)
{
  PymemdHeapWatch *self = PYMEMD_HEAP_WATCH (object);

  g_clear_handle_id (&self->timer, g_source_remove);
  g_queue_clear_full (&self->round, g_free);
  g_clear_object (&self->broker);
  g_clear_object (&self->monitor);
  G_OBJECT_CLASS (pymemd_heap_watch_parent_class)->dispose (object);
}

static void
pymemd_heap_watch_finalize (GObject *object)
{
  PymemdHeapWatch *self = PYMEMD_HEAP_WATCH (object);

  g_hash_table_unref (self->last_taken);
  G_OBJECT_CLASS (pymemd_heap_watch_parent_class)->finalize (object);
}

static void
pymemd_heap_watch_class_init (PymemdHeapWatchClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = pymemd_heap_watch_dispose;
  G_OBJECT_CLASS (klass)->finalize = pymemd_heap_watch_finalize;
}

static void
pymemd_heap_watch_init (PymemdHeapWatch *self)
{
  self->last_taken = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_queue_init (&self->round);
}

PymemdHeapWatch *
pymemd_heap_watch_new (PymemdMonitor                 *monitor,
                       PymemdHeapBroker              *broker,
                       const PymemdHeapWatchSettings *settings)
{
  PymemdHeapWatch *self = g_object_new (PYMEMD_TYPE_HEAP_WATCH, NULL);

  self->monitor = g_object_ref (monitor);
  self->broker = g_object_ref (broker);
  pymemd_heap_watch_set_settings (self, settings);
  return self;
}

void
pymemd_heap_watch_set_settings (PymemdHeapWatch *self, const PymemdHeapWatchSettings *settings)
{
  self->settings = *settings;
  reschedule (self);
}

/* ---- what grew ---- */

static void
summaries_listed (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GTask) task = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdRecorderHeapSummaries) answer =
    pymemd_recorder_list_heap_summaries_finish (PYMEMD_RECORDER (source), result, &error);
  GVariantBuilder list;
  g_autoptr(GVariant) summaries = NULL;

  if (answer == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_variant_builder_init (&list, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < answer->summaries->len; i++)
    {
      const PymemdHistoryHeapSummary *kept = g_ptr_array_index (answer->summaries, i);
      g_autoptr(GError) record_error = NULL;
      g_autoptr(GVariant) summary = pymemd_heap_broker_variant_from_record (kept->summary, &record_error);

      if (summary != NULL)
        g_variant_builder_add_value (&list, summary);
    }
  summaries = g_variant_ref_sink (g_variant_builder_end (&list));
  g_task_return_pointer (task, g_variant_ref_sink (pymemd_heap_growth_of_summaries (summaries,
                                                                                   PYMEMD_HEAP_GROWTH_MAX)),
                         (GDestroyNotify) g_variant_unref);
}

void
pymemd_heap_watch_growth_async (PymemdRecorder     *recorder,
                                const char         *boot_id,
                                gint32              pid,
                                guint64             start_time,
                                gint64              since_us,
                                GAsyncReadyCallback callback,
                                gpointer            user_data)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);

  pymemd_recorder_list_heap_summaries_async (recorder, boot_id, pid, start_time, since_us, g_get_real_time () + 1,
                                             summaries_listed, task);
}

GVariant *
pymemd_heap_watch_growth_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}
