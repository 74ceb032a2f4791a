"""The last step of every run: metrics by name, the blessing and its reason, the report."""
