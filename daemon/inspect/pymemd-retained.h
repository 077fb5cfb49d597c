/* Who holds the memory: the holders an analysis of the object graph found (retained sizes, as Eclipse MAT and Chrome DevTools define them), the paths a person recognises that reach them, and how they are served, kept and compared. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The most holders an answer lists: their paths' names fit in a frame. */
#define PYMEMD_HEAP_MAX_HOLDERS 200

/* What holds the path's first object (docs/helper-protocol.md). */
typedef enum {
  PYMEMD_ROOT_NONE = 0,            /* nothing the helper named */
  PYMEMD_ROOT_GLOBAL = 1,          /* a module's global */
  PYMEMD_ROOT_CLASS_ATTRIBUTE = 2, /* a class's attribute */
  PYMEMD_ROOT_LOCAL = 3,           /* a local variable of a thread's frame */
} PymemdRootKind;

typedef enum {
  PYMEMD_HOLDER_ROOT,        /* a root's object: freed with the root */
  PYMEMD_HOLDER_SHARED,      /* reached from several roots: no one of them frees it */
  PYMEMD_HOLDER_NESTED,      /* held by the holder above it */
  PYMEMD_HOLDER_OUTSIDE,     /* what nothing in the graph refers to (C code, the interpreter) holds */
  PYMEMD_HOLDER_UNREACHABLE, /* cycles no root reaches: garbage awaiting a collection */
} PymemdHolderKind;

typedef struct {
  PymemdHolderKind kind;
  guint            depth;            /* 0, or one more than the holder it is nested in */
  char            *type;             /* "module.qualname"; NULL for OUTSIDE and UNREACHABLE */
  guint64          address;
  guint64          retained_bytes;   /* freed if it were gone: its dominator subtree */
  guint64          retained_objects;
  guint64          shallow_bytes;
  /* The path: a root's object, the objects after it, the holder last. */
  PymemdRootKind   root_kind;
  guint64          root_container;   /* the root's module namespace, class or frame */
  GArray          *path;             /* guint64 addresses */
  GPtrArray       *path_types;       /* char *: each object's type */
  guint            elided;           /* objects of a long path left out before its last */
  /* Once named: the root's names (module and name; class and name;
   * thread, function and local), and each step's label ("[3]", ".cache",
   * "['users']"; NULL where the helper could not tell). */
  GStrv            root_names;
  GPtrArray       *step_names;
  char            *path_text;        /* e.g. __main__.app.cache['users'] */
} PymemdHolder;

typedef struct {
  gboolean   complete;
  char      *incomplete;       /* why not, when not complete */
  guint64    objects;          /* in the graph, each once */
  guint64    references;
  guint64    dangling;         /* references to objects the walk did not declare */
  guint64    duplicates;       /* objects declared more than once */
  guint64    roots;
  guint64    bytes;            /* of the objects the roots reach, or the groups hold */
  guint64    outside_bytes;
  guint64    outside_objects;
  guint64    unreachable_bytes;
  guint64    unreachable_objects;
  double     walk_seconds;     /* the helper's walk */
  double     gil_max_hold;     /* ... its longest hold of the GIL */
  double     analysis_seconds; /* the daemon's */
  guint64    memory_peak;      /* bytes the daemon's analysis held at most */
  GPtrArray *holders;          /* PymemdHolder, in tree order */
} PymemdRetained;

PymemdRetained *pymemd_retained_new (void);
void            pymemd_retained_free (PymemdRetained *retained);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PymemdRetained, pymemd_retained_free)
void            pymemd_holder_free (PymemdHolder *holder);

/* The "paths" of a "name" request for the holders whose path starts at a
 * root, or NULL when none does; STEPS receives each path's number of steps
 * (guint), which the answer must match. */
JsonNode *pymemd_retained_name_request (const PymemdRetained *retained,
                                        GArray              **steps);
/* Whether NAMES (the "names" member of the helper's answer) answers a
 * request of STEPS: PYMEMD_ERROR_PROTOCOL naming what is wrong. */
gboolean  pymemd_retained_names_check (JsonNode     *names,
                                       const GArray *steps,
                                       GError      **error);
/* Takes the names (checked) and writes each holder's path text; without
 * NAMES, the paths show types only. */
void      pymemd_retained_set_names (PymemdRetained *retained,
                                     JsonNode       *names);

/* As GetHeapSummary serves it ("retained", docs/dbus-api.md), and as the
 * history keeps it. */
GVariant       *pymemd_retained_to_variant (const PymemdRetained *retained);
JsonNode       *pymemd_retained_to_json (const PymemdRetained *retained);
PymemdRetained *pymemd_retained_new_from_json (JsonNode *node,
                                               GError  **error);

/* The holders of AFTER whose retained bytes grew most since BEFORE (by
 * path), at most MAX, largest growth first: a(ssx) path, type, growth in
 * bytes (negative for one that shrank, which is never listed). */
GVariant *pymemd_retained_grown (const PymemdRetained *before,
                                 const PymemdRetained *after,
                                 guint                 max);

G_END_DECLS
