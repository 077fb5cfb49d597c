/* Finds a CPython 3.14 thread's remote-debugger fields from _Py_DebugOffsets, fills in a PEP 768 request and withdraws it, reading memory only through callbacks. */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "pymemd-error.h"
#include "pymemd-pep768.h"

/* Bounds on what a sane interpreter has: a corrupt or hostile image must
 * not make us loop or read far. */
#define MAX_STRUCT_SIZE   (1024 * 1024)
#define MAX_INTERPRETERS  4096
#define MAX_THREADS       65536
#define MAX_SCRIPT_PATH   4096

static gboolean
read_memory (const PymemdPep768Memory *memory,
             guint64                   address,
             void                     *buf,
             gsize                     len,
             const char               *what,
             GError                  **error)
{
  g_autoptr(GError) local_error = NULL;

  if (address == 0)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED,
                   _("Remote debugging: %s is at a null address"), what);
      return FALSE;
    }
  if (memory->read (memory->user_data, address, buf, len, &local_error))
    return TRUE;
  if (g_error_matches (local_error, PYMEMD_ERROR, PYMEMD_ERROR_GONE))
    g_propagate_error (error, g_steal_pointer (&local_error));
  else
    g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED,
                 _("Remote debugging: cannot read %s at %#llx: %s"), what,
                 (unsigned long long) address, local_error->message);
  return FALSE;
}

static gboolean
read_u64 (const PymemdPep768Memory *memory, guint64 address, guint64 *value,
          const char *what, GError **error)
{
  return read_memory (memory, address, value, sizeof *value, what, error);
}

static gboolean
write_memory (const PymemdPep768Memory *memory, guint64 address, const void *buf, gsize len,
              const char *what, GError **error)
{
  g_autoptr(GError) local_error = NULL;

  if (memory->write (memory->user_data, address, buf, len, &local_error))
    return TRUE;
  if (g_error_matches (local_error, PYMEMD_ERROR, PYMEMD_ERROR_GONE))
    g_propagate_error (error, g_steal_pointer (&local_error));
  else
    g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED,
                 _("Remote debugging: cannot write %s at %#llx: %s"), what,
                 (unsigned long long) address, local_error->message);
  return FALSE;
}

static gboolean
refuse (GError **error, const char *reason)
{
  g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED, "%s", reason);
  return FALSE;
}

gboolean
pymemd_pep768_read_version (guint64                   runtime,
                            const PymemdPep768Memory *memory,
                            guint64                  *version,
                            GError                  **error)
{
  struct {
    char    cookie[8];
    guint64 version;
  } head;

  if (!read_memory (memory, runtime, &head, sizeof head, _("the debug offsets"), error))
    return FALSE;
  if (memcmp (head.cookie, PYMEMD_PEP768_COOKIE, 8) != 0)
    return refuse (error, _("The interpreter has no debug offsets (CPython before 3.13)"));
  *version = head.version;
  return TRUE;
}

/* A field of WIDTH bytes at OFFSET must lie inside a struct of SIZE bytes. */
static gboolean
field_fits (guint64 offset, guint64 width, guint64 size)
{
  return size <= MAX_STRUCT_SIZE && offset <= size && width <= size - offset;
}

static gboolean
check_table (const guint64 *table, GError **error)
{
  guint64 runtime_size = table[PYMEMD_PEP768_RUNTIME_SIZE];
  guint64 interp_size = table[PYMEMD_PEP768_INTERP_SIZE];
  guint64 thread_size = table[PYMEMD_PEP768_THREAD_SIZE];
  guint64 support = table[PYMEMD_PEP768_DEBUGGER_SUPPORT];
  guint64 path_size = table[PYMEMD_PEP768_DEBUGGER_SCRIPT_PATH_SIZE];

  if (!field_fits (table[PYMEMD_PEP768_RUNTIME_FINALIZING], 8, runtime_size) ||
      !field_fits (table[PYMEMD_PEP768_RUNTIME_INTERPRETERS_HEAD], 8, runtime_size) ||
      !field_fits (table[PYMEMD_PEP768_INTERP_ID], 8, interp_size) ||
      !field_fits (table[PYMEMD_PEP768_INTERP_NEXT], 8, interp_size) ||
      !field_fits (table[PYMEMD_PEP768_INTERP_THREADS_HEAD], 8, interp_size) ||
      !field_fits (table[PYMEMD_PEP768_INTERP_THREADS_MAIN], 8, interp_size) ||
      !field_fits (table[PYMEMD_PEP768_DEBUGGER_REMOTE_DEBUGGING_ENABLED], 4, interp_size) ||
      !field_fits (table[PYMEMD_PEP768_THREAD_NEXT], 8, thread_size) ||
      !field_fits (table[PYMEMD_PEP768_THREAD_INTERP], 8, thread_size) ||
      !field_fits (table[PYMEMD_PEP768_THREAD_NATIVE_THREAD_ID], 8, thread_size) ||
      !field_fits (table[PYMEMD_PEP768_DEBUGGER_EVAL_BREAKER], 8, thread_size) ||
      path_size < 2 || path_size > MAX_SCRIPT_PATH ||
      !field_fits (support, 0, thread_size) ||
      !field_fits (table[PYMEMD_PEP768_DEBUGGER_PENDING_CALL], 4, thread_size - support) ||
      !field_fits (table[PYMEMD_PEP768_DEBUGGER_SCRIPT_PATH], path_size, thread_size - support))
    return refuse (error, _("The interpreter's debug offsets are out of bounds"));
  return TRUE;
}

static gboolean
check_version (guint64 version, GError **error)
{
  guint major = (version >> 24) & 0xff, minor = (version >> 16) & 0xff;

  if (major == 3 && minor < 14)
    return refuse (error, _("Remote debugging (PEP 768) needs CPython 3.14 or later"));
  if (major != 3 || minor != 14)
    {
      g_autofree char *reason =
        g_strdup_printf (_("Unknown debug offsets layout of CPython %u.%u"), major, minor);
      return refuse (error, reason);
    }
  /* Pre-releases changed the table from one to the next; CPython itself
   * refuses them unless both sides are the very same build. */
  if ((version & 0xf0) != 0xf0)
    return refuse (error, _("Unknown debug offsets layout of a CPython 3.14 pre-release"));
  return TRUE;
}

/* TARGET's request goes to the thread state TSTATE. */
static void
point_at_thread (PymemdPep768Target *target, guint64 tstate)
{
  const guint64 *table = target->table;

  target->thread_state = tstate;
  target->eval_breaker_address = tstate + table[PYMEMD_PEP768_DEBUGGER_EVAL_BREAKER];
  target->pending_call_address = tstate + table[PYMEMD_PEP768_DEBUGGER_SUPPORT] +
                                 table[PYMEMD_PEP768_DEBUGGER_PENDING_CALL];
  target->script_path_address = tstate + table[PYMEMD_PEP768_DEBUGGER_SUPPORT] +
                                table[PYMEMD_PEP768_DEBUGGER_SCRIPT_PATH];
  target->script_path_size = table[PYMEMD_PEP768_DEBUGGER_SCRIPT_PATH_SIZE];
}

/* The interpreter with id 0: the list starts at the newest one. */
static gboolean
find_main_interpreter (guint64 runtime, const guint64 *table, const PymemdPep768Memory *memory,
                       guint64 *interpreter, GError **error)
{
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  guint64 interp;

  if (!read_u64 (memory, runtime + table[PYMEMD_PEP768_RUNTIME_INTERPRETERS_HEAD], &interp,
                 _("the interpreter list"), error))
    return FALSE;
  for (guint n = 0; interp != 0; n++)
    {
      guint64 id;

      if (n >= MAX_INTERPRETERS || g_hash_table_contains (seen, &interp))
        return refuse (error, _("The interpreter list loops or is too long"));
      g_hash_table_add (seen, g_memdup2 (&interp, sizeof interp));
      if (!read_u64 (memory, interp + table[PYMEMD_PEP768_INTERP_ID], &id,
                     _("an interpreter's id"), error))
        return FALSE;
      if (id == 0)
        {
          *interpreter = interp;
          return TRUE;
        }
      if (!read_u64 (memory, interp + table[PYMEMD_PEP768_INTERP_NEXT], &interp,
                     _("the next interpreter"), error))
        return FALSE;
    }
  return refuse (error, _("The process has no main interpreter"));
}

/* The main thread state must be one of the interpreter's threads: a stale
 * or corrupt pointer gets no write. */
static gboolean
check_thread_listed (guint64 interp, guint64 tstate, const guint64 *table,
                     const PymemdPep768Memory *memory, GError **error)
{
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  guint64 thread;

  if (!read_u64 (memory, interp + table[PYMEMD_PEP768_INTERP_THREADS_HEAD], &thread,
                 _("the thread list"), error))
    return FALSE;
  for (guint n = 0; thread != 0; n++)
    {
      if (n >= MAX_THREADS || g_hash_table_contains (seen, &thread))
        return refuse (error, _("The thread list loops or is too long"));
      if (thread == tstate)
        return TRUE;
      g_hash_table_add (seen, g_memdup2 (&thread, sizeof thread));
      if (!read_u64 (memory, thread + table[PYMEMD_PEP768_THREAD_NEXT], &thread,
                     _("the next thread state"), error))
        return FALSE;
    }
  return refuse (error, _("The main thread is not in the interpreter's thread list"));
}

gboolean
pymemd_pep768_locate (guint64                   runtime,
                      guint64                   expected_main_tid,
                      const PymemdPep768Memory *memory,
                      PymemdPep768Target       *target,
                      GError                  **error)
{
  guint8 raw[PYMEMD_PEP768_TABLE_SIZE];
  guint64 table[PYMEMD_PEP768_TABLE_FIELDS];
  guint64 finalizing, tstate, owner;
  gint32 enabled;

  memset (target, 0, sizeof *target);
  if (!read_memory (memory, runtime, raw, sizeof raw, _("the debug offsets"), error))
    return FALSE;
  if (memcmp (raw, PYMEMD_PEP768_COOKIE, 8) != 0)
    return refuse (error, _("The interpreter has no debug offsets (CPython before 3.13)"));
  memcpy (table, raw + 8, sizeof table);
  if (!check_version (table[PYMEMD_PEP768_VERSION], error) || !check_table (table, error))
    return FALSE;
  target->version = table[PYMEMD_PEP768_VERSION];
  target->free_threaded = table[PYMEMD_PEP768_FREE_THREADED] != 0;

  if (!read_u64 (memory, runtime + table[PYMEMD_PEP768_RUNTIME_FINALIZING], &finalizing,
                 _("the finalizing thread"), error))
    return FALSE;
  if (finalizing != 0)
    return refuse (error, _("The interpreter is finalizing"));

  if (!find_main_interpreter (runtime, table, memory, &target->interpreter, error))
    return FALSE;
  if (!read_memory (memory,
                    target->interpreter + table[PYMEMD_PEP768_DEBUGGER_REMOTE_DEBUGGING_ENABLED],
                    &enabled, sizeof enabled, _("the remote debugging switch"), error))
    return FALSE;
  target->remote_debugging_enabled = enabled == 1;

  if (!read_u64 (memory, target->interpreter + table[PYMEMD_PEP768_INTERP_THREADS_MAIN], &tstate,
                 _("the main thread state"), error))
    return FALSE;
  if (tstate == 0)
    return refuse (error, _("The interpreter has no main thread state"));
  if (!check_thread_listed (target->interpreter, tstate, table, memory, error))
    return FALSE;
  if (!read_u64 (memory, tstate + table[PYMEMD_PEP768_THREAD_INTERP], &owner,
                 _("the thread's interpreter"), error) ||
      !read_u64 (memory, tstate + table[PYMEMD_PEP768_THREAD_NATIVE_THREAD_ID],
                 &target->native_thread_id, _("the thread's id"), error))
    return FALSE;
  if (owner != target->interpreter)
    return refuse (error, _("The main thread state belongs to another interpreter"));
  if (expected_main_tid != 0 && target->native_thread_id != expected_main_tid)
    return refuse (error, _("The main thread state is not the process's main thread"));

  memcpy (target->table, table, sizeof table);
  point_at_thread (target, tstate);
  return TRUE;
}

gboolean
pymemd_pep768_select_thread (PymemdPep768Target       *target,
                             guint64                   native_thread_id,
                             const PymemdPep768Memory *memory,
                             GError                  **error)
{
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  const guint64 *table = target->table;
  guint64 thread;

  if (!read_u64 (memory, target->interpreter + table[PYMEMD_PEP768_INTERP_THREADS_HEAD], &thread,
                 _("the thread list"), error))
    return FALSE;
  for (guint n = 0; thread != 0; n++)
    {
      guint64 id, owner;

      if (n >= MAX_THREADS || g_hash_table_contains (seen, &thread))
        return refuse (error, _("The thread list loops or is too long"));
      g_hash_table_add (seen, g_memdup2 (&thread, sizeof thread));
      if (!read_u64 (memory, thread + table[PYMEMD_PEP768_THREAD_NATIVE_THREAD_ID], &id, _("a thread's id"),
                     error) ||
          !read_u64 (memory, thread + table[PYMEMD_PEP768_THREAD_INTERP], &owner, _("the thread's interpreter"),
                     error))
        return FALSE;
      if (id == native_thread_id && owner == target->interpreter)
        {
          target->native_thread_id = id;
          point_at_thread (target, thread);
          return TRUE;
        }
      if (!read_u64 (memory, thread + table[PYMEMD_PEP768_THREAD_NEXT], &thread, _("the next thread state"),
                     error))
        return FALSE;
    }
  g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED,
               _("Thread %llu runs no Python of the main interpreter"), (unsigned long long) native_thread_id);
  return FALSE;
}

gboolean
pymemd_pep768_is_taken (const PymemdPep768Target *target,
                        const PymemdPep768Memory *memory,
                        gboolean                 *taken,
                        GError                  **error)
{
  gint32 pending;

  if (!read_memory (memory, target->pending_call_address, &pending, sizeof pending, _("the pending call flag"),
                    error))
    return FALSE;
  *taken = pending == 0;
  return TRUE;
}

gboolean
pymemd_pep768_withdraw (const PymemdPep768Target *target,
                        const PymemdPep768Memory *memory,
                        gboolean                 *taken,
                        GError                  **error)
{
  const char empty = '\0';
  const gint32 cleared = 0;

  /* The interpreter clears the flag, then copies the path: emptied
   * first, a path copied after our look at the flag is empty. */
  if (!write_memory (memory, target->script_path_address, &empty, 1, _("the script path"), error) ||
      !pymemd_pep768_is_taken (target, memory, taken, error))
    return FALSE;
  if (*taken)
    return TRUE;
  return write_memory (memory, target->pending_call_address, &cleared, sizeof cleared, _("the pending call flag"),
                       error);
}

gboolean
pymemd_pep768_request (const PymemdPep768Target *target,
                       const char               *script_path,
                       const PymemdPep768Memory *memory,
                       GError                  **error)
{
  gsize len = strlen (script_path);
  gint32 pending;
  guint64 eval_breaker;

  if (!target->remote_debugging_enabled)
    return refuse (error, _("Remote debugging is disabled in the interpreter"));
  if (len + 1 > target->script_path_size || script_path[0] != '/')
    return refuse (error, _("The script path is not absolute or too long for PEP 768"));
  if (!read_memory (memory, target->pending_call_address, &pending, sizeof pending,
                    _("the pending call flag"), error))
    return FALSE;
  /* Another debugger's script may be about to be read by the target:
   * overwriting its path would run the wrong file or half of two. */
  if (pending != 0)
    return refuse (error, _("Another remote debugging request is pending"));

  pending = 1;
  if (!write_memory (memory, target->script_path_address, script_path, len + 1,
                     _("the script path"), error) ||
      !write_memory (memory, target->pending_call_address, &pending, sizeof pending,
                     _("the pending call flag"), error) ||
      !read_u64 (memory, target->eval_breaker_address, &eval_breaker, _("the eval breaker"),
                 error))
    return FALSE;
  eval_breaker |= PYMEMD_PEP768_PLEASE_STOP;
  return write_memory (memory, target->eval_breaker_address, &eval_breaker, sizeof eval_breaker,
                       _("the eval breaker"), error);
}
