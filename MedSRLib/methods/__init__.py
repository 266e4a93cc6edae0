"""Every method MedSR offers, registered by task; importing this package registers them all."""

from . import classical_enhance, interpolation  # noqa: F401  (registration on import)
from .classical_enhance import enhance
from .registry import Method, get, methods, register

__all__ = ["Method", "enhance", "get", "methods", "register"]
