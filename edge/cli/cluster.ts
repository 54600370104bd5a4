/** moodle-dind cluster …: several DinD hosts in one Docker Swarm (docs/cluster.md). */
export async function clusterCommand(argv: string[]): Promise<number> {
  process.stderr.write(`cluster: not implemented yet (${argv.join(" ")})\n`);
  return 2;
}
