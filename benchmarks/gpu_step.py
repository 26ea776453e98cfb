"""A random-weight model shaped like Qwen2.5-VL-3B (36 layers, width 2048, the 32-block vision tower, the real
151,936-row vocabulary) on the GPU: streaming turns/s with the KV cache against recomputing the context every
turn (the baseline, measured in the same run), and the time and peak GPU memory of one CB-Stream training step
on one window of frames at the paper's 448 x 448 (float32 master weights, bf16 autocast, AdamW, SDPA).

    python benchmarks/gpu_step.py --processor PREPARED [--shape 3b|tiny] [--turns 20] [--train-turns 16]

PREPARED is a prepared checkpoint folder (`streampro prepare`): its processor supplies the real tokenizer with
the decision tokens. ``--shape tiny`` runs the same code on the CPU at tiny width (a check of the script).
"""
from __future__ import annotations

import argparse
import io
import json
import time

import numpy as np
import torch
from PIL import Image
from transformers import AutoProcessor, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

from streampro.model import runtime
from streampro.model.format import StreamFormat, StreamTurn
from streampro.model.qwen_vocab import ADDED_IDS, VOCAB_ROWS, qwen25_vl_config
from streampro.model.stream import StreamingModel
from streampro.policy import Stream
from streampro.timing import turn_label
from streampro.train.losses import LossConfig, stream_loss


def qwen25_vl_3b_config() -> Qwen2_5_VLConfig:
    """Qwen2.5-VL-3B-Instruct's published shape, with random weights."""
    ids = ADDED_IDS
    return Qwen2_5_VLConfig(
        text_config={"vocab_size": VOCAB_ROWS, "hidden_size": 2048, "intermediate_size": 11008, "num_hidden_layers": 36,
                     "num_attention_heads": 16, "num_key_value_heads": 2, "max_position_embeddings": 128000,
                     "tie_word_embeddings": True, "rms_norm_eps": 1e-6,
                     "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]}},
        vision_config={"depth": 32, "hidden_size": 1280, "intermediate_size": 3420, "num_heads": 16, "out_hidden_size": 2048,
                       "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2, "window_size": 112,
                       "fullatt_block_indexes": [7, 15, 23, 31], "hidden_act": "silu"},
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"], tie_word_embeddings=True)


def frames(n: int, size: int, seed: int = 0) -> list[bytes]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(buf, format="JPEG", quality=90)
        out.append(buf.getvalue())
    return out


def build(config, dtype):
    with torch.device(runtime.device()):
        return Qwen2_5_VLForConditionalGeneration._from_config(config, dtype=dtype, attn_implementation=runtime.ATTENTION)


def sync() -> None:
    if runtime.gpu():
        torch.cuda.synchronize()


def stream_turns_per_s(model, processor, turn_frames: list[bytes], use_cache: bool) -> float:
    policy = StreamingModel(model, processor, window_turns=200, max_new_tokens=8, use_cache=use_cache)
    policy.reset(Stream("bench", "v", "EU", 1.0, len(turn_frames)))
    policy.step(turn_frames[0], turn_label(0, 1.0), "What happens?")  # warm-up turn (kernels, allocator)
    sync()
    start = time.perf_counter()
    for k, frame in enumerate(turn_frames[1:], start=1):
        policy.step(frame, turn_label(k, 1.0))
    sync()
    return (len(turn_frames) - 1) / (time.perf_counter() - start)


def train_step(model, processor, turn_frames: list[bytes]) -> dict:
    fmt = StreamFormat(processor)
    window = [StreamTurn(turn_label(k, 1.0), "What happens?" if k == 0 else "",
                         "</Response> a red circle appears" if k % 8 == 7 else "</Silence>", f)
              for k, f in enumerate(turn_frames)]
    batch = {k: v.to(runtime.device()) for k, v in fmt.encode([window]).items()}
    config = LossConfig("cb_stream", fmt.silence_id, fmt.response_id, 0.9999, 2.0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=runtime.gpu())
    model.train()
    if runtime.gpu():
        torch.cuda.reset_peak_memory_stats()
    sync()
    start = time.perf_counter()
    with torch.autocast(runtime.device(), dtype=torch.bfloat16, enabled=runtime.gpu()):
        logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
    loss = stream_loss(logits.float(), batch["labels"], config)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    sync()
    return {"seconds": round(time.perf_counter() - start, 3), "tokens": int(batch["input_ids"].numel()),
            "loss": round(float(loss.detach()), 4),
            "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if runtime.gpu() else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--processor", required=True, help="a prepared checkpoint folder (its processor is used)")
    ap.add_argument("--shape", choices=["3b", "tiny"], default="3b")
    ap.add_argument("--turns", type=int, default=20, help="turns streamed per measurement")
    ap.add_argument("--train-turns", type=int, default=16, help="turns (frames) in the training window")
    ap.add_argument("--frame-size", type=int, default=448)
    args = ap.parse_args()
    torch.manual_seed(0)
    processor = AutoProcessor.from_pretrained(args.processor)
    pixels = args.frame_size * args.frame_size
    processor.image_processor.size = {"shortest_edge": pixels, "longest_edge": pixels}
    config = qwen25_vl_3b_config() if args.shape == "3b" else qwen25_vl_config()
    result = {"device": torch.cuda.get_device_name() if runtime.gpu() else "cpu", "shape": args.shape,
              "frame_size": args.frame_size, "attention": runtime.ATTENTION}
    model = build(config, runtime.inference_dtype()).eval()
    result["parameters_b"] = round(sum(p.numel() for p in model.parameters()) / 1e9, 3)
    shots = frames(args.turns, args.frame_size)
    cached = stream_turns_per_s(model, processor, shots, use_cache=True)
    uncached = stream_turns_per_s(model, processor, shots, use_cache=False)
    result["stream"] = {"dtype": str(runtime.inference_dtype()), "turns": args.turns, "turns_per_s_cached": round(cached, 2),
                        "turns_per_s_uncached_baseline": round(uncached, 2), "ratio": round(cached / uncached, 2)}
    del model
    if runtime.gpu():
        torch.cuda.empty_cache()
    model = build(config, torch.float32)
    result["train_step"] = {"turns": args.train_turns, **train_step(model, processor, frames(args.train_turns, args.frame_size, 1))}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
