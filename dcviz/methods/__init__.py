"""Every method module in this package registers itself; importing the package imports them all.

Modules are found by name, so adding a method means adding one file with ``@register``.
"""
import importlib
import pkgutil

from dcviz.methods.base import (REGISTRY, BaseConfig, ConfigError, Context, Method, RunStopped,
                                Snapshot, get_method, param, register)

for _info in pkgutil.iter_modules(__path__):
    if not _info.name.startswith("_") and _info.name != "base":
        importlib.import_module(f"{__name__}.{_info.name}")


def list_methods() -> list[dict]:
    """id, title, paper and summary of every registered method, for menus and `dcviz methods`."""
    return [dict(id=c.id, title=c.title, paper=c.paper, summary=c.summary)
            for c in sorted(REGISTRY.values(), key=lambda c: c.id)]


__all__ = ["REGISTRY", "BaseConfig", "ConfigError", "Context", "Method", "RunStopped", "Snapshot",
           "get_method", "list_methods", "param", "register"]
