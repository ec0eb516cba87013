/**
 * Just enough of Prometheus' text exposition format for the agent: gauges and counters with
 * labels, rendered on scrape. The agent runs on every node next to a SIP proxy, so it does not
 * load prom-client (a general registry, default metrics, histograms) for its dozen series;
 * the coordinator still uses prom-client.
 */

type Labels = Readonly<Record<string, string>>;

/** A label value as the format wants it: backslash, double quote and newline escaped. */
function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function labelKey(labelNames: readonly string[], labels: Labels): string {
  for (const name of Object.keys(labels))
    if (!labelNames.includes(name))
      throw new Error(
        `metric label: expected one of ${labelNames.join(', ') || '(none)'}, received "${name}"`,
      );
  return labelNames.map((name) => `${name}="${escapeLabelValue(labels[name] ?? '')}"`).join(',');
}

interface MetricOptions {
  name: string;
  help: string;
  labelNames?: readonly string[];
  /** Called on every scrape before rendering (for values read from elsewhere). */
  collect?: () => number;
}

abstract class Metric {
  protected readonly series = new Map<string, number>();
  readonly name: string;
  private readonly help: string;
  protected readonly labelNames: readonly string[];
  private readonly collect: (() => number) | undefined;
  abstract readonly type: 'gauge' | 'counter';

  constructor(options: MetricOptions) {
    this.name = options.name;
    this.help = options.help;
    this.labelNames = options.labelNames ?? [];
    this.collect = options.collect;
  }

  render(): string {
    if (this.collect) this.series.set('', this.collect());
    const lines = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`];
    // An unlabelled metric shows 0 before anything was recorded, as prom-client does.
    if (!this.series.size && !this.labelNames.length) lines.push(`${this.name} 0`);
    for (const [key, value] of this.series)
      lines.push(`${this.name}${key ? `{${key}}` : ''} ${formatValue(value)}`);
    return lines.join('\n');
  }
}

export class Gauge extends Metric {
  readonly type = 'gauge';

  set(labels: Labels, value: number): void;
  set(value: number): void;
  set(labelsOrValue: Labels | number, value?: number): void {
    if (typeof labelsOrValue === 'number') this.series.set(labelKey(this.labelNames, {}), labelsOrValue);
    else this.series.set(labelKey(this.labelNames, labelsOrValue), value!);
  }
}

export class Counter extends Metric {
  readonly type = 'counter';

  inc(labels?: Labels, amount?: number): void;
  inc(amount?: number): void;
  inc(labelsOrAmount: Labels | number = 1, amount = 1): void {
    const [labels, by] = typeof labelsOrAmount === 'number' ? [{}, labelsOrAmount] : [labelsOrAmount, amount];
    if (!(by >= 0))
      throw new Error(`counter ${this.name}: expected a non-negative increment, received ${by}`);
    const key = labelKey(this.labelNames, labels);
    this.series.set(key, (this.series.get(key) ?? 0) + by);
  }
}

export class MetricsRegistry {
  private readonly all: Metric[] = [];

  register<M extends Metric>(metric: M): M {
    if (this.all.some((m) => m.name === metric.name))
      throw new Error(`metric ${metric.name}: expected a unique name, received it twice`);
    this.all.push(metric);
    return metric;
  }

  gauge(options: MetricOptions): Gauge {
    return this.register(new Gauge(options));
  }

  counter(options: MetricOptions): Counter {
    return this.register(new Counter(options));
  }

  /** The exposition text (Content-Type: text/plain; version=0.0.4). */
  metrics(): string {
    return `${this.all.map((m) => m.render()).join('\n\n')}\n`;
  }
}
