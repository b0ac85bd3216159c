/**
 * fbcontrol: the reaching task, the feedback-controlled rate RNN, and the tools around them for
 * reproducing "Feedback control guides credit assignment in recurrent neural networks"
 * (Kaleb, Feulner, Gallego, Clopath, NeurIPS 2024). One concept per module.
 */
export * as rng from "./rng";
export * as task from "./task";
export * as network from "./network";
export * as loss from "./loss";
export * as optim from "./optim";
export * as train from "./train";
export * as tftrain from "./tftrain";
export * as rules from "./rules";
export * as perturbation from "./perturbation";
export * as targets from "./targets";
export * as registry from "./registry";
export * as plugin from "./plugin";
export * as adapt from "./adapt";
export * as results from "./results";
export * as sweep from "./sweep";
export * as analysis from "./analysis";
export * as checkpoint from "./checkpoint";
export * as provenance from "./provenance";
export * as kernels from "./kernels";
export * as backend from "./backend";
export * as plot from "./plot";
export * as table from "./table";
export * as validate from "./validate";
export { Progress } from "./progress";
export { runMode, byMode } from "./mode";
export { dataPath, projectPath, runsPath } from "./paths";
export { Rng, makeStreams } from "./rng";
