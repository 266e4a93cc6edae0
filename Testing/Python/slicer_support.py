"""Support for the Slicer-module tests (test_slicer_*.py).

MRML is real: slicer-core's ``vtkMRMLScene``, volume, label-map and segmentation nodes, storage nodes and
Segmentations logic. Stand-ins exist only for what slicer-core lacks (the Qt application and the
scripted-module framework): ``qt``, ``ctk``, ``slicer.ScriptedLoadableModule``,
``slicer.parameterNodeWrapper``, ``slicer.i18n``, ``slicer.app``, the
``slicer.modules.segmentations.logic`` accessor and ``slicer.dicomDatabase`` (CTK's DICOM database), installed at the import boundary and removed afterwards.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import sys
import tempfile
import types
import typing
import unittest
from pathlib import Path

import numpy as np

REPOSITORY = Path(__file__).resolve().parents[2]
MODULE_FOLDER = REPOSITORY / "MedSR"
SAMPLE_FOLDER = REPOSITORY / "Resources" / "SampleData"
#: a 48^3 block through the ventricles and cortex of the MNI T1 (i, j, k lower and upper bounds)
CROP = ((70, 80, 60), (118, 128, 108))

if str(MODULE_FOLDER) not in sys.path:
    sys.path.insert(0, str(MODULE_FOLDER))

import slicer  # noqa: E402  (slicer-core)
import slicer.util  # noqa: E402,F401


# --- scenes -------------------------------------------------------------------------------------------------
class SceneLogics:
    """A real scene with the application, Colors and Segmentations logics that Slicer would attach to it."""

    def __init__(self):
        self.scene = slicer.vtkMRMLScene()
        self.application = slicer.vtkSlicerApplicationLogic()
        self.application.SetMRMLScene(self.scene)
        self.colors = slicer.vtkSlicerColorLogic()
        self.colors.SetMRMLApplicationLogic(self.application)
        self.colors.SetMRMLScene(self.scene)
        self.application.SetModuleLogic("Colors", self.colors)
        self.segmentations = slicer.vtkSlicerSegmentationsModuleLogic()
        self.segmentations.SetMRMLApplicationLogic(self.application)
        self.segmentations.SetMRMLScene(self.scene)


@contextlib.contextmanager
def current_scene(logics: SceneLogics):
    """Make ``logics.scene`` slicer.mrmlScene, and its Segmentations logic the one slicer.modules hands out."""
    saved = {name: getattr(slicer, name, None) for name in ("mrmlScene", "modules")}
    slicer.mrmlScene = logics.scene
    slicer.modules = types.SimpleNamespace(segmentations=types.SimpleNamespace(logic=lambda: logics.segmentations))
    try:
        yield logics.scene
    finally:
        for name, value in saved.items():
            if value is None:
                delattr(slicer, name)
            else:
                setattr(slicer, name, value)


class DicomDatabase:
    """Stands in for the application's ``slicer.dicomDatabase`` (a ctkDICOMDatabase, Qt): ``instanceValue`` answers
    with the tags of the instances it holds, as the database does for a series it indexed; "" for what it lacks."""

    def __init__(self, instances: dict):
        self.instances = instances

    def instanceValue(self, uid: str, tag: str) -> str:
        return self.instances.get(uid, {}).get(tag, "")


@contextlib.contextmanager
def dicom_database(instances: dict):
    """``slicer.dicomDatabase`` holding ``instances`` ({SOP instance UID: {"gggg,eeee": value}}) for the block."""
    slicer.dicomDatabase = DicomDatabase(instances)
    try:
        yield slicer.dicomDatabase
    finally:
        del slicer.dicomDatabase


# --- the real sample data ---------------------------------------------------------------------------------------
def read_sample(name: str):
    """(array in (k, j, i) order, IJK-to-RAS) of a sample volume, read by Slicer's own volume reader."""
    node = slicer.vtkMRMLScalarVolumeNode()
    storage = slicer.vtkMRMLVolumeArchetypeStorageNode()
    storage.SetFileName(str(SAMPLE_FOLDER / f"mni_icbm152_{name}.nii.gz"))
    storage.SetSingleFile(True)
    assert storage.ReadData(node), f"could not read the {name} sample"
    return np.array(slicer.util.arrayFromVolume(node)), ijk_to_ras(node)


def crop(array_kji: np.ndarray, matrix: np.ndarray, lower=CROP[0], upper=CROP[1]):
    """The block lower <= (i, j, k) < upper, with the matrix moved so that every voxel stays where it was."""
    block = array_kji[lower[2]:upper[2], lower[1]:upper[1], lower[0]:upper[0]]
    moved = matrix.copy()
    moved[:3, 3] = (matrix @ np.array([*lower, 1.0]))[:3]
    return np.ascontiguousarray(block), moved


def oblique_matrix(spacing=(0.9, 1.1, 1.3), origin=(-12.345678, 23.456789, -34.567891)) -> np.ndarray:
    """An oblique, anisotropic IJK-to-RAS with an awkward origin."""
    from scipy.spatial.transform import Rotation

    matrix = np.eye(4)
    matrix[:3, :3] = Rotation.from_euler("xyz", [17.0, -11.0, 29.0], degrees=True).as_matrix() * np.asarray(spacing)
    matrix[:3, 3] = origin
    return matrix


def add_volume(scene, array_kji: np.ndarray, matrix: np.ndarray, name: str, node_class: str = "vtkMRMLScalarVolumeNode"):
    """A volume node added to ``scene`` the way a user's loaded data would be."""
    previous = getattr(slicer, "mrmlScene", None)
    slicer.mrmlScene = scene
    try:
        return slicer.util.addVolumeFromArray(np.ascontiguousarray(array_kji), ijkToRAS=matrix, name=name, nodeClassName=node_class)
    finally:
        slicer.mrmlScene = previous


def ijk_to_ras(node) -> np.ndarray:
    import vtk

    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    return slicer.util.arrayFromVTKMatrix(matrix)


def snapshot(node):
    """What must not change about an input node: name, voxels, geometry, transform, storage."""
    return (node.GetName(), np.array(slicer.util.arrayFromVolume(node)), ijk_to_ras(node),
            node.GetTransformNodeID(), node.GetStorageNodeID())


def assert_unchanged(node, before) -> None:
    after = snapshot(node)
    assert after[0] == before[0]
    np.testing.assert_array_equal(after[1], before[1])
    np.testing.assert_array_equal(after[2], before[2])
    assert after[3:] == before[3:]


# --- stand-ins for the application and the scripted-module framework ---------------------------------------
@dataclasses.dataclass
class WithinRange:
    minimum: float
    maximum: float


@dataclasses.dataclass
class Choice:
    choices: tuple


def _parameter_node_wrapper(cls):
    """Stand-in for slicer.parameterNodeWrapper.parameterNodeWrapper: typed fields with their defaults."""
    hints = typing.get_type_hints(cls, include_extras=True)
    defaults = {name: getattr(cls, name, None) for name in hints}

    def __init__(self, parameterNode=None):
        self.parameterNode = parameterNode
        for name, value in defaults.items():
            setattr(self, name, value)

    cls.__init__ = __init__
    cls.allParameters = hints
    return cls


class _ScriptedLoadableModule:
    def __init__(self, parent):
        self.parent = parent


class _ScriptedLoadableModuleWidget:
    def __init__(self, parent=None):
        self.parent = parent


class _ScriptedLoadableModuleLogic:
    def __init__(self, parent=None):
        name = type(self).__name__
        self.moduleName = name[: -len("Logic")] if name.endswith("Logic") else name

    def getParameterNode(self):
        node = slicer.mrmlScene.GetSingletonNode(self.moduleName, "vtkMRMLScriptedModuleNode")
        if node is None:
            node = slicer.vtkMRMLScriptedModuleNode()
            node.SetSingletonTag(self.moduleName)
            node.SetName(self.moduleName)
            node.SetParameter("ModuleName", self.moduleName)
            slicer.mrmlScene.AddNode(node)
        return node


class _ScriptedLoadableModuleTest(unittest.TestCase):
    def delayDisplay(self, message, msec=None):
        pass

    def runTest(self):  # the module's test overrides it
        pass


def _module(name: str, **attributes) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attributes)
    return module


STAND_IN_NAMES = ("qt", "ctk", "slicer.ScriptedLoadableModule", "slicer.parameterNodeWrapper", "slicer.i18n")


@contextlib.contextmanager
def module_stand_ins():
    """Import-boundary stand-ins for what slicer-core lacks; anything real that exists is left alone."""
    added = {}
    candidates = {
        "qt": _module("qt", QTimer=object, Qt=types.SimpleNamespace(ToolTipRole=3)),
        "ctk": _module("ctk"),
        "slicer.ScriptedLoadableModule": _module(
            "slicer.ScriptedLoadableModule", ScriptedLoadableModule=_ScriptedLoadableModule,
            ScriptedLoadableModuleWidget=_ScriptedLoadableModuleWidget, ScriptedLoadableModuleLogic=_ScriptedLoadableModuleLogic,
            ScriptedLoadableModuleTest=_ScriptedLoadableModuleTest),
        "slicer.parameterNodeWrapper": _module(
            "slicer.parameterNodeWrapper", parameterNodeWrapper=_parameter_node_wrapper, WithinRange=WithinRange, Choice=Choice),
        "slicer.i18n": _module("slicer.i18n", tr=lambda text: text, translate=lambda context, text: text),
    }
    for name, module in candidates.items():
        if name not in sys.modules and not _exists(name):
            sys.modules[name] = added[name] = module
    had_app = hasattr(slicer, "app")
    temporary = tempfile.TemporaryDirectory(prefix="medsr-app-")
    if not had_app:
        slicer.app = types.SimpleNamespace(temporaryPath=temporary.name, layoutManager=lambda: None)
    try:
        yield
    finally:
        for name in added:
            sys.modules.pop(name, None)
        if not had_app:
            del slicer.app
        temporary.cleanup()


def _exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False
