import {
  createClassifier,
  DEFAULT_MARGIN,
  DEFAULT_THRESHOLD,
  loadIntents,
  loadModel,
  OUT_OF_SCOPE,
  trainModel,
  type Classification,
  type Classifier,
  type IntentModel,
} from '../../src/nlu/classifier.js';
import { INTENTS_DIR, MODEL_FILE } from './helpers.js';

let model: IntentModel;
let classifier: Classifier;
let intentIds: string[];

beforeAll(async () => {
  model = await loadModel(MODEL_FILE);
  classifier = createClassifier(model, { threshold: DEFAULT_THRESHOLD });
  intentIds = (await loadIntents(INTENTS_DIR)).map((d) => d.intent).filter((i) => i !== OUT_OF_SCOPE);
});

function expectWellFormed(c: Classification): void {
  expect(c.confidence).toBeGreaterThanOrEqual(0);
  expect(c.confidence).toBeLessThanOrEqual(1);
  expect(c.route).toBe(c.intent === null ? 'triage' : 'fulfil');
  expect(c.intent).not.toBe(OUT_OF_SCOPE);
  expect(c.alternatives.length).toBeLessThanOrEqual(3);
  for (const a of c.alternatives) {
    expect(a.intent).not.toBe(OUT_OF_SCOPE);
    expect(a.intent).not.toBe(c.intent);
    expect(a.confidence).toBeGreaterThanOrEqual(0);
    expect(a.confidence).toBeLessThanOrEqual(1);
  }
  for (let i = 1; i < c.alternatives.length; i++) {
    expect(c.alternatives[i]!.confidence).toBeLessThanOrEqual(c.alternatives[i - 1]!.confidence);
  }
  const total = (c.intent === null ? 0 : c.confidence) + c.alternatives.reduce((s, a) => s + a.confidence, 0);
  expect(total).toBeLessThanOrEqual(1 + 1e-9);
  if (c.intent === null) {
    expect(c.reason).toBeDefined();
    expect(c.confidence).toBe(c.alternatives[0]?.confidence ?? 0);
  } else {
    expect(c.reason).toBeUndefined();
    expect(c.confidence).toBeGreaterThanOrEqual(DEFAULT_THRESHOLD);
    if (c.alternatives[0]) expect(c.alternatives[0].confidence).toBeLessThanOrEqual(c.confidence);
  }
}

describe('intent classifier (shipped model)', () => {
  it('knows every in-scope intent of intents/ and not the out-of-scope class', () => {
    expect([...classifier.intents].sort()).toEqual([...intentIds].sort());
    expect(classifier.intents).not.toContain(OUT_OF_SCOPE);
  });

  it('routes "I need access to the finance drive" to shared-drive-access', () => {
    const c = classifier.classify('I need access to the finance drive');
    expect(c).toMatchObject({ text: 'I need access to the finance drive', intent: 'shared-drive-access', route: 'fulfil' });
    expectWellFormed(c);
  });

  it.each([
    ['reset my password please', 'password-reset'],
    ['pasword resett', 'password-reset'], // spelling correction
    ['I got a new phone and need to set up my authenticator again', 'mfa-reset'],
    ['can you install Visio on my laptop', 'software-request'],
    ['I need VPN access to work from home', 'vpn-access'],
    ['outlook keeps crashing', 'report-issue'],
  ])('routes %j to %s', (text, intent) => {
    const c = classifier.classify(text);
    expect(c.intent).toBe(intent);
    expectWellFormed(c);
  });

  it('sends "what\'s the capital of France" to triage as out of scope', () => {
    const c = classifier.classify("what's the capital of France");
    expect(c).toMatchObject({ intent: null, route: 'triage', reason: 'out-of-scope' });
    expectWellFormed(c);
  });

  it.each(['hello', 'tell me a joke', 'what is the weather tomorrow'])('treats small talk %j as out of scope', (text) => {
    expect(classifier.classify(text)).toMatchObject({ intent: null, route: 'triage' });
  });

  it('gives reason no-known-words and confidence 0 when no word is known', () => {
    for (const text of ['xyzzy qwerty', '', '   ', '!!! ???', '12345']) {
      const c = classifier.classify(text);
      expect(c).toEqual({ text, intent: null, confidence: 0, route: 'triage', alternatives: [], reason: 'no-known-words' });
    }
  });

  it('keeps its invariants on every training example and on odd input', () => {
    const texts = [
      ...Object.keys(model.vocabulary).slice(0, 200),
      'I NEED A NEW LAPTOP!!!',
      'café ñandú — “quotes” and ’apostrophes’',
      'a'.repeat(5000),
      'password '.repeat(1000),
      '\u0000\u0001 weird \uFFFF control',
      '🙂 emoji only 🙂',
    ];
    for (const t of texts) expectWellFormed(classifier.classify(t));
  });

  it('threshold is configurable: 1 rejects everything, 0 with margin 0 accepts the top in-scope intent', () => {
    const strict = createClassifier(model, { threshold: 1 });
    const c = strict.classify('I need access to the finance drive');
    expect(c).toMatchObject({ intent: null, route: 'triage', reason: 'below-threshold' });
    expect(c.alternatives[0]?.intent).toBe('shared-drive-access'); // triage still sees the best guesses
    const lax = createClassifier(model, { threshold: 0, margin: 0 });
    const d = lax.classify('please help with the thing for my team');
    if (d.reason !== 'out-of-scope') expect(d.route).toBe('fulfil');
  });

  it('rejects thresholds and margins outside [0, 1]', () => {
    expect(() => createClassifier(model, { threshold: 1.5 })).toThrow(/threshold/);
    expect(() => createClassifier(model, { threshold: Number.NaN })).toThrow(/threshold/);
    expect(() => createClassifier(model, { threshold: 0.5, margin: -0.1 })).toThrow(/margin/);
  });

  it('has a default margin between 0 and the threshold', () => {
    expect(DEFAULT_MARGIN).toBeGreaterThanOrEqual(0);
    expect(DEFAULT_THRESHOLD).toBeGreaterThan(0);
    expect(DEFAULT_THRESHOLD).toBeLessThan(1);
  });

  it('classifies the same message the same way every time (latency is measured by npm run bench:nlu, not here)', () => {
    const texts = ['I need access to the finance drive', 'my laptop is broken and the screen flickers', 'hello there', 'pasword resett'];
    const first = texts.map((t) => classifier.classify(t));
    for (let i = 0; i < 50; i++) expect(texts.map((t) => classifier.classify(t))).toEqual(first);
  });
});

describe('decision rule on a tiny model', () => {
  const tiny = trainModel([
    { intent: 'alpha', examples: ['order a blue widget', 'blue widget please'] },
    { intent: 'beta', examples: ['order a blue widget', 'blue widget please'] }, // identical: a tie
    { intent: 'gamma', examples: ['reset the red gadget', 'red gadget reset'] },
    { intent: OUT_OF_SCOPE, examples: ['hello', 'good morning', 'thanks'] },
  ]);

  it('calls a near tie between the top two ambiguous', () => {
    const c = createClassifier(tiny, { threshold: 0.2, margin: 0.05 }).classify('blue widget');
    expect(c).toMatchObject({ intent: null, route: 'triage', reason: 'ambiguous' });
    expect(c.alternatives.map((a) => a.intent).slice(0, 2).sort()).toEqual(['alpha', 'beta']);
  });

  it('fulfils a clear winner and never returns the out-of-scope class', () => {
    const cl = createClassifier(tiny, { threshold: 0.3, margin: 0.05 });
    expect(cl.classify('red gadget reset please')).toMatchObject({ intent: 'gamma', route: 'fulfil' });
    expect(cl.classify('good morning')).toMatchObject({ intent: null, reason: 'out-of-scope' });
    expect(cl.intents).toEqual(['alpha', 'beta', 'gamma']);
  });

  it('works without an out-of-scope class', () => {
    const m = trainModel([
      { intent: 'a', examples: ['apple pie'] },
      { intent: 'b', examples: ['banana split'] },
    ]);
    expect(m.outOfScope).toBeNull();
    const c = createClassifier(m, { threshold: 0.5, margin: 0 }).classify('apple pie');
    expect(c.intent).toBe('a');
  });
});
