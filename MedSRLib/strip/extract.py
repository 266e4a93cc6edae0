"""Brain extraction: the atlas placed on the scan, its brain carried onto the scan's own grid (joined with the
T1 network's brain where the two agree: the atlas decides where the network doubts), its surface moved onto the
skull's inner edge where the image shows one, and a refusal, with the reason, when the evidence in the image says
there is no head in it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional

import numpy as np
import SimpleITK as sitk

from ..errors import MedSRError
from ..io.convert import sitk_from_volume
from ..measured_region import unmeasured_region
from ..progress import SILENT, Progress
from ..volume import Volume, check_finite
from .atlas import load_atlas
from .contrast import tissue_contrast
from .field_of_view import brain_on_faces, cut_sides, warning_of
from .registration import ATLAS_SCALE, explained_variance, fit_atlas, is_plausible
from .skull_edge import move_to_skull_edge

#: a head's intracranial volume lies well inside this range (mL); adults measure about 1,100-1,900
INTRACRANIAL_ML = (700.0, 2600.0)
#: share of the scan's intensity variance inside the brain (6 mm in from its edge) that the placed atlas must
#: explain; measured: real heads 0.38-0.65 (T1 and T2-like), a skull-stripped template 0.53, a head-like phantom of
#: nested ellipsoids 0.11, a phantom of spheres 0.02, noise 0.00
MIN_EXPLAINED = 0.25
#: a head is at least this wide along two world axes (mm)
MIN_HEAD_MM = 90.0
#: the T1 network's brain (strip/t1_network.py) joins the atlas's only when their masks agree by this Dice at least.
#: Measured: 0.94-0.96 on T1-, T2- and PD-like heads, 0.62 on an intensity-inverted head the network misreads
MIN_NETWORK_AGREEMENT = 0.9
#: the T1 network's share of the joined brain probability: above one half, so that where the network is sure
#: (probability below 0.25 or above 0.75) its answer stands and the affinely placed atlas decides only where the
#: network doubts. An even share let a sure network be overruled by the atlas at the knife's edge of 0.5.
#: Chosen on the tuning heads (not validation heads; Dice against their intracranial masks, skull edge
#: included): the mni305 average placed anew with 711-2B carried 0.9530 -> 0.9544, T1-, T2- and PD-like renderings
#: of 3T18yo (Testing/Benchmarks/heads/tuning_renderings.py) 0.9490 -> 0.9592, 0.9779 -> 0.9792, 0.9760 -> 0.9814;
#: the network alone (share 1) 0.9539, 0.9592, 0.9788, 0.9813
NETWORK_SHARE = 2.0 / 3.0
#: ... in a scan that is not T1-weighted (strip/contrast.py; deepbet learnt T1-weighted heads only): an even share.
#: Measured on the tuning heads (not validation heads) with the skull edge, even share -> 2/3: mni305 placed anew,
#: T2- and PD-like renderings (SyN-made reference) 0.9443 -> 0.8926 and 0.9525 -> 0.9307 (the network grew the mask
#: by 270 and 130 mL into the blurred band outside this average's brain); 3T18yo's renderings 0.9775 -> 0.9794 and
#: 0.9762 -> 0.9816; the atlas alone 0.9485, 0.9464, 0.9710, 0.9688
OTHER_CONTRAST_NETWORK_SHARE = 0.5


class NoBrainFound(MedSRError):
    """The image holds no brain that the atlas can be placed on; the message says why."""


@dataclass
class BrainMask:
    mask: Volume                       # uint8, 1 inside the brain, on the scan's own grid
    intracranial_ml: float
    evidence: Dict[str, float] = field(default_factory=dict)
    #: maps the scan's world points into the atlas's (strip.priors carries the atlas's tissue maps through it)
    atlas_transform: Optional[sitk.Transform] = field(default=None, repr=False)

    @property
    def field_of_view_warning(self) -> str:
        """One line when the scan's field of view cuts the brain (strip/field_of_view.py), else ""."""
        return warning_of(self.evidence)

    def masked(self, volume: Volume) -> Volume:
        """``volume`` with every voxel outside the brain set to zero (the scan's own dtype and grid)."""
        return volume.with_array(np.where(self.mask.array > 0, volume.array, 0).astype(volume.array.dtype),
                                 brain_mask="medsr strip")


def extract_brain(volume: Volume, progress: Progress = SILENT, t1_network: bool = True,
                  skull_edge: bool = True) -> BrainMask:
    """The brain mask of an MR head ``volume`` (any contrast, orientation, position and field of view), on its
    grid: one connected component, holes filled. Raises :class:`NoBrainFound` when there is no head in it.

    The placed atlas's brain probability is joined with the T1 network's (``t1_network``, when deepbet is
    installed; the network's share is NETWORK_SHARE in a T1-weighted scan, OTHER_CONTRAST_NETWORK_SHARE in any
    other, as the scan's own tissue intensities say: strip/contrast.py) if their masks agree by a Dice of at least
    MIN_NETWORK_AGREEMENT; otherwise the atlas's stands alone.
    The evidence says which. With ``skull_edge`` the mask's surface is then moved onto the inner edge of the skull
    where the image shows one (strip/skull_edge.py; the evidence gives the change in mL)."""
    check_finite(volume)
    if volume.modality == "CT":
        raise MedSRError("brain extraction is for MR images; this volume is CT (Hounsfield units)")
    check_can_hold_a_head(volume)
    atlas = load_atlas()
    scan = sitk.Cast(sitk_from_volume(volume), sitk.sitkFloat32)
    try:
        fit = fit_atlas(scan, atlas, progress.sub(0.0, 0.85))
    except RuntimeError as error:  # ITK: the atlas slid out of the image, or nothing overlapped
        raise NoBrainFound(f"the head atlas could not be placed on it ({str(error).strip().splitlines()[-1][:120]})")
    low, high = ATLAS_SCALE
    if not is_plausible(fit.scales):
        sizes = ", ".join(f"{1.0 / s:.2f}" for s in fit.scales)
        raise NoBrainFound(f"the atlas head had to be scaled by {sizes} to fit, outside the {low}-{high} of real heads")
    progress.update(0.86, "carrying the brain onto the scan's grid")
    probability = sitk.GetArrayFromImage(sitk.Resample(atlas.brain, scan, fit.transform, sitk.sitkLinear, 0.0,
                                                       sitk.sitkFloat32)).T
    evidence = {"mutual_information": fit.metric, "atlas_scale": [1.0 / s for s in fit.scales]}
    contrast = tissue_contrast(fit.coarse_scan, atlas.brain, fit.transform)
    evidence["contrast"] = contrast.describe()
    if t1_network:
        progress.update(0.88, "a second opinion: the T1 brain network")
        share = NETWORK_SHARE if contrast.t1_weighted else OTHER_CONTRAST_NETWORK_SHARE
        probability, evidence["mask_from"], agreement = _with_t1_network(volume, probability, share)
        if agreement is not None:
            evidence["t1_network_agreement"] = agreement
    else:
        evidence["mask_from"] = "atlas (the T1 network was not asked)"
    mask = _one_filled_component(sitk_from_volume(volume, probability > 0.5))
    array = sitk.GetArrayFromImage(mask).T > 0
    voxel_ml = float(np.prod(volume.grid.spacing)) / 1000.0
    if skull_edge:
        progress.update(0.93, "moving the surface onto the skull's inner edge")
        before = float(array.sum()) * voxel_ml
        array = move_to_skull_edge(volume.as_float32(), array, volume.grid.spacing)
        evidence["skull_edge_ml"] = float(array.sum()) * voxel_ml - before
    array = _within_what_was_measured(volume, array, evidence, voxel_ml)
    array = array.astype(np.uint8)
    millilitres = float(array.sum()) * voxel_ml
    on_edges = brain_on_faces(array, volume.grid)
    evidence.update(brain_at_field_of_view_edge_mm2=on_edges, field_of_view_cuts_brain=sorted(cut_sides(on_edges)))
    explained = explained_variance(fit.coarse_scan, atlas, fit.transform)
    evidence.update(explained_variance=explained, intracranial_ml=millilitres)
    if not INTRACRANIAL_ML[0] <= millilitres <= INTRACRANIAL_ML[1]:
        raise NoBrainFound(f"the brain the atlas finds would hold {millilitres:.0f} mL, outside the "
                           f"{INTRACRANIAL_ML[0]:.0f}-{INTRACRANIAL_ML[1]:.0f} mL of a head (is the whole brain in the field of view?)")
    if explained < MIN_EXPLAINED:
        raise NoBrainFound(f"the placed head atlas explains {100 * explained:.0f} % of the intensities inside the brain, "
                           f"below the {100 * MIN_EXPLAINED:.0f} % of a head of any contrast: no brain anatomy is there")
    progress.update(1.0, f"brain extracted: {millilitres:.0f} mL")
    return BrainMask(volume.with_array(array, kind="labels", brain_mask="medsr strip"), millilitres, evidence, fit.transform)


def _within_what_was_measured(volume: Volume, array: np.ndarray, evidence: Dict, voxel_ml: float) -> np.ndarray:
    """``array`` (the brain mask) kept out of the scan's unmeasured region (measured_region.py: a skull-stripped
    scan's zeroed outside, a CT's padding), whose holes are filled first (dark voxels inside the brain at the
    scan's minimum stay), then its largest component with holes filled. No brain lies where nothing was measured:
    on the bundled (skull-stripped) T1 the mask held 9.5 mL of voxels outside the stripped brain. (Heads whose air
    was zeroed around the head, as 711-2C's, 3T18yo's and ITK's subject's, have such a region too: their masks lie
    well inside it and do not change.)"""
    from scipy.ndimage import binary_fill_holes

    region = unmeasured_region(volume.as_float32())
    if region is None:
        return array
    within = array & binary_fill_holes(~region)
    if np.array_equal(within, array):  # (a head whose air was zeroed around it: the brain lies well inside)
        return array
    within = sitk.GetArrayFromImage(_one_filled_component(sitk_from_volume(volume, within))).T > 0
    evidence["unmeasured_ml"] = -float(np.count_nonzero(array & ~within)) * voxel_ml
    return within


def _with_t1_network(volume: Volume, atlas_probability: np.ndarray, share: float):
    """(brain probability, where it came from, the masks' Dice agreement or None); the network weighs ``share``
    where it joins the atlas."""
    from . import t1_network

    network = t1_network.brain_probability(volume)
    if network is None:
        why = "not installed" if not t1_network.available() else "it found no brain"
        return atlas_probability, f"atlas (the T1 network: {why})", None
    ours, theirs = atlas_probability > 0.5, network > 0.5
    agreement = float(2.0 * np.count_nonzero(ours & theirs) / max(np.count_nonzero(ours) + np.count_nonzero(theirs), 1))
    if agreement < MIN_NETWORK_AGREEMENT:
        return atlas_probability, (f"atlas (the T1 network's brain agreed by a Dice of only {agreement:.2f}, below "
                                   f"{MIN_NETWORK_AGREEMENT}: not a contrast it reads)"), agreement
    joined = share * network + (1.0 - share) * atlas_probability
    return joined, (f"T1 network's brain probability ({share:.2f}) joined with the atlas's "
                    f"({1.0 - share:.2f}): the atlas decides where the network doubts"), agreement


def place_atlas(volume: Volume, progress: Progress = SILENT) -> Optional[sitk.Transform]:
    """The transform that places the head atlas on ``volume`` (its world points into the atlas's), or None when
    registration fails; none of extract_brain's checks (for a scan whose brain mask is given)."""
    try:
        return fit_atlas(sitk.Cast(sitk_from_volume(volume), sitk.sitkFloat32), load_atlas(), progress).transform
    except RuntimeError:
        return None


def check_can_hold_a_head(volume: Volume) -> None:
    """Refuse, before any registration, a volume that is empty, has no contrast or is too small for a head."""
    array = volume.array
    low, high = np.percentile(array, (1, 99)) if array.size else (0, 0)
    if not np.any(array):
        raise NoBrainFound("every voxel is zero")
    if high <= low:
        raise NoBrainFound(f"the image has no contrast (98 % of its voxels lie between {low:g} and {high:g})")
    extent = np.asarray(volume.grid.size) * np.asarray(volume.grid.spacing)
    if np.sum(extent >= MIN_HEAD_MM) < 2:
        raise NoBrainFound(f"the field of view ({'x'.join(f'{e:.0f}' for e in extent)} mm) is too small to hold a "
                           f"head (a brain is over {MIN_HEAD_MM:.0f} mm across)")


def _one_filled_component(mask: sitk.Image) -> sitk.Image:
    mask = sitk.Cast(mask, sitk.sitkUInt8)
    largest = sitk.RelabelComponent(sitk.ConnectedComponent(mask), sortByObjectSize=True) == 1
    return sitk.BinaryFillhole(sitk.Cast(largest, sitk.sitkUInt8))
