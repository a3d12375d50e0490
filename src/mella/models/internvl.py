"""The original InternVL2 / InternVL2.5 checkpoints (``model_type: internvl_chat``), which ship their own code.

Those repositories hold ``modeling_internvl_chat.py`` and friends: ``transformers`` imports and runs that
Python file from the model repository (hence ``trust_remote_code``). The model has no processor; its model
card cuts each image into 448px tiles (``dynamic_preprocess``: the grid of at most ``max_num`` tiles whose
aspect ratio is closest to the image's, plus a thumbnail) normalised with the ImageNet mean and std, and
answers through ``model.batch_chat``. This module does the same tiling (the same algorithm as the
transformers-native InternVL processor's ``crop_to_patches``) and calls ``batch_chat``.

The transformers-native checkpoints (``OpenGVLab/InternVL3-8B-hf`` and the like) need none of this: they
load as ``InternVLForConditionalGeneration`` with their ``InternVLProcessor``.
"""

from __future__ import annotations

from typing import Any

REMOTE_TYPES = {"internvl_chat"}
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def is_remote_internvl(config) -> bool:
    return getattr(config, "model_type", "") in REMOTE_TYPES


def grid(width: int, height: int, image_size: int = 448, min_num: int = 1, max_num: int = 12) -> tuple[int, int]:
    """(columns, rows) of tiles for an image: the closest aspect ratio; ties go to more tiles for large images."""
    # In the order transformers' InternVL processor tries them, so that ties resolve the same way.
    ratios = sorted(((i, j) for i in range(1, max_num + 1) for j in range(1, max_num + 1) if min_num <= i * j <= max_num),
                    key=lambda r: r[0] * r[1])
    aspect, area = width / height, width * height
    best, best_diff = (1, 1), float("inf")
    for cols, rows in ratios:
        diff = abs(aspect - cols / rows)
        if diff < best_diff:
            best, best_diff = (cols, rows), diff
        elif diff == best_diff and area > 0.5 * image_size * image_size * cols * rows:
            best = (cols, rows)
    return best


def tiles(image, image_size: int = 448, max_num: int = 12, use_thumbnail: bool = True) -> list:
    """The image as InternVL's model card feeds it: a grid of ``image_size`` tiles, then a thumbnail."""
    from PIL import Image

    image = image.convert("RGB")
    cols, rows = grid(image.width, image.height, image_size, 1, max_num)
    resized = image.resize((cols * image_size, rows * image_size), Image.Resampling.BICUBIC)
    out = [resized.crop((c * image_size, r * image_size, (c + 1) * image_size, (r + 1) * image_size))
           for r in range(rows) for c in range(cols)]
    if use_thumbnail and len(out) > 1:
        out.append(image.resize((image_size, image_size), Image.Resampling.BICUBIC))
    return out


def pixel_values(images: list, image_size: int, max_num: int, use_thumbnail: bool = True):
    """(stacked tiles as a float tensor normalised like ImageNet, tiles per image)."""
    import numpy as np
    import torch

    per_image = [tiles(img, image_size, max_num, use_thumbnail) for img in images]
    arrays = [np.asarray(t, dtype=np.float32) / 255.0 for group in per_image for t in group]
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)
    x = (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    return x, [len(group) for group in per_image]


def settings(config, max_tiles: int | None) -> dict[str, Any]:
    """Tile size, tile limit and thumbnail use from the checkpoint's config (``max_tiles`` overrides the limit)."""
    vision = getattr(config, "vision_config", None)
    size = getattr(config, "force_image_size", None) or getattr(vision, "image_size", 448)
    return {"image_size": int(size if isinstance(size, int) else size[0]),
            "max_num": max_tiles or int(getattr(config, "max_dynamic_patch", 12)),
            "use_thumbnail": bool(getattr(config, "use_thumbnail", True))}


def generate(model, tokenizer, config, batch: list, gen_kwargs: dict, max_tiles: int | None) -> list[str]:
    """Answers of the remote-code model to ``batch`` (GenRequests with images and one system turn) via ``batch_chat``."""
    s = settings(config, max_tiles)
    pixels, counts = pixel_values([r.image for r in batch], s["image_size"], s["max_num"], s["use_thumbnail"])
    pixels = pixels.to(model.device, dtype=model.dtype)
    questions = [f"<image>\n{r.prompt}" for r in batch]
    default, system = getattr(model, "system_message", None), batch[0].system
    if system is not None:
        model.system_message = system  # batch_chat reads the system turn from the model
    try:
        answers = model.batch_chat(tokenizer, pixels, questions=questions, num_patches_list=counts,
                                   generation_config=gen_kwargs)
    finally:
        model.system_message = default
    return [t.strip() for t in answers]
