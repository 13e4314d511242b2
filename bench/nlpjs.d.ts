/** Minimal types for the parts of NLP.js (@nlpjs/nlp, @nlpjs/lang-en-min 4.x, no bundled types) the benchmark uses. */
declare module '@nlpjs/nlp' {
  export interface NlpClassification { intent: string; score: number }
  export interface NlpResult {
    intent: string;
    score: number;
    classifications?: NlpClassification[];
  }
  export interface NlpSettings {
    languages?: string[];
    autoSave?: boolean;
    autoLoad?: boolean;
    /** Score below which process() answers 'None' (default 0.5). */
    threshold?: number;
    calculateSentiment?: boolean;
    forceNER?: boolean;
    nlu?: Record<string, unknown>;
    log?: boolean;
    [key: string]: unknown;
  }
  export class Nlp {
    constructor(settings?: NlpSettings);
    container: { use(plugin: unknown): unknown };
    addDocument(locale: string, utterance: string, intent: string): void;
    train(): Promise<unknown>;
    /** Intent classification only (the NLU manager), no NER / NLG / sentiment. */
    classify(locale: string, utterance: string): Promise<NlpResult>;
    process(locale: string, utterance: string): Promise<NlpResult>;
    export(minified?: boolean): string;
  }
}

declare module '@nlpjs/lang-en-min' {
  export const LangEn: unknown;
}
