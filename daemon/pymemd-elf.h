/* Recognises CPython inside ELF files (the _PyRuntime symbol or .PyRuntime section), cached per device and inode. */
#pragma once

#include <glib-object.h>
#include <sys/types.h>

G_BEGIN_DECLS

typedef struct {
  gboolean has_runtime;     /* exports _PyRuntime or has a .PyRuntime section */
  guint    python_version;  /* major * 100 + minor from Py_Version, 0 if unknown */
} PymemdElfInfo;

#define PYMEMD_TYPE_ELF_CACHE (pymemd_elf_cache_get_type ())
G_DECLARE_FINAL_TYPE (PymemdElfCache, pymemd_elf_cache, PYMEMD, ELF_CACHE, GObject)

PymemdElfCache *pymemd_elf_cache_new (void);

/* Looks (DEV, INODE) up; on a miss, inspects the file PATH (opened relative
 * to DIRFD), which must be that same file. A file that cannot be read or is
 * not ELF is remembered as "no runtime". */
gboolean pymemd_elf_cache_lookup (PymemdElfCache *self,
                                  dev_t           dev,
                                  guint64         inode,
                                  int             dirfd,
                                  const char     *path,
                                  PymemdElfInfo  *info);
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
