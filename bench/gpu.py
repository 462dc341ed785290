"""Every registered method trains with device="cuda": a short quick-preset run each, printed.

    python bench/gpu.py                       # all methods on 600 digits
    python bench/gpu.py --methods dekm gan    # some of them

For a machine with a GPU (the app and the tests never need one). Each run goes through
dcviz.runs.execute like the app's; it passes when the run ends "done", memory was taken on the
GPU, and the final NMI is clearly above chance (0.1; a random labelling of 600 digits gets about
0.03). Prints one line per method and exits non-zero if any fails.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from dcviz import data as D  # noqa: E402
from dcviz.methods import REGISTRY, get_method  # noqa: E402
from dcviz.runs import RunStore, create_run, execute, prepare  # noqa: E402

# Shorter schedules than quick, so that the whole check takes a minute or two.
SHORT = {
    "ae-kmeans": {"pretrain_epochs": 10},
    "dekm": {"pretrain_epochs": 10, "max_iter": 5},
    "dec": {"pretrain_epochs": 10, "epochs": 5},
    "idec": {"pretrain_epochs": 10, "epochs": 5},
    "dcrl": {"pretrain_epochs": 10, "epochs": 8, "warmup_epochs": 1, "init": "kmeans"},
    "dcn": {"pretrain_epochs": 10, "cluster_epochs": 3},
    "acedec": {"pretrain_epochs": 10, "cluster_epochs": 3},
    "gan": {"steps": 600, "steps_per_epoch": 200},
}


def main() -> int:
    get_method("dekm")  # fills the registry
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--methods", nargs="+", default=sorted(REGISTRY))
    p.add_argument("--n", type=int, default=600, help="digits to train on")
    args = p.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to check")
        return 1
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}")
    ds = D.load({"name": "digits", "n": args.n})
    root = RunStore(tempfile.mkdtemp(prefix="bench-cuda-"))
    failed = 0
    for mid in args.methods:
        config = {"n_clusters": 10, "device": "cuda", **SHORT.get(mid, {})}
        cls, cfg = prepare(mid, ds, config, "quick")
        rd = create_run(root, cls, cfg, ds, "quick")
        seen = {}

        def on_snapshot(index, snap, seen=seen):
            seen["nmi"] = snap.metrics.get("nmi", float("nan"))

        t = time.perf_counter()
        torch.cuda.reset_peak_memory_stats()
        status = execute(rd, cls, cfg, ds, on_snapshot=on_snapshot)
        seconds = time.perf_counter() - t
        mem = torch.cuda.max_memory_allocated() / 2**20
        nmi = seen.get("nmi", float("nan"))
        ok = status["state"] == "done" and mem > 0 and nmi > 0.1  # chance is about 0.03
        failed += not ok
        print(f"{mid:10s} {status['state']:7s} {seconds:6.1f}s  peak GPU {mem:7.1f} MiB  "
              f"NMI {nmi:.3f}  {'ok' if ok else 'FAILED ' + str(status.get('error', ''))}",
              flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
