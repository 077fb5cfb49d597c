/* Metrics in Prometheus's text format (0.0.4, what node-exporter's textfile collector reads) with OpenMetrics' # UNIT lines: families, samples, label values escaped. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  PYMEMCTL_METRIC_GAUGE,
  PYMEMCTL_METRIC_COUNTER, /* its name ends in _total, as 0.0.4 names counters */
} PymemctlMetricType;

typedef struct _PymemctlMetrics PymemctlMetrics;

PymemctlMetrics *pymemctl_metrics_new (void);
void             pymemctl_metrics_free (PymemctlMetrics *metrics);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PymemctlMetrics, pymemctl_metrics_free)

/* Declares a family, written (if it gets samples) in the order families
 * are declared: NAME a metric name, UNIT (NULL for none) the suffix of
 * NAME that names its unit ("bytes", "seconds"), HELP one line of text.
 * Declaring a name again returns the family it has. */
guint pymemctl_metrics_declare (PymemctlMetrics   *metrics,
                                const char        *name,
                                PymemctlMetricType type,
                                const char        *unit,
                                const char        *help);

/* One sample of FAMILY. LABELS is a label set made with
 * pymemctl_metrics_append_label () ("a=\"1\",b=\"2\"", NULL or "" for
 * none); no two samples of a family may have the same. */
void pymemctl_metrics_add (PymemctlMetrics *metrics,
                           guint            family,
                           const char      *labels,
                           double           value);
/* The same for a count or a size, written exactly (a double would round
 * sizes past 2^53 bytes). */
void pymemctl_metrics_add_count (PymemctlMetrics *metrics,
                                 guint            family,
                                 const char      *labels,
                                 guint64          value);

/* How many samples were added. */
guint pymemctl_metrics_get_n_samples (PymemctlMetrics *metrics);

/* The text: for each family with samples # HELP, # TYPE, # UNIT (for a
 * gauge with a unit: 0.0.4 readers take it as a comment) and the samples,
 * which the format wants in one group. */
char *pymemctl_metrics_to_text (PymemctlMetrics *metrics,
                                gsize           *length);

/* LABELS gains NAME="VALUE" (after a comma if it has labels already),
 * VALUE escaped by pymemctl_metrics_escape_label_value (). */
void pymemctl_metrics_append_label (GString    *labels,
                                    const char *name,
                                    const char *value);

/* The longest label value written, in characters; longer ones are cut
 * and end in "…". */
#define PYMEMCTL_METRICS_MAX_LABEL_CHARS 128

/* VALUE as a label value between the quotes: whatever bytes a process's
 * name holds, valid UTF-8 (each invalid byte U+FFFD), backslash, double
 * quote and line feed escaped as the format says (\\, \", \n), every
 * other control character (C0, DEL, C1: a terminal's escapes, a carriage
 * return) U+FFFD, and at most PYMEMCTL_METRICS_MAX_LABEL_CHARS characters. */
char *pymemctl_metrics_escape_label_value (const char *value);

/* A sample value as the format writes it: Go's ParseFloat reads it back
 * exactly; +Inf, -Inf and NaN for what is not finite. */
char *pymemctl_metrics_format_value (double value);

G_END_DECLS
