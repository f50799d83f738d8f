"""The Helm chart (deploy/helm/rlvr-stack), with the real tools: helm lint, helm template for every values set
under the chart's ci/, kubernetes-validate --strict for two Kubernetes versions, KEDA's ScaledObject models,
and what the chart promises: every registered verifier has a worker group, the Redis keys are the code's
constants, the jail's privileges are on the code worker and nowhere else, every other pod meets the
`restricted` Pod Security profile, probes and grace periods, the settings are the services' own. Then the
scaling simulator (deploy/helm/keda_simulate.py) on a curve whose replica counts are worked out by hand.

helm comes from deploy/k8s-tools.sh (`make test` runs it); kubernetes-validate and the KEDA models from
requirements.lock. No API server runs here: what only a cluster can show is listed in the chart's README.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from cloudcoil.models.keda import v1alpha1 as keda_models

from rlvr_services import constants
from rlvr_services.auth import KeysConfig
from rlvr_services.backends.config import load_backends
from rlvr_services.runtime.registry import BUILTIN_MODULES, load_plugins
from rlvr_services.settings import GatewaySettings, SandboxSettings, WorkerSettings

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "deploy" / "helm" / "rlvr-stack"
BIN = Path(sys.executable).parent
HELM = BIN / "helm"
KUBE_VERSIONS = ("1.30.0", "1.37.0")  # the first with securityContext.appArmorProfile, and the newest schemas
RELEASE, NAMESPACE = "rl", "rlvr"
CRD_KINDS = {"ScaledObject", "TriggerAuthentication", "ServiceMonitor"}
VALUES_SETS = ["defaults", *sorted(p.name.removesuffix("-values.yaml") for p in (CHART / "ci").glob("*-values.yaml"))]
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected",
                      "secret"}  # fmt: skip


def _helm() -> Path:
    if not HELM.exists():
        pytest.fail(f"{HELM} is missing: run `bash deploy/k8s-tools.sh` (make test does)")
    return HELM


def values_args(name: str) -> list[str]:
    return [] if name == "defaults" else ["-f", str(CHART / "ci" / f"{name}-values.yaml")]


def helm_template(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [str(_helm()), "template", RELEASE, str(CHART), "-n", NAMESPACE, "--kube-version", KUBE_VERSIONS[-1], *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


@functools.cache
def rendered(name: str) -> str:
    done = helm_template(*values_args(name))
    assert done.returncode == 0, done.stderr
    return done.stdout


@functools.cache
def _docs(name: str) -> tuple[dict[str, Any], ...]:
    return tuple(d for d in yaml.safe_load_all(rendered(name)) if d)


def docs(name: str, kind: str | None = None) -> list[dict[str, Any]]:
    return [copy.deepcopy(d) for d in _docs(name) if kind is None or d["kind"] == kind]


def pods(name: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload, pod spec) of every Deployment and StatefulSet."""
    return [(d, d["spec"]["template"]["spec"]) for d in docs(name) if d["kind"] in ("Deployment", "StatefulSet")]


def worker_verifiers(deployment: dict[str, Any]) -> list[str]:
    """The verifiers a worker Deployment serves, read from its command line."""
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[:2] == ["worker", "--verifier"], args
    return str(args[2]).split(",")


def workers(name: str) -> dict[str, dict[str, Any]]:
    """group → worker Deployment."""
    out = {}
    for d in docs(name, "Deployment"):
        if d["metadata"]["labels"].get("app.kubernetes.io/component") == "worker":
            out[d["metadata"]["labels"]["rlvr-stack/worker-group"]] = d
    return out


def component(name: str, kind: str, which: str) -> dict[str, Any]:
    """The one object of a kind of a component (gateway, redis, judge-server)."""
    (found,) = [d for d in docs(name, kind) if d["metadata"]["labels"].get("app.kubernetes.io/component") == which]
    return found


def builtin_verifiers() -> list[str]:
    """The verifiers the package registers (the tests' own plug-ins, registered in this process, are not)."""
    return [c.name for c in load_plugins().classes() if c.__module__ in BUILTIN_MODULES]


def is_sandbox(deployment: dict[str, Any]) -> bool:
    labels = deployment["metadata"]["labels"]
    return labels.get("app.kubernetes.io/component") == "worker" and "code" in worker_verifiers(deployment)


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container.get("env", [])}


# ------------------------------------------------------------------------------------------------ tools


@pytest.mark.parametrize("name", VALUES_SETS)
def test_helm_lint(name: str) -> None:
    done = subprocess.run(
        [str(_helm()), "lint", "--strict", str(CHART), "-n", NAMESPACE, *values_args(name)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 chart(s) failed" in done.stdout


@pytest.mark.parametrize("name", VALUES_SETS)
def test_manifests_validate_against_two_kubernetes_versions(name: str, tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(rendered(name))
    cmd = [str(BIN / "kubernetes-validate"), "--strict"]
    for version in KUBE_VERSIONS:
        cmd += ["-k", version]
    done = subprocess.run([*cmd, str(manifest)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ERROR" not in done.stdout
    native = [d for d in docs(name) if d["kind"] not in CRD_KINDS]
    assert done.stdout.count(" passed for resource ") == len(native) * len(KUBE_VERSIONS), done.stdout
    for version in KUBE_VERSIONS:
        assert f"against version {version.rsplit('.', 1)[0]}" in done.stdout
    for line in done.stdout.splitlines():  # only the custom resources have no schema there
        if line.startswith("WARN"):
            assert re.search(r"for kind (ScaledObject|TriggerAuthentication|ServiceMonitor) ", line), line


def test_strict_validation_refuses_an_unknown_field(tmp_path: Path) -> None:
    """The validator is not a rubber stamp: a misspelt field fails."""
    field = "readOnlyRootFilesystem: true"
    bad = rendered("defaults").replace(field, f"{field}\n            readOnlyRootFs: true", 1)
    (tmp_path / "bad.yaml").write_text(bad)
    done = subprocess.run(
        [str(BIN / "kubernetes-validate"), "--strict", "-k", KUBE_VERSIONS[0], "--quiet", "--no-warn",
         str(tmp_path / "bad.yaml")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0 and "readOnlyRootFs" in done.stdout


@pytest.mark.parametrize("name", VALUES_SETS)
def test_keda_objects_match_keda_models(name: str) -> None:
    """Types and required fields from the models; a round trip drops unknown fields, so equality catches them."""
    for kind in ("ScaledObject", "TriggerAuthentication"):
        model = getattr(keda_models, kind)
        for doc in docs(name, kind):
            back = model.model_validate(doc).model_dump(by_alias=True, exclude_unset=True, mode="json")
            assert back == doc, f"{kind} {doc['metadata']['name']}: fields the KEDA model does not know"


# ------------------------------------------------------------------------------------------------ verifiers


@pytest.mark.parametrize("name", VALUES_SETS)
def test_every_registered_verifier_has_exactly_one_worker_group(name: str) -> None:
    registered = builtin_verifiers()
    served: dict[str, str] = {}
    for group, deployment in workers(name).items():
        for verifier in worker_verifiers(deployment):
            assert verifier not in served, f"{verifier} in {served.get(verifier)} and {group}"
            served[verifier] = group
    missing = sorted(set(registered) - set(served))
    assert not missing, f"verifiers without a worker group (add them to workers.groups in values.yaml): {missing}"
    assert not set(served) - set(registered), f"unknown verifiers in worker groups: {set(served) - set(registered)}"


def test_worker_groups_pass_the_worker_settings() -> None:
    """The rendered verifier lists are ones the worker's own settings accept."""
    for deployment in workers("defaults").values():
        names = ",".join(worker_verifiers(deployment))
        assert WorkerSettings(verifier=names).verifiers == names.split(",")


@pytest.mark.parametrize("name", [n for n in VALUES_SETS if n != "keda-off"])
def test_scaled_objects_read_the_code_constants(name: str) -> None:
    """One redis-streams trigger per verifier on constants.task_stream, read by constants.GROUP; groups that
    scale to zero also watch each verifier's constants.demand_key list."""
    prefix = yaml.safe_load((CHART / "values.yaml").read_text())["redisPrefix"]
    for path in values_args(name)[1:]:
        prefix = (yaml.safe_load(Path(path).read_text()) or {}).get("redisPrefix", prefix)
    groups = workers(name)
    scaled = {d["metadata"]["labels"]["rlvr-stack/worker-group"]: d for d in docs(name, "ScaledObject")}
    assert set(scaled) == set(groups)
    for group, obj in scaled.items():
        spec = obj["spec"]
        assert spec["scaleTargetRef"]["name"] == groups[group]["metadata"]["name"]
        assert obj["metadata"]["namespace"] == groups[group]["metadata"]["namespace"]
        verifiers = worker_verifiers(groups[group])
        streams = [t for t in spec["triggers"] if t["type"] == "redis-streams"]
        assert [t["metadata"]["stream"] for t in streams] == [constants.task_stream(prefix, v) for v in verifiers]
        for trig in streams:
            meta = trig["metadata"]
            assert meta["consumerGroup"] == constants.GROUP
            metric = [k for k in ("lagCount", "pendingEntriesCount") if k in meta]
            assert len(metric) == 1 and int(meta[metric[0]]) >= 1, meta
        lists = [t for t in spec["triggers"] if t["type"] == "redis"]
        if spec["minReplicaCount"] == 0:
            assert [t["metadata"]["listName"] for t in lists] == [constants.demand_key(prefix, v) for v in verifiers]
            for trig in lists:  # demand alone asks for one replica: the list never grows past DEMAND_MAX
                assert int(trig["metadata"]["listLength"]) >= constants.DEMAND_MAX
                assert trig["metadata"]["activationListLength"] == "0"
        else:
            assert not lists
        assert {t["type"] for t in spec["triggers"]} <= {"redis-streams", "redis"}
        names = [t["name"] for t in spec["triggers"]]
        assert len(set(names)) == len(names), names  # KEDA's webhook refuses a trigger name given twice
        assert 0 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]


def test_scaled_objects_reach_the_redis_they_render() -> None:
    service = component("defaults", "Service", "redis")
    address = f"{service['metadata']['name']}.{NAMESPACE}.svc.cluster.local:{service['spec']['ports'][0]['port']}"
    for obj in docs("defaults", "ScaledObject"):
        for trig in obj["spec"]["triggers"]:
            assert trig["metadata"]["address"] == address
            assert "authenticationRef" not in trig
    external = docs("external-redis", "ScaledObject")
    auths = {d["metadata"]["name"]: d for d in docs("external-redis", "TriggerAuthentication")}
    for obj in external:
        for trig in obj["spec"]["triggers"]:
            meta = trig["metadata"]
            assert meta["address"] == "redis.example.internal:6380"
            assert (meta["databaseIndex"], meta["enableTLS"]) == ("2", "true")
            ref = auths[trig["authenticationRef"]["name"]]["spec"]["secretTargetRef"]
            assert ref == [{"parameter": "password", "name": "managed-redis", "key": "password"}]
    assert not [d for d in docs("external-redis") if d["kind"] == "StatefulSet"]
    for deployment in workers("external-redis").values():
        env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        names = [e["name"] for e in env]
        url = env_of(deployment["spec"]["template"]["spec"]["containers"][0])["RLVR_REDIS_URL"]
        assert url == "rediss://:$(RLVR_REDIS_PASSWORD)@redis.example.internal:6380/2"
        assert names.index("RLVR_REDIS_PASSWORD") < names.index("RLVR_REDIS_URL")  # $(VAR) needs it defined first


def test_keda_off_gives_a_cpu_hpa_per_group() -> None:
    assert not docs("keda-off", "ScaledObject")
    hpas = {d["spec"]["scaleTargetRef"]["name"]: d for d in docs("keda-off", "HorizontalPodAutoscaler")}
    for group, deployment in workers("keda-off").items():
        name = deployment["metadata"]["name"]
        if group == "math":  # autoscale: false, replicas: 3
            assert name not in hpas and deployment["spec"]["replicas"] == 3
            continue
        hpa = hpas[name]["spec"]
        assert hpa["minReplicas"] >= 1  # an HPA cannot hold a group at zero: the judge group keeps one pod
        assert hpa["metrics"][0]["resource"]["name"] == "cpu"
        assert "replicas" not in deployment["spec"]  # the HPA owns it


# ------------------------------------------------------------------------------------------------ security


def _effective(pod: dict[str, Any], container: dict[str, Any], key: str) -> Any:
    sc = container.get("securityContext") or {}
    return sc[key] if key in sc else (pod.get("securityContext") or {}).get(key)


def restricted_violations(pod: dict[str, Any]) -> list[str]:
    """The Pod Security Standards' restricted profile (baseline included), field by field, plus the chart's own
    rule of a read-only root file system."""
    out = []
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(flag):
            out.append(f"{flag} true")
    for vol in pod.get("volumes", []):
        kinds = set(vol) - {"name"}
        if not kinds <= RESTRICTED_VOLUMES:
            out.append(f"volume {vol['name']}: {kinds}")
    for sysctl in (pod.get("securityContext") or {}).get("sysctls", []):
        out.append(f"sysctl {sysctl['name']}")
    for c in pod.get("initContainers", []) + pod["containers"]:
        sc, name = c.get("securityContext") or {}, c["name"]
        if sc.get("privileged"):
            out.append(f"{name}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"{name}: allowPrivilegeEscalation is not false")
        caps = sc.get("capabilities") or {}
        if "ALL" not in caps.get("drop", []):
            out.append(f"{name}: capabilities not dropped")
        if set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
            out.append(f"{name}: adds {caps['add']}")
        if _effective(pod, c, "runAsNonRoot") is not True:
            out.append(f"{name}: runAsNonRoot not true")
        if _effective(pod, c, "runAsUser") == 0:
            out.append(f"{name}: runAsUser 0")
        seccomp = (_effective(pod, c, "seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            out.append(f"{name}: seccomp {seccomp}")
        apparmor = (_effective(pod, c, "appArmorProfile") or {}).get("type")
        if apparmor not in (None, "RuntimeDefault", "Localhost"):
            out.append(f"{name}: AppArmor {apparmor}")
        if sc.get("procMount", "Default") != "Default":
            out.append(f"{name}: procMount {sc['procMount']}")
        for port in c.get("ports", []):
            if port.get("hostPort"):
                out.append(f"{name}: hostPort {port['hostPort']}")
        if sc.get("readOnlyRootFilesystem") is not True:
            out.append(f"{name}: root file system writable")
    return out


def documented_capabilities() -> set[str]:
    """The capabilities deploy/Dockerfile documents for the jail (CAP_SYS_ADMIN, ...)."""
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    return {c.removeprefix("CAP_") for c in re.findall(r"CAP_[A-Z_]+", text)}


@pytest.mark.parametrize("name", VALUES_SETS)
def test_every_pod_but_the_code_worker_is_restricted(name: str) -> None:
    checked = 0
    for workload, pod in pods(name):
        if is_sandbox(workload):
            continue
        assert restricted_violations(pod) == [], workload["metadata"]["name"]
        assert pod["automountServiceAccountToken"] is False
        checked += 1
    assert checked >= 4


@pytest.mark.parametrize("name", VALUES_SETS)
def test_the_jails_privileges_are_on_the_code_worker_only(name: str) -> None:
    sandboxes = [(w, p) for w, p in pods(name) if is_sandbox(w)]
    assert len(sandboxes) == 1
    workload, pod = sandboxes[0]
    assert worker_verifiers(workload) == ["code"]
    (container,) = pod["containers"]
    sc = container["securityContext"]
    assert _effective(pod, container, "runAsUser") == 0 and _effective(pod, container, "runAsNonRoot") is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert set(sc["capabilities"]["add"]) == documented_capabilities() >= {"SYS_ADMIN", "NET_ADMIN"}
    assert sc["seccompProfile"] == {"type": "Unconfined"} and sc["appArmorProfile"] == {"type": "Unconfined"}
    assert sc["privileged"] is False and not pod.get("hostPID") and not pod.get("hostNetwork")
    assert restricted_violations(pod), "the checker must see the code worker's privileges"
    # nowhere else: no root, no added capability, no unconfined profile, in any other object of the render
    others = [d for d in docs(name) if d is not workload and d["metadata"]["name"] != workload["metadata"]["name"]]
    text = json.dumps(others)
    for needle in ("SYS_ADMIN", "NET_ADMIN", "Unconfined", '"runAsUser": 0', '"privileged": true'):
        assert needle not in text, needle


def test_sandbox_namespace_lets_the_release_namespace_enforce_restricted() -> None:
    name = "sandbox-namespace"
    (ns,) = docs(name, "Namespace")
    sandbox_ns = ns["metadata"]["name"]
    assert sandbox_ns == f"{NAMESPACE}-sandbox"
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    code = workers(name)["code"]
    assert code["metadata"]["namespace"] == sandbox_ns
    for d in docs(name):
        group = d["metadata"].get("labels", {}).get("rlvr-stack/worker-group")
        if group == "code":
            assert d["metadata"]["namespace"] == sandbox_ns, d["kind"]
    for workload, pod in pods(name):
        if workload["metadata"]["namespace"] == NAMESPACE:
            assert restricted_violations(pod) == [], workload["metadata"]["name"]
    redis_policy = component(name, "NetworkPolicy", "redis")
    peers = redis_policy["spec"]["ingress"][0]["from"]
    assert any(p.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name") == sandbox_ns
               for p in peers)  # fmt: skip
    accounts = {(d["metadata"]["namespace"], d["metadata"]["name"]) for d in docs(name, "ServiceAccount")}
    assert (sandbox_ns, code["spec"]["template"]["spec"]["serviceAccountName"]) in accounts


@pytest.mark.parametrize("name", VALUES_SETS)
def test_network_policies(name: str) -> None:
    policies = docs(name, "NetworkPolicy")
    for workload, _ in pods(name):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        mine = [p for p in policies if p["metadata"]["namespace"] == workload["metadata"]["namespace"]
                and all(labels.get(k) == v for k, v in p["spec"]["podSelector"]["matchLabels"].items())]  # fmt: skip
        assert len(mine) == 1, workload["metadata"]["name"]
        assert mine[0]["spec"]["policyTypes"] == ["Ingress", "Egress"]
    code = next(p for p in policies if p["metadata"]["labels"].get("rlvr-stack/worker-group") == "code")
    assert code["spec"]["ingress"] == []  # nothing may reach the code worker
    egress = code["spec"]["egress"]
    assert len(egress) == 2  # Redis, and DNS to look it up
    dns_ports = {(p["protocol"], p["port"]) for p in egress[1]["ports"]}
    assert dns_ports == {("UDP", 53), ("TCP", 53)}
    redis_port = egress[0]["ports"]
    assert [p["port"] for p in redis_port] == [6380 if name == "external-redis" else 6379]
    if name != "external-redis":
        assert egress[0]["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "redis"
    env = env_of(workers(name)["code"]["spec"]["template"]["spec"]["containers"][0])
    assert env["RLVR_HOST"] == "127.0.0.1"  # and it listens on loopback only
    assert "ports" not in workers(name)["code"]["spec"]["template"]["spec"]["containers"][0]


# ------------------------------------------------------------------------------------------------ lifecycle


@pytest.mark.parametrize("name", VALUES_SETS)
def test_probes_and_grace_periods(name: str) -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    drain = values["drainTimeoutSeconds"]
    gateway = component(name, "Deployment", "gateway")
    pod = gateway["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    sleep = int(c["lifecycle"]["preStop"]["exec"]["command"][1])
    assert c["lifecycle"]["preStop"]["exec"]["command"][0] == "sleep" and sleep >= 1
    assert pod["terminationGracePeriodSeconds"] > drain + sleep
    assert env_of(c)["RLVR_DRAIN_TIMEOUT_S"] == str(drain)
    assert gateway["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    for deployment in workers(name).values():
        pod = deployment["spec"]["template"]["spec"]
        (c,) = pod["containers"]
        assert pod["terminationGracePeriodSeconds"] > drain
        assert env_of(c)["RLVR_DRAIN_TIMEOUT_S"] == str(drain)
        if is_sandbox(deployment):  # loopback only: the probes run inside the pod
            assert c["readinessProbe"]["exec"]["command"][-1] == "/readyz"
            assert c["livenessProbe"]["exec"]["command"][-1] == "/healthz"
            assert f"127.0.0.1:{env_of(c)['RLVR_PORT']}" in c["readinessProbe"]["exec"]["command"][2]
        else:
            assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
            assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for workload, pod in pods(name):
        for c in pod["containers"]:
            assert "readinessProbe" in c and "livenessProbe" in c, workload["metadata"]["name"]


@pytest.mark.parametrize("name", VALUES_SETS)
def test_env_names_are_the_services_settings(name: str) -> None:
    """Every RLVR_* variable the chart sets is a field of the settings that read it (a typo is ignored silently)."""

    def fields(cls: type[Any], prefix: str) -> set[str]:
        return {prefix + f.upper() for f in cls.model_fields}

    gateway_ok = fields(GatewaySettings, "RLVR_") | {"RLVR_REDIS_PASSWORD"}  # the URL's $(...) part
    worker_ok = fields(WorkerSettings, "RLVR_") | fields(SandboxSettings, "RLVR_SANDBOX_") | {"RLVR_REDIS_PASSWORD"}
    for workload, pod in pods(name):
        component = workload["metadata"]["labels"]["app.kubernetes.io/component"]
        if component not in ("gateway", "worker"):
            continue
        for c in pod["containers"]:
            names = [e["name"] for e in c["env"]]
            known = gateway_ok if component == "gateway" else worker_ok
            unknown = {n for n in names if n.startswith("RLVR_")} - known
            assert not unknown, f"{workload['metadata']['name']}: {unknown}"
            for e in c["env"]:  # $(VAR) is expanded only from variables defined before it
                for ref in re.findall(r"\$\((\w+)\)", e.get("value", "")):
                    assert ref in names[: names.index(e["name"])], e["name"]


def test_gateway_settings_accept_the_rendered_env() -> None:
    gateway = component("defaults", "Deployment", "gateway")
    env = env_of(gateway["spec"]["template"]["spec"]["containers"][0])
    settings = GatewaySettings(**{k.removeprefix("RLVR_").lower(): v for k, v in env.items()})
    assert settings.queue_inline is True and settings.redis_url and settings.redis_url.startswith("redis://")


def test_backends_file_wires_the_judge_group_to_the_gpu_server(tmp_path: Path) -> None:
    name = "judge-gpu"
    (cm,) = [d for d in docs(name, "ConfigMap") if d["metadata"]["name"].endswith("-backends")]
    path = tmp_path / "backends.json"
    path.write_text(cm["data"]["backends.json"])
    backends = load_backends(None, str(path))  # the services' own loader accepts the file
    service = component(name, "Service", "judge-server")
    port = service["spec"]["ports"][0]["port"]
    judge = backends["judge"]
    assert judge.kind == "openai"
    assert judge.base_url == f"http://{service['metadata']['name']}.{NAMESPACE}.svc.cluster.local:{port}/v1"
    server = component(name, "Deployment", "judge-server")
    (vllm,) = server["spec"]["template"]["spec"]["containers"]
    assert judge.model == vllm["args"][vllm["args"].index("--served-model-name") + 1]
    assert vllm["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert "reward" in backends  # the user's own entries stay
    group = workers(name)["judge"]
    pod = group["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    mount = next(m for m in c["volumeMounts"] if m["name"] == "backends")
    assert env_of(c)["RLVR_BACKENDS_FILE"] == f"{mount['mountPath']}/backends.json"
    assert next(v for v in pod["volumes"] if v["name"] == "backends")["configMap"]["name"] == cm["metadata"]["name"]
    for other in set(workers(name)) - {"judge"}:
        assert "RLVR_BACKENDS_FILE" not in env_of(workers(name)[other]["spec"]["template"]["spec"]["containers"][0])
    # the judge server takes connections from the groups with backends only
    policy = component(name, "NetworkPolicy", "judge-server")
    assert policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]["rlvr-stack/backends"] == "true"
    assert group["spec"]["template"]["metadata"]["labels"]["rlvr-stack/backends"] == "true"


def test_api_keys_secret_and_service_monitor() -> None:
    name = "ingress-monitoring"
    (secret,) = docs(name, "Secret")
    config = KeysConfig.model_validate_json(secret["stringData"]["api-keys.json"])  # the services' own model
    admin = next(k for k in config.keys if k.name == "metrics")
    assert [s.value for s in admin.scopes] == ["admin"]
    assert secret["stringData"]["metrics-token"] == admin.key.get_secret_value()
    for workload, pod in pods(name):
        if workload["metadata"]["labels"]["app.kubernetes.io/component"] not in ("gateway", "worker"):
            continue
        (c,) = pod["containers"]
        if is_sandbox(workload):
            assert "RLVR_API_KEYS_FILE" not in env_of(c)  # loopback only: nobody to authenticate
            continue
        mount = next(m for m in c["volumeMounts"] if m["name"] == "api-keys")
        assert env_of(c)["RLVR_API_KEYS_FILE"] == f"{mount['mountPath']}/api-keys.json"
        volume = next(v for v in pod["volumes"] if v["name"] == "api-keys")
        assert volume["secret"]["secretName"] == secret["metadata"]["name"]
    (monitor,) = docs(name, "ServiceMonitor")
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["authorization"]["credentials"] == {"name": secret["metadata"]["name"], "key": "metrics-token"}
    scraped = [d for d in docs(name, "Service") if d["metadata"]["labels"].get("rlvr-stack/metrics") == "true"]
    assert {d["metadata"]["name"].rsplit("-", 1)[-1] for d in scraped} == {"gateway", "math", "rules", "judge"}
    (ingress,) = docs(name, "Ingress")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"].endswith("-gateway") and backend["port"] == {"name": "http"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "workers.groups.math.verifiers={math,ifeval}"], 'verifier "ifeval" is in two worker groups'),
        (["--set", "workers.groups.code.verifiers={code,math}", "--set", "workers.groups.math.enabled=false"],
         "gets a group of its own"),
        (["--set", "keda.demand.enabled=false"], "minReplicas 0 needs keda.demand.enabled"),
        (["--set", "redis.enabled=false", "--set", "redis.external.url=redis://:pw@host:6379/0"],
         "must not carry credentials"),
        (["--set", "redis.enabled=false"], "redis.external.url is required"),
        (["--set", "gateway.terminationGracePeriodSeconds=20"], "leaves no time to drain"),
        (["--set", "serviceMonitor.enabled=true"], "/metrics needs an admin key"),
        (["--set", "workers.groups.Math.verifiers={x}"], "a group name is a DNS label"),
        (["--set", "judgeServer.enabled=true"], "give judgeServer.modelVolume.existingClaim"),
        (["--set", "gateway.replica=3"], "additional properties 'replica' not allowed"),
        (["--kube-version", "1.29.0"], "kube-version"),
    ],
)  # fmt: skip
def test_bad_values_fail_the_render(args: list[str], message: str) -> None:
    if args[0] == "--kube-version":  # helm_template pins the newest version; ask for an older one
        done = subprocess.run([str(_helm()), "template", RELEASE, str(CHART), *args], capture_output=True, text=True)
        assert done.returncode != 0 and "kubeVersion" in done.stderr + done.stdout
        return
    done = helm_template(*args)
    assert done.returncode != 0, f"rendered although {message}"
    assert message in done.stderr, done.stderr


# ------------------------------------------------------------------------------------------------ the simulator


@functools.cache
def simulator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("keda_simulate", ROOT / "deploy" / "helm" / "keda_simulate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["keda_simulate"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _scaled_object(min_r: int, max_r: int, behavior: dict[str, Any] | None = None) -> dict[str, Any]:
    trig = {"type": "redis-streams", "metadata": {"stream": "rlvr:tasks:math", "consumerGroup": "workers",
                                                  "lagCount": "10", "activationLagCount": "0"}}  # fmt: skip
    spec: dict[str, Any] = {"minReplicaCount": min_r, "maxReplicaCount": max_r, "pollingInterval": 15,
                            "cooldownPeriod": 60, "triggers": [trig]}  # fmt: skip
    if behavior is not None:
        spec["advanced"] = {"horizontalPodAutoscalerConfig": {"behavior": behavior}}
    return {"kind": "ScaledObject", "metadata": {"name": "math"}, "spec": spec}


def test_simulation_by_hand() -> None:
    """lagCount 10, replicas 0-8, poll 15 s, cooldown 60 s, down window 45 s, up at most +2 pods per 15 s.

    t    lag  what happens                                                   replicas
    0      0  at zero, nothing active                                         0
    15    35  active: KEDA scales to 1                                        1
    30    35  HPA: ceil(35/10)=4; up limit 1+2=3                              3
    45    35  ceil(35/10)=4 (35/30 = 1.17, outside the tolerance); 3+2=5 ≥ 4  4
    60    80  ceil(80/10)=8; 4+2=6                                            6
    75    80  8                                                               8
    90   120  ceil(120/10)=12, clamped to max 8                               8
    105   20  2; the down window (45 s) still holds 12 (t=90) and 8 (t=75)    8
    120   20  window: t=90 (12), t=105 (2): max 12 → stays                    8
    135   20  window: t=105 (2), t=120 (2): 2; down policy none → 2           2
    150    0  0 → clamped to 1; the window holds 2s                           2
    165    0  window t=135 (2), t=150 (0): 2                                  2
    180    0  window t=150, t=165 (0): 0 → min 1                              1
    195    0  inactive since t=135 (lag 20 > 0); 60 s cooldown passes at 195   0
    210   40  active: KEDA scales to 1                                        1
    """
    sim = simulator()
    behavior = {
        "scaleUp": {"stabilizationWindowSeconds": 0, "policies": [{"type": "Pods", "value": 2, "periodSeconds": 15}]},
        "scaleDown": {"stabilizationWindowSeconds": 45, "policies": [{"type": "Percent", "value": 100,
                                                                      "periodSeconds": 15}]},
    }  # fmt: skip
    spec = sim.spec_from_scaled_object(_scaled_object(0, 8, behavior))
    lags = [0, 35, 35, 35, 80, 80, 120, 20, 20, 20, 0, 0, 0, 0, 40]
    curve = [(15.0 * i, {"rlvr:tasks:math": float(v)}) for i, v in enumerate(lags)]
    steps = sim.simulate(spec, curve)
    assert [s.replicas for s in steps] == [0, 1, 3, 4, 6, 8, 8, 8, 8, 2, 2, 2, 1, 0, 1]
    assert [s.note for s in steps][1] == "activated" and steps[13].note.startswith("cooldown passed")
    assert [s.desired for s in steps][2:7] == [4, 4, 8, 8, 12]


def test_simulation_tolerance_defaults_and_min_one() -> None:
    """No behavior: the HPA's defaults (up max(+4 pods, +100 %) per 15 s; down window 300 s). Min 2: never zero."""
    sim = simulator()
    spec = sim.spec_from_scaled_object(_scaled_object(2, 20))
    assert (spec.up.window_s, spec.down.window_s) == (0, 300)
    lags = [0, 200, 200, 205, 0]
    curve = [(15.0 * i, {"rlvr:tasks:math": float(v)}) for i, v in enumerate(lags)]
    steps = sim.simulate(spec, curve)
    # t=15: ceil(200/10)=20; limits: +4 → 6, +100 % → 4; Max → 6.  t=30: 6+4=10 vs 12 → 12.
    # t=45: 205/(10*12) = 1.71 → 21 → capped at 20 by max... and by the rate: 12+4=16 vs 24 → 20.
    # t=60: lag 0 → 0, but the 300 s down window holds 20: stays 20.
    assert [s.replicas for s in steps] == [2, 6, 12, 20, 20]
    steps = sim.simulate(spec, [(0.0, {"rlvr:tasks:math": 105.0})], start_replicas=10)
    assert steps[0].desired == 10  # 105/(10*10) is within the 10 % tolerance: no change


def test_simulation_reads_the_rendered_chart(tmp_path: Path) -> None:
    """The CLI end to end: the judge group's ScaledObject from the default render, woken by a demand list."""
    sim = simulator()
    manifest = tmp_path / "chart.yaml"
    manifest.write_text(rendered("defaults"))
    spec = sim.spec_from_scaled_object(sim.find_scaled_object(yaml.safe_load_all(rendered("defaults")), "judge"))
    assert spec.min_replicas == 0 and {t.metric for t in spec.triggers} == {"lagCount", "listLength"}
    curve = tmp_path / "curve.csv"
    curve.write_text("time_s,demand:judge,judge\n0,0,0\n15,3,0\n30,0,200\n45,0,200\n")
    steps = sim.simulate(spec, sim.read_curve(curve, [t.key for t in spec.triggers]))
    # t=15: the demand list wakes it; t=30: ceil(200/64) = 4 (the up limit is max(1+4, 2*1) = 5);
    # t=45: 200/(64*4) = 0.78 is outside the tolerance, but ceil(200/64) is 4 again
    assert [s.replicas for s in steps] == [0, 1, 4, 4]
    done = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "helm" / "keda_simulate.py"), "--manifest", str(manifest),
         "--group", "judge", "--curve", str(curve)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "activated" in done.stdout and "peak 4 replicas" in done.stdout
