"""dcviz: watch deep clustering methods learn.

The engine behind the Streamlit app: data sets, methods, runs and views. It never imports
streamlit, so everything here runs in notebooks, the CLI and tests.
"""

__version__ = "0.1.0"


# sklearn-style estimators, e.g. ``from dcviz import DEKM``; built on first use.
ESTIMATORS = {"AEKMeans": "ae-kmeans", "DEKM": "dekm", "DCRL": "dcrl", "DEC": "dec", "IDEC": "idec",
              "MLC": "mlc", "GAN": "gan", "DCN": "dcn", "ACeDeC": "acedec"}


def __getattr__(name):
    if name in ESTIMATORS:
        from dcviz.estimators import estimator
        return estimator(ESTIMATORS[name])
    raise AttributeError(f"module 'dcviz' has no attribute {name!r}")
