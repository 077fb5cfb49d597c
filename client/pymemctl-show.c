/* pymemctl show PID: where one process's memory goes, from GetProcessDetails. */
#include "config.h"

#include <glib/gi18n.h>

#include "pymemctl-commands.h"
#include "pymemctl-heap.h"
#include "pymemctl-util.h"
#include "pymemd-names.h"

#define BAR_WIDTH 30

static void
print_heading (const char *title)
{
  gboolean color = pymemctl_use_color (stdout);

  g_print ("\n%s%s%s\n", color ? "\033[1m" : "", title, color ? "\033[0m" : "");
}

/* Why a pass has no figures: the daemon's ERROR_KEY, else FALLBACK. */
static void
print_reason (GVariant *details, const char *error_key, const char *fallback)
{
  const char *reason = NULL;
  g_autofree char *text = NULL;

  g_variant_lookup (details, error_key, "&s", &reason);
  text = pymemctl_printable (reason != NULL ? reason : fallback);
  g_print ("%s\n", text);
}

/* A row of the figures KEYS of DICT, after LABEL when not NULL. */
static void
add_figures_row (PymemctlTable *table, const char *label, GVariant *dict,
                 const char *const *keys)
{
  g_autoptr(GPtrArray) cells = g_ptr_array_new_with_free_func (g_free);

  if (label != NULL)
    g_ptr_array_add (cells, g_strdup (label));
  for (guint i = 0; keys[i] != NULL; i++)
    g_ptr_array_add (cells, pymemctl_format_figure (dict, keys[i]));
  g_ptr_array_add (cells, NULL);
  pymemctl_table_add_rowv (table, (const char *const *) cells->pdata);
}

static void
print_header (GVariant *details)
{
  const char *const headers[] = {
    N_("RSS"), N_("PSS"), N_("PSS DIRTY"), N_("USS"), N_("PRIV DIRTY"), N_("SWAP"),
    N_("ANONYMOUS"), NULL
  };
  const char *const keys[] = {
    PYMEMD_KEY_RSS, PYMEMD_KEY_PSS, PYMEMD_KEY_PSS_DIRTY, PYMEMD_KEY_USS, PYMEMD_KEY_PRIVATE_DIRTY, PYMEMD_KEY_SWAP, PYMEMD_KEY_ANONYMOUS, NULL
  };
  g_autoptr(PymemctlTable) table = pymemctl_table_new (headers, "rrrrrrr");
  guint32 pid = 0, uid = 0;
  const char *name = "", *version = "", *cmdline = "";
  g_autofree char *user = NULL, *name_text = NULL, *version_text = NULL, *cmdline_text = NULL;

  g_variant_lookup (details, PYMEMD_KEY_PID, "u", &pid);
  g_variant_lookup (details, PYMEMD_KEY_UID, "u", &uid);
  g_variant_lookup (details, "name", "&s", &name);
  g_variant_lookup (details, "python_version", "&s", &version);
  g_variant_lookup (details, "cmdline", "&s", &cmdline);
  user = pymemctl_user_name (uid);
  /* Whoever started the process chose its name and command line. */
  name_text = pymemctl_printable (name);
  version_text = pymemctl_printable (*version != '\0' ? version : "?");
  cmdline_text = pymemctl_printable (cmdline);
  /* TRANSLATORS: PID, program name, user, Python version */
  g_print (_("Process %u (%s) of %s, Python %s\n"), pid, name_text, user, version_text);
  g_print ("%s\n\n", cmdline_text);
  add_figures_row (table, NULL, details, keys);
  pymemctl_table_print (table, stdout);
}

static gint
compare_pss (gconstpointer a, gconstpointer b)
{
  guint64 pa = 0, pb = 0;

  pymemctl_lookup_size (*(GVariant **) a, PYMEMD_KEY_PSS, &pa);
  pymemctl_lookup_size (*(GVariant **) b, PYMEMD_KEY_PSS, &pb);
  return pa < pb ? 1 : pa > pb ? -1 : 0;
}

/* Whether pymalloc's figures are the interpreter's own arenas or a guess. */
static void
print_pymalloc_source (GVariant *details, GVariant *categories)
{
  g_autoptr(GVariant) pymalloc = g_variant_lookup_value (categories, "pymalloc",
                                                         G_VARIANT_TYPE ("a{st}"));
  guint64 exact = 0, arenas = 0;

  if (pymalloc == NULL || !pymemctl_lookup_size (pymalloc, "exact", &exact))
    return;
  if (exact)
    {
      pymemctl_lookup_size (pymalloc, "arenas", &arenas);
      g_print (ngettext ("pymalloc: the %llu arena in the interpreter's own table.\n",
                         "pymalloc: the %llu arenas in the interpreter's own table.\n",
                         (gulong) arenas),
               (unsigned long long) arenas);
      return;
    }
  g_print ("%s ", _("pymalloc: guessed from the shape of anonymous mappings"));
  print_reason (details, "pymalloc_error", "");
}

/* Entries {name, figures} of the categories, by their PSS. */
static gint
compare_category_pss (gconstpointer a, gconstpointer b)
{
  g_autoptr(GVariant) fa = g_variant_get_child_value (*(GVariant **) a, 1);
  g_autoptr(GVariant) fb = g_variant_get_child_value (*(GVariant **) b, 1);

  return compare_pss (&fa, &fb);
}

static void
print_categories (GVariant *details)
{
  const char *const headers[] = {
    N_("CATEGORY"), N_("PSS"), N_("PRIV CLEAN"), N_("PRIV DIRTY"), N_("SHR CLEAN"),
    N_("SHR DIRTY"), N_("SWAP"), NULL
  };
  const char *const keys[] = {
    PYMEMD_KEY_PSS, PYMEMD_KEY_PRIVATE_CLEAN, PYMEMD_KEY_PRIVATE_DIRTY, PYMEMD_KEY_SHARED_CLEAN, PYMEMD_KEY_SHARED_DIRTY, PYMEMD_KEY_SWAP, NULL
  };
  g_autoptr(GVariant) categories = g_variant_lookup_value (details, "categories",
                                                           G_VARIANT_TYPE ("a{sa{st}}"));
  g_autoptr(PymemctlTable) table = pymemctl_table_new (headers, "lrrrrrr");
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);

  print_heading (_("Memory by category (private and shared, clean and dirty)"));
  if (categories == NULL)
    {
      print_reason (details, "categories_error",
                    _("Not measured yet: the detail pass has not reached this process."));
      return;
    }
  for (gsize i = 0; i < g_variant_n_children (categories); i++)
    {
      g_autoptr(GVariant) entry = g_variant_get_child_value (categories, i);
      g_autoptr(GVariant) figures = g_variant_get_child_value (entry, 1);
      guint64 mappings = 0;

      if (pymemctl_lookup_size (figures, "mappings", &mappings) && mappings > 0)
        g_ptr_array_add (rows, g_steal_pointer (&entry));
    }
  g_ptr_array_sort (rows, compare_category_pss);
  for (guint i = 0; i < rows->len; i++)
    {
      g_autoptr(GVariant) figures = NULL;
      const char *name;

      g_variant_get (g_ptr_array_index (rows, i), "{&s@a{st}}", &name, &figures);
      add_figures_row (table, name, figures, keys);
    }
  pymemctl_table_print (table, stdout);
  print_pymalloc_source (details, categories);
}

static void
print_exact (GVariant *details)
{
  const char *const exact_headers[] = {
    N_("USS"), N_("PSS"), N_("RESIDENT"), N_("SWAP"), NULL
  };
  const char *const exact_keys[] = { PYMEMD_KEY_USS, PYMEMD_KEY_PSS, "resident", PYMEMD_KEY_SWAP, NULL };
  const char *const sharing_headers[] = { N_("MAPPED BY"), N_("RESIDENT"), "", NULL };
  const char *const buckets[] = { "1", "2-4", "5-16", "17+" };
  g_autoptr(GVariant) exact = g_variant_lookup_value (details, "exact", G_VARIANT_TYPE ("a{st}"));
  g_autoptr(GVariant) sharing = g_variant_lookup_value (details, "sharing",
                                                        G_VARIANT_TYPE ("a{st}"));
  g_autoptr(PymemctlTable) table = pymemctl_table_new (exact_headers, "rrrr");
  g_autoptr(PymemctlTable) histogram = pymemctl_table_new (sharing_headers, "rrl");
  guint64 largest = 0;

  print_heading (_("Exact figures (from page frame counts)"));
  if (exact == NULL)
    {
      print_reason (details, "exact_error",
                    _("Not measured yet: the exact pass has not reached this process."));
      return;
    }
  add_figures_row (table, NULL, exact, exact_keys);
  pymemctl_table_print (table, stdout);
  if (sharing == NULL)
    return;

  print_heading (_("Resident memory by how many mappings share each page"));
  for (guint i = 0; i < G_N_ELEMENTS (buckets); i++)
    {
      guint64 bytes = 0;

      if (pymemctl_lookup_size (sharing, buckets[i], &bytes))
        largest = MAX (largest, bytes);
    }
  for (guint i = 0; i < G_N_ELEMENTS (buckets); i++)
    {
      g_autoptr(GString) bar = g_string_new (NULL);
      g_autofree char *size = NULL;
      guint64 bytes = 0;

      if (!pymemctl_lookup_size (sharing, buckets[i], &bytes))
        continue;
      size = pymemctl_format_size (bytes);
      for (guint64 j = 0; largest > 0 && j < (bytes * BAR_WIDTH + largest / 2) / largest; j++)
        g_string_append (bar, "█");
      pymemctl_table_add_row (histogram, buckets[i], size, bar->str, NULL);
    }
  pymemctl_table_print (histogram, stdout);
}

static void
print_mappings (GVariant *details)
{
  const char *const headers[] = {
    N_("PSS"), N_("RSS"), N_("PRIV DIRTY"), N_("SWAP"), N_("MAPPING"), NULL
  };
  g_autoptr(GVariant) mappings = g_variant_lookup_value (details, "mappings",
                                                         G_VARIANT_TYPE ("a(stta{st})"));
  g_autoptr(PymemctlTable) table = pymemctl_table_new (headers, "rrrrl");
  GVariantIter iter;
  const char *path;
  GVariant *figures;

  if (mappings == NULL || g_variant_n_children (mappings) == 0)
    return;
  print_heading (_("Largest mappings by PSS"));
  g_variant_iter_init (&iter, mappings);
  while (g_variant_iter_next (&iter, "(&stt@a{st})", &path, NULL, NULL, &figures))
    {
      g_autofree char *pss = pymemctl_format_figure (figures, PYMEMD_KEY_PSS);
      g_autofree char *rss = pymemctl_format_figure (figures, PYMEMD_KEY_RSS);
      g_autofree char *dirty = pymemctl_format_figure (figures, PYMEMD_KEY_PRIVATE_DIRTY);
      g_autofree char *swap = pymemctl_format_figure (figures, PYMEMD_KEY_SWAP);

      pymemctl_table_add_row (table, pss, rss, dirty, swap, path, NULL);
      g_variant_unref (figures);
    }
  pymemctl_table_print (table, stdout);
}

/* The latest heap summary, in short: `pymemctl heap` gives it all. */
static void
print_heap (GVariant *details, guint32 pid)
{
  g_autoptr(GVariant) heap = g_variant_lookup_value (details, "heap", G_VARIANT_TYPE_VARDICT);
  g_autofree char *taken = NULL, *title = NULL;

  if (heap == NULL)
    return;
  taken = pymemctl_heap_format_taken (heap);
  /* TRANSLATORS: when the helper's summary was taken: "2026-11-25 19:41:02 (5m ago)" */
  title = g_strdup_printf (_("Heap, from the helper's summary taken %s"), taken);
  print_heading (title);
  pymemctl_heap_print_census (heap, 3);
  pymemctl_heap_print_ledger (heap);
  /* TRANSLATORS: the command that shows the whole summary */
  g_print (_("The whole summary, taken now: pymemctl heap %u\n"), pid);
}

/* The details as JSON: the API's keys; each mapping an object with path,
 * start and end (hexadecimal strings: addresses, not sizes) and its figures;
 * the heap summary as `pymemctl heap --json` prints it. */
static JsonNode *
details_json (GVariant *details)
{
  JsonNode *root = pymemctl_json_from_variant (details);
  g_autoptr(GVariant) mappings = g_variant_lookup_value (details, "mappings",
                                                         G_VARIANT_TYPE ("a(stta{st})"));
  g_autoptr(GVariant) heap = g_variant_lookup_value (details, "heap", G_VARIANT_TYPE_VARDICT);
  JsonArray *array;
  GVariantIter iter;
  const char *path;
  guint64 start, end;
  GVariant *figures;

  if (heap != NULL)
    json_object_set_member (json_node_get_object (root), "heap", pymemctl_heap_json (heap));
  if (mappings == NULL)
    return root;
  array = json_array_new ();
  g_variant_iter_init (&iter, mappings);
  while (g_variant_iter_next (&iter, "(&stt@a{st})", &path, &start, &end, &figures))
    {
      JsonNode *node = pymemctl_json_from_variant (figures);
      JsonObject *object = json_node_get_object (node);
      g_autofree char *start_text = g_strdup_printf ("0x%" G_GINT64_MODIFIER "x", start);
      g_autofree char *end_text = g_strdup_printf ("0x%" G_GINT64_MODIFIER "x", end);

      json_object_set_string_member (object, "path", path);
      json_object_set_string_member (object, "start", start_text);
      json_object_set_string_member (object, "end", end_text);
      json_array_add_element (array, node);
      g_variant_unref (figures);
    }
  json_object_set_array_member (json_node_get_object (root), "mappings", array);
  return root;
}

int
pymemctl_show (int argc, char **argv)
{
  gboolean json = FALSE;
  const GOptionEntry entries[] = { PYMEMCTL_JSON_OPTION (json), { NULL } };
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdDbusMonitor1) monitor = NULL;
  g_autoptr(GVariant) details = NULL;
  guint32 pid = 0;
  int exit_code;

  if (!pymemctl_parse_options (&argc, &argv, _("show PID"),
                               _("Shows where the memory of process PID goes: by category, "
                                 "private or shared, clean or dirty; how its pages are shared; "
                                 "its largest mappings."),
                               entries, &exit_code))
    return exit_code;
  if (argc < 2)
    return pymemctl_usage_error ("%s", _("show needs a process ID"));
  if (argc > 2)
    return pymemctl_usage_error (_("Unexpected argument “%s”"), argv[2]);
  if (!pymemctl_parse_pid (argv[1], &pid, &error))
    return pymemctl_usage_error ("%s", error->message);

  if ((monitor = pymemctl_monitor_connect_for_calls (&error)) == NULL ||
      !pymemd_dbus_monitor1_call_get_process_details_sync (monitor, pid, G_DBUS_CALL_FLAGS_NONE,
                                                          -1, &details, NULL, &error))
    return pymemctl_print_error (error, pid);

  if (json)
    {
      g_autoptr(JsonNode) root = details_json (details);
      return pymemctl_print_json_document (root);
    }
  print_header (details);
  print_categories (details);
  print_exact (details);
  print_mappings (details);
  print_heap (details, pid);
  return PYMEMCTL_EXIT_OK;
}
