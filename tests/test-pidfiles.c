/* Tests the stat, status and cmdline parsers on the captured fixtures, bad/ inputs and hand-made text. */
#include "config.h"

#include <string.h>

#include "pymemd-error.h"
#include "pymemd-pidfiles.h"
#include "testutil.h"

static char *
read_fixture (const char *rel, gsize *len)
{
  g_autofree char *path = pymemd_test_data_path (rel);
  g_autoptr(GError) error = NULL;
  char *text = NULL;

  g_assert_true (g_file_get_contents (path, &text, len, &error));
  g_assert_no_error (error);
  return text;
}

/* --- stat --- */

static void
test_stat_fixtures (void)
{
  /* comm (field 2), state (field 3) and starttime (field 22) copied from
   * each fixture's stat ("awk '{print $22}'"). */
  static const struct {
    const char *file;
    const char *comm;
    char        state;
    guint64     start_time;
  } expected[] = {
    { "proc-mixed/1001/stat", "python3", 'S', 25589 },
    { "proc-mixed/1002/stat", "python3", 'S', 25589 },
    { "proc-mixed/1003/stat", "mapper", 'S', 25589 },
    { "proc-gtk/2001/stat", "python3", 'S', 25790 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      g_autofree char *text = read_fixture (expected[i].file, NULL);
      g_autoptr(GError) error = NULL;
      PymemdStat stat;

      g_test_message ("%s", expected[i].file);
      g_assert_true (pymemd_stat_parse (text, &stat, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (stat.comm, ==, expected[i].comm);
      g_assert_cmpint (stat.state, ==, expected[i].state);
      g_assert_cmpuint (stat.start_time, ==, expected[i].start_time);
    }
}

static void
test_stat_weird_comm (void)
{
  g_autofree char *text = read_fixture ("bad/stat-weird-comm", NULL);
  g_autoptr(GError) error = NULL;
  PymemdStat stat;

  /* "1001 (py) thon) 1 2) S 1 4439 ...": the comm runs to the LAST ')'. */
  g_assert_true (g_str_has_prefix (text, "1001 (py) thon) 1 2) S 1 "));
  g_assert_true (pymemd_stat_parse (text, &stat, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (stat.comm, ==, "py) thon) 1 2");
  g_assert_cmpint (stat.state, ==, 'S');
  g_assert_cmpint (stat.ppid, ==, 1);
  /* everything after the comm is proc-mixed/1001/stat's */
  g_assert_cmpuint (stat.start_time, ==, 25589);
}

static void
test_stat_synthetic (void)
{
  g_autoptr(GError) error = NULL;
  PymemdStat stat;
  /* fields 3 to 23 (the parser wants vsize, field 23, to be there too),
   * starttime (field 22) = 123456789012 */
  const char *minimal = "7 (a b) R 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 123456789012 4096\n";
  const char *empty_comm = "7 () Z 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 42 0\n";
  g_autoptr(GString) long_comm = g_string_new ("7 (");

  g_assert_true (pymemd_stat_parse (minimal, &stat, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (stat.comm, ==, "a b");
  g_assert_cmpint (stat.state, ==, 'R');
  g_assert_cmpint (stat.ppid, ==, 1);
  g_assert_cmpuint (stat.start_time, ==, G_GUINT64_CONSTANT (123456789012));

  g_assert_true (pymemd_stat_parse (empty_comm, &stat, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (stat.comm, ==, "");
  g_assert_cmpint (stat.state, ==, 'Z');
  g_assert_cmpuint (stat.start_time, ==, 42);

  /* A comm longer than the buffer is cut to 63 bytes, not overflowed. */
  for (guint i = 0; i < 100; i++)
    g_string_append_c (long_comm, 'x');
  g_string_append (long_comm, ") S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 99 0\n");
  g_assert_true (pymemd_stat_parse (long_comm->str, &stat, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (stat.comm), ==, sizeof stat.comm - 1);
  g_assert_cmpuint (strspn (stat.comm, "x"), ==, 63);
  g_assert_cmpuint (stat.start_time, ==, 99);
}

static void
test_stat_errors (void)
{
  static const char *const bad[] = {
    /* truncated: proc-mixed/1001/stat cut after field 5 */
    "1001 (python3) S 1 4439",
    /* truncated one field before starttime (field 21 is the last) */
    "1001 (python3) S 1 4439 3552 0 -1 4194304 1124 0 1 0 1 0 0 0 20 0 1 0",
    /* no parentheses at all */
    "1001 python3 S 1 4439 3552 0 -1 4194304 1124 0 1 0 1 0 0 0 20 0 1 0 25589 14405632\n",
    /* only an opening one */
    "1001 (python3 S 1 4439 3552 0 -1 4194304 1124 0 1 0 1 0 0 0 20 0 1 0 25589 14405632\n",
    /* ')' before '(' */
    "1001 )python3( S 1 4439 3552 0 -1 4194304 1124 0 1 0 1 0 0 0 20 0 1 0 25589 14405632\n",
    /* nothing after the comm */
    "1001 (python3)",
    /* state longer than one letter */
    "1001 (python3) SS 1 4439 3552 0 -1 4194304 1124 0 1 0 1 0 0 0 20 0 1 0 25589 14405632\n",
    /* ppid (field 4) not a number */
    "1001 (python3) S x 4439 3552 0 -1 4194304 1124 0 1 0 1 0 0 0 20 0 1 0 25589 14405632\n",
    /* starttime not a number */
    "1001 (python3) S 1 4439 3552 0 -1 4194304 1124 0 1 0 1 0 0 0 20 0 1 0 x5589 14405632\n",
    /* starttime overflows 64 bits */
    "1001 (python3) S 1 4439 3552 0 -1 4194304 1124 0 1 0 1 0 0 0 20 0 1 0 99999999999999999999 1\n",
    "",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      PymemdStat stat;

      g_test_message ("case %u: “%s”", i, bad[i]);
      g_assert_false (pymemd_stat_parse (bad[i], &stat, &error));
      g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE);
    }
}

/* --- status --- */

static void
test_status_fixtures (void)
{
  static const char *const files[] = {
    "proc-mixed/1001/status", "proc-mixed/1002/status",
    "proc-mixed/1003/status", "proc-gtk/2001/status",
  };

  /* All four were captured as root: "Uid:\t0\t0\t0\t0". */
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *text = read_fixture (files[i], NULL);
      g_autoptr(GError) error = NULL;
      PymemdCredentials credentials;

      g_assert_nonnull (strstr (text, "\nUid:\t0\t0\t0\t0\n"));
      g_assert_true (pymemd_status_parse (text, &credentials, &error));
      g_assert_no_error (error);
      g_assert_true (g_str_has_prefix (text + strlen ("Name:\t"), credentials.name));
      g_assert_cmpuint (strlen (credentials.name), >, 0);
      for (guint k = 0; k < 4; k++)
        {
          g_assert_cmpuint (credentials.uid[k], ==, 0);
          g_assert_cmpuint (credentials.gid[k], ==, 0);
        }
      /* status does not tell it. */
      g_assert_false (credentials.dumpable);
    }
}

static void
test_status_truncated (void)
{
  /* "Name:\tpython3\nUmask:\t0022\nState:\tS (sleeping)\n": no Uid line. */
  g_autofree char *text = read_fixture ("bad/status-truncated", NULL);
  g_autoptr(GError) error = NULL;
  PymemdCredentials credentials;

  g_assert_false (pymemd_status_parse (text, &credentials, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE);
}

static void
test_status_synthetic (void)
{
  static const struct {
    const char *text;
    gboolean    ok;
    const char *name;
    guint32     uid[4];
    guint32     gid[4];
  } cases[] = {
    { "Name:\tx\nUid:\t1000\t0\t0\t0\nGid:\t5\t6\t7\t8\n", TRUE, "x", { 1000, 0, 0, 0 }, { 5, 6, 7, 8 } },
    { "Name:\tx\nUid:\t4294967295\t1\t2\t3\nGid:\t0\t0\t0\t0\n", TRUE, "x", { G_MAXUINT32, 1, 2, 3 }, { 0 } },
    { "Name:\tx\nUid:\t4294967296\t0\t0\t0\nGid:\t0\t0\t0\t0\n", FALSE },
    { "Name:\tx\nUid:\tabc\t0\t0\t0\nGid:\t0\t0\t0\t0\n", FALSE },
    { "Name:\tx\nUid:\t\nGid:\t0\t0\t0\t0\n", FALSE },
    { "Name:\tx\nUid:\t12x\t0\t0\t0\nGid:\t0\t0\t0\t0\n", FALSE },
    /* all four ids, each line whole */
    { "Name:\tx\nUid:\t1\t2\t3\nGid:\t0\t0\t0\t0\n", FALSE },
    { "Name:\tx\nUid:\t1\t2\t3\t4\t5\nGid:\t0\t0\t0\t0\n", FALSE },
    { "Name:\tx\nUid:\t1\t2\t3\t4\nGid:\t0\t0\t0\t0", FALSE },
    { "Name:\tx\nUid:\t1\t2\t3\t4\n", FALSE },
    /* a Uid-looking comm on the Name line is not the Uid line */
    { "Name:\tUid: 5\nUid:\t7\t7\t7\t7\nGid:\t7\t7\t7\t7\n", TRUE, "Uid: 5", { 7, 7, 7, 7 }, { 7, 7, 7, 7 } },
    /* the name as the kernel escapes it; control characters and invalid
     * UTF-8 made harmless */
    { "Name:\ta\\nb\nUid:\t1\t1\t1\t1\nGid:\t1\t1\t1\t1\n", TRUE, "a\\nb", { 1, 1, 1, 1 }, { 1, 1, 1, 1 } },
    { "Name:\t\x1b[5m\xff\nUid:\t1\t1\t1\t1\nGid:\t1\t1\t1\t1\n", TRUE, "?[5m\xef\xbf\xbd", { 1, 1, 1, 1 },
      { 1, 1, 1, 1 } },
    { "Uid:\t1\t1\t1\t1\nGid:\t1\t1\t1\t1\n", FALSE },
    { "", FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      PymemdCredentials credentials;
      gboolean ok = pymemd_status_parse (cases[i].text, &credentials, &error);

      g_test_message ("case %u", i);
      if (cases[i].ok)
        {
          g_assert_no_error (error);
          g_assert_true (ok);
          g_assert_cmpstr (credentials.name, ==, cases[i].name);
          g_assert_cmpmem (credentials.uid, sizeof credentials.uid, cases[i].uid, sizeof cases[i].uid);
          g_assert_cmpmem (credentials.gid, sizeof credentials.gid, cases[i].gid, sizeof cases[i].gid);
        }
      else
        {
          g_assert_false (ok);
          g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE);
        }
    }
}

/* A name of 63 bytes that the replacement of invalid bytes makes longer
 * is cut at a character, never inside one. */
static void
test_status_long_name (void)
{
  g_autoptr(GString) text = g_string_new ("Name:\t");
  g_autoptr(GError) error = NULL;
  PymemdCredentials credentials;

  for (guint i = 0; i < 63; i++)
    g_string_append_c (text, (char) 0xff);
  g_string_append (text, "\nUid:\t1\t1\t1\t1\nGid:\t1\t1\t1\t1\n");
  g_assert_true (pymemd_status_parse (text->str, &credentials, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (credentials.name), ==, 63);
  g_assert_true (g_utf8_validate (credentials.name, -1, NULL));
}

/* --- cmdline --- */

static void
test_cmdline_fixtures (void)
{
  /* The fixtures' cmdline files: argv with a NUL after each argument. */
  static const struct {
    const char *file;
    gsize       len;
    const char *expected;
  } cases[] = {
    { "proc-mixed/1001/cmdline", 40, "python3 -c import time; time.sleep(1e6)" },
    { "proc-mixed/1002/cmdline", 34, "python3 /tmp/threads_bytearray.py" },
    { "proc-mixed/1003/cmdline", 12, "/tmp/mapper" },
    { "proc-gtk/2001/cmdline", 24, "python3 /tmp/gtk_app.py" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      gsize len;
      g_autofree char *data = read_fixture (cases[i].file, &len);
      g_autofree char *line = NULL;

      g_assert_cmpuint (len, ==, cases[i].len);
      g_assert_cmpint (data[len - 1], ==, '\0');
      line = pymemd_cmdline_to_string (data, len);
      g_assert_cmpstr (line, ==, cases[i].expected);
    }
}

static void
test_cmdline_synthetic (void)
{
  static const struct {
    const char *data;
    gsize       len;
    const char *expected;
  } cases[] = {
#define C(d, e) { d, sizeof (d) - 1, e }
    /* NUL-separated, with and without the trailing NUL */
    C ("a\0bc\0d", "a bc d"),
    C ("a\0bc\0d\0", "a bc d"),
    /* all trailing NULs go, inner ones each become a space */
    C ("a\0\0\0", "a"),
    C ("a\0\0b\0", "a  b"),
    /* an empty first argument */
    C ("\0x\0", " x"),
    /* control characters */
    C ("a\tb\nc\rd\x1b[31m\x7f" "e\0", "a?b?c?d?[31m?e"),
    /* C1 controls, bidirectional overrides and isolates, zero-width and
     * format characters, line separators: a name that reads as another */
    C ("\xc2\x9b" "31m\0\xe2\x80\xae" "fdp.txt\xe2\x80\xac\0\xe2\x81\xa6x\xe2\x81\xa9\xe2\x80\x8b\xef\xbb\xbf\xe2\x80\xa8",
       "?31m ?fdp.txt? ?x????"),
    /* valid UTF-8 is kept */
    C ("caf\xc3\xa9\0\xe2\x82\xac\0", "caf\xc3\xa9 \xe2\x82\xac"),
    /* invalid UTF-8 is replaced with U+FFFD */
    C ("caf\xe9\0", "caf\xef\xbf\xbd"),
    C ("\xff\xfe", "\xef\xbf\xbd\xef\xbf\xbd"),
    /* a truncated multi-byte sequence at the end: one U+FFFD per bad byte */
    C ("x\xe2\x82", "x\xef\xbf\xbd\xef\xbf\xbd"),
    /* nothing at all, or only NULs */
    C ("", ""),
    C ("\0\0", ""),
#undef C
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *line = pymemd_cmdline_to_string (cases[i].data, cases[i].len);

      g_test_message ("case %u", i);
      g_assert_true (g_utf8_validate (line, -1, NULL));
      g_assert_cmpstr (line, ==, cases[i].expected);
    }

  /* LEN is honoured: bytes after it are not read. */
  {
    g_autofree char *line = pymemd_cmdline_to_string ("abc\0def", 2);
    g_assert_cmpstr (line, ==, "ab");
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/pidfiles/stat/fixtures", test_stat_fixtures);
  g_test_add_func ("/pidfiles/stat/weird-comm", test_stat_weird_comm);
  g_test_add_func ("/pidfiles/stat/synthetic", test_stat_synthetic);
  g_test_add_func ("/pidfiles/stat/errors", test_stat_errors);
  g_test_add_func ("/pidfiles/status/fixtures", test_status_fixtures);
  g_test_add_func ("/pidfiles/status/truncated", test_status_truncated);
  g_test_add_func ("/pidfiles/status/synthetic", test_status_synthetic);
  g_test_add_func ("/pidfiles/status/long-name", test_status_long_name);
  g_test_add_func ("/pidfiles/cmdline/fixtures", test_cmdline_fixtures);
  g_test_add_func ("/pidfiles/cmdline/synthetic", test_cmdline_synthetic);

  return g_test_run ();
}
