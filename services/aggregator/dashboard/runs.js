// Runs: the training runs (GET /rounds) and a form that starts one (POST /rounds, admin).
import { html, useEffect, useState } from './vendor/standalone.module.js';
import { aggregator } from './api.js';
import { shortId, when } from './format.js';

const DEFAULT_SETTINGS = '{\n  "rounds": 2\n}';

export function RunsPage() {
  const [runs, setRuns] = useState(null);
  const [error, setError] = useState(null);
  const load = () =>
    aggregator('/rounds')
      .then((body) => setRuns(body.runs))
      .catch((e) => setError(e.message));
  useEffect(() => {
    load();
    const timer = setInterval(load, 5000);
    return () => clearInterval(timer);
  }, []);
  return html`
    <section>
      <h2>Runs</h2>
      <${StartRun} onStarted=${(id) => (location.hash = `#/runs/${id}`)} />
      ${error && html`<p class="error">${error}</p>`}
      ${
        runs === null
          ? html`<p class="muted">Loading...</p>`
          : runs.length === 0
            ? html`<p class="muted">No run yet.</p>`
            : html`<table class="runs">
                <thead>
                  <tr>
                    <th>Run</th>
                    <th>Status</th>
                    <th>Round</th>
                    <th>Architecture</th>
                    <th>Input / width</th>
                    <th>Strategy</th>
                    <th>Created</th>
                  </tr>
                </thead>
                <tbody>
                  ${runs.map((run) => html`<${RunRow} key=${run.id} run=${run} />`)}
                </tbody>
              </table>`
      }
    </section>
  `;
}

function RunRow({ run }) {
  const s = run.settings;
  return html`
    <tr data-run=${run.id}>
      <td><a href="#/runs/${run.id}">${shortId(run.id)}</a></td>
      <td><span class="status ${run.status}">${run.status}</span></td>
      <td>${run.currentRound} / ${s.rounds}</td>
      <td>${s.architecture}</td>
      <td>${s.inputSize} px / ${s.width}</td>
      <td>${s.strategy.name}${s.proximalMu ? ` + prox ${s.proximalMu}` : ''}</td>
      <td>${when(run.createdAt)}</td>
    </tr>
  `;
}

function StartRun({ onStarted }) {
  const [text, setText] = useState(DEFAULT_SETTINGS);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const start = async (event) => {
    event.preventDefault();
    setError(null);
    let settings;
    try {
      settings = JSON.parse(text);
    } catch {
      setError('the settings are not valid JSON');
      return;
    }
    setBusy(true);
    try {
      const { id } = await aggregator('/rounds', { method: 'POST', body: settings, admin: true });
      onStarted(id);
    } catch (e) {
      setError(e.message);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <details class="start-run">
      <summary>Start a run</summary>
      <form onSubmit=${start}>
        <label>
          Settings (JSON, the body of POST /rounds; omitted fields take their defaults)
          <textarea
            name="settings"
            rows="6"
            value=${text}
            onInput=${(e) => setText(e.currentTarget.value)}
          ></textarea>
        </label>
        <button type="submit" disabled=${busy}>Start</button>
        ${error && html`<span class="error">${error}</span>`}
      </form>
    </details>
  `;
}
