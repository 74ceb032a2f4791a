"""Evaluation: segmentation metrics as TFMA metrics, and the Evaluator's config."""
