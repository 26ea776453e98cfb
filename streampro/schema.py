"""Versioned data contracts: video manifest, item, trajectory and prediction records.

Every record carries ``schema_version``. Readers validate each record and fail with a
:class:`RecordError` that names the file, the line (or row) and the field. The formats are
documented in ``docs/data-format.md``.
"""
from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from streampro.tasks import get_task

SCHEMA_VERSION = 1
TRAJECTORY_SCHEMA_VERSION = 2  # 2: answers and rubric as typed nested Parquet columns (1: JSON text)
_FIELD_PREFIX = re.compile(r"^(\w+(?:\.\w+)*): (.*)$", re.S)
SPLITS = ("sft", "rl", "bench")


class RecordError(ValueError):
    """A record that breaks its contract: ``file:line: field 'x': reason``."""

    def __init__(self, source: str, line: int | None, field: str | None, reason: str):
        self.source, self.line, self.field, self.reason = source, line, field, reason
        where = f"{source}:{line}" if line is not None else source
        what = f"field '{field}': " if field else ""
        super().__init__(f"{where}: {what}{reason}")


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: ClassVar[int] = SCHEMA_VERSION

    schema_version: int = SCHEMA_VERSION

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value != cls.version:
            raise ValueError(f"unsupported schema_version {value} (this code reads {cls.version}){cls.stale_hint}")
        return value

    stale_hint: ClassVar[str] = ""


class VideoRecord(_Record):
    """One video of the manifest. ``uri`` is absolute (a path or ``gs://``) or relative to the
    manifest's folder. ``duration``/``fps`` may be absent for imported annotations."""

    video_id: str = Field(min_length=1)
    uri: str = Field(min_length=1)
    duration: float | None = Field(None, gt=0)
    fps: float | None = Field(None, gt=0)
    metadata: dict = {}


class RubricCheck(BaseModel):
    """Machine-readable form of a rubric checkpoint, graded by the deterministic judge.

    - ``mentions_all``: every term appears in some response;
    - ``in_order``: the terms first appear in this order across the responses;
    - ``response_count``: the number of responses lies in ``[min, max]``;
    - ``distinct``: there are responses, and none repeats an earlier one;
    - ``first_mentions``: the first response mentions every term.
    """

    model_config = ConfigDict(extra="forbid")
    type: Literal["mentions_all", "in_order", "response_count", "distinct", "first_mentions"]
    terms: list[str] = []
    min: int | None = Field(None, ge=0)
    max: int | None = Field(None, ge=0)


class Rubric(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rubric_id: str
    aspect: Literal["granularity", "coherence", "coverage"]
    rubric: str
    check: RubricCheck | None = None


class Answer(BaseModel):
    """A ground-truth response with its best response timing: ``interval`` or ``time``."""

    model_config = ConfigDict(extra="forbid")
    text: str
    interval: tuple[float, float] | None = None
    time: float | None = Field(None, ge=0)
    span: tuple[float, float] | None = None

    @model_validator(mode="after")
    def _one_timing(self) -> "Answer":
        if (self.interval is None) == (self.time is None):
            raise ValueError("exactly one of 'interval' and 'time' must be given")
        for name in ("interval", "span"):
            pair = getattr(self, name)
            if pair is not None and not (0 <= pair[0] <= pair[1]):
                raise ValueError(f"'{name}' must be [start, end] with 0 <= start <= end")
        return self

    @property
    def start(self) -> float:
        return self.interval[0] if self.interval else self.time  # type: ignore[return-value]

    @property
    def end(self) -> float:
        return self.interval[1] if self.interval else self.time  # type: ignore[return-value]

    def latest_time(self) -> float:
        """The latest time this answer mentions (timing or span)."""
        return max(self.end, self.span[1] if self.span else 0.0)


class Item(_Record):
    """A StreamPro-Bench item, used for training and evaluation alike."""

    item_id: str = Field(min_length=1)
    video_id: str = Field(min_length=1)
    split: Literal["sft", "rl", "bench"]
    source: str = "synthetic"
    task: str
    dimension: str | None = None
    question: str
    query_time: float = Field(ge=0)
    options: list[str] | None = None
    answers: list[Answer] = Field(min_length=1)
    rubric: list[Rubric] = []

    @field_validator("task")
    @classmethod
    def _known_task(cls, value: str) -> str:
        try:
            get_task(value)
        except KeyError as exc:
            raise ValueError(exc.args[0]) from None
        return value

    @model_validator(mode="after")
    def _fits_task(self) -> "Item":
        spec = get_task(self.task)
        if self.dimension != spec.dimension:
            raise ValueError(f"dimension: task {self.task} belongs to {spec.dimension}, not {self.dimension}")
        for k, answer in enumerate(self.answers):
            if spec.timing == "interval" and answer.interval is None:
                raise ValueError(f"answers.{k}.interval: task {self.task} answers are timed by 'interval'")
            if spec.timing == "time" and answer.time is None:
                raise ValueError(f"answers.{k}.time: task {self.task} answers are timed by 'time'")
            if spec.needs_span and answer.span is None:
                raise ValueError(f"answers.{k}.span: task {self.task} answers need a 'span'")
            if answer.end < self.query_time:
                raise ValueError(f"answers.{k}: due at {answer.end}s, before the query at {self.query_time}s")
        return self

    def latest_time(self) -> float:
        return max([self.query_time] + [a.latest_time() for a in self.answers])


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    index: int = Field(ge=0)
    start: float = Field(ge=0)
    end: float = Field(gt=0)
    frame: bytes
    user_text: str = ""
    target: str


class Trajectory(_Record):
    """One item's video as a stream of turns, with the assistant target of every turn."""

    version: ClassVar[int] = TRAJECTORY_SCHEMA_VERSION
    stale_hint: ClassVar[str] = ": re-run slice"
    schema_version: int = TRAJECTORY_SCHEMA_VERSION
    trajectory_id: str
    item_id: str
    video_id: str
    split: Literal["sft", "rl", "bench"]
    task: str
    fps: float = Field(gt=0)
    turns: list[Turn] = Field(min_length=1)
    answers: list[Answer]
    rubric: list[Rubric] = []


class Response(BaseModel):
    model_config = ConfigDict(extra="forbid")
    time: float = Field(ge=0, allow_inf_nan=False)
    text: str


class Prediction(_Record):
    """A policy's responses to one item, in time order."""

    item_id: str = Field(min_length=1)
    responses: list[Response]  # required: an empty list is "stayed silent", a missing one is a broken file

    @field_validator("responses")
    @classmethod
    def _sorted(cls, value: list[Response]) -> list[Response]:
        for k in range(1, len(value)):
            if value[k].time < value[k - 1].time:
                raise ValueError(f"{k}.time: {value[k].time} is before the previous response's {value[k - 1].time} (unsorted)")
        return value


def record_error(exc: ValidationError, source: str, line: int | None) -> RecordError:
    """Turn pydantic's error into one naming the file, line and first bad field."""
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or None
    reason = err["msg"].removeprefix("Value error, ")
    # Whole-record validators name their field as a "field.path: reason" prefix.
    prefixed = _FIELD_PREFIX.match(reason)
    if prefixed:
        inner, reason = prefixed.groups()
        field = f"{field}.{inner}" if field else inner
    extra = len(exc.errors()) - 1
    if extra:
        reason += f" (and {extra} more problem{'s' if extra > 1 else ''})"
    return RecordError(source, line, field, reason)
