/* The messages of the helper protocol (docs/helper-protocol.md) as JSON text: the requests the daemon sends, built with json-glib, and the checks every member of a message the helper sent must pass. No socket, no state. */
#include "config.h"

#include <glib/gi18n.h>

#include "pymemd-error.h"
#include "pymemd-helper-messages.h"

void
pymemd_heap_request_init (PymemdHeapRequest *request)
{
  request->top = 20;
  request->sites = 10;
  request->trace = -1;
  request->collect = FALSE;
  request->budget = 5.0;
  request->graph_memory = 0;
  request->light = FALSE;
}

/* The integer member NAME of OBJECT from MIN to MAX, or FALSE. */
gboolean
pymemd_helper_message_int (JsonObject *object, const char *name, gint64 min, gint64 max, gint64 *value)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  *value = json_node_get_int (node);
  return *value >= min && *value <= max;
}

/* The string member NAME of OBJECT of at most MAX_CHARS, without control
 * characters, or NULL. */
const char *
pymemd_helper_message_string (JsonObject *object, const char *name, glong max_chars)
{
  JsonNode *node = json_object_get_member (object, name);
  const char *text;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  text = json_node_get_string (node);
  return pymemd_heap_text_ok (text, max_chars) ? text : NULL;
}

gboolean
pymemd_helper_nonce_is_valid (const char *nonce)
{
  gsize i;

  for (i = 0; nonce[i] != '\0'; i++)
    if (!g_ascii_isdigit (nonce[i]) && !(nonce[i] >= 'a' && nonce[i] <= 'f'))
      return FALSE;
  return i == 32;
}

gboolean
pymemd_heap_request_validate (const PymemdHeapRequest *request, GError **error)
{
  if (request->top < 1 || request->top > PYMEMD_HEAP_SUMMARY_MAX_TYPES ||
      request->sites > PYMEMD_HEAP_SUMMARY_MAX_SITES || request->trace < -1 ||
      request->trace > 100 || !(request->budget >= 0.05 && request->budget <= 60))
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS,
                   _("A heap summary request needs top 1…1000, sites 0…1000, trace −1…100 "
                     "and a budget of 0.05…60 seconds"));
      return FALSE;
    }
  return TRUE;
}

static void
add_graph_member (JsonBuilder *builder, guint64 objects, guint64 edges)
{
  json_builder_set_member_name (builder, "graph");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "objects");
  json_builder_add_int_value (builder, (gint64) objects);
  json_builder_set_member_name (builder, "edges");
  json_builder_add_int_value (builder, (gint64) edges);
  json_builder_end_object (builder);
}

/* A message to the helper: "v", TYPE and ID; its own members follow. */
static JsonBuilder *
message_begin (const char *type, guint32 id)
{
  JsonBuilder *builder = json_builder_new_immutable ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "v");
  json_builder_add_int_value (builder, PYMEMD_HELPER_PROTOCOL_VERSION);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, type);
  json_builder_set_member_name (builder, "id");
  json_builder_add_int_value (builder, id);
  return builder;
}

static char *
message_end (JsonBuilder *builder)
{
  g_autoptr(JsonNode) root = NULL;

  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  return json_to_string (root, FALSE);
}

char *
pymemd_helper_message_request (guint32 id, const PymemdHeapRequest *request)
{
  g_autoptr(JsonBuilder) builder = message_begin ("request", id);

  json_builder_set_member_name (builder, "top");
  json_builder_add_int_value (builder, request->top);
  json_builder_set_member_name (builder, "sites");
  json_builder_add_int_value (builder, request->sites);
  json_builder_set_member_name (builder, "trace");
  json_builder_add_int_value (builder, request->trace);
  json_builder_set_member_name (builder, "collect");
  json_builder_add_boolean_value (builder, request->collect);
  json_builder_set_member_name (builder, "budget");
  json_builder_add_double_value (builder, request->budget);
  if (request->light)
    {
      json_builder_set_member_name (builder, "light");
      json_builder_add_boolean_value (builder, TRUE);
    }
  if (request->graph_memory > 0)
    {
      guint64 objects, edges;
      pymemd_heap_graph_limits_for_memory (request->graph_memory, &objects, &edges);
      add_graph_member (builder, objects, edges);
    }
  return message_end (builder);
}

char *
pymemd_helper_message_name (guint32 id, JsonNode *paths)
{
  g_autoptr(JsonBuilder) builder = message_begin ("name", id);

  json_builder_set_member_name (builder, "paths");
  json_builder_add_value (builder, json_node_copy (paths));
  return message_end (builder);
}
