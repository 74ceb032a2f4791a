"""The evaluation report: charts, sample overlays and a self-contained HTML page.

Import what you need from the modules, not from here: `render` (write_report, Sample) pulls in
matplotlib, while `colors` (CLASS_COLORS, overlay) needs numpy only and is what serving reuses.
"""
