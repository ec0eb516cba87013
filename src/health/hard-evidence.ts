/**
 * Hard evidence versus soft: whether one failed probe result proves the proxy is gone (a refused
 * connection, a reset, a configured SIP status such as 503 from a proxy in maintenance) or only
 * suggests it (a timeout, garbage, anything else). Hard evidence fails the state machine at once;
 * soft evidence counts toward `fall`. A frozen proxy gives only soft evidence. Pure.
 */
import type { FailureEvidence, ProbeStatus } from '../probes/types.js';

export interface HardFailPolicy {
  refused: boolean;
  reset: boolean;
  /** SIP checks only. */
  statuses?: readonly number[];
}

export interface FailedResult {
  status: ProbeStatus;
  evidence?: FailureEvidence | undefined;
  sipCode?: number | undefined;
}

export function isHardFailure(result: FailedResult, policy: HardFailPolicy): boolean {
  if (result.status !== 'down') return false;
  if (result.evidence === 'refused' && policy.refused) return true;
  if (result.evidence === 'reset' && policy.reset) return true;
  return result.sipCode !== undefined && (policy.statuses?.includes(result.sipCode) ?? false);
}

export type RoundEvidence = 'hard' | 'soft';
