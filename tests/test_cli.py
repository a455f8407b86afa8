import json
import re
import shutil
import sys

import pytest

from sklearn_mlabnc.cli import main


def test_ufm_prints_solver_beside_closed_form(capsys):
    assert main(["ufm", "--classes", "4", "--max-multiplicity", "2"]) == 0
    out = capsys.readouterr().out
    rows = {
        line.split("|")[1].strip(): line.split("|")[2:4]
        for line in out.splitlines()
        if line.startswith("| alpha") or line.startswith("| c_2")
    }
    assert len(rows) == 2
    for solver, closed in rows.values():
        assert float(solver) == pytest.approx(float(closed), rel=1e-6)
    assert "nc2_classifier" in out and "converged True" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["reproduce", "--dataset", "missing-train.arff"], "no such ARFF file"),
        (["reproduce", "--dataset", "emotions", "--data-dir", "/nonexistent"], "MULAN data"),
        (["demo", "--device", "tpu"], "Unknown device"),
        (["ufm", "--classes", "1"], "--classes must be"),
        (["reproduce", "--epochs", "0"], "positive integer"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err


def test_cuda_without_a_gpu_is_a_usage_error(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert main(["demo", "--device", "cuda", "--epochs", "1", "--quiet"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err


def test_demo_writes_a_report_with_plots(tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["demo", "--epochs", "2", "--quiet", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "learned head" in printed and "fixed ETF, d=K" in printed
    assert max(len(line) for line in printed.splitlines()) <= 100
    assert "fewer trainable parameters" in printed
    report = (out / "report.md").read_text()
    assert "| quantity" in report and "| trainable params" in report
    assert "## Conclusions" in report and "fewer trainable parameters" in report
    assert "- **LRAP**: Label ranking average precision" in report
    for png in ("collapse_curves.png", "geometry.png", "etf_comparison.png"):
        assert (out / png).stat().st_size > 10_000
        assert f"]({png})" in report


def test_demo_without_matplotlib_says_so_and_writes_the_table(tmp_path, capsys, monkeypatch):
    # matplotlib is the optional 'plot' extra: a blocked import stands for its absence.
    for name in ("matplotlib", "matplotlib.pyplot"):
        monkeypatch.setitem(sys.modules, name, None)
    out = tmp_path / "report"
    assert main(["demo", "--epochs", "2", "--quiet", "--out", str(out)]) == 0
    assert "No plots written" in capsys.readouterr().err
    report = (out / "report.md").read_text()
    assert "| quantity" in report and "No plots written" in report
    assert not list(out.glob("*.png"))


def test_reproduce_on_an_arff_path(tmp_path, capsys, mulan_dir):
    for split in ("train", "test"):
        shutil.copy(mulan_dir / f"emotions-{split}.arff", tmp_path / f"emo-{split}.arff")
    shutil.copy(mulan_dir / "emotions.xml", tmp_path / "emo.xml")
    argv = [
        "reproduce",
        "--dataset",
        str(tmp_path / "emo-train.arff"),
        "--epochs",
        "2",
        "--every",
        "1",
        "--loss",
        "pal",
        "bce",
        "--head",
        "linear",
        "--quiet",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "pal, learned head" in out and "bce, learned head" in out
    assert "391 train / 202 test" in out


def _strict_json(path):
    def refuse(constant):
        raise ValueError(f"non-finite number {constant} in {path}")

    return json.loads(path.read_text(), parse_constant=refuse)


def test_reproduce_writes_results_json_and_figures(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["reproduce", "--epochs", "2", "--every", "1", "--hidden", "16", "--feature-dim"]
    argv += ["16", "--loss", "pal", "--quiet", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "Library convention" in printed and "Paper convention" in printed
    results = _strict_json(out / "results.json")
    assert results["command"] == "mlabnc " + " ".join(argv)
    runs = {run["name"]: run for run in results["runs"]}
    assert set(runs) == {"pal, learned head", "pal, fixed ETF, d=K"}
    # 256 inputs -> 16 (BatchNorm, ReLU) -> linear feature layer 16 -> head 10 (+ bias)
    first = 256 * 16 + 16 + 2 * 16
    assert runs["pal, learned head"]["trainable_params"] == first + 16 * 16 + 16 + 16 * 10 + 10
    assert runs["pal, fixed ETF, d=K"]["trainable_params"] == first + 16 * 10 + 10 + 10
    for run in runs.values():
        assert [row["epoch"] for row in run["history"]] == [1, 2]
        for key in ("train_loss", "feature_sq_norm", "train_nc1", "paper_nc1", "paper_nc_m_2"):
            assert all(key in row for row in run["history"])
        for convention in ("library", "paper"):
            assert set(run["final"][convention]) >= {"nc1", "nc2_classifier", "nc3", "nc_m"}
        assert 0 <= run["test"]["micro-F1"] <= 1 and 0 <= run["train_accuracy"] <= 1
        assert len(run["tagwise"]["angle_deg"]) == 45  # every pair of the ten digits
        assert run["ufm_c_m"]["2"] > 1
    for png in ("collapse_curves_library.png", "collapse_curves_paper.png", "tagwise.png"):
        assert (out / png).stat().st_size > 10_000


def test_reproduce_never_prints_inf_or_nan(tmp_path, capsys):
    # A feature penalty that kills the ReLU features: every collapse metric is undefined.
    argv = ["reproduce", "--epochs", "4", "--every", "2", "--hidden", "64", "--feature-dim"]
    argv += ["64", "--feature-layer", "hidden", "--feature-decay", "10", "--lr", "0.1"]
    argv += ["--loss", "pal", "--head", "linear", "--quiet", "--out", str(tmp_path)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "features died" in captured.err
    assert "n/a" in captured.out
    assert not re.search(r"\b(inf|nan)\b", captured.out, flags=re.IGNORECASE)
    assert not re.search(r"\b(inf|nan)\b", (tmp_path / "report.md").read_text(), re.IGNORECASE)
    run = _strict_json(tmp_path / "results.json")["runs"][0]
    assert run["final"]["library"]["nc1"] is None
    assert any("features died" in message for message in run["warnings"])


def test_version(capsys):
    from sklearn_mlabnc import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"mlabnc {__version__}"


@pytest.mark.parametrize(
    "command, expected",
    [
        ("demo", ["(default: 60)", "(default: mlabnc-report)", "report.md", "PNG"]),
        ("reproduce", ["(default: digits)", "$MLABNC_DATA_DIR", "results.json"]),
        ("ufm", ["(default: 5)", "closed form"]),
    ],
)
def test_help_describes_command_defaults_and_outputs(command, expected, capsys):
    assert main([command, "--help"]) == 0
    text = capsys.readouterr().out
    for phrase in expected:
        assert phrase in text
    assert "(default: None)" not in text and "(default: False)" not in text
