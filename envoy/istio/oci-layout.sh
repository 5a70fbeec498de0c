#!/usr/bin/env bash
# Writes wsgate.wasm as an OCI image layout (https://github.com/opencontainers/image-spec)
# in the two forms Istio's Wasm image fetcher accepts, both tagged in one layout:
#   <tag>           the Wasm artifact: a layer `application/vnd.module.wasm.content.layer.v1+wasm`
#                   (the module itself) and a layer `application/vnd.module.wasm.config.v1+json`
#                   (Istio's fetcher requires exactly these two layers);
#   <tag>-compat    the image form: one `application/vnd.oci.image.layer.v1.tar+gzip` layer
#                   holding `plugin.wasm` (Istio's "compat" variant; also the layout Google's
#                   Service Extensions plugins use).
# Deterministic: the same module gives the same digests. Prints each manifest's digest,
# which is what a WasmPlugin's `sha256` pins for an oci:// URL.
# Usage: oci-layout.sh WASM OUT_DIR TAG
set -euo pipefail
wasm=$1 out=$2 tag=$3
rm -rf "$out"
mkdir -p "$out/blobs/sha256"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Stores stdin as a blob; prints "<sha256 hex> <size>".
blob() {
	cat >"$work/blob"
	local digest size
	digest=$(sha256sum "$work/blob" | cut -d' ' -f1)
	size=$(stat -c %s "$work/blob")
	mv "$work/blob" "$out/blobs/sha256/$digest"
	echo "$digest $size"
}

descriptor() { # media type, "digest size"
	set -- "$1" $2
	printf '{"mediaType":"%s","digest":"sha256:%s","size":%s}' "$1" "$2" "$3"
}

read -r module_digest module_size < <(blob <"$wasm")
read -r runtime_digest runtime_size < <(printf '{"type":"envoy_proxy","abi_version":"0.2.1","config":{"root_ids":["wsgate"]}}' | blob)
read -r empty_digest empty_size < <(printf '{}' | blob)
artifact=$(printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":%s,"layers":[%s,%s]}' \
	"$(descriptor application/vnd.oci.empty.v1+json "$empty_digest $empty_size")" \
	"$(descriptor application/vnd.module.wasm.content.layer.v1+wasm "$module_digest $module_size")" \
	"$(descriptor application/vnd.module.wasm.config.v1+json "$runtime_digest $runtime_size")")
read -r artifact_digest artifact_size < <(printf '%s' "$artifact" | blob)

cp "$wasm" "$work/plugin.wasm"
read -r layer_digest layer_size < <(tar -C "$work" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - plugin.wasm | gzip -n -9 | blob)
diff_id=$(tar -C "$work" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - plugin.wasm | sha256sum | cut -d' ' -f1)
read -r config_digest config_size < <(printf '{"architecture":"wasm","os":"wasip1","rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"config":{}}' "$diff_id" | blob)
compat=$(printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":%s,"layers":[%s],"annotations":{"module.wasm.image/variant":"compat"}}' \
	"$(descriptor application/vnd.oci.image.config.v1+json "$config_digest $config_size")" \
	"$(descriptor application/vnd.oci.image.layer.v1.tar+gzip "$layer_digest $layer_size")")
read -r compat_digest compat_size < <(printf '%s' "$compat" | blob)

printf '{"imageLayoutVersion":"1.0.0"}' >"$out/oci-layout"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s,%s]}' \
	"$(descriptor application/vnd.oci.image.manifest.v1+json "$artifact_digest $artifact_size" | sed "s/}\$/,\"annotations\":{\"org.opencontainers.image.ref.name\":\"$tag\"}}/")" \
	"$(descriptor application/vnd.oci.image.manifest.v1+json "$compat_digest $compat_size" | sed "s/}\$/,\"annotations\":{\"org.opencontainers.image.ref.name\":\"$tag-compat\"}}/")" \
	>"$out/index.json"
echo "oci: $out (module sha256:$module_digest, $module_size bytes)"
echo "oci: $tag         Wasm artifact   manifest sha256:$artifact_digest"
echo "oci: $tag-compat  image (compat)  manifest sha256:$compat_digest"
printf '%s\n' "$artifact_digest" >"$out/$tag.sha256"
printf '%s\n' "$compat_digest" >"$out/$tag-compat.sha256"
