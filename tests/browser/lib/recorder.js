'use strict';
/*
 * A stand-in for the SitePulse web tier in the snippet's tests: a node HTTP
 * server on 127.0.0.1 and a free port that serves build/sp.js at
 * /sitepulse/sp.js, test pages from a callback, and records every POST to
 * a collect endpoint. The answers to POSTs can be scripted (503 with
 * Retry-After, 400 ...) to test the snippet's retry rules; by default it
 * answers 204 like sp-collect does once a batch is stored.
 */
const fs = require('fs');
const http = require('http');

/*
 * Starts the server. snippet is the path of the minified script; page(url)
 * returns the HTML for a GET of url (a URL object) or null for a 404.
 * Resolves to an object with:
 *   origin          "http://127.0.0.1:PORT"
 *   posts           every POST received: { path, time, headers, body, json }
 *   events()        every event of every well-formed batch, each with its
 *                   batch id as _batch
 *   answer(status, headers)  queue the answer to the next unanswered POST
 *   waitFor(pred, ms)        resolves to pred()'s first truthy value, or
 *                            undefined after ms
 *   close()
 */
async function start(snippet, page) {
	const posts = [], answers = [];
	const server = http.createServer((req, res) => {
		const url = new URL(req.url, 'http://127.0.0.1');
		let body = '';

		req.setEncoding('utf8');
		req.on('data', (chunk) => body += chunk);
		req.on('end', () => {
			if (req.method == 'POST' && /\/collect$/.test(url.pathname)) {
				let json = null;
				try {
					json = JSON.parse(body);
				} catch (e) {}
				posts.push({ path: url.pathname, time: Date.now(), headers: req.headers, body, json });
				const a = answers.shift() || { status: 204, headers: {} };
				res.writeHead(a.status, a.headers);
				res.end(a.status == 204 ? undefined : '{"error":"scripted"}');
			} else if (req.method == 'GET' && url.pathname == '/sitepulse/sp.js') {
				res.writeHead(200, { 'Content-Type': 'text/javascript', 'Cache-Control': 'no-store' });
				res.end(fs.readFileSync(snippet));
			} else {
				const html = req.method == 'GET' && page(url);
				res.writeHead(html == null ? 404 : 200, { 'Content-Type': 'text/html; charset=utf-8' });
				res.end(html == null ? 'not found' : html);
			}
		});
	});
	await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
	const origin = `http://127.0.0.1:${server.address().port}`;

	const events = () => posts.filter((p) => p.json && Array.isArray(p.json.events))
	    .flatMap((p) => p.json.events.map((e) => ({ ...e, _batch: p.json.batch })));

	const waitFor = async (pred, ms = 5000) => {
		for (const end = Date.now() + ms; ; await new Promise((r) => setTimeout(r, 50))) {
			const v = pred();
			if (v || Date.now() > end)
				return v || undefined;
		}
	};

	return {
		origin, posts, events, waitFor,
		answer: (status, headers = {}) => answers.push({ status, headers }),
		close: () => new Promise((resolve) => {
			server.closeAllConnections();
			server.close(resolve);
		}),
	};
}

module.exports = { start };
