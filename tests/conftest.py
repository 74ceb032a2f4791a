"""Shared fixtures: small datasets in the real Oxford-IIIT Pet layout, made on the fly."""

import os
import shutil

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

import contract  # noqa: F401  (settles Keras 2 before tests.helpers imports TensorFlow)
from datagen.synthetic_pets import write_dataset
from tests.helpers import export_test_model


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
