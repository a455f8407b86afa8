"""Charts of the benchmarks page, drawn from the tables recorded in ``docs/benchmarks.md``.

The numbers are read from the page itself (its markdown tables), so a chart never shows a
figure the page does not state. Run from the root of a checkout after updating a table::

    python benchmarks/plot_benchmarks.py            # writes docs/_static/benchmarks/*.png

Needs matplotlib (the ``plot`` extra).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "benchmarks.md"
OUT = ROOT / "docs" / "_static" / "benchmarks"

# Peers of the quality chart, in drawing order, with the names the chart gives them.
PEERS = {
    "ours": 'MLabNCClassifier() (decision="auto")',
    "mlp": "MLPClassifier(512, 512)",
    "hgb": "HistGradientBoosting, one per label",
    "boomer": "BOOMER (mlrl-boomer 0.12.3)",
    "rf": "RandomForestClassifier",
    "et": "ExtraTreesClassifier",
    "mlknn": "ML-kNN (k=10)",
}
DATASETS = ("emotions", "yeast", "CAL500", "digits")
METRICS = {
    "micro-F1": "micro-F1 (higher is better)",
    "samples-F1": "samples-F1 (higher is better)",
    "LRAP": "LRAP, label ranking (higher is better)",
    "Hamming ↓": "Hamming loss (lower is better)",
}


def tables(markdown: str) -> list[list[list[str]]]:
    """Every markdown table of a page: a list of rows of cells, the header first."""
    found, block = [], []
    for line in [*markdown.splitlines(), ""]:
        if line.lstrip().startswith("|"):
            block.append([c.strip() for c in line.strip().strip("|").split("|")])
        else:
            if len(block) > 2:
                found.append([block[0], *block[2:]])  # without the separator row
            block = []
    return found


def table_with(markdown: str, *columns: str) -> list[dict[str, str]]:
    """The rows of the first table whose header has all ``columns``, as dicts."""
    for table in tables(markdown):
        if all(c in table[0] for c in columns):
            return [dict(zip(table[0], row, strict=True)) for row in table[1:]]
    raise LookupError(f"no table with the columns {columns} in {PAGE}")


def number(cell: str) -> tuple[float, float]:
    """``(mean, std)`` of a cell like ``0.714 ± 0.002``, ``9,566`` or ``**1.97×**``."""
    cell = cell.replace("*", "").replace(",", "").replace("×", "").strip()
    parts = [p.strip() for p in cell.split("±")]
    mean = float(re.sub(r"[^0-9.eE+-]", "", parts[0]))
    return mean, float(parts[1]) if len(parts) > 1 else 0.0


def quality_chart(markdown: str, path: Path) -> None:
    rows = table_with(markdown, "data", "model", "micro-F1", "subset acc.")
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), layout="constrained")
    height = 0.8 / len(PEERS)
    colors = plt.get_cmap("tab10").colors
    for ax, (metric, title) in zip(axes.flat, METRICS.items(), strict=True):
        for i, (model, name) in enumerate(PEERS.items()):
            values, errors, where = [], [], []
            for j, data in enumerate(DATASETS):
                row = next((r for r in rows if r["data"] == data and r["model"] == model), None)
                if row is not None:
                    mean, std = number(row[metric])
                    values.append(mean)
                    errors.append(std)
                    where.append(j - 0.4 + (i + 0.5) * height)
            ax.barh(
                where,
                values,
                height,
                xerr=errors,
                color=colors[i],
                label=name,
                error_kw={"lw": 0.8},
            )
        ax.set_yticks(range(len(DATASETS)), DATASETS)
        ax.invert_yaxis()
        ax.set_title(title, fontsize="medium")
        ax.grid(axis="x", color="0.9")
        ax.set_axisbelow(True)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=4, fontsize="small")
    fig.suptitle(
        "Test quality against other multi-label learners (defaults, seed 0; ours: 3 seeds)"
    )
    fig.savefig(path, dpi=110)
    plt.close(fig)


def bars(path: Path, title: str, labels: list[str], values: list[float], unit: str, ref=None):
    """One horizontal bar per contender, the value written at its end."""
    fig, ax = plt.subplots(figsize=(9, 0.55 * len(labels) + 1.3), layout="constrained")
    colors = ["tab:orange" if "MLabNC" in label else "tab:gray" for label in labels]
    ax.barh(range(len(labels)), values, color=colors)
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    for i, v in enumerate(values):
        ax.text(v, i, f" {v:,.0f}" if v >= 100 else f" {v:.2f}", va="center", fontsize="small")
    ax.set_xlim(0, max(values) * 1.18)
    ax.set_xlabel(unit)
    if ref is not None:
        ax.axvline(ref, color="k", lw=0.8, ls="--")
    fig.suptitle(title, fontsize="medium")  # over the whole figure: the labels are long
    fig.savefig(path, dpi=110)
    plt.close(fig)


def training_chart(markdown: str, path: Path) -> None:
    rows = table_with(markdown, "contender", "samples/s", "vs hand-written bf16")
    labels = [r["contender"].replace("`", "") for r in rows]
    values = [number(r["samples/s"])[0] for r in rows]
    bars(
        path,
        "Training throughput, MLP 256→1024→1024→512→20, batch 1024, CPU, 1 thread",
        labels,
        values,
        "samples per second (higher is better)",
    )


def step_chart(markdown: str, path: Path) -> None:
    rows = table_with(markdown, "contender", "µs/step", "vs hand-written loop")
    labels = [r["contender"].replace("`", "") for r in rows]
    values = [number(r["µs/step"])[0] for r in rows]
    bars(
        path,
        "Per-step overhead: a 16-wide MLP, batch 16, CPU, 1 thread",
        labels,
        values,
        "microseconds per training step (lower is better)",
    )


def collapse_chart(markdown: str, path: Path) -> None:
    rows = table_with(markdown, "n, d, K", "reference, float32")
    columns = {
        "reference NC library, float32": "reference, float32",
        "reference NC library, float64": "reference, float64",
        "CollapseStatistics (default) + nc1": "`CollapseStatistics` (default) + `nc1`",
    }
    fig, ax = plt.subplots(figsize=(9, 3.6), layout="constrained")
    height = 0.8 / len(columns)
    colors = ["tab:gray", "silver", "tab:orange"]
    for i, (name, column) in enumerate(columns.items()):
        values = [number(r[column])[0] for r in rows]
        where = [j - 0.4 + (i + 0.5) * height for j in range(len(rows))]
        ax.barh(where, values, height, color=colors[i], label=name)
        for w, v in zip(where, values, strict=True):
            ax.text(v, w, f" {v:.1f} s", va="center", fontsize="x-small")
    ax.set_yticks(range(len(rows)), [f"n, d, K = {r['n, d, K']}" for r in rows])
    ax.invert_yaxis()
    ax.set_xlabel("seconds for NC1 (lower is better)")
    ax.set_xlim(0, ax.get_xlim()[1] * 1.1)
    ax.legend(loc="lower right", fontsize="small")
    ax.set_title("NC1 of Gaussian classes, streamed in float32 batches, CPU", fontsize="medium")
    fig.savefig(path, dpi=110)
    plt.close(fig)


CHARTS = {
    "quality_vs_peers.png": quality_chart,
    "training_throughput.png": training_chart,
    "step_overhead.png": step_chart,
    "collapse_vs_reference.png": collapse_chart,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--page", type=Path, default=PAGE, help="the benchmarks page")
    parser.add_argument("--out", type=Path, default=OUT, help="folder of the PNG files")
    args = parser.parse_args(argv)
    markdown = args.page.read_text(encoding="utf-8")
    args.out.mkdir(parents=True, exist_ok=True)
    for name, draw in CHARTS.items():
        draw(markdown, args.out / name)
        print(args.out / name)


if __name__ == "__main__":
    main()
