/* Stores a helper's object graph frame by frame, each checked before anything of it is kept, within the memory the analysis will need; then, in a worker thread, resolves the addresses, adds the roots, computes the dominator tree and picks the holders. */
#include "config.h"

#include <inttypes.h>

#include <string.h>

#include <glib/gi18n.h>

#include "pymemd-dominators.h"
#include "pymemd-error.h"
#include "pymemd-heap-graph.h"
#include "pymemd-heap-summary.h"

#define HEADER_BYTES    16
#define MARKER_GRAPH    'G'
#define TYPE_NAME_BYTES 1024 /* 256 characters of UTF-8 */
#define TYPE_NAME_CHARS 256
#define NODE_BYTES      24
#define EDGE_BYTES      8
#define ROOT_BYTES      13
#define END_BYTES       40
/* Objects the helper says are never freed, and what each costs here. */
#define MAX_IMMORTAL    65536
#define IMMORTAL_BYTES  48
#define TRACKED         (1u << 31)
#define MAX_SIZE        (G_GUINT64_CONSTANT (1) << 53)
/* The virtual nodes the analysis adds after the N real ones. */
#define VIRTUAL_NODES   3
/* Holders: how much of its holder's retained bytes an object must hold to
 * be listed under it, and at least how many bytes. */
#define NESTED_SHARE    4
#define NESTED_MIN      (64 * 1024)
/* An object keeping more than 1 - 1/WRAPPER_SHARE_OF of its holder's
 * bytes wraps what it holds (looked through, MAX_WRAPPERS deep). */
#define WRAPPER_SHARE_OF 20
#define MAX_WRAPPERS     64
#define MAX_DEPTH       8
/* Nodes a search for a holder's path visits at most. */
#define PATH_SEARCH     (1 << 16)
#define PATH_EXAMINED   (G_GUINT64_CONSTANT (1) << 20)
#define MAX_PATH        64
#define NONE            G_MAXUINT32

typedef enum {
  KIND_TYPES = 1,
  KIND_NODES = 2,
  KIND_EDGES = 3,
  KIND_ROOTS = 4,
  KIND_END = 5,
  KIND_IMMORTAL = 6,
} FrameKind;

typedef enum {
  REASON_NONE,
  REASON_OBJECTS,
  REASON_EDGES,
  REASON_TIME,
  REASON_FAILED,
  N_REASONS
} EndReason;

typedef struct {
  guint64 container;
  guint32 node;
  guint32 kind;
} RootRecord;

struct _PymemdHeapGraph
{
  guint32        request_id;
  guint64        max_objects;
  guint64        max_edges;
  gsize          memory;

  /* What came, as the protocol counts it. */
  guint64        nodes_declared;
  guint64        edges_declared;
  guint64        roots_declared;
  FrameKind      last_kind;
  gboolean       any_frame;
  gboolean       ended;
  gboolean       helper_complete;
  EndReason      helper_reason;
  double         walk_seconds;
  double         gil_max_hold;
  GPtrArray     *type_names;  /* char * */
  gsize          type_bytes;  /* ... and the immortal table's */
  GHashTable    *immortal;    /* addresses of objects never freed: references to them are left out */

  /* What is kept, until the memory would not suffice. */
  gboolean       cut;
  guint32        n_nodes;
  guint64        n_edges;
  guint64        n_roots;
  guint64        zero_edges;  /* references left out: objects never freed */
  gboolean       last_node_stored; /* edges frames go on with it */
  PymemdBigArray address;     /* guint64 [n_nodes] */
  PymemdBigArray size;        /* guint64 [n_nodes + VIRTUAL_NODES] */
  PymemdBigArray type;        /* guint32 [n_nodes]: index | TRACKED */
  PymemdBigArray start;       /* guint32 [n_nodes + VIRTUAL_NODES + 1]: CSR offsets */
  PymemdBigArray edges;       /* guint64 addresses; guint32 nodes once resolved */
  PymemdBigArray roots;       /* RootRecord [n_roots] */
};

static guint32
read_u32 (const guint8 *p)
{
  guint32 v;

  memcpy (&v, p, sizeof v);
  return GUINT32_FROM_LE (v);
}

static guint64
read_u64 (const guint8 *p)
{
  guint64 v;

  memcpy (&v, p, sizeof v);
  return GUINT64_FROM_LE (v);
}

void
pymemd_heap_graph_limits_for_memory (gsize memory, guint64 *max_objects, guint64 *max_edges)
{
  *max_objects = CLAMP (memory / PYMEMD_HEAP_GRAPH_BYTES_PER_OBJECT, 1, PYMEMD_HEAP_GRAPH_MAX_OBJECTS);
  *max_edges = CLAMP (memory / PYMEMD_HEAP_GRAPH_BYTES_PER_EDGE, 1, PYMEMD_HEAP_GRAPH_MAX_EDGES);
}

PymemdHeapGraph *
pymemd_heap_graph_new (guint32 request_id, guint64 max_objects, guint64 max_edges, gsize memory)
{
  PymemdHeapGraph *graph = g_new0 (PymemdHeapGraph, 1);

  graph->request_id = request_id;
  graph->max_objects = CLAMP (max_objects, 1, PYMEMD_HEAP_GRAPH_MAX_OBJECTS);
  graph->max_edges = CLAMP (max_edges, 1, PYMEMD_HEAP_GRAPH_MAX_EDGES);
  graph->memory = memory;
  graph->type_names = g_ptr_array_new_with_free_func (g_free);
  graph->immortal = g_hash_table_new (NULL, NULL);
  return graph;
}

static void
graph_clear_arrays (PymemdHeapGraph *graph)
{
  pymemd_big_array_clear (&graph->address);
  pymemd_big_array_clear (&graph->size);
  pymemd_big_array_clear (&graph->type);
  pymemd_big_array_clear (&graph->start);
  pymemd_big_array_clear (&graph->edges);
  pymemd_big_array_clear (&graph->roots);
}

void
pymemd_heap_graph_free (PymemdHeapGraph *graph)
{
  if (graph == NULL)
    return;
  graph_clear_arrays (graph);
  g_ptr_array_unref (graph->type_names);
  g_hash_table_unref (graph->immortal);
  g_free (graph);
}

gboolean
pymemd_heap_graph_has_frames (const PymemdHeapGraph *graph)
{
  return graph->any_frame;
}

gboolean
pymemd_heap_graph_is_ended (const PymemdHeapGraph *graph)
{
  return graph->ended;
}

gsize
pymemd_heap_graph_footprint (const PymemdHeapGraph *graph)
{
  return pymemd_big_array_footprint (&graph->address) + pymemd_big_array_footprint (&graph->size) +
         pymemd_big_array_footprint (&graph->type) + pymemd_big_array_footprint (&graph->start) +
         pymemd_big_array_footprint (&graph->edges) + pymemd_big_array_footprint (&graph->roots) +
         graph->type_bytes;
}

/* ------------------------------------------------------------- storing */

/* What the analysis of a graph this size will need at its peak. */
static guint64
planned_bytes (guint64 nodes, guint64 edges, guint64 roots, gsize type_bytes)
{
  return nodes * PYMEMD_HEAP_GRAPH_BYTES_PER_OBJECT + edges * PYMEMD_HEAP_GRAPH_BYTES_PER_EDGE +
         roots * PYMEMD_HEAP_GRAPH_BYTES_PER_ROOT + type_bytes;
}

/* Whether NODES, EDGES and ROOTS more fit in the budget; if not, storing
 * stops for good (the graph is cut). */
static gboolean
room_for (PymemdHeapGraph *graph, guint64 nodes, guint64 edges, guint64 roots)
{
  if (graph->cut)
    return FALSE;
  if (planned_bytes (graph->n_nodes + nodes, graph->n_edges + edges, graph->n_roots + roots, graph->type_bytes) >
      graph->memory)
    graph->cut = TRUE;
  return !graph->cut;
}

/* The arrays, reserved for as much as the budget lets the graph hold
 * (address space only until written). */
static gboolean
reserve_arrays (PymemdHeapGraph *graph)
{
  guint64 nodes = MIN (graph->max_objects, graph->memory / PYMEMD_HEAP_GRAPH_BYTES_PER_OBJECT) + 1;
  guint64 edges = MIN (graph->max_edges, graph->memory / PYMEMD_HEAP_GRAPH_BYTES_PER_EDGE) + 1;
  guint64 roots = MIN (graph->max_objects, graph->memory / PYMEMD_HEAP_GRAPH_BYTES_PER_ROOT) + 1;
  /* Resolved, the edges are 4 bytes each, and the virtual nodes' are
   * added after them: at most one for every node and root. */
  guint64 edge_bytes = MAX (edges * 8, (edges + nodes + roots + VIRTUAL_NODES) * 4);
  g_autoptr(GError) error = NULL;

  if (graph->address.data != NULL)
    return TRUE;
  if (pymemd_big_array_reserve (&graph->address, nodes * 8, &error) &&
      pymemd_big_array_reserve (&graph->size, (nodes + VIRTUAL_NODES) * 8, &error) &&
      pymemd_big_array_reserve (&graph->type, nodes * 4, &error) &&
      pymemd_big_array_reserve (&graph->start, (nodes + VIRTUAL_NODES + 1) * 4, &error) &&
      pymemd_big_array_reserve (&graph->edges, edge_bytes, &error) &&
      pymemd_big_array_reserve (&graph->roots, roots * sizeof (RootRecord), &error) &&
      pymemd_big_array_set_size (&graph->start, 4))
    return TRUE;
  /* No address space (a strict overcommit policy): nothing is kept, and
   * the answer says so. */
  g_message ("No memory for an object graph: %s", error->message);
  graph_clear_arrays (graph);
  graph->cut = TRUE;
  return FALSE;
}

/* The arrays' sizes, by what they hold: their footprints are the memory
 * the graph takes. */
static void
update_sizes (PymemdHeapGraph *graph)
{
  pymemd_big_array_set_size (&graph->address, graph->n_nodes * sizeof (guint64));
  pymemd_big_array_set_size (&graph->size, graph->n_nodes * sizeof (guint64));
  pymemd_big_array_set_size (&graph->type, graph->n_nodes * sizeof (guint32));
  pymemd_big_array_set_size (&graph->start, (graph->n_nodes + 1) * sizeof (guint32));
  pymemd_big_array_set_size (&graph->edges, graph->n_edges * sizeof (guint64));
  pymemd_big_array_set_size (&graph->roots, graph->n_roots * sizeof (RootRecord));
}

static gboolean G_GNUC_PRINTF (2, 3)
protocol_error (GError **error, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list ap;

  va_start (ap, format);
  message = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PROTOCOL, _("graph: %s"), message);
  return FALSE;
}

static gboolean
add_types (PymemdHeapGraph *graph, const guint8 *p, gsize len, guint32 count, GError **error)
{
  gsize offset = 0;

  if (count == 0)
    return protocol_error (error, _("a types frame declares no type"));
  if (graph->type_names->len + (guint64) count > PYMEMD_HEAP_GRAPH_MAX_TYPES)
    return protocol_error (error, _("more than %d types"), PYMEMD_HEAP_GRAPH_MAX_TYPES);
  for (guint32 i = 0; i < count; i++)
    {
      guint16 name_len;
      g_autofree char *name = NULL;

      if (len - offset < 2)
        return protocol_error (error, _("a types frame ends inside a type"));
      name_len = (guint16) (p[offset] | p[offset + 1] << 8);
      offset += 2;
      if (name_len == 0 || name_len > TYPE_NAME_BYTES || len - offset < name_len)
        return protocol_error (error, _("a type name of %u bytes (1 to %d allowed) or past the frame's end"),
                               name_len, TYPE_NAME_BYTES);
      name = g_strndup ((const char *) p + offset, name_len);
      if (strlen (name) != name_len || !pymemd_heap_text_ok (name, TYPE_NAME_CHARS))
        return protocol_error (error, _("a type name is not UTF-8 of at most %d characters without control characters"),
                               TYPE_NAME_CHARS);
      offset += name_len;
      graph->type_bytes += name_len + 1 + sizeof (gpointer);
      g_ptr_array_add (graph->type_names, g_steal_pointer (&name));
    }
  if (offset != len)
    return protocol_error (error, _("a types frame has %zu bytes after its types"), len - offset);
  return TRUE;
}

/* Checks a nodes frame whole before anything of it is kept. */
static gboolean
check_nodes (PymemdHeapGraph *graph, const guint8 *p, guint32 count, guint32 edge_count, GError **error)
{
  const guint8 *addresses = p, *sizes = p + 8 * (gsize) count, *types = p + 16 * (gsize) count,
               *counts = p + 20 * (gsize) count;
  guint64 sum = 0;

  for (guint32 i = 0; i < count; i++)
    {
      guint32 type = read_u32 (types + 4 * (gsize) i) & ~TRACKED;

      if (read_u64 (addresses + 8 * (gsize) i) == 0)
        return protocol_error (error, _("an object at address 0"));
      if (read_u64 (sizes + 8 * (gsize) i) > MAX_SIZE)
        return protocol_error (error, _("an object of more than 2^53 bytes"));
      if (type >= graph->type_names->len)
        return protocol_error (error, _("an object of type %u, of %u declared"), type, graph->type_names->len);
      sum += read_u32 (counts + 4 * (gsize) i);
    }
  if (sum != edge_count)
    return protocol_error (error, _("a nodes frame's objects have %" PRIu64 " references, its header says %u"),
                           sum, edge_count);
  return TRUE;
}

/* Appends EDGE_COUNT targets (u64 each at P) to the node stored last,
 * leaving out address 0. */
static void
store_edges (PymemdHeapGraph *graph, const guint8 *p, guint64 edge_count)
{
  guint64 *edges = PYMEMD_BIG_ARRAY_U64 (&graph->edges);
  guint32 *start = PYMEMD_BIG_ARRAY_U32 (&graph->start);

  for (guint64 e = 0; e < edge_count; e++)
    {
      guint64 target = read_u64 (p + 8 * e);

      if (target == 0 || g_hash_table_contains (graph->immortal, GSIZE_TO_POINTER ((gsize) target)))
        graph->zero_edges++;
      else
        edges[graph->n_edges++] = target;
    }
  start[graph->n_nodes] = (guint32) graph->n_edges;
}

static void
store_nodes (PymemdHeapGraph *graph, const guint8 *p, guint32 count, guint32 edge_count)
{
  const guint8 *addresses = p, *sizes = p + 8 * (gsize) count, *types = p + 16 * (gsize) count,
               *counts = p + 20 * (gsize) count, *targets = p + 24 * (gsize) count;
  guint64 *address = PYMEMD_BIG_ARRAY_U64 (&graph->address), *size = PYMEMD_BIG_ARRAY_U64 (&graph->size);
  guint32 *type = PYMEMD_BIG_ARRAY_U32 (&graph->type), *start = PYMEMD_BIG_ARRAY_U32 (&graph->start);

  for (guint32 i = 0; i < count; i++)
    {
      guint32 n = read_u32 (counts + 4 * (gsize) i);
      guint32 v = graph->n_nodes;

      address[v] = read_u64 (addresses + 8 * (gsize) i);
      size[v] = read_u64 (sizes + 8 * (gsize) i);
      type[v] = read_u32 (types + 4 * (gsize) i);
      start[v] = (guint32) graph->n_edges;
      graph->n_nodes++;
      store_edges (graph, targets, n);
      targets += 8 * (gsize) n;
    }
  (void) edge_count;
  update_sizes (graph);
}

static gboolean
add_nodes (PymemdHeapGraph *graph, const guint8 *p, gsize len, guint32 count, guint32 edge_count, GError **error)
{
  if (count == 0)
    return protocol_error (error, _("a nodes frame declares no object"));
  if (len != (guint64) count * NODE_BYTES + (guint64) edge_count * EDGE_BYTES)
    return protocol_error (error, _("a nodes frame of %u objects and %u references has %zu bytes"),
                           count, edge_count, len + HEADER_BYTES);
  if (graph->nodes_declared + count > graph->max_objects)
    return protocol_error (error, _("more objects than the %" PRIu64 " announced"), graph->max_objects);
  if (graph->edges_declared + edge_count > graph->max_edges)
    return protocol_error (error, _("more references than the %" PRIu64 " announced"), graph->max_edges);
  if (!check_nodes (graph, p, count, edge_count, error))
    return FALSE;
  graph->nodes_declared += count;
  graph->edges_declared += edge_count;
  /* A frame is kept whole or not at all; the edges of the last node may
   * go on in edges frames, kept while there is room. */
  graph->last_node_stored = reserve_arrays (graph) && room_for (graph, count, edge_count, 0);
  if (graph->last_node_stored)
    store_nodes (graph, p, count, edge_count);
  return TRUE;
}

static gboolean
add_edges (PymemdHeapGraph *graph, const guint8 *p, gsize len, guint32 count, GError **error)
{
  if (count == 0 || len != (guint64) count * EDGE_BYTES)
    return protocol_error (error, _("an edges frame of %u references has %zu bytes"), count,
                           len + HEADER_BYTES);
  if (graph->last_kind != KIND_NODES && graph->last_kind != KIND_EDGES)
    return protocol_error (error, _("an edges frame does not follow a nodes frame"));
  if (graph->edges_declared + count > graph->max_edges)
    return protocol_error (error, _("more references than the %" PRIu64 " announced"), graph->max_edges);
  graph->edges_declared += count;
  if (graph->last_node_stored && room_for (graph, 0, count, 0))
    {
      store_edges (graph, p, count);
      update_sizes (graph);
    }
  else
    graph->last_node_stored = FALSE;
  return TRUE;
}

static gboolean
add_roots (PymemdHeapGraph *graph, const guint8 *p, gsize len, guint32 count, GError **error)
{
  const guint8 *containers = p, *nodes = p + 8 * (gsize) count, *kinds = p + 12 * (gsize) count;

  if (count == 0 || len != (guint64) count * ROOT_BYTES)
    return protocol_error (error, _("a roots frame of %u roots has %zu bytes"), count,
                           len + HEADER_BYTES);
  if (graph->roots_declared + count > graph->max_objects)
    return protocol_error (error, _("more roots than the %" PRIu64 " objects announced"),
                           graph->max_objects);
  for (guint32 i = 0; i < count; i++)
    {
      guint32 node = read_u32 (nodes + 4 * (gsize) i);

      if (read_u64 (containers + 8 * (gsize) i) == 0)
        return protocol_error (error, _("a root in the object at address 0"));
      if (node >= graph->nodes_declared)
        return protocol_error (error, _("a root refers to object %u, of %" PRIu64 " declared"), node,
                               graph->nodes_declared);
      if (kinds[i] < PYMEMD_ROOT_GLOBAL || kinds[i] > PYMEMD_ROOT_LOCAL)
        return protocol_error (error, _("a root of unknown kind %u"), kinds[i]);
    }
  graph->roots_declared += count;
  if (reserve_arrays (graph) && room_for (graph, 0, 0, count))
    for (guint32 i = 0; i < count; i++)
      {
        guint32 node = read_u32 (nodes + 4 * (gsize) i);
        RootRecord *record;

        if (node >= graph->n_nodes)
          continue; /* past what the budget let us keep */
        record = (RootRecord *) graph->roots.data + graph->n_roots++;
        record->container = read_u64 (containers + 8 * (gsize) i);
        record->node = node;
        record->kind = kinds[i];
        update_sizes (graph);
      }
  return TRUE;
}

static gboolean
add_immortal (PymemdHeapGraph *graph, const guint8 *p, gsize len, guint32 count, GError **error)
{
  if (count == 0 || len != (guint64) count * 8)
    return protocol_error (error, _("an immortal frame of %u objects has %zu bytes"), count,
                           len + HEADER_BYTES);
  if (g_hash_table_size (graph->immortal) + (guint64) count > MAX_IMMORTAL)
    return protocol_error (error, _("more than %d objects never freed"), MAX_IMMORTAL);
  for (guint32 i = 0; i < count; i++)
    {
      guint64 address = read_u64 (p + 8 * (gsize) i);

      if (address == 0 || address > G_MAXSIZE)
        return protocol_error (error, _("an object never freed at address %#" PRIx64), address);
      g_hash_table_add (graph->immortal, GSIZE_TO_POINTER ((gsize) address));
    }
  graph->type_bytes += (gsize) count * IMMORTAL_BYTES;
  return TRUE;
}

static gboolean
add_end (PymemdHeapGraph *graph, const guint8 *p, gsize len, guint32 count, guint32 extra, GError **error)
{
  guint32 complete, reason;

  if (count != 0 || extra != 0 || len != END_BYTES)
    return protocol_error (error, _("an end frame of %zu bytes"), len + HEADER_BYTES);
  if (read_u64 (p) != graph->nodes_declared || read_u64 (p + 8) != graph->edges_declared ||
      read_u64 (p + 16) != graph->roots_declared)
    return protocol_error (error,
                           _("the end counts %" PRIu64 " objects, %" PRIu64 " references and %" PRIu64
                             " roots; %" PRIu64 ", %" PRIu64 " and %" PRIu64 " came"),
                           read_u64 (p), read_u64 (p + 8), read_u64 (p + 16), graph->nodes_declared,
                           graph->edges_declared, graph->roots_declared);
  complete = read_u32 (p + 24);
  reason = read_u32 (p + 28);
  if (complete > 1 || reason >= N_REASONS || (complete == 1) != (reason == REASON_NONE))
    return protocol_error (error, _("an end frame says complete %u for reason %u"), complete, reason);
  graph->ended = TRUE;
  graph->helper_complete = complete;
  graph->helper_reason = reason;
  graph->gil_max_hold = read_u32 (p + 32) / 1e6;
  graph->walk_seconds = read_u32 (p + 36) / 1e3;
  return TRUE;
}

gboolean
pymemd_heap_graph_add_frame (PymemdHeapGraph *graph, const guint8 *body, gsize len, GError **error)
{
  guint32 request_id, count, extra;
  FrameKind kind;
  gboolean ok;

  if (len < HEADER_BYTES)
    return protocol_error (error, _("a binary frame of %zu bytes"), len);
  if (body[0] != 0 || body[1] != MARKER_GRAPH || body[3] != 0)
    return protocol_error (error, _("a binary frame that is no graph frame"));
  kind = body[2];
  request_id = read_u32 (body + 4);
  count = read_u32 (body + 8);
  extra = read_u32 (body + 12);
  if (request_id != graph->request_id)
    return protocol_error (error, _("a frame of request %u, not %u"), request_id, graph->request_id);
  if (graph->ended)
    return protocol_error (error, _("a frame after the end"));
  if (kind != KIND_NODES && extra != 0)
    return protocol_error (error, _("a frame of kind %u with a reference count"), kind);
  body += HEADER_BYTES;
  len -= HEADER_BYTES;
  switch (kind)
    {
    case KIND_TYPES:
      ok = add_types (graph, body, len, count, error);
      break;
    case KIND_NODES:
      ok = add_nodes (graph, body, len, count, extra, error);
      break;
    case KIND_EDGES:
      ok = add_edges (graph, body, len, count, error);
      break;
    case KIND_ROOTS:
      ok = add_roots (graph, body, len, count, error);
      break;
    case KIND_END:
      ok = add_end (graph, body, len, count, extra, error);
      break;
    case KIND_IMMORTAL:
      ok = add_immortal (graph, body, len, count, error);
      break;
    default:
      return protocol_error (error, _("a frame of unknown kind %u"), kind);
    }
  graph->last_kind = kind;
  graph->any_frame = TRUE;
  return ok;
}

/* ------------------------------------------------------------ analysis */

#define BIT_TEST(bits, i) (((bits)[(i) / 64] >> ((i) % 64)) & 1)
#define BIT_SET(bits, i)  ((bits)[(i) / 64] |= G_GUINT64_CONSTANT (1) << ((i) % 64))

/* One analysis: the graph, consumed as it goes, and what it found. */
typedef struct {
  PymemdHeapGraph  *graph;
  guint32           n;            /* real nodes; R, O and U follow */
  guint32           node_root;    /* R: the roots' parent */
  guint32           node_outside; /* O: what nothing refers to */
  guint32           node_unreachable; /* U: what no root reaches */
  PymemdBigArray    perm;         /* guint32: nodes by address */
  PymemdBigArray    dead;         /* bits: a later declaration of an object */
  guint64           dangling;
  guint64           duplicates;
  guint64           edge_count;   /* resolved references between real nodes */
  PymemdDominators  dom;
  PymemdBigArray    counts;       /* guint32 by number: retained objects */
  PymemdBigArray    child_start;  /* guint32 by number: the dominator tree's children */
  PymemdBigArray    child;
  gsize             peak;
} Analysis;

static void
analysis_clear (Analysis *a)
{
  pymemd_big_array_clear (&a->perm);
  pymemd_big_array_clear (&a->dead);
  pymemd_big_array_clear (&a->counts);
  pymemd_big_array_clear (&a->child_start);
  pymemd_big_array_clear (&a->child);
  pymemd_dominators_clear (&a->dom);
}

static gsize
dominators_footprint (const PymemdDominators *dom)
{
  return pymemd_big_array_footprint (&dom->order) + pymemd_big_array_footprint (&dom->parent) +
         pymemd_big_array_footprint (&dom->idom) + pymemd_big_array_footprint (&dom->pred_start) +
         pymemd_big_array_footprint (&dom->pred);
}

/* Notes what the analysis holds now, for its peak; EXTRA is held besides. */
static void
note_footprint (Analysis *a, gsize extra)
{
  gsize now = pymemd_heap_graph_footprint (a->graph) + pymemd_big_array_footprint (&a->perm) +
              pymemd_big_array_footprint (&a->dead) + pymemd_big_array_footprint (&a->counts) +
              pymemd_big_array_footprint (&a->child_start) + pymemd_big_array_footprint (&a->child) +
              dominators_footprint (&a->dom) + extra;

  a->peak = MAX (a->peak, now);
}

static gint
compare_addresses (gconstpointer pa, gconstpointer pb, gpointer data)
{
  const guint64 *address = data;
  guint32 i = *(const guint32 *) pa, j = *(const guint32 *) pb;

  if (address[i] != address[j])
    return address[i] < address[j] ? -1 : 1;
  return i < j ? -1 : i > j;
}

/* The first node declared at ADDRESS, or NONE. */
static guint32
find_node (const Analysis *a, guint64 address)
{
  const guint64 *addresses = PYMEMD_BIG_ARRAY_U64 (&a->graph->address);
  const guint32 *perm = PYMEMD_BIG_ARRAY_U32 (&a->perm);
  guint32 low = 0, high = a->n;

  while (low < high)
    {
      guint32 mid = low + (high - low) / 2;
      if (addresses[perm[mid]] < address)
        low = mid + 1;
      else
        high = mid;
    }
  return low < a->n && addresses[perm[low]] == address ? perm[low] : NONE;
}

/* Sorts the nodes by address, and marks later declarations of an address
 * dead: the first, which the helper sends complete, stands. */
static gboolean
index_addresses (Analysis *a, GError **error)
{
  const guint64 *addresses = PYMEMD_BIG_ARRAY_U64 (&a->graph->address);
  guint32 *perm;
  guint64 *dead;

  if (!pymemd_big_array_reserve_n (&a->perm, MAX (a->n, 1), sizeof (guint32), error) ||
      !pymemd_big_array_reserve_n (&a->dead, a->n / 64 + 1, sizeof (guint64), error))
    return FALSE;
  perm = PYMEMD_BIG_ARRAY_U32 (&a->perm);
  dead = PYMEMD_BIG_ARRAY_U64 (&a->dead);
  for (guint32 i = 0; i < a->n; i++)
    perm[i] = i;
  g_qsort_with_data (perm, (gint) a->n, sizeof (guint32), compare_addresses, (gpointer) addresses);
  note_footprint (a, (gsize) a->n * sizeof (guint32)); /* the sort's scratch */
  for (guint32 k = 1; k < a->n; k++)
    if (addresses[perm[k]] == addresses[perm[k - 1]])
      {
        BIT_SET (dead, perm[k]);
        a->duplicates++;
      }
  return TRUE;
}

/* Turns each reference's address into its node, in place (4 bytes where
 * there were 8), leaving out those to undeclared objects and those of
 * dead nodes. */
static void
resolve_edges (Analysis *a)
{
  PymemdHeapGraph *graph = a->graph;
  const guint64 *dead = PYMEMD_BIG_ARRAY_U64 (&a->dead);
  const guint64 *targets = PYMEMD_BIG_ARRAY_U64 (&graph->edges);
  guint32 *resolved = PYMEMD_BIG_ARRAY_U32 (&graph->edges);
  guint32 *start = PYMEMD_BIG_ARRAY_U32 (&graph->start);
  guint64 written = 0, begin = start[0];

  /* resolved[w] is written after targets[e] is read, and w <= e: the
   * four bytes at 4w never reach past the eight at 8e. */
  for (guint32 v = 0; v < a->n; v++)
    {
      guint64 end = start[v + 1];

      start[v] = (guint32) written;
      if (!BIT_TEST (dead, v))
        for (guint64 e = begin; e < end; e++)
          {
            guint32 target = find_node (a, targets[e]);
            if (target == NONE)
              a->dangling++;
            else
              resolved[written++] = target;
          }
      begin = end;
    }
  start[a->n] = (guint32) written;
  a->edge_count = written;
  pymemd_big_array_shrink (&graph->edges, written * sizeof (guint32));
}

/* Marks what ROOTS reach (all nodes below N), depth first. */
static void
mark_reached (Analysis *a, guint64 *reached, const guint32 *roots, gsize n_roots, GArray *stack)
{
  const guint32 *start = PYMEMD_BIG_ARRAY_U32 (&a->graph->start);
  const guint32 *edges = PYMEMD_BIG_ARRAY_U32 (&a->graph->edges);

  for (gsize r = 0; r < n_roots; r++)
    {
      if (BIT_TEST (reached, roots[r]))
        continue;
      BIT_SET (reached, roots[r]);
      g_array_append_val (stack, roots[r]);
      while (stack->len > 0)
        {
          guint32 v = g_array_index (stack, guint32, stack->len - 1);
          g_array_set_size (stack, stack->len - 1);
          for (guint32 e = start[v]; e < start[v + 1]; e++)
            if (!BIT_TEST (reached, edges[e]))
              {
                BIT_SET (reached, edges[e]);
                g_array_append_val (stack, edges[e]);
              }
        }
    }
}

/* Adds R, O and U after the real nodes: R refers to every root's object,
 * then to O and U; O to the objects nothing refers to that no root
 * reaches (held by C code or the interpreter); U to what neither reaches
 * (cycles that wait for a collection). */
static gboolean
add_virtual_nodes (Analysis *a, GError **error)
{
  PymemdHeapGraph *graph = a->graph;
  const guint64 *dead = PYMEMD_BIG_ARRAY_U64 (&a->dead);
  const RootRecord *roots = graph->roots.data;
  guint32 *start = PYMEMD_BIG_ARRAY_U32 (&graph->start);
  guint32 *edges = PYMEMD_BIG_ARRAY_U32 (&graph->edges);
  g_autoptr(GArray) stack = g_array_new (FALSE, FALSE, sizeof (guint32));
  PymemdBigArray reached = { 0 }, has_pred = { 0 };
  guint64 *reached_bits, *pred_bits;
  guint64 end = a->edge_count, first;
  gboolean ok = FALSE;

  a->node_root = a->n;
  a->node_outside = a->n + 1;
  a->node_unreachable = a->n + 2;
  if (!pymemd_big_array_reserve_n (&reached, a->n / 64 + 1, sizeof (guint64), error) ||
      !pymemd_big_array_reserve_n (&has_pred, a->n / 64 + 1, sizeof (guint64), error))
    goto out;
  reached_bits = PYMEMD_BIG_ARRAY_U64 (&reached);
  pred_bits = PYMEMD_BIG_ARRAY_U64 (&has_pred);

  /* R: the roots' objects, by their first declaration. */
  first = end;
  for (guint64 r = 0; r < graph->n_roots; r++)
    {
      guint32 node = roots[r].node;
      if (BIT_TEST (dead, node))
        node = find_node (a, PYMEMD_BIG_ARRAY_U64 (&graph->address)[node]);
      edges[end++] = node;
    }
  mark_reached (a, reached_bits, edges + first, end - first, stack);
  edges[end++] = a->node_outside;
  edges[end++] = a->node_unreachable;
  start[a->n + 1] = (guint32) end;

  /* O: live nodes no reference points at, that no root reaches. */
  for (guint64 e = 0; e < a->edge_count; e++)
    BIT_SET (pred_bits, edges[e]);
  first = end;
  for (guint32 v = 0; v < a->n; v++)
    if (!BIT_TEST (dead, v) && !BIT_TEST (reached_bits, v) && !BIT_TEST (pred_bits, v))
      edges[end++] = v;
  mark_reached (a, reached_bits, edges + first, end - first, stack);
  start[a->n + 2] = (guint32) end;

  /* U: the rest of the live nodes. */
  for (guint32 v = 0; v < a->n; v++)
    if (!BIT_TEST (dead, v) && !BIT_TEST (reached_bits, v))
      edges[end++] = v;
  start[a->n + 3] = (guint32) end;
  pymemd_big_array_set_size (&graph->start, (a->n + VIRTUAL_NODES + 1) * sizeof (guint32));
  pymemd_big_array_set_size (&graph->edges, end * sizeof (guint32));
  pymemd_big_array_set_size (&graph->size, (a->n + VIRTUAL_NODES) * sizeof (guint64));
  note_footprint (a, pymemd_big_array_footprint (&reached) + pymemd_big_array_footprint (&has_pred) +
                       stack->len * sizeof (guint32));
  ok = TRUE;

out:
  pymemd_big_array_clear (&reached);
  pymemd_big_array_clear (&has_pred);
  return ok;
}

/* Retained bytes (in place of the sizes, by node) and objects (by number),
 * children after parents in reverse preorder. */
static gboolean
accumulate_retained (Analysis *a, GError **error)
{
  guint64 *size = PYMEMD_BIG_ARRAY_U64 (&a->graph->size);
  const guint32 *order = PYMEMD_BIG_ARRAY_U32 (&a->dom.order);
  const guint32 *idom = PYMEMD_BIG_ARRAY_U32 (&a->dom.idom);
  guint32 n = a->dom.n_reached;
  guint32 *counts;

  if (!pymemd_big_array_reserve_n (&a->counts, (gsize) n + 1, sizeof (guint32), error))
    return FALSE;
  counts = PYMEMD_BIG_ARRAY_U32 (&a->counts);
  size[a->node_root] = size[a->node_outside] = size[a->node_unreachable] = 0;
  for (guint32 i = 1; i <= n; i++)
    counts[i] = order[i] < a->n;
  for (guint32 i = n; i >= 2; i--)
    {
      size[order[idom[i]]] += size[order[i]];
      counts[idom[i]] += counts[i];
    }
  return TRUE;
}

/* The dominator tree's children of each number, by number. */
static gboolean
index_children (Analysis *a, GError **error)
{
  const guint32 *idom = PYMEMD_BIG_ARRAY_U32 (&a->dom.idom);
  guint32 n = a->dom.n_reached;
  guint32 *start, *child;

  if (!pymemd_big_array_reserve_n (&a->child_start, (gsize) n + 2, sizeof (guint32), error) ||
      !pymemd_big_array_reserve_n (&a->child, (gsize) n + 1, sizeof (guint32), error))
    return FALSE;
  start = PYMEMD_BIG_ARRAY_U32 (&a->child_start);
  child = PYMEMD_BIG_ARRAY_U32 (&a->child);
  for (guint32 i = 2; i <= n; i++)
    start[idom[i] + 1]++;
  for (guint32 i = 1; i <= n + 1; i++)
    start[i] += start[i - 1];
  /* Filled with start[] as cursors, then shifted back. */
  for (guint32 i = 2; i <= n; i++)
    child[start[idom[i]]++] = i;
  for (guint32 i = n + 1; i >= 1; i--)
    start[i] = start[i - 1];
  start[0] = 0;
  note_footprint (a, 0);
  return TRUE;
}

static guint64
retained_of (const Analysis *a, guint32 number)
{
  return PYMEMD_BIG_ARRAY_U64 (&a->graph->size)[PYMEMD_BIG_ARRAY_U32 (&a->dom.order)[number]];
}

/* A selected holder: its number, depth, and the holder it is listed
 * under (its number; 0 at depth 0). */
typedef struct {
  guint32 number;
  guint32 depth;
  guint32 under;
} Pick;

static gint
compare_picks (gconstpointer pa, gconstpointer pb, gpointer data)
{
  const Pick *x = pa, *y = pb;
  guint64 rx = retained_of (data, x->number), ry = retained_of (data, y->number);

  if (rx != ry)
    return rx > ry ? -1 : 1;
  return x->number < y->number ? -1 : x->number > y->number;
}

/* Inserts PICK into FRONTIER, kept largest first. */
static void
frontier_insert (Analysis *a, GArray *frontier, const Pick *pick)
{
  guint low = 0, high = frontier->len;

  while (low < high)
    {
      guint mid = low + (high - low) / 2;
      if (compare_picks (&g_array_index (frontier, Pick, mid), pick, a) < 0)
        low = mid + 1;
      else
        high = mid;
    }
  g_array_insert_val (frontier, low, *pick);
}

/* Offers the objects PICK holds as holders nested under it: those that
 * keep a NESTED_SHARE of its bytes. One that keeps nearly all of them (an
 * instance's __dict__, a list of one item) only leads on: the first object
 * down such a chain that no one object dominates is where the memory
 * accumulates (as Eclipse MAT's leak suspects), and is offered in its
 * stead. */
static void
offer_nested (Analysis *a, GArray *frontier, const Pick *pick)
{
  const guint32 *child_start = PYMEMD_BIG_ARRAY_U32 (&a->child_start);
  const guint32 *child = PYMEMD_BIG_ARRAY_U32 (&a->child);
  guint64 retained = retained_of (a, pick->number);
  guint32 number = pick->number;

  for (guint steps = 0; steps < MAX_WRAPPERS; steps++)
    {
      guint32 next = 0;

      for (guint32 c = child_start[number]; c < child_start[number + 1] && next == 0; c++)
        if (retained_of (a, child[c]) >= retained - retained / WRAPPER_SHARE_OF)
          next = child[c];
      /* The accumulation point's own holders come under it. */
      if (next == 0 && number != pick->number)
        break;
      for (guint32 c = child_start[number]; c < child_start[number + 1]; c++)
        {
          Pick nested = { child[c], pick->depth + 1, pick->number };
          guint64 held = retained_of (a, nested.number);

          if (nested.number != next && held >= NESTED_MIN && held >= retained / NESTED_SHARE)
            frontier_insert (a, frontier, &nested);
        }
      if (next == 0)
        break;
      number = next;
    }
  if (number != pick->number)
    {
      Pick accumulation = { number, pick->depth + 1, pick->number };
      frontier_insert (a, frontier, &accumulation);
    }
}

/* The holders: the largest children of R (the roots' objects, what
 * several roots share, and the groups O and U), and under a listed holder
 * what offer_nested () offers, largest first, MAX_HOLDERS in all. */
static GArray *
pick_holders (Analysis *a, guint max_holders)
{
  const guint32 *child_start = PYMEMD_BIG_ARRAY_U32 (&a->child_start);
  const guint32 *child = PYMEMD_BIG_ARRAY_U32 (&a->child);
  g_autoptr(GArray) frontier = g_array_new (FALSE, FALSE, sizeof (Pick));
  GArray *picked = g_array_new (FALSE, FALSE, sizeof (Pick));

  for (guint32 c = child_start[1]; c < child_start[2]; c++)
    {
      Pick pick = { child[c], 0, 0 };
      if (retained_of (a, pick.number) > 0)
        g_array_append_val (frontier, pick);
    }
  g_array_sort_with_data (frontier, compare_picks, a);
  if (frontier->len > max_holders)
    g_array_set_size (frontier, max_holders);
  while (frontier->len > 0 && picked->len < max_holders)
    {
      Pick pick = g_array_index (frontier, Pick, 0);

      g_array_remove_index (frontier, 0);
      g_array_append_val (picked, pick);
      if (pick.depth + 1 < MAX_DEPTH)
        offer_nested (a, frontier, &pick);
    }
  return picked;
}

/* Whether number I is a child of R in the graph: a root's object, or one
 * of O and U. Predecessors are listed by increasing number
 * (build_predecessors ()), so R (1) is first where it is one. */
static gboolean
is_root_child (const Analysis *a, guint32 i)
{
  const guint32 *pred_start = PYMEMD_BIG_ARRAY_U32 (&a->dom.pred_start);
  const guint32 *pred = PYMEMD_BIG_ARRAY_U32 (&a->dom.pred);

  return pred_start[i] < pred_start[i + 1] && pred[pred_start[i]] == 1;
}

/* The shortest path (by number) from a child of R to number TO, found
 * backwards over the predecessors, PATH_SEARCH numbers and PATH_EXAMINED
 * references at most; else the depth-first tree's path. */
static GArray *
find_path (const Analysis *a, guint32 to)
{
  const guint32 *pred_start = PYMEMD_BIG_ARRAY_U32 (&a->dom.pred_start);
  const guint32 *pred = PYMEMD_BIG_ARRAY_U32 (&a->dom.pred);
  const guint32 *parent = PYMEMD_BIG_ARRAY_U32 (&a->dom.parent);
  g_autoptr(GHashTable) came_from = g_hash_table_new (NULL, NULL);
  g_autoptr(GArray) queue = g_array_new (FALSE, FALSE, sizeof (guint32));
  GArray *path = g_array_new (FALSE, FALSE, sizeof (guint32));
  guint32 found = 0;
  guint64 examined = 0;

  g_array_append_val (queue, to);
  g_hash_table_insert (came_from, GUINT_TO_POINTER (to), GUINT_TO_POINTER (to));
  /* Bounded in references looked at too: one object may have millions of
   * referrers (a helper chooses). */
  for (guint head = 0; head < queue->len && found == 0 && queue->len < PATH_SEARCH && examined < PATH_EXAMINED;
       head++)
    {
      guint32 i = g_array_index (queue, guint32, head);

      if (is_root_child (a, i))
        {
          found = i;
          break;
        }
      for (guint32 e = pred_start[i]; e < pred_start[i + 1] && queue->len < PATH_SEARCH && examined < PATH_EXAMINED;
           e++, examined++)
        if (pred[e] != 1 && !g_hash_table_contains (came_from, GUINT_TO_POINTER (pred[e])))
          {
            g_hash_table_insert (came_from, GUINT_TO_POINTER (pred[e]), GUINT_TO_POINTER (i));
            g_array_append_val (queue, pred[e]);
          }
    }
  if (found != 0)
    for (guint32 i = found;; i = GPOINTER_TO_UINT (g_hash_table_lookup (came_from, GUINT_TO_POINTER (i))))
      {
        g_array_append_val (path, i);
        if (i == to)
          break;
      }
  else
    {
      /* Appended and turned around: prepending would cost the square of
       * the depth, which a helper chooses (a chain of a million objects). */
      for (guint32 i = to; i > 1; i = parent[i])
        g_array_append_val (path, i);
      for (guint k = 0; k < path->len / 2; k++)
        {
          guint32 swap = g_array_index (path, guint32, k);

          g_array_index (path, guint32, k) = g_array_index (path, guint32, path->len - 1 - k);
          g_array_index (path, guint32, path->len - 1 - k) = swap;
        }
    }
  return path;
}

static const char *
type_name_of (const Analysis *a, guint32 node)
{
  guint32 type = PYMEMD_BIG_ARRAY_U32 (&a->graph->type)[node] & ~TRACKED;

  return type < a->graph->type_names->len ? g_ptr_array_index (a->graph->type_names, type) : "?";
}

/* A holder for pick P, with its path; FROM_ROOT says whether the path
 * starts at a root's object. */
static PymemdHolder *
make_holder (Analysis *a, const Pick *p, gboolean *from_root)
{
  const guint32 *order = PYMEMD_BIG_ARRAY_U32 (&a->dom.order);
  const guint32 *counts = PYMEMD_BIG_ARRAY_U32 (&a->counts);
  const guint32 *child_start = PYMEMD_BIG_ARRAY_U32 (&a->child_start);
  const guint32 *child = PYMEMD_BIG_ARRAY_U32 (&a->child);
  const guint64 *address = PYMEMD_BIG_ARRAY_U64 (&a->graph->address);
  PymemdHolder *holder = g_new0 (PymemdHolder, 1);
  guint32 node = order[p->number];
  guint64 children = 0;
  g_autoptr(GArray) path = NULL;

  holder->depth = p->depth;
  holder->retained_bytes = retained_of (a, p->number);
  holder->retained_objects = counts[p->number];
  for (guint32 c = child_start[p->number]; c < child_start[p->number + 1]; c++)
    children += retained_of (a, child[c]);
  holder->shallow_bytes = holder->retained_bytes - children;
  holder->path = g_array_new (FALSE, FALSE, sizeof (guint64));
  holder->path_types = g_ptr_array_new_with_free_func (g_free);
  *from_root = FALSE;
  if (node == a->node_outside || node == a->node_unreachable)
    {
      holder->kind = node == a->node_outside ? PYMEMD_HOLDER_OUTSIDE : PYMEMD_HOLDER_UNREACHABLE;
      return holder;
    }
  holder->type = g_strdup (type_name_of (a, node));
  holder->address = address[node];
  path = find_path (a, p->number);
  if (p->depth > 0)
    holder->kind = PYMEMD_HOLDER_NESTED;
  else
    holder->kind = g_array_index (path, guint32, 0) == p->number ? PYMEMD_HOLDER_ROOT : PYMEMD_HOLDER_SHARED;
  for (guint k = 0; k < path->len; k++)
    {
      guint32 v = order[g_array_index (path, guint32, k)];
      if (v >= a->n)
        continue; /* O or U: the path starts at what they hold */
      if (holder->path->len == MAX_PATH - 1 && k + 1 < path->len)
        {
          /* A long path: its beginning, and the holder. */
          holder->elided = path->len - 1 - k;
          continue;
        }
      g_array_append_val (holder->path, address[v]);
      g_ptr_array_add (holder->path_types, g_strdup (type_name_of (a, v)));
    }
  *from_root = order[g_array_index (path, guint32, 0)] < a->n;
  return holder;
}

/* The first root record of the first object of each holder whose path
 * starts at a root (FROM_ROOT, gboolean by holder). */
static void
name_roots (const Analysis *a, GPtrArray *holders, GArray *from_root)
{
  const RootRecord *roots = a->graph->roots.data;
  const guint64 *address = PYMEMD_BIG_ARRAY_U64 (&a->graph->address);
  g_autoptr(GHashTable) wanted = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL,
                                                        (GDestroyNotify) g_ptr_array_unref);

  /* The first object's address -> the holders whose path starts there. */
  for (guint i = 0; i < holders->len; i++)
    {
      PymemdHolder *holder = g_ptr_array_index (holders, i);
      GPtrArray *same;

      if (!g_array_index (from_root, gboolean, i))
        continue;
      same = g_hash_table_lookup (wanted, &g_array_index (holder->path, guint64, 0));
      if (same == NULL)
        {
          same = g_ptr_array_new ();
          g_hash_table_insert (wanted, &g_array_index (holder->path, guint64, 0), same);
        }
      g_ptr_array_add (same, holder);
    }
  for (guint64 r = 0; r < a->graph->n_roots && g_hash_table_size (wanted) > 0; r++)
    {
      guint64 target = address[roots[r].node];
      GPtrArray *same = g_hash_table_lookup (wanted, &target);

      if (same == NULL)
        continue;
      for (guint i = 0; i < same->len; i++)
        {
          PymemdHolder *holder = g_ptr_array_index (same, i);
          holder->root_kind = roots[r].kind;
          holder->root_container = roots[r].container;
        }
      g_hash_table_remove (wanted, &target);
    }
}

/* The holders in tree order: each after the one it is nested in, the
 * largest first among those of one holder. */
static GPtrArray *
holders_in_tree_order (Analysis *a, GArray *picked)
{
  GPtrArray *holders = g_ptr_array_new_with_free_func ((GDestroyNotify) pymemd_holder_free);
  g_autoptr(GArray) stack = g_array_new (FALSE, FALSE, sizeof (Pick));
  g_autoptr(GArray) from_root = g_array_new (FALSE, FALSE, sizeof (gboolean));

  g_array_sort_with_data (picked, compare_picks, a);
  for (guint i = picked->len; i-- > 0;)
    if (g_array_index (picked, Pick, i).depth == 0)
      g_array_append_val (stack, g_array_index (picked, Pick, i));
  while (stack->len > 0)
    {
      Pick pick = g_array_index (stack, Pick, stack->len - 1);
      gboolean rooted;

      g_array_set_size (stack, stack->len - 1);
      g_ptr_array_add (holders, make_holder (a, &pick, &rooted));
      g_array_append_val (from_root, rooted);
      /* Its nested ones, pushed smallest first so that the largest comes next. */
      for (guint i = picked->len; i-- > 0;)
        {
          Pick *nested = &g_array_index (picked, Pick, i);
          if (nested->depth == pick.depth + 1 && nested->under == pick.number)
            g_array_append_val (stack, *nested);
        }
    }
  name_roots (a, holders, from_root);
  return holders;
}

static char *
incomplete_reason (const PymemdHeapGraph *graph)
{
  g_autofree char *memory = g_format_size_full (graph->memory, G_FORMAT_SIZE_IEC_UNITS);

  if (graph->cut)
    return g_strdup_printf (_("the graph needed more than the %s the daemon gives an analysis ([limits] "
                              "graph-memory-mib): retained sizes count only what fitted"),
                            memory);
  switch (graph->helper_reason)
    {
    case REASON_OBJECTS:
      return g_strdup_printf (_("the heap has more than the %" PRIu64 " objects the daemon takes "
                                "([limits] graph-memory-mib)"),
                              graph->max_objects);
    case REASON_EDGES:
      return g_strdup_printf (_("the heap has more than the %" PRIu64 " references the daemon takes "
                                "([limits] graph-memory-mib)"),
                              graph->max_edges);
    case REASON_TIME:
      return g_strdup (_("the helper's walk used up its time budget (budget)"));
    case REASON_FAILED:
      return g_strdup (_("the helper's walk failed part way"));
    case REASON_NONE:
    case N_REASONS:
    default:
      return NULL;
    }
}

PymemdRetained *
pymemd_heap_graph_analyse (PymemdHeapGraph *graph, guint max_holders, GError **error)
{
  g_autoptr(PymemdHeapGraph) owned = graph;
  g_autoptr(PymemdRetained) retained = pymemd_retained_new ();
  g_autoptr(GArray) picked = NULL;
  gint64 began = g_get_monotonic_time ();
  Analysis a = { .graph = graph, .n = graph->n_nodes };
  PymemdDigraph digraph = { 0 };
  const guint64 *size;
  gboolean ok = FALSE;

  g_return_val_if_fail (graph->ended, NULL);

  retained->complete = graph->helper_complete && !graph->cut;
  retained->incomplete = incomplete_reason (graph);
  retained->walk_seconds = graph->walk_seconds;
  retained->gil_max_hold = graph->gil_max_hold;
  retained->roots = graph->n_roots;
  if (graph->n_nodes == 0)
    {
      retained->analysis_seconds = (double) (g_get_monotonic_time () - began) / G_USEC_PER_SEC;
      return g_steal_pointer (&retained);
    }
  note_footprint (&a, 0);
  if (!index_addresses (&a, error))
    goto out;
  resolve_edges (&a);
  if (!add_virtual_nodes (&a, error))
    goto out;
  pymemd_big_array_clear (&a.perm);

  digraph.n_nodes = a.n + VIRTUAL_NODES;
  digraph.succ_start = graph->start;
  digraph.succ = graph->edges;
  memset (&graph->start, 0, sizeof graph->start);
  memset (&graph->edges, 0, sizeof graph->edges);
  if (!pymemd_dominators_compute (&digraph, a.node_root, &a.dom, error))
    goto out;
  a.peak = MAX (a.peak, pymemd_heap_graph_footprint (graph) + pymemd_big_array_footprint (&a.dead) +
                          a.dom.peak_bytes);
  if (!accumulate_retained (&a, error) || !index_children (&a, error))
    goto out;

  size = PYMEMD_BIG_ARRAY_U64 (&graph->size);
  retained->objects = PYMEMD_BIG_ARRAY_U32 (&a.counts)[1];
  retained->references = a.edge_count;
  retained->dangling = a.dangling;
  retained->duplicates = a.duplicates;
  retained->bytes = size[a.node_root];
  retained->outside_bytes = size[a.node_outside];
  retained->unreachable_bytes = size[a.node_unreachable];
  {
    const guint32 *order = PYMEMD_BIG_ARRAY_U32 (&a.dom.order);
    const guint32 *counts = PYMEMD_BIG_ARRAY_U32 (&a.counts);
    for (guint32 i = 1; i <= a.dom.n_reached; i++)
      if (order[i] == a.node_outside)
        retained->outside_objects = counts[i];
      else if (order[i] == a.node_unreachable)
        retained->unreachable_objects = counts[i];
  }
  picked = pick_holders (&a, CLAMP (max_holders, 1, 1000));
  g_ptr_array_unref (retained->holders);
  retained->holders = holders_in_tree_order (&a, picked);
  ok = TRUE;

out:
  pymemd_digraph_clear (&digraph);
  analysis_clear (&a);
  retained->memory_peak = a.peak;
  retained->analysis_seconds = (double) (g_get_monotonic_time () - began) / G_USEC_PER_SEC;
  return ok ? g_steal_pointer (&retained) : NULL;
}
