/* Per-uid balances of CPU time, refilled at a fixed rate: the scanner's detail reads and discovery's looks draw on them. */
#include "config.h"

#include "pymemd-cpu-share.h"

typedef struct {
  gint64 balance; /* µs at UPDATED */
  gint64 updated; /* monotonic µs */
} Account;

struct _PymemdCpuShare
{
  guint64     rate;  /* µs of balance a second */
  guint64     burst; /* µs */
  GHashTable *accounts; /* uid -> Account; a uid absent has a full balance */
  GHashTable *reported; /* uid -> monotonic µs its wait was last said, within the interval */
};

PymemdCpuShare *
pymemd_cpu_share_new (guint64 rate_us_per_second, guint64 burst_us)
{
  PymemdCpuShare *self = g_new0 (PymemdCpuShare, 1);

  self->accounts = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  self->reported = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  pymemd_cpu_share_set (self, rate_us_per_second, burst_us);
  return self;
}

void
pymemd_cpu_share_free (PymemdCpuShare *self)
{
  if (self == NULL)
    return;
  g_hash_table_unref (self->accounts);
  g_hash_table_unref (self->reported);
  g_free (self);
}

void
pymemd_cpu_share_set (PymemdCpuShare *self, guint64 rate_us_per_second, guint64 burst_us)
{
  /* Bounded so that the sums below cannot overflow: an hour a second. */
  self->rate = MIN (rate_us_per_second, (guint64) 3600 * G_USEC_PER_SEC);
  self->burst = MIN (burst_us, (guint64) 3600 * G_USEC_PER_SEC);
  g_hash_table_remove_all (self->accounts);
}

/* ACCOUNT's balance brought to NOW_US. */
static gint64
refill (PymemdCpuShare *self, Account *account, gint64 now_us)
{
  gint64 elapsed = now_us - account->updated;
  guint64 gained;

  /* A clock that went back gives nothing (monotonic: it does not). */
  if (elapsed <= 0)
    return account->balance;
  gained = (guint64) MIN (elapsed, (gint64) 3600 * G_USEC_PER_SEC) * self->rate / G_USEC_PER_SEC;
  if ((gint64) gained >= (gint64) self->burst - account->balance)
    {
      account->balance = (gint64) self->burst;
      account->updated = now_us;
    }
  else if (gained > 0)
    {
      /* Only the time the whole µs gained stand for is used up: called
       * often, the fractions would otherwise be lost every time. */
      account->balance += (gint64) gained;
      account->updated += (gint64) (gained * G_USEC_PER_SEC / self->rate);
    }
  return account->balance;
}

gint64
pymemd_cpu_share_get_balance (PymemdCpuShare *self, guint32 uid, gint64 now_us)
{
  Account *account = g_hash_table_lookup (self->accounts, GUINT_TO_POINTER (uid));

  return account != NULL ? refill (self, account, now_us) : (gint64) self->burst;
}

gboolean
pymemd_cpu_share_may_spend (PymemdCpuShare *self, guint32 uid, gint64 now_us)
{
  return pymemd_cpu_share_get_balance (self, uid, now_us) > 0;
}

void
pymemd_cpu_share_spend (PymemdCpuShare *self, guint32 uid, gint64 cost_us, gint64 now_us)
{
  Account *account = g_hash_table_lookup (self->accounts, GUINT_TO_POINTER (uid));

  if (account == NULL)
    {
      account = g_new0 (Account, 1);
      account->balance = (gint64) self->burst;
      account->updated = now_us;
      g_hash_table_insert (self->accounts, GUINT_TO_POINTER (uid), account);
    }
  else
    refill (self, account, now_us);
  /* One read costs at most an hour (it is bounded far below that): the
   * balance stays far from overflowing. */
  cost_us = CLAMP (cost_us, 1, (gint64) 3600 * G_USEC_PER_SEC);
  account->balance = MAX (account->balance - cost_us, -(gint64) 3600 * G_USEC_PER_SEC);
}

guint64
pymemd_cpu_share_get_rate (PymemdCpuShare *self)
{
  return self->rate;
}

gboolean
pymemd_cpu_share_take_report (PymemdCpuShare *self, guint32 uid, gint64 now_us)
{
  gint64 *said = g_hash_table_lookup (self->reported, GUINT_TO_POINTER (uid));

  if (said != NULL && now_us - *said < PYMEMD_CPU_SHARE_REPORT_INTERVAL)
    return FALSE;
  if (said == NULL)
    {
      GHashTableIter iter;
      gpointer value;

      /* Only the uids said within the interval are held. */
      g_hash_table_iter_init (&iter, self->reported);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        if (now_us - *(gint64 *) value >= PYMEMD_CPU_SHARE_REPORT_INTERVAL)
          g_hash_table_iter_remove (&iter);
      said = g_new (gint64, 1);
      g_hash_table_insert (self->reported, GUINT_TO_POINTER (uid), said);
    }
  *said = now_us;
  return TRUE;
}

guint
pymemd_cpu_share_prune (PymemdCpuShare *self, gint64 now_us)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->accounts);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (refill (self, value, now_us) >= (gint64) self->burst)
      g_hash_table_iter_remove (&iter);
  return g_hash_table_size (self->accounts);
}
