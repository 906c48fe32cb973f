// Local accounts at sign-in: email + password checked against the scrypt hash (a dummy hash
// is checked when the email is unknown, so timing does not tell which emails exist), and the
// one-time sign-in link where a person sets their password.
import type { Store } from '@gatelog/core/store/client';
import { isRole } from '@gatelog/core/roles';
import { hashPassword, passwordProblem, verifyPassword } from '@gatelog/core/auth/passwords';
import type { UiWrites } from '#lib/server/ui-writes.server.ts';
import { sha256Hex, userByEmail, userByInviteHash, type UserRecord } from '@gatelog/core/store/users';
import type { SessionSubject } from '#lib/server/session.server.ts';

let dummy: Promise<string> | undefined;

export const subjectOf = (u: UserRecord): SessionSubject => ({ subject_kind: 'user', subject: u.id, email: u.email, role: u.role, teams: u.teams });

export async function authenticate(store: Store, email: string, password: string): Promise<SessionSubject | undefined> {
  const user = await userByEmail(store, email.trim().toLowerCase());
  dummy ??= hashPassword('gatelog-no-such-account');
  const ok = await verifyPassword(password, user?.password_hash || (await dummy));
  if (!ok || !user || user.disabled || !isRole(user.role) || user.password_hash === '' || user.auth_source !== 'local') return undefined;
  return subjectOf(user);
}

/** The person a one-time link belongs to, if it is still valid. */
export async function inviteUser(store: Store, token: string | null, now = Date.now()): Promise<UserRecord | undefined> {
  if (!token || !/^gli-[A-Za-z0-9_-]{43}$/.test(token)) return undefined;
  const user = await userByInviteHash(store, sha256Hex(token));
  if (!user || user.disabled || user.auth_source !== 'local' || !user.invite_expires_at || Date.parse(user.invite_expires_at) <= now) return undefined;
  return user;
}

/** Sets the password and spends the link; returns the problem with the password, if any. */
export async function setPassword(writes: Pick<UiWrites, 'user'>, user: UserRecord, password: string, now = Date.now()): Promise<string | null> {
  const problem = passwordProblem(password);
  if (problem) return problem;
  await writes.user({
    ...user, version: user.version + 1, password_hash: await hashPassword(password), invite_hash: '', invite_expires_at: null,
    updated_at: new Date(now).toISOString(), updated_by: user.email,
  });
  return null;
}
