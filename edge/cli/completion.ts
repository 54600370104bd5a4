import { GLOBAL_OPTIONS, OPTIONS, VERBS, verbOptions, type Arg, type OptName, type OptSpec } from "./verbs";

/**
 * `moodle-dind completion bash|zsh`: scripts written from the verb table (verbs.ts). Instance
 * names come from `moodle-dind list --names` (with the --url/--token typed on the line), run as an
 * argv array; every candidate is matched in the shell with [[ == prefix* ]] and never passed
 * through compgen -W, which would expand `$(…)` inside a name a remote host sent.
 */

/** A word for a single-quoted shell string. */
const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

interface Dialect {
  /** How the script starts: the current word, the previous one and the loop over earlier words. */
  head: string;
  files: string;
}

const BASH: Dialect = {
  head: `  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="" verb="" w i skip=0
  local -a pos=() remote=()
  ((COMP_CWORD > 0)) && prev="\${COMP_WORDS[COMP_CWORD-1]}"
  COMPREPLY=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"`,
  files: `local f; while IFS= read -r f; do COMPREPLY+=("$f"); done < <(compgen -f -- "$cur")`,
};

const ZSH: Dialect = {
  head: `  local cur="\${words[CURRENT]}" prev="\${words[CURRENT-1]}" verb="" w i skip=0
  local -a pos remote
  for ((i = 2; i < CURRENT; i++)); do
    w="\${words[i]}"`,
  files: "_files",
};

const valued = (Object.keys(OPTIONS) as OptName[]).filter((o) => OPTIONS[o].type === "string");
const spell = (o: OptName) => {
  const spec: OptSpec = OPTIONS[o];
  return spec.short ? [`--${o}`, `-${spec.short}`] : [`--${o}`];
};

function argCase(arg: Arg, files: string): string {
  if (arg === "instance") return "_moodle_dind_instances";
  if (arg === "file") return files;
  if (arg === "text") return ":";
  return arg.length ? `_moodle_dind_add ${arg.map(sq).join(" ")}` : ":";
}

function body(d: Dialect): string {
  const lines: string[] = [];
  lines.push(d.head);
  lines.push(`    if ((skip)); then skip=0; continue; fi`);
  lines.push(`    case "$w" in`);
  lines.push(`      --) return 0 ;;`);
  lines.push(`      --url|--token) remote+=("$w" "\${${d === BASH ? "COMP_WORDS" : "words"}[i+1]}"); skip=1 ;;`);
  lines.push(`      ${valued.filter((o) => o !== "url" && o !== "token").flatMap(spell).join("|")}) skip=1 ;;`);
  lines.push(`      -*) ;;`);
  lines.push(`      *) if [[ -z "$verb" ]]; then verb="$w"; else pos+=("$w"); fi ;;`);
  lines.push(`    esac`);
  lines.push(`  done`);
  // The value of an option just typed.
  lines.push(`  case "$prev" in`);
  for (const o of valued) {
    const spec: OptSpec = OPTIONS[o];
    const act = spec.values === "file" ? d.files : spec.values ? `_moodle_dind_add ${spec.values.map(sq).join(" ")}` : ":";
    lines.push(`    ${spell(o).join("|")}) ${act}; return 0 ;;`);
  }
  lines.push(`  esac`);
  lines.push(`  if [[ -z "$verb" ]]; then`);
  lines.push(`    [[ "$cur" == -* ]] && _moodle_dind_add ${GLOBAL_OPTIONS.map((o) => sq(`--${o}`)).join(" ")} && return 0`);
  lines.push(`    _moodle_dind_add ${VERBS.map((v) => sq(v.name)).join(" ")}; return 0`);
  lines.push(`  fi`);
  lines.push(`  if [[ "$cur" == -* ]]; then`);
  lines.push(`    case "$verb" in`);
  for (const v of VERBS) lines.push(`      ${sq(v.name)}) _moodle_dind_add ${verbOptions(v).map((o) => sq(`--${o}`)).join(" ")} ;;`);
  lines.push(`    esac`);
  lines.push(`    return 0`);
  lines.push(`  fi`);
  // Positional arguments: "verb:N", or "verb:sub:N" for verbs with sub-commands (N counts the sub).
  const withSubs = VERBS.filter((v) => v.subs).map((v) => v.name);
  lines.push(`  local at="$verb:\${#pos[@]}"`);
  lines.push(`  case "$verb" in ${withSubs.map(sq).join("|")}) at="$verb:\${pos[${d === BASH ? 0 : 1}]}:\${#pos[@]}" ;; esac`);
  lines.push(`  case "$at" in`);
  for (const v of VERBS) {
    if (v.subs) {
      lines.push(`    ${sq(`${v.name}::0`)}) _moodle_dind_add ${Object.keys(v.subs).map(sq).join(" ")} ;;`);
      for (const [sub, s] of Object.entries(v.subs)) {
        s.args.forEach((a, i) => lines.push(`    ${sq(`${v.name}:${sub}:${i + 1}`)}) ${argCase(a, d.files)} ;;`));
        if (s.rest) lines.push(`    ${sq(`${v.name}:${sub}:`)}*) ${argCase(s.rest, d.files)} ;;`);
      }
    } else {
      (v.args ?? []).forEach((a, i) => lines.push(`    ${sq(`${v.name}:${i}`)}) ${argCase(a, d.files)} ;;`));
    }
  }
  lines.push(`  esac`);
  return lines.join("\n");
}

/** The CLI that printed the script: node and bin/moodle-dind.mjs by absolute path, not whatever is on PATH. */
function selfCommand(): string {
  const bin = process.argv[1] ?? "moodle-dind";
  return `${sq(process.execPath)} ${sq(bin)}`;
}

const NAME_RE = "^[a-z0-9][a-z0-9-]*$";

export function bashCompletion(): string {
  return `# bash completion for moodle-dind: source <(moodle-dind completion bash)
_moodle_dind_add() {
  local w
  for w in "$@"; do [[ "$w" == "$cur"* ]] && COMPREPLY+=("$w"); done
  return 0
}
_moodle_dind_instances() {
  local n
  while IFS= read -r n; do
    [[ "$n" =~ ${NAME_RE} ]] && _moodle_dind_add "$n"
  done < <(${selfCommand()} list --names "\${remote[@]}" 2>/dev/null)
}
_moodle_dind() {
${body(BASH)}
  return 0
}
complete -F _moodle_dind moodle-dind
`;
}

export function zshCompletion(): string {
  return `#compdef moodle-dind
# zsh completion for moodle-dind: source <(moodle-dind completion zsh)
_moodle_dind_add() {
  local w
  for w in "$@"; do [[ "$w" == "$cur"* ]] && reply+=("$w"); done
  return 0
}
_moodle_dind_instances() {
  local n
  while IFS= read -r n; do
    [[ "$n" =~ '${NAME_RE}' ]] && _moodle_dind_add "$n"
  done < <(${selfCommand()} list --names "\${remote[@]}" 2>/dev/null)
}
_moodle_dind_words() {
${body(ZSH)}
  return 0
}
_moodle_dind() {
  local -a reply
  _moodle_dind_words
  (( \${#reply} )) && compadd -- "\${reply[@]}"
  return 0
}
compdef _moodle_dind moodle-dind
`;
}
