"""Many processes: SFT and GRPO run under ``torchrun`` (one process per GPU, or per CPU slot with gloo).

``torchrun --nproc_per_node N -m streampro.cli sft ...`` starts N ranks; each calls ``init()``, which
joins the process group (NCCL on GPUs, gloo on the CPU) before the trainer starts, so the trainer (through
Accelerate) wraps the model in DDP, or FSDP when ``sft.distributed`` / ``grpo.distributed`` say so. The
global batch is per-device batch × gradient accumulation × world size. Only rank 0 writes (the model,
checkpoints' shared files, logs, plots, the step output's marker); the other ranks work in its folder.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.distributed as dist

from streampro.outputs import StepOutput, fetched, staged, step_output


def launched() -> bool:
    """Started by torchrun (or another launcher that sets WORLD_SIZE) with more than one rank."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init() -> None:
    """Join the process group of a torchrun launch (nothing in a single process)."""
    if not launched() or dist.is_initialized():
        return
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")


def world() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main() -> bool:
    return rank() == 0


def node_main() -> bool:
    """The first rank of this machine (it fetches what every rank of the machine reads from local disk)."""
    return int(os.environ.get("LOCAL_RANK", "0")) == 0


def barrier() -> None:
    if world() > 1:
        dist.barrier()


def global_counts(counts: list[int], device: torch.device | str = "cpu") -> list[int]:
    """``counts`` summed over every rank (each rank must call it: it is a collective)."""
    if world() == 1:
        return list(counts)
    total = torch.tensor(counts, dtype=torch.int64, device=device)
    dist.all_reduce(total)
    return [int(n) for n in total.tolist()]


def fetch(uri: str | None) -> str | None:
    """A local copy of the folder ``uri`` (gs://), fetched once per machine by its first rank; ``uri`` itself
    when local."""
    if node_main():
        fetched(uri)
    barrier()
    return fetched(uri, download=False)


@contextmanager
def training_output(out: str, step: str, inputs: list[str | None], keep: tuple[str, ...],
                    settings: object) -> Iterator[StepOutput]:
    """A training step's output as every rank sees it: a local folder (staged when ``out`` is gs://), which
    rank 0 commits (marked complete) once every rank is through."""
    sync, main = barrier, is_main()
    with staged(out, keep, sync, main, node_main()) as local, \
            step_output(local, step, inputs, keep=keep, settings=settings, sync=sync, main=main) as output:
        yield output


def params_in_sync(trainer) -> bool | None:
    """Whether every rank holds the same parameters (a checksum compared across the ranks; a collective);
    None under FSDP, whose ranks hold different shards by design."""
    if sharding_of(trainer) == "fsdp":
        return None
    model = trainer.model
    with torch.no_grad():
        total = sum(float(p.detach().double().sum()) + float(p.detach().double().abs().sum()) for p in model.parameters())
    if world() == 1:
        return True
    device = "cuda" if torch.cuda.is_available() and dist.get_backend() == "nccl" else "cpu"
    low = torch.tensor([total], dtype=torch.float64, device=device)
    high = low.clone()
    dist.all_reduce(low, op=dist.ReduceOp.MIN)
    dist.all_reduce(high, op=dist.ReduceOp.MAX)
    return bool(low.item() == high.item())


# The blocks FSDP wraps one by one (Qwen2.5-VL's and Qwen3-VL's decoder layers and vision blocks).
WRAPPED_LAYERS = ["Qwen2_5_VLDecoderLayer", "Qwen2_5_VLVisionBlock", "Qwen3VLTextDecoderLayer", "Qwen3VLVisionBlock"]


def layers_of(model) -> list[str]:
    """The classes of ``WRAPPED_LAYERS`` that ``model`` has (all of them without a model)."""
    if model is None:
        return list(WRAPPED_LAYERS)
    present = {type(m).__name__ for m in model.modules()}
    return [name for name in WRAPPED_LAYERS if name in present]


def sharding(kind: str, model=None) -> dict:
    """TrainingArguments for ``ddp`` (nothing to add: Accelerate wraps the model in DDP under torchrun)
    or ``fsdp`` (full sharding of parameters, gradients and optimizer state, one unit per decoder layer and
    vision block of ``model``: Accelerate refuses a listed class the model lacks)."""
    if kind == "ddp":
        return {"ddp_find_unused_parameters": False}
    if kind == "fsdp":
        if launched() and not torch.cuda.is_available():  # Accelerate would fall back to DDP without a word
            raise ValueError("sft.distributed: fsdp shards only on GPUs (Accelerate's FSDP needs CUDA devices); "
                             "use ddp on the CPU")
        return {"fsdp": True, "fsdp_config": {"auto_wrap_policy": "TRANSFORMER_BASED_WRAP", "reshard_after_forward": True,
                                              "transformer_layer_cls_to_wrap": layers_of(model), "use_orig_params": True}}
    raise ValueError(f"unknown distributed mode {kind!r} (ddp | fsdp)")


def sharding_of(trainer) -> str:
    """How the trainer spread the model: ``fsdp``, ``ddp`` or ``none`` (one process)."""
    if getattr(trainer, "is_fsdp_enabled", False):
        return "fsdp"
    return "ddp" if world() > 1 else "none"
