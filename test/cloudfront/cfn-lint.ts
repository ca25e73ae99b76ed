/**
 * Runs AWS's CloudFormation linter (cfn-lint, github.com/aws-cloudformation/cfn-lint) on a
 * template: it checks every resource against the resource provider schemas AWS publishes
 * (the same schemas CloudFormation validates a stack with), so the template is judged by AWS's
 * reading of AWS::CloudFront::*, not ours. cfn-lint ships with this machine kind's Python
 * (pip 3.11, cfn-lint 1.51.0); PyPI itself is not reachable here, so it cannot be installed by
 * the test run.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CfnLintFinding {
  rule: string;
  level: string;
  message: string;
  path: string;
}

interface RawFinding {
  Filename: string;
  Rule: { Id: string };
  Level: string;
  Message: string;
  Location: { Path: Array<string | number> };
}

/**
 * Every finding cfn-lint reports (errors, warnings and informational), per template name. One
 * cfn-lint process for all of them: its start-up (loading the schemas) is most of its time.
 */
export function cfnLint(templates: Record<string, unknown>): Promise<Record<string, CfnLintFinding[]>> {
  const dir = mkdtempSync(join(tmpdir(), 'edgewise-cfn-lint-'));
  const files = new Map<string, string>();
  for (const [name, template] of Object.entries(templates)) {
    const file = join(dir, `${String(files.size)}.json`);
    writeFileSync(file, JSON.stringify(template, null, 2));
    files.set(file, name);
  }
  return new Promise((resolve, reject) => {
    execFile(
      'cfn-lint',
      ['--format', 'json', '--regions', 'us-east-1', '--include-checks', 'I', '--', ...files.keys()],
      { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        // Exit status is a bit mask of the levels found (2 error, 4 warning, 8 info); only a
        // missing binary or unparsable output is a failure of the tool itself.
        if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
          reject(new Error('cfn-lint is not on PATH (it comes with the machine’s Python: pip 3.11)'));
          return;
        }
        try {
          const raw = JSON.parse(stdout) as RawFinding[];
          const out: Record<string, CfnLintFinding[]> = {};
          for (const name of files.values()) out[name] = [];
          for (const f of raw)
            out[files.get(f.Filename) ?? f.Filename]?.push({
              rule: f.Rule.Id,
              level: f.Level,
              message: f.Message,
              path: f.Location.Path.join('/'),
            });
          resolve(out);
        } catch {
          reject(new Error(`cfn-lint gave no JSON (exit ${String(err?.code)}): ${stderr || stdout}`));
        }
      },
    );
  });
}
