// End-to-end test of the ocppd portal in real headless Chromium, driven by
// playwright-core. The Go test cmd/ocppd/portal_test.go starts ocppd with
// simulated stations and runs this script; the two talk in JSON lines:
//
//   script → stdout: {"step": NAME, "ok": true|false, "detail": …}
//                    {"need": WHAT}           (asks the Go side to act)
//   Go     → stdin:  {"done": WHAT}           (the action happened)
//
// Environment: PORTAL_URL (http://127.0.0.1:PORT), PORTAL_TOKEN,
// PORTAL_STATION (the station the Go side brings online on request),
// PORTAL_ARTIFACTS (screenshot directory), CHROMIUM (browser binary).

import {chromium} from 'playwright-core';
import {mkdtemp, rm, mkdir} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {createInterface} from 'node:readline';

const url = process.env.PORTAL_URL;
const token = process.env.PORTAL_TOKEN;
const station = process.env.PORTAL_STATION || 'CP-LIVE';
const artifacts = process.env.PORTAL_ARTIFACTS || 'test-artifacts/portal';
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const T = 20000; // bound on each wait; not a performance assertion

const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const lines = createInterface({input: process.stdin});
const pending = [];
const queued = [];
lines.on('line', (l) => {
  let m;
  try { m = JSON.parse(l); } catch { return; }
  const w = pending.shift();
  if (w) w(m); else queued.push(m);
});
// need asks the Go side to do something and waits until it is done.
async function need(what, extra = {}) {
  out({need: what, ...extra});
  const m = queued.length ? queued.shift() : await new Promise((r) => pending.push(r));
  if (m.done !== what) throw new Error(`expected done ${what}, got ${JSON.stringify(m)}`);
  return m;
}

let failures = 0;
async function step(name, fn) {
  current = name;
  try {
    const detail = await fn();
    out({step: name, ok: true, detail: detail ?? null});
  } catch (e) {
    failures++;
    out({step: name, ok: false, detail: String(e && e.stack || e)});
    await shot(`FAILED-${name}`).catch(() => {});
  }
}

await mkdir(artifacts, {recursive: true});
const profile = await mkdtemp(join(tmpdir(), 'ocppd-portal-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  viewport: {width: 1400, height: 900},
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = context.pages()[0] || await context.newPage();
page.setDefaultTimeout(T);
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(String(e)));
// Failed requests are reported by URL below; the console line the browser
// logs for each adds nothing.
page.on('console', (m) => { if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) pageErrors.push('console: ' + m.text()); });
let current = '';
page.on('response', (r) => {
  // 501: this process lacks the feature; the page says so (checked by
  // the page steps' "unavailable" results).
  // 409 on a shadow update: the station's reports moved the version; the
  // portal re-reads and sends again (the step checks the outcome).
  if (r.status() < 400 || r.status() === 501 || (current === 'login-refuses-bad-token' && r.status() === 401)) return;
  if (r.status() === 409 && r.request().method() === 'PATCH' && r.url().endsWith('/shadow')) return;
  pageErrors.push(`${r.request().method()} ${r.url()}: HTTP ${r.status()} during ${current}`);
});
const shot = (name) => page.screenshot({path: join(artifacts, `${name}.png`), fullPage: true});

try {
  await step('login-refuses-bad-token', async () => {
    await page.goto(url + '/');
    await page.getByTestId('login-form').waitFor();
    await page.getByTestId('token').fill('ocppd_not-a-valid-token');
    await page.getByTestId('login').click();
    await page.locator('.login .error').waitFor();
    return await page.locator('.login .error').textContent();
  });

  await step('login', async () => {
    await shot('01-login');
    await page.getByTestId('token').fill(token);
    await page.getByTestId('login').click();
    await page.getByTestId('fleet-table').waitFor();
    await page.locator(`tr[data-cp="${station}"]`).waitFor();
    await page.locator('[data-testid="stream-state"].live').waitFor();
    return page.url();
  });

  await step('station-comes-online-live', async () => {
    const row = page.locator(`tr[data-cp="${station}"]`);
    if (await row.getAttribute('data-online') !== 'false') throw new Error(`${station} is online before it connected`);
    const offlineBefore = await page.getByTestId('count-online').locator('.card-n').textContent();
    await shot('02-fleet-before');
    // A marker that a reload would wipe.
    await page.evaluate(() => { window.__noReload = true; });
    await need('connect');
    await page.locator(`tr[data-cp="${station}"][data-online="true"]`).waitFor();
    if (!await page.evaluate(() => window.__noReload === true)) throw new Error('the page reloaded');
    await page.waitForFunction((before) => document.querySelector('[data-testid="count-online"] .card-n').textContent !== before, offlineBefore);
    // A connector fault shows in the counts and the station's row.
    const faulted = process.env.PORTAL_FAULTED || 'CP-A';
    await need('fault', {station: faulted});
    await page.locator(`tr[data-cp="${faulted}"] .badge.bad`, {hasText: 'Faulted'}).first().waitFor();
    await page.waitForFunction(() => document.querySelector('[data-testid="count-faulted"] .card-n').textContent === '1');
    // The search narrows the table.
    await page.getByTestId('fleet-search').fill(station);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="fleet-table"] tbody tr[data-cp]').length === 1);
    await shot('03-fleet-online');
    await page.getByTestId('fleet-search').fill('');
    return {onlineBefore: offlineBefore, onlineAfter: await page.getByTestId('count-online').locator('.card-n').textContent()};
  });

  await step('reset-shows-result', async () => {
    await page.locator(`tr[data-cp="${station}"] a`).first().click();
    await page.getByTestId('station-id').waitFor();
    await page.locator('[data-testid="station-online"] .badge.ok').waitFor();
    await page.getByTestId('send-reset').click();
    const result = page.getByTestId('result-reset');
    await result.locator('[data-state="answered"]').waitFor();
    const status = await result.locator('[data-state]').getAttribute('data-status');
    if (status !== 'Accepted') throw new Error(`reset answered ${status}`);
    await page.locator('[data-testid="command-history"] td', {hasText: 'Reset'}).first().waitFor();
    await shot('04-station-reset');
    return status;
  });

  await step('message-log-shows-reset', async () => {
    await page.locator('a[data-tab="messages"]').click();
    await page.locator('[data-testid="message-log"] tr[data-action="Reset"]').first().waitFor();
    const n = await page.locator('[data-testid="message-log"] tr[data-action="Reset"]').count();
    if (n < 2) throw new Error(`${n} Reset frames in the log, want the CALL and its CALLRESULT`);
    await shot('05-station-messages');
    return n;
  });

  await step('desired-configuration-applied', async () => {
    await page.locator('a[data-tab="shadow"]').click();
    await page.getByTestId('desired-form').waitFor();
    const want = JSON.parse(process.env.PORTAL_DESIRED || '{"configuration":{"HeartbeatInterval":"120"}}');
    await page.getByTestId('desired-editor').fill(JSON.stringify(want, null, 2));
    await page.getByTestId('desired-save').click();
    await page.locator('[data-testid="desired-result"] .ok-text').waitFor();
    const desired = JSON.parse(await page.getByTestId('shadow-desired').textContent());
    if (JSON.stringify(desired) !== JSON.stringify(want)) throw new Error(`desired shows ${JSON.stringify(desired)}`);
    await shot('06-shadow-saved');
    const m = await need('desired-saved');
    // Applied: the station reported the values, so the delta is empty
    // and reported holds them — without a reload.
    if (m.expectApplied) {
      await page.waitForFunction(() => document.querySelector('[data-testid="shadow-delta"]').textContent.includes('in sync'), null, {timeout: 30000});
      await shot('07-shadow-applied');
      return {applied: true, reported: JSON.parse(await page.getByTestId('shadow-reported').textContent())};
    }
    return {applied: false};
  });

  await step('meter-chart-drawn', async () => {
    // The station charges for a few seconds, sending meter values.
    await need('charge');
    await page.locator('a[data-tab="meter"]').click();
    if (await page.getByTestId('unavailable').count()) { await shot('08-meter-unavailable'); return 'unavailable'; }
    await page.locator('[data-testid="meter-chart"][data-drawn="true"]').waitFor();
    await page.locator('a[data-tab="transactions"]').click();
    await page.locator('[data-testid="station-transactions"] td', {hasText: 'SIMTAG01'}).first().waitFor();
    await shot('08b-station-transactions');
    await page.locator('a[data-tab="meter"]').click();
    await page.locator('[data-testid="meter-chart"][data-drawn="true"]').waitFor();
    await shot('08-meter-chart');
    return 'drawn';
  });

  await step('health-chart-drawn', async () => {
    await page.locator('a[data-nav="health"]').click();
    await page.locator('[data-testid="chart-connections"][data-drawn="true"]').waitFor();
    await page.locator('[data-testid="chart-messages"][data-drawn="true"]').waitFor();
    // The canvas holds drawn pixels, not just an empty frame.
    const painted = await page.locator('[data-testid="chart-messages"] canvas').evaluate((c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) n++;
      return n;
    });
    if (painted < 100) throw new Error(`the chart canvas has only ${painted} painted pixels`);
    await page.waitForTimeout(2500); // one more sample, for a line rather than a dot in the screenshot
    await shot('09-health');
    return {painted};
  });

  await step('rule-created-toggled-rows', async () => {
    await page.locator('a[data-nav="rules"]').click();
    const form = page.getByTestId('rule-form');
    await form.waitFor();
    // The seed's rule, verbatim (prefilled), into the table
    // chargePointHeartbeat keyed by chargePointId.
    await form.locator('input[name="name"]').fill('heartbeats');
    await form.locator('button[type="submit"]').click();
    const row = page.locator('tr[data-rule="heartbeats"]');
    await row.waitFor();
    const box = row.locator('input[type="checkbox"]');
    if (!await box.isChecked()) throw new Error('the new rule is not enabled');
    await box.uncheck();
    await page.locator('tr[data-rule="heartbeats"] td', {hasText: 'disabled'}).waitFor();
    await page.locator('tr[data-rule="heartbeats"] input[type="checkbox"]').check();
    await page.locator('tr[data-rule="heartbeats"] td', {hasText: 'enabled'}).waitFor();
    // Heartbeats fill the table; open it and see a station's row.
    const table = page.locator('details[data-table="chargePointHeartbeat"]');
    await table.waitFor({timeout: 30000});
    await table.locator('summary').click();
    await table.locator('td', {hasText: /^CP-/}).first().waitFor();
    await shot('12-rules');
    return await table.locator('tbody tr').count();
  });

  await step('firmware-rollout', async () => {
    await page.locator('a[data-nav="firmware"]').click();
    await page.locator('.page h1').waitFor();
    await page.waitForLoadState('networkidle').catch(() => {});
    if (await page.getByTestId('unavailable').count()) { await shot('13-firmware'); return 'unavailable'; }
    const name = 'fw-e2e-2.0.bin';
    await page.getByTestId('firmware-file').setInputFiles({name, mimeType: 'application/octet-stream', buffer: Buffer.from('FIRMWARE 2.0 ' + 'x'.repeat(8192))});
    await page.getByTestId('firmware-upload').locator('button[type="submit"]').click();
    const row = page.locator(`tr[data-firmware="${name}"]`);
    await row.waitFor();
    await row.locator('input[name="stations"]').fill(station);
    await row.getByTestId('rollout-start').click();
    // The station downloads the image from ocppd and walks through the
    // firmware statuses up to Installed.
    await page.locator(`[data-rollout][data-done="true"] tr[data-cp="${station}"] .badge`, {hasText: 'installed'}).first().waitFor({timeout: 60000});
    await shot('13-firmware');
    return 'installed';
  });

  for (const [nav, file] of [['transactions', '10-transactions'], ['idtokens', '11-idtokens'], ['analytics', '14-analytics']]) {
    await step(`page-${nav}`, async () => {
      await page.locator(`a[data-nav="${nav}"]`).click();
      await page.locator('.page h1, .page .panel').first().waitFor();
      await page.waitForLoadState('networkidle').catch(() => {});
      await page.waitForTimeout(500);
      await shot(file);
      return (await page.getByTestId('unavailable').count()) ? 'unavailable' : 'available';
    });
  }

  await step('no-page-errors', async () => {
    if (pageErrors.length) throw new Error(pageErrors.join('\n'));
  });
} finally {
  await context.close();
  await rm(profile, {recursive: true, force: true});
  lines.close();
}
out({end: true, failures});
process.exit(failures ? 1 : 0);
