"""segpipe's TFX components, one folder each with its executor and helpers.

tfds_example_gen/  TfdsExampleGen: TFDS builder -> tf.Examples, spans, the bad-data gate
evaluator/         TFX's Evaluator with the segmentation metrics; never its own baseline
pusher/            TFX's Pusher publishing atomic TF Serving versions with warmup requests
run_report/        RunReport: the run summary and the HTML report, in its artifact
shared/            what several of them use: atomic directories, segmentation scores

Names they share with the Trainer and the clients come from `contract` (imported first, so
Keras 2 is settled before TensorFlow loads).
"""

from contract.names import RUN_REPORT_TYPE_NAME  # importing contract settles Keras 2 first


def __getattr__(name: str):
    """`components.RunReportArtifact`, importable by the name Vertex records for the type
    (contract.names.RUN_REPORT_TYPE_NAME), without making `import components` load TensorFlow."""
    if name == RUN_REPORT_TYPE_NAME.rsplit(".", 1)[1]:
        from components.run_report.component import RunReportArtifact

        return RunReportArtifact
    raise AttributeError(f"module 'components' has no attribute {name!r}")
