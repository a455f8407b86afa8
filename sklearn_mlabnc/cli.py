"""The ``mlabnc`` command (also ``python -m sklearn_mlabnc``).

``mlabnc demo`` trains a learned-head and a fixed-ETF-head classifier on multi-label digits
and prints their test quality, trainable-parameter counts and collapse metrics.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    import torch
    from sklearn.metrics import f1_score, hamming_loss, label_ranking_average_precision_score

    from . import MLabNCClassifier
    from .collapse import collapse_report, soft_iou
    from .datasets import make_multilabel_digits

    X_train, Y_train = make_multilabel_digits(subset="train", return_X_y=True, random_state=0)
    X_test, Y_test = make_multilabel_digits(subset="test", return_X_y=True, random_state=1)
    print(
        f"multi-label digits: {len(X_train)} train / {len(X_test)} test canvases, "
        f"{Y_train.shape[1]} labels, multiplicities 1-2"
    )
    configs = {
        "learned head": dict(head="linear"),
        "fixed ETF, d=K": dict(head="etf", feature_dim="n_classes"),
    }
    rows = []
    for name, config in configs.items():
        clf = MLabNCClassifier(
            max_epochs=args.epochs,
            device=args.device,
            random_state=args.seed,
            verbose=int(not args.quiet),
            **config,
        )
        start = time.perf_counter()
        clf.fit(X_train, Y_train)
        seconds = time.perf_counter() - start
        Y_pred = clf.predict(X_test)
        scores = clf.decision_function(X_test)
        report = collapse_report(clf.transform(X_train), Y_train, W=clf.coef_, b=clf.intercept_)
        n_params = sum(p.numel() for p in clf.net_.module_.parameters() if p.requires_grad)
        rows.append(
            {
                "model": name,
                "micro-F1": f1_score(Y_test, Y_pred, average="micro"),
                "macro-F1": f1_score(Y_test, Y_pred, average="macro", zero_division=0),
                "samples-F1": f1_score(Y_test, Y_pred, average="samples", zero_division=0),
                "Hamming": hamming_loss(Y_test, Y_pred),
                "LRAP": label_ranking_average_precision_score(Y_test, scores),
                "soft IoU": soft_iou(torch.as_tensor(scores), Y_test, from_logits=True),
                "params": n_params,
                "NC1": report.nc1,
                "NC2": report.nc2_classifier,
                "NC3": report.nc3,
                "NC_m": report.nc_m.get(2, np.nan),
                "fit s": seconds,
            }
        )
    _print_table(rows)
    return 0


def _print_table(rows: list[dict]) -> None:
    columns = list(rows[0])
    cells = [[_format(row[c]) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print("| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in cells:
        print("| " + " | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) + " |")


def _format(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, np.integer)):
        return f"{value:,}"
    return f"{value:.4f}" if abs(value) < 1000 else f"{value:.0f}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlabnc", description="Multi-label neural collapse with scikit-learn and PyTorch."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="learned vs fixed-ETF head on multi-label digits (about a minute on a CPU)"
    )
    demo.add_argument("--epochs", type=int, default=100, help="training epochs (default 100)")
    demo.add_argument("--device", default="auto", help="'auto', 'cpu' or 'cuda[:N]'")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(run=_demo)
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
        The exit status: 0 on success, 2 on a usage error.

    Examples
    --------
    >>> from sklearn_mlabnc.cli import main
    >>> main(["demo", "--epochs", "0"])
    2
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if getattr(args, "epochs", 1) < 1:
        print("mlabnc: error: --epochs must be a positive integer", file=sys.stderr)
        return 2
    try:
        return args.run(args)
    except ValueError as exc:  # bad device and other user errors: one clear line
        print(f"mlabnc: error: {exc}", file=sys.stderr)
        return 2
