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
    if data_dir:
        candidates = [data_dir]
    else:
        candidates = [
            os.environ.get("MLABNC_DATA_DIR"),
            "../shared/data/mulan",
            "shared/data/mulan",
        ]
    for candidate in filter(None, candidates):
        if Path(candidate, "emotions-train.arff").is_file():
            return Path(candidate)
    raise UsageError(
        "MULAN data not found: pass --data-dir DIR (holding emotions-train.arff, ...) or set "
        "MLABNC_DATA_DIR"
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
    elif args.backbone == "smallcnn":  # conv blocks, then a linear feature layer of width d
        if shape is None:
            raise UsageError("--backbone smallcnn needs image data; use --dataset digits")
        module, feature_dim = rp.cnn_module(shape), args.feature_dim
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
        (out / "results.json").write_text(json.dumps(document, indent=1, allow_nan=False))
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
        if record.ufm_problem:
            line += f" [UFM: {record.ufm_problem}]"
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
            "Tag-wise average: angle of each label set to its singleton sum, and c_m; x: the "
            "UFM optimum of each run's own problem (W learned, or fixed to the unit ETF for "
            "the ETF heads; named in the notes)",
        )
    models = {r.name: r.model for r in records}
    figures["etf_comparison.png"] = (
        plotting.plot_etf_comparison(models),
        "Pairwise cosines of the classifier rows",
    )
    return figures


def _finish(title, rows, models, train, labels, args) -> None:
    print(_markdown_table(rows))
    for row in rows:
        fall = row["NC1 first"] / row["NC1"] if row["NC1"] > 0 else float("nan")
        print(
            f"{row['model']}: NC1 of the training features fell {_format_fall(fall)} over training"
        )
    if args.out:
        _write_report(Path(args.out), title, rows, models, train, labels, args)
        print(f"\nreport written to {Path(args.out) / 'report.md'}")


def _write_report(out: Path, title, rows, models, train, labels, args) -> None:
    out.mkdir(parents=True, exist_ok=True)
    lines = [
        f"# {title}",
        "",
        f"Command: `mlabnc {' '.join(args.argv)}`",
        "",
        _markdown_table(rows),
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
        figure.savefig(out / name, dpi=dpi, bbox_inches="tight")
        lines = [*lines, "", f"## {caption}", "", f"![{caption}]({name})"]
    (out / "report.md").write_text("\n".join(lines) + "\n")


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
    decay = dict(weight_decay=args.weight_decay, lambda_h=args.lambda_h)
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
def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlabnc", description="Multi-label neural collapse with scikit-learn and PyTorch."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def run_options(sub, epochs):
        sub.add_argument("--epochs", type=_positive, default=epochs, help=f"default {epochs}")
        sub.add_argument("--device", default="auto", help="'auto', 'cpu' or 'cuda[:N]'")
        sub.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
        sub.add_argument("--out", help="folder for report.md and the PNG plots")
        sub.add_argument("--quiet", action="store_true", help="no progress bars")

    demo = commands.add_parser("demo", help="learned vs fixed-ETF head on multi-label digits")
    run_options(demo, 60)
    demo.set_defaults(run=_demo, out="mlabnc-report")

    rep = commands.add_parser(
        "reproduce", help="the paper reproduction: both heads reach collapse, over losses"
    )
    rep.add_argument(
        "--dataset",
        default="digits",
        help="digits, emotions, yeast or a NAME-train.arff path (NAME-test.arff beside it)",
    )
    rep.add_argument("--data-dir", help="folder of the MULAN files (emotions, yeast)")
    rep.add_argument(
        "--backbone",
        choices=("mlp", "smallcnn", "cnn", "resnet18"),
        default="mlp",
        help="smallcnn: SmallCNN's conv blocks then a linear feature layer of --feature-dim",
    )
    rep.add_argument(
        "--hidden",
        type=_positive,
        nargs="+",
        default=[512, 512],
        help="MLP hidden widths (default 512 512)",
    )
    rep.add_argument("--width", type=_positive, default=64, help="ResNet-18 base width")
    rep.add_argument(
        "--feature-layer",
        choices=("linear", "hidden"),
        default="linear",
        help="MLP feature layer: plain linear (default) or Linear-BatchNorm-ReLU",
    )
    rep.add_argument(
        "--feature-dim", type=_positive, default=512, help="learned head's d (mlp, smallcnn)"
    )
    rep.add_argument(
        "--loss",
        nargs="+",
        choices=("pal", "pal_normalized", "bce"),
        default=["pal", "pal_normalized", "bce"],
    )
    rep.add_argument("--head", nargs="+", choices=("linear", "etf"), default=["linear", "etf"])
    rep.add_argument("--lr", type=float, default=rp.PROTOCOL["lr"], help="SGD learning rate")
    rep.add_argument("--batch-size", type=_positive, default=rp.PROTOCOL["batch_size"])
    rep.add_argument("--weight-decay", type=float, default=rp.PROTOCOL["weight_decay"])
    rep.add_argument(
        "--feature-decay",
        type=float,
        default=rp.PROTOCOL["feature_decay"],
        help="per-sample feature penalty (UFM lambda_H = 2 x this / n_samples)",
    )
    rep.add_argument("--every", type=_positive, default=10, help="NC metrics every k epochs")
    run_options(rep, rp.PROTOCOL["max_epochs"])
    rep.set_defaults(run=_reproduce)

    ufm = commands.add_parser("ufm", help="UFM optimum vs the reduced closed form")
    ufm.add_argument("--classes", type=int, default=5)
    ufm.add_argument("--max-multiplicity", type=int, default=2)
    ufm.add_argument("--n-singleton", type=_positive, default=3, help="samples per singleton")
    ufm.add_argument("--n-set", type=_positive, default=1, help="samples per larger set")
    ufm.add_argument("--features", type=_positive, help="feature dimension d (default K)")
    ufm.add_argument("--loss", choices=("pal", "pal_normalized"), default="pal")
    ufm.add_argument("--weight-decay", type=float, default=5e-4)
    ufm.add_argument("--lambda-h", type=float, default=1e-3, help="the UFM's lambda_H")
    ufm.add_argument("--seed", type=int, default=0)
    ufm.set_defaults(run=_ufm)
    return parser


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
    parser = _parser()
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
