'use strict';
/*
 * Starts Debian's Chromium through playwright-core for the browser tests:
 * headless, no network services of its own (so the only requests are the
 * test's), and a fresh profile directory that close() removes, so no state
 * is carried from one run to the next.
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const EXECUTABLE = process.env.CHROMIUM || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
	'--disable-background-networking', '--disable-component-update', '--disable-sync'];

/*
 * Resolves to a persistent browser context on a new temporary profile
 * (playwright passes it as --user-data-dir). The caller must call the
 * returned close(), which also deletes the profile.
 *
 * A userAgent option is also given to Chromium as --user-agent: playwright's
 * own override covers a page's requests, but not a beacon sent as the page
 * goes away (the snippet's leave event), which would then come from another
 * visitor.
 */
async function launch(options = {}) {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sp-chromium-'));
	const context = await chromium.launchPersistentContext(dir, {
		executablePath: EXECUTABLE,
		headless: true,
		args: options.userAgent ? [...ARGS, `--user-agent=${options.userAgent}`] : ARGS,
		viewport: { width: 1280, height: 800 },
		...options,
	});
	const close = async () => {
		await context.close().catch(() => {});
		fs.rmSync(dir, { recursive: true, force: true });
	};
	return { context, close };
}

module.exports = { launch };
