/**
 * Entity extraction from the first message: realistic messages against the real catalogue items
 * (dialogs/), plus small inline fields for shapes the catalogue does not have yet (start/end dates,
 * duration choices, counts in days, money without a currency). Every row asserts the exact values
 * taken; negative rows assert what is left to the dialog.
 */
import path from 'node:path';
import { loadCatalogue, type Catalogue } from '../../src/catalogue/loader.js';
import { fieldSchema, type FieldDef } from '../../src/catalogue/schema.js';
import { PROJECT_ROOT } from '../../src/config.js';
import { startDialog } from '../../src/conversation/dialog-engine.js';
import { extractValues, personMentions, type PersonRef } from '../../src/conversation/extract.js';

/** Friday 27 November 2026, 10:00 UTC. */
const today = new Date('2026-11-27T10:00:00Z');

const directory: PersonRef[] = [
  { id: 'mark.manager@example.com', name: 'Mark Manager' },
  { id: 'dana.director@example.com', name: 'Dana Director' },
  { id: 'john.smith@example.com', name: 'John Smith' },
  { id: 'john.doe@example.com', name: 'John Doe' },
];
/** Exact e-mail, exact full name, first name or e-mail local part ("mark" for @mark); several = ambiguous. */
const resolvePerson = (mention: string): PersonRef[] => {
  const m = mention.toLowerCase();
  return directory.filter((p) => p.id === m || p.name.toLowerCase() === m || p.name.toLowerCase().split(' ')[0] === m);
};
const erin: PersonRef = { id: 'erin.employee@example.com', name: 'Erin Employee' };

let cat: Catalogue;
beforeAll(async () => { cat = await loadCatalogue(path.join(PROJECT_ROOT, 'dialogs')); });

/** What startDialog extracts from: the item's fields except text and boolean. */
function fromItem(itemId: string, text: string, people = true): Record<string, unknown> {
  const item = cat.get(itemId);
  if (!item) throw new Error(`no catalogue item ${itemId}`);
  const fields = item.fields.filter((f) => f.type !== 'text' && f.type !== 'boolean');
  return extractValues(fields, text, today, people ? { resolvePerson, self: erin } : {});
}

const field = (f: Record<string, unknown>): FieldDef => fieldSchema.parse({ prompt: '?', ...f });

describe('extractValues on the real catalogue', () => {
  describe('options: names, plurals, case, punctuation, typos', () => {
    it.each<[string, string, Record<string, unknown>]>([
      ['software-request', 'can I get Tablaeu Desktop for my MacBook', { software: 'tableau-desktop', platform: 'macos' }],
      ['software-request', 'intelij for linux please', { software: 'intellij', platform: 'linux' }],
      ['software-request', 'I need Power-BI on Windows 11', { software: 'power-bi', platform: 'windows' }],
      ['software-request', 'instal visio pls', { software: 'visio' }],
      ['peripheral-request', 'keybord and mice please', { items: ['keyboard', 'mouse'] }],
      ['peripheral-request', 'a Docking-Station and two USB-C adapters', { items: ['docking-station', 'adapter'] }],
      ['peripheral-request', 'Headsets & webcams for the team, to London', { items: ['headset', 'webcam'], deliveryLocation: 'london' }],
      ['shared-drive-access', 'I need read and write access to the finance drive', { drive: 'finance', access: 'write' }],
      ['shared-drive-access', 'read-only access to the Human Resources drive', { drive: 'hr', access: 'read' }],
      ['laptop-request', "I'd like a 16 inch MacBook Pro, delivered to Berlin", { model: 'performance-mac', deliveryLocation: 'berlin' }],
      ['admin-access', 'local administrator on my desktop please', { scope: 'workstation' }],
      ['report-issue', 'outlok is frozen, just me', { affected: 'email', impact: 'just-me' }],
      ['shared-mailbox', 'send as access to billing@example.com', { mailbox: 'invoices', access: 'send-as' }],
    ])('%s: %s', (item, text, expected) => {
      expect(fromItem(item, text)).toEqual(expected);
    });

    it.each<[string, string, Record<string, unknown>]>([
      // two options named for a single choice
      ['software-request', 'install visio and tableau', {}],
      ['laptop-request', 'a mac or a thinkpad, whatever is faster', { reason: 'upgrade' }],
      // "manager" is not a typo of the "manage" alias (admin level)
      ['app-access', 'I need Jira access, my manager agreed', { application: 'jira' }],
      // "authentication" is not a typo of "authenticator"
      ['mfa-reset', 'please reset my two-factor authentication', {}],
      // "Teams" written as a name is not the plural of "team"
      ['report-issue', 'Teams crashes every time I join a meeting', {}],
      ['report-issue', 'my microphone does not work in Teams calls', {}],
      // "log in" is not the "login" alias split in two
      ['password-reset', 'I need a temporary password to log in', {}],
      // "mouse" is not a typo of "house" (short words must match exactly)
      ['peripheral-request', 'please deliver it to my house', {}],
      // more than the field's maxItems (5)
      ['peripheral-request', 'monitor, keyboard, mouse, headset, webcam and a dock', {}],
    ])('leaves to the dialog: %s: %s', (item, text, expected) => {
      expect(fromItem(item, text)).toEqual(expected);
    });
  });

  describe('dates', () => {
    it.each<[string, string, Record<string, unknown>]>([
      ['shared-drive-access', 'write access to the finance drive until March 31', { drive: 'finance', access: 'write', until: '2027-03-31' }],
      ['shared-drive-access', 'read access to the HR drive for two weeks please', { drive: 'hr', access: 'read', until: '2026-12-11' }],
      ['shared-drive-access', 'finance drive until the end of next month', { drive: 'finance', until: '2026-12-31' }],
      ['vpn-access', 'vpn access until december 31 on my own laptop', { device: 'personal', until: '2026-12-31' }],
      ['onboarding', 'new contractor starting on 1 February', { startDate: '2027-02-01', employmentType: 'contractor' }],
      ['onboarding', 'I have a new hire starting Monday', { startDate: '2026-11-30' }],
      ['offboarding', 'a colleague is retiring at the end of the month', { lastDay: '2026-11-30' }],
      ['offboarding', 'someone quit today, lock their account', { lastDay: '2026-11-27' }],
      ['laptop-request', 'I need a loaner for 2 weeks', { reason: 'loaner', returnDate: '2026-12-11' }],
      ['laptop-request', 'loaner laptop until the 15th of January please', { reason: 'loaner', returnDate: '2027-01-15' }],
      ['payroll-change', 'pension deduction of 150 EUR per month from 1 January', { changeType: 'deduction', amount: 150, effectiveDate: '2027-01-01' }],
    ])('%s: %s', (item, text, expected) => {
      expect(fromItem(item, text)).toEqual(expected);
    });

    it.each<[string, string, Record<string, unknown>]>([
      // a deadline is not how long the access lasts
      ['shared-drive-access', 'finance drive, I need it by end of month', { drive: 'finance' }],
      // when it starts is not when it ends
      ['shared-drive-access', 'access to the finance drive on Monday', { drive: 'finance' }],
      ['vpn-access', 'VPN access for a contractor starting next week', {}],
      // d/m or m/d?
      ['shared-drive-access', 'finance drive until 12/05', { drive: 'finance' }],
      // beyond maxDaysAhead (365) / not in the future
      ['shared-drive-access', 'finance drive until 2028-01-01', { drive: 'finance' }],
      ['shared-drive-access', 'finance drive until yesterday', { drive: 'finance' }],
      // vague: a week or a month, not a day
      ['onboarding', 'we have a contractor joining next week', { employmentType: 'contractor' }],
      ['payroll-change', 'change my bank details from next month', { changeType: 'bank-details' }],
      // "last day" is a noun here, not yesterday; 30 June is beyond maxDaysAhead (120)
      ['offboarding', 'her last day is 30 June', {}],
    ])('leaves to the dialog: %s: %s', (item, text, expected) => {
      expect(fromItem(item, text)).toEqual(expected);
    });
  });

  describe('durations (admin-access durationHours, 1 to 8)', () => {
    it.each<[string, Record<string, unknown>]>([
      ['I need local admin on my laptop for 4 hours', { scope: 'workstation', durationHours: 4 }],
      ['sudo on the staging box app-stg-03, 2h', { scope: 'non-production', durationHours: 2 }],
      ['admin rights on the prod servers until 6pm', { scope: 'production', durationHours: 8 }],
      ['admin on my mac for an hour and a half', { scope: 'workstation', durationHours: 1.5 }],
      ['a 3-hour admin window on the test VMs', { scope: 'non-production', durationHours: 3 }],
      ['admin rights for 90 minutes on my pc', { scope: 'workstation', durationHours: 1.5 }],
      // more than 8 hours: not taken
      ['temporary local admin for 24 hours please', { scope: 'workstation' }],
      ['local admin for a day', { scope: 'workstation' }],
      ['admin on staging for 3 days', { scope: 'non-production' }],
      // not durations: a start time, a rate, a range
      ['admin rights on my laptop in 2 hours', { scope: 'workstation' }],
      ['local admin, I work 8 hours a day', { scope: 'workstation' }],
      ['local admin for 2-4 hours', { scope: 'workstation' }],
      // two different durations
      ['local admin for 2 hours, maybe 4 hours', { scope: 'workstation' }],
    ])('%s', (text, expected) => {
      expect(fromItem('admin-access', text)).toEqual(expected);
    });
  });

  describe('amounts (software-request licenceCost: EUR per year, 0 to 50000)', () => {
    it.each<[string, Record<string, unknown>]>([
      ['Tableau Desktop, it costs €1,200 a year', { software: 'tableau-desktop', licenceCost: 1200 }],
      ['IntelliJ IDEA, EUR 300', { software: 'intellij', licenceCost: 300 }],
      ['Visio please, about 300 euros', { software: 'visio', licenceCost: 300 }],
      ['intellij for linux, 1.2k per year', { software: 'intellij', platform: 'linux', licenceCost: 1200 }],
      ['Power BI on my pc, it is free', { software: 'power-bi', platform: 'windows', licenceCost: 0 }],
      ['Visio, the licence cost is 450', { software: 'visio', licenceCost: 450 }],
      // another currency, another period, out of range, two amounts
      ['Visio, licence is $300', { software: 'visio' }],
      ['Acrobat, £50', { software: 'acrobat-pro' }],
      ['Acrobat at 25 euros per month', { software: 'acrobat-pro' }],
      ['Visio, €80,000', { software: 'visio' }],
      ['Visio for 300 or 400 euros', { software: 'visio' }],
      ['Visio, €300 or maybe €350', { software: 'visio' }],
    ])('%s', (text, expected) => {
      expect(fromItem('software-request', text)).toEqual(expected);
    });
  });

  describe('quantities (peripheral-request monitorCount, 1 to 2)', () => {
    it.each<[string, Record<string, unknown>]>([
      ['two monitors for my home office please', { items: ['monitor'], monitorCount: 2, deliveryLocation: 'home' }],
      ['a 27 inch monitor and a keyboard, deliver to Berlin', { items: ['monitor', 'keyboard'], monitorCount: 1, deliveryLocation: 'berlin' }],
      ['dual screens and a dock', { items: ['monitor', 'docking-station'], monitorCount: 2 }],
      ['can I get a second monitor for my desk', { items: ['monitor'], monitorCount: 1 }],
      ['Two 24" Monitors', { items: ['monitor'], monitorCount: 2 }],
      // more than allowed, two counts, no count
      ['I need 3 monitors', { items: ['monitor'] }],
      ['two monitors and a monitor arm', { items: ['monitor'] }],
      ['need monitors for my desk', { items: ['monitor'] }],
    ])('%s', (text, expected) => {
      expect(fromItem('peripheral-request', text)).toEqual(expected);
    });
  });

  describe('people (resolved by the caller; only unique matches)', () => {
    it.each<[string, string, Record<string, unknown>]>([
      ['distribution-list', 'add Mark Manager to the ops distribution list', { action: 'join', member: 'mark.manager@example.com' }],
      ['distribution-list', 'please add @mark to the sales-emea list', { action: 'join', member: 'mark.manager@example.com' }],
      ['distribution-list', 'on behalf of mark manager, subscribe him to the security alerts list', { action: 'join', member: 'mark.manager@example.com' }],
      ['distribution-list', 'add me to the finance-updates list', { action: 'join', member: 'erin.employee@example.com' }],
      ['distribution-list', 'create a new list for the book club with dana.director@example.com as owner', { action: 'create', listOwner: 'dana.director@example.com' }],
      ['offboarding', "please disable John Smith's account, his last day is today", { leaver: 'john.smith@example.com', lastDay: '2026-11-27' }],
      ['offboarding', 'Mark Manager is leaving, please delegate to Dana Director', { leaver: 'mark.manager@example.com', delegate: 'dana.director@example.com' }],
      ['offboarding', 'for mark.manager@example.com, he leaves on Monday', { leaver: 'mark.manager@example.com', lastDay: '2026-11-30' }],
      ['channel-request', 'new private Slack channel with Mark Manager as co-owner', { platform: 'slack', visibility: 'private', coOwner: 'mark.manager@example.com' }],
    ])('%s: %s', (item, text, expected) => {
      expect(fromItem(item, text)).toEqual(expected);
    });

    it.each<[string, string, Record<string, unknown>]>([
      // two Johns
      ['distribution-list', 'add John to the ops list', { action: 'join' }],
      // not in the directory
      ['distribution-list', 'add Zoe Unknown to the ops list', { action: 'join' }],
      // two people for one field
      ['distribution-list', 'add Mark Manager and Dana Director to the ops list', { action: 'join' }],
      // the only person field is optional and no role word says co-owner
      ['channel-request', 'create a Teams channel for Mark Manager', { platform: 'teams' }],
      ['channel-request', 'a Slack channel with myself as owner', { platform: 'slack' }],
      // "me" without add/remove/subscribe is not the member
      ['offboarding', 'someone is leaving my team, can you help me', {}],
    ])('leaves to the dialog: %s: %s', (item, text, expected) => {
      expect(fromItem(item, text)).toEqual(expected);
    });

    it('takes no one without a resolver or self', () => {
      expect(fromItem('distribution-list', 'add Mark Manager and me to the ops list', false)).toEqual({ action: 'join' });
    });

    it('lists the mentions a resolver will be asked, for looking them up ahead', () => {
      expect(personMentions('on behalf of @mark: add John Smith and Dana Director, cc dana.director@example.com')).toEqual([
        'mark', 'John Smith', 'Dana Director', 'dana.director@example.com',
      ]);
      expect(personMentions('I need a monitor')).toEqual([]);
    });
  });
});

describe('extractValues on inline fields', () => {
  const start = field({ name: 'startDate', type: 'date', label: 'Start date', validation: { future: true } });
  const end = field({ name: 'endDate', type: 'date', label: 'End date', validation: { future: true } });
  const neededBy = field({ name: 'neededBy', type: 'date', label: 'Needed by' });
  const eventDate = field({ name: 'eventDate', type: 'date', label: 'Date' });
  const durationChoice = field({ name: 'duration', type: 'choice', label: 'Duration', options: ['1h', '4h', '8h', { value: '1d', label: 'A full day' }] });
  const days = field({ name: 'days', type: 'number', label: 'Number of days', validation: { min: 1, max: 30 } });
  const budget = field({ name: 'budget', type: 'number', label: 'Budget' });
  const licences = field({ name: 'licences', type: 'number', label: 'Number of licences', validation: { min: 1, max: 50 } });
  const floor = field({ name: 'floor', type: 'number', label: 'Floor' });
  const editor = field({
    name: 'editor', type: 'choice', label: 'Editor',
    options: [{ value: 'vscode', label: 'Visual Studio Code', aliases: ['vs code'] }, { value: 'visual-studio', label: 'Visual Studio' }, { value: 'intellij', label: 'IntelliJ IDEA' }],
  });
  const ex = (fields: FieldDef[], text: string) => extractValues(fields, text, today);

  it.each<[string, FieldDef[], string, Record<string, unknown>]>([
    ['range → start and end', [start, end], 'I need it from 3 to 5 March', { startDate: '2027-03-03', endDate: '2027-03-05' }],
    ['weekday range', [start, end], 'Monday to Friday please', { startDate: '2026-11-30', endDate: '2026-12-04' }],
    ['start and a duration', [start, end], 'starting Monday for two weeks', { startDate: '2026-11-30', endDate: '2026-12-14' }],
    ['start only', [start, end], 'starting next Friday', { startDate: '2026-12-04' }],
    ['end only', [start, end], 'until 15 January', { endDate: '2027-01-15' }],
    ['a duration without a start', [start, end], 'for two weeks', {}],
    ['end before start', [start, end], 'from 10 March until 2 March', {}],
    ['deadline', [neededBy], 'by end of month please', { neededBy: '2026-11-30' }],
    ['deadline, weekday', [neededBy], 'I need it by next Friday', { neededBy: '2026-12-04' }],
    ['not a deadline', [neededBy], 'until Friday', {}],
    ['plain date', [eventDate], 'on 3 December', { eventDate: '2026-12-03' }],
    ['relative date', [eventDate], 'in two weeks', { eventDate: '2026-12-11' }],
    ['two dates', [eventDate], 'on 3 or 10 December', {}],
    ['a month only', [eventDate], 'sometime in March', {}],
    ['now', [eventDate], 'right now', {}],
    ['a slash date either way', [eventDate], 'on 3/4', {}],
    ['a slash date one way', [eventDate], 'on 31/03', { eventDate: '2027-03-31' }],
  ])('dates: %s', (_name, fields, text, expected) => {
    expect(ex(fields, text)).toEqual(expected);
  });

  it.each<[string, FieldDef[], string, Record<string, unknown>]>([
    ['choice by duration', [durationChoice], 'for 4 hours', { duration: '4h' }],
    ['choice by name', [durationChoice], '8h please', { duration: '8h' }],
    ['choice: a day', [durationChoice], 'for a day', { duration: '1d' }],
    ['choice: until 6pm', [durationChoice], 'until 6pm', { duration: '8h' }],
    ['choice: no such option', [durationChoice], 'for 2 hours', {}],
    ['days: a week', [days], 'for a week', { days: 7 }],
    ['days: hours convert', [days], '48 hours', { days: 2 }],
    ['days: not whole', [days], 'for 4 hours', {}],
    ['days: too many', [days], 'for 6 weeks', {}],
  ])('durations: %s', (_name, fields, text, expected) => {
    expect(ex(fields, text)).toEqual(expected);
  });

  it.each<[string, FieldDef[], string, Record<string, unknown>]>([
    ['dollars', [budget], 'budget is $1,200', { budget: 1200 }],
    ['pounds', [budget], 'about £50', { budget: 50 }],
    ['euro code', [budget], 'EUR 300 max', { budget: 300 }],
    ['euro words', [budget], '300 euros', { budget: 300 }],
    ['k', [budget], 'roughly 1.2k', { budget: 1200 }],
    ['two currencies', [budget], '$1,200 or €1,100', {}],
    ['no currency', [budget], 'we are 12 people', {}],
    ['count words', [licences], 'we need five licenses of Tableau Desktop', { licences: 5 }],
    ['count twenty', [licences], 'twenty licences please', { licences: 20 }],
    ['count 3x', [licences], '3x licence', { licences: 3 }],
    ['count out of range', [licences], '100 licences', {}],
    ['near its label', [floor], 'desk on floor 3', { floor: 3 }],
  ])('numbers: %s', (_name, fields, text, expected) => {
    expect(ex(fields, text)).toEqual(expected);
  });

  it.each<[string, string | undefined]>([
    ['please install Visual Studio Code', 'vscode'],
    ['VS Code on my laptop', 'vscode'],
    ['vscode', 'vscode'],
    ['Visual Studio 2022 Professional', 'visual-studio'],
    ['intellij idea', 'intellij'],
    ['vs code or intellij', undefined],
  ])('multi-word names: %s', (text, expected) => {
    expect(ex([editor], text).editor).toBe(expected);
  });

  it('keeps the three-argument call working', () => {
    expect(extractValues([budget], 'budget €500', today)).toEqual({ budget: 500 });
  });
});

describe('startDialog with extraction', () => {
  const requester = { email: 'erin.employee@example.com', name: 'Erin Employee', department: 'Finance', roles: ['employee'], employmentType: 'employee' };
  const answers = (r: ReturnType<typeof startDialog>) => (r.state as { d: { answers: Record<string, unknown>; asking: string | null } }).d;

  it('passes the resolver through and asks only for what is missing', () => {
    const r = startDialog(cat.get('distribution-list')!, requester, { text: 'add Mark Manager to the ops distribution list', today, resolvePerson });
    expect(answers(r).answers).toEqual({ action: 'join', member: 'mark.manager@example.com' });
    expect(answers(r).asking).toBe('listName');
  });

  it('without a resolver leaves people to the dialog, but "add me" is the requester', () => {
    let r = startDialog(cat.get('distribution-list')!, requester, { text: 'add Mark Manager to the ops distribution list', today });
    expect(answers(r).answers).toEqual({ action: 'join' });
    r = startDialog(cat.get('distribution-list')!, requester, { text: 'please add me to the ops list', today });
    expect(answers(r).answers).toEqual({ action: 'join', member: 'erin.employee@example.com' });
  });

  it('takes durations and drops values of fields hidden by the others', () => {
    const r = startDialog(cat.get('admin-access')!, requester, { text: 'local admin on my laptop for 4 hours', today });
    expect(answers(r).answers).toEqual({ scope: 'workstation', durationHours: 4 });
    expect(r.messages[0]!.text).toMatch(/I've noted Scope: Local admin on my own workstation; Hours needed: 4\./);
    // listOwner is only asked when creating a list
    const d = startDialog(cat.get('distribution-list')!, requester, { text: 'remove me from the ops list, Dana Director is the owner', today, resolvePerson });
    expect(answers(d).answers).toEqual({ action: 'leave', member: 'erin.employee@example.com' });
  });
});
