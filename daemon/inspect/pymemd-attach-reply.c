/* The one message a pymemd-attach child sends the daemon: made by the child, checked by the daemon as outside input. */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "pymemd-attach-reply.h"
#include "pymemd-error.h"

#define REPLY_VERSION 1
/* version, ok, error code, error message, method, thread, Python version,
 * and the three hold times of PymemdInjectReport. */
#define REPLY_TYPE    "(ubussiuxxx)"
/* A figure beyond this (a day in µs, Python 99.99) is no measurement. */
#define MAX_US        (G_GINT64_CONSTANT (86400) * G_USEC_PER_SEC)
#define MAX_VERSION   9999

static const PymemdAttachMethod methods[] = {
  PYMEMD_ATTACH_METHOD_PEP768,
  PYMEMD_ATTACH_METHOD_PARKED_THREAD,
  PYMEMD_ATTACH_METHOD_PENDING_CALL,
};

GBytes *
pymemd_attach_reply_new (const PymemdInjectReport *report, const GError *error)
{
  g_autoptr(GVariant) reply = NULL;
  g_autofree char *message = NULL;

  if (error != NULL)
    {
      /* Cut at a character boundary if it ever grew that long. */
      message = g_utf8_make_valid (error->message, -1);
      if (strlen (message) > PYMEMD_ATTACH_REPLY_MAX_MESSAGE)
        *g_utf8_find_prev_char (message, message + PYMEMD_ATTACH_REPLY_MAX_MESSAGE) = '\0';
      for (char *p = message; *p != '\0'; p++)
        if ((guchar) *p < 0x20 || *p == 0x7f)
          *p = ' ';
      if (*message == '\0')
        {
          g_free (message);
          message = g_strdup ("?");
        }
      reply = g_variant_ref_sink (g_variant_new (REPLY_TYPE, REPLY_VERSION, FALSE,
                                                 error->domain == PYMEMD_ERROR ? (guint32) error->code
                                                                               : (guint32) PYMEMD_ERROR_FAILED,
                                                 message, "", 0, 0u, (gint64) 0, (gint64) 0, (gint64) 0));
    }
  else
    reply = g_variant_ref_sink (g_variant_new (REPLY_TYPE, REPLY_VERSION, TRUE, 0u, "",
                                               pymemd_attach_method_name (report->method), report->tid,
                                               report->python_version, report->stopped_us, report->calls_us,
                                               report->held_us));
  return g_variant_get_data_as_bytes (reply);
}

static gboolean
protocol_error (GError **error, const char *what)
{
  g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PROTOCOL, _("The attach process sent a bad reply: %s"), what);
  return FALSE;
}

static gboolean
plain_message (const char *message)
{
  for (const char *p = message; *p != '\0'; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      return FALSE;
  return TRUE;
}

static gboolean
parse_method (const char *name, PymemdAttachMethod *method)
{
  for (guint i = 0; i < G_N_ELEMENTS (methods); i++)
    if (g_str_equal (name, pymemd_attach_method_name (methods[i])))
      {
        *method = methods[i];
        return TRUE;
      }
  return FALSE;
}

static gboolean
is_time (gint64 us)
{
  return us >= 0 && us <= MAX_US;
}

gboolean
pymemd_attach_reply_parse (GBytes *reply, PymemdInjectReport *report, GError **error)
{
  g_autoptr(GVariant) variant = NULL;
  const char *message, *method;
  guint32 version, code, python_version;
  gboolean ok;
  gint32 tid;
  gint64 stopped_us, calls_us, held_us;

  memset (report, 0, sizeof *report);
  if (g_bytes_get_size (reply) == 0)
    return protocol_error (error, _("nothing"));
  if (g_bytes_get_size (reply) > PYMEMD_ATTACH_REPLY_MAX)
    return protocol_error (error, _("too long"));
  variant = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE (REPLY_TYPE), reply, FALSE));
  /* Only the normal form has every string valid UTF-8 and in its bounds. */
  if (!g_variant_is_normal_form (variant))
    return protocol_error (error, _("not a well-formed message"));
  g_variant_get (variant, "(ubu&s&siuxxx)", &version, &ok, &code, &message, &method, &tid, &python_version,
                 &stopped_us, &calls_us, &held_us);
  if (version != REPLY_VERSION)
    return protocol_error (error, _("another version"));
  if (!ok)
    {
      if (code > PYMEMD_ERROR_LAST || *message == '\0' || strlen (message) > PYMEMD_ATTACH_REPLY_MAX_MESSAGE ||
          !plain_message (message) || *method != '\0')
        return protocol_error (error, _("a failure out of bounds"));
      g_set_error_literal (error, PYMEMD_ERROR, (gint) code, message);
      return FALSE;
    }
  if (*message != '\0' || !parse_method (method, &report->method) ||
      (report->method == PYMEMD_ATTACH_METHOD_PEP768 ? tid < 0 : tid <= 0) || python_version > MAX_VERSION ||
      !is_time (stopped_us) || !is_time (calls_us) || !is_time (held_us))
    return protocol_error (error, _("a success out of bounds"));
  report->tid = tid;
  report->python_version = python_version;
  report->stopped_us = stopped_us;
  report->calls_us = calls_us;
  report->held_us = held_us;
  return TRUE;
}
