"""Apache Beam transforms of the ``slice`` step: videos + items → streaming trajectories.

``SliceVideos`` is a composite PTransform with labelled steps. Its input is a dict of two
PCollections of raw lines, ``(source, line_number, text)``, one for the manifest and one for the
items; its output is a dict with ``trajectories`` (Parquet rows) and ``dead_letters`` (JSON
objects with the input, the step and the reason). Every item ends as exactly one trajectory or one
dead letter; every video is decoded, unused (no item refers to it) or dead-lettered.
"""
from __future__ import annotations

import json

import apache_beam as beam
from apache_beam.metrics import Metrics

from streampro import layout, storage
from streampro.data import parquet
from streampro.data.trajectory import SliceError, build_trajectory
from streampro.data.video import VideoError, encode_jpeg, sample_frames
from streampro.schema import SPLITS, Item, RecordError, VideoRecord

DEAD = "dead_letters"
NAMESPACE = "streampro.slice"


def dead_letter(step: str, reason: str, source: str | None, line: int | None, record) -> dict:
    if hasattr(record, "model_dump"):
        record = record.model_dump(mode="json", exclude_none=True)
    return {"step": step, "reason": reason, "source": source, "line": line, "input": record}


def split_of_file(source: str) -> str | None:
    """The split an item file holds by its name (``items/bench.jsonl``, ``rubrics/rl.jsonl``), if it says."""
    name = source.rstrip("/").rsplit("/", 1)[-1]
    return next((s for s in SPLITS if name == f"{s}.jsonl"), None)


class ParseRecords(beam.DoFn):
    """Raw ``(source, line, text)`` → ``(key, (source, line, record))``; bad lines to dead letters.

    Videos are keyed by ``video_id``; items by ``item_id`` (duplicates are resolved next). A line that
    is not UTF-8 or not JSON, a record that breaks its contract, a video uri no filesystem serves, and
    an item of another split than its file's name says go to the dead letters with the reason."""

    def __init__(self, kind: str):
        self.kind = kind
        self.read = Metrics.counter(NAMESPACE, f"{kind}s_read")
        self.dead = Metrics.counter(NAMESPACE, f"{kind}s_dead")

    def _dead(self, reason: str, source, line, data):
        self.dead.inc()
        return beam.pvalue.TaggedOutput(DEAD, dead_letter(f"parse_{self.kind}", reason, source, line, data))

    def process(self, element):
        source, line, text = element
        self.read.inc()
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield self._dead(f"{source}:{line}: not UTF-8 text (byte {text[exc.start]:#04x} at column "
                                 f"{exc.start + 1})", source, line, text.decode("utf-8", "replace"))
                return
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            yield self._dead(f"not valid JSON: {exc.msg}", source, line, text)
            return
        try:
            if self.kind == "video":
                record = storage.parse_record(VideoRecord, data, source, line)
                record = record.model_copy(update={"uri": storage.resolve(record.uri, storage.dirname(source))})
                problem = storage.unsupported(record.uri)
                if problem:
                    raise RecordError(source, line, "uri", problem)
                key = record.video_id
            else:
                record = storage.parse_record(Item, data, source, line)
                expected = split_of_file(source)
                if expected and record.split != expected:
                    raise RecordError(source, line, "split", f"{record.split!r} in the {expected} item file "
                                      + ("(a bench video would leak into training)" if expected == "bench" else
                                         "(items must be in the file of their split)"))
                key = record.item_id
        except RecordError as exc:
            yield self._dead(str(exc), source, line, data)
            return
        yield key, (source, line, record)


class FirstOfEachId(beam.DoFn):
    """``(item_id, [(source, line, item), ...])`` → the first (by file path, then line) keyed by its video; every
    other item with the same id goes to the dead letters, naming where the first one is."""

    def __init__(self):
        self.dead = Metrics.counter(NAMESPACE, "items_dead")

    def process(self, element):
        item_id, copies = element
        first, *others = sorted(copies, key=lambda c: (c[0], c[1]))
        for source, line, item in others:
            self.dead.inc()
            yield beam.pvalue.TaggedOutput(DEAD, dead_letter(
                "unique_items", f"field 'item_id': duplicate item_id {item_id!r} (first at {first[0]}:{first[1]})",
                source, line, item))
        yield first[2].video_id, first


class SliceVideoFn(beam.DoFn):
    """One video and its items → one trajectory row per item (the video is decoded once)."""

    def __init__(self, sample_fps: float, frame_size: int, jpeg_quality: int):
        self.sample_fps, self.frame_size, self.jpeg_quality = sample_fps, frame_size, jpeg_quality
        self.videos_decoded = Metrics.counter(NAMESPACE, "videos_decoded")
        self.videos_unused = Metrics.counter(NAMESPACE, "videos_unused")
        self.frames = Metrics.counter(NAMESPACE, "frames_decoded")
        self.written = Metrics.counter(NAMESPACE, "trajectories_written")
        self.dead = {"video": Metrics.counter(NAMESPACE, "videos_dead"), "item": Metrics.counter(NAMESPACE, "items_dead")}
        self.silence = Metrics.counter(NAMESPACE, "silence_turns")
        self.responses = Metrics.counter(NAMESPACE, "response_turns")

    def _dead(self, kind: str, *args):
        self.dead[kind].inc()
        return beam.pvalue.TaggedOutput(DEAD, dead_letter(*args))

    def process(self, element):
        video_id, grouped = element
        videos, items = list(grouped["videos"]), list(grouped["items"])
        for source, line, extra in videos[1:]:
            yield self._dead("video", "slice", f"duplicate video_id {video_id!r}", source, line, extra)
        if not items:
            self.videos_unused.inc(len(videos[:1]))
            return
        if not videos:
            for source, line, item in items:
                yield self._dead("item", "slice", f"field 'video_id': video {video_id!r} is not in the manifest",
                                 source, line, item)
            return
        if any(item.split == "bench" for _, _, item in items):  # a bench video is for the bench only
            kept = [(source, line, item) for source, line, item in items if item.split == "bench"]
            for source, line, item in items:
                if item.split != "bench":
                    yield self._dead("item", "slice", f"field 'split': its video {video_id!r} is a bench video "
                                     "(training on it would leak the bench)", source, line, item)
            items = kept
        v_source, v_line, video = videos[0]
        try:
            sampled = sample_frames(video.uri, self.sample_fps, self.frame_size)
        except VideoError as exc:
            yield self._dead("video", "decode", str(exc), v_source, v_line, video)
            for source, line, item in items:
                yield self._dead("item", "slice", f"its video {video_id!r} could not be decoded: {exc}", source, line, item)
            return
        self.videos_decoded.inc()
        self.frames.inc(len(sampled.frames))
        duration = video.duration or sampled.duration
        jpegs = [encode_jpeg(frame, self.jpeg_quality) for frame in sampled.frames]
        for source, line, item in items:
            try:
                storage.check_item_in_video(item, {video_id: video.model_copy(update={"duration": duration})}, source, line)
                trajectory = build_trajectory(item, jpegs, self.sample_fps)
            except (RecordError, SliceError) as exc:
                reason = exc.reason if isinstance(exc, RecordError) else str(exc)
                field = f"field '{exc.field}': " if isinstance(exc, RecordError) and exc.field else ""
                yield self._dead("item", "slice", field + reason, source, line, item)
                continue
            n_responses = sum(1 for t in trajectory.turns if t.target != "</Silence>")
            self.responses.inc(n_responses)
            self.silence.inc(len(trajectory.turns) - n_responses)
            self.written.inc()
            yield parquet.to_row(trajectory)


class SliceVideos(beam.PTransform):
    """``{"manifest": lines, "items": lines}`` → ``{"trajectories": rows, "dead_letters": dicts}``."""

    def __init__(self, sample_fps: float = 1.0, frame_size: int = 56, jpeg_quality: int = 90):
        super().__init__()
        self.fn = SliceVideoFn(sample_fps, frame_size, jpeg_quality)

    def expand(self, inputs):
        videos = inputs["manifest"] | "ParseManifest" >> beam.ParDo(ParseRecords("video")).with_outputs(
            DEAD, main="records")
        items = inputs["items"] | "ParseItems" >> beam.ParDo(ParseRecords("item")).with_outputs(DEAD, main="records")
        unique = (items.records | "GroupById" >> beam.GroupByKey()
                  | "FirstOfEachId" >> beam.ParDo(FirstOfEachId()).with_outputs(DEAD, main="records"))
        sliced = (
            {"videos": videos.records, "items": unique.records}
            | "GroupByVideo" >> beam.CoGroupByKey()
            | "DecodeAndSlice" >> beam.ParDo(self.fn).with_outputs(DEAD, main="trajectories")
        )
        dead = (videos[DEAD], items[DEAD], unique[DEAD], sliced[DEAD]) | "MergeDeadLetters" >> beam.Flatten()
        return {"trajectories": sliced.trajectories, "dead_letters": dead}


class WriteTrajectories(beam.PTransform):
    """Trajectory rows → sharded Parquet, one folder per split: ``{out}/{split}/part-*.parquet``."""

    def __init__(self, out: str, splits: tuple[str, ...] = SPLITS):
        super().__init__()
        self.out, self.splits = out, splits

    def expand(self, rows):
        parts = rows | "BySplit" >> beam.Partition(lambda row, n: self.splits.index(row["split"]), len(self.splits))
        for split, part in zip(self.splits, parts):
            part | f"Write_{split}" >> beam.io.WriteToParquet(
                storage.join(layout.split_dir(self.out, split), "part"), parquet.TRAJECTORY_SCHEMA, file_name_suffix=".parquet")
        return rows


class WriteDeadLetters(beam.PTransform):
    def __init__(self, out: str):
        super().__init__()
        self.out = out

    def expand(self, dead):
        return (
            dead
            | "ToJson" >> beam.Map(lambda d: json.dumps(d, sort_keys=True, default=str))
            | "WriteDead" >> beam.io.WriteToText(storage.join(self.out, "part"), file_name_suffix=".jsonl")
        )
