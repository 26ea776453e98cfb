"""The synthetic world: real H.264 files whose annotated events are really on screen."""
import json

import av
import decord
import numpy as np
import pytest

from streampro import storage
from streampro.config import SplitSizes, SynthParams
from streampro.synth.scene import BACKGROUND, COLOURS
from streampro.synth.scenarios import GENERATORS
from streampro.synth.world import build_records
from streampro.tasks import SPB_TASKS, get_task
from tests.conftest import TINY_SYNTH


def _load(world):
    manifest = storage.read_manifest(str(world / "manifest.jsonl"))
    items = [i for s in ("sft", "rl", "bench") for i in storage.read_items(str(world / "items" / f"{s}.jsonl"), manifest)]
    return manifest, items


def test_counts_and_every_task_in_bench(synth_world):
    manifest, items = _load(synth_world)
    summary = json.loads((synth_world / "summary.json").read_text())
    assert summary["items"] == {"sft": 7, "rl": 2, "bench": 14}
    assert len(manifest) == len(items) == 23
    assert {i.task for i in items if i.split == "bench"} == set(SPB_TASKS)


def test_videos_decode_with_decord_and_match_the_manifest(synth_world):
    manifest, _ = _load(synth_world)
    for video in manifest.values():
        reader = decord.VideoReader(video.uri)
        assert len(reader) == int(video.duration * video.fps)
        assert reader.get_avg_fps() == pytest.approx(video.fps)
        assert len(reader) / reader.get_avg_fps() == pytest.approx(video.duration)
        assert reader[0].shape == (TINY_SYNTH.size, TINY_SYNTH.size, 3)
        with av.open(video.uri) as container:
            assert container.streams.video[0].codec_context.name == "h264"


def test_timings_inside_the_video_and_windows_disjoint(synth_world):
    manifest, items = _load(synth_world)
    for item in items:
        duration = manifest[item.video_id].duration
        spec = get_task(item.task)
        windows = []
        for answer in item.answers:
            for t in (answer.start, answer.end, *(answer.span or ())):
                assert float(t).is_integer(), f"{item.item_id}: {t} is not a whole second"
                assert item.query_time <= answer.end < duration
            windows.append(spec.window(answer.start, answer.end))
        windows.sort()
        for (a0, a1), (b0, b1) in zip(windows, windows[1:]):
            assert a1 < b0, f"{item.item_id}: windows [{a0},{a1}] and [{b0},{b1}] overlap"
        assert {r.aspect for r in item.rubric} == {"coverage", "coherence", "granularity"}
        assert 6 <= len(item.rubric) <= 10 and len({r.rubric_id for r in item.rubric}) == len(item.rubric)  # the paper's


def _rgb(name: str) -> np.ndarray:
    return np.array(BACKGROUND if name == "background" else COLOURS[name], dtype=float)


def test_annotated_events_are_on_screen(synth_world):
    """At each probe's time the decoded pixel at the event's position has the event's colour."""
    manifest, items = _load(synth_world)
    checked = set()
    for item in items:
        video = manifest[item.video_id]
        reader = decord.VideoReader(video.uri)
        for probe in video.metadata["probes"]:
            frame = reader[int(probe["time"] * video.fps)].asnumpy()
            h, w = frame.shape[:2]
            y, x = min(int(probe["y"] * h), h - 2), min(int(probe["x"] * w), w - 2)
            pixel = frame[y : y + 2, x : x + 2].reshape(-1, 3).mean(axis=0)
            assert np.abs(pixel - _rgb(probe["colour"])).max() < 40, (item.item_id, probe, pixel)
            checked.add(item.task)
    assert checked == set(SPB_TASKS)


def test_state_changes_exactly_on_the_annotated_second(synth_world):
    """OU: the object shows its old colour one second before the transition, the new one at it."""
    manifest, items = _load(synth_world)
    ou = [i for i in items if i.task == "OU"]
    assert ou
    for item in ou:
        before, after = manifest[item.video_id].metadata["probes"]
        assert before["time"] == item.answers[0].time - 1 and after["time"] == item.answers[0].time
        assert before["colour"] != after["colour"]
        assert after["colour"] in item.answers[0].text


def test_same_seed_same_world_and_splits_differ():
    a = build_records(3, "bench", 5, TINY_SYNTH)[1]
    b = build_records(3, "bench", 5, TINY_SYNTH)[1]
    c = build_records(3, "sft", 5, TINY_SYNTH)[1]
    assert a.model_dump(exclude={"split"}) == b.model_dump(exclude={"split"})
    assert a.model_dump(exclude={"item_id", "video_id", "split"}) != c.model_dump(
        exclude={"item_id", "video_id", "split"})


@pytest.mark.parametrize("task", sorted(GENERATORS))
def test_generators_fit_every_duration(task):
    params = SynthParams(videos=SplitSizes(sft=0, rl=0, bench=0))
    for duration in (params.min_duration, 25, 26, params.max_duration):
        for seed in range(20):
            episode = GENERATORS[task](np.random.default_rng(seed), duration)
            assert episode.answers and all(0 <= p.time < duration for p in episode.probes)
