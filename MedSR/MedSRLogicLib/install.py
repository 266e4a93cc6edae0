"""Installing MedSRLib's Python dependencies into Slicer on the first Apply (never at import).

torch comes from the PyTorch extension (it picks the build for the GPU and driver at hand); the rest
comes from ``Resources/requirements.txt`` through ``slicer.packaging.pip_ensure``. Packages that Slicer
itself ships (numpy, SimpleITK, vtk) and torch are pinned to their installed versions with a constraints
file, so no install ever replaces them.
"""

from __future__ import annotations

import importlib.metadata
import tempfile
from pathlib import Path
from typing import List, Optional

#: never replaced by an install: Slicer's own, and torch (the PyTorch extension's)
PROTECTED = ("numpy", "SimpleITK", "vtk", "torch")
TORCH_REQUIREMENT = ">=2.1"


class DependencyError(RuntimeError):
    """What the user has to do to get the dependencies, in words."""


def requirementLines(requirementsPath) -> List[str]:
    lines = []
    for line in Path(requirementsPath).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            lines.append(line)
    return lines


def missingRequirements(requirementsPath) -> List[str]:
    """The requirements of the file that this Python does not satisfy (checked without importing them)."""
    from packaging.requirements import Requirement

    missing = []
    for line in requirementLines(requirementsPath):
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        installed = _version(requirement.name)
        if installed is None or not requirement.specifier.contains(installed, prereleases=True):
            missing.append(line)
    return missing


def constraintLines() -> List[str]:
    """``name==version`` for every protected package that is installed."""
    return [f"{name}=={version}" for name in PROTECTED if (version := _version(name)) is not None]


def torchInstalled() -> bool:
    return _version("torch") is not None


def ensureDependencies(requirementsPath, askConfirmation: bool = True) -> None:
    """torch through the PyTorch extension, then whatever ``requirementsPath`` lists that is missing.

    ``askConfirmation`` applies to torch and to Slicer versions before ``slicer.packaging`` (whose
    ``pip_ensure`` always asks). Raises :class:`DependencyError` when the user declines or something cannot be installed.
    """
    if not torchInstalled():
        _installTorch(askConfirmation)
    if not missingRequirements(requirementsPath):
        return
    import slicer

    with tempfile.TemporaryDirectory(prefix="MedSR-install-") as folder:
        constraints = Path(folder, "constraints.txt")
        constraints.write_text("\n".join(constraintLines()) + "\n")
        packaging = _slicerPackaging()
        if packaging is not None:
            # it asks before installing, and offers a restart if an imported package was updated
            packaging.pip_ensure(packaging.load_requirements(str(requirementsPath)), constraints=str(constraints), requester="MedSR")
        else:  # Slicer before slicer.packaging
            if askConfirmation and not slicer.util.confirmOkCancelDisplay(
                    "MedSR needs these Python packages, which will be installed now:\n" + "\n".join(missingRequirements(requirementsPath))):
                raise DependencyError("the Python packages MedSR needs were not installed")
            slicer.util.pip_install(["-r", str(requirementsPath), "-c", str(constraints)])
    still = missingRequirements(requirementsPath)
    if still:
        raise DependencyError("these Python packages are still missing: " + ", ".join(still))


def _slicerPackaging():
    """``slicer.packaging`` (Slicer 5.11 and later), else None."""
    try:
        import slicer.packaging as packaging
    except ImportError:
        return None
    return packaging if hasattr(packaging, "pip_ensure") else None


def _installTorch(askConfirmation: bool) -> None:
    torchLogic = _pyTorchUtilsLogic()
    if torchLogic is None:
        raise DependencyError("MedSR needs the PyTorch extension: install it from the Extensions Manager, restart Slicer, "
                              "then press Apply again")
    if torchLogic.installTorch(askConfirmation=askConfirmation, torchVersionRequirement=TORCH_REQUIREMENT) is None:
        raise DependencyError("PyTorch was not installed; MedSR cannot run without it")


def _pyTorchUtilsLogic():
    import slicer

    try:
        logic = slicer.util.getModuleLogic("PyTorchUtils")
    except Exception:
        logic = None
    if logic is not None:
        return logic
    try:
        import PyTorchUtils
    except ModuleNotFoundError:
        return None
    return PyTorchUtils.PyTorchUtilsLogic()


def _version(name: str) -> Optional[str]:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None
