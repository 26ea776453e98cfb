"""A quick training probe of the skill the embedded model lacks: copying the question's object (colour,
shape) into its answers. Trains a tiny model (fresh, or one this probe saved) for a few hundred steps on
the windows of some tasks, cut one of three ways, then measures with ``copy_attention`` (on held-out
windows, full and cut the same way) the probability of the answer words the question names, and the
attention heads that retrieve them. Minutes per try, where a whole SFT + bench takes ten: a loop to test
levers for that skill (docs/model.md has what it found). What it found now runs inside SFT as the copy
curriculum (params.yaml ``sft.curriculum``, streampro/train/curriculum.py, whose cuts this probe uses).

    python scripts/copy_probe.py SFT_TRAJECTORIES HELDOUT [--tasks OU] [--cut full|thinned|short]
        [--steps 300] [--lr 3e-3] [--init-std 0.02] [--batch 4] [--start MODEL] [--save DIR] [--measure EU OU]

``full``: the windows SFT trains on; ``thinned``: each step a fresh copy of each window with a random
share of the turns between the question and its first answer dropped (the question at every distance
from that answer); ``short``: the question's turn and the first answer's turn only. A curriculum:

    python scripts/copy_probe.py data/sliced/sft data/sliced/rl --cut short --steps 400 --init-std 0.06 --save /tmp/short
    python scripts/copy_probe.py data/sliced/sft data/sliced/rl --cut thinned --steps 600 --start /tmp/short
"""
from __future__ import annotations

import argparse
import random
import tempfile

import torch
from transformers import get_cosine_schedule_with_warmup

from copy_attention import copy_attention
from streampro.config import load_params
from streampro.data.parquet import read_trajectories
from streampro.model.format import StreamFormat
from streampro.model.tiny import build_tiny_model
from streampro.train.curriculum import CUTS, cut_window as cut
from streampro.train.losses import stream_loss
from streampro.train.sft import load_model, sft_loss_config, windows


def copy_probe(trajectories: str, heldout: str, tasks: tuple[str, ...] = ("OU",), how: str = "full",
               steps: int = 300, lr: float = 3e-3, init_std: float = 0.02, batch: int = 4, seed: int = 0,
               start: str | None = None, save: str | None = None, measure: tuple[str, ...] | None = None) -> dict:
    """Train a fresh tiny model (or the one saved at ``start``: a curriculum) as described above, saved to
    ``save`` when given. Returns ``copy_attention``'s result on ``heldout``'s full windows of the ``measure``
    tasks (default: the trained ones), plus ``p_word_same_cut`` (on windows cut as for training) and the
    last training loss."""
    params = load_params()
    samples = [w for t in read_trajectories(trajectories) if t.task in tasks
               for w in windows(t, params.model.window_turns)]
    if not samples:
        raise SystemExit(f"copy_probe: no {'/'.join(tasks)} trajectories under {trajectories}")
    with tempfile.TemporaryDirectory() as tmp:
        model, processor = load_model(start or build_tiny_model(f"{tmp}/base", params.slice.frame_size, seed,
                                                                init_std=init_std))
        fmt = StreamFormat(processor)
        loss_config = sft_loss_config(params, fmt)
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=params.sft.weight_decay)
        schedule = get_cosine_schedule_with_warmup(optimizer, min(20, steps // 10), steps)
        rng = random.Random(seed)
        loss = torch.tensor(float("nan"))
        for _ in range(steps):
            enc = fmt.encode([cut(w, how, rng) for w in rng.sample(samples, min(batch, len(samples)))])
            labels = enc.pop("labels")
            loss = stream_loss(model(**enc).logits, labels, loss_config, distributed=False)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step(), schedule.step(), optimizer.zero_grad()
        trained = save or f"{tmp}/trained"
        model.save_pretrained(trained)
        processor.save_pretrained(trained)
        result = copy_attention(trained, heldout, tasks=measure or tasks)
        same_cut = copy_attention(trained, heldout, tasks=measure or tasks, cut=lambda w: cut(w, how, rng))
    return {"train_loss": round(float(loss), 4), **result, "p_word_same_cut": same_cut["p_word"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trajectories", help="training trajectories (e.g. data/sliced/sft)")
    parser.add_argument("heldout", help="held-out trajectories (e.g. data/sliced/rl)")
    parser.add_argument("--tasks", nargs="+", default=["OU"], help="tasks to train and measure on (default OU)")
    parser.add_argument("--cut", choices=("full", *CUTS), default="full", help="how windows are cut")
    parser.add_argument("--steps", type=int, default=300, help="training steps (default 300)")
    parser.add_argument("--lr", type=float, default=3e-3, help="peak learning rate, cosine schedule (default 3e-3)")
    parser.add_argument("--init-std", type=float, default=0.02, help="the tiny model's initializer_range (default 0.02)")
    parser.add_argument("--batch", type=int, default=4, help="windows per step (default 4)")
    parser.add_argument("--start", help="go on training this probe's saved model (a curriculum) instead of a fresh one")
    parser.add_argument("--save", help="save the trained model here")
    parser.add_argument("--measure", nargs="+", help="tasks to measure on (default: --tasks)")
    parser.add_argument("--seed", type=int, default=0, help="the fresh model's and the sampling's seed (default 0)")
    args = parser.parse_args(argv)
    result = copy_probe(args.trajectories, args.heldout, tuple(args.tasks), args.cut, args.steps, args.lr,
                        args.init_std, args.batch, args.seed, start=args.start, save=args.save,
                        measure=tuple(args.measure) if args.measure else None)
    best = max(layer["question_best_head"] for layer in result["layers"])
    start = f"from {args.start}" if args.start else f"init std {args.init_std}"
    print(f"{'/'.join(args.tasks)}, {args.cut} windows, {args.steps} steps, lr {args.lr}, {start}: "
          f"train loss {result['train_loss']}, held-out p(word) {result['p_word']:.3f} over {result['answers']} "
          f"words, best head on the question's word {best:.3f}; p(word) on {args.cut} held-out windows "
          f"{result['p_word_same_cut']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
