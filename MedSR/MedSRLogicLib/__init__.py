"""The MedSR module's logic, free of Qt and of the Slicer application: plain Python with slicer-core runs it.

Importing this package imports neither MedSRLib nor its dependencies (torch, scipy, ...): they are
loaded when a run starts, after the module has installed them on the first Apply.
"""

from .logic import (
    BRAIN_MASK,
    CHAIN,
    DEVICES,
    ENHANCEMENT,
    SEGMENTATION,
    SUPER_RESOLUTION,
    TASKS,
    MedSRLogic,
    MethodInfo,
    Request,
)
from .job import Job, ProcessingCancelled, ProcessingError, Result
from .process import ProcessRunner, RunningProcess, SubprocessRunner
from .segments import segmentationFromLabelMap, segmentLabels

__all__ = [
    "BRAIN_MASK", "CHAIN", "DEVICES", "ENHANCEMENT", "SEGMENTATION", "SUPER_RESOLUTION", "TASKS",
    "Job", "MedSRLogic", "MethodInfo", "ProcessingCancelled", "ProcessingError", "Request", "Result",
    "ProcessRunner", "RunningProcess", "SubprocessRunner", "segmentationFromLabelMap", "segmentLabels",
]
