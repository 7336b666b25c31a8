"""Operating rules of deployments/docker-compose.yml, checked on `docker-compose config` output.

Usage: compose_rules.py RENDERED_YAML SECRETS_DIR (run by scripts/check-deploy compose).
Every service: json-file logs with max-size and max-file, memory and CPU limits, a PID limit, a
read-only root (except the Kafka containers), Coffer containers a /tmp tmpfs, published ports on
127.0.0.1 only; every secret file is one deployments/generate-dev-secrets.sh wrote.
"""
import os, sys, yaml
rendered, secrets_dir = sys.argv[1], sys.argv[2]
cfg = yaml.safe_load(open(rendered))
problems = []
WRITABLE_ROOT = {"kafka", "kafka-init"}  # third-party image writing its config under /opt/kafka
for name, svc in sorted(cfg["services"].items()):
    log = svc.get("logging") or {}
    opts = log.get("options") or {}
    if log.get("driver") != "json-file" or "max-size" not in opts or "max-file" not in opts:
        problems.append(f"{name}: logging must be json-file with max-size and max-file")
    limits = ((svc.get("deploy") or {}).get("resources") or {}).get("limits") or {}
    if "memory" not in limits or "cpus" not in limits:
        problems.append(f"{name}: deploy.resources.limits needs memory and cpus")
    if not svc.get("pids_limit"):
        problems.append(f"{name}: pids_limit missing")
    if name not in WRITABLE_ROOT and svc.get("read_only") is not True:
        problems.append(f"{name}: read_only: true missing")
    if "coffer" in str(svc.get("image", "")) and not any(
            str(t).split(":")[0] == "/tmp" for t in svc.get("tmpfs") or []):
        problems.append(f"{name}: Coffer container without a /tmp tmpfs")
    for p in svc.get("ports") or []:
        ip = p.get("host_ip") if isinstance(p, dict) else str(p).split(":")[0]
        if ip != "127.0.0.1":
            problems.append(f"{name}: port {p} is not bound to 127.0.0.1")
for name, s in sorted((cfg.get("secrets") or {}).items()):
    f = s.get("file", "")
    if not os.path.isfile(f) or os.path.dirname(f) != secrets_dir:
        problems.append(f"secret {name}: {f} is not written by generate-dev-secrets.sh")
if problems:
    print("\n".join("  " + p for p in problems), file=sys.stderr)
    sys.exit(1)
print(f"{len(cfg['services'])} services, {len(cfg.get('secrets') or {})} secrets checked")
