/* Tests who may see what: the rules of pymemd-auth on crafted credentials, and what they rest on, read from real processes and real procfs mounts. */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "pymemd-auth.h"
#include "pymemd-error.h"
#include "testutil.h"

/* ---- the rules ---- */

static const PymemdProcVisibility shown = { PYMEMD_HIDEPID_OFF, FALSE, 0 };

/* A process of UID in every id, dumpable. */
static PymemdCredentials
plain (guint32 uid)
{
  return (PymemdCredentials) { "python3", { uid, uid, uid, uid }, { uid, uid, uid, uid }, TRUE };
}

static PymemdProcess *
process_with (const PymemdCredentials *credentials)
{
  PymemdProcess *process = pymemd_process_new (10, 1, -1);

  pymemd_process_set_identity (process, "/usr/bin/python3.11", "python3", TRUE, 311, 1, 2);
  pymemd_process_set_credentials (process, credentials);
  return process;
}

static GArray *
groups_of (guint n, const guint32 *gids)
{
  GArray *groups = g_array_new (FALSE, FALSE, sizeof (guint32));

  g_array_append_vals (groups, gids, n);
  return groups;
}

/* ptrace_may_access (): the caller's uid is the real, effective and saved
 * uid; the gids agree; the process is dumpable. */
static void
test_owner (void)
{
  static const struct {
    const char       *what;
    PymemdCredentials credentials;
    gboolean          owned;
  } cases[] = {
    { "plain", { "x", { 1000, 1000, 1000, 1000 }, { 100, 100, 100, 100 }, TRUE }, TRUE },
    { "another filesystem uid", { "x", { 1000, 1000, 1000, 0 }, { 100, 100, 100, 0 }, TRUE }, TRUE },
    { "not dumpable", { "x", { 1000, 1000, 1000, 1000 }, { 100, 100, 100, 100 }, FALSE }, FALSE },
    { "set-user-ID root", { "x", { 1000, 0, 0, 0 }, { 100, 100, 100, 100 }, FALSE }, FALSE },
    { "set-user-ID root, dumpable again", { "x", { 1000, 0, 0, 0 }, { 100, 100, 100, 100 }, TRUE }, FALSE },
    { "saved uid of another", { "x", { 1000, 1000, 0, 1000 }, { 100, 100, 100, 100 }, TRUE }, FALSE },
    { "set-group-ID", { "x", { 1000, 1000, 1000, 1000 }, { 100, 5, 5, 5 }, TRUE }, FALSE },
    { "saved gid of another", { "x", { 1000, 1000, 1000, 1000 }, { 100, 100, 5, 100 }, TRUE }, FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      guint32 owner = 12345;
      gboolean owned = pymemd_viewer_owner_of (&cases[i].credentials, &owner);

      g_test_message ("%s", cases[i].what);
      g_assert_cmpint (owned, ==, cases[i].owned);
      g_assert_cmpuint (owner, ==, owned ? 1000 : 12345);
    }
}

static void
test_owns_groups (void)
{
  const guint32 in[] = { 5, 100, 27 }, out[] = { 5, 27 };
  PymemdCredentials mine = plain (1000);
  PymemdViewer unknown = { 1000, FALSE, NULL };
  PymemdViewer member = { 1000, FALSE, groups_of (3, in) };
  PymemdViewer other = { 1000, FALSE, groups_of (2, out) };
  PymemdViewer copy = { 0 };

  mine.gid[0] = mine.gid[1] = mine.gid[2] = 100;
  /* The bus did not tell the groups: the uid decides. */
  g_assert_true (pymemd_viewer_owns (&unknown, &mine));
  g_assert_true (pymemd_viewer_owns (&member, &mine));
  /* A process of the caller's uid running with a group the caller is not
   * in: the kernel lets the caller neither ptrace it nor read its smaps. */
  g_assert_false (pymemd_viewer_owns (&other, &mine));

  pymemd_viewer_copy (&copy, &member);
  pymemd_viewer_clear (&member);
  g_assert_null (member.groups);
  g_assert_true (pymemd_viewer_owns (&copy, &mine));
  pymemd_viewer_clear (&copy);
  pymemd_viewer_clear (&other);
}

static void
test_may_see (void)
{
  PymemdCredentials not_dumpable = plain (1000), setuid_root = plain (1000);
  g_autoptr(PymemdProcess) mine = NULL, theirs = NULL, roots = NULL, hidden_own = NULL, setuid = NULL;
  const PymemdViewer user = { 1000, FALSE, NULL }, allowed = { 1000, TRUE, NULL }, root = { 0, FALSE, NULL };

  not_dumpable.dumpable = FALSE;
  setuid_root.uid[1] = setuid_root.uid[2] = setuid_root.uid[3] = 0;
  setuid_root.dumpable = FALSE;
  mine = process_with (&(PymemdCredentials) { "python3", { 1000, 1000, 1000, 1000 }, { 1000, 1000, 1000, 1000 }, TRUE });
  theirs = process_with (&(PymemdCredentials) { "python3", { 2000, 2000, 2000, 2000 }, { 2000, 2000, 2000, 2000 }, TRUE });
  roots = process_with (&(PymemdCredentials) { "python3", { 0 }, { 0 }, TRUE });
  hidden_own = process_with (&not_dumpable);
  setuid = process_with (&setuid_root);

  g_assert_true (pymemd_viewer_may_see (&user, mine));
  g_assert_false (pymemd_viewer_may_see (&user, theirs));
  g_assert_false (pymemd_viewer_may_see (&user, roots));
  g_assert_false (pymemd_viewer_may_see (&user, hidden_own));
  g_assert_false (pymemd_viewer_may_see (&user, setuid));
  g_assert_true (pymemd_viewer_may_see (&allowed, theirs));
  g_assert_true (pymemd_viewer_may_see (&allowed, roots));
  g_assert_true (pymemd_viewer_may_see (&allowed, setuid));
  g_assert_true (pymemd_viewer_may_see (&root, mine));
  g_assert_true (pymemd_viewer_may_see (&root, theirs));
  g_assert_true (pymemd_viewer_may_see (&root, setuid));
  /* Whatever /proc hides, one sees in detail what one may ptrace. */
  for (PymemdHidePid h = PYMEMD_HIDEPID_OFF; h <= PYMEMD_HIDEPID_PTRACEABLE; h++)
    {
      const PymemdProcVisibility visibility = { h, FALSE, 0 };

      g_assert_cmpint (pymemd_viewer_get_view (&user, &visibility, mine), ==, PYMEMD_VIEW_DETAIL);
      g_assert_cmpint (pymemd_viewer_get_view (&root, &visibility, theirs), ==, PYMEMD_VIEW_DETAIL);
      g_assert_cmpint (pymemd_viewer_get_view (&allowed, &visibility, theirs), ==, PYMEMD_VIEW_DETAIL);
    }
  g_assert_cmpint (pymemd_viewer_get_view (&user, &shown, theirs), ==, PYMEMD_VIEW_STATUS);
  g_assert_cmpint (pymemd_viewer_get_view (&user, &shown, setuid), ==, PYMEMD_VIEW_STATUS);
  g_assert_cmpint (pymemd_viewer_get_view (&user, &shown, hidden_own), ==, PYMEMD_VIEW_STATUS);
}

/* What hidepid= hides from whom, and the group gid= exempts. */
static void
test_hidepid (void)
{
  const guint32 staff[] = { 50, 1000 };
  PymemdViewer user = { 1000, FALSE, NULL };
  PymemdViewer in_staff = { 1000, FALSE, groups_of (2, staff) };
  g_autoptr(PymemdProcess) theirs = process_with (&(PymemdCredentials) { "python3", { 2000, 2000, 2000, 2000 },
                                                                         { 2000, 2000, 2000, 2000 }, TRUE });
  static const struct {
    PymemdProcVisibility visibility;
    PymemdView           user, in_staff;
  } cases[] = {
    { { PYMEMD_HIDEPID_OFF, FALSE, 0 }, PYMEMD_VIEW_STATUS, PYMEMD_VIEW_STATUS },
    { { PYMEMD_HIDEPID_OFF, TRUE, 50 }, PYMEMD_VIEW_STATUS, PYMEMD_VIEW_STATUS },
    { { PYMEMD_HIDEPID_NOACCESS, FALSE, 0 }, PYMEMD_VIEW_HIDDEN, PYMEMD_VIEW_HIDDEN },
    { { PYMEMD_HIDEPID_NOACCESS, TRUE, 50 }, PYMEMD_VIEW_HIDDEN, PYMEMD_VIEW_STATUS },
    { { PYMEMD_HIDEPID_INVISIBLE, FALSE, 0 }, PYMEMD_VIEW_HIDDEN, PYMEMD_VIEW_HIDDEN },
    { { PYMEMD_HIDEPID_INVISIBLE, TRUE, 50 }, PYMEMD_VIEW_HIDDEN, PYMEMD_VIEW_STATUS },
    { { PYMEMD_HIDEPID_INVISIBLE, TRUE, 51 }, PYMEMD_VIEW_HIDDEN, PYMEMD_VIEW_HIDDEN },
    /* ptraceable: the group does not count */
    { { PYMEMD_HIDEPID_PTRACEABLE, TRUE, 50 }, PYMEMD_VIEW_HIDDEN, PYMEMD_VIEW_HIDDEN },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("case %u", i);
      g_assert_cmpint (pymemd_viewer_get_view (&user, &cases[i].visibility, theirs), ==, cases[i].user);
      g_assert_cmpint (pymemd_viewer_get_view (&in_staff, &cases[i].visibility, theirs), ==, cases[i].in_staff);
      /* An ended process of another user, the same. */
      g_assert_cmpint (pymemd_viewer_get_view_of_owner (&user, &cases[i].visibility, 2000), ==, cases[i].user);
      g_assert_cmpint (pymemd_viewer_get_view_of_owner (&in_staff, &cases[i].visibility, 2000), ==,
                       cases[i].in_staff);
    }
  pymemd_viewer_clear (&in_staff);
}

/* A process known from its history alone: owner 0 is root's alone. */
static void
test_view_of_owner (void)
{
  const PymemdViewer user = { 1000, FALSE, NULL }, allowed = { 1000, TRUE, NULL }, root = { 0, FALSE, NULL };
  const PymemdViewer zero_uid_user = { 0, FALSE, NULL };

  g_assert_cmpint (pymemd_viewer_get_view_of_owner (&user, &shown, 1000), ==, PYMEMD_VIEW_DETAIL);
  g_assert_cmpint (pymemd_viewer_get_view_of_owner (&user, &shown, 2000), ==, PYMEMD_VIEW_STATUS);
  g_assert_cmpint (pymemd_viewer_get_view_of_owner (&user, &shown, 0), ==, PYMEMD_VIEW_STATUS);
  g_assert_cmpint (pymemd_viewer_get_view_of_owner (&allowed, &shown, 0), ==, PYMEMD_VIEW_DETAIL);
  g_assert_cmpint (pymemd_viewer_get_view_of_owner (&root, &shown, 2000), ==, PYMEMD_VIEW_DETAIL);
  g_assert_cmpint (pymemd_viewer_get_view_of_owner (&zero_uid_user, &shown, 0), ==, PYMEMD_VIEW_DETAIL);
}

static void
test_may_attach (void)
{
  const PymemdViewer user = { 1000, FALSE, NULL }, root = { 0, FALSE, NULL };
  PymemdCredentials mine = plain (1000), theirs = plain (2000), not_dumpable = plain (1000);
  PymemdCredentials setuid_root = { "python3", { 1000, 0, 0, 0 }, { 1000, 1000, 1000, 1000 }, FALSE };

  not_dumpable.dumpable = FALSE;
  g_assert_cmpint (pymemd_viewer_may_attach (&user, PYMEMD_ATTACH_OWN, &mine), ==, PYMEMD_ATTACH_GRANTED);
  g_assert_cmpint (pymemd_viewer_may_attach (&user, PYMEMD_ATTACH_OWN, &theirs), ==, PYMEMD_ATTACH_ASK_POLKIT);
  g_assert_cmpint (pymemd_viewer_may_attach (&user, PYMEMD_ATTACH_OWN, &not_dumpable), ==,
                   PYMEMD_ATTACH_ASK_POLKIT);
  g_assert_cmpint (pymemd_viewer_may_attach (&user, PYMEMD_ATTACH_OWN, &setuid_root), ==,
                   PYMEMD_ATTACH_ASK_POLKIT);
  g_assert_cmpint (pymemd_viewer_may_attach (&user, PYMEMD_ATTACH_ADMIN, &mine), ==, PYMEMD_ATTACH_ASK_POLKIT);
  g_assert_cmpint (pymemd_viewer_may_attach (&user, PYMEMD_ATTACH_NONE, &mine), ==, PYMEMD_ATTACH_DENIED);
  g_assert_cmpint (pymemd_viewer_may_attach (&root, PYMEMD_ATTACH_OWN, &setuid_root), ==, PYMEMD_ATTACH_GRANTED);
  g_assert_cmpint (pymemd_viewer_may_attach (&root, PYMEMD_ATTACH_ADMIN, &theirs), ==, PYMEMD_ATTACH_GRANTED);
  g_assert_cmpint (pymemd_viewer_may_attach (&root, PYMEMD_ATTACH_NONE, &theirs), ==, PYMEMD_ATTACH_DENIED);
}

/* ---- what /proc's mount options say ---- */

static void
test_visibility_parse (void)
{
  static const struct {
    const char   *options;
    gboolean      ok;
    PymemdHidePid hidepid;
    gboolean      has_gid;
    guint32       gid;
  } cases[] = {
    { "rw", TRUE, PYMEMD_HIDEPID_OFF, FALSE, 0 },
    { "rw,hidepid=invisible", TRUE, PYMEMD_HIDEPID_INVISIBLE, FALSE, 0 },
    { "rw,gid=4,hidepid=invisible", TRUE, PYMEMD_HIDEPID_INVISIBLE, TRUE, 4 },
    { "rw,hidepid=noaccess,subset=pid", TRUE, PYMEMD_HIDEPID_NOACCESS, FALSE, 0 },
    { "rw,hidepid=ptraceable", TRUE, PYMEMD_HIDEPID_PTRACEABLE, FALSE, 0 },
    { "rw,hidepid=off", TRUE, PYMEMD_HIDEPID_OFF, FALSE, 0 },
    /* kernels before 5.8 print numbers */
    { "rw,hidepid=2,gid=1001", TRUE, PYMEMD_HIDEPID_INVISIBLE, TRUE, 1001 },
    { "rw,hidepid=1", TRUE, PYMEMD_HIDEPID_NOACCESS, FALSE, 0 },
    { "rw,hidepid=0", TRUE, PYMEMD_HIDEPID_OFF, FALSE, 0 },
    /* not knowing is no reason to show */
    { "rw,hidepid=3", FALSE },
    { "rw,hidepid=secret", FALSE },
    { "rw,hidepid=", FALSE },
    { "rw,gid=x", FALSE },
    { "rw,gid=4294967296", FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      PymemdProcVisibility visibility = { 99, TRUE, 99 };
      gboolean ok = pymemd_proc_visibility_parse (cases[i].options, &visibility, &error);

      g_test_message ("%s", cases[i].options);
      if (!cases[i].ok)
        {
          g_assert_false (ok);
          g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE);
          continue;
        }
      g_assert_no_error (error);
      g_assert_true (ok);
      g_assert_cmpint (visibility.hidepid, ==, cases[i].hidepid);
      g_assert_cmpint (visibility.has_gid, ==, cases[i].has_gid);
      g_assert_cmpuint (visibility.gid, ==, cases[i].gid);
    }
}

static void
assert_visibility (PymemdProcfs *procfs, PymemdHidePid hidepid, gboolean has_gid, guint32 gid)
{
  g_autoptr(GError) error = NULL;
  const PymemdProcVisibility *visibility;

  g_assert_true (pymemd_procfs_refresh_visibility (procfs, &error));
  g_assert_no_error (error);
  visibility = pymemd_procfs_get_visibility (procfs);
  g_assert_cmpint (visibility->hidepid, ==, hidepid);
  g_assert_cmpint (visibility->has_gid, ==, has_gid);
  if (has_gid)
    g_assert_cmpuint (visibility->gid, ==, gid);
}

/* A procfs of its own, mounted and remounted here (in a mount namespace of
 * this test's own): the options are read again on every refresh. */
static void
test_visibility_mount (void)
{
  g_autofree char *tmp = NULL;
  g_autofree char *fixture = NULL;
  g_autoptr(PymemdProcfs) procfs = NULL;
  g_autoptr(PymemdProcfs) plain_dir = NULL;
  g_autoptr(GError) error = NULL;

  if (!pymemd_test_is_root ())
    {
      g_test_skip ("needs root to mount procfs");
      return;
    }
  if (!pymemd_test_unshare_mounts ())
    return;
  tmp = pymemd_test_mkdtemp ();
  pymemd_test_mount_proc (tmp, "hidepid=invisible,gid=4", FALSE);
  procfs = pymemd_procfs_new (tmp, &error);
  g_assert_no_error (error);
  assert_visibility (procfs, PYMEMD_HIDEPID_INVISIBLE, TRUE, 4);
  pymemd_test_mount_proc (tmp, "hidepid=noaccess", TRUE);
  assert_visibility (procfs, PYMEMD_HIDEPID_NOACCESS, TRUE, 4);
  pymemd_test_mount_proc (tmp, "hidepid=ptraceable,gid=7", TRUE);
  assert_visibility (procfs, PYMEMD_HIDEPID_PTRACEABLE, TRUE, 7);
  pymemd_test_mount_proc (tmp, "hidepid=off", TRUE);
  assert_visibility (procfs, PYMEMD_HIDEPID_OFF, TRUE, 7);

  /* A directory that is no procfs (the fixtures) hides nothing. */
  fixture = pymemd_test_data_path ("proc-mixed");
  plain_dir = pymemd_procfs_new (fixture, &error);
  g_assert_no_error (error);
  assert_visibility (plain_dir, PYMEMD_HIDEPID_OFF, FALSE, 0);

  g_clear_object (&procfs);
  g_assert_cmpint (umount (tmp), ==, 0);
  pymemd_test_rm_rf (tmp);
}

/* ---- credentials, as read from /proc ---- */

static const char wait_code[] =
  "import ctypes, sys\n"
  "if 'early' in sys.argv: ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)\n"
  "print('ready', flush=True)\n"
  "sys.stdin.readline()\n"
  "ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)\n"
  "print('done', flush=True)\n"
  "sys.stdin.read()\n";

static void
spawn (PymemdTestChild *child, const char *const *prefix, const char *python, const char *mode)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (pymemd_test_child_spawn_python_via (child, prefix, python, wait_code, mode, &error));
  g_assert_no_error (error);
}

static int
open_pid_dir (GPid pid)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdProcfs) procfs = pymemd_procfs_new ("/proc", &error);
  int dir_fd;

  g_assert_no_error (error);
  dir_fd = pymemd_procfs_open_pid_dir (procfs, pid, &error);
  g_assert_no_error (error);
  return dir_fd;
}

static PymemdCredentials
read_credentials (int dir_fd)
{
  g_autoptr(GError) error = NULL;
  PymemdCredentials credentials;

  g_assert_true (pymemd_procfs_read_credentials (dir_fd, &credentials, &error));
  g_assert_no_error (error);
  return credentials;
}

static PymemdCredentials
credentials_of (GPid pid)
{
  int dir_fd = open_pid_dir (pid);
  PymemdCredentials credentials = read_credentials (dir_fd);

  close (dir_fd);
  return credentials;
}

static void
assert_ids (const guint32 *ids, guint32 a, guint32 b, guint32 c)
{
  g_assert_cmpuint (ids[0], ==, a);
  g_assert_cmpuint (ids[1], ==, b);
  g_assert_cmpuint (ids[2], ==, c);
}

/* The two processes of the issue, and one that turns non-dumpable while
 * it is watched: dumpability from the owner of /proc/PID/status, on this
 * kernel. */
static void
test_credentials (void)
{
  struct passwd *nobody = getpwnam ("nobody");
  const char *const as_nobody[] = { pymemd_test_setpriv (), "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                    NULL };
  /* setpriv sets the real uid alone: euid 0 at exec makes it non-dumpable,
   * as a set-user-ID root program that execs python3 leaves it. */
  const char *const real_uid_only[] = { pymemd_test_setpriv (), "--ruid=nobody", NULL };
  PymemdTestChild own, setuid_like, later;
  PymemdCredentials c;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  guint32 owner;
  int later_fd;

  if (!pymemd_test_is_root () || pymemd_test_python () == NULL || pymemd_test_setpriv () == NULL || nobody == NULL)
    {
      g_test_skip ("needs root, python3, setpriv and the user nobody");
      return;
    }
  spawn (&own, as_nobody, NULL, "early");
  spawn (&setuid_like, real_uid_only, NULL, "late");
  spawn (&later, as_nobody, NULL, "late");

  c = credentials_of (own.pid);
  assert_ids (c.uid, nobody->pw_uid, nobody->pw_uid, nobody->pw_uid);
  g_assert_cmpstr (c.name, ==, "python3");
  g_assert_false (c.dumpable);
  g_assert_false (pymemd_viewer_owner_of (&c, &owner));

  c = credentials_of (setuid_like.pid);
  assert_ids (c.uid, nobody->pw_uid, 0, 0);
  g_assert_false (pymemd_viewer_owner_of (&c, &owner));

  later_fd = open_pid_dir (later.pid);
  c = read_credentials (later_fd);
  assert_ids (c.uid, nobody->pw_uid, nobody->pw_uid, nobody->pw_uid);
  g_assert_true (c.dumpable);
  g_assert_true (pymemd_viewer_owner_of (&c, &owner));
  g_assert_cmpuint (owner, ==, nobody->pw_uid);
  pymemd_test_child_send (&later, "go");
  line = pymemd_test_child_read_line (&later, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, "done");
  /* Read again through the same directory, as a scan does: the kernel
   * sets the owner afresh on each lookup. */
  c = read_credentials (later_fd);
  g_assert_false (c.dumpable);
  g_assert_false (pymemd_viewer_owner_of (&c, &owner));
  close (later_fd);

  /* Our own: root, dumpable. */
  c = credentials_of (getpid ());
  assert_ids (c.uid, 0, 0, 0);
  g_assert_true (c.dumpable);

  pymemd_test_child_stop (&own);
  pymemd_test_child_stop (&setuid_like);
  pymemd_test_child_stop (&later);
}

/* The Name of status is the name it was started as: through a symlink,
 * the symlink's, which need not be the executable's. */
static void
test_status_name (void)
{
  g_autofree char *tmp = NULL, *link = NULL, *real = NULL;
  PymemdTestChild child;
  PymemdCredentials c;

  if (pymemd_test_python () == NULL)
    {
      g_test_skip ("no python3");
      return;
    }
  tmp = pymemd_test_mkdtemp ();
  link = g_build_filename (tmp, "quiet-service", NULL);
  real = realpath (pymemd_test_python (), NULL);
  g_assert_cmpint (symlink (real, link), ==, 0);
  spawn (&child, NULL, link, "late");
  c = credentials_of (child.pid);
  g_assert_cmpstr (c.name, ==, "quiet-service");
  pymemd_test_child_stop (&child);
  pymemd_test_rm_rf (tmp);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/auth/owner", test_owner);
  g_test_add_func ("/auth/owns-groups", test_owns_groups);
  g_test_add_func ("/auth/may-see", test_may_see);
  g_test_add_func ("/auth/hidepid", test_hidepid);
  g_test_add_func ("/auth/view-of-owner", test_view_of_owner);
  g_test_add_func ("/auth/may-attach", test_may_attach);
  g_test_add_func ("/auth/visibility/parse", test_visibility_parse);
  g_test_add_func ("/auth/credentials", test_credentials);
  g_test_add_func ("/auth/status-name", test_status_name);
  /* Last: it leaves the program in a mount namespace of its own. */
  g_test_add_func ("/auth/visibility/mount", test_visibility_mount);
  return g_test_run ();
}
