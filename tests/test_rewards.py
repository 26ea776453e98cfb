"""GRPO rewards against hand-computed cases."""
import pytest

from streampro.bench.rule_judge import RuleJudge
from streampro.schema import Answer, Item, Response, Rubric, RubricCheck
from streampro.tasks import get_task
from streampro.policy import responses_of
from streampro.train.rewards import (FormatReward, TrajectoryReward, TurnReward, format_reward, trajectory_reward,
                                     turn_reward)

JUDGE = RuleJudge()


def item(task, answers, **kw):
    return Item(item_id=kw.pop("item_id", "i"), video_id="v", split="rl", task=task, dimension=get_task(task).dimension,
                question="q", query_time=0, answers=[Answer(**a) for a in answers], **kw)


def R(t, text):
    return Response(time=t, text=text)


OU2 = item("OU", [{"text": "the square turned blue", "time": 10}, {"text": "the circle turned red", "time": 14}])


def test_two_predictions_in_one_window_take_the_best():
    ou = item("OU", [{"text": "the square turned blue", "time": 10}])
    preds = [R(6, "the square turned blue"), R(10, "the circle turned red")]
    # S' at 6: (1 - 4/8) + 1 = 1.5; at 10: 1 + 0 = 1.0 -> 1.5 is kept; R = 2 * 1.5 / (2 + 1)
    assert turn_reward(ou, preds, JUDGE, tau=8) == pytest.approx(1.0)


def test_a_prediction_in_two_windows_is_matched_once():
    # one prediction at 12 lies in [2, 18] and [6, 22]: the first answer takes it (S' = 0.75 + 1)
    assert turn_reward(OU2, [R(12, "the square turned blue")], JUDGE, tau=8) == pytest.approx(2 * 1.75 / 3)


def test_interval_answer():
    eu = item("EU", [{"text": "the red square moves left", "interval": [4, 7]}])
    assert turn_reward(eu, [R(5, "the red square moves left")], JUDGE, tau=8) == pytest.approx(2.0)
    assert turn_reward(eu, [R(9, "the red square moves left")], JUDGE, tau=8) == pytest.approx(1.75)
    assert turn_reward(eu, [R(16, "the red square moves left")], JUDGE, tau=8) == 0  # past end + τ


def test_proactive_window_excludes_late_predictions():
    gp = item("GP", [{"text": "next, place the blue block", "time": 10}])
    assert turn_reward(gp, [R(11, "next, place the blue block")], JUDGE, tau=8) == 0
    assert turn_reward(gp, [R(8, "next, place the blue block")], JUDGE, tau=8) == pytest.approx(1.75)
    ou = item("OU", [{"text": "next, place the blue block", "time": 10}])
    assert turn_reward(ou, [R(11, "next, place the blue block")], JUDGE, tau=8) > 0  # not PA: late is fine


def test_format_reward_scores_malformed_outputs_zero():
    outputs = ["</Silence>", "</Response>", "hello", "</Response> the square turned blue", "</Silence> extra"]
    assert format_reward(outputs) == pytest.approx(2 / 5)
    reward = FormatReward({"i": OU2})
    assert reward(None, None, turn_outputs=[outputs, ["</Silence>"]], item_id=["i", "i"]) == [pytest.approx(0.4), 1.0]
    assert reward.__name__ == "fmt"


def test_empty_trajectories():
    rubric = [Rubric(rubric_id="c", aspect="coverage", rubric="", check=RubricCheck(type="mentions_all", terms=["blue"])),
              Rubric(rubric_id="g", aspect="granularity", rubric="", check=RubricCheck(type="response_count", min=1, max=3))]
    with_rubric = item("OU", [{"text": "the square turned blue", "time": 10}], rubric=rubric)
    assert format_reward([]) == 0
    assert turn_reward(with_rubric, [], JUDGE, tau=8) == 0
    assert trajectory_reward(with_rubric, [], JUDGE) == 0
    assert responses_of([]) == []


def test_trajectory_reward_is_the_mean_of_rubric_checkpoints():
    rubric = [
        Rubric(rubric_id="c", aspect="coverage", rubric="", check=RubricCheck(type="mentions_all", terms=["blue", "red"])),
        Rubric(rubric_id="o", aspect="coherence", rubric="", check=RubricCheck(type="in_order", terms=["blue", "red"])),
        Rubric(rubric_id="g", aspect="granularity", rubric="", check=RubricCheck(type="response_count", min=1, max=3)),
    ]
    it = item("OU", OU2.model_dump()["answers"], rubric=rubric)
    outputs = ["</Silence>"] * 10 + ["</Response> the square turned blue"] + ["</Silence>"] * 3 + [
        "</Response> the circle turned red"]
    assert TrajectoryReward({"i": it}, JUDGE)(None, None, turn_outputs=[outputs], item_id=["i"]) == [1.0]
    swapped = ["</Response> red"] + outputs[1:10] + ["</Response> blue"]
    assert trajectory_reward(it, responses_of(swapped), JUDGE) == pytest.approx(2 / 3)  # out of order
    turn = TurnReward({"i": it}, JUDGE, tau=8)(None, None, turn_outputs=[outputs], item_id=["i"])
    assert turn == [pytest.approx(2.0)]


def test_a_prediction_scoring_zero_is_left_for_a_later_answer():
    """Algorithm 1: S'_best starts at 0, so an answer does not consume a prediction worth 0 to it."""
    tg = item("TG", [{"text": "from 5s to 10s", "time": 10, "span": [5, 10]},
                     {"text": "from 14s to 18s", "time": 18, "span": [14, 18]}])
    # for the first answer the prediction at 18 is 8 s late (S_time 0) and its span misses (IoU 0): S' = 0,
    # not taken; the second answer takes it: S' = 1 + 1 = 2; R = 2 * 2 / (1 + 2)
    assert turn_reward(tg, [R(18, "from 14s to 18s")], JUDGE, tau=8) == pytest.approx(4 / 3)


def test_rubric_checks_for_repeats_and_the_first_response():
    rubric = [Rubric(rubric_id="d", aspect="granularity", rubric="", check=RubricCheck(type="distinct")),
              Rubric(rubric_id="f", aspect="coherence", rubric="", check=RubricCheck(type="first_mentions",
                                                                                     terms=["keep left"]))]
    rf = item("RF", [{"text": "warning: keep left", "time": 10}], rubric=rubric)
    assert trajectory_reward(rf, [R(9, "Keep left!"), R(12, "brake")], JUDGE) == 1.0
    assert trajectory_reward(rf, [R(9, "keep left"), R(12, "keep  left")], JUDGE) == 0.5  # a repeat
    assert trajectory_reward(rf, [R(9, "brake"), R(12, "keep left")], JUDGE) == 0.5  # first about something else
    assert trajectory_reward(rf, [], JUDGE) == 0.0  # silence earns no credit, not even for "no repeats"
