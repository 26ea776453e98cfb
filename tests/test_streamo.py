"""Streamo raw annotations in, ms-swift stream records out: each response lands at its turn."""
import json

import numpy as np
import pytest

from streampro import steps
from streampro.config import IngestParams, load_params
from streampro.data.slicing import run_slice
from streampro.data.streamo import export_stream, ingest_streamo, seconds
from streampro.synth.encode import write_mp4
from tests.conftest import REPO

RAW = [{
    "video_name": "clip", "video_path": "videos/clip.mp4", "task_type": "event_caption", "source": "unit",
    "question": [{"content": "What happens?", "time": 1.5}, {"content": "And then?", "time": 9}],
    "response": [
        {"content": "a man opens the door", "st_time": 3, "end_time": 5.5, "time": 5.5},
        {"content": "he sits down", "st_time": 10, "end_time": 12, "time": 12},
    ],
}, {
    "video_name": "clip", "video_path": "videos/clip.mp4", "task_type": "time_sensitive_qa", "source": "unit",
    "question": [{"content": "When does the light go on?", "time": "00:00:02"}],
    "response": [{"content": "now", "time": "00:00:07"}],
}]


def test_seconds_formats():
    assert seconds(3, "t") == 3.0 and seconds("4.5", "t") == 4.5 and seconds("01:02", "t") == 62.0
    assert seconds("1:00:01.5", "t") == 3601.5
    with pytest.raises(ValueError, match="field 't'"):
        seconds("soon", "t")


def test_bad_records_become_dead_letters(tmp_path):
    bad = [
        {**RAW[0], "task_type": "mystery"},
        {k: v for k, v in RAW[0].items() if k != "response"},
        {**RAW[1], "response": [{"content": "x", "time": "later"}]},
        {**RAW[1], "question": [{"content": "q", "time": 30}]},
        "not an object",
    ]
    path = tmp_path / "raw.json"
    path.write_text(json.dumps(RAW + bad))
    result = ingest_streamo(str(path), IngestParams())
    assert result.records_read == 7 and len(result.dead_letters) == 5 and len(result.items) == 3
    reasons = [d["reason"] for d in result.dead_letters]
    assert "'mystery' is not in ingest.task_map" in reasons[0] and ":3:" in reasons[0]
    assert "field 'response': missing" in reasons[1]
    assert "field 'response.0.time'" in reasons[2]
    assert "no response at or after" in reasons[3]


@pytest.mark.slow
def test_round_trip_ingest_slice_export(tmp_path):
    (tmp_path / "videos").mkdir()
    write_mp4(str(tmp_path / "videos" / "clip.mp4"), (np.full((64, 64, 3), 10 * i % 255, np.uint8) for i in range(16 * 8)), 8)
    raw = tmp_path / "raw.json"
    raw.write_text(json.dumps(RAW))
    params = load_params(REPO / "params.yaml")
    summary = steps.ingest(params, [str(raw)], str(tmp_path / "ingested"), split="rl", video_root=str(tmp_path))
    assert summary == {"records_read": 2, "records_dead": 0, "records_skipped": 0, "records_ingested": 2, "videos": 1,
                       "items": 3, "tasks": {"EU": 2, "OU": 1}}
    manifest = str(tmp_path / "ingested" / "manifest.jsonl")
    sliced = run_slice(manifest, str(tmp_path / "sliced"), params.slice)
    assert sliced["trajectories_written"] == 3 and sliced["dead_letters"] == 0
    out = tmp_path / "stream.jsonl"
    assert export_stream(str(tmp_path / "sliced" / "rl"), manifest, str(out)) == 3
    records = {}
    for line in out.read_text().splitlines():
        rec = json.loads(line)
        assert rec["videos"] == [str(tmp_path / "videos" / "clip.mp4")]
        assert rec["messages"][0]["role"] == "system"
        turns = rec["messages"][1:]
        assert len(turns) == 2 * 16
        first_user = next(m["content"] for m in turns if m["role"] == "user" and "?" in m["content"])
        records[first_user.split("\n")[0]] = turns
    # The documented mapping: question at the turn containing its time; an interval answer at the turn
    # containing its end; a timed answer at the turn containing its time; everything else silent.
    expected = {
        "What happens?": (1, {5: "</Response> a man opens the door"}),
        "And then?": (9, {12: "</Response> he sits down"}),
        "When does the light go on?": (2, {7: "</Response> now"}),
    }
    for question, (q_turn, responses) in expected.items():
        turns = records[question]
        for i in range(16):
            user, assistant = turns[2 * i]["content"], turns[2 * i + 1]["content"]
            label = f"<{i}s-{i + 1}s>\n<stream>"
            assert user == (f"{question}\n{label}" if i == q_turn else label)
            assert assistant == responses.get(i, "</Silence>")
