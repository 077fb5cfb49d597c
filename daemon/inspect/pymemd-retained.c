/* The holders an analysis found: the "name" request for their paths and the helper's answer checked, the paths written as a person reads them, and the holders served, kept in history and compared between two summaries. */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "pymemd-error.h"
#include "pymemd-heap-summary.h"
#include "pymemd-retained.h"

#define NAME_CHARS  256 /* of a root's name or a step's label */
#define MAX_HOLDERS 1000
#define MAX_TEXT    4096

PymemdRetained *
pymemd_retained_new (void)
{
  PymemdRetained *retained = g_new0 (PymemdRetained, 1);

  retained->holders = g_ptr_array_new_with_free_func ((GDestroyNotify) pymemd_holder_free);
  return retained;
}

void
pymemd_holder_free (PymemdHolder *holder)
{
  if (holder == NULL)
    return;
  g_free (holder->type);
  g_clear_pointer (&holder->path, g_array_unref);
  g_clear_pointer (&holder->path_types, g_ptr_array_unref);
  g_strfreev (holder->root_names);
  g_clear_pointer (&holder->step_names, g_ptr_array_unref);
  g_free (holder->path_text);
  g_free (holder);
}

void
pymemd_retained_free (PymemdRetained *retained)
{
  if (retained == NULL)
    return;
  g_free (retained->incomplete);
  g_ptr_array_unref (retained->holders);
  g_free (retained);
}

/* ---- naming ---- */

/* The path's objects the helper can name: from its first (the root's
 * object) to its last, or to the gap when some were left out. */
static guint
nameable_steps (const PymemdHolder *holder)
{
  guint len = holder->path != NULL ? holder->path->len : 0;

  if (len == 0)
    return 0;
  return len - 1 - (holder->elided > 0 ? 1 : 0);
}

static gboolean
wants_names (const PymemdHolder *holder)
{
  return holder->root_kind != PYMEMD_ROOT_NONE && holder->path != NULL && holder->path->len > 0;
}

JsonNode *
pymemd_retained_name_request (const PymemdRetained *retained, GArray **steps)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  guint n = 0;

  *steps = g_array_new (FALSE, FALSE, sizeof (guint));
  json_builder_begin_array (builder);
  for (guint i = 0; i < retained->holders->len; i++)
    {
      const PymemdHolder *holder = g_ptr_array_index (retained->holders, i);
      guint count = nameable_steps (holder);

      if (!wants_names (holder))
        continue;
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "root");
      json_builder_begin_array (builder);
      json_builder_add_int_value (builder, holder->root_kind);
      json_builder_add_int_value (builder, (gint64) holder->root_container);
      json_builder_add_int_value (builder, (gint64) g_array_index (holder->path, guint64, 0));
      json_builder_end_array (builder);
      json_builder_set_member_name (builder, "steps");
      json_builder_begin_array (builder);
      for (guint k = 1; k <= count; k++)
        json_builder_add_int_value (builder, (gint64) g_array_index (holder->path, guint64, k));
      json_builder_end_array (builder);
      json_builder_end_object (builder);
      g_array_append_val (*steps, count);
      n++;
    }
  json_builder_end_array (builder);
  if (n == 0)
    {
      g_clear_pointer (steps, g_array_unref);
      return NULL;
    }
  return json_builder_get_root (builder);
}

static gboolean
name_ok (JsonNode *node, gboolean nullable)
{
  if (nullable && JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING &&
         pymemd_heap_text_ok (json_node_get_string (node), NAME_CHARS);
}

gboolean
pymemd_retained_names_check (JsonNode *names, const GArray *steps, GError **error)
{
  JsonArray *array;

  if (names == NULL || !JSON_NODE_HOLDS_ARRAY (names) ||
      json_array_get_length (array = json_node_get_array (names)) != steps->len)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PROTOCOL, _("names: “names” must be a list of %u entries"),
                   steps->len);
      return FALSE;
    }
  for (guint i = 0; i < steps->len; i++)
    {
      JsonNode *entry = json_array_get_element (array, i);
      JsonObject *object = JSON_NODE_HOLDS_OBJECT (entry) ? json_node_get_object (entry) : NULL;
      JsonNode *root = object != NULL ? json_object_get_member (object, "root") : NULL;
      JsonNode *labels = object != NULL ? json_object_get_member (object, "steps") : NULL;
      gboolean ok = root != NULL && labels != NULL && JSON_NODE_HOLDS_ARRAY (labels) &&
                    json_array_get_length (json_node_get_array (labels)) == g_array_index (steps, guint, i);

      if (ok && !JSON_NODE_HOLDS_NULL (root))
        {
          JsonArray *parts = JSON_NODE_HOLDS_ARRAY (root) ? json_node_get_array (root) : NULL;
          ok = parts != NULL && json_array_get_length (parts) >= 2 && json_array_get_length (parts) <= 3;
          for (guint k = 0; ok && k < json_array_get_length (parts); k++)
            ok = name_ok (json_array_get_element (parts, k), FALSE);
        }
      for (guint k = 0; ok && k < json_array_get_length (json_node_get_array (labels)); k++)
        ok = name_ok (json_array_get_element (json_node_get_array (labels), k), TRUE);
      if (!ok)
        {
          g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PROTOCOL,
                       _("names: entry %u must hold “root” (null, or 2 or 3 strings) and “steps” (%u entries, null "
                         "or a string), each string at most %d characters without control characters"),
                       i, g_array_index (steps, guint, i), NAME_CHARS);
          return FALSE;
        }
    }
  return TRUE;
}

/* The path as a person reads it: the root (module.name, Class.name, or
 * thread "T", frame f() local x), then each step's label; a step the helper
 * could not name shows the type it leads to. */
static char *
path_text (const PymemdHolder *holder)
{
  g_autoptr(GString) text = g_string_new (NULL);
  guint named = nameable_steps (holder);

  if (holder->path == NULL || holder->path->len == 0)
    return g_strdup ("");
  if (holder->root_names != NULL && holder->root_kind == PYMEMD_ROOT_LOCAL)
    g_string_append_printf (text, "thread \"%s\", frame %s() local %s", holder->root_names[0], holder->root_names[1],
                            holder->root_names[2]);
  else if (holder->root_names != NULL)
    g_string_append_printf (text, "%s.%s", holder->root_names[0], holder->root_names[1]);
  else
    g_string_append_printf (text, "(%s)", (const char *) g_ptr_array_index (holder->path_types, 0));
  for (guint k = 1; k < holder->path->len; k++)
    {
      const char *label = NULL;

      if (k <= named && holder->step_names != NULL)
        label = g_ptr_array_index (holder->step_names, k - 1);
      if (k == holder->path->len - 1 && holder->elided > 0)
        g_string_append (text, " → …");
      /* A namespace (a module's, class's or instance's __dict__) is only
       * named when the path ends at it. */
      if (label != NULL && label[0] == '\0' && k == holder->path->len - 1)
        g_string_append (text, ".__dict__");
      else if (label != NULL)
        g_string_append (text, label);
      else
        g_string_append_printf (text, " → (%s)", (const char *) g_ptr_array_index (holder->path_types, k));
      if (text->len > MAX_TEXT)
        break;
    }
  return g_string_free (g_steal_pointer (&text), FALSE);
}

void
pymemd_retained_set_names (PymemdRetained *retained, JsonNode *names)
{
  JsonArray *array = names != NULL ? json_node_get_array (names) : NULL;
  guint next = 0;

  for (guint i = 0; i < retained->holders->len; i++)
    {
      PymemdHolder *holder = g_ptr_array_index (retained->holders, i);

      if (array != NULL && wants_names (holder) && next < json_array_get_length (array))
        {
          JsonObject *entry = json_array_get_object_element (array, next++);
          JsonNode *root = json_object_get_member (entry, "root");
          JsonArray *labels = json_object_get_array_member (entry, "steps");
          gboolean parts_fit = FALSE;

          if (!JSON_NODE_HOLDS_NULL (root))
            {
              JsonArray *parts = json_node_get_array (root);
              guint n = json_array_get_length (parts);
              parts_fit = n == (holder->root_kind == PYMEMD_ROOT_LOCAL ? 3u : 2u);
              if (parts_fit)
                {
                  holder->root_names = g_new0 (char *, n + 1);
                  for (guint k = 0; k < n; k++)
                    holder->root_names[k] = g_strdup (json_array_get_string_element (parts, k));
                }
            }
          holder->step_names = g_ptr_array_new_with_free_func (g_free);
          for (guint k = 0; k < json_array_get_length (labels); k++)
            {
              JsonNode *label = json_array_get_element (labels, k);
              /* A step after an unnamed root is not shown as named either. */
              g_ptr_array_add (holder->step_names, parts_fit && !JSON_NODE_HOLDS_NULL (label)
                                                     ? g_strdup (json_node_get_string (label))
                                                     : NULL);
            }
        }
      g_free (holder->path_text);
      holder->path_text = path_text (holder);
    }
}

/* ---- served and kept ---- */

static const char *const holder_kinds[] = {
  [PYMEMD_HOLDER_ROOT] = "root",
  [PYMEMD_HOLDER_SHARED] = "shared",
  [PYMEMD_HOLDER_NESTED] = "nested",
  [PYMEMD_HOLDER_OUTSIDE] = "outside",
  [PYMEMD_HOLDER_UNREACHABLE] = "unreachable",
};

static const char *const root_kinds[] = {
  [PYMEMD_ROOT_NONE] = "none",
  [PYMEMD_ROOT_GLOBAL] = "global",
  [PYMEMD_ROOT_CLASS_ATTRIBUTE] = "class-attribute",
  [PYMEMD_ROOT_LOCAL] = "local",
};

static int
kind_from_name (const char *const *names, gsize n, const char *name)
{
  for (gsize i = 0; i < n; i++)
    if (g_strcmp0 (names[i], name) == 0)
      return (int) i;
  return -1;
}

static GVariant *
holder_to_variant (const PymemdHolder *holder)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "kind", "s", holder_kinds[holder->kind]);
  g_variant_dict_insert (&dict, "depth", "u", holder->depth);
  if (holder->type != NULL)
    g_variant_dict_insert (&dict, "type", "s", holder->type);
  g_variant_dict_insert (&dict, "path", "s", holder->path_text != NULL ? holder->path_text : "");
  g_variant_dict_insert (&dict, "root_kind", "s", root_kinds[holder->root_kind]);
  if (holder->root_names != NULL)
    g_variant_dict_insert_value (&dict, "root", g_variant_new_strv ((const char *const *) holder->root_names, -1));
  g_variant_dict_insert (&dict, "retained_bytes", "t", holder->retained_bytes);
  g_variant_dict_insert (&dict, "retained_objects", "t", holder->retained_objects);
  g_variant_dict_insert (&dict, "shallow_bytes", "t", holder->shallow_bytes);
  return g_variant_dict_end (&dict);
}

GVariant *
pymemd_retained_to_variant (const PymemdRetained *retained)
{
  GVariantBuilder holders;
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "complete", "b", retained->complete);
  if (retained->incomplete != NULL)
    g_variant_dict_insert (&dict, "incomplete", "s", retained->incomplete);
  g_variant_dict_insert (&dict, "objects", "t", retained->objects);
  g_variant_dict_insert (&dict, "references", "t", retained->references);
  g_variant_dict_insert (&dict, "dangling", "t", retained->dangling);
  g_variant_dict_insert (&dict, "duplicates", "t", retained->duplicates);
  g_variant_dict_insert (&dict, "roots", "t", retained->roots);
  g_variant_dict_insert (&dict, "bytes", "t", retained->bytes);
  g_variant_dict_insert (&dict, "outside_bytes", "t", retained->outside_bytes);
  g_variant_dict_insert (&dict, "outside_objects", "t", retained->outside_objects);
  g_variant_dict_insert (&dict, "unreachable_bytes", "t", retained->unreachable_bytes);
  g_variant_dict_insert (&dict, "unreachable_objects", "t", retained->unreachable_objects);
  g_variant_dict_insert (&dict, "walk_seconds", "d", retained->walk_seconds);
  g_variant_dict_insert (&dict, "gil_max_hold", "d", retained->gil_max_hold);
  g_variant_dict_insert (&dict, "analysis_seconds", "d", retained->analysis_seconds);
  g_variant_dict_insert (&dict, "memory_peak", "t", retained->memory_peak);
  g_variant_builder_init (&holders, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < retained->holders->len; i++)
    g_variant_builder_add_value (&holders, holder_to_variant (g_ptr_array_index (retained->holders, i)));
  g_variant_dict_insert_value (&dict, "holders", g_variant_builder_end (&holders));
  return g_variant_dict_end (&dict);
}

static void
add_count (JsonBuilder *builder, const char *name, guint64 value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_int_value (builder, (gint64) MIN (value, (guint64) G_MAXINT64));
}

static void
add_seconds (JsonBuilder *builder, const char *name, double value)
{
  json_builder_set_member_name (builder, name);
  /* To the microsecond: json-glib would write tiny doubles with an
   * exponent that pymemd_heap_summary's reader refuses. */
  json_builder_add_double_value (builder, (double) (gint64) (value * G_USEC_PER_SEC + 0.5) / G_USEC_PER_SEC);
}

static void
add_string (JsonBuilder *builder, const char *name, const char *value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_string_value (builder, value);
}

JsonNode *
pymemd_retained_to_json (const PymemdRetained *retained)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "complete");
  json_builder_add_boolean_value (builder, retained->complete);
  if (retained->incomplete != NULL)
    add_string (builder, "incomplete", retained->incomplete);
  add_count (builder, "objects", retained->objects);
  add_count (builder, "references", retained->references);
  add_count (builder, "dangling", retained->dangling);
  add_count (builder, "duplicates", retained->duplicates);
  add_count (builder, "roots", retained->roots);
  add_count (builder, "bytes", retained->bytes);
  add_count (builder, "outside_bytes", retained->outside_bytes);
  add_count (builder, "outside_objects", retained->outside_objects);
  add_count (builder, "unreachable_bytes", retained->unreachable_bytes);
  add_count (builder, "unreachable_objects", retained->unreachable_objects);
  add_seconds (builder, "walk_seconds", retained->walk_seconds);
  add_seconds (builder, "gil_max_hold", retained->gil_max_hold);
  add_seconds (builder, "analysis_seconds", retained->analysis_seconds);
  add_count (builder, "memory_peak", retained->memory_peak);
  json_builder_set_member_name (builder, "holders");
  json_builder_begin_array (builder);
  for (guint i = 0; i < retained->holders->len; i++)
    {
      const PymemdHolder *holder = g_ptr_array_index (retained->holders, i);

      json_builder_begin_object (builder);
      add_string (builder, "kind", holder_kinds[holder->kind]);
      add_count (builder, "depth", holder->depth);
      if (holder->type != NULL)
        add_string (builder, "type", holder->type);
      add_string (builder, "path", holder->path_text != NULL ? holder->path_text : "");
      add_string (builder, "root_kind", root_kinds[holder->root_kind]);
      if (holder->root_names != NULL)
        {
          json_builder_set_member_name (builder, "root");
          json_builder_begin_array (builder);
          for (guint k = 0; holder->root_names[k] != NULL; k++)
            json_builder_add_string_value (builder, holder->root_names[k]);
          json_builder_end_array (builder);
        }
      add_count (builder, "retained_bytes", holder->retained_bytes);
      add_count (builder, "retained_objects", holder->retained_objects);
      add_count (builder, "shallow_bytes", holder->shallow_bytes);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

static guint64
member_count (JsonObject *object, const char *name)
{
  return (guint64) MAX (json_object_get_int_member_with_default (object, name, 0), 0);
}

static char *
member_text (JsonObject *object, const char *name, glong max_chars)
{
  const char *text = json_object_get_string_member_with_default (object, name, NULL);

  return text != NULL && pymemd_heap_text_ok (text, max_chars) ? g_strdup (text) : NULL;
}

static PymemdHolder *
holder_from_json (JsonObject *object)
{
  g_autofree char *kind = member_text (object, "kind", 16), *root_kind = member_text (object, "root_kind", 16);
  PymemdHolder *holder;
  int k = kind_from_name (holder_kinds, G_N_ELEMENTS (holder_kinds), kind);
  int r = kind_from_name (root_kinds, G_N_ELEMENTS (root_kinds), root_kind);
  JsonNode *root = json_object_get_member (object, "root");

  if (k < 0 || r < 0)
    return NULL;
  holder = g_new0 (PymemdHolder, 1);
  holder->kind = k;
  holder->root_kind = r;
  holder->depth = (guint) MIN (member_count (object, "depth"), 64);
  holder->type = member_text (object, "type", NAME_CHARS);
  holder->path_text = member_text (object, "path", MAX_TEXT + NAME_CHARS);
  if (holder->path_text == NULL)
    holder->path_text = g_strdup ("");
  holder->retained_bytes = member_count (object, "retained_bytes");
  holder->retained_objects = member_count (object, "retained_objects");
  holder->shallow_bytes = member_count (object, "shallow_bytes");
  if (root != NULL && JSON_NODE_HOLDS_ARRAY (root) && json_array_get_length (json_node_get_array (root)) <= 3)
    {
      JsonArray *parts = json_node_get_array (root);
      holder->root_names = g_new0 (char *, json_array_get_length (parts) + 1);
      for (guint i = 0; i < json_array_get_length (parts); i++)
        {
          JsonNode *part = json_array_get_element (parts, i);
          holder->root_names[i] = g_strdup (name_ok (part, FALSE) ? json_node_get_string (part) : "?");
        }
    }
  return holder;
}

PymemdRetained *
pymemd_retained_new_from_json (JsonNode *node, GError **error)
{
  g_autoptr(PymemdRetained) retained = pymemd_retained_new ();
  JsonObject *object;
  JsonArray *holders;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error_literal (error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE, _("Kept retained sizes are not an object"));
      return NULL;
    }
  object = json_node_get_object (node);
  retained->complete = json_object_get_boolean_member_with_default (object, "complete", FALSE);
  retained->incomplete = member_text (object, "incomplete", MAX_TEXT);
  retained->objects = member_count (object, "objects");
  retained->references = member_count (object, "references");
  retained->dangling = member_count (object, "dangling");
  retained->duplicates = member_count (object, "duplicates");
  retained->roots = member_count (object, "roots");
  retained->bytes = member_count (object, "bytes");
  retained->outside_bytes = member_count (object, "outside_bytes");
  retained->outside_objects = member_count (object, "outside_objects");
  retained->unreachable_bytes = member_count (object, "unreachable_bytes");
  retained->unreachable_objects = member_count (object, "unreachable_objects");
  retained->walk_seconds = json_object_get_double_member_with_default (object, "walk_seconds", 0);
  retained->gil_max_hold = json_object_get_double_member_with_default (object, "gil_max_hold", 0);
  retained->analysis_seconds = json_object_get_double_member_with_default (object, "analysis_seconds", 0);
  retained->memory_peak = member_count (object, "memory_peak");
  holders = json_object_get_array_member (object, "holders");
  for (guint i = 0; holders != NULL && i < MIN (json_array_get_length (holders), MAX_HOLDERS); i++)
    {
      JsonNode *entry = json_array_get_element (holders, i);
      PymemdHolder *holder = JSON_NODE_HOLDS_OBJECT (entry) ? holder_from_json (json_node_get_object (entry)) : NULL;
      if (holder != NULL)
        g_ptr_array_add (retained->holders, holder);
    }
  return g_steal_pointer (&retained);
}

/* ---- growth ---- */

/* What identifies a holder between two summaries: its path, or its kind
 * for the groups that have none. */
static const char *
holder_key (const PymemdHolder *holder)
{
  if (holder->path_text != NULL && holder->path_text[0] != '\0')
    return holder->path_text;
  return holder_kinds[holder->kind];
}

typedef struct {
  const PymemdHolder *holder;
  gint64              growth;
} Growth;

static gint
compare_growth (gconstpointer a, gconstpointer b)
{
  const Growth *x = a, *y = b;

  return x->growth > y->growth ? -1 : x->growth < y->growth;
}

GVariant *
pymemd_retained_grown (const PymemdRetained *before, const PymemdRetained *after, guint max)
{
  g_autoptr(GHashTable) earlier = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GArray) grown = g_array_new (FALSE, FALSE, sizeof (Growth));
  GVariantBuilder list;

  for (guint i = 0; i < before->holders->len; i++)
    {
      const PymemdHolder *holder = g_ptr_array_index (before->holders, i);
      g_hash_table_insert (earlier, (gpointer) holder_key (holder), (gpointer) holder);
    }
  for (guint i = 0; i < after->holders->len; i++)
    {
      const PymemdHolder *holder = g_ptr_array_index (after->holders, i);
      const PymemdHolder *then = g_hash_table_lookup (earlier, holder_key (holder));
      Growth growth = { holder, 0 };

      if (then == NULL || holder->retained_bytes <= then->retained_bytes)
        continue;
      growth.growth = (gint64) MIN (holder->retained_bytes - then->retained_bytes, (guint64) G_MAXINT64);
      g_array_append_val (grown, growth);
    }
  g_array_sort (grown, compare_growth);
  g_variant_builder_init (&list, G_VARIANT_TYPE ("a(ssx)"));
  for (guint i = 0; i < MIN (grown->len, max); i++)
    {
      const Growth *growth = &g_array_index (grown, Growth, i);
      g_variant_builder_add (&list, "(ssx)", holder_key (growth->holder),
                             growth->holder->type != NULL ? growth->holder->type : "", growth->growth);
    }
  return g_variant_builder_end (&list);
}
