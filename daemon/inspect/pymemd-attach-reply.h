/* The one message a pymemd-attach child sends the daemon: what its attach did, or why it failed, in a small fixed GVariant that the daemon checks like any outside input. */
#pragma once

#include <glib.h>

#include "pymemd-injector.h"

G_BEGIN_DECLS

/* Far more than the longest refusal (a reason per thread looked at). */
#define PYMEMD_ATTACH_REPLY_MAX_MESSAGE (16 * 1024)
/* The most the daemon reads of a child's reply. */
#define PYMEMD_ATTACH_REPLY_MAX (PYMEMD_ATTACH_REPLY_MAX_MESSAGE + 256)

/* The reply of an attach that did REPORT (ERROR NULL) or failed with ERROR
 * (REPORT ignored); an error outside PYMEMD_ERROR is sent as FAILED. */
GBytes  *pymemd_attach_reply_new (const PymemdInjectReport *report,
                                  const GError             *error);

/* Reads REPLY: TRUE with what the attach did in REPORT; FALSE with the
 * attach's own error, or PYMEMD_ERROR_PROTOCOL when REPLY is not one
 * pymemd_attach_reply_new () makes (wrong size or type, a version, error
 * code, method or figure out of range, a message that is empty, too long
 * or holds control characters). */
gboolean pymemd_attach_reply_parse (GBytes             *reply,
                                    PymemdInjectReport *report,
                                    GError            **error);

G_END_DECLS
