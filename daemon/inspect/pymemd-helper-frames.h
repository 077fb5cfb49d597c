/* The helper protocol's frames (docs/helper-protocol.md): a 4-byte big-endian length, then 1 to PYMEMD_HELPER_MAX_FRAME bytes; one made from its text, and one taken apart as its bytes come, over plain buffers without a socket. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PYMEMD_HELPER_FRAME_HEADER 4

/* TEXT (LEN bytes) framed: its header, then itself. */
GBytes *pymemd_helper_frame_new (const char *text,
                                 gsize       len);

/* One frame being received: nothing is allocated on the header's word, the
 * body grows as its bytes come. */
typedef struct {
  guint8      header[PYMEMD_HELPER_FRAME_HEADER];
  gsize       header_len; /* bytes of HEADER received */
  GByteArray *body;       /* what came of the frame HEADER announced; NULL: in the header */
  guint32     body_len;
} PymemdHelperFrameReader;

void     pymemd_helper_frame_reader_init  (PymemdHelperFrameReader *reader);
void     pymemd_helper_frame_reader_clear (PymemdHelperFrameReader *reader);

/* How many bytes the part being received (header or body) still wants. */
gsize    pymemd_helper_frame_reader_wanted  (const PymemdHelperFrameReader *reader);
/* Whether no byte of the next frame has come. */
gboolean pymemd_helper_frame_reader_is_idle (const PymemdHelperFrameReader *reader);
/* The bytes of the body received so far (0 in the header). */
gsize    pymemd_helper_frame_reader_held    (const PymemdHelperFrameReader *reader);
/* Whether the next bytes are the body's. */
gboolean pymemd_helper_frame_reader_in_body (const PymemdHelperFrameReader *reader);

/* Takes DATA (LEN bytes, at most what is wanted): *FRAME is set to the
 * body once complete (else NULL). PYMEMD_ERROR_PROTOCOL when the header
 * announces 0 bytes or more than PYMEMD_HELPER_MAX_FRAME. */
gboolean pymemd_helper_frame_reader_add (PymemdHelperFrameReader *reader,
                                         const guint8            *data,
                                         gsize                    len,
                                         GByteArray             **frame,
                                         GError                 **error);

/* The peer ended its stream: PYMEMD_ERROR_PROTOCOL when that cut a frame. */
gboolean pymemd_helper_frame_reader_end (const PymemdHelperFrameReader *reader,
                                         GError                       **error);

G_END_DECLS
