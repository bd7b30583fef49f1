import fc from 'fast-check';
import {
  DAY_MS,
  HOUR_MS,
  QUANTITY_KEYS,
  UsageSampleSchema,
  parseWindowId,
  rollup,
  splitAtBoundaries,
  totalQuantities,
  windowOf,
  type Quantities,
  type UsageSample,
} from './usage';

const T0 = Date.parse('2026-11-21T00:00:00.000Z');

function sample(id: string, start: string, end: string, q: Partial<Quantities> = {}, over: Partial<UsageSample> = {}) {
  return UsageSampleSchema.parse({
    id,
    tenant: 'acme',
    tier: 'standard',
    world: 'w1',
    source: 'process',
    estimated: false,
    agentId: 'agent-1',
    start,
    end,
    cpuMillis: 0,
    memoryMiBSeconds: 0,
    vclusterMillis: 0,
    cellMillis: 0,
    ...q,
    ...over,
  });
}

describe('windowOf', () => {
  it.each([
    ['2026-11-21T23:59:59.999Z', 'day', '2026-11-21', '2026-11-21T00:00:00.000Z', '2026-11-22T00:00:00.000Z'],
    ['2026-11-22T00:00:00.000Z', 'day', '2026-11-22', '2026-11-22T00:00:00.000Z', '2026-11-23T00:00:00.000Z'],
    ['2026-12-31T23:59:59.999Z', 'day', '2026-12-31', '2026-12-31T00:00:00.000Z', '2027-01-01T00:00:00.000Z'],
    ['2028-02-29T12:00:00.000Z', 'day', '2028-02-29', '2028-02-29T00:00:00.000Z', '2028-03-01T00:00:00.000Z'],
    ['2026-11-21T13:59:59.999Z', 'hour', '2026-11-21T13', '2026-11-21T13:00:00.000Z', '2026-11-21T14:00:00.000Z'],
    ['2026-11-21T14:00:00.000Z', 'hour', '2026-11-21T14', '2026-11-21T14:00:00.000Z', '2026-11-21T15:00:00.000Z'],
  ] as const)('%s in a %s window is %s', (t, period, id, start, end) => {
    expect(windowOf(Date.parse(t), period)).toEqual({ id, period, start, end });
  });

  it('parses window ids back and rejects bad ones', () => {
    expect(parseWindowId('2026-11-21')).toEqual(windowOf(T0, 'day'));
    expect(parseWindowId('2026-11-21T05').start).toBe('2026-11-21T05:00:00.000Z');
    for (const bad of ['2026-13-01', '2026-02-30', '2026-11-21T24', 'yesterday', '']) {
      expect(() => parseWindowId(bad)).toThrow(/invalid billing window/);
    }
  });

  it('every instant lies in its window, and windows of a day tile it exactly', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4102444800000 }), (t) => {
        for (const period of ['hour', 'day'] as const) {
          const w = windowOf(t, period);
          expect(Date.parse(w.start)).toBeLessThanOrEqual(t);
          expect(Date.parse(w.end)).toBeGreaterThan(t);
          expect(Date.parse(w.end) - Date.parse(w.start)).toBe(period === 'day' ? DAY_MS : HOUR_MS);
          expect(parseWindowId(w.id)).toEqual(w);
        }
        expect(windowOf(t, 'day').start.endsWith('T00:00:00.000Z')).toBe(true);
      }),
    );
  });
});

describe('UsageSampleSchema', () => {
  it('rejects a sample crossing an hour boundary or ending before it starts', () => {
    expect(() => sample('a', '2026-11-21T23:59:00.000Z', '2026-11-22T00:00:00.001Z')).toThrow(/hour boundary/);
    expect(() => sample('a', '2026-11-21T10:00:00.000Z', '2026-11-21T10:00:00.000Z')).toThrow(/after start/);
    expect(sample('a', '2026-11-21T23:59:00.000Z', '2026-11-22T00:00:00.000Z').end).toBe('2026-11-22T00:00:00.000Z');
  });
});

describe('rollup', () => {
  it('cuts at UTC midnight: 23:59:59.999 is the old day, 00:00:00.000 the new one', () => {
    const r = rollup(
      [
        sample('late', '2026-11-21T23:59:59.999Z', '2026-11-22T00:00:00.000Z', { cpuMillis: 1 }),
        sample('early', '2026-11-22T00:00:00.000Z', '2026-11-22T00:00:00.001Z', { cpuMillis: 2 }),
      ],
      'day',
    );
    expect(r.lines.map((l) => [l.window, l.cpuMillis])).toEqual([
      ['2026-11-21', 1],
      ['2026-11-22', 2],
    ]);
  });

  it('counts a duplicate once and reports an id re-used with other content', () => {
    const a = sample('s1', '2026-11-21T10:00:00.000Z', '2026-11-21T10:00:10.000Z', { cpuMillis: 500 });
    const changed = { ...a, cpuMillis: 900 };
    const r = rollup([a, a, changed, a], 'day');
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]!.cpuMillis).toBe(500);
    expect(r.duplicates).toBe(2);
    expect(r.conflicts).toEqual(['s1']);
  });

  it('separates tiers (an upgrade mid-day), flags estimates, counts worlds and reports gaps', () => {
    const r = rollup(
      [
        sample('a', '2026-11-21T10:00:00.000Z', '2026-11-21T10:00:10.000Z', { cpuMillis: 1 }, { tier: 'dev' }),
        sample('b', '2026-11-21T11:00:00.000Z', '2026-11-21T11:00:10.000Z', { cpuMillis: 2 }),
        // 60 s without a sample on the same stream: a gap of 60 s is reported, nothing is invented.
        sample('c', '2026-11-21T11:01:10.000Z', '2026-11-21T11:01:20.000Z', { cpuMillis: 3 }),
        sample(
          'd',
          '2026-11-21T11:00:00.000Z',
          '2026-11-21T11:00:10.000Z',
          { cellMillis: 10_000 },
          { world: 'w2', source: 'kubernetes', estimated: true },
        ),
      ],
      'day',
    );
    expect(r.lines.map((l) => [l.tier, l.samples, l.cpuMillis, l.estimated, l.worlds, l.gapMillis])).toEqual([
      ['dev', 1, 1, false, 1, 0],
      ['standard', 3, 5, true, 2, 60_000],
    ]);
  });
});

const arbQuantities = fc.record({
  cpuMillis: fc.integer({ min: 0, max: 1e9 }),
  memoryMiBSeconds: fc.integer({ min: 0, max: 1e13 }),
  vclusterMillis: fc.integer({ min: 0, max: 1e9 }),
  cellMillis: fc.integer({ min: 0, max: 1e9 }),
});

describe('conservation (properties)', () => {
  it('splitting an interval at hour boundaries conserves every quantity and tiles the interval', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: T0 - 3 * DAY_MS, max: T0 + 3 * DAY_MS }),
        fc.integer({ min: 1, max: 3 * DAY_MS }),
        arbQuantities,
        (start, len, q) => {
          const pieces = splitAtBoundaries({ startMs: start, endMs: start + len, quantities: q });
          expect(totalQuantities(pieces.map((p) => p.quantities))).toEqual(q);
          expect(pieces[0]!.startMs).toBe(start);
          expect(pieces.at(-1)!.endMs).toBe(start + len);
          for (let i = 1; i < pieces.length; i++) expect(pieces[i]!.startMs).toBe(pieces[i - 1]!.endMs);
          for (const p of pieces) {
            expect(Math.floor(p.startMs / HOUR_MS)).toBe(Math.floor((p.endMs - 1) / HOUR_MS));
            for (const k of QUANTITY_KEYS) expect(p.quantities[k]).toBeGreaterThanOrEqual(0);
          }
        },
      ),
    );
  });

  it('hourly and daily rollups of the same samples, across tiers, sum to the same totals (duplicates ignored)', () => {
    const arbSample = fc.record({
      tenant: fc.constantFrom('acme', 'beta', 'gamma'),
      tier: fc.constantFrom('dev', 'standard', 'dedicated'),
      // Anywhere in three days, including right on and just before midnights.
      start: fc.oneof(
        fc.integer({ min: T0, max: T0 + 3 * DAY_MS - 2 }),
        fc.constantFrom(T0 + DAY_MS - 1, T0 + DAY_MS, T0 + 2 * DAY_MS - 1, T0 + 2 * DAY_MS),
      ),
      q: arbQuantities,
    });
    fc.assert(
      fc.property(fc.array(arbSample, { minLength: 1, maxLength: 60 }), fc.nat(5), (specs, dupes) => {
        const samples = specs.map((s, i) => {
          const hourEnd = (Math.floor(s.start / HOUR_MS) + 1) * HOUR_MS;
          const end = Math.min(hourEnd, s.start + 10_000);
          return sample(`s${i}`, new Date(s.start).toISOString(), new Date(end).toISOString(), s.q, {
            tenant: s.tenant,
            tier: s.tier,
          });
        });
        const withDupes = [...samples, ...samples.slice(0, dupes)];
        const expected = totalQuantities(samples);
        const byDay = rollup(withDupes, 'day');
        const byHour = rollup(withDupes, 'hour');
        expect(totalQuantities(byDay.lines)).toEqual(expected);
        expect(totalQuantities(byHour.lines)).toEqual(expected);
        expect(byDay.duplicates).toBe(Math.min(dupes, samples.length));
        // Per tier, too: the tier split loses nothing.
        for (const tier of ['dev', 'standard', 'dedicated'] as const) {
          expect(totalQuantities(byDay.lines.filter((l) => l.tier === tier))).toEqual(
            totalQuantities(samples.filter((s) => s.tier === tier)),
          );
        }
        // Each day's lines hold exactly the samples that start in that UTC day.
        for (const line of byDay.lines) {
          const dayStart = Date.parse(`${line.window}T00:00:00.000Z`);
          const mine = samples.filter(
            (s) =>
              s.tenant === line.tenant &&
              s.tier === line.tier &&
              Date.parse(s.start) >= dayStart &&
              Date.parse(s.start) < dayStart + DAY_MS,
          );
          expect(line.samples).toBe(mine.length);
        }
      }),
    );
  });
});
