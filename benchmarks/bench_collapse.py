"""Benchmark: streaming CollapseStatistics vs a per-label-set loop reference.

The streaming path consumes features batch by batch (it never holds the ``n x d`` array)
and computes a full :class:`~sklearn_mlabnc.collapse.CollapseReport` plus the
``'label_sets'`` NC1. The reference holds the whole array and, for every distinct label
set, selects its rows with a boolean mask over the full arrays and computes the mean and
the centred scatter with numpy, then NC1 (both class conventions) and NC2 of the means.

Data: ``K`` labels, label sets of multiplicity 1-3 (probabilities 0.5 / 0.3 / 0.2; for
``m >= 2`` a fixed vocabulary of ``min(C(K, m), 20 K)`` random sets, uniform inside a
multiplicity), Gaussian features around tag-wise-average means, generated in ``float32``
batches from per-batch seeds so both paths see identical data.

Time excludes data generation. Peak memory is the tracemalloc peak of numpy allocations
during each path (for the reference it includes the ``n x d`` float32 array it needs).

With ``--device cpu|cuda`` the streaming path instead receives torch tensors already on
that device (features drawn there with torch from the same label-set means; a user's
network outputs), is timed with device synchronisation, and is reduced there; its NC1 is
checked against the numpy path on the same first 65,536 rows (to 1e-6 relative: both use
the float32 kernel, each on its own backend). The reference is skipped.

With ``--vs-reference`` it instead runs the side-by-side comparison with the reference NC
library (rhubarbwu/neural-collapse, MIT; not on the package registries, so its algorithm is
re-implemented faithfully here, :func:`reference_library`) on multiclass features: torch
on the CPU, batches of 8,192, a pass accumulating per-class sums ``onehot(y)^T X`` and
counts in the chosen dtype (``MeanAccumulator``), a second pass accumulating
``(X - M[y])^T (X - M[y])`` over all samples divided by ``n`` (``CovarAccumulator``),
then ``trace(pinv(M_c^T M_c / K) Sigma_W) / K`` with ``M_c`` the class means minus their
unweighted mean. Against it, :class:`CollapseStatistics` (one pass, 1-D labels) plus
``nc1(..., global_mean='class_means')``, by default and with ``dtype=np.float64``. Best of
``--repeats`` runs, all paths interleaved in one process, torch on ``--threads`` threads
(numpy's BLAS, which only sees the small ``d x d`` matrices, on one).

Usage::

    python benchmarks/bench_collapse.py --vs-reference --out /tmp/bench_vs_reference.json
    python benchmarks/bench_collapse.py --quick --out /tmp/bench_collapse_quick.json
    python benchmarks/bench_collapse.py --out /tmp/bench_collapse.json
    python benchmarks/bench_collapse.py --device cuda --n 1000000 --d 512 --K 50
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import sys
import time
import tracemalloc

import numpy as np

from sklearn_mlabnc.collapse import CollapseStatistics, collapse_report, nc1

HEADLINE = (1_000_000, 512, 50)


# ------------------------------------------------------------------------------ data
def make_problem(K: int, d: int, seed: int) -> dict:
    rng = np.random.default_rng([seed, K, d])
    sets: list[tuple[int, ...]] = [(k,) for k in range(K)]
    probs = [np.full(K, 0.5 / K)]
    for m, p_m in ((2, 0.3), (3, 0.2)):
        total = math.comb(K, m)
        cap = min(total, 20 * K)
        if total <= cap:
            pool = list(itertools.combinations(range(K), m))
        else:
            seen: set[tuple[int, ...]] = set()
            while len(seen) < cap:
                seen.add(tuple(sorted(rng.choice(K, size=m, replace=False).tolist())))
            pool = sorted(seen)
        sets += pool
        probs.append(np.full(len(pool), p_m / len(pool)))
    p = np.concatenate(probs)
    Yset = np.zeros((len(sets), K), dtype=bool)
    for j, S in enumerate(sets):
        Yset[j, list(S)] = True
    single = rng.normal(size=(K, d)) * 3
    c = {1: 1.0, 2: 0.7, 3: 0.5}
    mult = Yset.sum(1)
    means = np.stack([c[int(mult[j])] * single[Yset[j]].mean(0) for j in range(len(sets))])
    means += 0.1 * rng.normal(size=means.shape)
    return {"Yset": Yset, "p": p / p.sum(), "means": means.astype(np.float32), "seed": seed}


def batch(problem: dict, i: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([problem["seed"], 7, i])
    idx = rng.choice(len(problem["p"]), size=size, p=problem["p"])
    H = rng.standard_normal((size, problem["means"].shape[1]), dtype=np.float32)
    H += problem["means"][idx]
    return H, problem["Yset"][idx]


def batches(problem: dict, n: int, size: int):
    for i, a in enumerate(range(0, n, size)):
        yield batch(problem, i, min(size, n - a))


# ------------------------------------------------------------------------- the paths
def streaming(problem: dict, n: int, size: int) -> dict:
    st = CollapseStatistics()
    elapsed = 0.0
    tracemalloc.start()
    tracemalloc.reset_peak()
    for H, Y in batches(problem, n, size):
        t0 = time.perf_counter()
        st.partial_fit(H, Y)
        elapsed += time.perf_counter() - t0
        del H, Y
    t0 = time.perf_counter()
    rep = collapse_report(st)
    nc1_sets = nc1(st, classes="label_sets")
    elapsed += time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "time_s": elapsed,
        "peak_bytes": peak,
        "nc1": rep.nc1,
        "nc1_label_sets": nc1_sets,
        "n_sets": rep.n_label_sets,
    }


def streaming_torch(problem: dict, n: int, size: int, device: str) -> dict:
    import torch

    device = torch.device(device)
    gen = torch.Generator(device=device).manual_seed(problem["seed"])
    p = torch.as_tensor(problem["p"], device=device)
    means = torch.as_tensor(problem["means"], device=device)
    Yset = torch.as_tensor(problem["Yset"], device=device)
    parts = []
    for a in range(0, n, size):
        idx = torch.multinomial(p, min(size, n - a), replacement=True, generator=gen)
        H = torch.randn(len(idx), means.shape[1], device=device, generator=gen) + means[idx]
        parts.append((H, Yset[idx]))

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def run(batches):
        sync()
        t0 = time.perf_counter()
        st = CollapseStatistics()
        for H, Y in batches:
            st.partial_fit(H, Y)
        rep = collapse_report(st)
        nc1_sets = nc1(st, classes="label_sets")
        sync()
        return time.perf_counter() - t0, st, rep, nc1_sets

    run([(H[:1024], Y[:1024]) for H, Y in parts[:1]])  # warm-up: kernels, cuBLAS handles
    elapsed, st, rep, nc1_sets = run(parts)
    whole = (torch.cat([H for H, _ in parts]), torch.cat([Y for _, Y in parts]))
    elapsed_whole = run([whole])[0]
    H0, Y0 = parts[0]
    check = CollapseStatistics().partial_fit(H0.cpu().numpy(), Y0.cpu().numpy())
    torch_check = CollapseStatistics().partial_fit(H0, Y0)
    return {
        "time_s": elapsed,
        "time_one_call_s": elapsed_whole,
        "peak_bytes": (
            torch.cuda.max_memory_allocated(device) if device.type == "cuda" else float("nan")
        ),
        "nc1": rep.nc1,
        "nc1_label_sets": nc1_sets,
        "n_sets": rep.n_label_sets,
        "check_vs_numpy": abs(nc1(torch_check) - nc1(check)) / abs(nc1(check)),
    }


def reference(problem: dict, n: int, size: int) -> dict:
    tracemalloc.start()
    tracemalloc.reset_peak()
    parts = list(batches(problem, n, size))
    H = np.concatenate([p[0] for p in parts])
    Y = np.concatenate([p[1] for p in parts])
    del parts
    K, d = Y.shape[1], H.shape[1]
    t0 = time.perf_counter()
    sets = np.unique(Y, axis=0)
    Sw1, SwA = np.zeros((d, d)), np.zeros((d, d))
    n1 = nA = 0
    M1, c1 = np.zeros((K, d)), np.zeros(K)
    means, counts = [], []
    for s in sets:
        if not s.any():
            continue
        mask = (Y == s).all(axis=1)
        Hs = H[mask].astype(np.float64)
        mu = Hs.mean(axis=0)
        D = Hs - mu
        scatter = D.T @ D
        SwA += scatter
        nA += len(Hs)
        means.append(mu)
        counts.append(len(Hs))
        if s.sum() == 1:
            Sw1 += scatter
            n1 += len(Hs)
            M1[np.argmax(s)] = mu
            c1[np.argmax(s)] = len(Hs)

    def nc1_of(M, cnt, Sw, n_used):
        C = len(M)
        Mc = M - (cnt[:, None] * M).sum(0) / cnt.sum()
        Sb = Mc.T @ Mc / C
        return float(np.trace(Sw / n_used @ np.linalg.pinv(Sb, rcond=1e-10, hermitian=True)) / C)

    v1 = nc1_of(M1, c1, Sw1, n1)
    vA = nc1_of(np.array(means), np.array(counts, dtype=float), SwA, nA)
    G = (M1 - M1.mean(0)) @ (M1 - M1.mean(0)).T
    _ = np.linalg.norm(G / np.linalg.norm(G) - (np.eye(K) - 1 / K) / math.sqrt(K - 1))
    elapsed = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"time_s": elapsed, "peak_bytes": peak, "nc1": v1, "nc1_label_sets": vA}


def estimate_reference_s(n: int, d: int, K: int, n_sets: int) -> float:
    """Rough cost model (2 cores): per-set full-array masks plus the scatter GEMMs."""
    return n * n_sets * K * 2.5e-10 + 2 * n * d * d / 5e10 + n * n_sets * 2e-10


# -------------------------------------------------- the reference NC library, side by side
REFERENCE_CASES = [(100_000, 512, 50), (1_000_000, 512, 50), (1_000_000, 64, 200)]
REFERENCE_BATCH = 8192


def multiclass_batches(n: int, d: int, K: int, seed: int) -> list:
    """float32 torch batches ``(X, y)`` of Gaussian classes around random means."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    means = 2.0 * torch.randn(K, d, generator=gen)
    out = []
    for a in range(0, n, REFERENCE_BATCH):
        y = torch.randint(0, K, (min(REFERENCE_BATCH, n - a),), generator=gen)
        out.append((torch.randn(len(y), d, generator=gen) + means[y], y))
    return out


def reference_library(parts: list, K: int, dtype) -> float:
    """NC1 the way rhubarbwu/neural-collapse computes it (two passes, torch)."""
    import torch

    d = parts[0][0].shape[1]
    totals = torch.zeros(K, d, dtype=dtype)
    counts = torch.zeros(K, dtype=torch.int32)
    for X, y in parts:  # MeanAccumulator.accumulate
        idxs = y[:, None] == torch.arange(K, dtype=y.dtype)
        counts += idxs.sum(0, dtype=torch.int32)
        totals += idxs.mT.to(dtype) @ X.to(dtype)
    eps = torch.finfo(dtype).eps
    M = totals / (counts[:, None] + eps).to(dtype)
    cov = torch.zeros(d, d, dtype=dtype)
    n_seen = torch.zeros(K, dtype=torch.int32)
    for X, y in parts:  # CovarAccumulator.accumulate
        n_seen += (y[:, None] == torch.arange(K, dtype=y.dtype)).sum(0, dtype=torch.int32)
        diff = X.to(dtype) - M[y]
        cov += diff.mT @ diff
    sigma_w = cov / (n_seen.sum() + eps).to(dtype)
    Mc = M - M.mean(dim=0)  # covariance-ratio NC1 with the unweighted global mean
    sigma_b = Mc.mT @ Mc / K
    return float(torch.trace(torch.linalg.pinv(sigma_b) @ sigma_w)) / K


def ours(parts: list, K: int, dtype) -> float:
    """NC1 from one streaming pass of :class:`CollapseStatistics` over the same batches."""
    st = CollapseStatistics(dtype=dtype)
    for X, y in parts:
        st.partial_fit(X, y, n_labels=K)
    return nc1(st, global_mean="class_means")


def main_vs_reference(args) -> int:
    import torch

    torch.set_num_threads(args.threads)
    from threadpoolctl import threadpool_limits

    # both paths do their heavy work in torch; numpy's BLAS only sees d x d and C x d
    # matrices, where extra OpenBLAS threads fight torch's for the cores
    threadpool_limits(1, user_api="blas")
    import sklearn_mlabnc

    paths = {
        "reference float32": lambda p, K: reference_library(p, K, torch.float32),
        "reference float64": lambda p, K: reference_library(p, K, torch.float64),
        "ours (default)": lambda p, K: ours(p, K, "auto"),
        "ours float64": lambda p, K: ours(p, K, np.float64),
    }
    cases = (
        [(int(n), d, K) for n, d, K in zip(args.n, args.d, args.K, strict=True)] if args.n else []
    )
    cases = cases or REFERENCE_CASES
    rows = []
    print(f"load average before: {os.getloadavg()}")
    print(
        "| n, d, K | " + " | ".join(paths) + " | ours / ref. f32 | NC1 | rel. err. "
        "ref. f32 | rel. err. ours | rel. err. ours f64 |"
    )
    print("|---" * (len(paths) + 6) + "|")
    for n, d, K in cases:
        parts = multiclass_batches(n, d, K, args.seed)
        times = {name: [] for name in paths}
        values = {}
        for _ in range(args.repeats):
            for name, fn in paths.items():
                t0 = time.perf_counter()
                values[name] = fn(parts, K)
                times[name].append(time.perf_counter() - t0)
        best = {name: min(t) for name, t in times.items()}
        exact = values["reference float64"]
        err = {name: abs(v - exact) / abs(exact) for name, v in values.items()}
        ratio = best["reference float32"] / best["ours (default)"]
        rows.append(
            {
                "n": n,
                "d": d,
                "K": K,
                "best_s": best,
                "all_s": times,
                "nc1": values,
                "rel_err_vs_reference_float64": err,
                "speedup_ours_vs_reference_float32": ratio,
            }
        )
        print(
            f"| {n:.0e}, {d}, {K} | "
            + " | ".join(f"{best[k]:.2f} s" for k in paths)
            + f" | {ratio:.2f}x | {exact:.6g} | {err['reference float32']:.1e} | "
            f"{err['ours (default)']:.1e} | {err['ours float64']:.1e} |",
            flush=True,
        )
        del parts
    meta = {
        "command": " ".join(["python", *sys.argv]),
        "threads": args.threads,
        "repeats": args.repeats,
        "batch_size": REFERENCE_BATCH,
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "sklearn_mlabnc": sklearn_mlabnc.__version__,
        "load_average_at_end": os.getloadavg(),
    }
    print(f"load average after: {meta['load_average_at_end']}")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"meta": meta, "results": rows}, fh, indent=2)
        print(f"wrote {args.out}")
    return 0


# ------------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    ap.add_argument("--out", default=None, help="write the results as JSON to this path")
    ap.add_argument("--n", type=float, nargs="*", default=None, help="sample counts")
    ap.add_argument("--d", type=int, nargs="*", default=None, help="feature dimensions")
    ap.add_argument("--K", type=int, nargs="*", default=None, help="label counts")
    ap.add_argument("--batch-size", type=int, default=65536)
    ap.add_argument(
        "--reference-budget",
        type=float,
        default=None,
        help="skip the reference where its estimated time exceeds this many seconds "
        "(the headline n=1e6, d=512, K=50 always runs in the default mode)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--device",
        default=None,
        help="time the streaming path on torch tensors on this device (cpu, cuda); no reference",
    )
    ap.add_argument(
        "--blas-threads",
        type=int,
        default=None,
        help="limit BLAS threads for both paths (threadpoolctl); useful on a busy machine",
    )
    ap.add_argument(
        "--vs-reference",
        action="store_true",
        help="side by side with the reference NC library on multiclass features "
        "(cases: --n/--d/--K zipped, default the three of the docs)",
    )
    ap.add_argument("--threads", type=int, default=2, help="threads for --vs-reference")
    ap.add_argument("--repeats", type=int, default=3, help="best of this many (--vs-reference)")
    args = ap.parse_args(argv)
    if args.vs_reference:
        return main_vs_reference(args)
    if args.blas_threads is not None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.blas_threads)

    if args.quick:
        ns, ds, Ks, budget = [10_000, 100_000], [64, 512], [10, 50], 3.0
    else:
        ns, ds, Ks, budget = [10_000, 100_000, 1_000_000], [64, 512], [10, 50, 200], 15.0
    ns = [int(x) for x in args.n] if args.n else ns
    ds = args.d or ds
    Ks = args.K or Ks
    budget = args.reference_budget if args.reference_budget is not None else budget

    if args.device:
        return main_torch(args, ns, ds, Ks)
    rows = []
    header = (
        f"{'n':>9} {'d':>4} {'K':>4} {'sets':>5} | {'stream s':>9} {'stream MB':>9} | "
        f"{'ref s':>8} {'ref MB':>8} | {'speedup':>7} {'NC1 rel.diff':>12}"
    )
    print(header)
    print("-" * len(header))
    for n, d, K in itertools.product(ns, ds, Ks):
        problem = make_problem(K, d, args.seed)
        s = streaming(problem, n, args.batch_size)
        est = estimate_reference_s(n, d, K, s["n_sets"])
        run_ref = est <= budget or (not args.quick and (n, d, K) == HEADLINE)
        r = reference(problem, n, args.batch_size) if run_ref else None
        row = {
            "n": n,
            "d": d,
            "K": K,
            "n_label_sets": s["n_sets"],
            "stream_time_s": s["time_s"],
            "stream_peak_mb": s["peak_bytes"] / 2**20,
            "n_d_float64_mb": n * d * 8 / 2**20,
            "stream_nc1": s["nc1"],
            "stream_nc1_label_sets": s["nc1_label_sets"],
            "reference_estimated_s": est,
        }
        if r is not None:
            rel = max(
                abs(s["nc1"] - r["nc1"]) / abs(r["nc1"]),
                abs(s["nc1_label_sets"] - r["nc1_label_sets"]) / abs(r["nc1_label_sets"]),
            )
            row.update(
                reference_time_s=r["time_s"],
                reference_peak_mb=r["peak_bytes"] / 2**20,
                speedup=r["time_s"] / s["time_s"],
                nc1_rel_diff=rel,
            )
            ref_txt = (
                f"{r['time_s']:>8.2f} {row['reference_peak_mb']:>8.0f} | "
                f"{row['speedup']:>6.1f}x {rel:>12.1e}"
            )
        else:
            row["reference_skipped"] = f"estimated {est:.0f} s > budget {budget:.0f} s"
            ref_txt = f"{'skipped':>8} {'':>8} | {'':>7} {'':>12}"
        rows.append(row)
        print(
            f"{n:>9} {d:>4} {K:>4} {s['n_sets']:>5} | {s['time_s']:>9.2f} "
            f"{row['stream_peak_mb']:>9.1f} | {ref_txt}",
            flush=True,
        )
    meta = {
        "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "batch_size": args.batch_size,
        "reference_budget_s": budget,
        "blas_threads": args.blas_threads,
        "load_average_at_end": os.getloadavg(),
    }
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"meta": meta, "results": rows}, fh, indent=2)
        print(f"wrote {args.out}")
    return 0


def main_torch(args, ns, ds, Ks) -> int:
    import torch

    name = (
        torch.cuda.get_device_name(args.device)
        if torch.device(args.device).type == "cuda"
        else platform.processor() or platform.machine()
    )
    print(f"streaming CollapseStatistics on torch tensors, device {args.device} ({name})")
    print(
        f"| n | d | K | label sets | batches of {args.batch_size:,} (s) | one call (s) | "
        "peak device MB |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    rows = []
    for n, d, K in itertools.product(ns, ds, Ks):
        if torch.device(args.device).type == "cuda":
            torch.cuda.reset_peak_memory_stats(args.device)
        s = streaming_torch(make_problem(K, d, args.seed), n, args.batch_size, args.device)
        # float32 features: both sides use the float32 kernel, each on its own backend
        assert s["check_vs_numpy"] < 1e-6, s["check_vs_numpy"]
        rows.append({"n": n, "d": d, "K": K, "device": args.device, "device_name": name, **s})
        peak = "-" if math.isnan(s["peak_bytes"]) else f"{s['peak_bytes'] / 2**20:,.0f}"
        print(
            f"| {n:,} | {d} | {K} | {s['n_sets']:,} | {s['time_s']:.3f} | "
            f"{s['time_one_call_s']:.3f} | {peak} |",
            flush=True,
        )
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"results": rows}, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
