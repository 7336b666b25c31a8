"""Operating rules of deployments/docker-compose.yml, checked on `docker-compose config` output.

Usage: compose_rules.py RENDERED_YAML SECRETS_DIR [--kafka-security]
(run by scripts/check-deploy compose).
Every service: json-file logs with max-size and max-file, memory and CPU limits, a PID limit, a
read-only root (except the Kafka containers), Coffer containers a /tmp tmpfs, published ports on
127.0.0.1 only; every secret file is one deployments/generate-dev-secrets.sh wrote (or, for the
Kafka files of the opt-in, one the check put there). Migrations: every Coffer service started
with COFFER_MIGRATE=off waits for a one-shot `<binary> --migrate-only` service of the same
database (condition service_completed_successfully) that never restarts.
--kafka-security (the #kafka-security# lines uncommented): every shard of the kafka profile
names its Kafka files under /run/secrets/ from secrets it mounts, the SASL password as a file.
"""
import os, sys, yaml
rendered, secrets_dir = sys.argv[1], sys.argv[2]
kafka_security = "--kafka-security" in sys.argv[3:]
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
services = cfg["services"]


def secret_sources(svc):
    return {(x["source"] if isinstance(x, dict) else x): (x.get("target") if isinstance(x, dict) else None) or
            (x["source"] if isinstance(x, dict) else x) for x in svc.get("secrets") or []}


def command_text(svc):
    c = svc.get("command") or []
    return " ".join(c) if isinstance(c, list) else str(c)


migrate_services = {n: s for n, s in services.items() if n.endswith("-migrate")}
for name, svc in sorted(migrate_services.items()):
    if "--migrate-only" not in command_text(svc):
        problems.append(f"{name}: does not run --migrate-only")
    if svc.get("restart") not in ("no", None):
        problems.append(f"{name}: a one-shot must not restart (restart: {svc.get('restart')})")
for name, svc in sorted(services.items()):
    env = svc.get("environment") or {}
    if env.get("COFFER_MIGRATE") != "off":
        if "coffer-" in command_text(svc) and "--migrate-only" not in command_text(svc) and "COFFER_DB_DSN" in command_text(svc):
            problems.append(f"{name}: has a database but does not run with COFFER_MIGRATE=off")
        continue
    deps = svc.get("depends_on") or {}
    waits = [d for d, c in deps.items() if d in migrate_services and (c or {}).get("condition") == "service_completed_successfully"]
    if len(waits) != 1:
        problems.append(f"{name}: COFFER_MIGRATE=off but waits for {len(waits)} *-migrate services")
        continue
    mine, theirs = secret_sources(svc), secret_sources(migrate_services[waits[0]])
    dsn = {src for src in mine if src.endswith("_db_dsn")}
    if not dsn or not dsn <= set(theirs):
        problems.append(f"{name}: {waits[0]} migrates another database ({sorted(theirs)} vs {sorted(mine)})")
    theirs_profiles = set(migrate_services[waits[0]].get("profiles") or [])
    mine_profiles = set(svc.get("profiles") or [])
    if theirs_profiles and not (mine_profiles and mine_profiles <= theirs_profiles):
        problems.append(f"{name}: {waits[0]} is not started in the profiles {sorted(mine_profiles)}")

if kafka_security:
    for name in ("shard-a", "shard-b"):
        svc = services[name]
        env = svc.get("environment") or {}
        mounted = {t for t in secret_sources(svc).values()}
        for key in ("COFFER_KAFKA_SSL_CA_FILE", "COFFER_KAFKA_SSL_CERT_FILE", "COFFER_KAFKA_SSL_KEY_FILE",
                    "COFFER_KAFKA_SASL_PASSWORD_FILE"):
            path = str(env.get(key, ""))
            if not path.startswith("/run/secrets/") or path[len("/run/secrets/"):] not in mounted:
                problems.append(f"{name}: {key}={path or '(unset)'} is not a mounted secret")
        if any("PASSWORD" in k and not k.endswith("_FILE") for k in env):
            problems.append(f"{name}: a password as a variable")

if problems:
    print("\n".join("  " + p for p in problems), file=sys.stderr)
    sys.exit(1)
print(f"{len(cfg['services'])} services, {len(cfg.get('secrets') or {})} secrets checked")
