/* The PEP 768 remote-debugging request of CPython >= 3.14, read and written through callbacks so that it is tested against a synthetic memory image. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A target's memory. READ fills all of BUF or fails; WRITE writes all of
 * BUF or fails. Errors of domain PYMEMD_ERROR_GONE mean the process exited. */
typedef struct {
  gboolean (*read)  (gpointer      user_data,
                     guint64       address,
                     void         *buf,
                     gsize         len,
                     GError      **error);
  gboolean (*write) (gpointer      user_data,
                     guint64       address,
                     const void   *buf,
                     gsize         len,
                     GError      **error);
  gpointer user_data;
} PymemdPep768Memory;

/* _Py_DebugOffsets as 3.14 lays it out: the cookie then 94 uint64 fields. */
#define PYMEMD_PEP768_COOKIE        "xdebugpy"
#define PYMEMD_PEP768_TABLE_FIELDS  94
#define PYMEMD_PEP768_TABLE_SIZE    (8 + 8 * PYMEMD_PEP768_TABLE_FIELDS)
/* _PY_EVAL_PLEASE_STOP_BIT of the thread state's eval_breaker. */
#define PYMEMD_PEP768_PLEASE_STOP   (G_GUINT64_CONSTANT (1) << 5)

/* Indices (after the cookie) of the fields the request uses. */
typedef enum {
  PYMEMD_PEP768_VERSION = 0,
  PYMEMD_PEP768_FREE_THREADED = 1,
  PYMEMD_PEP768_RUNTIME_SIZE = 2,
  PYMEMD_PEP768_RUNTIME_FINALIZING = 3,
  PYMEMD_PEP768_RUNTIME_INTERPRETERS_HEAD = 4,
  PYMEMD_PEP768_INTERP_SIZE = 5,
  PYMEMD_PEP768_INTERP_ID = 6,
  PYMEMD_PEP768_INTERP_NEXT = 7,
  PYMEMD_PEP768_INTERP_THREADS_HEAD = 8,
  PYMEMD_PEP768_INTERP_THREADS_MAIN = 9,
  PYMEMD_PEP768_THREAD_SIZE = 21,
  PYMEMD_PEP768_THREAD_NEXT = 23,
  PYMEMD_PEP768_THREAD_INTERP = 24,
  PYMEMD_PEP768_THREAD_NATIVE_THREAD_ID = 27,
  PYMEMD_PEP768_DEBUGGER_EVAL_BREAKER = 88,
  PYMEMD_PEP768_DEBUGGER_SUPPORT = 89,
  PYMEMD_PEP768_DEBUGGER_REMOTE_DEBUGGING_ENABLED = 90,
  PYMEMD_PEP768_DEBUGGER_PENDING_CALL = 91,
  PYMEMD_PEP768_DEBUGGER_SCRIPT_PATH = 92,
  PYMEMD_PEP768_DEBUGGER_SCRIPT_PATH_SIZE = 93,
} PymemdPep768Field;

/* One thread of the main interpreter, the one a request goes to: at
 * first its main thread (pymemd_pep768_locate ()), any other of its
 * threads after pymemd_pep768_select_thread (). */
typedef struct {
  guint64  version;                  /* PY_VERSION_HEX */
  gboolean free_threaded;
  gboolean remote_debugging_enabled; /* the interpreter's config.remote_debug */
  guint64  interpreter;              /* the main interpreter (id 0) */
  guint64  thread_state;             /* the thread's state */
  guint64  native_thread_id;         /* in the process's own pid namespace */
  guint64  script_path_address;
  guint64  script_path_size;         /* including the NUL */
  guint64  pending_call_address;     /* int32 */
  guint64  eval_breaker_address;     /* uintptr_t */
  guint64  table[PYMEMD_PEP768_TABLE_FIELDS]; /* the validated offsets */
} PymemdPep768Target;

/* PY_VERSION_HEX from the _Py_DebugOffsets at RUNTIME (3.13 and later
 * carry the cookie); FALSE, with the reason, when there is none. */
gboolean pymemd_pep768_read_version (guint64                   runtime,
                                     const PymemdPep768Memory *memory,
                                     guint64                  *version,
                                     GError                  **error);

/* Validates the offsets table at RUNTIME (the address of _PyRuntime) —
 * cookie, a 3.14 final version, sizes and offsets within bounds — and
 * walks runtime → interpreters → thread states to the main interpreter's
 * main thread, whose native thread id must be EXPECTED_MAIN_TID unless
 * that is 0. Every walk is bounded and loops are refused. Fails with
 * PYMEMD_ERROR_ATTACH_REFUSED and the reason (PYMEMD_ERROR_GONE when the
 * memory says so). Does not check remote_debugging_enabled: the caller
 * tells that refusal apart. */
gboolean pymemd_pep768_locate (guint64                   runtime,
                               guint64                   expected_main_tid,
                               const PymemdPep768Memory *memory,
                               PymemdPep768Target       *target,
                               GError                  **error);

/* Asks TARGET's main thread to run SCRIPT_PATH at its next eval-breaker
 * check: writes the path, sets debugger_pending_call, then sets the
 * please-stop bit of eval_breaker (read, or, write back: the protocol has
 * no atomic update across processes, as in CPython's own sys.remote_exec).
 * Refuses when remote debugging is disabled, the path is too long or a
 * request is already pending. */
gboolean pymemd_pep768_request (const PymemdPep768Target *target,
                                const char               *script_path,
                                const PymemdPep768Memory *memory,
                                GError                  **error);

/* Points TARGET at the main interpreter's thread whose native id (in the
 * process's own pid namespace) is NATIVE_THREAD_ID: the thread that is to
 * run the script. PYMEMD_ERROR_ATTACH_REFUSED when the interpreter has no
 * such thread (a thread that runs no Python). TARGET is unchanged then. */
gboolean pymemd_pep768_select_thread (PymemdPep768Target       *target,
                                      guint64                   native_thread_id,
                                      const PymemdPep768Memory *memory,
                                      GError                  **error);

/* Whether the interpreter has taken TARGET's request: it clears the
 * pending flag as it takes the request, before it reads the path. */
gboolean pymemd_pep768_is_taken (const PymemdPep768Target *target,
                                 const PymemdPep768Memory *memory,
                                 gboolean                 *taken,
                                 GError                  **error);

/* Withdraws TARGET's request: empties the path (a request taken from now
 * on runs nothing: CPython skips an empty path silently), then clears the
 * pending flag if it is still set. TAKEN tells whether the interpreter
 * had taken the request first, and may then still read the path it
 * copied before it was emptied: the script must stay until it has been
 * read. The eval breaker's please-stop bit is left alone: clearing it
 * could lose a bit the interpreter set meanwhile, and left set it costs
 * one GIL hand-over at the thread's next check. */
gboolean pymemd_pep768_withdraw (const PymemdPep768Target *target,
                                 const PymemdPep768Memory *memory,
                                 gboolean                 *taken,
                                 GError                  **error);

G_END_DECLS
