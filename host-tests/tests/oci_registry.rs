//! The plugin as an OCI image (`make oci`), through a real registry: the layout's
//! blobs are what their digests say, both forms Istio's Wasm fetcher accepts are there
//! (the Wasm artifact, two layers, one of them the module; the compat image, one
//! tar+gzip layer holding `plugin.wasm`), they push to Debian's `docker-registry` (the
//! CNCF distribution registry) on 127.0.0.1 with skopeo, the registry serves the very
//! manifest digests a WasmPlugin pins, and what comes back is the module built. Run
//! with `make oci-test`.

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use wsgate_host_tests::http;
use wsgate_host_tests::ports::free_port;

const WASM_LAYER: &str = "application/vnd.module.wasm.content.layer.v1+wasm";
const WASM_CONFIG: &str = "application/vnd.module.wasm.config.v1+json";
const TAR_GZIP_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

fn env_path(name: &str) -> PathBuf {
    PathBuf::from(std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run `make oci-test`")))
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// An OCI image layout on disk.
struct Layout(PathBuf);

impl Layout {
    fn blob(&self, digest: &str) -> Vec<u8> {
        let hex = digest.strip_prefix("sha256:").unwrap();
        let bytes = std::fs::read(self.0.join("blobs/sha256").join(hex)).unwrap();
        assert_eq!(sha256_hex(&bytes), hex, "a blob is what its name says");
        bytes
    }

    fn json(&self, digest: &str) -> Value {
        serde_json::from_slice(&self.blob(digest)).unwrap()
    }

    /// The manifest digest tagged `tag` in index.json.
    fn manifest_digest(&self, tag: &str) -> String {
        let index: Value = serde_json::from_slice(&std::fs::read(self.0.join("index.json")).unwrap()).unwrap();
        let manifests = index["manifests"].as_array().unwrap();
        let found = manifests.iter().find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag).unwrap_or_else(|| panic!("no {tag} in {index}"));
        found["digest"].as_str().unwrap().to_owned()
    }

    /// The module a manifest carries, in either form.
    fn module(&self, manifest_digest: &str) -> Vec<u8> {
        let manifest = self.json(manifest_digest);
        let layers = manifest["layers"].as_array().unwrap();
        match layers.as_slice() {
            [only] => {
                assert_eq!(only["mediaType"], TAR_GZIP_LAYER);
                untar_plugin(&self.blob(only["digest"].as_str().unwrap()))
            }
            [_, _] => {
                let of = |media: &str| layers.iter().find(|l| l["mediaType"] == media).unwrap_or_else(|| panic!("no {media} layer: {manifest}"));
                let runtime = self.json(of(WASM_CONFIG)["digest"].as_str().unwrap());
                assert_eq!(runtime["config"]["root_ids"][0], "wsgate");
                self.blob(of(WASM_LAYER)["digest"].as_str().unwrap())
            }
            other => panic!("Istio's fetcher takes one tar+gzip layer or exactly two: {} layers", other.len()),
        }
    }
}

/// `plugin.wasm` from a tar+gzip layer, as Istio's fetcher extracts it.
fn untar_plugin(layer: &[u8]) -> Vec<u8> {
    let dir = tempdir("untar");
    std::fs::write(dir.join("layer.tar.gz"), layer).unwrap();
    let status = Command::new("tar").arg("-xzf").arg(dir.join("layer.tar.gz")).arg("-C").arg(&dir).arg("plugin.wasm").status().unwrap();
    assert!(status.success(), "the layer is a gzipped tar holding plugin.wasm");
    std::fs::read(dir.join("plugin.wasm")).unwrap()
}

fn tempdir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("oci").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Debian's `docker-registry` serving from a fresh directory on 127.0.0.1; killed when dropped.
struct Registry {
    child: Child,
    port: u16,
}

impl Registry {
    fn start(binary: &Path) -> Registry {
        let dir = tempdir("registry");
        let port = free_port().unwrap();
        let config = format!("version: 0.1\nlog: {{level: warn}}\nstorage:\n  filesystem: {{rootdirectory: {}}}\nhttp: {{addr: 127.0.0.1:{port}}}\n", dir.join("data").display());
        std::fs::write(dir.join("config.yml"), config).unwrap();
        let child = Command::new(binary).arg("serve").arg(dir.join("config.yml")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let registry = Registry { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !http::get(port, "/v2/", &[]).is_ok_and(|r| r.status == 200) {
            assert!(Instant::now() < deadline, "the registry did not answer /v2/ in 10 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        registry
    }

    fn reference(&self, tag: &str) -> String {
        format!("docker://127.0.0.1:{}/platform/wsgate:{tag}", self.port)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn skopeo(args: &[&str]) -> Vec<u8> {
    let output = Command::new("skopeo").arg("--insecure-policy").args(args).output().expect("skopeo (apt-get install skopeo)");
    assert!(output.status.success(), "skopeo {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}

#[test]
#[ignore = "needs `make oci`, skopeo and docker-registry: run `make oci-test`"]
fn both_forms_push_to_a_real_registry_and_come_back_as_the_module_built() {
    let layout = Layout(env_path("WSGATE_OCI"));
    let wasm = std::fs::read(env_path("WSGATE_WASM")).unwrap();
    let tag = std::env::var("WSGATE_OCI_TAG").unwrap();
    let registry = Registry::start(&env_path("WSGATE_REGISTRY"));
    for tag in [tag.clone(), format!("{tag}-compat")] {
        let digest = layout.manifest_digest(&tag);
        assert!(layout.module(&digest) == wasm, "{tag}: the layout carries the built module");
        let source = format!("oci:{}:{tag}", layout.0.display());
        skopeo(&["copy", "--preserve-digests", "--dest-tls-verify=false", &source, &registry.reference(&tag)]);
        let served = skopeo(&["inspect", "--raw", "--tls-verify=false", &registry.reference(&tag)]);
        assert_eq!(format!("sha256:{}", sha256_hex(&served)), digest, "{tag}: the registry serves the digest a WasmPlugin pins");
        let pulled = tempdir(&format!("pulled-{tag}"));
        skopeo(&["copy", "--src-tls-verify=false", &registry.reference(&tag), &format!("oci:{}:{tag}", pulled.display())]);
        let back = Layout(pulled);
        assert_eq!(back.manifest_digest(&tag), digest, "{tag}: pulled unchanged");
        assert!(back.module(&digest) == wasm, "{tag}: the module pulled is the module built");
    }
}

#[test]
#[ignore = "needs `make oci`: run `make oci-test`"]
fn the_rendered_wasmplugin_pins_the_artifacts_manifest_digest() {
    let layout = Layout(env_path("WSGATE_OCI"));
    let tag = std::env::var("WSGATE_OCI_TAG").unwrap();
    let digest = layout.manifest_digest(&tag);
    let rendered = std::fs::read_to_string(layout.0.join("wasmplugin.yaml")).unwrap();
    let hex = digest.strip_prefix("sha256:").unwrap();
    assert!(rendered.contains(&format!("sha256: \"{hex}\"")), "{rendered}");
    assert!(!rendered.contains("{{"), "every placeholder filled");
}
