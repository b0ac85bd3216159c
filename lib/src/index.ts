/**
 * fbcontrol: the reaching task, the feedback-controlled rate RNN, and the tools around them for
 * reproducing "Feedback control guides credit assignment in recurrent neural networks"
 * (Kaleb, Feulner, Gallego, Clopath, NeurIPS 2024). One concept per module.
 *
 * @packageDocumentation
 */
/** Seedable random streams with serialisable state (xoshiro128**), one per concern. */
export * as rng from "./rng";
/** The reaching task: random and centre-out reaches, inputs, velocity targets, pushes and the visuomotor rotation. */
export * as task from "./task";
/** The rate RNN with error-feedback control: config, parameters and the forward simulation. */
export * as network from "./network";
/** The pre-training loss and its exact gradient by backpropagation through time. */
export * as loss from "./loss";
/** Adam and global gradient-norm clipping, as PyTorch implements them. */
export * as optim from "./optim";
/** Pre-training by BPTT through the whole trial and the feedback loop, resumable bit for bit. */
export * as train from "./train";
/** Pre-training batches on TensorFlow.js, with the weights kept on the backend. */
export * as tftrain from "./tftrain";
/** Online learning rules for W_rec (RFLO, online BPTT, FED) behind one interface, found by name in a registry. */
export * as rules from "./rules";
/** Rules that let the feedback weights W_fb learn during adaptation (the built-in noise_mirror), found by name in a registry. */
export * as feedbackRules from "./feedbackRules";
export * as measures from "./measures";
/** Effectors the network drives: the massless hand (the paper's), a point mass, a two-joint arm; exact step derivatives. */
export * as plant from "./plant";
/** Perturbations: transforms of the trials (e.g. the rotated target) and pushes on the hand (e.g. a curl field). */
export * as perturbation from "./perturbation";
/** Perturbations of the seen hand: rotated, mirrored or scaled cursors, as cursor maps (2x2) on the hand velocity. */
export * as cursor from "./cursor";
/** Target sets: where adaptation trials and tests reach to. */
export * as targets from "./targets";
/** Registries of named, user-extensible components (rules, perturbations, target sets). */
export * as registry from "./registry";
/** Plugin files that register rules, perturbations or target sets, with their hashes recorded. */
export * as plugin from "./plugin";
/** Adaptation to a visuomotor rotation: trial after trial, W_rec learns online with one rule. */
export * as adapt from "./adapt";
/** Adaptation runs as data: loading, summaries over seeds, curves with bands. */
export * as results from "./results";
/** Learning-rate sweeps: grids of adaptation cells, shards, and their results. */
export * as sweep from "./sweep";
/** Analyses of trained networks and learning rules (alignment, acute responses, Jacobians, Hessians, efficiency, ...). */
export * as analysis from "./analysis";
/** Versioned checkpoints in the safetensors layout, written atomically. */
export * as checkpoint from "./checkpoint";
/** Where a result came from (commit, hashes), and whether a stored result may be reused. */
export * as provenance from "./provenance";
/** Dense linear-algebra kernels (gemm and the fused hot loops) on the OpenBLAS addon or TypeScript loops. */
export * as kernels from "./kernels";
/** TensorFlow.js start-up: the fastest backend that loads, and why the others did not. */
export * as backend from "./backend";
/** Plotly figures for tslab notebooks, rendered offline. */
export * as plot from "./plot";
/** arquero tables in tslab notebooks, and CSV output. */
export * as table from "./table";
/** Argument checks that name the parameter and the allowed range. */
export * as validate from "./validate";
export { Progress, type ProgressOptions } from "./progress";
export { runMode, byMode, type RunMode } from "./mode";
export { dataPath, projectPath, runsPath } from "./paths";
export { Rng, makeStreams } from "./rng";
