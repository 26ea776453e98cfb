"""The embedded default model: a tiny Qwen2.5-VL built from a config, with random weights and a
tokenizer trained here on the synthetic world's text, saved with ``save_pretrained`` (safetensors).
Like a real checkpoint, the raw model has no decision tokens: ``prepare`` adds them (``build_tiny_model``
runs it unless asked for the raw model).

Nothing is downloaded. The result loads like any Qwen2.5-VL checkpoint (``AutoProcessor`` +
``Qwen2_5_VLForConditionalGeneration``), so the same code serves a real model id or path.
"""
from __future__ import annotations

import tempfile

import numpy as np
import torch
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    PreTrainedTokenizerFast,
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2_5_VLProcessor,
    Qwen2VLImageProcessor,
    Qwen2VLVideoProcessor,
)

from streampro import protocol
from streampro.model.prepare import prepare_checkpoint
from streampro.synth.scenarios import GENERATORS
from streampro.timing import turn_label

CHAT_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
               "<|image_pad|>", "<|video_pad|>"]

# The Qwen2.5-VL chat layout (one image block per frame), written for the tiny model's tokenizer.
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def corpus(episodes: int = 300, seed: int = 0, max_turns: int = 240) -> list[str]:
    """Text the tokenizer learns from: the protocol prompt, turn labels, and the world's questions and answers."""
    rng = np.random.default_rng(seed)
    texts = [protocol.SYSTEM_PROMPT, "Wait", "system", "user", "assistant"]
    texts += [turn_label(i) for i in range(max_turns)] + [f"{i}s" for i in range(max_turns)]
    for k in range(episodes):
        for generator in GENERATORS.values():
            episode = generator(rng, int(rng.integers(20, 31)))
            texts.append(episode.question)
            texts += [a["text"] for a in episode.answers]
    return texts


def build_tokenizer(vocab_size: int = 1024) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE(unk_token=None))
    # Numbers stand alone, as in a turn label ("<11s-12s>"): the space before one is its own token, so the
    # answer " 11s" holds the label's very token "11" and naming a turn's time is a plain copy of it.
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"\d+"), behavior="isolated"), pre_tokenizers.ByteLevel(add_prefix_space=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=CHAT_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus(), trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        additional_special_tokens=CHAT_TOKENS[1:], model_max_length=32768,
    )


def build_processor(frame_size: int = 56) -> Qwen2_5_VLProcessor:
    pixels = frame_size * frame_size
    image_processor = Qwen2VLImageProcessor(min_pixels=pixels, max_pixels=pixels)
    video_processor = Qwen2VLVideoProcessor(min_pixels=pixels, max_pixels=pixels)
    return Qwen2_5_VLProcessor(image_processor=image_processor, tokenizer=build_tokenizer(),
                               video_processor=video_processor, chat_template=CHAT_TEMPLATE)


def tiny_config(tokenizer, hidden: int = 128, layers: int = 4, heads: int = 4, vision_hidden: int = 64,
                init_std: float = 0.02) -> Qwen2_5_VLConfig:
    half = hidden // heads // 2  # mrope_section (time, height, width) must sum to head_dim / 2
    h = w = (half - half // 4) // 2
    mrope = [half - h - w, h, w]  # [16, 24, 24] for Qwen's head_dim 128; [4, 6, 6] for 32
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in CHAT_TOKENS}
    return Qwen2_5_VLConfig(
        text_config={
            "vocab_size": len(tokenizer), "hidden_size": hidden, "intermediate_size": 2 * hidden,
            "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": max(1, heads // 2),
            "max_position_embeddings": 32768, "tie_word_embeddings": True, "initializer_range": init_std,
            "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": mrope},
            "bos_token_id": ids["<|im_start|>"], "eos_token_id": ids["<|im_end|>"], "pad_token_id": ids["<|endoftext|>"],
        },
        vision_config={
            "depth": 2, "hidden_size": vision_hidden, "intermediate_size": 2 * vision_hidden, "num_heads": 4,
            "out_hidden_size": hidden, "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2,
            "window_size": 112, "fullatt_block_indexes": [1],
        },
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
    )


def build_tiny_model(out: str, frame_size: int = 56, seed: int = 0, prepared: bool = True, **sizes) -> str:
    """Build and save the tiny model and its processor under ``out``, through ``prepare`` (the decision
    tokens added as for any checkpoint) unless ``prepared`` is False; returns ``out``."""
    if prepared:
        with tempfile.TemporaryDirectory() as raw:
            prepare_checkpoint(build_tiny_model(raw, frame_size, seed, prepared=False, **sizes), out, base_name="tiny")
        return out
    torch.manual_seed(seed)
    processor = build_processor(frame_size)
    model = Qwen2_5_VLForConditionalGeneration(tiny_config(processor.tokenizer, **sizes))
    model.generation_config.eos_token_id = processor.tokenizer.convert_tokens_to_ids("<|im_end|>")
    model.generation_config.pad_token_id = processor.tokenizer.pad_token_id
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out
