/* Tests the dominator module (daemon/inspect/pymemd-dominators.c) on graphs whose dominators are known: chains, diamonds, cycles, unreachable parts, the Lengauer–Tarjan paper's example, random graphs against a slow reference, and a million nodes deep. */
#include "config.h"

#include <string.h>

#include "pymemd-dominators.h"

typedef guint32 Edge[2];

/* A graph built from an edge list. */
static void
graph_init (PymemdDigraph *graph, guint32 n_nodes, const Edge *edges, gsize n_edges)
{
  g_autoptr(GError) error = NULL;
  guint32 *start, *succ, *fill = g_new0 (guint32, n_nodes + 1);

  memset (graph, 0, sizeof *graph);
  graph->n_nodes = n_nodes;
  g_assert_true (pymemd_big_array_reserve_n (&graph->succ_start, n_nodes + 1, sizeof (guint32), &error));
  g_assert_true (pymemd_big_array_reserve_n (&graph->succ, MAX (n_edges, 1), sizeof (guint32), &error));
  start = PYMEMD_BIG_ARRAY_U32 (&graph->succ_start);
  succ = PYMEMD_BIG_ARRAY_U32 (&graph->succ);
  for (gsize e = 0; e < n_edges; e++)
    start[edges[e][0] + 1]++;
  for (guint32 v = 0; v < n_nodes; v++)
    start[v + 1] += start[v];
  for (guint32 v = 0; v <= n_nodes; v++)
    fill[v] = start[v];
  for (gsize e = 0; e < n_edges; e++)
    succ[fill[edges[e][0]]++] = edges[e][1];
  g_free (fill);
}

/* IDOM by node (G_MAXUINT32: unreachable; the root: itself). */
static guint32 *
idoms_by_node (PymemdDigraph *graph, guint32 root, guint32 *n_reached)
{
  g_autoptr(GError) error = NULL;
  PymemdDominators dom;
  guint32 n_nodes = graph->n_nodes;
  guint32 *result = g_new (guint32, n_nodes);
  const guint32 *order, *idom, *parent;

  g_assert_true (pymemd_dominators_compute (graph, root, &dom, &error));
  g_assert_no_error (error);
  g_assert_null (graph->succ.data); /* freed on the way */
  order = PYMEMD_BIG_ARRAY_U32 (&dom.order);
  idom = PYMEMD_BIG_ARRAY_U32 (&dom.idom);
  parent = PYMEMD_BIG_ARRAY_U32 (&dom.parent);
  for (guint32 v = 0; v < n_nodes; v++)
    result[v] = G_MAXUINT32;
  g_assert_cmpuint (order[1], ==, root);
  g_assert_cmpuint (idom[1], ==, 0);
  g_assert_cmpuint (parent[1], ==, 0);
  result[root] = root;
  for (guint32 i = 2; i <= dom.n_reached; i++)
    {
      /* A dominator is a depth-first ancestor: a smaller number. */
      g_assert_cmpuint (idom[i], <, i);
      g_assert_cmpuint (idom[i], >=, 1);
      g_assert_cmpuint (parent[i], <, i);
      result[order[i]] = order[idom[i]];
    }
  *n_reached = dom.n_reached;
  pymemd_dominators_clear (&dom);
  return result;
}

static void
check (guint32 n_nodes, const Edge *edges, gsize n_edges, guint32 root, const guint32 *expected,
       guint32 expected_reached)
{
  PymemdDigraph graph;
  g_autofree guint32 *idom = NULL;
  guint32 n_reached = 0;

  graph_init (&graph, n_nodes, edges, n_edges);
  idom = idoms_by_node (&graph, root, &n_reached);
  g_assert_cmpuint (n_reached, ==, expected_reached);
  for (guint32 v = 0; v < n_nodes; v++)
    if (idom[v] != expected[v])
      g_error ("node %u: idom %u, expected %u", v, idom[v], expected[v]);
}

#define NONE G_MAXUINT32

static void
test_chain (void)
{
  static const guint32 edges[][2] = { { 0, 1 }, { 1, 2 }, { 2, 3 }, { 3, 4 } };
  static const guint32 expected[] = { 0, 0, 1, 2, 3 };

  check (5, edges, G_N_ELEMENTS (edges), 0, expected, 5);
}

static void
test_diamond (void)
{
  /* 0 → 1, 2 → 3 → 4: neither side of the diamond dominates its bottom. */
  static const guint32 edges[][2] = { { 0, 1 }, { 0, 2 }, { 1, 3 }, { 2, 3 }, { 3, 4 } };
  static const guint32 expected[] = { 0, 0, 0, 0, 3 };

  check (5, edges, G_N_ELEMENTS (edges), 0, expected, 5);
}

static void
test_cycle (void)
{
  /* 0 → 1 → 2 → 3 → 1, 2 → 4, and 4 → 4, 4 → 2 (a self loop, a back edge),
   * 3 → 1 twice. */
  static const guint32 edges[][2] = { { 0, 1 }, { 1, 2 }, { 2, 3 }, { 3, 1 }, { 3, 1 },
                                      { 2, 4 }, { 4, 4 }, { 4, 2 } };
  static const guint32 expected[] = { 0, 0, 1, 2, 2 };

  check (5, edges, G_N_ELEMENTS (edges), 0, expected, 5);
}

static void
test_unreachable (void)
{
  /* 3 and 4 form a cycle nothing reaches, and point into the reached
   * part: edges from unreached nodes change nothing. 5 is alone. */
  static const guint32 edges[][2] = { { 0, 1 }, { 1, 2 }, { 3, 4 }, { 4, 3 }, { 4, 2 } };
  static const guint32 expected[] = { 0, 0, 1, NONE, NONE, NONE };

  check (6, edges, G_N_ELEMENTS (edges), 0, expected, 3);
}

static void
test_root_not_first (void)
{
  static const guint32 edges[][2] = { { 2, 0 }, { 2, 1 }, { 0, 1 }, { 1, 0 } };
  static const guint32 expected[] = { 2, 2, 2 };

  check (3, edges, G_N_ELEMENTS (edges), 2, expected, 3);
}

/* The example of Lengauer and Tarjan, "A fast algorithm for finding
 * dominators in a flowgraph" (1979), figure 1. */
static void
test_paper (void)
{
  enum { R, A, B, C, D, E, F, G, H, I, J, K, L, N };
  static const guint32 edges[][2] = {
    { R, A }, { R, B }, { R, C }, { A, D }, { B, A }, { B, D }, { B, E }, { C, F }, { C, G },
    { D, L }, { E, H }, { F, I }, { G, I }, { G, J }, { H, E }, { H, K }, { I, K }, { J, I },
    { K, I }, { K, R }, { L, H },
  };
  static const guint32 expected[N] = {
    [R] = R, [A] = R, [B] = R, [C] = R, [D] = R, [E] = R, [F] = C, [G] = C, [H] = R,
    [I] = R, [J] = G, [K] = R, [L] = D,
  };

  check (N, edges, G_N_ELEMENTS (edges), R, expected, N);
}

/* ---- against a slow reference ---- */

/* Dominator sets by iteration to the fixed point (bit sets), then each
 * node's idom: the strict dominator that every other strict dominator
 * dominates. */
static guint32 *
reference_idoms (guint32 n, const Edge *edges, gsize n_edges, guint32 root)
{
  gsize words = (n + 63) / 64;
  guint64 *dom = g_new0 (guint64, (gsize) n * words);
  gboolean *reached = g_new0 (gboolean, n);
  guint32 *idom = g_new (guint32, n);
  gboolean changed = TRUE;

#define DOM(v) (dom + (gsize) (v) * words)
#define HAS(set, w) (((set)[(w) / 64] >> ((w) % 64)) & 1)
  reached[root] = TRUE;
  while (changed)
    {
      changed = FALSE;
      for (gsize e = 0; e < n_edges; e++)
        if (reached[edges[e][0]] && !reached[edges[e][1]])
          reached[edges[e][1]] = changed = TRUE;
    }
  for (guint32 v = 0; v < n; v++)
    for (gsize w = 0; w < words; w++)
      DOM (v)[w] = v == root ? 0 : ~(guint64) 0;
  DOM (root)[root / 64] |= (guint64) 1 << (root % 64);
  changed = TRUE;
  while (changed)
    {
      changed = FALSE;
      for (guint32 v = 0; v < n; v++)
        {
          g_autofree guint64 *meet = NULL;
          if (v == root || !reached[v])
            continue;
          meet = g_new (guint64, words);
          for (gsize w = 0; w < words; w++)
            meet[w] = ~(guint64) 0;
          for (gsize e = 0; e < n_edges; e++)
            if (edges[e][1] == v && reached[edges[e][0]])
              for (gsize w = 0; w < words; w++)
                meet[w] &= DOM (edges[e][0])[w];
          meet[v / 64] |= (guint64) 1 << (v % 64);
          if (memcmp (meet, DOM (v), words * sizeof (guint64)) != 0)
            {
              memcpy (DOM (v), meet, words * sizeof (guint64));
              changed = TRUE;
            }
        }
    }
  for (guint32 v = 0; v < n; v++)
    {
      idom[v] = NONE;
      if (!reached[v])
        continue;
      if (v == root)
        {
          idom[v] = root;
          continue;
        }
      for (guint32 d = 0; d < n; d++)
        {
          gboolean all = TRUE;
          if (d == v || !HAS (DOM (v), d))
            continue;
          /* The immediate one: every strict dominator of v dominates it. */
          for (guint32 o = 0; o < n && all; o++)
            if (o != v && HAS (DOM (v), o) && !HAS (DOM (d), o))
              all = FALSE;
          if (all)
            idom[v] = d;
        }
    }
#undef DOM
#undef HAS
  g_free (dom);
  g_free (reached);
  return idom;
}

static void
test_random (void)
{
  GRand *rand = g_rand_new_with_seed (20251205);

  for (guint round = 0; round < 300; round++)
    {
      guint32 n = (guint32) g_rand_int_range (rand, 1, 40);
      gsize n_edges = (gsize) g_rand_int_range (rand, 0, (gint32) (n * 3 + 1));
      g_autofree Edge *edges = g_new (Edge, MAX (n_edges, 1));
      g_autofree guint32 *expected = NULL;
      guint32 root = (guint32) g_rand_int_range (rand, 0, (gint32) n);
      guint32 reached = 0;

      for (gsize e = 0; e < n_edges; e++)
        {
          edges[e][0] = (guint32) g_rand_int_range (rand, 0, (gint32) n);
          edges[e][1] = (guint32) g_rand_int_range (rand, 0, (gint32) n);
        }
      expected = reference_idoms (n, edges, n_edges, root);
      for (guint32 v = 0; v < n; v++)
        reached += expected[v] != NONE;
      check (n, edges, n_edges, root, expected, reached);
    }
  g_rand_free (rand);
}

/* ---- deep and wide ---- */

#define MILLION 1000000

/* A chain 0 → 1 → … → N-1, and EXTRA more edges. */
static Edge *
chain_edges (guint32 n, gsize extra)
{
  Edge *edges = g_new (Edge, n - 1 + extra);

  for (guint32 v = 0; v + 1 < n; v++)
    {
      edges[v][0] = v;
      edges[v][1] = v + 1;
    }
  return edges;
}

static void
check_chain_idoms (PymemdDigraph *graph, guint32 n, double max_seconds)
{
  g_autofree guint32 *idom = NULL;
  gint64 began = g_get_monotonic_time ();
  guint32 n_reached = 0;
  double took;

  idom = idoms_by_node (graph, 0, &n_reached);
  took = (double) (g_get_monotonic_time () - began) / G_USEC_PER_SEC;
  g_test_message ("%u nodes in %.3f s", n, took);
  g_assert_cmpuint (n_reached, ==, n);
  for (guint32 v = 1; v < n; v++)
    if (idom[v] != v - 1)
      g_error ("node %u: idom %u", v, idom[v]);
  g_assert_cmpfloat (took, <, max_seconds);
}

/* A million nodes deep: the textbook's recursive depth-first search and
 * path compression would each need a million stack frames. */
static void
test_million_chain (void)
{
  PymemdDigraph graph;
  g_autofree Edge *edges = chain_edges (MILLION, 0);

  graph_init (&graph, MILLION, edges, MILLION - 1);
  check_chain_idoms (&graph, MILLION, 20);
}

/* The chain with an edge from its end back to node 1: evaluating that
 * predecessor compresses a path a million long. */
static void
test_million_chain_back_edge (void)
{
  PymemdDigraph graph;
  g_autofree Edge *edges = chain_edges (MILLION, 1);

  edges[MILLION - 1][0] = MILLION - 1;
  edges[MILLION - 1][1] = 1;
  graph_init (&graph, MILLION, edges, MILLION);
  check_chain_idoms (&graph, MILLION, 20);
}

/* A chain of half a million nodes, its end pointing at the other half,
 * each of which the root points at too: a walk up the dominator tree
 * from each (the semi-NCA shortcut) would take 10^11 steps. */
static void
test_million_ladder (void)
{
  const guint32 half = MILLION / 2;
  PymemdDigraph graph;
  g_autofree Edge *edges = g_new (Edge, 3 * (gsize) half);
  g_autofree guint32 *idom = NULL;
  gsize n_edges = 0;
  guint32 n_reached = 0;
  gint64 began = g_get_monotonic_time ();

  for (guint32 v = 0; v + 1 < half; v++)
    {
      edges[n_edges][0] = v;
      edges[n_edges++][1] = v + 1;
    }
  for (guint32 v = half; v < MILLION; v++)
    {
      edges[n_edges][0] = half - 1;
      edges[n_edges++][1] = v;
      edges[n_edges][0] = 0;
      edges[n_edges++][1] = v;
    }
  graph_init (&graph, MILLION, edges, n_edges);
  idom = idoms_by_node (&graph, 0, &n_reached);
  g_assert_cmpuint (n_reached, ==, MILLION);
  for (guint32 v = half; v < MILLION; v++)
    g_assert_cmpuint (idom[v], ==, 0);
  g_assert_cmpuint (idom[half - 1], ==, half - 2);
  g_assert_cmpfloat ((double) (g_get_monotonic_time () - began) / G_USEC_PER_SEC, <, 20);
}

static void
test_million_wide (void)
{
  PymemdDigraph graph;
  g_autofree Edge *edges = g_new (Edge, MILLION);
  g_autofree guint32 *idom = NULL;
  guint32 n_reached = 0;

  for (guint32 v = 1; v < MILLION; v++)
    {
      edges[v - 1][0] = 0;
      edges[v - 1][1] = v;
    }
  graph_init (&graph, MILLION, edges, MILLION - 1);
  idom = idoms_by_node (&graph, 0, &n_reached);
  g_assert_cmpuint (n_reached, ==, MILLION);
  for (guint32 v = 1; v < MILLION; v++)
    g_assert_cmpuint (idom[v], ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/dominators/chain", test_chain);
  g_test_add_func ("/dominators/diamond", test_diamond);
  g_test_add_func ("/dominators/cycle", test_cycle);
  g_test_add_func ("/dominators/unreachable", test_unreachable);
  g_test_add_func ("/dominators/root-not-first", test_root_not_first);
  g_test_add_func ("/dominators/paper", test_paper);
  g_test_add_func ("/dominators/random", test_random);
  g_test_add_func ("/dominators/million-chain", test_million_chain);
  g_test_add_func ("/dominators/million-chain-back-edge", test_million_chain_back_edge);
  g_test_add_func ("/dominators/million-ladder", test_million_ladder);
  g_test_add_func ("/dominators/million-wide", test_million_wide);
  return g_test_run ();
}
