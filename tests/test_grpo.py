"""A few GRPO steps on the tiny model on CPU, checked from the inside."""
import json

import pytest
import torch
import yaml

from streampro.config import params_from_dict
from streampro.train.grpo import build_trainer
from streampro.train.sft import load_model, train_sft
from tests.conftest import NO_CURRICULUM, REPO


@pytest.fixture(scope="module")
def sft_model(tmp_path_factory, sliced_world):
    data = yaml.safe_load((REPO / "params.yaml").read_text())
    data["sft"].update({"batch_size": 2, "learning_rate": 0.003, "save_steps": 1000, "logging_steps": 10,
                        **NO_CURRICULUM})
    data["grpo"].update({"num_generations": 4, "learning_rate": 0.001, "save_steps": 1000,
                         "reward_weights": {"fmt": 0.2, "turn": 0.5, "traj": 0.3}})  # distinct: a swap shows
    data["model"]["max_new_tokens"] = 8
    params = params_from_dict(data)
    sft_dir = tmp_path_factory.mktemp("grpo") / "sft"
    train_sft(params, str(sliced_world / "sft"), str(sft_dir), max_steps=20)  # outputs in the stream format
    return params, sft_dir


@pytest.mark.slow
def test_grpo_steps_on_the_tiny_model(tmp_path, synth_world, sliced_world, sft_model):
    params, sft_dir = sft_model
    before = dict(load_model(str(sft_dir))[0].named_parameters())

    trainer = build_trainer(params, str(sft_dir), str(sliced_world / "rl"), str(synth_world / "items" / "rl.jsonl"), str(tmp_path / "grpo"),
                            max_steps=2)
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

    # G rollouts of each of grpo.streams_per_step streams per step, with non-zero advantages
    per_step = params.grpo.streams_per_step
    assert per_step == 2
    for episodes, _, _, item_ids in checks:
        assert len(episodes) == 4 * per_step and len(set(item_ids)) == per_step
        assert all(item_ids.count(i) == 4 for i in item_ids)
    assert any(bool((a != 0).any()) for a in advantages)
    # the rewards TRL logged per step are those of the episodes played, weighted as params.yaml says
    weights = params.grpo.reward_weights
    for step, (episodes, _, _, item_ids) in enumerate(checks):
        logged = [e for e in trainer.state.log_history if "reward" in e][step]
        outputs = [e.turn_outputs for e in episodes]
        total = 0.0
        for reward in trainer.reward_funcs:
            mean = sum(reward(None, None, turn_outputs=outputs, item_id=item_ids)) / len(episodes)
            assert logged[f"rewards/{reward.__name__}/mean"] == pytest.approx(mean, abs=1e-5)
            total += getattr(weights, reward.__name__) * mean
        assert logged["reward"] == pytest.approx(total, abs=1e-5)
    # the greedy policy's reward on the fixed probe set: before training and at the last step
    probes = [e for e in trainer.state.log_history if "probe_reward" in e]
    assert [e["step"] for e in probes] == [0, 2] and all(0 <= e["probe_reward"] <= 2 for e in probes)
    # every parameter of the policy moved (two steps at lr 1e-3 with non-zero advantages)
    after = dict(trainer.model.named_parameters())
    assert set(after) == set(before)
    unchanged = [k for k in before if torch.equal(before[k].detach(), after[k].detach().cpu())]
    assert unchanged == []
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


def test_the_training_forward_reproduces_every_token_the_policy_played(tmp_path, synth_world, sliced_world, sft_model,
                                                                      monkeypatch):
    """GRPO's gradient comes from one forward over each whole episode (prompt, every frame, the policy's turns),
    while the policy played it turn by turn with its KV cache. Played greedily, that forward's argmax must be
    every token the policy chose: same 3D mRoPE positions, same frames in the same places, whatever order
    TRL batches the rows in. (A mismatch trains a policy other than the one that earned the rewards.)"""
    import streampro.train.grpo as grpo

    played, policies = grpo.StreamingModel, []

    def greedy(*args, **kwargs):
        policies.append(played(*args, **{**kwargs, "do_sample": False}))
        return policies[-1]

    monkeypatch.setattr(grpo, "StreamingModel", greedy)
    params, sft_dir = sft_model
    params = params.model_copy(update={"grpo": params.grpo.model_copy(update={"probe_streams": 0})})  # rollouts only
    trainer = build_trainer(params, str(sft_dir), str(sliced_world / "rl"), str(synth_world / "items" / "rl.jsonl"),
                            str(tmp_path / "grpo"), max_steps=1)
    forwards, rollouts = [], {}

    def capture(module, args, kwargs):
        if module.training and kwargs.get("pixel_values") is not None:
            forwards.append({k: kwargs[k].detach().clone() for k in
                             ("input_ids", "attention_mask", "mm_token_type_ids", "pixel_values", "image_grid_thw")})

    trainer.model.register_forward_pre_hook(capture, with_kwargs=True)
    generate = trainer._generate_and_score_completions
    trainer._generate_and_score_completions = lambda inputs: rollouts.update(generate(inputs)) or rollouts
    trainer.train()

    completions = rollouts["completion_ids"].cpu()
    policy_tokens = (rollouts["tool_mask"] * rollouts["completion_mask"]).cpu().bool()
    assert forwards and int(policy_tokens.sum()) > 0
    # each turn's first output: where a run of the policy's tokens starts; its logits, as the policy saw them
    starts = [[j for j in range(len(m)) if m[j] and (j == 0 or not m[j - 1])] for m in policy_tokens.tolist()]
    decision_logits = iter([logits for policy in policies for logits in policy.decision_logits])
    seen_by_policy = [[next(decision_logits) for _ in row] for row in starts]
    model = trainer.model.eval()
    checked = 0
    for inputs in forwards:
        with torch.no_grad():
            logits = model(**inputs).logits
        width = completions.shape[1]
        for row in range(inputs["input_ids"].shape[0]):
            played_as = [q for q in range(len(completions)) if torch.equal(inputs["input_ids"][row, -width:], completions[q])]
            assert played_as, "a training row is none of the episodes played"
            q = played_as[0]
            mask = policy_tokens[q]
            predicted = logits[row, -width - 1:-1]
            assert predicted.argmax(-1)[mask].tolist() == completions[q][mask].tolist()
            for start, expected in zip(starts[q], seen_by_policy[q]):
                torch.testing.assert_close(predicted[start].float(), expected, atol=1e-4, rtol=1e-4)
            checked += len(starts[q])
    assert checked >= sum(len(row) for row in starts) > 0


@pytest.mark.slow
def test_grpo_resumes_from_its_checkpoint(tmp_path, synth_world, sliced_world, sft_model):
    from streampro.train.grpo import train_grpo

    params, sft_dir = sft_model
    params = params.model_copy(update={"grpo": params.grpo.model_copy(update={"save_steps": 1, "num_generations": 2})})
    out = tmp_path / "grpo"
    first = train_grpo(params, str(sft_dir), str(sliced_world / "rl"), str(synth_world / "items" / "rl.jsonl"), str(out), max_steps=1)
    assert first["global_step"] == 1 and first["resumed_from"] is None
    after_one = dict(load_model(str(out))[0].named_parameters())
    second = train_grpo(params, str(sft_dir), str(sliced_world / "rl"), str(synth_world / "items" / "rl.jsonl"), str(out), max_steps=3)
    assert second["global_step"] == 3 and second["resumed_from"].endswith("checkpoint-1")
    state = json.loads((out / "checkpoints" / "checkpoint-3" / "trainer_state.json").read_text())
    assert [e["step"] for e in state["log_history"] if "reward" in e] == [1, 2, 3]  # step 1's log carried over
    after_three = dict(load_model(str(out))[0].named_parameters())  # (the linear schedule's last step has lr 0)
    assert any(not torch.equal(after_one[k], after_three[k]) for k in after_one)


def test_grpo_takes_its_ground_truth_from_the_items(synth_world, sliced_world, tmp_path):
    """Rewards read the rl items (exact query time, options, source); trajectories from other items are refused."""
    from streampro import storage
    from streampro.data.parquet import read_trajectories
    from streampro.train.grpo import items_of_streams

    streams = {t.item_id: t for t in read_trajectories(str(sliced_world / "rl"))}
    items_file = str(synth_world / "items" / "rl.jsonl")
    truth = items_of_streams(streams, items_file, "rl")
    assert truth == {i.item_id: i for i in storage.read_items(items_file)}
    changed = [i.model_copy(update={"answers": [a.model_copy(update={"text": "else"}) for a in i.answers]})
               for i in storage.read_items(items_file)]
    other = tmp_path / "rl.jsonl"
    storage.write_records(str(other), changed)
    with pytest.raises(ValueError, match="was not sliced from the items of .* \\(other answers\\): re-run slice"):
        items_of_streams(streams, str(other), "rl")


def test_grpo_without_an_sft_model_fails_at_once(synth_world, sliced_world, tmp_path, capsys):
    from streampro.cli import main

    assert main(["grpo", "--model", str(tmp_path / "no-sft"), "--trajectories", str(sliced_world / "rl"),
                 "--items", str(synth_world / "items" / "rl.jsonl"), "--out", str(tmp_path / "grpo")]) == 2
    assert "holds no model (no config.json): run `streampro sft` first" in capsys.readouterr().err


@pytest.mark.slow
def test_a_finished_run_is_not_reused_when_its_items_change(tmp_path, synth_world, sliced_world, sft_model):
    from streampro import storage
    from streampro.train.grpo import train_grpo

    params, sft_dir = sft_model
    params = params.model_copy(update={"grpo": params.grpo.model_copy(update={"save_steps": 1, "num_generations": 2})})
    items = str(synth_world / "items" / "rl.jsonl")
    out = str(tmp_path / "grpo")
    assert train_grpo(params, str(sft_dir), str(sliced_world / "rl"), items, out, max_steps=1)["resumed_from"] is None
    again = train_grpo(params, str(sft_dir), str(sliced_world / "rl"), items, out, max_steps=1)
    assert again["resumed_from"].endswith("checkpoint-1")  # the same run: its result is reused
    other = tmp_path / "rl.jsonl"  # the same answers, other rubrics: other rewards
    storage.write_records(str(other), [i.model_copy(update={"rubric": i.rubric[:1]}) for i in storage.read_items(items)])
    assert train_grpo(params, str(sft_dir), str(sliced_world / "rl"), str(other), out, max_steps=1)["resumed_from"] is None


def test_fewer_rl_streams_than_a_step_takes_is_an_error_not_a_run_of_no_steps(tmp_path, synth_world, sliced_world,
                                                                             tiny_model):
    params = params_from_dict(yaml.safe_load((REPO / "params.yaml").read_text()))
    params = params.model_copy(update={"grpo": params.grpo.model_copy(update={"streams_per_step": 3})})
    with pytest.raises(ValueError, match=r"2 rl stream\(s\), fewer than one step takes \(grpo.streams_per_step 3"):
        build_trainer(params, str(tiny_model), str(sliced_world / "rl"), str(synth_world / "items" / "rl.jsonl"),
                      str(tmp_path / "grpo"))


def test_the_probe_set_is_fixed_and_takes_one_stream_per_task_first():
    from types import SimpleNamespace

    from streampro.train.grpo import probe_set

    streams = {f"rl-{i:04d}-{t}": SimpleNamespace(task=t) for i, t in enumerate(["EU", "OU", "EU", "AA", "OU", "EU"])}
    assert probe_set(streams, 3) == ["rl-0000-EU", "rl-0001-OU", "rl-0003-AA"]
    assert probe_set(streams, 5) == ["rl-0000-EU", "rl-0001-OU", "rl-0003-AA", "rl-0002-EU", "rl-0004-OU"]
    assert probe_set(streams, 10) == probe_set(dict(reversed(streams.items())), 10) and len(probe_set(streams, 10)) == 6
    assert probe_set(streams, 0) == []


def test_answer_token_losses_lists_each_task_with_its_decision_and_answer_tokens(sft_model, sliced_world, monkeypatch):
    """scripts/answer_token_losses.py: per task and target token, the mean held-out loss and its count."""
    import math

    from streampro.data.parquet import read_trajectories
    from tests.conftest import REPO

    monkeypatch.syspath_prepend(str(REPO / "scripts"))
    from answer_token_losses import token_losses

    params, sft_dir = sft_model
    streams = list(read_trajectories(str(sliced_world / "sft")))
    table = token_losses(str(sft_dir), str(sliced_world / "sft"), streams=len(streams))
    assert set(table) == {t.task for t in streams}
    for task, by_token in table.items():
        assert by_token["</Silence>"][1] > 0 and all(loss >= 0 and math.isfinite(loss) for loss, _ in by_token.values())
    # every supervised token of every stream is counted once
    decisions = sum(len(t.turns) for t in streams)  # one decision token per turn (each stream fits its window)
    assert sum(n for by_token in table.values() for tok, (_, n) in by_token.items()
               if tok in ("</Silence>", "</Response>")) == decisions


def test_rl_streams_are_dealt_one_task_at_a_time_in_a_seeded_order():
    from types import SimpleNamespace

    from streampro.train.grpo import task_interleaved

    streams = {f"rl-{k:04d}-{t}": SimpleNamespace(task=t) for k, t in enumerate("AB" * 3 + "C")}
    order = task_interleaved(streams, seed=0)
    assert sorted(order) == sorted(streams)  # every stream once
    assert [streams[i].task for i in order] == list("ABCABAB")  # rounds of one per task, tasks in turn
    assert task_interleaved(streams, seed=0) == order
    assert any(task_interleaved(streams, seed=s) != order for s in range(1, 5))  # the seed orders each task's streams


def test_copy_attention_reports_per_layer_where_a_copied_answer_word_looks(sft_model, sliced_world, monkeypatch):
    """scripts/copy_attention.py: per decoder layer, attention shares in [0, 1] and the word's probability."""
    from tests.conftest import REPO

    monkeypatch.syspath_prepend(str(REPO / "scripts"))
    from copy_attention import copy_attention

    params, sft_dir = sft_model
    result = copy_attention(str(sft_dir), str(sliced_world / "sft"), answers=5, tasks=("EU", "OU", "TP", "RF", "GP"))
    assert 1 <= result["answers"] <= 5 and 0 < result["p_word"] < 1
    from transformers import AutoConfig

    layers = AutoConfig.from_pretrained(sft_dir).text_config.num_hidden_layers
    assert len(result["layers"]) == layers
    for layer in result["layers"]:
        assert 0 <= layer["question_mean_head"] <= layer["question_best_head"] <= 1
        assert layer["question_mean_head"] + layer["image_mean_head"] <= 1.001  # shares of one softmax row


def test_copy_probe_cuts_windows_and_trains_a_fresh_model_of_the_given_init(sliced_world, monkeypatch, tmp_path):
    """scripts/copy_probe.py: a 2-step run measured by copy_attention (its cuts: test_sft's curriculum test)."""
    from tests.conftest import REPO

    monkeypatch.syspath_prepend(str(REPO / "scripts"))
    from copy_probe import copy_probe

    result = copy_probe(str(sliced_world / "sft"), str(sliced_world / "sft"), ("EU", "OU", "TP", "RF", "GP"),
                        "thinned", steps=2, init_std=0.06, save=str(tmp_path / "probe"))
    assert result["train_loss"] > 0 and 1 <= result["answers"] and 0 < result["p_word"] < 1 and 0 < result["p_word_same_cut"] < 1
    then = copy_probe(str(sliced_world / "sft"), str(sliced_world / "sft"), ("EU", "OU"), "short", steps=1,
                      start=str(tmp_path / "probe"))  # a curriculum: on from the saved model
    assert then["p_word"] != result["p_word"] and 0 < then["p_word_same_cut"] < 1

    from safetensors.torch import load_file
    from streampro.model.tiny import build_tiny_model

    weights = load_file(f"{build_tiny_model(str(tmp_path / 'm'), init_std=0.06, prepared=False)}/model.safetensors")
    embedding = next(v for k, v in weights.items() if k.endswith("embed_tokens.weight"))
    assert abs(float(embedding.std()) - 0.06) < 0.003  # the text weights start at the given std (Qwen's 0.02 by default)
