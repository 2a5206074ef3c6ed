"""pgslides: Markdown slide decks whose SQL runs against PostgreSQL, built into a MkDocs site."""

from importlib import metadata

try:
    __version__ = metadata.version("pgslides")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
