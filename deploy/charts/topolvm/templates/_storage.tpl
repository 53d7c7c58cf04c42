{{/*
What makes this chart TopoLVM: the storage backend (lvm, through lvmd) as the
shared templates (controller.yaml, node.yaml, ...) ask for it. The topols
chart defines the same templates for btrfsd.
*/}}

{{/* The controller's --storage. */}}
{{- define "toposuite.storage" -}}lvm{{- end -}}

{{/* The filesystem of a StorageClass that names none. */}}
{{- define "toposuite.defaultFSType" -}}ext4{{- end -}}

{{/* The name of lvmd's ConfigMap and DaemonSet. */}}
{{- define "toposuite.lvmd.name" -}}
{{- include "toposuite.componentName" (dict "root" . "component" "lvmd") -}}
{{- end -}}

{{/* The node pod shares the host's PID namespace only when it runs LVM itself (nsenter -t 1). */}}
{{- define "toposuite.node.hostPID" -}}
{{- and (eq .Values.lvmd.mode "embedded") .Values.lvmd.hostPID -}}
{{- end -}}

{{/* How the node plugin reaches lvmd. */}}
{{- define "toposuite.node.daemonArgs" -}}
{{- if eq .Values.lvmd.mode "embedded" -}}
- --lvmd-config={{ include "toposuite.lvmd.configPath" . }}
{{- else -}}
- --lvmd-socket={{ include "toposuite.lvmd.socket" (dict "values" .Values.lvmd) }}
{{- end -}}
{{- end -}}

{{- define "toposuite.node.daemonVolumeMounts" -}}
{{- if eq .Values.lvmd.mode "embedded" -}}
{{- include "toposuite.lvmd.hostVolumeMounts" . -}}
{{- else -}}
- name: lvmd-socket-dir
  mountPath: {{ .Values.lvmd.socketDir }}
{{- end -}}
{{- end -}}

{{- define "toposuite.node.daemonVolumes" -}}
{{- if eq .Values.lvmd.mode "embedded" -}}
{{- include "toposuite.lvmd.hostVolumes" (dict "name" (include "toposuite.lvmd.name" .)) -}}
{{- with include "toposuite.lvmd.prepareVolumes" (dict "values" .Values.lvmd) }}{{ . | nindent 0 }}{{ end -}}
{{- else -}}
- name: lvmd-socket-dir
  hostPath:
    path: {{ .Values.lvmd.socketDir }}
    type: DirectoryOrCreate
{{- end -}}
{{- end -}}

{{/* `lvmd prepare` before the node plugin starts, when lvmd is embedded and prepare is on. */}}
{{- define "toposuite.node.initContainers" -}}
{{- if eq .Values.lvmd.mode "embedded" -}}
{{- include "toposuite.lvmd.prepareContainer" (dict "root" . "values" .Values.lvmd) -}}
{{- end -}}
{{- end -}}

{{/* Restart the node pods when the embedded lvmd's config changes. */}}
{{- define "toposuite.node.podAnnotations" -}}
{{- if eq .Values.lvmd.mode "embedded" -}}
checksum/config: {{ include "toposuite.lvmd.config" (dict "values" .Values.lvmd "standalone" false) | sha256sum }}
{{- end -}}
{{- end -}}
