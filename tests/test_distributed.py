"""Many processes: the losses over a global micro-batch split across ranks equal one process's on all of it;
SFT and GRPO under `torchrun --nproc_per_node 2` on the CPU (gloo): both ranks step, their parameters agree,
rank 0 alone writes, and a killed run resumes."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import yaml

from streampro.train.losses import IGNORE, LossConfig, stream_loss
from tests.conftest import REPO

SIL, RESP, VOCAB = 5, 6, 11


def _batch():
    """Four rows, supervised tokens and decision classes spread unevenly (rank 0 gets rows 0-1, rank 1 rows 2-3)."""
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(4, 9, VOCAB, generator=g)
    labels = torch.full((4, 9), IGNORE)
    labels[0, 1:8] = torch.tensor([SIL, 1, 2, SIL, SIL, 3, SIL])
    labels[1, 2:4] = torch.tensor([SIL, 4])
    labels[2, 1:9] = torch.tensor([RESP, 7, 8, 9, SIL, SIL, SIL, SIL])
    labels[3, 5:9] = torch.tensor([SIL, SIL, RESP, 2])
    return logits, labels


def _rank(rank: int, world: int, store: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    logits, labels = _batch()
    rows = slice(2 * rank, 2 * rank + 2)
    results = {}
    for kind in ("ce", "focal", "cb_stream"):
        mine = logits[rows].clone().requires_grad_()
        loss = stream_loss(mine, labels[rows], LossConfig(kind, SIL, RESP, 0.99, 2.0, 2.0))
        loss.backward()
        results[kind] = (float(loss.detach()), mine.grad)
    torch.save(results, os.path.join(out, f"rank{rank}.pt"))
    dist.destroy_process_group()


def test_two_ranks_losses_and_gradients_equal_one_process_on_the_same_samples(tmp_path):
    mp.spawn(_rank, args=(2, str(tmp_path / "store"), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    logits, labels = _batch()
    for kind in ("ce", "focal", "cb_stream"):
        whole = logits.clone().requires_grad_()
        loss = stream_loss(whole, labels, LossConfig(kind, SIL, RESP, 0.99, 2.0, 2.0))
        loss.backward()
        # DDP averages the ranks' gradients; the trainer logs the mean of the ranks' losses
        assert abs((ranks[0][kind][0] + ranks[1][kind][0]) / 2 - float(loss.detach())) < 1e-5, kind
        averaged = torch.cat([ranks[0][kind][1], ranks[1][kind][1]]) / 2
        assert torch.allclose(averaged, whole.grad, atol=1e-6), kind
    # each rank alone would weigh its own counts: rank 0 has no </Response>, so its CB-Stream weights differ
    alone = stream_loss(logits[:2], labels[:2], LossConfig("cb_stream", SIL, RESP, 0.99, 2.0), distributed=False)
    assert abs(float(alone) - ranks[0]["cb_stream"][0]) > 1e-3


def _torchrun(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "streampro.cli", *args]
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


@pytest.mark.slow
def test_sft_and_grpo_under_torchrun_on_two_cpu_ranks(sliced_world, synth_world, tiny_model, tmp_path):
    data = yaml.safe_load((REPO / "params.yaml").read_text())
    data["sft"].update({"batch_size": 2, "max_steps": 6, "save_steps": 2, "logging_steps": 1,
                        "curriculum": [{"tasks": ["OU"], "cut": "thinned", "steps": 1}]})  # its phases under torchrun too
    data["grpo"].update({"num_generations": 2, "max_steps": 1, "streams_per_step": 1})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(data))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    sft, live = tmp_path / "sft", tmp_path / "live"
    args = ["sft", "--params", str(tmp_path / "params.yaml"), "--model", str(tiny_model),
            "--trajectories", str(sliced_world / "sft"), "--out", str(sft), "--live", str(live)]
    # a run killed once its first checkpoint is written ...
    run = _torchrun(args, env, tmp_path / "killed.log")
    deadline = time.time() + 240
    while not list((tmp_path / "sft.partial" / "checkpoints").glob("checkpoint-*/trainer_state.json")):
        assert run.poll() is None and time.time() < deadline, (tmp_path / "killed.log").read_text()[-3000:]
        time.sleep(0.5)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    assert not (sft / "_COMPLETE.json").exists()
    # ... resumes from it on both ranks and finishes
    run = _torchrun(args, env, tmp_path / "sft.log")
    assert run.wait(timeout=300) == 0, (tmp_path / "sft.log").read_text()[-3000:]
    summary = json.loads((sft / "sft_summary.json").read_text())
    assert summary["global_step"] == 6 and summary["resumed_from"] and "checkpoint-" in summary["resumed_from"]
    assert summary["ranks"] == 2 and summary["ranks_in_sync"] is True and summary["global_batch"] == 4
    assert summary["sharding"] == "ddp"
    assert [(c["cut"], c["steps"]) for c in summary["curriculum"]] == [("thinned", 1)]  # its copy phase ran first
    assert json.loads((sft / "_COMPLETE.json").read_text())["step"] == "sft"
    assert not (tmp_path / "sft.partial").exists()
    rows = (live / "plots" / "metrics" / "loss.tsv").read_text().splitlines()[1:]
    assert [int(r.split("\t")[0]) for r in rows] == list(range(1, 7))  # one writer, the whole curve: each step once
    printed = [line for line in (tmp_path / "sft.log").read_text().splitlines() if line.startswith('{"global_step"')]
    assert len(printed) == 1  # rank 0 speaks for the run
    # GRPO: one step of 2 ranks x 2 rollouts
    grpo = tmp_path / "grpo"
    run = _torchrun(["grpo", "--params", str(tmp_path / "params.yaml"), "--model", str(sft), "--trajectories",
                     str(sliced_world / "rl"), "--items", str(synth_world / "items" / "rl.jsonl"), "--out", str(grpo)],
                    env, tmp_path / "grpo.log")
    assert run.wait(timeout=300) == 0, (tmp_path / "grpo.log").read_text()[-3000:]
    summary = json.loads((grpo / "grpo_summary.json").read_text())
    assert summary["global_step"] == 1 and summary["ranks"] == 2 and summary["ranks_in_sync"] is True
    assert summary["streams_per_step"] == 2


def test_fsdp_without_gpus_is_refused_rather_than_run_as_ddp(monkeypatch):
    """Accelerate shards only on CUDA devices: asked for FSDP on CPU ranks it would train plain DDP, silently."""
    from streampro.train import distributed

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="fsdp shards only on GPUs"):
        distributed.sharding("fsdp")
    assert distributed.sharding("ddp") == {"ddp_find_unused_parameters": False}
