/* The PEP 768 offsets logic against a synthetic CPython 3.14 memory image: what is written where, on which thread, how a request is withdrawn, and every refusal (cookie, version, switch, truncation, loops, bounds). */
#include "config.h"

#include <string.h>

#include "pymemd-error.h"
#include "pymemd-pep768.h"

/* The fake process: _PyRuntime with its offsets table, a main interpreter,
 * two thread states (the main one and a worker), an optional
 * subinterpreter listed first, all in one GByteArray mapped at BASE. */
#define BASE          G_GUINT64_CONSTANT (0x7f1200000000)
#define RUNTIME       (BASE + 0x0)
#define INTERP        (BASE + 0x1000)
#define MAIN_TSTATE   (BASE + 0x2000)
#define WORKER_TSTATE (BASE + 0x3000)
#define SUB_INTERP    (BASE + 0x4000)
#define IMAGE_SIZE    0x5000

/* Offsets inside each struct, as the table describes them. */
#define RUNTIME_SIZE        0x400
#define RUNTIME_FINALIZING  0x300
#define RUNTIME_INTERP_HEAD 0x308
#define INTERP_SIZE         0x800
#define INTERP_NEXT         0x08
#define INTERP_ID           0x10
#define INTERP_THREADS_HEAD 0x48
#define INTERP_THREADS_MAIN 0x50
#define INTERP_REMOTE_DEBUG 0x700
#define THREAD_SIZE         0x1000
#define THREAD_NEXT         0x08
#define THREAD_INTERP       0x18
#define THREAD_NATIVE_ID    0x30
#define THREAD_EVAL_BREAKER 0x40
#define THREAD_DEBUGGER     0x200
#define DEBUGGER_PENDING    0x0
#define DEBUGGER_PATH       0x4
#define PATH_SIZE           512

#define MAIN_TID   4242
#define WORKER_TID 4243

typedef struct {
  guint64 address;
  GBytes *bytes;
} Write;

typedef struct {
  GByteArray *image;
  gsize       readable; /* bytes of the image the reader serves: less when truncated */
  GArray     *writes;   /* Write */
  gboolean    gone;
} Fixture;

static void
write_clear (gpointer data)
{
  g_bytes_unref (((Write *) data)->bytes);
}

static void
put_u64 (Fixture *fx, guint64 address, guint64 value)
{
  g_assert_cmpuint (address - BASE + 8, <=, fx->image->len);
  memcpy (fx->image->data + (address - BASE), &value, sizeof value);
}

static void
put_u32 (Fixture *fx, guint64 address, guint32 value)
{
  memcpy (fx->image->data + (address - BASE), &value, sizeof value);
}

static guint64
get_u64 (Fixture *fx, guint64 address)
{
  guint64 value;

  memcpy (&value, fx->image->data + (address - BASE), sizeof value);
  return value;
}

static void
put_field (Fixture *fx, PymemdPep768Field field, guint64 value)
{
  put_u64 (fx, RUNTIME + 8 + 8 * (guint64) field, value);
}

static void
fixture_set_up (Fixture *fx, gconstpointer data)
{
  fx->image = g_byte_array_sized_new (IMAGE_SIZE);
  g_byte_array_set_size (fx->image, IMAGE_SIZE);
  memset (fx->image->data, 0, IMAGE_SIZE);
  fx->readable = IMAGE_SIZE;
  fx->writes = g_array_new (FALSE, TRUE, sizeof (Write));
  g_array_set_clear_func (fx->writes, write_clear);

  memcpy (fx->image->data, PYMEMD_PEP768_COOKIE, 8);
  put_field (fx, PYMEMD_PEP768_VERSION, 0x030e02f0); /* 3.14.2 final */
  put_field (fx, PYMEMD_PEP768_FREE_THREADED, 0);
  put_field (fx, PYMEMD_PEP768_RUNTIME_SIZE, RUNTIME_SIZE);
  put_field (fx, PYMEMD_PEP768_RUNTIME_FINALIZING, RUNTIME_FINALIZING);
  put_field (fx, PYMEMD_PEP768_RUNTIME_INTERPRETERS_HEAD, RUNTIME_INTERP_HEAD);
  put_field (fx, PYMEMD_PEP768_INTERP_SIZE, INTERP_SIZE);
  put_field (fx, PYMEMD_PEP768_INTERP_ID, INTERP_ID);
  put_field (fx, PYMEMD_PEP768_INTERP_NEXT, INTERP_NEXT);
  put_field (fx, PYMEMD_PEP768_INTERP_THREADS_HEAD, INTERP_THREADS_HEAD);
  put_field (fx, PYMEMD_PEP768_INTERP_THREADS_MAIN, INTERP_THREADS_MAIN);
  put_field (fx, PYMEMD_PEP768_THREAD_SIZE, THREAD_SIZE);
  put_field (fx, PYMEMD_PEP768_THREAD_NEXT, THREAD_NEXT);
  put_field (fx, PYMEMD_PEP768_THREAD_INTERP, THREAD_INTERP);
  put_field (fx, PYMEMD_PEP768_THREAD_NATIVE_THREAD_ID, THREAD_NATIVE_ID);
  put_field (fx, PYMEMD_PEP768_DEBUGGER_EVAL_BREAKER, THREAD_EVAL_BREAKER);
  put_field (fx, PYMEMD_PEP768_DEBUGGER_SUPPORT, THREAD_DEBUGGER);
  put_field (fx, PYMEMD_PEP768_DEBUGGER_REMOTE_DEBUGGING_ENABLED, INTERP_REMOTE_DEBUG);
  put_field (fx, PYMEMD_PEP768_DEBUGGER_PENDING_CALL, DEBUGGER_PENDING);
  put_field (fx, PYMEMD_PEP768_DEBUGGER_SCRIPT_PATH, DEBUGGER_PATH);
  put_field (fx, PYMEMD_PEP768_DEBUGGER_SCRIPT_PATH_SIZE, PATH_SIZE);

  /* Only the main interpreter; the worker is the newest thread, listed first. */
  put_u64 (fx, RUNTIME + RUNTIME_INTERP_HEAD, INTERP);
  put_u64 (fx, INTERP + INTERP_ID, 0);
  put_u64 (fx, INTERP + INTERP_NEXT, 0);
  put_u64 (fx, INTERP + INTERP_THREADS_HEAD, WORKER_TSTATE);
  put_u64 (fx, INTERP + INTERP_THREADS_MAIN, MAIN_TSTATE);
  put_u32 (fx, INTERP + INTERP_REMOTE_DEBUG, 1);
  put_u64 (fx, WORKER_TSTATE + THREAD_NEXT, MAIN_TSTATE);
  put_u64 (fx, WORKER_TSTATE + THREAD_INTERP, INTERP);
  put_u64 (fx, WORKER_TSTATE + THREAD_NATIVE_ID, WORKER_TID);
  put_u64 (fx, MAIN_TSTATE + THREAD_NEXT, 0);
  put_u64 (fx, MAIN_TSTATE + THREAD_INTERP, INTERP);
  put_u64 (fx, MAIN_TSTATE + THREAD_NATIVE_ID, MAIN_TID);
  /* Another bit already set: the request must keep it. */
  put_u64 (fx, MAIN_TSTATE + THREAD_EVAL_BREAKER, 0x2);
}

static void
fixture_tear_down (Fixture *fx, gconstpointer data)
{
  g_byte_array_unref (fx->image);
  g_array_unref (fx->writes);
}

static gboolean
image_read (gpointer user_data, guint64 address, void *buf, gsize len, GError **error)
{
  Fixture *fx = user_data;

  if (fx->gone)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_GONE, "no such process");
      return FALSE;
    }
  if (address < BASE || address - BASE > fx->readable || len > fx->readable - (address - BASE))
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED, "not mapped");
      return FALSE;
    }
  memcpy (buf, fx->image->data + (address - BASE), len);
  return TRUE;
}

static gboolean
image_write (gpointer user_data, guint64 address, const void *buf, gsize len, GError **error)
{
  Fixture *fx = user_data;
  Write write = { address, g_bytes_new (buf, len) };

  if (address < BASE || address - BASE > fx->readable || len > fx->readable - (address - BASE))
    {
      g_bytes_unref (write.bytes);
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED, "not mapped");
      return FALSE;
    }
  memcpy (fx->image->data + (address - BASE), buf, len);
  g_array_append_val (fx->writes, write);
  return TRUE;
}

static PymemdPep768Memory
memory_of (Fixture *fx)
{
  PymemdPep768Memory memory = { image_read, image_write, fx };
  return memory;
}

static void
assert_refused (Fixture *fx, guint64 expected_tid, const char *reason_part)
{
  PymemdPep768Memory memory = memory_of (fx);
  PymemdPep768Target target;
  g_autoptr(GError) error = NULL;

  g_assert_false (pymemd_pep768_locate (RUNTIME, expected_tid, &memory, &target, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED);
  g_test_message ("refused: %s", error->message);
  if (reason_part != NULL)
    g_assert_nonnull (strstr (error->message, reason_part));
  g_assert_cmpuint (fx->writes->len, ==, 0);
}

static void
test_request (Fixture *fx, gconstpointer data)
{
  PymemdPep768Memory memory = memory_of (fx);
  PymemdPep768Target target;
  g_autoptr(GError) error = NULL;
  const char *path = "/run/pymemd/attach/bootstrap-1234.py";
  const Write *w;
  gint32 pending;

  g_assert_true (pymemd_pep768_locate (RUNTIME, MAIN_TID, &memory, &target, &error));
  g_assert_no_error (error);
  g_assert_cmphex (target.version, ==, 0x030e02f0);
  g_assert_false (target.free_threaded);
  g_assert_true (target.remote_debugging_enabled);
  g_assert_cmphex (target.interpreter, ==, INTERP);
  g_assert_cmphex (target.thread_state, ==, MAIN_TSTATE);
  g_assert_cmpuint (target.native_thread_id, ==, MAIN_TID);
  g_assert_cmphex (target.eval_breaker_address, ==, MAIN_TSTATE + THREAD_EVAL_BREAKER);
  g_assert_cmphex (target.pending_call_address, ==, MAIN_TSTATE + THREAD_DEBUGGER + DEBUGGER_PENDING);
  g_assert_cmphex (target.script_path_address, ==, MAIN_TSTATE + THREAD_DEBUGGER + DEBUGGER_PATH);
  g_assert_cmpuint (target.script_path_size, ==, PATH_SIZE);
  g_assert_cmpuint (fx->writes->len, ==, 0);

  g_assert_true (pymemd_pep768_request (&target, path, &memory, &error));
  g_assert_no_error (error);

  /* Three writes, in the protocol's order: the path with its NUL, the
   * pending flag, then the eval breaker with the please-stop bit added. */
  g_assert_cmpuint (fx->writes->len, ==, 3);
  w = &g_array_index (fx->writes, Write, 0);
  g_assert_cmphex (w->address, ==, MAIN_TSTATE + THREAD_DEBUGGER + DEBUGGER_PATH);
  g_assert_cmpuint (g_bytes_get_size (w->bytes), ==, strlen (path) + 1);
  g_assert_cmpmem (g_bytes_get_data (w->bytes, NULL), strlen (path) + 1, path, strlen (path) + 1);
  w = &g_array_index (fx->writes, Write, 1);
  g_assert_cmphex (w->address, ==, MAIN_TSTATE + THREAD_DEBUGGER + DEBUGGER_PENDING);
  g_assert_cmpuint (g_bytes_get_size (w->bytes), ==, 4);
  memcpy (&pending, g_bytes_get_data (w->bytes, NULL), 4);
  g_assert_cmpint (pending, ==, 1);
  w = &g_array_index (fx->writes, Write, 2);
  g_assert_cmphex (w->address, ==, MAIN_TSTATE + THREAD_EVAL_BREAKER);
  g_assert_cmpuint (g_bytes_get_size (w->bytes), ==, 8);
  g_assert_cmphex (get_u64 (fx, MAIN_TSTATE + THREAD_EVAL_BREAKER), ==, 0x2 | (1 << 5));

  /* The worker's thread state is untouched. */
  g_assert_cmphex (get_u64 (fx, WORKER_TSTATE + THREAD_EVAL_BREAKER), ==, 0);
  g_assert_cmphex (get_u64 (fx, WORKER_TSTATE + THREAD_DEBUGGER), ==, 0);

  /* A second request while the first is pending would clobber its path. */
  g_clear_error (&error);
  g_assert_false (pymemd_pep768_request (&target, path, &memory, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED);
  g_assert_cmpuint (fx->writes->len, ==, 3);
}

static void
test_version (Fixture *fx, gconstpointer data)
{
  PymemdPep768Memory memory = memory_of (fx);
  g_autoptr(GError) error = NULL;
  guint64 version = 0;

  g_assert_true (pymemd_pep768_read_version (RUNTIME, &memory, &version, &error));
  g_assert_no_error (error);
  g_assert_cmphex (version, ==, 0x030e02f0);

  put_field (fx, PYMEMD_PEP768_VERSION, 0x030d00f0);
  assert_refused (fx, 0, "3.14");
  put_field (fx, PYMEMD_PEP768_VERSION, 0x030f00f0);
  assert_refused (fx, 0, "Unknown");
  put_field (fx, PYMEMD_PEP768_VERSION, 0x030e00b3); /* 3.14.0b3 */
  assert_refused (fx, 0, "pre-release");
  put_field (fx, PYMEMD_PEP768_VERSION, 0x040000f0);
  assert_refused (fx, 0, "Unknown");
}

static void
test_bad_cookie (Fixture *fx, gconstpointer data)
{
  PymemdPep768Memory memory = memory_of (fx);
  g_autoptr(GError) error = NULL;
  guint64 version;

  memcpy (fx->image->data, "xdebugpz", 8);
  assert_refused (fx, 0, "debug offsets");
  g_assert_false (pymemd_pep768_read_version (RUNTIME, &memory, &version, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED);
}

static void
test_disabled (Fixture *fx, gconstpointer data)
{
  PymemdPep768Memory memory = memory_of (fx);
  PymemdPep768Target target;
  g_autoptr(GError) error = NULL;

  put_u32 (fx, INTERP + INTERP_REMOTE_DEBUG, 0);
  g_assert_true (pymemd_pep768_locate (RUNTIME, MAIN_TID, &memory, &target, &error));
  g_assert_false (target.remote_debugging_enabled);
  g_assert_false (pymemd_pep768_request (&target, "/run/x.py", &memory, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED);
  g_assert_nonnull (strstr (error->message, "disabled"));
  g_assert_cmpuint (fx->writes->len, ==, 0);
}

static void
test_bad_paths (Fixture *fx, gconstpointer data)
{
  PymemdPep768Memory memory = memory_of (fx);
  PymemdPep768Target target;
  g_autofree char *long_path = g_strnfill (PATH_SIZE, 'a');
  g_autoptr(GError) error = NULL;

  long_path[0] = '/';
  g_assert_true (pymemd_pep768_locate (RUNTIME, 0, &memory, &target, &error));
  g_assert_false (pymemd_pep768_request (&target, long_path, &memory, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED);
  g_clear_error (&error);
  long_path[PATH_SIZE - 1] = '\0'; /* 511 bytes and the NUL: fits exactly */
  g_assert_false (pymemd_pep768_request (&target, "relative.py", &memory, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED);
  g_clear_error (&error);
  g_assert_cmpuint (fx->writes->len, ==, 0);
  g_assert_true (pymemd_pep768_request (&target, long_path, &memory, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (g_array_index (fx->writes, Write, 0).bytes), ==, PATH_SIZE);
}

static void
test_truncated (Fixture *fx, gconstpointer data)
{
  /* Cut inside the offsets table, then before the thread states. */
  fx->readable = 0x100;
  assert_refused (fx, 0, "cannot read");
  fx->readable = 0x1800;
  assert_refused (fx, 0, "cannot read");
  fx->readable = MAIN_TSTATE + 0x20 - BASE;
  assert_refused (fx, 0, "cannot read");
}

static void
test_gone (Fixture *fx, gconstpointer data)
{
  PymemdPep768Memory memory = memory_of (fx);
  PymemdPep768Target target;
  g_autoptr(GError) error = NULL;

  fx->gone = TRUE;
  g_assert_false (pymemd_pep768_locate (RUNTIME, 0, &memory, &target, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_GONE);
}

static void
test_thread_loop (Fixture *fx, gconstpointer data)
{
  /* The worker points at itself: the main thread is never reached. */
  put_u64 (fx, WORKER_TSTATE + THREAD_NEXT, WORKER_TSTATE);
  assert_refused (fx, 0, "loops");
}

static void
test_interpreter_loop (Fixture *fx, gconstpointer data)
{
  put_u64 (fx, RUNTIME + RUNTIME_INTERP_HEAD, SUB_INTERP);
  put_u64 (fx, SUB_INTERP + INTERP_ID, 1);
  put_u64 (fx, SUB_INTERP + INTERP_NEXT, SUB_INTERP);
  assert_refused (fx, 0, "loops");
}

static void
test_subinterpreter_first (Fixture *fx, gconstpointer data)
{
  PymemdPep768Memory memory = memory_of (fx);
  PymemdPep768Target target;
  g_autoptr(GError) error = NULL;

  /* The newest interpreter heads the list: the main one (id 0) is further on. */
  put_u64 (fx, RUNTIME + RUNTIME_INTERP_HEAD, SUB_INTERP);
  put_u64 (fx, SUB_INTERP + INTERP_ID, 1);
  put_u64 (fx, SUB_INTERP + INTERP_NEXT, INTERP);
  g_assert_true (pymemd_pep768_locate (RUNTIME, MAIN_TID, &memory, &target, &error));
  g_assert_no_error (error);
  g_assert_cmphex (target.interpreter, ==, INTERP);
  g_assert_cmphex (target.thread_state, ==, MAIN_TSTATE);
}

static void
test_no_main_interpreter (Fixture *fx, gconstpointer data)
{
  put_u64 (fx, INTERP + INTERP_ID, 7);
  assert_refused (fx, 0, "main interpreter");
  put_u64 (fx, RUNTIME + RUNTIME_INTERP_HEAD, 0);
  assert_refused (fx, 0, "main interpreter");
}

static void
test_main_thread_checks (Fixture *fx, gconstpointer data)
{
  /* Wrong native id, unlisted, foreign, absent. */
  assert_refused (fx, WORKER_TID, "main thread");
  put_u64 (fx, INTERP + INTERP_THREADS_HEAD, WORKER_TSTATE);
  put_u64 (fx, WORKER_TSTATE + THREAD_NEXT, 0);
  assert_refused (fx, 0, "thread list");
  put_u64 (fx, WORKER_TSTATE + THREAD_NEXT, MAIN_TSTATE);
  put_u64 (fx, MAIN_TSTATE + THREAD_INTERP, SUB_INTERP);
  assert_refused (fx, 0, "another interpreter");
  put_u64 (fx, INTERP + INTERP_THREADS_MAIN, 0);
  assert_refused (fx, 0, "no main thread");
}

static void
test_finalizing (Fixture *fx, gconstpointer data)
{
  put_u64 (fx, RUNTIME + RUNTIME_FINALIZING, MAIN_TSTATE);
  assert_refused (fx, 0, "finalizing");
}

static void
test_out_of_bounds (Fixture *fx, gconstpointer data)
{
  /* The script path buffer would end past the thread state. */
  put_field (fx, PYMEMD_PEP768_DEBUGGER_SUPPORT, THREAD_SIZE - 0x100);
  assert_refused (fx, 0, "out of bounds");
  put_field (fx, PYMEMD_PEP768_DEBUGGER_SUPPORT, THREAD_DEBUGGER);
  put_field (fx, PYMEMD_PEP768_THREAD_SIZE, G_GUINT64_CONSTANT (1) << 40);
  assert_refused (fx, 0, "out of bounds");
  put_field (fx, PYMEMD_PEP768_THREAD_SIZE, THREAD_SIZE);
  put_field (fx, PYMEMD_PEP768_DEBUGGER_SCRIPT_PATH_SIZE, 0);
  assert_refused (fx, 0, "out of bounds");
  put_field (fx, PYMEMD_PEP768_DEBUGGER_SCRIPT_PATH_SIZE, PATH_SIZE);
  put_field (fx, PYMEMD_PEP768_RUNTIME_INTERPRETERS_HEAD, G_MAXUINT64 - 4);
  assert_refused (fx, 0, "out of bounds");
}

/* The request moves to another thread of the main interpreter, found by
 * its native id; a thread without a state of that interpreter is none. */
static void
test_select_thread (Fixture *fx, gconstpointer data)
{
  PymemdPep768Memory memory = memory_of (fx);
  PymemdPep768Target target, before;
  g_autoptr(GError) error = NULL;

  g_assert_true (pymemd_pep768_locate (RUNTIME, MAIN_TID, &memory, &target, &error));
  g_assert_true (pymemd_pep768_select_thread (&target, WORKER_TID, &memory, &error));
  g_assert_no_error (error);
  g_assert_cmphex (target.thread_state, ==, WORKER_TSTATE);
  g_assert_cmpuint (target.native_thread_id, ==, WORKER_TID);
  g_assert_cmphex (target.eval_breaker_address, ==, WORKER_TSTATE + THREAD_EVAL_BREAKER);
  g_assert_cmphex (target.pending_call_address, ==, WORKER_TSTATE + THREAD_DEBUGGER + DEBUGGER_PENDING);
  g_assert_cmphex (target.script_path_address, ==, WORKER_TSTATE + THREAD_DEBUGGER + DEBUGGER_PATH);
  g_assert_true (pymemd_pep768_request (&target, "/run/x.py", &memory, &error));
  g_assert_cmphex (get_u64 (fx, WORKER_TSTATE + THREAD_EVAL_BREAKER), ==, 1 << 5);
  g_assert_cmphex (get_u64 (fx, MAIN_TSTATE + THREAD_EVAL_BREAKER), ==, 0x2); /* untouched */

  /* And back to the main thread. */
  g_assert_true (pymemd_pep768_select_thread (&target, MAIN_TID, &memory, &error));
  g_assert_cmphex (target.thread_state, ==, MAIN_TSTATE);

  /* No such thread, one of another interpreter, a loop: refused, TARGET as it was. */
  before = target;
  g_assert_false (pymemd_pep768_select_thread (&target, 9999, &memory, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED);
  g_assert_cmpmem (&target, sizeof target, &before, sizeof before);
  g_clear_error (&error);
  put_u64 (fx, WORKER_TSTATE + THREAD_INTERP, SUB_INTERP);
  g_assert_false (pymemd_pep768_select_thread (&target, WORKER_TID, &memory, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED);
  g_clear_error (&error);
  put_u64 (fx, WORKER_TSTATE + THREAD_NEXT, WORKER_TSTATE);
  g_assert_false (pymemd_pep768_select_thread (&target, MAIN_TID, &memory, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED);
  g_assert_nonnull (strstr (error->message, "loops"));
  g_clear_error (&error);
  fx->gone = TRUE;
  g_assert_false (pymemd_pep768_select_thread (&target, MAIN_TID, &memory, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_GONE);
}

/* Withdrawn before the interpreter took it: the path emptied first,
 * then the flag cleared; the eval breaker left as it is. */
static void
test_withdraw_untaken (Fixture *fx, gconstpointer data)
{
  PymemdPep768Memory memory = memory_of (fx);
  PymemdPep768Target target;
  g_autoptr(GError) error = NULL;
  gboolean taken = TRUE;
  const Write *w;
  guint writes;

  g_assert_true (pymemd_pep768_locate (RUNTIME, MAIN_TID, &memory, &target, &error));
  g_assert_true (pymemd_pep768_request (&target, "/run/x.py", &memory, &error));
  g_assert_true (pymemd_pep768_is_taken (&target, &memory, &taken, &error));
  g_assert_false (taken);
  writes = fx->writes->len;
  g_assert_true (pymemd_pep768_withdraw (&target, &memory, &taken, &error));
  g_assert_no_error (error);
  g_assert_false (taken);
  g_assert_cmpuint (fx->writes->len, ==, writes + 2);
  w = &g_array_index (fx->writes, Write, writes);
  g_assert_cmphex (w->address, ==, MAIN_TSTATE + THREAD_DEBUGGER + DEBUGGER_PATH);
  g_assert_cmpuint (g_bytes_get_size (w->bytes), ==, 1);
  g_assert_cmpint (((const char *) g_bytes_get_data (w->bytes, NULL))[0], ==, '\0');
  w = &g_array_index (fx->writes, Write, writes + 1);
  g_assert_cmphex (w->address, ==, MAIN_TSTATE + THREAD_DEBUGGER + DEBUGGER_PENDING);
  g_assert_cmpint (fx->image->data[MAIN_TSTATE + THREAD_DEBUGGER + DEBUGGER_PENDING - BASE], ==, 0);
  g_assert_cmpint (fx->image->data[MAIN_TSTATE + THREAD_DEBUGGER + DEBUGGER_PATH - BASE], ==, 0);
  g_assert_cmphex (get_u64 (fx, MAIN_TSTATE + THREAD_EVAL_BREAKER), ==, 0x2 | (1 << 5));
  /* A new request may go out again. */
  g_assert_true (pymemd_pep768_request (&target, "/run/y.py", &memory, &error));
  g_assert_no_error (error);
}

/* The interpreter cleared the flag (it took the request) before our
 * withdrawal: TAKEN, and the flag is not written. */
static void
test_withdraw_taken (Fixture *fx, gconstpointer data)
{
  PymemdPep768Memory memory = memory_of (fx);
  PymemdPep768Target target;
  g_autoptr(GError) error = NULL;
  gboolean taken = FALSE;
  guint writes;

  g_assert_true (pymemd_pep768_locate (RUNTIME, MAIN_TID, &memory, &target, &error));
  g_assert_true (pymemd_pep768_request (&target, "/run/x.py", &memory, &error));
  put_u32 (fx, MAIN_TSTATE + THREAD_DEBUGGER + DEBUGGER_PENDING, 0); /* as _PyRunRemoteDebugger does */
  g_assert_true (pymemd_pep768_is_taken (&target, &memory, &taken, &error));
  g_assert_true (taken);
  writes = fx->writes->len;
  taken = FALSE;
  g_assert_true (pymemd_pep768_withdraw (&target, &memory, &taken, &error));
  g_assert_no_error (error);
  g_assert_true (taken);
  g_assert_cmpuint (fx->writes->len, ==, writes + 1); /* the path only */
  fx->gone = TRUE;
  g_assert_false (pymemd_pep768_withdraw (&target, &memory, &taken, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_GONE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add ("/pep768/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("request", test_request);
  ADD ("version", test_version);
  ADD ("bad-cookie", test_bad_cookie);
  ADD ("disabled", test_disabled);
  ADD ("bad-paths", test_bad_paths);
  ADD ("truncated", test_truncated);
  ADD ("gone", test_gone);
  ADD ("thread-loop", test_thread_loop);
  ADD ("interpreter-loop", test_interpreter_loop);
  ADD ("subinterpreter-first", test_subinterpreter_first);
  ADD ("no-main-interpreter", test_no_main_interpreter);
  ADD ("main-thread-checks", test_main_thread_checks);
  ADD ("finalizing", test_finalizing);
  ADD ("out-of-bounds", test_out_of_bounds);
  ADD ("select-thread", test_select_thread);
  ADD ("withdraw-untaken", test_withdraw_untaken);
  ADD ("withdraw-taken", test_withdraw_taken);
#undef ADD

  return g_test_run ();
}
