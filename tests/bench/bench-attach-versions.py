#!/usr/bin/python3
"""Attach latency per way and CPython version: request -> summary over D-Bus.

Run by `make bench-attach-versions` (bench-attach-versions.sh gives the
daemon's binary and the helper directory). For each interpreter found
(pyenv's 3.6-3.13 under $PYENV_ROOT or ~/.pyenv, Debian's python3, and
CPython 3.14 when PYMEMD_TEST_PYTHON314 names it) and each kind of target
-- idle (time.sleep), busy (a loop of bytecode) -- a fresh process is
attached to with GetHeapSummary(attach=true), ROUNDS times. Printed per
row: the way the daemon chose, the daemon's own attach_seconds (from the
attach's start to the helper's hello) and the whole call (queue, attach,
census) as the caller waits for it: median, min, max.

The daemon runs with umask 0077, as under its unit. Modules are compiled
once into a bytecode cache of the run's own (PYTHONPYCACHEPREFIX) before
the first round, as an installed Python has them: the 3.14 the tests
fetch ships none, and compiling json and re from source at each attach
would be measured instead of the attach. 3.6 and 3.7 know no such cache:
they compile the helper at each attach (their standard library comes
compiled), so that nothing is written into the source tree.
"""

import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from gi.repository import Gio, GLib

IDLE = "import time\nprint('ready', flush=True)\ntime.sleep(3000)\n"
BUSY = "print('ready', flush=True)\nn = 0\nwhile True:\n    n += 1\n"


def interpreters():
    found = []
    root = os.environ.get('PYENV_ROOT', os.path.expanduser('~/.pyenv'))
    for minor in range(6, 14):
        for prefix in sorted(glob.glob('%s/versions/3.%d.*' % (root, minor))):
            path = '%s/bin/python3.%d' % (prefix, minor)
            if os.access(path, os.X_OK):
                found.append(('3.%d pyenv' % minor, [path]))
                break
    if os.access('/usr/bin/python3', os.X_OK):
        found.append(('%s debian' % subprocess.check_output(
            ['/usr/bin/python3', '-c', 'import sys; print("%d.%d" % sys.version_info[:2])'],
            text=True).strip(), ['/usr/bin/python3']))
    py314 = os.environ.get('PYMEMD_TEST_PYTHON314')
    if py314:
        found.append(('3.14 debian', [py314]))
    return found


def call(conn, method, args, reply_type):
    return conn.call_sync('org.pymemd.Monitor1', '/org/pymemd/Monitor1',
                          'org.pymemd.Monitor1', method, args,
                          GLib.VariantType(reply_type), Gio.DBusCallFlags.NONE,
                          120000, None)


def wait_listed(conn, pid):
    for _ in range(400):
        if pid in call(conn, 'GetSamples', None, '(auatauabatatatatat)').unpack()[0]:
            return
        time.sleep(0.05)
    raise RuntimeError('pymemd never listed %d' % pid)


def attach(conn, argv, code):
    proc = subprocess.Popen(argv + ['-c', code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        assert proc.stdout.readline().strip() == b'ready'
        wait_listed(conn, proc.pid)
        time.sleep(0.3)  # settled in its sleep or loop
        start = time.monotonic()
        try:
            summary = call(conn, 'GetHeapSummary',
                           GLib.Variant('(uta{sv})', (proc.pid, 0, {'attach': GLib.Variant('b', True)})),
                           '(a{sv})').unpack()[0]
        except GLib.Error as e:
            return None, None, None, e.message.split(':', 1)[-1].strip()[:60]
        took = time.monotonic() - start
        return summary.get('attached_by'), summary.get('attach_seconds'), took, None
    finally:
        proc.kill()
        proc.wait()
        assert proc.stderr.read() == b'', 'the target printed on its stderr'


def ms(values):
    return '%7.0f %7.0f %7.0f' % (1000 * statistics.median(values), 1000 * min(values),
                                  1000 * max(values))


def warm(found, helper_dir, cache):
    env = dict(os.environ, PYTHONPYCACHEPREFIX=cache)
    env.pop('PYTHONDONTWRITEBYTECODE', None)
    for _, argv in found:
        # 3.6 and 3.7 know no PYTHONPYCACHEPREFIX: they would write into
        # the source tree's helper directory.
        subprocess.run(argv + ['-c', 'import sys\n'
                               'sys.dont_write_bytecode = sys.version_info < (3, 8)\n'
                               'import importlib.util, json, re\n'
                               'sys.path.insert(0, %r)\n'
                               'try:\n    import pymemd_helper._connection\n'
                               'except Exception:\n    pass\n' % helper_dir],
                       env=env, stderr=subprocess.DEVNULL, check=False)


def main():
    pymemd, helper_dir, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    tmp = tempfile.mkdtemp(prefix='pymemd-bench-attach-versions-')
    os.chmod(tmp, 0o755)
    run = os.path.join(tmp, 'run')
    os.mkdir(run, 0o755)
    cache = os.path.join(tmp, 'pycache')
    os.mkdir(cache, 0o755)
    found = interpreters()
    warm(found, helper_dir, cache)
    os.environ['PYTHONPYCACHEPREFIX'] = cache
    # The targets read that cache and write nothing (3.6 and 3.7 compile
    # the helper each time rather than leave a __pycache__ in the source).
    os.environ['PYTHONDONTWRITEBYTECODE'] = '1'
    bus = subprocess.Popen(['dbus-daemon', '--session', '--nofork', '--print-address'],
                           stdout=subprocess.PIPE)
    address = bus.stdout.readline().decode().strip()
    env = dict(os.environ, PYMEMD_HELPER_DIR=helper_dir,
               PYMEMD_ATTACH_BIN=os.path.join(os.path.dirname(pymemd), 'pymemd-attach'))
    old = os.umask(0o077)
    daemon = subprocess.Popen([pymemd, '--address', address, '--interval', '2',
                               '--runtime-dir', run], env=env,
                              stderr=open(os.path.join(tmp, 'pymemd.log'), 'w'))
    os.umask(old)
    conn = Gio.DBusConnection.new_for_address_sync(
        address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
        Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
    for _ in range(200):
        if conn.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus',
                          'org.freedesktop.DBus', 'NameHasOwner',
                          GLib.Variant('(s)', ('org.pymemd.Monitor1',)),
                          None, 0, -1, None).unpack()[0]:
            break
        time.sleep(0.05)
    rows = []
    try:
        for name, argv in found:
            for kind, code in (('idle', IDLE), ('busy', BUSY)):
                ways, attach_s, call_s, errors = set(), [], [], set()
                for _ in range(rounds):
                    way, seconds, took, error = attach(conn, argv, code)
                    if error is not None:
                        errors.add(error)
                        continue
                    ways.add(way)
                    attach_s.append(seconds)
                    call_s.append(took)
                rows.append((name, kind, ways, attach_s, call_s, errors))
    finally:
        daemon.terminate()
        daemon.wait()
        bus.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    print('attach latency, %d rounds each; load average at the end %s' %
          (rounds, ' '.join('%.1f' % x for x in os.getloadavg())))
    print('%-13s %-5s %-14s %-23s %-23s' % ('python', 'kind', 'way', 'attach_seconds (ms)',
                                         'whole call (ms)'))
    print('%-13s %-5s %-14s %-23s %-23s' % ('', '', '', ' median     min     max',
                                         ' median     min     max'))
    for name, kind, ways, attach_s, call_s, errors in rows:
        if attach_s:
            print('%-13s %-5s %-14s %s %s' % (name, kind, ','.join(sorted(ways)), ms(attach_s), ms(call_s)))
        for error in sorted(errors):
            print('%-13s %-5s refused/failed: %s' % (name, kind, error))


if __name__ == '__main__':
    main()
