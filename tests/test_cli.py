import shutil
from pathlib import Path

import pytest

from sklearn_mlabnc.cli import main

SHARED_MULAN = Path(__file__).resolve().parents[2] / "shared" / "data" / "mulan"


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
    report = (out / "report.md").read_text()
    assert "| model" in report and "trainable params" in report
    for png in ("collapse_curves.png", "geometry.png", "etf_comparison.png"):
        assert (out / png).stat().st_size > 10_000
        assert f"]({png})" in report


@pytest.mark.skipif(not SHARED_MULAN.is_dir(), reason="../shared/data/mulan is not present")
def test_reproduce_on_an_arff_path(tmp_path, capsys):
    for split in ("train", "test"):
        shutil.copy(SHARED_MULAN / f"emotions-{split}.arff", tmp_path / f"emo-{split}.arff")
    shutil.copy(SHARED_MULAN / "emotions.xml", tmp_path / "emo.xml")
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
