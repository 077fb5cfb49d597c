"""The helper's protocol frames (pymemd_helper._frames): bounds, framing,
and what it makes of what the daemon sends."""

import socket
import unittest

from pymemd_helper import _frames


def _pair():
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)


def _request(**members):
    message = {"v": 1, "type": "request", "id": 7, "top": 10, "sites": 0, "trace": 0,
               "collect": False, "budget": 1.0}
    message.update(members)
    return message


class CutTest(unittest.TestCase):
    def test_short_text_kept(self):
        self.assertEqual(_frames.cut("builtins.dict", 64), "builtins.dict")

    def test_controls_replaced(self):
        self.assertEqual(_frames.cut("a\x1b[5mb\x7f\x85", 64), "a\ufffd[5mb\ufffd\ufffd")

    def test_bytes_counted_not_characters(self):
        # "é" is two bytes: five of them do not fit in nine bytes.
        cut = _frames.cut("\u00e9" * 5, 9)
        self.assertEqual(cut, "\u00e9" * 4)
        self.assertLessEqual(len(cut.encode("utf-8")), 9)

    def test_cut_on_a_character_boundary(self):
        for limit in range(0, 13):
            cut = _frames.cut("\u20ac" * 4, limit)  # three bytes each
            self.assertEqual(len(cut), limit // 3)

    def test_lone_surrogate_made_utf8(self):
        cut = _frames.cut("name\udcff", 64)
        cut.encode("utf-8")  # raises if it is not UTF-8
        self.assertTrue(cut.startswith("name"))


class FrameTest(unittest.TestCase):
    def test_encode_is_length_then_ascii_json(self):
        frame = _frames.encode({"v": 1, "text": "\u00e9"})
        size = int.from_bytes(frame[:4], "big")
        self.assertEqual(size, len(frame) - 4)
        self.assertEqual(_frames.loads(frame[4:].decode("ascii")), {"v": 1, "text": "\u00e9"})

    def test_nan_refused(self):
        with self.assertRaises(ValueError):
            _frames.encode({"v": float("nan")})

    def test_too_large_refused(self):
        with self.assertRaises(ValueError):
            _frames.encode({"v": "x" * _frames.MAX_FRAME})

    def test_round_trip(self):
        a, b = _pair()
        with a, b:
            message = {"v": 1, "type": "summary", "id": 3, "list": [1, 2.5, None, True, "s"]}
            _frames.send(a, message)
            self.assertEqual(_frames.receive(b), message)

    def test_end_of_connection(self):
        a, b = _pair()
        with b:
            a.close()
            self.assertIsNone(_frames.receive(b))

    def test_truncated_body_is_the_end(self):
        a, b = _pair()
        with b:
            with a:
                a.sendall((100).to_bytes(4, "big") + b"{\"v\":")
            self.assertIsNone(_frames.receive(b))

    def test_oversized_frame_is_a_protocol_error(self):
        a, b = _pair()
        with a, b:
            a.sendall((_frames.MAX_FRAME + 1).to_bytes(4, "big"))
            with self.assertRaises(_frames.ProtocolError):
                _frames.receive(b)

    def test_empty_frame_is_a_protocol_error(self):
        a, b = _pair()
        with a, b:
            a.sendall((0).to_bytes(4, "big"))
            with self.assertRaises(_frames.ProtocolError):
                _frames.receive(b)

    def test_not_an_object_is_empty(self):
        a, b = _pair()
        with a, b:
            for body in (b"[1,2]", b"not json", b"{\"v\":1} trailing", b"\xff\xfe"):
                a.sendall(len(body).to_bytes(4, "big") + body)
                self.assertEqual(_frames.receive(b), {})

    def test_binary_frame_must_start_with_nul(self):
        a, b = _pair()
        with a, b:
            with self.assertRaises(ValueError):
                _frames.send_binary(a, b"{}")
            _frames.send_binary(a, b"\0graph")
            self.assertEqual(b.recv(16), (6).to_bytes(4, "big") + b"\0graph")


class RequestTest(unittest.TestCase):
    def test_valid_request(self):
        request = _frames.parse_request(_request(graph={"objects": 1000, "edges": 5000}))
        self.assertIsNotNone(request)
        self.assertIsNone(request.problem)
        self.assertEqual((request.id, request.top, request.graph), (7, 10, (1000, 5000)))

    def test_not_requests_ignored(self):
        for message in (_request(v=2), _request(type="hello"), _request(id=0),
                        _request(id=2 ** 31), _request(id="7"), _request(id=True)):
            self.assertIsNone(_frames.parse_request(message), message)

    def test_out_of_bounds_named(self):
        cases = {"top": 0, "sites": 1001, "trace": 101, "collect": 1, "budget": 0.01,
                 "light": "yes", "graph": {"objects": 0, "edges": 1}}
        for name, value in cases.items():
            request = _frames.parse_request(_request(**{name: value}))
            self.assertIsNotNone(request, name)
            self.assertIn(repr(name), request.problem or "", name)

    def test_bool_is_not_an_int(self):
        request = _frames.parse_request(_request(top=True))
        self.assertIn("'top'", request.problem or "")


class SummaryTest(unittest.TestCase):
    def test_shortened_to_fit(self):
        types = [{"name": "t%06d" % i + "x" * 100, "count": 1, "bytes": 10} for i in range(20000)]
        body = {"census": {"types": types, "other": {"count": 0, "bytes": 0}}}
        message = _frames.summary(1, body)
        frame = _frames.encode(message)
        self.assertLessEqual(len(frame) - 4, _frames.MAX_FRAME)
        kept = message["summary"]["census"]["types"]
        other = message["summary"]["census"]["other"]
        # Nothing is lost: what was cut is counted as "other".
        self.assertEqual(len(kept) + other["count"], 20000)
        self.assertEqual(10 * len(kept) + other["bytes"], 200000)

    def test_error_message_bounded(self):
        message = _frames.error(5, "x" * 5000)
        self.assertEqual(len(message["message"]), _frames.MAX_MESSAGE)


if __name__ == "__main__":
    unittest.main()
