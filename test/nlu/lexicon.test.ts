import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createClassifier, createScorer, loadIntents, parseModel, serialiseModel, trainModel } from '../../src/nlu/classifier.js';
import { LEXICON_FILE, LexiconError, lexiconMatcher, loadLexicon, parseLexicon } from '../../src/nlu/lexicon.js';
import { words } from '../../src/nlu/text.js';
import { INTENTS_DIR } from './helpers.js';

const LEXICON = `types:
  laptop-model:
    - ThinkPad
    - ThinkPad X1 Carbon
    - Dell Latitude
    - Latitude 7440
    - MacBook Pro
  authenticator:
    - YubiKey
    - Okta Verify
    - Authy
`;

/** Two intents whose examples name a few products; the lexicon knows more products of the same types. */
const DATA = [
  { intent: 'laptop-request', examples: ['I need a new ThinkPad', 'my MacBook Pro is too slow, can I get a new one', 'order me a ThinkPad X1 Carbon please', 'request a laptop for the new hire', 'my laptop screen is cracked, I need a replacement'] },
  { intent: 'mfa-reset', examples: ['I lost my YubiKey', 'reset my Okta Verify please', 'my authenticator app stopped working', 'new phone, need to move my MFA', 'reset my two factor'] },
];

describe('lexicon file', () => {
  it('compiles entries to the classifier\'s words, numbers folded, duplicates dropped', () => {
    const lex = parseLexicon(`types:\n  phone-model:\n    - iPhone 15 Pro\n    - "iPhone 14 Pro"\n    - Galaxy\n`);
    expect(lex).toEqual({ 'phone-model': [['iphone', '#num', 'pro'], ['galaxy']] });
  });

  it('names every problem: bad type ids, empty types, entries that are only a number, broken YAML', () => {
    const bad = () => parseLexicon(`types:\n  Laptop Model:\n    - ThinkPad\n  forms:\n    - "1099"\n  empty: []\n`, 'intents/_lexicon.yaml');
    expect(bad).toThrow(LexiconError);
    let err: LexiconError | undefined;
    try { bad(); } catch (e) { err = e as LexiconError; }
    expect(err!.message).toMatch(/intents\/_lexicon\.yaml is invalid/);
    expect(err!.problems.join('\n')).toMatch(/Laptop Model.*lower-case letters/);
    expect(err!.problems.join('\n')).toMatch(/empty: a type needs at least one entry/);
    expect(() => parseLexicon('types:\n  forms:\n    - "1099"\n')).toThrow(/"1099" is only a number, which would match every number/);
    expect(() => parseLexicon('types: [unclosed')).toThrow(/not valid YAML/);
  });

  it('a folder without a lexicon has none; loadIntents never reads the lexicon as an intent', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'errand-lexicon-'));
    try {
      await writeFile(path.join(dir, 'vpn-access.yaml'), 'intent: vpn-access\nexamples: [vpn please]\n');
      expect(await loadLexicon(dir)).toBeUndefined();
      await writeFile(path.join(dir, LEXICON_FILE), LEXICON);
      expect((await loadIntents(dir)).map((d) => d.intent)).toEqual(['vpn-access']);
      expect(Object.keys((await loadLexicon(dir))!)).toEqual(['laptop-model', 'authenticator']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the shipped lexicon parses and is not matched by ordinary sentences', async () => {
    const lex = (await loadLexicon(INTENTS_DIR))!;
    expect(Object.keys(lex).length).toBeGreaterThanOrEqual(10);
    const m = lexiconMatcher(lex);
    for (const s of ['I need access to the finance drive', 'please reset my password', 'my laptop is broken and I need a new one', 'can I get 2 monitors for my desk', 'add me to the team channel']) {
      expect({ s, types: m.match(words(s)).types }).toEqual({ s, types: [] });
    }
  });
});

describe('matching', () => {
  const m = lexiconMatcher(parseLexicon(LEXICON));
  it('finds phrases as whole words, longest first, and reports the words they cover', () => {
    const ws = words('Can I swap my ThinkPad X1 Carbon for a Dell Latitude 7440?');
    const r = m.match(ws);
    expect(r.types).toEqual(['laptop-model']);
    expect([...r.covered].map((i) => ws[i])).toEqual(['thinkpad', 'x1', 'carbon', 'dell', 'latitude', '#num']);
    expect(m.match(words('thinkpadx1 and okta')).types).toEqual([]); // no partial words, no partial phrases
    expect(m.match(words('my yubikey and authy')).types).toEqual(['authenticator']);
  });
});

describe('as a feature', () => {
  const lexicon = parseLexicon(LEXICON);
  it('a product the training examples never name is recognised by its type', () => {
    const withLex = createClassifier(trainModel(DATA, { lexicon }), { threshold: 0, margin: 0 });
    const without = createClassifier(trainModel(DATA), { threshold: 0, margin: 0 });
    // "Latitude 7440" and "Authy" appear in no example, only in the lexicon
    expect(withLex.classify('Latitude 7440').intent).toBe('laptop-request');
    expect(withLex.classify('Authy').intent).toBe('mfa-reset');
    // without the lexicon they are unknown words: nothing to go on
    expect(without.classify('Latitude 7440').reason).toBe('no-known-words');
    expect(without.classify('Authy').reason).toBe('no-known-words');
  });

  it('lexicon words are not spelling-corrected to vocabulary words', () => {
    const model = trainModel([...DATA, { intent: 'vpn-access', examples: ['I need the VPN', 'vpn access for working from home', 'authorize me on the vpn'] }], { lexicon });
    // "authy" is one edit from nothing the model knows except through the lexicon; it must count as the authenticator type
    const p = createScorer(model).score('Authy')!;
    expect(model.classes[p.indexOf(Math.max(...p))]).toBe('mfa-reset');
  });

  it('the lexicon travels inside the model: a reloaded model matches the same way', () => {
    const model = trainModel(DATA, { lexicon });
    expect(model.lexicon).toEqual(lexicon);
    const again = parseModel(serialiseModel(model));
    const a = createClassifier(model, { threshold: 0.4 });
    const b = createClassifier(again, { threshold: 0.4 });
    for (const t of ['Latitude 7440', 'Authy', 'my Okta Verify is gone']) expect(b.classify(t)).toEqual(a.classify(t));
  });
});
