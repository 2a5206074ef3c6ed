"""The process a deck's Python blocks run in (`python -m pgslides.run.pyworker`).

It reads one JSON line of configuration, then one JSON line per block, and answers each block
with one JSON line: what it printed, its last expression's value, the SQL it sent and its
exception. Messages go over the process's original stdout; file descriptor 1 itself points at
/dev/null, so nothing the deck's code writes there can garble them. The worker ends at the end
of its input, and by itself once the build process that started it is gone.
"""

from __future__ import annotations

import ast
import json
import linecache
import os
import signal
import sys
import threading
import time
import traceback
import types
from collections.abc import Callable
from decimal import Decimal
from typing import Any

_ORPHAN_CHECK_S = 0.5
_POOL_TIMEOUT_S = 5.0  # a block that wants more connections than its pool fails soon, plainly


class _Stream:
    """sys.stdout or sys.stderr: every write lands in the block's chunks, in order."""

    def __init__(self, name: str, chunks: list[list[str]]) -> None:
        self.name = name
        self.chunks = chunks
        self.encoding = "utf-8"

    def write(self, text: str) -> int:
        text = str(text)
        if self.chunks and self.chunks[-1][0] == self.name:
            self.chunks[-1][1] += text
        elif text:
            self.chunks.append([self.name, text])
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


class Namespace:
    """One deck's namespace: `engine`, `url`, `show`, and what its blocks defined."""

    def __init__(self, config: dict[str, Any]) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.engine import URL

        self.path: str = config["path"]
        self.max_rows: int = config["max_rows"]
        self.lines: list[str] = []  # the deck's lines as far as its blocks go, for tracebacks
        self.sql: list[list[Any]] = []
        self.shown: list[dict[str, Any]] = []
        params = dict(config["connect"])
        url = URL.create(
            "postgresql+psycopg2",
            username=params.pop("user", None),
            password=params.pop("password", None),
            database=params.pop("dbname", None),
        )
        self.recording = False
        params["connection_factory"] = _recording_connection(self._record)
        engine = create_engine(
            url,
            connect_args=params,
            pool_size=config["pool_size"],
            max_overflow=0,
            pool_timeout=_POOL_TIMEOUT_S,
        )
        with engine.connect():
            pass  # the dialect's first-connect queries, before anything is recorded
        self.recording = True
        # The deck is the program's __main__, as a script is: what looks a class's module up
        # in sys.modules (SQLAlchemy's and dataclasses' annotations, pickle) finds the deck.
        deck = types.ModuleType("__main__")
        deck.__dict__.update(engine=engine, url=engine.url, show=self.show)
        sys.modules["__main__"] = deck
        self.globals: dict[str, Any] = deck.__dict__

    def _record(self, statement: str, parameters: Any) -> None:
        if self.recording:
            self.sql.append([statement, None if not parameters else repr(parameters)])

    def show(self, value: Any) -> None:
        """Show a SQLAlchemy Result or a list of rows or mappings as a result table."""
        table = self.table(value)
        if table is None:
            raise TypeError(f"show() takes a Result or a list of rows, not {type(value).__name__}")
        self.shown.append(table)

    def table(self, value: Any) -> dict[str, Any] | None:
        from sqlalchemy.engine import Result, Row, RowMapping

        if isinstance(value, Result):
            if not getattr(value, "returns_rows", True):
                return None
            names = list(value.keys())
            rows = [tuple(row) for row in value.fetchall()]
        elif isinstance(value, list) and value and all(isinstance(v, Row) for v in value):
            names = list(value[0]._fields)
            rows = [tuple(row) for row in value]
        elif isinstance(value, list) and value and all(isinstance(v, RowMapping) for v in value):
            names = list(value[0].keys())
            rows = [tuple(row.values()) for row in value]
        else:
            return None
        numeric = [
            any(_is_number(row[i]) for row in rows)
            and all(_is_number(row[i]) for row in rows if row[i] is not None)
            for i in range(len(names))
        ]
        return {
            "columns": [
                {"name": str(n), "type_oid": 0, "numeric": numeric[i]} for i, n in enumerate(names)
            ],
            "rows": [[None if v is None else str(v) for v in row] for row in rows[: self.max_rows]],
            "row_count": len(rows),
        }

    def run(self, source: str, first_line: int) -> dict[str, Any]:
        chunks: list[list[str]] = []
        self.sql, self.shown = [], []
        reply: dict[str, Any] = {"value": None, "value_table": None, "error": None}
        block_lines = source.splitlines(keepends=True)
        if len(self.lines) < first_line - 1:
            self.lines += ["\n"] * (first_line - 1 - len(self.lines))
        self.lines[first_line - 1 : first_line - 1 + len(block_lines)] = block_lines
        linecache.cache[self.path] = (len("".join(self.lines)), None, self.lines, self.path)
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Stream("stdout", chunks), _Stream("stderr", chunks)
        try:
            value = self._execute(source, first_line)
            if value is not None:
                table = self.table(value)
                if table is not None:
                    reply["value_table"] = table
                else:
                    reply["value"] = repr(value)
        except BaseException as error:  # SystemExit too: a deck's exception, like any other
            reply["error"] = self._error(error, first_line)
        finally:
            sys.stdout, sys.stderr = saved
        reply.update(output=chunks, sql=self.sql, shown=self.shown)
        return reply

    def _execute(self, source: str, first_line: int) -> Any:
        try:
            tree = ast.parse(source, self.path)
        except SyntaxError as error:
            if error.lineno is not None:
                error.lineno += first_line - 1
            if error.end_lineno is not None:
                error.end_lineno += first_line - 1
            raise
        ast.increment_lineno(tree, first_line - 1)
        last = tree.body[-1] if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        body = tree.body[:-1] if last is not None else tree.body
        # The deck's own code, with the author's rights, as any build script (README).
        # dont_inherit: this module's `from __future__ import annotations` is not the deck's.
        module = compile(ast.Module(body, type_ignores=[]), self.path, "exec", dont_inherit=True)
        exec(module, self.globals)  # noqa: S102
        if last is None:
            return None
        expression = compile(ast.Expression(last.value), self.path, "eval", dont_inherit=True)
        return eval(expression, self.globals)  # noqa: S307

    def _error(self, error: BaseException, first_line: int) -> dict[str, Any]:
        kind = type(error)
        frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == self.path]
        line = frames[-1].lineno if frames else None
        if isinstance(error, SyntaxError) and error.filename == self.path:
            line = error.lineno
        only = "".join(traceback.format_exception_only(kind, error))
        text = "".join(traceback.StackSummary.from_list(frames).format())
        text = ("Traceback (most recent call last):\n" + text if frames else "") + only
        found: dict[str, Any] = {
            "exception": kind.__name__,
            "message": str(error),
            "traceback": text,
        }
        found["line"] = line or first_line
        names = [c.__name__ for c in kind.__mro__] + [
            f"{c.__module__}.{c.__qualname__}" for c in kind.__mro__
        ]
        found["names"] = names
        orig = getattr(error, "orig", None) or error
        diag = getattr(orig, "diag", None)
        found["sqlstate"] = getattr(orig, "pgcode", None)
        found["detail"] = getattr(diag, "message_detail", None)
        found["hint"] = getattr(diag, "message_hint", None)
        return found


def _recording_connection(record: Callable[[str, Any], None]) -> type:
    """A psycopg2 connection class whose cursors, of any cursor_factory, tell `record` each
    statement they send: through the engine, a raw connection or psycopg2.extras alike."""
    import psycopg2.extensions

    made: dict[Any, type] = {}

    def recording(factory: Any) -> type:
        if factory not in made:
            name = f"Recording{factory.__name__}"
            made[factory] = type(name, (_Recording, factory), {"record": staticmethod(record)})
        return made[factory]

    class RecordingConnection(psycopg2.extensions.connection):
        def cursor(self, *args: Any, **kwargs: Any) -> Any:
            if len(args) > 1:  # cursor(name, cursor_factory, …), positionally
                kwargs["cursor_factory"], args = args[1], (args[0], *args[2:])
            factory = kwargs.get("cursor_factory") or self.cursor_factory
            kwargs["cursor_factory"] = recording(factory or psycopg2.extensions.cursor)
            return super().cursor(*args, **kwargs)

    return RecordingConnection


class _Recording:
    """Mixed into a psycopg2 cursor class: each statement is recorded before it is sent."""

    record: Callable[[str, Any], None]

    def _text(self, query: Any) -> str:
        if isinstance(query, bytes):
            return query.decode("utf-8", "replace")
        if hasattr(query, "as_string"):  # psycopg2.sql.Composed
            return str(query.as_string(self))
        return str(query)

    def execute(self, query: Any, vars: Any = None) -> Any:
        self.record(self._text(query), vars)
        return super().execute(query, vars)  # type: ignore[misc]

    def executemany(self, query: Any, vars_list: Any) -> Any:
        vars_list = list(vars_list)
        self.record(self._text(query), vars_list)
        return super().executemany(query, vars_list)  # type: ignore[misc]

    def copy_expert(self, sql: Any, file: Any, *args: Any) -> Any:
        self.record(self._text(sql), None)
        return super().copy_expert(sql, file, *args)  # type: ignore[misc]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def _leave_with_parent(parent: int) -> None:
    """End the worker once the process that started it is gone (killed: it cannot say so)."""
    while True:
        time.sleep(_ORPHAN_CHECK_S)
        if os.getppid() != parent:
            os._exit(70)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the build's: it stops us
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    parent = int(os.environ.get("PGSLIDES_PARENT", os.getppid()))
    threading.Thread(target=_leave_with_parent, args=(parent,), daemon=True).start()
    requests = sys.stdin
    try:
        namespace = Namespace(json.loads(requests.readline()))
        ready: dict[str, Any] = {"ready": True}
    except Exception as error:  # e.g. cannot connect: said once, for the first block
        namespace = None
        ready = {
            "ready": False,
            "message": "".join(traceback.format_exception_only(type(error), error)),
        }
    replies.write(json.dumps(ready) + "\n")
    replies.flush()
    if namespace is None:
        return
    for line in requests:
        request = json.loads(line)
        reply = namespace.run(request["source"], request["first_line"])
        replies.write(json.dumps(reply) + "\n")
        replies.flush()
    namespace.globals["engine"].dispose()


if __name__ == "__main__":
    main()
