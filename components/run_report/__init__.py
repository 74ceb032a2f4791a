"""RunReport, the last step of every run: metrics by name, the blessing and its reason, and the
HTML report (charts, overlays), all inside its artifact."""
