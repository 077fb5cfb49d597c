/* Schedules the scanner's passes and looks at processes on a worker thread and swaps in what they find on the main loop; it does no accounting itself. */
#include "config.h"

#include <sys/resource.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "pymemd-monitor.h"
#include "pymemd-pidfiles.h"
#include "pymemd-proc-events.h"

/* With process events, /proc is still listed this often: a safety net
 * for what events cannot show (a program that loads libpython long after
 * its exec) and for a kernel that drops events without saying so. */
#define LISTING_INTERVAL_US (60 * G_USEC_PER_SEC)
/* Pids waiting to be looked at; more, and the events are dropped for one
 * listing of /proc on the next tick. */
#define MAX_PENDING 1024
/* Pids looked at in one main loop iteration (the bus is served between),
 * and in one second at most: a storm of execs (a fork bomb, a parallel
 * build) costs a bounded part of one CPU (each look costs 0.1-0.5 ms). */
#define EXAMS_PER_ITERATION 32
#define EXAMS_PER_SECOND 500
/* A batch of looks on the worker stops after this much time (µs), the
 * rest waiting for the next: ticks queued behind it wait no longer. */
#define LOOKS_BUDGET_US (20 * 1000)
/* A process whose exec showed no interpreter is looked at once more this
 * much later (ms), in case it loads libpython itself soon. Once only: on
 * a host running many short programs (a build) every look counts. A
 * forked child of an interpreter is looked at after FORK_LOOK_MS: most
 * run exec at once, and then are not interpreters. */
#define EXEC_RECHECK_MS 20
#define FORK_LOOK_MS 50
/* A program that links libpython (pyenv's shared builds, embedding
 * programs) is an interpreter only once its dynamic loader has mapped
 * libpython, after the exec: a few ms on an idle host, seconds on a
 * loaded one. It is looked at again LOADER_FIRST_MS later, twice as late
 * each time up to LOADER_MAX_MS apart, LOADER_LOOKS times at most (about
 * 12 s), until it is found, exits or runs exec again; after that the
 * listing of /proc looks at it every time. */
#define LOADER_FIRST_MS 2
#define LOADER_MAX_MS 1000
#define LOADER_LOOKS 20

struct _PymemdMonitor
{
  GObject        parent_instance;
  PymemdScanner *scanner;
  PymemdMonitorSettings settings;
  gint64         owner;
  GPtrArray     *processes;
  guint          tick_source;
  guint          detail_source;
  gint64         last_full_scan;     /* monotonic µs when the last full pass ended */
  gint64         last_full_duration; /* ... and how long it took */
  GPtrArray     *rescans;            /* GTask of callers waiting for the next full pass */
  guint          rescan_source;      /* that pass, due */
  PymemdMonitorStatistics statistics; /* the scan counts and durations */
  PymemdProcEvents *events;          /* NULL: listing /proc on every tick */
  char          *events_reason;      /* why not, the last said */
  GHashTable    *pending;            /* pid -> the recheck it is at, to look at now */
  GQueue         order;              /* ... oldest first (pids gone from pending skipped) */
  gint64         window_start;       /* monotonic µs: the second EXAMS_PER_SECOND counts */
  guint          window_exams;
  GHashTable    *delayed;            /* pid -> Recheck, to look at later */
  guint          pending_source;
  guint          delayed_source;
  gint64         delayed_due;        /* when it fires */
  gboolean       listing_due;        /* events were lost: list on the next tick */
  gboolean       changes_missed;     /* events were lost, dropped or not heard
                                        before: the next pass reads every
                                        process's status */
  gboolean       overflowed;         /* too many waited: none kept until that listing */
  gint64         last_listing;       /* monotonic µs */

  /* A scan runs on a worker thread; while it does, the scanner and the
   * processes it keeps are the worker's, and the main loop touches
   * neither: it serves the last scan's snapshots. */
  gboolean       scanning;
  GCancellable  *cancellable;        /* cancelled when the monitor goes: drop the pass */
  PymemdScanFlags queued;            /* passes asked for meanwhile, run next */
  GArray        *held_events;        /* process events heard meanwhile */
  gboolean       held_lost;          /* ... and the kernel said it dropped some */
  gboolean       budget_due;         /* new settings' budget, for the scanner once idle */
  PymemdPythonSet python_set;        /* the last exact pass's, as published */
  gboolean       has_python_set;
  GError        *exact_error;        /* why the exact pass cannot run, as published */
};

/* What a scan on the worker gives back to the main loop. */
typedef struct {
  PymemdScanner  *scanner;    /* kept by the pass: the monitor may go first */
  PymemdScanFlags flags;
  gint64          start;      /* monotonic µs */
  gint64          duration;   /* µs */
  GPtrArray      *snapshots;  /* the interpreters with a sample, as the scan left them */
  GPtrArray      *answered;   /* GTask of rescan callers this pass answers */
  GError         *error;
} ScanJob;

typedef struct {
  guint  attempt; /* 0: the look at the exec; more: later ones */
  gint64 due;     /* monotonic µs */
} Recheck;

enum { SIGNAL_SCANNED, SIGNAL_PROCESSES_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (PymemdMonitor, pymemd_monitor, G_TYPE_OBJECT)

static void
stop_timers (PymemdMonitor *self)
{
  g_clear_handle_id (&self->tick_source, g_source_remove);
  g_clear_handle_id (&self->detail_source, g_source_remove);
}

static void
pymemd_monitor_finalize (GObject *object)
{
  PymemdMonitor *self = PYMEMD_MONITOR (object);

  stop_timers (self);
  g_cancellable_cancel (self->cancellable);
  g_object_unref (self->cancellable);
  g_clear_handle_id (&self->rescan_source, g_source_remove);
  g_clear_handle_id (&self->pending_source, g_source_remove);
  g_clear_handle_id (&self->delayed_source, g_source_remove);
  g_clear_object (&self->events);
  g_free (self->events_reason);
  g_hash_table_unref (self->pending);
  g_queue_clear (&self->order);
  g_hash_table_unref (self->delayed);
  g_ptr_array_unref (self->rescans); /* empty: each task holds the monitor */
  g_clear_pointer (&self->processes, g_ptr_array_unref);
  g_array_unref (self->held_events);
  g_clear_error (&self->exact_error);
  g_object_unref (self->scanner);
  G_OBJECT_CLASS (pymemd_monitor_parent_class)->finalize (object);
}

static void
pymemd_monitor_class_init (PymemdMonitorClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pymemd_monitor_finalize;
  signals[SIGNAL_SCANNED] = g_signal_new ("scanned", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_BOOLEAN);
  /* Interpreters came or went between ticks (process events). */
  signals[SIGNAL_PROCESSES_CHANGED] = g_signal_new ("processes-changed", G_TYPE_FROM_CLASS (klass),
                                                    G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                                    G_TYPE_NONE, 0);
}

static void
pymemd_monitor_init (PymemdMonitor *self)
{
  self->processes = g_ptr_array_new_with_free_func (g_object_unref);
  self->rescans = g_ptr_array_new_with_free_func (g_object_unref);
  self->statistics.started_at = g_get_real_time ();
  self->pending = g_hash_table_new (NULL, NULL);
  self->delayed = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  self->held_events = g_array_new (FALSE, FALSE, sizeof (PymemdProcEvent));
  self->cancellable = g_cancellable_new ();
}

PymemdMonitor *
pymemd_monitor_new (PymemdProcfs *procfs, const PymemdMonitorSettings *settings, gint64 owner, GError **error)
{
  g_autoptr(PymemdMonitor) self = g_object_new (PYMEMD_TYPE_MONITOR, NULL);

  self->scanner = pymemd_scanner_new (procfs, error);
  if (self->scanner == NULL)
    return NULL;
  self->owner = owner;
  pymemd_scanner_set_owner (self->scanner, owner);
  pymemd_monitor_set_settings (self, settings);
  return g_steal_pointer (&self);
}

static void
scan_job_free (ScanJob *job)
{
  g_clear_object (&job->scanner);
  g_clear_pointer (&job->snapshots, g_ptr_array_unref);
  g_clear_pointer (&job->answered, g_ptr_array_unref);
  g_clear_error (&job->error);
  g_free (job);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScanJob, scan_job_free)

/* Copies of the scanner's processes with a sample, for the main loop. */
static GPtrArray *
take_snapshots (PymemdScanner *scanner)
{
  g_autoptr(GPtrArray) processes = pymemd_scanner_get_processes (scanner);
  GPtrArray *snapshots = g_ptr_array_new_full (processes->len, g_object_unref);

  for (guint i = 0; i < processes->len; i++)
    g_ptr_array_add (snapshots, pymemd_process_snapshot (g_ptr_array_index (processes, i)));
  return snapshots;
}

/* The scan itself, on the worker (or, the first, on the main loop before
 * anything else runs): the scanner's own state is touched by nobody else
 * meanwhile. */
static void
run_scan (PymemdScanner *scanner, ScanJob *job)
{
  job->start = g_get_monotonic_time ();
  if (!pymemd_scanner_scan (scanner, job->flags, &job->error))
    g_prefix_error (&job->error, "Scan failed: ");
  job->snapshots = take_snapshots (scanner);
  job->duration = g_get_monotonic_time () - job->start;
}

static void
scan_in_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  ScanJob *job = data;

  run_scan (job->scanner, job);
  g_task_return_boolean (task, TRUE);
}

static void process_held_events (PymemdMonitor *self);
static void schedule_pending (PymemdMonitor *self, guint delay_ms);
static void scan (PymemdMonitor *self, PymemdScanFlags flags);

/* The worker's job (a pass or looks) is done: the scanner is the main
 * loop's again, and new settings' budget reaches it. */
static void
worker_idle (PymemdMonitor *self)
{
  self->scanning = FALSE;
  if (self->budget_due)
    {
      pymemd_scanner_set_budget (self->scanner, &self->settings.budget);
      self->budget_due = FALSE;
    }
}

/* What waited for the worker: events first, then the looks, then a pass
 * asked for. */
static void
after_worker (PymemdMonitor *self)
{
  process_held_events (self);
  schedule_pending (self, 0);
  if (self->queued != 0)
    {
      PymemdScanFlags queued = self->queued;

      self->queued = 0;
      scan (self, queued);
    }
}

/* Back on the main loop: the pass's snapshot replaces the last one. */
static void
publish (PymemdMonitor *self, ScanJob *job)
{
  gboolean full = (job->flags & PYMEMD_SCAN_DETAIL) != 0;
  const PymemdPythonSet *python_set;

  worker_idle (self);
  if (job->error != NULL)
    g_warning ("%s", job->error->message); /* the snapshot keeps the last figures */
  g_clear_pointer (&self->processes, g_ptr_array_unref);
  self->processes = g_steal_pointer (&job->snapshots);
  python_set = pymemd_scanner_get_python_set (self->scanner);
  self->has_python_set = python_set != NULL;
  if (python_set != NULL)
    self->python_set = *python_set;
  g_clear_error (&self->exact_error);
  if (pymemd_scanner_get_exact_error (self->scanner) != NULL)
    self->exact_error = g_error_copy (pymemd_scanner_get_exact_error (self->scanner));
  self->statistics.last_scan_us = job->duration;
  self->statistics.scan_us += job->duration;
  self->statistics.scans++;
  if (full)
    {
      self->last_full_scan = job->start + job->duration;
      self->last_full_duration = job->duration;
      self->statistics.last_full_scan_us = job->duration;
      self->statistics.full_scans++;
    }
  g_signal_emit (self, signals[SIGNAL_SCANNED], 0, full);
  for (guint i = 0; job->answered != NULL && i < job->answered->len; i++)
    g_task_return_boolean (g_ptr_array_index (job->answered, i), TRUE);
  after_worker (self);
}

static void
on_scan_done (GObject *source, GAsyncResult *result, gpointer data)
{
  /* The monitor was finalized meanwhile (on this thread): the pass is
   * nobody's. */
  if (g_cancellable_is_cancelled (g_task_get_cancellable (G_TASK (result))))
    return;
  publish (data, g_task_get_task_data (G_TASK (result)));
}

/* Starts a pass of FLAGS on the worker; one asked for while another runs
 * runs after it (passes asked for meanwhile merge into one). With SYNC,
 * runs it here and now (the first pass, before the main loop). */
static void
scan_full (PymemdMonitor *self, PymemdScanFlags flags, gboolean sync)
{
  g_autoptr(ScanJob) job = g_new0 (ScanJob, 1);
  g_autoptr(GTask) task = NULL;
  gint64 start = g_get_monotonic_time ();

  if (self->scanning)
    {
      self->queued |= flags;
      return;
    }
  /* Events find new interpreters: /proc is listed only now and then. */
  if (self->events != NULL && !self->listing_due && self->last_listing != 0 &&
      start - self->last_listing < LISTING_INTERVAL_US)
    flags |= PYMEMD_SCAN_KNOWN_ONLY;
  if (self->events != NULL)
    flags |= PYMEMD_SCAN_HEARD;
  if (self->changes_missed)
    {
      pymemd_scanner_note_change (self->scanner, 0);
      self->changes_missed = FALSE;
    }
  if (!(flags & PYMEMD_SCAN_KNOWN_ONLY))
    {
      self->listing_due = FALSE;
      self->overflowed = FALSE;
      self->last_listing = start;
      self->statistics.listings++;
    }
  job->flags = flags;
  /* Whoever asked before a full pass begins is answered by it, whichever
   * timer or caller started it. */
  if (flags & PYMEMD_SCAN_DETAIL)
    {
      job->answered = g_steal_pointer (&self->rescans);
      self->rescans = g_ptr_array_new_with_free_func (g_object_unref);
      g_clear_handle_id (&self->rescan_source, g_source_remove);
    }
  /* Which processes /proc hides from whom is the service's to read (its
   * callers' access), so it is read here, not on the worker. */
  pymemd_scanner_refresh_visibility (self->scanner);
  self->scanning = TRUE;
  if (sync)
    {
      run_scan (self->scanner, job);
      publish (self, job);
      return;
    }
  /* The task holds no reference to the monitor: one dropped by its owner
   * stops ticking at once, and the worker's pass, done, is dropped. */
  job->scanner = g_object_ref (self->scanner);
  task = g_task_new (NULL, self->cancellable, on_scan_done, self);
  g_task_set_source_tag (task, scan_full);
  g_task_set_task_data (task, g_steal_pointer (&job), (GDestroyNotify) scan_job_free);
  g_task_run_in_thread (task, scan_in_thread);
}

static void
scan (PymemdMonitor *self, PymemdScanFlags flags)
{
  scan_full (self, flags, FALSE);
}

/* ---- process events ---- */

static gboolean process_pending (gpointer data);

static void
schedule_pending (PymemdMonitor *self, guint delay_ms)
{
  /* Only pids that exited before their turn are left in the queue. */
  if (g_hash_table_size (self->pending) == 0)
    g_queue_clear (&self->order);
  if (self->pending_source == 0 && g_hash_table_size (self->pending) > 0)
    self->pending_source = g_timeout_add (delay_ms, process_pending, self);
}

static void
clear_pending (PymemdMonitor *self)
{
  g_hash_table_remove_all (self->pending);
  g_queue_clear (&self->order);
}

/* Too much at once: what waits is dropped for one listing of /proc on
 * the next tick, and nothing more is kept until then. */
static void
overflow (PymemdMonitor *self)
{
  clear_pending (self);
  g_hash_table_remove_all (self->delayed);
  g_clear_handle_id (&self->delayed_source, g_source_remove);
  self->listing_due = TRUE;
  self->overflowed = TRUE;
  /* Dropped events may have said that ids or names changed. */
  self->changes_missed = TRUE;
  self->statistics.event_overflows++;
}

static void
add_pending (PymemdMonitor *self, int pid, guint attempt)
{
  if (self->overflowed)
    return; /* the listing will see it */
  /* The queue may also hold pids that left pending (they exited). */
  if (g_hash_table_size (self->pending) >= MAX_PENDING || self->order.length >= 2 * MAX_PENDING)
    {
      overflow (self);
      return;
    }
  if (!g_hash_table_contains (self->pending, GINT_TO_POINTER (pid)))
    g_queue_push_tail (&self->order, GINT_TO_POINTER (pid));
  g_hash_table_insert (self->pending, GINT_TO_POINTER (pid), GUINT_TO_POINTER (attempt));
}

static gboolean on_delayed (gpointer data);

static void
arm_delayed (PymemdMonitor *self)
{
  gint64 now = g_get_monotonic_time (), first = G_MAXINT64;
  GHashTableIter iter;
  gpointer value;

  g_clear_handle_id (&self->delayed_source, g_source_remove);
  g_hash_table_iter_init (&iter, self->delayed);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    first = MIN (first, ((Recheck *) value)->due);
  if (first == G_MAXINT64)
    return;
  self->delayed_due = first;
  self->delayed_source = g_timeout_add ((guint) ((MAX (first - now, 0) + 999) / 1000), on_delayed,
                                        self);
}

static void
add_delayed (PymemdMonitor *self, int pid, guint attempt, guint delay_ms)
{
  Recheck *recheck;

  if (self->overflowed)
    return;
  if (g_hash_table_size (self->delayed) >= MAX_PENDING)
    {
      overflow (self);
      return;
    }
  recheck = g_new (Recheck, 1);
  recheck->attempt = attempt;
  recheck->due = g_get_monotonic_time () + delay_ms * 1000;
  g_hash_table_replace (self->delayed, GINT_TO_POINTER (pid), recheck);
  /* The timer is for the earliest; the others wait for it to re-arm. */
  if (self->delayed_source == 0 || recheck->due < self->delayed_due)
    {
      g_clear_handle_id (&self->delayed_source, g_source_remove);
      self->delayed_due = recheck->due;
      self->delayed_source = g_timeout_add (delay_ms, on_delayed, self);
    }
}

static gboolean
on_delayed (gpointer data)
{
  PymemdMonitor *self = data;
  gint64 now = g_get_monotonic_time ();
  GHashTableIter iter;
  gpointer key, value;

  self->delayed_source = 0;
  g_hash_table_iter_init (&iter, self->delayed);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (((Recheck *) value)->due <= now + 500)
      {
        guint attempt = ((Recheck *) value)->attempt;
        g_hash_table_iter_remove (&iter);
        add_pending (self, GPOINTER_TO_INT (key), attempt);
        if (self->overflowed)
          return G_SOURCE_REMOVE; /* overflow emptied the table */
      }
  schedule_pending (self, 0);
  arm_delayed (self);
  return G_SOURCE_REMOVE;
}

/* One look at a pid, on the worker, and what came of it. */
typedef struct {
  int      pid;
  guint    attempt;
  gboolean others;         /* a process that is no interpreter (yet) */
  gboolean awaits_loader;  /* ... whose loader may map libpython yet */
} Look;

/* Looks taken to the worker together. */
typedef struct {
  PymemdScanner *scanner;  /* kept by the job: the monitor may go first */
  GArray        *looks;    /* Look; those not reached come back unlooked */
  guint          done;     /* how many of them were looked at */
  gboolean       changed;  /* the scanner's interpreters changed */
  GPtrArray     *snapshots; /* then, its processes as they are */
} LookJob;

static void
look_job_free (LookJob *job)
{
  g_clear_object (&job->scanner);
  g_clear_pointer (&job->looks, g_array_unref);
  g_clear_pointer (&job->snapshots, g_ptr_array_unref);
  g_free (job);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LookJob, look_job_free)

/* On the worker: the job's looks in order, until LOOKS_BUDGET_US is spent
 * (one look may cost far more than most: a process with a long maps file
 * whose mapped files are all new). */
static void
look_in_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  LookJob *job = data;
  g_autoptr(GArray) others = g_array_new (FALSE, FALSE, sizeof (int));
  gint64 start = g_get_monotonic_time ();

  for (; job->done < job->looks->len; job->done++)
    {
      Look *look = &g_array_index (job->looks, Look, job->done);

      if (job->done > 0 && g_get_monotonic_time () - start >= LOOKS_BUDGET_US)
        break;
      g_array_set_size (others, 0);
      if (pymemd_scanner_examine_pids (job->scanner, &look->pid, 1, others))
        job->changed = TRUE;
      look->others = others->len > 0;
      look->awaits_loader = look->others && pymemd_scanner_awaits_loader (job->scanner, look->pid);
    }
  if (job->changed)
    job->snapshots = take_snapshots (job->scanner);
  g_task_return_boolean (task, TRUE);
}

/* Back on the main loop: what the looks found, the looks they ask for,
 * and what waited for the worker meanwhile. */
static void
on_looks_done (GObject *source, GAsyncResult *result, gpointer data)
{
  PymemdMonitor *self = data;
  LookJob *job;

  if (g_cancellable_is_cancelled (g_task_get_cancellable (G_TASK (result))))
    return; /* the monitor is gone */
  job = g_task_get_task_data (G_TASK (result));
  worker_idle (self);
  for (guint i = 0; i < job->looks->len; i++)
    {
      const Look *look = &g_array_index (job->looks, Look, i);

      if (i >= job->done)
        {
          /* Not reached: first in line again, unless heard of since or
           * left to the listing an overflow asked for. */
          if (!self->overflowed && !g_hash_table_contains (self->pending, GINT_TO_POINTER (look->pid)))
            {
              g_hash_table_insert (self->pending, GINT_TO_POINTER (look->pid), GUINT_TO_POINTER (look->attempt));
              g_queue_push_head (&self->order, GINT_TO_POINTER (look->pid));
            }
          continue;
        }
      if (look->awaits_loader)
        {
          if (look->attempt < LOADER_LOOKS)
            add_delayed (self, look->pid, look->attempt + 1,
                         MIN ((guint) LOADER_FIRST_MS << MIN (look->attempt, 16u), (guint) LOADER_MAX_MS));
        }
      else if (look->others && look->attempt == 0)
        add_delayed (self, look->pid, 1, EXEC_RECHECK_MS);
    }
  if (job->changed)
    {
      g_clear_pointer (&self->processes, g_ptr_array_unref);
      self->processes = g_steal_pointer (&job->snapshots);
      g_signal_emit (self, signals[SIGNAL_PROCESSES_CHANGED], 0);
    }
  after_worker (self);
}

/* Takes the pending pids, oldest first, EXAMS_PER_ITERATION at a time and
 * EXAMS_PER_SECOND a second, to the worker: a look reads the process's
 * maps and checks the files it maps, whose cost its owner chooses, and
 * the bus is never kept waiting for it. A pass asked for meanwhile runs
 * after the looks, and looks wait for a pass. */
static gboolean
process_pending (gpointer data)
{
  PymemdMonitor *self = data;
  g_autoptr(LookJob) job = NULL;
  g_autoptr(GTask) task = NULL;
  gint64 now = g_get_monotonic_time ();

  self->pending_source = 0;
  /* The scanner is the worker's until its pass is published, which
   * looks at the pending pids then. */
  if (self->scanning)
    return G_SOURCE_REMOVE;
  if (now - self->window_start >= G_USEC_PER_SEC)
    {
      self->window_start = now;
      self->window_exams = 0;
    }
  job = g_new0 (LookJob, 1);
  job->looks = g_array_new (FALSE, FALSE, sizeof (Look));
  while (job->looks->len < EXAMS_PER_ITERATION && self->window_exams < EXAMS_PER_SECOND &&
         !g_queue_is_empty (&self->order))
    {
      Look look = { .pid = GPOINTER_TO_INT (g_queue_pop_head (&self->order)) };
      gpointer value;

      if (!g_hash_table_lookup_extended (self->pending, GINT_TO_POINTER (look.pid), NULL, &value))
        continue;
      look.attempt = GPOINTER_TO_UINT (value);
      g_hash_table_remove (self->pending, GINT_TO_POINTER (look.pid));
      g_array_append_val (job->looks, look);
      self->window_exams++;
    }
  if (job->looks->len == 0)
    {
      if (self->window_exams >= EXAMS_PER_SECOND)
        schedule_pending (self, (guint) ((self->window_start + G_USEC_PER_SEC - now + 999) / 1000));
      else
        schedule_pending (self, 0);
      return G_SOURCE_REMOVE;
    }
  self->scanning = TRUE;
  job->scanner = g_object_ref (self->scanner);
  task = g_task_new (NULL, self->cancellable, on_looks_done, self);
  g_task_set_source_tag (task, process_pending);
  g_task_set_task_data (task, g_steal_pointer (&job), (GDestroyNotify) look_job_free);
  g_task_run_in_thread (task, look_in_thread);
  return G_SOURCE_REMOVE;
}

static void handle_events (PymemdMonitor *self, const PymemdProcEvent *events, guint n_events, gboolean lost);

static void
on_proc_events (const PymemdProcEvent *events, guint n_events, gboolean lost, gpointer data)
{
  PymemdMonitor *self = data;

  self->statistics.events += n_events;
  if (!self->scanning)
    {
      handle_events (self, events, n_events, lost);
      return;
    }
  /* Events ask the scanner what it knows: they wait for the worker's
   * pass, as many as the pids looked at would; more, and the next tick
   * lists /proc instead. */
  self->held_lost |= lost;
  if (self->held_events->len + n_events > MAX_PENDING)
    {
      g_array_set_size (self->held_events, 0);
      self->held_lost = FALSE;
      overflow (self);
      return;
    }
  g_array_append_vals (self->held_events, events, n_events);
}

static void
process_held_events (PymemdMonitor *self)
{
  g_autoptr(GArray) held = g_steal_pointer (&self->held_events);
  gboolean lost = self->held_lost;

  self->held_events = g_array_new (FALSE, FALSE, sizeof (PymemdProcEvent));
  self->held_lost = FALSE;
  if (held->len > 0 || lost)
    handle_events (self, (const PymemdProcEvent *) (gpointer) held->data, held->len, lost);
}

static void
handle_events (PymemdMonitor *self, const PymemdProcEvent *events, guint n_events, gboolean lost)
{
  if (lost)
    {
      /* What we missed only a listing can show; once, on the next tick.
       * What was heard still holds: the looks it asked for (a program
       * whose loader has yet to map libpython) go on, as the listing
       * would look at such a process only once. */
      self->statistics.event_losses++;
      self->listing_due = TRUE;
      /* ... and which of the processes known changed ids or name. */
      self->changes_missed = TRUE;
    }
  for (guint i = 0; i < n_events; i++)
    {
      const PymemdProcEvent *event = &events[i];

      switch (event->kind)
        {
        case PYMEMD_PROC_EVENT_EXEC:
          /* Whatever it was, it is looked at afresh (a listing does if
           * the events are dropped). */
          pymemd_scanner_note_exec (self->scanner, event->pid);
          g_hash_table_remove (self->delayed, GINT_TO_POINTER (event->pid));
          add_pending (self, event->pid, 0);
          break;
        case PYMEMD_PROC_EVENT_FORK:
          /* A child of an interpreter is one too, until it runs exec. */
          if (pymemd_scanner_knows_pid (self->scanner, event->parent))
            add_delayed (self, event->pid, 1, FORK_LOOK_MS);
          break;
        case PYMEMD_PROC_EVENT_CHANGE:
          /* Who it runs as, or its name: its next tick reads its status. */
          pymemd_scanner_note_change (self->scanner, event->pid);
          break;
        case PYMEMD_PROC_EVENT_EXIT:
          g_hash_table_remove (self->delayed, GINT_TO_POINTER (event->pid));
          g_hash_table_remove (self->pending, GINT_TO_POINTER (event->pid));
          if (pymemd_scanner_knows_pid (self->scanner, event->pid))
            add_pending (self, event->pid, 1);
          else
            /* A host that runs many short programs would otherwise
             * have them remembered until the next listing. */
            pymemd_scanner_note_exit (self->scanner, event->pid);
          break;
        default:
          break;
        }
    }
  schedule_pending (self, 0);
}

/* Starts or stops hearing process events as the configuration and the
 * host allow; the reason they cannot be used is said once per reason. */
static void
update_events (PymemdMonitor *self)
{
  g_autoptr(GError) error = NULL;
  const char *root = pymemd_procfs_get_root (pymemd_scanner_get_procfs (self->scanner));
  g_autofree char *reason = NULL;
  gboolean was = self->events != NULL;

  if (!self->settings.events)
    reason = g_strdup (_("turned off in the configuration ([monitor] events=false)"));
  else if (g_strcmp0 (root, "/proc") != 0)
    /* The kernel's pids are those of the initial namespace, not of a
     * fixture tree or another procfs. */
    reason = g_strdup_printf (_("processes are read from %s, not /proc"), root);
  else if (self->events == NULL)
    {
      self->events = pymemd_proc_events_new (on_proc_events, self);
      if (!pymemd_proc_events_open (self->events, &error))
        {
          g_clear_object (&self->events);
          reason = g_strdup (error->message);
        }
    }
  if (reason != NULL)
    {
      g_clear_object (&self->events);
      clear_pending (self);
      g_hash_table_remove_all (self->delayed);
      g_clear_handle_id (&self->pending_source, g_source_remove);
      g_clear_handle_id (&self->delayed_source, g_source_remove);
      if (g_strcmp0 (reason, self->events_reason) != 0)
        g_message ("Discovery lists /proc on every tick: process events are not used (%s)",
                   reason);
      g_free (self->events_reason);
      self->events_reason = g_steal_pointer (&reason);
    }
  else if (!was)
    {
      g_clear_pointer (&self->events_reason, g_free);
      /* What changed before they were heard, the next pass reads. */
      self->changes_missed = TRUE;
      g_message ("Discovery hears the kernel's process events; /proc is listed every %d seconds",
                 (int) (LISTING_INTERVAL_US / G_USEC_PER_SEC));
    }
  self->statistics.events_in_use = self->events != NULL;
}

static gboolean
on_tick (gpointer data)
{
  scan (data, PYMEMD_SCAN_ROLLUP);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_detail (gpointer data)
{
  scan (data, PYMEMD_SCAN_ALL);
  return G_SOURCE_CONTINUE;
}

static void
start_timers (PymemdMonitor *self)
{
  guint tick_ms = (guint) (self->settings.interval * 1000);
  guint detail_ms = (guint) (self->settings.detail_interval * 1000);

  stop_timers (self);
  self->tick_source = g_timeout_add (tick_ms, on_tick, self);
  self->detail_source = g_timeout_add (detail_ms, on_detail, self);
}

void
pymemd_monitor_start (PymemdMonitor *self)
{
  /* Subscribed before the first listing: nothing starts unseen between. */
  update_events (self);
  /* The first figures are there before anyone can ask. */
  scan_full (self, PYMEMD_SCAN_ALL, TRUE);
  start_timers (self);
}

static gboolean
on_rescan (gpointer data)
{
  PymemdMonitor *self = data;

  self->rescan_source = 0;
  self->listing_due = TRUE; /* asked for: everything, /proc listed too */
  scan (self, PYMEMD_SCAN_ALL);
  return G_SOURCE_REMOVE;
}

void
pymemd_monitor_rescan_async (PymemdMonitor *self, GAsyncReadyCallback callback, gpointer user_data)
{
  gint64 due, now = g_get_monotonic_time ();
  GTask *task;

  g_return_if_fail (PYMEMD_IS_MONITOR (self));

  task = g_task_new (self, NULL, callback, user_data);
  g_task_set_source_tag (task, pymemd_monitor_rescan_async);
  g_ptr_array_add (self->rescans, task);
  if (self->rescan_source != 0)
    return; /* the pass due answers this caller too */
  due = self->last_full_scan + MAX (G_USEC_PER_SEC, self->last_full_duration);
  /* From the main loop, not here: the callers whose calls are already
   * queued share the pass. */
  self->rescan_source = g_timeout_add ((guint) (MAX (due - now, 0) / 1000), on_rescan, self);
}

gboolean
pymemd_monitor_rescan_finish (PymemdMonitor *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
pymemd_monitor_set_settings (PymemdMonitor *self, const PymemdMonitorSettings *settings)
{
  gboolean running = self->tick_source != 0;

  self->settings = *settings;
  /* A user may spend a detail interval's worth of its share at once (30 s
   * at least): a longer interval does not shrink the share per pass. */
  self->settings.budget.detail_share_burst_us =
    (guint64) ((double) settings->budget.detail_share_us * MAX (settings->detail_interval, PYMEMD_SHARE_BURST_SECONDS));
  /* Not under a pass on the worker: the budget reaches the scanner when it
   * is published. */
  if (self->scanning)
    self->budget_due = TRUE;
  else
    pymemd_scanner_set_budget (self->scanner, &self->settings.budget);
  if (running)
    {
      update_events (self);
      start_timers (self);
    }
}

const PymemdMonitorSettings *
pymemd_monitor_get_settings (PymemdMonitor *self)
{
  return &self->settings;
}

const PymemdPythonSet *
pymemd_monitor_get_python_set (PymemdMonitor *self)
{
  return self->has_python_set ? &self->python_set : NULL;
}

const GError *
pymemd_monitor_get_exact_error (PymemdMonitor *self)
{
  return self->exact_error;
}

PymemdScanner *
pymemd_monitor_get_scanner (PymemdMonitor *self)
{
  return self->scanner;
}

PymemdProcEvents *
pymemd_monitor_get_proc_events (PymemdMonitor *self)
{
  return self->events;
}

GPtrArray *
pymemd_monitor_get_processes (PymemdMonitor *self)
{
  return self->processes;
}

PymemdProcess *
pymemd_monitor_find (PymemdMonitor *self, guint pid)
{
  for (guint i = 0; i < self->processes->len; i++)
    if ((guint) pymemd_process_get_pid (g_ptr_array_index (self->processes, i)) == pid)
      return g_ptr_array_index (self->processes, i);
  return NULL;
}

void
pymemd_monitor_get_statistics (PymemdMonitor *self, PymemdMonitorStatistics *statistics)
{
  struct rusage usage;
  g_autofree char *text = NULL;
  PymemdStatm statm;

  *statistics = self->statistics;
  if (getrusage (RUSAGE_SELF, &usage) == 0)
    statistics->cpu_us = ((gint64) usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * G_USEC_PER_SEC +
                         usage.ru_utime.tv_usec + usage.ru_stime.tv_usec;
  /* The daemon's own process, not one under the procfs root it watches
   * (a fixture tree in the tests). */
  if (g_file_get_contents ("/proc/self/statm", &text, NULL, NULL) && pymemd_statm_parse (text, &statm, NULL))
    statistics->resident = statm.resident * (guint64) sysconf (_SC_PAGESIZE);
}
