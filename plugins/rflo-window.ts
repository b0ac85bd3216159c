/**
 * RFLO whose updates are applied in one period of the trial only: "movement" (from the go step on) or
 * "preparation" (before it). The eligibility trace runs through the whole trial as in RFLO; only the update
 * dw_k = diag(W_fb e_{k+1}) P is dropped outside the period. Written as a user would, against the public
 * package: it wraps the built-in rule (rules.Rflo) and reads the go step from the trial context.
 *
 *   npm run adapt -- --plugin plugins/rflo-window.ts --conditions rflo_window --rule-options period=movement
 *
 * Issue 25, item 4: does RFLO without control climb back on the instructed-delay task because of what it
 * learns while the hand must stay still?
 */
import { kernels, network, rules } from "fbcontrol";

type FArray = kernels.FArray;

export interface RfloWindowOptions {
  /** "movement": updates for errors e_{k+1} with k + 1 >= go; "preparation": for k + 1 < go. */
  period: "movement" | "preparation";
}

export class RfloWindow implements rules.LearningRule {
  readonly name = "rflo_window";
  private readonly inner = new rules.Rflo();
  private go = 0;
  private applied = false;

  constructor(readonly options: RfloWindowOptions) {
    if (options.period !== "movement" && options.period !== "preparation") throw new Error(`rflo_window: period must be "movement" or "preparation", got ${JSON.stringify(options.period)}`);
  }

  reset(net: network.Network, ro: network.Rollout, context?: rules.TrialContext): void {
    if (context?.go === undefined) throw new Error("rflo_window needs the go step in the trial context (run it through the adaptation loop)");
    this.inner.reset(net, ro);
    this.go = context.go;
    this.applied = false;
  }

  advance(k: number): void {
    this.inner.advance(k);
  }

  private active(k: number): boolean {
    return this.options.period === "movement" ? k + 1 >= this.go : k + 1 < this.go;
  }

  accumulate(k: number, out: FArray, scale: number): number {
    // Outside the period the trace step that RFLO defers to accumulate is taken by the next advance.
    this.applied = this.active(k);
    return this.applied ? this.inner.accumulate(k, out, scale) : 0;
  }

  lastUpdate(out: FArray): void {
    if (this.applied) this.inner.lastUpdate(out);
    else out.fill(0);
  }
}

rules.registerRule({
  name: "rflo_window",
  description: "RFLO with its updates applied only in one period of the trial (period=movement: from go on; preparation: before go)",
  defaults: { period: "movement" },
  defaultLr: { control: 5e-5, plain: 5e-5 },
  create: (o) => new RfloWindow(o as unknown as RfloWindowOptions),
});
