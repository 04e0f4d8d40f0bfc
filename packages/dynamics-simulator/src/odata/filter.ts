import { errors } from './errors.js';

export type LiteralType = 'string' | 'int' | 'decimal' | 'boolean' | 'null' | 'guid' | 'datetime' | 'enum';
export type CompareOp = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le';

export interface Literal {
  kind: 'literal';
  type: LiteralType;
  value: string | number | boolean | null;
}
export interface PropertyRef {
  kind: 'property';
  path: string;
}
export type Operand = Literal | PropertyRef;

export type FilterExpr =
  | { kind: 'logical'; op: 'and' | 'or'; left: FilterExpr; right: FilterExpr }
  | { kind: 'not'; expr: FilterExpr }
  | { kind: 'compare'; op: CompareOp; left: Operand; right: Operand }
  | { kind: 'function'; name: 'contains' | 'startswith' | 'endswith'; target: Operand; argument: Operand };

type Token =
  | { kind: 'punct'; text: '(' | ')' | ','; at: number }
  | { kind: 'word'; text: string; at: number }
  | { kind: 'literal'; literal: Literal; at: number };

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![0-9A-Za-z_])/;
const DATETIME = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,7})?)?(?:Z|[+-]\d{2}:\d{2}))?(?![0-9A-Za-z_])/;
const NUMBER = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[mMdDfFlL]?(?![0-9A-Za-z_])/;
const WORD = /^[A-Za-z_][A-Za-z0-9_./]*/;
const COMPARE_OPS: ReadonlySet<string> = new Set(['eq', 'ne', 'gt', 'ge', 'lt', 'le']);
const FUNCTIONS: ReadonlySet<string> = new Set(['contains', 'startswith', 'endswith']);

export const OPERATOR_KIND: Record<CompareOp, string> = {
  eq: 'Equal',
  ne: 'NotEqual',
  gt: 'GreaterThan',
  ge: 'GreaterThanOrEqual',
  lt: 'LessThan',
  le: 'LessThanOrEqual',
};

function readString(text: string, start: number): [string, number] | undefined {
  let value = '';
  let i = start + 1;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === "'") {
      if (text[i + 1] === "'") {
        value += "'";
        i += 2;
        continue;
      }
      return [value, i + 1];
    }
    value += ch;
    i++;
  }
  return undefined;
}

function tokenize(text: string, aliases: ReadonlyMap<string, string>, source: string): Token[] {
  const tokens: Token[] = [];
  const syntaxError = (at: number) => errors.badRequest(`Syntax error at position ${at} in '${source}'.`);
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (ch === '(' || ch === ')' || ch === ',') {
      tokens.push({ kind: 'punct', text: ch, at: i });
      i++;
      continue;
    }
    if (ch === "'") {
      const read = readString(text, i);
      if (!read) throw errors.badRequest(`There is an unterminated string literal at position ${i} in '${source}'.`);
      tokens.push({ kind: 'literal', literal: { kind: 'literal', type: 'string', value: read[0] }, at: i });
      i = read[1];
      continue;
    }
    if (ch === '@') {
      const name = /^@[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))?.[0];
      const value = name === undefined ? undefined : aliases.get(name);
      if (name === undefined || value === undefined) throw syntaxError(i);
      const inner = tokenize(value, aliases, source);
      const [literal] = inner;
      if (inner.length !== 1 || literal?.kind !== 'literal') throw syntaxError(i);
      tokens.push({ ...literal, at: i });
      i += name.length;
      continue;
    }
    const rest = text.slice(i);
    const guid = GUID.exec(rest);
    if (guid) {
      tokens.push({ kind: 'literal', literal: { kind: 'literal', type: 'guid', value: guid[0].toLowerCase() }, at: i });
      i += guid[0].length;
      continue;
    }
    const datetime = DATETIME.exec(rest);
    if (datetime) {
      const value = datetime[0].length === 10 ? `${datetime[0]}T00:00:00Z` : datetime[0];
      tokens.push({ kind: 'literal', literal: { kind: 'literal', type: 'datetime', value }, at: i });
      i += datetime[0].length;
      continue;
    }
    const number = NUMBER.exec(rest);
    if (number) {
      const raw = number[0].replace(/[mMdDfFlL]$/, '');
      const isInt = /^-?\d+$/.test(raw);
      tokens.push({ kind: 'literal', literal: { kind: 'literal', type: isInt ? 'int' : 'decimal', value: Number(raw) }, at: i });
      i += number[0].length;
      continue;
    }
    const word = WORD.exec(rest);
    if (word) {
      const after = i + word[0].length;
      // Enum literal: Namespace.Type'Member'
      if (text[after] === "'" && word[0].includes('.')) {
        const read = readString(text, after);
        if (!read) throw syntaxError(after);
        tokens.push({ kind: 'literal', literal: { kind: 'literal', type: 'enum', value: read[0] }, at: i });
        i = read[1];
        continue;
      }
      const lower = word[0];
      if (lower === 'true' || lower === 'false') {
        tokens.push({ kind: 'literal', literal: { kind: 'literal', type: 'boolean', value: lower === 'true' }, at: i });
      } else if (lower === 'null') {
        tokens.push({ kind: 'literal', literal: { kind: 'literal', type: 'null', value: null }, at: i });
      } else {
        tokens.push({ kind: 'word', text: word[0], at: i });
      }
      i = after;
      continue;
    }
    throw syntaxError(i);
  }
  return tokens;
}

/** Parses an OData `$filter` (eq ne gt ge lt le, and or not, parentheses, contains/startswith/endswith). */
export function parseFilter(text: string, aliases: ReadonlyMap<string, string> = new Map()): FilterExpr {
  const tokens = tokenize(text, aliases, text);
  let position = 0;
  const peek = (): Token | undefined => tokens[position];
  const syntaxError = (token: Token | undefined) => errors.badRequest(`Syntax error at position ${token?.at ?? text.length} in '${text}'.`);
  const isWord = (token: Token | undefined, word: string): boolean => token?.kind === 'word' && token.text === word;
  const expectPunct = (punct: string): void => {
    const token = tokens[position];
    if (token?.kind !== 'punct' || token.text !== punct) throw syntaxError(token);
    position++;
  };

  const operand = (): Operand => {
    const token = tokens[position];
    if (token?.kind === 'literal') {
      position++;
      return token.literal;
    }
    if (token?.kind === 'word' && !COMPARE_OPS.has(token.text) && token.text !== 'and' && token.text !== 'or' && token.text !== 'not') {
      position++;
      return { kind: 'property', path: token.text };
    }
    throw syntaxError(token);
  };

  const primary = (): FilterExpr => {
    const token = peek();
    if (isWord(token, 'not')) {
      position++;
      return { kind: 'not', expr: primary() };
    }
    if (token?.kind === 'punct' && token.text === '(') {
      position++;
      const inner = or();
      expectPunct(')');
      return inner;
    }
    if (token?.kind === 'word' && FUNCTIONS.has(token.text) && tokens[position + 1]?.kind === 'punct' && (tokens[position + 1] as { text: string }).text === '(') {
      position += 2;
      const target = operand();
      expectPunct(',');
      const argument = operand();
      expectPunct(')');
      return { kind: 'function', name: token.text as 'contains' | 'startswith' | 'endswith', target, argument };
    }
    const left = operand();
    const op = peek();
    if (op?.kind !== 'word' || !COMPARE_OPS.has(op.text)) throw syntaxError(op);
    position++;
    const right = operand();
    return { kind: 'compare', op: op.text as CompareOp, left, right };
  };

  const and = (): FilterExpr => {
    let left = primary();
    while (isWord(peek(), 'and')) {
      position++;
      left = { kind: 'logical', op: 'and', left, right: primary() };
    }
    return left;
  };

  const or = (): FilterExpr => {
    let left = and();
    while (isWord(peek(), 'or')) {
      position++;
      left = { kind: 'logical', op: 'or', left, right: and() };
    }
    return left;
  };

  if (tokens.length === 0) throw syntaxError(undefined);
  const expr = or();
  if (position < tokens.length) throw syntaxError(tokens[position]);
  return expr;
}

const LITERAL_EDM: Record<LiteralType, string> = {
  string: 'Edm.String',
  int: 'Edm.Int32',
  decimal: 'Edm.Decimal',
  boolean: 'Edm.Boolean',
  null: 'null',
  guid: 'Edm.Guid',
  datetime: 'Edm.DateTimeOffset',
  enum: 'enum',
};

const NUMERIC = new Set(['Edm.Int32', 'Edm.Int64', 'Edm.Decimal', 'Edm.Double']);

function compatible(a: string, b: string): boolean {
  if (a === b || a === 'null' || b === 'null' || a === 'any' || b === 'any') return true;
  if (NUMERIC.has(a) && NUMERIC.has(b)) return true;
  return (a === 'enum' && b === 'Edm.String') || (b === 'enum' && a === 'Edm.String');
}

/**
 * Checks property names and operand types. `typeOf` returns the EDM type of a property
 * ('any' to skip checks) or throws for an unknown one.
 */
export function checkFilter(expr: FilterExpr, typeOf: (path: string) => string): void {
  const operandType = (operand: Operand): string => (operand.kind === 'property' ? typeOf(operand.path) : LITERAL_EDM[operand.type]);
  switch (expr.kind) {
    case 'logical':
      checkFilter(expr.left, typeOf);
      checkFilter(expr.right, typeOf);
      return;
    case 'not':
      checkFilter(expr.expr, typeOf);
      return;
    case 'compare': {
      const left = operandType(expr.left);
      const right = operandType(expr.right);
      if (!compatible(left, right)) {
        throw errors.badRequest(
          `A binary operator with incompatible types was detected. Found operand types '${left}' and '${right}' for operator kind '${OPERATOR_KIND[expr.op]}'.`,
        );
      }
      return;
    }
    case 'function': {
      for (const operand of [expr.target, expr.argument]) {
        const type = operandType(operand);
        if (type !== 'Edm.String' && type !== 'any' && type !== 'null') {
          throw errors.badRequest(`No function signature for the function with name '${expr.name}' matches the specified arguments.`);
        }
      }
    }
  }
}

type Comparable = string | number | boolean | null;

function normalize(value: unknown, hint: LiteralType | undefined): Comparable {
  if (value === undefined || value === null) return null;
  if (typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    if (hint === 'datetime') {
      const ms = Date.parse(value);
      return Number.isNaN(ms) ? value.toLowerCase() : ms;
    }
    // Dataverse string comparisons are case-insensitive (database collation); GUIDs too.
    return value.toLowerCase();
  }
  return String(value).toLowerCase();
}

/** Evaluates a checked filter; `valueOf` returns a row's value of a property (null when absent or hidden). */
export function evaluateFilter(expr: FilterExpr, valueOf: (path: string) => unknown): boolean {
  switch (expr.kind) {
    case 'logical':
      return expr.op === 'and'
        ? evaluateFilter(expr.left, valueOf) && evaluateFilter(expr.right, valueOf)
        : evaluateFilter(expr.left, valueOf) || evaluateFilter(expr.right, valueOf);
    case 'not':
      return !evaluateFilter(expr.expr, valueOf);
    case 'compare': {
      const hint = expr.left.kind === 'literal' ? expr.left.type : expr.right.kind === 'literal' ? expr.right.type : undefined;
      const resolve = (operand: Operand): Comparable =>
        normalize(operand.kind === 'literal' ? operand.value : valueOf(operand.path), hint);
      const left = resolve(expr.left);
      const right = resolve(expr.right);
      if (left === null || right === null) {
        if (expr.op === 'eq') return left === right;
        if (expr.op === 'ne') return isNullCompare(expr) ? left !== right : false;
        return false;
      }
      switch (expr.op) {
        case 'eq':
          return left === right;
        case 'ne':
          return left !== right;
        case 'gt':
          return left > right;
        case 'ge':
          return left >= right;
        case 'lt':
          return left < right;
        case 'le':
          return left <= right;
      }
      return false;
    }
    case 'function': {
      const target = normalize(expr.target.kind === 'literal' ? expr.target.value : valueOf(expr.target.path), 'string');
      const argument = normalize(expr.argument.kind === 'literal' ? expr.argument.value : valueOf(expr.argument.path), 'string');
      if (typeof target !== 'string' || typeof argument !== 'string') return false;
      if (expr.name === 'contains') return target.includes(argument);
      if (expr.name === 'startswith') return target.startsWith(argument);
      return target.endsWith(argument);
    }
  }
}

/**
 * `x ne null` is true for any value; `x ne 'a'` is false when x is null (SQL semantics, like
 * Dataverse's "does not equal", which does not return empty values).
 */
function isNullCompare(expr: { left: Operand; right: Operand }): boolean {
  return (expr.left.kind === 'literal' && expr.left.type === 'null') || (expr.right.kind === 'literal' && expr.right.type === 'null');
}

/** Every property path a filter mentions. */
export function filterProperties(expr: FilterExpr, into: Set<string> = new Set()): Set<string> {
  const add = (operand: Operand): void => {
    if (operand.kind === 'property') into.add(operand.path);
  };
  switch (expr.kind) {
    case 'logical':
      filterProperties(expr.left, into);
      filterProperties(expr.right, into);
      break;
    case 'not':
      filterProperties(expr.expr, into);
      break;
    case 'compare':
      add(expr.left);
      add(expr.right);
      break;
    case 'function':
      add(expr.target);
      add(expr.argument);
  }
  return into;
}
