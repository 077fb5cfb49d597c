/* Immediate dominators of a directed graph given as successor lists, by the Lengauer–Tarjan algorithm, without recursion: a chain of millions of nodes costs no stack. */
#pragma once

#include "pymemd-big-array.h"

G_BEGIN_DECLS

/* A graph of N_NODES nodes: the successors of node v are
 * succ[succ_start[v] .. succ_start[v + 1]), each below N_NODES. */
typedef struct {
  guint32        n_nodes;
  PymemdBigArray succ_start; /* guint32 [n_nodes + 1] */
  PymemdBigArray succ;       /* guint32 [succ_start[n_nodes]] */
} PymemdDigraph;

/* The dominator tree of the nodes reachable from the root, by depth-first
 * preorder number: from 1 (the root) to N_REACHED; 0 is none. Every array
 * has N_REACHED + 1 entries (entry 0 unused) but PRED. */
typedef struct {
  guint32        n_reached;
  PymemdBigArray order;      /* guint32: the node of each preorder number */
  PymemdBigArray parent;     /* guint32: the depth-first tree's parent (root: 0) */
  PymemdBigArray idom;       /* guint32: the immediate dominator (root: 0); always
                              * an ancestor, so below its node's number */
  PymemdBigArray pred_start; /* guint32 [n_reached + 2]: the predecessors of number i */
  PymemdBigArray pred;       /* are pred[pred_start[i] .. pred_start[i + 1]), by number */
  gsize          peak_bytes; /* the most the computation held, the graph included */
} PymemdDominators;

/* Computes OUT for GRAPH from ROOT. GRAPH's successor lists are freed on
 * the way (once the predecessors are built they are not needed, and
 * freeing them then lowers the peak); n_nodes is kept. Besides the graph it
 * takes at most 4 bytes a node, 28 a reached node and 4 an edge between
 * reached nodes; OUT keeps 16 bytes a reached node and the edges' 4. Fails
 * only when memory cannot be reserved. */
gboolean pymemd_dominators_compute (PymemdDigraph    *graph,
                                    guint32           root,
                                    PymemdDominators *out,
                                    GError          **error);
void     pymemd_dominators_clear (PymemdDominators *dominators);
void     pymemd_digraph_clear (PymemdDigraph *graph);

G_END_DECLS
