"""Run the ``slice`` step: build the Beam pipeline, run it, and write the step's summary.

``PipelineOptions`` are passed through untouched, so ``--runner DataflowRunner --project ...
--region ... --temp_location gs://... --sdk_container_image ...`` or ``--runner FlinkRunner`` run the
same transforms at scale. The manifest and item files are read line by line on the launcher (they
are small next to the videos) so that every record keeps its file and line for error reports.
"""
from __future__ import annotations

import json
import logging

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from streampro import layout, storage
from streampro.outputs import TooManyDeadLetters, check_dead_letter_share, step_output  # noqa: F401 (re-exported)
from streampro.config import SliceParams
from streampro.schema import SPLITS
from streampro.data.beam_slice import NAMESPACE, SliceVideos, WriteDeadLetters, WriteTrajectories

log = logging.getLogger(__name__)
LOCAL_RUNNER = "FnApiRunner"  # what the DirectRunner runs a batch job on, without its attempt to fetch Prism


def read_lines(uri: str) -> list[tuple[str, int, bytes]]:
    """``(file, line number, raw bytes)`` per non-blank line: a bad byte dead-letters its line, not the job."""
    return [(uri, n, line) for n, line in storage.read_lines(uri)]


def default_item_files(manifest: str) -> list[str]:
    """``items/{sft,rl,bench}.jsonl`` beside the manifest, those that exist."""
    world = layout.world_of(manifest)
    return [p for p in (layout.items(world, s) for s in SPLITS) if storage.exists(p)]


def build_pipeline(pipeline: beam.Pipeline, manifest: str, item_files: list[str], out: str, params: SliceParams):
    manifest_lines = read_lines(manifest)
    item_lines = [line for path in item_files for line in read_lines(path)]
    inputs = {
        "manifest": pipeline | "ReadManifest" >> beam.Create(manifest_lines),
        "items": pipeline | "ReadItems" >> beam.Create(item_lines),
    }
    result = inputs | "SliceVideos" >> SliceVideos(params.sample_fps, params.frame_size, params.jpeg_quality)
    result["trajectories"] | "WriteTrajectories" >> WriteTrajectories(out)
    result["dead_letters"] | "WriteDeadLetters" >> WriteDeadLetters(layout.dead_letters_dir(out))
    return len(manifest_lines), len(item_lines)


def summarize(counters: dict[str, int]) -> dict:
    c = {k: int(counters.get(k, 0)) for k in (
        "videos_read", "videos_decoded", "videos_unused", "videos_dead", "items_read", "items_dead",
        "frames_decoded", "trajectories_written", "silence_turns", "response_turns")}
    c["dead_letters"] = c["videos_dead"] + c["items_dead"]
    c["silence_per_response"] = round(c["silence_turns"] / c["response_turns"], 3) if c["response_turns"] else None
    c["items_accounted"] = c["items_read"] == c["trajectories_written"] + c["items_dead"]
    c["videos_accounted"] = c["videos_read"] == c["videos_decoded"] + c["videos_unused"] + c["videos_dead"]
    return c


def run_slice(manifest: str, out: str, params: SliceParams, item_files: list[str] | None = None,
              beam_args: list[str] | None = None, max_dead_letter_share: float = 0.5) -> dict:
    """Slice the manifest's videos into trajectories under ``out``; returns (and writes) the summary."""
    item_files = item_files or default_item_files(manifest)
    if not item_files:
        raise FileNotFoundError(f"no item files given and none found beside {manifest}")
    options = PipelineOptions(beam_args or [])
    if options.view_as(StandardOptions).runner is None:  # Beam's default tries to download Prism first
        options.view_as(StandardOptions).runner = LOCAL_RUNNER
    with step_output(out, "slice", [manifest, *item_files]) as output:
        pipeline = beam.Pipeline(options=options)
        n_videos, n_items = build_pipeline(pipeline, manifest, item_files, output.path, params)
        log.info("slice: %d videos, %d items from %s on %s", n_videos, n_items, manifest,
                 options.view_as(StandardOptions).runner)
        result = pipeline.run()
        result.wait_until_finish()
        counters: dict[str, int] = {}
        for c in result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))["counters"]:
            # The same counter name is reported once per step that increments it: add them up.
            counters[c.key.metric.name] = counters.get(c.key.metric.name, 0) + c.committed
        summary = summarize(counters)
        summary.update({"manifest": manifest, "item_files": item_files, "sample_fps": params.sample_fps,
                        "frame_size": params.frame_size})
        if not (summary["items_accounted"] and summary["videos_accounted"]):
            raise RuntimeError(f"slice: inputs do not add up to outputs + dead letters: {summary}")
        storage.write_text(layout.summary(output.path), json.dumps(summary, indent=2) + "\n")
        log.info("slice: %d trajectories, %d dead letters", summary["trajectories_written"], summary["dead_letters"])
        output.counts = {k: v for k, v in summary.items() if isinstance(v, int) and not isinstance(v, bool)}
        check_dead_letter_share("slice", summary["items_read"], summary["items_dead"], max_dead_letter_share,
                                output.counts, layout.dead_letters_dir(out))
    return summary
