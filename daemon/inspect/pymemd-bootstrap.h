/* The Python source the daemon runs in a process to bring the helper in: starts one thread and returns (docs/helper-protocol.md "Bootstrap"). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A fresh nonce: 32 lowercase hex digits. */
char *pymemd_bootstrap_new_nonce (void);

/* The bootstrap that loads pymemd_helper from HELPER_DIR (the directory
 * holding the pymemd_helper package) and attaches it to SOCKET_PATH with
 * NONCE. Paths that cannot be written as plain Python string literals
 * (quotes, backslashes, control characters, not UTF-8) are
 * PYMEMD_ERROR_INVALID_ARGS. */
char *pymemd_bootstrap_source (const char *helper_dir,
                               const char *socket_path,
                               const char *nonce,
                               GError    **error);

G_END_DECLS
