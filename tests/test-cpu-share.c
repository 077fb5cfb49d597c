/* Tests the per-uid CPU share: balances refill at their rate up to the burst, debt is paid before a uid reads again, one uid's spending takes nothing from another's, and only indebted uids are held; a wait is said once in an interval. */
#include "config.h"

#include "pymemd-cpu-share.h"
#include "testutil.h"

#define SECOND ((gint64) G_USEC_PER_SEC)

/* A uid may spend while its balance is above zero, and its last read may
 * take it below: it then waits until the rate has paid the debt back. */
static void
test_debt (void)
{
  g_autoptr(PymemdCpuShare) share = pymemd_cpu_share_new (10000, 50000); /* 1%, 50 ms */
  gint64 t = 1000 * SECOND;

  g_assert_true (pymemd_cpu_share_may_spend (share, 1000, t));
  g_assert_cmpint (pymemd_cpu_share_get_balance (share, 1000, t), ==, 50000);
  pymemd_cpu_share_spend (share, 1000, 40000, t);
  g_assert_true (pymemd_cpu_share_may_spend (share, 1000, t));
  pymemd_cpu_share_spend (share, 1000, 110000, t); /* one read: 110 ms */
  g_assert_cmpint (pymemd_cpu_share_get_balance (share, 1000, t), ==, -100000);
  g_assert_false (pymemd_cpu_share_may_spend (share, 1000, t));
  /* 10 ms a second: the 100 ms debt is paid after 10 s, not before. */
  g_assert_false (pymemd_cpu_share_may_spend (share, 1000, t + 10 * SECOND - 1));
  g_assert_cmpint (pymemd_cpu_share_get_balance (share, 1000, t + 10 * SECOND - 1), ==, -1);
  g_assert_false (pymemd_cpu_share_may_spend (share, 1000, t + 10 * SECOND));
  g_assert_true (pymemd_cpu_share_may_spend (share, 1000, t + 10 * SECOND + 100));
  /* Never more than the burst, however long it waited. */
  g_assert_cmpint (pymemd_cpu_share_get_balance (share, 1000, t + 3600 * SECOND), ==, 50000);
  g_assert_cmpint (pymemd_cpu_share_get_balance (share, 1000, t + 7 * 24 * 3600 * SECOND), ==, 50000);
}

/* Asked often (once per process of a pass), the balance still grows at
 * its rate: the fractions of a µs are not lost at every question. */
static void
test_often (void)
{
  g_autoptr(PymemdCpuShare) share = pymemd_cpu_share_new (25000, 1000000); /* 2.5% */
  gint64 t = 5 * SECOND;

  pymemd_cpu_share_spend (share, 7, 1000000, t); /* balance 0 */
  for (gint64 now = t; now <= t + 2 * SECOND; now += 7) /* every 7 µs: 0.175 µs gained */
    pymemd_cpu_share_may_spend (share, 7, now);
  g_assert_cmpint (pymemd_cpu_share_get_balance (share, 7, t + 2 * SECOND), >=, 49999);
  g_assert_cmpint (pymemd_cpu_share_get_balance (share, 7, t + 2 * SECOND), <=, 50000);
}

/* One uid in debt leaves the others their whole balance. */
static void
test_per_uid (void)
{
  g_autoptr(PymemdCpuShare) share = pymemd_cpu_share_new (1000, 5000);
  gint64 t = 42;

  pymemd_cpu_share_spend (share, 65534, 2000000, t);
  g_assert_false (pymemd_cpu_share_may_spend (share, 65534, t + SECOND));
  g_assert_true (pymemd_cpu_share_may_spend (share, 0, t + SECOND));
  g_assert_cmpint (pymemd_cpu_share_get_balance (share, 0, t + SECOND), ==, 5000);
  g_assert_cmpint (pymemd_cpu_share_get_balance (share, 1000, t), ==, 5000);
  /* A read costs at least 1 µs: a zero reading of the clock is no free read. */
  pymemd_cpu_share_spend (share, 1000, 0, t);
  g_assert_cmpint (pymemd_cpu_share_get_balance (share, 1000, t), ==, 4999);
  pymemd_cpu_share_spend (share, 1000, -5, t);
  g_assert_cmpint (pymemd_cpu_share_get_balance (share, 1000, t), ==, 4998);
}

/* Only uids in debt (or below a full balance) are held; new settings
 * give everyone a full balance. */
static void
test_prune_and_set (void)
{
  g_autoptr(PymemdCpuShare) share = pymemd_cpu_share_new (1000, 5000);
  gint64 t = SECOND;

  for (guint32 uid = 0; uid < 100; uid++)
    pymemd_cpu_share_spend (share, uid, uid < 50 ? 100 : 20000, t);
  g_assert_cmpuint (pymemd_cpu_share_prune (share, t), ==, 100);
  /* 0.1 s later 100 µs is back: the first fifty are full and forgotten. */
  g_assert_cmpuint (pymemd_cpu_share_prune (share, t + SECOND / 10), ==, 50);
  g_assert_cmpint (pymemd_cpu_share_get_balance (share, 3, t + SECOND / 10), ==, 5000);
  g_assert_false (pymemd_cpu_share_may_spend (share, 99, t + SECOND / 10));
  g_assert_cmpuint (pymemd_cpu_share_prune (share, t + 20 * SECOND), ==, 0);

  pymemd_cpu_share_spend (share, 99, 20000, t);
  pymemd_cpu_share_set (share, 0, 1);
  g_assert_cmpint (pymemd_cpu_share_get_balance (share, 99, t), ==, 1);
  pymemd_cpu_share_spend (share, 99, 1, t);
  /* A rate of 0 never refills. */
  g_assert_false (pymemd_cpu_share_may_spend (share, 99, t + 3600 * SECOND));
  g_assert_cmpuint (pymemd_cpu_share_prune (share, t + 3600 * SECOND), ==, 1);
}

/* A uid's wait is said at most once in the interval, each uid on its own;
 * those said longer ago are said again. */
static void
test_report (void)
{
  g_autoptr(PymemdCpuShare) share = pymemd_cpu_share_new (1000, 5000);
  gint64 t = 7 * SECOND;

  g_assert_true (pymemd_cpu_share_take_report (share, 1000, t));
  g_assert_false (pymemd_cpu_share_take_report (share, 1000, t + 1));
  g_assert_true (pymemd_cpu_share_take_report (share, 1001, t + 1));
  g_assert_false (pymemd_cpu_share_take_report (share, 1000, t + PYMEMD_CPU_SHARE_REPORT_INTERVAL - 1));
  g_assert_true (pymemd_cpu_share_take_report (share, 1000, t + PYMEMD_CPU_SHARE_REPORT_INTERVAL));
  g_assert_false (pymemd_cpu_share_take_report (share, 1000, t + PYMEMD_CPU_SHARE_REPORT_INTERVAL + 1));
  /* New settings start the balances again, not what was said. */
  pymemd_cpu_share_set (share, 2000, 5000);
  g_assert_false (pymemd_cpu_share_take_report (share, 1001, t + 2));
  g_assert_cmpuint (pymemd_cpu_share_get_rate (share), ==, 2000);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cpu-share/debt", test_debt);
  g_test_add_func ("/cpu-share/often", test_often);
  g_test_add_func ("/cpu-share/per-uid", test_per_uid);
  g_test_add_func ("/cpu-share/prune-and-set", test_prune_and_set);
  g_test_add_func ("/cpu-share/report", test_report);
  return g_test_run ();
}
