"""Interoperability with Streamo's data: ingest its raw annotations, export ms-swift "stream" records.

Raw Streamo annotation (a JSON list, or JSON lines), one record per video and task::

    {"video_name": ..., "video_path": ..., "task_type": ..., "source": ...,
     "question": [{"content": ..., "time": ...}, ...],
     "response": [{"content": ..., "st_time": ..., "end_time": ..., "time": ...}, ...]}

Mapping to items (``docs/interop.md`` writes it out): every question becomes one item, asked at
its ``time``, answered by the responses whose ``time`` (else ``end_time``) falls at or after it and
before the next question. ``task_type`` maps to a task through ``ingest.task_map`` (else
``ingest.default_task``). Interval-timed tasks (EU, TP) take ``[st_time, end_time]``; the others
take ``time`` (else ``end_time``); TG also keeps ``[st_time, end_time]`` as its span.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from pydantic import ValidationError

from streampro import layout, protocol, storage
from streampro.config import IngestParams
from streampro.schema import Answer, Item, Trajectory, VideoRecord, record_error
from streampro.tasks import get_task
from streampro.timing import turn_label

_CLOCK = re.compile(r"^(?:(\d+):)?(\d+):(\d+(?:\.\d+)?)$")


class IngestError(ValueError):
    pass


def seconds(value, field_name: str) -> float:
    """A time given as a number, a numeric string, or ``[HH:]MM:SS[.f]``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        text = value.strip().removesuffix("s")
        try:
            return float(text)
        except ValueError:
            match = _CLOCK.match(text)
            if match:
                h, m, s = match.groups()
                return int(h or 0) * 3600 + int(m) * 60 + float(s)
    raise IngestError(f"field '{field_name}': {value!r} is not a time")


@dataclass
class IngestResult:
    """Annotations read as videos and items; every record read is ingested, skipped or dead-lettered."""

    videos: dict[str, VideoRecord] = field(default_factory=dict)
    items: list[Item] = field(default_factory=list)
    dead_letters: list[dict] = field(default_factory=list)
    records_read: int = 0
    records_skipped: int = 0  # records of tasks an importer does not take (e.g. OVO-Bench's non-FAR tasks)


def _answers(record: dict, responses: list[dict], task: str, index: int) -> list[Answer]:
    spec = get_task(task)
    answers = []
    for k, r in enumerate(responses):
        where = f"response.{index + k}"
        text = r.get("content")
        if not isinstance(text, str) or not text.strip():
            raise IngestError(f"field '{where}.content': missing or empty")
        st = seconds(r["st_time"], f"{where}.st_time") if r.get("st_time") is not None else None
        end = seconds(r["end_time"], f"{where}.end_time") if r.get("end_time") is not None else None
        t = seconds(r["time"], f"{where}.time") if r.get("time") is not None else end
        if spec.timing == "interval":
            if st is None or end is None:
                raise IngestError(f"field '{where}': task {task} needs st_time and end_time")
            answers.append(Answer(text=text.strip(), interval=(st, end)))
        else:
            if t is None:
                raise IngestError(f"field '{where}.time': missing")
            span = (st, end) if spec.needs_span and st is not None and end is not None else None
            if spec.needs_span and span is None:
                raise IngestError(f"field '{where}': task {task} needs st_time and end_time for its span")
            answers.append(Answer(text=text.strip(), time=t, span=span))
    return answers


def _response_time(r: dict, index: int) -> float:
    value = r.get("time", r.get("end_time"))
    if value is None:
        raise IngestError(f"field 'response.{index}.time': missing (and no end_time)")
    return seconds(value, f"response.{index}.time")


def record_items(record: dict, number: int, params: IngestParams, split: str) -> tuple[VideoRecord, list[Item]]:
    for key in ("video_name", "video_path", "task_type", "question", "response"):
        if key not in record:
            raise IngestError(f"field '{key}': missing")
    task = params.task_map.get(record["task_type"], params.default_task)
    if task is None:
        raise IngestError(f"field 'task_type': {record['task_type']!r} is not in ingest.task_map "
                          "and ingest.default_task is not set")
    spec = get_task(task)
    video_id = str(record["video_name"])
    video = VideoRecord(video_id=video_id, uri=str(record["video_path"]),
                        metadata={"source": record.get("source"), "task_type": record["task_type"]})
    questions = sorted(((seconds(q.get("time"), f"question.{k}.time"), k, q) for k, q in enumerate(record["question"])))
    responses = sorted(((_response_time(r, k), k, r) for k, r in enumerate(record["response"])), key=lambda x: x[:2])
    items = []
    for qn, (q_time, k, question) in enumerate(questions):
        next_time = questions[qn + 1][0] if qn + 1 < len(questions) else float("inf")
        mine = [r for t, _, r in responses if q_time <= t < next_time]
        first = next(k for t, k, _ in responses if q_time <= t < next_time) if mine else 0
        if not mine:
            raise IngestError(f"field 'question.{k}': no response at or after its time {q_time}s")
        items.append(Item(
            item_id=f"{video_id}-r{number}-q{k}", video_id=video_id, split=split,
            source=str(record.get("source") or "streamo"), task=task, dimension=spec.dimension,
            question=str(question.get("content", "")), query_time=q_time,
            answers=_answers(record, mine, task, first),
        ))
    return video, items


def ingest_streamo(uri: str, params: IngestParams, split: str = "sft") -> IngestResult:
    """Read a Streamo raw annotation file into videos and items; bad records become dead letters."""
    text = storage.read_text(uri)
    stripped = text.lstrip()
    if stripped.startswith("["):
        records = list(enumerate(json.loads(text), start=1))
    else:
        records = list(storage.iter_json_lines(uri))
    result = IngestResult(records_read=len(records))
    for number, record in records:
        try:
            if not isinstance(record, dict):
                raise IngestError(f"expected an object, got {type(record).__name__}")
            video, items = record_items(record, number, params, split)
        except (IngestError, ValidationError, KeyError) as exc:
            reason = str(record_error(exc, uri, number)) if isinstance(exc, ValidationError) else f"{uri}:{number}: {exc}"
            result.dead_letters.append({"step": "ingest", "source": uri, "line": number, "reason": reason,
                                        "input": record})
            continue
        result.videos.setdefault(video.video_id, video)
        result.items.extend(items)
    return result


def to_stream_record(trajectory: Trajectory, video_uri: str, system_prompt: str = protocol.SYSTEM_PROMPT) -> dict:
    """One trajectory as an ms-swift "stream" record (``messages`` + ``videos``)."""
    messages = [{"role": "system", "content": system_prompt}]
    for turn in trajectory.turns:
        label = turn_label(turn.index, trajectory.fps)
        prefix = f"{turn.user_text}\n" if turn.user_text else ""
        messages.append({"role": "user", "content": f"{prefix}{label}\n<stream>"})
        messages.append({"role": "assistant", "content": turn.target})
    return {"messages": messages, "videos": [video_uri]}


def write_ingested(result: IngestResult, out: str, split: str, video_root: str | None = None) -> dict:
    """Write ``manifest.jsonl``, ``items/{split}.jsonl``, ``dead_letters.jsonl`` and ``summary.json``."""
    videos = [
        v.model_copy(update={"uri": storage.resolve(v.uri, video_root)}) if video_root else v
        for v in result.videos.values()
    ]
    storage.write_records(layout.manifest(out), videos)
    storage.write_records(layout.items(out, split), result.items)
    storage.write_text(layout.dead_letters_file(out),
                  "".join(json.dumps(d, default=str) + "\n" for d in result.dead_letters))
    tasks: dict[str, int] = {}
    for item in result.items:
        tasks[item.task] = tasks.get(item.task, 0) + 1
    summary = {"records_read": result.records_read, "records_dead": len(result.dead_letters),
               "records_skipped": result.records_skipped,
               "records_ingested": result.records_read - len(result.dead_letters) - result.records_skipped,
               "videos": len(videos), "items": len(result.items), "tasks": dict(sorted(tasks.items()))}
    storage.write_text(layout.summary(out), json.dumps(summary, indent=2) + "\n")
    return summary


def export_stream(trajectories: str, manifest: str, out: str) -> int:
    """Write every trajectory under ``trajectories`` as ms-swift stream records (JSON lines)."""
    from streampro.data.parquet import read_trajectories

    videos = storage.read_manifest(manifest)
    lines = []
    for trajectory in read_trajectories(trajectories):
        video = videos.get(trajectory.video_id)
        if video is None:
            raise IngestError(f"{trajectory.trajectory_id}: video {trajectory.video_id!r} is not in {manifest}")
        lines.append(json.dumps(to_stream_record(trajectory, video.uri)))
    storage.write_text(out, "".join(line + "\n" for line in lines))
    return len(lines)


def _ingest_splits(annotations: dict[str, str], params: IngestParams, out: str, video_root: str | None = None) -> dict:
    """Ingest one annotation file per split into one world: a shared manifest and ``items/{split}.jsonl``."""
    merged = IngestResult()
    for split, uri in annotations.items():
        part = ingest_streamo(uri, params, split)
        merged.records_read += part.records_read
        merged.dead_letters += part.dead_letters
        merged.records_skipped += part.records_skipped
        merged.items += part.items
        for video_id, video in part.videos.items():
            merged.videos.setdefault(video_id, video)
    summary = write_ingested(merged, out, next(iter(annotations)), video_root)
    for split in annotations:  # one item file per split (write_ingested wrote the first with all items)
        storage.write_records(layout.items(out, split), [i for i in merged.items if i.split == split])
    return summary


def ingest_splits(annotations: dict[str, str], params: IngestParams, out: str, video_root: str | None = None) -> dict:
    """Ingest one annotation file per split into one world (written atomically, with a completion marker)."""
    from streampro.outputs import step_output

    with step_output(out, "ingest", list(annotations.values())) as output:
        summary = _ingest_splits(annotations, params, output.path, video_root)
        output.counts = {k: v for k, v in summary.items() if isinstance(v, int)}
    return summary
