/* The service process: bus connection and name, the monitor, sd_notify and the watchdog, signals, reloads. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  PYMEMD_BUS_SYSTEM,
  PYMEMD_BUS_SESSION,
  PYMEMD_BUS_ADDRESS,
} PymemdBusKind;

typedef struct {
  PymemdBusKind bus;
  const char   *address;     /* with PYMEMD_BUS_ADDRESS */
  gboolean      replace;
  const char   *config_path; /* NULL: the default, which may be missing */
  const char   *proc_root;
  const char   *state_dir;   /* NULL: the default (see pymemd(8)) */
  const char   *runtime_dir; /* NULL: the default (see pymemd(8)) */
  double        interval;    /* 0: from the configuration */
  double        detail_interval;
} PymemdDaemonOptions;

/* Runs until SIGTERM/SIGINT or the loss of the bus name; the exit status. */
int pymemd_daemon_run (const PymemdDaemonOptions *options);

G_END_DECLS
