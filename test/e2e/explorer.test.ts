/**
 * The web explorer in a real headless Chromium (Debian's, driven by playwright-core) against the
 * cluster as processes: a typed query draws the histogram and lists the entries a native query
 * returns for the same range, an entry opens to its labels and attributes, completion offers label
 * names, a shared URL opens its view, a live tail shows a line pushed after it started, a bad
 * query has its error position marked, and the cluster page lists the nodes. Screenshots of the
 * main views go to test-output/explorer/ (not committed).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { SiltClient } from '../../client/src';
import type { ServiceProcess } from '../support/processes';
import { StorageCluster } from '../support/storage-cluster';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { buildExplorer } = require('../../query/web/build.js') as { buildExplorer(dir: string): Promise<void> };

const SHOTS = path.resolve(__dirname, '../../test-output/explorer');
const ENTRIES = 60;

describe('explorer > in headless Chromium', () => {
  let webDir: string;
  let cluster: StorageCluster;
  let ingest: ServiceProcess;
  let query: ServiceProcess;
  let browser: Browser;
  let page: Page;
  let client: SiltClient;

  const shot = (name: string): Promise<Buffer> => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  const lines = (selector = '[data-testid=entries] .line'): Promise<string[]> => page.locator(selector).allTextContents();

  beforeAll(async () => {
    webDir = fs.mkdtempSync(path.join(os.tmpdir(), 'silt-web-'));
    fs.mkdirSync(SHOTS, { recursive: true });
    await buildExplorer(webDir);
    cluster = new StorageCluster(2);
    await cluster.startNode('n0', 0);
    [ingest, query] = await Promise.all([cluster.startIngest(), cluster.startQuery({ SILT_QUERY_WEB_DIR: webDir })]);
    client = new SiltClient({ url: query.url, ingestUrl: ingest.url });
    const now = BigInt(Date.now()) * 1_000_000n;
    const minute = 60_000_000_000n;
    await client.push([
      { labels: { app: 'web', env: 'prod' }, entries: Array.from({ length: ENTRIES }, (_, i) => ({ ts: now - BigInt(ENTRIES - i) * (minute / 2n), line: `GET /page/${i} 200 line ${i}`, attrs: { trace_id: `t${i}` } })) },
      { labels: { app: 'worker' }, entries: [{ ts: now - minute, line: 'job done' }] },
    ]);
    browser = await chromium.launch({ executablePath: process.env.SILT_CHROMIUM ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  }, 180000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all([ingest?.stop(), query?.stop()]);
    await cluster?.close();
    fs.rmSync(webDir, { recursive: true, force: true });
  });

  it('a typed query shows the histogram and the entries a native query returns; an entry opens to its attrs', async () => {
    await page.goto(query.url + '/');
    await page.locator('#query').fill('{app="web"}');
    await page.locator('#query').press('Enter');
    await page.locator('[data-testid=entries] .entry').first().waitFor();
    const native = await client.page('{app="web"}', { since: '1h', pageSize: 200 });
    expect(await lines()).toEqual(native.entries.map((e) => e.line));
    await page.locator('[data-testid=histogram] canvas').waitFor();
    expect(Number(await page.locator('[data-testid=histogram]').getAttribute('data-total'))).toBe(ENTRIES);
    expect(new URL(page.url()).searchParams.get('query')).toBe('{app="web"}');
    await shot('explore');
    await page.locator('[data-testid=entries] .entry-line').first().click();
    const details = page.locator('.entry-details');
    await details.waitFor();
    expect(await details.textContent()).toContain('trace_id');
    expect(await details.textContent()).toContain(`t${ENTRIES - 1}`);
    expect(await details.textContent()).toContain('prod');
    await shot('entry');
  });

  it('a drag over the histogram zooms into that range, in the URL too', async () => {
    const over = page.locator('[data-testid=histogram] .u-over');
    const box = (await over.boundingBox())!;
    const before = await lines();
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.75, box.y + box.height / 2, { steps: 8 });
    await page.mouse.up();
    await page.waitForURL((u) => /^\d+$/.test(u.searchParams.get('from') ?? ''));
    const url = new URL(page.url());
    const from = BigInt(url.searchParams.get('from')!);
    const to = BigInt(url.searchParams.get('to')!);
    expect(to > from).toBe(true);
    // Functions run in the page: written as text, since the tests compile without the DOM's types.
    await page.waitForFunction(`document.querySelectorAll('[data-testid=entries] .entry').length < ${before.length}`);
    const native = await client.page('{app="web"}', { start: from, end: to, pageSize: 200 });
    expect(native.entries.length).toBeGreaterThan(0);
    expect(await lines()).toEqual(native.entries.map((e) => e.line));
    await shot('zoomed');
  });

  it('completes label names inside the braces', async () => {
    await page.locator('#query').fill('');
    await page.locator('#query').pressSequentially('{ap');
    const option = page.locator('.completions li', { hasText: 'app' });
    await option.waitFor();
    await page.locator('#query').press('Tab');
    expect(await page.locator('#query').inputValue()).toBe('{app="');
  });

  it('a shared URL opens its query and range', async () => {
    const shared = `${query.url}/?query=${encodeURIComponent('{app="web"} |= "line 7"')}&from=now-1h&to=now`;
    await page.goto(shared);
    await page.locator('[data-testid=entries] .entry').first().waitFor();
    const shown = await lines();
    expect(shown.length).toBeGreaterThan(0);
    for (const l of shown) expect(l).toContain('line 7');
    expect(await page.locator('#query').inputValue()).toBe('{app="web"} |= "line 7"');
    expect(await page.locator('#from').inputValue()).toBe('now-1h');
  });

  it('a bad query has its error position marked', async () => {
    await page.locator('#query').fill('{app="web" |= "x"');
    await page.locator('#query').press('Enter');
    const err = page.locator('.query-error');
    await err.waitFor();
    expect(await err.textContent()).toContain('SILT_BAD_QUERY');
    expect(await page.locator('mark.error-at').count()).toBe(1);
    await shot('error');
  });

  it('a live tail shows a line pushed after it started, with a rate counter', async () => {
    await page.goto(`${query.url}/?query=${encodeURIComponent('{app="live"}')}&from=now-5m&to=now`);
    await page.getByRole('button', { name: 'Live' }).click();
    await page.locator('[data-testid=tail-rate]').waitFor();
    // The tail opens at the end of the topic: push until a line shows (the first may precede the open).
    let shown: string[] = [];
    for (let i = 0; i < 40 && shown.length === 0; i++) {
      await client.push([{ labels: { app: 'live' }, entries: [{ line: `live line ${i}` }] }]);
      await page.waitForTimeout(250);
      shown = await lines('[data-testid=tail-entries] .line');
    }
    expect(shown[0]).toMatch(/^live line \d+$/);
    await shot('tail');
  });

  it('a metric query is drawn as series, and the cluster page lists the nodes and partitions', async () => {
    await page.goto(`${query.url}/?query=${encodeURIComponent('sum by (app) (count_over_time({app=~"web|worker"}[5m]))')}&from=now-1h&to=now`);
    await page.locator('[data-testid=timeseries] canvas').waitFor();
    expect(await page.locator('.u-legend').textContent()).toContain('{app="web"}');
    await shot('metric');
    await page.getByRole('button', { name: 'Cluster' }).click();
    const nodes = page.locator('[data-testid=nodes]');
    await nodes.waitFor();
    expect(await nodes.textContent()).toContain('n0');
    expect(await page.locator('[data-testid=partitions] tbody tr').count()).toBe(2);
    await shot('cluster');
  });
});
