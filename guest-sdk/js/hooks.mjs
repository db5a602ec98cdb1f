// Node.js module hooks for plugin tests: resolve `weir:sdk` (what plugin.js imports) to the
// SDK beside this file, and `weir:sdk/testing` to its test harness. `testing.mjs` registers
// them when it is imported; `node --import <sdk>/hooks.mjs` registers them before anything
// else (then a test file may import `weir:sdk` statically).

import { register } from 'node:module';
import { isMainThread } from 'node:worker_threads';

const TARGETS = {
  'weir:sdk': new URL('./sdk.mjs', import.meta.url).href,
  'weir:sdk/testing': new URL('./testing.mjs', import.meta.url).href,
};

/** The resolve hook: the SDK's own names, everything else as Node resolves it. */
export async function resolve(specifier, context, nextResolve) {
  const url = TARGETS[specifier];
  if (url !== undefined) return { url, format: 'module', shortCircuit: true };
  return nextResolve(specifier, context);
}

/**
 * The load hook: a plugin's `plugin.js` is an ES module wherever it lives (with no
 * package.json saying "type": "module" beside it).
 */
export async function load(url, context, nextLoad) {
  if (url.startsWith('file:') && url.endsWith('/plugin.js')) return nextLoad(url, { ...context, format: 'module' });
  return nextLoad(url, context);
}

// Imported as a module (`--import` or from testing.mjs) rather than loaded as the hooks
// themselves: register this file as the hooks, once per process.
const KEY = Symbol.for('weir.sdk.hooks');
if (isMainThread && !globalThis[KEY]) {
  globalThis[KEY] = true;
  register(import.meta.url);
}
