/* Structured logging: the events administrators filter on, with their own journal fields, and a writer that can show those fields off the journal. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pymemd-log.h"

/* syslog(3) priorities of GLib's levels, as GLib's own writer gives them. */
static const char *
priority_of (GLogLevelFlags level)
{
  if (level & G_LOG_LEVEL_ERROR)
    return "3";
  if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    return "4";
  if (level & G_LOG_LEVEL_MESSAGE)
    return "5";
  if (level & G_LOG_LEVEL_INFO)
    return "6";
  return "7";
}

void
pymemd_log_event_at (GLogLevelFlags level,
                     const char    *message_id,
                     gint           pid,
                     const char    *way,
                     const char    *file,
                     const char    *line,
                     const char    *func,
                     const char    *format,
                     ...)
{
  g_autofree char *message = NULL;
  char pid_text[16];
  GLogField fields[9];
  gsize n = 0;
  va_list ap;

  va_start (ap, format);
  message = g_strdup_vprintf (format, ap);
  va_end (ap);
  fields[n++] = (GLogField) { "PRIORITY", priority_of (level), -1 };
  fields[n++] = (GLogField) { "GLIB_DOMAIN", G_LOG_DOMAIN, -1 };
  fields[n++] = (GLogField) { "MESSAGE", message, -1 };
  fields[n++] = (GLogField) { "MESSAGE_ID", message_id, -1 };
  fields[n++] = (GLogField) { "CODE_FILE", file, -1 };
  fields[n++] = (GLogField) { "CODE_LINE", line, -1 };
  fields[n++] = (GLogField) { "CODE_FUNC", func, -1 };
  if (pid > 0)
    {
      g_snprintf (pid_text, sizeof pid_text, "%d", pid);
      fields[n++] = (GLogField) { "PYMEMD_PID", pid_text, -1 };
    }
  if (way != NULL)
    fields[n++] = (GLogField) { "PYMEMD_WAY", way, -1 };
  g_assert (n <= G_N_ELEMENTS (fields));
  g_log_structured_array (level, fields, n);
}

/* GLib's line for the entry, then its own fields, for a reader without the
 * journal (a test, a daemon run by hand). */
static GLogWriterOutput
write_with_fields (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  const char *domain = NULL;
  g_autofree char *text = NULL;
  g_autoptr(GString) line = NULL;

  for (gsize i = 0; i < n_fields; i++)
    if (g_strcmp0 (fields[i].key, "GLIB_DOMAIN") == 0)
      domain = fields[i].value;
  if (g_log_writer_default_would_drop (level, domain))
    return G_LOG_WRITER_HANDLED;
  text = g_log_writer_format_fields (level, fields, n_fields, FALSE);
  line = g_string_new (text);
  for (gsize i = 0; i < n_fields; i++)
    if (fields[i].length < 0 &&
        (strcmp (fields[i].key, "MESSAGE_ID") == 0 || g_str_has_prefix (fields[i].key, "PYMEMD_")))
      g_string_append_printf (line, " %s=%s", fields[i].key, (const char *) fields[i].value);
  g_string_append_c (line, '\n');
  fputs (line->str, stderr);
  fflush (stderr);
  return G_LOG_WRITER_HANDLED;
}

/* TEXT (LENGTH bytes, or up to its NUL when -1) with newlines, carriage
 * returns, other control characters but tab, and DEL written as \n, \r
 * and \xNN: one line, whatever it held. */
static char *
log_escape (const char *text, gssize length)
{
  GString *escaped;
  gsize n = length < 0 ? strlen (text) : (gsize) length;

  escaped = g_string_sized_new (n);
  for (gsize i = 0; i < n; i++)
    {
      guchar c = (guchar) text[i];

      if (c == '\n')
        g_string_append (escaped, "\\n");
      else if (c == '\r')
        g_string_append (escaped, "\\r");
      else if ((c < 0x20 && c != '\t') || c == 0x7f)
        g_string_append_printf (escaped, "\\x%02x", c);
      else
        g_string_append_c (escaped, (char) c);
    }
  return g_string_free (escaped, FALSE);
}

static gboolean fields_wanted;

/* Every entry's message is one line, whoever wrote it: a name a user chose
 * (an executable's, a type's in a heap summary) may hold a newline, which
 * would otherwise make a line of its own in a plain log, one that looks
 * like pymemd's. */
static GLogWriterOutput
write_log (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  g_autofree GLogField *copy = g_new (GLogField, n_fields);
  g_autofree char *message = NULL;

  for (gsize i = 0; i < n_fields; i++)
    {
      copy[i] = fields[i];
      if (message == NULL && strcmp (fields[i].key, "MESSAGE") == 0 && fields[i].value != NULL)
        {
          message = log_escape (fields[i].value, fields[i].length);
          copy[i].value = message;
          copy[i].length = -1;
        }
    }
  if (!fields_wanted)
    return g_log_writer_default (level, copy, n_fields, user_data);
  if (g_log_writer_is_journald (fileno (stderr)))
    return g_log_writer_journald (level, copy, n_fields, user_data);
  return write_with_fields (level, copy, n_fields, user_data);
}

void
pymemd_log_init (void)
{
  fields_wanted = g_strcmp0 (g_getenv ("PYMEMD_LOG_FIELDS"), "1") == 0;
  g_log_set_writer_func (write_log, NULL, NULL);
}
