"""Fuzz collect's native extractor against the selectolax engine (and, built with ASan, for memory errors).

    .venv/bin/python tools/fuzz_collect.py [--seconds 60] [--seed 1] [--native-so PATH] [--out DIR]

Feeds random HTML made of the tags and attributes extraction cares about, real pages from
tests/data/web cut and spliced with such fragments, and random bytes, one after another (the C walk
reuses its lexbor document, so order matters), to every function of ``mella.collect._native`` at
random context widths, and compares ``extract_page`` row for row between the two engines (every
column, the structure around each image included: landmarks and roles, nested links to this site and
others, width/height spellings), at page addresses that make links same-site or not. A page on which
they differ is written to ``--out`` (``-u<N>``: the index in PAGE_URLS) and counted; the exit status is 1
if any did.

For memory errors, build the extension with AddressSanitizer and load that build instead:

    gcc -shared -fPIC -O1 -g -fsanitize=address,undefined -DLEXBOR_STATIC -std=gnu99 \\
        -Ithird_party/lexbor/source -I"$(python -c 'import sysconfig; print(sysconfig.get_paths()["include"])')" \\
        third_party/lexbor/source/lexbor/{core,dom,html,tag,ns,ports/posix}/**/*.c src/mella/collect/_native.c src/mella/collect/_charset.c \\
        -o /tmp/asan/_native.so    # (bash: shopt -s globstar)
    LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)" \\
        ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 .venv/bin/python tools/fuzz_collect.py --native-so /tmp/asan/_native.so
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TAGS = ["img", "figure", "figcaption", "picture", "source", "script", "style", "template", "svg", "title", "base",
        "meta", "link", "p", "div", "b", "noscript", "table", "td", "select", "option", "math", "frameset", "body",
        "head", "html", "!DOCTYPE html",
        # the structure around an image: landmarks, links (nested ones too), SVG integration points
        "header", "nav", "footer", "aside", "main", "article", "section", "a", "a", "span", "foreignObject",
        "annotation-xml encoding=text/html", "button", "object",
        # links and headings whose text an alt may repeat (alt_is_link_text)
        "h1", "h2", "h6"]
ATTRS = ["alt", "src", "srcset", "data-src", "data-lazy-src", "data-srcset", "title", "href", "rel", "property",
         "content", "http-equiv", "lang", "xml:lang", "data-original", "class",
         "role", "href", "width", "height", "width", "height"]
VALUES = ["", " ", "a.jpg", "x.jpg 100w, y.jpg 2x", "٣w", "data:x", "canonical", "og:locale", "content-language",
          "\u00a0\u3000", "é\u0301", "&amp;amp;", "9" * 400 + "w", "a.jpg 1.5x,,, b.jpg 10w 3x", "//h/x", "../../y",
          # srcsets whose URLs hold commas (a CDN's crop and resize parameters), parentheses, bare commas
          "//c.cz/r/e=67,0,1867,1050_r=226,127_.jpg 226w, //c.cz/r/e=67,0,1867,1050_r=1360,765_.jpg 1360w",
          "a.jpg,b.jpg", "a.jpg,, b.jpg 2x", "a.jpg 1x (c, d) 3x, e.jpg 5x", "a.jpg (2x", ",,,", "a.jpg\x0b2x, b,c.jpg 3x",
          "a.jpg 2x,b.jpg 3x", "x.jpg 100w,", " , y.jpg\t7w\n,z.jpg 7w 9x",
          # roles: landmark ones in any case and position, and others
          "banner", "Navigation", " contentinfo extra", "COMPLEMENTARY", "main", "article", "figure", "region",
          "presentation banner", "\u00a0banner", "banne", "bannerx", "navigation\u2028x", "\u212aain",
          # link targets: same site, other sites, subdomains, non-web schemes, odd shapes
          "https://s.org/x", "https://www.s.org/p?q", "https://other.net/", "//cdn.other.net/x", "/root", "rel/x",
          "#top", "?q=1", "javascript:void(0)", "mailto:a@s.org", "tel:+1", "data:text/html,x", "HTTPS://S.ORG/Y",
          "http://[::1", "https://user@s.org:8080/x", " \t\n ", "https://s.org\\x", "file:///etc/x",
          # declared sizes: pixels, decimals, percentages, signs, garbage, huge
          "120", "120px", "120PX", " 64 ", "12.5", "12.", ".5", "-3", "+3", "50%", "auto", "1e3", "0", "007",
          "100000", "100001", "99999999999999999999", "\u0663\u0660", "12 px", "\u00a012px\u3000", "1,5",
          # alts that the generated text can repeat word for word (TEXT's words, spacing and escapes)
          "word", "Привет", " word ", "&lt;", "<", "word word", "é"]
TEXT = ["word", " ", "\n\t", "\u00a0", "\u2028", "Привет", "ก\u0e48", "é\u0301", "\ufffd", "&lt;", "x" * 300,
        "\U0001F600"]


# Page addresses: link_scope compares the link's registered domain with the page's (a subdomain, a file:// page
# without one, a base elsewhere through <base href> in the generated pages).
PAGE_URLS = ["https://s.org/a/b.html", "https://www.s.org/", "http://sub.s.org:8080/a/", "file:///tmp/saved/p.html",
             "https://other.net/x/y"]


def real_pages() -> list[bytes]:
    pages = []
    for path in sorted((ROOT / "tests" / "data" / "web").rglob("*")):
        if path.name.endswith(".html"):
            pages.append(path.read_bytes())
        elif path.name.endswith(".html.gz"):
            pages.append(gzip.decompress(path.read_bytes()))
    return pages


def random_html(rnd: random.Random, n: int) -> bytes:
    out = []
    for _ in range(n):
        r = rnd.random()
        if r < 0.45:
            attrs = "".join(f' {rnd.choice(ATTRS)}="{rnd.choice(VALUES)}"' for _ in range(rnd.randrange(4)))
            out.append(f"<{rnd.choice(TAGS)}{attrs}>")
        elif r < 0.7:
            out.append(f"</{rnd.choice(TAGS)}>")
        elif r < 0.9:
            out.append(rnd.choice(TEXT))
        else:  # a picture and a link whose text may repeat its alt (alt_is_link_text), in any order
            alt, text = rnd.choice(TEXT), rnd.choice(TEXT)
            if rnd.random() < 0.6:
                text = rnd.choice([alt, alt.upper(), f" «{alt}» ", f"{alt}&amp;", f"<b>{alt}</b>!", alt + "\x01"])
            parts = [f'<img src="{rnd.choice(VALUES)}" alt="{alt}">',
                     f'<a href="{rnd.choice(VALUES)}">{text}</a>']
            rnd.shuffle(parts)
            out.extend(parts)
    data = bytearray("".join(out).encode("utf-8"))
    if rnd.random() < 0.3:  # a few broken bytes
        for _ in range(rnd.randrange(1, 6)):
            if data:
                data[rnd.randrange(len(data))] = rnd.randrange(256)
    return bytes(data)


def case(rnd: random.Random, pages: list[bytes]) -> bytes:
    kind = rnd.random()
    if kind < 0.5:
        return random_html(rnd, rnd.randrange(1, 400))
    if kind < 0.8:
        page = rnd.choice(pages)
        data = bytearray(page[: rnd.randrange(1, len(page) + 1)])
        for _ in range(rnd.randrange(30)):
            pos = rnd.randrange(len(data) + 1)
            data[pos:pos + rnd.randrange(4)] = random_html(rnd, rnd.randrange(1, 4))
        return bytes(data)
    return bytes(rnd.randrange(256) for _ in range(rnd.randrange(3000)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--native-so", type=Path, help="a build of mella.collect._native to load instead (e.g. ASan)")
    ap.add_argument("--out", type=Path, default=Path("fuzz-collect"))
    args = ap.parse_args()
    if args.native_so:
        import mella.collect

        spec = importlib.util.spec_from_file_location("mella.collect._native", args.native_so)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules["mella.collect._native"] = module
        mella.collect._native = module
    from mella.collect import decode
    from mella.collect import html as H
    from mella.collect.accel import native

    if native is None:
        raise SystemExit("mella.collect._native is not built (make install)")
    rnd = random.Random(args.seed)
    pages = real_pages()
    tables = [decode._charmap_table(name) for name in ("cp1251", "koi8-r", "cp874", "cp1252")]
    n = differ = 0
    stop = time.time() + args.seconds
    while time.time() < stop:
        n += 1
        data = case(rnd, pages)
        width = rnd.choice([0, 1, 2, 3, 7, 300, 1001, 20000])
        native.extract(data, width)
        native.parse(data)
        native.tag_counts(data)
        native.utf8_counts(data)
        native.mostly_utf8(data)
        native.control_bytes(data, rnd.randrange(-5, 5000))
        native.charmap_utf8(data, rnd.choice(tables))
        native.collapse(data.decode("utf-8", "replace"))
        url = rnd.choice(PAGE_URLS)
        ref = H.extract_page(data, url, engine="selectolax", context_chars=width)
        got = H.extract_page(data, url, engine="native", context_chars=width)
        if (ref.rows, ref.counters) != (got.rows, got.counters):
            differ += 1
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / f"case-{args.seed}-{n}-w{width}-u{PAGE_URLS.index(url)}.html").write_bytes(data)
    print(f"{n} cases, {differ} where the engines differ" + (f" (written to {args.out})" if differ else ""))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
