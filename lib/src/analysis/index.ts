/** Analyses of trained networks and learning rules. */
export * from "./alignment";
export * from "./acute";
export * from "./activityGradient";
export * from "./jacobian";
export * from "./trialGradient";
export * from "./krylov";
export * from "./hessian";
export * from "./secondOrder";
export * from "./efficiency";
export * as dense from "./dense";
export * from "./sharpness";
export * from "./curvature";
export * from "./generalization";
export * from "./kinematics";
export * from "./loopGain";
export * from "./population";
export * from "./stability";
