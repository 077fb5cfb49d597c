/* pymemctl top's full-screen view (ncurses): the table with its header and status line, help and columns screens, keys, SIGWINCH, and the main loop that refreshes it every tick. */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>
#include <glib/gi18n.h>

#include "pymemctl-top-private.h"

/* Last: curses.h defines function-like macros (timeout, refresh, erase). */
#include <curses.h>

#define MIN_COMMAND_WIDTH 20

static void top_draw (Top *top);

/* The rows the table has room for, below the header, the status line and
 * the titles, above the key line. */
static guint
top_page_rows (Top *top)
{
  int taken = HEADER_LINES + (top->status != NULL ? 1 : 0) + 3;

  return (guint) MAX (getmaxy (stdscr) - taken, 0);
}

/* Keeps the last page full when rows went away or the terminal grew. */
static void
top_clamp_scroll (Top *top)
{
  guint page = top_page_rows (top);

  top->scroll = MIN (top->scroll, top->shown->len > page ? top->shown->len - page : 0);
}

/* The rows on the screen: no need to ask the daemon about the others. */
static void
top_ask_growth_on_screen (Top *top)
{
  top_clamp_scroll (top);
  top_ask_growth (top, top->scroll, top_page_rows (top));
}

/* ---- the full-screen view ---- */

enum {
  PAIR_TITLE = 1,
  PAIR_SORTED,
  PAIR_ERROR,
};

typedef struct {
  gboolean shown[N_COLUMNS];
  guint    width[N_COLUMNS];
  guint    hidden;   /* visible columns left out for want of width */
} Layout;

/* Writes TEXT at line Y, cut to the screen's width. */
static void
put_line (int y, const char *text, attr_t attributes, short pair)
{
  int width = getmaxx (stdscr);
  const char *end = text;

  for (int n = 0; n < width && *end != '\0'; n++)
    end = g_utf8_next_char (end);
  attr_set (attributes, pair, NULL);
  mvaddnstr (y, 0, text, (int) (end - text));
  attr_set (A_NORMAL, 0, NULL);
}

static guint
text_width (const char *text)
{
  return (guint) g_utf8_strlen (text, -1);
}

/* Columns as wide as their widest cell; in a narrow terminal the least
 * needed ones go until the command has room. */
static void
top_layout (Top *top, GPtrArray *cells, Layout *layout)
{
  guint screen_width = (guint) MAX (getmaxx (stdscr), 0);
  guint used;

  memset (layout, 0, sizeof *layout);
  for (guint c = 0; c < N_COLUMNS; c++)
    {
      layout->shown[c] = top->visible[c];
      layout->width[c] = text_width (_(top_columns[c].title));
      for (guint r = 0; r < cells->len; r++)
        layout->width[c] = MAX (layout->width[c], text_width (((GStrv) cells->pdata[r])[c]));
    }
  for (;;)
    {
      guint drop = N_COLUMNS;

      used = 0;
      for (guint c = 0; c < COLUMN_COMMAND; c++)
        if (layout->shown[c])
          used += layout->width[c] + 1;
      if (!layout->shown[COLUMN_COMMAND] || used + MIN_COMMAND_WIDTH <= screen_width)
        break;
      for (guint c = 0; c < COLUMN_COMMAND; c++)
        if (layout->shown[c] && top_columns[c].hide_rank > 0 &&
            (drop == N_COLUMNS || top_columns[c].hide_rank > top_columns[drop].hide_rank))
          drop = c;
      if (drop == N_COLUMNS)
        break;
      layout->shown[drop] = FALSE;
      layout->hidden++;
    }
}

/* One table line; *SORT_START and *SORT_WIDTH (when not NULL) say where the sort column is. */
static char *
layout_line (const Layout *layout, const char *const *cells, Column sort, guint *sort_start,
             guint *sort_width)
{
  GString *line = g_string_new (NULL);
  guint position = 0;

  for (guint c = 0; c < N_COLUMNS; c++)
    {
      guint width, pad;

      if (!layout->shown[c])
        continue;
      width = c == COLUMN_COMMAND ? text_width (cells[c]) : layout->width[c];
      pad = width - MIN (width, text_width (cells[c]));
      if (position > 0)
        {
          g_string_append_c (line, ' ');
          position++;
        }
      if (c == sort && sort_start != NULL)
        {
          *sort_start = position;
          *sort_width = width;
        }
      if (!top_columns[c].text)
        for (guint i = 0; i < pad; i++)
          g_string_append_c (line, ' ');
      g_string_append (line, cells[c]);
      if (top_columns[c].text && c != COLUMN_COMMAND)
        for (guint i = 0; i < pad; i++)
          g_string_append_c (line, ' ');
      position += width;
    }
  return g_string_free (line, FALSE);
}

static char *
top_status_line (Top *top, const Layout *layout)
{
  GString *line = g_string_new (NULL);

  g_string_append_printf (line, _("Sorted by %s%s"), _(top_columns[top->sort].title),
                          top->reverse ? _(", reversed") : "");
  if (top->text_filter != NULL)
    g_string_append_printf (line, _(" · filter “%s”"), top->text_filter);
  if (top->user_filter != NULL)
    g_string_append_printf (line, _(" · user %s"), top->user_filter);
  if (top->shown->len > top_page_rows (top))
    g_string_append_printf (line, _(" · rows %u to %u of %u"), top->scroll + 1,
                            top->scroll + MIN (top_page_rows (top), top->shown->len - top->scroll),
                            top->shown->len);
  else
    g_string_append_printf (line, _(" · %u shown"), top->shown->len);
  if (layout->hidden > 0)
    g_string_append_printf (line,
                            ngettext (" · %u column hidden: the terminal is too narrow",
                                      " · %u columns hidden: the terminal is too narrow",
                                      layout->hidden),
                            layout->hidden);
  return g_string_free (line, FALSE);
}

static void
draw_header (Top *top, int *y)
{
  g_autoptr(GPtrArray) header = top_header (top);

  for (guint i = 0; i < header->len; i++)
    put_line ((*y)++, g_ptr_array_index (header, i), i == 0 ? A_BOLD : A_NORMAL, 0);
  if (top->status != NULL)
    put_line ((*y)++, top->status, A_BOLD, top->color ? PAIR_ERROR : 0);
}

static void
draw_bottom_line (Top *top)
{
  int y = getmaxy (stdscr) - 1;

  if (top->view == VIEW_FILTER_PROMPT || top->view == VIEW_USER_PROMPT)
    {
      g_autofree char *prompt =
        g_strconcat (top->view == VIEW_FILTER_PROMPT ? _("Filter (text or PID): ")
                                                     : _("Show only user (name or uid): "),
                     top->input->str, "_", NULL);
      put_line (y, prompt, A_BOLD, 0);
    }
  else
    put_line (y, _("h help · q quit · < > sort · r reverse · / filter · u user · f columns"),
              A_DIM, 0);
}

/* The cells of N rows shown from FIRST on, formatted. */
static GPtrArray *
top_cells (Top *top, guint first, guint n)
{
  GPtrArray *cells = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);

  for (guint i = first; i < top->shown->len && i - first < n; i++)
    {
      GStrv row = g_new0 (char *, N_COLUMNS + 1);

      for (guint c = 0; c < N_COLUMNS; c++)
        row[c] = top_format_cell (g_ptr_array_index (top->shown, i), c);
      g_ptr_array_add (cells, row);
    }
  return cells;
}

/* The titles in reverse video, the sort column's set apart. */
static void
draw_titles (Top *top, const Layout *layout, int y)
{
  const char *titles[N_COLUMNS];
  g_autofree char *line = NULL;
  guint sort_start = 0, sort_width = 0;
  short pair = top->color ? PAIR_TITLE : 0;

  for (guint c = 0; c < N_COLUMNS; c++)
    titles[c] = _(top_columns[c].title);
  line = layout_line (layout, titles, top->sort, &sort_start, &sort_width);
  attr_set (A_REVERSE, pair, NULL);
  mvhline (y, 0, ' ', getmaxx (stdscr));
  put_line (y, line, A_REVERSE, pair);
  if (sort_width > 0)
    mvchgat (y, (int) sort_start, (int) sort_width, A_REVERSE | A_BOLD,
             top->color ? PAIR_SORTED : 0, NULL);
}

static void
draw_table (Top *top)
{
  g_autoptr(GPtrArray) cells = NULL;
  g_autofree char *status = NULL;
  int y = 0;
  Layout layout;

  top_clamp_scroll (top);
  draw_header (top, &y);
  /* Below the header: the status line, the titles, the rows, the key line. */
  cells = top_cells (top, top->scroll, top_page_rows (top));
  top_layout (top, cells, &layout);
  status = top_status_line (top, &layout);
  put_line (y++, status, A_NORMAL, 0);
  draw_titles (top, &layout, y++);
  for (guint r = 0; r < cells->len; r++)
    {
      g_autofree char *line = layout_line (&layout, (const char *const *) cells->pdata[r],
                                           top->sort, NULL, NULL);
      put_line (y++, line, A_NORMAL, 0);
    }
  draw_bottom_line (top);
}

static void
draw_help (Top *top)
{
  int y = 0;

  put_line (y++, _("pymemctl top: keys"), A_BOLD, 0);
  y++;
  for (guint c = 0; c < N_COLUMNS; c++)
    if (top_columns[c].sort_key != '\0')
      {
        g_autofree char *line = g_strdup_printf (_("  %c   sort by %s: %s"),
                                                 top_columns[c].sort_key,
                                                 _(top_columns[c].title),
                                                 _(top_columns[c].description));
        put_line (y++, line, A_NORMAL, 0);
      }
  put_line (y++, _("  < > sort by the column on the left or right"), A_NORMAL, 0);
  put_line (y++, _("  r   reverse the order"), A_NORMAL, 0);
  put_line (y++, _("  /   show only commands containing a text, or a PID (empty: all)"), A_NORMAL,
            0);
  put_line (y++, _("  u   show only one user's processes (empty: all)"), A_NORMAL, 0);
  put_line (y++, _("  f   choose the columns"), A_NORMAL, 0);
  put_line (y++, _("  arrows, PgUp, PgDn, Home, End  move through the rows"), A_NORMAL, 0);
  put_line (y++, _("  space  refresh now"), A_NORMAL, 0);
  put_line (y++, _("  h ? this help"), A_NORMAL, 0);
  put_line (y++, _("  q   quit"), A_NORMAL, 0);
  y++;
  put_line (y, _("Press any key to go back."), A_DIM, 0);
}

/* The key that toggles column C on the columns screen: 1 to 9, then 0. */
static char
column_toggle_key (guint c)
{
  return (char) ('0' + (c + 1) % 10);
}

static void
draw_columns (Top *top)
{
  int y = 0;

  put_line (y++, _("Columns: press a number to show or hide one; any other key goes back."),
            A_BOLD, 0);
  y++;
  for (guint c = 0; c < N_COLUMNS; c++)
    {
      g_autofree char *line = g_strdup_printf ("  %c  [%s] %-10s %s", column_toggle_key (c),
                                               top->visible[c] ? "x" : " ",
                                               _(top_columns[c].title),
                                               _(top_columns[c].description));
      put_line (y++, line, top->visible[c] ? A_NORMAL : A_DIM, 0);
    }
}

static void
top_draw (Top *top)
{
  if (top->screen == NULL)
    return;
  erase ();
  switch (top->view)
    {
    case VIEW_HELP:
      draw_help (top);
      break;
    case VIEW_COLUMNS:
      draw_columns (top);
      break;
    case VIEW_TABLE:
    case VIEW_FILTER_PROMPT:
    case VIEW_USER_PROMPT:
    default:
      draw_table (top);
      break;
    }
  refresh ();
}

static gboolean
on_redraw (gpointer data)
{
  Top *top = data;

  top->redraw_source = 0;
  top_arrange (top);
  top_draw (top);
  return G_SOURCE_REMOVE;
}

/* Growth answers come one by one: one redraw for those of a moment. */
void
top_schedule_redraw (Top *top)
{
  if (top->screen != NULL && top->redraw_source == 0)
    top->redraw_source = g_idle_add (on_redraw, top);
}

static void
top_quit (Top *top)
{
  if (top->loop != NULL)
    g_main_loop_quit (top->loop);
}

/* < and >: the next visible column in that direction, if any. */
static void
top_move_sort (Top *top, int step)
{
  for (int c = (int) top->sort + step; c >= 0 && c < N_COLUMNS; c += step)
    if (top->visible[c])
      {
        top->sort = (Column) c;
        top->reverse = FALSE;
        return;
      }
}

static gboolean
top_sort_by_key (Top *top, int key)
{
  for (guint c = 0; c < N_COLUMNS; c++)
    if (top_columns[c].sort_key != '\0' && key == top_columns[c].sort_key)
      {
        top->reverse = top->sort == c ? !top->reverse : FALSE;
        top->sort = c;
        return TRUE;
      }
  return FALSE;
}

static void
top_refresh_now (Top *top)
{
  g_autoptr(GError) error = NULL;

  g_clear_pointer (&top->status, g_free);
  if (!top_refresh (top, &error))
    {
      g_dbus_error_strip_remote_error (error);
      top->status = g_strdup (error->message);
      return;
    }
  top_ask_growth_on_screen (top);
}

/* Arrows, page keys, Home and End move the rows; FALSE for other keys. */
static gboolean
top_scroll_key (Top *top, int key)
{
  guint page = MAX (top_page_rows (top), 1);

  switch (key)
    {
    case KEY_DOWN:
      top->scroll++;
      break;
    case KEY_UP:
      top->scroll = top->scroll > 0 ? top->scroll - 1 : 0;
      break;
    case KEY_NPAGE:
      top->scroll += page;
      break;
    case KEY_PPAGE:
      top->scroll = top->scroll > page ? top->scroll - page : 0;
      break;
    case KEY_HOME:
      top->scroll = 0;
      break;
    case KEY_END:
      top->scroll = G_MAXUINT / 2; /* on_input () brings it back to the last page */
      break;
    default:
      return FALSE;
    }
  return TRUE;
}

static void
top_table_key (Top *top, int key)
{
  switch (key)
    {
    case 'q':
    case 'Q':
      top_quit (top);
      break;
    case 'h':
    case '?':
      top->view = VIEW_HELP;
      break;
    case 'f':
      top->view = VIEW_COLUMNS;
      break;
    case '<':
      top_move_sort (top, -1);
      break;
    case '>':
      top_move_sort (top, +1);
      break;
    case 'r':
      top->reverse = !top->reverse;
      break;
    case '/':
      top->view = VIEW_FILTER_PROMPT;
      g_string_assign (top->input, top->text_filter != NULL ? top->text_filter : "");
      break;
    case 'u':
      top->view = VIEW_USER_PROMPT;
      g_string_assign (top->input, top->user_filter != NULL ? top->user_filter : "");
      break;
    case ' ':
      top_refresh_now (top);
      break;
    default:
      if (!top_scroll_key (top, key))
        top_sort_by_key (top, key);
      break;
    }
}

static void
top_toggle_column (Top *top, int key)
{
  guint n_visible = 0;

  for (guint c = 0; c < N_COLUMNS; c++)
    n_visible += top->visible[c] ? 1 : 0;
  for (guint c = 0; c < N_COLUMNS; c++)
    if (key == column_toggle_key (c) && !(top->visible[c] && n_visible == 1))
      {
        top->visible[c] = !top->visible[c];
        return;
      }
  top->view = VIEW_TABLE;
}

static void
top_accept_input (Top *top)
{
  g_autofree char *text = g_utf8_make_valid (top->input->str, -1);
  char *value = *g_strstrip (text) != '\0' ? g_strdup (text) : NULL;

  if (top->view == VIEW_FILTER_PROMPT)
    {
      g_free (top->text_filter);
      g_free (top->text_filter_folded);
      top->text_filter = value;
      top->text_filter_folded = value != NULL ? g_utf8_casefold (value, -1) : NULL;
    }
  else
    {
      g_free (top->user_filter);
      top->user_filter = value;
    }
  top->view = VIEW_TABLE;
}

static void
top_prompt_key (Top *top, int key)
{
  switch (key)
    {
    case '\n':
    case '\r':
    case KEY_ENTER:
      top_accept_input (top);
      break;
    case 27: /* Escape */
      top->view = VIEW_TABLE;
      break;
    case 21: /* ^U */
      g_string_truncate (top->input, 0);
      break;
    case KEY_BACKSPACE:
    case 127:
    case '\b':
      if (top->input->len > 0)
        {
          const char *last = g_utf8_find_prev_char (top->input->str,
                                                    top->input->str + top->input->len);
          g_string_truncate (top->input, last != NULL ? (gsize) (last - top->input->str) : 0);
        }
      break;
    default:
      /* Bytes of UTF-8 arrive one by one. */
      if (key >= ' ' && key < 256 && top->input->len < 256)
        g_string_append_c (top->input, (char) key);
      break;
    }
}

static void
top_key (Top *top, int key)
{
  switch (top->view)
    {
    case VIEW_HELP:
      top->view = VIEW_TABLE;
      break;
    case VIEW_COLUMNS:
      top_toggle_column (top, key);
      break;
    case VIEW_FILTER_PROMPT:
    case VIEW_USER_PROMPT:
      top_prompt_key (top, key);
      break;
    case VIEW_TABLE:
    default:
      if (key != KEY_RESIZE)
        top_table_key (top, key);
      break;
    }
}

static gboolean
on_input (int fd, GIOCondition condition, gpointer data)
{
  Top *top = data;
  int key;

  while ((key = getch ()) != ERR)
    top_key (top, key);
  if (condition & (G_IO_HUP | G_IO_ERR))
    {
      top_quit (top);
      return G_SOURCE_REMOVE;
    }
  top_arrange (top);
  top_ask_growth_on_screen (top);
  top_draw (top);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_tick (gpointer data)
{
  Top *top = data;

  if (top->iterations != 0 && top->frame >= top->iterations)
    {
      top_quit (top);
      return G_SOURCE_REMOVE;
    }
  top_refresh_now (top);
  top_draw (top);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_resize (gpointer data)
{
  Top *top = data;
  struct winsize size;

  if (ioctl (STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_row > 0 && size.ws_col > 0)
    resizeterm (size.ws_row, size.ws_col);
  top_draw (top);
  return G_SOURCE_CONTINUE;
}

static void
on_bus_closed (GDBusConnection *bus, gboolean remote_peer_vanished, GError *error,
               gpointer data)
{
  Top *top = data;

  top->bus_closed = TRUE;
  top_quit (top);
}

static gboolean
on_quit_signal (gpointer data)
{
  top_quit (data);
  return G_SOURCE_CONTINUE;
}

static gboolean
top_start_curses (Top *top)
{
  top->screen = newterm (NULL, stdout, stdin);
  if (top->screen == NULL)
    return FALSE;
  set_term (top->screen);
  cbreak ();
  noecho ();
  keypad (stdscr, TRUE);
  nodelay (stdscr, TRUE);
  curs_set (0);
  set_escdelay (25);
  top->color = has_colors () && pymemctl_use_color (stdout);
  if (top->color)
    {
      start_color ();
      use_default_colors ();
      init_pair (PAIR_TITLE, COLOR_BLACK, COLOR_CYAN);
      init_pair (PAIR_SORTED, COLOR_BLACK, COLOR_YELLOW);
      init_pair (PAIR_ERROR, COLOR_RED, -1);
    }
  return TRUE;
}

static void
top_stop_curses (Top *top)
{
  endwin ();
  delscreen (top->screen);
  top->screen = NULL;
}

int
top_run_interactive (Top *top)
{
  g_autoptr(GError) error = NULL;
  gulong closed_handler;
  guint sources[5];

  if (!top_refresh (top, &error))
    return pymemctl_print_error (error, 0);
  /* Before newterm (): curses then leaves these signals to the main loop. */
  sources[0] = g_unix_signal_add (SIGWINCH, on_resize, top);
  sources[1] = g_unix_signal_add (SIGINT, on_quit_signal, top);
  sources[2] = g_unix_signal_add (SIGTERM, on_quit_signal, top);
  if (!top_start_curses (top))
    {
      for (guint i = 0; i < 3; i++)
        g_source_remove (sources[i]);
      g_printerr ("pymemctl: %s\n", _("Cannot use this terminal (is TERM set?); try -b"));
      return PYMEMCTL_EXIT_FAILURE;
    }
  top->loop = g_main_loop_new (NULL, FALSE);
  closed_handler = g_signal_connect (g_dbus_proxy_get_connection (G_DBUS_PROXY (top->monitor)),
                                     "closed", G_CALLBACK (on_bus_closed), top);
  sources[3] = g_unix_fd_add (STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR, on_input, top);
  sources[4] = g_timeout_add ((guint) (top_delay (top) * 1000), on_tick, top);
  top_ask_growth_on_screen (top);
  top_draw (top);
  g_main_loop_run (top->loop);
  for (guint i = 0; i < G_N_ELEMENTS (sources); i++)
    {
      GSource *source = g_main_context_find_source_by_id (NULL, sources[i]);
      if (source != NULL && !g_source_is_destroyed (source))
        g_source_destroy (source);
    }
  g_signal_handler_disconnect (g_dbus_proxy_get_connection (G_DBUS_PROXY (top->monitor)),
                               closed_handler);
  g_clear_handle_id (&top->redraw_source, g_source_remove);
  top_stop_curses (top);
  g_clear_pointer (&top->loop, g_main_loop_unref);
  if (top->bus_closed)
    {
      g_printerr ("pymemctl: %s\n", _("The connection to the bus was closed"));
      return PYMEMCTL_EXIT_FAILURE;
    }
  return PYMEMCTL_EXIT_OK;
}
