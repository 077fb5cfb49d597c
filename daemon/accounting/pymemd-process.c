/* Holds what the scanner last learnt about one process; no I/O happens here. */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "pymemd-process.h"

struct _PymemdProcess
{
  GObject  parent_instance;

  PymemdProcess *origin; /* a snapshot's: the process the scanner keeps; NULL in that one */
  int      pid;
  guint64  start_time;
  int      dir_fd;
  int      statm_fd;  /* kept open: bound to this process, not to its pid number */

  PymemdCredentials credentials;
  PymemdOwnerStamp  owner_stamp; /* taken just before CREDENTIALS were read */
  gint64            credentials_at; /* monotonic µs of that read; 0: never */
  char    *exe;
  char    *cmdline;
  gboolean exe_is_python;
  guint    python_version;
  guint64  exe_dev;
  guint64  exe_inode;
  char         *interpreter_path;
  PymemdElfInfo interpreter_image;

  gboolean       has_rollup;
  PymemdCounters rollup;       /* shown: the last read's, or estimated from it */
  PymemdCounters read_rollup;  /* the last read's */
  PymemdStatm    shown_statm;  /* the statm ROLLUP stands for */
  gint64         sampled_at;
  gint64         rollup_cost_us;
  guint64        rollup_due;
  PymemdStatm    read_statm;   /* statm just before the last read */
  gint64         read_at;      /* monotonic µs of the last read */
  guint64        rollup_reads;
  guint64        estimates;

  gboolean            has_categories;
  PymemdCategoryUsage categories[PYMEMD_N_CATEGORIES];
  GError             *detail_error;
  guint64             detail_tick;
  GArray             *top_mappings;
  gboolean            pymalloc_exact;
  guint               pymalloc_arenas;
  GError             *pymalloc_error;

  gboolean           has_exact;
  PymemdExactFigures exact;
  GError            *exact_error;
};

G_DEFINE_TYPE (PymemdProcess, pymemd_process, G_TYPE_OBJECT)

static void
pymemd_process_finalize (GObject *object)
{
  PymemdProcess *self = PYMEMD_PROCESS (object);

  /* A snapshot borrows its origin's directory, which it keeps open. */
  if (self->dir_fd >= 0 && self->origin == NULL)
    close (self->dir_fd);
  g_clear_object (&self->origin);
  if (self->statm_fd >= 0)
    close (self->statm_fd);
  g_free (self->exe);
  g_free (self->cmdline);
  g_free (self->interpreter_path);
  g_clear_error (&self->detail_error);
  g_clear_error (&self->pymalloc_error);
  g_clear_error (&self->exact_error);
  g_clear_pointer (&self->top_mappings, g_array_unref);
  G_OBJECT_CLASS (pymemd_process_parent_class)->finalize (object);
}

static void
pymemd_process_class_init (PymemdProcessClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pymemd_process_finalize;
}

static void
pymemd_process_init (PymemdProcess *self)
{
  self->dir_fd = -1;
  self->statm_fd = -1;
}

PymemdProcess *
pymemd_process_new (int pid, guint64 start_time, int dir_fd)
{
  PymemdProcess *self = g_object_new (PYMEMD_TYPE_PROCESS, NULL);

  self->pid = pid;
  self->start_time = start_time;
  self->dir_fd = dir_fd;
  return self;
}

PymemdProcess *
pymemd_process_snapshot (PymemdProcess *self)
{
  PymemdProcess *copy = g_object_new (PYMEMD_TYPE_PROCESS, NULL);
  PymemdProcess *origin = self->origin != NULL ? self->origin : self;

  /* Every figure by value; what the strings, errors and the mapping
   * array point to is copied or (the array, never changed once set)
   * shared. Only the statm file, read on ticks, stays with the origin. */
  memcpy (&copy->origin, &self->origin, sizeof *self - G_STRUCT_OFFSET (PymemdProcess, origin));
  copy->origin = g_object_ref (origin);
  copy->statm_fd = -1;
  copy->exe = g_strdup (self->exe);
  copy->cmdline = g_strdup (self->cmdline);
  copy->interpreter_path = g_strdup (self->interpreter_path);
  copy->detail_error = self->detail_error != NULL ? g_error_copy (self->detail_error) : NULL;
  copy->pymalloc_error = self->pymalloc_error != NULL ? g_error_copy (self->pymalloc_error) : NULL;
  copy->exact_error = self->exact_error != NULL ? g_error_copy (self->exact_error) : NULL;
  copy->top_mappings = self->top_mappings != NULL ? g_array_ref (self->top_mappings) : NULL;
  return copy;
}

PymemdProcess *
pymemd_process_get_origin (PymemdProcess *self)
{
  return self->origin != NULL ? self->origin : self;
}

int
pymemd_process_get_pid (PymemdProcess *self)
{
  return self->pid;
}

guint64
pymemd_process_get_start_time (PymemdProcess *self)
{
  return self->start_time;
}

int
pymemd_process_get_dir_fd (PymemdProcess *self)
{
  return self->dir_fd;
}

void
pymemd_process_set_identity (PymemdProcess *self,
                             const char    *exe,
                             const char    *cmdline,
                             gboolean       exe_is_python,
                             guint          python_version,
                             guint64        exe_dev,
                             guint64        exe_inode)
{
  g_free (self->exe);
  self->exe = g_strdup (exe);
  g_free (self->cmdline);
  self->cmdline = g_strdup (cmdline);
  self->exe_is_python = exe_is_python;
  self->python_version = python_version;
  self->exe_dev = exe_dev;
  self->exe_inode = exe_inode;
}

void
pymemd_process_set_credentials (PymemdProcess *self, const PymemdCredentials *credentials)
{
  self->credentials = *credentials;
}

void
pymemd_process_set_owner_stamp (PymemdProcess *self, const PymemdOwnerStamp *stamp, gint64 read_at)
{
  self->owner_stamp = *stamp;
  self->credentials_at = read_at;
}

const PymemdOwnerStamp *
pymemd_process_get_owner_stamp (PymemdProcess *self, gint64 *read_at)
{
  *read_at = self->credentials_at;
  return self->credentials_at != 0 ? &self->owner_stamp : NULL;
}

int
pymemd_process_get_statm_fd (PymemdProcess *self)
{
  return self->statm_fd;
}

void
pymemd_process_set_statm_fd (PymemdProcess *self, int fd)
{
  if (self->statm_fd >= 0)
    close (self->statm_fd);
  self->statm_fd = fd;
}

const PymemdCredentials *
pymemd_process_get_credentials (PymemdProcess *self)
{
  return &self->credentials;
}

guint32
pymemd_process_get_uid (PymemdProcess *self)
{
  return self->credentials.uid[0];
}

const char *
pymemd_process_get_status_name (PymemdProcess *self)
{
  return self->credentials.name;
}

const char *
pymemd_process_get_exe (PymemdProcess *self)
{
  return self->exe;
}

const char *
pymemd_process_get_cmdline (PymemdProcess *self)
{
  return self->cmdline;
}

gboolean
pymemd_process_get_exe_is_python (PymemdProcess *self)
{
  return self->exe_is_python;
}

guint
pymemd_process_get_python_version (PymemdProcess *self)
{
  return self->python_version;
}

gboolean
pymemd_process_same_exe (PymemdProcess *self, guint64 dev, guint64 inode)
{
  return self->exe_dev == dev && self->exe_inode == inode;
}

void
pymemd_process_set_interpreter (PymemdProcess       *self,
                                const char          *image_path,
                                const PymemdElfInfo *image)
{
  g_free (self->interpreter_path);
  self->interpreter_path = g_strdup (image_path);
  self->interpreter_image = *image;
}

const char *
pymemd_process_get_interpreter_path (PymemdProcess *self)
{
  return self->interpreter_path;
}

const PymemdElfInfo *
pymemd_process_get_interpreter_image (PymemdProcess *self)
{
  return &self->interpreter_image;
}

void
pymemd_process_set_pymalloc_source (PymemdProcess *self,
                                    gboolean       exact,
                                    guint          arenas,
                                    const GError  *error)
{
  self->pymalloc_exact = exact;
  self->pymalloc_arenas = exact ? arenas : 0;
  g_clear_error (&self->pymalloc_error);
  if (!exact && error != NULL)
    self->pymalloc_error = g_error_copy (error);
}

gboolean
pymemd_process_get_pymalloc_exact (PymemdProcess *self, guint *arenas)
{
  if (arenas != NULL)
    *arenas = self->pymalloc_arenas;
  return self->pymalloc_exact;
}

const GError *
pymemd_process_get_pymalloc_error (PymemdProcess *self)
{
  return self->pymalloc_error;
}

void
pymemd_process_set_rollup (PymemdProcess        *self,
                           const PymemdCounters *rollup,
                           gint64                when,
                           gint64                cost_us)
{
  self->rollup = self->read_rollup = *rollup;
  self->has_rollup = TRUE;
  self->sampled_at = when;
  self->rollup_cost_us = cost_us;
}

void
pymemd_process_sum_rollups (GPtrArray *processes, PymemdCounters *totals)
{
  memset (totals, 0, sizeof *totals);
  for (guint i = 0; i < processes->len; i++)
    pymemd_counters_add (totals, pymemd_process_get_rollup (g_ptr_array_index (processes, i)));
  if (processes->len == 0)
    totals->present = (1u << PYMEMD_N_FIELDS) - 1;
}

void
pymemd_process_set_read_statm (PymemdProcess     *self,
                               const PymemdStatm *statm,
                               gint64             read_at)
{
  self->read_statm = self->shown_statm = *statm;
  self->read_at = read_at;
  self->rollup_reads++;
}

const PymemdStatm *
pymemd_process_get_read_statm (PymemdProcess *self, gint64 *read_at)
{
  *read_at = self->read_at;
  return &self->read_statm;
}

guint64
pymemd_process_get_rollup_reads (PymemdProcess *self)
{
  return self->rollup_reads;
}

void
pymemd_process_confirm_rollup (PymemdProcess *self, gint64 when)
{
  if (!self->has_rollup)
    return;
  self->sampled_at = when;
  self->rollup = self->read_rollup;
  self->shown_statm = self->read_statm;
}

void
pymemd_process_set_estimate (PymemdProcess        *self,
                             const PymemdCounters *estimate,
                             const PymemdStatm    *statm,
                             gint64                when)
{
  g_return_if_fail (self->has_rollup);
  self->rollup = *estimate;
  self->shown_statm = *statm;
  self->sampled_at = when;
  self->estimates++;
}

const PymemdCounters *
pymemd_process_get_read_rollup (PymemdProcess *self)
{
  return self->has_rollup ? &self->read_rollup : NULL;
}

const PymemdStatm *
pymemd_process_get_shown_statm (PymemdProcess *self)
{
  return &self->shown_statm;
}

guint64
pymemd_process_get_estimates (PymemdProcess *self)
{
  return self->estimates;
}

gint64
pymemd_process_get_rollup_cost (PymemdProcess *self)
{
  return self->rollup_cost_us;
}

guint64
pymemd_process_get_rollup_due (PymemdProcess *self)
{
  return self->rollup_due;
}

void
pymemd_process_set_rollup_due (PymemdProcess *self, guint64 tick)
{
  self->rollup_due = tick;
}

const PymemdCounters *
pymemd_process_get_rollup (PymemdProcess *self)
{
  return self->has_rollup ? &self->rollup : NULL;
}

gint64
pymemd_process_get_sampled_at (PymemdProcess *self)
{
  return self->sampled_at;
}

void
pymemd_process_set_categories (PymemdProcess *self, const PymemdCategoryUsage *usage)
{
  memcpy (self->categories, usage, sizeof self->categories);
  self->has_categories = TRUE;
  g_clear_error (&self->detail_error);
}

const PymemdCategoryUsage *
pymemd_process_get_categories (PymemdProcess *self)
{
  return self->has_categories ? self->categories : NULL;
}

void
pymemd_process_set_detail_error (PymemdProcess *self, const GError *error)
{
  g_clear_error (&self->detail_error);
  self->detail_error = g_error_copy (error);
}

const GError *
pymemd_process_get_detail_error (PymemdProcess *self)
{
  return self->detail_error;
}

guint64
pymemd_process_get_detail_tick (PymemdProcess *self)
{
  return self->detail_tick;
}

void
pymemd_process_set_detail_tick (PymemdProcess *self, guint64 tick)
{
  self->detail_tick = tick;
}

void
pymemd_process_set_top_mappings (PymemdProcess *self, GArray *mappings)
{
  g_clear_pointer (&self->top_mappings, g_array_unref);
  self->top_mappings = g_array_ref (mappings);
}

GArray *
pymemd_process_get_top_mappings (PymemdProcess *self)
{
  return self->top_mappings;
}

void
pymemd_process_set_exact (PymemdProcess *self, const PymemdExactFigures *exact)
{
  self->exact = *exact;
  self->has_exact = TRUE;
  g_clear_error (&self->exact_error);
}

const PymemdExactFigures *
pymemd_process_get_exact (PymemdProcess *self)
{
  return self->has_exact ? &self->exact : NULL;
}

void
pymemd_process_set_exact_error (PymemdProcess *self, const GError *error)
{
  g_clear_error (&self->exact_error);
  self->exact_error = g_error_copy (error);
  self->has_exact = FALSE;
}

const GError *
pymemd_process_get_exact_error (PymemdProcess *self)
{
  return self->exact_error;
}
