"""Every method MedSR offers, registered by task; importing this package registers them all."""

from . import classical_enhance, denoise, interpolation, learned_sr, self_sr, adapt_sr  # noqa: F401  (registration on import)
from .steps import enhance
from .registry import Method, get, methods, register


def _register_catalog_models() -> None:
    """Each catalog model becomes a method of its task, so new models appear without code changes."""
    from ..errors import MedSRError
    from ..models.catalog import load_catalog

    try:
        entries = load_catalog()
    except MedSRError:
        return
    for entry in entries:
        # what a chooser shows: what it does, which inputs it is for, how fast it was measured
        summary = f"{entry.get('summary', entry['name'])}; {entry['modality']}, " \
                  f"{entry['valid_spacing_mm'][0]:g}-{entry['valid_spacing_mm'][1]:g} mm voxels"
        if entry.get("speed"):
            summary += f"; {entry['speed']}"
        if entry["task"] == "enhance":
            register(Method(
                name=entry["method"], task="enhance", family="learned", summary=summary,
                run=lambda volume, progress, _n=entry["name"], **options: _autoencoder(volume, progress, model=_n, **options),
            ))
        if entry["task"] == "segment":
            register(Method(
                name=entry["name"], task="segment", family="learned", summary=summary,
                run=lambda volume, progress, _n=entry["name"], **options: _segment(volume, model=_n, progress=progress, **options),
            ))


def _autoencoder(volume, progress, **options):
    from .denoise import autoencoder

    return autoencoder(volume, progress, **options)


def _segment(volume, **options):
    # imported on first use: segmentation (and torch) cost a second that classical commands should not pay
    from .segmentation import segment

    return segment(volume, **options)


_register_catalog_models()

__all__ = ["Method", "enhance", "get", "methods", "register"]
