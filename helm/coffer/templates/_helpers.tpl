{{/* Chart name, truncated to 63 characters (a DNS label). */}}
{{- define "coffer.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-qualified name; resources append "-identity" or "-vault-<shard>". */}}
{{- define "coffer.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "coffer.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Name of the identity resources. */}}
{{- define "coffer.identityName" -}}
{{- printf "%s-identity" (include "coffer.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Name of one shard's resources. Call with (dict "root" $ "shard" $shard). */}}
{{- define "coffer.vaultName" -}}
{{- printf "%s-vault-%s" (include "coffer.fullname" .root) .shard.id | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Selector labels. Call with (dict "root" $ "component" "identity"|"vault" ["shard" $shard]).
*/}}
{{- define "coffer.selectorLabels" -}}
app.kubernetes.io/name: {{ include "coffer.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- if .shard }}
coffer.dev/shard: {{ .shard.id | quote }}
{{- end }}
{{- end -}}

{{/* Common labels; same arguments as coffer.selectorLabels. */}}
{{- define "coffer.labels" -}}
helm.sh/chart: {{ include "coffer.chart" .root }}
{{ include "coffer.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Values.image.tag | default .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: coffer
{{- end -}}

{{- define "coffer.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{- define "coffer.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "coffer.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* gRPC target of the identity service as the vaults see it. */}}
{{- define "coffer.identityAddr" -}}
{{- if .Values.vault.identityAddr -}}
{{- .Values.vault.identityAddr -}}
{{- else if and .Values.identity.enabled (not .Values.vault.jwksUrl) -}}
{{- printf "%s:%v" (include "coffer.identityName" .) .Values.ports.grpc -}}
{{- end -}}
{{- end -}}

{{/* Container ports. Call with (dict "root" $ "http" true|false "rest" true|false). */}}
{{- define "coffer.containerPorts" -}}
- name: grpc
  containerPort: {{ .root.Values.ports.grpc }}
  protocol: TCP
- name: admin
  containerPort: {{ .root.Values.ports.admin }}
  protocol: TCP
{{- if .http }}
- name: http
  containerPort: {{ .root.Values.ports.http }}
  protocol: TCP
{{- end }}
{{- if .rest }}
- name: rest
  containerPort: {{ .root.Values.ports.rest }}
  protocol: TCP
{{- end }}
{{- end -}}

{{/*
checksum/secret of a pod: sha256 over the names of the Secrets it uses and, when Helm can read
them (install/upgrade against a cluster; `helm template` and `--dry-run` cannot), their data. A
rotated Secret rolls the pods on the next `helm upgrade`. Call with (dict "root" $ "names" list).
*/}}
{{- define "coffer.secretChecksum" -}}
{{- $root := .root -}}
{{- $parts := list -}}
{{- range $name := .names -}}
{{- if $name -}}
{{- $secret := lookup "v1" "Secret" $root.Release.Namespace $name | default dict -}}
{{- $parts = append $parts (printf "%s=%s" $name (toJson (get $secret "data" | default dict))) -}}
{{- end -}}
{{- end -}}
{{- $parts | toJson | sha256sum -}}
{{- end -}}

{{/* Labels every pod of the release carries (network policies). Call with the root context. */}}
{{- define "coffer.releaseLabels" -}}
app.kubernetes.io/name: {{ include "coffer.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/*
HorizontalPodAutoscaler metrics. Call with the autoscaling values
({targetCPUUtilizationPercentage, targetMemoryUtilizationPercentage}).
*/}}
{{- define "coffer.hpaMetrics" -}}
{{- if .targetCPUUtilizationPercentage }}
- type: Resource
  resource:
    name: cpu
    target:
      type: Utilization
      averageUtilization: {{ .targetCPUUtilizationPercentage }}
{{- end }}
{{- if .targetMemoryUtilizationPercentage }}
- type: Resource
  resource:
    name: memory
    target:
      type: Utilization
      averageUtilization: {{ .targetMemoryUtilizationPercentage }}
{{- end }}
{{- end -}}

{{/* Startup, liveness and readiness probes on the admin port. Call with the root context. */}}
{{- define "coffer.probes" -}}
startupProbe:
  httpGet:
    path: /healthz
    port: admin
  periodSeconds: {{ .Values.probes.startup.periodSeconds }}
  failureThreshold: {{ .Values.probes.startup.failureThreshold }}
  timeoutSeconds: {{ .Values.probes.startup.timeoutSeconds }}
livenessProbe:
  httpGet:
    path: /healthz
    port: admin
  periodSeconds: {{ .Values.probes.liveness.periodSeconds }}
  failureThreshold: {{ .Values.probes.liveness.failureThreshold }}
  timeoutSeconds: {{ .Values.probes.liveness.timeoutSeconds }}
readinessProbe:
  httpGet:
    path: /readyz
    port: admin
  periodSeconds: {{ .Values.probes.readiness.periodSeconds }}
  failureThreshold: {{ .Values.probes.readiness.failureThreshold }}
  timeoutSeconds: {{ .Values.probes.readiness.timeoutSeconds }}
{{- if .Values.preStopSleepSeconds }}
lifecycle:
  preStop:
    exec:
      command: ["sleep", "{{ .Values.preStopSleepSeconds }}"]
{{- end }}
{{- end -}}

{{/*
TLS environment for a server, when tls.secretName is set. Call with the tls values
({secretName, requireClientCert}).
Files come from the volume made by coffer.tlsVolume, mounted at /etc/coffer/tls.
*/}}
{{- define "coffer.tlsEnv" -}}
- name: COFFER_TLS_CERT_FILE
  value: /etc/coffer/tls/tls.crt
- name: COFFER_TLS_KEY_FILE
  value: /etc/coffer/tls/tls.key
{{- if .requireClientCert }}
- name: COFFER_TLS_CLIENT_CA_FILE
  value: /etc/coffer/tls/ca.crt
{{- end }}
{{- end -}}

{{/*
Pod affinity: the values' affinity when set, else a soft anti-affinity spreading the
replicas of one component (and shard) over nodes. Call with
(dict "root" $ "affinity" $values "component" "vault" ["shard" $shard]).
*/}}
{{- define "coffer.affinity" -}}
{{- if .affinity -}}
{{ toYaml .affinity }}
{{- else -}}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "coffer.selectorLabels" (dict "root" .root "component" .component "shard" .shard) | nindent 12 }}
{{- end -}}
{{- end -}}

{{/*
librdkafka security.protocol of the vaults (COFFER_KAFKA_SECURITY_PROTOCOL), derived from
kafka.tls.enabled and kafka.sasl.mechanism. Call with the root context.
*/}}
{{- define "coffer.kafkaSecurityProtocol" -}}
{{- $tls := .Values.kafka.tls.enabled -}}
{{- $sasl := ne (.Values.kafka.sasl.mechanism | default "") "" -}}
{{- if and $tls $sasl -}}sasl_ssl
{{- else if $tls -}}ssl
{{- else if $sasl -}}sasl_plaintext
{{- else -}}plaintext
{{- end -}}
{{- end -}}

{{/*
Checks of kafka.tls / kafka.sasl that the schema cannot express; renders nothing. Call with the
root context.
*/}}
{{- define "coffer.kafkaSecurityChecks" -}}
{{- $k := .Values.kafka -}}
{{- $tls := $k.tls.enabled -}}
{{- $sasl := $k.sasl -}}
{{- if and (not $tls) (or ($k.tls.caSecret).name $k.tls.clientCertSecret) -}}
{{- fail "kafka.tls: caSecret / clientCertSecret are set but kafka.tls.enabled is false" -}}
{{- end -}}
{{- if $sasl.mechanism -}}
{{- if not ($sasl.passwordSecret).name -}}
{{- fail (printf "kafka.sasl.passwordSecret.name is required with kafka.sasl.mechanism %s" $sasl.mechanism) -}}
{{- end -}}
{{- if and $sasl.username ($sasl.usernameSecret).name -}}
{{- fail "kafka.sasl: set username or usernameSecret, not both" -}}
{{- end -}}
{{- if not (or $sasl.username ($sasl.usernameSecret).name) -}}
{{- fail (printf "kafka.sasl: username or usernameSecret.name is required with mechanism %s" $sasl.mechanism) -}}
{{- end -}}
{{- else if or $sasl.username ($sasl.usernameSecret).name ($sasl.passwordSecret).name -}}
{{- fail "kafka.sasl: a username or password is set but kafka.sasl.mechanism is empty" -}}
{{- end -}}
{{- if and $k.topicJob.enabled (ne (include "coffer.kafkaSecurityProtocol" .) "plaintext") -}}
{{- fail "kafka.topicJob speaks plaintext only: with kafka.tls / kafka.sasl create the topic with your Kafka operator (helm/README.md \"Kafka topic\")" -}}
{{- end -}}
{{- end -}}

{{/*
The Secret reference holding the DSN migrations use: database.migrationDsnSecret when its name
is set, else database.dsnSecret. Call with a component's database values; renders YAML
({name, key}) for fromYaml.
*/}}
{{- define "coffer.migrationDsnSecret" -}}
{{- $m := .migrationDsnSecret | default dict -}}
{{- if $m.name -}}
name: {{ $m.name }}
key: {{ $m.key | default "dsn" }}
{{- else -}}
name: {{ (.dsnSecret).name }}
key: {{ (.dsnSecret).key | default "dsn" }}
{{- end -}}
{{- end -}}

{{/*
COFFER_MIGRATION_DB_DSN for a Deployment that migrates at start (migrations.job.enabled false)
with a separate migration Secret; nothing otherwise. Call with (dict "root" $ "database" $db).
*/}}
{{- define "coffer.migrationDsnEnv" -}}
{{- $m := .database.migrationDsnSecret | default dict -}}
{{- if and (not .root.Values.migrations.job.enabled) $m.name -}}
- name: COFFER_MIGRATION_DB_DSN
  valueFrom:
    secretKeyRef:
      name: {{ $m.name }}
      key: {{ $m.key | default "dsn" }}
{{- end -}}
{{- end -}}
