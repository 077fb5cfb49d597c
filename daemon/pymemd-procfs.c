/* Reads procfs (or a fixture tree shaped like it) with bounded buffers and errors that name the file. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "pymemd-error.h"
#include "pymemd-procfs.h"

struct _PymemdProcfs
{
  GObject parent_instance;
  char   *root;
  int     root_fd;
  gsize   page_size;
};

G_DEFINE_TYPE (PymemdProcfs, pymemd_procfs, G_TYPE_OBJECT)

static void
pymemd_procfs_finalize (GObject *object)
{
  PymemdProcfs *self = PYMEMD_PROCFS (object);

  if (self->root_fd >= 0)
    close (self->root_fd);
  g_free (self->root);
  G_OBJECT_CLASS (pymemd_procfs_parent_class)->finalize (object);
}

static void
pymemd_procfs_class_init (PymemdProcfsClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pymemd_procfs_finalize;
}

static void
pymemd_procfs_init (PymemdProcfs *self)
{
  self->root_fd = -1;
  self->page_size = (gsize) sysconf (_SC_PAGESIZE);
}

static void
set_errno_error (GError **error, int errsv, const char *what)
{
  g_set_error (error, PYMEMD_ERROR, pymemd_error_from_errno (errsv),
               "%s: %s", what, g_strerror (errsv));
}

PymemdProcfs *
pymemd_procfs_new (const char *root, GError **error)
{
  g_autoptr(PymemdProcfs) self = g_object_new (PYMEMD_TYPE_PROCFS, NULL);

  g_return_val_if_fail (root != NULL, NULL);

  self->root = g_strdup (root);
  self->root_fd = open (root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (self->root_fd < 0)
    {
      int errsv = errno;
      g_set_error (error, PYMEMD_ERROR, pymemd_error_from_errno (errsv),
                   _("Cannot open procfs root %s: %s"), root, g_strerror (errsv));
      return NULL;
    }
  return g_steal_pointer (&self);
}

const char *
pymemd_procfs_get_root (PymemdProcfs *self)
{
  return self->root;
}

int
pymemd_procfs_get_root_fd (PymemdProcfs *self)
{
  return self->root_fd;
}

gsize
pymemd_procfs_get_page_size (PymemdProcfs *self)
{
  return self->page_size;
}

static gint
compare_int (gconstpointer a, gconstpointer b)
{
  int x = *(const int *) a, y = *(const int *) b;
  return (x > y) - (x < y);
}

GArray *
pymemd_procfs_list_pids (PymemdProcfs *self, GError **error)
{
  g_autoptr(GArray) pids = g_array_new (FALSE, FALSE, sizeof (int));
  int fd = openat (self->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *dir;
  struct dirent *entry;

  if (fd < 0 || (dir = fdopendir (fd)) == NULL)
    {
      int errsv = errno;
      if (fd >= 0)
        close (fd);
      set_errno_error (error, errsv, self->root);
      return NULL;
    }

  while ((entry = readdir (dir)) != NULL)
    {
      guint64 value;
      int pid;

      if (entry->d_name[0] < '1' || entry->d_name[0] > '9')
        continue;
      if (!g_ascii_string_to_unsigned (entry->d_name, 10, 1, G_MAXINT, &value, NULL))
        continue;
      pid = (int) value;
      g_array_append_val (pids, pid);
    }
  closedir (dir);
  g_array_sort (pids, compare_int);
  return g_steal_pointer (&pids);
}

int
pymemd_procfs_open_pid_dir (PymemdProcfs *self, int pid, GError **error)
{
  char name[32];
  int fd;

  g_snprintf (name, sizeof name, "%d", pid);
  fd = openat (self->root_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    {
      int errsv = errno;
      g_autofree char *what = g_strdup_printf ("%s/%d", self->root, pid);
      set_errno_error (error, errsv, what);
    }
  return fd;
}

char *
pymemd_procfs_read_boot_id (PymemdProcfs *self, GError **error)
{
  char buf[64];
  gssize len = pymemd_procfs_read_file_at (self->root_fd, "sys/kernel/random/boot_id",
                                           buf, sizeof buf, error);
  if (len < 0)
    return NULL;
  g_strstrip (buf);
  if (!g_uuid_string_is_valid (buf))
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE,
                   _("Boot id “%s” is not a UUID"), buf);
      return NULL;
    }
  return g_strdup (buf);
}

int
pymemd_procfs_open_at (int dirfd, const char *name, GError **error)
{
  int fd = openat (dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    set_errno_error (error, errno, name);
  return fd;
}

/* Reads FD until EOF or until BUF (SIZE - 1 bytes) is full. */
static gboolean
read_up_to (int fd, char *buf, gsize size, gsize *len, const char *name, GError **error)
{
  *len = 0;
  while (*len < size - 1)
    {
      gssize n = read (fd, buf + *len, size - 1 - *len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          set_errno_error (error, errno, name);
          return FALSE;
        }
      if (n == 0)
        break;
      *len += (gsize) n;
    }
  buf[*len] = '\0';
  return TRUE;
}

static gboolean
at_eof (int fd)
{
  char probe;
  gssize n;

  do
    n = read (fd, &probe, 1);
  while (n < 0 && errno == EINTR);
  return n == 0;
}

/* Reads DIRFD/NAME into BUF; with WHOLE, a file longer than the buffer is
 * an error rather than cut short. */
static gssize
read_at (int dirfd, const char *name, char *buf, gsize size, gboolean whole, GError **error)
{
  gsize len;
  int fd;

  g_return_val_if_fail (size > 1, -1);

  fd = pymemd_procfs_open_at (dirfd, name, error);
  if (fd < 0)
    return -1;
  if (!read_up_to (fd, buf, size, &len, name, error))
    {
      close (fd);
      return -1;
    }
  if (whole && len == size - 1 && !at_eof (fd))
    {
      close (fd);
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_TOO_LARGE,
                   _("%s is larger than %llu bytes"), name,
                   (unsigned long long) (size - 1));
      return -1;
    }
  close (fd);
  return (gssize) len;
}

gssize
pymemd_procfs_read_file_at (int dirfd, const char *name, char *buf, gsize size, GError **error)
{
  return read_at (dirfd, name, buf, size, TRUE, error);
}

gssize
pymemd_procfs_read_prefix_at (int dirfd, const char *name, char *buf, gsize size, GError **error)
{
  return read_at (dirfd, name, buf, size, FALSE, error);
}

char *
pymemd_procfs_readlink_at (int dirfd, const char *name, GError **error)
{
  char buf[4096];
  gssize n = readlinkat (dirfd, name, buf, sizeof buf - 1);

  if (n < 0)
    {
      set_errno_error (error, errno, name);
      return NULL;
    }
  buf[n] = '\0';
  return g_strdup (buf);
}

void
pymemd_line_reader_init (PymemdLineReader *reader,
                         int               fd,
                         const char       *name,
                         gsize             buffer_size,
                         guint64           max_total)
{
  memset (reader, 0, sizeof *reader);
  reader->fd = fd;
  reader->name = name;
  reader->size = buffer_size;
  reader->buf = g_malloc (buffer_size + 1);
  reader->max_total = max_total;
}

void
pymemd_line_reader_clear (PymemdLineReader *reader)
{
  g_clear_pointer (&reader->buf, g_free);
}

static gboolean
fill (PymemdLineReader *reader, GError **error)
{
  gssize n;

  if (reader->start > 0)
    {
      memmove (reader->buf, reader->buf + reader->start, reader->end - reader->start);
      reader->end -= reader->start;
      reader->start = 0;
    }
  if (reader->end == reader->size)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_TOO_LARGE,
                   _("%s: line %u is longer than %llu bytes"),
                   reader->name, reader->line_no + 1, (unsigned long long) reader->size);
      return FALSE;
    }
  do
    n = read (reader->fd, reader->buf + reader->end, reader->size - reader->end);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    {
      set_errno_error (error, errno, reader->name);
      return FALSE;
    }
  if (n == 0)
    reader->eof = TRUE;
  reader->end += (gsize) n;
  reader->total += (guint64) n;
  if (reader->max_total > 0 && reader->total > reader->max_total)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_TOO_LARGE,
                   _("%s is larger than %llu bytes"),
                   reader->name, (unsigned long long) reader->max_total);
      return FALSE;
    }
  return TRUE;
}

gboolean
pymemd_line_reader_next (PymemdLineReader *reader,
                         char            **line,
                         gsize            *len,
                         GError          **error)
{
  for (;;)
    {
      char *start = reader->buf + reader->start;
      char *nl = memchr (start, '\n', reader->end - reader->start);

      if (nl != NULL)
        {
          *nl = '\0';
          *line = start;
          *len = (gsize) (nl - start);
          reader->start = (gsize) (nl - reader->buf) + 1;
          reader->line_no++;
          return TRUE;
        }
      if (reader->eof)
        {
          if (reader->end > reader->start)
            {
              /* A last line without newline: hand it out, remember it. */
              reader->unterminated = TRUE;
              reader->buf[reader->end] = '\0';
              *line = start;
              *len = reader->end - reader->start;
              reader->start = reader->end;
              reader->line_no++;
              return TRUE;
            }
          return FALSE;
        }
      if (!fill (reader, error))
        return FALSE;
    }
}
