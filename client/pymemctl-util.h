/* What every pymemctl subcommand shares: the bus and the daemon's proxy, error messages and exit codes, sizes, durations, tables and JSON. */
#pragma once

#include <stdio.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "pymemd-dbus-generated.h"
#include "pymemd-names.h"

G_BEGIN_DECLS

/* DESIGN.md §4: 0 ok, 1 error with a one-line message on stderr, 2 usage. */
#define PYMEMCTL_EXIT_OK      0
#define PYMEMCTL_EXIT_FAILURE 1
#define PYMEMCTL_EXIT_USAGE   2


typedef enum {
  PYMEMCTL_BUS_SYSTEM,
  PYMEMCTL_BUS_SESSION,
  PYMEMCTL_BUS_ADDRESS,
} PymemctlBus;

/* The bus the global options chose (main calls this once). */
void pymemctl_choose_bus (PymemctlBus  bus,
                          const char  *address);
/* Connects to that bus; pymemctl_print_error () says on which one pymemd
 * is not running. */
GDBusConnection *pymemctl_bus_connect (GError **error);

/* The proxy of the manager object, its properties loaded. Fails with
 * G_DBUS_ERROR_SERVICE_UNKNOWN when nobody owns org.pymemd.Monitor1 (after
 * D-Bus activation, where the bus offers it, was tried). */
PymemdDbusMonitor1 *pymemctl_monitor_new (GDBusConnection *bus,
                                          GError         **error);

/* pymemctl_bus_connect () and pymemctl_monitor_new () in one. */
PymemdDbusMonitor1 *pymemctl_monitor_connect (GError **error);
/* The same for a command that only calls methods: no properties loaded,
 * no signals subscribed to (two round trips fewer, and what comes with
 * them). */
PymemdDbusMonitor1 *pymemctl_monitor_connect_for_calls (GError **error);

/* Every data command's --json. */
#define PYMEMCTL_JSON_OPTION(flag) \
  { "json", 0, 0, G_OPTION_ARG_NONE, &(flag), N_("Print JSON (sizes in bytes)"), NULL }

/* Prints ERROR as one line on stderr, saying what to do where it can
 * (pymemd not running, access denied, unknown PID; PID 0 when the call was
 * not about one process); returns PYMEMCTL_EXIT_FAILURE. */
int pymemctl_print_error (const GError *error,
                          guint32       pid);

/* Parses the options of a subcommand: ENTRIES, NULL-terminated, and
 * --help; PARAMETERS is what follows the options in the usage line
 * ("show PID"). FALSE when the arguments are wrong: the message is printed
 * and *EXIT_CODE is PYMEMCTL_EXIT_USAGE (or PYMEMCTL_EXIT_OK after --help). */
gboolean pymemctl_parse_options (int                *argc,
                                 char             ***argv,
                                 const char         *parameters,
                                 const char         *summary,
                                 const GOptionEntry *entries,
                                 int                *exit_code);

/* Prints "pymemctl: MESSAGE" and a hint to --help on stderr; returns
 * PYMEMCTL_EXIT_USAGE. */
int pymemctl_usage_error (const char *format,
                          ...) G_GNUC_PRINTF (1, 2);

/* Parses a pid argument ("1234"); FALSE (with a usage message in ERROR) for
 * anything else. */
gboolean pymemctl_parse_pid (const char *text,
                             guint32    *pid,
                             GError    **error);

/* Sizes for people, in IEC units ("12.3 MiB"). */
char *pymemctl_format_size (guint64 bytes);

/* "90s", "10m", "2h", "3d", "1w", combinations such as "1h30m", or plain
 * seconds ("600") into seconds; at least 1 s and at most 10 years. */
gboolean pymemctl_parse_duration (const char *text,
                                  gint64     *seconds,
                                  GError    **error);
/* The reverse, rounded to its two largest units ("1h 30m", "45s"). */
char *pymemctl_format_duration (gint64 seconds);

/* TEXT made safe for a terminal, on one line: valid UTF-8, each control
 * character (newline, tab, ESC, the C1 range…) a space, each character
 * that changes how the text around it reads (a bidirectional override, a
 * zero-width character, a line separator: pymemd_unichar_is_hidden ())
 * '?'. For every string
 * pymemctl prints that came from elsewhere: a helper, a process's command
 * line or name, a path. */
char *pymemctl_printable (const char *text);

/* TEXT cut to at most WIDTH characters, ending in "…" when cut. */
char *pymemctl_ellipsize (const char *text,
                          guint       width);

/* The user name of UID, or the number when it has none. */
char *pymemctl_user_name (guint32 uid);

/* The width of the terminal on STREAM, or 0 when it is not one. */
guint pymemctl_terminal_width (FILE *stream);

/* TRUE when STREAM is a terminal and NO_COLOR is not set (or empty). */
gboolean pymemctl_use_color (FILE *stream);

/* A figure of an a{sv} (t) or a{st} dictionary; FALSE when absent, as the
 * API leaves out what the kernel does not provide. */
/* The elements of the fixed-size array COLUMN (ELEMENT_SIZE bytes each);
 * *SAME_LENGTH becomes FALSE where there are not N of them. */
gconstpointer pymemctl_column (GVariant *column, gsize n, gsize element_size, gboolean *same_length);
gboolean pymemctl_lookup_size (GVariant   *dict,
                               const char *key,
                               guint64    *value);
/* Sorts ENTRIES, GetProcesses entries (GVariant *), largest first: by
 * PSS where the caller may see it, else by RSS; equal ones keep their order. */
void pymemctl_sort_by_size (GPtrArray *entries);
/* For g_qsort_with_data () of structs whose first member is a guint64
 * size: largest first. */
int  pymemctl_compare_size_first (gconstpointer a,
                                  gconstpointer b,
                                  gpointer      data);
/* The figure formatted for people, or "-" when absent. */
char *pymemctl_format_figure (GVariant   *dict,
                              const char *key);

/* ---- tables: columns as wide as their widest cell (UTF-8 aware) ---- */

typedef struct _PymemctlTable PymemctlTable;

/* HEADERS is NULL-terminated, untranslated (N_()) and translated here;
 * ALIGN has one letter per column, 'l' (left) or 'r' (right, for figures),
 * or is NULL for all left. */
PymemctlTable *pymemctl_table_new (const char *const *headers,
                                   const char        *align);
/* One cell per column, NULL-terminated; the strings are copied. */
void pymemctl_table_add_row (PymemctlTable *table,
                             ...) G_GNUC_NULL_TERMINATED;
/* The same with an array of n_columns cells. */
void pymemctl_table_add_rowv (PymemctlTable     *table,
                              const char *const *cells);
guint pymemctl_table_get_n_rows (PymemctlTable *table);
/* Prints the header (bold where pymemctl_use_color (STREAM)) and the rows;
 * the last column is not padded, a column of only empty cells is kept. */
void pymemctl_table_print (PymemctlTable *table,
                           FILE          *stream);
void pymemctl_table_free (PymemctlTable *table);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PymemctlTable, pymemctl_table_free)

/* ---- JSON: raw bytes, the API's own keys ---- */

/* A GVariant as JSON (dictionaries as objects, numbers as numbers). */
JsonNode *pymemctl_json_from_variant (GVariant *value);
/* Prints NODE to stdout, pretty (one document) or on one line (a stream,
 * as `watch --json` prints); FALSE (and a message) when stdout fails.
 * The text is JSON whatever NODE's numbers (infinity and NaN become null)
 * and holds no control character unescaped. NODE's numbers may change. */
gboolean pymemctl_print_json (JsonNode *node,
                              gboolean  one_line);
/* Says that standard output failed, unless its reader has gone (EPIPE). */
void pymemctl_stdout_failed (void);

/* pymemctl_print_json () of one document, as an exit code. */
int pymemctl_print_json_document (JsonNode *node);

/* Element I of a list, a new node; NULL leaves it out. */
typedef JsonNode *(*PymemctlJsonElementFunc) (gpointer data,
                                              guint    i);
/* Prints the document {"MEMBER": [ELEMENT (DATA, 0), …, ELEMENT (DATA, N-1)]}
 * (MEMBER a name JSON need not escape) exactly as
 * pymemctl_print_json_document () would print it, one element
 * at a time: a long list never has its whole tree or text in memory (its
 * pages are most of what a one-shot command costs). An exit code. */
int pymemctl_print_json_array_document (const char              *member,
                                        guint                    n,
                                        PymemctlJsonElementFunc  element,
                                        gpointer                 data);

/* The generated interface type has no cleanup function of its own. */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PymemdDbusMonitor1, g_object_unref)

G_END_DECLS
