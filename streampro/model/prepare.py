"""``prepare``: make any Qwen2.5-VL (or Qwen3-VL) checkpoint a streaming model's starting point.

The two decision tokens ``</Silence>`` and ``</Response>`` become special tokens of the checkpoint's
tokenizer (each one id). The embedding matrix grows only where the new ids do not fit (real
checkpoints carry spare rows: Qwen2.5-VL-3B has 151,936 for 151,665 tokens) and never shrinks. The new
ids' rows (and the output head's, when it is not tied) start as the mean of the embeddings of the
checkpoint's own tokens. The checkpoint's chat template is kept. ``prepare.json`` records what was
added; running it again on its output changes nothing.
"""
from __future__ import annotations

import json
import os

import torch

from streampro import protocol

DECISION_TOKENS = (protocol.SILENCE, protocol.RESPONSE)
RECORD = "prepare.json"


class UnpreparedTokenizer(ValueError):
    """A tokenizer in which a decision token is not one known id."""


def decision_ids(tokenizer, source: str = "the model") -> dict[str, int]:
    """The single id of each decision token, or an error that says to run ``prepare``."""
    ids = {}
    for token in DECISION_TOKENS:
        found = tokenizer.convert_tokens_to_ids(token)
        pieces = tokenizer(token, add_special_tokens=False)["input_ids"]
        if found is None or found == tokenizer.unk_token_id or pieces != [found]:
            raise UnpreparedTokenizer(
                f"the tokenizer of {source} has no single id for {token} (it is split into {len(pieces)} pieces): "
                f"run `streampro prepare --base {source} --out DIR` and train from DIR")
        ids[token] = found
    return ids


def prepare_checkpoint(base: str, out: str, base_name: str | None = None) -> dict:
    """Load ``base`` (a model id or folder), add the decision tokens, save the result to ``out``
    (``base_name``: what to record as the base, when ``base`` is a temporary folder)."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(base)
    model = AutoModelForImageTextToText.from_pretrained(base, dtype=torch.float32)
    tokenizer = processor.tokenizer
    known = len(tokenizer)
    missing = [t for t in DECISION_TOKENS if tokenizer.convert_tokens_to_ids(t) in (None, tokenizer.unk_token_id)]
    if missing:
        tokenizer.add_special_tokens({"additional_special_tokens": missing}, replace_extra_special_tokens=False)
    added = {t: tokenizer.convert_tokens_to_ids(t) for t in missing}
    embeddings = model.get_input_embeddings()
    rows = embeddings.weight.shape[0]
    if added and max(added.values()) >= rows:
        model.resize_token_embeddings(max(added.values()) + 1, mean_resizing=False)
    with torch.no_grad():
        weights = model.get_input_embeddings().weight
        mean = weights[:known].mean(dim=0)
        head = model.get_output_embeddings()
        for token_id in added.values():
            weights[token_id] = mean
            if head is not None and head.weight.data_ptr() != weights.data_ptr():
                head.weight[token_id] = head.weight[:known].mean(dim=0)
    decision_ids(tokenizer, base)
    model.save_pretrained(out)
    processor.save_pretrained(out)  # with the checkpoint's own chat template
    previous = _record(base)
    record = {"base": previous.get("base", base_name or base), "added": {**previous.get("added", {}), **added},
              "init": "mean of the checkpoint's token embeddings", "embedding_rows_before": rows,
              "embedding_rows": model.get_input_embeddings().weight.shape[0]}
    with open(os.path.join(out, RECORD), "w") as f:
        json.dump(record, f, indent=2)
    return {**record, "newly_added": added}


def _record(folder: str) -> dict:
    path = os.path.join(folder, RECORD)
    if os.path.isdir(folder) and os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return {}


def prepare_step(base: str, out: str, frame_size: int = 56, seed: int = 0, init_std: float = 0.02) -> dict:
    """The DAG's ``prepare`` step: ``base`` ('tiny': the embedded model, built here from its config, its
    weights drawn at ``init_std``) with the decision tokens, saved to ``out`` as a complete step output."""
    from streampro.outputs import code_fingerprint, step_output

    tiny = base == "tiny"
    settings = [base] + ([frame_size, seed, init_std] if tiny else []) + [code_fingerprint()]
    with step_output(out, "prepare", settings=settings) as output:
        if base == "tiny":
            from streampro.model.tiny import build_tiny_model

            build_tiny_model(output.path, frame_size=frame_size, seed=seed, init_std=init_std)
            record = _record(output.path)
        else:
            record = prepare_checkpoint(base, output.path)
        output.counts = {"decision_tokens": len(DECISION_TOKENS), "embedding_rows": record["embedding_rows"]}
    return record
