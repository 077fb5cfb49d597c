/* What grew most between two heap summaries: the causes GrowthSuspected and pymemctl history name. */
#include "config.h"

#include <inttypes.h>
#include <string.h>

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

/* ENTRY of grew with what every kind has. */
static void
entry_init (GVariantDict *entry, const char *kind, const Growth *growth)
{
  g_variant_dict_init (entry, NULL);
  g_variant_dict_insert (entry, "kind", "s", kind);
  g_variant_dict_insert (entry, "name", "s", growth->name);
  g_variant_dict_insert (entry, "bytes", "x", growth->bytes);
  g_variant_dict_insert (entry, "count", "x", growth->count);
  g_variant_dict_insert (entry, "bytes_now", "t", growth->bytes_now);
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
      entry_init (&entry, "type", growth);
      g_variant_builder_add_value (&list, g_variant_dict_end (&entry));
    }
  return g_variant_builder_end (&list);
}

/* ---- holders ---- */

/* Sorted as a type's growth: the name is "path (type)", as pymemctl heap
 * --retained shows it, and owned. */
typedef struct {
  Growth  growth;
  char   *path;
  char   *type;
} HolderGrowth;

static void
holder_growth_clear (gpointer data)
{
  HolderGrowth *holder = data;

  g_free ((char *) holder->growth.name);
  g_free (holder->path);
  g_free (holder->type);
}

/* SUMMARY's holders that a path names (the "root", "shared" and "nested"
 * ones), or NULL when it has no retained sizes or none is named. */
static GVariant *
named_holders (GVariant *summary)
{
  g_autoptr(GVariant) retained = g_variant_lookup_value (summary, "retained", G_VARIANT_TYPE_VARDICT);
  g_autoptr(GVariant) holders = retained != NULL ? g_variant_lookup_value (retained, "holders",
                                                                           G_VARIANT_TYPE ("aa{sv}"))
                                                 : NULL;
  GVariantIter iter;
  GVariant *holder;

  if (holders == NULL)
    return NULL;
  g_variant_iter_init (&iter, holders);
  while ((holder = g_variant_iter_next_value (&iter)) != NULL)
    {
      const char *path = "";
      gboolean named = g_variant_lookup (holder, "path", "&s", &path) && *path != '\0';

      g_variant_unref (holder);
      if (named)
        return g_steal_pointer (&holders);
    }
  return NULL;
}

/* HOLDERS' path → (retained bytes, retained objects) as "(tt)", the first of
 * each path. */
static GHashTable *
holders_by_path (GVariant *holders)
{
  GHashTable *table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_variant_unref);
  GVariantIter iter;
  GVariant *holder;

  if (holders == NULL)
    return table;
  g_variant_iter_init (&iter, holders);
  while ((holder = g_variant_iter_next_value (&iter)) != NULL)
    {
      const char *path = "";
      guint64 bytes = 0, objects = 0;

      if (g_variant_lookup (holder, "path", "&s", &path) && *path != '\0' && !g_hash_table_contains (table, path))
        {
          g_variant_lookup (holder, "retained_bytes", "t", &bytes);
          g_variant_lookup (holder, "retained_objects", "t", &objects);
          g_hash_table_insert (table, g_strdup (path), g_variant_ref_sink (g_variant_new ("(tt)", bytes, objects)));
        }
      g_variant_unref (holder);
    }
  return table;
}

static const char *
short_type (const char *type)
{
  return g_str_has_prefix (type, "builtins.") ? type + strlen ("builtins.") : type;
}

/* Adds to LIST the holders of the latest summary with retained sizes in
 * SUMMARIES that grew most since the earliest one; with a single such
 * summary, its largest holders. */
static void
add_holders (GVariantBuilder *list, GVariant *summaries, guint max)
{
  g_autoptr(GVariant) first = NULL, last = NULL;
  g_autoptr(GHashTable) before = NULL;
  g_autoptr(GArray) grew = g_array_new (FALSE, FALSE, sizeof (HolderGrowth));
  gsize n = g_variant_n_children (summaries);
  gboolean compared;
  GVariantIter iter;
  GVariant *holder;

  g_array_set_clear_func (grew, holder_growth_clear);
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) summary = g_variant_get_child_value (summaries, i);
      g_autoptr(GVariant) holders = named_holders (summary);

      if (holders == NULL)
        continue;
      if (first == NULL)
        first = g_variant_ref (holders);
      g_clear_pointer (&last, g_variant_unref);
      last = g_steal_pointer (&holders);
    }
  if (last == NULL)
    return;
  compared = first != last;
  before = holders_by_path (compared ? first : NULL);
  g_variant_iter_init (&iter, last);
  while ((holder = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_autoptr(GVariant) owned = holder;
      const char *path = "", *type = "?";
      guint64 bytes = 0, objects = 0, bytes_then = 0, objects_then = 0;
      GVariant *then;
      HolderGrowth growth;

      if (!g_variant_lookup (holder, "path", "&s", &path) || *path == '\0')
        continue;
      g_variant_lookup (holder, "type", "&s", &type);
      g_variant_lookup (holder, "retained_bytes", "t", &bytes);
      g_variant_lookup (holder, "retained_objects", "t", &objects);
      if ((then = g_hash_table_lookup (before, path)) != NULL)
        g_variant_get (then, "(tt)", &bytes_then, &objects_then);
      /* Each path once: the first listed is the one with most retained. */
      g_hash_table_replace (before, g_strdup (path), g_variant_ref_sink (g_variant_new ("(tt)", bytes, objects)));
      if (bytes <= bytes_then)
        continue;
      growth.growth.name = g_strdup_printf ("%s (%s)", path, short_type (type));
      growth.growth.bytes = difference (bytes, bytes_then);
      growth.growth.count = difference (objects, objects_then);
      growth.growth.bytes_now = bytes;
      growth.path = g_strdup (path);
      growth.type = g_strdup (type);
      g_array_append_val (grew, growth);
    }
  g_array_sort (grew, larger_growth_first);
  for (guint i = 0; i < grew->len && i < max; i++)
    {
      const HolderGrowth *named = &g_array_index (grew, HolderGrowth, i);
      GVariantDict entry;

      /* The same noise rule as for types. */
      if (named->growth.bytes < g_array_index (grew, HolderGrowth, 0).growth.bytes / 100)
        break;
      entry_init (&entry, "holder", &named->growth);
      g_variant_dict_insert (&entry, "path", "s", named->path);
      g_variant_dict_insert (&entry, "type", "s", named->type);
      g_variant_dict_insert (&entry, "compared", "b", compared);
      g_variant_builder_add_value (list, g_variant_dict_end (&entry));
    }
}

GVariant *
pymemd_heap_growth_of_summaries (GVariant *summaries, guint max)
{
  g_autoptr(GVariant) types = NULL;
  GVariantBuilder list;
  gsize first, last;

  g_variant_builder_init (&list, G_VARIANT_TYPE ("aa{sv}"));
  if (pymemd_heap_growth_pick (summaries, &first, &last))
    {
      g_autoptr(GVariant) since = g_variant_get_child_value (summaries, first);
      g_autoptr(GVariant) now = g_variant_get_child_value (summaries, last);
      GVariantIter iter;
      GVariant *entry;

      types = g_variant_ref_sink (pymemd_heap_growth_compute (since, now, max));
      g_variant_iter_init (&iter, types);
      while ((entry = g_variant_iter_next_value (&iter)) != NULL)
        g_variant_builder_add_value (&list, entry), g_variant_unref (entry);
    }
  add_holders (&list, summaries, max);
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
      const char *name = "?", *kind = "type";
      gint64 bytes = 0, count = 0;
      gboolean compared = TRUE;
      g_autofree char *size = NULL, *shown = NULL;

      g_variant_lookup (entry, "kind", "&s", &kind);
      g_variant_lookup (entry, "name", "&s", &name);
      g_variant_lookup (entry, "bytes", "x", &bytes);
      g_variant_lookup (entry, "count", "x", &count);
      g_variant_lookup (entry, "compared", "b", &compared);
      size = g_format_size_full ((guint64) MAX (bytes, 0), G_FORMAT_SIZE_IEC_UNITS);
      shown = clean != NULL ? clean (name) : g_strdup (name);
      if (!g_str_equal (kind, "holder"))
        /* TRANSLATORS: a type, the bytes and the objects it gained: "builtins.dict +40.0 MiB (+80000)" */
        g_string_append_printf (text, _("%s%s +%s (%+" PRId64 ")"), text->len > 0 ? ", " : "", shown, size,
                                count);
      else if (compared)
        /* TRANSLATORS: a holder and what its retained size gained: "__main__.W (list) +40.0 MiB retained" */
        g_string_append_printf (text, _("%s%s +%s retained"), text->len > 0 ? ", " : "", shown, size);
      else
        /* TRANSLATORS: a holder and its retained size, from a single summary: "__main__.W (list) 40.0 MiB retained" */
        g_string_append_printf (text, _("%s%s %s retained"), text->len > 0 ? ", " : "", shown, size);
      g_variant_unref (entry);
    }
  return g_string_free (g_steal_pointer (&text), FALSE);
}
