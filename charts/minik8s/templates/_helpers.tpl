{{/* The chart's name, or nameOverride. */}}
{{- define "minik8s.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's objects' name: fullnameOverride, else release-name, else release-chart. */}}
{{- define "minik8s.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "minik8s.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "minik8s.commonLabels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: minik8s
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "minik8s.labels" -}}
app.kubernetes.io/name: {{ include "minik8s.name" . }}
app.kubernetes.io/component: controller-manager
{{ include "minik8s.commonLabels" . }}
{{- end -}}

{{- define "minik8s.selectorLabels" -}}
app.kubernetes.io/name: {{ include "minik8s.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "minik8s.serviceAccountName" -}}
{{- default (include "minik8s.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* image.repository with image.digest when set (a digest pins the image), else the tag. */}}
{{- define "minik8s.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/* The namespace the controllers watch and the helm test uses: watchNamespace, else the release's. */}}
{{- define "minik8s.workNamespace" -}}
{{- default .Release.Namespace .Values.watchNamespace -}}
{{- end -}}

{{- define "minik8s.scheduler.fullname" -}}
{{- printf "%s-scheduler" (include "minik8s.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "minik8s.scheduler.selectorLabels" -}}
app.kubernetes.io/name: {{ include "minik8s.name" . }}-scheduler
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "minik8s.scheduler.labels" -}}
app.kubernetes.io/name: {{ include "minik8s.name" . }}-scheduler
app.kubernetes.io/component: scheduler
{{ include "minik8s.commonLabels" . }}
{{- end -}}
