/* The daemon's settings: the defaults, overridden by a strictly validated pymemd.conf (see pymemd.conf(5)), handed down to each stage as its own settings struct. */
#pragma once

#include <glib-object.h>

#include "pymemd-heap-broker.h"
#include "pymemd-heap-watch.h"
#include "pymemd-helper-channel.h"
#include "pymemd-history.h"
#include "pymemd-monitor.h"

G_BEGIN_DECLS

/* Who may attach the helper to a process ([access] attach). Admins are root
 * and holders of the polkit action org.pymemd.attach. */
typedef enum {
  PYMEMD_ATTACH_NONE,  /* nobody */
  PYMEMD_ATTACH_ADMIN, /* admins, to any process */
  PYMEMD_ATTACH_OWN,   /* a process's owner to it, and admins to any */
} PymemdAttachPolicy;

#define PYMEMD_TYPE_CONFIG (pymemd_config_get_type ())
G_DECLARE_FINAL_TYPE (PymemdConfig, pymemd_config, PYMEMD, CONFIG, GObject)

PymemdConfig *pymemd_config_new (void);
/* The defaults overridden by PATH. A missing PATH gives the defaults with
 * MISSING_OK, else PYMEMD_ERROR_GONE; bad content is
 * PYMEMD_ERROR_INVALID_ARGS, with a one-line message naming the file, the
 * key, the value and what it may be. */
PymemdConfig *pymemd_config_load (const char *path,
                                  gboolean    missing_ok,
                                  GError    **error);
/* The first of PATHS (NULL-terminated) that exists, loaded as with
 * pymemd_config_load (); the defaults when none does. Only a missing file
 * passes to the next one: an invalid or unreadable one is an error. */
PymemdConfig *pymemd_config_load_first (const char *const *paths,
                                        GError           **error);

/* A copy of SELF with the command line's intervals (0: keep SELF's),
 * validated like the file's. */
PymemdConfig *pymemd_config_with_intervals (PymemdConfig *self,
                                            double        interval,
                                            double        detail_interval,
                                            GError      **error);

/* The file the settings came from, or NULL for the defaults. */
const char   *pymemd_config_get_path (PymemdConfig *self);
/* Seconds between rollup passes. */
double        pymemd_config_get_interval (PymemdConfig *self);
/* Seconds between detail (and exact) passes; at least the interval. */
double        pymemd_config_get_detail_interval (PymemdConfig *self);
/* What the monitor follows: the intervals, whether discovery hears the
 * kernel's process events ([monitor] events), the scan budget. */
void          pymemd_config_get_monitor (PymemdConfig          *self,
                                         PymemdMonitorSettings *out);
/* The change threshold of subscriptions that set none. */
guint64       pymemd_config_get_min_change_bytes (PymemdConfig *self);
/* Seconds: the floor for subscriptions' min-interval. */
double        pymemd_config_get_min_signal_interval (PymemdConfig *self);
guint         pymemd_config_get_max_subscriptions_per_client (PymemdConfig *self);
PymemdAttachPolicy pymemd_config_get_attach (PymemdConfig *self);
void          pymemd_config_get_history (PymemdConfig          *self,
                                         PymemdHistorySettings *out);
void          pymemd_config_get_attach_limits (PymemdConfig       *self,
                                               PymemdAttachLimits *out);
void          pymemd_config_get_graph_limits (PymemdConfig      *self,
                                              PymemdGraphLimits *out);

void          pymemd_config_get_heap_watch (PymemdConfig            *self,
                                            PymemdHeapWatchSettings *out);

/* [limits]: what one user may hold of what every user shares. */
void          pymemd_config_get_helper_limits (PymemdConfig       *self,
                                               PymemdHelperLimits *out);
guint         pymemd_config_get_subscriptions_per_uid (PymemdConfig *self);
guint         pymemd_config_get_pids_per_subscription (PymemdConfig *self);
guint         pymemd_config_get_rescans_per_uid_per_minute (PymemdConfig *self);

G_END_DECLS
