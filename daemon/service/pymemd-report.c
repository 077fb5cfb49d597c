/* Serialises scan results as JSON; absent kernel fields become null, never zero. */
#include "config.h"

#include "pymemd-report.h"
#include "pymemd-names.h"

/* The rollup fields a report shows, beyond the derived ones. */
static const PymemdField report_fields[] = {
  PYMEMD_FIELD_RSS,           PYMEMD_FIELD_PSS,           PYMEMD_FIELD_PSS_DIRTY,
  PYMEMD_FIELD_PSS_ANON,      PYMEMD_FIELD_PSS_FILE,      PYMEMD_FIELD_PSS_SHMEM,
  PYMEMD_FIELD_SWAP,          PYMEMD_FIELD_SWAP_PSS,      PYMEMD_FIELD_SHARED_CLEAN,
  PYMEMD_FIELD_SHARED_DIRTY,  PYMEMD_FIELD_PRIVATE_CLEAN, PYMEMD_FIELD_PRIVATE_DIRTY,
  PYMEMD_FIELD_ANONYMOUS,     PYMEMD_FIELD_LOCKED,
};

static void
add_size (JsonBuilder *builder, const char *name, guint64 value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_int_value (builder, (gint64) MIN (value, (guint64) G_MAXINT64));
}

static void
add_field (JsonBuilder *builder, const PymemdCounters *c, PymemdField field)
{
  if (!pymemd_counters_has (c, field))
    {
      json_builder_set_member_name (builder, pymemd_field_name (field));
      json_builder_add_null_value (builder);
      return;
    }
  add_size (builder, pymemd_field_name (field), c->value[field]);
}

static void
add_counters (JsonBuilder *builder, const PymemdCounters *c)
{
  for (guint i = 0; i < G_N_ELEMENTS (report_fields); i++)
    add_field (builder, c, report_fields[i]);
  /* USS as smaps sees it: pages mapped once. */
  add_size (builder, PYMEMD_KEY_USS, pymemd_counters_uss (c));
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
  const PymemdCategoryUsage *usage = pymemd_process_get_categories (process);
  guint arenas;
  gboolean exact = pymemd_process_get_pymalloc_exact (process, &arenas);

  json_builder_set_member_name (builder, "categories");
  if (usage == NULL)
    {
      json_builder_add_null_value (builder);
      return;
    }
  json_builder_begin_object (builder);
  for (guint i = 0; i < PYMEMD_N_CATEGORIES; i++)
    {
      const PymemdCounters *c = &usage[i].counters;

      json_builder_set_member_name (builder, pymemd_category_name (i));
      json_builder_begin_object (builder);
      add_size (builder, "mappings", usage[i].n_mappings);
      add_size (builder, PYMEMD_KEY_SIZE, c->value[PYMEMD_FIELD_SIZE]);
      add_counters (builder, c);
      add_size (builder, PYMEMD_KEY_SHARED,
                c->value[PYMEMD_FIELD_SHARED_CLEAN] + c->value[PYMEMD_FIELD_SHARED_DIRTY]);
      /* pymalloc says whether it is the interpreter's arenas or a guess. */
      if (i == PYMEMD_CATEGORY_PYMALLOC)
        {
          json_builder_set_member_name (builder, "exact");
          json_builder_add_boolean_value (builder, exact);
          if (exact)
            add_size (builder, "arenas", arenas);
        }
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
  add_size (builder, PYMEMD_KEY_USS, exact->uss);
  add_size (builder, PYMEMD_KEY_PSS, exact->pss);
  add_size (builder, "resident", exact->resident);
  add_size (builder, PYMEMD_KEY_SWAP, exact->swapped);
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

JsonNode *
pymemd_report_build (PymemdScanner *scanner)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(GPtrArray) processes = pymemd_scanner_get_processes (scanner);
  const GError *exact_error = pymemd_scanner_get_exact_error (scanner);
  const PymemdPythonSet *set = pymemd_scanner_get_python_set (scanner);
  PymemdCounters totals;

  pymemd_process_sum_rollups (processes, &totals);

  json_builder_begin_object (builder);
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

  json_builder_set_member_name (builder, "processes");
  json_builder_begin_array (builder);
  for (guint i = 0; i < processes->len; i++)
    build_process (builder, g_ptr_array_index (processes, i));
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}
