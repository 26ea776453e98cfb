"""Where and how a model runs: on CUDA when a GPU is there (bf16), else on the CPU (float32); attention
through PyTorch's scaled-dot-product kernels (SDPA: flash or memory-efficient on the GPU).

Inference loads the weights in ``inference_dtype()``. Training keeps float32 master weights and lets the
trainer's ``bf16`` switch run the forward and backward passes in bf16 autocast (``train_precision()``),
so small learning rates (the paper's 1e-6 for GRPO) are not lost to bf16 rounding of the weights.
"""
from __future__ import annotations

import torch

ATTENTION = "sdpa"


def gpu() -> bool:
    return torch.cuda.is_available()


def device() -> str:
    return "cuda" if gpu() else "cpu"


def inference_dtype() -> torch.dtype:
    return torch.bfloat16 if gpu() else torch.float32


def load_kwargs(dtype: torch.dtype | None = None) -> dict:
    """``from_pretrained`` keyword arguments: the dtype (inference's by default) and SDPA attention."""
    return {"dtype": dtype or inference_dtype(), "attn_implementation": ATTENTION}


def train_precision() -> dict:
    """TrainingArguments switches: bf16 autocast and the GPU when there is one, else the CPU in float32."""
    return {"bf16": gpu(), "use_cpu": not gpu()}
