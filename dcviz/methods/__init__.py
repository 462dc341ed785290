"""Every method module in this package registers itself; importing the package imports them all.

Modules are found by name, so adding a method means adding one file with ``@register``.
"""
import importlib
import pkgutil

from dcviz.methods.base import (REGISTRY, BaseConfig, ConfigError, Context, Method, RunStopped,
                                Snapshot, param, register)

for _info in pkgutil.iter_modules(__path__):
    if not _info.name.startswith("_") and _info.name != "base":
        importlib.import_module(f"{__name__}.{_info.name}")


def get_method(method_id: str) -> type[Method]:
    """The class registered under ``method_id`` (ConfigError, naming the known ids, if none)."""
    if method_id not in REGISTRY:
        raise ConfigError(f"unknown method {method_id!r}; available: {sorted(REGISTRY)}")
    return REGISTRY[method_id]


#: The run Home's big button launches: (method, data, preset). The one place outside a method's
#: own module that names a method; ``FALLBACK_RUN`` stands in when that method is not installed.
DEFAULT_RUN = ("dekm", "digits", "quick")
FALLBACK_RUN = ("ae-kmeans", "digits", "quick")


def default_run(registered=None) -> tuple[str, str, str] | None:
    """(method, data, preset) of Home's big button, or None when neither method is registered.

    ``registered`` is the ids to choose from (default: the registry)."""
    ids = set(REGISTRY if registered is None else registered)
    for run in (DEFAULT_RUN, FALLBACK_RUN):
        if run[0] in ids:
            return run
    return None


def featured() -> list[type[Method]]:
    """The methods that have a Home card: the default run's method first, then by id."""
    with_card = [c for c in REGISTRY.values() if c.card]
    return sorted(with_card, key=lambda c: (c.id != DEFAULT_RUN[0], c.id))


def suited_to(data_id: str) -> list[str]:
    """Ids of the methods that declare they suit the data set ``data_id``, sorted."""
    return sorted(c.id for c in REGISTRY.values() if data_id in c.suits)


def estimator_names() -> dict[str, str]:
    """Public estimator name -> method id, for every registered method that has one."""
    return {c.estimator: c.id for c in REGISTRY.values() if c.estimator}


def list_methods() -> list[dict]:
    """id, title, paper and summary of every registered method, for menus and `dcviz methods`."""
    return [dict(id=c.id, title=c.title, paper=c.paper, summary=c.summary)
            for c in sorted(REGISTRY.values(), key=lambda c: c.id)]


__all__ = ["DEFAULT_RUN", "FALLBACK_RUN", "REGISTRY", "BaseConfig", "ConfigError", "Context",
           "Method", "RunStopped", "Snapshot", "default_run", "estimator_names", "featured",
           "get_method", "list_methods", "param", "register", "suited_to"]
