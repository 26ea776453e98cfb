"""Which answer tokens a trained model gets wrong: its mean held-out loss (nats) per task and target token,
over the first window of each stream. A colour or shape the question names, at ~ln(6) ≈ 1.8 nats, is a
model that neither copies it from the question nor reads it from the frame; a decision token near 0 and
answer words near 0 are a model that has learned the format only.

    python scripts/answer_token_losses.py MODEL TRAJECTORIES [--streams 70] [--top 10] [--json OUT]
"""
from __future__ import annotations

import argparse
import collections
import itertools
import json

import torch

from streampro.data.parquet import read_trajectories
from streampro.model.format import StreamFormat
from streampro.train.sft import load_model, windows


def token_losses(model_path: str, trajectories: str, streams: int = 70, batch: int = 7) -> dict[str, dict[str, list]]:
    """Per task, per target token (decoded): [mean loss, count]."""
    model, processor = load_model(model_path)
    model.eval()
    fmt, tokenizer = StreamFormat(processor), processor.tokenizer
    sums: dict = collections.defaultdict(lambda: collections.defaultdict(lambda: [0.0, 0]))
    chosen = list(itertools.islice(read_trajectories(trajectories), streams))
    for start in range(0, len(chosen), batch):
        chunk = chosen[start:start + batch]
        encoded = fmt.encode([windows(t, 10**6)[0] for t in chunk])
        with torch.no_grad():
            logits = model(**{k: v for k, v in encoded.items() if k != "labels"}).logits
        logp = torch.log_softmax(logits.float(), dim=-1)
        for row, trajectory in enumerate(chunk):
            labels = encoded["labels"][row]
            for pos in (labels >= 0).nonzero().flatten().tolist():
                if pos == 0:
                    continue
                target = int(labels[pos])
                entry = sums[trajectory.task][tokenizer.decode([target])]
                entry[0] -= float(logp[row, pos - 1, target])
                entry[1] += 1
    return {task: {tok: [round(s / n, 3), n] for tok, (s, n) in by_token.items()} for task, by_token in sums.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a trained model folder (e.g. data/models/sft)")
    parser.add_argument("trajectories", help="held-out trajectories (e.g. data/sliced/rl)")
    parser.add_argument("--streams", type=int, default=70, help="how many streams to read (default 70)")
    parser.add_argument("--top", type=int, default=10, help="tokens shown per task, by total loss (default 10)")
    parser.add_argument("--json", help="also write every task's table to this file")
    args = parser.parse_args(argv)
    table = token_losses(args.model, args.trajectories, args.streams)
    for task in sorted(table):
        worst = sorted(table[task].items(), key=lambda kv: -kv[1][0] * kv[1][1])[:args.top]
        print(task, " | ".join(f"{tok!r} {loss:.2f}×{n}" for tok, (loss, n) in worst))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(table, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
