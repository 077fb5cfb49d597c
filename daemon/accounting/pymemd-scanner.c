/* Turns discovery results into samples: reads each interpreter's procfs files once per pass and records the figures. */
#include "config.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "pymemd-arenas.h"
#include "pymemd-classify.h"
#include "pymemd-cpu-share.h"
#include "pymemd-error.h"
#include "pymemd-pidfiles.h"
#include "pymemd-scanner.h"
#include "pymemd-smaps.h"

/* smaps_rollup is under 1 KiB today; room for many new fields. */
#define ROLLUP_BUFFER 8192
/* How many of its largest mappings a process keeps between detail passes. */
#define TOP_MAPPINGS 16

struct _PymemdScanner
{
  GObject          parent_instance;
  PymemdProcfs    *procfs;
  PymemdDiscovery *discovery;
  PymemdExact     *exact;
  GError          *exact_error;
  char            *boot_id;
  gint64           timestamp;
  PymemdScanBudget budget;
  guint64          tick;
  gboolean         has_python_set;
  PymemdPythonSet  python_set;
  char            *visibility_error; /* the last one logged */
  GHashTable      *sharers;          /* interpreter path -> SharerDigest, last tick */
  GHashTable      *seen;             /* pids watched at the last scan */
  GHashTable      *changed;          /* pids whose ids or name changed (events) */
  gboolean         all_changed;      /* ... every one's (events were lost) */
  PymemdCpuShare  *detail_share;     /* each uid's share of detail reading */
  PymemdCpuShare  *rollup_share;     /* each uid's share of the ticks' smaps_rollup reads */
};

/* Who runs one interpreter image: how many, and a sum of their identities,
 * so that one starting while another ends in the same tick shows too. */
typedef struct {
  guint64 count;
  guint64 sum;
} SharerDigest;

G_DEFINE_TYPE (PymemdScanner, pymemd_scanner, G_TYPE_OBJECT)

/* What a user may spend of its detail share at once. */
static guint64
share_burst (const PymemdScanBudget *budget)
{
  return budget->detail_share_burst_us > 0 ? budget->detail_share_burst_us
                                            : budget->detail_share_us * PYMEMD_SHARE_BURST_SECONDS;
}

static void
pymemd_scanner_finalize (GObject *object)
{
  PymemdScanner *self = PYMEMD_SCANNER (object);

  g_clear_object (&self->exact);
  g_clear_error (&self->exact_error);
  g_object_unref (self->discovery);
  g_object_unref (self->procfs);
  g_free (self->boot_id);
  g_free (self->visibility_error);
  g_clear_pointer (&self->sharers, g_hash_table_unref);
  g_clear_pointer (&self->seen, g_hash_table_unref);
  g_clear_pointer (&self->changed, g_hash_table_unref);
  g_clear_pointer (&self->detail_share, pymemd_cpu_share_free);
  g_clear_pointer (&self->rollup_share, pymemd_cpu_share_free);
  G_OBJECT_CLASS (pymemd_scanner_parent_class)->finalize (object);
}

static void
pymemd_scanner_class_init (PymemdScannerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pymemd_scanner_finalize;
}

static void
pymemd_scanner_init (PymemdScanner *self)
{
  /* tests/bench/smaps-stall.sh measured the target stalled for the whole
   * read, about 11 ms per GiB resident, for smaps_rollup and smaps alike:
   * see docs/pymemd.8, BUDGETS. */
  self->budget.rollup_max_stall_us = 5000;
  self->budget.detail_max_rss = G_GUINT64_CONSTANT (4) << 30;
  self->budget.detail_max_bytes = G_GUINT64_CONSTANT (256) << 20;
  self->budget.exact_max_mapped = G_GUINT64_CONSTANT (64) << 30;
  self->budget.rollup_refresh_us = 30 * G_USEC_PER_SEC;
  /* A detail read is about 1 ms of CPU for an interpreter with a few
   * hundred mappings; a user's 2.5% of one CPU is 750 ms a 30 s pass. */
  self->budget.detail_max_cpu_us = G_USEC_PER_SEC;
  self->budget.detail_share_us = 25000;
  self->detail_share = pymemd_cpu_share_new (self->budget.detail_share_us, share_burst (&self->budget));
  /* A tick's read costs 0.1-0.5 ms; an interpreter that moves on every
   * tick costs 50-250 µs a second: a user's 10% of one CPU is 400 of them. */
  self->budget.rollup_share_us = 100000;
  self->rollup_share = pymemd_cpu_share_new (self->budget.rollup_share_us,
                                             self->budget.rollup_share_us * PYMEMD_ROLLUP_BURST_SECONDS);
  self->sharers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->seen = g_hash_table_new (NULL, NULL);
  self->changed = g_hash_table_new (NULL, NULL);
}

/* An administrator may remount /proc with other options at any time; the
 * mount namespace the daemon runs in need not hear of it (the unit's is
 * not the host's), so it is read again on every scan. Said once per cause. */
void
pymemd_scanner_refresh_visibility (PymemdScanner *self)
{
  g_autoptr(GError) error = NULL;

  if (pymemd_procfs_refresh_visibility (self->procfs, &error))
    {
      if (self->visibility_error != NULL)
        g_message ("The options of %s can be read again", pymemd_procfs_get_root (self->procfs));
      g_clear_pointer (&self->visibility_error, g_free);
      return;
    }
  if (g_strcmp0 (self->visibility_error, error->message) != 0)
    g_warning ("Cannot tell which processes %s hides from users (%s): other users' processes are "
               "hidden from everyone but root",
               pymemd_procfs_get_root (self->procfs), error->message);
  g_free (self->visibility_error);
  self->visibility_error = g_strdup (error->message);
}

PymemdScanner *
pymemd_scanner_new (PymemdProcfs *procfs, GError **error)
{
  g_autoptr(PymemdScanner) self = g_object_new (PYMEMD_TYPE_SCANNER, NULL);
  g_autoptr(PymemdElfCache) elf_cache = pymemd_elf_cache_new ();

  self->procfs = g_object_ref (procfs);
  self->boot_id = pymemd_procfs_read_boot_id (procfs, error);
  if (self->boot_id == NULL)
    return NULL;
  self->discovery = pymemd_discovery_new (procfs, elf_cache);
  pymemd_scanner_refresh_visibility (self);
  return g_steal_pointer (&self);
}

void
pymemd_scanner_set_look_share (PymemdScanner *self, guint64 us_per_second, guint64 burst_us)
{
  pymemd_discovery_set_look_share (self->discovery, us_per_second, burst_us);
}

void
pymemd_scanner_get_budget (PymemdScanner *self, PymemdScanBudget *budget)
{
  *budget = self->budget;
}

void
pymemd_scanner_set_budget (PymemdScanner *self, const PymemdScanBudget *budget)
{
  if (budget->detail_share_us != self->budget.detail_share_us ||
      budget->detail_share_burst_us != self->budget.detail_share_burst_us)
    pymemd_cpu_share_set (self->detail_share, budget->detail_share_us, share_burst (budget));
  if (budget->rollup_share_us != self->budget.rollup_share_us)
    pymemd_cpu_share_set (self->rollup_share, budget->rollup_share_us,
                          budget->rollup_share_us * PYMEMD_ROLLUP_BURST_SECONDS);
  self->budget = *budget;
}

void
pymemd_scanner_set_owner (PymemdScanner *self, gint64 owner)
{
  pymemd_discovery_set_owner (self->discovery, owner);
}

PymemdProcfs *
pymemd_scanner_get_procfs (PymemdScanner *self)
{
  return self->procfs;
}

const char *
pymemd_scanner_get_boot_id (PymemdScanner *self)
{
  return self->boot_id;
}

gint64
pymemd_scanner_get_timestamp (PymemdScanner *self)
{
  return self->timestamp;
}

const PymemdPythonSet *
pymemd_scanner_get_python_set (PymemdScanner *self)
{
  return self->has_python_set ? &self->python_set : NULL;
}

const GError *
pymemd_scanner_get_exact_error (PymemdScanner *self)
{
  return self->exact_error;
}

GPtrArray *
pymemd_scanner_get_processes (PymemdScanner *self)
{
  GPtrArray *processes = pymemd_discovery_get_processes (self->discovery);

  for (guint i = processes->len; i > 0; i--)
    if (pymemd_process_get_rollup (g_ptr_array_index (processes, i - 1)) == NULL)
      g_ptr_array_remove_index (processes, i - 1);
  return processes;
}

/* TICK is the scanner's tick of the pass the sample belongs to. */
static void
set_sample (PymemdScanner *self, PymemdProcess *process, const PymemdCounters *counters,
            const PymemdStatm *statm, gint64 start, gint64 cost, guint64 tick)
{
  guint64 budget = MAX (self->budget.rollup_max_stall_us, 1);

  pymemd_process_set_rollup (process, counters, g_get_real_time (), cost);
  pymemd_process_set_read_statm (process, statm, start);
  /* A huge process stalls for the whole read: sample it on every k-th tick
   * so that its stall stays within budget on average. */
  pymemd_process_set_rollup_due (process,
                                 tick + (cost <= 0 ? 1 : ((guint64) cost - 1) / budget + 1));
}

/* statm's counters: no page-table walk, no lock the process needs. The
 * file stays open from tick to tick (one pread a tick instead of open,
 * read and close): it reads the process it was opened for, whose mm the
 * kernel looks up on each read, and ESRCH once it is gone, whoever gets
 * its pid next. */
static gboolean
read_statm (PymemdScanner *self, PymemdProcess *process, PymemdStatm *statm, GError **error)
{
  char buf[256];
  int fd = pymemd_process_get_statm_fd (process);

  if (!pymemd_procfs_is_procfs (self->procfs))
    return pymemd_procfs_read_file_at (pymemd_process_get_dir_fd (process), "statm", buf,
                                       sizeof buf, error) >= 0 &&
           pymemd_statm_parse (buf, statm, error);
  if (fd < 0)
    {
      fd = pymemd_procfs_open_at (pymemd_process_get_dir_fd (process), "statm", error);
      if (fd < 0)
        return FALSE;
      pymemd_process_set_statm_fd (process, fd);
    }
  return pymemd_procfs_pread_file (fd, "statm", buf, sizeof buf, error) >= 0 &&
         pymemd_statm_parse (buf, statm, error);
}

/* STATM was read just before: the next ticks compare theirs with it. */
static gboolean
sample_rollup (PymemdScanner *self, PymemdProcess *process, const PymemdStatm *statm, guint64 tick,
               GError **error)
{
  char buf[ROLLUP_BUFFER];
  PymemdCounters counters;
  gint64 start = g_get_monotonic_time ();
  gint64 cpu = pymemd_thread_cpu_us ();
  gint64 cost;
  gssize len;

  len = pymemd_procfs_read_file_at (pymemd_process_get_dir_fd (process), "smaps_rollup",
                                    buf, sizeof buf, error);
  /* The kernel walks the page tables in this thread, holding the
   * target's mmap lock: the read's CPU time is how long it held it (a
   * busy host that preempts us makes the wall time longer, not the walk). */
  cost = pymemd_thread_cpu_us () - cpu;
  if (len < 0 || !pymemd_rollup_parse (buf, (gsize) len, &counters, error))
    return FALSE;
  set_sample (self, process, &counters, statm, start, cost, tick);
  return TRUE;
}

static gint
compare_pss_descending (gconstpointer a, gconstpointer b)
{
  guint64 x = ((const PymemdMapping *) a)->counters.value[PYMEMD_FIELD_PSS];
  guint64 y = ((const PymemdMapping *) b)->counters.value[PYMEMD_FIELD_PSS];
  return (x < y) - (x > y);
}

static void
keep_top_mappings (PymemdProcess *process, GArray *mappings)
{
  g_autoptr(GArray) sorted = g_array_sized_new (FALSE, FALSE, sizeof (PymemdMapping), mappings->len);
  g_autoptr(GArray) top = pymemd_mapping_array_new ();

  g_array_append_vals (sorted, mappings->data, mappings->len); /* shallow: paths borrowed */
  g_array_sort (sorted, compare_pss_descending);
  for (guint i = 0; i < MIN (sorted->len, TOP_MAPPINGS); i++)
    {
      PymemdMapping copy = g_array_index (sorted, PymemdMapping, i);
      copy.path = g_strdup (copy.path);
      g_array_append_val (top, copy);
    }
  pymemd_process_set_top_mappings (process, top);
}

/* The interpreter's arenas, read from its own table where the layout is
 * known (a few small reads of its memory, once per detail pass); NULL
 * with the reason otherwise. */
static GArray *
read_arenas (PymemdProcess *process, GArray *mappings, GError **error)
{
  const PymemdElfInfo *image = pymemd_process_get_interpreter_image (process);
  guint version = pymemd_process_get_python_version (process);
  guint64 bias;
  GArray *arenas;
  int mem_fd;

  if (!pymemd_arenas_layout_known (image, version, error))
    return NULL;
  if (!pymemd_arenas_image_bias (mappings, pymemd_process_get_interpreter_path (process), image,
                                 &bias))
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED,
                   _("The interpreter's file is not mapped where discovery saw it"));
      return NULL;
    }
  mem_fd = pymemd_procfs_open_at (pymemd_process_get_dir_fd (process), "mem", error);
  if (mem_fd < 0)
    return NULL;
  arenas = pymemd_arenas_read_mem (mem_fd, image, version, bias, error);
  close (mem_fd);
  return arenas;
}

/* Moves the arenas' share of mappings that hold arenas among other
 * anonymous memory (the kernel merges neighbours with the same flags) to
 * pymalloc: what pagemap shows present and swapped there is exact, the
 * other figures are divided in proportion. */
static gboolean
split_merged_arenas (PymemdScanner *self, PymemdProcess *process, GArray *mappings,
                     GArray *arenas, PymemdCategoryUsage *usage, GError **error)
{
  gsize page_size = pymemd_procfs_get_page_size (self->procfs);
  int pagemap_fd = -1;
  gboolean ok = TRUE;

  for (guint i = 0; i < mappings->len && ok; i++)
    {
      const PymemdMapping *m = &g_array_index (mappings, PymemdMapping, i);
      PymemdCounters part, rest;
      guint64 overlap, present, swapped;

      /* Arenas are private anonymous memory: a file mapped where the
       * table (read after smaps) says an arena now is gets nothing moved. */
      if (m->category == PYMEMD_CATEGORY_PYMALLOC || m->path != NULL ||
          memcmp (m->perms, "rw-p", 4) != 0 ||
          (overlap = pymemd_arenas_overlap (arenas, m->start, m->end)) == 0)
        continue;
      if (pagemap_fd < 0)
        pagemap_fd = pymemd_procfs_open_at (pymemd_process_get_dir_fd (process), "pagemap", error);
      ok = pagemap_fd >= 0 &&
           pymemd_arenas_count_pages (arenas, pagemap_fd, page_size, m->start, m->end, &present,
                                      &swapped, error);
      if (!ok)
        break;
      pymemd_arenas_split_counters (&m->counters, overlap, present * page_size,
                                    swapped * page_size, &part, &rest);
      pymemd_counters_add (&usage[PYMEMD_CATEGORY_PYMALLOC].counters, &part);
      usage[PYMEMD_CATEGORY_PYMALLOC].n_mappings++;
      /* The mapping was summed whole into its category: keep only the rest there. */
      for (guint f = 0; f < PYMEMD_N_FIELDS; f++)
        usage[m->category].counters.value[f] -= part.value[f];
    }
  if (pagemap_fd >= 0)
    close (pagemap_fd);
  return ok;
}

/* Classifies MAPPINGS with ARENAS (NULL: guess from shapes) and sums
 * them per category into USAGE. */
static gboolean
sum_categories (PymemdScanner *self, PymemdProcess *process, GArray *mappings, GArray *arenas,
                PymemdCategoryUsage *usage, GError **error)
{
  PymemdClassifyContext context = {
    .exe_path = pymemd_process_get_exe (process),
    .exe_is_python = pymemd_process_get_exe_is_python (process),
    .python_version = pymemd_process_get_python_version (process),
    .interpreter_path = pymemd_process_get_interpreter_path (process),
    .arenas = arenas,
  };
  guint32 present = 0;

  memset (usage, 0, sizeof (PymemdCategoryUsage) * PYMEMD_N_CATEGORIES);
  pymemd_classify_mappings (mappings, &context);
  for (guint i = 0; i < mappings->len; i++)
    {
      const PymemdMapping *m = &g_array_index (mappings, PymemdMapping, i);
      pymemd_counters_add (&usage[m->category].counters, &m->counters);
      usage[m->category].n_mappings++;
      present |= m->counters.present;
    }
  /* An empty category has zero bytes of every field the kernel reports. */
  for (guint i = 0; i < PYMEMD_N_CATEGORIES; i++)
    usage[i].counters.present = present;
  return arenas == NULL || split_merged_arenas (self, process, mappings, arenas, usage, error);
}

static void
summarise_categories (PymemdScanner *self, PymemdProcess *process, GArray *mappings)
{
  PymemdCategoryUsage usage[PYMEMD_N_CATEGORIES];
  g_autoptr(GError) arenas_error = NULL;
  g_autoptr(GArray) arenas = read_arenas (process, mappings, &arenas_error);

  /* Arenas whose pages we could not count leave the guess to the shapes. */
  if (!sum_categories (self, process, mappings, arenas, usage, &arenas_error))
    {
      g_clear_pointer (&arenas, g_array_unref);
      sum_categories (self, process, mappings, NULL, usage, NULL);
    }
  pymemd_process_set_categories (process, usage);
  pymemd_process_set_pymalloc_source (process, arenas != NULL, arenas != NULL ? arenas->len : 0,
                                      arenas_error);
}

/* The detail budget is decided on statm's resident count, which the kernel
 * keeps as a counter: no page-table walk, no stall. */
static gboolean
within_detail_budget (PymemdScanner *self, const PymemdStatm *statm, GError **error)
{
  guint64 resident = statm->resident * pymemd_procfs_get_page_size (self->procfs);

  if (resident > self->budget.detail_max_rss)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_BUDGET,
                   _("RSS %llu bytes is over the detail budget of %llu bytes: reading smaps would stall "
                     "the process"),
                   (unsigned long long) resident, (unsigned long long) self->budget.detail_max_rss);
      return FALSE;
    }
  return TRUE;
}

/* Reads and classifies smaps; the tick's sample is still smaps_rollup's.
 * smaps rounds each mapping's Pss down to a kB (a small interpreter's
 * total comes out up to 1.3% low) and has no Pss_Anon/File/Shmem; the
 * rollup sums the pages' shares first. Only where the kernel has no
 * rollup are the mappings' figures summed instead. The second walk costs
 * a small part of the smaps read (no text per mapping). */
static GArray *
read_detail (PymemdScanner *self, PymemdProcess *process, guint64 tick, GError **error)
{
  g_autoptr(GArray) mappings = pymemd_mapping_array_new ();
  g_autoptr(GError) rollup_error = NULL;
  PymemdCounters sum = { { 0 }, 0 };
  PymemdStatm statm;
  gint64 start, cost;
  gboolean ok;
  int fd;

  if (!read_statm (self, process, &statm, error) || !within_detail_budget (self, &statm, error))
    return NULL;
  fd = pymemd_procfs_open_at (pymemd_process_get_dir_fd (process), "smaps", error);
  if (fd < 0)
    return NULL;
  start = g_get_monotonic_time ();
  ok = pymemd_smaps_parse_fd_within (fd, "smaps", self->budget.detail_max_bytes,
                                     self->budget.detail_max_cpu_us, FALSE, mappings, error);
  cost = g_get_monotonic_time () - start;
  close (fd);
  if (!ok)
    return NULL;

  /* No smaps_rollup (a kernel before 4.14, or the process just exited
   * and smaps is all there is of it): the mappings' sum. */
  if (!sample_rollup (self, process, &statm, tick, &rollup_error))
    {
      if (!g_error_matches (rollup_error, PYMEMD_ERROR, PYMEMD_ERROR_GONE))
        {
          g_propagate_error (error, g_steal_pointer (&rollup_error));
          return NULL;
        }
      for (guint i = 0; i < mappings->len; i++)
        pymemd_counters_add (&sum, &g_array_index (mappings, PymemdMapping, i).counters);
      set_sample (self, process, &sum, &statm, start, cost, tick);
    }
  summarise_categories (self, process, mappings);
  keep_top_mappings (process, mappings);
  return g_steal_pointer (&mappings);
}

static guint64
resident_span (GArray *mappings)
{
  guint64 span = 0;

  for (guint i = 0; i < mappings->len; i++)
    {
      const PymemdMapping *m = &g_array_index (mappings, PymemdMapping, i);
      if (m->counters.value[PYMEMD_FIELD_RSS] > 0 || m->counters.value[PYMEMD_FIELD_SWAP] > 0)
        span += m->end - m->start;
    }
  return span;
}

static gboolean
ensure_exact (PymemdScanner *self)
{
  if (self->exact == NULL && self->exact_error == NULL)
    self->exact = pymemd_exact_new (self->procfs, &self->exact_error);
  return self->exact != NULL;
}

/* ADDED[SLOT] says whether PROCESS's pages are in this pass's exact set:
 * only those get this pass's figures (an error of an earlier pass, a
 * deferral, or a process left out of the pass gets none). */
static void
add_to_exact (PymemdScanner *self, guint slot, PymemdProcess *process, GArray *mappings,
              gboolean *added)
{
  g_autoptr(GError) error = NULL;
  guint64 span = resident_span (mappings);

  if (span > self->budget.exact_max_mapped)
    g_set_error (&error, PYMEMD_ERROR, PYMEMD_ERROR_BUDGET,
                 _("Resident mappings span %llu bytes, over the exact budget of %llu bytes"),
                 (unsigned long long) span, (unsigned long long) self->budget.exact_max_mapped);
  else
    pymemd_exact_add_process (self->exact, slot, pymemd_process_get_dir_fd (process),
                              mappings, &error);
  if (error != NULL)
    pymemd_process_set_exact_error (process, error);
  else
    added[slot] = TRUE;
  /* Hidden PFNs are a property of the host, not the process. */
  if (g_error_matches (error, PYMEMD_ERROR, PYMEMD_ERROR_ACCESS_DENIED))
    {
      g_clear_error (&self->exact_error);
      self->exact_error = g_error_copy (error);
      g_clear_object (&self->exact);
    }
}

static void
finish_exact (PymemdScanner *self, GPtrArray *processes, const gboolean *added)
{
  g_autofree PymemdExactFigures *figures = g_new0 (PymemdExactFigures, MAX (processes->len, 1));
  g_autoptr(GError) error = NULL;

  if (!pymemd_exact_finish (self->exact, figures, &self->python_set, &error))
    {
      g_warning ("Exact pass failed: %s", error->message);
      self->has_python_set = FALSE;
      return;
    }
  self->has_python_set = TRUE;
  for (guint i = 0; i < processes->len; i++)
    {
      if (added[i])
        pymemd_process_set_exact (g_ptr_array_index (processes, i), &figures[i]);
    }
}

/* A process that could not be sampled is left out of this scan; one that
 * exited is forgotten, so a new process with its pid is examined afresh. */
static void
drop_failed (PymemdScanner *self, GArray *drop, guint index, PymemdProcess *process,
             const GError *error)
{
  if (g_error_matches (error, PYMEMD_ERROR, PYMEMD_ERROR_GONE))
    pymemd_discovery_forget (self->discovery, process);
  else
    g_debug ("pid %d: %s", pymemd_process_get_pid (process), error->message);
  g_array_append_val (drop, index);
}

PymemdResample
pymemd_scanner_resample_reason (const PymemdStatm *then,
                                const PymemdStatm *now,
                                gboolean           sharers_changed,
                                gboolean           refresh_due)
{
  if (then == NULL)
    return PYMEMD_RESAMPLE_FIRST;
  if (MAX (then->resident, now->resident) - MIN (then->resident, now->resident) > PYMEMD_MOVED_PAGES ||
      MAX (then->shared, now->shared) - MIN (then->shared, now->shared) > PYMEMD_MOVED_PAGES)
    return PYMEMD_RESAMPLE_MOVED;
  if (sharers_changed)
    return PYMEMD_RESAMPLE_SHARERS;
  if (refresh_due)
    return PYMEMD_RESAMPLE_AGE;
  return PYMEMD_RESAMPLE_NONE;
}

gboolean
pymemd_scanner_estimate (const PymemdCounters *read,
                         const PymemdStatm    *then,
                         const PymemdStatm    *now,
                         gsize                 page_size,
                         PymemdCounters       *estimate)
{
  static const PymemdField grown[] = {
    PYMEMD_FIELD_RSS, PYMEMD_FIELD_PSS, PYMEMD_FIELD_PSS_DIRTY, PYMEMD_FIELD_PSS_ANON,
    PYMEMD_FIELD_PRIVATE_DIRTY, PYMEMD_FIELD_ANONYMOUS,
  };
  const guint32 needed = (1u << PYMEMD_FIELD_RSS) | (1u << PYMEMD_FIELD_PSS) |
                         (1u << PYMEMD_FIELD_PSS_ANON) | (1u << PYMEMD_FIELD_ANONYMOUS) |
                         (1u << PYMEMD_FIELD_PRIVATE_DIRTY);
  gint64 anon_then = (gint64) then->resident - (gint64) then->shared;
  gint64 anon_now = (gint64) now->resident - (gint64) now->shared;
  gint64 delta = (anon_now - anon_then) * (gint64) page_size;

  /* Only anonymous pages moved (its file and shared memory pages within
   * the threshold) ... */
  if ((read->present & needed) != needed ||
      MAX (then->shared, now->shared) - MIN (then->shared, now->shared) > PYMEMD_MOVED_PAGES)
    return FALSE;
  /* ... and at the read every anonymous page was this process's alone
   * (none shared with a forked child: Pss_Anon is then Anonymous to the
   * byte), all dirty (none in swap, none lazily freed, nothing in huge
   * pages whose split we would not see): a page it adds is then one more
   * page of its own, dirty, and a page it frees one less. */
  if (read->value[PYMEMD_FIELD_PSS_ANON] != read->value[PYMEMD_FIELD_ANONYMOUS] ||
      read->value[PYMEMD_FIELD_SWAP] != 0 || read->value[PYMEMD_FIELD_LAZY_FREE] != 0 ||
      read->value[PYMEMD_FIELD_ANON_HUGE_PAGES] != 0 ||
      (delta < 0 && (guint64) -delta > read->value[PYMEMD_FIELD_ANONYMOUS]))
    return FALSE;
  *estimate = *read;
  for (guint i = 0; i < G_N_ELEMENTS (grown); i++)
    if (estimate->present & (1u << grown[i]))
      {
        gint64 value = (gint64) estimate->value[grown[i]] + delta;
        estimate->value[grown[i]] = (guint64) MAX (value, 0);
      }
  return TRUE;
}

gboolean
pymemd_scanner_refresh_due (guint64 phase_us, gint64 last_us, gint64 now_us, guint64 period_us)
{
  guint64 last, now;

  /* A clock that went back (it is monotonic: never) counts as due too. */
  if (period_us == 0 || now_us < last_us || last_us < 0)
    return TRUE;
  /* The process's refresh instants are PHASE + k * PERIOD: due once one
   * passed since LAST. Whatever the phase, one passes within any PERIOD;
   * processes read at the same instant (all of them, at start) are due
   * at their own phases, spread over the period, not all again at once. */
  phase_us %= period_us;
  last = (guint64) last_us + period_us - phase_us;
  now = (guint64) now_us + period_us - phase_us;
  return now / period_us > last / period_us;
}

/* Where in the refresh period PROCESS's refreshes fall, by its identity. */
static guint64
refresh_phase (PymemdProcess *process, guint64 period_us)
{
  guint64 h = ((guint64) pymemd_process_get_pid (process) ^
               (pymemd_process_get_start_time (process) << 24)) * G_GUINT64_CONSTANT (0x9e3779b97f4a7c15);

  return period_us == 0 ? 0 : (h >> 20) % period_us;
}

/* Whether reading PROCESS's smaps_rollup stalls it past the budget: its
 * last read held the mmap lock longer. The kernel gives the lock up
 * between mappings only, so this is a process with a huge mapping (or
 * very many resident pages). */
static gboolean
read_stalls (PymemdScanner *self, PymemdProcess *process)
{
  return (guint64) pymemd_process_get_rollup_cost (process) > self->budget.rollup_max_stall_us;
}

/* Reads PROCESS's credentials in full; STAMP was taken just before, so
 * that a change during the read moves the next tick's stamp. */
static gboolean
read_credentials (PymemdProcess *process, const PymemdOwnerStamp *stamp, GError **error)
{
  PymemdCredentials credentials;

  if (!pymemd_procfs_read_credentials (pymemd_process_get_dir_fd (process), &credentials, error))
    return FALSE;
  pymemd_process_set_credentials (process, &credentials);
  pymemd_process_set_owner_stamp (process, stamp, MAX (g_get_monotonic_time (), 1));
  return TRUE;
}

static const char *
sharer_key (PymemdProcess *process)
{
  const char *path = pymemd_process_get_interpreter_path (process);
  return path != NULL ? path : "";
}

/* Who runs each interpreter image now; returns the images whose set of
 * processes changed since the last tick (their pages' PSS moved for every
 * process that maps them), as a set of paths. */
static GHashTable *
update_sharers (PymemdScanner *self, GPtrArray *processes)
{
  g_autoptr(GHashTable) now = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  GHashTable *changed = g_hash_table_new (g_str_hash, g_str_equal);
  GHashTableIter iter;
  gpointer key, value;

  for (guint i = 0; i < processes->len; i++)
    {
      PymemdProcess *process = g_ptr_array_index (processes, i);
      SharerDigest *digest = g_hash_table_lookup (now, sharer_key (process));

      if (digest == NULL)
        {
          digest = g_new0 (SharerDigest, 1);
          g_hash_table_insert (now, g_strdup (sharer_key (process)), digest);
        }
      digest->count++;
      digest->sum += ((guint64) pymemd_process_get_pid (process) * G_GUINT64_CONSTANT (0x9e3779b97f4a7c15)) ^
                     pymemd_process_get_start_time (process);
    }
  g_hash_table_iter_init (&iter, now);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      const SharerDigest *then = g_hash_table_lookup (self->sharers, key);
      const SharerDigest *digest = value;

      if (then == NULL || then->count != digest->count || then->sum != digest->sum)
        g_hash_table_add (changed, key);
    }
  /* An image whose last process ended moves nobody's PSS: none left. */
  g_hash_table_unref (self->sharers);
  self->sharers = g_steal_pointer (&now);
  return changed; /* keys owned by self->sharers */
}

/* The parents of the interpreters watched since the last scan: a fork
 * shares all its parent's anonymous pages with the child, which statm
 * does not show. One small read of stat for each new one. */
static GHashTable *
new_parents (PymemdScanner *self, GPtrArray *processes)
{
  GHashTable *parents = g_hash_table_new (NULL, NULL);
  g_autoptr(GHashTable) seen = g_hash_table_new (NULL, NULL);

  for (guint i = 0; i < processes->len; i++)
    {
      PymemdProcess *process = g_ptr_array_index (processes, i);
      gpointer pid = GINT_TO_POINTER (pymemd_process_get_pid (process));
      char buf[1024];
      PymemdStat stat_info;

      g_hash_table_add (seen, pid);
      if (!g_hash_table_contains (self->seen, pid) &&
          pymemd_procfs_read_prefix_at (pymemd_process_get_dir_fd (process), "stat", buf,
                                        sizeof buf, NULL) >= 0 &&
          pymemd_stat_parse (buf, &stat_info, NULL))
        g_hash_table_add (parents, GINT_TO_POINTER (stat_info.ppid));
    }
  g_hash_table_unref (self->seen);
  self->seen = g_steal_pointer (&seen);
  return parents;
}

typedef enum {
  SAMPLE_STANDS,    /* the last read's figures */
  SAMPLE_ESTIMATED, /* worked out from them and statm */
  SAMPLE_READ,      /* smaps_rollup to be read */
} SampleDecision;

/* What PROCESS's sample is for this tick: the rule, on statm
 * (docs/pymemd.8, SAMPLING). */
static SampleDecision
decide_sample (PymemdScanner *self, PymemdProcess *process, const PymemdStatm *statm,
               GHashTable *changed_sharers, GHashTable *parents)
{
  gint64 read_at;
  const PymemdStatm *then = pymemd_process_get_read_statm (process, &read_at);
  const PymemdCounters *read = pymemd_process_get_read_rollup (process);
  guint64 refresh = self->budget.rollup_refresh_us;
  gboolean sharers, due, forked;
  PymemdCounters estimate;

  if (read == NULL)
    return SAMPLE_READ;
  forked = g_hash_table_contains (parents, GINT_TO_POINTER (pymemd_process_get_pid (process)));
  sharers = g_hash_table_contains (changed_sharers, sharer_key (process));
  due = pymemd_scanner_refresh_due (refresh_phase (process, refresh), read_at,
                                    g_get_monotonic_time (), refresh);
  /* A read that would stall the process past the budget is not made for
   * what can move only its pages shared with others (another interpreter
   * came or went, age): only where its own pages moved, or it forked. */
  if (read_stalls (self, process))
    {
      sharers = sharers && forked;
      due = FALSE;
    }
  switch (pymemd_scanner_resample_reason (then, statm, sharers || forked, due))
    {
    case PYMEMD_RESAMPLE_NONE:
      return SAMPLE_STANDS;
    case PYMEMD_RESAMPLE_MOVED:
      /* Its own anonymous pages alone moved: worked out, no walk. */
      if (!sharers && !forked && !due &&
          pymemd_scanner_estimate (read, then, statm, pymemd_procfs_get_page_size (self->procfs),
                                   &estimate))
        {
          pymemd_process_set_estimate (process, &estimate, statm, self->timestamp);
          return SAMPLE_ESTIMATED;
        }
      return SAMPLE_READ;
    default:
      return SAMPLE_READ;
    }
}

/* Who PROCESS runs as, for this tick: two stats show the owners the
 * kernel gives /proc/PID and its status; status is read in full only when
 * they moved, or at the refresh (a name set with prctl moves neither).
 *
 * Where process events are heard (HEARD), a change of its uids, gids or
 * name comes as one (pymemd_scanner_note_change ()), and what the stats
 * would miss (a saved uid alone) too: one stat of its status, whose owner
 * is root's once it is not dumpable (prctl sends no event), is all a tick
 * needs, and no refresh. */
static gboolean
tick_credentials (PymemdScanner *self, PymemdProcess *process, gboolean heard, GError **error)
{
  guint64 refresh = self->budget.rollup_refresh_us;
  PymemdOwnerStamp stamp;
  const PymemdOwnerStamp *then;
  gint64 read_at;
  /* A fixture tree's owners are its files', not the kernel's. */
  gboolean procfs = pymemd_procfs_is_procfs (self->procfs);

  then = pymemd_process_get_owner_stamp (process, &read_at);
  if (heard)
    {
      gboolean noted = g_hash_table_remove (self->changed,
                                            GINT_TO_POINTER (pymemd_process_get_pid (process)));
      guint32 uid, gid;

      if (!pymemd_procfs_read_dump_owner (pymemd_process_get_dir_fd (process), &uid, &gid, error))
        return FALSE;
      if (then != NULL && procfs && !noted && !self->all_changed &&
          then->status_uid == uid && then->status_gid == gid)
        return TRUE;
    }
  if (!pymemd_procfs_read_owner_stamp (pymemd_process_get_dir_fd (process), &stamp, error))
    return FALSE;
  if (!heard && then != NULL && procfs && memcmp (then, &stamp, sizeof stamp) == 0 &&
      !pymemd_scanner_refresh_due (refresh_phase (process, refresh), read_at,
                                   g_get_monotonic_time (), refresh))
    return TRUE;
  return read_credentials (process, &stamp, error);
}

/* The order of a detail pass: the processes whose turn (their last detail
 * read, made or failed) is oldest first (never: first of all), then by
 * pid. A user whose share runs out within a pass has the processes that
 * waited read first on the next: each gets its turn. */
typedef struct {
  guint64 detail_tick;
  guint   index;
} DetailTurn;

static int
compare_turns (const void *a, const void *b)
{
  const DetailTurn *x = a, *y = b;

  if (x->detail_tick != y->detail_tick)
    return x->detail_tick < y->detail_tick ? -1 : 1;
  return (x->index > y->index) - (x->index < y->index);
}

static guint *
detail_order (GPtrArray *processes)
{
  g_autofree DetailTurn *turns = g_new (DetailTurn, MAX (processes->len, 1));
  guint *order = g_new (guint, MAX (processes->len, 1));

  for (guint i = 0; i < processes->len; i++)
    {
      turns[i].detail_tick = pymemd_process_get_detail_tick (g_ptr_array_index (processes, i));
      turns[i].index = i;
    }
  qsort (turns, processes->len, sizeof *turns, compare_turns);
  for (guint i = 0; i < processes->len; i++)
    order[i] = turns[i].index;
  return order;
}

/* One more of UID's reads waited (WAITED: uid -> how many). */
static void
count_wait (GHashTable *waited, guint32 uid)
{
  gpointer key = GUINT_TO_POINTER (uid);

  g_hash_table_replace (waited, key, GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (waited, key)) + 1));
}

/* PROCESS's owner has used up its share of detail reading: it is not read
 * in detail on this pass (its rollup sample goes on), and says why. The
 * categories of an earlier pass, if any, stay, with the reason beside
 * them; its exact figures, which belong to one pass's set, go. */
static void
defer_detail (PymemdScanner *self, PymemdProcess *process, GHashTable *deferred)
{
  guint32 uid = pymemd_process_get_uid (process);
  g_autoptr(GError) error = NULL;

  g_set_error (&error, PYMEMD_ERROR, PYMEMD_ERROR_BUDGET,
               _("Deferred: the processes of uid %u used their share of detail reading "
                 "(%.1f%% of a CPU); read on a later pass"),
               (unsigned) uid, (double) self->budget.detail_share_us / 10000.0);
  pymemd_process_set_detail_error (process, error);
  pymemd_process_set_exact_error (process, error);
  count_wait (deferred, uid);
}

/* Says that a user's READS (what waited) wait, at most every
 * PYMEMD_CPU_SHARE_REPORT_INTERVAL for each user, however often its
 * SHARE runs out; WAITED: uid -> how many. */
static void
report_waits (GHashTable *waited, PymemdCpuShare *share, const char *reads)
{
  gint64 now = g_get_monotonic_time ();
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, waited);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (pymemd_cpu_share_take_report (share, GPOINTER_TO_UINT (key), now))
      g_message ("%s of uid %u's processes wait: they used the user's share of reading time "
                 "(%.1f%% of a CPU); %u of them not read this time; said at most once in %d "
                 "minutes", reads, GPOINTER_TO_UINT (key),
                 (double) pymemd_cpu_share_get_rate (share) / 10000.0, GPOINTER_TO_UINT (value),
                 (int) (PYMEMD_CPU_SHARE_REPORT_INTERVAL / G_USEC_PER_SEC / 60));
  pymemd_cpu_share_prune (share, now);
}

/* Reads PROCESS in detail if its owner's share allows, charging the
 * share what the read cost this thread. */
static GArray *
read_detail_shared (PymemdScanner *self, PymemdProcess *process, GHashTable *deferred,
                    GError **error)
{
  guint32 uid = pymemd_process_get_uid (process);
  GArray *mappings;
  gint64 cpu;

  if (!pymemd_cpu_share_may_spend (self->detail_share, uid, g_get_monotonic_time ()))
    {
      defer_detail (self, process, deferred);
      return NULL;
    }
  cpu = pymemd_thread_cpu_us ();
  mappings = read_detail (self, process, self->tick, error);
  /* Its turn came, whatever the read gave: one that always fails (over
   * a budget) must not go first on every pass. */
  pymemd_process_set_detail_tick (process, self->tick);
  pymemd_cpu_share_spend (self->detail_share, uid, pymemd_thread_cpu_us () - cpu, g_get_monotonic_time ());
  return mappings;
}

/* A tick's read of PROCESS's smaps_rollup, if its user's share allows,
 * charged to it: otherwise its figures stand as of their last read (its
 * sampled_at says when) and FALSE without an error. A first sample, and
 * a process whose statm reads no page (it exited: the read fails and it
 * is forgotten), are read whatever the share. */
static gboolean
sample_rollup_shared (PymemdScanner *self, PymemdProcess *process, const PymemdStatm *statm,
                      GHashTable *waits, GError **error)
{
  guint32 uid = pymemd_process_get_uid (process);
  gboolean ok;
  gint64 cpu;

  if (pymemd_process_get_read_rollup (process) != NULL && statm->resident > 0 &&
      !pymemd_cpu_share_may_spend (self->rollup_share, uid, g_get_monotonic_time ()))
    {
      count_wait (waits, uid);
      return FALSE;
    }
  cpu = pymemd_thread_cpu_us ();
  ok = sample_rollup (self, process, statm, self->tick, error);
  pymemd_cpu_share_spend (self->rollup_share, uid, pymemd_thread_cpu_us () - cpu, g_get_monotonic_time ());
  return ok;
}

static gint
compare_uint_descending (gconstpointer a, gconstpointer b)
{
  guint x = *(const guint *) a, y = *(const guint *) b;
  return (x < y) - (x > y);
}

gboolean
pymemd_scanner_scan (PymemdScanner *self, PymemdScanFlags flags, GError **error)
{
  g_autoptr(GPtrArray) processes = NULL;
  g_autoptr(GArray) drop = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(GHashTable) changed_sharers = NULL;
  g_autoptr(GHashTable) parents = NULL;
  g_autoptr(GHashTable) deferred = g_hash_table_new (NULL, NULL);
  g_autoptr(GHashTable) rollup_waits = g_hash_table_new (NULL, NULL);
  g_autofree guint *order = NULL;
  g_autofree gboolean *added = NULL;
  gboolean detail = (flags & (PYMEMD_SCAN_DETAIL | PYMEMD_SCAN_EXACT)) != 0;
  gboolean exact;
  gint64 now;

  /* Without a listing, the interpreters known are looked at no more than
   * their samples need, without a stat of each executable a tick: one
   * whose exec was heard is looked at again now (the monitor's own look
   * may come after this pass), and an exit shows as the reads below
   * failing (the process is forgotten). */
  if (flags & PYMEMD_SCAN_KNOWN_ONLY)
    pymemd_discovery_update_execed (self->discovery);
  else if (!pymemd_discovery_update (self->discovery, NULL, NULL, error))
    return FALSE;
  processes = pymemd_discovery_get_processes (self->discovery);
  self->timestamp = now = g_get_real_time ();
  self->tick++;
  changed_sharers = update_sharers (self, processes);
  parents = new_parents (self, processes);

  exact = (flags & PYMEMD_SCAN_EXACT) && ensure_exact (self);
  if (exact)
    pymemd_exact_begin (self->exact, processes->len);
  added = g_new0 (gboolean, MAX (processes->len, 1));
  if (detail)
    order = detail_order (processes);

  for (guint k = 0; k < processes->len; k++)
    {
      guint i = order != NULL ? order[k] : k;
      PymemdProcess *process = g_ptr_array_index (processes, i);
      g_autoptr(GError) local_error = NULL;
      PymemdStatm statm;

      if (!tick_credentials (self, process, (flags & PYMEMD_SCAN_HEARD) != 0, &local_error))
        {
          drop_failed (self, drop, i, process, local_error);
          continue;
        }
      if (detail)
        {
          g_autoptr(GArray) mappings = read_detail_shared (self, process, deferred, &local_error);

          if (mappings != NULL)
            {
              if (exact && self->exact != NULL)
                add_to_exact (self, i, process, mappings, added);
              continue;
            }
          /* Deferred (its owner's share is spent) or over budget: it
           * still gets its (paced) rollup sample below. */
          if (local_error != NULL)
            {
              pymemd_process_set_detail_error (process, local_error);
              pymemd_process_set_exact_error (process, local_error);
              if (!g_error_matches (local_error, PYMEMD_ERROR, PYMEMD_ERROR_BUDGET))
                {
                  drop_failed (self, drop, i, process, local_error);
                  continue;
                }
              g_clear_error (&local_error);
            }
        }
      else if (!(flags & PYMEMD_SCAN_ROLLUP))
        continue;
      /* What a full pass could not read in detail (over the detail
       * budget: a huge process) it samples as a tick does, within the
       * stall budget. */
      if (pymemd_process_get_rollup_due (process) > self->tick &&
          pymemd_process_get_rollup (process) != NULL)
        {
          /* It is read on no tick of these: without a listing, one stat
           * says that it has not exited (a zombie's two stats above pass). */
          if ((flags & PYMEMD_SCAN_KNOWN_ONLY) && !pymemd_discovery_still_same (process))
            {
              g_set_error_literal (&local_error, PYMEMD_ERROR, PYMEMD_ERROR_GONE, "exited");
              drop_failed (self, drop, i, process, local_error);
            }
          continue;
        }
      if (!read_statm (self, process, &statm, &local_error))
        {
          drop_failed (self, drop, i, process, local_error);
          continue;
        }
      switch (decide_sample (self, process, &statm, changed_sharers, parents))
        {
        case SAMPLE_STANDS:
          pymemd_process_confirm_rollup (process, now);
          continue;
        case SAMPLE_ESTIMATED:
          continue;
        case SAMPLE_READ:
        default:
          break;
        }
      if (!sample_rollup_shared (self, process, &statm, rollup_waits, &local_error) &&
          local_error != NULL)
        drop_failed (self, drop, i, process, local_error);
    }
  report_waits (rollup_waits, self->rollup_share, "Samples");
  /* Each process here had its tick's look at who it runs as. */
  self->all_changed = FALSE;
  g_hash_table_remove_all (self->changed);

  if (exact && self->exact != NULL)
    finish_exact (self, processes, added);
  else if (detail && self->exact_error != NULL)
    for (guint i = 0; i < processes->len; i++)
      pymemd_process_set_exact_error (g_ptr_array_index (processes, i), self->exact_error);
  /* glibc keeps what was freed for later use: after a process with tens
   * of thousands of mappings of a long path was read (a hundred MiB of
   * text and paths), that is memory the daemon does not need again. A
   * trim of a heap with nothing to give back costs well under a ms. */
  if (detail)
    {
      report_waits (deferred, self->detail_share, "Detail reads");
      malloc_trim (0);
    }
  /* Slots are indices: drop processes only once the exact pass is done,
   * from the last (a detail pass visits them out of order). */
  g_array_sort (drop, compare_uint_descending);
  for (guint i = 0; i < drop->len; i++)
    g_ptr_array_remove_index (processes, g_array_index (drop, guint, i));
  return TRUE;
}

gboolean
pymemd_scanner_examine_pids (PymemdScanner *self, const int *pids, guint n_pids, GArray *others)
{
  g_autoptr(GPtrArray) added = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) removed = g_ptr_array_new_with_free_func (g_object_unref);
  guint forgotten = 0;

  for (guint i = 0; i < n_pids; i++)
    if (!pymemd_discovery_update_pid (self->discovery, pids[i], added, removed) && others != NULL)
      g_array_append_val (others, pids[i]);
  /* A new interpreter gets its first sample now, as on a tick: it is
   * announced with figures. */
  for (guint i = 0; i < added->len; i++)
    {
      PymemdProcess *process = g_ptr_array_index (added, i);
      g_autoptr(GError) error = NULL;
      PymemdStatm statm;

      if (pymemd_scanner_refresh_credentials (self, process, &error) &&
          read_statm (self, process, &statm, &error) && sample_rollup (self, process, &statm, self->tick, &error))
        continue;
      if (g_error_matches (error, PYMEMD_ERROR, PYMEMD_ERROR_GONE))
        {
          pymemd_discovery_forget (self->discovery, process);
          forgotten++;
        }
      else
        g_debug ("pid %d: %s", pymemd_process_get_pid (process), error->message);
    }
  return added->len > forgotten || removed->len > 0;
}

gboolean
pymemd_scanner_knows_pid (PymemdScanner *self, int pid)
{
  return pymemd_discovery_knows (self->discovery, pid);
}

void
pymemd_scanner_note_exec (PymemdScanner *self, int pid)
{
  pymemd_discovery_note_exec (self->discovery, pid);
}

void
pymemd_scanner_note_change (PymemdScanner *self, int pid)
{
  if (pid == 0)
    self->all_changed = TRUE;
  else if (pymemd_discovery_knows (self->discovery, pid))
    g_hash_table_add (self->changed, GINT_TO_POINTER (pid));
}

void
pymemd_scanner_note_exit (PymemdScanner *self, int pid)
{
  pymemd_discovery_note_exit (self->discovery, pid);
}

gboolean
pymemd_scanner_awaits_loader (PymemdScanner *self, int pid)
{
  return pymemd_discovery_awaits_loader (self->discovery, pid);
}

gboolean
pymemd_scanner_refresh_detail (PymemdScanner *self, PymemdProcess *process, GError **error)
{
  /* Out of turn, and on another thread than a pass may be running on:
   * nothing of the scanner's own changes (its tick is not read; PROCESS,
   * a snapshot, is read again on the next tick anyway). */
  g_autoptr(GArray) mappings = read_detail (self, process, 0, error);

  return mappings != NULL;
}

gboolean
pymemd_scanner_refresh_credentials (PymemdScanner *self, PymemdProcess *process, GError **error)
{
  PymemdOwnerStamp stamp;

  return pymemd_procfs_read_owner_stamp (pymemd_process_get_dir_fd (process), &stamp, error) &&
         read_credentials (process, &stamp, error);
}
