"""Views: pure functions from snapshots (and the data set) to plotly figures and image grids.

Each method's lens lives in ``dcviz/viz/<module>.py`` and defines ``LENS``, a :class:`Lens`.
Modules are discovered by name, so adding a lens means adding one file.
"""
import importlib
import pkgutil

from dcviz.viz.base import LENSES, Lens, Option, Panel, get_lens, image_grid

for _info in pkgutil.iter_modules(__path__):
    if not _info.name.startswith("_") and _info.name != "base":
        _mod = importlib.import_module(f"{__name__}.{_info.name}")
        if isinstance(getattr(_mod, "LENS", None), Lens):
            for _mid in _mod.LENS.method_ids:
                LENSES[_mid] = _mod.LENS

__all__ = ["LENSES", "Lens", "Option", "Panel", "get_lens", "image_grid"]
