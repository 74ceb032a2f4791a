"""The contract is the bottom layer: importing it loads nothing but the standard library, and it
settles Keras 2 for whatever imports TensorFlow later."""

import json
import subprocess
import sys

from contract import datasets, names
from tests.helpers import REPO_ROOT

PROBE = """
import json, os, sys
import contract.datasets, contract.names, contract.oxford_pets
print(json.dumps({"modules": sorted(sys.modules), "keras": os.environ.get("TF_USE_LEGACY_KERAS")}))
"""


def test_importing_the_contract_loads_only_the_standard_library_and_picks_keras_2():
    env_without_keras = {"PATH": "/usr/bin:/bin"}
    probe = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO_ROOT, env=env_without_keras, capture_output=True, text=True
    )
    assert probe.returncode == 0, probe.stderr
    loaded = json.loads(probe.stdout)
    heavy = {"numpy", "tensorflow", "tfx", "apache_beam", "PIL", "pydantic", "yaml"}
    assert not heavy & {name.split(".")[0] for name in loaded["modules"]}
    assert loaded["keras"] == "1"


def test_every_dataset_names_one_class_per_mask_value():
    for facts in datasets.DATASETS.values():
        assert len(facts.class_names) == len(facts.mask_values) == facts.num_classes
        assert len(set(facts.mask_values)) == len(facts.mask_values)


def test_signature_outputs_are_distinct_names():
    assert len(set(names.PREDICT_IMAGES_OUTPUTS)) == len(names.PREDICT_IMAGES_OUTPUTS)
    assert names.CLASS_MAP in names.PREDICT_IMAGES_OUTPUTS
