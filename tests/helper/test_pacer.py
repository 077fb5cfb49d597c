"""The GIL budget's clock (pymemd_helper._pacer)."""

import time
import unittest

from pymemd_helper import _pacer


class PacerTest(unittest.TestCase):
    def test_longest_stretch_measured(self):
        pacer = _pacer.Pacer(10)
        time.sleep(0.05)
        pacer.breathe()
        time.sleep(0.001)
        pacer.breathe()
        self.assertGreaterEqual(pacer.max_hold, 0.05)
        # The stretch began again at the last breath (a loaded machine may
        # take a while to get back to us, never the whole second).
        self.assertLess(pacer.stretch(), 1.0)

    def test_longest_stretch_cpu(self):
        """The CPU time of the longest stretch: a sleep holds no CPU, a
        busy loop all of it (3.7+: time.thread_time)."""
        if not hasattr(time, "thread_time"):
            self.skipTest("no time.thread_time before 3.7")
        pacer = _pacer.Pacer(10)
        time.sleep(0.05)
        pacer.breathe()
        self.assertLess(pacer.max_hold_cpu, 0.025)
        began = time.perf_counter()
        while time.perf_counter() - began < 0.2:
            pass
        pacer.breathe()
        self.assertGreaterEqual(pacer.max_hold, 0.2)
        # Busy the whole stretch, unless the machine took the CPU away.
        self.assertGreater(pacer.max_hold_cpu, 0.0)
        self.assertLessEqual(pacer.max_hold_cpu, pacer.max_hold + 0.01)

    def test_budget(self):
        self.assertFalse(_pacer.Pacer(60).over_budget())
        pacer = _pacer.Pacer(0.05)
        time.sleep(0.06)
        self.assertTrue(pacer.over_budget())
        self.assertGreaterEqual(pacer.elapsed(), 0.06)

    def test_started_earlier(self):
        pacer = _pacer.Pacer(1, started=time.perf_counter() - 2)
        self.assertTrue(pacer.over_budget())


if __name__ == "__main__":
    unittest.main()
