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
from streampro.train.sft import load_model, train_sft, windows
from streampro.data.parquet import read_trajectories
from tests.conftest import NO_CURRICULUM, REPO


def _params(tmp_path, **sft):
    data = yaml.safe_load((REPO / "params.yaml").read_text())
    data["sft"].update({"weight_decay": 0.0, "learning_rate": 0.003, "batch_size": 2, **NO_CURRICULUM, **sft})
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data))
    return path, params_from_dict(data)


def _batch_loss(model_dir, trajectories, loss):
    model, processor = load_model(str(model_dir))
    fmt = StreamFormat(processor)
    streams = list(read_trajectories(str(trajectories)))[:2]
    batch = fmt.encode([windows(t, 30)[0] for t in streams])
    labels = batch.pop("labels")
    with torch.no_grad():
        logits = model(**batch).logits
    return stream_loss(logits, labels, LossConfig(loss, fmt.silence_id, fmt.response_id, 0.9999, 2.0)).item()


@pytest.mark.slow
def test_training_lowers_the_loss(tmp_path, sliced_world):
    _, params = _params(tmp_path, save_steps=1000, logging_steps=4)
    out = tmp_path / "sft"
    summary = train_sft(params, str(sliced_world / "sft"), str(out), log_path=str(tmp_path / "live"), max_steps=12)
    assert summary["global_step"] == 12 and summary["loss"] == "cb_stream"
    looks = summary["frame_dependence"]  # per held-out task: P(</Response>) with the frames frozen
    assert looks and all(set(v) == {"p_response_right_frozen_frames", "p_response_elsewhere_frozen_frames",
                                    "frame_gap"} for v in looks.values())
    assert isinstance(summary["frame_gap"], float)
    before = _batch_loss(out / "base", sliced_world / "sft", "cb_stream")
    after = _batch_loss(out, sliced_world / "sft", "cb_stream")
    assert after < 0.7 * before
    # on held-out streams (the bench split, never trained on) the loss falls too: it learned the format
    held_before = _batch_loss(out / "base", sliced_world / "bench", "cb_stream")
    assert _batch_loss(out, sliced_world / "bench", "cb_stream") < 0.7 * held_before
    # DVCLive: a .tsv per metric (a row per logged step), the last values in metrics.json
    def curve(name):
        rows = (tmp_path / "live" / "plots" / "metrics" / f"{name}.tsv").read_text().splitlines()
        assert rows[0] == f"step\t{name}"
        return [(int(r.split("\t")[0]), float(r.split("\t")[1])) for r in rows[1:]]

    assert [step for step, _ in curve("p_response_right")] == [4, 8, 12] and curve("p_response_elsewhere")
    held = curve("heldout_loss")
    assert held[-1][1] < held[0][1]  # the held-out loss, beside the training loss
    last = json.loads((tmp_path / "live" / "metrics.json").read_text())
    assert last["step"] == 12 and last["heldout_loss"] == held[-1][1] and "loss" in last
    assert (out / "model.safetensors").exists()
    assert "| heldout_loss |" in (out / "training.md").read_text()  # what the Kubeflow UI shows of the step
    assert "data:image/png;base64," in (out / "training.html").read_text()
    load_model(str(out))  # the saved folder loads like any checkpoint, processor included


@pytest.mark.slow
def test_killed_run_resumes_from_its_checkpoint(tmp_path, sliced_world):
    params_file, _ = _params(tmp_path, save_steps=3, logging_steps=3)
    out = tmp_path / "sft"
    cmd = [sys.executable, "-m", "streampro.cli", "sft", "--params", str(params_file), "--trajectories",
           str(sliced_world / "sft"), "--out", str(out), "--max-steps", "15"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    partial = tmp_path / "sft.partial"  # a run writes there; OUT appears, complete, when it succeeds
    while time.time() < deadline and not (partial / "checkpoints" / "checkpoint-3" / "trainer_state.json").exists():
        assert proc.poll() is None, "training ended before it could be killed"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    checkpoints = sorted((partial / "checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    assert checkpoints and not out.exists()  # nothing a consumer could take for a finished model
    killed_at = int(checkpoints[-1].name.split("-")[1])
    assert killed_at < 15
    run = subprocess.run(cmd, capture_output=True, text=True, check=True)
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["global_step"] == 15
    assert summary["resumed_from"].endswith(f"checkpoint-{killed_at}")
    assert json.loads((out / "_COMPLETE.json").read_text())["counts"]["global_step"] == 15 and not partial.exists()
    state = json.loads((out / "checkpoints" / "checkpoint-15" / "trainer_state.json").read_text())
    assert state["global_step"] == 15 and state["max_steps"] == 15
    # the resumed run went on from the checkpoint's weights, not from scratch
    assert _batch_loss(out, sliced_world / "sft", "cb_stream") < 0.8 * _batch_loss(out / "base", sliced_world / "sft",
                                                                                   "cb_stream")
    rerun = subprocess.run(cmd, capture_output=True, text=True, check=True)  # nothing left to do: same model
    assert json.loads(rerun.stdout.strip().splitlines()[-1])["global_step"] == 15
    # the same weights as a run that was never killed
    from safetensors.torch import load_file

    whole = tmp_path / "whole"
    subprocess.run([*cmd[:cmd.index("--out") + 1], str(whole), "--max-steps", "15"], capture_output=True, check=True)
    a, b = load_file(str(out / "model.safetensors")), load_file(str(whole / "model.safetensors"))
    assert a.keys() == b.keys() and max(float((a[k] - b[k]).abs().max()) for k in a) <= 1e-5


def _trajectory(n_turns, asked_at):
    from streampro.schema import Trajectory, Turn

    turns = [Turn(index=i, start=i, end=i + 1, frame=bytes([i]), user_text="where?" if i == asked_at else "",
                  target="</Silence>") for i in range(n_turns)]
    return Trajectory(trajectory_id="t", item_id="t", video_id="v", split="sft", task="OU", fps=1.0, turns=turns,
                      answers=[{"text": "x", "time": n_turns - 1}])


def test_long_streams_are_cut_into_windows_that_repeat_the_question():
    cut = windows(_trajectory(7, asked_at=1), 3)
    assert [[(t.label, t.question, t.frame) for t in w] for w in cut] == [
        [("<0s-1s>", "", b"\x00"), ("<1s-2s>", "where?", b"\x01"), ("<2s-3s>", "", b"\x02")],
        [("<3s-4s>", "where?", b"\x03"), ("<4s-5s>", "", b"\x04"), ("<5s-6s>", "", b"\x05")],
        [("<6s-7s>", "where?", b"\x06")],
    ]
    late = windows(_trajectory(7, asked_at=4), 3)  # a window before the question does not get it
    assert [[t.question for t in w] for w in late] == [["", "", ""], ["", "where?", ""], ["where?"]]
    assert windows(_trajectory(3, asked_at=0), 3) == [list(windows(_trajectory(3, asked_at=0), 30)[0])]


def test_checkpoints_are_kept_for_the_same_settings_and_reset_for_others(tmp_path):
    from streampro.train.checkpoints import checkpoint_dir

    folder = checkpoint_dir(str(tmp_path), {"lr": 0.1, "data": ["a"]})
    (tmp_path / "checkpoints" / "checkpoint-5").mkdir()
    assert checkpoint_dir(str(tmp_path), {"data": ["a"], "lr": 0.1}) == folder  # same settings, any key order
    assert (tmp_path / "checkpoints" / "checkpoint-5").exists()
    checkpoint_dir(str(tmp_path), {"lr": 0.2, "data": ["a"]})  # another run: start afresh
    assert not (tmp_path / "checkpoints" / "checkpoint-5").exists()
    (tmp_path / "checkpoints" / "checkpoint-7").mkdir()
    (tmp_path / "checkpoints" / "FINGERPRINT").unlink()  # checkpoints of unknown origin are not trusted
    checkpoint_dir(str(tmp_path), {"lr": 0.2, "data": ["a"]})
    assert not (tmp_path / "checkpoints" / "checkpoint-7").exists()


def test_a_vision_lr_scale_of_zero_keeps_the_vision_tower_and_trains_the_rest(tmp_path, sliced_world):
    from safetensors.torch import load_file

    _, params = _params(tmp_path, vision_lr_scale=0.0, save_steps=1000)
    out = tmp_path / "sft"
    train_sft(params, str(sliced_world / "sft"), str(out), max_steps=3)
    before, after = load_file(out / "base" / "model.safetensors"), load_file(out / "model.safetensors")
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(".visual." not in f".{k}" for k in changed)  # its group's learning rate is 0
    assert any(k.startswith("model.layers.") for k in changed)  # the language model trained


def test_a_curriculum_phase_may_freeze_the_vision_tower(tmp_path, sliced_world):
    """A phase's own ``vision_lr_scale`` (0: frozen) overrides sft.vision_lr_scale for that phase only."""
    from safetensors.torch import load_file

    phase = {"tasks": ["OU"], "cut": "short", "steps": 2, "vision_lr_scale": 0.0}
    _, params = _params(tmp_path, curriculum=[phase], save_steps=1000)
    out = tmp_path / "sft"
    train_sft(params, str(sliced_world / "sft"), str(out), max_steps=2)
    base = load_file(out / "base" / "model.safetensors")
    phased = load_file(out / "checkpoints" / "curriculum-1-short" / "model.safetensors")
    final = load_file(out / "model.safetensors")
    vision = [k for k in base if ".visual." in f".{k}"]
    assert vision and all(torch.equal(base[k], phased[k]) for k in vision)  # frozen in the phase
    assert any(not torch.equal(base[k], phased[k]) for k in base if k.startswith("model.layers."))
    assert any(not torch.equal(phased[k], final[k]) for k in vision)  # SFT proper trains it (scale 1)


def test_curriculum_cuts_keep_the_question_and_the_first_answer():
    """streampro/train/curriculum.py: short keeps the question's turn and the first answer's; thinned drops a
    random share of the turns between them; a window with no question before an answer stays whole."""
    import random

    from streampro.model.format import StreamTurn
    from streampro.train.curriculum import cut_window

    window = [StreamTurn(f"<{i}s-{i + 1}s>", "q?" if i == 1 else "", "</Response> a" if i in (6, 7) else "</Silence>",
                         b"") for i in range(8)]
    rng = random.Random(0)
    assert cut_window(window, "full", rng) == window
    assert cut_window(window, "short", rng) == [window[1], window[6]]
    lengths = set()
    for _ in range(30):
        thinned = cut_window(window, "thinned", rng)
        assert thinned[0] == window[1] and thinned[-1] == window[6] and all(t in window[2:6] for t in thinned[1:-1])
        assert [window.index(t) for t in thinned] == sorted(window.index(t) for t in thinned)  # in stream order
        lengths.add(len(thinned))
    assert lengths == {2, 3, 4, 5, 6}  # the question at every distance from its answer
    silent = [t._replace(target="</Silence>") for t in window]
    assert cut_window(silent, "short", rng) == silent  # no answer: whole
    assert cut_window(window[2:], "short", rng) == window[2:]  # no question: whole
    with pytest.raises(ValueError, match="unknown cut 'long'"):
        cut_window(window, "long", rng)


@pytest.mark.slow
def test_sft_runs_the_curriculum_phases_first_and_keeps_a_finished_phase(tmp_path, sliced_world):
    phases = [{"tasks": ["OU", "EU"], "cut": "short", "steps": 2}, {"tasks": ["EU"], "cut": "thinned", "steps": 3}]
    _, params = _params(tmp_path, save_steps=1000, curriculum=phases)
    out = tmp_path / "sft"
    summary = train_sft(params, str(sliced_world / "sft"), str(out), max_steps=2)
    tasks = [t.task for t in read_trajectories(str(sliced_world / "sft"))]
    assert [(c["cut"], c["steps"], c["tasks"], c["windows"]) for c in summary["curriculum"]] == [
        ("short", 2, ["OU", "EU"], tasks.count("OU") + tasks.count("EU")), ("thinned", 3, ["EU"], tasks.count("EU"))]
    assert all(c["train_loss"] > 0 for c in summary["curriculum"])  # (one window a stream: the tiny world's are short)
    phase = out / "checkpoints" / "curriculum-2-thinned"
    state = json.loads((phase / "checkpoints" / "checkpoint-3" / "trainer_state.json").read_text())
    assert state["global_step"] == 3
    from safetensors.torch import load_file

    base, first = load_file(out / "base" / "model.safetensors"), load_file(phase.parent / "curriculum-1-short" /
                                                                           "model.safetensors")
    assert any(not torch.equal(base[k], first[k]) for k in base)  # the phases trained the model SFT starts from
    stamp = (phase / "model.safetensors").stat().st_mtime_ns
    again = train_sft(params, str(sliced_world / "sft"), str(out), max_steps=3)  # more SFT steps: phases kept
    assert again["curriculum"] == summary["curriculum"] and again["global_step"] == 3
    assert (phase / "model.safetensors").stat().st_mtime_ns == stamp
    _, no_such = _params(tmp_path, curriculum=[{"tasks": ["XX"], "cut": "short", "steps": 1}])
    with pytest.raises(ValueError, match=r"sft.curriculum phase 1 tasks \['XX'\]: none of the SFT trajectories"):
        train_sft(no_such, str(sliced_world / "sft"), str(tmp_path / "other"), max_steps=1)


def test_sft_batches_windows_of_about_the_same_length(tmp_path, sliced_world, tiny_model):
    """SFT proper samples through the Trainer's length-grouped sampler on each window's exact token count, so a
    batch is mostly tokens, not padding; the curriculum's phases (cut afresh every batch) draw at random."""
    from transformers import AutoProcessor
    from transformers.trainer_pt_utils import LengthGroupedSampler

    from streampro.config import load_params
    from streampro.train.sft import StreamSFTTrainer, _window_dataset, causal_inputs, sft_loss_config, trainer_args

    processor = AutoProcessor.from_pretrained(tiny_model)
    fmt = StreamFormat(processor)
    samples = [w for t in read_trajectories(str(sliced_world / "sft")) for w in windows(t, 30)]
    data = _window_dataset(samples, fmt)
    assert data["length"] == [int(fmt.encode([w])["input_ids"].shape[1]) for w in samples]
    assert len(set(data["length"])) > 1
    params = load_params(str(REPO / "params.yaml"))
    model, _ = load_model(str(tiny_model))
    assert trainer_args(params, str(tmp_path), 5, model).train_sampling_strategy == "random"
    trainer = StreamSFTTrainer(model=model, args=trainer_args(params, str(tmp_path), 5, model, by_length=True),
                               train_dataset=data, processing_class=processor, loss_config=sft_loss_config(params, fmt))
    sampler = trainer._get_train_sampler()
    assert isinstance(sampler, LengthGroupedSampler) and sampler.lengths == data["length"]
    # the trainer's loss runs the LM head only at the columns that predict a label, and the causal kernel
    # without the padding mask: the full-logit, masked loss, on a batch with padding
    longest, shortest = max(samples, key=fmt.token_count), min(samples, key=fmt.token_count)
    batch = fmt.encode([longest, shortest])
    assert not bool(batch["attention_mask"].all()) and "attention_mask" not in causal_inputs(batch)
    with torch.no_grad():
        full = stream_loss(model(**{k: v for k, v in batch.items() if k != "labels"}).logits, batch["labels"],
                           sft_loss_config(params, fmt))
        assert trainer.compute_loss(model, dict(batch)).item() == pytest.approx(full.item(), rel=1e-5)


def test_the_padding_mask_is_dropped_only_for_right_padded_rows():
    from streampro.train.sft import causal_inputs

    right = {"input_ids": torch.ones(2, 4), "attention_mask": torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])}
    assert set(causal_inputs(right)) == {"input_ids"} and "attention_mask" in right  # the caller's dict kept
    for kept in ([[0, 0, 1, 1], [1, 1, 1, 1]], [[1, 0, 1, 1], [1, 1, 1, 1]]):  # left padding, a gap
        inputs = {"input_ids": torch.ones(2, 4), "attention_mask": torch.tensor(kept)}
        assert causal_inputs(inputs) is inputs
    unmasked = {"input_ids": torch.ones(1, 3)}
    assert causal_inputs(unmasked) is unmasked
