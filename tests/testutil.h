/* Shared by the test programs: fixture paths, real Python children with a ready handshake, temporary trees. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* tests/data/NAME in the source tree. */
char    *pymemd_test_data_path (const char *name);

/* The python3 the tests run (PYTHON3 from configure, else /usr/bin/python3),
 * or NULL when there is none: callers g_test_skip (). */
const char *pymemd_test_python (void);
/* A real CPython 3.14 (Debian 12 has none): the command PYMEMD_TEST_PYTHON314
 * names where it is set, else tools/python3.14 of the source tree, which runs the interpreter from its cache folder; NULL when that
 * holds none yet, WHY (if not NULL) then saying so for g_test_skip (). The
 * tests never fetch it: tools/run-tests.sh does. */
const char *pymemd_test_python314 (const char **why);

gboolean pymemd_test_is_root (void);

/* Python code for an interpreter that drops to UID (and as many gids)
 * first, then prints "ready" and waits for its stdin to close: a user of
 * the test's own, which nothing else on the host runs as. */
#define PYMEMD_TEST_AS_UID(uid) \
  "import os, sys\n" \
  "os.setresgid(" #uid ", " #uid ", " #uid "); os.setresuid(" #uid ", " #uid ", " #uid ")\n" \
  "print('ready', flush=True)\n" \
  "sys.stdin.read()\n"

/* TRUE for root and where a python3 runs: what a test whose children run
 * as users of their own needs; otherwise the test is marked skipped. */
gboolean pymemd_test_need_root_and_python (void);

/* The captured fixtures' exe links point at Debian 12's interpreter; FALSE
 * (and the test marked skipped) where it is not installed. */
gboolean pymemd_test_need_fixture_python (void);

typedef struct {
  GPid pid;
  int  stdin_fd;   /* writing a line (or closing) tells the child to go on/exit */
  int  stdout_fd;
  int  stderr_fd;  /* -1 unless spawned by pymemd_test_child_spawn_env () */
} PymemdTestChild;

/* Runs ARGV (argv[0] searched in PATH unless absolute) and waits, up to
 * 30 s, for it to print one line on stdout (its "ready"), which is
 * returned in READY_LINE if not NULL. */
gboolean pymemd_test_child_spawn (PymemdTestChild *child,
                                  const char *const *argv,
                                  char           **ready_line,
                                  GError         **error);
/* python3 -c CODE; CODE must print a line when it is ready. */
gboolean pymemd_test_child_spawn_python (PymemdTestChild *child,
                                         const char      *code,
                                         char           **ready_line,
                                         GError         **error);
/* PYTHON (NULL: the tests' python3) -c CODE [ARG], run through PREFIX (a
 * NULL-terminated command line such as setpriv's, or NULL). */
gboolean pymemd_test_child_spawn_python_via (PymemdTestChild   *child,
                                             const char *const *prefix,
                                             const char        *python,
                                             const char        *code,
                                             const char        *arg,
                                             GError           **error);
/* As pymemd_test_child_spawn (), in environment ENVP (NULL: ours), with
 * stderr kept in a pipe that pymemd_test_child_finish () reads. */
gboolean pymemd_test_child_spawn_env (PymemdTestChild    *child,
                                      const char *const  *argv,
                                      const char *const  *envp,
                                      char              **ready_line,
                                      GError            **error);
/* Sends LINE (if not NULL), closes stdin and waits (30 s at most) for the
 * child to exit by itself: its wait status, and in STDERR_TEXT what it
 * wrote on stderr when spawned with pymemd_test_child_spawn_env (). */
int      pymemd_test_child_finish (PymemdTestChild *child,
                                   const char      *line,
                                   char           **stderr_text);
/* Runs ARGV (argv[0] a path) in environment ENVP (NULL: ours), traced by
 * us, and returns its pid once the kernel has stopped it right after its
 * execve: the new image is in place, but its dynamic loader has not run
 * (nothing it loads is mapped yet). -1 with ERROR on failure. */
GPid     pymemd_test_spawn_stopped_at_exec (const char *const *argv,
                                            const char *const *envp,
                                            GError           **error);
/* Lets a child of pymemd_test_spawn_stopped_at_exec () run on, untraced. */
void     pymemd_test_release_stopped (GPid pid);
/* Kills and reaps it. */
void     pymemd_test_kill_stopped (GPid pid);
/* Whether the maps of PID name a file whose name contains NEEDLE. */
gboolean pymemd_test_maps_contain (GPid pid, const char *needle);

/* The start time of process PID (/proc/PID/stat field 22), which must be
 * readable. */
guint64  pymemd_test_start_time (GPid pid);

/* Iterates the thread-default main context until COND holds, failing the
 * test after SECONDS. */
#define PYMEMD_TEST_WAIT_FOR(cond, seconds)                                      \
  G_STMT_START {                                                                 \
    gint64 wait_end_ = g_get_monotonic_time () + (seconds) * G_USEC_PER_SEC;     \
    while (!(cond))                                                              \
      {                                                                          \
        if (g_get_monotonic_time () > wait_end_)                                 \
          g_error ("%s:%d: timed out waiting for %s", __FILE__, __LINE__, #cond); \
        if (!g_main_context_iteration (NULL, FALSE))                             \
          g_usleep (500);                                                        \
      }                                                                          \
  } G_STMT_END

/* Whether the peer of socket FD has closed it: EOF, after reading (and
 * dropping) what it had sent, or an error. Never waits. */
gboolean pymemd_test_socket_closed (int fd);

/* Lets the thread-default main context run for SECONDS. */
void     pymemd_test_iterate_for (double seconds);

/* Reads the next line the child prints (30 s at most). */
char    *pymemd_test_child_read_line (PymemdTestChild *child,
                                      GError         **error);
/* Sends a line to the child's stdin. */
void     pymemd_test_child_send (PymemdTestChild *child,
                                 const char      *line);
/* How many threads process PID has (its /proc/PID/task entries). */
guint    pymemd_test_count_threads (GPid pid);
/* SIGKILLs the child if alive and reaps it. */
void     pymemd_test_child_stop (PymemdTestChild *child);
/* Waits (3 s at most) until /proc/PID/stat shows STATE ('Z': a zombie, or
 * a main thread that exited while others run). */
void     pymemd_test_wait_for_state (GPid pid,
                                     char state);

/* Python code whose main thread exits (pthread_exit) on a line of input,
 * while another thread runs on. */
#define PYMEMD_TEST_LEADER_EXITS \
  "import ctypes, sys, threading, time\n" \
  "threading.Thread(target=lambda: time.sleep(1e6)).start()\n" \
  "print('ready', flush=True)\n" \
  "sys.stdin.readline()\n" \
  "ctypes.CDLL(None).pthread_exit(None)\n"

/* Moves the calling thread, and what it spawns from then on, into a mount
 * namespace of its own from which nothing propagates back; FALSE (and the
 * test marked skipped) where that is not allowed. */
gboolean pymemd_test_unshare_mounts (void);
/* Mounts a procfs at DIR with OPTIONS (proc(5)), or with REMOUNT gives the
 * one there those options. */
void     pymemd_test_mount_proc (const char *dir,
                                 const char *options,
                                 gboolean    remount);

/* A fresh temporary directory, removed with its contents by
 * pymemd_test_rm_rf (). */
char    *pymemd_test_mkdtemp (void);
void     pymemd_test_rm_rf (const char *path);
/* A writable copy of tests/data/NAME as DIR/proc in a new temporary DIR,
 * with each PID/exe link made from PID/exe-target (PID/root from
 * PID/root-target);
 * pymemd_test_remove_fixture () removes DIR. */
char    *pymemd_test_copy_fixture (const char *name);
void     pymemd_test_remove_fixture (char *root);
/* Copies the directory tree SRC to DEST (symlinks copied as symlinks). */
void     pymemd_test_copy_tree (const char *src,
                                const char *dest);

/* What a finished command said: its wait status and output. */
typedef struct {
  int   status;
  char *out;
  char *err;
} PymemdTestRun;

void     pymemd_test_run_clear (PymemdTestRun *run);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (PymemdTestRun, pymemd_test_run_clear)

/* Whether the tests run under valgrind (PYMEMD_VALGRIND=1). */
/* Stops the child *PID as a session would: SIGTERM, SIGKILL after SECONDS;
 * reaps it and sets *PID to 0. Its wait status, -1 when it had to be
 * killed, 0 when there was none (*PID <= 0). */
int pymemd_test_terminate (GPid *pid, double seconds);

gboolean pymemd_test_under_valgrind (void);
/* The words to put before a program under test: valgrind and its options
 * under valgrind (a memory error or a definite leak then makes the program
 * exit with status 9), nothing otherwise. NULL-terminated. */
const char *const *pymemd_test_valgrind_argv (void);
/* Whether the daemons started from now on run under valgrind too, when
 * the tests do (FALSE at first). That costs minutes, so only the tests
 * whose daemons serve what no other does ask for it (tests/Makefile.am.inc
 * lists them); in the ASan build LeakSanitizer checks every daemon's exit. */
void     pymemd_test_valgrind_daemons (gboolean on);
/* pymemd_test_valgrind_argv () for a daemon started now: nothing unless
 * pymemd_test_valgrind_daemons () said so. */
const char *const *pymemd_test_daemon_valgrind_argv (void);
/* Seconds a daemon may take to exit after SIGTERM: valgrind's leak check
 * at its exit takes a while when it runs under valgrind. */
double   pymemd_test_daemon_stop_seconds (gboolean under_valgrind);

/* setpriv(1), or NULL when it is not installed. */
const char *pymemd_test_setpriv (void);
/* Our environment in the C.UTF-8 locale, without LANGUAGE, with fatal
 * criticals: how the pymemctl tests run it. */
char      **pymemd_test_cli_environ (void);
/* The command line [setpriv as nobody] [valgrind] PYMEMCTL_BIN ARGS,
 * NULL-terminated. */
GPtrArray  *pymemd_test_pymemctl_argv (gboolean           as_nobody,
                                       const char *const *args);
/* Runs PYMEMCTL_BIN with ARGS (NULL-terminated) in ENVP — as nobody with
 * AS_NOBODY, under valgrind with PYMEMD_VALGRIND=1 — to its end; its exit
 * code (-1 when it did not exit normally). */
int         pymemd_test_run_pymemctl (PymemdTestRun     *run,
                                      gboolean           as_nobody,
                                      char             **envp,
                                      const char *const *args);
/* pymemctl --address ADDRESS ARGS (NULL-terminated) in
 * pymemd_test_cli_environ (), as pymemd_test_run_pymemctl () runs it. */
int         pymemd_test_run_pymemctl_at (PymemdTestRun     *run,
                                         gboolean           as_nobody,
                                         const char        *address,
                                         const char *const *args);
#define PYMEMD_TEST_CLI(run, address, ...) \
  pymemd_test_run_pymemctl_at ((run), FALSE, (address), (const char *const[]){ __VA_ARGS__, NULL })
#define PYMEMD_TEST_CLI_AS_NOBODY(run, address, ...) \
  pymemd_test_run_pymemctl_at ((run), TRUE, (address), (const char *const[]){ __VA_ARGS__, NULL })
/* TEXT as JSON, which it must be. */
JsonNode   *pymemd_test_parse_json (const char *text);

/* Writes to PATH a dbus-daemon configuration like Debian's system bus
 * (listening on TMP/bus) with pymemd's real policy from the source tree and
 * EXTRA_POLICY (XML <policy> elements, or NULL). */
void     pymemd_test_write_bus_config (const char *tmp,
                                       const char *path,
                                       const char *extra_policy);

/* Writes to PATH a dbus-daemon configuration for a session bus listening on
 * LISTEN (a D-Bus address such as unix:dir=TMP) that lets every user in and
 * everyone own any name and eavesdrop: a test's person or daemon running as
 * another user, and the test itself as root. */
void     pymemd_test_write_session_bus_config (const char *listen,
                                               const char *path);

/* A private bus configured like the system bus with pymemd's real policy
 * (data/org.pymemd.Monitor1.conf), and the real daemon (PYMEMD_BIN) on it;
 * logs in TMP. */
typedef struct {
  char            *tmp;
  char            *address;
  char            *runtime_dir; /* TMP/run: the helper socket is runtime_dir/helper.sock */
  char            *config_path; /* TMP/pymemd.conf when started with a configuration, else NULL */
  char            *proc_dir;    /* --proc for the daemon, when set before it starts; else /proc */
  GDBusConnection *conn;
  GPid             bus_pid;
  GPid             daemon_pid;
  GPid             polkit_pid;  /* the polkit mock, when started by pymemd_test_service_start_system_bus () */
  int              bus_stdout;
} PymemdTestService;

#define PYMEMD_TEST_POLKIT_NAME "org.freedesktop.PolicyKit1"

/* ---- the integration harness: what it needs, root-only cases, logs ----
 *
 * One harness for every test of the service: a private bus configured like
 * the system bus (pymemd's real policy), python3-dbusmock's polkitd
 * template as polkit, the real daemon (with --proc fixtures where a test
 * needs no real processes), run by any user. */

/* Why the service cannot be tested here (no PYMEMD_BIN, dbus-daemon,
 * python3 or python3-dbusmock), or NULL. */
const char *pymemd_test_service_missing (void);
/* A python3 that has dbusmock (the tests' one, else Debian's), or NULL. */
const char *pymemd_test_dbusmock_python (void);
/* For a program whose every case needs the service: when
 * pymemd_test_service_missing () names something, prints a TAP plan that
 * skips the program with that reason and exits 77 (tests/tap-test makes
 * that a skip for automake's TAP driver). */
void        pymemd_test_service_require (void);
/* TRUE as root; otherwise marks the test skipped as root-only, saying WHY
 * it needs root. */
gboolean    pymemd_test_need_root (const char *why);
/* Prints the file PATH (a log of the bus, polkit or a daemon) on stderr
 * when the program aborts (a failed assertion), up to 8 of them;
 * pymemd_test_forget_logs () forgets them all. */
void        pymemd_test_log_on_abort (const char *path);
void        pymemd_test_forget_logs (void);
/* Spawns ARGV in ENVP (NULL: ours), stdin /dev/null, stdout and stderr
 * appended to LOG (stdout to *STDOUT_PIPE instead when not NULL), killed
 * when the test dies; LOG is printed if the test aborts. Reaped by the
 * caller. */
GPid        pymemd_test_spawn_logged (const char *const *argv,
                                      const char *const *envp,
                                      const char        *log,
                                      int               *stdout_pipe);
/* Whether NAME has an owner on CONN's bus (FALSE where the bus does not
 * answer). */
gboolean    pymemd_test_name_has_owner (GDBusConnection *conn,
                                        const char      *name);
typedef gboolean (*PymemdTestCondition) (gpointer data);
/* Runs the thread-default main context until COND (DATA) holds or SECONDS
 * pass: whether it holds. */
gboolean    pymemd_test_wait_until (PymemdTestCondition cond,
                                    gpointer            data,
                                    double              seconds);

/* The bus as pymemd_test_service_start_bus () starts it, for any user,
 * and the polkit mock on it (denying every action until
 * pymemd_test_service_set_polkit_allowed ()); daemons started on it take
 * it for the system bus (DBUS_SYSTEM_BUS_ADDRESS) and ask polkit. FALSE,
 * with the test marked skipped, as pymemd_test_service_missing () says. */
gboolean pymemd_test_service_start_system_bus (PymemdTestService *service);
/* Makes the polkit mock allow ACTIONS (NULL-terminated), and no others. */
void     pymemd_test_service_set_polkit_allowed (PymemdTestService *service,
                                                 const char *const *actions);

/* Starts both, with pymemd --interval INTERVAL (under valgrind as
 * pymemd_test_valgrind_daemons () says), and waits (30 s at most, 120 s
 * under valgrind) until the daemon owns org.pymemd.Monitor1. FALSE, with the test marked
 * skipped, without root, dbus-daemon, python3 or PYMEMD_BIN. */
gboolean pymemd_test_service_start (PymemdTestService *service,
                                    const char        *interval);
/* The same, its directory open to other users (nobody's pymemctl reaches
 * the bus socket in it), with CHILD running python3 CODE, once the daemon
 * watches it. FALSE, skipped, as pymemd_test_service_start (). */
gboolean pymemd_test_service_start_with_child (PymemdTestService *service,
                                               const char        *interval,
                                               PymemdTestChild   *child,
                                               const char        *code);
/* The same, without the daemon: a test's own service takes the name (root
 * may own it under pymemd's policy). */
gboolean pymemd_test_service_start_bus (PymemdTestService *service);
/* As pymemd_test_service_start (), the daemon (and its restarts) reading
 * CONFIG (the text of a pymemd.conf). */
gboolean pymemd_test_service_start_with_config (PymemdTestService *service,
                                                const char        *interval,
                                                const char        *config);
/* Stops the daemon and the bus (a failed test keeps the logs in TMP). */
void     pymemd_test_service_stop  (PymemdTestService *service);
/* Stops the daemon alone with SIGTERM; the bus stays. The daemon must exit
 * by itself with status 0: that is also how a leak found at its exit
 * (by LeakSanitizer, or by valgrind when it runs under it) fails the test. */
void     pymemd_test_service_stop_daemon (PymemdTestService *service);
/* Starts the daemon again on the same bus (it inherits the environment,
 * STATE_DIRECTORY included) and waits as pymemd_test_service_start () does. */
void     pymemd_test_service_start_daemon (PymemdTestService *service,
                                           const char        *interval);
/* Waits (10 s at most) until nobody owns org.pymemd.Monitor1: the bus may
 * notice a daemon's exit after waitpid does. */
void     pymemd_test_service_wait_name_released (PymemdTestService *service);
/* When child PID, spawned by pymemd_test_child_spawn*(), printed its ready
 * line (real time, µs); 0 for any other process. */
gint64   pymemd_test_ready_time (GPid pid);
/* When the sample of PID that GetProcesses lists was taken (real time,
 * µs); -1 when it lists none, or with ERROR when the call failed. */
gint64   pymemd_test_service_sampled_at (PymemdTestService *service,
                                         GPid               pid,
                                         GError           **error);
/* Waits (30 s at most) until GetProcesses lists PID with a sample taken
 * since it was ready (a child found at its exec is listed with a sample of
 * the program just started). */
void     pymemd_test_service_wait_pid (PymemdTestService *service,
                                       GPid               pid);

/* GetHeapSummary of PID with OPTIONS (a{sv} text) on SERVICE's daemon: the
 * summary, or NULL with ERROR. */
GVariant   *pymemd_test_get_heap (PymemdTestService *service,
                                  GPid               pid,
                                  const char        *options,
                                  GError           **error);
/* The summary (OPTIONS) of a process whose helper comes by itself, once it
 * said hello (10 s at most). */
GVariant   *pymemd_test_wait_for_helper (PymemdTestService *service,
                                         GPid               pid,
                                         const char        *options);
/* The census entry of the type named NAME in SUMMARY (a{sv}): FALSE when
 * it is not listed. */
gboolean    pymemd_test_census_type (GVariant   *summary,
                                     const char *name,
                                     guint64    *count,
                                     guint64    *bytes);
/* Waits (30 s at most) until GetProcessDetails of PID has its categories:
 * a detail pass has reached it (Rescan asks for one now). */
void     pymemd_test_service_wait_detail (PymemdTestService *service,
                                          GPid               pid);

/* The prefix of pyenv's build of Python SERIES ("2.7", "3.6"), such as
 * ~/.pyenv/versions/2.7.18 ($PYENV_ROOT/versions where set), or NULL. */
char       *pymemd_test_pyenv_prefix (const char *series);
/* A copy of the file FROM as DIR/NAME (mode kept), which is returned. */
char       *pymemd_test_copy_file (const char *from,
                                   const char *dir,
                                   const char *name);

/* A file of a --proc fixture replaced by a named pipe with its contents:
 * whoever reads it blocks until the test feeds it, which shows who waits
 * for a pass. A guard feeds it after GUARD_SECONDS whatever the test does,
 * so that code reading it on the test's own thread fails the test instead
 * of hanging it. */
typedef struct _PymemdTestFifo PymemdTestFifo;
PymemdTestFifo *pymemd_test_fifo_new (const char *path,
                                      double      guard_seconds);
/* Whether a reader has opened it (and now waits for its contents). */
gboolean    pymemd_test_fifo_has_reader (PymemdTestFifo *fifo);
/* Writes the contents, closes (EOF), and puts the file back as it was. */
void        pymemd_test_fifo_feed (PymemdTestFifo *fifo);
/* Whether the guard fed it, the test not. */
gboolean    pymemd_test_fifo_guard_fed (PymemdTestFifo *fifo);
void        pymemd_test_fifo_free (PymemdTestFifo *fifo);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PymemdTestFifo, pymemd_test_fifo_free)

G_END_DECLS
