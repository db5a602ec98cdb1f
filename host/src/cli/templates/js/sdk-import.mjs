import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pathToFileURL } from 'node:url';

// The SDK copy `weir plugin new` wrote (`weir plugin build` refreshes it), or WEIR_JS_SDK.
// Its testing module is imported before plugin.js: it makes `weir:sdk` resolve.
const sdk = process.env.WEIR_JS_SDK
  ? pathToFileURL(`${process.env.WEIR_JS_SDK}/`)
  : new URL('./.weir-sdk/', import.meta.url);
