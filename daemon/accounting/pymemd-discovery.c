/* Tells interpreters from other processes by the ELF of their executable and mapped files, cheaply on every tick. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "pymemd-cpu-share.h"
#include "pymemd-discovery.h"
#include "pymemd-error.h"
#include "pymemd-pidfiles.h"
#include "pymemd-smaps.h"

/* Bounds on what one examination reads. */
#define MAX_MAPS_BYTES (G_GUINT64_CONSTANT (64) << 20)
#define MAX_CMDLINE 4096
/* A process found not to be Python is looked at again by the listing of
 * /proc after this long (it may dlopen libpython later), or after
 * RECHECK_LISTINGS listings if they come sooner (short tick intervals): a
 * time too, since with process events /proc is listed only every minute. */
#define DEFAULT_RECHECK_INTERVAL (30 * G_USEC_PER_SEC)
#define RECHECK_LISTINGS 15
/* Each user's share of looking at processes: a look costs 0.1-0.5 ms; a
 * program that maps files whose ELF is costly to read (huge symbol
 * tables, touched so that no verdict stays cached) may cost far more.
 * 10% of one CPU a user, a second of it at once; a user over it has its
 * new processes looked at later, the others' at once. */
#define LOOK_SHARE_US_PER_SECOND 100000
#define LOOK_SHARE_BURST_US G_USEC_PER_SEC

/* What we remember of a process that is not an interpreter: enough to
 * notice an exec (the executable changes) without reading anything. */
typedef struct {
  guint64  exe_dev;
  guint64  exe_inode;
  gint64   checked_at; /* monotonic µs */
  guint    checked_in; /* the listing (update_count) it was looked at in */
  gboolean loading;    /* its executable links libpython (or is the loader), not mapped yet */
} OtherProcess;

struct _PymemdDiscovery
{
  GObject         parent_instance;
  PymemdProcfs   *procfs;
  PymemdElfCache *elf_cache;
  GHashTable     *interpreters; /* pid -> PymemdProcess */
  GHashTable     *others;       /* pid -> OtherProcess */
  GHashTable     *execed;       /* pids of interpreters that ran exec since their last look */
  gint64          recheck_interval; /* µs */
  guint           update_count;     /* listings of /proc */
  gint64          owner;
  PymemdCpuShare *look_share;   /* each uid's share of looking */
};

G_DEFINE_TYPE (PymemdDiscovery, pymemd_discovery, G_TYPE_OBJECT)

static void
pymemd_discovery_finalize (GObject *object)
{
  PymemdDiscovery *self = PYMEMD_DISCOVERY (object);

  g_hash_table_unref (self->interpreters);
  g_hash_table_unref (self->others);
  g_hash_table_unref (self->execed);
  pymemd_cpu_share_free (self->look_share);
  g_object_unref (self->procfs);
  g_object_unref (self->elf_cache);
  G_OBJECT_CLASS (pymemd_discovery_parent_class)->finalize (object);
}

static void
pymemd_discovery_class_init (PymemdDiscoveryClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pymemd_discovery_finalize;
}

static void
pymemd_discovery_init (PymemdDiscovery *self)
{
  self->interpreters = g_hash_table_new_full (NULL, NULL, NULL, g_object_unref);
  self->others = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  self->execed = g_hash_table_new (NULL, NULL);
  self->recheck_interval = DEFAULT_RECHECK_INTERVAL;
  self->owner = -1;
  self->look_share = pymemd_cpu_share_new (LOOK_SHARE_US_PER_SECOND, LOOK_SHARE_BURST_US);
}

PymemdDiscovery *
pymemd_discovery_new (PymemdProcfs *procfs, PymemdElfCache *elf_cache)
{
  PymemdDiscovery *self = g_object_new (PYMEMD_TYPE_DISCOVERY, NULL);

  self->procfs = g_object_ref (procfs);
  self->elf_cache = g_object_ref (elf_cache);
  return self;
}

void
pymemd_discovery_set_owner (PymemdDiscovery *self, gint64 owner)
{
  self->owner = owner;
}

void
pymemd_discovery_set_look_share (PymemdDiscovery *self, guint64 us_per_second, guint64 burst_us)
{
  pymemd_cpu_share_set (self->look_share, us_per_second, burst_us);
}

void
pymemd_discovery_set_recheck_interval (PymemdDiscovery *self, gint64 usec)
{
  self->recheck_interval = MAX (usec, 0);
}

static const char *
path_basename (const char *path)
{
  const char *slash = strrchr (path, '/');
  return slash != NULL ? slash + 1 : path;
}

/* Looks the mapped file up in the ELF cache, opening it as the process sees
 * it: map_files (the very inode mapped, even in a container or deleted) or
 * else its root, where the file found must be the one maps names. */
static gboolean
inspect_mapped_file (PymemdDiscovery     *self,
                     int                  pid,
                     const PymemdMapping *m,
                     PymemdElfInfo       *info)
{
  int root_fd = pymemd_procfs_get_root_fd (self->procfs);
  g_autofree char *by_range = g_strdup_printf ("%d/map_files/%" G_GINT64_MODIFIER "x-%"
                                               G_GINT64_MODIFIER "x", pid, m->start, m->end);
  g_autofree char *by_root = NULL;
  PymemdElfKey key;
  struct stat st;

  if (fstatat (root_fd, by_range, &st, 0) == 0)
    {
      pymemd_elf_key_from_stat (&key, &st);
      if (pymemd_elf_cache_lookup (self->elf_cache, &key, root_fd, by_range, info))
        return TRUE;
    }
  by_root = g_strdup_printf ("%d/root%s", pid, m->path);
  if (fstatat (root_fd, by_root, &st, 0) < 0 ||
      (guint64) st.st_dev != (guint64) makedev (m->dev_major, m->dev_minor) ||
      (guint64) st.st_ino != m->inode)
    return FALSE;
  pymemd_elf_key_from_stat (&key, &st);
  return pymemd_elf_cache_lookup (self->elf_cache, &key, root_fd, by_root, info);
}

typedef struct {
  gboolean      is_python;
  gboolean      exe_is_python;
  gboolean      exe_links_libpython;
  guint         python_version;
  char         *image_path;   /* the interpreter image as maps names it */
  PymemdElfInfo image;
} Verdict;

static void
verdict_clear (Verdict *verdict)
{
  g_free (verdict->image_path);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Verdict, verdict_clear)

static void
take_image (Verdict *verdict, const char *path, const PymemdElfInfo *info)
{
  verdict->is_python = TRUE;
  verdict->image_path = g_strdup (path);
  verdict->image = *info;
  verdict->python_version = info->python_version;
  if (verdict->python_version == 0)
    verdict->python_version = pymemd_python_version_from_name (path_basename (path));
}

/* The first mapped file that holds an interpreter: libpython for an
 * embedding program, the python a dynamic loader runs, or a renamed build. */
static void
judge_mappings (PymemdDiscovery *self, int pid, GArray *mappings, Verdict *verdict)
{
  guint64 last_inode = 0;

  for (guint i = 0; i < mappings->len && verdict->image_path == NULL; i++)
    {
      const PymemdMapping *m = &g_array_index (mappings, PymemdMapping, i);
      PymemdElfInfo info;

      if (m->path == NULL || m->path[0] != '/' || m->perms[2] != 'x' || m->inode == 0 ||
          m->inode == last_inode)
        continue;
      last_inode = m->inode;

      /* The ELF decides; the name only where the file cannot be read at
       * all (a deleted libpython we may not open): a data file called
       * libpython-something is no interpreter. */
      if (inspect_mapped_file (self, pid, m, &info))
        {
          if (info.is_interpreter)
            take_image (verdict, m->path, &info);
        }
      else if (pymemd_python_version_from_name (path_basename (m->path)) != 0 &&
               g_str_has_prefix (path_basename (m->path), "libpython"))
        take_image (verdict, m->path, &info);
    }
}

/* Whether the executable itself is the interpreter: its ELF, opened
 * through the exe link (the very file the process runs, wherever it is). */
static void
judge_exe (PymemdDiscovery *self, int dir_fd, const char *exe, const struct stat *st,
           Verdict *verdict)
{
  PymemdElfKey key;
  PymemdElfInfo info;

  pymemd_elf_key_from_stat (&key, st);
  if (!pymemd_elf_cache_lookup (self->elf_cache, &key, dir_fd, "exe", &info))
    return;
  if (info.is_interpreter)
    {
      take_image (verdict, exe, &info);
      verdict->exe_is_python = TRUE;
    }
  /* Either maps the interpreter only after the exec: a shared build's
   * loader maps libpython, a loader run as a program maps the program. */
  verdict->exe_links_libpython = info.links_libpython || info.is_dynamic_loader;
}

static GArray *
read_maps (int dir_fd, GError **error)
{
  g_autoptr(GArray) mappings = pymemd_mapping_array_new ();
  int fd = pymemd_procfs_open_at (dir_fd, "maps", error);
  gboolean ok;

  if (fd < 0)
    return NULL;
  ok = pymemd_smaps_parse_fd (fd, "maps", MAX_MAPS_BYTES, TRUE, mappings, error);
  close (fd);
  return ok ? g_steal_pointer (&mappings) : NULL;
}

static char *
read_cmdline (int dir_fd)
{
  char buf[MAX_CMDLINE];
  gssize len = pymemd_procfs_read_prefix_at (dir_fd, "cmdline", buf, sizeof buf, NULL);

  return len >= 0 ? pymemd_cmdline_to_string (buf, (gsize) len) : g_strdup ("");
}

/* Whether UID's looks may go on now; when not, says so in ERROR and, at
 * most every PYMEMD_CPU_SHARE_REPORT_INTERVAL, in the log. */
static gboolean
may_look (PymemdDiscovery *self, guint32 uid, GError **error)
{
  gint64 now = g_get_monotonic_time ();

  /* The first listing looks at every process of the host, most of them
   * root's: all are looked at (and charged), none left to the next. */
  if (self->update_count <= 1 || pymemd_cpu_share_may_spend (self->look_share, uid, now))
    return TRUE;
  if (pymemd_cpu_share_take_report (self->look_share, uid, now))
    g_message ("Looks at uid %u's new processes wait: they used the user's share of looking time "
               "(%.1f%% of a CPU); said at most once in %d minutes",
               (unsigned) uid, (double) pymemd_cpu_share_get_rate (self->look_share) / 10000.0,
               (int) (PYMEMD_CPU_SHARE_REPORT_INTERVAL / G_USEC_PER_SEC / 60));
  g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_BUDGET,
               _("Looks at the processes of uid %u wait: they used the user's share"), (unsigned) uid);
  return FALSE;
}

/* The look itself: DIR_FD (taken: closed on failure) is PID's, or one of
 * its live threads' (THROUGH_THREAD: its main thread has exited, and the
 * process is known by that one's start time); CREDENTIALS were read just
 * before, or NULL where they could not be. */
static PymemdProcess *
judge (PymemdDiscovery *self, int pid, int dir_fd, gboolean through_thread,
       const PymemdCredentials *credentials_read, gboolean *loading, GError **error)
{
  char buf[4096];
  g_autoptr(GArray) mappings = NULL;
  g_autofree char *exe = NULL;
  g_autofree char *cmdline = NULL;
  g_auto(Verdict) verdict = { 0 };
  PymemdStat stat_info;
  PymemdCredentials credentials;
  PymemdProcess *process;
  struct stat st;

  exe = pymemd_procfs_readlink_at (dir_fd, "exe", error);
  if (exe == NULL ||
      pymemd_procfs_read_file_at (dir_fd, through_thread ? "../../stat" : "stat", buf, sizeof buf, error) < 0 ||
      !pymemd_stat_parse (buf, &stat_info, error))
    goto fail;
  /* An unreadable exe target (deleted, other mount namespace) still has a name. */
  if (fstatat (dir_fd, "exe", &st, 0) < 0)
    memset (&st, 0, sizeof st);
  else
    judge_exe (self, dir_fd, exe, &st, &verdict);

  /* An executable that holds the interpreter needs no look at the
   * mappings: reading maps costs as much as the rest of discovery.
   * Otherwise the interpreter may be in a mapped file. */
  if (!verdict.is_python)
    {
      mappings = read_maps (dir_fd, error);
      if (mappings == NULL)
        goto fail;
      judge_mappings (self, pid, mappings, &verdict);
    }

  if (!verdict.is_python)
    {
      if (loading != NULL)
        *loading = verdict.exe_links_libpython;
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_NOT_PYTHON,
                   _("Process %d (%s) is not a Python interpreter"), pid, stat_info.comm);
      goto fail;
    }
  if (credentials_read != NULL)
    credentials = *credentials_read;
  else if (!pymemd_procfs_read_credentials (dir_fd, &credentials, error))
    goto fail;
  cmdline = read_cmdline (dir_fd);

  process = pymemd_process_new (pid, stat_info.start_time, dir_fd);
  pymemd_process_set_identity (process, exe, cmdline, verdict.exe_is_python,
                               verdict.python_version, (guint64) st.st_dev,
                               (guint64) st.st_ino);
  pymemd_process_set_credentials (process, &credentials);
  pymemd_process_set_interpreter (process, verdict.image_path, &verdict.image);
  return process;

fail:
  close (dir_fd);
  return NULL;
}

/* LOADING, when not NULL, is set when PID is no interpreter yet, but its
 * executable links libpython: the dynamic loader has not mapped it. The
 * look's CPU time is charged to the user who started PID; a user over
 * the share fails with PYMEMD_ERROR_BUDGET, looked at later. */
static PymemdProcess *
examine (PymemdDiscovery *self, int pid, gboolean *loading, GError **error)
{
  PymemdCredentials credentials;
  gboolean have_credentials;
  gboolean through_thread;
  PymemdProcess *process;
  int dir_fd;
  gint64 cpu;

  dir_fd = pymemd_procfs_open_process_dir (self->procfs, pid, &through_thread, error);
  if (dir_fd < 0)
    return NULL;
  /* Who started it (its real uid: one that made it non-dumpable, or ran
   * a set-uid program, is still that user) pays for the look. */
  have_credentials = pymemd_procfs_read_credentials (dir_fd, &credentials, NULL);
  if (have_credentials && !may_look (self, credentials.uid[0], error))
    {
      close (dir_fd);
      return NULL;
    }
  cpu = pymemd_thread_cpu_us ();
  process = judge (self, pid, dir_fd, through_thread, have_credentials ? &credentials : NULL, loading, error);
  if (have_credentials)
    pymemd_cpu_share_spend (self->look_share, credentials.uid[0], pymemd_thread_cpu_us () - cpu,
                            g_get_monotonic_time ());
  return process;
}

PymemdProcess *
pymemd_discovery_examine (PymemdDiscovery *self, int pid, GError **error)
{
  return examine (self, pid, NULL, error);
}

/* The executable's (dev, inode), or zeros where there is none (kernel
 * threads, zombies) or we may not look. */
static void
stat_exe (int dirfd, const char *name, guint64 *dev, guint64 *inode, gboolean *alive)
{
  struct stat st;

  if (fstatat (dirfd, name, &st, 0) == 0)
    {
      *dev = (guint64) st.st_dev;
      *inode = (guint64) st.st_ino;
      *alive = TRUE;
      return;
    }
  *dev = *inode = 0;
  *alive = errno != ESRCH && errno != ENOENT;
}

/* How many threads PID, which shows no executable, has: more than one
 * when its main thread exited (pthread_exit) while others run; one for a
 * kernel thread or a zombie; none once it is gone. The kernel counts them
 * in the links of its task directory (two, and one a thread): one stat. */
static guint
count_threads (PymemdDiscovery *self, int pid)
{
  char name[48];
  struct stat st;

  g_snprintf (name, sizeof name, "%d/task", pid);
  if (fstatat (pymemd_procfs_get_root_fd (self->procfs), name, &st, 0) < 0 || st.st_nlink < 3)
    return 0;
  return (guint) MIN (st.st_nlink - 2, G_MAXUINT);
}

static void
remember_other (PymemdDiscovery *self, int pid, guint64 dev, guint64 inode, gboolean loading)
{
  OtherProcess *other = g_new0 (OtherProcess, 1);

  other->exe_dev = dev;
  other->exe_inode = inode;
  other->checked_at = g_get_monotonic_time ();
  other->checked_in = self->update_count;
  other->loading = loading;
  g_hash_table_replace (self->others, GINT_TO_POINTER (pid), other);
}

/* Is the known interpreter at PID still that same process, running the
 * same executable? Its directory fd fails once it has exited. */
gboolean
pymemd_discovery_still_same (PymemdProcess *process)
{
  guint64 dev, inode;
  gboolean alive;

  stat_exe (pymemd_process_get_dir_fd (process), "exe", &dev, &inode, &alive);
  return alive && pymemd_process_same_exe (process, dev, inode);
}

static gboolean
update_pid (PymemdDiscovery *self, int pid, GPtrArray *added, GPtrArray *removed)
{
  PymemdProcess *known = g_hash_table_lookup (self->interpreters, GINT_TO_POINTER (pid));
  OtherProcess *other;
  char name[48];
  guint64 dev, inode;
  gboolean alive;
  g_autoptr(GError) error = NULL;
  gboolean loading = FALSE;
  gboolean execed = g_hash_table_remove (self->execed, GINT_TO_POINTER (pid));
  PymemdProcess *process;

  /* A new image, even of the same executable, is a new interpreter:
   * its command line, its mappings, its runtime's address. */
  if (known != NULL)
    {
      if (!execed && pymemd_discovery_still_same (known))
        return TRUE;
      if (removed != NULL)
        g_ptr_array_add (removed, g_object_ref (known));
      g_hash_table_remove (self->interpreters, GINT_TO_POINTER (pid));
    }

  g_snprintf (name, sizeof name, "%d/exe", pid);
  stat_exe (pymemd_procfs_get_root_fd (self->procfs), name, &dev, &inode, &alive);
  other = g_hash_table_lookup (self->others, GINT_TO_POINTER (pid));
  /* One waiting for its loader to map libpython is looked at every time. */
  if (other != NULL && !other->loading && other->exe_dev == dev && other->exe_inode == inode &&
      g_get_monotonic_time () - other->checked_at < self->recheck_interval &&
      self->update_count - other->checked_in < RECHECK_LISTINGS)
    return FALSE;
  if (!alive)
    {
      guint threads = dev == 0 ? count_threads (self, pid) : 0;

      /* A kernel thread (or a zombie) is remembered, as a process that is
       * not Python, until its pid shows an executable. */
      if (threads == 1)
        remember_other (self, pid, 0, 0, FALSE);
      else if (threads == 0)
        g_hash_table_remove (self->others, GINT_TO_POINTER (pid));
      if (threads <= 1)
        return FALSE;
    }

  process = examine (self, pid, &loading, &error);
  if (process != NULL && self->owner >= 0 && pymemd_process_get_uid (process) != self->owner)
    {
      g_clear_object (&process);
      g_set_error (&error, PYMEMD_ERROR, PYMEMD_ERROR_NOT_PYTHON, "another user's");
    }
  if (process == NULL)
    {
      if (!g_error_matches (error, PYMEMD_ERROR, PYMEMD_ERROR_NOT_PYTHON) &&
          !g_error_matches (error, PYMEMD_ERROR, PYMEMD_ERROR_GONE))
        g_debug ("pid %d: %s", pid, error->message);
      remember_other (self, pid, dev, inode, loading);
      /* Not looked at (its user's share was spent): the next listing
       * looks, whenever the last look was. */
      if (g_error_matches (error, PYMEMD_ERROR, PYMEMD_ERROR_BUDGET))
        {
          OtherProcess *waiting = g_hash_table_lookup (self->others, GINT_TO_POINTER (pid));
          waiting->checked_at = G_MININT64 / 2;
          waiting->checked_in = self->update_count - RECHECK_LISTINGS;
        }
      return FALSE;
    }
  g_hash_table_remove (self->others, GINT_TO_POINTER (pid));
  g_hash_table_insert (self->interpreters, GINT_TO_POINTER (pid), process);
  if (added != NULL)
    g_ptr_array_add (added, g_object_ref (process));
  return TRUE;
}

gboolean
pymemd_discovery_update_pid (PymemdDiscovery *self, int pid, GPtrArray *added, GPtrArray *removed)
{
  /* An event says something happened to it: what was found of it before
   * (not Python) may no longer hold even with the same executable. */
  g_hash_table_remove (self->others, GINT_TO_POINTER (pid));
  return update_pid (self, pid, added, removed);
}

void
pymemd_discovery_note_exec (PymemdDiscovery *self, int pid)
{
  if (g_hash_table_contains (self->interpreters, GINT_TO_POINTER (pid)))
    g_hash_table_add (self->execed, GINT_TO_POINTER (pid));
}

guint
pymemd_discovery_count_others (PymemdDiscovery *self)
{
  return g_hash_table_size (self->others);
}

void
pymemd_discovery_note_exit (PymemdDiscovery *self, int pid)
{
  g_hash_table_remove (self->others, GINT_TO_POINTER (pid));
}

void
pymemd_discovery_update_execed (PymemdDiscovery *self)
{
  g_autofree gpointer *pids = NULL;
  guint n = 0;

  if (g_hash_table_size (self->execed) == 0)
    return;
  pids = g_hash_table_get_keys_as_array (self->execed, &n);
  for (guint i = 0; i < n; i++)
    update_pid (self, GPOINTER_TO_INT (pids[i]), NULL, NULL);
}

gboolean
pymemd_discovery_awaits_loader (PymemdDiscovery *self, int pid)
{
  OtherProcess *other = g_hash_table_lookup (self->others, GINT_TO_POINTER (pid));

  return other != NULL && other->loading;
}

gboolean
pymemd_discovery_knows (PymemdDiscovery *self, int pid)
{
  return g_hash_table_contains (self->interpreters, GINT_TO_POINTER (pid));
}

gboolean
pymemd_discovery_update (PymemdDiscovery *self,
                         GPtrArray       *added,
                         GPtrArray       *removed,
                         GError         **error)
{
  g_autoptr(GArray) pids = pymemd_procfs_list_pids (self->procfs, error);
  g_autoptr(GHashTable) present = NULL;
  GHashTableIter iter;
  gpointer key, value;

  if (pids == NULL)
    return FALSE;
  self->update_count++;

  present = g_hash_table_new (NULL, NULL);
  for (guint i = 0; i < pids->len; i++)
    {
      int pid = g_array_index (pids, int, i);
      g_hash_table_add (present, GINT_TO_POINTER (pid));
      update_pid (self, pid, added, removed);
    }

  g_hash_table_iter_init (&iter, self->interpreters);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (!g_hash_table_contains (present, key))
      {
        if (removed != NULL)
          g_ptr_array_add (removed, g_object_ref (value));
        g_hash_table_remove (self->execed, key);
        g_hash_table_iter_remove (&iter);
      }
  g_hash_table_iter_init (&iter, self->others);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!g_hash_table_contains (present, key))
      g_hash_table_iter_remove (&iter);
  /* Only the users whose balance is not full again are held. */
  pymemd_cpu_share_prune (self->look_share, g_get_monotonic_time ());
  return TRUE;
}

static gint
compare_by_pid (gconstpointer a, gconstpointer b)
{
  int x = pymemd_process_get_pid (*(PymemdProcess *const *) a);
  int y = pymemd_process_get_pid (*(PymemdProcess *const *) b);
  return (x > y) - (x < y);
}

GPtrArray *
pymemd_discovery_get_processes (PymemdDiscovery *self)
{
  GPtrArray *processes = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->interpreters);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (processes, g_object_ref (value));
  g_ptr_array_sort (processes, compare_by_pid);
  return processes;
}

void
pymemd_discovery_forget (PymemdDiscovery *self, PymemdProcess *process)
{
  gpointer pid = GINT_TO_POINTER (pymemd_process_get_pid (process));

  if (g_hash_table_lookup (self->interpreters, pid) == process)
    {
      g_hash_table_remove (self->interpreters, pid);
      g_hash_table_remove (self->execed, pid);
    }
}
