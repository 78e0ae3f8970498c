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

/** dequant, dp4a or lut, from the result's format. */
export function pathOf(r: MatmulResult): 'dequant' | 'dp4a' | 'lut' {
  return r.format.startsWith('dp4a_') ? 'dp4a' : r.format.startsWith('lut') ? 'lut' : 'dequant';
}

/** Weight bits per weight, scales and zero points included (Q4_0: 4.5, LUT b bits: b + 2 for the f32 scale and zero per 32). */
export const bitsPerWeight = (r: MatmulResult): number => (8 * r.weightBytes) / (r.shape.rows * r.shape.cols);

/**
 * The kernel paths side by side per decode shape, ordered by weight bits: LUT at each width vs dequant vs dp4a, each
 * as time, effective GB/s and the ratio to the copy of the same run (the memory roofline on this adapter).
 */
export function pathTable(rows: readonly Row[]): string {
  const lines = [
    '| shape (out×in) | path | format | bits/weight | µs/call (wall) | GB/s | vs copy |',
    '|---|---|---|--:|--:|--:|--:|',
  ];
  const decode = rows.filter(({ result }) => result.shape.tokens === 1 && !result.kernel.startsWith('gemm'));
  const shapes = [...new Set(decode.map(({ result }) => shapeLabel(result.shape)))];
  for (const shape of shapes) {
    const here = decode.filter(({ result }) => shapeLabel(result.shape) === shape).sort((a, b) => bitsPerWeight(a.result) - bitsPerWeight(b.result));
    for (const { result: r, copy } of here) {
      const gbs = gbPerSecond(r.bytesMoved, r.medianWallUs);
      const copyGbs = gbPerSecond(copy.bytesMoved, copy.medianWallUs);
      lines.push(`| ${shape} | ${pathOf(r)} | ${r.format} | ${bitsPerWeight(r).toFixed(2)} | ${fmtUs(r.medianWallUs)} | ${fmtGb(gbs)} | ${((100 * gbs) / copyGbs).toFixed(0)}% |`);
    }
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
