"""Builds mella's one C extension, ``mella.collect._native``, when the lexbor sources are present.

Everything else about the package is in pyproject.toml. ``make install`` fetches lexbor's sources
first (tools/lexbor_source.py) and sets MELLA_REQUIRE_NATIVE=1; without them the package installs
without the extension and ``mella collect`` uses the selectolax path, which gives the same rows
(docs/collect.md).
"""

import os
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
LEXBOR = Path(os.environ.get("MELLA_LEXBOR_SOURCE", ROOT / "third_party" / "lexbor"))
MODULES = ("core", "dom", "html", "tag", "ns", "ports/posix")


class ParallelBuildExt(build_ext):
    """build_ext over all cores: lexbor is about 160 C files."""

    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1


def native_extensions():
    source = LEXBOR / "source"
    if not (source / "lexbor" / "html").is_dir():
        message = (f"lexbor sources not found under {source}: building mella without its native collect "
                   "extractor (run tools/lexbor_source.py first)")
        if os.environ.get("MELLA_REQUIRE_NATIVE") == "1":
            raise SystemExit(message)
        print(f"note: {message}")
        return []

    def rel(path: Path) -> str:
        try:
            return str(path.relative_to(ROOT))
        except ValueError:
            return str(path)

    files = sorted(rel(p) for m in MODULES for p in (source / "lexbor" / m).rglob("*.c"))
    # One module from two files of mella's own: _native.c (module definition, HTML walk) and _charset.c
    # (decode.py's byte scans and transcoding); depends makes a change to their header rebuild it too.
    return [Extension(
        "mella.collect._native",
        ["src/mella/collect/_native.c", "src/mella/collect/_charset.c", *files],
        depends=["src/mella/collect/_native.h"],
        include_dirs=[rel(source)],
        define_macros=[("LEXBOR_STATIC", None)],
        # The flags selectolax builds lexbor with (-O3, C99); hidden symbols so that this copy of
        # lexbor never meets the one inside selectolax's module.
        extra_compile_args=["-O3", "-std=c99", "-fvisibility=hidden", "-g0", "-Wno-unused-function",
                            "-Wno-unused-variable", "-Wno-pedantic", "-Wno-maybe-uninitialized"],
    )]


setup(ext_modules=native_extensions(), cmdclass={"build_ext": ParallelBuildExt})
