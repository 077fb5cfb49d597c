/* What every pymemctl subcommand shares: the bus and the daemon's proxy, error messages and exit codes, sizes, durations, tables and JSON. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "pymemctl-util.h"
#include "pymemd-error.h"
#include "pymemd-json-stream.h"
#include "pymemd-names.h"
#include "pymemd-pidfiles.h"

/* The bus chosen by the global options, for pymemctl_bus_connect () and the messages. */
static PymemctlBus chosen_bus = PYMEMCTL_BUS_SYSTEM;
static char *chosen_address = NULL;

void
pymemctl_choose_bus (PymemctlBus bus, const char *address)
{
  chosen_bus = bus;
  g_clear_pointer (&chosen_address, g_free);
  chosen_address = g_strdup (address);
}

GDBusConnection *
pymemctl_bus_connect (GError **error)
{
  GDBusConnection *connection;

  /* Registers org.pymemd.Error.* so that the daemon's errors arrive as
   * PYMEMD_ERROR codes. */
  (void) PYMEMD_ERROR;
  switch (chosen_bus)
    {
    case PYMEMCTL_BUS_SESSION:
      connection = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, error);
      break;
    case PYMEMCTL_BUS_ADDRESS:
      connection = g_dbus_connection_new_for_address_sync (
        chosen_address,
        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
          G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
        NULL, NULL, error);
      break;
    case PYMEMCTL_BUS_SYSTEM:
    default:
      connection = g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, error);
      break;
    }
  if (connection == NULL && chosen_bus == PYMEMCTL_BUS_SYSTEM)
    g_prefix_error (error, _("Cannot connect to the system bus: "));
  else if (connection == NULL && chosen_bus == PYMEMCTL_BUS_SESSION)
    g_prefix_error (error, _("Cannot connect to the session bus: "));
  else if (connection == NULL)
    g_prefix_error (error, _("Cannot connect to the bus at %s: "), chosen_address);
  return connection;
}

static PymemdDbusMonitor1 *
monitor_new (GDBusConnection *bus, GDBusProxyFlags flags, GError **error)
{
  g_autoptr(PymemdDbusMonitor1) monitor = NULL;
  g_autofree char *owner = NULL;

  monitor = pymemd_dbus_monitor1_proxy_new_sync (bus, flags,
                                                 PYMEMD_BUS_NAME, PYMEMD_MANAGER_PATH,
                                                 NULL, error);
  if (monitor == NULL)
    return NULL;
  owner = g_dbus_proxy_get_name_owner (G_DBUS_PROXY (monitor));
  if (owner == NULL)
    {
      g_set_error_literal (error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN,
                           "org.pymemd.Monitor1 has no owner");
      return NULL;
    }
  return g_steal_pointer (&monitor);
}

PymemdDbusMonitor1 *
pymemctl_monitor_new (GDBusConnection *bus, GError **error)
{
  return monitor_new (bus, G_DBUS_PROXY_FLAGS_NONE, error);
}

static PymemdDbusMonitor1 *
monitor_connect (GDBusProxyFlags flags, GError **error)
{
  g_autoptr(GDBusConnection) bus = pymemctl_bus_connect (error);

  return bus != NULL ? monitor_new (bus, flags, error) : NULL;
}

PymemdDbusMonitor1 *
pymemctl_monitor_connect (GError **error)
{
  return monitor_connect (G_DBUS_PROXY_FLAGS_NONE, error);
}

PymemdDbusMonitor1 *
pymemctl_monitor_connect_for_calls (GError **error)
{
  return monitor_connect (G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES | G_DBUS_PROXY_FLAGS_DO_NOT_CONNECT_SIGNALS,
                          error);
}

/* Nobody answers for org.pymemd.Monitor1, and activation (if any) failed. */
static gboolean
is_not_running (const GError *error)
{
  g_autofree char *remote = NULL;

  if (error->domain != G_DBUS_ERROR)
    return FALSE;
  switch (error->code)
    {
    case G_DBUS_ERROR_SERVICE_UNKNOWN:
    case G_DBUS_ERROR_NAME_HAS_NO_OWNER:
    case G_DBUS_ERROR_SPAWN_EXEC_FAILED:
    case G_DBUS_ERROR_SPAWN_FORK_FAILED:
    case G_DBUS_ERROR_SPAWN_CHILD_EXITED:
    case G_DBUS_ERROR_SPAWN_CHILD_SIGNALED:
    case G_DBUS_ERROR_SPAWN_FAILED:
    case G_DBUS_ERROR_SPAWN_SETUP_FAILED:
    case G_DBUS_ERROR_SPAWN_CONFIG_INVALID:
    case G_DBUS_ERROR_SPAWN_SERVICE_INVALID:
    case G_DBUS_ERROR_SPAWN_SERVICE_NOT_FOUND:
    case G_DBUS_ERROR_SPAWN_PERMISSIONS_INVALID:
    case G_DBUS_ERROR_SPAWN_FILE_INVALID:
    case G_DBUS_ERROR_SPAWN_NO_MEMORY:
      return TRUE;
    default:
      break;
    }
  /* Activation through systemd fails with systemd's own error names. */
  remote = g_dbus_error_get_remote_error (error);
  return remote != NULL && g_str_has_prefix (remote, "org.freedesktop.systemd1.");
}

static char *
not_running_message (void)
{
  switch (chosen_bus)
    {
    case PYMEMCTL_BUS_SESSION:
      return g_strdup (_("pymemd is not running on the session bus; start it with "
                         "`pymemd --session`"));
    case PYMEMCTL_BUS_ADDRESS:
      return g_strdup_printf (_("pymemd is not running on the bus at %s; start it with "
                                "`pymemd --address %s`"),
                              chosen_address, chosen_address);
    case PYMEMCTL_BUS_SYSTEM:
    default:
      return g_strdup (_("pymemd is not running on the system bus; start it with "
                         "`systemctl start pymemd`"));
    }
}

static char *
access_denied_message (guint32 pid)
{
  if (pid != 0)
    return g_strdup_printf (_("Not allowed to see process %u in detail: run pymemctl as the "
                              "process's owner or as root, or be authorised for "
                              "org.pymemd.inspect-all"),
                            pid);
  return g_strdup (_("Not allowed: run pymemctl as the process's owner or as root, or be "
                     "authorised for org.pymemd.inspect-all"));
}

int
pymemctl_print_error (const GError *error, guint32 pid)
{
  g_autofree char *message = NULL;

  if (is_not_running (error))
    message = not_running_message ();
  else if (g_error_matches (error, PYMEMD_ERROR, PYMEMD_ERROR_ACCESS_DENIED) ||
           g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED))
    message = access_denied_message (pid);
  else if (g_error_matches (error, PYMEMD_ERROR, PYMEMD_ERROR_NO_SUCH_PROCESS) && pid != 0)
    message = g_strdup_printf (_("No Python process with PID %u is known to pymemd"), pid);
  else
    {
      g_autoptr(GError) copy = g_error_copy (error);

      g_dbus_error_strip_remote_error (copy);
      /* It may quote a helper, or a process's name. */
      message = pymemctl_printable (copy->message);
    }
  g_printerr ("pymemctl: %s\n", message);
  return PYMEMCTL_EXIT_FAILURE;
}

int
pymemctl_usage_error (const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_printerr ("pymemctl: %s\n", message);
  g_printerr (_("Try “pymemctl --help” for more information.\n"));
  return PYMEMCTL_EXIT_USAGE;
}

gboolean
pymemctl_parse_options (int                *argc,
                        char             ***argv,
                        const char         *parameters,
                        const char         *summary,
                        const GOptionEntry *entries,
                        int                *exit_code)
{
  g_autoptr(GOptionContext) context = g_option_context_new (parameters);
  g_autoptr(GError) error = NULL;

  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_set_summary (context, summary);
  if (entries != NULL)
    g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      *exit_code = pymemctl_usage_error ("%s", error->message);
      return FALSE;
    }
  return TRUE;
}

gboolean
pymemctl_parse_pid (const char *text, guint32 *pid, GError **error)
{
  guint64 value = 0;

  if (text == NULL ||
      !g_ascii_string_to_unsigned (text, 10, 1, G_MAXINT32, &value, NULL))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("“%s” is not a process ID"), text != NULL ? text : "");
      return FALSE;
    }
  *pid = (guint32) value;
  return TRUE;
}

char *
pymemctl_format_size (guint64 bytes)
{
  /* "0 B" rather than GLib's "0 bytes", so that columns stay narrow. */
  if (bytes < 1024)
    return g_strdup_printf ("%u\u00a0B", (guint) bytes); /* a no-break space, as GLib's */
  return g_format_size_full (bytes, G_FORMAT_SIZE_IEC_UNITS);
}

#define MAX_DURATION (G_GINT64_CONSTANT (10) * 366 * 24 * 3600)

static gint64
unit_seconds (char unit)
{
  switch (unit)
    {
    case 's': return 1;
    case 'm': return 60;
    case 'h': return 3600;
    case 'd': return 24 * 3600;
    case 'w': return 7 * 24 * 3600;
    default:  return 0;
    }
}

gboolean
pymemctl_parse_duration (const char *text, gint64 *seconds, GError **error)
{
  const char *p = text;
  gint64 total = 0;

  if (text == NULL || *text == '\0')
    goto invalid;
  while (*p != '\0')
    {
      const char *start = p;
      gint64 number = 0, unit;

      if (!g_ascii_isdigit (*p))
        goto invalid;
      while (g_ascii_isdigit (*p))
        {
          number = number * 10 + (*p++ - '0');
          if (number > MAX_DURATION)
            goto invalid;
        }
      /* A bare number is seconds, but only on its own ("90", not "1h30"). */
      if (*p == '\0' && start == text)
        unit = 1;
      else if ((unit = unit_seconds (*p++)) == 0)
        goto invalid;
      if (number > (MAX_DURATION - total) / unit)
        goto invalid;
      total += number * unit;
    }
  if (total < 1)
    goto invalid;
  *seconds = total;
  return TRUE;

invalid:
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               _("“%s” is not a duration (examples: 90s, 10m, 2h, 3d, 1w, or seconds); "
                 "at most ten years"),
               text != NULL ? text : "");
  return FALSE;
}

char *
pymemctl_format_duration (gint64 seconds)
{
  static const struct {
    guint       seconds;
    const char *suffix;
  } units[] = {
    /* TRANSLATORS: the abbreviations of days, hours, minutes and seconds in "1h 30m" */
    { 24 * 3600, N_("d") },
    { 3600, N_("h") },
    { 60, N_("m") },
    { 1, N_("s") },
  };
  g_autoptr(GString) text = g_string_new (NULL);
  guint shown = 0;

  seconds = CLAMP (seconds, 0, MAX_DURATION);
  for (guint i = 0; i < G_N_ELEMENTS (units) && shown < 2; i++)
    {
      guint n = (guint) (seconds / units[i].seconds);

      if (n == 0)
        {
          if (shown > 0)
            break; /* "1h", never "1h 0m" */
          continue;
        }
      if (shown++ > 0)
        g_string_append_c (text, ' ');
      g_string_append_printf (text, "%u%s", n, _(units[i].suffix));
      seconds -= (gint64) n * units[i].seconds;
    }
  if (shown == 0)
    g_string_append_printf (text, "0%s", _(units[G_N_ELEMENTS (units) - 1].suffix));
  return g_string_free (g_steal_pointer (&text), FALSE);
}

char *
pymemctl_printable (const char *text)
{
  return pymemd_text_for_people (text, ' ', '?');
}

char *
pymemctl_ellipsize (const char *text, guint width)
{
  const char *cut;

  if (width == 0 || g_utf8_strlen (text, -1) <= (glong) width)
    return g_strdup (text);
  cut = g_utf8_offset_to_pointer (text, width - 1);
  return g_strdup_printf ("%.*s…", (int) (cut - text), text);
}

char *
pymemctl_user_name (guint32 uid)
{
  /* Looked up once per uid: with NSS's files each getpwuid () reads
   * /etc/passwd again, which was most of `pymemctl list`'s time for 200
   * processes of one user. Called from the main thread only. */
  static GHashTable *names;
  const char *name;

  if (names == NULL)
    names = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  name = g_hash_table_lookup (names, GUINT_TO_POINTER (uid));
  if (name == NULL)
    {
      struct passwd *pw = getpwuid ((uid_t) uid);
      char *found = pw != NULL && pw->pw_name != NULL ? g_strdup (pw->pw_name) : g_strdup_printf ("%u", uid);

      g_hash_table_insert (names, GUINT_TO_POINTER (uid), found);
      name = found;
    }
  return g_strdup (name);
}

guint
pymemctl_terminal_width (FILE *stream)
{
  struct winsize size;

  if (!isatty (fileno (stream)) || ioctl (fileno (stream), TIOCGWINSZ, &size) != 0)
    return 0;
  return size.ws_col;
}

gboolean
pymemctl_use_color (FILE *stream)
{
  const char *no_color = g_getenv ("NO_COLOR");

  /* no-color.org: set and not empty. */
  return isatty (fileno (stream)) && (no_color == NULL || *no_color == '\0');
}

gconstpointer
pymemctl_column (GVariant *column, gsize n, gsize element_size, gboolean *same_length)
{
  gsize length = 0;
  gconstpointer data = g_variant_get_fixed_array (column, &length, element_size);

  if (length != n)
    *same_length = FALSE;
  return data;
}

gboolean
pymemctl_lookup_size (GVariant *dict, const char *key, guint64 *value)
{
  return dict != NULL && g_variant_lookup (dict, key, "t", value);
}

/* An entry with its sort key, looked up once: a lookup in an a{sv} reads
 * its entries one by one. */
typedef struct {
  guint64   size;
  GVariant *entry;
} SizedEntry;

int
pymemctl_compare_size_first (gconstpointer a, gconstpointer b, gpointer data)
{
  guint64 sa = *(const guint64 *) a, sb = *(const guint64 *) b;

  return sa < sb ? 1 : sa > sb ? -1 : 0;
}

void
pymemctl_sort_by_size (GPtrArray *entries)
{
  g_autofree SizedEntry *sized = g_new (SizedEntry, MAX (entries->len, 1));

  for (guint i = 0; i < entries->len; i++)
    {
      sized[i].entry = g_ptr_array_index (entries, i);
      sized[i].size = 0;
      if (!pymemctl_lookup_size (sized[i].entry, PYMEMD_KEY_PSS, &sized[i].size))
        pymemctl_lookup_size (sized[i].entry, PYMEMD_KEY_RSS, &sized[i].size);
    }
  g_qsort_with_data (sized, (gint) entries->len, sizeof (SizedEntry), pymemctl_compare_size_first, NULL);
  for (guint i = 0; i < entries->len; i++)
    entries->pdata[i] = sized[i].entry;
}

char *
pymemctl_format_figure (GVariant *dict, const char *key)
{
  guint64 value;

  if (!pymemctl_lookup_size (dict, key, &value))
    return g_strdup ("-");
  return pymemctl_format_size (value);
}

/* ---- tables ---- */

struct _PymemctlTable {
  guint      n_columns;
  GStrv      headers;
  gboolean  *right;
  GPtrArray *rows; /* of GStrv, n_columns each */
};

PymemctlTable *
pymemctl_table_new (const char *const *headers, const char *align)
{
  PymemctlTable *table = g_new0 (PymemctlTable, 1);

  table->n_columns = g_strv_length ((GStrv) headers);
  table->headers = g_new0 (char *, table->n_columns + 1);
  table->right = g_new0 (gboolean, table->n_columns);
  for (guint i = 0; i < table->n_columns; i++)
    {
      table->right[i] = align != NULL && i < strlen (align) && align[i] == 'r';
      /* gettext ("") is the catalogue's header, not an empty string. */
      table->headers[i] = g_strdup (*headers[i] != '\0' ? _(headers[i]) : "");
    }
  table->rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  return table;
}

void
pymemctl_table_add_rowv (PymemctlTable *table, const char *const *cells)
{
  GStrv row = g_new0 (char *, table->n_columns + 1);

  /* A row is one line, whatever its cells came from. */
  for (guint i = 0; i < table->n_columns; i++)
    row[i] = pymemctl_printable (cells[i] != NULL ? cells[i] : "");
  g_ptr_array_add (table->rows, row);
}

void
pymemctl_table_add_row (PymemctlTable *table, ...)
{
  g_autoptr(GPtrArray) cells = g_ptr_array_new ();
  const char *cell;
  va_list args;

  va_start (args, table);
  while (cells->len < table->n_columns && (cell = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (cells, (gpointer) cell);
  va_end (args);
  while (cells->len < table->n_columns)
    g_ptr_array_add (cells, (gpointer) "");
  pymemctl_table_add_rowv (table, (const char *const *) cells->pdata);
}

guint
pymemctl_table_get_n_rows (PymemctlTable *table)
{
  return table->rows->len;
}

static void
print_cells (PymemctlTable *table, const guint *widths, GStrv cells, FILE *stream,
             const char *before, const char *after)
{
  g_autoptr(GString) line = g_string_new (before);

  for (guint i = 0; i < table->n_columns; i++)
    {
      guint pad = widths[i] - (guint) g_utf8_strlen (cells[i], -1);
      gboolean last = i + 1 == table->n_columns;

      if (i > 0)
        g_string_append (line, "  ");
      if (table->right[i])
        for (guint j = 0; j < pad; j++)
          g_string_append_c (line, ' ');
      g_string_append (line, cells[i]);
      if (!table->right[i] && !last)
        for (guint j = 0; j < pad; j++)
          g_string_append_c (line, ' ');
    }
  /* An empty last cell leaves no trailing blanks. */
  while (line->len > 0 && line->str[line->len - 1] == ' ')
    g_string_truncate (line, line->len - 1);
  g_string_append (line, after);
  fprintf (stream, "%s\n", line->str);
}

void
pymemctl_table_print (PymemctlTable *table, FILE *stream)
{
  g_autofree guint *widths = g_new0 (guint, table->n_columns);
  gboolean color = pymemctl_use_color (stream);

  for (guint i = 0; i < table->n_columns; i++)
    {
      widths[i] = (guint) g_utf8_strlen (table->headers[i], -1);
      for (guint r = 0; r < table->rows->len; r++)
        {
          GStrv row = g_ptr_array_index (table->rows, r);
          widths[i] = MAX (widths[i], (guint) g_utf8_strlen (row[i], -1));
        }
    }
  print_cells (table, widths, table->headers, stream, color ? "\033[1m" : "",
               color ? "\033[0m" : "");
  for (guint r = 0; r < table->rows->len; r++)
    print_cells (table, widths, g_ptr_array_index (table->rows, r), stream, "", "");
}

void
pymemctl_table_free (PymemctlTable *table)
{
  if (table == NULL)
    return;
  g_strfreev (table->headers);
  g_free (table->right);
  g_ptr_array_unref (table->rows);
  g_free (table);
}

/* ---- JSON ---- */

JsonNode *
pymemctl_json_from_variant (GVariant *value)
{
  return json_gvariant_serialize (value);
}

/* json-glib (1.6) writes a double as printf's %.17g and appends ".0" when
 * that has no point: infinity becomes "inf.0", 1e-08 "1e-08.0", neither of
 * them JSON. So a number that is none becomes null, and one that would be
 * written so becomes its neighbour toward zero, which is written with a
 * point (one part in 10^16 off: a rate, a duration, never a count). */
static void
json_make_numbers_valid (JsonNode *node)
{
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObjectIter iter;
        JsonNode *member;

        json_object_iter_init (&iter, json_node_get_object (node));
        while (json_object_iter_next (&iter, NULL, &member))
          json_make_numbers_valid (member);
        break;
      }
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);

        for (guint i = 0; i < json_array_get_length (array); i++)
          json_make_numbers_valid (json_array_get_element (array, i));
        break;
      }
    case JSON_NODE_VALUE:
      if (json_node_get_value_type (node) == G_TYPE_DOUBLE)
        {
          double value = json_node_get_double (node);
          char text[G_ASCII_DTOSTR_BUF_SIZE];

          if (!isfinite (value))
            {
              json_node_init_null (node);
              break;
            }
          while (strchr (g_ascii_dtostr (text, sizeof text, value), '.') == NULL && strchr (text, 'e') != NULL)
            value = nextafter (value, 0.0);
          json_node_set_double (node, value);
        }
      break;
    case JSON_NODE_NULL:
      break;
    }
}

/* json-glib escapes the control characters JSON must (below U+0020) and
 * writes DEL and the C1 range as they are; a terminal takes U+009B for
 * CSI. In JSON text they can only be inside strings (its own syntax is
 * ASCII), where "\u00XX" means the same. */
static char *
json_escape_controls (const char *text)
{
  GString *out = g_string_sized_new (strlen (text));

  for (const guchar *p = (const guchar *) text; *p != '\0'; p++)
    {
      if (*p == 0x7f)
        g_string_append (out, "\\u007f");
      else if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
        g_string_append_printf (out, "\\u00%02x", *++p);
      else
        g_string_append_c (out, (char) *p);
    }
  return g_string_free (out, FALSE);
}

/* NODE as pymemctl prints it: valid numbers, escaped controls. */
static char *
json_text (JsonNode *node, gboolean one_line)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autofree char *generated = NULL;

  json_make_numbers_valid (node);
  json_generator_set_pretty (generator, !one_line);
  json_generator_set_root (generator, node);
  generated = json_generator_to_data (generator, NULL);
  return json_escape_controls (generated);
}

gboolean
pymemctl_print_json (JsonNode *node, gboolean one_line)
{
  g_autofree char *text = json_text (node, one_line);

  if (fputs (text, stdout) == EOF || fputc ('\n', stdout) == EOF || fflush (stdout) != 0)
    {
      pymemctl_stdout_failed ();
      return FALSE;
    }
  return TRUE;
}

typedef struct {
  PymemctlJsonElementFunc element;
  gpointer                data;
} ElementText;

static char *
element_text (gpointer data, guint i)
{
  ElementText *source = data;
  g_autoptr(JsonNode) node = source->element (source->data, i);

  return node != NULL ? json_text (node, FALSE) : NULL;
}

int
pymemctl_print_json_array_document (const char              *member,
                                    guint                    n,
                                    PymemctlJsonElementFunc  element,
                                    gpointer                 data)
{
  ElementText source = { element, data };

  if (!pymemd_json_stream_array (stdout, NULL, member, n, element_text, &source))
    {
      pymemctl_stdout_failed ();
      return PYMEMCTL_EXIT_FAILURE;
    }
  return PYMEMCTL_EXIT_OK;
}

void
pymemctl_stdout_failed (void)
{
  /* A reader that has had enough (pymemctl list | head) is no error worth
   * a word, as with the tools that die of SIGPIPE, which GIO ignores. */
  if (errno != EPIPE)
    g_printerr ("pymemctl: %s\n", _("Cannot write to standard output"));
}

int
pymemctl_print_json_document (JsonNode *node)
{
  return pymemctl_print_json (node, FALSE) ? PYMEMCTL_EXIT_OK : PYMEMCTL_EXIT_FAILURE;
}
