// Redaction of config YAML as written (the source, stored versions, diffs), by the rules of redact.ts, editing
// only the secret scalars in the YAML's concrete syntax tree so comments, order and layout stay exactly as
// written. And the way back: a config that was read redacted, edited and sent back carries "[redacted]" where
// a secret was; restoreRedacted puts the running config's value back at the same path, so get → edit → apply
// round-trips without anyone handling the secret.
import { Composer, CST, isPair, isScalar, isSeq, LineCounter, Parser, parseDocument, visit } from 'yaml';
import type { Document, Node, Scalar } from 'yaml';
import { isSecretKey, redactUrlPassword, REDACTED } from './redact.ts';

export interface PlaceholderError {
  line: number;
  column: number;
  path: string;
  message: string;
}

interface Parsed {
  tokens: CST.Token[];
  docs: Document.Parsed[];
  lines: LineCounter;
}

function parse(text: string): Parsed {
  const lines = new LineCounter();
  const tokens = [...new Parser(lines.addNewLine).parse(text)];
  const docs = [...new Composer({ keepSourceTokens: true }).compose(tokens)];
  return { tokens, docs, lines };
}

/** Every secret-looking scalar of the YAML replaced by "[redacted]"; text with no secret comes back as it was. */
export function redactYaml(text: string): string {
  const { tokens, docs } = parse(text);
  let changed = false;
  for (const doc of docs) {
    visit(doc, {
      Scalar(_key, node, path) {
        if (typeof node.value !== 'string' || !node.srcToken) return;
        const shown = redactedValue(parentKey(node, path), node.value);
        if (shown === node.value) return;
        CST.setScalarValue(node.srcToken, shown);
        changed = true;
      },
    });
  }
  return changed ? tokens.map((t) => CST.stringify(t)).join('') : text;
}

/**
 * Replaces each "[redacted]" placeholder with the value at the same path in `current` (whose redacted form must
 * be exactly the placeholder). A placeholder with nothing to restore is an error at its line and column.
 *
 * @example
 * restoreRedacted('auth: { password: "[redacted]" }\n', 'auth: { password: hunter2 }\n');
 * // { ok: true, text: 'auth: { password: "hunter2" }\n' }
 */
export function restoreRedacted(text: string, current: string | undefined): { ok: true; text: string } | { ok: false; errors: PlaceholderError[] } {
  if (!text.includes(REDACTED)) return { ok: true, text };
  const { tokens, docs, lines } = parse(text);
  const running = current === undefined ? undefined : parseDocument(current, { merge: true });
  const errors: PlaceholderError[] = [];
  let changed = false;
  for (const doc of docs) {
    visit(doc, {
      Scalar(_key, node, path) {
        if (typeof node.value !== 'string' || !node.value.includes(REDACTED) || !node.srcToken) return;
        const at = pathOf(node, path);
        const original = running?.getIn(at);
        if (typeof original === 'string' && redactedValue(parentKey(node, path), original) === node.value) {
          CST.setScalarValue(node.srcToken, original);
          changed = true;
          return;
        }
        const pos = lines.linePos(node.range?.[0] ?? 0);
        errors.push({
          line: pos.line,
          column: pos.col,
          path: at.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('').replace(/^\./, ''),
          message: `"${REDACTED}" is a placeholder the admin API shows instead of a secret, and the running config has no value here to keep; write the real value`,
        });
      },
    });
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, text: changed ? tokens.map((t) => CST.stringify(t)).join('') : text };
}

function redactedValue(key: string | undefined, value: string): string {
  return key !== undefined && isSecretKey(key) ? REDACTED : redactUrlPassword(value);
}

/** The key of the map entry whose value is `node`, if it is one. */
function parentKey(node: Scalar, path: readonly unknown[]): string | undefined {
  const parent = path[path.length - 1];
  if (isPair(parent) && parent.value === node && isScalar(parent.key)) return String(parent.key.value);
  return undefined;
}

/** Keys and sequence indexes from the document root down to `node`. */
function pathOf(node: Node, ancestors: readonly unknown[]): Array<string | number> {
  const out: Array<string | number> = [];
  const chain = [...ancestors, node];
  for (let i = 0; i < chain.length - 1; i++) {
    const here = chain[i];
    const next = chain[i + 1];
    if (isPair(here) && isScalar(here.key)) out.push(String(here.key.value));
    else if (isSeq(here)) out.push(here.items.indexOf(next as Node));
  }
  return out;
}
