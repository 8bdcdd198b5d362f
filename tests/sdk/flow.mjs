// Drive an Assortment server with the official Elastic Path JavaScript SDK, changing only where it points.
//
//   ASSORTMENT_URL=http://127.0.0.1:8000 ASSORTMENT_CLIENT_ID=… ASSORTMENT_CLIENT_SECRET=… node tests/sdk/flow.mjs
//
// Every step asserts what it got back and throws on a mismatch (exit code 1, the failing step on stderr).
// On success the last line of stdout is a JSON summary. The SDK itself writes "Token status: …" lines
// with console.info before its first token request, so read only the last line.
//
// Configuration beyond the client credentials:
//   host/protocol  from ASSORTMENT_URL (the SDK builds `${protocol}://${host}/${version}/${uri}`, so a
//                  host of "127.0.0.1:8000" carries the port);
//   storage        MemoryStorageFactory, so the SDK does not create ./localStorage in the working directory;
//   custom_fetch   the global fetch, wrapped only to record each request for the summary.
//
// One step has no SDK method and goes through the SDK's own request helper (`EP.request.send`, same
// authentication and headers): the related products of a product in a release (release view).
// The shopper catalog steps (`/catalog…`) pick this run's catalog with a catalog rule on an EP-Channel, so
// the flow also works against a database that has other published catalogs.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

import { gateway, MemoryStorageFactory } from '@elasticpath/js-sdk';

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`set ${name}`);
  return value;
}

const base = new URL(required('ASSORTMENT_URL'));
const requests = [];

async function recordingFetch(url, options = {}) {
  const headers = options.headers ?? {};
  const entry = {
    method: options.method ?? 'GET',
    path: new URL(url).pathname + new URL(url).search,
    content_type: headers['Content-Type'] ?? headers['content-type'] ?? null,
    body: options.body !== undefined && options.body !== null,
  };
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
    // The SDK rejects with the parsed error body of the response ({errors: [...]}), not an Error.
    const detail = error instanceof Error ? error.stack : JSON.stringify(error);
    const last = requests.at(-1);
    throw new Error(`step "${name}" failed: ${detail}\nlast request: ${JSON.stringify(last)}`);
  }
}

const ids = (documents) => documents.map((d) => d.id);
const run = randomBytes(4).toString('hex');

// --- authentication -----------------------------------------------------------------------------------

const token = await step('authenticate', async () => {
  const body = await EP.Authenticate();
  assert.equal(body.token_type, 'Bearer');
  assert.equal(typeof body.access_token, 'string');
  const now = Math.floor(Date.now() / 1000);
  // The SDK compares `expires` with the clock in seconds to decide whether to ask for a new token.
  assert.ok(Number.isInteger(body.expires) && body.expires > now, `expires ${body.expires} is not a future epoch second`);
  assert.ok(body.expires_in > 0);
  assert.equal(EP.tokenInvalid(), false, 'the SDK considers the stored token invalid');
  return body;
});

// --- products -------------------------------------------------------------------------------------------

const product = (name, sku) =>
  step(`create product ${sku}`, async () => {
    const { data } = await EP.PCM.Create({
      attributes: { name, sku, commodity_type: 'physical', status: 'live' },
    });
    assert.equal(data.type, 'product');
    assert.equal(data.attributes.sku, sku);
    return data;
  });

const shirt = await product('Linen shirt', `SDK-SHIRT-${run}`);
const shorts = await product('Linen shorts', `SDK-SHORTS-${run}`);
const hat = await product('Straw hat', `SDK-HAT-${run}`);
const scarf = await product('Wool scarf', `SDK-SCARF-${run}`);

await step('get product', async () => {
  const { data } = await EP.PCM.Get(shirt.id);
  assert.equal(data.id, shirt.id);
});

// --- hierarchy and nodes --------------------------------------------------------------------------------

const hierarchy = await step('create hierarchy', async () => {
  const { data } = await EP.Hierarchies.Create({ attributes: { name: 'Clothing', slug: `clothing-${run}` } });
  assert.equal(data.type, 'hierarchy');
  return data;
});
const hierarchyId = hierarchy.id;

const node = (name, slug) =>
  step(`create node ${name}`, async () => {
    const { data } = await EP.Hierarchies.Nodes.Create({ hierarchyId, body: { attributes: { name, slug } } });
    assert.equal(data.type, 'node');
    assert.equal(data.attributes.name, name);
    return data;
  });

const seasons = await node('Seasons', `seasons-${run}`);
const summer = await node('Summer', `summer-${run}`);
const winter = await node('Winter', `winter-${run}`);

await step('node children (relationships/children)', async () => {
  const { data } = await EP.Hierarchies.Relationships.CreateChildrenSortOrder({
    hierarchyId,
    nodeId: seasons.id,
    body: [
      { type: 'node', id: summer.id, meta: { sort_order: 2 } },
      { type: 'node', id: winter.id, meta: { sort_order: 1 } },
    ],
  });
  assert.equal(data.id, seasons.id);
});

await step('list node children', async () => {
  const { data } = await EP.Hierarchies.Nodes.GetNodeChildren({ hierarchyId, nodeId: seasons.id });
  assert.deepEqual(new Set(ids(data)), new Set([summer.id, winter.id]));
  for (const child of data) {
    assert.equal(child.relationships.parent.data.id, seasons.id);
    assert.deepEqual(ids(child.meta.breadcrumbs), [hierarchyId, seasons.id, child.id]);
  }
});

await step('top-level nodes of the hierarchy', async () => {
  const { data } = await EP.Hierarchies.Children(hierarchyId);
  assert.deepEqual(ids(data), [seasons.id]);
});

// --- node products --------------------------------------------------------------------------------------

await step('attach products to Summer (relationships/products)', async () => {
  const { data } = await EP.Hierarchies.Relationships.Create({
    hierarchyId,
    nodeId: summer.id,
    body: [shirt, shorts, hat].map(({ id }) => ({ type: 'product', id })),
  });
  assert.equal(data.id, summer.id);
});

await step('attach a product to Winter', async () => {
  await EP.Hierarchies.Relationships.Create({
    hierarchyId,
    nodeId: winter.id,
    body: [{ type: 'product', id: scarf.id }],
  });
});

await step('curate Summer', async () => {
  const { data } = await EP.Hierarchies.Nodes.Update({
    hierarchyId,
    nodeId: summer.id,
    body: { id: summer.id, attributes: { curated_products: [hat.id, shirt.id] } },
  });
  assert.deepEqual(data.attributes.curated_products, [hat.id, shirt.id]);
});

await step('list Summer products', async () => {
  const { data, meta } = await EP.Hierarchies.Relationships.Products({ hierarchyId, nodeId: summer.id });
  assert.deepEqual(new Set(ids(data)), new Set([shirt.id, shorts.id, hat.id]));
  assert.equal(meta.results.total, 3);
});

// --- custom relationship and association -----------------------------------------------------------------

// Like Elastic Path, the server keeps slugs with a `CRP_` prefix (adding it when missing).
const slug = `CRP_goes-with-${run}`;

await step('create custom relationship', async () => {
  const { data } = await EP.CustomRelationships.Create({
    attributes: { name: 'Goes well with', slug, external_name: 'You may also like' },
  });
  assert.equal(data.type, 'custom-relationship');
  assert.equal(data.attributes.slug, slug);
});

await step('get custom relationship', async () => {
  const { data } = await EP.CustomRelationships.Get(slug);
  assert.equal(data.attributes.slug, slug);
});

await step('attach custom relationship to the shirt', async () => {
  const { data } = await EP.PCM.CustomRelationships.AttachCustomRelationship(shirt.id, [
    { type: 'custom-relationship', slug },
  ]);
  assert.deepEqual(data.map((entry) => entry.attributes.slug), [slug]);
});

await step('associate the scarf with the shirt', async () => {
  await EP.PCM.CustomRelationships.AssociateProductsToCustomRelationship(shirt.id, slug, [
    { type: 'product', id: scarf.id },
  ]);
});

await step('associated product ids', async () => {
  const { data } = await EP.PCM.CustomRelationships.GetProductIdsForCustomRelationship(shirt.id, slug);
  assert.deepEqual(ids(data), [scarf.id]);
});

await step('associated products', async () => {
  const { data } = await EP.PCM.CustomRelationships.GetProductsForCustomRelationship(shirt.id, slug);
  assert.deepEqual(ids(data), [scarf.id]);
  assert.equal(data[0].attributes.sku, scarf.attributes.sku);
});

// --- catalog and release --------------------------------------------------------------------------------

const catalog = await step('create catalog', async () => {
  const { data } = await EP.Catalogs.Create({
    attributes: { name: `SDK catalog ${run}`, hierarchy_ids: [hierarchyId] },
  });
  assert.equal(data.type, 'catalog');
  assert.deepEqual(data.attributes.hierarchy_ids, [hierarchyId]);
  return data;
});
const catalogId = catalog.id;

const release = await step('publish (POST releases, no body)', async () => {
  const { data } = await EP.Catalogs.Releases.Create({ catalogId });
  assert.equal(data.type, 'catalog-release');
  assert.equal(data.attributes.catalog_id, catalogId);
  return data;
});

await step('list releases', async () => {
  const { data } = await EP.Catalogs.Releases.All({ catalogId });
  assert.ok(ids(data).includes(release.id));
});

await step('latest release', async () => {
  const { data } = await EP.Catalogs.Releases.Get({ catalogId, releaseId: 'latest' });
  assert.equal(data.id, release.id);
});

const crumbsOf = (document, nodeId, expected) => {
  const meta = document.meta;
  assert.ok(meta.bread_crumb_nodes.includes(nodeId), `${document.id}: bread_crumb_nodes lack ${nodeId}`);
  assert.deepEqual(meta.bread_crumbs[nodeId], expected, `${document.id}: bread_crumbs of ${nodeId}`);
};

const summerProducts = await step('node products of the latest release', async () => {
  const { data, meta } = await EP.Catalogs.Products.GetCatalogReleaseNodeProducts({
    catalogId,
    releaseId: 'latest',
    nodeId: summer.id,
  });
  // Curated products first, in curated order and marked; then the rest.
  assert.deepEqual(ids(data), [hat.id, shirt.id, shorts.id]);
  assert.deepEqual(data.map((d) => d.attributes.curated_product === true), [true, true, false]);
  assert.equal(meta.results.total, 3);
  for (const document of data) crumbsOf(document, summer.id, [hierarchyId, seasons.id]);
  const shirtDocument = data.find((d) => d.id === shirt.id);
  assert.ok(shirtDocument.meta.custom_relationships.includes(slug), 'the shirt does not list its relationship');
  return data;
});

await step('Winter products of the latest release', async () => {
  const { data } = await EP.Catalogs.Products.GetCatalogReleaseNodeProducts({
    catalogId,
    releaseId: release.id,
    nodeId: winter.id,
  });
  assert.deepEqual(ids(data), [scarf.id]);
  crumbsOf(data[0], winter.id, [hierarchyId, seasons.id]);
});

await step('Summer node in the latest release', async () => {
  const { data } = await EP.Catalogs.Nodes.GetNodeInCatalogRelease({
    catalogId,
    releaseId: 'latest',
    nodeId: summer.id,
  });
  assert.equal(data.id, summer.id);
  assert.deepEqual(data.attributes.curated_products, [hat.id, shirt.id]);
});

await step('children of Seasons in the latest release', async () => {
  const { data } = await EP.Catalogs.Nodes.GetNodeChildrenFromCatalogReleases({
    catalogId,
    releaseId: 'latest',
    nodeId: seasons.id,
  });
  assert.deepEqual(new Set(ids(data)), new Set([summer.id, winter.id]));
});

await step('a product of the latest release', async () => {
  const { data } = await EP.Catalogs.Products.GetCatalogReleaseProduct({
    catalogId,
    releaseId: 'latest',
    productId: shirt.id,
  });
  assert.equal(data.id, shirt.id);
  assert.equal(data.attributes.sku, shirt.attributes.sku);
});

// No SDK method for the release view's related products: the SDK's request helper, version 'pcm'.
await step('related products in the latest release (EP.request.send)', async () => {
  const uri = `catalogs/${catalogId}/releases/latest/products/${shirt.id}/relationships/${slug}/products`;
  const { data } = await EP.request.send(uri, 'GET', undefined, undefined, undefined, true, 'pcm');
  assert.deepEqual(ids(data), [scarf.id]);
});

// The shopper catalog (`/catalog…`) is the one a catalog rule picks: a rule for a channel of this run.
const channel = `sdk-${run}`;

await step('create catalog rule', async () => {
  const { data } = await EP.Catalogs.Rules.Create({
    type: 'catalog_rule',
    attributes: { name: `sdk-rule-${run}`, catalog_id: catalogId, channels: [channel] },
  });
  assert.equal(data.type, 'catalog_rule');
  assert.equal(data.attributes.catalog_id, catalogId);
});

await step('shopper catalog: node products', async () => {
  const { data } = await EP.ShopperCatalog.Products.GetProductsByNode({
    nodeId: summer.id,
    additionalHeaders: { 'EP-Channel': channel },
  });
  assert.deepEqual(ids(data), [hat.id, shirt.id, shorts.id]);
});

await step('shopper catalog: related products', async () => {
  const { data } = await EP.ShopperCatalog.Products.GetRelatedProducts({
    productId: shirt.id,
    customRelationshipSlug: slug,
    additionalHeaders: { 'EP-Channel': channel },
  });
  assert.deepEqual(ids(data), [scarf.id]);
});

// --- summary --------------------------------------------------------------------------------------------

const tokenRequests = requests.filter((r) => r.path === '/oauth/access_token').length;
assert.equal(tokenRequests, 1, 'the SDK asked for more than one token');
assert.ok(requests.every((r) => r.status < 400), 'a request failed and was retried');

console.log(
  JSON.stringify({
    ok: true,
    sdk_version: EP.config.sdk.version,
    token_expires_in: token.expires_in,
    steps,
    catalog_id: catalogId,
    release_id: release.id,
    node_products: summerProducts.map((d) => ({
      sku: d.attributes.sku,
      curated: d.attributes.curated_product === true,
      bread_crumbs: d.meta.bread_crumbs[summer.id],
    })),
    token_requests: tokenRequests,
    requests: requests.map((r) => `${r.method} ${r.path} ${r.status}`),
  }),
);
