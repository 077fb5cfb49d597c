"""pymalloc's arenas and pools, from the C function behind
sys._debugmallocstats(), made to write into memory (fmemopen) instead of
the process's stderr.

ctypes is imported only here, the first time a summary is taken: a program
that is never asked for a summary never loads it.  The C function prints
nothing (and we say null) when the allocator is not pymalloc itself, which
includes while tracemalloc traces: its hooks wrap the allocator.
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


def _report():
    """The C function's text, or None (no pymalloc, no such function)."""
    import ctypes

    libc = ctypes.CDLL(None)
    fmemopen = libc.fmemopen
    fmemopen.restype = ctypes.c_void_p
    fmemopen.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
    fclose = libc.fclose
    fclose.argtypes = [ctypes.c_void_p]
    # pythonapi keeps the GIL during the call: the function walks the
    # interpreter's arenas.
    stats = ctypes.pythonapi._PyObject_DebugMallocStats
    stats.restype = ctypes.c_int
    stats.argtypes = [ctypes.c_void_p]
    size = _BUFFER
    while True:
        buffer = ctypes.create_string_buffer(size)
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
