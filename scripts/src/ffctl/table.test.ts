import { kubectlTable, render } from './table';

describe('kubectl-style tables', () => {
  it('prints a header and rows in aligned columns, with no borders or rules', () => {
    const t = kubectlTable({ head: ['NAME', 'PHASE', 'CELLS'] });
    t.push(['world-a', 'Ready', '4'], ['w', 'Provisioning', '12']);
    expect(render(t)).toBe(
      ['NAME      PHASE          CELLS', 'world-a   Ready          4', 'w         Provisioning   12'].join('\n'),
    );
  });

  it('leaves no trailing spaces and no blank lines', () => {
    const t = kubectlTable({ head: ['A', 'B'] });
    t.push(['long value', ''], ['x', 'y']);
    const lines = render(t).split('\n');
    expect(lines).toHaveLength(3);
    expect(lines.filter((l) => l !== l.trimEnd() || l.trim() === '')).toEqual([]);
    expect(render(t)).not.toMatch(/[│┌┐└┘├┤┬┴┼─]/);
  });
});
