// What the screenshot scripts share: Debian's Chromium, signing in, waiting for hydration,
// and switching the page to a language the way a user does.
import { chromium } from "@playwright/test";

export const launch = () =>
  chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu"],
  });

export const hydrated = (page) => page.waitForFunction(() => window.__vigil_hydrated === true);

/// A new page at `width`×`height` with the language cookie set, signed in as `email`.
export async function signedIn(browser, base, [width, height], lang, email, password) {
  const ctx = await browser.newContext({ viewport: { width, height } });
  await ctx.addCookies([{ name: "vigil_lang", value: lang, url: base }]);
  const page = await ctx.newPage();
  page.on("pageerror", (e) => console.log("pageerror", e.message));
  await page.goto(base + "/login");
  await hydrated(page);
  await page.fill("input[name=email]", email);
  await page.fill("input[name=password]", password);
  await page.click("button[type=submit]");
  await page.waitForURL((u) => !u.pathname.startsWith("/login"));
  return { ctx, page, tag: `${lang === "en" ? "en" : "zh"}-${width}` };
}

/// A signed-in person's own language wins over the cookie: switch like a user does.
export async function switchTo(page, lang) {
  if ((await page.locator("html").getAttribute("lang")) !== lang) {
    await page.getByTestId("lang-switch").click();
    await page.waitForFunction((l) => document.documentElement.lang === l, lang);
  }
}
