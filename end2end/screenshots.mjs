// Takes screenshots of the main pages at desktop and phone widths into docs/screenshots/.
// Usage: node screenshots.mjs [baseURL]   (needs a running Vigil with the e2e accounts)
import { chromium } from "@playwright/test";
import { mkdirSync } from "node:fs";

const base = process.argv[2] ?? process.env.VIGIL_E2E_URL ?? "http://127.0.0.1:3000";
const out = new URL("../docs/screenshots/", import.meta.url).pathname;
mkdirSync(out, { recursive: true });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
const pages = [
  ["login", "/login", null],
  ["home", "/", "admin"],
  ["admin-users", "/admin", "admin"],
  ["admin-api-keys", "/admin/api-keys", "admin"],
  ["admin-audit", "/admin/audit", "admin"],
  ["settings", "/settings", "admin"],
  ["dashboards-empty", "/dashboards", "admin"],
  ["viewer-forbidden", "/admin", "viewer"],
];
const accounts = {
  admin: ["e2e-admin@example.com", "e2e-admin-password"],
  viewer: ["e2e-viewer@example.com", "e2e-viewer-password"],
};
for (const [width, height, suffix] of [[1440, 900, "1440"], [390, 844, "390"]]) {
  for (const who of [null, "admin", "viewer"]) {
    const ctx = await browser.newContext({ viewport: { width, height }, deviceScaleFactor: 1 });
    const page = await ctx.newPage();
    if (who) {
      await page.goto(base + "/login");
      await page.waitForFunction(() => window.__vigil_hydrated === true);
      await page.fill("input[name=email]", accounts[who][0]);
      await page.fill("input[name=password]", accounts[who][1]);
      await page.click("button[type=submit]");
      await page.waitForURL((u) => !u.pathname.startsWith("/login"));
    }
    for (const [name, path, need] of pages) {
      if (need !== who) continue;
      await page.goto(base + path);
      await page.waitForFunction(() => window.__vigil_hydrated === true);
      await page.waitForTimeout(300);
      await page.screenshot({ path: `${out}${name}-${suffix}.png`, fullPage: true });
    }
    await ctx.close();
  }
}
await browser.close();
console.log(`screenshots written to ${out}`);
