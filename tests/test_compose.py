"""docker-compose.yml and the per-service Dockerfiles, checked without a Docker engine (there is none here): the
compose file parses, every Modelyard service is in it, and each image installs exactly the workspace packages its
service depends on (read from the pyproject files), so a service's image never carries another service's code."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[1]
SERVICES = ("gateway", "dataset", "scheduler", "registry", "distribution", "trainer", "edge")
LIBS = {
    "modelyard-contracts": "libs/contracts",
    "modelyard-runtime": "libs/runtime",
    "modelyard-frameworks": "libs/frameworks",
}


def _workspace_deps(member: str) -> set[str]:
    """The libs/ folders a member needs, following libs' own dependencies."""
    project = tomllib.loads((ROOT / member / "pyproject.toml").read_text())["project"]
    found: set[str] = set()
    for dep in project["dependencies"]:
        name = re.split(r"[<>=\[ ]", dep, maxsplit=1)[0]
        if name in LIBS:
            found |= {LIBS[name]} | _workspace_deps(LIBS[name])
    return found


def test_compose_names_every_service_and_the_servers() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"nats", "postgres", "minio", "edge-agent"} <= set(services)
    for name in SERVICES:
        key = "edge-agent" if name == "edge" else name
        assert services[key]["build"]["dockerfile"] == f"services/{name}/Dockerfile"
    trainer = (ROOT / "docker-compose.yml").read_text().split("  trainer:")[1]
    assert "capabilities: [gpu]" in trainer  # the GPU reservation, ready to uncomment


def test_each_image_installs_only_its_service_and_the_libs_it_imports() -> None:
    for name in SERVICES:
        dockerfile = (ROOT / "services" / name / "Dockerfile").read_text()
        (install,) = re.findall(r"pip install [^\n]*", dockerfile)
        installed = {part for part in install.split() if part.startswith(("libs/", "services/"))}
        assert installed == _workspace_deps(f"services/{name}") | {f"services/{name}"}, name
        assert f'CMD ["python", "-m", "modelyard.{name}"]' in dockerfile
