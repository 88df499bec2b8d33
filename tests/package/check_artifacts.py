#!/usr/bin/env python3
"""Checks what packaging/pack.py packed against Cargo.toml and the MCP Registry entry: one
version everywhere, the names the registry entry gives, and each registry's proof of
ownership (npm's `mcpName`, the PyPI description's `mcp-name:`). Reads only the files.

  check_artifacts.py OUT RELEASE_SERVER_JSON

OUT is pack.py's output folder (wheels/, npm/, archives/ with SHA256SUMS)."""
import glob
import hashlib
import io
import json
import os
import stat
import sys
import tarfile
import tomllib
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)


def one(pattern):
    found = glob.glob(pattern)
    if len(found) != 1:
        sys.exit(f"FAIL: want one {pattern}, found {found}")
    return found[0]


def npm_manifest(tgz):
    with tarfile.open(tgz) as tar:
        manifest = json.load(tar.extractfile("package/package.json"))
        modes = {m.name: m.mode for m in tar.getmembers()}
    return manifest, modes


def main():
    out, release_json = sys.argv[1:]
    version = tomllib.load(open(os.path.join(ROOT, "Cargo.toml"), "rb"))["package"]["version"]
    entry = json.load(open(os.path.join(ROOT, "deploy", "registry", "server.json"), encoding="utf-8"))
    name = entry["name"]
    ids = {p["registryType"]: p for p in entry["packages"]}
    check(entry["version"] == version, f"server.json version {entry['version']} != {version}")
    for kind in ("npm", "pypi"):
        check(ids[kind].get("version") == version, f"server.json {kind} version != {version}")
    check(ids["oci"]["identifier"].endswith(f":{version}"), f"the image tag is not {version}")

    # The wheel.
    dist = ids["pypi"]["identifier"].replace("-", "_")
    whl = one(os.path.join(out, "wheels", f"{dist}-{version}-py3-none-manylinux_2_*_x86_64.whl"))
    with zipfile.ZipFile(whl) as z:
        meta = z.read(f"{dist}-{version}.dist-info/METADATA").decode()
        headers = dict(line.split(": ", 1) for line in meta.split("\n\n", 1)[0].splitlines())
        check(headers.get("Name") == ids["pypi"]["identifier"], f"wheel Name {headers.get('Name')}")
        check(headers.get("Version") == version, f"wheel Version {headers.get('Version')}")
        check(f"mcp-name: {name}" in meta, "the wheel's description lacks mcp-name")
        script = z.getinfo(f"{dist}-{version}.data/scripts/datasource-mcp")
        check(stat.S_IMODE(script.external_attr >> 16) == 0o755, "the wheel's binary is not 0755")
        entry_points = z.read(f"{dist}-{version}.dist-info/entry_points.txt").decode()
        check(f"{ids['pypi']['identifier']} = {dist}:main" in entry_points, "no console script under PyPI's name")

    # The npm packages.
    main_pkg, _ = npm_manifest(one(os.path.join(out, "npm", f"{ids['npm']['identifier']}-{version}.tgz")))
    check(main_pkg["name"] == ids["npm"]["identifier"], f"npm name {main_pkg['name']}")
    check(main_pkg["version"] == version, f"npm version {main_pkg['version']}")
    check(main_pkg.get("mcpName") == name, f"npm mcpName {main_pkg.get('mcpName')}")
    check(main_pkg["bin"] == {"datasource-mcp": "bin/datasource-mcp.js"}, f"npm bin {main_pkg['bin']}")
    optional = main_pkg["optionalDependencies"]
    check(len(optional) == 5 and set(optional.values()) == {version}, f"optionalDependencies {optional}")
    plat_pkg, modes = npm_manifest(one(os.path.join(out, "npm", "datasource-mcp-linux-x64-gnu-*.tgz")))
    check(plat_pkg["name"] in optional, f"{plat_pkg['name']} is not an optional dependency")
    check(plat_pkg["version"] == version, f"platform package version {plat_pkg['version']}")
    check((plat_pkg["os"], plat_pkg["cpu"], plat_pkg.get("libc")) == (["linux"], ["x64"], ["glibc"]),
          "platform package os/cpu/libc")
    check(stat.S_IMODE(modes.get("package/bin/datasource-mcp", 0)) == 0o755, "the npm binary is not 0755")

    # The archive, the bundle and the checksums.
    archive = one(os.path.join(out, "archives", f"datasource-mcp-{version}-x86_64-unknown-linux-gnu.tar.gz"))
    with tarfile.open(archive) as tar:
        member = tar.getmember(f"datasource-mcp-{version}-x86_64-unknown-linux-gnu/datasource-mcp")
        check(member.mode == 0o755, "the archive's binary is not 0755")
    sums = {}
    for line in open(os.path.join(out, "archives", "SHA256SUMS")).read().splitlines():
        digest, file = line.split(None, 1)
        sums[file.lstrip("*")] = digest
        actual = hashlib.sha256(open(os.path.join(out, "archives", file.lstrip("*")), "rb").read()).hexdigest()
        check(actual == digest, f"SHA256SUMS: {file}")
    release = json.load(open(release_json, encoding="utf-8"))
    bundles = [p for p in release["packages"] if p["registryType"] == "mcpb"]
    packed = sorted(f for f in sums if f.endswith(".mcpb"))
    check(sorted(b["identifier"].rsplit("/", 1)[1] for b in bundles) == packed,
          f"the release entry's bundles are not the packed ones: {packed}")
    for b in bundles:
        file = b["identifier"].rsplit("/", 1)[1]
        check(b["identifier"].endswith(f"/releases/download/v{version}/{file}"), f"bundle URL {b['identifier']}")
        check(sums.get(file) == b["fileSha256"], f"{file}: fileSha256 is not the file's")
        check(b.get("version") == version, f"bundle version {b.get('version')}")
    check(release["packages"][:3] == entry["packages"], "the release entry is not the checked-in one plus bundles")

    for f in failures:
        print(f"FAIL: {f}")
    if failures:
        sys.exit(1)
    print(f"ok: wheel, npm packages, archive, bundle and both server.json say {version} and {name}")


if __name__ == "__main__":
    main()
