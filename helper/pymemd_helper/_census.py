"""The census of the objects the cycle collector tracks: count and shallow
size by type, in chunks that let other threads run.

It never runs the program's own Python code:

- types are read through type's own C getters (``type.__dict__[...]``), so a
  metaclass's ``__getattribute__`` is never called;
- types are dictionary keys only when no metaclass in the process defines
  ``__hash__`` or ``__eq__`` (the common case); otherwise their ids are;
- a size is ``sys.getsizeof()`` only when the ``__sizeof__`` it would call is
  implemented in C.  For a class with its own Python ``__sizeof__`` it is the
  nearest C ``__sizeof__`` up the MRO (``object.__sizeof__``: the basic size
  plus items) plus the GC header: the instance's basic size, not what the
  class says it holds.  (3.11+'s managed-dict pre-header is not added for
  those classes.)

The per-object work is done by C code (``map``, ``compress``, a dict
counter) in chunks of a few milliseconds; Python loops run only over the
objects of rare variable-size types.
"""

import gc
import sys
import time
from itertools import compress, repeat
from _operator import eq, is_

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
# How long one chunk should keep the GIL, in seconds.
CHUNK_TARGET = 0.004
MIN_CHUNK = 1024
MAX_CHUNK = 1 << 18
# A variable-size type gets its own C pass over a chunk when it has at least
# this share of it; rarer ones are sized in one Python loop.
DOMINANT_SHARE = 4
NAME_LIMIT = 256
# At most this many types are tried one pass each before counting a chunk
# into a dictionary.
USUAL_TYPES = 6

_MRO = type.__dict__["__mro__"].__get__
_DICT = type.__dict__["__dict__"].__get__
_MODULE = type.__dict__["__module__"].__get__
_QUALNAME = type.__dict__["__qualname__"].__get__
_NAME = type.__dict__["__name__"].__get__
_ITEMSIZE = type.__dict__["__itemsize__"].__get__
_BASICSIZE = type.__dict__["__basicsize__"].__get__
_SUBCLASSES = type.__dict__["__subclasses__"]
_OBJECT_SIZEOF = object.__dict__["__sizeof__"]
_C_METHOD = type(_OBJECT_SIZEOF)
_GC_HEADER = sys.getsizeof([]) - [].__sizeof__()
_FREE_THREADED = "t" in getattr(sys, "abiflags", "")
# gc.get_objects(generation=) came with 3.8; 3.6 and 3.7 give all at once.
_BY_GENERATION = sys.version_info >= (3, 8)

# What a type's instances cost: (CONSTANT, bytes, None) or
# (VARIABLE, C __sizeof__, bytes it leaves out: the GC header and pre-header).
CONSTANT = 0
VARIABLE = 1


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


def _basic_size(cls):
    return _BASICSIZE(cls) + _GC_HEADER


def classify(cls, sample):
    """How to size instances of CLS, from SAMPLE, one of them."""
    try:
        first = c_sizeof = None
        found = False
        for base in _MRO(cls):
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
                size = _OBJECT_SIZEOF(sample) + _GC_HEADER
            return (CONSTANT, size, None)
        if in_c:
            extra = sys.getsizeof(sample) - c_sizeof(sample)
        else:
            extra = _GC_HEADER
        return (VARIABLE, c_sizeof, max(extra, 0))
    except Exception:
        return (CONSTANT, _basic_size(cls), None)


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


def snapshot():
    """Lists of the objects the collector tracks, fetched per generation so
    that no list holds the others, again (at most twice) if a collection
    moved objects between the calls."""
    if _FREE_THREADED or not _BY_GENERATION:
        return [gc.get_objects()]  # generations mean nothing there, or cannot be asked for
    for _ in range(3):
        before = _collections()
        young = gc.get_objects(generation=0)
        middle = gc.get_objects(generation=1)
        old = gc.get_objects(generation=2)
        if _collections() == before:
            break
    return [old, middle, young]


class Census(object):
    """One census; PACER says when to breathe and when to stop."""

    def __init__(self, pacer):
        self.pacer = pacer
        self.by_id = not metaclasses_plain()
        self.same = eq if self.by_id else is_
        self.kinds = {}       # key -> classify() result
        self.classes = {}     # key -> the class
        self.counts = {}      # key -> instances
        self.var_bytes = {}   # key -> bytes, for VARIABLE kinds
        self.var_large = {}   # key -> bytes in instances over SMALL_LIMIT
        self.complete = True
        self.chunk = 4 * MIN_CHUNK
        self.usual = None     # keys of the types the last chunk held

    def run(self):
        lists = snapshot()
        self.pacer.breathe()
        try:
            for objects in lists:
                if not self._count_list(objects):
                    self.complete = False
                    break
        finally:
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
            self._count_chunk(chunk)
            del chunk
            self._adapt(time.perf_counter() - began)
            self.pacer.breathe()
        return True

    def _adapt(self, took):
        """Sizes the next chunk so that it lasts about CHUNK_TARGET."""
        if took > 0:
            wanted = int(self.chunk * CHUNK_TARGET / took)
            self.chunk = max(MIN_CHUNK, min(MAX_CHUNK, wanted, self.chunk * 4))

    def _release(self, objects):
        """Drops the snapshot a piece at a time: the last reference to an
        object the program let go of frees it here."""
        step = self.chunk * 4
        while objects:
            del objects[-step:]
            self.pacer.breathe()

    def _count_chunk(self, chunk):
        if self.by_id:
            keys = list(map(id, map(type, chunk)))
        else:
            keys = list(map(type, chunk))
        if self.usual is not None and self._count_usual(chunk, keys):
            return
        here = {}
        _count_elements(here, keys)
        # Heaps are mostly made of a few types, chunk after chunk: when this
        # chunk held few, the next one tries them first.
        self.usual = list(here) if len(here) <= USUAL_TYPES else None
        kinds = self.kinds
        new = [key for key in here if key not in kinds]
        if new:
            self._classify_new(new, keys, chunk)
        counts = self.counts
        variable = []
        for key, n in here.items():
            counts[key] = counts.get(key, 0) + n
            if kinds[key][0] == VARIABLE:
                variable.append(key)
        if variable:
            self._size_variable(chunk, keys, here, variable)

    def _count_usual(self, chunk, keys):
        """Counts CHUNK with one C pass per usual type (list.count, or the
        compress() that sizing needs anyway), cheaper than counting into a
        dictionary; False, having changed nothing, when other types are in
        it too."""
        found = []
        seen = 0
        for key in self.usual:
            if self.kinds[key][0] == VARIABLE:
                objects = list(compress(chunk, map(self.same, keys, repeat(key))))
                found.append((key, len(objects), objects))
                seen += len(objects)
            else:
                n = keys.count(key)
                found.append((key, n, None))
                seen += n
        if seen != len(keys):
            return False
        counts = self.counts
        for key, n, objects in found:
            counts[key] = counts.get(key, 0) + n
            if objects:
                self._add_sizes(key, objects)
        return True

    def _classify_new(self, new, keys, chunk):
        if len(new) <= 4:
            samples = {key: chunk[keys.index(key)] for key in new}
        else:
            samples = dict(zip(keys, chunk))
        for key in new:
            sample = samples[key]
            cls = type(sample)
            self.classes[key] = cls
            self.kinds[key] = classify(cls, sample)

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
        _, sizeof, extra = self.kinds[key]
        try:
            sizes = list(map(sizeof, objects))
        except Exception:
            self._add_sizes_mixed(repeat(key), objects)
            return
        self.var_bytes[key] = self.var_bytes.get(key, 0) + sum(sizes) + extra * len(sizes)
        large = list(filter((SMALL_LIMIT - extra).__lt__, sizes))
        if large:
            self.var_large[key] = self.var_large.get(key, 0) + sum(large) + extra * len(large)

    def _add_sizes_mixed(self, keys, objects):
        """Sizes OBJECTS one at a time (KEYS are their classes' keys)."""
        kinds = self.kinds
        var_bytes = self.var_bytes
        var_large = self.var_large
        for key, obj in zip(keys, objects):
            _, sizeof, extra = kinds[key]
            try:
                size = sizeof(obj) + extra
            except Exception:
                size = _basic_size(self.classes[key])
            var_bytes[key] = var_bytes.get(key, 0) + size
            if size > SMALL_LIMIT:
                var_large[key] = var_large.get(key, 0) + size

    def result(self, top):
        """The "census" member of the summary, with TOP types listed."""
        by_name = {}
        small = large = 0
        for key, count in self.counts.items():
            kind = self.kinds[key]
            if kind[0] == CONSTANT:
                size = kind[1] * count
                over = size if kind[1] > SMALL_LIMIT else 0
            else:
                size = self.var_bytes.get(key, 0)
                over = self.var_large.get(key, 0)
            large += over
            small += size - over
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
            "bytes": small + large,
            "small_bytes": small,
            "large_bytes": large,
            "types": types,
            "other": {"count": sum(entry[1][0] for entry in rest),
                      "bytes": sum(entry[1][1] for entry in rest)},
        }
