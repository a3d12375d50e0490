"""Tiny randomly initialised models of the real architectures, for tests and dry runs.

Each one is built from a config object, saved to a folder and meant to be loaded back through
``from_pretrained`` (the path real checkpoints take), with a tokenizer trained locally on a few
sentences and the model family's chat template. Their text is noise: the config carries
``mella_tiny: true`` so that backends report ``tiny`` and nobody mistakes the output for captions.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mella.errors import MellaError, require
from mella.models import _tiny_text as tt

# Large enough that random logits are far from uniform (greedy decoding is then stable and
# training signals are visible); small enough that nothing overflows in fp32.
INIT_RANGE = 0.2
TEXT = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=512, initializer_range=INIT_RANGE)


def _save(model, processor, folder: Path) -> Path:
    """Mark the config as tiny, then save weights, config, generation config and processor."""
    model.config.mella_tiny = True
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def _qwen_tokenizer():
    tok = tt.fast_tokenizer(tt.byte_level_bpe(tt.QWEN_SPECIALS), eos_token="<|im_end|>",
                            pad_token="<|endoftext|>")
    tok.chat_template = tt.QWEN_VL_TEMPLATE
    return tok


def _qwen_ids(tok) -> dict:
    ids = tok.convert_tokens_to_ids
    return dict(image_token_id=ids("<|image_pad|>"), video_token_id=ids("<|video_pad|>"),
                vision_start_token_id=ids("<|vision_start|>"), vision_end_token_id=ids("<|vision_end|>"))


def _qwen_text(tok) -> dict:
    # mrope splits each head's rotary half (head_dim 8 -> 4) into temporal, height and width sections.
    return dict(TEXT, vocab_size=len(tok), bos_token_id=tok.convert_tokens_to_ids("<|endoftext|>"),
                eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                rope_parameters={"rope_type": "default", "mrope_section": [2, 1, 1], "rope_theta": 10000.0})


def _qwen_processor(tok, processor_cls, image_cls, video_cls):
    # The real processor triple: image processor, tokenizer and the video processor Qwen declares.
    pixels = dict(size={"shortest_edge": 28 * 28, "longest_edge": 112 * 112})
    return processor_cls(image_processor=image_cls(**pixels), tokenizer=tok, video_processor=video_cls(**pixels),
                         chat_template=tt.QWEN_VL_TEMPLATE)


def _finish_generation_config(model, tok) -> None:
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.do_sample = False


def qwen2_vl(folder: Path) -> Path:
    """Qwen2-VL: ViT with 2x2 patch merging, mrope text decoder."""
    import transformers as tf

    tok = _qwen_tokenizer()
    vision = dict(depth=1, embed_dim=32, hidden_size=32, num_heads=2, mlp_ratio=2, patch_size=14,
                  spatial_merge_size=2, temporal_patch_size=2, initializer_range=INIT_RANGE)
    config = tf.Qwen2VLConfig(text_config=_qwen_text(tok), vision_config=vision, **_qwen_ids(tok))
    model = tf.Qwen2VLForConditionalGeneration(config)
    _finish_generation_config(model, tok)
    proc = _qwen_processor(tok, tf.Qwen2VLProcessor, tf.Qwen2VLImageProcessor, tf.Qwen2VLVideoProcessor)
    return _save(model, proc, folder)


def qwen2_5_vl(folder: Path) -> Path:
    """Qwen2.5-VL: windowed-attention ViT with SwiGLU, same processor family as Qwen2-VL."""
    import transformers as tf

    tok = _qwen_tokenizer()
    vision = dict(depth=2, hidden_size=32, out_hidden_size=32, intermediate_size=64, num_heads=2, patch_size=14,
                  spatial_merge_size=2, temporal_patch_size=2, window_size=56, fullatt_block_indexes=[1],
                  initializer_range=INIT_RANGE)
    config = tf.Qwen2_5_VLConfig(text_config=_qwen_text(tok), vision_config=vision, **_qwen_ids(tok))
    model = tf.Qwen2_5_VLForConditionalGeneration(config)
    _finish_generation_config(model, tok)
    proc = _qwen_processor(tok, tf.Qwen2_5_VLProcessor, tf.Qwen2VLImageProcessor, tf.Qwen2VLVideoProcessor)
    return _save(model, proc, folder)


def idefics3(folder: Path) -> Path:
    """Idefics3 (the SmolVLM family): SigLIP vision tower, pixel shuffle, Llama text decoder, image tiling."""
    import transformers as tf

    tok = tt.fast_tokenizer(tt.byte_level_bpe(tt.IDEFICS3_SPECIALS), bos_token="<|begin_of_text|>",
                            eos_token="<end_of_utterance>", pad_token="<|end_of_text|>")
    tok.chat_template = tt.IDEFICS3_TEMPLATE
    # 32px tiles of 8px patches = 16 patches; scale_factor 2 pixel-shuffles them to 4 tokens per tile.
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                  image_size=32, patch_size=8, initializer_range=INIT_RANGE)
    text = dict(TEXT, vocab_size=len(tok), bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                pad_token_id=tok.pad_token_id)
    config = tf.Idefics3Config(vision_config=vision, text_config=text, scale_factor=2,
                               image_token_id=tok.convert_tokens_to_ids("<image>"))
    model = tf.Idefics3ForConditionalGeneration(config)
    _finish_generation_config(model, tok)
    image_proc = tf.Idefics3ImageProcessor(size={"longest_edge": 64}, max_image_size={"longest_edge": 32})
    proc = tf.Idefics3Processor(image_processor=image_proc, tokenizer=tok, image_seq_len=4,
                                chat_template=tt.IDEFICS3_TEMPLATE)
    return _save(model, proc, folder)


def internvl(folder: Path) -> Path:
    """InternVL (transformers-native, the ``-hf`` checkpoints): InternViT, pixel shuffle, MLP projector, Qwen2 LM.

    Real checkpoints cut images into up to 12 tiles of 448px (plus a thumbnail) at 256 tokens each; here
    32px tiles of 8px patches give 16 patches, pixel-shuffled (downsample 0.5) to 4 tokens per tile.
    """
    import transformers as tf

    tok = tt.fast_tokenizer(tt.byte_level_bpe(tt.INTERNVL_SPECIALS), eos_token="<|im_end|>",
                            pad_token="<|endoftext|>", extra_special_tokens=dict(tt.INTERNVL_NAMED))
    tok.chat_template = tt.INTERNVL_TEMPLATE
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                  image_size=32, patch_size=8, initializer_range=INIT_RANGE)
    text = dict(TEXT, model_type="qwen2", vocab_size=len(tok), eos_token_id=tok.eos_token_id,
                pad_token_id=tok.pad_token_id)
    config = tf.InternVLConfig(vision_config=vision, text_config=text, downsample_ratio=0.5, image_seq_length=4,
                               image_token_id=tok.convert_tokens_to_ids("<IMG_CONTEXT>"))
    model = tf.InternVLForConditionalGeneration(config)
    _finish_generation_config(model, tok)
    tiles = dict(size={"height": 32, "width": 32}, crop_to_patches=True, min_patches=1, max_patches=4)
    proc = tf.InternVLProcessor(image_processor=tf.GotOcr2ImageProcessor(**tiles), tokenizer=tok,
                                video_processor=tf.InternVLVideoProcessor(size={"height": 32, "width": 32}),
                                image_seq_length=4, chat_template=tt.INTERNVL_TEMPLATE)
    return _save(model, proc, folder)


def qwen2(folder: Path) -> Path:
    """A text-only Qwen2 causal LM with a chat template (the LLM-prompt translation path)."""
    import transformers as tf

    tok = _qwen_tokenizer()
    tok.chat_template = tt.QWEN_VL_TEMPLATE  # text turns render exactly as Qwen2's own template does
    config = tf.Qwen2Config(**dict(TEXT, vocab_size=len(tok), eos_token_id=tok.eos_token_id,
                                   pad_token_id=tok.pad_token_id))
    model = tf.Qwen2ForCausalLM(config)
    _finish_generation_config(model, tok)
    return _save(model, tok, folder)


def nllb(folder: Path) -> Path:
    """NLLB-200 style seq2seq: the M2M100 architecture with the NLLB tokenizer and its language codes."""
    import transformers as tf

    tok = tt.nllb_tokenizer()
    config = tf.M2M100Config(vocab_size=len(tok), d_model=32, encoder_layers=1, decoder_layers=1,
                             encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64,
                             decoder_ffn_dim=64, max_position_embeddings=128, init_std=INIT_RANGE, tie_word_embeddings=False,
                             pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                             eos_token_id=tok.eos_token_id, decoder_start_token_id=tok.eos_token_id)
    model = tf.M2M100ForConditionalGeneration(config)
    _finish_generation_config(model, tok)
    model.generation_config.decoder_start_token_id = tok.eos_token_id
    return _save(model, tok, folder)


def _dual_encoder(folder: Path, kind: str) -> Path:
    import transformers as tf

    clip = kind == "clip"
    specials = tt.CLIP_SPECIALS if clip else tt.SIGLIP_SPECIALS
    bpe = tt.byte_level_bpe(specials)
    if clip:  # CLIP wraps text in <|startoftext|> ... <|endoftext|> and pools at the end token
        tok = tt.fast_tokenizer(tt.with_template(bpe, "<|startoftext|>", "<|endoftext|>"),
                                bos_token="<|startoftext|>", eos_token="<|endoftext|>", pad_token="<|endoftext|>",
                                model_max_length=16)
    else:  # SigLIP appends </s>, pads to max_length and pools the last position
        tok = tt.fast_tokenizer(tt.with_template(bpe, None, "</s>"), eos_token="</s>", pad_token="<pad>",
                                unk_token="<unk>", model_max_length=16)
    text = dict(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                num_attention_heads=2, max_position_embeddings=16, pad_token_id=tok.pad_token_id,
                bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, initializer_range=INIT_RANGE)
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                  image_size=32, patch_size=8, initializer_range=INIT_RANGE)
    if clip:
        model = tf.CLIPModel(tf.CLIPConfig(text_config=text, vision_config=vision, projection_dim=16,
                                           initializer_range=INIT_RANGE))
        image_proc = tf.CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
        return _save(model, tf.CLIPProcessor(image_processor=image_proc, tokenizer=tok), folder)
    model = tf.SiglipModel(tf.SiglipConfig(text_config=text, vision_config=vision, initializer_range=INIT_RANGE))
    image_proc = tf.SiglipImageProcessor(size={"height": 32, "width": 32})
    return _save(model, tf.SiglipProcessor(image_processor=image_proc, tokenizer=tok), folder)


TINY: dict[str, Callable[[Path], Path]] = {
    "qwen2-vl": qwen2_vl,
    "qwen2.5-vl": qwen2_5_vl,
    "idefics3": idefics3,
    "internvl": internvl,
    "qwen2": qwen2,
    "nllb": nllb,
    "clip": lambda folder: _dual_encoder(folder, "clip"),
    "siglip": lambda folder: _dual_encoder(folder, "siglip"),
}


def make_tiny(kind: str, folder: str | Path, seed: int = 0) -> Path:
    """Build the tiny ``kind`` model with its processor and save both to ``folder``; returns the folder."""
    if kind not in TINY:
        raise MellaError(f"unknown tiny model {kind!r}; known: {', '.join(sorted(TINY))}")
    torch = require("torch", "models", "tiny models")
    require("transformers", "models", "tiny models")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)  # the same kind and seed give the same weights
    return TINY[kind](folder)


def is_tiny(config) -> bool:
    """True for a config written by :func:`make_tiny`."""
    return bool(getattr(config, "mella_tiny", False))
