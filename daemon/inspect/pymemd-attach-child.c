/* The daemon's end of one attach: finds the pymemd-attach program, spawns it, writes it the bootstrap, reads its bounded reply and waits for it to exit — never kills it. */
#include "config.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "pymemd-attach-child.h"
#include "pymemd-attach-reply.h"
#include "pymemd-error.h"

#ifndef PYMEMD_ATTACH_PATH
#define PYMEMD_ATTACH_PATH "/usr/libexec/pymemd/pymemd-attach"
#endif

#define READ_CHUNK 4096

typedef struct {
  GSubprocess *child;
  char        *pid;         /* the child's, for the log */
  GBytes      *bootstrap;
  GByteArray  *reply;
  GError      *reply_error; /* reading the reply failed, or it was too long */
  guint        pending;     /* writing, reading, waiting: what has not ended */
} Run;

static void
run_free (Run *run)
{
  g_clear_object (&run->child);
  g_free (run->pid);
  g_bytes_unref (run->bootstrap);
  g_byte_array_unref (run->reply);
  g_clear_error (&run->reply_error);
  g_free (run);
}

/* ---- the program ---- */

/* PATH (a file or a directory) as only root or we may change it. */
static gboolean
safe_component (const char *path, gboolean is_program, GError **error)
{
  struct stat st;
  const char *problem = NULL;

  if (stat (path, &st) != 0)
    problem = g_strerror (errno);
  else if (is_program && (!S_ISREG (st.st_mode) || (st.st_mode & S_IXUSR) == 0))
    problem = _("not an executable file");
  else if (!is_program && !S_ISDIR (st.st_mode))
    problem = _("not a directory");
  else if (st.st_uid != 0 && st.st_uid != geteuid ())
    problem = _("owned by another user");
  /* A sticky directory (/tmp) lets others add entries, but not replace
   * or rename ours: what lies below it is checked on its own. */
  else if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (is_program || (st.st_mode & S_ISVTX) == 0))
    problem = _("writable by others");
  if (problem == NULL)
    return TRUE;
  g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED, _("The attach program cannot be used: %s: %s"), path,
               problem);
  return FALSE;
}

char *
pymemd_attach_child_find_program (GError **error)
{
  const char *path = g_getenv ("PYMEMD_ATTACH_BIN");

  return pymemd_attach_child_check_program (path != NULL ? path : PYMEMD_ATTACH_PATH, error);
}

char *
pymemd_attach_child_check_program (const char *path, GError **error)
{
  g_autofree char *real = NULL;
  g_autofree char *dir = NULL;

  /* Every link resolved, so that each directory checked is one the path
   * really goes through. */
  real = realpath (path, NULL);
  if (real == NULL)
    {
      int errsv = errno;
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED, _("The attach program cannot be used: %s: %s"), path,
                   g_strerror (errsv));
      return NULL;
    }
  if (!safe_component (real, TRUE, error))
    return NULL;
  dir = g_path_get_dirname (real);
  for (;;)
    {
      char *parent;

      if (!safe_component (dir, FALSE, error))
        return NULL;
      if (g_str_equal (dir, "/"))
        break;
      parent = g_path_get_dirname (dir);
      g_free (dir);
      dir = parent;
    }
  return g_steal_pointer (&real);
}

gboolean
pymemd_attach_child_can_refuse_oom_killer (void)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL) ||
      (line = strstr (status, "\nCapEff:")) == NULL)
    return FALSE;
  return (g_ascii_strtoull (line + strlen ("\nCapEff:"), NULL, 16) & (G_GUINT64_CONSTANT (1) << CAP_SYS_RESOURCE)) != 0;
}

/* ---- one run ---- */

static void
describe_exit (int status, GString *text)
{
  if (WIFEXITED (status))
    g_string_append_printf (text, _("exited with status %d"), WEXITSTATUS (status));
  else if (WIFSIGNALED (status))
    g_string_append_printf (text, _("was killed by signal %d (%s)"), WTERMSIG (status),
                            g_strsignal (WTERMSIG (status)));
  else
    g_string_append_printf (text, _("ended with wait status %#x"), (unsigned) status);
}

/* Once the bootstrap is written, the reply read and the child reaped. */
static void
run_step_done (GTask *task)
{
  Run *run = g_task_get_task_data (task);
  g_autoptr(GBytes) reply = NULL;
  int status;

  if (--run->pending > 0)
    return;
  status = g_subprocess_get_status (run->child);
  /* Killed, it may have held a thread of the target: that is for the log. */
  if (WIFSIGNALED (status))
    g_warning ("pymemd-attach (pid %s) was killed by signal %d (%s)", run->pid, WTERMSIG (status),
               g_strsignal (WTERMSIG (status)));
  if (run->reply_error != NULL)
    {
      g_task_return_error (task, g_steal_pointer (&run->reply_error));
      return;
    }
  if (run->reply->len == 0)
    {
      g_autoptr(GString) text = g_string_new (NULL);

      describe_exit (status, text);
      g_task_return_new_error (task, PYMEMD_ERROR, PYMEMD_ERROR_FAILED,
                               _("The attach process %s without a reply"), text->str);
      return;
    }
  /* A complete reply counts whatever happened after it was written. */
  reply = g_bytes_new (run->reply->data, run->reply->len);
  g_task_return_pointer (task, g_steal_pointer (&reply), (GDestroyNotify) g_bytes_unref);
}

static void
bootstrap_written (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GTask) task = data;

  /* A child that died first (EPIPE) is told by its missing reply. */
  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL);
  g_output_stream_close (G_OUTPUT_STREAM (source), NULL, NULL);
  run_step_done (task);
}

static void
reply_read (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GTask) task = data;
  Run *run = g_task_get_task_data (task);
  g_autoptr(GBytes) chunk = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &run->reply_error);

  if (chunk != NULL && g_bytes_get_size (chunk) > 0)
    {
      g_byte_array_append (run->reply, g_bytes_get_data (chunk, NULL), (guint) g_bytes_get_size (chunk));
      if (run->reply->len <= PYMEMD_ATTACH_REPLY_MAX)
        {
          g_input_stream_read_bytes_async (G_INPUT_STREAM (source), READ_CHUNK, G_PRIORITY_DEFAULT, NULL,
                                           reply_read, g_steal_pointer (&task));
          return;
        }
      /* No more is read; the child's writes then fail and it exits. */
      g_set_error (&run->reply_error, PYMEMD_ERROR, PYMEMD_ERROR_PROTOCOL,
                   _("The attach process sent a bad reply: %s"), _("too long"));
    }
  g_input_stream_close (G_INPUT_STREAM (source), NULL, NULL);
  run_step_done (task);
}

static void
child_exited (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GTask) task = data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  run_step_done (task);
}

gboolean
pymemd_attach_child_run_async (const char         *program,
                               const char         *proc_root,
                               gint32              pid,
                               guint64             start_time,
                               const char         *bootstrap,
                               const char         *script_dir,
                               double              wait_seconds,
                               GAsyncReadyCallback callback,
                               gpointer            user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  Run *run = g_new0 (Run, 1);
  const char *identifier;

  g_task_set_source_tag (task, pymemd_attach_child_run_async);
  run->bootstrap = g_bytes_new (bootstrap, strlen (bootstrap));
  run->reply = g_byte_array_new ();
  g_task_set_task_data (task, run, (GDestroyNotify) run_free);

  g_ptr_array_add (argv, g_strdup (program));
  g_ptr_array_add (argv, g_strdup ("--proc"));
  g_ptr_array_add (argv, g_strdup (proc_root));
  g_ptr_array_add (argv, g_strdup ("--pid"));
  g_ptr_array_add (argv, g_strdup_printf ("%d", pid));
  g_ptr_array_add (argv, g_strdup ("--start-time"));
  g_ptr_array_add (argv, g_strdup_printf ("%" G_GUINT64_FORMAT, start_time));
  if (script_dir != NULL)
    {
      char wait[G_ASCII_DTOSTR_BUF_SIZE];

      g_ptr_array_add (argv, g_strdup ("--script-dir"));
      g_ptr_array_add (argv, g_strdup (script_dir));
      g_ptr_array_add (argv, g_strdup ("--wait"));
      g_ptr_array_add (argv, g_strdup (g_ascii_dtostr (wait, sizeof wait, wait_seconds)));
    }
  g_ptr_array_add (argv, NULL);
  /* Its stderr is ours (the journal): it outlives us there too. */
  run->child = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  if (run->child == NULL)
    {
      g_task_return_new_error (task, PYMEMD_ERROR, PYMEMD_ERROR_FAILED, _("Cannot start %s: %s"), program,
                               error->message);
      return FALSE;
    }
  /* NULL once GLib has reaped the child: one that ended at once (a broken
   * program) can be gone already; its pid is then only for the log. */
  identifier = g_subprocess_get_identifier (run->child);
  run->pid = g_strdup (identifier != NULL ? identifier : "?");
  run->pending = 3;
  g_output_stream_write_all_async (g_subprocess_get_stdin_pipe (run->child), g_bytes_get_data (run->bootstrap, NULL),
                                   g_bytes_get_size (run->bootstrap), G_PRIORITY_DEFAULT, NULL, bootstrap_written,
                                   g_object_ref (task));
  g_input_stream_read_bytes_async (g_subprocess_get_stdout_pipe (run->child), READ_CHUNK, G_PRIORITY_DEFAULT, NULL,
                                   reply_read, g_object_ref (task));
  g_subprocess_wait_async (run->child, NULL, child_exited, g_object_ref (task));
  return TRUE;
}

gboolean
pymemd_attach_child_run_finish (GAsyncResult *result, PymemdInjectReport *report, GError **error)
{
  g_autoptr(GBytes) reply = NULL;

  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);

  memset (report, 0, sizeof *report);
  reply = g_task_propagate_pointer (G_TASK (result), error);
  return reply != NULL && pymemd_attach_reply_parse (reply, report, error);
}
