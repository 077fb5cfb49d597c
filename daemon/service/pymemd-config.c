/* Loads pymemd.conf: every key bounded and strictly parsed, every error one line naming the file, key, value and what is allowed. */
#include "config.h"

#include <fcntl.h>
#include <math.h>

#include <glib/gi18n.h>

#include "pymemd-config.h"
#include "pymemd-error.h"
#include "pymemd-procfs.h"
#include "pymemd-subscriptions.h"

/* Far more than a file with every key and its comment needs. */
#define CONFIG_MAX_BYTES (64 * 1024)

#define MIB (G_GUINT64_CONSTANT (1) << 20)
#define GIB (G_GUINT64_CONSTANT (1) << 30)
#define MINUTE_US G_GINT64_CONSTANT (60000000)
#define DAY_US (1440 * MINUTE_US)

struct _PymemdConfig
{
  GObject            parent_instance;
  char              *path;
  double             interval;
  double             detail_interval;
  gboolean           events;
  PymemdScanBudget   budget;
  guint64            min_change_bytes;
  double             min_signal_interval;
  guint              max_subscriptions_per_client;
  PymemdAttachPolicy attach;
  PymemdHistorySettings history;
  PymemdHelperLimits helper_limits;
  guint              subscriptions_per_uid;
  guint              pids_per_subscription;
  guint              rescans_per_uid_per_minute;
  PymemdAttachLimits attach_limits;
  PymemdGraphLimits  graph_limits;
  PymemdHeapWatchSettings heap_watch;
};

G_DEFINE_TYPE (PymemdConfig, pymemd_config, G_TYPE_OBJECT)

/* A file being loaded, for the helpers' error messages. */
typedef struct {
  GKeyFile   *file;
  const char *path;
} ConfigSource;

static const char *const monitor_keys[] = { "interval", "detail-interval", "events", NULL };
static const char *const boolean_names[] = { "false", "true", NULL };
static const char *const budget_keys[] = {
  "rollup-max-stall-ms", "rollup-refresh-seconds", "detail-max-rss-mib", "detail-max-smaps-mib",
  "exact-max-mapped-gib", "detail-max-cpu-ms", "detail-share-percent", "rollup-share-percent", NULL
};
static const char *const signals_keys[] = {
  "min-change-bytes", "min-interval", "max-subscriptions-per-client", NULL
};
static const char *const access_keys[] = { "attach", NULL };
static const char *const history_keys[] = {
  "raw-retention-minutes", "minute-retention-days", "hour-retention-days", "max-size-mib",
  "growth-threshold-mib-per-hour", "growth-window-minutes", "retry-seconds", NULL
};
static const char *const limits_keys[] = {
  "helper-connections", "helper-connections-per-uid", "helper-buffer-mib-per-uid",
  "helper-read-timeout-seconds", "helper-log-lines-per-uid-per-minute", "subscriptions-per-uid",
  "pids-per-subscription", "rescans-per-uid-per-minute",
  "attach-timeout-seconds", "attaches-per-uid", "concurrent-attaches",
  "graph-memory-mib", "graph-analyses", NULL
};

static const char *const heap_keys[] = { "interval", "budget-seconds", "processes-per-round", NULL };

static const struct {
  const char        *name;
  const char *const *keys;
} known_groups[] = {
  { "monitor", monitor_keys },
  { "budget", budget_keys },
  { "signals", signals_keys },
  { "access", access_keys },
  { "history", history_keys },
  { "limits", limits_keys },
  { "heap", heap_keys },
};

static const char *const attach_names[] = {
  [PYMEMD_ATTACH_NONE] = "none",
  [PYMEMD_ATTACH_ADMIN] = "admin",
  [PYMEMD_ATTACH_OWN] = "own",
  NULL
};

static void
pymemd_config_finalize (GObject *object)
{
  PymemdConfig *self = PYMEMD_CONFIG (object);

  g_free (self->path);
  G_OBJECT_CLASS (pymemd_config_parent_class)->finalize (object);
}

static void
pymemd_config_class_init (PymemdConfigClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pymemd_config_finalize;
}

/* The defaults, documented in pymemd.conf(5) and data/pymemd.conf; the
 * budget's reasons are in pymemd(8), BUDGETS. */
static void
pymemd_config_init (PymemdConfig *self)
{
  self->interval = 2;
  self->detail_interval = 30;
  self->events = TRUE;
  self->budget.rollup_max_stall_us = 5000;
  self->budget.detail_max_rss = 4096 * MIB;
  self->budget.detail_max_bytes = 256 * MIB;
  self->budget.exact_max_mapped = 64 * GIB;
  self->budget.rollup_refresh_us = 30 * G_USEC_PER_SEC;
  self->budget.detail_max_cpu_us = G_USEC_PER_SEC;
  self->budget.detail_share_us = 25000; /* 2.5% of one CPU per user */
  self->budget.rollup_share_us = 100000; /* 10% */
  self->min_change_bytes = MIB;
  self->min_signal_interval = 2;
  self->max_subscriptions_per_client = 16;
  self->attach = PYMEMD_ATTACH_OWN;
  self->history.raw_keep_us = 60 * MINUTE_US;
  self->history.minute_keep_us = 14 * DAY_US;
  self->history.hour_keep_us = 400 * DAY_US;
  self->history.max_bytes = 256 * MIB;
  self->history.growth_threshold = 16.0 * MIB;
  self->history.growth_window_us = 30 * MINUTE_US;
  self->history.retry_seconds = 30;
  pymemd_helper_limits_init (&self->helper_limits);
  self->subscriptions_per_uid = 64;
  self->pids_per_subscription = PYMEMD_SUBSCRIPTION_MAX_PIDS;
  self->rescans_per_uid_per_minute = 10;
  self->attach_limits.timeout_seconds = 15;
  self->attach_limits.per_uid = 4;
  self->attach_limits.concurrent = 4;
  self->graph_limits.memory = 256 * MIB;
  self->graph_limits.concurrent = 2;
  self->heap_watch.interval = 0;
  self->heap_watch.budget = 0.5;
  self->heap_watch.per_round = 32;
}

PymemdConfig *
pymemd_config_new (void)
{
  return g_object_new (PYMEMD_TYPE_CONFIG, NULL);
}

/* FORMAT_PROBLEM says why VALUE is no number, or is NULL if it is one out of range. */
static void
set_value_error (GError            **error,
                 const ConfigSource *src,
                 const char         *group,
                 const char         *key,
                 const char         *value,
                 const char         *format_problem,
                 const char         *allowed)
{
  const char *problem = value[0] == '\0' ? _("empty value") : format_problem;

  if (problem != NULL)
    g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS,
                 _("%s: [%s] %s=%s: %s; must be %s"), src->path, group, key, value, problem, allowed);
  else
    g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS,
                 _("%s: [%s] %s=%s: must be %s"), src->path, group, key, value, allowed);
}

/* "between MIN and MAX UNIT", UNIT optional. */
static char *
describe_range (const char *min, const char *max, const char *unit)
{
  if (unit == NULL)
    return g_strdup_printf (_("between %s and %s"), min, max);
  return g_strdup_printf (_("between %s and %s %s"), min, max, unit);
}

static char *
describe_double_range (double min, double max, const char *unit)
{
  char min_text[G_ASCII_DTOSTR_BUF_SIZE], max_text[G_ASCII_DTOSTR_BUF_SIZE];

  g_ascii_formatd (min_text, sizeof min_text, "%g", min);
  g_ascii_formatd (max_text, sizeof max_text, "%g", max);
  return describe_range (min_text, max_text, unit);
}

/* Digits with an optional fraction, and nothing else: g_ascii_strtod alone
 * would also take a sign, an exponent, hex, "inf", "nan" and leading
 * blanks. */
static gboolean
parse_plain_decimal (const char *text, double *out)
{
  gboolean digits = FALSE, point = FALSE;
  char *end;

  for (const char *p = text; *p != '\0'; p++)
    {
      if (g_ascii_isdigit (*p))
        digits = TRUE;
      else if (*p == '.' && !point)
        point = TRUE;
      else
        return FALSE;
    }
  if (!digits)
    return FALSE;
  *out = g_ascii_strtod (text, &end);
  return *end == '\0' && isfinite (*out);
}

/* The value as written, or NULL if absent. GKeyFile drops the blanks
 * before it but keeps those after it, which nobody can see. */
static char *
get_value (const ConfigSource *src, const char *group, const char *key)
{
  char *value = g_key_file_get_value (src->file, group, key, NULL);

  return value != NULL ? g_strchomp (value) : NULL;
}

/* Each read_* leaves OUT alone when the key is absent. */
static gboolean
read_double_within (const ConfigSource *src,
                    const char         *group,
                    const char         *key,
                    double              min,
                    double              max,
                    const char         *allowed,
                    double             *out,
                    GError            **error)
{
  g_autofree char *value = get_value (src, group, key);
  double number = 0;
  gboolean malformed;

  if (value == NULL)
    return TRUE;
  malformed = !parse_plain_decimal (value, &number);
  if (malformed || number < min || number > max)
    {
      set_value_error (error, src, group, key, value,
                       malformed ? _("not a plain decimal number") : NULL, allowed);
      return FALSE;
    }
  *out = number;
  return TRUE;
}

static gboolean
read_double (const ConfigSource *src,
             const char         *group,
             const char         *key,
             double              min,
             double              max,
             const char         *unit,
             double             *out,
             GError            **error)
{
  g_autofree char *allowed = describe_double_range (min, max, unit);

  return read_double_within (src, group, key, min, max, allowed, out, error);
}

static gboolean
read_unsigned (const ConfigSource *src,
               const char         *group,
               const char         *key,
               guint64             min,
               guint64             max,
               const char         *unit,
               guint64            *out,
               GError            **error)
{
  g_autofree char *value = get_value (src, group, key);
  g_autoptr(GError) parse_error = NULL;
  guint64 number;

  if (value == NULL)
    return TRUE;
  /* Base 10 takes no sign, blank, "0x" or trailing junk. */
  if (!g_ascii_string_to_unsigned (value, 10, min, max, &number, &parse_error))
    {
      char min_text[32], max_text[32];
      g_autofree char *allowed = NULL;

      g_snprintf (min_text, sizeof min_text, "%" G_GUINT64_FORMAT, min);
      g_snprintf (max_text, sizeof max_text, "%" G_GUINT64_FORMAT, max);
      allowed = describe_range (min_text, max_text, unit);
      set_value_error (error, src, group, key, value,
                       g_error_matches (parse_error, G_NUMBER_PARSER_ERROR,
                                        G_NUMBER_PARSER_ERROR_OUT_OF_BOUNDS)
                       ? NULL : _("not a plain whole number"),
                       allowed);
      return FALSE;
    }
  *out = number;
  return TRUE;
}

static gboolean
read_choice (const ConfigSource *src,
             const char         *group,
             const char         *key,
             const char *const  *names,
             guint              *out,
             GError            **error)
{
  g_autofree char *value = get_value (src, group, key);
  g_autofree char *list = NULL;
  g_autofree char *allowed = NULL;

  if (value == NULL)
    return TRUE;
  for (guint i = 0; names[i] != NULL; i++)
    if (g_str_equal (value, names[i]))
      {
        *out = i;
        return TRUE;
      }
  list = g_strjoinv (", ", (char **) names);
  allowed = g_strdup_printf (_("one of %s"), list);
  set_value_error (error, src, group, key, value, NULL, allowed);
  return FALSE;
}

/* Unknown names are most likely typos, which silently keeping a default
 * would hide. */
static gboolean
check_names (const ConfigSource *src, GError **error)
{
  g_auto(GStrv) groups = g_key_file_get_groups (src->file, NULL);

  for (guint g = 0; groups[g] != NULL; g++)
    {
      const char *const *known = NULL;
      g_auto(GStrv) keys = NULL;

      for (guint i = 0; i < G_N_ELEMENTS (known_groups); i++)
        if (g_str_equal (groups[g], known_groups[i].name))
          known = known_groups[i].keys;
      if (known == NULL)
        {
          g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS,
                       _("%s: [%s]: unknown group; known groups are "
                         "[monitor], [budget], [signals], [access], [history], [limits] and [heap]"),
                       src->path, groups[g]);
          return FALSE;
        }

      keys = g_key_file_get_keys (src->file, groups[g], NULL, NULL);
      for (guint k = 0; keys[k] != NULL; k++)
        if (!g_strv_contains (known, keys[k]))
          {
            g_autofree char *list = g_strjoinv (", ", (char **) known);
            g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS,
                         _("%s: [%s] %s: unknown key; known keys in [%s] are %s"),
                         src->path, groups[g], keys[k], groups[g], list);
            return FALSE;
          }
    }
  return TRUE;
}

static gboolean
read_monitor (PymemdConfig *self, const ConfigSource *src, GError **error)
{
  char interval_text[G_ASCII_DTOSTR_BUF_SIZE], detail_text[G_ASCII_DTOSTR_BUF_SIZE];
  g_autofree char *detail_allowed = NULL;
  g_autofree char *interval_value = NULL;

  guint events = self->events ? 1 : 0;

  if (!read_double (src, "monitor", "interval", 0.5, 3600, _("seconds"), &self->interval, error) ||
      !read_choice (src, "monitor", "events", boolean_names, &events, error))
    return FALSE;
  self->events = events == 1;
  g_ascii_formatd (interval_text, sizeof interval_text, "%g", self->interval);
  detail_allowed = g_strdup_printf (_("at least interval (%s seconds) and at most 86400 seconds"),
                                    interval_text);
  if (!read_double_within (src, "monitor", "detail-interval", self->interval, 86400,
                           detail_allowed, &self->detail_interval, error))
    return FALSE;
  if (self->detail_interval >= self->interval)
    return TRUE;

  /* Only a default detail-interval can be left below the interval. */
  interval_value = get_value (src, "monitor", "interval");
  g_ascii_formatd (detail_text, sizeof detail_text, "%g", self->detail_interval);
  g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS,
               _("%s: [monitor] interval=%s: more than detail-interval, which defaults "
                 "to %s seconds; set detail-interval too"),
               src->path, interval_value, detail_text);
  return FALSE;
}

static gboolean
read_budget (PymemdConfig *self, const ConfigSource *src, GError **error)
{
  double stall_ms = self->budget.rollup_max_stall_us / 1000.0;
  double refresh_s = (double) self->budget.rollup_refresh_us / G_USEC_PER_SEC;
  guint64 rss_mib = self->budget.detail_max_rss / MIB;
  guint64 smaps_mib = self->budget.detail_max_bytes / MIB;
  guint64 mapped_gib = self->budget.exact_max_mapped / GIB;
  double cpu_ms = self->budget.detail_max_cpu_us / 1000.0;
  double share_percent = self->budget.detail_share_us / 10000.0;
  double rollup_percent = self->budget.rollup_share_us / 10000.0;

  if (!read_double (src, "budget", "rollup-max-stall-ms", 0.1, 1000, _("milliseconds"), &stall_ms,
                    error) ||
      !read_double (src, "budget", "rollup-refresh-seconds", 0, 3600, _("seconds"), &refresh_s,
                    error) ||
      !read_unsigned (src, "budget", "detail-max-rss-mib", 1, 1048576, "MiB", &rss_mib, error) ||
      !read_unsigned (src, "budget", "detail-max-smaps-mib", 1, 4096, "MiB", &smaps_mib, error) ||
      !read_unsigned (src, "budget", "exact-max-mapped-gib", 1, 65536, "GiB", &mapped_gib, error) ||
      !read_double (src, "budget", "detail-max-cpu-ms", 1, 60000, _("milliseconds"), &cpu_ms, error) ||
      !read_double (src, "budget", "detail-share-percent", 0.1, 100, _("percent"), &share_percent,
                    error) ||
      !read_double (src, "budget", "rollup-share-percent", 0.1, 100, _("percent"), &rollup_percent,
                    error))
    return FALSE;
  self->budget.rollup_max_stall_us = (guint64) (stall_ms * 1000 + 0.5);
  self->budget.rollup_refresh_us = (guint64) (refresh_s * G_USEC_PER_SEC + 0.5);
  self->budget.detail_max_rss = rss_mib * MIB;
  self->budget.detail_max_bytes = smaps_mib * MIB;
  self->budget.exact_max_mapped = mapped_gib * GIB;
  self->budget.detail_max_cpu_us = (guint64) (cpu_ms * 1000 + 0.5);
  self->budget.detail_share_us = (guint64) (share_percent * 10000 + 0.5);
  self->budget.rollup_share_us = (guint64) (rollup_percent * 10000 + 0.5);
  return TRUE;
}

static gboolean
read_signals (PymemdConfig *self, const ConfigSource *src, GError **error)
{
  guint64 max_subscriptions = self->max_subscriptions_per_client;

  if (!read_unsigned (src, "signals", "min-change-bytes", 0, G_GUINT64_CONSTANT (1) << 40,
                      _("bytes"), &self->min_change_bytes, error) ||
      !read_double (src, "signals", "min-interval", 0, 86400, _("seconds"),
                    &self->min_signal_interval, error) ||
      !read_unsigned (src, "signals", "max-subscriptions-per-client", 1, 1024, NULL,
                      &max_subscriptions, error))
    return FALSE;
  self->max_subscriptions_per_client = (guint) max_subscriptions;
  return TRUE;
}

static gboolean
read_access (PymemdConfig *self, const ConfigSource *src, GError **error)
{
  guint attach = self->attach;

  if (!read_choice (src, "access", "attach", attach_names, &attach, error))
    return FALSE;
  self->attach = (PymemdAttachPolicy) attach;
  return TRUE;
}

static gboolean
read_history (PymemdConfig *self, const ConfigSource *src, GError **error)
{
  PymemdHistorySettings *h = &self->history;
  guint64 raw_minutes = (guint64) (h->raw_keep_us / MINUTE_US);
  guint64 minute_days = (guint64) (h->minute_keep_us / DAY_US);
  guint64 hour_days = (guint64) (h->hour_keep_us / DAY_US);
  guint64 max_mib = h->max_bytes / MIB;
  guint64 window_minutes = (guint64) (h->growth_window_us / MINUTE_US);
  double threshold_mib = h->growth_threshold / MIB;

  if (!read_unsigned (src, "history", "raw-retention-minutes", 10, 10080, _("minutes"), &raw_minutes, error) ||
      !read_unsigned (src, "history", "minute-retention-days", 1, 366, _("days"), &minute_days, error) ||
      !read_unsigned (src, "history", "hour-retention-days", 1, 3660, _("days"), &hour_days, error) ||
      !read_unsigned (src, "history", "max-size-mib", 1, 1048576, "MiB", &max_mib, error) ||
      !read_double (src, "history", "growth-threshold-mib-per-hour", 0, 1048576, _("MiB per hour"),
                    &threshold_mib, error) ||
      !read_unsigned (src, "history", "growth-window-minutes", 1, 10080, _("minutes"), &window_minutes, error) ||
      !read_double (src, "history", "retry-seconds", 1, 3600, _("seconds"), &h->retry_seconds, error))
    return FALSE;
  h->raw_keep_us = (gint64) raw_minutes * MINUTE_US;
  h->minute_keep_us = (gint64) minute_days * DAY_US;
  h->hour_keep_us = (gint64) hour_days * DAY_US;
  h->max_bytes = max_mib * MIB;
  h->growth_threshold = threshold_mib * MIB;
  h->growth_window_us = (gint64) window_minutes * MINUTE_US;
  return TRUE;
}

/* A guint key from MIN to MAX. */
static gboolean
read_count (const ConfigSource *src,
            const char         *group,
            const char         *key,
            guint               min,
            guint               max,
            guint              *out,
            GError            **error)
{
  guint64 value = *out;

  if (!read_unsigned (src, group, key, min, max, NULL, &value, error))
    return FALSE;
  *out = (guint) value;
  return TRUE;
}

static gboolean
read_attach_limits (PymemdConfig *self, const ConfigSource *src, GError **error)
{
  PymemdAttachLimits *l = &self->attach_limits;

  return read_double (src, "limits", "attach-timeout-seconds", 1, 600, _("seconds"), &l->timeout_seconds,
                      error) &&
         read_count (src, "limits", "attaches-per-uid", 1, 64, &l->per_uid, error) &&
         read_count (src, "limits", "concurrent-attaches", 1, 64, &l->concurrent, error);
}

/* The retained-size analyses: the memory of each, how many at once. */
static gboolean
read_graph_limits (PymemdConfig *self, const ConfigSource *src, GError **error)
{
  guint64 memory_mib = self->graph_limits.memory / MIB;

  if (!read_unsigned (src, "limits", "graph-memory-mib", 16, 65536, "MiB", &memory_mib, error) ||
      !read_count (src, "limits", "graph-analyses", 1, 64, &self->graph_limits.concurrent, error))
    return FALSE;
  self->graph_limits.memory = (gsize) (memory_mib * MIB);
  return TRUE;
}

static gboolean
read_limits (PymemdConfig *self, const ConfigSource *src, GError **error)
{
  PymemdHelperLimits *h = &self->helper_limits;
  guint64 buffer_mib = h->buffer_per_uid / MIB;

  if (!read_attach_limits (self, src, error) || !read_graph_limits (self, src, error) ||
      !read_count (src, "limits", "helper-connections", 1, 65536, &h->connections, error) ||
      !read_count (src, "limits", "helper-connections-per-uid", 1, 65536, &h->connections_per_uid,
                   error) ||
      !read_unsigned (src, "limits", "helper-buffer-mib-per-uid", 1, 1024, "MiB", &buffer_mib,
                      error) ||
      !read_double (src, "limits", "helper-read-timeout-seconds", 0.1, 600, _("seconds"),
                    &h->read_timeout, error) ||
      !read_count (src, "limits", "helper-log-lines-per-uid-per-minute", 1, 100000,
                   &h->log_lines_per_uid, error) ||
      !read_count (src, "limits", "subscriptions-per-uid", 1, PYMEMD_SUBSCRIPTIONS_MAX_TOTAL,
                   &self->subscriptions_per_uid, error) ||
      !read_count (src, "limits", "pids-per-subscription", 1, PYMEMD_SUBSCRIPTION_MAX_PIDS,
                   &self->pids_per_subscription, error) ||
      !read_count (src, "limits", "rescans-per-uid-per-minute", 1, 3600,
                   &self->rescans_per_uid_per_minute, error))
    return FALSE;
  h->buffer_per_uid = (gsize) (buffer_mib * MIB);
  /* A per-uid bound above the total would let one user take every slot. */
  if (h->connections_per_uid > h->connections)
    {
      g_autofree char *per_uid = get_value (src, "limits", "helper-connections-per-uid");

      if (per_uid != NULL)
        g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS,
                     _("%s: [limits] helper-connections-per-uid=%s: must be at most "
                       "helper-connections (%u)"),
                     src->path, per_uid, h->connections);
      else
        g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS,
                     _("%s: [limits] helper-connections=%u: less than "
                       "helper-connections-per-uid, which defaults to %u; set "
                       "helper-connections-per-uid too"),
                     src->path, h->connections, h->connections_per_uid);
      return FALSE;
    }
  return TRUE;
}

/* [heap] interval is 0 (off), or from 10 seconds to a day: a light summary
 * costs each process its census, and more often than every 10 s would be
 * a profiler's job, not a monitor's. */
static gboolean
read_heap (PymemdConfig *self, const ConfigSource *src, GError **error)
{
  PymemdHeapWatchSettings *h = &self->heap_watch;

  return read_double_within (src, "heap", "interval", 0, 86400,
                             _("0 (no periodic summaries) or between 10 and 86400 seconds"), &h->interval,
                             error) &&
         (h->interval == 0 || h->interval >= 10 ||
          read_double_within (src, "heap", "interval", 10, 86400,
                              _("0 (no periodic summaries) or between 10 and 86400 seconds"), &h->interval,
                              error)) &&
         read_double (src, "heap", "budget-seconds", 0.05, 10, _("seconds"), &h->budget, error) &&
         read_count (src, "heap", "processes-per-round", 1, 4096, &h->per_round, error);
}

static GKeyFile *
read_key_file (const char *path, GError **error)
{
  g_autofree char *text = g_malloc (CONFIG_MAX_BYTES + 1);
  g_autoptr(GKeyFile) file = g_key_file_new ();
  g_autoptr(GError) parse_error = NULL;
  const char *invalid;
  gssize len;

  len = pymemd_procfs_read_file_at (AT_FDCWD, path, text, CONFIG_MAX_BYTES + 1, error);
  if (len < 0)
    return NULL;
  /* Also rejects NUL bytes, so that no part of the file goes unread. */
  if (!g_utf8_validate_len (text, (gsize) len, &invalid))
    {
      guint line = 1;

      for (const char *p = text; p < invalid; p++)
        line += *p == '\n';
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS,
                   _("%s: line %u: not UTF-8 text"), path, line);
      return NULL;
    }
  if (!g_key_file_load_from_data (file, text, (gsize) len, G_KEY_FILE_NONE, &parse_error))
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS,
                   "%s: %s", path, parse_error->message);
      return NULL;
    }
  return g_steal_pointer (&file);
}

PymemdConfig *
pymemd_config_load (const char *path, gboolean missing_ok, GError **error)
{
  g_autoptr(PymemdConfig) self = pymemd_config_new ();
  g_autoptr(GKeyFile) file = NULL;
  g_autoptr(GError) read_error = NULL;
  ConfigSource src;

  g_return_val_if_fail (path != NULL, NULL);

  file = read_key_file (path, &read_error);
  if (file == NULL)
    {
      if (missing_ok && g_error_matches (read_error, PYMEMD_ERROR, PYMEMD_ERROR_GONE))
        return g_steal_pointer (&self);
      g_propagate_error (error, g_steal_pointer (&read_error));
      return NULL;
    }

  src.file = file;
  src.path = path;
  if (!check_names (&src, error) ||
      !read_monitor (self, &src, error) ||
      !read_budget (self, &src, error) ||
      !read_signals (self, &src, error) ||
      !read_access (self, &src, error) ||
      !read_history (self, &src, error) ||
      !read_limits (self, &src, error) ||
      !read_heap (self, &src, error))
    return NULL;
  self->path = g_strdup (path);
  return g_steal_pointer (&self);
}

PymemdConfig *
pymemd_config_load_first (const char *const *paths, GError **error)
{
  for (guint i = 0; paths[i] != NULL; i++)
    {
      g_autoptr(GError) local_error = NULL;
      PymemdConfig *config = pymemd_config_load (paths[i], FALSE, &local_error);

      if (config != NULL)
        return config;
      if (!g_error_matches (local_error, PYMEMD_ERROR, PYMEMD_ERROR_GONE))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
    }
  return pymemd_config_new ();
}

const char *
pymemd_config_get_path (PymemdConfig *self)
{
  return self->path;
}

double
pymemd_config_get_interval (PymemdConfig *self)
{
  return self->interval;
}

double
pymemd_config_get_detail_interval (PymemdConfig *self)
{
  return self->detail_interval;
}

void
pymemd_config_get_monitor (PymemdConfig *self, PymemdMonitorSettings *out)
{
  out->interval = self->interval;
  out->detail_interval = self->detail_interval;
  out->events = self->events;
  out->budget = self->budget;
}

guint64
pymemd_config_get_min_change_bytes (PymemdConfig *self)
{
  return self->min_change_bytes;
}

double
pymemd_config_get_min_signal_interval (PymemdConfig *self)
{
  return self->min_signal_interval;
}

guint
pymemd_config_get_max_subscriptions_per_client (PymemdConfig *self)
{
  return self->max_subscriptions_per_client;
}

PymemdAttachPolicy
pymemd_config_get_attach (PymemdConfig *self)
{
  return self->attach;
}

void
pymemd_config_get_history (PymemdConfig *self, PymemdHistorySettings *out)
{
  *out = self->history;
}

void
pymemd_config_get_helper_limits (PymemdConfig *self, PymemdHelperLimits *out)
{
  *out = self->helper_limits;
}

guint
pymemd_config_get_subscriptions_per_uid (PymemdConfig *self)
{
  return self->subscriptions_per_uid;
}

guint
pymemd_config_get_pids_per_subscription (PymemdConfig *self)
{
  return self->pids_per_subscription;
}

guint
pymemd_config_get_rescans_per_uid_per_minute (PymemdConfig *self)
{
  return self->rescans_per_uid_per_minute;
}

void
pymemd_config_get_attach_limits (PymemdConfig *self, PymemdAttachLimits *out)
{
  *out = self->attach_limits;
}

void
pymemd_config_get_graph_limits (PymemdConfig *self, PymemdGraphLimits *out)
{
  *out = self->graph_limits;
}

void
pymemd_config_get_heap_watch (PymemdConfig *self, PymemdHeapWatchSettings *out)
{
  *out = self->heap_watch;
}

PymemdConfig *
pymemd_config_with_intervals (PymemdConfig *self,
                              double        interval,
                              double        detail_interval,
                              GError      **error)
{
  PymemdConfig *copy = g_object_new (PYMEMD_TYPE_CONFIG, NULL);

  copy->path = g_strdup (self->path);
  copy->interval = interval > 0 ? interval : self->interval;
  copy->detail_interval = detail_interval > 0 ? detail_interval : MAX (self->detail_interval, copy->interval);
  copy->events = self->events;
  copy->budget = self->budget;
  copy->min_change_bytes = self->min_change_bytes;
  copy->min_signal_interval = self->min_signal_interval;
  copy->max_subscriptions_per_client = self->max_subscriptions_per_client;
  copy->attach = self->attach;
  copy->history = self->history;
  copy->helper_limits = self->helper_limits;
  copy->subscriptions_per_uid = self->subscriptions_per_uid;
  copy->pids_per_subscription = self->pids_per_subscription;
  copy->rescans_per_uid_per_minute = self->rescans_per_uid_per_minute;
  copy->attach_limits = self->attach_limits;
  copy->graph_limits = self->graph_limits;
  copy->heap_watch = self->heap_watch;
  if (copy->interval < 0.5 || copy->interval > 3600)
    g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS,
                 _("--interval %g: must be between 0.5 and 3600 seconds"), copy->interval);
  else if (copy->detail_interval < copy->interval || copy->detail_interval > 86400)
    g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS,
                 _("--detail-interval %g: must be between the interval (%g) and 86400 seconds"),
                 copy->detail_interval, copy->interval);
  else
    return copy;
  g_object_unref (copy);
  return NULL;
}
