/* The file a PEP 768 attach asks the interpreter to run: readable by the target whatever the umask, unlisted, watched until it has been read, and removed with its directory once that is empty. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "pymemd-attach-script.h"
#include "pymemd-error.h"

struct _PymemdAttachScript
{
  char *dir;
  char *path;
  int   watch_fd; /* inotify, watching PATH for IN_CLOSE_NOWRITE */
};

static gboolean
fail_errno (GError **error, const char *what, const char *path)
{
  int errsv = errno;

  g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED, _("Cannot make the PEP 768 script: %s %s: %s"), what, path,
               g_strerror (errsv));
  return FALSE;
}

/* DIR, made if missing, ours and 0711: root writes there, everyone may
 * open a file whose name they know, no one else may list it. */
static int
open_script_dir (const char *dir, GError **error)
{
  struct stat st;
  int fd;

  if (mkdir (dir, 0711) != 0 && errno != EEXIST)
    return fail_errno (error, _("creating"), dir), -1;
  fd = open (dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return fail_errno (error, _("opening"), dir), -1;
  if (fstat (fd, &st) != 0 || st.st_uid != geteuid ())
    {
      close (fd);
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED,
                   _("Cannot make the PEP 768 script: %s is not a directory of ours"), dir);
      return -1;
    }
  /* mkdir's mode went through the umask (0077 under the unit). */
  if ((st.st_mode & 07777) != 0711 && fchmod (fd, 0711) != 0)
    {
      fail_errno (error, _("setting the mode of"), dir);
      close (fd);
      return -1;
    }
  return fd;
}

static gboolean
write_all (int fd, const char *text, gsize len)
{
  while (len > 0)
    {
      gssize n = write (fd, text, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      text += n;
      len -= (gsize) n;
    }
  return TRUE;
}

PymemdAttachScript *
pymemd_attach_script_new (const char *dir, const char *text, GError **error)
{
  g_autoptr(PymemdAttachScript) self = g_new0 (PymemdAttachScript, 1);
  g_autofree char *uuid = g_uuid_string_random ();
  g_autofree char *name = NULL;
  int fd = -1, errsv = 0;
  gboolean written;

  self->watch_fd = -1;
  self->dir = g_strdup (dir);
  name = g_strdup_printf ("attach-%s.py", uuid);
  /* Another attach that just removed its script may remove the directory
   * between our mkdir and our create (ENOENT then): make it again. */
  for (int tries = 0; fd < 0 && tries < 8; tries++)
    {
      int dir_fd = open_script_dir (dir, error);

      if (dir_fd < 0)
        return NULL;
      fd = openat (dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
      errsv = errno;
      close (dir_fd);
      if (fd < 0 && errsv != ENOENT)
        break;
    }
  self->path = g_build_filename (dir, name, NULL);
  if (fd < 0)
    {
      errno = errsv;
      fail_errno (error, _("creating"), self->path);
      g_clear_pointer (&self->path, g_free);
      return NULL;
    }
  /* The target runs as its own user: the umask must not keep it out. */
  written = write_all (fd, text, strlen (text)) && fchmod (fd, 0644) == 0;
  if (!written)
    fail_errno (error, _("writing"), self->path);
  if (close (fd) != 0 && written)
    written = fail_errno (error, _("writing"), self->path);
  if (!written)
    return NULL;
  /* Watched before anyone is told its name: no read can be missed. */
  self->watch_fd = inotify_init1 (IN_CLOEXEC | IN_NONBLOCK);
  if (self->watch_fd < 0 || inotify_add_watch (self->watch_fd, self->path, IN_CLOSE_NOWRITE) < 0)
    {
      fail_errno (error, _("watching"), self->path);
      return NULL;
    }
  return g_steal_pointer (&self);
}

const char *
pymemd_attach_script_get_path (PymemdAttachScript *self)
{
  return self->path;
}

/* Whether the watch has reported a close of a reader. */
static gboolean
read_events (PymemdAttachScript *self)
{
  char buf[4096];
  gboolean closed = FALSE;
  gssize n;

  while ((n = read (self->watch_fd, buf, sizeof buf)) > 0)
    for (gssize at = 0; at + (gssize) sizeof (struct inotify_event) <= n;)
      {
        struct inotify_event event;

        memcpy (&event, buf + at, sizeof event);
        closed |= (event.mask & IN_CLOSE_NOWRITE) != 0;
        at += (gssize) (sizeof event + event.len);
      }
  return closed;
}

gboolean
pymemd_attach_script_wait_read (PymemdAttachScript *self, gint64 timeout_us)
{
  gint64 end = g_get_monotonic_time () + timeout_us;

  for (;;)
    {
      struct pollfd pfd = { self->watch_fd, POLLIN, 0 };
      gint64 left = end - g_get_monotonic_time ();

      if (read_events (self))
        return TRUE;
      if (left <= 0)
        return FALSE;
      poll (&pfd, 1, (int) ((left + 999) / 1000));
    }
}

void
pymemd_attach_script_free (PymemdAttachScript *self)
{
  if (self == NULL)
    return;
  if (self->watch_fd >= 0)
    close (self->watch_fd);
  if (self->path != NULL)
    g_unlink (self->path);
  /* Nothing is left behind: the directory goes with the last script
   * (another attach's script keeps it: ENOTEMPTY). */
  if (self->dir != NULL)
    g_rmdir (self->dir);
  g_free (self->path);
  g_free (self->dir);
  g_free (self);
}
