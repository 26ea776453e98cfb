"""A few GRPO steps on the tiny model on CPU, checked from the inside."""
import pytest
import torch
import yaml

from streampro.config import params_from_dict
from streampro.train.grpo import build_trainer
from streampro.train.sft import load_model, train_sft
from tests.conftest import REPO


@pytest.mark.slow
def test_grpo_steps_on_the_tiny_model(tmp_path, sliced_world):
    data = yaml.safe_load((REPO / "params.yaml").read_text())
    data["sft"].update({"batch_size": 2, "learning_rate": 0.003, "save_steps": 1000, "logging_steps": 10})
    data["grpo"].update({"num_generations": 4, "learning_rate": 0.001, "save_steps": 1000})
    data["model"]["max_new_tokens"] = 8
    params = params_from_dict(data)
    sft_dir = tmp_path / "sft"
    train_sft(params, str(sliced_world / "sft"), str(sft_dir), max_steps=20)  # outputs in the stream format
    before = {k: v.clone() for k, v in load_model(str(sft_dir))[0].state_dict().items()}

    trainer = build_trainer(params, str(sft_dir), str(sliced_world / "rl"), str(tmp_path / "grpo"), max_steps=2)
    seen = []

    def capture(module, args, kwargs):
        if module.training and kwargs.get("input_ids") is not None:
            seen.append({"grid": kwargs.get("image_grid_thw"), "ids": kwargs["input_ids"].detach().clone()})

    trainer.model.register_forward_pre_hook(capture, with_kwargs=True)
    advantages, checks = [], []
    original = trainer._generate_and_score_completions

    def spy(inputs):
        output = original(inputs)
        episodes = trainer.last_batch["episodes"]
        advantages.append(output["advantages"])
        checks.append((episodes, output["tool_mask"].cpu(), output["completion_ids"].cpu(), trainer.last_batch["item_ids"]))
        return output

    trainer._generate_and_score_completions = spy
    trainer.train()

    # G rollouts per sample, with non-zero advantages
    for episodes, _, _, item_ids in checks:
        assert len(episodes) == 4 and len(set(item_ids)) == 1
    assert any(bool((a != 0).any()) for a in advantages)
    # every reward component was logged separately
    logged = trainer.state.log_history[0]
    assert {"rewards/fmt/mean", "rewards/turn/mean", "rewards/traj/mean"} <= set(logged)
    # the parameters changed
    after = trainer.model.state_dict()
    assert any(not torch.equal(before[k], after[k].cpu()) for k in before)
    # the pixel values that reached the training forward cover every frame of every episode
    processor = trainer.processing_class
    pad = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    train_forwards = [s for s in seen if s["grid"] is not None]
    assert train_forwards
    frames = sum(len(e.images) for episodes, *_ in checks for e in episodes)
    assert sum(int(s["grid"].shape[0]) for s in train_forwards) == frames
    for s in train_forwards:
        assert int((s["ids"] == pad).sum()) == int(s["grid"].prod(-1).sum()) // 4
    # injected tokens (user turns, frames, headers) carry no loss; the policy's own tokens do
    for episodes, tool_mask, completion_ids, _ in checks:
        for row, episode in enumerate(episodes):
            n = len(episode.completion_ids)
            assert tool_mask[row, :n].tolist() == episode.mask
            injected = [t for t, m in zip(episode.completion_ids, episode.mask) if m == 0]
            assert pad in injected and pad not in [t for t, m in zip(episode.completion_ids, episode.mask) if m == 1]
            assert completion_ids[row, :n].tolist() == episode.completion_ids
