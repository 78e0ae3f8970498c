// Turning results into the two outputs: a markdown table (printed, and pasted into BENCHMARKS.md) and the raw JSON
// record under packages/bench/results/. GB/s are decimal (1e9 bytes), from the median wall-clock time per call.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { shapeLabel, type CopyResult, type MatmulResult, type Shape } from './cases.ts';

export interface Row {
  readonly result: MatmulResult;
  readonly copy: CopyResult;
}

export interface Skip {
  readonly format: string;
  readonly shape: Shape;
  readonly reason: string;
}

export interface RunRecord {
  readonly tool: '@qgpu/bench kernels';
  readonly date: string;
  readonly command: string;
  readonly adapter: string;
  readonly adapterInfo: Readonly<Record<string, string>>;
  readonly features: readonly string[];
  readonly host: { readonly platform: string; readonly cpus: number; readonly cpuModel: string; readonly node: string };
  /** 1-minute load average when the run started and ended: other work on the machine shows up here. */
  readonly loadAverage: { readonly start: number; readonly end: number };
  readonly activations: 'f32';
  readonly weightMethod: string;
  readonly timing: { readonly targetMs: number; readonly repeats: number; readonly maxIterations: number };
  readonly shapes: readonly Shape[];
  readonly rows: readonly Row[];
  readonly skipped: readonly Skip[];
  readonly totalSeconds: number;
}

/** Bytes per microsecond is MB/s; divided by 1e3, GB/s. */
export const gbPerSecond = (bytes: number, us: number): number => bytes / us / 1e3;

/** 2 flops (multiply, add) per weight per token: what a GEMM is judged by, since it is not bandwidth-bound. */
export const gflops = (r: MatmulResult): number => (2 * r.shape.rows * r.shape.cols * r.shape.tokens) / r.medianWallUs / 1e3;

const fmtUs = (us: number | null): string => (us === null ? '—' : us >= 100 ? us.toFixed(0) : us.toFixed(1));
const fmtMb = (bytes: number): string => (bytes / 1e6).toFixed(bytes >= 1e7 ? 0 : 2);
const fmtGb = (gbs: number): string => gbs.toFixed(gbs >= 10 ? 1 : 2);

export function markdownTable(rows: readonly Row[]): string {
  const lines = [
    '| kernel | shape (out×in) | calls/meas. | µs/call (wall) | µs/call (timestamps) | MB moved | GB/s | GFLOP/s | copy GB/s (at MB) | vs copy |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const { result: r, copy } of rows) {
    const gbs = gbPerSecond(r.bytesMoved, r.medianWallUs);
    const copyGbs = gbPerSecond(copy.bytesMoved, copy.medianWallUs);
    lines.push(
      `| ${r.kernel} | ${shapeLabel(r.shape)} | ${r.iterations} | ${fmtUs(r.medianWallUs)} | ${fmtUs(r.medianGpuUs)} | ` +
        `${fmtMb(r.bytesMoved)} | ${fmtGb(gbs)} | ${fmtGb(gflops(r))} | ${fmtGb(copyGbs)} (${fmtMb(copy.bytesMoved)}) | ${((100 * gbs) / copyGbs).toFixed(0)}% |`,
    );
  }
  return lines.join('\n');
}

/** The copy roofline runs themselves, one line each, so a reader can see how bandwidth varies with size. */
export function copyTable(copies: readonly CopyResult[]): string {
  const lines = ['| copy_u32, MB moved | calls/meas. | µs/call (wall) | µs/call (timestamps) | GB/s |', '|--:|--:|--:|--:|--:|'];
  for (const c of [...copies].sort((a, b) => a.bytesMoved - b.bytesMoved)) {
    lines.push(`| ${fmtMb(c.bytesMoved)} | ${c.iterations} | ${fmtUs(c.medianWallUs)} | ${fmtUs(c.medianGpuUs)} | ${fmtGb(gbPerSecond(c.bytesMoved, c.medianWallUs))} |`);
  }
  return lines.join('\n');
}

export function shapeList(shapes: readonly Shape[]): string {
  return shapes.map((s) => `${shapeLabel(s)} (${s.note})`).join('; ');
}

export function writeRecord(path: string, record: RunRecord): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(record, null, 2)}\n`);
}
