"""Seconds per SFT step (forward, CB-Stream loss, backward, AdamW) with batches drawn at random against batches of
windows of about the same length (the Trainer's length-grouped sampler), and those again with the LM head run
only at the columns that predict a supervised token (``logits_to_keep``), and those again without the padding
mask of the right-padded batches (SDPA's causal kernel; ``causal_inputs``: what ``streampro sft`` does), on the
same windows and model (the tiny model by default), in one run.

    python benchmarks/sft_step.py [--model PATH] [--streams 80] [--steps 30] [--batch 4]

Prints the figures, the share of padding in each, and the ratios random / grouped, all logits / kept logits and
masked / causal kernel.
"""
from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

import torch
from transformers.trainer_pt_utils import get_length_grouped_indices

from streampro.config import SliceParams, SplitSizes, SynthParams, load_params
from streampro.data.parquet import read_trajectories
from streampro.data.slicing import run_slice
from streampro.model.format import StreamFormat
from streampro.model.tiny import build_tiny_model
from streampro.synth.world import synthesize
from streampro.train.losses import predicting_columns, stream_loss
from streampro.train.sft import causal_inputs, load_model, sft_loss_config, windows


def timed_steps(model, fmt, loss_config, batches, columns_only: bool = False, causal: bool = False) -> dict:
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    elapsed, tokens, padded = 0.0, 0, 0
    for k, batch in enumerate(batches):
        enc = fmt.encode(batch)
        labels = enc.pop("labels")
        start = time.perf_counter()
        columns = predicting_columns(labels) if columns_only else None
        logits = model(**(causal_inputs(enc) if causal else enc), logits_to_keep=columns if columns_only else 0).logits
        loss = stream_loss(logits, labels, loss_config, distributed=False, columns=columns)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if k >= 2:  # the first steps warm up
            elapsed += time.perf_counter() - start
            tokens += int(enc["attention_mask"].sum())
            padded += enc["attention_mask"].numel()
    return {"s_per_step": round(elapsed / (len(batches) - 2), 4), "padding_share": round(1 - tokens / padded, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="model folder (default: a freshly built tiny model)")
    ap.add_argument("--streams", type=int, default=80, help="synthetic 20-30 s streams to cut windows from")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch", type=int, default=4)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    params = load_params(str(Path(__file__).resolve().parents[1] / "params.yaml"))
    with tempfile.TemporaryDirectory() as tmp:
        model_path = args.model or build_tiny_model(str(Path(tmp) / "tiny"), init_std=params.model.init_std)
        synth = SynthParams(videos=SplitSizes(sft=args.streams, rl=0, bench=0), min_duration=20, max_duration=30)
        synthesize(str(Path(tmp) / "world"), synth, seed=0, workers=1)
        run_slice(str(Path(tmp) / "world" / "manifest.jsonl"), str(Path(tmp) / "sliced"), SliceParams())
        samples = [w for t in read_trajectories(str(Path(tmp) / "sliced" / "sft")) for w in windows(t, 30)]
        model, processor = load_model(model_path)
        fmt = StreamFormat(processor)
        loss_config = sft_loss_config(params, fmt)
        n = args.steps * args.batch
        generator = torch.Generator().manual_seed(0)
        order = [int(i) for i in torch.randint(len(samples), (n,), generator=generator)]
        picked = [samples[i] for i in order]
        grouped = get_length_grouped_indices([fmt.token_count(w) for w in picked], args.batch, generator=generator)
        batches = lambda idx: [[picked[i] for i in idx[k:k + args.batch]] for k in range(0, n, args.batch)]  # noqa: E731
        random_ = timed_steps(model, fmt, loss_config, batches(list(range(n))))
        by_length = timed_steps(model, fmt, loss_config, batches(grouped))
        kept = timed_steps(model, fmt, loss_config, batches(grouped), columns_only=True)
        causal = timed_steps(model, fmt, loss_config, batches(grouped), columns_only=True, causal=True)
    print(json.dumps({"windows": len(samples), "steps": args.steps, "batch": args.batch, "random": random_,
                      "by_length": by_length, "by_length_kept_logits": kept,
                      "by_length_kept_logits_causal": causal,
                      "speedup_by_length_vs_random": round(random_["s_per_step"] / by_length["s_per_step"], 2),
                      "speedup_kept_vs_all_logits": round(by_length["s_per_step"] / kept["s_per_step"], 2),
                      "speedup_causal_vs_masked": round(kept["s_per_step"] / causal["s_per_step"], 2)},
                     indent=2))


if __name__ == "__main__":
    main()
