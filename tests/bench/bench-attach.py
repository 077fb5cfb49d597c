#!/usr/bin/python3
"""Attach latency for an idle GTK app: request -> summary over D-Bus.

Run by bench-attach.sh (which gives the daemon's binary and the helper
directory). For each round a fresh PyGObject window idles in Gtk.main()
under Xvfb; we time GetHeapSummary with attach (the helper comes in by a
parked thread), then asks to the helper already there. The baseline, in
the same run on the same kind of process, is what pyrasite-style tools do:
gdb attaching to run PyGILState_Ensure/PyRun_SimpleString/PyGILState_Release.
Why: a number for "how long does pymemctl heap --attach make me wait", and
next to it the cost of the usual way of getting code into a process.
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time

from gi.repository import Gio, GLib

from benchbus import call, connect, wait_listed

GTK_APP = """
import sys, gi
gi.require_version('Gtk', '3.0')
from gi.repository import Gtk, GLib
window = Gtk.Window(title='bench')
labels = [Gtk.Label(label=str(i)) for i in range(2000)]
window.show_all()
print('ready', flush=True)
Gtk.main()
"""


def start_xvfb():
    proc = subprocess.Popen(['Xvfb', '-displayfd', '1', '-nolisten', 'tcp'],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    display = ':' + proc.stdout.readline().decode().strip()
    return proc, display


def start_app(display, helper_dir):
    env = dict(os.environ, DISPLAY=display, PYTHONPATH=helper_dir)
    proc = subprocess.Popen(['/usr/bin/python3', '-c', GTK_APP], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout.readline().strip() == b'ready'
    return proc


def heap(conn, pid, attach):
    options = {'attach': GLib.Variant('b', True)} if attach else {}
    start = time.monotonic()
    reply = call(conn, 'GetHeapSummary',
                 GLib.Variant('(uta{sv})', (pid, 0, options)), '(a{sv})')
    return time.monotonic() - start, reply.unpack()[0]


def gdb_baseline(pid):
    start = time.monotonic()
    subprocess.run(['gdb', '-p', str(pid), '-batch', '-nx',
                    '-ex', 'call (int) PyGILState_Ensure()',
                    '-ex', 'call (int) PyRun_SimpleString("pass")',
                    '-ex', 'call (void) PyGILState_Release($1)'],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True)
    return time.monotonic() - start


def ms(values):
    return '%8.1f %8.1f %8.1f' % (1000 * statistics.median(values),
                                  1000 * min(values), 1000 * max(values))


def main():
    pymemd, helper_dir, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    tmp = tempfile.mkdtemp(prefix='pymemd-bench-attach-')
    os.chmod(tmp, 0o755)
    bus = subprocess.Popen(['dbus-daemon', '--session', '--nofork',
                            '--print-address'], stdout=subprocess.PIPE)
    address = bus.stdout.readline().decode().strip()
    xvfb, display = start_xvfb()
    # The attach process next to the daemon in the build tree.
    env = dict(os.environ, PYMEMD_HELPER_DIR=helper_dir,
               PYMEMD_ATTACH_BIN=os.path.join(os.path.dirname(pymemd),
                                              'pymemd-attach'))
    daemon = subprocess.Popen([pymemd, '--address', address, '--interval', '2',
                               '--runtime-dir', tmp], env=env,
                              stderr=open(os.path.join(tmp, 'pymemd.log'), 'w'))
    conn = connect(address)
    attach, again, census, hold, gdb = [], [], [], [], []
    try:
        for _ in range(rounds):
            app = start_app(display, helper_dir)
            wait_listed(conn, app.pid)
            took, summary = heap(conn, app.pid, True)
            assert summary['attached_by'] == 'parked-thread', summary.get('attached_by')
            attach.append(took)
            for _ in range(5):
                took, summary = heap(conn, app.pid, False)
                again.append(took)
                census.append(summary['duration'])
                hold.append(summary['gil_max_hold'])
            assert app.poll() is None, 'the app died'
            app.kill()
            app.wait()
            app = start_app(display, helper_dir)
            gdb.append(gdb_baseline(app.pid))
            assert app.poll() is None, 'the app died under gdb'
            app.kill()
            app.wait()
    finally:
        daemon.terminate()
        daemon.wait()
        xvfb.kill()
        bus.kill()
    print('idle GTK app (PyGObject window, 2000 labels), %d rounds' % rounds)
    print('%-44s %8s %8s %8s' % ('', 'median', 'min', 'max'))
    print('%-44s %s ms' % ('GetHeapSummary with attach (request->summary)', ms(attach)))
    print('%-44s %s ms' % ('GetHeapSummary, helper already there', ms(again)))
    print('%-44s %s ms' % ('  of which the census in the app', ms(census)))
    print('%-44s %s ms' % ('  longest GIL hold in the app', ms(hold)))
    print('%-44s %s ms' % ('baseline: gdb -p, PyRun_SimpleString("pass")', ms(gdb)))


if __name__ == '__main__':
    main()
