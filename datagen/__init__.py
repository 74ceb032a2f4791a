"""The built-in synthetic dataset (`segpipe make-data`): Oxford-IIIT Pet's exact on-disk layout,
drawn with numpy and PIL, and the faults real data has, for demos and tests.

A data tool, not a pipeline step: the pipeline reads whatever sits in the layout, and this
package only writes it.
"""
