"""The README's serving commands work as written: their names and paths are the serving files'.

Followed as written, `kubectl create configmap NAME ...` must create the ConfigMap that
serving/kubernetes.yaml mounts, from files that exist and that the server's flags read; the
docker-compose command must name the compose file and the variable it mounts; the model name
and ports in the curl and `segpipe predict` examples must be the ones models.config, the compose
file and the manifest serve.
"""

import os
import re

import yaml

from tests.helpers import REPO_ROOT

SERVING = os.path.join(REPO_ROOT, "serving")


def _readme() -> str:
    with open(os.path.join(REPO_ROOT, "README.md"), encoding="utf-8") as handle:
        return handle.read().replace("\\\n#", " ").replace("\\\n", " ")


def _kubernetes() -> list:
    with open(os.path.join(SERVING, "kubernetes.yaml"), encoding="utf-8") as handle:
        return list(yaml.safe_load_all(handle))


def _deployment() -> dict:
    return next(doc for doc in _kubernetes() if doc["kind"] == "Deployment")


def _model_name() -> str:
    with open(os.path.join(SERVING, "models.config"), encoding="utf-8") as handle:
        return re.search(r'name: "([^"]+)"', handle.read()).group(1)


def test_the_readme_configmap_is_the_one_the_deployment_mounts_with_the_files_its_flags_read():
    match = re.search(r"kubectl create configmap (\S+)((?:\s+--from-file=\S+)+)", _readme())
    assert match, "the README has no kubectl create configmap command"
    name, files = match.group(1), re.findall(r"--from-file=(\S+)", match.group(2))
    pod = _deployment()["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if "configMap" in v)
    assert volume["configMap"]["name"] == name
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == volume["name"])
    for path in files:
        assert os.path.isfile(os.path.join(REPO_ROOT, path)), path
    args = " ".join(pod["containers"][0]["args"])
    read_from_config = re.findall(rf"{re.escape(mount['mountPath'])}/(\S+)", args)
    assert sorted(read_from_config) == sorted(os.path.basename(path) for path in files)


def test_the_readme_compose_command_names_the_compose_file_and_its_variable():
    match = re.search(r"(\w+)=\S+ docker compose -f (\S+) up", _readme())
    assert match, "the README has no docker compose command"
    variable, path = match.groups()
    with open(os.path.join(REPO_ROOT, path), encoding="utf-8") as handle:
        compose = yaml.safe_load(handle)
    service = next(iter(compose["services"].values()))
    assert any(volume.startswith(f"${{{variable}") for volume in service["volumes"])
    ports = {port.split(":")[1] for port in service["ports"]}
    assert ports == {"8500", "8501"}


def test_the_readme_queries_the_model_name_and_ports_that_are_served():
    readme, name = _readme(), _model_name()
    assert f"/v1/models/{name}:predict" in readme
    served = {p["containerPort"] for p in _deployment()["spec"]["template"]["spec"]["containers"][0]["ports"]}
    assert served == {8500, 8501}
    assert "--server http://localhost:8501" in readme and "--grpc localhost:8500" in readme
    probe = _deployment()["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["path"]
    assert probe == f"/v1/models/{name}"
