/* What a process shows, whatever it is written as: the figures of the D-Bus replies (GVariant) and of `pymemd --once` (JSON) are named, chosen and derived here once, as are a process's object path, executable name and version string. */
#include "config.h"

#include <string.h>

#include "pymemd-names.h"
#include "pymemd-view.h"

const PymemdField pymemd_view_fields[PYMEMD_VIEW_N_FIELDS] = {
  PYMEMD_FIELD_RSS,           PYMEMD_FIELD_PSS,           PYMEMD_FIELD_PSS_DIRTY,
  PYMEMD_FIELD_PSS_ANON,      PYMEMD_FIELD_PSS_FILE,      PYMEMD_FIELD_PSS_SHMEM,
  PYMEMD_FIELD_SWAP,          PYMEMD_FIELD_SWAP_PSS,      PYMEMD_FIELD_SHARED_CLEAN,
  PYMEMD_FIELD_SHARED_DIRTY,  PYMEMD_FIELD_PRIVATE_CLEAN, PYMEMD_FIELD_PRIVATE_DIRTY,
  PYMEMD_FIELD_ANONYMOUS,     PYMEMD_FIELD_LOCKED,
};

guint64
pymemd_view_shared (const PymemdCounters *counters)
{
  return counters->value[PYMEMD_FIELD_SHARED_CLEAN] + counters->value[PYMEMD_FIELD_SHARED_DIRTY];
}

void
pymemd_view_counters (const PymemdCounters *counters, const PymemdViewWriter *writer, gpointer out)
{
  for (guint i = 0; i < PYMEMD_VIEW_N_FIELDS; i++)
    {
      PymemdField field = pymemd_view_fields[i];

      if (pymemd_counters_has (counters, field))
        writer->figure (out, pymemd_field_name (field), counters->value[field]);
      else
        writer->missing (out, pymemd_field_name (field));
    }
  /* USS as smaps sees it: pages mapped once. */
  writer->figure (out, PYMEMD_KEY_USS, pymemd_counters_uss (counters));
}

void
pymemd_view_category (PymemdProcess *process, guint category, const PymemdViewWriter *writer, gpointer out)
{
  const PymemdCategoryUsage *usage = &pymemd_process_get_categories (process)[category];
  const PymemdCounters *counters = &usage->counters;

  writer->figure (out, "mappings", usage->n_mappings);
  writer->figure (out, PYMEMD_KEY_SIZE, counters->value[PYMEMD_FIELD_SIZE]);
  pymemd_view_counters (counters, writer, out);
  writer->figure (out, PYMEMD_KEY_SHARED, pymemd_view_shared (counters));
  /* pymalloc says whether it is the interpreter's arenas or a guess. */
  if (category == PYMEMD_CATEGORY_PYMALLOC)
    {
      guint arenas;
      gboolean from_table = pymemd_process_get_pymalloc_exact (process, &arenas);

      writer->flag (out, "exact", from_table);
      if (from_table)
        writer->figure (out, "arenas", arenas);
    }
}

void
pymemd_view_exact (const PymemdExactFigures *exact, const PymemdViewWriter *writer, gpointer out)
{
  writer->figure (out, PYMEMD_KEY_USS, exact->uss);
  writer->figure (out, PYMEMD_KEY_PSS, exact->pss);
  writer->figure (out, "resident", exact->resident);
  writer->figure (out, PYMEMD_KEY_SWAP, exact->swapped);
}

char *
pymemd_view_object_path (PymemdProcess *process)
{
  return g_strdup_printf (PYMEMD_MANAGER_PATH "/process/%d_%" G_GUINT64_FORMAT, pymemd_process_get_pid (process),
                          pymemd_process_get_start_time (process));
}

char *
pymemd_view_python_version (PymemdProcess *process)
{
  guint version = pymemd_process_get_python_version (process);

  return version != 0 ? g_strdup_printf ("%u.%u", version / 100, version % 100) : g_strdup ("");
}

const char *
pymemd_view_file_name (const char *path)
{
  const char *slash = path != NULL ? strrchr (path, '/') : NULL;

  return slash != NULL ? slash + 1 : (path != NULL ? path : "");
}

const char *
pymemd_view_exe_name (PymemdProcess *process)
{
  return pymemd_view_file_name (pymemd_process_get_exe (process));
}

static void
variant_figure (gpointer out, const char *key, guint64 value)
{
  g_variant_builder_add (out, "{st}", key, value);
}

static void
variant_missing (gpointer out, const char *key)
{
}

static void
variant_flag (gpointer out, const char *key, gboolean value)
{
  g_variant_builder_add (out, "{st}", key, (guint64) value);
}

const PymemdViewWriter pymemd_view_variant_writer = { variant_figure, variant_missing, variant_flag };

GVariant *
pymemd_view_counters_variant (const PymemdCounters *counters)
{
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{st}"));
  pymemd_view_counters (counters, &pymemd_view_variant_writer, &builder);
  return g_variant_builder_end (&builder);
}
