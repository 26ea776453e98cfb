"""Trajectory records in Parquet: the Arrow schema, row conversion, and a validating reader.

Every field is a typed column: turns are a list of structs (the frame as JPEG bytes); ``answers``
and ``rubric`` are lists of structs in the shape of the item files (``schema_version`` 2). Shards
written by an older slice (answers and rubric as JSON text) are refused with "re-run slice".
"""
from __future__ import annotations

import glob
import os
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import ValidationError

from streampro import storage
from streampro.outputs import require_complete
from streampro.schema import TRAJECTORY_SCHEMA_VERSION, RecordError, Trajectory, record_error

PAIR = pa.list_(pa.float64())
TURN_TYPE = pa.struct([
    ("index", pa.int32()), ("start", pa.float64()), ("end", pa.float64()), ("frame", pa.binary()),
    ("user_text", pa.string()), ("target", pa.string()),
])
ANSWER_TYPE = pa.struct([("text", pa.string()), ("interval", PAIR), ("time", pa.float64()), ("span", PAIR)])
CHECK_TYPE = pa.struct([("type", pa.string()), ("terms", pa.list_(pa.string())), ("min", pa.int64()),
                        ("max", pa.int64())])
RUBRIC_TYPE = pa.struct([("rubric_id", pa.string()), ("aspect", pa.string()), ("rubric", pa.string()),
                         ("check", CHECK_TYPE)])
TRAJECTORY_SCHEMA = pa.schema([
    ("schema_version", pa.int32()), ("trajectory_id", pa.string()), ("item_id", pa.string()),
    ("video_id", pa.string()), ("split", pa.string()), ("task", pa.string()), ("fps", pa.float64()),
    ("turns", pa.list_(TURN_TYPE)), ("answers", pa.list_(ANSWER_TYPE)), ("rubric", pa.list_(RUBRIC_TYPE)),
])


def to_row(trajectory: Trajectory) -> dict:
    return trajectory.model_dump()


def _drop_nulls(value):
    """Arrow gives every struct field; the records leave absent ones out."""
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def from_row(row: dict, source: str, index: int) -> Trajectory:
    try:
        data = dict(row)
        data["answers"] = _drop_nulls(row["answers"])
        data["rubric"] = _drop_nulls(row["rubric"])
        return Trajectory.model_validate(data)
    except ValidationError as exc:
        raise record_error(exc, source, index) from None
    except (KeyError, TypeError) as exc:
        raise RecordError(source, index, None, f"malformed trajectory row: {exc}") from None


def write_table(uri: str, trajectories: list[Trajectory]) -> None:
    table = pa.Table.from_pylist([to_row(t) for t in trajectories], schema=TRAJECTORY_SCHEMA)
    with storage.open_write(uri) as f:
        pq.write_table(table, f)


def trajectory_files(folder: str) -> list[str]:
    """The Parquet shards in ``folder`` (local or gs://), sorted."""
    if not storage.is_remote(folder):  # (a local folder needs no Beam: the GPU image runs without it)
        return sorted(glob.glob(os.path.join(glob.escape(folder), "*.parquet")))
    from apache_beam.io.filesystems import FileSystems

    pattern = storage.join(folder, "*.parquet")
    return sorted(m.path for r in FileSystems.match([pattern]) for m in r.metadata_list)


def check_columns(table: pa.Table, path: str) -> None:
    """Every column there with its type; an older slice's shard is refused with "re-run slice"."""
    missing = set(TRAJECTORY_SCHEMA.names) - set(table.column_names)
    if missing:
        raise RecordError(path, None, sorted(missing)[0], "column missing from the Parquet file")
    if pa.types.is_string(table.schema.field("answers").type):
        raise RecordError(path, None, "schema_version", "written by an older slice (answers as JSON text, trajectory "
                          f"schema_version 1; this code reads {TRAJECTORY_SCHEMA_VERSION}): re-run slice")
    for name in ("turns", "answers", "rubric"):
        if not table.schema.field(name).type.equals(TRAJECTORY_SCHEMA.field(name).type):
            raise RecordError(path, None, name, f"column type {table.schema.field(name).type} is not "
                              f"{TRAJECTORY_SCHEMA.field(name).type}: re-run slice")


def read_trajectories(folder: str) -> Iterator[Trajectory]:
    """Every trajectory of every shard in ``folder`` (a split folder of a complete slice output),
    validated; errors name the file and row."""
    require_complete(folder, "slice", levels=1)
    for path in trajectory_files(folder):
        with storage.open_read(path) as f:
            table = pq.read_table(f)
        check_columns(table, path)
        for index, row in enumerate(table.to_pylist()):
            yield from_row(row, path, index)
