/**
 * Reads terraform/ as Terraform would, as far as the registry is concerned: the HCL
 * is parsed by `@cdktf/hcl2json` (HashiCorp's own parser, compiled to WebAssembly),
 * and the expressions are evaluated against var.registry, so `for_each` gives the
 * real instance keys. What is only known after apply (ids, URLs, members) stays a
 * symbolic reference to the resource instance it comes from, which is enough to
 * check who is bound to what. An expression this evaluator does not know throws:
 * a test over it fails rather than passing by not looking.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Loaded without its typings: they pull in the DOM library (`/// <reference lib="dom" />`),
 * which would retype fetch and friends in the whole scripts package.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { getExpressionAst, parse } = require('@cdktf/hcl2json') as {
  parse: (filename: string, hcl: string) => Promise<unknown>;
  getExpressionAst: (filename: string, expression: string) => Promise<unknown>;
};

/** A value known only after apply: an attribute path under a resource instance. */
export class Ref {
  constructor(
    readonly address: string,
    readonly path: ReadonlyArray<string | number> = [],
  ) {}
  get(seg: string | number): Ref {
    return new Ref(this.address, [...this.path, seg]);
  }
  toString(): string {
    return [this.address, ...this.path].join('.');
  }
}

type Value = unknown;
type Block = Record<string, unknown>;

interface Ast {
  type: string;
  meta?: Record<string, unknown> & { value?: string };
  children: Ast[];
}

interface TfJson {
  resource?: Record<string, Record<string, Block[]>>;
  data?: Record<string, Record<string, Block[]>>;
  locals?: Block[];
  variable?: Record<string, Block[]>;
}

export interface Instance {
  /** e.g. google_pubsub_topic.this["cell-metrics"] */
  address: string;
  type: string;
  key: string | number | undefined;
  /** The block's attributes and nested blocks, evaluated for this instance. */
  body: Block;
}

type Scope = Record<string, Value>;

const astCache = new Map<string, Promise<Ast>>();
function ast(expr: string): Promise<Ast> {
  let a = astCache.get(expr);
  if (!a) astCache.set(expr, (a = getExpressionAst('expr.tf', expr) as Promise<Ast>));
  return a;
}

/** The expression inside "${...}" when the whole string is one interpolation. */
function soleInterpolation(s: string): string | undefined {
  if (!s.startsWith('${') || !s.endsWith('}')) return undefined;
  let depth = 0;
  for (let i = 1; i < s.length; i++) {
    if (s[i] === '{') depth++;
    else if (s[i] === '}' && --depth === 0) return i === s.length - 1 ? s.slice(2, -1) : undefined;
  }
  return undefined;
}

export class Terraform {
  private readonly json: TfJson;
  private readonly locals = new Map<string, Promise<Value>>();
  private readonly instancesOf = new Map<string, Promise<Map<string | number | undefined, Scope>>>();

  private constructor(
    json: TfJson,
    private readonly vars: Record<string, Value>,
  ) {
    this.json = json;
  }

  /** Every .tf file of `dir`, with `vars` over the variables' defaults. */
  static async load(dir: string, vars: Record<string, Value>): Promise<Terraform> {
    const merged: TfJson = { resource: {}, data: {}, locals: [], variable: {} };
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.tf'))) {
      const j = (await parse(f, readFileSync(join(dir, f), 'utf8'))) as TfJson;
      for (const kind of ['resource', 'data'] as const) {
        for (const [type, byName] of Object.entries(j[kind] ?? {})) {
          const into = (merged[kind]![type] ??= {});
          for (const [name, blocks] of Object.entries(byName)) {
            if (into[name]) throw new Error(`${kind} ${type}.${name} declared twice`);
            into[name] = blocks;
          }
        }
      }
      merged.locals!.push(...(j.locals ?? []));
      Object.assign(merged.variable!, j.variable ?? {});
    }
    const defaults = Object.fromEntries(
      Object.entries(merged.variable!).map(([name, [v]]) => [name, v && 'default' in v ? v.default : undefined]),
    );
    return new Terraform(merged, { ...defaults, ...vars });
  }

  /** Resource types and names declared, as `type.name`. */
  resources(): string[] {
    return Object.entries(this.json.resource ?? {}).flatMap(([type, byName]) =>
      Object.keys(byName).map((name) => `${type}.${name}`),
    );
  }

  /** Every instance of every resource of `type`, its body evaluated. */
  async instances(type: string): Promise<Instance[]> {
    const out: Instance[] = [];
    for (const [name, [block]] of Object.entries(this.json.resource?.[type] ?? {})) {
      for (const [key, scope] of await this.keys('resource', type, name)) {
        const body = (await this.evalBody(block!, scope, ['for_each', 'count', 'depends_on', 'lifecycle'])) as Block;
        out.push({ address: address(`${type}.${name}`, key), type, key, body });
      }
    }
    return out;
  }

  /** Evaluates one expression at module scope. */
  expr(source: string): Promise<Value> {
    return this.evalString(`\${${source}}`, {});
  }

  private keys(
    kind: 'resource' | 'data',
    type: string,
    name: string,
  ): Promise<Map<string | number | undefined, Scope>> {
    const id = `${kind}.${type}.${name}`;
    let p = this.instancesOf.get(id);
    if (!p) {
      p = (async () => {
        const block = this.json[kind]?.[type]?.[name]?.[0];
        if (!block) throw new Error(`no ${kind} ${type}.${name}`);
        const out = new Map<string | number | undefined, Scope>();
        if ('for_each' in block) {
          const fe = await this.evalValue(block.for_each, {});
          const entries: Array<[string, Value]> = Array.isArray(fe)
            ? fe.map((k) => [String(k), k])
            : Object.entries(fe as Record<string, Value>);
          for (const [k, v] of entries) out.set(k, { each: { key: k, value: v } });
        } else if ('count' in block) {
          const n = Number(await this.evalValue(block.count, {}));
          for (let i = 0; i < n; i++) out.set(i, { count: { index: i } });
        } else out.set(undefined, {});
        return out;
      })();
      this.instancesOf.set(id, p);
    }
    return p;
  }

  private async evalBody(block: Block, scope: Scope, skip: string[] = []): Promise<Value> {
    const out: Block = {};
    for (const [k, v] of Object.entries(block)) {
      if (skip.includes(k)) continue;
      if (k === 'dynamic') {
        for (const [blockName, [dyn]] of Object.entries(v as Record<string, Block[]>)) {
          const fe = await this.evalValue(dyn!.for_each, scope);
          const items: Array<[string | number, Value]> = Array.isArray(fe)
            ? fe.map((x: Value, i): [number, Value] => [i, x])
            : Object.entries(fe as Record<string, Value>);
          const iterator = typeof dyn!.iterator === 'string' ? dyn!.iterator : blockName;
          const content = (dyn!.content as Block[])[0]!;
          out[blockName] = await Promise.all(
            items.map(([key, value]) => this.evalBody(content, { ...scope, [iterator]: { key, value } })),
          );
        }
        continue;
      }
      // An object attribute's (expression) keys come back as "${(...)}".
      const key = k.includes('${') ? String(await this.evalString(k, scope)) : k;
      out[key] = await this.evalValue(v, scope);
    }
    return out;
  }

  private async evalValue(v: unknown, scope: Scope): Promise<Value> {
    if (typeof v === 'string') return v.includes('${') ? this.evalString(v, scope) : v;
    if (Array.isArray(v)) return Promise.all(v.map((x) => this.evalValue(x, scope)));
    if (v && typeof v === 'object') return this.evalBody(v as Block, scope);
    return v;
  }

  private async evalString(s: string, scope: Scope): Promise<Value> {
    const sole = soleInterpolation(s);
    return this.eval(await ast(sole ?? JSON.stringify(s)), scope);
  }

  private async local(name: string): Promise<Value> {
    let p = this.locals.get(name);
    if (!p) {
      const block = this.json.locals?.find((l) => name in l);
      if (!block) throw new Error(`no local.${name}`);
      p = this.evalValue(block[name], {});
      this.locals.set(name, p);
    }
    return p;
  }

  /** A resource or data source named in an expression: its instances, or the one instance. */
  private async resource(kind: 'resource' | 'data', type: string, name: string): Promise<Value> {
    const keys = await this.keys(kind, type, name);
    const prefix = kind === 'data' ? `data.${type}.${name}` : `${type}.${name}`;
    if (keys.has(undefined)) return new Ref(prefix);
    const first = [...keys.keys()][0];
    if (typeof first === 'number') return [...keys.keys()].map((k) => new Ref(address(prefix, k)));
    return Object.fromEntries([...keys.keys()].map((k) => [k, new Ref(address(prefix, k))]));
  }

  private async root(name: string, rest: string[], scope: Scope): Promise<{ value: Value; rest: string[] }> {
    if (name in scope) return { value: scope[name], rest };
    if (name === 'var') return { value: this.vars[rest[0]!], rest: rest.slice(1) };
    if (name === 'local') return { value: await this.local(rest[0]!), rest: rest.slice(1) };
    if (name === 'path') return { value: rest[0] === 'module' ? 'terraform' : undefined, rest: rest.slice(1) };
    if (name === 'data') return { value: await this.resource('data', rest[0]!, rest[1]!), rest: rest.slice(2) };
    if (this.json.resource?.[name])
      return { value: await this.resource('resource', name, rest[0]!), rest: rest.slice(1) };
    throw new Error(`unknown name ${name}`);
  }

  private async eval(node: Ast, scope: Scope): Promise<Value> {
    const meta = node.meta ?? {};
    switch (node.type) {
      case 'literalValue':
        return meta.type === 'number' ? Number(meta.value) : meta.type === 'bool' ? meta.value === 'true' : meta.value;
      case 'template': {
        // The AST keeps a template's literal parts in source form, escapes included.
        const parts = await Promise.all(
          node.children.map(async (c) =>
            c.type === 'literalValue' && c.meta?.type === 'string'
              ? unescape(String(c.meta.value))
              : this.eval(c, scope),
          ),
        );
        if (parts.length === 1 && node.children[0]!.type !== 'literalValue') return parts[0];
        return parts.map((p) => (p instanceof Ref ? `\${${p.toString()}}` : String(p))).join('');
      }
      case 'scopeTraversal': {
        const segs = (meta.traversal as Array<{ type: string; segment: string }>).map((t) =>
          t.type === 'indexTraversal' ? (JSON.parse(t.segment) as string | number) : t.segment,
        );
        const { value, rest } = await this.root(String(segs[0]), segs.slice(1).map(String), scope);
        return rest.reduce<Value>((v, seg) => access(v, seg, String(meta.value)), value);
      }
      case 'relativeTraversal': {
        const base = await this.eval(node.children[0]!, scope);
        const segs = (meta.traversal as Array<{ type: string; segment: string }>).map((t) =>
          t.type === 'indexTraversal' ? (JSON.parse(t.segment) as string | number) : t.segment,
        );
        return segs.reduce<Value>((v, seg) => access(v, seg, String(meta.value)), base);
      }
      case 'index': {
        const [coll, key] = await Promise.all(node.children.map((c) => this.eval(c, scope)));
        return access(coll, key as string | number, String(meta.value));
      }
      case 'splat': {
        const src = await this.eval(node.children[0]!, scope);
        const attr = String((node.children[1]?.meta ?? {}).fullAccessor);
        return (src as Value[]).map((x) => access(x, attr, String(meta.value)));
      }
      case 'tuple':
        return Promise.all(node.children.map((c) => this.eval(c, scope)));
      case 'object': {
        const out: Record<string, Value> = {};
        for (const [k, v] of Object.entries(meta.items as Record<string, string>)) {
          // Keys are bare words, quoted strings, or (expressions) that hcl2json wraps in ${}.
          const key = k.includes('${')
            ? String(await this.evalString(k, scope))
            : /^".*"$/.test(k)
              ? (JSON.parse(k) as string)
              : k;
          out[key] = await this.evalString(`\${${v}}`, scope);
        }
        return out;
      }
      case 'conditional': {
        const [cond, yes, no] = node.children;
        return (await this.eval(cond!, scope)) ? this.eval(yes!, scope) : this.eval(no!, scope);
      }
      case 'binaryOp': {
        const [l, r] = await Promise.all(node.children.map((c) => this.eval(c, scope)));
        if (meta.operator === 'equal') return same(l, r);
        if (meta.operator === 'notEqual') return !same(l, r);
        const arithmetic: Record<string, (a: number, b: number) => number> = {
          add: (a, b) => a + b,
          subtract: (a, b) => a - b,
          multiply: (a, b) => a * b,
          divide: (a, b) => a / b,
          modulo: (a, b) => a % b,
        };
        const op = arithmetic[String(meta.operator)];
        if (op) return op(Number(l), Number(r));
        if (meta.operator === 'and') return Boolean(l) && Boolean(r);
        if (meta.operator === 'or') return Boolean(l) || Boolean(r);
        throw new Error(`operator ${String(meta.operator)} in ${String(meta.value)}`);
      }
      case 'function':
        return call(String(meta.name), await Promise.all(node.children.map((c) => this.eval(c, scope))));
      case 'for':
        return this.evalFor(node, scope);
      case '':
        // Parentheses.
        if (node.children.length === 1) return this.eval(node.children[0]!, scope);
        throw new Error('cannot evaluate an untyped node');
      default:
        throw new Error(`cannot evaluate ${node.type} in ${String(meta.value)}`);
    }
  }

  private async evalFor(node: Ast, scope: Scope): Promise<Value> {
    const meta = node.meta as Record<string, string | boolean>;
    const coll = await this.eval(node.children[0]!, scope);
    const entries: Array<[string | number, Value]> = Array.isArray(coll)
      ? coll.map((v, i) => [i, v])
      : Object.entries(coll as Record<string, Value>);
    const sub = (expr: string, s: Scope) => this.evalString(`\${${expr}}`, s);
    const isObject = meta.openRangeValue === '{';
    const list: Value[] = [];
    const obj: Record<string, Value> = {};
    for (const [k, v] of entries) {
      const s: Scope = { ...scope, [String(meta.valVar)]: v, ...(meta.keyVar ? { [String(meta.keyVar)]: k } : {}) };
      if (meta.conditionalExpression && !(await sub(String(meta.conditionalExpression), s))) continue;
      const value = await sub(String(meta.valueExpression), s);
      if (isObject) {
        const key = String(await sub(String(meta.keyExpression), s));
        if (key in obj) throw new Error(`duplicate key ${key} in ${String(meta.value)}`);
        obj[key] = value;
      } else list.push(value);
    }
    return isObject ? obj : list;
  }
}

/**
 * A literal part of a template, from its source form. The source is the JSON string
 * evalString quoted the template into, so JSON's escapes apply; HCL adds $${ and %%{.
 */
function unescape(raw: string): string {
  return (JSON.parse(`"${raw}"`) as string).replace(/\$\$\{/g, '${').replace(/%%\{/g, '%{');
}

function address(prefix: string, key: string | number | undefined): string {
  return key === undefined ? prefix : `${prefix}[${JSON.stringify(key)}]`;
}

function same(a: Value, b: Value): boolean {
  return a instanceof Ref || b instanceof Ref ? String(a) === String(b) : a === b;
}

/** `v.seg` or `v[seg]`; a missing key is an error, as in Terraform. */
function access(v: Value, seg: string | number, where: string): Value {
  if (v instanceof Ref) return v.get(seg);
  if (v === null || v === undefined) throw new Error(`${where}: ${String(seg)} of null`);
  if (typeof v !== 'object') throw new Error(`${where}: ${String(seg)} of ${typeof v}`);
  if (!(seg in v)) {
    if (Array.isArray(v)) throw new Error(`${where}: index ${String(seg)} out of range`);
    throw new Error(`${where}: no key ${JSON.stringify(seg)} (has ${Object.keys(v).join(', ')})`);
  }
  return (v as Record<string, Value>)[seg];
}

function call(name: string, args: Value[]): Value {
  const list = (v: Value): Value[] => (Array.isArray(v) ? v : Object.values(v as object));
  switch (name) {
    case 'toset':
    case 'distinct':
      return [...new Map(list(args[0]).map((v) => [String(v), v])).values()];
    case 'values':
      return Object.values(args[0] as object);
    case 'keys':
      return Object.keys(args[0] as object);
    case 'flatten':
      return (args[0] as Value[]).flat(Infinity);
    case 'concat':
      return args.flatMap(list);
    case 'merge':
      return Object.assign({}, ...args.map((a) => a as object)) as Value;
    case 'coalesce':
      return args.find((a) => a !== null && a !== undefined && a !== '');
    case 'join':
      return list(args[1]).map(String).join(String(args[0]));
    case 'lower':
      return String(args[0]).toLowerCase();
    case 'floor':
      return Math.floor(Number(args[0]));
    case 'jsonencode':
      return JSON.stringify(args[0], (_k, v: unknown) => (v instanceof Ref ? `\${${v.toString()}}` : v));
    case 'filemd5':
      return new Ref(`filemd5(${String(args[0])})`);
    default:
      throw new Error(`function ${name} is not evaluated here`);
  }
}
