/* Runs the passes over all interpreters: rollup every tick, detail and exact on their own cadence, within budgets. */
#pragma once

#include <glib-object.h>

#include "pymemd-discovery.h"
#include "pymemd-exact.h"
#include "pymemd-procfs.h"

G_BEGIN_DECLS

typedef enum {
  PYMEMD_SCAN_ROLLUP = 1 << 0, /* smaps_rollup of every interpreter */
  PYMEMD_SCAN_DETAIL = 1 << 1, /* smaps, classified into categories */
  PYMEMD_SCAN_EXACT  = 1 << 2, /* pagemap + kpagecount; implies DETAIL */
  PYMEMD_SCAN_KNOWN_ONLY = 1 << 3, /* no listing of /proc: the interpreters known
                                      already (process events find new ones and
                                      their execs; an exit fails the reads) */
  PYMEMD_SCAN_HEARD = 1 << 4, /* process events are heard: a change of a
                                 process's ids or name comes as one
                                 (pymemd_scanner_note_change ()) */
} PymemdScanFlags;

#define PYMEMD_SCAN_ALL (PYMEMD_SCAN_ROLLUP | PYMEMD_SCAN_DETAIL | PYMEMD_SCAN_EXACT)

/* Per-process cost bounds (see docs/pymemd.8, BUDGETS). */
typedef struct {
  guint64 rollup_max_stall_us; /* a process whose smaps_rollup read takes longer
                                  (CPU time: the lock hold) is sampled on fewer
                                  ticks, keeping its stall to this much per tick
                                  on average, and only when its own pages moved */
  guint64 detail_max_rss;     /* skip smaps of processes with more RSS (bytes) */
  guint64 detail_max_bytes;   /* stop reading a smaps file past this size */
  guint64 exact_max_mapped;   /* skip pagemap when resident mappings span more (bytes) */
  guint64 rollup_refresh_us;  /* a rollup tick reads smaps_rollup again only where
                                 the pages moved, or at the latest this long after
                                 the last read; 0: on every tick */
  guint64 detail_max_cpu_us;  /* give up one smaps read past this much CPU time */
  guint64 detail_share_us;    /* each user's share of detail reading: this much CPU
                                 time a second; a user over it waits, the others
                                 do not */
  guint64 detail_share_burst_us; /* ... of which a user may spend this much at
                                    once; 0: PYMEMD_SHARE_BURST_SECONDS' worth */
  guint64 rollup_share_us;    /* each user's share of the ticks' smaps_rollup
                                 reads, CPU µs a second, PYMEMD_ROLLUP_BURST_SECONDS'
                                 worth at once; a user over it has its figures
                                 stand as of their last read */
} PymemdScanBudget;

/* How many seconds of its rollup share a user may spend at once. */
#define PYMEMD_ROLLUP_BURST_SECONDS 10

/* How many seconds of its share a user may spend at once, unless the
 * budget says: a detail interval's worth at the default interval. */
#define PYMEMD_SHARE_BURST_SECONDS 30

/* A rollup tick reads a process's smaps_rollup again when its resident or
 * shared page count (statm) moved by more than this many pages since the
 * last read. */
#define PYMEMD_MOVED_PAGES 16

/* Why a rollup tick reads a process's smaps_rollup again (docs/pymemd.8,
 * SAMPLING). */
typedef enum {
  PYMEMD_RESAMPLE_NONE,    /* its figures stand */
  PYMEMD_RESAMPLE_FIRST,   /* no sample yet */
  PYMEMD_RESAMPLE_MOVED,   /* statm moved by more than PYMEMD_MOVED_PAGES */
  PYMEMD_RESAMPLE_SHARERS, /* an interpreter of the same image started or ended */
  PYMEMD_RESAMPLE_AGE,     /* its refresh came (pymemd_scanner_refresh_due ()) */
} PymemdResample;

/* The rule: THEN is statm at the last read (NULL: none), NOW this tick's. */
PymemdResample pymemd_scanner_resample_reason (const PymemdStatm *then,
                                               const PymemdStatm *now,
                                               gboolean           sharers_changed,
                                               gboolean           refresh_due);
/* Whether a refresh of a process whose refreshes fall at PHASE_US + k *
 * PERIOD_US (monotonic µs) came since its last read at LAST_US: never
 * more than PERIOD_US after it, and for processes of distinct phases
 * spread evenly over the period. A PERIOD_US of 0: always. */
gboolean       pymemd_scanner_refresh_due (guint64 phase_us,
                                           gint64  last_us,
                                           gint64  now_us,
                                           guint64 period_us);

/* Works out from the last read READ (with statm THEN) what a read would
 * show now (statm NOW) where only the process's own anonymous pages
 * moved, all of them its alone and dirty at the read: RSS, PSS and the
 * anonymous, dirty and private dirty figures move by the anonymous pages
 * statm gained or lost. FALSE where that cannot be known: read then. */
gboolean       pymemd_scanner_estimate (const PymemdCounters *read,
                                        const PymemdStatm    *then,
                                        const PymemdStatm    *now,
                                        gsize                 page_size,
                                        PymemdCounters       *estimate);

#define PYMEMD_TYPE_SCANNER (pymemd_scanner_get_type ())
G_DECLARE_FINAL_TYPE (PymemdScanner, pymemd_scanner, PYMEMD, SCANNER, GObject)

PymemdScanner *pymemd_scanner_new (PymemdProcfs *procfs,
                                   GError      **error);

void        pymemd_scanner_get_budget (PymemdScanner    *self,
                                       PymemdScanBudget *budget);
void        pymemd_scanner_set_budget (PymemdScanner          *self,
                                       const PymemdScanBudget *budget);

/* Reads again which processes the procfs hides from whom (its mount
 * options), for the service's access decisions; the caller's thread must
 * be the one that reads them (pymemd_procfs_get_visibility ()). */
void        pymemd_scanner_refresh_visibility (PymemdScanner *self);

gboolean    pymemd_scanner_scan (PymemdScanner   *self,
                                 PymemdScanFlags  flags,
                                 GError         **error);

/* Each user's share of looks at processes (pymemd_discovery_set_look_share ()). */
void        pymemd_scanner_set_look_share (PymemdScanner *self,
                                           guint64        us_per_second,
                                           guint64        burst_us);

/* Watch only OWNER's processes (session mode); -1: everyone's. */
void        pymemd_scanner_set_owner (PymemdScanner *self,
                                      gint64         owner);
PymemdProcfs *pymemd_scanner_get_procfs (PymemdScanner *self);
const char *pymemd_scanner_get_boot_id (PymemdScanner *self);
gint64      pymemd_scanner_get_timestamp (PymemdScanner *self);
/* The interpreters with a sample, sorted by pid (new array, new refs). */
GPtrArray  *pymemd_scanner_get_processes (PymemdScanner *self);
/* NULL until an exact pass has succeeded. */
const PymemdPythonSet *pymemd_scanner_get_python_set (PymemdScanner *self);
/* Why the exact pass cannot run here, or NULL. */
const GError *pymemd_scanner_get_exact_error (PymemdScanner *self);

/* Looks at PIDS (N of them) now, as process events ask, and samples the
 * interpreters found among them. Appends to OTHERS (when not NULL) the
 * pids that are alive and no interpreter. TRUE if the watched set changed. */
gboolean    pymemd_scanner_examine_pids (PymemdScanner *self,
                                         const int     *pids,
                                         guint          n_pids,
                                         GArray        *others);
/* Whether PID is a watched interpreter. */
gboolean    pymemd_scanner_knows_pid (PymemdScanner *self,
                                      int            pid);
/* PID ran exec: its next look replaces a known interpreter there. */
void        pymemd_scanner_note_exec (PymemdScanner *self,
                                      int            pid);
/* PID's ids or name changed (a process event): its next tick reads its
 * status. PID 0: events were lost, every process's status is read. */
void        pymemd_scanner_note_change (PymemdScanner *self,
                                        int            pid);
/* PID, no interpreter, exited: what was found of it is forgotten. */
void        pymemd_scanner_note_exit (PymemdScanner *self,
                                      int            pid);
/* Whether PID, no interpreter yet, runs a program that links libpython,
 * which its dynamic loader has not mapped yet. */
gboolean    pymemd_scanner_awaits_loader (PymemdScanner *self,
                                          int            pid);

/* Reads PROCESS's smaps now (within the detail budget): its categories,
 * top mappings and sample. One process's detail pass, out of turn. */
gboolean    pymemd_scanner_refresh_detail (PymemdScanner *self,
                                           PymemdProcess *process,
                                           GError       **error);
/* Reads again who PROCESS runs as (pymemd_procfs_read_credentials ()),
 * for a decision that must not rest on the last scan's. */
gboolean    pymemd_scanner_refresh_credentials (PymemdScanner *self,
                                                PymemdProcess *process,
                                                GError       **error);

G_END_DECLS
