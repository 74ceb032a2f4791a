"""The names every stage of segpipe must agree on, in one place.

ExampleGen writes records with the raw feature keys; Transform turns them into the transformed
keys; the Trainer exports three signatures whose inputs and outputs TFMA, the Pusher's warmup
requests and the serving clients call by name; the report and the command line find the
Trainer's and the ExampleGen's side files by their file names. A name changed here changes
for all of them at once.
"""

# Raw features, as TfdsExampleGen writes them: images and masks stay encoded (JPEG/PNG bytes),
# label and species are the TFDS class indices (for slicing the evaluation).
IMAGE_KEY = "image"
MASK_KEY = "segmentation_mask"
LABEL_KEY = "label"
SPECIES_KEY = "species"
FILE_NAME_KEY = "file_name"
HEIGHT_KEY = "height"
WIDTH_KEY = "width"
BYTES_FEATURES = (IMAGE_KEY, MASK_KEY, FILE_NAME_KEY)
INT_FEATURES = (LABEL_KEY, SPECIES_KEY, HEIGHT_KEY, WIDTH_KEY)

# Transformed features, as Transform's preprocessing_fn returns them.
IMAGE_XF = "image_xf"
MASK_XF = "mask_xf"
HEIGHT_XF = "image_height_xf"
WIDTH_XF = "image_width_xf"
SPECIES_XF = "species_xf"
LABEL_XF = "label_xf"
KEY_XF = "key_xf"  # the example's file name, passed through: the Trainer reads splits sorted by it
# The features the Evaluator slices by (raw keys: TFMA slices the raw eval examples), and what a
# report calls each slice: "species=Dog", "breed=beagle".
SLICE_FEATURES = (SPECIES_KEY, LABEL_KEY)
SLICE_DISPLAY_NAMES = {SPECIES_KEY: "species", LABEL_KEY: "breed"}

# The pipeline's splits: train fits the model, validation picks its epoch, eval only scores it.
TRAIN_SPLIT = "train"
VALIDATION_SPLIT = "validation"
EVAL_SPLIT = "eval"

# The exported SavedModel's signatures, their inputs and their outputs.
SERVING_DEFAULT = "serving_default"  # serialized tf.Examples -> class map, probabilities
TRANSFORM_FEATURES = "transform_features"  # serialized raw examples -> every transformed feature
PREDICT_IMAGES = "predict_images"  # encoded JPEG/PNG bytes -> class map at image size
EXAMPLES_INPUT = "examples"
IMAGES_INPUT = "images"
CLASS_MAP = "class_map"
PROBABILITIES = "probabilities"
HEIGHT_OUTPUT = "height"
WIDTH_OUTPUT = "width"
PREDICT_IMAGES_OUTPUTS = (CLASS_MAP, HEIGHT_OUTPUT, WIDTH_OUTPUT, PROBABILITIES)

# Files beside the artifacts' payloads.
DATA_QUALITY_REPORT = "data_quality_report.json"  # in the Examples artifact
HISTORY_FILE = "history.json"  # in the Model artifact: the Trainer's epochs
# In HISTORY_FILE: what the model was trained on (contract/trained_on.py); the TrainingGate
# compares the latest blessed model's record with what a retraining run would train on.
TRAINED_ON = "trained_on"
TRAINABLE_LAYERS = "trainable_layers"  # .txt and .json, in the Model artifact
KERAS_DIR = "Format-Keras"  # in the Model artifact: weights for warm starts
WEIGHTS_FILE = "weights"  # a TF checkpoint prefix under KERAS_DIR
RUN_SUMMARY = "run_summary.json"  # in the RunReport artifact, copied to OUTPUT/
REPORT_DIR = "report"  # likewise: the HTML report's folder
REPORT_INDEX = "index.html"

# The Python logger the Trainer reports its progress on (epochs and batches, with structured
# `extra`), and that the local runner's console view listens to.
PROGRESS_LOGGER = "segpipe.progress"

# TF Serving: the model's default name, and where a version keeps its warmup requests.
DEFAULT_MODEL_NAME = "segmenter"
WARMUP_FILE = "assets.extra/tf_serving_warmup_requests"

# The phone model (TFLite): a pushed version is SERVING_ROOT/<model name>-tflite/<N>/, the same N
# as the SavedModel's, holding the model and the contract an app reads (input size, dtype and
# scaling, outputs, class names); the TFLite artifact also holds every variant and their scores.
TFLITE_SUFFIX = "-tflite"
TFLITE_MODEL_FILE = "model.tflite"
TFLITE_CONTRACT_FILE = "contract.json"
TFLITE_SCORES_FILE = "tflite_scores.json"
TFLITE_INPUT = "pixels"  # the resized RGB image, values 0..255 (outputs: CLASS_MAP, PROBABILITIES)

# The RunReport artifact's MLMD type name: an import path, as Vertex requires of custom types
# (tensorflow/tfx#6102). Stored in every metadata store, so it never changes.
RUN_REPORT_TYPE_NAME = "components.RunReportArtifact"
# The TFLite artifact's, likewise.
TFLITE_MODEL_TYPE_NAME = "components.TfliteModelArtifact"
# The TrainingGate's decision, likewise; its custom properties: TRAIN_PROPERTY (1: train and
# release, 0: nothing new) and REASON_PROPERTY (why, in words).
TRAINING_DECISION_TYPE_NAME = "components.TrainingDecisionArtifact"
TRAIN_PROPERTY = "train"
REASON_PROPERTY = "reason"
