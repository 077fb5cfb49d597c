/* A page that says why there is nothing to show (an icon or a spinner, a title, a text), like libadwaita's AdwStatusPage in plain GTK. */
#include "config.h"

#include "pymemd-applet-status-page.h"

struct _PymemdAppletStatusPage {
  GtkWidget parent_instance;

  GtkWidget *box;
  GtkWidget *image;
  GtkWidget *spinner;
  GtkWidget *title;
  GtkWidget *description;
};

G_DEFINE_FINAL_TYPE (PymemdAppletStatusPage, pymemd_applet_status_page, GTK_TYPE_WIDGET)

void
pymemd_applet_status_page_set_icon_name (PymemdAppletStatusPage *self, const char *icon_name)
{
  gtk_widget_set_visible (self->image, icon_name != NULL);
  gtk_widget_set_visible (self->spinner, icon_name == NULL);
  gtk_spinner_set_spinning (GTK_SPINNER (self->spinner),
                            icon_name == NULL && gtk_widget_get_mapped (GTK_WIDGET (self)));
  if (icon_name != NULL)
    gtk_image_set_from_icon_name (GTK_IMAGE (self->image), icon_name);
}

void
pymemd_applet_status_page_set_title (PymemdAppletStatusPage *self, const char *title)
{
  gtk_label_set_text (GTK_LABEL (self->title), title);
}

void
pymemd_applet_status_page_set_description (PymemdAppletStatusPage *self, const char *description)
{
  gtk_label_set_text (GTK_LABEL (self->description), description);
  gtk_widget_set_visible (self->description, description != NULL && description[0] != '\0');
}

const char *
pymemd_applet_status_page_get_title (PymemdAppletStatusPage *self)
{
  return gtk_label_get_text (GTK_LABEL (self->title));
}

GtkWidget *
pymemd_applet_status_page_new (void)
{
  return g_object_new (PYMEMD_APPLET_TYPE_STATUS_PAGE, NULL);
}

static void
pymemd_applet_status_page_dispose (GObject *object)
{
  PymemdAppletStatusPage *self = PYMEMD_APPLET_STATUS_PAGE (object);

  g_clear_pointer (&self->box, gtk_widget_unparent);
  G_OBJECT_CLASS (pymemd_applet_status_page_parent_class)->dispose (object);
}

/* The spinner turns only while the page is on screen: a spinning one
 * animates on every frame even in a stack page that is not shown, which
 * kept the applet drawing hundreds of times a second with the list in
 * front (tests/bench/bench-applet.sh). */
static void
pymemd_applet_status_page_map (GtkWidget *widget)
{
  PymemdAppletStatusPage *self = PYMEMD_APPLET_STATUS_PAGE (widget);

  GTK_WIDGET_CLASS (pymemd_applet_status_page_parent_class)->map (widget);
  gtk_spinner_set_spinning (GTK_SPINNER (self->spinner), gtk_widget_get_visible (self->spinner));
}

static void
pymemd_applet_status_page_unmap (GtkWidget *widget)
{
  PymemdAppletStatusPage *self = PYMEMD_APPLET_STATUS_PAGE (widget);

  gtk_spinner_set_spinning (GTK_SPINNER (self->spinner), FALSE);
  GTK_WIDGET_CLASS (pymemd_applet_status_page_parent_class)->unmap (widget);
}

static void
pymemd_applet_status_page_class_init (PymemdAppletStatusPageClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = pymemd_applet_status_page_dispose;
  widget_class->map = pymemd_applet_status_page_map;
  widget_class->unmap = pymemd_applet_status_page_unmap;
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "statuspage");
}

static GtkWidget *
centred_label (const char *css_class)
{
  GtkWidget *label = gtk_label_new (NULL);

  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (label), PANGO_WRAP_WORD_CHAR);
  gtk_label_set_justify (GTK_LABEL (label), GTK_JUSTIFY_CENTER);
  gtk_widget_add_css_class (label, css_class);
  return label;
}

static void
pymemd_applet_status_page_init (PymemdAppletStatusPage *self)
{
  self->box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  gtk_widget_set_valign (self->box, GTK_ALIGN_CENTER);
  gtk_widget_set_margin_start (self->box, 24);
  gtk_widget_set_margin_end (self->box, 24);
  gtk_widget_set_margin_top (self->box, 24);
  gtk_widget_set_margin_bottom (self->box, 24);

  self->image = gtk_image_new ();
  gtk_image_set_pixel_size (GTK_IMAGE (self->image), 96);
  gtk_widget_add_css_class (self->image, "dim-label");
  self->spinner = gtk_spinner_new ();
  gtk_widget_set_size_request (self->spinner, 32, 32);
  self->title = centred_label ("title-1");
  self->description = centred_label ("body");
  gtk_box_append (GTK_BOX (self->box), self->image);
  gtk_box_append (GTK_BOX (self->box), self->spinner);
  gtk_box_append (GTK_BOX (self->box), self->title);
  gtk_box_append (GTK_BOX (self->box), self->description);
  gtk_widget_set_parent (self->box, GTK_WIDGET (self));
  pymemd_applet_status_page_set_icon_name (self, NULL);
}
