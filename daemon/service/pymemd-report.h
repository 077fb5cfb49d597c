/* The JSON report of `pymemd --once` (DESIGN.md §4), built from the scanner's model with json-glib. */
#pragma once

#include <stdio.h>

#include <json-glib/json-glib.h>

#include "pymemd-scanner.h"

G_BEGIN_DECLS

#define PYMEMD_REPORT_VERSION 1

JsonNode *pymemd_report_build (PymemdScanner *scanner);
JsonNode *pymemd_report_build_process (PymemdProcess *process);
/* Writes the text json_to_string (pymemd_report_build (SCANNER), TRUE) and
 * a newline would be, building and writing one process at a time: a
 * report of hundreds of processes never has its whole tree in memory
 * (touching those pages was a third of what --once cost). FALSE when OUT
 * fails. */
gboolean pymemd_report_write (PymemdScanner *scanner, FILE *out);

G_END_DECLS
