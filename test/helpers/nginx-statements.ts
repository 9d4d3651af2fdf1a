// nginx config text as statements with the blocks they are in, the way nginx's own parser
// reads it (words, quotes with escapes, comments, `;`, `{`, `}`): what tests compare to find
// a directive the site did not ask for.

export interface Statement {
  /** Names of the enclosing blocks, outermost first, e.g. ["server", "location"]. */
  context: string[];
  words: string[];
}

export function statements(text: string): Statement[] {
  const result: Statement[] = [];
  const context: string[] = [];
  let words: string[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) i++;
    else if (c === '#') while (i < text.length && text[i] !== '\n') i++;
    else if (c === ';') {
      result.push({ context: [...context], words });
      words = [];
      i++;
    } else if (c === '{') {
      result.push({ context: [...context], words });
      context.push(words[0] ?? '');
      words = [];
      i++;
    } else if (c === '}') {
      if (words.length) throw new Error(`statement without ";" before "}": ${words.join(' ')}`);
      if (!context.pop()) throw new Error('"}" closes a block that was never opened');
      i++;
    } else if (c === '"' || c === "'") {
      let word = '';
      i++;
      while (i < text.length && text[i] !== c) {
        if (text[i] === '\\' && i + 1 < text.length) i++;
        word += text[i++];
      }
      i++;
      words.push(word);
    } else {
      let word = '';
      while (i < text.length && !/[\s;{}"'#]/.test(text[i]!)) {
        if (text[i] === '\\' && i + 1 < text.length) word += text[i++];
        word += text[i++];
      }
      words.push(word);
    }
  }
  if (words.length || context.length) throw new Error('config ends inside a statement or block');
  return result;
}

/** A statement's shape: where it is and which directive, e.g. "server>location::add_header". */
export const shape = (s: Statement) => `${s.context.join('>')}::${s.words[0]}`;
