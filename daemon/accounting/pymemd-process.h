/* The model of one watched interpreter: identity, latest sample, latest detail and exact figures. */
#pragma once

#include <glib-object.h>

#include "pymemd-classify.h"
#include "pymemd-elf.h"
#include "pymemd-exact.h"
#include "pymemd-pidfiles.h"
#include "pymemd-smaps.h"

G_BEGIN_DECLS

#define PYMEMD_TYPE_PROCESS (pymemd_process_get_type ())
G_DECLARE_FINAL_TYPE (PymemdProcess, pymemd_process, PYMEMD, PROCESS, GObject)

typedef struct {
  PymemdCounters counters;
  guint          n_mappings;
} PymemdCategoryUsage;

/* Takes ownership of DIR_FD, an open /proc/PID directory. */
PymemdProcess *pymemd_process_new (int         pid,
                                   guint64     start_time,
                                   int         dir_fd);

/* A copy of every figure SELF holds now, for readers on another thread
 * than the scanner's: the scanner goes on changing SELF, never the copy.
 * The copy reads /proc through SELF's directory, which it keeps open. */
PymemdProcess *pymemd_process_snapshot (PymemdProcess *self);
/* The process a snapshot was taken of (SELF if it is none): the one that
 * lives from scan to scan, to hang what outlives a scan on. */
PymemdProcess *pymemd_process_get_origin (PymemdProcess *self);

int         pymemd_process_get_pid (PymemdProcess *self);
guint64     pymemd_process_get_start_time (PymemdProcess *self);
int         pymemd_process_get_dir_fd (PymemdProcess *self);

/* What discovery learnt: set once per identity, refreshed on exec. */
void        pymemd_process_set_identity (PymemdProcess *self,
                                         const char    *exe,
                                         const char    *cmdline,
                                         gboolean       exe_is_python,
                                         guint          python_version,
                                         guint64        exe_dev,
                                         guint64        exe_inode);
/* Who it runs as, read again on every scan: a process may change its ids
 * or its dumpability at any time. */
void        pymemd_process_set_credentials (PymemdProcess           *self,
                                            const PymemdCredentials *credentials);
const PymemdCredentials *pymemd_process_get_credentials (PymemdProcess *self);
/* The owner stamp taken just before the credentials were last read in
 * full, and when (monotonic µs); NULL before the first such read. */
void        pymemd_process_set_owner_stamp (PymemdProcess          *self,
                                            const PymemdOwnerStamp *stamp,
                                            gint64                  read_at);
const PymemdOwnerStamp *pymemd_process_get_owner_stamp (PymemdProcess *self,
                                                        gint64        *read_at);
/* /proc/PID/statm, kept open between ticks (-1: not yet); set closes the
 * one held. An open procfs file belongs to the process it was opened for:
 * once that exits it reads ESRCH, even if its pid is used again. */
int         pymemd_process_get_statm_fd (PymemdProcess *self);
void        pymemd_process_set_statm_fd (PymemdProcess *self,
                                         int            fd);
/* The real uid, and the Name of /proc/PID/status (what every user may read). */
guint32     pymemd_process_get_uid (PymemdProcess *self);
const char *pymemd_process_get_status_name (PymemdProcess *self);
const char *pymemd_process_get_exe (PymemdProcess *self);
const char *pymemd_process_get_cmdline (PymemdProcess *self);
gboolean    pymemd_process_get_exe_is_python (PymemdProcess *self);
guint       pymemd_process_get_python_version (PymemdProcess *self);
gboolean    pymemd_process_same_exe (PymemdProcess *self,
                                     guint64        dev,
                                     guint64        inode);

/* The mapped file that holds the interpreter (the executable, libpython,
 * or the python a loader was asked to run), as its path appears in the
 * process's maps, and what its ELF told. */
void        pymemd_process_set_interpreter (PymemdProcess       *self,
                                            const char          *image_path,
                                            const PymemdElfInfo *image);
const char *pymemd_process_get_interpreter_path (PymemdProcess *self);
const PymemdElfInfo *pymemd_process_get_interpreter_image (PymemdProcess *self);

/* The latest smaps_rollup sample (NULL before the first), and how long
 * reading it took: the kernel held the process's mmap lock that long. */
void                  pymemd_process_set_rollup (PymemdProcess        *self,
                                                 const PymemdCounters *rollup,
                                                 gint64                when,
                                                 gint64                cost_us);
gint64                pymemd_process_get_rollup_cost (PymemdProcess *self);
/* The sum of the samples of PROCESSES (PymemdProcess); with none, every
 * field is present and 0: nothing to sum is 0, not unknown. */
void                  pymemd_process_sum_rollups (GPtrArray      *processes,
                                                  PymemdCounters *totals);
/* The scanner's tick at which the next rollup sample is due. */
guint64               pymemd_process_get_rollup_due (PymemdProcess *self);
void                  pymemd_process_set_rollup_due (PymemdProcess *self,
                                                     guint64        tick);
const PymemdCounters *pymemd_process_get_rollup (PymemdProcess *self);
/* When the sample was last read, or vouched for by a tick that found the
 * process's statm within the moved threshold of the read's (see
 * pymemd_process_confirm_rollup ()): real-time µs. */
gint64                pymemd_process_get_sampled_at (PymemdProcess *self);
void                  pymemd_process_confirm_rollup (PymemdProcess *self,
                                                     gint64         when);
/* Shows ESTIMATE, worked out from the last read for the process's STATM
 * now (docs/pymemd.8, SAMPLING), as its sample at WHEN (real-time µs);
 * confirm goes back to the read's figures. */
void                  pymemd_process_set_estimate (PymemdProcess        *self,
                                                   const PymemdCounters *estimate,
                                                   const PymemdStatm    *statm,
                                                   gint64                when);
/* The last read's figures (NULL before the first), the statm the shown
 * figures stand for, and how many estimates were shown in all. */
const PymemdCounters *pymemd_process_get_read_rollup (PymemdProcess *self);
const PymemdStatm    *pymemd_process_get_shown_statm (PymemdProcess *self);
guint64               pymemd_process_get_estimates (PymemdProcess *self);
/* The statm read just before the sample was (monotonic READ_AT µs), to
 * tell on later ticks whether the process's pages moved since; and how
 * many samples were read in all. */
void                  pymemd_process_set_read_statm (PymemdProcess     *self,
                                                     const PymemdStatm *statm,
                                                     gint64             read_at);
const PymemdStatm    *pymemd_process_get_read_statm (PymemdProcess *self,
                                                     gint64        *read_at);
guint64               pymemd_process_get_rollup_reads (PymemdProcess *self);

/* The latest detail pass: per-category usage, or why there is none. */
void  pymemd_process_set_categories (PymemdProcess             *self,
                                     const PymemdCategoryUsage *usage);
const PymemdCategoryUsage *pymemd_process_get_categories (PymemdProcess *self);
void  pymemd_process_set_detail_error (PymemdProcess *self,
                                       const GError  *error);
const GError *pymemd_process_get_detail_error (PymemdProcess *self);
/* The scanner's tick of the last detail read made, whatever it gave (0: none):
 * a pass reads those waiting longest first. */
guint64       pymemd_process_get_detail_tick (PymemdProcess *self);
void          pymemd_process_set_detail_tick (PymemdProcess *self,
                                              guint64        tick);

/* How the latest detail pass told pymalloc's arenas: EXACT when from the
 * interpreter's own table (ARENAS of them), else guessed from the
 * mappings' shape for the reason in ERROR. */
void          pymemd_process_set_pymalloc_source (PymemdProcess *self,
                                                  gboolean       exact,
                                                  guint          arenas,
                                                  const GError  *error);
gboolean      pymemd_process_get_pymalloc_exact (PymemdProcess *self,
                                                 guint         *arenas);
const GError *pymemd_process_get_pymalloc_error (PymemdProcess *self);

/* The largest mappings of the latest detail pass, by PSS (PymemdMapping). */
void    pymemd_process_set_top_mappings (PymemdProcess *self,
                                         GArray        *mappings);
GArray *pymemd_process_get_top_mappings (PymemdProcess *self);

/* The latest exact pass, or why there is none. */
void  pymemd_process_set_exact (PymemdProcess            *self,
                                const PymemdExactFigures *exact);
const PymemdExactFigures *pymemd_process_get_exact (PymemdProcess *self);
void  pymemd_process_set_exact_error (PymemdProcess *self,
                                      const GError  *error);
const GError *pymemd_process_get_exact_error (PymemdProcess *self);

G_END_DECLS
