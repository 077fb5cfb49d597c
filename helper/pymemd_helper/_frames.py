"""Frames and messages of the helper protocol (docs/helper-protocol.md):
a 4-byte big-endian length, then that many bytes of UTF-8 JSON with "v": 1.

Every bound the daemon checks is applied here, so that a summary is never
rejected for a string one character too long.

JSON is written and read by the json package's own C functions (``_json``)
where the interpreter has them: the package itself imports ``re`` and with
it a dozen modules that would stay in the process (pymemd(8), "HEAP
SUMMARIES", says what the helper leaves).
"""

import sys

try:
    import _json
except ImportError:  # pragma: no cover - CPython builds it in
    _json = None

VERSION = 1
MAX_FRAME = 1024 * 1024
MAX_ID = 2 ** 31 - 1
MAX_MESSAGE = 1024
MAX_GRAPH = 2 ** 31


class ProtocolError(Exception):
    """The daemon broke the framing: the connection cannot go on."""


# C0, DEL and C1: the daemon rejects a string holding one, since what the
# helper says ends up on terminals (a class may be named "\x1b[5m").
_CONTROL = dict.fromkeys(list(range(0x20)) + list(range(0x7f, 0xa0)), "\ufffd")


def cut(text, limit):
    """TEXT in at most LIMIT bytes of UTF-8, cut on a character boundary,
    each control character replaced by U+FFFD.

    Bytes are counted rather than characters so that the bound holds however
    the daemon counts; lone surrogates (undecodable file names) become '?',
    since they are not UTF-8 at all.
    """
    data = text.translate(_CONTROL).encode("utf-8", "replace")
    if len(data) <= limit:
        return data.decode("utf-8")
    return data[:limit].decode("utf-8", "ignore")


def python_version():
    return cut(sys.version.split()[0], 64)


def implementation():
    return cut(sys.implementation.name, 32)


def _refuse(value):
    raise TypeError("%s is not JSON" % type(value).__name__)


def _refuse_constant(name):
    raise ValueError("%s is not a number" % name)


_SPACE = " \t\n\r"


class _Decoding(object):
    """What _json's scanner reads of its context (json.JSONDecoder's)."""
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_refuse_constant)
    memo = None


if _json is not None:
    _encoder = _json.make_encoder(None, _refuse, _json.encode_basestring_ascii, None,
                                  ":", ",", False, False, False)
    _scanner = _json.make_scanner(_Decoding())

    def dumps(message):
        """MESSAGE as compact ASCII JSON; NaN and infinities refused."""
        return "".join(_encoder(message, 0))

    def loads(text):
        """The JSON value TEXT holds; ValueError when it holds none."""
        start = len(text) - len(text.lstrip(_SPACE))
        try:
            value, end = _scanner(text, start)
        except StopIteration:
            raise ValueError("no JSON value")
        if text[end:].strip(_SPACE):
            raise ValueError("extra data after the JSON value")
        return value
else:  # pragma: no cover
    def dumps(message):
        import json
        return json.dumps(message, separators=(",", ":"), allow_nan=False)

    def loads(text):
        import json
        return json.loads(text)


def encode(message):
    """MESSAGE as a frame (ASCII JSON, so valid UTF-8 whatever it holds)."""
    body = dumps(message).encode("ascii")
    if not 1 <= len(body) <= MAX_FRAME:
        raise ValueError("a message of %d bytes does not fit in a frame" % len(body))
    return len(body).to_bytes(4, "big") + body


def send(sock, message):
    sock.sendall(encode(message))


def send_binary(sock, body):
    """A binary frame (the object graph's): BODY begins with a NUL byte,
    which no JSON body does."""
    if not 1 <= len(body) <= MAX_FRAME or body[:1] != b"\0":
        raise ValueError("a binary frame of %d bytes" % len(body))
    sock.sendall(len(body).to_bytes(4, "big") + body)


def _receive_exactly(sock, size):
    chunks = []
    while size > 0:
        chunk = sock.recv(min(size, 65536))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def receive(sock):
    """The next message (a dict, {} when its body is not a JSON object), or
    None at the end of the connection."""
    header = _receive_exactly(sock, 4)
    if header is None:
        return None
    size = int.from_bytes(header, "big")
    if not 1 <= size <= MAX_FRAME:
        raise ProtocolError("frame of %d bytes" % size)
    body = _receive_exactly(sock, size)
    if body is None:
        return None
    try:
        message = loads(body.decode("utf-8"))
    except ValueError:
        return {}
    return message if type(message) is dict else {}


def hello(pid, start_time, nonce, how):
    return {"v": VERSION, "type": "hello", "pid": pid, "start_time": start_time,
            "nonce": nonce, "python": python_version(),
            "implementation": implementation(), "how": how}


def error(request_id, message):
    return {"v": VERSION, "type": "error", "id": request_id,
            "message": cut(str(message), MAX_MESSAGE)}


def summary(request_id, body):
    """The summary message, its lists shortened until it fits in a frame:
    the bounds allow 1000 sites with 4096-byte file names, four times more."""
    message = {"v": VERSION, "type": "summary", "id": request_id, "summary": body}
    while True:
        try:
            encode(message)
            return message
        except ValueError:
            if not _shorten(body):
                raise


def _shorten(body):
    """Halves the longest list of BODY; False when nothing is left to cut."""
    tracemalloc = body.get("tracemalloc")
    if tracemalloc and tracemalloc.get("sites"):
        sites = tracemalloc["sites"]
        del sites[len(sites) // 2:]
        return True
    census = body.get("census")
    if census and len(census["types"]) > 1:
        types = census["types"]
        kept = len(types) // 2
        other = census["other"]
        for entry in types[kept:]:
            other["count"] += entry["count"]
            other["bytes"] += entry["bytes"]
        del types[kept:]
        return True
    return False


class Request(object):
    """A request's members; PROBLEM says which one is out of its bounds."""

    def __init__(self, message):
        self.id = message["id"]
        self.problem = None
        self.top = self._int(message, "top", 1, 1000)
        self.sites = self._int(message, "sites", 0, 1000)
        self.trace = self._int(message, "trace", -1, 100)
        self.collect = message.get("collect")
        if type(self.collect) is not bool:
            self._bad("collect")
        self.light = message.get("light", False)
        if type(self.light) is not bool:
            self._bad("light")
        self.budget = message.get("budget")
        if type(self.budget) not in (int, float) or not 0.05 <= self.budget <= 60:
            self._bad("budget")
        self.graph = self._graph(message.get("graph"))

    def _graph(self, graph):
        """(most objects, most edges) of the object graph asked for, or
        None: no graph."""
        if graph is None:
            return None
        if type(graph) is not dict:
            self._bad("graph")
            return None
        limits = (graph.get("objects"), graph.get("edges"))
        if any(type(value) is not int or not 1 <= value <= MAX_GRAPH for value in limits):
            self._bad("graph")
            return None
        return limits

    def _int(self, message, name, low, high):
        value = message.get(name)
        if type(value) is not int or not low <= value <= high:
            self._bad(name)
            return low
        return value

    def _bad(self, name):
        if self.problem is None:
            self.problem = "invalid request: %r is missing or out of its bounds" % name


def parse_request(message):
    """A Request, or None for what is not a request with a usable id: the
    protocol has the helper ignore what it cannot parse."""
    version = message.get("v")
    if type(version) is not int or version != VERSION or message.get("type") != "request":
        return None
    request_id = message.get("id")
    if type(request_id) is not int or not 1 <= request_id <= MAX_ID:
        return None
    return Request(message)
