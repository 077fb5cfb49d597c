/* Metrics in Prometheus's text format with OpenMetrics' # UNIT lines: families kept apart until the text is made, label values escaped. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "pymemctl-metrics.h"

typedef struct {
  char              *name;
  PymemctlMetricType type;
  char              *unit;
  char              *help;
  GString           *samples; /* the family's sample lines */
} Family;

struct _PymemctlMetrics {
  GPtrArray  *families; /* of Family, in declaration order */
  GHashTable *by_name;  /* name -> index + 1 */
  guint       n_samples;
};

static void
family_free (Family *family)
{
  g_free (family->name);
  g_free (family->unit);
  g_free (family->help);
  g_string_free (family->samples, TRUE);
  g_free (family);
}

PymemctlMetrics *
pymemctl_metrics_new (void)
{
  PymemctlMetrics *metrics = g_new0 (PymemctlMetrics, 1);

  metrics->families = g_ptr_array_new_with_free_func ((GDestroyNotify) family_free);
  metrics->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  return metrics;
}

void
pymemctl_metrics_free (PymemctlMetrics *metrics)
{
  if (metrics == NULL)
    return;
  g_hash_table_unref (metrics->by_name);
  g_ptr_array_unref (metrics->families);
  g_free (metrics);
}

/* [a-zA-Z_:][a-zA-Z0-9_:]*, the format's metric names. */
static gboolean
is_metric_name (const char *name)
{
  if (name == NULL || !(g_ascii_isalpha (*name) || *name == '_' || *name == ':'))
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    if (!(g_ascii_isalnum (*p) || *p == '_' || *p == ':'))
      return FALSE;
  return TRUE;
}

guint
pymemctl_metrics_declare (PymemctlMetrics   *metrics,
                          const char        *name,
                          PymemctlMetricType type,
                          const char        *unit,
                          const char        *help)
{
  gpointer known = g_hash_table_lookup (metrics->by_name, name);
  Family *family;

  if (known != NULL)
    return GPOINTER_TO_UINT (known) - 1;
  /* The names are pymemctl's own: a wrong one is a programming error. */
  g_return_val_if_fail (is_metric_name (name), 0);
  g_return_val_if_fail (type != PYMEMCTL_METRIC_COUNTER || g_str_has_suffix (name, "_total"), 0);
  g_return_val_if_fail (unit == NULL || type == PYMEMCTL_METRIC_COUNTER ||
                          g_str_has_suffix (name, unit),
                        0);
  family = g_new0 (Family, 1);
  family->name = g_strdup (name);
  family->type = type;
  family->unit = g_strdup (unit);
  family->help = g_strdup (help);
  family->samples = g_string_new (NULL);
  g_ptr_array_add (metrics->families, family);
  g_hash_table_insert (metrics->by_name, family->name, GUINT_TO_POINTER (metrics->families->len));
  return metrics->families->len - 1;
}

static void
add_line (PymemctlMetrics *metrics, guint index, const char *labels, const char *value)
{
  Family *family;

  g_return_if_fail (index < metrics->families->len);
  family = g_ptr_array_index (metrics->families, index);
  /* Thousands of lines: no printf. */
  g_string_append (family->samples, family->name);
  if (labels != NULL && *labels != '\0')
    {
      g_string_append_c (family->samples, '{');
      g_string_append (family->samples, labels);
      g_string_append_c (family->samples, '}');
    }
  g_string_append_c (family->samples, ' ');
  g_string_append (family->samples, value);
  g_string_append_c (family->samples, '\n');
  metrics->n_samples++;
}

void
pymemctl_metrics_add (PymemctlMetrics *metrics, guint family, const char *labels, double value)
{
  g_autofree char *text = pymemctl_metrics_format_value (value);

  add_line (metrics, family, labels, text);
}

void
pymemctl_metrics_add_count (PymemctlMetrics *metrics, guint family, const char *labels, guint64 value)
{
  char text[24];

  g_snprintf (text, sizeof text, "%" G_GUINT64_FORMAT, value);
  add_line (metrics, family, labels, text);
}

guint
pymemctl_metrics_get_n_samples (PymemctlMetrics *metrics)
{
  return metrics->n_samples;
}

/* HELP text may hold anything but a raw backslash or line feed. */
static void
append_help (GString *out, const char *help)
{
  for (const char *p = help; *p != '\0'; p++)
    {
      if (*p == '\\')
        g_string_append (out, "\\\\");
      else if (*p == '\n')
        g_string_append (out, "\\n");
      else
        g_string_append_c (out, *p);
    }
}

char *
pymemctl_metrics_to_text (PymemctlMetrics *metrics, gsize *length)
{
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < metrics->families->len; i++)
    {
      Family *family = g_ptr_array_index (metrics->families, i);

      if (family->samples->len == 0)
        continue;
      g_string_append_printf (out, "# HELP %s ", family->name);
      append_help (out, family->help);
      g_string_append_printf (out, "\n# TYPE %s %s\n", family->name,
                              family->type == PYMEMCTL_METRIC_COUNTER ? "counter" : "gauge");
      /* OpenMetrics names a counter's family without _total, which 0.0.4
       * does not: a UNIT line would name a family this text does not have. */
      if (family->unit != NULL && family->type == PYMEMCTL_METRIC_GAUGE)
        g_string_append_printf (out, "# UNIT %s %s\n", family->name, family->unit);
      g_string_append_len (out, family->samples->str, (gssize) family->samples->len);
    }
  if (length != NULL)
    *length = out->len;
  return g_string_free (out, FALSE);
}

/* Whether VALUE is written as it is: printable ASCII without \\ or ",
 * short enough. Most are (pids, users, "python3.11"). */
static gboolean
is_plain (const char *value)
{
  gsize n = 0;

  for (const char *p = value; *p != '\0'; p++, n++)
    if (*p < 0x20 || *p > 0x7e || *p == '\\' || *p == '"' || n >= PYMEMCTL_METRICS_MAX_LABEL_CHARS)
      return FALSE;
  return TRUE;
}

char *
pymemctl_metrics_escape_label_value (const char *value)
{
  g_autofree char *valid = NULL;
  GString *out;
  guint n = 0;

  if (value == NULL || is_plain (value))
    return g_strdup (value != NULL ? value : "");
  valid = g_utf8_make_valid (value, -1);
  out = g_string_sized_new (strlen (valid) + 8);

  for (const char *p = valid; *p != '\0'; p = g_utf8_next_char (p), n++)
    {
      gunichar c = g_utf8_get_char (p);

      if (n == PYMEMCTL_METRICS_MAX_LABEL_CHARS - 1 && *g_utf8_next_char (p) != '\0')
        {
          g_string_append (out, "…");
          break;
        }
      if (c == '\\')
        g_string_append (out, "\\\\");
      else if (c == '"')
        g_string_append (out, "\\\"");
      else if (c == '\n')
        g_string_append (out, "\\n");
      else if (g_unichar_iscntrl (c))
        g_string_append_unichar (out, 0xfffd);
      else
        g_string_append_unichar (out, c);
    }
  return g_string_free (out, FALSE);
}

void
pymemctl_metrics_append_label (GString *labels, const char *name, const char *value)
{
  g_autofree char *escaped = pymemctl_metrics_escape_label_value (value);

  g_return_if_fail (is_metric_name (name) && strchr (name, ':') == NULL);
  if (labels->len > 0)
    g_string_append_c (labels, ',');
  g_string_append (labels, name);
  g_string_append (labels, "=\"");
  g_string_append (labels, escaped);
  g_string_append_c (labels, '"');
}

char *
pymemctl_metrics_format_value (double value)
{
  if (isnan (value))
    return g_strdup ("NaN");
  if (isinf (value))
    return g_strdup (value > 0 ? "+Inf" : "-Inf");
  /* The shortest of these that reads back as VALUE (%.17g always does),
   * in the C locale: 0.1, not 0.10000000000000001. */
  static const char *const formats[] = { "%.15g", "%.16g", "%.17g" };
  char text[G_ASCII_DTOSTR_BUF_SIZE];

  for (guint i = 0; i < G_N_ELEMENTS (formats); i++)
    {
      g_ascii_formatd (text, sizeof text, formats[i], value);
      if (g_ascii_strtod (text, NULL) == value)
        break;
    }
  return g_strdup (text);
}
