import { chromium } from "@playwright/test";
const base = "http://127.0.0.1:3950";
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox"] });
const page = await browser.newPage();
page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") console.log("console:", m.type(), m.text().slice(0, 600)); });
page.on("pageerror", (e) => console.log("pageerror:", e.message.slice(0, 600)));
await page.goto(base + "/login");
await page.waitForFunction(() => window.__vigil_hydrated === true);
await page.fill("input[name=email]", "admin@vigil.local");
await page.fill("input[name=password]", "demo-password-1");
await page.click("button[type=submit]");
await page.waitForURL((u) => !u.pathname.startsWith("/login"));
await page.goto(base + process.argv[2]);
try { await page.waitForFunction(() => window.__vigil_hydrated === true, null, { timeout: 10000 }); console.log("hydrated"); } catch (e) { console.log("NOT hydrated"); }
await browser.close();
