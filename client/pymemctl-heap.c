/* pymemctl heap PID: what the helper inside a Python process sees of its heap (GetHeapSummary), led by the ledger that ties it to the process's pages. */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "pymemctl-commands.h"
#include "pymemctl-heap.h"
#include "pymemctl-util.h"
#include "pymemd-error.h"
#include "pymemd-heap-growth.h"
#include "pymemd-names.h"

/* Attaching and a census under a budget of up to a minute can take long:
 * wait for the daemon's answer rather than for D-Bus's 25 s default. */
#define HEAP_CALL_TIMEOUT_MS (120 * 1000)

/* ---- JSON ---- */

/* An array of tuples as an array of objects whose members are NAMES. */
static JsonArray *
tuples_json (GVariant *tuples, const char *const *names)
{
  JsonArray *array = json_array_new ();

  for (gsize i = 0; i < g_variant_n_children (tuples); i++)
    {
      g_autoptr(GVariant) tuple = g_variant_get_child_value (tuples, i);
      JsonObject *object = json_object_new ();

      for (gsize j = 0; j < g_variant_n_children (tuple) && names[j] != NULL; j++)
        {
          g_autoptr(GVariant) member = g_variant_get_child_value (tuple, j);
          json_object_set_member (object, names[j], pymemctl_json_from_variant (member));
        }
      json_array_add_object_element (array, object);
    }
  return array;
}

/* Replaces ROOT's DICT_KEY.LIST_KEY (an array of tuples of TYPE in
 * SUMMARY) with an array of objects. */
static void
replace_tuples (JsonObject *root, GVariant *summary, const char *dict_key, const char *list_key,
                const char *type, const char *const *names)
{
  g_autoptr(GVariant) dict = g_variant_lookup_value (summary, dict_key, G_VARIANT_TYPE_VARDICT);
  g_autoptr(GVariant) list = NULL;
  JsonObject *object;

  if (dict == NULL || (list = g_variant_lookup_value (dict, list_key, G_VARIANT_TYPE (type))) == NULL)
    return;
  object = json_object_get_object_member (root, dict_key);
  if (object != NULL)
    json_object_set_array_member (object, list_key, tuples_json (list, names));
}

JsonNode *
pymemctl_heap_json (GVariant *summary)
{
  static const char *const type_names[] = { "type", "count", "bytes", NULL };
  static const char *const site_names[] = { "file", "line", "count", "bytes", NULL };
  JsonNode *root = pymemctl_json_from_variant (summary);

  replace_tuples (json_node_get_object (root), summary, "census", "types", "a(stt)", type_names);
  replace_tuples (json_node_get_object (root), summary, "tracemalloc", "sites", "a(sutt)",
                  site_names);
  return root;
}

/* ---- what grew ---- */

char *
pymemctl_heap_growth_text (GVariant *grew)
{
  return pymemd_heap_growth_to_text (grew, pymemctl_printable);
}

GVariant *
pymemctl_heap_growth (GVariant *summaries)
{
  g_autoptr(GVariant) grew = NULL;
  gsize first, last;

  if (summaries == NULL)
    return NULL;
  grew = g_variant_ref_sink (pymemd_heap_growth_of_summaries (summaries, PYMEMD_HEAP_GROWTH_MAX));
  /* Nothing to say without two summaries to compare or a holder named. */
  if (g_variant_n_children (grew) == 0 && !pymemd_heap_growth_pick (summaries, &first, &last))
    return NULL;
  return g_steal_pointer (&grew);
}

/* ---- pieces for people ---- */

static void
print_heading (const char *title)
{
  gboolean color = pymemctl_use_color (stdout);

  g_print ("\n%s%s%s\n", color ? "\033[1m" : "", title, color ? "\033[0m" : "");
}

static GVariant *
lookup_dict (GVariant *summary, const char *key)
{
  return g_variant_lookup_value (summary, key, G_VARIANT_TYPE_VARDICT);
}

/* A short span: "0.4 ms", "183 ms", "2.4 s", "3m 20s"; "?" for what no span
 * is (NaN, infinite, or past any the daemon accepts). */
static char *
format_seconds (double seconds)
{
  if (!(seconds >= 0 && seconds <= G_MAXINT32))
    return g_strdup ("?");
  if (seconds < 0.01)
    /* TRANSLATORS: milliseconds with one decimal */
    return g_strdup_printf (_("%.1f ms"), MAX (seconds, 0.0) * 1000.0);
  if (seconds < 1.0)
    /* TRANSLATORS: milliseconds */
    return g_strdup_printf (_("%.0f ms"), MAX (seconds, 0.0) * 1000.0);
  if (seconds < 60.0)
    /* TRANSLATORS: seconds with one decimal */
    return g_strdup_printf (_("%.1f s"), seconds);
  return pymemctl_format_duration ((gint64) seconds);
}

static char *
format_ago (gint64 usec)
{
  gint64 seconds = (g_get_real_time () - usec) / G_USEC_PER_SEC;
  g_autofree char *span = NULL;

  if (seconds < 1)
    return g_strdup (_("just now"));
  span = pymemctl_format_duration (seconds);
  /* TRANSLATORS: a span of time before now: "1h 2m ago" */
  return g_strdup_printf (_("%s ago"), span);
}

static char *
format_time (gint64 usec)
{
  g_autoptr(GDateTime) time = g_date_time_new_from_unix_local (usec / G_USEC_PER_SEC);

  return time != NULL ? g_date_time_format (time, "%Y-%m-%d %H:%M:%S") : g_strdup ("?");
}

static char *
format_percent (guint64 part, guint64 whole)
{
  if (whole == 0)
    return g_strdup ("-");
  return g_strdup_printf ("%.1f\u00a0%%", (double) part * 100.0 / (double) whole);
}

static char *
format_count (guint64 n)
{
  return g_strdup_printf ("%" G_GUINT64_FORMAT, n);
}

char *
pymemctl_heap_format_taken (GVariant *summary)
{
  gint64 taken_at = 0;
  g_autofree char *time = NULL, *ago = NULL;

  if (!g_variant_lookup (summary, "taken_at", "x", &taken_at))
    return g_strdup ("?");
  time = format_time (taken_at);
  ago = format_ago (taken_at);
  return g_strdup_printf ("%s (%s)", time, ago);
}

gboolean
pymemctl_heap_lookup_ledger (GVariant *summary, const char *key, guint64 *value)
{
  g_autoptr(GVariant) ledger = lookup_dict (summary, "ledger");

  return ledger != NULL && g_variant_lookup (ledger, key, "t", value);
}

/* Whether the summary's process was tracing with tracemalloc. */
static gboolean
tracing (GVariant *summary)
{
  g_autoptr(GVariant) trace = lookup_dict (summary, "tracemalloc");
  gboolean on = FALSE;

  return trace != NULL && g_variant_lookup (trace, "tracing", "b", &on) && on;
}

/* The census counted untracked objects too (not a light or older census). */
static gboolean
census_walked (GVariant *summary)
{
  g_autoptr(GVariant) census = lookup_dict (summary, "census");
  gboolean walked = FALSE;

  return census != NULL && g_variant_lookup (census, "walked", "b", &walked) && walked;
}

/* "  LABEL  SIZE — WHAT", the sizes lined up. */
static void
print_ledger_line (const char *label, const char *size, const char *what)
{
  g_print ("  %-22s %10s — %s\n", label, size, what);
}

void
pymemctl_heap_print_ledger (GVariant *summary)
{
  g_autoptr(GVariant) ledger = lookup_dict (summary, "ledger");
  g_autofree char *heap = NULL, *explained = NULL, *free_space = NULL, *unexplained = NULL;
  g_autofree char *small = NULL, *large = NULL, *padding = NULL, *parts = NULL;
  guint64 value = 0;

  if (ledger == NULL || !g_variant_lookup (ledger, "heap_private_dirty", "t", NULL))
    {
      g_print ("%s\n", _("Heap pages: not measured yet (the detail pass has not reached this "
                         "process)"));
      return;
    }
  heap = pymemctl_format_figure (ledger, "heap_private_dirty");
  explained = pymemctl_format_figure (ledger, "explained");
  free_space = pymemctl_format_figure (ledger, "pymalloc_free");
  unexplained = pymemctl_format_figure (ledger, "unexplained");
  g_print (_("Heap pages (pymalloc + native heap, private dirty): %s\n"), heap);
  if (g_variant_lookup (ledger, "small_allocations", "t", &value))
    {
      small = pymemctl_format_figure (ledger, "small_allocations");
      large = pymemctl_format_figure (ledger, "large_allocations");
      padding = pymemctl_format_figure (ledger, "padding");
      /* TRANSLATORS: what the live allocations are made of: pymalloc's blocks, of them the
       * rounding up to block sizes, and the larger allocations */
      parts = g_strdup_printf (_("small ones in pymalloc's blocks %s (%s of it rounding objects up to "
                                 "the blocks' sizes), larger ones, each with the object that owns it, %s"),
                               small, padding, large);
    }
  else
    parts = g_strdup (_("pymalloc's allocated blocks and the census's objects over 512 bytes"));
  print_ledger_line (_("live allocations"), explained, parts);
  print_ledger_line (_("pymalloc free space"), free_space,
                     _("free blocks, empty pools and the pools' overhead in pymalloc's arenas, kept "
                       "for new objects"));
  print_ledger_line (_("unexplained"), unexplained,
                     _("malloc's memory that no Python object owns: C code's allocations, malloc's "
                       "free space, objects only C code holds"));
  if (!census_walked (summary))
    g_print ("%s\n", _("This census counted only the objects the garbage collector tracks: large "
                       "str, bytes, bytearray and numpy objects, and dicts of strings, are in "
                       "unexplained."));
  if (!g_variant_lookup (summary, "pymalloc", "@a{sv}", NULL))
    g_print ("%s\n", tracing (summary)
                       ? _("Without pymalloc's figures (not obtainable while tracemalloc traces: it wraps the "
                           "allocator), small allocations are only those of the census's objects: stop "
                           "tracing (--trace 0) for the full ledger.")
                       : _("Without pymalloc's figures, small allocations are only those of the census's "
                           "objects."));
}

void
pymemctl_heap_print_census (GVariant *summary, guint max_types)
{
  const char *const headers[] = { N_("TYPE"), N_("COUNT"), N_("SIZE"), N_("% OF CENSUS"), NULL };
  g_autoptr(GVariant) census = lookup_dict (summary, "census");
  g_autoptr(GVariant) types = NULL;
  g_autoptr(PymemctlTable) table = pymemctl_table_new (headers, "lrrr");
  g_autofree char *total = NULL;
  guint64 objects = 0, bytes = 0, other_count = 0, other_bytes = 0, tracked = 0, untracked = 0;

  if (census == NULL)
    {
      g_print ("%s\n", _("No census in this summary."));
      return;
    }
  g_variant_lookup (census, "objects", "t", &objects);
  g_variant_lookup (census, "bytes", "t", &bytes);
  g_variant_lookup (census, "other_count", "t", &other_count);
  g_variant_lookup (census, "other_bytes", "t", &other_bytes);
  total = pymemctl_format_size (bytes);
  if (g_variant_lookup (census, "tracked_objects", "t", &tracked) &&
      g_variant_lookup (census, "untracked_objects", "t", &untracked) && census_walked (summary))
    /* TRANSLATORS: objects in all, those the collector tracks, those reached from them, and
     * the bytes of their allocations */
    g_print (_("%llu objects: %llu tracked by the garbage collector and %llu more reached from "
               "them, each once; %s in their allocations (each object and its buffers)\n"),
             (unsigned long long) objects, (unsigned long long) tracked,
             (unsigned long long) untracked, total);
  else
    /* TRANSLATORS: the number of objects the garbage collector tracks, their size */
    g_print (ngettext ("%llu object tracked by the garbage collector, %s (their allocations)\n",
                       "%llu objects tracked by the garbage collector, %s (their allocations)\n",
                       (unsigned long) objects),
             (unsigned long long) objects, total);

  types = g_variant_lookup_value (census, "types", G_VARIANT_TYPE ("a(stt)"));
  for (gsize i = 0; types != NULL && i < g_variant_n_children (types); i++)
    {
      const char *name;
      guint64 count, size;
      g_autofree char *count_text = NULL, *size_text = NULL, *share = NULL;

      g_variant_get_child (types, i, "(&stt)", &name, &count, &size);
      if (i >= max_types)
        {
          /* What is not shown joins what the helper left out. */
          other_count += count;
          other_bytes += size;
          continue;
        }
      count_text = format_count (count);
      size_text = pymemctl_format_size (size);
      share = format_percent (size, bytes);
      pymemctl_table_add_row (table, name, count_text, size_text, share, NULL);
    }
  if (other_count > 0)
    {
      g_autofree char *count_text = format_count (other_count);
      g_autofree char *size_text = pymemctl_format_size (other_bytes);
      g_autofree char *share = format_percent (other_bytes, bytes);

      pymemctl_table_add_row (table, _("(other types)"), count_text, size_text, share, NULL);
    }
  if (pymemctl_table_get_n_rows (table) > 0)
    pymemctl_table_print (table, stdout);
}

/* ---- who holds it ---- */

/* A type as people write it: builtins' without their module. */
static const char *
short_type (const char *type)
{
  return g_str_has_prefix (type, "builtins.") ? type + strlen ("builtins.") : type;
}

static char *
format_objects (guint64 objects)
{
  /* TRANSLATORS: how many objects a holder keeps alive */
  return g_strdup_printf (ngettext ("%llu object", "%llu objects", (unsigned long) MIN (objects, G_MAXULONG)),
                          (unsigned long long) objects);
}

/* One holder: "  __main__.W (bytearray) → 200.0 MiB retained, 1 object",
 * indented by its depth. */
static void
print_holder (GVariant *holder)
{
  const char *kind = "", *path = "", *type = NULL;
  guint32 depth = 0;
  guint64 bytes = 0, objects = 0;
  g_autofree char *size = NULL, *count = NULL, *what = NULL, *indent = NULL;

  g_variant_lookup (holder, "kind", "&s", &kind);
  g_variant_lookup (holder, "path", "&s", &path);
  g_variant_lookup (holder, "type", "&s", &type);
  g_variant_lookup (holder, "depth", "u", &depth);
  g_variant_lookup (holder, "retained_bytes", "t", &bytes);
  g_variant_lookup (holder, "retained_objects", "t", &objects);
  size = pymemctl_format_size (bytes);
  count = format_objects (objects);
  indent = g_strnfill (2 + 2 * MIN (depth, 16), ' ');
  if (g_strcmp0 (kind, "outside") == 0)
    what = g_strdup (_("held outside the object graph (by C code or the interpreter)"));
  else if (g_strcmp0 (kind, "unreachable") == 0)
    what = g_strdup (_("unreachable from any root (cycles awaiting collection)"));
  else
    {
      /* The helper named the path: it may hold anything. */
      g_autofree char *path_text = pymemctl_printable (path);
      g_autofree char *type_text = pymemctl_printable (type != NULL ? short_type (type) : "?");
      what = g_strdup_printf ("%s (%s)", path_text, type_text);
    }
  /* TRANSLATORS: a holder, what it keeps alive in bytes, and in objects */
  g_print (_("%s%s → %s retained, %s\n"), indent, what, size, count);
}

void
pymemctl_heap_print_holders (GVariant *summary, guint max_holders)
{
  g_autoptr(GVariant) retained = lookup_dict (summary, "retained");
  g_autoptr(GVariant) holders = NULL;
  g_autofree char *bytes_text = NULL, *walk = NULL, *hold = NULL, *analysis = NULL, *memory = NULL;
  const char *incomplete = NULL;
  guint64 objects = 0, references = 0, bytes = 0, memory_peak = 0;
  double walk_seconds = 0, gil = 0, analysis_seconds = 0;
  gboolean complete = TRUE;

  if (retained == NULL)
    return;
  print_heading (_("Who holds it (retained: what would be freed without it)"));
  g_variant_lookup (retained, "complete", "b", &complete);
  g_variant_lookup (retained, "incomplete", "&s", &incomplete);
  holders = g_variant_lookup_value (retained, "holders", G_VARIANT_TYPE ("aa{sv}"));
  if (holders == NULL || g_variant_n_children (holders) == 0)
    {
      g_autofree char *reason = pymemctl_printable (incomplete != NULL ? incomplete : "");
      if (incomplete != NULL)
        /* TRANSLATORS: why there are no retained sizes */
        g_print (_("No retained sizes: %s\n"), reason);
      else
        g_print ("%s\n", _("No object holds memory worth listing."));
      return;
    }
  for (gsize i = 0; i < MIN (g_variant_n_children (holders), max_holders); i++)
    {
      g_autoptr(GVariant) holder = g_variant_get_child_value (holders, i);
      print_holder (holder);
    }
  g_variant_lookup (retained, "objects", "t", &objects);
  g_variant_lookup (retained, "references", "t", &references);
  g_variant_lookup (retained, "bytes", "t", &bytes);
  g_variant_lookup (retained, "walk_seconds", "d", &walk_seconds);
  g_variant_lookup (retained, "gil_max_hold", "d", &gil);
  g_variant_lookup (retained, "analysis_seconds", "d", &analysis_seconds);
  g_variant_lookup (retained, "memory_peak", "t", &memory_peak);
  bytes_text = pymemctl_format_size (bytes);
  walk = format_seconds (walk_seconds);
  hold = format_seconds (gil);
  analysis = format_seconds (analysis_seconds);
  memory = pymemctl_format_size (memory_peak);
  /* TRANSLATORS: objects and references in the graph, their bytes; the
   * helper's walk, its longest GIL hold; the daemon's analysis and its memory */
  g_print (_("%llu objects (%s) and %llu references, walked in %s (longest GIL hold %s), analysed in %s "
             "with %s\n"),
           (unsigned long long) objects, bytes_text, (unsigned long long) references, walk, hold, analysis, memory);
  if (!complete)
    {
      g_autofree char *reason = pymemctl_printable (incomplete != NULL ? incomplete : "?");
      /* TRANSLATORS: why the retained sizes count only part of the heap */
      g_print (_("Incomplete: %s\n"), reason);
    }
}

/* ---- pymemctl heap ---- */

static const char *
attach_method_text (const char *attached_by)
{
  if (g_strcmp0 (attached_by, "pep768") == 0)
    return _("through PEP 768 remote debugging");
  if (g_strcmp0 (attached_by, "parked-thread") == 0)
    return _("through a thread waiting in a system call");
  if (g_strcmp0 (attached_by, "pending-call") == 0)
    return _("through a pending call");
  return attached_by;
}

static char *
helper_text (GVariant *summary)
{
  const char *how = NULL, *attached_by = NULL;
  double attach_seconds = 0;

  g_variant_lookup (summary, "helper", "&s", &how);
  if (g_variant_lookup (summary, "attached_by", "&s", &attached_by))
    {
      g_autofree char *span = NULL;

      g_variant_lookup (summary, "attach_seconds", "d", &attach_seconds);
      span = format_seconds (attach_seconds);
      /* TRANSLATORS: how pymemd brought the helper in ("through a pending call"), in how long */
      return g_strdup_printf (_("brought in just now %s, in %s"), attach_method_text (attached_by),
                              span);
    }
  if (g_strcmp0 (how, "env") == 0)
    return g_strdup (_("started with the program (PYMEMD_HELPER=1)"));
  if (g_strcmp0 (how, "import") == 0)
    return g_strdup (_("imported by the program"));
  if (g_strcmp0 (how, "attach") == 0)
    return g_strdup (_("brought in by pymemd earlier"));
  return g_strdup (how != NULL ? how : "?");
}

static void
print_header (GVariant *summary, guint32 pid)
{
  const char *python = "?", *implementation = "?";
  double duration = 0, gil_max_hold = 0;
  guint32 threads = 0, modules = 0;
  guint64 blocks = 0;
  gboolean complete = TRUE;
  g_autofree char *helper = helper_text (summary);
  g_autofree char *taken = pymemctl_heap_format_taken (summary);
  g_autofree char *duration_text = NULL, *gil_text = NULL;
  g_autofree char *python_text = NULL, *implementation_text = NULL, *helper_line = NULL;

  g_variant_lookup (summary, "python", "&s", &python);
  g_variant_lookup (summary, "implementation", "&s", &implementation);
  g_variant_lookup (summary, "duration", "d", &duration);
  g_variant_lookup (summary, "gil_max_hold", "d", &gil_max_hold);
  g_variant_lookup (summary, "threads", "u", &threads);
  g_variant_lookup (summary, "modules", "u", &modules);
  g_variant_lookup (summary, "complete", "b", &complete);
  duration_text = format_seconds (duration);
  gil_text = format_seconds (gil_max_hold);

  /* The helper says them: a hostile one may send escape sequences. */
  python_text = pymemctl_printable (python);
  implementation_text = pymemctl_printable (implementation);
  helper_line = pymemctl_printable (helper);

  /* TRANSLATORS: PID, Python version, implementation ("cpython") */
  g_print (_("Process %u, Python %s (%s)\n"), pid, python_text, implementation_text);
  g_print (_("Helper: %s\n"), helper_line);
  /* TRANSLATORS: when the summary was taken, how long it took, the longest GIL hold */
  g_print (_("Taken: %s in %s; the longest GIL hold was %s\n"), taken, duration_text, gil_text);
  if (g_variant_lookup (summary, "allocated_blocks", "t", &blocks))
    g_print (_("Threads: %u · modules: %u · allocated blocks: %llu\n"), threads, modules,
             (unsigned long long) blocks);
  else
    g_print (_("Threads: %u · modules: %u\n"), threads, modules);
  if (complete)
    g_print ("%s\n", _("Census: complete"));
  else
    g_print ("%s\n", _("Census: incomplete: it stopped at its time budget, so the objects and "
                       "types below are only part of the heap"));
}

static void
print_collect (GVariant *summary)
{
  g_autoptr(GVariant) collect = lookup_dict (summary, "collect");
  guint64 freed = 0, garbage = 0;
  double duration = 0;
  g_autofree char *duration_text = NULL, *before = NULL, *after = NULL;

  if (collect == NULL)
    return;
  g_variant_lookup (collect, "freed", "t", &freed);
  g_variant_lookup (collect, "garbage", "t", &garbage);
  g_variant_lookup (collect, "duration", "d", &duration);
  duration_text = format_seconds (duration);
  before = pymemctl_format_figure (collect, "private_dirty_before");
  after = pymemctl_format_figure (collect, "private_dirty_after");
  print_heading (_("Collection (gc.collect () before the census)"));
  /* TRANSLATORS: objects freed, in how long, how many went to gc.garbage */
  g_print (ngettext ("Freed %llu object in %s; gc.garbage: %llu\n",
                     "Freed %llu objects in %s; gc.garbage: %llu\n", (unsigned long) freed),
           (unsigned long long) freed, duration_text, (unsigned long long) garbage);
  /* TRANSLATORS: the process's private dirty memory before and after the collection */
  g_print (_("Private dirty: %s → %s\n"), before, after);
}

/* Element I of the array KEY of DICT as text, or "" past its end. */
static char *
array_cell (GVariant *dict, const char *key, gsize i)
{
  g_autoptr(GVariant) array = g_variant_lookup_value (dict, key, G_VARIANT_TYPE ("at"));
  const guint64 *values;
  gsize n = 0;

  if (array == NULL)
    return g_strdup ("");
  values = g_variant_get_fixed_array (array, &n, sizeof (guint64));
  return i < n ? format_count (values[i]) : g_strdup ("");
}

static gsize
array_length (GVariant *dict, const char *key)
{
  g_autoptr(GVariant) array = g_variant_lookup_value (dict, key, G_VARIANT_TYPE ("at"));

  return array != NULL ? g_variant_n_children (array) : 0;
}

static void
print_gc (GVariant *summary)
{
  const char *const headers[] = {
    N_("GENERATION"), N_("COUNT"), N_("THRESHOLD"), N_("COLLECTIONS"), N_("COLLECTED"),
    N_("UNCOLLECTABLE"), NULL
  };
  const char *const keys[] = { "count", "threshold", "collections", "collected",
                               "uncollectable" };
  g_autoptr(GVariant) gc = lookup_dict (summary, "gc");
  g_autoptr(PymemctlTable) table = pymemctl_table_new (headers, "rrrrrr");
  gboolean enabled = TRUE;
  guint64 garbage = 0, frozen = 0;
  gint64 last_full = 0;
  g_autofree char *last_text = NULL;
  gsize rows = 0;

  print_heading (_("Garbage collector"));
  if (gc == NULL)
    {
      g_print ("%s\n", _("Not in this summary."));
      return;
    }
  g_variant_lookup (gc, "enabled", "b", &enabled);
  g_variant_lookup (gc, "garbage", "t", &garbage);
  g_variant_lookup (gc, "frozen", "t", &frozen);
  if (g_variant_lookup (gc, "last_full_collection", "x", &last_full))
    last_text = format_ago (last_full);
  else
    last_text = g_strdup (_("not seen since the helper started"));
  /* TRANSLATORS: "on" or "off"; the length of gc.garbage; the objects gc.freeze () set aside;
   * when the oldest generation was last collected ("1h 2m ago") */
  g_print (_("Automatic collection: %s · gc.garbage: %llu · frozen: %llu · last full collection: "
             "%s\n"),
           enabled ? C_("automatic collection", "on") : C_("automatic collection", "off"),
           (unsigned long long) garbage,
           (unsigned long long) frozen, last_text);

  for (guint k = 0; k < G_N_ELEMENTS (keys); k++)
    rows = MAX (rows, array_length (gc, keys[k]));
  for (gsize i = 0; i < rows; i++)
    {
      g_autofree char *generation = g_strdup_printf ("%" G_GSIZE_FORMAT, i);
      char *cells[G_N_ELEMENTS (keys)] = { NULL };

      for (guint k = 0; k < G_N_ELEMENTS (keys); k++)
        cells[k] = array_cell (gc, keys[k], i);
      pymemctl_table_add_row (table, generation, cells[0], cells[1], cells[2], cells[3], cells[4],
                              NULL);
      for (guint k = 0; k < G_N_ELEMENTS (keys); k++)
        g_free (cells[k]);
    }
  if (rows > 0)
    pymemctl_table_print (table, stdout);
}

static void
print_pymalloc (GVariant *summary)
{
  const char *const headers[] = {
    N_("ARENAS"), N_("ARENA SIZE"), N_("IN BLOCKS"), N_("AVAILABLE"), N_("FREE POOLS"),
    N_("OVERHEAD"), N_("USED"), NULL
  };
  g_autoptr(GVariant) pymalloc = lookup_dict (summary, "pymalloc");
  g_autoptr(PymemctlTable) table = pymemctl_table_new (headers, "rrrrrrr");
  guint64 arenas = 0, arena_bytes = 0, allocated = 0;
  g_autofree char *arenas_text = NULL, *arena_text = NULL, *allocated_text = NULL;
  g_autofree char *available = NULL, *free_pools = NULL, *overhead = NULL, *used = NULL;

  print_heading (_("pymalloc (the allocator of objects up to 512 bytes)"));
  if (pymalloc == NULL)
    {
      g_print ("%s\n", tracing (summary)
                         ? _("Not obtainable while tracemalloc traces (it wraps the allocator).")
                         : _("Not obtainable in this process (pymalloc disabled, no ctypes, or a "
                             "build without _PyObject_DebugMallocStats)."));
      return;
    }
  g_variant_lookup (pymalloc, "arenas", "t", &arenas);
  g_variant_lookup (pymalloc, "arena_bytes", "t", &arena_bytes);
  g_variant_lookup (pymalloc, "allocated_bytes", "t", &allocated);
  arenas_text = format_count (arenas);
  arena_text = pymemctl_format_figure (pymalloc, "arena_bytes");
  allocated_text = pymemctl_format_figure (pymalloc, "allocated_bytes");
  available = pymemctl_format_figure (pymalloc, "available_bytes");
  free_pools = pymemctl_format_figure (pymalloc, "free_pool_bytes");
  overhead = pymemctl_format_figure (pymalloc, "overhead_bytes");
  used = format_percent (allocated, arena_bytes);
  pymemctl_table_add_row (table, arenas_text, arena_text, allocated_text, available, free_pools,
                          overhead, used, NULL);
  pymemctl_table_print (table, stdout);
}

static void
print_tracemalloc (GVariant *summary)
{
  const char *const headers[] = { N_("FILE:LINE"), N_("COUNT"), N_("SIZE"), NULL };
  g_autoptr(GVariant) tracemalloc = lookup_dict (summary, "tracemalloc");
  g_autoptr(GVariant) sites = NULL;
  g_autoptr(PymemctlTable) table = pymemctl_table_new (headers, "lrr");
  gboolean tracing = FALSE;
  guint32 frames = 0;
  g_autofree char *traced = NULL, *peak = NULL, *overhead = NULL;

  print_heading (_("Allocation sites (tracemalloc)"));
  if (tracemalloc == NULL || !g_variant_lookup (tracemalloc, "tracing", "b", &tracing) ||
      !tracing)
    {
      g_print ("%s\n", _("Not tracing; run with --trace 1 and ask again later."));
      return;
    }
  g_variant_lookup (tracemalloc, "frames", "u", &frames);
  traced = pymemctl_format_figure (tracemalloc, "traced_bytes");
  peak = pymemctl_format_figure (tracemalloc, "peak_bytes");
  overhead = pymemctl_format_figure (tracemalloc, "overhead_bytes");
  /* TRANSLATORS: frames per traceback; traced now, at the peak; tracemalloc's own memory */
  g_print (_("Frames: %u · traced: %s · peak: %s · tracemalloc's own overhead: %s\n"), frames,
           traced, peak, overhead);

  sites = g_variant_lookup_value (tracemalloc, "sites", G_VARIANT_TYPE ("a(sutt)"));
  for (gsize i = 0; sites != NULL && i < g_variant_n_children (sites); i++)
    {
      const char *file;
      guint32 line;
      guint64 count, size;
      g_autofree char *where = NULL, *count_text = NULL, *size_text = NULL;

      g_variant_get_child (sites, i, "(&sutt)", &file, &line, &count, &size);
      where = g_strdup_printf ("%s:%u", file, line);
      count_text = format_count (count);
      size_text = pymemctl_format_size (size);
      pymemctl_table_add_row (table, where, count_text, size_text, NULL);
    }
  if (pymemctl_table_get_n_rows (table) == 0)
    g_print ("%s\n", _("No allocation traced yet; ask again later."));
  else
    pymemctl_table_print (table, stdout);
}

static void
print_summary (GVariant *summary, guint32 pid)
{
  print_header (summary, pid);
  print_collect (summary);
  g_print ("\n");
  pymemctl_heap_print_ledger (summary);
  pymemctl_heap_print_holders (summary, G_MAXUINT);
  print_heading (_("Objects by type"));
  pymemctl_heap_print_census (summary, G_MAXUINT);
  print_gc (summary);
  print_pymalloc (summary);
  print_tracemalloc (summary);
}

/* ---- errors ---- */

/* The daemon's message without the D-Bus error name, on one line and
 * printable: it may quote what the helper said. */
static char *
daemon_reason (const GError *error)
{
  g_autoptr(GError) copy = g_error_copy (error);

  g_dbus_error_strip_remote_error (copy);
  return pymemctl_printable (copy->message);
}

static int
print_heap_error (const GError *error, guint32 pid)
{
  g_autofree char *reason = daemon_reason (error);
  g_autofree char *message = NULL;

  if (g_error_matches (error, PYMEMD_ERROR, PYMEMD_ERROR_NOT_ATTACHED))
    message = g_strdup_printf (_("No helper runs in process %u; add --attach to bring it in "
                                 "(needs ownership or the org.pymemd.attach authorization)"),
                               pid);
  else if (g_error_matches (error, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED))
    /* TRANSLATORS: the PID, and pymemd's reason */
    message = g_strdup_printf (_("Cannot bring the helper into process %u: %s"), pid, reason);
  else if (g_error_matches (error, PYMEMD_ERROR, PYMEMD_ERROR_TIMED_OUT))
    /* TRANSLATORS: the PID, and pymemd's account of what it waited for */
    message = g_strdup_printf (_("No heap summary from process %u in time: %s"), pid, reason);
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    message = g_strdup_printf (_("pymemd did not answer within %u seconds"),
                               HEAP_CALL_TIMEOUT_MS / 1000);
  else if (g_error_matches (error, PYMEMD_ERROR, PYMEMD_ERROR_LIMIT_EXCEEDED))
    /* TRANSLATORS: the PID, and pymemd's reason (a summary being taken, or
     * the attaches one user may have) */
    message = g_strdup_printf (_("Not now for process %u: %s; try again later"), pid, reason);
  else if (g_error_matches (error, PYMEMD_ERROR, PYMEMD_ERROR_ACCESS_DENIED))
    /* TRANSLATORS: the PID, and pymemd's reason (the configuration, or who may) */
    message = g_strdup_printf (_("Not allowed to look into process %u: %s"), pid, reason);
  else if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED))
    message = g_strdup_printf (_("Not allowed to look into process %u: run pymemctl as the "
                                 "process's owner or as root, or be authorised for "
                                 "org.pymemd.attach"),
                               pid);
  else if (g_error_matches (error, PYMEMD_ERROR, PYMEMD_ERROR_PROTOCOL))
    message = g_strdup_printf (_("The helper in process %u answered wrongly: %s"), pid, reason);
  else
    return pymemctl_print_error (error, pid);
  g_printerr ("pymemctl: %s\n", message);
  return PYMEMCTL_EXIT_FAILURE;
}

/* ---- options ---- */

static gboolean
parse_number (const char *text, gint64 min, gint64 max, gint64 *value)
{
  return text != NULL && g_ascii_string_to_signed (text, 10, min, max, value, NULL);
}

static GVariant *
build_options (gboolean attach, gint64 trace, gboolean collect, gint64 top, gint64 sites, gint64 holders)
{
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  if (attach)
    g_variant_builder_add (&builder, "{sv}", "attach", g_variant_new_boolean (TRUE));
  if (trace >= 0)
    g_variant_builder_add (&builder, "{sv}", "trace", g_variant_new_int32 ((gint32) trace));
  if (collect)
    g_variant_builder_add (&builder, "{sv}", "collect", g_variant_new_boolean (TRUE));
  if (top > 0)
    g_variant_builder_add (&builder, "{sv}", "top", g_variant_new_uint32 ((guint32) top));
  if (sites >= 0)
    g_variant_builder_add (&builder, "{sv}", "sites", g_variant_new_uint32 ((guint32) sites));
  if (holders > 0)
    {
      g_variant_builder_add (&builder, "{sv}", "retained", g_variant_new_boolean (TRUE));
      g_variant_builder_add (&builder, "{sv}", "holders", g_variant_new_uint32 ((guint32) holders));
    }
  return g_variant_builder_end (&builder);
}

int
pymemctl_heap (int argc, char **argv)
{
  gboolean json = FALSE, attach = FALSE, collect = FALSE, retained = FALSE;
  g_autofree char *trace_text = NULL, *top_text = NULL, *sites_text = NULL, *holders_text = NULL;
  const GOptionEntry entries[] = {
    { "attach", 0, 0, G_OPTION_ARG_NONE, &attach,
      N_("Bring the helper into the process if it is not there (needs ownership of the process "
         "or the org.pymemd.attach authorization)"), NULL },
    { "trace", 0, 0, G_OPTION_ARG_STRING, &trace_text,
      N_("Start tracemalloc with FRAMES frames per traceback (1 to 100), or stop it (0)"),
      N_("FRAMES") },
    { "collect", 0, 0, G_OPTION_ARG_NONE, &collect,
      N_("Run gc.collect () first, and say what it freed"), NULL },
    { "top", 0, 0, G_OPTION_ARG_STRING, &top_text,
      N_("List the N largest types (1 to 1000, default 20)"), N_("N") },
    { "sites", 0, 0, G_OPTION_ARG_STRING, &sites_text,
      N_("List the N largest allocation sites when tracing (0 to 1000, default 10)"), N_("N") },
    { "retained", 0, 0, G_OPTION_ARG_NONE, &retained,
      N_("Find who holds the memory: the objects whose loss would free the most (retained size), with the "
         "module global, class attribute or local variable that reaches each"), NULL },
    { "holders", 0, 0, G_OPTION_ARG_STRING, &holders_text,
      N_("With --retained, list N holders (1 to 200, default 20)"), N_("N") },
    PYMEMCTL_JSON_OPTION (json),
    { NULL }
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdDbusMonitor1) monitor = NULL;
  g_autoptr(GVariant) summary = NULL;
  gint64 trace = -1, top = 0, sites = -1, holders = 0;
  guint32 pid = 0;
  int exit_code;

  if (!pymemctl_parse_options (&argc, &argv, _("heap PID"),
                               _("Asks the helper inside process PID for a summary of its heap: "
                                 "how much of the heap pages live objects explain, with --retained "
                                 "who holds them, the largest types, the garbage collector, "
                                 "pymalloc and, when tracing, the largest allocation sites."),
                               entries, &exit_code))
    return exit_code;
  if (argc < 2)
    return pymemctl_usage_error ("%s", _("heap needs a process ID"));
  if (argc > 2)
    return pymemctl_usage_error (_("Unexpected argument “%s”"), argv[2]);
  if (!pymemctl_parse_pid (argv[1], &pid, &error))
    return pymemctl_usage_error ("%s", error->message);
  if (trace_text != NULL && !parse_number (trace_text, 0, 100, &trace))
    return pymemctl_usage_error (_("“%s” is not a number of frames: --trace takes 0 (stop "
                                   "tracing) to 100"),
                                 trace_text);
  if (top_text != NULL && !parse_number (top_text, 1, 1000, &top))
    return pymemctl_usage_error (_("“%s” is not a number of types: --top takes 1 to 1000"),
                                 top_text);
  if (sites_text != NULL && !parse_number (sites_text, 0, 1000, &sites))
    return pymemctl_usage_error (_("“%s” is not a number of sites: --sites takes 0 to 1000"),
                                 sites_text);
  if (holders_text != NULL && !retained)
    return pymemctl_usage_error ("%s", _("--holders goes with --retained"));
  if (holders_text != NULL && !parse_number (holders_text, 1, 200, &holders))
    return pymemctl_usage_error (_("“%s” is not a number of holders: --holders takes 1 to 200"),
                                 holders_text);
  if (retained && holders == 0)
    holders = 20;

  if ((monitor = pymemctl_monitor_connect_for_calls (&error)) == NULL)
    return pymemctl_print_error (error, pid);
  if (!pymemd_dbus_monitor1_call_get_heap_summary_sync (
        monitor, pid, 0, build_options (attach, trace, collect, top, sites, holders),
        G_DBUS_CALL_FLAGS_NONE, HEAP_CALL_TIMEOUT_MS, &summary, NULL, &error))
    return print_heap_error (error, pid);

  if (json)
    {
      g_autoptr(JsonNode) root = pymemctl_heap_json (summary);
      return pymemctl_print_json_document (root);
    }
  print_summary (summary, pid);
  if (fflush (stdout) != 0)
    {
      pymemctl_stdout_failed ();
      return PYMEMCTL_EXIT_FAILURE;
    }
  return PYMEMCTL_EXIT_OK;
}
