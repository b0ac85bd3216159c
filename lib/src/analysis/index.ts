/** Analyses of trained networks and learning rules. */
export * from "./alignment";
export * from "./acute";
