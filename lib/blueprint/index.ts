/**
 * Moodle Playground compatible blueprints: parse and validate, resolve resources, read bundles, hash,
 * and run step by step against an executor. See steps.ts for the step registry.
 */
export { parseBlueprint, type ParsedBlueprint, type ParsedStep, type BlueprintHints, type ParseOptions } from "./parse";
export { blueprintHash } from "./hash";
export { canonicalJson, parseJson, type JsonValue, type JsonObject } from "./json";
export { DEFAULT_POLICY, resolvePolicy, type BlueprintPolicy } from "./policy";
export {
  ResourceResolver,
  fetchCapped,
  normaliseResource,
  resourceKind,
  RESOURCE_KINDS,
  type ResourceDescriptor,
  type ResourceKind,
  type BundleFiles,
} from "./resources";
export {
  STEP_REGISTRY,
  getStepDefinition,
  stepNames,
  parseSitePath,
  type SitePath,
  type SiteRoot,
  type StepClass,
  type StepDefinition,
} from "./steps";
export { loadBundle, BLUEPRINT_FILE, type Bundle, type LoadBundleOptions } from "./bundle";
export {
  extractZipSafe,
  installPluginZip,
  openZipChecked,
  DEFAULT_ZIP_LIMITS,
  type ExtractOptions,
  type ExtractResult,
  type PluginInstallOptions,
  type PluginInstallResult,
  type ZipLimits,
} from "./zip";
export {
  PLUGIN_TYPE_DIRS,
  moodleLayoutFor,
  pluginTypeDir,
  pluginInstallDir,
  guessPluginFromFolder,
  componentFromVersionPhp,
  type MoodleLayout,
} from "./plugins";
export { safeRelativePath } from "./safe-path";
export {
  runBlueprint,
  redactStep,
  type StepExecutor,
  type StepContext,
  type StepOutcome,
  type MarkerStore,
  type ProgressEvent,
  type RunOptions,
  type RunResult,
  type StepReport,
  type StepStatus,
} from "./runner";
export {
  phpStepInput,
  parsePhpStepOutput,
  phpStepScriptPath,
  PHP_STEP_SCRIPT_NAME,
  type MaterialisedResource,
} from "./php-protocol";
