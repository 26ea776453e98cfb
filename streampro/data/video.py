"""Video decoding with decord: sample frames at a fixed rate, resize, JPEG-encode."""
from __future__ import annotations

import io
import os
from dataclasses import dataclass

import numpy as np
from PIL import Image

from streampro import storage
from streampro.timing import num_turns


class VideoError(ValueError):
    """A video that cannot be used: unreadable, truncated, or without frames."""


@dataclass
class SampledVideo:
    frames: list[np.ndarray]  # RGB uint8, one per turn
    duration: float  # seconds, as decoded
    fps: float  # the file's frame rate


def sample_frames(uri: str, sample_fps: float, size: int) -> SampledVideo:
    """Decode the frames at times ``i / sample_fps`` (the time rule), resized to ``size`` x ``size``."""
    import decord

    if storage.is_remote(uri):  # decord reads remote videos from memory, local ones straight from disk
        try:
            with storage.open_read(uri) as f:
                source = io.BytesIO(f.read())
        except Exception as exc:  # noqa: BLE001 - any filesystem's failure is this video's, not the job's
            raise VideoError(f"cannot open {uri}: {type(exc).__name__}: {str(exc)[:200]}") from None
        empty = source.getbuffer().nbytes == 0
    else:
        if not os.path.isfile(uri):
            raise VideoError(f"cannot open {uri}: no such file")
        source, empty = uri, os.path.getsize(uri) == 0
    if empty:
        raise VideoError(f"{uri} is empty (0 bytes)")
    try:
        reader = decord.VideoReader(source, width=size, height=size, num_threads=1)
        n_frames, fps = len(reader), float(reader.get_avg_fps())
        if n_frames == 0 or fps <= 0:
            raise VideoError(f"{uri} has no decodable frames")
        duration = n_frames / fps
        indices = [min(n_frames - 1, int(round(i / sample_fps * fps))) for i in range(num_turns(duration, sample_fps))]
        frames = list(reader.get_batch(indices).asnumpy())
    except VideoError:
        raise
    except Exception as exc:  # decord raises its own DECORDError / RuntimeError on bad streams
        raise VideoError(f"cannot decode {uri}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}") from None
    return SampledVideo(frames, duration, fps)


def encode_jpeg(frame: np.ndarray, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def decode_jpeg(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def live_turns(uri: str, sample_fps: float, size: int, jpeg_quality: int, question: str,
               query_time: float = 0.0) -> list:
    """A video as the turns a streaming policy sees live (the question in the turn of ``query_time``)."""
    from streampro.policy import TurnInput
    from streampro.timing import turn_end, turn_of, turn_start

    frames = sample_frames(uri, sample_fps, size).frames
    ask = turn_of(query_time, sample_fps)
    return [TurnInput(i, turn_start(i, sample_fps), turn_end(i, sample_fps), encode_jpeg(frame, jpeg_quality),
                      question if i == ask else "") for i, frame in enumerate(frames)]
