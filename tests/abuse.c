/* Test helper: one user's ways of taking pymemd's shared resources from everyone, and root's probes that show whether it is still served; run as nobody by test-limits and tests/bench/bench-abuse.sh.
 *
 *   abuse hellos SOCKET N
 *       N helper connections with valid hellos, from N children, held until
 *       stdin closes.  RESULT open=connections still open once the daemon
 *       has read all that was sent on them (or closed them), and 1 s more;
 *       seconds=how long that took.
 *   abuse frames SOCKET N
 *       N connections from N children, each sending a valid hello, a 1 MiB
 *       frame header and then 1 MiB - 1 bytes of it, held until stdin
 *       closes.  RESULT open=...
 *   abuse flood SOCKET SECONDS
 *       connect, send "\xff\xff\xff\xff", close, in a loop.  RESULT
 *       connections=... per_second=...
 *   abuse probe SOCKET
 *       one helper connection with a valid hello (this process): RESULT
 *       served=1 when the daemon still holds it open 1 s later, and how
 *       long connect() took.
 *   abuse subscribe ADDRESS CONNECTIONS SUBSCRIPTIONS PIDS
 *       CONNECTIONS bus connections, each calling Subscribe SUBSCRIPTIONS
 *       times with PIDS pids, held until stdin closes.  RESULT ok=...
 *       refused=...
 *   abuse rescan ADDRESS CALLERS SECONDS
 *       CALLERS connections calling Rescan back to back for SECONDS.
 *       RESULT ok=... refused=...
 *   abuse call ADDRESS METHOD
 *       one call of METHOD without arguments (Rescan) or of Subscribe with
 *       no options: RESULT ok=1 ms=(its latency), or ok=0 error=...
 *
 * Lines starting with RESULT are key=value, for the script.  Held modes print
 * "ready" once set up.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>

#define NAME      "org.pymemd.Monitor1"
#define PATH      "/org/pymemd/Monitor1"
#define IFACE     "org.pymemd.Monitor1"
#define MAX_FRAME (1024 * 1024)

static int
connect_socket (const char *path)
{
  struct sockaddr_un sun = { .sun_family = AF_UNIX };
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_strlcpy (sun.sun_path, path, sizeof sun.sun_path);
  if (fd < 0 || connect (fd, (struct sockaddr *) &sun, sizeof sun) < 0)
    {
      if (fd >= 0)
        close (fd);
      return -1;
    }
  return fd;
}

static gboolean
write_all (int fd, const void *data, size_t len)
{
  const char *p = data;

  while (len > 0)
    {
      ssize_t n = send (fd, p, len, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      p += n;
      len -= (size_t) n;
    }
  return TRUE;
}

static gboolean
send_frame (int fd, const char *json)
{
  guint32 header = GUINT32_TO_BE ((guint32) strlen (json));

  return write_all (fd, &header, sizeof header) && write_all (fd, json, strlen (json));
}

static guint64
own_start_time (void)
{
  g_autofree char *stat = NULL;
  g_auto(GStrv) fields = NULL;
  const char *paren;

  if (!g_file_get_contents ("/proc/self/stat", &stat, NULL, NULL) ||
      (paren = strrchr (stat, ')')) == NULL)
    return 0;
  fields = g_strsplit (paren + 2, " ", -1);
  /* Field 22; the fields after ")" start at field 3. */
  return g_strv_length (fields) > 19 ? g_ascii_strtoull (fields[19], NULL, 10) : 0;
}

static gboolean
send_hello (int fd)
{
  g_autofree char *hello = g_strdup_printf (
    "{\"v\": 1, \"type\": \"hello\", \"pid\": %d, \"start_time\": %" G_GUINT64_FORMAT
    ", \"nonce\": null, \"python\": \"3.11.2\", \"implementation\": \"cpython\", "
    "\"how\": \"env\"}", (int) getpid (), own_start_time ());

  return send_frame (fd, hello);
}

/* Whether the daemon has closed FD (EOF or an error) by now. */
static gboolean
is_closed (int fd)
{
  char buf[64];
  ssize_t n = recv (fd, buf, sizeof buf, MSG_DONTWAIT);

  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* Whether the daemon has closed FD or read all that was sent on it. */
static gboolean
is_settled (int fd)
{
  int unread = 0;

  return fd < 0 || is_closed (fd) || (ioctl (fd, SIOCOUTQ, &unread) == 0 && unread == 0);
}

/* Until the daemon has decided on each of FDS[N] (20 s at most). */
static void
wait_settled (const int *fds, guint n)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  guint i = 0;

  while (i < n && g_get_monotonic_time () < deadline)
    if (is_settled (fds[i]))
      i++;
    else
      g_usleep (50000);
}

static guint
count_open (const int *fds, guint n)
{
  guint open = 0;

  for (guint i = 0; i < n; i++)
    open += fds[i] >= 0 && !is_closed (fds[i]);
  return open;
}

/* Until stdin closes (the script's signal that the measurement is over). */
static void
hold (void)
{
  char buf[64];

  printf ("ready\n");
  fflush (stdout);
  while (read (STDIN_FILENO, buf, sizeof buf) > 0)
    ;
}

/* A 1 MiB frame header and 1 MiB - 1 bytes of its body: the frame is never
 * finished.  Stops early when the daemon closes the connection. */
static gboolean
send_unfinished_frame (int fd)
{
  static char body[64 * 1024];
  guint32 header = GUINT32_TO_BE (MAX_FRAME);
  gsize sent = 0;

  memset (body, ' ', sizeof body);
  if (!write_all (fd, &header, sizeof header))
    return FALSE;
  while (sent < MAX_FRAME - 1)
    {
      ssize_t k = send (fd, body, MIN (sizeof body, MAX_FRAME - 1 - sent), MSG_NOSIGNAL);
      if (k < 0 && errno == EINTR)
        continue;
      if (k <= 0)
        return FALSE;
      sent += (gsize) k;
    }
  return TRUE;
}

/* A child: PER_CHILD connections with valid hellos (and, unless HELLO, the
 * start of an unfinished 1 MiB frame after it), reporting through RESULT_FD how
 * many are still open once the daemon has read or closed each, then held
 * until HOLD_FD closes. */
static void
attack_child (const char *socket_path, guint per_child, gboolean hello, int result_fd, int hold_fd)
{
  g_autofree int *fds = g_new (int, per_child);
  guint open;
  char c;

  for (guint i = 0; i < per_child; i++)
    {
      fds[i] = connect_socket (socket_path);
      if (fds[i] >= 0 && !(send_hello (fds[i]) && (hello || send_unfinished_frame (fds[i]))))
        {
          close (fds[i]);
          fds[i] = -1;
        }
    }
  wait_settled (fds, per_child);
  g_usleep (G_USEC_PER_SEC); /* a hello is judged after it is read */
  open = count_open (fds, per_child);
  if (write (result_fd, &open, sizeof open) != sizeof open)
    _exit (1);
  while (read (hold_fd, &c, 1) > 0)
    ;
  _exit (0);
}

/* N connections from N / PER_CHILD processes, held until stdin closes. */
static int
attack (const char *socket_path, guint n, guint per_child, gboolean hello)
{
  guint children = (n + per_child - 1) / per_child, open = 0;
  gint64 start = g_get_monotonic_time ();
  int result[2], hold_pipe[2];
  g_autofree pid_t *pids = g_new0 (pid_t, children);

  if (pipe (result) < 0 || pipe (hold_pipe) < 0)
    return 1;
  for (guint i = 0; i < children; i++)
    {
      pids[i] = fork ();
      if (pids[i] == 0)
        {
          close (result[0]);
          close (hold_pipe[1]);
          attack_child (socket_path, per_child, hello, result[1], hold_pipe[0]);
        }
    }
  close (result[1]);
  close (hold_pipe[0]);
  for (guint i = 0; i < children; i++)
    {
      guint child_open = 0;
      if (read (result[0], &child_open, sizeof child_open) == sizeof child_open)
        open += child_open;
    }
  printf ("RESULT open=%u of=%u seconds=%.1f\n", open, children * per_child,
          (g_get_monotonic_time () - start) / 1e6);
  hold ();
  close (hold_pipe[1]);
  for (guint i = 0; i < children; i++)
    waitpid (pids[i], NULL, 0);
  return 0;
}

static int
mode_flood (const char *socket_path, double seconds)
{
  static const guint8 bad[4] = { 0xff, 0xff, 0xff, 0xff };
  gint64 end = g_get_monotonic_time () + (gint64) (seconds * G_USEC_PER_SEC);
  gint64 start = g_get_monotonic_time ();
  guint64 count = 0, failed = 0;

  while (g_get_monotonic_time () < end)
    {
      int fd = connect_socket (socket_path);
      if (fd < 0)
        {
          failed++;
          continue;
        }
      write_all (fd, bad, sizeof bad);
      close (fd);
      count++;
    }
  printf ("RESULT connections=%" G_GUINT64_FORMAT " failed=%" G_GUINT64_FORMAT
          " per_second=%.0f\n", count, failed,
          count / ((g_get_monotonic_time () - start) / 1e6));
  return 0;
}

static int
mode_probe (const char *socket_path)
{
  gint64 start = g_get_monotonic_time ();
  int fd = connect_socket (socket_path);
  gint64 connected = g_get_monotonic_time ();
  gboolean served = fd >= 0 && send_hello (fd);

  g_usleep (G_USEC_PER_SEC);
  served = served && !is_closed (fd);
  printf ("RESULT served=%d connect_ms=%.1f\n", served, (connected - start) / 1000.0);
  return served ? 0 : 1;
}

static GDBusConnection *
connect_bus (const char *address, GError **error)
{
  return g_dbus_connection_new_for_address_sync (
    address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
               G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
    NULL, NULL, error);
}

static GVariant *
subscribe_options (guint n_pids)
{
  GVariantBuilder builder;
  g_autofree guint32 *pids = g_new (guint32, MAX (n_pids, 1));

  for (guint i = 0; i < n_pids; i++)
    pids[i] = 100000 + i;
  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  if (n_pids > 0)
    g_variant_builder_add (&builder, "{sv}", "pids",
                           g_variant_new_fixed_array (G_VARIANT_TYPE_UINT32, pids, n_pids,
                                                      sizeof (guint32)));
  return g_variant_new ("(a{sv})", &builder);
}

static int
mode_subscribe (const char *address, guint n_connections, guint n_subscriptions, guint n_pids)
{
  g_autoptr(GPtrArray) connections = g_ptr_array_new_with_free_func (g_object_unref);
  guint ok = 0, refused = 0, no_connection = 0;
  g_autofree char *first_error = NULL;

  for (guint c = 0; c < n_connections; c++)
    {
      g_autoptr(GError) error = NULL;
      GDBusConnection *connection = connect_bus (address, &error);

      if (connection == NULL)
        {
          no_connection++;
          continue;
        }
      g_ptr_array_add (connections, connection);
      for (guint s = 0; s < n_subscriptions; s++)
        {
          g_autoptr(GVariant) reply = g_dbus_connection_call_sync (
            connection, NAME, PATH, IFACE, "Subscribe", subscribe_options (n_pids),
            G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, 60000, NULL, &error);

          if (reply != NULL)
            ok++;
          else
            {
              refused++;
              if (first_error == NULL)
                first_error = g_dbus_error_get_remote_error (error);
              g_clear_error (&error);
            }
        }
    }
  printf ("RESULT ok=%u refused=%u no_connection=%u error=%s\n", ok, refused, no_connection,
          first_error != NULL ? first_error : "-");
  hold ();
  return 0;
}

typedef struct {
  GDBusConnection *connection;
  gint64           end;
  guint           *ok;
  guint           *refused;
  guint           *running;
  char           **first_error;
} RescanCaller;

static void rescan_next (RescanCaller *caller);

static void
rescan_done (GObject *source, GAsyncResult *result, gpointer data)
{
  RescanCaller *caller = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result,
                                                             &error);

  if (reply != NULL)
    (*caller->ok)++;
  else
    {
      (*caller->refused)++;
      if (*caller->first_error == NULL)
        *caller->first_error = g_dbus_error_get_remote_error (error);
    }
  rescan_next (caller);
}

static void
rescan_next (RescanCaller *caller)
{
  if (g_get_monotonic_time () >= caller->end)
    {
      (*caller->running)--;
      return;
    }
  g_dbus_connection_call (caller->connection, NAME, PATH, IFACE, "Rescan", NULL, NULL,
                          G_DBUS_CALL_FLAGS_NONE, 60000, NULL, rescan_done, caller);
}

static int
mode_rescan (const char *address, guint n_callers, double seconds)
{
  g_autofree RescanCaller *callers = g_new0 (RescanCaller, n_callers);
  g_autofree char *first_error = NULL;
  guint ok = 0, refused = 0, running = 0;
  gint64 start;

  for (guint i = 0; i < n_callers; i++)
    {
      g_autoptr(GError) error = NULL;

      callers[i].connection = connect_bus (address, &error);
      if (callers[i].connection == NULL)
        {
          fprintf (stderr, "abuse: %s\n", error->message);
          return 1;
        }
    }
  start = g_get_monotonic_time ();
  for (guint i = 0; i < n_callers; i++)
    {
      callers[i].end = start + (gint64) (seconds * G_USEC_PER_SEC);
      callers[i].ok = &ok;
      callers[i].refused = &refused;
      callers[i].running = &running;
      callers[i].first_error = &first_error;
      running++;
      rescan_next (&callers[i]);
    }
  while (running > 0)
    g_main_context_iteration (NULL, TRUE);
  printf ("RESULT ok=%u refused=%u error=%s seconds=%.2f\n", ok, refused,
          first_error != NULL ? first_error : "-", (g_get_monotonic_time () - start) / 1e6);
  for (guint i = 0; i < n_callers; i++)
    g_object_unref (callers[i].connection);
  return 0;
}

static int
mode_call (const char *address, const char *method)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) connection = connect_bus (address, &error);
  g_autoptr(GVariant) reply = NULL;
  g_autofree char *remote = NULL;
  gint64 start = g_get_monotonic_time ();

  if (connection != NULL)
    reply = g_dbus_connection_call_sync (connection, NAME, PATH, IFACE, method,
                                         strcmp (method, "Subscribe") == 0 ? subscribe_options (0)
                                                                          : NULL,
                                         NULL, G_DBUS_CALL_FLAGS_NONE, 60000, NULL, &error);
  if (reply != NULL)
    {
      printf ("RESULT ok=1 ms=%.1f\n", (g_get_monotonic_time () - start) / 1000.0);
      return 0;
    }
  remote = g_dbus_error_get_remote_error (error);
  printf ("RESULT ok=0 error=%s message=%s\n", remote != NULL ? remote : "-", error->message);
  return 1;
}

static guint
arg_uint (const char *text)
{
  guint64 value;

  if (!g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT, &value, NULL))
    {
      fprintf (stderr, "abuse: not a count: %s\n", text);
      exit (2);
    }
  return (guint) value;
}

int
main (int argc, char **argv)
{
  const char *mode = argc > 1 ? argv[1] : "";

  signal (SIGPIPE, SIG_IGN);
  /* A helper's hello replaces the earlier one of its process: one
   * connection per process. */
  if (strcmp (mode, "hellos") == 0 && argc == 4)
    return attack (argv[2], arg_uint (argv[3]), 1, TRUE);
  if (strcmp (mode, "frames") == 0 && argc == 4)
    return attack (argv[2], arg_uint (argv[3]), 1, FALSE);
  if (strcmp (mode, "flood") == 0 && argc == 4)
    return mode_flood (argv[2], g_ascii_strtod (argv[3], NULL));
  if (strcmp (mode, "probe") == 0 && argc == 3)
    return mode_probe (argv[2]);
  if (strcmp (mode, "subscribe") == 0 && argc == 6)
    return mode_subscribe (argv[2], arg_uint (argv[3]), arg_uint (argv[4]), arg_uint (argv[5]));
  if (strcmp (mode, "rescan") == 0 && argc == 5)
    return mode_rescan (argv[2], arg_uint (argv[3]), g_ascii_strtod (argv[4], NULL));
  if (strcmp (mode, "call") == 0 && argc == 4)
    return mode_call (argv[2], argv[3]);
  fprintf (stderr, "usage: see the head of tests/abuse.c\n");
  return 2;
}
