"""Turns per second of streaming inference with the KV cache against recomputing the context every
turn, on the same 60-turn stream, greedy, same model (the tiny model by default).

    python benchmarks/stream_infer.py [--model PATH] [--turns 60] [--window 200]

Prints both figures and the ratio cached / uncached.
"""
from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time

from _streams import model_and_streams

from streampro.model.stream import StreamingModel
from streampro.policy import Stream, TurnInput


def play(model_path: str, trajectory, use_cache: bool, window: int, max_new_tokens: int) -> dict:
    policy = StreamingModel.from_pretrained(model_path, window_turns=window, use_cache=use_cache,
                                            max_new_tokens=max_new_tokens)
    policy.reset(Stream(trajectory.item_id, trajectory.video_id, trajectory.task, trajectory.fps, len(trajectory.turns)))
    start = time.perf_counter()
    outputs = [policy.act(TurnInput(t.index, t.start, t.end, t.frame, t.user_text)) for t in trajectory.turns]
    elapsed = time.perf_counter() - start
    return {"turns_per_s": round(len(outputs) / elapsed, 2), "seconds": round(elapsed, 2),
            "tokens_encoded": policy.tokens_encoded, "outputs": outputs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="model folder (default: a freshly built tiny model)")
    ap.add_argument("--turns", type=int, default=60)
    ap.add_argument("--window", type=int, default=200)
    ap.add_argument("--max-new-tokens", type=int, default=8)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        model, (trajectory,) = model_and_streams(tmp, args.model, 1, args.turns, tasks=["EU"])
        play(model, trajectory, True, args.window, args.max_new_tokens)  # warm-up
        cached = play(model, trajectory, True, args.window, args.max_new_tokens)
        uncached = play(model, trajectory, False, args.window, args.max_new_tokens)
    same = cached.pop("outputs") == uncached.pop("outputs")
    print(json.dumps({"turns": len(trajectory.turns), "window": args.window, "cached": cached, "uncached": uncached,
                      "same_decisions": same,
                      "speedup_cached_vs_uncached": round(cached["turns_per_s"] / uncached["turns_per_s"], 2)}, indent=2))


if __name__ == "__main__":
    main()
