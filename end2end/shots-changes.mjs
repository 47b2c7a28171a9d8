// Screenshots of issue #16's changes and reminders: the Changes page, an incident's "What
// changed" card with its timeline, a KPI chart with change markers, and the Digests and
// reminders card — English and Chinese, desktop and phone width.
// Usage: node shots-changes.mjs <baseURL> <outDir>. Expects the e2e admin and `vigil demo`.
import { hydrated, launch, signedIn, switchTo } from "./shots-common.mjs";
const [base, out] = [process.argv[2], process.argv[3]];
const browser = await launch();
for (const size of [[1440, 900], [390, 844]]) {
  for (const lang of ["en", "zh-CN"]) {
    const { ctx, page, tag } = await signedIn(browser, base, size, lang, "e2e-admin@example.com", "e2e-admin-password");
    await page.addStyleTag({ content: ".topbar { position: static !important; }" }).catch(() => {});
    await page.goto(base + "/changes?range=30d");
    await hydrated(page);
    await switchTo(page, lang);
    await page.getByTestId("changes-list").waitFor();
    await page.screenshot({ path: `${out}/changes-${tag}.png` });
    // The newest incident: its "What changed" card.
    await page.goto(base + "/incidents");
    await hydrated(page);
    await page.getByTestId("incident-table").locator("tbody a").first().click();
    await page.getByTestId("incident-changes").waitFor();
    await hydrated(page);
    await page.addStyleTag({ content: ".topbar { position: static !important; }" });
    await page.getByTestId("incident-changes").scrollIntoViewIfNeeded();
    await page.waitForTimeout(200);
    await page.getByTestId("incident-changes").screenshot({ path: `${out}/incident-changes-${tag}.png` });
    await page.goto(base + "/dashboards?tab=product&range=30d");
    await hydrated(page);
    await page.addStyleTag({ content: ".topbar { position: static !important; }" });
    const chart = page.locator(".chart-card").first();
    await chart.scrollIntoViewIfNeeded();
    await page.waitForTimeout(200);
    await chart.screenshot({ path: `${out}/chart-changes-${tag}.png` });
    await page.goto(base + "/alerts/notifications#schedule");
    await hydrated(page);
    await page.addStyleTag({ content: ".topbar { position: static !important; }" });
    await page.locator("#schedule").scrollIntoViewIfNeeded();
    await page.waitForTimeout(200);
    await page.locator("#schedule").screenshot({ path: `${out}/reminders-${tag}.png` });
    await ctx.close();
  }
}
await browser.close();
