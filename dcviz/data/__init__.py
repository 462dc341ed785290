"""dcviz.data: the data set registry.

    from dcviz.data import load, list_datasets
    ds = load("digits")                                  # a registered id
    ds = load({"name": "blobs8", "n_samples": 4000})     # an id with options
    ds = load({"name": "mnist", "subset": "test", "n": 2000})
    ds = load("my_data.npz")                             # a file or folder
    load(ds.spec)                                        # the same data again

Registered ids: ``digits`` (built in), ``blobs8``, ``sphere2``, ``manifolds``, ``synth25``,
``objects`` (synthetic, from the papers), ``mnist``, ``fashion-mnist``, ``usps`` (downloaded
once into :func:`data_dir`). Files: ``.npz``/``.npy`` (no pickles), ``.csv``, MNIST IDX
(``.gz`` or raw, labels found beside the images), a folder of images with one sub-folder per
class (a single class folder is fine: one class; a folder of images without sub-folders loads
unlabelled), or a ``.zip`` of such a folder.

Options for every spec: ``n`` (a stratified random subsample of n points) and ``seed``
(default 0; drives synthetic generation and the subsample). ``list_datasets()`` lists each
id's own options with their defaults and help text.

Every bad input raises :class:`DataError` (a ValueError) with a message that says what was wrong
and what is expected. Loaded sets are kept in memory (a 1 GiB budget, ``DCVIZ_DATA_CACHE_MB``);
each ``load`` returns arrays of the caller's own, so changing them is harmless.
"""

from .core import DataError, Dataset, clean_labels, data_dir, stratified_subsample
from .registry import (REGISTRY, Entry, Option, clear_cache, list_datasets, load,
                       normalise_spec, parse_spec, register)
from .upload import save_upload

__all__ = [
    "DataError", "Dataset", "load", "list_datasets", "parse_spec", "save_upload", "data_dir",
    "normalise_spec", "clear_cache", "register", "Entry", "Option", "REGISTRY",
    "stratified_subsample", "clean_labels",
]
