/* Tests Subscribe's option checking, the subscription registry and its limits, and which sample changes are signalled to whom. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "pymemd-error.h"
#include "pymemd-process.h"
#include "pymemd-subscriptions.h"
#include "testutil.h"

#define KIB (G_GUINT64_CONSTANT (1) << 10)
#define MIB (G_GUINT64_CONSTANT (1) << 20)
#define SEC G_USEC_PER_SEC

/* What the daemon passes: 1 MiB and 2 s from the default configuration. */
#define DEFAULT_BYTES MIB
#define FLOOR_US      (2 * SEC)

/* ---------------------------------------------------------------- options */

/* Builds an a{sv} from KEY, VALUE pairs (floating values), NULL-terminated. */
static GVariant *
options_dict (const char *key, ...)
{
  GVariantBuilder builder;
  va_list ap;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  va_start (ap, key);
  for (const char *k = key; k != NULL; k = va_arg (ap, const char *))
    g_variant_builder_add (&builder, "{sv}", k, va_arg (ap, GVariant *));
  va_end (ap);
  return g_variant_ref_sink (g_variant_builder_end (&builder));
}

static GVariant *
pids_variant (guint n, guint32 first)
{
  g_autofree guint32 *pids = g_new (guint32, MAX (n, 1));

  for (guint i = 0; i < n; i++)
    pids[i] = first + i;
  return g_variant_new_fixed_array (G_VARIANT_TYPE_UINT32, pids, n, sizeof (guint32));
}

/* Parses DICT (consumed), expecting success. */
static void
parse_ok (GVariant *dict, PymemdSubscriptionOptions *options)
{
  g_autoptr(GVariant) owned = dict;
  g_autoptr(GError) error = NULL;

  g_assert_true (pymemd_subscription_options_parse (dict, DEFAULT_BYTES, FLOOR_US, options, &error));
  g_assert_no_error (error);
}

/* Parses DICT (consumed), expecting InvalidArgs naming WORD in its message. */
static void
parse_bad (GVariant *dict, const char *word)
{
  g_autoptr(GVariant) owned = dict;
  g_autoptr(GError) error = NULL;
  PymemdSubscriptionOptions options;

  g_assert_false (pymemd_subscription_options_parse (dict, DEFAULT_BYTES, FLOOR_US, &options, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS);
  if (word != NULL && strstr (error->message, word) == NULL)
    g_error ("error “%s” does not mention “%s”", error->message, word);
  /* A failure leaves nothing behind (pids may have come before the bad
   * option); clearing again is harmless. */
  g_assert_null (options.pids);
  pymemd_subscription_options_clear (&options);
}

static void
test_parse_empty (void)
{
  PymemdSubscriptionOptions o;

  parse_ok (options_dict (NULL), &o);
  g_assert_null (o.pids);
  g_assert_cmpuint (o.min_change_bytes, ==, DEFAULT_BYTES);
  g_assert_cmpfloat (o.min_change_percent, ==, 0);
  g_assert_cmpint (o.min_interval_us, ==, FLOOR_US);
  pymemd_subscription_options_clear (&o);
  pymemd_subscription_options_clear (&o); /* idempotent */
}

static void
test_parse_pids (void)
{
  PymemdSubscriptionOptions o;

  parse_ok (options_dict ("pids", pids_variant (3, 100), NULL), &o);
  g_assert_nonnull (o.pids);
  g_assert_cmpuint (o.pids->len, ==, 3);
  g_assert_cmpuint (g_array_index (o.pids, guint32, 0), ==, 100);
  g_assert_cmpuint (g_array_index (o.pids, guint32, 2), ==, 102);
  g_assert_cmpuint (o.min_change_bytes, ==, DEFAULT_BYTES); /* no threshold given */
  pymemd_subscription_options_clear (&o);

  parse_ok (options_dict ("pids", pids_variant (PYMEMD_SUBSCRIPTION_MAX_PIDS, 1), NULL), &o);
  g_assert_cmpuint (o.pids->len, ==, PYMEMD_SUBSCRIPTION_MAX_PIDS);
  g_assert_cmpuint (g_array_index (o.pids, guint32, PYMEMD_SUBSCRIPTION_MAX_PIDS - 1), ==, 4096);
  pymemd_subscription_options_clear (&o);

  /* Given twice: the last wins, without leaking the first. */
  parse_ok (options_dict ("pids", pids_variant (2, 10), "pids", pids_variant (1, 20), NULL), &o);
  g_assert_cmpuint (o.pids->len, ==, 1);
  g_assert_cmpuint (g_array_index (o.pids, guint32, 0), ==, 20);
  pymemd_subscription_options_clear (&o);

  parse_bad (options_dict ("pids", pids_variant (0, 1), NULL), "pids");
  parse_bad (options_dict ("pids", pids_variant (PYMEMD_SUBSCRIPTION_MAX_PIDS + 1, 1), NULL), "pids");
  parse_bad (options_dict ("pids", g_variant_new_uint32 (5), NULL), "au");
  parse_bad (options_dict ("pids", g_variant_new_parsed ("[int32 5]"), NULL), "au");
  parse_bad (options_dict ("pids", g_variant_new_parsed ("[uint64 5]"), NULL), "au");
  parse_bad (options_dict ("pids", g_variant_new_parsed ("['5']"), NULL), "au");
}

static void
test_parse_bytes (void)
{
  PymemdSubscriptionOptions o;

  parse_ok (options_dict ("min-change-bytes", g_variant_new_uint64 (4096), NULL), &o);
  g_assert_cmpuint (o.min_change_bytes, ==, 4096);
  pymemd_subscription_options_clear (&o);

  /* 0 given is 0 (every change), not the default. */
  parse_ok (options_dict ("min-change-bytes", g_variant_new_uint64 (0), NULL), &o);
  g_assert_cmpuint (o.min_change_bytes, ==, 0);
  pymemd_subscription_options_clear (&o);

  parse_ok (options_dict ("min-change-bytes", g_variant_new_uint64 (G_MAXUINT64), NULL), &o);
  g_assert_cmpuint (o.min_change_bytes, ==, G_MAXUINT64);
  pymemd_subscription_options_clear (&o);

  parse_bad (options_dict ("min-change-bytes", g_variant_new_uint32 (4096), NULL), "uint64");
  parse_bad (options_dict ("min-change-bytes", g_variant_new_int64 (4096), NULL), "uint64");
  parse_bad (options_dict ("min-change-bytes", g_variant_new_double (4096), NULL), "uint64");
  parse_bad (options_dict ("min-change-bytes", g_variant_new_string ("4096"), NULL), "uint64");
}

static void
test_parse_percent (void)
{
  const double good[] = { 0, 0.001, 50, 100 };
  const double bad[] = { -0.001, -1, 100.001, 1e300, NAN, INFINITY, -INFINITY };
  PymemdSubscriptionOptions o;

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      parse_ok (options_dict ("min-change-percent", g_variant_new_double (good[i]), NULL), &o);
      g_assert_cmpfloat (o.min_change_percent, ==, good[i]);
      /* A threshold was given: the default bytes do not apply. */
      g_assert_cmpuint (o.min_change_bytes, ==, 0);
      pymemd_subscription_options_clear (&o);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    parse_bad (options_dict ("min-change-percent", g_variant_new_double (bad[i]), NULL), "100");
  parse_bad (options_dict ("min-change-percent", g_variant_new_uint64 (10), NULL), "double");
  parse_bad (options_dict ("min-change-percent", g_variant_new_int32 (10), NULL), "double");
  parse_bad (options_dict ("min-change-percent", g_variant_new_string ("10"), NULL), "double");
}

static void
test_parse_interval (void)
{
  const struct { double seconds; gint64 want_us; } good[] = {
    { 0, FLOOR_US },                 /* the floor applies */
    { 0.5, FLOOR_US },
    { 1.999, FLOOR_US },
    { 2, 2 * SEC },
    { 2.5, 2500000 },
    { 60, 60 * SEC },
    { 86400, G_GINT64_CONSTANT (86400) * SEC },
  };
  const double bad[] = { -0.001, -1, 86400.001, 1e300, NAN, INFINITY, -INFINITY };
  PymemdSubscriptionOptions o;
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      parse_ok (options_dict ("min-interval", g_variant_new_double (good[i].seconds), NULL), &o);
      g_assert_cmpint (o.min_interval_us, ==, good[i].want_us);
      g_assert_cmpuint (o.min_change_bytes, ==, DEFAULT_BYTES); /* not a threshold */
      pymemd_subscription_options_clear (&o);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    parse_bad (options_dict ("min-interval", g_variant_new_double (bad[i]), NULL), "86400");
  parse_bad (options_dict ("min-interval", g_variant_new_uint64 (5), NULL), "double");
  parse_bad (options_dict ("min-interval", g_variant_new_uint32 (5), NULL), "double");
  parse_bad (options_dict ("min-interval", g_variant_new_string ("5"), NULL), "double");

  /* Without a floor, 0 is 0. */
  {
    g_autoptr(GVariant) dict = options_dict ("min-interval", g_variant_new_double (0), NULL);
    g_assert_true (pymemd_subscription_options_parse (dict, DEFAULT_BYTES, 0, &o, &error));
    g_assert_no_error (error);
    g_assert_cmpint (o.min_interval_us, ==, 0);
    pymemd_subscription_options_clear (&o);
  }
}

static void
test_parse_default_bytes (void)
{
  PymemdSubscriptionOptions o;

  parse_ok (options_dict ("min-change-bytes", g_variant_new_uint64 (7),
                          "min-change-percent", g_variant_new_double (5), NULL), &o);
  g_assert_cmpuint (o.min_change_bytes, ==, 7);
  g_assert_cmpfloat (o.min_change_percent, ==, 5);
  pymemd_subscription_options_clear (&o);

  parse_ok (options_dict ("pids", pids_variant (1, 1),
                          "min-interval", g_variant_new_double (3), NULL), &o);
  g_assert_cmpuint (o.min_change_bytes, ==, DEFAULT_BYTES);
  g_assert_cmpfloat (o.min_change_percent, ==, 0);
  g_assert_cmpint (o.min_interval_us, ==, 3 * SEC);
  pymemd_subscription_options_clear (&o);

  /* Another default is taken as given. */
  {
    g_autoptr(GVariant) dict = options_dict (NULL);
    g_autoptr(GError) error = NULL;
    g_assert_true (pymemd_subscription_options_parse (dict, 12345, FLOOR_US, &o, &error));
    g_assert_cmpuint (o.min_change_bytes, ==, 12345);
  }
}

static void
test_parse_unknown (void)
{
  parse_bad (options_dict ("min-change", g_variant_new_uint64 (1), NULL), "min-change");
  parse_bad (options_dict ("PIDS", pids_variant (1, 1), NULL), "PIDS");
  parse_bad (options_dict ("", g_variant_new_uint64 (1), NULL), "unknown");
  /* After a good option too. */
  parse_bad (options_dict ("pids", pids_variant (2, 1), "bogus", g_variant_new_boolean (TRUE), NULL),
             "bogus");
}

/* A bad option after pids: the error, and nothing left behind (also checked
 * for leaks under PYMEMD_VALGRIND=1). */
static void
test_parse_bad_after_pids (void)
{
  parse_bad (options_dict ("pids", pids_variant (3, 1),
                           "min-change-bytes", g_variant_new_string ("x"), NULL), "uint64");
  parse_bad (options_dict ("pids", pids_variant (3, 1),
                           "min-change-percent", g_variant_new_double (NAN), NULL), "100");
  parse_bad (options_dict ("pids", pids_variant (3, 1),
                           "min-interval", g_variant_new_double (-1), NULL), "86400");
  parse_bad (options_dict ("pids", pids_variant (3, 1), "pids", pids_variant (0, 1), NULL), "pids");
}

static void
test_parse_too_many (void)
{
  GVariantBuilder builder;
  PymemdSubscriptionOptions o;

  /* 16 entries (keys may repeat in an a{sv}) are accepted... */
  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  for (guint i = 0; i < PYMEMD_SUBSCRIPTION_MAX_OPTIONS; i++)
    g_variant_builder_add (&builder, "{sv}", "min-change-bytes", g_variant_new_uint64 (i));
  parse_ok (g_variant_ref_sink (g_variant_builder_end (&builder)), &o);
  g_assert_cmpuint (o.min_change_bytes, ==, PYMEMD_SUBSCRIPTION_MAX_OPTIONS - 1);
  pymemd_subscription_options_clear (&o);

  /* ...17 are not, whatever they are. */
  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  for (guint i = 0; i <= PYMEMD_SUBSCRIPTION_MAX_OPTIONS; i++)
    g_variant_builder_add (&builder, "{sv}", "min-change-bytes", g_variant_new_uint64 (i));
  parse_bad (g_variant_ref_sink (g_variant_builder_end (&builder)), "16");

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  for (guint i = 0; i <= PYMEMD_SUBSCRIPTION_MAX_OPTIONS; i++)
    {
      g_autofree char *key = g_strdup_printf ("key%u", i);
      g_variant_builder_add (&builder, "{sv}", key, g_variant_new_uint64 (i));
    }
  parse_bad (g_variant_ref_sink (g_variant_builder_end (&builder)), "16");
}

/* --------------------------------------------------------------- processes */

static PymemdProcess *
process_new (int pid, guint64 start, guint32 uid)
{
  PymemdProcess *p = pymemd_process_new (pid, start, -1);
  const PymemdCredentials credentials = { "python3", { uid, uid, uid, uid }, { uid, uid, uid, uid }, TRUE };

  pymemd_process_set_identity (p, "/usr/bin/python3.11", "python3 -c pass", TRUE, 311, 1, 2);
  pymemd_process_set_credentials (p, &credentials);
  return p;
}

static void
set_pss (PymemdProcess *p, guint64 pss)
{
  PymemdCounters c;

  memset (&c, 0, sizeof c);
  c.value[PYMEMD_FIELD_RSS] = pss + MIB;
  c.value[PYMEMD_FIELD_PSS] = pss;
  c.present = (1u << PYMEMD_FIELD_RSS) | (1u << PYMEMD_FIELD_PSS);
  pymemd_process_set_rollup (p, &c, g_get_real_time (), 10);
}

/* --------------------------------------------------------------- registry */

static const PymemdViewer root_viewer = { 0, TRUE };

/* Subscribes SENDER, seen as VIEWER, with options DICT (consumed). */
static guint
add_as (PymemdSubscriptions *subs,
        const char          *sender,
        const PymemdViewer  *viewer,
        GVariant            *dict,
        GPtrArray           *processes,
        GError             **error)
{
  g_autoptr(GVariant) owned = dict;
  PymemdSubscriptionOptions o;
  guint id;

  g_assert_true (pymemd_subscription_options_parse (dict, DEFAULT_BYTES, FLOOR_US, &o, NULL));
  id = pymemd_subscriptions_add (subs, sender, viewer, &o, processes, error);
  pymemd_subscription_options_clear (&o);
  return id;
}

static guint
add_default (PymemdSubscriptions *subs, const char *sender, GPtrArray *processes, GError **error)
{
  return add_as (subs, sender, &root_viewer, options_dict (NULL), processes, error);
}

static void
test_add_remove (void)
{
  g_autoptr(PymemdSubscriptions) subs = pymemd_subscriptions_new (16);
  g_autoptr(GPtrArray) none = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  guint a1, a2, b1;

  g_assert_cmpuint (pymemd_subscriptions_count (subs), ==, 0);
  g_assert_cmpuint (pymemd_subscriptions_count_for (subs, ":1.1"), ==, 0);
  a1 = add_default (subs, ":1.1", none, &error);
  g_assert_no_error (error);
  a2 = add_default (subs, ":1.1", none, &error);
  b1 = add_default (subs, ":1.2", none, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (a1, !=, 0);
  g_assert_cmpuint (a2, !=, 0);
  g_assert_cmpuint (b1, !=, 0);
  g_assert_cmpuint (a1, !=, a2);
  g_assert_cmpuint (a2, !=, b1);
  g_assert_cmpuint (a1, !=, b1);
  g_assert_cmpuint (pymemd_subscriptions_count (subs), ==, 3);
  g_assert_cmpuint (pymemd_subscriptions_count_for (subs, ":1.1"), ==, 2);
  g_assert_cmpuint (pymemd_subscriptions_count_for (subs, ":1.2"), ==, 1);
  g_assert_cmpuint (pymemd_subscriptions_count_for (subs, ":1.3"), ==, 0);

  /* Another sender can neither remove nor learn of yours. */
  g_assert_false (pymemd_subscriptions_remove (subs, ":1.2", a1, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS);
  g_clear_error (&error);
  g_assert_cmpuint (pymemd_subscriptions_count_for (subs, ":1.1"), ==, 2);
  /* An id that never was. */
  g_assert_false (pymemd_subscriptions_remove (subs, ":1.1", 9999, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS);
  g_clear_error (&error);
  g_assert_false (pymemd_subscriptions_remove (subs, ":1.1", 0, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS);
  g_clear_error (&error);

  g_assert_true (pymemd_subscriptions_remove (subs, ":1.1", a1, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (pymemd_subscriptions_count_for (subs, ":1.1"), ==, 1);
  /* Removed is removed. */
  g_assert_false (pymemd_subscriptions_remove (subs, ":1.1", a1, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS);
  g_clear_error (&error);

  /* Ids are not reused. */
  g_assert_cmpuint (add_default (subs, ":1.1", none, NULL), >, b1);

  /* Leaving the bus drops only that sender's. */
  g_assert_cmpuint (pymemd_subscriptions_remove_sender (subs, ":1.1"), ==, 2);
  g_assert_cmpuint (pymemd_subscriptions_remove_sender (subs, ":1.1"), ==, 0);
  g_assert_cmpuint (pymemd_subscriptions_remove_sender (subs, ":1.9"), ==, 0);
  g_assert_cmpuint (pymemd_subscriptions_count (subs), ==, 1);
  g_assert_true (pymemd_subscriptions_remove (subs, ":1.2", b1, NULL));
  g_assert_cmpuint (pymemd_subscriptions_count (subs), ==, 0);
}

static void
test_add_takes_options (void)
{
  g_autoptr(PymemdSubscriptions) subs = pymemd_subscriptions_new (1);
  g_autoptr(GPtrArray) none = g_ptr_array_new ();
  g_autoptr(GVariant) dict = options_dict ("pids", pids_variant (2, 5), NULL);
  g_autoptr(GError) error = NULL;
  PymemdSubscriptionOptions o;

  g_assert_true (pymemd_subscription_options_parse (dict, DEFAULT_BYTES, FLOOR_US, &o, NULL));
  g_assert_cmpuint (pymemd_subscriptions_add (subs, ":1.1", &root_viewer, &o, none, &error), !=, 0);
  g_assert_null (o.pids); /* taken */

  /* Refused: the options stay the caller's, to clear. */
  g_assert_true (pymemd_subscription_options_parse (dict, DEFAULT_BYTES, FLOOR_US, &o, NULL));
  g_assert_cmpuint (pymemd_subscriptions_add (subs, ":1.1", &root_viewer, &o, none, &error), ==, 0);
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_LIMIT_EXCEEDED);
  g_assert_nonnull (o.pids);
  pymemd_subscription_options_clear (&o);
}

static void
test_max_per_client (void)
{
  g_autoptr(PymemdSubscriptions) subs = pymemd_subscriptions_new (2);
  g_autoptr(GPtrArray) none = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  guint first;

  first = add_default (subs, ":1.1", none, &error);
  g_assert_cmpuint (add_default (subs, ":1.1", none, &error), !=, 0);
  g_assert_no_error (error);
  g_assert_cmpuint (add_default (subs, ":1.1", none, &error), ==, 0);
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_LIMIT_EXCEEDED);
  g_clear_error (&error);
  g_assert_cmpuint (pymemd_subscriptions_count_for (subs, ":1.1"), ==, 2);

  /* The limit is per client. */
  g_assert_cmpuint (add_default (subs, ":1.2", none, &error), !=, 0);
  g_assert_no_error (error);

  /* Unsubscribing makes room. */
  g_assert_true (pymemd_subscriptions_remove (subs, ":1.1", first, NULL));
  g_assert_cmpuint (add_default (subs, ":1.1", none, &error), !=, 0);
  g_assert_no_error (error);

  /* A lower limit (configuration reloaded) refuses new ones, keeps old. */
  pymemd_subscriptions_set_max_per_client (subs, 1);
  g_assert_cmpuint (add_default (subs, ":1.1", none, &error), ==, 0);
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_LIMIT_EXCEEDED);
  g_clear_error (&error);
  g_assert_cmpuint (pymemd_subscriptions_count_for (subs, ":1.1"), ==, 2);
  g_assert_cmpuint (add_default (subs, ":1.3", none, &error), !=, 0);
  pymemd_subscriptions_set_max_per_client (subs, 3);
  g_assert_cmpuint (add_default (subs, ":1.1", none, &error), !=, 0);
  g_assert_no_error (error);

  pymemd_subscriptions_set_max_per_client (subs, 0);
  g_assert_cmpuint (add_default (subs, ":1.4", none, &error), ==, 0);
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_LIMIT_EXCEEDED);
}

static void
test_max_total (void)
{
  g_autoptr(PymemdSubscriptions) subs = pymemd_subscriptions_new (G_MAXUINT);
  g_autoptr(GPtrArray) none = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;

  /* 128 users, 32 subscriptions each: within each one's share. */
  for (guint i = 0; i < PYMEMD_SUBSCRIPTIONS_MAX_TOTAL; i++)
    {
      g_autofree char *sender = g_strdup_printf (":1.%u", i % 7);
      PymemdViewer viewer = { 1000 + i % 128, FALSE };
      g_assert_cmpuint (add_as (subs, sender, &viewer, options_dict (NULL), none, &error), !=, 0);
      g_assert_no_error (error);
    }
  g_assert_cmpuint (pymemd_subscriptions_count (subs), ==, PYMEMD_SUBSCRIPTIONS_MAX_TOTAL);
  g_assert_cmpuint (add_default (subs, ":1.100", none, &error), ==, 0);
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_LIMIT_EXCEEDED);
  g_clear_error (&error);
  g_assert_cmpuint (pymemd_subscriptions_remove_sender (subs, ":1.0"), >, 0);
  g_assert_cmpuint (add_default (subs, ":1.100", none, &error), !=, 0);
  g_assert_no_error (error);
}

/* One user's clients, however many, hold at most 64 subscriptions (the
 * daemon's 4096 were shared by everyone): the others still subscribe. */
static void
test_max_per_uid (void)
{
  g_autoptr(PymemdSubscriptions) subs = pymemd_subscriptions_new (16);
  g_autoptr(GPtrArray) none = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  PymemdViewer nobody = { 65534, FALSE }, other = { 1000, FALSE };
  guint first = 0;

  for (guint client = 0; client < 256; client++)
    for (guint i = 0; i < 16; i++)
      {
        g_autofree char *sender = g_strdup_printf (":1.%u", client);
        guint id = add_as (subs, sender, &nobody, options_dict (NULL), none, &error);

        if (client == 0 && i == 0)
          first = id;
        if (id == 0)
          {
            g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_LIMIT_EXCEEDED);
            g_assert_nonnull (strstr (error->message, "uid 65534 hold 64 subscriptions"));
            g_clear_error (&error);
          }
      }
  g_assert_cmpuint (pymemd_subscriptions_count_for_uid (subs, 65534), ==, 64);
  g_assert_cmpuint (pymemd_subscriptions_count (subs), ==, 64);

  /* Root and other users are served. */
  g_assert_cmpuint (add_default (subs, ":1.1000", none, &error), !=, 0);
  g_assert_no_error (error);
  g_assert_cmpuint (add_as (subs, ":1.1001", &other, options_dict (NULL), none, &error), !=, 0);
  g_assert_no_error (error);

  /* Unsubscribing makes room for that user again. */
  g_assert_cmpuint (first, !=, 0);
  g_assert_true (pymemd_subscriptions_remove (subs, ":1.0", first, NULL));
  g_assert_cmpuint (add_as (subs, ":1.300", &nobody, options_dict (NULL), none, &error), !=, 0);
  g_assert_no_error (error);

  /* A lower bound (configuration reloaded) keeps what is there. */
  pymemd_subscriptions_set_uid_limits (subs, 2, PYMEMD_SUBSCRIPTION_MAX_PIDS);
  g_assert_cmpuint (add_as (subs, ":1.1001", &other, options_dict (NULL), none, &error), !=, 0);
  g_assert_cmpuint (add_as (subs, ":1.1002", &other, options_dict (NULL), none, &error), ==, 0);
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_LIMIT_EXCEEDED);
  g_assert_cmpuint (pymemd_subscriptions_count_for_uid (subs, 65534), ==, 64);
}

/* A subscription lists at most pids-per-subscription pids. */
static void
test_max_pids (void)
{
  g_autoptr(PymemdSubscriptions) subs = pymemd_subscriptions_new (16);
  g_autoptr(GPtrArray) none = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  PymemdViewer nobody = { 65534, FALSE };

  pymemd_subscriptions_set_uid_limits (subs, 64, 100);
  g_assert_cmpuint (add_as (subs, ":1.1", &nobody, options_dict ("pids", pids_variant (101, 1), NULL),
                            none, &error), ==, 0);
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_LIMIT_EXCEEDED);
  g_assert_nonnull (strstr (error->message, "at most 100 pids, not 101"));
  g_clear_error (&error);
  g_assert_cmpuint (add_as (subs, ":1.1", &nobody, options_dict ("pids", pids_variant (100, 1), NULL),
                            none, &error), !=, 0);
  g_assert_no_error (error);
}

/* --------------------------------------------------------------- evaluate */

typedef struct {
  char          *sender;
  guint          id;
  PymemdProcess *process;
} Emitted;

typedef struct {
  PymemdSubscriptions *subs;
  GPtrArray           *processes; /* what the monitor holds after a tick */
  GArray              *emitted;   /* Emitted, of the last evaluate */
  gint64               now;
} Fixture;

static void
emitted_clear (gpointer data)
{
  Emitted *e = data;

  g_free (e->sender);
  g_object_unref (e->process);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->subs = pymemd_subscriptions_new (16);
  f->processes = g_ptr_array_new_with_free_func (g_object_unref);
  f->emitted = g_array_new (FALSE, TRUE, sizeof (Emitted));
  g_array_set_clear_func (f->emitted, emitted_clear);
  f->now = 1000 * SEC; /* any monotonic time; never 0 */
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  pymemd_subscriptions_free (f->subs);
  g_ptr_array_unref (f->processes);
  g_array_unref (f->emitted);
}

static PymemdProcess *
watch (Fixture *f, int pid, guint64 start, guint32 uid, guint64 pss)
{
  PymemdProcess *p = process_new (pid, start, uid);

  set_pss (p, pss);
  g_ptr_array_add (f->processes, p);
  return p;
}

static void
unwatch (Fixture *f, PymemdProcess *p)
{
  g_assert_true (g_ptr_array_remove (f->processes, p));
}

static void
record (const char *sender, guint id, PymemdProcess *process, gpointer user_data)
{
  Fixture *f = user_data;
  Emitted e = { g_strdup (sender), id, g_object_ref (process) };

  g_assert_nonnull (pymemd_process_get_rollup (process));
  g_array_append_val (f->emitted, e);
}

/* One tick ADVANCE µs after the last: returns how many signals went out. */
static guint
tick (Fixture *f, gint64 advance)
{
  g_array_set_size (f->emitted, 0);
  f->now += advance;
  pymemd_subscriptions_evaluate (f->subs, f->processes, f->now, record, f);
  return f->emitted->len;
}

static gboolean
was_emitted (Fixture *f, const char *sender, guint id, PymemdProcess *process)
{
  guint n = 0;

  for (guint i = 0; i < f->emitted->len; i++)
    {
      Emitted *e = &g_array_index (f->emitted, Emitted, i);
      if (strcmp (e->sender, sender) == 0 && e->id == id && e->process == process)
        n++;
    }
  g_assert_cmpuint (n, <=, 1);
  return n == 1;
}

/* Subscribes SENDER as VIEWER with DICT (consumed; NULL: no options). */
static guint
subscribe (Fixture *f, const char *sender, const PymemdViewer *viewer, GVariant *dict)
{
  g_autoptr(GVariant) owned = dict != NULL ? dict : options_dict (NULL);
  g_autoptr(GError) error = NULL;
  PymemdSubscriptionOptions o;
  guint id;

  g_assert_true (pymemd_subscription_options_parse (owned, DEFAULT_BYTES, FLOOR_US, &o, &error));
  id = pymemd_subscriptions_add (f->subs, sender, viewer, &o, f->processes, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (id, !=, 0);
  pymemd_subscription_options_clear (&o);
  return id;
}

static void
test_threshold (Fixture *f, gconstpointer data)
{
  PymemdProcess *a = watch (f, 100, 5000, 1000, 20 * MIB);
  PymemdProcess *b = watch (f, 101, 5000, 1000, 30 * MIB);
  guint id = subscribe (f, ":1.7", &root_viewer, NULL);
  Emitted *e;

  /* The baseline is not news. */
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 0);
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 0);

  /* Below the threshold. */
  set_pss (a, 21 * MIB - 1);
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 0);
  /* Reaching it (measured from the baseline, not the last tick). */
  set_pss (a, 21 * MIB);
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 1);
  e = &g_array_index (f->emitted, Emitted, 0);
  g_assert_cmpstr (e->sender, ==, ":1.7");
  g_assert_cmpuint (e->id, ==, id);
  g_assert_true (e->process == a);
  g_assert_cmpuint (pymemd_process_get_rollup (e->process)->value[PYMEMD_FIELD_PSS], ==, 21 * MIB);

  /* Nothing changed: nothing said. */
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 0);
  g_assert_cmpuint (tick (f, 60 * SEC), ==, 0);

  /* Creeping up in small steps adds up from what was last told. */
  set_pss (a, 21 * MIB + 400 * KIB);
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 0);
  set_pss (a, 21 * MIB + 800 * KIB);
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 0);
  set_pss (a, 22 * MIB + 200 * KIB);
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 1);
  g_assert_true (was_emitted (f, ":1.7", id, a));

  /* Shrinking counts too; both processes in one tick, once each. */
  set_pss (a, 10 * MIB);
  set_pss (b, 40 * MIB);
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 2);
  g_assert_true (was_emitted (f, ":1.7", id, a));
  g_assert_true (was_emitted (f, ":1.7", id, b));
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 0);
}

static void
test_bytes_zero (Fixture *f, gconstpointer data)
{
  PymemdProcess *a = watch (f, 100, 5000, 1000, 20 * MIB);

  subscribe (f, ":1.7", &root_viewer,
             options_dict ("min-change-bytes", g_variant_new_uint64 (0), NULL));
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 0);
  set_pss (a, 20 * MIB + 4096);
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 1);
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 0);
}

static void
test_min_interval (Fixture *f, gconstpointer data)
{
  PymemdProcess *a = watch (f, 100, 5000, 1000, 20 * MIB);
  guint id = subscribe (f, ":1.7", &root_viewer,
                        options_dict ("min-interval", g_variant_new_double (10), NULL));

  g_assert_cmpuint (tick (f, 2 * SEC), ==, 0);
  set_pss (a, 30 * MIB);
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 1); /* the first change goes at once */
  g_assert_true (was_emitted (f, ":1.7", id, a));

  /* Another change 2 s later waits... */
  set_pss (a, 40 * MIB);
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 0);
  g_assert_cmpuint (tick (f, 4 * SEC), ==, 0);
  g_assert_cmpuint (tick (f, 4 * SEC - 1), ==, 0); /* 9.999999 s */
  /* ...until 10 s have passed since the last signal, with no further change. */
  g_assert_cmpuint (tick (f, 1), ==, 1);
  g_assert_true (was_emitted (f, ":1.7", id, a));
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 0);

  /* A change that went back while held is no longer news. */
  set_pss (a, 50 * MIB);
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 0);
  set_pss (a, 40 * MIB);
  g_assert_cmpuint (tick (f, 20 * SEC), ==, 0);

  /* Long after: at once. */
  set_pss (a, 45 * MIB);
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 1);
}

static void
test_floor_interval (Fixture *f, gconstpointer data)
{
  PymemdProcess *a = watch (f, 100, 5000, 1000, 20 * MIB);

  /* No min-interval asked: the configured floor (2 s) holds. */
  subscribe (f, ":1.7", &root_viewer, NULL);
  set_pss (a, 30 * MIB);
  g_assert_cmpuint (tick (f, SEC), ==, 1);
  set_pss (a, 40 * MIB);
  g_assert_cmpuint (tick (f, SEC), ==, 0);
  g_assert_cmpuint (tick (f, SEC), ==, 1);
}

static void
test_percent (Fixture *f, gconstpointer data)
{
  PymemdProcess *a = watch (f, 100, 5000, 1000, 10 * MIB);
  PymemdProcess *big = watch (f, 101, 5000, 1000, 100 * MIB);
  guint pct, both;

  /* Percent alone: bytes is no condition. */
  pct = subscribe (f, ":1.7", &root_viewer,
                   options_dict ("min-change-percent", g_variant_new_double (10), NULL));
  /* Both: each must be reached. */
  both = subscribe (f, ":1.8", &root_viewer,
                    options_dict ("min-change-percent", g_variant_new_double (10),
                                  "min-change-bytes", g_variant_new_uint64 (2 * MIB), NULL));

  g_assert_cmpuint (tick (f, 2 * SEC), ==, 0);
  set_pss (a, 10 * MIB + MIB - 1);          /* just under 10 % */
  set_pss (big, 100 * MIB + 5 * MIB);       /* 5 MiB, but 5 % */
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 0);

  set_pss (a, 11 * MIB);                    /* 10 %, 1 MiB */
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 1);
  g_assert_true (was_emitted (f, ":1.7", pct, a));

  set_pss (a, 13 * MIB);                    /* from 11: 18 %, 2 MiB */
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 2);
  g_assert_true (was_emitted (f, ":1.7", pct, a));
  g_assert_true (was_emitted (f, ":1.8", both, a)); /* from 10: 30 %, 3 MiB */

  set_pss (big, 110 * MIB);                 /* 10 %, 10 MiB */
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 2);
  g_assert_true (was_emitted (f, ":1.7", pct, big));
  g_assert_true (was_emitted (f, ":1.8", both, big));
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 0);
}

static void
test_viewers (Fixture *f, gconstpointer data)
{
  PymemdProcess *mine = watch (f, 100, 5000, 1000, 20 * MIB);
  PymemdProcess *theirs = watch (f, 101, 5000, 2000, 20 * MIB);
  const PymemdViewer user = { 1000, FALSE }, allowed = { 1000, TRUE }, root = { 0, FALSE };
  guint u = subscribe (f, ":1.1", &user, NULL);
  guint a = subscribe (f, ":1.2", &allowed, NULL);
  guint r = subscribe (f, ":1.3", &root, NULL);

  g_assert_cmpuint (tick (f, 2 * SEC), ==, 0);
  set_pss (mine, 30 * MIB);
  set_pss (theirs, 30 * MIB);
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 5);
  g_assert_true (was_emitted (f, ":1.1", u, mine));
  g_assert_false (was_emitted (f, ":1.1", u, theirs));
  g_assert_true (was_emitted (f, ":1.2", a, mine));
  g_assert_true (was_emitted (f, ":1.2", a, theirs));
  g_assert_true (was_emitted (f, ":1.3", r, mine));
  g_assert_true (was_emitted (f, ":1.3", r, theirs));

  /* A process of another user appearing later is not told either. */
  set_pss (watch (f, 102, 6000, 2000, 50 * MIB), 60 * MIB);
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 2);
  for (guint i = 0; i < f->emitted->len; i++)
    g_assert_cmpstr (g_array_index (f->emitted, Emitted, i).sender, !=, ":1.1");
}

static void
test_pids_filter (Fixture *f, gconstpointer data)
{
  PymemdProcess *a = watch (f, 100, 5000, 1000, 20 * MIB);
  PymemdProcess *b = watch (f, 101, 5000, 1000, 20 * MIB);
  /* Out of order and repeated: kept sorted, each once. */
  guint32 want[] = { 4000, 100, 4000, 100 };
  guint id = subscribe (f, ":1.7", &root_viewer,
                        options_dict ("pids", g_variant_new_fixed_array (G_VARIANT_TYPE_UINT32, want,
                                                                         G_N_ELEMENTS (want),
                                                                         sizeof (guint32)),
                                      NULL));
  PymemdProcess *later;

  set_pss (a, 30 * MIB);
  set_pss (b, 30 * MIB);
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 1);
  g_assert_true (was_emitted (f, ":1.7", id, a));

  /* A listed pid not yet watched: news once it is, from 0. */
  later = watch (f, 4000, 7000, 1000, 5 * MIB);
  watch (f, 4001, 7000, 1000, 5 * MIB);
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 1);
  g_assert_true (was_emitted (f, ":1.7", id, later));
}

static void
test_several_subscriptions (Fixture *f, gconstpointer data)
{
  PymemdProcess *a = watch (f, 100, 5000, 1000, 20 * MIB);
  guint s1 = subscribe (f, ":1.7", &root_viewer, NULL);
  guint s2 = subscribe (f, ":1.7", &root_viewer,
                        options_dict ("min-change-bytes", g_variant_new_uint64 (20 * MIB), NULL));
  guint s3 = subscribe (f, ":1.9", &root_viewer, NULL);

  set_pss (a, 25 * MIB);
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 2);
  g_assert_true (was_emitted (f, ":1.7", s1, a));
  g_assert_true (was_emitted (f, ":1.9", s3, a));

  g_assert_true (pymemd_subscriptions_remove (f->subs, ":1.7", s1, NULL));
  set_pss (a, 40 * MIB);
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 2);
  g_assert_true (was_emitted (f, ":1.7", s2, a));
  g_assert_true (was_emitted (f, ":1.9", s3, a));

  g_assert_cmpuint (pymemd_subscriptions_remove_sender (f->subs, ":1.9"), ==, 1);
  set_pss (a, 80 * MIB);
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 1);
  g_assert_true (was_emitted (f, ":1.7", s2, a));
}

static void
test_pid_reused (Fixture *f, gconstpointer data)
{
  PymemdProcess *old = watch (f, 100, 5000, 1000, 50 * MIB);
  PymemdProcess *small, *fresh, *unsampled;
  guint id = subscribe (f, ":1.7", &root_viewer, NULL);

  g_assert_cmpuint (tick (f, 2 * SEC), ==, 0);

  /* Gone, and another process got its pid with the same PSS: it is new,
   * and its first sample is news (from 0). */
  unwatch (f, old);
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 0);
  fresh = watch (f, 100, 9000, 1000, 50 * MIB);
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 1);
  g_assert_true (was_emitted (f, ":1.7", id, fresh));
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 0);

  /* Replaced within one tick (exited and reused between two samples). */
  unwatch (f, fresh);
  fresh = watch (f, 100, 9500, 1000, 50 * MIB);
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 1);
  g_assert_true (was_emitted (f, ":1.7", id, fresh));

  /* A new one below the threshold from 0 is not news... */
  small = watch (f, 200, 9600, 1000, 512 * KIB);
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 0);
  /* ...until it reaches it. */
  set_pss (small, MIB);
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 1);
  g_assert_true (was_emitted (f, ":1.7", id, small));

  /* Discovered but not sampled yet: nothing to tell; its first sample is news. */
  unsampled = process_new (300, 9700, 1000);
  g_ptr_array_add (f->processes, unsampled);
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 0);
  set_pss (unsampled, 8 * MIB);
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 1);
  g_assert_true (was_emitted (f, ":1.7", id, unsampled));
}

/* Sampled at subscription time without a rollup: the first sample is news. */
static void
test_baseline_unsampled (Fixture *f, gconstpointer data)
{
  PymemdProcess *p = process_new (100, 5000, 1000);
  guint id;

  g_ptr_array_add (f->processes, p);
  id = subscribe (f, ":1.7", &root_viewer, NULL);
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 0);
  set_pss (p, 3 * MIB);
  g_assert_cmpuint (tick (f, 2 * SEC), ==, 1);
  g_assert_true (was_emitted (f, ":1.7", id, p));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/subscriptions/parse/empty", test_parse_empty);
  g_test_add_func ("/subscriptions/parse/pids", test_parse_pids);
  g_test_add_func ("/subscriptions/parse/min-change-bytes", test_parse_bytes);
  g_test_add_func ("/subscriptions/parse/min-change-percent", test_parse_percent);
  g_test_add_func ("/subscriptions/parse/min-interval", test_parse_interval);
  g_test_add_func ("/subscriptions/parse/default-bytes", test_parse_default_bytes);
  g_test_add_func ("/subscriptions/parse/unknown-key", test_parse_unknown);
  g_test_add_func ("/subscriptions/parse/bad-after-pids", test_parse_bad_after_pids);
  g_test_add_func ("/subscriptions/parse/too-many", test_parse_too_many);
  g_test_add_func ("/subscriptions/add-remove", test_add_remove);
  g_test_add_func ("/subscriptions/add-takes-options", test_add_takes_options);
  g_test_add_func ("/subscriptions/max-per-client", test_max_per_client);
  g_test_add_func ("/subscriptions/max-total", test_max_total);
  g_test_add_func ("/subscriptions/max-per-uid", test_max_per_uid);
  g_test_add_func ("/subscriptions/max-pids", test_max_pids);

#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/subscriptions/evaluate/threshold", test_threshold);
  ADD ("/subscriptions/evaluate/bytes-zero", test_bytes_zero);
  ADD ("/subscriptions/evaluate/min-interval", test_min_interval);
  ADD ("/subscriptions/evaluate/floor-interval", test_floor_interval);
  ADD ("/subscriptions/evaluate/percent", test_percent);
  ADD ("/subscriptions/evaluate/viewers", test_viewers);
  ADD ("/subscriptions/evaluate/pids", test_pids_filter);
  ADD ("/subscriptions/evaluate/several", test_several_subscriptions);
  ADD ("/subscriptions/evaluate/pid-reused", test_pid_reused);
  ADD ("/subscriptions/evaluate/baseline-unsampled", test_baseline_unsampled);
#undef ADD
  return g_test_run ();
}
