"""The Slicer face of MedSR: the .ui, the module file, its parameter node, its self-test, and the CMake lists."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import pytest

import slicer_support as support
from slicer_support import SceneLogics, current_scene, module_stand_ins

MODULE = support.MODULE_FOLDER
UI = MODULE / "Resources" / "UI" / "MedSR.ui"
SOURCE = MODULE / "MedSR.py"


def _ui():
    return ElementTree.parse(UI).getroot()


def _widget_names():
    return {w.get("name") for w in _ui().iter("widget")}


def _bound_parameters():
    """widget name -> SlicerParameterName, for every widget bound to the parameter node."""
    bound = {}
    for widget in _ui().iter("widget"):
        for prop in widget.findall("property"):
            if prop.get("name") == "SlicerParameterName":
                bound[widget.get("name")] = prop.find("string").text
    return bound


def _parameter_fields():
    """Field names of the @parameterNodeWrapper class in MedSR.py, read from its source."""
    tree = ast.parse(SOURCE.read_text())
    classes = [node for node in tree.body if isinstance(node, ast.ClassDef)
               and any(getattr(d, "id", None) == "parameterNodeWrapper" for d in node.decorator_list)]
    assert len(classes) == 1
    return [item.target.id for item in classes[0].body if isinstance(item, ast.AnnAssign)]


# --- the .ui, statically ------------------------------------------------------------------------------------------
def test_ui_is_qt_designer_xml_with_the_module_as_top_widget():
    root = _ui()
    assert root.tag == "ui" and root.find("class").text == "MedSR"
    top = root.find("widget")
    assert top.get("class") == "qMRMLWidget" and top.get("name") == "MedSR"
    names = [w.get("name") for w in root.iter("widget")]
    assert len(names) == len(set(names)), "widget names must be unique"
    used_classes = {w.get("class") for w in root.iter("widget")}
    declared = {c.find("class").text for c in root.iter("customwidget")}
    assert {c for c in used_classes if not c.startswith("Q")} <= declared


def test_every_widget_the_code_uses_exists_in_the_ui():
    used = set(re.findall(r"self\.ui\.(\w+)", SOURCE.read_text()))
    assert used, "the module reads no widgets?"
    assert used - _widget_names() == set()


def test_every_bound_widget_names_a_parameter_node_field():
    fields = _parameter_fields()
    bound = _bound_parameters()
    assert set(bound.values()) <= set(fields)
    assert len(bound.values()) == len(set(bound.values())), "a parameter bound to two widgets"
    # everything but the method (filled from MedSRLib's registry at run time) has a widget
    assert set(fields) - set(bound.values()) == {"method"}


def test_the_scene_reaches_every_node_selector():
    selectors = {w.get("name") for w in _ui().iter("widget") if w.get("class") == "qMRMLNodeComboBox"}
    receivers = {c.find("receiver").text for c in _ui().iter("connection")
                 if c.find("signal").text == "mrmlSceneChanged(vtkMRMLScene*)" and c.find("slot").text == "setMRMLScene(vtkMRMLScene*)"}
    assert selectors == receivers == {"inputSelector", "referenceSelector"}


def _declared_classes():
    """widget name -> the Qt class it must load as: its own class, or for Slicer's custom widgets the base class the
    .ui declares (QUiLoader has no Slicer plug-ins, so they load as that base)."""
    extends = {c.find("class").text: c.find("extends").text for c in _ui().iter("customwidget")}
    return {w.get("name"): extends.get(w.get("class"), w.get("class")) for w in _ui().iter("widget")}


def test_ui_loads_in_a_real_qt_and_renders(tmp_path):
    """PySide6's QUiLoader (offscreen) loads the panel: every widget the module uses exists with a compatible class,
    and the panel renders to a picture that is not blank."""
    picture = tmp_path / "panel.png"
    code = f"""
import json
from PySide6.QtCore import QFile
from PySide6.QtUiTools import QUiLoader
from PySide6.QtWidgets import QApplication, QWidget
app = QApplication([])
loader = QUiLoader()
widget = loader.load(QFile({str(UI)!r}))
assert widget is not None, loader.errorString()
declared = json.loads({json.dumps(json.dumps(_declared_classes()))})
found = {{w.objectName(): w for w in widget.findChildren(QWidget)}}
found[widget.objectName()] = widget
wrong = [name + ' is ' + found[name].metaObject().className() + ', not a ' + cls
         for name, cls in declared.items() if name in found and not found[name].inherits(cls)]
assert not wrong, wrong
widget.resize(460, 760)
widget.show()
app.processEvents()
assert widget.grab().save({str(picture)!r})
print(",".join(sorted(found)))
"""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    loaded = set(out.stdout.strip().split(","))
    assert _widget_names() <= loaded
    from PIL import Image

    pixels = np.asarray(Image.open(picture).convert("L"), dtype=float)
    assert pixels.shape[0] >= 700 and pixels.shape[1] >= 460  # at least the size asked for (the panel has a minimum width)
    assert pixels.std() > 10 and len(np.unique(pixels)) > 20  # text and frames, not one flat colour
    if os.environ.get("MEDSR_SAVE_PANEL"):  # how Screenshots/MedSR-panel-offscreen.png was made
        Path(os.environ["MEDSR_SAVE_PANEL"]).write_bytes(picture.read_bytes())


# --- the module file, imported with stand-ins for the application only -------------------------------------------
@pytest.fixture(scope="module")
def module():
    logics = SceneLogics()
    with module_stand_ins(), current_scene(logics):
        sys.modules.pop("MedSR", None)
        import MedSR

        yield MedSR
        sys.modules.pop("MedSR", None)


def test_module_follows_the_scripted_module_template(module):
    from slicer.ScriptedLoadableModule import (ScriptedLoadableModule, ScriptedLoadableModuleLogic,
                                               ScriptedLoadableModuleTest, ScriptedLoadableModuleWidget)
    from MedSRLogicLib import MedSRLogic as ProcessingLogic

    assert issubclass(module.MedSR, ScriptedLoadableModule)
    assert issubclass(module.MedSRWidget, ScriptedLoadableModuleWidget)
    assert issubclass(module.MedSRLogic, ScriptedLoadableModuleLogic) and issubclass(module.MedSRLogic, ProcessingLogic)
    assert issubclass(module.MedSRTest, ScriptedLoadableModuleTest)
    parent = type("Parent", (), {})()
    module.MedSR(parent)
    assert parent.title == "MedSR" and parent.categories == ["Filtering"] and "field of view" in parent.helpText


def test_parameter_node_fields_are_typed(module):
    from slicer import vtkMRMLScalarVolumeNode

    parameters = module.MedSRParameterNode.allParameters
    assert list(parameters) == _parameter_fields()
    assert parameters["inputVolume"] is vtkMRMLScalarVolumeNode and parameters["referenceVolume"] is vtkMRMLScalarVolumeNode
    assert parameters["dataConsistency"] is bool and parameters["uncertaintyMap"] is bool
    defaults = module.MedSRParameterNode()
    assert defaults.task is module.Task.SUPER_RESOLUTION and defaults.method == "bspline"
    # the panel's choices are the logic's names
    from MedSRLogicLib import DEVICES, TASKS

    assert {t.value for t in module.Task} <= set(TASKS) and {d.value for d in module.Device} == set(DEVICES)
    assert all(module.Task.label(t) for t in module.Task)


def test_the_panel_passes_its_noise_level_to_enhancement_runs_only(module):
    widget = module.MedSRWidget()
    p = widget._parameterNode = module.MedSRParameterNode()
    p.task, p.enhanceSteps = module.Task.ENHANCEMENT, "n4, ae"
    request = widget._request()
    assert request.task == "enhance" and request.steps == ("n4", "ae") and request.noiseSigma is None  # 0: estimated
    p.noiseSigma = 12.5
    assert widget._request().noiseSigma == 12.5
    p.task = module.Task.CHAIN
    assert widget._request().noiseSigma == 12.5
    p.task = module.Task.SUPER_RESOLUTION
    request = widget._request()
    assert request.noiseSigma is None and request.steps == ()


def test_the_panel_turns_mirroring_off_only_for_the_autoencoder(module):
    widget = module.MedSRWidget()
    p = widget._parameterNode = module.MedSRParameterNode()
    p.task, p.enhanceSteps = module.Task.ENHANCEMENT, "n4, ae"
    assert widget._request().mirror is True  # the default: the eight-mirroring average
    p.mirror = False
    assert widget._request().mirror is False
    p.enhanceSteps = "n4"  # no autoencoder: the box has nothing to turn off, so the request asks nothing of it
    assert widget._request().mirror is True
    p.task, p.enhanceSteps = module.Task.SEGMENTATION, "ae"
    assert widget._request().mirror is True


def test_the_panel_passes_its_slice_thickness_to_methods_that_model_the_acquisition(module):
    widget = module.MedSRWidget()
    p = widget._parameterNode = module.MedSRParameterNode()
    widget._methods = {m.name: m for m in module.MedSRLogic().methods("sr")}
    p.method, p.sliceThickness = "self", 3.5
    assert widget._request().sliceThicknessMm == 3.5
    p.sliceThickness = 0.0  # the header's, else the spacing: nothing asked
    assert widget._request().sliceThicknessMm is None
    p.method, p.sliceThickness, p.dataConsistency = "bspline", 3.5, False  # a pure interpolation models nothing
    assert widget._request().sliceThicknessMm is None
    p.dataConsistency = True
    assert widget._request().sliceThicknessMm == 3.5
    p.task = module.Task.ENHANCEMENT
    assert widget._request().sliceThicknessMm is None
    p.task, p.method = module.Task.SEGMENTATION, "brain-tissue"  # a segmentation models it only when it super-resolves
    assert widget._request().sliceThicknessMm is None
    p.superResolveFirst = True
    assert widget._request().sliceThicknessMm == 3.5


@pytest.mark.parametrize("option", ["superResolveFirst", "probabilityMaps"])
def test_the_panel_asks_for_segmentation_options_only_when_segmenting(module, option):
    widget = module.MedSRWidget()
    p = widget._parameterNode = module.MedSRParameterNode()
    setattr(p, option, True)
    assert getattr(widget._request(), option) is False  # the default task is super-resolution
    p.task, p.method = module.Task.SEGMENTATION, "brain-tissue"
    request = widget._request()
    assert request.task == "segment" and getattr(request, option) is True


def test_logic_has_a_parameter_node(module):
    logic = module.MedSRLogic()
    wrapped = logic.getParameterNode()
    assert wrapped.parameterNode.IsA("vtkMRMLScriptedModuleNode") and wrapped.scale == 2.0
    assert logic.temporaryFolder and Path(logic.temporaryFolder).is_dir()  # slicer.app.temporaryPath


def test_module_self_test_runs_the_real_flow(module):
    """MedSRTest is what Slicer's ctest runs; here it drives the same logic and child process."""
    import unittest

    result = unittest.TestResult()
    module.MedSRTest("runTest").run(result)
    assert result.wasSuccessful(), result.errors + result.failures
    assert result.testsRun == 1


# --- what gets built and installed -----------------------------------------------------------------------------
def test_module_cmake_lists_every_file_of_the_module():
    cmake = (MODULE / "CMakeLists.txt").read_text().replace("${MODULE_NAME}", "MedSR")
    listed = set(re.findall(r"^\s+(\S+\.(?:py|png|ui|txt))\s*$", cmake, re.M))
    present = {str(p.relative_to(MODULE)) for p in MODULE.rglob("*") if p.is_file()
               and "__pycache__" not in p.parts and p.name != "CMakeLists.txt"}
    assert listed == present
    assert "slicerMacroBuildScriptedModule(" in cmake and "WITH_GENERIC_TESTS" in cmake
    assert "slicer_add_python_unittest(SCRIPT MedSR.py)" in cmake


def test_extension_cmake_declares_the_extension_and_installs_medsrlib():
    cmake = (support.REPOSITORY / "CMakeLists.txt").read_text()
    for variable in ("CATEGORY", "CONTRIBUTORS", "DESCRIPTION"):
        assert re.search(rf'set\(EXTENSION_{variable} "[^"]+"\)', cmake), variable
    for variable in ("HOMEPAGE", "ICONURL", "SCREENSHOTURLS"):  # declared, empty until the project has an address
        assert re.search(rf'set\(EXTENSION_{variable} "[^"]*"\)', cmake), variable
    assert 'set(EXTENSION_DEPENDS "PyTorch")' in cmake
    order = ["find_package(Slicer REQUIRED)", "include(${Slicer_USE_FILE})", "add_subdirectory(MedSR)",
             "MedSRLib/*.py", "Resources/SampleData/*", "${Slicer_INSTALL_QTSCRIPTEDMODULES_LIB_DIR}",
             "include(${Slicer_EXTENSION_GENERATE_CONFIG})", "include(${Slicer_EXTENSION_CPACK})"]
    positions = [cmake.index(text) for text in order]
    assert positions == sorted(positions)
    # once filled, the icon and screenshot addresses name files of this repository
    for url in re.findall(r'set\(EXTENSION_(?:ICONURL|SCREENSHOTURLS) "([^"]+)"\)', cmake):
        assert (support.REPOSITORY / url.split("/main/", 1)[1]).is_file(), url


def test_icon_is_a_128_pixel_png():
    data = (MODULE / "Resources" / "Icons" / "MedSR.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(data[16:20], "big") == int.from_bytes(data[20:24], "big") == 128


# --- dependencies: declared, checked without importing, never replacing Slicer's own -------------------------------
def test_requirements_leave_slicers_packages_alone(tmp_path):
    from MedSRLogicLib import install

    requirements = MODULE / "Resources" / "requirements.txt"
    names = [re.split(r"[<>=!~; \[]", line)[0].lower() for line in install.requirementLines(requirements)]
    assert names and not set(names) & {p.lower() for p in install.PROTECTED}
    assert install.missingRequirements(requirements) == []  # this test environment has them all
    pins = dict(line.split("==") for line in install.constraintLines())
    assert {"numpy", "SimpleITK", "vtk", "torch"} <= set(pins)
    fake = tmp_path / "requirements.txt"
    fake.write_text("# comment\nnumpy>=1\nmedsr-no-such-package>=1.0  # trailing comment\nscipy<0.1\n")
    assert install.missingRequirements(fake) == ["medsr-no-such-package>=1.0", "scipy<0.1"]


def test_requirements_cover_every_medsrlib_dependency_slicer_lacks():
    """What `pip install MedSRLib` needs, Slicer must get on first Apply (minus what Slicer and PyTorch bring)."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    from MedSRLogicLib import install

    project = tomllib.loads((MODULE.parent / "pyproject.toml").read_text())["project"]
    needed = {re.split(r"[<>=!~; \[]", d)[0].lower() for d in project["dependencies"]} - {"numpy", "simpleitk", "torch"}
    listed = {re.split(r"[<>=!~; \[]", line)[0].lower() for line in install.requirementLines(MODULE / "Resources" / "requirements.txt")}
    assert needed <= listed, needed - listed


def test_no_invented_addresses_in_the_extension_metadata_or_help():
    """The project has no public address yet: the metadata leaves URLs empty, the help points at the shipped README."""
    root = MODULE.parent
    for path in (root / "CMakeLists.txt", MODULE / "CMakeLists.txt", SOURCE, root / "README.md"):
        assert not re.findall(r"https?://\S*medsr\S*", path.read_text(), flags=re.IGNORECASE), path
    assert re.search(r'set\(EXTENSION_HOMEPAGE ""\)', (root / "CMakeLists.txt").read_text())
    assert "README.md" in (root / "CMakeLists.txt").read_text() and "README.md" in SOURCE.read_text()
