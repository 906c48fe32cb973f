// Which values an audit hold takes, and which hold covers a person: pure, no store.
import { describe, expect, it } from 'vitest';
import { auditHoldValue, holdOnPerson } from './audit-holds.ts';
import { AUDIT_HOLD, type AuditHold } from './retention.ts';

const hold = (value: string, id = value): AuditHold =>
  ({ id, version: 1, kind: AUDIT_HOLD, value, reason: 'r', active: true, created_at: '', updated_at: '', updated_by: '' });

describe('audit hold values', () => {
  it.each([
    ['*', '*'],
    [' Ada@Example.COM ', 'ada@example.com'],
    ['ops@localhost', 'ops@localhost'],
    ['**', undefined],
    ['ada', undefined],
    ['ada @example.com', undefined],
    ['', undefined],
  ])('%j → %j', (v, out) => {
    expect(auditHoldValue(v)).toBe(out);
  });
});

describe('the hold that covers a person', () => {
  it('is one naming their address, whatever its case, or one of the whole trail', () => {
    expect(holdOnPerson([hold('bo@example.com'), hold('ADA@example.com', 'a')], 'Ada@Example.com')?.id).toBe('a');
    expect(holdOnPerson([hold('bo@example.com'), hold('*', 'all')], 'ada@example.com')?.id).toBe('all');
    expect(holdOnPerson([hold('bo@example.com')], 'ada@example.com')).toBeUndefined();
    expect(holdOnPerson([], 'ada@example.com')).toBeUndefined();
  });
});
