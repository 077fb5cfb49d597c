/* Keeps the history store on a thread of its own: the main loop hands it ticks and asks it questions, and never waits on SQLite. */
#include "config.h"

#include <stdlib.h> /* defines __GLIBC__ */
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <glib/gi18n.h>

#include "pymemd-error.h"
#include "pymemd-log.h"
#include "pymemd-recorder.h"

#define SECOND_US G_GINT64_CONSTANT (1000000)
#define MINUTE_US (60 * SECOND_US)
#define HOUR_US (60 * MINUTE_US)

/* Ticks queued beyond this are dropped: a store that slow is broken, and
 * the queue must not grow without bound. */
#define MAX_PENDING_TICKS 16
/* How often retention runs (the first tick also runs it). */
#define RETENTION_PERIOD_US (10 * MINUTE_US)
/* Problems with the store are logged at most this often. */
#define WARN_PERIOD_US (10 * MINUTE_US)
/* An in-memory store holds at most this much, whatever max-size says. */
#define MEMORY_MAX_BYTES (G_GUINT64_CONSTANT (32) << 20)
/* An automatic resolution aims at this many buckets. */
#define AUTO_BUCKETS 500
/* Heap summaries of processes the store does not know yet, kept for the
 * ticks that record them: at most this many, for at most this many ticks. */
#define HEAP_WAITING_PER_OWNER 8   /* summaries of one user's processes */
#define HEAP_WAITING_MAX 32        /* of everyone's (each up to a helper frame, 1 MiB) */
#define HEAP_WAITING_TICKS 3

typedef enum {
  JOB_TICK,
  JOB_QUERY,
  JOB_ENDED,
  JOB_GROWTH,
  JOB_HEAP_ADD,
  JOB_HEAP_LIST,
  JOB_SETTINGS,
  JOB_FLUSH,
  JOB_STOP,
} JobKind;

typedef struct {
  JobKind               kind;
  GTask                *task;
  char                 *boot_id;
  gint32                pid;
  guint64               start_time;
  gint64                timestamp, since, until, resolution, window;
  GArray               *points;
  char                 *text; /* JOB_HEAP_ADD: the summary */
  PymemdHistorySettings settings;
  /* A question the reader hands over: the damage its connection to file
   * generation GENERATION found. */
  PymemdHistoryDamage   damage;
  gint                  generation;
  guint                 ticks_waited; /* JOB_HEAP_ADD, waiting for its process */
  guint32               owner;        /* JOB_HEAP_ADD: the uid its process runs as */
  /* JOB_FLUSH */
  GMutex               *mutex;
  GCond                *cond;
  gboolean             *done;
} Job;

/* The worker's way back to the recorder: cleared when the recorder goes,
 * so that a delivery still queued on the main context finds nobody. */
typedef struct {
  gint            ref_count;
  PymemdRecorder *recorder;
} Link;

static Link *
link_ref (Link *link)
{
  g_atomic_int_inc (&link->ref_count);
  return link;
}

static void
link_unref (Link *link)
{
  if (g_atomic_int_dec_and_test (&link->ref_count))
    g_free (link);
}

/* What a tick's writing tells the main loop. */
typedef struct {
  Link               *link;
  PymemdRecorderState state;
  guint64             bytes;
  GArray             *growth; /* PymemdHistoryGrowth, NULL: unchanged */
  GArray             *alerts; /* PymemdHistoryGrowth */
} TickResult;

typedef struct {
  double bytes_per_hour;
  guint  samples;
} Growth;

struct _PymemdRecorder
{
  GObject       parent_instance;
  char         *path;
  GMainContext *context;
  GThread      *thread;
  GAsyncQueue  *queue;
  Link         *link;
  GThread      *reader_thread;
  GAsyncQueue  *reader_queue;
  gint          file_generation; /* atomic: bumped when the writer opens the file, 0 while it has none */
  gint          pending_ticks; /* atomic */
  gint          drop_logged;   /* atomic */

  /* The main thread's view. */
  PymemdRecorderState state;
  guint64             bytes;
  GHashTable         *growth; /* "pid start_time" -> Growth */

  /* The worker's alone. */
  PymemdHistory        *file;
  PymemdHistory        *memory;
  /* While the file cannot be written, what it held, read under memory:
   * the connection that failed, retired, or a reader. */
  PymemdHistory        *older;
  /* OLDER's file is damaged: what can be read of it is saved into a fresh
   * file at the path before the path is used again. */
  PymemdHistoryDamage   damage;
  PymemdHistorySettings settings;
  gint64                next_retry;     /* monotonic µs */
  gint64                next_retention; /* monotonic µs */
  gint64                growth_measured; /* tick time growth was last measured at */
  GHashTable           *alerted;        /* "pid start_time" -> gint64 tick time of the last alert */
  gint64                warned_at;     /* monotonic µs of the last warning, 0: never */
  gboolean              warned;        /* a warning not yet followed by "written again" */
  GQueue                heap_waiting;  /* JOB_HEAP_ADD jobs whose process has no row yet */
  guint                 file_opens;    /* the generation of the file now open */
};

enum { SIGNAL_STATE_CHANGED, SIGNAL_GROWTH_SUSPECTED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (PymemdRecorder, pymemd_recorder, G_TYPE_OBJECT)

static void
job_free (Job *job)
{
  g_clear_object (&job->task);
  g_free (job->boot_id);
  g_free (job->text);
  g_clear_pointer (&job->points, g_array_unref);
  g_free (job);
}

typedef struct {
  GTask         *task;
  gpointer       result;
  GDestroyNotify result_free;
  GError        *error;
} Reply;

static gboolean
reply_on_main (gpointer data)
{
  Reply *reply = data;

  if (reply->error != NULL)
    g_task_return_error (reply->task, reply->error);
  else
    g_task_return_pointer (reply->task, reply->result, reply->result_free);
  g_object_unref (reply->task);
  g_free (reply);
  return G_SOURCE_REMOVE;
}

/* Answers JOB (RESULT, freed with RESULT_FREE, or ERROR, both taken) from
 * the thread its task was made on, which then drops the task's last
 * reference. Dropped on the recorder's thread, it could take the
 * recorder's own last reference with it, and dispose would join that
 * thread from itself. */
static void
job_reply (Job *job, gpointer result, GDestroyNotify result_free, GError *error)
{
  Reply *reply = g_new0 (Reply, 1);
  g_autoptr(GSource) source = g_idle_source_new ();

  reply->task = g_steal_pointer (&job->task);
  reply->result = result;
  reply->result_free = result_free;
  reply->error = error;
  /* An idle source, not g_main_context_invoke (): that would run it here
   * whenever this thread could acquire the context. */
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, reply_on_main, reply, NULL);
  g_source_set_static_name (source, "[pymemd] recorder reply");
  g_source_attach (source, g_task_get_context (reply->task));
}

static char *
growth_key (gint32 pid, guint64 start_time)
{
  return g_strdup_printf ("%d %" G_GUINT64_FORMAT, pid, start_time);
}

static void
point_clear (gpointer data)
{
  PymemdHistoryPoint *point = data;

  g_free ((char *) point->exe);
  g_free ((char *) point->cmdline);
}

void
pymemd_recorder_record_scan (PymemdRecorder         *self,
                             const char             *boot_id,
                             GPtrArray              *processes,
                             PymemdRecorderOwnerFunc owner,
                             gpointer                owner_data)
{
  PymemdCounters sum;
  GArray *points = pymemd_recorder_points_new (processes->len + 1);
  PymemdHistoryPoint totals = { 0 };
  gint64 now = g_get_real_time (), latest = 0;

  pymemd_process_sum_rollups (processes, &sum);
  for (guint i = 0; i < processes->len; i++)
    {
      PymemdProcess *process = g_ptr_array_index (processes, i);
      const PymemdCounters *c = pymemd_process_get_rollup (process);
      PymemdHistoryPoint point = {
        .pid = pymemd_process_get_pid (process),
        .start_time = pymemd_process_get_start_time (process),
        .uid = owner (process, owner_data),
        .rss = c->value[PYMEMD_FIELD_RSS],
        .pss = c->value[PYMEMD_FIELD_PSS],
        .uss = pymemd_counters_uss (c),
        .private_dirty = c->value[PYMEMD_FIELD_PRIVATE_DIRTY],
        .swap = c->value[PYMEMD_FIELD_SWAP],
        .sampled_at = pymemd_process_get_sampled_at (process),
      };

      latest = MAX (latest, point.sampled_at);
      g_array_append_val (points, point);
      pymemd_recorder_point_set_strings (&g_array_index (points, PymemdHistoryPoint, points->len - 1),
                                         pymemd_process_get_exe (process), pymemd_process_get_cmdline (process));
    }
  totals.rss = sum.value[PYMEMD_FIELD_RSS];
  totals.pss = sum.value[PYMEMD_FIELD_PSS];
  totals.uss = pymemd_counters_uss (&sum);
  totals.private_dirty = sum.value[PYMEMD_FIELD_PRIVATE_DIRTY];
  totals.swap = sum.value[PYMEMD_FIELD_SWAP];
  /* A scan that sampled nothing new writes no new totals either. */
  totals.sampled_at = latest > 0 ? latest : now;
  g_array_append_val (points, totals);
  pymemd_recorder_add_tick (self, boot_id, now, points);
}

GArray *
pymemd_recorder_points_new (guint reserved)
{
  GArray *points = g_array_sized_new (FALSE, TRUE, sizeof (PymemdHistoryPoint), reserved);

  g_array_set_clear_func (points, point_clear);
  return points;
}

void
pymemd_recorder_point_set_strings (PymemdHistoryPoint *point, const char *exe, const char *cmdline)
{
  g_free ((char *) point->exe);
  g_free ((char *) point->cmdline);
  point->exe = g_strdup (exe);
  point->cmdline = g_strdup (cmdline);
}

const char *
pymemd_recorder_state_to_string (PymemdRecorderState state)
{
  switch (state)
    {
    case PYMEMD_RECORDER_OK:
      return "ok";
    case PYMEMD_RECORDER_DEGRADED:
      return "degraded";
    case PYMEMD_RECORDER_DISABLED:
    default:
      return "disabled";
    }
}

/* ---- the worker ---- */

static PymemdHistory *
active_store (PymemdRecorder *self)
{
  return self->file != NULL ? self->file : self->memory;
}

static PymemdRecorderState
worker_state (PymemdRecorder *self)
{
  if (self->path == NULL)
    return PYMEMD_RECORDER_DISABLED;
  return self->file != NULL ? PYMEMD_RECORDER_OK : PYMEMD_RECORDER_DEGRADED;
}

static void
ensure_memory (PymemdRecorder *self)
{
  g_autoptr(GError) error = NULL;

  if (self->memory != NULL)
    return;
  self->memory = pymemd_history_open_in_memory (self->path != NULL ? self->path : "(memory)", &error);
  if (self->memory == NULL)
    g_warning ("History cannot even be kept in memory: %s", error->message);
}

/* STORE (NULL: none) is what the file's history is read from while the
 * file cannot be written, under the in-memory store. */
static void
set_older (PymemdRecorder *self, PymemdHistory *store, PymemdHistoryDamage damage)
{
  if (self->memory != NULL)
    pymemd_history_set_underlay (self->memory, store);
  g_clear_object (&self->older);
  self->older = store;
  self->damage = damage;
}

/* The file cannot be used: history goes to memory until it can be written
 * again, over what the file still gives to read. */
static void
fall_back (PymemdRecorder *self, const GError *error)
{
  g_autoptr(GError) read_error = NULL;

  g_atomic_int_set (&self->file_generation, 0);
  ensure_memory (self);
  if (self->older == NULL)
    {
      PymemdHistory *reader = pymemd_history_open_reader (self->path, &read_error);

      if (reader == NULL)
        g_debug ("History store %s cannot be read either: %s", self->path, read_error->message);
      set_older (self, reader, PYMEMD_HISTORY_SOUND);
    }
  else if (self->memory != NULL)
    pymemd_history_set_underlay (self->memory, self->older);
  self->next_retry = g_get_monotonic_time () + (gint64) (self->settings.retry_seconds * SECOND_US);
  /* Once, not once a tick; and a disk at the edge of full, which flips
   * between the two, not more than once every WARN_PERIOD_US. */
  if (self->warned || (self->warned_at != 0 && g_get_monotonic_time () - self->warned_at < WARN_PERIOD_US))
    {
      g_debug ("History store %s still cannot be used: %s", self->path, error->message);
      return;
    }
  pymemd_log_event (G_LOG_LEVEL_WARNING, PYMEMD_MESSAGE_HISTORY_DEGRADED, 0, NULL,
                    "History store %s cannot be used: %s; keeping history in memory and trying again "
                    "every %g seconds",
                    self->path, error->message, self->settings.retry_seconds);
  self->warned_at = g_get_monotonic_time ();
  self->warned = TRUE;
}

/* The open file failed (ERROR), or a reader found it damaged (REPORTED):
 * its connection stays, only to be read, until it has been saved. */
static void
file_failed (PymemdRecorder *self, PymemdHistoryDamage reported, const GError *error)
{
  PymemdHistoryDamage damage = MAX (pymemd_history_get_damage (self->file), reported);

  pymemd_history_retire (self->file);
  ensure_memory (self);
  set_older (self, g_steal_pointer (&self->file), damage);
  if (damage == PYMEMD_HISTORY_SOUND)
    {
      fall_back (self, error);
      return;
    }
  g_atomic_int_set (&self->file_generation, 0);
  self->next_retry = g_get_monotonic_time () + (gint64) (self->settings.retry_seconds * SECOND_US);
  /* Each damage is said, once: it happens to a file once. */
  if (damage == PYMEMD_HISTORY_MOVED)
    pymemd_log_event (G_LOG_LEVEL_WARNING, PYMEMD_MESSAGE_HISTORY_DEGRADED, 0, NULL,
                      "History store %s was deleted or replaced while in use; keeping history in memory, "
                      "answering from what the file still holds, and saving that into a fresh store in %g seconds",
                      self->path, self->settings.retry_seconds);
  else
    pymemd_log_event (G_LOG_LEVEL_WARNING, PYMEMD_MESSAGE_HISTORY_DEGRADED, 0, NULL,
                      "History store %s is damaged (%s); keeping history in memory, answering from what the "
                      "file still holds, and saving that into a fresh store in %g seconds",
                      self->path, error != NULL ? error->message : "a reader found it corrupt",
                      self->settings.retry_seconds);
  self->warned_at = g_get_monotonic_time ();
  self->warned = TRUE;
}

/* Whether an answer or a write left the open file damaged. */
static void
check_damage (PymemdRecorder *self, const GError *error)
{
  if (self->file != NULL && pymemd_history_get_damage (self->file) != PYMEMD_HISTORY_SOUND)
    file_failed (self, PYMEMD_HISTORY_SOUND, error);
}

/* What can be read of the damaged file goes into the store now at the
 * path (a fresh one, or what replaced the old file there). */
static gboolean
salvage (PymemdRecorder *self, PymemdHistory *file, const char *aside, GError **error)
{
  PymemdHistorySalvage saved = { 0 };

  if (!pymemd_history_salvage (file, self->older, &saved, error))
    return FALSE;
  if (aside != NULL)
    g_message ("History store %s: %llu rows saved from the damaged file into a fresh one, %u damaged "
               "stretches skipped; the damaged file is kept as %s",
               self->path, (unsigned long long) saved.rows, saved.unreadable, aside);
  else
    g_message ("History store %s: %llu rows saved from the file deleted or replaced, %u damaged stretches "
               "skipped",
               self->path, (unsigned long long) saved.rows, saved.unreadable);
  set_older (self, NULL, PYMEMD_HISTORY_SOUND);
  return TRUE;
}

/* Opens the file, saving into it what can be read of a damaged one and
 * what memory holds. */
static void
try_file (PymemdRecorder *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdHistory) file = NULL;
  g_autofree char *aside = NULL;

  if (self->path == NULL || self->file != NULL || g_get_monotonic_time () < self->next_retry)
    return;
  /* Found damaged while it answered. */
  if (self->older != NULL && self->damage == PYMEMD_HISTORY_SOUND)
    self->damage = pymemd_history_get_damage (self->older);
  if (self->damage == PYMEMD_HISTORY_SOUND || pymemd_history_set_aside (self->older, &aside, &error))
    file = pymemd_history_open (self->path, &error);
  if (file != NULL && self->damage != PYMEMD_HISTORY_SOUND && !salvage (self, file, aside, &error))
    g_clear_object (&file);
  if (file != NULL && self->memory != NULL)
    {
      /* The merge writes through a connection of its own; the store is
       * opened again afterwards so that it sees what was merged. */
      g_clear_object (&file);
      if (pymemd_history_merge_into (self->memory, self->path, &error))
        file = pymemd_history_open (self->path, &error);
    }
  if (file == NULL)
    {
      fall_back (self, error);
      return;
    }
  self->file = g_steal_pointer (&file);
  g_clear_object (&self->memory);
  set_older (self, NULL, PYMEMD_HISTORY_SOUND);
  g_atomic_int_set (&self->file_generation, (gint) ++self->file_opens);
  if (self->warned)
    pymemd_log_event (G_LOG_LEVEL_MESSAGE, PYMEMD_MESSAGE_HISTORY_RESTORED, 0, NULL, "History store %s is written again",
                      self->path);
  self->warned = FALSE;
}

static void
run_retention (PymemdRecorder *self, gint64 now)
{
  g_autoptr(GError) error = NULL;
  PymemdHistory *store = active_store (self);
  guint64 max_bytes = self->settings.max_bytes;

  if (store == NULL || g_get_monotonic_time () < self->next_retention)
    return;
  self->next_retention = g_get_monotonic_time () + RETENTION_PERIOD_US;
  if (pymemd_history_is_in_memory (store))
    max_bytes = MIN (max_bytes, MEMORY_MAX_BYTES);
  if (!pymemd_history_enforce_retention (store, now, self->settings.raw_keep_us, self->settings.minute_keep_us,
                                         self->settings.hour_keep_us, max_bytes, &error) &&
      store == self->file)
    file_failed (self, PYMEMD_HISTORY_SOUND, error);
#ifdef __GLIBC__
  /* Retention's deletions leave this thread's malloc arena with free
   * pages that glibc keeps resident unless asked. */
  malloc_trim (0);
#endif
}

/* Once a minute (or a quarter of the window, if shorter): every living
 * process's growth over the window, and the ones past the threshold not
 * reported within the window. */
static void
measure_growth (PymemdRecorder *self, gint64 now, TickResult *result)
{
  g_autoptr(GError) error = NULL;
  PymemdHistory *store = active_store (self);
  const PymemdHistorySettings *s = &self->settings;
  GArray *growth;

  if (store == NULL || now - self->growth_measured < MIN (MINUTE_US, s->growth_window_us / 4))
    return;
  self->growth_measured = now;
  growth = pymemd_history_growth_all (store, s->growth_window_us, now, s->growth_window_us > s->raw_keep_us,
                                      &error);
  if (growth == NULL)
    {
      g_debug ("Growth not measured: %s", error->message);
      check_damage (self, error);
      return;
    }
  result->growth = growth;
  result->alerts = g_array_new (FALSE, FALSE, sizeof (PymemdHistoryGrowth));
  for (guint i = 0; i < growth->len; i++)
    {
      const PymemdHistoryGrowth *g = &g_array_index (growth, PymemdHistoryGrowth, i);
      g_autofree char *key = NULL;
      gint64 *last;

      if (s->growth_threshold <= 0 || g->bytes_per_hour < s->growth_threshold)
        continue;
      key = growth_key (g->pid, g->start_time);
      last = g_hash_table_lookup (self->alerted, key);
      if (last != NULL && now - *last < s->growth_window_us)
        continue;
      g_hash_table_insert (self->alerted, g_steal_pointer (&key), g_memdup2 (&now, sizeof now));
      g_array_append_val (result->alerts, *g);
    }
  /* Forget alerts older than a window: those processes may be reported again. */
  {
    GHashTableIter iter;
    gint64 *last;

    g_hash_table_iter_init (&iter, self->alerted);
    while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &last))
      if (now - *last >= s->growth_window_us)
        g_hash_table_iter_remove (&iter);
  }
}

static gboolean
deliver_tick (gpointer data)
{
  TickResult *result = data;
  PymemdRecorder *self = result->link->recorder;
  gboolean changed;

  if (self == NULL)
    return G_SOURCE_REMOVE;
  changed = self->state != result->state || self->bytes != result->bytes;

  self->state = result->state;
  self->bytes = result->bytes;
  if (result->growth != NULL)
    {
      g_hash_table_remove_all (self->growth);
      for (guint i = 0; i < result->growth->len; i++)
        {
          const PymemdHistoryGrowth *g = &g_array_index (result->growth, PymemdHistoryGrowth, i);
          Growth *cached = g_new (Growth, 1);

          cached->bytes_per_hour = g->bytes_per_hour;
          cached->samples = g->samples;
          g_hash_table_insert (self->growth, growth_key (g->pid, g->start_time), cached);
        }
    }
  if (changed)
    g_signal_emit (self, signals[SIGNAL_STATE_CHANGED], 0);
  for (guint i = 0; result->alerts != NULL && i < result->alerts->len; i++)
    {
      const PymemdHistoryGrowth *g = &g_array_index (result->alerts, PymemdHistoryGrowth, i);

      g_signal_emit (self, signals[SIGNAL_GROWTH_SUSPECTED], 0, (gint) g->pid, g->start_time, g->bytes_per_hour);
    }
  return G_SOURCE_REMOVE;
}

static void
tick_result_free (gpointer data)
{
  TickResult *result = data;

  link_unref (result->link);
  g_clear_pointer (&result->growth, g_array_unref);
  g_clear_pointer (&result->alerts, g_array_unref);
  g_free (result);
}

static void
worker_tick (PymemdRecorder *self, Job *job)
{
  g_autoptr(GError) error = NULL;
  TickResult *result = g_new0 (TickResult, 1);
  PymemdHistory *store;

  g_atomic_int_dec_and_test (&self->pending_ticks);
  try_file (self);
  if (self->file != NULL &&
      !pymemd_history_add_tick (self->file, job->boot_id, job->timestamp,
                                (const PymemdHistoryPoint *) (gpointer) job->points->data, job->points->len, &error))
    {
      file_failed (self, PYMEMD_HISTORY_SOUND, error);
      g_clear_error (&error);
    }
  if (self->file == NULL)
    {
      ensure_memory (self);
      if (self->memory != NULL &&
          !pymemd_history_add_tick (self->memory, job->boot_id, job->timestamp,
                                    (const PymemdHistoryPoint *) (gpointer) job->points->data, job->points->len,
                                    &error))
        g_debug ("In-memory history: %s", error->message);
    }
  run_retention (self, job->timestamp);
  measure_growth (self, job->timestamp, result);

  store = active_store (self);
  result->link = link_ref (self->link);
  result->state = worker_state (self);
  result->bytes = store != NULL && !pymemd_history_is_in_memory (store) ? pymemd_history_get_bytes (store) : 0;
  g_main_context_invoke_full (self->context, G_PRIORITY_DEFAULT, deliver_tick, result, tick_result_free);
}

/* A bucket width for SINCE..UNTIL: at most AUTO_BUCKETS buckets, whole
 * seconds, minutes or hours as the tier needs. */
static gint64
pick_resolution (gint64 since, gint64 until)
{
  gint64 span = MAX (until - since, SECOND_US);
  gint64 res = (span + AUTO_BUCKETS - 1) / AUTO_BUCKETS;
  gint64 unit = res < MINUTE_US ? SECOND_US : res < HOUR_US ? MINUTE_US : HOUR_US;

  return MAX ((res + unit - 1) / unit * unit, SECOND_US);
}

static gboolean
no_store (PymemdHistory *store, GError **error)
{
  if (store != NULL)
    return FALSE;
  g_set_error_literal (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED, _("No history is kept"));
  return TRUE;
}

/* The answers: TRUE when JOB's task has its value; FALSE with ERROR for
 * the caller to return, or to hand the question to the writer when STORE
 * turned out damaged. */
static gboolean
answer_query (PymemdHistory *store, Job *job, GError **error)
{
  g_autoptr(PymemdRecorderHistory) history = g_new0 (PymemdRecorderHistory, 1);
  guint64 start_time = job->start_time;
  gint64 lo, hi;

  if (no_store (store, error) ||
      (start_time == 0 && job->pid != 0 &&
       !pymemd_history_find_latest (store, job->boot_id, job->pid, &start_time, error)) ||
      !pymemd_history_get_process (store, job->boot_id, job->pid, start_time, &history->process, error))
    return FALSE;
  /* The range the process was seen in: what an automatic resolution and
   * the bucket limit are about, not 1970 to now. */
  lo = MAX (job->since, history->process.first_seen - MINUTE_US);
  hi = MIN (job->until, (history->process.ended != 0 ? history->process.ended : g_get_real_time ()) + MINUTE_US);
  hi = MAX (hi, lo + 1);
  history->resolution_us = job->resolution > 0 ? job->resolution : pick_resolution (lo, hi);
  if ((hi - lo) / history->resolution_us > PYMEMD_RECORDER_MAX_BUCKETS)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_LIMIT_EXCEEDED,
                   _("More than %d buckets: ask for a shorter range or a coarser resolution"),
                   PYMEMD_RECORDER_MAX_BUCKETS);
      return FALSE;
    }
  history->tier = pymemd_recorder_tier_for (history->resolution_us);
  history->rows = pymemd_history_query (store, job->boot_id, job->pid, start_time, job->since, job->until,
                                        history->resolution_us, error);
  if (history->rows == NULL)
    return FALSE;
  job_reply (job, g_steal_pointer (&history), (GDestroyNotify) pymemd_recorder_history_free, NULL);
  return TRUE;
}

static gboolean
answer_ended (PymemdHistory *store, Job *job, GError **error)
{
  GArray *ended;

  if (no_store (store, error) || (ended = pymemd_history_list_ended (store, job->since, error)) == NULL)
    return FALSE;
  job_reply (job, ended, (GDestroyNotify) g_array_unref, NULL);
  return TRUE;
}

typedef struct {
  double  bytes_per_hour;
  guint   samples;
  guint32 uid;
  GError *error; /* the slope's, once the process is known */
} GrowthAnswer;

static void
growth_answer_free (GrowthAnswer *answer)
{
  g_clear_error (&answer->error);
  g_free (answer);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GrowthAnswer, growth_answer_free)

static gboolean
answer_growth (PymemdHistory *store, Job *job, GError **error)
{
  g_autoptr(GrowthAnswer) answer = g_new0 (GrowthAnswer, 1);
  guint64 start_time = job->start_time;
  PymemdHistoryProcess process = { 0 };

  if (no_store (store, error) ||
      (start_time == 0 && !pymemd_history_find_latest (store, job->boot_id, job->pid, &start_time, error)) ||
      !pymemd_history_get_process (store, job->boot_id, job->pid, start_time, &process, error))
    return FALSE;
  answer->uid = process.uid;
  pymemd_history_process_clear (&process);
  if (!pymemd_history_growth (store, job->boot_id, job->pid, start_time, job->window, g_get_real_time (),
                              &answer->bytes_per_hour, &answer->samples, &answer->error) &&
      pymemd_history_get_damage (store) != PYMEMD_HISTORY_SOUND)
    {
      /* Not the slope's fault: the store's. */
      g_propagate_error (error, g_steal_pointer (&answer->error));
      return FALSE;
    }
  job_reply (job, g_steal_pointer (&answer), (GDestroyNotify) growth_answer_free, NULL);
  return TRUE;
}

/* Makes room in the waiting list for one more summary of OWNER's: one
 * user's processes can push out only that user's summaries, and all
 * users' together the oldest of all. */
static void
drop_waiting_over_bounds (PymemdRecorder *self, guint32 owner)
{
  GList *oldest_of_owner = NULL;
  guint of_owner = 0;
  GList *drop;
  Job *dropped;

  for (GList *l = self->heap_waiting.head; l != NULL; l = l->next)
    if (((Job *) l->data)->owner == owner && of_owner++ == 0)
      oldest_of_owner = l;
  if (of_owner >= HEAP_WAITING_PER_OWNER)
    drop = oldest_of_owner;
  else if (self->heap_waiting.length >= HEAP_WAITING_MAX)
    drop = self->heap_waiting.head;
  else
    return;
  dropped = drop->data;
  g_queue_delete_link (&self->heap_waiting, drop);
  g_debug ("Heap summary of %d not kept: too many wait for their process's first tick", dropped->pid);
  job_free (dropped);
}

/* Keeps JOB's summary with its process's history. A process the store does
 * not know yet (found at its exec, its first tick still to come) has its
 * summary wait for the ticks that record it: TRUE when JOB was kept for
 * that, and is the waiting list's now. */
static gboolean
worker_add_heap (PymemdRecorder *self, Job *job)
{
  g_autoptr(GError) error = NULL;
  PymemdHistory *store;

  try_file (self);
  if (self->file == NULL)
    ensure_memory (self);
  store = active_store (self);
  if (store == NULL ||
      pymemd_history_add_heap_summary (store, job->boot_id, job->pid, job->start_time, job->timestamp, job->text,
                                       &error))
    return FALSE;
  if (g_error_matches (error, PYMEMD_ERROR, PYMEMD_ERROR_NO_SUCH_PROCESS) &&
      job->ticks_waited < HEAP_WAITING_TICKS)
    {
      drop_waiting_over_bounds (self, job->owner);
      g_queue_push_tail (&self->heap_waiting, job);
      return TRUE;
    }
  g_debug ("Heap summary of %d not kept: %s", job->pid, error->message);
  check_damage (self, error);
  return FALSE;
}

/* After a tick: the summaries that waited for it, again. */
static void
worker_retry_heap (PymemdRecorder *self)
{
  GQueue waiting = self->heap_waiting;

  g_queue_init (&self->heap_waiting);
  while (waiting.length > 0)
    {
      Job *job = g_queue_pop_head (&waiting);

      job->ticks_waited++;
      if (!worker_add_heap (self, job))
        job_free (job);
    }
}

static void
heap_answer_free (PymemdRecorderHeapSummaries *answer)
{
  g_clear_pointer (&answer->summaries, g_ptr_array_unref);
  g_free (answer);
}

static gboolean
answer_heap_list (PymemdHistory *store, Job *job, GError **error)
{
  guint64 start_time = job->start_time;
  PymemdHistoryProcess process = { 0 };
  PymemdRecorderHeapSummaries *answer;
  GPtrArray *summaries;

  if (no_store (store, error) ||
      (start_time == 0 && !pymemd_history_find_latest (store, job->boot_id, job->pid, &start_time, error)) ||
      !pymemd_history_get_process (store, job->boot_id, job->pid, start_time, &process, error))
    return FALSE;
  summaries = pymemd_history_list_heap_summaries (store, job->boot_id, job->pid, start_time, job->since, job->until,
                                                  error);
  if (summaries == NULL)
    {
      pymemd_history_process_clear (&process);
      return FALSE;
    }
  answer = g_new0 (PymemdRecorderHeapSummaries, 1);
  answer->uid = process.uid;
  answer->summaries = summaries;
  pymemd_history_process_clear (&process);
  job_reply (job, answer, (GDestroyNotify) heap_answer_free, NULL);
  return TRUE;
}

static gboolean
answer (PymemdHistory *store, Job *job, GError **error)
{
  switch (job->kind)
    {
    case JOB_QUERY:
      return answer_query (store, job, error);
    case JOB_ENDED:
      return answer_ended (store, job, error);
    case JOB_GROWTH:
      return answer_growth (store, job, error);
    case JOB_HEAP_LIST:
      return answer_heap_list (store, job, error);
    default:
      g_assert_not_reached ();
    }
}

/* A question on the writer: a file found damaged (here, or by the reader
 * that handed the question over) is left for memory over what it still
 * holds, which then answer. */
static void
worker_answer (PymemdRecorder *self, Job *job)
{
  g_autoptr(GError) error = NULL;

  if (job->damage != PYMEMD_HISTORY_SOUND && self->file != NULL && job->generation == (gint) self->file_opens)
    file_failed (self, job->damage, NULL);
  if (answer (active_store (self), job, &error))
    return;
  if (self->file != NULL && pymemd_history_get_damage (self->file) != PYMEMD_HISTORY_SOUND)
    {
      check_damage (self, error);
      g_clear_error (&error);
      if (answer (active_store (self), job, &error))
        return;
    }
  job_reply (job, NULL, NULL, g_steal_pointer (&error));
}

static gpointer
worker_main (gpointer data)
{
  PymemdRecorder *self = data;

  try_file (self);
  if (self->file == NULL)
    ensure_memory (self);
  for (;;)
    {
      Job *job = g_async_queue_pop (self->queue);
      JobKind kind = job->kind;

      switch (kind)
        {
        case JOB_TICK:
          worker_tick (self, job);
          worker_retry_heap (self);
          break;
        case JOB_QUERY:
        case JOB_ENDED:
        case JOB_GROWTH:
        case JOB_HEAP_LIST:
          worker_answer (self, job);
          break;
        case JOB_HEAP_ADD:
          if (worker_add_heap (self, job))
            job = NULL;
          break;
        case JOB_SETTINGS:
          self->settings = job->settings;
          self->next_retention = 0;
          break;
        case JOB_FLUSH:
          g_mutex_lock (job->mutex);
          *job->done = TRUE;
          g_cond_signal (job->cond);
          g_mutex_unlock (job->mutex);
          break;
        case JOB_STOP:
          break;
        }
      g_clear_pointer (&job, job_free);
      if (kind == JOB_STOP)
        break;
    }
  g_queue_clear_full (&self->heap_waiting, (GDestroyNotify) job_free);
  g_clear_object (&self->file);
  g_clear_object (&self->memory);
  g_clear_object (&self->older);
  return NULL;
}

/* ---- the reader: questions on a connection of their own ---- */

/* Questions go to the reader while the writer has the file: they then
 * never wait for a tick, a consolidation or retention. While history is
 * in memory, or the file cannot be read, the writer answers them; a
 * question that finds the file damaged goes to the writer too, with word
 * of the damage. */
static gpointer
reader_main (gpointer data)
{
  PymemdRecorder *self = data;
  g_autoptr(PymemdHistory) reader = NULL;
  gint generation = 0;

  for (;;)
    {
      Job *job = g_async_queue_pop (self->reader_queue);
      gint now_generation = g_atomic_int_get (&self->file_generation);
      g_autoptr(GError) error = NULL;
      gboolean began, answered = FALSE;

      if (job->kind == JOB_STOP)
        {
          job_free (job);
          break;
        }
      if (now_generation != generation)
        {
          g_clear_object (&reader);
          generation = now_generation;
          if (generation != 0)
            {
              reader = pymemd_history_open_reader (self->path, &error);
              if (reader == NULL)
                g_debug ("History reader: %s", error->message);
              g_clear_error (&error);
            }
        }
      began = reader != NULL && pymemd_history_read_begin (reader, &error);
      if (began)
        {
          answered = answer (reader, job, &error);
          pymemd_history_read_end (reader);
        }
      if (!began || (!answered && pymemd_history_get_damage (reader) != PYMEMD_HISTORY_SOUND))
        {
          if (reader != NULL && pymemd_history_get_damage (reader) != PYMEMD_HISTORY_SOUND)
            {
              g_debug ("History reader: %s", error->message);
              job->damage = pymemd_history_get_damage (reader);
              job->generation = generation;
              /* Of no more use. */
              g_clear_object (&reader);
            }
          g_async_queue_push (self->queue, job);
          continue;
        }
      if (!answered)
        job_reply (job, NULL, NULL, g_steal_pointer (&error));
      job_free (job);
    }
  return NULL;
}

/* ---- the main thread ---- */

static void
push (PymemdRecorder *self, Job *job)
{
  g_async_queue_push (self->queue, job);
}

static void
pymemd_recorder_dispose (GObject *object)
{
  PymemdRecorder *self = PYMEMD_RECORDER (object);

  /* The reader first: what it hands to the writer is then answered
   * before the writer stops. */
  if (self->reader_thread != NULL)
    {
      Job *stop = g_new0 (Job, 1);

      stop->kind = JOB_STOP;
      g_async_queue_push (self->reader_queue, stop);
      g_thread_join (g_steal_pointer (&self->reader_thread));
    }
  if (self->thread != NULL)
    {
      Job *stop = g_new0 (Job, 1);

      stop->kind = JOB_STOP;
      push (self, stop);
      g_thread_join (g_steal_pointer (&self->thread));
      self->link->recorder = NULL;
    }
  G_OBJECT_CLASS (pymemd_recorder_parent_class)->dispose (object);
}

static void
pymemd_recorder_finalize (GObject *object)
{
  PymemdRecorder *self = PYMEMD_RECORDER (object);

  g_async_queue_unref (self->queue);
  g_async_queue_unref (self->reader_queue);
  link_unref (self->link);
  g_main_context_unref (self->context);
  g_hash_table_unref (self->growth);
  g_hash_table_unref (self->alerted);
  g_free (self->path);
  G_OBJECT_CLASS (pymemd_recorder_parent_class)->finalize (object);
}

static void
pymemd_recorder_class_init (PymemdRecorderClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pymemd_recorder_dispose;
  object_class->finalize = pymemd_recorder_finalize;
  signals[SIGNAL_STATE_CHANGED] = g_signal_new ("state-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                                NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_GROWTH_SUSPECTED] = g_signal_new ("growth-suspected", G_TYPE_FROM_CLASS (klass),
                                                   G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 3,
                                                   G_TYPE_INT, G_TYPE_UINT64, G_TYPE_DOUBLE);
}

static void
pymemd_recorder_init (PymemdRecorder *self)
{
  self->queue = g_async_queue_new ();
  self->reader_queue = g_async_queue_new ();
  self->link = g_new0 (Link, 1);
  self->link->ref_count = 1;
  self->link->recorder = self;
  self->growth = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->alerted = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

PymemdRecorder *
pymemd_recorder_new (const char *path, const PymemdHistorySettings *settings)
{
  PymemdRecorder *self = g_object_new (PYMEMD_TYPE_RECORDER, NULL);

  g_return_val_if_fail (settings != NULL, NULL);

  self->path = g_strdup (path);
  self->settings = *settings;
  self->context = g_main_context_ref_thread_default ();
  self->state = path != NULL ? PYMEMD_RECORDER_OK : PYMEMD_RECORDER_DISABLED;
  self->thread = g_thread_new ("pymemd-history", worker_main, self);
  self->reader_thread = g_thread_new ("pymemd-hist-rd", reader_main, self);
  return self;
}

void
pymemd_recorder_set_settings (PymemdRecorder *self, const PymemdHistorySettings *settings)
{
  Job *job = g_new0 (Job, 1);

  g_return_if_fail (PYMEMD_IS_RECORDER (self));
  job->kind = JOB_SETTINGS;
  job->settings = *settings;
  push (self, job);
}

void
pymemd_recorder_add_tick (PymemdRecorder *self, const char *boot_id, gint64 timestamp_us, GArray *points)
{
  Job *job;

  g_return_if_fail (PYMEMD_IS_RECORDER (self));

  if (g_atomic_int_get (&self->pending_ticks) >= MAX_PENDING_TICKS)
    {
      if (g_atomic_int_compare_and_exchange (&self->drop_logged, 0, 1))
        g_warning ("History store %s is more than %d ticks behind; dropping ticks until it catches up",
                   self->path != NULL ? self->path : "(memory)", MAX_PENDING_TICKS);
      g_array_unref (points);
      return;
    }
  g_atomic_int_set (&self->drop_logged, 0);
  g_atomic_int_inc (&self->pending_ticks);
  job = g_new0 (Job, 1);
  job->kind = JOB_TICK;
  job->boot_id = g_strdup (boot_id);
  job->timestamp = timestamp_us;
  job->points = points;
  push (self, job);
}

PymemdRecorderState
pymemd_recorder_get_state (PymemdRecorder *self)
{
  g_return_val_if_fail (PYMEMD_IS_RECORDER (self), PYMEMD_RECORDER_DISABLED);
  return self->state;
}

const char *
pymemd_recorder_get_path (PymemdRecorder *self)
{
  g_return_val_if_fail (PYMEMD_IS_RECORDER (self), "");
  return self->path != NULL ? self->path : "";
}

guint64
pymemd_recorder_get_bytes (PymemdRecorder *self)
{
  g_return_val_if_fail (PYMEMD_IS_RECORDER (self), 0);
  return self->bytes;
}

gboolean
pymemd_recorder_lookup_growth (PymemdRecorder *self, gint32 pid, guint64 start_time, double *bytes_per_hour,
                               guint *samples)
{
  g_autofree char *key = growth_key (pid, start_time);
  Growth *growth = g_hash_table_lookup (self->growth, key);

  if (growth == NULL)
    return FALSE;
  if (bytes_per_hour != NULL)
    *bytes_per_hour = growth->bytes_per_hour;
  if (samples != NULL)
    *samples = growth->samples;
  return TRUE;
}

const char *
pymemd_recorder_tier_for (gint64 resolution_us)
{
  return resolution_us < MINUTE_US ? "raw" : resolution_us < HOUR_US ? "minute" : "hour";
}

void
pymemd_recorder_history_free (PymemdRecorderHistory *history)
{
  pymemd_history_process_clear (&history->process);
  g_clear_pointer (&history->rows, g_array_unref);
  g_free (history);
}

static Job *
question (PymemdRecorder *self, JobKind kind, gpointer tag, GAsyncReadyCallback callback, gpointer user_data)
{
  Job *job = g_new0 (Job, 1);

  job->kind = kind;
  job->task = g_task_new (self, NULL, callback, user_data);
  g_task_set_source_tag (job->task, tag);
  return job;
}

void
pymemd_recorder_query_async (PymemdRecorder     *self,
                             const char         *boot_id,
                             gint32              pid,
                             guint64             start_time,
                             gint64              since_us,
                             gint64              until_us,
                             gint64              resolution_us,
                             GAsyncReadyCallback callback,
                             gpointer            user_data)
{
  Job *job;

  g_return_if_fail (PYMEMD_IS_RECORDER (self));
  job = question (self, JOB_QUERY, pymemd_recorder_query_async, callback, user_data);
  job->boot_id = g_strdup (boot_id);
  job->pid = pid;
  job->start_time = start_time;
  job->since = since_us;
  job->until = until_us;
  job->resolution = resolution_us;
  g_async_queue_push (self->reader_queue, job);
}

PymemdRecorderHistory *
pymemd_recorder_query_finish (PymemdRecorder *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
pymemd_recorder_list_ended_async (PymemdRecorder *self, gint64 since_us, GAsyncReadyCallback callback,
                                  gpointer user_data)
{
  Job *job;

  g_return_if_fail (PYMEMD_IS_RECORDER (self));
  job = question (self, JOB_ENDED, pymemd_recorder_list_ended_async, callback, user_data);
  job->since = since_us;
  g_async_queue_push (self->reader_queue, job);
}

GArray *
pymemd_recorder_list_ended_finish (PymemdRecorder *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
pymemd_recorder_growth_async (PymemdRecorder     *self,
                              const char         *boot_id,
                              gint32              pid,
                              guint64             start_time,
                              gint64              window_us,
                              GAsyncReadyCallback callback,
                              gpointer            user_data)
{
  Job *job;

  g_return_if_fail (PYMEMD_IS_RECORDER (self));
  job = question (self, JOB_GROWTH, pymemd_recorder_growth_async, callback, user_data);
  job->boot_id = g_strdup (boot_id);
  job->pid = pid;
  job->start_time = start_time;
  job->window = window_us;
  g_async_queue_push (self->reader_queue, job);
}

gboolean
pymemd_recorder_growth_finish (PymemdRecorder *self,
                               GAsyncResult   *result,
                               double         *bytes_per_hour,
                               guint          *samples,
                               guint          *uid,
                               GError        **growth_error,
                               GError        **error)
{
  GrowthAnswer *answer;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  answer = g_task_propagate_pointer (G_TASK (result), error);
  if (answer == NULL)
    return FALSE;
  *bytes_per_hour = answer->bytes_per_hour;
  *samples = answer->samples;
  *uid = answer->uid;
  if (answer->error != NULL)
    g_propagate_error (growth_error, g_steal_pointer (&answer->error));
  growth_answer_free (answer);
  return TRUE;
}

void
pymemd_recorder_flush (PymemdRecorder *self)
{
  GMutex mutex;
  GCond cond;
  gboolean done = FALSE;
  Job *job = g_new0 (Job, 1);

  g_return_if_fail (PYMEMD_IS_RECORDER (self));
  g_mutex_init (&mutex);
  g_cond_init (&cond);
  job->kind = JOB_FLUSH;
  job->mutex = &mutex;
  job->cond = &cond;
  job->done = &done;
  g_mutex_lock (&mutex);
  push (self, job);
  while (!done)
    g_cond_wait (&cond, &mutex);
  g_mutex_unlock (&mutex);
  g_mutex_clear (&mutex);
  g_cond_clear (&cond);
  /* What the worker delivered to this thread's context, delivered now. */
  while (g_main_context_iteration (self->context, FALSE))
    ;
}

void
pymemd_recorder_add_heap_summary (PymemdRecorder *self,
                                  const char     *boot_id,
                                  gint32          pid,
                                  guint64         start_time,
                                  gint64          timestamp_us,
                                  guint32         owner,
                                  const char     *summary)
{
  Job *job;

  g_return_if_fail (PYMEMD_IS_RECORDER (self));
  job = g_new0 (Job, 1);
  job->kind = JOB_HEAP_ADD;
  job->boot_id = g_strdup (boot_id);
  job->pid = pid;
  job->start_time = start_time;
  job->timestamp = timestamp_us;
  job->owner = owner;
  job->text = g_strdup (summary);
  push (self, job);
}

void
pymemd_recorder_list_heap_summaries_async (PymemdRecorder     *self,
                                           const char         *boot_id,
                                           gint32              pid,
                                           guint64             start_time,
                                           gint64              since_us,
                                           gint64              until_us,
                                           GAsyncReadyCallback callback,
                                           gpointer            user_data)
{
  Job *job;

  g_return_if_fail (PYMEMD_IS_RECORDER (self));
  job = question (self, JOB_HEAP_LIST, pymemd_recorder_list_heap_summaries_async, callback, user_data);
  job->boot_id = g_strdup (boot_id);
  job->pid = pid;
  job->start_time = start_time;
  job->since = since_us;
  job->until = until_us;
  g_async_queue_push (self->reader_queue, job);
}

PymemdRecorderHeapSummaries *
pymemd_recorder_list_heap_summaries_finish (PymemdRecorder *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
pymemd_recorder_heap_summaries_free (PymemdRecorderHeapSummaries *answer)
{
  heap_answer_free (answer);
}
