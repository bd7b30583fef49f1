import { labelValue, podName } from './kubernetes-driver';

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
