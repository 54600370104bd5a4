import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpGetLoopback } from "../../instances/ready";

/**
 * The cluster's wait for a site (services/cluster/instances.ts waitAnswer) asks through loopback
 * as if addressed to the site's wwwroot host, because Moodle redirects a request for any other
 * host (with MDIND_PUBLIC_HOST set, the real address differs from 127.0.0.1). A local server
 * that behaves that way stands in for Moodle.
 */
let server: http.Server;
let port = 0;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.headers.host !== `moodle.example.test:${port}`) {
      res.writeHead(303, { location: `http://moodle.example.test:${port}${req.url}` }).end();
      return;
    }
    res.writeHead(200, { "content-type": "text/html" }).end('<button id="loginbtn">Log in</button>');
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as AddressInfo).port;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe("httpGetLoopback", () => {
  it("sends the wwwroot's Host, so the site answers instead of redirecting", async () => {
    const ok = await httpGetLoopback(port, "/login/index.php", `moodle.example.test:${port}`, AbortSignal.timeout(5000));
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('id="loginbtn"');
    const other = await httpGetLoopback(port, "/login/index.php", `127.0.0.1:${port}`, AbortSignal.timeout(5000));
    expect(other.status).toBe(303);
  });

  it("gives up when its signal ends the wait", async () => {
    const hang = http.createServer(() => undefined);
    await new Promise<void>((r) => hang.listen(0, "127.0.0.1", r));
    try {
      const p = (hang.address() as AddressInfo).port;
      await expect(httpGetLoopback(p, "/", `x:${p}`, AbortSignal.timeout(200))).rejects.toThrow();
    } finally {
      hang.closeAllConnections();
      await new Promise<void>((r) => hang.close(() => r()));
    }
  });
});
