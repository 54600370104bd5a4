import { describe, expect, it } from "vitest";
import { exportEntryName } from "../../services/cluster/export";

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
});
