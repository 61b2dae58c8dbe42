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

{{/* The exporter's Service (and its certificate's DNS name). */}}
{{- define "inferwatch.exporterService" -}}
{{- printf "%s-exporter" (include "inferwatch.fullname" .) }}
{{- end }}

{{/* The Secret holding the exporter's certificate: cert-manager's, or an existing one. */}}
{{- define "inferwatch.exporterTLSSecret" -}}
{{- if .Values.exporter.web.tls.certManager.enabled }}
{{- printf "%s-exporter-tls" (include "inferwatch.fullname" .) }}
{{- else }}
{{- .Values.exporter.web.tls.existingSecret }}
{{- end }}
{{- end }}

{{/* "true" when the exporter reads a web configuration of its own (TLS or basic auth, no kube-rbac-proxy). */}}
{{- define "inferwatch.exporterWebConfig" -}}
{{- $w := .Values.exporter.web }}
{{- if and (or $w.tls.enabled $w.basicAuth.enabled) (not $w.kubeRbacProxy.enabled) }}true{{ end }}
{{- end }}

{{/* "HTTPS" when the exporter's port speaks TLS (its own, or kube-rbac-proxy's), else "HTTP". */}}
{{- define "inferwatch.exporterScheme" -}}
{{- if or .Values.exporter.web.tls.enabled .Values.exporter.web.kubeRbacProxy.enabled }}HTTPS{{ else }}HTTP{{ end }}
{{- end }}

{{/* Refuse web and client settings that cannot work together, naming the values. */}}
{{- define "inferwatch.checkSecurity" -}}
{{- $w := .Values.exporter.web }}
{{- if and $w.tls.enabled (not $w.tls.certManager.enabled) (not $w.tls.existingSecret) }}
{{- fail "exporter.web.tls: enable certManager or name an existingSecret (a kubernetes.io/tls Secret)" }}
{{- end }}
{{- if and $w.tls.enabled $w.tls.certManager.enabled (not $w.tls.certManager.issuerRef.name) }}
{{- fail "exporter.web.tls.certManager.issuerRef.name: name the Issuer or ClusterIssuer that signs the exporter's certificate" }}
{{- end }}
{{- if and $w.basicAuth.enabled (or (not $w.basicAuth.users) (not $w.basicAuth.existingSecret)) }}
{{- fail "exporter.web.basicAuth: set users (user -> bcrypt hash) and existingSecret (the plain password Prometheus scrapes with)" }}
{{- end }}
{{- if and $w.basicAuth.enabled $w.kubeRbacProxy.enabled }}
{{- fail "exporter.web: basicAuth and kubeRbacProxy exclude each other (kube-rbac-proxy checks Prometheus's token)" }}
{{- end }}
{{- $c := .Values.prometheusClient }}
{{- if and $c.serviceAccountToken.enabled $c.basicAuth.existingSecret }}
{{- fail "prometheusClient: serviceAccountToken and basicAuth exclude each other (one Authorization header)" }}
{{- end }}
{{- if and $c.ca.configMap $c.ca.secret }}
{{- fail "prometheusClient.ca: name a configMap or a secret, not both" }}
{{- end }}
{{- end }}

{{/* Volumes of a Prometheus reader's pod: what prometheusClient names, mounted where configmap.yaml says. */}}
{{- define "inferwatch.prometheusClientVolumes" -}}
{{- $pc := .Values.prometheusClient }}
{{- if $pc.serviceAccountToken.enabled }}
- name: prometheus-token
  projected:
    sources:
      - serviceAccountToken:
          path: token
          expirationSeconds: {{ $pc.serviceAccountToken.expirationSeconds }}
          {{- with $pc.serviceAccountToken.audience }}
          audience: {{ . }}
          {{- end }}
{{- end }}
{{- with $pc.basicAuth.existingSecret }}
- name: prometheus-basic-auth
  secret:
    secretName: {{ . }}
    items:
      - key: {{ $pc.basicAuth.usernameKey }}
        path: username
      - key: {{ $pc.basicAuth.passwordKey }}
        path: password
{{- end }}
{{- if $pc.ca.configMap }}
- name: prometheus-ca
  configMap:
    name: {{ $pc.ca.configMap }}
    items:
      - key: {{ $pc.ca.key }}
        path: ca.crt
{{- else if $pc.ca.secret }}
- name: prometheus-ca
  secret:
    secretName: {{ $pc.ca.secret }}
    items:
      - key: {{ $pc.ca.key }}
        path: ca.crt
{{- end }}
{{- end }}

{{/* Mounts of those volumes. */}}
{{- define "inferwatch.prometheusClientMounts" -}}
{{- $pc := .Values.prometheusClient }}
{{- if $pc.serviceAccountToken.enabled }}
- name: prometheus-token
  mountPath: /var/run/secrets/inferwatch/prometheus-token
  readOnly: true
{{- end }}
{{- if $pc.basicAuth.existingSecret }}
- name: prometheus-basic-auth
  mountPath: /var/run/secrets/inferwatch/prometheus-basic-auth
  readOnly: true
{{- end }}
{{- if or $pc.ca.configMap $pc.ca.secret }}
- name: prometheus-ca
  mountPath: /etc/inferwatch-prometheus-ca
  readOnly: true
{{- end }}
{{- end }}

{{/* Port (and scheme) of the exporter's probes: its own named port, or kube-rbac-proxy's by number. */}}
{{- define "inferwatch.exporterProbePort" -}}
{{- if .Values.exporter.web.kubeRbacProxy.enabled }}
port: {{ int .Values.inferwatch.exporter.port }}
{{- else }}
port: metrics
{{- end }}
{{- if eq (include "inferwatch.exporterScheme" .) "HTTPS" }}
scheme: HTTPS
{{- end }}
{{- end }}

{{/*
Refuse to install an exporter that Pod Security Admission would never let run. With attribution the
exporter's pod mounts a hostPath (the kubelet's pod-resources socket), outside the baseline and
restricted levels: in such a namespace the DaemonSet would be "deployed" with no pod, ever (one
FailedCreate event). The namespace is read from the cluster (`lookup`; nothing during
`helm template`), so a namespace made by --create-namespace, unlabelled, passes here: the cluster's
default level then decides, and `helm test` finds no exporter behind the Service.
*/}}
{{- define "inferwatch.checkPodSecurity" -}}
{{- if .Values.exporter.attribution }}
{{- $ns := lookup "v1" "Namespace" "" .Release.Namespace }}
{{- $level := "" }}
{{- if $ns }}{{ $level = index (default (dict) $ns.metadata.labels) "pod-security.kubernetes.io/enforce" | default "" }}{{ end }}
{{- if has $level (list "baseline" "restricted") }}
{{- fail (printf "\n\nnamespace %s enforces the Pod Security level %q, which refuses the exporter's pods: GPU attribution mounts the kubelet's pod-resources socket (a hostPath volume). Either label the namespace privileged, as docs/deploy.md says:\n\n  kubectl label namespace %s pod-security.kubernetes.io/enforce=privileged --overwrite\n\nor install without attribution (the exporter then runs non-root and passes restricted):\n\n  --set exporter.attribution=false\n" .Release.Namespace $level .Release.Namespace) }}
{{- end }}
{{- end }}
{{- end }}
