"""raynas: Neural Architecture Search on Ray Tune, tracked in MLflow.

``import raynas`` stays light: Ray, torch and MLflow are imported only by the parts that need them.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
