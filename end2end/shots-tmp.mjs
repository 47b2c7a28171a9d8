// Ad-hoc screenshots of the pages changed in this session (not part of the suite).
import { chromium } from "@playwright/test";
const base = process.argv[2];
const out = process.argv[3];
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu"],
});
const shots = JSON.parse(process.argv[4]);
for (const [width, height, suffix] of [[1440, 900, "1440"], [390, 844, "390"]]) {
  const ctx = await browser.newContext({ viewport: { width, height } });
  const page = await ctx.newPage();
  await page.goto(base + "/login");
  await page.waitForFunction(() => window.__vigil_hydrated === true);
  await page.fill("input[name=email]", "admin@vigil.local");
  await page.fill("input[name=password]", "demo-password-1");
  await page.click("button[type=submit]");
  await page.waitForURL((u) => !u.pathname.startsWith("/login"));
  for (const [name, path, action, phone] of shots) {
    if (suffix === "390" && !phone) continue;
    await page.goto(base + path);
    await page.waitForFunction(() => window.__vigil_hydrated === true);
    await page.waitForTimeout(500);
    if (action === "select-probe") {
      await page.selectOption("select[name=source]", "probe");
      await page.waitForTimeout(1500);
    } else if (action === "email") {
      await page.selectOption("select[name=kind]", "email");
      await page.waitForTimeout(300);
    } else if (action === "export") {
      await page.getByTestId("export-rules").click();
      await page.waitForTimeout(1000);
    } else if (action === "test-probe") {
      await page.getByTestId("test-probe").click();
      await page.waitForTimeout(1500);
    }
    await page.screenshot({ path: `${out}/${name}-${suffix}.png`, fullPage: true });
  }
  await ctx.close();
}
await browser.close();
