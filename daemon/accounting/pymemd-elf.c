/* Reads ELF symbol tables with libelf to tell interpreters from other files, whatever their names, and where their arena tables are. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "pymemd-elf.h"
#include "pymemd-error.h"

/* Files bigger than this are not parsed (no interpreter is that large;
 * a huge data file mapped executable should not cost us a scan). */
#define MAX_ELF_SIZE (G_GUINT64_CONSTANT (1) << 31)
/* Bounds the cache: a host rarely has more distinct mapped binaries. */
#define MAX_CACHE_ENTRIES 16384
/* Any local user can make a file that pymemd inspects (by running or
 * mapping it), so the work one file costs is bounded: real files have tens
 * of sections and program headers and at most some 10^5 symbols and
 * dynamic entries, in all of their tables. */
#define MAX_SECTIONS (SHN_LORESERVE - 1)
#define MAX_ENTRIES (1u << 22)

struct _PymemdElfCache
{
  GObject     parent_instance;
  GHashTable *entries; /* PymemdElfKey* -> PymemdElfInfo* */
};

G_DEFINE_TYPE (PymemdElfCache, pymemd_elf_cache, G_TYPE_OBJECT)

void
pymemd_elf_key_from_stat (PymemdElfKey *key, const struct stat *st)
{
  memset (key, 0, sizeof *key);
  key->dev = (guint64) st->st_dev;
  key->inode = (guint64) st->st_ino;
  key->size = (guint64) st->st_size;
  key->mtime_ns = (gint64) st->st_mtim.tv_sec * G_GINT64_CONSTANT (1000000000) + st->st_mtim.tv_nsec;
  key->ctime_ns = (gint64) st->st_ctim.tv_sec * G_GINT64_CONSTANT (1000000000) + st->st_ctim.tv_nsec;
}

static guint
elf_key_hash (gconstpointer p)
{
  const PymemdElfKey *key = p;
  guint64 mix = key->inode ^ (key->dev * 2654435761u) ^ (guint64) key->ctime_ns;

  return (guint) (mix ^ (mix >> 32));
}

static gboolean
elf_key_equal (gconstpointer a, gconstpointer b)
{
  const PymemdElfKey *x = a, *y = b;

  return x->dev == y->dev && x->inode == y->inode && x->size == y->size &&
         x->mtime_ns == y->mtime_ns && x->ctime_ns == y->ctime_ns;
}

static void
pymemd_elf_cache_finalize (GObject *object)
{
  PymemdElfCache *self = PYMEMD_ELF_CACHE (object);

  g_hash_table_unref (self->entries);
  G_OBJECT_CLASS (pymemd_elf_cache_parent_class)->finalize (object);
}

static void
pymemd_elf_cache_class_init (PymemdElfCacheClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pymemd_elf_cache_finalize;
}

static void
pymemd_elf_cache_init (PymemdElfCache *self)
{
  self->entries = g_hash_table_new_full (elf_key_hash, elf_key_equal, g_free, g_free);
}

PymemdElfCache *
pymemd_elf_cache_new (void)
{
  return g_object_new (PYMEMD_TYPE_ELF_CACHE, NULL);
}

guint
pymemd_elf_cache_get_size (PymemdElfCache *self)
{
  return g_hash_table_size (self->entries);
}

guint
pymemd_python_version_from_name (const char *basename)
{
  const char *p;
  guint64 major, minor;
  char *end;

  if (g_str_has_prefix (basename, "libpython"))
    p = basename + strlen ("libpython");
  else if (g_str_has_prefix (basename, "python"))
    p = basename + strlen ("python");
  else
    return 0;

  major = g_ascii_strtoull (p, &end, 10);
  if (end == p || *end != '.' || major < 2 || major > 9)
    return 0;
  p = end + 1;
  minor = g_ascii_strtoull (p, &end, 10);
  if (end == p || minor > 99)
    return 0;
  return (guint) (major * 100 + minor);
}

/* The entries of the table SCN (header SHDR) of TYPE (ELF_T_SYM or
 * ELF_T_DYN), and in *COUNT how many of them to read, taken from *BUDGET
 * (what the file has left: many headers may name one table). NULL where
 * reading it would cost more than the file: a compressed section (libelf
 * inflates it to whatever size its header claims), entries of another size
 * or not aligned for their class (libelf copies them). Only files in this
 * host's byte order get here, so nothing is converted. */
static Elf_Data *
table_data (Elf *elf, Elf_Scn *scn, const GElf_Shdr *shdr, Elf_Type type, gsize *budget, gsize *count)
{
  size_t size = gelf_fsize (elf, type, 1, EV_CURRENT);
  guint64 align = gelf_getclass (elf) == ELFCLASS64 ? 8 : 4;
  Elf_Data *data;

  if ((shdr->sh_flags & SHF_COMPRESSED) || size == 0 || shdr->sh_entsize != size || shdr->sh_offset % align != 0 ||
      *budget == 0 || (data = elf_getdata (scn, NULL)) == NULL)
    return NULL;
  *count = MIN (data->d_size / size, *budget);
  *budget -= *count;
  return data;
}

/* The bytes of the section SCN (header SHDR) as the file holds them, never
 * converted or inflated: NULL for a compressed section. */
static Elf_Data *
section_bytes (Elf_Scn *scn, const GElf_Shdr *shdr)
{
  if ((shdr->sh_flags & SHF_COMPRESSED) || shdr->sh_type == SHT_NOBITS)
    return NULL;
  return elf_rawdata (scn, NULL);
}

/* A string table, read directly: elf_strptr () checks each string by
 * scanning back from the table's end, so that N names in a table of S
 * bytes with no NUL at its end would cost N × S. */
typedef struct {
  const char *text;
  gsize       size;
} Strings;

static gboolean
strings_of (Elf *elf, size_t index, Strings *strings)
{
  Elf_Scn *scn = elf_getscn (elf, index);
  GElf_Shdr shdr;
  Elf_Data *data;

  strings->text = NULL;
  strings->size = 0;
  if (scn == NULL || gelf_getshdr (scn, &shdr) == NULL || shdr.sh_type != SHT_STRTAB ||
      (data = section_bytes (scn, &shdr)) == NULL || data->d_buf == NULL)
    return FALSE;
  strings->text = data->d_buf;
  strings->size = data->d_size;
  return TRUE;
}

/* Whether the string at OFFSET of STRINGS starts with PREFIX, or (EXACT)
 * is NAME itself: at most strlen (NAME) + 1 bytes are looked at. */
static gboolean
string_is (const Strings *strings, guint64 offset, const char *name, gboolean exact)
{
  gsize len = strlen (name) + (exact ? 1 : 0);

  return offset < strings->size && strings->size - offset >= len &&
         memcmp (strings->text + offset, name, len) == 0;
}

/* Py_Version (3.11+) is a const in the file: read its value from the
 * section that holds it, so renamed builds still tell their version. */
static guint
read_py_version (Elf *elf, const GElf_Sym *sym)
{
  Elf_Scn *scn = NULL;

  if (sym->st_shndx == SHN_UNDEF || sym->st_shndx >= SHN_LORESERVE || sym->st_size < 4)
    return 0;
  scn = elf_getscn (elf, sym->st_shndx);
  if (scn != NULL)
    {
      GElf_Shdr shdr;
      Elf_Data *data;
      guint64 offset;
      guint32 hex;

      if (gelf_getshdr (scn, &shdr) == NULL)
        return 0;
      data = section_bytes (scn, &shdr);
      if (data == NULL || data->d_buf == NULL || sym->st_value < shdr.sh_addr)
        return 0;
      offset = sym->st_value - shdr.sh_addr;
      /* Not offset + 4 > d_size: a file may put the symbol near 2^64. */
      if (data->d_size < sizeof hex || offset > data->d_size - sizeof hex)
        return 0;
      /* PY_VERSION_HEX: 0xMMmmppLS; the low 32 bits on little-endian hosts. */
      memcpy (&hex, (const char *) data->d_buf + offset, sizeof hex);
      if (((hex >> 24) & 0xff) < 2 || ((hex >> 24) & 0xff) > 9)
        return 0;
      return ((hex >> 24) & 0xff) * 100 + ((hex >> 16) & 0xff);
    }
  return 0;
}

/* The symbols that tell an interpreter and its version. */
typedef enum {
  MARK_RUNTIME,             /* _PyRuntime: 3.7+ */
  MARK_PY_VERSION,          /* Py_Version: 3.11+, holds PY_VERSION_HEX */
  MARK_THREAD_STATE,        /* _PyThreadState_Current: 2.x-3.6's thread state object */
  MARK_INITIALIZE,          /* Py_InitializeEx */
  MARK_SAVE_THREAD,         /* PyEval_SaveThread */
  MARK_INTERPRETER_HEAD,    /* PyInterpreterState_Head */
  MARK_PYTHON2,             /* Py_InitModule4_64 / Py_InitModule4: 2.x only */
  MARK_ARENAS,              /* obmalloc.c's statics (.symtab, local) */
  MARK_MAXARENAS,
  MARK_NARENAS,
  MARK_SINCE,               /* an API function added in version `since` */
} MarkKind;

typedef struct {
  const char *name;
  MarkKind    kind;
  guint       since;
} Mark;

/* Functions added in each version up to 3.10 (3.11+ export Py_Version),
 * all still exported today: the newest one a file defines is its version.
 * PyCapsule_New came with 2.7 and 3.1 alike. */
static const Mark marks[] = {
  { "_PyRuntime", MARK_RUNTIME, 0 },
  { "Py_Version", MARK_PY_VERSION, 0 },
  { "_PyThreadState_Current", MARK_THREAD_STATE, 0 },
  { "Py_InitializeEx", MARK_INITIALIZE, 0 },
  { "PyEval_SaveThread", MARK_SAVE_THREAD, 0 },
  { "PyInterpreterState_Head", MARK_INTERPRETER_HEAD, 0 },
  { "Py_InitModule4_64", MARK_PYTHON2, 0 },
  { "Py_InitModule4", MARK_PYTHON2, 0 },
  { "arenas", MARK_ARENAS, 0 },
  { "maxarenas", MARK_MAXARENAS, 0 },
  { "narenas_currently_allocated", MARK_NARENAS, 0 },
  { "PyModule_Create2", MARK_SINCE, 300 },
  { "PyCapsule_New", MARK_SINCE, 301 },
  { "PyImport_ExecCodeModuleWithPathnames", MARK_SINCE, 302 },
  { "PyUnicode_AsUTF8", MARK_SINCE, 303 },
  { "PyMem_RawMalloc", MARK_SINCE, 304 },
  { "PyModule_FromDefAndSpec2", MARK_SINCE, 305 },
  { "PyOS_FSPath", MARK_SINCE, 306 },
  { "PyContext_New", MARK_SINCE, 307 },
  { "PyConfig_InitPythonConfig", MARK_SINCE, 308 },
  { "PyFrame_GetCode", MARK_SINCE, 309 },
  { "PyModule_AddObjectRef", MARK_SINCE, 310 },
};

/* What the symbol tables of one file showed. */
typedef struct {
  guint   found;           /* bit (1 << MarkKind) per mark kind seen */
  guint   since;           /* the newest MARK_SINCE version seen */
  gboolean has_capsule;
  guint   py_version;
  guint64 runtime;
  guint64 statics[3];      /* arenas, maxarenas, narenas */
  guint   statics_seen[3]; /* how many definitions: two are ambiguous */
} Marks;

static gboolean
mark_type_fits (const Mark *mark, const GElf_Sym *sym)
{
  int type = GELF_ST_TYPE (sym->st_info);

  switch (mark->kind)
    {
    case MARK_RUNTIME:
    case MARK_PY_VERSION:
    case MARK_THREAD_STATE:
      return type == STT_OBJECT;
    case MARK_ARENAS:
    case MARK_NARENAS:
      return type == STT_OBJECT && sym->st_size == 8;
    case MARK_MAXARENAS:
      return type == STT_OBJECT && sym->st_size == 4;
    default:
      return type == STT_FUNC || type == STT_GNU_IFUNC;
    }
}

static void
note_mark (Elf *elf, const GElf_Sym *sym, const Mark *mark, gboolean local, Marks *seen)
{
  guint index;

  /* Only obmalloc.c's statics are local; any other name must be the
   * file's global definition, never a static of the same name. */
  if (local != (mark->kind >= MARK_ARENAS && mark->kind <= MARK_NARENAS) ||
      !mark_type_fits (mark, sym))
    return;
  seen->found |= 1u << mark->kind;
  switch (mark->kind)
    {
    case MARK_RUNTIME:
      seen->runtime = sym->st_value;
      break;
    case MARK_PY_VERSION:
      if (seen->py_version == 0)
        seen->py_version = read_py_version (elf, sym);
      break;
    case MARK_ARENAS:
    case MARK_MAXARENAS:
    case MARK_NARENAS:
      index = mark->kind - MARK_ARENAS;
      seen->statics[index] = sym->st_value;
      seen->statics_seen[index]++;
      break;
    case MARK_SINCE:
      seen->since = MAX (seen->since, mark->since);
      if (mark->since == 301)
        seen->has_capsule = TRUE;
      break;
    default:
      break;
    }
}

static void
scan_symbols (Elf *elf, Elf_Scn *scn, const GElf_Shdr *shdr, Marks *seen, gsize *budget)
{
  Strings names;
  gsize count = 0;
  Elf_Data *data = table_data (elf, scn, shdr, ELF_T_SYM, budget, &count);

  if (data == NULL || !strings_of (elf, shdr->sh_link, &names))
    return;
  for (gsize i = 0; i < count; i++)
    {
      GElf_Sym sym;
      char first;

      /* Undefined symbols are what a file imports: a program linked
       * against libpython is not the interpreter, libpython is. */
      if (gelf_getsym (data, (int) i, &sym) == NULL || sym.st_shndx == SHN_UNDEF ||
          sym.st_name >= names.size)
        continue;
      first = names.text[sym.st_name];
      if (first != '_' && first != 'P' && first != 'a' && first != 'm' && first != 'n')
        continue;
      for (guint m = 0; m < G_N_ELEMENTS (marks); m++)
        if (string_is (&names, sym.st_name, marks[m].name, TRUE))
          {
            note_mark (elf, &sym, &marks[m], GELF_ST_BIND (sym.st_info) == STB_LOCAL, seen);
            break;
          }
    }
}

/* 2.7 and 3.0-3.6 have no _PyRuntime: their thread state object and the
 * entry points every interpreter defines together are the mark. A file
 * that only imports them (any program linked against libpython) or
 * defines a few look-alike functions does not have them all. */
#define OLD_MARKS ((1u << MARK_THREAD_STATE) | (1u << MARK_INITIALIZE) | \
                   (1u << MARK_SAVE_THREAD) | (1u << MARK_INTERPRETER_HEAD))

static guint
version_from_marks (const Marks *seen, gboolean modern)
{
  if (seen->py_version != 0)
    return seen->py_version;
  if (modern)
    return MAX (seen->since, 307);
  if (seen->found & (1u << MARK_PYTHON2))
    return seen->has_capsule ? 207 : 0;
  /* 3.7 moved the thread state into _PyRuntime: without it, 3.6 at most. */
  return seen->since >= 300 && seen->since <= 306 ? seen->since : 0;
}

static guint64
first_load_vaddr (Elf *elf)
{
  size_t phnum;
  guint64 page_size = (guint64) sysconf (_SC_PAGESIZE);

  if (elf_getphdrnum (elf, &phnum) != 0)
    return 0;
  for (size_t i = 0; i < phnum; i++)
    {
      GElf_Phdr phdr;

      if (gelf_getphdr (elf, (int) i, &phdr) != NULL && phdr.p_type == PT_LOAD &&
          (phdr.p_offset & ~(page_size - 1)) == 0)
        return phdr.p_vaddr & ~(page_size - 1);
    }
  return 0;
}

static void
fill_info (Elf *elf, const Marks *seen, gboolean has_runtime_section, PymemdElfInfo *info)
{
  gboolean modern = has_runtime_section || (seen->found & (1u << MARK_RUNTIME));

  info->is_interpreter = modern || (seen->found & OLD_MARKS) == OLD_MARKS;
  if (!info->is_interpreter)
    return;
  info->python_version = version_from_marks (seen, modern);
  info->load_vaddr = first_load_vaddr (elf);
  info->runtime = seen->runtime;
  /* Two statics of one name (a program linking other code with its own
   * "arenas") leave us not knowing which is obmalloc's. */
  if (seen->statics_seen[0] == 1 && seen->statics_seen[1] == 1)
    {
      info->arenas = seen->statics[0];
      info->maxarenas = seen->statics[1];
      info->narenas = seen->statics_seen[2] == 1 ? seen->statics[2] : 0;
    }
}

/* Reads the dynamic section SCN: whether it names a libpython among the
 * libraries the loader must map, and whether the file is the loader. */
static void
read_dynamic (Elf *elf, Elf_Scn *scn, const GElf_Shdr *shdr, gsize *budget, gboolean *links_libpython,
              gboolean *is_loader)
{
  static const char *const loaders[] = { "ld-linux", "ld64.so", "ld.so", "ld-musl" };
  Strings names;
  gsize n = 0;
  Elf_Data *data = table_data (elf, scn, shdr, ELF_T_DYN, budget, &n);

  if (data == NULL || !strings_of (elf, shdr->sh_link, &names))
    return;
  for (gsize i = 0; i < n; i++)
    {
      GElf_Dyn dyn;

      if (gelf_getdyn (data, (int) i, &dyn) == NULL || dyn.d_tag == DT_NULL)
        break;
      if (dyn.d_tag == DT_NEEDED && string_is (&names, dyn.d_un.d_val, "libpython", FALSE))
        *links_libpython = TRUE;
      else if (dyn.d_tag == DT_SONAME)
        for (guint l = 0; l < G_N_ELEMENTS (loaders); l++)
          if (string_is (&names, dyn.d_un.d_val, loaders[l], FALSE))
            *is_loader = TRUE;
    }
}

/* Whether libelf may read FD without costing more than the file itself:
 * if it is ELF, in this host's byte order (else every table is converted
 * into a copy; no process here runs such a file natively) and without
 * extended numbering (more than MAX_SECTIONS section or program headers,
 * which no interpreter needs). Checked before elf_begin (), which
 * allocates for every section header the file claims. */
static gboolean
header_bounded (int fd)
{
  union {
    unsigned char ident[EI_NIDENT];
    Elf64_Ehdr    e64;
    Elf32_Ehdr    e32;
  } h;
  ssize_t n = pread (fd, &h, sizeof h, 0);
  guint64 shoff;
  guint shnum, phnum, shstrndx;

  if (n < EI_NIDENT || memcmp (h.ident, ELFMAG, SELFMAG) != 0)
    return TRUE; /* not ELF: libelf says so */
  if (h.ident[EI_DATA] != (G_BYTE_ORDER == G_LITTLE_ENDIAN ? ELFDATA2LSB : ELFDATA2MSB))
    return FALSE;
  if (h.ident[EI_CLASS] == ELFCLASS64 && n >= (ssize_t) sizeof h.e64)
    {
      shoff = h.e64.e_shoff;
      shnum = h.e64.e_shnum;
      phnum = h.e64.e_phnum;
      shstrndx = h.e64.e_shstrndx;
    }
  else if (h.ident[EI_CLASS] == ELFCLASS32 && n >= (ssize_t) sizeof h.e32)
    {
      shoff = h.e32.e_shoff;
      shnum = h.e32.e_shnum;
      phnum = h.e32.e_phnum;
      shstrndx = h.e32.e_shstrndx;
    }
  else
    return TRUE; /* truncated or of no class: libelf refuses it */
  return phnum != PN_XNUM && !(shnum == 0 && shoff != 0) && shstrndx != SHN_XINDEX;
}

/* Whether FD is a regular file of reasonable size that libelf may read
 * (header_bounded ()); readies libelf (which refuses to work until told
 * its version; idempotent). */
static gboolean
readable_cheaply (int fd, GError **error)
{
  struct stat st;

  elf_version (EV_CURRENT);
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode) || (guint64) st.st_size > MAX_ELF_SIZE)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED, _("Not a regular file of reasonable size"));
      return FALSE;
    }
  if (!header_bounded (fd))
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE,
                   _("Not an ELF file of this host's byte order with at most %d sections"), (int) MAX_SECTIONS);
      return FALSE;
    }
  return TRUE;
}

gboolean
pymemd_elf_inspect_fd (int fd, PymemdElfInfo *info, GError **error)
{
  Elf *elf;
  Elf_Scn *scn = NULL;
  size_t shstrndx;
  Strings section_names;
  gsize budget = MAX_ENTRIES;
  Marks seen = { 0 };
  gboolean has_runtime_section = FALSE, links_libpython = FALSE, is_loader = FALSE;

  memset (info, 0, sizeof *info);
  if (!readable_cheaply (fd, error))
    return FALSE;
  elf = elf_begin (fd, ELF_C_READ_MMAP, NULL);
  if (elf == NULL || elf_kind (elf) != ELF_K_ELF || elf_getshdrstrndx (elf, &shstrndx) != 0)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE, _("Not an ELF file: %s"),
                   elf_errmsg (-1));
      if (elf != NULL)
        elf_end (elf);
      return FALSE;
    }
  (void) strings_of (elf, shstrndx, &section_names); /* none: no name matches */

  /* .dynsym is enough for dynamic builds; a static or stripped build may
   * only have the .PyRuntime section (3.11+) or a full .symtab. */
  while ((scn = elf_nextscn (elf, scn)) != NULL)
    {
      GElf_Shdr shdr;

      if (gelf_getshdr (scn, &shdr) == NULL)
        continue;
      if (string_is (&section_names, shdr.sh_name, ".PyRuntime", TRUE))
        has_runtime_section = TRUE;
      if (shdr.sh_type == SHT_DYNSYM || shdr.sh_type == SHT_SYMTAB)
        scan_symbols (elf, scn, &shdr, &seen, &budget);
      else if (shdr.sh_type == SHT_DYNAMIC)
        read_dynamic (elf, scn, &shdr, &budget, &links_libpython, &is_loader);
    }
  fill_info (elf, &seen, has_runtime_section, info);
  info->links_libpython = links_libpython;
  info->is_dynamic_loader = is_loader;
  elf_end (elf);
  return TRUE;
}

gboolean
pymemd_elf_cache_lookup (PymemdElfCache     *self,
                         const PymemdElfKey *key,
                         int                 dirfd,
                         const char         *path,
                         PymemdElfInfo      *info)
{
  PymemdElfInfo *cached = g_hash_table_lookup (self->entries, key);
  PymemdElfKey opened;
  struct stat st;
  int fd;

  if (cached != NULL)
    {
      *info = *cached;
      return TRUE;
    }

  memset (info, 0, sizeof *info);
  fd = openat (dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0)
    return FALSE; /* not cached: a later look may have the rights or the file */
  /* The path may name a newer file than the one mapped (an upgrade
   * replaced it, or rewrote it in place): never cache what we read under
   * the wrong key. */
  if (fstat (fd, &st) < 0)
    {
      close (fd);
      return FALSE;
    }
  pymemd_elf_key_from_stat (&opened, &st);
  if (!elf_key_equal (&opened, key))
    {
      close (fd);
      return FALSE;
    }
  pymemd_elf_inspect_fd (fd, info, NULL);
  close (fd);

  if (g_hash_table_size (self->entries) >= MAX_CACHE_ENTRIES)
    g_hash_table_remove_all (self->entries);
  g_hash_table_insert (self->entries, g_memdup2 (key, sizeof *key),
                       g_memdup2 (info, sizeof *info));
  return TRUE;
}

/* Opens FD for the injector's look-ups: a 64-bit ELF file of reasonable size. */
static Elf *
begin_elf64 (int fd, GError **error)
{
  Elf *elf;

  if (!readable_cheaply (fd, error))
    return NULL;
  elf = elf_begin (fd, ELF_C_READ_MMAP, NULL);
  if (elf == NULL || elf_kind (elf) != ELF_K_ELF || gelf_getclass (elf) != ELFCLASS64)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE, _("Not a 64-bit ELF file: %s"),
                   elf_errmsg (-1));
      if (elf != NULL)
        elf_end (elf);
      return NULL;
    }
  return elf;
}

static void
lookup_in_table (Elf *elf, GElf_Word table_type, const char *const *names, guint64 *values, gsize *budget)
{
  Elf_Scn *scn = NULL;

  while ((scn = elf_nextscn (elf, scn)) != NULL)
    {
      GElf_Shdr shdr;
      Elf_Data *data;
      Strings strings;
      gsize count = 0;

      if (gelf_getshdr (scn, &shdr) == NULL || shdr.sh_type != table_type ||
          (data = table_data (elf, scn, &shdr, ELF_T_SYM, budget, &count)) == NULL ||
          !strings_of (elf, shdr.sh_link, &strings))
        continue;
      for (gsize i = 0; i < count; i++)
        {
          GElf_Sym sym;

          /* Local symbols may share a name across files: only the one
           * global definition is unambiguous. */
          if (gelf_getsym (data, (int) i, &sym) == NULL || sym.st_shndx == SHN_UNDEF ||
              sym.st_value == 0 || GELF_ST_BIND (sym.st_info) == STB_LOCAL)
            continue;
          for (guint n = 0; names[n] != NULL; n++)
            if (values[n] == 0 && string_is (&strings, sym.st_name, names[n], TRUE))
              values[n] = sym.st_value;
        }
    }
}

gboolean
pymemd_elf_lookup_symbols (int fd, const char *const *names, guint64 *values, GError **error)
{
  Elf *elf = begin_elf64 (fd, error);
  gsize budget = MAX_ENTRIES;

  if (elf == NULL)
    return FALSE;
  for (guint n = 0; names[n] != NULL; n++)
    values[n] = 0;
  /* The exported table first: it is what the dynamic linker binds to;
   * .symtab (when not stripped) adds hidden and static builds' names. */
  lookup_in_table (elf, SHT_DYNSYM, names, values, &budget);
  lookup_in_table (elf, SHT_SYMTAB, names, values, &budget);
  elf_end (elf);
  return TRUE;
}

gboolean
pymemd_elf_find_section (int fd, const char *name, guint64 *address, GError **error)
{
  Elf *elf = begin_elf64 (fd, error);
  Elf_Scn *scn = NULL;
  size_t shstrndx;
  Strings section_names;

  if (elf == NULL)
    return FALSE;
  *address = 0;
  if (elf_getshdrstrndx (elf, &shstrndx) == 0 && strings_of (elf, shstrndx, &section_names))
    while ((scn = elf_nextscn (elf, scn)) != NULL)
      {
        GElf_Shdr shdr;

        if (gelf_getshdr (scn, &shdr) == NULL)
          continue;
        if (string_is (&section_names, shdr.sh_name, name, TRUE))
          {
            *address = shdr.sh_addr;
            break;
          }
      }
  elf_end (elf);
  return TRUE;
}

gboolean
pymemd_elf_load_bias (int          fd,
                      guint64      map_start,
                      guint64      map_offset,
                      guint64      page_size,
                      guint16     *machine,
                      guint64     *bias,
                      GError     **error)
{
  Elf *elf = begin_elf64 (fd, error);
  GElf_Ehdr ehdr;
  size_t phnum;
  gboolean found = FALSE;

  if (elf == NULL)
    return FALSE;
  g_return_val_if_fail (page_size > 0 && (page_size & (page_size - 1)) == 0, FALSE);
  if (gelf_getehdr (elf, &ehdr) == NULL || elf_getphdrnum (elf, &phnum) != 0)
    {
      g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE, _("ELF headers unreadable: %s"),
                   elf_errmsg (-1));
      elf_end (elf);
      return FALSE;
    }
  *machine = ehdr.e_machine;
  /* The loader maps each PT_LOAD from its page-aligned file offset to its
   * page-aligned address plus the bias (0 for ET_EXEC): the segment whose
   * offset rounds down to MAP_OFFSET tells the bias of this mapping. */
  for (size_t i = 0; i < phnum && !found; i++)
    {
      GElf_Phdr phdr;

      if (gelf_getphdr (elf, (int) i, &phdr) == NULL || phdr.p_type != PT_LOAD ||
          (phdr.p_offset & (page_size - 1)) != (phdr.p_vaddr & (page_size - 1)))
        continue;
      if ((phdr.p_offset & ~(page_size - 1)) == map_offset)
        {
          *bias = map_start - (phdr.p_vaddr & ~(page_size - 1));
          found = TRUE;
        }
    }
  elf_end (elf);
  if (!found)
    g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PARSE,
                 _("No loadable segment of the file starts at offset %#llx"),
                 (unsigned long long) map_offset);
  return found;
}
