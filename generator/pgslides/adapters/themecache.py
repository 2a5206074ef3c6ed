"""The theme's templates compiled once, not on every build.

MkDocs makes a new Jinja environment for every build, so every build compiles Material's
templates again: about 0.15 s of a warm build, and under `mkdocs serve` about half the time
from a saved edit to its page (README, benchmark). Jinja can keep compiled templates in a
bytecode cache: this one keeps them in memory for the process (serve's rebuilds) and in the
user's cache directory for later builds (never in the project: a project's `.pgslides-cache`
is meant to be committed, and bytecode is the machine's Python's).

Jinja uses a compiled template only when its source is unchanged (a checksum of the source)
and it was compiled by the same Jinja and Python (the bytecode's header); the key here adds
what else shapes the compiled code: the environment's syntax settings, extensions, and how
each filter and test is called (a context-taking filter is compiled as such). A cache
that cannot be read or written is skipped: it makes builds faster, never different.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import jinja2
from jinja2.bccache import Bucket

from pgslides.ondisk import user_cache_directory

log = logging.getLogger("mkdocs.plugins.pgslides")

# Where compiled templates are kept between builds; PGSLIDES_THEME_CACHE=0 turns the disk off.
ENV_SWITCH = "PGSLIDES_THEME_CACHE"


def default_directory() -> Path | None:
    """The user's cache directory for compiled templates, or None when turned off."""
    return user_cache_directory("theme-bytecode", ENV_SWITCH)


class ThemeBytecode(jinja2.BytecodeCache):
    """Compiled templates in memory and, when `directory` is given, on disk."""

    def __init__(self, directory: Path | None) -> None:
        self._memory: dict[str, bytes] = {}
        self._disk: jinja2.FileSystemBytecodeCache | None = None
        if directory is not None:
            try:
                directory.mkdir(parents=True, exist_ok=True)
                self._disk = jinja2.FileSystemBytecodeCache(str(directory))
            except OSError as error:
                log.debug(f"pgslides: no compiled templates on disk ({error})")

    def get_bucket(
        self, environment: jinja2.Environment, name: str, filename: str | None, source: str
    ) -> Bucket:
        shape = _shape_of(environment)
        if shape is None:  # not known to compile alike: compiled afresh, as without a cache
            return Bucket(environment, "", "")
        key = hashlib.sha256(f"{self.get_cache_key(name, filename)}:{shape}".encode()).hexdigest()
        bucket = Bucket(environment, key, self.get_source_checksum(source))
        self.load_bytecode(bucket)
        return bucket

    def load_bytecode(self, bucket: Bucket) -> None:
        data = self._memory.get(bucket.key)
        if data is not None:
            bucket.bytecode_from_string(data)
            return
        if self._disk is not None:
            try:
                self._disk.load_bytecode(bucket)
            except Exception as error:  # a file cut short or of another Python: compile afresh
                log.debug(f"pgslides: compiled template unreadable ({error})")
                bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        if not bucket.key:
            return
        self._memory[bucket.key] = bucket.bytecode_to_string()
        if self._disk is not None:
            try:
                self._disk.dump_bytecode(bucket)
            except OSError as error:
                log.debug(f"pgslides: compiled template not kept ({error})")


def _shape_of(env: jinja2.Environment) -> str | None:
    """What, besides a template's source, decides the code Jinja compiles it to; None when a
    setting cannot be told from another (a function given as autoescape or finalize)."""
    if not isinstance(env.autoescape, bool) or env.finalize is not None:
        return None
    settings: list[Any] = [
        jinja2.__version__,
        sorted(env.extensions),
        env.block_start_string,
        env.block_end_string,
        env.variable_start_string,
        env.variable_end_string,
        env.comment_start_string,
        env.comment_end_string,
        env.line_statement_prefix,
        env.line_comment_prefix,
        env.trim_blocks,
        env.lstrip_blocks,
        env.newline_sequence,
        env.keep_trailing_newline,
        env.optimized,
        env.autoescape,
        env.is_async,
        f"{env.code_generator_class.__module__}.{env.code_generator_class.__qualname__}",
        getattr(env, "newstyle_gettext", None),
        # Whether a filter or test is passed the context, eval context or environment is
        # compiled into the template's code.
        sorted((name, _passes(f)) for name, f in env.filters.items()),
        sorted((name, _passes(f)) for name, f in env.tests.items()),
    ]
    return repr(settings)


def _passes(function: Any) -> str | None:
    return getattr(function, "jinja_pass_arg", None) and str(function.jinja_pass_arg)
