/* Reads procfs (or a fixture tree shaped like it) with bounded buffers and errors that name the file. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <linux/magic.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "pymemd-error.h"
#include "pymemd-procfs.h"

struct _PymemdProcfs
{
  GObject              parent_instance;
  char                *root;
  int                  root_fd;
  gsize                page_size;
  gboolean             is_procfs;  /* not a fixture tree */
  PymemdProcVisibility visibility;
};

/* Where the mount options of the root are found: this process's own view
 * of the mounts, whatever the root is. */
#define MOUNTINFO_PATH "/proc/self/mountinfo"
/* Hosts with thousands of mounts have mountinfo files of a few MiB. */
#define MOUNTINFO_MAX_BYTES (64u << 20)

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
  {
    struct statfs fs;
    self->is_procfs = fstatfs (self->root_fd, &fs) == 0 && fs.f_type == PROC_SUPER_MAGIC;
  }
  return g_steal_pointer (&self);
}

gboolean
pymemd_procfs_is_procfs (PymemdProcfs *self)
{
  return self->is_procfs;
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

/* The entries of NAME under DIR_FD that are pids (or thread ids), in
 * order; NULL, errno set, where it cannot be read. */
static GArray *
list_ids (int dir_fd, const char *name)
{
  int fd = openat (dir_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  GArray *ids;
  DIR *dir;
  struct dirent *entry;

  if (fd < 0)
    return NULL;
  if ((dir = fdopendir (fd)) == NULL)
    {
      int errsv = errno;
      close (fd);
      errno = errsv;
      return NULL;
    }
  ids = g_array_new (FALSE, FALSE, sizeof (int));

  while ((entry = readdir (dir)) != NULL)
    {
      guint64 value;
      int id;

      if (entry->d_name[0] < '1' || entry->d_name[0] > '9')
        continue;
      if (!g_ascii_string_to_unsigned (entry->d_name, 10, 1, G_MAXINT, &value, NULL))
        continue;
      id = (int) value;
      g_array_append_val (ids, id);
    }
  closedir (dir);
  g_array_sort (ids, compare_int);
  return ids;
}

GArray *
pymemd_procfs_list_pids (PymemdProcfs *self, GError **error)
{
  GArray *pids = list_ids (self->root_fd, ".");

  if (pids == NULL)
    set_errno_error (error, errno, self->root);
  return pids;
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

/* The threads looked at for a live one, at most. */
#define MAX_THREADS_TRIED 64

/* A live thread's directory under DIR_FD (/proc/PID) other than the main
 * one, or -1. */
static int
open_live_thread (int dir_fd, int pid)
{
  g_autoptr(GArray) tids = list_ids (dir_fd, "task");
  guint tried = 0;

  for (guint i = 0; tids != NULL && i < tids->len && tried < MAX_THREADS_TRIED; i++)
    {
      int tid = g_array_index (tids, int, i);
      char name[32];
      struct stat st;
      int fd;

      if (tid == pid)
        continue;
      tried++;
      g_snprintf (name, sizeof name, "task/%d", tid);
      fd = openat (dir_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0)
        continue;
      /* A thread that shares the process's memory shows its executable. */
      if (fstatat (fd, "exe", &st, 0) == 0)
        return fd;
      close (fd);
    }
  return -1;
}

int
pymemd_procfs_open_process_dir (PymemdProcfs *self, int pid, gboolean *through_thread, GError **error)
{
  int fd = pymemd_procfs_open_pid_dir (self, pid, error);
  struct stat st;
  int thread_fd;

  *through_thread = FALSE;
  if (fd < 0)
    return -1;
  /* No executable: a kernel thread, a zombie, or a process whose main
   * thread exited before the others (its memory is theirs to read). */
  if (fstatat (fd, "exe", &st, 0) == 0 || errno != ENOENT)
    return fd;
  thread_fd = open_live_thread (fd, pid);
  if (thread_fd < 0)
    return fd;
  close (fd);
  *through_thread = TRUE;
  return thread_fd;
}

gboolean
pymemd_proc_visibility_parse (const char *options, PymemdProcVisibility *visibility, GError **error)
{
  static const struct {
    const char   *name;
    const char   *number;
    PymemdHidePid value;
  } hidepid[] = {
    { "off", "0", PYMEMD_HIDEPID_OFF },
    { "noaccess", "1", PYMEMD_HIDEPID_NOACCESS },
    { "invisible", "2", PYMEMD_HIDEPID_INVISIBLE },
    { "ptraceable", "4", PYMEMD_HIDEPID_PTRACEABLE },
  };
  g_auto(GStrv) items = g_strsplit (options, ",", -1);
  PymemdProcVisibility parsed = { PYMEMD_HIDEPID_OFF, FALSE, 0 };

  for (guint i = 0; items[i] != NULL; i++)
    {
      const char *value = strchr (items[i], '=');
      guint64 gid;
      guint k;

      if (value == NULL)
        continue;
      value++;
      if (g_str_has_prefix (items[i], "hidepid="))
        {
          for (k = 0; k < G_N_ELEMENTS (hidepid); k++)
            if (strcmp (value, hidepid[k].name) == 0 || strcmp (value, hidepid[k].number) == 0)
              break;
          if (k == G_N_ELEMENTS (hidepid))
            {
              g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE, _("Unknown procfs option %s"), items[i]);
              return FALSE;
            }
          parsed.hidepid = hidepid[k].value;
        }
      else if (g_str_has_prefix (items[i], "gid="))
        {
          if (!g_ascii_string_to_unsigned (value, 10, 0, G_MAXUINT32, &gid, NULL))
            {
              g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE, _("Malformed procfs option %s"), items[i]);
              return FALSE;
            }
          parsed.has_gid = TRUE;
          parsed.gid = (guint32) gid;
        }
    }
  *visibility = parsed;
  return TRUE;
}

/* The super options of the procfs mount with device DEV in one line of
 * mountinfo ("36 35 0:20 / /proc rw - proc proc rw,hidepid=2"), or NULL
 * when the line is about another mount. */
static char *
mountinfo_proc_options (const char *line, dev_t dev)
{
  g_auto(GStrv) fields = g_strsplit (line, " ", -1);
  g_autofree char *device = g_strdup_printf ("%u:%u", major (dev), minor (dev));
  guint n = g_strv_length (fields);

  if (n < 10 || strcmp (fields[2], device) != 0)
    return NULL;
  /* Optional fields, then "-", file system type, source, super options. */
  for (guint i = 6; i + 3 < n; i++)
    if (strcmp (fields[i], "-") == 0)
      return strcmp (fields[i + 1], "proc") == 0 ? g_strdup (fields[i + 3]) : NULL;
  return NULL;
}

static gboolean
read_visibility (PymemdProcfs *self, PymemdProcVisibility *visibility, GError **error)
{
  PymemdLineReader reader;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *options = NULL;
  struct statfs fs;
  struct stat st;
  char *line;
  gsize len;
  int fd;

  if (fstatfs (self->root_fd, &fs) < 0 || fstat (self->root_fd, &st) < 0)
    {
      set_errno_error (error, errno, self->root);
      return FALSE;
    }
  *visibility = (PymemdProcVisibility) { PYMEMD_HIDEPID_OFF, FALSE, 0 };
  if (fs.f_type != PROC_SUPER_MAGIC)
    return TRUE;
  /* The options belong to the superblock: any mount of it tells them. */
  fd = pymemd_procfs_open_at (AT_FDCWD, MOUNTINFO_PATH, error);
  if (fd < 0)
    return FALSE;
  pymemd_line_reader_init (&reader, fd, MOUNTINFO_PATH, 64 * 1024, MOUNTINFO_MAX_BYTES);
  while (options == NULL && pymemd_line_reader_next (&reader, &line, &len, &local_error))
    options = mountinfo_proc_options (line, st.st_dev);
  pymemd_line_reader_clear (&reader);
  close (fd);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (options == NULL)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED, _("%s does not list the procfs at %s"),
                   MOUNTINFO_PATH, self->root);
      return FALSE;
    }
  return pymemd_proc_visibility_parse (options, visibility, error);
}

gboolean
pymemd_procfs_refresh_visibility (PymemdProcfs *self, GError **error)
{
  if (read_visibility (self, &self->visibility, error))
    return TRUE;
  /* Not knowing what /proc hides, hide what it could. */
  self->visibility = (PymemdProcVisibility) { PYMEMD_HIDEPID_INVISIBLE, FALSE, 0 };
  return FALSE;
}

const PymemdProcVisibility *
pymemd_procfs_get_visibility (PymemdProcfs *self)
{
  return &self->visibility;
}

gboolean
pymemd_procfs_read_credentials (int dir_fd, PymemdCredentials *credentials, GError **error)
{
  char buf[1024];
  struct stat st;

  if (pymemd_procfs_read_prefix_at (dir_fd, "status", buf, sizeof buf, error) < 0 ||
      !pymemd_status_parse (buf, credentials, error))
    return FALSE;
  /* /proc/PID/status belongs to the effective uid while the process is
   * dumpable, to root (of its user namespace) otherwise: task_dump_owner()
   * in fs/proc/base.c; /proc/PID itself always to the effective uid. The
   * lookup makes the kernel set the owner afresh (pid_revalidate()). After
   * the ids: a process changing them turns non-dumpable first
   * (commit_creds()), the order in which ptrace_may_access() reads them. */
  if (fstatat (dir_fd, "status", &st, 0) < 0)
    {
      set_errno_error (error, errno, "status");
      return FALSE;
    }
  credentials->dumpable = st.st_uid == credentials->uid[1];
  return TRUE;
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
pymemd_procfs_pread_file (int fd, const char *name, char *buf, gsize size, GError **error)
{
  gssize n;
  char probe;

  g_return_val_if_fail (size > 1, -1);

  /* A seq_file read at offset 0 starts the file afresh: the kernel
   * formats it again from the process as it is now. */
  do
    n = pread (fd, buf, size - 1, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    {
      set_errno_error (error, errno, name);
      return -1;
    }
  if ((gsize) n == size - 1 && pread (fd, &probe, 1, n) != 0)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_TOO_LARGE,
                   _("%s is larger than %llu bytes"), name,
                   (unsigned long long) (size - 1));
      return -1;
    }
  buf[n] = '\0';
  return n;
}

gboolean
pymemd_procfs_read_owner_stamp (int dir_fd, PymemdOwnerStamp *stamp, GError **error)
{
  struct stat dir;

  /* The directory's owner is computed on the stat itself; the status
   * file's on its lookup. */
  if (fstat (dir_fd, &dir) < 0)
    {
      set_errno_error (error, errno, "/proc/PID");
      return FALSE;
    }
  if (!pymemd_procfs_read_dump_owner (dir_fd, &stamp->status_uid, &stamp->status_gid, error))
    return FALSE;
  stamp->uid = (guint32) dir.st_uid;
  stamp->gid = (guint32) dir.st_gid;
  return TRUE;
}

gboolean
pymemd_procfs_read_dump_owner (int dir_fd, guint32 *uid, guint32 *gid, GError **error)
{
  struct stat status;

  if (fstatat (dir_fd, "status", &status, 0) < 0)
    {
      set_errno_error (error, errno, "status");
      return FALSE;
    }
  *uid = (guint32) status.st_uid;
  *gid = (guint32) status.st_gid;
  return TRUE;
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
  /* Shown and compared with mapping paths, which are made UTF-8 alike. */
  return g_utf8_make_valid (buf, n);
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

gint64
pymemd_thread_cpu_us (void)
{
  struct timespec ts;

  if (clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
    return 0;
  return (gint64) ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}
