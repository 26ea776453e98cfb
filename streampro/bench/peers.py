"""Peer benchmarks as this project's items: OVO-Bench Forward Active Responding and StreamingBench.

Each peer task is registered with its own timing, tolerance window and τ (docs/peers.md):

- OVO-Bench FAR, re-scored with StreamPro-F1 as the paper does:
  REC (repetition counting): a timed answer per *new* running count, at the ``realtime`` of the first
  ``test_info`` entry that reports it (text: the count); SSR (sequential steps): a timed answer per
  step, at the step's completion (``end_time``; text: the step); CRR (clue-revealing): the ``answer``,
  due at ``clue_time``, asked at ``ask_time``.
- StreamingBench real-time questions: multiple choice, asked at ``time_stamp``, scored as accuracy of
  the first response at or after the question.
"""
from __future__ import annotations

import json

from pydantic import ValidationError

from streampro import storage
from streampro.data.streamo import IngestError, IngestResult, seconds, write_ingested
from streampro.schema import Answer, Item, VideoRecord, record_error
from streampro.tasks import PEER_TASKS, TaskSpec

OVO_TASKS = {name: PEER_TASKS[f"OVO_{name}"] for name in ("REC", "SSR", "CRR")}
SB_TASKS = {spec.title.removeprefix("StreamingBench "): spec for spec in PEER_TASKS.values() if spec.name.startswith("SB_")}


def _video(path: str, source: str) -> VideoRecord:
    video_id = path.removeprefix("./").rsplit(".", 1)[0]
    return VideoRecord(video_id=video_id, uri=path.removeprefix("./"), metadata={"source": source})


def _item(task: TaskSpec, item_id: str, video_id: str, source: str, question: str, query_time: float,
          answers: list[Answer], options: list[str] | None = None) -> Item:
    return Item(item_id=item_id, video_id=video_id, split="bench", source=source, task=task.name, dimension=None,
                question=question, query_time=query_time, answers=answers, options=options)


def ovo_far_items(record: dict) -> tuple[VideoRecord, list[Item]]:
    task = OVO_TASKS.get(record.get("task"))
    if task is None:
        return None, []  # not a Forward Active Responding task
    video = _video(record["video"], "ovo-bench")
    item_id = f"ovo-{record['id']}"
    if record["task"] == "REC":
        answers, last = [], None
        for k, probe in enumerate(sorted(record["test_info"], key=lambda p: float(p["realtime"]))):
            if probe["count"] != last:
                answers.append(Answer(text=str(probe["count"]), time=seconds(probe["realtime"], f"test_info.{k}.realtime")))
                last = probe["count"]
        question = (f"Each time the action '{record['activity']}' happens again, tell me how many times it has "
                    "happened so far.")
        return video, [_item(task, item_id, video.video_id, "ovo-bench", question, 0.0, answers)]
    if record["task"] == "SSR":
        steps = sorted(zip(record["end_time"], record["all_steps"]), key=lambda s: float(s[0]))
        answers = [Answer(text=step, time=seconds(end, f"end_time.{k}")) for k, (end, step) in enumerate(steps)]
        question = f"Tell me each step of the tutorial '{record['tutorial']}' as soon as it is completed."
        return video, [_item(task, item_id, video.video_id, "ovo-bench", question, 0.0, answers)]
    answer = Answer(text=record["answer"], time=seconds(record["clue_time"], "clue_time"))
    return video, [_item(task, item_id, video.video_id, "ovo-bench", record["question"],
                         seconds(record["ask_time"], "ask_time"), [answer])]


def streamingbench_items(record: dict, number: int) -> tuple[VideoRecord, list[Item]]:
    video = _video(record["video_path"], "streamingbench")
    items = []
    for k, q in enumerate(record["questions"]):
        task = SB_TASKS.get(q["task_type"])
        if task is None:
            raise IngestError(f"field 'questions.{k}.task_type': {q['task_type']!r} is not a real-time task")
        t = seconds(q["time_stamp"], f"questions.{k}.time_stamp")
        items.append(_item(task, f"sb-{number}-{k}", video.video_id, "streamingbench", q["question"], t,
                           [Answer(text=q["answer"], time=t)], options=q["options"]))
    return video, items


def import_peer(uri: str, fmt: str) -> IngestResult:
    """Read a peer annotation file (``ovo-far`` or ``streamingbench``); bad records become dead letters."""
    records = json.loads(storage.read_text(uri))
    result = IngestResult(records_read=len(records))
    for number, record in enumerate(records, start=1):
        try:
            video, items = ovo_far_items(record) if fmt == "ovo-far" else streamingbench_items(record, number)
        except (IngestError, ValidationError, KeyError, TypeError) as exc:
            reason = str(record_error(exc, uri, number)) if isinstance(exc, ValidationError) else f"{uri}:{number}: {exc!r}"
            result.dead_letters.append({"step": f"import_{fmt}", "source": uri, "line": number, "reason": reason,
                                        "input": record})
            continue
        if video is None:
            result.records_skipped += 1
            continue
        result.videos.setdefault(video.video_id, video)
        result.items.extend(items)
    return result


def write_import(result: IngestResult, out: str, video_root: str | None = None) -> dict:
    """``manifest.jsonl``, ``items/bench.jsonl``, ``dead_letters.jsonl`` and ``summary.json`` under ``out``."""
    return write_ingested(result, out, "bench", video_root)
