/* Counts every resident page of every Python process by its physical frame, so that sharing is known, not estimated. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "pymemd-error.h"
#include "pymemd-exact.h"
#include "pymemd-smaps.h"

/* pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst) */
#define PM_PFN_MASK  ((G_GUINT64_CONSTANT (1) << 55) - 1)
#define PM_EXCLUSIVE (G_GUINT64_CONSTANT (1) << 56) /* mapped exactly once */
#define PM_FILE      (G_GUINT64_CONSTANT (1) << 61) /* file page or shared anonymous */
#define PM_SWAPPED   (G_GUINT64_CONSTANT (1) << 62)
#define PM_PRESENT   (G_GUINT64_CONSTANT (1) << 63)
/* kpageflags bits */
#define KPF_ANON      12
#define KPF_NOPAGE    20
#define KPF_ZERO_PAGE 24

/* A page seen in a process is one 64-bit key: PFN above, slot below, so
 * that one sort groups pages by frame and, within a frame, by process. */
#define SLOT_BITS 20
#define SLOT_MASK ((G_GUINT64_CONSTANT (1) << SLOT_BITS) - 1)
#define MAX_PFN   (G_MAXUINT64 >> SLOT_BITS)

/* pagemap is read 8192 entries (32 MiB of address space) per pread: few
 * syscalls, and a bounded time holding the target's mmap lock each. */
#define PAGEMAP_CHUNK 8192
/* kpagecount/kpageflags are read in windows of nearby frames. The kernel
 * pays per frame read, needed or not: tests/bench measured a gap of 16
 * frames as the break-even between reading through and a new pread. */
#define KPAGE_WINDOW  32768
#define KPAGE_MAX_GAP 16

/* The kernel's user address space ends below this on x86-64 and arm64;
 * [vsyscall] lies above and has no pagemap. */
#define USER_SPACE_END (G_GUINT64_CONSTANT (1) << 56)

struct _PymemdExact
{
  GObject  parent_instance;
  int      kpagecount_fd;
  int      kpageflags_fd;
  gsize    page_size;
  guint    n_slots;
  GArray  *keys;     /* guint64: pfn << SLOT_BITS | slot */
  GArray  *swapped;  /* guint64 per slot: swapped pages */
  GArray  *exclusive;       /* guint64 per slot: pages mapped once, by it */
  GArray  *exclusive_anon;  /* guint64 per slot: the anonymous ones */
  guint64 *pagemap_buf;
  guint64 *count_buf;
  guint64 *flags_buf;
};

G_DEFINE_TYPE (PymemdExact, pymemd_exact, G_TYPE_OBJECT)

static const char *const bucket_names[PYMEMD_N_SHARING_BUCKETS] = {
  "1", "2-4", "5-16", "17+",
};

const char *
pymemd_sharing_bucket_name (PymemdSharingBucket bucket)
{
  g_return_val_if_fail (bucket < PYMEMD_N_SHARING_BUCKETS, NULL);
  return bucket_names[bucket];
}

static void
pymemd_exact_finalize (GObject *object)
{
  PymemdExact *self = PYMEMD_EXACT (object);

  if (self->kpagecount_fd >= 0)
    close (self->kpagecount_fd);
  if (self->kpageflags_fd >= 0)
    close (self->kpageflags_fd);
  g_array_unref (self->keys);
  g_array_unref (self->swapped);
  g_array_unref (self->exclusive);
  g_array_unref (self->exclusive_anon);
  g_free (self->pagemap_buf);
  g_free (self->count_buf);
  g_free (self->flags_buf);
  G_OBJECT_CLASS (pymemd_exact_parent_class)->finalize (object);
}

static void
pymemd_exact_class_init (PymemdExactClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pymemd_exact_finalize;
}

static void
pymemd_exact_init (PymemdExact *self)
{
  self->kpagecount_fd = -1;
  self->kpageflags_fd = -1;
  self->keys = g_array_new (FALSE, FALSE, sizeof (guint64));
  self->swapped = g_array_new (FALSE, TRUE, sizeof (guint64));
  self->exclusive = g_array_new (FALSE, TRUE, sizeof (guint64));
  self->exclusive_anon = g_array_new (FALSE, TRUE, sizeof (guint64));
}

PymemdExact *
pymemd_exact_new (PymemdProcfs *procfs, GError **error)
{
  g_autoptr(PymemdExact) self = g_object_new (PYMEMD_TYPE_EXACT, NULL);
  int root_fd = pymemd_procfs_get_root_fd (procfs);

  self->page_size = pymemd_procfs_get_page_size (procfs);
  self->kpagecount_fd = openat (root_fd, "kpagecount", O_RDONLY | O_CLOEXEC);
  if (self->kpagecount_fd >= 0)
    self->kpageflags_fd = openat (root_fd, "kpageflags", O_RDONLY | O_CLOEXEC);
  if (self->kpagecount_fd < 0 || self->kpageflags_fd < 0)
    {
      int errsv = errno;
      g_set_error (error, PYMEMD_ERROR, pymemd_error_from_errno (errsv),
                   _("Cannot read page frame counts (%s/kpagecount, kpageflags): %s; "
                     "exact accounting needs root (CAP_SYS_ADMIN)"),
                   pymemd_procfs_get_root (procfs), g_strerror (errsv));
      return NULL;
    }
  self->pagemap_buf = g_new (guint64, PAGEMAP_CHUNK);
  self->count_buf = g_new (guint64, KPAGE_WINDOW);
  self->flags_buf = g_new (guint64, KPAGE_WINDOW);
  return g_steal_pointer (&self);
}

void
pymemd_exact_begin (PymemdExact *self, guint n_slots)
{
  g_return_if_fail (n_slots <= SLOT_MASK + 1);

  self->n_slots = n_slots;
  g_array_set_size (self->keys, 0);
  for (guint i = 0; i < 3; i++)
    {
      GArray *counts = i == 0 ? self->swapped : i == 1 ? self->exclusive : self->exclusive_anon;
      g_array_set_size (counts, 0);
      g_array_set_size (counts, n_slots);
    }
}

static gboolean
pread_full (int fd, void *buf, gsize size, guint64 offset, gsize *got)
{
  gsize done = 0;

  while (done < size)
    {
      gssize n = pread (fd, (char *) buf + done, size - done, (off_t) (offset + done));
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return FALSE;
      if (n == 0)
        break;
      done += (gsize) n;
    }
  *got = done;
  return TRUE;
}

static gboolean
add_range (PymemdExact *self, guint slot, int pagemap_fd, guint64 start, guint64 end,
           GError **error)
{
  guint64 first = start / self->page_size;
  guint64 last = end / self->page_size;
  guint64 swapped = 0, exclusive = 0, exclusive_anon = 0;

  for (guint64 page = first; page < last; page += PAGEMAP_CHUNK)
    {
      gsize want = (gsize) MIN ((guint64) PAGEMAP_CHUNK, last - page) * sizeof (guint64);
      gsize got;

      if (!pread_full (pagemap_fd, self->pagemap_buf, want, page * sizeof (guint64), &got))
        {
          int errsv = errno;
          g_set_error (error, PYMEMD_ERROR, pymemd_error_from_errno (errsv),
                       "pagemap: %s", g_strerror (errsv));
          return FALSE;
        }
      for (gsize i = 0; i < got / sizeof (guint64); i++)
        {
          guint64 entry = self->pagemap_buf[i];
          guint64 pfn = entry & PM_PFN_MASK;

          if (entry & PM_SWAPPED)
            swapped++;
          if (!(entry & PM_PRESENT))
            continue;
          if (pfn == 0)
            {
              /* The kernel zeroes PFNs for readers without CAP_SYS_ADMIN. */
              g_set_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ACCESS_DENIED,
                           _("pagemap hides page frame numbers: exact accounting needs "
                             "CAP_SYS_ADMIN"));
              return FALSE;
            }
          /* A page the kernel says is mapped once needs no frame count
           * and cannot meet another process: account it here, and keep
           * the sort and kpagecount for pages that may be shared. */
          if (entry & PM_EXCLUSIVE)
            {
              exclusive++;
              if (!(entry & PM_FILE))
                exclusive_anon++;
              continue;
            }
          if (pfn > MAX_PFN)
            continue;
          pfn = pfn << SLOT_BITS | slot;
          g_array_append_val (self->keys, pfn);
        }
      if (got < want)
        break; /* the mapping went away under us: take what was there */
    }
  g_array_index (self->swapped, guint64, slot) += swapped;
  g_array_index (self->exclusive, guint64, slot) += exclusive;
  g_array_index (self->exclusive_anon, guint64, slot) += exclusive_anon;
  return TRUE;
}

static gboolean
holds_pages (const PymemdMapping *m)
{
  return m->end <= USER_SPACE_END &&
         (m->counters.value[PYMEMD_FIELD_RSS] != 0 || m->counters.value[PYMEMD_FIELD_SWAP] != 0);
}

gboolean
pymemd_exact_add_process (PymemdExact *self,
                          guint        slot,
                          int          pid_dir_fd,
                          GArray      *mappings,
                          GError     **error)
{
  guint first_key = self->keys->len;
  guint64 before[3];
  int fd;

  g_return_val_if_fail (slot < self->n_slots, FALSE);

  before[0] = g_array_index (self->swapped, guint64, slot);
  before[1] = g_array_index (self->exclusive, guint64, slot);
  before[2] = g_array_index (self->exclusive_anon, guint64, slot);
  fd = pymemd_procfs_open_at (pid_dir_fd, "pagemap", error);
  if (fd < 0)
    return FALSE;

  for (guint i = 0; i < mappings->len; i++)
    {
      const PymemdMapping *m = &g_array_index (mappings, PymemdMapping, i);
      guint64 end = m->end;

      /* smaps said which mappings hold pages: skip the rest unread. */
      if (!holds_pages (m))
        continue;
      /* Neighbouring mappings (a library's segments) are one pread. */
      while (i + 1 < mappings->len &&
             g_array_index (mappings, PymemdMapping, i + 1).start == end &&
             holds_pages (&g_array_index (mappings, PymemdMapping, i + 1)))
        end = g_array_index (mappings, PymemdMapping, ++i).end;
      if (!add_range (self, slot, fd, m->start, end, error))
        {
          close (fd);
          g_array_set_size (self->keys, first_key);
          g_array_index (self->swapped, guint64, slot) = before[0];
          g_array_index (self->exclusive, guint64, slot) = before[1];
          g_array_index (self->exclusive_anon, guint64, slot) = before[2];
          return FALSE;
        }
    }
  close (fd);
  return TRUE;
}

/* LSD radix sort of 64-bit keys, 16 bits a pass, skipping digits that are
 * the same in every key: a few linear passes where qsort would be n log n. */
static void
radix_sort (guint64 *keys, gsize n)
{
  g_autofree guint64 *tmp = NULL;
  guint64 all_or = 0, all_and = G_MAXUINT64;
  g_autofree gsize *count = NULL;
  guint64 *src = keys, *dst;

  if (n < 2)
    return;
  for (gsize i = 0; i < n; i++)
    {
      all_or |= keys[i];
      all_and &= keys[i];
    }
  tmp = g_new (guint64, n);
  count = g_new (gsize, 65536);
  dst = tmp;
  for (guint shift = 0; shift < 64; shift += 16)
    {
      gsize sum = 0;

      if (((all_or ^ all_and) >> shift & 0xffff) == 0)
        continue;
      memset (count, 0, 65536 * sizeof (gsize));
      for (gsize i = 0; i < n; i++)
        count[src[i] >> shift & 0xffff]++;
      for (gsize d = 0; d < 65536; d++)
        {
          gsize c = count[d];
          count[d] = sum;
          sum += c;
        }
      for (gsize i = 0; i < n; i++)
        dst[count[src[i] >> shift & 0xffff]++] = src[i];
      {
        guint64 *swap = src;
        src = dst;
        dst = swap;
      }
    }
  if (src != keys)
    memcpy (keys, src, n * sizeof (guint64));
}

static PymemdSharingBucket
bucket_for (guint64 count)
{
  if (count <= 1)
    return PYMEMD_SHARING_1;
  if (count <= 4)
    return PYMEMD_SHARING_2_TO_4;
  if (count <= 16)
    return PYMEMD_SHARING_5_TO_16;
  return PYMEMD_SHARING_MORE;
}

/* Accounts the keys [begin, end) that all name one frame. */
static void
account_frame (PymemdExact        *self,
               const guint64      *keys,
               gsize               begin,
               gsize               end,
               guint64             map_count,
               guint64             flags,
               PymemdExactFigures *figures,
               PymemdPythonSet    *set)
{
  guint64 seen = end - begin;
  guint64 page = self->page_size;
  gboolean one_process;

  if (flags & (G_GUINT64_CONSTANT (1) << KPF_ZERO_PAGE | G_GUINT64_CONSTANT (1) << KPF_NOPAGE))
    return; /* the shared zero page costs nothing; smaps skips it too */
  /* The frame may have gained mappers since pagemap was read: never
   * believe a count below what we saw ourselves. */
  if (map_count < seen)
    map_count = seen;
  one_process = (keys[begin] & SLOT_MASK) == (keys[end - 1] & SLOT_MASK);

  for (gsize i = begin; i < end;)
    {
      guint slot = (guint) (keys[i] & SLOT_MASK);
      gsize j = i;
      PymemdExactFigures *f = &figures[slot];

      while (j < end && (keys[j] & SLOT_MASK) == slot)
        j++;
      f->resident += page;
      f->pss += page * (j - i) / map_count;
      f->sharing[bucket_for (map_count)] += page;
      if (one_process && seen == map_count)
        f->uss += page;
      i = j;
    }

  if (seen == map_count)
    {
      set->freed_if_all_exit += page;
      if (flags & (G_GUINT64_CONSTANT (1) << KPF_ANON))
        set->freed_if_all_exit_anonymous += page;
      if (!one_process)
        set->shared_only_python += page;
    }
}

static gboolean
read_window (PymemdExact *self, guint64 first_pfn, gsize n, GError **error)
{
  gsize got_count, got_flags;

  if (!pread_full (self->kpagecount_fd, self->count_buf, n * sizeof (guint64),
                   first_pfn * sizeof (guint64), &got_count) ||
      !pread_full (self->kpageflags_fd, self->flags_buf, n * sizeof (guint64),
                   first_pfn * sizeof (guint64), &got_flags))
    {
      int errsv = errno;
      g_set_error (error, PYMEMD_ERROR, pymemd_error_from_errno (errsv),
                   "kpagecount/kpageflags: %s", g_strerror (errsv));
      return FALSE;
    }
  /* Frames past the end (hot-unplugged?) read as unmapped. */
  for (gsize i = got_count / sizeof (guint64); i < n; i++)
    self->count_buf[i] = 0;
  for (gsize i = got_flags / sizeof (guint64); i < n; i++)
    self->flags_buf[i] = G_GUINT64_CONSTANT (1) << KPF_NOPAGE;
  return TRUE;
}

gboolean
pymemd_exact_finish (PymemdExact        *self,
                     PymemdExactFigures *figures,
                     PymemdPythonSet    *set,
                     GError            **error)
{
  guint64 *keys = (guint64 *) (void *) self->keys->data;
  gsize n = self->keys->len;
  gsize i = 0;

  memset (figures, 0, self->n_slots * sizeof *figures);
  memset (set, 0, sizeof *set);
  radix_sort (keys, n);

  while (i < n)
    {
      guint64 first_pfn = keys[i] >> SLOT_BITS;
      guint64 last_pfn = first_pfn;
      gsize window_end = i;

      /* Grow the window over nearby frames. */
      while (window_end < n)
        {
          guint64 pfn = keys[window_end] >> SLOT_BITS;
          if (pfn - first_pfn >= KPAGE_WINDOW || pfn - last_pfn > KPAGE_MAX_GAP)
            break;
          last_pfn = pfn;
          window_end++;
        }
      if (!read_window (self, first_pfn, (gsize) (last_pfn - first_pfn + 1), error))
        return FALSE;

      while (i < window_end)
        {
          guint64 pfn = keys[i] >> SLOT_BITS;
          gsize j = i + 1;

          while (j < window_end && keys[j] >> SLOT_BITS == pfn)
            j++;
          account_frame (self, keys, i, j, self->count_buf[pfn - first_pfn],
                         self->flags_buf[pfn - first_pfn], figures, set);
          i = j;
        }
    }

  for (guint slot = 0; slot < self->n_slots; slot++)
    {
      PymemdExactFigures *f = &figures[slot];
      guint64 exclusive = g_array_index (self->exclusive, guint64, slot) * self->page_size;

      f->swapped = g_array_index (self->swapped, guint64, slot) * self->page_size;
      f->resident += exclusive;
      f->uss += exclusive;
      f->pss += exclusive;
      f->sharing[PYMEMD_SHARING_1] += exclusive;
      set->freed_if_all_exit += exclusive;
      set->freed_if_all_exit_anonymous +=
        g_array_index (self->exclusive_anon, guint64, slot) * self->page_size;
    }
  /* The keys can be large: do not keep their memory between passes. */
  g_array_unref (self->keys);
  self->keys = g_array_new (FALSE, FALSE, sizeof (guint64));
  return TRUE;
}
