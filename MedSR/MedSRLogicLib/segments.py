"""Label maps -> segmentation nodes, with the segment names and colours the method gave."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Mapping, Optional, Sequence, Tuple

import slicer

Colour = Tuple[float, float, float]


def segmentationLogic():
    """Slicer's Segmentations module logic (the application provides it)."""
    return slicer.modules.segmentations.logic()


def segmentationFromLabelMap(labelMapNode, names: Optional[Mapping[int, str]] = None,
                             colours: Optional[Mapping[int, Colour]] = None, name: Optional[str] = None,
                             scene=None, referenceVolumeNode=None):
    """A new segmentation node with one segment per non-zero label of ``labelMapNode``.

    ``names`` and ``colours`` (RGB in [0, 1]) are keyed by label value; labels missing from them keep
    the names and colours Slicer gives on import. The label map node itself is left as it was, and
    it need not be in the scene (a method's output is read straight from its file).
    """
    from .nodes import removeNode

    colours = {int(label): _checkColour(colour, label) for label, colour in (colours or {}).items()}
    scene = scene or slicer.mrmlScene
    segmentationNode = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", name or f"{labelMapNode.GetName()} segmentation")
    try:
        segmentationNode.CreateDefaultDisplayNodes()
        if referenceVolumeNode is not None:
            segmentationNode.SetReferenceImageGeometryParameterFromVolumeNode(referenceVolumeNode)
        if not segmentationLogic().ImportLabelmapToSegmentationNode(labelMapNode, segmentationNode):
            raise RuntimeError(f"could not import label map {labelMapNode.GetName()!r} as segments")
        segmentation = segmentationNode.GetSegmentation()
        for index in range(segmentation.GetNumberOfSegments()):
            segment = segmentation.GetNthSegment(index)
            label = int(segment.GetLabelValue())
            if names and label in names:
                segment.SetName(names[label])
            if label in colours:
                segment.SetColor(*colours[label])
    except Exception:
        removeNode(segmentationNode, scene)
        raise
    return segmentationNode


def segmentLabels(segmentationNode) -> Sequence[Tuple[str, int, Colour]]:
    """(name, label value, colour) of every segment, in order."""
    segmentation = segmentationNode.GetSegmentation()
    result = []
    for index in range(segmentation.GetNumberOfSegments()):
        segment = segmentation.GetNthSegment(index)
        result.append((segment.GetName(), int(segment.GetLabelValue()), tuple(segment.GetColor())))
    return result


def readColourTable(path) -> Tuple[Optional[Dict[int, str]], Optional[Dict[int, Colour]]]:
    """Names and colours (RGB in [0, 1]) by label from a Slicer colour table file (``index name R G B A`` lines,
    0-255, underscores for spaces); label 0 (background) is left out. (None, None) when there is no file."""
    path = Path(path)
    if not path.exists():
        return None, None
    names, colours = {}, {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) != 6:
            raise ValueError(f"{path.name} line {number}: expected 'index name R G B A', got {line!r}")
        label = int(fields[0])
        if label != 0:
            names[label] = fields[1].replace("_", " ")
            colours[label] = tuple(int(c) / 255.0 for c in fields[2:5])
    return names, colours


def _checkColour(colour, label: int) -> Colour:
    colour = tuple(float(c) for c in colour)
    if len(colour) != 3 or not all(0.0 <= c <= 1.0 for c in colour):
        raise ValueError(f"colour of label {label} must be 3 values in [0, 1], got {colour}")
    return colour
