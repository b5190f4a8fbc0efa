// Templated values in plugin config ("Bearer ${consumer.metadata.token}", "https://${request.host}${request.url}"):
// parsed once when the config is loaded, so a mistake is a config error with its path, and the request path only
// joins prepared parts (plugins/template.ts evaluates them).

/** The variables a template may use; `.NAME` ones take a header, query parameter or metadata key. */
export const TEMPLATE_VARIABLES = [
  'request.id', 'request.method', 'request.path', 'request.url', 'request.host', 'request.scheme',
  'request.header.NAME', 'request.query.NAME', 'client.ip', 'route.name', 'upstream.name',
  'consumer.id', 'consumer.groups', 'consumer.metadata.NAME',
] as const;

export type TemplateVariable =
  | 'request.id' | 'request.method' | 'request.path' | 'request.url' | 'request.host' | 'request.scheme'
  | 'request.header' | 'request.query' | 'client.ip' | 'route.name' | 'upstream.name'
  | 'consumer.id' | 'consumer.groups' | 'consumer.metadata';

export interface TemplateRef {
  readonly variable: TemplateVariable;
  /** The header (lower-case), query parameter or metadata key of the `.NAME` variables. */
  readonly name: string | undefined;
}

/** Literal text and references, in order. */
export type TemplateParts = ReadonlyArray<string | TemplateRef>;

const SIMPLE = new Set<string>(['request.id', 'request.method', 'request.path', 'request.url', 'request.host', 'request.scheme', 'client.ip', 'route.name', 'upstream.name', 'consumer.id', 'consumer.groups']);
const WITH_NAME = ['request.header.', 'request.query.', 'consumer.metadata.'] as const;

/**
 * Parses a template; a string is the error. `$${` writes a literal `${`.
 *
 * @example
 * parseTemplate('id=${consumer.id}'); // ['id=', { variable: 'consumer.id', name: undefined }]
 * parseTemplate('${consumer.nme}');   // 'unknown variable "consumer.nme" in ${…}; use one of request.id, …'
 */
export function parseTemplate(text: string): TemplateParts | string {
  const parts: Array<string | TemplateRef> = [];
  let literal = '';
  let i = 0;
  while (i < text.length) {
    if (text.startsWith('$${', i)) {
      literal += '${';
      i += 3;
      continue;
    }
    if (!text.startsWith('${', i)) {
      literal += text[i];
      i++;
      continue;
    }
    const end = text.indexOf('}', i + 2);
    if (end === -1) return `unclosed "\${" at character ${i + 1}; write $\${ for a literal "\${"`;
    const ref = parseRef(text.slice(i + 2, end).trim());
    if (typeof ref === 'string') return ref;
    if (literal !== '') parts.push(literal);
    literal = '';
    parts.push(ref);
    i = end + 1;
  }
  if (literal !== '') parts.push(literal);
  return parts;
}

function parseRef(expression: string): TemplateRef | string {
  if (SIMPLE.has(expression)) return { variable: expression as TemplateVariable, name: undefined };
  for (const prefix of WITH_NAME) {
    if (expression.startsWith(prefix) && expression.length > prefix.length) {
      const name = expression.slice(prefix.length);
      return { variable: prefix.slice(0, -1) as TemplateVariable, name: prefix === 'request.header.' ? name.toLowerCase() : name };
    }
  }
  return `unknown variable "${expression}" in \${…}; use one of ${TEMPLATE_VARIABLES.join(', ')}`;
}

/** Whether a template has any reference (a plain string needs no evaluation per request). */
export function isLiteral(parts: TemplateParts): boolean {
  return parts.every((p) => typeof p === 'string');
}
