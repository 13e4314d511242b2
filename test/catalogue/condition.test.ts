import { compileCondition, ConditionSyntaxError, holds } from '../../src/catalogue/condition.js';

describe('catalogue conditions', () => {
  const ctx = { fields: { access: 'write', cost: 1200, apps: ['visio', 'jira'] }, requester: { department: 'Finance', roles: ['employee'] } };

  it('evaluates comparisons, lists and boolean logic', () => {
    expect(holds('access == "write" and cost > 1000', ctx)).toBe(true);
    expect(holds('field.access == "read" or cost <= 1000', ctx)).toBe(false);
    expect(holds('requester.department in ["finance", "HR"]', ctx)).toBe(true);
    expect(holds('"jira" in apps', ctx)).toBe(true);
    expect(holds('not (apps contains "excel")', ctx)).toBe(true);
    expect(holds('missing == null', ctx)).toBe(true);
    expect(holds('missing != null', ctx)).toBe(false);
    expect(holds('missing > 3', ctx)).toBe(false);
    expect(holds(undefined, ctx)).toBe(true);
  });

  it('reports the names it reads', () => {
    const c = compileCondition('fields.access == "write" and requester.department == "IT" or cost > 5');
    expect(c.fieldRefs.sort()).toEqual(['access', 'cost']);
    expect(c.requesterRefs).toEqual(['department']);
  });

  it('rejects bad syntax with the position', () => {
    expect(() => compileCondition('access == ')).toThrow(ConditionSyntaxError);
    expect(() => compileCondition('access = "x"')).toThrow(/unexpected character "="|unexpected/);
    expect(() => compileCondition('(a == 1')).toThrow(/expected "\)"/);
  });
});
