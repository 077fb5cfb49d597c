/* Counts events per uid in fixed windows: at most so many per window for each user, and a count of what it refused when such a window ends. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Called when a window of UID in which REFUSED (> 0) events were refused
 * ends; WINDOW_SECONDS is its length. */
typedef void (*PymemdRateLimitEnded) (guint32  uid,
                                      guint    refused,
                                      double   window_seconds,
                                      gpointer user_data);

typedef struct _PymemdRateLimit PymemdRateLimit;

/* PER_WINDOW events per WINDOW_SECONDS for each uid. A uid's window starts
 * with its first event and ends WINDOW_SECONDS later (a source on the
 * thread-default main context), which forgets it; ENDED, when not NULL,
 * then hears how many of its events were refused. */
PymemdRateLimit *pymemd_rate_limit_new (guint                per_window,
                                        double               window_seconds,
                                        PymemdRateLimitEnded ended,
                                        gpointer             user_data);
void             pymemd_rate_limit_free (PymemdRateLimit *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PymemdRateLimit, pymemd_rate_limit_free)

/* PER_WINDOW applies from the next event on; WINDOW_SECONDS to windows
 * opened from now on (those open keep their end). */
void     pymemd_rate_limit_set (PymemdRateLimit *self,
                                guint            per_window,
                                double           window_seconds);

guint    pymemd_rate_limit_get_per_window (PymemdRateLimit *self);

/* Counts one event of UID: TRUE when it is within the uid's budget, FALSE
 * when refused, with RETRY_SECONDS (when not NULL) until its window ends. */
gboolean pymemd_rate_limit_take (PymemdRateLimit *self,
                                 guint32          uid,
                                 double          *retry_seconds);

G_END_DECLS
