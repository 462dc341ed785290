"""How fast dcviz pretrains an autoencoder, against the hardware's matmul rate and against ClustPy.

    python bench/pretrain.py                      # MLP and conv AE, 5 + 1 epochs, fp32 and bf16
    python bench/pretrain.py --epochs 20 --nets mlp --threads 2

For the MLP AE d-500-500-2000-10 (ReLU, the net of DEC, IDEC, DCN, DCRL and ACe/DeC) on the MNIST
test split with batch 256, and for the conv AE that dcviz uses for images (32-64-128 channels,
kernels 5-5-3, stride 2), it prints per precision:

- seconds per epoch of ``dcviz.nets.pretrain_autoencoder`` (the pretraining every AE method runs):
  processor seconds of the fastest epoch, and its wall seconds beside (on a CPU shared with other
  work the processor time of one thread is what the work costs; the peak below is measured the
  same way, as the best of ten);
- GFLOP/s: the floating-point operations of one epoch (forward and backward, counted by
  ``torch.utils.flop_counter`` on one batch and scaled to the data) over its seconds;
- the share of the fp32 matmul peak, measured in this process as the rate of a 2048 x 2048 fp32
  matmul (the bf16 matmul rate is printed beside it);
- the reconstruction MSE over all the data after those epochs, and the NMI of k-means (k = 10,
  n_init 10) on the embedding.

Beside it, on the same net (ReLU), data, batch, optimiser (Adam 1e-3) and epochs, ClustPy's
``FeedforwardAutoencoder.fit``, whose DataLoader batches the data from the CPU. ClustPy is not a
dependency of dcviz; the row appears when it imports. One way to get it without a second torch
(as bench/acedec_reference.py explains, it imports torchvision, which is stubbed here):

    python3 -m venv /tmp/clustpy-venv
    echo "$PWD/.venv/lib/python3.11/site-packages" \\
        > /tmp/clustpy-venv/lib/python3.11/site-packages/dcviz_venv.pth
    /tmp/clustpy-venv/bin/pip install wheel setuptools matplotlib pandas
    /tmp/clustpy-venv/bin/pip install --no-deps --no-build-isolation clustpy
    /tmp/clustpy-venv/bin/python bench/pretrain.py

Timings on a CPU shared with other work vary; the load average is printed before and after.
Nothing is asserted.

Measured 2026-11-30 (one thread on a shared 2-core CPU with AVX-512 BF16, load average 4.4,
5 epochs, seed 0): the fp32 matmul peak in the process 91 GFLOP/s (bf16 195); the MLP AE fp32
2.60 CPU-s per epoch (74 GFLOP/s, 81 % of that peak), bf16 1.39 (138 GFLOP/s, 152 %), ClustPy
fp32 3.00 (64 GFLOP/s, 70 %): dcviz is 1.15x as fast as ClustPy in fp32 and 2.15x in bf16
(NMI after 5 epochs 0.498 / 0.494 / 0.487). The conv AE: fp32 6.49, bf16 4.86 CPU-s per epoch.
The `paper` presets' recipe (SGD, dropout 0.2, bf16 by precision "auto") took 450 CPU-s for its
300 epochs on seed 0, its 60 snapshots' k-means included: 1.5 CPU-s per epoch.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.metrics import normalized_mutual_info_score  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from dcviz import data as D  # noqa: E402
from dcviz.methods.base import Context  # noqa: E402
from dcviz.nets import ConvAutoencoder, MLPAutoencoder, encode_all, pretrain_autoencoder  # noqa: E402

# Processor time of this process (all its threads), not wall time: the CPU this runs on is shared,
# and wall time grows with whatever else runs while processor time barely does. With one thread
# (the default) it is the work done; with more, the threads' idle spinning counts too.
CLOCK = time.process_time
MNIST_TEST = ROOT.parent / "shared" / "datasets" / "mnist-test"
HIDDEN = (500, 500, 2000)


def matmul_rate(dtype: torch.dtype, n: int = 2048, repeat: int = 10) -> float:
    """GFLOP/s of an n x n matmul in ``dtype`` on this process's threads: the best of ``repeat``
    timings, as the epochs below are (on a shared CPU the best is the least disturbed)."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    for _ in range(2):
        a @ b
    best = float("inf")
    for _ in range(repeat):
        start = CLOCK()
        a @ b
        best = min(best, CLOCK() - start)
    return 2 * n ** 3 / best / 1e9


def flops_per_epoch(ae: nn.Module, x: torch.Tensor, batch_size: int) -> float:
    """Forward + backward FLOPs of one batch, scaled to the whole data set (fp32 count)."""
    xb = x[:batch_size]
    with FlopCounterMode(display=False) as counter:
        F.mse_loss(ae(xb), xb).backward()
    ae.zero_grad(set_to_none=True)
    return counter.get_total_flops() * len(x) / len(xb)


@torch.no_grad()
def reconstruction_mse(ae: nn.Module, x: torch.Tensor) -> float:
    """MSE of the trained AE over all the data, in fp32 (whatever precision it trained in)."""
    ae.eval()
    return float(F.mse_loss(encode_all(ae, x), x))


def kmeans_nmi(z: np.ndarray, y: np.ndarray, seed: int) -> float:
    labels = KMeans(10, n_init=10, random_state=seed).fit_predict(z)
    return float(normalized_mutual_info_score(y, labels))


def make_net(kind: str, ds, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    if kind == "mlp":
        return MLPAutoencoder(ds.dim, 10, HIDDEN)
    return ConvAutoencoder(ds.image_shape, 10)


def ours(kind: str, ds, x: torch.Tensor, precision: str, epochs: int, args) -> dict:
    ae = make_net(kind, ds, args.seed)
    flops = flops_per_epoch(ae, x, args.batch)
    ctx = Context(seed=args.seed, device="cpu")
    times, walls, last, wall = [], [], CLOCK(), time.perf_counter()
    for _ in pretrain_autoencoder(ae, x, epochs=epochs, batch_size=args.batch, lr=1e-3, ctx=ctx,
                                  precision=precision):
        times.append(CLOCK() - last)
        walls.append(time.perf_counter() - wall)
        last, wall = CLOCK(), time.perf_counter()
    z = encode_all(ae.encode, x).numpy()
    return {"s": min(times), "wall": min(walls), "flops": flops, "mse": reconstruction_mse(ae, x),
            "nmi": kmeans_nmi(z, ds.y, args.seed)}


class EpochClock:
    """Stands in for ``tqdm.trange`` inside ClustPy's fit: records when each epoch ends (and
    draws no progress bar)."""

    def __init__(self):
        self.times: list[float] = []
        self.walls: list[float] = []

    def __call__(self, n, *args, **kwargs):
        clock = self

        class Bar:
            def __iter__(self):
                last, wall = CLOCK(), time.perf_counter()
                for i in range(n):
                    yield i
                    clock.times.append(CLOCK() - last)
                    clock.walls.append(time.perf_counter() - wall)
                    last, wall = CLOCK(), time.perf_counter()

            def set_postfix(self, *a, **k):
                pass

        return Bar()


def clustpy(ds, x: torch.Tensor, epochs: int, args) -> dict | None:
    try:
        from acedec_reference import stub_torchvision
        stub_torchvision()
        from clustpy.deep.neural_networks import FeedforwardAutoencoder
    except ImportError:
        return None
    ae = FeedforwardAutoencoder(layers=[ds.dim, *HIDDEN, 10], activation_fn=nn.ReLU,
                                random_state=args.seed)
    flops = flops_per_epoch(ae, x, args.batch)
    import tqdm
    clock, trange = EpochClock(), tqdm.trange
    tqdm.trange = clock
    try:
        ae.fit(n_epochs=epochs, data=x.numpy(), batch_size=args.batch, optimizer_params={"lr": 1e-3})
    finally:
        tqdm.trange = trange
    with torch.no_grad():
        ae.eval()
        z = encode_all(ae.encode, x).numpy()
    return {"s": min(clock.times), "wall": min(clock.walls), "flops": flops,
            "mse": reconstruction_mse(ae, x),
            "nmi": kmeans_nmi(z, ds.y, args.seed)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nets", nargs="+", choices=["mlp", "conv"], default=["mlp", "conv"])
    p.add_argument("--epochs", type=int, default=5, help="epochs of each MLP pretraining")
    p.add_argument("--conv-epochs", type=int, default=1, help="epochs of each conv pretraining")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--precisions", nargs="+", choices=["fp32", "bf16"], default=["fp32", "bf16"])
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: processor time then measures the work alone)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-clustpy", action="store_true", help="skip the ClustPy row")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if not MNIST_TEST.exists():
        sys.exit(f"the MNIST test split is not at {MNIST_TEST}")
    ds = D.load({"path": str(MNIST_TEST)})
    x = torch.as_tensor(np.asarray(ds.x, dtype=np.float32))
    load0 = os.getloadavg()
    peak32, peak16 = matmul_rate(torch.float32), matmul_rate(torch.bfloat16)
    print(f"MNIST test split {tuple(x.shape)}, batch {args.batch}, Adam 1e-3, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}, seed {args.seed}")
    print(f"2048x2048 matmul in this process: fp32 {peak32:.0f} GFLOP/s, bf16 {peak16:.0f} GFLOP/s "
          f"(bf16/fp32 {peak16 / peak32:.2f}); load average {load0[0]:.1f}")
    print(f"{'net':<28} {'code':<8} {'prec':<5} {'epochs':>6} {'CPU s/ep':>8} {'wall':>6} {'GFLOP/s':>8} "
          f"{'% fp32 peak':>11} {'final MSE':>10} {'AE+k-means NMI':>15}")

    def row(net, code, prec, epochs, r):
        rate = r["flops"] / r["s"] / 1e9
        print(f"{net:<28} {code:<8} {prec:<5} {epochs:>6} {r['s']:>8.2f} {r['wall']:>6.2f} {rate:>8.0f} "
              f"{100 * rate / peak32:>10.0f}% {r['mse']:>10.5f} {r['nmi']:>15.3f}", flush=True)

    for kind in args.nets:
        epochs = args.epochs if kind == "mlp" else args.conv_epochs
        net = "MLP 784-500-500-2000-10" if kind == "mlp" else "conv 32-64-128, k 5-5-3"
        results = {}
        for prec in args.precisions:
            results[prec] = ours(kind, ds, x, prec, epochs, args)
            row(net, "dcviz", prec, epochs, results[prec])
        if kind == "mlp" and not args.no_clustpy:
            ref = clustpy(ds, x, epochs, args)
            if ref is None:
                print(f"{net:<28} ClustPy  (not installed: see this script's docstring)")
                continue
            row(net, "ClustPy", "fp32", epochs, ref)
            for prec, r in results.items():
                print(f"{'':<28} dcviz {prec} is {ref['s'] / r['s']:.2f}x as fast as ClustPy fp32")
    load1 = os.getloadavg()
    print(f"load average now {load1[0]:.1f} (this CPU is shared: the figures move with it)")


if __name__ == "__main__":
    main()
