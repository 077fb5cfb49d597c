/* A share of the scanner's CPU time for each user: what reading one user's processes costs cannot starve the others'. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Each uid has a balance of CPU µs. It grows by RATE µs a second, up to
 * BURST, and each read made for one of the uid's processes spends what it
 * cost, which may take the balance below zero. A uid whose balance is not
 * above zero waits until it is. Clocks are the caller's (monotonic µs),
 * so that no thread or main context is assumed: one thread uses it. */
typedef struct _PymemdCpuShare PymemdCpuShare;

PymemdCpuShare *pymemd_cpu_share_new (guint64 rate_us_per_second,
                                      guint64 burst_us);
void            pymemd_cpu_share_free (PymemdCpuShare *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PymemdCpuShare, pymemd_cpu_share_free)

/* New RATE and BURST; every uid starts again with a full balance. */
void     pymemd_cpu_share_set (PymemdCpuShare *self,
                               guint64         rate_us_per_second,
                               guint64         burst_us);

/* Whether UID's balance at NOW_US is above zero. */
gboolean pymemd_cpu_share_may_spend (PymemdCpuShare *self,
                                     guint32         uid,
                                     gint64          now_us);
/* UID spent COST_US (at least 1 µs is counted) at NOW_US. */
void     pymemd_cpu_share_spend (PymemdCpuShare *self,
                                 guint32         uid,
                                 gint64          cost_us,
                                 gint64          now_us);
/* UID's balance at NOW_US, µs (BURST for a uid that spent nothing). */
gint64   pymemd_cpu_share_get_balance (PymemdCpuShare *self,
                                       guint32         uid,
                                       gint64          now_us);
/* The rate, CPU µs a second. */
guint64  pymemd_cpu_share_get_rate (PymemdCpuShare *self);

/* How often a uid's wait is to be said, at most (µs). */
#define PYMEMD_CPU_SHARE_REPORT_INTERVAL (600 * G_USEC_PER_SEC)
/* Whether UID's wait is to be said (logged) at NOW_US: TRUE at most once
 * every PYMEMD_CPU_SHARE_REPORT_INTERVAL for each uid, however often its
 * share runs out; those said longer ago are forgotten. */
gboolean pymemd_cpu_share_take_report (PymemdCpuShare *self,
                                       guint32         uid,
                                       gint64          now_us);

/* Forgets the uids whose balance is full again at NOW_US: it holds only
 * those that spent lately. Returns how many uids it still holds. */
guint    pymemd_cpu_share_prune (PymemdCpuShare *self,
                                 gint64          now_us);

G_END_DECLS
