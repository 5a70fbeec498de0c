#!/usr/bin/env python3
"""Validates the kit's WasmPlugin manifests as a Kubernetes API server would.

- The OpenAPI v3 schema of Istio's published `WasmPlugin` CRD
  (crd/wasmplugin-istio-1.30.3.yaml), with unknown fields refused as `kubectl apply
  --validate=strict` refuses them, checked with the `jsonschema` package.
- The CRD's CEL rules (`x-kubernetes-validations`). No CEL engine is used: each rule
  the CRD holds is matched by its exact text to a translation here, and a rule this
  script does not know fails the run, so a new Istio CRD cannot slip through unchecked.
- Each manifest's `pluginConfig` with wsgate's own validator (`wsgate validate`), the
  secrets it names set to test values in the environment.
- Known-bad variants of the first manifest must each be refused with the expected
  message: the checks above can fail.

Usage: validate_manifests.py CRD WSGATE_CLI MANIFEST...
"""

import copy
import json
import os
import subprocess
import sys
import tempfile
import urllib.parse

import jsonschema
import yaml


def strict(schema):
    """Refuses fields the schema does not name, except where the CRD keeps unknown ones."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if not isinstance(node, dict):
            return
        if "properties" in node and not node.get("x-kubernetes-preserve-unknown-fields"):
            node.setdefault("additionalProperties", False)
        for key in ("properties",):
            for child in node.get(key, {}).values():
                walk(child)
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                walk(node[key])

    walk(schema)
    # The API server supplies apiVersion, kind and metadata itself (checked in `errors_of`).
    schema.pop("additionalProperties", None)
    return schema


def is_url(text):
    """Kubernetes CEL `isURL`: an absolute URI or an absolute path."""
    if any(c in text for c in " \t\r\n"):
        return False
    parsed = urllib.parse.urlsplit(text)
    return bool(parsed.scheme) or text.startswith("/")


def scheme(text):
    """Kubernetes CEL `url(text).getScheme()`."""
    return urllib.parse.urlsplit(text).scheme


def url_rule(value):
    schemes = ["", "http", "https", "oci", "file"]
    if is_url(value):
        return scheme(value) in schemes
    return is_url("http://" + value) and scheme("http://" + value) in schemes


# Each CEL rule of the CRD, by its text with whitespace collapsed, as Python.
RULES = {
    '!self.contains("*")': lambda v: "*" not in v,
    'self.all(key, !key.contains("*"))': lambda v: all("*" not in k for k in v),
    "self.all(key, key.size() != 0)": lambda v: all(len(k) != 0 for k in v),
    "self.size() == 0": lambda v: len(v) == 0,
    'isURL(self) ? (url(self).getScheme() in ["", "http", "https", "oci", "file"]) : (isURL("http://" + self) && url("http://" + self).getScheme() in ["", "http", "https", "oci", "file"])': url_rule,
    '(has(self.valueFrom) ? self.valueFrom : "") != "HOST" || !has(self.value)': lambda v: v.get("valueFrom", "") != "HOST" or "value" not in v,
    "(has(self.selector) ? 1 : 0) + (has(self.targetRef) ? 1 : 0) + (has(self.targetRefs) ? 1 : 0) <= 1": lambda v: sum(k in v for k in ("selector", "targetRef", "targetRefs")) <= 1,
}


def collapse(text):
    return " ".join(text.split())


def cel_errors(schema, value, path="spec"):
    """The messages of the CEL rules `value` breaks, walking it along `schema`."""
    errors = []
    for rule in schema.get("x-kubernetes-validations", []):
        check = RULES.get(collapse(rule["rule"]))
        if check is None:
            errors.append(f"{path}: the CRD has a rule this validator does not implement: {rule['rule']!r}")
        elif not check(value):
            errors.append(f"{path}: {rule['message']}")
    if isinstance(value, dict):
        for key, child in value.items():
            if key in schema.get("properties", {}):
                errors += cel_errors(schema["properties"][key], child, f"{path}.{key}")
            elif isinstance(schema.get("additionalProperties"), dict):
                errors += cel_errors(schema["additionalProperties"], child, f"{path}.{key}")
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, child in enumerate(value):
            errors += cel_errors(schema["items"], child, f"{path}[{i}]")
    return errors


def plugin_config_errors(cli, manifest):
    """What `wsgate validate` says of the manifest's pluginConfig ('' if it is valid)."""
    config = manifest["spec"].get("pluginConfig")
    if config is None:
        return "spec.pluginConfig: missing"
    env = dict(os.environ)
    for variable in (e["name"] for e in manifest["spec"].get("vmConfig", {}).get("env", [])):
        # Test values only: what the gateway's environment would hold.
        env[variable] = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=" if "KEYS" in variable else "test-secret"
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
        json.dump(config, file)
    result = subprocess.run([cli, "validate", file.name], capture_output=True, text=True, env=env)
    os.unlink(file.name)
    return "" if result.returncode == 0 else (result.stdout + result.stderr).strip()


def errors_of(schema, cli, manifest, api):
    found = [f"{'.'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in jsonschema.Draft7Validator(schema).iter_errors(manifest)]
    if (manifest.get("apiVersion"), manifest.get("kind")) != api:
        found.append(f"apiVersion/kind: must be {api[0]} {api[1]}")
    if not manifest.get("metadata", {}).get("name"):
        found.append("metadata.name: required")
    found += cel_errors(schema["properties"]["spec"], manifest.get("spec", {}))
    config = plugin_config_errors(cli, manifest) if not found else ""
    if config:
        found.append(f"spec.pluginConfig (wsgate validate): {config}")
    return found


BAD_VARIANTS = [
    ("selector and targetRefs together", lambda s: s.update(targetRefs=[{"kind": "Gateway", "name": "g"}]), "only one of targetRefs or selector can be set"),
    ("a HOST variable with a value", lambda s: s["vmConfig"]["env"][0].update(value="inline"), "value may only be set when valueFrom is INLINE"),
    ("a digest that is not sha256", lambda s: s.update(sha256="abc"), "does not match"),
    ("an unknown phase", lambda s: s.update(phase="EARLY"), "is not one of"),
    ("a misspelt field", lambda s: s.update(failstrategy="FAIL_CLOSE"), "Additional properties are not allowed"),
    ("an ftp URL", lambda s: s.update(url="ftp://registry.example/wsgate"), "url must have schema one of"),
    ("a wildcard label", lambda s: s["selector"]["matchLabels"].update({"app*": "x"}), "wildcard not allowed in label key match"),
    ("a pluginConfig wsgate refuses", lambda s: s["pluginConfig"]["providers"][0].update(audiences=[]), "needs at least one audience"),
]


def main():
    crd_path, cli, manifests = sys.argv[1], sys.argv[2], sys.argv[3:]
    with open(crd_path) as file:
        crd = yaml.safe_load(file)
    version = crd["spec"]["versions"][0]
    schema = strict(version["schema"]["openAPIV3Schema"])
    api = (f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"])
    failed = False
    for path in manifests:
        with open(path) as file:
            manifest = yaml.safe_load(file)
        errors = errors_of(schema, cli, manifest, api)
        print(f"istio: {path}: {'ok' if not errors else 'INVALID'} against {crd['metadata']['name']} {version['name']} ({os.path.basename(crd_path)})")
        for error in errors:
            print(f"  {error}")
        failed |= bool(errors)
    with open(manifests[0]) as file:
        good = yaml.safe_load(file)
    for name, mutate, expected in BAD_VARIANTS:
        bad = copy.deepcopy(good)
        mutate(bad["spec"])
        errors = errors_of(schema, cli, bad, api)
        caught = any(expected in error for error in errors)
        print(f"istio: refused as it must be, {name}: {'yes' if caught else 'NO'}")
        failed |= not caught
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
