"""Makes the real heads with skull that the tests use, from the DATA.md sources (fetched into the data cache).

* ``itk-subject/``: ITK's KmeansTest T1 (128x128x62, 2x2x3 mm, a single subject with skull) and its
  skull-stripped twin as a 0/1 mask, copied unchanged apart from the mask's binarisation (Apache-2.0, COPYING);
* ``711-2c-2mm/``: FreeSurfer's 711-2C average head and its 711-2B intracranial mask, block-averaged from 1 mm to
  2 mm (the mask: half or more of each 2 mm block inside), as uint8 (FreeSurfer licence, LICENSE.FreeSurfer.txt);
* ``mni305-2mm/``: FreeSurfer's mni305 average head (a tuning head, blurry) made the same way, with 711-2B (which
  lies in its space) carried onto its grid as its intracranial mask (FreeSurfer licence).

Run from the repository root: ``python Testing/Data/make_heads.py``.
"""

import shutil
from pathlib import Path

import numpy as np

from MedSRLib.io.public_heads import _itk_data, licence_text, load_head
from MedSRLib.geometry import resample_to_grid
from MedSRLib.io import write_volume
from MedSRLib.simulate import Acquisition, degrade

HERE = Path(__file__).resolve().parent


def main() -> None:
    itk = HERE / "itk-subject"
    itk.mkdir(exist_ok=True)
    shutil.copy(_itk_data() / "KmeansTest_T1UCharRaw.nii.gz", itk / "t1.nii.gz")
    write_volume(load_head("itk-subject-stripped"), itk / "brain-mask.nii.gz", overwrite=True)
    shutil.copy(_itk_data().parents[1] / "copyright", itk / "COPYING")
    average = HERE / "711-2c-2mm"
    average.mkdir(exist_ok=True)
    head = degrade(load_head("711-2c"), Acquisition(factors=(2, 2, 2), sampling="box"))
    scale = 254.0 / float(np.percentile(head.array, 99.9))
    write_volume(head.with_array(np.clip(head.array * scale + 0.5, 0, 255).astype(np.uint8)), average / "t1.nii.gz", overwrite=True)
    inside = load_head("711-2b")
    mask = degrade(inside.with_array(inside.array.astype(np.float32)), Acquisition(factors=(2, 2, 2), sampling="box"))
    write_volume(mask.with_array((mask.array >= 0.5).astype(np.uint8)), average / "intracranial-mask.nii.gz", overwrite=True)
    (average / "LICENSE.FreeSurfer.txt").write_text(licence_text())
    blurry = HERE / "mni305-2mm"
    blurry.mkdir(exist_ok=True)
    mni305 = load_head("mni305")
    head = degrade(mni305, Acquisition(factors=(2, 2, 2), sampling="box"))
    scale = 254.0 / float(np.percentile(head.array, 99.9))
    write_volume(head.with_array(np.clip(head.array * scale + 0.5, 0, 255).astype(np.uint8)), blurry / "t1.nii.gz", overwrite=True)
    carried = resample_to_grid(inside.array.astype(np.float32), inside.grid, mni305.grid, "linear")
    mask = degrade(mni305.with_array(carried), Acquisition(factors=(2, 2, 2), sampling="box"))
    write_volume(mask.with_array((mask.array >= 0.5).astype(np.uint8)), blurry / "intracranial-mask.nii.gz", overwrite=True)
    (blurry / "LICENSE.FreeSurfer.txt").write_text(licence_text())


if __name__ == "__main__":
    main()
