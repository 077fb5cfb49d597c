/* Keeps subscriptions, validates their options and decides which changes are worth a signal to whom. */
#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gi18n.h>

#include "pymemd-error.h"
#include "pymemd-subscriptions.h"

typedef struct {
  guint64 pss;     /* what the subscriber was last told (or the baseline) */
  gint64  sent_at; /* monotonic µs, 0: never */
} Told;

typedef struct {
  guint                     id;
  char                     *sender;
  PymemdViewer              viewer;
  PymemdSubscriptionOptions options; /* its pids sorted, without repeats; NULL: all */
  GHashTable               *told; /* "pid:start" -> Told */
} Subscription;

struct _PymemdSubscriptions
{
  GHashTable *by_id; /* id -> Subscription */
  guint       next_id;
  guint       max_per_client;
  guint       max_per_uid;
  guint       max_pids;
};

void
pymemd_subscription_options_clear (PymemdSubscriptionOptions *options)
{
  g_clear_pointer (&options->pids, g_array_unref);
}

static void
subscription_free (gpointer data)
{
  Subscription *sub = data;

  g_free (sub->sender);
  pymemd_viewer_clear (&sub->viewer);
  pymemd_subscription_options_clear (&sub->options);
  g_hash_table_unref (sub->told);
  g_free (sub);
}

static gboolean
bad_option (GError **error, const char *key, const char *why)
{
  g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS,
               _("Subscribe option “%s”: %s"), key, why);
  return FALSE;
}

/* A double option from 0 to MAX. */
static gboolean
get_double (GVariant *value, const char *key, double max, const char *allowed, double *out,
            GError **error)
{
  double v;

  if (!g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE))
    return bad_option (error, key, allowed);
  v = g_variant_get_double (value);
  if (!isfinite (v) || v < 0 || v > max)
    return bad_option (error, key, allowed);
  *out = v;
  return TRUE;
}

static gboolean
parse_options (GVariant                  *dict,
               guint64                    default_min_bytes,
               gint64                     min_interval_floor_us,
               PymemdSubscriptionOptions *options,
               GError                   **error)
{
  GVariantIter iter;
  const char *key;
  GVariant *value;
  gboolean have_bytes = FALSE, have_percent = FALSE;

  memset (options, 0, sizeof *options);
  options->min_interval_us = min_interval_floor_us;
  if (g_variant_n_children (dict) > PYMEMD_SUBSCRIPTION_MAX_OPTIONS)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS,
                   _("Subscribe takes at most %d options"), PYMEMD_SUBSCRIPTION_MAX_OPTIONS);
      return FALSE;
    }

  g_variant_iter_init (&iter, dict);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      g_autoptr(GVariant) owned = value;

      if (strcmp (key, "pids") == 0)
        {
          gsize n;
          const guint32 *pids;

          if (!g_variant_is_of_type (value, G_VARIANT_TYPE ("au")))
            return bad_option (error, key, _("must be an array of uint32 (au)"));
          pids = g_variant_get_fixed_array (value, &n, sizeof (guint32));
          if (n == 0 || n > PYMEMD_SUBSCRIPTION_MAX_PIDS)
            return bad_option (error, key, _("must list 1 to 4096 pids"));
          g_clear_pointer (&options->pids, g_array_unref);
          options->pids = g_array_sized_new (FALSE, FALSE, sizeof (guint32), (guint) n);
          g_array_append_vals (options->pids, pids, (guint) n);
        }
      else if (strcmp (key, "min-change-bytes") == 0)
        {
          if (!g_variant_is_of_type (value, G_VARIANT_TYPE_UINT64))
            return bad_option (error, key, _("must be a uint64 (t)"));
          options->min_change_bytes = g_variant_get_uint64 (value);
          have_bytes = TRUE;
        }
      else if (strcmp (key, "min-change-percent") == 0)
        {
          if (!get_double (value, key, 100, _("must be a double (d) between 0 and 100"),
                           &options->min_change_percent, error))
            return FALSE;
          have_percent = TRUE;
        }
      else if (strcmp (key, "min-interval") == 0)
        {
          double seconds;
          if (!get_double (value, key, 86400,
                           _("must be a double (d) between 0 and 86400 seconds"), &seconds, error))
            return FALSE;
          options->min_interval_us = MAX ((gint64) (seconds * G_USEC_PER_SEC),
                                          min_interval_floor_us);
        }
      else
        return bad_option (error, key,
                           _("unknown (known: pids, min-change-bytes, min-change-percent, "
                             "min-interval)"));
    }
  if (!have_bytes && !have_percent)
    options->min_change_bytes = default_min_bytes;
  return TRUE;
}

gboolean
pymemd_subscription_options_parse (GVariant                  *dict,
                                   guint64                    default_min_bytes,
                                   gint64                     min_interval_floor_us,
                                   PymemdSubscriptionOptions *options,
                                   GError                   **error)
{
  if (parse_options (dict, default_min_bytes, min_interval_floor_us, options, error))
    return TRUE;
  /* Leave nothing behind: pids may have been parsed before a bad option. */
  pymemd_subscription_options_clear (options);
  return FALSE;
}

PymemdSubscriptions *
pymemd_subscriptions_new (guint max_per_client)
{
  PymemdSubscriptions *self = g_new0 (PymemdSubscriptions, 1);

  self->by_id = g_hash_table_new_full (NULL, NULL, NULL, subscription_free);
  self->next_id = 1;
  self->max_per_client = max_per_client;
  self->max_per_uid = 64;
  self->max_pids = PYMEMD_SUBSCRIPTION_MAX_PIDS;
  return self;
}

void
pymemd_subscriptions_free (PymemdSubscriptions *self)
{
  g_hash_table_unref (self->by_id);
  g_free (self);
}

void
pymemd_subscriptions_set_max_per_client (PymemdSubscriptions *self, guint max_per_client)
{
  self->max_per_client = max_per_client;
}

void
pymemd_subscriptions_set_uid_limits (PymemdSubscriptions *self, guint max_per_uid, guint max_pids)
{
  self->max_per_uid = max_per_uid;
  self->max_pids = max_pids;
}

static char *
process_key (PymemdProcess *process)
{
  return g_strdup_printf ("%d:%" G_GUINT64_FORMAT, pymemd_process_get_pid (process),
                          pymemd_process_get_start_time (process));
}

static int
compare_pids (gconstpointer a, gconstpointer b)
{
  guint32 x = *(const guint32 *) a, y = *(const guint32 *) b;

  return (x > y) - (x < y);
}

static gboolean
wants (Subscription *sub, PymemdProcess *process)
{
  GArray *pids = sub->options.pids;
  guint32 pid = (guint32) pymemd_process_get_pid (process);

  if (pids != NULL && !g_array_binary_search (pids, &pid, compare_pids, NULL))
    return FALSE;
  return pymemd_viewer_may_see (&sub->viewer, process);
}

/* Four bytes a pid, however many subscriptions list it: sorted, each once. */
static void
sort_pids (GArray *pids)
{
  guint kept = 0;

  g_array_sort (pids, compare_pids);
  for (guint i = 0; i < pids->len; i++)
    if (kept == 0 || g_array_index (pids, guint32, i) != g_array_index (pids, guint32, kept - 1))
      g_array_index (pids, guint32, kept++) = g_array_index (pids, guint32, i);
  g_array_set_size (pids, kept);
}

static guint64
pss_of (PymemdProcess *process)
{
  const PymemdCounters *rollup = pymemd_process_get_rollup (process);
  return rollup != NULL ? rollup->value[PYMEMD_FIELD_PSS] : 0;
}

guint
pymemd_subscriptions_count (PymemdSubscriptions *self)
{
  return g_hash_table_size (self->by_id);
}

guint
pymemd_subscriptions_count_for (PymemdSubscriptions *self, const char *sender)
{
  GHashTableIter iter;
  gpointer value;
  guint n = 0;

  g_hash_table_iter_init (&iter, self->by_id);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (strcmp (((Subscription *) value)->sender, sender) == 0)
      n++;
  return n;
}

guint
pymemd_subscriptions_count_for_uid (PymemdSubscriptions *self, guint32 uid)
{
  GHashTableIter iter;
  gpointer value;
  guint n = 0;

  g_hash_table_iter_init (&iter, self->by_id);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    n += ((Subscription *) value)->viewer.uid == uid;
  return n;
}

/* Whether SENDER (seen as VIEWER) may add a subscription with OPTIONS. */
static gboolean
may_add (PymemdSubscriptions             *self,
         const char                      *sender,
         const PymemdViewer              *viewer,
         const PymemdSubscriptionOptions *options,
         GError                         **error)
{
  if (pymemd_subscriptions_count_for (self, sender) >= self->max_per_client)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_LIMIT_EXCEEDED,
                   _("A client may hold %u subscriptions; unsubscribe one first"),
                   self->max_per_client);
      return FALSE;
    }
  /* Per uid, whatever the number of its bus connections: one user cannot
   * take the subscriptions, or the memory they hold, from the others. */
  if (pymemd_subscriptions_count_for_uid (self, viewer->uid) >= self->max_per_uid)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_LIMIT_EXCEEDED,
                   _("The clients of uid %u hold %u subscriptions, the most one user may; "
                     "unsubscribe one first"),
                   viewer->uid, self->max_per_uid);
      return FALSE;
    }
  if (options->pids != NULL && options->pids->len > self->max_pids)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_LIMIT_EXCEEDED,
                   _("A subscription may list at most %u pids, not %u"), self->max_pids,
                   options->pids->len);
      return FALSE;
    }
  if (pymemd_subscriptions_count (self) >= PYMEMD_SUBSCRIPTIONS_MAX_TOTAL)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_LIMIT_EXCEEDED,
                   _("The daemon holds %d subscriptions, its maximum"),
                   PYMEMD_SUBSCRIPTIONS_MAX_TOTAL);
      return FALSE;
    }
  return TRUE;
}

guint
pymemd_subscriptions_add (PymemdSubscriptions       *self,
                          const char                *sender,
                          const PymemdViewer        *viewer,
                          PymemdSubscriptionOptions *options,
                          GPtrArray                 *processes,
                          GError                   **error)
{
  Subscription *sub;

  if (!may_add (self, sender, viewer, options, error))
    return 0;

  sub = g_new0 (Subscription, 1);
  sub->id = self->next_id++;
  if (self->next_id == 0)
    self->next_id = 1;
  sub->sender = g_strdup (sender);
  pymemd_viewer_copy (&sub->viewer, viewer);
  sub->options = *options;
  memset (options, 0, sizeof *options);
  sub->told = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  if (sub->options.pids != NULL)
    sort_pids (sub->options.pids);
  for (guint i = 0; i < processes->len; i++)
    {
      PymemdProcess *process = g_ptr_array_index (processes, i);
      Told *told;

      if (!wants (sub, process))
        continue;
      told = g_new0 (Told, 1);
      told->pss = pss_of (process);
      g_hash_table_insert (sub->told, process_key (process), told);
    }
  g_hash_table_insert (self->by_id, GUINT_TO_POINTER (sub->id), sub);
  return sub->id;
}

gboolean
pymemd_subscriptions_remove (PymemdSubscriptions *self,
                             const char          *sender,
                             guint                id,
                             GError             **error)
{
  Subscription *sub = g_hash_table_lookup (self->by_id, GUINT_TO_POINTER (id));

  /* Someone else's subscription is reported as unknown, not as denied. */
  if (sub == NULL || strcmp (sub->sender, sender) != 0)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS,
                   _("No subscription %u of this client"), id);
      return FALSE;
    }
  g_hash_table_remove (self->by_id, GUINT_TO_POINTER (id));
  return TRUE;
}

guint
pymemd_subscriptions_remove_sender (PymemdSubscriptions *self, const char *sender)
{
  GHashTableIter iter;
  gpointer value;
  guint n = 0;

  g_hash_table_iter_init (&iter, self->by_id);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (strcmp (((Subscription *) value)->sender, sender) == 0)
      {
        g_hash_table_iter_remove (&iter);
        n++;
      }
  return n;
}

static gboolean
past_thresholds (const PymemdSubscriptionOptions *o, guint64 before, guint64 now)
{
  guint64 change = now > before ? now - before : before - now;

  if (change == 0 || change < o->min_change_bytes)
    return FALSE;
  if (o->min_change_percent > 0 &&
      (before == 0 ? FALSE : (double) change * 100.0 / (double) before < o->min_change_percent))
    return FALSE;
  return TRUE;
}

void
pymemd_subscriptions_evaluate (PymemdSubscriptions   *self,
                               GPtrArray             *processes,
                               gint64                 now,
                               PymemdSubscriptionEmit emit,
                               gpointer               user_data)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->by_id);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Subscription *sub = value;
      g_autoptr(GHashTable) alive = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      GHashTableIter told_iter;
      gpointer key;

      for (guint i = 0; i < processes->len; i++)
        {
          PymemdProcess *process = g_ptr_array_index (processes, i);
          g_autofree char *k = NULL;
          Told *told;
          guint64 pss;

          if (!wants (sub, process))
            continue;
          k = process_key (process);
          pss = pss_of (process);
          told = g_hash_table_lookup (sub->told, k);
          if (told == NULL)
            {
              /* New since the last tick: its first figures are news. */
              told = g_new0 (Told, 1);
              g_hash_table_insert (sub->told, g_strdup (k), told);
            }
          g_hash_table_add (alive, g_strdup (k));
          if (!past_thresholds (&sub->options, told->pss, pss) ||
              (told->sent_at != 0 && now - told->sent_at < sub->options.min_interval_us))
            continue;
          told->pss = pss;
          told->sent_at = now;
          emit (sub->sender, sub->id, process, user_data);
        }
      /* Forget processes that are gone. */
      g_hash_table_iter_init (&told_iter, sub->told);
      while (g_hash_table_iter_next (&told_iter, &key, NULL))
        if (!g_hash_table_contains (alive, key))
          g_hash_table_iter_remove (&told_iter);
    }
}

void
pymemd_subscriptions_foreach_wanting (PymemdSubscriptions   *self,
                                      PymemdProcess         *process,
                                      PymemdSubscriptionEmit emit,
                                      gpointer               user_data)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->by_id);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Subscription *sub = value;

      if (wants (sub, process))
        emit (sub->sender, sub->id, process, user_data);
    }
}
