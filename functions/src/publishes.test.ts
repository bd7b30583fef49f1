/**
 * Terraform grants each function's identity publish rights on exactly the topics
 * the registry declares (FUNCTIONS[*].publishes). A publish the registry does not
 * declare would fail with PERMISSION_DENIED on GCP only, so this test derives every
 * function's real publishes from the code: from its entry in the function table
 * (function-table.ts, which index.ts registers) through the relative imports it reaches, every `.publish(TOPICS.x, ...)` call.
 */
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import * as ts from 'typescript';
import { FUNCTIONS, TOPICS, type TopicName } from '@fleetforge/shared';

const srcDir = __dirname;

function parse(file: string): ts.SourceFile {
  return ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
}

function resolveImport(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = resolve(dirname(from), spec);
  return [`${base}.ts`, join(base, 'index.ts')].find((f) => existsSync(f));
}

const sources = new Map<string, ts.SourceFile>();
function source(file: string): ts.SourceFile {
  let sf = sources.get(file);
  if (!sf) sources.set(file, (sf = parse(file)));
  return sf;
}

/** A top-level name of one module. */
type Sym = `${string}#${string}`;
const sym = (file: string, name: string): Sym => `${file}#${name}`;

/** Local name → the module and exported name it stands for; runtime imports only (type-only ones run no code). */
function importsOf(sf: ts.SourceFile): Map<string, Sym> {
  const out = new Map<string, Sym>();
  for (const st of sf.statements) {
    if (!ts.isImportDeclaration(st) || st.importClause?.isTypeOnly) continue;
    const file = resolveImport(sf.fileName, (st.moduleSpecifier as ts.StringLiteral).text);
    const bindings = st.importClause?.namedBindings;
    if (!file || !bindings) continue;
    if (!ts.isNamedImports(bindings)) throw new Error(`${sf.fileName}: namespace imports are not analysed`);
    for (const e of bindings.elements)
      if (!e.isTypeOnly) out.set(e.name.text, sym(file, (e.propertyName ?? e.name).text));
  }
  return out;
}

/** The top-level declarations of a module, by name. */
function declarationsOf(sf: ts.SourceFile): Map<string, ts.Node> {
  const out = new Map<string, ts.Node>();
  for (const st of sf.statements) {
    if ((ts.isFunctionDeclaration(st) || ts.isClassDeclaration(st)) && st.name) out.set(st.name.text, st);
    if (ts.isVariableStatement(st)) {
      for (const d of st.declarationList.declarations) if (ts.isIdentifier(d.name)) out.set(d.name.text, d);
    }
  }
  return out;
}

/** Where `name` of `file` is declared, following `export { name } from` and `export *` re-exports. */
function declaration(file: string, name: string): { file: string; node: ts.Node } | undefined {
  const sf = source(file);
  const node = declarationsOf(sf).get(name);
  if (node) return { file, node };
  for (const st of sf.statements) {
    if (!ts.isExportDeclaration(st) || !st.moduleSpecifier || st.isTypeOnly) continue;
    const from = resolveImport(file, (st.moduleSpecifier as ts.StringLiteral).text);
    if (!from) continue;
    const clause = st.exportClause;
    if (!clause) {
      const found = declaration(from, name);
      if (found) return found;
    } else if (ts.isNamedExports(clause)) {
      const e = clause.elements.find((x) => x.name.text === name);
      if (e) return declaration(from, (e.propertyName ?? e.name).text);
    }
  }
  return undefined;
}

/** The module-level names a piece of code uses: its own module's declarations and its imports. */
function references(file: string, node: ts.Node): Sym[] {
  const sf = source(file);
  const imports = importsOf(sf);
  const decls = declarationsOf(sf);
  const out: Sym[] = [];
  const visit = (n: ts.Node) => {
    if (ts.isIdentifier(n)) {
      if (imports.has(n.text)) out.push(imports.get(n.text)!);
      else if (decls.has(n.text)) out.push(sym(file, n.text));
    }
    ts.forEachChild(n, visit);
  };
  visit(node);
  return out;
}

interface PublishCall {
  at: string;
  /** The topic, or undefined when the first argument is not `TOPICS.<key>`. */
  topic: TopicName | undefined;
}

function publishCalls(file: string, node: ts.Node): PublishCall[] {
  const sf = source(file);
  const calls: PublishCall[] = [];
  const visit = (n: ts.Node) => {
    if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression) && n.expression.name.text === 'publish') {
      const arg = n.arguments[0];
      let topic: TopicName | undefined;
      if (
        arg &&
        ts.isPropertyAccessExpression(arg) &&
        ts.isIdentifier(arg.expression) &&
        arg.expression.text === 'TOPICS'
      ) {
        topic = TOPICS[arg.name.text as keyof typeof TOPICS];
      }
      const line = sf.getLineAndCharacterOfPosition(n.getStart()).line + 1;
      calls.push({ at: `${file.slice(srcDir.length + 1)}:${line}`, topic });
    }
    ts.forEachChild(n, visit);
  };
  visit(node);
  return calls;
}

/** Every publish the code starting at `roots` can run, through the module-level names it uses. */
function reachablePublishes(roots: Sym[]): PublishCall[] {
  const seen = new Set<string>();
  const queue = [...roots];
  const calls: PublishCall[] = [];
  while (queue.length > 0) {
    const s = queue.pop()!;
    const [file, name] = s.split('#') as [string, string];
    const decl = declaration(file, name);
    if (!decl) throw new Error(`cannot find ${name} in ${file}`);
    const key = sym(decl.file, name);
    if (seen.has(key)) continue;
    seen.add(key);
    calls.push(...publishCalls(decl.file, decl.node));
    queue.push(...references(decl.file, decl.node));
  }
  return calls;
}

/**
 * Each entry of FUNCTION_TABLE (function-table.ts, which index.ts registers), with the
 * module-level names its definition uses: its handler and the builder that wraps it.
 */
function entryPoints(): Map<string, Sym[]> {
  const file = join(srcDir, 'function-table.ts');
  const decl = declarationsOf(source(file)).get('FUNCTION_TABLE');
  const table = decl && ts.isVariableDeclaration(decl) ? decl.initializer : undefined;
  if (!table || !ts.isObjectLiteralExpression(table)) throw new Error('FUNCTION_TABLE is not an object literal');
  const entries = new Map<string, Sym[]>();
  for (const p of table.properties) {
    if (!ts.isPropertyAssignment(p) || !ts.isIdentifier(p.name)) throw new Error('unexpected entry in FUNCTION_TABLE');
    entries.set(p.name.text, references(file, p.initializer));
  }
  return entries;
}

/** Every non-test module of functions/src, by walking imports from index.ts. */
function allSourceFiles(): string[] {
  const seen = new Set<string>();
  const queue = [join(srcDir, 'index.ts')];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const st of source(file).statements) {
      if ((ts.isImportDeclaration(st) || ts.isExportDeclaration(st)) && st.moduleSpecifier) {
        const next = resolveImport(file, (st.moduleSpecifier as ts.StringLiteral).text);
        if (next) queue.push(next);
      }
    }
  }
  return [...seen];
}

describe('FUNCTIONS[*].publishes (the topics terraform lets each function publish to)', () => {
  const entries = entryPoints();

  it('the function table has exactly the functions of the registry', () => {
    expect([...entries.keys()].sort()).toEqual(
      Object.values(FUNCTIONS)
        .map((f) => f.name)
        .sort(),
    );
  });

  it('every publish in functions/src names its topic as TOPICS.<key>, so it can be attributed', () => {
    const calls = allSourceFiles().flatMap((f) => publishCalls(f, source(f)));
    // The adapters' own publish methods are declarations, not calls; there are real calls to check.
    expect(calls.length).toBeGreaterThan(5);
    expect(calls.filter((c) => c.topic === undefined)).toEqual([]);
  });

  it.each(Object.values(FUNCTIONS).map((f) => [f.name, f.publishes] as const))(
    '%s declares exactly the topics its code publishes to',
    (name, declared) => {
      const used = new Set(reachablePublishes(entries.get(name) ?? []).map((c) => c.topic!));
      expect([...used].sort()).toEqual([...declared].sort());
    },
  );
});
