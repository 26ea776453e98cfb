"""Video decoding with decord: sample frames at a fixed rate, resize, JPEG-encode."""
from __future__ import annotations

import io as _io
import os
from dataclasses import dataclass

import numpy as np
from PIL import Image

from streampro import io
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

    if io.is_remote(uri):  # decord reads remote videos from memory, local ones straight from disk
        try:
            with io.open_read(uri) as f:
                source = _io.BytesIO(f.read())
        except (FileNotFoundError, OSError) as exc:
            raise VideoError(f"cannot open {uri}: {exc}") from None
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
    buffer = _io.BytesIO()
    Image.fromarray(frame).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def decode_jpeg(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(_io.BytesIO(data)).convert("RGB"))
