"""MedSRLib: geometry-exact volumetric super-resolution, enhancement and segmentation."""

__version__ = "0.1.0"

from .errors import Cancelled, MedSRError
from .geometry import Grid
from .io import read_volume, write_volume
from .progress import Progress
from .volume import Volume

__all__ = ["Cancelled", "Grid", "MedSRError", "Progress", "Volume", "read_volume", "write_volume", "__version__"]
