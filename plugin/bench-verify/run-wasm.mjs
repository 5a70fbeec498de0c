// `make bench-verify`: runs the wasm32-wasip1 build of wsgate-bench-verify under
// node's WASI, as `node --no-liftoff run-wasm.mjs MODULE.wasm INPUT.json`.
// --no-liftoff compiles with TurboFan only, as Envoy configures V8.
// The input's directory is preopened as /input: WASI code sees no other files.
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { WASI } from 'node:wasi';
import process from 'node:process';

const [modulePath, inputPath] = process.argv.slice(2);
if (!modulePath || !inputPath) {
  console.error('usage: node --no-liftoff run-wasm.mjs MODULE.wasm INPUT.json');
  process.exit(2);
}
const wasi = new WASI({
  version: 'preview1',
  args: ['wsgate-bench-verify', `/input/${basename(inputPath)}`],
  env: {},
  preopens: { '/input': dirname(resolve(inputPath)) },
  returnOnExit: true,
});
const module = await WebAssembly.compile(await readFile(modulePath));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exitCode = wasi.start(instance);
