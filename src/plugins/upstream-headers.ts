// The upstream request's fields as plugins change them: a view over the flat [name, value, …] list that
// proxy/forward-headers.ts builds and undici sends as is. Host stays in its fixed first slot (a request carries
// exactly one, RFC 9112 §3.2), and the trace-header slots the exchange rewrites per attempt are kept track of.
import type { UpstreamHeaders } from './api.ts';

/** What the view needs of the request: the list, and where the trace headers' values sit (-1: removed). */
export interface HeaderListOwner {
  headers: string[];
  traceSlots: number[];
}

export class UpstreamHeaderList implements UpstreamHeaders {
  readonly #owner: HeaderListOwner;

  constructor(owner: HeaderListOwner) {
    this.#owner = owner;
  }

  get(name: string): string | undefined {
    const key = name.toLowerCase();
    const list = this.#owner.headers;
    let value: string | undefined;
    for (let i = 0; i < list.length; i += 2) {
      if (list[i]!.toLowerCase() === key) value = value === undefined ? list[i + 1]! : `${value}, ${list[i + 1]!}`;
    }
    return value;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  set(name: string, value: string): void {
    checkValue(name, value);
    if (name.toLowerCase() === 'host') {
      this.#owner.headers[1] = value;
      return;
    }
    this.delete(name);
    this.#owner.headers.push(name, value);
  }

  add(name: string, value: string): void {
    checkValue(name, value);
    if (name.toLowerCase() === 'host') return this.set(name, value);
    this.#owner.headers.push(name, value);
  }

  delete(name: string): void {
    const key = name.toLowerCase();
    if (key === 'host') return; // the request keeps its Host; set() changes it
    const owner = this.#owner;
    const list = owner.headers;
    for (let i = list.length - 2; i >= 2; i -= 2) {
      if (list[i]!.toLowerCase() !== key) continue;
      list.splice(i, 2);
      const slots = owner.traceSlots;
      for (let s = 0; s < slots.length; s++) {
        if (slots[s] === i + 1) slots[s] = -1;
        else if (slots[s]! > i) slots[s]! -= 2;
      }
    }
  }
}

/** A field value with CR, LF or NUL would split the request (request smuggling): refuse it loudly. */
function checkValue(name: string, value: string): void {
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new TypeError(`invalid header name "${name}"`);
  if (/[\r\n\0]/.test(value)) throw new TypeError(`invalid value for header "${name}": CR, LF and NUL are not allowed`);
}
