import path from "node:path";
import { parseArgs } from "node:util";
import { activateNode, listNodes, localEngine, swarmJoin, type Engine, type NodeView } from "../../lib/cluster/swarm";
import { UsageError } from "./exit";

/**
 * moodle-dind cluster …: several DinD hosts in one Docker Swarm (docs/cluster.md). With a cluster
 * started here by `cluster up`, the verbs act on its manager (over mutual TLS); otherwise on this
 * host's own engine (inside a host container: its inner engine).
 */
const USAGE = `usage: moodle-dind cluster <verb> [options]

  init --advertise ADDR [--ports MIN-MAX]   make this host the manager of a cluster of real machines;
                                       prints what to run for each other machine
  certs NODE --address ADDR            that machine's engine certificates, from this cluster's CA
  join --token T --manager HOST[:2377] [--advertise ADDR]   join this host to a manager's swarm
  add NODE --address ADDR [--api-port P]   record a machine that joined (its engine over mutual TLS);
                                       copies the images instances need onto it
  leave                                forget a cluster of real machines (no instance left) and leave the swarm
  nodes [--json]                       the swarm's nodes (state, availability, CPU, memory; with a
                                       cluster started here also their instances, CPU, memory and disk in use)
  drain NODE | activate NODE           drain moves this node's instances to others (live copy)
  up --nodes N [--ports MIN-MAX]       N DinD host containers on this machine in one swarm
  down                                 remove them (containers, volumes, network, snapshots)
  create NAME [--moodle BUILD] [--node NODE] [--db ENGINE[:X]]   a Moodle site as a swarm stack: BUILD as
                                       for create (default: the newest in the library; fixture: the test app)
  list [--json]                        instances, their node, port, Moodle and state
  info NAME [--show-password]          NAME's URL, node, Moodle and admin user (with the flag, its password)
  start NAME                           deploy NAME's stack again on the node holding its data
  move NAME --to NODE [--from-snapshot]    snapshot NAME        remove NAME
  recover NODE                         a lost node's instances, from their latest snapshots
  logs NAME [FILE] [--lines N]         NAME's log files on its node; with FILE (from the list) its last lines
  export NAME [FILE]                   NAME as an archive \`moodle-dind import\` reads on any host
  clone NAME NEWNAME                   NAME exported and imported as NEWNAME, placed by the scheduler
`;

const say = (l: string) => process.stderr.write(`cluster: ${l}\n`);

export async function clusterCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      json: { type: "boolean" },
      nodes: { type: "string" },
      ports: { type: "string" },
      token: { type: "string" },
      manager: { type: "string" },
      advertise: { type: "string" },
      address: { type: "string" },
      "api-port": { type: "string" },
      node: { type: "string" },
      db: { type: "string" },
      moodle: { type: "string" },
      "show-password": { type: "boolean" },
      to: { type: "string" },
      "from-snapshot": { type: "boolean" },
      lines: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const [verb, arg, arg2] = positionals;
  if (!verb || values.help) {
    process.stdout.write(USAGE);
    return verb ? 0 : 2;
  }
  const json = values.json === true;
  const out = (v: unknown, text: () => string) => process.stdout.write(json ? `${JSON.stringify(v)}\n` : `${text()}\n`);
  const need = (what: string) => {
    if (!arg) throw new UsageError(`cluster ${verb} needs ${what}`);
    return arg;
  };
  const svc = await import("../../services/cluster");

  switch (verb) {
    case "up": {
      const nodes = Number.parseInt(values.nodes ?? "", 10);
      if (!Number.isInteger(nodes)) throw new UsageError("cluster up --nodes N");
      const [portMin, portMax] = values.ports ? values.ports.split("-").map((p) => Number.parseInt(p, 10)) : [undefined, undefined];
      const r = await svc.clusterUp({ nodes, portMin, portMax }, say);
      out({ ...r, state: undefined }, () => `${r.nodes.length} nodes ready in ${r.seconds.toFixed(0)} s\n${nodeTable(r.nodes)}`);
      return 0;
    }
    case "down":
      await svc.clusterDown(say);
      out({ down: true }, () => "cluster removed");
      return 0;
    case "init": {
      if (!values.advertise) throw new UsageError("cluster init --advertise ADDR (the address other hosts reach this one at)");
      const [portMin, portMax] = values.ports ? values.ports.split("-").map((p) => Number.parseInt(p, 10)) : [undefined, undefined];
      const r = await svc.initCluster({ advertise: values.advertise, portMin, portMax });
      const addr = values.advertise;
      out({ manager: r.state.manager, address: addr, workerToken: r.workerToken }, () =>
        [
          `${r.state.manager} is the manager of cluster ${r.state.name} (instance ports ${r.state.portMin}-${r.state.portMax}). For each other machine:`,
          `  here:  moodle-dind cluster certs NODE --address ITS_ADDRESS   (copy the three files to its data volume's tls/, start its host with MDIND_DOCKER_TLS=1)`,
          `  there: moodle-dind cluster join --token ${r.workerToken} --manager ${addr}:2377 --advertise ITS_ADDRESS`,
          `  here:  moodle-dind cluster add NODE --address ITS_ADDRESS`,
        ].join("\n"),
      );
      return 0;
    }
    case "certs": {
      if (!values.address) throw new UsageError("cluster certs NODE --address ADDR");
      const r = await svc.nodeCertificates(need("a node"), values.address);
      out(r, () => `copy these to /var/lib/moodle-dind/tls/ on ${arg} (its data volume), then start its host with MDIND_DOCKER_TLS=1:\n${r.files.map((f) => `  ${f}`).join("\n")}`);
      return 0;
    }
    case "add": {
      if (!values.address) throw new UsageError("cluster add NODE --address ADDR [--api-port 2376]");
      const apiPort = Number.parseInt(values["api-port"] ?? "2376", 10);
      const r = await svc.addNode(need("a node"), values.address, apiPort, say);
      out(r, () => `${r.node.hostname} added (${r.node.state}, ${r.node.availability})${r.images.length ? `; copied ${r.images.join(", ")}` : ""}`);
      return 0;
    }
    case "leave":
      await svc.leaveCluster();
      out({ left: true }, () => "this host left the swarm; the cluster's record is gone");
      return 0;
    case "join": {
      if (!values.token || !values.manager) throw new UsageError("cluster join --token T --manager HOST[:2377]");
      await swarmJoin(localEngine(), values.token, values.manager, values.advertise);
      out({ joined: true }, () => "joined the swarm");
      return 0;
    }
    case "nodes": {
      // A cluster started here: the Nodes view's data (instances and usage per node); else the swarm's list.
      const o = await svc.clusterOverview();
      if (o.cluster) {
        out(o.nodes, () => overviewTable(o.nodes));
        return 0;
      }
      const nodes = await listNodes(await target(svc));
      out(nodes, () => nodeTable(nodes));
      return 0;
    }
    case "drain": {
      const r = await svc.drainNode(need("a node"), say);
      out(r, () => `${r.node} drained; moved ${r.moved.map((m) => `${m.name} → ${m.to} (${m.seconds.toFixed(1)} s)`).join(", ") || "nothing"}`);
      return 0;
    }
    case "activate": {
      const n = await activateNode(await target(svc), need("a node"));
      out(n, () => `${n.hostname} is ${n.availability}`);
      return 0;
    }
    case "create": {
      const r = await svc.createClusterInstance(need("a name"), { node: values.node, db: values.db, moodle: values.moodle }, say);
      out(r, () => `${r.name} runs on ${r.node}, port ${r.port} (172.20.${r.n}.0/24)`);
      return 0;
    }
    case "start": {
      const r = await svc.startClusterInstance(need("a name"));
      out(r, () => `${r.name} answers on port ${r.port} from ${r.node} (${r.seconds.toFixed(1)} s)`);
      return 0;
    }
    case "info": {
      const r = await svc.clusterInstanceInfo(need("a name"), { showPassword: values["show-password"] === true });
      out(r, () =>
        [`${r.name}: ${r.url} (Moodle ${r.release}, ${r.moodle})`, `  on ${r.node}, port ${r.port}, 172.20.${r.n}.0/24, ${r.db ? `${r.db.engine} ${r.db.version}` : "postgres"}`, `  admin: ${r.adminUser}${r.adminPassword ? ` / ${r.adminPassword}` : " (--show-password for the password)"}`].join("\n"),
      );
      return 0;
    }
    case "list": {
      const rows = await svc.listClusterInstances();
      out(rows, () => rows.map((r) => `${r.name.padEnd(20)} ${r.node.padEnd(16)} ${String(r.port).padEnd(6)} ${(r.moodle ?? "fixture").padEnd(30)} ${r.running ? "running" : "not running"}${r.snapshot ? `  snapshot ${r.snapshot.at}` : ""}`).join("\n") || "no instances");
      return 0;
    }
    case "move": {
      if (!values.to) throw new UsageError("cluster move NAME --to NODE");
      const r = await svc.moveInstance(need("a name"), values.to, values["from-snapshot"] ? "snapshot" : "live", say);
      out(r, () => `${r.name} moved to ${r.to} in ${r.seconds.toFixed(1)} s (${r.how})`);
      return 0;
    }
    case "clone": {
      const from = need("a name");
      if (!arg2) throw new UsageError("cluster clone NAME NEWNAME");
      const r = await svc.cloneClusterInstance(from, arg2, say);
      out(r, () => `${r.name} (a clone of ${from}) runs on ${r.node}, port ${r.port} (172.20.${r.n}.0/24)`);
      return 0;
    }
    case "export": {
      const name = need("a name");
      const file = path.resolve(arg2 ?? `${name}.moodle-dind.tar.gz`);
      const r = await svc.exportClusterInstance(name, file, say);
      out(r, () => `exported ${name} from ${r.node} to ${r.file} (${(r.bytes / 1e6).toFixed(1)} MB): \`moodle-dind import\` it on any host`);
      return 0;
    }
    case "snapshot": {
      const r = await svc.snapshotInstance(need("a name"), say);
      out(r, () => `${need("a name")}: snapshot ${r.file} (${(r.bytes / 1e6).toFixed(1)} MB)`);
      return 0;
    }
    case "recover": {
      const r = await svc.recoverNode(need("a node"), say);
      out(r, () => [...r.moved.map((m) => `${m.name} → ${m.to} in ${m.seconds.toFixed(1)} s from the snapshot of ${m.snapshotAt}`), ...r.lost.map((l) => `${l.name}: lost ${l.lost}`)].join("\n") || "nothing to recover");
      return 0;
    }
    case "logs": {
      if (arg2) {
        const r = await svc.clusterLogTail(need("a name"), arg2, values.lines ? Number.parseInt(values.lines, 10) : 200);
        out(r, () => r.text.replace(/\n$/, ""));
      } else {
        const r = await svc.clusterLogFiles(need("a name"));
        out(r, () => `on ${r.node}:\n${r.files.map((f) => `${f.path.padEnd(32)} ${f.service.padEnd(5)} ${f.size} B`).join("\n") || "no log files"}`);
      }
      return 0;
    }
    case "remove": {
      await svc.removeClusterInstance(need("a name"), say);
      out({ removed: arg }, () => `${arg} removed`);
      return 0;
    }
    default:
      throw new UsageError(`unknown cluster verb '${verb}'`);
  }
}

/** The manager of a cluster started here, else this host's engine. */
async function target(svc: typeof import("../../services/cluster")): Promise<Engine> {
  return (await svc.clusterManagerEngine()) ?? localEngine();
}

function nodeTable(nodes: NodeView[]): string {
  return nodes
    .map((n) => `${n.hostname.padEnd(16)} ${n.role.padEnd(8)} ${n.availability.padEnd(7)} ${n.state.padEnd(6)} ${n.addr.padEnd(15)} ${n.cpus} CPU ${(n.memoryBytes / 2 ** 30).toFixed(1)} GiB${n.leader ? " leader" : ""}`)
    .join("\n");
}

function overviewTable(nodes: import("../../services/cluster").NodeOverview[]): string {
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;
  return nodes
    .map((n) => {
      const u = n.usage;
      const use = u ? `cpu ${u.cpuPercent.toFixed(1)} %, mem ${gib(u.memBytes)}/${gib(n.memoryBytes)}, disk ${u.disk ? `${gib(u.disk.usedBytes)}/${gib(u.disk.totalBytes)}` : "?"}` : (n.error ?? "");
      const inst = n.instances.map((i) => `${i.name}:${i.port}${i.webHere ? "" : "(data)"}`).join(" ") || "no instances";
      return `${nodeTable([n])}\n    ${use}\n    ${inst}`;
    })
    .join("\n");
}
