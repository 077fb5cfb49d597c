/* What grew most between two heap summaries: the causes GrowthSuspected and pymemctl history name. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Entries named at most, by default. */
#define PYMEMD_HEAP_GROWTH_MAX 5

/* Of SUMMARIES (a list of summaries as GetHeapSummary serves them, a{sv},
 * oldest first), the two to compare: the latest (*LAST) and the oldest of
 * the same kind (*FIRST): both censuses counted the untracked objects, or
 * neither did (the light periodic ones). FALSE when there is no such pair. */
gboolean  pymemd_heap_growth_pick (GVariant *summaries,
                                   gsize    *first,
                                   gsize    *last);

/* The entries of NOW that grew most since SINCE (both a{sv} summaries), at
 * most MAX, the largest growth first, as aa{sv}:
 *   kind       s  "type"
 *   name       s  the type, "module.qualname"
 *   bytes      x  how many bytes its objects gained
 *   count      x  how many objects it gained (may be negative)
 *   bytes_now  t  its bytes in NOW
 * A type SINCE does not list counts as having had nothing then (it was
 * among the types left out, each smaller than the smallest listed). Only
 * growth is named, and none under a hundredth of the largest: an empty
 * list when nothing grew. */
GVariant *pymemd_heap_growth_compute (GVariant *since,
                                      GVariant *now,
                                      guint     max);

/* What grew most over SUMMARIES (a list as pymemd_heap_growth_pick () takes
 * it), as GrowthSuspected and pymemctl history name it, aa{sv}: the types
 * of pymemd_heap_growth_compute () between the pair it picks (none without
 * a pair), then the holders, at most MAX of each:
 *   kind       s  "holder"
 *   name       s  its path and short type, "__main__.W (bytearray)", as
 *                 pymemctl heap --retained shows it
 *   path, type s  the two apart
 *   bytes      x  its retained size in the latest summary with retained
 *                 sizes, less its retained size in the earliest one (0 when
 *                 that one does not list its path); with a single summary
 *                 with retained sizes, its retained size there
 *   count      x  the same for the objects it retains
 *   bytes_now  t  its retained size in the latest
 *   compared   b  whether two summaries were compared (bytes is growth)
 * Only holders a path names, only growth, none under a hundredth of the
 * first holder's, the largest first. Empty when nothing is named. */
GVariant *pymemd_heap_growth_of_summaries (GVariant *summaries,
                                           guint     max);

/* GREW (as pymemd_heap_growth_compute () makes it) on one line:
 * "builtins.dict +40.0 MiB (+80000), …", each name passed through CLEAN
 * (when not NULL: a client's guard for its terminal); "" when empty. */
char     *pymemd_heap_growth_to_text (GVariant *grew,
                                      char   *(*clean) (const char *text));

G_END_DECLS
