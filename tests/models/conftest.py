"""Tiny random models of the real architectures, built once per session, and a few test images."""

from __future__ import annotations

import pytest

pytest.importorskip("transformers", reason="the models extra is not installed")


@pytest.fixture(scope="session")
def tiny(tiny_model):
    """``tiny(kind) -> folder``: the tiny model ``kind`` saved once per session (see mella.models.tiny)."""
    return tiny_model


@pytest.fixture(scope="session")
def images():
    """Three small images of different sizes and colours (different patch counts per image)."""
    from PIL import Image, ImageDraw

    out = []
    for size, colour in (((64, 48), (200, 30, 30)), ((120, 90), (30, 160, 40)), ((40, 100), (30, 30, 200))):
        img = Image.new("RGB", size, colour)
        ImageDraw.Draw(img).rectangle((4, 4, size[0] // 2, size[1] // 2), fill=(250, 250, 250))
        out.append(img)
    return out
