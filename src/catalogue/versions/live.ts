/**
 * The catalogue the running service serves: the current version from the store, swapped in place
 * when another version becomes current (a publish or rollback in this process at once; in other
 * processes, e.g. the CLI, on the next poll), plus older versions by number for requests and
 * dialogs pinned to them.
 *
 *   current()        the current version's catalogue (an immutable value per version)
 *   view             a Catalogue that always delegates to current(): hand it to code that keeps a value
 *   at(n)            the catalogue of version n (cached; undefined when there is no such version)
 *   refresh()        re-reads which version is current; true when it changed
 *
 * Items are re-parsed with today's catalogue schema when a version is loaded, so defaults added to
 * the schema after the version was stored are filled in; an item the schema no longer accepts is
 * served as stored (and logged).
 */
import { makeCatalogue, type Catalogue } from '../loader.js';
import { catalogueItemSchema, type CatalogueItem } from '../schema.js';
import type { Logger } from '../../log.js';
import { restartNeededBetween, type CatalogueVersion, type CatalogueVersionStore } from './store.js';

/** A catalogue that knows which version it is. */
export interface VersionedCatalogue extends Catalogue {
  readonly version: number;
  readonly contentHash: string;
}

/** The version number of a catalogue from the live provider (undefined for a plain Catalogue). */
export function versionOf(c: Catalogue | undefined): number | undefined {
  const v = (c as Partial<VersionedCatalogue> | undefined)?.version;
  return typeof v === 'number' ? v : undefined;
}

/** Builds the catalogue of a stored version (items re-parsed with the current schema). */
export function catalogueOfVersion(v: Pick<CatalogueVersion, 'number' | 'contentHash' | 'documents'>, log?: Logger): VersionedCatalogue {
  const items: CatalogueItem[] = v.documents.items.map((raw) => {
    const parsed = catalogueItemSchema.safeParse(raw);
    if (parsed.success) return parsed.data;
    log?.warn({ version: v.number, item: raw.id, problems: parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`) }, 'catalogue item no longer matches the schema; served as stored');
    return raw;
  });
  return Object.assign(makeCatalogue(items), { version: v.number, contentHash: v.contentHash });
}

const CACHE_SIZE = 16;

export class LiveCatalogue {
  private cur: VersionedCatalogue;
  private startedWith: Pick<CatalogueVersion, 'files' | 'model'>;
  private readonly cache = new Map<number, Promise<VersionedCatalogue | undefined>>();
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<boolean> | undefined;

  /** A Catalogue whose every call goes to the current version (its `version` too). */
  readonly view: VersionedCatalogue;

  constructor(private readonly store: CatalogueVersionStore, initial: CatalogueVersion, private readonly log?: Logger) {
    this.cur = catalogueOfVersion(initial, log);
    this.startedWith = initial;
    this.cache.set(initial.number, Promise.resolve(this.cur));
    const self = this;
    this.view = {
      get items() { return self.cur.items; },
      get version() { return self.cur.version; },
      get contentHash() { return self.cur.contentHash; },
      get: (id) => self.cur.get(id),
      list: () => self.cur.list(),
    };
  }

  current(): VersionedCatalogue { return this.cur; }

  currentVersion(): number { return this.cur.version; }

  /** The catalogue of version `n` (any status: drafts too, for previews). */
  at(n: number): Promise<VersionedCatalogue | undefined> {
    if (n === this.cur.version) return Promise.resolve(this.cur);
    let p = this.cache.get(n);
    if (!p) {
      p = this.store.get(n).then((v) => (v ? catalogueOfVersion(v, this.log) : undefined));
      p.catch(() => this.cache.delete(n));
      this.cache.set(n, p);
      while (this.cache.size > CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!);
    } else {
      this.cache.delete(n);
      this.cache.set(n, p); // most recently used last
    }
    return p.then((c) => {
      if (!c) this.cache.delete(n);
      return c;
    });
  }

  /** Re-reads the current version; swaps when it changed. Concurrent calls share one read. */
  refresh(): Promise<boolean> {
    this.refreshing ??= this.doRefresh().finally(() => { this.refreshing = undefined; });
    return this.refreshing;
  }

  private async doRefresh(): Promise<boolean> {
    const s = await this.store.currentSummary();
    if (!s || s.number === this.cur.version) return false;
    const v = await this.store.get(s.number);
    if (!v) return false;
    const previous = this.cur.version;
    this.cur = catalogueOfVersion(v, this.log);
    this.cache.set(v.number, Promise.resolve(this.cur));
    this.log?.info({ version: v.number, previous, author: v.publishedBy ?? v.author, reason: v.publishReason ?? v.reason }, `catalogue version ${v.number} is now current`);
    const restart = restartNeededBetween(this.startedWith, v);
    if (restart.length) this.log?.warn({ version: v.number, parts: restart }, `catalogue version ${v.number} changes ${restart.join(', ')}: these apply after a restart (items apply now)`);
    return true;
  }

  /** Polls for a new current version every `ms` (per process; the timer does not keep Node alive). */
  startPolling(ms: number): void {
    this.stopPolling();
    this.timer = setInterval(() => { void this.refresh().catch((e: Error) => this.log?.warn({ err: e.message }, 'catalogue refresh failed')); }, ms);
    this.timer.unref();
  }

  stopPolling(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
