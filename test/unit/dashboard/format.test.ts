/** Labels people read: spans, ages, latency. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  formatAgo,
  formatCoarseAgo,
  formatLatency,
  formatSpan,
} from '../../../src/dashboard/shared/format.js';

test('spans read the way people say them', () => {
  assert.equal(formatSpan(999), '0 s');
  assert.equal(formatSpan(59_000), '59 s');
  assert.equal(formatSpan(75_000), '1 min 15 s');
  assert.equal(formatSpan(600_000), '10 min');
  assert.equal(formatSpan(7_500_000), '2 h 5 min');
  assert.equal(formatSpan(3 * 86_400_000 + 3_600_000), '3 d 1 h');
});

test('ages, never, and clocks slightly ahead', () => {
  assert.equal(formatAgo(null, 10_000), 'never');
  assert.equal(formatAgo(8000, 10_000), '2 s ago');
  assert.equal(formatAgo(10_500, 10_000), '0 s ago');
  assert.equal(formatAgo(20_000, 10_000), 'in 10 s');
});

test('latency', () => {
  assert.equal(formatLatency(0.42), '0.4 ms');
  assert.equal(formatLatency(12.4), '12 ms');
  assert.equal(formatLatency(1234), '1.2 s');
});

test('coarse ages move in 5-second steps under a minute, like formatAgo after', () => {
  assert.equal(formatCoarseAgo(10_000, 13_999), '0 s ago');
  assert.equal(formatCoarseAgo(10_000, 22_000), '10 s ago');
  assert.equal(formatCoarseAgo(0, 75_000), '1 min 15 s ago');
  assert.equal(formatCoarseAgo(null, 1), 'never');
});
