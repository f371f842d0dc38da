"""Segmentation networks (smp architectures and the FCN-8 baseline) and their losses."""
