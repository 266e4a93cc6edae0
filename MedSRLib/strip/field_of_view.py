"""Whether the brain reaches the edge of the scan's field of view, and which edge.

A scan whose field of view ends inside the brain (a slab placed too high, the cerebellum cut off, a small field of
view for a temporal-lobe study) still gives a mask, a brain and tissue volumes, but of the part of the brain inside
the scan only: an intracranial volume read from it is too small, with nothing in the numbers to say so. The mask
says it: its voxels lie on a face of the grid. Each face is named by the anatomical side it faces (through the
grid's direction, oblique ones included), and the mask's area on it is measured in mm^2.

A mask that only touches a face where the brainstem leaves the skull (a field of view cut at the chin or the
foramen magnum: the medulla is about 1-2 cm^2 across) is the ordinary clinical case, not a cut brain, hence the
threshold ``CUT_MM2``.
"""

from __future__ import annotations

from typing import Dict

import numpy as np

from ..geometry import Grid

#: a face of the grid cuts the brain when the mask covers at least this much of it (mm^2; 5 cm^2: more than the
#: medulla's cross-section, far less than the cerebellum's or the cerebrum's)
CUT_MM2 = 500.0
#: LPS world axes, each as (the side its positive direction points to, the side its negative one does)
SIDES = (("left", "right"), ("posterior", "anterior"), ("superior", "inferior"))


def side_of(grid: Grid, axis: int, high_end: bool) -> str:
    """The anatomical side that the face of ``grid`` at the low or high end of ``axis`` faces (LPS world)."""
    column = np.asarray(grid.direction_matrix)[:, axis] * (1.0 if high_end else -1.0)
    world = int(np.argmax(np.abs(column)))
    return SIDES[world][0 if column[world] > 0 else 1]


def brain_on_faces(mask: np.ndarray, grid: Grid) -> Dict[str, float]:
    """{anatomical side: the mask's area on that face of the grid, mm^2}, for every face the mask touches."""
    mask = np.asarray(mask) > 0
    spacing = np.asarray(grid.spacing, np.float64)
    areas: Dict[str, float] = {}
    for axis in range(3):
        voxel_area = float(np.prod(np.delete(spacing, axis)))
        for high_end, index in ((False, 0), (True, mask.shape[axis] - 1)):
            count = int(np.count_nonzero(np.take(mask, index, axis=axis)))
            if count:
                side = side_of(grid, axis, high_end)
                areas[side] = areas.get(side, 0.0) + count * voxel_area
    return areas


def cut_sides(areas: Dict[str, float]) -> Dict[str, float]:
    """The faces of ``areas`` (brain_on_faces) that cut the brain (CUT_MM2 or more)."""
    return {side: area for side, area in areas.items() if area >= CUT_MM2}


def warning_of(evidence: Dict) -> str:
    """One line for the user when a brain extraction's evidence (BrainMask.evidence, or `brain_evidence` in
    volumes.json) says the field of view cuts the brain; "" when it does not."""
    areas = evidence.get("brain_at_field_of_view_edge_mm2", {})
    cut = {side: areas[side] for side in evidence.get("field_of_view_cuts_brain", [])}
    if not cut:
        return ""
    sides = ", ".join(f"{side} ({area:,.0f} mm^2 of brain on that edge)" for side, area in cut.items())
    return (f"the brain reaches the edge of the field of view: {sides}; the mask, the intracranial volume and the "
            "tissue volumes cover only the part of the brain inside the scan")
