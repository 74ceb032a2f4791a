"""The Evaluator: TFMA on Beam with the project's segmentation metrics; a model is never its own
baseline."""
