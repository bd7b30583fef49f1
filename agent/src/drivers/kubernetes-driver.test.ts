import { ANNOTATIONS, billingAnnotations, billingOf, labelValue, podName } from './kubernetes-driver';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const LABEL_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

describe('pod names and label values', () => {
  it('names a pod per world, cell and incarnation as a DNS label, the same on every retry', () => {
    const n = podName('world-a', 'r1c1.0.1', 3);
    expect(n).toMatch(DNS_LABEL);
    expect(n).toMatch(/^world-a-r1c1-0-1-i3-[0-9a-f]{6}$/);
    expect(podName('world-a', 'r1c1.0.1', 3)).toBe(n);
    expect(podName('world-a', 'r1c1.0.1', 4)).not.toBe(n);
  });

  it('keeps ids that sanitize alike apart, and long ids within 63 characters', () => {
    expect(podName('w', 'a.b', 1)).not.toBe(podName('w', 'a-b', 1));
    const long = podName('x'.repeat(40), `r0c0${'.1'.repeat(40)}`, 12);
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).toMatch(DNS_LABEL);
  });

  it('uses a value itself as a label when valid, else a readable prefix and a hash', () => {
    expect(labelValue('r1c1.0')).toBe('r1c1.0');
    const long = labelValue(`r0c0${'.1'.repeat(40)}`);
    expect(long).toMatch(LABEL_VALUE);
    expect(long).not.toBe(labelValue(`r0c0${'.1'.repeat(41)}`));
  });
});

describe('whom a cell pod is billed to', () => {
  it.each([
    ['a tenant and its tier', { tenant: 'acme', tier: 'dedicated' as const }],
    ['a tenant whose tier was unknown', { tenant: 'acme', tier: null }],
    ['the platform tenant (nothing written)', { tenant: null, tier: null }],
  ])('%s survives the pod annotations (an adopting agent reads them back)', (_what, billing) => {
    const annotations = billingAnnotations(billing);
    if (!billing.tenant) expect(annotations).toEqual({});
    expect(billingOf(annotations)).toEqual(billing);
  });

  it('reads a pod from before tenants, or with a tier that is not one, as unknown', () => {
    expect(billingOf(undefined)).toEqual({ tenant: null, tier: null });
    expect(billingOf({ [ANNOTATIONS.tenant]: 'acme', [ANNOTATIONS.tenantTier]: 'gold' })).toEqual({
      tenant: 'acme',
      tier: null,
    });
  });
});
