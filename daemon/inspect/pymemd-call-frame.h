/* The registers of a function call or a system call made in a stopped thread, computed from its saved registers without touching it: pure arithmetic, tested for x86-64 and aarch64 on any host. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  PYMEMD_ARCH_X86_64,
  PYMEMD_ARCH_AARCH64,
} PymemdArch;

/* The kernel's struct user_regs_struct of x86-64 (NT_PRSTATUS), field for field. */
typedef struct {
  guint64 r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8;
  guint64 rax, rcx, rdx, rsi, rdi, orig_rax, rip, cs, eflags, rsp, ss;
  guint64 fs_base, gs_base, ds, es, fs, gs;
} PymemdRegsX86_64;

/* The kernel's struct user_pt_regs of aarch64 (NT_PRSTATUS). */
typedef struct {
  guint64 regs[31];
  guint64 sp;
  guint64 pc;
  guint64 pstate;
} PymemdRegsAarch64;

typedef struct {
  PymemdArch arch;
  union {
    PymemdRegsX86_64  x86_64;
    PymemdRegsAarch64 aarch64;
  };
  /* aarch64 only: the syscall number the kernel acts on when the thread
   * resumes (NT_ARM_SYSTEM_CALL), -1 for none. x86-64 keeps it in orig_rax. */
  gint64 aarch64_syscallno;
} PymemdRegs;

/* The x86-64 ABI lets a function use 128 bytes below its stack pointer
 * without moving it; aarch64 has no red zone, but skipping it costs nothing. */
#define PYMEMD_CALL_FRAME_RED_ZONE 128
#define PYMEMD_CALL_FRAME_MAX_ARGS 6

/* What to set and write for one call: REGS, and STACK_WRITE_LEN bytes of
 * STACK_WRITE at STACK_WRITE_ADDRESS (x86-64: the return address 0 that
 * `call` would have pushed; aarch64 returns through x30 and writes nothing). */
typedef struct {
  PymemdRegs regs;
  guint64    stack_write_address;
  guint8     stack_write[8];
  gsize      stack_write_len;
} PymemdCallFrame;

typedef enum {
  PYMEMD_SYSCALL_MMAP,
  PYMEMD_SYSCALL_MUNMAP,
  PYMEMD_SYSCALL_FUTEX,
} PymemdSyscall;

guint64  pymemd_call_frame_get_pc (const PymemdRegs *regs);
guint64  pymemd_call_frame_get_sp (const PymemdRegs *regs);

/* The system call a thread stopped with REGS was in (or had just returned
 * from), -1 for none. x86-64: orig_rax. aarch64: the kernel forgets the
 * number before the stop and rewinds a restartable call onto its `svc`,
 * so it is x8 when the instruction at the pc (INSN_AT_PC, a restart) or
 * just before it (INSN_BEFORE_PC, a return) is `svc #0`. */
gint64   pymemd_call_frame_stopped_syscall (const PymemdRegs *regs,
                                            guint32           insn_at_pc,
                                            guint32           insn_before_pc);
/* poll, ppoll, select, pselect6, epoll_wait, epoll_pwait(2), nanosleep,
 * clock_nanosleep: calls that block a thread without holding a lock. */
/* restart_syscall: what a thread runs to resume a call a stop interrupted. */
gboolean pymemd_call_frame_is_restart_syscall (PymemdArch arch,
                                               gint64     nr);
gboolean pymemd_call_frame_is_parked_syscall (PymemdArch arch,
                                              gint64     nr);
/* A name for messages ("futex", "read", …), or the number as text. */
char    *pymemd_call_frame_syscall_name (PymemdArch arch,
                                         gint64     nr);
gint64   pymemd_call_frame_syscall_number (PymemdArch    arch,
                                           PymemdSyscall syscall);

/* The highest address below which a frame may be built: under the red zone. */
guint64  pymemd_call_frame_stack_top (const PymemdRegs *regs);
/* Where LEN bytes go when placed just below BELOW, 16-byte aligned. */
guint64  pymemd_call_frame_reserve (guint64 below,
                                    gsize   len);

/* A call of FUNCTION (N_ARGS ≤ 6 integer or pointer ARGS) on the stack
 * below FRAME_TOP, returning to address 0 so that its return faults where
 * nothing else can: the stack pointer 16-byte aligned as at any call site,
 * no syscall restart (orig_rax = -1, NT_ARM_SYSTEM_CALL = -1), the
 * direction flag clear (x86-64) and no pending branch type (aarch64 BTI). */
void     pymemd_call_frame_setup_call (const PymemdRegs *saved,
                                       guint64           frame_top,
                                       guint64           function,
                                       const guint64    *args,
                                       guint             n_args,
                                       PymemdCallFrame  *frame);
/* Whether a thread that stopped with SIGSEGV at FAULT_ADDRESS and REGS is
 * a call of setup_call () that returned; its return value in RESULT. */
gboolean pymemd_call_frame_call_returned (const PymemdRegs *regs,
                                          guint64           fault_address,
                                          guint64          *result);

/* Registers that run system call NR with ARGS[0..5] by single-stepping
 * the syscall instruction at INSN_ADDRESS. */
void     pymemd_call_frame_setup_syscall (const PymemdRegs *saved,
                                          guint64           insn_address,
                                          gint64            nr,
                                          const guint64    *args,
                                          PymemdRegs       *regs);
/* Whether the single step of setup_syscall () completed (the pc is past
 * the instruction); the kernel's return value in RESULT. */
gboolean pymemd_call_frame_syscall_done (const PymemdRegs *regs,
                                         guint64           insn_address,
                                         gint64           *result);
/* The offset of a syscall instruction (x86-64 `0f 05`, aarch64 `svc #0`
 * at a 4-byte boundary) in CODE, which starts at a page boundary; -1 if none. */
gssize   pymemd_call_frame_find_syscall_insn (PymemdArch    arch,
                                              const guint8 *code,
                                              gsize         len);

/* The registers to leave a thread with after calls made in it: SAVED as
 * it was, so that the interrupted system call ends exactly as after
 * SIGSTOP/SIGCONT: poll, ppoll, select, pselect6, nanosleep and
 * clock_nanosleep are restarted by the kernel (with the time left, or
 * their absolute deadline); epoll_wait and epoll_pwait(2) return EINTR,
 * as they do after any stop, and their callers (GLib, asyncio under
 * PEP 475) loop. One exception: on x86-64 a call interrupted with
 * ERESTART_RESTARTBLOCK (relative nanosleep and clock_nanosleep, poll with
 * a timeout) is restarted from the kernel's per-thread restart block,
 * which a signal delivered during our calls (SIGNALS_SEEN) may have
 * overwritten with one of our own waits; it then returns EINTR instead,
 * which callers of those calls must already handle. */
void     pymemd_call_frame_restore (const PymemdRegs *saved,
                                    gboolean          signals_seen,
                                    PymemdRegs       *regs);

G_END_DECLS
