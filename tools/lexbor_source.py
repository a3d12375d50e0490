"""Fetch the lexbor C sources that mella's native collect extractor is compiled with.

    python tools/lexbor_source.py [--dest third_party/lexbor]

lexbor (Apache-2.0) is the HTML engine behind selectolax; selectolax's source distribution on PyPI
carries the lexbor tree it is built with. This takes that sdist (pinned by version and SHA-256, so
the native extractor parses with the very lexbor that ``selectolax==1.0.2`` uses), and unpacks the
modules an HTML parse needs (core, dom, html, tag, ns, ports/posix) with lexbor's LICENSE and
NOTICE into ``--dest``. ``setup.py`` compiles them into ``mella.collect._native`` when present.
Nothing here runs at import or run time; ``make install`` calls it once.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

SDIST = "selectolax==1.0.2"
SDIST_FILE = "selectolax-1.0.2.tar.gz"
SHA256 = "f0508ad927aa426425d4aa7a2bb2f8b21c01412534465bd227e241d4d0a6a418"
MODULES = ("core", "dom", "html", "tag", "ns", "ports/posix")
ROOT = Path(__file__).resolve().parents[1]


def fetch(dest: Path) -> Path:
    stamp = dest / "SOURCE"
    if stamp.exists() and SHA256 in stamp.read_text():
        return dest
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / SDIST_FILE
        _download(archive)
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        if digest != SHA256:
            raise SystemExit(f"{archive.name}: SHA-256 {digest}, expected {SHA256}")
        staging = Path(tmp) / "lexbor"
        prefix = f"{SDIST_FILE.removesuffix('.tar.gz')}/lexbor/"
        wanted = tuple(f"{prefix}source/lexbor/{m}/" for m in MODULES) + tuple(
            f"{prefix}{name}" for name in ("LICENSE", "NOTICE", "source/lexbor/ports/posix"))
        with tarfile.open(archive) as tar:
            members = [m for m in tar.getmembers()
                       if m.isfile() and m.name.startswith(wanted) and ".." not in m.name]
            for member in members:
                member.name = member.name[len(prefix):]
                tar.extract(member, staging, filter="data")
        (staging / "SOURCE").write_text(f"lexbor from the {SDIST_FILE} sdist on PyPI, sha256 {SHA256}\n"
                                        f"modules: {', '.join(MODULES)}\n")
        if dest.exists():
            shutil.rmtree(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging), dest)
    return dest


def _download(archive: Path) -> None:
    """The sdist through pip (it knows the index this machine may reach: a mirror, a proxy), else
    straight from PyPI's simple index (pip prepares the sdist's metadata, which can fail on an old pip)."""
    pip = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                          "--no-deps", "--no-binary", ":all:", "--dest", str(archive.parent), SDIST])
    if pip.returncode == 0 and archive.exists():
        return
    import re
    import urllib.request

    name = SDIST.split("==")[0]
    with urllib.request.urlopen(f"https://pypi.org/simple/{name}/", timeout=60) as resp:
        index = resp.read().decode("utf-8", "replace")
    found = re.search(r'href="([^"#]*/' + re.escape(SDIST_FILE) + r')[#"]', index)
    if not found:
        raise SystemExit(f"{SDIST_FILE} is not on PyPI's index (and pip could not download it)")
    with urllib.request.urlopen(found.group(1), timeout=300) as resp:
        archive.write_bytes(resp.read())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dest", type=Path, default=ROOT / "third_party" / "lexbor")
    args = ap.parse_args()
    path = fetch(args.dest)
    n = sum(1 for _ in (path / "source").rglob("*.c"))
    print(f"lexbor sources: {path} ({n} C files)")


if __name__ == "__main__":
    main()
