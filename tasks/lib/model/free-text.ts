// Limits of the site's free-text fields. Every string of the site reaches a generated file
// (nginx configs, Ansible inventories, cloud-init, Terraform JSON) that some tool parses or
// templates again, so a value may only mean what its field says: one line, no template
// syntax of any tool that reads it, and for the nginx lines one whole, harmless directive.

/** Longest string any field takes (an SSH key of RSA-16384 is about 2.8 kB). */
export const MAX_STRING = 8192;

/** Template openers of Jinja2/nunjucks (Ansible, our templates) and Terraform (`${`, `%{`). */
const TEMPLATE_SYNTAX = /\{\{|\{%|\{#|\$\{|%\{/;

/** A value as an error message shows it: JSON, cut so a huge value is never echoed whole. */
export function shown(value: unknown, max = 60): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** What is wrong with any string of the site, or undefined. */
export function stringProblem(value: string): string | undefined {
  if (value.length > MAX_STRING) return `is ${value.length} characters long; at most ${MAX_STRING}`;
  const control = /[\u0000-\u001f\u007f]/.exec(value);
  if (control) return `${shown(value)} contains a control character (${shown(control[0])}); a value is one line of text`;
  const template = TEMPLATE_SYNTAX.exec(value);
  if (template) return `${shown(value)} contains template syntax "${template[0]}", which Ansible or Terraform would evaluate`;
  return undefined;
}

/** Every string in parsed YAML data, with its path. */
export function* strings(data: unknown, path: Array<string | number> = []): Generator<{ path: Array<string | number>; value: string }> {
  if (typeof data === 'string') yield { path, value: data };
  else if (Array.isArray(data)) for (const [i, item] of data.entries()) yield* strings(item, [...path, i]);
  else if (data && typeof data === 'object') for (const [key, value] of Object.entries(data)) yield* strings(value, [...path, key]);
}

/**
 * Directives a service's extra lines may not use: they would read or write files as root,
 * listen, change TLS or the route, trust client addresses, or run code in nginx. The prefix
 * forms cover a module's whole family (ssl_certificate, proxy_ssl_trusted_certificate, ...).
 */
const DENIED_DIRECTIVES = [
  'include', 'alias', 'root', 'autoindex', 'server_name', 'listen', 'location', 'server', 'upstream', 'if', 'limit_except',
  'load_module', 'set_real_ip_from', 'real_ip_header', 'real_ip_recursive', 'access_log', 'error_log', 'try_files', 'index',
  'internal', 'mirror', 'auth_request', 'auth_basic_user_file', 'resolver', 'proxy_store', 'proxy_store_access', 'proxy_bind',
  'ssi', 'dav_methods', 'create_full_put_path', 'open_file_cache', 'disable_symlinks', 'ssl_preread',
];
const DENIED_PATTERNS = [/^ssl_/, /^proxy_ssl_/, /_pass$/, /_temp_path$/, /_cache_path$/, /_by_lua/, /^lua_/, /^perl/, /^js_/, /^njs_/, /_file$/];

/** The variables homeprod's own routing reads; a service's lines may not set them. */
const OWN_VARIABLE = /\$homeprod_/;

/**
 * Splits an nginx directive into its words the way nginx's parser does (bare words, or
 * quoted strings with backslash escapes); undefined when it is not exactly one directive.
 */
function directiveWords(line: string): string[] | string {
  const words: string[] = [];
  let i = 0;
  const at = () => line[i]!;
  while (true) {
    while (i < line.length && /\s/.test(at())) i++;
    if (i >= line.length) return 'does not end with ";" (each line is one directive, like "add_header X-Frame-Options DENY;")';
    const c = at();
    if (c === ';') {
      if (line.slice(i + 1).trim() !== '') return 'has text after its ";" (one directive per line)';
      return words.length ? words : 'is an empty directive';
    }
    if (c === '{' || c === '}') return `contains "${c}": a line is one directive, never a block`;
    if (c === '#') return 'contains "#" outside quotes (an nginx comment would swallow the rest)';
    if (c === '"' || c === "'") {
      let word = '';
      i++;
      while (i < line.length && at() !== c) {
        if (at() === '\\' && i + 1 < line.length) i++;
        word += at();
        i++;
      }
      if (i >= line.length) return `has an unclosed ${c} quote`;
      i++;
      words.push(word);
      continue;
    }
    let word = '';
    while (i < line.length && !/[\s;{}#"'\\]/.test(at())) word += line[i++];
    if (i < line.length && /["']/.test(at())) return 'has a quote inside a word';
    // nginx reads a backslash outside quotes as an escape, which could hide the terminator.
    if (i < line.length && at() === '\\') return 'has a backslash outside quotes';
    words.push(word);
  }
}

/** What is wrong with one of a service's `extraLocationLines`, or undefined. */
export function nginxLineProblem(line: string): string | undefined {
  const words = directiveWords(line);
  if (typeof words === 'string') return `${shown(line)} ${words}`;
  const [name, ...args] = words;
  if (!/^[a-z_][a-z0-9_]*$/.test(name!)) return `${shown(line)} does not start with a directive name`;
  if (DENIED_DIRECTIVES.includes(name!) || DENIED_PATTERNS.some((p) => p.test(name!)))
    return `directive "${name}" is not allowed in extra lines (it reaches files, listening, TLS or routing; use the service's typed fields)`;
  if (args.some((a) => OWN_VARIABLE.test(a))) return `${shown(line)} uses homeprod's own $homeprod_ variables`;
  return undefined;
}

const SSH_KEY_TYPES = ['ssh-ed25519', 'ssh-rsa', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'sk-ssh-ed25519@openssh.com', 'sk-ecdsa-sha2-nistp256@openssh.com'];

/** What is wrong with an authorized SSH key line (type, base64 key, optional comment), or undefined. */
export function sshKeyProblem(key: string): string | undefined {
  const [type, blob, ...comment] = key.split(' ');
  if (!SSH_KEY_TYPES.includes(type!)) return `${shown(key)} is not an SSH public key (it starts with one of ${SSH_KEY_TYPES.slice(0, 3).join(', ')}, ...)`;
  if (!blob || !/^[A-Za-z0-9+/]+={0,2}$/.test(blob)) return `${shown(key)} is not an SSH public key: after "${type}" comes the key in base64`;
  if (comment.some((word) => word === '') || !/^[\x21-\x7e ]*$/.test(comment.join(' '))) return `${shown(key)} has a comment of other than printable characters separated by single spaces`;
  return undefined;
}

/** Absolute path of plain characters, no `.`/`..` parts: safe in a shell word, a pattern and a unit name. */
export function absolutePathProblem(path: string): string | undefined {
  if (!/^(\/[A-Za-z0-9_@+-][A-Za-z0-9._@+-]*)+$/.test(path) || path.split('/').some((part) => part === '.' || part === '..'))
    return `${shown(path)} is not an absolute path of letters, digits and . _ - @ + (no "..", no trailing slash)`;
  return undefined;
}

/**
 * Where a data disk may not mount: the system's own trees, where a mount would hide or replace
 * what the system runs or trusts. An application's state under /etc (/etc/letsencrypt) is fine.
 */
const ETC_SYSTEM = ['ssh', 'sudoers.d', 'pam.d', 'security', 'systemd', 'cron.d', 'cron.daily', 'cron.hourly', 'ssl', 'apt', 'nginx', 'homeprod', 'network', 'default', 'init.d', 'profile.d', 'ld.so.conf.d', 'modprobe.d', 'sysctl.d', 'udev', 'dpkg', 'alternatives', 'polkit-1'];
const SYSTEM_TREES = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/boot', '/dev', '/proc', '/sys', '/run', '/var/lib/dpkg', '/var/lib/apt', '/var/lib/systemd', '/var/log', ...ETC_SYSTEM.map((d) => `/etc/${d}`)];
const SYSTEM_DIRS = ['/etc', '/var', '/var/lib', '/home', '/root', '/tmp', '/var/tmp', '/opt', '/srv', '/mnt', '/media'];

export function mountpointProblem(path: string): string | undefined {
  const plain = absolutePathProblem(path);
  if (plain) return plain;
  if (SYSTEM_DIRS.includes(path)) return `"${path}" is a system directory; mount a disk below it (e.g. ${path}/data)`;
  const tree = SYSTEM_TREES.find((t) => path === t || path.startsWith(`${t}/`));
  if (tree) return `"${path}" is inside the system's ${tree}; a data disk mounts elsewhere (e.g. /srv/<name>, /var/lib/<app>)`;
  return undefined;
}
