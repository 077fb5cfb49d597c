"""What the benchmarks' scripts share: calls to pymemd on a private bus."""

import time

from gi.repository import Gio, GLib


def call(conn, method, args, reply_type, timeout_ms=120000):
    return conn.call_sync('org.pymemd.Monitor1', '/org/pymemd/Monitor1',
                          'org.pymemd.Monitor1', method, args,
                          GLib.VariantType(reply_type), Gio.DBusCallFlags.NONE,
                          timeout_ms, None)


def wait_listed(conn, pid):
    for _ in range(400):
        pids = call(conn, 'GetSamples', None,
                    '(auatauabatatatatat)').unpack()[0]
        if pid in pids:
            return
        time.sleep(0.05)
    raise RuntimeError('pymemd never listed %d' % pid)


def connect(address):
    """A connection to the bus at ADDRESS once pymemd owns its name."""
    conn = Gio.DBusConnection.new_for_address_sync(
        address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
        Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
    for _ in range(200):
        if conn.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus',
                          'org.freedesktop.DBus', 'NameHasOwner',
                          GLib.Variant('(s)', ('org.pymemd.Monitor1',)),
                          None, 0, -1, None).unpack()[0]:
            return conn
        time.sleep(0.05)
    raise RuntimeError('pymemd did not start')
