"""The command line of ``mlabnc``: its commands, options, defaults and help texts."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from ._reproduce import PROTOCOL

__all__ = ["build_parser"]


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Descriptions as written (paragraphs, lists) and every option's default shown."""

    def _get_help_string(self, action):
        if action.default in (None, False) or action.default is argparse.SUPPRESS:
            return action.help  # flags and options without a default: nothing to show
        return super()._get_help_string(action)


_DEMO_HELP = """\
Train two networks on multi-label digits (scikit-learn's digits drawn on 16x16 canvases,
one or two digits each; 1,900 train / 1,900 test) with the paper's protocol on a small MLP:
one with a learned linear head, one with a fixed simplex-ETF head and d = K. Prints a
table of their test quality, trainable parameters, collapse metrics and fit times, and
what it shows; writes report.md (the table, what each row means, the conclusions) and
three PNG figures to --out. Under a minute on two idle CPU cores.
"""

_REPRODUCE_HELP = """\
Reproduce the paper's multi-label neural collapse: train PAL, PAL-N and BCE, each with a
learned head and a fixed simplex-ETF head (d = K), with SGD, weight decay and a per-sample
feature penalty for 200 epochs, and print the final collapse metrics in the library's and
the paper's conventions. With --out, writes results.json (every run's history and final
metrics), report.md and its figures.
"""

_UFM_HELP = """\
Solve the unconstrained feature model numerically for a balanced label matrix with every
label set of size 1 to --max-multiplicity, and print its objective, row norm and tag-wise
scales c_m beside the closed form of the reduced problem, then the collapse metrics of the
solution (all about 0 at the optimum).
"""


def build_parser(demo: Callable, reproduce: Callable, ufm: Callable) -> argparse.ArgumentParser:
    """The parser of ``mlabnc``; each command's namespace carries its function as ``run``."""
    parser = argparse.ArgumentParser(
        prog="mlabnc",
        description="Multi-label neural collapse with scikit-learn and PyTorch: a demo, the "
        "paper's reproduction and the unconstrained feature model. "
        "'mlabnc COMMAND --help' describes each command.",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name, summary, description):
        return commands.add_parser(
            name, help=summary, description=description, formatter_class=_HelpFormatter
        )

    def run_options(sub, epochs, out):
        sub.add_argument("--epochs", type=_positive, default=epochs, help="training epochs")
        sub.add_argument("--device", default="auto", help="'auto', 'cpu' or 'cuda[:N]'")
        sub.add_argument("--seed", type=int, default=0, help="random seed")
        sub.add_argument(
            "--out",
            default=out,
            help="folder for report.md and the PNG figures (created if missing)"
            + ("" if out else "; without it nothing is written"),
        )
        sub.add_argument("--quiet", action="store_true", help="no per-epoch progress")

    demo_parser = add(
        "demo", "learned vs fixed-ETF head on multi-label digits, with a report", _DEMO_HELP
    )
    run_options(demo_parser, 60, "mlabnc-report")
    demo_parser.set_defaults(run=demo)

    rep = add(
        "reproduce",
        "the paper reproduction: both heads reach collapse, over losses",
        _REPRODUCE_HELP,
    )
    rep.add_argument(
        "--dataset",
        default="digits",
        help="digits, emotions, yeast or a NAME-train.arff path (NAME-test.arff beside it)",
    )
    rep.add_argument(
        "--data-dir",
        help="folder of the MULAN files for emotions and yeast (default: $MLABNC_DATA_DIR)",
    )
    rep.add_argument(
        "--backbone",
        choices=("mlp", "cnn", "resnet18"),
        default="mlp",
        help="feature extractor; cnn and resnet18 need image data (digits)",
    )
    rep.add_argument(
        "--hidden", type=_positive, nargs="+", default=[512, 512], help="MLP hidden widths"
    )
    rep.add_argument("--width", type=_positive, default=64, help="ResNet-18 base width")
    rep.add_argument(
        "--feature-layer",
        choices=("linear", "hidden"),
        default="linear",
        help="MLP feature layer: plain linear, or Linear-BatchNorm-ReLU",
    )
    rep.add_argument(
        "--feature-dim", type=_positive, default=512, help="the learned head's feature dimension d"
    )
    rep.add_argument(
        "--loss",
        nargs="+",
        choices=("pal", "pal_normalized", "bce"),
        default=["pal", "pal_normalized", "bce"],
        help="losses to train",
    )
    rep.add_argument(
        "--head",
        nargs="+",
        choices=("linear", "etf"),
        default=["linear", "etf"],
        help="classifier heads to train (etf uses d = K)",
    )
    rep.add_argument("--lr", type=float, default=PROTOCOL["lr"], help="SGD learning rate")
    rep.add_argument(
        "--batch-size", type=_positive, default=PROTOCOL["batch_size"], help="batch size"
    )
    rep.add_argument(
        "--weight-decay",
        type=float,
        default=PROTOCOL["weight_decay"],
        help="weight decay on every parameter (UFM lambda_W)",
    )
    rep.add_argument(
        "--feature-decay",
        type=float,
        default=PROTOCOL["feature_decay"],
        help="per-sample feature penalty (UFM lambda_H = 2 x this / n_samples)",
    )
    rep.add_argument("--every", type=_positive, default=10, help="collapse metrics every k epochs")
    run_options(rep, PROTOCOL["max_epochs"], None)
    rep.set_defaults(run=reproduce)

    ufm_parser = add("ufm", "UFM optimum vs the reduced closed form", _UFM_HELP)
    ufm_parser.add_argument("--classes", type=int, default=5, help="number of labels K, 2 to 12")
    ufm_parser.add_argument(
        "--max-multiplicity", type=int, default=2, help="largest label-set size, 1 to K-1"
    )
    ufm_parser.add_argument(
        "--n-singleton", type=_positive, default=3, help="samples per singleton"
    )
    ufm_parser.add_argument(
        "--n-set", type=_positive, default=1, help="samples per label set of size 2 or more"
    )
    ufm_parser.add_argument("--features", type=_positive, help="feature dimension d (default: K)")
    ufm_parser.add_argument(
        "--loss", choices=("pal", "pal_normalized"), default="pal", help="the UFM's loss"
    )
    ufm_parser.add_argument("--weight-decay", type=float, default=5e-4, help="lambda_W")
    ufm_parser.add_argument("--feature-decay", type=float, default=1e-3, help="lambda_H")
    ufm_parser.add_argument("--seed", type=int, default=0, help="random initialisation")
    ufm_parser.set_defaults(run=ufm)
    return parser


def _version() -> str:
    import sklearn_mlabnc  # the package, once its import has finished

    return sklearn_mlabnc.__version__
