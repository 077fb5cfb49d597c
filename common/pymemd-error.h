/* The registered error domain shared by the daemon core, the D-Bus layer and the tests. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PYMEMD_ERROR (pymemd_error_quark ())

typedef enum {
  PYMEMD_ERROR_FAILED,        /* something unexpected; the message says what */
  PYMEMD_ERROR_GONE,          /* the process exited while we looked at it */
  PYMEMD_ERROR_PARSE,         /* /proc (or other) text we could not understand */
  PYMEMD_ERROR_TOO_LARGE,     /* input over its documented bound */
  PYMEMD_ERROR_ACCESS_DENIED, /* the kernel or policy refused */
  PYMEMD_ERROR_BUDGET,        /* skipped: the per-process cost budget would be exceeded */
  PYMEMD_ERROR_INVALID_ARGS,  /* a caller's argument was out of range */
  PYMEMD_ERROR_NOT_PYTHON,    /* the process is not a CPython interpreter */
  PYMEMD_ERROR_NO_SUCH_PROCESS, /* no watched interpreter has that pid */
  PYMEMD_ERROR_LIMIT_EXCEEDED,  /* a per-client or global limit is reached */
  PYMEMD_ERROR_ATTACH_REFUSED,  /* the helper cannot be brought in safely; the message says why */
  PYMEMD_ERROR_NOT_ATTACHED,    /* no helper runs in the process (and attaching was not asked) */
  PYMEMD_ERROR_TIMED_OUT,       /* the helper did not answer in time */
  PYMEMD_ERROR_PROTOCOL,        /* a helper message broke docs/helper-protocol.md */
} PymemdError;

#define PYMEMD_ERROR_LAST PYMEMD_ERROR_PROTOCOL

GQuark pymemd_error_quark (void);

/* Maps errno from reading /proc into PymemdError codes: a vanished process
 * (ENOENT, ESRCH) is GONE, EACCES/EPERM is ACCESS_DENIED. */
PymemdError pymemd_error_from_errno (int errsv);

G_END_DECLS
