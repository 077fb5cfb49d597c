/* Structured logging: the events administrators filter on carry their MESSAGE_ID and pymemd's fields, in English. */
#include "config.h"

#include <string.h>

#include "pymemd-log.h"
#include "testutil.h"

/* The writer with $PYMEMD_LOG_FIELDS=1 (stderr is not the journal here):
 * GLib's line, then the entry's own fields. */
static void
test_writer_fields (void)
{
  if (g_test_subprocess ())
    {
      g_setenv ("PYMEMD_LOG_FIELDS", "1", TRUE);
      pymemd_log_init ();
      pymemd_log_event (G_LOG_LEVEL_MESSAGE, PYMEMD_MESSAGE_ATTACHED, 4242, "parked-thread",
                        "Attached the helper to process %d", 4242);
      pymemd_log_event (G_LOG_LEVEL_WARNING, PYMEMD_MESSAGE_HISTORY_DEGRADED, 0, NULL, "History store %s", "x");
      return;
    }
  g_test_trap_subprocess (NULL, 0, 0);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*Attached the helper to process 4242 MESSAGE_ID=" PYMEMD_MESSAGE_ATTACHED
                             " PYMEMD_PID=4242 PYMEMD_WAY=parked-thread\n*");
  /* No pid, no way: no such fields. */
  g_test_trap_assert_stderr ("*WARNING*History store x MESSAGE_ID=" PYMEMD_MESSAGE_HISTORY_DEGRADED "\n*");
}

/* Without $PYMEMD_LOG_FIELDS, GLib's own line alone. */
static void
test_writer_plain (void)
{
  if (g_test_subprocess ())
    {
      g_unsetenv ("PYMEMD_LOG_FIELDS");
      pymemd_log_init ();
      pymemd_log_event (G_LOG_LEVEL_MESSAGE, PYMEMD_MESSAGE_ATTACHED, 4242, "pep768", "Attached to %d", 4242);
      return;
    }
  g_test_trap_subprocess (NULL, 0, 0);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*Attached to 4242\n*");
  g_test_trap_assert_stderr_unmatched ("*MESSAGE_ID=*");
}

/* A name a user chose, with a newline and a line of pymemd's after it, in
 * a message (an event's and a plain g_message's), with and without the
 * fields: one line each, the newline escaped, nothing else changed. */
static void
test_writer_one_line (void)
{
  const char *forged = "python3\npymemd-Message: 23:59:59.000: Attached the helper to process 1\r\x1b[2K";

  if (g_test_subprocess ())
    {
      if (g_strcmp0 (g_getenv ("TEST_FIELDS"), "1") == 0)
        g_setenv ("PYMEMD_LOG_FIELDS", "1", TRUE);
      else
        g_unsetenv ("PYMEMD_LOG_FIELDS");
      pymemd_log_init ();
      pymemd_log_event (G_LOG_LEVEL_MESSAGE, PYMEMD_MESSAGE_GROWTH_SUSPECTED, 4242, NULL,
                        "Process %d (%s) grows by %s per hour", 4242, forged, "7.0 GiB");
      g_message ("Process %d (%s): what grew most: %s", 4242, forged, "dict\ttuple");
      return;
    }
  for (guint fields = 0; fields < 2; fields++)
    {
      /* The child inherits it. */
      g_setenv ("TEST_FIELDS", fields ? "1" : "0", TRUE);
      g_test_trap_subprocess (NULL, 0, 0);
      g_test_trap_assert_passed ();
      g_test_trap_assert_stderr ("*Process 4242 (python3\\npymemd-Message: 23:59:59.000: Attached the helper to "
                                 "process 1\\r\\x1b[2K) grows by 7.0 GiB per hour*");
      g_test_trap_assert_stderr ("*Process 4242 (python3\\npymemd-Message: 23:59:59.000: Attached the helper to "
                                 "process 1\\r\\x1b[2K): what grew most: dict\ttuple\n*");
      g_test_trap_assert_stderr_unmatched ("*\npymemd-Message: 23:59:59.000*");
    }
  g_unsetenv ("TEST_FIELDS");
}

/* The real daemon attaching to a real interpreter: its log says so, with
 * the attach's MESSAGE_ID, the pid and the way. */
static void
test_daemon_attach (void)
{
  g_autofree char *log_path = NULL, *log = NULL, *pid_field = NULL;
  g_autoptr(GVariant) summary = NULL;
  g_autoptr(GError) error = NULL;
  PymemdTestService service;
  PymemdTestChild child;
  g_auto(GStrv) lines = NULL;
  const char *attached = NULL;

  g_setenv ("PYMEMD_LOG_FIELDS", "1", TRUE);
  if (!pymemd_test_service_start_with_child (&service, "0.5", &child,
                                             "import time\nprint('ready', flush=True)\ntime.sleep(3600)\n"))
    return;
  summary = pymemd_test_get_heap (&service, child.pid, "{'attach': <true>}", &error);
  g_assert_no_error (error);
  g_assert_nonnull (summary);

  log_path = g_build_filename (service.tmp, "pymemd.log", NULL);
  g_assert_true (g_file_get_contents (log_path, &log, NULL, NULL));
  lines = g_strsplit (log, "\n", -1);
  pid_field = g_strdup_printf (" PYMEMD_PID=%d ", child.pid);
  for (guint i = 0; lines[i] != NULL; i++)
    if (strstr (lines[i], "MESSAGE_ID=" PYMEMD_MESSAGE_ATTACHED) != NULL)
      attached = lines[i];
  g_test_message ("%s", log);
  g_assert_nonnull (attached);
  g_assert_nonnull (strstr (attached, "Attached the helper to process"));
  g_assert_nonnull (strstr (attached, pid_field));
  g_assert_true (strstr (attached, " PYMEMD_WAY=parked-thread") != NULL ||
                 strstr (attached, " PYMEMD_WAY=pending-call") != NULL ||
                 strstr (attached, " PYMEMD_WAY=pep768") != NULL);

  pymemd_test_child_stop (&child);
  pymemd_test_service_stop (&service);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/log/writer-fields", test_writer_fields);
  g_test_add_func ("/log/writer-plain", test_writer_plain);
  g_test_add_func ("/log/writer-one-line", test_writer_one_line);
  g_test_add_func ("/log/daemon-attach", test_daemon_attach);
  return g_test_run ();
}
