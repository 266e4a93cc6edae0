"""Training: data made from the real sample volumes with heavy augmentation, loops that write catalog models."""
