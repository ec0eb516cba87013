/**
 * The names of the coordinator's HTTP API that need no schema (no zod): its path prefix and the
 * rules of the safety policy. The `herald` client commands use these before anything heavy is
 * loaded (`herald drain --override` checks a rule name here); coordinator-api.ts builds its
 * schemas from them.
 */
export const API_PREFIX = '/api/v1';

/** The rules of the safety policy; each can be overridden separately, with a reason. */
export const POLICY_RULES = [
  'minAnnouncingSites',
  'regionFloor',
  'maxConcurrentDrains',
  'maxConcurrentDrainsPerRegion',
] as const;
export type PolicyRuleName = (typeof POLICY_RULES)[number];

export function isPolicyRule(text: string): text is PolicyRuleName {
  return (POLICY_RULES as readonly string[]).includes(text);
}
