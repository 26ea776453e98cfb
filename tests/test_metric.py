"""StreamPro-F1 against hand-computed values."""
import pytest

from streampro.bench.rule_judge import RuleJudge
from streampro.bench.metric import iou, parse_span, s_time, score_item
from streampro.bench.scoring import aggregate
from streampro.schema import Answer, Item, Response
from streampro.tasks import get_task

JUDGE = RuleJudge()


def item(task, answers, dim=None, **kw):
    dim = dim or get_task(task).dimension
    return Item(item_id=kw.pop("item_id", "i"), video_id="v", split="bench", task=task, dimension=dim,
                question="q", query_time=0, answers=[Answer(**a) for a in answers], **kw)


def R(t, text):
    return Response(time=t, text=text)


EU = item("EU", [{"text": "the red square moves left", "interval": [4, 7]}])


def test_interval_hit_inside_is_perfect():
    s = score_item(EU, [R(5, "the red square moves left")], JUDGE)
    assert (s.matches[0].s_time, s.matches[0].s_acc, s.precision, s.recall, s.f1) == (1, 1, 1, 1, 1)


def test_interval_just_outside_decays_to_the_nearest_edge():
    s = score_item(EU, [R(9, "the red square moves left")], JUDGE)  # 2 s after the end, τ = 4
    assert s.matches[0].s_time == pytest.approx(0.5) and s.f1 == pytest.approx(0.5)
    late = score_item(EU, [R(10.5, "the red square moves left")], JUDGE)  # past [4, 10]
    assert late.matches[0].n == 0 and late.f1 == 0 and late.n_pred == 1


def test_rf_asymmetric_tau():
    rf = item("RF", [{"text": "warning: red cone ahead, brake", "time": 10}])
    early = score_item(rf, [R(9, "warning: red cone ahead, brake")], JUDGE)
    late = score_item(rf, [R(11, "warning: red cone ahead, brake")], JUDGE)
    assert early.matches[0].s_time == pytest.approx(1 - 1 / 2)
    assert late.matches[0].s_time == pytest.approx(1 - 1 / 4)
    assert score_item(rf, [R(8.5, "brake")], JUDGE).matches[0].n == 0  # window [9, 13]


def test_prediction_outside_every_window_counts_in_n_pred():
    ou = item("OU", [{"text": "the square turned blue", "time": 10}])
    s = score_item(ou, [R(10, "the square turned blue"), R(20, "the square turned blue")], JUDGE)
    assert s.n_pred == 2 and s.total == 1
    assert (s.precision, s.recall) == (0.5, 1.0) and s.f1 == pytest.approx(2 / 3)


def test_two_predictions_for_one_answer_keep_the_best():
    ou = item("OU", [{"text": "the square turned blue", "time": 10}])
    s = score_item(ou, [R(8, "the square turned blue"), R(10, "the square turned blue")], JUDGE)
    assert s.matches[0].n == 2 and s.matches[0].s == 1.0 and s.matches[0].time == 10
    assert s.precision == 0.5 and s.recall == 1.0


def test_prediction_in_two_windows_binds_to_the_first():
    ou = item("OU", [{"text": "the square turned blue", "time": 10}, {"text": "the circle turned red", "time": 14}])
    s = score_item(ou, [R(12, "the square turned blue")], JUDGE)  # windows [7, 13] and [11, 17]
    assert s.matches[0].n == 1 and s.matches[1].n == 0
    assert s.matches[0].s == pytest.approx(0.5)  # Δt = 2, τ = 4
    assert s.precision == pytest.approx(0.5) and s.recall == pytest.approx(0.25)
    assert s.f1 == pytest.approx(2 * 0.5 * 0.25 / 0.75)


def test_tg_accuracy_is_iou_of_the_parsed_span():
    tg = item("TG", [{"text": "from 4s to 9s", "time": 9, "span": [4, 9]}])
    s = score_item(tg, [R(9, "It moved from 5s to 9s.")], JUDGE)
    assert s.matches[0].s_acc == pytest.approx(4 / 5) and s.f1 == pytest.approx(0.8)
    assert parse_span("between 12 and 7 seconds") == (7, 12) and parse_span("soon") is None
    assert iou((0, 2), (3, 4)) == 0


def test_item_with_no_predictions_scores_zero():
    s = score_item(EU, [], JUDGE)
    assert (s.n_pred, s.precision, s.recall, s.f1) == (0, 0, 0, 0)


def test_s_time_formula():
    spec = get_task("AA")
    ans = Answer(text="alert: fire", time=10)
    assert s_time(13, ans, spec) == pytest.approx(0.5)  # τ = 6
    assert s_time(13, ans, spec, tau=8) == pytest.approx(1 - 3 / 8)  # RL's universal τ


def test_rule_judge():
    ans = Answer(text="the red square moves left", interval=(1, 2))
    assert JUDGE.score(EU, ans, "The red square moves left!") == 5
    # key terms red, square, left: 2/3 right, 1 wrong -> 1 + round(4 * 2/3 * (1 + 2/3) / 2) = 3
    assert JUDGE.score(EU, ans, "the red square moves right") == 3
    assert JUDGE.score(EU, ans, "") == 0
    mc = item("OU", [{"text": "B", "time": 3}], options=["A. cat", "B. dog"])
    assert JUDGE.score(mc, mc.answers[0], "B. dog") == 5 and JUDGE.score(mc, mc.answers[0], "A") == 1  # wrong


def test_aggregate_by_task_dimension_and_overall():
    eu = score_item(EU, [R(5, "the red square moves left")], JUDGE)  # F1 1
    tg = score_item(item("TG", [{"text": "from 4s to 9s", "time": 9, "span": [4, 9]}], item_id="t"),
                    [R(9, "from 5s to 9s")], JUDGE)  # F1 0.8
    gp = score_item(item("GP", [{"text": "next, place the blue block", "time": 10}], item_id="g"), [], JUDGE)
    m = aggregate([eu, tg, gp])
    assert (m["EU_f1"], m["TG_f1"], m["GP_f1"]) == (100, 80, 0)
    assert (m["PU_f1"], m["TR_f1"], m["PA_f1"]) == (100, 80, 0)
    assert m["overall_avg"] == pytest.approx(60) and m["overall_w_avg"] == pytest.approx(60)
    assert m["TG_acc"] == 80 and m["TG_time"] == 100 and m["GP_time"] == 0


def test_rule_judge_grades_an_unlettered_answer_by_its_words_even_with_options():
    mc = item("OU", [{"text": "the square turned red", "time": 3}], options=["red", "blue"])
    assert JUDGE.score(mc, mc.answers[0], "zzz qqq") == 1  # no letter on either side is no match: wrong
    assert JUDGE.score(mc, mc.answers[0], "the square turned red") == 5


@pytest.mark.parametrize("case", __import__("streampro.bench.grading", fromlist=["CASES"]).CASES,
                         ids=lambda c: f"{c.response or 'empty'}->{c.score}")
def test_rule_judge_grades_the_shared_cases_as_hand_graded(case):
    ou = item("OU", [{"text": case.reference, "time": 3}])
    assert JUDGE.score(ou, ou.answers[0], case.response) == case.score


def test_a_timely_wrong_answer_keeps_a_fifth_of_its_timing():
    from streampro.bench.metric import s_acc

    ou = item("OU", [{"text": "alert: fire", "time": 3}])
    assert s_acc(ou, ou.answers[0], "alert: flood", JUDGE) == pytest.approx(0.2)  # 1 of 5: wrong, not silent
    assert s_acc(ou, ou.answers[0], "", JUDGE) == 0.0
