/* What grew most between two heap summaries: the causes GrowthSuspected and pymemctl history name. */
#include "config.h"

#include <inttypes.h>

#include <glib/gi18n.h>

#include "pymemd-heap-growth.h"

typedef struct {
  const char *name;
  gint64      bytes;
  gint64      count;
  guint64     bytes_now;
} Growth;

static gboolean
census_walked (GVariant *summary)
{
  g_autoptr(GVariant) census = g_variant_lookup_value (summary, "census", G_VARIANT_TYPE_VARDICT);
  gboolean walked = FALSE;

  return census != NULL && g_variant_lookup (census, "walked", "b", &walked) && walked;
}

gboolean
pymemd_heap_growth_pick (GVariant *summaries, gsize *first, gsize *last)
{
  gsize n = g_variant_n_children (summaries);
  g_autoptr(GVariant) latest = NULL;
  gboolean walked;

  if (n < 2)
    return FALSE;
  latest = g_variant_get_child_value (summaries, n - 1);
  walked = census_walked (latest);
  for (gsize i = 0; i + 1 < n; i++)
    {
      g_autoptr(GVariant) summary = g_variant_get_child_value (summaries, i);

      if (census_walked (summary) == walked)
        {
          *first = i;
          *last = n - 1;
          return TRUE;
        }
    }
  return FALSE;
}

/* SUMMARY's census types: name → (count, bytes) as a GVariant "(tt)". */
static GHashTable *
census_types (GVariant *summary)
{
  g_autoptr(GVariant) census = g_variant_lookup_value (summary, "census", G_VARIANT_TYPE_VARDICT);
  g_autoptr(GVariant) types = census != NULL ? g_variant_lookup_value (census, "types", G_VARIANT_TYPE ("a(stt)"))
                                             : NULL;
  GHashTable *table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_variant_unref);
  GVariantIter iter;
  const char *name;
  guint64 count, bytes;

  if (types == NULL)
    return table;
  g_variant_iter_init (&iter, types);
  while (g_variant_iter_next (&iter, "(&stt)", &name, &count, &bytes))
    if (!g_hash_table_contains (table, name))
      g_hash_table_insert (table, g_strdup (name), g_variant_ref_sink (g_variant_new ("(tt)", count, bytes)));
  return table;
}

static gint
larger_growth_first (gconstpointer a, gconstpointer b)
{
  const Growth *x = a, *y = b;

  if (x->bytes != y->bytes)
    return x->bytes > y->bytes ? -1 : 1;
  return g_strcmp0 (x->name, y->name);
}

static gint64
difference (guint64 now, guint64 then)
{
  return now >= then ? (gint64) MIN (now - then, (guint64) G_MAXINT64) : -(gint64) MIN (then - now, (guint64) G_MAXINT64);
}

GVariant *
pymemd_heap_growth_compute (GVariant *since, GVariant *now, guint max)
{
  g_autoptr(GHashTable) before = census_types (since);
  g_autoptr(GHashTable) after = census_types (now);
  g_autoptr(GArray) grew = g_array_new (FALSE, FALSE, sizeof (Growth));
  GVariantBuilder list;
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, after);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      GVariant *then = g_hash_table_lookup (before, key);
      guint64 count_now, bytes_now, count_then = 0, bytes_then = 0;
      Growth growth;

      g_variant_get (value, "(tt)", &count_now, &bytes_now);
      if (then != NULL)
        g_variant_get (then, "(tt)", &count_then, &bytes_then);
      if (bytes_now <= bytes_then)
        continue;
      growth.name = key;
      growth.bytes = difference (bytes_now, bytes_then);
      growth.count = difference (count_now, count_then);
      growth.bytes_now = bytes_now;
      g_array_append_val (grew, growth);
    }
  g_array_sort (grew, larger_growth_first);
  g_variant_builder_init (&list, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < grew->len && i < max; i++)
    {
      const Growth *growth = &g_array_index (grew, Growth, i);
      GVariantDict entry;

      /* A type that gained a hundredth of what the first did is noise
       * (the interpreter's own descriptors, caches) next to it. */
      if (growth->bytes < g_array_index (grew, Growth, 0).bytes / 100)
        break;
      g_variant_dict_init (&entry, NULL);
      g_variant_dict_insert (&entry, "kind", "s", "type");
      g_variant_dict_insert (&entry, "name", "s", growth->name);
      g_variant_dict_insert (&entry, "bytes", "x", growth->bytes);
      g_variant_dict_insert (&entry, "count", "x", growth->count);
      g_variant_dict_insert (&entry, "bytes_now", "t", growth->bytes_now);
      g_variant_builder_add_value (&list, g_variant_dict_end (&entry));
    }
  return g_variant_builder_end (&list);
}

char *
pymemd_heap_growth_to_text (GVariant *grew, char *(*clean) (const char *text))
{
  g_autoptr(GString) text = g_string_new (NULL);
  GVariantIter iter;
  GVariant *entry;

  g_variant_iter_init (&iter, grew);
  while ((entry = g_variant_iter_next_value (&iter)) != NULL)
    {
      const char *name = "?";
      gint64 bytes = 0, count = 0;
      g_autofree char *size = NULL, *shown = NULL;

      g_variant_lookup (entry, "name", "&s", &name);
      g_variant_lookup (entry, "bytes", "x", &bytes);
      g_variant_lookup (entry, "count", "x", &count);
      size = g_format_size_full ((guint64) MAX (bytes, 0), G_FORMAT_SIZE_IEC_UNITS);
      shown = clean != NULL ? clean (name) : g_strdup (name);
      /* TRANSLATORS: a type, the bytes and the objects it gained: "builtins.dict +40.0 MiB (+80000)" */
      g_string_append_printf (text, _("%s%s +%s (%+" PRId64 ")"), text->len > 0 ? ", " : "", shown, size,
                              count);
      g_variant_unref (entry);
    }
  return g_string_free (g_steal_pointer (&text), FALSE);
}
