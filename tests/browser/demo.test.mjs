// End to end in a real browser: `onrecord demo` serves on loopback; headless Chromium (Debian's,
// driven by playwright-core; never a browser download) signs in with the printed token, searches,
// opens a call, plays it, seeks by clicking the waveform, and saves screenshots of the search and
// call pages under test-output/browser/.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../..");
const binary =
  process.env.ONRECORD_BIN ??
  join(process.env.CARGO_TARGET_DIR ?? join(repo, "target"), "debug", "onrecord");
const output = join(repo, "test-output", "browser");

/** Starts the demo and resolves with its URL and token once it prints them. */
function startDemo(dir) {
  const child = spawn(binary, ["demo", "--dir", dir, "--http", "127.0.0.1:0"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo did not start:\n${stdout}\n${stderr}`)), 60_000);
    child.on("exit", (code) => reject(new Error(`demo exited with ${code}:\n${stdout}\n${stderr}`)));
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
      const url = stdout.match(/^url: (\S+)$/m);
      const token = stdout.match(/^token: (\S+)$/m);
      if (url && token) {
        clearTimeout(timer);
        resolvePromise({ child, url: url[1], token: token[1], stdout });
      }
    });
  });
}

test("a newcomer signs in, searches, opens a call and plays it", async () => {
  mkdirSync(output, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), "onrecord-browser-"));
  const profile = mkdtempSync(join(tmpdir(), "onrecord-chromium-"));
  const demo = await startDemo(dir);
  assert.match(demo.stdout, /imported 3, refused 1 \(the consent gate at work\)/);
  assert.match(demo.stdout, /recorded 2 live calls through the built-in client, refused 1/);
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1366, height: 900 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--autoplay-policy=no-user-gesture-required",
    ],
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const rangeRequests = [];
    page.on("request", (request) => {
      const range = request.headers()["range"];
      if (request.url().includes("/audio") && range) rangeRequests.push(range);
    });

    await page.goto(demo.url);
    assert.match(page.url(), /\/signin$/);
    await page.fill("#token", demo.token);
    await page.keyboard.press("Enter");
    await page.waitForURL(/\/recordings$/);
    const rows = page.locator("table.recordings tbody tr");
    assert.equal(await rows.count(), 5, "3 imports + 2 live calls; the refused ones are absent");

    // Search by tag through the htmx form, then an empty result.
    await page.fill("input[name=tag]", "no-such-tag");
    await page.click("#filters button[type=submit]");
    await page.waitForSelector("text=No recordings match these filters.");
    await page.fill("input[name=tag]", "qa");
    await page.click("#filters button[type=submit]");
    await page.waitForSelector("table.recordings tbody tr");
    assert.equal(await rows.count(), 3, "the imports carry the tag qa");
    await page.fill("input[name=tag]", "");
    await page.click("#filters button[type=submit]");
    await page.waitForFunction(() => document.querySelectorAll("table.recordings tbody tr").length === 5);
    await page.screenshot({ path: join(output, "search.png"), fullPage: true });

    // The newest call is a live one, recorded over SIPREC by the demo's client.
    assert.match(await rows.first().textContent(), /siprec/);
    await rows.first().locator("a").click();
    await page.waitForURL(/\/recordings\/[0-9a-f-]+$/);
    await page.waitForSelector("figure.wave svg path");
    assert.equal(await page.locator("figure.wave").count(), 2, "one waveform per participant");
    const evidence = await page.textContent("body");
    assert.match(evidence, /prompt-recording-notice-v2/);
    assert.match(evidence, /siprec\.recorded/, "the audit trail shows how the call arrived");

    const audio = page.locator("audio").first();
    await audio.evaluate((element) => element.play());
    await page.waitForFunction(() => document.querySelector("audio").currentTime > 0.5, null, {
      timeout: 20_000,
    });
    const played = await audio.evaluate((element) => element.currentTime);
    assert.ok(played > 0.5, `playback advanced to ${played}`);

    // Seek by clicking the middle of the first waveform.
    const wave = page.locator("figure.wave svg").first();
    const box = await wave.boundingBox();
    await page.mouse.click(box.x + box.width * 0.75, box.y + box.height / 2);
    await page.waitForFunction(
      () => {
        const audio = document.querySelector("audio");
        return audio.currentTime > audio.duration * 0.6;
      },
      null,
      { timeout: 20_000 },
    );
    await audio.evaluate((element) => element.pause());
    assert.ok(rangeRequests.length > 0, "the player fetched audio by range requests");
    await page.screenshot({ path: join(output, "call.png"), fullPage: true });
  } finally {
    await context.close();
    demo.child.kill("SIGINT");
    rmSync(profile, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});
