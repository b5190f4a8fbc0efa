// "Did you mean …?" for config typos: unknown fields, enum values, upstream and listener names.

/** Edit distance (insertions, deletions, substitutions) between two strings. */
export function levenshtein(a: string, b: string): number {
  if (a === b) return 0;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The candidate the user most likely meant: the closest one within edit distance 2 (1 for inputs of three
 * characters or fewer, where 2 would match almost anything), else one that the input starts or is the start of.
 * Case is ignored when comparing.
 *
 * @example
 * didYouMean('patPrefix', ['path', 'pathPrefix', 'pathRegex']); // 'pathPrefix'
 * didYouMean('least', ['round-robin', 'least-request']);       // 'least-request'
 * didYouMean('zzz', ['users']);                                 // undefined
 */
export function didYouMean(input: string, candidates: Iterable<string>): string | undefined {
  const wanted = input.toLowerCase();
  if (wanted === '') return undefined;
  const maxDistance = wanted.length <= 3 ? 1 : 2;
  let best: string | undefined;
  let bestDistance = Infinity;
  let byPrefix: string | undefined;
  for (const candidate of candidates) {
    const lower = candidate.toLowerCase();
    if (lower === wanted) return candidate;
    const distance = levenshtein(wanted, lower);
    if (distance <= maxDistance && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
    if (byPrefix === undefined && Math.min(wanted.length, lower.length) >= 3 && (lower.startsWith(wanted) || wanted.startsWith(lower))) {
      byPrefix = candidate;
    }
  }
  return best ?? byPrefix;
}

/** ` (did you mean "x"?)` when there is a likely candidate, else the empty string; ready to append to a message. */
export function suggestion(input: string, candidates: Iterable<string>): string {
  const match = didYouMean(input, candidates);
  return match === undefined ? '' : ` (did you mean "${match}"?)`;
}
