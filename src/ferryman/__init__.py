"""ferryman: a durable release engine on Temporal."""

__version__ = "0.1.0"

__all__ = ["__version__"]
