/* The applet's window: the list of Python processes, or the page that says why there is none. */
#include "config.h"

#include <glib/gi18n.h>

#include "pymemd-applet-row.h"
#include "pymemd-applet-status-page.h"
#include "pymemd-applet-window.h"

struct _PymemdAppletWindow {
  GtkApplicationWindow parent_instance;

  PymemdAppletSource *source;
  GtkSorter          *sorter;
  GtkSortListModel   *sorted;
  GtkWidget          *subtitle;
  GtkWidget          *stack;
  GtkWidget          *status_page;
  GtkWidget          *list_view;
  gboolean            at_top;   /* the person has not scrolled down */
  gulong              state_id;
  gulong              batch_id;
};

G_DEFINE_FINAL_TYPE (PymemdAppletWindow, pymemd_applet_window, GTK_TYPE_APPLICATION_WINDOW)

/* The largest first: PSS, or RSS where that is all there is. */
static int
compare_processes (gconstpointer a, gconstpointer b, gpointer data)
{
  PymemdAppletProcess *pa = PYMEMD_APPLET_PROCESS ((gpointer) a), *pb = PYMEMD_APPLET_PROCESS ((gpointer) b);
  guint64 sa = pymemd_applet_process_get_sort_size (pa), sb = pymemd_applet_process_get_sort_size (pb);

  if (sa != sb)
    return sa > sb ? -1 : 1;
  return (int) pymemd_applet_process_get_pid (pa) - (int) pymemd_applet_process_get_pid (pb);
}

static void
show_status (PymemdAppletWindow *self, const char *icon_name, const char *title, const char *description)
{
  PymemdAppletStatusPage *page = PYMEMD_APPLET_STATUS_PAGE (self->status_page);

  pymemd_applet_status_page_set_icon_name (page, icon_name);
  pymemd_applet_status_page_set_title (page, title);
  pymemd_applet_status_page_set_description (page, description);
  gtk_stack_set_visible_child (GTK_STACK (self->stack), self->status_page);
  g_debug ("page status: %s", title);
}

static void
update_subtitle (PymemdAppletWindow *self, guint n)
{
  g_autofree char *count = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u Python process",
                                                         "%u Python processes", n), n);
  guint64 total = pymemd_applet_source_get_total (self->source);

  if (total > 0)
    {
      g_autofree char *size = g_format_size_full (total, G_FORMAT_SIZE_IEC_UNITS);
      /* TRANSLATORS: "3 Python processes · PSS 45.2 MiB": the sum of the PSS the daemon shows the user */
      g_autofree char *text = g_strdup_printf (_("%s · PSS %s"), count, size);

      gtk_label_set_text (GTK_LABEL (self->subtitle), text);
    }
  else
    gtk_label_set_text (GTK_LABEL (self->subtitle), n > 0 ? count : "");
}

static void
update_page (PymemdAppletWindow *self)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->sorted));
  const char *message = pymemd_applet_source_get_message (self->source);

  update_subtitle (self, n);
  switch (pymemd_applet_source_get_state (self->source))
    {
    case PYMEMD_APPLET_STATE_CONNECTING:
    case PYMEMD_APPLET_STATE_LOADING:
      show_status (self, NULL, _("Connecting to pymemd…"), NULL);
      break;
    case PYMEMD_APPLET_STATE_NO_BUS:
      show_status (self, "network-offline-symbolic", _("Cannot Reach the Bus"), message);
      break;
    case PYMEMD_APPLET_STATE_NOT_RUNNING:
      show_status (self, "system-shutdown-symbolic", _("pymemd Is Not Running"),
                   _("pymemd, the service that watches the memory of Python programs, is not running on this "
                     "computer. It starts with “sudo systemctl start pymemd”; the list appears here as soon as "
                     "it runs."));
      break;
    case PYMEMD_APPLET_STATE_FAILED:
      show_status (self, "dialog-error-symbolic", _("pymemd Refused"), message);
      break;
    case PYMEMD_APPLET_STATE_RUNNING:
    default:
      if (n == 0)
        show_status (self, "face-smile-symbolic", _("No Python Processes"),
                     _("Python programs appear here as soon as they start."));
      else if (gtk_stack_get_visible_child (GTK_STACK (self->stack)) != self->status_page)
        break;
      else
        {
          gtk_stack_set_visible_child_name (GTK_STACK (self->stack), "list");
          g_debug ("page list: %u processes", n);
        }
      break;
    }
}

static void
on_state (PymemdAppletSource *source, GParamSpec *pspec, PymemdAppletWindow *self)
{
  update_page (self);
}

/* Whether the list is still in order: the sort model places processes
 * that come by itself, but not those whose figures changed. */
static gboolean
still_sorted (PymemdAppletWindow *self)
{
  GListModel *model = G_LIST_MODEL (self->sorted);
  guint n = g_list_model_get_n_items (model);
  g_autoptr(PymemdAppletProcess) previous = n > 0 ? g_list_model_get_item (model, 0) : NULL;

  for (guint i = 1; i < n; i++)
    {
      g_autoptr(PymemdAppletProcess) next = g_list_model_get_item (model, i);

      if (compare_processes (previous, next, NULL) > 0)
        return FALSE;
      g_set_object (&previous, next);
    }
  return TRUE;
}

static void
on_batch_applied (PymemdAppletSource *source, guint added, guint removed, guint changed, PymemdAppletWindow *self)
{
  /* At most one re-sort for the whole batch, and none when the order
   * holds: a re-sort binds the visible rows again. */
  if (changed > 0 && !still_sorted (self))
    gtk_sorter_changed (self->sorter, GTK_SORTER_CHANGE_DIFFERENT);
  /* The list keeps its first row in place when rows come above it; where
   * the person was looking at the top, the top is what they want. */
  if (self->at_top && g_list_model_get_n_items (G_LIST_MODEL (self->sorted)) > 0)
    gtk_widget_activate_action (self->list_view, "list.scroll-to-item", "u", 0);
  update_page (self);
}

static void
on_scrolled (GtkAdjustment *adjustment, PymemdAppletWindow *self)
{
  self->at_top = gtk_adjustment_get_value (adjustment) <= 0;
}

static void
setup_row (GtkSignalListItemFactory *factory, GtkListItem *item, gpointer data)
{
  gtk_list_item_set_child (item, pymemd_applet_row_new ());
}

static void
bind_row (GtkSignalListItemFactory *factory, GtkListItem *item, PymemdAppletWindow *self)
{
  pymemd_applet_row_bind (PYMEMD_APPLET_ROW (gtk_list_item_get_child (item)),
                          PYMEMD_APPLET_PROCESS (gtk_list_item_get_item (item)), self->source);
}

static void
unbind_row (GtkSignalListItemFactory *factory, GtkListItem *item, gpointer data)
{
  pymemd_applet_row_unbind (PYMEMD_APPLET_ROW (gtk_list_item_get_child (item)));
}

static void
on_activate (GtkListView *list_view, guint position, PymemdAppletWindow *self)
{
  g_autoptr(PymemdAppletProcess) process = g_list_model_get_item (G_LIST_MODEL (self->sorted), position);

  if (process == NULL || pymemd_applet_process_get_restricted (process))
    return;
  gtk_widget_activate_action (GTK_WIDGET (self), "app.show-heap", "(ut)", pymemd_applet_process_get_pid (process),
                              pymemd_applet_process_get_start_time (process));
}

void
pymemd_applet_window_show_process (PymemdAppletWindow *self, guint32 pid, guint64 start_time)
{
  PymemdAppletProcess *process = pymemd_applet_source_lookup (self->source, pid, start_time);
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->sorted));

  for (guint i = 0; process != NULL && i < n; i++)
    {
      g_autoptr(PymemdAppletProcess) item = g_list_model_get_item (G_LIST_MODEL (self->sorted), i);

      if (item == process)
        {
          gtk_widget_activate_action (self->list_view, "list.scroll-to-item", "u", i);
          break;
        }
    }
}

static GtkWidget *
title_widget (PymemdAppletWindow *self)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *title = gtk_label_new (_("Python Memory"));

  gtk_widget_set_valign (box, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (title, "title");
  self->subtitle = gtk_label_new (NULL);
  gtk_widget_add_css_class (self->subtitle, "subtitle");
  gtk_box_append (GTK_BOX (box), title);
  gtk_box_append (GTK_BOX (box), self->subtitle);
  return box;
}

static GtkWidget *
menu_button (void)
{
  g_autoptr(GMenu) menu = g_menu_new ();
  g_autoptr(GMenu) section = g_menu_new ();
  GtkWidget *button = gtk_menu_button_new ();

  g_menu_append (section, _("_Start at Login"), "app.autostart");
  g_menu_append_section (menu, NULL, G_MENU_MODEL (section));
  g_clear_object (&section);
  section = g_menu_new ();
  g_menu_append (section, _("_About Python Memory"), "app.about");
  g_menu_append (section, _("_Quit"), "app.quit");
  g_menu_append_section (menu, NULL, G_MENU_MODEL (section));
  gtk_menu_button_set_icon_name (GTK_MENU_BUTTON (button), "open-menu-symbolic");
  gtk_menu_button_set_menu_model (GTK_MENU_BUTTON (button), G_MENU_MODEL (menu));
  gtk_widget_set_tooltip_text (button, _("Main Menu"));
  return button;
}

GtkWidget *
pymemd_applet_window_new (GtkApplication *application, PymemdAppletSource *source)
{
  PymemdAppletWindow *self = g_object_new (PYMEMD_APPLET_TYPE_WINDOW, "application", application, NULL);
  GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();
  GtkWidget *header = gtk_header_bar_new ();
  GtkWidget *scrolled = gtk_scrolled_window_new ();

  self->source = g_object_ref (source);
  gtk_window_set_title (GTK_WINDOW (self), _("Python Memory"));
  gtk_window_set_default_size (GTK_WINDOW (self), 520, 600);
  gtk_header_bar_set_title_widget (GTK_HEADER_BAR (header), title_widget (self));
  gtk_header_bar_pack_end (GTK_HEADER_BAR (header), menu_button ());
  gtk_window_set_titlebar (GTK_WINDOW (self), header);

  self->sorter = GTK_SORTER (gtk_custom_sorter_new (compare_processes, NULL, NULL));
  self->sorted = gtk_sort_list_model_new (g_object_ref (pymemd_applet_source_get_model (source)),
                                          g_object_ref (self->sorter));
  g_signal_connect (factory, "setup", G_CALLBACK (setup_row), self);
  g_signal_connect (factory, "bind", G_CALLBACK (bind_row), self);
  g_signal_connect (factory, "unbind", G_CALLBACK (unbind_row), self);
  /* One row widget per visible line, however many processes. */
  self->list_view = gtk_list_view_new (GTK_SELECTION_MODEL (gtk_no_selection_new (g_object_ref (
                                         G_LIST_MODEL (self->sorted)))),
                                       factory);
  gtk_widget_add_css_class (self->list_view, "rich-list");
  g_signal_connect (self->list_view, "activate", G_CALLBACK (on_activate), self);
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scrolled), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), self->list_view);
  self->at_top = TRUE;
  g_signal_connect_object (gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (self->list_view)), "value-changed",
                           G_CALLBACK (on_scrolled), self, 0);

  self->stack = gtk_stack_new ();
  self->status_page = pymemd_applet_status_page_new ();
  gtk_stack_add_named (GTK_STACK (self->stack), self->status_page, "status");
  gtk_stack_add_named (GTK_STACK (self->stack), scrolled, "list");
  gtk_window_set_child (GTK_WINDOW (self), self->stack);

  self->state_id = g_signal_connect (source, "notify::state", G_CALLBACK (on_state), self);
  self->batch_id = g_signal_connect (source, "batch-applied", G_CALLBACK (on_batch_applied), self);
  update_page (self);
  return GTK_WIDGET (self);
}

static void
pymemd_applet_window_dispose (GObject *object)
{
  PymemdAppletWindow *self = PYMEMD_APPLET_WINDOW (object);

  if (self->source != NULL)
    {
      g_clear_signal_handler (&self->state_id, self->source);
      g_clear_signal_handler (&self->batch_id, self->source);
    }
  g_clear_object (&self->sorted);
  g_clear_object (&self->sorter);
  G_OBJECT_CLASS (pymemd_applet_window_parent_class)->dispose (object);
  /* After the list, whose rows hold it too. */
  g_clear_object (&self->source);
}

static void
pymemd_applet_window_class_init (PymemdAppletWindowClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = pymemd_applet_window_dispose;
}

static void
pymemd_applet_window_init (PymemdAppletWindow *self)
{
}
