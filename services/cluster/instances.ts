const todo = (): never => {
  throw new Error("not yet");
};
export const createClusterInstance = async (..._a: unknown[]) => todo() as { name: string; node: string; port: number; n: number };
export const listClusterInstances = async () => todo() as { name: string; node: string; port: number; running: boolean; snapshot?: { at: string } }[];
export const moveInstance = async (..._a: unknown[]) => todo() as { name: string; to: string; seconds: number; how: string };
export const snapshotInstance = async (..._a: unknown[]) => todo() as { file: string; bytes: number };
export const recoverNode = async (..._a: unknown[]) => todo() as { moved: { name: string; to: string; seconds: number; snapshotAt: string }[] };
export const drainNode = async (..._a: unknown[]) => todo() as { node: string; moved: { name: string; to: string; seconds: number }[] };
export const removeClusterInstance = async (..._a: unknown[]) => todo();
