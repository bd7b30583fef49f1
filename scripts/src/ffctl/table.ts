import Table from 'cli-table3';

/**
 * cli-table3 drawn as kubectl draws: no borders and no rules between rows, columns
 * separated by three spaces, headers in capitals by the caller.
 */
const KUBECTL_CHARS = {
  top: '',
  'top-mid': '',
  'top-left': '',
  'top-right': '',
  bottom: '',
  'bottom-mid': '',
  'bottom-left': '',
  'bottom-right': '',
  left: '',
  'left-mid': '',
  mid: '',
  'mid-mid': '',
  right: '',
  'right-mid': '',
  middle: '   ',
} as const;

type Options = ConstructorParameters<typeof Table>[0];

/** A table that prints kubectl-style (see {@link render}). */
export function kubectlTable(opts: Options = {}): Table.Table {
  return new Table({
    ...opts,
    chars: KUBECTL_CHARS,
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0, compact: true },
  });
}

/** The table's text without the trailing spaces cli-table3 pads the last column with. */
export function render(t: Table.Table): string {
  return t
    .toString()
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n');
}
