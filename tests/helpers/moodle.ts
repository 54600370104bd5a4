import http from "node:http";

/**
 * A tiny browser for Moodle over 127.0.0.1: a cookie jar that, like a real browser, ignores the
 * port (so two instances on one host share it), and a login through the real form with its
 * logintoken.
 */
export class Jar {
  private cookies = new Map<string, string>();
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }
  take(set: string[] | undefined) {
    for (const c of set ?? []) {
      const [pair] = c.split(";");
      const i = pair.indexOf("=");
      const k = pair.slice(0, i).trim();
      const v = pair.slice(i + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(c) || v === "deleted") this.cookies.delete(k);
      else this.cookies.set(k, v);
    }
  }
  names(): string[] {
    return [...this.cookies.keys()];
  }
}

export function request(
  port: number,
  method: "GET" | "POST",
  pathname: string,
  jar: Jar,
  form?: Record<string, string>,
): Promise<{ status: number; body: string; location?: string }> {
  const body = form ? new URLSearchParams(form).toString() : undefined;
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1", port, method, path: pathname, timeout: 120_000,
        headers: {
          cookie: jar.header(),
          ...(body ? { "content-type": "application/x-www-form-urlencoded", "content-length": Buffer.byteLength(body) } : {}),
        },
      },
      (res) => {
        jar.take(res.headers["set-cookie"]);
        let data = "";
        res.on("data", (d) => (data += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: data, location: res.headers.location }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`timeout ${method} ${pathname}`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** Log in through /login/index.php; resolves true when the dashboard shows a logged-in user. */
export async function moodleLogin(port: number, jar: Jar, username: string, password: string): Promise<boolean> {
  const form = await request(port, "GET", "/login/index.php", jar);
  const token = /name="logintoken" value="([^"]+)"/.exec(form.body)?.[1];
  if (!token) throw new Error(`no logintoken on the login page (status ${form.status})`);
  const post = await request(port, "POST", "/login/index.php", jar, { username, password, logintoken: token, anchor: "" });
  if (post.status !== 303 && post.status !== 302) return false;
  return loggedIn(port, jar);
}

export async function loggedIn(port: number, jar: Jar): Promise<boolean> {
  const my = await request(port, "GET", "/user/profile.php", jar);
  return my.status === 200 && /logout\.php\?sesskey=/.test(my.body);
}
