"""Benchmark reports: ``metrics.json`` (flat keys for ``dvc metrics show``), a Markdown table, and a
self-contained HTML page with plots (per-task F1; response time relative to the best timing) that the
Kubeflow UI renders as an HTML artifact."""
from __future__ import annotations

import base64
import html
import io
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from streampro import storage  # noqa: E402
from streampro.outputs import require_complete  # noqa: E402
from streampro.tasks import DIMENSIONS, get_task  # noqa: E402

COLUMNS = ("time", "acc", "precision", "recall", "f1")
HEADLINE = ("overall_w_avg", "PU_f1", "TR_f1", "PA_f1")  # metrics.json: 4 columns per policy (Avg: per-policy files)


def tasks_of(metrics: dict) -> list[str]:
    return sorted({k.rsplit("_", 1)[0] for k in metrics if k.endswith("_items") and k != "items"})


def task_table(metrics: dict) -> str:
    lines = ["| task | items | Time | Acc | Prec | Rec | F1 |", "|---|---|---|---|---|---|---|"]
    for task in tasks_of(metrics):
        if f"{task}_accuracy" in metrics:
            lines.append(f"| {task} | {metrics[f'{task}_items']} | | {metrics[f'{task}_accuracy']:.1f} (accuracy) | | | |")
            continue
        cells = " | ".join(f"{metrics[f'{task}_{c}']:.1f}" for c in COLUMNS)
        lines.append(f"| {task} | {metrics[f'{task}_items']} | {cells} |")
    return "\n".join(lines)


def summary_line(metrics: dict) -> str:
    dims = ", ".join(f"{d} {metrics[f'{d}_f1']:.1f}" for d in DIMENSIONS if f"{d}_f1" in metrics)
    if "overall_w_avg" not in metrics:
        return f"{metrics['items']} items"
    return (f"W-Avg **{metrics['overall_w_avg']:.1f}**, Avg {metrics['overall_avg']:.1f} ({dims}); "
            f"{metrics['items']} items, {metrics['predictions']} responses")


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _md_to_html_table(markdown: str) -> str:
    rows = [r.strip("|").split("|") for r in markdown.splitlines() if not r.startswith("|---")]
    head = "".join(f"<th>{html.escape(c.strip())}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c.strip())}</td>" for c in r) + "</tr>" for r in rows[1:])
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _page(title: str, parts: list[str]) -> str:
    style = ("body{font-family:sans-serif;margin:2em;max-width:75em}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#eee}"
             ".legend,.record{font-size:90%;color:#333}.item{border-top:1px solid #ddd;margin-top:1em}"
             ".pair{display:flex;gap:3em}.pair ul{margin:0.2em 0;padding-left:1.2em;font-size:90%}"
             ".frames{display:flex;gap:6px}.frames figure{margin:0;font-size:75%;text-align:center}"
             ".question{margin:0.2em 0;font-style:italic}h3{margin:0.6em 0 0.2em;font-size:100%}")
    return f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>" \
           f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1>{''.join(parts)}</body></html>\n"


def legend_html(tasks: list[str]) -> str:
    """What the column names mean: the three dimensions, each task with its title and dimension."""
    dims = "; ".join(f"<b>{d}</b> {html.escape(t)}" for d, t in DIMENSIONS.items())
    rows = ", ".join(f"<b>{t}</b> {html.escape(get_task(t).title)} ({get_task(t).dimension or 'peer'})" for t in tasks)
    return (f"<p class='legend'>Scores are StreamPro-F1 on a 0–100 scale. W-Avg: the item-weighted mean F1; Avg: the "
            f"mean of the dimensions: {dims}. Tasks: {rows}. Time, Acc, Prec, Rec: the timing score, the answer "
            "score, precision and recall behind each F1.</p>")


def write_policy_report(out: str, policy: str, metrics: dict, offsets: dict[str, list[float]],
                        examples: str = "") -> None:
    """``metrics.json``, ``report.md`` and ``report.html`` (with ``examples``: the items' ground truth beside the
    responses, and their timelines) for one policy's scores."""
    storage.write_text(storage.join(out, "metrics.json"), json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    table = task_table(metrics)
    storage.write_text(storage.join(out, "report.md"), f"# StreamPro-Bench: {policy}\n\n{summary_line(metrics)}\n\n{table}\n")
    tasks = [t for t in tasks_of(metrics) if f"{t}_f1" in metrics]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
    axes[0].bar(tasks, [metrics[f"{t}_f1"] for t in tasks], color="#4c72b0")
    axes[0].set(title="F1 per task", ylim=(0, 100), ylabel="F1 (0-100)")
    data = [offsets.get(t, []) for t in tasks]
    if any(data):
        axes[1].boxplot([d or [float("nan")] for d in data], tick_labels=tasks)
    axes[1].axhline(0, color="grey", lw=0.8)
    axes[1].set(title="response time - best timing (s)", ylabel="seconds (negative = early)")
    parts = [f"<p>{html.escape(summary_line(metrics)).replace('**', '')}</p>", legend_html(tasks), _md_to_html_table(table),
             f"<p><img class='chart' src='data:image/png;base64,{_png(fig)}'></p>", examples]
    storage.write_text(storage.join(out, "report.html"), _page(f"StreamPro-Bench: {policy}", parts))


def comparison_table(by_policy: dict[str, dict]) -> str:
    tasks = sorted({t for m in by_policy.values() for t in tasks_of(m) if f"{t}_f1" in m})
    head = ["policy", "W-Avg", "Avg", *DIMENSIONS, *tasks]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for policy, m in by_policy.items():
        cells = [m.get("overall_w_avg"), m.get("overall_avg"), *[m.get(f"{d}_f1") for d in DIMENSIONS],
                 *[m.get(f"{t}_f1") for t in tasks]]
        lines.append(f"| {policy} | " + " | ".join("" if c is None else f"{c:.1f}" for c in cells) + " |")
    return "\n".join(lines)


REFERENCE = "oracle"  # drawn as a reference line, not a bar: its 100 would squash every other bar


def _charts(by_policy: dict[str, dict], tasks: list[str]) -> str:
    """W-Avg and the dimensions per policy, and F1 per task per policy; the oracle as a dashed line."""
    policies = [p for p in by_policy if p != REFERENCE]
    reference = by_policy.get(REFERENCE, {})
    top = max([by_policy[p].get(k) or 0 for p in policies for k in ("overall_w_avg", *[f"{d}_f1" for d in DIMENSIONS])]
              + [by_policy[p].get(f"{t}_f1") or 0 for p in policies for t in tasks] + [5])
    colours = plt.get_cmap("tab10").colors
    images = []
    for title, keys, labels in (("W-Avg and dimensions (F1)", ["overall_w_avg", *[f"{d}_f1" for d in DIMENSIONS]],
                                 ["W-Avg", *DIMENSIONS]),
                                ("F1 per task", [f"{t}_f1" for t in tasks], tasks)):
        fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(keys) * max(1, len(policies)) / 3), 3.6))
        width = 0.8 / max(1, len(policies))
        for k, policy in enumerate(policies):
            xs = [i + (k - (len(policies) - 1) / 2) * width for i in range(len(keys))]
            ax.bar(xs, [by_policy[policy].get(key) or 0 for key in keys], width, label=policy, color=colours[k % 10])
        note = ""
        if reference:
            level = reference.get("overall_w_avg", 100)
            if level <= top * 1.25:
                ax.axhline(level, color="#444", ls="--", lw=1)
                note = f" (dashed: {REFERENCE} {level:.0f})"
            else:
                note = f" ({REFERENCE}: {level:.0f}, above the axis)"
        ax.set_xticks(range(len(keys)), labels)
        ax.set(title=title + note, ylim=(0, top * 1.25), ylabel="F1 (0-100)")
        ax.legend(fontsize=8, ncol=min(4, len(policies)), loc="upper left")
        images.append(f"<p><img class='chart' src='data:image/png;base64,{_png(fig)}'></p>")
    return "".join(images)


def record_html(record: dict | None) -> str:
    if not record:
        return ""
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in record.items())
    return f"<h2>Run</h2><table class='record'>{rows}</table>"


def write_comparison(out: str, by_policy: dict[str, dict], record: dict | None = None,
                     pages: dict[str, str] | None = None) -> dict:
    """One table comparing every scored policy: ``metrics.json`` ({policy: W-Avg and the three dimension
    F1s}, readable in ``dvc metrics show``), ``report.md``, ``per_task_f1.json`` (a row per task, a column per
    policy, for ``dvc plots``) and ``report.html``: the run ``record``, a legend, the table with item counts,
    the charts, and links to each policy's page (``pages``: policy -> its report.html, copied to
    ``policies/POLICY.html``)."""
    headline = {p: {k: v for k, v in m.items() if k in HEADLINE or k.endswith("_accuracy")}  # (peer MC tasks)
                for p, m in by_policy.items()}  # per task: per_task_f1.json
    storage.write_text(storage.join(out, "metrics.json"), json.dumps(headline, indent=2, sort_keys=True) + "\n")
    tasks = sorted({t for m in by_policy.values() for t in tasks_of(m) if f"{t}_f1" in m})
    rows = [{"task": t, **{p: m.get(f"{t}_f1") for p, m in by_policy.items()}} for t in tasks]
    storage.write_text(storage.join(out, "per_task_f1.json"), json.dumps(rows, indent=2) + "\n")
    table = comparison_table(by_policy)
    storage.write_text(storage.join(out, "report.md"), f"# StreamPro-Bench: all policies (F1, 0-100)\n\n{table}\n")
    first = next(iter(by_policy.values()))
    counts = " ".join(f"{t} {first.get(f'{t}_items', 0)}," for t in tasks).rstrip(",")
    links = []
    for policy, page in (pages or {}).items():
        storage.write_text(storage.join(out, "policies", f"{policy}.html"), storage.read_text(page))
        links.append(f"<a href='policies/{html.escape(policy)}.html'>{html.escape(policy)}</a>")
    parts = [record_html(record), legend_html(tasks),
             f"<p>{first.get('items', 0)} bench items ({counts}).</p>", _md_to_html_table(table),
             _charts(by_policy, tasks)]
    if links:
        parts.append("<h2>Each policy</h2><p>Per task Time, Acc, Precision, Recall; every item's timeline and the "
                     f"responses beside the ground truth: {', '.join(links)}.</p>")
    storage.write_text(storage.join(out, "report.html"), _page("StreamPro-Bench: all policies", parts))
    return by_policy


def collect_metrics(bench_dirs: list[str]) -> dict[str, dict]:
    """``{policy: metrics}`` from every ``BENCH_DIR/POLICY/metrics.json`` (local or gs://)."""
    from apache_beam.io.filesystems import FileSystems

    by_policy = {}
    for folder in bench_dirs:
        require_complete(folder, "bench", levels=0)
        matches = FileSystems.match([storage.join(folder, "*", "metrics.json")])[0].metadata_list
        for path in sorted(m.path for m in matches):
            by_policy[storage.dirname(path).rstrip("/").rsplit("/", 1)[-1]] = json.loads(storage.read_text(path))
    if not by_policy:
        raise FileNotFoundError(f"no */metrics.json under {', '.join(bench_dirs)}")
    return by_policy


def policy_pages(bench_dirs: list[str]) -> dict[str, str]:
    """``{policy: its report.html}`` beside each ``BENCH_DIR/POLICY/metrics.json``."""
    pages = {}
    for folder in bench_dirs:
        for policy in collect_metrics([folder]):
            page = storage.join(folder, policy, "report.html")
            if storage.exists(page):
                pages[policy] = page
    return pages


def run_record(params) -> dict:
    """What produced the numbers: the code (a hash of the package's source, and the git commit when there
    is one), the model and the training and judging settings."""
    import subprocess

    from streampro.outputs import code_fingerprint

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    sft, grpo = params.sft, params.grpo
    weights = grpo.reward_weights
    return {"code": f"streampro source {code_fingerprint()} (git {commit})", "model": params.model.name_or_path,
            "SFT": f"{sft.loss} loss, {sft.max_steps} steps, batch {sft.batch_size}, lr {sft.learning_rate:g}",
            "GRPO": f"G={grpo.num_generations}, {grpo.max_steps} steps, lr {grpo.learning_rate:g}, reward weights "
                    f"fmt {weights.fmt:g} / turn {weights.turn:g} / traj {weights.traj:g}, tau {grpo.tau:g}s",
            "judge": params.bench.judge, "seed": params.seed, "reproduce": "make run (dvc repro)"}


RESULTS_START = "<!-- results: rendered from reports/metrics.json by `make run`; do not edit by hand -->"
RESULTS_END = "<!-- /results -->"
STAGE_OF = {"model-sft": "bench_sft", "model-grpo": "bench_grpo"}  # the dvc stage that scores each row


def results_block(headline: dict[str, dict], learn: dict[str, dict] | None = None, ablation: dict | None = None) -> str:
    """The README's results table: a row per policy of ``reports/metrics.json``, baselines first, with the
    dvc stage that reproduces it; then the trained models of ``make learn`` (``reports/learn/metrics.json``)
    and the ablation's arms (``reports/ablation.json``, mean ± std over its seeds), when given."""
    order = ["silent", "every-turn", "random", "prior", "oracle"]
    policies = sorted(headline, key=lambda p: (order.index(p) if p in order else len(order), p))
    lines = ["| policy | W-Avg | PU | TR | PA | reproduce |", "|---|---|---|---|---|---|"]
    keys = HEADLINE

    def row(name: str, m: dict, how: str) -> str:
        return f"| {name} | " + " | ".join("" if m.get(k) is None else f"{m[k]:.1f}" for k in keys) + f" | {how} |"

    for policy in policies:
        lines.append(row(policy, headline[policy], f"`dvc repro {STAGE_OF.get(policy, 'bench')}`"))
    for policy in sorted(p for p in learn or {} if p.startswith("model-")):
        lines.append(row(f"{policy} (longer: profiles/learn.yaml)", learn[policy], "`make learn`"))
    for arm, stats in (ablation or {}).get("arms", {}).items():
        n = len(ablation.get("seeds", []))
        cells = " | ".join(f"{stats[k]['mean']:.1f} ± {stats[k]['std']:.1f}" if k in stats else "" for k in keys)
        lines.append(f"| ablation: {stats.get('title', arm)} ({n} seed{'s' * (n > 1)}) | {cells} | `make ablate` |")
    return "\n".join([RESULTS_START, *lines, RESULTS_END])


TIMES_START = "<!-- step times: rendered from reports/step_times.json by `make run`; do not edit by hand -->"
TIMES_END = "<!-- /step times -->"


def times_block(times: dict[str, float], dvc_yaml: str = "dvc.yaml") -> str:
    """The README's step times: seconds per dvc stage (matched by its ``--out``) of the last run of each."""
    import shlex

    import yaml

    stages = yaml.safe_load(open(dvc_yaml))["stages"]
    lines = ["| stage | seconds |", "|---|---|"]
    total = 0.0
    for name, stage in stages.items():
        words = shlex.split(stage["cmd"])
        out = words[words.index("--out") + 1] if "--out" in words else None
        if out in times:
            lines.append(f"| {name} | {times[out]:.0f} |")
            total += times[out]
    lines.append(f"| all | {total:.0f} |")
    return "\n".join(lines)


def update_readme(readme: str, metrics: str, times: str | None = None) -> None:
    """Replace the README's results block with the table of ``metrics``, and its step-times block with the
    seconds in ``times`` (``make run`` calls it)."""
    with open(readme) as f:
        text = f.read()
    start, end = text.index(RESULTS_START), text.index(RESULTS_END) + len(RESULTS_END)
    import os

    def optional(path: str) -> dict | None:
        return json.load(open(path)) if os.path.exists(path) else None

    folder = os.path.dirname(metrics)
    with open(metrics) as f:
        block = results_block(json.load(f), optional(os.path.join(folder, "learn", "metrics.json")),
                              optional(os.path.join(folder, "ablation.json")))
    text = text[:start] + block + text[end:]
    if times and TIMES_START in text:
        start, end = text.index(TIMES_START), text.index(TIMES_END) + len(TIMES_END)
        with open(times) as f:
            timed = times_block(json.load(f), os.path.join(os.path.dirname(os.path.abspath(readme)), "dvc.yaml"))
        text = text[:start] + f"{TIMES_START}\n{timed}\n{TIMES_END}" + text[end:]
    with open(readme, "w") as f:
        f.write(text)
