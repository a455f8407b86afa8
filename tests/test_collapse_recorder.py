"""The forward-hook FeatureRecorder (collapse/_recorder.py) against direct partial_fit.

The reference computes the same features by calling the network's front part explicitly and
feeds them to CollapseStatistics.partial_fit batch by batch; the recorder must give the same
statistics (1e-9 in float64) inside a real training loop, across epochs and across two
gloo processes.
"""

from __future__ import annotations

import os
import pickle
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch import nn

from sklearn_mlabnc.collapse import CollapseStatistics, FeatureRecorder, collapse_report


def _network(seed=0):
    torch.manual_seed(seed)
    features = nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)),
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(16, 6),
    )
    return nn.Sequential(features, nn.Linear(6, 4)).double()


def _batches(n_batches=6, batch=16, seed=0):
    rng = np.random.default_rng(seed)
    sets = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [1, 1, 0, 0]])
    out = []
    for _ in range(n_batches):
        Y = sets[rng.integers(0, len(sets), batch)]
        X = rng.normal(size=(batch, 64)) + Y @ rng.normal(size=(4, 64))
        out.append((torch.tensor(X), torch.tensor(Y)))
    return out


def _pal(logits, Y):
    return -(Y * torch.log_softmax(logits, dim=1)).sum(1).mean()


def _within_scatters(stats: CollapseStatistics) -> list[np.ndarray]:
    """Within-label-set scatters of the singleton and of the larger sets (shift-free)."""
    s = stats.summary()
    out = []
    for scatter, keep in (
        (s.scatter_single, s.multiplicities == 1),
        (s.scatter_multi, s.multiplicities >= 2),
    ):
        B, n = s.sums[keep], s.counts[keep].astype(float)
        out.append(scatter - (B.T / n) @ B)
    return out


def _assert_same(a: CollapseStatistics, b: CollapseStatistics, rtol=1e-9):
    np.testing.assert_array_equal(a.label_sets_, b.label_sets_)
    np.testing.assert_array_equal(a.counts_, b.counts_)
    np.testing.assert_allclose(a.means_, b.means_, rtol=rtol, atol=1e-12)
    for x, y in zip(_within_scatters(a), _within_scatters(b), strict=True):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=rtol * np.abs(y).max())
    ra, rb = collapse_report(a), collapse_report(b)
    for key in ("nc1", "nc2_means"):
        assert getattr(ra, key) == pytest.approx(getattr(rb, key), rel=rtol)
    assert ra.nc_m[2] == pytest.approx(rb.nc_m[2], rel=rtol)


def test_recorder_equals_partial_fit_inside_a_training_loop():
    model = _network()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    recorder = FeatureRecorder(model, "1", capture="input", dtype=np.float64)
    reference = CollapseStatistics(dtype=np.float64)
    for X, Y in _batches():
        with torch.no_grad():  # the same parameters the training step will see
            reference.partial_fit(model[0](X), Y)
        with recorder.record(Y):
            loss = _pal(model(X), Y.double())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    _assert_same(recorder.statistics_, reference)
    W, b = model[1].weight, model[1].bias
    got, expected = (
        recorder.report(W=W, b=b),
        collapse_report(reference, W=W.detach(), b=b.detach()),
    )
    for key in ("nc1", "nc2_means", "nc2_classifier", "nc3", "bias_deviation"):
        assert getattr(got, key) == pytest.approx(getattr(expected, key), rel=1e-9), key


def test_output_capture_of_a_named_feature_layer():
    model = _network()
    recorder = FeatureRecorder(model, "0.5")  # the last Linear of the feature block
    reference = CollapseStatistics(dtype=np.float64)
    with torch.no_grad():
        for X, Y in _batches():
            reference.partial_fit(model[0](X), Y)
            with recorder.record(Y):
                model(X)
    _assert_same(recorder.statistics_, reference)


def test_epochs_merge_exactly_and_reset_starts_over():
    model = _network()
    batches = _batches()
    recorder = FeatureRecorder(model, "1", capture="input", dtype=np.float64)
    per_epoch = []
    with torch.no_grad():
        for half in (batches[:3], batches[3:]):
            recorder.reset()
            for X, Y in half:
                with recorder.record(Y):
                    model(X)
            per_epoch.append(recorder.statistics_)
        whole = CollapseStatistics(dtype=np.float64)
        for X, Y in batches:
            whole.partial_fit(model[0](X), Y)
    _assert_same(per_epoch[0] + per_epoch[1], whole)
    assert per_epoch[0].n_samples_ == 48 and per_epoch[1].n_samples_ == 48


def test_the_hook_does_nothing_outside_record_and_is_removable():
    model = _network()
    recorder = FeatureRecorder(model, "1", capture="input")
    X, Y = _batches(1)[0]
    model(X)  # not recorded
    with recorder.record(Y):
        model(X)
    model(X)
    assert recorder.statistics_.n_samples_ == 16
    recorder.remove()
    assert not model[1]._forward_hooks


def test_recorder_errors_name_the_problem():
    model = _network()
    with pytest.raises(ValueError, match="no layer named 'head'.*'0.5'"):
        FeatureRecorder(model, "head")
    with pytest.raises(ValueError, match="capture must be"):
        FeatureRecorder(model, "1", capture="weights")
    recorder = FeatureRecorder(model, "1")
    with pytest.raises(RuntimeError, match="did not run inside recorder.record"):
        with recorder.record(torch.zeros(2, 4)):
            pass
    X, Y = _batches(1)[0]
    with pytest.raises(ValueError, match="rows"):  # labels of another batch size
        with recorder.record(Y[:3]):
            model(X)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_recorder_on_the_gpu_matches_the_cpu():
    model, batches = _network(), _batches()
    cpu = FeatureRecorder(model, "1", capture="input", dtype=np.float64)
    with torch.no_grad():
        for X, Y in batches:
            with cpu.record(Y):
                model(X)
    model = model.cuda()
    gpu = FeatureRecorder(model, "1", capture="input", dtype=np.float64)
    with torch.no_grad():
        for X, Y in batches:
            with gpu.record(Y.cuda()):
                model(X.cuda())
    _assert_same(gpu.statistics_, cpu.statistics_)


_WORKER = textwrap.dedent(
    """
    import pickle, sys
    import numpy as np
    import torch
    import torch.distributed as dist
    sys.path.insert(0, sys.argv[2])
    from test_collapse_recorder import _batches, _network
    from sklearn_mlabnc.collapse import FeatureRecorder

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    model = _network()
    recorder = FeatureRecorder(model, "1", capture="input", dtype=np.float64)
    with torch.no_grad():
        for X, Y in _batches()[rank::world]:
            with recorder.record(Y):
                model(X)
    merged = recorder.merge_ranks()
    with open(f"{sys.argv[1]}/rank{rank}.pkl", "wb") as f:
        pickle.dump(merged, f)
    dist.destroy_process_group()
    """
)


@pytest.mark.skipif(not torch.distributed.is_available(), reason="no torch.distributed")
def test_two_processes_merge_to_the_one_process_statistics(tmp_path):
    worker = tmp_path / "worker.py"
    worker.write_text(_WORKER)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2"]
    command += ["--master_addr=127.0.0.1", f"--master_port={port}", str(worker)]
    command += [str(tmp_path), os.path.dirname(__file__)]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(sys.path))
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    merged = [pickle.loads((tmp_path / f"rank{r}.pkl").read_bytes()) for r in range(2)]
    model = _network()
    single = CollapseStatistics(dtype=np.float64)
    with torch.no_grad():
        for X, Y in _batches():
            single.partial_fit(model[0](X), Y)
    for stats in merged:
        _assert_same(stats, single)
