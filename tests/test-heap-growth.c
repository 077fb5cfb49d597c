/* Tests what grew between two heap summaries: which pair is compared, what is named, in which order, and its text. */
#include "config.h"

#include "pymemd-heap-growth.h"

/* A summary as GetHeapSummary serves it, with the census TYPES
 * ("name:count:bytes,...") and WALKED. */
static GVariant *
summary (const char *types, gboolean walked)
{
  g_auto(GStrv) entries = g_strsplit (types, ",", -1);
  GVariantBuilder list;
  GVariantDict census, dict;

  g_variant_builder_init (&list, G_VARIANT_TYPE ("a(stt)"));
  for (guint i = 0; entries[i] != NULL && *entries[i] != '\0'; i++)
    {
      g_auto(GStrv) parts = g_strsplit (entries[i], ":", 3);
      g_variant_builder_add (&list, "(stt)", parts[0], g_ascii_strtoull (parts[1], NULL, 10),
                             g_ascii_strtoull (parts[2], NULL, 10));
    }
  g_variant_dict_init (&census, NULL);
  g_variant_dict_insert_value (&census, "types", g_variant_builder_end (&list));
  g_variant_dict_insert (&census, "walked", "b", walked);
  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert_value (&dict, "census", g_variant_dict_end (&census));
  return g_variant_ref_sink (g_variant_dict_end (&dict));
}

static void
test_compute (void)
{
  g_autoptr(GVariant) since = summary ("builtins.dict:100:10000,builtins.str:50:5000,builtins.set:10:900000", FALSE);
  g_autoptr(GVariant) now = summary ("builtins.dict:80100:40010000,builtins.str:40:4000,builtins.set:10:900000,"
                                     "app.Row:2000:6000000,builtins.cell:3:300",
                                     FALSE);
  g_autoptr(GVariant) grew = g_variant_ref_sink (pymemd_heap_growth_compute (since, now, 5));
  g_autoptr(GVariant) first = NULL, second = NULL;
  g_autofree char *text = NULL;
  const char *kind = NULL, *name = NULL;
  gint64 bytes = 0, count = 0;
  guint64 bytes_now = 0;

  /* Growth only (str shrank, set stayed), largest first, and not the
   * 300 bytes of cells next to 40 MB of dicts. */
  g_assert_cmpuint (g_variant_n_children (grew), ==, 2);
  first = g_variant_get_child_value (grew, 0);
  g_assert_true (g_variant_lookup (first, "kind", "&s", &kind));
  g_assert_cmpstr (kind, ==, "type");
  g_assert_true (g_variant_lookup (first, "name", "&s", &name));
  g_assert_cmpstr (name, ==, "builtins.dict");
  g_assert_true (g_variant_lookup (first, "bytes", "x", &bytes));
  g_assert_cmpint (bytes, ==, 40000000);
  g_assert_true (g_variant_lookup (first, "count", "x", &count));
  g_assert_cmpint (count, ==, 80000);
  g_assert_true (g_variant_lookup (first, "bytes_now", "t", &bytes_now));
  g_assert_cmpuint (bytes_now, ==, 40010000);
  /* A type the first summary did not list grew from nothing. */
  second = g_variant_get_child_value (grew, 1);
  g_assert_true (g_variant_lookup (second, "name", "&s", &name));
  g_assert_cmpstr (name, ==, "app.Row");
  g_assert_true (g_variant_lookup (second, "bytes", "x", &bytes));
  g_assert_cmpint (bytes, ==, 6000000);

  text = pymemd_heap_growth_to_text (grew, NULL);
  g_assert_cmpstr (text, ==, "builtins.dict +38.1\u00a0MiB (+80000), app.Row +5.7\u00a0MiB (+2000)");

  /* MAX bounds the list; nothing grew, nothing named. */
  g_clear_pointer (&grew, g_variant_unref);
  grew = g_variant_ref_sink (pymemd_heap_growth_compute (since, now, 1));
  g_assert_cmpuint (g_variant_n_children (grew), ==, 1);
  g_clear_pointer (&grew, g_variant_unref);
  grew = g_variant_ref_sink (pymemd_heap_growth_compute (now, now, 5));
  g_assert_cmpuint (g_variant_n_children (grew), ==, 0);
  g_free (text);
  text = pymemd_heap_growth_to_text (grew, NULL);
  g_assert_cmpstr (text, ==, "");
}

/* The latest summary against the oldest one of its kind: a full census
 * (untracked objects counted) is not compared with a light one. */
static void
test_pick (void)
{
  g_autoptr(GVariant) light = summary ("builtins.dict:1:100", FALSE);
  g_autoptr(GVariant) full = summary ("builtins.str:1:100", TRUE);
  GVariant *three[] = { full, light, light };
  GVariant *mixed[] = { light, full };
  GVariant *alone[] = { light };
  g_autoptr(GVariant) list = g_variant_ref_sink (g_variant_new_array (NULL, three, 3));
  g_autoptr(GVariant) list_mixed = g_variant_ref_sink (g_variant_new_array (NULL, mixed, 2));
  g_autoptr(GVariant) list_alone = g_variant_ref_sink (g_variant_new_array (NULL, alone, 1));
  gsize first = 99, last = 99;

  g_assert_true (pymemd_heap_growth_pick (list, &first, &last));
  g_assert_cmpuint (first, ==, 1);
  g_assert_cmpuint (last, ==, 2);
  g_assert_false (pymemd_heap_growth_pick (list_mixed, &first, &last));
  g_assert_false (pymemd_heap_growth_pick (list_alone, &first, &last));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/heap-growth/compute", test_compute);
  g_test_add_func ("/heap-growth/pick", test_pick);
  return g_test_run ();
}
