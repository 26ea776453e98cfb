"""Readers fail at the door, naming the file, the line and the field."""
import json
from pathlib import Path

import pytest

from streampro import storage
from streampro.schema import Prediction, RecordError

GOOD_ITEM = {
    "item_id": "x-OU", "video_id": "v1", "split": "bench", "task": "OU", "dimension": "PU",
    "question": "Tell me when the square turns red.", "query_time": 1,
    "answers": [{"text": "the square turned red", "time": 8}],
}
VIDEO = {"video_id": "v1", "uri": "videos/v1.mp4", "duration": 20, "fps": 10}


def _write(tmp_path: Path, name: str, records: list) -> str:
    path = tmp_path / name
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return str(path)


def _items_error(tmp_path, bad: dict) -> RecordError:
    manifest = storage.read_manifest(_write(tmp_path, "manifest.jsonl", [VIDEO]))
    path = _write(tmp_path, "items.jsonl", [GOOD_ITEM, {**bad, "item_id": "y-OU"} if bad is not GOOD_ITEM else bad])
    with pytest.raises(RecordError) as info:
        storage.read_items(path, manifest)
    assert info.value.source == path and info.value.line == 2
    return info.value


def test_good_items_read(tmp_path):
    manifest = storage.read_manifest(_write(tmp_path, "manifest.jsonl", [VIDEO]))
    items = storage.read_items(_write(tmp_path, "items.jsonl", [GOOD_ITEM]), manifest)
    assert items[0].answers[0].time == 8
    assert manifest["v1"].uri == str(tmp_path / "videos" / "v1.mp4")  # resolved against the manifest


def test_missing_field(tmp_path):
    bad = {k: v for k, v in GOOD_ITEM.items() if k not in ("question", "item_id")}
    err = _items_error(tmp_path, bad)
    assert err.field == "question" and "items.jsonl:2: field 'question'" in str(err)


def test_wrong_type(tmp_path):
    err = _items_error(tmp_path, {**GOOD_ITEM, "query_time": "soon"})
    assert err.field == "query_time"


def test_time_past_the_videos_end(tmp_path):
    err = _items_error(tmp_path, {**GOOD_ITEM, "answers": [{"text": "t", "time": 25}]})
    assert err.field == "answers.0.time" and "past the video's end" in err.reason


def test_unknown_task(tmp_path):
    err = _items_error(tmp_path, {**GOOD_ITEM, "task": "XX"})
    assert err.field == "task" and "unknown task 'XX'" in err.reason


def test_timing_kind_must_fit_the_task(tmp_path):
    err = _items_error(tmp_path, {**GOOD_ITEM, "task": "EU"})
    assert err.field == "answers.0.interval"


def test_tg_needs_a_span(tmp_path):
    err = _items_error(tmp_path, {**GOOD_ITEM, "task": "TG", "dimension": "TR"})
    assert err.field == "answers.0.span"


def test_unknown_video(tmp_path):
    err = _items_error(tmp_path, {**GOOD_ITEM, "video_id": "v9"})
    assert err.field == "video_id"


def test_bad_json_line(tmp_path):
    path = _write(tmp_path, "items.jsonl", [GOOD_ITEM, "{not json"])
    with pytest.raises(RecordError, match=r"items.jsonl:2: not valid JSON"):
        storage.read_items(path)


def test_unsupported_schema_version(tmp_path):
    err = _items_error(tmp_path, {**GOOD_ITEM, "schema_version": 99})
    assert err.field == "schema_version"


def test_duplicate_ids(tmp_path):
    err = _items_error(tmp_path, GOOD_ITEM)
    assert err.field == "item_id"


def test_manifest_errors(tmp_path):
    path = _write(tmp_path, "manifest.jsonl", [VIDEO, {**VIDEO, "video_id": "v2", "duration": -1}])
    with pytest.raises(RecordError, match=r"manifest.jsonl:2: field 'duration'"):
        storage.read_manifest(path)


def test_predictions_unsorted_and_negative(tmp_path):
    unsorted = {"item_id": "a", "responses": [{"time": 5, "text": "x"}, {"time": 3, "text": "y"}]}
    negative = {"item_id": "a", "responses": [{"time": -1, "text": "x"}]}
    for bad, field in [(unsorted, "responses.1"), (negative, "responses.0.time")]:
        path = _write(tmp_path, "pred.jsonl", [bad])
        with pytest.raises(RecordError) as info:
            storage.read_records(path, Prediction)
        assert info.value.line == 1 and info.value.field.startswith(field)


def test_a_byte_that_is_not_utf8_names_its_file_and_line(tmp_path):
    path = tmp_path / "items.jsonl"
    path.write_bytes(json.dumps(GOOD_ITEM).encode() + b'\n{"question": "caf\xe9"}\n')
    with pytest.raises(RecordError) as info:
        storage.read_items(str(path))
    assert (info.value.source, info.value.line) == (str(path), 2) and "not UTF-8 text (byte 0xe9" in str(info.value)


def test_old_trajectory_shards_are_refused_with_re_run_slice(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from streampro.data.parquet import read_trajectories

    (tmp_path / "sft").mkdir()
    old = pa.table({"schema_version": [1], "trajectory_id": ["t"], "item_id": ["t"], "video_id": ["v"],
                    "split": ["sft"], "task": ["OU"], "fps": [1.0], "turns": [[]], "answers": ["[]"], "rubric": ["[]"]})
    pq.write_table(old, tmp_path / "sft" / "part-00000-of-00001.parquet")
    (tmp_path / "_COMPLETE.json").write_text(json.dumps({"step": "slice", "counts": {}, "fingerprint": "0"}))
    with pytest.raises(RecordError, match="trajectory schema_version 1; this code reads 2\\): re-run slice"):
        list(read_trajectories(str(tmp_path / "sft")))


@pytest.mark.parametrize("time", [float("inf"), float("nan"), -1.0])
def test_a_response_time_must_be_a_finite_second(tmp_path, time):
    path = _write(tmp_path, "p.jsonl", [json.dumps({"item_id": "a", "responses": [{"time": time, "text": "x"}]})])
    with pytest.raises(RecordError) as info:
        storage.read_records(path, Prediction)
    assert (info.value.line, info.value.field) == (1, "responses.0.time")
