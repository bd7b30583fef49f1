/**
 * Jest runs tests in a vm context whose `Symbol` lacks Node's `Symbol.dispose`
 * (Node 22 defines it on the main realm only). undici, under
 * @kubernetes/client-node, disposes abort listeners through it, so the
 * context gets the main realm's symbol, taken from a disposable Node returns.
 */
const { addAbortListener } = require('node:events');

for (const name of ['dispose', 'asyncDispose']) {
  if (Symbol[name] !== undefined) continue;
  if (name === 'dispose') {
    const disposable = addAbortListener(new AbortController().signal, () => undefined);
    const [sym] = Object.getOwnPropertySymbols(disposable);
    if (sym) Object.defineProperty(Symbol, 'dispose', { value: sym });
    disposable[sym]?.();
  }
}
