"""Peer benchmark importers: the project's own fixtures, and the real annotation files when present."""
from collections import Counter
from pathlib import Path

import pytest

from streampro.bench.rule_judge import RuleJudge
from streampro.bench.peers import import_peer, write_import
from streampro.bench.scoring import aggregate, score_all
from streampro.schema import Prediction, Response
from tests.conftest import REPO

FIXTURES = Path(__file__).parent / "fixtures"
PEERS = REPO.parent / "shared" / "peers"


def _oracle(items):
    return {i.item_id: Prediction(item_id=i.item_id, responses=[Response(time=a.end, text=a.text) for a in i.answers])
            for i in items}


def test_ovo_far_fixture(tmp_path):
    result = import_peer(str(FIXTURES / "ovo_far_sample.json"), "ovo-far")
    assert (result.records_read, result.records_skipped, len(result.dead_letters)) == (5, 1, 1)
    assert "clue_time" in result.dead_letters[0]["reason"]
    rec, ssr, crr = result.items
    assert [(a.text, a.time) for a in rec.answers] == [("1", 5), ("2", 12)]  # one answer per new count
    assert [(a.text, a.time) for a in ssr.answers] == [("boil the water", 15), ("pour the water on the tea", 26)]
    assert (crr.query_time, crr.answers[0].time, crr.answers[0].text) == (3, 14, "The postman.")
    summary = write_import(result, str(tmp_path), video_root="/videos/ovo")
    assert summary["tasks"] == {"OVO_CRR": 1, "OVO_REC": 1, "OVO_SSR": 1}
    assert (tmp_path / "manifest.jsonl").read_text().count('"uri":"/videos/ovo/clips/') == 3
    metrics = aggregate(score_all(result.items, _oracle(result.items), RuleJudge()))
    assert metrics["overall_w_avg"] == 100 and metrics["OVO_REC_f1"] == 100


def test_streamingbench_fixture():
    result = import_peer(str(FIXTURES / "streamingbench_sample.json"), "streamingbench")
    assert (result.records_read, len(result.items), len(result.dead_letters)) == (2, 2, 1)
    assert "'Dancing' is not a real-time task" in result.dead_letters[0]["reason"]
    obj, count = result.items
    assert (obj.task, obj.query_time, obj.options[1], obj.answers[0].text) == ("SB_OR", 12, "B. a knife", "B")
    assert count.query_time == 65
    preds = {obj.item_id: Prediction(item_id=obj.item_id, responses=[Response(time=12, text="B. a knife")]),
             count.item_id: Prediction(item_id=count.item_id, responses=[Response(time=70, text="A")])}
    metrics = aggregate(score_all(result.items, preds, RuleJudge()))
    assert (metrics["SB_OR_accuracy"], metrics["SB_CT_accuracy"], metrics["choice_accuracy"]) == (100, 0, 50)


@pytest.mark.skipif(not PEERS.exists(), reason="../shared/peers is not beside this checkout")
def test_real_ovo_bench_file():
    result = import_peer(str(PEERS / "ovo-bench" / "ovo_bench_new.json"), "ovo-far")
    counts = Counter(item.task for item in result.items)
    assert (result.records_read, result.records_skipped, len(result.dead_letters)) == (1640, 1468, 0)
    assert counts == {"OVO_REC": 82, "OVO_SSR": 42, "OVO_CRR": 48}
    metrics = aggregate(score_all(result.items, _oracle(result.items), RuleJudge()))
    assert metrics["OVO_SSR_f1"] == 100 and metrics["OVO_CRR_f1"] == 100


@pytest.mark.skipif(not PEERS.exists(), reason="../shared/peers is not beside this checkout")
def test_real_streamingbench_file():
    result = import_peer(str(PEERS / "streamingbench" / "questions_real.json"), "streamingbench")
    counts = Counter(item.task for item in result.items)
    assert (result.records_read, len(result.items), len(result.dead_letters), len(result.videos)) == (2252, 2500, 0, 499)
    assert counts == {"SB_OR": 367, "SB_ACR": 353, "SB_TRU": 321, "SB_CS": 317, "SB_ATR": 306, "SB_SU": 246,
                      "SB_CT": 193, "SB_EVU": 161, "SB_CR": 128, "SB_PR": 108}
