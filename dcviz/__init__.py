"""dcviz: watch deep clustering methods learn.

The engine behind the Streamlit app: data sets, methods, runs and views. It never imports
streamlit, so everything here runs in notebooks, the CLI and tests.
"""

__version__ = "0.1.0"
