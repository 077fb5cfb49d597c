/* pymemctl top's parts: the model (samples, names, growth, order) in pymemctl-top-model.c, the full-screen view in pymemctl-top-screen.c, options and batch frames in pymemctl-top.c. */
#pragma once

#include <gio/gio.h>

#include "pymemctl-util.h"

G_BEGIN_DECLS

#define HEADER_LINES      3 /* what top_header () returns */
#define MIN_DELAY_SECONDS 0.1
#define MAX_DELAY_SECONDS 3600.0

typedef enum {
  COLUMN_PID,
  COLUMN_USER,
  COLUMN_PSS,
  COLUMN_USS,
  COLUMN_PRIVATE_DIRTY,
  COLUMN_SHARED,
  COLUMN_SWAP,
  COLUMN_GROWTH,
  COLUMN_HEAP,
  COLUMN_COMMAND,
  N_COLUMNS
} Column;

typedef struct {
  const char *name;        /* for -s and JSON: never translated */
  const char *title;
  const char *description;
  char        sort_key;
  gboolean    text;        /* left-aligned */
  gboolean    ascending;   /* sorted smallest first until reversed */
  guint       hide_rank;   /* in a narrow terminal the highest hides first; 0 never */
} ColumnInfo;

/* What top keeps of a process between frames: its name, and its growth. */
typedef struct {
  char    *name;
  char    *cmdline;
  char    *command;        /* the command line made printable, or [name] */
  char    *folded;         /* command, casefolded for the text filter */
  double   growth;         /* bytes per hour */
  gboolean growth_known;
  gboolean growth_pending;
  gint64   growth_asked;   /* monotonic µs; 0: never */
  guint    frame;          /* the last frame it was in */
} TopProcess;

/* One row of GetSamples. */
typedef struct {
  guint32     pid;
  guint64     start_time;
  guint32     uid;
  gboolean    restricted;
  guint64     rss;
  guint64     pss;
  guint64     uss;
  guint64     private_dirty;
  guint64     swap;
  TopProcess *process;    /* owned by Top.processes */
  const char *user;       /* owned by Top.users */
} TopRow;

typedef enum {
  VIEW_TABLE,
  VIEW_HELP,
  VIEW_COLUMNS,
  VIEW_FILTER_PROMPT,
  VIEW_USER_PROMPT,
} View;

typedef struct {
  PymemdDbusMonitor1 *monitor;
  GCancellable       *cancellable;

  gboolean batch;
  gboolean json;
  guint64  iterations;            /* 0: until quit */
  double   delay;                 /* seconds; 0: the daemon's interval */
  Column   sort;
  gboolean reverse;
  gboolean visible[N_COLUMNS];
  guint    scroll;                /* the first row shown on the screen */
  char    *text_filter;           /* as typed; NULL: none */
  char    *text_filter_folded;
  char    *user_filter;           /* a user name or uid; NULL: all */

  GHashTable *processes;          /* "PID_STARTTIME" → TopProcess */
  GHashTable *users;              /* uid → name */
  GArray     *rows;               /* TopRow: the latest samples */
  GPtrArray  *shown;              /* TopRow *: filtered and sorted */
  guint       frame;
  GQueue      growth_queue;       /* GrowthRequest */
  guint       growth_in_flight;
  gboolean    growth_unsupported; /* a daemon without GetGrowth */

  struct screen *screen;         /* curses's SCREEN while the full-screen view runs */
  GMainLoop *loop;
  View       view;
  GString   *input;
  gboolean   color;
  guint      redraw_source;
  char      *status;              /* the last failed refresh, until one succeeds */
  gboolean   bus_closed;          /* nothing more will come: quit with an error */
} Top;

extern const ColumnInfo top_columns[N_COLUMNS];

/* ---- pymemctl-top-model.c ---- */

Top        *top_new                (void);
void        top_free               (Top *top);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Top, top_free)
/* GetSamples, names for new processes; then the rows filtered and sorted. */
gboolean    top_refresh            (Top     *top,
                                    GError **error);
/* Filters and sorts the rows again (after a key, or new growth figures). */
void        top_arrange            (Top *top);
/* Asks for the growth of COUNT rows shown from FIRST on (of all when they
 * are sorted by it), for those not asked within the minute. */
void        top_ask_growth         (Top  *top,
                                    guint first,
                                    guint count);
/* Runs the main context until no GetGrowth call is on its way. */
void        top_wait_growth        (Top *top);
/* A size column of ROW; FALSE when unknown (restricted). */
gboolean    top_row_size           (const TopRow *row,
                                    Column        column,
                                    guint64      *bytes);
char       *top_format_cell        (const TopRow *row,
                                    Column        column);
/* Seconds between frames: -d, or the daemon's interval. */
double      top_delay              (Top *top);
/* The HEADER_LINES lines above the table: time and count, totals, Python set. */
GPtrArray  *top_header             (Top *top);

/* ---- pymemctl-top-screen.c ---- */

int         top_run_interactive    (Top *top);
/* Redraws soon, once for a burst of changes; nothing without a screen. */
void        top_schedule_redraw    (Top *top);

G_END_DECLS
