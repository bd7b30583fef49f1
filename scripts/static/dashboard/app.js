// FleetForge dashboard: renders the snapshots /api/stream sends (Server-Sent Events).
// Plain DOM, no framework and no build step; text is always set as text, never as HTML.

const SVG = 'http://www.w3.org/2000/svg';
const TIMELINE_MINUTES = 15;
const TIMELINE_ROWS = 16;
const ENDED = new Set(['Completed', 'RolledBack']);
// Not on the map: gone, or stopping after a split or merge handed their region on.
const OFF_MAP = new Set(['Terminated', 'Failed', 'Draining']);
const onMap = (c) => !OFF_MAP.has(c.state);
const PHASE_OPACITY = {
  Planned: 0.3,
  ChildrenStarting: 0.45,
  ChildrenReady: 0.6,
  HandingOff: 0.8,
  Draining: 0.95,
  RollingBack: 1,
};

const view = { snapshot: null, world: null, cell: '', correlation: '', eventWorld: '' };

/** Builds an element: `h('td', { class: 'x' }, 'text', child)`. */
function h(tag, attrs = {}, ...children) {
  const el = tag.startsWith('svg:') ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const $ = (id) => document.getElementById(id);

function table(id, head, rows, empty) {
  const t = $(id);
  t.replaceChildren(
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        head.map((c) => h('th', {}, c)),
      ),
    ),
    h('tbody', {}, rows.length > 0 ? rows : h('tr', {}, h('td', { colspan: head.length, class: 'muted' }, empty))),
  );
}

function seconds(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '-';
  return ms < 10_000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms / 1000)} s`;
}

const clock = (iso) => (iso ? new Date(iso).toISOString().slice(11, 19) : '-');

/** Load of a cell: sessions of the split threshold, or CPU of capacity, whichever is higher. */
function load(cell, spec) {
  return Math.max(cell.sessions / spec.scaling.splitSessions, cell.cpuMillis / spec.capacity.cpuMillis);
}

function loadColour(l) {
  const hue = 140 - 140 * Math.min(Math.max(l, 0), 1);
  return `hsl(${hue} 65% 42%)`;
}

/** When an operation ended (Completed or RolledBack), or null while it runs. */
function endedAt(op) {
  const t = op.steps.Completed ?? op.steps.RolledBack;
  return t ? Date.parse(t) : null;
}

function unavailable(sectionData, what) {
  return sectionData.denied ? `your token may not read ${what}` : `cannot read ${what}: ${sectionData.error}`;
}

function stopping(w) {
  const n = w.cells.filter((c) => c.state === 'Draining').length;
  return n > 0 ? ` (+${n} stopping)` : '';
}

function renderHeader(s) {
  $('api').textContent = s.api;
  $('updated').textContent = `updated ${clock(s.at)}`;
}

function renderWorldTabs(worlds) {
  const names = worlds.map((w) => w.world.name);
  if (!names.includes(view.world)) view.world = names[0] ?? null;
  $('world-tabs').replaceChildren(
    ...worlds.map((w) =>
      h(
        'button',
        {
          type: 'button',
          'aria-pressed': w.world.name === view.world,
          onclick: () => {
            view.world = w.world.name;
            render();
          },
        },
        `${w.world.name} (${w.cells.filter(onMap).length})`,
      ),
    ),
  );
  const select = $('event-filter').elements.world;
  const keep = select.value;
  select.replaceChildren(h('option', { value: '' }, 'all'), ...names.map((n) => h('option', { value: n }, n)));
  select.value = names.includes(keep) ? keep : '';
}

function renderCellMap(w) {
  const svg = $('cell-map');
  if (!w) {
    svg.replaceChildren();
    svg.removeAttribute('data-cells');
    return;
  }
  const b = w.world.spec.topology.bounds;
  const cells = w.cells.filter(onMap);
  svg.setAttribute('viewBox', `${b.x} ${b.y} ${b.width} ${b.height}`);
  svg.style.aspectRatio = `${b.width} / ${b.height}`;
  svg.dataset.cells = String(cells.length);
  const font = Math.max(b.width, b.height) / 45;
  svg.replaceChildren(
    ...cells.map((c) => {
      const r = c.boundary;
      const l = load(c, w.world.spec);
      const cls = ['cell', c.state !== 'Ready' && 'not-ready', view.cell === c.id && 'selected'].filter(Boolean);
      const small = Math.min(r.width, r.height) < font * 4;
      return h(
        'svg:g',
        { 'data-cell-id': c.id, 'data-state': c.state },
        h(
          'svg:rect',
          {
            class: cls.join(' '),
            x: r.x,
            y: r.y,
            width: r.width,
            height: r.height,
            fill: loadColour(l),
            'vector-effect': 'non-scaling-stroke',
            onclick: () => {
              view.cell = view.cell === c.id ? '' : c.id;
              $('event-filter').elements.cell.value = view.cell;
              render();
            },
          },
          h(
            'svg:title',
            {},
            `${c.id} (${c.state}, incarnation ${c.incarnation})\n${c.sessions} sessions, ${Math.round(c.cpuMillis)} mCPU, ${Math.round(c.memoryMiB)} MiB\nload ${(l * 100).toFixed(0)} %\n${r.width}×${r.height} at ${r.x},${r.y}`,
          ),
        ),
        small
          ? null
          : h(
              'svg:text',
              { x: r.x + r.width / 2, y: r.y + r.height / 2, 'text-anchor': 'middle', style: `font-size:${font}px` },
              h('svg:tspan', { x: r.x + r.width / 2 }, c.id),
              h('svg:tspan', { x: r.x + r.width / 2, dy: font * 1.2 }, `${c.sessions} sessions`),
            ),
      );
    }),
  );
}

function renderTimeline(w, now) {
  const svg = $('timeline');
  const horizon = now - TIMELINE_MINUTES * 60_000;
  const ops = (w ? w.operations : []).filter((o) => (endedAt(o) ?? now) >= horizon).slice(0, TIMELINE_ROWS);
  // The axis spans what is shown (a second-long split stays visible), from one minute up to the horizon.
  const oldest = Math.min(now, ...ops.map((o) => Date.parse(o.createdAt)));
  const span = Math.min(Math.max((now - oldest) * 1.1, 60_000), TIMELINE_MINUTES * 60_000);
  const start = now - span;
  const step = [5, 10, 15, 30, 60, 120, 300].map((s) => s * 1000).find((s) => span / s <= 6) ?? 300_000;
  const ticks = Array.from({ length: Math.floor(span / step) + 1 }, (_, i) => i * step);
  const tickLabel = (ms) => (ms === 0 ? 'now' : ms < 60_000 ? `-${ms / 1000} s` : `-${ms / 60_000} min`);
  const left = 260;
  const right = 990;
  const rowH = 20;
  const height = 30 + Math.max(ops.length, 1) * rowH;
  const x = (t) => left + ((Math.max(t, start) - start) / (now - start)) * (right - left);
  svg.setAttribute('viewBox', `0 0 1000 ${height}`);
  svg.style.aspectRatio = `1000 / ${height}`;
  svg.dataset.operations = String(ops.length);
  const axis = ticks.map((ago) =>
    h(
      'svg:g',
      {},
      h('svg:line', { x1: x(now - ago), x2: x(now - ago), y1: 0, y2: height - 14, stroke: '#2a3440' }),
      h(
        'svg:text',
        { x: x(now - ago), y: height - 2, 'text-anchor': ago === 0 ? 'end' : 'middle', style: 'font-size:11px' },
        tickLabel(ago),
      ),
    ),
  );
  const rows = ops.map((op, i) => {
    const y = 6 + i * rowH;
    const steps = Object.entries(op.steps)
      .map(([state, t]) => [state, Date.parse(t)])
      .sort((a, b) => a[1] - b[1]);
    const segments = steps
      .filter(([state]) => !ENDED.has(state))
      .map(([state, t], k) => {
        const next = steps[k + 1]?.[1] ?? now;
        const colour = state === 'RollingBack' ? 'var(--bad)' : op.kind === 'split' ? 'var(--split)' : 'var(--merge)';
        return h(
          'svg:rect',
          {
            x: x(t),
            y,
            width: Math.max(x(next) - x(t), 1.5),
            height: rowH - 6,
            fill: colour,
            'fill-opacity': PHASE_OPACITY[state] ?? 0.7,
          },
          h('svg:title', {}, `${state}: ${seconds(next - t)}`),
        );
      });
    const ended = endedAt(op);
    const took = (ended ?? now) - Date.parse(op.createdAt);
    return h(
      'svg:g',
      {
        class: 'op',
        'data-op-kind': op.kind,
        'data-op-state': op.state,
        onclick: () => {
          view.correlation = view.correlation === op.correlationId ? '' : op.correlationId;
          $('event-filter').elements.correlation.value = view.correlation;
          render();
        },
      },
      // The whole row takes the click, not only the thin bars.
      h('svg:rect', { class: 'hit', x: 0, y: y - 2, width: 1000, height: rowH }),
      h(
        'svg:text',
        { x: 4, y: y + rowH - 9, style: 'font-size:11px', class: `state-${op.state}` },
        `${op.kind} ${op.sources.join('+')} ${op.state} ${seconds(took)}`,
      ),
      segments,
      ended
        ? h('svg:circle', {
            cx: x(ended),
            cy: y + (rowH - 6) / 2,
            r: 3,
            fill: op.state === 'Completed' ? '#d8dee6' : 'var(--bad)',
          })
        : null,
    );
  });
  svg.replaceChildren(
    ...axis,
    ...(rows.length > 0
      ? rows
      : [h('svg:text', { x: left, y: 20, style: 'font-size:12px' }, 'no splits or merges in the last 15 minutes')]),
  );
}

function renderOperations(w) {
  const ops = w ? w.operations.slice(0, 12) : [];
  table(
    'operations',
    ['OPERATION', 'KIND', 'CAUSE', 'STATE', 'FROM → TO', 'SESSIONS MOVED', 'STARTED', 'TOOK'],
    ops.map((op) => {
      const ended = endedAt(op);
      return h(
        'tr',
        { 'data-op-id': op.id },
        h('td', {}, h('a', { class: 'link', onclick: () => filterCorrelation(op.correlationId) }, op.id)),
        h('td', {}, op.kind),
        h('td', {}, op.cause),
        h('td', { class: `state-${op.state}` }, op.state),
        h('td', { class: 'wrap' }, `${op.sources.join(', ')} → ${op.targets.map((t) => t.id).join(', ')}`),
        h('td', {}, op.sessionsMoved ?? '-'),
        h('td', {}, clock(op.createdAt)),
        h('td', {}, ended ? seconds(ended - Date.parse(op.createdAt)) : 'running'),
      );
    }),
    'no operations yet',
  );
}

function filterCorrelation(id) {
  view.correlation = id;
  $('event-filter').elements.correlation.value = id;
  render();
}

function renderEvents(s) {
  if (!s.events.ok) {
    table('events', ['EVENTS'], [], unavailable(s.events, 'events'));
    return;
  }
  const cell = view.cell.trim();
  const corr = view.correlation.trim();
  const shown = s.events.data.filter(
    (e) =>
      (!view.eventWorld || e.world === view.eventWorld) &&
      (!cell || e.cells.some((c) => c.includes(cell))) &&
      (!corr || e.correlationId.includes(corr)),
  );
  $('events').dataset.shown = String(shown.length);
  table(
    'events',
    ['TIME', 'TYPE', 'WORLD / TENANT', 'CELLS', 'MESSAGE', 'CORRELATION'],
    shown
      .slice(0, 200)
      .map((e) =>
        h(
          'tr',
          { class: `sev-${e.severity}` },
          h('td', {}, clock(e.time)),
          h('td', {}, e.type),
          h('td', {}, e.world ?? e.tenant ?? '-'),
          h('td', { class: 'wrap' }, e.cells.join(', ') || '-'),
          h('td', { class: 'wrap' }, e.message || e.reason),
          h('td', {}, h('a', { class: 'link', onclick: () => filterCorrelation(e.correlationId) }, e.correlationId)),
        ),
      ),
    'no events match',
  );
}

function renderTenants(s) {
  if (!s.tenants.ok) {
    table('tenants', ['TENANTS'], [], unavailable(s.tenants, 'tenants'));
    return;
  }
  table(
    'tenants',
    ['TENANT', 'TIER', 'PHASE', 'HEALTH', 'PODS', 'CPU REQ', 'MEM REQ', 'NAMESPACE'],
    s.tenants.data.map((t) => {
      const st = t.status;
      const alerts = st.alerts.length;
      const health =
        alerts > 0
          ? `${alerts} alert${alerts > 1 ? 's' : ''}`
          : st.vcluster
            ? st.vcluster.healthy
              ? 'vcluster healthy'
              : 'vcluster unhealthy'
            : st.phase === 'Ready'
              ? 'ok'
              : '-';
      const u = st.usage;
      return h(
        'tr',
        { 'data-tenant': t.spec.name },
        h('td', {}, t.spec.name),
        h('td', {}, t.spec.tier),
        h('td', { class: `state-${st.phase}` }, st.phase),
        h('td', { class: alerts > 0 || st.vcluster?.healthy === false ? 'sev-Warning' : '' }, health),
        h('td', {}, u ? `${u.runningPods}/${u.pods}` : '-'),
        h('td', {}, u ? `${u.cpuRequestMillis} m` : '-'),
        h('td', {}, u ? `${u.memoryRequestMiB} MiB` : '-'),
        h('td', {}, st.namespace ?? '-'),
      );
    }),
    'no tenants',
  );
}

function renderBilling(s) {
  const el = $('billing');
  if (!s.billing.ok) {
    el.replaceChildren(h('p', { class: 'muted' }, unavailable(s.billing, 'billing exports')));
    return;
  }
  const e = s.billing.data;
  if (!e) {
    el.replaceChildren(h('p', { class: 'muted' }, 'no billing exports yet'));
    return;
  }
  el.replaceChildren(
    h(
      'p',
      {},
      h('strong', {}, `#${e.seq} ${e.id}`),
      ` · ${e.period} window ${e.window}${e.closed ? '' : ' (provisional)'} · ${e.tenants} tenants · ${e.cost.toFixed(2)} ${e.currency}`,
    ),
    h('p', { class: 'muted' }, `generated ${e.generatedAt ?? '-'} by ${e.operator}`),
    h(
      'table',
      {},
      h('thead', {}, h('tr', {}, h('th', {}, 'FILE'), h('th', {}, 'SHA-256'), h('th', {}, 'SIZE'))),
      h(
        'tbody',
        {},
        e.files.map((f) =>
          h(
            'tr',
            {},
            h('td', {}, f.key.split('/').at(-1)),
            h('td', {}, h('code', { title: f.sha256 }, `${f.sha256.slice(0, 16)}…`)),
            h('td', {}, `${f.size} B`),
          ),
        ),
      ),
    ),
    h(
      'p',
      { class: 'muted' },
      `manifest ${(e.manifestHash ?? '-').slice(0, 16)}…, chained to ${e.previous ? `#${e.previous.seq}` : 'nothing (first export)'}; verify with `,
      h('code', {}, 'npx ffctl billing audit'),
    ),
  );
}

function render() {
  const s = view.snapshot;
  if (!s) return;
  renderHeader(s);
  const now = Date.parse(s.at);
  if (s.worlds.ok) {
    renderWorldTabs(s.worlds.data);
    const w = s.worlds.data.find((x) => x.world.name === view.world);
    const summary = w
      ? `${w.world.name}: ${w.world.status.phase}, ${w.cells.filter(onMap).length} cells${stopping(w)}, ${w.cells.reduce((n, c) => n + (onMap(c) ? c.sessions : 0), 0)} sessions, routing epoch ${w.world.status.routingEpoch}`
      : 'no worlds: npx ffctl world apply -f examples/worldspec-basic.yaml';
    $('world-summary').textContent = summary;
    renderCellMap(w);
    renderTimeline(w, now);
    renderOperations(w);
  } else {
    $('world-summary').textContent = unavailable(s.worlds, 'worlds');
    renderCellMap(null);
    renderTimeline(null, now);
    renderOperations(null);
  }
  renderEvents(s);
  renderTenants(s);
  renderBilling(s);
}

function setStatus(state, text) {
  const el = $('status');
  el.dataset.state = state;
  el.textContent = text;
}

const form = $('event-filter');
form.addEventListener('input', () => {
  view.eventWorld = form.elements.world.value;
  view.cell = form.elements.cell.value;
  view.correlation = form.elements.correlation.value;
  render();
});
form.addEventListener('reset', () => {
  setTimeout(() => {
    view.eventWorld = '';
    view.cell = '';
    view.correlation = '';
    render();
  });
});

const stream = new EventSource('/api/stream');
stream.addEventListener('snapshot', (e) => {
  view.snapshot = JSON.parse(e.data);
  setStatus('live', 'live');
  render();
});
stream.addEventListener('problem', (e) => setStatus('problem', `API problem: ${JSON.parse(e.data).message}`));
stream.addEventListener('error', () => setStatus('offline', 'disconnected, retrying…'));
