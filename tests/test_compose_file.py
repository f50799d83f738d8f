"""The root docker-compose.yml against the code and deploy/Dockerfile: every registered verifier has a consumer,
health checks are CMD-SHELL, Redis keeps an AOF, the gateway and the non-sandbox workers run unprivileged on a
read-only root filesystem, the code worker has exactly the privileges the Dockerfile documents and nothing else
has any, SIGTERM gets time to drain. Each check runs on the file as PyYAML reads it and, where the compose v2
plugin is installed (CI installs it: deploy/docker-setup.sh), on `docker compose config`'s resolved form too,
which also validates the file. deploy/compose-smoke.sh runs the stack for real.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from rlvr_services import constants
from rlvr_services.auth import load_api_keys
from rlvr_services.backends.config import OpenAIBackend, load_backends
from rlvr_services.runtime.registry import BUILTIN_MODULES, load_plugins
from rlvr_services.runtime.verifier import Execution
from rlvr_services.settings import GatewaySettings, WorkerSettings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
PROFILES = ("judge", "judge-backend")
RLVR_IMAGE = "rlvr-stack:local"
SOURCES = ("pyyaml", "compose")
YAML_CFG: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())


def compose_plugin() -> str | None:
    """`docker` when the compose v2 plugin answers, else None."""
    docker = shutil.which("docker")
    if docker is None:
        return None
    done = subprocess.run([docker, "compose", "version"], capture_output=True, text=True, timeout=30)
    return docker if done.returncode == 0 else None


@functools.cache
def compose_config(source: str) -> dict[str, Any]:
    if source == "pyyaml":
        data: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
        return data
    docker = compose_plugin()
    if docker is None:
        pytest.skip("no compose v2 plugin here (deploy/docker-setup.sh --no-start installs it)")
    profiles = [arg for p in PROFILES for arg in ("--profile", p)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RLVR_COMPOSE_", "COMPOSE_"))}
    done = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE_FILE), "-p", "rlvr-test", *profiles, "config", "--format", "json"],
        capture_output=True, text=True, timeout=60, env=env, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, f"docker compose config rejects the file:\n{done.stderr}"
    resolved: dict[str, Any] = json.loads(done.stdout)
    return resolved


def services(cfg: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = cfg["services"]
    return found


def command(svc: dict[str, Any]) -> list[str]:
    cmd = svc.get("command") or []
    return cmd.split() if isinstance(cmd, str) else [str(c) for c in cmd]


def env(svc: dict[str, Any]) -> dict[str, str]:
    raw = svc.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {str(k): str(v) for k, v in raw.items()}


def worker_verifiers(svc: dict[str, Any]) -> list[str] | None:
    """The verifiers a `rlvr worker` service consumes (None: not a worker)."""
    cmd = command(svc)
    if svc.get("image") != RLVR_IMAGE or cmd[:1] != ["worker"]:
        return None
    names = cmd[cmd.index("--verifier") + 1] if "--verifier" in cmd else env(svc).get("RLVR_VERIFIER")
    assert names, f"a worker without --verifier / RLVR_VERIFIER: {cmd}"
    return WorkerSettings(verifier=names).verifiers


def workers(cfg: dict[str, Any]) -> dict[str, list[str]]:
    out = {}
    for name, svc in services(cfg).items():
        verifiers = worker_verifiers(svc)
        if verifiers is not None:
            out[name] = verifiers
    return out


def rlvr_services(cfg: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run the rlvr image (deploy/Dockerfile): the gateway and the workers."""
    return {n: s for n, s in services(cfg).items() if s.get("image") == RLVR_IMAGE}


def gateway(cfg: dict[str, Any]) -> dict[str, Any]:
    (svc,) = [s for s in rlvr_services(cfg).values() if command(s)[:1] == ["serve"]]
    return svc


def sandbox_service(cfg: dict[str, Any]) -> str:
    (name,) = [n for n, v in workers(cfg).items() if "code" in v]
    return name


def builtin_classes() -> dict[str, Any]:
    """The built-in verifiers (plug-ins registered by other tests in this process left out)."""
    registry = load_plugins()
    return {cls.name: cls for cls in registry.classes() if cls.__module__ in BUILTIN_MODULES}


def fields(short: str) -> list[str]:
    """A short-syntax volume or port split at its colons, a ${VAR:-default} counting as one field."""
    return re.findall(r"(?:\$\{[^}]*\}|[^:$])+", short)


def seconds(value: Any) -> float:
    """A compose duration (30s, 1m30s, 1m0s) in seconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s|us)", str(value))
    assert parts, f"not a duration: {value!r}"
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6}
    return sum(float(n) * scale[u] for n, u in parts)


def documented_capabilities() -> set[str]:
    """The capabilities deploy/Dockerfile documents for the jail (as tests/test_helm_chart.py reads them)."""
    return {c.removeprefix("CAP_") for c in re.findall(r"CAP_[A-Z_]+", DOCKERFILE.read_text())}


def load_driver() -> ModuleType:
    spec = importlib.util.spec_from_file_location("compose_smoke", ROOT / "deploy" / "compose_smoke.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


# ---- every verifier has a consumer ----------------------------------------------------------------------


def check_consumers(cfg: dict[str, Any]) -> None:
    classes = builtin_classes()
    assert {"math", "code", "ifeval", "language", "format", "judge"} <= set(classes)
    groups = workers(cfg)
    named = [n for verifiers in groups.values() for n in verifiers]
    assert not set(named) - set(classes), "the compose file names verifiers the registry does not know"
    assert len(named) == len(set(named)), f"a verifier is consumed by two services: {groups}"
    gw = GatewaySettings(queue_inline=env(gateway(cfg)).get("RLVR_QUEUE_INLINE", "false"))
    # what the gateway runs itself in queue mode (QueueDispatcher: inline verifiers unless RLVR_QUEUE_INLINE)
    in_gateway = {n for n, c in classes.items() if c.execution is Execution.INLINE and not gw.queue_inline}
    missing = sorted(set(classes) - set(named) - in_gateway)
    assert not missing, f"registered verifiers with no consumer in docker-compose.yml: {missing}"


@pytest.mark.parametrize("source", SOURCES)
def test_every_registered_verifier_has_a_consumer(source: str) -> None:
    cfg = compose_config(source)
    check_consumers(cfg)


def test_the_default_stack_serves_every_verifier_that_needs_no_model() -> None:
    classes = builtin_classes()
    svcs = services(YAML_CFG)
    default = {n for s, v in workers(YAML_CFG).items() if not svcs[s].get("profiles") for n in v}
    model_based = {n for n, c in classes.items() if c.execution is Execution.ASYNC}
    assert model_based == {"judge", "judge_pairwise", "rubric", "reward_model"}
    assert default == set(classes) - model_based
    (judge,) = [s for s, v in workers(YAML_CFG).items() if set(v) & model_based]
    assert set(workers(YAML_CFG)[judge]) == model_based and svcs[judge]["profiles"] == ["judge"]
    # the smoke driver lets exactly these go without a worker
    assert set(load_driver().MODEL_VERIFIERS) == model_based


def test_the_judge_profile_reads_its_backends_from_a_mounted_file() -> None:
    svcs = services(YAML_CFG)
    judge = svcs["judge-worker"]
    path = env(judge)["RLVR_BACKENDS_FILE"]
    (mount,) = [fields(v) for v in judge["volumes"] if fields(v)[1] == path]
    assert mount[2:] == ["ro"]
    default_file = re.fullmatch(r"\$\{RLVR_COMPOSE_BACKENDS:-(.+)\}", mount[0])
    assert default_file, mount
    backends = load_backends(None, str(ROOT / default_file.group(1)))
    local = backends["judge"]
    assert isinstance(local, OpenAIBackend) and local.base_url.startswith("http://judge-backend:8000/")
    backend = svcs["judge-backend"]
    assert backend["profiles"] == ["judge-backend"] and "8000" in command(backend)
    assert set(backend["networks"]) & set(judge["networks"]), "the judge worker cannot reach the judge backend"


def test_the_default_api_keys_file_holds_no_key() -> None:
    secret = compose_config("pyyaml")["secrets"]["rlvr_api_keys"]["file"]
    default_file = re.fullmatch(r"\$\{RLVR_COMPOSE_API_KEYS:-(.+)\}", secret)
    assert default_file, secret
    assert load_api_keys(None, str(ROOT / default_file.group(1))) == []
    gw = gateway(YAML_CFG)
    assert env(gw)["RLVR_API_KEYS_FILE"] == "/run/secrets/rlvr_api_keys" and gw["secrets"] == ["rlvr_api_keys"]


def test_the_smoke_driver_uses_the_codes_redis_keys() -> None:
    driver = load_driver()
    assert driver.MATH_STREAM == constants.task_stream(driver.PREFIX, "math")
    assert driver.MATH_DEAD == constants.dead_stream(driver.PREFIX, "math")
    assert driver.GROUP == constants.GROUP
    assert driver.PREFIX == GatewaySettings().redis_prefix
    # the mixed batch covers what the smoke run promises
    assert {n for c in driver.mixed_cases() for n in c.expect} == {"math", "code", "ifeval", "language", "format"}


# ---- health, Redis ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("source", SOURCES)
def test_every_health_check_is_cmd_shell(source: str) -> None:
    cfg = compose_config(source)
    for name, svc in services(cfg).items():
        test = svc.get("healthcheck", {}).get("test")
        assert test and test[0] == "CMD-SHELL" and len(test) == 2, f"{name}: {test}"


def test_rlvr_health_checks_ask_the_services_own_port() -> None:
    for name, svc in rlvr_services(YAML_CFG).items():
        shell = svc["healthcheck"]["test"][1]
        assert "/readyz" in shell and "RLVR_PORT" in shell, name
        assert env(svc)["RLVR_PORT"].isdigit()


@pytest.mark.parametrize("source", SOURCES)
def test_redis_keeps_an_append_only_file_on_a_volume(source: str) -> None:
    cfg = compose_config(source)
    redis = services(cfg)["redis"]
    cmd = command(redis)
    assert cmd[0] == "redis-server" and cmd[cmd.index("--appendonly") + 1] == "yes"
    volumes = redis["volumes"]
    targets = [v["target"] if isinstance(v, dict) else v.split(":")[1] for v in volumes]
    assert "/data" in targets
    for svc in rlvr_services(cfg).values():
        assert env(svc)["RLVR_REDIS_URL"] == "redis://redis:6379/0"
        assert svc["depends_on"]["redis"]["condition"] == "service_healthy"


# ---- privileges ---------------------------------------------------------------------------------------------


def _uid(user: Any) -> str:
    return str(user or "").split(":")[0]


def check_unprivileged(cfg: dict[str, Any]) -> None:
    sandbox = sandbox_service(cfg)
    checked = 0
    for name, svc in rlvr_services(cfg).items():
        if name == sandbox:
            continue
        assert _uid(svc.get("user")) not in ("", "0", "root"), f"{name} runs as root"
        assert svc.get("read_only") is True, f"{name}: root filesystem not read-only"
        assert "/tmp" in svc.get("tmpfs", []), f"{name}: no tmpfs /tmp on a read-only root"
        assert svc.get("cap_drop") == ["ALL"] and not svc.get("cap_add"), name
        assert "no-new-privileges:true" in svc.get("security_opt", []), name
        assert not svc.get("privileged") and not svc.get("devices"), name
        checked += 1
    assert checked >= 4  # gateway, math, rules, judge


@pytest.mark.parametrize("source", SOURCES)
def test_gateway_and_non_sandbox_workers_are_unprivileged(source: str) -> None:
    cfg = compose_config(source)
    check_unprivileged(cfg)


@pytest.mark.parametrize("source", SOURCES)
def test_the_code_worker_has_exactly_the_documented_privileges(source: str) -> None:
    cfg = compose_config(source)
    name = sandbox_service(cfg)
    svc = services(cfg)[name]
    assert workers(cfg)[name] == ["code"], "the jail's privileges must not cover other verifiers"
    assert _uid(svc.get("user")) in ("0", "root")
    assert svc.get("cap_drop") == ["ALL"]
    assert set(svc["cap_add"]) == documented_capabilities() >= {"SYS_ADMIN", "NET_ADMIN"}
    assert len(svc["cap_add"]) == len(set(svc["cap_add"]))
    assert set(svc["security_opt"]) == {"seccomp=unconfined", "apparmor=unconfined"}
    assert not svc.get("privileged") and not svc.get("devices") and svc.get("pid") is None
    assert svc.get("mem_limit") and svc.get("pids_limit"), "the jail's runs need a bound all together"
    assert svc.get("read_only") is True and "/tmp" in svc.get("tmpfs", [])
    # nothing reaches it and it reaches nothing but Redis: the internal network only, no published port
    assert set(svc["networks"]) == {"queue"} and not svc.get("ports")
    assert cfg["networks"]["queue"]["internal"] is True


@pytest.mark.parametrize("source", SOURCES)
def test_no_other_service_has_any_privilege(source: str) -> None:
    cfg = compose_config(source)
    sandbox = sandbox_service(cfg)
    others = json.dumps({n: s for n, s in services(cfg).items() if n != sandbox})
    for needle in ("SYS_ADMIN", "NET_ADMIN", "unconfined", '"privileged": true', "cap_add", '"user": "root"'):
        assert needle not in others, needle


@pytest.mark.parametrize("source", SOURCES)
def test_workers_listen_on_loopback_and_only_the_gateway_is_published(source: str) -> None:
    cfg = compose_config(source)
    for name, svc in rlvr_services(cfg).items():
        if command(svc)[0] == "worker":
            assert env(svc)["RLVR_HOST"] == "127.0.0.1" and not svc.get("ports"), name
    (published,) = [n for n, s in services(cfg).items() if s.get("ports")]
    assert published == "gateway"
    port = gateway(cfg)["ports"][0]
    host_ip = port["host_ip"] if isinstance(port, dict) else fields(port)[0]
    assert host_ip in ("127.0.0.1", "${RLVR_COMPOSE_BIND:-127.0.0.1}")  # loopback unless you say otherwise


@pytest.mark.parametrize("source", SOURCES)
def test_sigterm_gets_time_to_drain(source: str) -> None:
    cfg = compose_config(source)
    for name, svc in rlvr_services(cfg).items():
        drain = float(env(svc).get("RLVR_DRAIN_TIMEOUT_S", WorkerSettings().drain_timeout_s))
        assert seconds(svc.get("stop_grace_period", "10s")) > drain, f"{name} is SIGKILLed mid-drain"


# ---- the Dockerfile -----------------------------------------------------------------------------------------


def test_the_dockerfile_builds_without_buildkit_features() -> None:
    text = DOCKERFILE.read_text()
    assert not re.search(r"^#\s*syntax\s*=", text, re.M | re.I), "a syntax line makes BuildKit pull a frontend image"
    assert not re.search(r"^RUN\s+--mount|<<\s*['\"]?EOF", text, re.M), "BuildKit-only syntax"


def test_extra_cas_stay_out_of_the_final_image() -> None:
    stages = re.split(r"^FROM ", DOCKERFILE.read_text(), flags=re.M)[1:]
    assert len(stages) == 2 and stages[0].split()[2] == "build"
    assert "deploy/certs/" in stages[0] and "pip-ca" in stages[0]
    final = stages[1]
    assert "deploy/certs" not in final and "pip-ca" not in final and "pip.conf" not in final
    assert re.search(r"^COPY --from=build /opt/rlvr/venv /opt/rlvr/venv$", final, re.M)
    ignore = (ROOT / ".dockerignore").read_text().split("\n")
    assert "deploy" in ignore and "!deploy/certs" in ignore
    assert (ROOT / "deploy" / "certs" / ".gitignore").read_text().count("*.crt") == 1


def test_the_image_user_is_the_compose_files_user() -> None:
    text = DOCKERFILE.read_text()
    uid = re.search(r"useradd [^\n]*--uid (\d+)", text)
    gid = re.search(r"groupadd [^\n]*--gid (\d+)", text)
    assert uid and gid
    for name, svc in rlvr_services(YAML_CFG).items():
        if name != sandbox_service(YAML_CFG):
            assert svc["user"] == f"{uid.group(1)}:{gid.group(1)}", name


BREAKS: dict[str, tuple[Callable[[dict[str, Any]], None], Callable[[dict[str, Any]], None]]] = {
    "a verifier left out": (
        lambda cfg: cfg["services"]["rules-worker"].update(command=["worker", "--verifier", "ifeval,language"]),
        check_consumers,
    ),
    "a verifier misspelt": (
        lambda cfg: cfg["services"]["math-worker"].update(command=["worker", "--verifier", "maths"]),
        check_consumers,
    ),
    "the gateway's root writable": (lambda cfg: cfg["services"]["gateway"].pop("read_only"), check_unprivileged),
    "a worker as root": (lambda cfg: cfg["services"]["math-worker"].update(user="0"), check_unprivileged),
}


@pytest.mark.parametrize("fault", sorted(BREAKS))
def test_the_checks_see_a_broken_file(fault: str) -> None:
    broken: dict[str, Any] = json.loads(json.dumps(compose_config("pyyaml")))
    break_it, check = BREAKS[fault]
    check(broken)  # the file as it is passes
    break_it(broken)
    with pytest.raises(AssertionError):
        check(broken)


# ---- what the image installs --------------------------------------------------------------------------------

PACKAGES = {  # name → (project folder, import package)
    "clients": ("clients", "rlvr_client"),
    "sandbox": ("sandbox", "rlvr_sandbox"),
    "services": (".", "rlvr_services"),
}


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_the_images_packages_carry_their_data_files(package: str, tmp_path: Path) -> None:
    """deploy/Dockerfile installs the packages as wheels, not editable: a data file the code reads (a .toml, a
    .jsonl) that the package's setuptools config leaves out of the wheel is missing in the image."""
    project, top = PACKAGES[package]
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        if (ROOT / project / name).exists():
            shutil.copy(ROOT / project / name, src / name)
    package_dir = ROOT / project / ("services" if package == "services" else "") / top
    dest = src / ("services" if package == "services" else "") / top
    shutil.copytree(package_dir, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    build = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(tmp_path)]
    done = subprocess.run([*build, "."], capture_output=True, text=True, timeout=240, cwd=src)
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as z:
        shipped = {n for n in z.namelist() if n.startswith(top + "/")}
    data = {str(p.relative_to(dest.parent)) for p in dest.rglob("*") if p.is_file() and p.suffix != ".py"}
    assert data, "a package without a data file? (py.typed at least)"
    missing = sorted(data - shipped)
    assert not missing, f"not in the {package} wheel (add them to [tool.setuptools.package-data]): {missing}"
