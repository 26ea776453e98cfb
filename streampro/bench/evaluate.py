"""Benchmark entry points: run a policy over the bench trajectories, score predictions, and do both
for every policy listed in params.yaml."""
from __future__ import annotations

import logging

from streampro import layout, storage
from streampro.bench.baselines import make_policy
from streampro.outputs import step_output
from streampro.bench.harness import run_policy
from streampro.bench.judges import judge_from
from streampro.bench.pages import examples_html, item_views
from streampro.bench.report import write_comparison, write_policy_report
from streampro.bench.scoring import aggregate, read_predictions, response_offsets, score_all
from streampro.config import BenchParams
from streampro.data.parquet import read_trajectories
from streampro.schema import Item

log = logging.getLogger(__name__)


def policy_folder(name: str) -> str:
    """``model:data/models/sft`` → ``model-sft``: one folder per policy under the bench output."""
    if ":" in name:
        kind, path = name.split(":", 1)
        return f"{kind}-{path.rstrip('/').rsplit('/', 1)[-1]}"
    return name


def run(policy_name: str, trajectories: str, items: list[Item], train_items: list[Item], out: str,
        seed: int = 0, model_options: dict | None = None) -> int:
    """Replay the trajectories to a policy and write ``out`` (predictions JSONL)."""
    policy = make_policy(policy_name, items, train_items, seed=seed, model_options=model_options)
    by_id = {i.item_id: i for i in items}
    streams = [t for t in read_trajectories(trajectories) if t.item_id in by_id]
    if not streams:
        raise FileNotFoundError(f"no trajectories of these items under {trajectories}")
    missing = sorted(set(by_id) - {t.item_id for t in streams})
    if missing:
        raise ValueError(f"{len(missing)} of {len(by_id)} items have no trajectory under {trajectories} "
                         f"({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''}): re-run slice on these items")
    for t in streams:  # the items are the ground truth; the trajectories must have been sliced from them
        if t.answers != by_id[t.item_id].answers:
            raise ValueError(f"{trajectories}: trajectory {t.trajectory_id!r} carries other answers than item "
                             f"{t.item_id!r} of the items file: re-run slice on these items")
    predictions = run_policy(policy, streams, total=len(streams))
    return storage.write_records(out, predictions)


def video_durations(items_uri: str) -> dict[str, float]:
    """The videos' durations from the manifest beside the items' world folder, when there is one."""
    manifest = layout.manifest(layout.world_of_items(items_uri))
    if not storage.exists(manifest):
        return {}
    return {v.video_id: v.duration for v in storage.read_manifest(manifest).values() if v.duration}


def score(items: list[Item], predictions_uri: str, out: str, judge, policy: str = "predictions",
          durations: dict[str, float] | None = None, frames: dict[str, dict[float, bytes]] | None = None) -> dict:
    """Score a predictions file (all or nothing) and write the policy's metrics and reports to ``out`` (its
    page shows every item's timeline; with ``frames`` by item and turn start, the frames it responded at)."""
    by_id = {i.item_id: i for i in items}
    predictions = read_predictions(predictions_uri, by_id, durations)
    scores = score_all(items, predictions, judge)
    metrics = aggregate(scores)
    views = item_views(items, predictions, judge, durations)
    write_policy_report(out, policy, metrics, response_offsets(scores, by_id), examples_html(views, frames))
    return metrics


def frames_by_item(trajectories: str) -> dict[str, dict[float, bytes]]:
    """Each bench stream's frames by the start time of their turn (for the pages of the models)."""
    return {t.item_id: {round(turn.start, 3): turn.frame for turn in t.turns} for t in read_trajectories(trajectories)}


def run_policy_file(policy_name: str, trajectories: str, items_uri: str, train_items_uri: str | None, out: str,
                    seed: int = 0, model_options: dict | None = None) -> int:
    """``bench run``: the items and training items from their files, then :func:`run`."""
    train_items = storage.read_items(train_items_uri) if train_items_uri else []
    return run(policy_name, trajectories, storage.read_items(items_uri), train_items, out, seed, model_options)


def score_file(items_uri: str, predictions_uri: str, out: str, judge) -> dict:
    """``bench score``: the items from their file, then :func:`score`."""
    return score(storage.read_items(items_uri), predictions_uri, out, judge, durations=video_durations(items_uri))


def _bench_all(params: BenchParams, trajectories: str, items_uri: str, train_items_uri: str, out: str,
              policies: list[str] | None = None, seed: int = 0, model_options: dict | None = None,
              folders: dict[str, str] | None = None) -> dict[str, dict]:
    """For each policy: run it through the harness, score it; then one comparison table in ``out``."""
    items = storage.read_items(items_uri)
    train_items = storage.read_items(train_items_uri) if train_items_uri else []
    judge = judge_from(params)
    durations = video_durations(items_uri)
    names = list(policies or params.policies)
    named = [(folders or {}).get(n) or policy_folder(n) for n in names]  # each policy's folder under out
    clashes = sorted({f for f in named if named.count(f) > 1})
    if clashes:
        raise ValueError(f"policies {names} share the output folder(s) {clashes}: give each policy its own name")
    results = {}
    frames = frames_by_item(trajectories) if any(":" in n for n in names) else None  # models' pages show them
    for name, folder_name in zip(names, named):
        folder = storage.join(out, folder_name)
        predictions = storage.join(folder, "predictions.jsonl")
        run(name, trajectories, items, train_items, predictions, seed=seed, model_options=model_options)
        results[name] = score(items, predictions, folder, judge, policy=name, durations=durations,
                              frames=frames if ":" in name else None)
        log.info("bench %s: W-Avg %s", name, results[name].get("overall_w_avg"))
    write_comparison(out, results)
    return results


def write_rubrics(params: BenchParams, items_uri: str, out: str, force: bool = False) -> dict:
    """Rubric checkpoints for the items that have none (all with ``force``), written by the judge; the
    others are kept as they are. Writes every item to ``out``."""
    records = storage.read_items(items_uri)
    todo = [i for i in records if force or not i.rubric]
    judge = judge_from(params) if todo else None
    if todo and not hasattr(judge, "write_rubric"):
        raise ValueError(f"{len(todo)} item(s) of {items_uri} have no rubric and the {params.judge!r} judge cannot "
                         "write one: set bench.judge: openai (with bench.judge_url and bench.judge_model)")
    written = {i.item_id: judge.write_rubric(i) for i in todo}
    storage.write_records(out, [i.model_copy(update={"rubric": written[i.item_id]}) if i.item_id in written else i
                           for i in records])
    return {"items": len(records), "rubrics_written": len(written), "kept": len(records) - len(written)}


def bench_all(params: BenchParams, trajectories: str, items_uri: str, train_items_uri: str | None, out: str,
              policies: list[str] | None = None, seed: int = 0, model_options: dict | None = None,
              folders: dict[str, str] | None = None) -> dict[str, dict]:
    """For each policy: run it through the harness, score it; then one comparison table in ``out``
    (written atomically, with a completion marker)."""
    models = [p.split(":", 1)[1] for p in policies or () if ":" in p]
    with step_output(out, "bench", [trajectories, items_uri, train_items_uri, *models]) as output:
        results = _bench_all(params, trajectories, items_uri, train_items_uri, output.path, policies, seed,
                             model_options, folders)
        output.counts = {f"{name}.overall_w_avg": m.get("overall_w_avg") for name, m in results.items()}
    return results
