// The edit of the site file: the new `services` entry spliced into the text, so comments and
// alignment stay as they are, and checked against the same edit made on the YAML Document.
import { isDeepStrictEqual } from 'node:util';
import { Document, isMap, isSeq, parse, parseDocument, type YAMLSeq } from 'yaml';
import { HomeprodError } from '../ui/errors';
import { DEFAULT_BODY_SIZE, type ServiceAnswers } from './answers';

/** The `services` entry, written the way the shipped site writes them: defaults left out. */
export function serviceEntry(a: ServiceAnswers): Record<string, unknown> {
  return {
    name: a.name,
    stage: a.stage,
    hostnames: [a.hostname],
    upstream: { ...a.upstream, port: a.port },
    ...(a.websocket ? { websocket: true } : {}),
    ...(a.maxBodySize !== DEFAULT_BODY_SIZE ? { maxBodySize: a.maxBodySize } : {}),
    ...(a.certificate === undefined ? {} : { certificate: a.certificate }),
  };
}

/**
 * The site text with `entry` appended to `services`. The edit is made on the YAML Document; the
 * text is then produced by splicing only the new item in, because re-printing the whole Document
 * would re-flow every aligned comment. The splice is checked against the Document edit.
 */
export function insertService(text: string, entry: Record<string, unknown>): string {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new HomeprodError(`the site file is not valid YAML: ${doc.errors[0]!.message}`);
  if (!isMap(doc.contents)) throw new HomeprodError('the site file is not a YAML mapping');
  const item = doc.createNode(entry);
  for (const key of ['hostnames', 'upstream']) {
    const node = item.get(key, true) as { flow?: boolean } | undefined;
    if (node) node.flow = true;
  }
  const existing = doc.get('services', true);
  let spliced: string | undefined;
  if (isSeq(existing) && !existing.flow && existing.items.length > 0) spliced = spliceAfterLast(text, existing, item);
  else if (existing === undefined || existing === null) spliced = `${text}${text.endsWith('\n') || text === '' ? '' : '\n'}services:\n${indentItem(item, '  ')}`;
  if (isSeq(existing)) {
    existing.flow = false; // a list of services reads as a block list
    existing.add(item);
  }
  else if (existing === undefined || existing === null) doc.set('services', doc.createNode([entry]));
  else throw new HomeprodError('`services` in the site file is not a list');
  const expected = doc.toJS();
  // Unusual layouts (a flow list, `services: []`) fall back to the Document's own printing.
  if (spliced !== undefined && isDeepStrictEqual(parse(spliced), expected)) return spliced;
  return doc.toString({ flowCollectionPadding: false });
}

/** The shipped site writes `hostnames: [a]` but `upstream: { host: h, port: 1 }`. */
const SHIPPED_PADDING: Record<string, boolean> = { hostnames: false, upstream: true };

/**
 * The item as lines under `indent`. yaml pads all flow collections alike, so each top-level key
 * takes its line from the printing whose padding matches the style the file already uses.
 */
function indentItem(item: unknown, indent: string, padding: Record<string, boolean> = SHIPPED_PADDING): string {
  const print = (pad: boolean) => new Document([item]).toString({ flowCollectionPadding: pad, lineWidth: 0 }).replace(/\n$/, '').split('\n');
  const [tight, padded] = [print(false), print(true)];
  return tight
    .map((line, i) => {
      const key = /^[- ] (\w+): /.exec(line)?.[1];
      return `${indent}${key !== undefined && padding[key] ? padded[i] : line}\n`;
    })
    .join('');
}

/** Whether the file writes a key's flow collection padded, judged by an existing item. */
function paddingOf(itemText: string): Record<string, boolean> {
  const style = { ...SHIPPED_PADDING };
  for (const key of Object.keys(style)) {
    const seen = new RegExp(`^\\s*(?:- )?${key}: [[{]( ?)`, 'm').exec(itemText);
    if (seen) style[key] = seen[1] === ' ';
  }
  return style;
}

function spliceAfterLast(text: string, seq: YAMLSeq, item: unknown): string | undefined {
  const first = seq.items[0] as { range?: [number, number, number] };
  const last = seq.items[seq.items.length - 1] as { range?: [number, number, number] };
  if (!first.range || !last.range) return undefined;
  const lineStart = text.lastIndexOf('\n', first.range[0] - 1) + 1;
  const marker = /^(\s*)- /.exec(text.slice(lineStart, first.range[0]));
  if (!marker) return undefined;
  let at = last.range[1];
  if (text[at - 1] !== '\n') {
    const eol = text.indexOf('\n', at);
    at = eol === -1 ? text.length : eol + 1;
  }
  const before = text.slice(0, at);
  const style = paddingOf(text.slice(lineStart, at));
  return `${before}${before.endsWith('\n') ? '' : '\n'}${indentItem(item, marker[1]!, style)}${text.slice(at)}`;
}
