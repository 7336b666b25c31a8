"""Checks of `helm template` output of helm/coffer (run by scripts/check-deploy helm).

Usage: helm_rules.py default|full|kafka-secure RENDERED_YAML

Both: every Deployment's pod template carries checksum/config and checksum/secret; each
Service selects a Deployment's pods and targets ports its container declares; every volume
mount has its volume; every /etc/coffer file a COFFER_*_FILE variable names is mounted; the
REST and public HTTP ports a container declares are the ones its ConfigMap makes it listen on;
HPAs target existing Deployments, which then leave replicas out; Ingress backends are existing
Service ports; NetworkPolicies select pods and admit every container port; every coffer_*
metric an alert uses is registered somewhere in services/ or pkg/; the helm test pod is a test
hook; names fit 63 characters. `default` must create no optional object, `full` every one.
Migration Jobs (helm/README.md "Database migrations"): one pre-install/pre-upgrade hook Job per
database (identity, each shard) running `<binary> --migrate-only` with a retry limit, a
deadline, the pods' security contexts, resources, no service account token and COFFER_DB_DSN
from a Secret, exactly when the ConfigMaps say COFFER_MIGRATE=off (else auto). Database DSNs
and the Kafka SASL password never appear as values: DSNs come from Secrets, the password only as
a mounted file. `kafka-secure` (tests/deploy/helm/variant-kafka-secure.yaml): Kafka TLS + client
certificate + SCRAM wired from Secrets, and migrations at start over the owner's DSN.
"""
import os
import re
import sys

import yaml

mode, path = sys.argv[1], sys.argv[2]
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
docs = [d for d in yaml.safe_load_all(open(path)) if d]
problems = []


def of_kind(kind):
    return [d for d in docs if d["kind"] == kind]


def name(d):
    return d["metadata"]["name"]


def count(kind):
    return len(of_kind(kind))


configmaps = {name(c): c.get("data") or {} for c in of_kind("ConfigMap")}
deployments = {name(d): d for d in of_kind("Deployment")}
services = {name(s): s for s in of_kind("Service")}


def pod_spec(d):
    return d["spec"]["template"]["spec"]


def pod_labels(d):
    return d["spec"]["template"]["metadata"]["labels"]


def selects(selector, labels):
    return all(labels.get(k) == v for k, v in (selector or {}).items())


def container_ports(d):
    return {p["name"]: p["containerPort"] for c in pod_spec(d)["containers"] for p in c.get("ports", [])}


for d in docs:
    if len(name(d)) > 63:
        problems.append(f"{d['kind']} {name(d)}: name longer than 63 characters")

for dname, d in deployments.items():
    ann = d["spec"]["template"]["metadata"].get("annotations") or {}
    for key in ("checksum/config", "checksum/secret"):
        if not re.fullmatch(r"[0-9a-f]{64}", str(ann.get(key, ""))):
            problems.append(f"Deployment {dname}: pod annotation {key} missing")
    spec = pod_spec(d)
    volumes = {v["name"] for v in spec.get("volumes", [])}
    mounts = []
    for c in spec["containers"] + spec.get("initContainers", []):
        for m in c.get("volumeMounts", []):
            if m["name"] not in volumes:
                problems.append(f"Deployment {dname}: mount {m['name']} has no volume")
            mounts.append(m["mountPath"])
    main = spec["containers"][0]
    env = {}
    for ref in main.get("envFrom", []):
        env.update(configmaps.get(ref.get("configMapRef", {}).get("name"), {}))
    env.update({e["name"]: e.get("value") for e in main.get("env", [])})
    for key, value in env.items():
        if key.endswith("_FILE") and str(value).startswith("/etc/coffer/"):
            if not any(str(value).startswith(m.rstrip("/") + "/") for m in mounts):
                problems.append(f"Deployment {dname}: {key}={value} is not on a mounted volume")
    ports = container_ports(d)
    for port_name, var in (("rest", "COFFER_REST_ADDR"), ("http", "COFFER_HTTP_ADDR"),
                           ("grpc", "COFFER_GRPC_ADDR"), ("admin", "COFFER_ADMIN_ADDR")):
        listens = env.get(var)
        if port_name in ports and (not listens or not str(listens).endswith(f":{ports[port_name]}")):
            problems.append(f"Deployment {dname}: port {port_name} {ports[port_name]} but {var}={listens}")
        if listens and port_name not in ports:
            problems.append(f"Deployment {dname}: {var}={listens} but no container port {port_name}")

for sname, s in services.items():
    matched = [d for d in deployments.values() if selects(s["spec"]["selector"], pod_labels(d))]
    if len(matched) != 1:
        problems.append(f"Service {sname}: selects {len(matched)} Deployments")
        continue
    ports = container_ports(matched[0])
    for p in s["spec"]["ports"]:
        if p["targetPort"] not in ports:
            problems.append(f"Service {sname}: targetPort {p['targetPort']} not a container port")

autoscaled = set()
for h in of_kind("HorizontalPodAutoscaler"):
    target = h["spec"]["scaleTargetRef"]["name"]
    autoscaled.add(target)
    if target not in deployments:
        problems.append(f"HPA {name(h)}: targets missing Deployment {target}")
    if not h["spec"].get("metrics"):
        problems.append(f"HPA {name(h)}: no metrics")
for dname, d in deployments.items():
    if (dname in autoscaled) == ("replicas" in d["spec"]):
        problems.append(f"Deployment {dname}: replicas must be set exactly when no HPA owns it")

for ing in of_kind("Ingress"):
    for rule in ing["spec"]["rules"]:
        if not rule.get("host"):
            problems.append(f"Ingress {name(ing)}: rule without host")
        for p in rule["http"]["paths"]:
            backend = p["backend"]["service"]
            svc = services.get(backend["name"])
            if svc is None or backend["port"]["name"] not in {sp["name"] for sp in svc["spec"]["ports"]}:
                problems.append(f"Ingress {name(ing)}: backend {backend} is no Service port")

for np in of_kind("NetworkPolicy"):
    sel = np["spec"]["podSelector"]["matchLabels"]
    matched = [d for d in deployments.values() if selects(sel, pod_labels(d))]
    if not matched:
        problems.append(f"NetworkPolicy {name(np)}: selects no pods")
    admitted = {p["port"] for r in np["spec"].get("ingress", []) if r.get("ports") for p in r["ports"]}
    for d in matched:
        for port_name, port in container_ports(d).items():
            if port not in admitted:
                problems.append(f"NetworkPolicy {name(np)}: port {port_name} {port} of {name(d)} admitted to no one")

# Every metric an alert uses must exist in the code (not a guessed name).
sources = []
for top in ("services", "pkg"):
    for dirpath, _, files in os.walk(os.path.join(root, top)):
        for f in files:
            if f.endswith((".cc", ".h")):
                sources.append(open(os.path.join(dirpath, f), errors="replace").read())
registered = set(re.findall(r'"(coffer_[a-z0-9_]+)"', "\n".join(sources)))
for rule_obj in of_kind("PrometheusRule"):
    for group in rule_obj["spec"]["groups"]:
        for rule in group["rules"]:
            if rule.get("alert", "").startswith("CofferExample"):
                continue
            for metric in set(re.findall(r"\b(coffer_[a-z0-9_]+)", rule["expr"])):
                base = re.sub(r"_(bucket|sum|count)$", "", metric)
                if metric not in registered and base not in registered:
                    problems.append(f"alert {rule['alert']}: metric {metric} is registered nowhere in services/ or pkg/")
            if "severity" not in (rule.get("labels") or {}):
                problems.append(f"alert {rule['alert']}: no severity label")

# Migration Jobs: one per database, exactly when the pods run with migrations off.
jobs = {name(j): j for j in of_kind("Job")}
migration_jobs = {n: j for n, j in jobs.items() if n.endswith("-migrate")}
migrate_modes = {cm.get("COFFER_MIGRATE") for cm in configmaps.values()}


def container_env(c):
    return {e["name"]: e for e in c.get("env", [])}


deployment_databases = set()
for dname, d in deployments.items():
    env = container_env(pod_spec(d)["containers"][0])
    deployment_databases.add(env["COFFER_SHARD_ID"]["value"] if "COFFER_SHARD_ID" in env else "identity")
    for key in ("COFFER_DB_DSN", "COFFER_MIGRATION_DB_DSN"):
        if key in env and "secretKeyRef" not in (env[key].get("valueFrom") or {}):
            problems.append(f"Deployment {dname}: {key} must come from a Secret")
    if "COFFER_MIGRATION_DB_DSN" in env and migration_jobs:
        problems.append(f"Deployment {dname}: COFFER_MIGRATION_DB_DSN although the Jobs migrate")
for d in docs:
    text = yaml.safe_dump(d)
    if "COFFER_KAFKA_SASL_PASSWORD:" in text or re.search(r"name: COFFER_KAFKA_SASL_PASSWORD\n", text):
        problems.append(f"{d['kind']} {name(d)}: the SASL password as a variable (only _FILE is allowed)")

if migration_jobs:
    if migrate_modes != {"off"}:
        problems.append(f"migration Jobs but COFFER_MIGRATE {migrate_modes} in the ConfigMaps (want off)")
elif migrate_modes != {"auto"}:
    problems.append(f"no migration Job but COFFER_MIGRATE {migrate_modes} in the ConfigMaps (want auto)")
a_deployment = next(iter(deployments.values()))
job_databases = set()
for jname, j in migration_jobs.items():
    ann = j["metadata"].get("annotations") or {}
    if ann.get("helm.sh/hook") != "pre-install,pre-upgrade":
        problems.append(f"Job {jname}: not a pre-install,pre-upgrade hook")
    if "helm.sh/hook-weight" not in ann or "hook-succeeded" not in ann.get("helm.sh/hook-delete-policy", ""):
        problems.append(f"Job {jname}: hook weight or delete policy missing")
    if not isinstance(j["spec"].get("backoffLimit"), int) or not j["spec"].get("activeDeadlineSeconds"):
        problems.append(f"Job {jname}: backoffLimit and activeDeadlineSeconds required")
    spec = pod_spec(j)
    if spec.get("restartPolicy") != "Never" or spec.get("automountServiceAccountToken") is not False:
        problems.append(f"Job {jname}: restartPolicy Never and no service account token expected")
    if "serviceAccountName" in spec:
        problems.append(f"Job {jname}: the chart's ServiceAccount does not exist yet when hooks run")
    if spec.get("securityContext") != pod_spec(a_deployment).get("securityContext"):
        problems.append(f"Job {jname}: pod securityContext differs from the Deployments'")
    c = spec["containers"][0]
    if c.get("securityContext") != pod_spec(a_deployment)["containers"][0].get("securityContext"):
        problems.append(f"Job {jname}: container securityContext differs from the Deployments'")
    if not (c.get("resources") or {}).get("limits", {}).get("memory"):
        problems.append(f"Job {jname}: no memory limit")
    if len(c.get("args", [])) != 2 or c["args"][1] != "--migrate-only" or c["args"][0] not in ("coffer-identity", "coffer-vault"):
        problems.append(f"Job {jname}: args {c.get('args')} are not '<binary> --migrate-only'")
    env = container_env(c)
    if "secretKeyRef" not in ((env.get("COFFER_DB_DSN") or {}).get("valueFrom") or {}):
        problems.append(f"Job {jname}: COFFER_DB_DSN must come from a Secret")
    job_databases.add(env["COFFER_SHARD_ID"]["value"] if "COFFER_SHARD_ID" in env else "identity")
    volumes = {v["name"] for v in spec.get("volumes", [])}
    for m in c.get("volumeMounts", []):
        if m["name"] not in volumes:
            problems.append(f"Job {jname}: mount {m['name']} has no volume")
if migration_jobs and job_databases != deployment_databases:
    problems.append(f"migration Jobs for {sorted(job_databases)}, Deployments for {sorted(deployment_databases)}")


def job_dsn(database):
    for j in migration_jobs.values():
        env = container_env(pod_spec(j)["containers"][0])
        if (env["COFFER_SHARD_ID"]["value"] if "COFFER_SHARD_ID" in env else "identity") == database:
            ref = env["COFFER_DB_DSN"]["valueFrom"]["secretKeyRef"]
            return ref["name"], ref["key"]
    return None


if mode == "default":
    for database, secret in (("identity", "coffer-identity-db"), ("shard-a", "coffer-shard-a-db"),
                             ("shard-b", "coffer-shard-b-db")):
        if job_dsn(database) != (secret, "dsn"):
            problems.append(f"default: migration Job of {database} uses {job_dsn(database)}, want the runtime {secret}")
if mode == "full":
    for database, secret in (("identity", "coffer-identity-db-owner"), ("shard-a", "coffer-shard-a-db-owner"),
                             ("shard-b", "coffer-shard-b-db")):
        if job_dsn(database) != (secret, "dsn"):
            problems.append(f"full: migration Job of {database} uses {job_dsn(database)}, want {secret}")
if mode == "kafka-secure":
    vault_cm = configmaps.get("coffer-vault", {})
    want = {"COFFER_KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "COFFER_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "COFFER_KAFKA_SSL_CA_FILE": "/etc/coffer/kafka-ca/ca.crt",
            "COFFER_KAFKA_SSL_CERT_FILE": "/etc/coffer/kafka-client/tls.crt",
            "COFFER_KAFKA_SSL_KEY_FILE": "/etc/coffer/kafka-client/tls.key",
            "COFFER_KAFKA_SASL_PASSWORD_FILE": "/etc/coffer/kafka-sasl/password"}
    for key, value in want.items():
        if vault_cm.get(key) != value:
            problems.append(f"kafka-secure: ConfigMap coffer-vault {key}={vault_cm.get(key)}, want {value}")
    secret_of_volume = {"kafka-ca": ("coffer-kafka-ca", {"ca.crt"}),
                        "kafka-client": ("coffer-kafka-client-tls", {"tls.crt", "tls.key"}),
                        "kafka-sasl": ("coffer-kafka-user", {"password"})}
    for dname, d in deployments.items():
        if "vault" not in dname:
            continue
        env = container_env(pod_spec(d)["containers"][0])
        ref = ((env.get("COFFER_KAFKA_SASL_USERNAME") or {}).get("valueFrom") or {}).get("secretKeyRef")
        if ref != {"name": "coffer-kafka-user", "key": "username"}:
            problems.append(f"kafka-secure: {dname}: COFFER_KAFKA_SASL_USERNAME not from the Secret ({ref})")
        vols = {v["name"]: v for v in pod_spec(d)["volumes"]}
        for vname, (secret, paths) in secret_of_volume.items():
            v = (vols.get(vname) or {}).get("secret") or {}
            if v.get("secretName") != secret or {i["path"] for i in v.get("items", [])} != paths:
                problems.append(f"kafka-secure: {dname}: volume {vname} is not {secret} with {sorted(paths)}")
        want_dsn = {"name": "coffer-shard-a-db-owner", "key": "owner-dsn"} if dname.endswith("shard-a") else None
        got = ((env.get("COFFER_MIGRATION_DB_DSN") or {}).get("valueFrom") or {}).get("secretKeyRef")
        if got != want_dsn:
            problems.append(f"kafka-secure: {dname}: COFFER_MIGRATION_DB_DSN {got}, want {want_dsn}")

tests = [p for p in of_kind("Pod") if (p["metadata"].get("annotations") or {}).get("helm.sh/hook") == "test"]
if len(tests) != 1:
    problems.append(f"{len(tests)} helm test pods, expected 1")

optional = {"NetworkPolicy": 2, "HorizontalPodAutoscaler": 3, "Ingress": 3, "PrometheusRule": 1,
            "ServiceMonitor": 1}
required = {"Deployment": 3, "Service": 3, "ConfigMap": 2, "PodDisruptionBudget": 3,
            "ServiceAccount": 1}
# The Kafka topic Job only in full; a migration Job per database unless turned off.
want_jobs = {"default": 3, "full": 4, "kafka-secure": 0}[mode]
if count("Job") != want_jobs or len(migration_jobs) != (0 if mode == "kafka-secure" else 3):
    problems.append(f"{mode}: {count('Job')} Jobs ({len(migration_jobs)} migration), expected {want_jobs}")
for kind, n in required.items():
    if count(kind) != n:
        problems.append(f"{mode}: {count(kind)} {kind}, expected {n}")
for kind, n in optional.items():
    want = n if mode == "full" else 0  # default and kafka-secure turn no optional object on
    if count(kind) != want:
        problems.append(f"{mode}: {count(kind)} {kind}, expected {want}")

if problems:
    print("\n".join("  " + p for p in problems), file=sys.stderr)
    sys.exit(1)
print(f"helm_rules {mode}: {len(docs)} objects checked")
