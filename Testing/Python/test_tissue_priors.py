"""The head atlas's tissue priors on a held-out real head placed as a scanner would, and the contrast-agnostic tissue
labels they give: a T1 head and the same head with its intensities inverted (T2-like) are labelled alike."""

from pathlib import Path

import numpy as np
import pytest

from MedSRLib import read_volume
from MedSRLib.evaluation.placement import centre_of, place, scanner_grid, scanner_placement
from MedSRLib.methods.intensity_model import JOINED_PRIOR, MIN_AGREEMENT, refine_with_intensity_model
from MedSRLib.methods.segmentation import segment
from MedSRLib.strip import place_atlas
from MedSRLib.strip.priors import tissue_priors

DATA = Path(__file__).resolve().parents[1] / "Data"


def mean_dice(a, b, labels=(1, 2, 3)) -> float:
    return float(np.mean([2 * np.count_nonzero((a == k) & (b == k)) / (np.count_nonzero(a == k) + np.count_nonzero(b == k))
                          for k in labels]))


@pytest.fixture(scope="module")
def placed():
    """711-2C (never used to build the atlas) at 2 mm, rotated, shifted, on a sagittal 2.2x1.8x2 mm grid of its own,
    with its intracranial mask 711-2B carried along."""
    head = read_volume(DATA / "711-2c-2mm" / "t1.nii.gz")
    mask = read_volume(DATA / "711-2c-2mm" / "intracranial-mask.nii.gz")
    motion = scanner_placement(centre=centre_of(head.grid))
    grid = scanner_grid(head, spacing=(2.2, 1.8, 2.0))
    return place(head, motion, grid), place(mask, motion, grid, labels=True)


@pytest.fixture(scope="module")
def inverted(placed):
    head, _ = placed
    values = head.as_float32()
    return head.with_array(np.where(values > 0, values.max() * 1.1 - values, 0.0).astype(np.float32))


def test_priors_lie_inside_the_head_they_were_placed_on(placed):
    head, mask = placed
    priors = tissue_priors(place_atlas(head), head.grid)
    assert priors.shape == (3,) + tuple(head.grid.size) and priors.dtype == np.float32
    assert priors.min() >= 0 and priors.sum(axis=0).max() <= 1 + 1e-5
    inside = mask.array > 0
    # grey and white matter are expected in this head's own intracranial space (measured 0.87 / 0.97)
    for tissue, floor in ((1, 0.82), (2, 0.94)):
        assert priors[tissue][inside].sum() >= floor * priors[tissue].sum()
    # CSF takes whatever of the intracranial space the brain leaves: the priors sum to 1 there
    assert np.allclose(priors.sum(axis=0)[inside], 1.0, atol=1e-5)
    from scipy.ndimage import distance_transform_edt

    depth = distance_transform_edt(inside, sampling=head.grid.spacing)
    deep, rim = depth > 25, inside & (depth < 4)
    # white matter is expected deep inside, not at the rim (measured 0.48 and 0.15); CSF at the rim between brain and
    # skull rather than deep (measured 0.30 and 0.10)
    assert priors[0][rim].mean() > 2 * priors[0][deep].mean()
    assert priors[2][deep].mean() > 2.5 * priors[2][rim].mean()


@pytest.fixture(scope="module")
def labelled(placed, inverted):
    """Tissue labels of the T1 head and of its inversion, with the atlas priors (default) and without."""
    _, mask = placed
    return {(contrast, priors): segment(image, device="cpu", brain_mask=mask, atlas_priors=priors)
            for contrast, image in (("T1", placed[0]), ("inverted", inverted)) for priors in (True, False)}


def test_atlas_priors_label_an_inverted_contrast_as_the_t1(labelled):
    with_priors = mean_dice(labelled["T1", True].labels.array, labelled["inverted", True].labels.array)
    network_only = mean_dice(labelled["T1", False].labels.array, labelled["inverted", False].labels.array)
    assert with_priors >= 0.75, with_priors
    assert with_priors >= network_only + 0.2, (with_priors, network_only)


def test_the_network_joins_the_atlas_only_where_it_agrees(labelled):
    for key in (("T1", True), ("inverted", True)):
        fit = labelled[key].intensity_fit
        assert fit.applied and 0.0 <= fit.network_agreement <= 1.0
        assert fit.prior == (JOINED_PRIOR if fit.network_agreement >= MIN_AGREEMENT else "atlas"), key
    assert labelled["T1", True].intensity_fit.network_agreement >= MIN_AGREEMENT
    network_only = labelled["T1", False].intensity_fit
    assert network_only.prior == "network" and network_only.network_agreement is None
    # with the priors the labels follow the image's contrast: the darkest tissue of the T1 is the brightest inverted
    inverted = labelled["inverted", True].intensity_fit
    means = [inverted.means[inverted.tissues.index(k)] for k in (1, 2, 3)]
    assert means[0] > means[1] > means[2]


def test_every_voxel_of_the_brain_mask_gets_a_tissue_and_none_outside(placed, labelled):
    """With a mask, the mask decides what is brain: edge voxels the network calls background are given a tissue after
    the intensity fit (measured: 98.9 % of the mask's voxels labelled before that, 99.97 % after; the rest lie at the
    mask's edge, where the probabilities are brought back from the 1 mm working grid)."""
    inside = placed[1].array > 0
    for key in (("T1", True), ("inverted", True), ("T1", False)):
        labels = labelled[key].labels.array
        assert np.count_nonzero(labels[inside]) >= 0.999 * np.count_nonzero(inside), key
        assert not labels[~inside].any(), key


def test_filling_the_mask_leaves_the_intensity_fit_as_it_was(placed):
    """The mask's voxels are filled after the fit: the fitted tissues are those of the fit without it, and inside
    the mask the background gets nothing while the tissues share everything."""
    head, mask = placed
    inside = mask.array > 0
    priors = tissue_priors(place_atlas(head), head.grid)
    image = np.where(inside, head.as_float32(), 0.0) / float(np.percentile(head.as_float32()[inside], 99.5))
    network = np.zeros((4,) + priors.shape[1:], np.float32)
    network[1:] = priors * inside * 0.6  # a network unsure of the brain: 40 % background inside the mask
    network[0] = 1.0 - network[1:].sum(axis=0)
    plain, plain_fit = refine_with_intensity_model(image, network, (1, 2, 3), spatial_prior=priors)
    filled, filled_fit = refine_with_intensity_model(image, network, (1, 2, 3), spatial_prior=priors, brain=inside)
    assert filled_fit.means == pytest.approx(plain_fit.means, rel=1e-4) and filled_fit.sds == pytest.approx(plain_fit.sds, rel=1e-4)
    assert np.all(filled[0][inside] == 0) and np.allclose(filled[1:, inside].sum(axis=0), 1.0, atol=1e-5)
    assert np.array_equal(filled[:, ~inside], plain[:, ~inside])
    assert np.array_equal(filled[1:, inside].argmax(axis=0), plain[1:, inside].argmax(axis=0))  # the same tissue, surer
    # (without filling, 13 % of the mask was background: where the network's 40 % beat each tissue's share)
    assert (plain.argmax(axis=0)[inside] == 0).mean() > 0.1 and (filled.argmax(axis=0)[inside] > 0).all()


def test_a_network_wrong_about_the_contrast_is_left_out(placed):
    """A 'network' that calls CSF what the atlas expects to be white matter and so on (as a T1-trained network can on
    another contrast) disagrees with the atlas-only fit and is not joined; the labels are the atlas-only fit's."""
    head, mask = placed
    inside = mask.array > 0
    priors = tissue_priors(place_atlas(head), head.grid)
    image = np.where(inside, head.as_float32(), 0.0) / float(np.percentile(head.as_float32()[inside], 99.5))
    wrong = np.zeros((4,) + priors.shape[1:], np.float32)
    wrong[0] = ~inside
    wrong[1:] = (priors[[2, 0, 1]] + 1e-3) / (priors.sum(axis=0) + 3e-3) * inside  # WM, CSF, GM as CSF, GM, WM
    refined, fit = refine_with_intensity_model(image, wrong, (1, 2, 3), spatial_prior=priors)
    assert fit.prior == "atlas" and fit.network_agreement < MIN_AGREEMENT
    alone, _ = refine_with_intensity_model(image, np.concatenate([wrong[:1], np.full_like(wrong[1:], 1 / 3) * inside]),
                                           (1, 2, 3), spatial_prior=priors)
    assert np.array_equal(refined.argmax(axis=0), alone.argmax(axis=0))
    assert np.array_equal(refined[0], wrong[0])  # the background keeps its probability


def test_n4_inside_the_brain_undoes_a_bias_field(placed):
    """The real head multiplied by a smooth field (+-50 % at the corners of the field of view, about +-25 % across the
    brain, as a surface coil gives): with N4 inside the brain mask first (the default) the labels stay closer to those
    of the head without the field than when the intensities are labelled as they are."""
    head, mask = placed
    i, j, k = np.meshgrid(*[np.linspace(-1, 1, n) for n in head.grid.size], indexing="ij")
    field = 1.0 + 0.5 * (0.6 * i + 0.5 * j - 0.6 * k) / 1.7
    biased = head.with_array((head.as_float32() * field).astype(np.float32))
    before = biased.array.copy()
    flat = segment(head, device="cpu", brain_mask=mask).labels.array
    corrected = segment(biased, device="cpu", brain_mask=mask)
    uncorrected = segment(biased, device="cpu", brain_mask=mask, bias_correction=False)
    assert corrected.bias_corrected and not uncorrected.bias_corrected
    with_n4, without = mean_dice(corrected.labels.array, flat), mean_dice(uncorrected.labels.array, flat)
    assert with_n4 >= without + 0.02, (with_n4, without)  # measured 0.957 against 0.921
    assert np.array_equal(biased.array, before)  # the input is never modified


def test_the_network_never_puts_csf_below_grey_matter_in_the_joined_prior():
    """The joined prior's network factor: CSF's is the larger of the network's CSF and grey matter; the other rows are
    the network's own, so it still tells grey from white matter."""
    from MedSRLib.methods.intensity_model import _network_factor

    rng = np.random.default_rng(0)
    network = rng.dirichlet((1.0, 1.0, 1.0), size=1000).T.astype(np.float32)
    factor = _network_factor(network)
    assert np.array_equal(factor[1:], network[1:])
    assert np.all(factor[0] >= factor[1]) and np.all(factor[0] >= network[0])
    assert np.array_equal(factor[0] == network[0], network[0] >= network[1])


def test_the_network_on_the_brains_box_labels_as_on_the_whole_grid(placed, labelled, monkeypatch):
    """The tissue network runs on the brain mask's box only; on the whole grid (a margin wider than the grid) the
    labels of the real head are the same but for the sliding window's different tiling (measured: brain Dice 0.998,
    mean tissue Dice 0.990; the network's own background call at the brain's edge moves with the windows)."""
    import MedSRLib.methods.segmentation as segmentation

    head, mask = placed
    monkeypatch.setattr(segmentation, "BOX_MARGIN_VOXELS", 10_000)
    whole = segment(head, device="cpu", brain_mask=mask).labels.array
    boxed = labelled["T1", True].labels.array
    brain = mean_dice(whole > 0, boxed > 0, labels=(True,))  # (the edge's labels come through resampling)
    tissues = mean_dice(whole, boxed)
    assert brain >= 0.995 and tissues >= 0.98, (brain, tissues)


def test_csf_is_weighed_down_where_it_lies_apart_from_grey_matter_with_the_atlas_priors(placed, inverted, labelled,
                                                                                       monkeypatch):
    """The population's CSF prior claims the cortex's partial-volume voxels (methods/segmentation.CSF_PRIOR_SCALE):
    in a T1, and in another contrast where the fit sets CSF apart from grey matter, CSF's posterior is weighed by the
    factor; not where they lie closer than MIN_CSF_SEPARATION (the inverted head), nor without the atlas."""
    from MedSRLib.methods import segmentation

    fit = labelled["T1", True].intensity_fit
    assert fit.csf_prior_scale == segmentation.CSF_PRIOR_SCALE < 1.0
    assert f"CSF's prior weighed by 0.1 (CSF {fit.csf_separation:.2f} summed spreads" in fit.describe()
    # the inverted head: CSF above grey matter, 0.85 summed spreads apart (the T1 1.18, both measured): kept
    kept = labelled["inverted", True].intensity_fit
    assert kept.csf_separation < segmentation.MIN_CSF_SEPARATION
    assert kept.csf_prior_scale == 1.0 and "weighed" not in kept.describe()
    monkeypatch.setattr(segmentation, "MIN_CSF_SEPARATION", kept.csf_separation - 0.01)  # a bar it clears
    lowered = segment(inverted, device="cpu", brain_mask=placed[1]).intensity_fit
    assert lowered.csf_prior_scale == segmentation.CSF_PRIOR_SCALE and lowered.csf_separation == pytest.approx(kept.csf_separation, rel=1e-4)
    monkeypatch.undo()
    assert labelled["T1", False].intensity_fit.csf_prior_scale == 1.0
    assert labelled["T1", False].intensity_fit.csf_separation is None
    monkeypatch.setattr(segmentation, "CSF_PRIOR_SCALE", 1.0)
    unweighed = segment(placed[0], device="cpu", brain_mask=placed[1])
    assert unweighed.intensity_fit.csf_prior_scale == 1.0 and "weighed" not in unweighed.intensity_fit.describe()
    weighed = labelled["T1", True]
    csf, grey = "cerebrospinal fluid", "grey matter"
    # the voxels CSF gives up go to grey matter (the cortex's edge), and the brain's total stays
    assert weighed.volumes_ml[csf] < 0.9 * unweighed.volumes_ml[csf]
    assert weighed.volumes_ml[grey] > unweighed.volumes_ml[grey]
    assert sum(weighed.volumes_ml.values()) == pytest.approx(sum(unweighed.volumes_ml.values()), rel=1e-3)
    # the voxels that change were CSF (but for a few at tissue edges, where the probabilities are brought back from
    # the 1 mm working grid to this 2 mm one)
    changed = weighed.labels.array != unweighed.labels.array
    assert changed.any() and np.mean(unweighed.labels.array[changed] == 1) > 0.95


def test_weighing_csf_keeps_the_tissues_sum_and_the_background():
    from MedSRLib.methods.intensity_model import IntensityFit
    from MedSRLib.methods.segmentation import _csf_weighed

    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(4), size=(5, 6, 7)).transpose(3, 0, 1, 2).astype(np.float32)
    names = {0: "background", 1: "cerebrospinal fluid", 2: "grey matter", 3: "white matter"}
    fit = IntensityFit(True)
    weighed = _csf_weighed(probabilities.copy(), fit, names, 0.1)
    assert fit.csf_prior_scale == 0.1
    np.testing.assert_allclose(weighed[0], probabilities[0])
    np.testing.assert_allclose(weighed[1:].sum(axis=0), probabilities[1:].sum(axis=0), rtol=1e-5)
    # the odds of CSF against each other tissue fall tenfold; those between the others stay
    np.testing.assert_allclose(weighed[1] / weighed[2], 0.1 * probabilities[1] / probabilities[2], rtol=1e-4)
    np.testing.assert_allclose(weighed[2] / weighed[3], probabilities[2] / probabilities[3], rtol=1e-4)


def test_csf_separation_is_in_summed_spreads_either_way():
    from MedSRLib.methods.intensity_model import IntensityFit
    from MedSRLib.methods.segmentation import csf_separation

    names = {0: "background", 1: "cerebrospinal fluid", 2: "grey matter", 3: "white matter"}
    t1 = IntensityFit(True, tissues=[1, 2, 3], means=[0.45, 0.69, 0.93], sds=[0.09, 0.07, 0.07])
    pd = IntensityFit(True, tissues=[1, 2, 3], means=[0.96, 0.90, 0.76], sds=[0.054, 0.052, 0.062])
    assert csf_separation(t1, names) == pytest.approx(0.24 / 0.16)
    assert csf_separation(pd, names) == pytest.approx(0.06 / 0.106)
    assert csf_separation(IntensityFit(True, tissues=[2, 3], means=[0.5, 0.9], sds=[0.1, 0.1]), names) is None
