// YAML that Ansible reads but never templates: every string value homeprod writes into an
// inventory or vars file is tagged `!unsafe`, so a `{{ ... }}` that reached a site value is
// data, not a Jinja2 expression run as root on the control node. Keys stay plain (they are
// our own names, and Ansible's inventory parser reads them as structure).
import { Document, parse, visit, type ScalarTag } from 'yaml';

const UNSAFE: ScalarTag = { tag: '!unsafe', identify: () => false, resolve: (text) => text };

export function stringifyAnsibleYaml(value: unknown): string {
  const doc = new Document(value, { customTags: [UNSAFE] });
  visit(doc, {
    Scalar(key, node) {
      if (key !== 'key' && typeof node.value === 'string') node.tag = '!unsafe';
    },
  });
  return doc.toString({ lineWidth: 0, nullStr: '' });
}

/** Reads what stringifyAnsibleYaml wrote (`!unsafe` strings back as plain strings). */
export function parseAnsibleYaml(text: string): unknown {
  return parse(text, { customTags: [UNSAFE] });
}
