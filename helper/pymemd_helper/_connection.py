"""The helper thread's life: connect, say hello, answer requests one at a
time, and reconnect with a back-off when the connection ends
(docs/helper-protocol.md, "Transport").

While it waits it is blocked in a socket call or on a lock with a timeout,
both of which release the GIL: an idle helper costs the process nothing.
"""

import _socket
import os
import sys
import time

from pymemd_helper import _frames

# Back-off between connection attempts, in seconds.
FIRST_DELAY = 1.0
MAX_DELAY = 60.0
# A connection that lasted this long, or answered a request, was a good one:
# the next back-off starts again from FIRST_DELAY.  One the daemon closes at
# once (it does not believe our hello) keeps doubling, so that a process it
# will never accept does not knock every second.
GOOD_CONNECTION = 30.0
CONNECT_TIMEOUT = 10.0


def run(helper):
    """Serves HELPER's current target until the process ends."""
    delay = FIRST_DELAY
    served = None
    while True:
        with helper._lock:
            target = helper._state.target
            generation = helper._state.generation
            wake = helper._state.wake
        if target is None:
            return
        if generation != served:
            delay = FIRST_DELAY  # a new target deserves a prompt first try
            served = generation
        began = time.monotonic()
        answered = _serve(helper, target)
        if answered or time.monotonic() - began >= GOOD_CONNECTION:
            delay = FIRST_DELAY
        with helper._lock:
            retargeted = helper._state.generation != generation
        if retargeted:
            wake.acquire(False)  # consume the wake-up that came with it
            continue
        wake.acquire(True, delay)
        delay = min(delay * 2, MAX_DELAY)


def socket_paths(explicit):
    """Where to look for the daemon, in order."""
    if explicit:
        return [explicit]
    env = os.environ.get("PYMEMD_SOCKET")
    if env:
        return [env]
    paths = ["/run/pymemd/helper.sock"]
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        paths.append(os.path.join(runtime, "pymemd", "helper.sock"))
    return paths


def _timeval(seconds):
    """A struct timeval of whole SECONDS: two longs."""
    size = 8 if sys.maxsize > 2 ** 32 else 4
    return int(seconds).to_bytes(size, sys.byteorder) + bytes(size)


def _connect(paths):
    for path in paths:
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            # A daemon that does not accept (its backlog full) must not keep
            # the helper from trying the next path, or a new target: at most
            # CONNECT_TIMEOUT.  A blocking connect waits that long in the
            # kernel for room in the backlog (SO_SNDTIMEO); settimeout ()
            # would make the socket non-blocking, and a full backlog then
            # fails at once (EAGAIN), which a flood of connections by
            # another user keeps full for long stretches.
            sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_SNDTIMEO, _timeval(CONNECT_TIMEOUT))
            sock.connect(path)
            sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_SNDTIMEO, _timeval(0))
            return sock
        except OSError:
            sock.close()
    return None


def _serve(helper, target):
    """One connection: True when it answered at least one request."""
    path, how, nonce = target
    start_time = process_start_time()
    if start_time is None:
        return False
    sock = _connect(socket_paths(path))
    if sock is None:
        return False
    with helper._lock:
        if helper._state.target is not target:
            sock.close()  # retargeted while connecting
            return False
        helper._state.sock = sock
    answered = False
    try:
        _frames.send(sock, _frames.hello(os.getpid(), start_time, nonce, how))
        while True:
            message = _frames.receive(sock)
            if message is None:
                break
            if _answer(sock, message, helper._state):
                answered = True
    except Exception:
        pass
    finally:
        with helper._lock:
            if helper._state.sock is sock:
                helper._state.sock = None
        sock.close()
    return answered


def _answer(sock, message, state):
    """Answers one request; False when MESSAGE was not one."""
    received = time.perf_counter()
    if message.get("type") == "name":
        return _answer_names(sock, message)
    request = _frames.parse_request(message)
    if request is None:
        return False
    if request.problem is not None:
        _frames.send(sock, _frames.error(request.id, request.problem))
        return True
    from pymemd_helper import _summary
    try:
        summary = _summary.take(request, received, state)
    except Exception as e:
        _frames.send(sock, _frames.error(
            request.id, "the summary failed: %s: %s" % (type(e).__name__, e)))
        return True
    if request.graph is not None:
        _walk_graph(sock, request)
    _frames.send(sock, _frames.summary(request.id, summary))
    return True


def _walk_graph(sock, request):
    """The object graph's frames, before the summary that ends the answer;
    the walk has the request's budget of its own."""
    from pymemd_helper import _graph
    from pymemd_helper._pacer import Pacer
    _graph.walk(sock, request, Pacer(request.budget))


def _answer_names(sock, message):
    """Names the paths of a "name" request (the daemon's, after a graph)."""
    from pymemd_helper import _names
    request = _names.parse(message)
    if request is None:
        return False
    _frames.send(sock, _names.answer(request))
    return True


def process_start_time():
    """Field 22 of /proc/self/stat (clock ticks after boot), or None.

    The command name (field 2) may hold spaces and parentheses, so the fields
    are counted from after its last ')'.
    """
    try:
        with open("/proc/self/stat", "rb") as f:
            stat = f.read()
        fields = stat[stat.rindex(b")") + 1:].split()
        value = int(fields[22 - 3])
        return value if value >= 1 else None
    except Exception:
        return None
