/* pymemctl top: every interpreter's memory, refreshed each tick from GetSamples, in a full-screen table (pymemctl-top-screen.c) or as text or JSON frames (-b); the options and the batch frames. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

#include "pymemctl-top.h"
#include "pymemctl-top-private.h"
#include "pymemd-names.h"

/* ---- batch mode ---- */

static gboolean
top_print_text (Top *top)
{
  g_autoptr(GPtrArray) header = top_header (top);
  g_autoptr(GPtrArray) titles = g_ptr_array_new ();
  g_autoptr(GString) align = g_string_new (NULL);
  g_autoptr(PymemctlTable) table = NULL;

  for (guint c = 0; c < N_COLUMNS; c++)
    if (top->visible[c])
      {
        g_ptr_array_add (titles, (gpointer) top_columns[c].title);
        g_string_append_c (align, top_columns[c].text ? 'l' : 'r');
      }
  g_ptr_array_add (titles, NULL);
  table = pymemctl_table_new ((const char *const *) titles->pdata, align->str);
  for (guint i = 0; i < top->shown->len; i++)
    {
      const TopRow *row = g_ptr_array_index (top->shown, i);
      g_autoptr(GPtrArray) cells = g_ptr_array_new_with_free_func (g_free);

      for (guint c = 0; c < N_COLUMNS; c++)
        if (top->visible[c])
          g_ptr_array_add (cells, top_format_cell (row, c));
      g_ptr_array_add (cells, NULL);
      pymemctl_table_add_rowv (table, (const char *const *) cells->pdata);
    }
  for (guint i = 0; i < header->len; i++)
    printf ("%s\n", (const char *) g_ptr_array_index (header, i));
  printf ("\n");
  pymemctl_table_print (table, stdout);
  if (printf ("\n") < 0 || fflush (stdout) != 0)
    {
      pymemctl_stdout_failed ();
      return FALSE;
    }
  return TRUE;
}

/* A size column as bytes, or null where the caller may not see it. */
static void
add_row_size (JsonBuilder *builder, const char *name, const TopRow *row, Column column)
{
  guint64 bytes = 0;

  json_builder_set_member_name (builder, name);
  if (top_row_size (row, column, &bytes))
    json_builder_add_int_value (builder, (gint64) bytes);
  else
    json_builder_add_null_value (builder);
}

static void
add_dictionary (JsonBuilder *builder, const char *name, GVariant *dictionary)
{
  json_builder_set_member_name (builder, name);
  if (dictionary != NULL)
    json_builder_add_value (builder, pymemctl_json_from_variant (dictionary));
  else
    json_builder_add_null_value (builder);
}

static void
add_json_row (JsonBuilder *builder, const TopRow *row)
{
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, PYMEMD_KEY_PID);
  json_builder_add_int_value (builder, row->pid);
  json_builder_set_member_name (builder, PYMEMD_KEY_START_TIME);
  json_builder_add_int_value (builder, (gint64) row->start_time);
  json_builder_set_member_name (builder, PYMEMD_KEY_UID);
  json_builder_add_int_value (builder, row->uid);
  json_builder_set_member_name (builder, "user");
  json_builder_add_string_value (builder, row->user);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, row->process->name);
  json_builder_set_member_name (builder, "cmdline");
  json_builder_add_string_value (builder, row->process->cmdline);
  json_builder_set_member_name (builder, "restricted");
  json_builder_add_boolean_value (builder, row->restricted);
  json_builder_set_member_name (builder, PYMEMD_KEY_RSS);
  json_builder_add_int_value (builder, (gint64) row->rss);
  add_row_size (builder, PYMEMD_KEY_PSS, row, COLUMN_PSS);
  add_row_size (builder, PYMEMD_KEY_USS, row, COLUMN_USS);
  add_row_size (builder, PYMEMD_KEY_PRIVATE_DIRTY, row, COLUMN_PRIVATE_DIRTY);
  add_row_size (builder, PYMEMD_KEY_SHARED, row, COLUMN_SHARED);
  add_row_size (builder, PYMEMD_KEY_SWAP, row, COLUMN_SWAP);
  json_builder_set_member_name (builder, "growth_bytes_per_hour");
  if (row->process->growth_known)
    json_builder_add_double_value (builder, row->process->growth);
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "heap");
  json_builder_add_null_value (builder);
  json_builder_end_object (builder);
}

static gboolean
top_print_json (Top *top)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(GVariant) totals = pymemd_dbus_monitor1_dup_totals (top->monitor);
  g_autoptr(GVariant) python_set = pymemd_dbus_monitor1_dup_python_set (top->monitor);
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "timestamp");
  json_builder_add_int_value (builder, g_get_real_time ());
  json_builder_set_member_name (builder, "interval");
  json_builder_add_double_value (builder, top_delay (top));
  json_builder_set_member_name (builder, "exact_available");
  json_builder_add_boolean_value (builder,
                                  pymemd_dbus_monitor1_get_exact_available (top->monitor));
  add_dictionary (builder, "totals", totals);
  add_dictionary (builder, "python_set", python_set);
  json_builder_set_member_name (builder, "sort");
  json_builder_add_string_value (builder, top_columns[top->sort].name);
  json_builder_set_member_name (builder, "reverse");
  json_builder_add_boolean_value (builder, top->reverse);
  json_builder_set_member_name (builder, "processes");
  json_builder_begin_array (builder);
  for (guint i = 0; i < top->shown->len; i++)
    add_json_row (builder, g_ptr_array_index (top->shown, i));
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  return pymemctl_print_json (root, TRUE);
}

static gboolean
set_flag (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Sleeps while the proxy takes in PropertiesChanged (the totals). */
static void
sleep_in_main_context (double seconds)
{
  gboolean done = FALSE;

  g_timeout_add ((guint) (seconds * 1000), set_flag, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

static int
top_run_batch (Top *top)
{
  for (;;)
    {
      g_autoptr(GError) error = NULL;

      if (!top_refresh (top, &error))
        return pymemctl_print_error (error, 0);
      /* Answers show in the next frames, as on the screen; the last frame
       * has none to show them in. */
      if (top->iterations == 0 || top->frame < top->iterations)
        top_ask_growth (top, 0, G_MAXUINT);
      if (!(top->json ? top_print_json (top) : top_print_text (top)))
        return PYMEMCTL_EXIT_FAILURE;
      if (top->iterations != 0 && top->frame >= top->iterations)
        return PYMEMCTL_EXIT_OK;
      sleep_in_main_context (top_delay (top));
    }
}

/* ---- options ---- */

static gboolean
parse_column (const char *text, Column *column)
{
  for (guint c = 0; c < N_COLUMNS; c++)
    if (g_ascii_strcasecmp (text, top_columns[c].name) == 0 ||
        g_ascii_strcasecmp (text, top_columns[c].title) == 0)
      {
        *column = c;
        return TRUE;
      }
  return FALSE;
}

static char *
column_names (void)
{
  GString *names = g_string_new (NULL);

  for (guint c = 0; c < N_COLUMNS; c++)
    g_string_append_printf (names, "%s%s", c > 0 ? ", " : "", top_columns[c].name);
  return g_string_free (names, FALSE);
}

/* -n, -d and -s into TOP; a usage message and FALSE when one is wrong. */
static gboolean
top_apply_options (Top *top, const char *count, const char *delay, const char *sort)
{
  if (count != NULL &&
      !g_ascii_string_to_unsigned (count, 10, 1, G_MAXUINT32, &top->iterations, NULL))
    {
      pymemctl_usage_error (_("-n wants a number of frames (1 or more), not “%s”"), count);
      return FALSE;
    }
  if (delay != NULL)
    {
      char *end = NULL;

      top->delay = g_ascii_strtod (delay, &end);
      if (end == delay || *end != '\0' ||
          !(top->delay >= MIN_DELAY_SECONDS && top->delay <= MAX_DELAY_SECONDS))
        {
          pymemctl_usage_error (_("-d wants seconds between %.1f and %.0f, not “%s”"),
                                MIN_DELAY_SECONDS, MAX_DELAY_SECONDS, delay);
          return FALSE;
        }
    }
  if (sort != NULL && !parse_column (sort, &top->sort))
    {
      g_autofree char *names = column_names ();
      pymemctl_usage_error (_("Unknown column “%s” for -s (one of %s)"), sort, names);
      return FALSE;
    }
  return TRUE;
}

int
pymemctl_top (GDBusConnection *bus, int argc, char **argv)
{
  g_autoptr(GDBusConnection) own_bus = NULL;
  g_autoptr(Top) top = top_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *count = NULL, *delay = NULL, *sort = NULL;
  gboolean batch = FALSE, json = FALSE;
  const GOptionEntry entries[] = {
    { "batch", 'b', 0, G_OPTION_ARG_NONE, &batch,
      N_("Print plain text frames instead of the full-screen view"), NULL },
    { "iterations", 'n', 0, G_OPTION_ARG_STRING, &count, N_("Stop after COUNT frames"),
      N_("COUNT") },
    { "delay", 'd', 0, G_OPTION_ARG_STRING, &delay,
      N_("Refresh every SECONDS (default: the daemon's interval)"), N_("SECONDS") },
    { "sort", 's', 0, G_OPTION_ARG_STRING, &sort,
      N_("Sort by COLUMN: pid, user, pss, uss, priv-dirty, shared, swap, growth, heap or command"),
      N_("COLUMN") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json,
      N_("Print one JSON document per frame, one per line (implies -b)"), NULL },
    { NULL }
  };
  int exit_code = PYMEMCTL_EXIT_OK;

  if (!pymemctl_parse_options (&argc, &argv, "top",
                               _("Shows the Python processes' memory, refreshed every tick. "
                                 "Keys: h for help, q to quit. GROWTH/h appears once the "
                                 "daemon has answered: with -b, from the second frame on."),
                               entries, &exit_code))
    return exit_code;
  if (argc > 1)
    return pymemctl_usage_error (_("top takes no arguments, not “%s”"), argv[1]);
  if (!top_apply_options (top, count, delay, sort))
    return PYMEMCTL_EXIT_USAGE;
  top->json = json;
  top->batch = batch || json || !isatty (STDIN_FILENO) || !isatty (STDOUT_FILENO);

  /* BUS may be NULL: then top connects once the options are known good. */
  if (bus == NULL)
    bus = own_bus = pymemctl_bus_connect (&error);
  if (bus != NULL)
    top->monitor = pymemctl_monitor_new (bus, &error);
  if (top->monitor == NULL)
    return pymemctl_print_error (error, 0);
  return top->batch ? top_run_batch (top) : top_run_interactive (top);
}
