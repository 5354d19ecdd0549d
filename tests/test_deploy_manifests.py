"""deploy/: the Kubernetes manifests, checked without a cluster against the code they deploy. Every compose service is
deployed (or said to live elsewhere), every environment variable is a field of that service's Settings, every
reference to a ConfigMap or Secret key resolves, the NATS StatefulSet is a three-server JetStream cluster whose
config nats-server itself accepts, and KEDA scales each trainer pool on the durable consumers the trainers really
use (libs/contracts streams.py)."""

from __future__ import annotations

import importlib
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic_settings import BaseSettings

from modelyard.contracts import streams
from modelyard.contracts.api.training import Pool, Priority
from modelyard.embedded.binaries import find_binary
from modelyard.runtime.jetstream import stream_config

ROOT = Path(__file__).parents[1]
DEPLOY = ROOT / "deploy"
ENTRY = DEPLOY / "k8s"
IMAGE_PREFIX = "modelyard/"
# compose services that are not a Deployment here, and where they are instead
ELSEWHERE = {
    "nats": "the StatefulSet in deploy/nats",
    "postgres": "outside the cluster's manifests: a managed or operator-run PostgreSQL (database-url in the Secret)",
    "minio": "outside the cluster's manifests: any S3 (s3-endpoint in endpoints.yaml, keys in the Secret)",
    "edge-agent": "on the devices, not in the cluster",
}

Doc = dict[str, Any]


def _documents() -> list[tuple[Path, Doc]]:
    found = []
    for path in sorted(DEPLOY.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                found.append((path, doc))
    return found


DOCS = _documents()
MANIFESTS = [(path, doc) for path, doc in DOCS if doc.get("kind") != "Kustomization"]
TEMPLATES = [doc for path, doc in MANIFESTS if path.name.endswith(".template.yaml")]
APPLIED = [doc for path, doc in MANIFESTS if not path.name.endswith(".template.yaml")]


def _kind(kind: str, docs: list[Doc] = APPLIED) -> dict[str, Doc]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def _containers(workload: Doc) -> list[Doc]:
    containers: list[Doc] = workload["spec"]["template"]["spec"]["containers"]
    return containers


def _service_of(container: Doc) -> str:
    """The Modelyard service a container runs, from its image (modelyard/<service>:<tag>)."""
    image: str = container["image"]
    assert image.startswith(IMAGE_PREFIX), image
    return image.removeprefix(IMAGE_PREFIX).split(":")[0]


def _settings(service: str) -> type[BaseSettings]:
    settings: type[BaseSettings] = importlib.import_module(f"modelyard.{service}.settings").Settings
    return settings


def _env(container: Doc) -> dict[str, Doc]:
    return {entry["name"]: entry for entry in container.get("env", [])}


def _modelyard_containers() -> Iterator[tuple[str, Doc]]:
    for name, deployment in _kind("Deployment").items():
        for container in _containers(deployment):
            yield name, container


def _compose() -> Doc:
    compose: Doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return compose


def _namespace() -> str:
    namespace: str = yaml.safe_load((ENTRY / "kustomization.yaml").read_text())["namespace"]
    return namespace


def test_every_manifest_names_its_api_kind_and_name() -> None:
    assert len(MANIFESTS) > 10
    for path, doc in MANIFESTS:
        assert {"apiVersion", "kind", "metadata"} <= set(doc), path
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", doc["metadata"]["name"]), path
    names = [(doc["kind"], doc["metadata"]["name"]) for doc in APPLIED]
    assert len(names) == len(set(names)), "two manifests with one kind and name"


def test_the_kustomizations_apply_every_manifest_but_the_templates() -> None:
    """deploy/k8s is the entry point; it pulls in deploy/nats and deploy/keda. A file left out of every
    kustomization would never be applied."""
    listed: set[Path] = set()

    def walk(directory: Path) -> None:
        kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
        for resource in kustomization["resources"]:
            target = (directory / resource).resolve()
            if target.is_dir():
                walk(target)
            else:
                assert target.is_file(), f"{directory}: {resource} does not exist"
                listed.add(target)

    walk(ENTRY)
    on_disk = {
        path.resolve()
        for path in DEPLOY.rglob("*.yaml")
        if path.name != "kustomization.yaml" and not path.name.endswith(".template.yaml")
    }
    assert listed == on_disk


def test_every_compose_service_runs_somewhere() -> None:
    compose = _compose()["services"]
    deployed = {_service_of(container) for _, container in _modelyard_containers()}
    for name, service in compose.items():
        if name in ELSEWHERE:
            continue
        dockerfile = service["build"]["dockerfile"]  # services/<name>/Dockerfile
        assert dockerfile == f"services/{name}/Dockerfile", name
        assert name in deployed, f"compose service {name} has no Deployment"
    assert deployed <= set(compose), f"deployed but not in compose: {deployed - set(compose)}"
    assert set(ELSEWHERE) <= set(compose), "ELSEWHERE names a service compose no longer has"
    statefulset = _kind("StatefulSet")["nats"]
    assert _containers(statefulset)[0]["image"] == compose["nats"]["image"]


def test_env_vars_are_fields_of_the_services_settings() -> None:
    for deployment, container in _modelyard_containers():
        service = _service_of(container)
        settings = _settings(service)
        prefix = settings.model_config.get("env_prefix")
        assert prefix == f"MODELYARD_{service.upper()}_"
        env = _env(container)
        assert len(env) == len(container["env"]), f"{deployment}: an env var twice"
        for name, entry in env.items():
            assert name.startswith(prefix), f"{deployment}: {name} lacks {prefix}"
            field = name.removeprefix(prefix).lower()
            assert field in settings.model_fields, f"{deployment}: {name} is not a field of {service}'s Settings"
            assert "value" in entry or "valueFrom" in entry, f"{deployment}: {name} has no value"
            if "value" in entry:
                assert isinstance(entry["value"], str), f"{deployment}: {name} must be a string in YAML"
        needed = {"nats_url"}
        if "database_url" in settings.model_fields:
            needed.add("database_url")
        if "s3_endpoint" in settings.model_fields:
            needed |= {"s3_endpoint", "s3_access_key", "s3_secret_key", "s3_region", "s3_bucket"}
        missing = {field for field in needed if f"{prefix}{field.upper()}" not in env}
        assert not missing, f"{deployment}: missing {sorted(missing)}"


def test_every_config_and_secret_reference_resolves() -> None:
    config_maps = _kind("ConfigMap")
    secrets = _kind("Secret", TEMPLATES)
    assert not _kind("Secret"), "credentials belong in secret.template.yaml, filled outside the repository"
    for deployment, container in _modelyard_containers():
        for name, entry in _env(container).items():
            source = entry.get("valueFrom", {})
            if ref := source.get("configMapKeyRef"):
                assert ref["key"] in config_maps[ref["name"]]["data"], f"{deployment}: {name}"
            if ref := source.get("secretKeyRef"):
                assert ref["key"] in secrets[ref["name"]]["stringData"], f"{deployment}: {name}"
    for workload, manifest in _kind("Deployment").items():
        for volume in manifest["spec"]["template"]["spec"].get("volumes", []):
            if "secret" in volume:
                assert volume["secret"]["secretName"] in secrets, f"{workload}: volume {volume['name']}"


def test_the_secret_template_holds_no_real_secret() -> None:
    secrets = _kind("Secret", TEMPLATES)
    assert set(secrets) == {"modelyard-credentials", "modelyard-signing-key"}
    for secret in secrets.values():
        assert secret["metadata"]["namespace"] == _namespace()
        for key, value in secret["stringData"].items():
            assert "CHANGE-ME" in value, key


def test_ports_in_env_match_the_container_ports_and_services_reach_them() -> None:
    for deployment, container in _modelyard_containers():
        env = _env(container)
        ports = {port["name"]: port["containerPort"] for port in container.get("ports", [])}
        prefix = f"MODELYARD_{_service_of(container).upper()}_"
        if f"{prefix}METRICS_PORT" in env:
            assert int(env[f"{prefix}METRICS_PORT"]["value"]) == ports["metrics"], deployment
        if f"{prefix}PORT" in env:
            assert int(env[f"{prefix}PORT"]["value"]) == ports["http"], deployment
            assert env[f"{prefix}HOST"]["value"] == "0.0.0.0", deployment
    workloads = [*_kind("Deployment").values(), *_kind("StatefulSet").values()]
    for name, service in _kind("Service").items():
        selector = service["spec"]["selector"]
        pods = [w for w in workloads if selector.items() <= w["spec"]["template"]["metadata"]["labels"].items()]
        assert pods, f"Service {name} selects no pod"
        for port in service["spec"]["ports"]:
            for pod in pods:
                named = {p["name"] for c in _containers(pod) for p in c.get("ports", [])}
                assert port["targetPort"] in named, f"Service {name}: no port {port['targetPort']}"


def test_the_services_reach_nats_through_its_service() -> None:
    url = urlsplit(_kind("ConfigMap")["modelyard-endpoints"]["data"]["nats-url"])
    service = _kind("Service")[url.hostname or ""]
    assert url.port in {port["port"] for port in service["spec"]["ports"]}
    assert service["spec"]["selector"] == _kind("StatefulSet")["nats"]["spec"]["selector"]["matchLabels"]


def _nats_conf() -> str:
    statefulset = _kind("StatefulSet")["nats"]
    (container,) = _containers(statefulset)
    args = container["args"]
    conf_path = Path(args[args.index("--config") + 1])
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in statefulset["spec"]["template"]["spec"]["volumes"]}
    config_map = volumes[mounts[str(conf_path.parent)]]["configMap"]["name"]
    conf: str = _kind("ConfigMap")[config_map]["data"][conf_path.name]
    return conf


def test_nats_is_a_jetstream_cluster_of_three() -> None:
    statefulset = _kind("StatefulSet")["nats"]
    spec = statefulset["spec"]
    assert spec["replicas"] == 3
    conf = _nats_conf()
    assert re.search(r"^jetstream \{", conf, re.MULTILINE)
    assert re.search(r"^server_name: \$POD_NAME$", conf, re.MULTILINE)
    (container,) = _containers(statefulset)
    assert _env(container)["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    headless = _kind("Service")[spec["serviceName"]]
    assert headless["spec"]["clusterIP"] == "None" and headless["spec"]["publishNotReadyAddresses"] is True
    cluster_port = next(p["port"] for p in headless["spec"]["ports"] if p["name"] == "cluster")
    routes = re.findall(r"nats://[^\s\]]+", conf.split("cluster {", 1)[1])
    pods = [f"{statefulset['metadata']['name']}-{i}" for i in range(spec["replicas"])]
    assert routes == [f"nats://{pod}.{spec['serviceName']}:{cluster_port}" for pod in pods]
    data = {t["metadata"]["name"] for t in spec["volumeClaimTemplates"]}
    assert {m["name"] for m in container["volumeMounts"]} >= data
    assert _kind("PodDisruptionBudget")["nats"]["spec"]["maxUnavailable"] == 1


def test_nats_server_accepts_the_config(tmp_path: Path) -> None:
    conf = tmp_path / "nats.conf"
    conf.write_text(_nats_conf())
    done = subprocess.run(
        [str(find_binary("nats-server")), "-c", str(conf), "-t"],
        env={"POD_NAME": "nats-0"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "is valid" in done.stdout + done.stderr


def test_keda_scales_each_trainer_pool_on_the_consumers_its_trainers_use() -> None:
    assert streams.DISPATCH.retention is streams.Retention.WORK_QUEUE
    deployments = _kind("Deployment")
    scaled = _kind("ScaledObject")
    trainers = {name for name, d in deployments.items() if _service_of(_containers(d)[0]) == "trainer"}
    assert {so["spec"]["scaleTargetRef"]["name"] for so in scaled.values()} == trainers
    pools = set()
    for name, scaled_object in scaled.items():
        spec = scaled_object["spec"]
        target = deployments[spec["scaleTargetRef"]["name"]]
        assert "replicas" not in target["spec"], f"{name}: KEDA owns the replica count"
        pool = _env(_containers(target)[0])["MODELYARD_TRAINER_POOL"]["value"]
        pools.add(pool)
        triggers = spec["triggers"]
        assert {t["type"] for t in triggers} == {"nats-jetstream"}
        assert {t["metadata"]["stream"] for t in triggers} == {streams.DISPATCH.name}
        wanted = {streams.dispatch_consumer(pool, p.value, lease_s=30).durable for p in Priority}
        assert sorted(t["metadata"]["consumer"] for t in triggers) == sorted(wanted)
        formula = spec["advanced"]["scalingModifiers"]["formula"]
        assert sorted(formula.replace(" ", "").split("+")) == sorted(t["name"] for t in triggers)
        for trigger in triggers:
            host, port = trigger["metadata"]["natsServerMonitoringEndpoint"].split(":")
            service, namespace, *_ = host.split(".")
            assert namespace == _namespace()
            monitor = _kind("Service")[service]
            assert monitor["spec"]["clusterIP"] == "None"  # per-server names: KEDA asks the consumer's leader
            assert int(port) in {p["port"] for p in monitor["spec"]["ports"] if p["name"] == "monitor"}
            assert trigger["metadata"]["account"] == "$G"
    assert pools == {pool.value for pool in Pool}


def test_only_the_gpu_trainers_ask_for_a_gpu() -> None:
    for name, container in _modelyard_containers():
        limits = container.get("resources", {}).get("limits", {})
        env = _env(container)
        gpu_pool = env.get("MODELYARD_TRAINER_POOL", {}).get("value") == Pool.GPU.value
        assert (limits.get("nvidia.com/gpu") == 1) is gpu_pool, name
        if gpu_pool:
            assert env["MODELYARD_TRAINER_DEVICE"]["value"] != "cpu", name


def test_every_service_declares_the_streams_with_one_replica_per_nats_server() -> None:
    """R3 on the three-server cluster: every container that declares streams (every service, the trainers too)
    reads the same replica count, and it is the cluster's size; the runtime puts it in every stream's config."""
    replicas = _kind("ConfigMap")["modelyard-endpoints"]["data"]["stream-replicas"]
    assert int(replicas) == _kind("StatefulSet")["nats"]["spec"]["replicas"] == 3
    declaring = list(_modelyard_containers())
    assert {_service_of(c) for _, c in declaring} >= {"gateway", "dataset", "scheduler", "registry", "trainer"}
    for name, container in declaring:
        entry = _env(container)[f"MODELYARD_{_service_of(container).upper()}_STREAM_REPLICAS"]
        assert entry["valueFrom"]["configMapKeyRef"] == {"name": "modelyard-endpoints", "key": "stream-replicas"}, name
    assert all(stream_config(spec, int(replicas)).num_replicas == 3 for spec in streams.ALL_STREAMS)
