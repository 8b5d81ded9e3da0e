// A run's page: status, settings, curves per round and each round's hospitals, kept live by
// the run's server-sent events (GET /rounds/{id}/events; no token needed, EventSource fits).
import { html, useEffect, useState } from './vendor/standalone.module.js';
import { aggregator } from './api.js';
import { Curve } from './curve.js';
import { num, shortId, when } from './format.js';

const FINISHED = ['completed', 'failed', 'cancelled'];

/** The run as GET /rounds/{id} answers it, refreshed on each event of its stream. */
function useLiveRun(id) {
  const [run, setRun] = useState(null);
  const [error, setError] = useState(null);
  const [live, setLive] = useState(false);
  useEffect(() => {
    let source = null;
    let stopped = false;
    const refresh = () =>
      aggregator(`/rounds/${id}`)
        .then((body) => !stopped && setRun(body))
        .catch((e) => setError(e.message));
    source = new EventSource(`/rounds/${encodeURIComponent(id)}/events`);
    source.addEventListener('open', () => setLive(true));
    source.addEventListener('snapshot', (event) => {
      const snapshot = JSON.parse(event.data);
      setRun(snapshot);
      if (!snapshot || FINISHED.includes(snapshot.status)) stop();
    });
    // Every other event says something changed: the run's detail is read again, whole.
    for (const type of ['round-started', 'hospital-updated', 'round-completed', 'round-failed']) {
      source.addEventListener(type, refresh);
    }
    for (const type of ['run-completed', 'run-failed', 'run-cancelled']) {
      source.addEventListener(type, () => {
        stop();
        refresh();
      });
    }
    // The server ends the stream after the run's last event: without this EventSource would
    // reconnect forever.
    // A refused stream (404: no such run) is closed by the browser: reading the run says why.
    source.addEventListener('error', () => {
      if (source && source.readyState === EventSource.CLOSED) {
        setLive(false);
        refresh();
      }
    });
    function stop() {
      if (source) source.close();
      source = null;
      setLive(false);
    }
    return () => {
      stopped = true;
      stop();
    };
  }, [id]);
  return { run, error, live };
}

export function RunPage({ id }) {
  const { run, error, live } = useLiveRun(id);
  if (error) return html`<p class="error">${error}</p>`;
  if (!run) return html`<p class="muted">Loading run ${shortId(id)}...</p>`;
  const s = run.settings;
  const completed = run.rounds.filter((r) => r.metrics && r.metrics.train);
  const series = (name, className, pick) => ({
    name,
    className,
    points: completed
      .map((r) => [r.round, pick(r.metrics)])
      .filter(([, v]) => typeof v === 'number' && Number.isFinite(v)),
  });
  return html`
    <section class="run" data-status=${run.status}>
      <h2>
        Run ${shortId(run.id)} <span class="status ${run.status}">${run.status}</span>
        ${live && html`<span class="live" title="receiving the run's events">live</span>`}
      </h2>
      <p class="muted">
        Round ${run.currentRound} of ${s.rounds} · created ${when(run.createdAt)}
        ${run.finishedAt ? ` · finished ${when(run.finishedAt)}` : ''}
        ${run.finalModelId ? html` · final model <a href="#/models">${shortId(run.finalModelId)}</a>` : ''}
      </p>
      ${run.failureReason && html`<p class="error">Failed: ${run.failureReason}</p>`}
      ${
        run.promotionRefusedReason &&
        html`<p class="warning">Not promoted: ${run.promotionRefusedReason}</p>`
      }
      <div class="curves">
        <${Curve}
          title="Loss"
          metric="loss"
          rounds=${s.rounds}
          series=${[
            series('train', 'train', (m) => m.train.loss),
            series('validation', 'validation', (m) => m.validation && m.validation.loss),
          ]}
        />
        <${Curve}
          title="Accuracy"
          metric="accuracy"
          unit="fraction"
          rounds=${s.rounds}
          series=${[
            series('train', 'train', (m) => m.train.accuracy),
            series('validation', 'validation', (m) => m.validation && m.validation.accuracy),
          ]}
        />
        <${Curve}
          title="AUC (validation)"
          metric="auc"
          unit="fraction"
          rounds=${s.rounds}
          series=${[series('validation', 'validation', (m) => m.validation && m.validation.auc)]}
        />
      </div>
      <h3>Rounds</h3>
      <table class="rounds">
        <thead>
          <tr>
            <th>Round</th>
            <th>Status</th>
            <th>Hospitals</th>
            <th>Train loss</th>
            <th>Val. AUC</th>
            <th>Threshold</th>
            <th>Duration</th>
          </tr>
        </thead>
        <tbody>
          ${run.rounds.map((r) => html`<${RoundRow} key=${r.index} round=${r} />`)}
        </tbody>
      </table>
      <h3>Settings</h3>
      <pre class="settings">${JSON.stringify(s, null, 2)}</pre>
    </section>
  `;
}

function RoundRow({ round }) {
  const m = round.metrics || {};
  return html`
    <tr>
      <td>${round.round}</td>
      <td><span class="status ${round.status}">${round.status}</span></td>
      <td>
        ${round.updates.map(
          (u) =>
            html`<span class="update ${u.status}" title=${u.failureReason || u.status}>
              ${u.hospitalName}: ${u.status}
            </span>`,
        )}
      </td>
      <td>${num(m.train && m.train.loss)}</td>
      <td>${num(m.validation && m.validation.auc)}</td>
      <td>${num(m.threshold && m.threshold.threshold)}</td>
      <td>${round.durationMs === null ? '-' : `${(round.durationMs / 1000).toFixed(1)} s`}</td>
    </tr>
  `;
}
