// The SSM documents as shipped: the same as the shell scripts they are built from, valid shell, and parameters whose
// patterns keep every value inside its quotes.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { buildSsmDocuments, shippedSsmDocuments } from '../../providers/fleet/ssm-documents';
import { DEFAULT_DOCUMENTS } from '../../providers/fleet/ssm-fleet';

describe('SSM documents', () => {
  it('ship as the scripts in deploy/ssm/scripts make them (run npm run ssm:documents after changing one)', () => {
    const shipped = shippedSsmDocuments();
    expect(Object.keys(shipped).sort()).toEqual(Object.values(DEFAULT_DOCUMENTS).sort());
    expect(shipped).toEqual(buildSsmDocuments());
  });

  it('are valid POSIX shell once SSM has put the parameters in', () => {
    for (const [name, document] of Object.entries(shippedSsmDocuments())) {
      const script = (document.mainSteps[0]?.inputs.runCommand ?? [])
        .map((line) => line.replace(/\{\{\s*(\w+)\s*\}\}/g, 'x'))
        .join('\n');
      const check = spawnSync('/bin/sh', ['-n'], { input: script, encoding: 'utf8' });
      expect([name, check.status, check.stderr]).toEqual([name, 0, '']);
    }
  });

  it('refuse parameter values that could leave their quotes (SSM checks allowedPattern before any host runs)', () => {
    const hostile = [
      "1.0.0'; reboot; '",
      '1.0.0 && reboot',
      'a`reboot`',
      'x\\',
      'x"y',
      "https://h/a'b",
      'https://h/a b',
    ];
    for (const document of Object.values(shippedSsmDocuments())) {
      for (const [name, parameter] of Object.entries(document.parameters)) {
        const pattern = new RegExp(parameter.allowedPattern);
        for (const value of hostile) expect([name, value, pattern.test(value)]).toEqual([name, value, false]);
      }
    }
    const deploy = shippedSsmDocuments()['ReleaseEngine-Deploy'];
    expect(
      new RegExp(deploy?.parameters.artifactUrl?.allowedPattern ?? '^$').test(
        'https://releases.example.com/artifacts/v1/hello/1.2.0?digest=sha256%3Aab&expires=1&sig=a-b_c',
      ),
    ).toBe(true);
  });
});
