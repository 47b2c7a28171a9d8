// Screenshots of issue #17: the business tab (money per currency, monthly cards, the
// Monthly figures table), a card's CSV / Alert-on-this links, the rule editor prefilled
// from a card with its backtest, the freshness line with the ingestion panel, and the
// Technical page's traffic panel — English and Chinese, desktop and phone width.
// Usage: node shots-kpis.mjs <baseURL> <outDir>. Expects the e2e admin and `vigil demo`.
import { hydrated, launch, signedIn, switchTo } from "./shots-common.mjs";
const [base, out] = [process.argv[2], process.argv[3]];
const browser = await launch();
const flat = (page) => page.addStyleTag({ content: ".topbar { position: static !important; }" }).catch(() => {});
for (const size of [[1440, 900], [390, 844]]) {
  for (const lang of ["en", "zh-CN"]) {
    const { ctx, page, tag } = await signedIn(browser, base, size, lang, "e2e-admin@example.com", "e2e-admin-password");
    await page.goto(base + "/dashboards?tab=business&range=30d");
    await hydrated(page);
    await switchTo(page, lang);
    await flat(page);
    await page.getByTestId("kpi-cards").waitFor();
    await page.screenshot({ path: `${out}/business-${tag}.png`, fullPage: size[0] > 1000 });
    const months = page.getByTestId("months");
    await months.scrollIntoViewIfNeeded();
    await page.waitForTimeout(200);
    await months.screenshot({ path: `${out}/business-months-${tag}.png` });
    const ingestion = page.getByTestId("ingestion");
    await ingestion.locator("summary").click();
    await ingestion.scrollIntoViewIfNeeded();
    await page.waitForTimeout(200);
    await ingestion.screenshot({ path: `${out}/ingestion-${tag}.png` });
    // Alert on this: D1 retention → the editor, prefilled, with its 30-day backtest.
    await page.goto(base + "/dashboards?tab=user&range=30d");
    await hydrated(page);
    await page.locator("[data-kpi=retention_d1]").getByTestId("alert-on-this").click();
    await page.waitForURL(/metric=retention_d1/);
    await hydrated(page);
    await flat(page);
    await page.fill("input[name=name]", lang === "en" ? "D1 retention below 30%" : "次日留存低于 30%");
    await page.press("input[name=name]", "Tab");
    await page.selectOption("select[name=op]", "<");
    await page.fill("input[name=threshold]", "0.3");
    await page.press("input[name=threshold]", "Tab");
    await page.getByRole("button", { name: "30d" }).click().catch(() => {});
    await page.getByTestId("backtest-summary").waitFor();
    await page.waitForTimeout(1500);
    await page.screenshot({ path: `${out}/alert-on-this-${tag}.png`, fullPage: size[0] > 1000 });
    // The funnel and the feature table: CSV and "Alert on this" beside them.
    await page.goto(base + "/dashboards?tab=user&range=30d&steps=user_register_success,feature_use_export,subscription_start&window=24");
    await hydrated(page);
    await flat(page);
    const funnel = page.getByTestId("funnel");
    await funnel.scrollIntoViewIfNeeded();
    await page.waitForTimeout(200);
    await funnel.screenshot({ path: `${out}/funnel-links-${tag}.png` });
    await page.goto(base + "/technical");
    await hydrated(page);
    await flat(page);
    const traffic = page.getByTestId("traffic");
    await traffic.scrollIntoViewIfNeeded();
    await page.waitForTimeout(200);
    await traffic.screenshot({ path: `${out}/traffic-${tag}.png` });
    await ctx.close();
  }
}
await browser.close();
