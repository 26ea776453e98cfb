"""Encode rendered frames as an H.264 MP4 with PyAV (FFmpeg's libraries)."""
from __future__ import annotations

from collections.abc import Iterable

import av
import numpy as np


def write_mp4(path: str, frames: Iterable[np.ndarray], fps: int, crf: int = 18) -> int:
    """Write RGB uint8 frames (H x W x 3, even sides) to ``path``; returns the frame count."""
    count = 0
    with av.open(path, mode="w", format="mp4") as container:
        stream = None
        for frame in frames:
            if stream is None:
                h, w = frame.shape[:2]
                stream = container.add_stream("libx264", rate=fps)
                stream.width, stream.height = w, h
                stream.pix_fmt = "yuv420p"
                stream.options = {"crf": str(crf), "preset": "veryfast", "tune": "animation"}
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
            count += 1
        if stream is not None:
            for packet in stream.encode():
                container.mux(packet)
    return count
