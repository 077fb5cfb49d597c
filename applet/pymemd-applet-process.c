/* One watched interpreter as the applet knows it: what the daemon last said of it, and its recent PSS for the sparkline. */
#include "config.h"

#include "pymemd-applet-process.h"
#include "pymemd-names.h"
#include "pymemd-pidfiles.h"

struct _PymemdAppletProcess {
  GObject parent_instance;

  guint32  pid;
  guint64  start_time;
  char    *key;
  char    *object_path;
  guint32  uid;
  char    *name;
  char    *cmdline;
  char    *python_version;
  gboolean restricted;
  guint64  rss;
  gboolean has_pss;
  guint64  pss;
  gboolean has_private_dirty;
  guint64  private_dirty;

  GArray                  *history; /* PymemdAppletPoint, oldest first */
  PymemdAppletHistoryState history_state;
  guint                    views;
};

enum {
  SIGNAL_CHANGED,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (PymemdAppletProcess, pymemd_applet_process, G_TYPE_OBJECT)

static void
pymemd_applet_process_finalize (GObject *object)
{
  PymemdAppletProcess *self = PYMEMD_APPLET_PROCESS (object);

  g_free (self->key);
  g_free (self->object_path);
  g_free (self->name);
  g_free (self->cmdline);
  g_free (self->python_version);
  g_array_unref (self->history);
  G_OBJECT_CLASS (pymemd_applet_process_parent_class)->finalize (object);
}

static void
pymemd_applet_process_class_init (PymemdAppletProcessClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pymemd_applet_process_finalize;
  signals[SIGNAL_CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                          NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
pymemd_applet_process_init (PymemdAppletProcess *self)
{
  self->history = g_array_new (FALSE, FALSE, sizeof (PymemdAppletPoint));
  self->name = g_strdup ("");
  self->cmdline = g_strdup ("");
  self->python_version = g_strdup ("");
}

char *
pymemd_applet_process_key (guint32 pid, guint64 start_time)
{
  return g_strdup_printf ("%u_%" G_GUINT64_FORMAT, pid, start_time);
}

PymemdAppletProcess *
pymemd_applet_process_new (guint32 pid, guint64 start_time, const char *object_path)
{
  PymemdAppletProcess *self = g_object_new (PYMEMD_APPLET_TYPE_PROCESS, NULL);

  self->pid = pid;
  self->start_time = start_time;
  self->key = pymemd_applet_process_key (pid, start_time);
  self->object_path = g_strdup (object_path);
  return self;
}

guint32
pymemd_applet_process_get_pid (PymemdAppletProcess *self)
{
  return self->pid;
}

guint64
pymemd_applet_process_get_start_time (PymemdAppletProcess *self)
{
  return self->start_time;
}

const char *
pymemd_applet_process_get_key (PymemdAppletProcess *self)
{
  return self->key;
}

const char *
pymemd_applet_process_get_object_path (PymemdAppletProcess *self)
{
  return self->object_path;
}

guint32
pymemd_applet_process_get_uid (PymemdAppletProcess *self)
{
  return self->uid;
}

const char *
pymemd_applet_process_get_name (PymemdAppletProcess *self)
{
  return self->name;
}

const char *
pymemd_applet_process_get_cmdline (PymemdAppletProcess *self)
{
  return self->cmdline;
}

const char *
pymemd_applet_process_get_python_version (PymemdAppletProcess *self)
{
  return self->python_version;
}

gboolean
pymemd_applet_process_get_restricted (PymemdAppletProcess *self)
{
  return self->restricted;
}

void
pymemd_applet_process_set_restricted (PymemdAppletProcess *self, gboolean restricted)
{
  self->restricted = restricted;
  if (restricted)
    self->has_pss = self->has_private_dirty = FALSE;
}

guint64
pymemd_applet_process_get_rss (PymemdAppletProcess *self)
{
  return self->rss;
}

gboolean
pymemd_applet_process_get_pss (PymemdAppletProcess *self, guint64 *pss)
{
  *pss = self->pss;
  return self->has_pss;
}

gboolean
pymemd_applet_process_get_private_dirty (PymemdAppletProcess *self, guint64 *private_dirty)
{
  *private_dirty = self->private_dirty;
  return self->has_private_dirty;
}

guint64
pymemd_applet_process_get_sort_size (PymemdAppletProcess *self)
{
  return self->has_pss ? self->pss : self->rss;
}

const PymemdAppletPoint *
pymemd_applet_process_get_history (PymemdAppletProcess *self, guint *n_points)
{
  *n_points = self->history->len;
  return (const PymemdAppletPoint *) (void *) self->history->data;
}

PymemdAppletHistoryState
pymemd_applet_process_get_history_state (PymemdAppletProcess *self)
{
  return self->history_state;
}

void
pymemd_applet_process_set_history_state (PymemdAppletProcess *self, PymemdAppletHistoryState state)
{
  self->history_state = state;
}

/* Text a program chose, fit for one line of a label: valid UTF-8 without
 * control characters (a newline in a process name would break the row),
 * and without what would change how the text around it reads (a name
 * with U+202E reads backwards in a GTK label): '?' as pymemctl shows it. */
static char *
one_line (const char *text)
{
  return pymemd_text_for_people (text, ' ', '?');
}

static void
replace_text (char **field, const char *text)
{
  g_free (*field);
  *field = one_line (text);
}

/* Drops points older than the span before the newest, and the oldest past
 * the bound. */
static void
trim_history (PymemdAppletProcess *self)
{
  const PymemdAppletPoint *points = (const PymemdAppletPoint *) (void *) self->history->data;
  guint drop = 0;

  if (self->history->len == 0)
    return;
  while (drop + 1 < self->history->len &&
         points[drop].time < points[self->history->len - 1].time - PYMEMD_APPLET_HISTORY_SPAN_US)
    drop++;
  if (self->history->len - drop > PYMEMD_APPLET_HISTORY_MAX_POINTS)
    drop = self->history->len - PYMEMD_APPLET_HISTORY_MAX_POINTS;
  if (drop > 0)
    g_array_remove_range (self->history, 0, drop);
}

static void
add_point (PymemdAppletProcess *self, gint64 time, guint64 pss)
{
  PymemdAppletPoint point = { time, pss };

  g_array_append_val (self->history, point);
  trim_history (self);
}

void
pymemd_applet_process_update_from_entry (PymemdAppletProcess *self, GVariant *entry)
{
  const char *text;
  guint32 uid;
  gboolean restricted;

  if (g_variant_lookup (entry, PYMEMD_KEY_UID, "u", &uid))
    self->uid = uid;
  if (g_variant_lookup (entry, "name", "&s", &text))
    replace_text (&self->name, text);
  if (g_variant_lookup (entry, "cmdline", "&s", &text))
    replace_text (&self->cmdline, text);
  if (g_variant_lookup (entry, "python_version", "&s", &text))
    replace_text (&self->python_version, text);
  if (g_variant_lookup (entry, "restricted", "b", &restricted))
    self->restricted = restricted;
  g_variant_lookup (entry, PYMEMD_KEY_RSS, "t", &self->rss);
  self->has_pss = !self->restricted && g_variant_lookup (entry, PYMEMD_KEY_PSS, "t", &self->pss);
  self->has_private_dirty = !self->restricted &&
                            g_variant_lookup (entry, PYMEMD_KEY_PRIVATE_DIRTY, "t", &self->private_dirty);
  if (self->has_pss && self->history_state != PYMEMD_APPLET_HISTORY_LOADED)
    {
      gint64 sampled_at = 0;

      if (!g_variant_lookup (entry, "sampled_at", "x", &sampled_at) || sampled_at <= 0)
        sampled_at = g_get_real_time ();
      add_point (self, sampled_at, self->pss);
    }
}

void
pymemd_applet_process_update_from_properties (PymemdAppletProcess *self, GVariant *properties)
{
  const char *text;

  g_variant_lookup (properties, "Uid", "u", &self->uid);
  if (g_variant_lookup (properties, "Name", "&s", &text) && (self->restricted || self->name[0] == '\0'))
    replace_text (&self->name, text); /* status's Name: only where GetProcesses gave no better one */
  if (g_variant_lookup (properties, "Cmdline", "&s", &text))
    replace_text (&self->cmdline, text);
  if (g_variant_lookup (properties, "PythonVersion", "&s", &text))
    replace_text (&self->python_version, text);
  g_variant_lookup (properties, "Rss", "t", &self->rss);
}

void
pymemd_applet_process_update_from_sample (PymemdAppletProcess *self, GVariant *sample, gint64 now)
{
  guint64 value;

  /* Only processes the caller may see in detail are signalled. */
  self->restricted = FALSE;
  if (g_variant_lookup (sample, PYMEMD_KEY_RSS, "t", &value))
    self->rss = value;
  if (g_variant_lookup (sample, PYMEMD_KEY_PRIVATE_DIRTY, "t", &value))
    {
      self->private_dirty = value;
      self->has_private_dirty = TRUE;
    }
  if (g_variant_lookup (sample, PYMEMD_KEY_PSS, "t", &value))
    {
      self->pss = value;
      self->has_pss = TRUE;
      add_point (self, now, value);
    }
}

void
pymemd_applet_process_set_history (PymemdAppletProcess *self, GVariant *times, GVariant *pss_avg)
{
  gsize n_times = 0, n_pss = 0;
  const gint64 *t = g_variant_get_fixed_array (times, &n_times, sizeof (gint64));
  const guint64 *pss = g_variant_get_fixed_array (pss_avg, &n_pss, sizeof (guint64));
  g_autoptr(GArray) since = self->history;
  gint64 last = G_MININT64;

  self->history = g_array_sized_new (FALSE, FALSE, sizeof (PymemdAppletPoint), (guint) MIN (n_times, n_pss));
  for (gsize i = 0; i < MIN (n_times, n_pss); i++)
    {
      add_point (self, t[i], pss[i]);
      last = t[i];
    }
  /* What MemoryChanged brought while the answer was on its way. */
  for (guint i = 0; i < since->len; i++)
    {
      const PymemdAppletPoint *point = &g_array_index (since, PymemdAppletPoint, i);

      if (point->time > last)
        add_point (self, point->time, point->pss);
    }
  self->history_state = PYMEMD_APPLET_HISTORY_LOADED;
}

void
pymemd_applet_process_hold_view (PymemdAppletProcess *self)
{
  self->views++;
}

void
pymemd_applet_process_release_view (PymemdAppletProcess *self)
{
  g_return_if_fail (self->views > 0);
  self->views--;
}

gboolean
pymemd_applet_process_is_viewed (PymemdAppletProcess *self)
{
  return self->views > 0;
}

void
pymemd_applet_process_emit_changed (PymemdAppletProcess *self)
{
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
}
