"""Comparisons of methods on simulated acquisitions: the demo and the benchmark."""

from .comparison import Comparison, MethodResult, PeakMemory, compare_methods, machine_description

__all__ = ["Comparison", "MethodResult", "PeakMemory", "compare_methods", "machine_description"]
