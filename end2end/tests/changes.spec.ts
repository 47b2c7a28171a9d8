import { EDITOR, VIEWER, expect, hydrated, signIn, test } from "./helpers";

test("a change recorded on the Changes page shows in the filtered list, on a new incident and in its timeline; a viewer only reads", async ({
  page,
  browser,
}, testInfo) => {
  test.setTimeout(90_000);
  const version = `v7.${testInfo.retry}.${Date.now() % 1000}`;
  await signIn(page, EDITOR);
  await page.goto("/changes");
  await hydrated(page);
  const form = page.getByTestId("change-form");
  // A script link is refused by field; nothing is recorded.
  await form.locator("input[name=service]").fill("checkout");
  await form.locator("input[name=version]").fill(version);
  await form.locator("textarea[name=description]").fill("Rolls out the new payment client");
  await form.locator("input[name=url]").evaluate((e: HTMLInputElement) => {
    e.type = "text";
    e.value = "javascript:alert(1)";
  });
  await form.getByRole("button", { name: "Record a change" }).click();
  await expect(form.locator(".field-error")).toContainText("http");
  await form.locator("input[name=url]").fill("https://ci.example.com/runs/42");
  await form.getByRole("button", { name: "Record a change" }).click();
  await expect(form.locator(".ok")).toHaveText("Saved");
  const list = page.getByTestId("changes-list");
  await expect(list.getByTestId("change").filter({ hasText: version })).toHaveCount(1);
  await expect(list.getByRole("link", { name: "https://ci.example.com/runs/42" })).toHaveAttribute(
    "rel",
    /noopener/,
  );

  // Filters go to the URL: flags only → not this deploy.
  await page.selectOption("select[name=kind]", "flag");
  await expect(page).toHaveURL(/kind=flag/);
  await expect(page.getByTestId("changes-list").getByText(version)).toHaveCount(0);

  // An incident declared now shows the change (it names no service: every service's
  // changes of the 24 h before) in its card and its timeline.
  await page.goto("/incidents/new");
  await hydrated(page);
  await page.fill("input[name=title]", `Payments fail after deploy ${version}`);
  await page.selectOption("select[name=severity]", "P2");
  await page.getByTestId("declare-submit").click();
  await expect(page).toHaveURL(/\/incidents\/INC-\d{8}-\d{3}$/);
  await hydrated(page);
  const card = page.getByTestId("incident-changes");
  await expect(card).toContainText(version);
  await expect(card).toContainText("before detection");
  await expect(page.locator("li.tl-change").filter({ hasText: version })).toHaveCount(1);

  // A viewer sees the log but no form.
  const ctx = await browser.newContext();
  const viewer = await ctx.newPage();
  await signIn(viewer, VIEWER);
  await viewer.goto("/changes");
  await hydrated(viewer);
  await expect(viewer.getByTestId("changes-list").getByText(version)).toHaveCount(1);
  await expect(viewer.getByTestId("change-form")).toHaveCount(0);
  await ctx.close();
});
