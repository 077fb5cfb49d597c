/* The injector's view of a process through procfs: the checks that refuse every method, its threads, its mappings, and the interpreter's entry points resolved from the mapped ELF file. */
#include "config.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "pymemd-call-frame.h"
#include "pymemd-elf.h"
#include "pymemd-error.h"
#include "pymemd-inject-target.h"
#include "pymemd-pidfiles.h"
#include "pymemd-procfs.h"
#include "pymemd-ptrace.h"

/* Bounds on what we read of a process: its environment and command line
 * (the kernel caps argv + envp far lower in practice) and its map. */
#define MAX_ARGS_SIZE  (4 * 1024 * 1024)
#define MAX_MAPS_SIZE  (64 * 1024 * 1024)
/* How much of the C library's text is searched for a syscall instruction. */
#define MAX_TEXT_SCAN  (4 * 1024 * 1024)

typedef struct {
  guint64 start;
  guint64 end;
  guint64 offset;
  guint64 inode;
  guint   dev_major;
  guint   dev_minor;
  char    perms[5];
  char   *path; /* NULL when anonymous */
} Mapping;

struct _PymemdInjectTarget
{
  gint32                  pid;
  gint32                  ns_pid;
  int                     dir_fd;
  GArray                 *mappings; /* Mapping */
  char                   *interpreter_path;
  guint                   python_version;
  guint64                 page_size;
  PymemdPythonEntryPoints entry;
};

static void
mapping_clear (gpointer data)
{
  Mapping *mapping = data;

  g_free (mapping->path);
}

void
pymemd_inject_target_free (PymemdInjectTarget *self)
{
  if (self == NULL)
    return;
  if (self->dir_fd >= 0)
    close (self->dir_fd);
  if (self->mappings != NULL)
    g_array_unref (self->mappings);
  g_free (self->interpreter_path);
  g_free (self);
}

void
pymemd_inject_set_refused (GError **error, const char *format, ...)
{
  va_list args;
  char *message;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED, message);
  g_free (message);
}

#define refuse(error, ...) (pymemd_inject_set_refused ((error), __VA_ARGS__), FALSE)

/* The whole of DIR_FD/NAME, up to MAX bytes (a longer file is cut). */
static GBytes *
read_bounded (int dir_fd, const char *name, gsize max, GError **error)
{
  g_autoptr(GByteArray) data = g_byte_array_new ();
  int fd = pymemd_procfs_open_at (dir_fd, name, error);
  guint8 chunk[16384];

  if (fd < 0)
    return NULL;
  while (data->len < max)
    {
      gssize n = read (fd, chunk, MIN (sizeof chunk, max - data->len));

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int errsv = errno;
          g_set_error (error, PYMEMD_ERROR, pymemd_error_from_errno (errsv), "%s: %s", name,
                       g_strerror (errsv));
          close (fd);
          return NULL;
        }
      if (n == 0)
        break;
      g_byte_array_append (data, chunk, (guint) n);
    }
  close (fd);
  return g_byte_array_free_to_bytes (g_steal_pointer (&data));
}

static gboolean
read_stat (int dir_fd, const char *name, PymemdStat *stat_info, GError **error)
{
  char buf[4096];

  return pymemd_procfs_read_file_at (dir_fd, name, buf, sizeof buf, error) >= 0 &&
         pymemd_stat_parse (buf, stat_info, error);
}

static gboolean
check_identity (PymemdInjectTarget *self, guint64 start_time, GError **error)
{
  PymemdStat stat_info;

  if (!read_stat (self->dir_fd, "stat", &stat_info, error))
    return FALSE;
  if (stat_info.start_time != start_time)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_GONE,
                   _("Process %d that started at %llu is gone (pid reused)"), self->pid,
                   (unsigned long long) start_time);
      return FALSE;
    }
  switch (stat_info.state)
    {
    case 'T':
      return refuse (error, _("Process %d is stopped"), self->pid);
    case 't':
      return refuse (error, _("Process %d is stopped: it is traced by a debugger"), self->pid);
    case 'Z':
    case 'X':
    case 'x':
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_GONE, _("Process %d is exiting"), self->pid);
      return FALSE;
    default:
      return TRUE;
    }
}

/* TracerPid (another debugger holds it) and NSpid (its own pid in its namespace). */
static gboolean
check_status (PymemdInjectTarget *self, GError **error)
{
  char buf[16384];
  g_auto(GStrv) lines = NULL;

  if (pymemd_procfs_read_prefix_at (self->dir_fd, "status", buf, sizeof buf, error) < 0)
    return FALSE;
  self->ns_pid = self->pid;
  lines = g_strsplit (buf, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (g_str_has_prefix (lines[i], "TracerPid:"))
        {
          gint64 tracer = g_ascii_strtoll (lines[i] + strlen ("TracerPid:"), NULL, 10);
          if (tracer != 0)
            return refuse (error, _("Process %d is traced by process %lld"), self->pid,
                           (long long) tracer);
        }
      else if (g_str_has_prefix (lines[i], "NSpid:"))
        {
          const char *last = strrchr (lines[i], '\t');
          if (last != NULL)
            self->ns_pid = (gint32) g_ascii_strtoll (last + 1, NULL, 10);
        }
    }
  return TRUE;
}

static gboolean
environ_disables_remote_debug (GBytes *environ_data)
{
  gsize len;
  const char *data = g_bytes_get_data (environ_data, &len);
  static const char name[] = "PYTHON_DISABLE_REMOTE_DEBUG=";

  for (gsize at = 0; at < len;)
    {
      const char *entry = data + at;
      gsize entry_len = strnlen (entry, len - at);

      if (entry_len > strlen (name) && strncmp (entry, name, strlen (name)) == 0)
        return TRUE; /* set and not empty */
      at += entry_len + 1;
    }
  return FALSE;
}

/* The dynamic loader's options that take a value (ld.so(8)). */
static const char *const loader_value_options[] = {
  "--library-path", "--preload", "--audit", "--argv0", "--inhibit-rpath", "--glibc-hwcaps-prepend",
  "--glibc-hwcaps-mask", NULL
};

/* Where the interpreter's own arguments start in the NUL-separated
 * CMDLINE of LEN bytes: after argv[0], or, for a Python started through
 * the dynamic loader (ld-linux-x86-64.so.2 [its options] python3.14 …),
 * after the loader's options and the program it runs. */
static gsize
interpreter_arguments (const char *data, gsize len)
{
  gsize at = strnlen (data, len) + 1;
  const char *slash = strrchr (data, '/');
  const char *base = slash != NULL ? slash + 1 : data;

  if (!g_str_has_prefix (base, "ld-linux") && !g_str_has_prefix (base, "ld.so") && !g_str_has_prefix (base, "ld-"))
    return at;
  while (at < len)
    {
      const char *arg = data + at;

      at += strnlen (arg, len - at) + 1;
      if (!g_str_has_prefix (arg, "--"))
        break; /* the program */
      if (g_strv_contains (loader_value_options, arg))
        at += strnlen (data + MIN (at, len), len - MIN (at, len)) + 1;
    }
  return at;
}

/* `-X disable-remote-debug` among the interpreter's own options, which
 * end at -c, -m, --, or the script; the option as CPython spells it, or
 * as it is often misspelt (disable_remote_debug, which CPython ignores:
 * whoever wrote it meant to opt out). NULL when absent. */
static const char *
cmdline_disables_remote_debug (GBytes *cmdline)
{
  static const char *const spellings[] = { "disable-remote-debug", "disable_remote_debug", NULL };
  gsize len;
  const char *data = g_bytes_get_data (cmdline, &len);
  gsize at;
  gboolean next_is_x = FALSE;

  if (len == 0)
    return NULL;
  at = interpreter_arguments (data, len);
  while (at < len)
    {
      const char *arg = data + at;
      const char *option = NULL;

      at += strnlen (arg, len - at) + 1;
      if (next_is_x)
        option = arg;
      else if (strcmp (arg, "-X") == 0)
        {
          next_is_x = TRUE;
          continue;
        }
      else if (g_str_has_prefix (arg, "-X"))
        option = arg + 2;
      else if (arg[0] != '-' || strcmp (arg, "-c") == 0 || strcmp (arg, "-m") == 0 ||
               strcmp (arg, "--") == 0)
        return NULL;
      next_is_x = FALSE;
      for (guint i = 0; option != NULL && spellings[i] != NULL; i++)
        {
          gsize n = strlen (spellings[i]);

          if (strncmp (option, spellings[i], n) == 0 && (option[n] == '\0' || option[n] == '='))
            return spellings[i];
        }
    }
  return NULL;
}

static gboolean
check_switch (PymemdInjectTarget *self, GError **error)
{
  g_autoptr(GBytes) environ_data = read_bounded (self->dir_fd, "environ", MAX_ARGS_SIZE, error);
  g_autoptr(GBytes) cmdline = NULL;
  const char *option;

  if (environ_data == NULL)
    return FALSE;
  if (environ_disables_remote_debug (environ_data))
    return refuse (error, _("Remote debugging of process %d is disabled by the administrator "
                            "(PYTHON_DISABLE_REMOTE_DEBUG)"), self->pid);
  cmdline = read_bounded (self->dir_fd, "cmdline", MAX_ARGS_SIZE, error);
  if (cmdline == NULL)
    return FALSE;
  option = cmdline_disables_remote_debug (cmdline);
  if (option != NULL)
    return refuse (error, _("Remote debugging of process %d is disabled by the administrator (-X %s)"), self->pid,
                   option);
  return TRUE;
}

static DIR *
open_task_dir (PymemdInjectTarget *self, GError **error)
{
  int fd = openat (self->dir_fd, "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *dir;

  if (fd < 0 || (dir = fdopendir (fd)) == NULL)
    {
      int errsv = errno;
      if (fd >= 0)
        close (fd);
      g_set_error (error, PYMEMD_ERROR, pymemd_error_from_errno (errsv),
                   _("Cannot list the threads of process %d: %s"), self->pid,
                   g_strerror (errsv));
      return NULL;
    }
  return dir;
}

static gint
compare_main_first (gconstpointer a, gconstpointer b, gpointer pid)
{
  gint32 x = ((const PymemdThreadSnapshot *) a)->tid, y = ((const PymemdThreadSnapshot *) b)->tid;
  gint32 main_tid = GPOINTER_TO_INT (pid);

  if (x == main_tid || y == main_tid)
    return x == main_tid ? (y == main_tid ? 0 : -1) : 1;
  return x < y ? -1 : x > y;
}

static gint64
read_thread_syscall (int dir_fd, const char *tid)
{
  g_autofree char *name = g_strdup_printf ("task/%s/syscall", tid);
  char buf[256];

  /* "NR args… sp pc" while blocked in a system call, "-1 sp pc" while
   * blocked elsewhere, "running" while on a CPU. */
  if (pymemd_procfs_read_prefix_at (dir_fd, name, buf, sizeof buf, NULL) < 0 ||
      g_str_has_prefix (buf, "running"))
    return G_MININT64;
  return g_ascii_strtoll (buf, NULL, 10);
}

/* Whether thread NAME, in restart_syscall, sleeps in the kernel where a
 * poll, select, epoll wait or sleep does (its wchan), never a futex. */
static gboolean
restarts_parked_call (int dir_fd, const char *name)
{
  static const char *const parked[] = { "poll", "select", "ep_poll", "epoll", "nanosleep", NULL };
  g_autofree char *wchan_name = g_strdup_printf ("task/%s/wchan", name);
  char wchan[128];
  gssize len = pymemd_procfs_read_file_at (dir_fd, wchan_name, wchan, sizeof wchan, NULL);

  if (len <= 0)
    return FALSE;
  wchan[MIN ((gsize) len, sizeof wchan - 1)] = '\0';
  if (strstr (wchan, "futex") != NULL)
    return FALSE;
  for (guint i = 0; parked[i] != NULL; i++)
    if (strstr (wchan, parked[i]) != NULL)
      return TRUE;
  return FALSE;
}

static GArray *
snapshot_threads (PymemdInjectTarget *self, gboolean refuse_stopped, GError **error)
{
  g_autoptr(GArray) threads = g_array_new (FALSE, TRUE, sizeof (PymemdThreadSnapshot));
  DIR *dir = open_task_dir (self, error);
  struct dirent *entry;

  if (dir == NULL)
    return NULL;
  while ((entry = readdir (dir)) != NULL)
    {
      g_autofree char *stat_name = NULL;
      PymemdThreadSnapshot thread = { 0, PYMEMD_THREAD_OTHER, -1 };
      PymemdStat stat_info;

      if (!g_ascii_isdigit (entry->d_name[0]))
        continue;
      thread.tid = (gint32) g_ascii_strtoll (entry->d_name, NULL, 10);
      stat_name = g_strdup_printf ("task/%s/stat", entry->d_name);
      if (!read_stat (self->dir_fd, stat_name, &stat_info, NULL))
        continue; /* the thread just exited */
      if (refuse_stopped && (stat_info.state == 't' || stat_info.state == 'T'))
        {
          closedir (dir);
          if (stat_info.state == 't')
            pymemd_inject_set_refused (error, _("Thread %d of process %d is stopped: it is traced by a debugger"),
                                       thread.tid, self->pid);
          else
            pymemd_inject_set_refused (error, _("Thread %d of process %d is stopped"), thread.tid, self->pid);
          return NULL;
        }
      if (stat_info.state == 'R')
        thread.activity = PYMEMD_THREAD_RUNNING;
      else if (stat_info.state == 'S')
        {
          gint64 nr = read_thread_syscall (self->dir_fd, entry->d_name);
          if (nr == G_MININT64)
            thread.activity = PYMEMD_THREAD_RUNNING; /* woke up meanwhile */
          else if (nr >= 0)
            {
              thread.activity = PYMEMD_THREAD_IN_SYSCALL;
              thread.syscall_nr = nr;
              thread.restarted_parked = pymemd_call_frame_is_restart_syscall (PYMEMD_ARCH_HOST, nr) &&
                                        restarts_parked_call (self->dir_fd, entry->d_name);
            }
        }
      g_array_append_val (threads, thread);
    }
  closedir (dir);
  g_array_sort_with_data (threads, compare_main_first, GINT_TO_POINTER (self->pid));
  return g_steal_pointer (&threads);
}

GArray *
pymemd_inject_target_snapshot_threads (PymemdInjectTarget *self, GError **error)
{
  return snapshot_threads (self, FALSE, error);
}

static gboolean
parse_mapping (char *line, Mapping *mapping)
{
  char *end;
  int consumed = 0;
  unsigned long long start, stop, offset, inode;
  unsigned dev_major, dev_minor;

  memset (mapping, 0, sizeof *mapping);
  if (sscanf (line, "%llx-%llx %4s %llx %x:%x %llu %n", &start, &stop, mapping->perms, &offset,
              &dev_major, &dev_minor, &inode, &consumed) < 7)
    return FALSE;
  mapping->start = start;
  mapping->end = stop;
  mapping->offset = offset;
  mapping->dev_major = dev_major;
  mapping->dev_minor = dev_minor;
  mapping->inode = inode;
  if (consumed > 0 && line[consumed] != '\0')
    {
      end = line + consumed;
      if (g_str_has_suffix (end, " (deleted)"))
        end[strlen (end) - strlen (" (deleted)")] = '\0';
      mapping->path = g_strdup (end);
    }
  return TRUE;
}

static gboolean
read_mappings (PymemdInjectTarget *self, GError **error)
{
  PymemdLineReader reader;
  char *line;
  gsize len;
  g_autoptr(GError) local_error = NULL;
  int fd = pymemd_procfs_open_at (self->dir_fd, "maps", error);

  if (fd < 0)
    return FALSE;
  self->mappings = g_array_new (FALSE, TRUE, sizeof (Mapping));
  g_array_set_clear_func (self->mappings, mapping_clear);
  pymemd_line_reader_init (&reader, fd, "maps", 65536, MAX_MAPS_SIZE);
  while (pymemd_line_reader_next (&reader, &line, &len, &local_error))
    {
      Mapping mapping;

      if (parse_mapping (line, &mapping))
        g_array_append_val (self->mappings, mapping);
    }
  pymemd_line_reader_clear (&reader);
  close (fd);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  return TRUE;
}

static const char *
basename_of (const char *path)
{
  const char *slash = strrchr (path, '/');

  return slash != NULL ? slash + 1 : path;
}

static gboolean
is_libc_name (const char *base)
{
  return g_str_has_prefix (base, "libc.so") || g_str_has_prefix (base, "libc-") ||
         g_str_has_prefix (base, "ld-linux") || g_str_has_prefix (base, "ld-") ||
         g_str_has_prefix (base, "libpthread");
}

/* The mapping of the file of CANDIDATE with the lowest file offset. */
static const Mapping *
first_mapping_of (PymemdInjectTarget *self, const Mapping *candidate)
{
  const Mapping *best = candidate;

  for (guint i = 0; i < self->mappings->len; i++)
    {
      const Mapping *m = &g_array_index (self->mappings, Mapping, i);

      if (m->inode == candidate->inode && m->dev_major == candidate->dev_major &&
          m->dev_minor == candidate->dev_minor && m->offset < best->offset)
        best = m;
    }
  return best;
}

/* The mapped file itself, whatever mount namespace the process is in:
 * map_files/ names the mapping, not a path. Without it (no
 * CAP_SYS_ADMIN), the path under the process's root, if it is that file. */
static int
open_mapped_file (PymemdInjectTarget *self, const Mapping *mapping)
{
  g_autofree char *name = g_strdup_printf ("map_files/%llx-%llx",
                                           (unsigned long long) mapping->start,
                                           (unsigned long long) mapping->end);
  g_autofree char *rooted = g_strconcat ("root", mapping->path, NULL);
  struct stat st;
  int fd;

  fd = openat (self->dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd >= 0)
    return fd;
  if (mapping->path[0] != '/')
    return -1;
  fd = openat (self->dir_fd, rooted, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd >= 0 && (fstat (fd, &st) < 0 || (guint64) st.st_ino != mapping->inode ||
                  major (st.st_dev) != mapping->dev_major || minor (st.st_dev) != mapping->dev_minor))
    {
      close (fd);
      fd = -1;
    }
  return fd;
}

static const char *const entry_names[] = {
  "_PyRuntime",
  "Py_IsInitialized",
  "Py_IsFinalizing",
  "_Py_IsFinalizing",
  "PyGILState_Check",
  "PyGILState_Ensure",
  "PyGILState_Release",
  "PyGILState_GetThisThreadState",
  "PyRun_SimpleString",
  "PyRun_SimpleStringFlags",
  "Py_AddPendingCall",
  "_Py_Finalizing",
  NULL
};

static guint64
relocate (guint64 value, guint64 bias)
{
  return value != 0 ? value + bias : 0;
}

/* TRUE with the entry points when the file holds an interpreter; FALSE
 * (ERROR unset) when it does not. */
static gboolean
resolve_entry_points (PymemdInjectTarget *self, const Mapping *candidate, GError **error)
{
  const Mapping *mapping = first_mapping_of (self, candidate);
  guint64 values[G_N_ELEMENTS (entry_names)];
  guint64 bias = 0;
  guint16 machine = 0;
  PymemdElfInfo info;
  int fd = open_mapped_file (self, mapping);

  if (fd < 0)
    return FALSE;
  if (!pymemd_elf_lookup_symbols (fd, entry_names, values, NULL))
    {
      close (fd);
      return FALSE;
    }
  if (values[0] == 0)
    pymemd_elf_find_section (fd, ".PyRuntime", &values[0], NULL);
  /* 3.6 and older have no _PyRuntime: the symbols detection knows them by
   * (pymemd-elf.c) decide. */
  if (!pymemd_elf_inspect_fd (fd, &info, NULL))
    info.is_interpreter = FALSE;
  if ((values[0] == 0 && !info.is_interpreter) ||
      !pymemd_elf_load_bias (fd, mapping->start, mapping->offset, self->page_size, &machine, &bias, error))
    {
      close (fd);
      return FALSE;
    }
  self->python_version = info.is_interpreter ? info.python_version : 0;
  if (self->python_version == 0 && values[0] != 0)
    self->python_version = pymemd_python_version_from_name (basename_of (mapping->path));
  close (fd);

#if defined(__x86_64__)
  if (machine != EM_X86_64)
#elif defined(__aarch64__)
  if (machine != EM_AARCH64)
#else
  if (TRUE)
#endif
    return refuse (error, _("The interpreter %s is not built for this machine (e_machine %u)"),
                   mapping->path, machine);

  self->interpreter_path = g_strdup (mapping->path);
  self->entry.runtime = relocate (values[0], bias);
  self->entry.is_initialized = relocate (values[1], bias);
  self->entry.is_finalizing = relocate (values[2] != 0 ? values[2] : values[3], bias);
  self->entry.gil_check = relocate (values[4], bias);
  self->entry.gil_ensure = relocate (values[5], bias);
  self->entry.gil_release = relocate (values[6], bias);
  self->entry.gil_this_thread_state = relocate (values[7], bias);
  self->entry.run_simple_string = relocate (values[8], bias);
  self->entry.run_simple_string_flags = relocate (values[9], bias);
  self->entry.add_pending_call = relocate (values[10], bias);
  self->entry.finalizing_thread = relocate (values[11], bias);
  return TRUE;
}

/* libpython first (an embedding program's own symbols are not Python's),
 * then the executable (Debian's static python3.11), then any other file
 * named like Python. */
static gboolean
find_interpreter (PymemdInjectTarget *self, GError **error)
{
  g_autofree char *exe = pymemd_procfs_readlink_at (self->dir_fd, "exe", NULL);
  g_autoptr(GHashTable) tried = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  if (exe != NULL && g_str_has_suffix (exe, " (deleted)"))
    exe[strlen (exe) - strlen (" (deleted)")] = '\0';
  for (guint pass = 0; pass < 3; pass++)
    for (guint i = 0; i < self->mappings->len; i++)
      {
        const Mapping *m = &g_array_index (self->mappings, Mapping, i);
        const char *base;
        gboolean wanted;

        if (m->path == NULL || m->path[0] != '/' || g_hash_table_contains (tried, m->path))
          continue;
        base = basename_of (m->path);
        wanted = pass == 0 ? g_str_has_prefix (base, "libpython")
               : pass == 1 ? g_strcmp0 (m->path, exe) == 0
                           : strstr (base, "python") != NULL;
        if (!wanted)
          continue;
        g_hash_table_add (tried, g_strdup (m->path));
        if (resolve_entry_points (self, m, error))
          return TRUE;
        if (error != NULL && *error != NULL)
          return FALSE;
      }
  g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_NOT_PYTHON, _("Process %d maps no CPython interpreter"),
               self->pid);
  return FALSE;
}

/* The helper is Python 3 code, written and tested for 3.6 and later (the
 * line issue 12 drew; no older Python 3 is at hand to test it on), and
 * 3.0-3.3 lack PyGILState_Check, without which a parked thread that holds
 * the GIL cannot be told. 3.7 and later carry _PyRuntime; 3.6 is known by
 * its symbols and its version by the API it exports. */
static gboolean
check_version (PymemdInjectTarget *self, GError **error)
{
  guint version = self->python_version;

  if (self->entry.runtime != 0 || version >= 306)
    return TRUE;
  if (version / 100 == 2)
    return refuse (error, _("Process %d runs Python %u.%u: pymemd attaches only to Python 3.6 and later "
                            "(its helper is Python 3 code)"), self->pid, version / 100, version % 100);
  if (version != 0)
    return refuse (error, _("Process %d runs Python %u.%u: pymemd attaches only to Python 3.6 and later"),
                   self->pid, version / 100, version % 100);
  return refuse (error, _("Process %d runs a Python older than 3.7 whose version cannot be told: pymemd attaches "
                          "only to Python 3.6 and later"), self->pid);
}

PymemdInjectTarget *
pymemd_inject_target_open (const char *proc_root, gint32 pid, guint64 start_time, GError **error)
{
  g_autoptr(PymemdInjectTarget) self = g_new0 (PymemdInjectTarget, 1);
  g_autoptr(GArray) threads = NULL;
  g_autofree char *name = g_strdup_printf ("%s/%d", proc_root, pid);

  self->pid = pid;
  self->page_size = (guint64) sysconf (_SC_PAGESIZE);
  self->dir_fd = open (name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (self->dir_fd < 0)
    {
      int errsv = errno;
      g_set_error (error, PYMEMD_ERROR, pymemd_error_from_errno (errsv), "%s: %s", name,
                   g_strerror (errsv));
      return NULL;
    }
  /* The fd names this process: once it exits, reads through it fail even
   * if its pid is reused, so checking the start time once is enough. */
  if (!check_identity (self, start_time, error) || !check_status (self, error) ||
      !(threads = snapshot_threads (self, TRUE, error)) || !check_switch (self, error) ||
      !read_mappings (self, error) || !find_interpreter (self, error) || !check_version (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

gint32
pymemd_inject_target_get_pid (PymemdInjectTarget *self)
{
  return self->pid;
}

gint32
pymemd_inject_target_get_namespace_pid (PymemdInjectTarget *self)
{
  return self->ns_pid;
}

guint
pymemd_inject_target_get_python_version (PymemdInjectTarget *self)
{
  return self->python_version;
}

const char *
pymemd_inject_target_get_interpreter_path (PymemdInjectTarget *self)
{
  return self->interpreter_path;
}

const PymemdPythonEntryPoints *
pymemd_inject_target_get_entry_points (PymemdInjectTarget *self)
{
  return &self->entry;
}

gint32
pymemd_inject_target_namespace_tid (PymemdInjectTarget *self, gint32 tid)
{
  g_autofree char *name = NULL;
  char buf[16384];
  const char *line, *last;

  if (self->ns_pid == self->pid)
    return tid; /* the process's pid namespace is ours */
  name = g_strdup_printf ("task/%d/status", tid);
  if (pymemd_procfs_read_prefix_at (self->dir_fd, name, buf, sizeof buf, NULL) < 0 ||
      (line = strstr (buf, "\nNSpid:")) == NULL)
    return 0;
  line += strlen ("\nNSpid:");
  last = line;
  /* Fields are tab-separated, the innermost namespace's last. */
  for (const char *p = line; *p != '\0' && *p != '\n'; p++)
    if (*p == '\t')
      last = p + 1;
  return (gint32) g_ascii_strtoll (last, NULL, 10);
}

gboolean
pymemd_inject_target_check_alive (PymemdInjectTarget *self, GError **error)
{
  char buf[64];

  return pymemd_procfs_read_prefix_at (self->dir_fd, "stat", buf, sizeof buf, error) >= 0;
}

gboolean
pymemd_inject_target_in_libc (PymemdInjectTarget *self, guint64 address)
{
  for (guint i = 0; i < self->mappings->len; i++)
    {
      const Mapping *m = &g_array_index (self->mappings, Mapping, i);

      if (address >= m->start && address < m->end)
        return m->perms[2] == 'x' && m->path != NULL && is_libc_name (basename_of (m->path));
    }
  return FALSE;
}

guint64
pymemd_inject_target_stack_room (PymemdInjectTarget *self, guint64 sp)
{
  for (guint i = 0; i < self->mappings->len; i++)
    {
      const Mapping *m = &g_array_index (self->mappings, Mapping, i);

      if (sp > m->start && sp <= m->end)
        {
          if (g_strcmp0 (m->path, "[stack]") == 0)
            return G_MAXUINT64;
          return m->perms[1] == 'w' ? sp - m->start : 0;
        }
    }
  return 0;
}

guint64
pymemd_inject_target_find_syscall_insn (PymemdInjectTarget *self, GError **error)
{
#if PYMEMD_HAVE_PTRACE_CALLS
  g_autofree guint8 *chunk = g_malloc (65536);

  for (guint i = 0; i < self->mappings->len; i++)
    {
      const Mapping *m = &g_array_index (self->mappings, Mapping, i);
      guint64 end;

      if (m->perms[2] != 'x' || m->path == NULL || !g_str_has_prefix (basename_of (m->path), "libc"))
        continue;
      end = MIN (m->end, m->start + MAX_TEXT_SCAN);
      /* Chunks overlap by 4 bytes so that no instruction is cut in two,
       * and stay 4-byte aligned for aarch64's `svc`. */
      for (guint64 at = m->start; at < end; at += 65536 - 4)
        {
          gsize len = (gsize) MIN (65536, end - at);
          struct iovec local = { chunk, len };
          struct iovec remote = { (void *) (guintptr) at, len };
          gssize found;

          if (process_vm_readv (self->pid, &local, 1, &remote, 1, 0) != (gssize) len)
            break;
          found = pymemd_call_frame_find_syscall_insn (PYMEMD_ARCH_HOST, chunk, len);
          if (found >= 0)
            return at + (guint64) found;
          if (len < 65536)
            break;
        }
    }
#endif
  pymemd_inject_set_refused (error, _("No system call instruction found in the C library of process %d"), self->pid);
  return 0;
}

gboolean
pymemd_inject_target_sees_file (PymemdInjectTarget *self, const char *path, GError **error)
{
  g_autofree char *rooted = g_strconcat ("root", path, NULL);
  struct stat ours, theirs;

  if (path[0] != '/' || stat (path, &ours) < 0)
    return refuse (error, _("The script %s cannot be read: %s"), path, g_strerror (errno));
  /* Only root may have written what the target will run as its own code. */
  if (!S_ISREG (ours.st_mode) || ours.st_uid != 0 || (ours.st_mode & (S_IWGRP | S_IWOTH)) != 0)
    return refuse (error, _("The script %s is not a regular file that only root can write"), path);
  if (fstatat (self->dir_fd, rooted, &theirs, 0) < 0)
    return refuse (error, _("Process %d cannot see the script %s: %s"), self->pid, path,
                   g_strerror (errno));
  if (theirs.st_dev != ours.st_dev || theirs.st_ino != ours.st_ino)
    return refuse (error, _("Process %d sees another file at %s (another mount namespace or root)"),
                   self->pid, path);
  return TRUE;
}
