/* Recognises CPython inside ELF files by the symbols and sections only an interpreter has, cached per file identity. */
#pragma once

#include <glib-object.h>
#include <sys/stat.h>
#include <sys/types.h>

G_BEGIN_DECLS

typedef struct {
  /* Holds an interpreter: defines _PyRuntime or has a .PyRuntime section
   * (3.7+), or, for 2.7 and 3.0-3.6, defines the thread state object
   * _PyThreadState_Current with Py_InitializeEx, PyEval_SaveThread and
   * PyInterpreterState_Head. */
  gboolean is_interpreter;
  /* major * 100 + minor from Py_Version (3.11+) or else from the API the
   * file defines (each minor version added functions it exports); 0 if
   * unknown. */
  guint    python_version;
  /* Page-aligned p_vaddr of the PT_LOAD at file offset 0: where the
   * process maps offset 0, minus this, is the load bias. */
  guint64  load_vaddr;
  /* Addresses in the file (add the load bias): _PyRuntime, and the arena
   * table variables of obmalloc.c (arenas, maxarenas,
   * narenas_currently_allocated; local symbols of .symtab, so only in
   * unstripped 2.7-3.11 builds). 0 where the file has none. */
  guint64  runtime;
  guint64  arenas;
  guint64  maxarenas;
  guint64  narenas;
  /* Names a libpython*.so among its DT_NEEDED: a program that runs the
   * interpreter from libpython, which its dynamic loader maps only after
   * the exec (pyenv's --enable-shared builds, embedding programs). */
  gboolean links_libpython;
  /* Is the dynamic loader itself (its DT_SONAME is ld-linux*, ld64.so*,
   * ld.so* or ld-musl*): run as a program, it maps the program it is
   * given only after the exec (a python started through the loader). */
  gboolean is_dynamic_loader;
} PymemdElfInfo;

/* What identifies a file's contents for the cache: a file rewritten in
 * place keeps its device and inode but not its size, mtime and ctime, and
 * an inode number reused after a deletion comes with a new ctime. */
typedef struct {
  guint64 dev;
  guint64 inode;
  guint64 size;
  gint64  mtime_ns;
  gint64  ctime_ns;
} PymemdElfKey;

void     pymemd_elf_key_from_stat (PymemdElfKey      *key,
                                   const struct stat *st);

#define PYMEMD_TYPE_ELF_CACHE (pymemd_elf_cache_get_type ())
G_DECLARE_FINAL_TYPE (PymemdElfCache, pymemd_elf_cache, PYMEMD, ELF_CACHE, GObject)

PymemdElfCache *pymemd_elf_cache_new (void);

/* Looks KEY up; on a miss, inspects the file PATH (opened relative to
 * DIRFD), which must still be that same file (same KEY). A file that is
 * not ELF is remembered as no interpreter. FALSE (nothing cached) when
 * PATH cannot be opened or is no longer the file KEY names. */
gboolean pymemd_elf_cache_lookup (PymemdElfCache     *self,
                                  const PymemdElfKey *key,
                                  int                 dirfd,
                                  const char         *path,
                                  PymemdElfInfo      *info);
guint    pymemd_elf_cache_get_size (PymemdElfCache *self);

/* Inspects one open ELF file; FALSE with ERROR when it is not readable ELF. */
gboolean pymemd_elf_inspect_fd (int            fd,
                                PymemdElfInfo *info,
                                GError       **error);

/* Symbol values (st_value) of the NULL-terminated NAMES, defined in .dynsym
 * or else .symtab of the ELF file FD; 0 for a name the file does not
 * define. FALSE with ERROR when FD is not readable ELF. */
gboolean pymemd_elf_lookup_symbols (int                fd,
                                    const char *const *names,
                                    guint64           *values,
                                    GError           **error);
/* The address (sh_addr) of the section NAME of FD, 0 without one. */
gboolean pymemd_elf_find_section (int          fd,
                                  const char  *name,
                                  guint64     *address,
                                  GError     **error);
/* What must be added to the file's virtual addresses to get the addresses
 * of a process that maps FD's page at file offset MAP_OFFSET at MAP_START:
 * from the PT_LOAD segment holding that offset, so that it is 0 for a
 * fixed-address executable and the load address of a PIE or shared
 * library. MACHINE gets e_machine; only ELFCLASS64 files are accepted. */
gboolean pymemd_elf_load_bias (int          fd,
                               guint64      map_start,
                               guint64      map_offset,
                               guint64      page_size,
                               guint16     *machine,
                               guint64     *bias,
                               GError     **error);

/* "3.11" style version from a file name such as python3.11 or libpython3.6m.so.1.0. */
guint    pymemd_python_version_from_name (const char *basename);

G_END_DECLS
