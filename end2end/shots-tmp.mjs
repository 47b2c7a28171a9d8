import { chromium } from "@playwright/test";
const base = process.argv[2];
const list = JSON.parse(process.argv[3]);
const width = Number(process.argv[4] ?? 1440);
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox", "--disable-gpu"] });
const ctx = await browser.newContext({ viewport: { width, height: 900 } });
const page = await ctx.newPage();
page.on("pageerror", (e) => console.log("pageerror", e.message));
page.on("console", (m) => { if (m.type() === "error") console.log("console", m.text()); });
await page.goto(base + "/login");
await page.waitForFunction(() => window.__vigil_hydrated === true);
await page.fill("input[name=email]", "ada@example.com");
await page.fill("input[name=password]", "shots-password");
await page.click("button[type=submit]");
await page.waitForURL((u) => !u.pathname.startsWith("/login"));
for (const [name, path] of list) {
  await page.goto(base + path);
  await page.waitForFunction(() => window.__vigil_hydrated === true);
  await page.waitForTimeout(400);
  await page.screenshot({ path: `/tmp/shots/${name}.png`, fullPage: true });
}
await browser.close();
