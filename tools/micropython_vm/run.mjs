// Runs one script in the official MicroPython WebAssembly port (the real MicroPython
// compiler and runtime), so firmware code is exercised by MicroPython, not CPython.
//
// Usage: node run.mjs MANIFEST.json
//
// MANIFEST (relative host paths are resolved against the manifest's folder):
//   {
//     "script": "main.py",                       host file with the script to run
//     "files": [{"vm": "/lib/firmware/qrs.py",  "host": "src/qrs.py"}, ...],
//     "heap_bytes": 16777216,                    optional, initial MicroPython GC heap
//     "pystack_words": 2048,                     optional, MicroPython's Python stack
//     "out_dir": "out",                          optional, receives whatever the script left under /out
//     "result": "result.json"                    optional, receives the outcome as JSON
//   }
//
// The script's stdout/stderr stream to ours. A script exception prints its traceback to
// stderr and exits 1; a problem with the manifest or the host files exits 2.
//
// Inside the VM, `import hostclock; hostclock.ticks_us()` reads the host's monotonic
// clock in microseconds: the port's own time.ticks_us() only advances in whole
// milliseconds.

import fs from "node:fs";
import path from "node:path";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

const DEFAULT_HEAP = 16 * 1024 * 1024;
const VM_OUT = "/out";

// The port calls back once per byte; buffer so large outputs do not cost one write each.
function byteSink(stream) {
  const buf = Buffer.alloc(65536);
  let n = 0;
  const flush = () => {
    if (n > 0) {
      stream.write(Buffer.from(buf.subarray(0, n)));
      n = 0;
    }
  };
  const push = (chunk) => {
    for (const b of chunk) {
      buf[n++] = b;
      if (b === 10 || n === buf.length) flush();
    }
  };
  return { push, flush };
}

function fail(msg) {
  process.stderr.write(`run.mjs: ${msg}\n`);
  process.exit(2);
}

// mkdir -p inside the VM's in-memory filesystem.
function vmMakedirs(FS, dir) {
  let cur = "";
  for (const part of dir.split("/").filter(Boolean)) {
    cur += "/" + part;
    if (!FS.analyzePath(cur).exists) FS.mkdir(cur);
  }
}

function copyOut(FS, vmDir, hostDir) {
  fs.mkdirSync(hostDir, { recursive: true });
  for (const name of FS.readdir(vmDir)) {
    if (name === "." || name === "..") continue;
    const vmPath = `${vmDir}/${name}`;
    const hostPath = path.join(hostDir, name);
    if (FS.isDir(FS.stat(vmPath).mode)) copyOut(FS, vmPath, hostPath);
    else fs.writeFileSync(hostPath, FS.readFile(vmPath));
  }
}

async function main() {
  if (process.argv.length !== 3) fail("usage: node run.mjs MANIFEST.json");
  const manifestPath = path.resolve(process.argv[2]);
  let manifest;
  try {
    manifest = JSON.parse(fs.readFileSync(manifestPath, "utf8"));
  } catch (e) {
    fail(`cannot read manifest ${manifestPath}: ${e.message}`);
  }
  const base = path.dirname(manifestPath);
  const host = (p) => path.resolve(base, p);
  if (typeof manifest.script !== "string") fail("manifest needs \"script\"");

  let script;
  const inputs = [];
  try {
    script = fs.readFileSync(host(manifest.script), "utf8");
    for (const f of manifest.files ?? []) {
      if (typeof f.vm !== "string" || !f.vm.startsWith("/")) fail(`bad VM path ${JSON.stringify(f.vm)}`);
      inputs.push([f.vm, fs.readFileSync(host(f.host))]);
    }
  } catch (e) {
    fail(e.message);
  }

  const out = byteSink(process.stdout);
  const err = byteSink(process.stderr);
  const t0 = performance.now();
  const mp = await loadMicroPython({
    heapsize: manifest.heap_bytes ?? DEFAULT_HEAP,
    pystack: manifest.pystack_words ?? 2048,
    linebuffer: false,
    stdout: out.push,
    stderr: err.push,
  });
  mp.registerJsModule("hostclock", { ticks_us: () => Math.round(performance.now() * 1000) });
  vmMakedirs(mp.FS, "/lib");
  vmMakedirs(mp.FS, VM_OUT);
  for (const [vmPath, data] of inputs) {
    vmMakedirs(mp.FS, path.posix.dirname(vmPath));
    mp.FS.writeFile(vmPath, data);
  }
  const t1 = performance.now();

  const result = { ok: true, error_type: null, traceback: null, startup_s: (t1 - t0) / 1000, run_s: 0 };
  try {
    mp.runPython(script);
  } catch (e) {
    result.ok = false;
    // PythonError carries the exception name and the whole MicroPython traceback.
    result.error_type = e.type ?? e.constructor?.name ?? "Error";
    result.traceback = e.type !== undefined ? e.message : String(e.stack ?? e);
  }
  result.run_s = (performance.now() - t1) / 1000;
  out.flush();
  err.flush();
  if (!result.ok) process.stderr.write(result.traceback.endsWith("\n") ? result.traceback : result.traceback + "\n");

  if (manifest.out_dir !== undefined) copyOut(mp.FS, VM_OUT, host(manifest.out_dir));
  if (manifest.result !== undefined) fs.writeFileSync(host(manifest.result), JSON.stringify(result));
  process.exitCode = result.ok ? 0 : 1;
}

await main();
