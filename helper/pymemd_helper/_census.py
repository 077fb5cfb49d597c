"""The census: every object the program holds, counted once, by type, and
its memory split into allocations: small ones (pymalloc's, up to 512
bytes, with their rounding to pymalloc's blocks) and large ones (malloc's),
each with the object that owns it.

What it counts (docs/helper-protocol.md, "census"):

- the objects the cycle collector tracks (``gc.get_objects()``, and the
  frames of the other threads, made objects first so that their locals are
  seen);
- and, unless the request is light, the objects it does not track (str,
  bytes, bytearray, int, float, tuples and dicts of atomic values,
  array.array, numpy arrays...), reached from tracked objects through
  ``gc.get_referents()``, plus the keys of dictionaries (a dict's traversal
  skips str keys) and the ``base`` of numpy arrays (an array does not
  traverse it).  Each object once: one referenced once (its reference count
  says so) cannot be reached twice; the others are remembered by id.

An object's memory is its own allocation (``__sizeof__`` and the collector's
header) and, for the types that keep their contents in a separate buffer
(a list's item array, a dict's keys and values, a set's table, the buffers
of bytearray, array.array, deque and io.BytesIO, a numpy array's data when
it owns it), that buffer: a buffer an object only views (a memoryview, a
numpy view) is counted with its owner.

It never runs the program's own Python code:

- types are read through type's own C getters (``type.__dict__[...]``), so a
  metaclass's ``__getattribute__`` is never called;
- types are dictionary keys only when no metaclass in the process defines
  ``__hash__`` or ``__eq__`` (the common case); otherwise their ids are;
  objects are only ever compared by id;
- a size is the C ``__sizeof__`` nearest in the MRO, called unbound
  (``list.__sizeof__(o)``): a class's own Python ``__sizeof__`` is never
  called; numpy's attributes are read through ndarray's C descriptors.

The per-object work is done by C code (``map``, ``compress``, set
operations) in chunks of a few milliseconds; Python loops run only over the
objects of rare variable-size types.
"""

import gc
import sys
import time
from itertools import chain, compress, filterfalse, islice, repeat
from _operator import eq, is_, is_not, not_

from pymemd_helper._frames import cut

try:
    from _collections import _count_elements
except ImportError:  # pragma: no cover - CPython always has it
    def _count_elements(mapping, iterable):
        get = mapping.get
        for element in iterable:
            mapping[element] = get(element, 0) + 1

# pymalloc serves requests up to this size; larger ones go to malloc.
SMALL_LIMIT = 512
# pymalloc rounds a request up to a multiple of this (16 on 64-bit builds
# since 3.8, 8 before).
ALIGNMENT = 16 if sys.maxsize > 2 ** 32 and sys.version_info >= (3, 8) else 8
_PADDING = [-size % ALIGNMENT for size in range(SMALL_LIMIT + 1)]
# How long one chunk should keep the GIL, in seconds.
CHUNK_TARGET = 0.004
MIN_CHUNK = 1024
MAX_CHUNK = 1 << 16
# Referents are handled in slices of this many at first, then sized like
# chunks, growing at most by half a step: a slice of shared small ints costs
# a tenth of one of new strings.
FIRST_SLICE = 4096
MAX_SLICE = 1 << 14
# The ids remembered are kept in sets of at most this many.
SEEN_SET = 1 << 16
# A variable-size type gets its own C pass over a chunk when it has at least
# this share of it; rarer ones are sized in one Python loop.
DOMINANT_SHARE = 4
NAME_LIMIT = 256
# At most this many types are tried one pass each before counting a chunk
# into a dictionary.
USUAL_TYPES = 6

_MRO = type.__dict__["__mro__"].__get__
_GENERATOR = type(x for x in ())
_DICT = type.__dict__["__dict__"].__get__
_MODULE = type.__dict__["__module__"].__get__
_QUALNAME = type.__dict__["__qualname__"].__get__
_NAME = type.__dict__["__name__"].__get__
_ITEMSIZE = type.__dict__["__itemsize__"].__get__
_BASICSIZE = type.__dict__["__basicsize__"].__get__
_FLAGS = type.__dict__["__flags__"].__get__
_SUBCLASSES = type.__dict__["__subclasses__"]
_OBJECT_SIZEOF = object.__dict__["__sizeof__"]
_C_METHOD = type(_OBJECT_SIZEOF)
_GC_HEADER = sys.getsizeof([]) - [].__sizeof__()
_FREE_THREADED = "t" in getattr(sys, "abiflags", "")
_HEAPTYPE = 1 << 9
_HAVE_GC = 1 << 14
# The flags that give an instance two pointers before its GC header
# (3.11: a managed dict; 3.12+: also a managed weakref list).
if sys.version_info >= (3, 12):
    _PREHEADER_FLAGS = (1 << 4) | (1 << 3)
elif sys.version_info >= (3, 11):
    _PREHEADER_FLAGS = 1 << 4
else:
    _PREHEADER_FLAGS = 0
_is_tracked = gc.is_tracked
_get_referents = gc.get_referents
_getrefcount = sys.getrefcount


def _buffer_owners():
    """The C types whose __sizeof__ counts a buffer allocated apart from the
    object, each with that __sizeof__.  Those of modules the program has not
    imported cannot have instances: they are not imported here."""
    import _collections
    import _io
    owners = [list, dict, set, frozenset, bytearray, _collections.deque, _io.BytesIO]
    array = sys.modules.get("array")
    if array is not None:
        kind = getattr(array, "ArrayType", None)
        if type(kind) is type:
            owners.append(kind)
    return {id(owner): owner for owner in owners}


_BUFFER_OWNERS = _buffer_owners()

# What a type's instances cost: a Kind, made by classify().
CONSTANT = 0
VARIABLE = 1


class Kind(object):
    """How instances of one type are sized and walked."""
    __slots__ = ("variable", "sizeof", "extra", "size", "basic", "buffered",
                 "raw_buffer", "is_dict", "base_of", "slices")

    def __init__(self, variable, sizeof=None, extra=0, size=0):
        self.variable = variable
        self.sizeof = sizeof    # VARIABLE: the C __sizeof__ to call unbound
        self.extra = extra      # VARIABLE: bytes it leaves out (GC header, pre-header)
        self.size = size        # CONSTANT: bytes of one instance
        self.basic = 0          # buffered: the type's basic size
        self.buffered = False   # __sizeof__ - basic is a buffer of its own
        self.raw_buffer = False  # ... allocated with malloc whatever its size
        self.is_dict = False    # its keys are walked too
        self.base_of = None     # a numpy array's "base" getter
        self.slices = None      # builtin containers: what a long one refers to, a slice at a time


def _plain_metaclass(meta):
    """Whether hashing and comparing META's instances (classes) is type's
    own C code."""
    owners = {}
    for base in _MRO(meta):
        namespace = _DICT(base)
        for name in ("__hash__", "__eq__"):
            if name not in owners and name in namespace:
                owners[name] = base
    return all(owner is type or owner is object for owner in owners.values())


def metaclasses_plain():
    """Whether every metaclass in the process hashes and compares classes
    as type does: then classes can key dictionaries without running code."""
    seen = {id(type)}
    todo = [type]
    while todo:
        for sub in _SUBCLASSES(todo.pop()):
            if id(sub) not in seen:
                seen.add(id(sub))
                todo.append(sub)
                if not _plain_metaclass(sub):
                    return False
    return True


def _header_size(cls):
    """What precedes an instance of CLS in its allocation: the GC header of
    a GC type, and the pre-header of managed dicts and weakrefs."""
    flags = _FLAGS(cls)
    size = _GC_HEADER if flags & _HAVE_GC else 0
    if flags & _PREHEADER_FLAGS:
        size += 2 * _POINTER
    return size


_POINTER = 8 if sys.maxsize > 2 ** 32 else 4


def _basic_size(cls):
    return _BASICSIZE(cls) + _header_size(cls)


def _is_ndarray(cls):
    """numpy's C array type, told by its names and by not being a class
    statement's (a heap type)."""
    try:
        return (not _FLAGS(cls) & _HEAPTYPE and _NAME(cls) == "ndarray"
                and _MODULE(cls) == "numpy")
    except Exception:
        return False


def _buffer_kind(cls, mro, sample):
    """The Kind of a type whose nearest known C base keeps a buffer apart
    (a list, a dict, a numpy array...), or None."""
    for base in mro:
        owner = _BUFFER_OWNERS.get(id(base))
        ndarray = owner is None and _is_ndarray(base)
        if owner is base or ndarray:
            namespace = _DICT(base)
            sizeof = namespace["__sizeof__"]
            kind = Kind(VARIABLE, sizeof, _header_size(cls))
            kind.basic = _BASICSIZE(cls)
            kind.buffered = True
            kind.is_dict = base is dict
            if ndarray:
                # Data and shape are malloc'd (PyDataMem, PyDimMem), never
                # pymalloc's; "base" is the array or buffer a view looks into.
                kind.raw_buffer = True
                kind.base_of = namespace["base"].__get__
            sizeof(sample)  # a wrong guess fails here, not in the census
            return kind
    return None


def classify(cls, sample):
    """How to size instances of CLS, from SAMPLE, one of them."""
    try:
        mro = _MRO(cls)
        kind = _buffer_kind(cls, mro, sample)
        if kind is not None:
            return kind
        first = c_sizeof = None
        found = False
        for base in mro:
            namespace = _DICT(base)
            if "__sizeof__" in namespace:
                method = namespace["__sizeof__"]
                if not found:
                    first, found = method, True
                if type(method) is _C_METHOD:
                    c_sizeof = method
                    break
        if c_sizeof is None:
            c_sizeof = _OBJECT_SIZEOF
        in_c = first is c_sizeof
        if c_sizeof is _OBJECT_SIZEOF and _ITEMSIZE(cls) == 0:
            if in_c:
                size = sys.getsizeof(sample)
            else:
                size = _OBJECT_SIZEOF(sample) + _header_size(cls)
            return Kind(CONSTANT, size=size)
        if in_c:
            extra = sys.getsizeof(sample) - c_sizeof(sample)
        else:
            extra = _header_size(cls)
        return Kind(VARIABLE, c_sizeof, max(extra, 0))
    except Exception:
        return Kind(CONSTANT, size=_basic_size(cls))


def _sequence_slices(getitem, length):
    def slices(obj):
        start = 0
        while start < length(obj):
            yield getitem(obj, slice(start, start + MAX_SLICE))
            start += MAX_SLICE
    return slices


def _iterated_slices(*views):
    def slices(obj):
        for view in views:
            iterator = iter(view(obj))
            while True:
                try:
                    piece = list(islice(iterator, MAX_SLICE))
                except RuntimeError:  # changed meanwhile: the rest is not read
                    return
                if not piece:
                    break
                yield piece
    return slices


# What an instance of these exact types refers to is its items (a dict's
# values and keys): a long one is read a slice at a time, its traversal
# would be one long C call (125 000 items: 6 ms).
_SLICES = {
    id(list): _sequence_slices(list.__getitem__, list.__len__),
    id(tuple): _sequence_slices(tuple.__getitem__, tuple.__len__),
    id(dict): _iterated_slices(dict.values, dict.keys),
    id(set): _iterated_slices(set.__iter__),
    id(frozenset): _iterated_slices(frozenset.__iter__),
}
# __sizeof__ past which such a container is read a slice at a time: a list
# of MAX_SLICE items, a dict or a set of fewer.
LONG_BYTES = 8 * MAX_SLICE


def type_name(cls):
    """"module.qualname", from type's getters; only str results count."""
    try:
        qualname = _QUALNAME(cls)
    except Exception:
        qualname = None
    if type(qualname) is not str:
        try:
            qualname = _NAME(cls)
        except Exception:
            qualname = None
        if type(qualname) is not str:
            qualname = "?"
    try:
        module = _MODULE(cls)
    except Exception:
        module = None
    if type(module) is str:
        qualname = module + "." + qualname
    return cut(qualname, NAME_LIMIT)


def _collections():
    return sum(generation["collections"] for generation in gc.get_stats())


# gc.get_objects(generation=) is 3.8's.
_BY_GENERATION = sys.version_info >= (3, 8) and not _FREE_THREADED


def _other_threads_frames():
    """The frames of the other threads' stacks, made objects (3.11+ keeps
    a running function's frame as no object until asked): the collector
    then tracks them, and the census sees their locals."""
    frames = []
    try:
        import _thread
        own = _thread.get_ident()
        for ident, frame in sys._current_frames().items():
            if ident == own:
                continue
            while frame is not None:
                frames.append(frame)
                frame = frame.f_back
    except Exception:
        pass
    return frames


class PausedCollector(object):
    """Automatic collections wait while the census or the graph walk holds
    its lists (with gc.disable (), if the collector was on).

    The lists gc.get_objects () returns are containers of every tracked
    object, and the collector traverses each container of the generations
    it collects: with them alive, every young collection would read a
    million references (15 ms of GIL on 3.11), in whichever thread
    allocated last.  Paused, no collection runs on the helper's thread
    either, so neither the program's gc.callbacks nor the finalizers of its
    garbage run there.  The collector is turned back on afterwards unless
    something else turned it on meanwhile; a program that turns it off
    during the census finds it on again (documented in pymemctl(1))."""

    def __enter__(self):
        self.was_enabled = gc.isenabled()
        if self.was_enabled:
            gc.disable()
        return self

    def __exit__(self, *exc):
        if self.was_enabled and not gc.isenabled():
            gc.enable()
        return False


def snapshot():
    """Lists of the objects the collector tracks, fetched per generation so
    that no list holds the others, again (at most twice) if a collection
    moved objects between the calls."""
    if not _BY_GENERATION:
        return [gc.get_objects()]
    for _ in range(3):
        before = _collections()
        young = gc.get_objects(generation=0)
        middle = gc.get_objects(generation=1)
        old = gc.get_objects(generation=2)
        if _collections() == before:
            break
    return [old, middle, young]


def _refcounts(parent, start, stop):
    """The objects of PARENT[START:STOP] by id, those of them the collector
    does not track, and their reference counts as seen while PARENT, the
    dictionary and the list returned hold them.  Referents repeat (None,
    small ints, shared strings): each is looked at once per slice."""
    piece = parent[start:stop]
    unique = dict(zip(map(id, piece), piece))
    del piece
    untracked = list(filterfalse(_is_tracked, unique.values()))
    return unique, untracked, list(map(_getrefcount, untracked))


def _once_count():
    """The count _refcounts() gives an object that one reference holds
    (besides the census's own lists), or None where counts do not tell
    (free-threaded builds defer and split them)."""
    if _FREE_THREADED:
        return None
    holder = [float("nan")]  # a new object, untracked, held once
    parent = _get_referents(holder)
    _, _, counts = _refcounts(parent, 0, 1)
    return counts[0] if counts and counts[0] >= 2 else None


class Census(object):
    """One census; PACER says when to breathe and when to stop.  WALK: also
    count the untracked objects reached from the tracked ones."""

    def __init__(self, pacer, walk=True):
        self.pacer = pacer
        self.walk = walk
        self.by_id = not metaclasses_plain()
        self.same = eq if self.by_id else is_
        self.kinds = {}       # key -> Kind
        self.classes = {}     # key -> the class
        self.counts = {}      # key -> instances
        self.var_bytes = {}   # key -> bytes, for VARIABLE kinds
        self.large = {}       # key -> bytes in allocations outside pymalloc
        self.padding = {}     # key -> bytes pymalloc rounds small allocations up by
        self.tracked = 0
        self.untracked = 0
        self.complete = True
        self.chunk = MIN_CHUNK  # the first chunk meets every type cold
        self.slice = FIRST_SLICE
        self.usual = None     # keys of the types the last chunk held
        self.seen = None      # sets of the ids of untracked objects counted that more than one reference holds
        self.pending = None   # [list, next index, by id only]: referents still to count
        self.once = _once_count()
        self.long = set()     # ids of the chunk's long containers, queued a slice at a time

    def run(self):
        with PausedCollector():
            self._run()

    def _run(self):
        frames = _other_threads_frames() if self.walk else None
        lists = snapshot()
        # The census's own containers are made after the snapshot, which
        # therefore does not hold them: they are not the program's.
        self.seen = [set()]
        self.pending = []
        self.pacer.breathe()
        try:
            for objects in lists:
                if not self._count_list(objects):
                    self.complete = False
                    break
        finally:
            del frames
            # Each piece freed on its own: the sets of ids hold up to
            # SEEN_SET ints, the pending lists up to MAX_SLICE referents.
            for held in (self.pending, self.seen):
                while held:
                    held.pop()
                    self.pacer.breathe()
            for objects in lists:
                self._release(objects)
            del lists

    def _count_list(self, objects):
        done = 0
        while done < len(objects):
            if self.pacer.over_budget():
                return False
            began = time.perf_counter()
            chunk = objects[done:done + self.chunk]
            done += len(chunk)
            self.tracked += len(chunk)
            self._count_chunk(chunk)
            if self.walk:
                self._queue_referents(chunk)
            del chunk
            self._adapt(time.perf_counter() - began)
            self.pacer.breathe()
            if self.walk and not self._drain():
                return False
        return True

    def _adapt(self, took):
        """Sizes the next chunk so that it lasts about CHUNK_TARGET, growing
        at most by half: the next chunk's types may cost more (a chunk of
        types met for the first time costs three times one of lists)."""
        if took > 0:
            wanted = int(self.chunk * CHUNK_TARGET / took)
            self.chunk = max(MIN_CHUNK, min(MAX_CHUNK, wanted, self.chunk * 3 // 2))

    def _release(self, objects):
        """Drops the snapshot a piece at a time: the last reference to an
        object the program let go of frees it here."""
        step = self.chunk * 4
        while objects:
            del objects[-step:]
            self.pacer.breathe()

    # ---- the walk to the untracked objects ----

    def _queue_long(self, kind, objects, sizes):
        """Queues what the long containers among OBJECTS (sized SIZES)
        refer to, a slice at a time (kind.slices), and marks them for
        _queue_referents to leave out: the others."""
        long = list(compress(objects, map(LONG_BYTES.__lt__, sizes)))
        by_id = self.once is None
        for obj in long:
            self.pending.append([kind.slices(obj), 0, by_id])
        self.long.update(map(id, long))
        return list(compress(objects, map(LONG_BYTES.__ge__, sizes)))

    def _queue_referents(self, objects):
        """Queues what OBJECTS refer to.  Called after _count_chunk(OBJECTS)
        queued their dicts' keys: a key the traversal also gives is then
        held twice by the census's lists, and goes by id.  The long
        containers _queue_long queued are left out."""
        if self.long:
            objects = list(compress(objects, map(not_, map(self.long.__contains__, map(id, objects)))))
            self.long.clear()
        referents = _get_referents(*objects)
        if referents:
            self.pending.append([referents, 0, self.once is None])

    def _queue_by_id(self, objects):
        """Queues objects that the traversal of their holder does not give
        (dict keys, a numpy array's base): they are told apart by id."""
        if objects:
            self.pending.append([objects, 0, True])

    def _drain(self):
        """Counts the queued referents, and theirs, a slice at a time;
        False when the budget ran out."""
        pending = self.pending
        while pending:
            if self.pacer.over_budget():
                return False
            began = time.perf_counter()
            entry = pending[-1]
            parent, start, by_id = entry
            if type(parent) is _GENERATOR:  # a long container's slices
                try:
                    piece = next(parent, None)
                except Exception:
                    piece = None
                if piece is None:
                    pending.pop()
                else:
                    pending.append([piece, 0, by_id])
                del parent, entry, piece
                continue
            stop = start + self.slice
            if stop >= len(parent):
                pending.pop()
            else:
                entry[1] = stop
            done = min(stop, len(parent)) - start
            fresh = self._fresh(parent, start, stop, by_id)
            del parent, entry
            if fresh:
                self.untracked += len(fresh)
                self._count_chunk(fresh)
                self._queue_referents(fresh)
            del fresh
            # Sized on what this slice held: the last of a list is short.
            took = time.perf_counter() - began
            if took > 0:
                wanted = int(done * CHUNK_TARGET / took)
                self.slice = max(MIN_CHUNK, min(MAX_SLICE, wanted, done * 3 // 2))
            # Many slices are short (the referents of a few objects): a
            # breath after each would cost more than the work.
            # Half the target: what is left of the stretch adds to the next
            # chunk's.
            if self.pacer.stretch() >= CHUNK_TARGET / 2:
                self.pacer.breathe()
        return True

    def _fresh(self, parent, start, stop, by_id):
        """The untracked objects of PARENT[START:STOP] not counted yet."""
        unique, untracked, counts = _refcounts(parent, start, stop)
        if not untracked:
            return untracked
        if by_id:
            once, several = [], untracked
        else:
            mask = list(map(self.once.__eq__, counts))
            once = list(compress(untracked, mask))
            several = list(compress(untracked, map(not_, mask)))
        del untracked, counts
        if several:
            new = set(map(id, several))
            # Not "-=": set's in-place difference walks the other set.
            for seen in self.seen:
                new = new.difference(seen)
            if new:
                self._remember(new)
                once.extend(map(unique.__getitem__, new))
        return once

    def _remember(self, ids):
        """Adds IDS to the ids seen, in sets of at most SEEN_SET: growing a
        set copies it whole, which must not hold the GIL for long."""
        last = self.seen[-1]
        if len(last) + len(ids) > SEEN_SET:
            last = set()
            self.seen.append(last)
        last |= ids

    # ---- counting and sizing ----

    def _count_chunk(self, chunk):
        if self.by_id:
            keys = list(map(id, map(type, chunk)))
        else:
            keys = list(map(type, chunk))
        usual = self.usual
        whole = len(chunk)
        if usual is not None:
            rest = self._count_usual(chunk, keys)
            if rest is None:
                return
            chunk, keys = rest
        here = {}
        _count_elements(here, keys)
        # Heaps are mostly made of a few types, chunk after chunk: when this
        # chunk held few, the next one tries them first.  A few others among
        # them (the chunk where a program's lists give way to its dicts) are
        # added, or counted apart.
        if usual is None or len(chunk) * 2 > whole:
            self.usual = list(here) if len(here) <= USUAL_TYPES else None
        elif len(usual) + len(here) <= USUAL_TYPES:
            self.usual = usual + list(here)
        kinds = self.kinds
        new = [key for key in here if key not in kinds]
        if new:
            self._classify_new(new, keys, chunk)
        counts = self.counts
        variable = []
        for key, n in here.items():
            counts[key] = counts.get(key, 0) + n
            kind = kinds[key]
            if kind.variable:
                variable.append(key)
            else:
                self._add_constant(key, kind, n)
        if variable:
            self._size_variable(chunk, keys, here, variable)

    def _count_usual(self, chunk, keys):
        """Counts the objects of CHUNK of the usual types with one C pass
        per type (list.count, or the compress() that sizing needs anyway),
        cheaper than counting into a dictionary: None when that was all of
        them, else the others and their keys."""
        found = []
        seen = 0
        for key in self.usual:
            kind = self.kinds[key]
            if kind.variable:
                objects = list(compress(chunk, map(self.same, keys, repeat(key))))
                found.append((key, kind, len(objects), objects))
                seen += len(objects)
            else:
                n = keys.count(key)
                found.append((key, kind, n, None))
                seen += n
        counts = self.counts
        for key, kind, n, objects in found:
            counts[key] = counts.get(key, 0) + n
            if objects:
                self._add_sizes(key, objects)
            elif n and not kind.variable:
                self._add_constant(key, kind, n)
        if seen == len(keys):
            return None
        others = list(map(not_, map(set(self.usual).__contains__, keys)))
        return list(compress(chunk, others)), list(compress(keys, others))

    def _classify_new(self, new, keys, chunk):
        if len(new) <= 4:
            samples = {key: chunk[keys.index(key)] for key in new}
        else:
            samples = dict(zip(keys, chunk))
        for key in new:
            sample = samples[key]
            cls = type(sample)
            self.classes[key] = cls
            kind = classify(cls, sample)
            kind.slices = _SLICES.get(id(cls))
            self.kinds[key] = kind

    def _add_constant(self, key, kind, n):
        if kind.size > SMALL_LIMIT:
            self.large[key] = self.large.get(key, 0) + kind.size * n
        else:
            self.padding[key] = self.padding.get(key, 0) + _PADDING[kind.size] * n

    def _size_variable(self, chunk, keys, here, variable):
        n = len(chunk)
        minor = []
        for key in variable:
            if here[key] == n:
                self._add_sizes(key, chunk)
            elif len(variable) == 1 or here[key] * DOMINANT_SHARE >= n:
                self._add_sizes(key, list(compress(chunk, map(self.same, keys, repeat(key)))))
            else:
                minor.append(key)
        if len(minor) == 1:
            key = minor[0]
            self._add_sizes(key, list(compress(chunk, map(self.same, keys, repeat(key)))))
        elif minor:
            wanted = set(minor)
            mask = list(map(wanted.__contains__, keys))
            self._add_sizes_mixed(compress(keys, mask), compress(chunk, mask))

    def _add_sizes(self, key, objects):
        """Sizes OBJECTS, all of KEY's class, with C calls only."""
        kind = self.kinds[key]
        try:
            sizes = list(map(kind.sizeof, objects))
        except Exception:
            self._add_sizes_mixed(repeat(key), objects)
            return
        n = len(sizes)
        total = sum(sizes)
        self.var_bytes[key] = self.var_bytes.get(key, 0) + total + kind.extra * n
        if kind.buffered:
            large, padding = self._buffers(kind, sizes, total, n)
        else:
            # The object is one allocation of __sizeof__ + extra.
            limit = SMALL_LIMIT - kind.extra
            big = list(filter(limit.__lt__, sizes))
            large = sum(big) + kind.extra * len(big)
            padding = sum(map(_PADDING.__getitem__,
                              map(kind.extra.__add__, filterfalse(limit.__lt__, sizes))))
        if large:
            self.large[key] = self.large.get(key, 0) + large
        if padding:
            self.padding[key] = self.padding.get(key, 0) + padding
        if self.walk:
            if kind.slices is not None and max(sizes) > LONG_BYTES:
                objects = self._queue_long(kind, objects, sizes)
            self._queue_hidden(kind, objects)

    @staticmethod
    def _buffers(kind, sizes, total, n):
        """The large bytes and padding of N objects with a buffer apart,
        whose __sizeof__ are SIZES (adding up to TOTAL)."""
        own = kind.basic + kind.extra
        large = padding = 0
        if own > SMALL_LIMIT:
            large += own * n
        else:
            padding += _PADDING[own] * n
        basic = kind.basic
        if kind.raw_buffer:
            return large + total - basic * n, padding
        limit = SMALL_LIMIT + basic
        big = list(filter(limit.__lt__, sizes))
        large += sum(big) - basic * len(big)
        padding += sum(map(_PADDING.__getitem__,
                           map(basic.__rsub__, filterfalse(limit.__lt__, sizes))))
        return large, padding

    def _queue_hidden(self, kind, objects):
        """Queues what OBJECTS hold that their traversal does not give."""
        try:
            if kind.is_dict:
                self._queue_by_id(list(chain.from_iterable(map(dict.keys, objects))))
            elif kind.base_of is not None:
                bases = list(map(kind.base_of, objects))
                self._queue_by_id(list(compress(bases, map(is_not, bases, repeat(None)))))
        except Exception:
            pass

    def _add_sizes_mixed(self, keys, objects):
        """Sizes OBJECTS one at a time (KEYS are their classes' keys)."""
        kinds = self.kinds
        for key, obj in zip(keys, objects):
            kind = kinds[key]
            try:
                size = kind.sizeof(obj)
            except Exception:
                size = _BASICSIZE(self.classes[key])
            self.var_bytes[key] = self.var_bytes.get(key, 0) + size + kind.extra
            if kind.buffered:
                large, padding = self._buffers(kind, [size], size, 1)
            elif size + kind.extra > SMALL_LIMIT:
                large, padding = size + kind.extra, 0
            else:
                large, padding = 0, _PADDING[size + kind.extra]
            if large:
                self.large[key] = self.large.get(key, 0) + large
            if padding:
                self.padding[key] = self.padding.get(key, 0) + padding
            if self.walk:
                if kind.slices is not None and size > LONG_BYTES:
                    self._queue_long(kind, [obj], [size])
                else:
                    self._queue_hidden(kind, [obj])

    def result(self, top):
        """The "census" member of the summary, with TOP types listed."""
        by_name = {}
        total = large = padding = 0
        for key, count in self.counts.items():
            kind = self.kinds[key]
            if kind.variable:
                size = self.var_bytes.get(key, 0)
            else:
                size = kind.size * count
            total += size
            large += self.large.get(key, 0)
            padding += self.padding.get(key, 0)
            name = type_name(self.classes[key])
            entry = by_name.get(name)
            if entry is None:
                by_name[name] = [count, size]
            else:
                entry[0] += count
                entry[1] += size
        ranked = sorted(by_name.items(), key=lambda item: (-item[1][1], -item[1][0], item[0]))
        types = [{"type": name, "count": count, "bytes": size}
                 for name, (count, size) in ranked[:top]]
        rest = ranked[top:]
        return {
            "objects": sum(self.counts.values()),
            "bytes": total,
            "small_bytes": total - large,
            "large_bytes": large,
            "padding_bytes": padding,
            "tracked_objects": self.tracked,
            "untracked_objects": self.untracked,
            "walked": self.walk,
            "types": types,
            "other": {"count": sum(entry[1][0] for entry in rest),
                      "bytes": sum(entry[1][1] for entry in rest)},
        }
