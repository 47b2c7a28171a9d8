// Screenshots of the access and error views touched by issue #15: a viewer on the admin
// pages (no-access view, 403) and a form's field errors, in English and Chinese, at
// desktop and phone width. Usage: node shots-errors.mjs <baseURL> <outDir>
import { hydrated, launch, signedIn, switchTo } from "./shots-common.mjs";
const [base, out] = [process.argv[2], process.argv[3]];
const browser = await launch();
const who = {
  viewer: ["e2e-viewer@example.com", "e2e-viewer-password"],
  admin: ["e2e-admin@example.com", "e2e-admin-password"],
};
for (const size of [[1440, 900], [390, 844]]) {
  for (const lang of ["en", "zh-CN"]) {
    for (const role of ["viewer", "admin"]) {
      const { ctx, page, tag } = await signedIn(browser, base, size, lang, ...who[role]);
      if (role === "viewer") {
        await page.goto(base + "/admin/audit");
        await hydrated(page);
        await switchTo(page, lang);
        await page.screenshot({ path: `${out}/viewer-audit-${tag}.png`, fullPage: true });
      } else {
        await page.goto(base + "/admin");
        await hydrated(page);
        await switchTo(page, lang);
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
