"""SFT losses over the supervised (assistant) tokens: ``ce``, ``focal`` and ``cb_stream``.

CB-Stream (the paper's Eq. 3–4). For each decision class k ∈ {``</Silence>``, ``</Response>``},
n_k = its count among the supervised decision tokens of the global micro-batch: the micro-batches that
all ranks of a distributed run (torchrun, DDP/FSDP) feed through one forward pass, the counts summed
over the ranks (an all-reduce); with gradient accumulation each accumulation step is weighted on its
own counts. In one process that is the micro-batch itself.
E_k = (1 − β^{n_k}) / (1 − β) (the effective number; n_k as β → 1, 1 as β → 0),
ŵ_k = (1/E_k) / Σ_j (1/E_j) · |S|. Decision tokens weigh ŵ of their class, every other supervised
token λ_text, and L = (1/N) Σ_i w_i · (−log p_i) over the N supervised tokens.
A class absent from the batch has no tokens to weigh: the sum and |S| run over the classes present,
so a batch with only ``</Silence>`` gives it ŵ = 1.

Under DDP each rank returns (world size / N_global) · Σ_its tokens w_i · (−log p_i), so the mean over
the ranks (what DDP's gradient averaging and the trainer's logged loss take) is the loss of one process
on all the ranks' samples at once; likewise the token means of ``ce`` and ``focal``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from streampro.train.distributed import global_counts, world

IGNORE = -100


@dataclass(frozen=True)
class LossConfig:
    kind: str = "cb_stream"  # ce | focal | cb_stream
    silence_id: int = -1
    response_id: int = -1
    beta: float = 0.9999
    lambda_text: float = 2.0
    gamma: float = 2.0


def effective_number(n: int, beta: float) -> float:
    if n <= 0:
        return 0.0
    return float(n) if beta >= 1.0 else (1.0 - beta**n) / (1.0 - beta)


def cb_stream_class_weights(counts: list[int], beta: float) -> list[float]:
    """ŵ_k for each class count (0 for an absent class)."""
    inverse = [1.0 / effective_number(n, beta) if n > 0 else 0.0 for n in counts]
    present = sum(1 for n in counts if n > 0)
    total = sum(inverse)
    return [w / total * present if total else 0.0 for w in inverse]


def cb_stream_weights(targets: torch.Tensor, cfg: LossConfig, counts: list[int] | None = None) -> torch.Tensor:
    """Each supervised token's CB-Stream weight: ŵ of its class for a decision token, λ_text otherwise
    (class counts from ``targets``, or the global ``counts`` given)."""
    is_sil, is_resp = targets == cfg.silence_id, targets == cfg.response_id
    w_sil, w_resp = cb_stream_class_weights(counts or [int(is_sil.sum()), int(is_resp.sum())], cfg.beta)
    weights = torch.full(targets.shape, cfg.lambda_text, dtype=torch.float32, device=targets.device)
    weights[is_sil], weights[is_resp] = w_sil, w_resp
    return weights


def predicting_columns(labels: torch.Tensor) -> torch.Tensor:
    """The sequence columns whose logits predict a supervised label (the next column's) in any row of the
    batch: the only logits a loss needs, for a forward's ``logits_to_keep`` (in a streaming window most
    columns are frames and prompts, whose logits the LM head would compute for nothing)."""
    return (labels[:, 1:] != IGNORE).any(0).nonzero().squeeze(1)


def shifted(logits: torch.Tensor, labels: torch.Tensor,
            columns: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Next-token view: the logits that predict each supervised label, flattened. ``columns``: the logits
    are only those of these sequence columns (``predicting_columns``), the labels still the whole sequence's."""
    if columns is None:
        logits, labels = logits[:, :-1, :], labels[:, 1:]
    else:
        labels = labels[:, columns + 1]
    logits, labels = logits.reshape(-1, logits.size(-1)), labels.reshape(-1)
    keep = labels != IGNORE
    return logits[keep].float(), labels[keep]


def stream_loss(logits: torch.Tensor, labels: torch.Tensor, cfg: LossConfig, distributed: bool = True,
                columns: torch.Tensor | None = None) -> torch.Tensor:
    """The configured loss over the supervised tokens of a batch (``labels`` = −100 elsewhere); in a
    distributed run, this rank's share of the loss over the global micro-batch (see the module's note),
    unless ``distributed`` is False (a rank's own batch, e.g. a held-out probe). ``columns``: ``logits``
    holds only these columns' (``predicting_columns(labels)``); the loss is the same."""
    if cfg.kind not in ("ce", "focal", "cb_stream"):
        raise ValueError(f"unknown loss {cfg.kind!r} (ce | focal | cb_stream)")
    logits, targets = shifted(logits, labels, columns)
    is_sil, is_resp = targets == cfg.silence_id, targets == cfg.response_id
    local = [targets.numel(), int(is_sil.sum()), int(is_resp.sum())]
    n_sup, n_sil, n_resp = global_counts(local, targets.device) if distributed else local
    if targets.numel() == 0 or n_sup == 0:
        return logits.sum() * 0.0
    nll = F.cross_entropy(logits, targets, reduction="none")
    scale = (world() if distributed else 1) / n_sup  # the global token mean, spread over the ranks
    if cfg.kind == "ce":
        return nll.sum() * scale
    if cfg.kind == "cb_stream":
        return (cb_stream_weights(targets, cfg, [n_sil, n_resp]) * nll).sum() * scale
    # Focal loss on decision tokens (γ, inverse-frequency α_k = N_dec / (K · n_k) over the global
    # micro-batch, K the classes present), plain CE on every other supervised token.
    counts = [n_sil, n_resp]
    n_dec, present = sum(counts), sum(1 for n in counts if n)
    alpha = [n_dec / (present * n) if n else 0.0 for n in counts]
    p = torch.exp(-nll)
    loss = nll.clone()
    for mask, a in ((is_sil, alpha[0]), (is_resp, alpha[1])):
        loss[mask] = a * (1 - p[mask]) ** cfg.gamma * nll[mask]
    return loss.sum() * scale
