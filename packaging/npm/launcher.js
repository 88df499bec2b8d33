#!/usr/bin/env node
// `datasource-mcp` from npm: runs the binary of this platform's package (one optional
// dependency per platform; npm installs only the one whose os/cpu/libc match) with this
// process's arguments and stdio, and exits as it exits. The binary speaks MCP on stdio
// itself: nothing here reads or writes the protocol.
"use strict";
const { spawn } = require("node:child_process");
const path = require("node:path");

// The platform packages, as packaging/pack.py listed them: @<scope>/<platform>-<arch>[-gnu].
const PLATFORM_PACKAGES = Object.keys(require("../package.json").optionalDependencies || {});

function isMusl() {
  if (process.platform !== "linux") return false;
  try {
    return !process.report.getReport().header.glibcVersionRuntime;
  } catch {
    return false;
  }
}

function binary() {
  const override = process.env.DATASOURCE_MCP_BINARY;
  if (override) return override;
  const key = `${process.platform}-${process.arch}`;
  if (isMusl()) {
    throw new Error(`no prebuilt binary for ${key} with musl libc: use the Docker image or cargo install (see the README)`);
  }
  const wanted = `${key}${process.platform === "linux" ? "-gnu" : ""}`;
  const pkg = PLATFORM_PACKAGES.find((name) => name.split("/").pop() === wanted);
  if (!pkg) throw new Error(`no prebuilt binary for ${key}: install with cargo (see the README)`);
  const exe = process.platform === "win32" ? "datasource-mcp.exe" : "datasource-mcp";
  try {
    return require.resolve(`${pkg}/bin/${exe}`);
  } catch {
    throw new Error(
      `${pkg} is not installed: optional dependencies were left out (--omit=optional, ` +
        "--no-optional, or a lockfile made on another platform): reinstall without that flag",
    );
  }
}

let exe;
try {
  exe = binary();
} catch (e) {
  console.error(`datasource-mcp: ${e.message}`);
  process.exit(1);
}
const child = spawn(exe, process.argv.slice(2), { stdio: "inherit", windowsHide: true });
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => child.kill(signal));
}
child.on("error", (e) => {
  console.error(`datasource-mcp: cannot run ${path.basename(exe)}: ${e.message}`);
  process.exit(1);
});
child.on("exit", (code, signal) => {
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  } else {
    process.exit(code ?? 1);
  }
});
