"""pymalloc's figures (pymemd_helper._mallocstats): the parser on the
report of the interpreter running the test, and on text that is not one."""

import os
import sys
import tempfile
import unittest

from pymemd_helper import _mallocstats


def _debugmallocstats():
    """sys._debugmallocstats()'s report, taken from stderr."""
    saved = os.dup(2)
    with tempfile.TemporaryFile() as f:
        os.dup2(f.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        f.seek(0)
        return f.read().decode("ascii", "replace")


class ParseTest(unittest.TestCase):
    def test_this_interpreters_report(self):
        report = _debugmallocstats()
        figures = _mallocstats.parse(report)
        if figures is None:
            self.skipTest("this interpreter's allocator is not pymalloc")
        self.assertGreater(figures["arenas"], 0)
        self.assertGreater(figures["allocated_bytes"], 0)
        # Every block and overhead lies inside the arenas.
        self.assertLessEqual(figures["allocated_bytes"] + figures["available_bytes"]
                             + figures["free_pool_bytes"], figures["arena_bytes"])

    def test_take_agrees_with_the_report(self):
        figures = _mallocstats.take()
        if figures is None:
            self.skipTest("no pymalloc report through _ctypes here")
        report = _mallocstats.parse(_debugmallocstats())
        self.assertIsNotNone(report)
        # Two reports a moment apart: the arenas the same or within a few.
        self.assertLessEqual(abs(figures["arenas"] - report["arenas"]), 8)
        self.assertEqual(figures["arena_bytes"] // figures["arenas"],
                         report["arena_bytes"] // report["arenas"])

    def test_numbers_with_commas(self):
        report = "\n".join([
            "# arenas allocated total           =                1,337",
            "# arenas allocated current         =                   12",
            "12 arenas * 1048576 bytes/arena    =           12,582,912",
            "# bytes in allocated blocks        =            9,000,000",
            "# bytes in available blocks        =              100,000",
            "3 unused pools * 16384 bytes       =               49,152",
            "# bytes lost to pool headers       =               36,864",
            "# bytes lost to quantization       =               40,000",
            "# bytes lost to arena alignment    =                    0",
        ])
        self.assertEqual(_mallocstats.parse(report), {
            "arenas": 12, "arena_bytes": 12582912, "allocated_bytes": 9000000,
            "available_bytes": 100000, "free_pool_bytes": 49152, "overhead_bytes": 76864})

    def test_not_a_report(self):
        self.assertIsNone(_mallocstats.parse(""))
        self.assertIsNone(_mallocstats.parse("# arenas allocated current = 3\n"))


if __name__ == "__main__":
    unittest.main()
