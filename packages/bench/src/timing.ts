// Timing one-dispatch Plans. A measurement encodes the plan N times into ONE compute pass and ONE submit, so the
// fixed cost of a submit (and of Node's promise round trip) is shared by N calls instead of dominating small
// kernels; per-call time is the measurement divided by N, and the reported figure is the median of R measurements,
// which shrugs off the other processes of a busy 2-core machine better than a mean would.
import type { DeviceContext, Plan } from '@qgpu/gpu';

export interface TimingOptions {
  /** Wanted wall time of one measurement; N is chosen from a calibration call to reach it. */
  readonly targetMs: number;
  /** Measurements whose median is reported (3 when one call alone takes over 4× targetMs, to bound the run time). */
  readonly repeats: number;
  /** Upper bound on N, so a tiny kernel does not record millions of dispatches. */
  readonly maxIterations: number;
}

export interface Timing {
  /** Dispatches per measurement. */
  readonly iterations: number;
  /** Per-call wall time of each measurement (submit → onSubmittedWorkDone), µs. */
  readonly wallUs: readonly number[];
  /** Per-call time from timestamp queries at the pass's start and end, µs; null without `timestamp-query`. */
  readonly gpuUs: readonly number[] | null;
  readonly medianWallUs: number;
  readonly medianGpuUs: number | null;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of nothing');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** N for one measurement: enough calls to fill `targetMs`, at least 1 (a call longer than the target runs once). */
export function chooseIterations(singleCallMs: number, options: TimingOptions): number {
  const n = Math.round(options.targetMs / Math.max(singleCallMs, 1e-3));
  return Math.min(options.maxIterations, Math.max(1, n));
}

/** Timestamp queries for one pass: start and end, resolved and copied to a mappable buffer. */
export class PassTimer {
  private readonly querySet: GPUQuerySet;
  private readonly resolve: GPUBuffer;
  private readonly readback: GPUBuffer;

  constructor(private readonly device: GPUDevice) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: 2 });
    this.resolve = device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    this.readback = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  get writes(): GPUComputePassTimestampWrites {
    return { querySet: this.querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 };
  }

  afterPass(encoder: GPUCommandEncoder): void {
    encoder.resolveQuerySet(this.querySet, 0, 2, this.resolve, 0);
    encoder.copyBufferToBuffer(this.resolve, 0, this.readback, 0, 16);
  }

  /** Nanoseconds between the two timestamps (read after the submit has completed). */
  async elapsedNs(): Promise<number> {
    await this.readback.mapAsync(GPUMapMode.READ);
    const [begin, end] = new BigUint64Array(this.readback.getMappedRange());
    this.readback.unmap();
    return Number(end! - begin!);
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolve.destroy();
    this.readback.destroy();
  }
}

/** One measurement: `iterations` encodings of `plan` in one pass and one submit; returns [wall ms, gpu ms | null]. */
async function measure(ctx: DeviceContext, plan: Plan, iterations: number, timer: PassTimer | null): Promise<[number, number | null]> {
  const { device } = ctx;
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass(timer ? { timestampWrites: timer.writes } : {});
  for (let i = 0; i < iterations; i++) plan.encode(pass);
  pass.end();
  timer?.afterPass(encoder);
  const commands = encoder.finish();
  // Encoding happens before the clock starts: only execution (and one submit) is timed.
  const start = performance.now();
  device.queue.submit([commands]);
  await device.queue.onSubmittedWorkDone();
  const wallMs = performance.now() - start;
  return [wallMs, timer ? (await timer.elapsedNs()) / 1e6 : null];
}

/** Warm-up, calibration, then `repeats` measurements of N calls each. */
export async function timePlan(ctx: DeviceContext, plan: Plan, options: TimingOptions): Promise<Timing> {
  const timer = ctx.features.has('timestamp-query') ? new PassTimer(ctx.device) : null;
  try {
    // The first submit pays for lazy work (pipeline finalisation, first touch of fresh buffer pages): not timed.
    await measure(ctx, plan, 1, null);
    const [singleMs] = await measure(ctx, plan, 1, null);
    const iterations = chooseIterations(singleMs, options);
    // A call this long is its own long measurement: submit overhead and timer noise are tiny beside it.
    const repeats = singleMs > 4 * options.targetMs ? Math.min(3, options.repeats) : options.repeats;
    const wallUs: number[] = [];
    const gpuUs: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const [wallMs, gpuMs] = await measure(ctx, plan, iterations, timer);
      wallUs.push((wallMs * 1000) / iterations);
      if (gpuMs !== null) gpuUs.push((gpuMs * 1000) / iterations);
    }
    return {
      iterations,
      wallUs,
      gpuUs: timer ? gpuUs : null,
      medianWallUs: median(wallUs),
      medianGpuUs: timer ? median(gpuUs) : null,
    };
  } finally {
    timer?.destroy();
  }
}
