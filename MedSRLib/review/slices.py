"""The pictures of `medsr view`: one slice of a volume in world orientation, window/level applied and the label
map blended over it, encoded as PNG by VTK's imaging pipeline (no OpenGL: it runs on servers without a display).

A :class:`SliceSource` holds a case resampled once onto an axis-aligned grid (see :mod:`.mosaic`: the patient's
right on the left of the picture, anterior up in axial, superior up in coronal and sagittal), so every slice the
page asks for is a cut of that grid, linked across the volume, its label map and the compared volume.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import numpy as np

from .mosaic import AXIS_OF_VIEW, VIEWS, display_window, labelled_extent, on_world_grid, view_slice, world_aligned_grid
from .report import Case

#: the grid the page cuts is at most this many voxels along each axis (a 0.5 mm CT is shown at a coarser step)
MOST_VOXELS_PER_AXIS = 384


@dataclass
class SliceSource:
    case: Case
    image: Optional[np.ndarray]
    labels: Optional[np.ndarray]
    compare: Optional[np.ndarray]
    spacing: float
    origin: Tuple[float, float, float]
    window: Tuple[float, float]
    range: Tuple[float, float]

    @classmethod
    def from_case(cls, case: Case) -> "SliceSource":
        reference = case.image if case.image is not None else case.labels
        grid = reference.grid
        extent = np.asarray(grid.size) * np.asarray(grid.spacing)
        step = max(min(grid.spacing), float(extent.max()) / MOST_VOXELS_PER_AXIS)
        world = world_aligned_grid(grid, step)
        image = on_world_grid(case.image, world) if case.image is not None else None
        labels = on_world_grid(case.labels, world, labels=True) if case.labels is not None else None
        compare = on_world_grid(case.compare, world) if case.compare is not None else None
        window = display_window(image) if image is not None else (0.0, 1.0)
        shown = image if image is not None else np.zeros(1)
        return cls(case, image, labels, compare, step, tuple(world.origin), window,
                   (float(shown.min()), float(shown.max())))

    @property
    def shape(self) -> Tuple[int, int, int]:
        return (self.image if self.image is not None else self.labels).shape

    def count(self, view: str) -> int:
        return self.shape[AXIS_OF_VIEW[view]]

    def middle(self, view: str) -> int:
        """The slice through the middle of the labels when there are any, else through the middle of the volume."""
        extent = labelled_extent(self.labels, view)
        return (extent[0] + extent[1]) // 2 if extent else self.count(view) // 2

    def position_mm(self, view: str, index: int) -> float:
        """The slice's RAS coordinate (R for sagittal, A for coronal, S for axial), in mm."""
        axis = AXIS_OF_VIEW[view]
        lps = self.origin[axis] + index * self.spacing
        return -lps if axis < 2 else lps

    def picture(self, view: str, index: int, window: Tuple[float, float], opacity: float = 0.45,
                compared: bool = False) -> bytes:
        """The PNG of slice ``index`` of ``view``: the volume (or the compared one) through ``window``, the labels
        over it at ``opacity``."""
        if view not in VIEWS:
            raise ValueError(f"no view {view!r}; the views are {', '.join(VIEWS)}")
        index = int(np.clip(index, 0, self.count(view) - 1))
        volume = self.compare if compared else self.image
        grey = view_slice(volume, view, index) if volume is not None else None
        labels = view_slice(self.labels, view, index) if self.labels is not None else None
        return render_png(grey, labels, self.case.colours, window, opacity)


def render_png(grey: Optional[np.ndarray], labels: Optional[np.ndarray], colours: Dict[int, Tuple[int, int, int]],
               window: Tuple[float, float], opacity: float) -> bytes:
    """``grey`` (rows top to bottom) mapped through ``window`` by vtkImageMapToWindowLevelColors, ``labels``
    coloured by a vtkLookupTable and blended over it by vtkImageBlend, written by vtkPNGWriter."""
    from vtkmodules.util.numpy_support import numpy_to_vtk
    from vtkmodules.vtkCommonCore import vtkLookupTable
    from vtkmodules.vtkCommonDataModel import vtkImageData
    from vtkmodules.vtkImagingColor import vtkImageMapToWindowLevelColors
    from vtkmodules.vtkImagingCore import vtkImageBlend, vtkImageMapToColors
    from vtkmodules.vtkIOImage import vtkPNGWriter

    def image_data(picture: np.ndarray) -> vtkImageData:
        rows, columns = picture.shape
        data = vtkImageData()
        data.SetDimensions(columns, rows, 1)
        # VTK's rows run bottom to top, the picture's top to bottom
        data.GetPointData().SetScalars(numpy_to_vtk(np.ascontiguousarray(picture[::-1]).ravel(), deep=True))
        return data

    shape = (grey if grey is not None else labels).shape
    low, high = float(window[0]), float(window[1])
    greys = vtkImageMapToWindowLevelColors()
    greys.SetInputData(image_data(grey.astype(np.float32) if grey is not None else np.zeros(shape, np.float32)))
    greys.SetWindow(max(high - low, 1e-6))
    greys.SetLevel((high + low) / 2.0)
    greys.SetOutputFormatToRGB()
    greys.Update()
    output = greys.GetOutputPort()
    if labels is not None and colours:
        table = vtkLookupTable()
        top = max(max(colours), int(labels.max()), 1)
        table.SetNumberOfTableValues(top + 1)
        table.SetTableRange(0, top)
        for value in range(top + 1):
            rgb = colours.get(value)
            table.SetTableValue(value, *((np.asarray(rgb, float) / 255.0).tolist() if rgb else (0.0, 0.0, 0.0)),
                                1.0 if (rgb is not None and value > 0) else 0.0)
        table.Build()
        coloured = vtkImageMapToColors()
        coloured.SetLookupTable(table)
        coloured.SetOutputFormatToRGBA()
        coloured.SetInputData(image_data(labels.astype(np.int32)))
        blend = vtkImageBlend()
        blend.AddInputConnection(output)
        blend.AddInputConnection(coloured.GetOutputPort())
        blend.SetOpacity(1, float(np.clip(opacity, 0.0, 1.0)))
        output = blend.GetOutputPort()
    writer = vtkPNGWriter()
    writer.SetInputConnection(output)
    writer.WriteToMemoryOn()
    writer.Write()
    result = writer.GetResult()
    return bytes(memoryview(result)) if result is not None else b""
