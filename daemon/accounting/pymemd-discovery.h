/* Finds the CPython interpreters among all processes and keeps their identities across scans. */
#pragma once

#include <glib-object.h>

#include "pymemd-elf.h"
#include "pymemd-process.h"
#include "pymemd-procfs.h"

G_BEGIN_DECLS

#define PYMEMD_TYPE_DISCOVERY (pymemd_discovery_get_type ())
G_DECLARE_FINAL_TYPE (PymemdDiscovery, pymemd_discovery, PYMEMD, DISCOVERY, GObject)

PymemdDiscovery *pymemd_discovery_new (PymemdProcfs   *procfs,
                                       PymemdElfCache *elf_cache);

/* A process found not to be Python is looked at again by
 * pymemd_discovery_update () (it may dlopen libpython later) once this
 * many µs have passed (default 30 s; 0: at every update), or 15 updates,
 * whichever comes first. */
void       pymemd_discovery_set_recheck_interval (PymemdDiscovery *self,
                                                  gint64           usec);

/* Each user's share of looking at processes (CPU µs a second, and how
 * much at once; 100 ms and 1 s by default): the CPU time of each look is
 * charged to the real uid of the process looked at, and the new processes
 * of a user over it are looked at later, by a listing, others' at once. */
void       pymemd_discovery_set_look_share (PymemdDiscovery *self,
                                            guint64          us_per_second,
                                            guint64          burst_us);

/* Only OWNER's interpreters are reported (-1, the default: everyone's). */
void       pymemd_discovery_set_owner (PymemdDiscovery *self,
                                       gint64           owner);

/* Rescans the process list. ADDED and REMOVED, when not NULL, receive the
 * PymemdProcess objects that appeared or went away. */
gboolean   pymemd_discovery_update (PymemdDiscovery *self,
                                    GPtrArray       *added,
                                    GPtrArray       *removed,
                                    GError         **error);

/* Looks at PID now, whatever was found of it before (an event said it
 * forked, ran exec or ended): TRUE if it is a watched interpreter after. */
gboolean   pymemd_discovery_update_pid (PymemdDiscovery *self,
                                        int              pid,
                                        GPtrArray       *added,
                                        GPtrArray       *removed);

/* PID ran exec: if it is a known interpreter, its next look (by
 * pymemd_discovery_update_pid () or a listing) replaces it with what its
 * new image is, as if it had ended and another process had started, even
 * where it runs the same executable. */
void       pymemd_discovery_note_exec (PymemdDiscovery *self,
                                       int              pid);

/* Looks again, as pymemd_discovery_update_pid () does, at each known
 * interpreter whose exec was noted since its last look: what it runs now
 * replaces it. For a pass that lists no /proc, so that it samples no
 * process as the program it ran before its exec. */
void       pymemd_discovery_update_execed (PymemdDiscovery *self);
/* Whether PROCESS is alive and runs the executable it was found running
 * (one stat of its exe). */
gboolean   pymemd_discovery_still_same (PymemdProcess *process);

/* Whether PID is a watched interpreter. */
gboolean   pymemd_discovery_knows (PymemdDiscovery *self,
                                   int              pid);
/* Whether PID was last found no interpreter while its executable links
 * libpython: its dynamic loader had yet to map it (a look right after the
 * exec), so it is worth another look soon. */
gboolean   pymemd_discovery_awaits_loader (PymemdDiscovery *self,
                                           int              pid);

/* The interpreters known now, sorted by pid (a new array of new refs). */
GPtrArray *pymemd_discovery_get_processes (PymemdDiscovery *self);

/* Drops what is remembered of PID, which exited, when it was no
 * interpreter: what is kept of other processes then lasts only as long as
 * they do, not until the next listing. */
void       pymemd_discovery_note_exit (PymemdDiscovery *self,
                                       int              pid);

/* How many processes found no interpreter are remembered (so that a
 * listing does not look at them again before their recheck is due). */
guint      pymemd_discovery_count_others (PymemdDiscovery *self);

/* Drops PROCESS, which the caller found gone (its reads failed). */
void       pymemd_discovery_forget (PymemdDiscovery *self,
                                    PymemdProcess   *process);

/* Examines one pid now: a new PymemdProcess if it is an interpreter; NULL
 * with PYMEMD_ERROR_NOT_PYTHON or another error otherwise. */
PymemdProcess *pymemd_discovery_examine (PymemdDiscovery *self,
                                         int              pid,
                                         GError         **error);

G_END_DECLS
