"""Which voxels of a scan were measured. A skull-stripped scan has its outside set to one value (0) on its own grid; a
CT has padding outside its reconstruction circle: those voxels are not measurements, and neither super-resolution
(methods/unmeasured.py) nor brain extraction (strip/extract.py) may take them for data.

Not every region of one value is unmeasured: a noise-free head (a simulation, an average) has air of exactly 0 too,
and a brain masked at a finer resolution and then acquired (the bundled template, thick-sliced) has a soft edge that
the acquisition made: there the zeros are data, and filling them costs (`cnn` at 2x2x2 mm on the bundled template's
held-out slab fell from +1.81 to -1.83 dB over B-spline). What tells them apart is the step at the region's edge: an
acquisition blurs the fall into the region, a cut does not. The median of the voxels bordering the region over that of
the layer one voxel further in is 0.77-0.87 for scans masked on their own grid (mni305 and 3T18yo placed, intracranial
mask, 1x1x2 and 1x1x4 mm Gaussian and 2x2x2 mm box; 0.84-0.93 with the mask eroded by 2 voxels; the bundled template
as distributed, masked at 1 mm: 0.77-0.82 for it and two crops) and at most 0.47 for edges an acquisition made (those
heads unmasked: 0.00-0.46; the template and its crops acquired at 1x1x2 and 1x1x4 mm Gaussian: 0.00, at 2x2x2, 2x2x3
and 1x1x4 mm box: 0.07-0.47) (/tmp script, 2026-12-06). The heads as distributed (711-2C, 3T18yo, ITK's subject) had
their air zeroed around the head, and count as cut (22-76 % of their voxels); placed onto a grid of their own, the
interpolation softens that edge for 711-2C (the heads-sr benchmark's placement and the tuning placement: not cut) but
not for 3T18yo, which still counts as cut there (29-30 % of the voxels), and so does its box-averaged 1x1x2 mm scan
(its 1x1x4 mm and Gaussian scans do not): the methods treat that one tuning scan as masked (rechecked 2026-12-07).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

#: the smallest share of the scan's voxels, all equal to its minimum, that counts as an unmeasured region
MIN_SHARE = 0.01
#: the least ratio, at the region's edge, of the bordering voxels' median to that of the layer one voxel further in
#: (each above the fill value) for a cut, not an edge an acquisition made (see above)
HARD_EDGE = 0.6
#: the least share of the region that an erosion by one voxel keeps: a masked outside is solid; the voxels of a noisy
#: air that an integer scan or a CT's clipping left at the minimum are scattered, and are measurements
SOLID = 0.5


def unmeasured_region(array: np.ndarray) -> Optional[np.ndarray]:
    """The voxels equal to ``array``'s minimum when they are at least MIN_SHARE of it, some voxels are not, they form a
    solid region (SOLID) and the step at their edge is a cut (HARD_EDGE); else None."""
    from scipy.ndimage import binary_dilation, binary_erosion

    fill_value = array.min()
    region = array == fill_value
    if not MIN_SHARE <= float(region.mean()) < 1.0:
        return None
    if binary_erosion(region).sum() < SOLID * region.sum():  # scattered values at the minimum: noisy air, clipped
        return None
    grown = binary_dilation(region)
    border = grown & ~region
    further_in = binary_dilation(grown) & ~grown
    if not further_in.any():
        return None
    step = float(np.median(array[border]) - fill_value)
    inner = float(np.median(array[further_in]) - fill_value)
    return region if inner > 0 and step >= HARD_EDGE * inner else None
