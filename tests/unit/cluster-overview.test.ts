import { describe, expect, it } from "vitest";
import { parseDf, sumByInstance, usageOf } from "../../services/cluster/overview";
import { instanceOfTask } from "../../services/cluster/stack";
import { clusterLogTail } from "../../services/cluster/logs";
import { clusterLogsQuerySchema } from "../../edge/http/schemas";

/** The Nodes view's figures from a node engine's raw answers. */
describe("cluster overview figures", () => {
  it("computes CPU % of one core and memory without page cache, as docker stats does", () => {
    const s = {
      cpu_stats: { cpu_usage: { total_usage: 3_000_000_000 }, system_cpu_usage: 20_000_000_000, online_cpus: 2 },
      precpu_stats: { cpu_usage: { total_usage: 2_000_000_000 }, system_cpu_usage: 10_000_000_000 },
      memory_stats: { usage: 300 * 2 ** 20, stats: { inactive_file: 100 * 2 ** 20 } },
    };
    const u = usageOf(s);
    expect(u.cpuPercent).toBeCloseTo(20, 5);
    expect(u.memBytes).toBe(200 * 2 ** 20);
  });

  it("reads 0 for a first sample with no previous one, and never negative memory", () => {
    const u = usageOf({
      cpu_stats: { cpu_usage: { total_usage: 5 }, system_cpu_usage: 0 },
      precpu_stats: { cpu_usage: { total_usage: 0 } },
      memory_stats: { usage: 10, stats: { total_inactive_file: 50 } },
    });
    expect(u).toEqual({ cpuPercent: 0, memBytes: 0 });
  });

  it("parses df -P -B1 and refuses what is not its output", () => {
    const out = "Filesystem 1-blocks Used Available Capacity Mounted on\n/dev/vda 270549716992 57982107648 198734315520 23% /var/www/moodledata\n";
    expect(parseDf(out)).toEqual({ usedBytes: 57982107648, totalBytes: 270549716992 });
    expect(parseDf("")).toBeNull();
    expect(parseDf("df: /x: No such file or directory")).toBeNull();
    expect(parseDf("a b c d\nfs x y z w m")).toBeNull();
  });
});

describe("cluster overview per instance", () => {
  it("names the instance of a task container from its service name, and nothing else", () => {
    expect(instanceOfTask("mdind-cl1_db")).toBe("cl1");
    expect(instanceOfTask("mdind-my-site-2_cron")).toBe("my-site-2");
    for (const bad of [undefined, "", "mdind-cl1", "mdind-cl1_shell", "other-cl1_app", "mdind-_app", "mdind-CL1_app", "mdind-a b_app"]) {
      expect(instanceOfTask(bad), String(bad)).toBeNull();
    }
  });

  it("sums CPU and memory over an instance's four tasks, leaving other containers out", () => {
    const svc = (n: string) => ({ Labels: { "com.docker.swarm.service.name": n } });
    const running = [svc("mdind-a_db"), svc("mdind-a_app"), svc("mdind-b_web"), { Labels: {} }, svc("mdind-a_cron")];
    const stats = [1, 2, 4, 8, 16].map((x) => ({ cpuPercent: x, memBytes: x * 1000 }));
    expect(sumByInstance(running, stats)).toEqual({ a: { cpuPercent: 19, memBytes: 19000 }, b: { cpuPercent: 4, memBytes: 4000 } });
  });
});

describe("cluster logs input", () => {
  it.each(["../../etc/passwd", "nginx-1.22/../../x", "/etc/passwd", "nginx-1.22/.hidden", "nginx-1.22/a b", "nginx-1.22/$(id)", "x/y/z", "NGINX-1.22/access.log", ""])(
    "refuses %j before reaching any node",
    async (bad) => {
      await expect(clusterLogTail("site1", bad, 10)).rejects.toMatchObject({ name: "ValidationError" });
      expect(clusterLogsQuerySchema.safeParse({ file: bad }).success).toBe(false);
    },
  );

  it("clamps lines", () => {
    expect(clusterLogsQuerySchema.parse({ lines: "999999" }).lines).toBe(5000);
    expect(clusterLogsQuerySchema.parse({ lines: "-4" }).lines).toBe(1);
    expect(clusterLogsQuerySchema.parse({ lines: "abc" }).lines).toBe(200);
    expect(clusterLogsQuerySchema.parse({ file: "nginx-1.22/access.log" }).file).toBe("nginx-1.22/access.log");
  });
});
