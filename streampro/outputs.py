"""Step outputs written atomically, with a completion marker that consumers check.

A step writes its output folder through :func:`step_output`:

- locally, into ``OUT.partial`` (cleared first, but for the entries named in ``keep``, such as a
  training run's ``checkpoints/``, carried over from an earlier partial or complete output), renamed
  over ``OUT`` when the step succeeds, and then completed by ``OUT/_COMPLETE.json``;
- on ``gs://``, which has no rename, in place: the marker is removed first and written last, so the
  marker is the commit point.

The marker records the step, its counts and a fingerprint of its inputs. A consumer calls
:func:`require_complete` and refuses an output without one, with the step to re-run.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from streampro import storage

MARKER = "_COMPLETE.json"


class IncompleteOutput(FileNotFoundError):
    """An input that is missing, or a step output without its completion marker."""


class UnusableOutput(ValueError):
    """A step that ran to its end but whose output must not be used (too many dead letters, say): the
    output is kept for inspection, without a completion marker."""


class TooManyDeadLetters(UnusableOutput):
    """A step whose inputs mostly (or all) ended as dead letters: its output is not worth using."""


def check_dead_letter_share(step: str, read: int, dead: int, max_share: float, counts: dict, where: str) -> None:
    """Fail when nothing was read, when every input died, or when the dead share passes ``max_share``."""
    if read == 0:
        raise TooManyDeadLetters(f"{step}: no inputs at all ({counts})")
    if dead == read or dead / read > max_share:
        raise TooManyDeadLetters(f"{step}: {dead} of {read} inputs ended as dead letters (share {dead / read:.2f} > "
                                 f"max_dead_letter_share {max_share}); the reasons are in {where}. Counts: {counts}")


@dataclass
class StepOutput:
    path: str  # where the step writes now (OUT.partial locally, OUT on gs://)
    counts: dict = field(default_factory=dict)  # what the marker records


def fingerprint(inputs: Iterable[str | None]) -> str:
    """A hash of the inputs: a step output by its marker, a file by its bytes, a folder by its listing."""
    digest = hashlib.sha256()
    for uri in sorted(u for u in inputs if u):
        marker = storage.join(uri, MARKER)
        if storage.exists(marker):
            digest.update(f"{uri}:{json.loads(storage.read_text(marker))['fingerprint']}".encode())
        elif not storage.is_remote(uri) and os.path.isdir(uri):
            listing = sorted((os.path.relpath(os.path.join(d, f), uri), os.path.getsize(os.path.join(d, f)))
                             for d, _, files in os.walk(uri) for f in files)
            digest.update(f"{uri}:{listing}".encode())
        elif storage.exists(uri):
            with storage.open_read(uri) as f:
                digest.update(f"{uri}:".encode() + hashlib.sha256(f.read()).digest())
        else:
            digest.update(f"{uri}:missing".encode())
    return digest.hexdigest()[:16]


def _prepare_local(out: str, keep: tuple[str, ...]) -> str:
    partial = out.rstrip("/") + ".partial"
    os.makedirs(partial, exist_ok=True)
    for name in os.listdir(partial):
        if name not in keep:
            storage.remove(os.path.join(partial, name))
    for name in keep:  # from the complete output, unless a killed run left newer ones in the partial
        if os.path.exists(os.path.join(out, name)) and not os.path.exists(os.path.join(partial, name)):
            shutil.move(os.path.join(out, name), os.path.join(partial, name))
    storage.remove(out)  # the step owns its output: no stale file survives, and a killed run leaves none
    return partial


def code_fingerprint(files: list[str] | None = None) -> str:
    """A hash of this package's source (or of ``files``, paths like ``streampro/train/sft.py``): a training
    run resumes only with the code that started it."""
    package = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(package)
    paths = _walk_py(package) if files is None else (os.path.join(root, f) for f in files)
    digest = hashlib.sha256()
    for path in sorted(paths):
        with open(path, "rb") as f:
            digest.update(os.path.relpath(path, package).encode() + b"\0" + f.read())
    return digest.hexdigest()[:16]


def _walk_py(folder: str) -> Iterator[str]:
    for d, _, files in os.walk(folder):
        yield from (os.path.join(d, f) for f in files if f.endswith(".py"))


@contextmanager
def step_output(out: str, step: str, inputs: Iterable[str | None] = (), keep: tuple[str, ...] = (),
                settings: object = None, sync: Callable[[], None] | None = None, main: bool = True
                ) -> Iterator[StepOutput]:
    """The folder a step writes, committed (renamed, then marked) only when the block succeeds. The
    marker's fingerprint covers the inputs and the step's ``settings``, so a consumer's fingerprint
    changes whenever what it reads could have.

    In a distributed run every rank enters it with ``sync`` (a barrier): rank 0 (``main``) prepares the
    folder and commits it; the other ranks work in the same folder and commit nothing."""
    inputs = list(inputs)
    if not main:
        if sync:
            sync()  # rank 0 has prepared the folder
        yield StepOutput(out if storage.is_remote(out) else out.rstrip("/") + ".partial")
        if sync:
            sync()  # before rank 0 commits
        return
    if storage.is_remote(out):
        storage.remove(storage.join(out, MARKER))
        for name in _entries(out):
            if name not in keep:
                storage.remove(storage.join(out, name))
        result = StepOutput(out)
    else:
        result = StepOutput(_prepare_local(out, keep))
    if sync:
        sync()
    try:
        yield result
    except UnusableOutput:
        if not storage.is_remote(out):
            os.replace(result.path, out)
        raise
    if sync:
        sync()  # every rank has finished writing
    if not storage.is_remote(out):
        storage.remove(out)
        os.replace(result.path, out)
    own = hashlib.sha256(json.dumps([fingerprint(inputs), settings], sort_keys=True, default=str).encode())
    marker = {"step": step, "counts": result.counts, "fingerprint": own.hexdigest()[:16],
              "inputs": sorted(i for i in inputs if i)}
    storage.write_text(storage.join(out, MARKER), json.dumps(marker, indent=2, sort_keys=True, default=str) + "\n")


def fetched(uri: str | None, download: bool = True) -> str | None:
    """A local copy of the folder ``uri`` (a model at gs://, for tools that load only local folders);
    ``uri`` itself when local. The copy's place depends only on ``uri`` (the same folder for every rank of
    a machine); ``download`` False only names it (another rank fetches)."""
    if not uri or not storage.is_remote(uri):
        return uri
    import tempfile

    local = os.path.join(tempfile.gettempdir(), "streampro-fetched", hashlib.sha256(uri.encode()).hexdigest()[:12])
    if download and not os.path.exists(os.path.join(local, MARKER)):
        storage.remove(local)
        storage.download_tree(uri, local + ".partial")
        os.replace(local + ".partial", local)
    return local


@contextmanager
def staged(out: str, keep: tuple[str, ...] = (), sync: Callable[[], None] | None = None, main: bool = True,
           node_main: bool = True) -> Iterator[str]:
    """A local folder standing for ``out``: ``out`` itself when local; for a ``gs://`` folder, a staging
    folder on this machine (the same for every rank of it) that first receives ``out``'s ``keep`` entries
    (checkpoints to resume from; by the first rank of each machine, ``node_main``) and whose files are
    uploaded to ``out`` when the block succeeds (by rank 0, ``main``; the marker last). For steps whose
    tools write only local files (a trainer's checkpoints)."""
    if not storage.is_remote(out):
        yield out
        return
    import tempfile

    local = os.path.join(tempfile.gettempdir(), "streampro-staging", hashlib.sha256(out.encode()).hexdigest()[:12],
                         os.path.basename(out.rstrip("/")))
    if node_main:
        storage.remove(local)
        for name in keep:
            if _entries(storage.join(out, name)):
                storage.download_tree(storage.join(out, name), os.path.join(local, name))
    if sync:
        sync()
    yield local
    if sync:
        sync()
    if main:
        storage.remove(out)
        storage.upload_tree(local, out, last=(MARKER,))


def _entries(folder: str) -> list[str]:
    from apache_beam.io.filesystems import FileSystems

    prefix = folder.rstrip("/") + "/"
    matches = FileSystems.match([prefix + "**"])[0].metadata_list
    return sorted({m.path[len(prefix):].split("/", 1)[0] for m in matches})


def require_complete(uri: str, step: str, levels: int = 1) -> dict:
    """The marker of the step output that holds ``uri`` (``uri`` itself or up to ``levels`` folders
    above it); an error naming the step to re-run when there is none."""
    folder = uri
    for _ in range(levels + 1):
        marker = storage.join(folder, MARKER)
        if storage.exists(marker):
            return json.loads(storage.read_text(marker))
        folder = storage.dirname(folder.rstrip("/"))
    if not storage.is_remote(uri) and not os.path.exists(uri):  # (gs:// has no folders to look for)
        raise IncompleteOutput(f"{uri} does not exist: run `streampro {step}` first")
    raise IncompleteOutput(f"{uri} is not a complete output of `streampro {step}` (no {MARKER}: the step did not "
                           f"finish, or was killed): re-run {step}")
