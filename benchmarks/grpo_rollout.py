"""GRPO rollout throughput: turns per second of whole-stream episodes (sampling, temperature 1.0) played
with the policy's KV cache against recomputing the context at every token, same model, same streams.

    python benchmarks/grpo_rollout.py [--model PATH] [--episodes 4] [--turns 30]

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
from streampro.train.rollout import play_episode


def rollouts(model: str, trajectories, use_cache: bool, max_new_tokens: int) -> dict:
    policy = StreamingModel.from_pretrained(model, window_turns=10**6, do_sample=True, temperature=1.0,
                                            max_new_tokens=max_new_tokens, use_cache=use_cache, seed=0)
    start = time.perf_counter()
    episodes = [play_episode(policy, t) for t in trajectories]
    elapsed = time.perf_counter() - start
    turns = sum(len(e.turn_outputs) for e in episodes)
    return {"turns": turns, "seconds": round(elapsed, 2), "turns_per_s": round(turns / elapsed, 2),
            "policy_tokens": sum(sum(e.mask) for e in episodes), "tokens_encoded": policy.tokens_encoded}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="model folder (default: a freshly built tiny model)")
    ap.add_argument("--episodes", type=int, default=4)
    ap.add_argument("--turns", type=int, default=30)
    ap.add_argument("--max-new-tokens", type=int, default=8)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        model, streams = model_and_streams(tmp, args.model, args.episodes, args.turns)
        rollouts(model, streams[:1], True, args.max_new_tokens)  # warm-up
        cached = rollouts(model, streams, True, args.max_new_tokens)
        uncached = rollouts(model, streams, False, args.max_new_tokens)
    print(json.dumps({"episodes": len(streams), "turns_each": args.turns, "cached": cached, "uncached": uncached,
                      "speedup_cached_vs_uncached": round(cached["turns_per_s"] / uncached["turns_per_s"], 2)}, indent=2))


if __name__ == "__main__":
    main()
