/* A heap summary a helper sent, validated against docs/helper-protocol.md, and its ledger against the process's pages. */
#pragma once

#include <json-glib/json-glib.h>

#include "pymemd-classify.h"
#include "pymemd-process.h"

G_BEGIN_DECLS

#define PYMEMD_HEAP_SUMMARY_MAX_TYPES 1000
#define PYMEMD_HEAP_SUMMARY_MAX_SITES 1000

typedef struct {
  /* The summary object with only the members of the protocol, each checked
   * against its type and bound: safe to store, to log and to serve. */
  JsonNode *document;
  gint64    taken_at_us;      /* "taken_at" */
  guint64   census_objects;
  guint64   census_bytes;
  guint64   census_small_bytes;
  guint64   census_large_bytes;
  guint64   census_padding_bytes; /* 0 from a helper that did not say */
  gboolean  census_walked;        /* the census counted untracked objects too */
  gboolean  has_pymalloc;
  guint64   pymalloc_arena_bytes;
  guint64   pymalloc_allocated_bytes;
} PymemdHeapSummary;

/* Whether TEXT, a string a helper sent, has at most MAX_CHARS characters of
 * valid UTF-8 and no control character (C0, DEL, C1): what a helper says is
 * logged, stored and printed on terminals, where an escape sequence must
 * not arrive. */
gboolean pymemd_heap_text_ok (const char *text,
                              glong       max_chars);

/* Validates OBJECT (the "summary" member of a helper's message); a copy of
 * what it holds, or PYMEMD_ERROR_PROTOCOL naming the first bad member. */
PymemdHeapSummary *pymemd_heap_summary_new_from_json (JsonNode *object,
                                                      GError  **error);
/* json-glib's parser recurses once per level of nesting and overflows the
 * stack on deep input (100 000 levels fit in a frame); a summary is five
 * levels deep. Whether TEXT (LEN bytes) nests arrays and objects at most
 * PYMEMD_HEAP_JSON_MAX_DEPTH deep and has outside its strings nothing but
 * strict JSON (no 'strings' or comments, which json-glib also reads and
 * which could hide nesting from this count): check before parsing anything
 * untrusted. */
#define PYMEMD_HEAP_JSON_MAX_DEPTH 32
gboolean           pymemd_heap_json_depth_ok (const char *text,
                                              gsize       len);
/* Reads back a summary the history store kept (the document's JSON text). */
PymemdHeapSummary *pymemd_heap_summary_new_from_text (const char *text,
                                                      GError    **error);
void               pymemd_heap_summary_free (PymemdHeapSummary *summary);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PymemdHeapSummary, pymemd_heap_summary_free)

char              *pymemd_heap_summary_to_text (const PymemdHeapSummary *summary);

/* What the process's heap pages hold, in bytes. */
typedef struct {
  guint64 heap_private_dirty;  /* pymalloc + native-heap categories' private dirty */
  guint64 explained;           /* live allocations: small + large below, as far as
                                  the pages hold them */
  guint64 pymalloc_free;       /* arena bytes not in allocated blocks: free blocks,
                                  empty pools, overhead */
  guint64 unexplained;         /* the rest: malloc's allocations that no object owns
                                  (C code's), malloc's free space, objects that only
                                  C code holds */
  /* What explained is made of, as claimed (the pages do not cap these): */
  guint64 small_allocations;   /* pymalloc's allocated blocks, every small allocation
                                  (objects tracked or not, their small buffers, C code's
                                  PyObject_Malloc); without pymalloc's figures the
                                  census's small objects rounded to blocks */
  guint64 large_allocations;   /* allocations over 512 bytes (and numpy's data, always
                                  malloc's), each once, with the object that owns it */
  guint64 padding;             /* of small_allocations: what pymalloc's rounding to its
                                  block sizes adds to the objects the census sized */
} PymemdHeapLedger;

/* The ledger's figures by name, as D-Bus and the history store spell
 * them: PYMEMD_HEAP_LEDGER_N_MEMBERS of them. */
typedef struct {
  const char *name;
  gsize       offset; /* of its guint64 in PymemdHeapLedger */
} PymemdHeapLedgerMember;

#define PYMEMD_HEAP_LEDGER_N_MEMBERS 7
extern const PymemdHeapLedgerMember pymemd_heap_ledger_members[PYMEMD_HEAP_LEDGER_N_MEMBERS];

#define PYMEMD_HEAP_LEDGER_FIGURE(ledger, member) G_STRUCT_MEMBER (guint64, (ledger), (member)->offset)

/* CATEGORY_PRIVATE_DIRTY holds PYMEMD_N_CATEGORIES figures from the
 * process's latest detail pass. The three parts always add up to
 * heap_private_dirty: claims past what the pages hold (arena pages never
 * touched or swapped out, a detail pass older than the summary) are cut,
 * live objects first served, then pymalloc's free space; the summary keeps
 * the raw claims. */
void pymemd_heap_ledger_compute (const PymemdHeapSummary *summary,
                                 const guint64           *category_private_dirty,
                                 PymemdHeapLedger        *ledger);

/* The summary as the D-Bus API serves it (docs/dbus-api.md): a{sv}, with
 * LEDGER as "ledger" when not NULL. */
GVariant *pymemd_heap_summary_to_variant (const PymemdHeapSummary *summary,
                                          const PymemdHeapLedger  *ledger);

/* Keeps SUMMARY (taken over) with PROCESS as its latest, with its LEDGER
 * (NULL: none, the process's pages were not read), until the next one or
 * the process object's end. Accounting's process knows nothing of heaps:
 * the summary rides on it as object data. */
void                     pymemd_heap_summary_keep (PymemdProcess          *process,
                                                   PymemdHeapSummary      *summary,
                                                   const PymemdHeapLedger *ledger);
/* The summary kept with PROCESS and its ledger (NULL: none); NULL before
 * the first. */
const PymemdHeapSummary *pymemd_heap_summary_kept (PymemdProcess           *process,
                                                   const PymemdHeapLedger **ledger);

G_END_DECLS
