/* Parses the kernel's smaps family of files into byte counters, rejecting text it cannot vouch for. */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "pymemd-error.h"
#include "pymemd-smaps.h"
#include "pymemd-names.h"

static const struct {
  const char *kernel;
  const char *name;
  gsize       kernel_len;
} fields[PYMEMD_N_FIELDS] = {
#define F(k, n) { k, n, sizeof (k) - 1 }
  F ("Size", PYMEMD_KEY_SIZE),
  F ("Rss", PYMEMD_KEY_RSS),
  F ("Pss", PYMEMD_KEY_PSS),
  F ("Pss_Dirty", PYMEMD_KEY_PSS_DIRTY),
  F ("Pss_Anon", PYMEMD_KEY_PSS_ANON),
  F ("Pss_File", PYMEMD_KEY_PSS_FILE),
  F ("Pss_Shmem", PYMEMD_KEY_PSS_SHMEM),
  F ("Shared_Clean", PYMEMD_KEY_SHARED_CLEAN),
  F ("Shared_Dirty", PYMEMD_KEY_SHARED_DIRTY),
  F ("Private_Clean", PYMEMD_KEY_PRIVATE_CLEAN),
  F ("Private_Dirty", PYMEMD_KEY_PRIVATE_DIRTY),
  F ("Referenced", PYMEMD_KEY_REFERENCED),
  F ("Anonymous", PYMEMD_KEY_ANONYMOUS),
  F ("LazyFree", PYMEMD_KEY_LAZY_FREE),
  F ("AnonHugePages", PYMEMD_KEY_ANON_HUGE_PAGES),
  F ("Swap", PYMEMD_KEY_SWAP),
  F ("SwapPss", PYMEMD_KEY_SWAP_PSS),
  F ("Locked", PYMEMD_KEY_LOCKED),
#undef F
};

/* The largest kB value whose byte count fits in 64 bits. */
#define MAX_KB (G_MAXUINT64 / 1024)

const char *
pymemd_field_kernel_name (PymemdField field)
{
  g_return_val_if_fail (field < PYMEMD_N_FIELDS, NULL);
  return fields[field].kernel;
}

const char *
pymemd_field_name (PymemdField field)
{
  g_return_val_if_fail (field < PYMEMD_N_FIELDS, NULL);
  return fields[field].name;
}

void
pymemd_counters_add (PymemdCounters *a, const PymemdCounters *b)
{
  for (guint i = 0; i < PYMEMD_N_FIELDS; i++)
    a->value[i] += b->value[i];
  a->present |= b->present;
}

static void
clear_mapping (gpointer data)
{
  PymemdMapping *mapping = data;
  g_clear_pointer (&mapping->path, g_free);
}

GArray *
pymemd_mapping_array_new (void)
{
  GArray *array = g_array_new (FALSE, TRUE, sizeof (PymemdMapping));
  g_array_set_clear_func (array, clear_mapping);
  return array;
}

/* Field lines come in the kernel's order, so the next expected field is
 * tried first: one comparison per line in the common case. */
static int
lookup_field (const char *key, gsize key_len, int *cursor)
{
  for (int n = 0; n < PYMEMD_N_FIELDS; n++)
    {
      int i = (*cursor + n) % PYMEMD_N_FIELDS;
      if (fields[i].kernel_len == key_len && memcmp (fields[i].kernel, key, key_len) == 0)
        {
          *cursor = (i + 1) % PYMEMD_N_FIELDS;
          return i;
        }
    }
  return -1;
}

static gboolean
is_header_start (char c)
{
  return g_ascii_isdigit (c) || (c >= 'a' && c <= 'f');
}

static gboolean
parse_hex (const char **p, guint64 *out)
{
  const char *s = *p;
  guint64 v = 0;
  int digits = 0;

  for (; g_ascii_isxdigit (*s); s++, digits++)
    {
      if (digits == 16)
        return FALSE;
      v = (v << 4) | (guint64) g_ascii_xdigit_value (*s);
    }
  if (digits == 0)
    return FALSE;
  *p = s;
  *out = v;
  return TRUE;
}

static gboolean
parse_dec (const char **p, guint64 limit, guint64 *out)
{
  const char *s = *p;
  guint64 v = 0;

  if (!g_ascii_isdigit (*s))
    return FALSE;
  for (; g_ascii_isdigit (*s); s++)
    {
      guint d = (guint) (*s - '0');
      if (v > (limit - d) / 10)
        return FALSE;
      v = v * 10 + d;
    }
  *p = s;
  *out = v;
  return TRUE;
}

static gboolean
expect (const char **p, char c)
{
  if (**p != c)
    return FALSE;
  (*p)++;
  return TRUE;
}

static void
skip_spaces (const char **p)
{
  while (**p == ' ' || **p == '\t')
    (*p)++;
}

gboolean
pymemd_mapping_parse_header (const char    *line,
                             PymemdMapping *mapping,
                             GError       **error)
{
  const char *p = line;
  guint64 major, minor;

  memset (mapping, 0, sizeof *mapping);
  if (!parse_hex (&p, &mapping->start) || !expect (&p, '-') ||
      !parse_hex (&p, &mapping->end) || !expect (&p, ' ') ||
      mapping->end < mapping->start)
    goto bad;
  for (int i = 0; i < 4; i++, p++)
    {
      if (strchr ("rwxsp-", *p) == NULL || *p == '\0')
        goto bad;
      mapping->perms[i] = *p;
    }
  if (!expect (&p, ' ') || !parse_hex (&p, &mapping->offset) || !expect (&p, ' ') ||
      !parse_hex (&p, &major) || !expect (&p, ':') || !parse_hex (&p, &minor) ||
      !expect (&p, ' ') || !parse_dec (&p, G_MAXUINT64, &mapping->inode) ||
      major > G_MAXUINT32 || minor > G_MAXUINT32)
    goto bad;
  mapping->dev_major = (guint32) major;
  mapping->dev_minor = (guint32) minor;
  if (*p != '\0' && *p != ' ')
    goto bad;
  skip_spaces (&p);
  /* A file may be named with any bytes: shown and compared as UTF-8. */
  mapping->path = *p != '\0' ? g_utf8_make_valid (p, -1) : NULL;
  return TRUE;

bad:
  g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE,
               _("Not a mapping header: “%.80s”"), line);
  return FALSE;
}

/* Parses "Key:   123 kB" into COUNTERS. Fields we do not account are
 * skipped; a field we do account must have a well-formed kB value. */
static gboolean
parse_field_line (const char     *line,
                  int            *cursor,
                  PymemdCounters *counters,
                  GError        **error)
{
  const char *colon = strchr (line, ':');
  const char *p;
  guint64 kb;
  int field;

  if (colon == NULL || colon == line)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE,
                   _("Not a “Field: value” line: “%.80s”"), line);
      return FALSE;
    }
  /* Keys are identifiers: anything else (a mangled header) is garbage,
   * not an unknown field to skip. */
  for (p = line; p < colon; p++)
    if (!g_ascii_isalnum (*p) && *p != '_')
      {
        g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE,
                     _("Neither a mapping header nor a field: “%.80s”"), line);
        return FALSE;
      }
  field = lookup_field (line, (gsize) (colon - line), cursor);
  if (field < 0)
    return TRUE;

  p = colon + 1;
  skip_spaces (&p);
  if (!parse_dec (&p, MAX_KB, &kb) || strcmp (p, " kB") != 0)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE,
                   _("Bad value for %s: “%.80s”"), fields[field].kernel, colon + 1);
      return FALSE;
    }
  counters->value[field] = kb * 1024;
  counters->present |= 1u << field;
  return TRUE;
}

static gboolean
check_required (const PymemdCounters *counters, const char *what, GError **error)
{
  static const PymemdField required[] = { PYMEMD_FIELD_RSS, PYMEMD_FIELD_PSS };

  for (guint i = 0; i < G_N_ELEMENTS (required); i++)
    if (!pymemd_counters_has (counters, required[i]))
      {
        g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE,
                     _("%s lacks the %s field (truncated?)"), what,
                     fields[required[i]].kernel);
        return FALSE;
      }
  return TRUE;
}

gboolean
pymemd_rollup_parse (const char     *text,
                     gsize           len,
                     PymemdCounters *counters,
                     GError        **error)
{
  g_autofree char *copy = NULL;
  char *line, *next;
  int cursor = 0;
  guint line_no = 0;

  memset (counters, 0, sizeof *counters);
  if (len == 0)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_GONE,
                   _("smaps_rollup is empty: the process has no address space (exited?)"));
      return FALSE;
    }
  if (memchr (text, '\0', len) != NULL || text[len - 1] != '\n')
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE,
                   _("smaps_rollup is truncated or not text"));
      return FALSE;
    }

  copy = g_strndup (text, len);
  for (line = copy; *line != '\0'; line = next)
    {
      g_autoptr(GError) local_error = NULL;

      next = strchr (line, '\n');
      *next++ = '\0';
      line_no++;
      if (line_no == 1 && is_header_start (line[0]))
        {
          PymemdMapping header;
          if (!pymemd_mapping_parse_header (line, &header, &local_error))
            {
              g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                          "smaps_rollup line 1: ");
              return FALSE;
            }
          g_free (header.path);
          continue;
        }
      if (!parse_field_line (line, &cursor, counters, &local_error))
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                      "smaps_rollup line %u: ", line_no);
          return FALSE;
        }
    }
  return check_required (counters, "smaps_rollup", error);
}

gboolean
pymemd_smaps_parse_fd (int          fd,
                       const char  *name,
                       guint64      max_bytes,
                       gboolean     headers_only,
                       GArray      *mappings,
                       GError     **error)
{
  return pymemd_smaps_parse_fd_within (fd, name, max_bytes, 0, headers_only, mappings, error);
}

/* Whether this thread spent more than MAX_CPU_US (0: no bound) since
 * CPU_START, the error then set. */
static gboolean
over_cpu_budget (gint64 cpu_start, guint64 max_cpu_us, GError **error)
{
  if (max_cpu_us == 0 || (guint64) (pymemd_thread_cpu_us () - cpu_start) <= max_cpu_us)
    return FALSE;
  g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_BUDGET,
               _("Reading took more than %g ms of CPU time, the budget of one read"),
               (double) max_cpu_us / 1000.0);
  return TRUE;
}

gboolean
pymemd_smaps_parse_fd_within (int          fd,
                              const char  *name,
                              guint64      max_bytes,
                              guint64      max_cpu_us,
                              gboolean     headers_only,
                              GArray      *mappings,
                              GError     **error)
{
  gint64 cpu_start = max_cpu_us > 0 ? pymemd_thread_cpu_us () : 0;
  PymemdLineReader reader;
  g_autoptr(GError) local_error = NULL;
  PymemdMapping *current = NULL;
  guint first = mappings->len;
  int cursor = 0;
  char *line;
  gsize len;

  /* 256 KiB reads: few syscalls, and a bound on the longest line. */
  pymemd_line_reader_init (&reader, fd, name, 256 * 1024, max_bytes);

  while (pymemd_line_reader_next (&reader, &line, &len, &local_error))
    {
      /* The kernel writes the text as we read it: the reads' CPU time
       * (its walk and ours) is checked every thousand lines. */
      if (reader.line_no % 1024 == 0 && over_cpu_budget (cpu_start, max_cpu_us, &local_error))
        break;
      if (headers_only || is_header_start (line[0]))
        {
          PymemdMapping mapping;

          if (current != NULL && !headers_only &&
              !check_required (&current->counters, name, &local_error))
            break;
          if (!pymemd_mapping_parse_header (line, &mapping, &local_error))
            break;
          g_array_append_val (mappings, mapping);
          current = &g_array_index (mappings, PymemdMapping, mappings->len - 1);
          cursor = 0;
        }
      else if (current == NULL)
        {
          g_set_error (&local_error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE,
                       _("Field before the first mapping header"));
          break;
        }
      else if (!parse_field_line (line, &cursor, &current->counters, &local_error))
        break;
    }

  /* A file shorter than the check's period is held to the budget too. */
  if (local_error == NULL)
    over_cpu_budget (cpu_start, max_cpu_us, &local_error);
  if (local_error == NULL && reader.unterminated)
    g_set_error (&local_error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE,
                 _("The last line has no newline: truncated"));
  if (local_error == NULL && current == NULL)
    g_set_error (&local_error, PYMEMD_ERROR, PYMEMD_ERROR_GONE,
                 _("No mappings: the process has no address space (exited?)"));
  if (local_error == NULL && !headers_only)
    check_required (&current->counters, name, &local_error);

  if (local_error != NULL)
    {
      g_set_error (error, PYMEMD_ERROR, local_error->code, "%s line %u: %s",
                   name, reader.line_no, local_error->message);
      if (mappings->len > first)
        g_array_remove_range (mappings, first, mappings->len - first);
      pymemd_line_reader_clear (&reader);
      return FALSE;
    }
  pymemd_line_reader_clear (&reader);
  return TRUE;
}
