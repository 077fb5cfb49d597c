/* Tests the helper protocol's frames over plain buffers: one made, one taken apart whole or a byte at a time, and the frames refused — of 0 bytes, over the bound, cut short. */
#include "config.h"

#include <string.h>

#include "pymemd-error.h"
#include "pymemd-helper-frames.h"
#include "pymemd-helper-messages.h"
#include "testutil.h"

/* The header announcing LEN bytes. */
static void
header_of (guint32 len, guint8 header[PYMEMD_HELPER_FRAME_HEADER])
{
  header[0] = (guint8) (len >> 24);
  header[1] = (guint8) (len >> 16);
  header[2] = (guint8) (len >> 8);
  header[3] = (guint8) len;
}

/* Feeds DATA (LEN bytes) to READER in pieces of at most STEP, as much as
 * it wants at a time: the frames it completes are added to FRAMES. FALSE,
 * with ERROR, at the first refusal. */
static gboolean
feed (PymemdHelperFrameReader *reader, const guint8 *data, gsize len, gsize step, GPtrArray *frames,
      GError **error)
{
  while (len > 0)
    {
      gsize n = MIN (MIN (step, len), pymemd_helper_frame_reader_wanted (reader));
      GByteArray *frame = NULL;

      g_assert_cmpuint (n, >, 0);
      if (!pymemd_helper_frame_reader_add (reader, data, n, &frame, error))
        return FALSE;
      if (frame != NULL)
        g_ptr_array_add (frames, frame);
      data += n;
      len -= n;
    }
  return TRUE;
}

/* A frame made from a message is its length, big-endian, then itself. */
static void
test_new (void)
{
  const char *text = "{\"v\":1}";
  g_autoptr(GBytes) frame = pymemd_helper_frame_new (text, strlen (text));
  gsize size;
  const guint8 *data = g_bytes_get_data (frame, &size);
  guint8 expected[PYMEMD_HELPER_FRAME_HEADER];

  header_of ((guint32) strlen (text), expected);
  g_assert_cmpuint (size, ==, PYMEMD_HELPER_FRAME_HEADER + strlen (text));
  g_assert_cmpmem (data, PYMEMD_HELPER_FRAME_HEADER, expected, sizeof expected);
  g_assert_cmpmem (data + PYMEMD_HELPER_FRAME_HEADER, size - PYMEMD_HELPER_FRAME_HEADER, text, strlen (text));
}

/* Two frames back to back, read whole and a byte at a time: the same two
 * bodies, each complete only with its last byte, and nothing held after. */
static void
test_valid (void)
{
  const char *texts[] = { "{\"type\":\"hello\"}", "\0binary" };
  const gsize lengths[] = { strlen (texts[0]), 7 };
  g_autoptr(GByteArray) stream = g_byte_array_new ();
  const gsize steps[] = { G_MAXSIZE, 1, 3 };

  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr(GBytes) frame = pymemd_helper_frame_new (texts[i], lengths[i]);
      g_byte_array_append (stream, g_bytes_get_data (frame, NULL), (guint) g_bytes_get_size (frame));
    }

  for (guint s = 0; s < G_N_ELEMENTS (steps); s++)
    {
      g_autoptr(GPtrArray) frames = g_ptr_array_new_with_free_func ((GDestroyNotify) g_byte_array_unref);
      g_autoptr(GError) error = NULL;
      PymemdHelperFrameReader reader;

      pymemd_helper_frame_reader_init (&reader);
      g_assert_true (pymemd_helper_frame_reader_is_idle (&reader));
      g_assert_cmpuint (pymemd_helper_frame_reader_wanted (&reader), ==, PYMEMD_HELPER_FRAME_HEADER);
      /* All but the last byte: the second frame is not there yet. */
      g_assert_true (feed (&reader, stream->data, stream->len - 1, steps[s], frames, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (frames->len, ==, 1);
      g_assert_true (pymemd_helper_frame_reader_in_body (&reader));
      g_assert_cmpuint (pymemd_helper_frame_reader_held (&reader), ==, lengths[1] - 1);
      g_assert_cmpuint (pymemd_helper_frame_reader_wanted (&reader), ==, 1);
      g_assert_true (feed (&reader, stream->data + stream->len - 1, 1, steps[s], frames, &error));
      g_assert_cmpuint (frames->len, ==, 2);
      for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
        {
          GByteArray *body = g_ptr_array_index (frames, i);
          g_assert_cmpmem (body->data, body->len, texts[i], lengths[i]);
        }
      g_assert_true (pymemd_helper_frame_reader_is_idle (&reader));
      g_assert_cmpuint (pymemd_helper_frame_reader_held (&reader), ==, 0);
      g_assert_true (pymemd_helper_frame_reader_end (&reader, &error));
      g_assert_no_error (error);
      pymemd_helper_frame_reader_clear (&reader);
    }
}

/* A header announcing LEN bytes, fed to a fresh reader: TRUE, or FALSE with
 * ERROR. */
static gboolean
take_header (PymemdHelperFrameReader *reader, guint32 len, GError **error)
{
  g_autoptr(GPtrArray) frames = g_ptr_array_new_with_free_func ((GDestroyNotify) g_byte_array_unref);
  guint8 header[PYMEMD_HELPER_FRAME_HEADER];
  gboolean ok;

  header_of (len, header);
  pymemd_helper_frame_reader_init (reader);
  ok = feed (reader, header, sizeof header, 1, frames, error);
  g_assert_cmpuint (frames->len, ==, 0);
  return ok;
}

/* A frame of 0 bytes is refused as its header ends. */
static void
test_zero_length (void)
{
  g_autoptr(GError) error = NULL;
  PymemdHelperFrameReader reader;

  g_assert_false (take_header (&reader, 0, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "a frame of 0 bytes"));
  g_assert_false (pymemd_helper_frame_reader_in_body (&reader));
  pymemd_helper_frame_reader_clear (&reader);
}

/* PYMEMD_HELPER_MAX_FRAME bytes are allowed, one more is not, nor the
 * largest length a header can say; nothing is allocated for them. */
static void
test_over_limit (void)
{
  const guint32 refused[] = { PYMEMD_HELPER_MAX_FRAME + 1, G_MAXUINT32 };
  g_autoptr(GError) error = NULL;
  PymemdHelperFrameReader reader;

  g_assert_true (take_header (&reader, PYMEMD_HELPER_MAX_FRAME, &error));
  g_assert_no_error (error);
  g_assert_true (pymemd_helper_frame_reader_in_body (&reader));
  g_assert_cmpuint (pymemd_helper_frame_reader_wanted (&reader), ==, PYMEMD_HELPER_MAX_FRAME);
  g_assert_cmpuint (pymemd_helper_frame_reader_held (&reader), ==, 0);
  pymemd_helper_frame_reader_clear (&reader);

  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autofree char *expected = g_strdup_printf ("a frame of %u bytes (1 to %d allowed)", refused[i],
                                                   PYMEMD_HELPER_MAX_FRAME);

      g_assert_false (take_header (&reader, refused[i], &error));
      g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PROTOCOL);
      g_assert_cmpstr (error->message, ==, expected);
      g_assert_false (pymemd_helper_frame_reader_in_body (&reader));
      g_clear_error (&error);
      pymemd_helper_frame_reader_clear (&reader);
    }
}

/* A stream that ends inside a header, or inside a body, ends a frame
 * short; one that ends between frames does not. */
static void
test_truncated (void)
{
  g_autoptr(GPtrArray) frames = g_ptr_array_new_with_free_func ((GDestroyNotify) g_byte_array_unref);
  g_autoptr(GError) error = NULL;
  PymemdHelperFrameReader reader;
  guint8 header[PYMEMD_HELPER_FRAME_HEADER];

  pymemd_helper_frame_reader_init (&reader);
  g_assert_true (pymemd_helper_frame_reader_end (&reader, &error));
  g_assert_no_error (error);

  header_of (10, header);
  g_assert_true (feed (&reader, header, 2, 1, frames, &error));
  g_assert_false (pymemd_helper_frame_reader_is_idle (&reader));
  g_assert_false (pymemd_helper_frame_reader_end (&reader, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PROTOCOL);
  g_assert_cmpstr (error->message, ==, "a truncated frame header");
  g_clear_error (&error);

  g_assert_true (feed (&reader, header + 2, 2, 1, frames, &error));
  g_assert_false (pymemd_helper_frame_reader_end (&reader, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PROTOCOL);
  g_assert_cmpstr (error->message, ==, "a truncated frame (0 of 10 bytes)");
  g_clear_error (&error);

  g_assert_true (feed (&reader, (const guint8 *) "{\"v\":", 5, 2, frames, &error));
  g_assert_cmpuint (pymemd_helper_frame_reader_held (&reader), ==, 5);
  g_assert_false (pymemd_helper_frame_reader_end (&reader, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PROTOCOL);
  g_assert_cmpstr (error->message, ==, "a truncated frame (5 of 10 bytes)");
  g_clear_error (&error);
  g_assert_cmpuint (frames->len, ==, 0);

  /* Cleared, the reader holds nothing and waits for a header again. */
  pymemd_helper_frame_reader_clear (&reader);
  g_assert_true (pymemd_helper_frame_reader_is_idle (&reader));
  g_assert_cmpuint (pymemd_helper_frame_reader_held (&reader), ==, 0);
  g_assert_cmpuint (pymemd_helper_frame_reader_wanted (&reader), ==, PYMEMD_HELPER_FRAME_HEADER);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/helper-frames/new", test_new);
  g_test_add_func ("/helper-frames/valid", test_valid);
  g_test_add_func ("/helper-frames/zero-length", test_zero_length);
  g_test_add_func ("/helper-frames/over-limit", test_over_limit);
  g_test_add_func ("/helper-frames/truncated", test_truncated);
  return g_test_run ();
}
