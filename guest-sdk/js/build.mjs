#!/usr/bin/env node
// Builds a Weir JavaScript plugin into a WebAssembly component.
//
//   node build.mjs --wit WIT_DIR --world WORLD --plugin PLUGIN_DIR --stage STAGE \
//       --grants g1,g2 --out OUT.wasm [--backend quickjs|starlingmonkey] [--toolchain DIR]
//
// WIT_DIR holds weir:plugin's WIT with WORLD, the plugin's world: one `import X;` per grant and
// the export of its stage. The toolchain (the npm packages of toolchain/package.json) is found
// in --toolchain DIR (the folder `npm ci` ran in), else on NODE_PATH.
//
// Steps: write an entry module that imports the granted interfaces, the SDK (sdk.mjs beside
// this file) and PLUGIN_DIR/plugin.js and exports the stage's interface; bundle it into one
// module with rolldown; componentize that with jco; check that the component imports nothing
// but weir:plugin interfaces of its grants.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const SDK_DIR = dirname(fileURLToPath(import.meta.url));
const GRANTS = ['log', 'config', 'lookup', 'outbox'];
const STAGES = {
  filter: { iface: 'filter-batch', exportName: 'filterBatch', fn: 'filter' },
  transformer: { iface: 'transform-batch', exportName: 'transformBatch', fn: 'transform' },
  emitter: { iface: 'emit-batch', exportName: 'emitBatch', fn: 'emit' },
};
// What each grant's interface gives the SDK (see Host in sdk.mjs).
const IMPORTS = {
  log: [['log', 'log']],
  config: [['get', 'configGet'], ['keys', 'configKeys']],
  lookup: [['lookup', 'lookup']],
  outbox: [['publish', 'publish'], ['put-record', 'putRecord'], ['notify', 'notify']],
};
const BACKENDS = {
  // QuickJS: a 1.6 MB component, loaded in a few seconds; async off (the host runs plugins
  // synchronously) and every WASI import replaced by a trap stub.
  quickjs: ['--backend', 'quickjs', '--backend-qjs-disable-async', '--backend-qjs-stub-wasi'],
  // StarlingMonkey (SpiderMonkey): every WASI feature disabled.
  starlingmonkey: ['--backend', 'starlingmonkey', '--disable', 'all'],
};
export const DEFAULT_BACKEND = 'quickjs';

class BuildError extends Error {}

function usage() {
  return 'usage: node build.mjs --wit WIT_DIR --world WORLD --plugin PLUGIN_DIR --stage filter|transformer|emitter '
    + '--grants g1,g2 --out OUT.wasm [--backend quickjs|starlingmonkey] [--toolchain DIR] [--keep-bundle FILE]';
}

function parseArgs(argv) {
  const opts = {};
  const known = new Set(['wit', 'world', 'plugin', 'stage', 'grants', 'out', 'backend', 'toolchain', 'keep-bundle']);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') throw new BuildError(usage());
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (m === null || !known.has(m[1])) throw new BuildError(`unknown argument ${JSON.stringify(a)}\n${usage()}`);
    let value = m[2];
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new BuildError(`--${m[1]} needs a value`);
    }
    opts[m[1]] = value;
  }
  for (const k of ['wit', 'world', 'plugin', 'stage', 'out']) {
    if (opts[k] === undefined) throw new BuildError(`--${k} is missing\n${usage()}`);
  }
  if (!(opts.stage in STAGES)) throw new BuildError(`--stage ${JSON.stringify(opts.stage)}: expected filter, transformer or emitter`);
  const grants = (opts.grants ?? '').split(',').map((g) => g.trim()).filter((g) => g !== '');
  for (const g of grants) {
    if (!GRANTS.includes(g)) throw new BuildError(`--grants: unknown grant ${JSON.stringify(g)} (expected some of: ${GRANTS.join(', ')})`);
  }
  if (new Set(grants).size !== grants.length) throw new BuildError('--grants names a grant twice');
  opts.grants = GRANTS.filter((g) => grants.includes(g));
  opts.backend = opts.backend ?? DEFAULT_BACKEND;
  if (opts.backend === 'sm') opts.backend = 'starlingmonkey';
  if (opts.backend === 'qjs') opts.backend = 'quickjs';
  if (!(opts.backend in BACKENDS)) throw new BuildError(`--backend ${JSON.stringify(opts.backend)}: expected quickjs or starlingmonkey`);
  return opts;
}

function stripComments(text) {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/[^\n]*/g, '');
}

/** The weir:plugin package version and the world's imports and exports, from WIT_DIR. */
function readWit(witDir, world) {
  if (!existsSync(witDir) || !statSync(witDir).isDirectory()) throw new BuildError(`--wit ${witDir}: not a folder`);
  let version = null;
  let body = null;
  for (const name of readdirSync(witDir).filter((n) => n.endsWith('.wit')).sort()) {
    const text = stripComments(readFileSync(join(witDir, name), 'utf8'));
    const pkg = /\bpackage\s+weir:plugin@([0-9A-Za-z.+-]+)\s*;/.exec(text);
    if (pkg !== null) version = pkg[1];
    const w = new RegExp(`\\bworld\\s+${world.replace(/[^A-Za-z0-9-]/g, '')}\\s*\\{([^}]*)\\}`).exec(text);
    if (w !== null) body = w[1];
  }
  if (version === null) throw new BuildError(`--wit ${witDir}: no file declares package weir:plugin@VERSION`);
  if (body === null) throw new BuildError(`--wit ${witDir}: no world ${world}`);
  const imports = [...body.matchAll(/\bimport\s+([a-z-]+)\s*;/g)].map((m) => m[1]);
  const exports = [...body.matchAll(/\bexport\s+([a-z-]+)\s*;/g)].map((m) => m[1]);
  return { version, imports, exports };
}

/** The node_modules folders to look for the toolchain in. */
function toolchainDirs(opts) {
  const dirs = [];
  if (opts.toolchain !== undefined) {
    const t = resolve(opts.toolchain);
    dirs.push(existsSync(join(t, 'node_modules')) ? join(t, 'node_modules') : t);
  }
  for (const d of (process.env.NODE_PATH ?? '').split(delimiter)) if (d !== '') dirs.push(resolve(d));
  return dirs;
}

function findPackage(dirs, name) {
  for (const d of dirs) {
    const pkg = join(d, name, 'package.json');
    if (existsSync(pkg)) return { dir: join(d, name), json: JSON.parse(readFileSync(pkg, 'utf8')), nodeModules: d };
  }
  throw new BuildError(`cannot find the npm package ${name}: install the toolchain (npm ci in the folder of toolchain/package.json) `
    + 'and pass --toolchain FOLDER or set NODE_PATH to its node_modules');
}

function entryModule(opts, version, pluginFile) {
  const stage = STAGES[opts.stage];
  const lines = ["import { bindComponent } from 'weir:sdk';"];
  const raw = [];
  for (const g of opts.grants) {
    const names = IMPORTS[g].map(([fn, local]) => `${camel(fn)} as ${local}`).join(', ');
    lines.push(`import { ${names} } from 'weir:plugin/${g}@${version}';`);
    for (const [, local] of IMPORTS[g]) raw.push(local);
  }
  lines.push(`import ${JSON.stringify(pluginFile)};`);
  lines.push(`const run = bindComponent(${JSON.stringify(opts.stage)}, { ${raw.join(', ')} });`);
  lines.push(`export const ${stage.exportName} = { ${stage.fn}: run.${stage.fn} };`);
  return lines.join('\n') + '\n';
}

function camel(name) {
  return name.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
}

async function bundle(toolchain, entryFile, outFile) {
  const rolldownPkg = findPackage(toolchain, 'rolldown');
  const req = createRequire(join(rolldownPkg.nodeModules, 'weir-build.cjs'));
  const { rolldown } = await import(pathToFileURL(req.resolve('rolldown')).href);
  const sdkFile = join(SDK_DIR, 'sdk.mjs');
  const b = await rolldown({
    input: entryFile,
    platform: 'neutral',
    logLevel: 'warn',
    plugins: [{
      name: 'weir',
      resolveId(source, importer) {
        if (source === 'weir:sdk') return sdkFile;
        if (source.startsWith('weir:plugin/')) return { id: source, external: true };
        if (source.startsWith('node:') || /^(fs|path|os|child_process|net|http|https|crypto|process|buffer|url|util|stream|events|worker_threads)(\/|$)/.test(source)) {
          throw new BuildError(`${importer ?? 'plugin.js'} imports ${source}: a Weir plugin runs without Node.js, its only capabilities are the host's (log, config, lookup, outbox)`);
        }
        return null;
      },
    }],
  });
  try {
    const { output } = await b.generate({ format: 'esm', codeSplitting: false });
    const chunks = output.filter((o) => o.type === 'chunk');
    if (chunks.length !== 1) throw new BuildError(`bundling made ${chunks.length} modules; expected one`);
    writeFileSync(outFile, chunks[0].code);
  } finally {
    await b.close();
  }
}

function jco(toolchain, args, cwd) {
  const pkg = findPackage(toolchain, '@bytecodealliance/jco');
  const bin = join(pkg.dir, typeof pkg.json.bin === 'string' ? pkg.json.bin : pkg.json.bin.jco);
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, NODE_PATH: toolchain.join(delimiter) },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw new BuildError(`cannot run jco: ${r.error.message}`);
  return r;
}

/** The component's imports (`jco wit`), checked against its grants. */
function checkImports(toolchain, out, opts, version) {
  const r = jco(toolchain, ['wit', out], dirname(out));
  if (r.status !== 0) throw new BuildError(`jco wit ${out} failed:\n${r.stderr}${r.stdout}`);
  const imports = [...r.stdout.matchAll(/^\s*import\s+([^;]+);/gm)].map((m) => m[1].trim());
  const allowed = new Set([`weir:plugin/types@${version}`, ...opts.grants.map((g) => `weir:plugin/${g}@${version}`)]);
  const bad = imports.filter((i) => !allowed.has(i));
  if (bad.length > 0) {
    throw new BuildError(`the component imports ${bad.join(', ')}, beyond its grants (${opts.grants.join(', ') || 'none'})`);
  }
  return imports;
}

export async function build(argv) {
  const opts = parseArgs(argv);
  const wit = readWit(resolve(opts.wit), opts.world);
  const wantImports = opts.grants.slice().sort();
  if (JSON.stringify(wit.imports.slice().sort()) !== JSON.stringify(wantImports)) {
    throw new BuildError(`world ${opts.world} imports ${wit.imports.join(', ') || 'nothing'}, but --grants says ${opts.grants.join(', ') || 'none'}`);
  }
  const stage = STAGES[opts.stage];
  if (wit.exports.length !== 1 || wit.exports[0] !== stage.iface) {
    throw new BuildError(`world ${opts.world} exports ${wit.exports.join(', ') || 'nothing'}; a ${opts.stage} exports ${stage.iface}`);
  }
  const pluginFile = join(resolve(opts.plugin), 'plugin.js');
  if (!existsSync(pluginFile)) throw new BuildError(`${pluginFile}: no such file`);
  const toolchain = toolchainDirs(opts);
  const out = resolve(opts.out);
  const work = mkdtempSync(join(tmpdir(), 'weir-js-build-'));
  try {
    const entryFile = join(work, 'entry.mjs');
    writeFileSync(entryFile, entryModule(opts, wit.version, pluginFile));
    const bundled = join(work, 'component.js');
    await bundle(toolchain, entryFile, bundled);
    if (opts['keep-bundle'] !== undefined) writeFileSync(resolve(opts['keep-bundle']), readFileSync(bundled));
    rmSync(out, { force: true });
    const r = jco(toolchain, ['componentize', bundled, '--wit', resolve(opts.wit), '--world-name', opts.world,
      '-o', out, ...BACKENDS[opts.backend]], work);
    if (r.status !== 0 || !existsSync(out)) {
      throw new BuildError(`jco componentize failed:\n${(r.stderr + r.stdout).trim()}`);
    }
    let imports;
    try {
      imports = checkImports(toolchain, out, opts, wit.version);
    } catch (e) {
      rmSync(out, { force: true });
      throw e;
    }
    return { out, imports, backend: opts.backend, size: statSync(out).size };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  build(process.argv.slice(2)).then(
    (r) => {
      process.stdout.write(`built ${r.out} (${r.backend}, ${r.size} bytes); imports: ${r.imports.join(', ')}\n`);
    },
    (e) => {
      process.stderr.write(`error: ${e instanceof BuildError ? e.message : (e && e.stack) || e}\n`);
      process.exitCode = 1;
    },
  );
}
