"""Scene volume nodes <-> files and MedSRLib volumes, and where new nodes go.

Slicer's arrays (``slicer.util.arrayFromVolume``) are in (k, j, i) order and its world is RAS; a MedSRLib
``Volume`` is in (i, j, k) order with its ``Grid`` in LPS. Only ``Grid.from_ijk_to_ras`` / ``Grid.ijk_to_ras``
cross that line, so geometry is never rebuilt by hand here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import slicer
import vtk


def ijkToRas(volumeNode) -> np.ndarray:
    matrix = vtk.vtkMatrix4x4()
    volumeNode.GetIJKToRASMatrix(matrix)
    return slicer.util.arrayFromVTKMatrix(matrix)


def dimensions(volumeNode) -> tuple:
    """Voxels along (i, j, k)."""
    imageData = volumeNode.GetImageData()
    if imageData is None:
        raise ValueError(f"volume {volumeNode.GetName()!r} has no voxels")
    return tuple(int(n) for n in imageData.GetDimensions())


def gridOf(volumeNode):
    """The MedSRLib ``Grid`` (LPS) of a volume node, from its IJK-to-RAS matrix."""
    from MedSRLib import Grid

    return Grid.from_ijk_to_ras(ijkToRas(volumeNode), dimensions(volumeNode))


def volumeFromNode(volumeNode, modality: Optional[str] = None):
    """A MedSRLib ``Volume`` with a copy of the node's voxels, in (i, j, k) order."""
    from MedSRLib import Volume

    array = np.array(slicer.util.arrayFromVolume(volumeNode)).transpose(2, 1, 0)
    if modality is None:
        modality = "CT" if array.size and array.min() <= -900 else "MR"
    return Volume(array, gridOf(volumeNode), modality=modality, metadata={"source": volumeNode.GetName()})


def nodeFromVolume(volume, name: str, scene=None, nodeClass: str = "vtkMRMLScalarVolumeNode"):
    """A new volume node in ``scene`` holding ``volume`` with its exact geometry."""
    array = volume.array.astype(np.uint8) if volume.array.dtype == np.bool_ else volume.array
    node = _newNode(nodeClass)
    node.SetName(name)
    node.SetIJKToRASMatrix(slicer.util.vtkMatrixFromArray(volume.grid.ijk_to_ras()))
    imageData = vtk.vtkImageData()
    imageData.SetDimensions(*volume.grid.size)
    imageData.AllocateScalars(_vtkType(array.dtype), 1)
    node.SetAndObserveImageData(imageData)
    slicer.util.updateVolumeFromArray(node, np.ascontiguousarray(array.transpose(2, 1, 0)))
    (scene or slicer.mrmlScene).AddNode(node)
    node.CreateDefaultDisplayNodes()
    return node


#: DICOM Slice Thickness and MR Acquisition Type, as the DICOM database names its tags
DICOM_SLICE_THICKNESS = "0018,0050"
DICOM_MR_ACQUISITION_TYPE = "0018,0023"
#: the NRRD key under which MedSRLib keeps the acquisition type (MedSRLib.volume.ACQUISITION_TYPE_KEY, prefixed as
#: its writer prefixes metadata)
NRRD_ACQUISITION_TYPE = "MedSR_mr_acquisition_type"


def writeVolumeNode(volumeNode, path: Path) -> Path:
    """Write the node's voxels and geometry to ``path`` (NRRD) without attaching a storage node to it; a volume loaded
    from DICOM also takes its series' Slice Thickness along, as the header's ``thicknesses``, and its MR Acquisition
    Type (2-D slices or a 3-D volume), as MedSR's own key (the file alone would lose both; MedSRLib reads them there
    as from any NRRD: slices thinner or thicker than their spacing, a 3-D acquisition's k-space profile); so does a
    volume loaded from a NIfTI with a BIDS sidecar beside it, which says the same."""
    storage = slicer.vtkMRMLVolumeArchetypeStorageNode()
    storage.SetFileName(str(path))
    storage.SetUseCompression(False)  # a scratch file read once: speed over size
    if not storage.WriteData(volumeNode) or not Path(path).exists():
        raise OSError(f"could not write {volumeNode.GetName()!r} to {path}")
    fields = {}
    thickness = dicomSliceThicknessMm(volumeNode)
    if thickness is None:  # a NIfTI loaded with dcm2niix's BIDS sidecar beside it
        thickness = sidecarSliceThicknessMm(volumeNode)
    acquisitionType = acquisitionTypeOf(volumeNode)
    if thickness is not None:
        fields["thicknesses: "] = f"NaN NaN {thickness:.6g}"
    if acquisitionType is not None:
        fields[NRRD_ACQUISITION_TYPE + ":="] = acquisitionType
    if fields:
        _recordHeaderFields(Path(path), fields)
    return Path(path)


def _dicomValue(volumeNode, tag: str) -> Optional[str]:
    """The first value the DICOM database holds for ``tag`` of the series the node was loaded from, or None: not
    loaded from DICOM, no database, or nothing there."""
    uids = (volumeNode.GetAttribute("DICOM.instanceUIDs") or "").split()
    database = getattr(slicer, "dicomDatabase", None)
    if not uids or database is None:
        return None
    try:
        value = str(database.instanceValue(uids[0], tag)).split("\\")[0].strip()
    except RuntimeError:
        return None
    return value or None


def dicomSliceThicknessMm(volumeNode) -> Optional[float]:
    """The Slice Thickness (mm) the DICOM database holds for the series the node was loaded from (its slices stack
    along k), or None: not loaded from DICOM, no database, or no usable figure."""
    try:
        value = float(_dicomValue(volumeNode, DICOM_SLICE_THICKNESS) or "")
    except ValueError:
        return None
    return value if np.isfinite(value) and value > 0 else None


def dicomAcquisitionType(volumeNode) -> Optional[str]:
    """"2D" or "3D", the MR Acquisition Type of the series the node was loaded from, or None."""
    from MedSRLib.acquisition_type import parse_type

    return parse_type(_dicomValue(volumeNode, DICOM_MR_ACQUISITION_TYPE) or "")


def acquisitionTypeOf(volumeNode) -> Optional[str]:
    """"2D" or "3D" as the DICOM database says for the node's series, else as the BIDS sidecar of the NIfTI it was
    loaded from says (MedSRLib reads it as from the file itself), else None."""
    from MedSRLib.acquisition_type import type_from_header

    source = _sourceFile(volumeNode)
    return dicomAcquisitionType(volumeNode) or (type_from_header(source, {}, False) if source else None)


def sidecarSliceThicknessMm(volumeNode) -> Optional[float]:
    """The SliceThickness (mm) of the BIDS sidecar beside the NIfTI the node was loaded from, for k, as MedSRLib
    reads it from the file itself (MedSRLib.slice_thickness: only while k is still the coarsest axis; Slicer keeps a
    file's voxel axes as they are), else None. A NRRD source's own thicknesses are not taken: Slicer does not keep
    them either."""
    from MedSRLib.slice_thickness import from_sidecar, sidecar_axis_is_slices, thickness_from_header

    source = _sourceFile(volumeNode)
    if source is None or not from_sidecar(source, False) or not sidecar_axis_is_slices(volumeNode.GetSpacing()):
        return None
    return thickness_from_header(source, {}, False).get(2)


def _sourceFile(volumeNode) -> Optional[Path]:
    """The file the node was loaded from (its storage node's), or None."""
    storage = volumeNode.GetStorageNode()
    fileName = storage.GetFileName() if storage is not None else None
    return Path(fileName) if fileName else None


def _recordHeaderFields(path: Path, fields: dict) -> None:
    """Set ``fields`` ({"key: " or "key:=": value}) in the header of the uncompressed NRRD at ``path``, replacing
    any line with the same key."""
    data = path.read_bytes()
    end = data.find(b"\n\n")
    if not data.startswith(b"NRRD") or end < 0:
        raise OSError(f"{path} is not the NRRD file expected")
    keys = tuple(key.strip().encode().lower() for key in fields)
    lines = [line for line in data[:end].split(b"\n") if not line.lower().startswith(keys)]
    lines += [f"{key}{value}".encode() for key, value in fields.items()]
    path.write_bytes(b"\n".join(lines) + data[end:])


def readVolumeFile(path: Path, nodeClass: str = "vtkMRMLScalarVolumeNode"):
    """A new volume node, not yet in any scene, holding the file's voxels and geometry."""
    node = _newNode(nodeClass)
    storage = slicer.vtkMRMLVolumeArchetypeStorageNode()
    storage.SetFileName(str(path))
    storage.SetSingleFile(True)  # never gather similarly named files in the folder into a series
    if not storage.ReadData(node) or node.GetImageData() is None:
        raise OSError(f"could not read the volume in {path}")
    return node


def cropVolumeNode(volumeNode, lower: Sequence[int], upper: Sequence[int], name: str, scene=None):
    """A new node holding voxels ``lower`` <= (i, j, k) < ``upper`` of ``volumeNode``, at the same world place."""
    lower, upper = np.asarray(lower, int), np.asarray(upper, int)
    array = slicer.util.arrayFromVolume(volumeNode)[lower[2]:upper[2], lower[1]:upper[1], lower[0]:upper[0]]
    matrix = ijkToRas(volumeNode)
    matrix[:3, 3] = (matrix @ np.append(lower, 1.0))[:3]
    node = _newNode(volumeNode.GetClassName())
    node.SetName(name)
    node.SetIJKToRASMatrix(slicer.util.vtkMatrixFromArray(matrix))
    imageData = vtk.vtkImageData()
    imageData.SetDimensions(*(upper - lower))
    imageData.AllocateScalars(volumeNode.GetImageData().GetScalarType(), 1)
    node.SetAndObserveImageData(imageData)
    slicer.util.updateVolumeFromArray(node, np.ascontiguousarray(array))
    (scene or volumeNode.GetScene()).AddNode(node)
    node.CreateDefaultDisplayNodes()
    return node


def addBeside(resultNode, inputNode, scene) -> None:
    """Add ``resultNode`` to the scene next to ``inputNode``: same parent transform, same subject-hierarchy folder.

    All or nothing: if placing it fails, the node is taken out of the scene again.
    """
    scene.AddNode(resultNode)
    try:
        resultNode.SetAndObserveTransformNodeID(inputNode.GetTransformNodeID())
        resultNode.CreateDefaultDisplayNodes()
        placeBeside(resultNode, inputNode, scene)
    except Exception:
        removeNode(resultNode, scene)
        raise


def removeNode(node, scene) -> None:
    """Take ``node`` and the display nodes made for it out of ``scene``."""
    displayNodes = [node.GetNthDisplayNode(i) for i in range(node.GetNumberOfDisplayNodes())] if hasattr(node, "GetNumberOfDisplayNodes") else []
    scene.RemoveNode(node)
    for displayNode in displayNodes:
        if displayNode is not None and displayNode.GetScene() is scene:
            scene.RemoveNode(displayNode)


def placeBeside(resultNode, inputNode, scene) -> None:
    """Put ``resultNode`` in the subject-hierarchy folder of ``inputNode``, where there is a hierarchy to honour."""
    hierarchy = scene.GetSubjectHierarchyNode() if hasattr(scene, "GetSubjectHierarchyNode") else None
    if hierarchy is None:
        return
    inputItem = hierarchy.GetItemByDataNode(inputNode)
    if not inputItem:
        return
    parent = hierarchy.GetItemParent(inputItem)
    resultItem = hierarchy.GetItemByDataNode(resultNode) or hierarchy.CreateItem(parent, resultNode)
    hierarchy.SetItemParent(resultItem, parent)


def showInSliceViews(volumeNode) -> None:
    """Show the result in the slice views when there are any (the application with a main window)."""
    app = getattr(slicer, "app", None)
    layoutManager = getattr(app, "layoutManager", None)
    if layoutManager is None or layoutManager() is None:
        return
    if volumeNode.IsA("vtkMRMLLabelMapVolumeNode"):
        slicer.util.setSliceViewerLayers(label=volumeNode)
    else:
        slicer.util.setSliceViewerLayers(background=volumeNode, fit=True)


def showSideBySide(inputNode, resultNode) -> None:
    """The input in the left (red) view and the result in the right (yellow) one, slices linked, when there is a
    main window: the compare view of a super-resolution."""
    app = getattr(slicer, "app", None)
    layoutManager = getattr(app, "layoutManager", None)
    if layoutManager is None or layoutManager() is None:
        return
    layoutManager().setLayout(slicer.vtkMRMLLayoutNode.SlicerLayoutSideBySideView)
    for view, node in (("Red", inputNode), ("Yellow", resultNode)):
        widget = layoutManager().sliceWidget(view)
        composite = widget.mrmlSliceCompositeNode()
        composite.SetBackgroundVolumeID(node.GetID())
        composite.SetLinkedControl(True)
        widget.sliceLogic().FitSliceToAll()


def centreViewsOn(segmentationNode) -> None:
    """Every slice view centred on the segmentation's bounding box, when there is a main window."""
    app = getattr(slicer, "app", None)
    layoutManager = getattr(app, "layoutManager", None)
    if layoutManager is None or layoutManager() is None:
        return
    bounds = [0.0] * 6
    segmentationNode.GetRASBounds(bounds)
    centre = [(bounds[2 * a] + bounds[2 * a + 1]) / 2 for a in range(3)]
    for name in layoutManager().sliceViewNames():
        layoutManager().sliceWidget(name).mrmlSliceNode().JumpSliceByCentering(*centre)


def _newNode(nodeClass: str):
    if not nodeClass.startswith("vtkMRML") or not hasattr(slicer, nodeClass):
        raise ValueError(f"not a volume node class: {nodeClass!r}")
    return getattr(slicer, nodeClass)()


_VTK_TYPES = {
    np.dtype(np.uint8): vtk.VTK_UNSIGNED_CHAR, np.dtype(np.int8): vtk.VTK_SIGNED_CHAR,
    np.dtype(np.uint16): vtk.VTK_UNSIGNED_SHORT, np.dtype(np.int16): vtk.VTK_SHORT,
    np.dtype(np.uint32): vtk.VTK_UNSIGNED_INT, np.dtype(np.int32): vtk.VTK_INT,
    np.dtype(np.uint64): vtk.VTK_UNSIGNED_LONG_LONG, np.dtype(np.int64): vtk.VTK_LONG_LONG,
    np.dtype(np.float32): vtk.VTK_FLOAT, np.dtype(np.float64): vtk.VTK_DOUBLE,
}


def _vtkType(dtype) -> int:
    try:
        return _VTK_TYPES[np.dtype(dtype)]
    except KeyError:
        raise ValueError(f"voxel type {dtype} has no VTK equivalent here") from None
