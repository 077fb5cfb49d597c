/* The one door to procfs: every /proc read of the core goes through a root that tests can point at fixtures. */
#pragma once

#include <glib-object.h>

#include "pymemd-pidfiles.h"

G_BEGIN_DECLS

#define PYMEMD_TYPE_PROCFS (pymemd_procfs_get_type ())
G_DECLARE_FINAL_TYPE (PymemdProcfs, pymemd_procfs, PYMEMD, PROCFS, GObject)

PymemdProcfs *pymemd_procfs_new (const char *root,
                                  GError    **error);
const char   *pymemd_procfs_get_root (PymemdProcfs *self);
int           pymemd_procfs_get_root_fd (PymemdProcfs *self);
/* Whether the root is a procfs mount (not a tree of files standing for
 * one, as in the tests: there a file rewritten is a new file). */
gboolean      pymemd_procfs_is_procfs (PymemdProcfs *self);
gsize         pymemd_procfs_get_page_size (PymemdProcfs *self);

/* Numeric entries of the root, sorted. */
GArray       *pymemd_procfs_list_pids (PymemdProcfs *self,
                                       GError      **error);
/* A directory fd on /proc/PID. Reads through it fail with ESRCH once that
 * process is gone, even if the pid has been reused: it names the process. */
int           pymemd_procfs_open_pid_dir (PymemdProcfs *self,
                                          int           pid,
                                          GError      **error);
/* Like pymemd_procfs_open_pid_dir (), for reading PID's memory: a process
 * whose main thread has exited while other threads run (a zombie leader,
 * pthread_exit) has no memory to read through /proc/PID, so this is then
 * /proc/PID/task/TID of one of its live threads (THROUGH_THREAD set; its
 * stat and status are that thread's, "../../stat" the process's). */
int           pymemd_procfs_open_process_dir (PymemdProcfs *self,
                                              int           pid,
                                              gboolean     *through_thread,
                                              GError      **error);
char         *pymemd_procfs_read_boot_id (PymemdProcfs *self,
                                          GError      **error);

/* What a procfs mount hides from whom (proc(5)): hidepid= hides the
 * processes a user may not ptrace, gid= exempts a group. */
typedef enum {
  PYMEMD_HIDEPID_OFF = 0,
  PYMEMD_HIDEPID_NOACCESS = 1,   /* listed, but nothing inside can be read */
  PYMEMD_HIDEPID_INVISIBLE = 2,  /* not listed */
  PYMEMD_HIDEPID_PTRACEABLE = 4, /* not listed, and gid= exempts nobody */
} PymemdHidePid;

typedef struct {
  PymemdHidePid hidepid;
  gboolean      has_gid;
  guint32       gid;
} PymemdProcVisibility;

/* Reads the super options of a procfs mount ("rw,gid=4,hidepid=invisible"
 * or, from kernels before 5.8, "rw,hidepid=2"); an unknown hidepid value is
 * an error, not "off". */
gboolean      pymemd_proc_visibility_parse (const char           *options,
                                            PymemdProcVisibility *visibility,
                                            GError              **error);
/* Reads again what the root hides, from this process's mountinfo: nothing
 * when the root is no procfs (a fixture tree). When that fails, the root
 * counts as hiding every process (hidepid=invisible) and ERROR says why. */
gboolean      pymemd_procfs_refresh_visibility (PymemdProcfs *self,
                                                GError      **error);
const PymemdProcVisibility *pymemd_procfs_get_visibility (PymemdProcfs *self);

/* The credentials of the process whose /proc/PID directory DIR_FD is:
 * its status, and whether it is dumpable, told by the owner the kernel
 * gives its status file. Fails with PYMEMD_ERROR_GONE once it has exited. */
gboolean      pymemd_procfs_read_credentials (int                dir_fd,
                                              PymemdCredentials *credentials,
                                              GError           **error);

/* Fills STAMP (pymemd-pidfiles.h) with two stats, of DIR_FD and of its
 * status (no text). Fails with PYMEMD_ERROR_GONE once the process has
 * exited. */
gboolean      pymemd_procfs_read_owner_stamp (int               dir_fd,
                                              PymemdOwnerStamp *stamp,
                                              GError          **error);

/* The owner the kernel gives DIR_FD's status, with one stat: the
 * process's effective uid and gid while it is dumpable, root (of its user
 * namespace) otherwise. Fails with PYMEMD_ERROR_GONE once it has exited. */
gboolean      pymemd_procfs_read_dump_owner (int       dir_fd,
                                             guint32  *uid,
                                             guint32  *gid,
                                             GError  **error);

/* Reads FD from offset 0 into BUF (NUL-terminated): a procfs file kept
 * open and read again (statm). Fails with PYMEMD_ERROR_TOO_LARGE if it
 * does not fit in SIZE - 1 bytes. */
gssize        pymemd_procfs_pread_file (int          fd,
                                        const char  *name,
                                        char        *buf,
                                        gsize        size,
                                        GError     **error);

/* Reads the whole of DIRFD/NAME into BUF (NUL-terminated), failing with
 * PYMEMD_ERROR_TOO_LARGE if it does not fit in SIZE - 1 bytes. */
gssize        pymemd_procfs_read_file_at (int          dirfd,
                                          const char  *name,
                                          char        *buf,
                                          gsize        size,
                                          GError     **error);
/* Reads at most SIZE - 1 bytes of DIRFD/NAME: for files whose head is enough. */
gssize        pymemd_procfs_read_prefix_at (int          dirfd,
                                            const char  *name,
                                            char        *buf,
                                            gsize        size,
                                            GError     **error);
char         *pymemd_procfs_readlink_at (int          dirfd,
                                         const char  *name,
                                         GError     **error);
int           pymemd_procfs_open_at (int          dirfd,
                                     const char  *name,
                                     GError     **error);

/* Streams a large /proc file line by line through one buffer: bounded
 * memory, and few read(2) calls however long the file. */
typedef struct {
  int      fd;
  char    *buf;
  gsize    size;
  gsize    start;
  gsize    end;
  guint64  total;
  guint64  max_total;
  guint    line_no;
  gboolean eof;
  gboolean unterminated; /* the last line had no newline: truncated */
  const char *name;
} PymemdLineReader;

void     pymemd_line_reader_init (PymemdLineReader *reader,
                                  int               fd,
                                  const char       *name,
                                  gsize             buffer_size,
                                  guint64           max_total);
/* TRUE and a line (without its newline, NUL-terminated) while there is one;
 * FALSE at the end (ERROR unset) or on failure (ERROR set). */
gboolean pymemd_line_reader_next (PymemdLineReader *reader,
                                  char            **line,
                                  gsize            *len,
                                  GError          **error);
void     pymemd_line_reader_clear (PymemdLineReader *reader);

/* This thread's CPU time, µs (0 where the clock is missing): what a read
 * of a procfs file cost, the kernel's walk included, whatever else the
 * host runs meanwhile. */
gint64   pymemd_thread_cpu_us (void);

G_END_DECLS
