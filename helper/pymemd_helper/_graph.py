"""The object graph behind retained sizes (docs/helper-protocol.md, "The
object graph"): every object the collector tracks and every object they
reach, each with its type, its size and the addresses it refers to,
streamed to the daemon in binary frames a chunk at a time; and, when the
daemon asks, the names of the references along a few paths.

Like the census it runs none of the program's code: types are named and
sized through type's own C getters and C ``__sizeof__`` methods, references
come from ``gc.get_referents`` and C methods called unbound (``dict.keys``,
``list.__getitem__``), and an attribute is read with
``object.__getattribute__`` only where no descriptor of its class could run.

What it holds at once is bounded: the lists ``gc.get_objects()`` returns (8
bytes a tracked object, as for the census), one chunk's references, one
frame (1 MiB), and the ids of the last 65536 untracked objects it declared.
Containers of more than 65536 items are read a slice at a time.

The walk is not atomic: the program runs between chunks.  An object made
meanwhile may be referred to and never declared; the daemon drops such
references.
"""

import _thread
import gc
import struct
import sys
import time
from array import array
from bisect import bisect_right
from itertools import accumulate, chain, compress, filterfalse, islice, repeat, tee
from _operator import add, is_, mul, not_

from pymemd_helper import _frames
from pymemd_helper._census import PausedCollector, snapshot, type_name
from pymemd_helper._frames import cut

TYPES, NODES, EDGES, ROOTS, END, IMMORTAL = 1, 2, 3, 4, 5, 6
GLOBAL, CLASS_ATTRIBUTE, LOCAL = 1, 2, 3
REASON_NONE, REASON_OBJECTS, REASON_EDGES, REASON_TIME, REASON_FAILED = 0, 1, 2, 3, 4
# What _by_kind () sorts objects into.
DICT, LEAF, OTHER = "dict", "leaf", "other"
Py_TPFLAGS_HAVE_GC = 1 << 14

HEADER = struct.Struct("<BBBBIII")
END_RECORD = struct.Struct("<QQQIIII")
TRACKED = 1 << 31
MAX_TYPES = 65536
TYPE_NAME_LIMIT = 256
# What a frame holds after its header.
ROOM = _frames.MAX_FRAME - HEADER.size
NODE_BYTES = 24
EDGE_BYTES = 8
ROOT_BYTES = 13
# How long one chunk should keep the GIL, in seconds, and its bounds.
CHUNK_TARGET = 0.004
MIN_CHUNK = 256
MAX_CHUNK = 8192
# Objects read in one go outside chunks (roots, the items of long
# containers): past a few thousand, the lists made for them no longer stay
# in the caches, and each object costs more.  The untracked objects are
# declared a chunk (as adapted to CHUNK_TARGET) at a time.
BATCH = 4096
# Untracked containers (tuples, dicts of atomic values) nested deeper than
# this are left out.
MAX_DEPTH = 1000
# Containers with more items are read a slice of this many at a time.
SLICE = 1 << 16
# Untracked objects remembered as declared (twice this many, in two
# generations), so that one referred to from many places (a shared string)
# is declared about once.
RECENT_LIMIT = 1 << 16
FRAMES_PER_THREAD = 128
CO_OPTIMIZED = 0x0001

_BIG_ENDIAN = sys.byteorder == "big"
_MRO = type.__dict__["__mro__"].__get__
_DICT = type.__dict__["__dict__"].__get__
_FLAGS = type.__dict__["__flags__"].__get__
_C_METHOD = type(object.__dict__["__sizeof__"])
_GC_HEADER = sys.getsizeof([]) - [].__sizeof__()
_MODULE_TYPE = type(sys)
_MODULE_DICT = _MODULE_TYPE.__dict__["__dict__"].__get__
_get_referents = gc.get_referents
_is_tracked = gc.is_tracked
_getsizeof = sys.getsizeof
_LENGTHS = {"list": list.__len__, "tuple": tuple.__len__, "dict": dict.__len__,
            "set": set.__len__, "frozenset": frozenset.__len__}

# Objects never freed: never declared, and the daemon, told their
# addresses first, leaves references to them out, so that a million lists
# of small ints cost it no edges.
_IMMORTAL = [None, True, False, Ellipsis, NotImplemented, (), "", b""]
_IMMORTAL += list(range(-5, 257)) + [chr(i) for i in range(256)]
_SKIP = frozenset(map(id, _IMMORTAL))

# The helper's own objects are left out of the graph as the immortal ones
# are, at most this many (the daemon takes 65536 addresses in all).
MAX_OWN = 60000
_PACKAGE = __name__.partition(".")[0]
_FUNCTION = type(lambda: None)
_FUNCTION_GLOBALS = _FUNCTION.__dict__["__globals__"].__get__
_TYPE_MODULE = type.__dict__["__module__"].__get__
# What the helper's namespaces hold is its own but for these (the
# interpreter's, or another module's: a builtin function, a C type's
# methods), modules, and the types and functions of other modules.
_NOT_OWN = frozenset(map(id, (_MODULE_TYPE, type(len), type(dict.keys), type(dict.__len__), type([].__len__),
                              type(_FUNCTION.__dict__["__globals__"]), type(_FUNCTION.__dict__["__code__"]),
                              type(dict.__dict__["fromkeys"]))))


def _le(values):
    """VALUES (an array) as little-endian bytes."""
    if _BIG_ENDIAN:
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


def _first_sizeof(cls):
    """The first __sizeof__ up CLS's MRO, or None."""
    for base in _MRO(cls):
        method = _DICT(base).get("__sizeof__")
        if method is not None:
            return method
    return None


def _c_sizeof(cls):
    """The nearest C __sizeof__ up CLS's MRO, for a class with a Python one
    of its own, which is never called."""
    for base in _MRO(cls):
        method = _DICT(base).get("__sizeof__")
        if type(method) is _C_METHOD:
            return method
    return object.__dict__["__sizeof__"]


def _ndarray():
    """numpy's ndarray and the C getter of its "base", when the program
    imported numpy (it is never imported here)."""
    numpy = sys.modules.get("numpy")
    if type(numpy) is not _MODULE_TYPE:
        return None, None
    ndarray = _MODULE_DICT(numpy).get("ndarray")
    if type(ndarray) is not type:
        return None, None
    base = _DICT(ndarray).get("base")
    if type(base).__name__ != "getset_descriptor":
        return None, None
    return ndarray, base.__get__


class Frames(object):
    """Writes the binary frames of request ID with SEND (bytes -> None)."""

    def __init__(self, send, request_id):
        self.send = send
        self.request_id = request_id

    def frame(self, kind, count, extra, parts):
        body = [HEADER.pack(0, ord("G"), kind, 0, self.request_id, count, extra)]
        body.extend(parts)
        self.send(b"".join(body))


def _module_namespaces():
    """(name, module, its namespace) of each module in sys.modules, read
    with C code only; a module whose namespace cannot be read is left out."""
    modules = sys.modules
    if type(modules) is not dict:
        return
    for name, module in list(dict.items(modules)):
        if not any(map(is_, _MRO(type(module)), repeat(_MODULE_TYPE))):
            continue
        try:
            namespace = _MODULE_DICT(module)
        except Exception:
            continue
        yield name, module, namespace


def _is_own_module(name):
    return type(name) is str and (name == _PACKAGE or name.startswith(_PACKAGE + "."))


def _own_ids(own_thread):
    """The ids of what is the helper's own and none of the program's: its
    modules and their namespaces, the functions, tables and classes (and
    their instances) these hold, and its own thread's frames and the
    values of their locals (those not followed: they may be the walk's
    lists).  Read with C code only, MAX_OWN at most."""
    own = set()
    others = set()  # namespaces of the other modules: never the helper's
    namespaces = []
    if type(sys.modules) is not dict:
        return own
    for name, module, namespace in _module_namespaces():
        if _is_own_module(name):
            own.add(id(module))
            namespaces.append(namespace)
        else:
            others.add(id(namespace))
    todo = namespaces
    while todo and len(own) < MAX_OWN:
        obj = todo.pop()
        if id(obj) in own or id(obj) in others or id(obj) in _SKIP:
            continue
        cls = type(obj)
        if cls is _FUNCTION:
            if id(_FUNCTION_GLOBALS(obj)) in others:
                continue
        elif any(map(is_, _MRO(cls), repeat(type))):
            try:
                module = _TYPE_MODULE(obj)
            except Exception:
                continue
            if not _is_own_module(module):
                continue
        elif id(cls) in _NOT_OWN:
            continue
        own.add(id(obj))
        if _is_tracked(obj):
            todo.extend(_get_referents(obj))
    frame = sys._current_frames().get(own_thread)
    while frame is not None and len(own) < MAX_OWN:
        own.add(id(frame))
        try:
            own.update(map(id, filter(_is_tracked, _frame_locals(frame))))
        except Exception:
            pass
        frame = frame.f_back
    own.difference_update(others)
    return own


class Stopped(Exception):
    """A limit (objects, edges, time) ended the walk."""


class Walk(object):
    """One walk of the heap to FRAMES within LIMITS (the most objects and
    edges the daemon takes); PACER lets other threads run and keeps the
    time budget."""

    def __init__(self, frames, limits, pacer):
        self.frames = frames
        self.max_objects, self.max_edges = limits
        self.pacer = pacer
        self.types = {}       # id(type) -> index
        self.classes = []     # the types, alive while their ids key self.types
        self.unsafe = set()   # ids of types whose __sizeof__ is the program's
        self.kinds = {}       # id(type) -> "dict", "list", ..., "ndarray"
        self.dicts = set()    # ids of dict and its subclasses
        self.leaves = set()   # ids of types the collector cannot track: no references
        self.ndarray_ids = set()  # ids of numpy's ndarray and its subclasses
        self.metas = set()    # ids of metaclasses: their instances are classes
        self.own_thread = _thread.get_ident()
        # Left out: never freed, or the helper's own.
        self.skip = set(_SKIP.union(_own_ids(self.own_thread)))
        self.immortal = frozenset(self.skip)
        self.recent = set(self.immortal)  # ids of untracked objects declared lately
        self.older = set()        # ... and before those
        self.nodes = 0
        self.edges = 0
        self.roots = 0
        self.reason = REASON_NONE
        self.chunk = 4 * MIN_CHUNK
        self.ndarray, self.ndarray_base = _ndarray()
        self.overflow = None  # the index standing for types past MAX_TYPES

    # ---- types and sizes

    def _learn_types(self, objects, type_ids):
        new = set(type_ids).difference(self.types)
        if not new:
            return
        names = []
        for tid in new:
            cls = type(objects[type_ids.index(tid)])
            if len(self.classes) >= MAX_TYPES - 1:
                if self.overflow is None:
                    self.overflow = len(self.classes)
                    self.classes.append(None)
                    names.append("(other types)")
                self.types[tid] = self.overflow
                self.unsafe.add(tid)
                continue
            self.types[tid] = len(self.classes)
            self.classes.append(cls)
            names.append(type_name(cls))
            self._classify(tid, cls)
        if names:
            self._send_types(names)

    def _classify(self, tid, cls):
        try:
            mro = _MRO(cls)
            if type(_first_sizeof(cls)) not in (_C_METHOD, type(None)):
                self.unsafe.add(tid)
            for kind, base in (("dict", dict), ("list", list), ("tuple", tuple), ("set", set),
                               ("frozenset", frozenset), ("ndarray", self.ndarray)):
                if base is not None and any(map(is_, mro, repeat(base))):
                    self.kinds[tid] = kind
                    if kind == "dict":
                        self.dicts.add(tid)
                    elif kind == "ndarray":
                        self.ndarray_ids.add(tid)
                    break
            if any(map(is_, mro, repeat(type))):
                self.metas.add(tid)
            if not _FLAGS(cls) & Py_TPFLAGS_HAVE_GC and tid not in self.ndarray_ids:
                self.leaves.add(tid)
        except Exception:
            self.unsafe.add(tid)

    def _send_types(self, names):
        parts = []
        size = 0
        for name in names:
            data = cut(name, TYPE_NAME_LIMIT).encode("utf-8") or b"?"
            if size + 2 + len(data) > ROOM:
                self.frames.frame(TYPES, len(parts) // 2, 0, parts)
                parts, size = [], 0
            parts.append(struct.pack("<H", len(data)))
            parts.append(data)
            size += 2 + len(data)
        if parts:
            self.frames.frame(TYPES, len(parts) // 2, 0, parts)

    def _sizes(self, objects, type_ids):
        """Each object's bytes: sys.getsizeof() (the object's allocations,
        the GC header included) where its __sizeof__ is C code."""
        if self.unsafe.isdisjoint(type_ids):
            try:
                return array("Q", map(_getsizeof, objects))
            except Exception:
                pass
        return array("Q", map(self._size_one, objects, type_ids))

    def _size_one(self, obj, tid):
        try:
            if tid not in self.unsafe:
                return max(_getsizeof(obj), 0)
            cls = self.classes[self.types[tid]]
            if cls is not None:
                return max(_c_sizeof(cls)(obj), 0) + (_GC_HEADER if _is_tracked(obj) else 0)
        except Exception:
            pass
        return 0

    def _type_indices(self, type_ids, tracked, objects):
        """Type indices, with TRACKED set for the objects the collector
        tracks: TRACKED says whether all of OBJECTS are (True), none
        (False), or to ask each (None)."""
        types = array("I", map(self.types.__getitem__, type_ids))
        if tracked:
            return array("I", map(TRACKED.__or__, types))
        if tracked is None:
            flags = list(map(_is_tracked, objects))
            if any(flags):
                types = array("I", map(add, types, map(mul, flags, repeat(TRACKED))))
        return types

    # ---- references

    def _references(self, objects, type_ids):
        """For each of OBJECTS, the list of objects it refers to.  A dict's
        str keys are added: tp_traverse leaves them out (they cannot form
        cycles), and their memory is the dict's all the same."""
        if self.leaves.issuperset(type_ids):
            return [[]] * len(objects)
        if self.dicts.isdisjoint(type_ids):
            references = list(map(_get_referents, objects))
        elif all(map(self.dicts.__contains__, type_ids)):
            return list(map(add, map(_get_referents, objects), map(list, map(dict.keys, objects))))
        else:
            references = list(map(_get_referents, objects))
            for position in compress(range(len(objects)), map(self.dicts.__contains__, type_ids)):
                references[position] += dict.keys(objects[position])
        if not self.ndarray_ids.isdisjoint(type_ids):
            for position in compress(range(len(objects)), map(self.ndarray_ids.__contains__, type_ids)):
                references[position] = self._ndarray_references(objects[position])
        return references

    def _ndarray_references(self, array_):
        """An array refers to the object that owns its data (a view's base),
        which numpy does not tell the collector."""
        try:
            base = self.ndarray_base(array_)
        except Exception:
            return []
        return [] if base is None else [base]

    def _is_big(self, obj, tid):
        length = _LENGTHS.get(self.kinds.get(tid))
        try:
            return length is not None and length(obj) > SLICE
        except Exception:
            return False

    def _slices(self, obj, tid):
        """What a long container refers to, a slice at a time; the GIL is
        released between slices, and a dict or set changed meanwhile ends
        the reading."""
        kind = self.kinds[tid]
        if kind in ("list", "tuple"):
            getitem = list.__getitem__ if kind == "list" else tuple.__getitem__
            length = _LENGTHS[kind]
            start = 0
            while start < length(obj):
                yield getitem(obj, slice(start, start + SLICE))
                start += SLICE
            return
        iterators = [iter(dict.values(obj)), iter(dict.keys(obj))] if kind == "dict" else [iter(obj)]
        for iterator in iterators:
            while True:
                try:
                    piece = list(islice(iterator, SLICE))
                except RuntimeError:
                    return
                if not piece:
                    break
                yield piece

    # ---- nodes

    def _declare(self, objects, tracked):
        """Declares OBJECTS, then the untracked objects they refer to:
        the node index of each of OBJECTS, in order.  TRACKED: whether the
        collector tracks them (True, False, None: ask).  Raises Stopped at
        a limit."""
        type_ids = list(map(id, map(type, objects)))
        self._learn_types(objects, type_ids)
        if tracked is not True:
            # Declared here, they need not be again when met as referents.
            self._remember(set(map(id, filterfalse(_is_tracked, objects))))
        big = self._big_mask(objects, type_ids)
        if big is None:
            first = self._declare_plain(objects, type_ids, tracked)
            return range(first, first + len(objects))
        indices = [0] * len(objects)
        for position in compress(range(len(objects)), big):
            indices[position] = self._declare_big(objects[position], type_ids[position], tracked)
        keep = list(map(not_, big))
        positions = list(compress(range(len(objects)), keep))
        first = self._declare_plain(list(compress(objects, keep)), list(compress(type_ids, keep)), tracked)
        for position, index in zip(positions, range(first, first + len(positions))):
            indices[position] = index
        return indices

    def _big_mask(self, objects, type_ids):
        """Which of OBJECTS are containers too long to read at once, or
        None when none is."""
        if self.kinds.keys().isdisjoint(type_ids):
            return None
        big = list(map(self._is_big, objects, type_ids))
        return big if any(big) else None

    def _remember(self, ids):
        """Remembers the untracked objects of IDS (a set) as declared."""
        if len(self.recent) + len(ids) > RECENT_LIMIT:
            self.older = self.recent
            self.recent = set(self.immortal)
        self.recent.update(ids)

    def _declare_plain(self, objects, type_ids, tracked):
        """_declare () for objects short enough to read at once: the index
        of the first."""
        references = self._references(objects, type_ids)
        first = self._send_objects(objects, type_ids, references, tracked)
        self._declare_untracked(references)
        return first

    def _send_objects(self, objects, type_ids, references, tracked):
        """Sends the nodes of OBJECTS, whose references REFERENCES lists:
        the index of the first.  Nothing is built a value per reference
        but the array sent: fresh memory is what costs most."""
        first = self.nodes
        targets = array("Q", map(id, chain.from_iterable(references)))
        self._send_nodes(array("Q", map(id, objects)), self._sizes(objects, type_ids),
                         self._type_indices(type_ids, tracked, objects), array("I", map(len, references)), targets)
        return first

    def _declare_untracked(self, references):
        """Declares the untracked objects the lists REFERENCES hold that
        were not declared lately, and what they refer to, depth first, a
        batch at a time, at most MAX_DEPTH containers down."""
        stack = [self._fresh_batches(references)]
        while stack:
            batch = next(stack[-1], None)
            if batch is None:
                stack.pop()
                continue
            for group in self._by_kind(batch):
                type_ids = list(map(id, map(type, group)))
                self._learn_types(group, type_ids)
                big = self._big_mask(group, type_ids)
                if big is not None:
                    for obj, tid in zip(compress(group, big), compress(type_ids, big)):
                        self._declare_big(obj, tid, False)
                    keep = list(map(not_, big))
                    group = list(compress(group, keep))
                    type_ids = list(compress(type_ids, keep))
                references = self._references(group, type_ids)
                self._send_objects(group, type_ids, references, False)
                if len(stack) < MAX_DEPTH:
                    stack.append(self._fresh_batches(references))
                del references
            self._pause()

    def _fresh_batches(self, references):
        """The untracked objects the lists REFERENCES hold, not declared
        lately, in batches, read a piece at a time; they are remembered as
        declared.  RECENT holds the objects never freed too, which are
        never declared."""
        flat = chain.from_iterable(references)
        while True:
            batch = self.chunk
            piece = list(islice(flat, 4 * batch))
            if not piece:
                return
            untracked = list(filterfalse(_is_tracked, piece))
            del piece
            by_id = dict(zip(map(id, untracked), untracked))
            del untracked
            fresh_ids = by_id.keys() - self.recent
            if fresh_ids and self.older:
                fresh_ids.difference_update(self.older)
            if not fresh_ids:
                continue
            fresh = list(map(by_id.__getitem__, fresh_ids))
            self._remember(fresh_ids)
            del by_id, fresh_ids
            for start in range(0, len(fresh), batch):
                yield fresh[start:start + batch]

    def _by_kind(self, objects):
        """OBJECTS in groups of the same kind (dicts, objects the collector
        cannot track such as str and int, the others), so that C code
        alone reads each group."""
        kinds = list(map(self._kind_of_type, map(id, map(type, objects))))
        first = kinds[0] if kinds else None
        if kinds.count(first) == len(kinds):
            return [objects]
        return [list(compress(objects, map(kind.__eq__, kinds))) for kind in (DICT, LEAF, OTHER)
                if kind in kinds]

    def _kind_of_type(self, tid):
        return DICT if tid in self.dicts else LEAF if tid in self.leaves else OTHER

    def _send_nodes(self, addresses, sizes, types, counts, targets):
        """Sends nodes given by columns in as many frames as they need; a
        node with more edges than a frame holds comes last in its frame and
        its edges go on in edges frames."""
        n = len(addresses)
        if n == 0:
            return
        ends = array("Q", accumulate(counts))
        frame_bytes = array("Q", accumulate(map(add, repeat(NODE_BYTES), map(mul, counts, repeat(EDGE_BYTES)))))
        start = 0
        while start < n:
            if self.nodes >= self.max_objects:
                self._stop(REASON_OBJECTS)
            before = frame_bytes[start - 1] if start else 0
            end = min(max(bisect_right(frame_bytes, before + ROOM, start), start + 1), n,
                      start + self.max_objects - self.nodes)
            first_edge = ends[start - 1] if start else 0
            last_edge = ends[end - 1]
            if self.edges + last_edge - first_edge > self.max_edges:
                self._stop(REASON_EDGES)
            if frame_bytes[end - 1] - before <= ROOM:
                self._frame_nodes(addresses[start:end], sizes[start:end], types[start:end],
                                  counts[start:end], targets[first_edge:last_edge])
            else:
                self._frame_nodes(addresses[start:end], sizes[start:end], types[start:end],
                                  array("I", [0]), array("Q"))
                self._send_edges(targets[first_edge:last_edge])
            start = end

    def _frame_nodes(self, addresses, sizes, types, counts, targets):
        self.frames.frame(NODES, len(addresses), len(targets),
                          [_le(addresses), _le(sizes), _le(types), _le(counts), _le(targets)])
        self.nodes += len(addresses)
        self.edges += len(targets)

    def _send_edges(self, targets):
        """More edges of the node declared last."""
        per_frame = ROOM // EDGE_BYTES
        if self.edges + len(targets) > self.max_edges:
            self._stop(REASON_EDGES)
        for start in range(0, len(targets), per_frame):
            piece = targets[start:start + per_frame]
            self.frames.frame(EDGES, len(piece), 0, [_le(piece)])
            self.edges += len(piece)

    def _declare_big(self, obj, tid, tracked):
        """A container too long to read at once: its node, its edges a
        slice at a time, and the untracked objects in each slice: its
        index."""
        if self.nodes >= self.max_objects:
            self._stop(REASON_OBJECTS)
        index = self.nodes
        self._frame_nodes(array("Q", [id(obj)]), self._sizes([obj], [tid]),
                          self._type_indices([tid], tracked, [obj]), array("I", [0]), array("Q"))
        # Edges frames go on with the node declared last: the untracked
        # items are declared once all of them are sent, a slice at a time
        # again.
        # Within a slice, a chunk's worth at a time (as adapted to
        # CHUNK_TARGET): a slice of dicts of strings took 100 ms at once.
        for piece in self._slices(obj, tid):
            for start in range(0, len(piece), self.chunk):
                self._send_edges(array("Q", map(id, piece[start:start + self.chunk])))
                self._pause()
            self.pacer.breathe()
        for piece in self._slices(obj, tid):
            for start in range(0, len(piece), self.chunk):
                self._declare_untracked([piece[start:start + self.chunk]])
                self._pause()
            self.pacer.breathe()
        return index

    def _pause(self):
        """Lets other threads run once the current stretch has lasted a
        chunk's worth: for work that does not come in chunks (roots)."""
        if self.pacer.stretch() >= CHUNK_TARGET:
            self.pacer.breathe()

    def _stop(self, reason):
        self.reason = reason
        raise Stopped()

    # ---- roots

    def _send_roots(self, kind, container, targets):
        """Declares TARGETS and sends them as roots of KIND held by
        CONTAINER: a root names a node by its index, and the daemon gives
        CONTAINER back when it asks for the root's name."""
        targets = [target for target in targets if id(target) not in self.immortal]
        # Declared now, the tracked ones are not again when the walk meets
        # them: a module's long list would be read twice.
        self.skip.update(map(id, filter(_is_tracked, targets)))
        for start in range(0, len(targets), BATCH):
            indices = array("I", self._declare(targets[start:start + BATCH], None))
            per_frame = ROOM // ROOT_BYTES
            for first in range(0, len(indices), per_frame):
                piece = indices[first:first + per_frame]
                self.frames.frame(ROOTS, len(piece), 0,
                                  [_le(array("Q", [container])) * len(piece), _le(piece),
                                   bytes([kind]) * len(piece)])
                self.roots += len(piece)
            self._pause()

    def _module_roots(self):
        for _, _, namespace in _module_namespaces():
            if type(namespace) is dict and id(namespace) not in self.immortal:
                self._send_roots(GLOBAL, id(namespace), list(dict.values(namespace)))
                self._pause()

    def _class_roots(self, classes):
        for cls in classes:
            try:
                values = list(dict.values(_class_namespace(cls)))
            except Exception:
                continue
            self._send_roots(CLASS_ATTRIBUTE, id(cls), values)
            self._pause()

    def _thread_roots(self):
        for ident, innermost in list(dict.items(sys._current_frames())):
            if ident == self.own_thread:
                continue
            for frame in _frames_of(innermost):
                values = _frame_locals(frame)
                if values:
                    self._send_roots(LOCAL, id(frame), values)

    # ---- the walk

    def run(self, lists):
        """Walks LISTS, the collector's objects, which it empties."""
        self.frames.frame(IMMORTAL, len(self.immortal), 0, [_le(array("Q", self.immortal))])
        try:
            self._module_roots()
            self._thread_roots()
            for objects in lists:
                self._walk_list(objects)
        except Stopped:
            pass
        except Exception:
            # The daemon gets what was sent, and says it is not all.
            self.reason = REASON_FAILED
        finally:
            for objects in lists:
                self._release(objects)
            del lists
        self._end()

    def _walk_list(self, objects):
        done = 0
        while done < len(objects):
            if self.pacer.over_budget():
                self._stop(REASON_TIME)
            began = time.perf_counter()
            chunk = objects[done:done + self.chunk]
            done += len(chunk)
            self._walk_chunk(chunk)
            del chunk
            self._adapt(time.perf_counter() - began)
            self.pacer.breathe()

    def _walk_chunk(self, chunk):
        if not self.skip.isdisjoint(map(id, chunk)):
            chunk = [obj for obj in chunk if id(obj) not in self.skip]
        type_ids = list(map(id, map(type, chunk)))
        self._learn_types(chunk, type_ids)
        if not self.metas.isdisjoint(type_ids):
            self._class_roots(list(compress(chunk, map(self.metas.__contains__, type_ids))))
        for group in self._by_kind(chunk):
            self._declare(group, True)

    def _adapt(self, took):
        if took > 0:
            wanted = int(self.chunk * CHUNK_TARGET / took)
            self.chunk = max(MIN_CHUNK, min(MAX_CHUNK, wanted, self.chunk * 4))

    def _release(self, objects):
        step = self.chunk * 4
        while objects:
            del objects[-step:]
            self.pacer.breathe()

    def _end(self):
        self.frames.frame(END, 0, 0, [END_RECORD.pack(
            self.nodes, self.edges, self.roots, int(self.reason == REASON_NONE), self.reason,
            min(int(self.pacer.max_hold * 1e6), 0xffffffff),
            min(int(self.pacer.elapsed() * 1e3), 0xffffffff))])


def _class_namespace(cls):
    """The dict behind CLS's __dict__ mapping proxy, read without calling
    anything of the class: the proxy's only referent."""
    proxy = _DICT(cls)
    referents = _get_referents(proxy)
    if len(referents) == 1 and type(referents[0]) is dict:
        return referents[0]
    return {}


def _frames_of(frame):
    """FRAME and its callers, FRAMES_PER_THREAD at most."""
    frames = []
    while frame is not None and len(frames) < FRAMES_PER_THREAD:
        frames.append(frame)
        frame = frame.f_back
    return frames


def _frame_locals(frame):
    """The values of a function frame's locals.  On 3.8-3.12 reading
    f_locals refreshes the frame's dictionary of locals, as a debugger's
    look does; 3.13's proxy changes nothing.  Module and class bodies are
    left out: their namespaces are found as modules and classes."""
    try:
        if not frame.f_code.co_flags & CO_OPTIMIZED:
            return []
        return list(frame.f_locals.values())
    except Exception:
        return []


def walk(sock, request, pacer):
    """Streams the graph REQUEST asks for on SOCK: request.graph holds the
    most objects and edges the daemon takes."""
    # The collector's objects first: what the walk makes afterwards (its
    # sets and dicts) is not in the graph.
    with PausedCollector():
        lists = snapshot()  # fetched so that no list holds another
        pacer.breathe()
        Walk(Frames(lambda body: _frames.send_binary(sock, body), request.id), request.graph, pacer).run(lists)
