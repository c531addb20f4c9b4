// Browser test of revocd's interactive API docs (GET /docs, Swagger UI over
// /openapi.json), driven like a person would in headless Chromium:
//
//   1. open /docs;
//   2. POST /token: "Try it out", body {"subject":"browser-user"}, Execute,
//      read access_token from the response panel;
//   3. POST /token/validate with that token: the response shows "valid": true;
//   4. save a screenshot to browser/out/docs.png.
//
// Usage: node docs.spec.mjs (or `make test-browser`). With REVOCD_URL set it
// tests that server; otherwise it builds revocd (go build) and starts it in
// --dev mode on a free loopback port with a fresh SQLite file. Chromium is
// Debian's (apt-get install -y chromium); CHROMIUM_PATH overrides its path.
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, "out");
const screenshot = join(outDir, "docs.png");
const chromiumPath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const stepTimeout = 20_000;

function fail(msg) {
  console.error(`docs.spec: FAIL: ${msg}`);
  process.exitCode = 1;
  throw new Error(msg);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitReady(url, proc, log) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (proc && proc.exitCode !== null) fail(`revocd exited during start-up:\n${log.join("")}`);
    try {
      const r = await fetch(`${url}/ready`);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  fail(`revocd at ${url} not ready within 30s\n${log.join("")}`);
}

// startServer builds revocd and runs it in --dev mode; it returns the URL
// and a stop function.
async function startServer(work) {
  const bin = join(work, "revocd");
  console.log("docs.spec: building revocd ...");
  execFileSync("go", ["build", "-o", bin, "./cmd/revocd"], { cwd: join(here, ".."), stdio: "inherit" });
  const addr = `127.0.0.1:${await freePort()}`;
  const log = [];
  const proc = spawn(bin, ["--dev", "--listen", addr, "--sqlite-path", join(work, "revocation.db")], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  proc.stdout.on("data", (d) => log.push(d.toString()));
  proc.stderr.on("data", (d) => log.push(d.toString()));
  const url = `http://${addr}`;
  await waitReady(url, proc, log);
  console.log(`docs.spec: revocd --dev listening on ${url}`);
  return {
    url,
    log,
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once("exit", resolve);
        proc.kill("SIGTERM");
        setTimeout(() => proc.kill("SIGKILL"), 5000).unref();
      }),
  };
}

// tryOperation expands an operation, enters the body, executes it and
// returns the parsed JSON of the live response panel.
async function tryOperation(page, opId, body) {
  const op = page.locator(`#operations-tokens-${opId}`);
  await op.waitFor({ timeout: stepTimeout });
  if (!(await op.locator(".opblock-body").isVisible())) {
    await op.locator(".opblock-summary").first().click();
  }
  const tryOut = op.locator("button.try-out__btn", { hasText: "Try it out" });
  if (await tryOut.isVisible()) await tryOut.click(); // tryItOutEnabled may have opened it already
  const editor = op.locator("textarea.body-param__text");
  await editor.waitFor({ timeout: stepTimeout });
  await editor.fill(JSON.stringify(body, null, 2));
  await op.locator("button.execute").click();
  const result = op.locator(".live-responses-table .response .response-col_description pre.microlight, .live-responses-table .response-col_description .highlight-code pre").first();
  await result.waitFor({ timeout: stepTimeout });
  const status = (await op.locator(".live-responses-table .response .response-col_status").first().innerText()).trim();
  const text = await result.innerText();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    fail(`${opId}: response panel is not JSON (status ${status}): ${text}`);
  }
  console.log(`docs.spec: ${opId} -> ${status}`);
  if (status !== "200") fail(`${opId}: status ${status}: ${text}`);
  return { json, text, op };
}

async function main() {
  if (!existsSync(chromiumPath)) {
    fail(`Chromium not found at ${chromiumPath}. Install it with: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  }
  mkdirSync(outDir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), "revocd-docs-"));
  const profile = mkdtempSync(join(tmpdir(), "revocd-chromium-"));
  let server = null;
  let context = null;
  try {
    let url = process.env.REVOCD_URL;
    if (url) {
      url = url.replace(/\/+$/, "");
      await waitReady(url, null, []);
    } else {
      server = await startServer(work);
      url = server.url;
    }
    context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
      viewport: { width: 1280, height: 1600 },
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const external = [];
    page.on("request", (req) => {
      const u = req.url();
      if (!u.startsWith(url) && !u.startsWith("data:")) external.push(u);
    });
    const pageErrors = [];
    page.on("pageerror", (e) => pageErrors.push(String(e)));

    await page.goto(`${url}/docs`, { waitUntil: "load", timeout: stepTimeout });
    await page.locator(".swagger-ui .info .title").waitFor({ timeout: stepTimeout });
    const title = (await page.locator(".swagger-ui .info .title").innerText()).trim();
    console.log(`docs.spec: /docs rendered "${title.split("\n")[0]}"`);

    const issued = await tryOperation(page, "createToken", { subject: "browser-user" });
    const token = issued.json.access_token;
    if (typeof token !== "string" || token.split(".").length !== 3) fail(`POST /token: no access_token in ${issued.text}`);
    if (issued.json.subject !== "browser-user") fail(`POST /token: subject ${issued.json.subject}`);

    const validated = await tryOperation(page, "validateToken", { token, check_revocation: true });
    if (!/"valid":\s*true/.test(validated.text) || validated.json.valid !== true) {
      fail(`POST /token/validate: "valid": true not shown: ${validated.text}`);
    }
    if (validated.json.claims?.sub !== "browser-user") fail(`validated claims: ${validated.text}`);
    await validated.op.scrollIntoViewIfNeeded();
    await page.screenshot({ path: screenshot, fullPage: false });
    console.log(`docs.spec: screenshot ${screenshot}`);

    if (pageErrors.length) fail(`page errors: ${pageErrors.join("; ")}`);
    if (external.length) fail(`the docs page fetched off-server resources: ${external.join(", ")}`);
    console.log("docs.spec: 1 passed, 0 failed");
  } finally {
    if (context) await context.close().catch(() => {});
    if (server) await server.stop();
    rmSync(work, { recursive: true, force: true });
    rmSync(profile, { recursive: true, force: true });
  }
}

main().catch((e) => {
  if (!process.exitCode) console.error(`docs.spec: FAIL: ${e.stack || e}`);
  console.error("0 passed, 1 failed");
  process.exitCode = 1;
});
