"""The reports as a person sees them: rendered by headless Chromium (scripts/setup.sh installs it), the charts
must show bars and the item timelines their windows and responses; a chart without data fails."""
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from streampro.bench.pages import ItemView, examples_html
from streampro.bench.report import write_comparison, write_policy_report
from streampro.schema import Answer, Item

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(not CHROMIUM, reason="no chromium (scripts/setup.sh installs it with apt-get)")
TAB10 = {"blue": (31, 119, 180), "orange": (255, 127, 14), "green": (44, 160, 44)}


def screenshot(page, out, height=2400) -> np.ndarray:
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={out}", f"--window-size=1200,{height}", f"file://{page}"],
                   check=True, capture_output=True, timeout=120)
    return np.asarray(Image.open(out).convert("RGB")).astype(int)


def pixels(image: np.ndarray, colour: tuple[int, int, int], tolerance: int = 12) -> int:
    return int((np.abs(image - np.array(colour)).max(axis=-1) <= tolerance).sum())


def _metrics(scale: float) -> dict:
    tasks = {"EU": 30, "OU": 10, "TG": 20}
    m = {f"{t}_{k}": v * scale for t, v in tasks.items() for k in ("time", "acc", "precision", "recall", "f1")}
    m.update({f"{t}_items": 3 for t in tasks}, items=9, predictions=12, overall_w_avg=20 * scale,
             overall_avg=20 * scale, PU_f1=20 * scale, TR_f1=20 * scale)
    return m


@pytest.mark.parametrize("scale, shown", [(1.0, True), (0.0, False)])
def test_the_comparison_charts_show_every_policy_and_a_chart_without_data_fails(tmp_path, scale, shown):
    by_policy = {"random": _metrics(scale), "prior": _metrics(0.5 * scale), "model-sft": _metrics(1.5 * scale),
                 "oracle": _metrics(5.0)}
    write_comparison(str(tmp_path), by_policy, {"code": "test", "model": "tiny"})
    image = screenshot(tmp_path / "report.html", tmp_path / "shot.png")
    counts = {name: pixels(image, rgb) for name, rgb in TAB10.items()}  # the first three policies' bar colours
    assert all(n > 300 for n in counts.values()) == shown, counts
    assert (tmp_path / "report.html").stat().st_size < 1_000_000


def test_a_policy_page_shows_each_items_timeline(tmp_path):
    item = Item(item_id="bench-0001-EU", video_id="v1", task="EU", dimension="PU", split="bench",
                question="Describe each step.", query_time=1.0, answers=[Answer(text="the red circle moves left", interval=(3.0, 6.0)),
                                         Answer(text="the red circle moves up", interval=(12.0, 15.0))])
    view = ItemView(item, [(5.0, "the red circle moves left", 1.0), (9.0, "the red circle grows", None),
                           (14.0, "the blue square moves up", 0.0)], duration=20.0)
    write_policy_report(str(tmp_path), "model-sft", _metrics(1.0), {"EU": [-1.0]}, examples_html([view]))
    page = (tmp_path / "report.html").read_text()
    assert "the red circle moves left" in page and "bench-0001-EU" in page
    image = screenshot(tmp_path / "report.html", tmp_path / "shot.png", height=1600)
    assert pixels(image, (0xcd, 0xe8, 0xcd), 4) > 200  # the answer windows' bands
    assert pixels(image, (0x00, 0xaa, 0x30), 8) > 20 and pixels(image, (0xdc, 0x00, 0x30), 8) > 20  # scored ticks
    assert pixels(image, (0x99, 0x99, 0x99), 4) > 20  # a response outside every window
