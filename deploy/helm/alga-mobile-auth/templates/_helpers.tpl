{{/* The release's object name. */}}
{{- define "alga-mobile-auth.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "alga-mobile-auth.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "alga-mobile-auth.labels" -}}
{{ include "alga-mobile-auth.selectorLabels" . }}
app.kubernetes.io/component: mobile-auth
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The mode, checked. */}}
{{- define "alga-mobile-auth.mode" -}}
{{- if not (has .Values.mode (list "standalone" "appliance")) -}}
{{- fail (printf "mode must be standalone or appliance, not %q" .Values.mode) -}}
{{- end -}}
{{- .Values.mode -}}
{{- end -}}

{{/*
The paths the sidecar serves for the clients, as "path pathType" lines
(SPEC §8.6). Appliance: only these; the web app keeps its sign-in and its own
/api/v1/mobile/... routes. Standalone adds the sidecar's sign-in pages, OAuth
callbacks and JWKS, each exactly. internal/e2e checks both lists.
*/}}
{{- define "alga-mobile-auth.routes" -}}
/api/v1/mobile/auth/ Prefix
/auth/mobile/handoff Exact
/mobile/connect Exact
/api/v1/mobile/connect-qr.png Exact
/api/v1/mobile/connect-qr.svg Exact
{{- if eq (include "alga-mobile-auth.mode" .) "standalone" }}
/auth/signin Exact
/auth/signin/google Exact
/auth/signin/azure-ad Exact
/auth/signout Exact
/api/auth/callback/google Exact
/api/auth/callback/azure-ad Exact
/.well-known/jwks.json Exact
{{- end }}
{{- end -}}
