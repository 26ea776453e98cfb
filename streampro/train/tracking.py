"""Training metrics through DVCLive, DVC's logger: a folder per training step (``reports/sft``,
``reports/grpo``) with ``metrics.json`` (the last values: ``dvc metrics show`` and ``dvc exp show`` columns)
and ``plots/metrics/<name>.tsv`` (one row per logged step: ``dvc plots``).

While a run trains, a DVCLive callback appends each logged step, so the curves can be watched
(``dvc plots show`` in another shell). At the end the folder is written afresh from the trainer's log
history, which a resumed run restores from its checkpoint, so a killed-and-resumed run shows its whole
curve once. Only rank 0 writes.
"""
from __future__ import annotations

import os

from transformers import TrainerCallback


def _live(folder: str, resume: bool = False):
    from dvclive import Live

    return Live(dir=folder, resume=resume, report=None, save_dvc_exp=False, dvcyaml=None)


class LiveMetrics(TrainerCallback):
    """Logs the chosen metrics of each logged step to DVCLive while training (rank 0)."""

    def __init__(self, folder: str, names: dict[str, str]):
        self.folder, self.names, self.live = folder, names, None

    def on_log(self, args, state, control, logs=None, **kwargs):
        row = {name: logs[key] for key, name in self.names.items() if logs and key in logs}
        if not row or not state.is_world_process_zero:
            return
        if self.live is None:
            self.live = _live(self.folder, resume=os.path.exists(os.path.join(self.folder, "metrics.json")))
        self.live.step = state.global_step
        for name, value in row.items():
            self.live.log_metric(name, float(value))
        self.live.make_summary()

    def on_train_end(self, args, state, control, **kwargs):
        if self.live is not None:
            self.live.end()


def write_history(folder: str, history: list[dict], names: dict[str, str]) -> list[dict]:
    """Write ``folder`` afresh from a trainer's ``log_history``: the rows that carry ``names``' keys (renamed
    to their values), by step. Returns the rows written."""
    import shutil

    rows = history_rows(history, names)
    shutil.rmtree(folder, ignore_errors=True)
    live = _live(folder)
    for row in rows:
        live.step = row["step"]
        for name, value in row.items():
            if name != "step":
                live.log_metric(name, value)
    live.make_summary()
    live.end()
    return rows


def history_rows(history: list[dict], names: dict[str, str]) -> list[dict]:
    """The rows of a trainer's ``log_history`` that carry ``names``' keys (renamed to their values), by step."""
    rows = []
    for entry in history:
        row = {name: float(entry[key]) for key, name in names.items() if key in entry}
        if row and "step" in entry:
            rows.append({"step": int(entry["step"]), **row})
    return rows


def write_training_pages(out: str, rows: list[dict], title: str) -> None:
    """``training.md`` (first and last logged values) and ``training.html`` (the curves) in ``out``: what the
    Kubeflow UI shows of a training step."""
    import base64
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(k for row in rows for k in row if k != "step"))  # a metric may skip steps
    lines = [f"# {title}", "", "| metric | first | last |", "|---|---|---|"]
    for n in names:
        values = [r[n] for r in rows if n in r]
        lines.append(f"| {n} | {values[0]:.4g} | {values[-1]:.4g} |")
    with open(os.path.join(out, "training.md"), "w") as f:
        f.write("\n".join(lines) + f"\n\n{len(rows)} logged steps, the last at step {rows[-1]['step'] if rows else 0}.\n")
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for n in names:
        ax.plot([r["step"] for r in rows if n in r], [r[n] for r in rows if n in r], label=n)
    ax.set(title=title, xlabel="step")
    ax.legend(fontsize=8)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    image = base64.b64encode(buffer.getvalue()).decode()
    with open(os.path.join(out, "training.html"), "w") as f:
        f.write(f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body>"
                f"<h1>{title}</h1><img src='data:image/png;base64,{image}'></body></html>\n")
