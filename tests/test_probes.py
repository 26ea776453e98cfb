"""The held-out probes SFT logs: decision probabilities, and how much of them the frames give."""
import pytest
import torch

from streampro.data.parquet import read_trajectories
from streampro.model.format import StreamFormat
from streampro.train.probes import decision_probabilities, frame_dependence, frozen_frames
from streampro.train.sft import load_model, windows


def test_frozen_frames_keep_the_text_and_show_the_first_frame(sliced_world):
    window = windows(next(read_trajectories(str(sliced_world / "bench"))), 30)[0]
    frozen = frozen_frames(window)
    assert [(t.label, t.question, t.target) for t in frozen] == [(t.label, t.question, t.target) for t in window]
    assert {t.frame for t in frozen} == {window[0].frame} and len({t.frame for t in window}) > 1
    assert frozen_frames([]) == []


@pytest.mark.slow
def test_frame_dependence_compares_own_and_frozen_frames(sliced_world, tiny_model):
    model, processor = load_model(str(tiny_model))
    fmt = StreamFormat(processor)
    ws = [windows(t, 30)[0] for t in list(read_trajectories(str(sliced_world / "bench")))[:3]]
    looks = frame_dependence(model, fmt, ws)
    own = decision_probabilities(model, fmt, fmt.encode(ws))
    frozen = decision_probabilities(model, fmt, fmt.encode([frozen_frames(w) for w in ws]))
    assert looks["p_response_right_frozen_frames"] == frozen["p_response_right"]
    assert looks["p_response_elsewhere_frozen_frames"] == frozen["p_response_elsewhere"]
    assert looks["frame_gap"] == round(own["p_response_right"] - frozen["p_response_right"], 4)
    # what the probe feeds differs only in its frames, and the model's outputs depend on them
    a, b = fmt.encode(ws), fmt.encode([frozen_frames(w) for w in ws])
    assert torch.equal(a["input_ids"], b["input_ids"]) and not torch.equal(a["pixel_values"], b["pixel_values"])
    with torch.no_grad():
        logits = [model(**{k: v for k, v in enc.items() if k != "labels"}).logits for enc in (a, b)]
    assert (logits[0] - logits[1]).abs().max() > 1e-3
