#!/usr/bin/python3
# soak-attacker.py ADDRESS RUNTIME_DIR SECONDS — one unprivileged user
# attacking pymemd with every method of issue 11 at once, for soak.py.
#
# Run as an unprivileged user (soak.py starts it through setpriv as nobody).
# Each attack runs in its own thread (or forked children) and counts what it
# did; the counts are printed as one JSON object on stdout at the end.  It never checks
# the daemon's answers: soak.py measures what root sees meanwhile.
#
#   attach     blocked interpreters of our own (the main thread parked in a
#              sleep, another thread holding the GIL in pause(), called
#              through ctypes.PyDLL, which keeps the GIL and burns no CPU:
#              an attacker that burns CPU is the scheduler's business, and
#              the cgroup tree's under systemd), GetHeapSummary(attach=true)
#              for them, many
#              at once, again as soon as one returns
#   helpers    forked processes with valid hellos on helper.sock, as many
#              connections each as the daemon allows, some of them sending a
#              1 MiB frame header and then a byte a second
#   garbage    connect, send \xff\xff\xff\xff, repeat, as fast as possible
#   subscribe  many bus connections, each Subscribe()ing with 4096 pids until
#              refused, again every few seconds
#   rescan     Rescan() in a loop on a few connections
#   history    GetHistory/GetGrowth/GetHeapSummaries/GetEndedProcesses/
#              GetProcessDetails in a loop (leaks, CPU)
import json
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

from gi.repository import Gio, GLib

NAME = "org.pymemd.Monitor1"
PATH = "/org/pymemd/Monitor1"
IFACE = "org.pymemd.Monitor1"

address, runtime_dir, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
deadline = time.monotonic() + seconds
stop = threading.Event()
counts = {}
counts_lock = threading.Lock()
children = []


def count(key, n=1, message=None):
    with counts_lock:
        counts[key] = counts.get(key, 0) + n
        if message is not None and key + ".first" not in counts:
            counts[key + ".first"] = message[:200]


def running():
    return not stop.is_set() and time.monotonic() < deadline


def connect():
    return Gio.DBusConnection.new_for_address_sync(
        address,
        Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
        None, None)


def call(conn, method, args, timeout_ms=30000):
    try:
        conn.call_sync(NAME, PATH, IFACE, method, args, None, Gio.DBusCallFlags.NONE, timeout_ms, None)
        count(method + ".ok")
        return True
    except GLib.Error as e:
        count(method + "." + (Gio.DBusError.get_remote_error(e) or "error").rsplit(".", 1)[-1], message=e.message)
        return False


def start_time_of(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])


# --- attach: our own interpreters, blocked for good ---------------------------

BLOCKED = r"""
import ctypes, sys, threading, time
def hog():
    ctypes.PyDLL(None).pause()   # holds the GIL for ever, using no CPU
print('ready', flush=True)
t = threading.Thread(target=hog, daemon=True)
t.start()
time.sleep(100000)
"""


# Processes are made before any thread or bus connection exists: a fork
# beside GLib's threads may copy a lock held and hang.
targets = []


def prepare_attach():
    for _ in range(3):
        p = subprocess.Popen([sys.executable, "-c", BLOCKED], stdout=subprocess.PIPE)
        p.stdout.readline()
        children.append(p)
        targets.append((p.pid, start_time_of(p.pid)))


def attack_attach():
    in_flight = threading.Semaphore(20)

    def done(c, result, _):
        try:
            c.call_finish(result)
            count("GetHeapSummary.ok")
        except GLib.Error as e:
            count("GetHeapSummary." + (Gio.DBusError.get_remote_error(e) or "error").rsplit(".", 1)[-1],
                  message=e.message)
        in_flight.release()

    loop = GLib.MainContext.new()
    loop.push_thread_default()
    conn = connect()  # bound to this thread's context
    while running():
        while in_flight.acquire(blocking=False):
            pid, st = random.choice(targets)
            opts = {"attach": GLib.Variant("b", True)}
            conn.call(NAME, PATH, IFACE, "GetHeapSummary", GLib.Variant("(uta{sv})", (pid, st, opts)),
                      None, Gio.DBusCallFlags.NONE, 300000, None, done, None)
            count("GetHeapSummary.sent")
        loop.iteration(False) or time.sleep(0.05)
    loop.pop_thread_default()


# --- helper.sock --------------------------------------------------------------

def frame(obj):
    body = json.dumps(obj).encode()
    return struct.pack(">I", len(body)) + body


def hello_socket(sock_path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    pid = os.getpid()
    s.sendall(frame({"v": 1, "type": "hello", "pid": pid, "start_time": start_time_of(pid),
                     "nonce": None, "python": "3.11.2", "implementation": "cpython", "how": "import"}))
    return s


def helper_child(sock_path, until):
    """A forked process: hold every connection the daemon lets it keep."""
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    conns = []
    while time.monotonic() < until:
        while len(conns) < 8:
            try:
                s = hello_socket(sock_path)
            except OSError:
                break
            try:
                if len(conns) % 2 == 1:       # a frame that never ends
                    s.sendall(struct.pack(">I", 1 << 20) + b"{" * 4096)
            except OSError:
                s.close()
                continue
            s.setblocking(False)
            conns.append(s)
        alive = []
        for s in conns:
            try:
                if s.recv(4096) == b"":
                    s.close()
                    continue
            except BlockingIOError:
                pass
            except OSError:
                s.close()
                continue
            try:
                s.send(b" ")               # a byte a second of the endless frame
            except OSError:
                s.close()
                continue
            alive.append(s)
        os.write(1, b"%d\n" % len(alive))
        conns = alive
        time.sleep(1)
    os._exit(0)


helper_children = []


def prepare_helpers(n_children=64):
    sock_path = os.path.join(runtime_dir, "helper.sock")
    for _ in range(n_children):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            os.dup2(w, 1)
            helper_child(sock_path, deadline)
        os.close(w)
        os.set_blocking(r, False)
        helper_children.append((pid, r))


def attack_helpers():
    pids = helper_children
    held_max = 0
    while running():
        time.sleep(2)
        held = 0
        for _, fd in pids:
            try:
                lines = os.read(fd, 65536).split()
                if lines:
                    held += int(lines[-1])
            except (OSError, ValueError):
                pass
        held_max = max(held_max, held)
        with counts_lock:
            counts["helper.connections_held_max"] = held_max
    for pid, f in pids:
        try:
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)
        except OSError:
            pass


def attack_garbage():
    sock_path = os.path.join(runtime_dir, "helper.sock")
    while running():
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(5)
            s.connect(sock_path)
            s.sendall(b"\xff\xff\xff\xff")
            s.recv(16)
            count("garbage.sent")
        except OSError:
            count("garbage.refused")
        finally:
            s.close()


# --- D-Bus -------------------------------------------------------------------

def attack_subscribe(n_connections=250):
    conns = []
    pids = GLib.Variant("au", list(range(1, 4097)))
    while running():
        while len(conns) < n_connections:
            try:
                conns.append(connect())
            except GLib.Error:
                count("subscribe.connect_refused")
                break
        for c in conns:
            for _ in range(16):
                if not running() or not call(c, "Subscribe", GLib.Variant("(a{sv})", ({"pids": pids},))):
                    break
        time.sleep(5)


def attack_rescan():
    conn = connect()
    while running():
        call(conn, "Rescan", None)


def attack_history():
    conn = connect()
    me = os.getpid()
    st = start_time_of(me)
    while running():
        now_us = int(time.time() * 1e6)
        call(conn, "GetHistory", GLib.Variant("(utxxd)", (me, st, now_us - 3600 * 10**6, 0, 0.0)))
        call(conn, "GetGrowth", GLib.Variant("(utd)", (me, st, 1800.0)))
        call(conn, "GetHeapSummaries", GLib.Variant("(utxx)", (me, st, 0, 0)))
        call(conn, "GetEndedProcesses", GLib.Variant("(x)", (0,)))
        call(conn, "GetProcessDetails", GLib.Variant("(u)", (random.randint(1, 1 << 22),)))


prepare_attach()
prepare_helpers()
attacks = [attack_attach, attack_helpers, attack_garbage, attack_subscribe, attack_rescan, attack_history]
threads = [threading.Thread(target=a, name=a.__name__, daemon=True) for a in attacks]
for t in threads:
    t.start()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
while running():
    time.sleep(0.5)
stop.set()
for t in threads:
    t.join(timeout=10)
for p in children:
    p.kill()
    p.wait()
print(json.dumps(counts, sort_keys=True), flush=True)
