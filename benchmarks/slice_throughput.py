"""Frames per second of the Beam slice job (DirectRunner) against a plain Python loop doing the same
work on the same corpus: decode at 1 fps with decord, resize, JPEG-encode, write Parquet.

    python benchmarks/slice_throughput.py [--videos 120] [--size 320]

Prints both figures and their ratio (target: Beam >= 0.8 x the plain loop).
"""
from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

from streampro import storage
from streampro.config import SliceParams, SplitSizes, SynthParams
from streampro.data import parquet
from streampro.data.slicing import run_slice
from streampro.data.trajectory import build_trajectory
from streampro.data.video import encode_jpeg, sample_frames
from streampro.synth.world import synthesize


def plain_loop(manifest: str, out: str, params: SliceParams) -> int:
    videos = storage.read_manifest(manifest)
    base = storage.dirname(manifest)
    frames = 0
    by_split: dict[str, list] = {}
    for split in ("sft", "rl", "bench"):
        for item in storage.read_items(storage.join(base, "items", f"{split}.jsonl"), videos):
            sampled = sample_frames(videos[item.video_id].uri, params.sample_fps, params.frame_size)
            frames += len(sampled.frames)
            jpegs = [encode_jpeg(f, params.jpeg_quality) for f in sampled.frames]
            by_split.setdefault(split, []).append(build_trajectory(item, jpegs, params.sample_fps))
    for split, trajectories in by_split.items():
        parquet.write_table(storage.join(out, split, "part-00000.parquet"), trajectories)
    return frames


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=120, help="videos in the corpus")
    ap.add_argument("--size", type=int, default=320, help="rendered frame side")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    params = SliceParams()
    with tempfile.TemporaryDirectory() as tmp:
        world = Path(tmp) / "world"
        synth = SynthParams(videos=SplitSizes(sft=args.videos, rl=0, bench=0), size=args.size,
                            min_duration=30, max_duration=30)
        synthesize(str(world), synth, seed=1)
        manifest = str(world / "manifest.jsonl")
        results = {}
        runs = {
            "plain_loop": lambda out: plain_loop(manifest, out, params),
            "beam_direct_1proc": lambda out: run_slice(manifest, out, params)["frames_decoded"],
            "beam_direct_2proc": lambda out: run_slice(manifest, out, params, beam_args=[
                "--direct_num_workers=2", "--direct_running_mode=multi_processing"])["frames_decoded"],
        }
        for name, fn in runs.items():
            best = None
            for r in range(args.repeats):
                start = time.perf_counter()
                frames = fn(str(Path(tmp) / f"{name}-{r}"))
                elapsed = time.perf_counter() - start
                best = max(best or 0, frames / elapsed)
            results[name] = {"frames": frames, "frames_per_s": round(best, 1)}
        base = results["plain_loop"]["frames_per_s"]
        for name in results:
            results[name]["ratio_vs_plain"] = round(results[name]["frames_per_s"] / base, 2)
    print(json.dumps({"corpus": {"videos": args.videos, "seconds_each": 30, "size": args.size}, **results}, indent=2))


if __name__ == "__main__":
    main()
