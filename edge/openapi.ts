import { z } from "zod";
import {
  actionSchema, blueprintApplySchema, configPutSchema, createBodySchema, imagesBuildSchema, imagesSaveSchema, loginSchema,
  moodleDownloadSchema, passwordChangeSchema, phpSwitchSchema, tokenCreateSchema, tokenRevokeSchema, upgradeBodySchema,
  cloneBodySchema, snapshotBodySchema, mailListQuerySchema, importQuerySchema, execBodySchema, clusterCreateBodySchema, clusterMoveBodySchema,
} from "./http/schemas";
import { profileBodySchema } from "../instances/profile";

/**
 * The OpenAPI 3.1 document for /api/v1: request bodies come straight from the zod schemas the
 * routes validate with (z.toJSONSchema), so the document cannot drift from what is enforced.
 */
type Op = {
  summary: string;
  body?: z.ZodType;
  /** A raw (binary) request body of this media type instead of JSON. */
  rawBody?: string;
  params?: string[];
  query?: { name: string; description: string; schema?: object }[];
  /** The zod schema the route parses its query with: each property becomes a query parameter. */
  querySchema?: z.ZodObject;
  responses?: Record<string, string>;
  produces?: string;
  public?: boolean;
};

const ERR = { $ref: "#/components/schemas/Error" };

function operation(method: string, path: string, o: Op) {
  const params = [
    ...(o.params ?? []).map((p) => ({ name: p, in: "path", required: true, schema: { type: "string" } })),
    ...(o.query ?? []).map((q) => ({ name: q.name, in: "query", required: false, description: q.description, schema: q.schema ?? { type: "string" } })),
    ...queryFromSchema(o.querySchema),
  ];
  const responses: Record<string, unknown> = {};
  for (const [code, description] of Object.entries(o.responses ?? { 200: "OK" })) {
    responses[code] = Number(code) >= 400
      ? { description, content: { "application/json": { schema: ERR } } }
      : { description, content: { [o.produces ?? "application/json"]: { schema: o.produces ? { type: "string" } : { type: "object" } } } };
  }
  if (!o.public) responses["401"] = { description: "No session or token", content: { "application/json": { schema: ERR } } };
  if (o.body) responses["422"] = { description: "Validation failed (field + reason)", content: { "application/json": { schema: ERR } } };
  return {
    summary: o.summary,
    operationId: `${method}${path.replace(/[{}]/g, "").replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ""))}`,
    ...(params.length ? { parameters: params } : {}),
    ...(o.body ? { requestBody: { required: true, content: { "application/json": { schema: z.toJSONSchema(o.body, { io: "input", unrepresentable: "any" }) } } } } : {}),
    ...(o.rawBody ? { requestBody: { required: true, content: { [o.rawBody]: { schema: { type: "string", format: "binary" } } } } } : {}),
    responses,
    ...(o.public ? { security: [] } : {}),
  };
}

function queryFromSchema(schema?: z.ZodObject) {
  if (!schema) return [];
  const js = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as { properties?: Record<string, object>; required?: string[] };
  return Object.entries(js.properties ?? {}).map(([name, sch]) => ({ name, in: "query", required: js.required?.includes(name) ?? false, schema: sch }));
}

const N = ["name"];
const WAIT = [{ name: "wait", description: "1 = wait and answer the result" }];
const ROUTES: Record<string, Record<string, Op>> = {
  "/instances": {
    get: { summary: "List instances with per-service status (one engine call)" },
    post: {
      summary: "Create an instance; 202 with the operation id (progress on /events), ?wait=1 waits",
      body: createBodySchema,
      query: [{ name: "wait", description: "1 = wait and return the instance" }],
      responses: { 202: "Operation started", 409: "Name taken, pool full or busy" },
    },
  },
  "/instances/{name}": {
    get: { summary: "One instance, with cron's last run (cron) and its cadence (cronCadence: minute, or idle = every idleMinutes)", params: N, responses: { 200: "OK", 404: "No such instance" } },
    delete: { summary: "Remove an instance and its data (operation)", params: N, query: [{ name: "wait", description: "1 = wait" }], responses: { 202: "Operation started", 404: "No such instance", 409: "Busy" } },
  },
  "/instances/{name}/actions/{action}": {
    post: { summary: "start | stop | restart (restart may name services)", params: ["name", "action"], body: actionSchema, query: [{ name: "wait", description: "1 = wait" }], responses: { 202: "Operation started", 409: "Busy" } },
  },
  "/instances/{name}/profile": {
    post: { summary: "Switch the performance profile (dev|prod): rewrites its php.ini lines, restarts the app (operation)", params: N, body: profileBodySchema, query: [{ name: "wait", description: "1 = wait" }], responses: { 202: "Operation started", 404: "No such instance", 409: "Busy" } },
  },
  "/instances/{name}/upgrade": {
    post: {
      summary: "Upgrade to a newer Moodle build by Moodle's own rules (checked first), in place or on a clone; snapshot, maintenance, code swap, upgrade.php, automatic rollback on failure; 202 with the operation id",
      params: N,
      body: upgradeBodySchema,
      query: [{ name: "wait", description: "1 = wait and return the upgraded instance" }],
      responses: { 202: "Operation started (with clone: the clone, then an operation named upgrade)", 404: "No such instance or build", 409: "Busy, not running, or added plugins the target cannot take" },
    },
  },
  "/instances/{name}/php": {
    post: { summary: "Switch PHP within the Moodle branch's range: app and cron recreated (operation); 200 with the view when already on it", params: N, body: phpSwitchSchema, query: [{ name: "wait", description: "1 = wait" }], responses: { 200: "Already on that version", 202: "Operation started", 404: "No such instance", 409: "Busy" } },
  },
  "/instances/{name}/login-link": {
    post: { summary: "A one-time admin login link into the site (single use, expires in 60 s; only the token's hash is stored, in moodledata)", params: N, responses: { 200: "{url, expiresAt}", 404: "No such instance", 409: "Not running, or created before login links" } },
  },
  "/instances/{name}/snapshots/{id}": {
    delete: { summary: "Delete one snapshot", params: ["name", "id"], responses: { 204: "Deleted", 404: "No such snapshot", 409: "Busy" } },
  },
  "/instances/{name}/clone": {
    post: { summary: "Clone into a new instance (new N, port and secrets); the operation runs on the new name", params: N, body: cloneBodySchema, query: [{ name: "wait", description: "1 = wait and return the clone" }], responses: { 202: "Operation started ({name, from, operation})", 404: "No such instance", 409: "Name taken, pool full or busy" } },
  },
  "/instances/{name}/export": {
    get: { summary: "Pack the instance (an export operation: DB dump, code, moodledata, config; no secrets), then stream it as one .tar.gz", params: N, produces: "application/gzip", responses: { 200: "The archive (content-length set)", 404: "No such instance", 409: "Busy" } },
    post: { summary: "Pack the instance for a browser download (an export operation); 202 with {operation, download}: GET the download path once the operation is done", params: N, query: [{ name: "wait", description: "1 = wait and answer {bytes, download}" }], responses: { 202: "Operation started", 404: "No such instance", 409: "Busy" } },
  },
  "/instances/{name}/export/{token}": {
    get: { summary: "Fetch an archive packed by POST /export, once, within an hour; removed after it is sent", params: ["name", "token"], produces: "application/gzip", responses: { 200: "The archive (content-length set)", 404: "Unknown, already fetched or expired" } },
  },
  "/import": {
    post: {
      summary: "Create an instance from an export archive sent as the raw body; 202 with the operation id",
      rawBody: "application/gzip",
      querySchema: importQuerySchema,
      responses: { 202: "Operation started", 409: "Name taken or pool full", 422: "Bad name, archive too large (20 GiB) or not an export" },
    },
  },
  "/instances/{name}/snapshots": {
    get: { summary: "Snapshots kept beside the instance (id, bytes, createdAt)", params: N, responses: { 200: "OK", 404: "No such instance" } },
    post: { summary: "Take a snapshot (operation); ?wait=1 answers {id, bytes}", params: N, body: snapshotBodySchema, query: [{ name: "wait", description: "1 = wait" }], responses: { 202: "Operation started", 404: "No such instance", 409: "Busy" } },
  },
  "/instances/{name}/snapshots/{id}/restore": {
    post: { summary: "Put the instance back to a snapshot (operation)", params: ["name", "id"], query: [{ name: "wait", description: "1 = wait and return the instance" }], responses: { 202: "Operation started", 404: "No such instance or snapshot", 409: "Busy" } },
  },
  "/instances/{name}/exec": {
    post: { summary: "Run one command (argv, no shell, no TTY, stdin closed) in a service's container; streams NDJSON {stdout}|{stderr} lines, then {exit}", params: N, body: execBodySchema, produces: "application/x-ndjson", responses: { 200: "The output stream", 404: "No such instance", 409: "The container is not running" } },
  },
  "/instances/{name}/dbadmin": {
    get: {
      summary: "Open the DB admin logged in to this instance's database: a one-time login, then 303 to /adminer. For an instance of a cluster started here, the login goes through a tunnel to its node's database (server 127.0.0.1:PORT), open for this session",
      params: N,
      query: [{ name: "format", description: "json = answer {location, driver, server, db, expiresAt} instead of redirecting" }],
      responses: { 200: "With format=json", 303: "Redirect to the DB admin", 404: "No such instance", 409: "A cluster instance whose db task is not running, or every tunnel port in use" },
    },
  },
  "/instances/{name}/blueprint": {
    get: { summary: "The applied blueprint marker, the last run, and whether URL blueprints are allowed", params: N },
    post: {
      summary: "Apply a blueprint (JSON body, or a bundle ZIP as application/zip with force/onError/allowUnsafe in the query); 202 with the operation id",
      params: N,
      body: blueprintApplySchema,
      query: [{ name: "wait", description: "1 = wait and return the result" }],
      responses: { 202: "Operation started", 404: "No such instance", 409: "Busy or not ready" },
    },
  },
  "/instances/{name}/secrets": { get: { summary: "The Moodle admin login (on request only)", params: N } },
  "/instances/{name}/logs": {
    get: {
      summary: "Service logs as text; follow=1 streams",
      params: N,
      produces: "text/plain",
      query: [
        { name: "service", description: "db | app | web | cron (default app)" },
        { name: "tail", description: "lines, 0..5000 (default 200)", schema: { type: "integer", minimum: 0, maximum: 5000 } },
        { name: "follow", description: "1 = keep streaming" },
        { name: "q", description: "keep lines containing this text (plain substring, ≤ 200 chars)" },
        { name: "file", description: "a path from /logs/files (e.g. php-8.2/fpm.log); default: container output" },
      ],
    },
  },
  "/instances/{name}/logs/files": { get: { summary: "Log files each service writes (logs/<svc>-<ver>/…), for ?file= on /logs", params: N } },
  "/instances/{name}/config": { get: { summary: "Editable config files (config/<svc>-<ver>/<file>)", params: N } },
  "/instances/{name}/config/{dir}/{file}": {
    get: { summary: "Read a config file", params: ["name", "dir", "file"] },
    put: { summary: "Validate (nginx -t, apache2 -t, php-fpm -t, php ini) and save; suggests a restart", params: ["name", "dir", "file"], body: configPutSchema },
  },
  "/instances/{name}/mail": {
    get: { summary: "Caught mail of the instance, newest first (name may be _unknown: senders no instance owns)", params: N, querySchema: mailListQuerySchema },
    delete: { summary: "Empty the instance's mailbox", params: N },
  },
  "/instances/{name}/mail/{id}": {
    get: { summary: "One caught message (html, text, headers, attachments); format=eml gives the raw message", params: ["name", "id"], query: [{ name: "format", description: "eml = the raw message (message/rfc822)" }], responses: { 200: "OK", 404: "No such message" } },
    delete: { summary: "Delete one message", params: ["name", "id"], responses: { 200: "Deleted", 404: "No such message" } },
  },
  "/instances/{name}/mail/{id}/attachments/{index}": {
    get: { summary: "One attachment, always as a download (its type in x-mdind-content-type)", params: ["name", "id", "index"], produces: "application/octet-stream", responses: { 200: "OK", 404: "No such message or attachment" } },
  },
  "/operations": { get: { summary: "Operation history, newest first", query: [{ name: "instance", description: "an instance name, _images or _moodle" }] } },
  "/operations/{instance}/{opId}": { get: { summary: "Every event of one operation", params: ["instance", "opId"] } },
  "/events": {
    get: {
      summary: "Server-sent events: op (progress), status (instance view from docker events), stats (CPU, memory, network)",
      produces: "text/event-stream",
      query: [
        { name: "instance", description: "only this instance (or _images, _moodle)" },
        { name: "after", description: "replay events after this id (also Last-Event-ID)" },
        { name: "only", description: "stats = the charts' feed: history (last 15 minutes) once, then sample ({at, instances}) per round" },
      ],
    },
  },
  "/images": { get: { summary: "Image catalog: present, size, up to date" } },
  "/images/build": { post: { summary: "Build images (operation on channel _images)", body: imagesBuildSchema, responses: { 202: "Operation started", 409: "An image operation is running" } } },
  "/preload": {
    get: { summary: "The shared-images preload: per tarball the state (pending, checking, loading, loaded, skipped, failed), reason or error, bytes read of size, MB/s" },
    post: { summary: "Run the preload again (joins a run in progress); progress via GET", responses: { 202: "Started" } },
  },
  "/images/save": { post: { summary: "Save present images as tars (operation on channel _images)", body: imagesSaveSchema, responses: { 202: "Operation started" } } },
  "/moodle": { get: { summary: "The Moodle build library: builds with the instances using them (usedBy), sources-folder entries that are not builds, the running library operation" } },
  "/moodle/upload": {
    post: {
      summary: "Add a Moodle package (.tgz, .tar.gz, .zip) sent as the raw body; streamed to disk and unpacked in an operation on channel _moodle; answers with the build",
      rawBody: "application/octet-stream",
      query: [{ name: "filename", description: "the package's name, e.g. moodle-4.5.5.tgz (its extension decides how it is unpacked)" }],
      responses: { 201: "Added (or already in the library)", 409: "A library operation is running", 413: "Larger than MDIND_MOODLE_UPLOAD_MAX (default 1 GiB)", 422: "Not a Moodle package, or refused (links, .., devices, size caps)" },
    },
  },
  "/moodle/download": {
    post: {
      summary: "Download an official package by version (or clone git + ref) into the library; 202 with the operation id (channel _moodle), ?wait=1 waits",
      body: moodleDownloadSchema,
      query: [{ name: "wait", description: "1 = wait and return the build" }],
      responses: { 202: "Operation started", 409: "A library operation is running" },
    },
  },
  "/moodle/{id}": { delete: { summary: "Remove a build from the library", params: ["id"], responses: { 200: "Removed", 404: "No such build", 409: "Instances use it" } } },
  "/metrics": { get: { summary: "Prometheus scrape endpoint (a bearer token suits scrapers)", produces: "text/plain" } },
  "/terminal/sessions": { get: { summary: "Before opening the terminal WebSocket (/api/v1/terminal): whether the host shell is allowed, the caller's live sessions and the limits" } },
  "/host": { get: { summary: "Engine info, disk use, networks and ports in use" } },
  "/cluster/instances": {
    get: { summary: "The cluster's sites as the Instances page lists them (name, node, port, running, release, url); no cluster: {cluster: null, sites: []}" },
    post: { summary: "Create a cluster instance (a new site of moodle: a build of this host's library, the newest by default, or fixture; PostgreSQL by default or db: mariadb[:X]) on the node given, else where the swarm scheduler places it; the operation runs on the new name; ?wait=1 answers the instance", body: clusterCreateBodySchema, query: WAIT, responses: { 202: "Operation started ({name, node, operation})", 404: "No cluster or no such node", 409: "Name taken, the node is not ready and active, or busy", 422: "Bad input, or no such Moodle build in the library" } },
  },
  "/cluster/instances/{name}": {
    get: { summary: "A cluster instance: its node, port, URL, Moodle build and release, database and admin user (read from its node)", params: N, responses: { 200: "The instance", 404: "No cluster or no such instance", 422: "Not an instance name" } },
    delete: { summary: "Remove a cluster instance: its stack, overlay, data on its node and snapshot (operation on the instance)", params: N, query: WAIT, responses: { 202: "Operation started ({name, operation})", 404: "No cluster or no such instance", 409: "Busy", 422: "Not an instance name" } },
  },
  "/cluster/instances/{name}/secrets": { get: { summary: "A cluster instance's Moodle admin login (on request only, read from its node; not cached)", params: N, responses: { 200: "{adminUser, adminPassword}", 404: "No cluster or no such instance", 422: "Not an instance name" } } },
  "/cluster/instances/{name}/start": {
    post: { summary: "Deploy a cluster instance's stack again on the node holding its data and wait until it answers (operation on the instance)", params: N, query: WAIT, responses: { 202: "Operation started ({name, operation})", 404: "No cluster or no such instance", 409: "Busy", 422: "Not an instance name" } },
  },
  "/cluster/instances/{name}/move": {
    post: { summary: "Move a cluster instance to another node by a live copy (from: live, the default) or from its latest snapshot (from: snapshot); same port; operation on the instance; ?wait=1 answers {name, from, to, how, seconds}", params: N, body: clusterMoveBodySchema, query: WAIT, responses: { 202: "Operation started ({name, to, from, operation})", 404: "No cluster, no such instance or node, or no snapshot to move from", 409: "Already on that node, the node is not ready and active, or busy" } },
  },
  "/cluster/instances/{name}/logs": {
    get: {
      summary: "A cluster instance's log files, read on the node holding its data (over mutual TLS): {node, files} without file; {node, path, text} with it",
      params: N,
      query: [
        { name: "file", description: "a path from the list, e.g. nginx-1.22/access.log" },
        { name: "lines", description: "last lines, 1..5000 (default 200)", schema: { type: "integer", minimum: 1, maximum: 5000 } },
      ],
      responses: { 200: "OK", 400: "Not a listed path", 404: "No such cluster instance or file" },
    },
  },
  "/cluster/instances/{name}/clone": {
    post: { summary: "Clone a cluster instance: exported from its node, imported as a new instance placed by the scheduler (own N, overlay, port, secrets); the operation runs on the new name", params: N, body: cloneBodySchema, query: WAIT, responses: { 202: "Operation started ({name, from, operation})", 404: "No cluster or no such instance", 409: "Name taken or busy" } },
  },
  "/cluster/instances/{name}/export": {
    get: { summary: "Export a cluster instance from its node (an export operation; the archive `cluster export` writes, which `import` reads on any host) and stream it as one .tar.gz", params: N, produces: "application/gzip", responses: { 200: "The archive (content-length set)", 404: "No cluster or no such instance", 409: "Busy" } },
    post: { summary: "Pack a cluster instance for a browser download (an export operation); 202 with {operation, download}: GET the download path once the operation is done", params: N, query: [{ name: "wait", description: "1 = wait and answer {bytes, node, download}" }], responses: { 202: "Operation started", 404: "No cluster or no such instance", 409: "Busy" } },
  },
  "/cluster/instances/{name}/export/{token}": {
    get: { summary: "Fetch an archive packed by POST /cluster/instances/{name}/export, once, within an hour", params: ["name", "token"], produces: "application/gzip", responses: { 200: "The archive (content-length set)", 404: "Unknown, already fetched or expired" } },
  },
  "/cluster/instances/{name}/snapshots": {
    post: { summary: "Snapshot a cluster instance now (database dump and folder, kept on the control plane; only the latest is kept); ?wait=1 answers {file, bytes, at}", params: N, query: WAIT, responses: { 202: "Operation started", 404: "No cluster or no such instance", 409: "Busy" } },
  },
  "/cluster/nodes/{node}/drain": {
    post: { summary: "Drain a node: the scheduler places nothing new there and each of its instances moves by live copy to the active node with the fewest; operation on channel _cluster; ?wait=1 answers {node, moved}", params: ["node"], query: WAIT, responses: { 202: "Operation started ({node, channel, operation})", 404: "No cluster or no such node", 409: "Another node operation is running, or no other active node", 422: "Not a node hostname or id" } },
  },
  "/cluster/nodes/{node}/recover": {
    post: { summary: "Recover a lost node: once the swarm sees it down (waits up to 120 s, then refuses), each instance it held comes back on another node from its latest snapshot; operation on channel _cluster; ?wait=1 answers {moved, lost}", params: ["node"], query: WAIT, responses: { 202: "Operation started ({node, channel, operation})", 404: "No cluster or no such node", 409: "Another node operation is running", 422: "Not a node hostname or id" } },
  },
  "/cluster/nodes/{node}/activate": {
    post: { summary: "Make a node active again (the scheduler may place there); answers the node", params: ["node"], responses: { 200: "The node", 404: "No cluster or no such node", 409: "A node operation is running", 422: "Not a node hostname or id" } },
  },
  "/cluster": { get: { summary: "The cluster started here (cluster: null when none): each swarm node's state, availability, role, the instances whose data or web task it holds, and its CPU, memory and disk read from its engine over mutual TLS (error names a node that did not answer)" } },
  "/cluster/join": { get: { summary: "For a cluster of real machines run from here (cluster init): the commands that add a machine, with the swarm's worker token (a secret)", responses: { 200: "{address, token, certs, join, add}", 404: "No cluster of real machines here" } } },
  "/health": { get: { summary: "{ok} for anyone; engine, disk and supervisor details with a session or token", public: true } },
  "/reconcile": { post: { summary: "Repair registry, folders and engine after a crash (?dryRun=1 reports only)", query: [{ name: "dryRun", description: "1 = report only" }] } },
  "/meta": { get: { summary: "The compatibility table the create form offers, and the Moodle builds in the library" } },
  "/openapi.json": { get: { summary: "This document" } },
  "/auth/login": { post: { summary: "Trade the admin password for a session cookie", body: loginSchema, public: true, responses: { 200: "Logged in (cookies set)", 401: "Wrong password", 429: "Too many failures" } } },
  "/auth/logout": { post: { summary: "End this session" } },
  "/auth/password": { post: { summary: "Change the admin password (other sessions end)", body: passwordChangeSchema, responses: { 200: "Changed", 409: "Set by MDIND_ADMIN_PASSWORD" } } },
  "/auth/tokens": {
    get: { summary: "List API tokens (never the secrets)" },
    post: { summary: "Create an API token; the token is in this response only", body: tokenCreateSchema, responses: { 201: "Created", 409: "Name taken" } },
    delete: { summary: "Revoke a token (?id= or body)", body: tokenRevokeSchema, responses: { 200: "Revoked", 404: "No such token" } },
  },
};

export function openapiDocument() {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [p, methods] of Object.entries(ROUTES)) {
    paths[p] = Object.fromEntries(Object.entries(methods).map(([m, o]) => [m, operation(m, p, o)]));
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Moodle DinD API",
      version: "1",
      description:
        "Drives instances on this host. Browser sessions use the mdind_session cookie and must send x-mdind-csrf on mutations; scripts use Authorization: Bearer <token> (create one under Settings).",
    },
    servers: [{ url: "/api/v1" }],
    security: [{ session: [] }, { bearer: [] }],
    components: {
      securitySchemes: {
        session: { type: "apiKey", in: "cookie", name: "mdind_session" },
        bearer: { type: "http", scheme: "bearer", bearerFormat: "mdind_<id>_<secret>" },
      },
      schemas: {
        Error: {
          type: "object",
          properties: {
            error: {
              type: "object",
              properties: { kind: { type: "string" }, message: { type: "string" }, field: { type: "string" }, step: { type: "string" }, requestId: { type: "string", description: "On a 500: the id of the server log line (route_error) describing it" } },
              required: ["kind", "message"],
            },
          },
        },
      },
    },
    paths,
  };
}

/** Route paths the document describes, for the test that keeps it complete. */
export const documentedPaths = () => Object.keys(ROUTES);
