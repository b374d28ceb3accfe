#!/usr/bin/env node
// Runs a Runscope test export (Okta's "SCIM 2.0 SPEC Test") against a
// SCIM service, as Runscope would: its initial script sets the variables,
// each step's request is sent with {{variables}} filled in, its
// assertions are checked (status, JSON properties, response time), its
// variables extracted and its script run. Prints one "ok"/"not ok" line
// per assertion and a summary "assertions: P passed of T"; exits 1 when
// one failed.
//   node runscope.js TEST.json INITIAL_SCRIPT.txt BASE_URL "Bearer KEY"
'use strict';

const fs = require('fs');
const vm = require('vm');
const assert = require('assert');

const [testFile, scriptFile, baseUrl, auth] = process.argv.slice(2);
if (!auth) {
	console.error('usage: runscope.js TEST.json INITIAL_SCRIPT.txt BASE_URL AUTHORIZATION');
	process.exit(2);
}

const vars = { SCIMBaseURL: baseUrl, auth };
const variables = { set: (k, v) => { vars[k] = String(v); }, get: (k) => vars[k] };
vm.runInNewContext(fs.readFileSync(scriptFile, 'utf8'), { variables, Math });

const fill = (s) => (s == null ? s : String(s).replace(/\{\{(\w+)\}\}/g, (m, k) => (k in vars ? vars[k] : m)));

// A property path as Runscope writes it: "Resources[0].name.familyName".
function property(doc, path) {
	let v = doc;
	for (const part of path.match(/[^.[\]]+/g) || []) {
		if (v == null) return undefined;
		v = v[/^\d+$/.test(part) ? Number(part) : part];
	}
	return v;
}

const empty = (v) => v === undefined || v === null || v === '' ||
	(Array.isArray(v) && v.length === 0) || (typeof v === 'object' && Object.keys(v).length === 0);

function check(a, res) {
	const actual = a.source === 'response_status' ? res.status
		: a.source === 'response_time' ? res.ms
		: property(res.json, a.property || '');
	const want = fill(a.value);
	switch (a.comparison) {
	case 'equal_number': return [Number(actual) === Number(want), actual];
	case 'equal': return [String(actual) === want, actual];
	case 'not_empty': return [!empty(actual), actual];
	case 'has_value': return [Array.isArray(actual) && actual.includes(want), actual];
	case 'contains': return [(Array.isArray(actual) || typeof actual === 'string') && actual.includes(want), actual];
	case 'is_a_number': return [typeof actual === 'number', actual];
	case 'is_less_than': return [Number(actual) < Number(want), actual];
	default: return [false, `unknown comparison ${a.comparison}`];
	}
}

async function main() {
	const test = JSON.parse(fs.readFileSync(testFile, 'utf8'));
	let passed = 0, total = 0, scriptsFailed = 0;
	for (const [n, step] of test.steps.entries()) {
		if (!step.method || !step.url) continue; // a pause between requests
		const headers = {};
		for (const [k, v] of Object.entries(step.headers || {})) headers[k] = fill(v[0]);
		const url = fill(step.url);
		const t0 = Date.now();
		const resp = await fetch(url, { method: step.method, headers, body: step.body ? fill(step.body) : undefined });
		const text = await resp.text();
		const res = { status: resp.status, ms: Date.now() - t0, text, json: undefined };
		try { res.json = JSON.parse(text); } catch (e) { /* not JSON: properties are undefined */ }
		for (const a of step.assertions || []) {
			const [ok, actual] = check(a, res);
			total++;
			if (ok) passed++;
			console.log(`${ok ? 'ok' : 'not ok'} - step ${n + 1} ${step.method} ${url}: ${a.source}` +
				`${a.property ? ' ' + a.property : ''} ${a.comparison} ${fill(a.value) ?? ''}` +
				(ok ? '' : ` (got ${JSON.stringify(actual)}; body ${text.slice(0, 300)})`));
		}
		for (const v of step.variables || [])
			if (v.source === 'response_json') vars[v.name] = property(res.json, v.property);
		for (const script of step.scripts || []) {
			if (!script) continue;
			try {
				vm.runInNewContext(script, { response: { body: text, status: resp.status }, assert, log: () => {}, JSON, Array });
			} catch (e) {
				scriptsFailed++;
				console.log(`not ok - step ${n + 1} script: ${e.message}`);
			}
		}
	}
	console.log(`assertions: ${passed} passed of ${total}; scripts failed: ${scriptsFailed}`);
	process.exit(passed === total && !scriptsFailed ? 0 : 1);
}

main().catch((e) => { console.error(e); process.exit(2); });
