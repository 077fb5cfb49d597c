"""pymemd's helper: a thread inside a Python process that answers the
daemon's requests for heap summaries (docs/helper-protocol.md).

Start it with ``import pymemd_helper; pymemd_helper.start()``, with
``PYMEMD_HELPER=1`` in the environment (helper/pymemd-helper.pth), or let the
daemon's bootstrap call ``attach()``.

This module is imported into every process that asks for the helper, often
at start-up from a .pth file, so it imports nothing but built-in modules; the
protocol and the census are imported by the helper thread when it first
needs them.  It never imports ``threading``: imported from a thread other
than the main one, it would take that thread for the main thread.
"""

import _thread
import gc
import os
import sys
import time

__all__ = ["start", "attach"]

_lock = _thread.allocate_lock()


class _State(object):
    """What the process knows about its helper; guarded by _lock."""

    def __init__(self):
        self.pid = None            # the process the fields below belong to
        self.running = False       # a helper thread exists
        self.target = None         # (socket path or None, how, nonce)
        self.generation = 0        # bumped when the target changes
        self.sock = None           # the connected socket, to wake the thread
        self.nonces = set()        # nonces attach() has seen
        self.wake = None           # a held lock the thread sleeps on
        self.last_full_collection = None
        self.hooks_installed = False


_state = _State()


def start(socket_path=None):
    """Starts the helper thread unless it runs already.

    The socket is SOCKET_PATH, else $PYMEMD_SOCKET, else /run/pymemd/helper.sock
    or $XDG_RUNTIME_DIR/pymemd/helper.sock, whichever accepts.  Never raises:
    a program must not fail because its memory is not being watched.
    """
    _start(socket_path, "import")


def attach(socket_path, nonce):
    """Called by the daemon's bootstrap: (re)connects to SOCKET_PATH, saying
    "how": "attach" and NONCE, with one helper thread per process.

    A nonce seen before is ignored, so a bootstrap that runs twice does not
    disturb the connection the first one made.
    """
    try:
        with _lock:
            _forget_if_forked()
            if nonce in _state.nonces:
                return
            _state.nonces.add(nonce)
            _retarget((socket_path, "attach", _checked_nonce(nonce)))
    except BaseException:
        pass


def _start_from_env():
    """The .pth file's entry point, when PYMEMD_HELPER=1."""
    _start(None, "env")


def _start(socket_path, how):
    try:
        with _lock:
            _forget_if_forked()
            if _state.running:
                return
            _retarget((socket_path, how, None))
    except BaseException:
        pass


def _checked_nonce(nonce):
    """The nonce as the hello may carry it: 32 lowercase hex digits, or None."""
    if type(nonce) is str and len(nonce) == 32 and \
            all(c in "0123456789abcdef" for c in nonce):
        return nonce
    return None


def _retarget(target):
    """Points the helper at TARGET: starts the thread, or makes the running
    one drop its connection (or its back-off sleep) and connect anew.
    Called with _lock held."""
    _install_hooks()
    _state.target = target
    _state.generation += 1
    if not _state.running:
        _state.wake = _thread.allocate_lock()
        _state.wake.acquire()
        _thread.start_new_thread(_thread_main, (_state.pid,))
        _state.running = True
        return
    _wake_thread()


def _wake_thread():
    """Interrupts the helper thread's recv() or back-off sleep; _lock held."""
    sock = _state.sock
    if sock is not None:
        try:
            sock.shutdown(2)  # SHUT_RDWR: its recv() returns at once
        except Exception:
            pass
    try:
        _state.wake.release()
    except Exception:
        pass  # not sleeping: it is released already


def _forget_if_forked():
    """A forked child has no helper thread and must not use its parent's
    socket; the at-fork hook does this, and this catches forks it missed
    (os.fork() before the hook was registered).  _lock held."""
    pid = os.getpid()
    if _state.pid != pid:
        _state.pid = pid
        _state.running = False
        _close_quietly(_state.sock)
        _state.sock = None


def _close_quietly(sock):
    if sock is not None:
        try:
            sock.close()
        except Exception:
            pass


def _after_fork_in_child():
    """The child of os.fork(): forget the parent's thread and connection.
    A helper the program asked for (env, import) is started again, since the
    child is another process with its own heap; an attached one is not: the
    daemon attaches to the processes it wants."""
    global _lock
    try:
        _lock = _thread.allocate_lock()  # the parent's may have been held
        _forget_if_forked()
        target = _state.target
        if target is not None and target[1] != "attach":
            _retarget(target)
        else:
            _state.target = None
    except BaseException:
        pass


def _on_gc(phase, info, _time=time.time, _state=_state):
    """gc.callbacks hook: remembers when the oldest generation was last
    collected.  Defaults keep what it needs alive during finalization."""
    try:
        if phase == "stop" and info.get("generation") == 2:
            _state.last_full_collection = _time()
    except BaseException:
        pass


def _install_hooks():
    """Once per process: the gc hook and the at-fork hook.  _lock held."""
    if _state.hooks_installed:
        return
    _state.hooks_installed = True
    callbacks = getattr(gc, "callbacks", None)
    if type(callbacks) is list:
        callbacks.append(_on_gc)
    register = getattr(os, "register_at_fork", None)
    if register is not None:
        register(after_in_child=_after_fork_in_child)


def _thread_main(pid):
    """The helper thread: every exception ends here, silently."""
    try:
        from pymemd_helper import _connection
        _connection.run(sys.modules[__name__])
    except BaseException:
        pass
    finally:
        try:
            with _lock:
                if _state.pid == pid:
                    _state.running = False
                    _state.sock = None
        except BaseException:
            pass
