/**
 * Prints every skipped test's reason after the run, so the default `npm test` output says why
 * something did not run (vitest's default reporter shows only a count). The reason is the note
 * given to `ctx.skip(reason)`, or else the name of the outermost suite, which the suites that
 * skip a whole block (real S3, real Chromium) write their reason into. One line per reason and
 * file, with how many tests it skipped.
 */
import type { Reporter, TestCase, TestModule } from 'vitest/node';

function reasonOf(test: TestCase, note: string | undefined): string {
  if (note) return `${test.fullName}: ${note}`;
  let suite = test.parent;
  while (suite.type === 'suite' && suite.parent.type === 'suite') suite = suite.parent;
  return suite.type === 'suite' ? suite.name : test.name;
}

export default class SkipReasonsReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const counts = new Map<string, number>();
    for (const mod of testModules) {
      const file = mod.moduleId.replace(`${process.cwd()}/`, '');
      for (const test of mod.children.allTests()) {
        const result = test.result();
        if (result.state !== 'skipped') continue;
        const key = `${file} › ${reasonOf(test, result.note)}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }
    if (counts.size === 0) return;
    const lines = [...counts].map(([key, n]) => `  ${key} (${n} test${n === 1 ? '' : 's'})`);
    process.stdout.write(`\nSkipped, with the reason:\n${lines.join('\n')}\n`);
  }
}
