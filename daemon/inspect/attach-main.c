/* pymemd-attach: one attach for the daemon, run in a process of its own that outlives the daemon, so that a daemon that dies while a target's thread runs our call cannot send that thread to address 0. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gi18n.h>

#include "pymemd-attach-reply.h"
#include "pymemd-error.h"
#include "pymemd-injector.h"

#define EXIT_USAGE 2
/* A test's hook (pymemd(8), TESTING ATTACHES): a Unix socket told each
 * stage, whose answer lets the attach go on. */
#define STAGE_SOCKET_ENV "PYMEMD_ATTACH_STAGE_SOCKET"
#define MAX_STAGE_ANSWER 256

/* Held from the start, so that none of them ends us while we hold a
 * thread; a thread of our own takes them and stops the attach at its
 * next point where no thread is held. */
static sigset_t stop_signals;

static gpointer
take_stop_signals (gpointer data)
{
  GCancellable *cancellable = data;
  int sig = 0;

  while (sigwait (&stop_signals, &sig) != 0)
    ;
  g_cancellable_cancel (cancellable);
  return NULL;
}

static void
hold_stop_signals (void)
{
  sigemptyset (&stop_signals);
  sigaddset (&stop_signals, SIGTERM);
  sigaddset (&stop_signals, SIGINT);
  sigaddset (&stop_signals, SIGHUP);
  pthread_sigmask (SIG_BLOCK, &stop_signals, NULL);
}

/* Killed by the OOM killer while a call runs in a thread of the target,
 * we would take the target with us. Lowering the score needs
 * CAP_SYS_RESOURCE; without it (a --session daemon, a unit that took it
 * away: the daemon says so once when it starts) we go on unprotected. */
static void
refuse_oom_killer (void)
{
  static const char value[] = "-1000\n";
  int fd = open ("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  gboolean done = fd >= 0 && write (fd, value, strlen (value)) == (gssize) strlen (value);
  int errsv = errno;

  if (fd >= 0)
    close (fd);
  if (!done && errsv != EACCES && errsv != EPERM)
    g_printerr ("pymemd-attach: %s: %s\n", _("Cannot keep the OOM killer away (oom_score_adj)"),
                g_strerror (errsv));
}

/* The test hook's socket, if its listener runs as our user: for a root
 * daemon only root could be driving it. NULL without a hook. */
static GSocket *
connect_stage_socket (void)
{
  const char *path = g_getenv (STAGE_SOCKET_ENV);
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GCredentials) peer = NULL;
  g_autoptr(GError) error = NULL;

  if (path == NULL || *path == '\0')
    return NULL;
  address = g_unix_socket_address_new (path);
  socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, &error);
  if (socket == NULL || !g_socket_connect (socket, address, NULL, &error) ||
      (peer = g_socket_get_credentials (socket, &error)) == NULL)
    {
      /* Nobody listening there is no hook. */
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) &&
          !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
        g_printerr ("pymemd-attach: %s %s: %s\n", STAGE_SOCKET_ENV, path, error->message);
      return NULL;
    }
  if (g_credentials_get_unix_user (peer, NULL) != geteuid ())
    {
      g_printerr ("pymemd-attach: %s %s: %s\n", STAGE_SOCKET_ENV, path, _("its listener runs as another user"));
      return NULL;
    }
  return g_steal_pointer (&socket);
}

/* Tells the hook "STAGE PID" and waits for its answer line. A hook that
 * goes away is given up; the attach goes on. */
static void
tell_stage (const char *stage, gpointer data)
{
  GSocket **socket = data;
  g_autofree char *line = g_strdup_printf ("%s %d\n", stage, (int) getpid ());
  char answer[MAX_STAGE_ANSWER];
  gsize sent = 0, got = 0;

  while (*socket != NULL && sent < strlen (line))
    {
      gssize n = g_socket_send (*socket, line + sent, strlen (line) - sent, NULL, NULL);
      if (n <= 0)
        g_clear_object (socket);
      else
        sent += (gsize) n;
    }
  while (*socket != NULL && (got == 0 || answer[got - 1] != '\n'))
    {
      gssize n = g_socket_receive (*socket, answer + got, sizeof answer - got, NULL, NULL);
      if (n <= 0 || got + (gsize) n >= sizeof answer)
        g_clear_object (socket);
      else
        got += (gsize) n;
    }
}

/* The bootstrap: all of stdin, without NUL bytes, shorter than the
 * injector's bound. */
static char *
read_bootstrap (GError **error)
{
  g_autoptr(GByteArray) data = g_byte_array_new ();
  guint8 chunk[8192];

  for (;;)
    {
      gssize n = read (STDIN_FILENO, chunk, sizeof chunk);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int errsv = errno;
          g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED, _("Cannot read the bootstrap: %s"),
                       g_strerror (errsv));
          return NULL;
        }
      if (n == 0)
        break;
      if (data->len + (gsize) n >= PYMEMD_INJECTOR_MAX_BOOTSTRAP)
        {
          g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS,
                       _("The bootstrap is longer than %d bytes"), PYMEMD_INJECTOR_MAX_BOOTSTRAP - 1);
          return NULL;
        }
      g_byte_array_append (data, chunk, (guint) n);
    }
  if (memchr (data->data, '\0', data->len) != NULL)
    {
      g_set_error_literal (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS, _("The bootstrap holds a NUL byte"));
      return NULL;
    }
  g_byte_array_append (data, (const guint8 *) "", 1);
  return (char *) g_byte_array_free (g_steal_pointer (&data), FALSE);
}

/* Writes the reply; a daemon that went away (EPIPE) does not need it. */
static void
send_reply (GBytes *reply)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (reply, &len);

  while (len > 0)
    {
      gssize n = write (STDOUT_FILENO, data, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return;
      data += n;
      len -= (gsize) n;
    }
}

typedef struct {
  char  *proc_root;
  int    pid;
  char  *start_time;
  char  *script_dir;
  double wait;
} Request;

static gboolean
check_request (const Request *request, guint64 *start_time, GError **error)
{
  if (request->proc_root == NULL || request->proc_root[0] != '/' || request->pid <= 0 ||
      request->start_time == NULL ||
      !g_ascii_string_to_unsigned (request->start_time, 10, 0, G_MAXUINT64, start_time, NULL) ||
      (request->script_dir != NULL && request->script_dir[0] != '/') || !(request->wait >= 0 && request->wait <= 3600))
    {
      g_set_error_literal (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS,
                           _("Bad attach request: --proc, --pid and --start-time are needed, paths absolute, "
                             "--wait from 0 to 3600"));
      return FALSE;
    }
  return TRUE;
}

int
main (int argc, char **argv)
{
  Request request = { NULL, 0, NULL, NULL, PYMEMD_INJECTOR_DEFAULT_WAIT };
  const GOptionEntry entries[] = {
    { "proc", 0, 0, G_OPTION_ARG_FILENAME, &request.proc_root, N_("The procfs the process is in"), N_("DIR") },
    { "pid", 0, 0, G_OPTION_ARG_INT, &request.pid, N_("The process to attach to"), N_("PID") },
    { "start-time", 0, 0, G_OPTION_ARG_STRING, &request.start_time,
      N_("Its start time (clock ticks after boot)"), N_("TICKS") },
    { "script-dir", 0, 0, G_OPTION_ARG_FILENAME, &request.script_dir,
      N_("Where a PEP 768 script may be made (a directory of root's)"), N_("DIR") },
    { "wait", 0, 0, G_OPTION_ARG_DOUBLE, &request.wait,
      N_("How long a PEP 768 request may wait to be taken"), N_("SECONDS") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GCancellable) cancellable = NULL;
  g_autoptr(GSocket) stage_socket = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) reply = NULL;
  g_autofree char *bootstrap = NULL;
  PymemdInjectReport report = { 0 };
  guint64 start_time = 0;
  gboolean ok;

  /* First of all, before any thread exists: every thread inherits the mask. */
  hold_stop_signals ();
  signal (SIGPIPE, SIG_IGN);
  /* We must outlive the daemon (fork clears it; said here for the reader). */
  prctl (PR_SET_PDEATHSIG, 0);
  /* Out of the daemon's process group and session: a signal to those
   * (a terminal's ^C) is not one to us. */
  setsid ();
  refuse_oom_killer ();

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  context = g_option_context_new (NULL);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_set_summary (context, _("Brings pymemd's helper into one Python process (run by pymemd)."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, &argc, &argv, &error) || argc > 1)
    {
      g_printerr ("pymemd-attach: %s\n", error != NULL ? error->message : _("Unexpected argument"));
      return EXIT_USAGE;
    }

  cancellable = g_cancellable_new ();
  /* Its own reference: it may take a signal while we exit. */
  g_thread_unref (g_thread_new ("stop-signals", take_stop_signals, g_object_ref (cancellable)));
  stage_socket = connect_stage_socket ();

  ok = check_request (&request, &start_time, &error) && (bootstrap = read_bootstrap (&error)) != NULL &&
       pymemd_injector_inject_full (request.proc_root, request.pid, start_time, bootstrap, request.script_dir,
                                    request.wait, stage_socket != NULL ? tell_stage : NULL, &stage_socket,
                                    cancellable, &report, &error);
  reply = pymemd_attach_reply_new (ok ? &report : NULL, ok ? NULL : error);
  send_reply (reply);

  g_free (request.proc_root);
  g_free (request.start_time);
  g_free (request.script_dir);
  return EXIT_SUCCESS;
}
