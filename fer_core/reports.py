"""Write evaluation results to disk: metrics.json, a confusion-matrix PNG, a Plotly report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from matplotlib.figure import Figure
from plotly.subplots import make_subplots

METRICS_FILE = "metrics.json"
CONFUSION_PNG = "confusion_matrix.png"
REPORT_HTML = "report.html"


def _row_normalized(matrix: np.ndarray) -> np.ndarray:
    totals = matrix.sum(axis=1, keepdims=True)
    return np.divide(matrix, totals, out=np.zeros_like(matrix, float), where=totals > 0)


def save_confusion_png(metrics: dict, path: Path) -> None:
    """Row-normalized confusion matrix with counts, for model cards and READMEs."""
    counts = np.asarray(metrics["confusion_matrix"])
    rates = _row_normalized(counts)
    classes = metrics["classes"]
    fig = Figure(figsize=(7, 6), dpi=110)  # no pyplot: no global state, no display needed
    ax = fig.subplots()
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(classes)):
        for j in range(len(classes)):
            color = "white" if rates[i, j] > 0.5 else "black"
            ax.text(
                j,
                i,
                f"{rates[i, j]:.2f}\n{counts[i, j]}",
                ha="center",
                va="center",
                fontsize=7,
                color=color,
            )
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"accuracy {metrics['accuracy']:.1%}, macro F1 {metrics['macro_f1']:.3f}")
    fig.tight_layout()
    fig.savefig(path)


def report_figure(metrics: dict) -> go.Figure:
    """Interactive confusion matrix and per-class precision / recall / F1."""
    classes = metrics["classes"]
    counts = np.asarray(metrics["confusion_matrix"])
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.55, 0.45],
        subplot_titles=("confusion matrix (share of true class)", "per-class scores"),
    )
    fig.add_trace(
        go.Heatmap(
            z=_row_normalized(counts),
            x=classes,
            y=classes,
            customdata=counts,
            colorscale="Blues",
            zmin=0,
            zmax=1,
            showscale=False,
            hovertemplate="true %{y}<br>predicted %{x}<br>%{z:.1%} (%{customdata})<extra></extra>",
        ),
        row=1,
        col=1,
    )
    for score in ("precision", "recall", "f1"):
        values = [metrics["per_class"][c][score] for c in classes]
        fig.add_trace(go.Bar(name=score, x=classes, y=values), row=1, col=2)
    fig.update_yaxes(autorange="reversed", row=1, col=1)
    fig.update_yaxes(range=[0, 1], row=1, col=2)
    title = f"accuracy {metrics['accuracy']:.1%}, macro F1 {metrics['macro_f1']:.3f}"
    if metrics.get("default_tta"):
        title += f" with {metrics['default_tta']} TTA"
    tta = ", ".join(
        f"{'single view' if k == 'none' else k + ' TTA'} {v['accuracy']:.1%}"
        for k, v in metrics.get("tta", {}).items()
    )
    fig.update_layout(
        title=f"{title}{' (' + tta + ')' if tta else ''} on {metrics['n_images']} images",
        barmode="group",
        height=520,
    )
    return fig


def write_report(metrics: dict, out_dir: Path, offline_html: bool = False) -> dict[str, Path]:
    """Write the three report files; the HTML loads plotly.js from its CDN unless offline."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "metrics": out_dir / METRICS_FILE,
        "confusion": out_dir / CONFUSION_PNG,
        "report": out_dir / REPORT_HTML,
    }
    paths["metrics"].write_text(json.dumps(metrics, indent=2))
    save_confusion_png(metrics, paths["confusion"])
    report_figure(metrics).write_html(
        paths["report"], include_plotlyjs=True if offline_html else "cdn"
    )
    return paths
