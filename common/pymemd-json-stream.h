/* Writes a JSON document whose last member is a long array as json-glib's pretty generator writes the whole, one element's text at a time: pymemctl list --json and pymemd --once never hold the tree or text of the whole list. */
#pragma once

#include <stdio.h>

#include <glib.h>

G_BEGIN_DECLS

/* Element I as json-glib's pretty generator writes it on its own (a new
 * string); NULL leaves it out. */
typedef char *(*PymemdJsonElementText) (gpointer data,
                                        guint    i);

/* Writes to OUT, and a newline, the text json-glib's pretty generator
 * writes for the object HEAD with one more member last: MEMBER (a name
 * JSON need not escape), the array of what ELEMENT gives for 0 to N - 1.
 * HEAD is the pretty text of an object of one member or more, or NULL
 * for an object of none. FALSE when OUT fails. */
gboolean pymemd_json_stream_array (FILE                 *out,
                                   const char           *head,
                                   const char           *member,
                                   guint                 n,
                                   PymemdJsonElementText element,
                                   gpointer              data);

G_END_DECLS
