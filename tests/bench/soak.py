#!/usr/bin/python3
# soak.py BUILDDIR SRCDIR MINUTES — issue 11's soak run: root keeps using
# pymemd (`pymemctl top -b`, `pymemctl watch`, `pymemctl heap --attach`, and
# GetSamples every 100 ms) while one unprivileged user (nobody) attacks it
# with every method at once (tests/bench/soak-attacker.py), side by side with
# the same root workload and no attacker, on the same daemon:
#
#   phase "quiet"     MINUTES without the attacker (the baseline)
#   phase "attack"    MINUTES with the attacker
#   phase "after"     2 minutes without it: does the daemon's memory come back?
#
# Reported per phase: root's calls that failed (must be 0), p50/p99/max of
# GetSamples and of `pymemctl heap --attach` (to a fresh idle interpreter
# every 20 s), `top -b` frames and `watch` runs that worked, the daemon's RSS
# (start, max, end) and open fds, its log lines per minute (max over any
# minute), and what the attacker managed.  Bounds checked at the end (exit
# status 1 if one is broken): root's calls all succeed; the daemon's RSS
# stays under RSS_BOUND_MIB and ends within RSS_BACK_MIB of the quiet phase's
# end; at most LOG_LINES_PER_MINUTE log lines in any minute.
#
# Needs root, dbus-daemon, setpriv, python3-gi.  Everything it starts is
# killed on exit; SOAK_KEEP=1 keeps the logs (the daemon's, the attacker's).  The daemon is the build tree's, on a private bus of its
# own, with its own runtime and state directories.
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from gi.repository import Gio, GLib

RSS_BOUND_MIB = float(os.environ.get("RSS_BOUND_MIB", "128"))
RSS_BACK_MIB = float(os.environ.get("RSS_BACK_MIB", "16"))
LOG_LINES_PER_MINUTE = int(os.environ.get("LOG_LINES_PER_MINUTE", "600"))
IDLE_TARGETS = int(os.environ.get("IDLE_TARGETS", "30"))
AFTER_MINUTES = float(os.environ.get("AFTER_MINUTES", "2"))

builddir, srcdir, minutes = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]), float(sys.argv[3])
pymemd = os.path.join(builddir, "daemon", "pymemd")
pymemctl = os.path.join(builddir, "client", "pymemctl")
attacker = os.path.join(srcdir, "tests", "bench", "soak-attacker.py")
policy = os.path.join(srcdir, "data", "org.pymemd.Monitor1.conf")
tmp = tempfile.mkdtemp(prefix="pymemd-soak-")
os.chmod(tmp, 0o755)
runtime_dir = os.path.join(tmp, "run")
state_dir = os.path.join(tmp, "state")
log_path = os.path.join(tmp, "pymemd.log")
procs = []


def die(msg):
    print("soak: " + msg, file=sys.stderr)
    sys.exit(1)


if os.geteuid() != 0:
    die("must run as root")
for tool in ("dbus-daemon", "setpriv"):
    if shutil.which(tool) is None:
        die("needs " + tool)

# --- bus and daemon ------------------------------------------------------------

with open(os.path.join(tmp, "bus.conf"), "w") as f:
    f.write("""<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=%s/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
  </policy>
  <include>%s</include>
</busconfig>
""" % (tmp, policy))
bus = subprocess.Popen(["dbus-daemon", "--config-file=" + os.path.join(tmp, "bus.conf"), "--nofork",
                        "--print-address"], stdout=subprocess.PIPE, text=True)
procs.append(bus)
address = bus.stdout.readline().strip()
os.chmod(os.path.join(tmp, "bus"), 0o777)

env = dict(os.environ)
env.pop("NOTIFY_SOCKET", None)
env["LC_ALL"] = "C.UTF-8"
# A critical is a bug: the daemon stops there (and "the daemon died" shows).
env["G_DEBUG"] = "fatal-criticals"
env["PYMEMD_HELPER_DIR"] = os.path.join(srcdir, "helper")
env["PYMEMD_ATTACH_BIN"] = os.path.join(builddir, "daemon", "pymemd-attach")
log = open(log_path, "w")
daemon = subprocess.Popen([pymemd, "--address", address, "--interval", "2", "--runtime-dir", runtime_dir,
                           "--state-dir", state_dir], stdout=log, stderr=log, env=env)
procs.append(daemon)


def cleanup(*_):
    for p in reversed(procs):
        try:
            p.kill()
            p.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            pass
    if os.environ.get("SOAK_KEEP") == "1":
        print("soak: kept " + tmp, file=sys.stderr)
    else:
        shutil.rmtree(tmp, ignore_errors=True)


def connect():
    return Gio.DBusConnection.new_for_address_sync(
        address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
        None, None)


conn = connect()
for _ in range(300):
    r = conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner",
                       GLib.Variant("(s)", ("org.pymemd.Monitor1",)), None, Gio.DBusCallFlags.NONE, 5000, None)
    if r.unpack()[0]:
        break
    time.sleep(0.1)
else:
    cleanup()
    die("pymemd did not own its name; log: " + open(log_path).read()[-2000:])

IDLE = "import time; print('ready', flush=True); time.sleep(100000)"


def spawn_idle():
    p = subprocess.Popen(["/usr/bin/python3", "-c", IDLE], stdout=subprocess.PIPE)
    p.stdout.readline()
    # Idle: asleep in clock_nanosleep.
    for _ in range(200):
        try:
            if "nanosleep" in open("/proc/%d/wchan" % p.pid).read():
                break
        except OSError:
            pass
        time.sleep(0.01)
    return p


idle = [spawn_idle() for _ in range(IDLE_TARGETS)]
procs.extend(idle)

# --- root's workload -----------------------------------------------------------


class Phase:
    def __init__(self, name):
        self.name = name
        self.samples = []      # GetSamples latencies, s
        self.attaches = []     # heap --attach latencies, s
        self.failures = []     # what failed, with why
        self.top_frames = 0
        self.watch_ok = 0
        self.watch_runs = 0
        self.rss = []          # KiB
        self.fds = []
        self.log_lines = []    # (time, lines in the log so far)
        self.attacker = {}


phase = None
phase_lock = threading.Lock()
stop = threading.Event()


def record(attr, value):
    with phase_lock:
        getattr(phase, attr).append(value)


def samples_loop():
    c = connect()
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            c.call_sync("org.pymemd.Monitor1", "/org/pymemd/Monitor1", "org.pymemd.Monitor1", "GetSamples",
                        None, None, Gio.DBusCallFlags.NONE, 60000, None)
            record("samples", time.monotonic() - t0)
        except GLib.Error as e:
            record("failures", "GetSamples: " + e.message)
        time.sleep(max(0.0, 0.1 - (time.monotonic() - t0)))


def known(c, pid):
    r = c.call_sync("org.pymemd.Monitor1", "/org/pymemd/Monitor1", "org.pymemd.Monitor1", "GetSamples",
                    None, None, Gio.DBusCallFlags.NONE, 60000, None)
    return pid in r.unpack()[0]


def attach_loop():
    c = connect()
    while not stop.is_set():
        t_next = time.monotonic() + 20
        target = spawn_idle()
        for _ in range(100):   # listed at the daemon's next tick
            if known(c, target.pid):
                break
            time.sleep(0.1)
        t0 = time.monotonic()
        r = subprocess.run([pymemctl, "--address", address, "--json", "heap", "--attach", str(target.pid)],
                           capture_output=True, text=True, timeout=300)
        dt = time.monotonic() - t0
        ok = r.returncode == 0
        if ok:
            try:
                json.loads(r.stdout)
            except ValueError:
                ok = False
        if ok:
            record("attaches", dt)
        else:
            with open(log_path, errors="replace") as f:
                said = [line.strip() for line in f if str(target.pid) in line][-3:]
            record("failures", "heap --attach (%.1f s): %s; the daemon's log: %s"
                   % (dt, (r.stderr or r.stdout).strip()[:300], " | ".join(said) or "nothing"))
        target.kill()
        target.wait()
        while not stop.is_set() and time.monotonic() < t_next:
            time.sleep(0.2)


def top_loop():
    while not stop.is_set():
        p = subprocess.Popen([pymemctl, "--address", address, "top", "-b", "-d", "2"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(p)
        for line in p.stdout:
            if line.lstrip().startswith("PID"):
                with phase_lock:
                    phase.top_frames += 1
            if stop.is_set():
                break
        p.kill()
        p.wait()
        if not stop.is_set():
            record("failures", "top -b ended: " + p.stderr.read().strip()[:300])


def watch_loop():
    while not stop.is_set():
        p = subprocess.Popen([pymemctl, "--address", address, "--json", "watch"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(p)
        got = threading.Event()

        def reader():
            for _ in p.stdout:
                got.set()
        threading.Thread(target=reader, daemon=True).start()
        end = time.monotonic() + 30
        while not stop.is_set() and time.monotonic() < end and p.poll() is None:
            time.sleep(0.2)
        ended = p.poll()
        p.terminate()
        p.wait()
        with phase_lock:
            phase.watch_runs += 1
            if ended is None and got.is_set():
                phase.watch_ok += 1
            elif not stop.is_set():
                phase.failures.append("watch: %s" % (p.stderr.read().strip()[:300] or
                                                     "no MemoryChanged in 30 s"))


def log_lines():
    with open(log_path, "rb") as f:
        return f.read().count(b"\n")


def monitor_loop():
    while not stop.is_set():
        try:
            status = open("/proc/%d/status" % daemon.pid).read()
            rss = int(status.split("VmRSS:")[1].split()[0])
            fds = len(os.listdir("/proc/%d/fd" % daemon.pid))
        except (OSError, IndexError):
            record("failures", "the daemon is gone")
            return
        record("rss", rss)
        record("fds", fds)
        record("log_lines", (time.monotonic(), log_lines()))
        time.sleep(5)


def log_per_minute(samples):
    """The most log lines in any minute of a phase (a shorter phase: its rate)."""
    worst = 0.0
    for i, (t0, n0) in enumerate(samples):
        for t1, n1 in samples[i + 1:]:
            if t1 - t0 >= 60 or t1 == samples[-1][0]:
                worst = max(worst, (n1 - n0) * 60 / max(t1 - t0, 60) if t1 - t0 >= 60
                            else (n1 - n0) * 60 / max(t1 - t0, 1))
                if t1 - t0 >= 60:
                    break
    return int(worst)


def run_phase(name, seconds, with_attacker):
    global phase
    with phase_lock:
        phase = Phase(name)
    print("soak: phase %s, %.0f s%s" % (name, seconds, " with the attacker" if with_attacker else ""),
          file=sys.stderr, flush=True)
    attack = None
    if with_attacker:
        attack = subprocess.Popen(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                   "/usr/bin/python3", attacker, address, runtime_dir, str(seconds)],
                                  cwd="/", stdout=subprocess.PIPE, stderr=open(os.path.join(tmp, "attacker.log"), "w"),
                                  text=True)
        procs.append(attack)
    time.sleep(seconds)
    if attack is not None:
        try:
            out, _ = attack.communicate(timeout=90)
            phase.attacker = json.loads(out.strip().splitlines()[-1])
        except (subprocess.TimeoutExpired, IndexError, ValueError) as e:
            phase.attacker = {"report": "none (%s)" % e}
            attack.kill()
    return phase


threads = [threading.Thread(target=f, daemon=True)
           for f in (samples_loop, attach_loop, top_loop, watch_loop, monitor_loop)]
phase = Phase("warm-up")
for t in threads:
    t.start()
time.sleep(30)
try:
    results = [run_phase("quiet", minutes * 60, False), run_phase("attack", minutes * 60, True),
               run_phase("after", AFTER_MINUTES * 60, False)]
finally:
    stop.set()
    for t in threads:
        t.join(timeout=60)
    daemon_alive = daemon.poll() is None
    log_tail = open(log_path, errors="replace").read()[-3000:]
    try:
        attacker_errors = open(os.path.join(tmp, "attacker.log"), errors="replace").read()[-3000:]
    except OSError:
        attacker_errors = ""
    cleanup()


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def ms(v):
    return "%.1f" % (v * 1000)


print("\n%-34s %14s %14s %14s" % ("", *[r.name for r in results]))
rows = [
    ("root calls failed", lambda r: str(len(r.failures))),
    ("GetSamples calls", lambda r: str(len(r.samples))),
    ("GetSamples p50 / p99 ms", lambda r: "%s / %s" % (ms(pct(r.samples, 50)), ms(pct(r.samples, 99)))),
    ("GetSamples max ms", lambda r: ms(max(r.samples, default=float("nan")))),
    ("heap --attach done", lambda r: str(len(r.attaches))),
    ("heap --attach p50 / p99 ms", lambda r: "%s / %s" % (ms(pct(r.attaches, 50)), ms(pct(r.attaches, 99)))),
    ("top -b frames", lambda r: str(r.top_frames)),
    ("watch runs ok / started", lambda r: "%d / %d" % (r.watch_ok, r.watch_runs)),
    ("daemon RSS MiB start/max/end", lambda r: "%.0f/%.0f/%.0f" % (
        r.rss[0] / 1024, max(r.rss) / 1024, r.rss[-1] / 1024) if r.rss else "-"),
    ("daemon fds max", lambda r: str(max(r.fds, default=0))),
    ("log lines per minute, max", lambda r: str(log_per_minute(r.log_lines))),
]
for label, f in rows:
    print("%-34s %14s %14s %14s" % (label, *[f(r) for r in results]))
print("\nattacker: " + json.dumps(results[1].attacker, sort_keys=True))
if attacker_errors:
    print("attacker's stderr:\n" + attacker_errors)
for r in results:
    for f in r.failures[:10]:
        print("failure (%s): %s" % (r.name, f))

broken = []
if not daemon_alive:
    broken.append("the daemon died")
if any(r.failures for r in results):
    broken.append("root's calls failed")
peak = max((max(r.rss) for r in results if r.rss), default=0) / 1024
if peak > RSS_BOUND_MIB:
    broken.append("daemon RSS %.0f MiB > %.0f MiB" % (peak, RSS_BOUND_MIB))
if results[0].rss and results[2].rss and (results[2].rss[-1] - results[0].rss[-1]) / 1024 > RSS_BACK_MIB:
    broken.append("daemon RSS did not come back within %.0f MiB" % RSS_BACK_MIB)
worst_log = max(log_per_minute(r.log_lines) for r in results)
if worst_log > LOG_LINES_PER_MINUTE:
    broken.append("%d log lines in a minute > %d" % (worst_log, LOG_LINES_PER_MINUTE))
print("\nbounds: RSS <= %.0f MiB, back within %.0f MiB, <= %d log lines a minute: %s"
      % (RSS_BOUND_MIB, RSS_BACK_MIB, LOG_LINES_PER_MINUTE, "; ".join(broken) or "all held"))
if broken:
    print("daemon log tail:\n" + log_tail)
    sys.exit(1)
