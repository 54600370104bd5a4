import { ValidationError } from "../errors";

/**
 * Where each Moodle plugin type lives, relative to the web root (from core's lib/components.json).
 * Moodle 5.1 moved the web root into `public/`, so there the same directories sit under `public/`.
 * Atto is left out on purpose: it was removed from core in 5.0 and we do not install into it.
 */
export const PLUGIN_TYPE_DIRS: Readonly<Record<string, string>> = Object.freeze({
  mod: "mod",
  block: "blocks",
  local: "local",
  theme: "theme",
  auth: "auth",
  enrol: "enrol",
  filter: "filter",
  format: "course/format",
  qtype: "question/type",
  qbehaviour: "question/behaviour",
  qformat: "question/format",
  qbank: "question/bank",
  report: "report",
  coursereport: "course/report",
  gradeexport: "grade/export",
  gradeimport: "grade/import",
  gradereport: "grade/report",
  gradingform: "grade/grading/form",
  tool: "admin/tool",
  logstore: "admin/tool/log/store",
  availability: "availability/condition",
  repository: "repository",
  portfolio: "portfolio",
  plagiarism: "plagiarism",
  editor: "lib/editor",
  tiny: "lib/editor/tiny/plugins",
  media: "media/player",
  message: "message/output",
  profilefield: "user/profile/field",
  customfield: "customfield/field",
  search: "search/engine",
  cachestore: "cache/stores",
  cachelock: "cache/locks",
  fileconverter: "files/converter",
  antivirus: "lib/antivirus",
  mlbackend: "lib/mlbackend",
  dataformat: "dataformat",
  contenttype: "contentbank/contenttype",
  h5plib: "h5p/h5plib",
  paygw: "payment/gateway",
  calendartype: "calendar/type",
  webservice: "webservice",
  mnetservice: "mnet/service",
  communication: "communication/provider",
  smsgateway: "sms/gateway",
  aiprovider: "ai/provider",
  aiplacement: "ai/placement",
  assignsubmission: "mod/assign/submission",
  assignfeedback: "mod/assign/feedback",
  booktool: "mod/book/tool",
  datafield: "mod/data/field",
  datapreset: "mod/data/preset",
  forumreport: "mod/forum/report",
  quiz: "mod/quiz/report",
  quizaccess: "mod/quiz/accessrule",
  scormreport: "mod/scorm/report",
  workshopform: "mod/workshop/form",
  workshopallocation: "mod/workshop/allocation",
  workshopeval: "mod/workshop/eval",
  ltisource: "mod/lti/source",
  ltiservice: "mod/lti/service",
});

/** "public" for Moodle 5.1 and later (code under public/), "legacy" before. */
export type MoodleLayout = "public" | "legacy";

/** Layout from a Moodle version or branch: "5.1", "5.1.2", "501", "MOODLE_501_STABLE", "main". */
export function moodleLayoutFor(version: string): MoodleLayout {
  const v = version.trim();
  if (/^(main|master)$/i.test(v)) return "public";
  let major: number;
  let minor: number;
  const dotted = /^(\d+)\.(\d+)/.exec(v);
  const branch = /^(?:MOODLE_)?(\d)(\d\d)(?:_STABLE)?$/i.exec(v);
  if (dotted) {
    major = Number(dotted[1]);
    minor = Number(dotted[2]);
  } else if (branch) {
    major = Number(branch[1]);
    minor = Number(branch[2]);
  } else {
    throw new ValidationError(`cannot tell the Moodle code layout from version '${version}'`);
  }
  return major > 5 || (major === 5 && minor >= 1) ? "public" : "legacy";
}

/** Directory (relative to the Moodle code root) that holds plugins of this type. */
export function pluginTypeDir(type: string, layout: MoodleLayout): string {
  if (!Object.hasOwn(PLUGIN_TYPE_DIRS, type)) throw new ValidationError(`'${type}' is not a Moodle plugin type we can install`);
  const dir = PLUGIN_TYPE_DIRS[type];
  return layout === "public" ? `public/${dir}` : dir;
}

/** Directory (relative to the code root) a plugin is installed into, e.g. local + foo → local/foo. */
export function pluginInstallDir(type: string, name: string, layout: MoodleLayout): string {
  if (!/^[a-z][a-z0-9_]*$/.test(name) || name.length > 64) throw new ValidationError(`'${name}' is not a valid plugin name`);
  return `${pluginTypeDir(type, layout)}/${name}`;
}

/**
 * Guess type and name from a plugin archive's top folder: GitHub archives are named after the repository
 * (moodle-mod_board-main, moodle-local_foo-MOODLE_405_STABLE), release ZIPs after the plugin (board).
 */
export function guessPluginFromFolder(folder: string): { type?: string; name: string } | null {
  const repo = /^moodle-([a-z]+)_([a-z][a-z0-9_]*?)(?:-.*)?$/.exec(folder);
  if (repo && Object.hasOwn(PLUGIN_TYPE_DIRS, repo[1])) return { type: repo[1], name: repo[2] };
  if (/^[a-z][a-z0-9_]*$/.test(folder)) return { name: folder };
  return null;
}

/** `$plugin->component = 'local_foo';` from a version.php, without running it. */
export function componentFromVersionPhp(source: string): { type: string; name: string } | null {
  const m = /\$plugin\s*->\s*component\s*=\s*['"]([a-z]+)_([a-z0-9_]+)['"]\s*;/.exec(source);
  if (!m || !Object.hasOwn(PLUGIN_TYPE_DIRS, m[1])) return null;
  return { type: m[1], name: m[2] };
}
