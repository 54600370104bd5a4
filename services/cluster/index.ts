/** The cluster service: local nodes (`cluster up`), instances as swarm stacks, moves and snapshots. */
export { clusterUp, clusterDown } from "./local";
export { clusterManagerEngine } from "./state";
export { clusterOverview, type ClusterOverview, type NodeOverview } from "./overview";
export { clusterLogFiles, clusterLogTail, type ClusterLogFile } from "./logs";
export { createClusterInstance, listClusterInstances, moveInstance, snapshotInstance, recoverNode, drainNode, removeClusterInstance, startClusterInstance } from "./instances";
export { cloneClusterInstance, exportClusterInstance } from "./export";
export { clusterInstanceInfo, listClusterSites, type ClusterInstanceInfo, type ClusterSiteRow } from "./info";
export { snapshotRound, startSnapshotSchedule } from "./schedule";
export { cloneClusterOp, snapshotClusterOp, exportClusterOp, exportClusterForDownload, drainNodeOp, activateNodeOp, createClusterOp, startClusterOp, moveClusterOp, removeClusterOp, recoverNodeOp } from "./ops";
export { addNode, initCluster, joinInstructions, leaveCluster, nodeCertificates, type JoinInstructions } from "./join";
