// Screenshots of the access and error views touched by issue #15: a viewer on the admin
// pages (no-access view, 403) and a form's field errors, in English and Chinese, at
// desktop and phone width. Usage: node shots-errors.mjs <baseURL> <outDir>
import { chromium } from "@playwright/test";
const [base, out] = [process.argv[2], process.argv[3]];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu"],
});
const who = {
  viewer: ["e2e-viewer@example.com", "e2e-viewer-password"],
  admin: ["e2e-admin@example.com", "e2e-admin-password"],
};
for (const [width, height] of [[1440, 900], [390, 844]]) {
  for (const lang of ["en", "zh-CN"]) {
    for (const role of ["viewer", "admin"]) {
      const ctx = await browser.newContext({ viewport: { width, height } });
      await ctx.addCookies([{ name: "vigil_lang", value: lang, url: base }]);
      const page = await ctx.newPage();
      page.on("pageerror", (e) => console.log("pageerror", e.message));
      await page.goto(base + "/login");
      await page.waitForFunction(() => window.__vigil_hydrated === true);
      await page.fill("input[name=email]", who[role][0]);
      await page.fill("input[name=password]", who[role][1]);
      await page.click("button[type=submit]");
      await page.waitForURL((u) => !u.pathname.startsWith("/login"));
      const tag = `${lang === "en" ? "en" : "zh"}-${width}`;
      // A signed-in person's own language wins over the cookie: switch like a user does.
      const switchTo = async () => {
        const html = await page.locator("html").getAttribute("lang");
        if (html !== lang) {
          await page.getByTestId("lang-switch").click();
          await page.waitForFunction((l) => document.documentElement.lang === l, lang);
        }
      };
      if (role === "viewer") {
        await page.goto(base + "/admin/audit");
        await page.waitForFunction(() => window.__vigil_hydrated === true);
        await switchTo();
        await page.screenshot({ path: `${out}/viewer-audit-${tag}.png`, fullPage: true });
      } else {
        await page.goto(base + "/admin");
        await page.waitForFunction(() => window.__vigil_hydrated === true);
        await switchTo();
        // Submit the new-user form with a name over 100 characters: errors by field.
        const form = page.locator("form[data-testid=create-user-form]");
        await form.locator("input[name=email]").fill("new-person@example.com");
        await form.locator("input[name=name]").fill("x".repeat(120));
        await form.locator("input[name=password]").fill("long enough pw");
        await form.locator("button[type=submit]").click();
        await page.waitForFunction(() => document.querySelectorAll(".field-error").length >= 1);
        await page.screenshot({ path: `${out}/admin-field-errors-${tag}.png`, fullPage: true });
      }
      await ctx.close();
    }
  }
}
await browser.close();
