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

/* SUMMARY with retained sizes: HOLDERS "path:type:bytes:objects,..." (an
 * empty path for the kinds no path names). */
static GVariant *
with_holders (GVariant *base, const char *holders)
{
  g_auto(GStrv) entries = g_strsplit (holders, ",", -1);
  GVariantBuilder list;
  GVariantDict retained, dict;

  g_variant_builder_init (&list, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; entries[i] != NULL && *entries[i] != '\0'; i++)
    {
      g_auto(GStrv) parts = g_strsplit (entries[i], ":", 4);
      GVariantDict holder;

      g_variant_dict_init (&holder, NULL);
      g_variant_dict_insert (&holder, "kind", "s", *parts[0] != '\0' ? "root" : "outside");
      g_variant_dict_insert (&holder, "path", "s", parts[0]);
      if (*parts[1] != '\0')
        g_variant_dict_insert (&holder, "type", "s", parts[1]);
      g_variant_dict_insert (&holder, "retained_bytes", "t", g_ascii_strtoull (parts[2], NULL, 10));
      g_variant_dict_insert (&holder, "retained_objects", "t", g_ascii_strtoull (parts[3], NULL, 10));
      g_variant_builder_add_value (&list, g_variant_dict_end (&holder));
    }
  g_variant_dict_init (&retained, NULL);
  g_variant_dict_insert (&retained, "complete", "b", TRUE);
  g_variant_dict_insert_value (&retained, "holders", g_variant_builder_end (&list));
  g_variant_dict_init (&dict, base);
  g_variant_dict_insert_value (&dict, "retained", g_variant_dict_end (&retained));
  return g_variant_ref_sink (g_variant_dict_end (&dict));
}

static void
assert_holder (GVariant *grew, gsize i, const char *name, gint64 bytes, gint64 count, gboolean compared)
{
  g_autoptr(GVariant) entry = g_variant_get_child_value (grew, i);
  const char *kind = NULL, *entry_name = NULL;
  gint64 entry_bytes = -1, entry_count = -1;
  gboolean entry_compared = !compared;

  g_assert_true (g_variant_lookup (entry, "kind", "&s", &kind));
  g_assert_cmpstr (kind, ==, "holder");
  g_assert_true (g_variant_lookup (entry, "name", "&s", &entry_name));
  g_assert_cmpstr (entry_name, ==, name);
  g_assert_true (g_variant_lookup (entry, "bytes", "x", &entry_bytes));
  g_assert_cmpint (entry_bytes, ==, bytes);
  g_assert_true (g_variant_lookup (entry, "count", "x", &entry_count));
  g_assert_cmpint (entry_count, ==, count);
  g_assert_true (g_variant_lookup (entry, "compared", "b", &entry_compared));
  g_assert_cmpint (entry_compared, ==, compared);
}

/* The holders that grew between the earliest and the latest summary with
 * retained sizes, after the types; with one such summary, its largest. */
static void
test_holders (void)
{
  g_autoptr(GVariant) light1 = summary ("builtins.dict:100:10000", FALSE);
  g_autoptr(GVariant) light2 = summary ("builtins.dict:80100:40010000", FALSE);
  g_autoptr(GVariant) full = summary ("builtins.str:1:100", TRUE);
  g_autoptr(GVariant) early = with_holders (full, "__main__.cache:builtins.dict:1000000:10,"
                                                  "__main__.W:builtins.bytearray:5000000:1,"
                                                  "app.small:builtins.list:100:1,"
                                                  ":builtins.list:900000000:5");
  g_autoptr(GVariant) late = with_holders (full, "__main__.cache:builtins.dict:41000000:80010,"
                                                 "__main__.W:builtins.bytearray:5000000:1,"
                                                 "app.new:app.Row:2000000:200,"
                                                 "app.small:builtins.list:200:2,"
                                                 ":builtins.list:990000000:5");
  GVariant *window[] = { light1, early, late, light2 };
  GVariant *once[] = { light1, early, light2 };
  GVariant *none[] = { light1 };
  g_autoptr(GVariant) list = g_variant_ref_sink (g_variant_new_array (NULL, window, 4));
  g_autoptr(GVariant) list_once = g_variant_ref_sink (g_variant_new_array (NULL, once, 3));
  g_autoptr(GVariant) list_none = g_variant_ref_sink (g_variant_new_array (NULL, none, 1));
  g_autoptr(GVariant) grew = g_variant_ref_sink (pymemd_heap_growth_of_summaries (list, 5));
  g_autoptr(GVariant) type = g_variant_get_child_value (grew, 0);
  g_autofree char *text = NULL;
  const char *kind = NULL;

  /* The light pair's type, then the holders that grew (W stayed, the 100
   * bytes of app.small are noise, what no path names is not listed). */
  g_assert_cmpuint (g_variant_n_children (grew), ==, 3);
  g_assert_true (g_variant_lookup (type, "kind", "&s", &kind));
  g_assert_cmpstr (kind, ==, "type");
  assert_holder (grew, 1, "__main__.cache (dict)", 40000000, 80000, TRUE);
  /* A path the earliest did not list grew from nothing. */
  assert_holder (grew, 2, "app.new (app.Row)", 2000000, 200, TRUE);
  text = pymemd_heap_growth_to_text (grew, NULL);
  g_assert_cmpstr (text, ==, "builtins.dict +38.1\u00a0MiB (+80000), __main__.cache (dict) +38.1\u00a0MiB retained, "
                             "app.new (app.Row) +1.9\u00a0MiB retained");

  /* One summary with retained sizes: its holders by retained size. */
  g_clear_pointer (&grew, g_variant_unref);
  grew = g_variant_ref_sink (pymemd_heap_growth_of_summaries (list_once, 5));
  g_assert_cmpuint (g_variant_n_children (grew), ==, 3);
  assert_holder (grew, 1, "__main__.W (bytearray)", 5000000, 1, FALSE);
  assert_holder (grew, 2, "__main__.cache (dict)", 1000000, 10, FALSE);
  g_free (text);
  text = pymemd_heap_growth_to_text (grew, NULL);
  g_assert_true (g_str_has_suffix (text, ", __main__.W (bytearray) 4.8\u00a0MiB retained, "
                                         "__main__.cache (dict) 976.6\u00a0KiB retained"));

  /* MAX bounds the holders as the types; none without retained sizes. */
  g_clear_pointer (&grew, g_variant_unref);
  grew = g_variant_ref_sink (pymemd_heap_growth_of_summaries (list, 1));
  g_assert_cmpuint (g_variant_n_children (grew), ==, 2);
  assert_holder (grew, 1, "__main__.cache (dict)", 40000000, 80000, TRUE);
  g_clear_pointer (&grew, g_variant_unref);
  grew = g_variant_ref_sink (pymemd_heap_growth_of_summaries (list_none, 5));
  g_assert_cmpuint (g_variant_n_children (grew), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/heap-growth/compute", test_compute);
  g_test_add_func ("/heap-growth/pick", test_pick);
  g_test_add_func ("/heap-growth/holders", test_holders);
  return g_test_run ();
}
