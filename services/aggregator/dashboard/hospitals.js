// Hospitals (GET /hospitals, admin): each one's status, when the aggregator last heard from
// it, and its last contribution to a round, read from the recent runs (GET /rounds/{id}).
import { html, useEffect, useState } from './vendor/standalone.module.js';
import { aggregator, hasAdminToken } from './api.js';
import { ago, shortId } from './format.js';

/** Seen this recently (a health check at round selection, an upload, a download) = online. */
export const ONLINE_WINDOW_MS = 10 * 60 * 1000;
/** How many of the newest runs are searched for contributions. */
const RUNS_SEARCHED = 5;

async function lastContributions() {
  const { runs } = await aggregator('/rounds');
  const details = await Promise.all(
    runs.slice(0, RUNS_SEARCHED).map((run) => aggregator(`/rounds/${run.id}`)),
  );
  const latest = new Map();
  for (const run of details) {
    for (const round of run.rounds) {
      for (const update of round.updates) {
        const seen = latest.get(update.hospitalId);
        if (!seen || seen.updatedAt < update.updatedAt) {
          latest.set(update.hospitalId, { ...update, runId: run.id, round: round.round });
        }
      }
    }
  }
  return latest;
}

export function HospitalsPage({ tokenVersion }) {
  const [hospitals, setHospitals] = useState(null);
  const [contributions, setContributions] = useState(new Map());
  const [error, setError] = useState(null);
  useEffect(() => {
    if (!hasAdminToken()) return undefined;
    const load = () => {
      aggregator('/hospitals', { admin: true })
        .then((body) => {
          setHospitals(body.hospitals);
          setError(null);
        })
        .catch((e) => setError(e.message));
      lastContributions()
        .then(setContributions)
        .catch(() => {});
    };
    load();
    const timer = setInterval(load, 5000);
    return () => clearInterval(timer);
  }, [tokenVersion]);
  if (!hasAdminToken()) {
    return html`<section>
      <h2>Hospitals</h2>
      <p class="muted">Enter the admin token (top right) to see the hospitals.</p>
    </section>`;
  }
  return html`
    <section>
      <h2>Hospitals</h2>
      ${error && html`<p class="error">${error}</p>`}
      ${
        hospitals === null
          ? html`<p class="muted">Loading...</p>`
          : html`<table class="hospitals">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>State</th>
                  <th>Last seen</th>
                  <th>Images</th>
                  <th>Last contribution</th>
                  <th>Node</th>
                </tr>
              </thead>
              <tbody>
                ${hospitals.map(
                  (h) =>
                    html`<${HospitalRow}
                      key=${h.id}
                      hospital=${h}
                      contribution=${contributions.get(h.id)}
                    />`,
                )}
              </tbody>
            </table>`
      }
      <p class="muted small">
        Online: seen by the aggregator in the last ${ONLINE_WINDOW_MS / 60000} minutes (its health
        check when a round selects hospitals, an upload or a download).
      </p>
    </section>
  `;
}

function HospitalRow({ hospital, contribution }) {
  const online =
    hospital.lastSeenAt !== null &&
    Date.now() - new Date(hospital.lastSeenAt).getTime() < ONLINE_WINDOW_MS;
  const state = hospital.status === 'disabled' ? 'disabled' : online ? 'online' : 'offline';
  return html`
    <tr data-hospital=${hospital.name}>
      <td>${hospital.name}</td>
      <td><span class="state ${state}">${state}</span></td>
      <td>${ago(hospital.lastSeenAt)}</td>
      <td>${hospital.sampleCount ?? '-'}</td>
      <td>
        ${
          contribution
            ? html`<a href="#/runs/${contribution.runId}">run ${shortId(contribution.runId)}</a>,
                round ${contribution.round}:
                <span class="update ${contribution.status}">${contribution.status}</span>
                ${contribution.numSamples !== null ? ` (${contribution.numSamples} images)` : ''}
                ${` · ${ago(contribution.updatedAt)}`}`
            : html`<span class="muted">none yet</span>`
        }
      </td>
      <td class="small">${hospital.baseUrl}</td>
    </tr>
  `;
}
