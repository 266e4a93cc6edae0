"""MedSRLogic: super-resolution, enhancement, brain masks and tissue segmentation of scene volumes.

Qt-free and application-free, so plain Python with ``slicer-core`` drives exactly what the module runs.
The work itself runs in a child process (MedSRLib's `medsr` command line with ``--progress lines``, on
files in a temporary folder; job.py runs it), so the caller's thread stays free; only writing the input and
reading the result happen in-thread. A run adds one new node (named after the input and the operation) when,
and only when, it succeeded; the input node is only read.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import slicer

from . import nodes
from .job import Job, ProcessingError, ProgressCallback, Result, Step
from .process import MEDSR_ARGUMENTS, ProcessRunner, SubprocessRunner, python_command

SUPER_RESOLUTION, ENHANCEMENT, CHAIN, SEGMENTATION, BRAIN_MASK = "sr", "enhance", "chain", "segment", "strip"
TASKS = (SUPER_RESOLUTION, ENHANCEMENT, CHAIN, SEGMENTATION, BRAIN_MASK)
DEVICES = ("auto", "gpu", "cpu")
_CLI_DEVICES = {"auto": "auto", "gpu": "cuda", "cpu": "cpu"}


@dataclass(frozen=True)
class MethodInfo:
    """What the panel needs to know about one MedSRLib method."""

    name: str
    task: str
    summary: str
    family: str = "classical"
    supportsDataConsistency: bool = False
    supportsUncertainty: bool = False
    projectsItself: bool = False  # learned methods project with their own slice profile
    supportsSliceProfile: bool = False  # methods that learn from the scan itself are told its slice profile


@dataclass(frozen=True)
class Request:
    """One run: ``task`` is sr, enhance, chain (enhancement steps, then super-resolution), segment or strip (brain mask).

    Super-resolution needs exactly one of ``spacing`` (mm, per i, j, k axis) or ``scale`` (voxels per
    input voxel, per axis); MedSRLib's resampling contract decides the exact grid.
    """

    task: str = SUPER_RESOLUTION
    method: str = "bspline"
    steps: Tuple[str, ...] = ()
    spacing: Optional[Tuple[float, float, float]] = None
    scale: Optional[Tuple[float, float, float]] = None
    device: str = "auto"
    dataConsistency: bool = True
    uncertainty: bool = False
    #: the scan's slice profile, "box", "gaussian" or "kspace" (`medsr sr --slice-profile`); None: not given (`self` and
    #: `adapt` assume a box, a pretrained network its model's)
    sliceProfile: Optional[str] = None
    #: how thick the scan's slices are along its coarsest axis, mm, where not their spacing (`medsr sr
    #: --slice-thickness`); None: the header's, else the spacing
    sliceThicknessMm: Optional[float] = None
    showResult: bool = True
    #: noise standard deviation (the volume's units) for the learned denoisers; None: estimated from the volume
    noiseSigma: Optional[float] = None
    #: segmentation: super-resolve a coarser input onto the model's grid first (`medsr segment --sr`, the `auto`
    #: method) and make the segments on that finer grid
    superResolveFirst: bool = False
    #: the denoising autoencoder (ae) averages its eight mirrored passes; False: one pass, 8x faster (`--no-mirror`)
    mirror: bool = True
    #: segmentation: the input is a skull-stripped brain already, label it as it is (`--skull-stripped`); else the
    #: brain is extracted first
    skullStripped: bool = False
    #: brain mask: also add the input with everything outside the brain set to zero (`medsr strip --masked`)
    maskedVolume: bool = False
    #: segmentation: also add each tissue's probability map as a volume (`medsr segment --probabilities`)
    probabilityMaps: bool = False


class MedSRLogic:
    """Runs MedSRLib on scene volumes.

    ``runner`` starts the child process (default: ``subprocess``; inject another to control it in tests
    or to use QProcess); ``python`` is the interpreter command (default: PythonSlicer inside Slicer, else
    this Python); ``temporaryFolder`` is where each run makes (and always removes) its scratch folder.

    >>> logic = MedSRLogic()                                               # doctest: +SKIP
    >>> sr = logic.superResolve(volumeNode, spacing=(1, 1, 1), method="bspline")  # doctest: +SKIP
    >>> sr.GetName()                                                       # doctest: +SKIP
    'T1 SR bspline 1x1x1mm'
    """

    def __init__(self, scene=None, runner: Optional[ProcessRunner] = None, python: Optional[Sequence[str]] = None,
                 temporaryFolder=None):
        self._scene = scene
        self.runner = runner or SubprocessRunner()
        self.python = [python] if isinstance(python, str) else list(python or python_command())
        self.temporaryFolder = temporaryFolder

    @property
    def scene(self):
        return self._scene if self._scene is not None else slicer.mrmlScene

    # --- what MedSRLib offers ------------------------------------------------------------------------------
    @staticmethod
    def methods(task: str) -> List[MethodInfo]:
        """The registered methods for ``task`` (``chain`` lists the super-resolution ones); [] for a task MedSRLib lacks."""
        registry = _registry()
        task = SUPER_RESOLUTION if task == CHAIN else task
        if task not in registry.TASKS:
            return []
        return [_info(method) for method in registry.methods(task)]

    # --- one call, one new node ------------------------------------------------------------------------------
    def superResolve(self, volumeNode, spacing=None, scale=None, method: str = "bspline", referenceNode=None, **options):
        """A new volume: ``volumeNode`` on the finer grid of ``spacing`` (mm) or ``scale``, same field of view."""
        request = Request(SUPER_RESOLUTION, method, (), _triple(spacing), _triple(scale), **options)
        return self.run(volumeNode, request, referenceNode).node

    def enhance(self, volumeNode, steps: Sequence[str], referenceNode=None, **options):
        """A new volume: ``volumeNode`` after the enhancement ``steps`` in order (e.g. ``["n4", "curvature-flow"]``)."""
        request = Request(ENHANCEMENT, "", tuple(steps), **options)
        return self.run(volumeNode, request, referenceNode).node

    def chain(self, volumeNode, steps: Sequence[str], spacing=None, scale=None, method: str = "bspline",
              referenceNode=None, **options):
        """A new volume: enhancement ``steps``, then super-resolution (one node; the intermediate stays on disk)."""
        request = Request(CHAIN, method, tuple(steps), _triple(spacing), _triple(scale), **options)
        return self.run(volumeNode, request, referenceNode).node

    def segment(self, volumeNode, method: str, **options):
        """A new segmentation node from a MedSRLib segmentation method (e.g. ``brain-tissue``)."""
        return self.run(volumeNode, Request(SEGMENTATION, method, **options)).node

    def stripBrain(self, volumeNode, **options):
        """A new segmentation node ``<input> brain mask`` (one segment, ``brain``) on the input's grid; with
        ``maskedVolume=True`` the result's ``maskedNode`` is the input with everything outside the brain zeroed."""
        return self.run(volumeNode, Request(BRAIN_MASK, "", **options))

    def run(self, volumeNode, request: Request, referenceNode=None, timeout: Optional[float] = None) -> Result:
        return self.start(volumeNode, request, referenceNode).wait(timeout)

    # --- the asynchronous form the panel uses ---------------------------------------------------------------
    def start(self, volumeNode, request: Request, referenceNode=None, onProgress: Optional[ProgressCallback] = None,
              onFinished: Optional[Callable[[Job], None]] = None) -> Job:
        """Check the request, write the inputs and start the child process; raises ``ProcessingError`` if it cannot."""
        plan = self._plan(volumeNode, request, referenceNode)
        folder = Path(tempfile.mkdtemp(prefix="MedSR-", dir=self.temporaryFolder))
        try:
            nodes.writeVolumeNode(volumeNode, folder / "input.nrrd")
            if referenceNode is not None:
                nodes.writeVolumeNode(referenceNode, folder / "reference.nrrd")
            job = Job(plan.steps, lambda outputs, notes: plan.finish(folder, outputs, notes), self.runner,
                      self.python + MEDSR_ARGUMENTS, _environment(request.device), folder, onProgress, onFinished)
            job.inputName = volumeNode.GetName()
        except Exception as error:
            shutil.rmtree(folder, ignore_errors=True)
            raise ProcessingError(f"could not prepare the run: {error}") from None
        return job.start()

    # --- planning ---------------------------------------------------------------------------------------------
    def _plan(self, volumeNode, request: Request, referenceNode) -> "_Plan":
        _checkVolume(volumeNode, "input")
        if request.task not in TASKS:
            raise ProcessingError(f"unknown task {request.task!r}; choose one of {', '.join(TASKS)}")
        if request.device not in DEVICES:
            raise ProcessingError(f"unknown device {request.device!r}; choose one of {', '.join(DEVICES)}")
        if request.noiseSigma is not None and request.task not in (ENHANCEMENT, CHAIN):
            task = "segmentation" if request.task == SEGMENTATION else "super-resolution"
            raise ProcessingError(f"a noise level is for the learned denoisers of enhancement, not for {task}")
        if not request.mirror and request.task not in (ENHANCEMENT, CHAIN):
            raise ProcessingError("turning mirroring off is an option of the denoising autoencoder (ae) of enhancement")
        if request.superResolveFirst and request.task != SEGMENTATION:
            raise ProcessingError("super-resolving first is an option of segmentation; for super-resolution itself choose "
                                  "the super-resolution task")
        if request.skullStripped and request.task != SEGMENTATION:
            raise ProcessingError("'skull-stripped already' is an option of segmentation")
        if request.maskedVolume and request.task != BRAIN_MASK:
            raise ProcessingError("the masked volume is an option of the brain mask task")
        if request.sliceProfile and request.task == SEGMENTATION and not request.superResolveFirst:
            raise ProcessingError("a slice profile is for super-resolution: segmentation uses it when it super-resolves first")
        if request.sliceThicknessMm is not None and request.task not in (SUPER_RESOLUTION, CHAIN) and not (
                request.task == SEGMENTATION and request.superResolveFirst):
            raise ProcessingError("a slice thickness is for super-resolution: segmentation uses it when it super-resolves first")
        if request.probabilityMaps and request.task != SEGMENTATION:
            raise ProcessingError("tissue probability maps are an option of segmentation")
        if request.task == BRAIN_MASK:
            if referenceNode is not None:
                raise ProcessingError("a reference volume is for image results; the brain mask task makes a segmentation")
            return self._planBrainMask(volumeNode, request)
        registry = _registry()
        from MedSRLib import MedSRError

        try:
            if request.task == SEGMENTATION:
                return self._planSegmentation(volumeNode, request, registry)
            return self._planChecked(volumeNode, request, referenceNode, registry)
        except MedSRError as error:
            raise ProcessingError(str(error)) from None

    def _planChecked(self, volumeNode, request: Request, referenceNode, registry) -> "_Plan":
        grid = nodes.gridOf(volumeNode)
        steps: List[Step] = []
        planNotes: List[str] = []
        name = volumeNode.GetName()
        source = "input.nrrd"
        if request.task in (ENHANCEMENT, CHAIN):
            if not request.steps:
                raise ProcessingError("give at least one enhancement step")
            families = [_info(registry.get(ENHANCEMENT, step)).family for step in request.steps]
            output = "enhanced.nrrd" if request.task == CHAIN else "output.nrrd"
            arguments = ["enhance", source, output, "--steps", ",".join(request.steps), "--device", _CLI_DEVICES[request.device]]
            if request.noiseSigma is not None:
                if not request.noiseSigma > 0:
                    raise ProcessingError(f"the noise level must be a positive number, not {request.noiseSigma:g}")
                if "learned" not in families:
                    raise ProcessingError("a noise level is for the learned denoisers (denoise, ae); none of the steps is one")
                arguments += ["--noise-sigma", repr(float(request.noiseSigma))]
            if not request.mirror:
                if "ae" not in request.steps:
                    raise ProcessingError("turning mirroring off is for the denoising autoencoder (ae); none of the steps is it")
                arguments += ["--no-mirror"]
            steps.append(Step("enhance", f"Enhancement ({', '.join(request.steps)})", arguments))
            source, name = output, f"{name} enhanced {'+'.join(request.steps)}"
        if request.task in (SUPER_RESOLUTION, CHAIN):
            method = _info(registry.get(SUPER_RESOLUTION, request.method))
            inputSize = grid.size
            grid = self._targetGrid(grid, request)
            arguments = ["sr", source, "output.nrrd", "--method", method.name, "--device", _CLI_DEVICES[request.device]]
            if request.spacing is not None:
                arguments += ["--spacing", *(repr(float(s)) for s in request.spacing)]
            else:
                arguments += ["--scale", *(repr(float(s)) for s in request.scale)]
            finer = all(n >= m for n, m in zip(grid.size, inputSize))
            # a 3-D acquisition: its k-space profile (the learned methods read it from the file's header)
            headerProfile = "kspace" if nodes.acquisitionTypeOf(volumeNode) == "3D" else None
            arguments += _capabilities(method, request, finer, headerProfile)
            if headerProfile and request.sliceProfile is None and request.dataConsistency and finer \
                    and not method.projectsItself:
                planNotes.append("data consistency with the k-space profile: the volume's DICOM series or BIDS sidecar "
                                 "says a 3-D acquisition")
            if request.dataConsistency and method.supportsDataConsistency and not finer:
                planNotes.append("data consistency skipped: the output is coarser than the input along some axis")
            steps.append(Step("sr", f"Super-resolution ({method.name})", arguments))
            name = f"{name} SR {method.name} {_mm(grid.spacing)}mm"
        if referenceNode is not None:
            _checkVolume(referenceNode, "reference")
            referenceGrid = nodes.gridOf(referenceNode)
            if not grid.matches(referenceGrid):
                raise ProcessingError(
                    f"reference {referenceNode.GetName()!r} is not on the result's grid "
                    f"({grid.describe_difference(referenceGrid)}); choose the reference's spacing as the target")
            steps.append(Step("eval", "Metrics against the reference",
                               ["eval", "reference.nrrd", "output.nrrd", "--kind", "image", "--json"], weight=0.25))
        return _Plan(steps, self._volumeFinisher(volumeNode, request, self.scene.GenerateUniqueName(name), planNotes))

    @staticmethod
    def _targetGrid(grid, request: Request):
        from MedSRLib.geometry import spacing_after

        if (request.spacing is None) == (request.scale is None):
            raise ProcessingError("give either a target spacing or a scale for super-resolution")
        return spacing_after(grid, request.spacing, request.scale)

    def _volumeFinisher(self, volumeNode, request: Request, name: str, planNotes: List[str] = ()):
        scene, inputName = self.scene, volumeNode.GetName()
        resultClass = "vtkMRMLLabelMapVolumeNode" if volumeNode.IsA("vtkMRMLLabelMapVolumeNode") else "vtkMRMLScalarVolumeNode"

        def finish(folder: Path, outputs: Dict[str, str], notes: List[str]) -> Result:
            if volumeNode.GetScene() is not scene:
                raise ProcessingError(f"the input {inputName!r} left the scene while it was processed")
            metrics = json.loads(outputs["eval"]) if "eval" in outputs else None
            node = nodes.readVolumeFile(folder / "output.nrrd", resultClass)
            node.SetName(name)
            node.SetAttribute("MedSR.input", volumeNode.GetID())
            node.SetAttribute("MedSR.request", json.dumps(_asDict(request)))
            if metrics is not None:
                node.SetAttribute("MedSR.metrics", json.dumps(metrics))
            nodes.addBeside(node, volumeNode, scene)
            uncertainty = None
            if request.uncertainty:
                uncertainty = nodes.readVolumeFile(folder / "uncertainty.nrrd", "vtkMRMLScalarVolumeNode")
                uncertainty.SetName(scene.GenerateUniqueName(f"{name} uncertainty"))
                uncertainty.SetAttribute("MedSR.input", volumeNode.GetID())
                nodes.addBeside(uncertainty, volumeNode, scene)
            if request.showResult:
                _showQuietly(node, compareWith=volumeNode if request.task in (SUPER_RESOLUTION, CHAIN) else None)
            return Result(node, metrics=metrics, notes=list(planNotes) + notes, uncertaintyNode=uncertainty)

        return finish

    def _planSegmentation(self, volumeNode, request: Request, registry) -> "_Plan":
        if SEGMENTATION not in registry.TASKS or not registry.methods(SEGMENTATION):
            raise ProcessingError("this MedSRLib has no segmentation methods yet; super-resolution and enhancement are available")
        method = _info(registry.get(SEGMENTATION, request.method))
        # `medsr segment` writes the label map and, beside it, a Slicer colour table (.ctbl) naming the labels
        arguments = ["segment", "input.nrrd", "output.nrrd", "--model", method.name, "--device", _CLI_DEVICES[request.device]]
        if request.superResolveFirst:
            arguments.append("--sr")
            if request.sliceProfile:  # the scan's, for the super-resolution that learns from it
                arguments += ["--slice-profile", request.sliceProfile]
            if request.sliceThicknessMm is not None:
                arguments += ["--slice-thickness", f"{request.sliceThicknessMm:g}"]
        if request.skullStripped:
            arguments.append("--skull-stripped")
        if request.probabilityMaps:
            arguments.append("--probabilities")
        step = Step("segment", f"Segmentation ({method.name}{', super-resolved first' if request.superResolveFirst else ''})", arguments)
        scene, name = self.scene, self.scene.GenerateUniqueName(f"{volumeNode.GetName()} segmentation {method.name}")

        def finish(folder: Path, outputs: Dict[str, str], notes: List[str]) -> Result:
            from .segments import readColourTable, segmentationFromLabelMap

            labelMap = nodes.readVolumeFile(folder / "output.nrrd", "vtkMRMLLabelMapVolumeNode")
            labelMap.SetName(name)
            names, colours = readColourTable(folder / "output.ctbl")
            # on the super-resolved grid the segments keep the label map's finer geometry, else the input's
            reference = labelMap if request.superResolveFirst else volumeNode
            segmentation = segmentationFromLabelMap(labelMap, names, colours, name, scene, referenceVolumeNode=reference)
            probabilityNodes = {}
            try:
                nodes.placeBeside(segmentation, volumeNode, scene)
                if request.probabilityMaps:
                    from MedSRLib.io.formats import probability_map_path

                    for tissue in (label for index, label in sorted((names or {}).items()) if index != 0):
                        node = nodes.readVolumeFile(probability_map_path(folder / "output.nrrd", tissue), "vtkMRMLScalarVolumeNode")
                        node.SetName(scene.GenerateUniqueName(f"{name} {tissue} probability"))
                        node.SetAttribute("MedSR.input", volumeNode.GetID())
                        nodes.addBeside(node, volumeNode, scene)
                        probabilityNodes[tissue] = node
            except Exception:
                for node in [segmentation] + list(probabilityNodes.values()):
                    nodes.removeNode(node, scene)
                raise
            volumes = folder / "output.volumes.json"  # `medsr segment` writes the volume of every label beside it
            volumesMl = {}
            if volumes.exists():
                summary = json.loads(volumes.read_text())
                if summary.get("intracranial_ml") is not None:
                    volumesMl["intracranial (brain mask)"] = float(summary["intracranial_ml"])
                volumesMl.update({k: float(v) for k, v in summary["volumes_ml"].items()})
                if summary.get("super_resolved_by"):
                    notes = notes + [f"super-resolved first by {summary['super_resolved_by']}"]
                if summary.get("intracranial_ml") is not None:
                    notes = notes + [f"brain mask ({summary.get('brain_mask')}): {summary['intracranial_ml']:.1f} mL"]
                notes = _fieldOfViewWarning(summary.get("brain_evidence", {})) + notes
                if summary.get("bias_field_corrected"):
                    notes = notes + ["N4 bias-field correction inside the brain mask before labelling"]
                fit = summary.get("intensity_model")
                if fit:
                    notes = notes + ["intensity model applied" if fit["applied"] else f"intensity model not applied: {fit['reason']}"]
                    if fit["applied"] and fit.get("prior"):
                        notes = notes + [f"intensity model prior: {fit['prior']}"]
                    if fit["applied"] and fit.get("csf_prior_scale", 1.0) != 1.0:
                        from MedSRLib.methods.intensity_model import csf_weighing_note

                        notes = notes + [csf_weighing_note(fit["csf_prior_scale"], fit.get("csf_separation"))]
                notes = notes + [f"{label}: {ml:.1f} mL" for label, ml in summary["volumes_ml"].items()]
            if request.showResult:
                _showQuietly(segmentation)
            return Result(segmentation, notes=notes, volumesMl=volumesMl, probabilityNodes=probabilityNodes)

        return _Plan([step], finish)


    def _planBrainMask(self, volumeNode, request: Request) -> "_Plan":
        arguments = ["strip", "input.nrrd", "output.nrrd", "--device", _CLI_DEVICES[request.device]]
        if request.maskedVolume:
            arguments += ["--masked", "masked.nrrd"]
        step = Step("strip", "Brain mask (atlas registration)", arguments)
        scene, inputName = self.scene, volumeNode.GetName()
        name = scene.GenerateUniqueName(f"{inputName} brain mask")

        def finish(folder: Path, outputs: Dict[str, str], notes: List[str]) -> Result:
            from .segments import segmentationFromLabelMap

            if volumeNode.GetScene() is not scene:
                raise ProcessingError(f"the input {inputName!r} left the scene while it was processed")
            labelMap = nodes.readVolumeFile(folder / "output.nrrd", "vtkMRMLLabelMapVolumeNode")
            labelMap.SetName(name)
            segmentation = segmentationFromLabelMap(labelMap, {1: "brain"}, {1: (1.0, 0.75, 0.3)}, name, scene,
                                                    referenceVolumeNode=volumeNode)
            masked = None
            try:
                nodes.placeBeside(segmentation, volumeNode, scene)
                if request.maskedVolume:
                    masked = nodes.readVolumeFile(folder / "masked.nrrd", "vtkMRMLScalarVolumeNode")
                    masked.SetName(scene.GenerateUniqueName(f"{inputName} brain"))
                    masked.SetAttribute("MedSR.input", volumeNode.GetID())
                    nodes.addBeside(masked, volumeNode, scene)
            except Exception:
                nodes.removeNode(segmentation, scene)
                raise
            report = json.loads((folder / "output.strip.json").read_text())
            notes = notes + [f"intracranial volume {report['intracranial_ml']:.1f} mL"]
            if report.get("evidence", {}).get("mask_from"):
                notes = notes + [f"mask from the {report['evidence']['mask_from']}"]
            if report.get("evidence", {}).get("contrast"):
                notes = notes + [f"contrast read from the image: {report['evidence']['contrast']}"]
            notes = _fieldOfViewWarning(report.get("evidence", {})) + notes
            if request.showResult:
                _showQuietly(segmentation)
            return Result(segmentation, notes=notes, maskedNode=masked,
                          volumesMl={"intracranial (brain mask)": float(report["intracranial_ml"])})

        return _Plan([step], finish)


def _fieldOfViewWarning(evidence: Dict) -> List[str]:
    """["warning: ..."] when the brain extraction's evidence says the field of view cuts the brain, else []."""
    from MedSRLib.strip.field_of_view import warning_of

    warning = warning_of(evidence)
    return [f"warning: {warning}"] if warning else []


@dataclass
class _Plan:
    steps: List[Step]
    finish: Callable[[Path, Dict[str, str], List[str]], Result]


def medsrlibFolder() -> Path:
    """The folder that holds the MedSRLib package (found without importing it)."""
    spec = importlib.util.find_spec("MedSRLib")
    if spec is None or not spec.submodule_search_locations:
        raise ProcessingError("MedSRLib is not installed beside the MedSR module")
    return Path(list(spec.submodule_search_locations)[0]).resolve().parent


def _environment(device: str) -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(medsrlibFolder()), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"  # what process.py decodes, whatever the platform's console uses
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""  # learned methods then cannot see a GPU, whatever they default to
    return env


def _registry():
    try:
        from MedSRLib.methods import registry
    except ImportError as error:
        raise ProcessingError(f"MedSRLib cannot be loaded ({error}); its Python dependencies are missing") from None
    return registry


def _info(method) -> MethodInfo:
    options = getattr(method, "options", {}) or {}
    return MethodInfo(name=method.name, task=method.task, summary=method.summary, family=getattr(method, "family", "classical"),
                      # `medsr sr --data-consistency` projects the output of any super-resolution method
                      supportsDataConsistency=method.task == SUPER_RESOLUTION,
                      supportsUncertainty=bool(getattr(method, "uncertainty", False) or "uncertainty" in options),
                      projectsItself="data_consistency" in options,
                      supportsSliceProfile="profile" in options)


def _capabilities(method: MethodInfo, request: Request, finer: bool = True, headerProfile: Optional[str] = None) -> List[str]:
    """Command-line options for data consistency, the slice profile and the uncertainty map. Consistency needs an
    output at least as fine as the input on every axis; otherwise it is left off (the result then has no residual
    note). A slice profile goes to the methods that learn from the scan, and is the profile an interpolation is
    projected with; not given, an interpolation is projected with ``headerProfile`` (a DICOM series acquired in 3-D:
    kspace), else a box."""
    arguments = []
    profileOfProjection = False
    if request.dataConsistency and method.supportsDataConsistency and not finer:
        arguments += ["--data-consistency", "off"]
    elif request.dataConsistency:
        if not method.supportsDataConsistency:
            raise ProcessingError(f"method {method.name!r} has no data-consistency option")
        # learned methods know the slice profile they were trained for; for interpolation the scan's profile when
        # given, else contiguous slices, each voxel the mean of what it covers
        profileOfProjection = not method.projectsItself and request.sliceProfile is not None
        arguments += ["--data-consistency", "auto" if method.projectsItself else (request.sliceProfile or headerProfile or "box")]
    elif method.supportsDataConsistency:
        arguments += ["--data-consistency", "off"]
    if request.sliceProfile is not None and not profileOfProjection:
        if not method.supportsSliceProfile:
            raise ProcessingError(f"method {method.name!r} assumes its own slice profile; self, adapt and auto are told the scan's")
        arguments += ["--slice-profile", request.sliceProfile]
    if request.sliceThicknessMm is not None:
        if method.family == "classical" and not (request.dataConsistency and finer):
            raise ProcessingError(f"method {method.name!r} does not model the scan's acquisition; a slice thickness is "
                                  "for the learned methods and an interpolation made consistent")
        arguments += ["--slice-thickness", f"{request.sliceThicknessMm:g}"]
    if request.uncertainty:
        if not method.supportsUncertainty:
            raise ProcessingError(f"method {method.name!r} gives no uncertainty map")
        arguments += ["--uncertainty", "uncertainty.nrrd"]
    return arguments


def _checkVolume(volumeNode, what: str) -> None:
    if volumeNode is None or not volumeNode.IsA("vtkMRMLScalarVolumeNode"):
        raise ProcessingError(f"the {what} must be a scalar volume node")
    imageData = volumeNode.GetImageData()
    if imageData is None:
        raise ProcessingError(f"the {what} {volumeNode.GetName()!r} has no voxels")
    if imageData.GetNumberOfScalarComponents() != 1:
        raise ProcessingError(f"the {what} {volumeNode.GetName()!r} has {imageData.GetNumberOfScalarComponents()} components per voxel; MedSR needs one")


def _showQuietly(node, compareWith=None) -> None:
    """Show a result: a volume in the slice views (beside ``compareWith``, slices linked, when given), a
    segmentation by centring the views on it."""
    try:
        if node.IsA("vtkMRMLSegmentationNode"):
            nodes.centreViewsOn(node)
        elif compareWith is not None:
            nodes.showSideBySide(compareWith, node)
        else:
            nodes.showInSliceViews(node)
    except Exception as error:  # showing is a courtesy; the result is already in the scene
        import logging

        logging.warning("MedSR: could not show %s: %s", node.GetName(), error)


def _triple(values) -> Optional[Tuple[float, float, float]]:
    if values is None:
        return None
    if isinstance(values, (int, float)):
        return (float(values),) * 3
    values = tuple(float(v) for v in values)
    if len(values) == 1:
        return values * 3
    if len(values) != 3:
        raise ProcessingError(f"give one value or three (i, j, k), got {len(values)}: {values}")
    return values


def _mm(values) -> str:
    return "x".join(f"{v:.4g}" for v in values)


def _asDict(request: Request) -> dict:
    return {key: (list(value) if isinstance(value, tuple) else value) for key, value in request.__dict__.items()}
