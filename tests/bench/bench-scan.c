/* bench-scan: CPU cost of pymemd's scanner against the cheapest loop that
 * reads the same procfs files, measured side by side in one process.
 *
 * Modes (all report process CPU time, CLOCK_PROCESS_CPUTIME_ID = user+sys,
 * and wall time; each repetition runs the scanner then its floor, and the
 * median over --repeat repetitions is printed):
 *
 *   (default)       rollup tick: N x pymemd_scanner_scan (PYMEMD_SCAN_ROLLUP)
 *                   vs the floor: for every pid the scanner sampled,
 *                   open ("/proc/PID/smaps_rollup") + read (4 KiB buffer)
 *                   until EOF + close.  The scanner's figure includes its
 *                   discovery update (readdir of /proc, one fstatat per pid)
 *                   and parsing; the floor does neither.
 *
 *   --detail        full pass: N x pymemd_scanner_scan (PYMEMD_SCAN_ALL)
 *                   vs the floor: for every pid (no smaps_rollup: a full
 *                   pass takes its samples from smaps), all of /proc/PID/smaps (64 KiB reads, scanned only for
 *                   header, Rss: and Swap: lines), then pread of
 *                   /proc/PID/pagemap over every mapping with Rss or Swap > 0
 *                   (8192 entries a pread, as pymemd does).  The floor does
 *                   NOT read /proc/kpagecount or /proc/kpageflags (pymemd
 *                   does, in windows over the sorted PFNs): the ratio
 *                   charges that to pymemd.  Also printed: scanner
 *                   ROLLUP|DETAIL vs the floor of smaps alone.
 *
 *   --exact-only PID   the exact pass alone on one process:
 *                   pymemd_exact_begin + pymemd_exact_add_process +
 *                   pymemd_exact_finish (pagemap, sort, kpagecount and
 *                   kpageflags) over the mappings parsed once from its smaps,
 *                   vs the floor: pread of the same pagemap ranges, nothing
 *                   else.  Reported per GiB of resident mappings' span.
 *                   Also shown: the cost of reading kpagecount and
 *                   kpageflags over the same frame windows pymemd reads
 *                   (windows computed untimed beforehand), and the exact
 *                   pass against pagemap + both of those.
 *
 *   --moved TICKS   sampling what moved (issue 15): TICKS rollup ticks
 *                   --interval seconds apart (default 2), each timed with
 *                   the copies of its processes the daemon publishes, and
 *                   after each the floor: open + read + close of every
 *                   sampled process's smaps_rollup, timed, whose figures
 *                   are then compared with the figures the tick let
 *                   stand or worked out from statm (the correctness check: RSS within
 *                   PYMEMD_MOVED_PAGES pages, PSS shown against the full
 *                   read; figures the tick read are full reads already).  Printed per tick and
 *                   as medians: CPU per tick vs the floor, how many
 *                   smaps_rollup the tick read.
 *
 * Machine-readable lines start with "RESULT" (key=value), for run-bench.sh.
 *
 * Build by hand (from the repo root, after `make`):
 *   gcc -std=gnu11 -O2 -g -Wall -I. -Icommon -Idaemon/accounting -Idaemon/history
 *       -Idaemon/inspect -Idaemon/service -o tests/bench/bench-scan \
 *       tests/bench/bench-scan.c daemon/libpymemd.a common/libpymemd-common.a \
 *       $(pkg-config --cflags --libs glib-2.0 gio-2.0 gio-unix-2.0 json-glib-1.0 libelf)
 * or with the rule in tests/bench/Makefile.am.inc.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "pymemd-exact.h"
#include "pymemd-process.h"
#include "pymemd-procfs.h"
#include "pymemd-scanner.h"
#include "pymemd-smaps.h"

#define PAGEMAP_CHUNK 8192 /* entries per pread, as in pymemd-exact.c */
#define USER_SPACE_END (G_GUINT64_CONSTANT (1) << 56)

static const char *proc_root = "/proc";

/* ---------------------------------------------------------------- timing */

typedef struct {
  double cpu_ms;
  double wall_ms;
} Cost;

typedef struct {
  struct timespec cpu;
  struct timespec wall;
} Stamp;

static void
stamp (Stamp *s)
{
  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &s->cpu);
  clock_gettime (CLOCK_MONOTONIC, &s->wall);
}

static double
ms_between (const struct timespec *a, const struct timespec *b)
{
  return (double) (b->tv_sec - a->tv_sec) * 1e3 + (double) (b->tv_nsec - a->tv_nsec) / 1e6;
}

static Cost
cost_since (const Stamp *start, guint divide_by)
{
  Stamp end;
  Cost c;

  stamp (&end);
  c.cpu_ms = ms_between (&start->cpu, &end.cpu) / divide_by;
  c.wall_ms = ms_between (&start->wall, &end.wall) / divide_by;
  return c;
}

static int
compare_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static double
median (double *values, guint n)
{
  qsort (values, n, sizeof *values, compare_double);
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

/* Median of a series of costs, CPU and wall separately. */
static Cost
median_cost (const Cost *costs, guint n)
{
  g_autofree double *cpu = g_new (double, n);
  g_autofree double *wall = g_new (double, n);
  Cost m;

  for (guint i = 0; i < n; i++)
    {
      cpu[i] = costs[i].cpu_ms;
      wall[i] = costs[i].wall_ms;
    }
  m.cpu_ms = median (cpu, n);
  m.wall_ms = median (wall, n);
  return m;
}

/* --------------------------------------------------------------- floors */

/* Reads FD to EOF through BUF; returns bytes read. */
static gsize
drain (int fd, char *buf, gsize size)
{
  gsize total = 0;
  gssize n;

  while ((n = read (fd, buf, size)) > 0)
    total += (gsize) n;
  return total;
}

static int
open_pid_file (int pid, const char *name)
{
  char path[256];

  g_snprintf (path, sizeof path, "%s/%d/%s", proc_root, pid, name);
  return open (path, O_RDONLY | O_CLOEXEC);
}

static guint64
floor_rollup (int pid)
{
  char buf[4096];
  int fd = open_pid_file (pid, "smaps_rollup");
  gsize n;

  if (fd < 0)
    return 0;
  n = drain (fd, buf, sizeof buf);
  close (fd);
  return n;
}

typedef struct {
  guint64 start, end, rss_kb, swap_kb;
} Range;

static guint64
parse_kb (const char *p, const char *end)
{
  guint64 v = 0;

  while (p < end && (*p == ' ' || *p == '\t'))
    p++;
  while (p < end && *p >= '0' && *p <= '9')
    v = v * 10 + (guint64) (*p++ - '0');
  return v;
}

/* One line of smaps: a header opens a range, Rss:/Swap: fill it in. */
static void
floor_smaps_line (const char *line, const char *end, GArray *ranges)
{
  char c = line[0];

  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))
    {
      Range r = { 0 };
      char *p;
      r.start = g_ascii_strtoull (line, &p, 16);
      r.end = g_ascii_strtoull (p + 1, NULL, 16);
      g_array_append_val (ranges, r);
    }
  else if (ranges->len > 0 && end - line > 4 && memcmp (line, "Rss:", 4) == 0)
    g_array_index (ranges, Range, ranges->len - 1).rss_kb = parse_kb (line + 4, end);
  else if (ranges->len > 0 && end - line > 5 && memcmp (line, "Swap:", 5) == 0)
    g_array_index (ranges, Range, ranges->len - 1).swap_kb = parse_kb (line + 5, end);
}

/* Reads all of smaps with 64 KiB reads, noting each mapping's range, Rss
 * and Swap; returns bytes read. */
static guint64
floor_smaps (int pid, GArray *ranges)
{
  static char buf[65536 + 1];
  gsize have = 0;
  guint64 total = 0;
  int fd = open_pid_file (pid, "smaps");

  g_array_set_size (ranges, 0);
  if (fd < 0)
    return 0;
  for (;;)
    {
      gssize n = read (fd, buf + have, sizeof buf - 1 - have);
      char *line = buf, *end, *nl;

      if (n <= 0)
        break;
      total += (guint64) n;
      end = buf + have + n;
      while ((nl = memchr (line, '\n', (gsize) (end - line))) != NULL)
        {
          floor_smaps_line (line, nl, ranges);
          line = nl + 1;
        }
      have = (gsize) (end - line);
      memmove (buf, line, have);
      if (have == sizeof buf - 1)
        have = 0; /* a line longer than the buffer: drop it */
    }
  close (fd);
  return total;
}

/* pread of pagemap over [start, end) in PAGEMAP_CHUNK-entry chunks. */
static guint64
pagemap_range (int fd, guint64 start, guint64 end, gsize page_size)
{
  static guint64 entries[PAGEMAP_CHUNK];
  guint64 first = start / page_size, last = end / page_size, total = 0;

  for (guint64 page = first; page < last; page += PAGEMAP_CHUNK)
    {
      gsize want = (gsize) MIN ((guint64) PAGEMAP_CHUNK, last - page) * sizeof (guint64);
      gssize n = pread (fd, entries, want, (off_t) (page * sizeof (guint64)));
      if (n <= 0)
        break;
      total += (guint64) n;
    }
  return total;
}

static guint64
floor_pagemap (int pid, GArray *ranges, gsize page_size)
{
  guint64 total = 0;
  int fd = open_pid_file (pid, "pagemap");

  if (fd < 0)
    return 0;
  for (guint i = 0; i < ranges->len; i++)
    {
      const Range *r = &g_array_index (ranges, Range, i);
      if (r->end > USER_SPACE_END || (r->rss_kb == 0 && r->swap_kb == 0))
        continue;
      total += pagemap_range (fd, r->start, r->end, page_size);
    }
  close (fd);
  return total;
}

/* ---------------------------------------------------------------- modes */

static GArray *
scanned_pids (PymemdScanner *scanner)
{
  g_autoptr(GPtrArray) processes = pymemd_scanner_get_processes (scanner);
  GArray *pids = g_array_new (FALSE, FALSE, sizeof (int));

  for (guint i = 0; i < processes->len; i++)
    {
      int pid = pymemd_process_get_pid (g_ptr_array_index (processes, i));
      g_array_append_val (pids, pid);
    }
  return pids;
}

static Cost
run_scanner (PymemdScanner *scanner, PymemdScanFlags flags, guint iterations)
{
  Stamp start;

  stamp (&start);
  for (guint i = 0; i < iterations; i++)
    {
      g_autoptr(GError) error = NULL;
      if (!pymemd_scanner_scan (scanner, flags, &error))
        {
          fprintf (stderr, "bench-scan: scan: %s\n", error->message);
          exit (1);
        }
    }
  return cost_since (&start, iterations);
}

typedef enum {
  FLOOR_ROLLUP = 1 << 0,
  FLOOR_SMAPS = 1 << 1,
  FLOOR_PAGEMAP = 1 << 2,
} FloorParts;

static guint64 floor_bytes; /* per pass, to show what the floor read */

static Cost
run_floor (GArray *pids, FloorParts parts, guint iterations, gsize page_size)
{
  g_autoptr(GArray) ranges = g_array_new (FALSE, FALSE, sizeof (Range));
  Stamp start;
  guint64 bytes = 0;

  stamp (&start);
  for (guint i = 0; i < iterations; i++)
    for (guint p = 0; p < pids->len; p++)
      {
        int pid = g_array_index (pids, int, p);
        if (parts & FLOOR_ROLLUP)
          bytes += floor_rollup (pid);
        if (parts & FLOOR_SMAPS)
          bytes += floor_smaps (pid, ranges);
        if (parts & FLOOR_PAGEMAP)
          bytes += floor_pagemap (pid, ranges, page_size);
      }
  floor_bytes = bytes / iterations;
  return cost_since (&start, iterations);
}

static void
print_pair (const char *what, const char *a_name, Cost a, const char *b_name, Cost b)
{
  printf ("%-34s %-14s cpu %9.3f ms  wall %9.3f ms\n", what, a_name, a.cpu_ms, a.wall_ms);
  printf ("%-34s %-14s cpu %9.3f ms  wall %9.3f ms\n", "", b_name, b.cpu_ms, b.wall_ms);
  printf ("%-34s %-14s cpu %9.2fx     wall %9.2fx\n", "", "ratio", a.cpu_ms / b.cpu_ms,
          a.wall_ms / b.wall_ms);
}

static int
mode_scan (PymemdScanner *scanner, gboolean detail, guint iterations, guint repeat,
           gsize page_size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) pids = NULL;
  g_autofree Cost *scan = g_new (Cost, repeat);
  g_autofree Cost *floor = g_new (Cost, repeat);
  g_autofree Cost *scan_detail = g_new (Cost, repeat);
  g_autofree Cost *floor_detail = g_new (Cost, repeat);
  PymemdScanFlags flags = detail ? PYMEMD_SCAN_ALL : PYMEMD_SCAN_ROLLUP;
  /* A full pass takes its samples from smaps and never reads smaps_rollup. */
  FloorParts parts = detail ? FLOOR_SMAPS | FLOOR_PAGEMAP : FLOOR_ROLLUP;
  guint64 bytes_all = 0, bytes_detail = 0;
  Cost ms, mf;

  /* Warm-up: discovery examines every process once, ELF cache filled. */
  if (!pymemd_scanner_scan (scanner, flags, &error))
    {
      fprintf (stderr, "bench-scan: warm-up scan: %s\n", error->message);
      return 1;
    }
  pids = scanned_pids (scanner);
  if (detail && pymemd_scanner_get_exact_error (scanner) != NULL)
    fprintf (stderr, "bench-scan: warning: no exact pass: %s\n",
             pymemd_scanner_get_exact_error (scanner)->message);

  for (guint r = 0; r < repeat; r++)
    {
      scan[r] = run_scanner (scanner, flags, iterations);
      floor[r] = run_floor (pids, parts, iterations, page_size);
      bytes_all = floor_bytes;
      if (detail)
        {
          scan_detail[r] = run_scanner (scanner, PYMEMD_SCAN_ROLLUP | PYMEMD_SCAN_DETAIL,
                                        iterations);
          floor_detail[r] = run_floor (pids, FLOOR_SMAPS, iterations, page_size);
          bytes_detail = floor_bytes;
        }
      fprintf (stderr, "  rep %u: scanner %.3f ms, floor %.3f ms (cpu per pass)\n", r + 1,
               scan[r].cpu_ms, floor[r].cpu_ms);
    }

  ms = median_cost (scan, repeat);
  mf = median_cost (floor, repeat);
  printf ("%u Python processes, %u iterations x %u repetitions, medians per pass\n",
          pids->len, iterations, repeat);
  if (!detail)
    {
      printf ("floor reads %" G_GUINT64_FORMAT " bytes of smaps_rollup per pass\n", bytes_all);
      print_pair ("rollup tick", "pymemd", ms, "floor", mf);
      printf ("RESULT mode=rollup pids=%u scanner_cpu_ms=%.4f floor_cpu_ms=%.4f ratio=%.3f "
              "scanner_wall_ms=%.4f floor_wall_ms=%.4f\n",
              pids->len, ms.cpu_ms, mf.cpu_ms, ms.cpu_ms / mf.cpu_ms, ms.wall_ms, mf.wall_ms);
    }
  else
    {
      Cost sd = median_cost (scan_detail, repeat), fd = median_cost (floor_detail, repeat);

      printf ("floor reads %" G_GUINT64_FORMAT " bytes per pass (smaps + pagemap; "
              "no kpagecount/kpageflags)\n", bytes_all);
      print_pair ("full pass (detail+exact)", "pymemd ALL", ms,
                  "floor", mf);
      printf ("floor reads %" G_GUINT64_FORMAT " bytes per pass (smaps)\n", bytes_detail);
      print_pair ("detail (no exact)", "pymemd R|D", sd, "floor", fd);
      printf ("RESULT mode=detail pids=%u scanner_cpu_ms=%.4f floor_cpu_ms=%.4f ratio=%.3f "
              "scanner_wall_ms=%.4f floor_wall_ms=%.4f detail_cpu_ms=%.4f "
              "detail_floor_cpu_ms=%.4f\n",
              pids->len, ms.cpu_ms, mf.cpu_ms, ms.cpu_ms / mf.cpu_ms, ms.wall_ms, mf.wall_ms,
              sd.cpu_ms, fd.cpu_ms);
    }
  return 0;
}

/* The frame windows pymemd-exact.c reads kpagecount/kpageflags in: the
 * sorted, distinct PFNs of present pages, grouped while a window spans under
 * 32768 frames and no gap exceeds 16 (KPAGE_WINDOW, KPAGE_MAX_GAP). */
typedef struct {
  guint64 first;
  guint64 n;
} Window;

static int
compare_u64 (const void *a, const void *b)
{
  guint64 x = *(const guint64 *) a, y = *(const guint64 *) b;
  return (x > y) - (x < y);
}

static GArray *
kpage_windows (int dir_fd, GArray *mappings, gsize page_size, guint64 *frames)
{
  g_autoptr(GArray) pfns = g_array_new (FALSE, FALSE, sizeof (guint64));
  GArray *windows = g_array_new (FALSE, FALSE, sizeof (Window));
  g_autofree guint64 *entries = g_new (guint64, PAGEMAP_CHUNK);
  int pm = pymemd_procfs_open_at (dir_fd, "pagemap", NULL);
  guint64 *v;
  gsize n = 0;

  for (guint m = 0; pm >= 0 && m < mappings->len; m++)
    {
      const PymemdMapping *map = &g_array_index (mappings, PymemdMapping, m);
      if (map->end > USER_SPACE_END || (map->counters.value[PYMEMD_FIELD_RSS] == 0 &&
                                        map->counters.value[PYMEMD_FIELD_SWAP] == 0))
        continue;
      for (guint64 page = map->start / page_size; page < map->end / page_size;
           page += PAGEMAP_CHUNK)
        {
          gsize want = (gsize) MIN ((guint64) PAGEMAP_CHUNK, map->end / page_size - page);
          gssize got = pread (pm, entries, want * 8, (off_t) (page * 8));
          for (gssize i = 0; i < got / 8; i++)
            if (entries[i] >> 63)
              {
                guint64 pfn = entries[i] & ((G_GUINT64_CONSTANT (1) << 55) - 1);
                g_array_append_val (pfns, pfn);
              }
        }
    }
  if (pm >= 0)
    close (pm);
  v = (guint64 *) (void *) pfns->data;
  qsort (v, pfns->len, sizeof *v, compare_u64);
  *frames = 0;
  for (gsize i = 0; i < pfns->len; i = n)
    {
      Window w = { v[i], 1 };
      guint64 last = v[i];
      for (n = i + 1; n < pfns->len; n++)
        {
          if (v[n] - w.first >= 32768 || v[n] - last > 16)
            break;
          last = v[n];
        }
      w.n = last - w.first + 1;
      *frames += w.n;
      g_array_append_val (windows, w);
    }
  return windows;
}

static guint64
read_windows (int fd, GArray *windows)
{
  static guint64 buf[32768];
  guint64 total = 0;

  for (guint i = 0; i < windows->len; i++)
    {
      const Window *w = &g_array_index (windows, Window, i);
      gssize got = pread (fd, buf, w->n * 8, (off_t) (w->first * 8));
      if (got > 0)
        total += (guint64) got;
    }
  return total;
}

static int
mode_exact_only (PymemdProcfs *procfs, int pid, guint iterations, guint repeat)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) mappings = pymemd_mapping_array_new ();
  g_autoptr(GArray) windows = NULL;
  g_autoptr(PymemdExact) exact = NULL;
  g_autofree Cost *pass = g_new (Cost, repeat);
  g_autofree Cost *add = g_new (Cost, repeat);
  g_autofree Cost *floor = g_new (Cost, repeat);
  g_autofree Cost *fcount = g_new (Cost, repeat);
  g_autofree Cost *fflags = g_new (Cost, repeat);
  gsize page_size = pymemd_procfs_get_page_size (procfs);
  PymemdExactFigures figures;
  PymemdPythonSet set;
  guint64 span = 0, pagemap_bytes = 0, frames = 0;
  int dir_fd, fd, count_fd, flags_fd;
  double gib;
  Cost mp, ma, mf, mc, mg, all;

  dir_fd = pymemd_procfs_open_pid_dir (procfs, pid, &error);
  if (dir_fd < 0 || (fd = pymemd_procfs_open_at (dir_fd, "smaps", &error)) < 0 ||
      !pymemd_smaps_parse_fd (fd, "smaps", 0, FALSE, mappings, &error))
    {
      fprintf (stderr, "bench-scan: pid %d: %s\n", pid, error->message);
      return 1;
    }
  close (fd);
  exact = pymemd_exact_new (procfs, &error);
  count_fd = openat (pymemd_procfs_get_root_fd (procfs), "kpagecount", O_RDONLY | O_CLOEXEC);
  flags_fd = openat (pymemd_procfs_get_root_fd (procfs), "kpageflags", O_RDONLY | O_CLOEXEC);
  if (exact == NULL || count_fd < 0 || flags_fd < 0)
    {
      fprintf (stderr, "bench-scan: %s\n", error != NULL ? error->message : "kpagecount");
      return 1;
    }
  for (guint i = 0; i < mappings->len; i++)
    {
      const PymemdMapping *m = &g_array_index (mappings, PymemdMapping, i);
      if (m->end <= USER_SPACE_END &&
          (m->counters.value[PYMEMD_FIELD_RSS] > 0 || m->counters.value[PYMEMD_FIELD_SWAP] > 0))
        span += m->end - m->start;
    }
  gib = (double) span / (double) (G_GUINT64_CONSTANT (1) << 30);
  windows = kpage_windows (dir_fd, mappings, page_size, &frames);

  for (guint r = 0; r < repeat; r++)
    {
      Stamp start;

      /* pymemd's exact pass, split into pagemap reading and the rest. */
      pass[r].cpu_ms = pass[r].wall_ms = add[r].cpu_ms = add[r].wall_ms = 0;
      for (guint i = 0; i < iterations; i++)
        {
          Cost a, f;
          stamp (&start);
          pymemd_exact_begin (exact, 1);
          if (!pymemd_exact_add_process (exact, 0, dir_fd, mappings, &error))
            {
              fprintf (stderr, "bench-scan: exact: %s\n", error->message);
              return 1;
            }
          a = cost_since (&start, 1);
          if (!pymemd_exact_finish (exact, &figures, &set, &error))
            {
              fprintf (stderr, "bench-scan: exact: %s\n", error->message);
              return 1;
            }
          f = cost_since (&start, 1);
          add[r].cpu_ms += a.cpu_ms / iterations;
          add[r].wall_ms += a.wall_ms / iterations;
          pass[r].cpu_ms += f.cpu_ms / iterations;
          pass[r].wall_ms += f.wall_ms / iterations;
        }

      /* The floor: the same pagemap ranges, read and thrown away. */
      stamp (&start);
      for (guint i = 0; i < iterations; i++)
        {
          int pm = pymemd_procfs_open_at (dir_fd, "pagemap", NULL);
          pagemap_bytes = 0;
          for (guint m = 0; m < mappings->len; m++)
            {
              const PymemdMapping *map = &g_array_index (mappings, PymemdMapping, m);
              if (map->end > USER_SPACE_END || (map->counters.value[PYMEMD_FIELD_RSS] == 0 &&
                                                map->counters.value[PYMEMD_FIELD_SWAP] == 0))
                continue;
              pagemap_bytes += pagemap_range (pm, map->start, map->end, page_size);
            }
          close (pm);
        }
      floor[r] = cost_since (&start, iterations);

      /* Informative: the same kpagecount and kpageflags windows pymemd
       * reads (computed beforehand, untimed), read and thrown away. */
      stamp (&start);
      for (guint i = 0; i < iterations; i++)
        read_windows (count_fd, windows);
      fcount[r] = cost_since (&start, iterations);
      stamp (&start);
      for (guint i = 0; i < iterations; i++)
        read_windows (flags_fd, windows);
      fflags[r] = cost_since (&start, iterations);
      fprintf (stderr, "  rep %u: exact %.3f ms (pagemap part %.3f), floor %.3f ms, "
               "kpagecount %.3f ms, kpageflags %.3f ms (cpu)\n", r + 1, pass[r].cpu_ms,
               add[r].cpu_ms, floor[r].cpu_ms, fcount[r].cpu_ms, fflags[r].cpu_ms);
    }
  close (dir_fd);
  close (count_fd);
  close (flags_fd);

  mp = median_cost (pass, repeat);
  ma = median_cost (add, repeat);
  mf = median_cost (floor, repeat);
  mc = median_cost (fcount, repeat);
  mg = median_cost (fflags, repeat);
  all.cpu_ms = mf.cpu_ms + mc.cpu_ms + mg.cpu_ms;
  all.wall_ms = mf.wall_ms + mc.wall_ms + mg.wall_ms;
  printf ("pid %d: resident mappings span %.3f GiB; exact found %.3f GiB resident, "
          "uss %.3f GiB; floor reads %" G_GUINT64_FORMAT " bytes of pagemap; "
          "kpage windows: %u, %" G_GUINT64_FORMAT " frames\n",
          pid, gib, figures.resident / 1073741824.0, figures.uss / 1073741824.0, pagemap_bytes,
          windows->len, frames);
  printf ("%u iterations x %u repetitions, medians, per GiB of span:\n", iterations, repeat);
  printf ("%-36s cpu %9.3f ms/GiB  wall %9.3f ms/GiB\n", "pymemd exact pass",
          mp.cpu_ms / gib, mp.wall_ms / gib);
  printf ("%-36s cpu %9.3f ms/GiB  wall %9.3f ms/GiB\n", "  of which add_process (pagemap)",
          ma.cpu_ms / gib, ma.wall_ms / gib);
  printf ("%-36s cpu %9.3f ms/GiB  wall %9.3f ms/GiB\n", "floor: pagemap pread only",
          mf.cpu_ms / gib, mf.wall_ms / gib);
  printf ("%-36s cpu %9.2fx         wall %9.2fx\n", "ratio exact / pagemap floor",
          mp.cpu_ms / mf.cpu_ms, mp.wall_ms / mf.wall_ms);
  printf ("%-36s cpu %9.3f ms/GiB  wall %9.3f ms/GiB\n", "(info) kpagecount, same windows",
          mc.cpu_ms / gib, mc.wall_ms / gib);
  printf ("%-36s cpu %9.3f ms/GiB  wall %9.3f ms/GiB\n", "(info) kpageflags, same windows",
          mg.cpu_ms / gib, mg.wall_ms / gib);
  printf ("%-36s cpu %9.3f ms/GiB  wall %9.3f ms/GiB\n", "(info) pagemap+kpagecount+kpageflags",
          all.cpu_ms / gib, all.wall_ms / gib);
  printf ("%-36s cpu %9.2fx         wall %9.2fx\n", "(info) ratio exact / all three",
          mp.cpu_ms / all.cpu_ms, mp.wall_ms / all.wall_ms);
  printf ("RESULT mode=exact pid=%d span_gib=%.4f exact_cpu_ms_per_gib=%.3f "
          "add_cpu_ms_per_gib=%.3f floor_cpu_ms_per_gib=%.3f ratio=%.3f "
          "exact_wall_ms_per_gib=%.3f floor_wall_ms_per_gib=%.3f "
          "kpagecount_cpu_ms_per_gib=%.3f kpageflags_cpu_ms_per_gib=%.3f "
          "all_io_cpu_ms_per_gib=%.3f ratio_all_io=%.3f\n",
          pid, gib, mp.cpu_ms / gib, ma.cpu_ms / gib, mf.cpu_ms / gib, mp.cpu_ms / mf.cpu_ms,
          mp.wall_ms / gib, mf.wall_ms / gib, mc.cpu_ms / gib, mg.cpu_ms / gib,
          all.cpu_ms / gib, mp.cpu_ms / all.cpu_ms);
  return 0;
}

/* ------------------------------------------------------ what moved */

static guint64
sum_reads (GPtrArray *processes, GHashTable *before)
{
  guint64 reads = 0;

  for (guint i = 0; i < processes->len; i++)
    {
      PymemdProcess *process = g_ptr_array_index (processes, i);
      gpointer then = g_hash_table_lookup (before, process);
      reads += pymemd_process_get_rollup_reads (process) - (then != NULL ? GPOINTER_TO_SIZE (then) : 0);
    }
  return reads;
}

static gboolean
read_statm_now (int pid, PymemdStatm *statm)
{
  char buf[256];
  int fd = open_pid_file (pid, "statm");
  gssize n;

  if (fd < 0)
    return FALSE;
  n = read (fd, buf, sizeof buf - 1);
  close (fd);
  if (n <= 0)
    return FALSE;
  buf[n] = '\0';
  return pymemd_statm_parse (buf, statm, NULL);
}

static gboolean
statm_moved (const PymemdStatm *a, const PymemdStatm *b)
{
  return MAX (a->resident, b->resident) - MIN (a->resident, b->resident) > PYMEMD_MOVED_PAGES ||
         MAX (a->shared, b->shared) - MIN (a->shared, b->shared) > PYMEMD_MOVED_PAGES;
}

static int
mode_moved (PymemdScanner *scanner, guint ticks, double interval, gboolean known_only,
            gboolean unheard, gsize page_size)
{
  /* With process events the daemon lists /proc once a minute, not on a
   * tick, and hears of changed ids and names. */
  PymemdScanFlags flags = PYMEMD_SCAN_ROLLUP |
                          (known_only ? PYMEMD_SCAN_KNOWN_ONLY : 0) |
                          (known_only && !unheard ? PYMEMD_SCAN_HEARD : 0);
  g_autofree Cost *tick_cost = g_new0 (Cost, ticks);
  g_autofree Cost *floor_cost = g_new0 (Cost, ticks);
  g_autofree Cost *snapshot_cost = g_new0 (Cost, ticks);
  g_autofree double *read_share = g_new0 (double, ticks);
  g_autoptr(GPtrArray) published = NULL;
  guint64 worst_rss = 0, worst_pss = 0, rss_over = 0, pss_over = 0, checked = 0;
  guint64 paced = 0, moved_after = 0, total_estimated = 0;
  PymemdScanBudget budget;
  double worst_pss_rel = 0;
  g_autoptr(GError) error = NULL;
  Cost mt, mf;

  pymemd_scanner_get_budget (scanner, &budget);
  if (!pymemd_scanner_scan (scanner, PYMEMD_SCAN_ROLLUP, &error))
    {
      fprintf (stderr, "bench-scan: %s\n", error->message);
      return 1;
    }
  printf ("%-5s %8s %8s %6s %9s %9s %7s %6s %10s %10s\n", "tick", "procs", "reads", "est.", "tick cpu",
          "floor cpu", "ratio", "rss>", "max drss", "max dpss");
  for (guint t = 0; t < ticks; t++)
    {
      g_autoptr(GPtrArray) before_list = pymemd_scanner_get_processes (scanner);
      g_autoptr(GHashTable) before = g_hash_table_new (g_direct_hash, g_direct_equal);
      g_autoptr(GPtrArray) processes = NULL;
      guint64 tick_rss = 0, tick_pss = 0, tick_rss_over = 0, reads, estimates_before, estimated = 0;
      Stamp start;

      for (guint i = 0; i < before_list->len; i++)
        g_hash_table_insert (before, g_ptr_array_index (before_list, i),
                             GSIZE_TO_POINTER (pymemd_process_get_rollup_reads (g_ptr_array_index (before_list, i))));
      estimates_before = 0;
      for (guint i = 0; i < before_list->len; i++)
        estimates_before += pymemd_process_get_estimates (g_ptr_array_index (before_list, i));
      g_usleep ((gulong) (interval * G_USEC_PER_SEC));
      stamp (&start);
      if (!pymemd_scanner_scan (scanner, flags, &error))
        {
          fprintf (stderr, "bench-scan: %s\n", error->message);
          return 1;
        }
      processes = pymemd_scanner_get_processes (scanner);
      /* The daemon's tick ends with the copies it publishes (the monitor's
       * snapshot), the last tick's freed. */
      {
        Stamp copy_start;
        GPtrArray *snapshots = g_ptr_array_new_full (processes->len, g_object_unref);

        stamp (&copy_start);
        for (guint i = 0; i < processes->len; i++)
          g_ptr_array_add (snapshots, pymemd_process_snapshot (g_ptr_array_index (processes, i)));
        g_clear_pointer (&published, g_ptr_array_unref);
        published = snapshots;
        snapshot_cost[t] = cost_since (&copy_start, 1);
      }
      tick_cost[t] = cost_since (&start, 1);
      reads = sum_reads (processes, before);
      for (guint i = 0; i < processes->len; i++)
        if (g_hash_table_contains (before, g_ptr_array_index (processes, i)))
          estimated += pymemd_process_get_estimates (g_ptr_array_index (processes, i));
      estimated = estimated > estimates_before ? estimated - estimates_before : 0;
      total_estimated += estimated;
      read_share[t] = processes->len > 0 ? (double) reads / processes->len : 0;

      /* The floor: every watched process's smaps_rollup, read once. */
      stamp (&start);
      for (guint i = 0; i < processes->len; i++)
        floor_rollup (pymemd_process_get_pid (g_ptr_array_index (processes, i)));
      floor_cost[t] = cost_since (&start, 1);

      for (guint i = 0; i < processes->len; i++)
        {
          PymemdProcess *process = g_ptr_array_index (processes, i);
          const PymemdCounters *shown = pymemd_process_get_rollup (process);
          gpointer then = g_hash_table_lookup (before, process);
          PymemdCounters full;
          PymemdStatm s1, s2;
          /* The statm the shown figures stand for: the read's, or the
           * one an estimate was worked out for. */
          const PymemdStatm *at_read = pymemd_process_get_shown_statm (process);
          char buf[8192];
          guint64 drss, dpss;
          gssize len;
          int fd;

          /* Only figures that stood: one read by this tick is a full read
           * already, off only by what moved since (as any reader's). */
          if (then == NULL || pymemd_process_get_rollup_reads (process) != GPOINTER_TO_SIZE (then))
            continue;
          /* Held back by the stall budget (docs/pymemd.8, BUDGETS): not
           * the rule's doing; counted apart. */
          if ((guint64) pymemd_process_get_rollup_cost (process) > budget.rollup_max_stall_us)
            {
              paced++;
              continue;
            }
          /* The full read, between two statm reads: a process whose pages
           * moved past the threshold since the tick moved after it. */
          if (!read_statm_now (pymemd_process_get_pid (process), &s1))
            continue;
          fd = open_pid_file (pymemd_process_get_pid (process), "smaps_rollup");
          len = fd >= 0 ? (gssize) drain (fd, buf, sizeof buf - 1) : -1;
          if (fd >= 0)
            close (fd);
          if (len <= 0 || !read_statm_now (pymemd_process_get_pid (process), &s2) ||
              !pymemd_rollup_parse (buf, (gsize) len, &full, NULL))
            continue; /* exited meanwhile */
          if (statm_moved (at_read, &s1) || statm_moved (at_read, &s2))
            {
              moved_after++;
              continue;
            }
          drss = MAX (shown->value[PYMEMD_FIELD_RSS], full.value[PYMEMD_FIELD_RSS]) -
                 MIN (shown->value[PYMEMD_FIELD_RSS], full.value[PYMEMD_FIELD_RSS]);
          dpss = MAX (shown->value[PYMEMD_FIELD_PSS], full.value[PYMEMD_FIELD_PSS]) -
                 MIN (shown->value[PYMEMD_FIELD_PSS], full.value[PYMEMD_FIELD_PSS]);
          checked++;
          tick_rss = MAX (tick_rss, drss);
          tick_pss = MAX (tick_pss, dpss);
          if (drss > PYMEMD_MOVED_PAGES * page_size)
            tick_rss_over++;
          if (dpss > PYMEMD_MOVED_PAGES * page_size)
            pss_over++;
          worst_pss_rel = MAX (worst_pss_rel, (double) dpss / MAX (full.value[PYMEMD_FIELD_PSS], 1));
        }
      worst_rss = MAX (worst_rss, tick_rss);
      worst_pss = MAX (worst_pss, tick_pss);
      rss_over += tick_rss_over;
      printf ("%-5u %8u %8" G_GUINT64_FORMAT " %6" G_GUINT64_FORMAT " %9.3f %9.3f %6.3fx %6" G_GUINT64_FORMAT
              " %7.1f KiB %7.1f KiB\n",
              t + 1, processes->len, reads, estimated, tick_cost[t].cpu_ms, floor_cost[t].cpu_ms,
              tick_cost[t].cpu_ms / MAX (floor_cost[t].cpu_ms, 1e-9), tick_rss_over,
              tick_rss / 1024.0, tick_pss / 1024.0);
    }
  mt = median_cost (tick_cost, ticks);
  mf = median_cost (floor_cost, ticks);
  printf ("of the tick, the snapshot published (a copy of each process): median cpu %.3f ms\n",
          median_cost (snapshot_cost, ticks).cpu_ms);
  printf ("medians over %u ticks: tick cpu %.3f ms wall %.3f ms; floor cpu %.3f ms wall %.3f ms; "
          "ratio cpu %.3fx; share of processes read per tick %.3f\n",
          ticks, mt.cpu_ms, mt.wall_ms, mf.cpu_ms, mf.wall_ms, mt.cpu_ms / MAX (mf.cpu_ms, 1e-9),
          median (read_share, ticks));
  printf ("estimated (worked out from statm, no read): %" G_GUINT64_FORMAT " over %u ticks\n",
          total_estimated, ticks);
  printf ("check: %" G_GUINT64_FORMAT " figures that stood were checked (%" G_GUINT64_FORMAT
          " more held back by the stall budget, %" G_GUINT64_FORMAT " more moved after the tick)\n",
          checked, paced, moved_after);
  printf ("check: %" G_GUINT64_FORMAT " figures; RSS off by more than %d pages: %" G_GUINT64_FORMAT
          " (worst %.1f KiB); PSS off by more than %d pages: %" G_GUINT64_FORMAT
          " (worst %.1f KiB, %.3f%%)\n",
          checked, PYMEMD_MOVED_PAGES, rss_over, worst_rss / 1024.0, PYMEMD_MOVED_PAGES, pss_over,
          worst_pss / 1024.0, worst_pss_rel * 100);
  printf ("RESULT mode=moved ticks=%u tick_cpu_ms=%.3f floor_cpu_ms=%.3f ratio=%.3f read_share=%.3f "
          "checked=%" G_GUINT64_FORMAT " rss_over=%" G_GUINT64_FORMAT " pss_over=%" G_GUINT64_FORMAT
          " worst_pss_kib=%.1f worst_pss_pct=%.3f paced=%" G_GUINT64_FORMAT " moved_after=%" G_GUINT64_FORMAT "\n",
          ticks, mt.cpu_ms, mf.cpu_ms, mt.cpu_ms / MAX (mf.cpu_ms, 1e-9), median (read_share, ticks),
          checked, rss_over, pss_over, worst_pss / 1024.0, worst_pss_rel * 100, paced, moved_after);
  return 0;
}

int
main (int argc, char **argv)
{
  g_autofree char *root = NULL;
  gint iterations = 100, repeat = 5, exact_pid = 0, moved = 0;
  double interval = 2;
  gboolean detail = FALSE, known_only = FALSE, unheard = FALSE;
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdProcfs) procfs = NULL;
  g_autoptr(PymemdScanner) scanner = NULL;
  struct rlimit limit;
  const GOptionEntry entries[] = {
    { "proc", 0, 0, G_OPTION_ARG_FILENAME, &root, "procfs root (default /proc)", "DIR" },
    { "iterations", 'n', 0, G_OPTION_ARG_INT, &iterations, "passes per measurement", "N" },
    { "repeat", 'r', 0, G_OPTION_ARG_INT, &repeat, "measurements; the median is printed",
      "R" },
    { "detail", 0, 0, G_OPTION_ARG_NONE, &detail, "full pass (ALL) instead of rollup", NULL },
    { "exact-only", 0, 0, G_OPTION_ARG_INT, &exact_pid, "exact pass on one process", "PID" },
    { "moved", 0, 0, G_OPTION_ARG_INT, &moved, "TICKS rollup ticks sampling what moved, checked", "TICKS" },
    { "interval", 0, 0, G_OPTION_ARG_DOUBLE, &interval, "seconds between --moved ticks", "S" },
    { "known-only", 0, 0, G_OPTION_ARG_NONE, &known_only,
      "--moved ticks do not list /proc (as with process events)", NULL },
    { "unheard", 0, 0, G_OPTION_ARG_NONE, &unheard,
      "--known-only ticks stat /proc/PID too and read status at the refresh (as before id events)", NULL },
    { NULL }
  };

  context = g_option_context_new ("- pymemd scanner vs procfs floor");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || iterations < 1 ||
      repeat < 1)
    {
      fprintf (stderr, "bench-scan: %s\n", error != NULL ? error->message : "bad count");
      return 2;
    }
  if (root != NULL)
    proc_root = root;
  /* pymemd holds a directory fd per interpreter, as the daemon does. */
  if (getrlimit (RLIMIT_NOFILE, &limit) == 0)
    {
      limit.rlim_cur = limit.rlim_max;
      setrlimit (RLIMIT_NOFILE, &limit);
    }

  procfs = pymemd_procfs_new (proc_root, &error);
  if (procfs == NULL)
    {
      fprintf (stderr, "bench-scan: %s\n", error->message);
      return 1;
    }
  if (exact_pid > 0)
    return mode_exact_only (procfs, exact_pid, (guint) iterations, (guint) repeat);

  scanner = pymemd_scanner_new (procfs, &error);
  if (scanner == NULL)
    {
      fprintf (stderr, "bench-scan: %s\n", error->message);
      return 1;
    }
  if (moved > 0)
    return mode_moved (scanner, (guint) moved, interval, known_only, unheard,
                       pymemd_procfs_get_page_size (procfs));
  return mode_scan (scanner, detail, (guint) iterations, (guint) repeat,
                    pymemd_procfs_get_page_size (procfs));
}
