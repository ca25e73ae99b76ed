/**
 * CI gate for the HTTP caching conformance run (http-cache-tests). It asserts the counts do
 * not regress from the figures recorded in the README's edge section.
 */
import { describe, expect, it } from 'vitest';
import { runConformance } from './runner.js';

/** Recorded figures (README, edge section). Lower the failure bound when a fix lands. */
const RECORDED = { minPassed: 220, maxRequiredFailures: 0 };

describe('http-cache-tests conformance', () => {
  it('passes at least the recorded tests with no more than the recorded required failures', {
    timeout: 240_000,
  }, async () => {
    const report = await runConformance();
    process.stdout.write(`\nedge: ${JSON.stringify(report.edge)}\n`);
    for (const [name, c] of Object.entries(report.published))
      process.stdout.write(`${name}: ${JSON.stringify(c)}\n`);
    for (const f of report.failures) process.stdout.write(`FAIL ${f.id}: ${f.name} — ${f.detail}\n`);
    for (const f of report.optional) process.stdout.write(`OPTIONAL ${f.id}: ${f.name} — ${f.detail}\n`);
    expect(report.edge.passed).toBeGreaterThanOrEqual(RECORDED.minPassed);
    expect(report.edge.requiredFailures).toBeLessThanOrEqual(RECORDED.maxRequiredFailures);
  });
});
