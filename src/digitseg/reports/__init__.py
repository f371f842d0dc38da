"""Evaluation reports: inputs with instance truth, scoring, report folders, error analysis."""
