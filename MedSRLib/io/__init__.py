"""Reading and writing volumes (NIfTI, NRRD, MetaImage, DICOM series) through SimpleITK."""

from .convert import sitk_from_volume, volume_from_sitk
from .reading import read_volume
from .writing import WrittenTogether, check_output_path, write_text_atomic, write_volume

__all__ = ["read_volume", "write_volume", "WrittenTogether", "write_text_atomic", "check_output_path", "sitk_from_volume", "volume_from_sitk"]
