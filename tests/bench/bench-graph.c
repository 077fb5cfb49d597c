/* bench-graph: the daemon's side of retained sizes, on object graphs bench-graph.sh had a real helper walk.
 *
 *   bench-graph FILE MEMORY_MIB
 *     Reads FILE, the frames of one graph as the helper sent them (each a
 *     4-byte big-endian length and its body), one frame at a time into one
 *     buffer, feeds them to pymemd_heap_graph_add_frame () as the channel
 *     does, analyses the graph
 *     with the holders a request lists by default, and prints one line of
 *     key=value: objects, references, the analysis's wall time, its planned
 *     peak (memory_peak) and bytes per object, this process's resident
 *     memory before the graph (the baseline), at its highest (VmHWM) and
 *     after the graph and its analysis were freed.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "pymemd-heap-graph.h"

#define HOLDERS   20
#define FRAME_MAX (1024 * 1024)

/* A field of /proc/self/status in bytes. */
static guint64
status_bytes (const char *field)
{
  g_autofree char *text = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &text, NULL, NULL) || (line = strstr (text, field)) == NULL)
    return 0;
  return g_ascii_strtoull (line + strlen (field) + 1, NULL, 10) * 1024;
}

/* The next frame of FILE into BUF (1 MiB): its length, 0 at the end of
 * FILE, -1 when FILE is cut short. */
static gssize
read_frame (FILE *file, guint8 *buf)
{
  guint32 len;

  if (fread (&len, 4, 1, file) != 1)
    return feof (file) ? 0 : -1;
  len = GUINT32_FROM_BE (len);
  if (len == 0 || len > FRAME_MAX || fread (buf, 1, len, file) != len)
    return -1;
  return len;
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdRetained) retained = NULL;
  g_autofree guint8 *buf = NULL;
  PymemdHeapGraph *graph = NULL;
  FILE *file;
  guint64 memory, objects, edges, rss_before, rss_after, hwm;
  gint64 began;
  gssize len;
  double analysis;

  if (argc != 3)
    {
      fprintf (stderr, "usage: %s FILE MEMORY_MIB\n", argv[0]);
      return 2;
    }
  memory = g_ascii_strtoull (argv[2], NULL, 10) << 20;
  if ((file = fopen (argv[1], "rb")) == NULL)
    {
      fprintf (stderr, "bench-graph: %s: %s\n", argv[1], g_strerror (errno));
      return 1;
    }
  buf = g_malloc (FRAME_MAX);
  memset (buf, 0, FRAME_MAX);
  rss_before = status_bytes ("VmRSS:");
  pymemd_heap_graph_limits_for_memory ((gsize) memory, &objects, &edges);
  while ((len = read_frame (file, buf)) > 0)
    {
      /* The request's id is in every frame's header. */
      if (graph == NULL)
        {
          guint32 request_id;
          memcpy (&request_id, buf + 4, sizeof request_id);
          graph = pymemd_heap_graph_new (GUINT32_FROM_LE (request_id), objects, edges, (gsize) memory);
        }
      if (!pymemd_heap_graph_add_frame (graph, buf, (gsize) len, &error))
        break;
    }
  fclose (file);
  if (len != 0 || graph == NULL || !pymemd_heap_graph_is_ended (graph))
    {
      fprintf (stderr, "bench-graph: %s: %s\n", argv[1],
               error != NULL ? error->message : "cut short, or no end frame");
      pymemd_heap_graph_free (graph);
      return 1;
    }
  began = g_get_monotonic_time ();
  retained = pymemd_heap_graph_analyse (graph, HOLDERS, &error);
  analysis = (double) (g_get_monotonic_time () - began) / G_USEC_PER_SEC;
  if (retained == NULL)
    {
      fprintf (stderr, "bench-graph: %s\n", error->message);
      return 1;
    }
  hwm = status_bytes ("VmHWM:");
  printf ("objects=%" G_GUINT64_FORMAT " references=%" G_GUINT64_FORMAT " complete=%d analysis_s=%.3f "
          "memory_peak_mib=%.1f bytes_per_object=%.1f",
          retained->objects, retained->references, retained->complete, analysis,
          retained->memory_peak / 1048576.0,
          retained->objects > 0 ? (double) retained->memory_peak / (double) retained->objects : 0.0);
  g_clear_pointer (&retained, pymemd_retained_free);
  rss_after = status_bytes ("VmRSS:");
  printf (" rss_before_mib=%.1f hwm_mib=%.1f rss_after_mib=%.1f\n", rss_before / 1048576.0, hwm / 1048576.0,
          rss_after / 1048576.0);
  return 0;
}
