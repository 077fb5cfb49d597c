/* The org.pymemd.Error.* domain, registered with GDBus so that errors cross the bus by name. */
#include "config.h"

#include <errno.h>
#include <gio/gio.h>

#include "pymemd-error.h"

static const GDBusErrorEntry pymemd_error_entries[] = {
  { PYMEMD_ERROR_FAILED, "org.pymemd.Error.Failed" },
  { PYMEMD_ERROR_GONE, "org.pymemd.Error.Gone" },
  { PYMEMD_ERROR_PARSE, "org.pymemd.Error.Parse" },
  { PYMEMD_ERROR_TOO_LARGE, "org.pymemd.Error.TooLarge" },
  { PYMEMD_ERROR_ACCESS_DENIED, "org.pymemd.Error.AccessDenied" },
  { PYMEMD_ERROR_BUDGET, "org.pymemd.Error.Budget" },
  { PYMEMD_ERROR_INVALID_ARGS, "org.pymemd.Error.InvalidArgs" },
  { PYMEMD_ERROR_NOT_PYTHON, "org.pymemd.Error.NotPython" },
  { PYMEMD_ERROR_NO_SUCH_PROCESS, "org.pymemd.Error.NoSuchProcess" },
  { PYMEMD_ERROR_LIMIT_EXCEEDED, "org.pymemd.Error.LimitExceeded" },
  { PYMEMD_ERROR_ATTACH_REFUSED, "org.pymemd.Error.AttachRefused" },
  { PYMEMD_ERROR_NOT_ATTACHED, "org.pymemd.Error.NotAttached" },
  { PYMEMD_ERROR_TIMED_OUT, "org.pymemd.Error.TimedOut" },
  { PYMEMD_ERROR_PROTOCOL, "org.pymemd.Error.Protocol" },
};

G_STATIC_ASSERT (G_N_ELEMENTS (pymemd_error_entries) == PYMEMD_ERROR_LAST + 1);

GQuark
pymemd_error_quark (void)
{
  static gsize quark = 0;

  g_dbus_error_register_error_domain ("pymemd-error-quark",
                                      &quark,
                                      pymemd_error_entries,
                                      G_N_ELEMENTS (pymemd_error_entries));
  return (GQuark) quark;
}

PymemdError
pymemd_error_from_errno (int errsv)
{
  switch (errsv)
    {
    case ENOENT:
    case ESRCH:
      return PYMEMD_ERROR_GONE;
    case EACCES:
    case EPERM:
      return PYMEMD_ERROR_ACCESS_DENIED;
    case EFBIG:
    case E2BIG:
      return PYMEMD_ERROR_TOO_LARGE;
    default:
      return PYMEMD_ERROR_FAILED;
    }
}
