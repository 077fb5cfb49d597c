/* Writes a JSON document whose last member is a long array as json-glib's pretty generator writes the whole, one element's text at a time. */
#include "config.h"

#include <string.h>

#include "pymemd-json-stream.h"

/* TEXT, an element's pretty text, two levels down: each of its lines but
 * the first (which follows the caller's indent) indented by four spaces. */
static void
write_indented (FILE *out, const char *text)
{
  for (const char *line = text, *end; *line != '\0'; line = end + 1)
    {
      if ((end = strchr (line, '\n')) == NULL)
        {
          fputs (line, out);
          return;
        }
      fwrite (line, 1, (gsize) (end - line + 1), out);
      fputs ("    ", out);
    }
}

gboolean
pymemd_json_stream_array (FILE                 *out,
                          const char           *head,
                          const char           *member,
                          guint                 n,
                          PymemdJsonElementText element,
                          gpointer              data)
{
  gsize head_length = head != NULL ? strlen (head) : 0;
  gboolean first = TRUE;

  g_return_val_if_fail (strpbrk (member, "\"\\") == NULL, FALSE);
  /* The pretty form: "{\n  "name" : value,\n …\n}", two spaces a level;
   * the array goes where the head's closing brace is. */
  g_return_val_if_fail (head == NULL || (head_length >= 2 && g_str_has_suffix (head, "\n}")), FALSE);
  if (head != NULL)
    {
      fwrite (head, 1, head_length - 2, out);
      fputs (",\n", out);
    }
  else
    fputs ("{\n", out);
  fprintf (out, "  \"%s\" : [", member);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *text = element (data, i);

      if (text == NULL)
        continue;
      fputs (first ? "\n    " : ",\n    ", out);
      first = FALSE;
      write_indented (out, text);
    }
  /* (An empty array is "[]".) */
  fputs (first ? "]\n}\n" : "\n  ]\n}\n", out);
  return !ferror (out) && fflush (out) == 0;
}
