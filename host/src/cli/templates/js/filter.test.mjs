const { Drop, Harness, Keep, MockHost, Record } = await import(new URL('testing.mjs', sdk));
const { Plugin } = await import('./plugin.js');

test('keeps values above min', () => {
  const h = new Harness(Plugin, new MockHost().withConfig('min', '10'));
  const out = h.filter([Record.fromJson({ value: 11 }), Record.fromJson({ value: '9' })]);
  assert.deepEqual(out, [Keep, Drop]);
});

test('a record without value fails alone', () => {
  const [out] = new Harness(Plugin, new MockHost()).filter([Record.fromJson({ other: 1 })]);
  assert.equal(out.kind, 'failed');
  assert.equal(out.error.code, 'missing-field');
});
