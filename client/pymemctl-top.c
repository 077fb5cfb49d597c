/* pymemctl top: every interpreter's memory, refreshed each tick from GetSamples, in a full-screen table (ncurses) or as text or JSON frames (-b). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

#include "pymemctl-top.h"
#include "pymemctl-util.h"
#include "pymemd-pidfiles.h"

/* Last: curses.h defines function-like macros (timeout, refresh, erase). */
#include <curses.h>

#define CALL_TIMEOUT_MSEC    10000
/* The daemon's default [history] growth-window: it measures that window for
 * every process each minute and answers from memory, where another window
 * costs it a query of the store. Asking more often than once a minute gains
 * nothing. */
#define GROWTH_WINDOW_SECONDS 1800.0
#define GROWTH_EVERY_USEC    (60 * G_USEC_PER_SEC)
#define GROWTH_MAX_IN_FLIGHT 16
#define MIN_DELAY_SECONDS    0.1
#define MAX_DELAY_SECONDS    3600.0
#define MIN_COMMAND_WIDTH    20
#define MAX_CMDLINE_BYTES    4096 /* as much as the daemon reads */
#define HEADER_LINES         3    /* what top_header () returns */
#define LOCAL_READ_THREAD_MIN 64  /* new processes worth a second thread */

typedef enum {
  COLUMN_PID,
  COLUMN_USER,
  COLUMN_PSS,
  COLUMN_USS,
  COLUMN_PRIVATE_DIRTY,
  COLUMN_SHARED,
  COLUMN_SWAP,
  COLUMN_GROWTH,
  COLUMN_HEAP,
  COLUMN_COMMAND,
  N_COLUMNS
} Column;

typedef struct {
  const char *name;        /* for -s and JSON: never translated */
  const char *title;
  const char *description;
  char        sort_key;
  gboolean    text;        /* left-aligned */
  gboolean    ascending;   /* sorted smallest first until reversed */
  guint       hide_rank;   /* in a narrow terminal the highest hides first; 0 never */
} ColumnInfo;

static const ColumnInfo column_info[N_COLUMNS] = {
  [COLUMN_PID] = { "pid", N_("PID"), N_("process ID"), 'N', FALSE, TRUE, 0 },
  [COLUMN_USER] = { "user", N_("USER"), N_("owner of the process"), 'O', TRUE, TRUE, 1 },
  [COLUMN_PSS] = { "pss", N_("PSS"), N_("fair share of RAM (proportional set size)"), 'P', FALSE,
                   FALSE, 0 },
  [COLUMN_USS] = { "uss", N_("USS"), N_("what exiting gives back (unique set size)"), 'U', FALSE,
                   FALSE, 0 },
  [COLUMN_PRIVATE_DIRTY] = { "priv-dirty", N_("PRIV-DIRTY"),
                             N_("private dirty memory: only swap can take it"), 'D', FALSE, FALSE,
                             0 },
  [COLUMN_SHARED] = { "shared", N_("SHARED"), N_("resident and shared with other processes"), 'E',
                      FALSE, FALSE, 2 },
  [COLUMN_SWAP] = { "swap", N_("SWAP"), N_("swapped out"), 'S', FALSE, FALSE, 0 },
  [COLUMN_GROWTH] = { "growth", N_("GROWTH/h"), N_("PSS growth per hour over the last 30 minutes"),
                      'G', FALSE, FALSE, 3 },
  [COLUMN_HEAP] = { "heap", N_("HEAP"), N_("live Python objects (needs a heap summary)"), 'H',
                    FALSE, FALSE, 4 },
  [COLUMN_COMMAND] = { "command", N_("COMMAND"), N_("command line"), 'C', TRUE, TRUE, 0 },
};

/* What top keeps of a process between frames: its name, and its growth. */
typedef struct {
  char    *name;
  char    *cmdline;
  char    *command;        /* the command line made printable, or [name] */
  char    *folded;         /* command, casefolded for the text filter */
  double   growth;         /* bytes per hour */
  gboolean growth_known;
  gboolean growth_pending;
  gint64   growth_asked;   /* monotonic µs; 0: never */
  guint    frame;          /* the last frame it was in */
} TopProcess;

/* One row of GetSamples. */
typedef struct {
  guint32     pid;
  guint64     start_time;
  guint32     uid;
  gboolean    restricted;
  guint64     rss;
  guint64     pss;
  guint64     uss;
  guint64     private_dirty;
  guint64     swap;
  TopProcess *process;    /* owned by Top.processes */
  const char *user;       /* owned by Top.users */
} TopRow;

typedef enum {
  VIEW_TABLE,
  VIEW_HELP,
  VIEW_COLUMNS,
  VIEW_FILTER_PROMPT,
  VIEW_USER_PROMPT,
} View;

typedef struct {
  PymemdDbusMonitor1 *monitor;
  GCancellable       *cancellable;

  gboolean batch;
  gboolean json;
  guint64  iterations;            /* 0: until quit */
  double   delay;                 /* seconds; 0: the daemon's interval */
  Column   sort;
  gboolean reverse;
  gboolean visible[N_COLUMNS];
  guint    scroll;                /* the first row shown on the screen */
  char    *text_filter;           /* as typed; NULL: none */
  char    *text_filter_folded;
  char    *user_filter;           /* a user name or uid; NULL: all */

  GHashTable *processes;          /* "PID_STARTTIME" → TopProcess */
  GHashTable *users;              /* uid → name */
  GArray     *rows;               /* TopRow: the latest samples */
  GPtrArray  *shown;              /* TopRow *: filtered and sorted */
  guint       frame;
  GQueue      growth_queue;       /* GrowthRequest */
  guint       growth_in_flight;
  gboolean    growth_unsupported; /* a daemon without GetGrowth */

  SCREEN    *screen;
  GMainLoop *loop;
  View       view;
  GString   *input;
  gboolean   color;
  guint      redraw_source;
  char      *status;              /* the last failed refresh, until one succeeds */
  gboolean   bus_closed;          /* nothing more will come: quit with an error */
} Top;

typedef struct {
  Top     *top;
  guint32  pid;
  guint64  start_time;
} GrowthRequest;

static void top_draw (Top *top);
static void top_schedule_redraw (Top *top);

/* ---- the processes ---- */

static char *
process_key (guint32 pid, guint64 start_time)
{
  return g_strdup_printf ("%u_%" G_GUINT64_FORMAT, pid, start_time);
}

static void
top_process_free (TopProcess *process)
{
  g_free (process->name);
  g_free (process->cmdline);
  g_free (process->command);
  g_free (process->folded);
  g_free (process);
}

/* A command line may hold newlines (python3 -c) and escape sequences. */
static char *
printable (const char *text)
{
  g_autofree char *valid = g_utf8_make_valid (text, -1);
  GString *out = g_string_sized_new (strlen (valid));

  for (const char *p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      g_string_append_unichar (out, g_unichar_iscntrl (c) ? ' ' : c);
    }
  return g_string_free (out, FALSE);
}

static TopProcess *
top_add_process (Top *top, guint32 pid, guint64 start_time, const char *name, const char *cmdline)
{
  TopProcess *process = g_new0 (TopProcess, 1);

  process->name = g_utf8_make_valid (name != NULL ? name : "", -1);
  process->cmdline = g_utf8_make_valid (cmdline != NULL ? cmdline : "", -1);
  if (*process->cmdline != '\0')
    process->command = printable (process->cmdline);
  else if (*process->name != '\0')
    {
      g_autofree char *bracketed = g_strdup_printf ("[%s]", process->name);
      process->command = printable (bracketed);
    }
  else
    process->command = g_strdup ("?");
  process->folded = g_utf8_casefold (process->command, -1);
  process->frame = top->frame;
  g_hash_table_replace (top->processes, process_key (pid, start_time), process);
  return process;
}

/* Names and command lines of every process, for the ones new since the last frame. */
static gboolean
top_load_processes (Top *top, GError **error)
{
  g_autoptr(GVariant) list = NULL;
  GVariantIter iter;
  GVariant *entry;

  if (!pymemd_dbus_monitor1_call_get_processes_sync (top->monitor, G_DBUS_CALL_FLAGS_NONE,
                                                     CALL_TIMEOUT_MSEC, &list, top->cancellable,
                                                     error))
    return FALSE;
  g_variant_iter_init (&iter, list);
  while ((entry = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_autoptr(GVariant) owned = entry;
      const char *name = NULL, *cmdline = NULL;
      g_autofree char *key = NULL;
      guint32 pid;
      guint64 start_time;

      if (!g_variant_lookup (entry, "pid", "u", &pid) ||
          !g_variant_lookup (entry, "start_time", "t", &start_time))
        continue;
      key = process_key (pid, start_time);
      if (g_hash_table_contains (top->processes, key))
        continue;
      g_variant_lookup (entry, "name", "&s", &name);
      g_variant_lookup (entry, "cmdline", "&s", &cmdline);
      top_add_process (top, pid, start_time, name, cmdline);
    }
  return TRUE;
}

/* One read of at most MAX bytes of NAME in the process directory DIR_FD, as
 * the daemon reads these files; -1 when it cannot be read. */
static gssize
read_proc_file (int dir_fd, const char *name, char *buffer, gsize max)
{
  int fd = openat (dir_fd, name, O_RDONLY | O_CLOEXEC);
  gssize n;

  if (fd < 0)
    return -1;
  do
    n = read (fd, buffer, max);
  while (n < 0 && errno == EINTR);
  close (fd);
  return n;
}

/* The executable's name, as the daemon gives it, or NULL. */
static char *
read_exe_name (int dir_fd)
{
  char exe[4096];
  gssize length = readlinkat (dir_fd, "exe", exe, sizeof exe - 1);

  if (length <= 0)
    return NULL;
  exe[length] = '\0';
  return g_path_get_basename (exe);
}

/* What this /proc says of a process new to top: the command line (and,
 * where it is shown, the name) as the daemon reads them, when PID here is
 * the same process (the same start time; the directory's fd keeps to that
 * process). That spares parsing GetProcesses' dictionaries, for 200
 * processes most of the time `top -b -n 1` would take; where this /proc is
 * not the daemon's (another pid namespace, --proc) or cannot be read, top
 * asks the daemon. */
typedef struct {
  guint32  pid;
  guint64  start_time;
  gboolean need_name;
  gboolean found;
  char    *name;
  char    *cmdline;
} LocalRead;

static void
local_read (LocalRead *local)
{
  char path[32], stat_text[1024], argv[MAX_CMDLINE_BYTES];
  gssize stat_length, argv_length;
  PymemdStat stat;
  int dir_fd;

  g_snprintf (path, sizeof path, "/proc/%u", local->pid);
  dir_fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0)
    return;
  stat_length = read_proc_file (dir_fd, "stat", stat_text, sizeof stat_text - 1);
  argv_length = read_proc_file (dir_fd, "cmdline", argv, sizeof argv);
  /* The name shows in JSON, and for a process without a command line. */
  if (local->need_name || argv_length == 0)
    local->name = read_exe_name (dir_fd);
  close (dir_fd);
  if (stat_length < 0 || argv_length < 0 || (argv_length == 0 && local->name == NULL))
    return;
  stat_text[stat_length] = '\0';
  if (!pymemd_stat_parse (stat_text, &stat, NULL) || stat.start_time != local->start_time)
    return;
  local->cmdline = pymemd_cmdline_to_string (argv, (gsize) argv_length);
  local->found = !local->need_name || local->name != NULL;
}

typedef struct {
  LocalRead *reads;
  guint      n;
} LocalBatch;

static gpointer
local_read_batch (gpointer data)
{
  LocalBatch *batch = data;

  for (guint i = 0; i < batch->n; i++)
    local_read (&batch->reads[i]);
  return NULL;
}

/* Reads N processes' /proc files; with many, half of them in a second
 * thread: on two CPUs that takes a quarter off `top -b -n 1`. */
static void
local_read_all (LocalRead *reads, guint n)
{
  LocalBatch first = { reads, n >= LOCAL_READ_THREAD_MIN ? n / 2 : n };
  LocalBatch second = { reads + first.n, n - first.n };
  GThread *helper = NULL;

  if (second.n > 0)
    helper = g_thread_new ("pymemctl-proc", local_read_batch, &second);
  local_read_batch (&first);
  if (helper != NULL)
    g_thread_join (helper);
}

/* Adds the processes of ROWS new to top that this /proc shows. */
static void
top_add_local_processes (Top *top)
{
  g_autoptr(GArray) reads = g_array_new (FALSE, TRUE, sizeof (LocalRead));

  for (guint i = 0; i < top->rows->len; i++)
    {
      TopRow *row = &g_array_index (top->rows, TopRow, i);
      g_autofree char *key = process_key (row->pid, row->start_time);
      LocalRead local = { row->pid, row->start_time, top->json };

      if (!g_hash_table_contains (top->processes, key))
        g_array_append_val (reads, local);
    }
  local_read_all ((LocalRead *) (gpointer) reads->data, reads->len);
  for (guint i = 0; i < reads->len; i++)
    {
      LocalRead *local = &g_array_index (reads, LocalRead, i);

      if (local->found)
        top_add_process (top, local->pid, local->start_time, local->name, local->cmdline);
      g_free (local->name);
      g_free (local->cmdline);
    }
}

static gboolean
process_unseen (gpointer key, gpointer value, gpointer data)
{
  const Top *top = data;

  return ((TopProcess *) value)->frame != top->frame;
}

/* Gives each row its process: from this /proc, or else asking GetProcesses once. */
static gboolean
top_attach_processes (Top *top, GError **error)
{
  gboolean loaded = FALSE;

  top_add_local_processes (top);
  for (guint i = 0; i < top->rows->len; i++)
    {
      TopRow *row = &g_array_index (top->rows, TopRow, i);
      g_autofree char *key = process_key (row->pid, row->start_time);

      row->process = g_hash_table_lookup (top->processes, key);
      if (row->process == NULL && !loaded)
        {
          if (!top_load_processes (top, error))
            return FALSE;
          loaded = TRUE;
          row->process = g_hash_table_lookup (top->processes, key);
        }
      if (row->process == NULL) /* it ended between the two calls */
        row->process = top_add_process (top, row->pid, row->start_time, NULL, NULL);
      row->process->frame = top->frame;
    }
  g_hash_table_foreach_remove (top->processes, process_unseen, top);
  return TRUE;
}

static const char *
top_user (Top *top, guint32 uid)
{
  const char *name = g_hash_table_lookup (top->users, GUINT_TO_POINTER (uid));

  if (name == NULL)
    {
      name = pymemctl_user_name (uid);
      g_hash_table_insert (top->users, GUINT_TO_POINTER (uid), (gpointer) name);
    }
  return name;
}

/* ---- GetSamples ---- */

static gconstpointer
sample_column (GVariant *column, gsize n, gsize element_size, gboolean *same_length)
{
  gsize length = 0;
  gconstpointer data = g_variant_get_fixed_array (column, &length, element_size);

  if (length != n)
    *same_length = FALSE;
  return data;
}

static gboolean
top_fetch_samples (Top *top, GError **error)
{
  g_autoptr(GVariant) pid = NULL, start_time = NULL, uid = NULL, restricted = NULL;
  g_autoptr(GVariant) rss = NULL, pss = NULL, uss = NULL, private_dirty = NULL, swap = NULL;
  const guint32 *pid_col, *uid_col;
  const guint64 *start_col, *rss_col, *pss_col, *uss_col, *dirty_col, *swap_col;
  const guint8 *restricted_col;
  gboolean same_length = TRUE;
  gsize n = 0;

  if (!pymemd_dbus_monitor1_call_get_samples_sync (top->monitor, G_DBUS_CALL_FLAGS_NONE,
                                                   CALL_TIMEOUT_MSEC, &pid, &start_time, &uid,
                                                   &restricted, &rss, &pss, &uss, &private_dirty,
                                                   &swap, top->cancellable, error))
    return FALSE;
  pid_col = g_variant_get_fixed_array (pid, &n, sizeof (guint32));
  start_col = sample_column (start_time, n, sizeof (guint64), &same_length);
  uid_col = sample_column (uid, n, sizeof (guint32), &same_length);
  restricted_col = sample_column (restricted, n, sizeof (guint8), &same_length);
  rss_col = sample_column (rss, n, sizeof (guint64), &same_length);
  pss_col = sample_column (pss, n, sizeof (guint64), &same_length);
  uss_col = sample_column (uss, n, sizeof (guint64), &same_length);
  dirty_col = sample_column (private_dirty, n, sizeof (guint64), &same_length);
  swap_col = sample_column (swap, n, sizeof (guint64), &same_length);
  if (!same_length)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           _("pymemd answered GetSamples with columns of different lengths"));
      return FALSE;
    }

  top->frame++;
  g_array_set_size (top->rows, n);
  for (gsize i = 0; i < n; i++)
    {
      TopRow *row = &g_array_index (top->rows, TopRow, i);

      *row = (TopRow) {
        .pid = pid_col[i], .start_time = start_col[i], .uid = uid_col[i],
        .restricted = restricted_col[i] != 0, .rss = rss_col[i], .pss = pss_col[i],
        .uss = uss_col[i], .private_dirty = dirty_col[i], .swap = swap_col[i],
        .user = top_user (top, uid_col[i]),
      };
    }
  return top_attach_processes (top, error);
}

/* ---- GetGrowth: asynchronous, a few at a time, at most once a minute per process ---- */

static void top_send_growth (Top *top);

static void
top_growth_unsupported (Top *top)
{
  top->growth_unsupported = TRUE;
  g_queue_clear_full (&top->growth_queue, g_free);
}

static void
on_growth (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autofree GrowthRequest *request = data;
  Top *top = request->top;
  g_autoptr(GError) error = NULL;
  g_autofree char *key = process_key (request->pid, request->start_time);
  TopProcess *process;
  double per_hour = 0;
  guint samples = 0;
  gboolean known;

  known = pymemd_dbus_monitor1_call_get_growth_finish (PYMEMD_DBUS_MONITOR1 (source), &per_hour,
                                                       &samples, result, &error);
  top->growth_in_flight--;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD))
    top_growth_unsupported (top);
  /* Otherwise too few samples yet, or the process ended: "-" until the next try. */
  process = g_hash_table_lookup (top->processes, key);
  if (process != NULL)
    {
      process->growth_pending = FALSE;
      process->growth_known = known;
      process->growth = per_hour;
    }
  top_send_growth (top);
  top_schedule_redraw (top);
}

static void
top_send_growth (Top *top)
{
  while (top->growth_in_flight < GROWTH_MAX_IN_FLIGHT && !g_queue_is_empty (&top->growth_queue))
    {
      GrowthRequest *request = g_queue_pop_head (&top->growth_queue);

      top->growth_in_flight++;
      pymemd_dbus_monitor1_call_get_growth (top->monitor, request->pid, request->start_time,
                                            GROWTH_WINDOW_SECONDS, G_DBUS_CALL_FLAGS_NONE,
                                            CALL_TIMEOUT_MSEC, top->cancellable, on_growth,
                                            request);
    }
}

/* Asks for the growth of COUNT rows shown from FIRST on (of all when they
 * are sorted by it), for those not asked within the minute. */
static void
top_ask_growth (Top *top, guint first, guint count)
{
  gint64 now = g_get_monotonic_time ();
  gboolean all = top->sort == COLUMN_GROWTH;
  guint end = all ? top->rows->len : MIN (top->shown->len, first + MIN (count, G_MAXUINT - first));

  if (top->growth_unsupported || !(top->visible[COLUMN_GROWTH] || top->json))
    return;
  for (guint i = all ? 0 : first; i < end; i++)
    {
      TopRow *row = all ? &g_array_index (top->rows, TopRow, i) : g_ptr_array_index (top->shown, i);
      TopProcess *process = row->process;
      GrowthRequest *request;

      if (row->restricted || process->growth_pending ||
          (process->growth_asked != 0 && now - process->growth_asked < GROWTH_EVERY_USEC))
        continue;
      process->growth_pending = TRUE;
      process->growth_asked = now;
      request = g_new (GrowthRequest, 1);
      *request = (GrowthRequest) { top, row->pid, row->start_time };
      g_queue_push_tail (&top->growth_queue, request);
    }
  top_send_growth (top);
}

static void
top_wait_growth (Top *top)
{
  while (top->growth_in_flight > 0)
    g_main_context_iteration (NULL, TRUE);
}

/* The rows the table has room for, below the header, the status line and
 * the titles, above the key line. */
static guint
top_page_rows (Top *top)
{
  int taken = HEADER_LINES + (top->status != NULL ? 1 : 0) + 3;

  return (guint) MAX (getmaxy (stdscr) - taken, 0);
}

/* Keeps the last page full when rows went away or the terminal grew. */
static void
top_clamp_scroll (Top *top)
{
  guint page = top_page_rows (top);

  top->scroll = MIN (top->scroll, top->shown->len > page ? top->shown->len - page : 0);
}

/* The rows on the screen: no need to ask the daemon about the others. */
static void
top_ask_growth_on_screen (Top *top)
{
  top_clamp_scroll (top);
  top_ask_growth (top, top->scroll, top_page_rows (top));
}

/* ---- filtering and sorting ---- */

static gboolean
row_size (const TopRow *row, Column column, guint64 *bytes)
{
  switch (column)
    {
    case COLUMN_PSS:
      *bytes = row->pss;
      return !row->restricted;
    case COLUMN_USS:
      *bytes = row->uss;
      return !row->restricted;
    case COLUMN_PRIVATE_DIRTY:
      *bytes = row->private_dirty;
      return !row->restricted;
    case COLUMN_SHARED:
      *bytes = row->rss - row->uss;
      return !row->restricted && row->rss >= row->uss;
    case COLUMN_SWAP:
      *bytes = row->swap;
      return TRUE;
    default:
      return FALSE;
    }
}

/* A figure for sorting; FALSE when unknown. */
static gboolean
row_number (const TopRow *row, Column column, double *value)
{
  guint64 bytes = 0;

  switch (column)
    {
    case COLUMN_PID:
      *value = row->pid;
      return TRUE;
    case COLUMN_GROWTH:
      *value = row->process->growth;
      return row->process->growth_known;
    case COLUMN_HEAP:
      return FALSE;
    default:
      if (!row_size (row, column, &bytes))
        return FALSE;
      *value = (double) bytes;
      return TRUE;
    }
}

/* Unknown figures count as 0 here: compare_rows () has put them last. */
static int
compare_values (const TopRow *a, const TopRow *b, Column column)
{
  double x = 0, y = 0;

  if (column == COLUMN_USER)
    return g_utf8_collate (a->user, b->user);
  if (column == COLUMN_COMMAND)
    return g_utf8_collate (a->process->folded, b->process->folded);
  row_number (a, column, &x);
  row_number (b, column, &y);
  return (x > y) - (x < y);
}

static int
compare_rows (gconstpointer pa, gconstpointer pb, gpointer data)
{
  const Top *top = data;
  const TopRow *a = *(TopRow *const *) pa, *b = *(TopRow *const *) pb;
  double unused;
  gboolean a_known = TRUE, b_known = TRUE;
  int order;

  if (!column_info[top->sort].text)
    {
      a_known = row_number (a, top->sort, &unused);
      b_known = row_number (b, top->sort, &unused);
    }
  if (a_known != b_known)
    return a_known ? -1 : 1;
  order = compare_values (a, b, top->sort);
  if (!column_info[top->sort].ascending)
    order = -order;
  if (top->reverse)
    order = -order;
  if (order == 0)
    order = (a->pid > b->pid) - (a->pid < b->pid);
  return order;
}

static gboolean
top_row_matches (const Top *top, const TopRow *row)
{
  char pid[16];

  g_snprintf (pid, sizeof pid, "%u", row->pid);
  if (top->user_filter != NULL && strcmp (row->user, top->user_filter) != 0)
    {
      char uid[16];

      g_snprintf (uid, sizeof uid, "%u", row->uid);
      if (strcmp (uid, top->user_filter) != 0)
        return FALSE;
    }
  return top->text_filter_folded == NULL ||
         strstr (row->process->folded, top->text_filter_folded) != NULL ||
         strstr (pid, top->text_filter_folded) != NULL;
}

static void
top_arrange (Top *top)
{
  g_ptr_array_set_size (top->shown, 0);
  for (guint i = 0; i < top->rows->len; i++)
    {
      TopRow *row = &g_array_index (top->rows, TopRow, i);

      if (top_row_matches (top, row))
        g_ptr_array_add (top->shown, row);
    }
  g_ptr_array_sort_with_data (top->shown, compare_rows, top);
}

static gboolean
top_refresh (Top *top, GError **error)
{
  if (!top_fetch_samples (top, error))
    return FALSE;
  top_arrange (top);
  return TRUE;
}

/* ---- what a frame shows ---- */

static char *
format_growth (double per_hour)
{
  double magnitude = per_hour < 0 ? -per_hour : per_hour;
  guint64 bytes = (guint64) (magnitude + 0.5);
  g_autofree char *size = pymemctl_format_size (bytes);

  if (bytes == 0)
    return g_steal_pointer (&size);
  return g_strconcat (per_hour < 0 ? "-" : "+", size, NULL);
}

static char *
format_cell (const TopRow *row, Column column)
{
  guint64 bytes = 0;

  switch (column)
    {
    case COLUMN_PID:
      return g_strdup_printf ("%u", row->pid);
    case COLUMN_USER:
      return g_strdup (row->user);
    case COLUMN_COMMAND:
      return g_strdup (row->process->command);
    case COLUMN_GROWTH:
      return row->process->growth_known ? format_growth (row->process->growth) : g_strdup ("-");
    case COLUMN_HEAP:
      return g_strdup ("-"); /* no heap summaries in the API yet */
    default:
      return row_size (row, column, &bytes) ? pymemctl_format_size (bytes) : g_strdup ("-");
    }
}

static double
top_delay (Top *top)
{
  double interval = pymemd_dbus_monitor1_get_interval (top->monitor);

  if (top->delay > 0)
    return top->delay;
  return interval >= MIN_DELAY_SECONDS ? interval : 2.0;
}

/* The lines above the table: time and count, the totals, the Python set. */
static GPtrArray *
top_header (Top *top)
{
  GPtrArray *lines = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GVariant) totals = pymemd_dbus_monitor1_dup_totals (top->monitor);
  g_autoptr(GVariant) python_set = pymemd_dbus_monitor1_dup_python_set (top->monitor);
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *clock = g_date_time_format (now, "%H:%M:%S");
  g_autofree char *pss = pymemctl_format_figure (totals, "pss");
  g_autofree char *uss = pymemctl_format_figure (totals, "uss");
  g_autofree char *dirty = pymemctl_format_figure (totals, "private_dirty");
  g_autofree char *swap = pymemctl_format_figure (totals, "swap");
  g_autofree char *count = g_strdup_printf (ngettext ("%u Python process", "%u Python processes",
                                                      top->rows->len),
                                            top->rows->len);
  guint64 unused;

  g_ptr_array_add (lines,
                   g_strdup_printf (_("pymemctl top - %s - %s, every %.1f s, %s"), clock, count,
                                    top_delay (top),
                                    pymemd_dbus_monitor1_get_exact_available (top->monitor)
                                      ? _("exact accounting")
                                      : _("smaps accounting (no exact pass)")));
  g_ptr_array_add (lines, g_strdup_printf (_("Total PSS %s  USS %s  private dirty %s  swap %s"),
                                           pss, uss, dirty, swap));
  if (pymemctl_lookup_size (python_set, "freed_if_all_exit", &unused))
    {
      g_autofree char *shared = pymemctl_format_figure (python_set, "shared_only_python");
      g_autofree char *freed = pymemctl_format_figure (python_set, "freed_if_all_exit");
      g_autofree char *anonymous =
        pymemctl_format_figure (python_set, "freed_if_all_exit_anonymous");

      g_ptr_array_add (lines, g_strdup_printf (_("Python set: shared %s  freed if all exit %s "
                                                 "(anonymous %s)"),
                                               shared, freed, anonymous));
    }
  else
    g_ptr_array_add (lines, g_strdup (_("Python set: unknown without the exact pass")));
  return lines;
}

/* ---- batch mode ---- */

static gboolean
top_print_text (Top *top)
{
  g_autoptr(GPtrArray) header = top_header (top);
  g_autoptr(GPtrArray) titles = g_ptr_array_new ();
  g_autoptr(GString) align = g_string_new (NULL);
  g_autoptr(PymemctlTable) table = NULL;

  for (guint c = 0; c < N_COLUMNS; c++)
    if (top->visible[c])
      {
        g_ptr_array_add (titles, (gpointer) column_info[c].title);
        g_string_append_c (align, column_info[c].text ? 'l' : 'r');
      }
  g_ptr_array_add (titles, NULL);
  table = pymemctl_table_new ((const char *const *) titles->pdata, align->str);
  for (guint i = 0; i < top->shown->len; i++)
    {
      const TopRow *row = g_ptr_array_index (top->shown, i);
      g_autoptr(GPtrArray) cells = g_ptr_array_new_with_free_func (g_free);

      for (guint c = 0; c < N_COLUMNS; c++)
        if (top->visible[c])
          g_ptr_array_add (cells, format_cell (row, c));
      g_ptr_array_add (cells, NULL);
      pymemctl_table_add_rowv (table, (const char *const *) cells->pdata);
    }
  for (guint i = 0; i < header->len; i++)
    printf ("%s\n", (const char *) g_ptr_array_index (header, i));
  printf ("\n");
  pymemctl_table_print (table, stdout);
  if (printf ("\n") < 0 || fflush (stdout) != 0)
    {
      g_printerr ("pymemctl: %s\n", _("Cannot write to standard output"));
      return FALSE;
    }
  return TRUE;
}

/* A size column as bytes, or null where the caller may not see it. */
static void
add_row_size (JsonBuilder *builder, const char *name, const TopRow *row, Column column)
{
  guint64 bytes = 0;

  json_builder_set_member_name (builder, name);
  if (row_size (row, column, &bytes))
    json_builder_add_int_value (builder, (gint64) bytes);
  else
    json_builder_add_null_value (builder);
}

static void
add_dictionary (JsonBuilder *builder, const char *name, GVariant *dictionary)
{
  json_builder_set_member_name (builder, name);
  if (dictionary != NULL)
    json_builder_add_value (builder, pymemctl_json_from_variant (dictionary));
  else
    json_builder_add_null_value (builder);
}

static void
add_json_row (JsonBuilder *builder, const TopRow *row)
{
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "pid");
  json_builder_add_int_value (builder, row->pid);
  json_builder_set_member_name (builder, "start_time");
  json_builder_add_int_value (builder, (gint64) row->start_time);
  json_builder_set_member_name (builder, "uid");
  json_builder_add_int_value (builder, row->uid);
  json_builder_set_member_name (builder, "user");
  json_builder_add_string_value (builder, row->user);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, row->process->name);
  json_builder_set_member_name (builder, "cmdline");
  json_builder_add_string_value (builder, row->process->cmdline);
  json_builder_set_member_name (builder, "restricted");
  json_builder_add_boolean_value (builder, row->restricted);
  json_builder_set_member_name (builder, "rss");
  json_builder_add_int_value (builder, (gint64) row->rss);
  add_row_size (builder, "pss", row, COLUMN_PSS);
  add_row_size (builder, "uss", row, COLUMN_USS);
  add_row_size (builder, "private_dirty", row, COLUMN_PRIVATE_DIRTY);
  add_row_size (builder, "shared", row, COLUMN_SHARED);
  add_row_size (builder, "swap", row, COLUMN_SWAP);
  json_builder_set_member_name (builder, "growth_bytes_per_hour");
  if (row->process->growth_known)
    json_builder_add_double_value (builder, row->process->growth);
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "heap");
  json_builder_add_null_value (builder);
  json_builder_end_object (builder);
}

static gboolean
top_print_json (Top *top)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(GVariant) totals = pymemd_dbus_monitor1_dup_totals (top->monitor);
  g_autoptr(GVariant) python_set = pymemd_dbus_monitor1_dup_python_set (top->monitor);
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "timestamp");
  json_builder_add_int_value (builder, g_get_real_time ());
  json_builder_set_member_name (builder, "interval");
  json_builder_add_double_value (builder, top_delay (top));
  json_builder_set_member_name (builder, "exact_available");
  json_builder_add_boolean_value (builder,
                                  pymemd_dbus_monitor1_get_exact_available (top->monitor));
  add_dictionary (builder, "totals", totals);
  add_dictionary (builder, "python_set", python_set);
  json_builder_set_member_name (builder, "sort");
  json_builder_add_string_value (builder, column_info[top->sort].name);
  json_builder_set_member_name (builder, "reverse");
  json_builder_add_boolean_value (builder, top->reverse);
  json_builder_set_member_name (builder, "processes");
  json_builder_begin_array (builder);
  for (guint i = 0; i < top->shown->len; i++)
    add_json_row (builder, g_ptr_array_index (top->shown, i));
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  return pymemctl_print_json (root, TRUE);
}

static gboolean
set_flag (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Sleeps while the proxy takes in PropertiesChanged (the totals). */
static void
sleep_in_main_context (double seconds)
{
  gboolean done = FALSE;

  g_timeout_add ((guint) (seconds * 1000), set_flag, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

static int
top_run_batch (Top *top)
{
  for (;;)
    {
      g_autoptr(GError) error = NULL;

      if (!top_refresh (top, &error))
        return pymemctl_print_error (error, 0);
      /* Answers show in the next frames, as on the screen; the last frame
       * has none to show them in. */
      if (top->iterations == 0 || top->frame < top->iterations)
        top_ask_growth (top, 0, G_MAXUINT);
      if (!(top->json ? top_print_json (top) : top_print_text (top)))
        return PYMEMCTL_EXIT_FAILURE;
      if (top->iterations != 0 && top->frame >= top->iterations)
        return PYMEMCTL_EXIT_OK;
      sleep_in_main_context (top_delay (top));
    }
}

/* ---- the full-screen view ---- */

enum {
  PAIR_TITLE = 1,
  PAIR_SORTED,
  PAIR_ERROR,
};

typedef struct {
  gboolean shown[N_COLUMNS];
  guint    width[N_COLUMNS];
  guint    hidden;   /* visible columns left out for want of width */
} Layout;

/* Writes TEXT at line Y, cut to the screen's width. */
static void
put_line (int y, const char *text, attr_t attributes, short pair)
{
  int width = getmaxx (stdscr);
  const char *end = text;

  for (int n = 0; n < width && *end != '\0'; n++)
    end = g_utf8_next_char (end);
  attr_set (attributes, pair, NULL);
  mvaddnstr (y, 0, text, (int) (end - text));
  attr_set (A_NORMAL, 0, NULL);
}

static guint
text_width (const char *text)
{
  return (guint) g_utf8_strlen (text, -1);
}

/* Columns as wide as their widest cell; in a narrow terminal the least
 * needed ones go until the command has room. */
static void
top_layout (Top *top, GPtrArray *cells, Layout *layout)
{
  guint screen_width = (guint) MAX (getmaxx (stdscr), 0);
  guint used;

  memset (layout, 0, sizeof *layout);
  for (guint c = 0; c < N_COLUMNS; c++)
    {
      layout->shown[c] = top->visible[c];
      layout->width[c] = text_width (_(column_info[c].title));
      for (guint r = 0; r < cells->len; r++)
        layout->width[c] = MAX (layout->width[c], text_width (((GStrv) cells->pdata[r])[c]));
    }
  for (;;)
    {
      guint drop = N_COLUMNS;

      used = 0;
      for (guint c = 0; c < COLUMN_COMMAND; c++)
        if (layout->shown[c])
          used += layout->width[c] + 1;
      if (!layout->shown[COLUMN_COMMAND] || used + MIN_COMMAND_WIDTH <= screen_width)
        break;
      for (guint c = 0; c < COLUMN_COMMAND; c++)
        if (layout->shown[c] && column_info[c].hide_rank > 0 &&
            (drop == N_COLUMNS || column_info[c].hide_rank > column_info[drop].hide_rank))
          drop = c;
      if (drop == N_COLUMNS)
        break;
      layout->shown[drop] = FALSE;
      layout->hidden++;
    }
}

/* One table line; *SORT_START and *SORT_WIDTH (when not NULL) say where the sort column is. */
static char *
layout_line (const Layout *layout, const char *const *cells, Column sort, guint *sort_start,
             guint *sort_width)
{
  GString *line = g_string_new (NULL);
  guint position = 0;

  for (guint c = 0; c < N_COLUMNS; c++)
    {
      guint width, pad;

      if (!layout->shown[c])
        continue;
      width = c == COLUMN_COMMAND ? text_width (cells[c]) : layout->width[c];
      pad = width - MIN (width, text_width (cells[c]));
      if (position > 0)
        {
          g_string_append_c (line, ' ');
          position++;
        }
      if (c == sort && sort_start != NULL)
        {
          *sort_start = position;
          *sort_width = width;
        }
      if (!column_info[c].text)
        for (guint i = 0; i < pad; i++)
          g_string_append_c (line, ' ');
      g_string_append (line, cells[c]);
      if (column_info[c].text && c != COLUMN_COMMAND)
        for (guint i = 0; i < pad; i++)
          g_string_append_c (line, ' ');
      position += width;
    }
  return g_string_free (line, FALSE);
}

static char *
top_status_line (Top *top, const Layout *layout)
{
  GString *line = g_string_new (NULL);

  g_string_append_printf (line, _("Sorted by %s%s"), _(column_info[top->sort].title),
                          top->reverse ? _(", reversed") : "");
  if (top->text_filter != NULL)
    g_string_append_printf (line, _(" · filter “%s”"), top->text_filter);
  if (top->user_filter != NULL)
    g_string_append_printf (line, _(" · user %s"), top->user_filter);
  if (top->shown->len > top_page_rows (top))
    g_string_append_printf (line, _(" · rows %u to %u of %u"), top->scroll + 1,
                            top->scroll + MIN (top_page_rows (top), top->shown->len - top->scroll),
                            top->shown->len);
  else
    g_string_append_printf (line, _(" · %u shown"), top->shown->len);
  if (layout->hidden > 0)
    g_string_append_printf (line,
                            ngettext (" · %u column hidden: the terminal is too narrow",
                                      " · %u columns hidden: the terminal is too narrow",
                                      layout->hidden),
                            layout->hidden);
  return g_string_free (line, FALSE);
}

static void
draw_header (Top *top, int *y)
{
  g_autoptr(GPtrArray) header = top_header (top);

  for (guint i = 0; i < header->len; i++)
    put_line ((*y)++, g_ptr_array_index (header, i), i == 0 ? A_BOLD : A_NORMAL, 0);
  if (top->status != NULL)
    put_line ((*y)++, top->status, A_BOLD, top->color ? PAIR_ERROR : 0);
}

static void
draw_bottom_line (Top *top)
{
  int y = getmaxy (stdscr) - 1;

  if (top->view == VIEW_FILTER_PROMPT || top->view == VIEW_USER_PROMPT)
    {
      g_autofree char *prompt =
        g_strconcat (top->view == VIEW_FILTER_PROMPT ? _("Filter (text or PID): ")
                                                     : _("Show only user (name or uid): "),
                     top->input->str, "_", NULL);
      put_line (y, prompt, A_BOLD, 0);
    }
  else
    put_line (y, _("h help · q quit · < > sort · r reverse · / filter · u user · f columns"),
              A_DIM, 0);
}

/* The cells of N rows shown from FIRST on, formatted. */
static GPtrArray *
top_cells (Top *top, guint first, guint n)
{
  GPtrArray *cells = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);

  for (guint i = first; i < top->shown->len && i - first < n; i++)
    {
      GStrv row = g_new0 (char *, N_COLUMNS + 1);

      for (guint c = 0; c < N_COLUMNS; c++)
        row[c] = format_cell (g_ptr_array_index (top->shown, i), c);
      g_ptr_array_add (cells, row);
    }
  return cells;
}

/* The titles in reverse video, the sort column's set apart. */
static void
draw_titles (Top *top, const Layout *layout, int y)
{
  const char *titles[N_COLUMNS];
  g_autofree char *line = NULL;
  guint sort_start = 0, sort_width = 0;
  short pair = top->color ? PAIR_TITLE : 0;

  for (guint c = 0; c < N_COLUMNS; c++)
    titles[c] = _(column_info[c].title);
  line = layout_line (layout, titles, top->sort, &sort_start, &sort_width);
  attr_set (A_REVERSE, pair, NULL);
  mvhline (y, 0, ' ', getmaxx (stdscr));
  put_line (y, line, A_REVERSE, pair);
  if (sort_width > 0)
    mvchgat (y, (int) sort_start, (int) sort_width, A_REVERSE | A_BOLD,
             top->color ? PAIR_SORTED : 0, NULL);
}

static void
draw_table (Top *top)
{
  g_autoptr(GPtrArray) cells = NULL;
  g_autofree char *status = NULL;
  int y = 0;
  Layout layout;

  top_clamp_scroll (top);
  draw_header (top, &y);
  /* Below the header: the status line, the titles, the rows, the key line. */
  cells = top_cells (top, top->scroll, top_page_rows (top));
  top_layout (top, cells, &layout);
  status = top_status_line (top, &layout);
  put_line (y++, status, A_NORMAL, 0);
  draw_titles (top, &layout, y++);
  for (guint r = 0; r < cells->len; r++)
    {
      g_autofree char *line = layout_line (&layout, (const char *const *) cells->pdata[r],
                                           top->sort, NULL, NULL);
      put_line (y++, line, A_NORMAL, 0);
    }
  draw_bottom_line (top);
}

static void
draw_help (Top *top)
{
  int y = 0;

  put_line (y++, _("pymemctl top: keys"), A_BOLD, 0);
  y++;
  for (guint c = 0; c < N_COLUMNS; c++)
    if (column_info[c].sort_key != '\0')
      {
        g_autofree char *line = g_strdup_printf (_("  %c   sort by %s: %s"),
                                                 column_info[c].sort_key,
                                                 _(column_info[c].title),
                                                 _(column_info[c].description));
        put_line (y++, line, A_NORMAL, 0);
      }
  put_line (y++, _("  < > sort by the column on the left or right"), A_NORMAL, 0);
  put_line (y++, _("  r   reverse the order"), A_NORMAL, 0);
  put_line (y++, _("  /   show only commands containing a text, or a PID (empty: all)"), A_NORMAL,
            0);
  put_line (y++, _("  u   show only one user's processes (empty: all)"), A_NORMAL, 0);
  put_line (y++, _("  f   choose the columns"), A_NORMAL, 0);
  put_line (y++, _("  arrows, PgUp, PgDn, Home, End  move through the rows"), A_NORMAL, 0);
  put_line (y++, _("  space  refresh now"), A_NORMAL, 0);
  put_line (y++, _("  h ? this help"), A_NORMAL, 0);
  put_line (y++, _("  q   quit"), A_NORMAL, 0);
  y++;
  put_line (y, _("Press any key to go back."), A_DIM, 0);
}

/* The key that toggles column C on the columns screen: 1 to 9, then 0. */
static char
column_toggle_key (guint c)
{
  return (char) ('0' + (c + 1) % 10);
}

static void
draw_columns (Top *top)
{
  int y = 0;

  put_line (y++, _("Columns: press a number to show or hide one; any other key goes back."),
            A_BOLD, 0);
  y++;
  for (guint c = 0; c < N_COLUMNS; c++)
    {
      g_autofree char *line = g_strdup_printf ("  %c  [%s] %-10s %s", column_toggle_key (c),
                                               top->visible[c] ? "x" : " ",
                                               _(column_info[c].title),
                                               _(column_info[c].description));
      put_line (y++, line, top->visible[c] ? A_NORMAL : A_DIM, 0);
    }
}

static void
top_draw (Top *top)
{
  if (top->screen == NULL)
    return;
  erase ();
  switch (top->view)
    {
    case VIEW_HELP:
      draw_help (top);
      break;
    case VIEW_COLUMNS:
      draw_columns (top);
      break;
    case VIEW_TABLE:
    case VIEW_FILTER_PROMPT:
    case VIEW_USER_PROMPT:
    default:
      draw_table (top);
      break;
    }
  refresh ();
}

static gboolean
on_redraw (gpointer data)
{
  Top *top = data;

  top->redraw_source = 0;
  top_arrange (top);
  top_draw (top);
  return G_SOURCE_REMOVE;
}

/* Growth answers come one by one: one redraw for those of a moment. */
static void
top_schedule_redraw (Top *top)
{
  if (top->screen != NULL && top->redraw_source == 0)
    top->redraw_source = g_idle_add (on_redraw, top);
}

static void
top_quit (Top *top)
{
  if (top->loop != NULL)
    g_main_loop_quit (top->loop);
}

/* < and >: the next visible column in that direction, if any. */
static void
top_move_sort (Top *top, int step)
{
  for (int c = (int) top->sort + step; c >= 0 && c < N_COLUMNS; c += step)
    if (top->visible[c])
      {
        top->sort = (Column) c;
        top->reverse = FALSE;
        return;
      }
}

static gboolean
top_sort_by_key (Top *top, int key)
{
  for (guint c = 0; c < N_COLUMNS; c++)
    if (column_info[c].sort_key != '\0' && key == column_info[c].sort_key)
      {
        top->reverse = top->sort == c ? !top->reverse : FALSE;
        top->sort = c;
        return TRUE;
      }
  return FALSE;
}

static void
top_refresh_now (Top *top)
{
  g_autoptr(GError) error = NULL;

  g_clear_pointer (&top->status, g_free);
  if (!top_refresh (top, &error))
    {
      g_dbus_error_strip_remote_error (error);
      top->status = g_strdup (error->message);
      return;
    }
  top_ask_growth_on_screen (top);
}

/* Arrows, page keys, Home and End move the rows; FALSE for other keys. */
static gboolean
top_scroll_key (Top *top, int key)
{
  guint page = MAX (top_page_rows (top), 1);

  switch (key)
    {
    case KEY_DOWN:
      top->scroll++;
      break;
    case KEY_UP:
      top->scroll = top->scroll > 0 ? top->scroll - 1 : 0;
      break;
    case KEY_NPAGE:
      top->scroll += page;
      break;
    case KEY_PPAGE:
      top->scroll = top->scroll > page ? top->scroll - page : 0;
      break;
    case KEY_HOME:
      top->scroll = 0;
      break;
    case KEY_END:
      top->scroll = G_MAXUINT / 2; /* on_input () brings it back to the last page */
      break;
    default:
      return FALSE;
    }
  return TRUE;
}

static void
top_table_key (Top *top, int key)
{
  switch (key)
    {
    case 'q':
    case 'Q':
      top_quit (top);
      break;
    case 'h':
    case '?':
      top->view = VIEW_HELP;
      break;
    case 'f':
      top->view = VIEW_COLUMNS;
      break;
    case '<':
      top_move_sort (top, -1);
      break;
    case '>':
      top_move_sort (top, +1);
      break;
    case 'r':
      top->reverse = !top->reverse;
      break;
    case '/':
      top->view = VIEW_FILTER_PROMPT;
      g_string_assign (top->input, top->text_filter != NULL ? top->text_filter : "");
      break;
    case 'u':
      top->view = VIEW_USER_PROMPT;
      g_string_assign (top->input, top->user_filter != NULL ? top->user_filter : "");
      break;
    case ' ':
      top_refresh_now (top);
      break;
    default:
      if (!top_scroll_key (top, key))
        top_sort_by_key (top, key);
      break;
    }
}

static void
top_toggle_column (Top *top, int key)
{
  guint n_visible = 0;

  for (guint c = 0; c < N_COLUMNS; c++)
    n_visible += top->visible[c] ? 1 : 0;
  for (guint c = 0; c < N_COLUMNS; c++)
    if (key == column_toggle_key (c) && !(top->visible[c] && n_visible == 1))
      {
        top->visible[c] = !top->visible[c];
        return;
      }
  top->view = VIEW_TABLE;
}

static void
top_accept_input (Top *top)
{
  g_autofree char *text = g_utf8_make_valid (top->input->str, -1);
  char *value = *g_strstrip (text) != '\0' ? g_strdup (text) : NULL;

  if (top->view == VIEW_FILTER_PROMPT)
    {
      g_free (top->text_filter);
      g_free (top->text_filter_folded);
      top->text_filter = value;
      top->text_filter_folded = value != NULL ? g_utf8_casefold (value, -1) : NULL;
    }
  else
    {
      g_free (top->user_filter);
      top->user_filter = value;
    }
  top->view = VIEW_TABLE;
}

static void
top_prompt_key (Top *top, int key)
{
  switch (key)
    {
    case '\n':
    case '\r':
    case KEY_ENTER:
      top_accept_input (top);
      break;
    case 27: /* Escape */
      top->view = VIEW_TABLE;
      break;
    case 21: /* ^U */
      g_string_truncate (top->input, 0);
      break;
    case KEY_BACKSPACE:
    case 127:
    case '\b':
      if (top->input->len > 0)
        {
          const char *last = g_utf8_find_prev_char (top->input->str,
                                                    top->input->str + top->input->len);
          g_string_truncate (top->input, last != NULL ? (gsize) (last - top->input->str) : 0);
        }
      break;
    default:
      /* Bytes of UTF-8 arrive one by one. */
      if (key >= ' ' && key < 256 && top->input->len < 256)
        g_string_append_c (top->input, (char) key);
      break;
    }
}

static void
top_key (Top *top, int key)
{
  switch (top->view)
    {
    case VIEW_HELP:
      top->view = VIEW_TABLE;
      break;
    case VIEW_COLUMNS:
      top_toggle_column (top, key);
      break;
    case VIEW_FILTER_PROMPT:
    case VIEW_USER_PROMPT:
      top_prompt_key (top, key);
      break;
    case VIEW_TABLE:
    default:
      if (key != KEY_RESIZE)
        top_table_key (top, key);
      break;
    }
}

static gboolean
on_input (int fd, GIOCondition condition, gpointer data)
{
  Top *top = data;
  int key;

  while ((key = getch ()) != ERR)
    top_key (top, key);
  if (condition & (G_IO_HUP | G_IO_ERR))
    {
      top_quit (top);
      return G_SOURCE_REMOVE;
    }
  top_arrange (top);
  top_ask_growth_on_screen (top);
  top_draw (top);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_tick (gpointer data)
{
  Top *top = data;

  if (top->iterations != 0 && top->frame >= top->iterations)
    {
      top_quit (top);
      return G_SOURCE_REMOVE;
    }
  top_refresh_now (top);
  top_draw (top);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_resize (gpointer data)
{
  Top *top = data;
  struct winsize size;

  if (ioctl (STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_row > 0 && size.ws_col > 0)
    resizeterm (size.ws_row, size.ws_col);
  top_draw (top);
  return G_SOURCE_CONTINUE;
}

static void
on_bus_closed (GDBusConnection *bus, gboolean remote_peer_vanished, GError *error,
               gpointer data)
{
  Top *top = data;

  top->bus_closed = TRUE;
  top_quit (top);
}

static gboolean
on_quit_signal (gpointer data)
{
  top_quit (data);
  return G_SOURCE_CONTINUE;
}

static gboolean
top_start_curses (Top *top)
{
  top->screen = newterm (NULL, stdout, stdin);
  if (top->screen == NULL)
    return FALSE;
  set_term (top->screen);
  cbreak ();
  noecho ();
  keypad (stdscr, TRUE);
  nodelay (stdscr, TRUE);
  curs_set (0);
  set_escdelay (25);
  top->color = has_colors () && pymemctl_use_color (stdout);
  if (top->color)
    {
      start_color ();
      use_default_colors ();
      init_pair (PAIR_TITLE, COLOR_BLACK, COLOR_CYAN);
      init_pair (PAIR_SORTED, COLOR_BLACK, COLOR_YELLOW);
      init_pair (PAIR_ERROR, COLOR_RED, -1);
    }
  return TRUE;
}

static void
top_stop_curses (Top *top)
{
  endwin ();
  delscreen (top->screen);
  top->screen = NULL;
}

static int
top_run_interactive (Top *top)
{
  g_autoptr(GError) error = NULL;
  gulong closed_handler;
  guint sources[5];

  if (!top_refresh (top, &error))
    return pymemctl_print_error (error, 0);
  /* Before newterm (): curses then leaves these signals to the main loop. */
  sources[0] = g_unix_signal_add (SIGWINCH, on_resize, top);
  sources[1] = g_unix_signal_add (SIGINT, on_quit_signal, top);
  sources[2] = g_unix_signal_add (SIGTERM, on_quit_signal, top);
  if (!top_start_curses (top))
    {
      for (guint i = 0; i < 3; i++)
        g_source_remove (sources[i]);
      g_printerr ("pymemctl: %s\n", _("Cannot use this terminal (is TERM set?); try -b"));
      return PYMEMCTL_EXIT_FAILURE;
    }
  top->loop = g_main_loop_new (NULL, FALSE);
  closed_handler = g_signal_connect (g_dbus_proxy_get_connection (G_DBUS_PROXY (top->monitor)),
                                     "closed", G_CALLBACK (on_bus_closed), top);
  sources[3] = g_unix_fd_add (STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR, on_input, top);
  sources[4] = g_timeout_add ((guint) (top_delay (top) * 1000), on_tick, top);
  top_ask_growth_on_screen (top);
  top_draw (top);
  g_main_loop_run (top->loop);
  for (guint i = 0; i < G_N_ELEMENTS (sources); i++)
    {
      GSource *source = g_main_context_find_source_by_id (NULL, sources[i]);
      if (source != NULL && !g_source_is_destroyed (source))
        g_source_destroy (source);
    }
  g_signal_handler_disconnect (g_dbus_proxy_get_connection (G_DBUS_PROXY (top->monitor)),
                               closed_handler);
  g_clear_handle_id (&top->redraw_source, g_source_remove);
  top_stop_curses (top);
  g_clear_pointer (&top->loop, g_main_loop_unref);
  if (top->bus_closed)
    {
      g_printerr ("pymemctl: %s\n", _("The connection to the bus was closed"));
      return PYMEMCTL_EXIT_FAILURE;
    }
  return PYMEMCTL_EXIT_OK;
}

/* ---- options ---- */

static gboolean
parse_column (const char *text, Column *column)
{
  for (guint c = 0; c < N_COLUMNS; c++)
    if (g_ascii_strcasecmp (text, column_info[c].name) == 0 ||
        g_ascii_strcasecmp (text, column_info[c].title) == 0)
      {
        *column = c;
        return TRUE;
      }
  return FALSE;
}

static char *
column_names (void)
{
  GString *names = g_string_new (NULL);

  for (guint c = 0; c < N_COLUMNS; c++)
    g_string_append_printf (names, "%s%s", c > 0 ? ", " : "", column_info[c].name);
  return g_string_free (names, FALSE);
}

/* -n, -d and -s into TOP; a usage message and FALSE when one is wrong. */
static gboolean
top_apply_options (Top *top, const char *count, const char *delay, const char *sort)
{
  if (count != NULL &&
      !g_ascii_string_to_unsigned (count, 10, 1, G_MAXUINT32, &top->iterations, NULL))
    {
      pymemctl_usage_error (_("-n wants a number of frames (1 or more), not “%s”"), count);
      return FALSE;
    }
  if (delay != NULL)
    {
      char *end = NULL;

      top->delay = g_ascii_strtod (delay, &end);
      if (end == delay || *end != '\0' ||
          !(top->delay >= MIN_DELAY_SECONDS && top->delay <= MAX_DELAY_SECONDS))
        {
          pymemctl_usage_error (_("-d wants seconds between %.1f and %.0f, not “%s”"),
                                MIN_DELAY_SECONDS, MAX_DELAY_SECONDS, delay);
          return FALSE;
        }
    }
  if (sort != NULL && !parse_column (sort, &top->sort))
    {
      g_autofree char *names = column_names ();
      pymemctl_usage_error (_("Unknown column “%s” for -s (one of %s)"), sort, names);
      return FALSE;
    }
  return TRUE;
}

static Top *
top_new (void)
{
  Top *top = g_new0 (Top, 1);

  top->cancellable = g_cancellable_new ();
  top->sort = COLUMN_PSS;
  for (guint c = 0; c < N_COLUMNS; c++)
    top->visible[c] = TRUE;
  top->processes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify) top_process_free);
  top->users = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, g_free);
  top->rows = g_array_new (FALSE, TRUE, sizeof (TopRow));
  top->shown = g_ptr_array_new ();
  top->input = g_string_new (NULL);
  g_queue_init (&top->growth_queue);
  return top;
}

static void
top_free (Top *top)
{
  /* Replies still on their way hold a pointer to TOP. */
  g_cancellable_cancel (top->cancellable);
  g_queue_clear_full (&top->growth_queue, g_free);
  top_wait_growth (top);
  g_clear_object (&top->monitor);
  g_clear_object (&top->cancellable);
  g_free (top->text_filter);
  g_free (top->text_filter_folded);
  g_free (top->user_filter);
  g_hash_table_unref (top->processes);
  g_hash_table_unref (top->users);
  g_array_unref (top->rows);
  g_ptr_array_unref (top->shown);
  g_string_free (top->input, TRUE);
  g_free (top->status);
  g_free (top);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Top, top_free)

int
pymemctl_top (GDBusConnection *bus, int argc, char **argv)
{
  g_autoptr(Top) top = top_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *count = NULL, *delay = NULL, *sort = NULL;
  gboolean batch = FALSE, json = FALSE;
  const GOptionEntry entries[] = {
    { "batch", 'b', 0, G_OPTION_ARG_NONE, &batch,
      N_("Print plain text frames instead of the full-screen view"), NULL },
    { "iterations", 'n', 0, G_OPTION_ARG_STRING, &count, N_("Stop after COUNT frames"),
      N_("COUNT") },
    { "delay", 'd', 0, G_OPTION_ARG_STRING, &delay,
      N_("Refresh every SECONDS (default: the daemon's interval)"), N_("SECONDS") },
    { "sort", 's', 0, G_OPTION_ARG_STRING, &sort,
      N_("Sort by COLUMN: pid, user, pss, uss, priv-dirty, shared, swap, growth, heap or command"),
      N_("COLUMN") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json,
      N_("Print one JSON document per frame, one per line (implies -b)"), NULL },
    { NULL }
  };
  int exit_code = PYMEMCTL_EXIT_OK;

  if (!pymemctl_parse_options (&argc, &argv, NULL,
                               _("Shows the Python processes' memory, refreshed every tick. "
                                 "Keys: h for help, q to quit. GROWTH/h appears once the "
                                 "daemon has answered: with -b, from the second frame on."),
                               entries, &exit_code))
    return exit_code;
  if (argc > 1)
    return pymemctl_usage_error (_("top takes no arguments, not “%s”"), argv[1]);
  if (!top_apply_options (top, count, delay, sort))
    return PYMEMCTL_EXIT_USAGE;
  top->json = json;
  top->batch = batch || json || !isatty (STDIN_FILENO) || !isatty (STDOUT_FILENO);

  top->monitor = pymemctl_monitor_new (bus, &error);
  if (top->monitor == NULL)
    return pymemctl_print_error (error, 0);
  return top->batch ? top_run_batch (top) : top_run_interactive (top);
}
