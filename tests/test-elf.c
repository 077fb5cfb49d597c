/* Tests CPython detection in ELF files (current, older, stripped builds and decoys), version parsing from file names, and the file-identity cache. */
#include "config.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "pymemd-elf.h"
#include "pymemd-error.h"
#include "testutil.h"

#define PYTHON311 "/usr/bin/python3.11"
#define TRUE_BIN "/bin/true"

/* libelf needs elf_version () before any use; the library does that when
 * the first PymemdElfCache class is made. Tests of the inspection itself
 * make one first (see /elf/inspect/standalone for why). */
static void
init_libelf (void)
{
  g_object_unref (pymemd_elf_cache_new ());
}

static int
open_or_die (const char *path)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    g_error ("open %s: %s", path, g_strerror (errno));
  return fd;
}

/* A temporary file holding LEN bytes of DATA; its path is returned. */
static char *
temp_file_with (const char *data, gsize len)
{
  g_autoptr(GError) error = NULL;
  char *path = NULL;
  int fd = g_file_open_tmp ("pymemd-test-elf-XXXXXX", &path, &error);

  g_assert_no_error (error);
  g_assert_cmpint (write (fd, data, len), ==, (gssize) len);
  close (fd);
  return path;
}

static gboolean
inspect_path (const char *path, PymemdElfInfo *info, GError **error)
{
  int fd = open_or_die (path);
  gboolean ok = pymemd_elf_inspect_fd (fd, info, error);

  close (fd);
  return ok;
}

/* That the file of LEN bytes of DATA is refused as unreadable (PARSE),
 * by the inspection and by the injector's section look-up alike. */
static void
assert_refused (const char *data, gsize len)
{
  g_autofree char *path = temp_file_with (data, len);
  g_autoptr(GError) error = NULL;
  PymemdElfInfo info;
  int fd;

  g_assert_false (inspect_path (path, &info, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE);
  g_assert_false (info.is_interpreter);
  g_clear_error (&error);
  fd = open_or_die (path);
  g_assert_false (pymemd_elf_find_section (fd, ".PyRuntime", &(guint64) { 0 }, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE);
  close (fd);
  g_unlink (path);
}

/* --- pymemd_elf_inspect_fd --- */

/* The documented contract has no set-up step: inspecting a file must work
 * in a process that never made a PymemdElfCache. Runs in a fresh
 * subprocess: once any test has made a cache, libelf is initialised for
 * good and this would prove nothing. */
static void
test_inspect_standalone (void)
{
  if (!g_file_test (PYTHON311, G_FILE_TEST_IS_REGULAR))
    {
      g_test_skip (PYTHON311 " is not installed");
      return;
    }
  if (g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;
      PymemdElfInfo info;
      gboolean ok = inspect_path (PYTHON311, &info, &error);

      g_assert_no_error (error);
      g_assert_true (ok);
      g_assert_true (info.is_interpreter);
      g_assert_cmpuint (info.python_version, ==, 311);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

static void
test_inspect_python (void)
{
  g_autoptr(GError) error = NULL;
  PymemdElfInfo info;

  if (!g_file_test (PYTHON311, G_FILE_TEST_IS_REGULAR))
    {
      g_test_skip (PYTHON311 " is not installed");
      return;
    }
  init_libelf ();
  g_assert_true (inspect_path (PYTHON311, &info, &error));
  g_assert_no_error (error);
  /* Debian's python3.11 exports _PyRuntime and Py_Version = 0x030b..: 3.11 */
  g_assert_true (info.is_interpreter);
  g_assert_cmpuint (info.python_version, ==, 311);
  /* It is stripped: _PyRuntime is there, obmalloc.c's statics are not.
   * A fixed-address executable: offset 0 is mapped at 0x400000. */
  g_assert_cmphex (info.runtime, !=, 0);
  g_assert_cmphex (info.arenas, ==, 0);
  g_assert_cmphex (info.load_vaddr, ==, 0x400000);
  /* The interpreter is in the executable: it needs no libpython. */
  g_assert_false (info.links_libpython);
}

/* A shared build's python holds no interpreter itself but names libpython
 * among the libraries its loader maps: discovery keeps looking at it
 * after its exec until that is mapped. */
static void
test_inspect_links_libpython (void)
{
  g_autofree char *prefix = pymemd_test_pyenv_prefix ("3.12");
  g_autofree char *python = NULL;
  g_autofree char *libpython = NULL;
  g_autoptr(GError) error = NULL;
  PymemdElfInfo info;

  if (prefix != NULL)
    {
      python = g_build_filename (prefix, "bin", "python3.12", NULL);
      libpython = g_build_filename (prefix, "lib", "libpython3.12.so.1.0", NULL);
    }
  if (python == NULL || !g_file_test (python, G_FILE_TEST_IS_REGULAR) ||
      !g_file_test (libpython, G_FILE_TEST_IS_REGULAR))
    {
      g_test_skip ("needs a shared pyenv 3.12");
      return;
    }
  init_libelf ();
  g_assert_true (inspect_path (python, &info, &error));
  g_assert_no_error (error);
  g_assert_false (info.is_interpreter);
  g_assert_true (info.links_libpython);
  /* /bin/sleep links libc only. */
  g_assert_true (inspect_path ("/bin/sleep", &info, &error));
  g_assert_no_error (error);
  g_assert_false (info.links_libpython);
}

/* The dynamic loader run as a program maps the program it is given after
 * its exec: it says so by its DT_SONAME; a program and a library do not. */
static void
test_inspect_dynamic_loader (void)
{
  const char *loader = "/lib64/ld-linux-x86-64.so.2";
  g_autoptr(GError) error = NULL;
  PymemdElfInfo info;

  if (!g_file_test (loader, G_FILE_TEST_EXISTS))
    {
      g_test_skip_printf ("needs %s", loader);
      return;
    }
  init_libelf ();
  g_assert_true (inspect_path (loader, &info, &error));
  g_assert_no_error (error);
  g_assert_true (info.is_dynamic_loader);
  g_assert_false (info.is_interpreter);
  g_assert_true (inspect_path ("/bin/sleep", &info, &error));
  g_assert_no_error (error);
  g_assert_false (info.is_dynamic_loader);
}

static void
test_inspect_libpython (void)
{
  const char *path = "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0";
  g_autoptr(GError) error = NULL;
  PymemdElfInfo info;

  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      g_test_skip ("libpython3.11 is not installed");
      return;
    }
  init_libelf ();
  g_assert_true (inspect_path (path, &info, &error));
  g_assert_no_error (error);
  g_assert_true (info.is_interpreter);
  g_assert_cmpuint (info.python_version, ==, 311);
}

static void
test_inspect_not_python (void)
{
  g_autoptr(GError) error = NULL;
  PymemdElfInfo info;

  init_libelf ();
  memset (&info, 0xaa, sizeof info);
  g_assert_true (inspect_path (TRUE_BIN, &info, &error));
  g_assert_no_error (error);
  g_assert_false (info.is_interpreter);
  g_assert_cmpuint (info.python_version, ==, 0);
}

static void
test_inspect_not_elf (void)
{
  static const char *const contents[] = {
    "#!/bin/sh\necho not an ELF file\n",
    "\177ELF",                 /* the magic and nothing else */
    "\177ELX\002\001\001\000", /* almost the magic */
  };

  init_libelf ();
  for (guint i = 0; i < G_N_ELEMENTS (contents); i++)
    {
      g_autofree char *path = temp_file_with (contents[i], strlen (contents[i]));
      g_autoptr(GError) error = NULL;
      PymemdElfInfo info;

      g_test_message ("case %u", i);
      memset (&info, 0xaa, sizeof info);
      g_assert_false (inspect_path (path, &info, &error));
      g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE);
      g_assert_false (info.is_interpreter);
      g_assert_cmpuint (info.python_version, ==, 0);
      g_unlink (path);
    }
}

static void
test_inspect_empty (void)
{
  init_libelf ();
  assert_refused ("", 0);
}

static void
test_inspect_not_regular (void)
{
  g_autoptr(GError) error = NULL;
  PymemdElfInfo info;
  int fd = open ("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  init_libelf ();
  g_assert_cmpint (fd, >=, 0);
  g_assert_false (pymemd_elf_inspect_fd (fd, &info, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED);
  close (fd);
}

static void
test_inspect_truncated (void)
{
  g_autofree char *data = NULL;
  gsize len;

  /* The first 64 bytes (the ELF header) and 4 KiB of /bin/true: whatever
   * libelf makes of them, they never hold an interpreter. */
  init_libelf ();
  g_assert_true (g_file_get_contents (TRUE_BIN, &data, &len, NULL));
  g_assert_cmpuint (len, >, 4096);
  for (gsize cut = 64; cut <= 4096; cut *= 64)
    {
      g_autofree char *path = temp_file_with (data, cut);
      g_autoptr(GError) error = NULL;
      PymemdElfInfo info;
      gboolean ok = inspect_path (path, &info, &error);

      g_test_message ("%" G_GSIZE_FORMAT " bytes: %s", cut, ok ? "ok" : error->message);
      if (!ok)
        g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE);
      g_assert_false (info.is_interpreter);
      g_assert_cmpuint (info.python_version, ==, 0);
      g_unlink (path);
    }
}

/* --- pymemd_python_version_from_name --- */

static void
test_version_from_name (void)
{
  static const struct {
    const char *name;
    guint       version;
  } cases[] = {
    { "python3.11", 311 },
    { "python3.12", 312 },
    { "python2.7", 207 },
    { "libpython3.6m.so.1.0", 306 },
    { "libpython3.11.so.1.0", 311 },
    { "libpython2.7.so", 207 },
    { "python", 0 },
    { "python3", 0 },
    { "pythonista", 0 },
    { "python3.x", 0 },
    { "python3.", 0 },
    { "python.11", 0 },
    { "python1.5", 0 },     /* majors 2 to 9 only */
    { "python10.1", 0 },
    { "python3.100", 0 },   /* minors up to 99 */
    { "Python3.11", 0 },
    { "ipython3.11", 0 },
    { "libpython", 0 },
    { "", 0 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("“%s”", cases[i].name);
      g_assert_cmpuint (pymemd_python_version_from_name (cases[i].name), ==, cases[i].version);
    }
}

/* --- older and renamed interpreters, decoys --- */

/* libpython of pyenv's VERSION ("2.7.18"), or NULL (test skipped). */
static char *
pyenv_libpython (const char *version, const char *name)
{
  g_autofree char *root = g_build_filename (g_get_home_dir (), ".pyenv", "versions", version,
                                            NULL);
  char *path = g_build_filename (root, "lib", name, NULL);

  if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
    return path;
  g_test_skip_printf ("%s is not installed", path);
  g_free (path);
  return NULL;
}

/* 2.7 and 3.0-3.6 have no _PyRuntime: their thread state object and the
 * entry points tell them, and the API they define tells the version. */
static void
test_inspect_old_versions (void)
{
  static const struct {
    const char *version;
    const char *library;
    guint       expected;
  } cases[] = {
    { "2.7.18", "libpython2.7.so.1.0", 207 },
    { "3.6.15", "libpython3.6m.so.1.0", 306 },
    { "3.7.16", "libpython3.7m.so.1.0", 307 },
    { "3.8.18", "libpython3.8.so.1.0", 308 },
    { "3.9.18", "libpython3.9.so.1.0", 309 },
    { "3.10.13", "libpython3.10.so.1.0", 310 },
  };

  init_libelf ();
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = pyenv_libpython (cases[i].version, cases[i].library);
      g_autoptr(GError) error = NULL;
      PymemdElfInfo info;

      if (path == NULL)
        continue;
      g_test_message ("%s", path);
      g_assert_true (inspect_path (path, &info, &error));
      g_assert_no_error (error);
      g_assert_true (info.is_interpreter);
      g_assert_cmpuint (info.python_version, ==, cases[i].expected);
      /* pyenv's builds keep .symtab: obmalloc.c's arena table is found. */
      g_assert_cmphex (info.arenas, !=, 0);
      g_assert_cmphex (info.maxarenas, !=, 0);
      g_assert_cmphex (info.narenas, !=, 0);
      /* 3.7 brought _PyRuntime. */
      if (cases[i].expected < 307)
        g_assert_cmphex (info.runtime, ==, 0);
      else
        g_assert_cmphex (info.runtime, !=, 0);
    }
}

/* A program that defines a few Py_* functions and imports the
 * interpreter's state is no interpreter, whatever it is called. */
static void
test_inspect_decoy (void)
{
  g_autofree char *decoy = g_test_build_filename (G_TEST_BUILT, "python-decoy", NULL);
  g_autoptr(GError) error = NULL;
  PymemdElfInfo info;

  init_libelf ();
  g_assert_true (inspect_path (decoy, &info, &error));
  g_assert_no_error (error);
  g_assert_false (info.is_interpreter);
  g_assert_cmpuint (info.python_version, ==, 0);
}

/* The bytes of python3.11, for tests that change them; FALSE (the test
 * skipped) where it is not installed. */
static gboolean
python311_image (char **data, gsize *len)
{
  init_libelf ();
  if (!pymemd_test_need_fixture_python ())
    return FALSE;
  g_assert_true (g_file_get_contents (PYTHON311, data, len, NULL));
  return TRUE;
}

/* That the ELF image DATA (LEN bytes) is an interpreter of VERSION. */
static void
assert_interpreter (const char *data, gsize len, guint version)
{
  g_autofree char *path = temp_file_with (data, len);
  g_autoptr(GError) error = NULL;
  PymemdElfInfo info;

  g_assert_true (inspect_path (path, &info, &error));
  g_assert_no_error (error);
  g_assert_true (info.is_interpreter);
  g_assert_cmpuint (info.python_version, ==, version);
  g_unlink (path);
}

/* The Py_Version entry of the .dynsym in the ELF image DATA, and its section's header. */
static void
find_py_version (char *data, gsize len, Elf64_Sym **sym, Elf64_Shdr **section)
{
  Elf64_Ehdr *ehdr = (Elf64_Ehdr *) (void *) data; /* g_malloc'd: aligned */
  Elf64_Shdr *shdrs;

  g_assert_cmpuint (len, >, sizeof *ehdr);
  g_assert_cmpuint (ehdr->e_shoff + (guint64) ehdr->e_shnum * sizeof (Elf64_Shdr), <=, len);
  shdrs = (Elf64_Shdr *) (void *) (data + ehdr->e_shoff);
  for (guint i = 0; i < ehdr->e_shnum; i++)
    {
      Elf64_Shdr *strtab = &shdrs[shdrs[i].sh_link];

      if (shdrs[i].sh_type != SHT_DYNSYM)
        continue;
      for (guint64 k = 0; k < shdrs[i].sh_size / sizeof (Elf64_Sym); k++)
        {
          Elf64_Sym *entry = (Elf64_Sym *) (void *) (data + shdrs[i].sh_offset) + k;

          if (entry->st_shndx != SHN_UNDEF && entry->st_shndx < ehdr->e_shnum &&
              strcmp (data + strtab->sh_offset + entry->st_name, "Py_Version") == 0)
            {
              *sym = entry;
              *section = &shdrs[entry->st_shndx];
              return;
            }
        }
    }
  g_assert_not_reached ();
}

/* A Py_Version that points outside its section (anyone can run such a
 * file) is no version, whatever its offset: near 2^64 the end of the read
 * wraps around. The section is placed at the file's first byte, so that a
 * read before it leaves the mapping. */
static void
test_inspect_py_version_outside (void)
{
  static const guint64 values[] = {
    G_MAXUINT64, G_MAXUINT64 - 1, G_MAXUINT64 - 2, G_MAXUINT64 - 3, G_MAXUINT64 - 4096,
    G_MAXUINT64 / 2, G_MAXUINT32,
  };
  g_autofree char *data = NULL;
  gsize len;

  if (!python311_image (&data, &len))
    return;
  for (guint i = 0; i < G_N_ELEMENTS (values); i++)
    {
      Elf64_Sym *sym;
      Elf64_Shdr *section;

      find_py_version (data, len, &sym, &section);
      section->sh_addr = 0;
      section->sh_offset = 0;
      sym->st_value = values[i];
      g_test_message ("Py_Version at %#" G_GINT64_MODIFIER "x", values[i]);
      /* Still an interpreter (_PyRuntime), its version from the API it
       * exports (PyModule_AddObjectRef: 3.10 at least), not from the bytes. */
      assert_interpreter (data, len, 310);
    }
}

/* The .dynsym's string table of the ELF image DATA, stored again zlib
 * compressed (SHF_COMPRESSED) at the end of the image, whose new length
 * is returned; not loaded, as a .symtab's .strtab. */
static gsize
compress_dynstr (char **data, gsize len)
{
  Elf64_Ehdr *ehdr = (Elf64_Ehdr *) (void *) *data;
  Elf64_Shdr *shdrs = (Elf64_Shdr *) (void *) (*data + ehdr->e_shoff);
  g_autoptr(GZlibCompressor) zlib = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_ZLIB, 9);
  Elf64_Chdr chdr = { ELFCOMPRESS_ZLIB, 0, 0, 1 };

  for (guint i = 0; i < ehdr->e_shnum; i++)
    {
      Elf64_Shdr *strtab;
      gsize read = 0, written = 0, room, at;
      g_autoptr(GError) error = NULL;

      if (shdrs[i].sh_type != SHT_DYNSYM)
        continue;
      strtab = &shdrs[shdrs[i].sh_link];
      room = strtab->sh_size + 1024;
      at = (len + 7) & ~(gsize) 7;
      *data = g_realloc (*data, at + sizeof chdr + room);
      ehdr = (Elf64_Ehdr *) (void *) *data;
      shdrs = (Elf64_Shdr *) (void *) (*data + ehdr->e_shoff);
      strtab = &shdrs[shdrs[i].sh_link];
      g_assert_cmpint (g_converter_convert (G_CONVERTER (zlib), *data + strtab->sh_offset, strtab->sh_size,
                                            *data + at + sizeof chdr, room, G_CONVERTER_INPUT_AT_END, &read,
                                            &written, &error),
                       ==, G_CONVERTER_FINISHED);
      g_assert_no_error (error);
      chdr.ch_size = strtab->sh_size;
      memcpy (*data + at, &chdr, sizeof chdr);
      /* libelf inflates only what is not loaded (as .strtab is not). */
      strtab->sh_flags = (strtab->sh_flags & ~(guint64) SHF_ALLOC) | SHF_COMPRESSED;
      strtab->sh_offset = at;
      strtab->sh_size = sizeof chdr + written;
      return at + sizeof chdr + written;
    }
  g_assert_not_reached ();
}

/* A compressed string table would be inflated to whatever size its header
 * claims (a file of 1 MB made the daemon take 1 GB): it is not read. The
 * file is still an interpreter (.PyRuntime), of 3.7 or later as far as
 * what is read tells. */
static void
test_inspect_compressed_names (void)
{
  g_autofree char *data = NULL;
  gsize len;

  if (!python311_image (&data, &len))
    return;
  len = compress_dynstr (&data, len);
  assert_interpreter (data, len, 307);
}

/* A file in the other byte order would be converted into copies of its
 * tables: no process of this host runs one, and it is not read. */
static void
test_inspect_other_byte_order (void)
{
  g_autofree char *data = NULL;
  gsize len;

  if (!python311_image (&data, &len))
    return;
  data[EI_DATA] = G_BYTE_ORDER == G_LITTLE_ENDIAN ? ELFDATA2MSB : ELFDATA2LSB;
  assert_refused (data, len);
}

/* Many section headers may name one table: what a file's tables cost is
 * bounded for the file, not for each. Here 2^22 / n + 1 headers in front
 * name python3.11's .dynsym (n symbols) with other names, and its own
 * header comes last: it is not read, and Py_Version (3.11) is not seen. */
static void
test_inspect_tables_budget (void)
{
  g_autofree char *data = NULL;
  Elf64_Ehdr *ehdr;
  Elf64_Shdr *shdrs, *dynsym = NULL, *table;
  gsize len, at;
  guint decoys, n;

  if (!python311_image (&data, &len))
    return;
  ehdr = (Elf64_Ehdr *) (void *) data;
  shdrs = (Elf64_Shdr *) (void *) (data + ehdr->e_shoff);
  for (guint i = 0; i < ehdr->e_shnum; i++)
    if (shdrs[i].sh_type == SHT_DYNSYM)
      dynsym = &shdrs[i];
  g_assert_nonnull (dynsym);
  decoys = (1u << 22) / (guint) (dynsym->sh_size / sizeof (Elf64_Sym)) + 1;
  n = ehdr->e_shnum + decoys + 1;
  g_assert_cmpuint (n, <, SHN_LORESERVE);
  at = (len + 7) & ~(gsize) 7;
  data = g_realloc (data, at + n * sizeof (Elf64_Shdr));
  ehdr = (Elf64_Ehdr *) (void *) data;
  table = (Elf64_Shdr *) (void *) (data + at);
  memcpy (table, data + ehdr->e_shoff, ehdr->e_shnum * sizeof (Elf64_Shdr));
  for (guint i = 0; i < ehdr->e_shnum; i++)
    if (table[i].sh_type == SHT_DYNSYM)
      {
        for (guint k = 0; k <= decoys; k++)
          {
            table[ehdr->e_shnum + k] = table[i];
            if (k < decoys)
              table[ehdr->e_shnum + k].sh_link = ehdr->e_shstrndx;
          }
        table[i].sh_type = SHT_NULL;
      }
  ehdr->e_shoff = at;
  ehdr->e_shnum = (Elf64_Half) n;
  assert_interpreter (data, at + n * sizeof (Elf64_Shdr), 307);
}

/* Extended numbering (the count of section headers in the first one's
 * sh_size, program headers' in its sh_info) would let a file claim
 * millions, for which libelf allocates before anything can be checked: no
 * interpreter needs it, and such a file is not read. */
static void
test_inspect_extended_numbering (void)
{
  for (guint kind = 0; kind < 2; kind++)
    {
      g_autofree char *data = NULL;
      Elf64_Ehdr *ehdr;
      Elf64_Shdr *first;
      gsize len;

      if (!python311_image (&data, &len))
        return;
      ehdr = (Elf64_Ehdr *) (void *) data;
      first = (Elf64_Shdr *) (void *) (data + ehdr->e_shoff);
      if (kind == 0)
        {
          first->sh_size = ehdr->e_shnum;
          ehdr->e_shnum = 0;
        }
      else
        {
          first->sh_info = ehdr->e_phnum;
          ehdr->e_phnum = PN_XNUM;
        }
      assert_refused (data, len);
    }
}

/* A 32-bit file's tables are aligned to 4 bytes, not 8 (its .dynamic at
 * 4 mod 8 in Debian's): they are read all the same. */
static void
test_inspect_32_bit (void)
{
  const char *path = "/lib32/ld-linux.so.2";
  g_autoptr(GError) error = NULL;
  PymemdElfInfo info;

  init_libelf ();
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_test_skip ("no 32-bit loader (libc6-i386) is installed");
      return;
    }
  g_assert_true (inspect_path (path, &info, &error));
  g_assert_no_error (error);
  g_assert_false (info.is_interpreter);
  g_assert_true (info.is_dynamic_loader);
}

/* --- PymemdElfCache --- */

static void
stat_or_die (const char *path, struct stat *st)
{
  if (stat (path, st) < 0)
    g_error ("stat %s: %s", path, g_strerror (errno));
}

/* The cache key of the file ST describes (valid until the next call). */
static const PymemdElfKey *
key_of (const struct stat *st)
{
  static PymemdElfKey key;

  pymemd_elf_key_from_stat (&key, st);
  return &key;
}

static void
copy_contents (const char *from, const char *to)
{
  g_autofree char *data = NULL;
  gsize len;
  int fd;

  g_assert_true (g_file_get_contents (from, &data, &len, NULL));
  /* O_TRUNC, not a rename: the inode stays, as with cp over a file. */
  fd = open (to, O_WRONLY | O_TRUNC | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (write (fd, data, len), ==, (gssize) len);
  close (fd);
}

/* A file rewritten in place keeps its device and inode: what was cached
 * for its old contents must not answer for the new. */
static void
test_cache_rewritten_in_place (void)
{
  g_autoptr(PymemdElfCache) cache = pymemd_elf_cache_new ();
  g_autofree char *tmp = pymemd_test_mkdtemp ();
  g_autofree char *path = g_build_filename (tmp, "python3", NULL);
  struct stat before, after;
  PymemdElfInfo info;

  if (!g_file_test (PYTHON311, G_FILE_TEST_IS_REGULAR))
    {
      g_test_skip (PYTHON311 " is not installed");
      pymemd_test_rm_rf (tmp);
      return;
    }
  g_assert_true (g_file_set_contents (path, "", 0, NULL));
  copy_contents (TRUE_BIN, path);
  stat_or_die (path, &before);
  g_assert_true (pymemd_elf_cache_lookup (cache, key_of (&before), AT_FDCWD, path, &info));
  g_assert_false (info.is_interpreter);

  g_usleep (10 * 1000); /* a ctime the filesystem's clock tells apart */
  copy_contents (PYTHON311, path);
  stat_or_die (path, &after);
  g_assert_cmpuint (after.st_ino, ==, before.st_ino);
  g_assert_cmpuint (after.st_dev, ==, before.st_dev);
  g_assert_true (pymemd_elf_cache_lookup (cache, key_of (&after), AT_FDCWD, path, &info));
  g_assert_true (info.is_interpreter);
  g_assert_cmpuint (info.python_version, ==, 311);

  /* The old key no longer matches the file: nothing is read for it. */
  g_assert_cmpuint (pymemd_elf_cache_get_size (cache), ==, 2);
  pymemd_test_rm_rf (tmp);
}

static void
test_cache_lookup_twice (void)
{
  g_autoptr(PymemdElfCache) cache = pymemd_elf_cache_new ();
  gboolean have_python = g_file_test (PYTHON311, G_FILE_TEST_IS_REGULAR);
  const char *path = have_python ? PYTHON311 : TRUE_BIN;
  PymemdElfInfo info;
  struct stat st;

  stat_or_die (path, &st);
  g_assert_cmpuint (pymemd_elf_cache_get_size (cache), ==, 0);

  g_assert_true (pymemd_elf_cache_lookup (cache, key_of (&st), AT_FDCWD, path, &info));
  g_assert_cmpuint (pymemd_elf_cache_get_size (cache), ==, 1);
  g_assert_cmpint (info.is_interpreter, ==, have_python);
  g_assert_cmpuint (info.python_version, ==, have_python ? 311 : 0);

  /* The second look is served from the cache: the path is not even opened. */
  memset (&info, 0, sizeof info);
  g_assert_true (pymemd_elf_cache_lookup (cache, key_of (&st), AT_FDCWD,
                                          "/nonexistent/pymemd-test", &info));
  g_assert_cmpuint (pymemd_elf_cache_get_size (cache), ==, 1);
  g_assert_cmpint (info.is_interpreter, ==, have_python);
  g_assert_cmpuint (info.python_version, ==, have_python ? 311 : 0);

  /* And so is a third, by the same path relative to a directory fd. */
  {
    g_autofree char *dirname = g_path_get_dirname (path);
    g_autofree char *basename = g_path_get_basename (path);
    int dirfd = open (dirname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    g_assert_cmpint (dirfd, >=, 0);
    g_assert_true (pymemd_elf_cache_lookup (cache, key_of (&st), dirfd, basename, &info));
    g_assert_cmpuint (pymemd_elf_cache_get_size (cache), ==, 1);
    g_assert_cmpint (info.is_interpreter, ==, have_python);
    close (dirfd);
  }
}

static void
test_cache_wrong_file (void)
{
  g_autoptr(PymemdElfCache) cache = pymemd_elf_cache_new ();
  g_autofree char *other = temp_file_with ("not the same file\n", 18);
  PymemdElfInfo info;
  struct stat st;

  stat_or_die (TRUE_BIN, &st);

  /* (dev, inode) of /bin/true, but the path names another file: an
   * upgrade replaced it. Nothing is read under the wrong key. */
  memset (&info, 0xaa, sizeof info);
  g_assert_false (pymemd_elf_cache_lookup (cache, key_of (&st), AT_FDCWD, other, &info));
  g_assert_cmpuint (pymemd_elf_cache_get_size (cache), ==, 0);
  g_assert_false (info.is_interpreter);
  g_assert_cmpuint (info.python_version, ==, 0);

  if (g_file_test (PYTHON311, G_FILE_TEST_IS_REGULAR))
    {
      struct stat python_st;

      /* python3.11 under /bin/true's key must not be cached as "a runtime"... */
      g_assert_false (pymemd_elf_cache_lookup (cache, key_of (&st), AT_FDCWD, PYTHON311, &info));
      g_assert_cmpuint (pymemd_elf_cache_get_size (cache), ==, 0);
      /* ...nor /bin/true under python3.11's as "no runtime". */
      stat_or_die (PYTHON311, &python_st);
      g_assert_false (pymemd_elf_cache_lookup (cache, key_of (&python_st), AT_FDCWD,
                                               TRUE_BIN, &info));
      g_assert_cmpuint (pymemd_elf_cache_get_size (cache), ==, 0);
      g_assert_true (pymemd_elf_cache_lookup (cache, key_of (&python_st), AT_FDCWD,
                                              PYTHON311, &info));
      g_assert_true (info.is_interpreter);
      g_assert_cmpuint (info.python_version, ==, 311);
      g_assert_cmpuint (pymemd_elf_cache_get_size (cache), ==, 1);
    }

  /* The right path for the key is then looked at and cached. */
  g_assert_true (pymemd_elf_cache_lookup (cache, key_of (&st), AT_FDCWD, TRUE_BIN, &info));
  g_assert_false (info.is_interpreter);
  g_assert_cmpuint (pymemd_elf_cache_get_size (cache), ==,
                    g_file_test (PYTHON311, G_FILE_TEST_IS_REGULAR) ? 2 : 1);
  g_unlink (other);
}

static void
test_cache_unreadable_and_not_elf (void)
{
  g_autoptr(PymemdElfCache) cache = pymemd_elf_cache_new ();
  g_autofree char *text = temp_file_with ("plain text\n", 11);
  PymemdElfKey bogus = { 1, 1, 0, 0, 0 };
  PymemdElfInfo info;
  struct stat st;

  /* A path that cannot be opened is not cached: a later look may succeed. */
  g_assert_false (pymemd_elf_cache_lookup (cache, &bogus, AT_FDCWD, "/nonexistent/pymemd-test", &info));
  g_assert_cmpuint (pymemd_elf_cache_get_size (cache), ==, 0);

  /* A readable file that is not ELF is remembered as "no runtime". */
  stat_or_die (text, &st);
  memset (&info, 0xaa, sizeof info);
  g_assert_true (pymemd_elf_cache_lookup (cache, key_of (&st), AT_FDCWD, text, &info));
  g_assert_false (info.is_interpreter);
  g_assert_cmpuint (info.python_version, ==, 0);
  g_assert_cmpuint (pymemd_elf_cache_get_size (cache), ==, 1);
  g_unlink (text);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/elf/inspect/standalone", test_inspect_standalone);
  g_test_add_func ("/elf/inspect/python", test_inspect_python);
  g_test_add_func ("/elf/inspect/libpython", test_inspect_libpython);
  g_test_add_func ("/elf/inspect/links-libpython", test_inspect_links_libpython);
  g_test_add_func ("/elf/inspect/dynamic-loader", test_inspect_dynamic_loader);
  g_test_add_func ("/elf/inspect/not-python", test_inspect_not_python);
  g_test_add_func ("/elf/inspect/not-elf", test_inspect_not_elf);
  g_test_add_func ("/elf/inspect/empty", test_inspect_empty);
  g_test_add_func ("/elf/inspect/not-regular", test_inspect_not_regular);
  g_test_add_func ("/elf/inspect/truncated", test_inspect_truncated);
  g_test_add_func ("/elf/inspect/old-versions", test_inspect_old_versions);
  g_test_add_func ("/elf/inspect/decoy", test_inspect_decoy);
  g_test_add_func ("/elf/inspect/py-version-outside", test_inspect_py_version_outside);
  g_test_add_func ("/elf/inspect/compressed-names", test_inspect_compressed_names);
  g_test_add_func ("/elf/inspect/other-byte-order", test_inspect_other_byte_order);
  g_test_add_func ("/elf/inspect/32-bit", test_inspect_32_bit);
  g_test_add_func ("/elf/inspect/tables-budget", test_inspect_tables_budget);
  g_test_add_func ("/elf/inspect/extended-numbering", test_inspect_extended_numbering);
  g_test_add_func ("/elf/version-from-name", test_version_from_name);
  g_test_add_func ("/elf/cache/lookup-twice", test_cache_lookup_twice);
  g_test_add_func ("/elf/cache/wrong-file", test_cache_wrong_file);
  g_test_add_func ("/elf/cache/unreadable-and-not-elf", test_cache_unreadable_and_not_elf);
  g_test_add_func ("/elf/cache/rewritten-in-place", test_cache_rewritten_in_place);

  return g_test_run ();
}
