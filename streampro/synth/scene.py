"""Scenes of the synthetic video world: sprites and region fills, drawn with numpy.

Coordinates are fractions of the frame (``x`` right, ``y`` down, both in [0, 1]); sizes are
fractions of the frame's side. A :class:`Sprite` moves through key states: position and size
interpolate linearly between keys, colour and visibility switch at a key's time.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import numpy as np

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (225, 35, 35),
    "green": (40, 200, 60),
    "blue": (40, 90, 240),
    "yellow": (245, 225, 40),
    "purple": (175, 60, 215),
    "orange": (250, 140, 20),
    "white": (245, 245, 245),
}
SPRITE_COLOURS = ["red", "green", "blue", "yellow", "purple"]
SHAPES = ["circle", "square", "triangle"]
BACKGROUND = (25, 25, 30)


@dataclass(frozen=True)
class Key:
    t: float
    x: float
    y: float
    size: float
    colour: str
    visible: bool = True


@dataclass(frozen=True)
class State:
    x: float
    y: float
    size: float
    colour: str
    visible: bool


@dataclass
class Sprite:
    shape: str
    keys: list[Key]
    name: str = ""

    def __post_init__(self) -> None:
        self.keys = sorted(self.keys, key=lambda k: k.t)
        self._times = [k.t for k in self.keys]

    def state(self, t: float) -> State:
        i = bisect.bisect_right(self._times, t) - 1
        if i < 0:
            k = self.keys[0]
            return State(k.x, k.y, k.size, k.colour, k.visible)
        a = self.keys[i]
        if i + 1 >= len(self.keys):
            return State(a.x, a.y, a.size, a.colour, a.visible)
        b = self.keys[i + 1]
        w = (t - a.t) / (b.t - a.t) if b.t > a.t else 1.0
        return State(a.x + w * (b.x - a.x), a.y + w * (b.y - a.y), a.size + w * (b.size - a.size), a.colour, a.visible)

    def draw(self, frame: np.ndarray, t: float) -> None:
        s = self.state(t)
        if s.visible:
            draw_shape(frame, self.shape, s.x, s.y, s.size, COLOURS[s.colour])


@dataclass
class Fill:
    """A rectangle of colour over ``[x0, x1] x [y0, y1]`` shown from ``start`` to ``end``;
    ``flicker`` alternates it with a second colour every frame-second half."""

    x0: float
    y0: float
    x1: float
    y1: float
    colour: str
    start: float = 0.0
    end: float = float("inf")
    flicker: str | None = None

    def draw(self, frame: np.ndarray, t: float) -> None:
        if not (self.start <= t < self.end):
            return
        h, w = frame.shape[:2]
        colour = self.colour
        if self.flicker and int((t - self.start) * 4) % 2 == 1:
            colour = self.flicker
        frame[int(self.y0 * h) : int(self.y1 * h), int(self.x0 * w) : int(self.x1 * w)] = COLOURS[colour]


@dataclass
class Polygon:
    """A fixed polygon (e.g. the road of the ego view), in frame fractions."""

    points: list[tuple[float, float]]
    rgb: tuple[int, int, int]

    def draw(self, frame: np.ndarray, t: float) -> None:
        h, w = frame.shape[:2]
        frame[polygon_mask(h, w, [(x * w, y * h) for x, y in self.points])] = self.rgb


@dataclass
class Scene:
    duration: int
    layers: list = field(default_factory=list)
    background: tuple[int, int, int] = BACKGROUND

    def render(self, t: float, size: int) -> np.ndarray:
        frame = np.empty((size, size, 3), dtype=np.uint8)
        frame[:] = self.background
        for layer in self.layers:
            layer.draw(frame, t)
        return frame


def polygon_mask(h: int, w: int, points: list[tuple[float, float]]) -> np.ndarray:
    """Pixels whose centres lie inside a convex polygon given in pixel coordinates."""
    yy, xx = np.mgrid[0:h, 0:w]
    px, py = xx + 0.5, yy + 0.5
    inside_pos = np.ones((h, w), dtype=bool)
    inside_neg = np.ones((h, w), dtype=bool)
    n = len(points)
    for i in range(n):
        (x0, y0), (x1, y1) = points[i], points[(i + 1) % n]
        cross = (x1 - x0) * (py - y0) - (y1 - y0) * (px - x0)
        inside_pos &= cross >= 0
        inside_neg &= cross <= 0
    return inside_pos | inside_neg


def draw_shape(frame: np.ndarray, shape: str, x: float, y: float, size: float, rgb: tuple[int, int, int]) -> None:
    h, w = frame.shape[:2]
    cx, cy, r = x * w, y * h, size * w / 2
    if shape == "square":
        frame[max(0, int(cy - r)) : max(0, int(cy + r)), max(0, int(cx - r)) : max(0, int(cx + r))] = rgb
    elif shape == "circle":
        yy, xx = np.mgrid[0:h, 0:w]
        frame[(xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2 <= r * r] = rgb
    elif shape == "triangle":
        frame[polygon_mask(h, w, [(cx, cy - r), (cx + r, cy + r), (cx - r, cy + r)])] = rgb
    else:
        raise ValueError(f"unknown shape {shape!r}")
