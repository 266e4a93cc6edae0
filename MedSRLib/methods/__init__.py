"""Every method MedSR offers, registered by task; importing this package registers them all."""

from . import classical_enhance, denoise, interpolation  # noqa: F401  (registration on import)
from .steps import enhance
from .registry import Method, get, methods, register


def _register_catalog_models() -> None:
    """Each catalog model becomes a method of its task, so new models appear without code changes."""
    from ..errors import MedSRError
    from ..models import load_catalog

    try:
        entries = load_catalog()
    except MedSRError:
        return
    for entry in entries:
        if entry["task"] == "enhance":
            from .denoise import autoencoder

            register(Method(
                name=entry["method"], task="enhance", family="learned", summary=entry.get("summary", entry["name"]),
                run=lambda volume, progress, _n=entry["name"], **options: autoencoder(volume, progress, model=_n, **options),
            ))
        if entry["task"] == "segment":
            from .segmentation import segment

            register(Method(
                name=entry["name"], task="segment", family="learned", summary=entry.get("summary", entry["name"]),
                run=lambda volume, progress, _n=entry["name"], **options: segment(volume, model=_n, progress=progress, **options),
            ))


_register_catalog_models()

__all__ = ["Method", "enhance", "get", "methods", "register"]
