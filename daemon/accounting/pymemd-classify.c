/* Names each mapping's purpose from its path, permissions, shape and neighbours, using only what smaps shows. */
#include "config.h"

#include <string.h>

#include "pymemd-arenas.h"
#include "pymemd-classify.h"

static const char *const category_names[PYMEMD_N_CATEGORIES] = {
  [PYMEMD_CATEGORY_PYMALLOC] = "pymalloc",
  [PYMEMD_CATEGORY_NATIVE_HEAP] = "native-heap",
  [PYMEMD_CATEGORY_STACK] = "stack",
  [PYMEMD_CATEGORY_INTERPRETER] = "interpreter",
  [PYMEMD_CATEGORY_EXTENSIONS] = "extensions",
  [PYMEMD_CATEGORY_LIBRARIES] = "libraries",
  [PYMEMD_CATEGORY_FILES] = "files",
  [PYMEMD_CATEGORY_SHMEM] = "shmem",
  [PYMEMD_CATEGORY_OTHER] = "other",
};

/* glibc reserves each per-thread malloc heap as one HEAP_MAX_SIZE-aligned
 * block (64 MiB on 64-bit): a rw-p head and a ---p tail. */
#define GLIBC_HEAP_MAX_SIZE (64u * 1024 * 1024)
/* Thread stack guards are a few pages; anything bigger is a reservation. */
#define MAX_GUARD_SIZE (1024u * 1024)

const char *
pymemd_category_name (PymemdCategory category)
{
  g_return_val_if_fail (category < PYMEMD_N_CATEGORIES, NULL);
  return category_names[category];
}

guint64
pymemd_pymalloc_arena_size (guint python_version)
{
  /* 3.10 turned on USE_LARGE_ARENAS: 1 MiB arenas on 64-bit; 256 KiB before. */
  if (python_version >= 310)
    return 1024 * 1024;
  return 256 * 1024;
}

static guint64
mapping_size (const PymemdMapping *m)
{
  return m->end - m->start;
}

static gboolean
is_anonymous (const PymemdMapping *m)
{
  return m->path == NULL || g_str_has_prefix (m->path, "[anon:");
}

static gboolean
has_perms (const PymemdMapping *m, const char *perms)
{
  return memcmp (m->perms, perms, 4) == 0;
}

static const PymemdMapping *
adjacent (GArray *mappings, guint i, int step)
{
  const PymemdMapping *m = &g_array_index (mappings, PymemdMapping, i);
  const PymemdMapping *n;

  if ((step < 0 && i == 0) || (step > 0 && i + 1 >= mappings->len))
    return NULL;
  n = &g_array_index (mappings, PymemdMapping, i + step);
  if (step < 0 ? n->end != m->start : n->start != m->end)
    return NULL;
  return n;
}

static gboolean
is_guard (const PymemdMapping *m)
{
  return m != NULL && is_anonymous (m) && has_perms (m, "---p") &&
         mapping_size (m) <= MAX_GUARD_SIZE;
}

/* A thread stack is a rw-p anonymous block right above a small ---p guard
 * (stacks grow down, glibc puts the guard at the low end). */
static gboolean
is_thread_stack (GArray *mappings, guint i)
{
  const PymemdMapping *m = &g_array_index (mappings, PymemdMapping, i);
  const PymemdMapping *above;

  if (is_guard (m))
    {
      above = adjacent (mappings, i, +1);
      return above != NULL && is_anonymous (above) && has_perms (above, "rw-p") &&
             is_guard (m) && !is_guard (adjacent (mappings, i, -1));
    }
  return is_anonymous (m) && has_perms (m, "rw-p") && is_guard (adjacent (mappings, i, -1));
}

static gboolean
is_glibc_thread_heap (GArray *mappings, guint i)
{
  const PymemdMapping *m = &g_array_index (mappings, PymemdMapping, i);
  const PymemdMapping *tail;

  if (has_perms (m, "---p"))
    {
      const PymemdMapping *head = adjacent (mappings, i, -1);
      return m->end % GLIBC_HEAP_MAX_SIZE == 0 && head != NULL && is_anonymous (head) &&
             head->start % GLIBC_HEAP_MAX_SIZE == 0;
    }
  if (m->start % GLIBC_HEAP_MAX_SIZE != 0)
    return FALSE;
  tail = adjacent (mappings, i, +1);
  if (tail == NULL)
    return mapping_size (m) == GLIBC_HEAP_MAX_SIZE;
  return is_anonymous (tail) && has_perms (tail, "---p") &&
         tail->end % GLIBC_HEAP_MAX_SIZE == 0;
}

/* A private rw-p anonymous mapping made only of the interpreter's arenas. */
static gboolean
is_known_arenas (const PymemdMapping *m, const PymemdClassifyContext *context)
{
  return context->arenas != NULL && m->path == NULL && has_perms (m, "rw-p") &&
         pymemd_arenas_overlap (context->arenas, m->start, m->end) == mapping_size (m);
}

static PymemdCategory
classify_anonymous (GArray *mappings, guint i, const PymemdClassifyContext *context)
{
  const PymemdMapping *m = &g_array_index (mappings, PymemdMapping, i);

  /* Interpreters that name their arenas (PR_SET_VMA_ANON_NAME) say so. */
  if (m->path != NULL && strstr (m->path, "pymalloc") != NULL)
    return PYMEMD_CATEGORY_PYMALLOC;
  if (m->perms[3] == 's')
    return PYMEMD_CATEGORY_SHMEM;
  if (is_known_arenas (m, context))
    return PYMEMD_CATEGORY_PYMALLOC;
  if (is_anonymous (m) && m->path == NULL && is_thread_stack (mappings, i))
    return PYMEMD_CATEGORY_STACK;
  if (is_glibc_thread_heap (mappings, i))
    return PYMEMD_CATEGORY_NATIVE_HEAP;
  if (has_perms (m, "---p"))
    return PYMEMD_CATEGORY_OTHER;
  /* Known arenas decide: a mapping only partly made of them (the kernel
   * merged them with their neighbours) is native heap here, and the
   * scanner moves the arenas' share of it. */
  if (context->arenas != NULL)
    return PYMEMD_CATEGORY_NATIVE_HEAP;
  /* The guess: pymalloc mmaps whole arenas; adjacent ones merge into one
   * VMA, so any whole number of arenas fits the shape. */
  if (m->path == NULL && has_perms (m, "rw-p") &&
      mapping_size (m) % pymemd_pymalloc_arena_size (context->python_version) == 0)
    return PYMEMD_CATEGORY_PYMALLOC;
  return PYMEMD_CATEGORY_NATIVE_HEAP;
}

static PymemdCategory
classify_pseudo (const char *path)
{
  if (strcmp (path, "[heap]") == 0)
    return PYMEMD_CATEGORY_NATIVE_HEAP;
  if (g_str_has_prefix (path, "[stack"))
    return PYMEMD_CATEGORY_STACK;
  if (g_str_has_prefix (path, "[anon_shmem"))
    return PYMEMD_CATEGORY_SHMEM;
  return PYMEMD_CATEGORY_OTHER;
}

static gboolean
is_shared_object (const char *basename)
{
  const char *so = strstr (basename, ".so");
  return so != NULL && (so[3] == '\0' || so[3] == '.');
}

/* The kernel appends " (deleted)" to files unlinked since they were
 * mapped, in maps and in the exe link alike (an upgraded interpreter). */
static char *
strip_deleted (const char *path)
{
  if (g_str_has_suffix (path, " (deleted)"))
    return g_strndup (path, strlen (path) - strlen (" (deleted)"));
  return g_strdup (path);
}

gboolean
pymemd_mapping_paths_equal (const char *a, const char *b)
{
  g_autofree char *x = strip_deleted (a);
  g_autofree char *y = strip_deleted (b);

  return strcmp (x, y) == 0;
}

static PymemdCategory
classify_file (const PymemdMapping *m, const PymemdClassifyContext *context)
{
  g_autofree char *path = NULL;
  g_autofree char *exe = NULL;
  const char *basename;

  /* shmem first: these live under /dev and are shared whatever their name. */
  if (g_str_has_prefix (m->path, "/memfd:") || g_str_has_prefix (m->path, "/dev/") ||
      g_str_has_prefix (m->path, "/SYSV"))
    return PYMEMD_CATEGORY_SHMEM;

  path = strip_deleted (m->path);
  exe = context->exe_path != NULL ? strip_deleted (context->exe_path) : NULL;
  basename = strrchr (path, '/');
  basename = basename != NULL ? basename + 1 : path;

  /* The file discovery found the interpreter in: the executable, a
   * libpython, or the python a dynamic loader was asked to run. */
  if (context->interpreter_path != NULL)
    {
      if (pymemd_mapping_paths_equal (path, context->interpreter_path))
        return PYMEMD_CATEGORY_INTERPRETER;
    }
  else if (g_str_has_prefix (basename, "libpython"))
    return PYMEMD_CATEGORY_INTERPRETER;
  if (exe != NULL && strcmp (path, exe) == 0)
    return context->exe_is_python ? PYMEMD_CATEGORY_INTERPRETER : PYMEMD_CATEGORY_LIBRARIES;
  if (is_shared_object (basename))
    {
      if (strstr (path, "/lib-dynload/") != NULL || strstr (path, "/site-packages/") != NULL ||
          strstr (path, "/dist-packages/") != NULL || strstr (basename, ".cpython-") != NULL ||
          strstr (basename, ".abi3.so") != NULL)
        return PYMEMD_CATEGORY_EXTENSIONS;
      return PYMEMD_CATEGORY_LIBRARIES;
    }
  if (m->perms[2] == 'x')
    return PYMEMD_CATEGORY_LIBRARIES;
  return PYMEMD_CATEGORY_FILES;
}

void
pymemd_classify_mappings (GArray *mappings, const PymemdClassifyContext *context)
{
  for (guint i = 0; i < mappings->len; i++)
    {
      PymemdMapping *m = &g_array_index (mappings, PymemdMapping, i);

      if (is_anonymous (m))
        m->category = classify_anonymous (mappings, i, context);
      else if (m->path[0] == '[')
        m->category = classify_pseudo (m->path);
      else
        m->category = classify_file (m, context);
    }
}
