/* Parsers for the small per-process files: stat (start time, comm), status (uid), cmdline. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  char    comm[64];
  char    state;
  guint64 start_time; /* field 22: clock ticks after boot */
} PymemdStat;

/* Parses /proc/PID/stat, whose comm may hold spaces and parentheses. */
gboolean pymemd_stat_parse (const char *text,
                            PymemdStat *stat,
                            GError    **error);
/* The real uid from the "Uid:" line of /proc/PID/status. */
gboolean pymemd_status_parse_uid (const char *text,
                                  guint32    *uid,
                                  GError    **error);
/* The resident page count, field 2 of /proc/PID/statm. */
gboolean pymemd_statm_parse_resident (const char *text,
                                      guint64    *pages,
                                      GError    **error);
/* NUL-separated argv of LEN bytes as one line: NULs become spaces, other
 * control characters '?'; invalid UTF-8 is replaced. */
char    *pymemd_cmdline_to_string (const char *data,
                                   gsize       len);

G_END_DECLS
