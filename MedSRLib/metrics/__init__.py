"""Quality figures: MSE, PSNR, SSIM for images; Dice, IoU, HD95 for label maps."""

from .compare import evaluate
from .intensity import default_data_range, foreground_mask, image_metrics, ssim_map
from .labels import label_metrics, looks_like_labels

__all__ = ["evaluate", "default_data_range", "foreground_mask", "image_metrics", "ssim_map", "label_metrics", "looks_like_labels"]
