/* A heap summary (GetHeapSummary's a{sv}) for people and as JSON: shared by heap, show and history. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* SUMMARY as JSON with the API's keys and raw numbers; the census's types
 * and tracemalloc's sites as arrays of objects (type, count, bytes and
 * file, line, count, bytes) rather than of tuples. */
JsonNode *pymemctl_heap_json (GVariant *summary);

/* "2026-11-25 19:41:02 (5m ago)": when SUMMARY was taken. */
char *pymemctl_heap_format_taken (GVariant *summary);

/* The ledger in one sentence: the heap pages and what explains them. */
void pymemctl_heap_print_ledger (GVariant *summary);

/* The census: one line of totals, then the largest MAX_TYPES types. */
void pymemctl_heap_print_census (GVariant *summary,
                                 guint     max_types);

/* Who holds the memory (SUMMARY's "retained"), up to MAX_HOLDERS of the
 * holders; nothing when the summary has no retained sizes. */
void pymemctl_heap_print_holders (GVariant *summary,
                                  guint     max_holders);

/* The figures of SUMMARY's ledger, FALSE when it has none. */
gboolean pymemctl_heap_lookup_ledger (GVariant   *summary,
                                      const char *key,
                                      guint64    *value);

/* "builtins.dict +40.0 MiB (+80000), …": what grew (aa{sv}, see
 * GrowthSuspected) on one line; "" when nothing did. */
char *pymemctl_heap_growth_text (GVariant *grew);

/* What grew most over SUMMARIES (aa{sv}, oldest first): the types from the
 * first to the last that can be compared and the holders of the summaries
 * with retained sizes, as GrowthSuspected's "grew"; NULL without two such
 * summaries and without a holder named. */
GVariant *pymemctl_heap_growth (GVariant *summaries);

G_END_DECLS
