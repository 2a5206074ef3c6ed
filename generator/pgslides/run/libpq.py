"""The libpq that psycopg2 itself uses, reached through ctypes, for the calls psycopg2 lacks.

psycopg2 reads a whole result into memory before it returns; a slide needs the first rows and
the count. libpq can hand over a result in pieces (chunked or single-row mode), so pgslides
drives it on psycopg2's own connection (`conn.pgconn_ptr`). It must be the very library that
made that connection: a PGconn is a struct private to the library that made it. dlsym on
psycopg2's extension module finds exactly that one (the bundled copy of psycopg2-binary, or
the system one a source build links); the system's libpq on the search path may be another.

ctypes releases the GIL during each call, so sessions waiting on the server in other threads
(the concurrent-session timeline) never stop each other.
"""

from __future__ import annotations

import ctypes
from functools import cache
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.extensions

# ExecStatusType (libpq-fe.h)
EMPTY_QUERY, COMMAND_OK, TUPLES_OK, COPY_OUT, COPY_IN = 0, 1, 2, 3, 4
BAD_RESPONSE, NONFATAL_ERROR, FATAL_ERROR, COPY_BOTH, SINGLE_TUPLE = 5, 6, 7, 8, 9
TUPLES_CHUNK = 12  # libpq 17+
CONNECTION_OK = 0

# Error fields (postgres_ext.h, PG_DIAG_*), as PQresultErrorField takes them.
SEVERITY = ord("S")
SEVERITY_NONLOCALIZED = ord("V")
SQLSTATE = ord("C")
MESSAGE_PRIMARY = ord("M")
MESSAGE_DETAIL = ord("D")
MESSAGE_HINT = ord("H")
STATEMENT_POSITION = ord("P")
INTERNAL_POSITION = ord("p")
INTERNAL_QUERY = ord("q")
CONTEXT = ord("W")

NoticeReceiver = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)

_P = ctypes.c_void_p
_PROTOTYPES: dict[str, tuple[Any, list[Any]]] = {
    "PQlibVersion": (ctypes.c_int, []),
    "PQsendQuery": (ctypes.c_int, [_P, ctypes.c_char_p]),
    "PQsetSingleRowMode": (ctypes.c_int, [_P]),
    "PQgetResult": (_P, [_P]),
    "PQresultStatus": (ctypes.c_int, [_P]),
    "PQntuples": (ctypes.c_int, [_P]),
    "PQnfields": (ctypes.c_int, [_P]),
    "PQfname": (ctypes.c_char_p, [_P, ctypes.c_int]),
    "PQftype": (ctypes.c_uint, [_P, ctypes.c_int]),
    "PQgetvalue": (_P, [_P, ctypes.c_int, ctypes.c_int]),
    "PQgetlength": (ctypes.c_int, [_P, ctypes.c_int, ctypes.c_int]),
    "PQgetisnull": (ctypes.c_int, [_P, ctypes.c_int, ctypes.c_int]),
    "PQcmdStatus": (ctypes.c_char_p, [_P]),
    "PQresultErrorField": (ctypes.c_char_p, [_P, ctypes.c_int]),
    "PQresultErrorMessage": (ctypes.c_char_p, [_P]),
    "PQerrorMessage": (ctypes.c_char_p, [_P]),
    "PQclear": (None, [_P]),
    "PQstatus": (ctypes.c_int, [_P]),
    "PQparameterStatus": (ctypes.c_char_p, [_P, ctypes.c_char_p]),
    "PQsetNoticeReceiver": (_P, [_P, _P, _P]),  # a NoticeReceiver, cast
    "PQgetCopyData": (ctypes.c_int, [_P, ctypes.POINTER(_P), ctypes.c_int]),
    "PQputCopyEnd": (ctypes.c_int, [_P, ctypes.c_char_p]),
    "PQfreemem": (None, [_P]),
    # A cancel object of pgslides' own (run/watchdog.py), freed when pgslides is done with it.
    "PQgetCancel": (_P, [_P]),
    "PQcancel": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_int]),
    "PQfreeCancel": (None, [_P]),
}


class LibpqUnavailableError(RuntimeError):
    """psycopg2's libpq cannot be reached (a statically linked build): nothing to stream with."""


@cache
def library() -> Any:
    """psycopg2's libpq, with the prototypes pgslides calls declared."""
    lib = _load()
    for name, (restype, argtypes) in _PROTOTYPES.items():
        function = getattr(lib, name)
        function.restype, function.argtypes = restype, argtypes
    if lib.PQlibVersion() != psycopg2.extensions.libpq_version():
        raise LibpqUnavailableError("the libpq found is not the one psycopg2 was built with")
    # Chunked mode (libpq 17) hands rows over thousands at a time; single-row mode, one.
    set_chunked = getattr(lib, "PQsetChunkedRowsMode", None)
    if set_chunked is not None:
        set_chunked.restype, set_chunked.argtypes = ctypes.c_int, [_P, ctypes.c_int]
    return lib


def set_rows_mode(lib: Any, pgconn: int, chunk: int) -> None:
    """Ask for the result in pieces: `chunk` rows at a time where libpq can, else one."""
    set_chunked = getattr(lib, "PQsetChunkedRowsMode", None)
    if set_chunked is not None:
        set_chunked(pgconn, chunk)
    else:
        lib.PQsetSingleRowMode(pgconn)


def _load() -> Any:
    # dlopen of an already loaded module returns it; dlsym then searches its dependencies.
    module = psycopg2._psycopg.__file__  # the extension module that links libpq
    try:
        lib = ctypes.CDLL(module)
        lib.PQsendQuery  # noqa: B018 - resolves the symbol, or raises
    except (OSError, AttributeError):
        pass
    else:
        return lib
    # Windows resolves exports of the named module only: load the libpq beside psycopg2.
    here = Path(module).parent.parent
    for pattern in ("psycopg2_binary.libs/libpq*", "psycopg2/libpq*", "psycopg2/.dylibs/libpq*"):
        for candidate in sorted(here.glob(pattern)):
            try:
                return ctypes.CDLL(str(candidate))
            except OSError:
                continue
    raise LibpqUnavailableError(f"no libpq found beside {module}")
