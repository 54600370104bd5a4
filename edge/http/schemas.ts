import { z } from "zod";
import { SERVICES } from "../../instances/stack";
import { createInputSchema, PHP_VERSIONS } from "../../instances/spec";
import { GIT_REF_RE, UPLOAD_NAME_RE } from "../../lib/moodle/paths";
import { upgradeInputSchema } from "../../instances/upgrade/plan";
import { nameSchema } from "../../lib/names";
import { nodeRefSchema } from "../../lib/cluster/swarm";

/** Request schemas shared by the route handlers and the OpenAPI document. */
export const loginSchema = z.object({ password: z.string().min(1).max(1024) }).strict();
export const passwordChangeSchema = z
  .object({ current: z.string().min(1).max(1024), password: z.string().min(10).max(1024) })
  .strict();
export const tokenCreateSchema = z
  .object({ name: z.string().regex(/^[A-Za-z0-9 ._-]{1,64}$/, "1–64 letters, digits, space, '.', '_' or '-'") })
  .strict();
export const tokenRevokeSchema = z.object({ id: z.string().regex(/^[a-f0-9]{8}$/) }).strict();
export const actionSchema = z.object({ services: z.array(z.enum(SERVICES)).max(4).optional() }).strict();
export const imageSpecSchema = z.string().regex(/^(all|(php|postgres|mariadb|nginx|apache):\d{1,2}(\.\d{1,2})?)$/, "kind:version, e.g. php:8.2");
export const imagesBuildSchema = z.object({ specs: z.array(imageSpecSchema).min(1).max(20) }).strict();
export const imagesSaveSchema = z.object({ dir: z.string().max(200).regex(/^[A-Za-z0-9._/-]+$/).optional() }).strict();
export const configPutSchema = z.object({ content: z.string().max(256 * 1024) }).strict();
export const logsQuerySchema = z.object({
  service: z.enum(SERVICES).default("app"),
  tail: z.coerce.number().int().catch(200).transform((n) => Math.max(0, Math.min(n, 5000))),
  follow: z.enum(["0", "1", "true", "false"]).optional().transform((v) => v === "1" || v === "true"),
  q: z.string().max(200).optional(),
  /** A log file from GET …/logs/files ("nginx-1.26/access.log"); without it, the container's own output. */
  file: z.string().max(200).regex(/^[a-z]+-[0-9.]+\/[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, "a path from the log file list").optional(),
});

/** GET /cluster/instances/{name}/logs: without `file`, the list; with it, that file's last `lines`. */
export const clusterLogsQuerySchema = z.object({
  file: z.string().max(200).regex(/^[a-z]+-[0-9.]+\/[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, "a path from the log file list").optional(),
  lines: z.coerce.number().int().catch(200).transform((n) => Math.max(1, Math.min(n, 5000))),
});

/** POST /instances: the create input plus an optional blueprint (JSON text). */
export const createBodySchema = createInputSchema.extend({ blueprint: z.string().max(1024 * 1024).optional() }).strict();

/** POST /instances/{name}/blueprint (JSON): the blueprint as an object or its text, or a URL when the host allows URLs. */
export const blueprintApplySchema = z
  .object({
    blueprint: z.union([z.string().min(1).max(1024 * 1024), z.record(z.string(), z.unknown())]).optional(),
    url: z.string().max(2048).optional(),
    force: z.boolean().optional(),
    onError: z.enum(["abort", "warn"]).optional(),
    allowUnsafe: z.boolean().optional(),
  })
  .strict()
  .refine((b) => (b.blueprint === undefined) !== (b.url === undefined), { message: "give either blueprint or url", path: ["blueprint"] });

/** POST /moodle/download: a version, or a git repository and ref (default: Moodle's tag or branch name for the version). */
export const moodleDownloadSchema = z
  .object({
    version: z.string().max(8).regex(/^\d\.\d{1,2}(\.\d{1,2})?$/, "X.Y (latest of a branch) or X.Y.Z"),
    git: z.string().max(500).optional(),
    ref: z.string().regex(GIT_REF_RE, "a tag or branch: letters, digits, . _ / -, not starting with '-'").optional(),
  })
  .strict();
/** POST /moodle/upload?filename=: the package's name decides how it is unpacked. */
export const moodleUploadQuerySchema = z.object({
  filename: z.string().regex(UPLOAD_NAME_RE, "a package name (letters, digits, . _ + -)").regex(/\.(tgz|tar\.gz|zip)$/i, "ends in .tgz, .tar.gz or .zip"),
});

/** POST /instances/{name}/upgrade: the target build (branch, release or id) and an optional clone to upgrade instead. */
export const upgradeBodySchema = upgradeInputSchema;

/** POST /instances/{name}/php: the PHP version to switch to (the Moodle branch's range is checked below). */
export const phpSwitchSchema = z.object({ version: z.enum(PHP_VERSIONS) }).strict();

/** POST /instances/{name}/clone: the new instance's name. */
export const cloneBodySchema = z.object({ to: nameSchema }).strict();
/** POST /cluster/instances: the new instance's name and the node to put it on (without one, the swarm scheduler picks). */
export const clusterCreateBodySchema = z
  .object({ name: nameSchema, node: nodeRefSchema.optional(), db: createInputSchema.shape.db.unwrap().optional(), moodle: createInputSchema.shape.moodle.unwrap().optional() })
  .strict();
/** POST /cluster/instances/{name}/move: the target node, and whether the data comes by live copy (default) or from the latest snapshot. */
export const clusterMoveBodySchema = z.object({ to: nodeRefSchema, from: z.enum(["live", "snapshot"]).default("live") }).strict();
/** POST /instances/{name}/snapshots: an optional label (part of the snapshot id). */
export const snapshotBodySchema = z.object({ label: z.string().regex(/^[a-z0-9-]{1,32}$/).optional() }).strict();
/** GET /instances/{name}/mail: paging. */
export const mailListQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(500).optional(),
  offset: z.coerce.number().int().min(0).max(1_000_000).optional(),
});
/** POST /import?name=: the new instance's name (the archive is the raw body). */
export const importQuerySchema = z.object({ name: nameSchema, wait: z.enum(["0", "1", "true", "false"]).optional() });
/** POST /instances/{name}/exec: one command as argv (never a shell string), run without a TTY. */
export const execBodySchema = z
  .object({ service: z.enum(SERVICES).default("app"), argv: z.array(z.string().max(8192)).min(1).max(256) })
  .strict();
