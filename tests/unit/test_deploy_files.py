"""The production deployment files, checked offline (deploy/README.md).

Nothing here builds an image or starts a container: the Compose file is checked against the Compose
Specification's schema and the rules below, the Kubernetes manifests against the API schemas that
kubernetes-validate bundles (strict: an unknown field fails), the Temporal Helm values against the
official chart's defaults (vendored in tests/deploy_reference/), the Dockerfile by reading its
instructions, and the Prometheus rules against the metric names the code exports.
"""

import json
import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from domain.platforms import Platform
from workflows.recording import platform_queue

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_DIR = DEPLOY / "compose"
K8S = DEPLOY / "k8s"
REFERENCE = ROOT / "tests" / "deploy_reference"

K8S_VERSIONS = ("1.33", "1.37")
"""The oldest Kubernetes the manifests promise, and the newest kubernetes-validate bundles."""

ONE_SHOT_JOBS = {"temporal-admin-tools", "temporal-init", "migrate"}
MEDIAOPS_SERVICES = {"temporal-init", "migrate", "worker", "api"}
LONG_DRAIN_SERVICES = {"worker", "api"}
WORKER_DRAIN_S = 60

METRICS: dict[str, tuple[str, ...]] = {
    "mediaops_inquiries_open": ("platform",),
    "mediaops_inquiries_at_risk": ("platform",),
    "mediaops_inquiries_breached": ("platform",),
    "mediaops_projection_lag_events": ("projection",),
    "mediaops_temporal_client_certificate_expiry_timestamp_seconds": (),
    "mediaops_publications_total": ("platform", "outcome"),
    "mediaops_platform_calls_total": ("platform", "call"),
    "mediaops_platform_errors_total": ("platform", "code"),
    "mediaops_api_requests_total": ("method", "route", "status"),
    "mediaops_api_request_duration_seconds": ("method", "route"),
}
"""The metric names (as Prometheus sees them) and labels the alert rules may use: a contract with
mediaops/observability.py."""
HISTOGRAMS = {"mediaops_api_request_duration_seconds"}


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def seconds(duration: str) -> float:
    """A Compose duration (`90s`, `1m30s`, `2m`) in seconds."""
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", duration)
    assert duration, "an empty duration"
    assert parts, f"not a duration: {duration!r}"
    hours, minutes, secs = (int(part or 0) for part in parts.groups())
    return hours * 3600 + minutes * 60 + secs


def strings(tree: Any) -> Iterator[str]:
    if isinstance(tree, str):
        yield tree
    elif isinstance(tree, dict):
        for value in tree.values():
            yield from strings(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from strings(value)


# --- Compose -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load(COMPOSE_DIR / "compose.yaml")


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def secret_names(service: dict[str, Any]) -> set[str]:
    return {item if isinstance(item, str) else item["source"] for item in service.get("secrets", [])}


def test_compose_file_matches_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads((REFERENCE / "compose-spec.json").read_text(encoding="utf-8"))
    errors = [
        f"{'.'.join(map(str, error.path))}: {error.message}"
        for error in jsonschema.Draft7Validator(schema).iter_errors(compose)
    ]
    assert errors == []


def test_every_service_has_an_image_a_command_and_a_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        assert service.get("image"), name
        assert service.get("command"), name
        check = service.get("healthcheck")
        assert check, f"{name}: no healthcheck"
        assert check.get("disable") is True or check.get("test"), name


def test_images_are_pinned(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        image = service["image"]
        if name in MEDIAOPS_SERVICES:
            assert image == "${MEDIAOPS_IMAGE:-mediaops:latest}", name  # the release is chosen at deploy
            continue
        repository, _, tag = image.rpartition(":")
        assert repository, name
        assert re.fullmatch(r"\d+(\.\d+)+(-[a-z]+)?", tag), f"{name}: {image} is not pinned"
    assert services["postgresql"]["image"].startswith("postgres:16.")
    for name, repository in [
        ("temporal-admin-tools", "temporalio/admin-tools"),
        ("temporal", "temporalio/server"),
        ("temporal-ui", "temporalio/ui"),
    ]:
        assert services[name]["image"].startswith(repository + ":"), name
    assert services["migrate"]["build"] == "../..", "migrate builds the image from the repository's root"


def test_one_shot_jobs_are_waited_on_until_they_succeed(services: dict[str, dict[str, Any]]) -> None:
    assert {name for name, service in services.items() if service.get("restart") == "no"} == ONE_SHOT_JOBS
    for name in ONE_SHOT_JOBS:
        assert services[name]["healthcheck"] == {"disable": True}, f"{name}: a job's exit code is its health"
    for name, service in services.items():
        for dependency, spec in service.get("depends_on", {}).items():
            assert isinstance(spec, dict), f"{name}: depends_on {dependency} needs a condition"
            expected = "service_completed_successfully" if dependency in ONE_SHOT_JOBS else "service_healthy"
            assert spec.get("condition") == expected, f"{name} -> {dependency}"


def test_long_running_services_restart_and_have_real_health_checks(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        if name in ONE_SHOT_JOBS:
            continue
        assert service["restart"] == "unless-stopped", name
        test = service["healthcheck"]["test"]
        assert test[0] in ("CMD", "CMD-SHELL"), name
        assert len(test) > 1, name
    for name, port in [("worker", 9464), ("api", 9464)]:  # the ops port's /readyz
        probe = " ".join(services[name]["healthcheck"]["test"])
        assert f"http://127.0.0.1:{port}/readyz" in probe, name
        assert not re.search(r"\b(curl|wget)\b", probe), f"{name}: python-slim has neither"


def test_depends_on_names_existing_services_and_has_no_cycle(services: dict[str, dict[str, Any]]) -> None:
    graph = {name: set(service.get("depends_on", {})) for name, service in services.items()}
    for name, dependencies in graph.items():
        assert dependencies <= graph.keys(), f"{name}: {dependencies - graph.keys()}"
    done: set[str] = set()
    while len(done) < len(graph):
        ready = {name for name, dependencies in graph.items() if name not in done and dependencies <= done}
        assert ready, f"a depends_on cycle among {graph.keys() - done}"
        done |= ready


def test_the_start_order(services: dict[str, dict[str, Any]]) -> None:
    def deps(name: str) -> set[str]:
        return set(services[name].get("depends_on", {}))

    assert deps("temporal-admin-tools") == {"postgresql"}
    assert "temporal-admin-tools" in deps("temporal")
    assert deps("temporal-init") == {"temporal"}
    assert deps("migrate") == {"postgresql"}
    for name in LONG_DRAIN_SERVICES:
        assert {"migrate", "temporal-init"} <= deps(name), name
    assert services["worker"]["deploy"]["replicas"] >= 2


def test_the_mediaops_services_run_the_right_command(services: dict[str, dict[str, Any]]) -> None:
    for name in MEDIAOPS_SERVICES:
        assert services[name]["command"] == [name], name
        env = environment(services[name])
        assert env["MEDIAOPS_ENV"] == "production", name
        assert env["MEDIAOPS_SECRETS_DIR"] == "/run/secrets", name
        assert env["TEMPORAL_NAMESPACE"] == "mediaops", name
        assert env["MEDIAOPS_METRICS_ADDRESS"].endswith(":9464"), name
        assert services[name]["read_only"] is True, name
        assert {"database_url", "mediaops_codec_keys", "mediaops_command_keys"} <= secret_names(
            services[name]
        ), name


SECRET_WORDS = re.compile(r"PASSWORD|PASSWD|PWD|SECRET|TOKEN|API_KEY|(^|_)KEY(S)?$", re.IGNORECASE)
CREDENTIALS_IN_URL = re.compile(r"://[^/\s:@]+:[^/\s@]+@")


def is_secret_path(value: str) -> bool:
    """The secrets' folder, or a file in it: where a secret's setting points, instead of holding it."""
    return value == "/run/secrets" or value.startswith("/run/secrets/")


def test_no_secret_is_written_in_the_compose_file(services: dict[str, dict[str, Any]]) -> None:
    text = (COMPOSE_DIR / "compose.yaml").read_text(encoding="utf-8")
    assert not CREDENTIALS_IN_URL.search(text), "a URL with a password in it"
    assert "-----BEGIN" not in text, "a PEM block"
    for name, service in services.items():
        for key, value in environment(service).items():
            assert "password=" not in value.lower(), f"{name}: {key}"
            assert not CREDENTIALS_IN_URL.search(value), f"{name}: {key}"
            if SECRET_WORDS.search(key):
                # a secret's setting holds a path to its file (or is the *_FILE variant), never the value
                assert is_secret_path(value), f"{name}: {key}={value!r} is not a secret file"


def test_the_secret_checks_catch_a_literal() -> None:
    assert CREDENTIALS_IN_URL.search("postgresql://mediaops_app:hunter2@postgresql:5432/mediaops")
    assert not CREDENTIALS_IN_URL.search("http://localhost:8000/codec")
    for secret in ("POSTGRES_PASSWORD", "MEDIAOPS_CODEC_KEYS", "TEMPORAL_TLS_KEY", "SQL_PASSWORD"):
        assert SECRET_WORDS.search(secret), secret
    assert not SECRET_WORDS.search("TEMPORAL_ADDRESS")
    assert is_secret_path("/run/secrets/database_url")
    assert not is_secret_path("hunter2")


def test_secrets_are_files_under_secrets(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    declared = compose["secrets"]
    for name, spec in declared.items():
        assert spec == {"file": f"./secrets/{name}"}, f"{name}: only a file under ./secrets/, of its name"
    for name, service in services.items():
        assert secret_names(service) <= declared.keys(), name
        # every /run/secrets/<file> a service is told about is mounted in it
        mounted = secret_names(service)
        for value in strings(
            {k: v for k, v in service.items() if k in ("environment", "command", "entrypoint")}
        ):
            for file in re.findall(r"/run/secrets/([A-Za-z0-9._-]+)", value):
                assert file in mounted, f"{name}: /run/secrets/{file} is not mounted"


def test_only_migrate_gets_the_schema_owners_url(services: dict[str, dict[str, Any]]) -> None:
    holders = {name for name, service in services.items() if "database_admin_url" in secret_names(service)}
    assert holders == {"migrate"}


def test_the_init_script_sets_passwords_from_secret_files(services: dict[str, dict[str, Any]]) -> None:
    postgresql = services["postgresql"]
    assert environment(postgresql)["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert "./initdb:/docker-entrypoint-initdb.d:ro" in postgresql["volumes"]
    assert "pg_isready" in " ".join(postgresql["healthcheck"]["test"])
    scripts = sorted((COMPOSE_DIR / "initdb").glob("*.sql"))
    assert scripts
    text = "\n".join(script.read_text(encoding="utf-8") for script in scripts)
    assert not re.search(r"PASSWORD\s+'", text), "a password literal"
    for file in re.findall(r"/run/secrets/([A-Za-z0-9._-]+)", text):
        assert file in secret_names(postgresql), file
    for role in ("mediaops", "mediaops_app", "temporal"):
        assert re.search(rf"CREATE ROLE {role} LOGIN", text), role
    assert "CREATE DATABASE mediaops OWNER mediaops" in text


def test_worker_and_api_outlast_the_drain(services: dict[str, dict[str, Any]]) -> None:
    for name in LONG_DRAIN_SERVICES:
        assert seconds(services[name]["stop_grace_period"]) > WORKER_DRAIN_S, name
    assert seconds("1m30s") == 90


def published_origin(service: dict[str, Any], container_port: int) -> str:
    for mapping in service["ports"]:
        host_port, port = str(mapping).rsplit(":", 2)[-2:]
        if int(port) == container_port:
            return f"http://localhost:{host_port}"
    raise AssertionError(f"port {container_port} is not published")


def test_the_ui_decodes_through_the_apis_codec(services: dict[str, dict[str, Any]]) -> None:
    ui = environment(services["temporal-ui"])
    endpoint = ui["TEMPORAL_CODEC_ENDPOINT"]
    assert endpoint.endswith("/codec")
    assert ui["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true"
    # the browser calls the codec: the API's URL as published, and the API's CORS allows the UI
    api_origin = published_origin(services["api"], 8000)
    assert endpoint == f"{api_origin}/codec"
    ui_origin = published_origin(services["temporal-ui"], 8080)
    assert environment(services["api"])["MEDIAOPS_TEMPORAL_UI_ORIGIN"] == ui_origin
    assert ui["TEMPORAL_ADDRESS"] == environment(services["api"])["TEMPORAL_ADDRESS"]


def test_temporal_requires_client_certificates(services: dict[str, dict[str, Any]]) -> None:
    server = environment(services["temporal"])
    assert server["DB"] == "postgres12"
    assert server["TEMPORAL_TLS_REQUIRE_CLIENT_AUTH"] == "true"
    for key in ("TEMPORAL_TLS_FRONTEND_CERT", "TEMPORAL_TLS_FRONTEND_KEY", "TEMPORAL_TLS_CLIENT1_CA_CERT"):
        assert server[key].startswith("/run/secrets/"), key
    assert "POSTGRES_PWD" not in server, "the password comes from its file, in the command"
    name = server["TEMPORAL_TLS_FRONTEND_SERVER_NAME"]
    for client in ("temporal-ui", "worker", "api", "temporal-init"):
        env = environment(services[client])
        assert env.get("TEMPORAL_TLS_SERVER_NAME", env.get("MEDIAOPS_TEMPORAL_TLS_SERVER_NAME")) == name, (
            client
        )
    schema_job = " ".join(services["temporal-admin-tools"]["command"])
    for database in ("temporal", "temporal_visibility"):
        assert f"--db {database} update-schema" in schema_job, database
    assert environment(services["temporal-admin-tools"])["SQL_PLUGIN"] == "postgres12"


def test_the_files_compose_mounts_are_in_the_repository(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    files = [COMPOSE_DIR / spec["file"] for spec in compose["configs"].values()]
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                files.append(COMPOSE_DIR / source)
    files.append(COMPOSE_DIR / services["migrate"]["build"] / "Dockerfile")
    files.append(
        COMPOSE_DIR / "temporal" / Path(environment(services["temporal"])["DYNAMIC_CONFIG_FILE_PATH"]).name
    )
    for file in files:
        assert file.exists(), file
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    relative = [str(file.resolve().relative_to(ROOT)) for file in files]
    ignored = subprocess.run(
        [git, "check-ignore", *relative], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.split()
    assert ignored == [], "a fresh clone would not have them"


def test_the_secrets_folder_commits_no_secret() -> None:
    folder = COMPOSE_DIR / "secrets"
    patterns = [line for line in (folder / ".gitignore").read_text(encoding="utf-8").splitlines() if line]
    assert [line for line in patterns if not line.startswith("#")] == ["*", "!.gitignore", "!README.md"]
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(
        [git, "ls-files", "deploy/compose/secrets"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert set(tracked) <= {"deploy/compose/secrets/.gitignore", "deploy/compose/secrets/README.md"}
    ignored = subprocess.run(
        [git, "check-ignore", "-q", "deploy/compose/secrets/database_url"], cwd=ROOT, check=False
    )
    assert ignored.returncode == 0, "a secret file there would not be ignored"


# --- Kubernetes ----------------------------------------------------------------------------------


def k8s_documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(K8S.rglob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document:
                found.append((str(path.relative_to(K8S)), document))
    return found


DOCUMENTS = k8s_documents()


def objects(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in DOCUMENTS if doc["kind"] == kind}


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize(
    ("path", "document"), DOCUMENTS, ids=[f"{p}:{d['kind']}/{d['metadata']['name']}" for p, d in DOCUMENTS]
)
def test_manifest_validates_strictly(path: str, document: dict[str, Any], version: str) -> None:
    kubernetes_validate.validate(document, version, strict=True)
    assert document["metadata"].get("namespace", "mediaops") == "mediaops" or document["kind"] == "Namespace"


def test_strict_validation_refuses_an_unknown_field() -> None:
    deployment = json.loads(json.dumps(objects("Deployment")["mediaops-worker"]))
    deployment["spec"]["template"]["spec"]["terminationGracePeriod"] = 90  # a typo
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[-1], strict=True)


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


def workloads() -> dict[str, dict[str, Any]]:
    return {**objects("Deployment"), **objects("Job")}


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and selector.items() <= labels.items()


def test_every_pod_is_locked_down() -> None:
    assert workloads()
    for name, workload in workloads().items():
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] == 10001, name
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec["enableServiceLinks"] is False, f"{name}: Service links would set MEDIAOPS_API_PORT"
        assert spec["automountServiceAccountToken"] is False, name
        mounts_by_volume = {volume["name"]: volume for volume in spec["volumes"]}
        for container in spec["containers"] + spec.get("initContainers", []):
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True, name
            assert context["runAsUser"] == 10001, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert context["seccompProfile"]["type"] == "RuntimeDefault", name
            assert container["resources"]["requests"].keys() >= {"cpu", "memory"}, name
            assert "memory" in container["resources"]["limits"], name
            invocation = container["command"] + container.get("args", [])
            assert invocation[0] == "mediaops" or "exec mediaops " in " ".join(invocation), name
            mounts = {
                mount["mountPath"]: mounts_by_volume[mount["name"]] for mount in container["volumeMounts"]
            }
            for writable in ("/var/lib/mediaops", "/tmp"):  # noqa: S108 (the mount paths checked)
                assert "emptyDir" in mounts[writable], f"{name}: {writable}"
            assert mounts["/run/secrets"].keys() & {"secret", "projected"}, name


def test_deployments_probe_drain_and_roll_safely() -> None:
    deployments = objects("Deployment")
    assert deployments.keys() == {"mediaops-worker", "mediaops-api"}
    for name, deployment in deployments.items():
        spec = pod_spec(deployment)
        assert deployment["spec"]["replicas"] >= 2, name
        assert spec["terminationGracePeriodSeconds"] > WORKER_DRAIN_S, name
        rolling = deployment["spec"]["strategy"]["rollingUpdate"]
        assert rolling["maxUnavailable"] == 0, f"{name}: a new pod polls before an old one stops"
        assert rolling["maxSurge"] == 1, name
        assert selects(
            deployment["spec"]["selector"]["matchLabels"],
            deployment["spec"]["template"]["metadata"]["labels"],
        )
        (container,) = spec["containers"]
        ports = {port["name"]: port["containerPort"] for port in container["ports"]}
        assert ports["ops"] == 9464, name
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert container[probe]["httpGet"]["port"] in ports, f"{name}: {probe}"
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert int(annotations["prometheus.io/port"]) == ports["ops"]
        secrets = next(v for v in spec["volumes"] if v["name"] == "secrets")
        assert secrets["secret"]["secretName"] == "mediaops", f"{name}: never the owner's URL"
    worker = pod_spec(deployments["mediaops-worker"])["containers"][0]
    assert worker["command"] == ["mediaops", "worker"]
    assert worker["readinessProbe"]["httpGet"]["port"] == "ops"
    api = pod_spec(deployments["mediaops-api"])["containers"][0]
    assert api["command"] == ["mediaops", "api"]
    assert {port["name"]: port["containerPort"] for port in api["ports"]}["http"] == 8000
    assert api["readinessProbe"]["httpGet"]["port"] == "ops", "PostgreSQL only: Temporal away keeps the inbox"
    assert api["livenessProbe"]["httpGet"]["port"] == "http"


def test_a_disruption_budget_covers_each_deployment() -> None:
    budgets = objects("PodDisruptionBudget")
    for name, deployment in objects("Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        covering = [b for b in budgets.values() if selects(b["spec"]["selector"]["matchLabels"], labels)]
        assert len(covering) == 1, name
        assert covering[0]["spec"]["minAvailable"] == 1, name


def test_services_select_their_pods() -> None:
    services = objects("Service")
    deployments = objects("Deployment")
    labels = {name: d["spec"]["template"]["metadata"]["labels"] for name, d in deployments.items()}
    api = services["mediaops-api"]
    assert selects(api["spec"]["selector"], labels["mediaops-api"])
    assert not selects(api["spec"]["selector"], labels["mediaops-worker"])
    (port,) = api["spec"]["ports"]
    assert port["port"] == 80
    assert port["targetPort"] == "http"
    metrics = services["mediaops-metrics"]
    assert all(selects(metrics["spec"]["selector"], pod_labels) for pod_labels in labels.values())
    for job in objects("Job").values():
        assert not selects(metrics["spec"]["selector"], job["spec"]["template"]["metadata"]["labels"])
    hpa = objects("HorizontalPodAutoscaler")["mediaops-api"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "mediaops-api"


def test_the_jobs_run_migrate_and_temporal_init() -> None:
    jobs = objects("Job")
    migrate = jobs["mediaops-migrate"]
    assert pod_spec(migrate)["containers"][0]["command"] == ["mediaops", "migrate"]
    init = jobs["mediaops-temporal-init"]
    assert pod_spec(init)["containers"][0]["command"] == ["mediaops", "temporal-init"]
    for job in (migrate, init):
        assert job["spec"]["backoffLimit"] >= 1
        assert job["spec"]["ttlSecondsAfterFinished"] > 0
        assert pod_spec(job)["restartPolicy"] == "Never"

    def secrets_mounted(workload: dict[str, Any]) -> set[str]:
        names = set()
        for volume in pod_spec(workload)["volumes"]:
            if "secret" in volume:
                names.add(volume["secret"]["secretName"])
            for source in volume.get("projected", {}).get("sources", []):
                names.add(source["secret"]["name"])
        return names

    holders = {
        name for name, workload in workloads().items() if "mediaops-migrate" in secrets_mounted(workload)
    }
    assert holders == {"mediaops-migrate"}, "only the migration Job gets the schema owner's URL"


def test_the_configmap_and_the_example_secret_agree() -> None:
    settings = objects("ConfigMap")["mediaops"]["data"]
    assert settings["MEDIAOPS_ENV"] == "production"
    assert settings["MEDIAOPS_SECRETS_DIR"] == "/run/secrets"
    assert settings["MEDIAOPS_METRICS_ADDRESS"] == "0.0.0.0:9464"
    assert settings["MEDIAOPS_API_PORT"] == "8000"
    for key, value in settings.items():
        assert not SECRET_WORDS.search(key) or is_secret_path(value), key
    example = objects("Secret")
    keys = set(example["mediaops"]["stringData"])
    for value in settings.values():
        for file in re.findall(r"^/run/secrets/([A-Za-z0-9._-]+)$", value):
            assert file in keys, f"{file} is not a key of the Secret mediaops"
    assert {"database_url", "mediaops_codec_keys", "mediaops_command_keys"} <= keys
    assert set(example["mediaops-migrate"]["stringData"]) == {"database_admin_url"}
    for secret in example.values():
        assert secret["type"] == "Opaque"
        for value in secret["stringData"].values():
            assert "CHANGE-ME" in value, "the example holds placeholders only"


def test_the_kustomization_lists_every_manifest_but_the_example_secret() -> None:
    kustomization = load(K8S / "kustomization.yaml")
    listed = kustomization["resources"]
    expected = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert sorted(listed) == sorted(expected)
    assert len(listed) == len(set(listed))
    for name in listed:
        assert all(document["kind"] != "Secret" for document in yaml.safe_load_all((K8S / name).read_text()))
    images = {image["name"] for image in kustomization["images"]}
    for workload in workloads().values():
        for container in pod_spec(workload)["containers"]:
            assert container["image"].rsplit(":", 1)[0] in images


# --- The Temporal Helm values --------------------------------------------------------------------


@pytest.fixture(scope="module")
def chart_text() -> str:
    return (REFERENCE / "temporal-chart-values.yaml").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def chart(chart_text: str) -> dict[str, Any]:
    return yaml.safe_load(chart_text)


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    return load(DEPLOY / "helm" / "temporal-values.yaml")


def commented_block(text: str, marker: str) -> dict[str, Any]:
    """The YAML example the chart documents in comments, from the line `marker` (e.g. `# sql:`) to
    the end of what is indented under it."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == marker)
    indent = lines[start].index("#")
    block = []
    for line in lines[start:]:
        if not line.startswith(" " * indent + "#"):
            break
        content = line[indent + 1 :].removeprefix(" ")
        if block and content and not content.startswith(" "):
            break
        block.append(content)
    return yaml.safe_load("\n".join(block))


def reference(chart: dict[str, Any], chart_text: str) -> dict[str, Any]:
    """The chart's defaults, with the blocks its values.yaml documents only as comments: a SQL
    datastore, and the server's TLS."""
    tree = json.loads(json.dumps(chart))
    sql = commented_block(chart_text, "# sql:")
    datastores = tree["server"]["config"]["persistence"]["datastores"]
    datastores["default"] = datastores["visibility"] = sql
    tree["server"]["config"]["tls"] = commented_block(chart_text, "# tls:")["tls"]
    # Rendered whole by the chart's templates/server-dynamicconfigmap.yaml (its example:
    # values/values.dynamic_config.yaml), so it has no defaults to compare with: any key goes.
    tree["server"]["dynamicConfig"] = {}
    return tree


def key_paths(tree: dict[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for key, value in tree.items():
        yield (*prefix, key)
        if isinstance(value, dict):
            yield from key_paths(value, (*prefix, key))


def known(ref: Any, path: tuple[str, ...], *, exact: bool) -> bool:
    """Whether the chart knows `path`; past a free-form value ({}, [], null) anything goes unless `exact`."""
    node = ref
    for key in path:
        if isinstance(node, dict) and node:
            if key not in node:
                return False
            node = node[key]
        else:
            return not exact
    return True


def test_the_vendored_values_are_the_pinned_chart(chart_text: str) -> None:
    header = re.search(
        r"tag temporal-(\d+\.\d+\.\d+) \(chart version (\d+\.\d+\.\d+), appVersion ([\d.]+)\)", chart_text
    )
    assert header, "the vendored file names its release"
    tag, version, app_version = header.groups()
    assert tag == version
    assert "The MIT License" in chart_text
    assert re.search(r"commit [0-9a-f]{40}", chart_text)
    readme = (DEPLOY / "helm" / "README.md").read_text(encoding="utf-8")
    assert f"--version {version} " in readme
    assert f"chart version {version}" in (DEPLOY / "helm" / "temporal-values.yaml").read_text(
        encoding="utf-8"
    )
    chart = yaml.safe_load(chart_text)
    assert chart["server"]["image"]["tag"] == app_version


def test_the_commented_examples_are_read(chart_text: str) -> None:
    sql = commented_block(chart_text, "# sql:")["sql"]
    assert {"pluginName", "connectAddr", "existingSecret", "createDatabase", "manageSchema"} <= sql.keys()
    assert "cassandra" not in sql
    tls = commented_block(chart_text, "# tls:")["tls"]
    assert tls.keys() == {"internode", "frontend"}


def test_the_persistence_keys_are_the_charts(
    values: dict[str, Any], chart: dict[str, Any], chart_text: str
) -> None:
    ref = reference(chart, chart_text)["server"]["config"]["persistence"]
    ours = values["server"]["config"]["persistence"]
    unknown = [".".join(path) for path in key_paths(ours) if not known(ref, path, exact=True)]
    assert unknown == []
    assert not known(ref, ("datastores", "default", "sql", "pasword"), exact=True)  # the check can fail


def test_every_value_is_a_key_of_the_chart(
    values: dict[str, Any], chart: dict[str, Any], chart_text: str
) -> None:
    ref = reference(chart, chart_text)
    unknown = [".".join(path) for path in key_paths(values) if not known(ref, path, exact=False)]
    assert unknown == []


def test_both_stores_are_postgres(values: dict[str, Any]) -> None:
    persistence = values["server"]["config"]["persistence"]
    assert persistence["defaultStore"] == "default"
    assert persistence["visibilityStore"] == "visibility"
    for store, database in [("default", "temporal"), ("visibility", "temporal_visibility")]:
        datastore = persistence["datastores"][store]
        assert datastore.keys() == {"sql"}, f"{store}: the driver is sql"
        sql = datastore["sql"]
        assert sql["pluginName"] == "postgres12", store
        assert sql["driverName"] == "postgres12", store
        assert sql["databaseName"] == database
        assert re.fullmatch(r"[^:]+:\d+", sql["connectAddr"]), f"{store}: the chart needs host:port"
        assert sql["existingSecret"], f"{store}: the password is a Secret's"
        assert "password" not in sql, f"{store}: the password is a Secret's"
        assert sql["createDatabase"] is True, f"{store}: the schema Job creates the database"
        assert sql["manageSchema"] is True, f"{store}: the schema Job runs temporal-sql-tool"


def test_no_database_or_monitoring_subchart(values: dict[str, Any], chart: dict[str, Any]) -> None:
    subcharts = {"cassandra", "mysql", "elasticsearch", "prometheus", "grafana"}
    # Since chart 1.0 these are gone: they are off by being absent, in the chart and in our values.
    assert not subcharts & chart.keys()
    assert not subcharts & values.keys()
    drivers = {d for store in values["server"]["config"]["persistence"]["datastores"].values() for d in store}
    assert drivers == {"sql"}


def test_the_ui_and_the_frontend_speak_mutual_tls(values: dict[str, Any]) -> None:
    tls = values["server"]["config"]["tls"]
    assert tls["frontend"]["server"]["requireClientAuth"] is True
    assert tls["internode"]["server"]["requireClientAuth"] is True
    mounts = [mount["mountPath"] for mount in values["server"]["additionalVolumeMounts"]]
    for path in strings(tls):
        if path.startswith("/"):
            assert any(path.startswith(mount + "/") for mount in mounts), f"{path} is not mounted"
    for component in ("web", "admintools"):
        env = {item["name"]: item["value"] for item in values[component]["additionalEnv"]}
        client_mounts = [mount["mountPath"] for mount in values[component]["additionalVolumeMounts"]]
        for key in ("TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY", "TEMPORAL_TLS_CA"):
            assert any(env[key].startswith(mount + "/") for mount in client_mounts), f"{component}: {key}"
    web = {item["name"]: item["value"] for item in values["web"]["additionalEnv"]}
    assert web["TEMPORAL_CODEC_ENDPOINT"].endswith("/codec")
    assert web["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true"


# --- The Dockerfile ------------------------------------------------------------------------------


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined and comments dropped."""
    joined: list[str] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    result = []
    for line in joined:
        keyword, _, arguments = line.partition(" ")
        result.append((keyword.upper(), arguments.strip()))
    return result


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return instructions(ROOT / "Dockerfile")


def stages(dockerfile: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for instruction in dockerfile:
        if instruction[0] == "FROM":
            found.append([])
        if found:
            found[-1].append(instruction)
    return found


def test_the_image_is_python_slim_in_two_stages(dockerfile: list[tuple[str, str]]) -> None:
    args = dict(arg.split("=", 1) for keyword, arg in dockerfile if keyword == "ARG" and "=" in arg)
    build, runtime = stages(dockerfile)
    for stage in (build, runtime):
        base = stage[0][1].split()[0]
        assert args.get(base.strip("${}"), base) == "python:3.11-slim-bookworm"
    assert build[0][1].endswith(" AS build")
    assert ("COPY", "--from=build /opt/mediaops /opt/mediaops") in runtime


def test_the_image_installs_the_pinned_release_dependencies_only(dockerfile: list[tuple[str, str]]) -> None:
    installs = [arg for keyword, arg in dockerfile if keyword == "RUN" and "pip install" in arg]
    assert len(installs) == 1
    (install,) = installs
    assert "--constraint constraints.txt" in install
    assert re.search(r"pip install --no-cache-dir --constraint constraints\.txt \.( |$)", install)
    for keyword, arg in dockerfile:
        assert not re.search(r"\[dev\]|--editable|\s-e\s", arg), (keyword, arg)


def test_the_image_runs_as_its_own_user(dockerfile: list[tuple[str, str]]) -> None:
    runtime = stages(dockerfile)[-1]
    users = [arg for keyword, arg in runtime if keyword == "USER"]
    assert users == ["10001"], "the last stage runs as uid 10001"
    assert users[0].split(":")[0] not in ("root", "0")
    created = " ".join(arg for keyword, arg in runtime if keyword == "RUN")
    for option in ("--uid 10001", "--gid 10001"):
        assert option in created, option
    env = " ".join(arg for keyword, arg in runtime if keyword == "ENV")
    for setting in (
        "MEDIAOPS_ENV=production",
        "MEDIAOPS_HOME=/var/lib/mediaops",
        "PYTHONDONTWRITEBYTECODE=1",
        "PYTHONUNBUFFERED=1",
    ):
        assert setting in env.split(), setting
    assert ("WORKDIR", "/app") in runtime
    assert json.loads(dict(runtime)["ENTRYPOINT"]) == ["mediaops"]
    assert json.loads(dict(runtime)["CMD"]) == ["api"]
    assert set(dict(runtime)["EXPOSE"].split()) == {"8000", "9464"}


def test_the_build_context_holds_every_package_and_no_secret() -> None:
    ignore = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert ignore[0] == "*", "an allowlist"
    allowed = {line[1:] for line in ignore if line.startswith("!")}
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {
        pattern.rstrip("*") for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    assert packages <= allowed, f"pip install . would miss {packages - allowed}"
    assert {"pyproject.toml", "constraints.txt", pyproject["project"]["readme"]} <= allowed
    assert "deploy/compose" in ignore, "the operator's secrets stay out of the build"
    assert not allowed & {"tests", ".git", ".venv", ".mediaops"}


# --- The Prometheus rules ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rules() -> list[dict[str, Any]]:
    document = load(DEPLOY / "prometheus" / "alerts.yml")
    assert document.keys() == {"groups"}
    found = []
    for group in document["groups"]:
        assert group["name"]
        assert group["rules"], group["name"]
        found += group["rules"]
    return found


def test_every_rule_is_a_complete_alert(rules: list[dict[str, Any]]) -> None:
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    for rule in rules:
        assert rule["expr"].strip(), rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        assert rule["annotations"]["description"].strip(), rule["alert"]


def metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\b(mediaops_[a-z0-9_]+)", expr))


def test_the_rules_use_only_the_exported_metrics(rules: list[dict[str, Any]]) -> None:
    allowed = set(METRICS) | {f"{name}_{part}" for name in HISTOGRAMS for part in ("bucket", "sum", "count")}
    for rule in rules:
        assert metric_names(rule["expr"]) <= allowed, rule["alert"]
        for group in re.findall(r"\bby\s*\(([^)]*)\)", rule["expr"]):
            labels = {label.strip() for label in group.split(",")}
            available = {"job", "instance"}
            for name in metric_names(rule["expr"]):
                available |= set(METRICS.get(name.removesuffix("_bucket"), ()))
            assert labels <= available, f"{rule['alert']}: by ({group})"
    assert metric_names("rate(mediaops_publications[5m])") - allowed, "the check can fail"


def test_the_contract_is_the_codes(rules: list[dict[str, Any]]) -> None:
    from mediaops import observability

    exported = {}
    for metric in vars(observability).values():
        if isinstance(metric, MetricWrapperBase):
            family = metric.describe()[0]
            name = family.name + ("_total" if family.type == "counter" else "")
            exported[name] = set(metric._labelnames)
    assert set(METRICS) <= exported.keys()
    for name, labels in METRICS.items():
        assert set(labels) <= exported[name], name


def test_the_alerts_the_department_needs(rules: list[dict[str, Any]]) -> None:
    by_metric: dict[str, list[dict[str, Any]]] = {}
    for rule in rules:
        for name in metric_names(rule["expr"]) | set(re.findall(r"\b(temporal_[a-z_]+|up)\b", rule["expr"])):
            by_metric.setdefault(name, []).append(rule)
    (breach,) = by_metric["mediaops_inquiries_breached"]
    assert breach["labels"]["severity"] == "critical"
    assert "R-INQUIRY-12H" in breach["annotations"]["description"]
    (risk,) = by_metric["mediaops_inquiries_at_risk"]
    assert risk["labels"]["severity"] == "warning"
    (lag,) = by_metric["mediaops_projection_lag_events"]
    assert "> 100" in lag["expr"]
    assert lag["for"] == "10m"
    (failures,) = by_metric["temporal_workflow_task_execution_failed"]
    assert "_total" not in failures["expr"], "the SDK's Core exporter names counters without _total"
    (errors,) = by_metric["mediaops_platform_errors_total"]
    assert "mediaops_platform_calls_total" in errors["expr"]
    assert "> 0.2" in errors["expr"]
    (doubt,) = by_metric["mediaops_publications_total"]
    assert 'outcome="unknown"' in doubt["expr"]
    (expiry,) = by_metric["mediaops_temporal_client_certificate_expiry_timestamp_seconds"]
    assert "14 * 86400" in expiry["expr"]
    (down,) = by_metric["up"]
    assert 'job=~"mediaops.*"' in down["expr"]


def test_every_alert_has_a_promtool_unit_test(rules: list[dict[str, Any]]) -> None:
    tests = load(DEPLOY / "prometheus" / "alerts_test.yml")
    assert tests["rule_files"] == ["alerts.yml"]
    tested = {case["alertname"] for test in tests["tests"] for case in test["alert_rule_test"]}
    assert tested == {rule["alert"] for rule in rules}


def test_urls_in_the_guides_are_consistent() -> None:
    compose = load(COMPOSE_DIR / "compose.yaml")
    endpoint = environment(compose["services"]["temporal-ui"])["TEMPORAL_CODEC_ENDPOINT"]
    assert urlsplit(endpoint).path == "/codec"
    guide = (COMPOSE_DIR / "README.md").read_text(encoding="utf-8")
    assert f"{urlsplit(endpoint).scheme}://{urlsplit(endpoint).netloc}/codec/session" in guide


# --- One partition per platform queue, so its rate limit is one token bucket -------------------------


def single_partition_queues(dynamic_config: dict[str, Any]) -> dict[str, set[str]]:
    return {
        key: {
            entry["constraints"]["taskQueueName"]
            for entry in dynamic_config.get(key, [])
            if entry["value"] == 1 and "taskQueueName" in entry.get("constraints", {})
        }
        for key in ("matching.numTaskqueueReadPartitions", "matching.numTaskqueueWritePartitions")
    }


@pytest.mark.parametrize("where", ["compose", "helm"])
def test_every_platform_queue_has_one_partition(where: str, values: dict[str, Any]) -> None:
    """workers/worker.py `dispatch_rate` holds the policy's rate only on a single partition."""
    dynamic_config = (
        load(DEPLOY / "compose" / "temporal" / "mediaops.yaml")
        if where == "compose"
        else values["server"]["dynamicConfig"]
    )
    queues = {platform_queue(platform) for platform in Platform}
    for key, found in single_partition_queues(dynamic_config).items():
        assert found == queues, f"{where}: {key}"
