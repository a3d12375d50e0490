"""One written form for addresses a page may write in several ways (RFC 3986 section 6.2.2, as browsers request)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from mella.fetch.fetch import image_key
from mella.fetch.fetch import normalize_url as fetch_url
from mella.filter.text import normalize_url as dedup_url
from mella.net.urlform import canonical_host, canonical_part


@pytest.mark.parametrize(("written", "canonical"), [
    ("/img/a.jpg", "/img/a.jpg"),                                   # plain ASCII: as it is
    ("/img/a b.jpg", "/img/a%20b.jpg"),                             # a raw space
    ("/img/Фото.jpg", "/img/%D0%A4%D0%BE%D1%82%D0%BE.jpg"),         # letters outside ASCII, as UTF-8
    ("/img/%d0%a4%d0%be%d1%82%d0%be.jpg", "/img/%D0%A4%D0%BE%D1%82%D0%BE.jpg"),  # hex in capitals
    ("/img/%41%7e.jpg", "/img/A~.jpg"),                             # escapes of unreserved characters decoded
    ("/a%2Fb.jpg", "/a%2Fb.jpg"),                                   # an escaped slash is not a slash
    ("/a%3fb.jpg", "/a%3Fb.jpg"),
    ("/100%.jpg", "/100%.jpg"),                                     # a lone % is left as the page wrote it
    ("/a\"b<c>`{d}.jpg", "/a%22b%3Cc%3E%60%7Bd%7D.jpg"),
    ("/ảnh-đẹp.jpg", "/" + quote("ảnh-đẹp") + ".jpg"),
    ("w=400,h=300&q=Ханой", "w=400,h=300&q=%D0%A5%D0%B0%D0%BD%D0%BE%D0%B9"),
])
def test_canonical_part(written, canonical):
    assert canonical_part(written) == canonical
    assert canonical_part(canonical) == canonical  # idempotent: the form of the form is itself


def test_a_lone_surrogate_is_escaped_not_an_error():
    assert canonical_part("/a\udc80b c.jpg") == "/a%80b%20c.jpg"
    assert dedup_url("http://x.rs/a\udc80b.jpg") == "x.rs/a%80b.jpg"
    # a surrogate that stands for no byte: its own three bytes, in every key
    assert canonical_part("/a\ud800b.jpg") == "/a%ED%A0%80b.jpg"
    assert dedup_url("http://x.rs/a\ud800b.jpg") == "x.rs/a%ED%A0%80b.jpg"
    assert len(image_key("http://x.rs/a\ud800b.jpg")) == 20
    # ... and in a host, which IDNA refuses
    assert canonical_host("a\udc80.rs") == "a%80.rs"
    assert len(image_key("http://a\ud800.rs/x.jpg")) == 20


def test_canonical_host():
    assert canonical_host("Static.Example.COM") == "static.example.com"
    assert canonical_host("пример.рф") == "xn--e1afmkfd.xn--p1ai"
    assert canonical_host("a..b") == "a..b"  # not a valid name: left as written


@pytest.mark.parametrize("key", [dedup_url, image_key, fetch_url])
def test_dedup_and_fetch_keys_read_one_image_written_two_ways(key):
    same = ["https://cdn.example.rs/slike/Фото 1.jpg", "https://cdn.example.rs/slike/%D0%A4%D0%BE%D1%82%D0%BE%201.jpg",
            "https://CDN.example.rs/slike/%d0%a4%d0%be%d1%82%d0%be%201.jpg"]
    assert len({key(u) for u in same}) == 1
    assert key("https://пример.рф/a.jpg") == key("https://xn--e1afmkfd.xn--p1ai/a.jpg")
    assert key("https://x.rs/a%2Fb.jpg") != key("https://x.rs/a/b.jpg")
    assert key("https://x.rs/a.jpg?w=1") != key("https://x.rs/a.jpg?w=2")
