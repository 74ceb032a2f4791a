# The pipeline image of `segpipe vertex`: TFX 1.16 with this repository installed at /pipeline.
#
# One image runs every part of a Vertex AI pipeline run:
# - every pipeline step (KubeflowV2 sets the command: python -m
#   tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor ...), and before the
#   ExampleGen's, its driver (python -m tfx.orchestration.kubeflow.v2.file_based_example_gen.driver),
#   which resolves the latest span of --data-dir on GCS before Vertex checks its cache;
# - the Vertex AI custom training job of the Trainer (TFX sets the command:
#   python -m tfx.scripts.run_executor ...), on GPU workers;
# - with --use-dataflow yes, the Dataflow workers of ExampleGen, StatisticsGen, Transform and
#   Evaluator (--sdk_container_image): the image keeps the TFX image's entrypoint, the Beam SDK
#   harness /opt/apache/beam/boot, which Dataflow starts.
#
# Build and push (Artifact Registry; PROJECT, REGION and TAG are yours):
#   gcloud artifacts repositories create segpipe --repository-format=docker --location=REGION
#   gcloud auth configure-docker REGION-docker.pkg.dev
#   docker build -t REGION-docker.pkg.dev/PROJECT/segpipe/segpipe:TAG .
#   docker push REGION-docker.pkg.dev/PROJECT/segpipe/segpipe:TAG
# or build it in the cloud:
#   gcloud builds submit --tag REGION-docker.pkg.dev/PROJECT/segpipe/segpipe:TAG .
# then pass --image-uri REGION-docker.pkg.dev/PROJECT/segpipe/segpipe:TAG to `segpipe vertex`.
# Use a new TAG for every build: Vertex AI caches steps by image, among other things.
#
# Check the GPU build on a machine with a GPU:
#   docker run --rm --gpus all --entrypoint python IMAGE \
#     -c "import tensorflow as tf; print(tf.config.list_physical_devices('GPU'))"

# Dataflow runs the workers' SDK harness from /opt/apache/beam; it must come from the Beam
# release that constraints.txt pins, which may be newer than the one in the TFX image.
ARG BEAM_VERSION=2.74.0
FROM apache/beam_python3.10_sdk:${BEAM_VERSION} AS beam

FROM gcr.io/tfx-oss-public/tfx:1.16.0
COPY --from=beam /opt/apache/beam /opt/apache/beam

WORKDIR /pipeline

# Dependencies first, in their own layer: it is rebuilt only when setup.py or constraints.txt
# change. Empty packages stand in for the code so that setup.py can run.
COPY setup.py constraints.txt ./
RUN mkdir -p pipeline components trainer serving \
    && touch pipeline/__init__.py components/__init__.py trainer/__init__.py serving/__init__.py \
    && python -m pip install --no-cache-dir -c constraints.txt ".[vertex]" \
    && python -m pip uninstall --yes segpipe \
    && rm -rf pipeline components trainer serving build *.egg-info

# The code: installed (so any working directory can import it) and kept at /pipeline, where the
# compiled pipeline names the files it reads (e.g. /pipeline/components/schema/schema.pbtxt).
COPY . .
RUN python -m pip install --no-cache-dir --no-deps -c constraints.txt . \
    && rm -rf build *.egg-info

ENV TF_USE_LEGACY_KERAS=1 \
    PYTHONUNBUFFERED=1
