/* A small line of a process's PSS over the last minutes, drawn as the kernel's figures step from sample to sample. */
#include "config.h"

#include "pymemd-applet-sparkline.h"

#define WIDTH  96
#define HEIGHT 28

struct _PymemdAppletSparkline {
  GtkWidget parent_instance;

  GArray *points; /* PymemdAppletPoint */
};

G_DEFINE_FINAL_TYPE (PymemdAppletSparkline, pymemd_applet_sparkline, GTK_TYPE_WIDGET)

/* The range of PSS drawn: every point in the span, and the one before it
 * (its value holds at the left edge). */
static void
value_range (PymemdAppletSparkline *self, gint64 start, guint *first, double *low, double *high)
{
  const PymemdAppletPoint *points = (const PymemdAppletPoint *) (void *) self->points->data;
  guint n = self->points->len;

  *first = 0;
  while (*first + 1 < n && points[*first + 1].time <= start)
    (*first)++;
  *low = *high = (double) points[*first].pss;
  for (guint i = *first; i < n; i++)
    {
      *low = MIN (*low, (double) points[i].pss);
      *high = MAX (*high, (double) points[i].pss);
    }
}

static void
draw (PymemdAppletSparkline *self, cairo_t *cr, double width, double height, const GdkRGBA *color)
{
  const PymemdAppletPoint *points = (const PymemdAppletPoint *) (void *) self->points->data;
  guint n = self->points->len, first;
  gint64 end = MAX (g_get_real_time (), points[n - 1].time);
  /* Over the span, or since the process was first seen when that is
   * shorter: a young process's line fills the width too. */
  gint64 start = MAX (end - PYMEMD_APPLET_HISTORY_SPAN_US, MIN (points[0].time, end - G_USEC_PER_SEC));
  double low, high, pad, y = 0;

  value_range (self, start, &first, &low, &high);
  /* A flat line sits in the middle; a moving one fills the height. */
  pad = high > low ? (high - low) * 0.1 : MAX (high * 0.05, 1.0);
  low -= pad;
  high += pad;
#define X(t) ((double) ((t) < start ? start : (t) - start) / (double) (end - start) * width)
#define Y(v) (height - 1.0 - ((double) (v) - low) / (high - low) * (height - 2.0))
  cairo_move_to (cr, X (points[first].time), Y (points[first].pss));
  for (guint i = first; i < n; i++)
    {
      y = Y (points[i].pss);
      cairo_line_to (cr, X (points[i].time), y);
      cairo_line_to (cr, i + 1 < n ? X (points[i + 1].time) : width, y);
    }
#undef X
#undef Y
  cairo_set_line_width (cr, 1.5);
  cairo_set_line_join (cr, CAIRO_LINE_JOIN_ROUND);
  gdk_cairo_set_source_rgba (cr, color);
  cairo_stroke_preserve (cr);
  /* The area under it, faint. */
  cairo_line_to (cr, width, height);
  {
    double x0, y0;

    cairo_path_extents (cr, &x0, &y0, NULL, NULL);
    cairo_line_to (cr, x0, height);
  }
  cairo_close_path (cr);
  cairo_set_source_rgba (cr, color->red, color->green, color->blue, color->alpha * 0.2);
  cairo_fill (cr);
}

static void
pymemd_applet_sparkline_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  PymemdAppletSparkline *self = PYMEMD_APPLET_SPARKLINE (widget);
  int width = gtk_widget_get_width (widget), height = gtk_widget_get_height (widget);
  GtkStyleContext *style = gtk_widget_get_style_context (widget);
  GdkRGBA color;
  cairo_t *cr;

  if (self->points->len == 0 || width <= 0 || height <= 0)
    return;
  /* Adwaita's accent (GTK 4.8 names it the GTK 3 way), else the text's colour. */
  if (!gtk_style_context_lookup_color (style, "accent_color", &color) &&
      !gtk_style_context_lookup_color (style, "theme_selected_bg_color", &color))
    gtk_style_context_get_color (style, &color);
  cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, width, height));
  draw (self, cr, width, height, &color);
  cairo_destroy (cr);
}

static void
pymemd_applet_sparkline_measure (GtkWidget *widget, GtkOrientation orientation, int for_size, int *minimum,
                                 int *natural, int *minimum_baseline, int *natural_baseline)
{
  *minimum = *natural = orientation == GTK_ORIENTATION_HORIZONTAL ? WIDTH : HEIGHT;
}

void
pymemd_applet_sparkline_set_points (PymemdAppletSparkline *self, const PymemdAppletPoint *points, guint n_points)
{
  g_array_set_size (self->points, 0);
  g_array_append_vals (self->points, points, n_points);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

GtkWidget *
pymemd_applet_sparkline_new (void)
{
  return g_object_new (PYMEMD_APPLET_TYPE_SPARKLINE, NULL);
}

static void
pymemd_applet_sparkline_finalize (GObject *object)
{
  g_array_unref (PYMEMD_APPLET_SPARKLINE (object)->points);
  G_OBJECT_CLASS (pymemd_applet_sparkline_parent_class)->finalize (object);
}

static void
pymemd_applet_sparkline_class_init (PymemdAppletSparklineClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = pymemd_applet_sparkline_finalize;
  widget_class->snapshot = pymemd_applet_sparkline_snapshot;
  widget_class->measure = pymemd_applet_sparkline_measure;
  gtk_widget_class_set_css_name (widget_class, "sparkline");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
pymemd_applet_sparkline_init (PymemdAppletSparkline *self)
{
  self->points = g_array_new (FALSE, FALSE, sizeof (PymemdAppletPoint));
}
