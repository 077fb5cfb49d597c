/* The detail view of one process: pymemctl heap --attach's answer (the ledger of its heap pages and its largest types) in a window. */
#include "config.h"

#include <glib/gi18n.h>

#include "pymemd-applet-heap-window.h"
#include "pymemd-applet-status-page.h"

/* The ledger's parts, in the order of the bar. */
enum {
  PART_EXPLAINED,
  PART_PYMALLOC_FREE,
  PART_UNEXPLAINED,
  N_PARTS,
};

struct _PymemdAppletHeapWindow {
  GtkWindow parent_instance;

  PymemdAppletSource *source;
  guint32             pid;
  guint64             start_time;
  char               *name;
  GCancellable       *cancellable;

  GtkWidget *stack;
  GtkWidget *working_page;
  GtkWidget *error_page;
  GtkWidget *refresh_button;
  GtkWidget *summary_box; /* rebuilt for each answer */

  guint64 parts[N_PARTS];
};

G_DEFINE_FINAL_TYPE (PymemdAppletHeapWindow, pymemd_applet_heap_window, GTK_TYPE_WINDOW)

static const char *const part_colors[N_PARTS] = {
  [PART_EXPLAINED] = "accent_color",
  [PART_PYMALLOC_FREE] = "warning_color",
  [PART_UNEXPLAINED] = "error_color",
};

static char *
format_size (guint64 bytes)
{
  return g_format_size_full (bytes, G_FORMAT_SIZE_IEC_UNITS);
}

static void
part_color (GtkWidget *widget, guint part, GdkRGBA *color)
{
  if (!gtk_style_context_lookup_color (gtk_widget_get_style_context (widget), part_colors[part], color))
    gdk_rgba_parse (color, part == PART_EXPLAINED ? "#3584e4" : part == PART_PYMALLOC_FREE ? "#e5a50a" : "#e01b24");
}

/* The heap's pages split by what explains them, as one bar. */
static void
draw_ledger (GtkDrawingArea *area, cairo_t *cr, int width, int height, gpointer data)
{
  PymemdAppletHeapWindow *self = data;
  guint64 sum = 0;
  double x = 0;

  for (guint i = 0; i < N_PARTS; i++)
    sum += self->parts[i];
  if (sum == 0)
    return;
  for (guint i = 0; i < N_PARTS; i++)
    {
      double w = (double) self->parts[i] / (double) sum * width;
      GdkRGBA color;

      part_color (GTK_WIDGET (area), i, &color);
      gdk_cairo_set_source_rgba (cr, &color);
      cairo_rectangle (cr, x, 0, w, height);
      cairo_fill (cr);
      x += w;
    }
}

static GtkWidget *
heading (const char *text)
{
  GtkWidget *label = gtk_label_new (text);

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_widget_add_css_class (label, "heading");
  gtk_widget_set_margin_top (label, 12);
  return label;
}

static GtkWidget *
cell (const char *text, float xalign, const char *css_class)
{
  GtkWidget *label = gtk_label_new (text);

  gtk_label_set_xalign (GTK_LABEL (label), xalign);
  gtk_label_set_ellipsize (GTK_LABEL (label), xalign == 0 ? PANGO_ELLIPSIZE_END : PANGO_ELLIPSIZE_NONE);
  if (css_class != NULL)
    gtk_widget_add_css_class (label, css_class);
  return label;
}

/* A row of the ledger: a swatch of its colour in the bar (or none), the
 * words, the size. */
static void
ledger_row (PymemdAppletHeapWindow *self, GtkGrid *grid, int row, int part, const char *text, guint64 bytes)
{
  g_autofree char *size = format_size (bytes);
  GtkWidget *words = cell (text, 0, NULL);

  if (part >= 0)
    {
      GtkWidget *swatch = gtk_label_new ("■");
      g_autofree char *css = NULL;
      GdkRGBA color;
      g_autoptr(GtkCssProvider) provider = gtk_css_provider_new ();
      g_autofree char *color_text = NULL;

      part_color (GTK_WIDGET (self), (guint) part, &color);
      color_text = gdk_rgba_to_string (&color);
      css = g_strdup_printf ("label { color: %s; }", color_text);
      gtk_css_provider_load_from_data (provider, css, -1);
      gtk_style_context_add_provider (gtk_widget_get_style_context (swatch), GTK_STYLE_PROVIDER (provider),
                                      GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
      gtk_grid_attach (grid, swatch, 0, row, 1, 1);
    }
  else
    gtk_widget_add_css_class (words, "heading");
  gtk_widget_set_hexpand (words, TRUE);
  gtk_grid_attach (grid, words, 1, row, 1, 1);
  gtk_grid_attach (grid, cell (size, 1, "numeric"), 2, row, 1, 1);
}

static guint64
lookup_size (GVariant *dict, const char *key)
{
  guint64 value = 0;

  if (dict != NULL)
    g_variant_lookup (dict, key, "t", &value);
  return value;
}

static GtkWidget *
ledger_section (PymemdAppletHeapWindow *self, GVariant *ledger)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  GtkWidget *grid = gtk_grid_new ();
  GtkWidget *bar = gtk_drawing_area_new ();
  GtkWidget *note;
  guint64 heap = lookup_size (ledger, "heap_private_dirty");

  self->parts[PART_EXPLAINED] = lookup_size (ledger, "explained");
  self->parts[PART_PYMALLOC_FREE] = lookup_size (ledger, "pymalloc_free");
  self->parts[PART_UNEXPLAINED] = lookup_size (ledger, "unexplained");
  gtk_box_append (GTK_BOX (box), heading (_("Heap Memory")));
  gtk_drawing_area_set_content_height (GTK_DRAWING_AREA (bar), 12);
  gtk_drawing_area_set_draw_func (GTK_DRAWING_AREA (bar), draw_ledger, self, NULL);
  gtk_box_append (GTK_BOX (box), bar);
  gtk_grid_set_column_spacing (GTK_GRID (grid), 8);
  gtk_grid_set_row_spacing (GTK_GRID (grid), 4);
  ledger_row (self, GTK_GRID (grid), 0, -1, _("Private dirty memory of the heaps"), heap);
  ledger_row (self, GTK_GRID (grid), 1, PART_EXPLAINED, _("Explained by live objects"),
              self->parts[PART_EXPLAINED]);
  ledger_row (self, GTK_GRID (grid), 2, PART_PYMALLOC_FREE, _("Free in pymalloc’s arenas"),
              self->parts[PART_PYMALLOC_FREE]);
  ledger_row (self, GTK_GRID (grid), 3, PART_UNEXPLAINED, _("Unexplained"), self->parts[PART_UNEXPLAINED]);
  gtk_box_append (GTK_BOX (box), grid);
  note = gtk_label_new (_("Unexplained memory is what no live object accounts for: fragmentation, memory the "
                          "allocator keeps, allocations of C extensions."));
  gtk_label_set_wrap (GTK_LABEL (note), TRUE);
  gtk_label_set_xalign (GTK_LABEL (note), 0);
  gtk_widget_add_css_class (note, "caption");
  gtk_widget_add_css_class (note, "dim-label");
  gtk_box_append (GTK_BOX (box), note);
  return box;
}

/* "Python 3.11.2 · 12,345 objects · 2 threads · 40 modules" and how long it took. */
static GtkWidget *
interpreter_section (GVariant *summary)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 4);
  g_autoptr(GVariant) census = g_variant_lookup_value (summary, "census", G_VARIANT_TYPE_VARDICT);
  g_autoptr(GString) line = g_string_new (NULL);
  const char *python = "";
  guint32 threads = 0, modules = 0;
  double duration = 0, gil = 0;
  gboolean complete = TRUE;
  guint64 objects = lookup_size (census, "objects");
  g_autofree char *count = g_strdup_printf ("%'" G_GUINT64_FORMAT, objects);
  g_autofree char *timing = NULL;
  GtkWidget *label;

  g_variant_lookup (summary, "python", "&s", &python);
  g_variant_lookup (summary, "threads", "u", &threads);
  g_variant_lookup (summary, "modules", "u", &modules);
  g_variant_lookup (summary, "duration", "d", &duration);
  g_variant_lookup (summary, "gil_max_hold", "d", &gil);
  g_variant_lookup (summary, "complete", "b", &complete);
  gtk_box_append (GTK_BOX (box), heading (_("Interpreter")));
  g_string_append_printf (line, _("Python %s"), python);
  g_string_append (line, " · ");
  /* TRANSLATORS: "12,345 objects", the number with its thousands grouped */
  g_string_append_printf (line, g_dngettext (GETTEXT_PACKAGE, "%s object", "%s objects", (gulong) objects), count);
  g_string_append (line, " · ");
  g_string_append_printf (line, g_dngettext (GETTEXT_PACKAGE, "%u thread", "%u threads", threads), threads);
  g_string_append (line, " · ");
  g_string_append_printf (line, g_dngettext (GETTEXT_PACKAGE, "%u module", "%u modules", modules), modules);
  label = cell (line->str, 0, NULL);
  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_box_append (GTK_BOX (box), label);
  timing = g_strdup_printf (_("Taken in %.2f s, holding the interpreter lock for at most %.0f ms%s"), duration,
                            gil * 1000.0, complete ? "" : _(" (the census stopped at its time budget)"));
  label = cell (timing, 0, "caption");
  gtk_widget_add_css_class (label, "dim-label");
  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_box_append (GTK_BOX (box), label);
  return box;
}

static GtkWidget *
types_section (GVariant *summary, guint *n_types)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  GtkWidget *grid = gtk_grid_new ();
  g_autoptr(GVariant) census = g_variant_lookup_value (summary, "census", G_VARIANT_TYPE_VARDICT);
  g_autoptr(GVariant) types = census != NULL ? g_variant_lookup_value (census, "types", G_VARIANT_TYPE ("a(stt)"))
                                             : NULL;
  GVariantIter iter;
  const char *type;
  guint64 count, bytes;
  int row = 1;

  *n_types = 0;
  gtk_box_append (GTK_BOX (box), heading (_("Largest Types")));
  gtk_grid_set_column_spacing (GTK_GRID (grid), 12);
  gtk_grid_set_row_spacing (GTK_GRID (grid), 2);
  gtk_grid_attach (GTK_GRID (grid), cell (_("Type"), 0, "dim-label"), 0, 0, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), cell (_("Objects"), 1, "dim-label"), 1, 0, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), cell (_("Size"), 1, "dim-label"), 2, 0, 1, 1);
  if (types != NULL)
    {
      g_variant_iter_init (&iter, types);
      while (g_variant_iter_next (&iter, "(&stt)", &type, &count, &bytes))
        {
          g_autofree char *count_text = g_strdup_printf ("%'" G_GUINT64_FORMAT, count);
          g_autofree char *size = format_size (bytes);
          g_autofree char *valid = g_utf8_make_valid (type, -1);
          GtkWidget *name = cell (valid, 0, "monospace");

          gtk_widget_set_hexpand (name, TRUE);
          gtk_grid_attach (GTK_GRID (grid), name, 0, row, 1, 1);
          gtk_grid_attach (GTK_GRID (grid), cell (count_text, 1, "numeric"), 1, row, 1, 1);
          gtk_grid_attach (GTK_GRID (grid), cell (size, 1, "numeric"), 2, row, 1, 1);
          row++;
          (*n_types)++;
        }
    }
  gtk_box_append (GTK_BOX (box), grid);
  return box;
}

/* Once the summary is on screen (its frame painted), for the test. */
static void
on_after_paint (GdkFrameClock *clock, PymemdAppletHeapWindow *self)
{
  g_signal_handlers_disconnect_by_func (clock, on_after_paint, self);
  g_debug ("heap drawn pid=%u", self->pid);
}

static void
show_summary (PymemdAppletHeapWindow *self, GVariant *summary)
{
  g_autoptr(GVariant) ledger = g_variant_lookup_value (summary, "ledger", G_VARIANT_TYPE_VARDICT);
  GtkWidget *page = gtk_stack_get_child_by_name (GTK_STACK (self->stack), "summary");
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  guint n_types;

  gtk_widget_set_margin_start (box, 18);
  gtk_widget_set_margin_end (box, 18);
  gtk_widget_set_margin_bottom (box, 18);
  gtk_box_append (GTK_BOX (box), ledger_section (self, ledger));
  gtk_box_append (GTK_BOX (box), interpreter_section (summary));
  gtk_box_append (GTK_BOX (box), types_section (summary, &n_types));
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (page), box);
  self->summary_box = box;
  gtk_stack_set_visible_child_name (GTK_STACK (self->stack), "summary");
  g_debug ("heap shown pid=%u heap_private_dirty=%" G_GUINT64_FORMAT " explained=%" G_GUINT64_FORMAT
           " pymalloc_free=%" G_GUINT64_FORMAT " unexplained=%" G_GUINT64_FORMAT " types=%u",
           self->pid, lookup_size (ledger, "heap_private_dirty"), self->parts[PART_EXPLAINED],
           self->parts[PART_PYMALLOC_FREE], self->parts[PART_UNEXPLAINED], n_types);
  if (gtk_widget_get_frame_clock (GTK_WIDGET (self)) != NULL)
    g_signal_connect_object (gtk_widget_get_frame_clock (GTK_WIDGET (self)), "after-paint",
                             G_CALLBACK (on_after_paint), self, 0);
}

static void
got_summary (GObject *object, GAsyncResult *result, gpointer data)
{
  g_autoptr(PymemdAppletHeapWindow) self = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) summary = pymemd_applet_source_get_heap_summary_finish (PYMEMD_APPLET_SOURCE (object), result,
                                                                               &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  gtk_widget_set_sensitive (self->refresh_button, TRUE);
  if (summary == NULL)
    {
      pymemd_applet_status_page_set_description (PYMEMD_APPLET_STATUS_PAGE (self->error_page), error->message);
      gtk_stack_set_visible_child_name (GTK_STACK (self->stack), "error");
      g_debug ("heap failed pid=%u: %s", self->pid, error->message);
      return;
    }
  show_summary (self, summary);
}

void
pymemd_applet_heap_window_refresh (PymemdAppletHeapWindow *self)
{
  g_autofree char *text = NULL;

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  /* TRANSLATORS: the program's name and its process ID */
  text = g_strdup_printf (_("Looking into %s (pid %u)…"), self->name, self->pid);
  pymemd_applet_status_page_set_title (PYMEMD_APPLET_STATUS_PAGE (self->working_page), text);
  gtk_stack_set_visible_child_name (GTK_STACK (self->stack), "working");
  gtk_widget_set_sensitive (self->refresh_button, FALSE);
  pymemd_applet_source_get_heap_summary (self->source, self->pid, self->start_time, self->cancellable, got_summary,
                                         g_object_ref (self));
}

GtkWidget *
pymemd_applet_heap_window_new (GtkApplication *application, PymemdAppletSource *source, guint32 pid,
                               guint64 start_time, const char *name)
{
  PymemdAppletHeapWindow *self = g_object_new (PYMEMD_APPLET_TYPE_HEAP_WINDOW, "application", application, NULL);
  g_autofree char *title = NULL;

  self->source = g_object_ref (source);
  self->pid = pid;
  self->start_time = start_time;
  self->name = g_strdup (name);
  /* TRANSLATORS: the window's title: the program's name and its process ID */
  title = g_strdup_printf (_("%s (pid %u)"), name, pid);
  gtk_window_set_title (GTK_WINDOW (self), title);
  pymemd_applet_heap_window_refresh (self);
  return GTK_WIDGET (self);
}

static void
pymemd_applet_heap_window_dispose (GObject *object)
{
  PymemdAppletHeapWindow *self = PYMEMD_APPLET_HEAP_WINDOW (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->source);
  G_OBJECT_CLASS (pymemd_applet_heap_window_parent_class)->dispose (object);
}

static void
pymemd_applet_heap_window_finalize (GObject *object)
{
  g_free (PYMEMD_APPLET_HEAP_WINDOW (object)->name);
  G_OBJECT_CLASS (pymemd_applet_heap_window_parent_class)->finalize (object);
}

static void
pymemd_applet_heap_window_class_init (PymemdAppletHeapWindowClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = pymemd_applet_heap_window_dispose;
  G_OBJECT_CLASS (klass)->finalize = pymemd_applet_heap_window_finalize;
}

static void
on_refresh (GtkButton *button, PymemdAppletHeapWindow *self)
{
  pymemd_applet_heap_window_refresh (self);
}

static void
pymemd_applet_heap_window_init (PymemdAppletHeapWindow *self)
{
  GtkWidget *header = gtk_header_bar_new ();
  GtkWidget *scrolled = gtk_scrolled_window_new ();

  gtk_window_set_default_size (GTK_WINDOW (self), 440, 560);
  self->refresh_button = gtk_button_new_from_icon_name ("view-refresh-symbolic");
  gtk_widget_set_tooltip_text (self->refresh_button, _("Look Again"));
  g_signal_connect (self->refresh_button, "clicked", G_CALLBACK (on_refresh), self);
  gtk_header_bar_pack_start (GTK_HEADER_BAR (header), self->refresh_button);
  gtk_window_set_titlebar (GTK_WINDOW (self), header);

  self->stack = gtk_stack_new ();
  self->working_page = pymemd_applet_status_page_new ();
  pymemd_applet_status_page_set_description (PYMEMD_APPLET_STATUS_PAGE (self->working_page),
                                             _("pymemd brings its helper into the process if it is not there "
                                               "yet; it counts the objects while the program runs."));
  gtk_stack_add_named (GTK_STACK (self->stack), self->working_page, "working");
  self->error_page = pymemd_applet_status_page_new ();
  pymemd_applet_status_page_set_icon_name (PYMEMD_APPLET_STATUS_PAGE (self->error_page), "dialog-error-symbolic");
  pymemd_applet_status_page_set_title (PYMEMD_APPLET_STATUS_PAGE (self->error_page),
                                       _("Cannot Look Into the Heap"));
  gtk_stack_add_named (GTK_STACK (self->stack), self->error_page, "error");
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scrolled), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_stack_add_named (GTK_STACK (self->stack), scrolled, "summary");
  gtk_window_set_child (GTK_WINDOW (self), self->stack);
}
