// The dashboard's shell: navigation, hash routing (#/runs, #/runs/{id}, #/hospitals, #/models,
// #/diagnose) and the admin token field. Preact + htm from /dashboard/vendor/, no build step.
import { html, render, useEffect, useState } from './vendor/standalone.module.js';
import { hasAdminToken, setAdminToken } from './api.js';
import { DiagnosePage } from './diagnose.js';
import { HospitalsPage } from './hospitals.js';
import { ModelsPage } from './models.js';
import { RunPage } from './run.js';
import { RunsPage } from './runs.js';

const PAGES = [
  ['#/runs', 'Runs'],
  ['#/hospitals', 'Hospitals'],
  ['#/models', 'Models'],
  ['#/diagnose', 'Diagnose'],
];

function useHash() {
  const [hash, setHash] = useState(location.hash || '#/runs');
  useEffect(() => {
    const onChange = () => setHash(location.hash || '#/runs');
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return hash;
}

/** The admin token, typed in and kept in memory only (api.js): a reload forgets it. */
function AdminToken({ onChange }) {
  const [value, setValue] = useState('');
  const [saved, setSaved] = useState(hasAdminToken());
  const save = (event) => {
    event.preventDefault();
    setAdminToken(value);
    setSaved(hasAdminToken());
    setValue('');
    onChange();
  };
  const forget = () => {
    setAdminToken('');
    setSaved(false);
    onChange();
  };
  return saved
    ? html`<div class="token">
        <span class="muted small">admin token set (this page only)</span>
        <button type="button" class="secondary" onClick=${forget}>Forget</button>
      </div>`
    : html`<form class="token" onSubmit=${save}>
        <input
          name="admin-token"
          type="password"
          autocomplete="off"
          placeholder="admin token"
          value=${value}
          onInput=${(e) => setValue(e.currentTarget.value)}
        />
        <button type="submit">Use</button>
      </form>`;
}

function App({ config }) {
  const hash = useHash();
  const [tokenVersion, setTokenVersion] = useState(0);
  const run = /^#\/runs\/([^/]+)$/.exec(hash);
  let page;
  if (run) page = html`<${RunPage} id=${decodeURIComponent(run[1])} />`;
  else if (hash === '#/hospitals') page = html`<${HospitalsPage} tokenVersion=${tokenVersion} />`;
  else if (hash === '#/models') page = html`<${ModelsPage} />`;
  else if (hash === '#/diagnose') page = html`<${DiagnosePage} config=${config} />`;
  else page = html`<${RunsPage} />`;
  const active = run ? '#/runs' : hash;
  return html`
    <header>
      <h1><a href="#/runs">fedxray</a></h1>
      <nav>
        ${PAGES.map(
          ([href, label]) =>
            html`<a href=${href} class=${active === href ? 'active' : ''}>${label}</a>`,
        )}
      </nav>
      <${AdminToken} onChange=${() => setTokenVersion((v) => v + 1)} />
    </header>
    <main>${page}</main>
    <footer class="muted small">
      fedxray ${config.version} · research use only, not a medical device ·${' '}
      <a href="/docs">API docs</a>
    </footer>
  `;
}

async function main() {
  let config = { inferenceUrl: null, version: '' };
  try {
    const res = await fetch('/dashboard/config.json');
    if (res.ok) config = await res.json();
  } catch {
    // The page works without it: the Diagnose page then asks for the URL.
  }
  const root = document.getElementById('app');
  // The static "Loading" line goes: render() would keep it beside the app.
  root.textContent = '';
  render(html`<${App} config=${config} />`, root);
}

main();
