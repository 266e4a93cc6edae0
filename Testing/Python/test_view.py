"""`medsr view`: the trame review page, served by the real command and looked at in a real headless chromium."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from MedSRLib.cli.main import main
from MedSRLib.io import read_volume, write_volume
from MedSRLib.review.mosaic import view_slice
from MedSRLib.review.report import load_case
from MedSRLib.review.slices import SliceSource

from browser import Browser, as_pixels
from conftest import crop, oblique

PICTURES = "document.querySelectorAll('img[src^=\"data:image/png\"]').length"


def start_view(*args, timeout=120):
    """`medsr view ...` in its own process; returns (process, URL from its first line of output)."""
    process = subprocess.Popen([sys.executable, "-m", "MedSRLib", "view", *map(str, args)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.time() + timeout
    line = ""
    while time.time() < deadline and not line:
        line = process.stdout.readline().strip()
        if process.poll() is not None:
            break
    if not line.startswith("http"):
        process.kill()
        pytest.fail(f"medsr view printed no URL first: {line!r} {process.stderr.read()}")
    return process, line


def stop(process) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=60)


@pytest.fixture(scope="module")
def served(segmented, tmp_path_factory):
    """The bundled T1 crop, its segmentation and a blurred copy to compare, served by `medsr view`."""
    image = read_volume(segmented / "left.nii.gz")
    from scipy.ndimage import gaussian_filter

    blurred = tmp_path_factory.mktemp("compare") / "left-blurred.nii.gz"  # (not in the shared cohort folder)
    write_volume(image.with_array(gaussian_filter(image.array.astype(np.float32), 2.0)), blurred)
    files = (segmented / "left.nii.gz", segmented / "left-labels.nii.gz", blurred)
    process, url = start_view(files[0], "--labels", files[1], "--compare", files[2])
    yield process, url, files
    if process.poll() is None:
        process.kill()


def element_pixels(browser: Browser, shot: np.ndarray, element: str) -> np.ndarray:
    rect = browser.evaluate(f"(() => {{ const r = document.getElementById('{element}').getBoundingClientRect(); "
                            "return [r.left, r.top, r.width, r.height]; })()")
    left, top, width, height = (int(round(v)) for v in rect)
    return shot[top + 2:top + height - 2, left + 2:left + width - 2]


def resized(picture: np.ndarray, shape) -> np.ndarray:
    """``picture`` (2-D labels or RGB) scaled to ``shape`` by nearest neighbour, as the page's pixelated image is."""
    rows = (np.arange(shape[0]) + 2.5) * picture.shape[0] / (shape[0] + 4)
    columns = (np.arange(shape[1]) + 2.5) * picture.shape[1] / (shape[1] + 4)
    return picture[rows.astype(int).clip(0, picture.shape[0] - 1)][:, columns.astype(int).clip(0, picture.shape[1] - 1)]


def test_the_page_shows_the_slices_with_the_labels_in_their_colours_and_a_slider_moves_the_slice(served, tmp_path):
    process, url, (image, labels, compared) = served
    assert url.startswith("http://127.0.0.1:")  # this machine only, unless --host says otherwise
    source = SliceSource.from_case(load_case(str(image), str(labels), str(compared)))
    with Browser(tmp_path / "profile", size=(1400, 1500)) as browser:
        browser.open(url)
        assert browser.wait_for(PICTURES) == 6  # three views of the volume, three of the compared one
        browser.wait_for("document.body.innerText.includes('grey matter')")
        legend = browser.evaluate("document.querySelector('.medsr-legend').innerText")
        for name in ("cerebrospinal fluid", "grey matter", "white matter"):
            assert name in legend
        shot = browser.screenshot()
        axial = element_pixels(browser, shot, "axial-picture")
        # where the labels are, the page shows the label's colour blended over the image; elsewhere grey
        index = source.middle("axial")
        label_slice = resized(view_slice(source.labels, "axial", index), axial.shape[:2])
        grey_slice = resized(view_slice(source.image, "axial", index), axial.shape[:2])
        spread = np.abs(axial - axial.mean(axis=-1, keepdims=True)).max(axis=-1)
        colours, names = source.case.colours, {v: k for k, v in source.case.names.items()}
        # grey matter and CSF have saturated colours (white matter's is near white)
        inside = (label_slice == names["grey matter"]) | (label_slice == names["cerebrospinal fluid"])
        outside = (label_slice == 0) & (grey_slice > source.window[0])
        assert inside.sum() > 2000
        assert np.mean(spread[inside] > 12) > 0.85  # coloured
        assert outside.sum() == 0 or np.mean(spread[outside] < 8) > 0.9  # grey
        for name in ("grey matter", "white matter"):
            mask = label_slice == names[name]
            expected = as_pixels(source.picture("axial", index, source.window))
            expected = resized(expected, axial.shape[:2])[mask].mean(axis=0)
            assert np.abs(axial[mask].mean(axis=0) - expected).max() < 12, (name, axial[mask].mean(axis=0), expected)
            assert np.corrcoef(axial[mask].mean(axis=0), colours[names[name]])[0, 1] > 0.5
        # the compared (blurred) volume is cut at the same slice: same labels, other picture
        compared_pixels = element_pixels(browser, shot, "axial-compared")
        assert compared_pixels.shape == axial.shape and np.abs(compared_pixels - axial).mean() > 1
        where = browser.evaluate("document.body.innerText.match(/S [+-][0-9.]+ mm/)[0]")
        # the axial slider moves the axial slice, in the volume and in the compared one
        before = browser.evaluate("document.getElementById('axial-picture').src")
        browser.evaluate("document.querySelector('.medsr-slider-axial [role=slider]').focus()")
        browser.press("ArrowRight", "ArrowRight", 39, times=12)
        browser.wait_for(f"document.getElementById('axial-picture').src !== {before!r}".replace("\n", ""))
        time.sleep(1.0)
        after_shot = browser.screenshot()
        moved = element_pixels(browser, after_shot, "axial-picture")
        assert np.abs(moved - axial).mean() > 2
        assert np.abs(element_pixels(browser, after_shot, "axial-compared") - compared_pixels).mean() > 1
        assert np.abs(element_pixels(browser, after_shot, "coronal-picture")
                      - element_pixels(browser, shot, "coronal-picture")).mean() < 0.5
        moved_where = browser.evaluate("document.body.innerText.match(/S [+-][0-9.]+ mm/)[0]")
        assert float(moved_where[2:-3]) - float(where[2:-3]) == pytest.approx(12 * source.spacing, abs=0.05)


def test_the_server_serves_nothing_but_its_page(served):
    process, url, files = served
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200
    for path in (str(files[0].resolve()).lstrip("/"), files[0].name, files[1].name, "etc/passwd", "%2e%2e/%2e%2e/etc/passwd"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url + path, timeout=30)
        assert refused.value.code == 404, path


def test_sigterm_stops_it_cleanly(t1_crop, tmp_path):
    write_volume(t1_crop, tmp_path / "t1.nii.gz")
    process, url = start_view(tmp_path / "t1.nii.gz")
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200
    assert stop(process) == 0
    assert "stopped" in process.stderr.read()


def test_pictures_are_in_world_orientation_on_an_oblique_grid(t1_crop):
    """A label at the patient's left-anterior-superior corner is drawn at the right (patient's left on the right of
    the picture) and at the top of the axial picture, whatever grid the volume comes on."""
    image = oblique(t1_crop)
    labels = np.zeros(image.array.shape, np.uint8)
    grid = image.grid
    ijk = np.stack(np.meshgrid(*[np.arange(n) for n in grid.size], indexing="ij"), -1).reshape(-1, 3).T
    lps = (grid.ijk_to_lps()[:3, :3] @ ijk).T + grid.ijk_to_lps()[:3, 3]
    centre = lps.mean(axis=0)
    corner = (lps[:, 0] > centre[0] + 8) & (lps[:, 1] < centre[1] - 8) & (lps[:, 2] > centre[2] - 6)
    labels.reshape(-1)[corner] = 1  # Volume arrays are (i, j, k), C order like the meshgrid
    from MedSRLib.review.report import Case

    case = Case("oblique", image, image.with_array(labels), colours={1: (255, 0, 0)}, names={1: "marker"})
    source = SliceSource.from_case(case)
    picture = as_pixels(source.picture("axial", source.middle("axial"), source.window, opacity=1.0))
    red = (picture[..., 0] > 200) & (picture[..., 1] < 60)
    rows, columns = np.nonzero(red)
    assert red.sum() > 100
    assert columns.mean() > picture.shape[1] * 0.55 and rows.mean() < picture.shape[0] * 0.45


@pytest.mark.parametrize("problem", ["missing", "other grid", "port in use", "not labels"])
def test_bad_view_requests_get_one_line(problem, segmented, tmp_path, capsys, t1):
    image, labels = segmented / "left.nii.gz", segmented / "left-labels.nii.gz"
    extra = []
    blocker = None
    if problem == "missing":
        labels = tmp_path / "nowhere.nii.gz"
    elif problem == "other grid":
        write_volume(crop(t1, (0, 0, 0), (88, 112, 64)).with_array(read_volume(labels).array), tmp_path / "shifted.nii.gz")
        labels = tmp_path / "shifted.nii.gz"
    elif problem == "not labels":
        labels = segmented / "right.nii.gz"
    else:
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        extra = ["--port", str(blocker.getsockname()[1])]
    capsys.readouterr()
    try:
        assert main(["view", str(image), "--labels", str(labels), *extra]) == 2
    finally:
        if blocker is not None:
            blocker.close()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("medsr: error: "), err


def test_sigterm_ends_the_process_even_if_the_server_swallows_the_interrupt(monkeypatch, capsys):
    """The guard behind SIGTERM: the interrupt is raised, and should the server's loop swallow it the process ends
    after the grace period all the same, saying it stopped."""
    from MedSRLib.cli import view

    ended = []
    monkeypatch.setattr(view, "STOP_GRACE_S", 0.05)
    monkeypatch.setattr(view.os, "_exit", ended.append)
    with pytest.raises(KeyboardInterrupt):
        view._interrupt(signal.SIGTERM, None)
    deadline = time.time() + 5
    while not ended and time.time() < deadline:
        time.sleep(0.01)
    assert ended == [0]
    assert "medsr view: stopped" in capsys.readouterr().err
