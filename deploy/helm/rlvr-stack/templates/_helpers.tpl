{{/*
Names, labels, the Redis connection, the worker groups and the two security contexts.

Three values below mirror services/rlvr_services/constants.py and are checked against it by
tests/test_helm_chart.py: a task stream is "<prefix>:tasks:<verifier>" (constants.task_stream), every task
stream is read by the consumer group "workers" (constants.GROUP), and a verifier's demand list is
"<prefix>:demand:<verifier>" (constants.demand_key).
*/}}

{{- define "rlvr.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "rlvr.fullname" -}}
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

{{- define "rlvr.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels every object carries. */}}
{{- define "rlvr.labels" -}}
helm.sh/chart: {{ include "rlvr.chart" . }}
app.kubernetes.io/name: {{ include "rlvr.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: rlvr-stack
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component: (list $ "gateway") */}}
{{- define "rlvr.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "rlvr.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "rlvr.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "rlvr.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "rlvr.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The namespace of the code worker: the release's, or the sandbox namespace the chart creates. */}}
{{- define "rlvr.sandboxNamespace" -}}
{{- if .Values.podSecurity.sandboxNamespace.enabled -}}
{{- default (printf "%s-sandbox" .Release.Namespace) .Values.podSecurity.sandboxNamespace.name -}}
{{- else -}}
{{- .Release.Namespace -}}
{{- end -}}
{{- end -}}

{{/* ---------------------------------------------------------------- Redis keys (constants.py) */}}

{{- define "rlvr.consumerGroup" -}}workers{{- end -}}

{{/* (list $ "judge") -> "rlvr:demand:judge" (constants.demand_key): refusals for want of a live worker */}}
{{- define "rlvr.demandList" -}}
{{- printf "%s:demand:%s" (index . 0).Values.redisPrefix (index . 1) -}}
{{- end -}}

{{/* (list $ "math") -> "rlvr:tasks:math" */}}
{{- define "rlvr.taskStream" -}}
{{- printf "%s:tasks:%s" (index . 0).Values.redisPrefix (index . 1) -}}
{{- end -}}

{{/* ---------------------------------------------------------------- the Redis connection */}}

{{/* JSON: scheme, host (name only), port, db, tls; from redis.external.url or the chart's StatefulSet. */}}
{{- define "rlvr.redis.endpoint" -}}
{{- if .Values.redis.enabled -}}
{{- $host := printf "%s-redis.%s.svc.%s" (include "rlvr.fullname" .) .Release.Namespace .Values.clusterDomain -}}
{{- dict "scheme" "redis" "host" $host "port" (int .Values.redis.port) "db" 0 "tls" false | toJson -}}
{{- else -}}
{{- $url := required "redis.external.url is required when redis.enabled is false" .Values.redis.external.url -}}
{{- $u := urlParse $url -}}
{{- if not (has $u.scheme (list "redis" "rediss")) -}}
{{- fail (printf "redis.external.url %q: the scheme must be redis:// or rediss://" $url) -}}
{{- end -}}
{{- if $u.userinfo -}}
{{- fail "redis.external.url must not carry credentials: put the password in a Secret and name it in redis.auth.existingSecret" -}}
{{- end -}}
{{- $hostport := splitList ":" $u.host -}}
{{- $port := 6379 -}}
{{- if gt (len $hostport) 1 -}}{{- $port = int (last $hostport) -}}{{- end -}}
{{- $db := 0 -}}
{{- $path := trimPrefix "/" $u.path -}}
{{- if $path -}}
{{- if not (regexMatch "^[0-9]+$" $path) -}}
{{- fail (printf "redis.external.url %q: the path must be a database number" $url) -}}
{{- end -}}
{{- $db = int $path -}}
{{- end -}}
{{- dict "scheme" $u.scheme "host" $u.hostname "port" $port "db" $db "tls" (eq $u.scheme "rediss") | toJson -}}
{{- end -}}
{{- end -}}

{{/* The URL the services get (RLVR_REDIS_URL); a password comes from the env var RLVR_REDIS_PASSWORD. */}}
{{- define "rlvr.redis.url" -}}
{{- $e := include "rlvr.redis.endpoint" . | fromJson -}}
{{- $auth := "" -}}
{{- if .Values.redis.auth.existingSecret -}}
{{- $auth = printf "%s:$(RLVR_REDIS_PASSWORD)@" (default "" .Values.redis.auth.username) -}}
{{- end -}}
{{- printf "%s://%s%s:%d/%d" $e.scheme $auth $e.host (int $e.port) (int $e.db) -}}
{{- end -}}

{{/* Env entries of every rlvr container: the Redis connection and the settings shared by gateway and workers. */}}
{{- define "rlvr.commonEnv" -}}
{{- if .Values.redis.auth.existingSecret -}}
- name: RLVR_REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.auth.existingSecret }}
      key: {{ .Values.redis.auth.key }}
{{ end -}}
- name: RLVR_REDIS_URL
  value: {{ include "rlvr.redis.url" . | quote }}
- name: RLVR_REDIS_PREFIX
  value: {{ .Values.redisPrefix | quote }}
- name: RLVR_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: RLVR_DRAIN_TIMEOUT_S
  value: {{ .Values.drainTimeoutSeconds | quote }}
{{- end -}}

{{/* The API keys file: env (list $ withKeys) and its volume and mount. */}}
{{- define "rlvr.apiKeys.secretName" -}}
{{- if .Values.apiKeys.existingSecret -}}
{{- .Values.apiKeys.existingSecret -}}
{{- else if .Values.apiKeys.keys -}}
{{- printf "%s-api-keys" (include "rlvr.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "rlvr.apiKeys.env" -}}
{{- if include "rlvr.apiKeys.secretName" . }}
- name: RLVR_API_KEYS_FILE
  value: /etc/rlvr/api-keys/{{ .Values.apiKeys.fileKey }}
{{- end }}
{{- end -}}

{{- define "rlvr.apiKeys.mount" -}}
{{- if include "rlvr.apiKeys.secretName" . }}
- name: api-keys
  mountPath: /etc/rlvr/api-keys
  readOnly: true
{{- end }}
{{- end -}}

{{- define "rlvr.apiKeys.volume" -}}
{{- if include "rlvr.apiKeys.secretName" . }}
- name: api-keys
  secret:
    secretName: {{ include "rlvr.apiKeys.secretName" . }}
    items:
      - key: {{ .Values.apiKeys.fileKey }}
        path: {{ .Values.apiKeys.fileKey }}
{{- end }}
{{- end -}}

{{/* Extra env from a map (name -> value); values are quoted strings. */}}
{{- define "rlvr.envMap" -}}
{{- range $k, $v := . }}
- name: {{ $k }}
  value: {{ $v | toString | quote }}
{{- end }}
{{- end -}}

{{/* ---------------------------------------------------------------- worker groups */}}

{{/* One group's settings: workers.defaults, then the group's own keys: a key given replaces the default, except
   keda and pdb, whose keys are overlaid one by one. */}}
{{- define "rlvr.groupConfig" -}}
{{- $root := index . 0 -}}
{{- $out := deepCopy $root.Values.workers.defaults -}}
{{- range $k, $v := index . 2 -}}
{{- if and (has $k (list "keda" "pdb")) (kindIs "map" $v) (kindIs "map" (get $out $k)) -}}
{{- $sub := deepCopy (get $out $k) -}}
{{- range $sk, $sv := $v -}}{{- $_ := set $sub $sk $sv -}}{{- end -}}
{{- $_ := set $out $k $sub -}}
{{- else -}}
{{- $_ := set $out $k $v -}}
{{- end -}}
{{- end -}}
{{- $_ := set $out "name" (index . 1) -}}
{{- $_ := set $out "sandbox" (has "code" $out.verifiers) -}}
{{- toJson $out -}}
{{- end -}}

{{/* Fails the render on a bad group: a bad name, no verifiers, a verifier in two groups, `code` beside others. */}}
{{- define "rlvr.validateGroups" -}}
{{- $seen := dict -}}
{{- range $name, $group := .Values.workers.groups -}}
{{- $g := include "rlvr.groupConfig" (list $ $name $group) | fromJson -}}
{{- if $g.enabled -}}
{{- if not (regexMatch "^[a-z0-9]([a-z0-9-]{0,18}[a-z0-9])?$" $name) -}}
{{- fail (printf "workers.groups.%s: a group name is a DNS label of at most 20 characters" $name) -}}
{{- end -}}
{{- if not $g.verifiers -}}
{{- fail (printf "workers.groups.%s: list its verifiers" $name) -}}
{{- end -}}
{{- range $v := $g.verifiers -}}
{{- if not (regexMatch "^[a-z][a-z0-9_]*$" $v) -}}
{{- fail (printf "workers.groups.%s: %q is not a verifier name" $name $v) -}}
{{- end -}}
{{- if hasKey $seen $v -}}
{{- fail (printf "verifier %q is in two worker groups: %s and %s" $v (get $seen $v) $name) -}}
{{- end -}}
{{- $_ := set $seen $v $name -}}
{{- end -}}
{{- if and $g.sandbox (gt (len $g.verifiers) 1) -}}
{{- fail (printf "workers.groups.%s: the code verifier runs privileged (its jail) and gets a group of its own; move %s elsewhere" $name (without $g.verifiers "code" | join ",")) -}}
{{- end -}}
{{- if gt (int $g.minReplicas) (int $g.maxReplicas) -}}
{{- fail (printf "workers.groups.%s: minReplicas %d is above maxReplicas %d" $name (int $g.minReplicas) (int $g.maxReplicas)) -}}
{{- end -}}
{{- if and (eq (int $g.minReplicas) 0) $.Values.keda.enabled (not $.Values.keda.demand.enabled) -}}
{{- fail (printf "workers.groups.%s: minReplicas 0 needs keda.demand.enabled: with no live worker the gateway refuses the group's items, so only their demand lists can wake it" $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* terminationGracePeriodSeconds: above the drain timeout (plus the preStop sleep), with a margin. */}}
{{- define "rlvr.gracePeriod" -}}
{{- $root := index . 0 -}}
{{- $preStop := int (index . 1) -}}
{{- $override := index . 2 -}}
{{- $floor := add (int $root.Values.drainTimeoutSeconds) $preStop 1 -}}
{{- if $override -}}
{{- if lt (int $override) (int $floor) -}}
{{- fail (printf "terminationGracePeriodSeconds %d leaves no time to drain: it must be at least drainTimeoutSeconds + preStop + 1 = %d" (int $override) (int $floor)) -}}
{{- end -}}
{{- int $override -}}
{{- else -}}
{{- add (int $root.Values.drainTimeoutSeconds) $preStop (int $root.Values.gracePeriodMarginSeconds) -}}
{{- end -}}
{{- end -}}

{{/* ---------------------------------------------------------------- security contexts */}}

{{/* Pod Security "restricted": every pod but the code worker's. (list $ uid) */}}
{{- define "rlvr.restrictedPodSecurityContext" -}}
{{- $uid := int (index . 1) -}}
runAsNonRoot: true
runAsUser: {{ $uid }}
runAsGroup: {{ $uid }}
fsGroup: {{ $uid }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "rlvr.restrictedContainerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
The code worker: what deploy/Dockerfile documents for the bubblewrap jail. Root in the container
(bwrap without a user namespace), CAP_SYS_ADMIN (the jails' namespaces and mounts) and CAP_NET_ADMIN
(each jail's loopback), no seccomp and no AppArmor profile from the runtime (the jail installs its own
seccomp filter and drops every capability for the programs it runs). Not privileged: no devices, no
other added capabilities, /proc and /sys stay masked.
*/}}
{{- define "rlvr.sandboxPodSecurityContext" -}}
runAsNonRoot: false
runAsUser: 0
runAsGroup: 0
seccompProfile:
  type: Unconfined
appArmorProfile:
  type: Unconfined
{{- end -}}

{{- define "rlvr.sandboxContainerSecurityContext" -}}
runAsNonRoot: false
runAsUser: 0
privileged: false
allowPrivilegeEscalation: true
readOnlyRootFilesystem: false
capabilities:
  {{- with .Values.sandbox.dropCapabilities }}
  drop: {{ toJson . }}
  {{- end }}
  add: {{ toJson .Values.sandbox.addCapabilities }}
seccompProfile:
  type: Unconfined
appArmorProfile:
  type: Unconfined
{{- end -}}

{{/* ---------------------------------------------------------------- network policy peers */}}

{{- define "rlvr.dnsEgress" -}}
- to:
    - namespaceSelector:
        matchLabels: {{ toJson .Values.networkPolicy.dns.namespaceLabels }}
      podSelector:
        matchLabels: {{ toJson .Values.networkPolicy.dns.podLabels }}
  ports:
    - protocol: UDP
      port: 53
    - protocol: TCP
      port: 53
{{- end -}}

{{/* Egress to Redis: the chart's StatefulSet pods, or the external address's port. */}}
{{- define "rlvr.redisEgress" -}}
{{- $e := include "rlvr.redis.endpoint" . | fromJson -}}
{{- if .Values.redis.enabled -}}
- to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: {{ .Release.Namespace }}
      podSelector:
        matchLabels:
          {{- include "rlvr.selectorLabels" (list . "redis") | nindent 10 }}
  ports:
    - protocol: TCP
      port: {{ int .Values.redis.port }}
{{- else -}}
- to:
    {{- range .Values.redis.external.networkPolicyCIDRs }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
  ports:
    - protocol: TCP
      port: {{ int $e.port }}
{{- end }}
{{- end -}}

{{/* Ingress from Prometheus, for the pods it scrapes. */}}
{{- define "rlvr.prometheusIngress" -}}
{{- if .root.Values.serviceMonitor.enabled }}
- from:
    - namespaceSelector:
        matchLabels: {{ toJson .root.Values.serviceMonitor.prometheusNamespaceLabels }}
  ports:
    - protocol: TCP
      port: {{ .port }}
{{- end }}
{{- end -}}
