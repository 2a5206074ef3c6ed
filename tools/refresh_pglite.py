"""Vendor PGlite (PostgreSQL compiled to WebAssembly) into the package, from the npm registry.

    python tools/refresh_pglite.py            # the version pinned in the manifest, again
    python tools/refresh_pglite.py 0.5.18     # another version: review, test, commit

The tarball is checked against the registry's sha512 integrity before anything is written.
Only what a browser loads is kept: index.js and the chunks it imports, the WebAssembly of
PostgreSQL and of initdb, the file system bundle, and the licence. The manifest
(pglite.json) records the version, the tarball's integrity and each file's sha256;
tests/test_tryit.py checks the vendored files against it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import shutil
import sys
import tarfile
import urllib.request
from pathlib import Path

PACKAGE = "@electric-sql/pglite"
REGISTRY = "https://registry.npmjs.org"
TARGET = Path(__file__).resolve().parent.parent / "generator/pgslides/assets/pglite"
MANIFEST = TARGET / "pglite.json"
# What PGlite fetches besides its modules (new URL("./…", import.meta.url) in its code).
BINARIES = ("pglite.wasm", "pglite.data", "initdb.wasm")
_IMPORT = re.compile(r'(?:from|import)\s*"\./([A-Za-z0-9_.-]+\.js)"')


def main(argv: list[str]) -> int:
    version = argv[0] if argv else json.loads(MANIFEST.read_text())["version"]
    meta = _get_json(f"{REGISTRY}/{PACKAGE}/{version}")
    tarball, integrity = meta["dist"]["tarball"], meta["dist"]["integrity"]
    data = _get(tarball)
    algorithm, _, expected = integrity.partition("-")
    digest = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if algorithm != "sha512" or digest != expected:
        print(f"{tarball}: does not match the registry's integrity {integrity}", file=sys.stderr)
        return 1
    files = _dist_files(data)
    keep = [*_module_closure(files, "index.js"), *BINARIES]
    if TARGET.exists():
        shutil.rmtree(TARGET)
    TARGET.mkdir(parents=True)
    sums = {}
    for name in sorted(keep):
        (TARGET / name).write_bytes(files[name])
        sums[name] = hashlib.sha256(files[name]).hexdigest()
    (TARGET / "LICENSE").write_bytes(files["../LICENSE"])
    manifest = {
        "package": PACKAGE,
        "version": version,
        "license": meta.get("license", ""),
        "tarball": tarball,
        "integrity": integrity,
        "files": sums,
    }
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")
    size = sum(len(files[name]) for name in keep)
    print(f"{PACKAGE} {version}: {len(keep)} files, {size / 1e6:.1f} MB, in {TARGET}")
    return 0


def _dist_files(tarball: bytes) -> dict[str, bytes]:
    """The tarball's files by their path relative to package/dist ("../LICENSE" for the licence)."""
    found = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for member in archive.getmembers():
            extracted = archive.extractfile(member) if member.isfile() else None
            if extracted is None:
                continue
            if member.name.startswith("package/dist/"):
                found[member.name.removeprefix("package/dist/")] = extracted.read()
            elif member.name == "package/LICENSE":
                found["../LICENSE"] = extracted.read()
    return found


def _module_closure(files: dict[str, bytes], entry: str) -> list[str]:
    """The entry module and every module it imports statically, transitively."""
    seen: list[str] = []
    pending = [entry]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.append(name)
        pending.extend(_IMPORT.findall(files[name].decode("utf-8")))
    return seen


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as response:  # noqa: S310 - a fixed https URL
        return response.read()


def _get_json(url: str) -> dict:
    return json.loads(_get(url))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
