"""Reading and writing records at local paths or ``gs://`` URIs.

Files are opened through Apache Beam's ``FileSystems``, which serves local paths and, with
google-cloud-storage installed, ``gs://`` URIs alike, so every step accepts both.
"""
from __future__ import annotations

import json
import os
import posixpath
import shutil
from collections.abc import Iterable, Iterator
from typing import IO, TypeVar

from pydantic import BaseModel, ValidationError

from streampro.schema import Item, RecordError, VideoRecord, record_error

R = TypeVar("R", bound=BaseModel)


def is_remote(uri: str) -> bool:
    return "://" in uri


def join(base: str, *parts: str) -> str:
    if is_remote(base):
        return posixpath.join(base, *parts)
    return os.path.join(base, *parts)


def dirname(uri: str) -> str:
    return posixpath.dirname(uri) if is_remote(uri) else os.path.dirname(os.path.abspath(uri))


def resolve(uri: str, base_dir: str) -> str:
    """``uri`` as is when absolute (a path or ``scheme://``), else relative to ``base_dir``."""
    if is_remote(uri) or os.path.isabs(uri):
        return uri
    return join(base_dir, uri)


def unsupported(uri: str) -> str | None:
    """Why no filesystem can read ``uri`` (an unknown scheme such as ``foo://`` or ``https://``), or None."""
    if not is_remote(uri):
        return None
    from apache_beam.io.filesystems import FileSystems

    try:
        FileSystems.get_filesystem(uri)
    except ValueError:
        scheme = uri.split("://", 1)[0]
        return f"no filesystem serves {scheme}:// uris (local paths, gs:// and Beam's other filesystems do)"
    return None


def open_read(uri: str) -> IO[bytes]:
    if not is_remote(uri):
        return open(uri, "rb")
    from apache_beam.io.filesystems import FileSystems

    return FileSystems.open(uri)


def open_write(uri: str) -> IO[bytes]:
    if not is_remote(uri):
        os.makedirs(os.path.dirname(os.path.abspath(uri)), exist_ok=True)
        return open(uri, "wb")
    from apache_beam.io.filesystems import FileSystems

    return FileSystems.create(uri)


def exists(uri: str) -> bool:
    if not is_remote(uri):
        return os.path.exists(uri)
    from apache_beam.io.filesystems import FileSystems

    return FileSystems.exists(uri)


def copy_file(local_path: str, uri: str) -> None:
    """Copy a local file to ``uri`` (a path or ``gs://``)."""
    with open(local_path, "rb") as src, open_write(uri) as dst:
        shutil.copyfileobj(src, dst)


def download_tree(uri: str, local: str) -> int:
    """Copy every file under the folder ``uri`` (gs:// or local) into ``local``; returns the count."""
    from apache_beam.io.filesystems import FileSystems

    prefix = uri.rstrip("/") + "/"
    paths = [m.path for m in FileSystems.match([prefix + "**"])[0].metadata_list]
    for path in paths:
        target = os.path.join(local, *path[len(prefix):].split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open_read(path) as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)
    return len(paths)


def upload_tree(local: str, uri: str, last: tuple[str, ...] = ()) -> int:
    """Copy every file under ``local`` to the folder ``uri``, the top-level files named in ``last`` after all
    others (a marker appears only once what it marks is there); returns the count."""
    files = sorted(os.path.relpath(os.path.join(d, f), local) for d, _, names in os.walk(local) for f in names)
    for rel in sorted(files, key=lambda r: r in last):
        copy_file(os.path.join(local, rel), join(uri, *rel.split(os.sep)))
    return len(files)


def read_text(uri: str) -> str:
    with open_read(uri) as f:
        return f.read().decode("utf-8")


def write_text(uri: str, text: str) -> None:
    """Write a whole file at once: locally into ``URI.partial``, then renamed over ``uri`` (a reader never
    sees half a file); a ``gs://`` object appears only when its upload completes."""
    if is_remote(uri):
        with open_write(uri) as f:
            f.write(text.encode("utf-8"))
        return
    with open_write(uri + ".partial") as f:
        f.write(text.encode("utf-8"))
    os.replace(uri + ".partial", uri)


def remove(uri: str) -> None:
    """Delete a file or a folder (recursively); nothing if it is not there."""
    if not is_remote(uri):
        if os.path.isdir(uri) and not os.path.islink(uri):
            shutil.rmtree(uri)
        elif os.path.lexists(uri):
            os.remove(uri)
        return
    from apache_beam.io.filesystems import FileSystems

    matches = FileSystems.match([uri.rstrip("/") + "/**"])[0].metadata_list
    paths = [m.path for m in matches] + ([uri] if FileSystems.exists(uri) else [])
    if paths:
        FileSystems.delete(paths)


def read_lines(uri: str) -> list[tuple[int, bytes]]:
    """``(line_number, raw bytes)`` of each non-blank line (decoding is the reader's, per line)."""
    with open_read(uri) as f:
        return [(n, line) for n, line in enumerate(f.read().splitlines(), start=1) if line.strip()]


def decode_line(uri: str, number: int, line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecordError(uri, number, None, f"not UTF-8 text (byte {line[exc.start]:#04x} at column "
                          f"{exc.start + 1})") from None


def iter_json_lines(uri: str) -> Iterator[tuple[int, object]]:
    """Yield ``(line_number, parsed JSON)`` for each non-blank line; bad bytes or JSON name their line."""
    for number, raw in read_lines(uri):
        line = decode_line(uri, number, raw)
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            raise RecordError(uri, number, None, f"not valid JSON: {exc.msg}") from None


def parse_record(model: type[R], data: object, source: str, line: int | None) -> R:
    if not isinstance(data, dict):
        raise RecordError(source, line, None, f"expected a JSON object, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise record_error(exc, source, line) from None


def read_records(uri: str, model: type[R]) -> list[R]:
    """Read a JSONL file of ``model`` records, all or nothing."""
    return [parse_record(model, data, uri, line) for line, data in iter_json_lines(uri)]


def write_records(uri: str, records: Iterable[BaseModel]) -> int:
    lines = [r.model_dump_json(exclude_none=True) for r in records]
    write_text(uri, "".join(line + "\n" for line in lines))
    return len(lines)


def read_manifest(uri: str) -> dict[str, VideoRecord]:
    """Videos by id, with ``uri`` resolved against the manifest's folder; ids must be unique."""
    videos: dict[str, VideoRecord] = {}
    base = dirname(uri)
    for line, data in iter_json_lines(uri):
        video = parse_record(VideoRecord, data, uri, line)
        if video.video_id in videos:
            raise RecordError(uri, line, "video_id", f"duplicate video_id {video.video_id!r}")
        videos[video.video_id] = video.model_copy(update={"uri": resolve(video.uri, base)})
    return videos


def read_items(uri: str, videos: dict[str, VideoRecord] | None = None) -> list[Item]:
    """Read items; with the manifest's videos, also check each item against its video."""
    items: list[Item] = []
    seen: set[str] = set()
    for line, data in iter_json_lines(uri):
        item = parse_record(Item, data, uri, line)
        if item.item_id in seen:
            raise RecordError(uri, line, "item_id", f"duplicate item_id {item.item_id!r}")
        seen.add(item.item_id)
        if videos is not None:
            check_item_in_video(item, videos, uri, line)
        items.append(item)
    return items


def check_item_in_video(item: Item, videos: dict[str, VideoRecord], source: str, line: int | None) -> None:
    video = videos.get(item.video_id)
    if video is None:
        raise RecordError(source, line, "video_id", f"video {item.video_id!r} is not in the manifest")
    if video.duration is None:
        return
    if item.query_time >= video.duration:
        raise RecordError(source, line, "query_time", f"{item.query_time}s is past the video's end ({video.duration}s)")
    for k, answer in enumerate(item.answers):
        if answer.latest_time() >= video.duration:
            field = f"answers.{k}." + ("interval" if answer.interval else "time")
            if answer.span and answer.span[1] >= video.duration:
                field = f"answers.{k}.span"
            raise RecordError(
                source, line, field, f"{answer.latest_time()}s is past the video's end ({video.duration}s)"
            )
