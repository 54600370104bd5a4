import fs from "node:fs/promises";
import path from "node:path";
import { run } from "../proc";

/**
 * Mutual-TLS material for the nodes' Docker APIs (port 2376; never plain TCP): one CA per cluster,
 * a server certificate per node (SANs: its name, its addresses, 127.0.0.1) and one client
 * certificate for the control plane. Made with openssl (argv only); keys stay 0600.
 */
export interface ClientTls {
  ca: string;
  cert: string;
  key: string;
}

const ossl = (args: string[], cwd: string) => run("openssl", args, { cwd });

async function exists(p: string): Promise<boolean> {
  return !!(await fs.stat(p).catch(() => null));
}

/** The CA and client certificate in `dir` (made once). */
export async function ensureCa(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  if (!(await exists(path.join(dir, "ca.pem")))) {
    await ossl(["genrsa", "-out", "ca-key.pem", "2048"], dir);
    await ossl(["req", "-x509", "-new", "-key", "ca-key.pem", "-sha256", "-days", "825", "-subj", "/CN=moodle-dind cluster CA", "-out", "ca.pem"], dir);
  }
  if (!(await exists(path.join(dir, "cert.pem")))) {
    await ossl(["genrsa", "-out", "key.pem", "2048"], dir);
    await ossl(["req", "-new", "-key", "key.pem", "-subj", "/CN=moodle-dind control plane", "-out", "client.csr"], dir);
    await fs.writeFile(path.join(dir, "client.ext"), "extendedKeyUsage = clientAuth\n");
    await ossl(["x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial", "-days", "825", "-sha256", "-extfile", "client.ext", "-out", "cert.pem"], dir);
  }
  for (const f of ["ca-key.pem", "key.pem"]) await fs.chmod(path.join(dir, f), 0o600);
}

const SAN_NAME = /^[a-zA-Z0-9][a-zA-Z0-9.-]{0,62}$/;
const SAN_IP = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * A node's server certificate in `nodeDir` (ca.pem, server-cert.pem, server-key.pem: the names
 * dind/host/bin/mdind-dockerd expects under /var/lib/moodle-dind/tls).
 */
export async function ensureServerCert(caDir: string, nodeDir: string, names: string[], ips: string[]): Promise<void> {
  for (const n of names) if (!SAN_NAME.test(n)) throw new Error(`bad certificate name ${n}`);
  for (const ip of ips) if (!SAN_IP.test(ip)) throw new Error(`bad certificate address ${ip}`);
  await fs.mkdir(nodeDir, { recursive: true, mode: 0o700 });
  if (await exists(path.join(nodeDir, "server-cert.pem"))) return;
  const san = [...names.map((n) => `DNS:${n}`), ...["127.0.0.1", ...ips].map((ip) => `IP:${ip}`)].join(",");
  await ossl(["genrsa", "-out", "server-key.pem", "2048"], nodeDir);
  await ossl(["req", "-new", "-key", "server-key.pem", "-subj", `/CN=${names[0]}`, "-out", "server.csr"], nodeDir);
  await fs.writeFile(path.join(nodeDir, "server.ext"), `subjectAltName = ${san}\nextendedKeyUsage = serverAuth\n`);
  await ossl(["x509", "-req", "-in", path.join(nodeDir, "server.csr"), "-CA", path.join(caDir, "ca.pem"), "-CAkey", path.join(caDir, "ca-key.pem"), "-CAcreateserial", "-days", "825", "-sha256", "-extfile", path.join(nodeDir, "server.ext"), "-out", "server-cert.pem"], nodeDir);
  await fs.copyFile(path.join(caDir, "ca.pem"), path.join(nodeDir, "ca.pem"));
  await fs.chmod(path.join(nodeDir, "server-key.pem"), 0o600);
}

export async function readClientTls(dir: string): Promise<ClientTls> {
  const [ca, cert, key] = await Promise.all(["ca.pem", "cert.pem", "key.pem"].map((f) => fs.readFile(path.join(dir, f), "utf8")));
  return { ca, cert, key };
}
