{{/* Name of the chart, or nameOverride. */}}
{{- define "inferwatch.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name of the release's objects: <release>-<chart> unless the release name holds the chart name. */}}
{{- define "inferwatch.fullname" -}}
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

{{/* Labels of every object; helm.sh/chart is here and never in a selector. */}}
{{- define "inferwatch.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "inferwatch.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels: stable across upgrades. */}}
{{- define "inferwatch.selectorLabels" -}}
app.kubernetes.io/name: {{ include "inferwatch.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Selector labels of one component (exporter, cost-report, test). */}}
{{- define "inferwatch.componentSelector" -}}
{{ include "inferwatch.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Labels of one component's objects. */}}
{{- define "inferwatch.componentLabels" -}}
{{ include "inferwatch.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "inferwatch.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "inferwatch.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image reference: a digest pins it, else the tag (default: the chart's appVersion). */}}
{{- define "inferwatch.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Container security context of every container: Pod Security "restricted" unless root is asked for. */}}
{{- define "inferwatch.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Pod security context of a non-root pod. */}}
{{- define "inferwatch.nonRootPodSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "inferwatch.webhookSecretName" -}}
{{- default (printf "%s-webhook" (include "inferwatch.fullname" .)) .Values.costReport.webhook.existingSecret }}
{{- end }}

{{- define "inferwatch.reportsClaimName" -}}
{{- default (printf "%s-reports" (include "inferwatch.fullname" .)) .Values.costReport.persistence.existingClaim }}
{{- end }}

{{/*
Refuse values whose thresholds, SLOs or prices differ from the ones the shipped rules were
generated from: the alerts would silently disagree with inferwatch.yaml. (With controller.enabled
the controller generates the rules from the values, so they may differ.)
*/}}
{{- define "inferwatch.checkRuleInputs" -}}
{{- if not .Values.controller.enabled }}
{{- $built := .Files.Get "files/rules-config.json" | fromJson }}
{{- $given := dict "thresholds" .Values.inferwatch.thresholds "slos" .Values.inferwatch.slos "pricing" .Values.inferwatch.pricing }}
{{- range $key := list "thresholds" "slos" "pricing" }}
{{- if ne (toJson (get $built $key)) (toJson (get $given $key)) }}
{{- fail (printf "inferwatch.%s differs from the %s the chart's rules were generated from: the rules would not match it. Regenerate the chart from your config with `inferwatch -c my.yaml build` (docs/deploy.md), or set controller.enabled=true so the controller generates the rules from these values" $key $key) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
