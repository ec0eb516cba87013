/** Every hardening property, in the order the long run reports them. */
import { apiSchemasProperty, agentControlProperty, coordinatorHttpProperty } from './api.js';
import { agentConfigProperty, coordinatorConfigProperty } from './config.js';
import { exabgpStdinProperty } from './exabgp.js';
import { flapDampingProperty } from './flap-damping.js';
import { injectionProperty } from './injection.js';
import { sipReplyProperty, sipStreamProperty } from './sip.js';
import { sseProperty } from './sse.js';
import type { HardeningProperty } from './types.js';

export type { HardeningProperty };

export const properties: readonly HardeningProperty[] = [
  sipReplyProperty,
  sipStreamProperty,
  exabgpStdinProperty,
  agentConfigProperty,
  flapDampingProperty,
  coordinatorConfigProperty,
  sseProperty,
  apiSchemasProperty,
  agentControlProperty,
  coordinatorHttpProperty,
  injectionProperty,
];
