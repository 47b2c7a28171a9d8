import { chromium } from "@playwright/test";
const base = process.argv[2];
const paths = JSON.parse(process.argv[3]);
const n = Number(process.argv[4] ?? 20);
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox", "--disable-gpu"] });
const ctx = await browser.newContext();
const page = await ctx.newPage();
let errors = 0;
page.on("pageerror", (e) => { errors++; console.log("pageerror", page.url(), e.message); });
await page.goto(base + "/login");
await page.waitForFunction(() => window.__vigil_hydrated === true);
await page.fill("input[name=email]", "ada@example.com");
await page.fill("input[name=password]", "shots-password");
await page.click("button[type=submit]");
await page.waitForURL((u) => !u.pathname.startsWith("/login"));
let ok = 0;
for (let i = 0; i < n; i++) {
  for (const p of paths) {
    await page.goto(base + p);
    try { await page.waitForFunction(() => window.__vigil_hydrated === true, null, { timeout: 10000 }); ok++; }
    catch { console.log("not hydrated", p); }
  }
}
console.log(`hydrated ${ok}/${n * paths.length}, page errors ${errors}`);
await browser.close();
