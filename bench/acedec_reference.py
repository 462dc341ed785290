"""Cross-check: the ClustPy library's ACeDeC and DCN on our data sets, NMI per seed, printed.

    python bench/acedec_reference.py                         # synth25 synth25-paper, seeds 0-2
    python bench/acedec_reference.py synth25:noise_std=1.75 --seeds 0 1 2 3 4
    python bench/acedec_reference.py synth25-paper --methods acedec --pretrain-epochs 20
    python bench/acedec_reference.py mnist-test --seeds 0 --methods acedec dcn-0.1 \
        --clustering-epochs 20 --from-store a3df2dd5694879944ece   # from dcviz's stored AE

``--from-store ENTRY`` starts ClustPy from an autoencoder in dcviz's pretrained-AE store (an MLP
entry; ClustPy's FeedforwardAutoencoder with ReLU gets its weights and skips pretraining), so
ClustPy's methods and dcviz's run on the very same AE. On the MNIST test split, seed 0, from the
`paper` presets' AE (entry a3df2dd5694879944ece; AE + k-means 0.704), 2026-12-01: ACeDeC 0.713
after 20 clustering epochs and 0.719 after 150 (dcviz's ACe/DeC: 0.703 and 0.688), DCN (lambda
0.1) 0.713 after 20 (dcviz's DCN with the `paper` preset's averaged reconstruction: 0.744).

ClustPy's ACeDeC was written by the paper's first author, so it is the nearest public thing to the
authors' code (their GitLab and the paper's supplement are not reachable from here). It runs with
its own defaults (batch 128, 100 pretraining epochs at 1e-3, 150 clustering epochs at 1e-4, its
"acedec" initialisation and final re-clustering), on the AE the paper uses for SYNTH-25: one
linear layer each way with d = D (vector data of at most 32 features; a ClustPy default AE with
d = 10 otherwise). DCN is ClustPy's DCN with clustering_loss_weight = lambda. Data names are
those of bench/acedec.py. Nothing is asserted; it tells whether a figure of ours that differs
from the paper's is ours alone or the reference implementation's too.

ClustPy is not a dependency of dcviz. Install it in a separate environment beside torch==2.13.0:

    pip install torch==2.13.0 numpy scipy scikit-learn matplotlib pandas tqdm cython
    pip install --no-deps --no-build-isolation clustpy

It imports torchvision at module level for image loaders that ACeDeC and DCN never call, and
PyPI's torchvision does not import beside torch 2.13.0, so this script puts a stub in its place.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.metrics import normalized_mutual_info_score  # noqa: E402

from acedec import DATA, parse_data_name  # noqa: E402
from dcviz import data as D  # noqa: E402


def stub_torchvision() -> None:
    """Stand-ins for the torchvision names ClustPy touches at import time (never called here)."""
    if "torchvision" in sys.modules:
        return

    class Unused:
        def __init__(self, *args, **kwargs):
            raise RuntimeError("torchvision is stubbed out in bench/acedec_reference.py")

    def module(name, **attrs):
        m = types.ModuleType(name)
        m.__dict__.update(attrs)

        def getattr_(attr):  # any other public name: a class that refuses to be used
            if attr.startswith("__"):
                raise AttributeError(attr)
            return Unused

        m.__getattr__ = getattr_
        sys.modules[name] = m
        return m

    import enum

    class WeightsEnum(enum.Enum):
        pass

    api = module("torchvision.models._api", Weights=Unused, WeightsEnum=WeightsEnum)
    models = module("torchvision.models", _api=api)
    module("torchvision", models=models, transforms=module("torchvision.transforms"),
           datasets=module("torchvision.datasets"))


def stored_autoencoder(entry_id: str, d: int):
    """ClustPy's FeedforwardAutoencoder (ReLU, dcviz's MLP) with the weights of a dcviz store
    entry, marked fitted so that ClustPy does not pretrain it again."""
    from clustpy.deep.neural_networks import FeedforwardAutoencoder
    from dcviz.pretrained import PretrainedStore
    path = PretrainedStore().path_of(entry_id) / "weights.pt"
    if not path.is_file():
        sys.exit(f"no stored AE {entry_id} at {path}")
    state = torch.load(path, weights_only=True)
    widths = [state[f"encoder.{i}.weight"].shape[0] for i in range(0, 99, 2)
              if f"encoder.{i}.weight" in state]
    if state["encoder.0.weight"].shape[1] != d:
        sys.exit(f"entry {entry_id} takes {state['encoder.0.weight'].shape[1]} features, "
                 f"the data has {d}")
    ae = FeedforwardAutoencoder(layers=[d, *widths], activation_fn=torch.nn.ReLU)
    ae.load_state_dict({k.replace("encoder.", "encoder.block.").replace("decoder.", "decoder.block."):
                        v for k, v in state.items()})
    ae.fitted = True
    return ae


def run(method: str, x: np.ndarray, k: int, seed: int, args) -> np.ndarray:
    from clustpy.deep import DCN, ACeDeC
    from clustpy.deep.neural_networks import FeedforwardAutoencoder
    torch.manual_seed(seed)
    np.random.seed(seed)
    d = x.shape[1]
    ae = FeedforwardAutoencoder(layers=[d, d], random_state=seed) if d <= 32 else None
    if args.from_store:
        ae = stored_autoencoder(args.from_store, d)
    common = dict(neural_network=ae, pretrain_epochs=args.pretrain_epochs,
                  clustering_epochs=args.clustering_epochs, random_state=seed, device="cpu")
    if method == "acedec":
        model = ACeDeC(k, **common)
    else:
        model = DCN(k, clustering_loss_weight=float(method.split("-", 1)[1]), **common)
    return model.fit(x).labels_


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data", nargs="*", default=["synth25", "synth25-paper"],
                   help=f"data sets: {', '.join(DATA)}, or NAME:key=value")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--methods", nargs="+", default=["acedec", "dcn-1"],
                   help="acedec and/or dcn-LAMBDA (e.g. dcn-0.1 dcn-1 dcn-10)")
    p.add_argument("--pretrain-epochs", type=int, default=100)
    p.add_argument("--clustering-epochs", type=int, default=150)
    p.add_argument("--from-store", default=None, metavar="ENTRY",
                   help="start from this dcviz pretrained-AE store entry (an MLP AE)")
    args = p.parse_args()
    for m in args.methods:
        if m != "acedec" and not (m.startswith("dcn-") and m[4:].replace(".", "", 1).isdigit()):
            p.error(f"unknown method {m!r}: use acedec or dcn-LAMBDA")
    stub_torchvision()
    try:
        import clustpy  # noqa: F401
    except ImportError:
        sys.exit("clustpy is not installed; see this script's docstring for how to install it")
    print(f"ClustPy ACeDeC / DCN, {args.pretrain_epochs} pretraining + {args.clustering_epochs} "
          f"clustering epochs; NMI by seed {args.seeds}")
    for name in args.data:
        spec = parse_data_name(name)
        ds = D.load(spec)
        x, y = np.asarray(ds.x, dtype=np.float32), np.asarray(ds.y)
        k = int(ds.n_classes)
        for m in args.methods:
            scores, t0 = [], time.time()
            for s in args.seeds:
                labels = run(m, x, k, s, args)
                scores.append(normalized_mutual_info_score(y, labels))
                print(f"  {name:<24} {m:<8} seed {s}: {scores[-1]:.3f}", flush=True)
            print(f"{name:<24} {m:<8} " + " / ".join(f"{v:.3f}" for v in scores)
                  + f"   median {statistics.median(scores):.3f}"
                  + f"   {(time.time() - t0) / len(scores):.0f} s/run", flush=True)


if __name__ == "__main__":
    main()
