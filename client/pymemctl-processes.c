/* Every process pymemd lists, as GetProcesses gives them, from GetTable's columns and the identities (names, command lines) kept between runs in the user's runtime directory, so that strings cross the bus once per process lifetime. */
#include "config.h"

#include <errno.h>
#include <math.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "pymemctl-processes.h"
#include "pymemctl-util.h"
#include "pymemd-error.h"
#include "pymemd-names.h"

/* The cache: (instance, identities as GetIdentities gives them). */
#define CACHE_TYPE        "(sa(utbssso))"
#define IDENTITY_TYPE     "(utbssso)"
/* A cache larger than this is not ours: ignored (and replaced). */
#define MAX_CACHE_BYTES   (16 << 20)
/* As the daemon takes at most so many in one GetIdentities. */
#define MAX_ASKED         65536

typedef struct {
  guint32 pid;
  guint64 start_time;
} Key;

static guint
key_hash (gconstpointer p)
{
  const Key *key = p;

  return g_direct_hash (GUINT_TO_POINTER (key->pid)) ^ g_int64_hash (&key->start_time);
}

static gboolean
key_equal (gconstpointer a, gconstpointer b)
{
  const Key *x = a, *y = b;

  return x->pid == y->pid && x->start_time == y->start_time;
}

static char *
cache_path (void)
{
  const char *override = g_getenv ("PYMEMCTL_CACHE");

  if (override != NULL)
    return *override != '\0' ? g_strdup (override) : NULL;
  return g_build_filename (g_get_user_runtime_dir (), "pymemctl", "identities", NULL);
}

/* The identities of a cache written for INSTANCE, by (pid, start time);
 * an empty table where there is none, or it is another daemon's, or it is
 * not what we write. Each value is a (utbssso) the table owns a ref of. */
static GHashTable *
load_cache (const char *path, const char *instance)
{
  g_autoptr(GHashTable) table = g_hash_table_new_full (key_hash, key_equal, g_free,
                                                      (GDestroyNotify) g_variant_unref);
  g_autoptr(GMappedFile) file = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GVariant) cache = NULL;
  g_autoptr(GVariant) identities = NULL;
  g_autoptr(GVariant) cached_instance = NULL;
  GVariantIter iter;
  GVariant *identity;

  if (path == NULL || (file = g_mapped_file_new (path, FALSE, NULL)) == NULL ||
      g_mapped_file_get_length (file) > MAX_CACHE_BYTES)
    return g_steal_pointer (&table);
  bytes = g_mapped_file_get_bytes (file);
  cache = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE (CACHE_TYPE), bytes, FALSE));
  /* Whatever the file holds, the normal form is a valid value. */
  if (!g_variant_is_normal_form (cache))
    return g_steal_pointer (&table);
  cached_instance = g_variant_get_child_value (cache, 0);
  if (g_strcmp0 (g_variant_get_string (cached_instance, NULL), instance) != 0)
    return g_steal_pointer (&table);
  identities = g_variant_get_child_value (cache, 1);
  g_variant_iter_init (&iter, identities);
  while ((identity = g_variant_iter_next_value (&iter)) != NULL)
    {
      Key *key = g_new (Key, 1);

      g_variant_get (identity, "(utbssso)", &key->pid, &key->start_time, NULL, NULL, NULL, NULL, NULL);
      g_hash_table_replace (table, key, identity);
    }
  return g_steal_pointer (&table);
}

/* Writes the identities of the processes listed now (KEPT), so that those
 * that ended leave it: it never holds more than one listing. A cache is
 * only that: what cannot be written is not an error. */
static void
save_cache (const char *path, const char *instance, GPtrArray *kept)
{
  g_autofree char *dir = NULL;
  g_autoptr(GVariant) cache = NULL;

  if (path == NULL)
    return;
  dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0700) < 0)
    return;
  cache = g_variant_ref_sink (g_variant_new ("(s@a(utbssso))", instance,
                                             g_variant_new_array (G_VARIANT_TYPE (IDENTITY_TYPE),
                                                                  (GVariant **) kept->pdata, kept->len)));
  g_file_set_contents_full (path, g_variant_get_data (cache), (gssize) g_variant_get_size (cache),
                            G_FILE_SET_CONTENTS_CONSISTENT, 0600, NULL);
}

/* Asks pymemd for the identities of the processes in WANTED (Keys) and
 * adds them to TABLE. */
static gboolean
fetch_identities (PymemdDbusMonitor1 *monitor, GArray *wanted, GHashTable *table, GError **error)
{
  for (guint from = 0; from < wanted->len; from += MAX_ASKED)
    {
      guint count = MIN (wanted->len - from, MAX_ASKED);
      GVariantBuilder builder;
      g_autoptr(GVariant) identities = NULL;
      GVariantIter iter;
      GVariant *identity;

      g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(ut)"));
      for (guint i = from; i < from + count; i++)
        {
          const Key *key = &g_array_index (wanted, Key, i);

          g_variant_builder_add (&builder, "(ut)", key->pid, key->start_time);
        }
      if (!pymemd_dbus_monitor1_call_get_identities_sync (monitor, g_variant_builder_end (&builder),
                                                          G_DBUS_CALL_FLAGS_NONE, -1, &identities, NULL, error))
        return FALSE;
      g_variant_iter_init (&iter, identities);
      while ((identity = g_variant_iter_next_value (&iter)) != NULL)
        {
          Key *key = g_new (Key, 1);

          g_variant_get (identity, "(utbssso)", &key->pid, &key->start_time, NULL, NULL, NULL, NULL, NULL);
          g_hash_table_replace (table, key, identity);
        }
    }
  return TRUE;
}

struct _PymemctlProcesses
{
  GVariant   *legacy;       /* GetProcesses' aa{sv}, from a pymemd without GetTable */
  GVariant   *columns[10];  /* GetTable's reply, by argument */
  char      **figures;
  gsize       n_figures;
  GHashTable *identities;   /* Key -> (utbssso) */
  GPtrArray  *rows;         /* row index -> (utbssso), borrowed; NULL rows left out */
  const guint32 *uid;
  const guint8  *restricted;
  const gint64  *sampled_at;
  const guint64 *values;
  const guint64 *present;
  const double  *growth;
};

enum { COL_INSTANCE, COL_PID, COL_START, COL_UID, COL_RESTRICTED, COL_SAMPLED, COL_FIGURES, COL_VALUES,
       COL_PRESENT, COL_GROWTH };

void
pymemctl_processes_free (PymemctlProcesses *self)
{
  g_clear_pointer (&self->legacy, g_variant_unref);
  for (guint i = 0; i < G_N_ELEMENTS (self->columns); i++)
    g_clear_pointer (&self->columns[i], g_variant_unref);
  g_strfreev (self->figures);
  g_clear_pointer (&self->identities, g_hash_table_unref);
  g_clear_pointer (&self->rows, g_ptr_array_unref);
  g_free (self);
}

/* One process's dictionary, its keys in GetProcesses' order. */
static GVariant *
row_variant (PymemctlProcesses *self, guint i)
{
  GVariant *identity = g_ptr_array_index (self->rows, i);
  const guint64 *values = self->values + (gsize) i * self->n_figures;
  GVariantBuilder builder;
  guint32 pid;
  guint64 start_time;
  const char *name, *cmdline, *version, *object_path;

  g_variant_get (identity, "(utb&s&s&s&o)", &pid, &start_time, NULL, &name, &cmdline, &version, &object_path);
  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&builder, "{sv}", PYMEMD_KEY_PID, g_variant_new_uint32 (pid));
  g_variant_builder_add (&builder, "{sv}", PYMEMD_KEY_START_TIME, g_variant_new_uint64 (start_time));
  g_variant_builder_add (&builder, "{sv}", PYMEMD_KEY_UID, g_variant_new_uint32 (self->uid[i]));
  g_variant_builder_add (&builder, "{sv}", "name", g_variant_new_string (name));
  g_variant_builder_add (&builder, "{sv}", "cmdline", g_variant_new_string (cmdline));
  g_variant_builder_add (&builder, "{sv}", "python_version", g_variant_new_string (version));
  g_variant_builder_add (&builder, "{sv}", "object_path", g_variant_new_object_path (object_path));
  g_variant_builder_add (&builder, "{sv}", "sampled_at", g_variant_new_int64 (self->sampled_at[i]));
  g_variant_builder_add (&builder, "{sv}", "restricted", g_variant_new_boolean (self->restricted[i] != 0));
  for (gsize f = 0; f < self->n_figures; f++)
    if (self->present[i] & (G_GUINT64_CONSTANT (1) << f))
      g_variant_builder_add (&builder, "{sv}", self->figures[f], g_variant_new_uint64 (values[f]));
  if (!isnan (self->growth[i]))
    g_variant_builder_add (&builder, "{sv}", "growth_per_hour", g_variant_new_double (self->growth[i]));
  return g_variant_builder_end (&builder);
}

/* The same as JSON, as json_gvariant_serialize () would write the
 * dictionary, without building it first. */
static JsonNode *
row_json (PymemctlProcesses *self, guint i)
{
  GVariant *identity = g_ptr_array_index (self->rows, i);
  const guint64 *values = self->values + (gsize) i * self->n_figures;
  JsonObject *object = json_object_new ();
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);
  guint32 pid;
  guint64 start_time;
  const char *name, *cmdline, *version, *object_path;

  g_variant_get (identity, "(utb&s&s&s&o)", &pid, &start_time, NULL, &name, &cmdline, &version, &object_path);
  json_object_set_int_member (object, PYMEMD_KEY_PID, pid);
  json_object_set_int_member (object, PYMEMD_KEY_START_TIME, (gint64) start_time);
  json_object_set_int_member (object, PYMEMD_KEY_UID, self->uid[i]);
  json_object_set_string_member (object, "name", name);
  json_object_set_string_member (object, "cmdline", cmdline);
  json_object_set_string_member (object, "python_version", version);
  json_object_set_string_member (object, "object_path", object_path);
  json_object_set_int_member (object, "sampled_at", self->sampled_at[i]);
  json_object_set_boolean_member (object, "restricted", self->restricted[i] != 0);
  for (gsize f = 0; f < self->n_figures; f++)
    if (self->present[i] & (G_GUINT64_CONSTANT (1) << f))
      json_object_set_int_member (object, self->figures[f], (gint64) values[f]);
  if (!isnan (self->growth[i]))
    json_object_set_double_member (object, "growth_per_hour", self->growth[i]);
  json_node_take_object (node, object);
  return node;
}

GVariant *
pymemctl_processes_to_variant (PymemctlProcesses *self)
{
  GVariantBuilder builder;

  if (self->legacy != NULL)
    return g_variant_ref (self->legacy);
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < self->rows->len; i++)
    if (g_ptr_array_index (self->rows, i) != NULL)
      g_variant_builder_add_value (&builder, row_variant (self, i));
  return g_variant_ref_sink (g_variant_builder_end (&builder));
}

guint
pymemctl_processes_count (PymemctlProcesses *self)
{
  return self->legacy != NULL ? (guint) g_variant_n_children (self->legacy) : self->rows->len;
}

JsonNode *
pymemctl_processes_row_to_json (PymemctlProcesses *self, guint i)
{
  if (self->legacy != NULL)
    {
      g_autoptr(GVariant) entry = g_variant_get_child_value (self->legacy, i);

      return json_gvariant_serialize (entry);
    }
  return g_ptr_array_index (self->rows, i) != NULL ? row_json (self, i) : NULL;
}

PymemctlProcesses *
pymemctl_processes_get (PymemdDbusMonitor1 *monitor, GError **error)
{
  g_autoptr(PymemctlProcesses) self = g_new0 (PymemctlProcesses, 1);
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GArray) wanted = g_array_new (FALSE, FALSE, sizeof (Key));
  g_autoptr(GPtrArray) kept = g_ptr_array_new ();
  g_autofree char *path = cache_path ();
  g_autofree char *instance = NULL;
  GVariant **c = self->columns;
  const guint32 *pid_col;
  const guint64 *start_col;
  gsize n = 0;
  gboolean ok = TRUE;

  if (!pymemd_dbus_monitor1_call_get_table_sync (monitor, G_DBUS_CALL_FLAGS_NONE, -1, &instance,
                                                 &c[COL_PID], &c[COL_START], &c[COL_UID], &c[COL_RESTRICTED],
                                                 &c[COL_SAMPLED], &self->figures, &c[COL_VALUES], &c[COL_PRESENT],
                                                 &c[COL_GROWTH], NULL, &local_error))
    {
      /* A pymemd from before GetTable: the dictionaries, strings and all. */
      if (!g_error_matches (local_error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      if (!pymemd_dbus_monitor1_call_get_processes_sync (monitor, G_DBUS_CALL_FLAGS_NONE, -1, &self->legacy, NULL,
                                                         error))
        return NULL;
      return g_steal_pointer (&self);
    }
  self->n_figures = g_strv_length (self->figures);
  pid_col = g_variant_get_fixed_array (c[COL_PID], &n, sizeof (guint32));
  start_col = pymemctl_column (c[COL_START], n, sizeof (guint64), &ok);
  self->uid = pymemctl_column (c[COL_UID], n, sizeof (guint32), &ok);
  self->restricted = pymemctl_column (c[COL_RESTRICTED], n, sizeof (guint8), &ok);
  self->sampled_at = pymemctl_column (c[COL_SAMPLED], n, sizeof (gint64), &ok);
  self->present = pymemctl_column (c[COL_PRESENT], n, sizeof (guint64), &ok);
  self->growth = pymemctl_column (c[COL_GROWTH], n, sizeof (double), &ok);
  /* (With no process at all every column is empty, and its data NULL.) */
  if (self->n_figures > 0 && self->n_figures <= 64 && n <= G_MAXSIZE / self->n_figures)
    self->values = pymemctl_column (c[COL_VALUES], n * self->n_figures, sizeof (guint64), &ok);
  else
    ok = FALSE;
  if (!ok)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           _("pymemd answered GetTable with columns that do not fit together"));
      return NULL;
    }

  /* The identities kept since an earlier run against this daemon; pymemd
   * is asked only for the others, all in one call. */
  self->identities = load_cache (path, instance);
  for (gsize i = 0; i < n; i++)
    {
      Key key = { pid_col[i], start_col[i] };
      GVariant *identity = g_hash_table_lookup (self->identities, &key);
      gboolean was_restricted = FALSE;

      if (identity != NULL)
        g_variant_get_child (identity, 2, "b", &was_restricted);
      if (identity == NULL || was_restricted != (self->restricted[i] != 0))
        g_array_append_val (wanted, key);
    }
  if (wanted->len > 0 && !fetch_identities (monitor, wanted, self->identities, error))
    return NULL;

  /* A process that ended (or went out of sight) between the two calls is
   * left out, as if GetTable had come a moment later. */
  self->rows = g_ptr_array_sized_new ((guint) n);
  for (gsize i = 0; i < n; i++)
    {
      Key key = { pid_col[i], start_col[i] };
      GVariant *identity = g_hash_table_lookup (self->identities, &key);

      g_ptr_array_add (self->rows, identity);
      if (identity != NULL)
        g_ptr_array_add (kept, identity);
    }
  if (wanted->len > 0)
    save_cache (path, instance, kept);
  return g_steal_pointer (&self);
}
