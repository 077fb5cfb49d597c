"""Names of the paths to holders (pymemd_helper._names): what a "name"
message may hold, and names reached from a module global."""

import sys
import types
import unittest

from pymemd_helper import _names
from pymemd_helper._graph import CLASS_ATTRIBUTE, GLOBAL


def _message(**members):
    message = {"v": 1, "type": "name", "id": 4, "paths": [{"root": [GLOBAL, 1, 2], "steps": [3]}]}
    message.update(members)
    return message


class ParseTest(unittest.TestCase):
    def test_valid(self):
        request = _names.parse(_message())
        self.assertEqual((request.id, request.paths), (4, [([GLOBAL, 1, 2], [3])]))

    def test_invalid_ignored(self):
        bad = [
            _message(v=2), _message(id=0), _message(id=2 ** 31), _message(paths={}),
            _message(paths=[{"root": [GLOBAL, 1], "steps": []}]),
            _message(paths=[{"root": [9, 1, 2], "steps": []}]),
            _message(paths=[{"root": [GLOBAL, -1, 2], "steps": []}]),
            _message(paths=[{"root": [GLOBAL, 1, 2], "steps": [2 ** 64]}]),
            _message(paths=[{"root": [GLOBAL, 1, 2], "steps": [1] * (_names.MAX_STEPS + 1)}]),
            _message(paths=[{"root": [GLOBAL, 1, 2], "steps": []}] * (_names.MAX_PATHS + 1)),
            _message(paths=["root"]),
        ]
        for message in bad:
            self.assertIsNone(_names.parse(message), message)


class Holder(object):
    pass


class NamerTest(unittest.TestCase):
    def setUp(self):
        self.module = types.ModuleType("pymemd_names_fixture")
        self.module.CACHE = {"rows": [bytearray(16)]}
        sys.modules[self.module.__name__] = self.module

    def tearDown(self):
        del sys.modules[self.module.__name__]

    def test_module_global_and_key(self):
        cache = self.module.CACHE
        rows = cache["rows"]
        names = _names.Namer().path([GLOBAL, id(self.module.__dict__), id(cache)], [id(rows), id(rows[0])])
        self.assertEqual(names["root"], ["pymemd_names_fixture", "CACHE"])
        self.assertIn("'rows'", names["steps"][0])
        self.assertIsNotNone(names["steps"][1])

    def test_gone_step_and_after_unnamed(self):
        cache = self.module.CACHE
        gone = id(object())
        names = _names.Namer().path([GLOBAL, id(self.module.__dict__), id(cache)], [gone, id(cache["rows"])])
        self.assertEqual(names["steps"], [None, None])

    def test_unknown_module_unnamed(self):
        names = _names.Namer().path([GLOBAL, id({}), id(self.module.CACHE)], [])
        self.assertIsNone(names["root"])

    def test_class_attribute(self):
        Holder.kept = [1, 2, 3]
        try:
            names = _names.Namer().path([CLASS_ATTRIBUTE, id(Holder), id(Holder.kept)], [])
            self.assertEqual(names["root"][1], "kept")
            self.assertIn("Holder", names["root"][0])
        finally:
            del Holder.kept

    def test_answer_fits_a_frame(self):
        cache = self.module.CACHE
        request = _names.Request(9, [([GLOBAL, id(self.module.__dict__), id(cache)], [id(cache["rows"])])])
        message = _names.answer(request)
        self.assertEqual((message["type"], message["id"]), ("names", 9))
        self.assertEqual(message["names"][0]["root"], ["pymemd_names_fixture", "CACHE"])


if __name__ == "__main__":
    unittest.main()
