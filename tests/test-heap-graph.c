/* Tests the object graph module (daemon/inspect/pymemd-heap-graph.c) and the holders it finds (daemon/inspect/pymemd-retained.c) on frames built here: retained sizes of known graphs, the roots, what nothing or no root reaches, duplicates and dangling references, every malformed frame, the memory budget, names, and a million objects. */
#include "config.h"

#include <string.h>

#include "pymemd-error.h"
#include "pymemd-heap-graph.h"

#define ID 7
#define TRACKED (1u << 31)

/* ---- frames ---- */

static GByteArray *
frame_begin (guint kind, guint32 count, guint32 extra)
{
  GByteArray *frame = g_byte_array_new ();
  guint8 head[4] = { 0, 'G', (guint8) kind, 0 };
  guint32 words[3] = { GUINT32_TO_LE (ID), GUINT32_TO_LE (count), GUINT32_TO_LE (extra) };

  g_byte_array_append (frame, head, sizeof head);
  g_byte_array_append (frame, (const guint8 *) words, sizeof words);
  return frame;
}

static void
put_u32 (GByteArray *frame, guint32 value)
{
  value = GUINT32_TO_LE (value);
  g_byte_array_append (frame, (const guint8 *) &value, sizeof value);
}

static void
put_u64 (GByteArray *frame, guint64 value)
{
  value = GUINT64_TO_LE (value);
  g_byte_array_append (frame, (const guint8 *) &value, sizeof value);
}

static GByteArray *
types_frame (const char *const *names)
{
  guint n = g_strv_length ((char **) names);
  GByteArray *frame = frame_begin (1, n, 0);

  for (guint i = 0; i < n; i++)
    {
      guint16 len = GUINT16_TO_LE ((guint16) strlen (names[i]));
      g_byte_array_append (frame, (const guint8 *) &len, 2);
      g_byte_array_append (frame, (const guint8 *) names[i], (guint) strlen (names[i]));
    }
  return frame;
}

/* An object: its address, size, type (| TRACKED), and references (0-ended). */
typedef struct {
  guint64 address;
  guint64 size;
  guint32 type;
  guint64 refs[8];
} Obj;

static GByteArray *
nodes_frame (const Obj *objs, guint n)
{
  guint32 edges = 0;
  GByteArray *frame;

  for (guint i = 0; i < n; i++)
    for (guint k = 0; k < 8 && objs[i].refs[k] != 0; k++)
      edges++;
  frame = frame_begin (2, n, edges);
  for (guint i = 0; i < n; i++)
    put_u64 (frame, objs[i].address);
  for (guint i = 0; i < n; i++)
    put_u64 (frame, objs[i].size);
  for (guint i = 0; i < n; i++)
    put_u32 (frame, objs[i].type);
  for (guint i = 0; i < n; i++)
    {
      guint32 count = 0;
      while (count < 8 && objs[i].refs[count] != 0)
        count++;
      put_u32 (frame, count);
    }
  for (guint i = 0; i < n; i++)
    for (guint k = 0; k < 8 && objs[i].refs[k] != 0; k++)
      put_u64 (frame, objs[i].refs[k]);
  return frame;
}

static GByteArray *
roots_frame (guint kind, guint64 container, const guint32 *nodes, guint n)
{
  GByteArray *frame = frame_begin (4, n, 0);

  for (guint i = 0; i < n; i++)
    put_u64 (frame, container);
  for (guint i = 0; i < n; i++)
    put_u32 (frame, nodes[i]);
  for (guint i = 0; i < n; i++)
    g_byte_array_append (frame, (const guint8 *) &(guint8){ (guint8) kind }, 1);
  return frame;
}

static GByteArray *
end_frame (guint64 nodes, guint64 edges, guint64 roots, guint32 reason)
{
  GByteArray *frame = frame_begin (5, 0, 0);

  put_u64 (frame, nodes);
  put_u64 (frame, edges);
  put_u64 (frame, roots);
  put_u32 (frame, reason == 0);
  put_u32 (frame, reason);
  put_u32 (frame, 1500);  /* 1.5 ms */
  put_u32 (frame, 250);   /* 0.25 s */
  return frame;
}

static gboolean
add (PymemdHeapGraph *graph, GByteArray *frame, GError **error)
{
  gboolean ok = pymemd_heap_graph_add_frame (graph, frame->data, frame->len, error);

  g_byte_array_unref (frame);
  return ok;
}

static void
add_ok (PymemdHeapGraph *graph, GByteArray *frame)
{
  g_autoptr(GError) error = NULL;

  add (graph, frame, &error);
  g_assert_no_error (error);
}

static const char *const type_names[] = { "builtins.list", "builtins.dict", "builtins.bytearray", "__main__.App",
                                          NULL };
enum { LIST, DICT, BYTEARRAY, APP };

static PymemdHeapGraph *
graph_new (void)
{
  PymemdHeapGraph *graph = pymemd_heap_graph_new (ID, 1000, 1000, 1 << 20);

  add_ok (graph, types_frame (type_names));
  return graph;
}

static PymemdRetained *
analyse (PymemdHeapGraph *graph, guint holders)
{
  g_autoptr(GError) error = NULL;
  PymemdRetained *retained = pymemd_heap_graph_analyse (graph, holders, &error);

  g_assert_no_error (error);
  g_assert_nonnull (retained);
  pymemd_retained_set_names (retained, NULL);
  return retained;
}

static const PymemdHolder *
holder_at (const PymemdRetained *retained, guint64 address)
{
  for (guint i = 0; i < retained->holders->len; i++)
    {
      const PymemdHolder *holder = g_ptr_array_index (retained->holders, i);
      if (holder->address == address)
        return holder;
    }
  g_error ("no holder at %#" G_GINT64_MODIFIER "x", address);
  return NULL;
}

static const PymemdHolder *
holder_of_kind (const PymemdRetained *retained, PymemdHolderKind kind)
{
  for (guint i = 0; i < retained->holders->len; i++)
    {
      const PymemdHolder *holder = g_ptr_array_index (retained->holders, i);
      if (holder->kind == kind)
        return holder;
    }
  return NULL;
}

/* ---- known graphs ---- */

/* Two globals: app (App) holds its dict, which holds a cache (dict) with a
 * list of two bytearrays; and both globals share one more bytearray.
 *
 *   app 0x100 (48) → 0x110 dict (100) → 0x120 cache (200) → 0x130 list (80)
 *        → 0x140 (1 MiB), 0x150 (2 MiB); 0x110 → 0x160 (3 MiB, shared)
 *   other 0x200 (list, 56) → 0x160
 */
static void
test_retained (void)
{
  PymemdHeapGraph *graph = graph_new ();
  g_autoptr(PymemdRetained) retained = NULL;
  const Obj objs[] = {
    { 0x100, 48, APP | TRACKED, { 0x110 } },
    { 0x110, 100, DICT | TRACKED, { 0x120, 0x160 } },
    { 0x120, 200, DICT | TRACKED, { 0x130 } },
    { 0x130, 80, LIST | TRACKED, { 0x140, 0x150 } },
    { 0x140, 1 << 20, BYTEARRAY },
    { 0x150, 2 << 20, BYTEARRAY },
    { 0x160, 3 << 20, BYTEARRAY },
    { 0x200, 56, LIST | TRACKED, { 0x160 } },
  };
  const guint32 roots[] = { 0, 7 };
  const PymemdHolder *app, *list, *shared;

  add_ok (graph, nodes_frame (objs, G_N_ELEMENTS (objs)));
  add_ok (graph, roots_frame (1, 0xabc, roots, 2));
  add_ok (graph, end_frame (8, 7, 2, 0));
  g_assert_true (pymemd_heap_graph_is_ended (graph));
  retained = analyse (graph, 20);

  g_assert_true (retained->complete);
  g_assert_null (retained->incomplete);
  g_assert_cmpuint (retained->objects, ==, 8);
  g_assert_cmpuint (retained->references, ==, 7);
  g_assert_cmpuint (retained->roots, ==, 2);
  g_assert_cmpuint (retained->bytes, ==, 48 + 100 + 200 + 80 + (6 << 20) + 56);
  g_assert_cmpfloat (retained->gil_max_hold, ==, 0.0015);
  g_assert_cmpfloat (retained->walk_seconds, ==, 0.25);

  app = holder_at (retained, 0x100);
  g_assert_cmpint (app->kind, ==, PYMEMD_HOLDER_ROOT);
  g_assert_cmpint (app->root_kind, ==, PYMEMD_ROOT_GLOBAL);
  g_assert_cmpuint (app->root_container, ==, 0xabc);
  g_assert_cmpuint (app->depth, ==, 0);
  g_assert_cmpuint (app->retained_bytes, ==, 48 + 100 + 200 + 80 + (3 << 20));
  g_assert_cmpuint (app->retained_objects, ==, 6);
  g_assert_cmpuint (app->shallow_bytes, ==, 48);
  g_assert_cmpstr (app->type, ==, "__main__.App");
  g_assert_cmpuint (app->path->len, ==, 1);

  /* The dict and the cache each keep nearly all of app's bytes: they only
   * lead to the list, where the memory accumulates, listed under app with
   * the path from the root; the list's two bytearrays under it. */
  list = holder_at (retained, 0x130);
  g_assert_cmpint (list->kind, ==, PYMEMD_HOLDER_NESTED);
  g_assert_cmpuint (list->depth, ==, 1);
  g_assert_cmpuint (list->retained_bytes, ==, 80 + (3 << 20));
  g_assert_cmpuint (list->shallow_bytes, ==, 80);
  g_assert_cmpuint (list->path->len, ==, 4);
  g_assert_cmpuint (g_array_index (list->path, guint64, 0), ==, 0x100);
  g_assert_cmpuint (g_array_index (list->path, guint64, 1), ==, 0x110);
  g_assert_cmpuint (g_array_index (list->path, guint64, 2), ==, 0x120);
  g_assert_cmpuint (g_array_index (list->path, guint64, 3), ==, 0x130);
  g_assert_cmpstr (list->path_text, ==, "(__main__.App) → (builtins.dict) → (builtins.dict) → (builtins.list)");
  g_assert_cmpuint (holder_at (retained, 0x150)->depth, ==, 2);
  g_assert_cmpuint (holder_at (retained, 0x140)->depth, ==, 2);
  g_assert_cmpuint (holder_at (retained, 0x150)->retained_bytes, ==, 2 << 20);

  /* Held by both roots: neither frees it. */
  shared = holder_at (retained, 0x160);
  g_assert_cmpint (shared->kind, ==, PYMEMD_HOLDER_SHARED);
  g_assert_cmpuint (shared->retained_bytes, ==, 3 << 20);

  /* Largest first, each nested holder right after its holder. */
  for (guint i = 0; i < retained->holders->len; i++)
    {
      const PymemdHolder *h = g_ptr_array_index (retained->holders, i);
      g_test_message ("%u %#" G_GINT64_MODIFIER "x %s %" G_GUINT64_FORMAT, h->depth, h->address, h->path_text,
                      h->retained_bytes);
    }
  g_assert_cmpuint (retained->holders->len, ==, 6);
  g_assert_true (g_ptr_array_index (retained->holders, 0) == app);
  g_assert_true (g_ptr_array_index (retained->holders, 1) == list);
  g_assert_true (g_ptr_array_index (retained->holders, 2) == holder_at (retained, 0x150));
  g_assert_true (g_ptr_array_index (retained->holders, 3) == holder_at (retained, 0x140));
  g_assert_true (g_ptr_array_index (retained->holders, 4) == shared);
  g_assert_cmpuint (retained->outside_bytes, ==, 0);
  g_assert_cmpuint (retained->unreachable_bytes, ==, 0);
}

/* A cycle no root reaches (garbage), an object nothing refers to (held by
 * C code) and what it holds. */
static void
test_groups (void)
{
  PymemdHeapGraph *graph = graph_new ();
  g_autoptr(PymemdRetained) retained = NULL;
  const Obj objs[] = {
    { 0x100, 100, LIST | TRACKED },
    { 0x300, 1000, LIST | TRACKED, { 0x310 } },
    { 0x310, 2000, LIST | TRACKED, { 0x300 } },
    { 0x400, 10000, DICT | TRACKED, { 0x410 } },
    { 0x410, 20000, BYTEARRAY },
  };
  const guint32 roots[] = { 0 };
  const PymemdHolder *outside, *unreachable;

  add_ok (graph, nodes_frame (objs, G_N_ELEMENTS (objs)));
  add_ok (graph, roots_frame (2, 0xabc, roots, 1));
  add_ok (graph, end_frame (5, 3, 1, 0));
  retained = analyse (graph, 20);

  g_assert_cmpuint (retained->unreachable_bytes, ==, 3000);
  g_assert_cmpuint (retained->unreachable_objects, ==, 2);
  g_assert_cmpuint (retained->outside_bytes, ==, 30000);
  g_assert_cmpuint (retained->outside_objects, ==, 2);
  outside = holder_of_kind (retained, PYMEMD_HOLDER_OUTSIDE);
  unreachable = holder_of_kind (retained, PYMEMD_HOLDER_UNREACHABLE);
  g_assert_nonnull (outside);
  g_assert_nonnull (unreachable);
  g_assert_null (outside->type);
  g_assert_cmpuint (outside->retained_bytes, ==, 30000);
  g_assert_cmpuint (unreachable->retained_bytes, ==, 3000);
  /* The object nothing refers to holds all of the group: listed under it. */
  g_assert_cmpint (holder_at (retained, 0x400)->kind, ==, PYMEMD_HOLDER_NESTED);
  g_assert_cmpint (holder_at (retained, 0x400)->root_kind, ==, PYMEMD_ROOT_NONE);
  g_assert_cmpint (holder_at (retained, 0x100)->root_kind, ==, PYMEMD_ROOT_CLASS_ATTRIBUTE);
}

/* An object declared twice counts once (the first declaration stands);
 * references to undeclared objects and to objects never freed (address 0)
 * are left out; a root naming the second declaration finds the first. */
static void
test_duplicates_and_dangling (void)
{
  PymemdHeapGraph *graph = graph_new ();
  g_autoptr(PymemdRetained) retained = NULL;
  const Obj first[] = {
    { 0x100, 100, LIST | TRACKED, { 0x110, 0x999 } },
    { 0x110, 1000, BYTEARRAY },
  };
  const Obj again[] = {
    { 0x110, 5000, BYTEARRAY },
    { 0x100, 7, LIST | TRACKED, { 0x110 } },
  };
  const guint32 roots[] = { 3 };
  GByteArray *frame;

  add_ok (graph, nodes_frame (first, 2));
  add_ok (graph, nodes_frame (again, 2));
  /* One more node whose references are all to objects never freed. */
  frame = frame_begin (2, 1, 2);
  put_u64 (frame, 0x500);
  put_u64 (frame, 64);
  put_u32 (frame, LIST | TRACKED);
  put_u32 (frame, 2);
  put_u64 (frame, 0);
  put_u64 (frame, 0);
  add_ok (graph, frame);
  add_ok (graph, roots_frame (1, 0xabc, roots, 1));
  add_ok (graph, end_frame (5, 5, 1, 0));
  retained = analyse (graph, 20);

  g_assert_cmpuint (retained->duplicates, ==, 2);
  g_assert_cmpuint (retained->dangling, ==, 1);
  g_assert_cmpuint (retained->references, ==, 1);
  g_assert_cmpuint (holder_at (retained, 0x100)->retained_bytes, ==, 1100);
  g_assert_cmpint (holder_at (retained, 0x100)->kind, ==, PYMEMD_HOLDER_ROOT);
  g_assert_cmpuint (retained->outside_bytes, ==, 64);
}

/* Edges frames go on with the node declared last. */
static void
test_edges_frames (void)
{
  PymemdHeapGraph *graph = graph_new ();
  g_autoptr(PymemdRetained) retained = NULL;
  const Obj big[] = { { 0x100, 100, LIST | TRACKED, { 0x200 } } };
  const Obj items[] = { { 0x200, 10, BYTEARRAY }, { 0x210, 20, BYTEARRAY }, { 0x220, 30, BYTEARRAY } };
  const guint32 roots[] = { 0 };
  GByteArray *frame = frame_begin (3, 2, 0);

  put_u64 (frame, 0x210);
  put_u64 (frame, 0x220);
  add_ok (graph, nodes_frame (big, 1));
  add_ok (graph, frame);
  add_ok (graph, nodes_frame (items, 3));
  add_ok (graph, roots_frame (1, 0xabc, roots, 1));
  add_ok (graph, end_frame (4, 3, 1, 0));
  retained = analyse (graph, 20);
  g_assert_cmpuint (holder_at (retained, 0x100)->retained_bytes, ==, 160);
  g_assert_cmpuint (holder_at (retained, 0x100)->retained_objects, ==, 4);
}

/* The helper names the objects never freed (None, small ints, ...) first:
 * references to them are left out, neither kept nor counted as dangling. */
static void
test_immortal (void)
{
  PymemdHeapGraph *graph = graph_new ();
  g_autoptr(PymemdRetained) retained = NULL;
  const Obj objs[] = { { 0x100, 56, LIST | TRACKED, { 0x900, 0x110, 0x908 } }, { 0x110, 1000, BYTEARRAY } };
  const guint32 roots[] = { 0 };
  GByteArray *frame = frame_begin (6, 2, 0);

  put_u64 (frame, 0x900);
  put_u64 (frame, 0x908);
  add_ok (graph, frame);
  add_ok (graph, nodes_frame (objs, 2));
  add_ok (graph, roots_frame (1, 0xabc, roots, 1));
  add_ok (graph, end_frame (2, 3, 1, 0));
  retained = analyse (graph, 20);
  g_assert_cmpuint (retained->dangling, ==, 0);
  g_assert_cmpuint (retained->objects, ==, 2);
  g_assert_cmpuint (holder_at (retained, 0x100)->retained_bytes, ==, 1056);
  g_assert_cmpuint (holder_at (retained, 0x100)->retained_objects, ==, 2);
}

/* ---- malformed frames ---- */

typedef GByteArray *(*FrameMaker) (void);

static GByteArray *
one_node (guint64 address, guint64 size, guint32 type)
{
  const Obj obj[] = { { address, size, type } };

  return nodes_frame (obj, 1);
}

static GByteArray *make_short (void) { GByteArray *f = frame_begin (2, 1, 0); g_byte_array_set_size (f, 10); return f; }
static GByteArray *make_truncated (void) { GByteArray *f = one_node (0x100, 1, 0); g_byte_array_set_size (f, f->len - 1); return f; }
static GByteArray *make_longer (void) { GByteArray *f = one_node (0x100, 1, 0); put_u32 (f, 0); return f; }
static GByteArray *make_not_graph (void) { GByteArray *f = one_node (0x100, 1, 0); f->data[1] = 'X'; return f; }
static GByteArray *make_reserved (void) { GByteArray *f = one_node (0x100, 1, 0); f->data[3] = 1; return f; }
static GByteArray *make_unknown_kind (void) { return frame_begin (9, 0, 0); }
static GByteArray *make_other_request (void) { GByteArray *f = one_node (0x100, 1, 0); f->data[4] = ID + 1; return f; }
static GByteArray *make_unknown_type (void) { return one_node (0x100, 1, 4); }
static GByteArray *make_address_zero (void) { return one_node (0, 1, 0); }
static GByteArray *make_huge_size (void) { return one_node (0x100, (G_GUINT64_CONSTANT (1) << 53) + 1, 0); }
static GByteArray *make_no_nodes (void) { return frame_begin (2, 0, 0); }
static GByteArray *
make_counts_mismatch (void)
{
  GByteArray *f = one_node (0x100, 1, 0);
  f->data[12] = 1; /* says one reference; the node lists none */
  put_u64 (f, 0x200);
  return f;
}
static GByteArray *
make_too_many_objects (void)
{
  GByteArray *f = frame_begin (2, 1001, 0);
  for (guint i = 0; i < 1001; i++)
    put_u64 (f, 0x100 + i * 16);
  for (guint i = 0; i < 1001; i++)
    put_u64 (f, 16);
  for (guint i = 0; i < 1001; i++)
    put_u32 (f, 0);
  for (guint i = 0; i < 1001; i++)
    put_u32 (f, 0);
  return f;
}
static GByteArray *
make_edges_first (void)
{
  GByteArray *f = frame_begin (3, 1, 0);
  put_u64 (f, 0x100);
  return f;
}
static GByteArray *
make_root_unknown_node (void)
{
  const guint32 nodes[] = { 1 };
  return roots_frame (1, 0xabc, nodes, 1);
}
static GByteArray *
make_root_bad_kind (void)
{
  const guint32 nodes[] = { 0 };
  return roots_frame (4, 0xabc, nodes, 1);
}
static GByteArray *make_end_miscounted (void) { return end_frame (2, 0, 0, 0); }
static GByteArray *
make_end_says_complete_with_reason (void)
{
  GByteArray *f = end_frame (1, 0, 0, 2);
  f->data[16 + 24] = 1;
  return f;
}
static GByteArray *
make_type_control (void)
{
  const char *const names[] = { "bad\033[5m", NULL };
  return types_frame (names);
}
static GByteArray *
make_type_not_utf8 (void)
{
  const char *const names[] = { "bad\xff", NULL };
  return types_frame (names);
}
static GByteArray *
make_type_nul (void)
{
  GByteArray *f = frame_begin (1, 1, 0);
  g_byte_array_append (f, (const guint8 *) "\x03\x00" "a\0b", 5);
  return f;
}
static GByteArray *
make_type_long (void)
{
  g_autofree char *name = g_strnfill (300, 'x');
  const char *const names[] = { name, NULL };
  return types_frame (names);
}
static GByteArray *
make_type_past_end (void)
{
  GByteArray *f = frame_begin (1, 2, 0);
  g_byte_array_append (f, (const guint8 *) "\x01\x00" "a", 3);
  return f;
}

static GByteArray *make_immortal_empty (void) { return frame_begin (6, 0, 0); }
static GByteArray *make_immortal_truncated (void) { GByteArray *f = frame_begin (6, 2, 0); put_u64 (f, 0x900); return f; }
static GByteArray *make_immortal_zero (void) { GByteArray *f = frame_begin (6, 1, 0); put_u64 (f, 0); return f; }
static GByteArray *
make_immortal_too_many (void)
{
  GByteArray *f = frame_begin (6, 65537, 0);
  for (guint i = 0; i < 65537; i++)
    put_u64 (f, 0x1000 + 16 * (guint64) i);
  return f;
}

static const struct {
  const char *name;
  FrameMaker  make;
  gboolean    after_node; /* sent after one valid node */
} bad_frames[] = {
  { "short", make_short, FALSE },
  { "truncated", make_truncated, FALSE },
  { "longer", make_longer, FALSE },
  { "not-graph", make_not_graph, FALSE },
  { "reserved", make_reserved, FALSE },
  { "unknown-kind", make_unknown_kind, FALSE },
  { "other-request", make_other_request, FALSE },
  { "unknown-type", make_unknown_type, FALSE },
  { "address-zero", make_address_zero, FALSE },
  { "huge-size", make_huge_size, FALSE },
  { "no-nodes", make_no_nodes, FALSE },
  { "counts-mismatch", make_counts_mismatch, FALSE },
  { "too-many-objects", make_too_many_objects, FALSE },
  { "edges-first", make_edges_first, FALSE },
  { "root-unknown-node", make_root_unknown_node, TRUE },
  { "root-bad-kind", make_root_bad_kind, TRUE },
  { "end-miscounted", make_end_miscounted, TRUE },
  { "end-complete-with-reason", make_end_says_complete_with_reason, TRUE },
  { "type-control", make_type_control, FALSE },
  { "type-not-utf8", make_type_not_utf8, FALSE },
  { "type-nul", make_type_nul, FALSE },
  { "type-long", make_type_long, FALSE },
  { "type-past-end", make_type_past_end, FALSE },
  { "immortal-empty", make_immortal_empty, FALSE },
  { "immortal-truncated", make_immortal_truncated, FALSE },
  { "immortal-address-zero", make_immortal_zero, FALSE },
  { "immortal-too-many", make_immortal_too_many, FALSE },
};

static void
test_bad_frame (gconstpointer data)
{
  guint i = GPOINTER_TO_UINT (data);
  g_autoptr(PymemdHeapGraph) graph = graph_new ();
  g_autoptr(GError) error = NULL;

  if (bad_frames[i].after_node)
    add_ok (graph, one_node (0x100, 1, 0));
  g_assert_false (add (graph, bad_frames[i].make (), &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PROTOCOL);
  g_test_message ("%s: %s", bad_frames[i].name, error->message);
}

static void
test_frame_after_end (void)
{
  g_autoptr(PymemdHeapGraph) graph = graph_new ();
  g_autoptr(GError) error = NULL;

  add_ok (graph, end_frame (0, 0, 0, 0));
  g_assert_false (add (graph, one_node (0x100, 1, 0), &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PROTOCOL);
}

/* Random bytes after a valid header: refused or taken, never a crash (the
 * ASan and valgrind builds watch the reads). */
static void
test_fuzz (void)
{
  GRand *rand = g_rand_new_with_seed (12);

  for (guint round = 0; round < 20000; round++)
    {
      g_autoptr(PymemdHeapGraph) graph = graph_new ();
      guint kind = (guint) g_rand_int_range (rand, 1, 7);
      guint32 count = (guint32) g_rand_int_range (rand, 0, 4);
      guint32 extra = kind == 2 ? (guint32) g_rand_int_range (rand, 0, 4) : 0;
      GByteArray *frame = frame_begin (kind, count, extra);
      guint len = (guint) g_rand_int_range (rand, 0, 120);
      g_autoptr(GError) error = NULL;

      for (guint k = 0; k < len; k++)
        {
          guint8 byte = (guint8) g_rand_int_range (rand, 0, 256);
          g_byte_array_append (frame, &byte, 1);
        }
      if (!add (graph, frame, &error))
        g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PROTOCOL);
    }
  g_rand_free (rand);
}

/* ---- budget ---- */

/* A graph past its memory: kept as far as it fits, said incomplete. */
static void
test_budget (void)
{
  PymemdHeapGraph *graph = pymemd_heap_graph_new (ID, 100000, 100000, 100 * PYMEMD_HEAP_GRAPH_BYTES_PER_OBJECT);
  g_autoptr(PymemdRetained) retained = NULL;
  const guint32 roots[] = { 0 };

  add_ok (graph, types_frame (type_names));
  for (guint i = 0; i < 200; i++)
    {
      const Obj obj[] = { { 0x1000 + 16 * i, 10, LIST | TRACKED, { 0x1000 + 16 * (i + 1) } } };
      add_ok (graph, nodes_frame (obj, 1));
    }
  add_ok (graph, roots_frame (1, 0xabc, roots, 1));
  add_ok (graph, end_frame (200, 200, 1, 0));
  retained = analyse (graph, 5);
  g_assert_false (retained->complete);
  g_assert_nonnull (strstr (retained->incomplete, "graph-memory-mib"));
  g_assert_cmpuint (retained->objects, <, 100);
  g_assert_cmpuint (retained->objects, >, 50);
}

static void
test_helper_incomplete (void)
{
  PymemdHeapGraph *graph = graph_new ();
  g_autoptr(PymemdRetained) retained = NULL;

  add_ok (graph, one_node (0x100, 1, 0));
  add_ok (graph, end_frame (1, 0, 0, 3));
  retained = analyse (graph, 5);
  g_assert_false (retained->complete);
  g_assert_nonnull (strstr (retained->incomplete, "time budget"));
}

/* ---- names ---- */

static void
test_names (void)
{
  PymemdHeapGraph *graph = graph_new ();
  g_autoptr(PymemdRetained) retained = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) steps = NULL;
  g_autoptr(JsonNode) request = NULL;
  g_autoptr(JsonNode) names = NULL;
  g_autofree char *request_text = NULL;
  const Obj objs[] = {
    { 0x100, 48, APP | TRACKED, { 0x110 } },
    { 0x110, 100, DICT | TRACKED, { 0x120 } },
    { 0x120, 5 << 20, BYTEARRAY },
    { 0x200, 5 << 20, BYTEARRAY },
  };
  const guint32 app_root[] = { 0 }, local_root[] = { 3 };

  add_ok (graph, nodes_frame (objs, G_N_ELEMENTS (objs)));
  add_ok (graph, roots_frame (1, 0xabc, app_root, 1));
  add_ok (graph, roots_frame (3, 0xf00, local_root, 1));
  add_ok (graph, end_frame (4, 2, 2, 0));
  retained = pymemd_heap_graph_analyse (graph, 20, &error);
  g_assert_no_error (error);

  request = pymemd_retained_name_request (retained, &steps);
  g_assert_nonnull (request);
  request_text = json_to_string (request, FALSE);
  g_assert_cmpuint (steps->len, ==, 3);
  g_assert_cmpstr (request_text, ==,
                   "[{\"root\":[1,2748,256],\"steps\":[]},"
                   "{\"root\":[1,2748,256],\"steps\":[272,288]},"
                   "{\"root\":[3,3840,512],\"steps\":[]}]");

  /* Wrong answers are refused. */
  {
    const char *const wrong[] = {
      "{}",
      "[]",
      "[{\"root\":null,\"steps\":[]},{\"root\":null,\"steps\":[null]},{\"root\":null,\"steps\":[]}]",
      "[{\"root\":[\"a\"],\"steps\":[]},{\"root\":null,\"steps\":[null,null]},{\"root\":null,\"steps\":[]}]",
      "[{\"root\":[\"a\",\"b\\u001b\"],\"steps\":[]},{\"root\":null,\"steps\":[null,null]},{\"root\":null,\"steps\":[]}]",
      "[{\"root\":null,\"steps\":[]},{\"root\":null,\"steps\":[1,null]},{\"root\":null,\"steps\":[]}]",
    };
    for (guint i = 0; i < G_N_ELEMENTS (wrong); i++)
      {
        g_autoptr(GError) check_error = NULL;
        g_autoptr(JsonNode) node = json_from_string (wrong[i], NULL);
        g_assert_false (pymemd_retained_names_check (node, steps, &check_error));
        g_assert_error (check_error, PYMEMD_ERROR, PYMEMD_ERROR_PROTOCOL);
      }
  }
  names = json_from_string ("[{\"root\":[\"__main__\",\"app\"],\"steps\":[]},"
                            "{\"root\":[\"__main__\",\"app\"],\"steps\":[\"\",\".blob\"]},"
                            "{\"root\":[\"MainThread\",\"refresh\",\"rows\"],\"steps\":[]}]",
                            NULL);
  g_assert_true (pymemd_retained_names_check (names, steps, &error));
  pymemd_retained_set_names (retained, names);
  g_assert_cmpstr (holder_at (retained, 0x100)->path_text, ==, "__main__.app");
  g_assert_cmpstr (holder_at (retained, 0x120)->path_text, ==, "__main__.app.blob");
  g_assert_cmpstr (holder_at (retained, 0x200)->path_text, ==, "thread \"MainThread\", frame refresh() local rows");
}

static void
test_json_and_growth (void)
{
  PymemdHeapGraph *graph = graph_new ();
  g_autoptr(PymemdRetained) before = NULL, after = NULL, again = NULL;
  g_autoptr(JsonNode) json = NULL;
  g_autoptr(GVariant) grown = NULL;
  g_autoptr(GError) error = NULL;
  const Obj objs[] = {
    { 0x100, 48, LIST | TRACKED, { 0x110 } },
    { 0x110, 100 << 10, BYTEARRAY },
    { 0x200, 1 << 20, BYTEARRAY },
  };
  const guint32 roots[] = { 0, 2 };

  add_ok (graph, nodes_frame (objs, G_N_ELEMENTS (objs)));
  add_ok (graph, roots_frame (1, 0xabc, roots, 2));
  add_ok (graph, end_frame (3, 1, 2, 0));
  after = analyse (graph, 20);
  json = pymemd_retained_to_json (after);
  again = pymemd_retained_new_from_json (json, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (again->holders->len, ==, after->holders->len);
  g_assert_cmpuint (again->bytes, ==, after->bytes);
  g_assert_cmpstr (((PymemdHolder *) g_ptr_array_index (again->holders, 0))->path_text, ==,
                   ((PymemdHolder *) g_ptr_array_index (after->holders, 0))->path_text);

  before = pymemd_retained_new_from_json (json, &error);
  ((PymemdHolder *) g_ptr_array_index (before->holders, 0))->retained_bytes -= 4096;
  grown = pymemd_retained_grown (before, after, 5);
  g_assert_cmpuint (g_variant_n_children (grown), ==, 1);
  {
    const char *path, *type;
    gint64 growth;
    g_variant_get_child (grown, 0, "(&s&sx)", &path, &type, &growth);
    g_assert_cmpint (growth, ==, 4096);
    g_assert_cmpstr (type, ==, "builtins.bytearray");
  }
}

/* ---- a million objects ---- */

/* A chain of a million lists from one global, each 64 bytes: the
 * global retains them all; the analysis stays within 64 bytes an object. */
static void
test_million_chain (void)
{
  const guint n = 1000000, per_frame = 20000;
  PymemdHeapGraph *graph = pymemd_heap_graph_new (ID, n, n, (gsize) 256 << 20);
  g_autoptr(PymemdRetained) retained = NULL;
  const guint32 roots[] = { 0 };
  gint64 began;

  add_ok (graph, types_frame (type_names));
  for (guint first = 0; first < n; first += per_frame)
    {
      GByteArray *frame = frame_begin (2, per_frame, first + per_frame == n ? per_frame - 1 : per_frame);
      for (guint i = first; i < first + per_frame; i++)
        put_u64 (frame, 0x10000 + 64 * (guint64) i);
      for (guint i = first; i < first + per_frame; i++)
        put_u64 (frame, 64);
      for (guint i = first; i < first + per_frame; i++)
        put_u32 (frame, LIST | TRACKED);
      for (guint i = first; i < first + per_frame; i++)
        put_u32 (frame, i + 1 < n);
      for (guint i = first; i < first + per_frame; i++)
        if (i + 1 < n)
          put_u64 (frame, 0x10000 + 64 * (guint64) (i + 1));
      add_ok (graph, frame);
    }
  add_ok (graph, roots_frame (1, 0xabc, roots, 1));
  add_ok (graph, end_frame (n, n - 1, 1, 0));
  began = g_get_monotonic_time ();
  retained = analyse (graph, 20);
  g_test_message ("%u objects analysed in %.3f s, %.1f bytes an object at the peak", n,
                  (double) (g_get_monotonic_time () - began) / G_USEC_PER_SEC,
                  (double) retained->memory_peak / n);
  g_assert_cmpuint (retained->objects, ==, n);
  g_assert_cmpuint (holder_at (retained, 0x10000)->retained_bytes, ==, 64 * (guint64) n);
  g_assert_cmpuint (holder_at (retained, 0x10000)->retained_objects, ==, n);
  g_assert_cmpuint (retained->memory_peak, <=, 64 * (guint64) n);
}

/* A holder with more referrers than the backward search looks at gets the
 * depth-first tree's path, from a root's object down to it. Here X (1 GiB)
 * is held by a chain of 10 lists from one global and by each of 70 000
 * lists that a list held by another global holds.
 *
 *   G 0x1000 → c1 → … → c10 → X 0x2000;  H 0x3000 → L 0x3008 → w1 … w70000 → X
 */
static void
test_path_past_search (void)
{
  const guint chain = 10, wide = 70000;
  const guint n = chain + 4 + wide; /* G, c1..c10, X, H, L, w1..w70000 */
  const guint32 roots[] = { 0, chain + 2 };
  PymemdHeapGraph *graph = pymemd_heap_graph_new (ID, n, 2 * n, (gsize) 64 << 20);
  g_autoptr(PymemdRetained) retained = NULL;
  const PymemdHolder *x;
  GByteArray *frame;
  guint64 address[4] = { 0x1000, 0x2000, 0x3000, 0x3008 };
  const guint first_w = chain + 4;

#define ADDRESS(i) ((i) == 0 ? address[0] : (i) <= chain ? address[0] + 64 * (guint64) (i) : \
                    (i) == chain + 1 ? address[1] : (i) == chain + 2 ? address[2] : (i) == chain + 3 ? address[3] : \
                    0x100000 + 64 * (guint64) (i))
  add_ok (graph, types_frame (type_names));
  /* G, the chain, X, H and L, with their references. */
  frame = frame_begin (2, first_w, chain + 1 + 1 + wide);
  for (guint i = 0; i < first_w; i++)
    put_u64 (frame, ADDRESS (i));
  for (guint i = 0; i < first_w; i++)
    put_u64 (frame, i == chain + 1 ? G_GUINT64_CONSTANT (1) << 30 : 64);
  for (guint i = 0; i < first_w; i++)
    put_u32 (frame, LIST | TRACKED);
  for (guint i = 0; i < first_w; i++)
    put_u32 (frame, i <= chain ? 1 : i == chain + 2 ? 1 : i == chain + 3 ? wide : 0);
  for (guint i = 0; i <= chain; i++)
    put_u64 (frame, ADDRESS (i + 1));
  put_u64 (frame, ADDRESS (chain + 3));
  for (guint i = first_w; i < n; i++)
    put_u64 (frame, ADDRESS (i));
  add_ok (graph, frame);
  /* w1..w70000, each referring to X. */
  for (guint first = first_w; first < n; first += 20000)
    {
      guint count = MIN (20000, n - first);

      frame = frame_begin (2, count, count);
      for (guint i = first; i < first + count; i++)
        put_u64 (frame, ADDRESS (i));
      for (guint i = first; i < first + count; i++)
        put_u64 (frame, 64);
      for (guint i = first; i < first + count; i++)
        put_u32 (frame, LIST | TRACKED);
      for (guint i = first; i < first + count; i++)
        put_u32 (frame, 1);
      for (guint i = first; i < first + count; i++)
        put_u64 (frame, ADDRESS (chain + 1));
      add_ok (graph, frame);
    }
  add_ok (graph, roots_frame (1, 0xabc, roots, G_N_ELEMENTS (roots)));
  add_ok (graph, end_frame (n, chain + 2 + 2 * (guint64) wide, G_N_ELEMENTS (roots), 0));
  retained = analyse (graph, 20);

  x = holder_at (retained, address[1]);
  g_test_message ("%s", x->path_text);
  g_assert_cmpuint (x->path->len, >=, 2);
  g_assert_cmpuint (x->path->len, <=, 4 + chain);
  /* From a global's object down to X, each step a reference. */
  g_assert_true (g_array_index (x->path, guint64, 0) == address[0] ||
                 g_array_index (x->path, guint64, 0) == address[2]);
  g_assert_cmpuint (g_array_index (x->path, guint64, x->path->len - 1), ==, address[1]);
  for (guint k = 0; k + 1 < x->path->len; k++)
    {
      guint64 from = g_array_index (x->path, guint64, k), to = g_array_index (x->path, guint64, k + 1);

      g_assert_true ((from < 0x100000 && from != address[2] && from != address[3] && to == from + 64) ||
                     (from == address[0] + 64 * chain && to == address[1]) ||
                     (from == address[2] && to == address[3]) ||
                     (from == address[3] && to >= 0x100000) ||
                     (from >= 0x100000 && to == address[1]));
    }
#undef ADDRESS
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/heap-graph/retained", test_retained);
  g_test_add_func ("/heap-graph/path-past-search", test_path_past_search);
  g_test_add_func ("/heap-graph/groups", test_groups);
  g_test_add_func ("/heap-graph/duplicates-and-dangling", test_duplicates_and_dangling);
  g_test_add_func ("/heap-graph/edges-frames", test_edges_frames);
  g_test_add_func ("/heap-graph/immortal", test_immortal);
  for (guint i = 0; i < G_N_ELEMENTS (bad_frames); i++)
    {
      g_autofree char *path = g_strdup_printf ("/heap-graph/bad/%s", bad_frames[i].name);
      g_test_add_data_func (path, GUINT_TO_POINTER (i), test_bad_frame);
    }
  g_test_add_func ("/heap-graph/bad/after-end", test_frame_after_end);
  g_test_add_func ("/heap-graph/fuzz", test_fuzz);
  g_test_add_func ("/heap-graph/budget", test_budget);
  g_test_add_func ("/heap-graph/helper-incomplete", test_helper_incomplete);
  g_test_add_func ("/heap-graph/names", test_names);
  g_test_add_func ("/heap-graph/json-and-growth", test_json_and_growth);
  g_test_add_func ("/heap-graph/million-chain", test_million_chain);
  return g_test_run ();
}
