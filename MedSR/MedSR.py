"""MedSR: geometry-exact super-resolution and enhancement of volumes, as a 3D Slicer module.

This file is the Slicer face only: module description, panel, parameter node and self-test. The work is
done by MedSRLogicLib (Qt-free, runs MedSRLib in a child process) so that it can be scripted and tested
without the application.
"""

import enum
import os
from typing import Annotated, Optional

import qt
import slicer
import vtk
from slicer import vtkMRMLScalarVolumeNode
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

from MedSRLogicLib import BRAIN_MASK, CHAIN, ENHANCEMENT, SEGMENTATION, SUPER_RESOLUTION, ProcessingError, Request
from MedSRLogicLib import MedSRLogic as ProcessingLogic

#
# MedSR
#


class MedSR(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("MedSR")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Filtering")]
        self.parent.dependencies = []
        self.parent.contributors = ["MedSR developers"]
        self.parent.helpText = _(
            "Super-resolution, enhancement, brain extraction and brain tissue segmentation of volumes with their "
            "geometry kept exact: results are new volumes or segmentations covering the same field of view, placed "
            "beside the input. The processing runs in a separate process and can be cancelled. The documentation is "
            "README.md, installed with the extension beside the MedSRLib folder (section '3D Slicer extension').")
        self.parent.acknowledgementText = _(
            "Sample data: MNI ICBM152 2009a (McConnell Brain Imaging Centre); see Resources/SampleData/LICENSE.txt.")


#
# Parameter node
#


class Task(enum.Enum):
    SUPER_RESOLUTION = SUPER_RESOLUTION
    ENHANCEMENT = ENHANCEMENT
    CHAIN = CHAIN
    SEGMENTATION = SEGMENTATION
    BRAIN_MASK = BRAIN_MASK

    @staticmethod
    def label(value) -> str:
        return {Task.SUPER_RESOLUTION: _("Super-resolution"), Task.ENHANCEMENT: _("Enhancement"),
                Task.CHAIN: _("Enhancement, then super-resolution"), Task.SEGMENTATION: _("Segmentation"),
                Task.BRAIN_MASK: _("Brain mask")}[value]


class TargetMode(enum.Enum):
    SPACING = "spacing"
    SCALE = "scale"

    @staticmethod
    def label(value) -> str:
        return {TargetMode.SPACING: _("Voxel size (mm)"), TargetMode.SCALE: _("Scale factor")}[value]


class Device(enum.Enum):
    AUTO = "auto"
    GPU = "gpu"
    CPU = "cpu"

    @staticmethod
    def label(value) -> str:
        return {Device.AUTO: _("Automatic"), Device.GPU: _("GPU (CUDA)"), Device.CPU: _("CPU")}[value]


class SliceProfile(enum.Enum):
    OWN = "own"
    BOX = "box"
    GAUSSIAN = "gaussian"
    KSPACE = "kspace"

    @staticmethod
    def label(value) -> str:
        return {SliceProfile.OWN: _("From the header (k-space if 3-D, else box)"), SliceProfile.BOX: _("Box (2-D acquisition)"),
                SliceProfile.GAUSSIAN: _("Gaussian"), SliceProfile.KSPACE: _("k-space (3-D acquisition)")}[value]


def _sliceProfileApplies(method, dataConsistency: bool) -> bool:
    """Whether the scan's slice profile means anything to ``method`` (a MethodInfo): it learns from the scan, or it
    is an interpolation made consistent with the scan."""
    return bool(method and (method.supportsSliceProfile
                            or (method.supportsDataConsistency and not method.projectsItself and dataConsistency)))


Spacing = Annotated[float, WithinRange(0.01, 100.0)]


@parameterNodeWrapper
class MedSRParameterNode:
    """What the panel shows; ``method`` is set from the method list, which MedSRLib's registry fills."""

    inputVolume: vtkMRMLScalarVolumeNode
    task: Task = Task.SUPER_RESOLUTION
    method: str = "bspline"
    enhanceSteps: str = "n4,curvature-flow"
    targetMode: TargetMode = TargetMode.SPACING
    spacingI: Spacing = 1.0
    spacingJ: Spacing = 1.0
    spacingK: Spacing = 1.0
    scale: Annotated[float, WithinRange(1.0, 16.0)] = 2.0
    device: Device = Device.AUTO
    dataConsistency: bool = True
    uncertaintyMap: bool = False
    #: the scan's slice profile, for the methods that learn from the scan (and an interpolation's projection)
    sliceProfile: SliceProfile = SliceProfile.OWN
    #: how thick the scan's slices are along its coarsest axis (mm) where not their spacing; 0: the header's, else
    #: the spacing
    sliceThickness: Annotated[float, WithinRange(0.0, 100.0)] = 0.0
    referenceVolume: vtkMRMLScalarVolumeNode
    #: noise standard deviation for the learned denoisers, in the volume's units; 0: estimated from the volume
    noiseSigma: Annotated[float, WithinRange(0.0, 1.0e6)] = 0.0
    #: segmentation of a coarser scan: super-resolve it first and segment on the finer grid
    superResolveFirst: bool = False
    #: brain mask: also add the input with everything outside the brain set to zero
    maskedVolume: bool = False
    #: segmentation: also add each tissue's probability map as a volume
    probabilityMaps: bool = False
    #: the denoising autoencoder averages its eight mirrored passes (off: one pass, 8x faster)
    mirror: bool = True


#
# MedSRWidget
#


class MedSRWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._job = None
        self._methods = {}
        self._methodsTask = None

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/MedSR.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self.logic = MedSRLogic()
        self._timer = qt.QTimer()
        self._timer.setInterval(100)
        self._timer.connect("timeout()", self._pollJob)
        self.ui.progressBar.hide()

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
        self.ui.methodComboBox.connect("currentIndexChanged(int)", self._onMethodSelected)

        self.initializeParameterNode()

    def cleanup(self) -> None:
        if self._job is not None:
            self._job.cancel()
        self.removeObservers()

    def enter(self) -> None:
        self.initializeParameterNode()

    def exit(self) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateGUI)

    def onSceneStartClose(self, caller, event) -> None:
        if self._job is not None:
            self._job.cancel()
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.inputVolume:
            firstVolumeNode = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
            if firstVolumeNode:
                self._parameterNode.inputVolume = firstVolumeNode

    def setParameterNode(self, inputParameterNode: Optional[MedSRParameterNode]) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateGUI)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateGUI)
            self._updateGUI()

    # --- the panel follows the parameter node ------------------------------------------------------------------
    def _updateGUI(self, caller=None, event=None) -> None:
        p = self._parameterNode
        if p is None:
            return
        resampling = p.task in (Task.SUPER_RESOLUTION, Task.CHAIN)
        enhancing = p.task in (Task.ENHANCEMENT, Task.CHAIN)
        choosing = resampling or p.task == Task.SEGMENTATION
        bySpacing = p.targetMode == TargetMode.SPACING
        for widget, shown in ((self.ui.methodLabel, choosing), (self.ui.methodComboBox, choosing),
                              (self.ui.stepsLabel, enhancing), (self.ui.enhanceStepsLineEdit, enhancing),
                              (self.ui.noiseSigmaLabel, enhancing), (self.ui.noiseSigmaSpinBox, enhancing),
                              (self.ui.mirrorLabel, enhancing), (self.ui.mirrorCheckBox, enhancing),
                              (self.ui.superResolveFirstLabel, p.task == Task.SEGMENTATION),
                              (self.ui.superResolveFirstCheckBox, p.task == Task.SEGMENTATION),
                              (self.ui.maskedVolumeLabel, p.task == Task.BRAIN_MASK),
                              (self.ui.maskedVolumeCheckBox, p.task == Task.BRAIN_MASK),
                              (self.ui.probabilityMapsLabel, p.task == Task.SEGMENTATION),
                              (self.ui.probabilityMapsCheckBox, p.task == Task.SEGMENTATION),
                              (self.ui.targetLabel, resampling), (self.ui.targetModeComboBox, resampling),
                              (self.ui.spacingLabel, resampling and bySpacing), (self.ui.spacingWidget, resampling and bySpacing),
                              (self.ui.scaleLabel, resampling and not bySpacing), (self.ui.scaleSpinBox, resampling and not bySpacing)):
            widget.setVisible(shown)
        self._fillMethods()
        method = self._methods.get(p.method)
        self.ui.dataConsistencyCheckBox.enabled = bool(resampling and method and method.supportsDataConsistency)
        self.ui.uncertaintyCheckBox.enabled = bool(resampling and method and method.supportsUncertainty)
        self.ui.sliceProfileComboBox.enabled = self._sliceProfileApplies()
        self.ui.sliceThicknessSpinBox.enabled = self._sliceThicknessApplies()
        if self._job is None:
            self.ui.applyButton.enabled = bool(p.inputVolume)
            self.ui.applyButton.toolTip = _("Run the selected task") if p.inputVolume else _("Select an input volume")

    def _sliceProfileApplies(self) -> bool:
        """Whether the scan's slice profile means anything to the run the panel describes: a super-resolution method
        that learns from the scan or an interpolation made consistent with it, or a segmentation that super-resolves
        first."""
        p = self._parameterNode
        if p.task == Task.SEGMENTATION:
            return bool(p.superResolveFirst)
        return p.task in (Task.SUPER_RESOLUTION, Task.CHAIN) and _sliceProfileApplies(self._methods.get(p.method), p.dataConsistency)

    def _sliceThicknessApplies(self) -> bool:
        """Whether the scan's slice thickness means anything to the run the panel describes: a super-resolution
        method that models the acquisition (a learned one, or an interpolation made consistent with the scan), or a
        segmentation that super-resolves first."""
        p = self._parameterNode
        if p.task == Task.SEGMENTATION:
            return bool(p.superResolveFirst)
        method = self._methods.get(p.method)
        return bool(p.task in (Task.SUPER_RESOLUTION, Task.CHAIN) and method
                    and (method.family != "classical" or (method.supportsDataConsistency and p.dataConsistency)))

    def _fillMethods(self) -> None:
        """The methods MedSRLib registers for the task (their summary as tooltip); empty until it can be loaded."""
        task = SEGMENTATION if self._parameterNode.task == Task.SEGMENTATION else SUPER_RESOLUTION
        if self._methods and self._methodsTask == task:
            self._selectMethod()
            return
        try:
            self._methods = {m.name: m for m in self.logic.methods(task)}
            self._methodsTask = task
        except ProcessingError as error:
            self.ui.methodComboBox.toolTip = _("Methods appear once the dependencies are installed (press Apply): {error}").format(error=error)
            return
        wasBlocked = self.ui.methodComboBox.blockSignals(True)
        self.ui.methodComboBox.clear()
        for index, method in enumerate(self._methods.values()):
            self.ui.methodComboBox.addItem(method.name)
            self.ui.methodComboBox.setItemData(index, method.summary, qt.Qt.ToolTipRole)
        self.ui.methodComboBox.blockSignals(wasBlocked)
        if self._methods and self._parameterNode.method not in self._methods:
            self._parameterNode.method = next(iter(self._methods))  # the task changed: its first method
        self.ui.enhanceStepsLineEdit.toolTip = _("Comma-separated steps, run in order. Available: {steps}").format(
            steps="; ".join(f"{m.name} ({m.summary})" for m in self.logic.methods(ENHANCEMENT)))
        self._selectMethod()

    def _selectMethod(self) -> None:
        index = self.ui.methodComboBox.findText(self._parameterNode.method)
        if index >= 0 and index != self.ui.methodComboBox.currentIndex:
            self.ui.methodComboBox.currentIndex = index

    def _onMethodSelected(self, index: int) -> None:
        if self._parameterNode and index >= 0:
            self._parameterNode.method = self.ui.methodComboBox.itemText(index)

    # --- running ----------------------------------------------------------------------------------------------
    def onApplyButton(self) -> None:
        if self._job is not None:
            self._job.cancel()
            return
        with slicer.util.tryWithErrorDisplay(_("Failed to start processing."), waitCursor=True):
            from MedSRLogicLib.install import ensureDependencies

            ensureDependencies(self.resourcePath("requirements.txt"))
            self._methods = {}
            self._updateGUI()
            p = self._parameterNode
            self._setRunning(True)
            try:
                job = self.logic.start(p.inputVolume, self._request(), p.referenceVolume,
                                       onProgress=self._onProgress, onFinished=self._onFinished)
            except Exception:
                self._setRunning(False)
                raise
            if job.state == job.RUNNING:  # else _onFinished has already reported it
                self._job = job
                self._timer.start()

    def _request(self) -> Request:
        p = self._parameterNode
        resampling = p.task in (Task.SUPER_RESOLUTION, Task.CHAIN)
        enhancing = p.task in (Task.ENHANCEMENT, Task.CHAIN)
        steps = tuple(step.strip() for step in p.enhanceSteps.split(",") if step.strip())
        spacing = (p.spacingI, p.spacingJ, p.spacingK) if resampling and p.targetMode == TargetMode.SPACING else None
        scale = (p.scale,) * 3 if resampling and p.targetMode == TargetMode.SCALE else None
        return Request(task=p.task.value, method=p.method, steps=steps if enhancing else (),
                       spacing=spacing, scale=scale, device=p.device.value,
                       dataConsistency=resampling and p.dataConsistency, uncertainty=resampling and p.uncertaintyMap,
                       sliceProfile=p.sliceProfile.value if p.sliceProfile != SliceProfile.OWN and self._sliceProfileApplies()
                       else None,
                       sliceThicknessMm=p.sliceThickness if p.sliceThickness > 0 and self._sliceThicknessApplies() else None,
                       noiseSigma=p.noiseSigma if enhancing and p.noiseSigma > 0 else None,
                       superResolveFirst=p.task == Task.SEGMENTATION and p.superResolveFirst,
                       maskedVolume=p.task == Task.BRAIN_MASK and p.maskedVolume,
                       probabilityMaps=p.task == Task.SEGMENTATION and p.probabilityMaps,
                       mirror=not (enhancing and "ae" in steps) or p.mirror)

    def _pollJob(self) -> None:
        if self._job is not None:
            self._job.poll()

    def _onProgress(self, fraction: float, text: str) -> None:
        self.ui.progressBar.value = int(round(fraction * 1000))
        self.ui.statusLabel.text = text

    def _onFinished(self, job) -> None:
        self._timer.stop()
        self._job = None
        self._setRunning(False)
        self._showVolumes({})
        if job.state == job.DONE:
            self.ui.resultLabel.text = self._describe(job.result)
            self._showVolumes(job.result.volumesMl)
        elif job.state == job.CANCELLED:
            self.ui.resultLabel.text = _("Cancelled after {seconds:.1f} s; nothing was added.").format(seconds=job.seconds)
        else:
            self.ui.resultLabel.text = _("Failed: {error}").format(error=job.error)
        self._updateGUI()
        if job.state == job.FAILED:
            slicer.util.errorDisplay(_("Processing failed: {error}").format(error=job.error))

    def _setRunning(self, running: bool) -> None:
        self.ui.applyButton.text = _("Cancel") if running else _("Apply")
        self.ui.applyButton.toolTip = _("Stop processing; nothing is added") if running else _("Run the selected task")
        self.ui.applyButton.enabled = True
        self.ui.inputsCollapsibleButton.enabled = not running
        self.ui.advancedCollapsibleButton.enabled = not running
        self.ui.progressBar.setVisible(running)
        self.ui.progressBar.value = 0
        self.ui.statusLabel.text = _("Starting...") if running else ""
        if running:
            self.ui.resultLabel.text = ""

    def _showVolumes(self, volumesMl) -> None:
        """The volumes table of the last segmentation or brain mask (hidden for other results)."""
        table = self.ui.volumesTable
        table.setRowCount(len(volumesMl))
        table.setHorizontalHeaderLabels([_("Label"), _("Volume (mL)")])
        for row, (label, ml) in enumerate(volumesMl.items()):
            table.setItem(row, 0, qt.QTableWidgetItem(label))
            table.setItem(row, 1, qt.QTableWidgetItem(f"{ml:.1f}"))
        table.setVisible(bool(volumesMl))

    @staticmethod
    def _describe(result) -> str:
        text = _("{name} in {seconds:.1f} s.").format(name=result.node.GetName(), seconds=result.seconds)
        if result.metrics:
            whole, foreground = result.metrics["whole"], result.metrics["foreground"]
            text += " " + _("PSNR {psnr:.2f} dB, SSIM {ssim:.4f}; foreground PSNR {fpsnr:.2f} dB, SSIM {fssim:.4f}.").format(
                psnr=whole["psnr"], ssim=whole["ssim"], fpsnr=foreground["psnr"], fssim=foreground["ssim"])
        for note in result.notes:
            text += "\n" + note
        return text


#
# MedSRLogic
#


class MedSRLogic(ScriptedLoadableModuleLogic, ProcessingLogic):
    """The module's logic: MedSRLogicLib.MedSRLogic plus Slicer's parameter node.

    Usable from the Python console without the panel, e.g.
    ``slicer.util.getModuleLogic("MedSR").superResolve(volumeNode, spacing=(1, 1, 1))``.
    """

    def __init__(self, **options) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        ProcessingLogic.__init__(self, temporaryFolder=options.pop("temporaryFolder", _temporaryFolder()), **options)

    def getParameterNode(self):
        return MedSRParameterNode(super().getParameterNode())


def _temporaryFolder() -> Optional[str]:
    app = getattr(slicer, "app", None)
    path = getattr(app, "temporaryPath", None)
    return path if isinstance(path, str) and os.path.isdir(path) else None


#
# MedSRTest
#


class MedSRTest(ScriptedLoadableModuleTest):
    """Runs the real flow (child process included) on a crop of the bundled MNI T1."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_MedSR_superResolution()
        self.setUp()
        self.test_MedSR_cancel()

    def _sampleCrop(self):
        from MedSRLib.sample_data import sample_path
        from MedSRLogicLib import nodes

        self.delayDisplay("Loading the sample T1")
        volume = nodes.readVolumeFile(sample_path("t1"))
        volume.SetName("T1")
        slicer.mrmlScene.AddNode(volume)
        return nodes.cropVolumeNode(volume, (70, 80, 60), (118, 128, 108), "T1 crop")

    def test_MedSR_superResolution(self):
        import numpy as np
        from MedSRLogicLib import nodes

        crop = self._sampleCrop()
        before = np.array(slicer.util.arrayFromVolume(crop)), nodes.ijkToRas(crop)
        self.delayDisplay("Super-resolving to 0.5 x 0.5 x 2 mm")
        result = MedSRLogic().superResolve(crop, spacing=(0.5, 0.5, 2.0), method="bspline")
        expected = nodes.gridOf(crop).with_spacing((0.5, 0.5, 2.0))
        self.assertEqual(result.GetName(), "T1 crop SR bspline 0.5x0.5x2mm")
        self.assertEqual(nodes.dimensions(result), expected.size)
        np.testing.assert_allclose(nodes.ijkToRas(result), expected.ijk_to_ras(), atol=1e-9)
        np.testing.assert_array_equal(slicer.util.arrayFromVolume(crop), before[0])
        np.testing.assert_array_equal(nodes.ijkToRas(crop), before[1])
        self.delayDisplay("Test passed")

    def test_MedSR_cancel(self):
        crop = self._sampleCrop()
        count = slicer.mrmlScene.GetNumberOfNodes()
        started = []  # cancel on the first progress the child reports, i.e. while it computes
        job = MedSRLogic().start(crop, Request(scale=(4.0, 4.0, 4.0)), onProgress=lambda f, t: started and started[0].cancel())
        started.append(job)
        with self.assertRaises(ProcessingError):
            job.wait(timeout=120)
        self.assertEqual(job.state, job.CANCELLED)
        self.assertEqual(slicer.mrmlScene.GetNumberOfNodes(), count)
        self.assertFalse(job.folder.exists())
        self.delayDisplay("Test passed")
