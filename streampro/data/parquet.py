"""Trajectory records in Parquet: the Arrow schema, row conversion, and a validating reader.

Turns are a list of structs (the frame as JPEG bytes); ``answers`` and ``rubric`` are stored as
JSON text in the same shape as in the item files, so the contract has one definition.
"""
from __future__ import annotations

import json
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import ValidationError

from streampro import storage
from streampro.schema import Trajectory, RecordError, record_error

TURN_TYPE = pa.struct([
    ("index", pa.int32()), ("start", pa.float64()), ("end", pa.float64()), ("frame", pa.binary()),
    ("user_text", pa.string()), ("target", pa.string()),
])
TRAJECTORY_SCHEMA = pa.schema([
    ("schema_version", pa.int32()), ("trajectory_id", pa.string()), ("item_id", pa.string()),
    ("video_id", pa.string()), ("split", pa.string()), ("task", pa.string()), ("fps", pa.float64()),
    ("turns", pa.list_(TURN_TYPE)), ("answers", pa.string()), ("rubric", pa.string()),
])


def to_row(trajectory: Trajectory) -> dict:
    row = trajectory.model_dump(exclude={"answers", "rubric"})
    row["answers"] = json.dumps([a.model_dump(exclude_none=True) for a in trajectory.answers])
    row["rubric"] = json.dumps([r.model_dump(exclude_none=True) for r in trajectory.rubric])
    return row


def from_row(row: dict, source: str, index: int) -> Trajectory:
    try:
        data = dict(row)
        data["answers"] = json.loads(row["answers"])
        data["rubric"] = json.loads(row["rubric"])
        return Trajectory.model_validate(data)
    except ValidationError as exc:
        raise record_error(exc, source, index) from None
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise RecordError(source, index, None, f"malformed trajectory row: {exc}") from None


def write_table(uri: str, trajectories: list[Trajectory]) -> None:
    table = pa.Table.from_pylist([to_row(t) for t in trajectories], schema=TRAJECTORY_SCHEMA)
    with storage.open_write(uri) as f:
        pq.write_table(table, f)


def trajectory_files(folder: str) -> list[str]:
    """The Parquet shards in ``folder`` (local or gs://), sorted."""
    from apache_beam.io.filesystems import FileSystems

    pattern = storage.join(folder, "*.parquet")
    return sorted(m.path for r in FileSystems.match([pattern]) for m in r.metadata_list)


def read_trajectories(folder: str) -> Iterator[Trajectory]:
    """Every trajectory of every shard in ``folder``, validated; errors name the file and row."""
    for path in trajectory_files(folder):
        with storage.open_read(path) as f:
            table = pq.read_table(f)
        missing = set(TRAJECTORY_SCHEMA.names) - set(table.column_names)
        if missing:
            raise RecordError(path, None, sorted(missing)[0], "column missing from the Parquet file")
        for index, row in enumerate(table.to_pylist()):
            yield from_row(row, path, index)
