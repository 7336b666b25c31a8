"""Checks of `helm template` output of helm/coffer (run by scripts/check-deploy helm).

Usage: helm_rules.py default|full RENDERED_YAML

Both: every Deployment's pod template carries checksum/config and checksum/secret; each
Service selects a Deployment's pods and targets ports its container declares; every volume
mount has its volume; every /etc/coffer file a COFFER_*_FILE variable names is mounted; the
REST and public HTTP ports a container declares are the ones its ConfigMap makes it listen on;
HPAs target existing Deployments, which then leave replicas out; Ingress backends are existing
Service ports; NetworkPolicies select pods and admit every container port; every coffer_*
metric an alert uses is registered somewhere in services/ or pkg/; the helm test pod is a test
hook; names fit 63 characters. `default` must create no optional object, `full` every one.
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

tests = [p for p in of_kind("Pod") if (p["metadata"].get("annotations") or {}).get("helm.sh/hook") == "test"]
if len(tests) != 1:
    problems.append(f"{len(tests)} helm test pods, expected 1")

optional = {"NetworkPolicy": 2, "HorizontalPodAutoscaler": 3, "Ingress": 3, "PrometheusRule": 1,
            "ServiceMonitor": 1, "Job": 1}
required = {"Deployment": 3, "Service": 3, "ConfigMap": 2, "PodDisruptionBudget": 3,
            "ServiceAccount": 1}
for kind, n in required.items():
    if count(kind) != n:
        problems.append(f"{mode}: {count(kind)} {kind}, expected {n}")
for kind, n in optional.items():
    want = n if mode == "full" else 0
    if count(kind) != want:
        problems.append(f"{mode}: {count(kind)} {kind}, expected {want}")

if problems:
    print("\n".join("  " + p for p in problems), file=sys.stderr)
    sys.exit(1)
print(f"helm_rules {mode}: {len(docs)} objects checked")
