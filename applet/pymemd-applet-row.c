/* One line of the list: a process's name, whose it is, its PSS and private dirty memory, its sparkline and the way to its heap. */
#include "config.h"

#include <pwd.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "pymemd-applet-row.h"
#include "pymemd-applet-sparkline.h"

struct _PymemdAppletRow {
  GtkWidget parent_instance;

  GtkWidget *name_label;
  GtkWidget *info_label;
  GtkWidget *sparkline;
  GtkWidget *pss_label;
  GtkWidget *dirty_label;
  GtkWidget *heap_button;

  PymemdAppletProcess *process;
  PymemdAppletSource  *source;
  gulong               changed_id;
};

G_DEFINE_FINAL_TYPE (PymemdAppletRow, pymemd_applet_row, GTK_TYPE_WIDGET)

static char *
format_size (guint64 bytes)
{
  return g_format_size_full (bytes, G_FORMAT_SIZE_IEC_UNITS);
}

/* "pid 1234 · Python 3.11.2", with the user's name when it is someone else's. */
static char *
info_text (PymemdAppletProcess *process)
{
  g_autoptr(GString) text = g_string_new (NULL);
  const char *version = pymemd_applet_process_get_python_version (process);
  guint32 uid = pymemd_applet_process_get_uid (process);

  /* TRANSLATORS: the process ID in a row of the list */
  g_string_append_printf (text, _("pid %u"), pymemd_applet_process_get_pid (process));
  if (version[0] != '\0')
    /* TRANSLATORS: the interpreter's version in a row of the list, after "pid 1234 · " */
    g_string_append_printf (text, _(" · Python %s"), version);
  if (uid != (guint32) getuid ())
    {
      struct passwd *pw = getpwuid ((uid_t) uid);

      if (pw != NULL)
        g_string_append_printf (text, " · %s", pw->pw_name);
      else
        /* TRANSLATORS: a user without a name, after "pid 1234 · " */
        g_string_append_printf (text, _(" · uid %u"), uid);
    }
  return g_string_free (g_steal_pointer (&text), FALSE);
}

static void
show (PymemdAppletRow *self)
{
  PymemdAppletProcess *process = self->process;
  gboolean restricted = pymemd_applet_process_get_restricted (process);
  g_autofree char *info = info_text (process);
  g_autofree char *size = NULL;
  g_autofree char *pss_text = NULL;
  g_autofree char *dirty_text = NULL;
  const PymemdAppletPoint *points;
  guint n_points;
  guint64 pss, dirty;

  gtk_label_set_text (GTK_LABEL (self->name_label), pymemd_applet_process_get_name (process));
  gtk_label_set_text (GTK_LABEL (self->info_label), info);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self), pymemd_applet_process_get_cmdline (process));
  if (pymemd_applet_process_get_pss (process, &pss))
    {
      size = format_size (pss);
      /* TRANSLATORS: proportional set size, the process's fair share of its memory */
      pss_text = g_strdup_printf (_("PSS %s"), size);
    }
  else
    {
      size = format_size (pymemd_applet_process_get_rss (process));
      /* TRANSLATORS: resident set size, all the memory of the process in RAM, shared or not */
      pss_text = g_strdup_printf (_("RSS %s"), size);
    }
  if (restricted)
    dirty_text = g_strdup (_("no details"));
  else if (pymemd_applet_process_get_private_dirty (process, &dirty))
    {
      g_free (size);
      size = format_size (dirty);
      /* TRANSLATORS: private dirty memory, what only this process wrote */
      dirty_text = g_strdup_printf (_("dirty %s"), size);
    }
  else
    dirty_text = g_strdup ("");
  gtk_label_set_text (GTK_LABEL (self->pss_label), pss_text);
  gtk_label_set_text (GTK_LABEL (self->dirty_label), dirty_text);
  gtk_widget_set_tooltip_text (self->dirty_label,
                               restricted ? _("Another user’s process: only what every user may see of it, its RSS, "
                                              "is shown")
                                          : _("Private dirty memory: what this process alone wrote to"));
  points = pymemd_applet_process_get_history (process, &n_points);
  pymemd_applet_sparkline_set_points (PYMEMD_APPLET_SPARKLINE (self->sparkline), points, restricted ? 0 : n_points);
  /* Another user's process has no heap to show: no action, and the
   * button greyed (an action would set its sensitivity again). */
  if (restricted)
    gtk_actionable_set_action_name (GTK_ACTIONABLE (self->heap_button), NULL);
  else
    {
      /* The target first: the action takes one. */
      gtk_actionable_set_action_target (GTK_ACTIONABLE (self->heap_button), "(ut)",
                                        pymemd_applet_process_get_pid (process),
                                        pymemd_applet_process_get_start_time (process));
      gtk_actionable_set_action_name (GTK_ACTIONABLE (self->heap_button), "app.show-heap");
    }
  gtk_widget_set_sensitive (self->heap_button, !restricted);
  /* What the row shows, word for word: the test of a person's view reads it. */
  g_debug ("row pid=%u name=%s shows “%s” “%s” sparkline=%u points%s", pymemd_applet_process_get_pid (process),
           gtk_label_get_text (GTK_LABEL (self->name_label)), gtk_label_get_text (GTK_LABEL (self->pss_label)),
           gtk_label_get_text (GTK_LABEL (self->dirty_label)), restricted ? 0 : n_points,
           restricted ? " restricted" : "");
}

static void
on_changed (PymemdAppletProcess *process, PymemdAppletRow *self)
{
  show (self);
  if (pymemd_applet_process_get_history_state (process) == PYMEMD_APPLET_HISTORY_NONE)
    pymemd_applet_source_request_history (self->source, process);
}

void
pymemd_applet_row_bind (PymemdAppletRow *self, PymemdAppletProcess *process, PymemdAppletSource *source)
{
  g_return_if_fail (self->process == NULL);

  self->process = g_object_ref (process);
  self->source = g_object_ref (source);
  self->changed_id = g_signal_connect (process, "changed", G_CALLBACK (on_changed), self);
  pymemd_applet_process_hold_view (process);
  on_changed (process, self);
}

void
pymemd_applet_row_unbind (PymemdAppletRow *self)
{
  if (self->process == NULL)
    return;
  g_clear_signal_handler (&self->changed_id, self->process);
  pymemd_applet_process_release_view (self->process);
  g_clear_object (&self->process);
  g_clear_object (&self->source);
}

GtkWidget *
pymemd_applet_row_new (void)
{
  return g_object_new (PYMEMD_APPLET_TYPE_ROW, NULL);
}

static GtkWidget *
row_label (const char *const *classes, float xalign)
{
  GtkWidget *label = gtk_label_new (NULL);

  gtk_label_set_xalign (GTK_LABEL (label), xalign);
  gtk_label_set_single_line_mode (GTK_LABEL (label), TRUE);
  for (const char *const *c = classes; *c != NULL; c++)
    gtk_widget_add_css_class (label, *c);
  return label;
}

static void
pymemd_applet_row_dispose (GObject *object)
{
  PymemdAppletRow *self = PYMEMD_APPLET_ROW (object);
  GtkWidget *child;

  pymemd_applet_row_unbind (self);
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self))) != NULL)
    gtk_widget_unparent (child);
  G_OBJECT_CLASS (pymemd_applet_row_parent_class)->dispose (object);
}

static void
pymemd_applet_row_class_init (PymemdAppletRowClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = pymemd_applet_row_dispose;
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BOX_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "processrow");
}

static void
pymemd_applet_row_init (PymemdAppletRow *self)
{
  static const char *const heading[] = { "heading", NULL };
  static const char *const caption[] = { "caption", "dim-label", NULL };
  static const char *const numeric[] = { "numeric", NULL };
  static const char *const numeric_caption[] = { "numeric", "caption", "dim-label", NULL };
  GtkWidget *texts = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  GtkWidget *figures = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);

  gtk_box_layout_set_spacing (GTK_BOX_LAYOUT (gtk_widget_get_layout_manager (GTK_WIDGET (self))), 12);
  self->name_label = row_label (heading, 0);
  self->info_label = row_label (caption, 0);
  gtk_label_set_ellipsize (GTK_LABEL (self->name_label), PANGO_ELLIPSIZE_END);
  gtk_label_set_ellipsize (GTK_LABEL (self->info_label), PANGO_ELLIPSIZE_END);
  gtk_box_append (GTK_BOX (texts), self->name_label);
  gtk_box_append (GTK_BOX (texts), self->info_label);
  gtk_widget_set_hexpand (texts, TRUE);
  gtk_widget_set_valign (texts, GTK_ALIGN_CENTER);
  gtk_widget_set_parent (texts, GTK_WIDGET (self));

  self->sparkline = pymemd_applet_sparkline_new ();
  gtk_widget_set_valign (self->sparkline, GTK_ALIGN_CENTER);
  gtk_widget_set_tooltip_text (self->sparkline, _("PSS over the last ten minutes"));
  gtk_widget_set_parent (self->sparkline, GTK_WIDGET (self));

  self->pss_label = row_label (numeric, 1);
  self->dirty_label = row_label (numeric_caption, 1);
  gtk_box_append (GTK_BOX (figures), self->pss_label);
  gtk_box_append (GTK_BOX (figures), self->dirty_label);
  gtk_widget_set_valign (figures, GTK_ALIGN_CENTER);
  gtk_widget_set_size_request (figures, 110, -1);
  gtk_widget_set_parent (figures, GTK_WIDGET (self));

  self->heap_button = gtk_button_new_from_icon_name ("system-search-symbolic");
  gtk_widget_add_css_class (self->heap_button, "flat");
  gtk_widget_set_valign (self->heap_button, GTK_ALIGN_CENTER);
  gtk_widget_set_tooltip_text (self->heap_button, _("Inspect Heap"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->heap_button), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Inspect Heap"), -1);
  gtk_widget_set_parent (self->heap_button, GTK_WIDGET (self));
}
