/* Lengauer–Tarjan with simple linking and path compression (O(m log n) whatever the graph, so a hostile helper's graph cannot make the daemon spin), every recursion of the textbook version turned into a loop. */
#include "config.h"

#include <stdarg.h>
#include <string.h>

#include "pymemd-dominators.h"

#define U32(array) PYMEMD_BIG_ARRAY_U32 (array)

void
pymemd_digraph_clear (PymemdDigraph *graph)
{
  pymemd_big_array_clear (&graph->succ_start);
  pymemd_big_array_clear (&graph->succ);
}

void
pymemd_dominators_clear (PymemdDominators *dominators)
{
  pymemd_big_array_clear (&dominators->order);
  pymemd_big_array_clear (&dominators->parent);
  pymemd_big_array_clear (&dominators->idom);
  pymemd_big_array_clear (&dominators->pred_start);
  pymemd_big_array_clear (&dominators->pred);
  dominators->n_reached = 0;
}

/* Numbers the nodes reachable from ROOT in depth-first preorder: PRE (by
 * node), ORDER and PARENT (by number). CURSOR (by number) holds where each
 * node on the current path is in its successor list, and PARENT is the
 * path itself: no stack. Returns the count. */
static guint32
number_depth_first (const PymemdDigraph *graph, guint32 root, guint32 *pre, guint32 *order, guint32 *parent,
                    guint32 *cursor)
{
  const guint32 *succ_start = U32 (&graph->succ_start);
  const guint32 *succ = U32 (&graph->succ);
  guint32 n = 1, current = 1;

  pre[root] = 1;
  order[1] = root;
  parent[1] = 0;
  cursor[1] = succ_start[root];
  while (current != 0)
    {
      guint32 v = order[current];

      if (cursor[current] < succ_start[v + 1])
        {
          guint32 w = succ[cursor[current]++];

          if (pre[w] == 0)
            {
              n++;
              pre[w] = n;
              order[n] = w;
              parent[n] = current;
              cursor[n] = succ_start[w];
              current = n;
            }
        }
      else
        current = parent[current];
    }
  return n;
}

/* The predecessors of each reached node by number, from the successor
 * lists; FILL (by number) is scratch. */
static gboolean
build_predecessors (const PymemdDigraph *graph, const guint32 *pre, const guint32 *order, guint32 n,
                    guint32 *fill, PymemdDominators *out, GError **error)
{
  const guint32 *succ_start = U32 (&graph->succ_start);
  const guint32 *succ = U32 (&graph->succ);
  guint32 *start, *pred;
  guint64 total = 0;

  if (!pymemd_big_array_reserve_n (&out->pred_start, (gsize) n + 2, sizeof (guint32), error))
    return FALSE;
  start = U32 (&out->pred_start);
  for (guint32 i = 1; i <= n; i++)
    {
      guint32 v = order[i];
      for (guint32 e = succ_start[v]; e < succ_start[v + 1]; e++)
        if (pre[succ[e]] != 0)
          start[pre[succ[e]] + 1]++;
    }
  start[0] = start[1] = 0;
  for (guint32 i = 1; i <= n + 1; i++)
    {
      total += start[i];
      start[i] = (guint32) total; /* edges never number past 2^32 - 1 */
    }
  if (!pymemd_big_array_reserve_n (&out->pred, MAX (total, 1), sizeof (guint32), error))
    return FALSE;
  pred = U32 (&out->pred);
  for (guint32 i = 1; i <= n + 1; i++)
    fill[i - 1] = start[i - 1];
  for (guint32 i = 1; i <= n; i++)
    {
      guint32 v = order[i];
      for (guint32 e = succ_start[v]; e < succ_start[v + 1]; e++)
        {
          guint32 w = pre[succ[e]];
          if (w != 0)
            pred[fill[w]++] = i;
        }
    }
  return TRUE;
}

/* EVAL of Lengauer–Tarjan: the vertex of least semidominator on V's path
 * to the root of its tree in the forest, compressing the path on the way
 * (with STACK instead of recursion). */
static guint32
eval (guint32 v, guint32 *ancestor, guint32 *label, const guint32 *semi, GArray *stack)
{
  guint32 x = v;

  if (ancestor[v] == 0)
    return v;
  while (ancestor[ancestor[x]] != 0)
    {
      g_array_append_val (stack, x);
      x = ancestor[x];
    }
  while (stack->len > 0)
    {
      guint32 a;

      x = g_array_index (stack, guint32, stack->len - 1);
      g_array_set_size (stack, stack->len - 1);
      a = ancestor[x];
      if (semi[label[a]] < semi[label[x]])
        label[x] = label[a];
      ancestor[x] = ancestor[a];
    }
  return label[v];
}

/* What the arrays given hold now (NULL-terminated), for the peak. */
static void
note_peak (PymemdDominators *out, ...)
{
  gsize sum = 0;
  va_list ap;

  va_start (ap, out);
  for (const PymemdBigArray *array = va_arg (ap, const PymemdBigArray *); array != NULL;
       array = va_arg (ap, const PymemdBigArray *))
    sum += pymemd_big_array_footprint (array);
  va_end (ap);
  out->peak_bytes = MAX (out->peak_bytes, sum);
}

static gboolean
reserve_numbers (PymemdBigArray *array, guint32 n, GError **error)
{
  return pymemd_big_array_reserve_n (array, (gsize) n + 2, sizeof (guint32), error);
}

gboolean
pymemd_dominators_compute (PymemdDigraph *graph, guint32 root, PymemdDominators *out, GError **error)
{
  PymemdBigArray pre = { 0 }, semi = { 0 }, label = { 0 }, ancestor = { 0 }, bucket = { 0 };
  g_autoptr(GArray) stack = g_array_new (FALSE, FALSE, sizeof (guint32));
  guint32 *semi_of, *label_of, *ancestor_of, *bucket_of, *parent_of, *idom_of;
  const guint32 *pred_start, *pred;
  guint32 n;
  gboolean ok = FALSE;

  g_return_val_if_fail (root < graph->n_nodes, FALSE);
  memset (out, 0, sizeof *out);

  /* Numbers: the capacity is for every node; pages of numbers never
   * reached are never touched. SEMI holds the depth-first cursor first. */
  if (!pymemd_big_array_reserve_n (&pre, graph->n_nodes, sizeof (guint32), error) ||
      !reserve_numbers (&out->order, graph->n_nodes, error) || !reserve_numbers (&out->parent, graph->n_nodes, error) ||
      !reserve_numbers (&semi, graph->n_nodes, error))
    goto out;
  n = number_depth_first (graph, root, U32 (&pre), U32 (&out->order), U32 (&out->parent), U32 (&semi));
  out->n_reached = n;
  if (!build_predecessors (graph, U32 (&pre), U32 (&out->order), n, U32 (&semi), out, error))
    goto out;
  /* Footprints count the pages in use: SIZE is what was reserved for
   * every node, of which the reached ones are written. */
  out->order.size = out->parent.size = semi.size = ((gsize) n + 2) * sizeof (guint32);
  note_peak (out, &graph->succ_start, &graph->succ, &pre, &out->order, &out->parent, &semi, &out->pred_start,
             &out->pred, NULL);
  pymemd_big_array_clear (&pre);
  pymemd_digraph_clear (graph);
  pymemd_big_array_shrink (&out->order, ((gsize) n + 1) * sizeof (guint32));
  pymemd_big_array_shrink (&out->parent, ((gsize) n + 1) * sizeof (guint32));

  /* The idom of a vertex is written where its bucket link was, once it
   * has left its bucket (that link is not read again). */
  if (!reserve_numbers (&label, n, error) || !reserve_numbers (&ancestor, n, error) ||
      !reserve_numbers (&bucket, n, error) || !reserve_numbers (&out->idom, n, error))
    goto out;
  semi_of = U32 (&semi);
  label_of = U32 (&label);
  ancestor_of = U32 (&ancestor);
  bucket_of = U32 (&bucket);
  idom_of = U32 (&out->idom);
  parent_of = U32 (&out->parent);
  pred_start = U32 (&out->pred_start);
  pred = U32 (&out->pred);
  for (guint32 i = 1; i <= n; i++)
    semi_of[i] = label_of[i] = i;

  for (guint32 w = n; w >= 2; w--)
    {
      guint32 p = parent_of[w];

      for (guint32 e = pred_start[w]; e < pred_start[w + 1]; e++)
        {
          guint32 u = eval (pred[e], ancestor_of, label_of, semi_of, stack);
          if (semi_of[u] < semi_of[w])
            semi_of[w] = semi_of[u];
        }
      idom_of[w] = bucket_of[semi_of[w]];
      bucket_of[semi_of[w]] = w;
      ancestor_of[w] = p;
      for (guint32 v = bucket_of[p]; v != 0;)
        {
          guint32 next = idom_of[v];
          guint32 u = eval (v, ancestor_of, label_of, semi_of, stack);
          idom_of[v] = semi_of[u] < semi_of[v] ? u : p;
          v = next;
        }
      bucket_of[p] = 0;
    }
  idom_of[1] = 0;
  for (guint32 w = 2; w <= n; w++)
    if (idom_of[w] != semi_of[w])
      idom_of[w] = idom_of[idom_of[w]];
  note_peak (out, &out->order, &out->parent, &semi, &label, &ancestor, &bucket, &out->idom, &out->pred_start,
             &out->pred, NULL);
  ok = TRUE;

out:
  pymemd_big_array_clear (&pre);
  pymemd_big_array_clear (&semi);
  pymemd_big_array_clear (&label);
  pymemd_big_array_clear (&ancestor);
  pymemd_big_array_clear (&bucket);
  if (!ok)
    pymemd_dominators_clear (out);
  return ok;
}
