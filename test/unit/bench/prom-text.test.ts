/**
 * The benchmarks read etcd's write counters from its /metrics text (bench/replicas.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { promCounter } from '../../../bench/lib/prom-text.js';

const ETCD_METRICS = `# HELP etcd_mvcc_put_total Total number of puts seen by this member.
# TYPE etcd_mvcc_put_total counter
etcd_mvcc_put_total 1234
# HELP etcd_mvcc_put_total_other not ours
etcd_mvcc_put_total_other 99
etcd_server_proposals_committed_total 5.5e+03
etcd_network_peer_sent_bytes_total{To="a1"} 10
etcd_network_peer_sent_bytes_total{To="b2"} 32
`;

describe('bench Prometheus text counters', () => {
  it('reads a counter, not a longer name that starts with it', () => {
    assert.equal(promCounter(ETCD_METRICS, 'etcd_mvcc_put_total'), 1234);
    assert.equal(promCounter(ETCD_METRICS, 'etcd_server_proposals_committed_total'), 5500);
  });

  it('sums every label set of a metric', () => {
    assert.equal(promCounter(ETCD_METRICS, 'etcd_network_peer_sent_bytes_total'), 42);
  });

  it('says absent for a metric not exposed (not zero)', () => {
    assert.equal(promCounter(ETCD_METRICS, 'etcd_mvcc_txn_total'), undefined);
  });
});
