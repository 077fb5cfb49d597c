/* Tests the heap summary's validation member by member, its text and D-Bus forms, and the ledger against the heap pages. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pymemd-error.h"
#include "pymemd-heap-summary.h"
#include "testutil.h"

#define MIB (G_GUINT64_CONSTANT (1) << 20)

/* tests/data/heap/summary.json, parsed (mutable). */
static JsonNode *
load_fixture (void)
{
  g_autofree char *path = pymemd_test_data_path ("heap/summary.json");
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (json_parser_load_from_file (parser, path, &error));
  g_assert_no_error (error);
  return json_node_copy (json_parser_get_root (parser));
}

static char *
fixture_text (void)
{
  g_autoptr(JsonNode) root = load_fixture ();
  return json_to_string (root, FALSE);
}

static PymemdHeapSummary *
summary_ok (JsonNode *root)
{
  g_autoptr(GError) error = NULL;
  PymemdHeapSummary *summary = pymemd_heap_summary_new_from_json (root, &error);

  g_assert_no_error (error);
  g_assert_nonnull (summary);
  return summary;
}

/* VALUE as JSON text, or "@chars:N" (a string of N characters, "é"),
 * "@types:N", "@sites:N", "@generations:N" (lists of N valid entries). */
static JsonNode *
make_value (const char *value)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GString) text = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  guint n;

  if (sscanf (value, "@chars:%u", &n) == 1)
    {
      g_string_append_c (text, '"');
      for (guint i = 0; i < n; i++)
        g_string_append (text, "é");
      g_string_append_c (text, '"');
    }
  else if (g_str_has_prefix (value, "@") && sscanf (strchr (value, ':') + 1, "%u", &n) == 1)
    {
      const char *entry = g_str_has_prefix (value, "@types:")
                            ? "{\"type\": \"builtins.dict\", \"count\": 1, \"bytes\": 64}"
                          : g_str_has_prefix (value, "@sites:")
                            ? "{\"file\": \"a.py\", \"line\": 1, \"count\": 1, \"bytes\": 64}"
                            : "{\"collections\": 1, \"collected\": 2, \"uncollectable\": 0}";
      g_string_append_c (text, '[');
      for (guint i = 0; i < n; i++)
        g_string_append_printf (text, "%s%s", i > 0 ? ", " : "", entry);
      g_string_append_c (text, ']');
    }
  else
    g_string_append (text, value);
  g_assert_true (json_parser_load_from_data (parser, text->str, -1, &error));
  g_assert_no_error (error);
  return json_node_copy (json_parser_get_root (parser));
}

/* Sets the member at PATH ("gc.count[1]", "census.types[0].type") of ROOT
 * to VALUE (JSON text as make_value () takes), or removes it when NULL. */
static void
set_path (JsonNode *root, const char *path, const char *value)
{
  g_auto(GStrv) parts = g_strsplit (path, ".", -1);
  JsonNode *node = root;

  for (guint i = 0; parts[i] != NULL; i++)
    {
      g_autofree char *name = g_strdup (parts[i]);
      char *bracket = strchr (name, '[');
      gboolean last = parts[i + 1] == NULL;
      JsonObject *object = json_node_get_object (node);
      int index = -1;

      if (bracket != NULL)
        {
          index = atoi (bracket + 1);
          *bracket = '\0';
        }
      if (last && index < 0)
        {
          if (value == NULL)
            json_object_remove_member (object, name);
          else
            json_object_set_member (object, name, make_value (value));
          return;
        }
      node = json_object_get_member (object, name);
      g_assert_nonnull (node);
      if (index >= 0)
        {
          JsonArray *array = json_node_get_array (node);
          if (last)
            {
              /* Arrays have no setter: rebuild the element list. */
              g_autoptr(JsonArray) copy = json_array_new ();
              for (guint j = 0; j < json_array_get_length (array); j++)
                json_array_add_element (copy, (int) j == index
                                                ? make_value (value)
                                                : json_node_copy (json_array_get_element (array, j)));
              json_object_set_array_member (object, name, json_array_ref (copy));
              return;
            }
          node = json_array_get_element (array, (guint) index);
        }
    }
}

/* ------------------------------------------------------------ validation */

static void
test_valid (void)
{
  g_autoptr(JsonNode) root = load_fixture ();
  g_autoptr(PymemdHeapSummary) summary = NULL;
  g_autofree char *text = NULL;
  JsonObject *document;

  /* Members the protocol does not know are left out of the copy. */
  set_path (root, "extra", "{\"secret\": 1}");
  set_path (root, "census.types[0].extra", "\"x\"");
  summary = summary_ok (root);
  g_assert_cmpint (summary->taken_at_us, ==, G_GINT64_CONSTANT (1764100000250000));
  g_assert_cmpuint (summary->census_objects, ==, 812345);
  g_assert_cmpuint (summary->census_bytes, ==, 61234567);
  g_assert_cmpuint (summary->census_small_bytes, ==, 40123456);
  g_assert_cmpuint (summary->census_large_bytes, ==, 21111111);
  g_assert_true (summary->has_pymalloc);
  g_assert_cmpuint (summary->pymalloc_arena_bytes, ==, 24117248);
  g_assert_cmpuint (summary->pymalloc_allocated_bytes, ==, 22957568);
  document = json_node_get_object (summary->document);
  g_assert_false (json_object_has_member (document, "extra"));
  g_assert_true (json_object_has_member (document, "collect"));
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (document, "collect")));
  text = pymemd_heap_summary_to_text (summary);
  g_assert_null (strstr (text, "extra"));
  g_assert_null (strstr (text, "secret"));
}

/* Bounds are inclusive; absent nullable members are null; whole numbers
 * are numbers. */
static void
test_valid_edges (void)
{
  static const struct {
    const char *path;
    const char *value;
  } edges[] = {
    { "python", "@chars:64" },
    { "implementation", "@chars:32" },
    { "python", "\"\"" },
    { "taken_at", "0" },
    { "taken_at", "100000000000" },
    { "duration", "0" },
    { "gil_max_hold", "1e3" },
    { "threads", "1000000" },
    { "modules", "10000000" },
    { "allocated_blocks", "9007199254740992" }, /* 2^53 */
    { "duration", "3600" },
    { "duration", "-0.0" },
    { "gil_max_hold", "1e-08" },
    { "gc.generations", "@generations:1" },
    { "gc.generations", "@generations:4" },
    { "gc.last_full_collection", "null" },
    { "gc.last_full_collection", NULL },
    { "census.types", "[]" },
    { "census.types", "@types:1000" },
    { "census.types[0].type", "@chars:256" },
    { "pymalloc", "null" },
    { "pymalloc", NULL },
    { "tracemalloc", "null" },
    { "tracemalloc.frames", "4294967295" },
    { "tracemalloc.sites", "@sites:1000" },
    { "tracemalloc.sites[0].file", "@chars:4096" },
    { "tracemalloc.sites[0].line", "0" },
    { "tracemalloc.sites[0].line", "4294967295" },
    { "collect", "{\"freed\": 31000, \"duration\": 0.09, \"garbage\": 0}" },
    { "collect", NULL },
    /* The allocation ledger's members; a helper before it sent none. */
    { "census.padding_bytes", "9007199254740992" },
    { "census.padding_bytes", "null" },
    { "census.tracked_objects", "0" },
    { "census.untracked_objects", NULL },
    { "census.walked", "false" },
    { "census.walked", NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (edges); i++)
    {
      g_autoptr(JsonNode) root = load_fixture ();
      g_autoptr(GError) error = NULL;
      g_autoptr(PymemdHeapSummary) summary = NULL;

      set_path (root, edges[i].path, edges[i].value);
      summary = pymemd_heap_summary_new_from_json (root, &error);
      if (error != NULL)
        g_error ("%s = %s: %s", edges[i].path, edges[i].value, error->message);
    }
}

/* Each member of the wrong type, out of its bounds, or missing. */
static void
test_invalid (void)
{
  static const struct {
    const char *path;
    const char *value; /* NULL: removed */
    const char *named; /* the member the error names */
  } cases[] = {
    { "python", "3", "summary.python" },
    { "python", "null", "summary.python" },
    { "python", "@chars:65", "summary.python" },
    { "python", NULL, "summary.python" },
    { "implementation", "@chars:33", "summary.implementation" },
    { "taken_at", "\"now\"", "summary.taken_at" },
    { "taken_at", "-1", "summary.taken_at" },
    { "taken_at", "100000000001", "summary.taken_at" },
    { "taken_at", "1e300", "summary.taken_at" },
    { "taken_at", "1e400", "summary.taken_at" }, /* infinite */
    { "taken_at", "null", "summary.taken_at" },
    { "duration", "-0.5", "summary.duration" },
    { "duration", "true", "summary.duration" },
    { "gil_max_hold", NULL, "summary.gil_max_hold" },
    { "complete", "1", "summary.complete" },
    { "complete", "\"true\"", "summary.complete" },
    { "threads", "1000001", "summary.threads" },
    { "threads", "-1", "summary.threads" },
    { "threads", "1.5", "summary.threads" },
    { "threads", "3.0", "summary.threads" },
    { "modules", "10000001", "summary.modules" },
    { "allocated_blocks", "\"1\"", "summary.allocated_blocks" },
    { "allocated_blocks", "[1]", "summary.allocated_blocks" },
    { "allocated_blocks", "99999999999999999999", "summary.allocated_blocks" },
    /* Past 2^53 no machine counts, and JSON readers with doubles round. */
    { "allocated_blocks", "9007199254740993", "summary.allocated_blocks" },
    { "allocated_blocks", "9223372036854775807", "summary.allocated_blocks" },
    { "census.bytes", "9223372036854775808", "summary.census.bytes" }, /* json-glib wraps it */
    { "census.bytes", "18446744073709551616", "summary.census.bytes" },
    /* Spans past an hour, infinite or huge ("1e+308.0" in the store). */
    { "duration", "1e308", "summary.duration" },
    { "duration", "3600.5", "summary.duration" },
    { "gil_max_hold", "1e400", "summary.gil_max_hold" },
    { "gc.last_full_collection", "1e308", "summary.gc.last_full_collection" },
    /* Control characters: escape sequences for whoever prints them. */
    { "python", "\"3.11\\u001b[5m\"", "summary.python" },
    { "implementation", "\"cpython\\u009b2J\"", "summary.implementation" },
    { "census.types[0].type", "\"a\\nb\"", "summary.census.types[0].type" },
    { "tracemalloc.sites[0].file", "\"x\\u007f.py\"", "summary.tracemalloc.sites[0].file" },
    { "gc", "[]", "summary.gc" },
    { "gc", "null", "summary.gc" },
    { "gc.enabled", "\"yes\"", "summary.gc.enabled" },
    { "gc.count", "[1, 2]", "summary.gc.count" },
    { "gc.count", "[1, 2, 3, 4]", "summary.gc.count" },
    { "gc.count", "{}", "summary.gc.count" },
    { "gc.count[1]", "-1", "summary.gc.count[1]" },
    { "gc.threshold[0]", "1.5", "summary.gc.threshold[0]" },
    { "gc.threshold[2]", "null", "summary.gc.threshold[2]" },
    { "gc.generations", "[]", "summary.gc.generations" },
    { "gc.generations", "@generations:5", "summary.gc.generations" },
    { "gc.generations[1]", "5", "summary.gc.generations[1]" },
    { "gc.generations[2].collected", "-1", "summary.gc.generations[2].collected" },
    { "gc.generations[0].uncollectable", NULL, "summary.gc.generations[0].uncollectable" },
    { "gc.garbage", NULL, "summary.gc.garbage" },
    { "gc.frozen", "-3", "summary.gc.frozen" },
    { "gc.last_full_collection", "\"yesterday\"", "summary.gc.last_full_collection" },
    { "gc.last_full_collection", "-1.0", "summary.gc.last_full_collection" },
    { "census", "null", "summary.census" },
    { "census.objects", "-1", "summary.census.objects" },
    { "census.small_bytes", "false", "summary.census.small_bytes" },
    { "census.large_bytes", NULL, "summary.census.large_bytes" },
    { "census.types", "\"many\"", "summary.census.types" },
    { "census.types", "@types:1001", "summary.census.types" },
    { "census.types[0].type", "@chars:257", "summary.census.types[0].type" },
    { "census.types[0].type", "5", "summary.census.types[0].type" },
    { "census.types[1].count", "-1", "summary.census.types[1].count" },
    { "census.types[4].bytes", NULL, "summary.census.types[4].bytes" },
    { "census.types[2]", "[]", "summary.census.types[2]" },
    { "census.other", NULL, "summary.census.other" },
    { "census.other.bytes", "1.0", "summary.census.other.bytes" },
    { "census.padding_bytes", "-1", "summary.census.padding_bytes" },
    { "census.padding_bytes", "9007199254740993", "summary.census.padding_bytes" },
    { "census.tracked_objects", "\"many\"", "summary.census.tracked_objects" },
    { "census.untracked_objects", "1.5", "summary.census.untracked_objects" },
    { "census.walked", "1", "summary.census.walked" },
    { "pymalloc", "5", "summary.pymalloc" },
    { "pymalloc.arenas", "-1", "summary.pymalloc.arenas" },
    { "pymalloc.overhead_bytes", NULL, "summary.pymalloc.overhead_bytes" },
    { "pymalloc.allocated_bytes", "null", "summary.pymalloc.allocated_bytes" },
    { "tracemalloc", "\"on\"", "summary.tracemalloc" },
    { "tracemalloc.tracing", "1", "summary.tracemalloc.tracing" },
    { "tracemalloc.frames", "4294967296", "summary.tracemalloc.frames" },
    { "tracemalloc.sites", "@sites:1001", "summary.tracemalloc.sites" },
    { "tracemalloc.sites[0].file", "@chars:4097", "summary.tracemalloc.sites[0].file" },
    { "tracemalloc.sites[0].line", "-1", "summary.tracemalloc.sites[0].line" },
    { "tracemalloc.sites[1].line", "4294967296", "summary.tracemalloc.sites[1].line" },
    { "tracemalloc.sites[0].bytes", "\"big\"", "summary.tracemalloc.sites[0].bytes" },
    { "collect", "{\"freed\": -1, \"duration\": 0.1, \"garbage\": 0}", "summary.collect.freed" },
    { "collect", "{\"freed\": 1, \"duration\": -0.1, \"garbage\": 0}", "summary.collect.duration" },
    { "collect", "{\"freed\": 1, \"duration\": 1e308, \"garbage\": 0}", "summary.collect.duration" },
    { "collect", "{\"freed\": 1, \"duration\": 0.1}", "summary.collect.garbage" },
    { "collect", "[]", "summary.collect" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(JsonNode) root = load_fixture ();
      g_autoptr(GError) error = NULL;
      g_autofree char *quoted = g_strdup_printf ("“%s”", cases[i].named);
      PymemdHeapSummary *summary;

      set_path (root, cases[i].path, cases[i].value);
      summary = pymemd_heap_summary_new_from_json (root, &error);
      if (summary != NULL)
        g_error ("%s = %s was accepted", cases[i].path, cases[i].value);
      g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PROTOCOL);
      if (strstr (error->message, quoted) == NULL)
        g_error ("%s = %s: “%s” does not name %s", cases[i].path, cases[i].value, error->message,
                 quoted);
    }
}

static void
test_not_an_object (void)
{
  static const char *const texts[] = { "[]", "5", "null", "\"summary\"", "", "{", "{\"a\": }" };

  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_null (pymemd_heap_summary_new_from_text (texts[i], &error));
      g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PROTOCOL);
    }
  {
    g_autoptr(GError) error = NULL;
    g_assert_null (pymemd_heap_summary_new_from_json (NULL, &error));
    g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PROTOCOL);
  }
}

static char *
nested (guint depth, char open, char close)
{
  char *text = g_malloc (2 * depth + 1);

  memset (text, open, depth);
  memset (text + depth, close, depth);
  text[2 * depth] = '\0';
  return text;
}

/* json-glib would overflow its stack: the nesting is checked first. */
static void
test_depth (void)
{
  g_autofree char *ok = nested (PYMEMD_HEAP_JSON_MAX_DEPTH, '[', ']');
  g_autofree char *deep = nested (PYMEMD_HEAP_JSON_MAX_DEPTH + 1, '[', ']');
  g_autofree char *very_deep = nested (200000, '[', ']');
  g_autofree char *in_string = g_strdup_printf ("{\"a\": \"%s\\\"%s\"}", deep, deep);
  g_autoptr(GError) error = NULL;

  g_assert_true (pymemd_heap_json_depth_ok (ok, strlen (ok)));
  g_assert_false (pymemd_heap_json_depth_ok (deep, strlen (deep)));
  g_assert_true (pymemd_heap_json_depth_ok (in_string, strlen (in_string)));
  g_assert_null (pymemd_heap_summary_new_from_text (very_deep, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PROTOCOL);
}

/* What json-glib reads besides strict JSON ('strings', comments) could
 * hide a '"' from the count, and the nesting after it: refused, every way
 * a helper could write it. What Python's json module writes still passes. */
static void
test_depth_hidden (void)
{
  static const struct {
    const char *before, *after;
  } hiding[] = {
    { "{'a': '\"', 'b': ", "}" },
    { "{\"a\": 1 /* \" */, \"b\": ", "}" },
    { "{\"a\": 1 // \"\n, \"b\": ", "}" },
    { "# \"\n", "" },
  };
  g_autofree char *deep = nested (200000, '[', ']');

  for (guint i = 0; i < G_N_ELEMENTS (hiding); i++)
    {
      g_autofree char *text = g_strconcat (hiding[i].before, deep, hiding[i].after, NULL);
      g_autoptr(GError) error = NULL;

      g_test_message ("%s", hiding[i].before);
      g_assert_false (pymemd_heap_json_depth_ok (text, strlen (text)));
      g_assert_null (pymemd_heap_summary_new_from_text (text, &error));
      g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PROTOCOL);
    }
  /* A NUL ends nothing: the length given is what is read. */
  g_assert_false (pymemd_heap_json_depth_ok ("[1,\0\"]", 6));
  {
    const char *python = "{\"a\": [1, -2.5e+3, 1E-7, true, false, null, NaN, Infinity, -Infinity],\n"
                         " \"b\": {\"c\": \"'/* // \\\" [[[\"}}\r\n\t";

    g_assert_true (pymemd_heap_json_depth_ok (python, strlen (python)));
  }
}

/* Random bytes changed in the fixture's text: accepted or PROTOCOL, never
 * a crash or a leak. */
static void
test_random_mutations (void)
{
  g_autofree char *text = fixture_text ();
  gsize len = strlen (text);
  guint accepted = 0;

  for (guint i = 0; i < 500; i++)
    {
      g_autofree char *copy = g_strdup (text);
      g_autoptr(GError) error = NULL;
      g_autoptr(PymemdHeapSummary) summary = NULL;
      guint changes = (guint) g_test_rand_int_range (1, 4);

      for (guint j = 0; j < changes; j++)
        copy[g_test_rand_int_range (0, (gint32) len)] = (char) g_test_rand_int_range (1, 256);
      summary = pymemd_heap_summary_new_from_text (copy, &error);
      if (summary != NULL)
        accepted++;
      else
        g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PROTOCOL);
    }
  g_test_message ("%u of 500 mutated summaries were still valid", accepted);
}

/* ------------------------------------------------------------------ text */

static void
test_text_round_trip (void)
{
  g_autoptr(JsonNode) root = load_fixture ();
  g_autoptr(PymemdHeapSummary) summary = NULL;
  g_autoptr(PymemdHeapSummary) again = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *text_again = NULL;

  set_path (root, "collect", "{\"freed\": 31000, \"duration\": 0, \"garbage\": 0}");
  summary = summary_ok (root);
  text = pymemd_heap_summary_to_text (summary);
  again = pymemd_heap_summary_new_from_text (text, &error);
  g_assert_no_error (error);
  text_again = pymemd_heap_summary_to_text (again);
  g_assert_cmpstr (text, ==, text_again);
  g_assert_cmpint (again->taken_at_us, ==, summary->taken_at_us);
  g_assert_cmpuint (again->census_objects, ==, summary->census_objects);
  g_assert_cmpuint (again->census_small_bytes, ==, summary->census_small_bytes);
  g_assert_cmpuint (again->census_large_bytes, ==, summary->census_large_bytes);
  g_assert_cmpuint (again->pymalloc_arena_bytes, ==, summary->pymalloc_arena_bytes);
  g_assert_true (json_node_equal (summary->document, again->document));
}

/* What is accepted is stored as JSON that reads back the same: json-glib
 * writes a double with %.17g plus ".0" when that has no point, so 1e-08
 * would be stored as "1e-08.0". Seconds are kept to the microsecond; those
 * below 100 µs are the only ones written with an exponent: each is tried. */
static void
test_printable_numbers (void)
{
  static const char *const values[] = {
    "1e-08", "2e-08", "5e-324", "4.9e-07", "5e-07", "0.000123456789", "-0.0", "-0", "0", "1e-04", "3600",
  };
  g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < G_N_ELEMENTS (values); i++)
    g_ptr_array_add (texts, g_strdup (values[i]));
  for (guint k = 1; k < 100; k++)
    {
      char buf[G_ASCII_DTOSTR_BUF_SIZE];
      g_ptr_array_add (texts, g_strdup (g_ascii_dtostr (buf, sizeof buf, k / 1e6)));
    }
  for (guint i = 0; i < texts->len; i++)
    {
      const char *value = g_ptr_array_index (texts, i);
      g_autoptr(JsonNode) root = load_fixture ();
      g_autoptr(PymemdHeapSummary) summary = NULL;
      g_autoptr(PymemdHeapSummary) again = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *text = NULL;
      double stored;

      set_path (root, "gil_max_hold", value);
      set_path (root, "collect", "{\"freed\": 1, \"duration\": 0, \"garbage\": 0}");
      set_path (root, "collect.duration", value);
      summary = summary_ok (root);
      text = pymemd_heap_summary_to_text (summary);
      again = pymemd_heap_summary_new_from_text (text, &error);
      if (again == NULL)
        g_error ("gil_max_hold = %s is stored as %s, which does not read back: %s", value, text, error->message);
      g_assert_true (json_node_equal (summary->document, again->document));
      stored = json_object_get_double_member (json_node_get_object (summary->document), "gil_max_hold");
      /* To the microsecond, and never -0 ("-0.0" says nothing 0.0 does not). */
      g_assert_cmpfloat_with_epsilon (stored * 1e6, (double) (gint64) (g_ascii_strtod (value, NULL) * 1e6 + 0.5),
                                      1e-6);
      g_assert_false (signbit (stored));
    }
}

/* ---------------------------------------------------------------- ledger */

typedef struct {
  const char *name;
  gboolean    has_pymalloc;
  guint64     arena, allocated, small, large;
  guint64     pymalloc_pages, native_pages;
  PymemdHeapLedger expected;
} LedgerCase;

static void
test_ledger (void)
{
  static const LedgerCase cases[] = {
    /* The pages hold everything claimed, and more. */
    { "plain", TRUE, 24117248, 22957568, 40123456, 21111111, 30 * MIB, 40 * MIB,
      { 70 * MIB, 22957568 + 21111111, 24117248 - 22957568,
        70 * MIB - (22957568 + 21111111) - (24117248 - 22957568) } },
    /* Without pymalloc figures the census's small objects stand in. */
    { "no-pymalloc", FALSE, 0, 0, 40123456, 21111111, 0, 100 * MIB,
      { 100 * MIB, 40123456 + 21111111, 0, 100 * MIB - 40123456 - 21111111 } },
    /* Live objects claim more than the pages: all explained, nothing else. */
    { "clamp-explained", TRUE, 24117248, 22957568, 0, 21111111, 10 * MIB, 10 * MIB,
      { 20 * MIB, 20 * MIB, 0, 0 } },
    /* Free arena space not resident: cut to what is left. */
    { "clamp-free", TRUE, 64 * MIB, 20 * MIB, 0, 5 * MIB, 20 * MIB, 10 * MIB,
      { 30 * MIB, 25 * MIB, 5 * MIB, 0 } },
    /* Allocated over arena bytes (a racy read) is no negative free space. */
    { "allocated-over-arena", TRUE, 10 * MIB, 12 * MIB, 0, 0, 20 * MIB, 0,
      { 20 * MIB, 12 * MIB, 0, 8 * MIB } },
    /* No detail pass yet: no pages, nothing explained. */
    { "no-pages", TRUE, 24117248, 22957568, 40123456, 21111111, 0, 0, { 0, 0, 0, 0 } },
    /* Nothing overflows. */
    { "huge", TRUE, G_MAXINT64, 0, 0, G_MAXINT64, G_MAXUINT64, G_MAXUINT64,
      { G_MAXUINT64, G_MAXINT64, G_MAXINT64, 1 } },
    { "huge-live", TRUE, G_MAXINT64, G_MAXINT64, 0, G_MAXINT64, G_MAXINT64, G_MAXINT64,
      { G_MAXUINT64 - 1, G_MAXUINT64 - 1, 0, 0 } },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const LedgerCase *c = &cases[i];
      PymemdHeapSummary summary = { 0 };
      guint64 pages[PYMEMD_N_CATEGORIES] = { 0 };
      PymemdHeapLedger ledger;

      summary.has_pymalloc = c->has_pymalloc;
      summary.pymalloc_arena_bytes = c->arena;
      summary.pymalloc_allocated_bytes = c->allocated;
      summary.census_small_bytes = c->small;
      summary.census_large_bytes = c->large;
      pages[PYMEMD_CATEGORY_PYMALLOC] = c->pymalloc_pages;
      pages[PYMEMD_CATEGORY_NATIVE_HEAP] = c->native_pages;
      /* Other categories are not heap. */
      pages[PYMEMD_CATEGORY_STACK] = 7 * MIB;
      pages[PYMEMD_CATEGORY_SHMEM] = 9 * MIB;
      pymemd_heap_ledger_compute (&summary, pages, &ledger);
      g_test_message ("%s", c->name);
      g_assert_cmpuint (ledger.heap_private_dirty, ==, c->expected.heap_private_dirty);
      g_assert_cmpuint (ledger.explained, ==, c->expected.explained);
      g_assert_cmpuint (ledger.pymalloc_free, ==, c->expected.pymalloc_free);
      g_assert_cmpuint (ledger.unexplained, ==, c->expected.unexplained);
      g_assert_cmpuint (ledger.explained + ledger.pymalloc_free + ledger.unexplained, ==,
                        ledger.heap_private_dirty);
    }
}

/* The census members of the allocation ledger: read when there, 0 and not
 * walked from a helper that did not send them. */
static void
test_newer_members (void)
{
  g_autoptr(JsonNode) root = load_fixture ();
  g_autoptr(JsonNode) old = load_fixture ();
  g_autoptr(PymemdHeapSummary) summary = NULL;
  g_autoptr(PymemdHeapSummary) old_summary = NULL;
  g_autoptr(GVariant) dict = NULL, old_dict = NULL, census = NULL, old_census = NULL;
  guint64 value = 0;
  gboolean walked = FALSE;

  set_path (root, "census.padding_bytes", "4096");
  set_path (root, "census.tracked_objects", "700");
  set_path (root, "census.untracked_objects", "300");
  set_path (root, "census.walked", "true");
  summary = summary_ok (root);
  g_assert_cmpuint (summary->census_padding_bytes, ==, 4096);
  g_assert_true (summary->census_walked);
  dict = g_variant_ref_sink (pymemd_heap_summary_to_variant (summary, NULL));
  census = g_variant_lookup_value (dict, "census", G_VARIANT_TYPE_VARDICT);
  g_assert_true (g_variant_lookup (census, "padding_bytes", "t", &value));
  g_assert_cmpuint (value, ==, 4096);
  g_assert_true (g_variant_lookup (census, "untracked_objects", "t", &value));
  g_assert_cmpuint (value, ==, 300);
  g_assert_true (g_variant_lookup (census, "walked", "b", &walked));
  g_assert_true (walked);

  set_path (old, "census.padding_bytes", NULL);
  set_path (old, "census.walked", NULL);
  old_summary = summary_ok (old);
  g_assert_cmpuint (old_summary->census_padding_bytes, ==, 0);
  g_assert_false (old_summary->census_walked);
  old_dict = g_variant_ref_sink (pymemd_heap_summary_to_variant (old_summary, NULL));
  old_census = g_variant_lookup_value (old_dict, "census", G_VARIANT_TYPE_VARDICT);
  g_assert_false (g_variant_lookup (old_census, "padding_bytes", "t", NULL));
  g_assert_false (g_variant_lookup (old_census, "walked", "b", NULL));
}

/* What explained is made of: each allocation once. pymalloc's allocated
 * blocks hold every small allocation, the census's small objects among
 * them: those are not added again (the lists of lists the issue found
 * counted twice); only the census's large allocations are. */
static void
test_ledger_parts (void)
{
  PymemdHeapSummary summary = { 0 };
  guint64 pages[PYMEMD_N_CATEGORIES] = { 0 };
  PymemdHeapLedger ledger;

  /* 200 000 lists of 60: headers and item arrays all pymalloc's blocks. */
  summary.has_pymalloc = TRUE;
  summary.pymalloc_arena_bytes = 115 * MIB;
  summary.pymalloc_allocated_bytes = 106 * MIB;
  summary.census_small_bytes = 104 * MIB;
  summary.census_padding_bytes = 1 * MIB;
  summary.census_large_bytes = 2 * MIB;
  pages[PYMEMD_CATEGORY_PYMALLOC] = 115 * MIB;
  pages[PYMEMD_CATEGORY_NATIVE_HEAP] = 10 * MIB;
  pymemd_heap_ledger_compute (&summary, pages, &ledger);
  g_assert_cmpuint (ledger.small_allocations, ==, 106 * MIB);
  g_assert_cmpuint (ledger.large_allocations, ==, 2 * MIB);
  g_assert_cmpuint (ledger.padding, ==, 1 * MIB);
  g_assert_cmpuint (ledger.explained, ==, 108 * MIB);
  g_assert_cmpuint (ledger.pymalloc_free, ==, 9 * MIB);
  g_assert_cmpuint (ledger.unexplained, ==, 8 * MIB);

  /* Without pymalloc's figures: the census's small objects as blocks. */
  summary.has_pymalloc = FALSE;
  pymemd_heap_ledger_compute (&summary, pages, &ledger);
  g_assert_cmpuint (ledger.small_allocations, ==, 105 * MIB);
  g_assert_cmpuint (ledger.explained, ==, 107 * MIB);
  g_assert_cmpuint (ledger.pymalloc_free, ==, 0);
  g_assert_cmpuint (ledger.unexplained, ==, 18 * MIB);

  /* Padding is part of the small allocations, never more than them. */
  summary.has_pymalloc = TRUE;
  summary.pymalloc_allocated_bytes = 1000;
  summary.census_padding_bytes = 5000;
  pymemd_heap_ledger_compute (&summary, pages, &ledger);
  g_assert_cmpuint (ledger.padding, ==, 1000);
}

/* ---------------------------------------------------------------- a{sv} */

static void
assert_has (GVariant *dict, const char *key, const char *type)
{
  g_autoptr(GVariant) value = g_variant_lookup_value (dict, key, NULL);

  if (value == NULL)
    g_error ("no “%s” in %s", key, g_variant_print (dict, TRUE));
  if (!g_variant_is_of_type (value, G_VARIANT_TYPE (type)))
    g_error ("“%s” is %s, not %s", key, g_variant_get_type_string (value), type);
}

static void
assert_counts (GVariant *dict, const char *key, guint n, const guint64 *expected)
{
  g_autoptr(GVariant) value = g_variant_lookup_value (dict, key, G_VARIANT_TYPE ("at"));
  const guint64 *counts;
  gsize len;

  g_assert_nonnull (value);
  counts = g_variant_get_fixed_array (value, &len, sizeof (guint64));
  g_assert_cmpuint (len, ==, n);
  for (guint i = 0; i < n; i++)
    g_assert_cmpuint (counts[i], ==, expected[i]);
}

static void
test_variant (void)
{
  static const guint64 count[] = { 412, 3, 1 }, threshold[] = { 700, 10, 10 };
  static const guint64 collections[] = { 120, 10, 1 }, collected[] = { 3400, 220, 17 };
  static const guint64 uncollectable[] = { 0, 0, 2 };
  g_autoptr(JsonNode) root = load_fixture ();
  g_autoptr(PymemdHeapSummary) summary = summary_ok (root);
  PymemdHeapLedger ledger = { 100, 60, 10, 30, 50, 10, 4 };
  g_autoptr(GVariant) dict = g_variant_ref_sink (pymemd_heap_summary_to_variant (summary, &ledger));
  g_autoptr(GVariant) gc = NULL, census = NULL, pymalloc = NULL, tracemalloc = NULL, led = NULL;
  g_autoptr(GVariant) types = NULL, sites = NULL;
  const char *text, *name, *file;
  gint64 taken_at, last;
  double seconds;
  guint32 small, line;
  guint64 value, c, b;
  gboolean flag;

  g_assert_true (g_variant_is_of_type (dict, G_VARIANT_TYPE_VARDICT));
  g_assert_true (g_variant_is_normal_form (dict));
  g_assert_true (g_variant_lookup (dict, "python", "&s", &text));
  g_assert_cmpstr (text, ==, "3.11.2");
  g_assert_true (g_variant_lookup (dict, "implementation", "&s", &text));
  g_assert_cmpstr (text, ==, "cpython");
  g_assert_true (g_variant_lookup (dict, "taken_at", "x", &taken_at));
  g_assert_cmpint (taken_at, ==, G_GINT64_CONSTANT (1764100000250000));
  g_assert_true (g_variant_lookup (dict, "duration", "d", &seconds));
  g_assert_cmpfloat_with_epsilon (seconds, 0.183, 1e-12);
  g_assert_true (g_variant_lookup (dict, "gil_max_hold", "d", &seconds));
  g_assert_cmpfloat_with_epsilon (seconds, 0.011, 1e-12);
  g_assert_true (g_variant_lookup (dict, "complete", "b", &flag));
  g_assert_true (flag);
  g_assert_true (g_variant_lookup (dict, "threads", "u", &small));
  g_assert_cmpuint (small, ==, 3);
  g_assert_true (g_variant_lookup (dict, "modules", "u", &small));
  g_assert_cmpuint (small, ==, 412);
  g_assert_true (g_variant_lookup (dict, "allocated_blocks", "t", &value));
  g_assert_cmpuint (value, ==, 310422);
  g_assert_false (g_variant_lookup (dict, "collect", "@a{sv}", NULL)); /* null */

  gc = g_variant_lookup_value (dict, "gc", G_VARIANT_TYPE_VARDICT);
  g_assert_nonnull (gc);
  g_assert_true (g_variant_lookup (gc, "enabled", "b", &flag));
  g_assert_true (flag);
  assert_counts (gc, "count", 3, count);
  assert_counts (gc, "threshold", 3, threshold);
  assert_counts (gc, "collections", 3, collections);
  assert_counts (gc, "collected", 3, collected);
  assert_counts (gc, "uncollectable", 3, uncollectable);
  assert_has (gc, "garbage", "t");
  assert_has (gc, "frozen", "t");
  g_assert_true (g_variant_lookup (gc, "last_full_collection", "x", &last));
  g_assert_cmpint (last, ==, G_GINT64_CONSTANT (1764096400000000));

  census = g_variant_lookup_value (dict, "census", G_VARIANT_TYPE_VARDICT);
  g_assert_nonnull (census);
  g_assert_true (g_variant_lookup (census, "objects", "t", &value));
  g_assert_cmpuint (value, ==, 812345);
  assert_has (census, "bytes", "t");
  assert_has (census, "small_bytes", "t");
  assert_has (census, "large_bytes", "t");
  g_assert_true (g_variant_lookup (census, "other_count", "t", &value));
  g_assert_cmpuint (value, ==, 341014);
  g_assert_true (g_variant_lookup (census, "other_bytes", "t", &value));
  g_assert_cmpuint (value, ==, 18107927);
  types = g_variant_lookup_value (census, "types", G_VARIANT_TYPE ("a(stt)"));
  g_assert_nonnull (types);
  g_assert_cmpuint (g_variant_n_children (types), ==, 5);
  g_variant_get_child (types, 0, "(&stt)", &name, &c, &b);
  g_assert_cmpstr (name, ==, "builtins.dict");
  g_assert_cmpuint (c, ==, 310000);
  g_assert_cmpuint (b, ==, 29760000);

  pymalloc = g_variant_lookup_value (dict, "pymalloc", G_VARIANT_TYPE_VARDICT);
  g_assert_nonnull (pymalloc);
  for (const char *const *key = (const char *const[]) { "arenas", "arena_bytes", "allocated_bytes",
                                                        "available_bytes", "free_pool_bytes",
                                                        "overhead_bytes", NULL };
       *key != NULL; key++)
    assert_has (pymalloc, *key, "t");
  g_assert_true (g_variant_lookup (pymalloc, "overhead_bytes", "t", &value));
  g_assert_cmpuint (value, ==, 1042640);

  tracemalloc = g_variant_lookup_value (dict, "tracemalloc", G_VARIANT_TYPE_VARDICT);
  g_assert_nonnull (tracemalloc);
  g_assert_true (g_variant_lookup (tracemalloc, "tracing", "b", &flag));
  g_assert_true (flag);
  g_assert_true (g_variant_lookup (tracemalloc, "frames", "u", &small));
  g_assert_cmpuint (small, ==, 1);
  assert_has (tracemalloc, "traced_bytes", "t");
  assert_has (tracemalloc, "peak_bytes", "t");
  assert_has (tracemalloc, "overhead_bytes", "t");
  sites = g_variant_lookup_value (tracemalloc, "sites", G_VARIANT_TYPE ("a(sutt)"));
  g_assert_nonnull (sites);
  g_assert_cmpuint (g_variant_n_children (sites), ==, 2);
  g_variant_get_child (sites, 1, "(&sutt)", &file, &line, &c, &b);
  g_assert_cmpstr (file, ==, "<frozen importlib._bootstrap_external>");
  g_assert_cmpuint (line, ==, 729);
  g_assert_cmpuint (c, ==, 900);
  g_assert_cmpuint (b, ==, 120000);

  led = g_variant_lookup_value (dict, "ledger", G_VARIANT_TYPE_VARDICT);
  g_assert_nonnull (led);
  g_assert_true (g_variant_lookup (led, "heap_private_dirty", "t", &value));
  g_assert_cmpuint (value, ==, 100);
  g_assert_true (g_variant_lookup (led, "explained", "t", &value));
  g_assert_cmpuint (value, ==, 60);
  g_assert_true (g_variant_lookup (led, "pymalloc_free", "t", &value));
  g_assert_cmpuint (value, ==, 10);
  g_assert_true (g_variant_lookup (led, "unexplained", "t", &value));
  g_assert_cmpuint (value, ==, 30);
  g_assert_true (g_variant_lookup (led, "small_allocations", "t", &value));
  g_assert_cmpuint (value, ==, 50);
  g_assert_true (g_variant_lookup (led, "large_allocations", "t", &value));
  g_assert_cmpuint (value, ==, 10);
  g_assert_true (g_variant_lookup (led, "padding", "t", &value));
  g_assert_cmpuint (value, ==, 4);
}

/* Nulls are absent members; a collect is served when there was one. */
static void
test_variant_nulls (void)
{
  g_autoptr(JsonNode) root = load_fixture ();
  g_autoptr(PymemdHeapSummary) summary = NULL;
  g_autoptr(GVariant) dict = NULL, gc = NULL, collect = NULL;
  guint64 value;
  double seconds;

  set_path (root, "pymalloc", "null");
  set_path (root, "tracemalloc", NULL);
  set_path (root, "gc.last_full_collection", "null");
  set_path (root, "collect", "{\"freed\": 31000, \"duration\": 0.09, \"garbage\": 2}");
  summary = summary_ok (root);
  g_assert_false (summary->has_pymalloc);
  dict = g_variant_ref_sink (pymemd_heap_summary_to_variant (summary, NULL));
  g_assert_false (g_variant_lookup (dict, "pymalloc", "@a{sv}", NULL));
  g_assert_false (g_variant_lookup (dict, "tracemalloc", "@a{sv}", NULL));
  g_assert_false (g_variant_lookup (dict, "ledger", "@a{sv}", NULL));
  gc = g_variant_lookup_value (dict, "gc", G_VARIANT_TYPE_VARDICT);
  g_assert_false (g_variant_lookup (gc, "last_full_collection", "x", NULL));
  collect = g_variant_lookup_value (dict, "collect", G_VARIANT_TYPE_VARDICT);
  g_assert_nonnull (collect);
  g_assert_true (g_variant_lookup (collect, "freed", "t", &value));
  g_assert_cmpuint (value, ==, 31000);
  g_assert_true (g_variant_lookup (collect, "duration", "d", &seconds));
  g_assert_cmpfloat_with_epsilon (seconds, 0.09, 1e-12);
  g_assert_true (g_variant_lookup (collect, "garbage", "t", &value));
  g_assert_cmpuint (value, ==, 2);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/heap-summary/valid", test_valid);
  g_test_add_func ("/heap-summary/valid-edges", test_valid_edges);
  g_test_add_func ("/heap-summary/invalid", test_invalid);
  g_test_add_func ("/heap-summary/not-an-object", test_not_an_object);
  g_test_add_func ("/heap-summary/depth", test_depth);
  g_test_add_func ("/heap-summary/depth/hidden", test_depth_hidden);
  g_test_add_func ("/heap-summary/random-mutations", test_random_mutations);
  g_test_add_func ("/heap-summary/text-round-trip", test_text_round_trip);
  g_test_add_func ("/heap-summary/printable-numbers", test_printable_numbers);
  g_test_add_func ("/heap-summary/ledger", test_ledger);
  g_test_add_func ("/heap-summary/ledger-parts", test_ledger_parts);
  g_test_add_func ("/heap-summary/newer-members", test_newer_members);
  g_test_add_func ("/heap-summary/variant", test_variant);
  g_test_add_func ("/heap-summary/variant-nulls", test_variant_nulls);

  return g_test_run ();
}
