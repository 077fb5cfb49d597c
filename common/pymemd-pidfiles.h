/* Parsers for the small per-process files: stat (start time, comm), status (name, ids), cmdline. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  char    comm[64];
  char    state;
  int     ppid;       /* field 4 */
  guint64 start_time; /* field 22: clock ticks after boot */
} PymemdStat;

/* Parses /proc/PID/stat, whose comm may hold spaces and parentheses. */
gboolean pymemd_stat_parse (const char *text,
                            PymemdStat *stat,
                            GError    **error);
/* Who a process runs as: its Name (the comm as status shows it, which
 * every user may read) and ids from /proc/PID/status, and whether it is
 * dumpable, which status does not say (see pymemd_procfs_read_credentials). */
typedef struct {
  char     name[64]; /* the kernel escapes it; control characters are '?' */
  guint32  uid[4];   /* real, effective, saved, filesystem */
  guint32  gid[4];
  gboolean dumpable;
} PymemdCredentials;

/* What the kernel shows of a process's credentials without formatting
 * its status: the owners it gives /proc/PID (its effective uid and gid,
 * always) and /proc/PID/status (the same while it is dumpable, root's
 * otherwise): task_dump_owner () in fs/proc/base.c, computed afresh on
 * each stat (pid_getattr (), pid_revalidate ()). A process is some user's
 * to see (pymemd_viewer_owner_of ()) only while dumpable with all its ids
 * equal, and the kernel turns it non-dumpable when its effective or
 * filesystem ids change (commit_creds ()): it cannot become or stop being
 * a user's without this stamp moving, unless it holds CAP_SETUID or
 * CAP_SETGID; see docs/pymemd.8, SAMPLING. */
typedef struct {
  guint32 uid, gid;               /* of /proc/PID: effective */
  guint32 status_uid, status_gid; /* of its status: root's unless dumpable */
} PymemdOwnerStamp;

/* Fills the Name, Uid and Gid of CREDENTIALS from the text of
 * /proc/PID/status (its head is enough: they come before Groups). */
gboolean pymemd_status_parse (const char        *text,
                              PymemdCredentials *credentials,
                              GError           **error);
/* The counters of /proc/PID/statm that say whether a process's pages
 * moved, in pages: the kernel keeps them as counters, so reading them
 * walks no page table and takes no lock the process needs. */
typedef struct {
  guint64 resident; /* field 2: RssAnon + RssFile + RssShmem */
  guint64 shared;   /* field 3: RssFile + RssShmem */
} PymemdStatm;

gboolean pymemd_statm_parse (const char  *text,
                             PymemdStatm *statm,
                             GError     **error);
/* Whether C, shown, would change how the text around it reads rather than
 * show itself: a control character (C0 or C1), a format character (the
 * bidirectional overrides and isolates, zero-width ones, the BOM) or a
 * line or paragraph separator. A name with U+202E reads backwards. */
gboolean pymemd_unichar_is_hidden (gunichar c);

/* TEXT as valid UTF-8 (what is not replaced by U+FFFD) for people to read:
 * each control character CONTROL, each other character
 * pymemd_unichar_is_hidden () names HIDDEN. */
char    *pymemd_text_for_people (const char *text,
                                 char        control,
                                 char        hidden);

/* NUL-separated argv of LEN bytes as one line: NULs become spaces, other
 * control characters and what pymemd_unichar_is_hidden () names '?';
 * invalid UTF-8 is replaced. */
char    *pymemd_cmdline_to_string (const char *data,
                                   gsize       len);

G_END_DECLS
