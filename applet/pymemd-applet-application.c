/* The applet as a GtkApplication: its options, its actions, its windows and the notifications of suspected growth. */
#include "config.h"

#include <signal.h>

#include <glib-unix.h>
#include <glib/gi18n.h>

#include "pymemd-applet-application.h"
#include "pymemd-applet-autostart.h"
#include "pymemd-applet-heap-window.h"
#include "pymemd-applet-source.h"
#include "pymemd-applet-window.h"

struct _PymemdAppletApplication {
  GtkApplication parent_instance;

  /* The options. */
  char    *address;
  gboolean session;
  gboolean background;

  PymemdAppletSource *source;
  GtkWidget          *window;
  GHashTable         *heap_windows; /* process key → PymemdAppletHeapWindow */
  gboolean            held;
  guint               signal_ids[2];
};

G_DEFINE_FINAL_TYPE (PymemdAppletApplication, pymemd_applet_application, GTK_TYPE_APPLICATION)

/* ---- windows ---- */

static void
on_window_destroyed (GtkWidget *window, PymemdAppletApplication *self)
{
  self->window = NULL;
}

static PymemdAppletWindow *
main_window (PymemdAppletApplication *self)
{
  if (self->window == NULL)
    {
      self->window = pymemd_applet_window_new (GTK_APPLICATION (self), self->source);
      g_signal_connect (self->window, "destroy", G_CALLBACK (on_window_destroyed), self);
    }
  gtk_window_present (GTK_WINDOW (self->window));
  return PYMEMD_APPLET_WINDOW (self->window);
}

static void
on_heap_window_destroyed (GtkWidget *window, PymemdAppletApplication *self)
{
  g_hash_table_remove (self->heap_windows, g_object_get_data (G_OBJECT (window), "pymemd-key"));
}

static void
show_heap (GSimpleAction *action, GVariant *parameter, gpointer data)
{
  PymemdAppletApplication *self = data;
  guint32 pid;
  guint64 start_time;
  g_autofree char *key = NULL;
  PymemdAppletProcess *process;
  GtkWidget *window;

  g_variant_get (parameter, "(ut)", &pid, &start_time);
  key = pymemd_applet_process_key (pid, start_time);
  window = g_hash_table_lookup (self->heap_windows, key);
  if (window != NULL)
    {
      pymemd_applet_heap_window_refresh (PYMEMD_APPLET_HEAP_WINDOW (window));
      gtk_window_present (GTK_WINDOW (window));
      return;
    }
  process = pymemd_applet_source_lookup (self->source, pid, start_time);
  window = pymemd_applet_heap_window_new (GTK_APPLICATION (self), self->source, pid, start_time,
                                          process != NULL ? pymemd_applet_process_get_name (process) : "python");
  if (self->window != NULL)
    gtk_window_set_transient_for (GTK_WINDOW (window), GTK_WINDOW (self->window));
  g_object_set_data_full (G_OBJECT (window), "pymemd-key", g_strdup (key), g_free);
  g_hash_table_insert (self->heap_windows, g_steal_pointer (&key), window);
  g_signal_connect (window, "destroy", G_CALLBACK (on_heap_window_destroyed), self);
  gtk_window_present (GTK_WINDOW (window));
}

static void
show_process (GSimpleAction *action, GVariant *parameter, gpointer data)
{
  PymemdAppletApplication *self = data;
  guint32 pid;
  guint64 start_time;

  g_variant_get (parameter, "(ut)", &pid, &start_time);
  pymemd_applet_window_show_process (main_window (self), pid, start_time);
}

static void
change_autostart (GSimpleAction *action, GVariant *value, gpointer data)
{
  g_autoptr(GError) error = NULL;

  if (!pymemd_applet_autostart_set_enabled (g_variant_get_boolean (value), &error))
    {
      g_warning ("%s", error->message);
      return;
    }
  g_simple_action_set_state (action, value);
}

static void
show_about (GSimpleAction *action, GVariant *parameter, gpointer data)
{
  PymemdAppletApplication *self = data;
  static const char *const authors[] = { "The pymemd authors", NULL };

  gtk_show_about_dialog (self->window != NULL ? GTK_WINDOW (self->window) : NULL,
                         "program-name", _("Python Memory"),
                         "logo-icon-name", PYMEMD_APPLET_APP_ID,
                         "version", PACKAGE_VERSION,
                         "comments", _("The memory of your Python programs, as pymemd measures it"),
                         "authors", authors,
                         "translator-credits", _("translator-credits"),
                         NULL);
}

static void
quit (GSimpleAction *action, GVariant *parameter, gpointer data)
{
  g_application_quit (G_APPLICATION (data));
}

/* ---- notifications ---- */

static char *
window_text (double seconds)
{
  guint minutes = (guint) CLAMP (seconds / 60.0 + 0.5, 1, G_MAXUINT);

  if (minutes % 60 == 0)
    return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u hour", "%u hours", minutes / 60), minutes / 60);
  return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u minute", "%u minutes", minutes), minutes);
}

static void
on_growth_suspected (PymemdAppletSource *source, PymemdAppletProcess *process, double rate, double window,
                     PymemdAppletApplication *self)
{
  g_autoptr(GNotification) notification = NULL;
  g_autoptr(GIcon) icon = g_themed_icon_new (PYMEMD_APPLET_APP_ID);
  g_autofree char *id = g_strconcat ("growth-", pymemd_applet_process_get_key (process), NULL);
  g_autofree char *size = g_format_size_full ((guint64) MAX (rate, 0), G_FORMAT_SIZE_IEC_UNITS);
  g_autofree char *span = window_text (window);
  g_autofree char *title = NULL;
  g_autofree char *body = NULL;
  GVariant *target = g_variant_new ("(ut)", pymemd_applet_process_get_pid (process),
                                    pymemd_applet_process_get_start_time (process));

  /* TRANSLATORS: the title of a notification; the program's name */
  title = g_strdup_printf (_("%s keeps growing"), pymemd_applet_process_get_name (process));
  /* TRANSLATORS: a notification: "grew by 20.0 MiB an hour over the last 30 minutes (pid 1234)" */
  body = g_strdup_printf (_("Its memory (PSS) grew by %s an hour over the last %s (pid %u)."), size, span,
                          pymemd_applet_process_get_pid (process));
  notification = g_notification_new (title);
  g_notification_set_body (notification, body);
  g_notification_set_icon (notification, icon);
  g_notification_set_default_action_and_target_value (notification, "app.show-process", target);
  g_notification_add_button_with_target_value (notification, _("Inspect Heap"), "app.show-heap", target);
  g_application_send_notification (G_APPLICATION (self), id, notification);
  g_debug ("notification %s: %s: %s", id, title, body);
}

/* ---- the application ---- */

static gboolean
on_quit_signal (gpointer data)
{
  g_application_quit (G_APPLICATION (data));
  return G_SOURCE_CONTINUE;
}

static void
pymemd_applet_application_startup (GApplication *application)
{
  PymemdAppletApplication *self = PYMEMD_APPLET_APPLICATION (application);
  const GActionEntry actions[] = {
    { "show-heap", show_heap, "(ut)", NULL, NULL, { 0 } },
    { "show-process", show_process, "(ut)", NULL, NULL, { 0 } },
    { "autostart", NULL, NULL, pymemd_applet_autostart_get_enabled () ? "true" : "false", change_autostart, { 0 } },
    { "about", show_about, NULL, NULL, NULL, { 0 } },
    { "quit", quit, NULL, NULL, NULL, { 0 } },
  };
  static const char *const quit_accels[] = { "<Control>q", NULL };

  G_APPLICATION_CLASS (pymemd_applet_application_parent_class)->startup (application);
  g_action_map_add_action_entries (G_ACTION_MAP (self), actions, G_N_ELEMENTS (actions), self);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.quit", quit_accels);
  /* SIGTERM ends it as Quit does, windows closed and memory freed. */
  self->signal_ids[0] = g_unix_signal_add (SIGTERM, on_quit_signal, self);
  self->signal_ids[1] = g_unix_signal_add (SIGINT, on_quit_signal, self);

  self->source = pymemd_applet_source_new (self->session ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM, self->address);
  g_signal_connect (self->source, "growth-suspected", G_CALLBACK (on_growth_suspected), self);
  pymemd_applet_source_start (self->source);
}

static void
pymemd_applet_application_activate (GApplication *application)
{
  PymemdAppletApplication *self = PYMEMD_APPLET_APPLICATION (application);

  /* Started at login: no window, only the notifications, until asked. */
  if (self->background && !self->held)
    {
      g_application_hold (application);
      self->held = TRUE;
      g_debug ("running in the background");
      return;
    }
  main_window (self);
}

static void
pymemd_applet_application_shutdown (GApplication *application)
{
  PymemdAppletApplication *self = PYMEMD_APPLET_APPLICATION (application);

  for (guint i = 0; i < G_N_ELEMENTS (self->signal_ids); i++)
    g_clear_handle_id (&self->signal_ids[i], g_source_remove);
  G_APPLICATION_CLASS (pymemd_applet_application_parent_class)->shutdown (application);
  g_clear_object (&self->source);
}

static int
pymemd_applet_application_handle_local_options (GApplication *application, GVariantDict *options)
{
  PymemdAppletApplication *self = PYMEMD_APPLET_APPLICATION (application);
  g_autoptr(GError) error = NULL;

  if (g_variant_dict_contains (options, "version"))
    {
      g_print ("pymemd-applet %s\n", PACKAGE_VERSION);
      return 0;
    }
  g_variant_dict_lookup (options, "address", "s", &self->address);
  self->session = g_variant_dict_contains (options, "session");
  self->background = g_variant_dict_contains (options, "background");
  if (self->address != NULL && self->session)
    {
      g_printerr ("pymemd-applet: %s\n", _("--address and --session exclude each other"));
      return 2;
    }
  if (self->address != NULL && !g_dbus_is_supported_address (self->address, &error))
    {
      g_printerr ("pymemd-applet: %s\n", error->message);
      return 2;
    }
  return -1;
}

PymemdAppletApplication *
pymemd_applet_application_new (void)
{
  return g_object_new (PYMEMD_APPLET_TYPE_APPLICATION, "application-id", PYMEMD_APPLET_APP_ID, "flags",
                       G_APPLICATION_FLAGS_NONE, NULL);
}

static void
pymemd_applet_application_finalize (GObject *object)
{
  PymemdAppletApplication *self = PYMEMD_APPLET_APPLICATION (object);

  g_clear_object (&self->source);
  g_hash_table_unref (self->heap_windows);
  g_free (self->address);
  G_OBJECT_CLASS (pymemd_applet_application_parent_class)->finalize (object);
}

static void
pymemd_applet_application_class_init (PymemdAppletApplicationClass *klass)
{
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = pymemd_applet_application_finalize;
  app_class->startup = pymemd_applet_application_startup;
  app_class->activate = pymemd_applet_application_activate;
  app_class->shutdown = pymemd_applet_application_shutdown;
  app_class->handle_local_options = pymemd_applet_application_handle_local_options;
}

static void
pymemd_applet_application_init (PymemdAppletApplication *self)
{
  const GOptionEntry options[] = {
    { "address", 0, 0, G_OPTION_ARG_STRING, NULL, N_("Talk to pymemd on the bus at ADDRESS"), N_("ADDRESS") },
    { "session", 0, 0, G_OPTION_ARG_NONE, NULL, N_("Talk to pymemd on the session bus (pymemd --session)"), NULL },
    { "background", 0, 0, G_OPTION_ARG_NONE, NULL,
      N_("Start without a window: only notify of growing processes until opened"), NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, NULL, N_("Print the version and exit"), NULL },
    { NULL, 0, 0, 0, NULL, NULL, NULL },
  };

  self->heap_windows = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_application_add_main_option_entries (G_APPLICATION (self), options);
  g_application_set_option_context_summary (G_APPLICATION (self),
                                            _("Shows the Python processes pymemd watches, their memory and its "
                                              "growth."));
}
