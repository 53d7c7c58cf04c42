{{/*
Helpers shared by every TopoSuite chart. This file is identical in
deploy/charts/{topolvm,topols,lvmd,topolvm-scheduler}/templates/ (the chart
tests check it), so a fix here goes into all four copies.
*/}}

{{/* toposuite.name is the chart's name, or nameOverride. */}}
{{- define "toposuite.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
toposuite.fullname names the release's namespaced objects: fullnameOverride,
else the release name when it already holds the chart's name, else
<release>-<chart>.
*/}}
{{- define "toposuite.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* toposuite.componentName: <fullname>-<component>, for (dict "root" $ "component" "controller"). */}}
{{- define "toposuite.componentName" -}}
{{- printf "%s-%s" (include "toposuite.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
toposuite.clusterName names a cluster-scoped object after the CSI driver:
<driverName>:<suffix> (topolvm.io:controller), so that the two drivers,
installed side by side, never share a ClusterRole or ClusterRoleBinding.
Called with (dict "root" $ "suffix" "controller").
*/}}
{{- define "toposuite.clusterName" -}}
{{- printf "%s:%s" .root.Values.driverName .suffix -}}
{{- end -}}

{{/* toposuite.selectorLabels: the labels a component's pods are selected by. */}}
{{- define "toposuite.selectorLabels" -}}
app.kubernetes.io/name: {{ include "toposuite.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* toposuite.labels: every object's labels, for (dict "root" $ "component" "controller"). */}}
{{- define "toposuite.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "toposuite.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: toposuite
{{- with get .root.Values "driverName" }}
toposuite.io/driver: {{ . }}
{{- end }}
{{- end -}}

{{/*
toposuite.image renders an image reference from (dict "root" $ "image" .Values.x.image):
repository@digest when a digest is given, else repository:tag, the tag
defaulting to the chart's appVersion.
*/}}
{{- define "toposuite.image" -}}
{{- $digest := get .image "digest" -}}
{{- if $digest -}}
{{- printf "%s@%s" .image.repository $digest -}}
{{- else -}}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion (get .image "tag")) -}}
{{- end -}}
{{- end -}}

{{/* toposuite.imagePullSecrets renders the pod's imagePullSecrets, if any. */}}
{{- define "toposuite.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets -}}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
toposuite.placement renders a pod's nodeSelector, tolerations, affinity and
priorityClassName from a values map holding those keys.
*/}}
{{- define "toposuite.placement" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- end -}}
