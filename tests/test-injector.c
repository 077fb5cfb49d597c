/* The injector against real interpreters of every CPython on the machine — parked threads, pending calls, PEP 768 on 3.14, 50 attaches in a row, refusals with their reasons (Python 2 among them) — and its register frames for x86-64 and aarch64 on any host. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "pymemd-attach-child.h"
#include "pymemd-attach-script.h"
#include "pymemd-attach-reply.h"
#include "pymemd-call-frame.h"
#include "pymemd-elf.h"
#include "pymemd-error.h"
#include "pymemd-injector.h"
#include "pymemd-pidfiles.h"
#include "pymemd-ptrace.h"
#include "testutil.h"

int main (int argc, char **argv); /* its address is looked up in our own ELF file */

/* ---- the register frames, for both architectures, on any host ---- */

static PymemdRegs
x86_64_saved (void)
{
  PymemdRegs regs;

  memset (&regs, 0, sizeof regs);
  regs.arch = PYMEMD_ARCH_X86_64;
  regs.aarch64_syscallno = -1;
  regs.x86_64.rsp = G_GUINT64_CONSTANT (0x7ffc12345678) + 3; /* deliberately unaligned */
  regs.x86_64.rip = G_GUINT64_CONSTANT (0x7f00000010a2);
  regs.x86_64.orig_rax = 230; /* clock_nanosleep */
  regs.x86_64.rax = (guint64) (gint64) -516; /* ERESTART_RESTARTBLOCK */
  regs.x86_64.rbx = 0x1111;
  regs.x86_64.rbp = 0x2222;
  regs.x86_64.r12 = 0x3333;
  regs.x86_64.r15 = 0x4444;
  regs.x86_64.fs_base = G_GUINT64_CONSTANT (0x7f0000aa0000);
  regs.x86_64.eflags = 0x246 | (1 << 10); /* DF set */
  return regs;
}

static PymemdRegs
aarch64_saved (void)
{
  PymemdRegs regs;

  memset (&regs, 0, sizeof regs);
  regs.arch = PYMEMD_ARCH_AARCH64;
  regs.aarch64_syscallno = -1;
  regs.aarch64.sp = G_GUINT64_CONSTANT (0xfffff7ff1238) + 8;
  regs.aarch64.pc = G_GUINT64_CONSTANT (0xffff80001000);
  regs.aarch64.regs[8] = 115; /* clock_nanosleep */
  regs.aarch64.regs[19] = 0x1919;
  regs.aarch64.regs[28] = 0x2828;
  regs.aarch64.regs[29] = 0x2929;
  regs.aarch64.regs[30] = G_GUINT64_CONSTANT (0xffff80000abc);
  regs.aarch64.pstate = 0x80000000 | (2 << 10); /* N set, BTYPE 2 */
  return regs;
}

static void
test_frame_x86_64_call (void)
{
  PymemdRegs saved = x86_64_saved ();
  guint64 args[3] = { 0xa0, 0xa1, 0xa2 };
  guint64 top = pymemd_call_frame_stack_top (&saved);
  guint64 text = pymemd_call_frame_reserve (top, 100);
  PymemdCallFrame frame;
  guint64 result;
  const PymemdRegsX86_64 *r = &frame.regs.x86_64;

  g_assert_cmphex (top, ==, saved.x86_64.rsp - 128);
  g_assert_cmpuint (text % 16, ==, 0);
  g_assert_cmpuint (text + 100, <=, top);
  g_assert_cmpuint (top - (text + 100), <, 16);

  pymemd_call_frame_setup_call (&saved, text, 0x401000, args, 3, &frame);
  g_assert_cmpint (frame.regs.arch, ==, PYMEMD_ARCH_X86_64);
  g_assert_cmphex (r->rip, ==, 0x401000);
  g_assert_cmphex (r->rdi, ==, 0xa0);
  g_assert_cmphex (r->rsi, ==, 0xa1);
  g_assert_cmphex (r->rdx, ==, 0xa2);
  g_assert_cmphex (r->rcx, ==, 0);
  g_assert_cmphex (r->r8, ==, 0);
  g_assert_cmphex (r->r9, ==, 0);
  g_assert_cmphex (r->rax, ==, 0);
  /* As after `call`: the return address at rsp, rsp + 8 aligned, below the text. */
  g_assert_cmpuint ((r->rsp + 8) % 16, ==, 0);
  g_assert_cmpuint (r->rsp + 8, <=, text);
  g_assert_cmpuint (text - (r->rsp + 8), <, 16);
  g_assert_cmphex (frame.stack_write_address, ==, r->rsp);
  g_assert_cmpuint (frame.stack_write_len, ==, 8);
  for (guint i = 0; i < 8; i++)
    g_assert_cmpuint (frame.stack_write[i], ==, 0);
  g_assert_cmphex (r->orig_rax, ==, G_MAXUINT64);
  g_assert_cmphex (r->eflags, ==, 0x246);
  /* The rest as it was. */
  g_assert_cmphex (r->rbx, ==, 0x1111);
  g_assert_cmphex (r->rbp, ==, 0x2222);
  g_assert_cmphex (r->r12, ==, 0x3333);
  g_assert_cmphex (r->r15, ==, 0x4444);
  g_assert_cmphex (r->fs_base, ==, saved.x86_64.fs_base);

  /* Six arguments in order. */
  {
    guint64 six[6] = { 1, 2, 3, 4, 5, 6 };
    pymemd_call_frame_setup_call (&saved, top, 0x401000, six, 6, &frame);
    g_assert_cmphex (r->rdi, ==, 1);
    g_assert_cmphex (r->rsi, ==, 2);
    g_assert_cmphex (r->rdx, ==, 3);
    g_assert_cmphex (r->rcx, ==, 4);
    g_assert_cmphex (r->r8, ==, 5);
    g_assert_cmphex (r->r9, ==, 6);
    g_assert_cmpuint (r->rsp + 8 + PYMEMD_CALL_FRAME_RED_ZONE, <=, saved.x86_64.rsp);
  }

  /* The return: a fault at 0 with rip 0. */
  frame.regs.x86_64.rip = 0;
  frame.regs.x86_64.rax = G_GUINT64_CONSTANT (0xffffffff00000001);
  g_assert_true (pymemd_call_frame_call_returned (&frame.regs, 0, &result));
  g_assert_cmphex (result, ==, G_GUINT64_CONSTANT (0xffffffff00000001));
  g_assert_false (pymemd_call_frame_call_returned (&frame.regs, 0x10, &result));
  frame.regs.x86_64.rip = 0x401234;
  g_assert_false (pymemd_call_frame_call_returned (&frame.regs, 0, &result));
}

static void
test_frame_aarch64_call (void)
{
  PymemdRegs saved = aarch64_saved ();
  guint64 args[2] = { 0xb0, 0xb1 };
  guint64 top = pymemd_call_frame_stack_top (&saved);
  guint64 text = pymemd_call_frame_reserve (top, 33);
  PymemdCallFrame frame;
  guint64 result;
  const PymemdRegsAarch64 *r = &frame.regs.aarch64;

  pymemd_call_frame_setup_call (&saved, text, 0xffff90001000, args, 2, &frame);
  g_assert_cmpint (frame.regs.arch, ==, PYMEMD_ARCH_AARCH64);
  g_assert_cmphex (r->pc, ==, 0xffff90001000);
  g_assert_cmphex (r->regs[0], ==, 0xb0);
  g_assert_cmphex (r->regs[1], ==, 0xb1);
  for (guint i = 2; i < 8; i++)
    g_assert_cmphex (r->regs[i], ==, 0);
  g_assert_cmphex (r->regs[30], ==, 0); /* returns to 0 through the link register */
  g_assert_cmpuint (r->sp % 16, ==, 0);
  g_assert_cmpuint (r->sp, <=, text);
  g_assert_cmpuint (text + 33, <=, saved.aarch64.sp - PYMEMD_CALL_FRAME_RED_ZONE);
  g_assert_cmpuint (frame.stack_write_len, ==, 0);
  g_assert_cmpint (frame.regs.aarch64_syscallno, ==, -1);
  g_assert_cmphex (r->pstate, ==, 0x80000000); /* BTYPE cleared */
  g_assert_cmphex (r->regs[8], ==, 115);
  g_assert_cmphex (r->regs[19], ==, 0x1919);
  g_assert_cmphex (r->regs[28], ==, 0x2828);
  g_assert_cmphex (r->regs[29], ==, 0x2929);

  frame.regs.aarch64.pc = 0;
  frame.regs.aarch64.regs[0] = 7;
  g_assert_true (pymemd_call_frame_call_returned (&frame.regs, 0, &result));
  g_assert_cmpuint (result, ==, 7);
  g_assert_false (pymemd_call_frame_call_returned (&frame.regs, 8, &result));
}

static void
test_frame_syscalls (void)
{
  guint64 args[6] = { 0, 8192, 3, 0x22, G_MAXUINT64, 0 };
  PymemdRegs saved = x86_64_saved (), regs;
  gint64 result;

  pymemd_call_frame_setup_syscall (&saved, 0x7f0000020000, 9, args, &regs);
  g_assert_cmphex (regs.x86_64.rip, ==, 0x7f0000020000);
  g_assert_cmpuint (regs.x86_64.rax, ==, 9);
  g_assert_cmphex (regs.x86_64.orig_rax, ==, G_MAXUINT64);
  g_assert_cmpuint (regs.x86_64.rdi, ==, 0);
  g_assert_cmpuint (regs.x86_64.rsi, ==, 8192);
  g_assert_cmpuint (regs.x86_64.rdx, ==, 3);
  g_assert_cmphex (regs.x86_64.r10, ==, 0x22); /* not rcx */
  g_assert_cmphex (regs.x86_64.r8, ==, G_MAXUINT64);
  g_assert_cmpuint (regs.x86_64.r9, ==, 0);
  g_assert_cmphex (regs.x86_64.rsp, ==, saved.x86_64.rsp);
  g_assert_false (pymemd_call_frame_syscall_done (&regs, 0x7f0000020000, &result));
  regs.x86_64.rip += 2;
  regs.x86_64.rax = G_GUINT64_CONSTANT (0x7f5500000000);
  g_assert_true (pymemd_call_frame_syscall_done (&regs, 0x7f0000020000, &result));
  g_assert_cmphex (result, ==, G_GUINT64_CONSTANT (0x7f5500000000));

  saved = aarch64_saved ();
  pymemd_call_frame_setup_syscall (&saved, 0xffff80020000, 222, args, &regs);
  g_assert_cmphex (regs.aarch64.pc, ==, 0xffff80020000);
  g_assert_cmpuint (regs.aarch64.regs[8], ==, 222);
  g_assert_cmpuint (regs.aarch64.regs[1], ==, 8192);
  g_assert_cmphex (regs.aarch64.regs[3], ==, 0x22);
  g_assert_cmphex (regs.aarch64.regs[4], ==, G_MAXUINT64);
  g_assert_cmpint (regs.aarch64_syscallno, ==, -1);
  regs.aarch64.pc += 4;
  regs.aarch64.regs[0] = (guint64) (gint64) -ENOMEM;
  g_assert_true (pymemd_call_frame_syscall_done (&regs, 0xffff80020000, &result));
  g_assert_cmpint (result, ==, -ENOMEM);

  g_assert_cmpint (pymemd_call_frame_syscall_number (PYMEMD_ARCH_X86_64, PYMEMD_SYSCALL_MMAP), ==, 9);
  g_assert_cmpint (pymemd_call_frame_syscall_number (PYMEMD_ARCH_AARCH64, PYMEMD_SYSCALL_MMAP), ==, 222);
  g_assert_cmpint (pymemd_call_frame_syscall_number (PYMEMD_ARCH_X86_64, PYMEMD_SYSCALL_MUNMAP), ==, 11);
  g_assert_cmpint (pymemd_call_frame_syscall_number (PYMEMD_ARCH_AARCH64, PYMEMD_SYSCALL_MUNMAP), ==, 215);
}

static void
test_frame_find_syscall (void)
{
  static const guint8 x86[] = { 0x90, 0x48, 0x89, 0xc7, 0x0f, 0x05, 0xc3 };
  static const guint8 none[] = { 0x0f, 0x90, 0x05, 0x0f };
  /* svc #0 at offset 8, and its bytes at an unaligned offset 1 first. */
  static const guint8 arm[] = { 0x00, 0x01, 0x00, 0x00, 0xd4, 0x00, 0x00, 0x00,
                                0x01, 0x00, 0x00, 0xd4 };

  g_assert_cmpint (pymemd_call_frame_find_syscall_insn (PYMEMD_ARCH_X86_64, x86, sizeof x86), ==, 4);
  g_assert_cmpint (pymemd_call_frame_find_syscall_insn (PYMEMD_ARCH_X86_64, none, sizeof none), ==, -1);
  g_assert_cmpint (pymemd_call_frame_find_syscall_insn (PYMEMD_ARCH_AARCH64, arm, sizeof arm), ==, 8);
  g_assert_cmpint (pymemd_call_frame_find_syscall_insn (PYMEMD_ARCH_AARCH64, arm, 8), ==, -1);
}

static void
test_frame_restore (void)
{
  PymemdRegs saved = x86_64_saved (), regs;

  /* Nothing happened meanwhile: exactly as saved, the kernel restarts
   * clock_nanosleep from its restart block. */
  pymemd_call_frame_restore (&saved, FALSE, &regs);
  g_assert_cmpmem (&regs, sizeof regs, &saved, sizeof saved);
  /* A signal came during our calls: the restart block may be ours now. */
  pymemd_call_frame_restore (&saved, TRUE, &regs);
  g_assert_cmpint ((gint64) regs.x86_64.rax, ==, -EINTR);
  g_assert_cmpuint (regs.x86_64.orig_rax, ==, 230);
  g_assert_cmphex (regs.x86_64.rip, ==, saved.x86_64.rip);
  /* poll's ERESTARTNOHAND needs no restart block: restored as is. */
  saved.x86_64.orig_rax = 7;
  saved.x86_64.rax = (guint64) (gint64) -514;
  pymemd_call_frame_restore (&saved, TRUE, &regs);
  g_assert_cmpmem (&regs, sizeof regs, &saved, sizeof saved);
  /* Not in a system call at all. */
  saved.x86_64.orig_rax = G_MAXUINT64;
  saved.x86_64.rax = (guint64) (gint64) -516;
  pymemd_call_frame_restore (&saved, TRUE, &regs);
  g_assert_cmpmem (&regs, sizeof regs, &saved, sizeof saved);

  /* aarch64 rewound before the stop: always exactly as saved. */
  saved = aarch64_saved ();
  pymemd_call_frame_restore (&saved, TRUE, &regs);
  g_assert_cmpmem (&regs, sizeof regs, &saved, sizeof saved);
}

static void
test_frame_stopped_syscall (void)
{
  PymemdRegs x86 = x86_64_saved (), arm = aarch64_saved ();
  g_autofree char *name = NULL;

  g_assert_cmpint (pymemd_call_frame_stopped_syscall (&x86, 0, 0), ==, 230);
  x86.x86_64.orig_rax = G_MAXUINT64;
  g_assert_cmpint (pymemd_call_frame_stopped_syscall (&x86, 0, 0), ==, -1);
  g_assert_cmpint (pymemd_call_frame_stopped_syscall (&arm, 0xd4000001, 0), ==, 115);
  g_assert_cmpint (pymemd_call_frame_stopped_syscall (&arm, 0, 0xd4000001), ==, 115);
  g_assert_cmpint (pymemd_call_frame_stopped_syscall (&arm, 0xaa0003e0, 0xd503201f), ==, -1);

  for (gint64 nr = 0; nr < 500; nr++)
    {
      gboolean x86_parked = nr == 7 || nr == 23 || nr == 35 || nr == 230 || nr == 232 ||
                            nr == 270 || nr == 271 || nr == 281 || nr == 441;
      gboolean arm_parked = nr == 22 || nr == 72 || nr == 73 || nr == 101 || nr == 115 ||
                            nr == 441;
      g_assert_cmpint (pymemd_call_frame_is_parked_syscall (PYMEMD_ARCH_X86_64, nr), ==, x86_parked);
      g_assert_cmpint (pymemd_call_frame_is_parked_syscall (PYMEMD_ARCH_AARCH64, nr), ==, arm_parked);
    }
  name = pymemd_call_frame_syscall_name (PYMEMD_ARCH_X86_64, 202);
  g_assert_cmpstr (name, ==, "futex");
  g_free (name);
  name = pymemd_call_frame_syscall_name (PYMEMD_ARCH_AARCH64, 98);
  g_assert_cmpstr (name, ==, "futex");
  g_free (name);
  name = pymemd_call_frame_syscall_name (PYMEMD_ARCH_X86_64, 499);
  g_assert_cmpstr (name, ==, "syscall 499");
}

/* ---- symbols and load bias, on this very process ---- */

/* The mapping of /proc/self/maps at file offset 0 whose path holds NEEDLE. */
static gboolean
find_self_mapping (const char *needle, guint64 *start, char **path)
{
  g_autofree char *maps = NULL;
  g_auto(GStrv) lines = NULL;

  g_assert_true (g_file_get_contents ("/proc/self/maps", &maps, NULL, NULL));
  lines = g_strsplit (maps, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      unsigned long long from, to, offset;
      char file[4096];

      if (sscanf (lines[i], "%llx-%llx %*s %llx %*s %*s %4095s", &from, &to, &offset, file) == 4 &&
          offset == 0 && strstr (file, needle) != NULL)
        {
          *start = from;
          *path = g_strdup (file);
          return TRUE;
        }
    }
  return FALSE;
}

static void
check_symbol (const char *needle, const char *name, gpointer address)
{
  const char *names[] = { name, "pymemd_no_such_symbol", NULL };
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;
  guint64 values[2], start, bias;
  guint16 machine;
  int fd;

  g_assert_true (find_self_mapping (needle, &start, &path));
  fd = open (path, O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  g_assert_true (pymemd_elf_lookup_symbols (fd, names, values, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (values[0], !=, 0);
  g_assert_cmpuint (values[1], ==, 0);
  g_assert_true (pymemd_elf_load_bias (fd, start, 0, (guint64) sysconf (_SC_PAGESIZE), &machine,
                                       &bias, &error));
  g_assert_no_error (error);
  g_assert_cmphex (bias + values[0], ==, (guint64) (guintptr) address);
#if defined(__x86_64__)
  g_assert_cmpuint (machine, ==, 62 /* EM_X86_64 */);
#endif
  close (fd);
}

static void
test_elf_symbols (void)
{
  /* A PIE executable (its .symtab) and a shared library (its .dynsym). */
  check_symbol ("/test-injector", "main", (gpointer) main);
  check_symbol ("/libglib-2.0.so", "g_test_init", (gpointer) g_test_init);
}

/* ---- real interpreters ---- */

/* Every child answers "ping" with "pong" and leaves with status 0 on
 * "exit": proof that it kept working after we were in it. */
#define HANDLE_INPUT \
  "import os, sys\n" \
  "_buf = b''\n" \
  "def handle(data):\n" \
  "    global _buf\n" \
  "    if not data:\n" \
  "        return True\n" \
  "    _buf += data\n" \
  "    while b'\\n' in _buf:\n" \
  "        line, _buf = _buf.split(b'\\n', 1)\n" \
  "        if line == b'ping':\n" \
  "            print('pong', flush=True)\n" \
  "        elif line == b'exit':\n" \
  "            return True\n" \
  "    return False\n"

static const char sleep_code[] = HANDLE_INPUT
  "import time\n"
  "os.set_blocking(0, False)\n"
  "print('ready', flush=True)\n"
  "while True:\n"
  "    time.sleep(0.05)\n"
  "    try:\n"
  "        data = os.read(0, 4096)\n"
  "    except BlockingIOError:\n"
  "        continue\n"
  "    if handle(data):\n"
  "        break\n";

static const char select_code[] = HANDLE_INPUT
  "import select\n"
  "print('ready', flush=True)\n"
  "while True:\n"
  "    select.select([0], [], [])\n"
  "    if handle(os.read(0, 4096)):\n"
  "        break\n";

static const char poll_code[] = HANDLE_INPUT
  "import select\n"
  "p = select.poll()\n"
  "p.register(0, select.POLLIN)\n"
  "print('ready', flush=True)\n"
  "while True:\n"
  "    p.poll()\n"
  "    if handle(os.read(0, 4096)):\n"
  "        break\n";

static const char asyncio_code[] = HANDLE_INPUT
  "import asyncio\n"
  "async def main():\n"
  "    server = await asyncio.start_server(lambda r, w: None, '127.0.0.1', 0)\n"
  "    loop = asyncio.get_running_loop()\n"
  "    done = loop.create_future()\n"
  "    def on_input():\n"
  "        if handle(os.read(0, 4096)) and not done.done():\n"
  "            done.set_result(None)\n"
  "    loop.add_reader(0, on_input)\n"
  "    print('ready', flush=True)\n"
  "    await done\n"
  "    loop.remove_reader(0)\n"
  "    server.close()\n"
  "    await server.wait_closed()\n"
  "asyncio.run(main())\n";

static const char threads_code[] = HANDLE_INPUT
  "import select, threading, time\n"
  "stop = False\n"
  "def sleeper():\n"
  "    while not stop:\n"
  "        time.sleep(0.01)\n"
  "def busy():\n"
  "    n = 0\n"
  "    while not stop:\n"
  "        n += 1\n"
  "workers = [threading.Thread(target=f) for f in (sleeper, sleeper, busy)]\n"
  "for w in workers:\n"
  "    w.start()\n"
  "print('ready', flush=True)\n"
  "while True:\n"
  "    select.select([0], [], [])\n"
  "    if handle(os.read(0, 4096)):\n"
  "        break\n"
  "stop = True\n"
  "for w in workers:\n"
  "    w.join()\n";

static const char busy_code[] = HANDLE_INPUT
  "os.set_blocking(0, False)\n"
  "print('ready', flush=True)\n"
  "n = 0\n"
  "while True:\n"
  "    n += 1\n"
  "    if n % 100000 == 0:\n"
  "        try:\n"
  "            data = os.read(0, 4096)\n"
  "        except BlockingIOError:\n"
  "            continue\n"
  "        if handle(data):\n"
  "            break\n";

static const char alloc_threads_code[] = HANDLE_INPUT
  "import threading\n"
  "stop = False\n"
  "def work():\n"
  "    while not stop:\n"
  "        x = [bytearray(64) for _ in range(500)]\n"
  "        d = {i: str(i) for i in range(200)}\n"
  "        del x, d\n"
  "workers = [threading.Thread(target=work) for _ in range(4)]\n"
  "for w in workers:\n"
  "    w.start()\n"
  "os.set_blocking(0, False)\n"
  "print('ready', flush=True)\n"
  "while True:\n"
  "    x = [object() for _ in range(200)]\n"
  "    try:\n"
  "        data = os.read(0, 4096)\n"
  "    except BlockingIOError:\n"
  "        continue\n"
  "    if handle(data):\n"
  "        break\n"
  "stop = True\n"
  "for w in workers:\n"
  "    w.join()\n";

/* C code that blocks in poll holding the GIL (ctypes.PyDLL keeps it):
 * re-entering the interpreter there would deadlock or corrupt it. */
static const char gil_poll_code[] = HANDLE_INPUT
  "import ctypes, time\n"
  "os.set_blocking(0, False)\n"
  "print('ready', flush=True)\n"
  "ctypes.PyDLL(None).poll(None, 0, 3000)\n"
  "while True:\n"
  "    time.sleep(0.05)\n"
  "    try:\n"
  "        data = os.read(0, 4096)\n"
  "    except BlockingIOError:\n"
  "        continue\n"
  "    if handle(data):\n"
  "        break\n";

static const char futex_code[] =
  "import _thread\n"
  "l = _thread.allocate_lock()\n"
  "l.acquire()\n"
  "print('ready', flush=True)\n"
  "l.acquire()\n";

/* strace must not outlive a test that aborts. */
static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

/* A Python child (testutil's) and its start time, read once it is ready. */
typedef struct {
  PymemdTestChild proc;
  guint64         start_time;
} Child;

static char
state_of (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree char *text = NULL;
  PymemdStat stat_info;

  if (!g_file_get_contents (path, &text, NULL, NULL) || !pymemd_stat_parse (text, &stat_info, NULL))
    return '?';
  return stat_info.state;
}

/* Runs ARGV (ENVP: NULL inherits) and waits for its "ready" line. */
static void
child_spawn (Child *child, const char *const *argv, const char *const *envp)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;

  g_assert_true (pymemd_test_child_spawn_env (&child->proc, argv, envp, &line, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, "ready");
  child->start_time = pymemd_test_start_time (child->proc.pid);
}

static void
child_spawn_python (Child *child, const char *python, const char *code)
{
  const char *argv[] = { python, "-c", code, NULL };

  child_spawn (child, argv, NULL);
}

static void
child_ping (Child *child)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;

  pymemd_test_child_send (&child->proc, "ping");
  line = pymemd_test_child_read_line (&child->proc, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, "pong");
}

static void
child_kill (Child *child)
{
  pymemd_test_child_stop (&child->proc);
}

/* Asks the child to leave: it must exit 0 and have said nothing on stderr. */
static void
child_finish (Child *child)
{
  g_autofree char *err = NULL;
  int status = pymemd_test_child_finish (&child->proc, "exit", &err);

  g_assert_cmpstr (err, ==, "");
  g_assert_true (status != -1 && WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
}

/* The test bootstrap: appends MARKER as one line to PATH; a second run
 * would show as a second line. */
static char *
marker_bootstrap (const char *path, const char *marker)
{
  return g_strdup_printf ("with open('%s', 'a') as _pymemd_test_file:\n"
                          "    _pymemd_test_file.write('%s\\n')\n"
                          "del _pymemd_test_file\n",
                          path, marker);
}

static char **
read_markers (const char *path)
{
  g_autofree char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return g_new0 (char *, 1);
  g_strchomp (text);
  if (*text == '\0')
    return g_new0 (char *, 1);
  return g_strsplit (text, "\n", -1);
}

/* Waits (20 s at most) until PATH holds COUNT lines: a pending call runs later. */
static char **
wait_markers (const char *path, guint count)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  for (;;)
    {
      char **lines = read_markers (path);

      if (g_strv_length (lines) >= count || g_get_monotonic_time () > deadline)
        return lines;
      g_strfreev (lines);
      g_usleep (2000);
    }
}

/* Waits (5 s at most) until the main thread of PID blocks in one of the
 * calls a parked thread may be in, as an idle program's does. */
static void
wait_parked (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/syscall", pid);

  for (guint i = 0; i < 5000; i++)
    {
      g_autofree char *text = NULL;

      if (g_file_get_contents (path, &text, NULL, NULL) && g_ascii_isdigit (text[0]) &&
          pymemd_call_frame_is_parked_syscall (PYMEMD_ARCH_HOST, g_ascii_strtoll (text, NULL, 10)))
        return;
      g_usleep (1000);
    }
  g_test_message ("main thread of %d never seen parked", pid);
}

static gboolean
need_root (void)
{
  if (pymemd_test_is_root ())
    return TRUE;
  g_test_skip ("needs root (ptrace of other processes)");
  return FALSE;
}

typedef struct {
  char *tmp;
  char *marks;
} Fixture;

static void
fixture_set_up (Fixture *fx, gconstpointer data)
{
  fx->tmp = pymemd_test_mkdtemp ();
  fx->marks = g_build_filename (fx->tmp, "marks", NULL);
}

static void
fixture_tear_down (Fixture *fx, gconstpointer data)
{
  pymemd_test_rm_rf (fx->tmp);
  g_free (fx->tmp);
  g_free (fx->marks);
}

static void
report_times (const char *what, const PymemdInjectReport *report)
{
  g_test_message ("%s: method %s, thread %d, python %u.%u: stopped %" G_GINT64_FORMAT
                  " us, running our calls %" G_GINT64_FORMAT " us, held %" G_GINT64_FORMAT " us",
                  what, pymemd_attach_method_name (report->method), report->tid,
                  report->python_version / 100, report->python_version % 100,
                  report->stopped_us, report->calls_us, report->held_us);
}

/* One attach with MARKER; the file then holds COUNT_BEFORE + 1 lines, the
 * last one MARKER, and nothing ran twice. */
static void
attach_once (Fixture *fx, Child *child, const char *marker, guint count_before,
             PymemdAttachMethod expected, PymemdInjectReport *report)
{
  g_autofree char *bootstrap = marker_bootstrap (fx->marks, marker);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;

  if (expected == PYMEMD_ATTACH_METHOD_PARKED_THREAD)
    wait_parked (child->proc.pid);
  pymemd_injector_inject_with_report ("/proc", child->proc.pid, child->start_time, bootstrap, NULL,
                                      report, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (pymemd_attach_method_name (report->method), ==,
                   pymemd_attach_method_name (expected));
  if (report->method == PYMEMD_ATTACH_METHOD_PARKED_THREAD)
    {
      /* PyRun_SimpleString ran before the injector returned. */
      lines = read_markers (fx->marks);
    }
  else
    lines = wait_markers (fx->marks, count_before + 1);
  g_assert_cmpuint (g_strv_length (lines), ==, count_before + 1);
  g_assert_cmpstr (lines[count_before], ==, marker);
}

static void
check_idle (Fixture *fx, const char *python, const char *code, const char *what)
{
  PymemdInjectReport report;
  Child child;

  if (!need_root ())
    return;
  child_spawn_python (&child, python, code);
  attach_once (fx, &child, "idle-1", 0, PYMEMD_ATTACH_METHOD_PARKED_THREAD, &report);
  g_assert_cmpint (report.tid, ==, child.proc.pid); /* the main thread is the parked one */
  report_times (what, &report);
  child_ping (&child);
  attach_once (fx, &child, "idle-2", 1, PYMEMD_ATTACH_METHOD_PARKED_THREAD, &report);
  child_ping (&child);
  child_finish (&child);
}

static void
test_idle_sleep (Fixture *fx, gconstpointer data)
{
  check_idle (fx, pymemd_test_python (), sleep_code, "time.sleep");
}

static void
test_idle_select (Fixture *fx, gconstpointer data)
{
  check_idle (fx, pymemd_test_python (), select_code, "select");
}

static void
test_idle_poll (Fixture *fx, gconstpointer data)
{
  check_idle (fx, pymemd_test_python (), poll_code, "poll");
}

static void
test_idle_asyncio (Fixture *fx, gconstpointer data)
{
  check_idle (fx, pymemd_test_python (), asyncio_code, "asyncio in epoll");
}

static void
test_threads (Fixture *fx, gconstpointer data)
{
  PymemdInjectReport report;
  Child child;

  if (!need_root ())
    return;
  child_spawn_python (&child, pymemd_test_python (), threads_code);
  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *marker = g_strdup_printf ("threads-%u", i);
      attach_once (fx, &child, marker, i, PYMEMD_ATTACH_METHOD_PARKED_THREAD, &report);
      report_times ("threads (main in select, a busy worker)", &report);
      child_ping (&child);
    }
  child_finish (&child);
}

static void
test_busy (Fixture *fx, gconstpointer data)
{
  PymemdInjectReport report;
  Child child;

  if (!need_root ())
    return;
  child_spawn_python (&child, pymemd_test_python (), busy_code);
  for (guint i = 0; i < 10; i++)
    {
      g_autofree char *marker = g_strdup_printf ("busy-%u", i);
      attach_once (fx, &child, marker, i, PYMEMD_ATTACH_METHOD_PENDING_CALL, &report);
      g_assert_cmpint (report.tid, ==, child.proc.pid);
      report_times ("busy loop", &report);
      child_ping (&child);
    }
  child_finish (&child);
}

static void
test_alloc_threads (Fixture *fx, gconstpointer data)
{
  Child child;

  if (!need_root ())
    return;
  child_spawn_python (&child, pymemd_test_python (), alloc_threads_code);
  for (guint i = 0; i < 10; i++)
    {
      g_autofree char *marker = g_strdup_printf ("alloc-%u", i);
      g_autofree char *bootstrap = marker_bootstrap (fx->marks, marker);
      g_autoptr(GError) error = NULL;
      g_auto(GStrv) lines = NULL;
      PymemdInjectReport report;

      pymemd_injector_inject_with_report ("/proc", child.proc.pid, child.start_time, bootstrap, NULL,
                                          &report, &error);
      g_assert_no_error (error);
      report_times ("allocating in 5 threads", &report);
      lines = wait_markers (fx->marks, i + 1);
      g_assert_cmpuint (g_strv_length (lines), ==, i + 1);
      g_assert_cmpstr (lines[i], ==, marker);
      child_ping (&child);
    }
  child_finish (&child);
}

static int
compare_int64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

static void
summarize (const char *what, GArray *values)
{
  g_array_sort (values, compare_int64);
  g_test_message ("%s over %u attaches: min %" G_GINT64_FORMAT " us, median %" G_GINT64_FORMAT
                  " us, p90 %" G_GINT64_FORMAT " us, max %" G_GINT64_FORMAT " us",
                  what, values->len, g_array_index (values, gint64, 0),
                  g_array_index (values, gint64, values->len / 2),
                  g_array_index (values, gint64, values->len * 9 / 10),
                  g_array_index (values, gint64, values->len - 1));
}

static void
test_fifty (Fixture *fx, gconstpointer data)
{
  g_autoptr(GArray) stopped = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GArray) held = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_auto(GStrv) lines = NULL;
  Child child;

  if (!need_root ())
    return;
  child_spawn_python (&child, pymemd_test_python (), sleep_code);
  for (guint i = 0; i < 50; i++)
    {
      g_autofree char *marker = g_strdup_printf ("attach-%02u", i);
      PymemdInjectReport report;

      attach_once (fx, &child, marker, i, PYMEMD_ATTACH_METHOD_PARKED_THREAD, &report);
      g_array_append_val (stopped, report.stopped_us);
      g_array_append_val (held, report.held_us);
    }
  child_ping (&child);
  lines = read_markers (fx->marks);
  g_assert_cmpuint (g_strv_length (lines), ==, 50);
  for (guint i = 0; i < 50; i++)
    {
      g_autofree char *marker = g_strdup_printf ("attach-%02u", i);
      g_assert_cmpstr (lines[i], ==, marker);
    }
  summarize ("parked thread: stopped", stopped);
  summarize ("parked thread: held (interrupt to detach)", held);
  child_finish (&child);
}

static void
assert_refused (Child *child, guint64 start_time, GQuark domain, int code, const char *reason)
{
  g_autoptr(GError) error = NULL;
  PymemdAttachMethod method;

  g_assert_false (pymemd_injector_inject ("/proc", child->proc.pid, start_time, "pass\n", NULL,
                                          &method, &error));
  g_assert_error (error, domain, code);
  g_test_message ("refused: %s", error->message);
  if (reason != NULL)
    g_assert_nonnull (strstr (error->message, reason));
}

static gint64 tracer_of (GPid pid);

static void
test_refuse_stopped (Fixture *fx, gconstpointer data)
{
  Child child;

  if (!need_root ())
    return;
  child_spawn_python (&child, pymemd_test_python (), sleep_code);
  kill (child.proc.pid, SIGSTOP);
  for (guint i = 0; i < 3000 && state_of (child.proc.pid) != 'T'; i++)
    g_usleep (1000);
  assert_refused (&child, child.start_time, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED, "stopped");
  kill (child.proc.pid, SIGCONT);
  child_ping (&child);
  child_finish (&child);
}

static gint64
tracer_of (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", pid);
  g_autofree char *text = NULL;
  const char *line;

  if (!g_file_get_contents (path, &text, NULL, NULL) || (line = strstr (text, "TracerPid:")) == NULL)
    return -1;
  return g_ascii_strtoll (line + strlen ("TracerPid:"), NULL, 10);
}

static void
test_refuse_traced (Fixture *fx, gconstpointer data)
{
  g_autofree char *strace = g_find_program_in_path ("strace");
  g_autofree char *pid_text = NULL;
  g_autoptr(GError) error = NULL;
  GPid strace_pid;
  Child child;

  if (!need_root ())
    return;
  if (strace == NULL)
    {
      g_test_skip ("needs strace");
      return;
    }
  child_spawn_python (&child, pymemd_test_python (), sleep_code);
  pid_text = g_strdup_printf ("%d", child.proc.pid);
  {
    const char *argv[] = { strace, "-q", "-o", "/dev/null", "-p", pid_text, NULL };
    g_spawn_async (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, die_with_parent, NULL,
                   &strace_pid, &error);
    g_assert_no_error (error);
  }
  for (guint i = 0; i < 5000 && tracer_of (child.proc.pid) <= 0; i++)
    g_usleep (1000);
  g_assert_cmpint (tracer_of (child.proc.pid), ==, strace_pid);
  assert_refused (&child, child.start_time, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED, "traced");
  kill (strace_pid, SIGTERM);
  waitpid (strace_pid, NULL, 0);
  g_spawn_close_pid (strace_pid);
  child_ping (&child);
  child_finish (&child);
}

static void
test_refuse_not_python (Fixture *fx, gconstpointer data)
{
  const char *argv[] = { "/bin/sh", "-c", "echo ready; exec sleep 100", NULL };
  Child child;

  if (!need_root ())
    return;
  child_spawn (&child, argv, NULL);
  for (guint i = 0; i < 3000; i++)
    {
      g_autofree char *link = g_strdup_printf ("/proc/%d/exe", child.proc.pid);
      g_autofree char *exe = g_file_read_link (link, NULL);
      if (exe != NULL && g_str_has_suffix (exe, "/sleep"))
        break;
      g_usleep (1000);
    }
  assert_refused (&child, pymemd_test_start_time (child.proc.pid), PYMEMD_ERROR, PYMEMD_ERROR_NOT_PYTHON, NULL);
  g_assert_nonnull (strchr ("RS", state_of (child.proc.pid)));
  g_assert_cmpint (tracer_of (child.proc.pid), ==, 0);
  child_kill (&child);
}

static void
test_refuse_futex (Fixture *fx, gconstpointer data)
{
  Child child;

  if (!need_root ())
    return;
  child_spawn_python (&child, pymemd_test_python (), futex_code);
  for (guint i = 0; i < 3000 && state_of (child.proc.pid) != 'S'; i++)
    g_usleep (1000);
  assert_refused (&child, child.start_time, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED, "futex");
  /* Untouched: still blocked, alive, not stopped. */
  g_assert_cmpint (state_of (child.proc.pid), ==, 'S');
  g_assert_cmpint (tracer_of (child.proc.pid), ==, 0);
  child_kill (&child);
}

static void
test_refuse_gil_held (Fixture *fx, gconstpointer data)
{
  Child child;

  if (!need_root ())
    return;
  child_spawn_python (&child, pymemd_test_python (), gil_poll_code);
  for (guint i = 0; i < 3000 && state_of (child.proc.pid) != 'S'; i++)
    g_usleep (1000);
  assert_refused (&child, child.start_time, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED,
                  "holds the GIL");
  /* Its poll goes on to its timeout, then it answers again. */
  child_ping (&child);
  child_finish (&child);
}

static void
test_refuse_disabled (Fixture *fx, gconstpointer data)
{
  g_auto(GStrv) envp = g_environ_setenv (g_get_environ (), "PYTHON_DISABLE_REMOTE_DEBUG", "1", TRUE);
  const char *argv[] = { pymemd_test_python (), "-c", sleep_code, NULL };
  const char *x_argv[] = { pymemd_test_python (), "-X", "disable-remote-debug", "-c", sleep_code,
                           NULL };
  const char *misspelt_argv[] = { pymemd_test_python (), "-Xdisable_remote_debug", "-c", sleep_code, NULL };
  Child child;

  if (!need_root ())
    return;
  child_spawn (&child, argv, (const char *const *) envp);
  assert_refused (&child, child.start_time, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED,
                  "PYTHON_DISABLE_REMOTE_DEBUG");
  child_ping (&child);
  child_finish (&child);

  /* An empty value does not disable it. */
  envp = g_environ_setenv (envp, "PYTHON_DISABLE_REMOTE_DEBUG", "", TRUE);
  child_spawn (&child, argv, (const char *const *) envp);
  {
    g_autofree char *bootstrap = marker_bootstrap (fx->marks, "empty-switch");
    g_autoptr(GError) error = NULL;
    g_assert_true (pymemd_injector_inject ("/proc", child.proc.pid, child.start_time, bootstrap, NULL,
                                           NULL, &error));
    g_assert_no_error (error);
  }
  child_finish (&child);

  child_spawn (&child, x_argv, NULL);
  assert_refused (&child, child.start_time, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED,
                  "(-X disable-remote-debug)");
  child_ping (&child);
  child_finish (&child);

  child_spawn (&child, misspelt_argv, NULL);
  assert_refused (&child, child.start_time, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED,
                  "(-X disable_remote_debug)");
  child_ping (&child);
  child_finish (&child);
}

static void
test_refuse_start_time (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *big = g_strnfill (PYMEMD_INJECTOR_MAX_BOOTSTRAP, 'x');
  Child child;

  if (!need_root ())
    return;
  child_spawn_python (&child, pymemd_test_python (), sleep_code);
  assert_refused (&child, child.start_time + 1, PYMEMD_ERROR, PYMEMD_ERROR_GONE, NULL);
  g_assert_false (pymemd_injector_inject ("/proc", child.proc.pid, child.start_time, big, NULL, NULL,
                                          &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_INVALID_ARGS);
  child_ping (&child);
  child_finish (&child);
}

/* ---- stopping an attach ---- */

static void
cancel_at_seized (const char *stage, gpointer data)
{
  if (g_str_equal (stage, "seized"))
    g_cancellable_cancel (data);
}

/* Stopped before it holds a thread, an attach touches nothing; stopped
 * while it holds one, it first finishes with that thread. */
static void
test_stopped (Fixture *fx, gconstpointer data)
{
  g_autofree char *bootstrap = marker_bootstrap (fx->marks, "stopped");
  g_autoptr(GCancellable) cancelled = g_cancellable_new ();
  g_autoptr(GCancellable) later = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;
  PymemdInjectReport report;
  Child child;

  if (!need_root ())
    return;
  child_spawn_python (&child, pymemd_test_python (), sleep_code);
  g_cancellable_cancel (cancelled);
  g_assert_false (pymemd_injector_inject_full ("/proc", child.proc.pid, child.start_time, bootstrap, NULL, 0, NULL,
                                               NULL, cancelled, &report, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "stopped before the bootstrap was in"));
  g_clear_error (&error);
  lines = read_markers (fx->marks);
  g_assert_cmpuint (g_strv_length (lines), ==, 0);
  g_assert_cmpint (tracer_of (child.proc.pid), ==, 0);

  wait_parked (child.proc.pid);
  g_assert_true (pymemd_injector_inject_full ("/proc", child.proc.pid, child.start_time, bootstrap, NULL, 0,
                                              cancel_at_seized, later, later, &report, &error));
  g_assert_no_error (error);
  g_assert_true (g_cancellable_is_cancelled (later));
  g_clear_pointer (&lines, g_strfreev);
  lines = read_markers (fx->marks);
  g_assert_cmpuint (g_strv_length (lines), ==, 1);
  child_ping (&child);
  child_finish (&child);
}

/* ---- the attach process's reply ---- */

static GBytes *
reply_of (const char *type, ...)
{
  g_autoptr(GVariant) variant = NULL;
  va_list args;

  va_start (args, type);
  variant = g_variant_ref_sink (g_variant_new_va (type, NULL, &args));
  va_end (args);
  return g_variant_get_data_as_bytes (variant);
}

static void
assert_bad_reply (GBytes *reply)
{
  g_autoptr(GError) error = NULL;
  PymemdInjectReport report;

  g_assert_false (pymemd_attach_reply_parse (reply, &report, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_PROTOCOL);
  g_test_message ("%s", error->message);
  g_bytes_unref (reply);
}

static void
test_reply (void)
{
  PymemdInjectReport done = { PYMEMD_ATTACH_METHOD_PARKED_THREAD, 4242, 311, 120, 700, 900 };
  PymemdInjectReport parsed;
  g_autoptr(GError) refusal = g_error_new (PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED, "No thread\tof 42 %s", "fits");
  g_autoptr(GError) foreign = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE, "pipe");
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) reply = NULL;
  g_autofree char *huge = g_strnfill (PYMEMD_ATTACH_REPLY_MAX_MESSAGE + 100, 'x');
  g_autofree char *junk = g_strnfill (PYMEMD_ATTACH_REPLY_MAX + 1, 'y');

  /* What the attach process sends comes back as it was. */
  reply = pymemd_attach_reply_new (&done, NULL);
  g_assert_true (pymemd_attach_reply_parse (reply, &parsed, &error));
  g_assert_no_error (error);
  g_assert_cmpint (parsed.method, ==, done.method);
  g_assert_cmpint (parsed.tid, ==, done.tid);
  g_assert_cmpuint (parsed.python_version, ==, done.python_version);
  g_assert_cmpint (parsed.stopped_us, ==, done.stopped_us);
  g_assert_cmpint (parsed.calls_us, ==, done.calls_us);
  g_assert_cmpint (parsed.held_us, ==, done.held_us);
  g_clear_pointer (&reply, g_bytes_unref);

  /* Its errors too: the code, and the message with its control
   * characters blanked; an error of another domain as FAILED. */
  reply = pymemd_attach_reply_new (NULL, refusal);
  g_assert_false (pymemd_attach_reply_parse (reply, &parsed, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED);
  g_assert_cmpstr (error->message, ==, "No thread of 42 fits");
  g_clear_error (&error);
  g_clear_pointer (&reply, g_bytes_unref);
  reply = pymemd_attach_reply_new (NULL, foreign);
  g_assert_false (pymemd_attach_reply_parse (reply, &parsed, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED);
  g_clear_error (&error);
  g_clear_pointer (&reply, g_bytes_unref);
  {
    g_autoptr(GError) long_error = g_error_new_literal (PYMEMD_ERROR, PYMEMD_ERROR_FAILED, huge);
    reply = pymemd_attach_reply_new (NULL, long_error);
    g_assert_false (pymemd_attach_reply_parse (reply, &parsed, &error));
    g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED);
    g_assert_cmpuint (strlen (error->message), <=, PYMEMD_ATTACH_REPLY_MAX_MESSAGE);
    g_clear_error (&error);
    g_clear_pointer (&reply, g_bytes_unref);
  }

  /* Anything else is nonsense. */
  assert_bad_reply (g_bytes_new (NULL, 0));
  assert_bad_reply (g_bytes_new (junk, strlen (junk)));
  assert_bad_reply (g_bytes_new ("garbage\n", 8));
  assert_bad_reply (reply_of ("(ubussiuxxx)", 2, TRUE, 0, "", "parked-thread", 1, 311, 1LL, 1LL, 1LL));
  assert_bad_reply (reply_of ("(ubussiuxxx)", 1, TRUE, 0, "", "gdb", 1, 311, 1LL, 1LL, 1LL));
  assert_bad_reply (reply_of ("(ubussiuxxx)", 1, TRUE, 0, "", "parked-thread", 0, 311, 1LL, 1LL, 1LL));
  assert_bad_reply (reply_of ("(ubussiuxxx)", 1, TRUE, 0, "", "pep768", -7, 314, 1LL, 1LL, 1LL));
  assert_bad_reply (reply_of ("(ubussiuxxx)", 1, TRUE, 0, "", "pending-call", -3, 311, 1LL, 1LL, 1LL));
  assert_bad_reply (reply_of ("(ubussiuxxx)", 1, TRUE, 0, "", "pending-call", 3, 100000, 1LL, 1LL, 1LL));
  assert_bad_reply (reply_of ("(ubussiuxxx)", 1, TRUE, 0, "", "pending-call", 3, 311, -1LL, 1LL, 1LL));
  assert_bad_reply (reply_of ("(ubussiuxxx)", 1, TRUE, 0, "", "pending-call", 3, 311, 1LL, 1LL, G_MAXINT64));
  assert_bad_reply (reply_of ("(ubussiuxxx)", 1, TRUE, 0, "surprise", "pending-call", 3, 311, 1LL, 1LL, 1LL));
  assert_bad_reply (reply_of ("(ubussiuxxx)", 1, FALSE, PYMEMD_ERROR_LAST + 1, "why", "", 0, 0, 0LL, 0LL, 0LL));
  assert_bad_reply (reply_of ("(ubussiuxxx)", 1, FALSE, 0, "", "", 0, 0, 0LL, 0LL, 0LL));
  assert_bad_reply (reply_of ("(ubussiuxxx)", 1, FALSE, 0, "\x1b[5mblink", "", 0, 0, 0LL, 0LL, 0LL));
  assert_bad_reply (reply_of ("(ubussiuxxx)", 1, FALSE, 0, huge, "", 0, 0, 0LL, 0LL, 0LL));
  assert_bad_reply (reply_of ("(ubussiuxxx)", 1, FALSE, 0, "why", "parked-thread", 0, 0, 0LL, 0LL, 0LL));
  assert_bad_reply (reply_of ("(usb)", 1, "x", TRUE));
  /* A string without its NUL, or with one too early: not in normal form. */
  reply = pymemd_attach_reply_new (NULL, refusal);
  {
    gsize len;
    guint8 *bytes = g_bytes_unref_to_data (g_steal_pointer (&reply), &len);

    for (gsize i = 0; i < len; i++)
      if (bytes[i] == 'N')
        bytes[i] = '\0';
    assert_bad_reply (g_bytes_new_take (bytes, len));
  }
}

/* ---- the attach process ---- */

/* Warnings the code under test logs, kept here while a test expects them
 * (the structured log has no g_test_expect_message ()). */
static GPtrArray *warnings;

static GLogWriterOutput
capture_warnings (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  if (warnings != NULL && (level & G_LOG_LEVEL_WARNING) != 0)
    for (gsize i = 0; i < n_fields; i++)
      if (g_str_equal (fields[i].key, "MESSAGE"))
        {
          g_ptr_array_add (warnings, g_strdup (fields[i].value));
          return G_LOG_WRITER_HANDLED;
        }
  return g_log_writer_default (level, fields, n_fields, user_data);
}

typedef struct {
  gboolean           done;
  gboolean           ok;
  PymemdInjectReport report;
  GError            *error;
} ChildRun;

static void
child_run_done (GObject *source, GAsyncResult *result, gpointer data)
{
  ChildRun *run = data;

  run->ok = pymemd_attach_child_run_finish (result, &run->report, &run->error);
  run->done = TRUE;
}

/* One attach by PROGRAM, to its end. */
static gboolean
run_child (const char *program, GPid pid, guint64 start_time, const char *bootstrap, PymemdInjectReport *report,
           GError **error)
{
  ChildRun run = { FALSE, FALSE, { 0 }, NULL };

  g_assert_true (pymemd_attach_child_run_async (program, "/proc", pid, start_time, bootstrap, NULL, 0,
                                                child_run_done, &run));
  PYMEMD_TEST_WAIT_FOR (run.done, 60);
  if (report != NULL)
    *report = run.report;
  if (run.error != NULL)
    g_propagate_error (error, run.error);
  return run.ok;
}

/* pymemd-attach does the attach as the injector would, and says so; its
 * refusals come back as they were. What its spawn adds is measured. */
static void
test_child (Fixture *fx, gconstpointer data)
{
  g_autofree char *program = NULL;
  g_autoptr(GArray) in_process = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GArray) by_child = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;
  PymemdInjectReport report;
  Child child;

  if (!need_root ())
    return;
  program = pymemd_attach_child_find_program (&error);
  g_assert_no_error (error);
  child_spawn_python (&child, pymemd_test_python (), sleep_code);
  for (guint i = 0; i < 20; i++)
    {
      g_autofree char *marker = g_strdup_printf ("child-%02u", i);
      g_autofree char *bootstrap = marker_bootstrap (fx->marks, marker);
      gint64 start;

      wait_parked (child.proc.pid);
      start = g_get_monotonic_time ();
      g_assert_true (run_child (program, child.proc.pid, child.start_time, bootstrap, &report, &error));
      g_assert_no_error (error);
      g_array_append_vals (by_child, (gint64[]){ g_get_monotonic_time () - start }, 1);
      g_assert_cmpint (report.method, ==, PYMEMD_ATTACH_METHOD_PARKED_THREAD);
      g_assert_cmpint (report.tid, ==, child.proc.pid);
      g_assert_cmpint (report.held_us, >, 0);

      marker[0] = 'C';
      g_free (bootstrap);
      bootstrap = marker_bootstrap (fx->marks, marker);
      wait_parked (child.proc.pid);
      start = g_get_monotonic_time ();
      g_assert_true (pymemd_injector_inject_with_report ("/proc", child.proc.pid, child.start_time, bootstrap, NULL,
                                                         &report, &error));
      g_assert_no_error (error);
      g_array_append_vals (in_process, (gint64[]){ g_get_monotonic_time () - start }, 1);
    }
  lines = read_markers (fx->marks);
  g_assert_cmpuint (g_strv_length (lines), ==, 40);
  g_assert_cmpstr (lines[0], ==, "child-00");
  g_assert_cmpstr (lines[39], ==, "Child-19");
  summarize ("an attach in this process, wall time", in_process);
  summarize ("an attach by pymemd-attach, spawn to exit", by_child);

  /* A refusal keeps its code and its reason. */
  g_assert_false (run_child (program, child.proc.pid, child.start_time + 1, "pass\n", NULL, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_GONE);
  g_assert_nonnull (strstr (error->message, "is gone"));
  g_clear_error (&error);
  child_ping (&child);
  child_finish (&child);
}

/* An attach process that dies, says nothing or talks nonsense fails its
 * attach, and only that. */
static void
test_child_broken (Fixture *fx, gconstpointer data)
{
  static const struct {
    const char *script;
    PymemdError code;
    const char *message;
  } broken[] = {
    { "exit 3", PYMEMD_ERROR_FAILED, "exited with status 3 without a reply" },
    { "cat >/dev/null; kill -9 $$", PYMEMD_ERROR_FAILED, "was killed by signal 9" },
    { "cat >/dev/null; echo garbage", PYMEMD_ERROR_PROTOCOL, "not a well-formed message" },
    { "head -c 100000 /dev/zero", PYMEMD_ERROR_PROTOCOL, "too long" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (broken); i++)
    {
      g_autofree char *path = g_strdup_printf ("%s/broken-%u", fx->tmp, i);
      g_autofree char *text = g_strdup_printf ("#!/bin/sh\n%s\n", broken[i].script);
      g_autoptr(GError) error = NULL;

      g_assert_true (g_file_set_contents (path, text, -1, &error));
      g_assert_cmpint (g_chmod (path, 0755), ==, 0);
      warnings = g_ptr_array_new_with_free_func (g_free);
      g_assert_false (run_child (path, 1, 0, "pass\n", NULL, &error));
      /* A killed attach process may have held a thread: that is logged. */
      if (strstr (broken[i].script, "kill -9") != NULL)
        {
          g_assert_cmpuint (warnings->len, ==, 1);
          g_assert_nonnull (strstr (g_ptr_array_index (warnings, 0), "was killed by signal 9"));
        }
      else
        g_assert_cmpuint (warnings->len, ==, 0);
      g_clear_pointer (&warnings, g_ptr_array_unref);
      g_test_message ("%s: %s", broken[i].script, error->message);
      g_assert_error (error, PYMEMD_ERROR, (gint) broken[i].code);
      g_assert_nonnull (strstr (error->message, broken[i].message));
    }
}

/* The stage hook is for tests run by the daemon's own user: a listener
 * of another user is told nothing, and the attach goes on as without it. */
static void
test_child_hook_other_user (Fixture *fx, gconstpointer data)
{
  static const char listener_code[] =
    "import socket, sys\n"
    "s = socket.socket(socket.AF_UNIX)\n"
    "s.bind(sys.argv[1])\n"
    "s.listen()\n"
    "print('ready', flush=True)\n"
    "c, _ = s.accept()\n"
    "f = c.makefile('rwb')\n"
    "n = 0\n"
    "for line in f:\n"
    "    n += 1\n"
    "    f.write(b'go\\n')\n"
    "    f.flush()\n"
    "print('told %d stages' % n if n else 'nothing', flush=True)\n"
    "sys.stdin.read()\n";
  g_autofree char *dir = g_build_filename (fx->tmp, "nobody", NULL);
  g_autofree char *socket_path = g_build_filename (dir, "stage.sock", NULL);
  g_autofree char *bootstrap = marker_bootstrap (fx->marks, "hooked");
  g_autofree char *program = NULL;
  g_autofree char *start_time = NULL;
  g_autofree char *pid = NULL;
  g_autofree char *told = NULL;
  g_autofree char *said = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) attach = NULL;
  g_autoptr(GBytes) input = NULL;
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GBytes) err = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;
  PymemdTestChild listener;
  PymemdInjectReport report;
  Child child;

  if (!need_root ())
    return;
  if (pymemd_test_setpriv () == NULL || getpwnam ("nobody") == NULL)
    {
      g_test_skip ("needs setpriv and the user nobody");
      return;
    }
  program = pymemd_attach_child_find_program (&error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (fx->tmp, 0755), ==, 0);
  g_assert_cmpint (g_mkdir (dir, 0755), ==, 0);
  g_assert_cmpint (chown (dir, 65534, 65534), ==, 0);
  {
    const char *argv[] = { pymemd_test_setpriv (), "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                           pymemd_test_python (), "-c", listener_code, socket_path, NULL };
    g_assert_true (pymemd_test_child_spawn (&listener, argv, NULL, &error));
    g_assert_no_error (error);
  }
  child_spawn_python (&child, pymemd_test_python (), sleep_code);
  wait_parked (child.proc.pid);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_setenv (launcher, "PYMEMD_ATTACH_STAGE_SOCKET", socket_path, TRUE);
  pid = g_strdup_printf ("%d", child.proc.pid);
  start_time = g_strdup_printf ("%" G_GUINT64_FORMAT, child.start_time);
  attach = g_subprocess_launcher_spawn (launcher, &error, program, "--proc", "/proc", "--pid", pid, "--start-time",
                                        start_time, NULL);
  g_assert_no_error (error);
  input = g_bytes_new (bootstrap, strlen (bootstrap));
  g_assert_true (g_subprocess_communicate (attach, input, NULL, &reply, &err, &error));
  g_assert_no_error (error);
  said = g_strndup (g_bytes_get_size (err) > 0 ? g_bytes_get_data (err, NULL) : "", g_bytes_get_size (err));
  g_test_message ("pymemd-attach said: %s", said);
  g_assert_nonnull (strstr (said, "its listener runs as another user"));
  g_assert_true (pymemd_attach_reply_parse (reply, &report, &error));
  g_assert_no_error (error);
  lines = read_markers (fx->marks);
  g_assert_cmpuint (g_strv_length (lines), ==, 1);

  told = pymemd_test_child_read_line (&listener, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (told, ==, "nothing");
  pymemd_test_child_stop (&listener);
  child_ping (&child);
  child_finish (&child);
}

/* Only a program that root (or we) alone could have put there is run. */
static void
test_child_program (Fixture *fx, gconstpointer data)
{
  g_autofree char *template = g_build_filename (g_getenv ("G_TEST_BUILDDIR"), "attach-XXXXXX", NULL);
  g_autofree char *program = NULL;
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  const char *dir;
  gsize length;
  static const struct {
    const char *name;    /* under a fresh directory of the build tree */
    int         mode;    /* 0: not made */
    gboolean    nobodys; /* chowned to nobody */
    const char *problem; /* NULL: accepted */
  } programs[] = {
    { "good", 0755, FALSE, NULL },
    { "group-writable", 0775, FALSE, "writable by others" },
    { "world-writable", 0757, FALSE, "writable by others" },
    { "not-executable", 0644, FALSE, "not an executable file" },
    { "nobodys", 0755, TRUE, "owned by another user" },
    { "open/program", 0755, FALSE, "writable by others" },
    { "missing", 0, FALSE, "No such file" },
  };

  if (!need_root ())
    return;
  program = pymemd_attach_child_find_program (&error);
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (program, &contents, &length, &error));
  dir = g_mkdtemp_full (template, 0755);
  g_assert_nonnull (dir);
  {
    g_autofree char *open_dir = g_build_filename (dir, "open", NULL);
    g_assert_cmpint (g_mkdir (open_dir, 0755), ==, 0);
    g_assert_cmpint (g_chmod (open_dir, 0777), ==, 0);
  }
  for (guint i = 0; i < G_N_ELEMENTS (programs); i++)
    {
      g_autofree char *path = g_build_filename (dir, programs[i].name, NULL);
      g_autofree char *checked = NULL;
      g_autoptr(GError) check_error = NULL;

      if (programs[i].mode != 0)
        {
          g_assert_true (g_file_set_contents (path, contents, (gssize) length, &error));
          g_assert_cmpint (g_chmod (path, programs[i].mode), ==, 0);
        }
      if (programs[i].nobodys)
        g_assert_cmpint (chown (path, 65534, 65534), ==, 0);
      checked = pymemd_attach_child_check_program (path, &check_error);
      if (programs[i].problem == NULL)
        {
          g_assert_no_error (check_error);
          g_assert_cmpstr (checked, ==, path);
          continue;
        }
      g_assert_null (checked);
      g_test_message ("%s", check_error->message);
      g_assert_error (check_error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED);
      g_assert_nonnull (strstr (check_error->message, programs[i].problem));
    }
  /* A link is followed, and what it leads to is checked: a good program
   * reached through a link in /tmp is itself fine. A directory that others
   * may write but that is sticky (/tmp, a build tree in it) is fine too:
   * they may add entries there, not replace ours; what lies below it is
   * checked on its own (a program of nobody's there is refused). */
  {
    g_autofree char *good = g_build_filename (dir, "good", NULL);
    g_autofree char *link = g_build_filename (fx->tmp, "link", NULL);
    g_autofree char *sticky = g_build_filename (dir, "sticky", NULL);
    g_autofree char *in_sticky = g_build_filename (sticky, "program", NULL);
    g_autofree char *checked = NULL;

    g_assert_cmpint (symlink (good, link), ==, 0);
    checked = pymemd_attach_child_check_program (link, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (checked, ==, good);
    g_assert_cmpint (g_mkdir (sticky, 0755), ==, 0);
    g_assert_cmpint (g_chmod (sticky, 01777), ==, 0);
    g_assert_true (g_file_set_contents (in_sticky, contents, (gssize) length, &error));
    g_assert_cmpint (g_chmod (in_sticky, 0755), ==, 0);
    g_clear_pointer (&checked, g_free);
    checked = pymemd_attach_child_check_program (in_sticky, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (checked, ==, in_sticky);
    g_assert_cmpint (chown (in_sticky, 65534, 65534), ==, 0);
    g_clear_pointer (&checked, g_free);
    checked = pymemd_attach_child_check_program (in_sticky, &error);
    g_assert_null (checked);
    g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED);
    g_assert_nonnull (strstr (error->message, "owned by another user"));
  }
  pymemd_test_rm_rf (dir);
}

/* ---- CPython 3.14: PEP 768 or a parked thread, whichever runs soonest ---- */

/* The command that runs CPython 3.14 (pymemd_test_python314 ()), or NULL
 * with the test marked skipped. */
static const char *
python314 (void)
{
  const char *why = NULL;
  const char *command = pymemd_test_python314 (&why);

  if (command == NULL)
    g_test_skip (why);
  return command;
}

/* Blocked in a futex (no thread parked, none running) until the lock's
 * timeout, SECONDS; then it answers like the others. */
#define FUTEX_THEN_SLEEP(seconds) HANDLE_INPUT \
  "import _thread, time\n" \
  "l = _thread.allocate_lock()\n" \
  "l.acquire()\n" \
  "os.set_blocking(0, False)\n" \
  "print('ready', flush=True)\n" \
  "l.acquire(timeout=" seconds ")\n" \
  "while True:\n" \
  "    time.sleep(0.05)\n" \
  "    try:\n" \
  "        data = os.read(0, 4096)\n" \
  "    except BlockingIOError:\n" \
  "        continue\n" \
  "    if handle(data):\n" \
  "        break\n"

/* The main thread joins a worker that is blocked in a futex for a third
 * of a second and then sleeps, answering stdin: first nothing runs Python
 * and nothing is parked, then a thread parks. */
static const char late_parked_code[] = HANDLE_INPUT
  "import _thread, threading, time\n"
  "l = _thread.allocate_lock()\n"
  "l.acquire()\n"
  "def worker():\n"
  "    l.acquire(timeout=0.3)\n"
  "    os.set_blocking(0, False)\n"
  "    while True:\n"
  "        time.sleep(0.05)\n"
  "        try:\n"
  "            data = os.read(0, 4096)\n"
  "        except BlockingIOError:\n"
  "            continue\n"
  "        if handle(data):\n"
  "            break\n"
  "t = threading.Thread(target=worker)\n"
  "t.start()\n"
  "print('ready', flush=True)\n"
  "t.join()\n";

/* Every script was removed, and the directory with the last one. */
static void
assert_no_scripts (const char *dir)
{
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
}

/* One attach with a script directory, wait WAIT seconds; the method in REPORT. */
static gboolean
attach_314 (Fixture *fx, Child *child, const char *marker, double wait, PymemdInjectReport *report, GError **error)
{
  g_autofree char *bootstrap = marker_bootstrap (fx->marks, marker);
  g_autofree char *scripts = g_build_filename (fx->tmp, "scripts", NULL);
  gboolean ok = pymemd_injector_inject_full ("/proc", child->proc.pid, child->start_time, bootstrap, scripts, wait,
                                             NULL, NULL, NULL, report, error);

  assert_no_scripts (scripts);
  return ok;
}

/* Idle (sleep, select, poll): the parked thread, at once, even though
 * PEP 768 could be asked; busy: PEP 768 (no thread stopped), on the
 * thread that runs. Each runs the bootstrap exactly once, leaves no
 * script and prints nothing on the process's stderr. */
static void
test_314_ways (Fixture *fx, gconstpointer data)
{
  static const struct {
    const char        *code;
    const char        *what;
    PymemdAttachMethod method;
  } cases[] = {
    { sleep_code, "idle in sleep", PYMEMD_ATTACH_METHOD_PARKED_THREAD },
    { select_code, "idle in select", PYMEMD_ATTACH_METHOD_PARKED_THREAD },
    { poll_code, "idle in poll", PYMEMD_ATTACH_METHOD_PARKED_THREAD },
    { busy_code, "busy", PYMEMD_ATTACH_METHOD_PEP768 },
    { threads_code, "main in select, a busy worker", PYMEMD_ATTACH_METHOD_PEP768 },
  };
  const char *python = python314 ();

  if (python == NULL || !need_root ())
    return;
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_auto(GStrv) lines = NULL;
      PymemdInjectReport report;
      Child child;

      g_remove (fx->marks);
      child_spawn_python (&child, python, cases[i].code);
      if (cases[i].method == PYMEMD_ATTACH_METHOD_PARKED_THREAD)
        wait_parked (child.proc.pid);
      g_assert_true (attach_314 (fx, &child, cases[i].what, 5, &report, &error));
      g_assert_no_error (error);
      report_times (cases[i].what, &report);
      g_assert_cmpuint (report.python_version, ==, 314);
      g_assert_cmpstr (pymemd_attach_method_name (report.method), ==, pymemd_attach_method_name (cases[i].method));
      if (cases[i].code == threads_code)
        g_assert_cmpint (report.tid, !=, child.proc.pid); /* the busy worker took it */
      else if (cases[i].code != select_code && cases[i].code != poll_code)
        g_assert_cmpint (report.tid, ==, child.proc.pid);
      lines = wait_markers (fx->marks, 1);
      g_assert_cmpuint (g_strv_length (lines), ==, 1);
      g_assert_cmpstr (lines[0], ==, cases[i].what);
      child_ping (&child);
      child_finish (&child);
      g_clear_pointer (&lines, g_strfreev);
      lines = read_markers (fx->marks);
      g_assert_cmpuint (g_strv_length (lines), ==, 1); /* not a second time */
    }
}

/* PYTHON -c CODE, once its main thread sleeps (in its futex). */
static void
child_spawn_blocked (Child *child, const char *python, const char *code)
{
  child_spawn_python (child, python, code);
  for (guint i = 0; i < 3000 && state_of (child->proc.pid) != 'S'; i++)
    g_usleep (1000);
}

/* CHILD, blocked in a futex until its lock's timeout, answers once past
 * it, having run Python again without our bootstrap; it leaves silently. */
static void
assert_never_ran (Fixture *fx, Child *child)
{
  g_auto(GStrv) lines = NULL;

  child_ping (child);
  g_usleep (200000);
  lines = read_markers (fx->marks);
  g_assert_cmpuint (g_strv_length (lines), ==, 0);
  child_finish (child);
}

/* Nothing runs Python and nothing is parked: the request waits, is
 * withdrawn at the deadline with the reason, and never runs, not even
 * when the process runs Python again; nothing on its stderr. */
static void
test_314_withdrawn (Fixture *fx, gconstpointer data)
{
  static const char code[] = FUTEX_THEN_SLEEP ("2");
  const char *python = python314 ();
  g_autoptr(GError) error = NULL;
  PymemdInjectReport report;
  Child child;

  if (python == NULL || !need_root ())
    return;
  child_spawn_blocked (&child, python, code);
  g_assert_false (attach_314 (fx, &child, "withdrawn", 0.5, &report, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED);
  g_test_message ("refused: %s", error->message);
  g_assert_nonnull (strstr (error->message, "withdrawn"));
  g_assert_nonnull (strstr (error->message, "futex"));
  g_assert_cmpint (tracer_of (child.proc.pid), ==, 0);
  assert_never_ran (fx, &child);
}

/* A request out to a blocked main thread moves when a thread parks (or
 * runs Python): the bootstrap runs once, whichever way took it. */
static void
test_314_moves (Fixture *fx, gconstpointer data)
{
  const char *python = python314 ();
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;
  PymemdInjectReport report;
  Child child;

  if (python == NULL || !need_root ())
    return;
  child_spawn_python (&child, python, late_parked_code);
  g_assert_true (attach_314 (fx, &child, "moved", 5, &report, &error));
  g_assert_no_error (error);
  report_times ("a thread parks after 0.3 s", &report);
  g_assert_cmpint (report.method, !=, PYMEMD_ATTACH_METHOD_PENDING_CALL);
  lines = wait_markers (fx->marks, 1);
  g_assert_cmpuint (g_strv_length (lines), ==, 1);
  child_ping (&child);
  child_finish (&child);
  g_clear_pointer (&lines, g_strfreev);
  lines = read_markers (fx->marks);
  g_assert_cmpuint (g_strv_length (lines), ==, 1);
}

typedef struct {
  GCancellable *cancellable;
  GPtrArray    *stages;
} StopAt;

static void
cancel_at_requested (const char *stage, gpointer data)
{
  StopAt *stop = data;

  g_ptr_array_add (stop->stages, g_strdup (stage));
  if (g_str_equal (stage, "requested"))
    g_cancellable_cancel (stop->cancellable);
}

/* Told to stop (SIGTERM, in pymemd-attach) while its request is out: the
 * request is withdrawn before the attach ends, and never runs. */
static void
test_314_stopped (Fixture *fx, gconstpointer data)
{
  static const char code[] = FUTEX_THEN_SLEEP ("1.5");
  const char *python = python314 ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GPtrArray) stages = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *bootstrap = marker_bootstrap (fx->marks, "stopped");
  g_autofree char *scripts = g_build_filename (fx->tmp, "scripts", NULL);
  g_autoptr(GError) error = NULL;
  StopAt stop = { cancellable, stages };
  PymemdInjectReport report;
  Child child;

  if (python == NULL || !need_root ())
    return;
  child_spawn_blocked (&child, python, code);
  g_assert_false (pymemd_injector_inject_full ("/proc", child.proc.pid, child.start_time, bootstrap, scripts, 5,
                                               cancel_at_requested, &stop, cancellable, &report, &error));
  g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "stopped before the bootstrap was in"));
  g_assert_cmpuint (stages->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (stages, 0), ==, "requested");
  g_assert_cmpstr (g_ptr_array_index (stages, 1), ==, "withdrawn");
  assert_no_scripts (scripts);
  assert_never_ran (fx, &child);
}

/* PEP 768's switches are honoured on 3.14 by every way. */
static void
test_314_disabled (Fixture *fx, gconstpointer data)
{
  const char *python = python314 ();
  g_auto(GStrv) envp = g_environ_setenv (g_get_environ (), "PYTHON_DISABLE_REMOTE_DEBUG", "1", TRUE);

  if (python == NULL || !need_root ())
    return;
  {
    const char *argv[] = { python, "-c", busy_code, NULL };
    g_autoptr(GError) error = NULL;
    PymemdInjectReport report;
    Child child;

    child_spawn (&child, argv, (const char *const *) envp);
    g_assert_false (attach_314 (fx, &child, "disabled", 1, &report, &error));
    g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED);
    g_assert_nonnull (strstr (error->message, "PYTHON_DISABLE_REMOTE_DEBUG"));
    child_ping (&child);
    child_finish (&child);
  }
  {
    /* CPython's spelling; the command line is the loader's (ld-linux…
     * --library-path DIR …/python3.14 -X …). */
    const char *argv[] = { python, "-X", "disable-remote-debug", "-c", sleep_code, NULL };
    g_autoptr(GError) error = NULL;
    PymemdInjectReport report;
    Child child;

    child_spawn (&child, argv, NULL);
    g_assert_false (attach_314 (fx, &child, "disabled", 1, &report, &error));
    g_assert_error (error, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED);
    g_assert_nonnull (strstr (error->message, "-X disable-remote-debug"));
    child_ping (&child);
    child_finish (&child);
  }
  g_auto(GStrv) lines = read_markers (fx->marks);
  g_assert_cmpuint (g_strv_length (lines), ==, 0);
}

/* Python 2 is refused with a sentence that says so, untouched. */
static void
test_python2 (Fixture *fx, gconstpointer data)
{
  g_autofree char *prefix = pymemd_test_pyenv_prefix ("2.7");
  g_autofree char *python = NULL;
  const char *argv[] = { NULL, "-c", "import sys, time\nsys.stdout.write('ready\\n')\nsys.stdout.flush()\n"
                         "time.sleep(3000)\n", NULL };
  Child child;

  if (prefix == NULL)
    {
      g_test_skip ("pyenv has no Python 2.7");
      return;
    }
  if (!need_root ())
    return;
  python = g_build_filename (prefix, "bin", "python2.7", NULL);
  argv[0] = python;
  child_spawn (&child, argv, NULL);
  assert_refused (&child, child.start_time, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED,
                  "runs Python 2.7: pymemd attaches only to Python 3.6 and later");
  g_assert_cmpint (tracer_of (child.proc.pid), ==, 0);
  g_assert_nonnull (strchr ("RS", state_of (child.proc.pid)));
  child_kill (&child);
}

/* ---- every CPython 3.6+ on the machine ---- */

typedef struct {
  char *name;   /* "3.11-debian", "3.8-pyenv" */
  char *python; /* absolute path, or NULL when absent */
} Interpreter;

static void
interpreter_free (gpointer data)
{
  Interpreter *interpreter = data;

  g_free (interpreter->name);
  g_free (interpreter->python);
  g_free (interpreter);
}

static GPtrArray *
find_interpreters (void)
{
  GPtrArray *found = g_ptr_array_new_with_free_func (interpreter_free);
  g_autofree char *versions = g_build_filename (g_get_home_dir (), ".pyenv", "versions", NULL);

  {
    Interpreter *debian = g_new0 (Interpreter, 1);
    debian->name = g_strdup ("system");
    if (g_file_test ("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE))
      debian->python = g_strdup ("/usr/bin/python3");
    g_ptr_array_add (found, debian);
  }
  /* One test per minor version, present or not, so that an absent one shows as skipped. */
  for (guint minor = 6; minor <= 13; minor++)
    {
      Interpreter *interpreter = g_new0 (Interpreter, 1);
      g_autoptr(GDir) dir = g_dir_open (versions, 0, NULL);
      g_autofree char *prefix = g_strdup_printf ("3.%u.", minor);
      const char *entry;

      interpreter->name = g_strdup_printf ("pyenv-3.%u", minor);
      while (dir != NULL && (entry = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *bin = g_strdup_printf ("python3.%u", minor);
          g_autofree char *path = g_build_filename (versions, entry, "bin", bin, NULL);

          if (g_str_has_prefix (entry, prefix) && g_file_test (path, G_FILE_TEST_IS_EXECUTABLE))
            {
              interpreter->python = g_steal_pointer (&path);
              break;
            }
        }
      g_ptr_array_add (found, interpreter);
    }
  return found;
}

static void
test_interpreter (Fixture *fx, gconstpointer data)
{
  const Interpreter *interpreter = data;
  PymemdInjectReport report;
  Child child;

  if (interpreter->python == NULL)
    {
      g_test_skip ("this interpreter is not installed");
      return;
    }
  if (!need_root ())
    return;
  g_test_message ("%s", interpreter->python);

  child_spawn_python (&child, interpreter->python, sleep_code);
  attach_once (fx, &child, "parked", 0, PYMEMD_ATTACH_METHOD_PARKED_THREAD, &report);
  report_times (interpreter->name, &report);
  child_ping (&child);
  child_finish (&child);

  child_spawn_python (&child, interpreter->python, busy_code);
  attach_once (fx, &child, "pending", 1, PYMEMD_ATTACH_METHOD_PENDING_CALL, &report);
  report_times (interpreter->name, &report);
  child_ping (&child);
  child_finish (&child);

  child_spawn_python (&child, interpreter->python, futex_code);
  for (guint i = 0; i < 3000 && state_of (child.proc.pid) != 'S'; i++)
    g_usleep (1000);
  assert_refused (&child, child.start_time, PYMEMD_ERROR, PYMEMD_ERROR_ATTACH_REFUSED, "futex");
  child_kill (&child);
}

/* A script is 0644 in a directory of 0711 under umask 077 (the unit's),
 * and its directory goes with the last script, not before. */
static void
test_attach_script (void)
{
  g_autofree char *tmp = g_dir_make_tmp ("pymemd-script-XXXXXX", NULL);
  g_autofree char *dir = g_build_filename (tmp, "attach", NULL);
  g_autoptr(PymemdAttachScript) first = NULL;
  g_autoptr(PymemdAttachScript) second = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  struct stat st;
  mode_t old = umask (0077);

  first = pymemd_attach_script_new (dir, "pass\n", &error);
  g_assert_no_error (error);
  second = pymemd_attach_script_new (dir, "pass\n", &error);
  umask (old);
  g_assert_no_error (error);
  g_assert_cmpint (stat (dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0711);
  g_assert_cmpint (stat (pymemd_attach_script_get_path (first), &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0644);
  g_assert_true (g_file_get_contents (pymemd_attach_script_get_path (second), &text, NULL, &error));
  g_assert_cmpstr (text, ==, "pass\n");

  g_clear_pointer (&first, pymemd_attach_script_free);
  g_assert_true (g_file_test (pymemd_attach_script_get_path (second), G_FILE_TEST_IS_REGULAR));
  g_clear_pointer (&second, pymemd_attach_script_free);
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
  g_assert_cmpint (g_rmdir (tmp), ==, 0);
}

int
main (int argc, char **argv)
{
  g_autoptr(GPtrArray) interpreters = NULL;

  g_test_init (&argc, &argv, NULL);
  /* An attach process that dies first must not take us with it. */
  signal (SIGPIPE, SIG_IGN);
  g_log_set_writer_func (capture_warnings, NULL, NULL);

  g_test_add_func ("/injector/frame/x86-64-call", test_frame_x86_64_call);
  g_test_add_func ("/injector/frame/aarch64-call", test_frame_aarch64_call);
  g_test_add_func ("/injector/frame/syscalls", test_frame_syscalls);
  g_test_add_func ("/injector/frame/find-syscall", test_frame_find_syscall);
  g_test_add_func ("/injector/frame/restore", test_frame_restore);
  g_test_add_func ("/injector/frame/stopped-syscall", test_frame_stopped_syscall);
  g_test_add_func ("/injector/elf/symbols", test_elf_symbols);
  g_test_add_func ("/injector/child/reply", test_reply);
  g_test_add_func ("/injector/attach-script", test_attach_script);

#define ADD(path, func) \
  g_test_add ("/injector/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  if (pymemd_test_python () != NULL)
    {
      ADD ("parked/sleep", test_idle_sleep);
      ADD ("parked/select", test_idle_select);
      ADD ("parked/poll", test_idle_poll);
      ADD ("parked/asyncio", test_idle_asyncio);
      ADD ("parked/threads", test_threads);
      ADD ("pending/busy", test_busy);
      ADD ("alloc-threads", test_alloc_threads);
      ADD ("fifty-attaches", test_fifty);
      ADD ("refuse/stopped", test_refuse_stopped);
      ADD ("refuse/traced", test_refuse_traced);
      ADD ("refuse/futex", test_refuse_futex);
      ADD ("refuse/gil-held", test_refuse_gil_held);
      ADD ("refuse/disabled", test_refuse_disabled);
      ADD ("refuse/start-time", test_refuse_start_time);
      ADD ("stopped", test_stopped);
      ADD ("child/attach", test_child);
    }
  ADD ("child/broken", test_child_broken);
  if (pymemd_test_python () != NULL)
    ADD ("child/hook-other-user", test_child_hook_other_user);
  ADD ("child/program", test_child_program);
  ADD ("refuse/not-python", test_refuse_not_python);
  ADD ("refuse/python2", test_python2);
  ADD ("3.14/ways", test_314_ways);
  ADD ("3.14/withdrawn", test_314_withdrawn);
  ADD ("3.14/moves", test_314_moves);
  ADD ("3.14/stopped", test_314_stopped);
  ADD ("3.14/disabled", test_314_disabled);
#undef ADD

  interpreters = find_interpreters ();
  for (guint i = 0; i < interpreters->len; i++)
    {
      Interpreter *interpreter = g_ptr_array_index (interpreters, i);
      g_autofree char *path = g_strdup_printf ("/injector/python/%s", interpreter->name);

      g_test_add (path, Fixture, interpreter, fixture_set_up, test_interpreter, fixture_tear_down);
    }

  return g_test_run ();
}
