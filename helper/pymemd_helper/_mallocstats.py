"""pymalloc's arenas and pools, from the C function behind
sys._debugmallocstats(), made to write into memory (fmemopen) instead of
the process's stderr.

The functions are called through ``_ctypes``, the C half of ctypes, alone:
the ctypes package would bring struct, types and two more modules into the
process for three calls.  ``_ctypes`` is imported only here, the first time
a summary is taken: a program that is never asked for a summary never loads
it.  The C function prints nothing (and we say null) when the allocator is
not pymalloc itself, which includes while tracemalloc traces: its hooks
wrap the allocator.
"""

# The report's lines we read, and the member each one gives.
_LINES = {
    "# arenas allocated current": "arenas",
    "# bytes in allocated blocks": "allocated_bytes",
    "# bytes in available blocks": "available_bytes",
    "# bytes lost to pool headers": "pool_headers",
    "# bytes lost to quantization": "quantization",
    "# bytes lost to arena alignment": "arena_alignment",
}
_BUFFER = 64 * 1024
_MAX_BUFFER = 1024 * 1024


def _number(text):
    """The integer after the last '=' of a report line: "1,337,600"."""
    return int(text.rpartition("=")[2].strip().replace(",", ""))


def parse(report):
    """The "pymalloc" member from REPORT, the C function's text, or None
    when it is not the report of a pymalloc allocator."""
    found = {}
    for line in report.splitlines():
        head = line.partition("=")[0].strip()
        if head in _LINES:
            found.setdefault(_LINES[head], _number(line))
        elif " arenas * " in head and head.endswith("bytes/arena"):
            found.setdefault("arena_bytes", _number(line))
        elif " unused pools * " in head:
            found.setdefault("free_pool_bytes", _number(line))
    if not all(name in found for name in _LINES.values()):
        return None
    if "arena_bytes" not in found:
        return None
    return {
        "arenas": found["arenas"],
        "arena_bytes": found["arena_bytes"],
        "allocated_bytes": found["allocated_bytes"],
        "available_bytes": found["available_bytes"],
        "free_pool_bytes": found.get("free_pool_bytes", 0),
        "overhead_bytes": found["pool_headers"] + found["quantization"]
        + found["arena_alignment"],
    }


class _Library(object):
    """What _ctypes looks a function up in: the handle of the process's
    own symbols (libc's fmemopen, the interpreter's functions)."""

    def __init__(self, handle):
        self._handle = handle


def _functions():
    """fmemopen, fclose and _PyObject_DebugMallocStats, callable."""
    import _ctypes

    class Pointer(_ctypes._SimpleCData):
        _type_ = "P"

    class Int(_ctypes._SimpleCData):
        _type_ = "i"

    class Size(_ctypes._SimpleCData):
        _type_ = "L"

    class Text(_ctypes._SimpleCData):
        _type_ = "z"

    class Char(_ctypes._SimpleCData):
        _type_ = "c"

    def prototype(flags, restype, *argtypes):
        class Function(_ctypes.CFuncPtr):
            _flags_ = flags
            _restype_ = restype
            _argtypes_ = argtypes
        return Function

    process = _Library(_ctypes.dlopen(None, _ctypes.RTLD_LOCAL))
    cdecl = _ctypes.FUNCFLAG_CDECL
    fmemopen = prototype(cdecl, Pointer, Pointer, Size, Text)(("fmemopen", process))
    fclose = prototype(cdecl, Int, Pointer)(("fclose", process))
    # As a Python API function it keeps the GIL during the call: it walks
    # the interpreter's arenas.
    stats = prototype(cdecl | _ctypes.FUNCFLAG_PYTHONAPI, Int, Pointer)(
        ("_PyObject_DebugMallocStats", process))
    return fmemopen, fclose, stats, Char


# _functions()'s, made once: ctypes keeps every array type made of a
# character type, and a new character type each time would grow that cache
# with every summary.
_made = []


def _report():
    """The C function's text, or None (no pymalloc, no such function)."""
    if not _made:
        _made.append(_functions())
    fmemopen, fclose, stats, char = _made[0]
    size = _BUFFER
    while True:
        buffer = (char * size)()
        stream = fmemopen(buffer, size, b"w")
        if not stream:
            return None
        try:
            printed = stats(stream)
        finally:
            fclose(stream)
        if not printed:
            return None  # pymalloc is not the allocator
        text = buffer.value
        if len(text) < size - 1 or size >= _MAX_BUFFER:
            return text.decode("ascii", "replace")
        size *= 4


def take():
    """The "pymalloc" member of the summary, or None."""
    try:
        report = _report()
        return parse(report) if report is not None else None
    except Exception:
        return None
