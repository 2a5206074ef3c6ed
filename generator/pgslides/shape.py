"""JSON data checked against the dataclasses it must become, before any of it is used: a
stored file of any wrong shape (a wrong type, a missing or unknown key, a list for a mapping,
a null, a negative count, an index past the end) is refused whole, saying where."""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable
from typing import Any

from pgslides.outcome import DeckOutcome, StatementOutcome

# What JSON value each scalar type accepts. JSON's true is Python's True, an int: a count
# must be a number all the same.
_SCALARS: dict[Any, Callable[[Any], bool]] = {
    type(None): lambda data: data is None,
    bool: lambda data: isinstance(data, bool),
    int: lambda data: isinstance(data, int) and not isinstance(data, bool) and data >= 0,
    str: lambda data: isinstance(data, str),
}


class ShapeError(ValueError):
    """Data that is not what the dataclass it should make says; its message says where."""


def check_shape(kind: Any, data: Any, where: str = "the file") -> None:
    """Raise ShapeError at the first place where data is not of type `kind`.

    Types are read from the dataclasses' own annotations: str, bool, int (never negative:
    every number here is a line, a count, an index or an oid), X | None, tuple[X, ...],
    dict[str, X] and nested dataclasses."""
    if not _fits(kind)(data):
        _check(kind, data, where)  # says where; the quick check says only whether


def _check(kind: Any, data: Any, where: str) -> None:
    if kind is Any:
        return
    scalar = _SCALARS.get(kind)
    if scalar is not None:
        if not scalar(data):
            raise ShapeError(f"{where}: expected {_describe(kind)}")
        return
    if dataclasses.is_dataclass(kind):
        _check_dataclass(kind, data, where)
        return
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        _check_union(typing.get_args(kind), data, where)
    elif origin is tuple:
        _check_tuple(typing.get_args(kind), data, where)
    elif origin is dict:
        _check_dict(typing.get_args(kind), data, where)
    else:
        raise TypeError(f"check_shape cannot check {kind!r}")  # a type this module must learn


def _check_dataclass(kind: Any, data: Any, where: str) -> None:
    _require(isinstance(data, dict), where, "a mapping")
    fields = _fields(kind)
    unknown = sorted(set(data) - set(fields), key=str)
    if unknown:
        raise ShapeError(f"{where}: unknown key {unknown[0]!r}")
    for name, (hint, required) in fields.items():
        if name in data:
            _check(hint, data[name], f"{where}.{name}")
        elif required:
            raise ShapeError(f"{where}: missing key {name!r}")


@functools.cache
def _fields(kind: Any) -> dict[str, tuple[Any, bool]]:
    """Each field of a dataclass: its type, and whether a file must give it (no default).
    Read once per class: resolving the annotations is most of the cost of a check."""
    hints = typing.get_type_hints(kind)
    return {
        item.name: (
            hints[item.name],
            item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING,
        )
        for item in dataclasses.fields(kind)
    }


def _check_union(options: tuple[Any, ...], data: Any, where: str) -> None:
    for option in options:
        try:
            _check(option, data, where)
        except ShapeError:
            continue
        return
    names = " or ".join(_describe(option) for option in options)
    raise ShapeError(f"{where}: expected {names}")


def _check_tuple(items: tuple[Any, ...], data: Any, where: str) -> None:
    _require(isinstance(data, list), where, _describe(tuple[Any]))
    if len(items) == 2 and items[1] is Ellipsis:
        items = (items[0],) * len(data)
    _require(len(data) == len(items), where, f"a list of {len(items)}")
    for index, (item, value) in enumerate(zip(items, data, strict=True)):
        _check(item, value, f"{where}[{index}]")


def _check_dict(items: tuple[Any, ...], data: Any, where: str) -> None:
    _require(isinstance(data, dict), where, _describe(dict[str, Any]))
    for key, value in data.items():
        _check(items[1], value, f"{where}.{key}")


@functools.cache
def _fits(kind: Any) -> Callable[[Any], bool]:
    """Whether data is of type `kind`, as _check decides it, without building any message:
    one function per type, made once (a cache file holds thousands of values)."""
    if kind is Any:
        return lambda _data: True
    if kind in _SCALARS:
        return _SCALARS[kind]
    if dataclasses.is_dataclass(kind):
        return functools.partial(_fits_dataclass, kind)
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        return lambda data: any(_fits(option)(data) for option in args)
    if origin is tuple:
        return functools.partial(_fits_tuple, args)
    if origin is dict:
        return lambda data: isinstance(data, dict) and all(map(_fits(args[1]), data.values()))
    raise TypeError(f"check_shape cannot check {kind!r}")  # a type this module must learn


def _fits_tuple(items: tuple[Any, ...], data: Any) -> bool:
    if not isinstance(data, list):
        return False
    if len(items) == 2 and items[1] is Ellipsis:
        return all(map(_fits(items[0]), data))
    return len(data) == len(items) and all(
        _fits(item)(value) for item, value in zip(items, data, strict=True)
    )


def _fits_dataclass(kind: Any, data: Any) -> bool:
    if not isinstance(data, dict):
        return False
    fields = _fields(kind)
    if not data.keys() <= fields.keys():
        return False
    for name, (hint, required) in fields.items():
        if name in data:
            if not _fits(hint)(data[name]):
                return False
        elif required:
            return False
    return True


def _require(fits: bool, where: str, expected: str) -> None:
    if not fits:
        raise ShapeError(f"{where}: expected {expected}")


def _describe(kind: Any) -> str:
    """What a type looks like in JSON, for a message."""
    if dataclasses.is_dataclass(kind) or typing.get_origin(kind) is dict:
        return "a mapping"
    if typing.get_origin(kind) is tuple:
        return "a list"
    names = {type(None): "null", bool: "true or false", str: "a string"}
    return names.get(kind, "a whole number, not negative")


def check_outcome(outcome: DeckOutcome, block_count: int) -> None:
    """What the types cannot say about a stored outcome, for a deck of `block_count` blocks:
    blocks in order, indexes that point at a block, rows as wide as their columns."""
    if len(outcome.blocks) != block_count:
        return  # blocks were added or removed: the cache's own check makes it a miss
    for position, block in enumerate(outcome.blocks):
        where = f"the file.outcome.blocks[{position}]"
        _require(block.index == position, f"{where}.index", f"{position}")
        for late in block.late:
            _require(late.block_index < block_count, f"{where}.late", "a block of the deck")
            _check_statements(late.statements, f"{where}.late")
        _check_statements(block.statements, f"{where}.statements")
    for warning in outcome.warnings:
        _require(warning.block_index < block_count, "the file.outcome.warnings", "a block")


def _check_statements(statements: tuple[StatementOutcome, ...], where: str) -> None:
    for statement in statements:
        width = len(statement.columns or ())
        fits = all(len(row) == width for row in statement.rows)
        _require(fits, where, "rows as wide as their columns")
