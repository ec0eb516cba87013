import type { Bench } from './lib/context.js';
export const scale: Bench = async () => {
  throw new Error('not written yet');
};
