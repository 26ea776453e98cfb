"""The seven StreamPro-Bench tasks as scenes of the synthetic world, with exact ground truth.

Each generator draws one scene of ``duration`` whole seconds and returns an :class:`Scenario`: the
scene, the question, the ground-truth answers (times on whole seconds, tolerance windows within
the item disjoint), a key term per answer for the rubric checks, and probes: pixels whose colour
at a given time shows that the annotated event really is on screen.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from streampro.synth.scene import SHAPES, SPRITE_COLOURS, Fill, Key, Polygon, Scene, Sprite


@dataclass
class Probe:
    time: int
    x: float
    y: float
    colour: str


@dataclass
class Scenario:
    scene: Scene
    task: str
    question: str
    query_time: int
    answers: list[dict]
    terms: list[str]
    probes: list[Probe] = field(default_factory=list)


def schedule(rng: np.random.Generator, lengths: list[int], gap: int, first: int, last: int) -> list[tuple[int, int]]:
    """Place events of the given lengths in ``[first, last]``, each starting at least ``gap``
    seconds after the previous one ends; the spare time is spread at random."""
    need = sum(lengths) + gap * (len(lengths) - 1)
    spare = last - first - need
    if spare < 0:
        raise ValueError(f"{len(lengths)} events of {lengths}s with gaps of {gap}s do not fit in [{first}, {last}]")
    cuts = np.sort(rng.integers(0, spare + 1, size=len(lengths)))
    slots, t = [], first
    for k, length in enumerate(lengths):
        t += int(cuts[k] - (cuts[k - 1] if k else 0))
        slots.append((t, t + length))
        t += length + gap
    return slots


def _pick(rng: np.random.Generator, options: list[str], n: int) -> list[str]:
    return [options[i] for i in rng.choice(len(options), size=n, replace=False)]


def _probe(sprite: Sprite, t: int) -> Probe:
    s = sprite.state(t)
    return Probe(t, s.x, s.y, s.colour)


GRID = (0.2, 0.5, 0.8)
MOVES = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}


def event_understanding(rng: np.random.Generator, duration: int) -> Scenario:
    colour, shape = _pick(rng, SPRITE_COLOURS, 1)[0], _pick(rng, SHAPES, 1)[0]
    q = int(rng.integers(0, 2))
    slots = schedule(rng, [int(v) for v in rng.integers(2, 4, size=3)], 4, q + 1, duration - 1)
    col, row, size = 1, 1, 0.3
    keys = [Key(0, GRID[col], GRID[row], size, colour)]
    answers, terms = [], []
    for start, end in slots:
        options = [m for m, (dx, dy) in MOVES.items() if 0 <= col + dx <= 2 and 0 <= row + dy <= 2]
        options.append("shrinks" if size > 0.3 else "grows")
        step = options[int(rng.integers(len(options)))]
        keys.append(Key(start, GRID[col], GRID[row], size, colour))
        if step in MOVES:
            col, row = col + MOVES[step][0], row + MOVES[step][1]
            text = f"the {colour} {shape} moves {step}"
        else:
            size = 0.42 if step == "grows" else 0.3
            text = f"the {colour} {shape} {step}"
        keys.append(Key(end, GRID[col], GRID[row], size, colour))
        answers.append({"text": text, "interval": [start, end]})
        terms.append(step)
    sprite = Sprite(shape, keys)
    return Scenario(
        Scene(duration, [sprite]), "EU",
        f"Describe each step of what the {colour} {shape} does.", q, answers, terms,
        [_probe(sprite, end) for _, end in slots],
    )


def object_understanding(rng: np.random.Generator, duration: int) -> Scenario:
    shape, other_shape = _pick(rng, SHAPES, 2)
    c1, c2, c3, c4 = _pick(rng, SPRITE_COLOURS, 4)
    q = int(rng.integers(0, 2))
    t = int(rng.integers(q + 4, duration - 3))
    decoy = int(rng.integers(q + 2, duration - 2))
    target = Sprite(shape, [Key(0, 0.28, 0.5, 0.36, c1), Key(t, 0.28, 0.5, 0.36, c2)])
    other = Sprite(other_shape, [Key(0, 0.74, 0.5, 0.3, c3), Key(decoy, 0.74, 0.5, 0.3, c4)])
    return Scenario(
        Scene(duration, [target, other]), "OU",
        f"Tell me when the {shape} turns {c2}.", q,
        [{"text": f"the {shape} turned {c2}", "time": t}], [c2],
        [_probe(target, t - 1), _probe(target, t)],
    )


ANOMALIES = {  # kind -> region and colours
    "fire": ((0.0, 0.62, 1.0, 1.0), "orange", "red"),
    "flood": ((0.0, 0.5, 1.0, 1.0), "blue", None),
    "smoke": ((0.0, 0.0, 1.0, 0.45), "white", None),
}


def anomaly_alert(rng: np.random.Generator, duration: int) -> Scenario:
    kind = list(ANOMALIES)[int(rng.integers(len(ANOMALIES)))]
    (x0, y0, x1, y1), colour, flicker = ANOMALIES[kind]
    q = int(rng.integers(0, 2))
    onset = int(rng.integers(q + 4, duration - 5))
    c1, c2 = _pick(rng, ["green", "purple", "yellow"], 2)
    s1, s2 = _pick(rng, SHAPES, 2)
    walkers = [
        Sprite(s1, [Key(0, 0.15, 0.3, 0.2, c1), Key(duration, 0.85, 0.3, 0.2, c1)]),
        Sprite(s2, [Key(0, 0.85, 0.7, 0.2, c2), Key(duration, 0.15, 0.7, 0.2, c2)]),
    ]
    fill = Fill(x0, y0, x1, y1, colour, start=onset, flicker=flicker)
    # Probe an edge of the region, away from the walking sprites' paths.
    px, py = (0.5, 0.04) if kind == "smoke" else (0.04, 0.96)
    return Scenario(
        Scene(duration, walkers + [fill]), "AA",
        "Alert me as soon as anything unusual happens.", q,
        [{"text": f"alert: {kind}", "time": onset}], [kind],
        [Probe(onset - 1, px, py, "background"), Probe(onset, px, py, colour)],
    )


def _crossing(shape: str, colour: str, start: int, end: int, y: float, leftward: bool) -> Sprite:
    xa, xb = (1.2, -0.2) if leftward else (-0.2, 1.2)
    return Sprite(shape, [
        Key(0, xa, y, 0.32, colour, False), Key(start, xa, y, 0.32, colour),
        Key(end, xb, y, 0.32, colour, False),
    ])


def temporal_perception(rng: np.random.Generator, duration: int) -> Scenario:
    n = 4 if duration >= 28 else 3
    q = int(rng.integers(0, 2))
    slots = schedule(rng, [int(v) for v in rng.integers(2, 4, size=n)], 4, q + 1, duration - 1)
    colours, shapes = _pick(rng, SPRITE_COLOURS, n), [SHAPES[int(rng.integers(3))] for _ in range(n)]
    sprites = [
        _crossing(shapes[k], colours[k], s, e, 0.5, bool(rng.integers(2))) for k, (s, e) in enumerate(slots)
    ]
    answers = [
        {"text": f"the {colours[k]} {shapes[k]} crosses the screen", "interval": list(slots[k])} for k in range(1, n)
    ]
    probes = []
    for k in range(1, n):
        mid = (slots[k][0] + slots[k][1]) // 2 if slots[k][1] - slots[k][0] > 2 else slots[k][0] + 1
        probes.append(_probe(sprites[k], mid))
    return Scenario(
        Scene(duration, sprites), "TP",
        f"Which events happen after the {colours[0]} {shapes[0]} crosses the screen?", q,
        answers, colours[1:], probes,
    )


def temporal_grounding(rng: np.random.Generator, duration: int) -> Scenario:
    shape, other_shape = _pick(rng, SHAPES, 2)
    colour, other = _pick(rng, SPRITE_COLOURS, 2)
    q = int(rng.integers(0, 2))
    length = int(rng.integers(3, 7))
    ((start, end),) = schedule(rng, [length], 0, q + 2, duration - 4)
    y, x0, x1 = (0.3, 0.2, 0.8) if rng.integers(2) else (0.3, 0.8, 0.2)
    mover = Sprite(shape, [Key(0, x0, y, 0.3, colour), Key(start, x0, y, 0.3, colour), Key(end, x1, y, 0.3, colour)])
    still = Sprite(other_shape, [Key(0, 0.5, 0.75, 0.28, other)])
    return Scenario(
        Scene(duration, [mover, still]), "TG",
        f"When the {colour} {shape} stops moving, tell me when its movement started and ended.", q,
        [{"text": f"from {start}s to {end}s", "time": end, "span": [start, end]}], [f"{start}s", f"{end}s"],
        [_probe(mover, start), _probe(mover, end)],
    )


def goal_planning(rng: np.random.Generator, duration: int) -> Scenario:
    colours = _pick(rng, SPRITE_COLOURS, 3)
    q = int(rng.integers(0, 2))
    slots = schedule(rng, [int(v) for v in rng.integers(2, 4, size=3)], 2, q + 2, duration - 1)
    blocks = []
    for k, colour in enumerate(colours):
        home = Key(0, 0.12 + 0.22 * k, 0.88, 0.2, colour)
        start, end = slots[k]
        blocks.append(Sprite("square", [home, Key(start, home.x, home.y, 0.2, colour),
                                        Key(end, 0.86, 0.88 - 0.2 * k, 0.2, colour)]))
    answers, terms = [], []
    for k, (_, end) in enumerate(slots):
        if k + 1 < len(colours):
            answers.append({"text": f"next, place the {colours[k + 1]} block", "time": end})
            terms.append(colours[k + 1])
        else:
            answers.append({"text": "done, the tower is complete", "time": end})
            terms.append("done")
    return Scenario(
        Scene(duration, blocks), "GP",
        f"I want to stack the {colours[0]}, {colours[1]} and {colours[2]} blocks in that order. "
        "Tell me the next step each time a step is done.", q, answers, terms,
        [_probe(blocks[k], end) for k, (_, end) in enumerate(slots)],
    )


ROAD = Polygon([(0.42, 0.4), (0.58, 0.4), (1.0, 1.0), (0.0, 1.0)], (70, 70, 75))
LANES = {"left": (-0.22, "keep right"), "centre": (0.0, "brake"), "right": (0.22, "keep left")}
HORIZON, NEAR = 0.4, 0.82


def _approach(shape: str, colour: str, lane: float, appear: int, hazard: int) -> Sprite:
    """An obstacle closing in at constant speed: reached (distance 1) at ``hazard``."""
    speed = 6.0 / (hazard - appear)  # from distance 7 to distance 1
    keys = [Key(0, 0.5, HORIZON, 0.0, colour, False)]
    for t in range(appear, hazard + 1):
        scale = 1.0 / (1.0 + speed * (hazard - t))
        keys.append(Key(t, 0.5 + lane * scale, HORIZON + (NEAR - HORIZON) * scale, 0.5 * scale, colour))
    keys.append(Key(hazard + 1, 0.5, NEAR, 0.5, colour, False))
    return Sprite(shape, keys)


def risk_forecasting(rng: np.random.Generator, duration: int) -> Scenario:
    n = 2 if duration >= 26 else 1
    q = int(rng.integers(0, 2))
    lengths = [int(v) for v in rng.integers(6, 9, size=n)]
    slots = schedule(rng, lengths, 2, q + 1, duration - 2)
    sprites, answers, terms, probes = [], [], [], []
    for appear, hazard in slots:
        shape, colour = SHAPES[int(rng.integers(3))], _pick(rng, ["red", "yellow", "orange", "white"], 1)[0]
        lane = list(LANES)[int(rng.integers(3))]
        offset, advice = LANES[lane]
        sprite = _approach(shape, colour, offset, appear, hazard)
        sprites.append(sprite)
        warn = hazard - 3
        answers.append({"text": f"warning: {colour} {shape} ahead, {advice}", "time": warn})
        terms.append(advice)
        probes.append(_probe(sprite, hazard))
    return Scenario(
        Scene(duration, [ROAD] + sprites), "RF",
        "I am driving. Warn me early about any hazard ahead and tell me what to do.", q,
        answers, terms, probes,
    )


GENERATORS = {
    "EU": event_understanding, "OU": object_understanding, "AA": anomaly_alert,
    "TP": temporal_perception, "TG": temporal_grounding, "GP": goal_planning, "RF": risk_forecasting,
}
