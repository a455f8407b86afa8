"""The ``mlabnc`` command (also ``python -m sklearn_mlabnc``).

- ``mlabnc demo``: learned vs fixed-ETF head on multi-label digits, with a report folder.
- ``mlabnc reproduce``: the paper reproduction: a protocol under which both heads reach
  multi-label neural collapse, over losses and heads, on digits, MULAN data or an ARFF
  file; the collapse metrics in the library's and the paper's convention, figures and
  ``results.json``.
- ``mlabnc ufm``: the unconstrained-feature-model optimum beside the reduced closed form.

Errors in the arguments, missing files and unavailable devices print one line on stderr and
exit with status 2.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from . import _reproduce as rp
from ._cli_parser import build_parser
from ._persistence import write_bytes, write_figure

__all__ = ["main"]

_MULAN = ("emotions", "yeast")


class UsageError(Exception):
    """A problem with the command line or its inputs: one line on stderr, exit status 2."""


# ----------------------------------------------------------------------------- data
def _load(dataset: str, data_dir: str | None, seed: int):
    """``(X_train, Y_train, X_test, Y_test, label_names, image_shape)``."""
    if dataset == "digits":
        from .datasets import make_multilabel_digits

        train = make_multilabel_digits(subset="train", random_state=seed)
        test = make_multilabel_digits(subset="test", random_state=seed + 1)
        return train.data, train.target, test.data, test.target, train.target_names, (1, 16, 16)
    from sklearn.preprocessing import StandardScaler

    from .datasets import load_mulan

    if dataset in _MULAN:
        folder = _mulan_dir(data_dir)
        train_path, test_path = folder / f"{dataset}-train.arff", folder / f"{dataset}-test.arff"
    else:
        train_path = Path(dataset)
        test_path = Path(str(train_path).replace("-train", "-test"))
        if not train_path.is_file():
            raise UsageError(f"no such ARFF file: {train_path}")
        if test_path == train_path or not test_path.is_file():
            raise UsageError(
                f"no test split beside {train_path}: expected a file named like "
                "NAME-train.arff with NAME-test.arff next to it"
            )
    try:
        train = load_mulan(train_path)
        test = load_mulan(test_path)
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    scaler = StandardScaler().fit(train.data)
    return (
        scaler.transform(train.data),
        train.target,
        scaler.transform(test.data),
        test.target,
        train.target_names,
        None,
    )


def _mulan_dir(data_dir: str | None) -> Path:
    folder = data_dir or os.environ.get("MLABNC_DATA_DIR")
    if folder and Path(folder, "emotions-train.arff").is_file():
        return Path(folder)
    raise UsageError(
        "MULAN data not found: pass --data-dir DIR or set MLABNC_DATA_DIR to a folder holding "
        "the MULAN files (emotions-train.arff, emotions-test.arff, yeast-train.arff, ...)"
    )


def _backbone(name: str, image_shape, width: int):
    if image_shape is None:
        raise UsageError(f"--backbone {name} needs image data; use --dataset digits or mlp")
    from .backbones import ResNet18, SmallCNN

    if name == "cnn":
        return functools.partial(SmallCNN, input_shape=image_shape)
    return functools.partial(ResNet18, input_shape=image_shape, width=width)


# ------------------------------------------------------------------------ experiments
def _evaluate(name, clf, X_train, Y_train, X_test, Y_test, seconds) -> dict:
    import torch
    from sklearn.metrics import f1_score, hamming_loss, label_ranking_average_precision_score

    from .collapse import collapse_curves, collapse_report, soft_iou

    Y_pred = clf.predict(X_test)
    scores = clf.decision_function(X_test)
    report = collapse_report(clf.transform(X_train), Y_train, W=clf.coef_, b=clf.intercept_)
    curves = collapse_curves(clf.history_)
    n_params = sum(p.numel() for p in clf.net_.module_.parameters() if p.requires_grad)
    return {
        "model": name,
        "micro-F1": f1_score(Y_test, Y_pred, average="micro", zero_division=0),
        "macro-F1": f1_score(Y_test, Y_pred, average="macro", zero_division=0),
        "samples-F1": f1_score(Y_test, Y_pred, average="samples", zero_division=0),
        "Hamming": hamming_loss(Y_test, Y_pred),
        "LRAP": label_ranking_average_precision_score(Y_test, scores),
        "soft IoU": soft_iou(torch.as_tensor(scores), Y_test, from_logits=True),
        "trainable params": n_params,
        "NC1 first": curves["nc1"][0] if curves.get("nc1") else float("nan"),
        "NC1": report.nc1,
        "NC2 (W)": report.nc2_classifier,
        "NC2 (means)": report.nc2_means,
        "NC3": report.nc3,
        "NC_m (m=2)": report.nc_m.get(2, float("nan")),
        "fit (s)": seconds,
    }


def _run(configs: dict, data, args, common: dict) -> tuple[list[dict], dict]:
    from . import MLabNCClassifier

    X_train, Y_train, X_test, Y_test = data
    rows, models = [], {}
    for name, config in configs.items():
        clf = MLabNCClassifier(
            device=args.device,
            random_state=args.seed,
            verbose=int(not args.quiet),
            **{**common, **config},
        )
        start = time.perf_counter()
        clf.fit(X_train, Y_train)
        seconds = time.perf_counter() - start
        rows.append(_evaluate(name, clf, X_train, Y_train, X_test, Y_test, seconds))
        models[name] = clf
        if not args.quiet:
            print(f"  {name}: trained in {seconds:.1f} s", file=sys.stderr)
    return rows, models


def _demo(args: argparse.Namespace) -> int:
    X_train, Y_train, X_test, Y_test, labels, _ = _load("digits", None, args.seed)
    print(
        f"multi-label digits: {len(X_train)} train / {len(X_test)} test canvases, "
        f"{Y_train.shape[1]} labels, label sets of size 1 and 2"
    )
    configs = {  # the linear feature layer has d = 256 (learned) or d = K (ETF) outputs
        "learned head": dict(head="linear", feature_dim=256),
        "fixed ETF, d=K": dict(head="etf", feature_dim="n_classes"),
    }
    # The reproduction's protocol (a linear feature layer, SGD, weight and feature decay) on
    # a smaller MLP and fewer epochs: both heads move towards collapse within seconds, where
    # Adam with ReLU features left the learned head's NC2 and NC_m flat. `mlabnc reproduce`
    # runs the full protocol to the terminal phase.
    common = {
        **rp.PROTOCOL,
        "module": rp.mlp_module((256, 256), "linear"),
        "max_epochs": args.epochs,
        "collapse_every": max(1, args.epochs // 12),
    }
    rows, models = _run(configs, (X_train, Y_train, X_test, Y_test), args, common)
    _finish(
        "mlabnc demo: learned vs fixed-ETF head on multi-label digits",
        rows,
        models,
        (X_train, Y_train),
        labels,
        args,
    )
    return 0


def _reproduce(args: argparse.Namespace) -> int:

    X_train, Y_train, X_test, Y_test, labels, shape = _load(args.dataset, args.data_dir, args.seed)
    if args.backbone == "mlp":
        module = rp.mlp_module(args.hidden, args.feature_layer)
        feature_dim = args.feature_dim
    else:
        module, feature_dim = _backbone(args.backbone, shape, args.width), None
    configs = rp.make_configs(args.loss, args.head, lambda head: module, feature_dim)
    protocol = {
        **rp.PROTOCOL,
        "lr": args.lr,
        "max_epochs": args.epochs,
        "batch_size": args.batch_size,
        "weight_decay": args.weight_decay,
        "feature_decay": args.feature_decay,
    }
    print(
        f"{args.dataset}: {len(X_train)} train / {len(X_test)} test samples, "
        f"{Y_train.shape[1]} labels; backbone {args.backbone}"
        + (
            f" {'-'.join(map(str, args.hidden))}, {args.feature_layer} feature layer"
            if args.backbone == "mlp"
            else ""
        )
        + f"; SGD lr {args.lr} (momentum 0.9, cosine), {args.epochs} epochs, batch "
        f"{args.batch_size}, weight decay {args.weight_decay:g}, feature decay "
        f"{args.feature_decay:g} per sample, no dropout"
    )
    records = []
    data = (X_train, Y_train, X_test, Y_test)
    for name, config in configs.items():
        params = dict(
            protocol, device=args.device, random_state=args.seed, verbose=int(not args.quiet)
        )
        record = rp.run_experiment(name, {**params, **config}, data, every=args.every)
        records.append(record)
        if not args.quiet:
            print(f"  {name}: trained in {record.seconds:.1f} s", file=sys.stderr)
        for message in record.warnings:
            print(f"  {name}: {message}", file=sys.stderr)
    tables = {c: _markdown_table([r.summary(c) for r in records]) for c in rp.CONVENTIONS}
    notes = _reproduction_notes(records)
    for convention, table in tables.items():
        print(f"\n{_CONVENTION_TITLES[convention]}\n{table}")
    print("\n" + "\n".join(notes))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        command = "mlabnc " + " ".join(args.argv)
        document = rp.results_document(records, command=command, dataset=args.dataset)
        write_bytes(out / "results.json", json.dumps(document, indent=1, allow_nan=False))
        _write_reproduction(out, command, tables, notes, records, labels)
        print(f"\nreport written to {out / 'report.md'}, results to {out / 'results.json'}")
    return 0


_CONVENTION_TITLES = {
    "library": "Library convention (singleton classes, sample-weighted global mean, NC2 of "
    "centred means, uncentred NC_m):",
    "paper": "Paper convention (the official code's global mean: singleton features summed "
    "over all samples; NC2 of uncentred means; singleton classes, uncentred NC_m):",
}


def _reproduction_notes(records) -> list[str]:
    """One line per run: how far NC1 fell, and the fitted c_m beside the UFM's."""
    notes = []
    for record in records:
        row = record.summary("library")
        line = f"{record.name}: NC1 of the training features fell {_format_fall(row['NC1 fall'])}"
        line += f" over training; train accuracy {_format(record.train_accuracy)}"
        for m, c in sorted(record.final["library"]["c_m"].items()):
            line += f"; fitted c_{m} = {_format(c)}"
            if m in record.ufm_c_m:
                line += f" (UFM optimum {_format(record.ufm_c_m[m])})"
        notes.append(line)
    return notes


def _format_fall(value) -> str:
    return f"{value:,.0f}x" if np.isfinite(value) and value > 0 else "n/a (NC1 undefined)"


def _write_reproduction(out: Path, command, tables, notes, records, labels) -> None:
    lines = [f"# {command}", "", f"Command: `{command}`"]
    for convention, table in tables.items():
        lines += ["", f"## {_CONVENTION_TITLES[convention]}", "", table]
    lines += ["", *notes]
    _write_with_figures(out, lines, lambda: _reproduction_figures(records, labels), dpi=110)


def _reproduction_figures(records, labels) -> dict:
    from . import plotting

    histories = {r.name: r.model.history_ for r in records}
    metrics = ("nc1", "nc2_classifier", "nc2_means", "nc3", "nc_m_2")
    figures = {}
    for convention, prefix in (("library", "train"), ("paper", "paper")):
        fig = plotting.plot_collapse_curves(histories, metrics=metrics, prefix=prefix)
        fig.suptitle(f"Collapse metrics over training, {convention} convention (log scale)")
        caption = f"NC metrics against epochs, {convention} convention"
        figures[f"collapse_curves_{convention}.png"] = (fig, caption)
    views = {r.name: r.tagwise for r in records if len(r.tagwise.labels)}
    if views:
        predicted = {r.name: r.ufm_c_m for r in records}
        figures["tagwise.png"] = (
            plotting.plot_tagwise(views, predicted_c_m=predicted),
            "Tag-wise average: angle of each label set to its singleton sum, and c_m",
        )
    models = {r.name: r.model for r in records}
    figures["etf_comparison.png"] = (
        plotting.plot_etf_comparison(models),
        "Pairwise cosines of the classifier rows",
    )
    return figures


def _finish(title, rows, models, train, labels, args) -> None:
    print(_metrics_table(rows))
    conclusions = _demo_conclusions(rows)
    print("\n" + "\n".join(conclusions))
    if args.out:
        _write_report(Path(args.out), title, rows, conclusions, models, train, labels, args)
        print(f"\nreport written to {Path(args.out) / 'report.md'}")


# What each row of the demo's table means, for report.md (one sentence each).
_QUANTITIES = {
    "micro-F1": "F1 of all (sample, label) decisions of the test set pooled; higher is better.",
    "macro-F1": "F1 of each label on the test set, averaged over the labels; higher is better.",
    "samples-F1": "F1 between each test sample's predicted and true label set, averaged "
    "over the samples; higher is better.",
    "Hamming": "Fraction of wrong (sample, label) decisions on the test set; lower is better.",
    "LRAP": "Label ranking average precision of the test scores: how well each sample's true "
    "labels rank above its other labels, whatever the decision rule; higher is better.",
    "soft IoU": "The paper's test score: the softmax mass on each test sample's true labels, "
    "averaged; higher is better.",
    "trainable params": "Parameters the optimizer updates; the fixed ETF head has none and "
    "shrinks the last feature layer to d = K.",
    "NC1 first": "NC1 (below) of the training features after the first recorded epoch.",
    "NC1": "Within-class spread of the training features of singleton label sets relative "
    "to the spread of their class means, tr(Sigma_W Sigma_B^+)/K; 0 at collapse.",
    "NC2 (W)": "Distance of the classifier rows' Gram matrix from a simplex ETF's; 0 at "
    "collapse, and 0 by construction for the fixed ETF head.",
    "NC2 (means)": "The same distance for the centred singleton class means; 0 at collapse.",
    "NC3": "Distance of the product of the classifier and the centred means from a simplex "
    "ETF (self-duality); 0 at collapse.",
    "NC_m (m=2)": "Tag-wise average for pairs: angle of each pair's mean feature to the sum "
    "of its two singleton means, over the same angle to any pair; 0 at collapse, about 1 "
    "without structure.",
    "fit (s)": "Wall time of fit, in seconds.",
}


def _metrics_table(rows: list[dict]) -> str:
    """The models as columns and the quantities as rows: fits 100 columns for a few models."""
    quantities = [key for key in rows[0] if key != "model"]
    table = [
        {"quantity": q, **{row["model"]: _format(row[q]) for row in rows}} for q in quantities
    ]
    return _markdown_table(table)


def _demo_conclusions(rows: list[dict]) -> list[str]:
    """What the demo's table says, in sentences (printed and in report.md)."""
    import textwrap

    lines = []
    for row in rows:
        fall = row["NC1 first"] / row["NC1"] if row["NC1"] > 0 else float("nan")
        lines.append(
            f"- {row['model']}: NC1 of the training features fell {_format_fall(fall)} over "
            f"training; NC2 of the means ends at {_format(row['NC2 (means)'])} and NC_2 at "
            f"{_format(row['NC_m (m=2)'])} (0 is full collapse)."
        )
    if len(rows) == 2:
        learned, fixed = rows
        saved = 1 - fixed["trainable params"] / learned["trainable params"]
        lines.append(
            f"- {fixed['model']}: {saved:.0%} fewer trainable parameters than the "
            f"{learned['model']} ({fixed['trainable params']:,} against "
            f"{learned['trainable params']:,}), test micro-F1 {_format(fixed['micro-F1'])} "
            f"against {_format(learned['micro-F1'])}."
        )
    return [textwrap.fill(line, width=_WIDTH, subsequent_indent="  ") for line in lines]


_WIDTH = 100  # columns of a terminal the demo's output fits


def _write_report(out: Path, title, rows, conclusions, models, train, labels, args) -> None:
    out.mkdir(parents=True, exist_ok=True)
    meanings = [f"- **{q}**: {text}" for q, text in _QUANTITIES.items() if q in rows[0]]
    lines = [
        f"# {title}",
        "",
        f"Command: `mlabnc {' '.join(args.argv)}`",
        "",
        _metrics_table(rows),
        "",
        "## Conclusions",
        "",
        *conclusions,
        "",
        "## What the rows mean",
        "",
        "Test quality on the held-out canvases, collapse metrics on the training features "
        "(singleton label sets as the classes; see the user guide's page on the metrics).",
        "",
        *meanings,
    ]
    _write_with_figures(out, lines, lambda: _figures(models, train, labels), dpi=120)


def _write_with_figures(out: Path, lines: list[str], make_figures, dpi: int) -> None:
    """Save the figures ``make_figures()`` draws and write ``report.md`` linking them."""
    try:
        figures = make_figures()
    except ImportError as exc:
        # Said on the terminal too: a report folder without its figures is easy to miss.
        hint = (
            "No plots written: they need matplotlib, the package's 'plot' extra. Install it "
            '(pip install matplotlib, or pip install ".[plot]" in a checkout) and run again.'
        )
        print(hint, file=sys.stderr)
        lines = [*lines, "", f"{hint} ({exc})"]
        figures = {}
    for name, (figure, caption) in figures.items():
        write_figure(figure, out / name, dpi=dpi, bbox_inches="tight")
        lines = [*lines, "", f"## {caption}", "", f"![{caption}]({name})"]
    write_bytes(out / "report.md", "\n".join(lines) + "\n")


def _figures(models, train, labels) -> dict:
    from . import plotting

    X_train, Y_train = train
    name, shown = list(models.items())[-1]  # the last model (the ETF one in the demo)
    figures = {
        "collapse_curves.png": (
            plotting.plot_collapse_curves(models),
            "Collapse metrics of the training features over epochs",
        ),
        "geometry.png": (
            plotting.plot_geometry(
                shown.transform(X_train), Y_train, W=shown.coef_, label_names=list(labels)
            ),
            f"Feature geometry ({name})",
        ),
        "etf_comparison.png": (
            plotting.plot_etf_comparison(models),
            "Pairwise cosines of the classifier rows",
        ),
    }
    return figures


def _markdown_table(rows: list[dict]) -> str:
    columns = list(rows[0])
    cells = [[_format(row[c]) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in cells:
        lines.append("| " + " | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) + " |")
    return "\n".join(lines)


def _format(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, np.integer)):
        return f"{value:,}"
    if not np.isfinite(value):
        return "n/a"
    if value != 0 and abs(value) < 1e-3:
        return f"{value:.2e}"
    return f"{value:.4f}" if abs(value) < 1000 else f"{value:.0f}"


# -------------------------------------------------------------------------------- ufm
def _ufm(args: argparse.Namespace) -> int:
    import itertools

    from .ufm import reduced_problem, solve_ufm

    K, M = args.classes, args.max_multiplicity
    if not 2 <= K <= 12:
        raise UsageError("--classes must be between 2 and 12")
    if not 1 <= M < K:
        raise UsageError("--max-multiplicity must be between 1 and classes - 1")
    counts = {1: args.n_singleton, **{m: args.n_set for m in range(2, M + 1)}}
    rows = []
    for m in range(1, M + 1):
        for labels in itertools.combinations(range(K), m):
            row = np.zeros(K, dtype=int)
            row[list(labels)] = 1
            rows += [row] * counts[m]
    Y = np.array(rows)
    decay = dict(weight_decay=args.weight_decay, feature_decay=args.feature_decay)
    solution = solve_ufm(
        Y, n_features=args.features, loss=args.loss, random_state=args.seed, **decay
    )
    reduced = reduced_problem(counts, K, loss=args.loss, **decay)
    report = solution.report()
    W_row = float(np.linalg.norm(solution.W, axis=1).mean())
    print(
        f"UFM: K={K}, multiplicities 1..{M}, counts per set {counts}, loss {args.loss}, "
        f"{len(Y)} samples, d={solution.W.shape[1]}"
    )
    print(
        f"solver: objective {solution.objective:.10g}, gradient norm {solution.grad_norm:.2e}, "
        f"converged {solution.converged}"
    )
    table = [
        ("objective", solution.objective, reduced.objective),
        ("alpha (row norm of W)", W_row, reduced.alpha),
    ]
    table += [(f"c_{m}", report.c_m.get(m, np.nan), reduced.c_m[m]) for m in range(2, M + 1)]
    table = [
        {"quantity": name, "solver": f"{a:.10g}", "closed form": f"{b:.10g}"}
        for name, a, b in table
    ]
    print(_markdown_table(table))
    metrics = [
        {"metric": k, "value": report.to_dict()[k]}
        for k in ("nc1", "nc2_means", "nc2_classifier", "nc3")
    ]
    metrics += [{"metric": f"nc_m_{m}", "value": v} for m, v in report.nc_m.items()]
    print(_markdown_table(metrics))
    for note in (*reduced.notes, *report.notes):
        print(f"note: {note}")
    return 0


# ------------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    """Run the ``mlabnc`` command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit status: 0 on success, 2 on a usage error (one line on stderr).

    Examples
    --------
    >>> from sklearn_mlabnc.cli import main
    >>> main(["ufm", "--classes", "3", "--quiet"])
    2
    >>> main(["ufm", "--classes", "3", "--max-multiplicity", "1"])  # doctest: +ELLIPSIS
    UFM: K=3, multiplicities 1..1, ...
    0
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(demo=_demo, reproduce=_reproduce, ufm=_ufm)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    args.argv = argv
    try:
        return args.run(args)
    except (UsageError, ValueError, FileNotFoundError) as exc:
        print(f"mlabnc: error: {exc}", file=sys.stderr)
        return 2
