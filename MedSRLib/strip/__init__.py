"""Brain extraction (``medsr strip``): a head atlas placed on the scan by registration, its brain carried back."""

from .extract import BrainMask, NoBrainFound, check_can_hold_a_head, extract_brain, place_atlas

__all__ = ["BrainMask", "NoBrainFound", "check_can_hold_a_head", "extract_brain", "place_atlas"]
