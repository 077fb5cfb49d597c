/* Tests the per-uid rate limit: each uid's own budget per window, the retry time, and the count of refusals told when a window ends. */
#include "config.h"

#include "pymemd-rate-limit.h"
#include "testutil.h"

typedef struct {
  guint32 uid;
  guint   refused;
  double  window;
  guint   calls;
} Ended;

static void
on_ended (guint32 uid, guint refused, double window_seconds, gpointer data)
{
  Ended *ended = data;

  ended->uid = uid;
  ended->refused = refused;
  ended->window = window_seconds;
  ended->calls++;
}

/* Each uid has its own budget: one spending it takes nothing from another. */
static void
test_per_uid (void)
{
  g_autoptr(PymemdRateLimit) limit = pymemd_rate_limit_new (3, 60, NULL, NULL);
  double retry = -1;

  for (guint i = 0; i < 3; i++)
    g_assert_true (pymemd_rate_limit_take (limit, 1000, NULL));
  for (guint i = 0; i < 100; i++)
    g_assert_false (pymemd_rate_limit_take (limit, 1000, &retry));
  g_assert_cmpfloat (retry, >, 59);
  g_assert_cmpfloat (retry, <=, 60);
  for (guint i = 0; i < 3; i++)
    g_assert_true (pymemd_rate_limit_take (limit, 0, NULL));
  g_assert_false (pymemd_rate_limit_take (limit, 0, NULL));
  g_assert_true (pymemd_rate_limit_take (limit, 65534, NULL));

  /* A higher budget applies to windows already open. */
  pymemd_rate_limit_set (limit, 5, 60);
  g_assert_true (pymemd_rate_limit_take (limit, 1000, NULL));
  g_assert_true (pymemd_rate_limit_take (limit, 1000, NULL));
  g_assert_false (pymemd_rate_limit_take (limit, 1000, NULL));
}

/* When a window ends, its refusals are told once, and the uid starts over. */
static void
test_window_end (void)
{
  Ended ended = { 0 };
  g_autoptr(PymemdRateLimit) limit = pymemd_rate_limit_new (2, 0.2, on_ended, &ended);

  g_assert_true (pymemd_rate_limit_take (limit, 7, NULL));
  g_assert_true (pymemd_rate_limit_take (limit, 7, NULL));
  for (guint i = 0; i < 10; i++)
    g_assert_false (pymemd_rate_limit_take (limit, 7, NULL));
  g_assert_true (pymemd_rate_limit_take (limit, 8, NULL));
  PYMEMD_TEST_WAIT_FOR (ended.calls > 0, 10);
  g_assert_cmpuint (ended.calls, ==, 1);
  g_assert_cmpuint (ended.uid, ==, 7);
  g_assert_cmpuint (ended.refused, ==, 10);
  g_assert_cmpfloat (ended.window, ==, 0.2);

  /* Uid 8 refused nothing: its window ends untold. */
  pymemd_test_iterate_for (0.3);
  g_assert_cmpuint (ended.calls, ==, 1);
  g_assert_true (pymemd_rate_limit_take (limit, 7, NULL));
  g_assert_true (pymemd_rate_limit_take (limit, 7, NULL));
  g_assert_false (pymemd_rate_limit_take (limit, 7, NULL));
}

/* Freed with windows open: nothing is told, nothing leaks. */
static void
test_free_open (void)
{
  Ended ended = { 0 };
  PymemdRateLimit *limit = pymemd_rate_limit_new (1, 0.05, on_ended, &ended);

  for (guint32 uid = 0; uid < 100; uid++)
    {
      g_assert_true (pymemd_rate_limit_take (limit, uid, NULL));
      g_assert_false (pymemd_rate_limit_take (limit, uid, NULL));
    }
  pymemd_rate_limit_free (limit);
  pymemd_test_iterate_for (0.1);
  g_assert_cmpuint (ended.calls, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/rate-limit/per-uid", test_per_uid);
  g_test_add_func ("/rate-limit/window-end", test_window_end);
  g_test_add_func ("/rate-limit/free-open", test_free_open);
  return g_test_run ();
}
