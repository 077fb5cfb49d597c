/* The events an administrator filters the journal on: their message ids and pymemd's own fields, and the log writer. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* MESSAGE_ID of each event (journalctl MESSAGE_ID=...), made once with
 * `systemd-id128 new`; docs/pymemd.8 (LOGGING) lists them. Never change one:
 * administrators' filters name them. */
#define PYMEMD_MESSAGE_ATTACHED          "303eab87284a428d93161f4c4628e2e0" /* the helper attached */
#define PYMEMD_MESSAGE_ATTACH_REFUSED    "ac4a212c9c53465285a0b88f50507d75" /* an attach failed or was refused */
#define PYMEMD_MESSAGE_HISTORY_DEGRADED  "a947f3242e6e452c9a261b067dc1a297" /* history kept in memory only */
#define PYMEMD_MESSAGE_HISTORY_RESTORED  "972b1fb064d44be290614c7dd1a5a07c" /* the history file written again */
#define PYMEMD_MESSAGE_GROWTH_SUSPECTED  "25f053a2288e4f4f9fd939a94f4d621e" /* a process keeps growing */

/* Logs an event at LEVEL with MESSAGE_ID=MESSAGE_ID and, where given,
 * PYMEMD_PID=PID (> 0) and PYMEMD_WAY=WAY (the attach method), the text
 * in English (an administrator's search and a bug report read the same
 * words whatever the locale). */
#define pymemd_log_event(level, message_id, pid, way, ...)                                   \
  pymemd_log_event_at (level, message_id, pid, way, __FILE__, G_STRINGIFY (__LINE__), G_STRFUNC, \
                       __VA_ARGS__)
void pymemd_log_event_at (GLogLevelFlags level,
                          const char    *message_id,
                          gint           pid,
                          const char    *way,
                          const char    *file,
                          const char    *line,
                          const char    *func,
                          const char    *format,
                          ...) G_GNUC_PRINTF (8, 9);

/* Installs pymemd's log writer: every message one line, its newlines,
 * carriage returns and other control characters but tab written as \n, \r
 * and \xNN; where $PYMEMD_LOG_FIELDS is 1,
 * unless stderr is the journal (which keeps the fields itself), each line
 * on stderr is followed by the entry's MESSAGE_ID and PYMEMD_* fields as
 * KEY=VALUE. */
void pymemd_log_init (void);

G_END_DECLS
