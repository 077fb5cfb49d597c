/* Counts events per uid in fixed windows: the log lines about one user's helpers and one user's Rescan calls are bounded by it, whatever other users do. */
#include "config.h"

#include "pymemd-rate-limit.h"

typedef struct {
  PymemdRateLimit *limit;
  guint32          uid;
  gint64           end;     /* monotonic µs */
  guint            taken;
  guint            refused;
  GSource         *source;  /* at END: reports and forgets the window */
} Window;

struct _PymemdRateLimit
{
  guint                per_window;
  double               window_seconds;
  PymemdRateLimitEnded ended;
  gpointer             user_data;
  GMainContext        *context;
  GHashTable          *windows; /* uid -> Window */
};

static void
window_free (gpointer data)
{
  Window *window = data;

  g_source_destroy (window->source);
  g_source_unref (window->source);
  g_free (window);
}

static gboolean
window_ended (gpointer data)
{
  Window *window = data;
  PymemdRateLimit *self = window->limit;
  guint32 uid = window->uid;
  guint refused = window->refused;

  g_hash_table_remove (self->windows, GUINT_TO_POINTER (uid)); /* frees WINDOW */
  if (refused > 0 && self->ended != NULL)
    self->ended (uid, refused, self->window_seconds, self->user_data);
  return G_SOURCE_REMOVE;
}

PymemdRateLimit *
pymemd_rate_limit_new (guint per_window, double window_seconds, PymemdRateLimitEnded ended,
                       gpointer user_data)
{
  PymemdRateLimit *self = g_new0 (PymemdRateLimit, 1);

  g_return_val_if_fail (window_seconds > 0, NULL);
  self->per_window = per_window;
  self->window_seconds = window_seconds;
  self->ended = ended;
  self->user_data = user_data;
  self->context = g_main_context_ref_thread_default ();
  self->windows = g_hash_table_new_full (NULL, NULL, NULL, window_free);
  return self;
}

void
pymemd_rate_limit_free (PymemdRateLimit *self)
{
  /* Refusals of windows still open go unreported: their owner is going. */
  g_hash_table_unref (self->windows);
  g_main_context_unref (self->context);
  g_free (self);
}

void
pymemd_rate_limit_set (PymemdRateLimit *self, guint per_window, double window_seconds)
{
  g_return_if_fail (window_seconds > 0);
  self->per_window = per_window;
  self->window_seconds = window_seconds;
}

guint
pymemd_rate_limit_get_per_window (PymemdRateLimit *self)
{
  return self->per_window;
}

gboolean
pymemd_rate_limit_take (PymemdRateLimit *self, guint32 uid, double *retry_seconds)
{
  Window *window = g_hash_table_lookup (self->windows, GUINT_TO_POINTER (uid));

  if (window == NULL)
    {
      guint ms = (guint) (self->window_seconds * 1000 + 0.5);

      window = g_new0 (Window, 1);
      window->limit = self;
      window->uid = uid;
      window->end = g_get_monotonic_time () + (gint64) ms * 1000;
      window->source = g_timeout_source_new (ms);
      g_source_set_callback (window->source, window_ended, window, NULL);
      g_source_attach (window->source, self->context);
      g_hash_table_insert (self->windows, GUINT_TO_POINTER (uid), window);
    }
  if (window->taken < self->per_window)
    {
      window->taken++;
      return TRUE;
    }
  window->refused++;
  if (retry_seconds != NULL)
    *retry_seconds = MAX (window->end - g_get_monotonic_time (), 0) / (double) G_USEC_PER_SEC;
  return FALSE;
}
