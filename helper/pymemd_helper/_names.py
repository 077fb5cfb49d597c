"""Names for the paths the daemon found to its holders (docs/helper-protocol.md,
"name"): a path is a root (a module global, a class attribute, a frame's
local) and the addresses of the objects after it; each step is named from
the object before it: an attribute, a key, an index.

Every object is reached again from its root by following references, never
from an address; a step whose object is gone (the program changed since the
walk) and the steps after it are left unnamed.  Nothing of the program's
code runs: keys and values are compared by identity, keys are shown with
str's and int's own ``__repr__``, and an attribute is read only through a C
descriptor or with ``object.__getattribute__`` where no class in the MRO
defines the name (whose descriptor could be the program's).
"""

import sys
from itertools import islice, repeat
from _operator import is_, itemgetter

from pymemd_helper import _frames
from pymemd_helper._census import type_name
from pymemd_helper._frames import cut
from pymemd_helper._graph import (CLASS_ATTRIBUTE, GLOBAL, LOCAL, _DICT, _MODULE_DICT, _MODULE_TYPE,
                                  _MRO, _class_namespace, _frames_of, _get_referents)

MAX_PATHS = 1000
MAX_STEPS = 256
MAX_ADDRESS = 2 ** 64 - 1
LABEL_LIMIT = 128
KEY_LIMIT = 64
SLICE = 1 << 16

_SUBCLASSES = type.__dict__["__subclasses__"]
_MEMBER = type(type.__dict__["__dictoffset__"])
_GETSET = type(type.__dict__["__dict__"])
# C getters that allocate or change what they read.
_SKIPPED_GETTERS = frozenset(("__dict__", "__weakref__", "__annotations__", "__annotate__",
                              "f_locals", "__builtins__"))
_FUNCTION = type(lambda: None)
_CODE_OF = _FUNCTION.__dict__["__code__"].__get__
_second = itemgetter(1)


class Request(object):
    def __init__(self, request_id, paths):
        self.id = request_id
        self.paths = paths


def _address(value):
    return type(value) is int and 0 <= value <= MAX_ADDRESS


def parse(message):
    """A Request from a "name" message, or None when it is not a valid one
    (the protocol has the helper ignore those)."""
    if message.get("v") != _frames.VERSION:
        return None
    request_id = message.get("id")
    paths = message.get("paths")
    if type(request_id) is not int or not 1 <= request_id <= _frames.MAX_ID:
        return None
    if type(paths) is not list or len(paths) > MAX_PATHS:
        return None
    parsed = []
    for path in paths:
        if type(path) is not dict:
            return None
        root, steps = path.get("root"), path.get("steps")
        if type(root) is not list or len(root) != 3 or not all(map(_address, root)) or \
                root[0] not in (GLOBAL, CLASS_ATTRIBUTE, LOCAL):
            return None
        if type(steps) is not list or len(steps) > MAX_STEPS or not all(map(_address, steps)):
            return None
        parsed.append((root, steps))
    return Request(request_id, parsed)


def answer(request):
    """The "names" message for REQUEST, made to fit in a frame."""
    namer = Namer()
    names = [namer.path(root, steps) for root, steps in request.paths]
    message = {"v": _frames.VERSION, "type": "names", "id": request.id, "names": names}
    while True:
        try:
            _frames.encode(message)
            return message
        except ValueError:
            if not _shorten(names):
                raise


def _shorten(names):
    """Forgets the last step named of the longest path; False when none is left."""
    longest = max(names, key=lambda name: len([s for s in name["steps"] if s is not None]), default=None)
    if longest is None:
        return False
    named = [i for i, step in enumerate(longest["steps"]) if step is not None]
    if not named:
        return False
    longest["steps"][named[-1]] = None
    return True


def _label(text):
    return cut(text, LABEL_LIMIT)


def _key_text(key):
    """A dict key as the program would write it, for str and int keys."""
    if type(key) is str:
        return str.__repr__(key if len(key) <= KEY_LIMIT else key[:KEY_LIMIT] + "…")
    if type(key) is int:
        return int.__repr__(key)
    return None


def _find(objects, address):
    """The object of OBJECTS (a list) at ADDRESS, and its position."""
    try:
        position = list(map(id, objects)).index(address)
    except ValueError:
        return None, -1
    return objects[position], position


def _unsafe_name(cls, name):
    """Whether a class in CLS's MRO defines NAME: reading it from an
    instance could then call the program's descriptor."""
    return any(map(dict.__contains__, map(_class_namespace, _MRO(cls)), repeat(name)))


class Namer(object):
    """Names paths; what it looked up once (modules, classes, frames) serves
    every path of the request."""

    def __init__(self):
        self._modules = None
        self._classes = None
        self._frames = None

    def path(self, root, steps):
        parts, obj = self._root(*root)
        names = {"root": parts, "steps": [None] * len(steps)}
        if obj is None:
            return names
        namespace = False
        for position, address in enumerate(steps):
            label, obj, namespace = self._step(obj, address, namespace)
            if obj is None:
                break
            names["steps"][position] = label
        return names

    # ---- roots

    def _root(self, kind, container, target):
        try:
            if kind == GLOBAL:
                return self._global(container, target)
            if kind == CLASS_ATTRIBUTE:
                return self._class_attribute(container, target)
            return self._local(container, target)
        except Exception:
            return None, None

    def _global(self, container, target):
        if self._modules is None:
            self._modules = {}
            modules = sys.modules
            for name, module in list(dict.items(modules)) if type(modules) is dict else []:
                if type(name) is str and any(map(is_, _MRO(type(module)), repeat(_MODULE_TYPE))):
                    namespace = _MODULE_DICT(module)
                    self._modules.setdefault(id(namespace), (name, namespace))
        found = self._modules.get(container)
        if found is None:
            return None, None
        name, namespace = found
        key, value = self._in_dict(namespace, target)
        if type(key) is not str:
            return None, None
        return [_label(name), _label(key)], value

    def _class_attribute(self, container, target):
        if self._classes is None:
            self._classes = {id(object): object}
            todo = [object]
            while todo:
                for sub in _SUBCLASSES(todo.pop()):
                    if id(sub) not in self._classes:
                        self._classes[id(sub)] = sub
                        todo.append(sub)
        cls = self._classes.get(container)
        if cls is None:
            return None, None
        key, value = self._in_dict(_class_namespace(cls), target)
        if type(key) is not str:
            return None, None
        return [_label(type_name(cls)), _label(key)], value

    def _local(self, container, target):
        if self._frames is None:
            self._frames = {}
            for ident, innermost in list(dict.items(sys._current_frames())):
                for frame in _frames_of(innermost):
                    self._frames[id(frame)] = (frame, ident)
        found = self._frames.get(container)
        if found is None:
            return None, None
        frame, ident = found
        locals_ = frame.f_locals
        for key, value in list(locals_.items()):
            if id(value) == target and type(key) is str:
                code_name = frame.f_code.co_name
                return [_label(_thread_name(ident)), _label(code_name if type(code_name) is str else "?"),
                        _label(key)], value
        return None, None

    def _in_dict(self, mapping, address):
        """The key whose value is at ADDRESS in the dict MAPPING, and the
        value; (None, None) when none is."""
        iterator = iter(dict.items(mapping))
        while True:
            try:
                items = list(islice(iterator, SLICE))
            except RuntimeError:  # changed by another thread meanwhile
                return None, None
            if not items:
                return None, None
            value, position = _find(list(map(_second, items)), address)
            if value is not None:
                return items[position][0], value

    # ---- steps

    def _step(self, parent, address, namespace):
        """The label of the reference from PARENT to the object at ADDRESS,
        that object, and whether it is PARENT's namespace (whose keys are
        attributes); (None, None, False) when PARENT no longer refers to
        it."""
        try:
            mro = _MRO(type(parent))
            if any(map(is_, mro, repeat(dict))):
                return self._dict_step(parent, address, namespace)
            if any(map(is_, mro, repeat(list))) or any(map(is_, mro, repeat(tuple))):
                sequence = list(list.__iter__(parent)) if any(map(is_, mro, repeat(list))) \
                    else list(tuple.__iter__(parent))
                child, position = _find(sequence, address)
                return ("[%d]" % position if child is not None else None), child, False
            child, _ = _find(_get_referents(parent), address)
            if child is None:
                return None, None, False
            if any(map(is_, mro, repeat(set))) or any(map(is_, mro, repeat(frozenset))):
                return "{…}", child, False
            label = self._attribute(parent, mro, child)
            if label is None and type(child) is dict and self._is_namespace(parent, child):
                return "", child, True
            return label, child, False
        except Exception:
            return None, None, False

    def _dict_step(self, parent, address, namespace):
        key, value = self._in_dict(parent, address)
        if value is not None:
            if namespace and type(key) is str:
                return "." + _label(key), value, False
            text = _key_text(key)
            return ("[%s]" % _label(text) if text is not None else "[%s key]" % _label(type_name(type(key)))), \
                value, False
        keys = list(dict.keys(parent)) if dict.__len__(parent) <= SLICE else []
        key, _ = _find(keys, address)
        if key is not None:
            return " (a key)", key, False
        return None, None, False

    def _is_namespace(self, parent, child):
        """Whether CHILD, a dict PARENT refers to, is its namespace: a
        module's, a class's, or an instance's __dict__ (on 3.11+ an
        instance refers to its attributes' values directly, and to a dict
        only once its __dict__ was asked for)."""
        if type(parent) is _MODULE_TYPE:
            return _MODULE_DICT(parent) is child
        if any(map(is_, _MRO(type(parent)), repeat(type))):
            return _class_namespace(parent) is child
        return True

    def _attribute(self, parent, mro, child):
        """".name" of the attribute of PARENT that is CHILD: C descriptors
        (slots, functions', frames', cells' fields) first, then the names
        the class's code assigns (instances' attributes in 3.11+'s inline
        values, read with object.__getattribute__ where no class defines
        the name)."""
        for base in mro:
            for name, descriptor in list(dict.items(_class_namespace(base))):
                if type(descriptor) not in (_MEMBER, _GETSET) or name in _SKIPPED_GETTERS:
                    continue
                try:
                    if descriptor.__get__(parent, type(parent)) is child:
                        return "." + _label(name)
                except Exception:
                    pass
        cls = type(parent)
        for name in _attribute_names(mro):
            if _unsafe_name(cls, name):
                continue
            try:
                if object.__getattribute__(parent, name) is child:
                    return "." + _label(name)
            except Exception:
                pass
        return None


def _attribute_names(mro):
    """Names the classes of MRO may give their instances as attributes:
    __static_attributes__ (3.13+) and the names their functions' code uses."""
    names = []
    for base in mro:
        if base is object:
            continue
        namespace = _class_namespace(base)
        static = namespace.get("__static_attributes__")
        if type(static) is tuple:
            names.extend(name for name in static if type(name) is str)
        for value in list(dict.values(namespace)):
            if type(value) is _FUNCTION:
                names.extend(name for name in _CODE_OF(value).co_names if type(name) is str)
    seen = set()
    return [name for name in names if not (name in seen or seen.add(name))]


def _thread_name(ident):
    """The name threading gave the thread IDENT, or its number."""
    threading = sys.modules.get("threading")
    if type(threading) is _MODULE_TYPE:
        active = _MODULE_DICT(threading).get("_active")
        if type(active) is dict:
            thread = active.get(ident)
            if thread is not None and not _unsafe_name(type(thread), "_name"):
                try:
                    name = object.__getattribute__(thread, "_name")
                    if type(name) is str:
                        return name
                except Exception:
                    pass
    return str(ident)
