"""What a person looks at to see why a policy scores what it does: per bench item, the ground truth beside
the policy's responses (with times and scores), and a timeline (answer windows as bands, each response
as a tick coloured by its score, the frame at that second beside it). Parts of a policy's report.html.
"""
from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field

from streampro.bench.metric import response_scores
from streampro.schema import Item, Prediction
from streampro.tasks import get_task

MAX_FRAMES = 6  # frames shown per item (at its first responses): keeps a page well under 1 MB


@dataclass
class ItemView:
    item: Item
    responses: list[tuple[float, str, float | None]] = field(default_factory=list)  # (time, text, score or None)
    duration: float = 0.0


def item_views(items: list[Item], predictions: dict[str, Prediction], judge,
               durations: dict[str, float] | None = None) -> list[ItemView]:
    views = []
    for item in items:
        responses = predictions[item.item_id].responses if item.item_id in predictions else []
        scored = response_scores(item, responses, judge)
        latest = max([item.query_time, *(a.latest_time() for a in item.answers), *(t for t, _, _ in scored)])
        views.append(ItemView(item, scored, (durations or {}).get(item.video_id) or latest + 2))
    return views


def _colour(score: float | None) -> str:
    if score is None:
        return "#999999"  # outside every answer window
    red, green = int(220 * (1 - score)), int(170 * score)
    return f"#{red:02x}{green:02x}30"


def timeline_svg(view: ItemView, width: int = 640) -> str:
    """Answer windows as bands (their best time as a line), the question as a marker, responses as ticks."""
    scale = (width - 20) / max(view.duration, 1.0)
    x = lambda t: 10 + t * scale  # noqa: E731
    parts = [f"<svg width='{width}' height='46' role='img' class='timeline'>",
             f"<line x1='10' y1='30' x2='{width - 10}' y2='30' stroke='#bbb'/>"]
    for second in range(0, int(view.duration) + 1, 5):
        parts.append(f"<text x='{x(second):.1f}' y='44' font-size='9' fill='#777'>{second}s</text>")
    spec = get_task(view.item.task)
    for answer in view.item.answers:
        low, high = spec.window(answer.start, answer.end)  # where a response is matched to this answer
        parts.append(f"<rect class='window' x='{x(low):.1f}' y='18' width='{max(2.0, (high - low) * scale):.1f}' "
                     f"height='24' fill='#cde8cd'><title>{html.escape(answer.text)} (due {answer.end:g}s)</title></rect>")
        parts.append(f"<line x1='{x(answer.end):.1f}' y1='18' x2='{x(answer.end):.1f}' y2='42' stroke='#2a7a2a'/>")
    parts.append(f"<path d='M{x(view.item.query_time):.1f},4 l5,8 l-10,0 z' fill='#3355aa'>"
                 f"<title>question at {view.item.query_time:g}s</title></path>")
    for time, text, score in view.responses:
        label = f"[{time:g}s] {text}" + ("" if score is None else f" (score {score:.2f})")
        parts.append(f"<rect class='response' x='{x(time) - 1.5:.1f}' y='14' width='3' height='30' "
                     f"fill='{_colour(score)}'><title>{html.escape(label)}</title></rect>")
    return "".join(parts) + "</svg>"


def _frames(view: ItemView, frames: dict[float, bytes] | None) -> str:
    """The frame the policy saw when it responded (frames by their turn's start time, as responses are stamped)."""
    if not frames:
        return ""
    shown = []
    for time, text, score in view.responses[:MAX_FRAMES]:
        frame = frames.get(round(time, 3))
        if frame:
            data = base64.b64encode(frame).decode()
            shown.append(f"<figure><img src='data:image/jpeg;base64,{data}' width='56' height='56' "
                         f"title='{html.escape(text)}'><figcaption>{time:g}s</figcaption></figure>")
    return f"<div class='frames'>{''.join(shown)}</div>" if shown else ""


def item_section(view: ItemView, frames: dict[float, bytes] | None = None) -> str:
    item = view.item
    truth = "".join(f"<li>{a.start:g}–{a.end:g}s: {html.escape(a.text)}</li>" if a.interval else
                    f"<li>{a.end:g}s: {html.escape(a.text)}</li>" for a in item.answers)
    said = "".join(f"<li style='color:{_colour(s)}'>{t:g}s: {html.escape(text)}"
                   + ("" if s is None else f" <small>({s:.2f})</small>") + "</li>"
                   for t, text, s in view.responses) or "<li><i>silent</i></li>"
    return (f"<section class='item' id='{html.escape(item.item_id)}'><h3>{html.escape(item.task)} · "
            f"{html.escape(item.item_id)}</h3><p class='question'>Q ({item.query_time:g}s): {html.escape(item.question)}</p>"
            f"{timeline_svg(view)}{_frames(view, frames)}<div class='pair'><div><b>ground truth</b><ul>{truth}</ul></div>"
            f"<div><b>responses</b><ul>{said}</ul></div></div></section>")


def examples_html(views: list[ItemView], frames: dict[str, dict[float, bytes]] | None = None) -> str:
    """Every item by task (the first two of each task with frames), with a legend."""
    legend = ("<p class='legend'>Green bands: the answer windows (the line: the best time); triangle: the question; "
              "ticks: the responses, green for a full score, red for 0, grey outside every window. "
              "Hover for the text.</p>")
    parts, seen = [legend], {}
    for view in sorted(views, key=lambda v: (v.item.task, v.item.item_id)):
        seen[view.item.task] = seen.get(view.item.task, 0) + 1
        shown = (frames or {}).get(view.item.item_id) if seen[view.item.task] <= 2 else None
        parts.append(item_section(view, shown))
    return "<h2>Items: ground truth beside the responses</h2>" + "".join(parts)
