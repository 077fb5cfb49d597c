/* Serialises scan results as JSON; absent kernel fields become null, never zero. */
#include "config.h"

#include "pymemd-report.h"
#include "pymemd-json-stream.h"
#include "pymemd-names.h"
#include "pymemd-view.h"

static void
add_size (JsonBuilder *builder, const char *name, guint64 value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_int_value (builder, (gint64) MIN (value, (guint64) G_MAXINT64));
}

static void
json_figure (gpointer out, const char *key, guint64 value)
{
  add_size (out, key, value);
}

static void
json_missing (gpointer out, const char *key)
{
  json_builder_set_member_name (out, key);
  json_builder_add_null_value (out);
}

static void
json_flag (gpointer out, const char *key, gboolean value)
{
  json_builder_set_member_name (out, key);
  json_builder_add_boolean_value (out, value);
}

/* Absent kernel fields are null, never zero. */
static const PymemdViewWriter json_writer = { json_figure, json_missing, json_flag };

static void
add_counters (JsonBuilder *builder, const PymemdCounters *c)
{
  pymemd_view_counters (c, &json_writer, builder);
}

static void
add_string (JsonBuilder *builder, const char *name, const char *value)
{
  json_builder_set_member_name (builder, name);
  if (value != NULL)
    json_builder_add_string_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

static void
add_categories (JsonBuilder *builder, PymemdProcess *process)
{
  json_builder_set_member_name (builder, "categories");
  if (pymemd_process_get_categories (process) == NULL)
    {
      json_builder_add_null_value (builder);
      return;
    }
  json_builder_begin_object (builder);
  for (guint i = 0; i < PYMEMD_N_CATEGORIES; i++)
    {
      json_builder_set_member_name (builder, pymemd_category_name (i));
      json_builder_begin_object (builder);
      pymemd_view_category (process, i, &json_writer, builder);
      json_builder_end_object (builder);
    }
  json_builder_end_object (builder);
}

static void
add_exact (JsonBuilder *builder, const PymemdExactFigures *exact, const GError *error)
{
  json_builder_set_member_name (builder, "exact");
  if (exact == NULL)
    {
      json_builder_add_null_value (builder);
      add_string (builder, "exact_error", error != NULL ? error->message : NULL);
      return;
    }
  json_builder_begin_object (builder);
  pymemd_view_exact (exact, &json_writer, builder);
  json_builder_set_member_name (builder, "sharing");
  json_builder_begin_object (builder);
  for (guint i = 0; i < PYMEMD_N_SHARING_BUCKETS; i++)
    add_size (builder, pymemd_sharing_bucket_name (i), exact->sharing[i]);
  json_builder_end_object (builder);
  json_builder_end_object (builder);
}

static char *
format_version (guint version)
{
  return version != 0 ? g_strdup_printf ("%u.%u", version / 100, version % 100) : NULL;
}

static void
build_process (JsonBuilder *builder, PymemdProcess *process)
{
  g_autofree char *version = format_version (pymemd_process_get_python_version (process));
  const GError *detail_error = pymemd_process_get_detail_error (process);

  json_builder_begin_object (builder);
  add_size (builder, PYMEMD_KEY_PID, (guint64) pymemd_process_get_pid (process));
  add_size (builder, PYMEMD_KEY_START_TIME, pymemd_process_get_start_time (process));
  add_size (builder, PYMEMD_KEY_UID, pymemd_process_get_uid (process));
  add_string (builder, "exe", pymemd_process_get_exe (process));
  add_string (builder, "cmdline", pymemd_process_get_cmdline (process));
  add_string (builder, "python_version", version);
  add_counters (builder, pymemd_process_get_rollup (process));
  add_categories (builder, process);
  if (detail_error != NULL)
    add_string (builder, "categories_error", detail_error->message);
  else if (pymemd_process_get_pymalloc_error (process) != NULL)
    add_string (builder, "pymalloc_error", pymemd_process_get_pymalloc_error (process)->message);
  add_exact (builder, pymemd_process_get_exact (process),
             pymemd_process_get_exact_error (process));
  json_builder_end_object (builder);
}

JsonNode *
pymemd_report_build_process (PymemdProcess *process)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  build_process (builder, process);
  return json_builder_get_root (builder);
}

static void
add_python_set (JsonBuilder *builder, const PymemdPythonSet *set, guint64 uss_sum)
{
  json_builder_set_member_name (builder, "python_set");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "exact");
  json_builder_add_boolean_value (builder, set != NULL);
  if (set != NULL)
    {
      add_size (builder, "shared_only_python", set->shared_only_python);
      add_size (builder, "freed_if_all_exit", set->freed_if_all_exit);
      add_size (builder, "freed_if_all_exit_anonymous", set->freed_if_all_exit_anonymous);
    }
  else
    {
      /* Without frame counts, pages mapped once are all we can vouch for. */
      json_builder_set_member_name (builder, "shared_only_python");
      json_builder_add_null_value (builder);
      add_size (builder, "freed_if_all_exit", uss_sum);
      json_builder_set_member_name (builder, "freed_if_all_exit_anonymous");
      json_builder_add_null_value (builder);
    }
  json_builder_end_object (builder);
}

/* Every member of the report but the list of processes, which comes last. */
static void
build_head (JsonBuilder *builder, PymemdScanner *scanner, GPtrArray *processes)
{
  const GError *exact_error = pymemd_scanner_get_exact_error (scanner);
  const PymemdPythonSet *set = pymemd_scanner_get_python_set (scanner);
  PymemdCounters totals;

  pymemd_process_sum_rollups (processes, &totals);

  add_size (builder, "version", PYMEMD_REPORT_VERSION);
  add_size (builder, "timestamp", (guint64) pymemd_scanner_get_timestamp (scanner) / G_USEC_PER_SEC);
  add_string (builder, "boot_id", pymemd_scanner_get_boot_id (scanner));
  add_size (builder, "page_size", pymemd_procfs_get_page_size (pymemd_scanner_get_procfs (scanner)));
  json_builder_set_member_name (builder, "exact");
  json_builder_add_boolean_value (builder, set != NULL);
  if (exact_error != NULL)
    add_string (builder, "exact_error", exact_error->message);

  json_builder_set_member_name (builder, "totals");
  json_builder_begin_object (builder);
  add_size (builder, "processes", processes->len);
  add_counters (builder, &totals);
  json_builder_end_object (builder);

  add_python_set (builder, set, pymemd_counters_uss (&totals));
}

JsonNode *
pymemd_report_build (PymemdScanner *scanner)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(GPtrArray) processes = pymemd_scanner_get_processes (scanner);

  json_builder_begin_object (builder);
  build_head (builder, scanner, processes);
  json_builder_set_member_name (builder, "processes");
  json_builder_begin_array (builder);
  for (guint i = 0; i < processes->len; i++)
    build_process (builder, g_ptr_array_index (processes, i));
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

/* Process I of the GPtrArray DATA, as json_to_string () writes it. */
static char *
process_text (gpointer data, guint i)
{
  g_autoptr(JsonNode) node = pymemd_report_build_process (g_ptr_array_index ((GPtrArray *) data, i));

  return json_to_string (node, TRUE);
}

gboolean
pymemd_report_write (PymemdScanner *scanner, FILE *out)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(GPtrArray) processes = pymemd_scanner_get_processes (scanner);
  g_autoptr(JsonNode) head = NULL;
  g_autofree char *head_text = NULL;

  json_builder_begin_object (builder);
  build_head (builder, scanner, processes);
  json_builder_end_object (builder);
  head = json_builder_get_root (builder);
  head_text = json_to_string (head, TRUE);
  return pymemd_json_stream_array (out, head_text, "processes", processes->len, process_text, processes);
}
