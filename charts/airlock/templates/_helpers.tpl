{{/* Name of the chart, overridable. */}}
{{- define "airlock.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Prefix of every object: the release name, plus the chart name unless the release name already
contains it (so `helm install airlock` gives `airlock`, not `airlock-airlock`).
*/}}
{{- define "airlock.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "airlock.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object the chart renders. */}}
{{- define "airlock.labels" -}}
helm.sh/chart: {{ include "airlock.chart" . }}
{{ include "airlock.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: airlock
{{- end }}

{{/* Labels that select the operator's pods; never change them (Deployment selectors are immutable). */}}
{{- define "airlock.selectorLabels" -}}
app.kubernetes.io/name: {{ include "airlock.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "airlock.serviceAccountName" -}}
{{- default (include "airlock.fullname" .) .Values.serviceAccount.name }}
{{- end }}

{{/* Names the operator is told through its flags; RBAC resourceNames use the same helpers. */}}
{{- define "airlock.webhookConfigName" -}}
{{- include "airlock.fullname" . }}
{{- end }}
{{- define "airlock.webhookServiceName" -}}
{{- printf "%s-webhook" (include "airlock.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- define "airlock.tlsSecretName" -}}
{{- printf "%s-webhook-tls" (include "airlock.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- define "airlock.sealSecretName" -}}
{{- printf "%s-config-seal" (include "airlock.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- define "airlock.leaseName" -}}
{{- printf "%s-operator" (include "airlock.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- define "airlock.certificateName" -}}
{{- printf "%s-webhook" (include "airlock.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* repository:tag or repository@digest; the tag defaults to the chart's appVersion. */}}
{{- define "airlock.image" -}}
{{- if .image.digest }}
{{- printf "%s@%s" .image.repository .image.digest }}
{{- else }}
{{- printf "%s:%s" .image.repository (default .appVersion .image.tag) }}
{{- end }}
{{- end }}

{{- define "airlock.certManager" -}}
{{- if eq .Values.tls.mode "cert-manager" }}true{{ end }}
{{- end }}

{{/* Where the cert-manager serving certificate is mounted in the operator. */}}
{{- define "airlock.tlsMountPath" -}}
/etc/airlock/webhook-tls
{{- end }}

{{/* Where the operator reads the collector's secret headers (telemetry.otlp.headersSecret). */}}
{{- define "airlock.otlpHeadersMountPath" -}}
/etc/airlock/otlp-headers
{{- end }}

{{/* The sidecar image, and every image an AgentSandbox may name (comma-separated, the sidecar image first). */}}
{{- define "airlock.sidecarImage" -}}
{{- include "airlock.image" (dict "image" .Values.sidecar.image "appVersion" .Chart.AppVersion) }}
{{- end }}
{{- define "airlock.allowedSidecarImages" -}}
{{- prepend .Values.sidecar.allowedImages (include "airlock.sidecarImage" .) | uniq | join "," }}
{{- end }}

{{/*
The sidecar images the operator replicas already in the cluster inject (comma-separated, maybe
empty): the `--sidecar-image` of the Deployment this release replaces, and of every operator pod
still running (a rollout that has not finished): a pod with the operator's labels, its service
account and a ReplicaSet of the operator's Deployment as its owner. Labels alone would let whoever
may create a pod in the release namespace name an image the pod policy then admits (red team 23). During `helm upgrade` the old replicas keep
answering the webhook until the new ones are ready, and what they inject must still pass the
finished-pod policy (docs/adr/0031-upgrade-keeps-the-running-sidecar-image.md). `helm template`
and client-side dry runs cannot look, and render none.
*/}}
{{- define "airlock.runningSidecarImages" -}}
{{- $images := list }}
{{- $specs := list }}
{{- with lookup "apps/v1" "Deployment" .Release.Namespace (include "airlock.fullname" .) }}
{{- $specs = append $specs .spec.template.spec }}
{{- end }}
{{- $selector := include "airlock.selectorLabels" . | fromYaml }}
{{- $serviceAccount := include "airlock.serviceAccountName" . }}
{{- $replicaSets := printf "%s-" (include "airlock.fullname" .) }}
{{- range $pod := (lookup "v1" "Pod" .Release.Namespace "").items | default list }}
{{- $labels := $pod.metadata.labels | default dict }}
{{- $match := eq ($pod.spec.serviceAccountName | default "") $serviceAccount }}
{{- range $key, $value := $selector }}{{ if ne (get $labels $key) (toString $value) }}{{ $match = false }}{{ end }}{{ end }}
{{- $owned := false }}
{{- range $owner := $pod.metadata.ownerReferences | default list }}{{ if and (eq $owner.kind "ReplicaSet") (hasPrefix $replicaSets $owner.name) }}{{ $owned = true }}{{ end }}{{ end }}
{{- if and $match $owned }}{{ $specs = append $specs $pod.spec }}{{ end }}
{{- end }}
{{- range $spec := $specs }}
{{- range $container := $spec.containers | default list }}
{{- range $arg := $container.args | default list }}
{{- if hasPrefix "--sidecar-image=" $arg }}{{ $images = append $images (trimPrefix "--sidecar-image=" $arg) }}{{ end }}
{{- end }}
{{- end }}
{{- end }}
{{- $images | uniq | join "," }}
{{- end }}

{{/*
The images whose airlock-firewall, airlock-sidecar and airlock-tools containers the finished-pod
policy takes for Airlock's own: those an AgentSandbox may name, plus the running replicas' (above).
Only the pod policy keeps the running ones: an AgentSandbox may not name an image the new values
dropped.
*/}}
{{- define "airlock.podSidecarImages" -}}
{{- $running := include "airlock.runningSidecarImages" . }}
{{- concat (splitList "," (include "airlock.allowedSidecarImages" .)) (splitList "," $running) | compact | uniq | join "," }}
{{- end }}

{{/*
The namespaces Airlock guards: the webhook and the admission policies select the same ones. The
release namespace and kube-system never, so the operator's own pods and the system's start even
when the webhook is down.
*/}}
{{- define "airlock.sandboxNamespaceSelector" -}}
{{- $excluded := concat (list .Release.Namespace "kube-system") .Values.webhook.excludeNamespaces | uniq }}
{{- with .Values.webhook.namespaceLabels }}
matchLabels:
  {{- toYaml . | nindent 2 }}
{{- end }}
matchExpressions:
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values:
      {{- toYaml $excluded | nindent 6 }}
  {{- with .Values.operator.watchNamespaces }}
  - key: kubernetes.io/metadata.name
    operator: In
    values:
      {{- toYaml . | nindent 6 }}
  {{- end }}
{{- end }}

{{/*
CEL reading a key of an object's labels or annotations, the one way the webhook's match condition
and the admission policies read them (CEL fails on an absent map or key unless guarded so):
"airlock.celHasKey" says whether the key is there, "airlock.celKeyValue" gives its value or
`default` (a CEL literal) when it is not. Both take
(dict "object" "oldObject" "map" "labels" "key" "airlock.dev/sandbox" "default" "''").
*/}}
{{- define "airlock.celHasKey" -}}
has({{ .object }}.metadata.{{ .map }}) && '{{ .key }}' in {{ .object }}.metadata.{{ .map }}
{{- end }}
{{- define "airlock.celKeyValue" -}}
{{ include "airlock.celHasKey" . }} ? {{ .object }}.metadata.{{ .map }}['{{ .key }}'] : {{ .default }}
{{- end }}
