"""Where each step's files live inside its output folder: the one definition of the layout.

A *world* (what ``synth`` and ``ingest`` write, what ``slice`` reads)::

    manifest.jsonl            one VideoRecord per video (uris relative to this folder)
    items/{split}.jsonl       the items of each split (sft, rl, bench)
    videos/{video_id}.mp4     the rendered videos (synth only)
    dead_letters.jsonl        records set aside, with the reason (ingest, peers)
    summary.json              the step's counts

A *trajectories* folder (what ``slice`` writes)::

    {split}/part-*.parquet    one trajectory per item, per split
    dead_letters/part-*.jsonl inputs set aside, with the reason
    summary.json              the step's counts

Paths are joined with :func:`streampro.storage.join`, so a world may live under ``gs://`` too.
"""
from __future__ import annotations

from streampro import storage
from streampro.schema import SPLITS

MANIFEST = "manifest.jsonl"
SUMMARY = "summary.json"
DEAD_LETTERS_FILE = "dead_letters.jsonl"
DEAD_LETTERS_DIR = "dead_letters"


def items_file(split: str) -> str:
    """``items/{split}.jsonl``: a split's items, relative to the world folder."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} (known: {', '.join(SPLITS)})")
    return f"items/{split}.jsonl"


def video_file(video_id: str) -> str:
    """``videos/{video_id}.mp4``, relative to the world folder (the manifest's uri)."""
    return f"videos/{video_id}.mp4"


def manifest(world: str) -> str:
    return storage.join(world, MANIFEST)


def items(world: str, split: str) -> str:
    return storage.join(world, *items_file(split).split("/"))


def summary(folder: str) -> str:
    return storage.join(folder, SUMMARY)


def dead_letters_file(folder: str) -> str:
    return storage.join(folder, DEAD_LETTERS_FILE)


def dead_letters_dir(folder: str) -> str:
    return storage.join(folder, DEAD_LETTERS_DIR)


def split_dir(trajectories: str, split: str) -> str:
    """The folder of one split's trajectory shards."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} (known: {', '.join(SPLITS)})")
    return storage.join(trajectories, split)


def world_of(manifest_uri: str) -> str:
    """The world folder a manifest lies in."""
    return storage.dirname(manifest_uri)


def world_of_items(items_uri: str) -> str:
    """The world folder an ``items/{split}.jsonl`` file lies in."""
    return storage.dirname(storage.dirname(items_uri))
