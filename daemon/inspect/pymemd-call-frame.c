/* Register arithmetic for calls made in a stopped thread, for both architectures whatever the host: what the injector sets, checks and restores. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "pymemd-call-frame.h"

/* The kernel's own restart codes (include/linux/errno.h), never seen by
 * programs but left in the return register at a ptrace stop. */
#define KERNEL_ERESTART_RESTARTBLOCK 516

#define X86_64_EFLAGS_DF   (G_GUINT64_CONSTANT (1) << 10)
#define AARCH64_PSTATE_BTYPE (G_GUINT64_CONSTANT (3) << 10)
#define AARCH64_SVC_0      0xd4000001u

/* restart_syscall is not parked by its number alone: it may resume a
 * timed futex wait (the GIL's, a lock's) as well as a poll or a relative
 * sleep. A poll with a timeout that an attach interrupted is one until it
 * returns; the thread's wchan tells which (pymemd-inject-target.c). */
typedef struct {
  gint64      nr;
  const char *name;
  gboolean    parked;
} SyscallEntry;

static const SyscallEntry x86_64_syscalls[] = {
  { 0, "read", FALSE },
  { 1, "write", FALSE },
  { 7, "poll", TRUE },
  { 9, "mmap", FALSE },
  { 11, "munmap", FALSE },
  { 23, "select", TRUE },
  { 35, "nanosleep", TRUE },
  { 43, "accept", FALSE },
  { 45, "recvfrom", FALSE },
  { 61, "wait4", FALSE },
  { 202, "futex", FALSE },
  { 219, "restart_syscall", FALSE },
  { 230, "clock_nanosleep", TRUE },
  { 232, "epoll_wait", TRUE },
  { 247, "waitid", FALSE },
  { 270, "pselect6", TRUE },
  { 271, "ppoll", TRUE },
  { 281, "epoll_pwait", TRUE },
  { 288, "accept4", FALSE },
  { 441, "epoll_pwait2", TRUE },
};

/* aarch64 has only the generic table: no poll, select, epoll_wait or nanosleep's old forms. */
static const SyscallEntry aarch64_syscalls[] = {
  { 22, "epoll_pwait", TRUE },
  { 63, "read", FALSE },
  { 64, "write", FALSE },
  { 72, "pselect6", TRUE },
  { 73, "ppoll", TRUE },
  { 98, "futex", FALSE },
  { 101, "nanosleep", TRUE },
  { 115, "clock_nanosleep", TRUE },
  { 128, "restart_syscall", FALSE },
  { 202, "accept", FALSE },
  { 207, "recvfrom", FALSE },
  { 215, "munmap", FALSE },
  { 222, "mmap", FALSE },
  { 242, "accept4", FALSE },
  { 260, "wait4", FALSE },
  { 95, "waitid", FALSE },
  { 441, "epoll_pwait2", TRUE },
};

static const SyscallEntry *
find_syscall (PymemdArch arch, gint64 nr)
{
  const SyscallEntry *table = arch == PYMEMD_ARCH_X86_64 ? x86_64_syscalls : aarch64_syscalls;
  gsize n = arch == PYMEMD_ARCH_X86_64 ? G_N_ELEMENTS (x86_64_syscalls)
                                       : G_N_ELEMENTS (aarch64_syscalls);

  for (gsize i = 0; i < n; i++)
    if (table[i].nr == nr)
      return &table[i];
  return NULL;
}

gboolean
pymemd_call_frame_is_restart_syscall (PymemdArch arch, gint64 nr)
{
  return nr == (arch == PYMEMD_ARCH_X86_64 ? 219 : 128);
}

gboolean
pymemd_call_frame_is_parked_syscall (PymemdArch arch, gint64 nr)
{
  const SyscallEntry *entry = find_syscall (arch, nr);

  return entry != NULL && entry->parked;
}

char *
pymemd_call_frame_syscall_name (PymemdArch arch, gint64 nr)
{
  const SyscallEntry *entry = find_syscall (arch, nr);

  if (entry != NULL)
    return g_strdup (entry->name);
  return g_strdup_printf ("syscall %" G_GINT64_FORMAT, nr);
}

gint64
pymemd_call_frame_syscall_number (PymemdArch arch, PymemdSyscall syscall)
{
  switch (syscall)
    {
    case PYMEMD_SYSCALL_MMAP:
      return arch == PYMEMD_ARCH_X86_64 ? 9 : 222;
    case PYMEMD_SYSCALL_MUNMAP:
      return arch == PYMEMD_ARCH_X86_64 ? 11 : 215;
    case PYMEMD_SYSCALL_FUTEX:
      return arch == PYMEMD_ARCH_X86_64 ? 202 : 98;
    default:
      g_return_val_if_reached (-1);
    }
}

guint64
pymemd_call_frame_get_pc (const PymemdRegs *regs)
{
  return regs->arch == PYMEMD_ARCH_X86_64 ? regs->x86_64.rip : regs->aarch64.pc;
}

guint64
pymemd_call_frame_get_sp (const PymemdRegs *regs)
{
  return regs->arch == PYMEMD_ARCH_X86_64 ? regs->x86_64.rsp : regs->aarch64.sp;
}

gint64
pymemd_call_frame_stopped_syscall (const PymemdRegs *regs,
                                   guint32           insn_at_pc,
                                   guint32           insn_before_pc)
{
  if (regs->arch == PYMEMD_ARCH_X86_64)
    return (gint64) regs->x86_64.orig_rax;
  if (insn_at_pc == AARCH64_SVC_0 || insn_before_pc == AARCH64_SVC_0)
    return (gint64) regs->aarch64.regs[8];
  return -1;
}

guint64
pymemd_call_frame_stack_top (const PymemdRegs *regs)
{
  return pymemd_call_frame_get_sp (regs) - PYMEMD_CALL_FRAME_RED_ZONE;
}

guint64
pymemd_call_frame_reserve (guint64 below, gsize len)
{
  return (below - len) & ~G_GUINT64_CONSTANT (15);
}

void
pymemd_call_frame_setup_call (const PymemdRegs *saved,
                              guint64           frame_top,
                              guint64           function,
                              const guint64    *args,
                              guint             n_args,
                              PymemdCallFrame  *frame)
{
  guint64 aligned = frame_top & ~G_GUINT64_CONSTANT (15);
  guint64 values[PYMEMD_CALL_FRAME_MAX_ARGS] = { 0 };

  g_return_if_fail (n_args <= PYMEMD_CALL_FRAME_MAX_ARGS);
  if (n_args > 0)
    memcpy (values, args, n_args * sizeof *args);
  memset (frame, 0, sizeof *frame);
  frame->regs = *saved;

  if (saved->arch == PYMEMD_ARCH_X86_64)
    {
      PymemdRegsX86_64 *r = &frame->regs.x86_64;

      /* As if `call` had run at a 16-byte aligned site: the return
       * address sits at rsp, so rsp + 8 is aligned on entry. */
      r->rsp = aligned - 8;
      r->rip = function;
      r->rdi = values[0];
      r->rsi = values[1];
      r->rdx = values[2];
      r->rcx = values[3];
      r->r8 = values[4];
      r->r9 = values[5];
      r->rax = 0; /* no vector registers for a variadic callee */
      r->orig_rax = G_MAXUINT64; /* -1: nothing for the kernel to restart */
      r->eflags &= ~X86_64_EFLAGS_DF;
      frame->stack_write_address = r->rsp;
      frame->stack_write_len = 8; /* the return address: 0 */
    }
  else
    {
      PymemdRegsAarch64 *r = &frame->regs.aarch64;

      r->sp = aligned;
      r->pc = function;
      for (guint i = 0; i < PYMEMD_CALL_FRAME_MAX_ARGS; i++)
        r->regs[i] = values[i];
      r->regs[30] = 0; /* the link register: return to 0 */
      r->pstate &= ~AARCH64_PSTATE_BTYPE;
      frame->regs.aarch64_syscallno = -1;
      frame->stack_write_len = 0;
    }
}

gboolean
pymemd_call_frame_call_returned (const PymemdRegs *regs, guint64 fault_address, guint64 *result)
{
  if (fault_address != 0 || pymemd_call_frame_get_pc (regs) != 0)
    return FALSE;
  *result = regs->arch == PYMEMD_ARCH_X86_64 ? regs->x86_64.rax : regs->aarch64.regs[0];
  return TRUE;
}

void
pymemd_call_frame_setup_syscall (const PymemdRegs *saved,
                                 guint64           insn_address,
                                 gint64            nr,
                                 const guint64    *args,
                                 PymemdRegs       *regs)
{
  *regs = *saved;
  if (saved->arch == PYMEMD_ARCH_X86_64)
    {
      PymemdRegsX86_64 *r = &regs->x86_64;

      r->rip = insn_address;
      r->rax = (guint64) nr;
      r->orig_rax = G_MAXUINT64;
      r->rdi = args[0];
      r->rsi = args[1];
      r->rdx = args[2];
      r->r10 = args[3]; /* the kernel's fourth argument: rcx is clobbered by `syscall` */
      r->r8 = args[4];
      r->r9 = args[5];
    }
  else
    {
      PymemdRegsAarch64 *r = &regs->aarch64;

      r->pc = insn_address;
      r->regs[8] = (guint64) nr;
      for (guint i = 0; i < 6; i++)
        r->regs[i] = args[i];
      r->pstate &= ~AARCH64_PSTATE_BTYPE;
      regs->aarch64_syscallno = -1;
    }
}

gboolean
pymemd_call_frame_syscall_done (const PymemdRegs *regs, guint64 insn_address, gint64 *result)
{
  if (regs->arch == PYMEMD_ARCH_X86_64)
    {
      if (regs->x86_64.rip != insn_address + 2)
        return FALSE;
      *result = (gint64) regs->x86_64.rax;
    }
  else
    {
      if (regs->aarch64.pc != insn_address + 4)
        return FALSE;
      *result = (gint64) regs->aarch64.regs[0];
    }
  return TRUE;
}

gssize
pymemd_call_frame_find_syscall_insn (PymemdArch arch, const guint8 *code, gsize len)
{
  if (arch == PYMEMD_ARCH_X86_64)
    {
      /* Any 0f 05 will do, even inside a longer instruction: decoding
       * starts wherever the pc is, and we step exactly one instruction. */
      for (gsize i = 0; i + 1 < len; i++)
        if (code[i] == 0x0f && code[i + 1] == 0x05)
          return (gssize) i;
    }
  else
    {
      for (gsize i = 0; i + 3 < len; i += 4)
        {
          guint32 insn = (guint32) code[i] | (guint32) code[i + 1] << 8 |
                         (guint32) code[i + 2] << 16 | (guint32) code[i + 3] << 24;
          if (insn == AARCH64_SVC_0)
            return (gssize) i;
        }
    }
  return -1;
}

void
pymemd_call_frame_restore (const PymemdRegs *saved, gboolean signals_seen, PymemdRegs *regs)
{
  *regs = *saved;
  /* x86-64 restarts after the stop (arch_do_signal_or_restart, from
   * orig_rax and rax), so the restored registers restart the call as the
   * kernel would have. aarch64 rewinds onto `svc` with the original x0
   * before the stop: its saved registers run the call again from the
   * start (a relative nanosleep sleeps its whole time again). */
  if (saved->arch == PYMEMD_ARCH_X86_64 && signals_seen &&
      (gint64) saved->x86_64.orig_rax >= 0 &&
      (gint64) saved->x86_64.rax == -KERNEL_ERESTART_RESTARTBLOCK)
    regs->x86_64.rax = (guint64) (gint64) -EINTR;
}
