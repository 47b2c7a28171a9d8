import { ADMIN, EDITOR, VIEWER, apiKey, expect, hydrated, signIn, test } from "./helpers";

const DAY = 86_400_000;

// Issue #17: every dashboard KPI is alertable. An editor uses "Alert on this" on the D1
// retention card and on the churn card, saves "D1 retention < 30 %" and "churn > 5 %", and
// the backtest shows where they would have fired. The data (sent with an ingest key):
// five users register three days ago and none comes back the next day (D1 = 0 %), and a
// subscriber from 40 days ago (scripts/e2e.sh keeps raw events 60 days) cancels yesterday
// (churn of yesterday's month: 100 %).
test("Alert on this: D1 retention < 30 % and churn > 5 % from their dashboard cards, with backtest spans; CSV on the card", async ({
  page,
  browser,
}, testInfo) => {
  test.setTimeout(120_000);
  const tag = `${testInfo.retry}-${Date.now() % 100000}`;
  const actx = await browser.newContext();
  const admin = await actx.newPage();
  await signIn(admin, ADMIN);
  const key = await apiKey(admin, `e2e kpi alerts ${tag}`);
  const midnight = new Date(new Date().toISOString().slice(0, 10) + "T00:00:00Z").getTime();
  const events: object[] = [];
  for (let i = 0; i < 5; i++) {
    events.push({
      event_id: `kpi-reg-${tag}-${i}`,
      event_name: "user_register_success",
      user_id: `kpi-cohort-${tag}-${i}`,
      timestamp: midnight - 3 * DAY + 10 * 3_600_000 + i * 1000,
    });
  }
  const sub = `kpi-subscriber-${tag}`;
  events.push({
    event_id: `kpi-sub-${tag}`,
    event_name: "subscription_start",
    user_id: sub,
    timestamp: midnight - 40 * DAY + 12 * 3_600_000,
    properties: { plan: "pro", amount: 99, currency: "CNY", period: "month" },
  });
  events.push({
    event_id: `kpi-cancel-${tag}`,
    event_name: "subscription_cancel",
    user_id: sub,
    timestamp: midnight - DAY + 12 * 3_600_000,
    properties: { plan: "pro" },
  });
  const res = await admin.request.post("/api/v1/events", { headers: { Authorization: `Bearer ${key}` }, data: events });
  expect(res.status()).toBe(200);
  expect((await res.json()).accepted).toBe(events.length);
  await actx.close();

  await signIn(page, EDITOR);
  const fromCard = async (tab: string, kpi: string, name: string, op: string, threshold: string) => {
    await page.goto(`/dashboards?tab=${tab}&range=30d`);
    await hydrated(page);
    const card = page.locator(`[data-kpi=${kpi}]`);
    await expect(card.getByTestId("kpi-csv")).toHaveAttribute("href", new RegExp(`^/export/kpis/${kpi}\\?from=`));
    await card.getByTestId("alert-on-this").click();
    await expect(page).toHaveURL(new RegExp(`/alerts/rules/new\\?metric=${kpi}`));
    await hydrated(page);
    await expect(page.locator("select[name=metric]")).toHaveValue(kpi);
    await page.fill("input[name=name]", name);
    await page.press("input[name=name]", "Tab");
    await page.selectOption("select[name=op]", op);
    await page.fill("input[name=threshold]", threshold);
    await page.press("input[name=threshold]", "Tab");
    await page.getByRole("button", { name: "7d" }).click();
    await expect(page.getByTestId("backtest-summary")).not.toContainText(" 0 firing spans", { timeout: 20_000 });
    await expect(page.getByTestId("backtest-summary")).toContainText("firing spans");
    await expect(page.locator("[data-testid=backtest] .chart svg")).toBeVisible();
    await page.getByTestId("save-rule").click();
    await expect(page).toHaveURL(/\/alerts\/rules$/);
    await expect(page.getByTestId("rules-table")).toContainText(name);
  };
  await fromCard("user", "retention_d1", `D1 retention < 30 % ${tag}`, "<", "0.3");
  await fromCard("business", "churn", `Churn > 5 % ${tag}`, ">", "0.05");

  // A viewer sees the cards' CSV links but no "Alert on this".
  const vctx = await browser.newContext();
  const pm = await vctx.newPage();
  await signIn(pm, VIEWER);
  await pm.goto("/dashboards?tab=business&range=30d");
  await hydrated(pm);
  await expect(pm.locator("[data-kpi=churn]").getByTestId("kpi-csv")).toHaveCount(1);
  await expect(pm.getByTestId("alert-on-this")).toHaveCount(0);
  await expect(pm.locator("[data-kpi=churn]").getByTestId("kpi-month")).toContainText("Monthly figure of");
  // Live: the freshness line, auto-refresh kept in the URL, and the ingestion panel
  // naming the key the events came with.
  await expect(pm.getByTestId("freshness")).toContainText("Last event received");
  await pm.getByTestId("refresh-30s").click();
  await expect(pm).toHaveURL(/refresh=30s/);
  await hydrated(pm);
  await expect(pm.getByTestId("refresh-30s")).toHaveAttribute("aria-current", "true");
  await pm.getByTestId("ingestion").locator("summary").click();
  await expect(pm.getByTestId("ingestion-keys")).toContainText(`e2e kpi alerts ${tag}`);
  const csv = await pm.request.get((await pm.locator("[data-kpi=churn]").getByTestId("kpi-csv").getAttribute("href"))!);
  expect(csv.status()).toBe(200);
  expect(await csv.text()).toMatch(/^kpi,period,from,to,value/);
  await vctx.close();
});
