/** Small timing helpers shared by the benchmarks. Figures, not assertions: benches never fail on speed. */

export interface Rate {
  readonly name: string;
  readonly opsPerSecond: number;
  readonly nsPerOp: number;
}

/** Runs `fn` repeatedly for about `ms` milliseconds after a warm-up and returns operations per second. */
export function rate(name: string, fn: (i: number) => unknown, ms = 1000): Rate {
  let sink: unknown;
  for (let i = 0; i < 20_000; i += 1) sink = fn(i);
  let count = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(ms) * 1_000_000n;
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < 1000; i += 1) sink = fn(count + i);
    count += 1000;
    now = process.hrtime.bigint();
  }
  if (sink === Symbol.for('never')) console.log(sink);
  const seconds = Number(now - start) / 1e9;
  return { name, opsPerSecond: count / seconds, nsPerOp: (seconds * 1e9) / count };
}

/** Median wall time of `runs` calls, in milliseconds. */
export function medianMs(fn: () => unknown, runs = 30): number {
  for (let i = 0; i < 3; i += 1) fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const start = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

export function table(rows: ReadonlyArray<Record<string, string | number>>): string {
  const first = rows[0];
  if (!first) return '';
  const columns = Object.keys(first);
  const cell = (value: string | number) => (typeof value === 'number' ? format(value) : value);
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c] ?? '').length)));
  const line = (values: string[]) => `| ${values.map((v, i) => v.padEnd(widths[i]!)).join(' | ')} |`;
  return [
    line(columns),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map((r) => line(columns.map((c) => cell(r[c] ?? '')))),
  ].join('\n');
}

function format(value: number): string {
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  return value.toFixed(2);
}
