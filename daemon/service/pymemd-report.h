/* The JSON report of `pymemd --once` (DESIGN.md §4), built from the scanner's model with json-glib. */
#pragma once

#include <json-glib/json-glib.h>

#include "pymemd-scanner.h"

G_BEGIN_DECLS

#define PYMEMD_REPORT_VERSION 1

JsonNode *pymemd_report_build (PymemdScanner *scanner);
JsonNode *pymemd_report_build_process (PymemdProcess *process);

G_END_DECLS
