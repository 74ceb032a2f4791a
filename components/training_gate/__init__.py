"""TrainingGate: whether a retraining run has anything new to train on (see component.py)."""
