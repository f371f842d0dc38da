"""Evaluation metrics for digit segmentation."""
