import { EDITOR, VIEWER, expect, hydrated, signIn, test } from "./helpers";

test("an editor adds a probe, tests it, the engine checks it and the Technical dashboard shows it; a viewer only reads", async ({
  page,
  browser,
  baseURL,
}, testInfo) => {
  // One name per attempt: a retry must not trip over the probe the failed attempt saved.
  const name = `Vigil itself #${testInfo.retry}`;
  await signIn(page, EDITOR);
  await page.goto("/technical");
  await hydrated(page);
  await page.getByTestId("new-probe").click();
  await expect(page).toHaveURL(/\/technical\/probes\/new$/);
  await hydrated(page);

  // A bad URL is named beside its field and nothing is saved.
  await page.fill("input[name=name]", name);
  await page.fill("input[name=url]", "localhost/healthz");
  await page.getByTestId("save-probe").click();
  await expect(page.locator("label", { has: page.locator("input[name=url]") }).locator(".field-error")).toContainText(
    "http://",
  );

  // "Test now" runs the check once and says what came back.
  await page.fill("input[name=url]", `${baseURL}/healthz`);
  await page.fill("input[name=interval]", "10s");
  await page.fill("input[name=timeout]", "5s");
  await page.getByTestId("test-probe").click();
  await expect(page.getByTestId("probe-test-result")).toContainText(/^200 in \d+ ms/);
  await page.getByTestId("save-probe").click();
  await expect(page).toHaveURL(/\/technical$/);

  // The engine runs it within a tick or two: the card turns "Up" with figures.
  const card = page.getByTestId("probe-card").filter({ hasText: name });
  await expect(async () => {
    await page.reload();
    await expect(card.getByTestId("probe-up")).toBeVisible({ timeout: 1000 });
  }).toPass({ timeout: 30_000 });
  await expect(card).toContainText("100.0%");
  await expect(card.locator(".burn-table tbody tr")).toHaveCount(4);

  // The rule editor offers the probe as a source.
  await page.goto("/alerts/rules/new");
  await hydrated(page);
  await page.selectOption("select[name=source]", "probe");
  await expect(page.locator("select[name=probe] option", { hasText: name })).toHaveCount(1);

  // A viewer sees the dashboard but no "New probe", and the editor's buttons are absent.
  const ctx = await browser.newContext();
  const viewer = await ctx.newPage();
  await signIn(viewer, VIEWER);
  await viewer.goto("/technical");
  await hydrated(viewer);
  await expect(viewer.getByTestId("probe-card").filter({ hasText: name })).toBeVisible();
  await expect(viewer.getByTestId("new-probe")).toHaveCount(0);
  await viewer.getByRole("link", { name }).click();
  await hydrated(viewer);
  await expect(viewer.getByTestId("save-probe")).toHaveCount(0);
  await ctx.close();
});
