"""Local tokenizers and chat templates for the tiny test models (no hub: everything is trained here)."""

from __future__ import annotations

import json

# A few sentences in English and the 8 default languages: enough for a BPE to learn some merges
# in every script the project handles, so that tokenizing test text is not all bytes or <unk>.
CORPUS = [
    "A red boat lies on the sand next to a wooden house.",
    "Two children are reading a book under a large tree.",
    "The market street is full of fruit, flowers and people.",
    "قارب أحمر على الرمل بجانب بيت خشبي.",
    "Červená loď leží na písku vedle dřevěného domu.",
    "Egy piros csónak fekszik a homokon egy faház mellett.",
    "빨간 배가 나무 집 옆 모래 위에 있습니다.",
    "Красная лодка лежит на песке рядом с деревянным домом.",
    "Црвени чамац лежи на песку поред дрвене куће.",
    "Crveni čamac leži na pesku pored drvene kuće.",
    "เรือสีแดงจอดอยู่บนทรายข้างบ้านไม้",
    "Một chiếc thuyền đỏ nằm trên cát cạnh ngôi nhà gỗ.",
]

# Qwen2-VL's own chat template, trimmed of tool calls: a system turn by default, images as
# <|vision_start|><|image_pad|><|vision_end|> which the processor expands to the patch count.
QWEN_VL_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Idefics3's template ("User:<image>text<end_of_utterance>\nAssistant:"), accepting string content too.
IDEFICS3_TEMPLATE = (
    "<|begin_of_text|>{% for message in messages %}{{ message['role'] | capitalize }}"
    "{% if message['content'] is string %}: {{ message['content'] }}"
    "{% else %}{% if message['content'][0]['type'] == 'image' %}:{% else %}: {% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{ line['text'] }}"
    "{% elif line['type'] == 'image' %}<image>{% endif %}{% endfor %}{% endif %}"
    "<end_of_utterance>\n{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)

# InternVL's -hf chat template (transformers' conversion script): no default system turn, the image as
# <IMG_CONTEXT> which the processor expands to <img> + 256 context tokens per 448px tile + </img>.
INTERNVL_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n'}}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}{{ '<IMG_CONTEXT>\\n' }}"
    "{% elif content['type'] == 'video' %}{{ '<video>\\n' }}"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}"
    "{% endfor %}{% endif %}{{'<|im_end|>\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{'<|im_start|>assistant\\n' }}{% endif %}"
)

QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                 "<|image_pad|>", "<|video_pad|>"]
IDEFICS3_SPECIALS = (["<|begin_of_text|>", "<|end_of_text|>", "<end_of_utterance>", "<fake_token_around_image>",
                      "<image>", "<global-img>"]
                     + [f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7)])
INTERNVL_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<img>", "</img>", "<IMG_CONTEXT>", "<video>"]
# The named image tokens InternVLProcessor reads from its tokenizer (tokenizer_config's extra_special_tokens).
INTERNVL_NAMED = {"start_image_token": "<img>", "end_image_token": "</img>", "context_image_token": "<IMG_CONTEXT>",
                  "video_token": "<video>"}
CLIP_SPECIALS = ["<|startoftext|>", "<|endoftext|>"]
SIGLIP_SPECIALS = ["<pad>", "</s>", "<unk>"]
NLLB_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]


def byte_level_bpe(specials: list[str], vocab_size: int = 400):
    """A byte-level BPE (the Qwen/GPT-2 family's kind) trained on CORPUS; specials get the first ids."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer)
    return tok


def with_template(tok, first: str | None, last: str | None):
    """Add a post-processor that wraps every sequence in ``first ... last`` (CLIP/SigLIP style)."""
    from tokenizers import processors

    parts = ([first] if first else []) + ["$A"] + ([last] if last else [])
    specials = [(t, tok.token_to_id(t)) for t in (first, last) if t]
    tok.post_processor = processors.TemplateProcessing(single=" ".join(parts), special_tokens=specials)
    return tok


def fast_tokenizer(tok, **special_tokens):
    """Wrap a ``tokenizers.Tokenizer`` as a transformers tokenizer (saved and reloaded by AutoTokenizer)."""
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=tok, **special_tokens)


def nllb_tokenizer(vocab_size: int = 400):
    """An NllbTokenizer (SentencePiece-style metaspace BPE plus the 200+ NLLB language-code tokens)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import NllbTokenizer

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=NLLB_SPECIALS, show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    model = json.loads(tok.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return NllbTokenizer(vocab=model["vocab"], merges=merges, src_lang="eng_Latn")
