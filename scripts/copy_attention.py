"""Where a trained model looks when an answer should copy a word from the question: for each supervised
answer token that names a colour or shape the question also names, per decoder layer, the attention
from the position that predicts it onto the question's copy of that word (the best head, and the mean
over heads), onto the frames' image tokens (mean over heads), and the model's probability of the word.
A copy head puts most of its attention on the question's word and the probability goes to ~1; a
probability near 1/6 with no such head is a model that does not retrieve the question at all.

    python scripts/copy_attention.py MODEL TRAJECTORIES [--answers 40] [--tasks EU OU]
"""
from __future__ import annotations

import argparse

import torch

from streampro.config import load_params
from streampro.data.parquet import read_trajectories
from streampro.model.format import IGNORE, StreamFormat
from streampro.synth.scene import COLOURS, SHAPES
from streampro.train.sft import load_model, windows


def copy_attention(model_path: str, trajectories: str, answers: int = 40, tasks: tuple[str, ...] = ("EU", "OU"),
                   window: int | None = None, cut=None) -> dict:
    """``{"answers": n, "p_word": mean probability, "layers": [{"question_best_head", "question_mean_head",
    "image_mean_head"}, ...]}`` over the first ``answers`` copyable answer words of the given tasks, in
    windows of ``window`` turns (default: params.yaml's ``model.window_turns``, as SFT cuts them), each
    passed through ``cut`` (a function of the window's turns) when given."""
    window = window or load_params().model.window_turns
    model, processor = load_model(model_path)
    model.set_attn_implementation("eager")  # SDPA returns no attention weights
    model.eval()
    fmt, tok = StreamFormat(processor), processor.tokenizer
    words = {tok.convert_tokens_to_ids(tok.tokenize(" " + w)[0]) for w in [*COLOURS, *SHAPES]}
    image = tok.convert_tokens_to_ids("<|image_pad|>")
    sums, p_word, n = None, 0.0, 0
    for trajectory in read_trajectories(trajectories):
        if trajectory.task not in tasks:
            continue
        for turns in windows(trajectory, window):
            if n >= answers or not any(t.question for t in turns):
                continue
            turns = cut(turns) if cut else turns
            enc = fmt.encode([turns])
            ids, sup = enc["input_ids"][0].tolist(), (enc["labels"][0] != IGNORE).tolist()
            with torch.no_grad():
                out = model(**{k: v for k, v in enc.items() if k != "labels"}, output_attentions=True)
            images = [k for k, i in enumerate(ids) if i == image]
            for pos in range(1, len(ids)):
                source = [q for q in range(pos) if ids[q] == ids[pos] and not sup[q]]
                if not (sup[pos] and ids[pos] in words and source) or n >= answers:
                    continue
                layers = []
                for att in out.attentions:  # (batch, heads, query, key)
                    row = att[0, :, pos - 1, :pos].float()
                    on_question = row[:, source].sum(-1)
                    seen = [k for k in images if k < pos]
                    layers.append([float(on_question.max()), float(on_question.mean()),
                                   float(row[:, seen].sum(-1).mean()) if seen else 0.0])
                sums = torch.tensor(layers) if sums is None else sums + torch.tensor(layers)
                p_word += float(out.logits[0, pos - 1].float().softmax(-1)[ids[pos]])
                n += 1
    if not n:
        raise SystemExit(f"copy_attention: no answer in {trajectories} ({', '.join(tasks)}) copies a word of its question")
    keys = ("question_best_head", "question_mean_head", "image_mean_head")
    return {"answers": n, "p_word": round(p_word / n, 3),
            "layers": [{k: round(float(v) / n, 3) for k, v in zip(keys, layer)} for layer in sums]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a trained model folder (e.g. data/models/sft)")
    parser.add_argument("trajectories", help="held-out trajectories (e.g. data/sliced/rl)")
    parser.add_argument("--answers", type=int, default=40, help="answer words to average over (default 40)")
    parser.add_argument("--tasks", nargs="+", default=["EU", "OU"], help="tasks whose answers name the question's object")
    args = parser.parse_args(argv)
    result = copy_attention(args.model, args.trajectories, args.answers, tuple(args.tasks))
    print(f"{args.model}: {result['answers']} answer words; mean p(word) {result['p_word']:.3f}")
    for k, layer in enumerate(result["layers"]):
        print(f"layer {k}: on the question's word: best head {layer['question_best_head']:.3f}, mean head "
              f"{layer['question_mean_head']:.3f}; on image tokens (mean head) {layer['image_mean_head']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
