"""The slice step: Beam transforms (TestPipeline + assert_that), labels, and dead letters."""
import json
import shutil

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from streampro import protocol, storage
from streampro.config import SliceParams
from streampro.data.beam_slice import DEAD, ParseRecords, SliceVideos
from streampro.data.parquet import read_trajectories
from streampro.data.slicing import TooManyDeadLetters, read_lines, run_slice
from streampro.data.trajectory import SliceError, turn_targets
from streampro.data.video import decode_jpeg
from streampro.schema import Answer, Item

PARAMS = SliceParams(sample_fps=1.0, frame_size=32, jpeg_quality=85)


def _item(**kw) -> Item:
    base = dict(item_id="i", video_id="v", split="bench", task="EU", dimension="PU", question="q?",
                query_time=1, answers=[{"text": "a", "interval": [2, 4]}, {"text": "b", "interval": [9, 10]}])
    return Item(**{**base, **kw})


def test_targets_follow_the_time_rule():
    targets = turn_targets(_item(), 12, 1.0)
    assert targets[4] == "</Response> a" and targets[10] == "</Response> b"
    assert all(t == protocol.SILENCE for i, t in enumerate(targets) if i not in (4, 10))


def test_answers_due_in_one_turn_are_joined():
    item = _item(task="OU", answers=[{"text": "x", "time": 3}, {"text": "y", "time": 3.5}])
    assert turn_targets(item, 5, 1.0)[3] == "</Response> x; y"


def test_answer_past_the_last_turn_names_the_field():
    with pytest.raises(SliceError, match=r"field 'answers.1'"):
        turn_targets(_item(), 10, 1.0)


def test_parse_records_sends_bad_lines_to_dead_letters():
    good = json.dumps({"video_id": "v", "uri": "v.mp4", "duration": 5})
    lines = [("/m/manifest.jsonl", 1, good), ("/m/manifest.jsonl", 2, "{oops"),
             ("/m/manifest.jsonl", 3, json.dumps({"video_id": "w"}))]
    with TestPipeline() as p:
        out = p | beam.Create(lines) | beam.ParDo(ParseRecords("video")).with_outputs(DEAD, main="records")
        assert_that(out.records | beam.Map(lambda kv: (kv[0], kv[1][2].uri)), equal_to([("v", "/m/v.mp4")]),
                    label="good")
        assert_that(out[DEAD] | beam.Map(lambda d: (d["line"], d["step"], d["reason"].split(":")[-1].strip())),
                    equal_to([(2, "parse_video", "not valid JSON: Expecting property name enclosed in double quotes"
                               .split(":")[-1].strip()), (3, "parse_video", "Field required")]), label="dead")


def _hand_world(tmp_path):
    """An 8-second video (10 fps) and three items whose labels are written out by hand below."""
    import numpy as np

    from streampro.synth.encode import write_mp4

    write_mp4(str(tmp_path / "v.mp4"), (np.full((32, 32, 3), 10 * n % 250, np.uint8) for n in range(80)), 10)
    (tmp_path / "manifest.jsonl").write_text(json.dumps({"video_id": "v", "uri": "v.mp4", "duration": 8}) + "\n")
    items = [
        _item(item_id="eu", query_time=0, answers=[{"text": "it grows", "interval": [1, 2.5]},
                                                   {"text": "it shrinks", "interval": [5, 6]}]),
        _item(item_id="ou", task="OU", question="what now?", query_time=2.5,
              answers=[{"text": "x", "time": 3}, {"text": "y", "time": 3.7}]),
        _item(item_id="aa", task="AA", question="alert me", query_time=6.2, answers=[{"text": "fire", "time": 7}]),
    ]
    (tmp_path / "items.jsonl").write_text("".join(i.model_dump_json(exclude_none=True) + "\n" for i in items))
    return str(tmp_path / "manifest.jsonl"), str(tmp_path / "items.jsonl")


def test_slice_videos_transform_labels_each_turn(tmp_path):
    manifest, items_file = _hand_world(tmp_path)
    expected = [  # (item, turns, {turn: target} of the turns that respond, turn of the question) — by hand
        ("eu", 8, {2: "</Response> it grows", 6: "</Response> it shrinks"}, 0),
        ("ou", 8, {3: "</Response> x; y"}, 2),
        ("aa", 8, {7: "</Response> fire"}, 6),
    ]

    def labels(row):
        asked = [t["index"] for t in row["turns"] if t["user_text"]]
        return (row["item_id"], len(row["turns"]),
                {t["index"]: t["target"] for t in row["turns"] if t["target"] != "</Silence>"}, *asked)

    with TestPipeline() as p:
        result = {"manifest": p | "m" >> beam.Create(read_lines(manifest)),
                  "items": p | "i" >> beam.Create(read_lines(items_file))} | SliceVideos(1.0, 32, 85)
        assert_that(result["trajectories"] | beam.Map(labels), equal_to(expected), label="labels")
        assert_that(result["dead_letters"], equal_to([]), label="no_dead")


@pytest.mark.slow
def test_whole_job_on_the_synthetic_world(synth_world, tmp_path):
    out = tmp_path / "sliced"
    summary = run_slice(str(synth_world / "manifest.jsonl"), str(out), PARAMS)
    manifest = storage.read_manifest(str(synth_world / "manifest.jsonl"))
    items = {i.item_id: i for s in ("sft", "rl", "bench") for i in storage.read_items(str(synth_world / "items" / f"{s}.jsonl"))}
    assert summary["trajectories_written"] == len(items) and summary["dead_letters"] == 0
    assert summary["silence_per_response"] > 5
    seen = set()
    for split in ("sft", "rl", "bench"):
        for traj in read_trajectories(str(out / split)):
            item = items[traj.item_id]
            assert traj.split == split == item.split
            assert len(traj.turns) == int(manifest[item.video_id].duration)
            # the synthetic world times everything on whole seconds: at 1 fps an answer at (or an interval
            # ending at) second s is due in turn s, the question is asked in turn int(query_time)
            due = {int(a.end): a.text for a in item.answers}
            for turn in traj.turns:
                assert turn.target == (f"</Response> {due[turn.index]}" if turn.index in due else "</Silence>")
                assert turn.user_text == (item.question if turn.index == int(item.query_time) else "")
            assert decode_jpeg(traj.turns[0].frame).shape == (32, 32, 3)
            seen.add(traj.item_id)
    assert seen == set(items)


@pytest.mark.slow
def test_bad_inputs_land_in_dead_letters_and_counts_add_up(synth_world, tmp_path):
    world = tmp_path / "world"
    (world / "videos").mkdir(parents=True)
    manifest = storage.read_manifest(str(synth_world / "manifest.jsonl"))
    good = storage.read_items(str(synth_world / "items" / "bench.jsonl"))[:3]
    videos = []
    for item in good:
        shutil.copy(manifest[item.video_id].uri, world / "videos" / f"{item.video_id}.mp4")
        videos.append({"video_id": item.video_id, "uri": f"videos/{item.video_id}.mp4"})
    src = manifest[good[0].video_id].uri
    (world / "videos" / "corrupt.mp4").write_bytes(open(src, "rb").read()[:1500])
    (world / "videos" / "empty.mp4").write_bytes(b"")
    videos += [{"video_id": "corrupt", "uri": "videos/corrupt.mp4"}, {"video_id": "empty", "uri": "videos/empty.mp4"},
               {"video_id": "missing", "uri": "videos/missing.mp4"}]
    (world / "manifest.jsonl").write_text("".join(json.dumps(v) + "\n" for v in videos))
    bad = [good[0].model_copy(update={"item_id": f"bad-{vid}", "video_id": vid}) for vid in ("corrupt", "empty", "missing")]
    late = good[1].model_copy(update={"item_id": "late", "answers": [Answer(text="x", interval=(40, 41))]
                                      if good[1].answers[0].interval else [Answer(text="x", time=40, span=(1, 40))]})
    lines = [i.model_dump_json(exclude_none=True) for i in good + bad + [late]] + ['{"item_id": broken']
    (world / "items.jsonl").write_text("\n".join(lines) + "\n")

    with pytest.raises(TooManyDeadLetters, match=r"slice: 5 of 8 inputs ended as dead letters \(share 0.62 > "
                       r"max_dead_letter_share 0.5\)"):
        run_slice(str(world / "manifest.jsonl"), str(tmp_path / "out"), PARAMS, item_files=[str(world / "items.jsonl")])
    summary = run_slice(str(world / "manifest.jsonl"), str(tmp_path / "out"), PARAMS,
                        item_files=[str(world / "items.jsonl")], max_dead_letter_share=0.7)
    dead = [json.loads(line) for f in sorted((tmp_path / "out" / "dead_letters").glob("*.jsonl"))
            for line in f.read_text().splitlines()]
    by_input = {}
    for d in dead:
        key = d["input"].get("item_id") or d["input"].get("video_id") if isinstance(d["input"], dict) else f"line{d['line']}"
        by_input.setdefault(key, []).append(d)
    assert "cannot decode" in by_input["corrupt"][0]["reason"]
    assert "empty (0 bytes)" in by_input["empty"][0]["reason"]
    assert "cannot open" in by_input["missing"][0]["reason"]
    for vid in ("corrupt", "empty", "missing"):
        assert "could not be decoded" in by_input[f"bad-{vid}"][0]["reason"]
    assert "past the video's end" in by_input["late"][0]["reason"] and "answers.0" in by_input["late"][0]["reason"]
    assert by_input["line8"][0]["step"] == "parse_item" and by_input["line8"][0]["source"].endswith("items.jsonl")
    assert all(d["step"] and d["reason"] for d in dead)
    assert summary["trajectories_written"] == 3
    assert summary["items_read"] == 8 and summary["items_dead"] == 5
    assert summary["videos_read"] == 6 and summary["videos_decoded"] == 3 and summary["videos_dead"] == 3
    assert summary["dead_letters"] == len(dead) == 8
    assert summary["items_accounted"] and summary["videos_accounted"]
    assert len(list(read_trajectories(str(tmp_path / "out" / "bench")))) == 3


def _dead_letters(out):
    return [json.loads(line) for f in sorted((out / "dead_letters").glob("*.jsonl")) for line in f.read_text().splitlines()]


def test_unreadable_uris_bytes_duplicates_and_leaks_are_dead_letters(tmp_path, caplog):
    import logging

    manifest, items_file = _hand_world(tmp_path)
    with open(manifest, "a") as f:
        f.write(json.dumps({"video_id": "w", "uri": "foo://bucket/w.mp4"}) + "\n")
        f.write(json.dumps({"video_id": "x", "uri": "https://example.com/x.mp4"}) + "\n")
    items = tmp_path / "items"
    items.mkdir()
    eu = _item(item_id="eu", query_time=0, answers=[{"text": "a", "interval": [1, 2]}])
    (items / "bench.jsonl").write_bytes(b"".join([
        eu.model_dump_json().encode() + b"\n",  # the same id as in items.jsonl: the first by file path and line wins
        _item(item_id="leak", split="sft").model_dump_json().encode() + b"\n",  # a training item in the bench file
        b'{"item_id": "caf\xe9"}\n',  # Latin-1, not UTF-8
    ]))
    (items / "sft.jsonl").write_text(_item(item_id="train-on-v", split="sft").model_dump_json() + "\n")  # v is bench
    caplog.set_level(logging.INFO)
    out = tmp_path / "out"
    summary = run_slice(manifest, str(out), PARAMS, item_files=[str(items / "bench.jsonl"), str(items / "sft.jsonl"),
                                                                 items_file], max_dead_letter_share=0.9)
    reasons = sorted((str(d["input"]["item_id"] if isinstance(d["input"], dict) and "item_id" in d["input"]
                          else d["input"].get("video_id") if isinstance(d["input"], dict) else d["line"]), d["reason"])
                     for d in _dead_letters(out))
    bench_file, items_path = str(items / "bench.jsonl"), items_file
    assert reasons == sorted([
        ("eu", f"field 'item_id': duplicate item_id 'eu' (first at {items_path}:1)"),
        ("leak", f"{bench_file}:2: field 'split': 'sft' in the bench item file (a bench video would leak into training)"),
        ("3", f"{bench_file}:3: not UTF-8 text (byte 0xe9 at column 17)"),
        ("train-on-v", "field 'split': its video 'v' is a bench video (training on it would leak the bench)"),
        ("w", f"{manifest}:2: field 'uri': no filesystem serves foo:// uris (local paths, gs:// and Beam's other "
              "filesystems do)"),
        ("x", f"{manifest}:3: field 'uri': no filesystem serves https:// uris (local paths, gs:// and Beam's other "
              "filesystems do)"),
    ])
    assert summary["items_read"] == 7 and summary["items_dead"] == 4 and summary["trajectories_written"] == 3
    assert summary["videos_read"] == 3 and summary["videos_dead"] == 2 and summary["items_accounted"]
    assert not any("prism" in r.getMessage().lower() for r in caplog.records)  # nothing downloaded at run time


def test_a_slice_where_every_item_died_fails_with_the_counts(tmp_path):
    manifest, _ = _hand_world(tmp_path)
    (tmp_path / "bad.jsonl").write_text(_item(item_id="late", answers=[{"text": "a", "interval": [30, 40]}])
                                        .model_dump_json() + "\n")
    with pytest.raises(TooManyDeadLetters, match=r"1 of 1 inputs ended as dead letters .* 'items_dead': 1"):
        run_slice(manifest, str(tmp_path / "out"), PARAMS, item_files=[str(tmp_path / "bad.jsonl")],
                  max_dead_letter_share=1.0)
