/* Tests who may see what: the rules of pymemd-auth on crafted credentials, and what they rest on, read from real processes and real procfs mounts. */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <polkit/polkit.h>

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

/* ---- who is calling: PymemdAuth on a private bus with the polkit mock ---- */

/* One bus for every case below: polkit's authority and GDBus's system bus
 * are singletons of the process, bound to the first DBUS_SYSTEM_BUS_ADDRESS. */
static PymemdTestService bus;
static gboolean bus_started;
static gboolean bus_failed;

/* A caller on the bus that is not root: a python3 run as nobody when we
 * are root, as ourselves otherwise; it prints its unique name. */
static const char caller_code[] =
  "import sys, dbus\n"
  "conn = dbus.bus.BusConnection(sys.argv[1])\n"
  "print(conn.get_unique_name(), flush=True)\n"
  "sys.stdin.read()\n";

typedef struct {
  PymemdTestChild child;
  char           *name;
  guint32         uid;
} Caller;

static gboolean
bus_up (void)
{
  if (!bus_started && !bus_failed)
    {
      if (!pymemd_test_service_start_system_bus (&bus))
        {
          bus_failed = TRUE;
          return FALSE;
        }
      bus_started = TRUE;
      g_setenv ("DBUS_SYSTEM_BUS_ADDRESS", bus.address, TRUE);
    }
  if (bus_failed)
    g_test_skip (pymemd_test_service_missing () != NULL ? pymemd_test_service_missing () : "no bus");
  return bus_started;
}

static gboolean
caller_start (Caller *caller)
{
  const char *const as_nobody[] = { "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", NULL };
  g_autoptr(GError) error = NULL;

  memset (caller, 0, sizeof *caller);
  if (pymemd_test_is_root ())
    {
      struct passwd *pw = getpwnam ("nobody");
      if (pymemd_test_setpriv () == NULL || pw == NULL)
        {
          g_test_skip ("as root this needs setpriv and the user nobody for a caller that is not root");
          return FALSE;
        }
      caller->uid = pw->pw_uid;
    }
  else
    caller->uid = getuid ();
  {
    g_autoptr(GPtrArray) argv = g_ptr_array_new ();

    for (guint i = 0; pymemd_test_is_root () && as_nobody[i] != NULL; i++)
      g_ptr_array_add (argv, (gpointer) as_nobody[i]);
    g_ptr_array_add (argv, (gpointer) pymemd_test_dbusmock_python ());
    g_ptr_array_add (argv, (gpointer) "-c");
    g_ptr_array_add (argv, (gpointer) caller_code);
    g_ptr_array_add (argv, bus.address);
    g_ptr_array_add (argv, NULL);
    g_assert_true (pymemd_test_child_spawn (&caller->child, (const char *const *) argv->pdata, &caller->name,
                                            &error));
    g_assert_no_error (error);
  }
  g_strstrip (caller->name);
  g_assert_true (g_str_has_prefix (caller->name, ":"));
  return TRUE;
}

static void
caller_stop (Caller *caller)
{
  pymemd_test_child_stop (&caller->child);
  g_clear_pointer (&caller->name, g_free);
}

static void
got_result (GObject *source, GAsyncResult *result, gpointer data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static GAsyncResult *
wait_result (GAsyncResult **slot)
{
  PYMEMD_TEST_WAIT_FOR (*slot != NULL, 20);
  return *slot;
}

/* What AUTH says of SENDER; FALSE with ERROR. */
static gboolean
auth_viewer (PymemdAuth *auth, const char *sender, gboolean want_all, PymemdViewer *viewer, GError **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  pymemd_auth_get_viewer_async (auth, bus.conn, sender, want_all, NULL, got_result, &result);
  return pymemd_auth_get_viewer_finish (auth, wait_result (&result), viewer, error);
}

/* What a new PymemdAuth (with polkit or not) says of SENDER. */
static gboolean
viewer_of (gboolean use_polkit, const char *sender, gboolean want_all, PymemdViewer *viewer, GError **error)
{
  g_autoptr(PymemdAuth) auth = pymemd_auth_new (use_polkit);

  return auth_viewer (auth, sender, want_all, viewer, error);
}

static gboolean
may_attach (gboolean use_polkit, const char *sender, const PymemdCredentials *target, PymemdAttachPolicy policy)
{
  g_autoptr(PymemdAuth) auth = pymemd_auth_new (use_polkit);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(PymemdViewer) viewer = { 0 };
  gboolean allowed = FALSE;

  pymemd_auth_may_attach_async (auth, bus.conn, sender, target, policy, NULL, got_result, &result);
  g_assert_true (pymemd_auth_may_attach_finish (auth, wait_result (&result), &viewer, &allowed, &error));
  g_assert_no_error (error);
  g_assert_cmpint (viewer.sees_all, ==, allowed);
  return allowed;
}

/* The caller's uid and groups come from the bus; without polkit's yes it
 * sees its own, whatever it wants. */
static void
test_viewer_credentials (void)
{
  g_autoptr(GError) error = NULL;
  g_auto(PymemdViewer) viewer = { 0 };
  Caller caller;

  if (!bus_up () || !caller_start (&caller))
    return;
  pymemd_test_service_set_polkit_allowed (&bus, (const char *const[]){ NULL });
  g_assert_true (viewer_of (TRUE, caller.name, FALSE, &viewer, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (viewer.uid, ==, caller.uid);
  g_assert_false (viewer.sees_all);
  g_assert_nonnull (viewer.groups);
  g_assert_cmpuint (viewer.groups->len, >=, 1);
  pymemd_viewer_clear (&viewer);

  /* Wanting all is not having it: polkit (the mock) says no. */
  g_assert_true (viewer_of (TRUE, caller.name, TRUE, &viewer, &error));
  g_assert_no_error (error);
  g_assert_false (viewer.sees_all);
  caller_stop (&caller);
}

/* polkit's yes to org.pymemd.inspect-all, asked only when the caller wants
 * all; another action does not count. */
static void
test_viewer_polkit (void)
{
  g_autoptr(GError) error = NULL;
  g_auto(PymemdViewer) viewer = { 0 };
  Caller caller;

  if (!bus_up () || !caller_start (&caller))
    return;
  pymemd_test_service_set_polkit_allowed (&bus, (const char *const[]){ PYMEMD_ACTION_ATTACH, NULL });
  g_assert_true (viewer_of (TRUE, caller.name, TRUE, &viewer, &error));
  g_assert_false (viewer.sees_all);
  pymemd_viewer_clear (&viewer);

  pymemd_test_service_set_polkit_allowed (&bus, (const char *const[]){ PYMEMD_ACTION_INSPECT_ALL, NULL });
  g_assert_true (viewer_of (TRUE, caller.name, TRUE, &viewer, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (viewer.uid, ==, caller.uid);
  g_assert_true (viewer.sees_all);
  pymemd_viewer_clear (&viewer);

  g_assert_true (viewer_of (TRUE, caller.name, FALSE, &viewer, &error));
  g_assert_false (viewer.sees_all);
  pymemd_test_service_set_polkit_allowed (&bus, (const char *const[]){ NULL });
  caller_stop (&caller);
}

/* Callers that come before polkit's authority is there wait on one request
 * for it: each request used to leave one more reference to the authority,
 * held forever. Both are answered, and the authority goes with the last
 * PymemdAuth that held it. */
static void
test_viewer_polkit_once (void)
{
  PolkitAuthority *authority = NULL;
  Caller caller;

  if (!bus_up () || !caller_start (&caller))
    return;
  pymemd_test_service_set_polkit_allowed (&bus, (const char *const[]){ PYMEMD_ACTION_INSPECT_ALL, NULL });
  {
    g_autoptr(PymemdAuth) auth = pymemd_auth_new (TRUE);
    g_autoptr(GAsyncResult) first = NULL;
    g_autoptr(GAsyncResult) second = NULL;
    g_autoptr(GError) error = NULL;
    g_auto(PymemdViewer) one = { 0 };
    g_auto(PymemdViewer) two = { 0 };

    pymemd_auth_get_viewer_async (auth, bus.conn, caller.name, TRUE, NULL, got_result, &first);
    pymemd_auth_get_viewer_async (auth, bus.conn, caller.name, TRUE, NULL, got_result, &second);
    g_assert_true (pymemd_auth_get_viewer_finish (auth, wait_result (&first), &one, &error));
    g_assert_no_error (error);
    g_assert_true (pymemd_auth_get_viewer_finish (auth, wait_result (&second), &two, &error));
    g_assert_no_error (error);
    g_assert_true (one.sees_all);
    g_assert_true (two.sees_all);
    authority = polkit_authority_get_sync (NULL, &error);
    g_assert_no_error (error);
    g_object_add_weak_pointer (G_OBJECT (authority), (gpointer *) &authority);
    g_object_unref (authority);
    g_assert_nonnull (authority); /* the auth holds it */
  }
  g_assert_null (authority);
  pymemd_test_service_set_polkit_allowed (&bus, (const char *const[]){ NULL });
  caller_stop (&caller);
}

/* On a bus that is not the system bus polkit is never asked (it knows
 * callers by their system bus names): its yes grants nothing there. */
static void
test_viewer_private_bus (void)
{
  g_autoptr(GError) error = NULL;
  g_auto(PymemdViewer) viewer = { 0 };
  Caller caller;

  if (!bus_up () || !caller_start (&caller))
    return;
  pymemd_test_service_set_polkit_allowed (&bus, (const char *const[]){ PYMEMD_ACTION_INSPECT_ALL,
                                                                       PYMEMD_ACTION_ATTACH, NULL });
  g_assert_true (viewer_of (FALSE, caller.name, TRUE, &viewer, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (viewer.uid, ==, caller.uid);
  g_assert_false (viewer.sees_all);
  {
    PymemdCredentials others = plain (caller.uid + 1);
    g_assert_false (may_attach (FALSE, caller.name, &others, PYMEMD_ATTACH_OWN));
    g_assert_true (may_attach (TRUE, caller.name, &others, PYMEMD_ATTACH_OWN));
  }
  pymemd_test_service_set_polkit_allowed (&bus, (const char *const[]){ NULL });
  caller_stop (&caller);
}

/* Attaching: the owner under "own" without polkit; another user's process
 * with org.pymemd.attach only; "none" binds whatever polkit says. */
static void
test_attach_rights (void)
{
  PymemdCredentials own, others;
  Caller caller;

  if (!bus_up () || !caller_start (&caller))
    return;
  own = plain (caller.uid);
  others = plain (caller.uid + 1);
  pymemd_test_service_set_polkit_allowed (&bus, (const char *const[]){ PYMEMD_ACTION_INSPECT_ALL, NULL });
  g_assert_true (may_attach (TRUE, caller.name, &own, PYMEMD_ATTACH_OWN));
  g_assert_false (may_attach (TRUE, caller.name, &own, PYMEMD_ATTACH_ADMIN));
  g_assert_false (may_attach (TRUE, caller.name, &others, PYMEMD_ATTACH_OWN));

  pymemd_test_service_set_polkit_allowed (&bus, (const char *const[]){ PYMEMD_ACTION_ATTACH, NULL });
  g_assert_true (may_attach (TRUE, caller.name, &others, PYMEMD_ATTACH_OWN));
  g_assert_true (may_attach (TRUE, caller.name, &own, PYMEMD_ATTACH_ADMIN));
  g_assert_false (may_attach (TRUE, caller.name, &own, PYMEMD_ATTACH_NONE));
  pymemd_test_service_set_polkit_allowed (&bus, (const char *const[]){ NULL });
  caller_stop (&caller);
}

/* Root sees all without asking polkit (which says no to everything). */
static void
test_viewer_root (void)
{
  g_autoptr(GError) error = NULL;
  g_auto(PymemdViewer) viewer = { 0 };

  if (!pymemd_test_need_root ("the caller must be root") || !bus_up ())
    return;
  pymemd_test_service_set_polkit_allowed (&bus, (const char *const[]){ NULL });
  g_assert_true (viewer_of (FALSE, g_dbus_connection_get_unique_name (bus.conn), FALSE, &viewer, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (viewer.uid, ==, 0);
  g_assert_true (viewer.sees_all);
}

/* A name the bus does not know: refused, with the reason. */
static void
test_viewer_unknown (void)
{
  g_autoptr(GError) error = NULL;
  g_auto(PymemdViewer) viewer = { 0 };

  if (!bus_up ())
    return;
  g_assert_false (viewer_of (TRUE, ":1.99999", TRUE, &viewer, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ACCESS_DENIED);
  g_assert_nonnull (strstr (error->message, "Cannot tell who is calling"));
}

static gboolean
name_gone (gpointer name)
{
  return !pymemd_test_name_has_owner (bus.conn, name);
}

/* A caller's uid and groups are asked of the bus once per unique name and
 * kept, PYMEMD_AUTH_CALLERS_KEPT at most, the oldest dropped first; polkit
 * is asked every time. */
static void
test_viewer_callers_kept (void)
{
  g_autoptr(PymemdAuth) auth = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(PymemdViewer) viewer = { 0 };
  g_autofree char *first = NULL;
  g_autofree char *last = NULL;
  guint32 uid;
  Caller caller;

  if (!bus_up () || !caller_start (&caller))
    return;
  auth = pymemd_auth_new (TRUE);
  first = g_strdup (caller.name);
  uid = caller.uid;
  pymemd_test_service_set_polkit_allowed (&bus, (const char *const[]){ PYMEMD_ACTION_INSPECT_ALL, NULL });
  g_assert_true (auth_viewer (auth, first, TRUE, &viewer, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (viewer.uid, ==, uid);
  g_assert_true (viewer.sees_all);
  g_assert_nonnull (viewer.groups);
  g_assert_cmpuint (pymemd_auth_count_callers (auth), ==, 1);
  pymemd_viewer_clear (&viewer);

  /* Known now, it is still polkit that says whether it sees all. */
  pymemd_test_service_set_polkit_allowed (&bus, (const char *const[]){ NULL });
  g_assert_true (auth_viewer (auth, first, TRUE, &viewer, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (viewer.uid, ==, uid);
  g_assert_false (viewer.sees_all);
  g_assert_nonnull (viewer.groups);
  pymemd_viewer_clear (&viewer);

  /* Gone from the bus, which no longer knows it, the name is still known
   * here: the bus was not asked again. */
  caller_stop (&caller);
  g_assert_true (pymemd_test_wait_until (name_gone, first, 20));
  g_assert_false (viewer_of (TRUE, first, FALSE, &viewer, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ACCESS_DENIED);
  g_clear_error (&error);
  g_assert_true (auth_viewer (auth, first, FALSE, &viewer, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (viewer.uid, ==, uid);
  pymemd_viewer_clear (&viewer);

  /* As many again, each connected, asked about and gone: the first is
   * dropped, the newest kept. */
  for (guint i = 0; i < PYMEMD_AUTH_CALLERS_KEPT; i++)
    {
      g_autoptr(GDBusConnection) c = g_dbus_connection_new_for_address_sync (
        bus.address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
        NULL, NULL, &error);

      g_assert_no_error (error);
      g_assert_true (auth_viewer (auth, g_dbus_connection_get_unique_name (c), FALSE, &viewer, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (viewer.uid, ==, getuid ());
      pymemd_viewer_clear (&viewer);
      g_free (last);
      last = g_strdup (g_dbus_connection_get_unique_name (c));
      g_assert_true (g_dbus_connection_close_sync (c, NULL, NULL));
    }
  g_assert_cmpuint (pymemd_auth_count_callers (auth), ==, PYMEMD_AUTH_CALLERS_KEPT);
  g_assert_false (auth_viewer (auth, first, FALSE, &viewer, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ACCESS_DENIED);
  g_clear_error (&error);
  g_assert_true (pymemd_test_wait_until (name_gone, last, 20));
  g_assert_true (auth_viewer (auth, last, FALSE, &viewer, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (viewer.uid, ==, getuid ());
  g_assert_cmpuint (pymemd_auth_count_callers (auth), ==, PYMEMD_AUTH_CALLERS_KEPT);
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/auth/owner", test_owner);
  g_test_add_func ("/auth/owns-groups", test_owns_groups);
  g_test_add_func ("/auth/may-see", test_may_see);
  g_test_add_func ("/auth/hidepid", test_hidepid);
  g_test_add_func ("/auth/view-of-owner", test_view_of_owner);
  g_test_add_func ("/auth/may-attach", test_may_attach);
  g_test_add_func ("/auth/bus/credentials", test_viewer_credentials);
  g_test_add_func ("/auth/bus/polkit", test_viewer_polkit);
  g_test_add_func ("/auth/bus/polkit-once", test_viewer_polkit_once);
  g_test_add_func ("/auth/bus/private-bus", test_viewer_private_bus);
  g_test_add_func ("/auth/bus/attach", test_attach_rights);
  g_test_add_func ("/auth/bus/root", test_viewer_root);
  g_test_add_func ("/auth/bus/unknown", test_viewer_unknown);
  g_test_add_func ("/auth/bus/callers-kept", test_viewer_callers_kept);
  g_test_add_func ("/auth/visibility/parse", test_visibility_parse);
  g_test_add_func ("/auth/credentials", test_credentials);
  g_test_add_func ("/auth/status-name", test_status_name);
  /* Last: it leaves the program in a mount namespace of its own. */
  g_test_add_func ("/auth/visibility/mount", test_visibility_mount);
  status = g_test_run ();
  if (bus_started)
    pymemd_test_service_stop (&bus);
  return status;
}
