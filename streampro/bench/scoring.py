"""Score a predictions file against items: per item, per task, per dimension, overall (0–100).

- Per task: mean Time and Acc over the task's answers (S_time / S_acc of each answer's best match,
  0 when unmatched); mean Precision, Recall and F1 over the task's items.
- Per dimension (PU, TR, PA): the item-weighted mean F1 of its items.
- Overall Avg: the mean of the dimension F1s present; W-Avg: the item-weighted mean F1 of all items
  scored with StreamPro-F1. Multiple-choice peer tasks report Accuracy instead and stay out of both.
"""
from __future__ import annotations

from collections import defaultdict

from streampro import storage
from streampro.bench.metric import ItemScore, score_choice, score_item
from streampro.schema import Item, Prediction, RecordError
from streampro.tasks import DIMENSIONS, get_task


def read_predictions(uri: str, items: dict[str, Item], durations: dict[str, float] | None = None
                     ) -> dict[str, Prediction]:
    """A prediction for every item, or an error naming the line (or the items without one): nothing is
    scored from a half-read or partial file. With the videos' ``durations``, a response after its video's
    end is an error too."""
    predictions: dict[str, Prediction] = {}
    for line, data in storage.iter_json_lines(uri):
        prediction = storage.parse_record(Prediction, data, uri, line)
        item = items.get(prediction.item_id)
        if item is None:
            raise RecordError(uri, line, "item_id", f"unknown item_id {prediction.item_id!r} (not in the items)")
        if prediction.item_id in predictions:
            raise RecordError(uri, line, "item_id", f"a second prediction for {prediction.item_id!r}")
        end = (durations or {}).get(item.video_id)
        for k, response in enumerate(prediction.responses):
            if end is not None and response.time > end:
                raise RecordError(uri, line, f"responses.{k}.time",
                                  f"{response.time:g}s is past the end of video {item.video_id!r} ({end:g}s)")
        predictions[prediction.item_id] = prediction
    missing = [i for i in items if i not in predictions]
    if missing:
        raise RecordError(uri, None, "item_id", f"no prediction for {len(missing)} of {len(items)} items "
                          f"({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''}): a partial run is not scored")
    return predictions


def score_all(items: list[Item], predictions: dict[str, Prediction], judge) -> list[ItemScore]:
    """Every item scored; an item without a prediction has no responses (F1 0)."""
    scores = []
    for item in items:
        responses = predictions[item.item_id].responses if item.item_id in predictions else []
        if get_task(item.task).scoring == "choice":
            scores.append(score_choice(item, responses))
        else:
            scores.append(score_item(item, responses, judge))
    return scores


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def aggregate(scores: list[ItemScore]) -> dict[str, float]:
    """Flat metrics (``dvc metrics show`` reads them), on a 0–100 scale."""
    by_task: dict[str, list[ItemScore]] = defaultdict(list)
    for s in scores:
        by_task[s.task].append(s)
    metrics: dict[str, float] = {}
    f1_items = []
    for task in sorted(by_task):
        group = by_task[task]
        metrics[f"{task}_items"] = len(group)
        if get_task(task).scoring == "choice":
            metrics[f"{task}_accuracy"] = round(100 * _mean([s.matches[0].s for s in group]), 2)
            continue
        f1_items += group
        answers = [m for s in group for m in s.matches]
        metrics[f"{task}_time"] = round(100 * _mean([m.s_time for m in answers]), 2)
        metrics[f"{task}_acc"] = round(100 * _mean([m.s_acc for m in answers]), 2)
        metrics[f"{task}_precision"] = round(100 * _mean([s.precision for s in group]), 2)
        metrics[f"{task}_recall"] = round(100 * _mean([s.recall for s in group]), 2)
        metrics[f"{task}_f1"] = round(100 * _mean([s.f1 for s in group]), 2)
    dims = []
    for dim in DIMENSIONS:
        group = [s for s in f1_items if s.dimension == dim]
        if group:
            metrics[f"{dim}_f1"] = round(100 * _mean([s.f1 for s in group]), 2)
            dims.append(_mean([s.f1 for s in group]))
    if f1_items:
        metrics["overall_avg"] = round(100 * _mean(dims), 2) if dims else round(100 * _mean([s.f1 for s in f1_items]), 2)
        metrics["overall_w_avg"] = round(100 * _mean([s.f1 for s in f1_items]), 2)
    choice = [s for s in scores if get_task(s.task).scoring == "choice"]
    if choice:
        metrics["choice_accuracy"] = round(100 * _mean([s.matches[0].s for s in choice]), 2)
    metrics["items"] = len(scores)
    metrics["predictions"] = sum(s.n_pred for s in scores)
    return metrics


def response_offsets(scores: list[ItemScore], items: dict[str, Item]) -> dict[str, list[float]]:
    """Per task, each kept match's time relative to its answer's best timing (negative = early)."""
    offsets: dict[str, list[float]] = defaultdict(list)
    for s in scores:
        for answer, match in zip(items[s.item_id].answers, s.matches):
            if match.time is not None:
                offsets[s.task].append(match.time - answer.end)
    return dict(offsets)
