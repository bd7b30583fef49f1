import { bucketDelta, histogramQuantile, parseBuckets, sumBuckets } from './histogram';

const EXPOSITION = `# HELP fleetforge_reconcile_duration_seconds Time one reconcileWorld invocation took.
# TYPE fleetforge_reconcile_duration_seconds histogram
fleetforge_reconcile_duration_seconds_bucket{le="0.5"} 6
fleetforge_reconcile_duration_seconds_bucket{le="1"} 8
fleetforge_reconcile_duration_seconds_bucket{le="2"} 10
fleetforge_reconcile_duration_seconds_bucket{le="+Inf"} 10
fleetforge_reconcile_duration_seconds_sum 7.5
fleetforge_reconcile_duration_seconds_count 10
fleetforge_other_bucket{le="1"} 99
`;

describe('parseBuckets', () => {
  it('reads the named histogram only, +Inf as Infinity', () => {
    expect([...parseBuckets(EXPOSITION, 'fleetforge_reconcile_duration_seconds')]).toEqual([
      [0.5, 6],
      [1, 8],
      [2, 10],
      [Infinity, 10],
    ]);
  });

  it('sums label sets of one bound (several functions in one process)', () => {
    const two = 'h_bucket{function="a",le="1"} 2\nh_bucket{function="b",le="1"} 3\n';
    expect(parseBuckets(two, 'h').get(1)).toBe(5);
  });
});

describe('histogramQuantile', () => {
  const b = parseBuckets(EXPOSITION, 'fleetforge_reconcile_duration_seconds');
  it.each([
    [0.5, (0.5 * 5) / 6], // rank 5 of 6 in the first bucket, from 0
    [0.7, 0.5 + 0.5 * ((7 - 6) / 2)],
    [0.95, 1 + (9.5 - 8) / 2],
    [1, 2],
  ])('q=%s', (q, expected) => {
    expect(histogramQuantile(b, q)).toBeCloseTo(expected, 9);
  });

  it('is NaN with no observations, and the largest finite bound for ranks in +Inf', () => {
    expect(histogramQuantile(new Map(), 0.5)).toBeNaN();
    expect(
      histogramQuantile(
        new Map([
          [1, 1],
          [Infinity, 10],
        ]),
        0.95,
      ),
    ).toBe(1);
  });

  it('measures what happened between two scrapes', () => {
    const before = new Map([
      [1, 4],
      [Infinity, 4],
    ]);
    const after = sumBuckets([
      new Map([
        [1, 5],
        [Infinity, 8],
      ]),
      new Map([
        [1, 1],
        [Infinity, 1],
      ]),
    ]);
    expect([...bucketDelta(after, before)]).toEqual([
      [1, 2],
      [Infinity, 5],
    ]);
  });
});
