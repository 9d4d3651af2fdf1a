// Reads the site's YAML files and remembers where every value came from, so each error
// can name its file, line and column. A site file may come from someone else: it reads only
// regular files of bounded size, imports only from its own folder, and never echoes what a
// file it refused contains.
import { closeSync, constants, fstatSync, openSync, readSync, realpathSync, statSync, type Stats } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import { shown } from './free-text';

export type Path = Array<string | number>;

export interface Position {
  file: string;
  line: number;
  col: number;
}

export interface SiteIssue {
  /** Where in the merged site, e.g. ["services", 3, "hostnames", 0]. */
  path: Path;
  message: string;
  position?: Position;
}

interface ParsedFile {
  file: string;
  doc: Document;
  lines: LineCounter;
}

/** Merged lists: where element i of the merged list came from. */
type Origin = { file: ParsedFile; path: Path };

export const MERGED_LISTS = ['hosts', 'services', 'users'] as const;

/** Largest site file read (the main one and each import); a site of hundreds of hosts is far below. */
export const MAX_SITE_FILE_BYTES = 1024 * 1024;

/**
 * yaml's bound on alias expansion (toJS maxAliasCount: uses of an anchor times the aliases inside
 * it): room for a few hundred uses of shared defaults, none for a "billion laughs" bomb.
 */
export const MAX_ALIAS_COUNT = 1000;

/** Longest "path: message" an error line shows; longer ones are cut, so no huge value or key floods the terminal. */
export const MAX_MESSAGE = 300;

export class SiteSource {
  readonly issues: SiteIssue[] = [];
  private readonly origins = new Map<string, Origin[]>();
  private readonly imageOrigins = new Map<string, ParsedFile>();
  private main?: ParsedFile;
  /** The merged raw data (before schema validation). */
  data: Record<string, unknown> = {};

  constructor(readonly file: string) {}

  static read(file: string): SiteSource {
    const source = new SiteSource(resolve(file));
    source.load();
    return source;
  }

  /** Displays a path the way the error lines show it: services[3].hostnames[0]. */
  static formatPath(path: Path): string {
    return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('') || '(site)';
  }

  formatIssue(issue: SiteIssue): string {
    const where = issue.position ?? this.locate(issue.path);
    const prefix = where ? `${formatPosition(where)}: ` : '';
    const text = issue.path.length ? `${SiteSource.formatPath(issue.path)}: ${issue.message}` : issue.message;
    return `${prefix}${text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE - 1)}…` : text}`;
  }

  /** Parses a file already read; YAML syntax errors become issues at their position. */
  private parse(file: string, text: string): ParsedFile | undefined {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    for (const error of doc.errors) {
      const { line, col } = lines.linePos(error.pos[0]);
      this.issues.push({ path: [], message: `YAML syntax error: ${error.message.split('\n')[0]}`, position: { file, line, col } });
    }
    return doc.errors.length ? undefined : { file, doc, lines };
  }

  /** The file's data, or undefined (with an issue) when its aliases expand too far. */
  private toData(parsed: ParsedFile): unknown {
    try {
      return parsed.doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (error) {
      // yaml names no position; point at the first alias, where expansion starts.
      let at = 0;
      visit(parsed.doc, { Alias: (_, node) => ((at = node.range?.[0] ?? 0), visit.BREAK) });
      const { line, col } = parsed.lines.linePos(at);
      const message = /excessive alias count/i.test((error as Error).message)
        ? `YAML aliases expand too far (over ${MAX_ALIAS_COUNT} uses of an anchor's nodes); is this an alias bomb?`
        : `YAML: ${(error as Error).message.split('\n')[0]}`;
      this.issues.push({ path: [], message, position: { file: parsed.file, line, col } });
      return undefined;
    }
  }

  private load(): void {
    const text = readBounded(this.file);
    if (typeof text !== 'string') {
      this.issues.push({ path: [], message: `cannot read ${this.file}: ${text.problem}`, position: { file: this.file, line: 1, col: 1 } });
      return;
    }
    const main = this.parse(this.file, text);
    if (!main) return;
    this.main = main;
    const data = this.toData(main);
    if (data === undefined) return;
    if (!data || typeof data !== 'object' || Array.isArray(data)) {
      this.issues.push({ path: [], message: 'the site file must be a YAML mapping', position: { file: this.file, line: 1, col: 1 } });
      return;
    }
    this.data = data as Record<string, unknown>;
    for (const key of MERGED_LISTS) {
      const list = this.data[key];
      if (Array.isArray(list)) this.origins.set(key, list.map((_, i) => ({ file: main, path: [key, i] })));
    }
    this.loadImports();
  }

  /** Merges each import that names a regular file under the site file's folder; refuses the others by name. */
  private loadImports(): void {
    const imports = this.data.imports;
    if (!Array.isArray(imports)) return;
    const folder = realpathSync(dirname(this.file));
    // Each file once: what an import is already, by its real path.
    const seen = new Map<string, string>([[realpathSync(this.file), 'the site file itself']]);
    imports.forEach((name, i) => {
      if (typeof name !== 'string') return; // the schema reports it
      const from: Path = ['imports', i];
      const target = importTarget(folder, name);
      if (typeof target !== 'string') return this.issues.push({ path: from, message: `cannot import ${shown(name)}: ${target.problem}` });
      const already = seen.get(target);
      if (already) return this.issues.push({ path: from, message: `cannot import ${shown(name)}: it is ${already}` });
      seen.set(target, `the same file as imports[${i}]`);
      const text = readBounded(target);
      if (typeof text !== 'string') return this.issues.push({ path: from, message: `cannot import ${shown(name)}: ${text.problem}` });
      const parsed = this.parse(target, text);
      if (parsed) this.merge(parsed, from);
    });
  }

  private merge(parsed: ParsedFile, from: Path): void {
    const { file } = parsed;
    const data = this.toData(parsed) as Record<string, unknown> | null | undefined;
    if (data === undefined) return;
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      this.issues.push({ path: from, message: `${file} must be a YAML mapping`, position: { file, line: 1, col: 1 } });
      return;
    }
    for (const [key, value] of Object.entries(data)) {
      const position = keyPosition(parsed, [], key);
      if ((MERGED_LISTS as readonly string[]).includes(key)) {
        if (Array.isArray(value)) this.mergeList(parsed, key, value);
        else this.issues.push({ path: [key], message: 'must be a list', position });
      } else if (key === 'images') {
        if (isPlainObject(value)) this.mergeImages(parsed, value);
        else this.issues.push({ path: [key], message: 'must be a mapping of image names', position });
      } else {
        this.issues.push({ path: [key], message: `an imported file may only contain ${[...MERGED_LISTS, 'images'].join(', ')}`, position });
      }
    }
  }

  private mergeList(parsed: ParsedFile, key: string, items: unknown[]): void {
    // The site's own wrong-typed list stays as it is, for the schema to report, not hidden by an import.
    if (this.data[key] !== undefined && !Array.isArray(this.data[key])) return;
    const target = (this.data[key] ??= []) as unknown[];
    const origins = this.origins.get(key) ?? [];
    items.forEach((item, i) => {
      target.push(item);
      origins.push({ file: parsed, path: [key, i] });
    });
    this.origins.set(key, origins);
  }

  /** Adds an import's images; one defined already (in the site or an earlier import) is an error naming both places. */
  private mergeImages(parsed: ParsedFile, images: Record<string, unknown>): void {
    if (this.data.images !== undefined && !isPlainObject(this.data.images)) return;
    const target = (this.data.images ??= {}) as Record<string, unknown>;
    for (const [name, image] of Object.entries(images)) {
      const first = this.imageOrigins.get(name) ?? (Object.hasOwn(target, name) ? this.main : undefined);
      const firstAt = first && keyPosition(first, ['images'], name);
      if (firstAt) {
        this.issues.push({ path: ['images', name], message: `image ${shown(name)} is also defined at ${formatPosition(firstAt)}; define each image once`, position: keyPosition(parsed, ['images'], name) });
        continue;
      }
      // Own property even for a name like "__proto__".
      Object.defineProperty(target, name, { value: image, enumerable: true, writable: true, configurable: true });
      this.imageOrigins.set(name, parsed);
    }
  }

  /** Finds the file and position of a path in the merged site (the nearest existing node). */
  locate(path: Path): Position | undefined {
    let file = this.main;
    let inner: Path = path;
    const [head, index, ...rest] = path;
    if (typeof head === 'string' && typeof index === 'number') {
      const origin = this.origins.get(head)?.[index];
      if (origin) {
        file = origin.file;
        inner = [...origin.path, ...rest];
      }
    } else if (head === 'images' && typeof index === 'string' && this.imageOrigins.has(index)) {
      file = this.imageOrigins.get(index);
    }
    if (!file) return undefined;
    let node: unknown = file.doc.contents;
    let best: Node | undefined = node as Node;
    for (const step of inner) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && p.key.value === step);
        if (!pair) break;
        // A missing or null value points at its key.
        best = (pair.value as Node | null) && (pair.value as Node).range ? (pair.value as Node) : (pair.key as Node);
        node = pair.value;
      } else if (isSeq(node) && typeof step === 'number') {
        const item = node.items[step] as Node | undefined;
        if (!item) break;
        best = item;
        node = item;
      } else break;
    }
    if (!best?.range) return { file: file.file, line: 1, col: 1 };
    const { line, col } = file.lines.linePos(best.range[0]);
    return { file: file.file, line, col };
  }

  /** Position of a mapping's key (for unknown keys: point at the key itself). */
  locateKey(path: Path, key: string): Position | undefined {
    const file = this.fileOf(path);
    return (file && keyPosition(file, this.innerPath(path), key)) ?? this.locate(path);
  }

  private fileOf(path: Path): ParsedFile | undefined {
    const [head, index] = path;
    if (typeof head === 'string' && typeof index === 'number') return this.origins.get(head)?.[index]?.file ?? this.main;
    if (head === 'images' && typeof index === 'string') return this.imageOrigins.get(index) ?? this.main;
    return this.main;
  }

  private innerPath(path: Path): Path {
    const [head, index, ...rest] = path;
    if (typeof head === 'string' && typeof index === 'number') {
      const origin = this.origins.get(head)?.[index];
      if (origin) return [...origin.path, ...rest];
    }
    return path;
  }
}

/** The real path of an import, or why it may not be read: only what lies under the site file's folder. */
function importTarget(folder: string, name: string): string | { problem: string } {
  if (isAbsolute(name)) return { problem: "an absolute path; an import is relative to the site file's folder" };
  if (name.split(/[\\/]/).includes('..')) return { problem: `it contains ".."; an import lies under the site file's folder` };
  let real: string;
  try {
    // realpath resolves symlinks without opening the file itself.
    real = realpathSync(resolve(folder, name));
  } catch (error) {
    return { problem: errorCode(error) };
  }
  const inside = relative(folder, real);
  if (!inside || inside.startsWith('..') || isAbsolute(inside)) return { problem: `it leads outside the site file's folder (to ${shown(real)})` };
  return real;
}

/**
 * The text of a regular file of at most MAX_SITE_FILE_BYTES, or why not. It stats before it
 * opens, so a FIFO, device or directory is never opened, and reads at most one byte past the
 * bound, so a file that grows meanwhile is refused too.
 */
function readBounded(file: string): string | { problem: string } {
  let fd: number | undefined;
  try {
    const before = refusal(statSync(file));
    if (before) return { problem: before };
    // O_NONBLOCK: should the path have become a FIFO since the stat, opening it does not wait for a writer.
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
    const opened = refusal(fstatSync(fd));
    if (opened) return { problem: opened };
    const buffer = Buffer.alloc(MAX_SITE_FILE_BYTES + 1);
    let length = 0;
    for (let n = 1; n > 0 && length < buffer.length; length += n) n = readSync(fd, buffer, length, buffer.length - length, null);
    if (length > MAX_SITE_FILE_BYTES) return { problem: tooLarge(length) };
    return buffer.toString('utf8', 0, length);
  } catch (error) {
    return { problem: errorCode(error) };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Why a file of this kind and size is not read, or undefined. */
function refusal(stat: Stats): string | undefined {
  if (stat.isFile()) return stat.size > MAX_SITE_FILE_BYTES ? tooLarge(stat.size) : undefined;
  const kind = stat.isDirectory() ? 'a directory' : stat.isFIFO() ? 'a FIFO' : stat.isCharacterDevice() || stat.isBlockDevice() ? 'a device' : stat.isSocket() ? 'a socket' : 'special';
  return `it is ${kind}, not a regular file`;
}

function tooLarge(bytes: number): string {
  return `it is ${bytes} bytes; a site file is at most ${MAX_SITE_FILE_BYTES} bytes (1 MiB)`;
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
}

/** file:line:col as error lines show it, the file relative to the working directory. */
function formatPosition(where: Position): string {
  return `${relative(process.cwd(), where.file) || where.file}:${where.line}:${where.col}`;
}

/** Position of a mapping's key at a path inside one file, or undefined. */
function keyPosition(file: ParsedFile, path: Path, key: string): Position | undefined {
  let node: unknown = file.doc.contents;
  for (const step of path) {
    if (isMap(node)) node = node.items.find((p) => isScalar(p.key) && p.key.value === step)?.value;
    else if (isSeq(node) && typeof step === 'number') node = node.items[step];
    else return undefined;
  }
  const keyNode = isMap(node) ? (node.items.find((p) => isScalar(p.key) && p.key.value === key)?.key as Node | undefined) : undefined;
  if (!keyNode?.range) return undefined;
  const { line, col } = file.lines.linePos(keyNode.range[0]);
  return { file: file.file, line, col };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
