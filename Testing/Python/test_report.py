"""`medsr report`: one offline HTML file, looked at in a real headless browser (Debian's chromium)."""

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from MedSRLib.cli.main import main
from MedSRLib.io import read_volume, write_volume

from conftest import crop

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def screenshot(page, picture, size=(1100, 2600)) -> np.ndarray:
    """The page as headless Chromium draws it, network off (the page must need none)."""
    if CHROMIUM is None:
        pytest.fail("chromium is not installed; the test set-up (.ci/run) installs Debian's chromium")
    run = subprocess.run([CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          "--proxy-server=127.0.0.1:9", f"--user-data-dir={picture.parent / 'profile'}",
                          f"--window-size={size[0]},{size[1]}", f"--screenshot={picture}", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert picture.exists(), run.stderr
    from PIL import Image

    return np.asarray(Image.open(picture).convert("RGB")).astype(int)


def near(pixels, rgb, tolerance=30) -> int:
    return int(np.count_nonzero(np.abs(pixels - np.asarray(rgb)).max(axis=-1) <= tolerance))


def test_the_report_of_a_volume_and_its_labels_shows_the_slices_the_overlay_and_the_table(tmp_path, segmented, capsys):
    report = tmp_path / "review.html"
    assert main(["report", str(segmented / "left.nii.gz"), "--labels", str(segmented / "left-labels.nii.gz"),
                 "--output", str(report), "--quiet"]) == 0
    text = report.read_text()
    assert not re.search(r"(src|href)=['\"]?(https?:|//)", text)  # nothing to fetch: pictures are data: URIs
    assert "grey matter" in text and "white matter" in text and "brain-tissue" in text
    pixels = screenshot(report, tmp_path / "shot.png")
    grey = np.count_nonzero((np.abs(pixels[..., 0] - pixels[..., 1]) < 6) & (np.abs(pixels[..., 1] - pixels[..., 2]) < 6)
                            & (pixels[..., 0] > 40) & (pixels[..., 0] < 200))
    assert grey > 2000  # the grey-scale slices under the overlay
    # grey matter is drawn in its colour from the colour table, blended 45 % over the image
    table = (segmented / "left-labels.ctbl").read_text().splitlines()
    gm = [tuple(int(v) for v in line.split()[2:5]) for line in table if line.split()[1:2] == ["grey_matter"]][0]
    tinted = sum(near(pixels, (0.45 * np.asarray(gm) + 0.55 * g).round(), 40) for g in (90, 140, 190))
    assert tinted > 2000, tinted


def test_a_cohort_report_has_a_section_per_case_and_flags_outliers(tmp_path, segmented):
    cohort = tmp_path / "cohort"
    shutil.copytree(segmented, cohort)
    # a third case whose labels are mostly grey matter: an outlier in grey-matter volume
    labels = read_volume(cohort / "left-labels.nii.gz")
    odd = labels.with_array(np.where(labels.array > 0, 2, 0).astype(labels.array.dtype))
    write_volume(odd, cohort / "odd-labels.nii.gz")
    shutil.copy(cohort / "left-labels.ctbl", cohort / "odd-labels.ctbl")
    summary = json.loads((cohort / "left-labels.volumes.json").read_text())
    voxel_ml = float(np.prod(odd.grid.spacing)) / 1000
    summary["volumes_ml"] = {"cerebrospinal fluid": 0.0, "grey matter": float((odd.array == 2).sum() * voxel_ml), "white matter": 0.0}
    (cohort / "odd-labels.volumes.json").write_text(json.dumps(summary))
    for index in range(2):  # more ordinary cases make the cohort's spread meaningful
        shutil.copy(cohort / "right-labels.nii.gz", cohort / f"r{index}-labels.nii.gz")
        for ending in (".ctbl", ".volumes.json"):
            shutil.copy(cohort / f"right-labels{ending}", cohort / f"r{index}-labels{ending}")
    report = tmp_path / "cohort.html"
    assert main(["report", str(cohort), "--output", str(report), "--quiet"]) == 0
    text = report.read_text()
    assert text.count("<section class='case") == 5
    flagged = re.findall(r"<li class=flag>([^<]*)</li>", text)
    assert flagged and all(line.startswith("odd-labels:") for line in flagged), flagged
    pixels = screenshot(report, tmp_path / "cohort.png", size=(1100, 3000))
    assert near(pixels, (204, 0, 0), 40) > 50  # the red flag at the top


def test_a_case_whose_brain_the_field_of_view_cut_is_flagged(tmp_path, segmented):
    """`medsr segment` records in volumes.json when the field of view cuts the brain (test_strip.py measures it on
    ITK's real subject); the report flags that case and says why, in a cohort and alone."""
    cohort = tmp_path / "cohort"
    shutil.copytree(segmented, cohort)
    summary = json.loads((cohort / "left-labels.volumes.json").read_text())
    summary["brain_evidence"] = {"brain_at_field_of_view_edge_mm2": {"superior": 6774.0, "left": 120.0},
                                 "field_of_view_cuts_brain": ["superior"]}
    (cohort / "left-labels.volumes.json").write_text(json.dumps(summary))
    report = tmp_path / "cohort.html"
    assert main(["report", str(cohort), "--output", str(report), "--quiet"]) == 0
    text = report.read_text()
    flagged = re.findall(r"<li class=flag>([^<]*)</li>", text)
    assert flagged == ["left-labels: the brain reaches the edge of the field of view: superior (6,774 mm^2 of brain on "
                       "that edge); the mask, the intracranial volume and the tissue volumes cover only the part of the "
                       "brain inside the scan"], flagged
    assert "<section class='case flagged' id='left-labels'>" in text
    assert "<section class='case' id='right-labels'>" in text
    alone = tmp_path / "alone.html"
    assert main(["report", str(cohort / "left.nii.gz"), "--labels", str(cohort / "left-labels.nii.gz"),
                 "--output", str(alone), "--quiet"]) == 0
    text = alone.read_text()
    assert "<section class='case flagged'" in text and "<tr><th>warning</th><td>the brain reaches the edge" in text


@pytest.mark.parametrize("problem", ["other grid", "missing", "not html", "exists"])
def test_bad_report_requests_get_one_line(tmp_path, segmented, capsys, t1, problem):
    image, labels = segmented / "left.nii.gz", segmented / "left-labels.nii.gz"
    output = tmp_path / "r.html"
    if problem == "other grid":
        labels = segmented / "right-labels.nii.gz"
        write_volume(crop(t1, (0, 0, 0), (88, 112, 64)).with_array(read_volume(labels).array), tmp_path / "shifted.nii.gz")
        labels = tmp_path / "shifted.nii.gz"
    elif problem == "missing":
        labels = tmp_path / "nowhere.nii.gz"
    elif problem == "not html":
        output = tmp_path / "r.pdf"
    else:
        output.write_text("keep me")
    capsys.readouterr()
    assert main(["report", str(image), "--labels", str(labels), "--output", str(output), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("medsr: error: "), err
    if problem == "exists":
        assert output.read_text() == "keep me"
    else:
        assert not output.exists()
