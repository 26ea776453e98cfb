"""SFT of the tiny model on CPU: the loss goes down; a killed run resumes from its checkpoint."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml

from streampro.config import params_from_dict
from streampro.model.format import StreamFormat
from streampro.train.losses import LossConfig, stream_loss
from streampro.train.sft import StreamCollator, as_rows, load_model, train_sft, windows
from streampro.data.parquet import read_trajectories
from tests.conftest import REPO


def _params(tmp_path, **sft):
    data = yaml.safe_load((REPO / "params.yaml").read_text())
    data["sft"].update({"weight_decay": 0.0, "learning_rate": 0.003, "batch_size": 2, **sft})
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data))
    return path, params_from_dict(data)


def _batch_loss(model_dir, trajectories, loss):
    model, processor = load_model(str(model_dir))
    fmt = StreamFormat(processor)
    streams = list(read_trajectories(str(trajectories)))[:2]
    batch = StreamCollator(fmt)([as_rows(windows(t, 30)[0]) for t in streams])
    labels = batch.pop("labels")
    with torch.no_grad():
        logits = model(**batch).logits
    return stream_loss(logits, labels, LossConfig(loss, fmt.silence_id, fmt.response_id, 0.9999, 2.0)).item()


@pytest.mark.slow
def test_training_lowers_the_loss(tmp_path, sliced_world):
    _, params = _params(tmp_path, save_steps=1000, logging_steps=4)
    out = tmp_path / "sft"
    summary = train_sft(params, str(sliced_world / "sft"), str(out), log_path=str(tmp_path / "log.json"), max_steps=12)
    assert summary["global_step"] == 12 and summary["loss"] == "cb_stream"
    before = _batch_loss(out / "base", sliced_world / "sft", "cb_stream")
    after = _batch_loss(out, sliced_world / "sft", "cb_stream")
    assert after < 0.7 * before
    log = json.loads((tmp_path / "log.json").read_text())
    assert [r["step"] for r in log] == [4, 8, 12] and {"p_response_right", "p_response_elsewhere"} <= set(log[0])
    assert (out / "model.safetensors").exists()
    load_model(str(out))  # the saved folder loads like any checkpoint, processor included


@pytest.mark.slow
def test_killed_run_resumes_from_its_checkpoint(tmp_path, sliced_world):
    params_file, _ = _params(tmp_path, save_steps=3, logging_steps=3)
    out = tmp_path / "sft"
    cmd = [sys.executable, "-m", "streampro.cli", "sft", "--params", str(params_file), "--trajectories",
           str(sliced_world / "sft"), "--out", str(out), "--max-steps", "15"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and not (out / "checkpoints" / "checkpoint-3" / "trainer_state.json").exists():
        assert proc.poll() is None, "training ended before it could be killed"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    checkpoints = sorted((out / "checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    assert checkpoints and not (out / "sft_summary.json").exists()
    killed_at = int(checkpoints[-1].name.split("-")[1])
    assert killed_at < 15
    run = subprocess.run(cmd, capture_output=True, text=True, check=True)
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["global_step"] == 15
    assert summary["resumed_from"].endswith(f"checkpoint-{killed_at}")
    state = json.loads((out / "checkpoints" / "checkpoint-15" / "trainer_state.json").read_text())
    assert state["global_step"] == 15 and state["max_steps"] == 15
    # the resumed run went on from the checkpoint's weights, not from scratch
    assert _batch_loss(out, sliced_world / "sft", "cb_stream") < 0.8 * _batch_loss(out / "base", sliced_world / "sft",
                                                                                   "cb_stream")
    rerun = subprocess.run(cmd, capture_output=True, text=True, check=True)  # nothing left to do: same model
    assert json.loads(rerun.stdout.strip().splitlines()[-1])["global_step"] == 15
