"""Bounds what a summary costs the process: the helper lets other threads
take the GIL between pieces of work, measures the longest piece
("gil_max_hold"), and stops at the request's budget."""

import _thread
import time

# How long breathe() sleeps.  time.sleep(0) releases the GIL, but a thread
# waiting for it restarts its switch-interval timer each time it is woken and
# finds the GIL taken again, so chunks shorter than the interval could starve
# it (200 ms stalls measured on 3.8); a sleep just long enough for it to wake
# up and take the GIL hands over for real.
BREATH = 0.0001

# The thread's own CPU time (3.7+): how much of a long stretch the helper
# ran, and how much the machine kept it waiting while it held the GIL.
_THREAD_TIME = getattr(time, "thread_time", None)


class Pacer(object):
    """The clock of one request.

    A stretch runs from the moment the helper got the GIL back to the next
    breathe(): an upper bound on how long it kept another thread waiting,
    since the interpreter may also switch threads inside the stretch.
    """

    def __init__(self, budget, started=None):
        now = time.perf_counter()
        self.started = now if started is None else started
        self.deadline = self.started + budget
        self.stretch_began = now
        self.max_hold = 0.0
        self.cpu_began = _THREAD_TIME() if _THREAD_TIME is not None else 0.0
        self.cpu_thread = _thread.get_ident()  # whose CPU time cpu_began is
        self.max_hold_cpu = None  # the thread's CPU time in that stretch (None before 3.7)

    def breathe(self):
        """Lets a waiting thread take the GIL (see BREATH)."""
        now = time.perf_counter()
        if now - self.stretch_began > self.max_hold:
            self.max_hold = now - self.stretch_began
            same = self.cpu_thread == _thread.get_ident()
            if _THREAD_TIME is not None:
                self.max_hold_cpu = _THREAD_TIME() - self.cpu_began if same else None
        time.sleep(BREATH)
        self.stretch_began = time.perf_counter()
        if _THREAD_TIME is not None:
            self.cpu_began = _THREAD_TIME()
            self.cpu_thread = _thread.get_ident()

    def over_budget(self):
        return time.perf_counter() >= self.deadline

    def elapsed(self):
        return time.perf_counter() - self.started

    def stretch(self):
        """How long the current stretch has lasted."""
        return time.perf_counter() - self.stretch_began
