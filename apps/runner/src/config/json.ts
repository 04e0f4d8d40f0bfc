/** Where a JSON text first goes wrong: its index and what was expected there. */
interface JsonProblem {
  index: number;
  problem: string;
}

/**
 * Finds the first syntax error of a text `JSON.parse` refused, the same on every Node.js version
 * (V8's messages differ between versions and some give no position). Null if it finds none.
 */
export function locateJsonError(text: string): JsonProblem | null {
  let i = 0;
  const found = (): string => (i >= text.length ? 'the file ends' : `found ${JSON.stringify(text[i])}`);
  const fail = (problem: string): never => {
    throw { index: i, problem } satisfies JsonProblem;
  };
  const space = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i] as string)) i += 1;
  };
  const string = (): void => {
    i += 1;
    while (i < text.length) {
      const c = text[i] as string;
      if (c === '"') {
        i += 1;
        return;
      }
      if (c === '\\') {
        const escape = text[i + 1];
        if (escape === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) i += 6;
        else if (escape !== undefined && escape !== 'u' && '"\\/bfnrt'.includes(escape)) i += 2;
        else fail('a bad escape in a string');
        continue;
      }
      if (c < ' ') fail('a line break or control character inside a string');
      i += 1;
    }
    fail('a string that is not closed');
  };
  const number = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  const value = (): void => {
    space();
    const c = text[i];
    if (c === '{') {
      i += 1;
      space();
      if (text[i] === '}') {
        i += 1;
        return;
      }
      for (;;) {
        space();
        if (text[i] !== '"') fail(`expected a property name in double quotes, ${found()}`);
        string();
        space();
        if (text[i] !== ':') fail(`expected ':' after the property name, ${found()}`);
        i += 1;
        value();
        space();
        if (text[i] === '}') {
          i += 1;
          return;
        }
        if (text[i] !== ',') fail(`expected ',' or '}' after a property value, ${found()}`);
        i += 1;
      }
    }
    if (c === '[') {
      i += 1;
      space();
      if (text[i] === ']') {
        i += 1;
        return;
      }
      for (;;) {
        value();
        space();
        if (text[i] === ']') {
          i += 1;
          return;
        }
        if (text[i] !== ',') fail(`expected ',' or ']' after an array element, ${found()}`);
        i += 1;
      }
    }
    if (c === '"') return string();
    number.lastIndex = i;
    if (number.test(text)) {
      i = number.lastIndex;
      return;
    }
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return;
      }
    }
    fail(`expected a value, ${found()}`);
  };
  try {
    value();
    space();
    if (i < text.length) fail(`expected the end of the file after the JSON value, ${found()}`);
    return null;
  } catch (error) {
    if (typeof error === 'object' && error !== null && 'problem' in error) return error as JsonProblem;
    throw error;
  }
}

/** 1-based line and column of an index of `text`. */
export function lineAndColumn(text: string, index: number): { line: number; column: number } {
  const before = text.slice(0, index);
  const line = before.split('\n').length;
  return { line, column: index - before.lastIndexOf('\n') };
}
