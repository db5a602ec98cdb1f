const { Harness, MockHost, Record } = await import(new URL('testing.mjs', sdk));
const { Plugin } = await import('./plugin.js');

test('adds the field', () => {
  const h = new Harness(Plugin, new MockHost().withConfig('value', 'me'));
  const [out] = h.transform([Record.fromJson({ a: 1 })]);
  assert.equal(out.kind, 'records');
  assert.deepEqual(out.records[0].json(), { a: 1, processed_by: 'me' });
});

test('a payload that is not JSON fails alone', () => {
  const [out] = new Harness(Plugin, new MockHost()).transform([new Record('not json')]);
  assert.equal(out.kind, 'failed');
  assert.equal(out.error.code, 'bad-json');
});
