/* Checks a helper's heap summary member by member into a sanitized copy, and sets it against the process's heap pages. */
#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gi18n.h>

#include "pymemd-error.h"
#include "pymemd-heap-summary.h"

/* A stored summary is the text of a sanitized document, which is smaller
 * than the frame it came in (1 MiB) save for the spelling of numbers. */
#define MAX_TEXT (4 * 1024 * 1024)

/* Times are seconds since 1970; past this (year 5138) they are nonsense,
 * and their microseconds would not fit a gint64 much further on. */
#define MAX_TIME G_GINT64_CONSTANT (100000000000)

/* Spans of time in seconds: the daemon waits at most the census budget
 * plus 30 s (90 s) for a summary, so an hour is more than any it accepts
 * can have taken. */
#define MAX_SECONDS G_GINT64_CONSTANT (3600)

/* Counts and sizes: more bytes than any machine's memory, more objects or
 * collections than any process makes; and every count up to it is exact
 * wherever JSON numbers are doubles. */
#define MAX_COUNT (G_GINT64_CONSTANT (1) << 53)

typedef enum {
  FIELD_INT,
  FIELD_FLOAT,
  FIELD_BOOL,
  FIELD_STRING,
  FIELD_OBJECT,
  FIELD_LIST,
} FieldKind;

/* One member of the protocol's summary: what it may hold. */
typedef struct Field Field;
struct Field {
  const char  *name;
  FieldKind    kind;
  gboolean     nullable; /* null, or absent, is allowed (and kept as null) */
  gint64       max;      /* INT, FLOAT: largest value; STRING: most
                            characters; LIST: most entries */
  gint64       min;      /* LIST: fewest entries */
  const Field *fields;   /* OBJECT: its members up to a nameless one; LIST: the entry */
};

#define COUNT(n)          { .name = (n), .kind = FIELD_INT, .max = MAX_COUNT }
#define BOUNDED(n, m)     { .name = (n), .kind = FIELD_INT, .max = (m) }
#define SECONDS(n)        { .name = (n), .kind = FIELD_FLOAT, .max = MAX_SECONDS }
#define TIME(n, null)     { .name = (n), .kind = FIELD_FLOAT, .nullable = (null), .max = MAX_TIME }
#define FLAG(n)           { .name = (n), .kind = FIELD_BOOL }
/* Members a helper before the allocation ledger did not send (and history
 * may keep summaries of): null when absent. */
#define NEWER_COUNT(n)    { .name = (n), .kind = FIELD_INT, .nullable = TRUE, .max = MAX_COUNT }
#define NEWER_FLAG(n)     { .name = (n), .kind = FIELD_BOOL, .nullable = TRUE }
#define TEXT(n, m)        { .name = (n), .kind = FIELD_STRING, .max = (m) }
#define OBJECT(n, null, f) { .name = (n), .kind = FIELD_OBJECT, .nullable = (null), .fields = (f) }
#define LIST(n, lo, hi, e) { .name = (n), .kind = FIELD_LIST, .min = (lo), .max = (hi), .fields = (e) }
#define END               { .name = NULL }

static const Field count_entry = COUNT (NULL);

static const Field generation_fields[] = {
  COUNT ("collections"), COUNT ("collected"), COUNT ("uncollectable"), END,
};
static const Field generation_entry = OBJECT (NULL, FALSE, generation_fields);

static const Field gc_fields[] = {
  FLAG ("enabled"),
  LIST ("count", 3, 3, &count_entry),
  LIST ("threshold", 3, 3, &count_entry),
  LIST ("generations", 1, 4, &generation_entry),
  COUNT ("garbage"),
  COUNT ("frozen"),
  TIME ("last_full_collection", TRUE),
  END,
};

static const Field type_fields[] = {
  TEXT ("type", 256), COUNT ("count"), COUNT ("bytes"), END,
};
static const Field type_entry = OBJECT (NULL, FALSE, type_fields);

static const Field other_fields[] = {
  COUNT ("count"), COUNT ("bytes"), END,
};

static const Field census_fields[] = {
  COUNT ("objects"),
  COUNT ("bytes"),
  COUNT ("small_bytes"),
  COUNT ("large_bytes"),
  NEWER_COUNT ("padding_bytes"),
  NEWER_COUNT ("tracked_objects"),
  NEWER_COUNT ("untracked_objects"),
  NEWER_FLAG ("walked"),
  LIST ("types", 0, PYMEMD_HEAP_SUMMARY_MAX_TYPES, &type_entry),
  OBJECT ("other", FALSE, other_fields),
  END,
};

static const Field pymalloc_fields[] = {
  COUNT ("arenas"),
  COUNT ("arena_bytes"),
  COUNT ("allocated_bytes"),
  COUNT ("available_bytes"),
  COUNT ("free_pool_bytes"),
  COUNT ("overhead_bytes"),
  END,
};

/* frames and line are served as D-Bus u. */
static const Field site_fields[] = {
  TEXT ("file", 4096), BOUNDED ("line", G_MAXUINT32), COUNT ("count"), COUNT ("bytes"), END,
};
static const Field site_entry = OBJECT (NULL, FALSE, site_fields);

static const Field tracemalloc_fields[] = {
  FLAG ("tracing"),
  BOUNDED ("frames", G_MAXUINT32),
  COUNT ("traced_bytes"),
  COUNT ("peak_bytes"),
  COUNT ("overhead_bytes"),
  LIST ("sites", 0, PYMEMD_HEAP_SUMMARY_MAX_SITES, &site_entry),
  END,
};

static const Field collect_fields[] = {
  COUNT ("freed"), SECONDS ("duration"), COUNT ("garbage"), END,
};

static const Field summary_fields[] = {
  TEXT ("python", 64),
  TEXT ("implementation", 32),
  TIME ("taken_at", FALSE),
  SECONDS ("duration"),
  SECONDS ("gil_max_hold"),
  FLAG ("complete"),
  BOUNDED ("threads", 1000000),
  BOUNDED ("modules", 10000000),
  COUNT ("allocated_blocks"),
  OBJECT ("gc", FALSE, gc_fields),
  OBJECT ("census", FALSE, census_fields),
  OBJECT ("pymalloc", TRUE, pymalloc_fields),
  OBJECT ("tracemalloc", TRUE, tracemalloc_fields),
  OBJECT ("collect", TRUE, collect_fields),
  END,
};

static const Field summary_root = OBJECT ("summary", FALSE, summary_fields);

static gboolean
bad_member (GError **error, GString *path, const char *why)
{
  g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PROTOCOL, _("Heap summary member “%s” %s"),
               path->str, why);
  return FALSE;
}

static gboolean
is_value_of (JsonNode *node, GType type)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == type;
}

gboolean
pymemd_heap_text_ok (const char *text, glong max_chars)
{
  glong n = 0;

  /* The parser has checked UTF-8; an escaped NUL ends the string. */
  if (!g_utf8_validate (text, -1, NULL))
    return FALSE;
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p), n++)
    if (n == max_chars || g_unichar_iscntrl (g_utf8_get_char (p)))
      return FALSE;
  return TRUE;
}

/* Rounded; SECONDS is ≥ 0 and at most MAX_TIME. */
static gint64
seconds_to_us (double seconds)
{
  return (gint64) (seconds * G_USEC_PER_SEC + 0.5);
}

/* SECONDS (≥ 0, at most MAX_TIME) to the microsecond, -0 as 0. Past the
 * microsecond a helper's clock says nothing, and json-glib (1.6) writes a
 * double as printf's %.17g plus ".0" when that has no point: 1e-08 would be
 * stored as "1e-08.0", which is no JSON. Every multiple of a microsecond
 * up to MAX_TIME has a point or no exponent there (tests/test-heap-summary.c
 * checks the ones below 100 µs, the only ones written with an exponent). */
static double
seconds_to_microsecond (double seconds)
{
  return (double) seconds_to_us (seconds) / G_USEC_PER_SEC;
}

static JsonNode *sanitize (const Field *field, JsonNode *node, GString *path, GError **error);

static JsonNode *
sanitize_object (const Field *field, JsonNode *node, GString *path, GError **error)
{
  g_autoptr(JsonObject) copy = json_object_new ();
  JsonObject *object;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      bad_member (error, path, _("must be an object"));
      return NULL;
    }
  object = json_node_get_object (node);
  for (const Field *member = field->fields; member->name != NULL; member++)
    {
      gsize len = path->len;
      JsonNode *value = json_object_get_member (object, member->name);
      JsonNode *clean;

      g_string_append_printf (path, ".%s", member->name);
      if (value == NULL && !member->nullable)
        {
          bad_member (error, path, _("is missing"));
          return NULL;
        }
      if (value == NULL || (member->nullable && JSON_NODE_HOLDS_NULL (value)))
        clean = json_node_new (JSON_NODE_NULL);
      else if ((clean = sanitize (member, value, path, error)) == NULL)
        return NULL;
      json_object_set_member (copy, member->name, clean);
      g_string_truncate (path, len);
    }
  return json_node_init_object (json_node_alloc (), copy);
}

static JsonNode *
sanitize_list (const Field *field, JsonNode *node, GString *path, GError **error)
{
  g_autoptr(JsonArray) copy = NULL;
  JsonArray *array;
  guint n;

  if (!JSON_NODE_HOLDS_ARRAY (node))
    {
      bad_member (error, path, _("must be a list"));
      return NULL;
    }
  array = json_node_get_array (node);
  n = json_array_get_length (array);
  if (n < field->min || n > field->max)
    {
      g_autofree char *why = g_strdup_printf (_("must have %d to %d entries, not %u"),
                                              (int) field->min, (int) field->max, n);
      bad_member (error, path, why);
      return NULL;
    }
  copy = json_array_sized_new (n);
  for (guint i = 0; i < n; i++)
    {
      gsize len = path->len;
      JsonNode *clean;

      g_string_append_printf (path, "[%u]", i);
      clean = sanitize (field->fields, json_array_get_element (array, i), path, error);
      if (clean == NULL)
        return NULL;
      json_array_add_element (copy, clean);
      g_string_truncate (path, len);
    }
  return json_node_init_array (json_node_alloc (), copy);
}

static JsonNode *
sanitize (const Field *field, JsonNode *node, GString *path, GError **error)
{
  switch (field->kind)
    {
    case FIELD_INT:
      if (!is_value_of (node, G_TYPE_INT64) || json_node_get_int (node) < 0 ||
          json_node_get_int (node) > field->max)
        {
          g_autofree char *max = g_strdup_printf ("%" G_GINT64_FORMAT, field->max);
          g_autofree char *why = g_strdup_printf (_("must be an integer from 0 to %s"), max);
          bad_member (error, path, why);
          return NULL;
        }
      return json_node_init_int (json_node_alloc (), json_node_get_int (node));

    case FIELD_FLOAT:
      {
        double value;

        /* A whole number is a number: "5" is as good as "5.0". */
        if (is_value_of (node, G_TYPE_INT64))
          value = (double) json_node_get_int (node);
        else if (is_value_of (node, G_TYPE_DOUBLE))
          value = json_node_get_double (node);
        else
          value = -1;
        if (!isfinite (value) || value < 0 || value > (double) field->max)
          {
            g_autofree char *max = g_strdup_printf ("%" G_GINT64_FORMAT, field->max);
            g_autofree char *why = g_strdup_printf (_("must be a number from 0 to %s"), max);
            bad_member (error, path, why);
            return NULL;
          }
        return json_node_init_double (json_node_alloc (), seconds_to_microsecond (value));
      }

    case FIELD_BOOL:
      if (!is_value_of (node, G_TYPE_BOOLEAN))
        {
          bad_member (error, path, _("must be true or false"));
          return NULL;
        }
      return json_node_init_boolean (json_node_alloc (), json_node_get_boolean (node));

    case FIELD_STRING:
      {
        const char *text = is_value_of (node, G_TYPE_STRING) ? json_node_get_string (node) : NULL;

        if (text == NULL || !pymemd_heap_text_ok (text, field->max))
          {
            g_autofree char *why = g_strdup_printf (_("must be a string of at most %d characters, "
                                                      "none of them a control character"),
                                                    (int) field->max);
            bad_member (error, path, why);
            return NULL;
          }
        return json_node_init_string (json_node_alloc (), text);
      }

    case FIELD_OBJECT:
      return sanitize_object (field, node, path, error);

    case FIELD_LIST:
      return sanitize_list (field, node, path, error);

    default:
      g_assert_not_reached ();
    }
}

static JsonObject *
member_object (JsonObject *object, const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

/* The members of a sanitized document are there and of their type. */
static guint64
member_count (JsonObject *object, const char *name)
{
  return (guint64) json_object_get_int_member (object, name);
}

/* A NEWER_COUNT member: 0 when null. */
static guint64
newer_count (JsonObject *object, const char *name)
{
  return json_object_get_null_member (object, name) ? 0 : member_count (object, name);
}

PymemdHeapSummary *
pymemd_heap_summary_new_from_json (JsonNode *object, GError **error)
{
  g_autoptr(PymemdHeapSummary) summary = g_new0 (PymemdHeapSummary, 1);
  g_autoptr(GString) path = g_string_new ("summary");
  JsonObject *root, *census, *pymalloc;

  summary->document = sanitize (&summary_root, object, path, error);
  if (summary->document == NULL)
    return NULL;

  root = json_node_get_object (summary->document);
  summary->taken_at_us = seconds_to_us (json_object_get_double_member (root, "taken_at"));
  census = member_object (root, "census");
  summary->census_objects = member_count (census, "objects");
  summary->census_bytes = member_count (census, "bytes");
  summary->census_small_bytes = member_count (census, "small_bytes");
  summary->census_large_bytes = member_count (census, "large_bytes");
  summary->census_padding_bytes = newer_count (census, "padding_bytes");
  summary->census_walked = !json_object_get_null_member (census, "walked") &&
                           json_object_get_boolean_member (census, "walked");
  pymalloc = member_object (root, "pymalloc");
  summary->has_pymalloc = pymalloc != NULL;
  if (pymalloc != NULL)
    {
      summary->pymalloc_arena_bytes = member_count (pymalloc, "arena_bytes");
      summary->pymalloc_allocated_bytes = member_count (pymalloc, "allocated_bytes");
    }
  return g_steal_pointer (&summary);
}

gboolean
pymemd_heap_json_depth_ok (const char *text, gsize len)
{
  gboolean in_string = FALSE, escaped = FALSE;
  guint depth = 0;

  for (gsize i = 0; i < len; i++)
    {
      char c = text[i];

      if (in_string)
        {
          if (escaped)
            escaped = FALSE;
          else if (c == '\\')
            escaped = TRUE;
          else if (c == '"')
            in_string = FALSE;
        }
      else if (c == '"')
        in_string = TRUE;
      else if (c == '[' || c == '{')
        {
          if (++depth > PYMEMD_HEAP_JSON_MAX_DEPTH)
            return FALSE;
        }
      else if (c == ']' || c == '}')
        {
          if (depth > 0)
            depth--;
        }
      /* json-glib also reads 'strings' and comments, in which a '"'
       * would hide the nesting that follows from the count above: only
       * what strict JSON has outside its strings may be there. */
      else if (c == '\0' || (!g_ascii_isalnum (c) && strchr (" \t\n\r,:.+-", c) == NULL))
        return FALSE;
    }
  return TRUE;
}

PymemdHeapSummary *
pymemd_heap_summary_new_from_text (const char *text, GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GError) local_error = NULL;
  gsize len = strlen (text);

  if (len > MAX_TEXT || !pymemd_heap_json_depth_ok (text, len))
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PROTOCOL,
                   _("Heap summary text is too long or too deeply nested"));
      return NULL;
    }
  if (!json_parser_load_from_data (parser, text, (gssize) len, &local_error))
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PROTOCOL, _("Heap summary text is not JSON: %s"),
                   local_error->message);
      return NULL;
    }
  return pymemd_heap_summary_new_from_json (json_parser_get_root (parser), error);
}

void
pymemd_heap_summary_free (PymemdHeapSummary *summary)
{
  if (summary == NULL)
    return;
  g_clear_pointer (&summary->document, json_node_unref);
  g_free (summary);
}

typedef struct {
  PymemdHeapSummary *summary;
  gboolean           has_ledger;
  PymemdHeapLedger   ledger;
} Kept;

static void
kept_free (gpointer data)
{
  Kept *kept = data;

  pymemd_heap_summary_free (kept->summary);
  g_free (kept);
}

static GQuark
kept_quark (void)
{
  return g_quark_from_static_string ("pymemd-heap-summary-kept");
}

void
pymemd_heap_summary_keep (PymemdProcess *process, PymemdHeapSummary *summary, const PymemdHeapLedger *ledger)
{
  Kept *kept = g_new0 (Kept, 1);

  g_return_if_fail (PYMEMD_IS_PROCESS (process));
  kept->summary = summary;
  kept->has_ledger = ledger != NULL;
  if (ledger != NULL)
    kept->ledger = *ledger;
  /* On the process the scanner keeps from scan to scan, not on one scan's
   * snapshot of it. */
  g_object_set_qdata_full (G_OBJECT (pymemd_process_get_origin (process)), kept_quark (), kept, kept_free);
}

const PymemdHeapSummary *
pymemd_heap_summary_kept (PymemdProcess *process, const PymemdHeapLedger **ledger)
{
  Kept *kept = g_object_get_qdata (G_OBJECT (pymemd_process_get_origin (process)), kept_quark ());

  *ledger = kept != NULL && kept->has_ledger ? &kept->ledger : NULL;
  return kept != NULL ? kept->summary : NULL;
}

char *
pymemd_heap_summary_to_text (const PymemdHeapSummary *summary)
{
  return json_to_string (summary->document, FALSE);
}

#define LEDGER_MEMBER(name) { #name, G_STRUCT_OFFSET (PymemdHeapLedger, name) }
const PymemdHeapLedgerMember pymemd_heap_ledger_members[PYMEMD_HEAP_LEDGER_N_MEMBERS] = {
  LEDGER_MEMBER (heap_private_dirty),
  LEDGER_MEMBER (explained),
  LEDGER_MEMBER (pymalloc_free),
  LEDGER_MEMBER (unexplained),
  LEDGER_MEMBER (small_allocations),
  LEDGER_MEMBER (large_allocations),
  LEDGER_MEMBER (padding),
};
G_STATIC_ASSERT (sizeof (PymemdHeapLedger) == PYMEMD_HEAP_LEDGER_N_MEMBERS * sizeof (guint64));

static guint64
saturating_add (guint64 a, guint64 b)
{
  return a > G_MAXUINT64 - b ? G_MAXUINT64 : a + b;
}

/* The ledger divides the heap pages, so its three parts always add up to
 * heap_private_dirty. Live allocations are counted once each: the small
 * ones from pymalloc's own figure (its allocated blocks hold every small
 * object, tracked by the collector or not, and every small buffer), the
 * large ones (malloc's) from the census, which gives each to the object
 * that owns it. A summary may claim more than the pages hold: arena pages
 * never touched or swapped out are no private dirty memory, and the detail
 * pass may be older than the summary (or not have run: all zero). The
 * claims then fill the pages in order of certainty: live allocations
 * first, then pymalloc's free space, which is the likeliest not to be
 * resident; the ledger keeps the claims as small_allocations and
 * large_allocations. */
void
pymemd_heap_ledger_compute (const PymemdHeapSummary *summary,
                            const guint64           *category_private_dirty,
                            PymemdHeapLedger        *ledger)
{
  guint64 free_space;

  /* Without pymalloc's figures (tracemalloc wraps the allocator), the
   * census's small objects stand for them, rounded as pymalloc would. */
  ledger->small_allocations = summary->has_pymalloc
                                ? summary->pymalloc_allocated_bytes
                                : saturating_add (summary->census_small_bytes, summary->census_padding_bytes);
  ledger->large_allocations = summary->census_large_bytes;
  ledger->padding = MIN (summary->census_padding_bytes, ledger->small_allocations);
  free_space = 0;
  if (summary->has_pymalloc && summary->pymalloc_arena_bytes > summary->pymalloc_allocated_bytes)
    free_space = summary->pymalloc_arena_bytes - summary->pymalloc_allocated_bytes;

  ledger->heap_private_dirty = saturating_add (category_private_dirty[PYMEMD_CATEGORY_PYMALLOC],
                                               category_private_dirty[PYMEMD_CATEGORY_NATIVE_HEAP]);
  ledger->explained = MIN (saturating_add (ledger->small_allocations, ledger->large_allocations),
                           ledger->heap_private_dirty);
  ledger->pymalloc_free = MIN (free_space, ledger->heap_private_dirty - ledger->explained);
  ledger->unexplained = ledger->heap_private_dirty - ledger->explained - ledger->pymalloc_free;
}

/* ------------------------------------------------------------ to a{sv} */

static void
add_counts (GVariantBuilder *dict, JsonObject *object, const char *const *names)
{
  for (; *names != NULL; names++)
    g_variant_builder_add (dict, "{sv}", *names,
                           g_variant_new_uint64 (member_count (object, *names)));
}

static GVariant *
counts_of_list (JsonArray *array)
{
  GVariantBuilder list;

  g_variant_builder_init (&list, G_VARIANT_TYPE ("at"));
  for (guint i = 0; i < json_array_get_length (array); i++)
    g_variant_builder_add (&list, "t", (guint64) json_array_get_int_element (array, i));
  return g_variant_builder_end (&list);
}

/* gc.generations as three lists: collections, collected, uncollectable. */
static GVariant *
generations_column (JsonArray *generations, const char *name)
{
  GVariantBuilder list;

  g_variant_builder_init (&list, G_VARIANT_TYPE ("at"));
  for (guint i = 0; i < json_array_get_length (generations); i++)
    g_variant_builder_add (&list, "t",
                           member_count (json_array_get_object_element (generations, i), name));
  return g_variant_builder_end (&list);
}

static GVariant *
gc_to_variant (JsonObject *gc)
{
  static const char *const counts[] = { "garbage", "frozen", NULL };
  static const char *const columns[] = { "collections", "collected", "uncollectable", NULL };
  JsonArray *generations = json_object_get_array_member (gc, "generations");
  JsonNode *last = json_object_get_member (gc, "last_full_collection");
  GVariantBuilder dict;

  g_variant_builder_init (&dict, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&dict, "{sv}", "enabled",
                         g_variant_new_boolean (json_object_get_boolean_member (gc, "enabled")));
  g_variant_builder_add (&dict, "{sv}", "count",
                         counts_of_list (json_object_get_array_member (gc, "count")));
  g_variant_builder_add (&dict, "{sv}", "threshold",
                         counts_of_list (json_object_get_array_member (gc, "threshold")));
  for (const char *const *name = columns; *name != NULL; name++)
    g_variant_builder_add (&dict, "{sv}", *name, generations_column (generations, *name));
  add_counts (&dict, gc, counts);
  if (!JSON_NODE_HOLDS_NULL (last))
    g_variant_builder_add (&dict, "{sv}", "last_full_collection",
                           g_variant_new_int64 (seconds_to_us (json_node_get_double (last))));
  return g_variant_builder_end (&dict);
}

/* The census members of the allocation ledger, when the helper sent them. */
static void
add_newer_members (GVariantBuilder *dict, JsonObject *census)
{
  static const char *const counts[] = { "padding_bytes", "tracked_objects", "untracked_objects", NULL };

  for (const char *const *name = counts; *name != NULL; name++)
    if (!json_object_get_null_member (census, *name))
      g_variant_builder_add (dict, "{sv}", *name, g_variant_new_uint64 (member_count (census, *name)));
  if (!json_object_get_null_member (census, "walked"))
    g_variant_builder_add (dict, "{sv}", "walked",
                           g_variant_new_boolean (json_object_get_boolean_member (census, "walked")));
}

static GVariant *
census_to_variant (JsonObject *census)
{
  static const char *const counts[] = { "objects", "bytes", "small_bytes", "large_bytes", NULL };
  JsonArray *types = json_object_get_array_member (census, "types");
  JsonObject *other = member_object (census, "other");
  GVariantBuilder dict, list;

  g_variant_builder_init (&dict, G_VARIANT_TYPE_VARDICT);
  add_counts (&dict, census, counts);
  add_newer_members (&dict, census);
  g_variant_builder_init (&list, G_VARIANT_TYPE ("a(stt)"));
  for (guint i = 0; i < json_array_get_length (types); i++)
    {
      JsonObject *type = json_array_get_object_element (types, i);
      g_variant_builder_add (&list, "(stt)", json_object_get_string_member (type, "type"),
                             member_count (type, "count"), member_count (type, "bytes"));
    }
  g_variant_builder_add (&dict, "{sv}", "types", g_variant_builder_end (&list));
  g_variant_builder_add (&dict, "{sv}", "other_count",
                         g_variant_new_uint64 (member_count (other, "count")));
  g_variant_builder_add (&dict, "{sv}", "other_bytes",
                         g_variant_new_uint64 (member_count (other, "bytes")));
  return g_variant_builder_end (&dict);
}

static GVariant *
pymalloc_to_variant (JsonObject *pymalloc)
{
  static const char *const counts[] = { "arenas", "arena_bytes", "allocated_bytes",
                                        "available_bytes", "free_pool_bytes", "overhead_bytes",
                                        NULL };
  GVariantBuilder dict;

  g_variant_builder_init (&dict, G_VARIANT_TYPE_VARDICT);
  add_counts (&dict, pymalloc, counts);
  return g_variant_builder_end (&dict);
}

static GVariant *
tracemalloc_to_variant (JsonObject *tracemalloc)
{
  static const char *const counts[] = { "traced_bytes", "peak_bytes", "overhead_bytes", NULL };
  JsonArray *sites = json_object_get_array_member (tracemalloc, "sites");
  GVariantBuilder dict, list;

  g_variant_builder_init (&dict, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&dict, "{sv}", "tracing",
                         g_variant_new_boolean (json_object_get_boolean_member (tracemalloc,
                                                                                "tracing")));
  g_variant_builder_add (&dict, "{sv}", "frames",
                         g_variant_new_uint32 ((guint32) member_count (tracemalloc, "frames")));
  add_counts (&dict, tracemalloc, counts);
  g_variant_builder_init (&list, G_VARIANT_TYPE ("a(sutt)"));
  for (guint i = 0; i < json_array_get_length (sites); i++)
    {
      JsonObject *site = json_array_get_object_element (sites, i);
      g_variant_builder_add (&list, "(sutt)", json_object_get_string_member (site, "file"),
                             (guint32) member_count (site, "line"), member_count (site, "count"),
                             member_count (site, "bytes"));
    }
  g_variant_builder_add (&dict, "{sv}", "sites", g_variant_builder_end (&list));
  return g_variant_builder_end (&dict);
}

static GVariant *
collect_to_variant (JsonObject *collect)
{
  GVariantBuilder dict;

  g_variant_builder_init (&dict, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&dict, "{sv}", "freed",
                         g_variant_new_uint64 (member_count (collect, "freed")));
  g_variant_builder_add (&dict, "{sv}", "duration",
                         g_variant_new_double (json_object_get_double_member (collect, "duration")));
  g_variant_builder_add (&dict, "{sv}", "garbage",
                         g_variant_new_uint64 (member_count (collect, "garbage")));
  return g_variant_builder_end (&dict);
}

static GVariant *
ledger_to_variant (const PymemdHeapLedger *ledger)
{
  GVariantBuilder dict;

  g_variant_builder_init (&dict, G_VARIANT_TYPE_VARDICT);
  for (guint i = 0; i < PYMEMD_HEAP_LEDGER_N_MEMBERS; i++)
    g_variant_builder_add (&dict, "{sv}", pymemd_heap_ledger_members[i].name,
                           g_variant_new_uint64 (PYMEMD_HEAP_LEDGER_FIGURE (ledger, &pymemd_heap_ledger_members[i])));
  return g_variant_builder_end (&dict);
}

GVariant *
pymemd_heap_summary_to_variant (const PymemdHeapSummary *summary,
                                const PymemdHeapLedger  *ledger)
{
  JsonObject *root = json_node_get_object (summary->document);
  JsonObject *part;
  GVariantBuilder dict;

  g_variant_builder_init (&dict, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&dict, "{sv}", "python",
                         g_variant_new_string (json_object_get_string_member (root, "python")));
  g_variant_builder_add (&dict, "{sv}", "implementation",
                         g_variant_new_string (json_object_get_string_member (root,
                                                                              "implementation")));
  g_variant_builder_add (&dict, "{sv}", "taken_at", g_variant_new_int64 (summary->taken_at_us));
  g_variant_builder_add (&dict, "{sv}", "duration",
                         g_variant_new_double (json_object_get_double_member (root, "duration")));
  g_variant_builder_add (&dict, "{sv}", "gil_max_hold",
                         g_variant_new_double (json_object_get_double_member (root,
                                                                              "gil_max_hold")));
  g_variant_builder_add (&dict, "{sv}", "complete",
                         g_variant_new_boolean (json_object_get_boolean_member (root, "complete")));
  g_variant_builder_add (&dict, "{sv}", "threads",
                         g_variant_new_uint32 ((guint32) member_count (root, "threads")));
  g_variant_builder_add (&dict, "{sv}", "modules",
                         g_variant_new_uint32 ((guint32) member_count (root, "modules")));
  g_variant_builder_add (&dict, "{sv}", "allocated_blocks",
                         g_variant_new_uint64 (member_count (root, "allocated_blocks")));
  g_variant_builder_add (&dict, "{sv}", "gc", gc_to_variant (member_object (root, "gc")));
  g_variant_builder_add (&dict, "{sv}", "census",
                         census_to_variant (member_object (root, "census")));
  if ((part = member_object (root, "pymalloc")) != NULL)
    g_variant_builder_add (&dict, "{sv}", "pymalloc", pymalloc_to_variant (part));
  if ((part = member_object (root, "tracemalloc")) != NULL)
    g_variant_builder_add (&dict, "{sv}", "tracemalloc", tracemalloc_to_variant (part));
  if ((part = member_object (root, "collect")) != NULL)
    g_variant_builder_add (&dict, "{sv}", "collect", collect_to_variant (part));
  if (ledger != NULL)
    g_variant_builder_add (&dict, "{sv}", "ledger", ledger_to_variant (ledger));
  return g_variant_builder_end (&dict);
}
