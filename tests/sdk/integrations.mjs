// The official Elastic Path JavaScript SDK's Integrations calls (`EP.Integrations`, `/v2/integrations…`)
// against an Assortment server: create, list, get and update a webhook integration, see its delivery to a
// receiver as a job and its logs, delete it.
//
//   ASSORTMENT_URL=… ASSORTMENT_CLIENT_ID=… ASSORTMENT_CLIENT_SECRET=… ASSORTMENT_RECEIVER_URL=… \
//     node tests/sdk/integrations.mjs
//
// The receiver must answer 2xx, and the server must allow loopback targets
// (ASSORTMENT_WEBHOOK_ALLOW_PRIVATE_URLS=true). As in flow.mjs, every step asserts what it got back and throws
// on a mismatch (exit code 1, the failing step on stderr); on success the last line of stdout is a JSON
// summary (the SDK prints "Token status: …" lines of its own before it).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import { gateway, MemoryStorageFactory } from '@elasticpath/js-sdk';

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`set ${name}`);
  return value;
}

const base = new URL(required('ASSORTMENT_URL'));
const receiverUrl = required('ASSORTMENT_RECEIVER_URL');
const requests = [];

async function recordingFetch(url, options = {}) {
  const entry = { method: options.method ?? 'GET', path: new URL(url).pathname + new URL(url).search };
  requests.push(entry);
  const response = await fetch(url, options);
  entry.status = response.status;
  return response;
}

const EP = gateway({
  client_id: required('ASSORTMENT_CLIENT_ID'),
  client_secret: required('ASSORTMENT_CLIENT_SECRET'),
  host: base.host,
  protocol: base.protocol.replace(/:$/, ''),
  storage: new MemoryStorageFactory(),
  custom_fetch: recordingFetch,
});

const steps = [];

async function step(name, action) {
  try {
    const result = await action();
    steps.push(name);
    return result;
  } catch (error) {
    const detail = error instanceof Error ? error.stack : JSON.stringify(error);
    throw new Error(`step "${name}" failed: ${detail}\nlast request: ${JSON.stringify(requests.at(-1))}`);
  }
}

// Some steps wait for the server's delivery loop: poll until `check` returns something, for up to 30 s.
async function eventually(what, check) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const found = await check();
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(200);
  }
}

const run = randomBytes(4).toString('hex');
const secret = `whsec_${randomBytes(24).toString('base64')}`;

await step('authenticate', async () => {
  const body = await EP.Authenticate();
  assert.equal(body.token_type, 'Bearer');
});

const created = await step('create integration', async () => {
  const { data } = await EP.Integrations.Create({
    name: `sdk-hook-${run}`,
    description: 'created by the JavaScript SDK',
    integration_type: 'webhook',
    enabled: true,
    observes: ['product.created'],
    configuration: { url: receiverUrl, secret_key: secret },
  });
  assert.equal(data.type, 'integration');
  assert.equal(data.name, `sdk-hook-${run}`);
  assert.equal(data.enabled, true);
  assert.equal(data.integration_type, 'webhook');
  assert.deepEqual(data.observes, ['product.created']);
  assert.equal(data.configuration.url, receiverUrl);
  assert.equal(data.links.self, `/v2/integrations/${data.id}`);
  return data;
});
const id = created.id;

await step('list integrations', async () => {
  const { data } = await EP.Integrations.All();
  assert.ok(data.some((integration) => integration.id === id), 'the new integration is not listed');
});

await step('get integration', async () => {
  const { data } = await EP.Integrations.Get(id);
  assert.equal(data.id, id);
  assert.equal(data.description, 'created by the JavaScript SDK');
});

await step('update integration (only the fields sent change)', async () => {
  const { data } = await EP.Integrations.Update(id, {
    name: `sdk-hook-${run}-renamed`,
    observes: ['product.created', 'product.updated'],
  });
  assert.equal(data.name, `sdk-hook-${run}-renamed`);
  assert.deepEqual(data.observes, ['product.created', 'product.updated']);
  assert.equal(data.description, 'created by the JavaScript SDK');
  assert.equal(data.enabled, true);
  assert.equal(data.configuration.url, receiverUrl);
});

const product = await step('create a product (the integration observes product.created)', async () => {
  const { data } = await EP.PCM.Create({
    attributes: { name: 'Hooked', sku: `HOOK-${run}`, commodity_type: 'physical' },
  });
  return data;
});

const job = await step('integration jobs (GetJobs)', async () =>
  eventually('a succeeded job', async () => {
    const { data } = await EP.Integrations.GetJobs(id);
    assert.ok(Array.isArray(data));
    const done = data.find((j) => j.status === 'succeeded');
    if (!done) return undefined;
    assert.equal(data.length, 1, 'one event, one job');
    assert.equal(done.type, 'integration-job');
    assert.equal(done.triggered_by, 'product.created');
    assert.equal(done.attempts, 1);
    return done;
  }),
);

await step('integration logs (GetLogs)', async () => {
  const { data } = await EP.Integrations.GetLogs(id);
  assert.equal(data.length, 1);
  const [entry] = data;
  assert.equal(entry.type, 'integration-log');
  assert.equal(entry.succeeded, true);
  assert.equal(entry.attempt, 1);
  assert.equal(entry.relationships.integration.data.id, id);
  assert.equal(entry.relationships.job.data.id, job.id);
});

await step('logs of a job (GetAllLogsForJob)', async () => {
  const { data } = await EP.Integrations.GetAllLogsForJob(id, job.id);
  assert.deepEqual(
    data.map((entry) => entry.relationships.job.data.id),
    [job.id],
  );
});

await step("all the caller's logs (GetAllLogs)", async () => {
  const { data } = await EP.Integrations.GetAllLogs();
  assert.ok(data.some((entry) => entry.relationships.integration.data.id === id));
});

await step('delete integration', async () => {
  await EP.Integrations.Delete(id);
  const gone = await EP.Integrations.Get(id).then(
    () => undefined,
    (error) => error,
  );
  assert.ok(gone, 'the deleted integration is still there');
  assert.equal(String(gone.errors[0].status), '404');
});

console.log(
  JSON.stringify({
    ok: true,
    sdk_version: EP.config.sdk.version,
    steps,
    integration_id: id,
    product_id: product.id,
    job: { id: job.id, event_id: job.event_id, status: job.status },
    requests: requests.map((r) => `${r.method} ${r.path} ${r.status}`),
  }),
);
