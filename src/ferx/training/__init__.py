"""Training: the loop, augmentation, distillation."""
