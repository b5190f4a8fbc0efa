// Validated config is immutable: a snapshot built from it can never see it change underneath.

/**
 * Freezes a value and everything reachable from it, in place; returns the same value.
 *
 * @example
 * const config = deepFreeze({ routes: [{ name: 'a' }] });
 * Object.isFrozen(config.routes[0]); // true
 */
export function deepFreeze<T>(value: T, seen = new WeakSet<object>()): T {
  if (typeof value !== 'object' || value === null || seen.has(value)) return value;
  seen.add(value);
  Object.freeze(value);
  for (const key of Reflect.ownKeys(value)) deepFreeze((value as Record<PropertyKey, unknown>)[key], seen);
  return value;
}
