"""The census (pymemd_helper._census): long containers read a slice at a
time, chunks of mixed types, and the collector paused while it runs."""

import gc
import unittest

from pymemd_helper import _census, _pacer


class RecordingPacer(_pacer.Pacer):
    """A pacer that notes whether the collector was on at each breath."""

    def __init__(self):
        _pacer.Pacer.__init__(self, 60)
        self.enabled = []

    def breathe(self):
        self.enabled.append(gc.isenabled())
        _pacer.Pacer.breathe(self)


def counts_by_type():
    census = _census.Census(_pacer.Pacer(60), walk=True)
    census.run()
    found = census.result(1000)["types"]
    return census, {entry["type"]: entry["count"] for entry in found}


class Holder(object):
    pass


class CensusTest(unittest.TestCase):
    def setUp(self):
        gc.collect()

    def test_long_containers_counted_once(self):
        """Strings and floats that only long containers hold (untracked
        objects, reached through them) are each counted once, whether the
        container is read whole or a slice at a time."""
        _, before = counts_by_type()
        n = 3 * _census.MAX_SLICE
        long_list = ["l%d" % i for i in range(n)]
        long_dict = {"k%d" % i: "v%d" % i for i in range(n)}
        long_set = {"s%d" % i for i in range(n)}
        long_tuple = tuple(float(i) + 0.5 for i in range(n))
        short = [["x%d" % i] for i in range(1000)]  # short lists: the traversal
        shared = ["l0"] + long_list[:10]  # held twice: counted once, by id
        # A tracked list holds them all: the test's own frame is not walked.
        keep = [long_list, long_dict, long_set, long_tuple, short, shared]
        calls = []
        original = _census.Census._queue_long

        def queue_long(self, kind, objects, sizes):
            calls.extend(size for size in sizes if size > _census.LONG_BYTES)
            return original(self, kind, objects, sizes)

        _census.Census._queue_long = queue_long
        try:
            census, after = counts_by_type()
        finally:
            _census.Census._queue_long = original
        self.assertTrue(census.complete)
        self.assertGreaterEqual(len(calls), 4, "the long containers were not read a slice at a time")
        strings = after.get("builtins.str", 0) - before.get("builtins.str", 0)
        floats = after.get("builtins.float", 0) - before.get("builtins.float", 0)
        # The list, the dict's keys and values, the set and the short lists'
        # strings; a few hundred more are the test's own (the type names in
        # BEFORE, the interpreters' caches).  Counting a container twice, or
        # missing one, is off by N = 49152.
        expected = n + 2 * n + n + 1000
        self.assertLessEqual(abs(strings - expected), 500, (strings, expected))
        self.assertLessEqual(abs(floats - n), 500, (floats, n))
        del long_list, long_dict, long_set, long_tuple, short, shared, keep

    def test_mixed_chunks_counted_exactly(self):
        """Chunks where a few other types join the usual ones: every object
        is counted once (the usual types in their passes, the rest apart)."""
        _, before = counts_by_type()
        n = 40000
        # Lists alone first, so that they become the usual type; then a
        # stretch where instances and dicts join them in the same chunks.
        heap = [[i] for i in range(n)]
        holders = dicts = 0
        for i in range(n // 4):
            heap.append([i])
            if i % 97 == 0:
                heap.append(Holder())
                holders += 1
            if i % 199 == 0:
                heap.append({i: i})
                dicts += 1
        calls = []
        original = _census.Census._count_usual

        def count_usual(self, chunk, keys):
            rest = original(self, chunk, keys)
            if rest is not None and len(rest[0]) < len(chunk):
                calls.append(len(rest[0]))
            return rest

        _census.Census._count_usual = count_usual
        try:
            _, after = counts_by_type()
        finally:
            _census.Census._count_usual = original
        self.assertTrue(calls, "no chunk mixed usual types with others")
        name = Holder.__module__ + "." + Holder.__qualname__
        self.assertEqual(after.get(name, 0) - before.get(name, 0), holders)
        lists = after["builtins.list"] - before.get("builtins.list", 0)
        self.assertLessEqual(abs(lists - (n + n // 4 + 1)), 20, lists)
        self.assertGreaterEqual(after["builtins.dict"] - before.get("builtins.dict", 0), dicts)
        del heap

    def test_collector_paused_and_restored(self):
        self.assertTrue(gc.isenabled())
        pacer = RecordingPacer()
        _census.Census(pacer, walk=True).run()
        self.assertTrue(pacer.enabled)
        self.assertFalse(any(pacer.enabled), "the collector ran during the census")
        self.assertTrue(gc.isenabled())

    def test_collector_left_off(self):
        gc.disable()
        try:
            pacer = RecordingPacer()
            _census.Census(pacer, walk=False).run()
            self.assertFalse(gc.isenabled())
        finally:
            gc.enable()

    def test_collector_restored_after_error(self):
        class Failing(_pacer.Pacer):
            def breathe(self):
                raise RuntimeError("stop")

        with self.assertRaises(RuntimeError):
            _census.Census(Failing(60), walk=True).run()
        self.assertTrue(gc.isenabled())


if __name__ == "__main__":
    unittest.main()
