"""The streaming harness and baselines on the synthetic benchmark, and predictions-file checks."""
import json

import pytest

from streampro import storage, steps
from streampro.bench.evaluate import bench_all, score
from streampro.cli import main
from streampro.bench.rule_judge import RuleJudge
from streampro.config import BenchParams, load_params
from streampro.schema import RecordError
from tests.conftest import REPO


@pytest.fixture
def sliced(sliced_world):
    return sliced_world


@pytest.mark.slow
def test_oracle_scores_100_and_silent_0_through_the_harness(synth_world, sliced, tmp_path):
    results = bench_all(BenchParams(), str(sliced / "bench"), str(synth_world / "items" / "bench.jsonl"),
                        str(synth_world / "items" / "sft.jsonl"), str(tmp_path), ["oracle", "silent", "every-turn"])
    oracle, silent = results["oracle"], results["silent"]
    tasks = ["EU", "OU", "AA", "TP", "TG", "GP", "RF"]
    assert all(oracle[f"{t}_f1"] == 100 for t in tasks) and oracle["overall_w_avg"] == 100
    assert all(silent[f"{t}_f1"] == 0 for t in tasks) and silent["overall_w_avg"] == 0
    assert 0 < results["every-turn"]["overall_w_avg"] < 50
    preds = storage.read_text(str(tmp_path / "oracle" / "predictions.jsonl")).splitlines()
    assert len(preds) == 14
    for name in ("metrics.json", "report.md", "report.html"):
        assert (tmp_path / name).exists() and (tmp_path / "oracle" / name).exists()
    assert "data:image/png;base64," in (tmp_path / "oracle" / "report.html").read_text()
    combined = steps.report(load_params(REPO / "params.yaml"), [str(tmp_path)], str(tmp_path / "report"))
    assert set(combined) == {"oracle", "silent", "every-turn"}
    table = json.loads((tmp_path / "report" / "per_task_f1.json").read_text())
    assert {row["task"] for row in table} == set(tasks) and all(row["oracle"] == 100 for row in table)


ITEM = {"item_id": "a", "video_id": "v", "split": "bench", "task": "OU", "dimension": "PU", "question": "q",
        "query_time": 0, "answers": [{"text": "the square turned red", "time": 5}]}


@pytest.mark.parametrize("bad, line, field", [
    ([{"item_id": "a", "responses": []}, {"item_id": "zzz", "responses": []}], 2, "item_id"),
    ([{"item_id": "a", "responses": [{"time": 4, "text": "x"}, {"time": 2, "text": "y"}]}], 1, "responses.1.time"),
    ([{"item_id": "a", "responses": [{"time": -2, "text": "x"}]}], 1, "responses.0.time"),
    ([{"item_id": "a", "responses": [{"text": "x"}]}], 1, "responses.0.time"),
    ([{"responses": []}], 1, "item_id"),
    ([{"item_id": "a"}, {"item_id": "b", "responses": []}], 1, "responses"),  # missing, not silent
    ([{"item_id": "a", "responses": [{"time": float("inf"), "text": "x"}]}], 1, "responses.0.time"),
    ([{"item_id": "a", "responses": [{"time": float("nan"), "text": "x"}]}], 1, "responses.0.time"),
    ([{"item_id": "a", "responses": [{"time": 1e9, "text": "x"}]}], 1, "responses.0.time"),  # past the video
    ([{"item_id": "a", "responses": []}], None, "item_id"),  # item b has no prediction
    ([], None, "item_id"),  # an empty file
])
def test_bad_predictions_are_rejected_naming_the_line(tmp_path, bad, line, field):
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps(ITEM) + "\n" + json.dumps({**ITEM, "item_id": "b"}) + "\n")
    preds = tmp_path / "pred.jsonl"
    preds.write_text("".join(json.dumps(p) + "\n" for p in bad))
    with pytest.raises(RecordError) as info:
        score(storage.read_items(str(items)), str(preds), str(tmp_path / "out"), RuleJudge(), durations={"v": 30.0})
    assert (info.value.line, info.value.field) == (line, field)
    assert not (tmp_path / "out" / "metrics.json").exists()  # nothing scored from a half-read file


def test_random_policy_repeats_per_seed_and_item():
    from streampro.bench.baselines import RandomPolicy
    from streampro.policy import Stream, TurnInput
    from streampro.schema import Item

    train = [Item(**{**ITEM, "item_id": f"t{k}", "split": "sft", "answers": [{"text": f"answer {k}", "time": 5}]})
             for k in range(5)]

    def play(seed, item_id):
        policy = RandomPolicy(train, p=0.5, seed=seed)
        policy.reset(Stream(item_id, "v", "OU", 1.0, 40))
        return [policy.act(TurnInput(i, i, i + 1, b"", "q" if i == 0 else "")) for i in range(40)]

    first = play(0, "a")
    assert play(0, "a") == first  # the same seed and item: the same stream of outputs
    assert play(1, "a") != first and play(0, "b") != first  # another seed or item: another one
    spoken = [o for o in first if o != "</Silence>"]
    assert 8 < len(spoken) < 32 and {o.removeprefix("</Response> ") for o in spoken} <= {f"answer {k}" for k in range(5)}


def test_two_policies_with_one_output_folder_are_refused(tmp_path):
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps(ITEM) + "\n")
    with pytest.raises(ValueError, match=r"share the output folder\(s\) \['model-sft'\]"):
        bench_all(BenchParams(), str(tmp_path / "none"), str(items), None, str(tmp_path / "out"),
                  ["silent", "model:a/sft", "model:b/sft/"])
    assert not (tmp_path / "out").exists()  # refused before anything ran


def test_bench_refuses_missing_or_partial_trajectories(synth_world, sliced, tmp_path):
    items = str(synth_world / "items" / "bench.jsonl")
    with pytest.raises(FileNotFoundError, match="NO_SUCH_DIR does not exist: run `streampro slice` first"):
        bench_all(BenchParams(), str(tmp_path / "NO_SUCH_DIR"), items, None, str(tmp_path / "a"), ["oracle"])
    extra = tmp_path / "items.jsonl"
    extra.write_text(storage.read_text(items) + json.dumps({**ITEM, "item_id": "not-sliced"}) + "\n")
    with pytest.raises(ValueError, match=r"1 of 15 items have no trajectory under .* \(not-sliced\)"):
        bench_all(BenchParams(), str(sliced / "bench"), str(extra), None, str(tmp_path / "b"), ["oracle"])
    assert main(["bench", "run", "--policy", "oracle", "--trajectories", str(tmp_path / "NO_SUCH_DIR"), "--items",
                 items, "--out", str(tmp_path / "p.jsonl")]) == 2
    assert not (tmp_path / "p.jsonl").exists()


def test_a_response_after_the_video_is_refused_when_the_manifest_is_at_hand(synth_world, tmp_path):
    from streampro.bench.evaluate import score_file

    items = storage.read_items(str(synth_world / "items" / "bench.jsonl"))
    preds = tmp_path / "p.jsonl"
    preds.write_text("".join(json.dumps({"item_id": i.item_id, "responses": [{"time": 1e9, "text": "x"}]}) + "\n"
                             for i in items))
    with pytest.raises(RecordError, match=r"1e\+09s is past the end of video"):
        score_file(str(synth_world / "items" / "bench.jsonl"), str(preds), str(tmp_path / "out"), RuleJudge())


def test_prior_answers_the_tasks_most_frequent_answer_at_its_median_delay():
    from streampro.bench.baselines import PriorPolicy
    from streampro.policy import Stream, TurnInput
    from streampro.schema import Item

    def train(k, text, delay):
        return Item(**{**ITEM, "item_id": f"t{k}", "split": "sft", "query_time": 2,
                       "answers": [{"text": text, "time": 2 + delay}]})

    prior = PriorPolicy([train(0, "it turned red", 4), train(1, "it turned red", 6), train(2, "it turned blue", 9)])
    prior.reset(Stream("b", "v", "OU", 1.0, 20))
    outputs = [prior.act(TurnInput(i, i, i + 1, b"", "q" if i == 3 else "")) for i in range(20)]
    # asked at turn 3; delays 4, 6, 9 -> median 6 -> turn 9; the most frequent answer, once
    assert {i: o for i, o in enumerate(outputs) if o != "</Silence>"} == {9: "</Response> it turned red"}
