// Unified diff of two config texts, as `diff -u` prints it, for the admin API's version diffs and dry runs.
// The `diff` package (jsdiff) does the line diff and the hunks; writing Myers' algorithm and hunk assembly by
// hand would be more code to get wrong than the dependency.
import { createTwoFilesPatch, FILE_HEADERS_ONLY } from 'diff';

/**
 * The unified diff from `before` to `after` with 3 lines of context; "" when they are equal.
 *
 * @example
 * unifiedDiff('a\nb\n', 'a\nc\n', 'version 1', 'version 2');
 * // '--- version 1\n+++ version 2\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n'
 */
export function unifiedDiff(before: string, after: string, beforeName: string, afterName: string): string {
  if (before === after) return '';
  return createTwoFilesPatch(beforeName, afterName, before, after, undefined, undefined, { context: 3, headerOptions: FILE_HEADERS_ONLY });
}
