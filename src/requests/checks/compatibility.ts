/**
 * Compatibility tables (`dialogs/_compatibility.yaml`, or COMPATIBILITY_FILE): what a catalogue value
 * needs from the requester's devices (the asset list, see assets.ts).
 *
 *   tables:
 *     software:
 *       devices: [laptop, desktop]        # asset kinds that count (default: every kind)
 *       entries:
 *         visio: { os: [windows], alternatives: [drawio] }
 *     peripherals:
 *       devices: [laptop, desktop]
 *       entries:
 *         docking-station: { ports: [usb-c, thunderbolt], alternatives: [adapter] }
 *
 * An entry may require `os` (any of), `models` (any of, case-insensitive) and `ports` (at least one
 * in common); a device fits when it meets every requirement the entry has. A value fits the person
 * when one of their devices fits it. Values without an entry need nothing.
 */
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { optionsOf, type FieldDef } from '../../catalogue/schema.js';
import type { Device } from './assets.js';

const word = z.string().min(1);
const entrySchema = z.object({
  os: z.array(word).min(1).optional(),
  models: z.array(word).min(1).optional(),
  ports: z.array(word).min(1).optional(),
  /** Other values of the field offered when this one does not fit. */
  alternatives: z.array(word).min(1).optional(),
  /** A plain-words note added to the explanation (e.g. "runs in the browser on any computer"). */
  note: z.string().min(1).optional(),
}).strict();

const tableSchema = z.object({
  devices: z.array(word).min(1).optional(),
  entries: z.record(word, entrySchema),
}).strict();

const fileSchema = z.object({ tables: z.record(z.string().regex(/^[a-z][a-z0-9-]*$/, 'a table name like "software"'), tableSchema).default({}) }).strict();

export type CompatibilityEntry = z.infer<typeof entrySchema>;
export type CompatibilityTable = z.infer<typeof tableSchema>;
export type CompatibilityTables = Record<string, CompatibilityTable>;

export class CompatibilityFileError extends Error {
  readonly code = 'COMPATIBILITY_INVALID';
}

/** Reads the tables; a missing file means none. Throws naming the file and path on bad input. */
export async function loadCompatibility(file: string): Promise<CompatibilityTables> {
  let text: string;
  try { text = await readFile(file, 'utf8'); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw e;
  }
  const doc = parseDocument(text);
  if (doc.errors.length) throw new CompatibilityFileError(`${file}: not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  const parsed = fileSchema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) throw new CompatibilityFileError(`${file} is invalid:\n${parsed.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n')}`);
  return parsed.data.tables;
}

const OS_NAMES: Record<string, string> = { windows: 'Windows', macos: 'macOS', linux: 'Linux', ios: 'iOS', android: 'Android', chromeos: 'ChromeOS' };
const PORT_NAMES: Record<string, string> = { 'usb-a': 'USB-A', 'usb-c': 'USB-C', thunderbolt: 'Thunderbolt', hdmi: 'HDMI', displayport: 'DisplayPort', bluetooth: 'Bluetooth', 'jack-3.5': '3.5 mm audio', ethernet: 'Ethernet', vga: 'VGA' };
export const osName = (os: string | null): string => (os ? OS_NAMES[os] ?? os : 'unknown system');
const portName = (p: string): string => PORT_NAMES[p] ?? p;
const orList = (xs: string[]): string => (xs.length <= 1 ? xs.join('') : `${xs.slice(0, -1).join(', ')} or ${xs.at(-1)}`);
const lc = (s: string) => s.toLowerCase();

function fits(d: Device, e: CompatibilityEntry): boolean {
  if (e.os && !(d.os && e.os.map(lc).includes(lc(d.os)))) return false;
  if (e.models && !e.models.map(lc).includes(lc(d.model))) return false;
  if (e.ports && !e.ports.map(lc).some((p) => d.ports.map(lc).includes(p))) return false;
  return true;
}

/** What an entry needs, in words: "Windows", "a USB-C or Thunderbolt port". */
function needs(e: CompatibilityEntry): string {
  const parts: string[] = [];
  if (e.os) parts.push(orList(e.os.map((x) => osName(x))));
  if (e.models) parts.push(`one of these models: ${e.models.join(', ')}`);
  if (e.ports) parts.push(`a ${orList(e.ports.map(portName))} port`);
  return parts.join(' and ');
}

export const describeDevice = (d: Device): string => `${d.model} (${d.tag}, ${osName(d.os)})`;

export interface CompatibilityVerdict {
  /** No device of a counted kind is registered to the person: nothing could be checked. */
  noDevices: boolean;
  /** Chosen values no device of the person fits. */
  incompatible: { value: string; label: string; needs: string; note?: string }[];
  /** Values of the field that do fit (what can be offered instead). */
  alternatives: { value: string; label: string }[];
  devices: Device[];
}

/** Checks the chosen value(s) of `field` against `devices`. */
export function judgeCompatibility(table: CompatibilityTable, field: FieldDef, chosen: unknown, allDevices: Device[]): CompatibilityVerdict {
  const kinds = table.devices?.map(lc);
  const devices = allDevices.filter((d) => !kinds || kinds.includes(lc(d.kind)));
  const opts = optionsOf(field);
  const label = (v: string) => opts.find((o) => o.value === v)?.label ?? v;
  const values = (Array.isArray(chosen) ? chosen : [chosen]).filter((v): v is string => typeof v === 'string');
  if (devices.length === 0) return { noDevices: true, incompatible: [], alternatives: [], devices };
  const ok = (v: string) => { const e = table.entries[v]; return !e || devices.some((d) => fits(d, e)); };
  const incompatible = values.filter((v) => !ok(v)).map((v) => ({ value: v, label: label(v), needs: needs(table.entries[v]!), ...(table.entries[v]!.note ? { note: table.entries[v]!.note } : {}) }));
  let alternatives: { value: string; label: string }[] = [];
  if (incompatible.length) {
    if (field.type === 'multichoice') {
      // re-asking the whole list: every option that fits
      alternatives = opts.filter((o) => ok(o.value)).map((o) => ({ value: o.value, label: o.label }));
    } else {
      const declared = incompatible.flatMap((x) => table.entries[x.value]!.alternatives ?? []);
      const pool = declared.length ? declared : opts.map((o) => o.value).filter((v) => table.entries[v]); // known to fit, not "something else"
      alternatives = [...new Set(pool)].filter((v) => opts.some((o) => o.value === v) && ok(v) && !values.includes(v)).map((v) => ({ value: v, label: label(v) }));
    }
  }
  return { noDevices: false, incompatible, alternatives, devices };
}
