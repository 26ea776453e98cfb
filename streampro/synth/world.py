"""``streampro synth``: render the synthetic video world and write its manifest and items.

Output layout under ``out``::

    videos/{video_id}.mp4     H.264, ``fps`` frames per second, ``size`` x ``size``
    manifest.jsonl            one VideoRecord per video (uri relative to this folder)
    items/{split}.jsonl       one Item per video, split in sft / rl / bench
    summary.json              counts per split and task

Each video's random stream comes from ``SeedSequence([seed, split code, index])``, so the three
splits are drawn from disjoint seeds derived from ``seed`` and any one video can be re-made alone.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from tqdm import tqdm

from streampro import layout, storage
from streampro.config import SynthParams
from streampro.schema import SPLITS, Answer, Item, Rubric, RubricCheck, VideoRecord
from streampro.outputs import step_output
from streampro.synth.encode import write_mp4
from streampro.synth.scenarios import GENERATORS, Scenario
from streampro.tasks import get_task

log = logging.getLogger(__name__)
SPLIT_CODES = {"sft": 1, "rl": 2, "bench": 3}


def scenario_for(seed: int, split: str, index: int, params: SynthParams) -> tuple[str, Scenario]:
    """The scenario of video ``index`` of ``split``: tasks in rotation, the rest drawn at random."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, SPLIT_CODES[split], index]))
    task = params.tasks[index % len(params.tasks)]
    duration = int(rng.integers(params.min_duration, params.max_duration + 1))
    return task, GENERATORS[task](rng, duration)


def rubric_for(scenario: Scenario) -> list[Rubric]:
    """6–10 binary checkpoints (coverage, coherence, granularity) that the deterministic judge can grade
    from the answers' key terms: the paper's rubric, in machine-checkable form."""
    n, terms = len(scenario.answers), scenario.terms
    distinct = list(dict.fromkeys(terms))

    def rubric(rubric_id, aspect, text, **check):
        return Rubric(rubric_id=rubric_id, aspect=aspect, rubric=text, check=RubricCheck(**check))

    points = [rubric("coverage", "coverage", f"Mentions every expected point: {', '.join(terms)}.",
                     type="mentions_all", terms=terms)]
    if len(distinct) > 1:
        points += [rubric(f"coverage-{k}", "coverage", f"Mentions {term}.", type="mentions_all", terms=[term])
                   for k, term in enumerate(distinct[:3])]
    points += [
        rubric("coherence", "coherence", f"Reports the points in the order they happen: {' then '.join(terms)}.",
               type="in_order", terms=terms),
        rubric("coherence-first", "coherence", f"Its first response is about the first point ({terms[0]}).",
               type="first_mentions", terms=[terms[0]]),
        rubric("granularity", "granularity", "Responds at least once.", type="response_count", min=1),
        rubric("granularity-chatter", "granularity", f"Gives between 1 and {n + 1} responses: no chatter.",
               type="response_count", min=1, max=n + 1),
        rubric("granularity-repeat", "granularity", "Responds, and never repeats an answer it already gave.",
               type="distinct"),
    ]
    if n > 1:
        points.append(rubric("granularity-each", "granularity", f"Gives at least {n} responses: one per point.",
                             type="response_count", min=n))
    return points


def build_records(seed: int, split: str, index: int, params: SynthParams) -> tuple[VideoRecord, Item, Scenario]:
    task, scenario = scenario_for(seed, split, index, params)
    video_id = f"{split}-{index:04d}"
    spec = get_task(task)
    video = VideoRecord(
        video_id=video_id, uri=layout.video_file(video_id), duration=float(scenario.scene.duration),
        fps=float(params.fps),
        metadata={"task": task, "size": params.size, "probes": [vars(p) for p in scenario.probes]},
    )
    item = Item(
        item_id=f"{video_id}-{task}", video_id=video_id, split=split, source="synthetic", task=task,
        dimension=spec.dimension, question=scenario.question, query_time=float(scenario.query_time),
        answers=[Answer(**a) for a in scenario.answers], rubric=rubric_for(scenario),
    )
    return video, item, scenario


def render_video(scenario: Scenario, uri: str, params: SynthParams) -> int:
    """Render the scenario's scene to an MP4 at ``uri`` (local or gs://); returns frames written."""
    scene = scenario.scene
    n_frames = scene.duration * params.fps
    frames = (scene.render(n / params.fps, params.size) for n in range(n_frames))
    if not storage.is_remote(uri):
        os.makedirs(os.path.dirname(uri), exist_ok=True)
        return write_mp4(uri, frames, params.fps)
    with tempfile.TemporaryDirectory() as tmp:
        local = os.path.join(tmp, "video.mp4")
        count = write_mp4(local, frames, params.fps)
        storage.copy_file(local, uri)
    return count


def _make_one(args: tuple[int, str, int, SynthParams, str]) -> tuple[VideoRecord, Item]:
    seed, split, index, params, out = args
    video, item, scenario = build_records(seed, split, index, params)
    frames = render_video(scenario, storage.join(out, video.uri), params)
    if frames != scenario.scene.duration * params.fps:
        raise RuntimeError(f"{video.uri}: wrote {frames} frames, expected {scenario.scene.duration * params.fps}")
    return video, item


def _synthesize(out: str, params: SynthParams, seed: int, workers: int | None = None) -> dict:
    """Render every split's videos and write the manifest, items and a summary; returns the summary."""
    jobs = [(seed, split, i, params, out) for split in SPLITS for i in range(params.videos.as_dict()[split])]
    workers = workers or min(len(jobs), os.cpu_count() or 1) or 1
    log.info("rendering %d videos with %d worker(s) into %s", len(jobs), workers, out)
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            results = list(tqdm(pool.map(_make_one, jobs, chunksize=2), total=len(jobs), desc="synth", unit="video"))
    else:
        results = [_make_one(job) for job in tqdm(jobs, desc="synth", unit="video")]
    storage.write_records(layout.manifest(out), [video for video, _ in results])
    summary: dict = {"seed": seed, "videos": len(results), "items": {}, "tasks": {}}
    for split in SPLITS:
        items = [item for _, item in results if item.split == split]
        storage.write_records(layout.items(out, split), items)
        summary["items"][split] = len(items)
        summary["tasks"][split] = dict(sorted(Counter(item.task for item in items).items()))
    storage.write_text(layout.summary(out), json.dumps(summary, indent=2) + "\n")
    return summary


def synthesize(out: str, params: SynthParams, seed: int, workers: int | None = None) -> dict:
    """Render every split's videos and write the manifest, items and a summary (atomically); returns the summary."""
    with step_output(out, "synth", []) as output:
        summary = _synthesize(output.path, params, seed, workers)
        output.counts = {"videos": summary["videos"], **{f"items_{k}": v for k, v in summary["items"].items()}}
    return summary
