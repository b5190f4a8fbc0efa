// Rates as config writes them ("100/s", "6000/m"): the parser lives with the config schema (config imports
// nothing of the runtime), the runtime adds what GCRA needs.
import type { Rate } from '../../config/resilience-schema.ts';

export { parseRate, type Rate } from '../../config/resilience-schema.ts';

/** The GCRA emission interval: ms between two requests at the steady rate. */
export function emissionIntervalMs(rate: Rate): number {
  return rate.periodMs / rate.count;
}
