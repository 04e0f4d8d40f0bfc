/* global document, window, fetch, sessionStorage, location, history, setTimeout, Blob, URLSearchParams */
// The crm-sync dashboard: plain JS over the JSON API, refreshed every few seconds. Values from the
// CRM are only ever set as text, never as HTML.

const REFRESH_MS = 3000;
const SVG = 'http://www.w3.org/2000/svg';
const number = new Intl.NumberFormat('en-US');

// A token given as #token=... is kept for this tab only, and removed from the address bar.
const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
if (fromHash) {
  sessionStorage.setItem('crm-sync-token', fromHash);
  history.replaceState(null, '', location.pathname);
}

async function api(path, init = {}) {
  const token = sessionStorage.getItem('crm-sync-token');
  const headers = { accept: 'application/json', ...(init.headers || {}) };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(path, { ...init, headers });
  if (response.status === 401) {
    document.getElementById('token-panel').hidden = false;
    throw new Error('token required');
  }
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response;
}
const getJson = async (path) => (await api(path)).json();

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === 'class') node.className = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child instanceof window.Node ? child : document.createTextNode(String(child)));
  return node;
}

const time = (iso) => (iso ? new Date(iso).toLocaleTimeString() : '–');
const value = (v) => (v === null || v === undefined ? '∅' : typeof v === 'string' ? `"${v.length > 40 ? `${v.slice(0, 39)}…` : v}"` : String(v));
const shortId = (id) => (id && id.length > 12 ? `…${id.slice(-8)}` : id || '–');

function requestsFact(requests) {
  if (!requests) return '–';
  const count = requests.budget === null ? requests.used.toLocaleString() : `${requests.used.toLocaleString()} of ${requests.budget.toLocaleString()}`;
  if (requests.state === 'spent') return `${count}: budget spent, waiting until ${time(requests.roomAt)}`;
  return requests.state === 'slowed' ? `${count}: cycles slowed down` : count;
}

function renderRunner(status) {
  const r = status.runner;
  const mode = document.getElementById('mode');
  mode.hidden = !r.demo;
  mode.textContent = 'demo';
  const facts = [
    ['CRM', `${r.crm.kind} ${r.crm.url}`],
    ['Store', r.store.description],
    ['Interval', `${Math.round(r.intervalMs / 1000)} s`],
    ['Last cycle', status.lastCycle ? `${time(status.lastCycle.finishedAt)} (${outcome(status.lastCycle)}, ${(status.lastCycle.durationMs / 1000).toFixed(1)} s)` : 'none yet'],
    ['Next cycle', r.cycleInProgress ? 'running now' : r.nextCycleAt ? time(r.nextCycleAt) : '–'],
    // The daily request budget: the count, and what it does to the schedule when it does something.
    ['Requests 24 h', requestsFact(status.requests)],
  ];
  const p = status.parallelism;
  if (p && p.recommended !== null) facts.push(['Parallel', `${p.concurrency ?? '?'} of ${p.recommended}${p.runnersSharingOrg > 1 ? ` (${p.runnersSharingOrg} runners)` : ''}`]);
  // Each label and its value in one group that wraps as a whole, never between them or inside the value.
  document.getElementById('runner').replaceChildren(...facts.map(([k, v]) => el('div', { class: 'fact' }, el('dt', {}, k), el('dd', {}, v))));
}

function renderEntities(status, errorsByEntity) {
  const rows = status.entities.map((e) => {
    const run = e.lastRun;
    const errors = e.stats.quarantined + (errorsByEntity.get(e.entity) || 0);
    const state = run ? run.status : 'waiting';
    return el(
      'tr',
      { 'data-entity': e.entity },
      el('td', { class: 'entity' }, e.entity, e.custom ? el('span', { class: 'tag' }, 'custom') : ''),
      el('td', {}, e.direction === 'both' ? '⇄ both ways' : '← from CRM'),
      el('td', {}, el('span', { class: `status ${state}`, 'data-field': 'status' }, run ? `${state} · ${time(run.finishedAt)}` : 'not run yet')),
      el('td', { class: 'num', 'data-field': 'pulled' }, number.format(run ? run.pulled : 0)),
      el('td', { class: 'num', 'data-field': 'pushed' }, number.format(run ? run.pushed + run.created : 0)),
      el('td', { class: 'num', 'data-field': 'records' }, number.format(e.stats.records)),
      el(
        'td',
        { class: 'num', 'data-field': 'filtered', title: run ? `${number.format(run.filtered)} in the last cycle` : 'not run yet' },
        e.filteredSinceStart === null ? '–' : number.format(e.filteredSinceStart),
      ),
      el('td', { class: 'num', 'data-field': 'pending' }, number.format(e.stats.pending)),
      el('td', { class: `num ${errors > 0 ? 'bad' : ''}`, 'data-field': 'errors' }, number.format(errors)),
    );
  });
  document.querySelector('#entities tbody').replaceChildren(...rows);
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  node.append(...children);
  return node;
}

/** A cycle's outcome in words: an interrupted cycle (a graceful stop) is not a failed one. */
const outcome = (cycle) => (cycle.ok ? 'ok' : cycle.interrupted ? 'interrupted' : 'not ok');

function renderChart(cycles) {
  const box = document.getElementById('chart');
  const shown = cycles.slice(-60);
  const width = 900;
  const height = 180;
  const pad = { left: 44, right: 8, top: 8, bottom: 22 };
  const totals = shown.map((c) => ({
    pulled: c.entities.reduce((n, e) => n + e.pulled, 0),
    pushed: c.entities.reduce((n, e) => n + e.pushed + e.created, 0),
    ok: c.ok,
    state: outcome(c),
    at: c.finishedAt,
    ms: c.durationMs,
  }));
  const max = Math.max(10, ...totals.map((t) => t.pulled + t.pushed));
  const scale = (n) => (Math.log10(1 + n) / Math.log10(1 + max)) * (height - pad.top - pad.bottom);
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'records per cycle', id: 'history-chart' });
  for (const tick of [1, 10, 100, 1000, 10000, 100000, 1000000].filter((t) => t <= max)) {
    const y = height - pad.bottom - scale(tick);
    chart.append(
      svg('line', { x1: pad.left, x2: width - pad.right, y1: y, y2: y, class: 'grid' }),
      svg('text', { x: pad.left - 6, y: y + 4, class: 'axis', 'text-anchor': 'end' }, number.format(tick)),
    );
  }
  // Bars keep a readable width and fill the chart from the left as cycles come.
  const slot = Math.min(36, (width - pad.left - pad.right) / Math.max(shown.length, 1));
  const bar = Math.max(2, Math.min(28, slot * 0.7));
  totals.forEach((t, i) => {
    const x = pad.left + i * slot + (slot - bar) / 2;
    const pulledH = scale(t.pulled);
    const bothH = scale(t.pulled + t.pushed);
    const mark = t.ok ? '' : t.state === 'interrupted' ? 'interrupted' : 'failed';
    const g = svg('g', { class: `cycle${mark ? ` ${mark}` : ''}`, 'data-cycle': i });
    g.append(
      svg('title', {}, `${time(t.at)}: ${number.format(t.pulled)} pulled, ${number.format(t.pushed)} pushed, ${(t.ms / 1000).toFixed(1)} s${t.ok ? '' : `, ${t.state}`}`),
      svg('rect', { x, width: bar, y: height - pad.bottom - pulledH, height: Math.max(pulledH, 1), class: mark || 'pulled' }),
      svg('rect', { x, width: bar, y: height - pad.bottom - bothH, height: Math.max(bothH - pulledH, 0), class: 'pushed' }),
    );
    chart.append(g);
  });
  if (totals.length > 0) {
    chart.append(svg('text', { x: pad.left, y: height - 6, class: 'axis' }, time(totals[0].at)));
    if (totals.length >= 4) chart.append(svg('text', { x: pad.left + totals.length * slot, y: height - 6, class: 'axis', 'text-anchor': 'end' }, time(totals[totals.length - 1].at)));
  } else {
    chart.append(svg('text', { x: width / 2, y: height / 2, class: 'axis', 'text-anchor': 'middle' }, 'The first cycle is on its way…'));
  }
  box.replaceChildren(chart);
}

const ACTIVITY_TEXT = {
  'change-data-value': 'Change Data Value',
  'new-person': 'New person',
  'crm-deleted': 'Deleted in CRM',
  'local-deleted': 'Deleted locally',
  'crm-created': 'Created in CRM',
  'sync-failed': 'Sync failed',
  collision: 'Collision',
  'quick-sync': 'Quick Sync',
  'schema-drift': 'CRM schema changed',
  replay: 'Replay',
};

/** A record id that opens the record view (and, given a field, that field's history). */
function recordLink(entity, id, field) {
  if (!id || id === '*') return shortId(id);
  const attrs = { type: 'button', class: 'link record', 'data-entity': entity, 'data-id': id, title: 'Open the record and its field history' };
  if (field) attrs['data-field'] = field;
  return el('button', attrs, shortId(id));
}

function renderFeed(id, items, line, empty) {
  const list = document.getElementById(id);
  list.replaceChildren(...(items.length ? items.map((item) => el('li', {}, ...line(item))) : [el('li', { class: 'muted' }, empty)]));
}

function renderActivities(items) {
  renderFeed(
    'activities',
    items,
    (a) => [
      el('span', { class: 'when' }, time(a.at)),
      el('span', { class: `source ${a.source}` }, a.source),
      el('strong', {}, ACTIVITY_TEXT[a.type] || a.type),
      ` ${a.entity} `,
      recordLink(a.entity, a.recordId, a.field),
      a.field ? el('span', { class: 'change' }, ` ${a.field}: ${value(a.oldValue)} → ${value(a.newValue)}`) : '',
      a.detail ? el('span', { class: 'muted' }, ` ${a.detail}`) : '',
    ],
    'No activity yet.',
  );
}

function renderCollisions(items) {
  renderFeed(
    'collisions',
    items,
    (c) => [
      el('span', { class: 'when' }, time(c.at)),
      el('strong', {}, `${c.entity}.${c.field}`),
      ' ',
      recordLink(c.entity, c.recordId, c.field),
      `: local ${value(c.localValue)} vs CRM ${value(c.crmValue)} `,
      el('span', { class: `winner ${c.winner}` }, `${c.winner} wins`),
    ],
    'No collisions.',
  );
}

function renderErrors(items) {
  renderFeed(
    'errors',
    items,
    (e) => [
      el('span', { class: 'when' }, time(e.at)),
      el('strong', {}, `${e.entity} ${e.type}`),
      ` ${shortId(e.recordId)}: `,
      el('span', { class: 'bad' }, e.message),
      // A quarantined record or refused push can be retried once its cause is fixed.
      e.seq === null ? '' : el('button', { type: 'button', class: 'link replay', 'data-seq': String(e.seq), title: 'Retry it now' }, 'Replay'),
    ],
    'No sync errors.',
  );
}

async function refresh() {
  const connection = document.getElementById('connection');
  try {
    const [status, cycles, activities, collisions, errors] = await Promise.all([
      getJson('/api/v1/status'),
      getJson('/api/v1/cycles'),
      getJson('/api/v1/activities?latest=true&limit=12'),
      getJson('/api/v1/collisions?latest=true&limit=8'),
      getJson('/api/v1/errors?limit=8'),
    ]);
    const failedRuns = new Map();
    for (const e of errors.items) if (e.type === 'entity') failedRuns.set(e.entity, (failedRuns.get(e.entity) || 0) + 1);
    renderRunner(status);
    renderEntities(status, failedRuns);
    renderChart(cycles.items);
    renderActivities(activities.items);
    renderCollisions(collisions.items);
    renderErrors(errors.items);
    connection.textContent = status.runner.cycleInProgress ? 'syncing…' : 'live';
    connection.className = `badge ${status.runner.cycleInProgress ? 'busy' : 'ok'}`;
    document.getElementById('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
    document.body.dataset.loaded = 'true';
  } catch (error) {
    connection.textContent = `offline (${error.message})`;
    connection.className = 'badge bad';
  }
}

async function loop() {
  await refresh();
  setTimeout(loop, REFRESH_MS);
}

document.getElementById('run-cycle').addEventListener('click', async (event) => {
  const button = event.currentTarget;
  button.disabled = true;
  try {
    await api('/api/v1/cycles', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ wait: true }) });
  } finally {
    button.disabled = false;
    await refresh();
  }
});

function renderPlan(plan) {
  const rows = plan.entities.map((e) => {
    const changeDataValues = e.fanOuts.items.reduce((n, f) => n + f.changeDataValues, 0);
    const cells = [e.created.total, e.updated.total, e.pushes.total, e.collisions.total, e.deletes.total];
    return el(
      'tr',
      { 'data-entity': e.entity },
      el('td', {}, e.entity),
      el('td', { class: e.summary.status === 'ok' ? '' : 'bad' }, e.summary.error ? `${e.summary.status}: ${e.summary.error.code}` : e.summary.status),
      ...cells.map((n) => el('td', { class: 'num' }, number.format(n))),
      el('td', { class: 'num' }, `${number.format(e.fanOuts.total)} (${number.format(changeDataValues)})`),
      el('td', { class: 'num', title: e.skippedFields.map((f) => `${f.field}: ${f.reason}`).join('\n') }, number.format(e.skippedFields.length)),
      el('td', { class: 'num' }, `${number.format(e.crmRequests.reads)} / ${number.format(e.crmRequests.writes)}`),
    );
  });
  document.querySelector('#plan tbody').replaceChildren(...rows);
  const details = [];
  for (const e of plan.entities) {
    for (const p of e.pushes.items) details.push([el('strong', {}, `${p.kind} in the CRM`), ` ${e.entity} ${shortId(p.id)}: ${Object.keys(p.fields).join(', ')}`]);
    for (const c of e.collisions.items) {
      details.push([el('strong', {}, `${e.entity}.${c.field}`), ` ${shortId(c.recordId)}: local ${value(c.localValue)} vs CRM ${value(c.crmValue)} `, el('span', { class: `winner ${c.winner}` }, `${c.winner} wins`)]);
    }
    for (const d of e.deletes.items) details.push([el('strong', {}, 'flag deleted'), ` ${e.entity} ${shortId(d.id)}`]);
  }
  renderFeed('plan-details', details, (line) => line, 'Nothing to push, no collisions, no deletes.');
  document.getElementById('plan-note').textContent = `${time(plan.finishedAt)}: nothing was written to the store or the CRM`;
  document.getElementById('plan-panel').hidden = false;
}

document.getElementById('dry-run').addEventListener('click', async (event) => {
  const button = event.currentTarget;
  button.disabled = true;
  try {
    const response = await api('/api/v1/cycles', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ dryRun: true }) });
    renderPlan(await response.json());
  } catch (error) {
    document.getElementById('plan-note').textContent = `failed: ${error.message}`;
    document.getElementById('plan-panel').hidden = false;
  } finally {
    button.disabled = false;
  }
});

document.getElementById('plan-close').addEventListener('click', () => {
  document.getElementById('plan-panel').hidden = true;
});

/** Retries quarantine entries and says what became of them. */
async function replay(filter) {
  const result = document.getElementById('replay-result');
  try {
    const response = await api('/api/v1/quarantine/replay', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(filter) });
    const report = await response.json();
    const open = report.entries.filter((e) => e.outcome !== 'applied').map((e) => `${e.entity} ${shortId(e.recordId)}: ${e.reason}`);
    result.textContent = `Replayed ${report.matched}: ${report.applied} applied, ${report.failed} still failing, ${report.skipped} skipped.${open.length ? ` ${open.join('; ')}` : ''}`;
  } catch (error) {
    result.textContent = `Replay failed: ${error.message}`;
  }
  result.hidden = false;
  await refresh();
}

document.getElementById('errors').addEventListener('click', async (event) => {
  const button = event.target.closest('button.replay');
  if (!button) return;
  button.disabled = true;
  await replay({ ids: [Number(button.dataset.seq)] });
});

document.getElementById('replay-all').addEventListener('click', async (event) => {
  const button = event.currentTarget;
  button.disabled = true;
  try {
    await replay({ until: new Date().toISOString() });
  } finally {
    button.disabled = false;
  }
});

document.getElementById('errors-csv').addEventListener('click', async () => {
  const blob = new Blob([await (await api('/api/v1/errors?format=csv')).text()], { type: 'text/csv' });
  const link = el('a', { href: window.URL.createObjectURL(blob), download: 'sync-errors.csv' });
  link.click();
});

const RULE_TEXT = {
  create: 'created', pull: 'pull', push: 'push', collision: 'collision', 'fan-out': 'account fan-out', 'quick-sync': 'Quick Sync',
  'local-edit': 'local edit', 'account-link': 'account link', 'sync-filter': 'sync filter',
};

/** The record view: its fields (and the account fields it shows), each with a link to its history. */
async function openRecord(entity, id, field) {
  const { record } = await getJson(`/api/v1/entities/${encodeURIComponent(entity)}/records/${encodeURIComponent(id)}?activities=0`);
  const names = [...Object.keys(record.fields).sort(), ...Object.keys(record.company).sort().map((k) => `company.${k}`)];
  const held = (name) => (name.startsWith('company.') ? record.company[name.slice(8)] : record.fields[name]);
  document.getElementById('record-title').textContent = `${entity} ${id}`;
  document.querySelector('#record-fields tbody').replaceChildren(
    ...names.map((name) =>
      el('tr', { 'data-field': name }, el('td', {}, name), el('td', {}, value(held(name))), el('td', {}, el('button', { type: 'button', class: 'link history', 'data-field': name }, 'history'))),
    ),
  );
  const panel = document.getElementById('record-panel');
  panel.dataset.entity = entity;
  panel.dataset.id = id;
  panel.hidden = false;
  document.getElementById('history-title').hidden = true;
  document.getElementById('field-history').hidden = true;
  if (field) await showHistory(entity, id, field);
  panel.scrollIntoView();
}

/** Why a field holds its value: every step, oldest first. */
async function showHistory(entity, id, field) {
  const path = `/api/v1/entities/${encodeURIComponent(entity)}/records/${encodeURIComponent(id)}/fields/${encodeURIComponent(field)}/history`;
  const steps = [];
  let next = null;
  do {
    const page = await getJson(`${path}?limit=1000${next === null ? '' : `&after=${next}`}`);
    steps.push(...page.steps);
    next = page.next;
  } while (next !== null);
  const title = document.getElementById('history-title');
  title.textContent = `History of ${field}`;
  title.hidden = false;
  const rows = steps.map((s) =>
    el(
      'tr',
      { 'data-rule': s.rule },
      el('td', {}, s.at ? new Date(s.at).toLocaleString() : 'before history'),
      el('td', {}, RULE_TEXT[s.rule] || s.rule),
      el('td', { class: `source ${s.side}` }, s.side === 'crm' ? 'CRM' : 'local'),
      el('td', {}, value(s.value)),
      el('td', { class: 'muted' }, s.collision ? `local ${value(s.collision.localValue)} vs CRM ${value(s.collision.crmValue)}: ${s.collision.winner === 'crm' ? 'CRM' : 'local'} won` : s.detail || ''),
    ),
  );
  const table = document.getElementById('field-history');
  table.querySelector('tbody').replaceChildren(...rows);
  table.hidden = false;
}

document.addEventListener('click', async (event) => {
  const link = event.target.closest('button.record');
  if (link) {
    await openRecord(link.dataset.entity, link.dataset.id, link.dataset.field).catch((error) => {
      document.getElementById('record-title').textContent = `failed: ${error.message}`;
      document.getElementById('record-panel').hidden = false;
    });
    return;
  }
  const history = event.target.closest('#record-fields button.history');
  if (history) {
    const panel = document.getElementById('record-panel');
    await showHistory(panel.dataset.entity, panel.dataset.id, history.dataset.field).catch((error) => {
      document.getElementById('history-title').textContent = `failed: ${error.message}`;
      document.getElementById('history-title').hidden = false;
    });
  }
});

document.getElementById('record-close').addEventListener('click', () => {
  document.getElementById('record-panel').hidden = true;
});

document.getElementById('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  sessionStorage.setItem('crm-sync-token', document.getElementById('token-input').value.trim());
  document.getElementById('token-panel').hidden = true;
  refresh();
});

loop();
