#!/usr/bin/env python3
"""Packs a built datasource-mcp binary for people without a Rust toolchain. Standard library
only (Python 3.11+); used by the release workflow for every target and by .ci/package for the
host's. Nothing is compiled here: every channel gets the same binary.

  pack.py target TRIPLE BINARY OUT [--mcpb MCPB_CLI]
      OUT/wheels/   the PyPI wheel: the binary as the `datasource-mcp` script, plus the
                    `datasource-mcp-server` console script (so `uvx datasource-mcp-server`
                    works under PyPI's name)
      OUT/npm/      the npm platform package (@<scope>/<platform>-<arch>[-gnu]) as a tarball
      OUT/archives/ the release archive (.tar.gz, .zip on Windows) and, with --mcpb, the
                    platform's MCP Bundle packed by the official CLI
  pack.py npm-main OUT            the npm package `datasource-mcp`: the launcher, with one
                                  optional dependency per platform package
  pack.py mcpb-manifest PLATFORM SRC DST   deploy/mcpb/manifest.json narrowed to one platform
  pack.py version                 the version every package gets (Cargo.toml's)

Names come from the generated deploy/registry/server.json (the npm and PyPI identifiers, the
registry name each package must declare), the version from Cargo.toml: no name or version is
written down here or in a template.
"""
import argparse
import base64
import hashlib
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(ROOT, "packaging")

# Per target: the npm os/cpu (and libc), the MCP Bundle's platform and arch names (the
# bundle's platform is Node's process.platform; the arch is what `uname -m` says, as .ci/mcpb
# names bundles) and the wheel's platform tag (Linux's is computed from the binary).
TARGETS = {
    "x86_64-unknown-linux-gnu": dict(os="linux", cpu="x64", libc="glibc", arch="x86_64", wheel="manylinux_2_{glibc}_x86_64"),
    "aarch64-unknown-linux-gnu": dict(os="linux", cpu="arm64", libc="glibc", arch="aarch64", wheel="manylinux_2_{glibc}_aarch64"),
    "x86_64-apple-darwin": dict(os="darwin", cpu="x64", arch="x86_64", wheel="macosx_10_12_x86_64"),
    "aarch64-apple-darwin": dict(os="darwin", cpu="arm64", arch="arm64", wheel="macosx_11_0_arm64"),
    "x86_64-pc-windows-msvc": dict(os="win32", cpu="x64", arch="x86_64", wheel="win_amd64"),
}
# The oldest glibc a Linux wheel claims (manylinux2014); the release builds against it.
MIN_GLIBC = 17
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def cargo():
    import tomllib  # Python 3.11+; the other commands run on older ones too

    with open(os.path.join(ROOT, "Cargo.toml"), "rb") as f:
        package = tomllib.load(f)["package"]
    if not re.fullmatch(r"\d+\.\d+\.\d+", package["version"]):
        sys.exit(f"Cargo.toml's version {package['version']!r} is not X.Y.Z: the same string must "
                 "be a valid Cargo, npm, PyPI and image-tag version")
    return package


def registry():
    """deploy/registry/server.json: the server's name and each package's identifier."""
    with open(os.path.join(ROOT, "deploy", "registry", "server.json"), encoding="utf-8") as f:
        entry = json.load(f)
    version = cargo()["version"]
    if entry["version"] != version:
        sys.exit(f"deploy/registry/server.json is version {entry['version']}, Cargo.toml {version}: "
                 "run `cargo run -- generate`")
    ids = {p["registryType"]: p["identifier"] for p in entry["packages"]}
    return entry["name"], ids["npm"], ids["pypi"]


def readme_for_registries(version):
    """README.md with its relative links made absolute (PyPI and npm show it away from the
    repository). It must carry `mcp-name: <name>`: PyPI's proof that the package is the
    registry entry's."""
    package = cargo()
    repo = package["repository"]
    name = registry()[0]
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    if f"mcp-name: {name}" not in text:
        sys.exit(f"README.md lacks `mcp-name: {name}` (the MCP Registry's proof of the PyPI package)")

    def absolute(m):
        link = m.group(2)
        if re.match(r"[a-z]+:|#", link):
            return m.group(0)
        kind = "raw" if re.search(r"\.(png|jpe?g|gif|svg)$", link) else "blob"
        return f"{m.group(1)}({repo}/{kind}/v{version}/{link})"

    return re.sub(r"(\]\s?)\(([^)\s]+)\)", absolute, text)


def exe_name(triple):
    return "datasource-mcp.exe" if TARGETS[triple]["os"] == "win32" else "datasource-mcp"


def npm_platform_name(scope, triple):
    """@<scope>/<os>-<cpu>[-gnu]: the platform packages live in the npm org named like the
    main package (the launcher finds its platform's among its optionalDependencies)."""
    t = TARGETS[triple]
    return f"@{scope}/{t['os']}-{t['cpu']}" + ("-gnu" if t.get("libc") == "glibc" else "")


HOSTS = {("Linux", "x86_64"): "x86_64-unknown-linux-gnu", ("Linux", "aarch64"): "aarch64-unknown-linux-gnu",
         ("Darwin", "x86_64"): "x86_64-apple-darwin", ("Darwin", "arm64"): "aarch64-apple-darwin",
         ("Windows", "AMD64"): "x86_64-pc-windows-msvc"}


def check_binary(triple, binary, version):
    """The binary is this version, where it can run here (a build job runs it natively)."""
    if HOSTS.get((platform.system(), platform.machine())) != triple:
        return
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    if out != f"datasource-mcp {version}":
        sys.exit(f"{binary} says {out!r}, Cargo.toml is {version}: rebuild it")


def glibc_needed(data):
    """The newest glibc symbol version an ELF binary asks for (its GLIBC_2.N strings)."""
    found = [int(n) for n in re.findall(rb"GLIBC_2\.(\d+)", data)]
    return max(found, default=MIN_GLIBC)


def record_hash(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def wheel(triple, binary, out, version, summary):
    """A py3-none-<platform> wheel: the binary in <dist>.data/scripts (pip and uv install it
    into the environment's bin/ or Scripts\\, executable), and the launcher module whose
    console script carries PyPI's name."""
    name, _, project = registry()
    dist = re.sub(r"[-_.]+", "_", project).lower()
    with open(binary, "rb") as f:
        data = f.read()
    plat = TARGETS[triple]["wheel"]
    if "{glibc}" in plat:
        needed = glibc_needed(data)
        plat = plat.format(glibc=max(needed, MIN_GLIBC))
    tag = f"py3-none-{plat}"
    package = cargo()
    metadata = "\n".join([
        "Metadata-Version: 2.1",
        f"Name: {project}",
        f"Version: {version}",
        f"Summary: {summary}",
        f"License: {package['license']}",
        f"Keywords: {','.join(package.get('keywords', []))}",
        f"Project-URL: Repository, {package['repository']}",
        "Requires-Python: >=3.8",
        "Classifier: Environment :: Console",
        "Classifier: Programming Language :: Rust",
        "Description-Content-Type: text/markdown",
        "", readme_for_registries(version)])
    with open(os.path.join(HERE, "pypi", "launcher.py"), "rb") as f:
        launcher = f.read()
    info = f"{dist}-{version}.dist-info"
    files = [
        (f"{dist}-{version}.data/scripts/{exe_name(triple)}", data, 0o755),
        (f"{dist}/__init__.py", launcher, 0o644),
        (f"{dist}/__main__.py", f"from {dist} import main\n\nmain()\n".encode(), 0o644),
        (f"{info}/METADATA", metadata.encode(), 0o644),
        (f"{info}/WHEEL", f"Wheel-Version: 1.0\nGenerator: datasource-mcp packaging/pack.py\n"
                          f"Root-Is-Purelib: false\nTag: {tag}\n".encode(), 0o644),
        (f"{info}/entry_points.txt", f"[console_scripts]\n{project} = {dist}:main\n".encode(), 0o644),
    ]
    record = "".join(f"{p},{record_hash(d)},{len(d)}\n" for p, d, _ in files) + f"{info}/RECORD,,\n"
    files.append((f"{info}/RECORD", record.encode(), 0o644))
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, f"{dist}-{version}-{tag}.whl")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for member, content, mode in files:
            zi = zipfile.ZipInfo(member, FIXED_TIME)
            zi.external_attr = (0o100000 | mode) << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, content)
    return path


def npm_pack(folder, out):
    os.makedirs(out, exist_ok=True)
    result = subprocess.run(["npm", "pack", "--json", "--pack-destination", os.path.abspath(out)],
                            cwd=folder, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"npm pack failed in {folder}: {result.stderr}")
    return os.path.join(out, json.loads(result.stdout)[0]["filename"])


def npm_common(package):
    return {
        "license": package["license"],
        "repository": {"type": "git", "url": f"git+{package['repository']}.git"},
    }


def npm_platform(triple, binary, out, version):
    t = TARGETS[triple]
    package = cargo()
    _, npm_name, _ = registry()
    name = npm_platform_name(npm_name, triple)
    exe = exe_name(triple)
    manifest = {
        "name": name,
        "version": version,
        "description": f"The datasource-mcp binary for {t['os']} {t['cpu']}"
                       + (f" ({t['libc']})" if "libc" in t else "") + f": install `{npm_name}`, not this",
        **npm_common(package),
        "os": [t["os"]],
        "cpu": [t["cpu"]],
        **({"libc": [t["libc"]]} if "libc" in t else {}),
        "files": [f"bin/{exe}"],
        "preferUnplugged": True,
    }
    with tempfile.TemporaryDirectory() as stage:
        os.makedirs(os.path.join(stage, "bin"))
        shutil.copyfile(binary, os.path.join(stage, "bin", exe))
        os.chmod(os.path.join(stage, "bin", exe), 0o755)
        with open(os.path.join(stage, "package.json"), "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=2)
        return npm_pack(stage, out)


def npm_main(out):
    package = cargo()
    version = package["version"]
    name, npm_name, _ = registry()
    manifest = {
        "name": npm_name,
        "version": version,
        "description": package["description"],
        **npm_common(package),
        "homepage": f"{package['repository']}#readme",
        "keywords": package.get("keywords", []),
        # The MCP Registry's proof that this package is the entry's.
        "mcpName": name,
        "bin": {npm_name: "bin/datasource-mcp.js"},
        "files": ["bin/datasource-mcp.js"],
        "engines": {"node": ">=18"},
        "optionalDependencies": {npm_platform_name(npm_name, t): version for t in TARGETS},
    }
    with tempfile.TemporaryDirectory() as stage:
        os.makedirs(os.path.join(stage, "bin"))
        shutil.copyfile(os.path.join(HERE, "npm", "launcher.js"), os.path.join(stage, "bin", "datasource-mcp.js"))
        os.chmod(os.path.join(stage, "bin", "datasource-mcp.js"), 0o755)
        with open(os.path.join(stage, "README.md"), "w", encoding="utf-8") as f:
            f.write(readme_for_registries(version))
        with open(os.path.join(stage, "package.json"), "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=2)
        return npm_pack(stage, out)


def archive(triple, binary, out, version):
    """datasource-mcp-VERSION-TRIPLE.tar.gz (.zip for Windows): the binary and the README."""
    os.makedirs(out, exist_ok=True)
    top = f"datasource-mcp-{version}-{triple}"
    with open(binary, "rb") as f:
        members = [(exe_name(triple), f.read(), 0o755)]
    with open(os.path.join(ROOT, "README.md"), "rb") as f:
        members.append(("README.md", f.read(), 0o644))
    if TARGETS[triple]["os"] == "win32":
        path = os.path.join(out, f"{top}.zip")
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data, mode in members:
                zi = zipfile.ZipInfo(f"{top}/{name}", FIXED_TIME)
                zi.external_attr = (0o100000 | mode) << 16
                zi.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(zi, data)
        return path
    path = os.path.join(out, f"{top}.tar.gz")
    with tarfile.open(path, "w:gz") as tar:
        for name, data, mode in members:
            ti = tarfile.TarInfo(f"{top}/{name}")
            ti.size, ti.mode, ti.mtime = len(data), mode, 0
            tar.addfile(ti, io.BytesIO(data))
    return path


def mcpb_manifest(target_os, src, dst):
    """A bundle carries one platform's binary: the manifest says which (and names the .exe)."""
    with open(src, encoding="utf-8") as f:
        m = json.load(f)
    m["compatibility"]["platforms"] = [target_os]
    if target_os == "win32":
        entry = m["server"]["entry_point"] + ".exe"
        m["server"]["entry_point"] = entry
        m["server"]["mcp_config"]["command"] = "${__dirname}/" + entry
    with open(dst, "w", encoding="utf-8") as f:
        json.dump(m, f, indent=2)
    return m["server"]["entry_point"]


def mcpb(triple, binary, out, version, cli):
    """The platform's MCP Bundle, packed by the official CLI (`mcpb pack`)."""
    t = TARGETS[triple]
    with tempfile.TemporaryDirectory() as stage:
        entry = mcpb_manifest(t["os"], os.path.join(ROOT, "deploy", "mcpb", "manifest.json"),
                              os.path.join(stage, "manifest.json"))
        os.makedirs(os.path.join(stage, os.path.dirname(entry)))
        shutil.copyfile(binary, os.path.join(stage, entry))
        os.chmod(os.path.join(stage, entry), 0o755)
        os.makedirs(out, exist_ok=True)
        path = os.path.join(out, f"datasource-mcp-{version}-{t['os']}-{t['arch']}.mcpb")
        subprocess.run([cli, "pack", stage, path], check=True, stdout=subprocess.DEVNULL)
        return path


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("target")
    p.add_argument("triple", choices=sorted(TARGETS))
    p.add_argument("binary")
    p.add_argument("out")
    p.add_argument("--mcpb", metavar="MCPB_CLI", help="also pack the MCP Bundle with this `mcpb`")
    p = sub.add_parser("npm-main")
    p.add_argument("out")
    p = sub.add_parser("mcpb-manifest")
    p.add_argument("platform", choices=["darwin", "linux", "win32"])
    p.add_argument("src")
    p.add_argument("dst")
    sub.add_parser("version")
    args = parser.parse_args()

    if args.command == "version":
        print(cargo()["version"])
    elif args.command == "mcpb-manifest":
        print(mcpb_manifest(args.platform, args.src, args.dst))
    elif args.command == "npm-main":
        print(npm_main(os.path.join(args.out, "npm")))
    else:
        package = cargo()
        version = package["version"]
        check_binary(args.triple, args.binary, version)
        print(wheel(args.triple, args.binary, os.path.join(args.out, "wheels"), version, package["description"]))
        print(npm_platform(args.triple, args.binary, os.path.join(args.out, "npm"), version))
        print(archive(args.triple, args.binary, os.path.join(args.out, "archives"), version))
        if args.mcpb:
            print(mcpb(args.triple, args.binary, os.path.join(args.out, "archives"), version, args.mcpb))


if __name__ == "__main__":
    main()
