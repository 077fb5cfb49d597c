/* Writes the bootstrap: one statement that binds no name in __main__, starts a _thread and returns; the thread loads the helper once and attaches it, and tells the daemon what failed, never the process's stderr. */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "pymemd-bootstrap.h"
#include "pymemd-error.h"

char *
pymemd_bootstrap_new_nonce (void)
{
  g_autofree char *uuid = g_uuid_string_random ();
  GString *nonce = g_string_sized_new (32);

  for (const char *p = uuid; *p != '\0'; p++)
    if (*p != '-')
      g_string_append_c (nonce, *p);
  return g_string_free (nonce, FALSE);
}

/* Whether TEXT can sit between single quotes in Python source, twice
 * (the thread's code is itself a literal inside the statement). */
static gboolean
plain_literal (const char *text)
{
  if (!g_utf8_validate (text, -1, NULL) || strlen (text) > 4096)
    return FALSE;
  for (const unsigned char *p = (const unsigned char *) text; *p != '\0'; p++)
    if (*p < 0x20 || *p == 0x7f || *p == '\'' || *p == '"' || *p == '\\')
      return FALSE;
  return TRUE;
}

char *
pymemd_bootstrap_source (const char *helper_dir,
                         const char *socket_path,
                         const char *nonce,
                         GError    **error)
{
  if (!plain_literal (helper_dir) || !plain_literal (socket_path) || !plain_literal (nonce))
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS,
                   _("The helper directory “%s” or the socket “%s” cannot be passed to Python "
                     "(quotes, backslashes or control characters)"),
                   helper_dir, socket_path);
      return NULL;
    }
  /* The thread's code is a triple-quoted literal with no backslash or
   * quote that would end it (chr (34) is the double quote). It never
   * reaches _thread's "Unhandled exception" print, which would go to the
   * process's stderr: what fails is told to the daemon instead, as a
   * "failed" message (docs/helper-protocol.md). The global import lock
   * makes the look-up and the loading of pymemd_helper one step: two
   * bootstraps running at once (a PEP 768 script taken while a parked
   * thread runs the same bootstrap) load it once, and the helper keeps
   * one thread. Nothing runs on the borrowed thread but __import__ of a
   * built-in module and start_new_thread. The package is loaded with the
   * import system's own frozen modules, always there: importlib.util would
   * leave a dozen modules (contextlib, collections, functools...) in the
   * process. */
  return g_strdup_printf (
    "try:\n"
    "    __import__('_thread').start_new_thread(exec, ('''\n"
    "try:\n"
    "    import sys, _imp\n"
    "    _imp.acquire_lock()\n"
    "    try:\n"
    "        h = sys.modules.get('pymemd_helper')\n"
    "        if h is None:\n"
    "            b = sys.modules.get('_frozen_importlib_external')\n"
    "            u = sys.modules.get('_frozen_importlib')\n"
    "            if b is None or u is None:\n"
    "                import importlib.util as b\n"
    "                u = b\n"
    "            d = '%1$s/pymemd_helper'\n"
    "            s = b.spec_from_file_location('pymemd_helper', d + '/__init__.py', "
    "submodule_search_locations=[d])\n"
    "            h = u.module_from_spec(s)\n"
    "            sys.modules['pymemd_helper'] = h\n"
    "            try:\n"
    "                s.loader.exec_module(h)\n"
    "            except BaseException:\n"
    "                sys.modules.pop('pymemd_helper', None)\n"
    "                raise\n"
    "    finally:\n"
    "        _imp.release_lock()\n"
    "    h.attach('%2$s', '%3$s')\n"
    "except BaseException as e:\n"
    "    try:\n"
    "        import os, _socket\n"
    "        q = chr(34)\n"
    "        m = ''.join(c if ' ' <= c <= '~' and c != q and c != chr(92) else '?' "
    "for c in '%%s: %%s' %% (type(e).__name__, e))[:500]\n"
    "        with open('/proc/self/stat', 'rb') as f:\n"
    "            t = f.read()\n"
    "        t = int(t[t.rindex(b')') + 1:].split()[19])\n"
    "        b = ('{~v~: 1, ~type~: ~failed~, ~pid~: %%d, ~start_time~: %%d, ~nonce~: ~%3$s~, ~message~: ~%%s~}'"
    ".replace('~', q) %% (os.getpid(), t, m)).encode()\n"
    "        k = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)\n"
    "        try:\n"
    "            k.settimeout(5)\n"
    "            k.connect('%2$s')\n"
    "            k.sendall(len(b).to_bytes(4, 'big') + b)\n"
    "        finally:\n"
    "            k.close()\n"
    "    except BaseException:\n"
    "        pass\n"
    "''', {'__name__': 'pymemd_bootstrap'}))\n"
    "except BaseException:\n"
    "    pass\n",
    helper_dir, socket_path, nonce);
}
