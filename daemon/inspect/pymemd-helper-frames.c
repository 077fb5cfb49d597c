/* Makes and takes apart the helper protocol's length-prefixed frames, within their bounds, over plain buffers. */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "pymemd-error.h"
#include "pymemd-helper-frames.h"
#include "pymemd-helper-messages.h"

GBytes *
pymemd_helper_frame_new (const char *text, gsize len)
{
  guint32 header = GUINT32_TO_BE ((guint32) len);
  GByteArray *frame = g_byte_array_sized_new ((guint) (len + sizeof header));

  g_return_val_if_fail (len <= PYMEMD_HELPER_MAX_FRAME, NULL);

  g_byte_array_append (frame, (const guint8 *) &header, sizeof header);
  g_byte_array_append (frame, (const guint8 *) text, (guint) len);
  return g_byte_array_free_to_bytes (frame);
}

void
pymemd_helper_frame_reader_init (PymemdHelperFrameReader *reader)
{
  memset (reader, 0, sizeof *reader);
}

void
pymemd_helper_frame_reader_clear (PymemdHelperFrameReader *reader)
{
  g_clear_pointer (&reader->body, g_byte_array_unref);
  reader->header_len = 0;
  reader->body_len = 0;
}

gsize
pymemd_helper_frame_reader_wanted (const PymemdHelperFrameReader *reader)
{
  if (reader->body == NULL)
    return sizeof reader->header - reader->header_len;
  return reader->body_len - reader->body->len;
}

gboolean
pymemd_helper_frame_reader_is_idle (const PymemdHelperFrameReader *reader)
{
  return reader->body == NULL && reader->header_len == 0;
}

gsize
pymemd_helper_frame_reader_held (const PymemdHelperFrameReader *reader)
{
  return reader->body != NULL ? reader->body->len : 0;
}

gboolean
pymemd_helper_frame_reader_in_body (const PymemdHelperFrameReader *reader)
{
  return reader->body != NULL;
}

/* Takes the header received in full: the body starts empty. */
static gboolean
header_done (PymemdHelperFrameReader *reader, GError **error)
{
  guint32 len;

  memcpy (&len, reader->header, sizeof len);
  len = GUINT32_FROM_BE (len);
  if (len == 0 || len > PYMEMD_HELPER_MAX_FRAME)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PROTOCOL,
                   _("a frame of %u bytes (1 to %d allowed)"), len, PYMEMD_HELPER_MAX_FRAME);
      return FALSE;
    }
  reader->body_len = len;
  reader->body = g_byte_array_new ();
  return TRUE;
}

gboolean
pymemd_helper_frame_reader_add (PymemdHelperFrameReader *reader,
                                const guint8            *data,
                                gsize                    len,
                                GByteArray             **frame,
                                GError                 **error)
{
  g_return_val_if_fail (len <= pymemd_helper_frame_reader_wanted (reader), FALSE);

  *frame = NULL;
  if (reader->body == NULL)
    {
      memcpy (reader->header + reader->header_len, data, len);
      reader->header_len += len;
      if (reader->header_len == sizeof reader->header)
        return header_done (reader, error);
      return TRUE;
    }
  g_byte_array_append (reader->body, data, (guint) len);
  if (reader->body->len == reader->body_len)
    {
      *frame = g_steal_pointer (&reader->body);
      reader->header_len = 0;
      reader->body_len = 0;
    }
  return TRUE;
}

gboolean
pymemd_helper_frame_reader_end (const PymemdHelperFrameReader *reader, GError **error)
{
  if (reader->body != NULL)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PROTOCOL,
                   _("a truncated frame (%u of %u bytes)"), reader->body->len, reader->body_len);
      return FALSE;
    }
  if (reader->header_len > 0)
    {
      g_set_error_literal (error, PYMEMD_ERROR, PYMEMD_ERROR_PROTOCOL,
                           _("a truncated frame header"));
      return FALSE;
    }
  return TRUE;
}
