import type { Bench } from './lib/context.js';
export const continuity: Bench = async () => {
  throw new Error('not written yet');
};
