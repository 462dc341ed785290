"""Views: pure functions from snapshots (and the data set) to plotly figures and image grids.

Each method's lens lives in ``dcviz/viz/<module>.py`` and defines ``LENS``, a :class:`Lens`.
Modules are discovered by name, so adding a lens means adding one file.
"""
import importlib
import pkgutil

from dcviz.viz.base import (LENSES, Lens, NoLivePanel, Option, Panel, image_grid,
                            register_lens)

for _info in pkgutil.iter_modules(__path__):
    if not _info.name.startswith("_") and _info.name != "base":
        _mod = importlib.import_module(f"{__name__}.{_info.name}")
        if isinstance(getattr(_mod, "LENS", None), Lens):
            register_lens(_mod.LENS)



def get_lens(method_id: str) -> Lens | None:
    """The lens registered for ``method_id``, or None when the method has none."""
    return LENSES.get(method_id)


__all__ = ["LENSES", "Lens", "NoLivePanel", "Option", "Panel", "get_lens", "image_grid",
           "register_lens"]
