import zlib from "node:zlib";

/**
 * Small stand-in plugins with the component names Moodle Playground's examples download from GitHub
 * (mod_board, mod_exeweb, mod_simplemod, block_participants, local_staticpage, theme_moove). This
 * machine has no internet, so the real-Moodle tests apply those examples with these local bundles in
 * place of the URLs: they are real, installable Moodle plugins (Moodle's own upgrade installs them and
 * addModule creates their activities), written here, not copies of the originals.
 */

/** A ZIP with stored (uncompressed) entries: enough for plugin bundles and byte-exact test archives. */
export function makeZip(entries: { name: string; data?: string | Buffer; mode?: number }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const raw = Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data ?? "");
    const name = Buffer.from(e.name, "utf8");
    const crc = zlib.crc32(raw);
    const mode = e.mode ?? (e.name.endsWith("/") ? 0o040755 : 0o100644);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(raw.length, 18);
    local.writeUInt32LE(raw.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(raw.length, 20);
    central.writeUInt32LE(raw.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE((mode << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, raw);
    centrals.push(central, name);
    offset += local.length + name.length + raw.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

const PHP = "<?php\ndefined('MOODLE_INTERNAL') || die();\n";
const version = (component: string, extra = "") =>
  `${PHP}$plugin->component = '${component}';\n$plugin->version = 2025010100;\n$plugin->requires = 2022112800;\n$plugin->maturity = MATURITY_STABLE;\n$plugin->release = 'moodle-dind stand-in';\n${extra}`;

/** An activity module with one table, an intro, add/update/delete and its capabilities. */
function activity(name: string, title: string): Record<string, string> {
  return {
    "version.php": version(`mod_${name}`),
    "lib.php": `${PHP}
function ${name}_supports($feature) {
    switch ($feature) {
        case FEATURE_MOD_INTRO:
        case FEATURE_SHOW_DESCRIPTION:
            return true;
        case FEATURE_MOD_PURPOSE:
            return MOD_PURPOSE_CONTENT;
        default:
            return null;
    }
}
function ${name}_add_instance($data, $mform = null) {
    global $DB;
    $data->timemodified = time();
    return $DB->insert_record('${name}', $data);
}
function ${name}_update_instance($data, $mform = null) {
    global $DB;
    $data->timemodified = time();
    $data->id = $data->instance;
    return $DB->update_record('${name}', $data);
}
function ${name}_delete_instance($id) {
    global $DB;
    return $DB->delete_records('${name}', ['id' => $id]);
}
`,
    "db/install.xml": `<?xml version="1.0" encoding="UTF-8" ?>
<XMLDB PATH="mod/${name}/db" VERSION="2025010100" COMMENT="moodle-dind stand-in"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="../../../lib/xmldb/xmldb.xsd">
  <TABLES>
    <TABLE NAME="${name}" COMMENT="${title} instances">
      <FIELDS>
        <FIELD NAME="id" TYPE="int" LENGTH="10" NOTNULL="true" SEQUENCE="true"/>
        <FIELD NAME="course" TYPE="int" LENGTH="10" NOTNULL="true" DEFAULT="0" SEQUENCE="false"/>
        <FIELD NAME="name" TYPE="char" LENGTH="255" NOTNULL="true" SEQUENCE="false"/>
        <FIELD NAME="intro" TYPE="text" NOTNULL="false" SEQUENCE="false"/>
        <FIELD NAME="introformat" TYPE="int" LENGTH="4" NOTNULL="true" DEFAULT="0" SEQUENCE="false"/>
        <FIELD NAME="timemodified" TYPE="int" LENGTH="10" NOTNULL="true" DEFAULT="0" SEQUENCE="false"/>
      </FIELDS>
      <KEYS>
        <KEY NAME="primary" TYPE="primary" FIELDS="id"/>
      </KEYS>
      <INDEXES>
        <INDEX NAME="course" UNIQUE="false" FIELDS="course"/>
      </INDEXES>
    </TABLE>
  </TABLES>
</XMLDB>
`,
    "db/access.php": `${PHP}
$capabilities = [
    'mod/${name}:addinstance' => [
        'riskbitmask' => RISK_XSS,
        'captype' => 'write',
        'contextlevel' => CONTEXT_COURSE,
        'archetypes' => ['editingteacher' => CAP_ALLOW, 'manager' => CAP_ALLOW],
        'clonepermissionsfrom' => 'moodle/course:manageactivities',
    ],
    'mod/${name}:view' => [
        'captype' => 'read',
        'contextlevel' => CONTEXT_MODULE,
        'archetypes' => ['guest' => CAP_ALLOW, 'student' => CAP_ALLOW, 'teacher' => CAP_ALLOW, 'editingteacher' => CAP_ALLOW, 'manager' => CAP_ALLOW],
    ],
];
`,
    [`lang/en/${name}.php`]: `${PHP}
$string['pluginname'] = '${title}';
$string['modulename'] = '${title}';
$string['modulenameplural'] = '${title}s';
$string['pluginadministration'] = '${title} administration';
$string['${name}:addinstance'] = 'Add a ${title}';
$string['${name}:view'] = 'View a ${title}';
`,
    "pix/monologo.svg": `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><rect width="24" height="24"/></svg>\n`,
  };
}

const PLUGINS: Record<string, Record<string, string>> = {
  mod_board: activity("board", "Board"),
  mod_exeweb: activity("exeweb", "eXeLearning web"),
  mod_simplemod: activity("simplemod", "Simple module"),
  block_participants: {
    "version.php": version("block_participants"),
    "block_participants.php": `${PHP}
class block_participants extends block_base {
    public function init() {
        $this->title = get_string('pluginname', 'block_participants');
    }
    public function get_content() {
        $this->content = (object) ['text' => '', 'footer' => ''];
        return $this->content;
    }
}
`,
    "db/access.php": `${PHP}
$capabilities = [
    'block/participants:addinstance' => ['captype' => 'write', 'contextlevel' => CONTEXT_BLOCK, 'archetypes' => ['editingteacher' => CAP_ALLOW, 'manager' => CAP_ALLOW]],
    'block/participants:myaddinstance' => ['captype' => 'write', 'contextlevel' => CONTEXT_SYSTEM, 'archetypes' => ['user' => CAP_ALLOW]],
];
`,
    "lang/en/block_participants.php": `${PHP}$string['pluginname'] = 'Participants';\n$string['participants:addinstance'] = 'Add a Participants block';\n$string['participants:myaddinstance'] = 'Add a Participants block to the dashboard';\n`,
  },
  local_staticpage: {
    "version.php": version("local_staticpage"),
    "lang/en/local_staticpage.php": `${PHP}$string['pluginname'] = 'Static pages';\n`,
  },
  theme_moove: {
    "version.php": version("theme_moove", "$plugin->dependencies = ['theme_boost' => 2022112800];\n"),
    "config.php": `${PHP}
$THEME->name = 'moove';
$THEME->parents = ['boost'];
$THEME->sheets = [];
$THEME->editor_sheets = [];
$THEME->usefallback = true;
$THEME->scss = function($theme) {
    return theme_boost_get_main_scss_content($theme);
};
$THEME->prescsscallback = 'theme_boost_get_pre_scss';
$THEME->extrascsscallback = 'theme_boost_get_extra_scss';
$THEME->precompiledcsscallback = 'theme_boost_get_precompiled_css';
$THEME->yuicssmodules = [];
$THEME->rendererfactory = 'theme_overridden_renderer_factory';
$THEME->requiredblocks = '';
$THEME->addblockposition = BLOCK_ADDBLOCK_POSITION_FLATNAV;
$THEME->iconsystem = \\core\\output\\icon_system::FONTAWESOME;
$THEME->haseditswitch = true;
$THEME->usescourseindex = true;
$THEME->activityheaderconfig = ['notitle' => true];
`,
    "lang/en/theme_moove.php": `${PHP}$string['pluginname'] = 'Moove';\n$string['choosereadme'] = 'A moodle-dind stand-in for the Moove theme (a Boost child).';\n`,
  },
};

export const STANDIN_COMPONENTS = Object.keys(PLUGINS);

/** The stand-in plugin as a ZIP laid out like a GitHub archive: one top folder holding the plugin. */
export function standinZip(component: string): Buffer {
  const files = PLUGINS[component];
  if (!files) throw new Error(`no stand-in for ${component}`);
  const top = `moodle-${component}-main`;
  const dirs = new Set<string>([`${top}/`]);
  for (const f of Object.keys(files)) {
    const parts = f.split("/");
    for (let i = 1; i < parts.length; i++) dirs.add(`${top}/${parts.slice(0, i).join("/")}/`);
  }
  return makeZip([...[...dirs].map((name) => ({ name })), ...Object.entries(files).map(([f, data]) => ({ name: `${top}/${f}`, data }))]);
}

/** Which stand-in replaces a Playground plugin URL (by the repository name in it). */
export function standinFor(url: string): string | null {
  const m = /github\.com\/[^/]+\/(?:moodle-)?([a-z]+_[a-z0-9_]+?)(?:\/|$)/.exec(url);
  return m && PLUGINS[m[1]] ? m[1] : null;
}
