/* One watched interpreter as the applet knows it: what the daemon last said of it, and its recent PSS for the sparkline. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define PYMEMD_APPLET_TYPE_PROCESS (pymemd_applet_process_get_type ())
G_DECLARE_FINAL_TYPE (PymemdAppletProcess, pymemd_applet_process, PYMEMD_APPLET, PROCESS, GObject)

/* How far back the sparkline reaches, and the most points it keeps. */
#define PYMEMD_APPLET_HISTORY_SPAN_US (10 * 60 * G_USEC_PER_SEC)
#define PYMEMD_APPLET_HISTORY_MAX_POINTS 256

typedef struct {
  gint64  time; /* µs since the epoch */
  guint64 pss;
} PymemdAppletPoint;

typedef enum {
  PYMEMD_APPLET_HISTORY_NONE,    /* not asked for yet */
  PYMEMD_APPLET_HISTORY_LOADING, /* GetHistory asked, or waiting its turn */
  PYMEMD_APPLET_HISTORY_LOADED,
  PYMEMD_APPLET_HISTORY_FAILED,  /* the daemon gave none: the sparkline shows what came since */
} PymemdAppletHistoryState;

/* "PID_STARTTIME", the key of a process (a reused pid is another one). */
char *pymemd_applet_process_key (guint32 pid,
                                 guint64 start_time);

PymemdAppletProcess *pymemd_applet_process_new (guint32     pid,
                                                guint64     start_time,
                                                const char *object_path);

guint32     pymemd_applet_process_get_pid            (PymemdAppletProcess *self);
guint64     pymemd_applet_process_get_start_time     (PymemdAppletProcess *self);
const char *pymemd_applet_process_get_key            (PymemdAppletProcess *self);
const char *pymemd_applet_process_get_object_path    (PymemdAppletProcess *self);
guint32     pymemd_applet_process_get_uid            (PymemdAppletProcess *self);
/* The program's name, control characters replaced (its program chose it). */
const char *pymemd_applet_process_get_name           (PymemdAppletProcess *self);
const char *pymemd_applet_process_get_cmdline        (PymemdAppletProcess *self);
const char *pymemd_applet_process_get_python_version (PymemdAppletProcess *self);
/* TRUE when the daemon shows this caller only what /proc/PID/status shows
 * everyone: RSS and swap, no PSS, no history. */
gboolean    pymemd_applet_process_get_restricted     (PymemdAppletProcess *self);
void        pymemd_applet_process_set_restricted     (PymemdAppletProcess *self,
                                                      gboolean             restricted);
guint64     pymemd_applet_process_get_rss            (PymemdAppletProcess *self);
/* FALSE while the daemon has not given the figure (restricted, or none yet). */
gboolean    pymemd_applet_process_get_pss            (PymemdAppletProcess *self,
                                                      guint64             *pss);
gboolean    pymemd_applet_process_get_private_dirty  (PymemdAppletProcess *self,
                                                      guint64             *private_dirty);
/* The figure the list sorts by and sums: PSS, or RSS when restricted. */
guint64     pymemd_applet_process_get_sort_size      (PymemdAppletProcess *self);

/* Points oldest first; N_POINTS set. */
const PymemdAppletPoint *pymemd_applet_process_get_history (PymemdAppletProcess *self,
                                                            guint               *n_points);
PymemdAppletHistoryState pymemd_applet_process_get_history_state (PymemdAppletProcess *self);
void     pymemd_applet_process_set_history_state (PymemdAppletProcess     *self,
                                                  PymemdAppletHistoryState state);

/* From an entry of GetProcesses (a{sv}). */
void     pymemd_applet_process_update_from_entry (PymemdAppletProcess *self,
                                                  GVariant            *entry);
/* From the properties of an org.pymemd.Process1 object (a{sv}), as
 * InterfacesAdded or PropertiesChanged give them. */
void     pymemd_applet_process_update_from_properties (PymemdAppletProcess *self,
                                                       GVariant            *properties);
/* From the sample (a{st}) of a MemoryChanged signal received at NOW (µs
 * since the epoch); its PSS becomes a point of the sparkline. */
void     pymemd_applet_process_update_from_sample (PymemdAppletProcess *self,
                                                   GVariant            *sample,
                                                   gint64               now);
/* The reply of GetHistory: its time and pss_avg columns become the
 * sparkline's points, before those MemoryChanged brought meanwhile. */
void     pymemd_applet_process_set_history (PymemdAppletProcess *self,
                                            GVariant            *times,
                                            GVariant            *pss_avg);

/* How many list rows show this process now: history is fetched only for
 * processes someone looks at. */
void     pymemd_applet_process_hold_view    (PymemdAppletProcess *self);
void     pymemd_applet_process_release_view (PymemdAppletProcess *self);
gboolean pymemd_applet_process_is_viewed    (PymemdAppletProcess *self);

/* Emits "changed": the rows showing it redraw. The source calls it once
 * per batch of updates. */
void     pymemd_applet_process_emit_changed (PymemdAppletProcess *self);

G_END_DECLS
