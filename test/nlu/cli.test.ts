import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { runNluCommand } from '../../src/cli/nlu-commands.js';
import { INTENTS_DIR, ROOT } from './helpers.js';

function run(args: string[], stdin: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'errand.js'), ...args], { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

function memoryIo(stdin = ''): { io: Parameters<typeof runNluCommand>[3] & object; out: () => string; err: () => string } {
  const input = new PassThrough();
  input.end(stdin);
  let out = '';
  let err = '';
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  stdout.on('data', (d: Buffer) => { out += d.toString(); });
  stderr.on('data', (d: Buffer) => { err += d.toString(); });
  return { io: { stdin: input, stdout, stderr }, out: () => out, err: () => err };
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'errand-cli-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('errand classify --jsonl (child process)', () => {
  it('writes exactly one JSON object per non-blank input line, with the exact keys', async () => {
    const lines = [
      'I need access to the finance drive',
      '',
      "what's the capital of France",
      '   ',
      'xyzzy qwerty',
      '{"not": "a message"}',
      'reset my password\r',
      'ünïcödé 🙂 \\ "quotes"',
    ];
    const { code, stdout, stderr } = await run(['classify', '--jsonl'], `${lines.join('\n')}\n`);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const out = stdout.split('\n');
    expect(out.pop()).toBe('');
    const expected = lines.map((l) => l.replace(/\r$/, '')).filter((l) => l.trim() !== '');
    expect(out).toHaveLength(expected.length);
    const records = out.map((l) => JSON.parse(l) as Record<string, unknown>);
    records.forEach((r, i) => {
      expect(Object.keys(r)).toEqual(['text', 'intent', 'confidence', 'route', 'alternatives']);
      expect(r.text).toBe(expected[i]);
      expect(typeof r.confidence).toBe('number');
      expect(r.route).toBe(r.intent === null ? 'triage' : 'fulfil');
      expect(Array.isArray(r.alternatives)).toBe(true);
      for (const a of r.alternatives as Record<string, unknown>[]) {
        expect(Object.keys(a)).toEqual(['intent', 'confidence']);
      }
    });
    expect(records[0]).toMatchObject({ intent: 'shared-drive-access', route: 'fulfil' });
    expect(records[1]).toMatchObject({ intent: null, route: 'triage' });
    expect(records[2]).toMatchObject({ intent: null, confidence: 0, alternatives: [] });
    expect(records[4]).toMatchObject({ text: 'reset my password', intent: 'password-reset' });
  }, 30000);

  it('--threshold applies to the stream', async () => {
    const { code, stdout } = await run(['classify', '--jsonl', '--threshold', '1'], 'I need access to the finance drive\n');
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ intent: null, route: 'triage' });
  }, 30000);

  it('prints ranked intents for one message', async () => {
    const { code, stdout } = await run(['classify', 'I need access to the finance drive'], '');
    expect(code).toBe(0);
    expect(stdout).toMatch(/shared-drive-access/);
    expect(stdout).toMatch(/fulfil, confidence [01]\.\d{3}/);
  }, 30000);
});

describe('runNluCommand', () => {
  it('fails clearly when the model file is missing', async () => {
    const m = memoryIo('hello\n');
    expect(await runNluCommand('classify', ['--jsonl'], tmp, m.io)).toBe(1);
    expect(m.err()).toMatch(/intent model not found: .*run `errand train`/);
    expect(m.out()).toBe('');
  });

  it('fails clearly when the model file is invalid', async () => {
    const root = path.join(tmp, 'bad-model');
    await mkdir(path.join(root, 'models'), { recursive: true });
    await writeFile(path.join(root, 'models', 'intent-model.json'), '{"format": "errand-intent-model", "version": 1}');
    const m = memoryIo();
    expect(await runNluCommand('classify', ['hello'], root, m.io)).toBe(1);
    expect(m.err()).toMatch(/invalid or from an older version.*errand train/);
  });

  it('rejects bad options with a usage message (exit 2)', async () => {
    for (const args of [['--threshold', '2', 'x'], ['--threshold', 'abc', 'x'], ['--frobnicate', 'x'], [], ['--jsonl', 'extra text']]) {
      const m = memoryIo();
      expect(await runNluCommand('classify', args, ROOT, m.io)).toBe(2);
      expect(m.err()).toMatch(/usage:/);
    }
  });

  it('errand train writes the model and prints counts, time and held-out figures', async () => {
    const root = path.join(tmp, 'train-root');
    // a part of the real data (the whole of it is trained by model.test.ts), so this stays quick on 2 busy cores
    await mkdir(path.join(root, 'intents'), { recursive: true });
    for (const f of ['vpn-access.yaml', 'password-reset.yaml', 'laptop-request.yaml', 'mfa-reset.yaml', '_out_of_scope.yaml', '_lexicon.yaml']) {
      await cp(path.join(INTENTS_DIR, f), path.join(root, 'intents', f));
    }
    const m = memoryIo();
    expect(await runNluCommand('train', [], root, m.io)).toBe(0);
    const out = m.out();
    expect(out).toMatch(/intents: 4 in scope \+ _out_of_scope/);
    expect(out).toMatch(/lexicon: 14 entity types, \d+ names \(intents\/_lexicon\.yaml\)/);
    expect(out).toMatch(/examples: \d+ \(\d+ in scope, \d+ out of scope\)/);
    expect(out).toMatch(/trained on all \d+ examples in \d+ ms/);
    expect(out).toMatch(/in-scope accuracy\s+[01]\.\d{3}/);
    expect(out).toMatch(/out-of-scope recall\s+[01]\.\d{3}/);
    expect(out).toMatch(/macro-F1\s+[01]\.\d{3}/);
    expect(out).toMatch(/calibration: temperature [\d.]+ fitted on \d+ out-of-fold predictions/);
    expect((await stat(path.join(root, 'models', 'intent-model.json'))).size).toBeGreaterThan(1000);

    const c = memoryIo('I need VPN access\n');
    expect(await runNluCommand('classify', ['--jsonl'], root, c.io)).toBe(0);
    expect(JSON.parse(c.out())).toMatchObject({ intent: 'vpn-access' });
  }, 180_000); // trains 1 + 5 (calibration) + 6 (held-out evaluation) models

  it('errand train reports bad training data by file and exits 1', async () => {
    const root = path.join(tmp, 'bad-intents');
    await mkdir(path.join(root, 'intents'), { recursive: true });
    await writeFile(path.join(root, 'intents', 'oops.yaml'), 'intent: oops\nexamples: []\n');
    const m = memoryIo();
    expect(await runNluCommand('train', [], root, m.io)).toBe(1);
    expect(m.err()).toMatch(/oops\.yaml: examples/);
  });
});
