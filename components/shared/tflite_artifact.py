"""The TFLite artifact type: TfliteExport writes it, RunReport reads it (so it lives here, where
both may import it).

Its folder holds one subfolder per variant (`float16/`, `int8/`: model.tflite and the app's
contract.json) and tflite_scores.json: each variant's size and scores on the eval split, the
SavedModel's (the Evaluator's) for comparison, which variant the gate shipped and why, and
where it was pushed.
"""

from tfx.types import artifact

from contract.names import TFLITE_MODEL_TYPE_NAME


class TfliteModelArtifact(artifact.Artifact):
    """The phone model's variants, their scores and the gate's decision.

    Its type name is an importable 'module.Class' (`components.TfliteModelArtifact`, resolved
    lazily), as Vertex's compiler requires of custom types (tensorflow/tfx#6102); it is
    recorded in the metadata store, so it never changes.
    """

    TYPE_NAME = TFLITE_MODEL_TYPE_NAME
