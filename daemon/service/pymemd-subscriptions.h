/* Who asked for MemoryChanged signals, with which thresholds, and what each was last told: no D-Bus in here. */
#pragma once

#include <glib.h>

#include "pymemd-auth.h"
#include "pymemd-process.h"

G_BEGIN_DECLS

/* Bounds on what one Subscribe call may ask, and on all subscriptions.
 * Below them, each user's share is bounded ([limits]): 64 subscriptions per
 * uid and 4096 pids per subscription by default. */
#define PYMEMD_SUBSCRIPTION_MAX_OPTIONS 16
#define PYMEMD_SUBSCRIPTION_MAX_PIDS    4096
#define PYMEMD_SUBSCRIPTIONS_MAX_TOTAL  4096

typedef struct {
  GArray  *pids;               /* guint32, NULL: every visible process */
  guint64  min_change_bytes;
  double   min_change_percent; /* 0: not a condition */
  gint64   min_interval_us;
} PymemdSubscriptionOptions;

void     pymemd_subscription_options_clear (PymemdSubscriptionOptions *options);

/* Validates an a{sv} of Subscribe options. DEFAULT_MIN_BYTES applies when
 * no threshold is given; MIN_INTERVAL_FLOOR_US is the least min-interval. */
gboolean pymemd_subscription_options_parse (GVariant                  *dict,
                                            guint64                    default_min_bytes,
                                            gint64                     min_interval_floor_us,
                                            PymemdSubscriptionOptions *options,
                                            GError                   **error);

typedef struct _PymemdSubscriptions PymemdSubscriptions;

PymemdSubscriptions *pymemd_subscriptions_new (guint max_per_client);
void                 pymemd_subscriptions_free (PymemdSubscriptions *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PymemdSubscriptions, pymemd_subscriptions_free)

void  pymemd_subscriptions_set_max_per_client (PymemdSubscriptions *self,
                                               guint                max_per_client);
/* What one user may hold over all its clients: subscriptions, and pids in
 * each. New bounds refuse new subscriptions, and keep those there. */
void  pymemd_subscriptions_set_uid_limits (PymemdSubscriptions *self,
                                           guint                max_per_uid,
                                           guint                max_pids);

/* Adds a subscription for SENDER, taking OPTIONS' contents. Its baseline is
 * each process's sample now: only changes from here on are signalled.
 * PYMEMD_ERROR_LIMIT_EXCEEDED past the client's, the viewer's uid's or the
 * daemon's subscriptions, or with more pids than a subscription may list. */
guint pymemd_subscriptions_add (PymemdSubscriptions       *self,
                                const char                *sender,
                                const PymemdViewer        *viewer,
                                PymemdSubscriptionOptions *options,
                                GPtrArray                 *processes,
                                GError                   **error);
gboolean pymemd_subscriptions_remove (PymemdSubscriptions *self,
                                      const char          *sender,
                                      guint                id,
                                      GError             **error);
/* Drops every subscription of SENDER (it left the bus); how many. */
guint pymemd_subscriptions_remove_sender (PymemdSubscriptions *self,
                                          const char          *sender);
guint pymemd_subscriptions_count (PymemdSubscriptions *self);
guint pymemd_subscriptions_count_for (PymemdSubscriptions *self,
                                      const char          *sender);
guint pymemd_subscriptions_count_for_uid (PymemdSubscriptions *self,
                                          guint32              uid);

typedef void (*PymemdSubscriptionEmit) (const char    *sender,
                                        guint          id,
                                        PymemdProcess *process,
                                        gpointer       user_data);

/* After a tick: calls EMIT once per (subscription, process) whose PSS moved
 * past the subscription's thresholds since it was last told, at most once
 * per min-interval, for processes its viewer may see. NOW is monotonic µs. */
void  pymemd_subscriptions_evaluate (PymemdSubscriptions   *self,
                                     GPtrArray             *processes,
                                     gint64                 now,
                                     PymemdSubscriptionEmit emit,
                                     gpointer               user_data);

/* Calls EMIT for every subscription that wants PROCESS (its pids, if any,
 * include it, and its viewer may see it in detail). */
void  pymemd_subscriptions_foreach_wanting (PymemdSubscriptions   *self,
                                            PymemdProcess         *process,
                                            PymemdSubscriptionEmit emit,
                                            gpointer               user_data);

G_END_DECLS
