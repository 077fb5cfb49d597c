/* Tests event-driven discovery: the connector parser on made-up messages, loss, the subscription's refusal to nobody, and the real daemon finding an interpreter by its exec alone. */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>

#include "pymemd-config.h"
#include "pymemd-error.h"
#include "pymemd-monitor.h"
#include "pymemd-proc-events.h"
#include "testutil.h"

#define SUBSCRIBE_SEQ 0x70796d64 /* the module's: its acknowledgement is ours */

/* ---- made-up datagrams ---- */

typedef struct {
  guint8 data[4096];
  gsize  len;
} Datagram;

/* Appends one netlink message: cn_msg (IDX, VAL, SEQ, ACK) and EV_LEN
 * bytes of EV. */
static void
append_msg (Datagram *d, guint32 idx, guint32 seq, guint32 ack, const struct proc_event *ev,
            gsize ev_len)
{
  struct nlmsghdr header = { 0 };
  struct cn_msg msg = { 0 };

  header.nlmsg_len = NLMSG_HDRLEN + sizeof msg + ev_len;
  header.nlmsg_type = NLMSG_DONE;
  msg.id.idx = idx;
  msg.id.val = CN_VAL_PROC;
  msg.seq = seq;
  msg.ack = ack;
  msg.len = (guint16) ev_len;
  g_assert_cmpuint (d->len + NLMSG_ALIGN (header.nlmsg_len), <=, sizeof d->data);
  memcpy (d->data + d->len, &header, sizeof header);
  memcpy (d->data + d->len + NLMSG_HDRLEN, &msg, sizeof msg);
  memcpy (d->data + d->len + NLMSG_HDRLEN + sizeof msg, ev, ev_len);
  d->len += NLMSG_ALIGN (header.nlmsg_len);
}

static struct proc_event
make_event (guint32 what, guint32 cpu)
{
  struct proc_event ev;

  memset (&ev, 0, sizeof ev);
  ev.what = what;
  ev.cpu = cpu;
  return ev;
}

static void
append_exec (Datagram *d, guint32 cpu, guint32 seq, guint32 pid, guint32 tgid)
{
  struct proc_event ev = make_event (PROC_EVENT_EXEC, cpu);

  ev.event_data.exec.process_pid = (int) pid;
  ev.event_data.exec.process_tgid = (int) tgid;
  append_msg (d, CN_IDX_PROC, seq, 0, &ev, sizeof ev);
}

static void
append_fork (Datagram *d, guint32 seq, guint32 parent, guint32 child_pid, guint32 child_tgid)
{
  struct proc_event ev = make_event (PROC_EVENT_FORK, 0);

  ev.event_data.fork.parent_pid = (int) parent;
  ev.event_data.fork.parent_tgid = (int) parent;
  ev.event_data.fork.child_pid = (int) child_pid;
  ev.event_data.fork.child_tgid = (int) child_tgid;
  append_msg (d, CN_IDX_PROC, seq, 0, &ev, sizeof ev);
}

static void
append_exit (Datagram *d, guint32 seq, guint32 pid, guint32 tgid)
{
  struct proc_event ev = make_event (PROC_EVENT_EXIT, 0);

  ev.event_data.exit.process_pid = (int) pid;
  ev.event_data.exit.process_tgid = (int) tgid;
  append_msg (d, CN_IDX_PROC, seq, 0, &ev, sizeof ev);
}

static void
append_ack (Datagram *d, guint32 seq, guint32 ack, guint32 err)
{
  struct proc_event ev = make_event (PROC_EVENT_NONE, 0);

  ev.event_data.ack.err = err;
  append_msg (d, CN_IDX_PROC, seq, ack, &ev, sizeof ev);
}

static void
parse (const Datagram *d, PymemdProcEventBatch *batch)
{
  pymemd_proc_event_batch_init (batch);
  pymemd_proc_events_parse (d->data, d->len, SUBSCRIBE_SEQ, batch);
}

static const PymemdProcEvent *
event_at (PymemdProcEventBatch *batch, guint i)
{
  return &g_array_index (batch->events, PymemdProcEvent, i);
}

static void
assert_counts (const PymemdProcEventBatch *batch, guint events, guint ignored, guint malformed,
               gboolean lost)
{
  g_assert_cmpuint (batch->events->len, ==, events);
  g_assert_cmpuint (batch->ignored, ==, ignored);
  g_assert_cmpuint (batch->malformed, ==, malformed);
  g_assert_cmpint (batch->lost, ==, lost);
}

static void
test_parse_events (void)
{
  Datagram d = { { 0 }, 0 };
  PymemdProcEventBatch batch;

  append_fork (&d, 1, 100, 200, 200);
  append_fork (&d, 2, 100, 201, 100); /* a thread */
  append_exec (&d, 0, 3, 200, 200);
  append_exit (&d, 4, 300, 100);      /* a thread */
  append_exit (&d, 5, 200, 200);
  parse (&d, &batch);
  g_assert_cmpuint (batch.events->len, ==, 3);
  g_assert_cmpint (event_at (&batch, 0)->kind, ==, PYMEMD_PROC_EVENT_FORK);
  g_assert_cmpint (event_at (&batch, 0)->pid, ==, 200);
  g_assert_cmpint (event_at (&batch, 0)->parent, ==, 100);
  g_assert_cmpint (event_at (&batch, 1)->kind, ==, PYMEMD_PROC_EVENT_EXEC);
  g_assert_cmpint (event_at (&batch, 1)->pid, ==, 200);
  g_assert_cmpint (event_at (&batch, 2)->kind, ==, PYMEMD_PROC_EVENT_EXIT);
  g_assert_cmpint (event_at (&batch, 2)->pid, ==, 200);
  assert_counts (&batch, 3, 2, 0, FALSE);
  g_assert_false (batch.acked);
  pymemd_proc_event_batch_clear (&batch);
}

/* An exec of a thread other than the main one is reported by its tgid,
 * which the new image keeps. */
static void
test_parse_exec_thread (void)
{
  Datagram d = { { 0 }, 0 };
  PymemdProcEventBatch batch;

  append_exec (&d, 0, 0, 4321, 4300);
  parse (&d, &batch);
  g_assert_cmpuint (batch.events->len, ==, 1);
  g_assert_cmpint (event_at (&batch, 0)->pid, ==, 4300);
  pymemd_proc_event_batch_clear (&batch);
}

static void
append_change (Datagram *d, guint32 what, guint32 seq, guint32 pid, guint32 tgid, gsize len)
{
  struct proc_event ev = make_event (what, 0);

  /* id and comm begin alike: the thread's pid, then its tgid. */
  if (what == PROC_EVENT_COMM)
    {
      ev.event_data.comm.process_pid = (int) pid;
      ev.event_data.comm.process_tgid = (int) tgid;
    }
  else
    {
      ev.event_data.id.process_pid = (int) pid;
      ev.event_data.id.process_tgid = (int) tgid;
    }
  append_msg (d, CN_IDX_PROC, seq, 0, &ev, len);
}

/* A uid, gid or name change of a process's main thread is a change of
 * the process (its status, its ptrace checks); another thread's, of its
 * own credentials only. One too short for its pids is malformed. */
static void
test_parse_changes (void)
{
  Datagram d = { { 0 }, 0 };
  PymemdProcEventBatch batch;
  gsize header = offsetof (struct proc_event, event_data);
  guint32 kinds[] = { PROC_EVENT_UID, PROC_EVENT_GID, PROC_EVENT_COMM };

  for (guint i = 0; i < G_N_ELEMENTS (kinds); i++)
    {
      d.len = 0;
      append_change (&d, kinds[i], 0, 300, 300, sizeof (struct proc_event));
      append_change (&d, kinds[i], 1, 301, 300, sizeof (struct proc_event)); /* a thread */
      append_change (&d, kinds[i], 2, 302, 302, header + 4);
      parse (&d, &batch);
      assert_counts (&batch, 1, 1, 1, FALSE);
      g_assert_cmpint (event_at (&batch, 0)->kind, ==, PYMEMD_PROC_EVENT_CHANGE);
      g_assert_cmpint (event_at (&batch, 0)->pid, ==, 300);
      pymemd_proc_event_batch_clear (&batch);
    }
}

static void
test_parse_unknown (void)
{
  Datagram d = { { 0 }, 0 };
  PymemdProcEventBatch batch;
  struct proc_event sid = make_event (PROC_EVENT_SID, 0);
  struct proc_event future = make_event (0x00100000, 0);
  struct proc_event exec = make_event (PROC_EVENT_EXEC, 0);

  sid.event_data.sid.process_pid = sid.event_data.sid.process_tgid = 55;
  append_msg (&d, CN_IDX_PROC, 0, 0, &sid, sizeof sid);
  append_msg (&d, CN_IDX_PROC, 1, 0, &future, sizeof future);
  /* Another connector's message (not process events). */
  exec.event_data.exec.process_tgid = 77;
  append_msg (&d, CN_IDX_PROC + 1, 0, 0, &exec, sizeof exec);
  parse (&d, &batch);
  assert_counts (&batch, 0, 3, 0, FALSE);
  pymemd_proc_event_batch_clear (&batch);
}

/* Every length is checked against the bytes there: a datagram cut
 * anywhere yields no event from the cut message and reads nothing past
 * its end (the sanitizer and valgrind builds check the latter). */
static void
test_parse_truncated (void)
{
  Datagram whole = { { 0 }, 0 };
  gsize first_len;

  append_exec (&whole, 0, 0, 10, 10);
  first_len = whole.len;
  append_exec (&whole, 0, 1, 11, 11);
  for (gsize cut = 0; cut < whole.len; cut++)
    {
      PymemdProcEventBatch batch;
      g_autofree guint8 *copy = g_memdup2 (whole.data, cut);

      pymemd_proc_event_batch_init (&batch);
      pymemd_proc_events_parse (copy, cut, SUBSCRIBE_SEQ, &batch);
      g_assert_cmpuint (batch.events->len, ==, cut >= first_len ? 1 : 0);
      if (cut != 0 && cut != first_len)
        g_assert_cmpuint (batch.malformed, >=, 1);
      pymemd_proc_event_batch_clear (&batch);
    }
}

/* cn_msg's len says more than the netlink message holds, or too little
 * for the kind's fields; nlmsg_len says more than the datagram, or less
 * than a header. */
static void
test_parse_oversized (void)
{
  Datagram d = { { 0 }, 0 };
  PymemdProcEventBatch batch;
  struct proc_event exec = make_event (PROC_EVENT_EXEC, 0);
  struct cn_msg msg;
  struct nlmsghdr header;

  exec.event_data.exec.process_tgid = 42;
  append_msg (&d, CN_IDX_PROC, 0, 0, &exec, sizeof exec);
  memcpy (&msg, d.data + NLMSG_HDRLEN, sizeof msg);
  msg.len = 0xffff;
  memcpy (d.data + NLMSG_HDRLEN, &msg, sizeof msg);
  parse (&d, &batch);
  assert_counts (&batch, 0, 0, 1, FALSE);
  pymemd_proc_event_batch_clear (&batch);

  /* Too short for an exec's pids. */
  d.len = 0;
  append_msg (&d, CN_IDX_PROC, 0, 0, &exec, offsetof (struct proc_event, event_data) + 4);
  parse (&d, &batch);
  assert_counts (&batch, 0, 0, 1, FALSE);
  pymemd_proc_event_batch_clear (&batch);

  d.len = 0;
  append_exec (&d, 0, 0, 42, 42);
  memcpy (&header, d.data, sizeof header);
  header.nlmsg_len = (guint32) d.len + 64;
  memcpy (d.data, &header, sizeof header);
  parse (&d, &batch);
  assert_counts (&batch, 0, 0, 1, FALSE);
  pymemd_proc_event_batch_clear (&batch);

  header.nlmsg_len = 4;
  memcpy (d.data, &header, sizeof header);
  parse (&d, &batch);
  assert_counts (&batch, 0, 0, 1, FALSE);
  pymemd_proc_event_batch_clear (&batch);

  /* pid 0 and pids past G_MAXINT32 are no pids. */
  d.len = 0;
  append_exec (&d, 0, 0, 0, 0);
  append_exec (&d, 0, 1, 0x80000001u, 0x80000001u);
  parse (&d, &batch);
  assert_counts (&batch, 0, 0, 2, FALSE);
  pymemd_proc_event_batch_clear (&batch);
}

/* PROC_EVENT_NONE: ours is the acknowledgement (with its error), any
 * other a listener's, after which the kernel's stream may have changed;
 * NLMSG_OVERRUN says the kernel dropped some. */
static void
test_parse_none_overrun (void)
{
  Datagram d = { { 0 }, 0 };
  PymemdProcEventBatch batch;
  struct nlmsghdr overrun = { NLMSG_HDRLEN, NLMSG_OVERRUN, 0, 0, 0 };

  append_ack (&d, 20833, SUBSCRIBE_SEQ + 1, 0);
  parse (&d, &batch);
  g_assert_true (batch.acked);
  g_assert_cmpint (batch.ack_error, ==, 0);
  g_assert_false (batch.lost);
  pymemd_proc_event_batch_clear (&batch);

  d.len = 0;
  append_ack (&d, 0, SUBSCRIBE_SEQ + 1, EPERM);
  parse (&d, &batch);
  g_assert_true (batch.acked);
  g_assert_cmpint (batch.ack_error, ==, EPERM);
  pymemd_proc_event_batch_clear (&batch);

  d.len = 0;
  append_ack (&d, 5, 6, 0);
  parse (&d, &batch);
  g_assert_false (batch.acked);
  g_assert_true (batch.lost);
  pymemd_proc_event_batch_clear (&batch);

  d.len = 0;
  memcpy (d.data, &overrun, sizeof overrun);
  d.len = NLMSG_HDRLEN;
  append_exec (&d, 0, 0, 9, 9);
  parse (&d, &batch);
  g_assert_true (batch.lost);
  g_assert_cmpuint (batch.events->len, ==, 1);
  pymemd_proc_event_batch_clear (&batch);
}

/* ---- loss, as the listener reports it ---- */

typedef struct {
  guint    calls;
  guint    events;
  gboolean lost;
  int      watch;          /* a pid to look for */
  gboolean watch_exec;
  gboolean watch_exit;
} Heard;

static void
on_events (const PymemdProcEvent *events, guint n_events, gboolean lost, gpointer data)
{
  Heard *heard = data;

  heard->calls++;
  heard->events += n_events;
  heard->lost |= lost;
  for (guint i = 0; i < n_events; i++)
    if (events[i].pid == heard->watch)
      {
        heard->watch_exec |= events[i].kind == PYMEMD_PROC_EVENT_EXEC;
        heard->watch_exit |= events[i].kind == PYMEMD_PROC_EVENT_EXIT;
      }
}

static void
feed (PymemdProcEvents *events, const Datagram *d)
{
  pymemd_proc_events_feed (events, d->data, d->len);
}

static void
test_loss (void)
{
  Heard heard = { 0 };
  g_autoptr(PymemdProcEvents) events = pymemd_proc_events_new (on_events, &heard);
  Datagram d = { { 0 }, 0 };

  /* Per-cpu sequence numbers in order: nothing lost. */
  append_exec (&d, 0, 10, 1, 1);
  append_exec (&d, 1, 500, 2, 2);
  append_exec (&d, 0, 11, 3, 3);
  append_exec (&d, 1, 501, 4, 4);
  feed (events, &d);
  g_assert_cmpuint (heard.calls, ==, 1);
  g_assert_cmpuint (heard.events, ==, 4);
  g_assert_false (heard.lost);

  /* CPU 0 skips 12: the kernel could not deliver one. */
  d.len = 0;
  append_exec (&d, 0, 13, 5, 5);
  feed (events, &d);
  g_assert_true (heard.lost);
  g_assert_cmpuint (heard.events, ==, 5);
  g_assert_cmpuint (pymemd_proc_events_get_losses (events), ==, 1);

  /* ENOBUFS from recv: the socket's queue overflowed. */
  heard.lost = FALSE;
  pymemd_proc_events_feed_error (events, EAGAIN);
  g_assert_false (heard.lost);
  pymemd_proc_events_feed_error (events, ENOBUFS);
  g_assert_true (heard.lost);
  g_assert_cmpuint (pymemd_proc_events_get_losses (events), ==, 2);

  /* Another listener's acknowledgement. */
  heard.lost = FALSE;
  d.len = 0;
  append_ack (&d, 1, 2, 0);
  feed (events, &d);
  g_assert_true (heard.lost);

  /* Nothing of use: the receiver is not bothered. */
  heard.calls = 0;
  d.len = 0;
  append_exec (&d, 2, 0, 0, 0);
  feed (events, &d);
  g_assert_cmpuint (heard.calls, ==, 0);
  g_assert_cmpuint (pymemd_proc_events_get_count (events), ==, 5);
}

/* ---- what a loss leads to in the monitor ---- */

typedef struct {
  PymemdMonitor *monitor;
  guint64        scans;
} MonitorFixture;

static void
count_scan (PymemdMonitor *monitor, gboolean full, MonitorFixture *f)
{
  f->scans++;
}

static PymemdMonitorStatistics
monitor_statistics (MonitorFixture *f)
{
  PymemdMonitorStatistics statistics;

  pymemd_monitor_get_statistics (f->monitor, &statistics);
  return statistics;
}

/* After the loss just told (the kernel's losses counted in LOSSES before
 * it), the next tick lists /proc, and the two ticks after do not but for
 * losses the kernel itself caused meanwhile (other listeners on this host). */
static void
assert_one_listing (MonitorFixture *f, guint64 listings, guint64 losses)
{
  guint64 scans, after_listing;

  g_assert_cmpuint (monitor_statistics (f).event_losses, ==, losses + 1);
  PYMEMD_TEST_WAIT_FOR (monitor_statistics (f).listings > listings, 60);
  after_listing = monitor_statistics (f).listings;
  losses = monitor_statistics (f).event_losses;
  scans = f->scans;
  PYMEMD_TEST_WAIT_FOR (f->scans >= scans + 2, 60);
  g_assert_cmpuint (monitor_statistics (f).listings - after_listing, <=,
                    monitor_statistics (f).event_losses - losses);
}

/* ENOBUFS from the socket, and another listener's acknowledgement
 * (PROC_EVENT_NONE with an ack that is not ours), each lead to one listing
 * of /proc on the next tick, and no more. The monitor watches a uid that
 * has no process, so that its ticks cost little on any host. */
static void
test_monitor_loss (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PymemdConfig) defaults = pymemd_config_new ();
  g_autoptr(PymemdProcfs) procfs = NULL;
  PymemdMonitorSettings settings;
  MonitorFixture f = { NULL, 0 };
  PymemdMonitorStatistics statistics;
  Datagram d = { { 0 }, 0 };

  if (!pymemd_test_is_root ())
    {
      g_test_skip ("needs root (the process events connector)");
      return;
    }
  /* [monitor] events=true, ticks every 0.5 s, no detail pass to speak of. */
  pymemd_config_get_monitor (defaults, &settings);
  settings.events = TRUE;
  settings.interval = 0.5;
  settings.detail_interval = 3600;
  procfs = pymemd_procfs_new ("/proc", &error);
  g_assert_no_error (error);
  f.monitor = pymemd_monitor_new (procfs, &settings, 3999999, &error);
  g_assert_no_error (error);
  g_signal_connect (f.monitor, "scanned", G_CALLBACK (count_scan), &f);
  pymemd_monitor_start (f.monitor);
  if (pymemd_monitor_get_proc_events (f.monitor) == NULL)
    {
      g_test_skip ("the process events connector is not available here");
      g_clear_object (&f.monitor);
      return;
    }

  statistics = monitor_statistics (&f);
  pymemd_proc_events_feed_error (pymemd_monitor_get_proc_events (f.monitor), ENOBUFS);
  assert_one_listing (&f, statistics.listings, statistics.event_losses);

  statistics = monitor_statistics (&f);
  append_ack (&d, 0, 12345, 0);
  pymemd_proc_events_feed (pymemd_monitor_get_proc_events (f.monitor), d.data, d.len);
  assert_one_listing (&f, statistics.listings, statistics.event_losses);

  g_clear_object (&f.monitor);
}

/* ---- the real connector ---- */

static uid_t
nobody_uid (void)
{
  struct passwd *pw = getpwnam ("nobody");
  return pw != NULL ? pw->pw_uid : 65534;
}

/* Without CAP_NET_ADMIN the kernel refuses: the error says so, and the
 * daemon falls back to listing /proc (see test_fallback). Run in a
 * process of its own (g_test_trap_subprocess), not a fork: the earlier
 * cases' monitors ran passes on pool threads, which a fork does not take
 * along, and under valgrind what those threads held would count as leaked
 * in the forked child. */
static void
test_open_unprivileged (void)
{
  if (!pymemd_test_is_root ())
    {
      g_test_skip ("needs root to become nobody");
      return;
    }
  if (g_test_subprocess ())
    {
      Heard heard = { 0 };
      g_autoptr(PymemdProcEvents) events = NULL;
      g_autoptr(GError) error = NULL;
      uid_t nobody = nobody_uid ();

      g_assert_cmpint (setresgid (nobody, nobody, nobody), ==, 0);
      g_assert_cmpint (setresuid (nobody, nobody, nobody), ==, 0);
      events = pymemd_proc_events_new (on_events, &heard);
      g_assert_false (pymemd_proc_events_open (events, &error));
      g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ACCESS_DENIED);
      return;
    }
  g_test_trap_subprocess (NULL, 0, 0);
  g_test_trap_assert_passed ();
}

static void
test_open_real (void)
{
  Heard heard = { 0 };
  g_autoptr(PymemdProcEvents) events = pymemd_proc_events_new (on_events, &heard);
  g_autoptr(GError) error = NULL;
  const char *argv[] = { "/bin/sleep", "0.1", NULL };
  GPid pid;

  if (!pymemd_test_is_root ())
    {
      g_test_skip ("needs CAP_NET_ADMIN");
      return;
    }
  if (!pymemd_proc_events_open (events, &error))
    {
      /* A container outside the initial namespaces: no events to hear. */
      g_test_skip (error->message);
      return;
    }
  g_assert_true (g_spawn_async (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                &pid, &error));
  g_assert_no_error (error);
  heard.watch = pid;
  PYMEMD_TEST_WAIT_FOR (heard.watch_exec, 10);
  PYMEMD_TEST_WAIT_FOR (heard.watch_exit, 10);
  g_spawn_close_pid (pid);
  waitpid (pid, NULL, 0);
}

/* ---- the daemon ---- */

#define BUS_NAME "org.pymemd.Monitor1"
/* An interpreter that says it is ready and waits. */
#define READY_CODE "import sys; print('ready', flush=True); sys.stdin.read()"
#define MANAGER_PATH "/org/pymemd/Monitor1"
#define RENAME_CODE \
  "import ctypes, sys\n" \
  "print('ready', flush=True)\n" \
  "for line in sys.stdin:\n" \
  "    ctypes.CDLL(None).prctl(15, b'renamed', 0, 0, 0)\n" \
  "    print('done', flush=True)\n"

typedef struct {
  char *added;
  char *removed;
  int   pid;
} ObjectEvents;

static void
on_object_manager_signal (GDBusConnection *conn, const char *sender, const char *path,
                          const char *iface, const char *signal, GVariant *params, gpointer data)
{
  ObjectEvents *ev = data;
  const char *object;
  g_autofree char *suffix = g_strdup_printf ("/%d_", ev->pid);

  g_variant_get_child (params, 0, "&o", &object);
  if (strstr (object, suffix) == NULL)
    return;
  if (strcmp (signal, "InterfacesAdded") == 0 && ev->added == NULL)
    ev->added = g_strdup (object);
  else if (strcmp (signal, "InterfacesRemoved") == 0 && ev->removed == NULL)
    ev->removed = g_strdup (object);
}

static GVariant *
get_statistics (PymemdTestService *service)
{
  g_autoptr(GError) error = NULL;
  GVariant *reply = g_dbus_connection_call_sync (service->conn, BUS_NAME, MANAGER_PATH,
                                                 "org.pymemd.Monitor1", "GetStatistics", NULL,
                                                 G_VARIANT_TYPE ("(a{sv})"),
                                                 G_DBUS_CALL_FLAGS_NONE, 30000, NULL, &error);
  g_assert_no_error (error);
  return reply;
}

/* KEY of GetStatistics, of TYPE ("b" or "t"), into *VALUE. */
static void
statistics_lookup (PymemdTestService *service, const char *key, const char *type, gpointer value)
{
  g_autoptr(GVariant) reply = get_statistics (service);
  g_autoptr(GVariant) dict = g_variant_get_child_value (reply, 0);

  g_assert_true (g_variant_lookup (dict, key, type, value));
}

static gboolean
statistics_bool (PymemdTestService *service, const char *key)
{
  gboolean value = FALSE;

  statistics_lookup (service, key, "b", &value);
  return value;
}

static guint64
statistics_uint64 (PymemdTestService *service, const char *key)
{
  guint64 value = 0;

  statistics_lookup (service, key, "t", &value);
  return value;
}

/* The real daemon ticking every INTERVAL seconds, hearing process events
 * ([monitor] events=true, and MORE_CONFIG); FALSE (the test skipped) where
 * it does not start or the connector is not available. */
static gboolean
start_hearing (PymemdTestService *service, const char *interval, const char *more_config)
{
  g_autofree char *config = g_strconcat ("[monitor]\nevents=true\n", more_config, NULL);

  if (!pymemd_test_service_start_with_config (service, interval, config))
    return FALSE;
  if (!statistics_bool (service, "process_events"))
    {
      g_test_skip ("the process events connector is not available here (see pymemd.log)");
      pymemd_test_service_stop (service);
      return FALSE;
    }
  return TRUE;
}

static guint
subscribe (PymemdTestService *service, ObjectEvents *ev)
{
  guint sub = g_dbus_connection_signal_subscribe (service->conn, NULL,
                                                  "org.freedesktop.DBus.ObjectManager", NULL,
                                                  MANAGER_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                  on_object_manager_signal, ev, NULL);
  /* The match rule is in place once a call has made the round trip. */
  g_variant_unref (get_statistics (service));
  return sub;
}

static guint
count_occurrences (const char *path, const char *needle)
{
  g_autofree char *text = NULL;
  guint n = 0;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  for (const char *p = strstr (text, needle); p != NULL; p = strstr (p + 1, needle))
    n++;
  return n;
}

/* With a tick of 600 s, only the exec event can make the daemon find a
 * new interpreter within the wait, and only the exit event remove it: the
 * waits (30 s, for a host under heavy load) end before the first tick. */
static void
test_daemon_events (void)
{
  PymemdTestService service;
  PymemdTestChild child;
  ObjectEvents ev = { NULL, NULL, 0 };
  g_autoptr(GError) error = NULL;
  g_autofree char *log = NULL;
  g_autofree char *prefix = pymemd_test_pyenv_prefix ("3.12");
  guint64 listings;
  guint sub;

  if (!start_hearing (&service, "600", ""))
    return;
  log = g_build_filename (service.tmp, "pymemd.log", NULL);
  g_assert_cmpuint (count_occurrences (log, "hears the kernel's process events"), ==, 1);
  listings = statistics_uint64 (&service, "listings");
  sub = subscribe (&service, &ev);

  g_assert_true (pymemd_test_child_spawn_python (&child, READY_CODE,
                                                 NULL, &error));
  g_assert_no_error (error);
  ev.pid = child.pid;
  PYMEMD_TEST_WAIT_FOR (ev.added != NULL, 30);
  g_assert_cmpuint (statistics_uint64 (&service, "events"), >, 0);

  pymemd_test_child_stop (&child);
  PYMEMD_TEST_WAIT_FOR (ev.removed != NULL, 30);
  g_assert_cmpstr (ev.added, ==, ev.removed);

  /* pyenv's builds run libpython.so, which the dynamic loader maps after
   * the exec: the looks that follow the exec find it. */
  if (prefix != NULL)
    {
      g_autofree char *python = g_build_filename (prefix, "bin", "python3", NULL);

      g_clear_pointer (&ev.added, g_free);
      g_clear_pointer (&ev.removed, g_free);
      g_assert_true (pymemd_test_child_spawn_python_via (&child, NULL, python, READY_CODE, NULL,
                                                         &error));
      g_assert_no_error (error);
      ev.pid = child.pid;
      PYMEMD_TEST_WAIT_FOR (ev.added != NULL, 30);
      pymemd_test_child_stop (&child);
      PYMEMD_TEST_WAIT_FOR (ev.removed != NULL, 30);
    }
  else
    g_test_message ("no pyenv 3.12: the look after the exec goes untested");
  /* No listing of /proc did it. */
  g_assert_cmpuint (statistics_uint64 (&service, "listings"), ==, listings);
  g_test_message ("%" G_GUINT64_FORMAT " events, %" G_GUINT64_FORMAT " losses",
                  statistics_uint64 (&service, "events"), statistics_uint64 (&service, "event_losses"));

  g_dbus_connection_signal_unsubscribe (service.conn, sub);
  g_free (ev.added);
  g_free (ev.removed);
  pymemd_test_service_stop (&service);
}

/* OBJECT's Process1 property NAME, or NULL (and ERROR) where it has none. */
static GVariant *
process_property (PymemdTestService *service, const char *object, const char *name, GError **error)
{
  g_autoptr(GVariant) reply = NULL;
  GVariant *value = NULL;

  reply = g_dbus_connection_call_sync (service->conn, BUS_NAME, object,
                                       "org.freedesktop.DBus.Properties", "Get",
                                       g_variant_new ("(ss)", "org.pymemd.Process1", name),
                                       G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NONE, 10000, NULL,
                                       error);
  if (reply != NULL)
    g_variant_get (reply, "(v)", &value);
  return value;
}

static char *
process_name (PymemdTestService *service, const char *object)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = process_property (service, object, "Name", &error);

  g_assert_no_error (error);
  return g_variant_dup_string (value, NULL);
}

/* The exit event of a process's main thread, while another thread runs,
 * is no end of the process: with ticks an hour apart, its object stays
 * (read through the live thread), with its memory. An interpreter started
 * after it is announced after the look at that exit, in the events'
 * order. */
static void
test_daemon_leader_exited (void)
{
  PymemdTestService service;
  PymemdTestChild child, later;
  ObjectEvents ev = { NULL, NULL, 0 }, later_ev = { NULL, NULL, 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) rss = NULL;
  guint sub, later_sub;

  if (!start_hearing (&service, "3600", ""))
    return;
  sub = subscribe (&service, &ev);
  later_sub = subscribe (&service, &later_ev);
  g_assert_true (pymemd_test_child_spawn_python (&child, PYMEMD_TEST_LEADER_EXITS, NULL, &error));
  g_assert_no_error (error);
  ev.pid = child.pid;
  PYMEMD_TEST_WAIT_FOR (ev.added != NULL, 30);

  pymemd_test_child_send (&child, "exit");
  pymemd_test_wait_for_state (child.pid, 'Z');
  g_assert_true (pymemd_test_child_spawn_python (&later, READY_CODE, NULL, &error));
  g_assert_no_error (error);
  later_ev.pid = later.pid;
  PYMEMD_TEST_WAIT_FOR (later_ev.added != NULL, 30);

  g_assert_null (ev.removed);
  rss = process_property (&service, ev.added, "Rss", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_variant_get_uint64 (rss), >, 1024 * 1024);

  pymemd_test_child_stop (&later);
  g_dbus_connection_signal_unsubscribe (service.conn, later_sub);
  g_free (later_ev.added);
  g_free (later_ev.removed);
  pymemd_test_child_stop (&child);
  g_dbus_connection_signal_unsubscribe (service.conn, sub);
  g_free (ev.added);
  g_free (ev.removed);
  pymemd_test_service_stop (&service);
}

/* A name set with prctl moves no owner the kernel gives /proc/PID: with
 * the refresh an hour away, only the connector's comm event can have the
 * daemon read the process's status again, on its next tick. */
static void
test_daemon_changes (void)
{
  PymemdTestService service;
  PymemdTestChild child;
  ObjectEvents ev = { NULL, NULL, 0 };
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;
  guint sub;

  if (!start_hearing (&service, "0.5", "[budget]\nrollup-refresh-seconds=3600\n"))
    return;
  sub = subscribe (&service, &ev);
  g_assert_true (pymemd_test_child_spawn_python (&child, RENAME_CODE, NULL, &error));
  g_assert_no_error (error);
  ev.pid = child.pid;
  PYMEMD_TEST_WAIT_FOR (ev.added != NULL, 30);
  name = process_name (&service, ev.added);
  g_assert_cmpstr (name, !=, "renamed");

  pymemd_test_child_send (&child, "rename");
  g_free (pymemd_test_child_read_line (&child, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < 300 && g_strcmp0 (name, "renamed") != 0; i++)
    {
      g_usleep (100 * 1000);
      g_free (name);
      name = process_name (&service, ev.added);
    }
  g_assert_cmpstr (name, ==, "renamed");

  pymemd_test_child_stop (&child);
  g_dbus_connection_signal_unsubscribe (service.conn, sub);
  g_free (ev.added);
  g_free (ev.removed);
  pymemd_test_service_stop (&service);
}

static guint64
losses_and_overflows (PymemdTestService *service)
{
  return statistics_uint64 (service, "event_losses") + statistics_uint64 (service, "event_overflows");
}

/* A program that links libpython (a shared pyenv build) is an interpreter
 * only once its dynamic loader has mapped libpython. Held at its exec for
 * half a second, past the daemon's first looks, it is found once let go,
 * by the looks that follow its exec and not by a listing of /proc. (Before,
 * one look 20 ms after the exec was all it got: under load, 4-43 of 200
 * such interpreters were never announced.) */
enum { SHARED_BUILD, THROUGH_LOADER, SHARED_BUILD_AND_LOSS };

static void
on_nothing (const PymemdProcEvent *events, guint n_events, gboolean lost, gpointer data)
{
}

static void
test_daemon_loader (gconstpointer data)
{
  gboolean through_loader = GPOINTER_TO_INT (data) == THROUGH_LOADER;
  gboolean loss = GPOINTER_TO_INT (data) == SHARED_BUILD_AND_LOSS;
  PymemdTestService service;
  ObjectEvents ev = { NULL, NULL, 0 };
  g_autoptr(GError) error = NULL;
  g_autofree char *prefix = pymemd_test_pyenv_prefix ("3.12");
  g_autofree char *python = NULL, *libpython = NULL;
  const char *loader = "/lib64/ld-linux-x86-64.so.2";
  guint64 listings, losses;
  gint64 held_until;
  guint sub;
  GPid pid;

  if (through_loader)
    {
      /* The loader run as a program: it maps the python it is given
       * (which holds the interpreter) only after the exec. */
      python = g_strdup (pymemd_test_python ());
      if (python == NULL || !g_file_test (loader, G_FILE_TEST_IS_EXECUTABLE))
        {
          g_test_skip_printf ("needs python3 and %s", loader);
          return;
        }
      /* What the maps will name: the file itself, past any symlink. */
      libpython = realpath (python, NULL);
      g_assert_nonnull (libpython);
    }
  else
    {
      if (prefix != NULL)
        libpython = g_build_filename (prefix, "lib", "libpython3.12.so.1.0", NULL);
      if (libpython == NULL || !g_file_test (libpython, G_FILE_TEST_EXISTS))
        {
          g_test_skip ("needs a shared pyenv 3.12 (its python links libpython)");
          return;
        }
      python = g_build_filename (prefix, "bin", "python3.12", NULL);
    }
  if (!start_hearing (&service, "600", ""))
    return;
  losses = losses_and_overflows (&service);
  listings = statistics_uint64 (&service, "listings");
  sub = subscribe (&service, &ev);
  {
    const char *direct[] = { python, "-c", "import time; time.sleep(600)", NULL };
    const char *loaded[] = { loader, python, "-c", "import time; time.sleep(600)", NULL };
    pid = pymemd_test_spawn_stopped_at_exec (through_loader ? loaded : direct, NULL, &error);
  }
  g_assert_no_error (error);
  ev.pid = pid;

  held_until = g_get_monotonic_time () + G_USEC_PER_SEC / 2;
  while (g_get_monotonic_time () < held_until)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
  /* Nothing could find it: libpython (or python) is not mapped yet. */
  g_assert_false (pymemd_test_maps_contain (pid, libpython));
  g_assert_null (ev.added);
  if (loss)
    {
      /* Another listener's subscription is a loss to the daemon: its
       * looks at the process still go on (before, they were dropped for
       * a listing on the next tick, ten minutes away here). */
      ObjectEvents none = { NULL, NULL, 0 };
      g_autoptr(PymemdProcEvents) other = pymemd_proc_events_new (on_nothing, &none);
      gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

      g_assert_true (pymemd_proc_events_open (other, &error));
      g_assert_no_error (error);
      while (losses_and_overflows (&service) == losses && g_get_monotonic_time () < deadline)
        g_usleep (20000);
      if (losses_and_overflows (&service) == losses)
        {
          g_test_skip ("another listener's subscription was no loss to the daemon on this kernel");
          pymemd_test_kill_stopped (pid);
          g_dbus_connection_signal_unsubscribe (service.conn, sub);
          pymemd_test_service_stop (&service);
          return;
        }
    }

  pymemd_test_release_stopped (pid);
  PYMEMD_TEST_WAIT_FOR (ev.added != NULL, 30);
  pymemd_test_kill_stopped (pid);
  PYMEMD_TEST_WAIT_FOR (ev.removed != NULL, 30);
  g_assert_cmpstr (ev.added, ==, ev.removed);
  /* No listing but those a loss of events caused (another daemon's
   * subscription, on a host running tests in parallel). */
  g_assert_cmpuint (statistics_uint64 (&service, "listings") - listings, <=,
                    losses_and_overflows (&service) - losses);

  g_dbus_connection_signal_unsubscribe (service.conn, sub);
  g_free (ev.added);
  g_free (ev.removed);
  pymemd_test_service_stop (&service);
}

/* While events work a tick does not list /proc. (What a loss leads to is
 * tested on the module, /proc-events/loss: whether another listener's
 * subscription reaches this one depends on the kernel, and on this one it
 * did only while other listeners came and went.) */
static void
test_daemon_no_listing (void)
{
  PymemdTestService service;
  guint64 listings, listings_after, losses, scans;

  if (!start_hearing (&service, "0.5", ""))
    return;
  losses = statistics_uint64 (&service, "event_losses") + statistics_uint64 (&service, "event_overflows");
  listings = statistics_uint64 (&service, "listings");
  scans = statistics_uint64 (&service, "scans");
  PYMEMD_TEST_WAIT_FOR (statistics_uint64 (&service, "scans") >= scans + 3, 30);
  /* Three ticks, and no listing among them but for the 60 s safety net
   * and one per loss (other daemons starting on this host, other tests'
   * among them, cause some): not one per tick. Listings are read first:
   * a loss is counted before the listing it causes. */
  listings_after = statistics_uint64 (&service, "listings");
  g_assert_cmpuint (listings_after - listings, <=,
                    1 + statistics_uint64 (&service, "event_losses") +
                    statistics_uint64 (&service, "event_overflows") - losses);
  pymemd_test_service_stop (&service);
}

/* Events turned off: /proc is listed on every tick, which finds the
 * interpreter; the reason is logged once, not on every tick. */
static void
test_daemon_fallback (void)
{
  PymemdTestService service;
  PymemdTestChild child;
  ObjectEvents ev = { NULL, NULL, 0 };
  g_autoptr(GError) error = NULL;
  g_autofree char *log = NULL;
  guint64 listings;
  guint sub;

  if (!pymemd_test_service_start_with_config (&service, "1", "[monitor]\nevents=false\n"))
    return;
  log = g_build_filename (service.tmp, "pymemd.log", NULL);
  g_assert_false (statistics_bool (&service, "process_events"));
  sub = subscribe (&service, &ev);
  g_assert_true (pymemd_test_child_spawn_python (&child, READY_CODE,
                                                 NULL, &error));
  g_assert_no_error (error);
  ev.pid = child.pid;
  PYMEMD_TEST_WAIT_FOR (ev.added != NULL, 30);
  /* Two more ticks, each a listing. */
  listings = statistics_uint64 (&service, "listings");
  PYMEMD_TEST_WAIT_FOR (statistics_uint64 (&service, "listings") >= listings + 2, 30);
  g_assert_cmpuint (statistics_uint64 (&service, "events"), ==, 0);
  g_assert_cmpuint (count_occurrences (log, "process events are not used"), ==, 1);
  g_assert_cmpuint (count_occurrences (log, "[monitor] events=false"), ==, 1);

  pymemd_test_child_stop (&child);
  PYMEMD_TEST_WAIT_FOR (ev.removed != NULL, 30);
  g_dbus_connection_signal_unsubscribe (service.conn, sub);
  g_free (ev.added);
  g_free (ev.removed);
  pymemd_test_service_stop (&service);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/proc-events/parse/events", test_parse_events);
  g_test_add_func ("/proc-events/parse/exec-thread", test_parse_exec_thread);
  g_test_add_func ("/proc-events/parse/changes", test_parse_changes);
  g_test_add_func ("/proc-events/parse/unknown", test_parse_unknown);
  g_test_add_func ("/proc-events/parse/truncated", test_parse_truncated);
  g_test_add_func ("/proc-events/parse/oversized", test_parse_oversized);
  g_test_add_func ("/proc-events/parse/none-overrun", test_parse_none_overrun);
  g_test_add_func ("/proc-events/loss", test_loss);
  g_test_add_func ("/proc-events/monitor-loss", test_monitor_loss);
  g_test_add_func ("/proc-events/open/unprivileged", test_open_unprivileged);
  g_test_add_func ("/proc-events/open/real", test_open_real);
  g_test_add_func ("/proc-events/daemon/events", test_daemon_events);
  g_test_add_data_func ("/proc-events/daemon/loader", GINT_TO_POINTER (SHARED_BUILD), test_daemon_loader);
  g_test_add_data_func ("/proc-events/daemon/through-loader", GINT_TO_POINTER (THROUGH_LOADER), test_daemon_loader);
  g_test_add_data_func ("/proc-events/daemon/loader-after-loss", GINT_TO_POINTER (SHARED_BUILD_AND_LOSS),
                        test_daemon_loader);
  g_test_add_func ("/proc-events/daemon/no-listing", test_daemon_no_listing);
  g_test_add_func ("/proc-events/daemon/changes", test_daemon_changes);
  g_test_add_func ("/proc-events/daemon/leader-exited", test_daemon_leader_exited);
  g_test_add_func ("/proc-events/daemon/fallback", test_daemon_fallback);
  return g_test_run ();
}
