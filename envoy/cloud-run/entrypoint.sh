#!/bin/sh
# The Envoy container's entrypoint on Cloud Run: the listener takes the port Cloud Run
# gives the ingress container in $PORT (8080 unless set), then Envoy starts.
# ENVOY_BIN and WSGATE_ENVOY_TEMPLATE exist for running the kit outside its image
# (e2e_cloud_run does); TMPDIR is where the rendered config goes.
set -eu
template=${WSGATE_ENVOY_TEMPLATE:-/etc/envoy/envoy.yaml}
config=${TMPDIR:-/tmp}/envoy-rendered.yaml
sed "s/\${PORT}/${PORT:-8080}/g" "$template" >"$config"
exec "${ENVOY_BIN:-envoy}" -c "$config" --log-level info --concurrency "${ENVOY_CONCURRENCY:-2}"
