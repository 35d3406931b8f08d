"""Fetch the UI's front-end libraries from the npm registry, check them, and copy their released files.

    python scripts/vendor_frontend.py            # fetch, verify, write headwater/ui/static/vendor/<pkg>/
    python scripts/vendor_frontend.py --check    # verify the committed files against the lock, fetch nothing

Each package of ``scripts/vendor_frontend.lock.json`` is pinned to one version. The tarball's hash is
checked twice: against the ``sha512`` integrity the registry publishes for that version (what npm itself
checks) and against the ``sha256`` pinned in the lock (so a registry that changed a published tarball is
caught too). Only the listed dist files and the licence files are copied; nothing is built, so the wheel
carries exactly what the project released.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "scripts" / "vendor_frontend.lock.json"
VENDOR = ROOT / "headwater" / "ui" / "static" / "vendor"
REGISTRY = "https://registry.npmjs.org"


class VendorError(Exception):
    """A package could not be fetched or did not match its pinned hashes."""


def fetch(url: str) -> bytes:
    if not url.startswith(REGISTRY + "/"):
        raise VendorError(f"vendor: refusing to fetch {url!r}: only {REGISTRY} is used")
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - https registry URL checked above
        return bytes(response.read())


def check_integrity(name: str, data: bytes, integrity: str, sha256: str) -> None:
    algorithm, _, expected = integrity.partition("-")
    if algorithm != "sha512":
        raise VendorError(f"vendor: {name}: the registry's integrity is {algorithm}, expected sha512")
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if actual != expected:
        raise VendorError(f"vendor: {name}: sha512 of the tarball is {actual}, the registry says {expected}")
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise VendorError(f"vendor: {name}: sha256 of the tarball is {digest}, the lock pins {sha256}")


def extract(name: str, data: bytes, files: list[str]) -> dict[str, bytes]:
    """The listed files of the tarball (paths relative to its ``package/`` folder)."""
    out: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        members = {m.name.split("/", 1)[1]: m for m in archive.getmembers() if m.isfile() and "/" in m.name}
        for wanted in files:
            member = members.get(wanted)
            if member is None:
                raise VendorError(f"vendor: {name}: the tarball has no {wanted}")
            handle = archive.extractfile(member)
            if handle is None:
                raise VendorError(f"vendor: {name}: cannot read {wanted}")
            out[wanted] = handle.read()
    return out


def vendor(name: str, spec: dict[str, object]) -> None:
    version = str(spec["version"])
    meta = json.loads(fetch(f"{REGISTRY}/{name}/{version}"))
    if meta.get("version") != version:
        raise VendorError(f"vendor: {name}: the registry answered version {meta.get('version')!r}")
    tarball = fetch(str(meta["dist"]["tarball"]))
    check_integrity(name, tarball, str(meta["dist"]["integrity"]), str(spec["sha256"]))
    files = [str(f) for f in spec["files"]]  # type: ignore[attr-defined]
    target = VENDOR / name
    target.mkdir(parents=True, exist_ok=True)
    for path, content in extract(name, tarball, files).items():
        (target / Path(path).name).write_bytes(content)
    (target / "VERSION").write_text(f"{name} {version} from {meta['dist']['tarball']}\n")
    print(f"vendor: {name} {version}: {', '.join(files)} -> {target.relative_to(ROOT)}")


def check_committed(name: str, spec: dict[str, object]) -> None:
    target = VENDOR / name
    recorded = (target / "VERSION").read_text().split()
    if recorded[:2] != [name, str(spec["version"])]:
        raise VendorError(f"vendor: {target} holds {' '.join(recorded[:2])}, the lock pins {spec['version']}")
    for path in spec["files"]:  # type: ignore[attr-defined]
        if not (target / Path(str(path)).name).is_file():
            raise VendorError(f"vendor: {target} misses {Path(str(path)).name}")
    print(f"vendor: {name} {spec['version']}: committed files present")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="check the committed files, fetch nothing")
    args = parser.parse_args(argv)
    lock = json.loads(LOCK.read_text())
    try:
        for name, spec in lock["packages"].items():
            (check_committed if args.check else vendor)(name, spec)
    except VendorError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
