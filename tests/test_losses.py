"""The three SFT losses against hand-computed values on small tensors."""
import math

import pytest
import torch

from streampro.train.losses import (IGNORE, LossConfig, cb_stream_class_weights, effective_number,
                                     predicting_columns, stream_loss)

S, R, T = 1, 2, 3  # silence, response, a text token id; vocabulary of 4


def batch(targets: list[int], logit_rows: list[list[float]]):
    """One row: position 0 is a prompt token; position k+1 holds target k, predicted by logits k."""
    labels = torch.tensor([[IGNORE] + targets])
    logits = torch.tensor([logit_rows + [[0.0] * 4]])
    return logits, labels


def nll(row, target):
    return -(row[target] - math.log(sum(math.exp(v) for v in row)))


ROWS = [[0.0, 2.0, 0.0, 0.0], [0.0, 1.0, 0.5, 0.0], [0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 3.0, 0.0]]
TARGETS = [S, S, T, R]  # two silences, one text token, one response


def test_ce_is_the_mean_nll():
    logits, labels = batch(TARGETS, ROWS)
    expected = sum(nll(r, t) for r, t in zip(ROWS, TARGETS)) / 4
    assert stream_loss(logits, labels, LossConfig("ce", S, R)).item() == pytest.approx(expected, rel=1e-6)


def test_cb_stream_by_hand():
    beta = 0.9
    e_s, e_r = (1 - beta**2) / (1 - beta), (1 - beta**1) / (1 - beta)  # 1.9 and 1.0
    w_s = (1 / e_s) / (1 / e_s + 1 / e_r) * 2
    w_r = (1 / e_r) / (1 / e_s + 1 / e_r) * 2
    assert cb_stream_class_weights([2, 1], beta) == pytest.approx([w_s, w_r])
    weights = [w_s, w_s, 2.0, w_r]  # λ_text = 2 on the text token
    expected = sum(w * nll(r, t) for w, r, t in zip(weights, ROWS, TARGETS)) / 4
    logits, labels = batch(TARGETS, ROWS)
    got = stream_loss(logits, labels, LossConfig("cb_stream", S, R, beta=beta, lambda_text=2.0))
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_cb_stream_weights_rare_class_more():
    w_s, w_r = cb_stream_class_weights([300, 10], 0.9999)
    assert w_r > 10 * w_s and w_s + w_r == pytest.approx(2.0)


def test_beta_to_zero_gives_equal_weights():
    assert effective_number(50, 0.0) == 1.0
    assert cb_stream_class_weights([50, 3], 0.0) == pytest.approx([1.0, 1.0])
    logits, labels = batch(TARGETS, ROWS)
    cb = stream_loss(logits, labels, LossConfig("cb_stream", S, R, beta=0.0, lambda_text=1.0))
    ce = stream_loss(logits, labels, LossConfig("ce", S, R))
    assert cb.item() == pytest.approx(ce.item(), rel=1e-6)


def test_batch_without_response():
    targets, rows = [S, S, T], ROWS[:3]
    assert cb_stream_class_weights([2, 0], 0.9999) == [1.0, 0.0]
    logits, labels = batch(targets, rows)
    expected = (nll(rows[0], S) + nll(rows[1], S) + 2.0 * nll(rows[2], T)) / 3
    got = stream_loss(logits, labels, LossConfig("cb_stream", S, R, beta=0.9999, lambda_text=2.0))
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_focal_by_hand():
    logits, labels = batch(TARGETS, ROWS)
    alpha_s, alpha_r = 3 / (2 * 2), 3 / (2 * 1)  # N_dec / (K · n_k)
    terms = []
    for r, t in zip(ROWS, TARGETS):
        loss = nll(r, t)
        p = math.exp(-loss)
        terms.append(loss if t == T else (alpha_s if t == S else alpha_r) * (1 - p) ** 2 * loss)
    got = stream_loss(logits, labels, LossConfig("focal", S, R, gamma=2.0))
    assert got.item() == pytest.approx(sum(terms) / 4, rel=1e-6)


def test_unknown_loss():
    logits, labels = batch(TARGETS, ROWS)
    with pytest.raises(ValueError, match="unknown loss"):
        stream_loss(logits, labels, LossConfig("mse", S, R))


@pytest.mark.parametrize("kind", ["ce", "focal", "cb_stream"])
def test_logits_of_the_predicting_columns_only_give_the_same_loss(kind):
    """SFT runs the LM head only where a supervised token is predicted (``logits_to_keep``): same loss."""
    torch.manual_seed(0)
    labels = torch.full((2, 9), IGNORE)
    labels[0, [2, 3, 7]] = torch.tensor([S, T, R])
    labels[1, [3, 8]] = torch.tensor([S, S])
    logits = torch.randn(2, 9, 4)
    columns = predicting_columns(labels)
    assert columns.tolist() == [1, 2, 6, 7]  # the columns before a label, in either row
    cfg = LossConfig(kind, S, R, beta=0.99, lambda_text=2.0, gamma=2.0)
    whole = stream_loss(logits, labels, cfg, distributed=False)
    kept = stream_loss(logits[:, columns], labels, cfg, distributed=False, columns=columns)
    assert kept.item() == pytest.approx(whole.item(), rel=1e-6)
