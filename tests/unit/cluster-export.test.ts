import { describe, expect, it } from "vitest";
import { exportEntryName, exportHeader } from "../../services/cluster/export";

describe("a cluster instance's export: which entries of the node's folder go where", () => {
  it("carries code, moodledata and config under the archive's own names", () => {
    expect(exportEntryName("cl1", "cl1/data/code/")).toBe("code/");
    expect(exportEntryName("cl1", "cl1/data/code/public/index.php")).toBe("code/public/index.php");
    expect(exportEntryName("cl1", "cl1/data/moodledata/filedir/ab/cd")).toBe("moodledata/filedir/ab/cd");
    expect(exportEntryName("cl1", "cl1/config/php-8.2/php.ini")).toBe("config/php-8.2/php.ini");
  });

  it("leaves out the live database, logs, the record, and moodledata's caches and sessions", () => {
    for (const e of [
      "cl1/data/db/base/1/1259",
      "cl1/logs/nginx-1.22/access.log",
      "cl1/instance.json",
      "cl1/secrets.json",
      "cl1/data/moodledata/sessions/sess_abc",
      "cl1/data/moodledata/cache/x",
      "cl1/data/moodledata/localcache/x",
      "cl1/data/moodledata/temp/x",
      "cl1/data/moodledata/lock/x",
      "cl1/data/moodledata/trashdir/x",
      // Moodle's config.php holds the database password; the importing host writes its own.
      "cl1/data/code/config.php",
    ]) {
      expect(exportEntryName("cl1", e), e).toBeNull();
    }
  });

  it("refuses entries outside the instance's folder or with dot segments", () => {
    for (const e of [
      "cl2/data/code/x",
      "cl10/data/code/x",
      "cl1data/code/x",
      "/cl1/data/code/x",
      "cl1/data/code/../../../etc/passwd",
      "cl1/./data/code/x",
      "cl1/data/moodledata/../code/x",
      "cl1/config/..",
      "",
    ]) {
      expect(exportEntryName("cl1", e), e).toBeNull();
    }
  });

  it("builds each header afresh: the node's PAX records (long or non-ASCII names) never carry the node path along", async () => {
    const long = `cl1/data/code/${"deep/".repeat(30)}ünïcode-file.php`;
    const tar = (await import("tar-stream")).default;
    const h: import("tar-stream").Header = { name: long, type: "file", mode: 0o644, size: 12, mtime: new Date(0), uid: 33, gid: 33, linkname: "", uname: "", gname: "", devmajor: 0, devminor: 0, pax: { path: long } };
    const out = exportHeader("cl1", h);
    expect(out?.name).toBe(long.replace("cl1/data/code/", "code/"));
    expect(out && "pax" in out).toBe(false);
    expect(out).toMatchObject({ type: "file", size: 12, mode: 0o644, uid: 33, gid: 33 });
    // Round trip through a real tar: the name read back is the archive's, not the node's.
    const pack = tar.pack();
    pack.entry(out!, "hello world\n");
    pack.finalize();
    const names: string[] = [];
    const extract = tar.extract();
    extract.on("entry", (e, body, next) => {
      names.push(e.name);
      body.resume();
      body.on("end", next);
    });
    await new Promise<void>((resolve, reject) => {
      extract.on("finish", resolve);
      extract.on("error", reject);
      pack.pipe(extract);
    });
    expect(names).toEqual([out!.name]);
    // Links and devices are left out: an export carries plain files and folders.
    expect(exportHeader("cl1", { ...h, name: "cl1/data/code/l", type: "symlink", linkname: "/etc/passwd" })).toBeNull();
  });
});
