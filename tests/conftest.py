"""Shared fixtures: small datasets in the real Oxford-IIIT Pet layout, made on the fly."""

import os
import shutil

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

import contract  # noqa: F401  (settles Keras 2 before tests.helpers imports TensorFlow)
from datagen.synthetic_pets import write_dataset
from tests.helpers import export_test_model, train_test_model, truth_in_red_example, write_examples

# The tiny trained model's data: truth-in-red examples, 16 to train on, 8 to score.
TRAIN_SEEDS, EVAL_SEEDS = range(16), range(16, 24)


def pytest_collection_modifyitems(items: list) -> None:
    """End-to-end and fault tests are slow too, so `-m "not slow"` leaves them out."""
    for item in items:
        if item.get_closest_marker("e2e") or item.get_closest_marker("faults"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def pristine_dataset(tmp_path_factory) -> str:
    """A clean 16/8 image dataset; copy it before changing anything (see `dataset`)."""
    root = str(tmp_path_factory.mktemp("pets") / "raw")
    write_dataset(root, n_train=16, n_test=8, seed=3)
    return root


@pytest.fixture
def dataset(pristine_dataset, tmp_path) -> str:
    """A private copy of the small dataset that a test may damage."""
    root = str(tmp_path / "raw")
    shutil.copytree(pristine_dataset, root)
    return root


@pytest.fixture(scope="session")
def exported_model(tmp_path_factory) -> str:
    """A SavedModel exported by the Trainer's own export code (random 64×64 U-Net)."""
    return export_test_model(tmp_path_factory.mktemp("export"))


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory):
    """(Model artifact folder, Examples artifact folder): a 64×64 U-Net trained for a few steps,
    as the Trainer writes it (Format-Serving/, Format-Keras/), and its raw train and eval splits."""
    root = tmp_path_factory.mktemp("trained")
    records = {
        "train": [truth_in_red_example(seed) for seed in TRAIN_SEEDS],
        "eval": [truth_in_red_example(seed) for seed in EVAL_SEEDS],
    }
    examples_dir = write_examples(str(root / "examples"), records)
    return train_test_model(root, records["train"]), examples_dir


@pytest.fixture(scope="session")
def tflite_models(trained_model, tmp_path_factory):
    """{variant: folder holding model.tflite and contract.json}: the trained model converted by
    the TFLite component's converter, int8 calibrated on its train split."""
    import numpy as np
    import tensorflow as tf

    from components.tflite import converter
    from components.tflite.transformed import transformed_batches
    from contract.datasets import CLASS_NAMES
    from contract.names import TFLITE_CONTRACT_FILE, TFLITE_MODEL_FILE, TRANSFORM_FEATURES
    from tests.helpers import TRAINED_SETTINGS, examples_artifact

    model_dir, examples_dir = trained_model
    transform = tf.saved_model.load(os.path.join(model_dir, "Format-Serving")).signatures[TRANSFORM_FEATURES]
    batches = transformed_batches(examples_artifact(examples_dir), "train", transform)
    calibration = np.concatenate([pixels for pixels, _ in batches])
    network = converter.rebuild_model(model_dir, TRAINED_SETTINGS, num_classes=len(CLASS_NAMES))
    folders = {}
    for variant in converter.VARIANTS:
        folder = tmp_path_factory.mktemp(variant)
        (folder / TFLITE_MODEL_FILE).write_bytes(converter.convert(network, variant, calibration))
        app_contract = converter.contract_for(variant, TRAINED_SETTINGS.model.image_size, CLASS_NAMES)
        (folder / TFLITE_CONTRACT_FILE).write_text(app_contract.to_json())
        folders[variant] = str(folder)
    return folders
