/** Who may request a catalogue item (the item's `eligibility` over the requester's directory entry). */
import type { CatalogueItem } from '../catalogue/schema.js';
import type { Person } from '../directory/directory.repository.js';

export type EligibilityResult = { ok: true } | { ok: false; rule: string; reason: string };

/** Checks every eligibility rule; the first that fails is returned with a reason for the requester. */
export function checkEligibility(item: CatalogueItem, p: Person): EligibilityResult {
  if (!p.active) return { ok: false, rule: 'active', reason: 'your account is disabled' };
  const e = item.eligibility;
  if (!e) return { ok: true };
  const ci = (xs: string[]) => xs.map((x) => x.toLowerCase());
  if (e.roles && !ci(p.roles).some((r) => ci(e.roles!).includes(r))) {
    return { ok: false, rule: 'roles', reason: `${item.title} can only be requested by ${e.roles.join(' or ')} (your roles: ${p.roles.join(', ') || 'none'})` };
  }
  if (e.departments && !ci(e.departments).includes((p.department ?? '').toLowerCase())) {
    return { ok: false, rule: 'departments', reason: `${item.title} is only available to the ${e.departments.join(' / ')} department${e.departments.length > 1 ? 's' : ''} (yours: ${p.department ?? 'none'})` };
  }
  if (e.employmentTypes && !ci(e.employmentTypes).includes(p.employmentType.toLowerCase())) {
    return { ok: false, rule: 'employmentTypes', reason: `${item.title} is only for ${e.employmentTypes.join(' / ')} staff (you are: ${p.employmentType})` };
  }
  if (e.locations && !ci(e.locations).includes((p.location ?? '').toLowerCase())) {
    return { ok: false, rule: 'locations', reason: `${item.title} is only available in ${e.locations.join(' / ')} (your location: ${p.location ?? 'none'})` };
  }
  if (e.groups && !ci(p.groups).some((g) => ci(e.groups!).includes(g))) {
    return { ok: false, rule: 'groups', reason: `${item.title} needs membership of ${e.groups.join(' or ')}` };
  }
  return { ok: true };
}
