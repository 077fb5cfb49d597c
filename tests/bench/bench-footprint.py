#!/usr/bin/python3
"""What an attach leaves in the process: modules and private dirty memory.

Run by `make bench-footprint` (which gives the daemon's binary and the
helper directory). For each interpreter (Debian's python3, pyenv's 3.8 and
3.13 where installed) an idle program (select() on stdin) tells its modules
and /proc/self/smaps_rollup's Private_Dirty before, then pymemd attaches
and takes one summary, then the program tells them again, a second later.
Twice: with the helper as the source tree has it (compiled at attach), and
byte-compiled for that interpreter (as `make install` does for the python3
pymemd was built for).
Why: pymemd(8) says what the helper leaves; this is where the figure is
measured.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

from gi.repository import Gio, GLib

from benchbus import call, connect, wait_listed

IDLE = """
import select, sys
def figures():
    with open('/proc/self/smaps_rollup') as f:
        dirty = [int(line.split()[1]) for line in f if line.startswith('Private_Dirty:')][0]
    return '%d %d %s' % (len(sys.modules), dirty, ','.join(sorted(sys.modules)))
print('ready', flush=True)
while True:
    select.select([sys.stdin], [], [])
    line = sys.stdin.readline()
    if not line or line.strip() == 'quit':
        break
    print(figures(), flush=True)
"""


def pythons():
    found = [('debian', '/usr/bin/python3')]
    root = os.environ.get('PYENV_ROOT', os.path.expanduser('~/.pyenv'))
    versions = os.path.join(root, 'versions')
    for series in ('3.8', '3.13'):
        for name in sorted(os.listdir(versions)) if os.path.isdir(versions) else []:
            if name.startswith(series + '.'):
                found.append((series, os.path.join(versions, name, 'bin', 'python' + series)))
                break
    return found


def ask(proc):
    proc.stdin.write(b'figures\n')
    proc.stdin.flush()
    modules, dirty, names = proc.stdout.readline().decode().split()
    return int(modules), int(dirty), set(names.split(','))


def start_daemon(pymemd, helper_dir, address, tmp):
    env = dict(os.environ, PYMEMD_HELPER_DIR=helper_dir,
               PYMEMD_ATTACH_BIN=os.path.join(os.path.dirname(pymemd), 'pymemd-attach'))
    return subprocess.Popen([pymemd, '--address', address, '--interval', '1',
                             '--runtime-dir', tmp], env=env,
                            stderr=open(os.path.join(tmp, 'pymemd.log'), 'a'))


def measure(conn, python):
    env = dict(os.environ)
    env.pop('PYTHONPATH', None)
    env['PYTHONDONTWRITEBYTECODE'] = '1'
    proc = subprocess.Popen([python, '-c', IDLE], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, env=env)
    assert proc.stdout.readline().strip() == b'ready'
    try:
        wait_listed(conn, proc.pid)
        time.sleep(0.5)
        before = ask(proc)
        options = {'attach': GLib.Variant('b', True)}
        call(conn, 'GetHeapSummary', GLib.Variant('(uta{sv})', (proc.pid, 0, options)), '(a{sv})')
        time.sleep(1.0)
        after = ask(proc)
    finally:
        proc.kill()
        proc.wait()
    return before, after


def main():
    pymemd, source_dir, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    tmp = tempfile.mkdtemp(prefix='pymemd-bench-footprint-')
    os.chmod(tmp, 0o755)
    compiled = os.path.join(tmp, 'compiled')
    shutil.copytree(source_dir, compiled, ignore=shutil.ignore_patterns('__pycache__'))
    os.chmod(compiled, 0o755)
    bus = subprocess.Popen(['dbus-daemon', '--session', '--nofork', '--print-address'],
                           stdout=subprocess.PIPE)
    address = bus.stdout.readline().decode().strip()
    rows = []
    try:
        for label, helper_dir in (('source', source_dir), ('byte-compiled', compiled)):
            daemon = start_daemon(pymemd, helper_dir, address, tmp)
            try:
                conn = connect(address)
                for series, python in pythons():
                    if not os.access(python, os.X_OK):
                        continue
                    if label == 'byte-compiled':
                        subprocess.run([python, '-m', 'compileall', '-q', compiled],
                                       check=True, stdout=subprocess.DEVNULL)
                    modules, dirty = [], []
                    added = set()
                    for _ in range(rounds):
                        before, after = measure(conn, python)
                        modules.append(after[0] - before[0])
                        dirty.append(after[1] - before[1])
                        added |= after[2] - before[2]
                    rows.append((series, label, min(modules), max(modules),
                                 min(dirty), max(dirty),
                                 ' '.join(sorted(m for m in added if not m.startswith('pymemd_helper')))))
            finally:
                daemon.terminate()
                daemon.wait()
    finally:
        bus.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    print('what one attach and summary leave in an idle program, %d rounds each' % rounds)
    print('%-8s %-14s %10s %22s  %s' % ('python', 'helper', 'modules', 'private dirty (KiB)',
                                        'modules other than the helper\'s'))
    for series, label, mod_low, mod_high, dirty_low, dirty_high, names in rows:
        print('%-8s %-14s %4d to %3d %10d to %8d  %s' % (series, label, mod_low, mod_high,
                                                      dirty_low, dirty_high, names))


if __name__ == '__main__':
    main()
