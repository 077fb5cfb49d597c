/* The object graph a helper streams for retained sizes (docs/helper-protocol.md, "The object graph"): its binary frames checked and stored as they come, within a memory budget, and its analysis (off the main loop) into the holders that keep the most memory alive. */
#pragma once

#include <glib.h>

#include "pymemd-retained.h"

G_BEGIN_DECLS

#define PYMEMD_HEAP_GRAPH_MAX_TYPES   65536
#define PYMEMD_HEAP_GRAPH_MAX_OBJECTS (G_GUINT64_CONSTANT (1) << 31)
#define PYMEMD_HEAP_GRAPH_MAX_EDGES   (G_GUINT64_CONSTANT (1) << 31)
/* What the daemon plans for each object, edge and root it stores: the
 * peak of the analysis (docs/helper-protocol.md shows the sum). */
#define PYMEMD_HEAP_GRAPH_BYTES_PER_OBJECT 52
#define PYMEMD_HEAP_GRAPH_BYTES_PER_EDGE   8
#define PYMEMD_HEAP_GRAPH_BYTES_PER_ROOT   16

typedef struct _PymemdHeapGraph PymemdHeapGraph;

/* MAX_OBJECTS and MAX_EDGES (1 … 2^31) are what the request announced:
 * more is a protocol error. MEMORY is what the graph and its analysis may
 * take: a graph that would need more is kept as far as it fits and said
 * to be incomplete. */
PymemdHeapGraph *pymemd_heap_graph_new (guint32 request_id,
                                        guint64 max_objects,
                                        guint64 max_edges,
                                        gsize   memory);
void             pymemd_heap_graph_free (PymemdHeapGraph *graph);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PymemdHeapGraph, pymemd_heap_graph_free)

/* The most objects and edges a graph of MEMORY bytes can hold, to
 * announce in a request. */
void pymemd_heap_graph_limits_for_memory (gsize    memory,
                                          guint64 *max_objects,
                                          guint64 *max_edges);

/* Takes the body of a binary frame (LEN bytes; its first byte is 0):
 * FALSE with PYMEMD_ERROR_PROTOCOL, naming what is wrong, when it breaks
 * the protocol. The graph is then not to be used further. */
gboolean pymemd_heap_graph_add_frame (PymemdHeapGraph *graph,
                                      const guint8    *body,
                                      gsize            len,
                                      GError         **error);
/* Whether any frame came, and whether the end frame did. */
gboolean pymemd_heap_graph_has_frames (const PymemdHeapGraph *graph);
gboolean pymemd_heap_graph_is_ended (const PymemdHeapGraph *graph);
/* Bytes of memory the graph holds now. */
gsize    pymemd_heap_graph_footprint (const PymemdHeapGraph *graph);

/* Analyses GRAPH (ended), which it consumes, in any thread: the dominator
 * tree, retained sizes, and the MAX_HOLDERS (1 … 1000) holders that keep
 * the most memory alive with the paths that reach them (still to be
 * named). Fails only when memory cannot be reserved. */
PymemdRetained *pymemd_heap_graph_analyse (PymemdHeapGraph *graph,
                                           guint            max_holders,
                                           GError         **error);

G_END_DECLS
