/* Reads identity facts from /proc/PID/{stat,status,cmdline}, trusting none of their text. */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "pymemd-error.h"
#include "pymemd-pidfiles.h"

gboolean
pymemd_stat_parse (const char *text, PymemdStat *stat, GError **error)
{
  const char *open = strchr (text, '(');
  const char *close = strrchr (text, ')'); /* comm may contain ')' */
  g_auto(GStrv) fields = NULL;
  gsize comm_len;
  guint64 value, ppid;

  memset (stat, 0, sizeof *stat);
  if (open == NULL || close == NULL || close < open || close[1] != ' ')
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE,
                   _("stat: no “(comm)” field"));
      return FALSE;
    }
  comm_len = MIN ((gsize) (close - open - 1), sizeof stat->comm - 1);
  memcpy (stat->comm, open + 1, comm_len);
  stat->comm[comm_len] = '\0';

  /* After comm: field 3 (state) is fields[0], field 22 is fields[19]. */
  fields = g_strsplit (close + 2, " ", 24);
  if (g_strv_length (fields) < 21 || strlen (fields[0]) != 1 ||
      !g_ascii_string_to_unsigned (fields[1], 10, 0, G_MAXINT, &ppid, NULL) ||
      !g_ascii_string_to_unsigned (fields[19], 10, 0, G_MAXUINT64, &value, NULL))
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE,
                   _("stat: truncated or malformed after comm"));
      return FALSE;
    }
  stat->state = fields[0][0];
  stat->ppid = (int) ppid;
  stat->start_time = value;
  return TRUE;
}

/* The four ids of the LABEL line ("\nUid:" or "\nGid:"). */
static gboolean
parse_ids (const char *text, const char *label, guint32 ids[4], GError **error)
{
  const char *line = strstr (text, label);

  if (line == NULL)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE, _("status: no %s line"), label + 1);
      return FALSE;
    }
  line += strlen (label);
  for (guint i = 0; i < 4; i++)
    {
      guint64 value;
      char *end;

      while (*line == '\t' || *line == ' ')
        line++;
      value = g_ascii_strtoull (line, &end, 10);
      if (end == line || (*end != '\t' && *end != ' ' && *end != '\n') || value > G_MAXUINT32 ||
          (i == 3 && *end != '\n'))
        {
          g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE, _("status: malformed %s line"), label + 1);
          return FALSE;
        }
      ids[i] = (guint32) value;
      line = end;
    }
  return TRUE;
}

gboolean
pymemd_status_parse (const char *text, PymemdCredentials *credentials, GError **error)
{
  const char *name = g_str_has_prefix (text, "Name:") ? text + strlen ("Name:") : NULL;
  const char *end = name != NULL ? strchr (name, '\n') : NULL;
  g_autofree char *valid = NULL;
  const char *cut;

  memset (credentials, 0, sizeof *credentials);
  if (end == NULL)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE, _("status: no Name line"));
      return FALSE;
    }
  /* One tab separates the label; the name may begin with spaces of its own. */
  if (*name == '\t')
    name++;
  valid = pymemd_cmdline_to_string (name, MIN ((gsize) (end - name), sizeof credentials->name - 1));
  /* Whole characters only: replacement characters may have made it longer. */
  for (cut = valid; *cut != '\0' && g_utf8_next_char (cut) - valid < (gssize) sizeof credentials->name;
       cut = g_utf8_next_char (cut))
    ;
  memcpy (credentials->name, valid, (gsize) (cut - valid));
  return parse_ids (text, "\nUid:", credentials->uid, error) &&
         parse_ids (text, "\nGid:", credentials->gid, error);
}

gboolean
pymemd_statm_parse (const char *text, PymemdStatm *statm, GError **error)
{
  g_auto(GStrv) fields = g_strsplit (text, " ", 4);

  /* Page counts: bounded so that in bytes (pages up to 64 KiB) they fit. */
  if (g_strv_length (fields) < 4 ||
      !g_ascii_string_to_unsigned (fields[1], 10, 0, G_MAXUINT64 / 65536, &statm->resident, NULL) ||
      !g_ascii_string_to_unsigned (fields[2], 10, 0, G_MAXUINT64 / 65536, &statm->shared, NULL))
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE, _("statm: malformed"));
      return FALSE;
    }
  return TRUE;
}

gboolean
pymemd_unichar_is_hidden (gunichar c)
{
  switch (g_unichar_type (c))
    {
    case G_UNICODE_CONTROL:
    case G_UNICODE_FORMAT:
    case G_UNICODE_LINE_SEPARATOR:
    case G_UNICODE_PARAGRAPH_SEPARATOR:
      return TRUE;
    default:
      return FALSE;
    }
}

char *
pymemd_text_for_people (const char *text, char control, char hidden)
{
  g_autofree char *valid = g_utf8_make_valid (text, -1);
  GString *shown = g_string_sized_new (strlen (valid));

  for (const char *p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (g_unichar_iscntrl (c))
        g_string_append_c (shown, control);
      else if (pymemd_unichar_is_hidden (c))
        g_string_append_c (shown, hidden);
      else
        g_string_append_unichar (shown, c);
    }
  return g_string_free (shown, FALSE);
}

char *
pymemd_cmdline_to_string (const char *data, gsize len)
{
  g_autofree char *copy = g_malloc (len + 1);

  memcpy (copy, data, len); /* not g_strndup: that stops at the first NUL */

  /* argv ends with a NUL: drop it, join the rest. */
  while (len > 0 && data[len - 1] == '\0')
    len--;
  for (gsize i = 0; i < len; i++)
    if (copy[i] == '\0')
      copy[i] = ' ';
  copy[len] = '\0';
  return pymemd_text_for_people (copy, '?', '?');
}
