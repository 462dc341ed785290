"""dcviz: watch deep clustering methods learn.

The engine behind the Streamlit app: data sets, methods, runs and views. It never imports
streamlit, so everything here runs in notebooks, the CLI and tests.
"""

__version__ = "0.1.0"


def __getattr__(name):
    """sklearn-style estimators, e.g. ``from dcviz import DEKM``, built on first use from the
    ``estimator`` name each registered method declares; ``ESTIMATORS`` maps those names to ids."""
    # Only capitalised names are looked up: ``from dcviz import metrics`` asks for lowercase
    # submodule names while dcviz.methods may be half imported.
    if not name[:1].isupper():
        raise AttributeError(f"module 'dcviz' has no attribute {name!r}")
    from dcviz.methods import estimator_names

    names = estimator_names()
    if name == "ESTIMATORS":
        return names
    if name in names:
        from dcviz.estimators import estimator
        return estimator(names[name])
    raise AttributeError(f"module 'dcviz' has no attribute {name!r}")
