{{/*
lvmd, as the topolvm chart (lvmd.mode daemonset or embedded) and the lvmd
chart run it. This file is identical in deploy/charts/topolvm/templates/ and
deploy/charts/lvmd/templates/ (the chart tests check it). "values" below is
the lvmd values map: .Values.lvmd in the topolvm chart, .Values in the lvmd
chart; both have the same keys for what this file reads.
*/}}

{{/* The path lvmd's config file is mounted at, in every container that reads it. */}}
{{- define "toposuite.lvmd.configPath" -}}/etc/topolvm/lvmd.yaml{{- end -}}

{{/* The socket a standalone lvmd serves on, for (dict "values" ...). */}}
{{- define "toposuite.lvmd.socket" -}}
{{- printf "%s/lvmd.sock" (.values.socketDir | trimSuffix "/") -}}
{{- end -}}

{{/*
toposuite.lvmd.config renders lvmd's configuration file (docs/lvmd.md) from
(dict "values" ... "standalone" bool): the user's config, plus the socket and
the metrics address when lvmd runs as its own process. nodeName is left to
$NODE_NAME, which every lvmd container gets from the downward API.
*/}}
{{- define "toposuite.lvmd.config" -}}
{{- $cfg := deepCopy .values.config -}}
{{- $defaults := 0 -}}
{{- range $cfg.deviceClasses -}}{{- if .default -}}{{- $defaults = add1 $defaults -}}{{- end -}}{{- end -}}
{{- if ne $defaults 1 -}}
{{- fail (printf "lvmd config: exactly one device class must be the default (default: true), found %d" $defaults) -}}
{{- end -}}
{{- if .standalone -}}
{{- $_ := set $cfg "socketName" (include "toposuite.lvmd.socket" .) -}}
{{- if .values.metrics.enabled -}}
{{- $_ := set $cfg "metricsAddress" (printf ":%d" (int .values.metrics.port)) -}}
{{- end -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* toposuite.lvmd.configMap: the ConfigMap holding lvmd.yaml, for (dict "root" "values" "name" "standalone"). */}}
{{- define "toposuite.lvmd.configMap" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .name }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "toposuite.labels" (dict "root" .root "component" "lvmd") | nindent 4 }}
data:
  lvmd.yaml: |
    {{- include "toposuite.lvmd.config" . | nindent 4 }}
{{- end -}}

{{/*
The host directories LVM uses (besides /dev, which every pod that runs lvmd
mounts under the volume name "dev"): needed when LVM runs in the container;
harmless when lvm.commandPrefix runs it in the host's namespaces.
*/}}
{{- define "toposuite.lvmd.hostVolumeMounts" -}}
- name: run-lvm
  mountPath: /run/lvm
- name: etc-lvm
  mountPath: /etc/lvm
- name: lvmd-config
  mountPath: {{ include "toposuite.lvmd.configPath" . | dir }}
  readOnly: true
{{- end -}}

{{/* The volumes behind toposuite.lvmd.hostVolumeMounts, for (dict "name" <ConfigMap name>). */}}
{{- define "toposuite.lvmd.hostVolumes" -}}
- name: run-lvm
  hostPath:
    path: /run/lvm
    type: DirectoryOrCreate
- name: etc-lvm
  hostPath:
    path: /etc/lvm
    type: DirectoryOrCreate
- name: lvmd-config
  configMap:
    name: {{ .name }}
{{- end -}}

{{/*
Where `lvmd prepare` leaves its report on the host, for the operator's node
agent; the same directory in every chart that runs prepare.
*/}}
{{- define "toposuite.lvmd.prepareReportDir" -}}/run/toposuite/prepare{{- end -}}

{{/* The host directory of prepare's report, for (dict "values"); empty without prepare. */}}
{{- define "toposuite.lvmd.prepareVolumes" -}}
{{- if .values.prepare.enabled -}}
- name: prepare-reports
  hostPath:
    path: {{ include "toposuite.lvmd.prepareReportDir" . }}
    type: DirectoryOrCreate
{{- end -}}
{{- end -}}

{{/*
toposuite.lvmd.prepareContainer: an init container running `lvmd prepare`
(build the volume groups declared under config.volumeGroups), for
(dict "root" "values"). Rendered only when values.prepare.enabled. It goes
on (--keep-going) when a device is refused or a command fails, so that lvmd
starts and serves the volume groups that exist; the report it leaves on the
host says what was not done.
*/}}
{{- define "toposuite.lvmd.prepareContainer" -}}
{{- if .values.prepare.enabled }}
- name: lvmd-prepare
  image: {{ include "toposuite.image" (dict "root" .root "image" .values.image) }}
  imagePullPolicy: {{ .root.Values.imagePullPolicy }}
  args:
    - prepare
    - --config={{ include "toposuite.lvmd.configPath" . }}
    - --keep-going
    - --report-file={{ include "toposuite.lvmd.prepareReportDir" . }}/lvmd.json
    - --log-format={{ .root.Values.logFormat }}
    - --log-level={{ .root.Values.logLevel }}
  securityContext:
    privileged: true
  volumeMounts:
    - name: dev
      mountPath: /dev
    - name: prepare-reports
      mountPath: {{ include "toposuite.lvmd.prepareReportDir" . }}
    {{- include "toposuite.lvmd.hostVolumeMounts" . | nindent 4 }}
{{- end }}
{{- end -}}

{{/*
toposuite.lvmd.daemonSet: lvmd as its own DaemonSet, serving on a socket in
a host directory that the node plugin mounts too; for
(dict "root" $ "values" <lvmd values> "name" <object name> "placement" <map
with nodeSelector, tolerations, affinity, priorityClassName>).
Renders the ConfigMap, a ServiceAccount without API access, the DaemonSet
and, with metrics on, a headless metrics Service.
*/}}
{{- define "toposuite.lvmd.daemonSet" -}}
{{- $ctx := dict "root" .root "values" .values "name" .name "standalone" true -}}
{{- include "toposuite.lvmd.configMap" $ctx }}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ .name }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "toposuite.labels" (dict "root" .root "component" "lvmd") | nindent 4 }}
automountServiceAccountToken: false
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: {{ .name }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "toposuite.labels" (dict "root" .root "component" "lvmd") | nindent 4 }}
spec:
  selector:
    matchLabels:
      {{- include "toposuite.selectorLabels" (dict "root" .root "component" "lvmd") | nindent 6 }}
  {{- with .values.updateStrategy }}
  updateStrategy:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  template:
    metadata:
      labels:
        {{- include "toposuite.labels" (dict "root" .root "component" "lvmd") | nindent 8 }}
      annotations:
        checksum/config: {{ include "toposuite.lvmd.config" $ctx | sha256sum }}
        {{- with get .values "podAnnotations" }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ .name }}
      automountServiceAccountToken: false
      hostPID: {{ .values.hostPID }}
      {{- with include "toposuite.imagePullSecrets" .root }}{{ . | trim | nindent 6 }}{{ end }}
      {{- with include "toposuite.placement" .placement }}{{ . | trim | nindent 6 }}{{ end }}
      {{- with include "toposuite.lvmd.prepareContainer" . }}
      initContainers:
        {{- . | trim | nindent 8 }}
      {{- end }}
      containers:
        - name: lvmd
          image: {{ include "toposuite.image" (dict "root" .root "image" .values.image) }}
          imagePullPolicy: {{ .root.Values.imagePullPolicy }}
          args:
            - --config={{ include "toposuite.lvmd.configPath" . }}
            - --log-format={{ .root.Values.logFormat }}
            - --log-level={{ .root.Values.logLevel }}
          env:
            - name: NODE_NAME
              valueFrom:
                fieldRef:
                  fieldPath: spec.nodeName
          securityContext:
            privileged: true
          {{- if .values.metrics.enabled }}
          ports:
            - name: metrics
              containerPort: {{ .values.metrics.port }}
          livenessProbe:
            httpGet:
              path: /healthz
              port: metrics
            periodSeconds: 10
            failureThreshold: 3
          readinessProbe:
            httpGet:
              path: /readyz
              port: metrics
            periodSeconds: 5
          {{- end }}
          {{- with .values.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          volumeMounts:
            - name: dev
              mountPath: /dev
            - name: lvmd-socket-dir
              mountPath: {{ .values.socketDir }}
            {{- include "toposuite.lvmd.hostVolumeMounts" . | nindent 12 }}
      volumes:
        - name: dev
          hostPath:
            path: /dev
            type: Directory
        - name: lvmd-socket-dir
          hostPath:
            path: {{ .values.socketDir }}
            type: DirectoryOrCreate
        {{- include "toposuite.lvmd.hostVolumes" . | nindent 8 }}
        {{- with include "toposuite.lvmd.prepareVolumes" . }}{{ . | nindent 8 }}{{ end }}
{{- if and .values.metrics.enabled .values.metrics.service.enabled }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ .name }}-metrics
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "toposuite.labels" (dict "root" .root "component" "lvmd") | nindent 4 }}
  {{- with .values.metrics.service.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  clusterIP: None
  selector:
    {{- include "toposuite.selectorLabels" (dict "root" .root "component" "lvmd") | nindent 4 }}
  ports:
    - name: metrics
      port: {{ .values.metrics.port }}
      targetPort: metrics
{{- end }}
{{- end -}}
