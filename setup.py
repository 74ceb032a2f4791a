"""segpipe: a TFX pipeline that trains, evaluates and ships the TensorFlow tutorial's U-Net."""

from setuptools import find_packages, setup

setup(
    name="segpipe",
    version="0.1.0",
    description="Production TFX pipeline for U-Net image segmentation (Oxford-IIIT Pet).",
    python_requires=">=3.10,<3.11",
    packages=find_packages(
        include=["pipeline*", "components*", "trainer*", "serving*", "contract*", "datagen*"]
    ),
    package_data={"components": ["tfds_example_gen/*.pbtxt"]},
    install_requires=[
        "tfx[kfp]==1.16.0",
        "tensorflow-datasets>=4.9,<4.10",
        "dill",  # TFT imports it; Beam 2.7x no longer pulls it in
        "pillow",
        "matplotlib",
        "tensorflow-serving-api",
        "pydantic>=2,<3",  # settings: typed, checked, with their flags (pipeline/config.py)
        "pyyaml",
    ],
    extras_require={
        "test": ["pytest", "pytest-xdist", "hypothesis", "portpicker"],
        "lint": ["ruff", "mypy", "import-linter", "pre-commit"],
        "vertex": ["google-cloud-aiplatform"],
    },
    entry_points={"console_scripts": ["segpipe=pipeline.cli:main"]},
)
