/* The file a PEP 768 attach asks the interpreter to run: readable by the target whatever the umask, unlisted, watched until it has been read, and removed with its directory once that is empty. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _PymemdAttachScript PymemdAttachScript;

/* Writes TEXT to a file of a fresh random name in DIR, mode 0644 (set
 * after creation: the daemon's umask does not narrow it), and watches it
 * for its readers. DIR is made if missing; it must be ours (root's) and
 * is given mode 0711, so that no one else can list it or write there: a
 * script's name is known only to us and to the process whose memory we
 * write it into. */
PymemdAttachScript *pymemd_attach_script_new (const char *dir,
                                              const char *text,
                                              GError    **error);
const char         *pymemd_attach_script_get_path (PymemdAttachScript *self);

/* Waits, up to TIMEOUT_US microseconds, until a process has opened the
 * script and closed it without writing (CPython reads it whole, then
 * closes it): TRUE once that happened. */
gboolean            pymemd_attach_script_wait_read (PymemdAttachScript *self,
                                                    gint64              timeout_us);

/* Removes the file, and DIR when no other script is left in it, and
 * frees. */
void                pymemd_attach_script_free (PymemdAttachScript *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PymemdAttachScript, pymemd_attach_script_free)

G_END_DECLS
