{{/*
What makes this chart TopoLS: the storage backend (btrfs, through btrfsd
embedded in topols-node) as the shared templates (controller.yaml,
node.yaml, ...) ask for it. The topolvm chart defines the same templates for lvmd.
*/}}

{{/* The controller's --storage. */}}
{{- define "toposuite.storage" -}}btrfs{{- end -}}

{{/* The filesystem of a StorageClass that names none: a volume is a btrfs subvolume. */}}
{{- define "toposuite.defaultFSType" -}}btrfs{{- end -}}

{{- define "toposuite.btrfsd.name" -}}
{{- include "toposuite.componentName" (dict "root" . "component" "btrfsd") -}}
{{- end -}}

{{- define "toposuite.btrfsd.configPath" -}}/etc/topols/btrfsd.yaml{{- end -}}

{{/*
btrfsd's configuration file (docs/btrfsd.md): the user's config as is;
btrfsd is embedded, so it has no socket and its capacity metrics are the
node plugin's. nodeName is left to $NODE_NAME.
*/}}
{{- define "toposuite.btrfsd.config" -}}
{{- $defaults := 0 -}}
{{- range .Values.btrfsd.config.pools -}}{{- if .default -}}{{- $defaults = add1 $defaults -}}{{- end -}}{{- end -}}
{{- if ne $defaults 1 -}}
{{- fail (printf "btrfsd config: exactly one pool must be the default (default: true), found %d" $defaults) -}}
{{- end -}}
{{- toYaml .Values.btrfsd.config -}}
{{- end -}}

{{/* The distinct pool directories, each mounted at its own path. */}}
{{- define "toposuite.btrfsd.poolPaths" -}}
{{- $paths := list -}}
{{- range .Values.btrfsd.config.pools -}}{{- $paths = append $paths (.path | clean) -}}{{- end -}}
{{- $paths | uniq | sortAlpha | join "\n" -}}
{{- end -}}

{{/*
The distinct parent directories of the pools. btrfsd prepare gets these,
not the pool paths: a pool path mounted into its container would always be
a mount point there (of the host directory's filesystem), which prepare
rightly refuses to mount over; under the parent, the pool path is what it
is on the host, and the mount prepare makes reaches the host (Bidirectional).
*/}}
{{- define "toposuite.btrfsd.poolParents" -}}
{{- $dirs := list -}}
{{- range .Values.btrfsd.config.pools -}}{{- $dirs = append $dirs (.path | clean | dir) -}}{{- end -}}
{{- $dirs | uniq | sortAlpha | join "\n" -}}
{{- end -}}

{{/* Pool mounts, for (dict "root" $ "propagation" "HostToContainer"|"Bidirectional"). */}}
{{- define "toposuite.btrfsd.poolMounts" -}}
{{- $prop := .propagation -}}
{{- range splitList "\n" (include "toposuite.btrfsd.poolPaths" .root) }}
- name: pool-{{ sha256sum . | trunc 10 }}
  mountPath: {{ . }}
  mountPropagation: {{ $prop }}
{{- end -}}
{{- end -}}

{{/* The node pod shares the host's PID namespace only when btrfsd's commands need nsenter -t 1. */}}
{{- define "toposuite.node.hostPID" -}}{{ .Values.btrfsd.hostPID }}{{- end -}}

{{- define "toposuite.node.daemonArgs" -}}
- --btrfsd-config={{ include "toposuite.btrfsd.configPath" . }}
{{- end -}}

{{/* Pools are seen as the host sees them (mounted by prepare, a unit or fstab). */}}
{{- define "toposuite.node.daemonVolumeMounts" -}}
- name: btrfsd-config
  mountPath: {{ include "toposuite.btrfsd.configPath" . | dir }}
  readOnly: true
{{- include "toposuite.btrfsd.poolMounts" (dict "root" . "propagation" "HostToContainer") }}
{{- end -}}

{{- define "toposuite.node.daemonVolumes" -}}
- name: btrfsd-config
  configMap:
    name: {{ include "toposuite.btrfsd.name" . }}
{{- if .Values.btrfsd.prepare.enabled }}
- name: prepare-reports
  hostPath:
    path: {{ include "toposuite.btrfsd.prepareReportDir" . }}
    type: DirectoryOrCreate
{{- end }}
{{- range splitList "\n" (include "toposuite.btrfsd.poolPaths" .) }}
- name: pool-{{ sha256sum . | trunc 10 }}
  hostPath:
    path: {{ . }}
    type: DirectoryOrCreate
{{- end -}}
{{- if .Values.btrfsd.prepare.enabled }}
{{- range splitList "\n" (include "toposuite.btrfsd.poolParents" .) }}
- name: pool-parent-{{ sha256sum . | trunc 10 }}
  hostPath:
    path: {{ . }}
    type: DirectoryOrCreate
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Where `btrfsd prepare` leaves its report on the host, for the operator's node
agent; the topolvm chart's lvmd prepare uses the same
directory.
*/}}
{{- define "toposuite.btrfsd.prepareReportDir" -}}/run/toposuite/prepare{{- end -}}

{{/*
`btrfsd prepare` before the node plugin starts: builds and mounts the pools
that have a filesystem block, under the pools' parent directories (see
toposuite.btrfsd.poolParents); the mounts reach the host (Bidirectional). It
goes on (--keep-going) when a device is refused, so that the node plugin
starts with the pools that exist; its report on the host says what was not
done.
*/}}
{{- define "toposuite.node.initContainers" -}}
{{- if .Values.btrfsd.prepare.enabled -}}
- name: btrfsd-prepare
  image: {{ include "toposuite.image" (dict "root" . "image" .Values.btrfsd.image) }}
  imagePullPolicy: {{ .Values.imagePullPolicy }}
  args:
    - prepare
    - --config={{ include "toposuite.btrfsd.configPath" . }}
    - --keep-going
    - --report-file={{ include "toposuite.btrfsd.prepareReportDir" . }}/btrfsd.json
    - --log-format={{ .Values.logFormat }}
    - --log-level={{ .Values.logLevel }}
  securityContext:
    privileged: true
  volumeMounts:
    - name: dev
      mountPath: /dev
    - name: prepare-reports
      mountPath: {{ include "toposuite.btrfsd.prepareReportDir" . }}
    - name: btrfsd-config
      mountPath: {{ include "toposuite.btrfsd.configPath" . | dir }}
      readOnly: true
    {{- range splitList "\n" (include "toposuite.btrfsd.poolParents" .) }}
    - name: pool-parent-{{ sha256sum . | trunc 10 }}
      mountPath: {{ . }}
      mountPropagation: Bidirectional
    {{- end }}
{{- end -}}
{{- end -}}

{{/* Restart the node pods when btrfsd's config changes. */}}
{{- define "toposuite.node.podAnnotations" -}}
checksum/config: {{ include "toposuite.btrfsd.config" . | sha256sum }}
{{- end -}}
