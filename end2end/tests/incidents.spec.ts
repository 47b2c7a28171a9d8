import { EDITOR, VIEWER, expect, hydrated, signIn, test } from "./helpers";

test("an IC declares a P1, walks every status, files and publishes the postmortem, exports it and closes; a viewer only reads", async ({
  page,
  browser,
}, testInfo) => {
  test.setTimeout(120_000);
  const title = `Checkout API errors #${testInfo.retry}`;
  await signIn(page, EDITOR);
  await page.goto("/incidents");
  await hydrated(page);
  await page.getByTestId("declare-incident").click();
  await expect(page).toHaveURL(/\/incidents\/new$/);
  await hydrated(page);

  // An empty title is named beside its field; nothing is declared.
  await page.getByTestId("declare-submit").click();
  await expect(page.locator("label", { has: page.locator("input[name=title]") }).locator(".field-error")).toContainText(
    "required",
  );
  await page.fill("input[name=title]", title);
  await page.selectOption("select[name=severity]", "P1");
  await page.fill("textarea[name=impact_scope]", "Checkout, all paying users");
  await page.fill("textarea[name=description]", "HTTP 500 on POST /checkout since 10:02");
  await page.getByTestId("declare-submit").click();
  await expect(page).toHaveURL(/\/incidents\/INC-\d{8}-\d{3}$/);
  await hydrated(page);
  await expect(page.getByTestId("incident-title")).toHaveText(title);
  await expect(page.getByTestId("incident-status")).toContainText("Detecting");
  // The SLA panel counts down to the 1 h response deadline.
  await expect(page.getByTestId("sla-panel").getByTestId("countdown").first()).toContainText("left");

  const step = async (to: string, label: string) => {
    await page.getByTestId(`to-${to}`).click();
    await expect(page.getByTestId("status-bar").locator(".step.current")).toHaveText(label);
  };
  await step("investigating", "Investigating");

  // A note with its own event time goes on the timeline.
  await page.fill("input[name=note]", "Rolled back checkout to 4.12");
  await page.getByTestId("add-note").click();
  await expect(page.getByTestId("timeline")).toContainText("Rolled back checkout to 4.12");

  await step("fixing", "Fixing");
  await step("monitoring", "Monitoring");

  // Resolving inside the P1 monitoring period (2 h) needs a reason.
  await page.getByTestId("to-resolved").click();
  await expect(page.getByTestId("status-bar").locator(".field-error")).toContainText("at least 2h");
  await page.fill("input[name=override_reason]", "Error rate at 0 for 30 min after rollback; verified by synthetic checks");
  await step("resolved", "Resolved");
  await expect(page.getByTestId("timeline")).toContainText("Status monitoring → resolved");

  // Closing is refused without a published postmortem.
  await page.getByTestId("to-closed").click();
  await expect(page.getByTestId("status-bar").locator(".field-error")).toContainText("requires a published postmortem");

  // The postmortem: 5 whys, direct cause, two action items, review, publish.
  await page.getByTestId("postmortem-link").click();
  await expect(page).toHaveURL(/\/postmortem$/);
  await hydrated(page);
  await page.fill("textarea[name=direct_cause]", "A bad config push disabled the payment client pool");
  await page.fill("input[name=problem]", "Checkout returned 500");
  const whys = [
    "The payment client had no connections",
    "Its pool size was set to 0",
    "A config push changed the default",
    "The config change skipped review",
    "Config is not covered by the release checklist",
  ];
  for (const [i, w] of whys.entries()) await page.getByTestId(`why-${i + 1}`).fill(w);
  await page.fill("textarea[name=went_well]", "Rollback in 6 minutes");
  await page.getByTestId("pm-review").click();
  await expect(page.getByTestId("pm-status")).toHaveText("In review");

  for (const [kind, text] of [
    ["immediate", "Validate pool size on config push"],
    ["long_term", "Config changes through the release checklist"],
  ]) {
    await page.selectOption("select[name=action_kind]", kind);
    await page.fill("input[name=action_description]", text);
    await page.getByTestId("add-action").click();
    await expect(page.getByTestId("action-table")).toContainText(text);
  }
  await expect(page.getByTestId("action-table")).toContainText("AI-001");
  await expect(page.getByTestId("action-table")).toContainText("LI-001");

  await page.getByTestId("pm-publish").click();
  await expect(page.getByTestId("pm-status")).toHaveText("Published");

  // Markdown export in the template's layout.
  await page.locator("summary", { hasText: "Preview" }).click();
  const md = page.getByTestId("pm-markdown");
  await expect(md).toContainText("# 事故复盘报告");
  await expect(md).toContainText("为什么 5: Config is not covered by the release checklist");
  await expect(md).toContainText("| AI-001 | Validate pool size on config push |");
  const href = await page.getByTestId("pm-export").getAttribute("href");
  expect(decodeURIComponent(href!.split(",")[1])).toContain("## 改进措施");

  // Back on the incident: close.
  const code = page.url().match(/INC-\d{8}-\d{3}/)![0];
  await page.goto(`/incidents/${code}`);
  await hydrated(page);
  await step("closed", "Closed");
  await expect(page.getByTestId("timeline")).toContainText("Postmortem in_review → published");

  // A viewer reads the incident and postmortem but has no write controls.
  const ctx = await browser.newContext();
  const viewer = await ctx.newPage();
  await signIn(viewer, VIEWER);
  await viewer.goto("/incidents?status=all");
  await hydrated(viewer);
  await expect(viewer.getByTestId("declare-incident")).toHaveCount(0);
  await viewer.getByRole("link", { name: code }).click();
  await hydrated(viewer);
  await expect(viewer.getByTestId("incident-title")).toHaveText(title);
  await expect(viewer.getByTestId("timeline")).toContainText("Rolled back checkout to 4.12");
  await expect(viewer.getByTestId("note-form")).toHaveCount(0);
  await expect(viewer.locator("[data-testid^=to-]")).toHaveCount(0);
  await viewer.goto(`/incidents/${code}/postmortem`);
  await hydrated(viewer);
  await expect(viewer.getByTestId("pm-status")).toHaveText("Published");
  await expect(viewer.getByTestId("pm-publish")).toHaveCount(0);
  await expect(viewer.getByTestId("pm-save")).toHaveCount(0);
  await ctx.close();
});
