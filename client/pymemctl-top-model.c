/* pymemctl top's model: the rows of GetSamples, names and command lines for new processes (from this /proc, or GetProcesses), growth from GetGrowth, and the order and filters they are shown in. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gi18n.h>

#include "pymemctl-top-private.h"
#include "pymemd-pidfiles.h"
#include "pymemd-names.h"

#define CALL_TIMEOUT_MSEC    10000
/* The daemon's default [history] growth-window: it measures that window for
 * every process each minute and answers from memory, where another window
 * costs it a query of the store. Asking more often than once a minute gains
 * nothing. */
#define GROWTH_WINDOW_SECONDS 1800.0
#define GROWTH_EVERY_USEC    (60 * G_USEC_PER_SEC)
#define GROWTH_MAX_IN_FLIGHT 16
/* A slope of a young process's first seconds, per hour, says nothing yet. */
#define GROWTH_MIN_SAMPLES   10
#define MAX_CMDLINE_BYTES    4096 /* as much as the daemon reads */
#define LOCAL_READ_THREAD_MIN 64  /* new processes worth a second thread */
#define FEW_UNKNOWN          8    /* asked one by one rather than by GetProcesses */

const ColumnInfo top_columns[N_COLUMNS] = {
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

typedef struct {
  Top     *top;
  guint32  pid;
  guint64  start_time;
} GrowthRequest;

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

static TopProcess *
top_add_process (Top *top, guint32 pid, guint64 start_time, const char *name, const char *cmdline)
{
  TopProcess *process = g_new0 (TopProcess, 1);

  process->name = g_utf8_make_valid (name != NULL ? name : "", -1);
  process->cmdline = g_utf8_make_valid (cmdline != NULL ? cmdline : "", -1);
  if (*process->cmdline != '\0')
    process->command = pymemctl_printable (process->cmdline);
  else if (*process->name != '\0')
    {
      g_autofree char *bracketed = g_strdup_printf ("[%s]", process->name);
      process->command = pymemctl_printable (bracketed);
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

      if (!g_variant_lookup (entry, PYMEMD_KEY_PID, "u", &pid) ||
          !g_variant_lookup (entry, PYMEMD_KEY_START_TIME, "t", &start_time))
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

/* The name and command line of one process from its object's properties,
 * a small reply where GetProcesses' is large (a process that ended since
 * the daemon's sample, for one); a placeholder when the object is gone. */
static void
top_add_from_object (Top *top, guint32 pid, guint64 start_time)
{
  GDBusConnection *bus = g_dbus_proxy_get_connection (G_DBUS_PROXY (top->monitor));
  g_autofree char *path = g_strdup_printf (PYMEMD_MANAGER_PATH "/process/%u_%" G_GUINT64_FORMAT,
                                           pid, start_time);
  g_autoptr(GVariant) reply = g_dbus_connection_call_sync (
    bus, PYMEMD_BUS_NAME, path, "org.freedesktop.DBus.Properties", "GetAll",
    g_variant_new ("(s)", PYMEMD_PROCESS_INTERFACE), G_VARIANT_TYPE ("(a{sv})"),
    G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MSEC, top->cancellable, NULL);
  g_autoptr(GVariant) properties = NULL;
  const char *name = NULL, *cmdline = NULL;

  if (reply != NULL)
    {
      properties = g_variant_get_child_value (reply, 0);
      g_variant_lookup (properties, "Name", "&s", &name);
      g_variant_lookup (properties, "Cmdline", "&s", &cmdline);
    }
  top_add_process (top, pid, start_time, name, cmdline);
}

static guint
top_count_unknown (Top *top)
{
  guint n = 0;

  for (guint i = 0; i < top->rows->len; i++)
    {
      TopRow *row = &g_array_index (top->rows, TopRow, i);
      g_autofree char *key = process_key (row->pid, row->start_time);

      n += g_hash_table_contains (top->processes, key) ? 0 : 1;
    }
  return n;
}

/* Gives each row its process: from this /proc; for the few it does not
 * show, from their objects; when it shows none or few (another pid
 * namespace), from one GetProcesses. */
static gboolean
top_attach_processes (Top *top, GError **error)
{
  guint unknown;

  top_add_local_processes (top);
  unknown = top_count_unknown (top);
  if (unknown > FEW_UNKNOWN && !top_load_processes (top, error))
    return FALSE;
  for (guint i = 0; i < top->rows->len; i++)
    {
      TopRow *row = &g_array_index (top->rows, TopRow, i);
      g_autofree char *key = process_key (row->pid, row->start_time);

      if (!g_hash_table_contains (top->processes, key))
        top_add_from_object (top, row->pid, row->start_time);
      row->process = g_hash_table_lookup (top->processes, key);
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
  start_col = pymemctl_column (start_time, n, sizeof (guint64), &same_length);
  uid_col = pymemctl_column (uid, n, sizeof (guint32), &same_length);
  restricted_col = pymemctl_column (restricted, n, sizeof (guint8), &same_length);
  rss_col = pymemctl_column (rss, n, sizeof (guint64), &same_length);
  pss_col = pymemctl_column (pss, n, sizeof (guint64), &same_length);
  uss_col = pymemctl_column (uss, n, sizeof (guint64), &same_length);
  dirty_col = pymemctl_column (private_dirty, n, sizeof (guint64), &same_length);
  swap_col = pymemctl_column (swap, n, sizeof (guint64), &same_length);
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
      process->growth_known = known && samples >= GROWTH_MIN_SAMPLES;
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
void
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

void
top_wait_growth (Top *top)
{
  while (top->growth_in_flight > 0)
    g_main_context_iteration (NULL, TRUE);
}

/* ---- filtering and sorting ---- */

gboolean
top_row_size (const TopRow *row, Column column, guint64 *bytes)
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
      if (!top_row_size (row, column, &bytes))
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

  if (!top_columns[top->sort].text)
    {
      a_known = row_number (a, top->sort, &unused);
      b_known = row_number (b, top->sort, &unused);
    }
  if (a_known != b_known)
    return a_known ? -1 : 1;
  order = compare_values (a, b, top->sort);
  if (!top_columns[top->sort].ascending)
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

void
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

gboolean
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

char *
top_format_cell (const TopRow *row, Column column)
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
      return top_row_size (row, column, &bytes) ? pymemctl_format_size (bytes) : g_strdup ("-");
    }
}

double
top_delay (Top *top)
{
  double interval = pymemd_dbus_monitor1_get_interval (top->monitor);

  if (top->delay > 0)
    return top->delay;
  return interval >= MIN_DELAY_SECONDS ? interval : 2.0;
}

/* The lines above the table: time and count, the totals, the Python set. */
GPtrArray *
top_header (Top *top)
{
  GPtrArray *lines = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GVariant) totals = pymemd_dbus_monitor1_dup_totals (top->monitor);
  g_autoptr(GVariant) python_set = pymemd_dbus_monitor1_dup_python_set (top->monitor);
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *clock = g_date_time_format (now, "%H:%M:%S");
  g_autofree char *pss = pymemctl_format_figure (totals, PYMEMD_KEY_PSS);
  g_autofree char *uss = pymemctl_format_figure (totals, PYMEMD_KEY_USS);
  g_autofree char *dirty = pymemctl_format_figure (totals, PYMEMD_KEY_PRIVATE_DIRTY);
  g_autofree char *swap = pymemctl_format_figure (totals, PYMEMD_KEY_SWAP);
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

Top *
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

void
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
