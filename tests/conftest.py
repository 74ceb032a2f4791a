"""Shared fixtures: small datasets in the real Oxford-IIIT Pet layout, made on the fly."""
import os
import shutil

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from datagen.synthetic_pets import write_dataset  # noqa: E402
from tests.helpers import export_test_model  # noqa: E402


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
