"""Tests of sklearn_mlabnc.plotting (matplotlib, Agg backend)."""

import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sklearn_mlabnc import MLabNCClassifier  # noqa: E402
from sklearn_mlabnc.collapse import tagwise_average  # noqa: E402
from sklearn_mlabnc.plotting import (  # noqa: E402
    MultilabelReliabilityDisplay,
    plot_collapse_curves,
    plot_etf_comparison,
    plot_geometry,
    plot_label_statistics,
    plot_tagwise,
)

SETS = np.array(
    [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [1, 1, 0, 0], [0, 1, 1, 0]]
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    Y = np.repeat(SETS, 6, axis=0)
    X = Y @ rng.normal(size=(4, 5)) + 0.1 * rng.normal(size=(len(Y), 5))
    common = dict(hidden_layer_sizes=(16,), max_epochs=4, collapse_every=2, random_state=0)
    learned = MLabNCClassifier(**common).fit(X, Y)
    etf = MLabNCClassifier(head="etf", feature_dim="n_classes", **common).fit(X, Y)
    return X, Y, learned, etf


def _legend(fig):
    return fig.legends[0] if fig.legends else fig.axes[0].get_legend()


def _check_labelled(ax):
    assert ax.get_title()
    assert ax.get_xlabel()
    assert ax.get_ylabel()


def _etf_geometry(K, reps=3, c2=0.6):
    """Features with exact MLab NC: singleton means = simplex ETF, pair means = c2 * avg."""
    U = np.eye(K) - 1.0 / K
    Y = np.vstack([np.eye(K, dtype=int), [[1, 1] + [0] * (K - 2)], [[0, 1, 1] + [0] * (K - 3)]])
    Y = np.repeat(Y, reps, axis=0)
    scale = np.where(Y.sum(1) == 1, 1.0, c2)[:, None]
    H = (Y @ U) / Y.sum(1, keepdims=True) * scale
    return H, Y, U


# --------------------------------------------------------------------- curves
def _history(values, key="nc1", prefix="train", epochs=(2, 4, 6)):
    hist = []
    for e in range(1, max(epochs) + 1):
        row = {"epoch": e, "train_loss": 1.0 / e}
        if e in epochs:
            row[f"{prefix}_{key}"] = values[epochs.index(e)]
        hist.append(row)
    return hist


def test_collapse_curves_lines_equal_history(tmp_path):
    a = _history([1.0, 0.1, 0.01])
    b = _history([2.0, 0.5, 0.25])
    fig = plot_collapse_curves({"learned": a, "etf": b}, metrics=("nc1",))
    assert isinstance(fig, matplotlib.figure.Figure)
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    _check_labelled(ax)
    assert ax.get_yscale() == "log"
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["learned", "etf"]
    np.testing.assert_array_equal(lines[0].get_xdata(), [2, 4, 6])
    np.testing.assert_allclose(lines[0].get_ydata(), [1.0, 0.1, 0.01])
    np.testing.assert_allclose(lines[1].get_ydata(), [2.0, 0.5, 0.25])
    legend = _legend(fig)
    assert [t.get_text() for t in legend.get_texts()] == ["learned", "etf"]
    fig.savefig(tmp_path / "curves_hand.png")


def test_collapse_curves_estimators_default_metrics(fitted, tmp_path):
    _, _, learned, etf = fitted
    fig = plot_collapse_curves({"learned head": learned, "fixed ETF": etf})
    assert len(fig.axes) == 5  # nc1, nc2_means, nc2_classifier, nc3, nc_m_2
    for ax in fig.axes:
        _check_labelled(ax)
    assert fig.get_suptitle()
    assert _legend(fig) is not None
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[2].startswith("NC2 (classifier)") and titles[4].startswith("NC_m (m=2)")
    # the learned head's line is the recorded values
    rec = [row["train_nc3"] for row in learned.history_ if "train_nc3" in row]
    np.testing.assert_allclose(fig.axes[3].get_lines()[0].get_ydata(), rec)
    # the fixed ETF's nc2_classifier (0 up to rounding) is clipped at the floor, and marked
    etf_line = fig.axes[2].get_lines()[1]
    np.testing.assert_allclose(etf_line.get_ydata(), 1e-8)
    assert any("drawn at" in t.get_text() for t in fig.axes[2].texts)
    fig.savefig(tmp_path / "curves_fitted.png")


def test_collapse_curves_single_estimator_linear_and_labels(fitted):
    _, _, learned, _ = fitted
    fig = plot_collapse_curves(learned, metrics=["nc1", "c_m_2"], log_scale=False)
    assert [ax.get_yscale() for ax in fig.axes] == ["linear", "linear"]
    assert fig.axes[0].get_lines()[0].get_label() == "run"
    fig = plot_collapse_curves([learned.history_, learned], labels=["a", "b"], metrics=["c_m_2"])
    assert fig.axes[0].get_yscale() == "linear"  # c_m does not tend to 0
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["a", "b"]


def test_collapse_curves_nan_only_metrics_skipped():
    a = _history([1.0, 0.5, 0.2])
    for row, v in zip([r for r in a if "train_nc1" in r], [0.3, 0.2, 0.1], strict=True):
        row["train_nc3"] = float("nan")
        row["train_nc2_means"] = v
    b = [dict(r) for r in a]
    for row in b:
        if "train_nc2_means" in row:
            row["train_nc2_means"] = float("nan")
    fig = plot_collapse_curves({"a": a, "b": b}, metrics=("nc1", "nc2_means", "nc3", "nc_m_2"))
    # nc3 all NaN and nc_m_2 never recorded (a default metric): no panel
    assert len(fig.axes) == 2
    # b's nc2_means is all NaN: no line for it
    assert [line.get_label() for line in fig.axes[1].get_lines()] == ["a"]
    # with given axes, the panels without data are hidden
    _, axes = plt.subplots(1, 4)
    fig = plot_collapse_curves(
        {"a": a, "b": b}, metrics=("nc1", "nc2_means", "nc3", "nc_m_2"), axes=axes
    )
    assert [ax.get_visible() for ax in axes] == [True, True, False, False]
    assert axes[0].get_legend() is not None


def test_collapse_curves_bad_input():
    hist = _history([1.0, 0.5, 0.2])
    with pytest.raises(ValueError, match="no collapse metrics with prefix 'valid'"):
        plot_collapse_curves(hist, prefix="valid")
    with pytest.raises(ValueError, match="metric 'nc9' was not recorded; available"):
        plot_collapse_curves(hist, metrics=("nc9",))
    with pytest.raises(ValueError, match="labels has 2 entries for 1 run"):
        plot_collapse_curves(hist, labels=["a", "b"])
    with pytest.raises(ValueError, match="must be 2 matplotlib Axes"):
        plot_collapse_curves(hist, metrics=("nc1", "nc3"), axes=plt.subplots(1, 3)[1])
    with pytest.raises(ValueError, match="histories must be"):
        plot_collapse_curves(3.0)
    with pytest.raises(ValueError, match="expected a history"):
        plot_collapse_curves({"x": "not a history"})
    with pytest.raises(ValueError, match="floor must be a positive"):
        plot_collapse_curves(hist, floor=0.0)
    with pytest.raises(ValueError, match="has a finite recorded value"):
        plot_collapse_curves(_history([float("nan")] * 3))


# ------------------------------------------------------------------- geometry
def test_geometry_exact_etf_2d(tmp_path):
    H, Y, U = _etf_geometry(3)
    fig = plot_geometry(H, Y, W=U, label_names=["a", "b", "c"])
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    _check_labelled(ax)
    # K = 3: the polygon plane is the whole span of the centred means
    assert ax.get_xlabel().startswith("axis 1: ") and ax.get_ylabel().startswith("axis 2: ")
    assert "keeps 100% of their spread, 100% of the label-set means'" in ax.get_title()
    pca = plot_geometry(H, Y, W=U, basis="pca").axes[0]
    assert pca.get_xlabel().startswith("PC1: ")
    texts = [t.get_text() for t in _legend(fig).get_texts()]
    assert any("singleton" in t for t in texts) and any("tag-wise" in t for t in texts)
    assert any("label-set means" in t for t in texts) and any("classifier" in t for t in texts)
    by_gid = {c.get_gid(): c for c in ax.collections}
    z = np.asarray(by_gid["singleton_means"].get_offsets())
    assert z.shape == (3, 2)
    dist = [np.linalg.norm(z[i] - z[j]) for i, j in ((0, 1), (0, 2), (1, 2))]
    np.testing.assert_allclose(dist, dist[0], rtol=1e-10)
    # the centred simplex has the global mean (the origin) at its centre
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), np.linalg.norm(z[0]), rtol=1e-10)
    # exact tag-wise geometry: the predictions coincide with the set means
    np.testing.assert_allclose(
        np.asarray(by_gid["predictions_2"].get_offsets()),
        np.asarray(by_gid["set_means_2"].get_offsets()),
        atol=1e-12,
    )
    assert by_gid["predictions_2"].get_facecolors().size == 0  # hollow
    # the classifier rows (dashed, normalised to the singleton-mean length) align with them
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(dashed) == 3
    tips = np.array([line.get_xydata()[1] for line in dashed])
    np.testing.assert_allclose(tips, z, atol=1e-10)
    fig.savefig(tmp_path / "geometry_2d.png")


def test_geometry_exact_etf_3d(tmp_path):
    H, Y, _ = _etf_geometry(4)
    fig = plot_geometry(H, Y, dims=3)
    ax = fig.axes[0]
    assert ax.name == "3d"
    assert ax.get_zlabel().startswith("axis 3: ")
    sc = next(c for c in ax.collections if c.get_gid() == "singleton_means")
    z = np.column_stack(sc._offsets3d)
    dist = [np.linalg.norm(z[i] - z[j]) for i in range(4) for j in range(i + 1, 4)]
    np.testing.assert_allclose(dist, dist[0], rtol=1e-10)
    fig.savefig(tmp_path / "geometry_3d.png")


def test_geometry_residual_matches_tagwise_scale():
    rng = np.random.default_rng(1)
    H, Y, _ = _etf_geometry(3, reps=4)
    H = H + 0.05 * rng.normal(size=H.shape) + np.array([0.3, -0.1, 0.2])  # offset: uncentred
    fig = plot_geometry(H, Y)
    ax = fig.axes[0]
    by_gid = {c.get_gid(): c for c in ax.collections}
    c2 = tagwise_average(H, Y).c_m[2]
    assert f"{c2:.3g}" in " ".join(t.get_text() for t in _legend(fig).get_texts())
    # reconstruct the projection from the singleton means and check the predictions
    means = {tuple(r): H[(Y == r).all(1)].mean(0) for r in np.unique(Y, axis=0)}
    mu = np.array([means[tuple(r)] for r in np.eye(3, dtype=int)])
    mu_g = mu.mean(0)  # balanced singletons: weighted mean = mean of means
    z = np.asarray(by_gid["singleton_means"].get_offsets())
    P = np.linalg.lstsq(mu - mu_g, z, rcond=None)[0]  # d x 2 projection
    pred = np.array([c2 * mu[[0, 1]].mean(0), c2 * mu[[1, 2]].mean(0)]) - mu_g
    np.testing.assert_allclose(
        np.asarray(by_gid["predictions_2"].get_offsets()), pred @ P, atol=1e-8
    )
    sets = np.array([means[(1, 1, 0)], means[(0, 1, 1)]]) - mu_g
    np.testing.assert_allclose(
        np.asarray(by_gid["set_means_2"].get_offsets()), sets @ P, atol=1e-8
    )
    assert not np.allclose(pred, sets, atol=1e-3)  # a visible residual


def test_geometry_max_sets_and_given_axes():
    H, Y, _ = _etf_geometry(4)
    _, ax = plt.subplots()
    fig = plot_geometry(H, Y, max_sets=1, ax=ax)
    assert fig is ax.figure
    assert ax.get_legend() is not None
    assert "1 rarer label sets not drawn" in ax.get_title()
    by_gid = {c.get_gid(): c for c in ax.collections}
    assert len(np.asarray(by_gid["set_means_2"].get_offsets())) == 1


def test_geometry_bad_input():
    H, Y, U = _etf_geometry(3)
    with pytest.raises(ValueError, match="dims must be 2 or 3"):
        plot_geometry(H, Y, dims=4)
    with pytest.raises(ValueError, match=r"label\(s\) \['2'\] never occur alone"):
        plot_geometry(H[Y[:, 2] == 0], Y[Y[:, 2] == 0])
    with pytest.raises(ValueError, match=r"W must have shape \(K, d\)"):
        plot_geometry(H, Y, W=U[:2])
    with pytest.raises(ValueError, match="label_names has 2 entries"):
        plot_geometry(H, Y, label_names=["a", "b"])
    with pytest.raises(ValueError, match="needs a 3-D Axes"):
        plot_geometry(H, Y, dims=3, ax=plt.subplots()[1])
    with pytest.raises(ValueError, match="Y .* is required"):
        plot_geometry(H)
    with pytest.raises(ValueError, match="0/1 indicator"):
        plot_geometry(H, Y * 2)


# ------------------------------------------------------------------ ETF heads
def test_etf_comparison_exact_etf(tmp_path):
    K = 5
    etf = np.eye(K) - 1.0 / K
    rng = np.random.default_rng(0)
    fig = plot_etf_comparison({"learned": etf + 0.3 * rng.normal(size=(K, 7 - 2)), "ETF": etf})
    assert len(fig.axes) == 4  # two heatmaps + two colorbars
    heat = fig.axes[:2]
    for ax in heat:
        _check_labelled(ax)
    C = np.asarray(heat[1].images[0].get_array())
    off = ~np.eye(K, dtype=bool)
    np.testing.assert_allclose(C[off], -1.0 / (K - 1), atol=1e-12)
    np.testing.assert_allclose(np.diag(C), 1.0)
    assert "NC2 = " in heat[1].get_title() and heat[1].get_title().startswith("ETF")
    nc2_learned = float(heat[0].get_title().split("NC2 = ")[1].split("\n")[0])
    assert nc2_learned > 0.01
    assert any("ETF" in t.get_text() for t in fig.axes[3].get_yticklabels())  # colorbar mark
    fig.savefig(tmp_path / "etf.png")


def test_etf_comparison_estimators(fitted):
    _, _, learned, etf = fitted
    fig = plot_etf_comparison([learned, etf])
    assert [ax.get_title().splitlines()[0] for ax in fig.axes[:2]] == ["model 0", "model 1"]
    C = np.asarray(fig.axes[1].images[0].get_array())
    np.testing.assert_allclose(C[~np.eye(4, dtype=bool)], -1 / 3, atol=1e-6)
    Wn = learned.coef_ / np.linalg.norm(learned.coef_, axis=1, keepdims=True)
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), Wn @ Wn.T, atol=1e-12)
    # a single weight matrix (here a nested list) on a given axes
    _, ax = plt.subplots()
    fig = plot_etf_comparison(etf.coef_.tolist(), ax=ax)
    assert fig is ax.figure and ax.get_title().startswith("classifier")


def test_etf_comparison_bad_input():
    with pytest.raises(ValueError, match="zero row"):
        plot_etf_comparison(np.array([[1.0, 0.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="K >= 2 rows"):
        plot_etf_comparison({"a": np.ones(3)})
    with pytest.raises(ValueError, match="NaN or infinity"):
        plot_etf_comparison(np.array([[1.0, np.nan], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="must be 2 matplotlib Axes"):
        plot_etf_comparison({"a": np.eye(3), "b": np.eye(3)}, ax=plt.subplots()[1])
    with pytest.raises(ValueError, match="empty dict"):
        plot_etf_comparison({})


# ----------------------------------------------------------- label statistics
def test_label_statistics_counts_and_imbalance(tmp_path):
    Y = np.vstack([np.repeat(SETS[:4], 5, axis=0), SETS[[4, 4, 4, 5]], np.zeros((2, 4), int)])
    fig = plot_label_statistics(Y, label_names=list("abcd"))
    assert len(fig.axes) == 2
    for ax in fig.axes:
        _check_labelled(ax)
    a0, a1 = fig.axes
    assert [int(p.get_height()) for p in a0.patches] == [2, 20, 4]  # m = 0, 1, 2
    assert [t.get_text() for t in a0.get_xticklabels()] == ["m=0 (empty)", "m=1", "m=2"]
    heights = [int(p.get_height()) for p in a1.patches]
    assert heights == [2, 5, 5, 5, 5, 3, 1]
    ticks = [t.get_text() for t in a1.get_xticklabels()]
    assert ticks[0] == "\u2205" and ticks[1] == "{a}" and ticks[-1] == "{b,c}"
    # multiplicity 2 is imbalanced (3 vs 1): flagged in the title, the legend and hatching
    assert "1 multiplicity imbalanced" in a1.get_title()
    legend = [t.get_text() for t in a1.get_legend().get_texts()]
    assert "m=2 (imbalanced)" in legend and "m=1" in legend
    assert [bool(p.get_hatch()) for p in a1.patches] == [False] * 5 + [True] * 2
    assert any("imbalanced" in t.get_text() for t in a0.texts)
    fig.savefig(tmp_path / "labels.png")


def test_label_statistics_balanced_and_axes():
    _, axes = plt.subplots(1, 2)
    fig = plot_label_statistics(np.repeat(SETS, 3, axis=0), ax=axes)
    assert fig is axes[0].figure
    assert "balanced within each multiplicity" in axes[1].get_title()
    assert not any(p.get_hatch() for p in axes[1].patches)


def test_label_statistics_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        plot_label_statistics(np.array([1, 0, 1]))
    with pytest.raises(ValueError, match="0/1 indicator"):
        plot_label_statistics(np.array([[2, 0], [0, 1]]))
    with pytest.raises(ValueError, match="no rows"):
        plot_label_statistics(np.zeros((0, 3), int))
    with pytest.raises(ValueError, match="label_names has 1 entries"):
        plot_label_statistics(SETS, label_names=["a"])
    with pytest.raises(ValueError, match="must be 2 matplotlib Axes"):
        plot_label_statistics(SETS, ax=plt.subplots()[1])


# ----------------------------------------------------------------- lazy import
def test_missing_matplotlib_raises_install_hint(monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    H, Y, U = _etf_geometry(3)
    calls = [
        lambda: plot_collapse_curves(_history([1.0, 0.5, 0.2])),
        lambda: plot_geometry(H, Y),
        lambda: plot_etf_comparison(U),
        lambda: plot_label_statistics(Y),
    ]
    for call in calls:
        with pytest.raises(ImportError, match=r"pip install sklearn-mlabnc\[plot\]"):
            call()


def test_plotting_is_optional_and_not_imported_by_the_package():
    import ast
    import pathlib

    import sklearn_mlabnc

    def top_level_imports(path):
        names = []
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names += [a.name for a in node.names] + [getattr(node, "module", None) or ""]
        return names

    root = pathlib.Path(sklearn_mlabnc.__file__).parent
    # no module of the package imports plotting at import time (the CLI does so lazily)
    for path in root.rglob("*.py"):
        if path.parent.name != "plotting":
            assert not any("plotting" in n for n in top_level_imports(path)), path
    # the plotting package imports matplotlib only inside functions (or for type checking)
    for path in (root / "plotting").glob("*.py"):
        assert not any(n.startswith("matplotlib") for n in top_level_imports(path)), path


# ------------------------------------------------------------------------- tag-wise view
def _tagwise_toy():
    from sklearn_mlabnc.collapse import tagwise_view

    E = np.eye(3)
    H = np.vstack([E, 0.8 * (E[0] + E[1]), E[0] + 0.2 * E[2]])
    Y = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1]])
    return tagwise_view(H, Y)


def test_tagwise_plot_draws_the_views_numbers(tmp_path):
    view = _tagwise_toy()
    fig = plot_tagwise({"a": view, "b": view}, predicted_c_m={"a": {2: 1.5}})
    ax_angle, ax_scale = fig.axes
    angles = ax_angle.get_lines()[0].get_ydata()
    # sorted angles, the exact 0 drawn at the log floor
    np.testing.assert_allclose(angles, [1e-3, np.sort(view.angle)[1]])
    dashed = [ln for ln in ax_angle.get_lines() if ln.get_linestyle() == "--"]
    assert dashed[0].get_ydata()[0] == pytest.approx(view.reference_angle[2])
    fitted = [ln for ln in ax_scale.get_lines() if ln.get_marker() == "o"][0]
    np.testing.assert_allclose(fitted.get_ydata(), [1.0, view.c_m[2]])
    crosses = [ln for ln in ax_scale.get_lines() if ln.get_marker() == "x"]
    assert len(crosses) == 1 and crosses[0].get_ydata()[0] == 1.5
    assert ax_angle.get_yscale() == "log"
    fig.savefig(tmp_path / "tagwise.png")


def test_tagwise_plot_rejects_bad_input():
    with pytest.raises(ValueError, match="TagwiseView"):
        plot_tagwise({"a": np.zeros(3)})
    with pytest.raises(ValueError, match="non-empty"):
        plot_tagwise({})


def test_reliability_display_from_predictions_and_estimator(fitted):
    rng = np.random.default_rng(0)
    P = rng.random((400, 4))
    Y = (rng.random((400, 4)) < P**2).astype(int)  # over-confident on purpose
    Y[:, 3] = (rng.random(400) < P[:, 3]).astype(int)  # label 3 calibrated
    display = MultilabelReliabilityDisplay.from_predictions(Y, P, n_worst=2, n_bins=5)
    assert len(display.lines_) == 3 and "3" not in display.lines_  # two worst + pooled
    # the pooled points are the bins' mean probability and frequency of positives
    bins = np.minimum((P.ravel() * 5).astype(int), 4)
    freq = [Y.ravel()[bins == b].mean() for b in range(5)]
    mean_p = [P.ravel()[bins == b].mean() for b in range(5)]
    x, y = display.lines_["pooled"].get_data()
    np.testing.assert_allclose(x, mean_p)
    np.testing.assert_allclose(y, freq)
    counts = np.bincount(bins, minlength=5)
    ece = np.sum(counts * np.abs(np.array(freq) - mean_p)) / counts.sum()
    assert display.ece == pytest.approx(ece)
    fig, ax = plt.subplots()
    chosen = MultilabelReliabilityDisplay.from_predictions(
        Y, P, labels=[3], label_names=list("abcd"), ax=ax, name="model"
    )
    assert chosen.ax_ is ax and set(chosen.lines_) == {"pooled", "d"}
    X, Yf, clf, _ = fitted
    shown = MultilabelReliabilityDisplay.from_estimator(clf, X, Yf, n_worst=1)
    assert shown.lines_["pooled"].get_label().startswith("MLabNCClassifier")
    with pytest.raises(ValueError, match="one shape"):
        MultilabelReliabilityDisplay.from_predictions(Y, P[:, :2])


def test_geometry_set_names_do_not_cover_each_other():
    # K = 4 at collapse: the antipodal pairs {0,2} and {1,3} both project to the centre
    K = 4
    U = np.eye(K) - 1 / K
    sets = [[k] for k in range(K)] + [[i, j] for i in range(K) for j in range(i + 1, K)]
    Y = np.zeros((len(sets), K), dtype=int)
    for row, labels in zip(Y, sets, strict=True):
        row[labels] = 1
    H = Y @ U * np.where(Y.sum(1) == 1, 1.0, 0.8)[:, None]
    ax = plot_geometry(H, Y, W=U).axes[0]
    names = {t.get_text(): np.array(t.get_position()) for t in ax.texts if "{" in t.get_text()}
    assert len(names) == 6
    radius = np.abs(ax.get_xlim()).max() / 1.18
    spots = list(names.values())
    for i, a in enumerate(spots):
        for b in spots[i + 1 :]:
            assert abs(a[0] - b[0]) >= 0.3 * radius or abs(a[1] - b[1]) >= 0.08 * radius - 1e-12
