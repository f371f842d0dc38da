"""Digit sources, the canvas generator and writers for generated splits."""
