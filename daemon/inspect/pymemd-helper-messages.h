/* The messages of the helper protocol (docs/helper-protocol.md) as JSON text: the requests the daemon sends, built with json-glib, and the checks every member of a message the helper sent must pass. No socket, no state. */
#pragma once

#include <json-glib/json-glib.h>

#include "pymemd-heap-graph.h"
#include "pymemd-heap-summary.h"

G_BEGIN_DECLS

#define PYMEMD_HELPER_PROTOCOL_VERSION 1
#define PYMEMD_HELPER_MAX_FRAME        (1024 * 1024)
/* A hello, or a bootstrap's "failed", is a few hundred bytes; its longest
 * members (1024 characters of message) escaped as JSON fit in this. */
#define PYMEMD_HELPER_MAX_FIRST_FRAME  (16 * 1024)

typedef struct {
  guint    top;     /* types listed, 1..1000 */
  guint    sites;   /* allocation sites listed, 0..1000 */
  int      trace;   /* -1 leave tracemalloc, 0 stop, 1..100 start with that many frames */
  gboolean collect; /* gc.collect () first */
  double   budget;  /* seconds the census may take, 0.05..60 */
  gboolean light;   /* only the objects the collector tracks: the periodic summaries' census */
  /* The object graph for retained sizes, when GRAPH_MEMORY is not 0: the
   * bytes the daemon gives its analysis (which bounds the objects and
   * references the request announces). Not sent. */
  gsize    graph_memory;
} PymemdHeapRequest;

/* top 20, sites 10, trace -1, no collect, budget 5 s, not light, no graph. */
void pymemd_heap_request_init (PymemdHeapRequest *request);

/* Whether REQUEST asks for what a helper may be asked (top 1…1000, sites
 * 0…1000, trace −1…100, a budget of 0.05…60 s); else INVALID_ARGS. */
gboolean    pymemd_heap_request_validate (const PymemdHeapRequest *request,
                                          GError                 **error);
/* The "request" message of id ID for REQUEST, and the "name" one for
 * PATHS (the holders' paths to name): one line of JSON each. */
char       *pymemd_helper_message_request (guint32                  id,
                                           const PymemdHeapRequest *request);
char       *pymemd_helper_message_name    (guint32   id,
                                           JsonNode *paths);

/* The integer member NAME of OBJECT from MIN to MAX, or FALSE. */
gboolean    pymemd_helper_message_int     (JsonObject *object,
                                           const char *name,
                                           gint64      min,
                                           gint64      max,
                                           gint64     *value);
/* The string member NAME of OBJECT of at most MAX_CHARS, without control
 * characters, or NULL. */
const char *pymemd_helper_message_string  (JsonObject *object,
                                           const char *name,
                                           glong       max_chars);
/* Whether NONCE is 32 lowercase hexadecimal digits. */
gboolean    pymemd_helper_nonce_is_valid  (const char *nonce);

G_END_DECLS
