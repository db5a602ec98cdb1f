const { Harness, MockHost, OutboxCall, Record } = await import(new URL('testing.mjs', sdk));
const { Plugin } = await import('./plugin.js');

test('publishes each record', () => {
  const h = new Harness(Plugin, new MockHost().withConfig('topic', 't'));
  assert.deepEqual(h.emit([new Record('a')]), []);
  const [call] = h.host.outbox();
  assert.equal(call.kind, 'publish');
  assert.equal(call.topic, 't');
  assert.equal(new TextDecoder().decode(call.payload), 'a');
  assert.equal(call.qos, 1);
});
