/**
 * fast-check settings shared by the fuzz suites (test/fuzz): a fixed seed, so CI runs the same cases
 * every time (fast-check prints the seed and the counterexample's path on failure: rerun with
 * FUZZ_SEED=<seed> to reproduce), and run counts sized so each file stays well under a minute on
 * two shared cores. FUZZ_SEED and FUZZ_SCALE (a multiplier of every numRuns) explore further locally.
 */
import fc from 'fast-check';

export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20261127);
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);

/** Parameters for fc.assert: the seed, `numRuns` scaled, stop at the first failure. */
export function runs(numRuns: number, extra: Partial<fc.Parameters<unknown>> = {}): fc.Parameters<unknown> {
  return { seed: FUZZ_SEED, numRuns: Math.max(1, Math.round(numRuns * SCALE)), endOnFailure: true, ...extra };
}

/** Strings that break parsers: control characters, markup, quotes, long runs, astral and RTL characters. */
export const hostileString = (maxLength = 200): fc.Arbitrary<string> => fc.oneof(
  fc.string({ maxLength }),
  fc.string({ unit: 'grapheme', maxLength }),
  fc.string({ unit: 'binary', maxLength }),
  fc.constantFrom('', ' ', '\u0000', '\u001b[31m', '\r\n', '\u202E', '{{requester.email}}', '${process.env}', '<!channel>', "'; DROP TABLE requests; --",
    '🔥', 'null', 'undefined', '__proto__', 'constructor', '0', '-1', '1e309', 'NaN', '2027-02-30', '31/12/2027', 'next friday', 'yes', 'no', '1,2', 'a'.repeat(5000)),
  fc.array(fc.constantFrom('a', '1', ' ', ',', '-', ':', '.', '/', '@', '\n', 'é', '😀', '\u0000', '{', '}', '"', "'", '<', '>', 'and', 'k', '$', '€'), { maxLength: 40 }).map((a) => a.join('')),
);
